//! The SQLite projection of the event log: schema, apply, rebuild.

pub mod apply;
pub mod feed;
pub mod schema;

pub use apply::{Applied, PurgeCutoff, apply, apply_decoded};

/// Records a heartbeat: the session and its agent were seen at `at`.
/// Presence is local state, not worth an event per beat.
pub fn record_heartbeat(conn: &rusqlite::Connection, session_id: &str, agent_id: &str, at: &str) -> crate::Result<()> {
    conn.prepare_cached("UPDATE sessions SET last_seen_at = ?2 WHERE session_id = ?1")?.execute([session_id, at])?;
    conn.prepare_cached("UPDATE agents SET last_seen_at = ?2 WHERE agent_id = ?1")?.execute([agent_id, at])?;
    Ok(())
}
