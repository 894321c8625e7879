//! Live git state of every active session's worktree.
//!
//! One task looks at each worktree in turn, once for all the sessions
//! working in it: branch, commits not yet on the merge target, the files
//! they change, and the uncommitted files.
//! What it finds is recorded as an `agent.update` event only when it
//! changed, so `agent list --context`, `who-has` and peers see it.
//!
//! The cost of a look grows with the repository (`git status` stats every
//! tracked file), so each worktree is looked at again after twenty times
//! as long as its last look took, between 5 s and 2 min: a 100k-file
//! repository whose status takes 300 ms is polled every 6 s, about 5 % of
//! one core at worst, and never in a loop. A worktree that looked the same
//! as last time is looked at half as often again, up to the 2 min (twenty
//! idle agents' worktrees cost four git runs every few seconds otherwise);
//! any change brings it back to its base rate. A heartbeat asks for a look
//! sooner, but not sooner than five times the last look's duration.
//! git runs at nice 10 on its own thread (see `background`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use thrum_core::event::{AgentUpdate, CommitSummary, WorkContext};
use thrum_core::{Event, time::now_rfc3339};
use thrum_store::query;
use tokio::sync::mpsc;

use crate::state::State;

const MIN_INTERVAL: Duration = Duration::from_secs(5);
const MAX_INTERVAL: Duration = Duration::from_secs(120);
/// How often the set of active sessions is read again.
const RESCAN: Duration = Duration::from_secs(10);

/// Asks the watcher to look at a session's worktree soon.
#[derive(Clone)]
pub struct Handle(mpsc::UnboundedSender<String>);

impl Handle {
    pub fn refresh(&self, session_id: &str) {
        let _ = self.0.send(session_id.to_string());
    }
}

pub type Requests = mpsc::UnboundedReceiver<String>;

pub fn channel() -> (Handle, Requests) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Handle(tx), rx)
}

/// One worktree, and the active sessions working in it (several agents
/// may share one; it is looked at once for all of them).
struct Watched {
    sessions: Vec<String>,
    next: Instant,
    /// How long the last look took.
    cost: Duration,
    last_run: Option<Instant>,
    /// What the last look found, and how many looks in a row found it.
    last: Option<thrum_git::WorkState>,
    unchanged: u32,
}

impl Watched {
    fn interval(&self) -> Duration {
        let base = (self.cost * 20).clamp(MIN_INTERVAL, MAX_INTERVAL);
        (base * 2u32.pow(self.unchanged.min(5))).min(MAX_INTERVAL)
    }

    /// The earliest a heartbeat may bring the next look forward to.
    fn earliest(&self) -> Instant {
        let gap = (self.cost * 5).max(Duration::from_secs(1));
        self.last_run.map_or_else(Instant::now, |t| t + gap)
    }
}

/// Runs until shutdown.
pub async fn run(state: State, mut requests: Requests, merge_target: Option<String>) {
    // git runs on a low-priority thread of its own: a `git status` over
    // a big tree must neither delay requests nor wait behind a sync.
    let worker = match crate::background::Worker::start("thrum-gitwatch") {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the git state thread; live git state is off");
            return;
        }
    };
    let mut shutdown = state.shutdown.clone();
    let mut watched: HashMap<PathBuf, Watched> = HashMap::new();
    let mut rescan_at = Instant::now();
    loop {
        if Instant::now() >= rescan_at {
            rescan(&state, &mut watched);
            rescan_at = Instant::now() + RESCAN;
        }
        let now = Instant::now();
        let due: Vec<PathBuf> = watched.iter().filter(|(_, w)| w.next <= now).map(|(d, _)| d.clone()).collect();
        for dir in due {
            let Some(w) = watched.get_mut(&dir) else { continue };
            let target = merge_target.clone();
            let t = Instant::now();
            let look_dir = dir.clone();
            let looked = worker.run(move || thrum_git::work_state(&look_dir, target.as_deref())).await;
            w.cost = t.elapsed();
            w.last_run = Some(Instant::now());
            if let Some(Ok(ws)) = &looked {
                if w.last.as_ref() == Some(ws) {
                    w.unchanged = w.unchanged.saturating_add(1);
                } else {
                    (w.last, w.unchanged) = (Some(ws.clone()), 0);
                }
            }
            w.next = Instant::now() + w.interval();
            match looked {
                Some(Ok(ws)) => {
                    for session in w.sessions.clone() {
                        record(&state, &session, ws.clone()).await;
                    }
                }
                Some(Err(e)) => tracing::debug!(dir = %dir.display(), error = %e, "git state unavailable"),
                None => tracing::warn!("git state look failed (the thread stopped or panicked)"),
            }
        }
        let next = watched.values().map(|w| w.next).min().unwrap_or(rescan_at).min(rescan_at);
        tokio::select! {
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    return;
                }
            }
            req = requests.recv() => match req {
                Some(session) => {
                    if !watched.values().any(|w| w.sessions.contains(&session)) {
                        rescan(&state, &mut watched);
                    }
                    if let Some(w) = watched.values_mut().find(|w| w.sessions.contains(&session)) {
                        w.next = w.next.min(w.earliest());
                    }
                }
                None => return,
            },
            _ = tokio::time::sleep_until(next.into()) => {}
        }
    }
}

/// Brings the watched set in line with the active sessions whose
/// worktree is on this machine.
fn rescan(state: &State, watched: &mut HashMap<PathBuf, Watched>) {
    let Ok(contexts) = state.read(|r| Ok(query::contexts(r, None)?)) else { return };
    for w in watched.values_mut() {
        w.sessions.clear();
    }
    for c in contexts {
        let dir = PathBuf::from(&c.worktree_path);
        if c.worktree_path.is_empty() || !dir.join(".git").exists() {
            continue;
        }
        watched
            .entry(dir)
            .or_insert(Watched {
                sessions: Vec::new(),
                next: Instant::now(),
                cost: Duration::ZERO,
                last_run: None,
                last: None,
                unchanged: 0,
            })
            .sessions
            .push(c.session_id);
    }
    watched.retain(|_, w| !w.sessions.is_empty());
}

/// Writes the new state as an `agent.update`, unless nothing changed.
async fn record(state: &State, session: &str, ws: thrum_git::WorkState) {
    let session = session.to_string();
    let result = state
        .writer
        .submit(move |c| {
            let Some(s) = query::session(c, &session)? else { return Ok((Vec::new(), Value::Null)) };
            if !s.ended_at.is_empty() {
                return Ok((Vec::new(), Value::Null));
            }
            let mut wc = query::work_context(c, &session)?
                .unwrap_or_else(|| WorkContext { session_id: session.clone(), ..Default::default() });
            let commits: Vec<CommitSummary> =
                ws.unmerged_commits.into_iter().map(|c| CommitSummary { sha: c.sha, message: c.subject }).collect();
            let branch = if ws.branch.is_empty() { wc.branch.clone() } else { ws.branch };
            if wc.branch == branch
                && wc.unmerged_commits == commits
                && wc.changed_files == ws.changed_files
                && wc.uncommitted_files == ws.uncommitted_files
            {
                return Ok((Vec::new(), Value::Null));
            }
            wc.branch = branch;
            wc.unmerged_commits = commits;
            wc.changed_files = ws.changed_files;
            wc.uncommitted_files = ws.uncommitted_files;
            wc.git_updated_at = now_rfc3339();
            let ev = Event::new(
                "agent.update",
                &AgentUpdate { agent_id: s.agent_id, work_contexts: vec![wc], ..Default::default() },
            );
            Ok((vec![ev], Value::Null))
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = ?e, "could not record git state");
    }
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn an_unchanged_worktree_is_looked_at_less_and_less_often() {
        let w = |cost_ms: u64, unchanged: u32| Watched {
            sessions: Vec::new(),
            next: Instant::now(),
            cost: Duration::from_millis(cost_ms),
            last_run: None,
            last: None,
            unchanged,
        };
        let secs: Vec<u64> = (0..7).map(|n| w(10, n).interval().as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 120, 120]);
        // A slow repository starts from its own base rate.
        assert_eq!(w(600, 0).interval().as_secs(), 12);
        assert_eq!(w(600, 2).interval().as_secs(), 48);
    }
}
