//! Children a daemon could not end because it was killed (SIGKILL, a
//! crash): the groups of running children are listed in
//! `.thrum/var/monitors.pids.json` with each leader's start time, and the
//! next daemon ends the groups still there before it starts the monitors
//! again. The start time tells a recycled PID from our child.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
use serde::{Deserialize, Serialize};

/// A running child's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub pgid: i64,
    /// The leader's start time (`/proc/PID/stat` field 22, clock ticks
    /// since boot).
    pub start: u64,
}

/// When the process `pid` started, in clock ticks since boot.
pub fn start_time(pid: i64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// Records the running groups (by monitor id).
pub fn save(path: &Path, groups: &BTreeMap<String, Group>) {
    let json = serde_json::to_vec(groups).unwrap_or_default();
    if let Err(e) = thrum_core::fs::write_private(path, &json) {
        tracing::warn!(error = %e.source, path = %path.display(), "cannot record the monitors' process groups");
    }
}

/// Ends the groups a previous daemon left running: SIGTERM, up to a
/// second, then SIGKILL. Returns how many it found.
pub fn reap(path: &Path) -> usize {
    let Ok(bytes) = std::fs::read(path) else {
        return 0;
    };
    let groups: BTreeMap<String, Group> = serde_json::from_slice(&bytes).unwrap_or_default();
    let left: Vec<Pid> = groups
        .values()
        .filter(|g| start_time(g.pgid) == Some(g.start))
        .filter_map(|g| i32::try_from(g.pgid).ok().and_then(Pid::from_raw))
        .collect();
    for &p in &left {
        let _ = kill_process_group(p, Signal::TERM);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while left.iter().any(|&p| test_kill_process_group(p).is_ok()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &p in &left {
        let _ = kill_process_group(p, Signal::KILL);
    }
    let _ = std::fs::remove_file(path);
    if !left.is_empty() {
        tracing::info!(groups = left.len(), "ended monitor children a previous daemon left running");
    }
    left.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_start_time_is_readable() {
        let me = i64::from(std::process::id());
        assert!(start_time(me).is_some());
        assert_eq!(start_time(i64::from(i32::MAX)), None);
    }
}
