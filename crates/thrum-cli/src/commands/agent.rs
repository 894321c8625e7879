//! `thrum quickstart`, `whoami` and `agent …`.

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::json;
use thrum_core::guard::{self, Guard, Mode};
use thrum_core::identity::{IDENTITY_VERSION, IdentityAgent, IdentityFile};
use thrum_core::{AgentName, Scope};
use thrum_proto::methods::agent::{self as am, CleanupResult, RegisterParams, RegisterResult};
use thrum_proto::methods::session::{self as sm, SetIntentResult, StartResult};

use crate::commands::session::{self, SessionCmd};
use crate::context::Ctx;
use crate::identity;
use crate::output::{self, Out, truncate};

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Agent name ([a-z0-9_]+); THRUM_NAME takes priority.
    #[arg(long)]
    pub name: Option<String>,
    /// Display name.
    #[arg(long)]
    pub display: Option<String>,
    /// What you are working on.
    #[arg(long)]
    pub intent: Option<String>,
    /// Preferred runtime (claude, codex, cursor, gemini, …).
    #[arg(long)]
    pub runtime: Option<String>,
    /// Take over a name held elsewhere, or re-register under a new name.
    #[arg(long)]
    pub force: bool,
    /// Show what would happen without doing it.
    #[arg(long)]
    pub dry_run: bool,
    /// Store no agent PID in the identity file.
    #[arg(long)]
    pub no_agent_pid: bool,
    /// Write no generated files besides the identity (no role preamble).
    #[arg(long, conflicts_with = "preamble_file")]
    pub no_init: bool,
    /// Your preamble: the default preamble followed by this file's text
    /// (replaces a preamble already there).
    #[arg(long, value_name = "PATH")]
    pub preamble_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Print only this field's value.
    #[arg(long)]
    pub field: Option<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum AgentCmd {
    /// Register this agent.
    Register(RegisterArgs),
    /// List registered agents.
    List(ListArgs),
    /// Show who you are.
    Whoami(WhoamiArgs),
    /// Delete an agent and everything it sent.
    Delete(DeleteArgs),
    /// Find and remove orphaned agents.
    Cleanup(CleanupArgs),
    /// Set your operational status (working, idle, blocked).
    SetStatus(SetStatusArgs),
    /// Alias of `session start`.
    Start,
    /// Alias of `session end`.
    End(session::EndArgs),
    /// Alias of `session set-intent`.
    SetIntent(session::TextArg),
    /// Alias of `session set-task`.
    SetTask(session::TextArg),
    /// Alias of `session heartbeat`.
    Heartbeat(session::HeartbeatArgs),
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub display: Option<String>,
    /// Replace a conflicting registration.
    #[arg(long)]
    pub force: bool,
    /// The same agent returning: update the registration.
    #[arg(long)]
    pub re_register: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Show work contexts (branch, commits, intent) as a table.
    #[arg(long)]
    pub context: bool,
    /// Include the daemon's reserved pseudo-agents (`@supervisor_<project>`), marked ⊙.
    #[arg(long)]
    pub system: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    pub name: String,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// List orphans without deleting.
    #[arg(long, conflicts_with = "force")]
    pub dry_run: bool,
    /// Delete every orphan without asking.
    #[arg(long)]
    pub force: bool,
    /// Days without activity after which an agent counts as stale.
    #[arg(long, default_value_t = 30)]
    pub threshold: i64,
}

#[derive(Debug, Args)]
pub struct SetStatusArgs {
    /// working, idle or blocked.
    pub status: String,
    /// Another agent (through the daemon).
    #[arg(long)]
    pub agent: Option<String>,
}

pub fn run(ctx: &mut Ctx, cmd: AgentCmd) -> Result<u8> {
    match cmd {
        AgentCmd::Register(a) => register(ctx, a),
        AgentCmd::List(a) => list(ctx, a),
        AgentCmd::Whoami(a) => whoami(ctx, a),
        AgentCmd::Delete(a) => delete(ctx, a),
        AgentCmd::Cleanup(a) => cleanup(ctx, a),
        AgentCmd::SetStatus(a) => set_status(ctx, a),
        AgentCmd::Start => session::run(ctx, SessionCmd::Start),
        AgentCmd::End(a) => session::run(ctx, SessionCmd::End(a)),
        AgentCmd::SetIntent(a) => session::run(ctx, SessionCmd::SetIntent(a)),
        AgentCmd::SetTask(a) => session::run(ctx, SessionCmd::SetTask(a)),
        AgentCmd::Heartbeat(a) => session::run(ctx, SessionCmd::Heartbeat(a)),
    }
}

/// The name to register: THRUM_NAME beats --name.
fn chosen_name(flag: Option<&str>) -> Option<String> {
    thrum_core::env::var("THRUM_NAME").ok().filter(|n| !n.is_empty()).or_else(|| flag.map(str::to_string))
}

fn role_module(ctx: &Ctx, what: &str) -> Result<(String, String)> {
    match (ctx.role.clone(), ctx.module.clone()) {
        (Some(r), Some(m)) if !r.is_empty() && !m.is_empty() => Ok((r, m)),
        _ => bail!("--role and --module are required for {what} (or set THRUM_ROLE and THRUM_MODULE)"),
    }
}

fn worktree_root(ctx: &mut Ctx) -> Result<std::path::PathBuf> {
    let layout = ctx.layout()?.clone();
    Ok(thrum_git::Git::new(&layout.worktree_root).toplevel().unwrap_or(layout.worktree_root))
}

/// Registers with the daemon and writes the identity file. `params`
/// need not carry the worktree; it is filled in here.
fn do_register(ctx: &mut Ctx, mut params: RegisterParams, runtime: Option<&str>) -> Result<RegisterResult> {
    let tree = worktree_root(ctx)?;
    params.worktree = tree.display().to_string();
    let (role, module, display, pid) =
        (params.role.clone(), params.module.clone(), params.display.clone(), params.agent_pid.unwrap_or(0));
    let r = ctx.call::<am::Register>(&params)?;
    if r.status == "registered" || r.status == "updated" {
        let layout = ctx.layout()?.clone();
        let path = layout.identities_dir().join(format!("{}.json", r.agent_id));
        let mut f = identity::load(&path).unwrap_or_default();
        f.version = IDENTITY_VERSION;
        f.agent = IdentityAgent {
            kind: "agent".into(),
            name: r.agent_id.clone(),
            role: role.clone(),
            module: module.clone(),
            display: display.clone(),
            other: f.agent.other.clone(),
        };
        f.worktree = tree.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        f.branch = thrum_git::head_branch(&tree);
        f.agent_pid = pid;
        f.context_file = format!("context/{}.md", r.agent_id);
        if let Some(rt) = runtime {
            f.preferred_runtime = rt.to_string();
        }
        if f.agent_status.is_empty() {
            f.agent_status = "idle".into();
        }
        f.updated_at = thrum_core::time::now_rfc3339();
        identity::save(&layout, &f)?;
    }
    Ok(r)
}

#[derive(Debug, Default, Serialize)]
struct QuickstartJson {
    register: Option<RegisterResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<StartResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    intent: Option<SetIntentResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime: Option<String>,
    dry_run: bool,
}

pub fn quickstart(ctx: &mut Ctx, a: QuickstartArgs) -> Result<u8> {
    let (role, module) = role_module(ctx, "quickstart")?;
    let name = match chosen_name(a.name.as_deref()) {
        Some(n) => AgentName::parse(&n).map_err(|e| anyhow!("invalid agent name: {e}"))?.to_string(),
        None => bail!("--name is required (a name such as alice: lowercase letters, digits, underscores)"),
    };
    if name == role {
        bail!("agent name {name:?} cannot be the same as its role — use a distinct name (e.g., '{role}_main')");
    }
    let out = ctx.out;
    let layout = ctx.layout()?.clone();
    let pid = if a.no_agent_pid { 0 } else { identity::runtime_pid() };
    // G1a: a runtime that registered here once and now asks for another
    // name is renaming itself, which would leave its first identity behind.
    // A THRUM_NAME in the environment says the name was chosen for this
    // agent on purpose: that is how several agents share one shell and one
    // worktree, so it is not a rename. Nor is registering again under a
    // name this runtime already holds.
    let explicit = thrum_core::env::var("THRUM_NAME").is_ok_and(|n| !n.is_empty());
    let owns_name =
        identity::load(&layout.identities_dir().join(format!("{name}.json"))).is_ok_and(|f| f.agent_pid == pid);
    if !a.force && !explicit && !owns_name && pid > 0 {
        let owned = identity::names(&layout).into_iter().filter(|other| *other != name).find(|other| {
            identity::load(&layout.identities_dir().join(format!("{other}.json"))).is_ok_and(|f| f.agent_pid == pid)
        });
        if let Some(other) = owned {
            let guards = identity::guards(&layout.thrum_dir, out);
            let why = format!(
                "this session (PID {pid}) is already registered here as @{other}; to stay @{other}, rerun with --name {other}; to add @{name} as another agent in this worktree, run it as THRUM_NAME={name} thrum quickstart --name {name} …; to replace @{other}, pass --force"
            );
            match guards.mode(Guard::QuickstartSelfRename) {
                Mode::Strict => bail!("{why}"),
                Mode::Warn => out.warn(guard::fired(Guard::QuickstartSelfRename, "caller_already_owns_identity", &why)),
                Mode::Off => {}
            }
        }
    }
    // Read before anything is written: a bad path changes nothing.
    let preamble_text = match &a.preamble_file {
        Some(p) => Some(super::context::composed_preamble(p)?),
        None => None,
    };
    if a.dry_run {
        if out.json {
            out.json(&QuickstartJson { dry_run: true, ..Default::default() });
        } else {
            out.line(format!("Would register @{name} (role {role}, module {module})"));
            out.line("Would start a session");
            if let Some(i) = &a.intent {
                out.line(format!("Would set intent: {i}"));
            }
        }
        return Ok(0);
    }
    let mut params = RegisterParams {
        name: name.clone(),
        role: role.clone(),
        module: module.clone(),
        display: a.display.clone().or_else(|| ctx.display.clone()).unwrap_or_default(),
        force: a.force,
        re_register: false,
        agent_pid: (pid > 0).then_some(pid),
        worktree: String::new(),
    };
    let mut reg = do_register(ctx, params.clone(), a.runtime.as_deref())?;
    if reg.status == "conflict" {
        params.re_register = true;
        reg = do_register(ctx, params, a.runtime.as_deref())?;
    }
    if reg.status == "conflict" {
        bail!("register failed: conflict with {:?}", reg.conflict.map(|c| c.existing_agent_id));
    }
    let tree = worktree_root(ctx)?;
    let session = ctx
        .call::<sm::Start>(&sm::StartParams {
            agent_id: reg.agent_id.clone(),
            refs: vec![Scope::new("worktree", tree.display().to_string())],
            ..Default::default()
        })
        .context("session start failed")?;
    let intent = match a.intent.as_deref().filter(|i| !i.is_empty()) {
        Some(i) => Some(
            ctx.call::<sm::SetIntent>(&sm::SetIntentParams {
                session_id: session.session_id.clone(),
                intent: i.to_string(),
            })
            .context("set intent failed")?,
        ),
        None => None,
    };
    // Record the session in the identity file for tools that read it.
    let path = layout.identities_dir().join(format!("{}.json", reg.agent_id));
    if let Ok(mut f) = identity::load(&path) {
        f.session_id = session.session_id.clone();
        f.intent = intent.as_ref().map(|i| i.intent.clone()).unwrap_or_default();
        f.updated_at = thrum_core::time::now_rfc3339();
        identity::save(&layout, &f)?;
    }
    let preamble = match preamble_text {
        Some(text) => {
            let path = layout.context_dir().join(format!("{}_preamble.md", reg.agent_id));
            super::agent_docs::write_atomic(&path, &text)?;
            Some((path, None))
        }
        None if a.no_init => None,
        None => role_preamble(ctx, &layout, &reg.agent_id).map(|(p, role)| (p, Some(role))),
    };
    if out.json {
        out.json(&QuickstartJson {
            register: Some(reg),
            session: Some(session),
            intent,
            runtime: a.runtime,
            dry_run: false,
        });
        return Ok(0);
    }
    out.ok(format!("Registered as @{} ({})", reg.agent_id, reg.agent_id));
    match preamble {
        Some((p, Some(role))) => out.ok(format!("Preamble from the {role} role template: {}", p.display())),
        Some((p, None)) => {
            out.ok(format!("Preamble from {}: {}", a.preamble_file.unwrap_or_default().display(), p.display()))
        }
        None => {}
    }
    out.ok(format!("Session started: {}", session.session_id));
    if let Some(i) = intent {
        out.ok(format!("Intent set: {}", i.intent));
    }
    crate::hints::info(
        "quickstart.next-send",
        format!("you are @{name}; see who else is here, then say hello"),
        &[("team", "thrum team".into()), ("send", "thrum send \"hello\" --to @<agent>".into())],
    );
    Ok(0)
}

fn register(ctx: &mut Ctx, a: RegisterArgs) -> Result<u8> {
    let (role, module) = role_module(ctx, "agent register")?;
    let name = match chosen_name(a.name.as_deref()) {
        Some(n) => AgentName::parse(&n).map_err(|e| anyhow!("invalid agent name: {e}"))?.to_string(),
        None => String::new(),
    };
    let out = ctx.out;
    let pid = identity::runtime_pid();
    let params = RegisterParams {
        name,
        role,
        module,
        display: a.display.or_else(|| ctx.display.clone()).unwrap_or_default(),
        force: a.force,
        re_register: a.re_register,
        agent_pid: (pid > 0).then_some(pid),
        worktree: String::new(),
    };
    let r = do_register(ctx, params, None)?;
    if out.json {
        out.json(&r);
        return Ok(if r.status == "conflict" { 1 } else { 0 });
    }
    match r.status.as_str() {
        "updated" => out.ok(format!("Agent re-registered: {}", r.agent_id)),
        "conflict" => {
            let c = r.conflict.unwrap_or_default();
            out.line("✗ Registration conflict");
            out.line("  Another agent already registered with the same role/module:");
            out.line(format!("  Agent ID:   {}", c.existing_agent_id));
            out.line(format!("  Registered: {}", output::absolute(&c.registered_at)));
            out.line(format!("  Last seen:  {}", output::absolute(&c.last_seen_at)));
            out.line("");
            out.line("Use --force to override or --re-register if this is the same agent returning.");
            return Ok(1);
        }
        _ => out.ok(format!("Agent registered: {}", r.agent_id)),
    }
    crate::hints::info(
        "agent.register.next-session",
        "registered; no session yet",
        &[("start", "thrum session start".into())],
    );
    Ok(0)
}

#[derive(Debug, Default, Serialize)]
struct WhoamiJson {
    agent_id: String,
    role: String,
    module: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    display: String,
    source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    session_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    session_start: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    branch: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    worktree: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    intent: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    identity_file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<i64>,
    daemon_running: bool,
}

/// Works from the identity file alone; the daemon (if running) adds the
/// session and intent.
pub fn whoami(ctx: &mut Ctx, a: WhoamiArgs) -> Result<u8> {
    let out = ctx.out;
    let me = ctx.me()?;
    let f: IdentityFile = me.file.clone().unwrap_or_default();
    let mut j = WhoamiJson {
        agent_id: me.name.clone(),
        role: ctx.role.clone().unwrap_or(f.agent.role.clone()),
        module: ctx.module.clone().unwrap_or(f.agent.module.clone()),
        display: ctx.display.clone().unwrap_or(f.agent.display.clone()),
        source: me.source.into(),
        branch: f.branch.clone(),
        worktree: f.worktree.clone(),
        intent: f.intent.clone(),
        identity_file: me.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        status: f.agent_status.clone(),
        updated_at: f.updated_at.clone(),
        pid: (f.agent_pid > 0).then_some(f.agent_pid),
        ..Default::default()
    };
    if let Some(c) = ctx.try_client()
        && let Ok(w) = c.call::<am::Whoami>(&am::WhoamiParams { caller_agent_id: Some(me.name.clone()) })
    {
        j.daemon_running = true;
        j.session_id = w.session_id;
        j.session_start = w.session_start;
        if !w.intent.is_empty() {
            j.intent = w.intent;
        }
        if !w.branch.is_empty() {
            j.branch = w.branch;
        }
    }
    if let Some(field) = a.field {
        let v = serde_json::to_value(&j)?;
        let known: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        match v.get(&field) {
            Some(serde_json::Value::String(s)) => out.line(s),
            Some(other) => out.line(other.to_string()),
            None if WhoamiJson::FIELDS.contains(&field.as_str()) => out.line(""),
            None => bail!("unknown field {field:?} (known: {})", WhoamiJson::FIELDS.join(", ")),
        }
        let _ = known;
        return Ok(0);
    }
    if out.json {
        out.json(&j);
        return Ok(0);
    }
    out.line(format!("Agent ID:  {}", j.agent_id));
    out.line(format!("Role:      @{}", j.role));
    out.line(format!("Module:    {}", j.module));
    if !j.display.is_empty() {
        out.line(format!("Display:   {}", j.display));
    }
    if !j.branch.is_empty() {
        out.line(format!("Branch:    {}", j.branch));
    }
    if !j.intent.is_empty() {
        out.line(format!("Intent:    {}", j.intent));
    }
    if j.session_id.is_empty() {
        if j.daemon_running {
            out.line("Session:   none (use 'thrum session start' to begin)");
        } else {
            out.line("Session:   unknown (daemon not running)");
        }
    } else {
        out.line(format!("Session:   {} ({})", j.session_id, output::relative(&j.session_start)));
    }
    if !j.identity_file.is_empty() {
        out.line(format!("Identity:  {}", j.identity_file));
    }
    Ok(0)
}

impl WhoamiJson {
    const FIELDS: &'static [&'static str] = &[
        "agent_id",
        "role",
        "module",
        "display",
        "source",
        "session_id",
        "session_start",
        "branch",
        "worktree",
        "intent",
        "identity_file",
        "status",
        "updated_at",
        "pid",
        "daemon_running",
    ];
}

fn list(ctx: &mut Ctx, a: ListArgs) -> Result<u8> {
    let out = ctx.out;
    let (role, module) = (ctx.role.clone(), ctx.module.clone());
    let mut agents = ctx.call::<am::List>(&am::ListParams { role, module })?;
    let pseudo = |a: &thrum_core::views::AgentInfo| thrum_core::name::is_pseudo_agent(&a.agent_id, &a.role, &a.module);
    if !a.system {
        agents.agents.retain(|a| !pseudo(a));
    }
    let contexts = ctx.call::<am::ListContext>(&am::ListContextParams::default())?;
    if a.context {
        if out.json {
            out.json(&contexts);
            return Ok(0);
        }
        if contexts.contexts.is_empty() {
            out.line("No active work contexts.");
            return Ok(0);
        }
        out.line(format!(
            "{:<14} {:<14} {:<20} {:>7} {:>5} {:<30} {}",
            "AGENT", "SESSION", "BRANCH", "COMMITS", "FILES", "INTENT", "UPDATED"
        ));
        out.line("─".repeat(104));
        for c in &contexts.contexts {
            let files = c.changed_files.len().max(c.uncommitted_files.len());
            let upd = [&c.git_updated_at, &c.intent_updated_at, &c.task_updated_at]
                .into_iter()
                .max()
                .cloned()
                .unwrap_or_default();
            out.line(format!(
                "{:<14} {:<14} {:<20} {:>7} {:>5} {:<30} {}",
                truncate(&format!("@{}", c.agent_id), 14),
                truncate(&c.session_id, 14),
                truncate(&c.branch, 20),
                c.unmerged_commits.len(),
                files,
                truncate(&c.intent, 30),
                if upd.is_empty() { String::new() } else { output::relative(&upd) }
            ));
        }
        return Ok(0);
    }
    if out.json {
        out.json(&json!({ "agents": agents.agents, "contexts": contexts.contexts }));
        return Ok(0);
    }
    if agents.agents.is_empty() {
        out.line("No agents registered.");
        crate::hints::info(
            "agent.list.none-registered",
            "nobody has registered in this repository yet",
            &[("register", "thrum quickstart --name <name> --role <role> --module <module>".into())],
        );
        return Ok(0);
    }
    out.line(format!("Registered agents ({}):", agents.agents.len()));
    out.line("");
    for ag in &agents.agents {
        let ctxs: Vec<_> = contexts.contexts.iter().filter(|c| c.agent_id == ag.agent_id).collect();
        let active = ag.presence == thrum_core::rules::presence(true);
        let (glyph, state) = match (pseudo(ag), active) {
            (true, _) => ("⊙", "reserved"),
            (false, true) => ("●", "active"),
            (false, false) => ("○", "offline"),
        };
        out.line(format!("┌─ {glyph} @{} ({state})", ag.agent_id));
        out.line(format!("│  Role:    {}", ag.role));
        out.line(format!("│  Module:  {}", ag.module));
        if let Some(c) = ctxs.first() {
            if !c.intent.is_empty() {
                out.line(format!("│  Intent:  {}", truncate(&c.intent, 50)));
            }
            if !c.current_task.is_empty() {
                out.line(format!("│  Task:    {}", c.current_task));
            }
            if !c.branch.is_empty() {
                out.line(format!("│  Branch:  {}", c.branch));
            }
        }
        let seen = if ag.last_seen_at.is_empty() { &ag.registered_at } else { &ag.last_seen_at };
        out.line(format!("│  {} {}", if active { "Active:" } else { "Last seen:" }, output::relative(seen)));
        out.line("└─");
        out.line("");
    }
    Ok(0)
}

fn confirm(out: Out, prompt: &str) -> Result<bool> {
    use std::io::{BufRead, IsTerminal};
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {prompt} without confirmation: pass --force");
    }
    out.write(&format!("{prompt}? [y/N] "))?;
    out.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

fn delete(ctx: &mut Ctx, a: DeleteArgs) -> Result<u8> {
    let out = ctx.out;
    let name = AgentName::parse(&a.name).map_err(|e| anyhow!("invalid agent name: {e}"))?.to_string();
    if !a.force && !confirm(out, &format!("delete agent '{name}' and all associated data"))? {
        out.line("Deletion canceled.");
        return Ok(0);
    }
    let r = ctx.call::<am::Delete>(&am::DeleteParams { name: name.clone(), caller_agent_id: None })?;
    let layout = ctx.layout()?.clone();
    let _ = std::fs::remove_file(layout.identities_dir().join(format!("{name}.json")));
    if out.json {
        out.json(&r);
    } else {
        out.ok(format!("Agent deleted: {}", r.agent_id));
    }
    Ok(0)
}

fn cleanup(ctx: &mut Ctx, a: CleanupArgs) -> Result<u8> {
    let out = ctx.out;
    let preview =
        ctx.call::<am::Cleanup>(&am::CleanupParams { dry_run: true, force: false, threshold: Some(a.threshold) })?;
    let go = if a.dry_run || preview.orphans.is_empty() {
        false
    } else if a.force {
        true
    } else {
        if !out.json {
            print_orphans(out, &preview);
        }
        confirm(out, "delete these orphaned agents")?
    };
    let result = if go {
        ctx.call::<am::Cleanup>(&am::CleanupParams { dry_run: false, force: true, threshold: Some(a.threshold) })?
    } else {
        preview
    };
    if out.json {
        out.json(&result);
        return Ok(0);
    }
    if result.orphans.is_empty() {
        out.line("No orphaned agents found.");
        return Ok(0);
    }
    if !go || a.force {
        print_orphans(out, &result);
    }
    for d in &result.deleted {
        out.ok(format!("Deleted {d}"));
    }
    if go {
        out.ok(format!("Deleted {} orphaned agent(s)", result.deleted.len()));
    }
    Ok(0)
}

fn print_orphans(out: Out, r: &CleanupResult) {
    out.line(format!("Orphaned agents ({}):", r.orphans.len()));
    let w = r.orphans.iter().map(|o| o.agent_id.len()).max().unwrap_or(0);
    for o in &r.orphans {
        out.line(format!("  {:<w$} — {} ({} messages)", o.agent_id, o.reason, o.message_count));
    }
    out.line("");
}

fn set_status(ctx: &mut Ctx, a: SetStatusArgs) -> Result<u8> {
    let out = ctx.out;
    if !matches!(a.status.as_str(), "working" | "idle" | "blocked") {
        bail!("invalid status {:?}: must be working, idle, or blocked", a.status);
    }
    match &a.agent {
        Some(agent) => {
            let r = ctx.call::<am::SetStatus>(&am::SetStatusParams {
                agent: agent.trim_start_matches('@').to_string(),
                status: a.status.clone(),
            })?;
            if out.json {
                out.json(&r);
            } else {
                out.ok(format!("Status set: {} (agent: {})", a.status, agent.trim_start_matches('@')));
            }
        }
        None => {
            let me = ctx.me()?;
            let layout = ctx.layout()?.clone();
            let mut f = me.file.ok_or_else(|| anyhow!("no identity file for {}", me.name))?;
            f.agent_status = a.status.clone();
            f.agent_status_updated_at = thrum_core::time::now_rfc3339();
            identity::save(&layout, &f)?;
            if out.json {
                out.json(&json!({ "agent": me.name, "status": a.status }));
            } else {
                out.ok(format!("Status set: {}", a.status));
            }
        }
    }
    Ok(0)
}

/// Writes a new agent's preamble from its role's template (the project's,
/// else the shipped one), unless it already has a preamble. Returns where
/// it was written, and the role.
fn role_preamble(ctx: &mut Ctx, layout: &thrum_core::Layout, agent_id: &str) -> Option<(std::path::PathBuf, String)> {
    let path = layout.context_dir().join(format!("{agent_id}_preamble.md"));
    if path.exists() {
        return None;
    }
    let agents = ctx.call::<am::List>(&am::ListParams::default()).ok()?;
    let me = agents.agents.iter().find(|a| a.agent_id == agent_id)?;
    let text = super::roles::preamble_for(ctx, me, &agents.agents)?;
    super::agent_docs::write_atomic(&path, &text).ok()?;
    Some((path, me.role.clone()))
}
