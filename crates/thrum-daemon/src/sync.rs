//! The git sync loop: moves the event log between clones through the
//! repository's ordinary remote, on the `a-sync` branch.
//!
//! A cycle: take `.thrum/var/sync.lock`; fetch `a-sync`; merge what the
//! remote has that we lack (the store's union by event_id — never a git
//! text merge) and project it; commit the worktree with plumbing (the
//! remote tip as a second parent, so the push fast-forwards); push; on a
//! rejection fetch, merge and retry with backoff. The merge and commit run
//! as an exclusive writer job, so no append interleaves with git reading
//! the files; fetch and push run outside it.
//!
//! Triggers: at start, a debounce after local writes, `sync.force`, and a
//! periodic timer. In local-only mode (or with no remote) nothing is
//! fetched or pushed, but the worktree is still committed locally.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use thrum_core::Event;
use thrum_git::Git;
use thrum_git::sync::{self as gsync, Push};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};

use crate::error::{Fail, server};
use crate::state::State;

/// What `sync.status` reports.
pub use thrum_proto::methods::system::SyncInfo as SyncStatus;

/// A request to the sync task.
pub enum Cmd {
    /// Run a cycle now; optionally report the status after it.
    Run(Option<oneshot::Sender<SyncStatus>>),
}

/// A cheap handle to the sync task.
#[derive(Clone)]
pub struct SyncHandle {
    tx: mpsc::UnboundedSender<Cmd>,
    status: Arc<Mutex<SyncStatus>>,
}

impl SyncHandle {
    pub fn status(&self) -> SyncStatus {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Asks for a cycle now; with `wait`, returns the status after it.
    pub async fn force(&self, wait: bool) -> Result<SyncStatus, Fail> {
        if !wait {
            self.tx.send(Cmd::Run(None)).map_err(|_| server("the sync loop is not running"))?;
            return Ok(self.status());
        }
        let (tx, rx) = oneshot::channel();
        self.tx.send(Cmd::Run(Some(tx))).map_err(|_| server("the sync loop is not running"))?;
        rx.await.map_err(|_| server("the sync loop stopped before finishing"))
    }
}

/// Timing of the loop.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub interval: Duration,
    pub debounce: Duration,
    /// How often to ask the remote (cheaply, `git ls-remote`) whether its
    /// branch moved, so another clone's message arrives in seconds rather
    /// than at the next full cycle. Zero turns it off.
    pub remote_poll: Duration,
}

/// Creates the handle; `run` drives it.
pub fn handle(local_only: bool, remote: Option<String>, timing: Timing) -> (SyncHandle, mpsc::UnboundedReceiver<Cmd>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let status = SyncStatus {
        mode: if local_only { "local-only".into() } else { "normal".into() },
        local_only,
        remote: remote.unwrap_or_default(),
        sync_state: "idle".into(),
        interval_s: timing.interval.as_secs(),
        debounce_ms: timing.debounce.as_millis() as u64,
        remote_poll_ms: timing.remote_poll.as_millis() as u64,
        ..Default::default()
    };
    (SyncHandle { tx, status: Arc::new(Mutex::new(status)) }, rx)
}

/// The loop: runs until shutdown.
pub async fn run(state: State, mut rx: mpsc::UnboundedReceiver<Cmd>, timing: Timing) {
    let worker = match crate::background::Worker::start("thrum-sync") {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the sync thread; sync is off");
            set(&state, |s| {
                s.sync_state = "error".into();
                s.last_error = format!("cannot start the sync thread: {e}");
                s.last_error_hint = "restart the daemon".into();
            });
            return;
        }
    };
    let mut timer = tokio::time::interval(timing.interval);
    // A slow cycle must not cause a burst of catch-up cycles.
    timer.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut feed = state.feed.subscribe();
    let mut shutdown = state.shutdown.clone();
    let me = state.identity.daemon_id.clone();
    let mut due: Option<Instant> = None;
    let mut waiters: Vec<oneshot::Sender<SyncStatus>> = Vec::new();
    let poll_every =
        if timing.remote_poll.is_zero() { Duration::from_secs(3600 * 24 * 365) } else { timing.remote_poll };
    let mut poll = tokio::time::interval_at(Instant::now() + poll_every, poll_every);
    poll.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut local_since_push: u64 = 0;
    // Pacing: a cycle re-hashes (and pushes) every shard that changed, so
    // under a heavy write load cycles are spaced to keep git's share of the
    // CPU near a fifth: the next event-triggered cycle waits at least four
    // times as long as the last one took (never more than 30 s).
    let mut rest_until = Instant::now();
    let paced = |rest_until: Instant| {
        let earliest = Instant::now() + timing.debounce;
        Some(earliest.max(rest_until).min(Instant::now() + Duration::from_secs(30)))
    };
    loop {
        let sleep = async {
            match due {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = shutdown.changed() => break,
            // The first tick is immediate: the initial sync at start.
            _ = timer.tick() => due = Some(Instant::now()),
            _ = poll.tick(), if due.is_none() && !timing.remote_poll.is_zero() => {
                let st = state.clone();
                let moved = worker.run(move || remote_moved(&st)).await.unwrap_or(false);
                if moved {
                    due = Some(Instant::now());
                }
            }
            cmd = rx.recv() => match cmd {
                Some(Cmd::Run(reply)) => {
                    due = Some(Instant::now());
                    waiters.extend(reply);
                }
                None => break,
            },
            got = feed.recv() => match got {
                Ok(events) => {
                    let local = events.iter().filter(|e| e.origin_daemon() == me).count() as u64;
                    local_since_push += local;
                    if local > 0 && due.is_none() {
                        due = paced(rest_until);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if due.is_none() {
                        due = paced(rest_until);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
            _ = sleep => {
                due = None;
                set(&state, |s| { s.running = true; if s.sync_state != "error" { s.sync_state = "syncing".into(); } });
                let started = std::time::Instant::now();
                let st = state.clone();
                let rt = tokio::runtime::Handle::current();
                let outcome = worker.run(move || cycle(&st, &rt)).await.ok_or("the sync thread stopped or panicked");
                let took = started.elapsed();
                rest_until = Instant::now() + took * 4;
                let elapsed = took.as_millis() as u64;
                let pushed = local_since_push;
                set(&state, |s| {
                    s.running = false;
                    s.cycles += 1;
                    s.last_cycle_ms = elapsed;
                    s.last_sync_at = thrum_core::time::now_rfc3339();
                    match &outcome {
                        Ok(Ok(r)) => {
                            s.last_pulled = r.pulled;
                            s.pulled_total += r.pulled;
                            if r.pushed {
                                s.last_pushed = pushed;
                                s.pushed_total += pushed;
                            } else {
                                s.last_pushed = 0;
                            }
                            if !r.merged.is_empty() {
                                s.last_merged = r.merged.clone();
                            }
                            match &r.warning {
                                Some((e, hint)) => {
                                    s.last_result = "error".into();
                                    s.sync_state = "error".into();
                                    s.last_error = e.clone();
                                    s.last_error_hint = hint.clone();
                                }
                                None => {
                                    s.last_result = "ok".into();
                                    s.sync_state = if s.local_only || s.remote.is_empty() { "local".into() } else { "synced".into() };
                                    s.last_error.clear();
                                    s.last_error_hint.clear();
                                }
                            }
                        }
                        Ok(Err((e, hint))) => {
                            s.last_result = "error".into();
                            s.sync_state = "error".into();
                            s.last_error = e.clone();
                            s.last_error_hint = hint.clone();
                        }
                        Err(e) => {
                            s.last_result = "error".into();
                            s.sync_state = "error".into();
                            s.last_error = format!("sync cycle crashed: {e}");
                            s.last_error_hint = "see .thrum/var/daemon.log".into();
                        }
                    }
                });
                if matches!(&outcome, Ok(Ok(r)) if r.pushed) {
                    local_since_push = local_since_push.saturating_sub(pushed);
                }
                if let Ok(Err((e, _))) | Ok(Ok(CycleReport { warning: Some((e, _)), .. })) = &outcome {
                    tracing::warn!(error = %e, "sync cycle");
                }
                let status = state.sync.status();
                for w in waiters.drain(..) {
                    let _ = w.send(status.clone());
                }
            }
        }
    }
}

/// Whether the remote's branch differs from what we last merged (and is
/// not simply our own last push).
fn remote_moved(state: &State) -> bool {
    let st = state.sync.status();
    if st.local_only || st.remote.is_empty() {
        return false;
    }
    let wt = Git::new(&state.log_dir).with_timeout(Duration::from_secs(10));
    let Ok(Some(head)) = gsync::remote_head(&wt) else { return false };
    if head == st.last_merged {
        return false;
    }
    let ours = wt.run(&["rev-parse", "--verify", "--quiet", "HEAD"]).unwrap_or_default();
    head != ours
}

fn set(state: &State, f: impl FnOnce(&mut SyncStatus)) {
    let mut g = state.sync.status.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut g);
}

/// What one cycle did.
#[derive(Debug, Default)]
pub struct CycleReport {
    pub pulled: u64,
    pub pushed: bool,
    pub merged: String,
    /// A problem that did not stop local work (offline, rejected push).
    pub warning: Option<(String, String)>,
}

type CycleError = (String, String);

/// One cycle, on a blocking thread.
fn cycle(state: &State, rt: &tokio::runtime::Handle) -> Result<CycleReport, CycleError> {
    let lock_path = state.layout.var_dir().join("sync.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| (format!("{}: {e}", lock_path.display()), "check the permissions of .thrum/var".into()))?;
    // Held by another cycle (or another process): skip this one. The
    // kernel drops the lock of a dead process, so a stale lock never blocks.
    if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        return Ok(CycleReport::default());
    }
    let wt_path = state.log_dir.clone();
    let wt = Git::new(&wt_path).with_timeout(Duration::from_secs(60));
    if wt_path.join(".git").exists() {
        let branch = gsync::current_branch(&wt_path);
        if branch != thrum_git::SYNC_BRANCH {
            return Err((
                format!(
                    "the sync worktree {} is on branch {branch:?}, not a-sync; refusing to sync",
                    wt_path.display()
                ),
                "restart the daemon (it repairs the worktree) or run `thrum init`".into(),
            ));
        }
    } else {
        // Not a git repository: nothing to sync.
        return Ok(CycleReport::default());
    }
    let networked = !state.sync.status().local_only && !state.sync.status().remote.is_empty();
    let mut report = CycleReport::default();
    let mut last_merged = state.sync.status().last_merged;
    for attempt in 0..4u32 {
        let mut remote_sha = None;
        if networked {
            match gsync::fetch(&wt) {
                Ok(s) => remote_sha = s,
                Err(e) => {
                    report.warning = Some((
                        format!("git fetch origin a-sync failed: {e}"),
                        "check the remote (`git remote -v`), the network and your credentials; messages are kept locally and sent on the next successful sync".into(),
                    ));
                }
            }
        }
        // Read what the remote added since the last merge, outside the writer.
        let mut incoming: Vec<(String, Event)> = Vec::new();
        let mut contexts: Vec<(String, Vec<u8>)> = Vec::new();
        if let Some(r) = remote_sha.as_ref().filter(|r| **r != last_merged) {
            let since = (!last_merged.is_empty()).then_some(last_merged.as_str());
            let paths = gsync::shard_paths(&wt, r, since).map_err(git_err)?;
            for (path, bytes) in gsync::read_files(&wt, r, &paths).map_err(git_err)? {
                let read = thrum_store::log::parse_lines(&bytes, 0);
                incoming.extend(read.lines.into_iter().map(|l| (path.clone(), l.event)));
            }
            // Context files the remote changed since our last merge: the
            // newer copy (theirs) wins.
            let cpaths = gsync::context_paths(&wt, r, since).map_err(git_err)?;
            contexts = gsync::read_files(&wt, r, &cpaths).map_err(git_err)?;
        }
        // Only the merge itself needs the writer to stand still; committing
        // runs beside ongoing writes (git may catch a half-written last line,
        // which readers skip as torn and the next commit completes).
        let pulled = if incoming.is_empty() {
            serde_json::Value::from(0)
        } else {
            rt.block_on(state.writer.exclusive(move |store| {
                let fresh = store.merge_remote(incoming)?;
                let n = fresh.len();
                Ok((json!(n), fresh))
            }))
            .map_err(|f| (f.0.message, "see .thrum/var/daemon.log".to_string()))?
        };
        for (path, bytes) in &contexts {
            let target = wt.dir().join(path);
            if let Some(dir) = target.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            crate::lifecycle::write_private(&target, bytes)
                .map_err(|e| (e.to_string(), "check .git/thrum-sync".into()))?;
        }
        let msg = format!(
            "sync: {} from {} at {}{}",
            match pulled.as_u64().unwrap_or(0) {
                0 => "local events".to_string(),
                n => format!("merged {n} remote events"),
            },
            state.identity.hostname,
            thrum_core::time::now_rfc3339(),
            if remote_sha.is_some() || !networked { "" } else { " (no remote branch yet)" }
        );
        let committed = gsync::commit(&wt, &msg, remote_sha.as_deref()).map_err(|e| {
            (format!("git commit in the sync worktree failed: {e}"), "see .thrum/var/daemon.log".to_string())
        })?;
        report.pulled += pulled.as_u64().unwrap_or(0);
        if let Some(r) = &remote_sha {
            last_merged = r.clone();
            report.merged = r.clone();
        }
        if !networked || report.warning.is_some() {
            break;
        }
        match gsync::push(&wt) {
            Ok(Push::Done) => {
                report.pushed = true;
                // The remote now holds exactly our commit, and everything in
                // it is already in our store: count it as merged, or the
                // next cycle would read back (and re-check) every event we
                // just pushed, a cost that grows with the log.
                let pushed = committed.or_else(|| wt.run(&["rev-parse", "--verify", "--quiet", "HEAD"]).ok());
                if let Some(sha) = pushed.filter(|s| !s.is_empty()) {
                    report.merged = sha;
                }
                break;
            }
            Ok(Push::Rejected(why)) => {
                if attempt == 3 {
                    report.warning = Some((
                        format!("git push origin a-sync was rejected 4 times: {why}"),
                        "another clone keeps pushing; the next cycle retries (`thrum sync force`)".into(),
                    ));
                    break;
                }
                // Someone pushed first: back off a little, fetch, merge, retry.
                let jitter = u64::from(std::process::id() % 50);
                std::thread::sleep(Duration::from_millis(100 * (1 << attempt) + jitter));
            }
            Err(e) => {
                report.warning = Some((
                    format!("git push origin a-sync failed: {e}"),
                    "check push access to the remote and your credentials; messages stay local until a push succeeds"
                        .into(),
                ));
                break;
            }
        }
    }
    drop(lock);
    Ok(report)
}

fn git_err(e: thrum_git::GitError) -> CycleError {
    (format!("{e}"), "check the sync worktree with `git -C .git/thrum-sync/a-sync status`".into())
}
