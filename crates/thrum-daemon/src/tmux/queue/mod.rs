//! The per-session command queue: `tmux.queue`, `tmux.queue-wait`,
//! `tmux.queue-status`, `tmux.cancel`.
//!
//! - [`store`]: the commands and their states, saved across restarts.
//! - [`dispatch`]: the task that types them into panes and watches them.
//! - [`report`]: their output and the @system messages about them.
//!
//! A command goes queued → sent → completed, or → timeout_waiting (still
//! running past its timeout) → completed when it finally goes quiet; it
//! may be cancelled or interrupted (daemon restart, session killed or
//! gone) on the way. Its requester gets an @system message at each of
//! those steps unless it asked not to (`--wait`); interruptions are
//! always reported, since a waiting caller lost its call with them.

pub mod dispatch;
pub mod report;
pub mod store;

use std::time::Duration;

use thrum_core::ids::{IdKind, is_valid, new_id};
use thrum_proto::methods::tmux::*;

use self::store::{CmdState, Command};
use super::blocking;
use crate::caller::Caller;
use crate::error::{HResult, bad_params, server};
use crate::state::State;

pub use self::store::Queue;

const DEFAULT_TIMEOUT_MS: u64 = 120_000;
const DEFAULT_SILENCE_MS: u64 = 5_000;
/// The longest a single `tmux.queue-wait` call blocks (clients call again).
const MAX_WAIT_MS: u64 = 600_000;
const MAX_TEXT: usize = 8 * 1024;

/// Refuses what cannot be typed safely as one command line.
fn check_text(text: &str) -> HResult<()> {
    if text.trim().is_empty() {
        return Err(bad_params("the command is empty: pass the command line to type, e.g. `make test`"));
    }
    if text.len() > MAX_TEXT {
        return Err(bad_params(format!("the command is too long ({} bytes, max {MAX_TEXT})", text.len())));
    }
    // A newline would press Enter mid-command and a tab would complete;
    // escape sequences could drive the program in the pane.
    if text.chars().any(char::is_control) {
        return Err(bad_params(
            "the command must be one line of printable text (no newlines, tabs or control characters): join commands with `;` or `&&`",
        ));
    }
    Ok(())
}

fn check_id(id: &str) -> HResult<()> {
    if is_valid(IdKind::Command, id) {
        Ok(())
    } else {
        Err(bad_params(format!("{id:?} is not a command id (cmd_…): see `thrum tmux queue-status SESSION`")))
    }
}

fn unknown(id: &str) -> crate::error::Fail {
    server(format!(
        "no command {id} in this daemon's queue (finished ones are remembered until it restarts): see `thrum tmux queue-status SESSION`"
    ))
}

pub async fn queue(state: &State, caller: &Caller, p: QueueParams) -> HResult<QueueResult> {
    check_text(&p.text)?;
    let requester = caller.resolve(Some(&p.requester))?;
    let timeout_ms = p.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !(1..=86_400_000).contains(&timeout_ms) {
        return Err(bad_params("timeout_ms must be between 1 and 86400000 (a day)"));
    }
    let silence_ms = p.silence_ms.unwrap_or(DEFAULT_SILENCE_MS);
    if !(100..=600_000).contains(&silence_ms) {
        return Err(bad_params("silence_ms must be between 100 and 600000 (0.1 s to 10 min)"));
    }
    let st = state.clone();
    let name = p.session.clone();
    blocking(move || st.tmux.ours(&name)).await?;
    let cmd = Command {
        id: new_id(IdKind::Command),
        session: p.session,
        text: p.text,
        requester,
        state: CmdState::Queued,
        silence_ms,
        timeout_ms,
        notify_on_complete: p.notify_on_complete.unwrap_or(true),
        submitted_at: thrum_core::time::now_rfc3339(),
        sent_at: String::new(),
        output: String::new(),
        elapsed_ms: 0,
        reason: String::new(),
    };
    let command_id = cmd.id.clone();
    let position = state.tmux.queue.push(cmd)?;
    Ok(QueueResult { command_id, position })
}

/// Blocks until the command is finished or `timeout_waiting` (a caller
/// waiting with `--wait` wants to hear that too), or `timeout_ms` passes
/// (then its current state).
pub async fn wait(state: &State, _: &Caller, p: QueueWaitParams) -> HResult<QueueWaitResult> {
    check_id(&p.command_id)?;
    let q = &state.tmux.queue;
    let mut changed = q.subscribe();
    let mut shutdown = state.shutdown.clone();
    let limit = Duration::from_millis(p.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS).min(MAX_WAIT_MS));
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let c = q.get(&p.command_id).ok_or_else(|| unknown(&p.command_id))?;
        if !matches!(c.state, CmdState::Queued | CmdState::Sent) {
            return Ok(c.result());
        }
        tokio::select! {
            r = changed.changed() => if r.is_err() { return Ok(c.result()) },
            _ = tokio::time::sleep_until(deadline) => return Ok(c.result()),
            _ = shutdown.changed() => return Err(server(format!(
                "the daemon is shutting down: {} will be reported as interrupted in {}'s inbox",
                c.id, c.requester
            ))),
        }
    }
}

/// A session's running and queued commands. A session with none (killed,
/// or never used) answers empty rather than an error, as the original
/// does after a kill.
pub async fn status(state: &State, _: &Caller, p: QueueStatusParams) -> HResult<QueueStatusResult> {
    if p.session.is_empty() {
        return Err(bad_params("session is required: name the tmux session (see `thrum tmux status`)"));
    }
    let mut all = state.tmux.queue.session(&p.session).into_iter();
    let first = all.next();
    let (active, queued) = match first {
        Some(c) if c.state.in_flight() => (Some(c.wire()), all.map(|c| c.wire()).collect()),
        Some(c) => (None, std::iter::once(c).chain(all).map(|c| c.wire()).collect()),
        None => (None, Vec::new()),
    };
    Ok(QueueStatusResult { session: p.session, active, queued })
}

/// Cancels a command: a queued one leaves the queue; a running one is
/// marked cancelled and the queue moves on. Nothing is typed into the
/// pane to stop it (a Ctrl-C or Escape could land in an agent's input),
/// so it may still be running there.
pub async fn cancel(state: &State, _: &Caller, p: CancelParams) -> HResult<QueueWaitResult> {
    check_id(&p.command_id)?;
    let q = &state.tmux.queue;
    let c = q.get(&p.command_id).ok_or_else(|| unknown(&p.command_id))?;
    if c.state.finished() {
        return Err(server(format!("{} is already {}: nothing to cancel", c.id, c.state.as_str())));
    }
    let output = if c.state.in_flight() { dispatch::output_now(state, &c).await } else { String::new() };
    let elapsed = elapsed_since(&c.sent_at);
    let done = q
        .update(&c.id, |c| {
            if c.state.finished() {
                return false;
            }
            if c.state.in_flight() {
                c.output = output;
                c.elapsed_ms = elapsed;
            }
            c.state = CmdState::Cancelled;
            true
        })
        // Finished between the look and the change.
        .or_else(|| q.get(&c.id))
        .ok_or_else(|| unknown(&c.id))?;
    if done.state != CmdState::Cancelled {
        return Err(server(format!("{} is already {}: nothing to cancel", done.id, done.state.as_str())));
    }
    if done.notify_on_complete {
        notify(state, &done).await;
    }
    Ok(done.result())
}

/// Milliseconds since an RFC 3339 time (0 if there is none).
fn elapsed_since(ts: &str) -> i64 {
    thrum_core::time::parse_ts(ts).map(|t| (chrono::Utc::now() - t).num_milliseconds().max(0)).unwrap_or(0)
}

/// Interrupts a session's commands (killed, or found gone) and tells
/// their requesters, whatever they asked for.
pub async fn interrupt_session(state: &State, session: &str, reason: &str) {
    for c in state.tmux.queue.interrupt_session(session, reason) {
        notify(state, &c).await;
    }
}

/// Sends the @system message about `c`'s new state to its requester.
async fn notify(state: &State, c: &Command) {
    let text = report::message(c);
    if let Err(e) = crate::rpc::send_from_daemon(state, "system", &c.requester, text, None).await {
        tracing::warn!(id = c.id, to = c.requester, error = %e.0.message, "cannot send the tmux queue message");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_must_be_one_printable_line() {
        assert!(check_text("echo one; sleep 1 && echo 'two'").is_ok());
        for bad in ["", "   ", "a\nb", "a\tb", "a\x1b[A", &"x".repeat(MAX_TEXT + 1)] {
            assert!(check_text(bad).is_err(), "{bad:?}");
        }
        assert!(check_id("cmd_01J0000000000000000000000").is_ok());
        assert!(check_id("msg_01J0000000000000000000000").is_err());
        assert!(check_id("cmd_../x").is_err());
    }
}
