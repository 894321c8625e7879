//! `message.*` methods.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thrum_core::Scope;
use thrum_core::delivery::Channel;
use thrum_core::views::{Audience, MessageDetail, MessageSummary, Recipient};

use super::methods;

methods! {
    /// Sends a message. Idempotent: a client-chosen `message_id` sent
    /// twice stores one message, so a retry after a dropped connection is
    /// safe.
    Send = "message.send", SendParams => SendResult, idempotent;
    /// Ours: replies to a message. The daemon picks the audience (the
    /// parent's, its author's, and any extra `mentions`), so the CLI, the
    /// MCP tools and the web UI reply to the same people; the parent is
    /// marked read for the replier. Idempotent like a send with its
    /// client-chosen `message_id`.
    Reply = "message.reply", ReplyParams => SendResult, idempotent;
    Get = "message.get", GetParams => GetResult, anonymous, idempotent;
    List = "message.list", ListParams => ListResult, anonymous, idempotent;
    /// Ours: what the caller sent, with each recipient's read state.
    Outbox = "message.outbox", OutboxParams => ListResult, anonymous, idempotent;
    Edit = "message.edit", EditParams => EditResult;
    Delete = "message.delete", DeleteParams => DeleteResult;
    MarkRead = "message.markRead", MarkReadParams => MarkReadResult, idempotent;
    /// Deletes every message the caller wrote.
    DeleteByAgent = "message.deleteByAgent", DeleteByAgentParams => DeleteCountResult;
    /// Deletes every message in a scope: daemon housekeeping (a group
    /// deleted with its messages), not callable from outside.
    DeleteByScope = "message.deleteByScope", DeleteByScopeParams => DeleteCountResult, internal;
    /// Ours: blocks until a message addressed to the caller arrives that
    /// it has not read and no channel has told it about; marks that one
    /// announced (via `channel`, `wait` by default).
    Wait = "message.wait", WaitParams => WaitResult, anonymous, idempotent;
    /// Ours: tells the caller's runtime about its mail, once. Claims the
    /// caller's unread messages that no channel has announced yet (never
    /// its own), marks them announced via `channel` and returns them,
    /// oldest first: what one call returns, no call returns again. With
    /// `wait_ms` it claims nothing: it blocks until there is such mail and
    /// answers `pending` (an idle waker, which then claims with an
    /// immediate call); a newer waiter of the same agent and `session_id`,
    /// or a call with `stand_down`, sends it home. Not repeated on a lost
    /// answer: a second claim would find nothing.
    Announce = "message.announce", AnnounceParams => AnnounceResult, socket_only;
    /// Ours: `thrum purge`.
    Purge = "message.purge", PurgeParams => PurgeResult;
}

/// Largest accepted message body, in bytes.
pub const MAX_CONTENT: usize = 256 * 1024;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SendParams {
    #[serde(default)]
    pub content: String,
    /// Ours: a client-chosen id (`msg_` + ULID). Sending twice with the
    /// same id stores one message, so a client may retry safely after a
    /// dropped connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reply_to: String,
    /// Send into this existing thread (`thr_…`); with `reply_to`, it must
    /// be the parent's thread.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Ours: a broadcast also reaches the paired peers' addressable agents
    /// (never without asking).
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub include_peers: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SendResult {
    pub message_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thread_id: String,
    pub created_at: String,
    pub resolved_to: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<Audience>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<Recipient>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReplyParams {
    /// The message replied to.
    #[serde(default)]
    pub reply_to: String,
    #[serde(default)]
    pub content: String,
    /// The reply's own id (`msg_` + ULID), chosen by the client so a retry
    /// stores one reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub format: String,
    /// Recipients beyond the parent's audience (`@name`, role or group).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GetParams {
    #[serde(default)]
    pub message_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GetResult {
    pub message: MessageDetail,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_id: Option<String>,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub mentions: bool,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub unread: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread_for_agent: Option<String>,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub exclude_self: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_mention_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_agent_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<String>,
    /// Ours: include each message's scopes and audiences.
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub include_audience: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListResult {
    pub messages: Vec<MessageSummary>,
    pub total: i64,
    #[serde(default)]
    pub unread: i64,
    pub page: i64,
    pub page_size: i64,
    pub total_pages: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutboxParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub unread: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EditParams {
    #[serde(default)]
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EditResult {
    pub message_id: String,
    pub updated_at: String,
    pub version: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteParams {
    #[serde(default)]
    pub message_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteResult {
    pub message_id: String,
    pub deleted_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MarkReadParams {
    #[serde(default)]
    pub message_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MarkReadResult {
    pub marked_count: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub also_read_by: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteByAgentParams {
    #[serde(default)]
    pub agent_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteCountResult {
    pub deleted_count: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeleteByScopeParams {
    #[serde(default)]
    pub scope_type: String,
    #[serde(default)]
    pub scope_value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

/// Ours: block until a message addressed to the caller arrives.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WaitParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
    /// Only messages created after this RFC 3339 instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default)]
    pub timeout_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention_role: Option<String>,
    /// Which channel the returned message is announced through (`wait`
    /// when absent; the MCP server says `mcp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

/// Ours: `message.announce`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnnounceParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
    /// What tells the runtime (recorded with the announcement).
    pub channel: Channel,
    /// The runtime's session (Claude Code's `session_id`): a waiter
    /// replaces an earlier one of the same agent and session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Block up to this long for mail; 0 answers at once.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub wait_ms: u64,
    /// The session is busy (its user submitted a prompt): its waiter goes
    /// home, and turn-boundary hooks announce until it is idle again.
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub stand_down: bool,
    /// Most messages claimed at once (default 20, at most 100); the rest
    /// stay for the next call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How a `message.announce` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnounceStatus {
    /// `messages` were claimed for the caller.
    Announced,
    /// A waiter saw mail to announce: claim it with an immediate call.
    Pending,
    /// Nothing to announce (an immediate call).
    Nothing,
    /// A waiter's time ran out.
    Timeout,
    /// A newer waiter of the same agent and session took over.
    Superseded,
    /// The session became busy (`stand_down`).
    StoodDown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnnounceResult {
    pub status: AnnounceStatus,
    #[serde(default)]
    pub messages: Vec<MessageSummary>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WaitResult {
    /// `received` or `timeout`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageSummary>,
}

/// Ours: `thrum purge`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PurgeParams {
    /// RFC 3339 cutoff: everything created before it goes.
    pub before: String,
    #[serde(default)]
    pub confirm: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PurgeResult {
    pub before: String,
    pub confirmed: bool,
    pub messages: i64,
    pub sessions: i64,
    pub events: i64,
    pub message_files: i64,
    pub event_files: i64,
}
