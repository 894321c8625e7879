//! Codex CLI's hooks (`<repo>/.codex/hooks.json`, see `thrum setup hooks`).
//!
//! Observed with Codex 0.169.0 driven for real (`tests/runtimes/codex`):
//! its hook input and output are Claude Code's shapes, and
//! - `session-start` (`SessionStart`): the `thrum prime` briefing and any
//!   unannounced mail as `hookSpecificOutput.additionalContext` (Codex
//!   hands it to the model as a developer message);
//! - `user-prompt-submit` (`UserPromptSubmit`), `post-tool-use`
//!   (`PostToolUse`, every tool): the same, only for unannounced mail;
//! - `stop` (`Stop`): `{"decision": "block", "reason": notice}` only for
//!   unannounced mail and never when `stop_hook_active`. Codex then sends
//!   the reason to the model as a new prompt, and its next stop comes with
//!   `stop_hook_active: true`.
//!
//! Codex has no hook that could wake an idle session (its `notify` program
//! only hears that a turn ended), so there is no `wait` here.
//!
//! Codex reads a project's `.codex/hooks.json` only once the project is
//! trusted (`[projects."<root>"] trust_level = "trusted"` in its
//! `config.toml`), and runs a hook only once that hook is trusted: trust is
//! recorded per hook, by a hash of its definition, under `[hooks.state]`
//! in `$CODEX_HOME/config.toml` (set with `/hooks` in the CLI, or the
//! app-server's `hooks/list` and `config/batchWrite`). An untrusted hook is
//! skipped silently, and rewriting a hook makes it untrusted again. thrum
//! cannot trust its own hooks; [`trust`] reports what Codex has recorded.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Value, json};

use super::{HookArgs, Turn};
use crate::commands::config_file::{self, Outcome};
use crate::context::Ctx;

/// The hook events, by the names `thrum hook codex EVENT` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    SessionStart,
    UserPromptSubmit,
    PostToolUse,
    Stop,
}

impl Event {
    pub const ALL: [Event; 4] = [Event::SessionStart, Event::UserPromptSubmit, Event::PostToolUse, Event::Stop];

    pub fn name(self) -> &'static str {
        match self {
            Event::SessionStart => "session-start",
            Event::UserPromptSubmit => "user-prompt-submit",
            Event::PostToolUse => "post-tool-use",
            Event::Stop => "stop",
        }
    }

    /// Codex's name for the event (its hooks.json key and `hookEventName`).
    pub fn codex_event(self) -> &'static str {
        match self {
            Event::SessionStart => "SessionStart",
            Event::UserPromptSubmit => "UserPromptSubmit",
            Event::PostToolUse => "PostToolUse",
            Event::Stop => "Stop",
        }
    }

    fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.name() == s)
    }
}

pub fn run(ctx: &mut Ctx, a: &HookArgs) -> Result<u8> {
    let Some(event) = Event::parse(&a.event) else {
        let names: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
        return Err(crate::user_err!("unknown codex hook event {:?}: use one of {}", a.event, names.join(", ")));
    };
    let turn = match event {
        Event::SessionStart => Turn::Start,
        Event::UserPromptSubmit => Turn::Prompt,
        Event::PostToolUse => Turn::Tool,
        Event::Stop => Turn::Stop("block"),
    };
    super::run_turn(ctx, "codex", event.name(), event.codex_event(), turn)
}

/// Codex's hooks file for the project at `root`.
pub fn hooks_file(root: &Path) -> PathBuf {
    root.join(".codex/hooks.json")
}

/// Our hook entries, grouped as Codex's hooks.json wants them (its own
/// format is Claude Code's; timeouts in seconds).
pub fn hooks(thrum: &str) -> Vec<(&'static str, Value)> {
    let entry = |e: Event, timeout: u32| json!({ "type": "command", "command": format!("{thrum} hook codex {}", e.name()), "timeout": timeout });
    vec![
        (Event::SessionStart.codex_event(), json!({ "hooks": [entry(Event::SessionStart, 30)] })),
        (Event::UserPromptSubmit.codex_event(), json!({ "hooks": [entry(Event::UserPromptSubmit, 10)] })),
        (Event::PostToolUse.codex_event(), json!({ "matcher": "*", "hooks": [entry(Event::PostToolUse, 10)] })),
        (Event::Stop.codex_event(), json!({ "hooks": [entry(Event::Stop, 10)] })),
    ]
}

/// Installs (or with `remove`, uninstalls) Codex's hooks in the project at
/// `root`.
pub fn install(root: &Path, remove: bool, dry_run: bool) -> Result<Outcome> {
    let path = hooks_file(root);
    let existing = config_file::read(&path)?;
    if remove && existing.is_none() {
        return Ok(Outcome::unchanged("codex", &path));
    }
    let ours = if remove { Vec::new() } else { hooks(&super::install::thrum_command()) };
    let new = super::install::merge_nested(existing.as_deref(), &ours, &path, "codex", &[])?;
    config_file::write("codex", &path, existing, Some(new), dry_run)
}

/// Codex's home: `$CODEX_HOME`, else `~/.codex`.
pub fn codex_home() -> Option<PathBuf> {
    match std::env::var_os("CODEX_HOME").filter(|v| !v.is_empty()) {
        Some(h) => Some(PathBuf::from(h)),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")),
    }
}

/// What Codex has recorded about thrum's hooks in a project.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Trust {
    /// Codex trusts the project (it reads `.codex/hooks.json` only then).
    pub project_trusted: bool,
    /// thrum's hooks in `.codex/hooks.json`, by event name.
    pub hooks: Vec<HookTrust>,
}

/// One of thrum's hooks as Codex knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HookTrust {
    /// Codex's key for it: `<hooks.json path>:<event_snake>:<group>:<hook>`.
    pub key: String,
    pub event: String,
    pub command: String,
    /// The hash Codex recorded when the hook was trusted. Codex compares
    /// it with the hash of the hook as it is now: a hook rewritten since
    /// (another thrum path, another timeout) is untrusted again, which
    /// only Codex can tell (`codex app-server`, `hooks/list`: `trustStatus`).
    pub trusted_hash: Option<String>,
}

impl Trust {
    /// thrum's hooks with no trust recorded: Codex skips them.
    pub fn pending(&self) -> Vec<&HookTrust> {
        self.hooks.iter().filter(|h| h.trusted_hash.is_none()).collect()
    }
}

/// What Codex (home `codex_home`) has recorded about thrum's hooks in the
/// project at `root`; `None` when none are installed there.
pub fn trust(root: &Path, codex_home: &Path) -> Option<Trust> {
    let file = hooks_file(root);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).ok()?).ok()?;
    // Codex names hooks by the file's absolute path.
    let shown = file.canonicalize().unwrap_or(file).display().to_string();
    let config = std::fs::read_to_string(codex_home.join("config.toml")).unwrap_or_default();
    let mut hooks = Vec::new();
    for (event, groups) in v.get("hooks").and_then(Value::as_object).into_iter().flatten() {
        for (g, group) in groups.as_array().into_iter().flatten().enumerate() {
            for (h, hook) in group.get("hooks").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let Some(command) = hook.get("command").and_then(Value::as_str) else { continue };
                if !super::install::is_ours(command, "codex") {
                    continue;
                }
                let key = format!("{shown}:{}:{g}:{h}", snake(event));
                let trusted_hash = toml_table_value(&config, &["hooks.state", &key], "trusted_hash");
                hooks.push(HookTrust { key, event: event.clone(), command: command.to_string(), trusted_hash });
            }
        }
    }
    if hooks.is_empty() {
        return None;
    }
    let project = root.canonicalize().unwrap_or_else(|_| root.to_path_buf()).display().to_string();
    let project_trusted =
        toml_table_value(&config, &["projects", &project], "trust_level").is_some_and(|l| l == "trusted");
    Some(Trust { project_trusted, hooks })
}

/// What `thrum setup hooks --runtime codex` tells the user about trust.
pub fn trust_note(root: &Path) -> String {
    let how = format!(
        "Codex runs hooks only once you trust them, and thrum cannot do that for you: start `codex` in {}, \
         trust the folder if it asks, then type /hooks and trust thrum's hooks.\n\
         Codex remembers each hook by a hash of its definition: trust them again whenever `thrum setup hooks` rewrites them.",
        root.display()
    );
    let Some(t) = codex_home().and_then(|home| trust(root, &home)) else { return how };
    let pending = t.pending().len();
    if pending == 0 && t.project_trusted {
        format!(
            "Codex has trust recorded for all {} of thrum's hooks (a hook changed since needs trusting again).",
            t.hooks.len()
        )
    } else {
        format!("{pending} of thrum's {} Codex hooks are not trusted yet.\n{how}", t.hooks.len())
    }
}

/// `SessionStart` → `session_start`, as Codex keys its hooks.
fn snake(event: &str) -> String {
    let mut out = String::new();
    for (i, c) in event.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The string value of `field` in the TOML table `path` (a dotted prefix
/// and a quoted key, as Codex writes them: `[hooks.state."KEY"]`, or
/// `"KEY" = { field = "…" }` inside `[hooks.state]`). A line reader, not a
/// TOML parser: enough for the tables Codex writes itself.
fn toml_table_value(toml: &str, path: &[&str; 2], field: &str) -> Option<String> {
    let [prefix, key] = path;
    let quoted = serde_json::to_string(key).ok()?;
    let header = format!("[{prefix}.{quoted}]");
    let mut in_table = false;
    let mut in_prefix = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == header;
            in_prefix = line == format!("[{prefix}]");
            continue;
        }
        if in_table && let Some(v) = assignment(line, field) {
            return Some(v);
        }
        if in_prefix && let Some(rest) = line.strip_prefix(&quoted) {
            let inline = rest.trim_start().strip_prefix('=')?.trim();
            let inner = inline.strip_prefix('{')?.strip_suffix('}')?;
            return inner.split(',').find_map(|part| assignment(part.trim(), field));
        }
    }
    None
}

/// `value` of a `field = "value"` line.
fn assignment(line: &str, field: &str) -> Option<String> {
    let rest = line.strip_prefix(field)?.trim_start().strip_prefix('=')?.trim();
    let v = rest.strip_prefix('"')?;
    Some(v[..v.find('"')?].to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.name()), Some(e));
        }
        assert_eq!(snake("UserPromptSubmit"), "user_prompt_submit");
        assert_eq!(snake("Stop"), "stop");
    }

    #[test]
    fn trust_is_read_from_codex_config() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let home = dir.path().join("codex");
        std::fs::create_dir_all(root.join(".codex")).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        assert_eq!(trust(&root, &home), None, "no hooks file");
        let mine = r#"{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"say done"}]}]}}"#;
        let text =
            super::super::install::merge_nested(Some(mine), &hooks("thrum"), &hooks_file(&root), "codex", &[]).unwrap();
        std::fs::write(hooks_file(&root), text).unwrap();
        let t = trust(&root, &home).unwrap();
        assert!(!t.project_trusted);
        assert_eq!(t.hooks.len(), 4);
        assert_eq!(t.pending().len(), 4);
        let file = hooks_file(&root).canonicalize().unwrap().display().to_string();
        // thrum's Stop hook comes after the user's, in the second group.
        let stop = t.hooks.iter().find(|h| h.event == "Stop").unwrap();
        assert_eq!(stop.key, format!("{file}:stop:1:0"));
        let start = &t.hooks.iter().find(|h| h.event == "SessionStart").unwrap().key;
        let post = &t.hooks.iter().find(|h| h.event == "PostToolUse").unwrap().key;
        let config = format!(
            "model = \"x\"\n[projects.{}]\ntrust_level = \"trusted\"\n\n[hooks.state.{}]\ntrusted_hash = \"sha256:aa\"\nenabled = true\n\n[hooks.state]\n{} = {{ enabled = true, trusted_hash = \"sha256:bb\" }}\n",
            serde_json::to_string(&root.canonicalize().unwrap().display().to_string()).unwrap(),
            serde_json::to_string(start).unwrap(),
            serde_json::to_string(post).unwrap(),
        );
        std::fs::write(home.join("config.toml"), config).unwrap();
        let t = trust(&root, &home).unwrap();
        assert!(t.project_trusted);
        let hash = |e: &str| t.hooks.iter().find(|h| h.event == e).unwrap().trusted_hash.clone();
        assert_eq!(hash("SessionStart").as_deref(), Some("sha256:aa"));
        assert_eq!(hash("PostToolUse").as_deref(), Some("sha256:bb"));
        assert_eq!(t.pending().iter().map(|h| h.event.as_str()).collect::<Vec<_>>(), ["Stop", "UserPromptSubmit"]);
    }
}
