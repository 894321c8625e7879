//! The doorbell and the real Claude Code (pinned, against the model
//! stand-in) in a thrum-managed tmux session: without thrum's hooks the
//! doorbell is typed into Claude Code's own input line and submitted, so
//! the next model request carries it; with the hooks, the idle waker wakes
//! it and nothing is typed.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::claude::{poll, request_text};
use crate::tmux_restart::Rig;

fn state_of(rig: &Rig, id: &str) -> (String, String) {
    let got: Value = serde_json::from_str(&rig.ok(&["message", "get", id, "--json"])).unwrap();
    let r = &got["message"]["recipients"][0];
    (r["state"].as_str().unwrap_or("").to_string(), r["announced_via"].as_str().unwrap_or("").to_string())
}

fn send(rig: &Rig, body: &str) -> String {
    let sent: Value = serde_json::from_str(&rig.ok(&["send", body, "--to", "@alice", "--json"])).unwrap();
    sent["message_id"].as_str().unwrap().to_string()
}

#[test]
fn without_hooks_the_doorbell_reaches_claude_codes_model() {
    let rig = Rig::with(None, false);
    rig.launched("d1");
    let before = rig.standin.main_requests().len();
    let sent = Instant::now();
    let id = send(&rig, "the schema is ready for review");
    let rang = poll(Duration::from_secs(20), || {
        rig.standin
            .main_requests()
            .iter()
            .skip(before)
            .any(|r| request_text(r).contains("[thrum] 1 new message for @alice from @coord"))
    });
    assert!(rang, "no doorbell reached the model:\n{}", rig.screen("d1"));
    eprintln!("send → Claude Code's request with the doorbell: {} ms", sent.elapsed().as_millis());
    assert_eq!(state_of(&rig, &id), ("announced".into(), "tmux".into()));
    // Once: the turn it started ends, and nothing rings again.
    rig.wait_ready("d1");
    std::thread::sleep(Duration::from_secs(3));
    let rung = rig
        .standin
        .main_requests()
        .iter()
        .skip(before)
        .filter(|r| request_text(r).contains("[thrum] 1 new message"))
        .count();
    assert_eq!(rung, 1, "the doorbell rang more than once");
}

#[test]
fn with_hooks_the_idle_waker_wakes_claude_code_and_nothing_is_typed() {
    let rig = Rig::with(None, true);
    rig.launched("d2");
    // A turn ends: its Stop hook arms the idle waker.
    rig.prompt("d2", "Say hello.");
    std::thread::sleep(Duration::from_secs(1));
    let before = rig.standin.main_requests().len();
    let id = send(&rig, "the migration needs a flag");
    let woken = poll(Duration::from_secs(20), || {
        rig.standin.main_requests().iter().skip(before).any(|r| request_text(r).contains("the migration needs a flag"))
    });
    let log = std::fs::read_to_string(rig.env.thrum_dir().join("var/daemon.log")).unwrap_or_default();
    assert!(woken, "not woken:\n{}\n{log}", rig.screen("d2"));
    assert_eq!(state_of(&rig, &id), ("announced".into(), "waiter".into()));
    rig.wait_ready("d2");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !rig.screen("d2").contains("thrum messaging, not your user"),
        "a doorbell was typed:\n{}",
        rig.screen("d2")
    );
}

/// A freshly launched Claude Code with thrum's hooks has had no turn yet,
/// so no idle waker is armed: mail that arrives then still reaches it.
#[test]
fn mail_before_the_first_turn_still_reaches_claude_code() {
    let rig = Rig::with(None, true);
    rig.launched("d3");
    let before = rig.standin.main_requests().len();
    let id = send(&rig, "welcome aboard");
    let reached = poll(Duration::from_secs(20), || {
        rig.standin
            .main_requests()
            .iter()
            .skip(before)
            .any(|r| request_text(r).contains("[thrum] 1 new message for @alice"))
    });
    let log = std::fs::read_to_string(rig.env.thrum_dir().join("var/daemon.log")).unwrap_or_default();
    assert!(reached, "mail never reached the model:\n{}\n{log}", rig.screen("d3"));
    assert_eq!(state_of(&rig, &id).0, "announced");
}
