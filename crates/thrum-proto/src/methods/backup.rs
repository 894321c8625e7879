//! `backup.*`: consistent snapshots of the store taken by the daemon,
//! their archive history and the schedule.
//!
//! The original backs up from the CLI and has no RPC for it; these methods
//! are ours (the snapshot must come from the process that owns the log, so
//! no write is half in it). Socket only: they write files on this machine.
//! Open to callers outside every agent worktree (the socket is the user's
//! own, mode 0600): a fresh clone with no agent yet restores a backup.
//! Restoring needs the daemon stopped, so it is not a method: the CLI does
//! it with the daemon down (`thrum backup restore`).

use serde::{Deserialize, Serialize};

use super::methods;

methods! {
    /// Takes a snapshot and writes it as one archive (temp file, then
    /// rename), then prunes older archives by the retention policy.
    Create = "backup.create", CreateParams => CreateResult, socket_only, anonymous;
    /// The newest backup, the archive history and the schedule's state.
    Status = "backup.status", StatusParams => StatusResult, socket_only, anonymous, idempotent;
    /// Reads or changes the schedule (`24h`, `off`); a change is saved to
    /// config.json and takes effect at once.
    Schedule = "backup.schedule", ScheduleParams => ScheduleResult, socket_only, anonymous;
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateParams {
    /// The backup directory for this run (else `backup.dir`, else
    /// `.thrum/backup`); relative paths are from the repository root.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dir: String,
    /// A safety backup before a restore: named `pre-restore-…`, never
    /// pruned, and no `post_backup` command runs.
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub safety: bool,
}

/// What a backup holds, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Lines of `events.jsonl` and every message shard.
    pub events: u64,
    pub message_files: u64,
    /// config.json, identities, context, role templates, restart snapshots.
    pub config_files: u64,
    /// Daemon-local state: peers, peer key, subscriptions, reminders.
    pub local_files: u64,
    /// Plugins whose files were collected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<String>,
}

/// One archive in the backup directory.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ArchiveInfo {
    pub path: String,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub timestamp: String,
    pub bytes: u64,
    /// A safety backup taken before a restore (never pruned).
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub safety: bool,
}

/// A hook or plugin command's outcome (failures never fail the backup).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CommandOutcome {
    pub command: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateResult {
    /// The archive written.
    pub path: String,
    pub timestamp: String,
    pub bytes: u64,
    /// `<dir>/<repo>`: where this repository's archives live.
    pub repo_dir: String,
    pub repo: String,
    pub counts: Counts,
    /// Archives removed by the retention policy.
    #[serde(default)]
    pub pruned: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_backup: Option<CommandOutcome>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<CommandOutcome>,
    /// Milliseconds the writer stood still to fix the snapshot.
    pub pause_ms: f64,
    /// Milliseconds for the whole backup.
    pub elapsed_ms: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatusParams {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dir: String,
}

/// The schedule as the daemon runs it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScheduleState {
    /// `off`, or the interval as configured (`24h`).
    pub schedule: String,
    /// Next scheduled run (RFC 3339), when on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_run: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_run: String,
    /// Why the last scheduled backup failed (empty when it worked).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_error: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatusResult {
    pub dir: String,
    pub repo_dir: String,
    /// The newest backup (not counting safety backups), with what it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<ArchiveInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    /// Every archive, oldest first.
    pub archives: Vec<ArchiveInfo>,
    pub total_bytes: u64,
    pub schedule: ScheduleState,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScheduleParams {
    /// A Go-style duration (`24h`, `6h30m`, `90s`) or `off`; empty reads.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interval: String,
    /// Also sets `backup.dir`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dir: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScheduleResult {
    pub schedule: ScheduleState,
    /// `backup.dir` as configured (empty: the default).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dir: String,
    /// Whether config.json was changed.
    pub changed: bool,
}
