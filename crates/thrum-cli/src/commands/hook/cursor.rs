//! Cursor's agent hooks (`.cursor/hooks.json`, `"version": 1`, see `thrum
//! setup hooks`).
//!
//! Shapes from Cursor's hooks documentation (cursor.com/docs/hooks), with
//! the field names of its agent CLI as third parties read them from the
//! shipped bundle (not driven here: Cursor needs an account):
//! - `session-start` (`sessionStart`, a new conversation): the `thrum
//!   prime` briefing and any unannounced mail as
//!   `{"additional_context": …}`. Cursor drops a context over 10,000
//!   characters whole; ours is capped under that.
//! - `post-tool-use` (`postToolUse`): `{"additional_context": notice}`,
//!   appended after the tool's result, only for unannounced mail.
//! - `stop` (`stop`): `{"followup_message": notice}`, which Cursor submits
//!   as the next user message, only for unannounced mail, only when the
//!   run `completed` (not when the user aborted it or it failed) and only
//!   when `loop_count` is 0: a stop that follows a hook's follow-up never
//!   asks for another (our entry also sets `loop_limit: 1`).
//!
//! What Cursor cannot do, so thrum does not pretend: its `beforeSubmitPrompt`
//! hook can only allow or block a prompt in its documentation (newer
//! builds accept `additional_context` there undocumented), so a prompt
//! gets no notice here; mail waits for the next tool or the stop. There is
//! no hook that wakes an idle conversation. Cursor's input names no `cwd`
//! at session start: the hook runs in the workspace root, which
//! `workspace_roots` also names.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{HookArgs, briefing, cap, read_input, run_hook, start_dir, turn_notice};
use crate::commands::config_file::{self, Outcome};
use crate::context::Ctx;

/// The hook events, by the names `thrum hook cursor EVENT` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    SessionStart,
    PostToolUse,
    Stop,
}

impl Event {
    pub const ALL: [Event; 3] = [Event::SessionStart, Event::PostToolUse, Event::Stop];

    pub fn name(self) -> &'static str {
        match self {
            Event::SessionStart => "session-start",
            Event::PostToolUse => "post-tool-use",
            Event::Stop => "stop",
        }
    }

    /// Cursor's name for the event (its hooks.json key).
    pub fn cursor_event(self) -> &'static str {
        match self {
            Event::SessionStart => "sessionStart",
            Event::PostToolUse => "postToolUse",
            Event::Stop => "stop",
        }
    }

    fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.name() == s)
    }
}

/// The fields of Cursor's hook input that we read (it sends more: the
/// model, the tool's input and output, …).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Input {
    #[serde(deserialize_with = "super::lenient")]
    conversation_id: String,
    /// Newer builds: the same as `conversation_id`.
    #[serde(deserialize_with = "super::lenient")]
    session_id: String,
    #[serde(deserialize_with = "super::lenient")]
    cwd: String,
    #[serde(deserialize_with = "super::lenient")]
    workspace_roots: Vec<String>,
    /// stop: completed, aborted or error.
    #[serde(deserialize_with = "super::lenient")]
    status: String,
    /// stop: how many follow-ups stop hooks have already sent.
    #[serde(deserialize_with = "super::lenient")]
    loop_count: u32,
}

impl Input {
    fn session(&self) -> &str {
        if self.session_id.is_empty() { &self.conversation_id } else { &self.session_id }
    }

    /// Where the hook runs: `cwd`, else the first workspace root.
    fn dir(&self) -> Option<PathBuf> {
        let cwd = if self.cwd.is_empty() { self.workspace_roots.first().map_or("", String::as_str) } else { &self.cwd };
        start_dir(cwd)
    }
}

pub fn run(ctx: &mut Ctx, a: &HookArgs) -> Result<u8> {
    let Some(event) = Event::parse(&a.event) else {
        let names: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
        return Err(crate::user_err!("unknown cursor hook event {:?}: use one of {}", a.event, names.join(", ")));
    };
    let Some(input) = read_input::<Input>("cursor", event.name()) else { return Ok(0) };
    // Nothing on stderr: a hook's stdout is its whole answer (and Gemini
    // CLI reads stderr as one when stdout is empty); no daemon-start notice,
    // no hints.
    ctx.out.quiet = true;
    let briefs = event == Event::SessionStart;
    run_hook(ctx, "cursor", event.name(), input.dir(), briefs, |ctx, here| match (event, here) {
        (Event::SessionStart, here) => {
            let body = briefing(ctx, here, "cursor", input.session(), "startup");
            ctx.out.line(json!({ "additional_context": body }).to_string());
            Ok(0)
        }
        (_, None) => Ok(0),
        (Event::PostToolUse, Some(here)) => {
            if let Some(notice) = turn_notice(here, input.session(), false)? {
                ctx.out.line(json!({ "additional_context": cap(&notice) }).to_string());
            }
            Ok(0)
        }
        (Event::Stop, Some(here)) => {
            // Never follow a follow-up, and never restart a run the user
            // stopped or that failed.
            let completed = input.status.is_empty() || input.status == "completed";
            if input.loop_count > 0 || !completed {
                return Ok(0);
            }
            if let Some(notice) = turn_notice(here, input.session(), false)? {
                ctx.out.line(json!({ "followup_message": notice }).to_string());
            }
            Ok(0)
        }
    })
}

/// Cursor's hooks file for the project at `root`.
pub fn hooks_file(root: &Path) -> PathBuf {
    root.join(".cursor/hooks.json")
}

/// Our hook entries, as Cursor's flat hooks.json wants them (timeouts in
/// seconds).
pub fn hooks(thrum: &str) -> Vec<(&'static str, Value)> {
    let cmd = |e: Event| format!("{thrum} hook cursor {}", e.name());
    vec![
        (Event::SessionStart.cursor_event(), json!({ "command": cmd(Event::SessionStart), "timeout": 30 })),
        (Event::PostToolUse.cursor_event(), json!({ "command": cmd(Event::PostToolUse), "timeout": 10 })),
        (Event::Stop.cursor_event(), json!({ "command": cmd(Event::Stop), "timeout": 10, "loop_limit": 1 })),
    ]
}

/// Installs (or with `remove`, uninstalls) Cursor's hooks in the project at
/// `root`.
pub fn install(root: &Path, remove: bool, dry_run: bool) -> Result<Outcome> {
    let path = hooks_file(root);
    let existing = config_file::read(&path)?;
    if remove && existing.is_none() {
        return Ok(Outcome::unchanged("cursor", &path));
    }
    let ours = if remove { Vec::new() } else { hooks(&super::install::thrum_command()) };
    let new = super::install::merge_flat(existing.as_deref(), &ours, &path, "cursor", &[("version", json!(1))])?;
    config_file::write("cursor", &path, existing, Some(new), dry_run)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hooks_are_merged_flat_with_a_version() {
        let p = Path::new(".cursor/hooks.json");
        let merge = |text: Option<&str>, ours: &[(&'static str, Value)]| {
            super::super::install::merge_flat(text, ours, p, "cursor", &[("version", json!(1))]).unwrap()
        };
        let v: Value = serde_json::from_str(&merge(None, &hooks("thrum"))).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["hooks"]["stop"], json!([{"command": "thrum hook cursor stop", "timeout": 10, "loop_limit": 1}]));
        let old = r#"{"version":1,"hooks":{"stop":[{"command":"./audit.sh"},{"command":"/old/thrum hook cursor stop"}],"afterFileEdit":[{"command":"./fmt.sh"}]}}"#;
        let once = merge(Some(old), &hooks("thrum"));
        let v: Value = serde_json::from_str(&once).unwrap();
        let stop = v["hooks"]["stop"].as_array().unwrap();
        assert_eq!((stop.len(), stop[0]["command"].as_str()), (2, Some("./audit.sh")), "{stop:?}");
        assert_eq!(merge(Some(&once), &hooks("thrum")), once, "a second run changes nothing");
        let removed: Value = serde_json::from_str(&merge(Some(&once), &[])).unwrap();
        assert_eq!(
            removed,
            json!({"version": 1, "hooks": {"stop": [{"command": "./audit.sh"}], "afterFileEdit": [{"command": "./fmt.sh"}]}})
        );
        assert!(super::super::install::merge_flat(Some(r#"{"hooks":{"stop":{}}}"#), &[], p, "cursor", &[]).is_err());
    }

    #[test]
    fn the_session_start_dir_is_the_workspace_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let i: Input = serde_json::from_value(json!({"conversation_id": "c", "workspace_roots": [root]})).unwrap();
        assert_eq!(i.dir().as_deref(), Some(dir.path()));
        assert_eq!(i.session(), "c");
    }
}
