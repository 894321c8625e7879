//! Read-only views: `team`, `overview`, `status`, `ping`, and the
//! subscription commands.

use anyhow::{Result, anyhow, bail};
use clap::Args;
use serde::Serialize;
use serde_json::json;
use thrum_core::views::{AgentInfo, ContextInfo, SessionInfo};
use thrum_proto::methods::Notification;
use thrum_proto::methods::agent::{self as am, WhoamiResult};
use thrum_proto::methods::message::{self as mm, ListResult as MsgList};
use thrum_proto::methods::session as sm;
use thrum_proto::methods::system as ym;
use thrum_proto::methods::system::{MessageNotification, MessagePushed};
use thrum_proto::methods::{Empty, peer};

use crate::context::Ctx;
use crate::output::{self, truncate};

#[derive(Debug, Args)]
pub struct TeamArgs {
    /// Include offline agents.
    #[arg(long)]
    pub all: bool,
    /// Include the reserved pseudo-agents (`@system`, `@supervisor_<project>`), marked ⊙.
    #[arg(long)]
    pub system: bool,
}

#[derive(Debug, Args)]
pub struct PingArgs {
    pub agent: String,
}

#[derive(Debug, Args)]
pub struct WhoHasArgs {
    /// A path (relative to here or the repository root) or a bare file name.
    pub file: String,
}

#[derive(Debug, Args)]
pub struct SubscribeArgs {
    /// Messages with this scope (type:value).
    #[arg(long)]
    pub scope: Option<String>,
    /// Messages mentioning this role.
    #[arg(long)]
    pub mention: Option<String>,
    /// Every message.
    #[arg(long)]
    pub all: bool,
    /// Stay connected and print each matching message as it arrives
    /// (a JSON line per message with --json) until interrupted.
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct UnsubscribeArgs {
    pub id: i64,
}

#[derive(Debug, Serialize, Clone)]
struct Member {
    agent_id: String,
    role: String,
    module: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    display: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    hostname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_pid: Option<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    worktree: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    session_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    session_start: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    last_seen: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    intent: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    current_task: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    branch: String,
    unmerged_commits: i64,
    inbox_total: i64,
    inbox_unread: i64,
    status: String,
}

struct Team {
    members: Vec<Member>,
}

fn gather(ctx: &mut Ctx) -> Result<Team> {
    let agents = ctx.call::<am::List>(&am::ListParams::default())?;
    let sessions = ctx.call::<sm::List>(&sm::ListParams { agent_id: None, active_only: true })?;
    let contexts = ctx.call::<am::ListContext>(&am::ListContextParams::default())?;
    let mut members = Vec::new();
    for a in agents.agents {
        let s: Option<&SessionInfo> = sessions.sessions.iter().find(|s| s.agent_id == a.agent_id);
        let c: Option<&ContextInfo> = contexts.contexts.iter().find(|c| c.agent_id == a.agent_id);
        let inbox = ctx.call::<mm::List>(&inbox_params(&a.agent_id, &a.role))?;
        members.push(member(&a, s, c, &inbox));
    }
    Ok(Team { members })
}

/// One page of one message: enough for an agent's inbox counts.
fn inbox_params(agent: &str, role: &str) -> mm::ListParams {
    mm::ListParams {
        caller_agent_id: Some(agent.to_string()),
        for_agent: Some(agent.to_string()),
        for_agent_role: Some(role.to_string()),
        exclude_self: true,
        page_size: Some(1),
        ..Default::default()
    }
}

fn member(a: &AgentInfo, s: Option<&SessionInfo>, c: Option<&ContextInfo>, inbox: &MsgList) -> Member {
    Member {
        agent_id: a.agent_id.clone(),
        role: a.role.clone(),
        module: a.module.clone(),
        display: a.display.clone(),
        hostname: a.hostname.clone(),
        agent_pid: (a.agent_pid > 0).then_some(a.agent_pid),
        worktree: a.worktree.clone(),
        session_id: s.map(|s| s.session_id.clone()).unwrap_or_default(),
        session_start: s.map(|s| s.started_at.clone()).unwrap_or_default(),
        last_seen: if a.last_seen_at.is_empty() { a.registered_at.clone() } else { a.last_seen_at.clone() },
        intent: c.map(|c| c.intent.clone()).unwrap_or_default(),
        current_task: c.map(|c| c.current_task.clone()).unwrap_or_default(),
        branch: c.map(|c| c.branch.clone()).unwrap_or_default(),
        unmerged_commits: c.map(|c| c.unmerged_commits.len() as i64).unwrap_or(0),
        inbox_total: inbox.total,
        inbox_unread: inbox.unread,
        status: if thrum_core::name::is_pseudo_agent(&a.agent_id, &a.role, &a.module) {
            RESERVED.into()
        } else {
            a.presence.clone()
        },
    }
}

/// A reserved pseudo-agent's status in `team` (shown with `--system`).
const RESERVED: &str = "reserved";

/// `@system`: the author of the daemon's own notices (restart requests,
/// queue results). Not registered (it is a reserved name), so not listed
/// by the daemon.
fn system_member() -> Member {
    Member {
        agent_id: "system".into(),
        role: "system".into(),
        module: "daemon".into(),
        display: "thrum daemon: restart requests, queue results and other notices".into(),
        hostname: String::new(),
        agent_pid: None,
        worktree: String::new(),
        session_id: String::new(),
        session_start: String::new(),
        last_seen: String::new(),
        intent: String::new(),
        current_task: String::new(),
        branch: String::new(),
        unmerged_commits: 0,
        inbox_total: 0,
        inbox_unread: 0,
        status: RESERVED.into(),
    }
}

pub fn team(ctx: &mut Ctx, a: TeamArgs) -> Result<u8> {
    let out = ctx.out;
    let mut t = gather(ctx)?;
    if !a.all {
        t.members.retain(|m| m.status == "active" || (a.system && m.status == RESERVED));
    }
    if a.system {
        // `@system` writes the daemon's notices but is never registered.
        t.members.insert(0, system_member());
    } else {
        t.members.retain(|m| m.status != RESERVED);
    }
    let proxies = proxies(ctx);
    if out.json {
        out.json(&json!({ "members": t.members, "proxies": proxies }));
        return Ok(0);
    }
    if t.members.is_empty() && proxies.is_empty() {
        out.line(if a.all {
            "No agents registered."
        } else {
            "No active agents. (thrum team --all includes offline agents)"
        });
        return Ok(0);
    }
    for (i, m) in t.members.iter().enumerate() {
        if i > 0 {
            out.line("");
        }
        let glyph = match m.status.as_str() {
            "active" => "●",
            RESERVED => "⊙",
            _ => "○",
        };
        out.line(format!("{glyph} @{} [{}]", m.agent_id, m.status));
        if m.status == RESERVED {
            out.line(format!("  {}", m.display));
            continue;
        }
        out.line(format!("  Role:     {}", m.role));
        out.line(format!("  Module:   {}", m.module));
        if let Some(pid) = m.agent_pid {
            let live = thrum_client::pidfile::pid_alive(pid);
            out.line(format!("  PID:      {pid} [{}]", if live { "live" } else { "stale" }));
        }
        if !m.worktree.is_empty() {
            out.line(format!("  Worktree: {}", m.worktree));
        }
        if !m.session_id.is_empty() {
            out.line(format!(
                "  Session:  {} (duration: {})",
                m.session_id,
                output::duration(output::since_ms(&m.session_start))
            ));
        } else {
            out.line(format!("  Last seen: {}", output::relative(&m.last_seen)));
        }
        if !m.intent.is_empty() {
            out.line(format!("  Intent:   {}", m.intent));
        }
        if !m.current_task.is_empty() {
            out.line(format!("  Task:     {}", m.current_task));
        }
        out.line(format!("  Inbox:    {} unread / {} total", m.inbox_unread, m.inbox_total));
        if !m.branch.is_empty() {
            out.line(format!("  Branch:   {}", m.branch));
        }
    }
    for (i, p) in proxies.iter().enumerate() {
        if i > 0 || !t.members.is_empty() {
            out.line("");
        }
        out.line(format!(
            "◌ @{} [via peer {}, {}]",
            p["agent_id"].as_str().unwrap_or(""),
            p["peer"].as_str().unwrap_or(""),
            p["status"].as_str().unwrap_or("")
        ));
    }
    Ok(0)
}

/// The paired peers' agents addressable here (`peer configure … add-agent`).
fn proxies(ctx: &mut Ctx) -> Vec<serde_json::Value> {
    let Ok(r) = ctx.call::<peer::List>(&Empty {}) else { return Vec::new() };
    let mut out = Vec::new();
    for p in &r.peers {
        for agent in &p.remote_agents {
            out.push(json!({
                "agent_id": format!("{}:{agent}", p.proxy_prefix),
                "peer": p.name,
                "status": p.status,
            }));
        }
    }
    out
}

pub fn overview(ctx: &mut Ctx) -> Result<u8> {
    let out = ctx.out;
    let health = ctx.call::<ym::Health>(&Empty {})?;
    let me = ctx.me().ok();
    let who: Option<WhoamiResult> = match &me {
        Some(m) => ctx.call::<am::Whoami>(&am::WhoamiParams { caller_agent_id: Some(m.name.clone()) }).ok(),
        None => None,
    };
    let team = gather(ctx)?;
    let mine = me.as_ref().and_then(|m| team.members.iter().find(|x| x.agent_id == m.name).cloned());
    let others: Vec<Member> = team
        .members
        .iter()
        .filter(|x| Some(&x.agent_id) != me.as_ref().map(|m| &m.name) && x.status == "active")
        .cloned()
        .collect();
    if out.json {
        out.json(&json!({
            "health": health,
            "agent": who,
            "team": others,
            "inbox": mine.as_ref().map(|m| json!({ "total": m.inbox_total, "unread": m.inbox_unread })),
        }));
        return Ok(0);
    }
    match (&who, &mine) {
        (Some(w), Some(m)) => {
            out.line(format!("You: @{} ({}, module {})", w.agent_id, w.role, w.module));
            if w.session_id.is_empty() {
                out.line("Session: none (thrum session start)");
            } else {
                out.line(format!("Session: active for {}", output::duration(output::since_ms(&w.session_start))));
            }
            if !w.intent.is_empty() {
                out.line(format!("Intent: {}", w.intent));
            }
            if !w.branch.is_empty() {
                out.line(format!("Branch: {}", w.branch));
            }
            out.line("");
            out.line("Team:");
            if others.is_empty() {
                out.line("  (no other active agents)");
            }
            for o in &others {
                out.line(format!(
                    "  {:<14} {:<20} {:<30} {}",
                    format!("@{}", o.agent_id),
                    if o.branch.is_empty() { "-" } else { &o.branch },
                    if o.intent.is_empty() { "-".to_string() } else { truncate(&o.intent, 30) },
                    output::relative(&o.last_seen)
                ));
            }
            out.line("");
            if m.inbox_unread > 0 {
                out.line(format!("Inbox: {} unread ({} total)", m.inbox_unread, m.inbox_total));
            } else if m.inbox_total > 0 {
                out.line(format!("Inbox: {} messages (all read)", m.inbox_total));
            } else {
                out.line("Inbox: empty");
            }
        }
        _ => out.line("Not registered (use 'thrum quickstart --name NAME --role ROLE --module MODULE')"),
    }
    out.line(format!(
        "Daemon: running (PID {}, up {}, v{})",
        health.pid,
        output::duration(health.uptime_ms as i64),
        health.version
    ));
    Ok(0)
}

pub fn status(ctx: &mut Ctx) -> Result<u8> {
    let out = ctx.out;
    let me = ctx.me()?;
    let health = ctx.call::<ym::Health>(&Empty {})?;
    let who = ctx.call::<am::Whoami>(&am::WhoamiParams { caller_agent_id: Some(me.name.clone()) })?;
    let inbox = ctx.call::<mm::List>(&inbox_params(&me.name, &who.role))?;
    if out.json {
        out.json(&json!({
            "agent": who,
            "inbox": { "total": inbox.total, "unread": inbox.unread },
            "health": health,
        }));
        return Ok(0);
    }
    out.line(format!("Agent:    {} (@{})", who.agent_id, who.role));
    out.line(format!("Module:   {}", who.module));
    if !who.display.is_empty() {
        out.line(format!("Display:  {}", who.display));
    }
    if who.session_id.is_empty() {
        out.line("Session:  none (thrum session start)");
    } else {
        out.line(format!(
            "Session:  {} (duration: {})",
            who.session_id,
            output::duration(output::since_ms(&who.session_start))
        ));
    }
    if !who.intent.is_empty() {
        out.line(format!("Intent:   {}", who.intent));
    }
    if !who.branch.is_empty() {
        out.line(format!("Branch:   {}", who.branch));
    }
    out.line(format!("Inbox:    {} messages ({} unread)", inbox.total, inbox.unread));
    out.line(format!("Daemon:   running ({} uptime, v{})", output::duration(health.uptime_ms as i64), health.version));
    Ok(0)
}

pub fn ping(ctx: &mut Ctx, a: PingArgs) -> Result<u8> {
    let out = ctx.out;
    let name = a.agent.trim_start_matches('@').to_string();
    let agents = ctx.call::<am::List>(&am::ListParams::default())?;
    let Some(agent) = agents.agents.into_iter().find(|x| x.agent_id == name) else {
        bail!("unknown agent @{name}: see `thrum agent list`");
    };
    let ctxs =
        ctx.call::<am::ListContext>(&am::ListContextParams { agent_id: Some(name.clone()), ..Default::default() })?;
    let active = agent.presence == thrum_core::rules::presence(true);
    let seen = if agent.last_seen_at.is_empty() { agent.registered_at.clone() } else { agent.last_seen_at.clone() };
    let c = ctxs.contexts.into_iter().next();
    if out.json {
        out.json(&json!({
            "agent_id": name,
            "status": if active { "active" } else { "offline" },
            "last_seen_at": seen,
            "intent": c.as_ref().map(|c| c.intent.clone()),
            "current_task": c.as_ref().map(|c| c.current_task.clone()),
            "branch": c.as_ref().map(|c| c.branch.clone()),
        }));
        return Ok(0);
    }
    if active {
        out.line(format!("@{name}: active, last heartbeat {}", output::relative(&seen)));
        if let Some(c) = c {
            if !c.intent.is_empty() {
                out.line(format!("  Intent: {}", c.intent));
            }
            if !c.current_task.is_empty() {
                out.line(format!("  Task: {}", c.current_task));
            }
            if !c.branch.is_empty() {
                out.line(format!("  Branch: {}", c.branch));
            }
        }
    } else {
        out.line(format!("@{name}: offline (last seen {})", output::relative(&seen)));
    }
    Ok(0)
}

pub fn subscribe(ctx: &mut Ctx, a: SubscribeArgs) -> Result<u8> {
    let out = ctx.out;
    let me = ctx.me()?;
    let scope = match &a.scope {
        Some(s) => Some(thrum_core::Scope::parse(s, "scope").map_err(|e| anyhow!("{e}"))?),
        None => None,
    };
    if scope.is_none() && a.mention.is_none() && !a.all {
        bail!("say what to subscribe to: --scope type:value, --mention @role or --all");
    }
    let r = ctx.call::<ym::Subscribe>(&ym::SubscribeParams {
        scope,
        mention_role: a.mention.map(|m| m.trim_start_matches('@').to_string()),
        all: a.all,
        caller_agent_id: Some(me.name),
    })?;
    if !a.follow {
        if out.json {
            out.json(&r)
        } else {
            out.ok(format!("Subscribed (id {})", r.subscription_id))
        }
        return Ok(0);
    }
    if !out.json {
        out.ok(format!("Subscribed (id {}); waiting for messages (Ctrl-C to stop)", r.subscription_id));
    }
    let client = ctx.client()?;
    // Until the daemon goes away or our reader does (a write fails).
    while let Some((method, params)) = client.next_notification()? {
        let line = if out.json {
            json!({ "method": method, "params": params }).to_string()
        } else if method == <MessagePushed as Notification>::METHOD
            && let Ok(n) = serde_json::from_value::<MessageNotification>(params.clone())
        {
            format!("● {}  @{}  {}", n.message_id, n.author.agent_id, n.preview)
        } else {
            format!("{method}: {params}")
        };
        out.write_line(&line)?;
        out.flush()?;
    }
    out.note("thrum: the daemon closed the connection");
    Ok(1)
}

pub fn unsubscribe(ctx: &mut Ctx, a: UnsubscribeArgs) -> Result<u8> {
    let out = ctx.out;
    let me = ctx.me()?;
    let r =
        ctx.call::<ym::Unsubscribe>(&ym::UnsubscribeParams { subscription_id: a.id, caller_agent_id: Some(me.name) })?;
    if out.json {
        out.json(&r);
    } else if r.removed {
        out.ok(format!("Unsubscribed {}", a.id));
    } else {
        bail!("no subscription {} in your current session (see `thrum subscriptions`)", a.id);
    }
    Ok(0)
}

pub fn subscriptions(ctx: &mut Ctx) -> Result<u8> {
    let out = ctx.out;
    let me = ctx.me()?;
    let r = ctx.call::<ym::SubscriptionsList>(&ym::SubscriptionsListParams { caller_agent_id: Some(me.name) })?;
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    if r.subscriptions.is_empty() {
        out.line("No subscriptions.");
        return Ok(0);
    }
    for s in &r.subscriptions {
        // An empty mention role is never sent (the daemon omits it).
        let what = if s.all {
            "all messages".to_string()
        } else if !s.mention_role.is_empty() {
            format!("mention @{}", s.mention_role)
        } else {
            format!("scope {}:{}", s.scope_type, s.scope_value)
        };
        out.line(format!("  {:>4}  {what}", s.id));
    }
    Ok(0)
}

/// `thrum who-has FILE`: the active sessions whose worktree has the file
/// uncommitted, or changed in commits not yet on the merge target.
pub fn who_has(ctx: &mut Ctx, a: WhoHasArgs) -> Result<u8> {
    let out = ctx.out;
    let file = repo_relative(&a.file);
    if file.is_empty() {
        bail!("no file given: `thrum who-has PATH`");
    }
    // The daemon decides which files match (the same for every front end).
    let res = ctx.call::<am::ListContext>(&am::ListContextParams { file: Some(file.clone()), ..Default::default() })?;
    let holders: Vec<serde_json::Value> = res
        .contexts
        .iter()
        .map(|c| {
            let matches = |list: &[String]| list.iter().any(|x| c.matched_files.contains(x));
            json!({
                "agent_id": c.agent_id,
                "session_id": c.session_id,
                "branch": c.branch,
                "worktree_path": c.worktree_path,
                "uncommitted": matches(&c.uncommitted_files),
                "in_unmerged_commits": matches(&c.changed_files),
                "unmerged_commits": c.unmerged_commits.len(),
                "intent": c.intent,
                "git_updated_at": c.git_updated_at,
                "files": c.matched_files,
            })
        })
        .collect();
    if out.json {
        out.json(&json!({ "file": file, "agents": holders }));
        return Ok(0);
    }
    if holders.is_empty() {
        out.line(format!("No active agent is changing {file}"));
        return Ok(0);
    }
    for (h, c) in holders.iter().zip(&res.contexts) {
        let mut how = Vec::new();
        if h["uncommitted"] == true {
            how.push("uncommitted changes".to_string());
        }
        if h["in_unmerged_commits"] == true {
            let n = c.unmerged_commits.len();
            how.push(format!("{n} unmerged commit{}", if n == 1 { "" } else { "s" }));
        }
        let branch = if c.branch.is_empty() { String::new() } else { format!(" on {}", c.branch) };
        out.line(format!("@{} is editing {file}{branch} ({})", c.agent_id, how.join(", ")));
        if !c.intent.is_empty() {
            out.line(format!("  Intent: {}", c.intent));
        }
    }
    Ok(0)
}

/// A path as the repository sees it: relative to the worktree root when
/// it lies inside the current worktree, otherwise as given (a bare name
/// matches a file of that name anywhere).
fn repo_relative(arg: &str) -> String {
    use std::path::{Component, Path, PathBuf};
    let arg = arg.trim();
    let Ok(cwd) = std::env::current_dir() else { return arg.trim_start_matches("./").to_string() };
    let top = crate::context::worktree_root(&cwd);
    let p = Path::new(arg);
    let abs = if p.is_absolute() { p.to_path_buf() } else { cwd.join(p) };
    // Lexical clean-up: the file may no longer exist (a deletion counts).
    let mut clean = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    match top.and_then(|t| clean.strip_prefix(&t).ok().map(Path::to_path_buf)) {
        Some(rel) if !rel.as_os_str().is_empty() => {
            rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
        }
        _ => arg.trim_start_matches("./").to_string(),
    }
}
