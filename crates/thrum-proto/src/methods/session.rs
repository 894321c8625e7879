//! `session.*` methods.

use serde::{Deserialize, Serialize};
use thrum_core::Scope;
use thrum_core::views::SessionInfo;

use super::methods;

methods! {
    Start = "session.start", StartParams => StartResult, anonymous;
    End = "session.end", EndParams => EndResult;
    List = "session.list", ListParams => ListResult, anonymous, idempotent;
    /// Marks the session alive and updates its scopes, refs and git context.
    Heartbeat = "session.heartbeat", HeartbeatParams => HeartbeatResult, idempotent;
    SetIntent = "session.setIntent", SetIntentParams => SetIntentResult, anonymous;
    SetTask = "session.setTask", SetTaskParams => SetTaskResult;
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StartParams {
    #[serde(default)]
    pub agent_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<Scope>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StartResult {
    pub session_id: String,
    pub agent_id: String,
    pub started_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndParams {
    #[serde(default)]
    pub session_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndResult {
    pub session_id: String,
    pub ended_at: String,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub active_only: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListResult {
    pub sessions: Vec<SessionInfo>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HeartbeatParams {
    #[serde(default)]
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_scopes: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_scopes: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_refs: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_refs: Vec<Scope>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HeartbeatResult {
    pub session_id: String,
    pub last_seen_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmerged_commits: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetIntentParams {
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    pub intent: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetIntentResult {
    pub session_id: String,
    pub intent: String,
    pub intent_updated_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetTaskParams {
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    pub current_task: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetTaskResult {
    pub session_id: String,
    pub current_task: String,
    pub task_updated_at: String,
}
