//! `thrum prime [--json]`: everything a fresh session (or one that just
//! lost its context to compaction) needs, in one briefing: who you are,
//! your session and git state, the team, unread messages, the daemon and
//! sync, your saved notes, and what to run next. A restart snapshot
//! waiting for you (`thrum tmux restart`, `snapshot save`) comes first, as
//! a directive, and is consumed.

use anyhow::Result;
use serde_json::{Value, json};
use thrum_core::views::ContextInfo;
use thrum_proto::methods::Empty;
use thrum_proto::methods::agent as am;
use thrum_proto::methods::message as mm;
use thrum_proto::methods::session as sm;
use thrum_proto::methods::system::{self as ym, HealthResult, SyncStatusResult};

use super::agent_docs;
use crate::context::Ctx;
use crate::output::{self, truncate};

/// Unread messages shown in the briefing (the rest: `thrum inbox`).
const SHOWN_UNREAD: i64 = 5;

pub fn run(ctx: &mut Ctx) -> Result<u8> {
    run_with(ctx, None)
}

/// The briefing, with a waiting restart snapshot cut to
/// `snapshot_budget` characters (a hook's context has a size cap).
pub fn run_with(ctx: &mut Ctx, snapshot_budget: Option<usize>) -> Result<u8> {
    let out = ctx.out;
    let health = ctx.call::<ym::Health>(&Empty {})?;
    // Rendered as null in --json when the daemon cannot say.
    let sync: Option<SyncStatusResult> = ctx.call::<ym::SyncStatus>(&Empty {}).ok();
    suggest_agent_block();
    let me = match ctx.me() {
        Ok(m) => m,
        Err(e) => {
            let next = vec!["thrum quickstart --name NAME --role ROLE --module MODULE".to_string()];
            if out.json {
                out.json(&json!({
                    "identity": Value::Null, "error": e.to_string(), "daemon": daemon_json(&health),
                    "sync": sync, "next": next,
                }));
            } else {
                out.line(format!("Not registered here: {e}"));
                out.line(format!("Next: {}", next[0]));
                daemon_lines(ctx, &health, &sync);
            }
            return Ok(0);
        }
    };
    let name = me.name.clone();
    // Alone in the repository: no team to coordinate with or wait for.
    let single = super::config::single_agent(ctx);
    let who = ctx.call::<am::Whoami>(&am::WhoamiParams { caller_agent_id: Some(name.clone()) })?;
    let agents = ctx.call::<am::List>(&am::ListParams::default())?;
    let sessions = ctx.call::<sm::List>(&sm::ListParams { agent_id: None, active_only: true })?;
    let contexts = ctx.call::<am::ListContext>(&am::ListContextParams::default())?;
    let inbox = mm::ListParams {
        caller_agent_id: Some(name.clone()),
        for_agent: Some(name.clone()),
        for_agent_role: Some(who.role.clone()),
        exclude_self: true,
        ..Default::default()
    };
    let unread = ctx.call::<mm::List>(&mm::ListParams {
        unread_for_agent: Some(name.clone()),
        page_size: Some(SHOWN_UNREAD),
        ..inbox.clone()
    })?;
    let all = ctx.call::<mm::List>(&mm::ListParams { page_size: Some(1), ..inbox })?;
    let mine: Option<&ContextInfo> = contexts.contexts.iter().find(|c| c.agent_id == name);
    let team: Vec<Value> = agents
        .agents
        .iter()
        .filter(|a| a.agent_id != name)
        .filter_map(|a| {
            let s = sessions.sessions.iter().find(|s| s.agent_id == a.agent_id)?;
            let c = contexts.contexts.iter().find(|c| c.session_id == s.session_id);
            Some(json!({
                "agent_id": a.agent_id, "role": a.role, "module": a.module,
                "branch": c.map(|c| c.branch.clone()).unwrap_or_default(),
                "intent": c.map(|c| c.intent.clone()).unwrap_or_default(),
                "last_seen_at": if a.last_seen_at.is_empty() { &a.registered_at } else { &a.last_seen_at },
            }))
        })
        .collect();
    let Saved { context, preamble, updated } = saved_context(ctx, &name);
    let restart = take_snapshot(ctx, &name);
    let mut next = Vec::new();
    if who.session_id.is_empty() {
        next.push("thrum session start".to_string());
    }
    if unread.unread > 0 {
        next.push("thrum inbox --unread".to_string());
        if let Some(m) = unread.messages.first() {
            next.push(format!("thrum reply {} \"...\"", m.message_id));
        }
    }
    if who.intent.is_empty() {
        next.push("thrum agent set-intent \"what you are working on\"".to_string());
    }
    if !single {
        next.push("thrum wait --timeout 5m".to_string());
    }

    if out.json {
        out.json(&json!({
            "identity": { "agent_id": name, "role": who.role, "module": who.module, "display": who.display, "source": me.source },
            "session": if who.session_id.is_empty() { Value::Null } else {
                json!({ "session_id": who.session_id, "started_at": who.session_start, "intent": who.intent,
                        "current_task": mine.map(|c| c.current_task.clone()).unwrap_or_default() })
            },
            "work": mine.map(|c| json!({
                "branch": c.branch, "worktree_path": c.worktree_path,
                "unmerged_commits": c.unmerged_commits.len(),
                "changed_files": c.changed_files.len(), "uncommitted_files": c.uncommitted_files.len(),
                "git_updated_at": c.git_updated_at,
            })),
            "single_agent_mode": single,
            "team": if single { Vec::new() } else { team.clone() },
            "inbox": {
                "total": all.total, "unread": unread.unread,
                "recent_unread": unread.messages.iter().map(|m| json!({
                    "message_id": m.message_id, "from": m.agent_id, "created_at": m.created_at,
                    "preview": truncate(&m.body.content, 120),
                })).collect::<Vec<_>>(),
            },
            "daemon": daemon_json(&health),
            "sync": sync,
            "restart_snapshot": restart.as_ref().map(|r| json!({ "content": r.text, "kept_at": r.kept_at })),
            "context": { "has_context": !context.is_empty(), "size": context.len(), "updated_at": updated,
                         "content": context, "preamble": preamble },
            "next": next,
        }));
        return Ok(0);
    }
    out.line(format!("# Thrum briefing for @{name} ({}, module {})", who.role, who.module));
    out.line("");
    if let Some(r) = &restart {
        snapshot_section(ctx, r, snapshot_budget);
    }
    if who.session_id.is_empty() {
        out.line("Session: none");
    } else {
        out.line(format!(
            "Session: active for {} ({})",
            output::duration(output::since_ms(&who.session_start)),
            who.session_id
        ));
    }
    if !who.intent.is_empty() {
        out.line(format!("Intent: {}", who.intent));
    }
    if let Some(c) = mine {
        let mut git = vec![if c.branch.is_empty() { "detached".to_string() } else { c.branch.clone() }];
        if !c.unmerged_commits.is_empty() {
            git.push(format!("{} unmerged commit(s)", c.unmerged_commits.len()));
        }
        if !c.uncommitted_files.is_empty() {
            git.push(format!("{} uncommitted file(s)", c.uncommitted_files.len()));
        }
        out.line(format!("Branch: {}", git.join(", ")));
    }
    out.line("");
    if single {
        out.line("Mode: single agent (turn off with `thrum single-agent-mode off`)");
    } else if team.is_empty() {
        out.line("Team: no other active agents");
    } else {
        out.line(format!("Team ({} active):", team.len()));
        for t in &team {
            let s = |k: &str| t[k].as_str().unwrap_or("").to_string();
            out.line(format!(
                "  {:<16} {:<22} {:<18} {}",
                format!("@{}", s("agent_id")),
                format!("{}/{}", s("role"), s("module")),
                if s("branch").is_empty() { "-".into() } else { truncate(&s("branch"), 18) },
                if s("intent").is_empty() { "-".into() } else { truncate(&s("intent"), 40) },
            ));
        }
    }
    out.line("");
    if unread.unread == 0 {
        out.line(format!("Inbox: nothing unread ({} total)", all.total));
    } else {
        out.line(format!("Inbox: {} unread ({} total)", unread.unread, all.total));
        for m in &unread.messages {
            out.line(format!(
                "  {} from @{} {}: {}",
                m.message_id,
                m.agent_id,
                output::relative(&m.created_at),
                truncate(&m.body.content.replace('\n', " "), 70)
            ));
        }
    }
    daemon_lines(ctx, &health, &sync);
    out.line("");
    if context.is_empty() && preamble.is_empty() {
        out.line("Saved context: none (keep notes with `thrum context save --file notes.md`)");
    } else {
        out.line(format!("Saved context ({} bytes, updated {}):", context.len(), output::relative(&updated)));
        out.line("---");
        for part in [&preamble, &context] {
            if !part.trim().is_empty() {
                out.line(part.trim_end());
            }
        }
        out.line("---");
    }
    out.line("");
    out.line("Next:");
    for n in &next {
        out.line(format!("  {n}"));
    }
    Ok(0)
}

fn daemon_json(h: &HealthResult) -> Value {
    json!({ "running": true, "pid": h.pid, "uptime_ms": h.uptime_ms, "version": h.version })
}

fn daemon_lines(ctx: &mut Ctx, h: &HealthResult, sync: &Option<SyncStatusResult>) {
    let out = ctx.out;
    out.line(format!("Daemon: running (PID {}, up {}, v{})", h.pid, output::duration(h.uptime_ms as i64), h.version));
    if let Some(s) = sync {
        let s = &s.status;
        let last = &s.last_sync_at;
        let when = if last.is_empty() { String::new() } else { format!(", last {}", output::relative(last)) };
        let scope = if s.mode == "local-only" { ", messages stay in this clone" } else { "" };
        out.line(format!("Sync: {} ({}{when}{scope})", s.mode, s.sync_state));
    }
}

/// An agent's saved context, its preamble, and when the context was
/// written.
#[derive(Default)]
struct Saved {
    context: String,
    preamble: String,
    updated: String,
}

fn saved_context(ctx: &mut Ctx, name: &str) -> Saved {
    let Ok(dir) = ctx.layout().map(|l| l.context_dir()) else { return Default::default() };
    let read = |f: String| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    let updated = std::fs::metadata(dir.join(format!("{name}.md")))
        .and_then(|m| m.modified())
        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    Saved { context: read(format!("{name}.md")), preamble: read(format!("{name}_preamble.md")), updated }
}

/// Suggests the instruction-file block when this worktree's agent files
/// have none.
fn suggest_agent_block() {
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = crate::context::worktree_root(&cwd).unwrap_or(cwd);
    // Any runtime's instruction file with the block, or the Claude skill.
    let has = crate::runtimes::REGISTRY.iter().any(|r| {
        std::fs::read_to_string(root.join(r.instructions)).is_ok_and(|t| agent_docs::has_block(&t))
            || r.skill.is_some_and(|s| root.join(s).exists())
    });
    if !has {
        crate::hints::info(
            "prime.no-agent-block",
            "no thrum instructions in this worktree's agent files (CLAUDE.md, AGENTS.md, …): add them so your agent knows how to use thrum",
            &[("claude", "thrum setup claude-md --apply".into()), ("others", "thrum setup agents-md --apply".into())],
        );
    }
}

/// A restart snapshot taken for this briefing.
struct Restored {
    text: String,
    /// Where the consumed snapshot is kept until the next one.
    kept_at: Option<std::path::PathBuf>,
}

/// Takes the agent's waiting restart snapshot: read, then moved to
/// `.thrum/restart/consumed/` (so `snapshot check` sees none, yet a
/// briefing cut by a hook's cap loses nothing: the whole text stays there
/// until the next restart).
fn take_snapshot(ctx: &mut Ctx, name: &str) -> Option<Restored> {
    let dir = ctx.layout().ok()?.restart_dir();
    let path = thrum_core::snapshot::path(&dir, name);
    let text = std::fs::read_to_string(&path).ok()?;
    let kept = thrum_core::snapshot::path(&dir.join("consumed"), name);
    let moved = std::fs::create_dir_all(dir.join("consumed")).and_then(|()| std::fs::rename(&path, &kept));
    let kept_at = match moved {
        Ok(()) => Some(kept),
        Err(_) => {
            // Consumed once, whatever happens: a snapshot briefed twice
            // would send the agent back to redo finished work.
            let _ = std::fs::remove_file(&path);
            None
        }
    };
    Some(Restored { text, kept_at })
}

/// The snapshot as a directive: it is the agent's own message to itself.
fn snapshot_section(ctx: &mut Ctx, r: &Restored, budget: Option<usize>) {
    let out = ctx.out;
    let (text, cut) = match budget {
        Some(b) => thrum_core::snapshot::fit(&r.text, b),
        None => (r.text.clone(), false),
    };
    out.line("## 🛑 ACTION REQUIRED — this is YOUR message-to-self");
    out.line("");
    out.line("Your previous session was restarted. Before it ended, this snapshot of its conversation was saved for you. Before anything else:");
    out.line("  1. Read the snapshot below, and its Resume Plan if it has one.");
    out.line("  2. Carry on with the work it describes, from where it stopped.");
    out.line("  3. Only then turn to new messages and other work.");
    if cut {
        let whole =
            r.kept_at.as_ref().map(|p| format!(": the whole snapshot is in {}", p.display())).unwrap_or_default();
        out.line(format!("(The start of the snapshot was cut to fit this briefing{whole}.)"));
    }
    out.line("");
    out.line("--- restart snapshot ---");
    out.line(text.trim_end());
    out.line("--- end of restart snapshot ---");
    out.line("");
}
