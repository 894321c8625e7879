//! Gemini CLI's hooks (`hooks` in `.gemini/settings.json`, see `thrum
//! setup hooks`).
//!
//! Shapes from Gemini CLI's hooks reference (`docs/hooks/reference.md`) and
//! the 0.61.0 release's own code (`hookEventHandler`, `client`), and
//! observed with 0.61.0 driven for real (`tests/runtimes/gemini`):
//! - `session-start` (`SessionStart`): the `thrum prime` briefing and any
//!   unannounced mail as `hookSpecificOutput.additionalContext` (Gemini CLI
//!   wraps hook context in `<hook_context>`: a user turn of its own when
//!   headless);
//! - `before-agent` (`BeforeAgent`, a prompt was submitted) and
//!   `after-tool` (`AfterTool`, every tool): the same, only for
//!   unannounced mail (appended to the prompt, or to the tool's result);
//! - `after-agent` (`AfterAgent`, the agent's final answer of a turn):
//!   `{"decision": "deny", "reason": notice}` only for unannounced mail and
//!   never when `stop_hook_active`. Gemini CLI sends the reason to the
//!   model as a new prompt and fires `AfterAgent` again with
//!   `stop_hook_active: true`.
//!
//! Gemini CLI has no hook that could wake an idle session. It runs a
//! project's hooks only in a trusted folder, warns once about hooks it has
//! not seen, and parses stderr as the hook's answer when stdout is empty:
//! these hooks never write to stderr. Timeouts are in milliseconds.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Value, json};

use super::{HookArgs, Turn};
use crate::commands::config_file::{self, Outcome};
use crate::context::Ctx;

/// Keys of Gemini CLI's `hooks` object that are settings, not events.
const SETTINGS_KEYS: &[&str] = &["enabled", "disabled", "notifications"];

/// The hook events, by the names `thrum hook gemini EVENT` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    SessionStart,
    BeforeAgent,
    AfterTool,
    AfterAgent,
}

impl Event {
    pub const ALL: [Event; 4] = [Event::SessionStart, Event::BeforeAgent, Event::AfterTool, Event::AfterAgent];

    pub fn name(self) -> &'static str {
        match self {
            Event::SessionStart => "session-start",
            Event::BeforeAgent => "before-agent",
            Event::AfterTool => "after-tool",
            Event::AfterAgent => "after-agent",
        }
    }

    /// Gemini CLI's name for the event (its settings key and
    /// `hookEventName`).
    pub fn gemini_event(self) -> &'static str {
        match self {
            Event::SessionStart => "SessionStart",
            Event::BeforeAgent => "BeforeAgent",
            Event::AfterTool => "AfterTool",
            Event::AfterAgent => "AfterAgent",
        }
    }

    fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.name() == s)
    }
}

pub fn run(ctx: &mut Ctx, a: &HookArgs) -> Result<u8> {
    let Some(event) = Event::parse(&a.event) else {
        let names: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
        return Err(crate::user_err!("unknown gemini hook event {:?}: use one of {}", a.event, names.join(", ")));
    };
    let turn = match event {
        Event::SessionStart => Turn::Start,
        Event::BeforeAgent => Turn::Prompt,
        Event::AfterTool => Turn::Tool,
        Event::AfterAgent => Turn::Stop("deny"),
    };
    super::run_turn(ctx, "gemini", event.name(), event.gemini_event(), turn)
}

/// Gemini CLI's project settings at `root` (shared with its MCP servers).
pub fn settings_file(root: &Path) -> PathBuf {
    root.join(".gemini/settings.json")
}

/// Our hook entries, grouped as Gemini CLI's settings want them (named, so
/// `/hooks disable thrum-…` works; timeouts in milliseconds).
pub fn hooks(thrum: &str) -> Vec<(&'static str, Value)> {
    let entry = |e: Event, timeout_ms: u32| {
        json!({
            "name": format!("thrum-{}", e.name()),
            "type": "command",
            "command": format!("{thrum} hook gemini {}", e.name()),
            "timeout": timeout_ms,
            "description": "thrum: new mail reaches the model",
        })
    };
    vec![
        (Event::SessionStart.gemini_event(), json!({ "hooks": [entry(Event::SessionStart, 30_000)] })),
        (Event::BeforeAgent.gemini_event(), json!({ "hooks": [entry(Event::BeforeAgent, 10_000)] })),
        (Event::AfterTool.gemini_event(), json!({ "matcher": "*", "hooks": [entry(Event::AfterTool, 10_000)] })),
        (Event::AfterAgent.gemini_event(), json!({ "hooks": [entry(Event::AfterAgent, 10_000)] })),
    ]
}

/// Installs (or with `remove`, uninstalls) Gemini CLI's hooks in the
/// project at `root`.
pub fn install(root: &Path, remove: bool, dry_run: bool) -> Result<Outcome> {
    let path = settings_file(root);
    let existing = config_file::read(&path)?;
    if remove && existing.is_none() {
        return Ok(Outcome::unchanged("gemini", &path));
    }
    let ours = if remove { Vec::new() } else { hooks(&super::install::thrum_command()) };
    let new = super::install::merge_nested(existing.as_deref(), &ours, &path, "gemini", SETTINGS_KEYS)?;
    config_file::write("gemini", &path, existing, Some(new), dry_run)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn settings_keys_of_the_hooks_object_are_kept() {
        let p = Path::new(".gemini/settings.json");
        let old = r#"{"mcpServers":{"thrum":{"command":"thrum"}},"hooks":{"enabled":true,"disabled":["x"],
                     "AfterTool":[{"matcher":"write_file","hooks":[{"type":"command","command":"fmt"}]}]}}"#;
        let merge = |text: &str, ours: &[(&'static str, Value)]| {
            super::super::install::merge_nested(Some(text), ours, p, "gemini", SETTINGS_KEYS).unwrap()
        };
        let once = merge(old, &hooks("thrum"));
        let v: Value = serde_json::from_str(&once).unwrap();
        assert_eq!(v["hooks"]["enabled"], true);
        assert_eq!(v["hooks"]["disabled"], json!(["x"]));
        assert_eq!(v["hooks"]["AfterTool"][1]["hooks"][0]["command"], "thrum hook gemini after-tool");
        assert_eq!(v["hooks"]["AfterAgent"][0]["hooks"][0]["timeout"], 10_000);
        assert_eq!(merge(&once, &hooks("thrum")), once, "a second run changes nothing");
        let removed: Value = serde_json::from_str(&merge(&once, &[])).unwrap();
        assert_eq!(removed, serde_json::from_str::<Value>(old).unwrap());
    }

    #[test]
    fn events_round_trip() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.name()), Some(e));
        }
    }
}
