//! The single writer: one thread owns the [`Store`] and commits jobs in
//! batches (group commit).
//!
//! Handlers send a job (a closure that validates against the current
//! state and returns the events to write) and await its result. The
//! thread takes every job that is waiting, commits them together with one
//! log fsync, answers each, then publishes the committed events to
//! subscribers. Under load many requests share one fsync; idle, a lone
//! request is committed at once.

use std::any::Any;
use std::sync::Arc;

use thrum_core::Event;
use thrum_store::Db as Connection;
use thrum_store::{JobResult, Store};
use tokio::sync::{broadcast, oneshot};

use crate::error::{Fail, HResult};

/// A job's value, whatever its type: `submit` hands it back to the caller
/// that knows it.
type Output = Box<dyn Any + Send>;
type BatchFn = Box<dyn FnOnce(&Connection) -> JobResult<Output, Fail> + Send>;
type ExclusiveFn = Box<dyn FnOnce(&mut Store) -> HResult<(Output, Vec<Event>)> + Send>;

enum Job {
    Batch(BatchFn, oneshot::Sender<HResult<Output>>),
    /// Needs the whole store (rewrites shards); runs alone.
    Exclusive(ExclusiveFn, oneshot::Sender<HResult<Output>>),
}

/// Most jobs committed under one fsync.
const MAX_BATCH: usize = 1024;

/// A cheap handle for submitting jobs to the writer thread.
#[derive(Clone)]
pub struct Writer {
    tx: std::sync::mpsc::Sender<Job>,
}

/// Committed events, published after every commit.
pub type EventFeed = broadcast::Sender<Arc<[Event]>>;

impl Writer {
    /// Starts the writer thread. It stops when every handle is dropped,
    /// after finishing the jobs already queued.
    pub fn start(mut store: Store, feed: EventFeed) -> (Writer, std::thread::JoinHandle<()>) {
        // A std channel: sending never blocks (unbounded) and needs no
        // runtime on the writer's side.
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let handle = std::thread::Builder::new()
            .name("thrum-writer".into())
            .spawn(move || {
                // Dropped when this thread ends, which stops the checkpointer.
                let checkpointer = start_checkpointer(&store);
                let mut pending: Option<Job> = None;
                loop {
                    let first = match pending.take() {
                        Some(j) => j,
                        None => match rx.recv() {
                            Ok(j) => j,
                            Err(_) => break,
                        },
                    };
                    match first {
                        Job::Exclusive(f, reply) => {
                            let out = f(&mut store).map(|(v, events)| {
                                if !events.is_empty() {
                                    let _ = feed.send(events.into());
                                }
                                v
                            });
                            let _ = reply.send(out);
                        }
                        Job::Batch(f, reply) => {
                            let mut fns = vec![f];
                            let mut replies = vec![reply];
                            while fns.len() < MAX_BATCH {
                                match rx.try_recv() {
                                    Ok(Job::Batch(f, r)) => {
                                        fns.push(f);
                                        replies.push(r);
                                    }
                                    Ok(ex @ Job::Exclusive(..)) => {
                                        pending = Some(ex);
                                        break;
                                    }
                                    Err(_) => break,
                                }
                            }
                            let (results, committed) = store.commit_batch(fns);
                            for (r, reply) in results.into_iter().zip(replies) {
                                let _ = reply.send(r);
                            }
                            if !committed.is_empty() {
                                let _ = feed.send(committed.into());
                            }
                        }
                    }
                    // The background checkpointer keeps the WAL small; only
                    // one it could not restart under constant load is
                    // folded back here.
                    checkpoint(&mut store, thrum_store::MAX_WAL);
                    if let Some(c) = &checkpointer {
                        // Full means a wake-up is already pending.
                        let _ = c.try_send(());
                    }
                }
                tracing::info!("writer stopped");
            })
            .unwrap_or_else(|e| panic!("cannot start the writer thread: {e}"));
        (Writer { tx }, handle)
    }

    /// Runs `f` in the next batch and returns its value once the events
    /// it produced are durable.
    pub async fn submit<T, F>(&self, f: F) -> HResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> JobResult<T, Fail> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: BatchFn = Box::new(move |c| f(c).map(|(events, v)| (events, Box::new(v) as Output)));
        self.tx.send(Job::Batch(job, tx)).map_err(|_| shutting_down())?;
        typed(rx.await.map_err(|_| shutting_down())??)
    }

    /// Runs `f` alone with the whole store.
    pub async fn exclusive<T, F>(&self, f: F) -> HResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> HResult<(T, Vec<Event>)> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: ExclusiveFn = Box::new(move |s| f(s).map(|(v, events)| (Box::new(v) as Output, events)));
        self.tx.send(Job::Exclusive(job, tx)).map_err(|_| shutting_down())?;
        typed(rx.await.map_err(|_| shutting_down())??)
    }
}

/// How often the checkpointer looks at the WAL while it has something to
/// fold back.
const POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Runs the background checkpointer until the returned sender is dropped.
/// The writer pokes it after every commit; it folds the WAL back once it
/// passes `BUSY_WAL`, or `IDLE_WAL` when it stopped growing (writes paused),
/// and then truncates a WAL file a burst left large. It looks once more
/// 20 ms after the last poke, so an idle daemon never wakes for it.
fn start_checkpointer(store: &Store) -> Option<std::sync::mpsc::SyncSender<()>> {
    use std::sync::mpsc::RecvTimeoutError;
    let cp = match store.checkpointer() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no background checkpointer; the writer checkpoints alone");
            return None;
        }
    };
    let (poke, poked) = std::sync::mpsc::sync_channel::<()>(1);
    let spawned = std::thread::Builder::new().name("thrum-checkpoint".into()).spawn(move || {
        let mut last = cp.wal_size();
        // Nothing to watch until the writer pokes again: every frame was
        // copied back, or writes paused with nothing worth folding back.
        let mut settled = false;
        loop {
            let waited = if settled {
                poked.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                poked.recv_timeout(POLL)
            };
            match waited {
                Err(RecvTimeoutError::Disconnected) => break,
                Ok(()) => settled = false,
                Err(RecvTimeoutError::Timeout) => {}
            }
            let size = cp.wal_size();
            let quiet = size == last;
            last = size;
            // Writes paused: fold back what the WAL holds, and give back
            // the file a burst grew (even when it holds little now).
            let idle_work = quiet && (size > thrum_store::IDLE_WAL || cp.wal_file_large());
            if !(size > thrum_store::BUSY_WAL || idle_work) {
                settled = quiet;
                continue;
            }
            {
                match cp.checkpoint() {
                    Ok(all) => {
                        settled = all;
                        // Writes paused: give back what a burst grew.
                        if all
                            && quiet
                            && let Err(e) = cp.truncate_if_large()
                        {
                            tracing::debug!(error = %e, "WAL truncate put off to the next pause");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retried later"),
                }
            }
        }
    });
    match spawned {
        Ok(_) => Some(poke),
        Err(e) => {
            tracing::warn!(error = %e, "no background checkpointer; the writer checkpoints alone");
            None
        }
    }
}

fn checkpoint(store: &mut Store, above: u64) {
    if let Err(e) = store.checkpoint_wal(above) {
        tracing::warn!(error = %e, "WAL checkpoint failed; retried later");
    }
}

/// The job's value as the type its closure returned (the same `T` the
/// job was built with, so this cannot fail in practice).
fn typed<T: 'static>(v: Output) -> HResult<T> {
    v.downcast::<T>()
        .map(|b| *b)
        .map_err(|_| crate::error::Fail(thrum_proto::RpcError::internal("writer job returned an unexpected type")))
}

fn shutting_down() -> Fail {
    crate::error::server("the daemon is shutting down: retry in a moment")
}
