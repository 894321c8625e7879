//! Claude Code's hooks (`.claude/settings.json`, see `thrum setup hooks`).
//!
//! - `session-start`: the `thrum prime` briefing, and any unannounced mail,
//!   as `additionalContext` (under Claude Code's 10,000-character cap).
//! - `user-prompt-submit`, `post-tool-use`: context only when there is
//!   unannounced mail. A prompt also sends the session's idle waker home:
//!   while a turn runs, these hooks announce.
//! - `stop`: blocks the stop with the notice as its reason, only for
//!   unannounced mail and never when `stop_hook_active` (no loops).
//! - `pre-compact`: records the session and its transcript, so what comes
//!   after compaction (the `session-start` briefing, a restart) finds them.
//! - `wait`: the idle waker, a background Stop hook (`asyncRewake`). It
//!   blocks on the daemon's push; when mail arrives it claims it, writes
//!   the notice to stderr and exits 2, which starts a new turn with it.
//!   It exits 0 on its timeout, when the daemon is gone, when a newer
//!   waiter of the same session replaces it, or when Claude Code is gone.
//! - `notification`: when Claude Code says a permission prompt waits, asks
//!   the daemon to look at the agent's tmux pane now (`tmux.check-pane`),
//!   so the supervisors hear of it at once rather than at the watcher's
//!   next round. Prints nothing.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Result;
use serde::Deserialize;
use serde_json::json;
use thrum_core::delivery::{self, Channel};

use super::{Here, HookArgs, Waiter, briefing, claim, log, read_input, run_hook, start_dir, turn_notice, wait_timeout};
use crate::context::Ctx;

/// The idle waker's default lifetime (its hook `timeout` is 24h).
const WAIT_DEFAULT: Duration = Duration::from_secs(23 * 3600);

/// The hook events, by the names `thrum hook claude EVENT` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    SessionStart,
    UserPromptSubmit,
    PostToolUse,
    Stop,
    PreCompact,
    Wait,
    Notification,
}

impl Event {
    pub const ALL: [Event; 7] = [
        Event::SessionStart,
        Event::UserPromptSubmit,
        Event::PostToolUse,
        Event::Stop,
        Event::PreCompact,
        Event::Wait,
        Event::Notification,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Event::SessionStart => "session-start",
            Event::UserPromptSubmit => "user-prompt-submit",
            Event::PostToolUse => "post-tool-use",
            Event::Stop => "stop",
            Event::PreCompact => "pre-compact",
            Event::Wait => "wait",
            Event::Notification => "notification",
        }
    }

    /// Claude Code's name for the event the hook is installed under.
    pub fn claude_event(self) -> &'static str {
        match self {
            Event::SessionStart => "SessionStart",
            Event::UserPromptSubmit => "UserPromptSubmit",
            Event::PostToolUse => "PostToolUse",
            Event::Stop | Event::Wait => "Stop",
            Event::PreCompact => "PreCompact",
            Event::Notification => "Notification",
        }
    }

    fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.name() == s)
    }
}

/// The fields of Claude Code's hook input that we read (it sends more).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Input {
    session_id: String,
    cwd: String,
    transcript_path: String,
    stop_hook_active: bool,
    /// SessionStart: startup, resume, clear or compact.
    source: String,
    /// PreCompact: manual or auto.
    trigger: String,
    /// Notification: `permission_prompt`, `idle_prompt`, …
    notification_type: String,
    /// Notification: its text ("Claude needs your permission to use Bash").
    message: String,
}

pub fn run(ctx: &mut Ctx, a: &HookArgs) -> Result<u8> {
    let Some(event) = Event::parse(&a.event) else {
        let names: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
        return Err(crate::user_err!("unknown claude hook event {:?}: use one of {}", a.event, names.join(", ")));
    };
    let timeout = wait_timeout(a, WAIT_DEFAULT)?;
    // Hook output is for the runtime: no "started daemon" notice or hints.
    ctx.out.quiet = true;
    let Some(input) = read_input::<Input>("claude", event.name()) else { return Ok(0) };
    // Cursor also runs the hooks in .claude/settings.json; there its own
    // hooks announce, and this idle waker (a 24h Stop hook without
    // `asyncRewake` support) would hold up its stop.
    if let Some(other) = inside_another_runtime(&input.cwd) {
        log(
            start_dir(&input.cwd).and_then(|d| thrum_core::Layout::discover(&d).ok()).as_ref(),
            "claude",
            event.name(),
            &format!("running inside {other}, which has hooks of its own; nothing done"),
        );
        return Ok(0);
    }
    let briefs = event == Event::SessionStart;
    run_hook(ctx, "claude", event.name(), start_dir(&input.cwd), briefs, |ctx, here| {
        // Only a session start runs without an agent (its briefing says how
        // to register).
        let Some(here) = here else { return session_start(ctx, None, &input) };
        match event {
            Event::SessionStart => {
                record_session(here, &input, "session-start");
                session_start(ctx, Some(here), &input)
            }
            Event::UserPromptSubmit => turn(ctx, here, &input, event, true),
            Event::PostToolUse => turn(ctx, here, &input, event, false),
            Event::Stop => stop(ctx, here, &input),
            Event::PreCompact => {
                record_session(here, &input, &format!("pre-compact ({})", input.trigger));
                Ok(0)
            }
            Event::Wait => wait(here, &input, timeout),
            Event::Notification => notification(here, &input),
        }
    })
}

/// The runtime we run inside, by its environment, when it is not Claude
/// Code and has a hook dialect of its own.
fn inside_another_runtime(cwd: &str) -> Option<&'static str> {
    let dir = start_dir(cwd)?;
    let rt = crate::runtimes::Probe::here(&dir).current()?;
    (rt.hooks.is_some() && rt.hooks != Some(crate::runtimes::Hooks::Claude)).then_some(rt.label)
}

/// `additionalContext` for `event`, as Claude Code reads it.
fn context_json(event: Event, text: &str) -> String {
    super::context_json(event.claude_event(), text)
}

fn session_start(ctx: &mut Ctx, here: Option<&Here>, input: &Input) -> Result<u8> {
    let body = briefing(ctx, here, "claude", &input.session_id, &input.source);
    ctx.out.line(context_json(Event::SessionStart, &body));
    Ok(0)
}

/// `user-prompt-submit` and `post-tool-use`: context only for new mail.
fn turn(ctx: &mut Ctx, here: &Here, input: &Input, event: Event, stand_down: bool) -> Result<u8> {
    if let Some(notice) = turn_notice(here, &input.session_id, stand_down)? {
        ctx.out.line(context_json(event, &notice));
    }
    Ok(0)
}

fn stop(ctx: &mut Ctx, here: &Here, input: &Input) -> Result<u8> {
    // Claude Code is already continuing because of a stop hook: never
    // block twice in a row.
    if input.stop_hook_active {
        return Ok(0);
    }
    if let Some(reason) = turn_notice(here, &input.session_id, false)? {
        ctx.out.line(json!({ "decision": "block", "reason": reason }).to_string());
    }
    Ok(0)
}

/// The idle waker. Exit 2 with the notice on stderr wakes the session.
fn wait(here: &Here, input: &Input, timeout: Duration) -> Result<u8> {
    let Some(mut waiter) = Waiter::start(here, &input.session_id, timeout) else { return Ok(0) };
    while let Some(c) = waiter.pending()? {
        let messages = claim(c, &here.agent, Channel::Waiter, None, false)?;
        if messages.is_empty() {
            continue; // another channel told it first
        }
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(delivery::notice(&here.agent, &messages).as_bytes());
        let _ = err.write_all(b"\n");
        return Ok(2);
    }
    Ok(0)
}

/// A permission prompt waits: the daemon looks at the agent's tmux pane
/// now. Other notifications, an agent not in a managed session, or a
/// daemon that is not running: nothing.
fn notification(here: &Here, input: &Input) -> Result<u8> {
    let permission = input.notification_type == "permission_prompt"
        || (input.notification_type.is_empty() && input.message.to_lowercase().contains("permission"));
    if !permission {
        return Ok(0);
    }
    let path = here.layout.identities_dir().join(format!("{}.json", here.agent));
    let identity = std::fs::read_to_string(&path).ok().and_then(|t| thrum_core::identity::IdentityFile::parse(&t).ok());
    let Some(target) = identity.and_then(|f| f.other.get("tmux_session").and_then(|v| v.as_str().map(str::to_string)))
    else {
        return Ok(0);
    };
    let session = target.split(':').next().unwrap_or_default().to_string();
    let Some(mut client) = here.connect_if_running() else { return Ok(0) };
    let r = client.call::<thrum_proto::methods::tmux::CheckPane>(&thrum_proto::methods::tmux::CheckPaneParams {
        session,
        content: None,
    })?;
    log(Some(&here.layout), "claude", "notification", &format!("{}: {}", r.state, r.reason));
    Ok(0)
}

/// Remembers the agent's runtime session and transcript (`var/runtime-
/// sessions/AGENT.json`), for what follows a compaction or a restart.
fn record_session(here: &Here, input: &Input, why: &str) {
    if input.session_id.is_empty() {
        return;
    }
    let dir = here.layout.var_dir().join("runtime-sessions");
    let record = json!({
        "runtime": "claude",
        "agent": here.agent,
        "session_id": input.session_id,
        "transcript_path": input.transcript_path,
        "cwd": input.cwd,
        "event": why,
        "at": thrum_core::time::now_rfc3339(),
    });
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{}.json", thrum_core::event::file_safe(&here.agent)));
    let _ = thrum_core::fs::write_file(&path, format!("{record:#}\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_map_to_claude_names() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.name()), Some(e));
        }
        assert_eq!(Event::Wait.claude_event(), "Stop");
        assert_eq!(Event::parse("Stop"), None);
    }

    #[test]
    fn context_is_capped_under_the_runtime_limit() {
        let long = "x".repeat(20_000);
        let v: serde_json::Value = serde_json::from_str(&context_json(Event::SessionStart, &long)).unwrap_or_default();
        let ctx = v["hookSpecificOutput"]["additionalContext"].as_str().unwrap_or_default();
        assert!(ctx.chars().count() <= 10_000 && ctx.ends_with("for the rest)"), "{}", ctx.len());
        assert_eq!(v["hookSpecificOutput"]["hookEventName"], "SessionStart");
    }
}
