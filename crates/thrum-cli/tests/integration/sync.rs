//! Git sync between clones through a real bare remote.

use std::time::Duration;

use serde_json::Value;
use thrum_testkit::{TestEnv, git};

use crate::BIN;
use crate::wire::{Agents, ContextShown, ContextSynced, DeletedCount, JsonAs, Page, Sent, SyncStatus};

fn sync(env: &TestEnv, dir: &std::path::Path) -> SyncStatus {
    env.json_in_as(dir, None, &["sync", "force", "--wait"])
}

fn contents(p: &Page) -> Vec<String> {
    p.messages.iter().map(|m| m.body.content.clone()).collect()
}

fn ids(p: &Page) -> Vec<&str> {
    p.messages.iter().map(|m| m.message_id.as_str()).collect()
}

/// Two clones of one repository, alice in `repo`, bob in `b`.
fn two_clones() -> (TestEnv, std::path::PathBuf) {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init", "--sync"]);
    env.ok(None, &["quickstart", "--name", "alice", "--role", "implementer", "--module", "auth", "--no-agent-pid"]);
    let b = env.clone_repo("b");
    env.ok_in(&b, None, &["init", "--sync"]);
    env.ok_in(&b, None, &["quickstart", "--name", "bob", "--role", "reviewer", "--module", "auth", "--no-agent-pid"]);
    (env, b)
}

#[test]
fn messages_travel_both_ways_through_the_remote() {
    let (env, b) = two_clones();
    let a = env.repo();
    // bob's registration reaches the remote, then alice's clone.
    let s = sync(&env, &b);
    assert_eq!(s.last_result, "ok", "{s:?}");
    assert_eq!(s.mode, "normal");
    sync(&env, &a);
    let agents: Agents = env.json_as(None, &["agent", "list"]);
    assert_eq!(agents.agents.len(), 2, "{agents:?}");

    let sent: Sent = env.json_as(None, &["send", "hello from clone A", "--to", "@bob"]);
    let id = sent.message_id;
    // bob waits on clone B; the message arrives by sync and wakes him.
    let waiter = env
        .thrum_in(&b, &["wait", "--timeout", "30s", "--after", "-5m", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    sync(&env, &a);
    let s = sync(&env, &b);
    assert!(s.last_pulled >= 1, "{s:?}");
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let inbox: Page = env.json_in_as(&b, None, &["inbox"]);
    assert_eq!(contents(&inbox), vec!["hello from clone A"]);

    // The reply goes back the other way, threaded.
    let r: Sent = env.json_in_as(&b, None, &["reply", &id, "got it"]);
    sync(&env, &b);
    sync(&env, &a);
    let inbox: Page = env.json_as(None, &["inbox"]);
    assert_eq!(contents(&inbox), vec!["got it"]);
    assert_eq!(inbox.messages[0].thread_id, r.thread_id);
    // Read receipts travel too: alice sees bob read her message.
    let sent: Page = env.json_as(None, &["sent"]);
    let m = sent.messages.iter().find(|m| m.message_id == id).unwrap();
    assert_eq!(m.read_count, Some(1), "{m:?}");

    // The branch on the remote has the same layout the original uses.
    let remote = env.dir.path().join("remote.git");
    let files = git(&env, &remote, &["ls-tree", "-r", "--name-only", "a-sync"]);
    assert!(files.lines().any(|f| f == "events.jsonl"), "{files}");
    assert!(files.lines().any(|f| f == "messages/alice.jsonl"), "{files}");
    assert!(files.lines().any(|f| f == "messages/bob.jsonl"), "{files}");
    // The user's branch and working tree were never touched.
    assert_eq!(git(&env, &a, &["branch", "--show-current"]), "main");
    assert_eq!(git(&env, &a, &["status", "--porcelain"]), "?? .gitignore");
}

#[test]
fn concurrent_writers_and_push_races_lose_and_duplicate_nothing() {
    let (env, b) = two_clones();
    let a = env.repo();
    sync(&env, &b);
    sync(&env, &a);
    sync(&env, &b);
    // Both sides write, then both sync at once, several rounds.
    for round in 0..3 {
        let ta = {
            let (bin, home, a) = (env.bin.clone(), env.home(), a.clone());
            std::thread::spawn(move || {
                for i in 0..5 {
                    let out = std::process::Command::new(&bin)
                        .args(["send", &format!("a{round}-{i}"), "--to", "@bob", "-q"])
                        .current_dir(&a)
                        .env("HOME", &home)
                        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"))
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                }
            })
        };
        for i in 0..5 {
            env.ok_in(&b, None, &["send", &format!("b{round}-{i}"), "--to", "@alice", "-q"]);
        }
        ta.join().unwrap();
        let ha = {
            let (bin, home, a) = (env.bin.clone(), env.home(), a.clone());
            std::thread::spawn(move || {
                std::process::Command::new(&bin)
                    .args(["sync", "force", "--wait", "--json"])
                    .current_dir(&a)
                    .env("HOME", &home)
                    .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"))
                    .output()
                    .unwrap()
            })
        };
        sync(&env, &b);
        assert!(ha.join().unwrap().status.success());
    }
    // Settle: a couple more cycles each way.
    for _ in 0..2 {
        sync(&env, &a);
        sync(&env, &b);
    }
    let at_a: Page = env.json_as(None, &["inbox", "--page-size", "100"]);
    let at_b: Page = env.json_in_as(&b, None, &["inbox", "--page-size", "100"]);
    assert_eq!(at_a.total, 15, "{at_a:?}");
    assert_eq!(at_b.total, 15, "{at_b:?}");
    // Every message once, in both logs.
    for dir in [&a, &b] {
        let all: Page = env.json_in_as(dir, None, &["inbox", "--all", "--page-size", "100"]);
        let mut ids = ids(&all);
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicates in {}", dir.display());
        assert_eq!(n, 15);
    }
    // And the remote converged: a fresh third clone sees all 30.
    let c = env.clone_repo("c");
    env.ok_in(&c, None, &["init", "--sync"]);
    env.ok_in(&c, None, &["quickstart", "--name", "carol", "--role", "tester", "--module", "qa", "--no-agent-pid"]);
    sync(&env, &c);
    let all: Page = env.json_in_as(&c, Some("carol"), &["inbox", "--all", "--page-size", "100"]);
    assert_eq!(all.total, 30, "{all:?}");
}

#[test]
fn local_only_and_remote_less_repositories_never_push() {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init"]);
    env.ok(None, &["daemon", "start", "--local"]);
    env.ok(None, &["quickstart", "--name", "alice", "--role", "implementer", "--module", "auth", "--no-agent-pid"]);
    env.ok(
        None,
        &["quickstart", "--name", "bob", "--role", "reviewer", "--module", "auth", "--no-agent-pid", "--force"],
    );
    env.ok(Some("alice"), &["send", "stays here", "--to", "@bob"]);
    let s: SyncStatus = env.json_as(None, &["sync", "force", "--wait"]);
    assert_eq!(s.mode, "local-only");
    assert_eq!(s.last_result, "ok");
    let remote = env.dir.path().join("remote.git");
    assert!(git(&env, &remote, &["branch", "--list", "a-sync"]).is_empty(), "nothing was pushed");
    // The worktree is still committed locally.
    let log = git(&env, &env.sync_dir(), &["log", "--oneline"]);
    assert!(log.lines().count() >= 2, "{log}");
    let st: SyncStatus = env.json_as(None, &["sync", "status"]);
    assert!(st.local_only);
}

#[test]
fn an_unreachable_remote_degrades_gracefully() {
    let env = TestEnv::new(BIN);
    git(&env, &env.repo(), &["remote", "set-url", "origin", "/nonexistent/remote.git"]);
    env.ok(None, &["init", "--sync"]);
    env.ok(None, &["quickstart", "--name", "alice", "--role", "implementer", "--module", "auth", "--no-agent-pid"]);
    env.ok(
        None,
        &["quickstart", "--name", "bob", "--role", "reviewer", "--module", "auth", "--no-agent-pid", "--force"],
    );
    let s: SyncStatus = env.json_as(None, &["sync", "force", "--wait"]);
    assert_eq!(s.sync_state, "error", "{s:?}");
    assert!(s.last_error.contains("git fetch"), "{s:?}");
    assert!(!s.last_error_hint.is_empty());
    // Messaging still works.
    env.ok(Some("alice"), &["send", "offline but fine", "--to", "@bob"]);
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 1);
    let human = env.ok(None, &["sync", "status"]);
    assert!(human.contains("Last error") && human.contains("Fix:"), "{human}");
}

#[test]
fn a_sent_message_reaches_the_other_clone_by_itself() {
    let (env, b) = two_clones();
    let a = env.repo();
    sync(&env, &b);
    sync(&env, &a);
    // No forcing from here on, default timing: the debounce after a write
    // pushes from A, and B's cheap remote check notices and pulls.
    env.ok(None, &["daemon", "stop"]);
    env.ok_in(&b, None, &["daemon", "stop"]);
    let start = |dir: &std::path::Path| {
        let out = env
            .thrum_in(dir, &["daemon", "start"])
            .env("THRUM_SYNC_INTERVAL", "1")
            .env("THRUM_SYNC_DEBOUNCE_MS", "200")
            .output()
            .unwrap();
        assert!(out.status.success());
    };
    start(&a);
    start(&b);
    let t = std::time::Instant::now();
    env.ok(None, &["send", "no hands", "--to", "@bob"]);
    let arrived = thrum_testkit::wait_until(Duration::from_secs(30), || {
        env.json_in_as::<Page>(&b, None, &["inbox", "--unread"]).total == 1
    });
    assert!(arrived, "the message never reached clone B");
    eprintln!("send on A -> inbox on B: {:?}", t.elapsed());
}

#[test]
fn purges_and_deletes_do_not_come_back_from_another_clone() {
    let (env, b) = two_clones();
    let a = env.repo();
    sync(&env, &b);
    sync(&env, &a);
    let old: Sent = env.json_as(None, &["send", "old news", "--to", "@bob"]);
    let doomed: Sent = env.json_as(None, &["send", "delete me", "--to", "@bob"]);
    sync(&env, &a);
    sync(&env, &b);
    assert_eq!(env.json_in_as::<Page>(&b, None, &["inbox"]).total, 2);
    // A deletes one message and purges everything; B still has both.
    env.ok(None, &["message", "delete", &doomed.message_id, "--force"]);
    env.ok(None, &["purge", "--all", "--confirm"]);
    let fresh: Sent = env.json_as(None, &["send", "after the purge", "--to", "@bob"]);
    sync(&env, &a);
    sync(&env, &b);
    sync(&env, &a);
    // B applied the purge marker; A did not get the old lines back.
    let at_b: Page = env.json_in_as(&b, None, &["inbox", "--all"]);
    assert_eq!(contents(&at_b), vec!["after the purge"], "{at_b:?}");
    let at_a: Page = env.json_as(None, &["inbox", "--all"]);
    assert!(at_a.messages.is_empty(), "{at_a:?}");
    let shard = std::fs::read_to_string(env.sync_dir().join("messages/alice.jsonl")).unwrap();
    assert!(!shard.contains(&old.message_id), "purged lines came back");
    assert!(shard.contains(&fresh.message_id));
    let b_shard = std::fs::read_to_string(b.join(".git/thrum-sync/a-sync/messages/alice.jsonl")).unwrap();
    assert!(!b_shard.contains("old news"), "clone B still stores purged lines");
}

/// Stops the daemon of `dir`, deletes its projection and starts it again:
/// everything is rebuilt from the log.
fn rebuild(env: &TestEnv, dir: &std::path::Path) {
    env.ok_in(dir, None, &["daemon", "stop"]);
    for f in ["messages.db", "messages.db-wal", "messages.db-shm"] {
        let _ = std::fs::remove_file(dir.join(".thrum/var").join(f));
    }
    env.ok_in(dir, None, &["daemon", "start"]);
}

#[test]
fn deleting_an_agents_messages_syncs_and_survives_rebuilds() {
    let (env, b) = two_clones();
    let a = env.repo();
    sync(&env, &b);
    sync(&env, &a);
    let gone: Sent = env.json_as(None, &["send", "first of alice", "--to", "@bob"]);
    env.ok(None, &["send", "second of alice", "--to", "@bob"]);
    env.ok_in(&b, None, &["send", "bob's own", "--to", "@alice"]);
    sync(&env, &a);
    sync(&env, &b);
    sync(&env, &a);
    assert_eq!(env.json_in_as::<Page>(&b, None, &["inbox"]).total, 2);
    // alice deletes her messages on clone A.
    let params = serde_json::json!({ "agent_id": "alice", "caller_agent_id": "alice" }).to_string();
    let r: DeletedCount = env.json_as(None, &["rpc", "message.deleteByAgent", &params]);
    assert_eq!(r.deleted_count, 2, "{r:?}");
    // A rebuilt from its log does not bring them back.
    rebuild(&env, &a);
    let at_a: Page = env.json_as(None, &["rpc", "message.list", r#"{"page_size": 100}"#]);
    assert_eq!(contents(&at_a), vec!["bob's own"], "{at_a:?}");
    let fresh: Sent = env.json_as(None, &["send", "after the deletion", "--to", "@bob"]);
    // B still holds them until it merges A's marker; then they go, and
    // A's next merge of B's history does not take them back.
    sync(&env, &a);
    sync(&env, &b);
    sync(&env, &a);
    let at_b: Page = env.json_in_as(&b, None, &["inbox"]);
    assert_eq!(contents(&at_b), vec!["after the deletion"], "{at_b:?}");
    let at_a: Page = env.json_as(None, &["rpc", "message.list", r#"{"page_size": 100}"#]);
    assert_eq!(contents(&at_a), vec!["after the deletion", "bob's own"], "{at_a:?}");
    let id = gone.message_id.as_str();
    let a_shard = std::fs::read_to_string(env.sync_dir().join("messages/alice.jsonl")).unwrap();
    assert!(!a_shard.contains(id) && a_shard.contains(&fresh.message_id), "{a_shard}");
    let b_shard = std::fs::read_to_string(b.join(".git/thrum-sync/a-sync/messages/alice.jsonl")).unwrap();
    assert!(!b_shard.contains("of alice"), "clone B still stores the deleted lines");
    // And B rebuilt from its own log agrees.
    rebuild(&env, &b);
    let at_b: Page = env.json_in_as(&b, None, &["inbox"]);
    assert_eq!(contents(&at_b), vec!["after the deletion"], "{at_b:?}");
}

#[test]
fn offline_then_reconnect_and_a_deleted_remote_branch() {
    let (env, b) = two_clones();
    let a = env.repo();
    sync(&env, &b);
    sync(&env, &a);
    let remote = env.dir.path().join("remote.git");
    // Clone A goes offline and keeps working.
    git(&env, &a, &["remote", "set-url", "origin", "/nonexistent/remote.git"]);
    env.ok(None, &["daemon", "restart"]);
    env.ok(None, &["send", "written offline", "--to", "@bob"]);
    let s = sync(&env, &a);
    assert_eq!(s.sync_state, "error");
    // Back online: the message goes out.
    git(&env, &a, &["remote", "set-url", "origin", remote.to_str().unwrap()]);
    env.ok(None, &["daemon", "restart"]);
    let s = sync(&env, &a);
    assert_eq!(s.last_result, "ok", "{s:?}");
    sync(&env, &b);
    assert_eq!(contents(&env.json_in_as(&b, None, &["inbox"])), vec!["written offline"]);
    // Someone deletes the branch on the remote: the next sync recreates it
    // from local history, and nothing is lost.
    git(&env, &remote, &["branch", "-D", "a-sync"]);
    env.ok_in(&b, None, &["send", "after the deletion", "--to", "@alice"]);
    let s = sync(&env, &b);
    assert_eq!(s.last_result, "ok", "{s:?}");
    assert!(!git(&env, &remote, &["branch", "--list", "a-sync"]).is_empty());
    sync(&env, &a);
    assert_eq!(contents(&env.json_as(None, &["inbox"])), vec!["after the deletion"]);
}

/// Lines as the original writes them: keys sorted, no origin_daemon or
/// sequence, an unknown event type, a field from a newer version, and
/// the old single `messages.jsonl`.
const ORIGINAL_EVENTS: &str = r#"{"agent_id":"furiosa","event_id":"evt_01JORIG000000000000000001","kind":"agent","module":"auth","name":"furiosa","role":"implementer","timestamp":"2026-01-01T10:00:00Z","type":"agent.register","v":1}
{"event_id":"evt_01JORIG000000000000000002","thing":"x","timestamp":"2026-01-01T10:00:01Z","type":"telegram.bridge.linked","v":1}
"#;
const ORIGINAL_SHARD: &str = r#"{"agent_id":"furiosa","body":{"content":"hi from the Go daemon","format":"markdown"},"event_id":"evt_01JORIG000000000000000003","message_id":"msg_01JORIG000000000000000003","refs":[{"type":"mention","value":"alice"}],"session_id":"ses_x","timestamp":"2099-01-01T10:05:00Z","type":"message.create","v":1,"x_future":{"keep":[1,2]}}
"#;

#[test]
fn a_branch_written_by_the_original_merges_and_round_trips() {
    let env = TestEnv::new(BIN);
    // Another machine running the original pushed its a-sync first.
    let other = env.dir.path().join("original");
    let remote = env.dir.path().join("remote.git");
    std::fs::create_dir_all(other.join("messages")).unwrap();
    git(&env, &other, &["init", "-q", "-b", "a-sync"]);
    std::fs::write(other.join("events.jsonl"), ORIGINAL_EVENTS).unwrap();
    std::fs::write(other.join("messages/furiosa.jsonl"), ORIGINAL_SHARD).unwrap();
    git(&env, &other, &["add", "-A"]);
    git(&env, &other, &["commit", "-q", "-m", "original thrum"]);
    git(&env, &other, &["push", "-q", remote.to_str().unwrap(), "a-sync"]);
    env.ok(None, &["init", "--sync"]);
    env.ok(None, &["quickstart", "--name", "alice", "--role", "implementer", "--module", "auth", "--no-agent-pid"]);

    let s: SyncStatus = env.json_as(None, &["sync", "force", "--wait"]);
    assert_eq!(s.last_result, "ok", "{s:?}");
    let inbox: Page = env.json_as(None, &["inbox"]);
    assert_eq!(contents(&inbox), vec!["hi from the Go daemon"]);
    // Push what reading produced (a receipt).
    env.json_as::<SyncStatus>(None, &["sync", "force", "--wait"]);
    // What we pushed keeps their lines (unknown type and field included)
    // and the same layout, so the original can read it back.
    let shard = git(&env, &remote, &["show", "a-sync:messages/furiosa.jsonl"]);
    assert!(shard.contains(r#""x_future":{"keep":[1,2]}"#), "{shard}");
    let events = git(&env, &remote, &["show", "a-sync:events.jsonl"]);
    assert!(events.contains("telegram.bridge.linked"), "{events}");
    assert!(events.contains(r#""type":"agent.register""#));
    // Our own events (alice's registration, her read receipt) joined theirs.
    assert!(events.contains(r#""agent_id":"alice""#), "{events}");
    assert!(shard.contains(r#""receipt_type":"read""#), "{shard}");
    // Their history is an ancestor of ours: their next pull fast-forwards.
    let theirs = git(&env, &other, &["rev-parse", "HEAD"]);
    let log = git(&env, &remote, &["rev-list", "a-sync"]);
    assert!(log.lines().any(|l| l == theirs));
}

#[test]
fn a_broken_sync_worktree_is_refused_then_repaired_without_losing_events() {
    let (env, b) = two_clones();
    let _ = b;
    let a = env.repo();
    env.ok(None, &["send", "committed", "--to", "@alice", "--quiet"]);
    sync(&env, &a);
    env.ok(None, &["send", "not yet committed", "--to", "@alice", "--quiet"]);
    // Someone switches the sync worktree to another branch.
    let wt = env.sync_dir();
    git(&env, &wt, &["checkout", "-q", "-b", "oops"]);
    let s = sync(&env, &a);
    assert_eq!(s.sync_state, "error", "{s:?}");
    assert!(s.last_error.contains("not a-sync"), "{s:?}");
    // And then corrupts its .git file. A restart repairs the worktree.
    env.ok(None, &["daemon", "stop"]);
    std::fs::write(wt.join(".git"), "gitdir: /nowhere\n").unwrap();
    env.ok(None, &["daemon", "start"]);
    assert_eq!(git(&env, &wt, &["rev-parse", "--abbrev-ref", "HEAD"]), "a-sync");
    let all: Page = env.json_as(None, &["sent"]);
    let mut got = contents(&all);
    got.sort();
    assert_eq!(got, vec!["committed", "not yet committed"]);
    assert_eq!(sync(&env, &a).last_result, "ok");
}

#[test]
fn a_daemon_killed_mid_sync_recovers_without_loss_or_duplicates() {
    let (env, b) = two_clones();
    let a = env.repo();
    sync(&env, &b);
    sync(&env, &a);
    // b learns alice from the remote only on its next cycle (a's background
    // push may not have run before b's first one).
    sync(&env, &b);
    for i in 0..40 {
        env.ok_in(&b, None, &["send", &format!("bulk {i}"), "--to", "@alice", "--quiet"]);
    }
    sync(&env, &b);
    // Start a cycle and kill the daemon while it may be merging.
    env.ok(None, &["sync", "force"]);
    // Not a wait for a condition: a pause that lets the cycle get going,
    // so the kill lands mid-cycle more often than not.
    std::thread::sleep(Duration::from_millis(30));
    env.kill_daemon();
    let s = sync(&env, &a);
    assert_eq!(s.last_result, "ok", "{s:?}");
    let inbox: Page = env.json_as(None, &["inbox", "--page-size", "100"]);
    assert_eq!(inbox.total, 40, "{inbox:?}");
    let mut ids = ids(&inbox);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
}

#[test]
fn a_rewritten_remote_history_loses_nothing() {
    let (env, b) = two_clones();
    let a = env.repo();
    sync(&env, &b);
    sync(&env, &a);
    env.ok(None, &["send", "one", "--to", "@bob", "--quiet"]);
    env.ok(None, &["send", "two", "--to", "@bob", "--quiet"]);
    sync(&env, &a);
    // Someone force-pushes an unrelated a-sync with none of our events.
    let other = env.dir.path().join("rewriter");
    let remote = env.dir.path().join("remote.git");
    std::fs::create_dir_all(&other).unwrap();
    git(&env, &other, &["init", "-q", "-b", "a-sync"]);
    std::fs::write(other.join("events.jsonl"), "").unwrap();
    git(&env, &other, &["add", "-A"]);
    git(&env, &other, &["commit", "-q", "-m", "rewritten"]);
    git(&env, &other, &["push", "-q", "-f", remote.to_str().unwrap(), "a-sync"]);
    // A merges it (nothing to add), keeps everything, and pushes it back.
    let s = sync(&env, &a);
    assert_eq!(s.last_result, "ok", "{s:?}");
    sync(&env, &b);
    let inbox: Page = env.json_in_as(&b, None, &["inbox"]);
    let mut got = contents(&inbox);
    got.sort();
    assert_eq!(got, vec!["one", "two"]);
    let shard = git(&env, &remote, &["show", "a-sync:messages/alice.jsonl"]);
    assert_eq!(shard.lines().filter(|l| l.contains("message.create")).count(), 2);
}

#[test]
fn context_save_show_clear_and_sync_to_another_clone() {
    let (env, b) = two_clones();
    let a = env.repo();
    // Save from stdin.
    let mut child = env
        .thrum(&["context", "save"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"# Next steps\n- finish JWT refresh\n").unwrap();
    }
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(
        std::fs::read_to_string(env.thrum_dir().join("context/alice.md")).unwrap(),
        "# Next steps\n- finish JWT refresh\n"
    );
    env.ok(None, &["context", "preamble", "--init"]);
    let shown = env.ok(None, &["context", "show"]);
    assert!(
        shown.contains("# Context for alice") && shown.contains("Thrum quick reference") && shown.contains("JWT"),
        "{shown}"
    );
    let raw = env.ok(None, &["context", "show", "--raw", "--no-preamble"]);
    assert_eq!(raw, "# Next steps\n- finish JWT refresh\n");
    // Nothing given on a terminal-less stdin with no --file is refused.
    let (_, err) = env.fail(None, &["context", "save", "--file", "/nonexistent/notes.md"]);
    assert!(err.contains("/nonexistent/notes.md"), "{err}");

    // Share it: clone B sees alice's context after a sync.
    let synced: ContextSynced = env.json_as(None, &["context", "sync"]);
    assert_eq!(synced.sync.last_result, "ok", "{synced:?}");
    sync(&env, &b);
    let there: ContextShown = env.json_in_as(&b, None, &["context", "show", "--agent", "alice", "--no-preamble"]);
    assert_eq!(there.content, "# Next steps\n- finish JWT refresh\n", "{there:?}");
    assert_eq!(there.source, "a-sync");
    // And it survives B's next push (B's merge keeps A's context file).
    env.ok_in(&b, None, &["send", "hi", "--to", "@alice", "--quiet"]);
    sync(&env, &b);
    let remote = env.dir.path().join("remote.git");
    assert!(git(&env, &remote, &["show", "a-sync:context/alice.md"]).contains("JWT"));

    env.ok(None, &["context", "clear"]);
    assert!(!env.thrum_dir().join("context/alice.md").exists());
    env.ok(None, &["context", "clear"]);
    let _ = a;
}

#[test]
fn local_only_priority_flag_then_env_then_config() {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init", "--sync"]);
    let mode = |env: &TestEnv| env.json_as::<SyncStatus>(None, &["sync", "status"]).mode;
    // Config says local-only.
    let cfg_path = env.thrum_dir().join("config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    assert_eq!(cfg["daemon"]["local_only"], Value::Bool(false), "init --sync");
    cfg["daemon"]["local_only"] = Value::Bool(true);
    std::fs::write(&cfg_path, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    env.ok(None, &["daemon", "start"]);
    assert_eq!(mode(&env), "local-only");
    env.ok(None, &["daemon", "stop"]);
    // The environment overrides the config.
    let out = env.thrum(&["daemon", "start"]).env("THRUM_LOCAL", "0").output().unwrap();
    assert!(out.status.success());
    assert_eq!(mode(&env), "normal");
    env.ok(None, &["daemon", "stop"]);
    // The flag overrides both.
    let out = env.thrum(&["daemon", "start", "--local"]).env("THRUM_LOCAL", "0").output().unwrap();
    assert!(out.status.success());
    assert_eq!(mode(&env), "local-only");
}
