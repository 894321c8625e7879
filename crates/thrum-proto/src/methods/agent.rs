//! `agent.*` methods.

use serde::{Deserialize, Serialize};
use thrum_core::views::{AgentInfo, ContextInfo};

use super::methods;

methods! {
    /// Registers (or re-registers) an agent and opens its session. Allowed
    /// to anonymous callers: it is how a new agent comes to exist.
    Register = "agent.register", RegisterParams => RegisterResult, anonymous;
    List = "agent.list", ListParams => ListResult, anonymous, idempotent;
    Whoami = "agent.whoami", WhoamiParams => WhoamiResult, anonymous, idempotent;
    /// Every agent's work context (branch, files, intent).
    ListContext = "agent.listContext", ListContextParams => ListContextResult, anonymous, idempotent;
    Delete = "agent.delete", DeleteParams => DeleteResult;
    /// Finds (and with `force`, deletes) agents whose worktree or branch is gone.
    Cleanup = "agent.cleanup", CleanupParams => CleanupResult;
    /// `working`, `idle`, `blocked` or `stuck`, kept in the identity file.
    SetStatus = "agent.set-status", SetStatusParams => SetStatusResult;
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RegisterParams {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub module: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display: String,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub force: bool,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub re_register: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_pid: Option<i64>,
    /// Ours: the worktree the agent registers from (its basename is
    /// recorded; the CLI passes the git toplevel).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub worktree: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub existing_agent_id: String,
    pub registered_at: String,
    #[serde(default)]
    pub last_seen_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_pid: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RegisterResult {
    pub agent_id: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session_id: String,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub session_resumed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<Conflict>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListResult {
    pub agents: Vec<AgentInfo>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WhoamiParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WhoamiResult {
    pub agent_id: String,
    pub role: String,
    pub module: String,
    #[serde(default)]
    pub display: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session_start: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub intent: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListContextParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListContextResult {
    pub contexts: Vec<ContextInfo>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteParams {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteResult {
    pub agent_id: String,
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CleanupParams {
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub threshold: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Orphan {
    pub agent_id: String,
    pub role: String,
    pub module: String,
    #[serde(default)]
    pub worktree: String,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub last_seen_at: String,
    pub worktree_missing: bool,
    pub branch_missing: bool,
    pub days_since_last_seen: i64,
    pub message_count: i64,
    /// Ours: why it counts as orphaned, in words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CleanupResult {
    pub orphans: Vec<Orphan>,
    pub deleted: Vec<String>,
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetStatusParams {
    pub agent: String,
    pub status: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetStatusResult {
    pub agent: String,
    pub status: String,
}
