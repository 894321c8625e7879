//! The dispatcher: one task that types queued commands into their panes
//! and watches them finish.
//!
//! It sleeps on a `Notify` while nothing is queued, so idle panes cost
//! nothing. While a session has work it looks at that pane only (one
//! `capture-pane` per look, a few times a second) and keeps, per pane, a
//! fingerprint of the screen and when it last changed:
//! - the head command is typed (literal text, then Enter) once the pane
//!   has been quiet for the command's silence threshold, is ours, alive,
//!   and not in copy mode (keys would go to the mode). Nothing else is
//!   ever pressed: no Escape, no Ctrl-C.
//! - a typed command is done at the first quiet spell after the pane
//!   changed; its output is what appeared below the command line.
//! - one still running past its timeout turns `timeout_waiting` (once).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use thrum_tmux::TmuxError;

use super::report;
use super::store::{CmdState, Command};
use crate::state::State;
use crate::tmux::{blocking, tmux_fail};

/// Lines of scrollback captured to find a finished command's output.
const HISTORY: u32 = 2000;

/// How often a busy pane is looked at: a quarter of the silence
/// threshold (so quiet is noticed within ~25 % of it), within bounds that
/// keep the cost of a look (one tmux process, ~2 ms) negligible.
fn look_every(silence_ms: u64) -> Duration {
    Duration::from_millis((silence_ms / 4).clamp(100, 400))
}

/// What the dispatcher knows of a busy pane.
struct PaneWatch {
    fingerprint: String,
    changed_at: Instant,
    flight: Option<Flight>,
}

/// The command typed into the pane.
struct Flight {
    id: String,
    /// The screen just before it was typed.
    before: String,
    sent: Instant,
    changed: bool,
}

/// Runs until the daemon shuts down.
pub async fn run(state: State) {
    let q = &state.tmux.queue;
    for c in q.take_restarted() {
        super::notify(&state, &c).await;
    }
    let mut shutdown = state.shutdown.clone();
    let mut panes: HashMap<String, PaneWatch> = HashMap::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let busy = q.busy();
        panes.retain(|s, _| busy.contains(s));
        if busy.is_empty() {
            tokio::select! {
                _ = q.wake.notified() => continue,
                _ = shutdown.changed() => break,
            }
        }
        let mut every = Duration::from_millis(400);
        for session in &busy {
            if let Some(head) = q.session(session).into_iter().next() {
                every = every.min(look_every(head.silence_ms));
                step(&state, head, &mut panes).await;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = q.wake.notified() => {}
            _ = shutdown.changed() => break,
        }
    }
}

/// One look at the pane of `head`'s session, and what follows from it.
async fn step(state: &State, head: Command, panes: &mut HashMap<String, PaneWatch>) {
    let session = head.session.clone();
    let st = state.clone();
    let name = session.clone();
    let screen = match blocking(move || Ok(st.tmux.tmux.capture(&name, 0, false))).await {
        Ok(Ok(s)) => s,
        Ok(Err(TmuxError::NoSession(_))) => {
            panes.remove(&session);
            super::interrupt_session(state, &session, "its tmux session is gone").await;
            return;
        }
        Ok(Err(e)) => {
            tracing::warn!(session, error = %e, "cannot look at the pane");
            return;
        }
        Err(e) => {
            tracing::warn!(session, error = %e.0.message, "cannot look at the pane");
            return;
        }
    };
    let now = Instant::now();
    let fingerprint = thrum_core::ids::content_hash(&screen);
    let w = panes.entry(session.clone()).or_insert_with(|| PaneWatch {
        fingerprint: fingerprint.clone(),
        changed_at: now,
        flight: None,
    });
    if w.fingerprint != fingerprint {
        w.fingerprint = fingerprint.clone();
        w.changed_at = now;
    }
    let quiet = now.duration_since(w.changed_at) >= Duration::from_millis(head.silence_ms);
    match head.state {
        CmdState::Queued if quiet => {
            if let Some(flight) = dispatch(state, &head, fingerprint).await {
                w.flight = Some(flight);
                // The screen is about to change: quiet starts over.
                w.changed_at = Instant::now();
            }
        }
        CmdState::Sent | CmdState::TimeoutWaiting => {
            let flight = match &mut w.flight {
                Some(f) if f.id == head.id => f,
                // Typed by a dispatcher that is gone (cannot happen within
                // one run, as a restart interrupts in-flight commands);
                // watch it from here.
                _ => w.flight.insert(Flight { id: head.id.clone(), before: String::new(), sent: now, changed: true }),
            };
            if fingerprint != flight.before {
                flight.changed = true;
            }
            let elapsed = flight.sent.elapsed();
            if flight.changed && quiet {
                let output = output_now(state, &head).await;
                let done = state.tmux.queue.update(&head.id, |c| {
                    if !c.state.in_flight() {
                        return false;
                    }
                    c.state = CmdState::Completed;
                    c.output = output;
                    c.elapsed_ms = elapsed.as_millis() as i64;
                    true
                });
                w.flight = None;
                if let Some(c) = done
                    && c.notify_on_complete
                {
                    super::notify(state, &c).await;
                }
            } else if head.state == CmdState::Sent && elapsed >= Duration::from_millis(head.timeout_ms) {
                let output = output_now(state, &head).await;
                let late = state.tmux.queue.update(&head.id, |c| {
                    if c.state != CmdState::Sent {
                        return false;
                    }
                    c.state = CmdState::TimeoutWaiting;
                    c.output = output;
                    c.elapsed_ms = elapsed.as_millis() as i64;
                    true
                });
                if let Some(c) = late
                    && c.notify_on_complete
                {
                    super::notify(state, &c).await;
                }
            }
        }
        _ => {}
    }
}

/// Types `head` into its pane if that is safe now; what to watch next.
async fn dispatch(state: &State, head: &Command, before: String) -> Option<Flight> {
    let st = state.clone();
    let name = head.session.clone();
    // Checked at the moment of typing, not only when it was queued: the
    // session may have been replaced by one that is not ours.
    // Like the doorbell: only into an empty input line, with no dialog
    // or menu showing and no turn running (a person's draft or a prompt
    // must never receive a queued command).
    let safe = blocking(move || {
        let live = st.tmux.ours(&name)?;
        let pane = st.tmux.tmux.pane(&name).map_err(tmux_fail)?;
        if pane.dead {
            return Ok(false);
        }
        let seen =
            crate::tmux::look(&st.tmux.tmux, &name, crate::tmux::profile_of(&live.runtime)).map_err(tmux_fail)?.look;
        if !seen.is_safe() {
            tracing::debug!(session = name, why = %seen.reason(), "queue waits");
        }
        Ok(seen.is_safe())
    })
    .await;
    match safe {
        Ok(true) => {}
        Ok(false) => return None,
        Err(e) => {
            // Gone or not ours any more: the next look decides (a gone
            // session interrupts its commands).
            tracing::debug!(session = head.session, error = %e.0.message, "not dispatching");
            return None;
        }
    }
    // Claimed before typing, so a cancel that races the keys sees a sent
    // command (and says it may run) rather than one that silently runs.
    let sent_at = thrum_core::time::now_rfc3339();
    state.tmux.queue.update(&head.id, |c| {
        if c.state != CmdState::Queued {
            return false;
        }
        c.state = CmdState::Sent;
        c.sent_at = sent_at;
        true
    })?;
    let st = state.clone();
    let (name, text) = (head.session.clone(), head.text.clone());
    let lock = state.tmux.typing(&head.session);
    let typed = blocking(move || {
        let _typing = lock.lock().unwrap_or_else(|p| p.into_inner());
        let t = &st.tmux.tmux;
        t.send_text(&name, &text).map_err(tmux_fail)?;
        t.send_keys(&name, &["Enter"]).map_err(tmux_fail)
    })
    .await;
    if let Err(e) = typed {
        let reason = format!("it could not be typed into the pane ({})", e.0.message);
        if let Some(c) = state.tmux.queue.update(&head.id, |c| {
            c.state = CmdState::Interrupted;
            c.reason = reason;
            true
        }) {
            super::notify(state, &c).await;
        }
        return None;
    }
    tracing::debug!(session = head.session, id = head.id, "command typed");
    Some(Flight { id: head.id.clone(), before, sent: Instant::now(), changed: false })
}

/// The command's output as the pane shows it now (empty if it cannot be
/// read).
pub async fn output_now(state: &State, c: &Command) -> String {
    let st = state.clone();
    let (name, text) = (c.session.clone(), c.text.clone());
    blocking(move || Ok(st.tmux.tmux.capture(&name, HISTORY, false).map(|s| report::output_of(&s, &text))))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
}
