//! The `--json` shapes of the main commands, read through types this test
//! declares itself (as ripgrep's tests/json.rs does), with unknown fields
//! refused: renaming, adding or dropping a field anywhere in these outputs
//! breaks this test, so a wire change is always a decision. Optional
//! fields are the ones the commands leave out when empty.

#![allow(dead_code)] // Fields are read by decoding, and that is the check.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::team;

fn decode<T: DeserializeOwned>(what: &str, text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what} --json does not have the declared shape: {e}\n{text}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scope {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Recipient {
    agent_id: String,
    delivered_at: String,
    seen_at: Option<String>,
    read_at: Option<String>,
    peer_pending: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    format: String,
    content: String,
    structured: Option<String>,
}

/// `send --json`, `reply --json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sent {
    message_id: String,
    thread_id: Option<String>,
    created_at: String,
    resolved_to: i64,
    warnings: Option<Vec<String>>,
    audiences: Vec<Scope>,
    recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    message_id: String,
    thread_id: Option<String>,
    reply_to: Option<String>,
    agent_id: String,
    body: Body,
    created_at: String,
    updated_at: Option<String>,
    deleted: bool,
    is_read: bool,
    audiences: Option<Vec<Scope>>,
    scopes: Option<Vec<Scope>>,
    recipients: Option<Vec<Recipient>>,
    read_count: Option<i64>,
}

/// `inbox --json`, `sent --json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    messages: Vec<Row>,
    total: i64,
    unread: i64,
    page: i64,
    page_size: i64,
    total_pages: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Author {
    agent_id: String,
    session_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    deleted_at: Option<String>,
    delete_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Detail {
    message_id: String,
    thread_id: Option<String>,
    reply_to: Option<String>,
    author: Author,
    body: Body,
    scopes: Vec<Scope>,
    refs: Vec<Scope>,
    metadata: Metadata,
    created_at: String,
    updated_at: Option<String>,
    deleted: bool,
    authored_by: Option<String>,
    disclosed: Option<bool>,
    audiences: Option<Vec<Scope>>,
    recipients: Option<Vec<Recipient>>,
}

/// `message get --json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Got {
    message: Detail,
}

/// `whoami --json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Whoami {
    agent_id: String,
    role: String,
    module: String,
    display: Option<String>,
    source: String,
    session_id: Option<String>,
    session_start: Option<String>,
    branch: Option<String>,
    intent: Option<String>,
    status: Option<String>,
    updated_at: Option<String>,
    worktree: Option<String>,
    identity_file: Option<String>,
    daemon_running: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Member {
    agent_id: String,
    role: String,
    module: String,
    display: Option<String>,
    hostname: Option<String>,
    agent_pid: Option<i64>,
    worktree: Option<String>,
    session_id: Option<String>,
    session_start: Option<String>,
    last_seen: String,
    intent: Option<String>,
    current_task: Option<String>,
    branch: Option<String>,
    unmerged_commits: i64,
    inbox_total: i64,
    inbox_unread: i64,
    status: String,
}

/// `team --json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Team {
    members: Vec<Member>,
    proxies: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Agent {
    agent_id: String,
    kind: String,
    role: String,
    module: String,
    display: String,
    registered_at: String,
    last_seen_at: Option<String>,
    agent_pid: Option<i64>,
    hostname: Option<String>,
    worktree: Option<String>,
    origin_daemon: Option<String>,
    presence: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Context {
    session_id: String,
    agent_id: String,
    branch: Option<String>,
    worktree_path: Option<String>,
    unmerged_commits: Option<Vec<serde_json::Value>>,
    uncommitted_files: Option<Vec<String>>,
    changed_files: Option<Vec<String>>,
    git_updated_at: Option<String>,
    current_task: Option<String>,
    task_updated_at: Option<String>,
    intent: Option<String>,
    intent_updated_at: Option<String>,
    matched_files: Option<Vec<String>>,
}

/// `agent list --json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Agents {
    agents: Vec<Agent>,
    contexts: Vec<Context>,
}

#[test]
fn the_main_commands_json_has_the_declared_shapes() {
    let env = team();
    let sent: Sent = decode("send", &env.ok(Some("alice"), &["send", "hello", "--to", "@bob", "--json"]));
    assert_eq!(sent.recipients.iter().map(|r| r.agent_id.as_str()).collect::<Vec<_>>(), ["bob"]);
    let inbox: Page = decode("inbox", &env.ok(Some("bob"), &["inbox", "--json"]));
    assert_eq!(inbox.messages[0].body.content, "hello");
    let reply: Sent = decode("reply", &env.ok(Some("bob"), &["reply", &sent.message_id, "ok", "--json"]));
    assert!(reply.thread_id.is_some());
    let outbox: Page = decode("sent", &env.ok(Some("alice"), &["sent", "--json"]));
    assert_eq!(outbox.messages[0].read_count, Some(1));
    let got: Got = decode("message get", &env.ok(Some("alice"), &["message", "get", &reply.message_id, "--json"]));
    assert_eq!(got.message.reply_to.as_deref(), Some(sent.message_id.as_str()));
    let who: Whoami = decode("whoami", &env.ok(Some("alice"), &["whoami", "--json"]));
    assert_eq!(who.agent_id, "alice");
    let team: Team = decode("team", &env.ok(Some("alice"), &["team", "--json"]));
    assert_eq!(team.members.len(), 3);
    let agents: Agents = decode("agent list", &env.ok(Some("alice"), &["agent", "list", "--json"]));
    assert!(agents.agents.iter().all(|a| a.presence.as_deref() == Some("active")));
}
