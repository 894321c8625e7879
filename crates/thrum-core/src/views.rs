//! Read models shared by the store (which fills them from SQLite), the
//! daemon (which returns them over RPC) and clients (which render them).
//! Field names and omission rules are the original's wire contract.

use serde::{Deserialize, Serialize};

use crate::event::MessageBody;
use crate::scope::Scope;

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// An audience a message was addressed to (`agent`, `role`, `group`,
/// `broadcast`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// A resolved recipient and its durable delivery state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recipient {
    pub agent_id: String,
    #[serde(default)]
    pub delivered_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub seen_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub read_at: String,
    /// Ours: when its runtime was told, and by which channel.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub announced_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced_via: Option<crate::delivery::Channel>,
    /// Ours: stored → announced → read, from the times above.
    #[serde(default)]
    pub state: crate::delivery::DeliveryState,
    /// An agent on a paired peer (`prefix:name`) whose daemon has not yet
    /// pulled the message: it waits in our queue for that peer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub peer_pending: bool,
}

/// One row of `message.list` / `message.outbox`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageSummary {
    pub message_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reply_to: String,
    pub agent_id: String,
    pub body: MessageBody,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub updated_at: String,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub is_read: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<Audience>,
    /// Only with `include_audience` (ours).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<crate::Scope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<Recipient>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub read_count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Author {
    pub agent_id: String,
    #[serde(default)]
    pub session_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageMetadata {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deleted_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub delete_reason: String,
}

/// The full message of `message.get`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageDetail {
    pub message_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reply_to: String,
    pub author: Author,
    pub body: MessageBody,
    #[serde(default)]
    pub scopes: Vec<Scope>,
    #[serde(default)]
    pub refs: Vec<Scope>,
    #[serde(default)]
    pub metadata: MessageMetadata,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub updated_at: String,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub authored_by: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disclosed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<Audience>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<Recipient>,
}

/// One agent of `agent.list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub agent_id: String,
    pub kind: String,
    pub role: String,
    pub module: String,
    #[serde(default)]
    pub display: String,
    pub registered_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_seen_at: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub agent_pid: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub worktree: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub origin_daemon: String,
    /// Ours, in `agent.list`: `active` (an open session) or `offline`
    /// ([`crate::rules::presence`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub presence: String,
}

/// One session of `session.list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub session_id: String,
    pub agent_id: String,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ended_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub end_reason: String,
    #[serde(default)]
    pub last_seen_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub intent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub current_task: String,
    pub status: String,
}

/// A commit not yet on the merge target, as `agent.listContext` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnmergedCommit {
    pub hash: String,
    pub subject: String,
}

/// One work context of `agent.listContext`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContextInfo {
    pub session_id: String,
    pub agent_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub worktree_path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmerged_commits: Vec<UnmergedCommit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uncommitted_files: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_files: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub git_updated_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub current_task: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub task_updated_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub intent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub intent_updated_at: String,
    /// Ours, with `agent.listContext {file}`: the changed or uncommitted
    /// files that answer the query ([`crate::rules::file_matches`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_files: Vec<String>,
}

/// One group of `group.list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub group_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub created_at: String,
    pub member_count: i64,
}

/// One member of a group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupMemberInfo {
    pub member_type: String,
    pub member_value: String,
    #[serde(default)]
    pub added_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub added_by: String,
}

/// `group.info`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupDetail {
    pub group_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub created_at: String,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub members: Vec<GroupMemberInfo>,
}
