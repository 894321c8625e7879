//! `session.*` handlers. Intent and task live in the session's work
//! context, carried by `agent.update` events.

use thrum_core::event::{AgentUpdate, SessionEnd, SessionStart, WorkContext};
use thrum_core::{Event, IdKind, new_id};
use thrum_proto::methods::session::{
    EndParams, EndResult, HeartbeatParams, HeartbeatResult, ListParams, ListResult, SetIntentParams, SetIntentResult,
    SetTaskParams, SetTaskResult, StartParams, StartResult,
};
use thrum_store::query;

use crate::caller::Caller;
use crate::error::{HResult, bad_params, server};
use crate::state::State;

const MAX_TEXT: usize = 4096;

pub async fn start(state: &State, _: &Caller, p: StartParams) -> HResult<StartResult> {
    if p.agent_id.is_empty() {
        return Err(server("agent_id is required"));
    }
    // Read the worktree's branch before entering the writer (file reads,
    // no git subprocess).
    let worktree = p.refs.iter().find(|r| r.kind == "worktree").map(|r| r.value.clone()).unwrap_or_default();
    let branch =
        if worktree.is_empty() { String::new() } else { thrum_git::head_branch(std::path::Path::new(&worktree)) };
    let started = state
        .writer
        .submit(move |c| {
            if query::agent(c, &p.agent_id)?.is_none() {
                return Err(server(format!(
                    "agent not found: {} (register first with `thrum quickstart --name NAME --role ROLE --module MODULE`)",
                    p.agent_id
                )));
            }
            let mut events = Vec::new();
            // Sessions left open by a crash end now.
            for old in query::open_sessions(c, &p.agent_id)? {
                events.push(Event::new("agent.session.end", &SessionEnd {
                    session_id: old,
                    reason: "crash_recovered".into(),
                    ..Default::default()
                }));
            }
            let session_id = new_id(IdKind::Session);
            let ev = Event::new("agent.session.start", &SessionStart {
                session_id: session_id.clone(),
                agent_id: p.agent_id.clone(),
                ..Default::default()
            });
            let started_at = ev.timestamp().to_string();
            events.push(ev);
            if !worktree.is_empty() {
                events.push(Event::new("agent.update", &AgentUpdate {
                    agent_id: p.agent_id.clone(),
                    work_contexts: vec![WorkContext {
                        session_id: session_id.clone(),
                        worktree_path: worktree,
                        branch,
                        git_updated_at: started_at.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }));
            }
            let r = StartResult { session_id, agent_id: p.agent_id, started_at };
            Ok((events, r))
        })
        .await?;
    state.gitwatch.refresh(&started.session_id);
    Ok(started)
}

pub async fn end(state: &State, _: &Caller, p: EndParams) -> HResult<EndResult> {
    if p.session_id.is_empty() {
        return Err(server("session_id is required"));
    }
    let reason = if p.reason.is_empty() { "normal".to_string() } else { p.reason.clone() };
    if !matches!(reason.as_str(), "normal" | "crash" | "superseded") {
        return Err(bad_params(format!("invalid reason {reason:?}: use normal, crash or superseded")));
    }
    let sid = p.session_id.clone();
    let out = state
        .writer
        .submit(move |c| {
            let s = query::session(c, &p.session_id)?
                .ok_or_else(|| server(format!("get session: session not found: {}", p.session_id)))?;
            if !s.ended_at.is_empty() {
                return Err(server(format!("session {} has already ended", p.session_id)));
            }
            let ev = Event::new(
                "agent.session.end",
                &SessionEnd { session_id: p.session_id.clone(), reason, ..Default::default() },
            );
            let ended_at = ev.timestamp().to_string();
            let dur = match (thrum_core::time::parse_ts(&s.started_at), thrum_core::time::parse_ts(&ended_at)) {
                (Some(a), Some(b)) => (b - a).num_milliseconds(),
                _ => 0,
            };
            let r = EndResult { session_id: p.session_id, ended_at, duration_ms: dur };
            Ok((vec![ev], r))
        })
        .await?;
    state.subscriptions.remove_session(&sid);
    Ok(out)
}

pub async fn list(state: &State, _: &Caller, p: ListParams) -> HResult<ListResult> {
    let sessions = state.read(|r| Ok(query::sessions(r, p.agent_id.as_deref(), p.active_only)?))?;
    Ok(ListResult { sessions })
}

/// Loads an active session's context for modification, failing with the
/// original's messages.
fn active_context(c: &thrum_store::Db, session_id: &str) -> HResult<(String, WorkContext)> {
    if session_id.is_empty() {
        return Err(server("session_id is required"));
    }
    let s = query::session(c, session_id)?.ok_or_else(|| server(format!("session not found: {session_id}")))?;
    if !s.ended_at.is_empty() {
        return Err(server(format!("session {session_id} has already ended")));
    }
    let wc = query::work_context(c, session_id)?
        .unwrap_or_else(|| WorkContext { session_id: session_id.to_string(), ..Default::default() });
    Ok((s.agent_id, wc))
}

fn update_event(agent_id: String, wc: WorkContext) -> Event {
    Event::new("agent.update", &AgentUpdate { agent_id, work_contexts: vec![wc], ..Default::default() })
}

pub async fn heartbeat(state: &State, _: &Caller, p: HeartbeatParams) -> HResult<HeartbeatResult> {
    let session_id = p.session_id.clone();
    let worktree =
        state.read(|r| Ok(query::work_context(r, &p.session_id)?))?.map(|w| w.worktree_path).unwrap_or_default();
    let branch =
        if worktree.is_empty() { String::new() } else { thrum_git::head_branch(std::path::Path::new(&worktree)) };
    let beat = state
        .writer
        .submit(move |c| {
            let (agent_id, mut wc) = active_context(c, &p.session_id)?;
            let now = thrum_core::time::now_rfc3339();
            thrum_store::projection::record_heartbeat(c, &p.session_id, &agent_id, &now)?;
            let mut events = Vec::new();
            if !branch.is_empty() && branch != wc.branch {
                wc.branch = branch;
                wc.git_updated_at = now.clone();
                events.push(update_event(agent_id, wc.clone()));
            }
            let r = HeartbeatResult {
                session_id: p.session_id,
                last_seen_at: now,
                branch: wc.branch,
                unmerged_commits: None,
            };
            Ok((events, r))
        })
        .await?;
    // The fuller git state (commits, files) is read off the request path,
    // once this answer is on its way.
    state.gitwatch.refresh(&session_id);
    Ok(beat)
}

/// Changes one field of an active session's work context and records it
/// as an `agent.update` event; `change` returns the method's result.
async fn update_context<R, F>(state: &State, session_id: String, change: F) -> HResult<R>
where
    R: Send + 'static,
    F: FnOnce(&mut WorkContext, String) -> R + Send + 'static,
{
    state
        .writer
        .submit(move |c| {
            let (agent_id, mut wc) = active_context(c, &session_id)?;
            let result = change(&mut wc, thrum_core::time::now_rfc3339());
            Ok((vec![update_event(agent_id, wc)], result))
        })
        .await
}

pub async fn set_intent(state: &State, _: &Caller, p: SetIntentParams) -> HResult<SetIntentResult> {
    if p.intent.len() > MAX_TEXT {
        return Err(bad_params(format!("intent is too long (max {MAX_TEXT} bytes)")));
    }
    update_context(state, p.session_id.clone(), move |wc, now| {
        wc.intent = p.intent.clone();
        wc.intent_updated_at = now.clone();
        SetIntentResult { session_id: p.session_id, intent: p.intent, intent_updated_at: now }
    })
    .await
}

pub async fn set_task(state: &State, _: &Caller, p: SetTaskParams) -> HResult<SetTaskResult> {
    if p.current_task.len() > MAX_TEXT {
        return Err(bad_params(format!("task is too long (max {MAX_TEXT} bytes)")));
    }
    update_context(state, p.session_id.clone(), move |wc, now| {
        wc.current_task = p.current_task.clone();
        wc.task_updated_at = now.clone();
        SetTaskResult { session_id: p.session_id, current_task: p.current_task, task_updated_at: now }
    })
    .await
}
