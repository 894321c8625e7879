//! Process ownership of a repository: the `thrum.lock` flock, the JSON
//! PID file and the socket file.
//!
//! The flock is what really guarantees one daemon per repository: the
//! kernel drops it when the process dies, even by SIGKILL, so a crashed
//! daemon never blocks the next start. The PID file is for humans and for
//! `daemon stop`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};
use serde::{Deserialize, Serialize};

use crate::error::DaemonError;

/// The PID file's content (the original's key names).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PidInfo {
    pub pid: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repo_path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub started_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub socket_path: String,
}

/// Reads a PID file in the JSON form, or the legacy bare-integer form.
pub fn read_pid_file(path: &Path) -> Option<PidInfo> {
    let text = std::fs::read_to_string(path).ok()?;
    if let Ok(info) = serde_json::from_str::<PidInfo>(&text) {
        return Some(info);
    }
    text.trim().parse::<i64>().ok().map(|pid| PidInfo { pid, ..Default::default() })
}

/// Whether a process with this PID exists (signal 0).
pub fn pid_alive(pid: i64) -> bool {
    if pid <= 0 || pid > i64::from(i32::MAX) {
        return false;
    }
    match rustix::process::Pid::from_raw(pid as i32) {
        Some(p) => match rustix::process::test_kill_process(p) {
            Ok(()) => true,
            Err(e) => e == rustix::io::Errno::PERM,
        },
        None => false,
    }
}

/// Whether a process is still running: it exists and has not exited (a
/// zombie awaiting its parent counts as gone).
pub fn process_running(pid: i64) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().and_then(|r| r.split_whitespace().next()).unwrap_or("");
            state != "Z" && state != "X"
        }
        // No /proc (not Linux): fall back to the signal check.
        Err(_) => true,
    }
}

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

/// Writes a file readable only by its owner, atomically.
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), DaemonError> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| DaemonError::io(&tmp, e))?;
        f.write_all(data).map_err(|e| DaemonError::io(&tmp, e))?;
        f.sync_all().map_err(|e| DaemonError::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| DaemonError::io(path, e))
}
