//! `peer.*` methods: pairing with another daemon and managing the pairs,
//! for the local CLI only (a browser never reaches them).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Empty, methods};

methods! {
    /// Opens a pairing and returns the peercode the other side joins with.
    Add = "peer.add", AddParams => AddResult, socket_only;
    /// Blocks until someone joins the open pairing, or the timeout passes.
    AddWait = "peer.add.wait", AddWaitParams => PairedResult, socket_only;
    /// Dials a listener's peercode and pairs.
    Join = "peer.join", JoinParams => PairedResult, socket_only;
    List = "peer.list", Empty => ListResult, socket_only, idempotent;
    Remove = "peer.remove", NameParams => RemoveResult, socket_only;
    /// Dials a peer again now with the stored token and key.
    Repair = "peer.repair", NameParams => RepairResult, socket_only;
    /// Which of the peer's agents are addressable here.
    Configure = "peer.configure", ConfigureParams => ConfigureResult, socket_only;
}

/// `local`, `network` or `tailscale`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AddParams {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Network peers: the IP the other machine reaches us at.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AddResult {
    /// `name:address:code`.
    pub peercode: String,
    pub name: String,
    pub address: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub repo_path: String,
    pub expires_in_s: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AddWaitParams {
    #[serde(default)]
    pub timeout_ms: u64,
}

/// `paired` with the new peer, or `waiting` (nobody joined in time).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PairedResult {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerInfo>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JoinParams {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub peercode: String,
    /// Local peers: the other repository (its port file is read there).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repo_path: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NameParams {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RemoveResult {
    pub removed: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RepairResult {
    /// `healthy`.
    pub status: String,
    pub peer: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConfigureParams {
    pub name: String,
    /// `add-agent` or `remove-agent`.
    pub action: String,
    pub agent: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConfigureResult {
    pub peer: String,
    pub changed: bool,
    /// How to address the agent here: `@{prefix}:{agent}`.
    pub address_as: String,
    pub remote_agents: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListResult {
    pub peers: Vec<PeerInfo>,
    /// The host's Tailscale, when a peer depends on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tailscale: Option<Value>,
}

/// A paired daemon as clients see it: its registry entry without the
/// token, and (in `peer.list`) how its link is doing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub name: String,
    pub address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repo_path: String,
    /// `local`, `network` or `tailscale`.
    pub transport: String,
    /// `listener` (we ran `peer add`) or `dialer` (we ran `peer join`).
    pub role: String,
    pub proxy_prefix: String,
    #[serde(default)]
    pub remote_agents: Vec<String>,
    pub paired_at: String,
    #[serde(default)]
    pub remote_daemon_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_repo_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_hostname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_repo_path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_git_origin_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_sync_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_static: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub announced_address: String,
    /// `peer.list`: `healthy`, `unreachable`, `token_rejected`, `stopped`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `peer.list`: `healthy`, or `drift_reconcile_failed` when the stored
    /// address or token stopped working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_status: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_error: String,
    /// `peer.list`: our events it has not pulled yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<i64>,
    /// `peer.list`: how far we pulled its feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<i64>,
}
