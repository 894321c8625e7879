//! `agent.*` handlers.

use thrum_core::event::{AgentCleanup, AgentRegister};
use thrum_core::identity::IdentityFile;
use thrum_core::name::{AgentName, validate_chars};
use thrum_core::{Event, views::AgentInfo};
use thrum_proto::methods::agent::{
    CleanupParams, CleanupResult, Conflict, DeleteParams, DeleteResult, ListContextParams, ListContextResult,
    ListParams, ListResult, Orphan, RegisterParams, RegisterResult, SetStatusParams, SetStatusResult, WhoamiParams,
    WhoamiResult,
};
use thrum_store::query;

use crate::caller::{self, Caller};
use crate::error::{HResult, bad_params, server};
use crate::state::State;
use thrum_core::guard::{self, Guard, Mode};
use thrum_core::process::pid_alive;

/// A stable id for an agent registered without a name.
fn unnamed_id(role: &str, module: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{role}|{module}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{role}_{:010x}", h & 0xff_ffff_ffff)
}

pub async fn register(state: &State, _: &Caller, p: RegisterParams) -> HResult<RegisterResult> {
    if p.role.is_empty() {
        return Err(server("role is required"));
    }
    if p.module.is_empty() {
        return Err(server("module is required"));
    }
    validate_chars(&p.role).map_err(|e| bad_params(format!("invalid role: {e}")))?;
    if p.module.len() > 64 || p.module.chars().any(|c| c.is_control() || c == '/') {
        return Err(bad_params(format!("invalid module {:?}: use a short name such as auth", p.module)));
    }
    if p.display.len() > 200 {
        return Err(bad_params("display name is too long (max 200 bytes)"));
    }
    let agent_id = if p.name.is_empty() {
        unnamed_id(&p.role, &p.module)
    } else {
        AgentName::parse(&p.name).map_err(|e| bad_params(format!("invalid agent name: {e}")))?.to_string()
    };
    if !p.re_register && agent_id == p.role {
        return Err(server(format!(
            "agent name {agent_id:?} cannot be the same as its role — use a distinct name (e.g., '{}_main')",
            p.role
        )));
    }
    let worktree_path = p.worktree.clone();
    let worktree_name =
        std::path::Path::new(&worktree_path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let local_daemon = state.identity.daemon_id.clone();
    let layout = state.layout.clone();
    state
        .writer
        .submit(move |c| {
            if !p.re_register {
                if agent_id != p.role && !query::agents(c, Some(&agent_id), None)?.is_empty() {
                    return Err(server(format!(
                        "agent name {agent_id:?} conflicts with existing role '{agent_id}' — choose a different name"
                    )));
                }
                if let Some(a) = query::agent(c, &p.role)?
                    && a.agent_id != agent_id
                {
                    return Err(server(format!(
                        "role {:?} conflicts with existing agent name '{}' — choose a different role",
                        p.role, p.role
                    )));
                }
            }
            let existing = query::agent(c, &agent_id)?;
            let pid = p.agent_pid.unwrap_or(0);
            let event = |status: &str| -> HResult<(Vec<Event>, RegisterResult)> {
                let ev = Event::new("agent.register", &AgentRegister {
                    agent_id: agent_id.clone(),
                    kind: "agent".into(),
                    name: if p.name.is_empty() { String::new() } else { agent_id.clone() },
                    role: p.role.clone(),
                    module: p.module.clone(),
                    worktree: worktree_name.clone(),
                    worktree_path: worktree_path.clone(),
                    display: p.display.clone(),
                    hostname: thrum_core::config::hostname(),
                    agent_pid: pid,
                    ..Default::default()
                });
                let r = RegisterResult { agent_id: agent_id.clone(), status: status.into(), ..Default::default() };
                Ok((vec![ev], r))
            };
            if let Some(a) = existing {
                // A process of another worktree holds this name (alive: a
                // collision; dead: the name may be reclaimed).
                let other_tree = !a.worktree.is_empty() && !worktree_path.is_empty() && a.worktree != worktree_path;
                if !p.force && other_tree && a.agent_pid > 0 && a.agent_pid != pid {
                    let held = format!(
                        "cannot register as {agent_id:?}: name is held by a running agent session (PID {}) in worktree {}; pick another name or pass --force to take it over",
                        a.agent_pid, a.worktree
                    );
                    if pid_alive(a.agent_pid) {
                        if caller::refuses(&layout, Guard::QuickstartNameCollision, "name_held_by_live_foreign_pid", &held) {
                            return Err(server(held));
                        }
                    } else {
                        // The holder is gone: its name is free again, which
                        // is worth a line in the log (warn) or not (strict,
                        // off). Off turns reclaiming off: a dead holder then
                        // counts as a collision like a live one.
                        let why = format!(
                            "@{agent_id}'s process (PID {}) in worktree {} is gone; {} takes the name over",
                            a.agent_pid, a.worktree, worktree_path
                        );
                        match caller::guard_mode(&layout, Guard::DeadPidAutoReclaim) {
                            Mode::Strict => {}
                            Mode::Warn => tracing::warn!(
                                guard = Guard::DeadPidAutoReclaim.key(),
                                outcome = "auto_reclaimed",
                                "{}",
                                guard::fired(Guard::DeadPidAutoReclaim, "dead_pid", &why)
                            ),
                            Mode::Off => {
                                let held = format!(
                                    "cannot register as {agent_id:?}: name is held by agent session PID {} (not running, and identity_guard.dead_pid_auto_reclaim is off) in worktree {}; pick another name or pass --force to take it over",
                                    a.agent_pid, a.worktree
                                );
                                if caller::refuses(&layout, Guard::QuickstartNameCollision, "name_held_by_dead_pid", &held) {
                                    return Err(server(held));
                                }
                            }
                        }
                    }
                }
                let same = a.role == p.role && a.module == p.module;
                if same && !p.re_register && !p.force && (pid == 0 || pid == a.agent_pid) && a.display == p.display {
                    let r = RegisterResult { agent_id: agent_id.clone(), status: "registered".into(), ..Default::default() };
                    return Ok((Vec::new(), r));
                }
                if !same && !p.re_register && !p.force {
                    return Err(server(format!(
                        "agent name '{agent_id}' already in use by {agent_id} (role {}, module {}): pass --re-register if this is the same agent returning, or --force to replace it",
                        a.role, a.module
                    )));
                }
                return event("updated");
            }
            if !p.force && !p.re_register {
                let clash = query::agents(c, Some(&p.role), Some(&p.module))?
                    .into_iter()
                    .find(|a| a.agent_id != agent_id && (a.origin_daemon.is_empty() || a.origin_daemon == local_daemon) && p.name.is_empty());
                if let Some(other) = clash {
                    let r = RegisterResult {
                        agent_id: String::new(),
                        status: "conflict".into(),
                        conflict: Some(Conflict {
                            existing_agent_id: other.agent_id,
                            registered_at: other.registered_at,
                            last_seen_at: other.last_seen_at,
                            conflict_pid: (other.agent_pid > 0).then_some(other.agent_pid),
                        }),
                        ..Default::default()
                    };
                    return Ok((Vec::new(), r));
                }
            }
            event("registered")
        })
        .await
}

/// `agent.list`, each agent with its presence (the one rule every front
/// end shows).
pub async fn list(state: &State, _: &Caller, p: ListParams) -> HResult<ListResult> {
    let (mut agents, open) = state.read(|r| {
        Ok((query::agents(r, p.role.as_deref(), p.module.as_deref())?, query::agents_with_open_sessions(r)?))
    })?;
    for a in &mut agents {
        a.presence = thrum_core::rules::presence(open.contains(&a.agent_id)).into();
    }
    Ok(ListResult { agents })
}

pub async fn whoami(state: &State, caller: &Caller, p: WhoamiParams) -> HResult<WhoamiResult> {
    let agent_id = caller.resolve(p.caller_agent_id.as_deref())?;
    let (agent, session, ctx) = state.read(|r| {
        let a = query::agent(r, &agent_id)?;
        let s = query::active_session(r, &agent_id)?;
        let c = match &s {
            Some(s) => query::work_context(r, &s.session_id)?,
            None => None,
        };
        Ok((a, s, c))
    })?;
    let agent: AgentInfo = agent.ok_or_else(|| {
        server(format!(
            "agent {agent_id} is not registered: run `thrum quickstart --name {agent_id} --role ROLE --module MODULE`"
        ))
    })?;
    let ctx = ctx.unwrap_or_default();
    Ok(WhoamiResult {
        agent_id: agent.agent_id,
        role: agent.role,
        module: agent.module,
        display: agent.display,
        source: if p.caller_agent_id.is_some() { "caller".into() } else { "identity_file".into() },
        session_id: session.as_ref().map(|s| s.session_id.clone()).unwrap_or_default(),
        session_start: session.map(|s| s.started_at).unwrap_or_default(),
        branch: ctx.branch,
        intent: ctx.intent,
    })
}

pub async fn list_context(state: &State, _: &Caller, p: ListContextParams) -> HResult<ListContextResult> {
    let mut contexts = state.read(|r| Ok(query::contexts(r, p.agent_id.as_deref())?))?;
    if let Some(b) = &p.branch {
        contexts.retain(|c| &c.branch == b);
    }
    if let Some(f) = &p.file {
        // Who has the file: the one matching rule, and which files matched.
        for c in &mut contexts {
            let mut hits: Vec<String> = c
                .changed_files
                .iter()
                .chain(c.uncommitted_files.iter())
                .filter(|x| thrum_core::rules::file_matches(x, f))
                .cloned()
                .collect();
            hits.sort();
            hits.dedup();
            c.matched_files = hits;
        }
        contexts.retain(|c| !c.matched_files.is_empty());
    }
    Ok(ListContextResult { contexts })
}

pub async fn delete(state: &State, _: &Caller, p: DeleteParams) -> HResult<DeleteResult> {
    if p.name.is_empty() {
        return Err(server("agent name is required"));
    }
    let name = AgentName::parse(&p.name).map_err(|e| bad_params(format!("invalid agent name: {e}")))?.to_string();
    state
        .writer
        .exclusive(move |store| {
            if query::agent(store.db(), &name)?.is_none() {
                return Err(server(format!("agent not found: {name} (see `thrum agent list`)")));
            }
            let ev = Event::new(
                "agent.cleanup",
                &AgentCleanup {
                    agent_id: name.clone(),
                    reason: "manual deletion".into(),
                    method: "manual".into(),
                    ..Default::default()
                },
            );
            let committed = store.commit_events(vec![ev])?;
            // The agent's own shard goes with it.
            let shard = format!("messages/{}.jsonl", thrum_core::event::file_safe(&name));
            store.rewrite_shard(&shard, &[])?;
            let res = DeleteResult { agent_id: name.clone(), deleted: true, message: format!("agent {name} deleted") };
            Ok((res, committed))
        })
        .await
}

pub async fn cleanup(state: &State, _: &Caller, p: CleanupParams) -> HResult<CleanupResult> {
    let threshold = p.threshold.unwrap_or(30).max(0);
    let local = state.identity.daemon_id.clone();
    let now = chrono::Utc::now();
    let orphans = state.read(|r| {
        let mut out = Vec::new();
        for a in query::agents(r, None, None)? {
            if !(a.origin_daemon.is_empty() || a.origin_daemon == local) {
                continue;
            }
            let wt = std::path::Path::new(&a.worktree);
            let worktree_missing = wt.is_absolute() && !wt.exists();
            let identity_missing =
                wt.is_absolute() && !wt.join(".thrum/identities").join(format!("{}.json", a.agent_id)).exists();
            let seen = if a.last_seen_at.is_empty() { &a.registered_at } else { &a.last_seen_at };
            let days = thrum_core::time::parse_ts(seen).map(|t| (now - t).num_days()).unwrap_or(0);
            let stale = days > threshold;
            if !(worktree_missing || identity_missing || stale) {
                continue;
            }
            let reason = if worktree_missing {
                "missing worktree".to_string()
            } else if identity_missing {
                "missing identity file".to_string()
            } else {
                format!("not seen in {days} days")
            };
            let count = query::messages_from_count(r, &a.agent_id)?;
            out.push(Orphan {
                agent_id: a.agent_id,
                role: a.role,
                module: a.module,
                worktree: a.worktree,
                branch: String::new(),
                last_seen_at: a.last_seen_at,
                worktree_missing,
                branch_missing: false,
                days_since_last_seen: days,
                message_count: count,
                reason,
            });
        }
        Ok(out)
    })?;
    let mut deleted = Vec::new();
    if p.force && !p.dry_run {
        for o in &orphans {
            let params = DeleteParams { name: o.agent_id.clone(), caller_agent_id: None };
            if delete(state, &Caller::Unknown, params).await.is_ok() {
                deleted.push(o.agent_id.clone());
            }
        }
    }
    let message = if orphans.is_empty() {
        "No orphaned agents found.".to_string()
    } else if p.dry_run || !p.force {
        format!("{} orphaned agent(s) found", orphans.len())
    } else {
        format!("Deleted {} orphaned agent(s)", deleted.len())
    };
    Ok(CleanupResult { orphans, deleted, dry_run: p.dry_run || !p.force, message })
}

pub async fn set_status(state: &State, _: &Caller, p: SetStatusParams) -> HResult<SetStatusResult> {
    if !matches!(p.status.as_str(), "working" | "idle" | "blocked" | "stuck") {
        return Err(server(format!("invalid status {:?}: must be working, idle, blocked, or stuck", p.status)));
    }
    let name = AgentName::parse(&p.agent).map_err(|e| bad_params(format!("invalid agent name: {e}")))?.to_string();
    let agent =
        state.read(|r| Ok(query::agent(r, &name)?))?.ok_or_else(|| server(format!("agent not found: {name}")))?;
    let mut candidates = vec![state.layout.identities_dir().join(format!("{name}.json"))];
    if std::path::Path::new(&agent.worktree).is_absolute() {
        candidates
            .insert(0, std::path::Path::new(&agent.worktree).join(".thrum/identities").join(format!("{name}.json")));
    }
    for path in candidates {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut f = IdentityFile::parse(&text).map_err(server)?;
        // A dead agent's file is left as it died: a late write from
        // whoever still names it would make a ghost look alive.
        if f.agent_pid > 0 && !pid_alive(f.agent_pid) {
            let why = format!(
                "@{name}'s process (PID {}) is not running, so the daemon will not write its identity file; start the agent again (thrum quickstart --name {name} …), or set identity_guard.daemon_writer_liveness to warn",
                f.agent_pid
            );
            if caller::refuses(&state.layout, Guard::DaemonWriterLiveness, "subject_pid_dead", &why) {
                return Err(server(why));
            }
        }
        f.agent_status = p.status.clone();
        f.agent_status_updated_at = thrum_core::time::now_rfc3339();
        crate::lifecycle::write_private(&path, f.to_pretty().as_bytes()).map_err(|e| server(e.to_string()))?;
        return Ok(SetStatusResult { agent: name, status: p.status });
    }
    Err(server(format!("no identity file found for agent {name}")))
}
