//! Messages: one in full, listings and their filters, receipts and
//! delivery state.

use std::collections::BTreeSet;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use thrum_core::Scope;
use thrum_core::delivery::DeliveryState;
use thrum_core::event::MessageBody;
use thrum_core::views::{Audience, Author, MessageDetail, MessageMetadata, MessageSummary, Recipient};

use super::*;
use crate::error::Result;

pub(crate) fn scopes_of(conn: &Connection, table: &str, message_id: &str) -> Result<Vec<Scope>> {
    let (t, v) = if table == "message_scopes" { ("scope_type", "scope_value") } else { ("ref_type", "ref_value") };
    let mut st = conn
        .prepare_cached(&format!("SELECT {t}, {v} FROM {table} WHERE message_id = ?1 ORDER BY rowid"))
        .or_else(|_| conn.prepare_cached(&format!("SELECT {t}, {v} FROM {table} WHERE message_id = ?1")))?;
    let rows = st.query_map([message_id], |r| Ok(Scope::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Who a message is addressed to, derived from its refs and scopes.
pub fn audiences(scopes: &[Scope], refs: &[Scope], broadcast: bool) -> Vec<Audience> {
    let mut out: Vec<Audience> = Vec::new();
    let mut push = |kind: &str, value: &str| {
        if !out.iter().any(|a| a.kind == kind && a.value == value) {
            out.push(Audience { kind: kind.into(), value: value.into() });
        }
    };
    for r in refs {
        match r.kind.as_str() {
            "mention" => push("mention", &r.value),
            "group" => push("group", &r.value),
            _ => {}
        }
    }
    for s in scopes {
        if s.kind == "group" {
            push("group", &s.value);
        }
    }
    if broadcast {
        push("broadcast", "everyone");
    }
    out
}

/// Delivery rows of a message, author excluded.
pub fn recipients(conn: &Connection, message_id: &str, author: &str) -> Result<Vec<Recipient>> {
    let mut st = conn.prepare_cached(
        "SELECT recipient_agent_id, delivered_at, seen_at, read_at, announced_at, announced_via FROM message_deliveries
         WHERE message_id = ?1 AND recipient_agent_id != ?2 ORDER BY recipient_agent_id",
    )?;
    let rows = st.query_map([message_id, author], |r| {
        let (seen_at, read_at, announced_at): (String, String, String) = (r.get(2)?, r.get(3)?, r.get(4)?);
        let via: String = r.get(5)?;
        Ok(Recipient {
            agent_id: r.get(0)?,
            delivered_at: r.get(1)?,
            state: DeliveryState::from_times(&announced_at, &seen_at, &read_at),
            // A channel a later version named is shown as no channel.
            announced_via: serde_json::from_value(serde_json::Value::String(via)).ok(),
            seen_at,
            read_at,
            announced_at,
            ..Default::default()
        })
    })?;
    let mut out: Vec<Recipient> = rows.collect::<rusqlite::Result<_>>()?;
    // An agent on a peer has it once that peer pulled it.
    for r in &mut out {
        if let Some(prefix) = crate::projection::feed::proxy_prefix(&r.agent_id) {
            r.peer_pending = crate::projection::feed::is_pending(conn, prefix, message_id)?;
        }
    }
    Ok(out)
}

/// Whether `agent_id` has written any message here (a peer's agent who
/// wrote to us can be answered).
pub fn has_messages_from(conn: &Connection, agent_id: &str) -> Result<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM messages WHERE agent_id = ?1 LIMIT 1")?.exists([agent_id])?)
}

/// How many messages `agent_id` has written (deleted ones too).
pub fn messages_from_count(conn: &Connection, agent_id: &str) -> Result<i64> {
    Ok(conn.prepare_cached("SELECT COUNT(*) FROM messages WHERE agent_id = ?1")?.query_row([agent_id], |r| r.get(0))?)
}

/// Whether an event is already in the projection.
pub fn has_event(conn: &Connection, event_id: &str) -> Result<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM events WHERE event_id = ?1")?.exists([event_id])?)
}

/// What a write needs to know of an existing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHead {
    pub author: String,
    pub deleted: bool,
    pub thread_id: String,
}

/// The author, deletion state and thread of a message, if it exists.
pub fn message_head(conn: &Connection, message_id: &str) -> Result<Option<MessageHead>> {
    Ok(conn
        .prepare_cached("SELECT agent_id, deleted, thread_id FROM messages WHERE message_id = ?1")?
        .query_row([message_id], |r| Ok(MessageHead { author: r.get(0)?, deleted: r.get(1)?, thread_id: r.get(2)? }))
        .optional()?)
}

/// Whether any message (deleted ones too) belongs to the thread.
pub fn thread_exists(conn: &Connection, thread_id: &str) -> Result<bool> {
    Ok(conn.prepare_cached("SELECT 1 FROM messages WHERE thread_id = ?1")?.exists([thread_id])?)
}

/// How many messages an agent wrote up to `cutoff` (deleted ones too).
pub fn messages_by_author_count(conn: &Connection, agent_id: &str, cutoff: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM messages WHERE agent_id = ?1 AND created_at <= ?2")?
        .query_row(params![agent_id, cutoff], |r| r.get(0))?)
}

/// The messages in a scope that are not deleted yet, oldest first.
pub fn live_messages_in_scope(conn: &Connection, scope: &Scope) -> Result<Vec<String>> {
    let mut st = conn.prepare_cached(
        "SELECT m.message_id FROM message_scopes s JOIN messages m ON m.message_id = s.message_id
         WHERE s.scope_type = ?1 AND s.scope_value = ?2 AND m.deleted = 0 ORDER BY m.created_at, m.message_id",
    )?;
    let ids = st.query_map([&scope.kind, &scope.value], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// Number of edits made to a message.
pub fn edit_count(conn: &Connection, message_id: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM message_edits WHERE message_id = ?1")?
        .query_row([message_id], |r| r.get(0))?)
}

pub fn message_detail(conn: &Connection, message_id: &str) -> Result<Option<MessageDetail>> {
    let row = conn
        .prepare_cached(
            "SELECT message_id, thread_id, reply_to, agent_id, session_id, body_format, body_content, body_structured,
                    created_at, updated_at, deleted, deleted_at, delete_reason, authored_by, disclosed, broadcast
             FROM messages WHERE message_id = ?1",
        )?
        .query_row([message_id], |r| {
            Ok((
                MessageDetail {
                    message_id: r.get(0)?,
                    thread_id: r.get(1)?,
                    reply_to: r.get(2)?,
                    author: Author { agent_id: r.get(3)?, session_id: r.get(4)? },
                    body: MessageBody { format: r.get(5)?, content: r.get(6)?, structured: r.get(7)? },
                    created_at: r.get(8)?,
                    updated_at: r.get(9)?,
                    deleted: r.get(10)?,
                    metadata: MessageMetadata { deleted_at: r.get(11)?, delete_reason: r.get(12)? },
                    authored_by: r.get(13)?,
                    disclosed: r.get(14)?,
                    ..Default::default()
                },
                r.get::<_, bool>(15)?,
            ))
        })
        .optional()?;
    let Some((mut d, broadcast)) = row else {
        return Ok(None);
    };
    d.scopes = scopes_of(conn, "message_scopes", message_id)?;
    d.refs = scopes_of(conn, "message_refs", message_id)?;
    d.audiences = audiences(&d.scopes, &d.refs, broadcast);
    d.recipients = recipients(conn, message_id, &d.author.agent_id)?;
    Ok(Some(d))
}

/// The filters of `message.list`, already resolved to concrete agents.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub scope: Option<Scope>,
    pub reference: Option<Scope>,
    pub thread_id: Option<String>,
    pub author_id: Option<String>,
    /// Only messages addressed to this agent (with its role and groups).
    pub for_agent: Option<String>,
    pub for_agent_role: Option<String>,
    /// Only messages with a `mention` ref equal to this value.
    pub mention_role: Option<String>,
    /// Only messages this agent has not read.
    pub unread_for: Option<String>,
    /// With `unread_for`: only those no channel has announced to it yet.
    pub unannounced: bool,
    /// Drop messages authored by this agent.
    pub exclude_author: Option<String>,
    /// Whose read state `is_read` and the unread count report.
    pub reader: Option<String>,
    pub created_after: Option<String>,
    pub include_deleted: bool,
    /// Skip the total and unread counts (callers that only want rows).
    pub no_counts: bool,
    /// Fill in each message's scopes and audiences (two small lookups per
    /// row; the web UI shows who a message went to).
    pub with_audience: bool,
    /// The time filter is narrow (a waiter looking at the last moments):
    /// test candidate rows one by one instead of building the set.
    pub scan_recent: bool,
    pub page: i64,
    pub page_size: i64,
    pub sort_by_updated: bool,
    pub ascending: bool,
}

/// One page of `message.list`.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub messages: Vec<MessageSummary>,
    pub total: i64,
    pub unread: i64,
    pub page: i64,
    pub page_size: i64,
    pub total_pages: i64,
}

impl ListPage {
    /// A page of `messages` out of `total`, `page_size` to a page.
    pub(crate) fn new(messages: Vec<MessageSummary>, total: i64, unread: i64, page: i64, page_size: i64) -> Self {
        let total_pages = if total == 0 { 0 } else { (total + page_size - 1) / page_size };
        ListPage { messages, total, unread, page, page_size, total_pages }
    }
}

/// Names of every group an agent belongs to, directly, through its role,
/// through the `*` role wildcard, or through nested groups (cycles are
/// cut by the visited set).
pub fn groups_of(conn: &Connection, agent_id: &str, role: Option<&str>) -> Result<BTreeSet<String>> {
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut st = conn.prepare_cached(
        "SELECT g.name FROM group_members m JOIN groups g ON g.group_id = m.group_id
         WHERE (m.member_type = 'agent' AND m.member_value = ?1)
            OR (m.member_type = 'role' AND (m.member_value = ?2 OR m.member_value = '*'))",
    )?;
    let mut frontier: Vec<String> =
        st.query_map(params![agent_id, role.unwrap_or("")], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    let mut nested = conn.prepare_cached(
        "SELECT g.name FROM group_members m JOIN groups g ON g.group_id = m.group_id
         WHERE m.member_type = 'group' AND m.member_value = ?1",
    )?;
    while let Some(g) = frontier.pop() {
        if found.insert(g.clone()) {
            for parent in nested.query_map([&g], |r| r.get::<_, String>(0))? {
                frontier.push(parent?);
            }
        }
    }
    Ok(found)
}

/// Builds the WHERE clause shared by the page and its counts.
pub(crate) fn where_clause(conn: &Connection, q: &ListQuery, args: &mut Vec<SqlValue>) -> Result<String> {
    let mut w: Vec<String> = Vec::new();
    let arg = |args: &mut Vec<SqlValue>, v: &str| {
        args.push(SqlValue::Text(v.to_string()));
        format!("?{}", args.len())
    };
    if !q.include_deleted {
        w.push("m.deleted = 0".into());
    }
    if let Some(s) = &q.scope {
        let (a, b) = (arg(args, &s.kind), arg(args, &s.value));
        w.push(format!("EXISTS (SELECT 1 FROM message_scopes x WHERE x.message_id = m.message_id AND x.scope_type = {a} AND x.scope_value = {b})"));
    }
    if let Some(r) = &q.reference {
        let (a, b) = (arg(args, &r.kind), arg(args, &r.value));
        w.push(format!("EXISTS (SELECT 1 FROM message_refs x WHERE x.message_id = m.message_id AND x.ref_type = {a} AND x.ref_value = {b})"));
    }
    if let Some(t) = &q.thread_id {
        let a = arg(args, t);
        w.push(format!("m.thread_id = {a}"));
    }
    if let Some(au) = &q.author_id {
        let a = arg(args, au);
        w.push(format!("m.agent_id = {a}"));
    }
    if let Some(me) = &q.exclude_author {
        let a = arg(args, me);
        w.push(format!("m.agent_id != {a}"));
    }
    if let Some(after) = &q.created_after {
        let a = arg(args, after);
        w.push(format!("m.created_at > {a}"));
    }
    let mention = q.mention_role.as_ref().map(|role| {
        let a = arg(args, role);
        format!("EXISTS (SELECT 1 FROM message_refs x WHERE x.message_id = m.message_id AND x.ref_type = 'mention' AND x.ref_value = {a})")
    });
    let for_agent = match &q.for_agent {
        Some(agent) => {
            let role = q.for_agent_role.as_deref().filter(|r| !r.is_empty() && *r != agent.as_str());
            let mut names = vec![arg(args, agent), arg(args, &format!("user:{agent}"))];
            if let Some(r) = role {
                names.push(arg(args, r));
            }
            let names = names.join(", ");
            let me = arg(args, agent);
            let groups = groups_of(conn, agent, role)?;
            let mut group_clause = String::new();
            if !groups.is_empty() {
                let gs: Vec<String> = groups.iter().map(|g| arg(args, g)).collect();
                let gs = gs.join(", ");
                group_clause = format!(
                    " UNION ALL SELECT message_id FROM message_scopes WHERE scope_type = 'group' AND scope_value IN ({gs})
                      UNION ALL SELECT message_id FROM message_refs WHERE ref_type = 'group' AND ref_value IN ({gs})"
                );
            }
            if q.scan_recent {
                // Few rows pass the time filter: test each one instead of
                // building the agent's whole candidate set.
                let mut group_rows = String::new();
                if !groups.is_empty() {
                    let gs: Vec<String> = groups.iter().map(|g| arg(args, g)).collect();
                    let gs = gs.join(", ");
                    group_rows = format!(
                        " OR EXISTS (SELECT 1 FROM message_scopes x WHERE x.message_id = m.message_id AND x.scope_type = 'group' AND x.scope_value IN ({gs}))
                          OR EXISTS (SELECT 1 FROM message_refs x WHERE x.message_id = m.message_id AND x.ref_type = 'group' AND x.ref_value IN ({gs}))"
                    );
                }
                return Ok(finish(w, Some(format!(
                    "(m.broadcast = 1
                      OR EXISTS (SELECT 1 FROM message_refs x WHERE x.message_id = m.message_id AND x.ref_type = 'mention' AND x.ref_value IN ({names}))
                      OR EXISTS (SELECT 1 FROM message_deliveries x WHERE x.message_id = m.message_id AND x.recipient_agent_id = {me}){group_rows})"
                )), mention, q, args));
            }
            // The agent's deliveries are indexed apart from its own rows as
            // author (schema 5); those are its messages, wanted only when
            // its own are not excluded.
            let own = if q.exclude_author.as_deref() == Some(agent.as_str()) {
                String::new()
            } else {
                format!(" UNION ALL SELECT message_id FROM messages WHERE agent_id = {me}")
            };
            // One materialised set of candidate ids, each branch served by
            // an index, instead of an OR that would force a table scan.
            Some(format!(
                "m.message_id IN (
                    SELECT message_id FROM message_refs WHERE ref_type = 'mention' AND ref_value IN ({names})
                    UNION ALL SELECT message_id FROM message_deliveries
                      WHERE recipient_agent_id = {me} AND recipient_agent_id != author{own}
                    UNION ALL SELECT message_id FROM messages WHERE broadcast = 1{group_clause})"
            ))
        }
        None => None,
    };
    Ok(finish(w, for_agent, mention, q, args))
}

/// Joins the clauses: the mention and for-agent filters are OR-ed (as in
/// the original), then the unread filter.
pub(crate) fn finish(
    mut w: Vec<String>,
    for_agent: Option<String>,
    mention: Option<String>,
    q: &ListQuery,
    args: &mut Vec<SqlValue>,
) -> String {
    match (mention, for_agent) {
        (Some(a), Some(b)) => w.push(format!("({a} OR {b})")),
        (Some(a), None) | (None, Some(a)) => w.push(a),
        (None, None) => {}
    }
    if let Some(u) = &q.unread_for {
        args.push(SqlValue::Text(u.clone()));
        w.push(format!(
            "NOT EXISTS (SELECT 1 FROM message_deliveries d WHERE d.message_id = m.message_id AND d.recipient_agent_id = ?{} AND {})",
            args.len(),
            if q.unannounced { "(d.read_at != '' OR d.announced_at != '')" } else { "d.read_at != ''" }
        ));
    }
    if w.is_empty() { "1".into() } else { w.join(" AND ") }
}

/// Reads the first ten columns every message listing selects, in order:
/// message_id, thread_id, reply_to, agent_id, body_format, body_content,
/// body_structured, created_at, updated_at, deleted.
pub(crate) fn summary_row(r: &Row<'_>) -> rusqlite::Result<MessageSummary> {
    Ok(MessageSummary {
        message_id: r.get(0)?,
        thread_id: r.get(1)?,
        reply_to: r.get(2)?,
        agent_id: r.get(3)?,
        body: MessageBody { format: r.get(4)?, content: r.get(5)?, structured: r.get(6)? },
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        deleted: r.get(9)?,
        ..Default::default()
    })
}

/// Runs `message.list`: a page of messages with the total and unread
/// counts of everything that matched.
pub fn list_messages(conn: &Connection, q: &ListQuery) -> Result<ListPage> {
    let page_size = match q.page_size {
        n if n <= 0 => 10,
        n => n.min(100),
    };
    let page = q.page.max(1);
    let mut found = match inbox::list(conn, q, page, page_size)? {
        Some(found) => found,
        None => list_general(conn, q, page, page_size)?,
    };
    if q.with_audience {
        fill_audiences(conn, &mut found.messages)?;
    }
    Ok(found)
}

/// Any `message.list` query, as one statement over `messages` that tests
/// every candidate row; window functions over the same filtered set give
/// the counts. (The inbox's common shapes take [`inbox::list`].)
pub(crate) fn list_general(conn: &Connection, q: &ListQuery, page: i64, page_size: i64) -> Result<ListPage> {
    let mut args = Vec::new();
    let w = where_clause(conn, q, &mut args)?;
    let col = if q.sort_by_updated {
        "CASE m.updated_at WHEN '' THEN m.created_at ELSE m.updated_at END"
    } else {
        "m.created_at"
    };
    let dir = if q.ascending { "ASC" } else { "DESC" };
    // The reader's delivery row, joined once, says whether it was read.
    let (is_read, join) = match &q.reader {
        Some(r) => {
            args.push(SqlValue::Text(r.clone()));
            (
                "COALESCE(rd.read_at != '', 0)".to_string(),
                format!(
                    " LEFT JOIN message_deliveries rd ON rd.message_id = m.message_id AND rd.recipient_agent_id = ?{}",
                    args.len()
                ),
            )
        }
        None => ("0".to_string(), String::new()),
    };
    let counts = if q.no_counts {
        "0 AS total, 0 AS unread".to_string()
    } else {
        format!("COUNT(*) OVER () AS total, SUM(1 - {is_read}) OVER () AS unread")
    };
    args.push(SqlValue::Integer(page_size));
    let lim = args.len();
    args.push(SqlValue::Integer((page - 1) * page_size));
    let off = args.len();
    // The matching set is sorted and counted as narrow rows (id, key,
    // read flag); only the page's rows are then joined for their bodies.
    let sql = format!(
        "SELECT m.message_id, m.thread_id, m.reply_to, m.agent_id, m.body_format, m.body_content, m.body_structured,
                m.created_at, m.updated_at, m.deleted, p.is_read, p.total, p.unread
         FROM (SELECT m.message_id AS id, {col} AS k, {is_read} AS is_read, {counts}
               FROM messages m{join} WHERE {w}
               ORDER BY k {dir}, id {dir} LIMIT ?{lim} OFFSET ?{off}) p
         JOIN messages m ON m.message_id = p.id
         ORDER BY p.k {dir}, p.id {dir}"
    );
    let mut total = 0i64;
    let mut unread = 0i64;
    let mut st = conn.prepare_cached(&sql)?;
    let mut rows = st.query(params_from_iter(args.iter()))?;
    let mut messages = Vec::new();
    while let Some(r) = rows.next()? {
        total = r.get(11)?;
        unread = r.get::<_, Option<i64>>(12)?.unwrap_or(0);
        let mut m = summary_row(r)?;
        m.is_read = r.get(10)?;
        messages.push(m);
    }
    drop(rows);
    // A page past the end has no rows to carry the counts.
    if messages.is_empty() && page > 1 && !q.no_counts {
        let n = args.len() - 2;
        let count_sql = format!(
            "SELECT COUNT(*), COALESCE(SUM(1 - is_read), 0) FROM (SELECT m.*, {is_read} AS is_read FROM messages m{join} WHERE {w})"
        );
        let (t, u): (i64, i64) = conn
            .prepare_cached(&count_sql)?
            .query_row(params_from_iter(args[..n].iter()), |r| Ok((r.get(0)?, r.get(1)?)))?;
        total = t;
        unread = u;
    }
    if q.reader.is_none() {
        unread = 0;
    }
    Ok(ListPage::new(messages, total, unread, page, page_size))
}

/// Fills in each listed message's scopes and audiences.
pub(crate) fn fill_audiences(conn: &Connection, messages: &mut [MessageSummary]) -> Result<()> {
    let mut broadcast = conn.prepare_cached("SELECT broadcast FROM messages WHERE message_id = ?1")?;
    for m in messages {
        let scopes = scopes_of(conn, "message_scopes", &m.message_id)?;
        let refs = scopes_of(conn, "message_refs", &m.message_id)?;
        let b: bool = broadcast.query_row([&m.message_id], |r| r.get(0))?;
        m.audiences = audiences(&scopes, &refs, b);
        m.scopes = scopes;
    }
    Ok(())
}

/// Messages an agent sent, with recipients and read counts (`thrum sent`).
pub fn outbox(
    conn: &Connection,
    author: &str,
    to: Option<&str>,
    unread_only: bool,
    page: i64,
    page_size: i64,
) -> Result<ListPage> {
    let page_size = if page_size <= 0 { 10 } else { page_size.min(100) };
    let page = page.max(1);
    let w = "m.agent_id = ?1 AND m.deleted = 0
        AND (?2 IS NULL OR EXISTS (SELECT 1 FROM message_refs x WHERE x.message_id = m.message_id AND x.ref_type IN ('mention', 'group') AND x.ref_value = ?2)
             OR EXISTS (SELECT 1 FROM message_deliveries d WHERE d.message_id = m.message_id AND d.recipient_agent_id = ?2 AND d.recipient_agent_id != m.agent_id)
             OR (?2 = 'everyone' AND m.broadcast = 1))
        AND (?3 = 0 OR EXISTS (SELECT 1 FROM message_deliveries d WHERE d.message_id = m.message_id AND d.recipient_agent_id != m.agent_id AND d.read_at = ''))";
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM messages m WHERE {w}"))?
        .query_row(params![author, to, unread_only], |r| r.get(0))?;
    let mut st = conn.prepare_cached(&format!(
        "SELECT m.message_id, m.thread_id, m.reply_to, m.agent_id, m.body_format, m.body_content, m.body_structured,
                m.created_at, m.updated_at, m.deleted, m.broadcast
         FROM messages m WHERE {w} ORDER BY m.created_at DESC, m.message_id DESC LIMIT ?4 OFFSET ?5"
    ))?;
    let rows = st.query_map(params![author, to, unread_only, page_size, (page - 1) * page_size], |r| {
        Ok((summary_row(r)?, r.get::<_, bool>(10)?))
    })?;
    let mut messages = Vec::new();
    for row in rows {
        let (mut m, broadcast) = row?;
        let scopes = scopes_of(conn, "message_scopes", &m.message_id)?;
        let refs = scopes_of(conn, "message_refs", &m.message_id)?;
        m.audiences = audiences(&scopes, &refs, broadcast);
        m.recipients = recipients(conn, &m.message_id, author)?;
        m.read_count = m.recipients.iter().filter(|r| !r.read_at.is_empty()).count() as i64;
        messages.push(m);
    }
    Ok(ListPage::new(messages, total, 0, page, page_size))
}

/// Agents (other than `reader`) that have read a message.
pub fn read_by(conn: &Connection, message_id: &str, reader: &str) -> Result<Vec<String>> {
    let mut st = conn.prepare_cached(
        "SELECT d.recipient_agent_id FROM message_deliveries d JOIN messages m ON m.message_id = d.message_id
         WHERE d.message_id = ?1 AND d.read_at != '' AND d.recipient_agent_id != ?2 AND d.recipient_agent_id != m.agent_id
         ORDER BY d.recipient_agent_id",
    )?;
    let rows = st.query_map([message_id, reader], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Whether `agent` has already read `message_id`.
pub fn has_read(conn: &Connection, message_id: &str, agent: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM message_deliveries WHERE message_id = ?1 AND recipient_agent_id = ?2 AND read_at != ''",
        )?
        .exists([message_id, agent])?)
}

/// Whether `agent` has read `message_id`, or a channel has announced it.
/// Whether `agent` has read `message_id`.
pub fn is_read(conn: &Connection, message_id: &str, agent: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM message_deliveries WHERE message_id = ?1 AND recipient_agent_id = ?2 AND read_at != ''",
        )?
        .exists([message_id, agent])?)
}

pub fn announced_or_read(conn: &Connection, message_id: &str, agent: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM message_deliveries WHERE message_id = ?1 AND recipient_agent_id = ?2
               AND (read_at != '' OR announced_at != '')",
        )?
        .exists([message_id, agent])?)
}
