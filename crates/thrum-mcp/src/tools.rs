//! The MCP tools: the original's eleven, with its names and parameters,
//! plus reply, get_message, set_intent, team_status and who_has. Input
//! schemas come from the parameter structs below.

use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::schemars::{self, JsonSchema};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thrum_core::views::ContextInfo;
use thrum_proto::methods::group::{MemberParams, MemberResult};
use thrum_proto::methods::{Empty, Method, agent, group, message, session};

use crate::daemon::{CallError, Daemon};

/// Longest `wait_for_message` may block.
const MAX_WAIT_SECS: u64 = 600;
/// check_messages without a limit: the original's default.
const DEFAULT_CHECK_LIMIT: u32 = 50;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SendMessage {
    /// Recipient: @agent, @role, @group or @everyone (the @ is optional).
    pub to: String,
    /// The message text (markdown).
    pub content: String,
    /// Message id this answers; the reply joins that message's thread.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Structured data to attach (any JSON object).
    #[serde(default)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CheckMessages {
    /// Most messages to return (default 50, as the original; at most 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WaitForMessage {
    /// Seconds to wait (default 300, at most 600).
    #[serde(default)]
    pub timeout: Option<u64>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListAgents {
    /// Include agents without an active session (default true, as the
    /// original).
    #[serde(default = "yes")]
    pub include_offline: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct BroadcastMessage {
    /// The message text (markdown).
    pub content: String,
    /// Agents that should not receive it.
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateGroup {
    /// Group name (letters, digits, _ and -).
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GroupName {
    /// Group name.
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GroupMember {
    /// Group name.
    pub group: String,
    /// An agent (@alice), a role (role:reviewer) or another group (group:backend).
    pub member: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetGroup {
    /// Group name.
    pub name: String,
    /// Resolve nested groups and roles to agents.
    #[serde(default)]
    pub expand: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Reply {
    /// The message to answer.
    pub message_id: String,
    /// The reply text (markdown); it goes to the original author.
    pub content: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetMessage {
    pub message_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SetIntent {
    /// What you are working on now, in a sentence.
    pub text: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WhoHas {
    /// A file path, or part of one.
    pub file: String,
}

/// The tool set, bound to one agent.
#[derive(Clone)]
pub struct ThrumTools {
    daemon: Daemon,
    tool_router: ToolRouter<Self>,
}

/// A tool's result as indented JSON. It goes through a `Value` so object
/// keys come out sorted, as they did when tools passed the daemon's JSON on.
fn ok(v: impl Serialize) -> CallToolResult {
    let v = serde_json::to_value(v).unwrap_or_default();
    CallToolResult::success(vec![ContentBlock::text(serde_json::to_string_pretty(&v).unwrap_or_default())])
}

fn fail(msg: impl std::fmt::Display) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(msg.to_string())])
}

fn done(r: Result<impl Serialize, CallError>) -> CallToolResult {
    match r {
        Ok(v) => ok(v),
        Err(e) => fail(e),
    }
}

/// A string field the daemon omits when empty: `null` in a tool's result.
fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn name(s: &str) -> String {
    s.trim().trim_start_matches('@').to_string()
}

/// `member` in the original's forms → (member_type, member_value).
fn member(m: &str) -> (&'static str, String) {
    let m = m.trim();
    if let Some(r) = m.strip_prefix("role:") {
        ("role", r.to_string())
    } else if let Some(g) = m.strip_prefix("group:") {
        ("group", g.to_string())
    } else {
        ("agent", name(m))
    }
}

/// A message id for a send, chosen here so a retried call stores one message.
fn fresh_message_id() -> String {
    thrum_core::new_id(thrum_core::IdKind::Message)
}

#[tool_router]
impl ThrumTools {
    pub fn new(daemon: Daemon) -> ThrumTools {
        ThrumTools { daemon, tool_router: Self::tool_router() }
    }

    #[tool(description = "Send a message to an agent (@name), a role (@reviewer), a group or @everyone.")]
    async fn send_message(&self, Parameters(p): Parameters<SendMessage>) -> CallToolResult {
        if p.content.trim().is_empty() {
            return fail("content is empty: write the message text in `content`");
        }
        let to = name(&p.to);
        if to.is_empty() {
            return fail("`to` is empty: name an agent, role or group, e.g. \"@reviewer\"");
        }
        let params = message::SendParams {
            content: p.content,
            mentions: vec![to],
            message_id: Some(fresh_message_id()),
            reply_to: p.reply_to.unwrap_or_default(),
            structured: p.metadata,
            caller_agent_id: self.caller(),
            ..Default::default()
        };
        done(self.daemon.call::<message::Send>(params).await)
    }

    #[tool(description = "Your unread messages (newest first); they are marked read.")]
    async fn check_messages(&self, Parameters(p): Parameters<CheckMessages>) -> CallToolResult {
        let limit = p.limit.unwrap_or(DEFAULT_CHECK_LIMIT).clamp(1, 100);
        let me = self.daemon.agent_id().to_string();
        let params = message::ListParams {
            for_agent: Some(me),
            unread: true,
            exclude_self: true,
            page_size: Some(i64::from(limit)),
            caller_agent_id: self.caller(),
            ..Default::default()
        };
        let list = match self.daemon.call::<message::List>(params).await {
            Ok(v) => v,
            Err(e) => return fail(e),
        };
        let messages = list.messages;
        let ids: Vec<String> = messages.iter().map(|m| m.message_id.clone()).collect();
        if !ids.is_empty()
            && let Err(e) = self
                .daemon
                .call::<message::MarkRead>(message::MarkReadParams { message_ids: ids, caller_agent_id: self.caller() })
                .await
        {
            return fail(e);
        }
        let more_unread = usize::try_from(list.total).unwrap_or(0) > messages.len();
        ok(json!({ "messages": messages, "count": messages.len(), "more_unread": more_unread }))
    }

    #[tool(
        description = "Block until a message for you arrives (pushed by the daemon, no polling), or until the timeout (seconds, default 300, max 600)."
    )]
    async fn wait_for_message(&self, Parameters(p): Parameters<WaitForMessage>) -> CallToolResult {
        let secs = p.timeout.unwrap_or(300);
        if secs == 0 || secs > MAX_WAIT_SECS {
            return fail(format!("timeout must be between 1 and {MAX_WAIT_SECS} seconds (got {secs})"));
        }
        match self.daemon.wait(Duration::from_secs(secs)).await {
            Ok(r) if r.status == "received" => ok(json!({ "status": "received", "message": r.message })),
            Ok(_) => ok(json!({ "status": "timeout", "waited_seconds": secs })),
            Err(e) => fail(e),
        }
    }

    #[tool(description = "Agents in this repository with role, module and whether they are online.")]
    async fn list_agents(&self, Parameters(p): Parameters<ListAgents>) -> CallToolResult {
        let agents = match self.daemon.call::<agent::List>(agent::ListParams::default()).await {
            Ok(a) => a,
            Err(e) => return fail(e),
        };
        let list: Vec<Value> = agents
            .agents
            .iter()
            // The daemon's pseudo-agents (the permission-nudge author) are
            // no agents to talk to, as in `thrum team` without --system.
            .filter(|a| !thrum_core::name::is_pseudo_agent(&a.agent_id, &a.role, &a.module))
            .filter_map(|a| {
                // The daemon's presence; this tool says "online" for active,
                // as the original's does.
                let on = a.presence == thrum_core::rules::presence(true);
                (p.include_offline || on).then(|| {
                    json!({ "agent_id": a.agent_id, "role": a.role, "module": a.module, "status": if on { "online" } else { "offline" }, "last_seen_at": non_empty(&a.last_seen_at) })
                })
            })
            .collect();
        ok(json!({ "agents": list, "count": list.len() }))
    }

    #[tool(description = "Send a message to every agent (minus any in `exclude`).")]
    async fn broadcast_message(&self, Parameters(p): Parameters<BroadcastMessage>) -> CallToolResult {
        if p.content.trim().is_empty() {
            return fail("content is empty: write the message text in `content`");
        }
        let exclude: Vec<String> = p.exclude.iter().map(|e| name(e)).collect();
        let mentions: Vec<String> = if exclude.is_empty() {
            vec!["everyone".into()]
        } else {
            let agents = match self.daemon.call::<agent::List>(agent::ListParams::default()).await {
                Ok(a) => a,
                Err(e) => return fail(e),
            };
            agents
                .agents
                .into_iter()
                .map(|a| a.agent_id)
                .filter(|id| id != self.daemon.agent_id() && !exclude.iter().any(|e| e == id))
                .collect()
        };
        if mentions.is_empty() {
            return fail("nobody is left to receive it: every other agent is excluded");
        }
        let params = message::SendParams {
            content: p.content,
            mentions,
            message_id: Some(fresh_message_id()),
            caller_agent_id: self.caller(),
            ..Default::default()
        };
        done(self.daemon.call::<message::Send>(params).await)
    }

    #[tool(description = "Create a group (address it as @name).")]
    async fn create_group(&self, Parameters(p): Parameters<CreateGroup>) -> CallToolResult {
        let params = group::CreateParams {
            name: name(&p.name),
            description: p.description.unwrap_or_default(),
            caller_agent_id: self.caller(),
        };
        done(self.daemon.call::<group::Create>(params).await)
    }

    #[tool(description = "Delete a group.")]
    async fn delete_group(&self, Parameters(p): Parameters<GroupName>) -> CallToolResult {
        done(self.daemon.call::<group::Delete>(self.group_name(&p.name, false)).await)
    }

    #[tool(description = "Add a member to a group: @agent, role:NAME or group:NAME.")]
    async fn add_group_member(&self, Parameters(p): Parameters<GroupMember>) -> CallToolResult {
        self.group_member::<group::MemberAdd>(p).await
    }

    #[tool(description = "Remove a member from a group: @agent, role:NAME or group:NAME.")]
    async fn remove_group_member(&self, Parameters(p): Parameters<GroupMember>) -> CallToolResult {
        self.group_member::<group::MemberRemove>(p).await
    }

    #[tool(description = "All groups with their member counts.")]
    async fn list_groups(&self) -> CallToolResult {
        done(self.daemon.call::<group::List>(Empty {}).await)
    }

    #[tool(description = "One group's details and members (expand=true resolves nested groups and roles to agents).")]
    async fn get_group(&self, Parameters(p): Parameters<GetGroup>) -> CallToolResult {
        let info = self.daemon.call::<group::Info>(self.group_name(&p.name, false)).await;
        let members = self.daemon.call::<group::Members>(self.group_name(&p.name, p.expand)).await;
        match (info, members) {
            (Ok(i), Ok(m)) => ok(json!({ "group": i, "members": m })),
            (Err(e), _) | (_, Err(e)) => fail(e),
        }
    }

    #[tool(description = "Reply to a message, inside its thread: goes to its author and everyone it was sent to.")]
    async fn reply(&self, Parameters(p): Parameters<Reply>) -> CallToolResult {
        if p.content.trim().is_empty() {
            return fail("content is empty: write the reply text in `content`");
        }
        // The daemon picks the audience: the parent's, and its author.
        let params = message::ReplyParams {
            reply_to: p.message_id,
            content: p.content,
            message_id: Some(fresh_message_id()),
            caller_agent_id: self.caller(),
            ..Default::default()
        };
        done(self.daemon.call::<message::Reply>(params).await)
    }

    #[tool(description = "One message in full, by id.")]
    async fn get_message(&self, Parameters(p): Parameters<GetMessage>) -> CallToolResult {
        done(self.daemon.call::<message::Get>(message::GetParams { message_id: p.message_id }).await)
    }

    #[tool(description = "Tell the team what you are working on (shown in `thrum team` and the web UI).")]
    async fn set_intent(&self, Parameters(p): Parameters<SetIntent>) -> CallToolResult {
        let me = self.daemon.agent_id().to_string();
        let session = match self
            .daemon
            .call::<session::List>(session::ListParams { agent_id: Some(me), active_only: true })
            .await
        {
            Ok(s) => s.sessions.into_iter().next().map(|s| s.session_id).unwrap_or_default(),
            Err(e) => return fail(e),
        };
        if session.is_empty() {
            return fail("you have no active session: run `thrum session start` (or `thrum quickstart`) first");
        }
        let params = session::SetIntentParams { session_id: session, intent: p.text };
        done(self.daemon.call::<session::SetIntent>(params).await)
    }

    #[tool(description = "Who is working on what: each agent's role, status, branch, intent and changed files.")]
    async fn team_status(&self) -> CallToolResult {
        let (agents, contexts) = match tokio::join!(
            self.daemon.call::<agent::List>(agent::ListParams::default()),
            self.daemon.call::<agent::ListContext>(agent::ListContextParams::default())
        ) {
            (Ok(a), Ok(c)) => (a, c),
            (Err(e), _) | (_, Err(e)) => return fail(e),
        };
        let by_agent: std::collections::HashMap<&str, &ContextInfo> =
            contexts.contexts.iter().map(|c| (c.agent_id.as_str(), c)).collect();
        let team: Vec<Value> = agents
            .agents
            .iter()
            .map(|a| {
                let c = by_agent.get(a.agent_id.as_str());
                json!({
                    "agent_id": a.agent_id,
                    "role": a.role,
                    "module": a.module,
                    "status": a.presence,
                    "branch": c.and_then(|c| non_empty(&c.branch)),
                    "intent": c.and_then(|c| non_empty(&c.intent)),
                    "changed_files": c.map(|c| &c.changed_files).filter(|f| !f.is_empty()),
                })
            })
            .collect();
        ok(json!({ "team": team }))
    }

    #[tool(
        description = "Which agents are changing a file (its path, or the end of it such as auth.rs), with branch and commit counts."
    )]
    async fn who_has(&self, Parameters(p): Parameters<WhoHas>) -> CallToolResult {
        let q = p.file.trim().to_string();
        if q.is_empty() {
            return fail("file is empty: give a path such as src/auth.rs");
        }
        // The daemon decides which files match (the same for every front end).
        let params = agent::ListContextParams { file: Some(q.clone()), ..Default::default() };
        let contexts = match self.daemon.call::<agent::ListContext>(params).await {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        let hits: Vec<Value> = contexts
            .contexts
            .iter()
            .map(|c| {
                json!({ "agent_id": c.agent_id, "branch": non_empty(&c.branch), "unmerged_commits": c.unmerged_commits.len(), "files": c.matched_files })
            })
            .collect();
        ok(json!({ "file": q, "agents": hits }))
    }
}

impl ThrumTools {
    /// This agent, for the params that name their caller.
    fn caller(&self) -> Option<String> {
        Some(self.daemon.agent_id().to_string())
    }

    /// Params naming a group, as this agent.
    fn group_name(&self, group: &str, expand: bool) -> group::NameParams {
        group::NameParams { name: name(group), expand, caller_agent_id: self.caller(), ..Default::default() }
    }

    /// Adds or removes a group member (`M` says which).
    async fn group_member<M>(&self, p: GroupMember) -> CallToolResult
    where
        M: Method<Params = MemberParams, Result = MemberResult>,
    {
        let (kind, value) = member(&p.member);
        let params = MemberParams {
            group: name(&p.group),
            member_type: kind.to_string(),
            member_value: value,
            caller_agent_id: self.caller(),
        };
        done(self.daemon.call::<M>(params).await)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ThrumTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("thrum", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "You are @{} in thrum, the message bus for the coding agents of this repository. \
                 check_messages at the start of a task, wait_for_message when blocked on someone, \
                 send_message/reply to coordinate, set_intent when you change focus.",
                self.daemon.agent_id()
            ))
    }
}
