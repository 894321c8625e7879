//! `thrum session …` (and the `agent` aliases).

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, Subcommand};
use thrum_core::Scope;
use thrum_proto::methods::agent;
use thrum_proto::methods::session as sm;

use crate::context::Ctx;
use crate::identity;
use crate::output::{self, truncate};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SessionCmd {
    /// Start a work session.
    Start,
    /// End the current session.
    End(EndArgs),
    /// List sessions.
    List(ListArgs),
    /// Say you are alive (updates last seen and branch).
    Heartbeat(HeartbeatArgs),
    /// Set what you are working on ("" clears).
    SetIntent(TextArg),
    /// Set your current task ("" clears).
    SetTask(TextArg),
}

#[derive(Debug, Args)]
pub struct EndArgs {
    /// normal, crash or superseded.
    #[arg(long, default_value = "normal")]
    pub reason: String,
    /// End this session instead of the current one.
    #[arg(long)]
    pub session_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only active sessions.
    #[arg(long)]
    pub active: bool,
    /// Only this agent's sessions.
    #[arg(long)]
    pub agent: Option<String>,
}

#[derive(Debug, Args)]
pub struct HeartbeatArgs {
    #[arg(long)]
    pub add_scope: Vec<String>,
    #[arg(long)]
    pub remove_scope: Vec<String>,
    #[arg(long)]
    pub add_ref: Vec<String>,
    #[arg(long)]
    pub remove_ref: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TextArg {
    pub text: String,
}

/// The caller's current session id, or an error telling how to start one.
pub fn current_session(ctx: &mut Ctx, me: &str) -> Result<String> {
    let w = ctx.call::<agent::Whoami>(&agent::WhoamiParams { caller_agent_id: Some(me.to_string()) })?;
    if w.session_id.is_empty() {
        bail!("no active session - start one with 'thrum session start'");
    }
    Ok(w.session_id)
}

pub fn run(ctx: &mut Ctx, cmd: SessionCmd) -> Result<u8> {
    let out = ctx.out;
    match cmd {
        SessionCmd::Start => {
            let me = ctx.me().context("failed to get agent identity")?;
            let layout = ctx.layout()?.clone();
            let tree = thrum_git::Git::new(&layout.worktree_root).toplevel().unwrap_or(layout.worktree_root.clone());
            let r = ctx.call::<sm::Start>(&sm::StartParams {
                agent_id: me.name.clone(),
                refs: vec![Scope::new("worktree", tree.display().to_string())],
                ..Default::default()
            })?;
            if let Some(mut f) = me.file {
                f.session_id = r.session_id.clone();
                f.updated_at = thrum_core::time::now_rfc3339();
                identity::save(&layout, &f)?;
            }
            if out.json {
                out.json(&r);
            } else {
                out.ok(format!("Session started: {}", r.session_id));
                out.line(format!("  Agent:      {}", r.agent_id));
                out.line(format!("  Started:    {}", output::absolute(&r.started_at)));
            }
        }
        SessionCmd::End(a) => {
            let sid = match a.session_id {
                Some(s) => s,
                None => {
                    let me = ctx.me()?;
                    current_session(ctx, &me.name).map_err(|_| anyhow!("no active session to end"))?
                }
            };
            let r = ctx.call::<sm::End>(&sm::EndParams { session_id: sid, reason: a.reason })?;
            if out.json {
                out.json(&r);
            } else {
                out.ok(format!("Session ended: {}", r.session_id));
                out.line(format!("  Ended:      {}", output::absolute(&r.ended_at)));
                out.line(format!("  Duration:   {}", output::duration(r.duration_ms)));
            }
        }
        SessionCmd::List(a) => {
            let agent = a.agent.map(|s| s.trim_start_matches('@').to_string());
            let r = ctx.call::<sm::List>(&sm::ListParams { agent_id: agent, active_only: a.active })?;
            if out.json {
                out.json(&r);
                return Ok(0);
            }
            if r.sessions.is_empty() {
                out.line("No sessions found.");
                return Ok(0);
            }
            out.line(format!("Sessions ({}):", r.sessions.len()));
            for s in &r.sessions {
                let when = if s.ended_at.is_empty() { &s.started_at } else { &s.ended_at };
                out.line(format!(
                    "  {:<30}  {:<16}  {:<6}  {:<9}  {}",
                    s.session_id,
                    truncate(&s.agent_id, 16),
                    s.status,
                    output::relative(when),
                    truncate(&s.intent, 40)
                ));
            }
        }
        SessionCmd::Heartbeat(a) => {
            let me = ctx.me()?;
            let sid = current_session(ctx, &me.name)?;
            let p = sm::HeartbeatParams {
                session_id: sid,
                add_scopes: super::scopes(&a.add_scope, "scope")?,
                remove_scopes: super::scopes(&a.remove_scope, "scope")?,
                add_refs: super::scopes(&a.add_ref, "ref")?,
                remove_refs: super::scopes(&a.remove_ref, "ref")?,
            };
            let r = ctx.call::<sm::Heartbeat>(&p)?;
            if out.json {
                out.json(&r);
            } else {
                out.ok(format!("Heartbeat sent: {}", r.session_id));
                if !r.branch.is_empty() {
                    out.line(format!("  Context: branch: {}", r.branch));
                }
            }
        }
        SessionCmd::SetIntent(t) => {
            let me = ctx.me()?;
            let sid = current_session(ctx, &me.name)?;
            let r = ctx.call::<sm::SetIntent>(&sm::SetIntentParams { session_id: sid, intent: t.text })?;
            let layout = ctx.layout()?.clone();
            if let Some(mut f) = me.file {
                f.intent = r.intent.clone();
                f.updated_at = thrum_core::time::now_rfc3339();
                identity::save(&layout, &f)?;
            }
            if out.json {
                out.json(&r);
            } else if r.intent.is_empty() {
                out.ok("Intent cleared");
            } else {
                out.ok(format!("Intent set: {}", r.intent));
            }
        }
        SessionCmd::SetTask(t) => {
            let me = ctx.me()?;
            let sid = current_session(ctx, &me.name)?;
            let r = ctx.call::<sm::SetTask>(&sm::SetTaskParams { session_id: sid, current_task: t.text })?;
            if out.json {
                out.json(&r);
            } else if r.current_task.is_empty() {
                out.ok("Task cleared");
            } else {
                out.ok(format!("Task set: {}", r.current_task));
            }
        }
    }
    Ok(0)
}
