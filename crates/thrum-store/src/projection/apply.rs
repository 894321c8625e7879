//! Applies one event to the SQLite projection.
//!
//! Every apply is idempotent: the `events` table records which event ids
//! have been applied, so replaying a log tail after a crash, or merging a
//! log that shares history with ours, never double-counts. Events that
//! arrive before what they refer to (an edit before its create, after a
//! sync) are recorded and skipped; a full rebuild, which applies in
//! timestamp order, places them correctly.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use thrum_core::event::{Head, MessageCreate, Payload, WorkContext};
use thrum_core::{Event, EventError};

use crate::error::Result;

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event was new and its effects are in the projection.
    New,
    /// The event id had been applied before; nothing changed.
    Duplicate,
}

/// The `purge_metadata` key of an agent's cutoff (`message.deleteByAgent`).
pub fn agent_cutoff_key(agent_id: &str) -> String {
    format!("agent_cutoff:{agent_id}")
}

/// What keeps old messages out, as an apply knows it: the purge cutoff
/// (messages older than it) and the agents whose messages up to a cutoff
/// were deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeCutoff {
    /// Read them from `purge_metadata` for each message.
    Lookup,
    /// Held by the caller across many applies (a bulk replay: one query
    /// instead of one per message), kept current as purges are applied.
    Known { before: Option<String>, agents: HashMap<String, String> },
}

impl PurgeCutoff {
    /// The cutoffs the projection holds now.
    pub fn load(conn: &Connection) -> Result<Self> {
        let before: Option<String> = conn
            .prepare_cached("SELECT value FROM purge_metadata WHERE key = 'purge_cutoff'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(PurgeCutoff::Known { before, agents: agent_cutoffs(conn)? })
    }

    fn purges(&self, conn: &Connection, author: &str, ts: &str) -> Result<bool> {
        Ok(match self {
            // One indexed lookup either way (both terms are on the key).
            PurgeCutoff::Lookup => conn
                .prepare_cached(
                    "SELECT 1 FROM purge_metadata
                     WHERE (key = 'purge_cutoff' AND value > ?1) OR (key = ?2 AND value >= ?1)",
                )?
                .exists(params![ts, agent_cutoff_key(author)])?,
            PurgeCutoff::Known { before, agents } => {
                before.as_deref().is_some_and(|c| c > ts) || agents.get(author).is_some_and(|c| c.as_str() >= ts)
            }
        })
    }

    fn raise(&mut self, cutoff: &str) {
        if let PurgeCutoff::Known { before, .. } = self
            && before.as_deref().is_none_or(|c| c < cutoff)
        {
            *before = Some(cutoff.to_string());
        }
    }

    fn raise_agent(&mut self, agent_id: &str, cutoff: &str) {
        if let PurgeCutoff::Known { agents, .. } = self {
            let c = agents.entry(agent_id.to_string()).or_default();
            if c.as_str() < cutoff {
                *c = cutoff.to_string();
            }
        }
    }
}

/// Every agent whose messages were deleted up to a cutoff, with it.
pub fn agent_cutoffs(conn: &Connection) -> Result<HashMap<String, String>> {
    let mut st = conn.prepare_cached("SELECT key, value FROM purge_metadata WHERE key LIKE 'agent_cutoff:%'")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = HashMap::new();
    for row in rows {
        let (key, value) = row?;
        if let Some(agent) = key.strip_prefix("agent_cutoff:") {
            out.insert(agent.to_string(), value);
        }
    }
    Ok(out)
}

/// Applies `ev` inside the caller's transaction.
pub fn apply(conn: &Connection, ev: &Event) -> Result<Applied> {
    apply_decoded(conn, &ev.head(), ev.payload(), &mut PurgeCutoff::Lookup)
}

/// Applies an event given as its envelope and decoded payload (what a
/// replay reads straight from the log).
pub fn apply_decoded(
    conn: &Connection,
    head: &Head<'_>,
    payload: std::result::Result<Payload, EventError>,
    cutoff: &mut PurgeCutoff,
) -> Result<Applied> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO events (event_id, sequence, type, timestamp, origin_daemon)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![head.event_id, head.sequence, head.kind, head.timestamp, head.origin_daemon])?;
    if inserted == 0 {
        return Ok(Applied::Duplicate);
    }
    let payload = match payload {
        Ok(p) => p,
        // A known type with a malformed body is kept in the log and the
        // events table but cannot be projected; it is not fatal.
        Err(e) => {
            tracing::warn!(event_id = %head.event_id, error = %e, "skipping malformed event");
            return Ok(Applied::New);
        }
    };
    let ts: &str = &head.timestamp;
    match payload {
        Payload::MessageCreate(m) => {
            message_create(conn, &m, ts, cutoff)?;
            super::feed::message(conn, head, &m)?;
        }
        Payload::MessageEdit(m) => {
            let old: Option<String> = conn
                .prepare_cached("SELECT body_content FROM messages WHERE message_id = ?1")?
                .query_row([&m.message_id], |r| r.get(0))
                .optional()?;
            if let Some(old) = old {
                conn.prepare_cached(
                    "INSERT INTO message_edits (message_id, edited_at, old_content, new_content) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![m.message_id, ts, old, m.body.content])?;
                conn.prepare_cached(
                    "UPDATE messages SET body_content = ?2, body_structured = ?3, updated_at = ?4 WHERE message_id = ?1",
                )?
                .execute(params![m.message_id, m.body.content, m.body.structured, ts])?;
            }
        }
        Payload::MessageDelete(m) => {
            conn.prepare_cached(
                "UPDATE messages SET deleted = 1, deleted_at = ?2, delete_reason = ?3 WHERE message_id = ?1",
            )?
            .execute(params![m.message_id, ts, m.reason])?;
        }
        Payload::MessageReceipt(r) => {
            // The message's time and author go on the delivery row too (the
            // inbox reads them from there, see schema 5).
            if let Some((created_at, author)) = time_and_author(conn, &r.message_id)? {
                let read = if r.receipt_type == "read" { ts } else { "" };
                conn.prepare_cached(
                    "INSERT INTO message_deliveries (message_id, recipient_agent_id, delivered_at, seen_at, read_at, created_at, author)
                     VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)
                     ON CONFLICT (message_id, recipient_agent_id) DO UPDATE SET
                       seen_at = CASE WHEN seen_at = '' THEN excluded.seen_at ELSE seen_at END,
                       read_at = CASE WHEN read_at = '' THEN excluded.read_at ELSE read_at END",
                )?
                .execute(params![r.message_id, r.agent_id, ts, read, created_at, author])?;
                super::feed::receipt(conn, head, &r, &author)?;
            }
        }
        Payload::MessageAnnounced(a) => {
            // Like a receipt: the delivery row carries the state, and is
            // made when the message reached the agent another way (a
            // mention, a group, everyone). The first announcement stands.
            if let Some((created_at, author)) = time_and_author(conn, &a.message_id)? {
                conn.prepare_cached(
                    "INSERT INTO message_deliveries (message_id, recipient_agent_id, delivered_at, announced_at, announced_via, created_at, author)
                     VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)
                     ON CONFLICT (message_id, recipient_agent_id) DO UPDATE SET
                       announced_via = CASE WHEN announced_at = '' THEN excluded.announced_via ELSE announced_via END,
                       announced_at = CASE WHEN announced_at = '' THEN excluded.announced_at ELSE announced_at END",
                )?
                .execute(params![a.message_id, a.agent_id, ts, a.channel, created_at, author])?;
                super::feed::announced(conn, head, &a, &author)?;
            }
        }
        Payload::AgentRegister(a) => {
            conn.prepare_cached(
                "INSERT INTO agents (agent_id, kind, role, module, display, hostname, worktree, agent_pid, registered_at, last_seen_at, origin_daemon)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)
                 ON CONFLICT (agent_id) DO UPDATE SET
                   kind = excluded.kind, role = excluded.role, module = excluded.module,
                   display = excluded.display, hostname = excluded.hostname,
                   worktree = excluded.worktree, agent_pid = excluded.agent_pid,
                   origin_daemon = excluded.origin_daemon,
                   last_seen_at = MAX(last_seen_at, excluded.last_seen_at)",
            )?
            .execute(params![
                a.agent_id,
                if a.kind.is_empty() { "agent" } else { &a.kind },
                a.role,
                a.module,
                a.display,
                a.hostname,
                if a.worktree_path.is_empty() { &a.worktree } else { &a.worktree_path },
                a.agent_pid,
                ts,
                head.origin_daemon
            ])?;
        }
        Payload::SessionStart(s) => {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO sessions (session_id, agent_id, started_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)",
            )?
            .execute(params![s.session_id, s.agent_id, ts])?;
            touch_agent(conn, &s.agent_id, ts)?;
        }
        Payload::SessionEnd(s) => {
            conn.prepare_cached(
                "UPDATE sessions SET ended_at = ?2, end_reason = ?3 WHERE session_id = ?1 AND ended_at = ''",
            )?
            .execute(params![s.session_id, ts, if s.reason.is_empty() { "normal" } else { &s.reason }])?;
        }
        Payload::AgentUpdate(u) => {
            for wc in &u.work_contexts {
                upsert_context(conn, &u.agent_id, wc)?;
            }
            touch_agent(conn, &u.agent_id, ts)?;
        }
        Payload::AgentCleanup(c) => delete_agent(conn, &c.agent_id)?,
        Payload::GroupCreate(g) => {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO groups (group_id, name, description, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![g.group_id, g.name, g.description, ts, g.created_by])?;
        }
        Payload::GroupMemberAdd(m) => {
            let known = conn.prepare_cached("SELECT 1 FROM groups WHERE group_id = ?1")?.exists([&m.group_id])?;
            if known {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO group_members (group_id, member_type, member_value, added_at, added_by) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![m.group_id, m.member_type, m.member_value, ts, m.added_by])?;
            }
        }
        Payload::GroupMemberRemove(m) => {
            conn.prepare_cached(
                "DELETE FROM group_members WHERE group_id = ?1 AND member_type = ?2 AND member_value = ?3",
            )?
            .execute(params![m.group_id, m.member_type, m.member_value])?;
        }
        Payload::GroupUpdate(g) => {
            if let Some(d) = g.fields.get("description") {
                conn.execute(
                    "UPDATE groups SET description = ?2, updated_at = ?3 WHERE group_id = ?1",
                    params![g.group_id, d, ts],
                )?;
            }
            if let Some(n) = g.fields.get("name") {
                conn.execute(
                    "UPDATE OR IGNORE groups SET name = ?2, updated_at = ?3 WHERE group_id = ?1",
                    params![g.group_id, n, ts],
                )?;
            }
        }
        Payload::GroupDelete(g) => {
            conn.prepare_cached("DELETE FROM groups WHERE group_id = ?1")?.execute([&g.group_id])?;
        }
        Payload::PurgeExecuted(p) => {
            purge_before(conn, &p.cutoff)?;
            cutoff.raise(&p.cutoff);
        }
        Payload::AgentMessagesDeleted(d) => {
            delete_agent_messages(conn, &d.agent_id, &d.cutoff)?;
            cutoff.raise_agent(&d.agent_id, &d.cutoff);
        }
        Payload::Other => {}
    }
    Ok(Applied::New)
}

fn touch_agent(conn: &Connection, agent_id: &str, ts: &str) -> Result<()> {
    conn.prepare_cached("UPDATE agents SET last_seen_at = ?2 WHERE agent_id = ?1 AND last_seen_at < ?2")?
        .execute(params![agent_id, ts])?;
    Ok(())
}

/// Whether a message is addressed to everyone: explicitly (a `broadcast`
/// scope or ref), or by naming no agent, role or group at all (the
/// original's "legacy broadcast").
fn is_broadcast(m: &MessageCreate) -> bool {
    let explicit = m.scopes.iter().chain(m.refs.iter()).any(|s| s.kind == "broadcast");
    let targeted =
        m.refs.iter().any(|r| r.kind == "mention" || r.kind == "group") || m.scopes.iter().any(|s| s.kind == "group");
    explicit || !targeted
}

fn message_create(conn: &Connection, m: &MessageCreate, ts: &str, cutoff: &PurgeCutoff) -> Result<()> {
    // A message older than a purge stays purged even when a clone that
    // never purged replays it.
    if cutoff.purges(conn, &m.agent_id, ts)? {
        return Ok(());
    }
    let reply_to = m.refs.iter().find(|r| r.kind == "reply_to").map(|r| r.value.as_str()).unwrap_or("");
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO messages (message_id, thread_id, agent_id, session_id, created_at, body_format, body_content, body_structured, authored_by, disclosed, reply_to, broadcast)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            m.message_id,
            m.thread_id,
            m.agent_id,
            m.session_id,
            ts,
            if m.body.format.is_empty() { "markdown" } else { &m.body.format },
            m.body.content,
            m.body.structured,
            m.authored_by,
            m.disclosed,
            reply_to,
            is_broadcast(m)
        ])?;
    if inserted == 0 {
        return Ok(());
    }
    // Every row that can put the message in an inbox carries its time and
    // author (`created_at` is the event's time, as on the message).
    {
        let mut st = conn.prepare_cached(
            "INSERT OR IGNORE INTO message_scopes (message_id, scope_type, scope_value, created_at, author)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for s in &m.scopes {
            st.execute(params![m.message_id, s.kind, s.value, ts, m.agent_id])?;
        }
    }
    {
        let mut st = conn.prepare_cached(
            "INSERT OR IGNORE INTO message_refs (message_id, ref_type, ref_value, created_at, author)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for r in &m.refs {
            st.execute(params![m.message_id, r.kind, r.value, ts, m.agent_id])?;
        }
    }
    {
        let mut st = conn.prepare_cached(
            "INSERT OR IGNORE INTO message_deliveries (message_id, recipient_agent_id, delivered_at, seen_at, read_at, created_at, author)
             VALUES (?1, ?2, ?3, ?4, ?4, ?3, ?5)",
        )?;
        for r in &m.recipients {
            let read = if *r == m.agent_id { ts } else { "" };
            st.execute(params![m.message_id, r, ts, read, m.agent_id])?;
        }
        // The author has always read their own message.
        st.execute(params![m.message_id, m.agent_id, ts, ts, m.agent_id])?;
    }
    // A first reply opens a thread: the parent joins it.
    if !m.thread_id.is_empty() && !reply_to.is_empty() {
        conn.prepare_cached("UPDATE messages SET thread_id = ?2 WHERE message_id = ?1 AND thread_id = ''")?
            .execute(params![reply_to, m.thread_id])?;
    }
    Ok(())
}

fn upsert_context(conn: &Connection, agent_id: &str, wc: &WorkContext) -> Result<()> {
    let json = serde_json::to_string(wc).unwrap_or_default();
    conn.prepare_cached(
        "INSERT INTO work_contexts (session_id, agent_id, context) VALUES (?1, ?2, ?3)
         ON CONFLICT (session_id) DO UPDATE SET agent_id = excluded.agent_id, context = excluded.context",
    )?
    .execute(params![wc.session_id, agent_id, json])?;
    Ok(())
}

/// Removes an agent and everything it authored (not messages addressed to
/// it, which belong to their authors).
pub fn delete_agent(conn: &Connection, agent_id: &str) -> Result<()> {
    let sub = "SELECT message_id FROM messages WHERE agent_id = ?1";
    for table in ["message_scopes", "message_refs", "message_deliveries", "message_edits"] {
        conn.execute(&format!("DELETE FROM {table} WHERE message_id IN ({sub})"), [agent_id])?;
    }
    conn.execute("DELETE FROM messages WHERE agent_id = ?1", [agent_id])?;
    // (Its own rows went with its messages; the rest are in the inbox index.)
    conn.execute(
        "DELETE FROM message_deliveries WHERE recipient_agent_id = ?1 AND recipient_agent_id != author",
        [agent_id],
    )?;
    conn.execute("DELETE FROM work_contexts WHERE agent_id = ?1", [agent_id])?;
    conn.execute("DELETE FROM sessions WHERE agent_id = ?1", [agent_id])?;
    conn.execute("DELETE FROM agents WHERE agent_id = ?1", [agent_id])?;
    Ok(())
}

/// Deletes the messages `agent_id` wrote up to `cutoff`, and records the
/// cutoff so that replayed older messages of theirs stay deleted.
pub fn delete_agent_messages(conn: &Connection, agent_id: &str, cutoff: &str) -> Result<()> {
    let sub = "SELECT message_id FROM messages WHERE agent_id = ?1 AND created_at <= ?2";
    for table in ["message_scopes", "message_refs", "message_deliveries", "message_edits"] {
        conn.execute(&format!("DELETE FROM {table} WHERE message_id IN ({sub})"), params![agent_id, cutoff])?;
    }
    conn.execute("DELETE FROM messages WHERE agent_id = ?1 AND created_at <= ?2", params![agent_id, cutoff])?;
    conn.execute(
        "INSERT INTO purge_metadata (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
        params![agent_cutoff_key(agent_id), cutoff],
    )?;
    Ok(())
}

/// Deletes messages and ended sessions older than `cutoff`, and records
/// the cutoff so replayed older messages stay purged.
pub fn purge_before(conn: &Connection, cutoff: &str) -> Result<()> {
    let sub = "SELECT message_id FROM messages WHERE created_at < ?1";
    for table in ["message_scopes", "message_refs", "message_deliveries", "message_edits"] {
        conn.execute(&format!("DELETE FROM {table} WHERE message_id IN ({sub})"), [cutoff])?;
    }
    conn.execute("DELETE FROM messages WHERE created_at < ?1", [cutoff])?;
    conn.execute(
        "DELETE FROM work_contexts WHERE session_id IN (SELECT session_id FROM sessions WHERE ended_at != '' AND ended_at < ?1)",
        [cutoff],
    )?;
    conn.execute("DELETE FROM sessions WHERE ended_at != '' AND ended_at < ?1", [cutoff])?;
    conn.execute(
        "INSERT INTO purge_metadata (key, value) VALUES ('purge_cutoff', ?1)
         ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
        [cutoff],
    )?;
    Ok(())
}

/// A stored message's time and author (what its delivery rows carry, see
/// schema 5), or `None` when it is not here (yet).
fn time_and_author(conn: &Connection, message_id: &str) -> Result<Option<(String, String)>> {
    Ok(conn
        .prepare_cached("SELECT created_at, agent_id FROM messages WHERE message_id = ?1")?
        .query_row([message_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}
