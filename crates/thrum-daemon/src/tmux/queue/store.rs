//! The queue's state: the commands not finished yet, in submission order
//! (FIFO per session falls out of it), and the recently finished ones.
//!
//! Unfinished commands are written to `var/tmux-queue.json` on every
//! change (atomically, through `write_private`), so a restart finds them:
//! queued ones are dispatched again, in-flight ones are reported
//! interrupted (nobody knows how far they got). The daemon keeps no SQL of
//! its own, so this is a file, not a table. Finished commands stay in
//! memory only, for `queue-wait` and `cancel` to answer about them.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use thrum_proto::methods::tmux::{QueueWaitResult, QueuedCommand};
use tokio::sync::{Notify, watch};

use crate::error::{HResult, server};

/// How many finished commands are remembered (for `queue-wait` and
/// `cancel` after the fact).
const KEEP_DONE: usize = 256;

/// Where a command is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmdState {
    Queued,
    Sent,
    Completed,
    /// Still running past its timeout: it stays active (the pane is busy)
    /// until it goes quiet, is cancelled or is interrupted.
    TimeoutWaiting,
    Cancelled,
    Interrupted,
}

impl CmdState {
    pub fn as_str(self) -> &'static str {
        match self {
            CmdState::Queued => "queued",
            CmdState::Sent => "sent",
            CmdState::Completed => "completed",
            CmdState::TimeoutWaiting => "timeout_waiting",
            CmdState::Cancelled => "cancelled",
            CmdState::Interrupted => "interrupted",
        }
    }

    pub fn finished(self) -> bool {
        matches!(self, CmdState::Completed | CmdState::Cancelled | CmdState::Interrupted)
    }

    /// Typed into the pane and not finished.
    pub fn in_flight(self) -> bool {
        matches!(self, CmdState::Sent | CmdState::TimeoutWaiting)
    }
}

/// One queued command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub id: String,
    pub session: String,
    pub text: String,
    pub requester: String,
    pub state: CmdState,
    pub silence_ms: u64,
    pub timeout_ms: u64,
    pub notify_on_complete: bool,
    pub submitted_at: String,
    #[serde(default)]
    pub sent_at: String,
    /// What the pane showed below the command (finished, or at timeout).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    #[serde(default)]
    pub elapsed_ms: i64,
    /// Why it was interrupted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl Command {
    pub fn wire(&self) -> QueuedCommand {
        QueuedCommand {
            id: self.id.clone(),
            text: self.text.clone(),
            requester_agent: self.requester.clone(),
            state: self.state.as_str().into(),
            silence_ms: self.silence_ms,
            timeout_ms: self.timeout_ms,
            notify_on_complete: self.notify_on_complete,
            submitted_at: self.submitted_at.clone(),
            sent_at: self.sent_at.clone(),
        }
    }

    pub fn result(&self) -> QueueWaitResult {
        QueueWaitResult {
            command_id: self.id.clone(),
            state: self.state.as_str().into(),
            output: self.output.clone(),
            elapsed_ms: self.elapsed_ms,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    commands: Vec<Command>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Unfinished, in submission order.
    pending: Vec<Command>,
    done: VecDeque<Command>,
    /// Interrupted by the restart, not announced yet.
    restarted: Vec<Command>,
}

/// The daemon's command queue (all sessions).
pub struct Queue {
    path: PathBuf,
    inner: Mutex<Inner>,
    /// Wakes the dispatcher: a command was queued.
    pub wake: Notify,
    /// Bumped on every change; `queue-wait` watches it.
    changed: watch::Sender<u64>,
}

impl Queue {
    /// The queue saved in `var_dir`: queued commands come back as they
    /// were, in-flight ones as interrupted (announced by the dispatcher
    /// when it starts). An unreadable file is set aside, not lost.
    pub fn load(var_dir: &Path) -> Queue {
        let path = var_dir.join("tmux-queue.json");
        let mut inner = Inner::default();
        match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<File>(&bytes) {
                Ok(f) => {
                    for mut c in f.commands {
                        if c.state.in_flight() {
                            c.state = CmdState::Interrupted;
                            c.reason = "the daemon restarted while it ran".into();
                            inner.restarted.push(c);
                        } else if c.state == CmdState::Queued {
                            inner.pending.push(c);
                        }
                    }
                }
                Err(e) => {
                    let aside = var_dir.join(format!("tmux-queue.json.bad-{}", std::process::id()));
                    let _ = std::fs::rename(&path, &aside);
                    tracing::warn!(error = %e, saved = %aside.display(), "the tmux queue file is not valid; starting with an empty queue");
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, path = %path.display(), "cannot read the tmux queue file"),
        }
        let rewrite = !inner.restarted.is_empty();
        let q = Queue { path, inner: Mutex::new(inner), wake: Notify::new(), changed: watch::channel(0).0 };
        // Written now, so a second restart does not report them again.
        if rewrite && let Err(e) = q.save(&q.lock()) {
            tracing::warn!(error = %e.0.message, "cannot rewrite the tmux queue file");
        }
        q
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self, inner: &Inner) -> HResult<()> {
        let f = File { commands: inner.pending.clone() };
        let bytes = serde_json::to_vec_pretty(&f).map_err(|e| server(e.to_string()))?;
        crate::lifecycle::write_private(&self.path, &bytes)
            .map_err(|e| server(format!("cannot save the tmux queue: {e}")))
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Adds a command at the end of its session's queue; its position
    /// there (1 = next, counting the one running). Nothing changes if the
    /// file cannot be written.
    pub fn push(&self, cmd: Command) -> HResult<i64> {
        let mut inner = self.lock();
        let session = cmd.session.clone();
        inner.pending.push(cmd);
        if let Err(e) = self.save(&inner) {
            inner.pending.pop();
            return Err(e);
        }
        let position = inner.pending.iter().filter(|c| c.session == session).count() as i64;
        drop(inner);
        self.bump();
        self.wake.notify_one();
        Ok(position)
    }

    /// A command, finished or not.
    pub fn get(&self, id: &str) -> Option<Command> {
        let inner = self.lock();
        inner.pending.iter().chain(inner.done.iter().rev()).find(|c| c.id == id).cloned()
    }

    /// A session's unfinished commands, the running one first.
    pub fn session(&self, session: &str) -> Vec<Command> {
        self.lock().pending.iter().filter(|c| c.session == session).cloned().collect()
    }

    /// Sessions with unfinished commands, in order of their oldest one.
    pub fn busy(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.lock().pending {
            if !out.contains(&c.session) {
                out.push(c.session.clone());
            }
        }
        out
    }

    /// Changes an unfinished command if `change` agrees (it returns
    /// false to leave it alone, e.g. when it was cancelled meanwhile); a
    /// command that ends up finished moves to the finished list. The
    /// command as changed, or `None` if it was not pending or not changed.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Command) -> bool) -> Option<Command> {
        let mut inner = self.lock();
        let i = inner.pending.iter().position(|c| c.id == id)?;
        let before = inner.pending[i].clone();
        if !change(&mut inner.pending[i]) {
            return None;
        }
        let after = inner.pending[i].clone();
        if after.state.finished() {
            inner.pending.remove(i);
            remember(&mut inner.done, after.clone());
        }
        if let Err(e) = self.save(&inner) {
            // The change stands in memory (the pane already saw it); the
            // file catches up on the next write.
            tracing::warn!(error = %e.0.message, "cannot save the tmux queue");
        }
        drop(inner);
        if before != after {
            self.bump();
        }
        Some(after)
    }

    /// Interrupts every unfinished command of a session (killed, or gone).
    pub fn interrupt_session(&self, session: &str, reason: &str) -> Vec<Command> {
        let mut inner = self.lock();
        let (gone, keep): (Vec<Command>, Vec<Command>) =
            std::mem::take(&mut inner.pending).into_iter().partition(|c| c.session == session);
        inner.pending = keep;
        let mut out = Vec::new();
        for mut c in gone {
            c.state = CmdState::Interrupted;
            c.reason = reason.to_string();
            remember(&mut inner.done, c.clone());
            out.push(c);
        }
        if !out.is_empty() {
            if let Err(e) = self.save(&inner) {
                tracing::warn!(error = %e.0.message, "cannot save the tmux queue");
            }
            drop(inner);
            self.bump();
        }
        out
    }

    /// The commands the restart interrupted, once (for their notices).
    pub fn take_restarted(&self) -> Vec<Command> {
        let mut inner = self.lock();
        let out = std::mem::take(&mut inner.restarted);
        for c in &out {
            remember(&mut inner.done, c.clone());
        }
        out
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

fn remember(done: &mut VecDeque<Command>, c: Command) {
    if done.len() >= KEEP_DONE {
        done.pop_front();
    }
    done.push_back(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(id: &str, session: &str) -> Command {
        Command {
            id: id.into(),
            session: session.into(),
            text: "make test".into(),
            requester: "alice".into(),
            state: CmdState::Queued,
            silence_ms: 5000,
            timeout_ms: 120_000,
            notify_on_complete: true,
            submitted_at: "t".into(),
            sent_at: String::new(),
            output: String::new(),
            elapsed_ms: 0,
            reason: String::new(),
        }
    }

    #[test]
    fn positions_are_per_session_and_a_restart_keeps_queued_and_interrupts_in_flight() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let q = Queue::load(dir.path());
        assert_eq!(q.push(cmd("cmd_1", "a")).ok(), Some(1));
        assert_eq!(q.push(cmd("cmd_2", "b")).ok(), Some(1));
        assert_eq!(q.push(cmd("cmd_3", "a")).ok(), Some(2));
        assert_eq!(q.busy(), vec!["a".to_string(), "b".to_string()]);
        let sent = q.update("cmd_1", |c| {
            c.state = CmdState::Sent;
            true
        });
        assert_eq!(sent.map(|c| c.state), Some(CmdState::Sent));
        // A change refused leaves the command alone.
        assert!(q.update("cmd_3", |_| false).is_none());

        let again = Queue::load(dir.path());
        let restarted = again.take_restarted();
        assert_eq!(restarted.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["cmd_1"]);
        assert_eq!(restarted[0].state, CmdState::Interrupted);
        assert_eq!(again.session("a").iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["cmd_3"]);
        assert_eq!(again.get("cmd_1").map(|c| c.state), Some(CmdState::Interrupted));
        // The file no longer holds the interrupted command.
        assert!(Queue::load(dir.path()).take_restarted().is_empty());

        let gone = again.interrupt_session("a", "killed");
        assert_eq!(gone.len(), 1);
        assert_eq!(again.busy(), vec!["b".to_string()]);
    }

    #[test]
    fn a_broken_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("tmux-queue.json"), "{not json").unwrap_or_else(|e| panic!("{e}"));
        let q = Queue::load(dir.path());
        assert!(q.busy().is_empty());
        assert!(!dir.path().join("tmux-queue.json").exists());
    }
}
