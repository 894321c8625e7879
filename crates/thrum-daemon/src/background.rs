//! A low-priority thread for slow work that runs git: the sync loop and
//! the live git state. It runs at nice 10, which every git process it
//! starts inherits, so hashing, packing and `git status` on a large tree
//! never slow the daemon's answers on a 2-core machine.

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
            // On Linux the nice value belongs to the calling thread. Failing
            // to lower our priority is harmless: we just compete evenly.
            let _ = rustix::process::setpriority_process(None, 10);
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
