//! `thrum tmux queue`, `queue-status` and `cancel` on a real tmux server
//! (each test environment has its own, `THRUM_TMUX_SOCKET`, killed when
//! the environment drops, failed test or not) and a real daemon: commands
//! run in order in a shell pane, their output comes back as @system
//! messages (or to `--wait`), and timeouts, cancels, daemon restarts and
//! killed sessions are each reported.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use thrum_testkit::TestEnv;

use crate::claude::{poll, require};
use crate::env_with;

/// Prints `tick 1`…`tick N` a tenth of a second apart: a command that is
/// never quiet for long while it runs.
fn ticks(n: u32) -> String {
    format!("for i in $(seq 1 {n}); do echo tick $i; sleep 0.1; done")
}

/// @alice with a shell session `work` (agent @worker registered in it),
/// whose panes run /bin/sh so prompts and syntax do not depend on the
/// developer's shell.
fn setup() -> TestEnv {
    require("tmux", "apt-get install -y tmux");
    let env = env_with(&[("alice", "coordinator", "lead")]);
    env.ok(Some("alice"), &["daemon", "stop"]);
    let out = env.thrum(&["daemon", "start"]).env("SHELL", "/bin/sh").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let repo = env.repo();
    let cwd = repo.to_str().unwrap();
    env.ok(
        Some("alice"),
        &["tmux", "create", "work", "--cwd", cwd, "--name", "worker", "--role", "implementer", "--module", "shell"],
    );
    env
}

/// Queues `command` without waiting; its id.
fn queue(env: &TestEnv, command: &str, flags: &[&str]) -> (String, i64) {
    let mut args = vec!["tmux", "queue", "work", command];
    args.extend(flags);
    let r = env.json(Some("alice"), &args);
    (r["command_id"].as_str().unwrap().to_string(), r["position"].as_i64().unwrap())
}

fn status(env: &TestEnv) -> Value {
    env.json(Some("alice"), &["tmux", "queue-status", "work"])
}

/// The @system messages in @alice's inbox, oldest first.
fn system_messages(env: &TestEnv) -> Vec<String> {
    let page = env.json(Some("alice"), &["inbox", "--page-size", "100"]);
    let mut out: Vec<String> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["agent_id"] == "system")
        .map(|m| m["body"]["content"].as_str().unwrap_or_default().to_string())
        .collect();
    out.reverse();
    out
}

/// Waits for the @system message about `id` that says `what`.
fn message(env: &TestEnv, id: &str, what: &str) -> String {
    let mut found = None;
    let ok = poll(Duration::from_secs(20), || {
        found = system_messages(env).into_iter().find(|m| m.contains(id) && m.contains(what));
        found.is_some()
    });
    assert!(ok, "no @system message about {id} saying {what:?}; got: {:#?}", system_messages(env));
    found.unwrap()
}

fn pane(env: &TestEnv) -> String {
    String::from_utf8_lossy(&env.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", "=work:"]).stdout).into_owned()
}

/// Expects failure with one line on stderr containing `says`.
fn refused(env: &TestEnv, args: &[&str], says: &str) {
    let (code, err) = env.fail(Some("alice"), args);
    assert_ne!(code, 0);
    assert!(err.contains(says), "thrum {args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "thrum {args:?} said more than one line: {err}");
}

#[test]
fn commands_run_in_order_and_report_their_output_or_return_it_to_wait() {
    let env = setup();
    let (first, p1) = queue(&env, "echo first-$((1+1))", &["--silence", "0.5"]);
    let (second, p2) = queue(&env, "echo one; sleep 0.2; echo two", &["--silence", "0.5"]);
    assert_eq!((p1, p2), (1, 2));
    let st = status(&env);
    let mut listed: Vec<&str> = st["active"]["id"].as_str().into_iter().collect();
    listed.extend(st["queued"].as_array().unwrap().iter().filter_map(|c| c["id"].as_str()));
    assert_eq!(listed, [first.as_str(), second.as_str()], "{st}");
    assert_eq!(st["queued"].as_array().unwrap().last().unwrap()["requester_agent"], "alice", "{st}");

    // The shell ran them (the arithmetic is not in the typed line), in
    // order, and each result came back with what it printed.
    let m1 = message(&env, &first, "completed");
    assert!(m1.contains("first-2"), "{m1}");
    let m2 = message(&env, &second, "completed");
    assert!(m2.contains("one\ntwo"), "{m2}");
    let all = system_messages(&env);
    let at = |id: &str| all.iter().position(|m| m.contains(id)).unwrap();
    assert!(at(&first) < at(&second), "{all:#?}");
    let shown = pane(&env);
    assert!(shown.find("first-2").unwrap() < shown.find("\none\n").unwrap(), "{shown}");

    // --wait prints state, elapsed and output, and sends no message.
    let out = env
        .thrum(&["tmux", "queue", "work", "echo waited-$((2+3))", "--wait", "--silence", "0.5"])
        .env("THRUM_NAME", "alice")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("State: completed\nElapsed: "), "{stdout}");
    assert!(stdout.contains("waited-5"), "{stdout}");
    let waited = stderr.split_whitespace().find(|w| w.starts_with("cmd_")).unwrap().to_string();
    // A later command's message comes after any the waited one could have
    // caused.
    let (last, _) = queue(&env, "echo last", &["--silence", "0.5"]);
    message(&env, &last, "completed");
    assert!(!system_messages(&env).iter().any(|m| m.contains(&waited)), "{:#?}", system_messages(&env));
    assert_eq!(status(&env)["queued"].as_array().unwrap().len(), 0);
}

#[test]
fn timeouts_and_cancels_are_reported_and_bad_input_is_refused() {
    let env = setup();
    let long = ticks(40);
    let (slow, _) = queue(&env, &long, &["--timeout", "1", "--silence", "0.8"]);
    let m = message(&env, &slow, "still running after its timeout");
    assert!(m.contains(&format!("thrum tmux cancel {slow}")), "{m}");
    assert_eq!(status(&env)["active"]["state"], "timeout_waiting");

    // A queued command leaves the queue and is never typed.
    let (never, position) = queue(&env, "echo never-$((6*7))", &["--silence", "0.5"]);
    assert_eq!(position, 2);
    let out = env.ok(Some("alice"), &["tmux", "cancel", &never]);
    assert!(out.contains("had not been sent"), "{out}");
    message(&env, &never, "cancelled before it was sent");

    // The running one is marked cancelled with its output so far; nothing
    // is typed into the pane to stop it.
    let out = env.ok(Some("alice"), &["tmux", "cancel", &slow]);
    assert!(out.contains("may still be running") && out.contains("tick"), "{out}");
    let m = message(&env, &slow, "was cancelled");
    assert!(m.contains("tick"), "{m}");
    refused(&env, &["tmux", "cancel", &slow], "already cancelled");

    // The queue moves on once the pane is quiet again.
    let out = env.ok(Some("alice"), &["tmux", "queue", "work", "echo after-$((1+2))", "--wait", "--silence", "0.5"]);
    assert!(out.contains("State: completed") && out.contains("after-3"), "{out}");
    let shown = pane(&env);
    assert!(shown.contains("tick 40") && !shown.contains("never"), "{shown}");

    refused(&env, &["tmux", "queue", "nope", "ls"], "no tmux session named \"nope\"");
    refused(&env, &["tmux", "queue", "work", ""], "the command is empty");
    refused(&env, &["tmux", "queue", "work", "echo a\necho b"], "one line");
    refused(&env, &["tmux", "queue", "work", "ls", "--silence", "0"], "--silence");
    refused(&env, &["tmux", "cancel", "cmd_01J0000000000000000000000Z"], "no command cmd_01J0000000000000000000000Z");
    refused(&env, &["tmux", "cancel", "bogus"], "not a command id");
    let out = env.ok(Some("alice"), &["tmux", "queue-status", "nope"]);
    assert!(out.contains("No commands queued"), "{out}");
}

#[test]
fn a_restart_keeps_queued_commands_and_interrupts_running_ones_as_does_a_kill() {
    let env = setup();
    let (running, _) = queue(&env, &ticks(40), &["--silence", "0.8"]);
    assert!(poll(Duration::from_secs(10), || status(&env)["active"]["id"] == running.as_str()));
    let (later, _) = queue(&env, "echo later-$((3*3))", &["--silence", "0.5"]);

    // A crash: nothing is written on the way down.
    env.kill_daemon();
    let st = status(&env); // starts a new daemon
    assert_eq!(st["queued"][0]["id"], later.as_str(), "{st}");
    let m = message(&env, &running, "interrupted");
    assert!(m.contains("daemon restarted"), "{m}");
    let m = message(&env, &later, "completed");
    assert!(m.contains("later-9"), "{m}");

    // Killing the session interrupts its commands, and a waiting caller
    // hears it (and so does the inbox, --wait or not).
    let waiting = env
        .thrum(&["tmux", "queue", "work", &ticks(100), "--wait", "--silence", "0.8"])
        .env("THRUM_NAME", "alice")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(poll(Duration::from_secs(10), || status(&env)["active"]["state"] == "sent"));
    let active = status(&env)["active"]["id"].as_str().unwrap().to_string();
    let (queued, _) = queue(&env, "echo never", &[]);
    env.ok(Some("alice"), &["tmux", "kill", "work"]);
    let out = waiting.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("State: interrupted"), "{out:?}");
    let m = message(&env, &active, "interrupted");
    assert!(m.contains("session was killed"), "{m}");
    message(&env, &queued, "interrupted before it was sent");
    let st = status(&env);
    assert!(st["active"].is_null() && st["queued"].as_array().unwrap().is_empty(), "{st}");
}

/// A queued command is never typed into someone's draft: it waits until
/// the input line is empty again, then runs.
#[test]
fn a_queued_command_waits_for_a_draft_in_the_line_to_go() {
    let env = setup();
    assert!(poll(Duration::from_secs(10), || pane(&env).trim_end().ends_with(['$', '#'])), "{}", pane(&env));
    assert!(env.tmux(&["send-keys", "-t", "=work:", "-l", "echo draft"]).status.success());
    let (id, _) = queue(&env, "echo queued-ran", &["--silence", "0.3"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(status(&env)["queued"][0]["id"], id.as_str(), "typed into the draft: {}", pane(&env));
    assert!(!pane(&env).contains("queued-ran"), "{}", pane(&env));
    assert!(env.tmux(&["send-keys", "-t", "=work:", "C-u"]).status.success());
    let done = message(&env, &id, "completed");
    assert!(done.contains("queued-ran"), "{done}");
    assert!(!pane(&env).contains("draftecho"), "{}", pane(&env));
}
