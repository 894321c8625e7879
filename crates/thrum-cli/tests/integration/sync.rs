//! Git sync between clones through a real bare remote.

use std::time::Duration;

use serde_json::Value;
use thrum_testkit::{TestEnv, git};

use crate::BIN;

fn sync(env: &TestEnv, dir: &std::path::Path) -> Value {
    env.json_in(dir, None, &["sync", "force", "--wait"])
}

fn contents(v: &Value) -> Vec<String> {
    v["messages"].as_array().unwrap().iter().map(|m| m["body"]["content"].as_str().unwrap().to_string()).collect()
}

/// Two clones of one repository, alice in `repo`, bob in `b`.
fn two_clones() -> (TestEnv, std::path::PathBuf) {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init"]);
    env.ok(None, &["quickstart", "--name", "alice", "--role", "implementer", "--module", "auth", "--no-agent-pid"]);
    let b = env.clone_repo("b");
    env.ok_in(&b, None, &["init"]);
    env.ok_in(&b, None, &["quickstart", "--name", "bob", "--role", "reviewer", "--module", "auth", "--no-agent-pid"]);
    (env, b)
}

#[test]
fn messages_travel_both_ways_through_the_remote() {
    let (env, b) = two_clones();
    let a = env.repo();
    // bob's registration reaches the remote, then alice's clone.
    let s = sync(&env, &b);
    assert_eq!(s["last_result"], "ok", "{s}");
    assert_eq!(s["mode"], "normal");
    sync(&env, &a);
    let agents = env.json(None, &["agent", "list"]);
    assert_eq!(agents["agents"].as_array().unwrap().len(), 2, "{agents}");

    let sent = env.json(None, &["send", "hello from clone A", "--to", "@bob"]);
    let id = sent["message_id"].as_str().unwrap().to_string();
    // bob waits on clone B; the message arrives by sync and wakes him.
    let waiter = env
        .thrum_in(&b, &["wait", "--timeout", "30s", "--after", "-5m", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    sync(&env, &a);
    let s = sync(&env, &b);
    assert!(s["last_pulled"].as_u64().unwrap() >= 1, "{s}");
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let inbox = env.json_in(&b, None, &["inbox"]);
    assert_eq!(contents(&inbox), vec!["hello from clone A"]);

    // The reply goes back the other way, threaded.
    let r = env.json_in(&b, None, &["reply", &id, "got it"]);
    sync(&env, &b);
    sync(&env, &a);
    let inbox = env.json(None, &["inbox"]);
    assert_eq!(contents(&inbox), vec!["got it"]);
    assert_eq!(inbox["messages"][0]["thread_id"], r["thread_id"]);
    // Read receipts travel too: alice sees bob read her message.
    let sent = env.json(None, &["sent"]);
    let m = sent["messages"].as_array().unwrap().iter().find(|m| m["message_id"] == id.as_str()).unwrap();
    assert_eq!(m["read_count"], 1, "{m}");

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
    let at_a = env.json(None, &["inbox", "--page-size", "100"]);
    let at_b = env.json_in(&b, None, &["inbox", "--page-size", "100"]);
    assert_eq!(at_a["total"], 15, "{at_a}");
    assert_eq!(at_b["total"], 15, "{at_b}");
    // Every message once, in both logs.
    for dir in [&a, &b] {
        let all = env.json_in(dir, None, &["inbox", "--all", "--page-size", "100"]);
        let mut ids: Vec<&str> =
            all["messages"].as_array().unwrap().iter().map(|m| m["message_id"].as_str().unwrap()).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicates in {}", dir.display());
        assert_eq!(n, 15);
    }
    // And the remote converged: a fresh third clone sees all 30.
    let c = env.clone_repo("c");
    env.ok_in(&c, None, &["init"]);
    env.ok_in(&c, None, &["quickstart", "--name", "carol", "--role", "tester", "--module", "qa", "--no-agent-pid"]);
    sync(&env, &c);
    let all = env.json_in(&c, Some("carol"), &["inbox", "--all", "--page-size", "100"]);
    assert_eq!(all["total"], 30, "{all}");
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
    let s = env.json(None, &["sync", "force", "--wait"]);
    assert_eq!(s["mode"], "local-only");
    assert_eq!(s["last_result"], "ok");
    let remote = env.dir.path().join("remote.git");
    assert!(git(&env, &remote, &["branch", "--list", "a-sync"]).is_empty(), "nothing was pushed");
    // The worktree is still committed locally.
    let log = git(&env, &env.sync_dir(), &["log", "--oneline"]);
    assert!(log.lines().count() >= 2, "{log}");
    let st = env.json(None, &["sync", "status"]);
    assert_eq!(st["local_only"], true);
}

#[test]
fn an_unreachable_remote_degrades_gracefully() {
    let env = TestEnv::new(BIN);
    git(&env, &env.repo(), &["remote", "set-url", "origin", "/nonexistent/remote.git"]);
    env.ok(None, &["init"]);
    env.ok(None, &["quickstart", "--name", "alice", "--role", "implementer", "--module", "auth", "--no-agent-pid"]);
    env.ok(
        None,
        &["quickstart", "--name", "bob", "--role", "reviewer", "--module", "auth", "--no-agent-pid", "--force"],
    );
    let s = env.json(None, &["sync", "force", "--wait"]);
    assert_eq!(s["sync_state"], "error", "{s}");
    assert!(s["last_error"].as_str().unwrap().contains("git fetch"), "{s}");
    assert!(!s["last_error_hint"].as_str().unwrap().is_empty());
    // Messaging still works.
    env.ok(Some("alice"), &["send", "offline but fine", "--to", "@bob"]);
    assert_eq!(env.json(Some("bob"), &["inbox"])["total"], 1);
    let human = env.ok(None, &["sync", "status"]);
    assert!(human.contains("Last error") && human.contains("Fix:"), "{human}");
}

#[test]
fn a_sent_message_reaches_the_other_clone_by_itself() {
    let (env, b) = two_clones();
    let a = env.repo();
    sync(&env, &b);
    sync(&env, &a);
    // No forcing from here on: the debounce after a write pushes from A,
    // and B's periodic loop (1 s in this test) pulls.
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
        env.json_in(&b, None, &["inbox", "--unread"])["total"].as_i64() == Some(1)
    });
    assert!(arrived, "the message never reached clone B");
    eprintln!("send on A -> inbox on B: {:?}", t.elapsed());
}
