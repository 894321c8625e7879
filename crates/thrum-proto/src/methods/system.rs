//! `health`, `user.identify`, subscriptions and daemon control.

use serde::{Deserialize, Serialize};
use thrum_core::Scope;
use thrum_core::config::DaemonIdentity;

pub const HEALTH: &str = "health";
pub const USER_IDENTIFY: &str = "user.identify";
pub const USER_REGISTER: &str = "user.register";
pub const SUBSCRIBE: &str = "subscribe";
pub const UNSUBSCRIBE: &str = "unsubscribe";
pub const SUBSCRIPTIONS_LIST: &str = "subscriptions.list";
pub const SHUTDOWN: &str = "daemon.shutdown";
pub const SYNC_FORCE: &str = "sync.force";
pub const SYNC_STATUS: &str = "sync.status";

/// `sync.force`: trigger a cycle (non-blocking unless `wait`, ours).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncForceParams {
    #[serde(default)]
    pub wait: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HealthResult {
    pub status: String,
    pub uptime_ms: u64,
    pub version: String,
    #[serde(default)]
    pub repo_id: String,
    #[serde(default)]
    pub sync_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<DaemonIdentity>,
    // Ours: what a client needs to manage the daemon.
    #[serde(default)]
    pub pid: u32,
    #[serde(default)]
    pub protocol_version: u32,
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub socket_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_only: Option<bool>,
    /// The HTTP/WebSocket port on 127.0.0.1 (WebSocket API at `/ws`).
    #[serde(default)]
    pub ws_port: u16,
    /// Problems found at start (torn writes, unreadable lines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserIdentifyResult {
    pub username: String,
    pub email: String,
    pub display: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SubscribeParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention_role: Option<String>,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub all: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SubscribeResult {
    pub subscription_id: i64,
    pub session_id: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UnsubscribeParams {
    #[serde(default)]
    pub subscription_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SubscriptionInfo {
    pub id: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope_value: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mention_role: String,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub all: bool,
    pub created_at: String,
}
