//! Process ownership of a repository: the `thrum.lock` flock, the JSON
//! PID file and the socket file.
//!
//! The flock is what really guarantees one daemon per repository: the
//! kernel drops it when the process dies, even by SIGKILL, so a crashed
//! daemon never blocks the next start. The PID file is for humans and for
//! `daemon stop`. Reading them from outside (is a daemon running, which
//! PID) is the client's side: `thrum_core::process` and `thrum_client::pidfile`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};
use thrum_core::process::{PidInfo, read_pid_file};

use crate::error::DaemonError;

/// The held exclusive lock; released (and the PID file removed) on drop.
#[derive(Debug)]
pub struct Ownership {
    _lock: File,
    pid_path: PathBuf,
}

impl Ownership {
    /// Takes the lock without waiting. Fails with `AlreadyRunning` when
    /// another live daemon holds it.
    pub fn acquire(lock_path: &Path, pid_path: &Path, info: &PidInfo) -> Result<Self, DaemonError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(lock_path)
            .map_err(|e| DaemonError::io(lock_path, e))?;
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            let other = read_pid_file(pid_path).unwrap_or_default();
            return Err(DaemonError::AlreadyRunning { pid: other.pid, repo: other.repo_path });
        }
        let json = serde_json::to_string_pretty(info).unwrap_or_default();
        write_private(pid_path, json.as_bytes())?;
        Ok(Ownership { _lock: file, pid_path: pid_path.to_path_buf() })
    }
}

impl Drop for Ownership {
    fn drop(&mut self) {
        // Remove the PID file while still holding the lock, so a new
        // daemon never sees our stale PID file after taking the lock. The
        // lock file itself stays: unlinking it would let a daemon that
        // opened it a moment ago lock the old inode while another creates
        // and locks a new one, and both would run.
        let _ = std::fs::remove_file(&self.pid_path);
    }
}

/// Writes a file readable only by its owner, atomically
/// ([`thrum_core::fs::write_private`], with the daemon's error).
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), DaemonError> {
    thrum_core::fs::write_private(path, data).map_err(|e| DaemonError::io(e.path, e.source))
}
