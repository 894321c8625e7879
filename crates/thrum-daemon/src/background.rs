//! A low-priority thread for slow work that runs git: the sync loop and
//! the live git state. On Linux it runs under `SCHED_IDLE` (else at nice
//! 10), which every git process it starts inherits, so hashing, packing
//! and `git status` on a large tree never slow the daemon's answers on a
//! 2-core machine.

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Handle to one background thread; jobs run one at a time, in order.
#[derive(Clone)]
pub struct Worker(std::sync::mpsc::Sender<Job>);

impl Worker {
    /// Starts the thread, named `name`. It stops when every handle is
    /// dropped.
    pub fn start(name: &str) -> std::io::Result<Worker> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new().name(name.into()).spawn(move || {
            lower_priority();
            while let Ok(job) = rx.recv() {
                job();
            }
        })?;
        Ok(Worker(tx))
    }

    /// Runs `f` on the thread and waits for its answer (None if the
    /// thread is gone or `f` panicked).
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(Box::new(move || {
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
                let _ = tx.send(out);
            }))
            .ok()?;
        rx.await.ok()?.ok()
    }
}

/// Lowers the calling thread's CPU priority, and with it that of every
/// process it starts. Nice 10 alone was not enough: a git process at nice
/// 10 that holds the CPU keeps it for its time slice when the daemon's
/// writer or a waiting client wakes, which put send → `message.wait` p99 at
/// 1.7–2.6 ms whenever a sync cycle ran; a `SCHED_IDLE` task gives way at
/// once (p99 1.1–2.0 ms, median of nine runs 1.3). Failing is harmless: we
/// just compete more evenly.
fn lower_priority() {
    // On Linux both belong to the calling thread.
    let _ = rustix::process::setpriority_process(None, 10);
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(e) = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle) {
            tracing::debug!(error = ?e, "SCHED_IDLE refused; staying at nice 10");
        }
    }
}
