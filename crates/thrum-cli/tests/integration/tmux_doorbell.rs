//! The tmux doorbell on real tmux: it rings only when the pane is safe,
//! once, and counts as the announcement.
//!
//! - A bash pane (the `shell` runtime): the doorbell is a comment typed at
//!   the prompt; a person typing (send-keys one character at a time) or a
//!   draft left in the line holds it back until the line is empty again.
//! - The fake agent (`tests/tmux/fake_agent.py`, drawn like Claude Code):
//!   not while its permission dialog shows or a turn spins, not a single
//!   key into the dialog; then it rings and the line is submitted.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use thrum_testkit::TestEnv;

use crate::claude::{poll, require};
use crate::env_with;
use crate::tmux_sessions::{pane_path, worktree};

pub(crate) fn capture(env: &TestEnv, session: &str) -> String {
    String::from_utf8_lossy(&env.tmux(&["capture-pane", "-p", "-t", &format!("={session}:")]).stdout).into_owned()
}

/// Whether a line holding `text` was submitted at the shell: a fresh
/// prompt follows it.
fn submitted(env: &TestEnv, text: &str) -> bool {
    let shown = capture(env, "s");
    let lines: Vec<&str> = shown.trim_end().lines().collect();
    lines.len() >= 2 && lines[lines.len() - 2].contains(text) && lines[lines.len() - 1].trim_end().ends_with('#')
}

/// Types like a person: one key at a time.
fn type_slowly(env: &TestEnv, session: &str, text: &str, gap: Duration) {
    for c in text.chars() {
        assert!(env.tmux(&["send-keys", "-t", &format!("={session}:"), "-l", &c.to_string()]).status.success());
        std::thread::sleep(gap);
    }
}

fn send(env: &TestEnv, from: &str, to: &str, body: &str) -> String {
    env.json(Some(from), &["send", body, "--to", to])["message_id"].as_str().unwrap().to_string()
}

/// The delivery state of `id` for its first recipient, as its sender sees it.
fn delivery(env: &TestEnv, sender: &str, id: &str) -> (String, String) {
    let got: Value = env.json(Some(sender), &["message", "get", id]);
    let r = &got["message"]["recipients"][0];
    (r["state"].as_str().unwrap_or("").to_string(), r["announced_via"].as_str().unwrap_or("").to_string())
}

/// A repository with `lead`, and `impl` registered in a session `s` in its
/// own worktree; the daemon's quiet window shortened. With `fake`, the
/// `claude` the pane finds is the fake agent (its log and control files).
fn setup(quiet_ms: u64, fake: bool) -> (TestEnv, PathBuf, Option<(PathBuf, PathBuf)>) {
    setup_with(serde_json::json!({ "quiet_ms": quiet_ms }), fake)
}

/// [`setup`] with these `tmux` settings.
pub(crate) fn setup_with(tmux: Value, fake: bool) -> (TestEnv, PathBuf, Option<(PathBuf, PathBuf)>) {
    require("tmux", "apt-get install -y tmux");
    let env = env_with(&[("lead", "coordinator", "all")]);
    let config = env.thrum_dir().join("config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap_or("{}".into())).unwrap();
    cfg["tmux"] = tmux;
    std::fs::write(&config, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let wt = worktree(&env, "wt-impl");
    let fake = fake.then(|| fake_agent(&env, env.dir.path()));
    if fake.is_none() {
        pane_path(&env, &[]);
    }
    env.ok(Some("lead"), &["daemon", "stop"]);
    let out = env.thrum(&["daemon", "start"]).env("SHELL", "/bin/bash").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    env.ok(
        Some("lead"),
        &[
            "tmux",
            "create",
            "s",
            "--cwd",
            wt.to_str().unwrap(),
            "--name",
            "impl",
            "--role",
            "implementer",
            "--module",
            "api",
        ],
    );
    (env, wt, fake)
}

#[test]
fn a_shell_pane_gets_its_doorbell_only_once_the_line_is_empty() {
    let (env, wt, _) = setup(400, false);
    env.ok(Some("lead"), &["tmux", "launch", "s", "--runtime", "shell"]);
    assert!(poll(Duration::from_secs(10), || capture(&env, "s").trim_end().ends_with('#')), "{}", capture(&env, "s"));

    // Someone types at the prompt while mail arrives, and pauses with a
    // draft in the line.
    let id = send(&env, "lead", "@impl", "first task for you");
    type_slowly(&env, "s", "echo half-typ", Duration::from_millis(120));
    std::thread::sleep(Duration::from_millis(1500));
    let shown = capture(&env, "s");
    assert!(!shown.contains("[thrum]"), "the doorbell typed into someone's draft:\n{shown}");
    assert!(shown.contains("echo half-typ"), "{shown}");
    assert_eq!(delivery(&env, "lead", &id).0, "stored", "announced without a doorbell");

    // The line is cleared: the doorbell rings, as a comment, once.
    let cleared = Instant::now();
    assert!(env.tmux(&["send-keys", "-t", "=s:", "C-u"]).status.success());
    assert!(
        poll(Duration::from_secs(5), || submitted(&env, "# [thrum] 1 new message for @impl from @lead")),
        "no doorbell:\n{}",
        capture(&env, "s")
    );
    eprintln!("line cleared → doorbell submitted: {} ms", cleared.elapsed().as_millis());
    assert_eq!(delivery(&env, "lead", &id), ("announced".into(), "tmux".into()));
    assert!(!capture(&env, "s").contains("half-typ[thrum]"), "typed into the draft");

    // Mail read before it could ring never rings; the agent's own mail
    // never rings.
    type_slowly(&env, "s", "x", Duration::ZERO);
    let read_first = send(&env, "lead", "@impl", "read before the doorbell");
    env.ok_in(&wt, Some("impl"), &["message", "read", &read_first]);
    env.json_in(&wt, Some("impl"), &["send", "my own message", "--to", "@lead"]);
    assert!(env.tmux(&["send-keys", "-t", "=s:", "C-u"]).status.success());
    std::thread::sleep(Duration::from_secs(3));
    let shown = capture(&env, "s");
    assert_eq!(shown.matches("[thrum]").count(), 1, "rang again:\n{shown}");
    assert_eq!(delivery(&env, "lead", &read_first).0, "read");

    // A burst rings once for all of it.
    let (a, b) = (send(&env, "lead", "@impl", "burst one"), send(&env, "lead", "@impl", "burst two"));
    assert!(
        poll(Duration::from_secs(5), || capture(&env, "s").contains("[thrum] 2 new messages")),
        "{}",
        capture(&env, "s")
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(capture(&env, "s").matches("[thrum]").count(), 2, "{}", capture(&env, "s"));
    for id in [a, b] {
        assert_eq!(delivery(&env, "lead", &id), ("announced".into(), "tmux".into()));
    }
}

/// The fake agent, drawn like Claude Code, in session `s`.
pub(crate) fn fake_agent(env: &TestEnv, dir: &Path) -> (PathBuf, PathBuf) {
    let script = crate::workspace().join("tests/tmux/fake_agent.py");
    let (log, control) = (dir.join("fake.log"), dir.join("fake.control"));
    std::fs::write(&control, "").unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // The registry launches `claude` by name: this one is the fake agent.
    let claude = bin.join("claude");
    std::fs::write(
        &claude,
        format!(
            "#!/bin/sh\nexec python3 {} --log {} --control {}\n",
            script.display(),
            log.display(),
            control.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&claude).status().unwrap();
    pane_path(env, &[&bin]);
    (log, control)
}

pub(crate) fn events(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

pub(crate) fn control(path: &Path, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(f, "{line}").unwrap();
}

#[test]
fn no_doorbell_key_lands_in_a_dialog_or_a_running_turn() {
    let (env, _wt, fake) = setup(400, true);
    let (log, ctl) = fake.unwrap();
    env.ok(Some("lead"), &["tmux", "launch", "s"]);
    assert!(poll(Duration::from_secs(10), || capture(&env, "s").contains('❯')), "{}", capture(&env, "s"));

    // A dialog shows, mail arrives: nothing is typed.
    control(&ctl, "dialog on");
    assert!(poll(Duration::from_secs(5), || capture(&env, "s").contains("Do you want to proceed?")));
    let id = send(&env, "lead", "@impl", "while the dialog shows");
    std::thread::sleep(Duration::from_secs(3));
    let keys: Vec<Value> = events(&log).into_iter().filter(|e| e["event"] == "key").collect();
    assert!(keys.is_empty(), "keys reached the dialog: {keys:?}");
    assert_eq!(delivery(&env, "lead", &id).0, "stored");
    // What a runtime's permission hook asks: the pane shows a prompt.
    let checked = env.json(Some("lead"), &["rpc", "tmux.check-pane", r#"{"session":"s"}"#]);
    assert_eq!(checked["state"], "permission", "{checked}");

    // The dialog goes, a turn spins: still nothing.
    control(&ctl, "busy on");
    control(&ctl, "dialog off");
    std::thread::sleep(Duration::from_secs(2));
    let checked = env.json(Some("lead"), &["rpc", "tmux.check-pane", r#"{"session":"s"}"#]);
    assert_eq!(checked["state"], "working", "{checked}");
    assert!(events(&log).iter().all(|e| e["event"] != "key"), "keys during a turn: {:?}", events(&log));

    // The turn ends: the doorbell is typed and submitted, once.
    control(&ctl, "busy off");
    assert!(
        poll(Duration::from_secs(5), || events(&log).iter().any(|e| e["event"] == "submit")),
        "no doorbell:\n{}",
        capture(&env, "s")
    );
    let submits: Vec<String> = events(&log)
        .iter()
        .filter(|e| e["event"] == "submit")
        .map(|e| e["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(submits.len(), 1, "{submits:?}");
    assert!(submits[0].starts_with("[thrum] 1 new message for @impl from @lead"), "{submits:?}");
    assert!(events(&log).iter().all(|e| e["dialog"] != true), "a key landed in the dialog");
    assert_eq!(delivery(&env, "lead", &id), ("announced".into(), "tmux".into()));

    // Someone types into the input, one key at a time, as mail arrives,
    // and leaves a draft: not one doorbell key joins it.
    let keys_before = events(&log).iter().filter(|e| e["event"] == "key").count();
    let id = send(&env, "lead", "@impl", "while someone types");
    type_slowly(&env, "s", "fix the bug", Duration::from_millis(150));
    std::thread::sleep(Duration::from_millis(1500));
    let keys: Vec<String> = events(&log)
        .iter()
        .filter(|e| e["event"] == "key")
        .skip(keys_before)
        .map(|e| e["key"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(keys.concat(), "fix the bug", "a doorbell key joined the draft: {keys:?}");
    assert_eq!(delivery(&env, "lead", &id).0, "stored");
    // The draft is cleared: the doorbell comes.
    assert!(env.tmux(&["send-keys", "-t", "=s:", "C-u"]).status.success());
    assert!(
        poll(Duration::from_secs(5), || events(&log).iter().filter(|e| e["event"] == "submit").count() == 2),
        "no doorbell after the draft was cleared:\n{}",
        capture(&env, "s")
    );
    assert_eq!(delivery(&env, "lead", &id), ("announced".into(), "tmux".into()));
}

fn set_tmux_config(env: &TestEnv, key: &str, value: Value) {
    let config = env.thrum_dir().join("config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    cfg["tmux"][key] = value;
    std::fs::write(&config, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
}

/// Mail announced but left unread gets one reminder (the backstop), not a
/// metronome; an agent marked working whose pane stays silent gets one
/// for its newest unread mail.
#[test]
fn stale_mail_and_a_silent_working_agent_get_one_reminder_each() {
    let (env, wt, _) = setup_with(serde_json::json!({ "quiet_ms": 300, "backstop_minutes": 0.05 }), false);
    env.ok(Some("lead"), &["tmux", "launch", "s", "--runtime", "shell"]);
    assert!(poll(Duration::from_secs(10), || capture(&env, "s").trim_end().ends_with('#')), "{}", capture(&env, "s"));
    let first = send(&env, "lead", "@impl", "please review");
    assert!(poll(Duration::from_secs(5), || submitted(&env, "[thrum] 1 new message")), "{}", capture(&env, "s"));
    let reminder = format!("[thrum] reminder: 1 unread message for @impl, newest {first} from @lead");
    assert!(poll(Duration::from_secs(15), || submitted(&env, &reminder)), "no backstop:\n{}", capture(&env, "s"));
    // One per newest stale message: another sweep brings nothing.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(capture(&env, "s").matches("[thrum] reminder").count(), 1, "{}", capture(&env, "s"));

    // Backstop off; the agent says it is working and goes silent.
    set_tmux_config(&env, "backstop_minutes", 0.into());
    set_tmux_config(&env, "working_silence_seconds", 3.into());
    env.ok_in(&wt, Some("impl"), &["agent", "set-status", "working"]);
    std::thread::sleep(Duration::from_secs(6));
    let second = send(&env, "lead", "@impl", "and this one");
    assert!(poll(Duration::from_secs(5), || submitted(&env, "[thrum] 1 new message")), "{}", capture(&env, "s"));
    let reminder = format!("[thrum] reminder: 2 unread messages for @impl, newest {second} from @lead");
    assert!(
        poll(Duration::from_secs(20), || submitted(&env, &reminder)),
        "working but silent, no reminder:\n{}",
        capture(&env, "s")
    );
    // Read: nothing more.
    for id in [&first, &second] {
        env.ok_in(&wt, Some("impl"), &["message", "read", id]);
    }
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(capture(&env, "s").matches("[thrum] reminder").count(), 2, "{}", capture(&env, "s"));
}
