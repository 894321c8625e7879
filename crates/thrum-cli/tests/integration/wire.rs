//! The `--json` shapes of the main commands, as types these tests own
//! (as ripgrep's tests/json.rs does), with unknown fields refused: a test
//! that reads a command's output through them breaks when a field is
//! renamed, added or dropped, so a wire change is always a decision.
//! Optional fields are the ones the commands leave out when empty.

#![allow(dead_code)] // Fields are read by decoding, and that is the check.

use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use thrum_testkit::TestEnv;

/// Runs a command with `--json` and reads its output as `T`.
pub trait JsonAs {
    fn json_as<T: DeserializeOwned>(&self, agent: Option<&str>, args: &[&str]) -> T;
    /// The same, run in `dir` (another clone or worktree).
    fn json_in_as<T: DeserializeOwned>(&self, dir: &Path, agent: Option<&str>, args: &[&str]) -> T;
}

impl JsonAs for TestEnv {
    fn json_as<T: DeserializeOwned>(&self, agent: Option<&str>, args: &[&str]) -> T {
        let mut args = args.to_vec();
        args.push("--json");
        decode(&args.join(" "), &self.ok(agent, &args))
    }

    fn json_in_as<T: DeserializeOwned>(&self, dir: &Path, agent: Option<&str>, args: &[&str]) -> T {
        let mut args = args.to_vec();
        args.push("--json");
        decode(&args.join(" "), &self.ok_in(dir, agent, &args))
    }
}

/// Reads the `--json` output of `thrum COMMAND` (run some other way) as `T`.
pub fn decode<T: DeserializeOwned>(command: &str, text: &str) -> T {
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("thrum {command} does not have the declared shape: {e}\n{text}"))
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub agent_id: String,
    pub delivered_at: String,
    pub seen_at: Option<String>,
    pub read_at: Option<String>,
    pub announced_at: Option<String>,
    pub announced_via: Option<String>,
    /// stored, announced or read.
    pub state: String,
    pub peer_pending: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    pub format: String,
    pub content: String,
    pub structured: Option<String>,
}

/// `send --json`, `reply --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sent {
    pub message_id: String,
    pub thread_id: Option<String>,
    pub created_at: String,
    pub resolved_to: i64,
    pub warnings: Option<Vec<String>>,
    pub audiences: Vec<Scope>,
    pub recipients: Vec<Recipient>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub message_id: String,
    pub thread_id: Option<String>,
    pub reply_to: Option<String>,
    pub agent_id: String,
    pub body: Body,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub deleted: bool,
    pub is_read: bool,
    pub audiences: Option<Vec<Scope>>,
    pub scopes: Option<Vec<Scope>>,
    pub recipients: Option<Vec<Recipient>>,
    pub read_count: Option<i64>,
}

/// `inbox --json`, `sent --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub messages: Vec<Row>,
    pub total: i64,
    pub unread: i64,
    pub page: i64,
    pub page_size: i64,
    pub total_pages: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Author {
    pub agent_id: String,
    pub session_id: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub deleted_at: Option<String>,
    pub delete_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detail {
    pub message_id: String,
    pub thread_id: Option<String>,
    pub reply_to: Option<String>,
    pub author: Author,
    pub body: Body,
    pub scopes: Vec<Scope>,
    pub refs: Vec<Scope>,
    pub metadata: Metadata,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub deleted: bool,
    pub authored_by: Option<String>,
    pub disclosed: Option<bool>,
    pub audiences: Option<Vec<Scope>>,
    pub recipients: Option<Vec<Recipient>>,
}

/// `message get --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Got {
    pub message: Detail,
}

/// `whoami --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Whoami {
    pub agent_id: String,
    pub role: String,
    pub module: String,
    pub display: Option<String>,
    pub source: String,
    pub session_id: Option<String>,
    pub session_start: Option<String>,
    pub branch: Option<String>,
    pub intent: Option<String>,
    pub status: Option<String>,
    pub updated_at: Option<String>,
    pub worktree: Option<String>,
    pub identity_file: Option<String>,
    pub daemon_running: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub agent_id: String,
    pub role: String,
    pub module: String,
    pub display: Option<String>,
    pub hostname: Option<String>,
    pub agent_pid: Option<i64>,
    pub worktree: Option<String>,
    pub session_id: Option<String>,
    pub session_start: Option<String>,
    pub last_seen: String,
    pub intent: Option<String>,
    pub current_task: Option<String>,
    pub branch: Option<String>,
    pub unmerged_commits: i64,
    pub inbox_total: i64,
    pub inbox_unread: i64,
    pub status: String,
}

/// `team --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub members: Vec<Member>,
    pub proxies: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub agent_id: String,
    pub kind: String,
    pub role: String,
    pub module: String,
    pub display: String,
    pub registered_at: String,
    pub last_seen_at: Option<String>,
    pub agent_pid: Option<i64>,
    pub hostname: Option<String>,
    pub worktree: Option<String>,
    pub origin_daemon: Option<String>,
    pub presence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commit {
    pub hash: String,
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    pub session_id: String,
    pub agent_id: String,
    pub branch: Option<String>,
    pub worktree_path: Option<String>,
    pub unmerged_commits: Option<Vec<Commit>>,
    pub uncommitted_files: Option<Vec<String>>,
    pub changed_files: Option<Vec<String>>,
    pub git_updated_at: Option<String>,
    pub current_task: Option<String>,
    pub task_updated_at: Option<String>,
    pub intent: Option<String>,
    pub intent_updated_at: Option<String>,
    pub matched_files: Option<Vec<String>>,
}

/// `agent list --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agents {
    pub agents: Vec<Agent>,
    pub contexts: Vec<Context>,
}

/// `agent list --context --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contexts {
    pub contexts: Vec<Context>,
}

/// `sync status --json`, `sync force --json` (which adds `triggered`;
/// `tailscale` is there when a peer depends on it).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncStatus {
    pub mode: String,
    pub local_only: bool,
    pub remote: String,
    pub sync_state: String,
    pub running: bool,
    pub last_sync_at: String,
    pub last_result: String,
    pub last_error: String,
    pub last_error_hint: String,
    pub cycles: u64,
    pub last_pulled: u64,
    pub last_pushed: u64,
    pub pulled_total: u64,
    pub pushed_total: u64,
    pub last_cycle_ms: u64,
    pub last_merged: String,
    pub interval_s: u64,
    pub debounce_ms: u64,
    pub remote_poll_ms: u64,
    pub triggered: Option<bool>,
    pub tailscale: Option<serde_json::Value>,
}

/// `rpc message.deleteByAgent --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletedCount {
    pub deleted_count: i64,
}

/// `context sync --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSynced {
    pub agent_name: String,
    pub size: u64,
    pub sync: SyncStatus,
}

/// `context show --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextShown {
    pub agent_name: String,
    pub content: String,
    pub preamble: String,
    pub has_context: bool,
    pub has_preamble: bool,
    pub size: u64,
    pub preamble_size: u64,
    pub updated_at: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holder {
    pub agent_id: String,
    pub session_id: String,
    pub branch: String,
    pub worktree_path: String,
    pub uncommitted: bool,
    pub in_unmerged_commits: bool,
    pub unmerged_commits: u64,
    pub intent: String,
    pub git_updated_at: String,
    pub files: Vec<String>,
}

/// `who-has FILE --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhoHas {
    pub file: String,
    pub agents: Vec<Holder>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub label: String,
    pub cmd: String,
    pub note: Option<String>,
}

/// A hint, in the `hints` of any `--json` output when hints are on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hint {
    pub code: String,
    pub severity: String,
    pub message: String,
    pub options: Option<Vec<Step>>,
}

/// `init --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Init {
    pub repo_path: String,
    pub thrum_dir: String,
    pub sync_worktree: String,
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    pub dry_run: bool,
    pub redirect: Option<String>,
    pub local_only: Option<bool>,
    /// `--sync` turned sync on while a daemon runs.
    #[serde(default)]
    pub restart_daemon: bool,
    pub hints: Option<Vec<Hint>>,
}

/// `config set --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSet {
    pub key: String,
    pub value: Value,
    pub previous: Option<Value>,
    pub config_file: String,
    pub effective: Value,
    pub source: String,
    pub restart_daemon: bool,
}

/// `init --skills --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skills {
    pub runtime: String,
    pub file: String,
    pub status: String,
    pub dry_run: bool,
}

/// `setup claude-md --apply --json` (and the other agent files).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applied {
    pub file: String,
    pub status: String,
    pub applied: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimeIdentity {
    pub agent_id: String,
    pub role: String,
    pub module: String,
    pub display: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimeSession {
    pub session_id: String,
    pub started_at: String,
    pub intent: String,
    pub current_task: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimeWork {
    pub branch: String,
    pub worktree_path: String,
    pub unmerged_commits: u64,
    pub changed_files: u64,
    pub uncommitted_files: u64,
    pub git_updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Teammate {
    pub agent_id: String,
    pub role: String,
    pub module: String,
    pub branch: String,
    pub intent: String,
    pub last_seen_at: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unread {
    pub message_id: String,
    pub from: String,
    pub created_at: String,
    pub preview: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimeInbox {
    pub total: i64,
    pub unread: i64,
    pub recent_unread: Vec<Unread>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimeDaemon {
    pub running: bool,
    pub pid: u32,
    pub uptime_ms: u64,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimeContext {
    pub has_context: bool,
    pub size: u64,
    pub updated_at: String,
    pub content: String,
    pub preamble: String,
}

/// `prime --json`, `context prime --json`, for a registered agent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prime {
    pub identity: PrimeIdentity,
    pub session: Option<PrimeSession>,
    pub work: Option<PrimeWork>,
    pub single_agent_mode: bool,
    pub team: Vec<Teammate>,
    pub inbox: PrimeInbox,
    pub daemon: PrimeDaemon,
    pub sync: Option<SyncStatus>,
    /// Ours: a restart snapshot handed over (and consumed) by this briefing.
    pub restart_snapshot: Option<PrimeRestart>,
    pub context: PrimeContext,
    pub next: Vec<String>,
    pub hints: Option<Vec<Hint>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimeRestart {
    pub content: String,
    /// Where the consumed snapshot is kept (null when it could not be kept).
    pub kept_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub env: Vec<String>,
    pub config: Vec<String>,
    pub binaries: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeRow {
    pub name: String,
    pub label: String,
    pub default: bool,
    pub detected: String,
    pub evidence: Evidence,
    pub mcp: bool,
    pub instructions: String,
}

/// `runtime list --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runtimes {
    pub runtimes: Vec<RuntimeRow>,
    pub default: String,
    pub default_source: String,
}

/// `runtime show NAME --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    pub name: String,
    pub label: String,
    pub env: Vec<String>,
    pub config: Vec<String>,
    pub binaries: Vec<String>,
    pub instructions: String,
    pub skill: Option<String>,
    pub mcp: bool,
    pub detected: String,
    pub evidence: Evidence,
}

/// `config get KEY --json`, and each row of `config show --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    pub key: String,
    /// Whatever type the setting has (a number, a string, a bool).
    pub value: serde_json::Value,
    pub source: String,
    pub env: Option<String>,
    pub description: String,
}

/// `config show --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigShow {
    pub config_file: String,
    pub keys: Vec<Setting>,
}

/// `single-agent-mode --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SingleAgentMode {
    pub single_agent_mode: bool,
}

/// `roles templates list --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippedRoles {
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRow {
    pub role: String,
    pub template: String,
    pub agents: Vec<String>,
}

/// `roles list --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    pub roles: Vec<RoleRow>,
    pub hints: Option<Vec<Hint>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployed {
    pub agent: String,
    pub role: String,
    pub status: String,
    pub path: String,
}

/// `roles deploy --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    pub dry_run: bool,
    pub agents: Vec<Deployed>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refreshed {
    pub role: String,
    pub result: String,
}

/// `roles refresh --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    pub dry_run: bool,
    pub templates: Vec<Refreshed>,
    pub dir: String,
}

/// `message edit --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edited {
    pub message_id: String,
    pub updated_at: String,
    pub version: i64,
}

/// `message read --json` (and `--all`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkedRead {
    pub marked_count: i64,
    pub also_read_by: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMember {
    pub member_type: String,
    pub member_value: String,
    pub added_at: String,
    pub added_by: Option<String>,
}

/// `group members NAME --json` (`expanded` with `--expand`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMembers {
    pub members: Vec<GroupMember>,
    pub expanded: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub group_id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: String,
    pub member_count: i64,
}

/// `group list --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Groups {
    pub groups: Vec<Group>,
}

/// `purge --json`, preview and `--confirm`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purge {
    pub before: String,
    pub confirmed: bool,
    pub messages: i64,
    pub sessions: i64,
    pub events: i64,
    pub message_files: i64,
    pub event_files: i64,
}

/// `ping AGENT --json` (the work fields are null without a work context).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ping {
    pub agent_id: String,
    pub status: String,
    pub last_seen_at: String,
    pub intent: Option<String>,
    pub current_task: Option<String>,
    pub branch: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub session_id: String,
    pub agent_id: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
    pub last_seen_at: String,
    pub intent: Option<String>,
    pub current_task: Option<String>,
    pub status: String,
}

/// `session list --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sessions {
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonIdentity {
    pub daemon_id: String,
    pub repo_name: String,
    pub hostname: String,
    pub repo_path: String,
    pub git_origin_url: Option<String>,
    pub init_at: String,
}

/// The daemon's health, in `overview --json` and `status --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub status: String,
    pub uptime_ms: u64,
    pub version: String,
    pub repo_id: String,
    pub sync_state: String,
    pub identity: Option<DaemonIdentity>,
    pub pid: u32,
    pub protocol_version: u32,
    pub started_at: String,
    pub socket_path: String,
    pub local_only: Option<bool>,
    pub ws_port: u16,
    pub warnings: Option<Vec<String>>,
}

/// The caller, in `overview --json` and `status --json` (the daemon's
/// whoami, without the CLI's `whoami` additions).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caller {
    pub agent_id: String,
    pub role: String,
    pub module: String,
    pub display: String,
    pub source: String,
    pub session_id: Option<String>,
    pub session_start: Option<String>,
    pub branch: Option<String>,
    pub intent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxCount {
    pub total: i64,
    pub unread: i64,
}

/// `overview --json` (`agent` and `inbox` are null when unregistered).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overview {
    pub health: Health,
    pub agent: Option<Caller>,
    pub team: Vec<Member>,
    pub inbox: Option<InboxCount>,
}

/// `status --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub agent: Caller,
    pub inbox: InboxCount,
    pub health: Health,
}

/// `agent delete NAME --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDeleted {
    pub agent_id: String,
    pub deleted: bool,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Orphan {
    pub agent_id: String,
    pub role: String,
    pub module: String,
    pub worktree: String,
    pub branch: String,
    pub last_seen_at: String,
    pub worktree_missing: bool,
    pub branch_missing: bool,
    pub days_since_last_seen: i64,
    pub message_count: i64,
    pub reason: Option<String>,
}

/// `agent cleanup --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cleanup {
    pub orphans: Vec<Orphan>,
    pub deleted: Vec<String>,
    pub dry_run: bool,
    pub message: Option<String>,
}

/// `version --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Version {
    pub version: String,
    /// The commit built from (`git rev-parse --short HEAD`), or `unknown`.
    pub build: String,
    /// Where the source is published; null when the build did not know
    /// (no THRUM_REPOSITORY_URL, no web or ssh origin).
    pub repository: Option<String>,
    pub docs: Option<String>,
    pub protocol_version: u32,
    pub implementation: String,
}

/// `subscribe --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscribed {
    pub subscription_id: i64,
    pub session_id: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    pub id: i64,
    pub scope_type: Option<String>,
    pub scope_value: Option<String>,
    pub mention_role: Option<String>,
    pub all: Option<bool>,
    pub created_at: String,
}

/// `subscriptions --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscriptions {
    pub subscriptions: Vec<Subscription>,
}

/// `rpc user.identify --json`: the method's result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserIdentity {
    pub username: String,
    pub email: String,
    pub display: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    pub files: Vec<String>,
    pub imported: u64,
    pub skipped: u64,
    pub unreadable: u64,
}

/// `migrate --json`. With nothing to migrate it is only `migrated: false`
/// and an empty `files`; after a migration, the other fields.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migrate {
    pub migrated: bool,
    pub files: Option<Vec<String>>,
    pub result: Option<Migration>,
    pub untracked: Option<Vec<String>>,
    pub gitignore_updated: Option<bool>,
    pub sync_dir: Option<String>,
}

/// `wait --json`: `status` alone on a timeout.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waited {
    pub status: String,
    pub action: Option<String>,
    pub message_id: Option<String>,
}

/// `daemon status --json` (the same object, `running: false`, when the
/// daemon is stopped).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonStatus {
    pub running: bool,
    pub status: String,
    pub pid: Option<u32>,
    pub repo_path: Option<String>,
    pub uptime: Option<String>,
    pub uptime_ms: Option<u64>,
    pub version: Option<String>,
    pub socket: Option<String>,
    pub sync_state: Option<String>,
    pub ws_port: Option<u16>,
    pub identity: Option<DaemonIdentity>,
    pub warnings: Option<Vec<String>>,
}
