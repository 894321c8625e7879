//! The peer protocol: what paired daemons call on each other, over `/peer`
//! of the HTTP port (local peers) or the encrypted network link. Never
//! served to clients.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::methods;

methods! {
    /// A joiner proves the pairing code (or, on a network link, the
    /// handshake already did) and gets the shared token. The only method
    /// served without a token.
    PairRequest = "pair.request", PairRequestParams => PairRequestResult, peer_link;
    /// The caller's queued events after its checkpoint.
    Pull = "sync.pull", PullParams => PullResult, peer_link;
    /// The caller has something new for us: pull now.
    Notify = "sync.notify", TokenParams => StatusResult, peer_link;
    /// A network peer listens at a new address.
    AddressChanged = "peer.address_changed", AddressChangedParams => AddressChangedResult, peer_link;
    /// Who answers: the daemon's identity, as it would tell at pairing
    /// (the original's method, for checking a stored pair).
    PeerInfo = "sync.peer_info", TokenParams => PeerInfoResult, peer_link;
}

/// `sync.peer_info`: the original's `daemon_id` and `name`, and the rest
/// of what pairing exchanges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerInfoResult {
    #[serde(flatten)]
    pub side: DaemonSide,
    /// The daemon's name for itself (its repository's name).
    #[serde(default)]
    pub name: String,
}

/// What each side tells the other about itself when pairing (the same
/// fields in `pair.request`'s params and in its answer).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DaemonSide {
    #[serde(default)]
    pub daemon_id: String,
    #[serde(default)]
    pub repo_name: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub repo_path: String,
    #[serde(default)]
    pub git_origin_url: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PairRequestParams {
    /// The pairing code (local peers; a network pairing proved it in its
    /// handshake and sends none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The joiner's name for itself.
    pub name: String,
    /// Where the joiner listens (`ip:port`).
    #[serde(default)]
    pub address: String,
    #[serde(flatten)]
    pub side: DaemonSide,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PairRequestResult {
    #[serde(flatten)]
    pub side: DaemonSide,
    /// The shared secret (64 hex digits).
    #[serde(default)]
    pub token: String,
    /// The listener's name for itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PullParams {
    #[serde(default)]
    pub token: String,
    /// The feed epoch the caller's checkpoint belongs to.
    #[serde(default)]
    pub epoch: String,
    #[serde(default)]
    pub after_seq: i64,
    #[serde(default)]
    pub limit: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PulledEvent {
    pub seq: i64,
    /// The event as stored (the original's shape, unknown fields kept).
    pub event: Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PullResult {
    pub epoch: String,
    /// What we call the caller: its agents appear as `{prefix}:{name}`
    /// among the recipients.
    pub prefix: String,
    pub events: Vec<PulledEvent>,
    pub next_seq: i64,
    pub more_available: bool,
    pub daemon_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenParams {
    #[serde(default)]
    pub token: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatusResult {
    pub status: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AddressChangedParams {
    #[serde(default)]
    pub token: String,
    pub address: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AddressChangedResult {
    pub status: String,
    pub address: String,
}
