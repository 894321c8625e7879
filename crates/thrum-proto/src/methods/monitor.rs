//! `monitor.*`: monitor jobs. The daemon runs a command, reads its stdout
//! and stderr line by line, and turns lines matching a regex into messages
//! from `monitor:<name>` to an agent.
//!
//! Names and shapes follow the original's `docs/rpc-api.md` (Monitor
//! methods). All are Unix-socket only: they start processes on this
//! machine, which no browser or peer may do. `id` params take a monitor's
//! id (`m_…`) or its name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::methods;

methods! {
    /// Starts a monitor job: spawns the child and saves its spec.
    Start = "monitor.start", StartParams => StartResult, socket_only;
    /// The running monitors (with `all`, the stopped ones too).
    List = "monitor.list", ListParams => ListResult, socket_only, idempotent;
    /// One monitor in full (env values redacted).
    Show = "monitor.show", IdParams => MonitorDetail, socket_only, idempotent;
    /// Stops a monitor (its whole process group) and forgets its spec.
    Stop = "monitor.stop", IdParams => StopResult, socket_only;
    /// The last bytes of a monitor's combined stdout and stderr.
    Logs = "monitor.logs", LogsParams => LogsResult, socket_only, idempotent;
    /// Respawns a stopped or exited monitor from its spec.
    Restart = "monitor.restart", IdParams => RestartResult, socket_only;
}

/// What env values look like in every answer.
pub const REDACTED: &str = "[redacted]";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StartParams {
    /// Short identifier; the messages come from `monitor:<name>`.
    pub name: String,
    /// The regex (RE2 syntax; `(?i)` for case-insensitive).
    #[serde(rename = "match")]
    pub pattern: String,
    /// The recipient agent (a leading `@` is accepted).
    pub to: String,
    /// The command and its arguments, run without a shell.
    pub argv: Vec<String>,
    /// The child's working directory.
    pub cwd: String,
    /// The debounce window as a Go duration (`"60s"`, `"2m"`): default
    /// 60s, minimum 30s.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub debounce: String,
    /// Extra environment variables for the child.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StartResult {
    pub id: String,
    pub name: String,
    pub pid: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListParams {
    /// Include the stopped and exited monitors.
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub all: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListResult {
    pub monitors: Vec<MonitorSummary>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorSummary {
    pub id: String,
    pub name: String,
    /// `running`, `stopped` (by `monitor.stop`, or the child exited with
    /// status 0) or `failed` (the child exited non-zero, was killed by a
    /// signal, or could not be started).
    pub status: String,
    /// 0 unless running.
    pub pid: i64,
    /// Human-readable (`4m32s`); empty unless running.
    pub uptime: String,
    #[serde(rename = "match")]
    pub pattern: String,
    pub to: String,
    /// Ours: how the child ended (`exit status 3`, `killed by signal 9`,
    /// `stopped by monitor stop`); empty while it runs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exit: String,
    /// Ours: the child's exit code when it exited by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IdParams {
    /// The monitor's id (`m_…`) or name.
    pub id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorDetail {
    #[serde(flatten)]
    pub summary: MonitorSummary,
    pub argv: Vec<String>,
    pub cwd: String,
    pub debounce: String,
    /// Every value is [`REDACTED`].
    pub env: BTreeMap<String, String>,
    pub match_count: u64,
    pub recent_matches: Vec<String>,
    pub created_at: String,
    /// Ours: matches held back by the debounce window since the start.
    #[serde(default)]
    pub suppressed_count: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StopResult {
    pub id: String,
    pub stopped: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogsParams {
    pub id: String,
    /// At most this many bytes (default 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogsResult {
    pub id: String,
    pub logs: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RestartResult {
    pub id: String,
    pub pid: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::Served;

    /// Monitors start processes on this machine: never for a browser or a
    /// peer, and never for an anonymous caller.
    #[test]
    fn every_monitor_method_is_socket_only_and_for_registered_callers() {
        assert_eq!(METHODS.len(), 6);
        for m in METHODS {
            assert_eq!(m.policy.served, Served::SocketOnly, "{}", m.name);
            assert!(!m.policy.anonymous, "{}", m.name);
        }
    }

    /// The documented request decodes; the result has the documented names.
    #[test]
    fn shapes_follow_the_original() -> Result<(), serde_json::Error> {
        let p: StartParams = serde_json::from_value(serde_json::json!({
            "name": "dev-errors", "match": "(?i)error", "to": "impl_api",
            "argv": ["node", "server.js"], "cwd": "/w", "debounce": "60s", "env": {"K": "v"}
        }))?;
        assert_eq!(p.pattern, "(?i)error");
        assert_eq!(p.env.get("K").map(String::as_str), Some("v"));
        let d = MonitorDetail {
            summary: MonitorSummary { id: "m_1".into(), status: "running".into(), ..Default::default() },
            ..Default::default()
        };
        let v = serde_json::to_value(&d)?;
        for k in [
            "id",
            "name",
            "status",
            "pid",
            "uptime",
            "match",
            "to",
            "argv",
            "cwd",
            "debounce",
            "env",
            "match_count",
            "recent_matches",
            "created_at",
        ] {
            assert!(v.get(k).is_some(), "{k} missing from {v}");
        }
        Ok(())
    }
}
