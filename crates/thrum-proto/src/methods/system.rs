//! `health`, users, subscriptions and their push notifications, git sync
//! and daemon control.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thrum_core::Scope;
use thrum_core::config::DaemonIdentity;

use super::{Empty, methods, notifications};

methods! {
    /// Whether the daemon is up, and what a client needs to manage it.
    Health = "health", Empty => HealthResult, anonymous, idempotent;
    /// The git user of the repository (`git config user.name`).
    UserIdentify = "user.identify", Empty => UserIdentifyResult, anonymous, idempotent;
    /// A person in the web UI becomes the agent `user:{username}`.
    UserRegister = "user.register", UserRegisterParams => UserRegisterResult, websocket_only;
    /// Push `notification.message` for matching messages on this connection.
    Subscribe = "subscribe", SubscribeParams => SubscribeResult;
    Unsubscribe = "unsubscribe", UnsubscribeParams => UnsubscribeResult;
    SubscriptionsList = "subscriptions.list", SubscriptionsListParams => SubscriptionsListResult, anonymous, idempotent;
    /// Stops the daemon gracefully (after answering).
    Shutdown = "daemon.shutdown", Empty => ShutdownResult, socket_only;
    /// Runs a git sync cycle now.
    SyncForce = "sync.force", SyncForceParams => SyncForceResult;
    SyncStatus = "sync.status", Empty => SyncStatusResult, anonymous, idempotent;
}

notifications! {
    /// A new message matched one of the session's subscriptions.
    MessagePushed = "notification.message", MessageNotification;
    /// Pushes were dropped because the client did not read them in time.
    Missed = "notification.missed", MissedNotification;
}

/// `sync.force`: trigger a cycle (non-blocking unless `wait`, ours).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncForceParams {
    #[serde(default)]
    pub wait: bool,
}

/// The state of git sync, as `sync.status` reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncInfo {
    /// `normal` or `local-only`.
    pub mode: String,
    pub local_only: bool,
    /// The remote's URL ("" when the repository has none).
    pub remote: String,
    /// `idle` (never ran), `syncing`, `synced`, `error`, `local`.
    pub sync_state: String,
    pub running: bool,
    pub last_sync_at: String,
    /// `ok`, `error`, or "" before the first cycle.
    pub last_result: String,
    pub last_error: String,
    /// What to do about the last error.
    pub last_error_hint: String,
    pub cycles: u64,
    pub last_pulled: u64,
    pub last_pushed: u64,
    pub pulled_total: u64,
    pub pushed_total: u64,
    pub last_cycle_ms: u64,
    /// The remote commit last merged (no work when it has not moved).
    pub last_merged: String,
    pub interval_s: u64,
    pub debounce_ms: u64,
    pub remote_poll_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncForceResult {
    #[serde(flatten)]
    pub status: SyncInfo,
    pub triggered: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncStatusResult {
    #[serde(flatten)]
    pub status: SyncInfo,
    /// The host's Tailscale, when a peer depends on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tailscale: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShutdownResult {
    /// `stopping`.
    pub status: String,
    pub pid: u32,
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
pub struct UserRegisterParams {
    #[serde(default)]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserRegisterResult {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub token: String,
    /// `registered` or `existing`.
    pub status: String,
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
pub struct UnsubscribeResult {
    pub removed: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SubscriptionsListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SubscriptionsListResult {
    pub subscriptions: Vec<SubscriptionInfo>,
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

/// `notification.message`. Fields are declared in the order the daemon
/// writes them: it encodes everything up to `matched_subscription` once per
/// message and appends that field per subscriber.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageNotification {
    pub author: NotificationAuthor,
    pub message_id: String,
    pub preview: String,
    pub scopes: Vec<Scope>,
    pub thread_id: String,
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_subscription: Option<MatchedSubscription>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotificationAuthor {
    pub agent_id: String,
    pub module: String,
    pub role: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MatchedSubscription {
    /// `scope`, `mention` or `all`.
    pub match_type: String,
    pub subscription_id: i64,
}

/// `notification.missed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MissedNotification {
    pub count: u64,
    pub hint: String,
}
