//! Never lose a message: concurrent senders across a SIGKILL, torn
//! writes, and rebuilds that must agree with the live projection.

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::Value;
use thrum_testkit::TestEnv;

use crate::wire::{DaemonStatus, JsonAs, Page};

fn all_ids(env: &TestEnv, agent: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let v: Page = env.json_as(Some(agent), &["inbox", "--page-size", "100", "--page", &page.to_string()]);
        out.extend(v.messages.iter().map(|m| m.message_id.clone()));
        if page >= v.total_pages {
            break;
        }
        page += 1;
    }
    out
}

#[test]
fn acknowledged_sends_survive_sigkill_with_concurrent_senders() {
    let env = crate::env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    let stop_at = Instant::now() + Duration::from_secs(4);
    // 10 sender processes, each sending in a loop and recording every
    // message id the daemon acknowledged.
    let senders: Vec<_> = (0..10)
        .map(|i| {
            let bin = env.bin.clone();
            let repo = env.repo();
            let home = env.home();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut n = 0;
                while Instant::now() < stop_at {
                    let out = std::process::Command::new(&bin)
                        .args(["send", &format!("s{i}-{n}"), "--to", "@bob", "--json", "--quiet"])
                        .current_dir(&repo)
                        .env("HOME", &home)
                        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"))
                        .env("THRUM_NAME", "alice")
                        .env("THRUM_NO_HINTS", "1")
                        .output()
                        .unwrap();
                    if out.status.success() {
                        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                        acked.push(v["message_id"].as_str().unwrap().to_string());
                    }
                    n += 1;
                }
                acked
            })
        })
        .collect();
    // Kill the daemon twice while they send; auto-start brings it back.
    // (Not a wait for a condition: the kills are spaced out so the senders
    // get some sends through between them.)
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(900));
        env.kill_daemon();
    }
    let mut acked = Vec::new();
    for s in senders {
        acked.extend(s.join().unwrap());
    }
    assert!(acked.len() > 20, "too few sends went through: {}", acked.len());
    let live = all_ids(&env, "bob");
    let live_set: HashSet<&String> = live.iter().collect();
    assert_eq!(live_set.len(), live.len(), "duplicates in the inbox");
    for id in &acked {
        assert!(live_set.contains(id), "acknowledged message {id} was lost");
    }
    // The log holds each message exactly once.
    let shard = std::fs::read_to_string(env.sync_dir().join("messages/alice.jsonl")).unwrap();
    let mut seen = HashSet::new();
    for line in shard.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] == "message.create" {
            assert!(seen.insert(v["message_id"].as_str().unwrap().to_string()), "duplicate in log");
        }
    }
    // A projection rebuilt from the log equals the live one.
    let live_json: Page = env.json_as(Some("bob"), &["inbox", "--page-size", "100", "--unread"]);
    env.ok(None, &["daemon", "stop"]);
    for f in ["messages.db", "messages.db-wal", "messages.db-shm"] {
        let _ = std::fs::remove_file(env.thrum_dir().join("var").join(f));
    }
    let rebuilt_json: Page = env.json_as(Some("bob"), &["inbox", "--page-size", "100", "--unread"]);
    assert_eq!(live_json, rebuilt_json);
    assert_eq!(all_ids(&env, "bob"), live);
}

#[test]
fn torn_last_line_is_tolerated_and_reported() {
    let env = crate::env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    env.ok(Some("alice"), &["send", "whole message", "--to", "@bob"]);
    env.kill_daemon();
    let shard = env.sync_dir().join("messages/alice.jsonl");
    let mut f = std::fs::OpenOptions::new().append(true).open(&shard).unwrap();
    f.write_all(br#"{"type":"message.create","message_id":"msg_torn","agent_id":"al"#).unwrap();
    drop(f);
    let st: DaemonStatus = env.json_as(None, &["daemon", "status"]);
    assert!(!st.running);
    env.ok(None, &["daemon", "start"]);
    let st: DaemonStatus = env.json_as(None, &["daemon", "status"]);
    let warnings = st.warnings.clone().unwrap_or_default();
    assert!(warnings.iter().any(|w| w.contains("torn write")), "{st:?}");
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 1);
    // New writes land on a clean line.
    env.ok(Some("alice"), &["send", "after the tear", "--to", "@bob"]);
    let text = std::fs::read_to_string(&shard).unwrap();
    for line in text.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"));
    }
    let saved = std::fs::read_dir(env.thrum_dir().join("var/recovered")).unwrap().count();
    assert_eq!(saved, 1, "the torn fragment is kept for inspection");
}

#[test]
fn garbage_on_the_socket_and_in_the_log_never_crashes_the_daemon() {
    let env = crate::env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    let pid = env.daemon_pid().unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..50 {
        let mut c = thrum_testkit::RawConn::connect(&env.socket());
        let mut junk = Vec::new();
        for _ in 0..(seed % 512) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            junk.push((seed & 0xff) as u8);
        }
        junk.push(b'\n');
        c.send_raw(&junk);
    }
    assert!(thrum_testkit::alive(pid));
    env.ok(Some("alice"), &["send", "still fine", "--to", "@bob"]);
    // A garbage line in the middle of a shard is skipped and reported.
    env.kill_daemon();
    let events = env.sync_dir().join("events.jsonl");
    let mut text = std::fs::read_to_string(&events).unwrap();
    text.push_str("{this is not an event}\n");
    std::fs::write(&events, text).unwrap();
    for f in ["messages.db", "messages.db-wal", "messages.db-shm"] {
        let _ = std::fs::remove_file(env.thrum_dir().join("var").join(f));
    }
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 1);
    let st: DaemonStatus = env.json_as(None, &["daemon", "status"]);
    assert!(st.warnings.iter().flatten().any(|w| w.contains("not a valid event")), "{st:?}");
}

/// A full disk: the send fails with a clear message and writes nothing;
/// once space is back, everything acknowledged before is intact and sends
/// work again. Runs in a private mount namespace with a small tmpfs (needs
/// root, as CI has).
#[test]
fn a_full_disk_rejects_cleanly_and_recovers() {
    if !std::process::Command::new("unshare").args(["-m", "true"]).status().is_ok_and(|s| s.success()) {
        eprintln!("skipping: unshare -m needs root");
        return;
    }
    let env = TestEnv::new(crate::BIN);
    let out_dir = env.dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let script = r#"
set -u
T="$1"; OUT="$2"; FS="$OUT/fs"
mkdir -p "$FS" && mount -t tmpfs -o size=8m tmpfs "$FS" || exit 90
cd "$FS" && git init -q repo && cd repo && git commit -q --allow-empty -m init
trap '"$T" daemon stop -q 2>/dev/null' EXIT
"$T" init -q >/dev/null
"$T" quickstart --name alice --role dev --module m --no-agent-pid -q
"$T" quickstart --name bob --role rev --module m --no-agent-pid --force -q
THRUM_NAME=alice "$T" send "before" --to @bob --json > "$OUT/before.json"
dd if=/dev/zero of="$FS/fill" bs=64k 2>/dev/null
THRUM_NAME=alice "$T" send "while full" --to @bob 2> "$OUT/full.err"; echo $? > "$OUT/full.rc"
rm -f "$FS/fill"
THRUM_NAME=alice "$T" send "after" --to @bob --json > "$OUT/after.json"
THRUM_NAME=bob "$T" inbox --json > "$OUT/inbox.json"
"#;
    let status = env
        .hermetic(std::process::Command::new("unshare"))
        .args(["-m", "sh", "-c", script, "sh"])
        .arg(&env.bin)
        .arg(&out_dir)
        .status()
        .unwrap();
    assert!(status.success(), "scenario failed: {status}");
    let rc = std::fs::read_to_string(out_dir.join("full.rc")).unwrap();
    // The daemon refuses it as an internal error (-32603): exit 70.
    assert_eq!(rc.trim(), "70", "a send on a full disk must fail");
    let err = std::fs::read_to_string(out_dir.join("full.err")).unwrap();
    assert!(err.contains("full"), "the error should say the disk is full: {err}");
    let inbox: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("inbox.json")).unwrap()).unwrap();
    let mut got: Vec<&str> =
        inbox["messages"].as_array().unwrap().iter().map(|m| m["body"]["content"].as_str().unwrap()).collect();
    got.sort();
    assert_eq!(got, vec!["after", "before"], "{inbox}");
}
