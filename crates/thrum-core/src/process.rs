//! The daemon's PID file and process liveness, read the same way by the
//! daemon (which writes the file and checks agents' PIDs) and by clients
//! (which look before they signal). Linux's `/proc` answers both; nothing
//! here signals a process.

use std::path::Path;

use serde::{Deserialize, Serialize};

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
    /// Ours: the wire protocol the daemon speaks, so a client can tell an
    /// outdated daemon without a round trip (0: not written, as by the
    /// original or a build from before the field).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub protocol_version: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// Reads a PID file in the JSON form, or the legacy bare-integer form.
pub fn read_pid_file(path: &Path) -> Option<PidInfo> {
    let text = std::fs::read_to_string(path).ok()?;
    if let Ok(info) = serde_json::from_str::<PidInfo>(&text) {
        return Some(info);
    }
    text.trim().parse::<i64>().ok().map(|pid| PidInfo { pid, ..Default::default() })
}

/// Whether a process with this PID exists (what signal 0 would tell,
/// whoever owns it).
pub fn pid_alive(pid: i64) -> bool {
    if pid <= 0 || pid > i64::from(i32::MAX) {
        return false;
    }
    Path::new(&format!("/proc/{pid}")).exists()
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
        // Gone between the two looks.
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder, removed when the guard drops.
    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn reads_both_pid_file_forms() {
        let guard = tmp();
        let d = guard.path().to_path_buf();
        let f = d.join("thrum.pid");
        assert_eq!(read_pid_file(&f), None, "missing");
        std::fs::write(&f, r#"{"pid": 42, "repo_path": "/r", "socket_path": "/r/.thrum/var/thrum.sock"}"#).ok();
        let info = read_pid_file(&f).unwrap_or_default();
        assert_eq!((info.pid, info.repo_path.as_str(), info.started_at.as_str()), (42, "/r", ""));
        std::fs::write(&f, "1234\n").ok();
        assert_eq!(read_pid_file(&f), Some(PidInfo { pid: 1234, ..Default::default() }), "legacy bare integer");
        std::fs::write(&f, "not a pid").ok();
        assert_eq!(read_pid_file(&f), None);
    }

    #[test]
    fn liveness_of_pids() {
        let me = i64::from(std::process::id());
        assert!(pid_alive(me) && process_running(me));
        for bad in [0, -1, i64::from(i32::MAX) + 1] {
            assert!(!pid_alive(bad) && !process_running(bad), "{bad}");
        }
        // An exited child not yet reaped is a zombie: alive to signal 0,
        // but not running.
        let Ok(mut child) = std::process::Command::new("true").spawn() else { return };
        let pid = i64::from(child.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while process_running(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(pid_alive(pid) && !process_running(pid));
        let _ = child.wait();
    }
}
