//! The `--json` shapes of the main commands, as types these tests own
//! (as ripgrep's tests/json.rs does), with unknown fields refused: a test
//! that reads a command's output through them breaks when a field is
//! renamed, added or dropped, so a wire change is always a decision.
//! Optional fields are the ones the commands leave out when empty.

#![allow(dead_code)] // Fields are read by decoding, and that is the check.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use thrum_testkit::TestEnv;

/// Runs a command with `--json` and reads its output as `T`.
pub trait JsonAs {
    fn json_as<T: DeserializeOwned>(&self, agent: Option<&str>, args: &[&str]) -> T;
}

impl JsonAs for TestEnv {
    fn json_as<T: DeserializeOwned>(&self, agent: Option<&str>, args: &[&str]) -> T {
        let mut args = args.to_vec();
        args.push("--json");
        let text = self.ok(agent, &args);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("thrum {} --json does not have the declared shape: {e}\n{text}", args.join(" ")))
    }
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
pub struct Context {
    pub session_id: String,
    pub agent_id: String,
    pub branch: Option<String>,
    pub worktree_path: Option<String>,
    pub unmerged_commits: Option<Vec<serde_json::Value>>,
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
