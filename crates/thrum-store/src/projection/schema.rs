//! The SQLite schema of the projection, as numbered migrations.
//!
//! Migrations are only ever appended, never edited: a database created by
//! an older thrum is brought forward by running the ones it lacks. The
//! whole database is a cache of the event log, so a migration may also
//! simply drop and rebuild (by clearing `log_offsets`).

use rusqlite::Connection;

use crate::error::Result;

/// Ordered migrations; index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    // 1: the core tables.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    -- How far each shard has been applied, and the bytes just before that
    -- offset, so a shard rewritten behind our back is noticed.
    CREATE TABLE log_offsets (
        shard TEXT PRIMARY KEY,
        offset INTEGER NOT NULL,
        fingerprint BLOB NOT NULL
    );
    CREATE TABLE events (
        event_id TEXT PRIMARY KEY,
        sequence INTEGER NOT NULL DEFAULT 0,
        type TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        origin_daemon TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    CREATE INDEX events_origin_seq ON events(origin_daemon, sequence);

    CREATE TABLE agents (
        agent_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL DEFAULT 'agent',
        role TEXT NOT NULL DEFAULT '',
        module TEXT NOT NULL DEFAULT '',
        display TEXT NOT NULL DEFAULT '',
        hostname TEXT NOT NULL DEFAULT '',
        worktree TEXT NOT NULL DEFAULT '',
        agent_pid INTEGER NOT NULL DEFAULT 0,
        registered_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL DEFAULT '',
        origin_daemon TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX agents_role ON agents(role);

    CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        agent_id TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT NOT NULL DEFAULT '',
        end_reason TEXT NOT NULL DEFAULT '',
        last_seen_at TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX sessions_agent ON sessions(agent_id, ended_at, started_at);

    CREATE TABLE work_contexts (
        session_id TEXT PRIMARY KEY,
        agent_id TEXT NOT NULL,
        context TEXT NOT NULL
    );
    CREATE INDEX work_contexts_agent ON work_contexts(agent_id);

    CREATE TABLE messages (
        message_id TEXT PRIMARY KEY,
        thread_id TEXT NOT NULL DEFAULT '',
        agent_id TEXT NOT NULL,
        session_id TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL DEFAULT '',
        body_format TEXT NOT NULL DEFAULT 'markdown',
        body_content TEXT NOT NULL DEFAULT '',
        body_structured TEXT NOT NULL DEFAULT '',
        deleted INTEGER NOT NULL DEFAULT 0,
        deleted_at TEXT NOT NULL DEFAULT '',
        delete_reason TEXT NOT NULL DEFAULT '',
        authored_by TEXT NOT NULL DEFAULT '',
        disclosed INTEGER NOT NULL DEFAULT 0,
        reply_to TEXT NOT NULL DEFAULT '',
        -- 1 when addressed to everyone (explicitly, or by naming nobody).
        broadcast INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX messages_created ON messages(created_at, message_id);
    CREATE INDEX messages_author ON messages(agent_id, created_at);
    CREATE INDEX messages_thread ON messages(thread_id) WHERE thread_id != '';
    CREATE INDEX messages_reply ON messages(reply_to) WHERE reply_to != '';
    CREATE INDEX messages_broadcast ON messages(created_at) WHERE broadcast = 1;

    CREATE TABLE message_scopes (
        message_id TEXT NOT NULL,
        scope_type TEXT NOT NULL,
        scope_value TEXT NOT NULL,
        PRIMARY KEY (message_id, scope_type, scope_value)
    ) WITHOUT ROWID;
    CREATE INDEX message_scopes_tv ON message_scopes(scope_type, scope_value, message_id);

    CREATE TABLE message_refs (
        message_id TEXT NOT NULL,
        ref_type TEXT NOT NULL,
        ref_value TEXT NOT NULL,
        PRIMARY KEY (message_id, ref_type, ref_value)
    ) WITHOUT ROWID;
    CREATE INDEX message_refs_tv ON message_refs(ref_type, ref_value, message_id);

    CREATE TABLE message_deliveries (
        message_id TEXT NOT NULL,
        recipient_agent_id TEXT NOT NULL,
        delivered_at TEXT NOT NULL,
        seen_at TEXT NOT NULL DEFAULT '',
        read_at TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (message_id, recipient_agent_id)
    ) WITHOUT ROWID;
    CREATE INDEX message_deliveries_recipient ON message_deliveries(recipient_agent_id, message_id);

    CREATE TABLE message_edits (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        edited_at TEXT NOT NULL,
        old_content TEXT NOT NULL,
        new_content TEXT NOT NULL
    );
    CREATE INDEX message_edits_msg ON message_edits(message_id);

    CREATE TABLE groups (
        group_id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE group_members (
        group_id TEXT NOT NULL REFERENCES groups(group_id) ON DELETE CASCADE,
        member_type TEXT NOT NULL,
        member_value TEXT NOT NULL,
        added_at TEXT NOT NULL,
        added_by TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (group_id, member_type, member_value)
    ) WITHOUT ROWID;
    CREATE INDEX group_members_value ON group_members(member_type, member_value);

    CREATE TABLE purge_metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    "#,
    // 2: broadcast ids as a covering partial index, so the inbox's
    // candidate set never scans the messages table.
    r#"
    DROP INDEX IF EXISTS messages_broadcast;
    CREATE INDEX messages_broadcast_id ON messages(message_id) WHERE broadcast = 1;
    "#,
    // 3: what each paired peer may pull from us (messages to its agents,
    // read receipts of its agents' messages), in our order, and how far
    // we and it have got. `feed_epoch` changes whenever the feed is built
    // anew (a rebuild renumbers it), so a peer knows to start over.
    r#"
    CREATE TABLE peer_feed (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        prefix TEXT NOT NULL,
        event_id TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX peer_feed_prefix ON peer_feed(prefix, seq);
    CREATE TABLE peer_sync (
        prefix TEXT PRIMARY KEY,
        pulled_epoch TEXT NOT NULL DEFAULT '',
        pulled_seq INTEGER NOT NULL DEFAULT 0,
        acked_epoch TEXT NOT NULL DEFAULT '',
        acked_seq INTEGER NOT NULL DEFAULT 0,
        last_pull_at TEXT NOT NULL DEFAULT ''
    );
    INSERT OR REPLACE INTO meta (key, value) VALUES ('feed_epoch', lower(hex(randomblob(8))));
    "#,
    // 4: which message a queued create carries, so `thrum sent` can say a
    // peer's agent has not got it yet (the row leaves once the peer holds it).
    r#"
    ALTER TABLE peer_feed ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
    UPDATE peer_feed SET message_id = COALESCE(json_extract(body, '$.message_id'), '')
     WHERE json_valid(body) AND json_extract(body, '$.type') = 'message.create';
    CREATE INDEX peer_feed_message ON peer_feed(message_id, prefix);
    "#,
    // 5: the inbox is the union of a few index ranges (deliveries to the
    // agent, mentions of its names, its groups, broadcasts). Each range now
    // carries the message's time and author, sorted by time, so a page is
    // a merge of the ranges that stops after the page (no lookup of every
    // candidate in `messages`), and deleted messages are found in their own
    // small index. Only the rows that address someone are indexed by value:
    // mentions, groups, and deliveries to anyone but the author (an author's
    // own row, one per message, is found through `messages` instead, whose
    // author index now covers that range too).
    r#"
    ALTER TABLE message_deliveries ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
    ALTER TABLE message_deliveries ADD COLUMN author TEXT NOT NULL DEFAULT '';
    ALTER TABLE message_refs ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
    ALTER TABLE message_refs ADD COLUMN author TEXT NOT NULL DEFAULT '';
    ALTER TABLE message_scopes ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
    ALTER TABLE message_scopes ADD COLUMN author TEXT NOT NULL DEFAULT '';
    UPDATE message_deliveries SET created_at = m.created_at, author = m.agent_id
      FROM messages m WHERE m.message_id = message_deliveries.message_id;
    UPDATE message_refs SET created_at = m.created_at, author = m.agent_id
      FROM messages m WHERE m.message_id = message_refs.message_id;
    UPDATE message_scopes SET created_at = m.created_at, author = m.agent_id
      FROM messages m WHERE m.message_id = message_scopes.message_id;
    DROP INDEX message_deliveries_recipient;
    DROP INDEX message_refs_tv;
    DROP INDEX message_scopes_tv;
    DROP INDEX messages_broadcast_id;
    CREATE INDEX message_deliveries_inbox
      ON message_deliveries(recipient_agent_id, created_at, message_id, author, read_at)
      WHERE recipient_agent_id != author;
    CREATE INDEX message_mentions_inbox ON message_refs(ref_value, created_at, message_id, author)
      WHERE ref_type = 'mention';
    CREATE INDEX message_group_refs_inbox ON message_refs(ref_value, created_at, message_id, author)
      WHERE ref_type = 'group';
    CREATE INDEX message_group_scopes_inbox ON message_scopes(scope_value, created_at, message_id, author)
      WHERE scope_type = 'group';
    CREATE INDEX messages_broadcast_inbox ON messages(created_at, message_id, agent_id, deleted) WHERE broadcast = 1;
    CREATE INDEX messages_deleted ON messages(message_id) WHERE deleted = 1;
    DROP INDEX messages_author;
    CREATE INDEX messages_author ON messages(agent_id, created_at, message_id, deleted);
    "#,
    // 6: when each recipient's runtime was told about a message, and by
    // which channel (`message.announced`, ours). The inbox index covers it,
    // so "unread and not yet announced" is answered from the index alone.
    r#"
    ALTER TABLE message_deliveries ADD COLUMN announced_at TEXT NOT NULL DEFAULT '';
    ALTER TABLE message_deliveries ADD COLUMN announced_via TEXT NOT NULL DEFAULT '';
    DROP INDEX message_deliveries_inbox;
    CREATE INDEX message_deliveries_inbox
      ON message_deliveries(recipient_agent_id, created_at, message_id, author, read_at, announced_at)
      WHERE recipient_agent_id != author;
    "#,
];

/// Brings the database schema up to date.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")?;
    let current: i64 = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= current {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [version])?;
        tx.commit()?;
    }
    Ok(())
}

/// The writer's page cache (negative: KiB).
pub const CACHE_SIZE: i64 = -4000;

/// Connection settings shared by the writer and the readers: WAL so
/// readers never block the writer. No fsync at all (`synchronous = OFF`):
/// the JSONL log, not SQLite, is what must survive power loss. A killed
/// process loses nothing (the kernel holds the writes); after the machine
/// itself went down mid-run, `Store::open` rebuilds the projection from
/// the log instead of trusting a file whose checkpoint may be half on
/// disk. This keeps the checkpoint's fsync of the whole database from
/// queueing in front of the log's own fsyncs.
pub fn configure(conn: &Connection) -> Result<()> {
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = OFF;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = {CACHE_SIZE};"
    ))?;
    stable_plans(conn)
}

/// Turns on the query planner stability guarantee. Without it SQLite
/// (built with STAT4) marks any statement whose plan looked at a bound
/// value (an ORDER BY with `col = ?`, a LIMIT ?) to be re-prepared whenever
/// that value changes, so a cached statement was parsed again on nearly
/// every call: a tenth of the daemon's CPU under load. Our queries do not
/// need value-dependent plans.
pub fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

/// Drops the secondary indexes, returning the SQL that recreates them:
/// loading a whole log into empty tables and indexing afterwards is
/// several times faster than keeping every index current row by row.
pub fn drop_indexes(conn: &Connection) -> Result<Vec<String>> {
    let defs: Vec<(String, String)> = conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &defs {
        conn.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
    }
    Ok(defs.into_iter().map(|(_, sql)| sql).collect())
}

/// Recreates indexes dropped by [`drop_indexes`].
pub fn create_indexes(conn: &Connection, sql: &[String]) -> Result<()> {
    for s in sql {
        conn.execute_batch(s)?;
    }
    Ok(())
}
