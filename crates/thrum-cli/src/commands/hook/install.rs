//! `thrum setup hooks --runtime NAME [--remove]`: writes the runtime's own
//! hook configuration so it runs `thrum hook NAME EVENT`, merged the way
//! `setup mcp` merges (see `config_file`): other entries kept, a `.bak`, a
//! second run changes nothing, a file that is not valid JSON refused
//! untouched. thrum's entries are the hook commands that run `thrum hook
//! NAME …`; `--remove` takes exactly those out again.
//!
//! Two shapes of `hooks` object are merged here: the nested one of Claude
//! Code, Codex and Gemini CLI (event → [{matcher?, hooks: [{type, command,
//! …}]}], [`merge_nested`]) and Cursor's flat one (event → [{command, …}],
//! [`merge_flat`]). Each runtime's module says which entries are its own
//! and where its file lives; Claude Code's are here.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Value, json};

use super::claude::Event;
use crate::commands::config_file::{self, Outcome};

/// Claude Code's settings file for the project (`shared`: committed,
/// `.claude/settings.json`; else the personal `settings.local.json`).
pub fn claude_settings(root: &Path, local: bool) -> PathBuf {
    root.join(if local { ".claude/settings.local.json" } else { ".claude/settings.json" })
}

/// How hooks call thrum: `thrum` when that is this binary on PATH, else
/// this binary's absolute path (a hook's PATH may not find a build that is
/// not installed).
pub fn thrum_command() -> String {
    let me = std::env::current_exe().ok().and_then(|p| p.canonicalize().ok());
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).map(|d| d.join("thrum")).find(|c| c.is_file()).and_then(|c| c.canonicalize().ok())
    });
    match me {
        Some(me) if on_path.as_ref() != Some(&me) => me.display().to_string(),
        _ => "thrum".to_string(),
    }
}

/// Our hook entries for Claude Code, grouped as its settings want them:
/// event → [{matcher?, hooks: [{type, command, timeout, asyncRewake?}]}].
pub fn claude_hooks(thrum: &str) -> Vec<(&'static str, Value)> {
    let cmd = |e: Event| format!("{thrum} hook claude {}", e.name());
    vec![
        (
            "SessionStart",
            json!({ "hooks": [{ "type": "command", "command": cmd(Event::SessionStart), "timeout": 30 }] }),
        ),
        (
            "UserPromptSubmit",
            json!({ "hooks": [{ "type": "command", "command": cmd(Event::UserPromptSubmit), "timeout": 10 }] }),
        ),
        (
            "PostToolUse",
            json!({ "matcher": "*", "hooks": [{ "type": "command", "command": cmd(Event::PostToolUse), "timeout": 10 }] }),
        ),
        (
            "Stop",
            json!({ "hooks": [
                { "type": "command", "command": cmd(Event::Stop), "timeout": 10 },
                // In the background after every turn; exit 2 wakes the idle
                // session. Claude Code's own limit, above the waker's 23h.
                { "type": "command", "command": cmd(Event::Wait), "asyncRewake": true, "timeout": 86400 },
            ] }),
        ),
        ("PreCompact", json!({ "hooks": [{ "type": "command", "command": cmd(Event::PreCompact), "timeout": 10 }] })),
        // A permission prompt waits: the daemon tells the supervisors now.
        (
            "Notification",
            json!({ "matcher": "permission_prompt", "hooks": [{ "type": "command", "command": cmd(Event::Notification), "timeout": 10 }] }),
        ),
    ]
}

/// Whether a hook command is one of ours for `runtime` (whatever path
/// the thrum binary had when it was written).
pub fn is_ours(command: &str, runtime: &str) -> bool {
    let mut words = command.split_whitespace();
    let bin = words.next().unwrap_or_default();
    Path::new(bin).file_name().is_some_and(|n| n == "thrum")
        && words.next() == Some("hook")
        && words.next() == Some(runtime)
}

/// `existing` Claude Code settings with thrum's hooks replaced by `ours`
/// (or only removed, when `ours` is empty).
pub fn merge_claude(existing: Option<&str>, ours: &[(&'static str, Value)], path: &Path) -> Result<String> {
    merge_nested(existing, ours, path, "claude", &[])
}

/// `existing` settings whose `hooks` object is nested (event → groups →
/// hooks), with `runtime`'s thrum hooks replaced by `ours` (or only
/// removed, when `ours` is empty). `settings_keys` are keys of `hooks`
/// that are settings, not events (Gemini CLI's `enabled`, `disabled`,
/// `notifications`): left as they are.
pub fn merge_nested(
    existing: Option<&str>,
    ours: &[(&'static str, Value)],
    path: &Path,
    runtime: &str,
    settings_keys: &[&str],
) -> Result<String> {
    let mut root = config_file::parse_object(existing, path)?;
    let obj = root.as_object_mut().ok_or_else(|| anyhow!("{} is not a JSON object", path.display()))?;
    let hooks = obj.entry("hooks").or_insert_with(|| json!({}));
    let Some(hooks) = hooks.as_object_mut() else {
        bail!("{}: \"hooks\" is not an object; nothing was changed", path.display());
    };
    strip(hooks, runtime, path, settings_keys)?;
    for (event, group) in ours {
        let list = hooks.entry(*event).or_insert_with(|| json!([]));
        let Some(list) = list.as_array_mut() else {
            bail!("{}: \"hooks.{event}\" is not a list; nothing was changed", path.display());
        };
        list.push(group.clone());
    }
    if hooks.is_empty() {
        obj.remove("hooks");
    }
    Ok(format!("{}\n", serde_json::to_string_pretty(&root)?))
}

/// Removes every hook of ours from a nested `hooks` object, and the
/// groups and events that leaves empty.
fn strip(hooks: &mut Map<String, Value>, runtime: &str, path: &Path, settings_keys: &[&str]) -> Result<()> {
    let mut emptied = Vec::new();
    for (event, list) in hooks.iter_mut().filter(|(k, _)| !settings_keys.contains(&k.as_str())) {
        let Some(groups) = list.as_array_mut() else {
            bail!("{}: \"hooks.{event}\" is not a list; nothing was changed", path.display());
        };
        let before = groups.len();
        for g in groups.iter_mut() {
            if let Some(inner) = g.get_mut("hooks").and_then(Value::as_array_mut) {
                inner.retain(|h| !h.get("command").and_then(Value::as_str).is_some_and(|c| is_ours(c, runtime)));
            }
        }
        groups.retain(|g| g.get("hooks").and_then(Value::as_array).is_none_or(|h| !h.is_empty()));
        if groups.is_empty() && before > 0 {
            emptied.push(event.clone());
        }
    }
    for event in emptied {
        hooks.remove(&event);
    }
    Ok(())
}

/// `existing` settings whose `hooks` object is flat (event → [{command,
/// …}], Cursor's), with `runtime`'s thrum entries replaced by `ours` (or
/// only removed, when `ours` is empty). `top` are top-level keys the file
/// must have (Cursor's `"version": 1`), set only where missing.
pub fn merge_flat(
    existing: Option<&str>,
    ours: &[(&'static str, Value)],
    path: &Path,
    runtime: &str,
    top: &[(&str, Value)],
) -> Result<String> {
    let mut root = config_file::parse_object(existing, path)?;
    let obj = root.as_object_mut().ok_or_else(|| anyhow!("{} is not a JSON object", path.display()))?;
    let hooks = obj.entry("hooks").or_insert_with(|| json!({}));
    let Some(hooks) = hooks.as_object_mut() else {
        bail!("{}: \"hooks\" is not an object; nothing was changed", path.display());
    };
    let mut emptied = Vec::new();
    for (event, list) in hooks.iter_mut() {
        let Some(entries) = list.as_array_mut() else {
            bail!("{}: \"hooks.{event}\" is not a list; nothing was changed", path.display());
        };
        let before = entries.len();
        entries.retain(|h| !h.get("command").and_then(Value::as_str).is_some_and(|c| is_ours(c, runtime)));
        if entries.is_empty() && before > 0 {
            emptied.push(event.clone());
        }
    }
    for event in emptied {
        hooks.remove(&event);
    }
    for (event, entry) in ours {
        let list = hooks.entry(*event).or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            list.push(entry.clone());
        }
    }
    if hooks.is_empty() {
        obj.remove("hooks");
    }
    // Kept on removal: the runtime may refuse a file without them.
    if !ours.is_empty() {
        for (k, v) in top {
            obj.entry(*k).or_insert_with(|| v.clone());
        }
    }
    Ok(format!("{}\n", serde_json::to_string_pretty(&root)?))
}

/// thrum's hook commands for Claude Code in its settings, as (event,
/// command).
pub fn claude_commands(settings: &Value) -> Vec<(String, String)> {
    commands(settings, "claude")
}

/// thrum's hook commands for `runtime` in a settings or hooks file,
/// nested or flat, as (the runtime's event, command).
pub fn commands(settings: &Value, runtime: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (event, entries) in settings.get("hooks").and_then(Value::as_object).into_iter().flatten() {
        for e in entries.as_array().into_iter().flatten() {
            let inner = e.get("hooks").and_then(Value::as_array);
            let hooks: Vec<&Value> = match inner {
                Some(list) => list.iter().collect(),
                None => vec![e],
            };
            for h in hooks {
                if let Some(c) = h.get("command").and_then(Value::as_str).filter(|c| is_ours(c, runtime)) {
                    out.push((event.clone(), c.to_string()));
                }
            }
        }
    }
    out
}

/// Installs (or with `remove`, uninstalls) Claude Code's hooks in the
/// project at `root`.
pub fn apply_claude(root: &Path, local: bool, remove: bool, dry_run: bool) -> Result<Outcome> {
    let path = claude_settings(root, local);
    let existing = config_file::read(&path)?;
    if remove && existing.is_none() {
        return Ok(Outcome::unchanged("claude", &path));
    }
    let ours = if remove { Vec::new() } else { claude_hooks(&thrum_command()) };
    let new = merge_claude(existing.as_deref(), &ours, &path)?;
    config_file::write("claude", &path, existing, Some(new), dry_run)
}

/// The hooks file of the Claude Code plugin shipped in the repository
/// (`plugins/claude/thrum/hooks/hooks.json`): the same hooks, calling the
/// `thrum` on PATH.
pub fn claude_plugin_hooks() -> String {
    let mut hooks = serde_json::Map::new();
    for (event, group) in claude_hooks("thrum") {
        hooks.insert(event.to_string(), json!([group]));
    }
    let v = json!({
        "description": "thrum: new mail reaches the model (generated by `thrum setup hooks`'s code; see install.rs)",
        "hooks": hooks,
    });
    format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The plugin's hooks are the ones `setup hooks` writes; regenerate
    /// with `THRUM_UPDATE_PLUGIN=1 cargo test -p thrum-cli --lib the_shipped_plugin_has_the_installed_hooks`.
    #[test]
    fn the_shipped_plugin_has_the_installed_hooks() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/claude/thrum/hooks/hooks.json");
        let want = claude_plugin_hooks();
        if std::env::var_os("THRUM_UPDATE_PLUGIN").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            have,
            want,
            "{} is stale: THRUM_UPDATE_PLUGIN=1 cargo test -p thrum-cli --lib the_shipped_plugin_has_the_installed_hooks",
            path.display()
        );
    }

    fn ours() -> Vec<(&'static str, Value)> {
        claude_hooks("thrum")
    }

    #[test]
    fn hooks_are_merged_kept_idempotent_and_removable() {
        let p = Path::new(".claude/settings.json");
        let old = r#"{"model":"opus","hooks":{"Stop":[{"hooks":[{"type":"command","command":"say done"}]}],
                     "PostToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"/old/bin/thrum hook claude post-tool-use"}]}]}}"#;
        let once = merge_claude(Some(old), &ours(), p).unwrap();
        let v: Value = serde_json::from_str(&once).unwrap();
        assert_eq!(v["model"], "opus");
        let stop = v["hooks"]["Stop"].as_array().unwrap();
        assert_eq!(stop[0]["hooks"][0]["command"], "say done", "the user's hook stays first");
        assert_eq!(stop[1]["hooks"][1]["asyncRewake"], true);
        assert_eq!(stop[1]["hooks"][1]["command"], "thrum hook claude wait");
        // The old thrum entry (another path) was replaced, not doubled.
        let post = v["hooks"]["PostToolUse"].as_array().unwrap();
        assert_eq!(post.len(), 1, "{post:?}");
        assert_eq!(post[0]["hooks"][0]["command"], "thrum hook claude post-tool-use");
        assert_eq!(merge_claude(Some(&once), &ours(), p).unwrap(), once, "a second run changes nothing");
        let removed: Value = serde_json::from_str(&merge_claude(Some(&once), &[], p).unwrap()).unwrap();
        assert_eq!(
            removed,
            json!({"model": "opus", "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}})
        );
    }

    #[test]
    fn only_thrum_hook_commands_are_ours() {
        assert!(is_ours("thrum hook claude stop", "claude"));
        assert!(is_ours("/home/me/.cargo/bin/thrum hook claude wait --timeout 1h", "claude"));
        assert!(!is_ours("thrum hook codex stop", "claude"));
        assert!(!is_ours("thrumx hook claude stop", "claude"));
        assert!(!is_ours("echo thrum hook claude", "claude"));
    }

    #[test]
    fn what_is_not_a_settings_object_is_refused() {
        let p = Path::new("s.json");
        assert!(merge_claude(Some("{oops"), &ours(), p).unwrap_err().to_string().contains("nothing was changed"));
        assert!(merge_claude(Some(r#"{"hooks": []}"#), &ours(), p).is_err());
        assert!(merge_claude(Some(r#"{"hooks": {"Stop": 1}}"#), &ours(), p).is_err());
    }
}
