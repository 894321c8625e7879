//! The peer feed: the events each paired daemon pulls from us.
//!
//! A recipient written `prefix:name` is agent `name` on the peer we call
//! `prefix`. A message to such a recipient, and a local agent's read
//! receipt or announcement (`message.announced`) of a message such an agent
//! wrote, are queued here for that prefix. The feed is part of the projection, so a rebuild from the log
//! queues the same events again (under a new epoch, see schema 3), and a
//! message is queued in the very transaction that stores it: it cannot be
//! stored and not queued.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use thrum_core::event::{Head, MessageAnnounced, MessageCreate, MessageReceipt};

use crate::error::Result;

/// A proxy agent id split into the peer's prefix and the agent's name
/// there (`api:bob` → `api`, `bob`). Human users (`user:leon`) are not
/// proxies.
pub fn split_proxy(agent: &str) -> Option<(&str, &str)> {
    let (prefix, name) = agent.split_once(':')?;
    (!prefix.is_empty() && !name.is_empty() && prefix != "user").then_some((prefix, name))
}

/// The peer prefix of a proxy agent id (`api:bob` → `api`).
pub fn proxy_prefix(agent: &str) -> Option<&str> {
    split_proxy(agent).map(|(prefix, _)| prefix)
}

/// Queues a new message for every peer one of its recipients lives on.
pub fn message(conn: &Connection, head: &Head<'_>, m: &MessageCreate) -> Result<()> {
    let mut prefixes: Vec<&str> = m.recipients.iter().filter_map(|r| proxy_prefix(r)).collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    if prefixes.is_empty() {
        return Ok(());
    }
    let body = envelope(head, serde_json::to_value(m).unwrap_or_default());
    for p in prefixes {
        push(conn, p, &head.event_id, &m.message_id, &body)?;
    }
    Ok(())
}

/// Queues a local agent's receipt of a message a peer's agent wrote
/// (`author` wrote the message).
pub fn receipt(conn: &Connection, head: &Head<'_>, r: &MessageReceipt, author: &str) -> Result<()> {
    to_author(conn, head, &r.agent_id, author, || serde_json::to_value(r).unwrap_or_default())
}

/// Queues a local agent's announcement of a message a peer's agent wrote,
/// so its author there sees that our agent was told.
pub fn announced(conn: &Connection, head: &Head<'_>, a: &MessageAnnounced, author: &str) -> Result<()> {
    to_author(conn, head, &a.agent_id, author, || serde_json::to_value(a).unwrap_or_default())
}

/// Queues what local agent `agent` did with a message (`payload`) for the
/// peer its `author` lives on, if any.
fn to_author(
    conn: &Connection,
    head: &Head<'_>,
    agent: &str,
    author: &str,
    payload: impl FnOnce() -> Value,
) -> Result<()> {
    if proxy_prefix(agent).is_some() {
        return Ok(());
    }
    if let Some(prefix) = proxy_prefix(author) {
        push(conn, prefix, &head.event_id, "", &envelope(head, payload()))?;
    }
    Ok(())
}

/// The event as a log line would hold it.
fn envelope(head: &Head<'_>, payload: Value) -> String {
    let mut o = match payload {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    o.insert("type".into(), Value::from(head.kind.as_ref()));
    o.insert("event_id".into(), Value::from(head.event_id.as_ref()));
    o.insert("timestamp".into(), Value::from(head.timestamp.as_ref()));
    o.insert("v".into(), Value::from(1));
    if !head.origin_daemon.is_empty() {
        o.insert("origin_daemon".into(), Value::from(head.origin_daemon.as_ref()));
    }
    Value::Object(o).to_string()
}

/// Queues one event; `message_id` names the message a create carries ("" for
/// receipts).
fn push(conn: &Connection, prefix: &str, event_id: &str, message_id: &str, body: &str) -> Result<()> {
    conn.prepare_cached("INSERT INTO peer_feed (prefix, event_id, message_id, body) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![prefix, event_id, message_id, body])?;
    Ok(())
}

/// Whether message `message_id` still waits for the peer we call `prefix`
/// to hold it.
pub fn is_pending(conn: &Connection, prefix: &str, message_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM peer_feed WHERE message_id = ?1 AND prefix = ?2")?
        .exists(params![message_id, prefix])?)
}

/// One queued event.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    pub seq: i64,
    pub body: String,
}

/// This projection's feed epoch.
pub fn epoch(conn: &Connection) -> Result<String> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'feed_epoch'")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or_default())
}

/// Up to `limit` events for `prefix` after `after`, and whether more wait.
pub fn after(conn: &Connection, prefix: &str, after: i64, limit: i64) -> Result<(Vec<FeedItem>, bool)> {
    let mut st =
        conn.prepare_cached("SELECT seq, body FROM peer_feed WHERE prefix = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?;
    let mut items: Vec<FeedItem> = st
        .query_map(params![prefix, after, limit + 1], |r| Ok(FeedItem { seq: r.get(0)?, body: r.get(1)? }))?
        .collect::<rusqlite::Result<_>>()?;
    let more = items.len() as i64 > limit;
    items.truncate(limit.max(0) as usize);
    Ok((items, more))
}

/// Where we stand with one peer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncState {
    /// How far we pulled the peer's feed (in its epoch).
    pub pulled_epoch: String,
    pub pulled_seq: i64,
    /// How far the peer pulled ours (in our epoch).
    pub acked_epoch: String,
    pub acked_seq: i64,
    pub last_pull_at: String,
    /// Our events it has not pulled yet.
    pub pending: i64,
}

pub fn state(conn: &Connection, prefix: &str) -> Result<SyncState> {
    let mut s = conn
        .prepare_cached(
            "SELECT pulled_epoch, pulled_seq, acked_epoch, acked_seq, last_pull_at FROM peer_sync WHERE prefix = ?1",
        )?
        .query_row([prefix], |r| {
            Ok(SyncState {
                pulled_epoch: r.get(0)?,
                pulled_seq: r.get(1)?,
                acked_epoch: r.get(2)?,
                acked_seq: r.get(3)?,
                last_pull_at: r.get(4)?,
                pending: 0,
            })
        })
        .optional()?
        .unwrap_or_default();
    let acked = if s.acked_epoch == epoch(conn)? { s.acked_seq } else { 0 };
    s.pending = conn
        .prepare_cached("SELECT COUNT(*) FROM peer_feed WHERE prefix = ?1 AND seq > ?2")?
        .query_row(params![prefix, acked], |r| r.get(0))?;
    Ok(s)
}

/// Records how far we pulled a peer (in the transaction that stored what
/// we pulled, so a crash never skips nor repeats a batch).
pub fn set_pulled(conn: &Connection, prefix: &str, epoch: &str, seq: i64, at: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO peer_sync (prefix, pulled_epoch, pulled_seq, last_pull_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (prefix) DO UPDATE SET pulled_epoch = excluded.pulled_epoch, pulled_seq = excluded.pulled_seq,
           last_pull_at = excluded.last_pull_at",
    )?
    .execute(params![prefix, epoch, seq, at])?;
    Ok(())
}

/// Records that a peer has everything of ours up to `seq` (it asked for
/// what comes after), and drops those events from its queue: it holds them
/// in its own log. (A rebuild queues them again under a new epoch; the peer
/// then skips them by event id.)
pub fn set_acked(conn: &Connection, prefix: &str, epoch: &str, seq: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO peer_sync (prefix, acked_epoch, acked_seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (prefix) DO UPDATE SET acked_epoch = excluded.acked_epoch, acked_seq = excluded.acked_seq",
    )?
    .execute(params![prefix, epoch, seq])?;
    conn.prepare_cached("DELETE FROM peer_feed WHERE prefix = ?1 AND seq <= ?2")?.execute(params![prefix, seq])?;
    Ok(())
}

/// Forgets a peer's positions (it was removed or paired anew).
pub fn reset(conn: &Connection, prefix: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM peer_sync WHERE prefix = ?1")?.execute([prefix])?;
    Ok(())
}

/// The newest feed position (0 when empty).
pub fn max_seq(conn: &Connection) -> Result<i64> {
    Ok(conn.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM peer_feed")?.query_row([], |r| r.get(0))?)
}

/// The prefixes with events queued after `after`, and the newest position.
pub fn prefixes_after(conn: &Connection, after: i64) -> Result<(Vec<String>, i64)> {
    let mut st = conn.prepare_cached("SELECT prefix, MAX(seq) FROM peer_feed WHERE seq > ?1 GROUP BY prefix")?;
    let rows: Vec<(String, i64)> =
        st.query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    let max = rows.iter().map(|(_, s)| *s).max().unwrap_or(after);
    Ok((rows.into_iter().map(|(p, _)| p).collect(), max))
}
