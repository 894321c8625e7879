//! Counts for maintenance (purge previews).

use rusqlite::Connection;

use crate::error::Result;

/// What a purge with this cutoff would remove.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    pub messages: i64,
    pub sessions: i64,
    pub events: i64,
}

/// Counts used by `purge` previews.
pub fn count_before(conn: &Connection, cutoff: &str) -> Result<PurgeCounts> {
    let m = conn.query_row("SELECT COUNT(*) FROM messages WHERE created_at < ?1", [cutoff], |r| r.get(0))?;
    let s =
        conn.query_row("SELECT COUNT(*) FROM sessions WHERE ended_at != '' AND ended_at < ?1", [cutoff], |r| r.get(0))?;
    let e = conn.query_row("SELECT COUNT(*) FROM events WHERE timestamp < ?1", [cutoff], |r| r.get(0))?;
    Ok(PurgeCounts { messages: m, sessions: s, events: e })
}
