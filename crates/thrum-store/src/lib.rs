//! Persistence for thrum: the append-only JSONL event log (the source of
//! truth) and the SQLite projection (a rebuildable cache for queries).
//!
//! [`Store`] is owned by the daemon's single writer. It commits batches of
//! jobs with group commit: every job's events are applied inside one
//! SQLite transaction (each job's own reads and writes in a savepoint, so
//! one failing job does not sink the others), appended to the log and
//! fsynced once, and only then is the transaction committed and the jobs
//! acknowledged.
//! [`Reader`]s are separate read-only connections for queries.

pub mod error;
pub mod log;
pub mod projection;
pub mod query;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use thrum_core::Event;
use thrum_core::event::Decoded;

pub use error::{Result, StoreError};
pub use log::{EventLog, ShardRead};
pub use query::Reader;

/// The projection's connection as the daemon's handlers and writer jobs see
/// it: they pass it to the named functions of [`query`] and [`projection`]
/// (the daemon writes no SQL of its own, and does not depend on rusqlite).
pub use rusqlite::Connection as Db;

/// How many bytes before a shard's applied offset are remembered to
/// notice a rewrite.
const FINGERPRINT_LEN: u64 = 64;

/// What opening the store found and repaired.
#[derive(Debug, Default, Clone)]
pub struct Recovery {
    /// Events applied from the log at start (a tail after a crash, or
    /// everything after the database was deleted).
    pub replayed: usize,
    /// Shards whose applied offset no longer matched and were re-read.
    pub rescanned: Vec<String>,
    /// Torn tails cut off, with where the fragment was saved.
    pub torn: Vec<(String, PathBuf)>,
    /// Lines that are not valid events: (shard, line number, reason).
    pub bad_lines: Vec<(String, usize, String)>,
    /// Journaled events a shard lacked after a crash, re-appended.
    pub restored_from_journal: usize,
    /// The machine went down while the store was open: the projection
    /// (never fsynced) was deleted and rebuilt from the log.
    pub rebuilt_after_crash: bool,
}

/// A job's outcome inside a batch.
pub type JobResult<T, E> = std::result::Result<(Vec<Event>, T), E>;

/// The writer side of the store.
pub struct Store {
    log: EventLog,
    db: Connection,
    db_path: PathBuf,
    daemon_id: String,
    sequence: i64,
    /// Frames in the WAL after the latest commit (SQLite's WAL hook): what
    /// the WAL holds since it last restarted, which its file size (the
    /// file is reused, not shrunk) cannot tell.
    wal_frames: Arc<AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("db_path", &self.db_path).field("sequence", &self.sequence).finish()
    }
}

impl Store {
    /// Opens the log at `log_dir` and the database at `db_path`, then
    /// brings the projection up to date with the log. `recovered_dir`
    /// receives torn fragments cut from shards.
    pub fn open(log_dir: &Path, db_path: &Path, daemon_id: &str, recovered_dir: &Path) -> Result<(Self, Recovery)> {
        // The write-ahead journal lives beside the database (local state,
        // never in the synced worktree).
        let journal = db_path.parent().unwrap_or(Path::new(".")).join("journal");
        let (log, journal_fix) = EventLog::open_writer(log_dir, &journal, recovered_dir)?;
        if let Some(dir) = db_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        }
        let rebuilt_after_crash = guard_against_os_crash(db_path)?;
        let mut db = Connection::open(db_path)?;
        // The writer cycles through a few dozen statements; the default
        // cache of 16 would re-prepare them constantly.
        db.set_prepared_statement_cache_capacity(256);
        projection::schema::configure(&db)?;
        projection::schema::migrate(&mut db)?;
        // SQLite would checkpoint inside whichever commit crosses 1,000
        // WAL pages, making the requests of that batch wait for it; the
        // owner calls `checkpoint_wal` when it has a moment instead.
        db.pragma_update(None, "wal_autocheckpoint", 0)?;
        // (After that pragma, which installs a hook of its own.) The WAL
        // file is reused from its start after a checkpoint, never cut back
        // by the writer: cutting a 16 MiB file inside a commit cost that
        // commit milliseconds. The checkpointer truncates it when writes
        // pause.
        // The writer's transactions take the write lock when they begin
        // (waiting through the busy timeout): a deferred one that read
        // first could not upgrade after the checkpointer restarted the WAL
        // (SQLITE_BUSY_SNAPSHOT, which no busy handler retries).
        db.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        let wal_frames = Arc::new(AtomicU64::new(0));
        let frames = wal_frames.clone();
        db.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: std::os::raw::c_int| {
            frames.store(pages.max(0) as u64, Ordering::Relaxed);
            Ok(())
        }))?;
        let mut store = Store {
            log,
            db,
            db_path: db_path.to_path_buf(),
            daemon_id: daemon_id.to_string(),
            sequence: 0,
            wal_frames,
        };
        let mut recovery = store.catch_up(recovered_dir)?;
        recovery.restored_from_journal = journal_fix.restored;
        recovery.rebuilt_after_crash = rebuilt_after_crash;
        recovery.torn.splice(0..0, journal_fix.torn);
        store.sequence = store.db.query_row(
            "SELECT COALESCE(MAX(sequence), 0) FROM events WHERE origin_daemon = ?1",
            [daemon_id],
            |r| r.get(0),
        )?;
        Ok((store, recovery))
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    pub fn daemon_id(&self) -> &str {
        &self.daemon_id
    }

    /// Applies whatever the log holds beyond what the projection has seen.
    /// A fresh database replays everything in (timestamp, event_id) order;
    /// otherwise each shard's tail is applied from its recorded offset.
    pub fn catch_up(&mut self, recovered_dir: &Path) -> Result<Recovery> {
        let mut rec = Recovery::default();
        // Read every shard's unapplied bytes first; they are decoded in
        // place (the decoded events borrow from these buffers).
        let mut tails: Vec<(String, u64, Vec<u8>)> = Vec::new();
        for shard in self.log.shards()? {
            let stored: Option<(i64, Vec<u8>)> = self
                .db
                .query_row("SELECT offset, fingerprint FROM log_offsets WHERE shard = ?1", [&shard], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let mut from = 0u64;
            if let Some((off, fp)) = stored {
                let off = off as u64;
                if self.log.len(&shard)? >= off && self.log.tail_bytes(&shard, off, FINGERPRINT_LEN)? == fp {
                    from = off;
                } else {
                    rec.rescanned.push(shard.clone());
                }
            }
            let data = self.log.read_bytes(&shard, from)?;
            tails.push((shard, from, data));
        }
        let reads = decode_tails(&tails);
        let mut pending: Vec<&Decoded<'_>> = Vec::new();
        let mut offsets: Vec<(&str, u64)> = Vec::new();
        for ((shard, _, _), read) in tails.iter().zip(&reads) {
            for (n, why) in &read.bad_lines {
                tracing::warn!(shard, line = n, reason = %why, "skipping unreadable log line");
                rec.bad_lines.push((shard.clone(), *n, why.clone()));
            }
            if let Some(frag) = &read.torn_tail {
                let saved = self.log.cut_torn_tail(shard, read.end, recovered_dir)?;
                tracing::warn!(shard, bytes = frag.len(), saved = %saved.display(), "cut torn tail from log shard");
                rec.torn.push((shard.clone(), saved));
            }
            pending.extend(read.lines.iter().map(|l| &l.event));
            offsets.push((shard, read.end));
        }
        // Apply in the order the events happened, whichever shard they are in.
        pending
            .sort_unstable_by(|a, b| (&a.head.timestamp, &a.head.event_id).cmp(&(&b.head.timestamp, &b.head.event_id)));
        let tx = self.db.transaction()?;
        // Into an empty projection, indexes are built once at the end
        // (one sort each) instead of row by row.
        let bulk = pending.len() >= BULK_MIN && !tx.prepare_cached("SELECT 1 FROM events LIMIT 1")?.exists([])?;
        let indexes = if bulk {
            // The whole database fits in a larger cache for the duration,
            // so no dirty page is spilled to the WAL and read back.
            tx.execute_batch("PRAGMA cache_size = -65536")?;
            projection::schema::drop_indexes(&tx)?
        } else {
            Vec::new()
        };
        let mut cutoff = if bulk { projection::PurgeCutoff::load(&tx)? } else { projection::PurgeCutoff::Lookup };
        for d in pending {
            if projection::apply_decoded(&tx, &d.head, d.payload.clone(), &mut cutoff)? == projection::Applied::New {
                rec.replayed += 1;
            }
        }
        projection::schema::create_indexes(&tx, &indexes)?;
        for (shard, end) in offsets {
            save_offset(&tx, &self.log, shard, end)?;
        }
        tx.commit()?;
        if bulk {
            self.db.execute_batch(&format!(
                "PRAGMA cache_size = {}; PRAGMA shrink_memory;",
                projection::schema::CACHE_SIZE
            ))?;
        }
        Ok(rec)
    }

    /// Commits a batch of jobs with one log fsync. Each job runs against
    /// the transaction (seeing earlier jobs' effects), returning the events
    /// to write and a value for its caller, or an error that rejects only
    /// that job (undoing whatever it wrote itself). Results come back in
    /// job order. When SQLite or the log fails (I/O, a full disk), the whole
    /// batch fails and nothing of it is kept.
    pub fn commit_batch<T, E, F>(&mut self, jobs: Vec<F>) -> (Vec<std::result::Result<T, E>>, Vec<Event>)
    where
        F: FnOnce(&Connection) -> JobResult<T, E>,
        E: From<StoreError>,
    {
        let n = jobs.len();
        let seq_before = self.sequence;
        let mut results: Vec<std::result::Result<T, E>> = Vec::with_capacity(n);
        let mut written: Vec<(String, Event)> = Vec::new();
        let outcome = (|| -> Result<()> {
            let mut tx = self.db.transaction()?;
            for job in jobs {
                // The job's own reads and writes run inside a savepoint (an
                // error undoes what it wrote); through cached statements,
                // since rusqlite's helper would re-parse the SQL every time.
                tx.prepare_cached("SAVEPOINT job")?.execute([])?;
                match job(&tx) {
                    Ok((events, value)) => {
                        tx.prepare_cached("RELEASE job")?.execute([])?;
                        // Its events are applied outside the savepoint: a
                        // savepoint copies every page it touches into a
                        // sub-journal (an eighth of the writer's time under
                        // load), and applying fails only when SQLite itself
                        // does (I/O, a full disk), which fails the whole
                        // batch anyway.
                        for mut ev in events {
                            self.sequence += 1;
                            ev.stamp_origin(&self.daemon_id, self.sequence);
                            let shard = shard_for(&tx, &ev)?;
                            projection::apply(&tx, &ev)?;
                            written.push((shard, ev));
                        }
                        results.push(Ok(value));
                    }
                    Err(e) => {
                        tx.prepare_cached("ROLLBACK TO job")?.execute([])?;
                        tx.prepare_cached("RELEASE job")?.execute([])?;
                        results.push(Err(e));
                    }
                }
            }
            if !written.is_empty() {
                let lens = self.log.append(&written)?;
                for (shard, len) in lens {
                    save_offset(&tx, &self.log, &shard, len)?;
                }
            }
            tx.set_drop_behavior(rusqlite::DropBehavior::Commit);
            tx.commit()?;
            Ok(())
        })();
        if let Err(e) = outcome {
            // Nothing of this batch is durable: the transaction rolled back
            // and the log append (if it started) failed before its fsync
            // returned. Every job that had succeeded now fails.
            self.sequence = seq_before;
            let msg = e.to_string();
            tracing::error!(error = %msg, "batch commit failed");
            let full = e.is_disk_full();
            results = results
                .into_iter()
                .map(|r| {
                    r.and_then(|_| {
                        Err(E::from(if full {
                            StoreError::io(Path::new("log"), std::io::Error::from_raw_os_error(28))
                        } else {
                            StoreError::Invalid(msg.clone())
                        }))
                    })
                })
                .collect();
            while results.len() < n {
                results.push(Err(E::from(StoreError::Invalid(msg.clone()))));
            }
            return (results, Vec::new());
        }
        (results, written.into_iter().map(|(_, ev)| ev).collect())
    }

    /// Merges events from another clone into the local shards: a union by
    /// `event_id` (never a text merge), each changed shard rewritten in
    /// (timestamp, event_id) order, atomically. The events that were new
    /// here are applied to the projection and returned (for subscribers).
    /// Message and session events older than the purge cutoff (ours, or
    /// one arriving in this very merge) are dropped, so a purge on one
    /// clone is not undone by another clone's history.
    pub fn merge_remote(&mut self, remote: Vec<(String, Event)>) -> Result<Vec<Event>> {
        self.log.checkpoint()?;
        let local_cutoff: String = self.db.query_row(
            "SELECT COALESCE(MAX(value), '') FROM purge_metadata WHERE key = 'purge_cutoff'",
            [],
            |r| r.get(0),
        )?;
        let mut cutoff = local_cutoff.clone();
        let local_agents = projection::apply::agent_cutoffs(&self.db)?;
        let mut agents = local_agents.clone();
        for (_, ev) in &remote {
            if ev.kind() == "purge.executed"
                && let Some(c) = ev.as_object().get("cutoff").and_then(|v| v.as_str())
                && c > cutoff.as_str()
            {
                cutoff = c.to_string();
            }
            if let Ok(thrum_core::event::Payload::AgentMessagesDeleted(d)) = ev.payload() {
                let c = agents.entry(d.agent_id).or_default();
                if *c < d.cutoff {
                    *c = d.cutoff;
                }
            }
        }
        // Messages of agents whose messages were deleted (here, or by a
        // marker in this merge) stay out, with their edits and deletions.
        let erased: std::collections::HashSet<String> =
            remote.iter().filter_map(|(_, ev)| erased_create(ev, &agents)).map(str::to_string).collect();
        // Keep only what we lack, grouped by the local shard it belongs in.
        // Whether we have an event is answered by the projection's event
        // table, so the cost follows the new events, not the history.
        let mut seen = std::collections::HashSet::new();
        let mut by_shard: std::collections::BTreeMap<String, Vec<Event>> = Default::default();
        for (path, ev) in remote {
            if purged(&ev, &cutoff) || about_erased(&ev, &erased) || !seen.insert(ev.event_id().to_string()) {
                continue;
            }
            let known: bool =
                self.db.prepare_cached("SELECT 1 FROM events WHERE event_id = ?1")?.exists([ev.event_id()])?;
            if known {
                continue;
            }
            let shard = if log::is_shard_name(&path) { path } else { shard_for(&self.db, &ev)? };
            by_shard.entry(shard).or_default().push(ev);
        }
        let mut fresh: Vec<Event> = Vec::new();
        for (shard, mut added) in by_shard {
            added.sort_by(|a, b| (a.timestamp(), a.event_id()).cmp(&(b.timestamp(), b.event_id())));
            let newest = self.log.last_event(&shard)?;
            let appendable = newest
                .as_ref()
                .is_none_or(|n| (added[0].timestamp(), added[0].event_id()) > (n.timestamp(), n.event_id()));
            if appendable {
                // The usual case: the remote only added newer events, so
                // appending keeps the order and never touches old lines.
                let batch: Vec<(String, Event)> = added.iter().map(|e| (shard.clone(), e.clone())).collect();
                for (s, len) in self.log.append(&batch)? {
                    save_offset(&self.db, &self.log, &s, len)?;
                }
            } else {
                let mut merged: Vec<Event> =
                    self.log.read_from(&shard, 0)?.lines.into_iter().map(|l| l.event).collect();
                merged.extend(added.iter().cloned());
                merged.sort_by(|a, b| (a.timestamp(), a.event_id()).cmp(&(b.timestamp(), b.event_id())));
                self.rewrite_shard(&shard, &merged)?;
            }
            fresh.extend(added);
        }
        fresh.sort_by(|a, b| (a.timestamp(), a.event_id()).cmp(&(b.timestamp(), b.event_id())));
        let tx = self.db.transaction()?;
        let mut applied = Vec::with_capacity(fresh.len());
        for ev in fresh {
            if projection::apply(&tx, &ev)? == projection::Applied::New {
                applied.push(ev);
            }
        }
        tx.commit()?;
        // A purge that arrived from elsewhere also clears our own files,
        // and so does an agent's deletion.
        if cutoff > local_cutoff {
            self.prune_before(&cutoff)?;
        }
        for (agent, c) in &agents {
            if local_agents.get(agent).is_none_or(|l| l < c) {
                self.erase_agent_messages(agent, c)?;
            }
        }
        Ok(applied)
    }

    /// Rewrites the shards without the messages `agent_id` wrote up to
    /// `cutoff` and the events about them (the file side of
    /// `message.deleteByAgent`). Returns how many events went.
    pub fn erase_agent_messages(&mut self, agent_id: &str, cutoff: &str) -> Result<usize> {
        let agents = std::collections::HashMap::from([(agent_id.to_string(), cutoff.to_string())]);
        let mut shards = Vec::new();
        let mut ids = std::collections::HashSet::new();
        for shard in self.log.shards()? {
            let events: Vec<Event> = self.log.read_from(&shard, 0)?.lines.into_iter().map(|l| l.event).collect();
            ids.extend(events.iter().filter_map(|e| erased_create(e, &agents)).map(str::to_string));
            shards.push((shard, events));
        }
        let mut dropped = 0;
        for (shard, events) in shards {
            let keep: Vec<Event> = events.iter().filter(|e| !about_erased(e, &ids)).cloned().collect();
            if keep.len() != events.len() {
                dropped += events.len() - keep.len();
                self.rewrite_shard(&shard, &keep)?;
            }
        }
        Ok(dropped)
    }

    /// Rewrites every shard without the message and session events older
    /// than `cutoff` (the file side of a purge).
    pub fn prune_before(&mut self, cutoff: &str) -> Result<(usize, usize)> {
        let mut files = 0;
        let mut dropped = 0;
        for shard in self.log.shards()? {
            let events: Vec<Event> = self.log.read_from(&shard, 0)?.lines.into_iter().map(|l| l.event).collect();
            let keep: Vec<Event> = events.iter().filter(|e| !purged(e, cutoff)).cloned().collect();
            if keep.len() != events.len() {
                dropped += events.len() - keep.len();
                files += 1;
                self.rewrite_shard(&shard, &keep)?;
            }
        }
        Ok((files, dropped))
    }

    /// Flushes the shards and empties the journal (also done on drop).
    pub fn checkpoint(&mut self) -> Result<()> {
        self.log.checkpoint()
    }

    /// Copies the WAL back into the database (a PASSIVE checkpoint, which
    /// never waits for readers) once the WAL has grown past `above` bytes.
    /// Returns whether a checkpoint ran. The [`Checkpointer`] does this in
    /// the background; the writer calls it with `MAX_WAL` after every
    /// batch so that a WAL the background could not keep up with is
    /// folded back and restarted.
    pub fn checkpoint_wal(&mut self, above: u64) -> Result<bool> {
        if wal_bytes(&self.wal_frames) <= above {
            return Ok(false);
        }
        self.db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(true)
    }

    /// A second connection for checkpointing from another thread.
    pub fn checkpointer(&self) -> Result<Checkpointer> {
        let db = Connection::open(&self.db_path)?;
        // No fsync of the database at checkpoints (see schema::configure).
        db.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA synchronous = OFF;")?;
        Ok(Checkpointer { db, db_path: self.db_path.clone(), frames: self.wal_frames.clone() })
    }

    /// Opens a read-only connection to the projection.
    pub fn reader(&self) -> Result<Reader> {
        Reader::open(&self.db_path)
    }

    /// The projection, for the named queries of [`query`] (read-only:
    /// every change goes through an event or a named store function).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Commits events that need no checks of their own (a maintenance
    /// marker such as `purge.executed`): one log fsync, applied to the
    /// projection; returns them as committed.
    pub fn commit_events(&mut self, events: Vec<Event>) -> Result<Vec<Event>> {
        let (mut results, committed) = self.commit_batch(vec![move |_: &Connection| Ok::<_, StoreError>((events, ()))]);
        results.pop().unwrap_or(Ok(()))?;
        Ok(committed)
    }

    /// Rewrites shards (purge) and re-records their offsets.
    pub fn rewrite_shard(&mut self, shard: &str, events: &[Event]) -> Result<()> {
        let len = self.log.rewrite(shard, events)?;
        if len == 0 {
            self.db.execute("DELETE FROM log_offsets WHERE shard = ?1", [shard])?;
        } else {
            save_offset(&self.db, &self.log, shard, len)?;
        }
        Ok(())
    }

    /// Reads every event of every shard (for purge and export).
    pub fn all_events(&self) -> Result<Vec<(String, Event)>> {
        let mut out = Vec::new();
        for shard in self.log.shards()? {
            for l in self.log.read_from(&shard, 0)?.lines {
                out.push((shard.clone(), l.event));
            }
        }
        Ok(out)
    }
}

/// Folds the WAL back into the database from its own connection, so the
/// writer never spends its time (or an fsync of the database) on it.
/// A PASSIVE checkpoint runs alongside the writer's commits.
pub struct Checkpointer {
    db: Connection,
    db_path: PathBuf,
    frames: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Bytes the WAL holds since it last restarted (as of the latest
    /// commit).
    pub fn wal_size(&self) -> u64 {
        wal_bytes(&self.frames)
    }

    /// Copies every committed frame it can back into the database; true
    /// when that was all of them (the next commit restarts the WAL).
    pub fn checkpoint(&self) -> Result<bool> {
        let (log, done): (i64, i64) =
            self.db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(1)?, r.get(2)?)))?;
        Ok(log == done)
    }

    /// Once writes paused: a WAL file grown by a burst is cut back to
    /// nothing.
    pub fn truncate_if_large(&self) -> Result<()> {
        if !self.wal_file_large() {
            return Ok(());
        }
        // A TRUNCATE checkpoint holds new writers back while it waits for
        // readers: wait briefly, and leave it for the next pause if busy.
        self.db.busy_timeout(std::time::Duration::from_millis(20))?;
        let done = self.db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        self.db.busy_timeout(std::time::Duration::from_secs(5))?;
        done?;
        Ok(())
    }

    /// Whether the WAL file (whatever it holds) is bigger than `IDLE_WAL`.
    pub fn wal_file_large(&self) -> bool {
        let wal = PathBuf::from(format!("{}-wal", self.db_path.display()));
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > IDLE_WAL
    }
}

/// WAL bytes for a frame count (each frame: a page and a 24-byte header).
fn wal_bytes(frames: &AtomicU64) -> u64 {
    frames.load(Ordering::Relaxed) * (4096 + 24)
}

/// The message id of a `message.create` that an agent's deletion removes:
/// written by one of `agents` at or before its cutoff.
fn erased_create<'a>(ev: &'a Event, agents: &std::collections::HashMap<String, String>) -> Option<&'a str> {
    if agents.is_empty() || ev.kind() != "message.create" {
        return None;
    }
    let obj = ev.as_object();
    let author = obj.get("agent_id").and_then(|v| v.as_str())?;
    let cutoff = agents.get(author)?;
    (ev.timestamp() <= cutoff.as_str()).then_some(())?;
    obj.get("message_id").and_then(|v| v.as_str())
}

/// Whether a message event is about one of these messages.
fn about_erased(ev: &Event, ids: &std::collections::HashSet<String>) -> bool {
    !ids.is_empty()
        && ev.kind().starts_with("message.")
        && ev.as_object().get("message_id").and_then(|v| v.as_str()).is_some_and(|id| ids.contains(id))
}

/// Whether a purge with this cutoff removes the event: message and
/// session events from before it (agents and groups always stay).
pub fn purged(ev: &Event, cutoff: &str) -> bool {
    !cutoff.is_empty()
        && ev.timestamp() < cutoff
        && (ev.kind().starts_with("message.") || ev.kind().starts_with("agent.session."))
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.log.checkpoint() {
            tracing::warn!(error = %e, "checkpoint at close failed; the journal will be replayed at next start");
        }
        // Make the projection durable once, then say it was closed cleanly.
        let durable = self.db.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_checkpoint(TRUNCATE);");
        match durable {
            Ok(()) => {
                let _ = std::fs::remove_file(open_marker(&self.db_path));
            }
            Err(e) => {
                tracing::warn!(error = %e, "final checkpoint failed; the projection is rebuilt if the machine crashes")
            }
        }
    }
}

/// `messages.db.open`: present while a store has the database open, with
/// the boot id of the machine at that time.
fn open_marker(db_path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.open", db_path.display()))
}

/// This boot of the machine ("" where the system does not say).
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Deletes the projection if the machine went down while it was open (a
/// marker from another boot, or from an unknown one), since its pages were
/// never fsynced; then marks it open for this boot. Returns whether it
/// deleted. A process that was merely killed left its writes with the
/// kernel: same boot, nothing to do.
fn guard_against_os_crash(db_path: &Path) -> Result<bool> {
    let marker = open_marker(db_path);
    let now = boot_id();
    let crashed = match std::fs::read_to_string(&marker) {
        Ok(then) => then.trim() != now || now.is_empty(),
        Err(_) => false,
    };
    if crashed {
        tracing::warn!("the machine went down while the projection was open: rebuilding it from the log");
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", db_path.display()));
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&p, e)),
            }
        }
    }
    log::write_atomic(&marker, format!("{now}\n").as_bytes())?;
    Ok(crashed)
}

/// Events from which a replay into an empty projection builds its
/// indexes afterwards instead of row by row.
const BULK_MIN: usize = 1000;

/// Log bytes from which decoding is spread over two threads.
const PARALLEL_DECODE_MIN: usize = 256 << 10;

/// Decodes each shard's unapplied bytes, on two threads when there is
/// enough to share (decoding JSON is most of a replay's work).
fn decode_tails(tails: &[(String, u64, Vec<u8>)]) -> Vec<ShardRead<Decoded<'_>>> {
    fn decode(tail: &(String, u64, Vec<u8>)) -> ShardRead<Decoded<'_>> {
        log::parse_lines_with(&tail.2, tail.1, |s| Decoded::parse_line(s).map_err(|e| e.to_string()))
    }
    let total: usize = tails.iter().map(|t| t.2.len()).sum();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    if total < PARALLEL_DECODE_MIN || threads < 2 || tails.len() < 2 {
        return tails.iter().map(decode).collect();
    }
    // Two halves of about equal size: biggest shards first, each to the
    // lighter side.
    let mut order: Vec<usize> = (0..tails.len()).collect();
    order.sort_unstable_by_key(|&i| std::cmp::Reverse(tails[i].2.len()));
    let (mut left, mut right) = (Vec::new(), Vec::new());
    let (mut lw, mut rw) = (0usize, 0usize);
    for i in order {
        if lw <= rw {
            lw += tails[i].2.len();
            left.push(i);
        } else {
            rw += tails[i].2.len();
            right.push(i);
        }
    }
    let mut out: Vec<Option<ShardRead<Decoded<'_>>>> = tails.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let other = scope.spawn(|| right.iter().map(|&i| (i, decode(&tails[i]))).collect::<Vec<_>>());
        for &i in &left {
            out[i] = Some(decode(&tails[i]));
        }
        // A panic in the helper thread is a bug; surface it here.
        for (i, r) in other.join().unwrap_or_else(|p| std::panic::resume_unwind(p)) {
            out[i] = Some(r);
        }
    });
    out.into_iter().map(Option::unwrap_or_default).collect()
}

/// WAL size worth checkpointing once writes pause (SQLite's own
/// threshold is about 4 MiB).
pub const IDLE_WAL: u64 = 1 << 20;
/// WAL size the background checkpointer folds back even while writes go
/// on.
pub const BUSY_WAL: u64 = 16 << 20;
/// WAL size at which the writer itself checkpoints: the background could
/// not finish one between commits, and a WAL restarts only after a
/// checkpoint that copied every frame.
pub const MAX_WAL: u64 = 64 << 20;

/// Picks the shard for an event; message events other than create are
/// filed with their message's author.
fn shard_for(conn: &Connection, ev: &Event) -> Result<String> {
    let kind = ev.kind();
    if kind.starts_with("message.") && kind != "message.create" {
        let mid = ev.as_object().get("message_id").and_then(|v| v.as_str()).unwrap_or("");
        let author: Option<String> = conn
            .prepare_cached("SELECT agent_id FROM messages WHERE message_id = ?1")?
            .query_row([mid], |r| r.get(0))
            .optional()?;
        return Ok(ev.shard(author.as_deref()));
    }
    Ok(ev.shard(None))
}

fn save_offset(conn: &Connection, log: &EventLog, shard: &str, offset: u64) -> Result<()> {
    let fp = log.tail_bytes(shard, offset, FINGERPRINT_LEN)?;
    conn.prepare_cached(
        "INSERT INTO log_offsets (shard, offset, fingerprint) VALUES (?1, ?2, ?3)
         ON CONFLICT (shard) DO UPDATE SET offset = excluded.offset, fingerprint = excluded.fingerprint",
    )?
    .execute(params![shard, offset as i64, fp])?;
    Ok(())
}

/// Opens a connection with the shared settings (used by readers too).
pub(crate) fn open_conn(path: &Path, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::default()
    };
    let c = Connection::open_with_flags(path, flags)?;
    c.set_prepared_statement_cache_capacity(128);
    // 1 MiB of page cache per connection: the daemon pools several readers,
    // and at 2 MiB each they alone pushed its idle RSS past 20 MiB. A miss
    // is a read from the OS page cache (microseconds); inbox reads did not
    // get slower.
    c.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA cache_size = -1000; PRAGMA temp_store = MEMORY;")?;
    projection::schema::stable_plans(&c)?;
    Ok(c)
}
