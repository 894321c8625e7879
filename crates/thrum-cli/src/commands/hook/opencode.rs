//! OpenCode's plugin (`.opencode/plugins/thrum.ts`, see `thrum setup
//! hooks`) and the events it runs as `thrum hook opencode EVENT`.
//!
//! The plugin lives in OpenCode's process and only moves text: it runs
//! these events with `{"session_id", "cwd"}` on stdin and shows the model
//! what they print. Every rule is here, and the output is the notice or
//! nothing (exit 0 either way; failures go to the daemon log).
//!
//! - `chat-message`: a prompt was submitted. Claims unannounced mail for
//!   the prompt to carry, and sends the session's idle waker home (the
//!   session is busy: its turn hooks announce).
//! - `tool-after`: a tool ran. Claims unannounced mail for its output.
//! - `idle`: the session went idle (or the waker saw mail). Claims mail as
//!   the idle waker; the plugin starts a turn with the notice.
//! - `wait`: the idle waker. Blocks on the daemon's push, claiming nothing,
//!   and prints `pending` when there is mail to announce (the plugin then
//!   runs `idle`); prints nothing on its timeout, when a newer waiter of the
//!   session or a prompt sends it home, when OpenCode is gone, or when the
//!   daemon is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde::Deserialize;
use thrum_core::delivery::{self, Channel};

use super::install::thrum_command;
use super::{Here, HookArgs, HookStatus, Waiter, claim, log, read_stdin, start_dir, wait_timeout};
use crate::commands::config_file::{self, Outcome};
use crate::context::Ctx;

/// The plugin as shipped (`plugins/opencode/thrum.ts`).
pub const PLUGIN: &str = include_str!("../../../../../plugins/opencode/thrum.ts");
/// The first line of every copy of our plugin: what makes a file ours.
const MARKER: &str = "// @thrum-plugin opencode";
/// The plugin's line naming the thrum binary; installing writes ours.
const BINARY_LINE: &str = "const THRUM_DEFAULT = ";
/// How long the idle waker waits before it exits (the plugin then waits
/// for the session's next idle).
const WAIT_DEFAULT: Duration = Duration::from_secs(23 * 3600);

/// The events, by the names `thrum hook opencode EVENT` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    ChatMessage,
    ToolAfter,
    Idle,
    Wait,
}

impl Event {
    pub const ALL: [Event; 4] = [Event::ChatMessage, Event::ToolAfter, Event::Idle, Event::Wait];

    pub fn name(self) -> &'static str {
        match self {
            Event::ChatMessage => "chat-message",
            Event::ToolAfter => "tool-after",
            Event::Idle => "idle",
            Event::Wait => "wait",
        }
    }

    /// The OpenCode plugin hook or event that runs it.
    pub fn opencode_hook(self) -> &'static str {
        match self {
            Event::ChatMessage => "chat.message",
            Event::ToolAfter => "tool.execute.after",
            Event::Idle | Event::Wait => "session.idle",
        }
    }

    fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.name() == s)
    }
}

/// What the plugin sends on stdin.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Input {
    session_id: String,
    cwd: String,
}

pub fn run(ctx: &mut Ctx, a: &HookArgs) -> Result<u8> {
    let Some(event) = Event::parse(&a.event) else {
        let names: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
        return Err(crate::user_err!("unknown opencode hook event {:?}: use one of {}", a.event, names.join(", ")));
    };
    let timeout = wait_timeout(a, WAIT_DEFAULT)?;
    let raw = read_stdin();
    let input: Input = if raw.trim().is_empty() {
        Input::default()
    } else {
        match serde_json::from_str(&raw) {
            Ok(i) => i,
            Err(e) => {
                let layout = start_dir("").and_then(|d| thrum_core::Layout::discover(&d).ok());
                log(layout.as_ref(), "opencode", event.name(), &format!("unreadable hook input ({e}); ignored"));
                return Ok(0);
            }
        }
    };
    let here = match Here::find(ctx, start_dir(&input.cwd)) {
        Ok(h) => h,
        Err(why) => {
            let layout = start_dir(&input.cwd).and_then(|d| thrum_core::Layout::discover(&d).ok());
            log(layout.as_ref(), "opencode", event.name(), &why);
            return Ok(0);
        }
    };
    here.mark_ran("opencode", event.name());
    let outcome = match event {
        Event::ChatMessage => announce(ctx, &here, &input, Channel::Hook, true),
        Event::ToolAfter => announce(ctx, &here, &input, Channel::Hook, false),
        Event::Idle => announce(ctx, &here, &input, Channel::Waiter, false),
        Event::Wait => wait(ctx, &here, &input, timeout),
    };
    // Never break the session: a failure is logged, and the plugin sees a
    // hook that had nothing to say.
    outcome.or_else(|e| {
        log(Some(&here.layout), "opencode", event.name(), &format!("{e:#}"));
        Ok(0)
    })
}

/// Prints the notice for unannounced mail, claimed through `channel`
/// (nothing when there is none). `stand_down`: the session turned busy.
fn announce(ctx: &mut Ctx, here: &Here, input: &Input, channel: Channel, stand_down: bool) -> Result<u8> {
    let Some(mut client) = here.connect_if_running() else { return Ok(0) };
    let messages = claim(&mut client, &here.agent, channel, Some(&input.session_id), stand_down)?;
    if !messages.is_empty() {
        ctx.out.line(delivery::notice(&here.agent, &messages));
    }
    Ok(0)
}

/// The idle waker: `pending` once there is mail to announce.
fn wait(ctx: &mut Ctx, here: &Here, input: &Input, timeout: Duration) -> Result<u8> {
    let Some(mut waiter) = Waiter::start(here, &input.session_id, timeout) else { return Ok(0) };
    if waiter.pending()?.is_some() {
        ctx.out.line("pending");
    }
    Ok(0)
}

/// Where OpenCode loads the project's plugins from: every `*.ts` and
/// `*.js` file of `.opencode/plugins/` (or `.opencode/plugin/`).
pub fn plugin_path(root: &Path) -> PathBuf {
    root.join(".opencode/plugins/thrum.ts")
}

/// The plugin, calling `thrum` (a command or a path).
pub fn plugin_source(thrum: &str) -> String {
    let literal = serde_json::to_string(thrum).unwrap_or_else(|_| "\"thrum\"".into());
    PLUGIN
        .lines()
        .map(|l| if l.starts_with(BINARY_LINE) { format!("{BINARY_LINE}{literal}") } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Whether a plugin file's text is our plugin.
fn is_ours(text: &str) -> bool {
    text.lines().next().is_some_and(|l| l.trim_end() == MARKER)
}

/// The thrum binary an installed copy of the plugin runs.
fn binary_of(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with(BINARY_LINE))?;
    serde_json::from_str(line[BINARY_LINE.len()..].trim().trim_end_matches(';')).ok()
}

/// Installs (or with `remove`, uninstalls) the plugin in the project at
/// `root`. The file is wholly ours, so an older copy is replaced without a
/// backup; a file of that name that is not ours is refused untouched.
pub fn apply(root: &Path, local: bool, remove: bool, dry_run: bool) -> Result<Outcome> {
    if local {
        bail!("--local is for Claude Code; OpenCode's plugin goes in the project's .opencode/plugins/");
    }
    let path = plugin_path(root);
    let existing = config_file::read(&path)?;
    if existing.as_deref().is_some_and(|t| !is_ours(t)) {
        bail!("{} is not thrum's plugin; move it away, then rerun — nothing was changed", path.display());
    }
    let outcome = |action: &'static str, content: String| Outcome {
        runtime: "opencode".into(),
        path: path.display().to_string(),
        action,
        backup: None,
        content,
    };
    if remove {
        if existing.is_none() {
            return Ok(Outcome::unchanged("opencode", &path));
        }
        if !dry_run {
            std::fs::remove_file(&path).map_err(|e| anyhow!("cannot remove {}: {e}", path.display()))?;
        }
        return Ok(outcome("deleted", String::new()));
    }
    let new = plugin_source(&thrum_command());
    if existing.as_deref() == Some(new.as_str()) {
        return Ok(Outcome::unchanged("opencode", &path));
    }
    if dry_run {
        return Ok(outcome("printed", new));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    thrum_core::fs::write_file(&path, new.as_bytes()).map_err(|e| anyhow!("cannot write {e}"))?;
    Ok(outcome(if existing.is_some() { "updated" } else { "created" }, String::new()))
}

/// The installed plugin at `root`, or `None` when there is none.
pub fn status(root: &Path) -> Option<HookStatus> {
    let file = plugin_path(root);
    let text = std::fs::read_to_string(&file).ok().filter(|t| is_ours(t))?;
    let thrum = binary_of(&text).unwrap_or_else(|| "thrum".into());
    let commands = Event::ALL
        .iter()
        .map(|e| (e.opencode_hook().to_string(), format!("{thrum} hook opencode {}", e.name())))
        .collect();
    Some(HookStatus { file, commands, events: Event::ALL.iter().map(|e| e.name()).collect() })
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
        assert_eq!(Event::parse("session.idle"), None);
    }

    #[test]
    fn the_shipped_plugin_is_ours_and_names_its_binary() {
        assert!(is_ours(PLUGIN), "the plugin's first line must be {MARKER:?}");
        assert_eq!(binary_of(PLUGIN).as_deref(), Some("thrum"));
        let installed = plugin_source("/opt/my \"odd\" dir/thrum");
        assert!(is_ours(&installed));
        assert_eq!(binary_of(&installed).as_deref(), Some("/opt/my \"odd\" dir/thrum"));
        assert_eq!(installed.lines().count(), PLUGIN.lines().count(), "only the binary line changes");
        // Every event the plugin runs is one `thrum hook opencode` serves.
        for e in Event::ALL {
            assert!(PLUGIN.contains(&format!("\"{}\"", e.name())), "the plugin never runs {}", e.name());
        }
    }

    #[test]
    fn installing_writes_replaces_and_removes_only_our_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let created = apply(root, false, false, false).unwrap();
        assert_eq!(created.action, "created");
        assert!(status(root).is_some_and(|s| s.commands.len() == Event::ALL.len()));
        assert_eq!(apply(root, false, false, false).unwrap().action, "unchanged", "a second run changes nothing");
        // An older copy (another binary path) is replaced, without a backup.
        std::fs::write(plugin_path(root), plugin_source("/old/thrum")).unwrap();
        assert_eq!(apply(root, false, false, false).unwrap().action, "updated");
        assert!(!root.join(".opencode/plugins/thrum.ts.bak").exists());
        assert_eq!(apply(root, false, true, false).unwrap().action, "deleted");
        assert!(!plugin_path(root).exists() && status(root).is_none());
        assert_eq!(apply(root, false, true, false).unwrap().action, "unchanged");
        // Someone else's thrum.ts is never touched.
        std::fs::write(plugin_path(root), "export const Mine = async () => ({})\n").unwrap();
        assert!(apply(root, false, false, false).unwrap_err().to_string().contains("nothing was changed"));
        assert!(apply(root, false, true, false).is_err());
        assert_eq!(std::fs::read_to_string(plugin_path(root)).unwrap(), "export const Mine = async () => ({})\n");
        assert!(apply(root, true, false, false).is_err(), "--local has no meaning here");
    }
}
