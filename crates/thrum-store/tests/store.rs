//! Store behaviour: group commit, crash replay, rebuild, torn writes.

use std::fs;
use std::path::Path;

use thrum_core::Event;
use thrum_core::event::{AgentRegister, MessageBody, MessageCreate};
use thrum_store::query::{self, ListQuery};
use thrum_store::{Store, StoreError};

fn open(dir: &Path) -> (Store, thrum_store::Recovery) {
    Store::open(&dir.join("log"), &dir.join("var/messages.db"), "d_test", &dir.join("var/recovered"))
        .unwrap_or_else(|e| panic!("open: {e}"))
}

fn register(name: &str, role: &str) -> Event {
    Event::new(
        "agent.register",
        &AgentRegister {
            agent_id: name.into(),
            kind: "agent".into(),
            name: name.into(),
            role: role.into(),
            module: "m".into(),
            ..Default::default()
        },
    )
}

fn message(id: &str, from: &str, to: &str, text: &str) -> Event {
    Event::new(
        "message.create",
        &MessageCreate {
            message_id: id.into(),
            agent_id: from.into(),
            session_id: "ses_x".into(),
            body: MessageBody { format: "markdown".into(), content: text.into(), structured: String::new() },
            refs: vec![thrum_core::Scope::new("mention", to)],
            recipients: vec![to.into()],
            ..Default::default()
        },
    )
}

fn commit(store: &mut Store, events: Vec<Event>) {
    let (r, _): (Vec<Result<(), StoreError>>, _) =
        store.commit_batch(vec![move |_: &rusqlite::Connection| Ok((events, ()))]);
    assert!(r.iter().all(Result::is_ok), "{r:?}");
}

/// Records that the peer we call `prefix` holds our feed up to `seq` (what
/// its next `sync.pull` says), as the daemon does: a writer job with no events.
fn ack(store: &mut Store, prefix: &str, epoch: &str, seq: i64) {
    let (r, events) = store.commit_batch::<(), StoreError, _>(vec![|c: &rusqlite::Connection| {
        thrum_store::projection::feed::set_acked(c, prefix, epoch, seq)?;
        Ok((Vec::new(), ()))
    }]);
    assert!(r.iter().all(Result::is_ok) && events.is_empty(), "{r:?}");
}

fn inbox(store: &Store, agent: &str) -> Vec<String> {
    let r = store.reader().unwrap_or_else(|e| panic!("{e}"));
    let role = query::agent(&r, agent).ok().flatten().map(|a| a.role);
    let q = ListQuery {
        for_agent: Some(agent.into()),
        for_agent_role: role,
        exclude_author: Some(agent.into()),
        reader: Some(agent.into()),
        page_size: 100,
        ..Default::default()
    };
    query::list_messages(&r, &q).unwrap_or_else(|e| panic!("{e}")).messages.into_iter().map(|m| m.message_id).collect()
}

#[test]
fn commit_shards_and_projects() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut store, _) = open(dir.path());
    commit(&mut store, vec![register("alice", "dev"), register("bob", "rev")]);
    commit(&mut store, vec![message("msg_1", "alice", "bob", "hi bob")]);
    let events = fs::read_to_string(dir.path().join("log/events.jsonl")).unwrap_or_default();
    assert_eq!(events.lines().count(), 2);
    let alice = fs::read_to_string(dir.path().join("log/messages/alice.jsonl")).unwrap_or_default();
    assert!(alice.contains("\"origin_daemon\":\"d_test\""));
    assert!(alice.contains("\"sequence\":3"));
    assert_eq!(inbox(&store, "bob"), vec!["msg_1"]);
    assert!(inbox(&store, "alice").is_empty());
}

#[test]
fn failing_job_does_not_sink_the_batch() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut store, _) = open(dir.path());
    type Job = Box<dyn FnOnce(&rusqlite::Connection) -> thrum_store::JobResult<u32, StoreError>>;
    let jobs: Vec<Job> = vec![
        Box::new(|_| Ok((vec![register("a", "x")], 1))),
        Box::new(|_| Err(StoreError::Invalid("nope".into()))),
        // A job that writes by itself and then fails: its write is undone.
        Box::new(|c| {
            c.execute("UPDATE agents SET role = 'changed' WHERE agent_id = 'a'", [])?;
            Err(StoreError::Invalid("changed my mind".into()))
        }),
        Box::new(|c| {
            // Later jobs see earlier ones' uncommitted effects.
            let seen = query::agent(c, "a").ok().flatten().is_some();
            Ok((vec![register("b", "y")], if seen { 3 } else { 0 }))
        }),
    ];
    let (r, committed) = store.commit_batch(jobs.into_iter().map(|j| move |c: &rusqlite::Connection| j(c)).collect());
    assert!(matches!(r[0], Ok(1)));
    assert!(r[1].is_err() && r[2].is_err());
    assert!(matches!(r[3], Ok(3)));
    assert_eq!(committed.len(), 2);
    let reader = store.reader().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(query::agents(&reader, None, None).map(|v| v.len()).ok(), Some(2));
    let a = query::agent(&reader, "a").ok().flatten().map(|a| a.role);
    assert_eq!(a.as_deref(), Some("x"), "the failed job's own write must be undone");
}

#[test]
fn deleting_the_database_rebuilds_identical_answers() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let before;
    {
        let (mut store, _) = open(dir.path());
        commit(&mut store, vec![register("alice", "dev"), register("bob", "rev")]);
        for i in 0..50 {
            commit(&mut store, vec![message(&format!("msg_{i:03}"), "alice", "bob", &format!("m{i}"))]);
        }
        before = inbox(&store, "bob");
    }
    for f in ["messages.db", "messages.db-wal", "messages.db-shm"] {
        let _ = fs::remove_file(dir.path().join("var").join(f));
    }
    let (store, rec) = open(dir.path());
    assert_eq!(rec.replayed, 52);
    assert_eq!(inbox(&store, "bob"), before);
    // Sequence numbering continues after the rebuild.
    assert_eq!(before.len(), 50);
}

#[test]
fn crash_between_append_and_apply_is_replayed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let (mut store, _) = open(dir.path());
        commit(&mut store, vec![register("alice", "dev"), register("bob", "rev")]);
    }
    // Simulate an append that reached the disk but whose transaction never
    // committed: write the event straight into the shard.
    let ev = message("msg_tail", "alice", "bob", "late");
    let mut line = ev.to_line();
    line.push('\n');
    fs::create_dir_all(dir.path().join("log/messages")).unwrap_or_default();
    fs::write(dir.path().join("log/messages/alice.jsonl"), line).unwrap_or_default();
    let (store, rec) = open(dir.path());
    assert_eq!(rec.replayed, 1);
    assert_eq!(inbox(&store, "bob"), vec!["msg_tail"]);
}

#[test]
fn torn_tail_is_cut_saved_and_not_fatal() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let (mut store, _) = open(dir.path());
        commit(&mut store, vec![register("alice", "dev"), register("bob", "rev")]);
        commit(&mut store, vec![message("msg_ok", "alice", "bob", "whole")]);
    }
    let shard = dir.path().join("log/messages/alice.jsonl");
    let mut data = fs::read(&shard).unwrap_or_default();
    data.extend_from_slice(b"{\"type\":\"message.create\",\"message_id\":\"msg_to");
    fs::write(&shard, &data).unwrap_or_default();
    // A garbage line in the middle of another shard is skipped and reported.
    let events = dir.path().join("log/events.jsonl");
    let mut ev = fs::read(&events).unwrap_or_default();
    ev.extend_from_slice(b"not json at all\n");
    fs::write(&events, &ev).unwrap_or_default();
    for f in ["messages.db", "messages.db-wal", "messages.db-shm"] {
        let _ = fs::remove_file(dir.path().join("var").join(f));
    }
    let (mut store, rec) = open(dir.path());
    assert_eq!(rec.torn.len(), 1);
    assert_eq!(rec.bad_lines.len(), 1);
    assert!(rec.torn[0].1.exists());
    assert_eq!(inbox(&store, "bob"), vec!["msg_ok"]);
    // Appending after the cut starts on a clean line.
    commit(&mut store, vec![message("msg_after", "alice", "bob", "next")]);
    let text = fs::read_to_string(&shard).unwrap_or_default();
    assert!(text.lines().all(|l| Event::parse_line(l).is_ok()), "{text}");
    assert_eq!(text.lines().count(), 2);
}

#[test]
fn broadcasts_roles_and_groups_reach_the_inbox() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut store, _) = open(dir.path());
    commit(&mut store, vec![register("alice", "dev"), register("bob", "rev"), register("carol", "rev")]);
    let to_role = message("msg_role", "alice", "rev", "to reviewers");
    let broadcast = Event::new(
        "message.create",
        &MessageCreate {
            message_id: "msg_all".into(),
            agent_id: "alice".into(),
            body: MessageBody { format: "markdown".into(), content: "all".into(), structured: String::new() },
            ..Default::default()
        },
    );
    commit(&mut store, vec![to_role, broadcast]);
    let mut b = inbox(&store, "bob");
    b.sort();
    assert_eq!(b, vec!["msg_all", "msg_role"]);
    assert_eq!(inbox(&store, "alice"), Vec::<String>::new());
}

#[test]
fn journaled_batch_missing_from_its_shard_is_restored() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let (mut store, _) = open(dir.path());
        commit(&mut store, vec![register("alice", "dev"), register("bob", "rev")]);
    }
    // A crash after the journal flush but before the shard write reached
    // the disk: the event is only in the journal (plus a torn line).
    let ev = message("msg_journaled", "alice", "bob", "only in the journal");
    let journal = dir.path().join("var/journal");
    let mut text = format!("messages/alice.jsonl\t{}\n", ev.to_line());
    text.push_str("messages/../../etc/passwd\t{}\n");
    text.push_str("messages/alice.jsonl\t{\"type\":\"message.cre");
    fs::write(&journal, text).unwrap_or_default();
    let (store, rec) = open(dir.path());
    assert_eq!(rec.restored_from_journal, 1);
    assert_eq!(inbox(&store, "bob"), vec!["msg_journaled"]);
    assert_eq!(fs::metadata(&journal).map(|m| m.len()).ok(), Some(0), "journal emptied after restore");
    assert!(!dir.path().join("etc").exists());
    drop(store);
    // Restoring twice adds nothing.
    let (_store, rec) = open(dir.path());
    assert_eq!(rec.restored_from_journal, 0);
}

#[test]
fn journal_is_checkpointed_on_close() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let (mut store, _) = open(dir.path());
        commit(&mut store, vec![register("alice", "dev"), register("bob", "rev")]);
        commit(&mut store, vec![message("msg_1", "alice", "bob", "hi")]);
        assert!(fs::metadata(dir.path().join("var/journal")).map(|m| m.len()).unwrap_or(0) > 0);
    }
    assert_eq!(fs::metadata(dir.path().join("var/journal")).map(|m| m.len()).ok(), Some(0));
    let shard = fs::read_to_string(dir.path().join("log/messages/alice.jsonl")).unwrap_or_default();
    assert!(shard.contains("msg_1"));
}

#[test]
fn merge_appends_newer_events_and_rewrites_in_order_otherwise() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut store, _) = open(dir.path());
    commit(&mut store, vec![register("alice", "dev"), register("bob", "rev")]);
    commit(&mut store, vec![message("msg_1", "alice", "bob", "first")]);
    let shard = dir.path().join("log/messages/alice.jsonl");
    let before = fs::read_to_string(&shard).unwrap_or_default();
    // Newer remote events are appended: the old bytes stay as they were.
    let newer = message("msg_2", "alice", "bob", "second");
    let fresh = store
        .merge_remote(vec![("messages/alice.jsonl".into(), newer.clone()), ("messages/alice.jsonl".into(), newer)])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fresh.len(), 1, "duplicates in the incoming set count once");
    let after = fs::read_to_string(&shard).unwrap_or_default();
    assert!(after.starts_with(&before));
    assert_eq!(
        store.log().last_event("messages/alice.jsonl").ok().flatten().map(|e| e.event_id().to_string()),
        after.lines().last().and_then(|l| Event::parse_line(l).ok()).map(|e| e.event_id().to_string())
    );
    // An older event lands in timestamp order (rewrite).
    let mut old = message("msg_0", "alice", "bob", "zeroth").into_value();
    old["timestamp"] = serde_json::json!("2020-01-01T00:00:00Z");
    let old = Event::from_object(old).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.merge_remote(vec![("messages/alice.jsonl".into(), old)]).map(|v| v.len()).ok(), Some(1));
    let text = fs::read_to_string(&shard).unwrap_or_default();
    assert!(text.lines().next().unwrap_or_default().contains("msg_0"), "{text}");
    // Known events are not merged again; a different event for an existing
    // message id does not duplicate the message.
    let again = store.merge_remote(vec![("messages/alice.jsonl".into(), newer_again())]).map(|v| v.len()).ok();
    assert_eq!(again, Some(1));
    let mut b = inbox(&store, "bob");
    b.sort();
    assert_eq!(b, vec!["msg_0", "msg_1", "msg_2"]);
}

fn newer_again() -> Event {
    message("msg_1", "alice", "bob", "same id, another event")
}

/// SQLite re-prepares a cached statement when its plan depended on a bound
/// value and that value changes; with the planner stability guarantee on,
/// the per-agent queries the daemon runs on every send are parsed once.
#[test]
fn hot_queries_are_not_reprepared_when_bindings_change() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut store, _) = open(dir.path());
    commit(&mut store, (0..8).map(|i| register(&format!("a{i}"), "dev")).collect());
    let r = store.reader().unwrap_or_else(|e| panic!("{e}"));
    let sql = "SELECT agent_id FROM agents WHERE role = ?1 ORDER BY agent_id";
    for i in 0..8 {
        query::agents_named_or_role(&r, &format!("a{i}")).unwrap_or_else(|e| panic!("{e}"));
        query::active_session(&r, &format!("a{i}")).unwrap_or_else(|e| panic!("{e}"));
        let mut st = r.prepare_cached(sql).unwrap_or_else(|e| panic!("{e}"));
        let _ = st.query([format!("a{i}")]).and_then(|mut rows| rows.next().map(|x| x.is_some()));
    }
    let st = r.prepare_cached(sql).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(st.get_status(rusqlite::StatementStatus::RePrepare), 0);
}

/// Every row of every projection table, in a stable order.
fn dump(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap_or_else(|e| panic!("{e}"));
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('schema_version') ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    for t in tables {
        // The feed epoch is new with every build of the projection, by design.
        let filter = if t == "meta" { " WHERE key != 'feed_epoch'" } else { "" };
        let mut st = c.prepare(&format!("SELECT * FROM \"{t}\"{filter}")).unwrap_or_else(|e| panic!("{e}"));
        let n = st.column_count();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                let cols: Vec<String> = (0..n)
                    .map(|i| {
                        format!("{:?}", r.get_ref(i).map(|v| v.data_type()).ok())
                            + &format!("{:?}", r.get::<_, rusqlite::types::Value>(i).ok())
                    })
                    .collect();
                Ok(format!("{t}: {}", cols.join(" | ")))
            })
            .and_then(|m| m.collect())
            .unwrap_or_else(|e| panic!("{e}"));
        rows.sort();
        out.extend(rows);
    }
    out
}

#[test]
fn bulk_rebuild_equals_the_live_projection() {
    use thrum_core::event::{MessageDelete, MessageEdit, MessageReceipt, PurgeExecuted};
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("var/messages.db");
    let ts = |i: usize| format!("2026-01-01T00:00:{:02}.{:06}Z", i / 1_000_000, i % 1_000_000);
    {
        let (mut store, _) = open(dir.path());
        commit(&mut store, vec![register("alice", "dev"), register("bob", "rev"), register("carol", "dev")]);
        // More than enough events for the bulk path, with every kind of
        // message event and replies, in batches like the writer's.
        let mut events = Vec::new();
        for i in 0..1500usize {
            let (from, to) = [("alice", "bob"), ("bob", "carol"), ("carol", "alice")][i % 3];
            let mut m = MessageCreate {
                timestamp: ts(10 * i),
                message_id: format!("msg_{i:05}"),
                agent_id: from.into(),
                session_id: "ses_x".into(),
                body: MessageBody { format: "markdown".into(), content: format!("m{i}"), structured: String::new() },
                refs: vec![thrum_core::Scope::new("mention", to)],
                scopes: vec![thrum_core::Scope::new("module", if i % 2 == 0 { "auth" } else { "ui" })],
                recipients: vec![to.into()],
                ..Default::default()
            };
            if i % 7 == 1 {
                m.thread_id = format!("thr_{:05}", i - 1);
                m.refs.push(thrum_core::Scope::new("reply_to", format!("msg_{:05}", i - 1)));
            }
            events.push(Event::new("message.create", &m));
            if i % 5 == 0 {
                let edit = MessageEdit {
                    timestamp: ts(10 * i + 1),
                    message_id: m.message_id.clone(),
                    body: MessageBody {
                        format: "markdown".into(),
                        content: format!("edited {i}"),
                        ..Default::default()
                    },
                };
                events.push(Event::new("message.edit", &edit));
            }
            if i % 11 == 0 {
                let del =
                    MessageDelete { timestamp: ts(10 * i + 2), message_id: m.message_id.clone(), reason: "x".into() };
                events.push(Event::new("message.delete", &del));
            }
            if i % 3 == 0 {
                let r = MessageReceipt {
                    timestamp: ts(10 * i + 3),
                    message_id: m.message_id.clone(),
                    agent_id: to.into(),
                    session_id: "ses_y".into(),
                    receipt_type: "read".into(),
                };
                events.push(Event::new("message.receipt", &r));
            }
            // Two purges: an ordinary one, and one whose cutoff lies ahead
            // of it, so the messages that follow it up to the cutoff stay
            // out too (the bulk load keeps the cutoff in memory).
            for (at, cutoff) in [(700, 200), (1000, 1100)] {
                if i == at {
                    let p = PurgeExecuted { timestamp: ts(10 * i + 4), cutoff: ts(10 * cutoff) };
                    events.push(Event::new("purge.executed", &p));
                }
            }
            if events.len() >= 64 {
                commit(&mut store, std::mem::take(&mut events));
            }
        }
        commit(&mut store, events);
        let r = store.reader().unwrap_or_else(|e| panic!("{e}"));
        let kept = |id: &str| query::message_head(&r, id).ok().flatten().is_some();
        let seen: Vec<bool> = ["msg_00150", "msg_01050", "msg_00250", "msg_01150"].iter().map(|id| kept(id)).collect();
        // (The second purge takes everything before 1100, msg_00250 too.)
        assert_eq!(seen, [false, false, false, true]);
    }
    let live = dump(&db);
    assert!(live.len() > 3000, "{}", live.len());
    for f in ["messages.db", "messages.db-wal", "messages.db-shm"] {
        let _ = fs::remove_file(dir.path().join("var").join(f));
    }
    let (store, rec) = open(dir.path());
    assert!(rec.replayed > 2000, "{}", rec.replayed);
    drop(store);
    let rebuilt = dump(&db);
    assert_eq!(live.len(), rebuilt.len());
    for (a, b) in live.iter().zip(&rebuilt) {
        assert_eq!(a, b);
    }
    // The indexes dropped for the bulk load are all back.
    let c = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let n: i64 = c
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(n >= 12, "{n}");
}

#[test]
fn reopening_after_commits_finds_every_fingerprint_intact() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let (mut store, _) = open(dir.path());
        commit(&mut store, vec![register("alice", "dev"), register("bob", "rev")]);
        for i in 0..30 {
            let (from, to) = if i % 2 == 0 { ("alice", "bob") } else { ("bob", "alice") };
            commit(&mut store, vec![message(&format!("msg_{i:03}"), from, to, "x")]);
        }
    }
    // The recorded fingerprints come from memory, not from reading the
    // files back: a wrong one would make the next open re-read shards.
    let (_store, rec) = open(dir.path());
    assert!(rec.rescanned.is_empty(), "{:?}", rec.rescanned);
    assert_eq!(rec.replayed, 0);
}

#[test]
fn the_wal_restarts_after_a_checkpoint_and_is_cut_back_when_idle() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut store, _) = open(dir.path());
    commit(&mut store, vec![register("alice", "dev"), register("bob", "rev")]);
    let wal = dir.path().join("var/messages.db-wal");
    let mut i = 0;
    while fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) <= 2 * thrum_store::IDLE_WAL {
        let batch = (0..50).map(|k| message(&format!("msg_{i:05}_{k}"), "alice", "bob", &"y".repeat(200))).collect();
        commit(&mut store, batch);
        i += 1;
    }
    let cp = store.checkpointer().unwrap_or_else(|e| panic!("{e}"));
    assert!(cp.wal_size() > 2 * thrum_store::IDLE_WAL);
    assert!(cp.checkpoint().unwrap_or_else(|e| panic!("{e}")), "every frame copied back");
    // The next commit restarts the WAL from its start: it holds one commit
    // again, though the file keeps its size (the writer never cuts it)...
    commit(&mut store, vec![message("msg_last", "alice", "bob", "z")]);
    assert!(cp.wal_size() <= thrum_store::IDLE_WAL, "WAL holds {} bytes", cp.wal_size());
    assert!(!store.checkpoint_wal(thrum_store::IDLE_WAL).unwrap_or(true));
    assert!(fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 2 * thrum_store::IDLE_WAL);
    // ...until the checkpointer cuts it back once writes pause.
    cp.checkpoint().unwrap_or_else(|e| panic!("{e}"));
    cp.truncate_if_large().unwrap_or_else(|e| panic!("{e}"));
    let size = fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(size <= thrum_store::IDLE_WAL, "WAL file still {size} bytes");
    // And the writer goes on writing after that.
    commit(&mut store, vec![message("msg_after", "alice", "bob", "z")]);
}

#[test]
fn a_projection_left_open_by_a_machine_crash_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("var/messages.db");
    let marker = dir.path().join("var/messages.db.open");
    {
        let (mut store, _) = open(dir.path());
        commit(&mut store, vec![register("alice", "dev"), register("bob", "rev")]);
        commit(&mut store, vec![message("msg_1", "alice", "bob", "survives")]);
        assert!(marker.exists(), "the store marks the projection open");
    }
    assert!(!marker.exists(), "a clean close removes the mark");

    // A killed process (same boot): the projection is trusted as it is.
    let (mut store, _) = open(dir.path());
    commit(&mut store, vec![message("msg_2", "alice", "bob", "also survives")]);
    std::mem::forget(store);
    let (store, rec) = open(dir.path());
    assert!(!rec.rebuilt_after_crash);
    assert_eq!(rec.replayed, 0);
    std::mem::forget(store);

    // The machine went down while it was open (another boot id), leaving a
    // half-checkpointed file: it is deleted and rebuilt from the log.
    fs::write(&marker, "another-boot\n").unwrap_or_else(|e| panic!("{e}"));
    fs::write(&db, b"SQLite format 3\0 but torn by a power cut").unwrap_or_else(|e| panic!("{e}"));
    let (store, rec) = open(dir.path());
    assert!(rec.rebuilt_after_crash);
    assert_eq!(rec.replayed, 4);
    assert_eq!(inbox(&store, "bob"), vec!["msg_2", "msg_1"]);
}

/// Messages to a peer's agents (`prefix:name`) and local receipts of its
/// agents' messages are queued per peer, in the transaction that stores
/// them; a rebuild from the log queues the same events under a new epoch.
#[test]
fn the_peer_feed_follows_the_log_through_a_rebuild() {
    use thrum_store::projection::feed;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut store, _) = open(dir.path());
    commit(&mut store, vec![register("alice", "dev")]);
    commit(&mut store, vec![message("msg_1", "alice", "api:bob", "to a peer")]);
    commit(&mut store, vec![message("msg_2", "alice", "carol", "local only")]);
    commit(&mut store, vec![message("msg_3", "api:bob", "alice", "from the peer")]);
    let receipt = thrum_core::event::MessageReceipt {
        timestamp: String::new(),
        message_id: "msg_3".into(),
        agent_id: "alice".into(),
        session_id: String::new(),
        receipt_type: "read".into(),
    };
    commit(&mut store, vec![Event::new("message.receipt", &receipt)]);
    let snapshot = |store: &Store| {
        let r = store.reader().unwrap_or_else(|e| panic!("{e}"));
        let (items, more) = feed::after(&r, "api", 0, 10).unwrap_or_else(|e| panic!("{e}"));
        assert!(!more);
        let kinds: Vec<(String, String)> = items
            .iter()
            .map(|i| {
                let v: serde_json::Value = serde_json::from_str(&i.body).unwrap_or_default();
                (v["type"].as_str().unwrap_or("").to_string(), v["message_id"].as_str().unwrap_or("").to_string())
            })
            .collect();
        (kinds, feed::epoch(&r).unwrap_or_default(), feed::state(&r, "api").unwrap_or_default().pending)
    };
    let (before, epoch, pending) = snapshot(&store);
    assert_eq!(
        before,
        vec![("message.create".to_string(), "msg_1".to_string()), ("message.receipt".into(), "msg_3".into())]
    );
    assert_eq!(pending, 2);
    // What the peer acknowledged leaves its queue.
    ack(&mut store, "api", &epoch, 1);
    let (left, _, pending) = snapshot(&store);
    assert_eq!(left, before[1..].to_vec());
    assert_eq!(pending, 1);
    drop(store);
    for f in ["messages.db", "messages.db-wal", "messages.db-shm"] {
        let _ = fs::remove_file(dir.path().join("var").join(f));
    }
    let (store, _) = open(dir.path());
    let (after, epoch2, _) = snapshot(&store);
    assert_eq!(after, before, "a rebuild queues everything again");
    assert_ne!(epoch, epoch2, "a rebuilt feed has a new epoch");
}

/// A message to a peer's agent is pending until that peer acknowledges it;
/// a database from before schema 4 learns which queued rows carry which
/// message when it is upgraded (and, from schema 5, where each message
/// sits in its recipients' inboxes).
#[test]
fn a_queued_message_is_pending_until_the_peer_holds_it() {
    use thrum_store::projection::feed;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut store, _) = open(dir.path());
    commit(&mut store, vec![register("alice", "dev"), register("carol", "qa")]);
    commit(&mut store, vec![message("msg_1", "alice", "api:bob", "to a peer")]);
    commit(&mut store, vec![message("msg_2", "alice", "carol", "to a neighbour")]);
    let pending = |store: &Store| {
        let r = store.reader().unwrap_or_else(|e| panic!("{e}"));
        query::recipients(&r, "msg_1", "alice").unwrap_or_else(|e| panic!("{e}"))[0].peer_pending
    };
    assert!(pending(&store));

    // Back to schema 3: the columns and indexes of 4, 5 and 6 are gone,
    // the rows stay.
    store
        .db()
        .execute_batch(
            "DROP INDEX peer_feed_message; ALTER TABLE peer_feed DROP COLUMN message_id;
             DROP INDEX message_deliveries_inbox; DROP INDEX message_mentions_inbox;
             DROP INDEX message_group_refs_inbox; DROP INDEX message_group_scopes_inbox;
             DROP INDEX messages_broadcast_inbox; DROP INDEX messages_deleted;
             ALTER TABLE message_deliveries DROP COLUMN announced_at; ALTER TABLE message_deliveries DROP COLUMN announced_via;
             ALTER TABLE message_deliveries DROP COLUMN created_at; ALTER TABLE message_deliveries DROP COLUMN author;
             ALTER TABLE message_refs DROP COLUMN created_at; ALTER TABLE message_refs DROP COLUMN author;
             ALTER TABLE message_scopes DROP COLUMN created_at; ALTER TABLE message_scopes DROP COLUMN author;
             CREATE INDEX message_deliveries_recipient ON message_deliveries(recipient_agent_id, message_id);
             CREATE INDEX message_refs_tv ON message_refs(ref_type, ref_value, message_id);
             CREATE INDEX message_scopes_tv ON message_scopes(scope_type, scope_value, message_id);
             CREATE INDEX messages_broadcast_id ON messages(message_id) WHERE broadcast = 1;
             DELETE FROM schema_version WHERE version >= 4;",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    drop(store);
    let (mut store, _) = open(dir.path());
    assert!(pending(&store), "the upgrade fills in the queued row's message");
    assert_eq!(inbox(&store, "carol"), ["msg_2"], "the upgrade dates the rows the inbox reads");

    // The peer asks for what comes after it: it holds msg_1.
    let (epoch, seq) = {
        let r = store.reader().unwrap_or_else(|e| panic!("{e}"));
        let (items, _) = feed::after(&r, "api", 0, 10).unwrap_or_else(|e| panic!("{e}"));
        (feed::epoch(&r).unwrap_or_default(), items[0].seq)
    };
    ack(&mut store, "api", &epoch, seq);
    assert!(!pending(&store));
}

/// `agent.messages.deleted`: the agent's messages up to the cutoff go from
/// the projection, from the log (with their edits), and stay out when an
/// older one is applied again (a peer or a lagging clone replaying it);
/// newer ones and other agents' stay; a rebuild agrees.
#[test]
fn an_agents_deleted_messages_stay_deleted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (mut store, _) = open(dir.path());
    commit(&mut store, vec![register("alice", "dev"), register("bob", "dev")]);
    let old = message("msg_old", "alice", "bob", "old");
    let late = old.clone(); // replayed later by someone who missed the deletion
    commit(&mut store, vec![old, message("msg_bob", "bob", "alice", "bob's")]);
    let cutoff = thrum_core::time::now_rfc3339();
    let marker = Event::new(
        thrum_core::event::AGENT_MESSAGES_DELETED,
        &thrum_core::event::AgentMessagesDeleted {
            timestamp: cutoff.clone(),
            agent_id: "alice".into(),
            cutoff: cutoff.clone(),
            deleted_by: "alice".into(),
        },
    );
    commit(&mut store, vec![marker]);
    assert_eq!(store.erase_agent_messages("alice", &cutoff).unwrap_or_else(|e| panic!("{e}")), 1);
    assert!(inbox(&store, "bob").is_empty());
    assert_eq!(inbox(&store, "alice"), vec!["msg_bob"]);
    // Replayed (a new event id, the same old message): still out.
    let mut replay = late;
    replay.as_object_mut().insert("event_id".into(), "evt_replayed".into());
    commit(&mut store, vec![replay, message("msg_new", "alice", "bob", "new")]);
    assert_eq!(inbox(&store, "bob"), vec!["msg_new"]);
    drop(store);
    fs::remove_file(dir.path().join("var/messages.db")).unwrap_or_else(|e| panic!("{e}"));
    let (store, _) = open(dir.path());
    assert_eq!(inbox(&store, "bob"), vec!["msg_new"]);
    assert_eq!(inbox(&store, "alice"), vec!["msg_bob"]);
}
