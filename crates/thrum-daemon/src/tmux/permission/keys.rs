//! Answering a prompt in its pane: only the prompt that was announced,
//! only with the key its reading gives, and only once it is checked to be
//! still there. Blocking (tmux calls); every key thrum presses into a
//! permission prompt is pressed here.

use std::time::{Duration, Instant};

use thrum_core::runtimes::Permission;
use thrum_tmux::prompt::{self, Answer, Prompt};
use thrum_tmux::screen::Capture;
use thrum_tmux::{Tmux, TmuxError};

use super::text::Verdict;

/// What answering did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// These keys were pressed; whether the prompt then closed.
    Pressed { keys: String, closed: bool },
    /// Another prompt shows now (its gist): nothing pressed.
    Changed(Vec<String>),
    /// No prompt shows any more: nothing pressed.
    Gone,
    /// Not safe to answer from here (why): nothing pressed, or only a
    /// selection moved and not confirmed.
    Refused(String),
}

/// How long a moved selection or a closing prompt may take to show.
const SETTLE: Duration = Duration::from_millis(1500);

/// The prompt `session` shows now, and whether the pane is in copy mode.
pub fn current(tmux: &Tmux, session: &str, p: &Permission) -> Result<(Option<Prompt>, bool), TmuxError> {
    let pane = tmux.pane(session)?;
    let capture = Capture::parse(&tmux.capture(session, 0, true)?);
    Ok((prompt::read(&capture, p), pane.in_mode))
}

/// Answers the prompt `recorded` (its id) in `session` with `verdict`.
pub fn answer(
    tmux: &Tmux,
    session: &str,
    p: &Permission,
    recorded: u64,
    verdict: Verdict,
) -> Result<Outcome, TmuxError> {
    let (now, in_mode) = current(tmux, session, p)?;
    let Some(now) = now else { return Ok(Outcome::Gone) };
    if now.id != recorded {
        return Ok(Outcome::Changed(now.gist));
    }
    if in_mode {
        return Ok(Outcome::Refused("the pane is in copy mode (keys would go to tmux)".into()));
    }
    let answer = match verdict {
        Verdict::Deny => now.deny.clone(),
        Verdict::Approve => match now.approve.clone() {
            Some(a) => a,
            None => return Ok(Outcome::Refused("no option of this prompt approves only this once".into())),
        },
    };
    let keys = answer.describe();
    match answer {
        Answer::Keys(k) => {
            let k: Vec<&str> = k.iter().map(String::as_str).collect();
            tmux.send_keys(session, &k)?;
        }
        Answer::Select { moves, label } => {
            if !moves.is_empty() {
                let m: Vec<&str> = moves.iter().map(String::as_str).collect();
                tmux.send_keys(session, &m)?;
            }
            // Enter confirms whatever is selected: only once the wanted
            // option is seen selected, on the same prompt.
            let on_it = |q: &Prompt| q.id == recorded && q.options.iter().any(|o| o.selected && o.label == label);
            if !settle(|| Ok(current(tmux, session, p)?.0.is_some_and(|q| on_it(&q))))? {
                let moved = if moves.is_empty() { "" } else { " (the selection may have moved)" };
                return Ok(Outcome::Refused(format!(
                    "could not see \"{label}\" selected, so Enter was not pressed{moved}"
                )));
            }
            tmux.send_keys(session, &["Enter"])?;
        }
    }
    let closed = settle(|| Ok(current(tmux, session, p)?.0.is_none_or(|q| q.id != recorded)))?;
    Ok(Outcome::Pressed { keys, closed })
}

/// Polls `done` until it holds or [`SETTLE`] passes.
fn settle(mut done: impl FnMut() -> Result<bool, TmuxError>) -> Result<bool, TmuxError> {
    let end = Instant::now() + SETTLE;
    loop {
        if done()? {
            return Ok(true);
        }
        if Instant::now() >= end {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(60));
    }
}
