//! Whether a repository's daemon is running, from outside it: the lock
//! it holds, on top of the PID file and liveness checks of
//! [`thrum_core::process`]. The daemon writes the PID file and holds the
//! lock; clients (the CLI's `daemon stop`, `thrum migrate`, `thrum team`)
//! only look.

use std::fs::File;
use std::path::Path;

use rustix::fs::{FlockOperation, flock};
pub use thrum_core::process::{PidInfo, pid_alive, process_running, read_pid_file};

/// The PID of the daemon that holds the repository's lock, if any. A PID
/// file whose lock is free is stale (its daemon died) and is ignored, so a
/// recycled PID never gets signalled.
pub fn running_pid(lock_path: &Path, pid_path: &Path) -> Option<i64> {
    let file = File::open(lock_path).ok()?;
    if flock(&file, FlockOperation::NonBlockingLockShared).is_ok() {
        let _ = flock(&file, FlockOperation::Unlock);
        return None;
    }
    read_pid_file(pid_path).map(|i| i.pid).filter(|p| pid_alive(*p))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder, removed when the guard drops.
    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn only_a_held_lock_makes_the_pid_count() {
        let guard = tmp();
        let d = guard.path().to_path_buf();
        let (lock, pid) = (d.join("thrum.lock"), d.join("thrum.pid"));
        std::fs::write(&pid, format!("{}\n", std::process::id())).ok();
        assert_eq!(running_pid(&lock, &pid), None, "no lock file");
        std::fs::write(&lock, "").ok();
        assert_eq!(running_pid(&lock, &pid), None, "lock free: the PID file is stale");
        let held = File::open(&lock).ok();
        assert!(held.as_ref().is_some_and(|f| flock(f, FlockOperation::NonBlockingLockExclusive).is_ok()));
        assert_eq!(running_pid(&lock, &pid), Some(i64::from(std::process::id())));
        std::fs::write(&pid, "999999999\n").ok();
        assert_eq!(running_pid(&lock, &pid), None, "lock held but the PID is gone");
        drop(held);
    }
}
