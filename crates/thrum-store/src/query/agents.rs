//! Agents, their sessions and their work contexts.

use rusqlite::{Connection, OptionalExtension, Row, params};
use thrum_core::event::WorkContext;
use thrum_core::views::{AgentInfo, ContextInfo, SessionInfo, UnmergedCommit};

use crate::error::Result;

pub(crate) const AGENT_COLS: &str =
    "agent_id, kind, role, module, display, registered_at, last_seen_at, agent_pid, hostname, worktree, origin_daemon";

pub(crate) fn agent_row(r: &Row<'_>) -> rusqlite::Result<AgentInfo> {
    Ok(AgentInfo {
        agent_id: r.get(0)?,
        kind: r.get(1)?,
        role: r.get(2)?,
        module: r.get(3)?,
        display: r.get(4)?,
        registered_at: r.get(5)?,
        last_seen_at: r.get(6)?,
        agent_pid: r.get(7)?,
        hostname: r.get(8)?,
        worktree: r.get(9)?,
        origin_daemon: r.get(10)?,
        presence: String::new(),
    })
}

pub fn agent(conn: &Connection, agent_id: &str) -> Result<Option<AgentInfo>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {AGENT_COLS} FROM agents WHERE agent_id = ?1"))?
        .query_row([agent_id], agent_row)
        .optional()?)
}

/// Agents, newest registration first, optionally filtered.
pub fn agents(conn: &Connection, role: Option<&str>, module: Option<&str>) -> Result<Vec<AgentInfo>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {AGENT_COLS} FROM agents
         WHERE (?1 IS NULL OR role = ?1) AND (?2 IS NULL OR module = ?2)
         ORDER BY registered_at DESC, agent_id"
    ))?;
    let rows = st.query_map(params![role, module], agent_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Agents whose id or role equals `name` (how a mention resolves).
pub fn agents_named_or_role(conn: &Connection, name: &str) -> Result<Vec<AgentInfo>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {AGENT_COLS} FROM agents WHERE agent_id = ?1 OR role = ?1 ORDER BY agent_id"
    ))?;
    let rows = st.query_map([name], agent_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) const SESSION_COLS: &str =
    "s.session_id, s.agent_id, s.started_at, s.ended_at, s.end_reason, s.last_seen_at, COALESCE(w.context, '')";

pub(crate) fn session_row(r: &Row<'_>) -> rusqlite::Result<SessionInfo> {
    let ended: String = r.get(3)?;
    let ctx: String = r.get(6)?;
    let wc: WorkContext = serde_json::from_str(&ctx).unwrap_or_default();
    Ok(SessionInfo {
        session_id: r.get(0)?,
        agent_id: r.get(1)?,
        started_at: r.get(2)?,
        status: if ended.is_empty() { "active".into() } else { "ended".into() },
        ended_at: ended,
        end_reason: r.get(4)?,
        last_seen_at: r.get(5)?,
        intent: wc.intent,
        current_task: wc.current_task,
    })
}

pub fn session(conn: &Connection, session_id: &str) -> Result<Option<SessionInfo>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SESSION_COLS} FROM sessions s LEFT JOIN work_contexts w ON w.session_id = s.session_id WHERE s.session_id = ?1"
        ))?
        .query_row([session_id], session_row)
        .optional()?)
}

/// The agent's newest session that has not ended.
pub fn active_session(conn: &Connection, agent_id: &str) -> Result<Option<SessionInfo>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SESSION_COLS} FROM sessions s LEFT JOIN work_contexts w ON w.session_id = s.session_id
             WHERE s.agent_id = ?1 AND s.ended_at = '' ORDER BY s.started_at DESC LIMIT 1"
        ))?
        .query_row([agent_id], session_row)
        .optional()?)
}

/// All sessions of an agent that have not ended (for crash recovery).
pub fn open_sessions(conn: &Connection, agent_id: &str) -> Result<Vec<String>> {
    let mut st = conn.prepare_cached("SELECT session_id FROM sessions WHERE agent_id = ?1 AND ended_at = ''")?;
    let rows = st.query_map([agent_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The agents with an open session.
pub fn agents_with_open_sessions(conn: &Connection) -> Result<std::collections::HashSet<String>> {
    let mut st = conn.prepare_cached("SELECT DISTINCT agent_id FROM sessions WHERE ended_at = ''")?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn sessions(conn: &Connection, agent_id: Option<&str>, active_only: bool) -> Result<Vec<SessionInfo>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLS} FROM sessions s LEFT JOIN work_contexts w ON w.session_id = s.session_id
         WHERE (?1 IS NULL OR s.agent_id = ?1) AND (?2 = 0 OR s.ended_at = '')
         ORDER BY s.started_at DESC"
    ))?;
    let rows = st.query_map(params![agent_id, active_only], session_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The stored work context of a session.
pub fn work_context(conn: &Connection, session_id: &str) -> Result<Option<WorkContext>> {
    let raw: Option<String> = conn
        .prepare_cached("SELECT context FROM work_contexts WHERE session_id = ?1")?
        .query_row([session_id], |r| r.get(0))
        .optional()?;
    Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
}

/// Work contexts of active sessions, optionally of one agent.
pub fn contexts(conn: &Connection, agent_id: Option<&str>) -> Result<Vec<ContextInfo>> {
    let mut st = conn.prepare_cached(
        "SELECT w.agent_id, w.context FROM work_contexts w JOIN sessions s ON s.session_id = w.session_id
         WHERE s.ended_at = '' AND (?1 IS NULL OR w.agent_id = ?1) ORDER BY s.started_at DESC",
    )?;
    let rows = st.query_map(params![agent_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (agent_id, raw) = row?;
        let wc: WorkContext = serde_json::from_str(&raw).unwrap_or_default();
        out.push(ContextInfo {
            session_id: wc.session_id,
            agent_id,
            branch: wc.branch,
            worktree_path: wc.worktree_path,
            unmerged_commits: wc
                .unmerged_commits
                .into_iter()
                .map(|c| UnmergedCommit { hash: c.sha, subject: c.message })
                .collect(),
            uncommitted_files: wc.uncommitted_files,
            changed_files: wc.changed_files,
            git_updated_at: wc.git_updated_at,
            current_task: wc.current_task,
            task_updated_at: wc.task_updated_at,
            intent: wc.intent,
            intent_updated_at: wc.intent_updated_at,
            matched_files: Vec::new(),
        });
    }
    Ok(out)
}
