//! `thrum hook claude EVENT` as Claude Code calls it, from recorded input:
//! what it prints, its exit code, and that it never hurts the session
//! (nothing to say, the daemon down, odd input), plus `setup hooks`.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use thrum_testkit::TestEnv;

use crate::env_with;

/// Runs `thrum hook claude EVENT` as `agent` with `stdin`.
fn hook(env: &TestEnv, agent: &str, event: &str, stdin: &str) -> Output {
    let mut c: Command = env.thrum(&["hook", "claude", event]);
    c.env("THRUM_NAME", agent).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Claude Code's hook input for `event` in the test repository.
fn input(env: &TestEnv, event: &str, extra: Value) -> String {
    let mut v = json!({
        "session_id": "9f3c2a10-1b2c-4d5e-8f90-a1b2c3d4e5f6",
        "transcript_path": env.home().join(".claude/projects/x/9f3c.jsonl"),
        "cwd": env.repo(),
        "hook_event_name": event,
    });
    v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    v.to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn turn_hooks_speak_only_for_new_mail_and_only_once() {
    let env = env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    let post = input(&env, "PostToolUse", json!({"tool_name": "Bash", "tool_input": {"command": "ls"}}));
    let quiet = hook(&env, "alice", "post-tool-use", &post);
    assert_eq!((quiet.status.code(), stdout(&quiet).as_str()), (Some(0), ""), "nothing to say, nothing printed");

    env.ok(Some("bob"), &["send", "the schema is ready", "--to", "@alice"]);
    let told = hook(&env, "alice", "post-tool-use", &post);
    assert_eq!(told.status.code(), Some(0));
    let v: Value = serde_json::from_str(&stdout(&told)).unwrap();
    assert_eq!(v["hookSpecificOutput"]["hookEventName"], "PostToolUse");
    let text = v["hookSpecificOutput"]["additionalContext"].as_str().unwrap();
    assert!(text.starts_with("[thrum] 1 new message for @alice from @bob (1)"), "{text}");
    assert!(
        text.contains("the schema is ready")
            && text.contains("Read them with: thrum inbox (shows them and marks them read)"),
        "{text}"
    );
    // Announced once, whatever asks next.
    assert_eq!(stdout(&hook(&env, "alice", "post-tool-use", &post)), "");
    let prompt = input(&env, "UserPromptSubmit", json!({"prompt": "go on"}));
    assert_eq!(stdout(&hook(&env, "alice", "user-prompt-submit", &prompt)), "");
    // bob's own message is never announced to bob.
    assert_eq!(stdout(&hook(&env, "bob", "post-tool-use", &post)), "");

    // A prompt announces with its own event name.
    env.ok(Some("bob"), &["send", "one more thing", "--to", "@alice"]);
    let v: Value = serde_json::from_str(&stdout(&hook(&env, "alice", "user-prompt-submit", &prompt))).unwrap();
    assert_eq!(v["hookSpecificOutput"]["hookEventName"], "UserPromptSubmit");

    // Stop blocks for new mail, once, and never when already continuing.
    env.ok(Some("bob"), &["send", "before you stop", "--to", "@alice"]);
    let active = input(&env, "Stop", json!({"stop_hook_active": true, "last_assistant_message": "Done."}));
    assert_eq!(stdout(&hook(&env, "alice", "stop", &active)), "", "a stop hook never blocks twice in a row");
    let stop = input(&env, "Stop", json!({"stop_hook_active": false, "last_assistant_message": "Done."}));
    let v: Value = serde_json::from_str(&stdout(&hook(&env, "alice", "stop", &stop))).unwrap();
    assert_eq!(v["decision"], "block");
    assert!(v["reason"].as_str().unwrap().contains("before you stop"), "{v}");
    assert_eq!(stdout(&hook(&env, "alice", "stop", &stop)), "", "the same mail never blocks a stop twice");

    // Whatever the channel: what `thrum wait` woke for, no hook repeats.
    env.ok(Some("bob"), &["send", "seen by a wait", "--to", "@alice"]);
    let woke = env.run_as(Some("alice"), &["wait", "--timeout", "5s"]);
    assert_eq!(woke.status.code(), Some(0));
    assert_eq!(stdout(&hook(&env, "alice", "post-tool-use", &post)), "", "announced twice: wait, then a hook");
    assert_eq!(stdout(&hook(&env, "alice", "stop", &stop)), "");

    // The sender sees how it went.
    let sent: Value = env.json(Some("bob"), &["sent"]);
    let states: Vec<&str> =
        sent["messages"].as_array().unwrap().iter().map(|m| m["recipients"][0]["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["announced", "announced", "announced", "announced"]);
    let via: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["recipients"][0]["announced_via"].as_str().unwrap())
        .collect();
    assert_eq!(via, ["wait", "hook", "hook", "hook"], "newest first");
}

#[test]
fn a_hook_never_hurts_the_session() {
    let env = env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    env.ok(Some("bob"), &["send", "hello", "--to", "@alice"]);
    // Odd input: exit 0, nothing printed, a line in the daemon log.
    for odd in ["{not json", "[1, 2]", "\"a string\""] {
        let o = hook(&env, "alice", "post-tool-use", odd);
        assert_eq!((o.status.code(), stdout(&o).as_str(), o.stderr.is_empty()), (Some(0), "", true), "{odd}");
    }
    let log = std::fs::read_to_string(env.thrum_dir().join("var/daemon.log")).unwrap();
    assert!(log.contains("thrum hook claude post-tool-use: unreadable hook input"), "{log}");
    // An unknown agent: exit 0, nothing printed.
    let post = input(&env, "PostToolUse", json!({}));
    let o = hook(&env, "nobody", "post-tool-use", &post);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), ""));

    // The daemon down: per-tool hooks exit 0 at once and do not start it.
    env.ok(None, &["daemon", "stop"]);
    for event in ["post-tool-use", "user-prompt-submit", "stop", "wait"] {
        let o = hook(&env, "alice", event, &post);
        assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), ""), "{event}");
        assert!(env.daemon_pid().is_none(), "{event} started the daemon");
    }
    // Session start may start it, and briefs the agent with the mail.
    let o = hook(&env, "alice", "session-start", &input(&env, "SessionStart", json!({"source": "startup"})));
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let ctx = v["hookSpecificOutput"]["additionalContext"].as_str().unwrap();
    assert!(ctx.starts_with("[thrum] Session briefing (startup)") && ctx.contains("hello"), "{ctx}");
    assert!(ctx.chars().count() <= 10_000);
    assert!(env.daemon_pid().is_some());
    // Its transcript is remembered for what comes after compaction.
    let o = hook(&env, "alice", "pre-compact", &input(&env, "PreCompact", json!({"trigger": "auto"})));
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), ""));
    let rec: Value = serde_json::from_str(
        &std::fs::read_to_string(env.thrum_dir().join("var/runtime-sessions/alice.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["event"], "pre-compact (auto)");
    assert!(rec["transcript_path"].as_str().unwrap().ends_with("9f3c.jsonl"));
    // A mistyped event is the installer's error, reported (not exit 2).
    let o = hook(&env, "alice", "post-tool", &post);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown claude hook event"));
}

#[test]
fn setup_hooks_merges_claude_settings_and_removes_only_its_own() {
    let env = env_with(&[("alice", "implementer", "auth")]);
    let settings = env.repo().join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    let mine =
        json!({"model": "opus", "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]}});
    std::fs::write(&settings, mine.to_string()).unwrap();

    env.ok(None, &["setup", "hooks", "--runtime", "claude"]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(v["model"], "opus");
    let commands: Vec<String> = v["hooks"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|l| l.as_array().unwrap().iter().flat_map(|g| g["hooks"].as_array().unwrap().iter()))
        .map(|h| h["command"].as_str().unwrap().to_string())
        .collect();
    assert!(commands.contains(&"notify-send done".to_string()));
    for e in ["session-start", "user-prompt-submit", "post-tool-use", "stop", "pre-compact", "wait"] {
        let ours: Vec<&String> = commands.iter().filter(|c| c.ends_with(&format!(" hook claude {e}"))).collect();
        assert_eq!(ours.len(), 1, "{e}: {commands:?}");
        // It points at a thrum binary that exists.
        let bin = ours[0].split_whitespace().next().unwrap();
        assert!(bin == "thrum" || std::path::Path::new(bin).is_file(), "{bin}");
    }
    assert_eq!(std::fs::read_to_string(settings.with_extension("json.bak")).unwrap(), mine.to_string());

    // A second run changes nothing.
    let before = std::fs::read_to_string(&settings).unwrap();
    let again: Value = env.json(None, &["setup", "hooks", "--runtime", "claude"]);
    assert_eq!(again["action"], "unchanged");
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), before);

    // --remove leaves the user's settings as they were.
    env.ok(None, &["setup", "hooks", "--runtime", "claude", "--remove"]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(v, mine);

    // A file that is not JSON is refused untouched.
    std::fs::write(&settings, "{ broken").unwrap();
    let (code, err) = env.fail(None, &["setup", "hooks", "--runtime", "claude"]);
    assert_ne!(code, 0);
    assert!(err.contains("not valid JSON") && err.contains("nothing was changed"), "{err}");
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), "{ broken");
    // Runtimes without hooks say which have them.
    let (_, err) = env.fail(None, &["setup", "hooks", "--runtime", "amp"]);
    assert!(err.contains("runtimes with hooks: claude"), "{err}");
}

#[test]
fn init_with_a_runtime_installs_its_hooks_and_new_worktrees_get_them() {
    let env = thrum_testkit::TestEnv::new(crate::BIN);
    let repo = env.repo();
    env.ok(None, &["init", "--runtime", "claude"]);
    assert!(repo.join(".mcp.json").is_file(), "the MCP config comes with it");
    let settings = |root: &std::path::Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root.join(".claude/settings.json")).unwrap()).unwrap()
    };
    let stop = settings(&repo)["hooks"]["Stop"].to_string();
    assert!(stop.contains("hook claude stop") && stop.contains("hook claude wait"), "{stop}");
    // A second init changes nothing.
    let before = std::fs::read_to_string(repo.join(".claude/settings.json")).unwrap();
    env.ok(None, &["init", "--runtime", "claude"]);
    assert_eq!(std::fs::read_to_string(repo.join(".claude/settings.json")).unwrap(), before);

    // A linked worktree set up with `thrum setup` (settings.json is not
    // committed here, so only thrum can have put it there).
    let wt = env.dir.path().join("wt-feature");
    thrum_testkit::git(&env, &repo, &["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "feature"]);
    env.ok_in(&wt, None, &["setup"]);
    assert!(settings(&wt)["hooks"]["SessionStart"].to_string().contains("hook claude session-start"));
}

#[derive(Debug, serde::Deserialize)]
struct Doctor {
    ok: bool,
    checks: Vec<DoctorCheck>,
    runtimes: Vec<DoctorRuntime>,
}

#[derive(Debug, serde::Deserialize)]
struct DoctorCheck {
    check: String,
    runtime: Option<String>,
    status: String,
    detail: String,
    fix: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct DoctorRuntime {
    name: String,
    hook_runs: Option<Vec<DoctorRun>>,
}

#[derive(Debug, serde::Deserialize)]
struct DoctorRun {
    event: String,
    last_run: Option<String>,
}

impl Doctor {
    fn get(&self, check: &str) -> &DoctorCheck {
        self.checks.iter().find(|c| c.check == check).unwrap_or_else(|| panic!("no {check} check: {self:?}"))
    }
}

fn doctor(env: &TestEnv) -> (i32, Doctor) {
    let out = env.thrum(&["doctor", "--json"]).env("THRUM_NAME", "alice").output().unwrap();
    (out.status.code().unwrap(), crate::wire::decode("doctor", &String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn doctor_names_each_problem_with_its_fix() {
    let env = env_with(&[("alice", "implementer", "auth")]);
    std::fs::create_dir_all(env.repo().join(".claude")).unwrap();
    let (code, d) = doctor(&env);
    assert_eq!((code, d.ok), (0, true), "{d:?}");
    assert_eq!(d.get("daemon").status, "ok");
    assert_eq!(d.get("identity").status, "ok");
    let hooks = d.get("hooks");
    assert_eq!((hooks.runtime.as_deref(), hooks.status.as_str()), (Some("claude"), "warn"));
    assert_eq!(hooks.fix.as_deref(), Some("thrum setup hooks --runtime claude"));
    assert_eq!(d.get("mcp").fix.as_deref(), Some("thrum setup mcp --runtime claude"));

    // Installed, never fired: said so; once a hook runs, its time shows.
    env.ok(None, &["setup", "hooks", "--runtime", "claude"]);
    let (_, d) = doctor(&env);
    assert_eq!(d.get("hooks").status, "ok", "{d:?}");
    assert_eq!(d.get("hook-runs").status, "warn");
    hook(&env, "alice", "post-tool-use", &input(&env, "PostToolUse", json!({})));
    let (_, d) = doctor(&env);
    assert!(d.checks.iter().all(|c| c.check != "hook-runs"), "{d:?}");
    let runs = d.runtimes.iter().find(|r| r.name == "claude").unwrap().hook_runs.as_ref().unwrap();
    let ran: Vec<&str> = runs.iter().filter(|r| r.last_run.is_some()).map(|r| r.event.as_str()).collect();
    assert_eq!(ran, ["post-tool-use"]);

    // A hook that runs a thrum that is gone, and a stopped daemon: failures.
    let settings = env.repo().join(".claude/settings.json");
    let text = std::fs::read_to_string(&settings).unwrap();
    let first = text.split("\"command\": \"").nth(1).unwrap().split(" hook claude").next().unwrap().to_string();
    std::fs::write(&settings, text.replace(&first, "/gone/bin/thrum")).unwrap();
    env.ok(None, &["daemon", "stop"]);
    let (code, d) = doctor(&env);
    assert_eq!((code, d.ok), (1, false));
    let hooks = d.get("hooks");
    assert!(hooks.status == "fail" && hooks.detail.contains("/gone/bin/thrum"), "{hooks:?}");
    assert_eq!(hooks.fix.as_deref(), Some("thrum setup hooks --runtime claude"));
    assert_eq!((d.get("daemon").status.as_str(), d.get("daemon").fix.as_deref()), ("fail", Some("thrum daemon start")));
    assert!(env.daemon_pid().is_none(), "doctor started the daemon");
}

/// The Claude Code plugin and marketplace shipped in the repository, as
/// the real `claude plugin validate` (2.1.328) reads them.
#[test]
fn the_claude_code_plugin_and_marketplace_validate() {
    let home = tempfile::tempdir().unwrap();
    let validate = |path: &std::path::Path| {
        let out = Command::new(crate::claude::claude_bin())
            .args(["plugin", "validate"])
            .arg(path)
            .env("HOME", home.path())
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && text.contains("Validation passed"), "{}: {text}", path.display());
        text
    };
    let plugin = validate(&crate::workspace().join("plugins/claude/thrum"));
    for e in ["session-start", "user-prompt-submit", "post-tool-use", "stop", "pre-compact", "wait"] {
        assert!(plugin.contains(&format!("command \"thrum hook claude {e}\"")), "{e} missing: {plugin}");
    }
    validate(&crate::workspace());
}

/// Announcements are events in the log: a restart or a rebuild of the
/// projection keeps them, so nothing is announced twice (no storm after a
/// restart), and mail never announced still is, once.
#[test]
fn announcements_survive_a_restart_and_a_rebuild() {
    let env = env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    let post = input(&env, "PostToolUse", json!({}));
    env.ok(Some("bob"), &["send", "told before the rebuild", "--to", "@alice"]);
    assert!(stdout(&hook(&env, "alice", "post-tool-use", &post)).contains("told before the rebuild"));
    env.ok(Some("bob"), &["send", "not told yet", "--to", "@alice"]);

    env.ok(None, &["daemon", "stop"]);
    for f in ["messages.db", "messages.db-wal", "messages.db-shm"] {
        let _ = std::fs::remove_file(env.thrum_dir().join("var").join(f));
    }
    env.ok(None, &["daemon", "start"]);
    let after = stdout(&hook(&env, "alice", "post-tool-use", &post));
    assert!(after.contains("not told yet") && !after.contains("told before"), "{after}");
    assert_eq!(stdout(&hook(&env, "alice", "post-tool-use", &post)), "");
    let sent: Value = env.json(Some("bob"), &["sent"]);
    for m in sent["messages"].as_array().unwrap() {
        assert_eq!(m["recipients"][0]["state"], "announced", "{m}");
        assert_eq!(m["recipients"][0]["announced_via"], "hook", "{m}");
    }
}

/// Codex runs no hook it has not been told to trust: doctor says which,
/// and how to trust them.
#[test]
fn doctor_says_when_codex_has_not_trusted_the_hooks() {
    let env = env_with(&[("alice", "implementer", "auth")]);
    env.ok(None, &["setup", "hooks", "--runtime", "codex"]);
    let trust = |d: &Doctor| {
        let c = d.checks.iter().find(|c| c.check == "hooks-trust").unwrap_or_else(|| panic!("{d:?}"));
        (c.status.clone(), c.detail.clone(), c.fix.clone().unwrap_or_default())
    };
    let (code, d) = doctor(&env);
    let (status, detail, fix) = trust(&d);
    assert_eq!((code, status.as_str()), (1, "fail"), "{d:?}");
    assert!(detail.contains("does not trust this project") && fix.contains("/hooks"), "{detail} / {fix}");
    // The project trusted, the hooks not yet.
    let root = env.repo().canonicalize().unwrap();
    std::fs::create_dir_all(env.home().join(".codex")).unwrap();
    std::fs::write(
        env.home().join(".codex/config.toml"),
        format!("[projects.\"{}\"]\ntrust_level = \"trusted\"\n", root.display()),
    )
    .unwrap();
    let (_, d) = doctor(&env);
    let (status, detail, _) = trust(&d);
    assert_eq!(status, "fail");
    assert!(detail.contains("not trusted yet") && detail.contains("Stop"), "{detail}");
}

/// Cursor runs the hooks in .claude/settings.json too: there thrum's
/// Claude hooks step aside (Cursor's own announce), and the idle waker
/// never holds up its stop.
#[test]
fn claude_hooks_step_aside_inside_cursor() {
    let env = env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    env.ok(Some("bob"), &["send", "for cursor's own hooks", "--to", "@alice"]);
    let post = input(&env, "PostToolUse", json!({}));
    for event in ["post-tool-use", "stop", "wait"] {
        let started = std::time::Instant::now();
        let mut c: Command = env.thrum(&["hook", "claude", event]);
        c.env("THRUM_NAME", "alice").env("CURSOR_TRACE_ID", "t-1").stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(post.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), ""), "{event}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{event} held up the stop");
    }
    // Outside Cursor the mail is still there to announce.
    assert!(stdout(&hook(&env, "alice", "post-tool-use", &post)).contains("for cursor's own hooks"));
}
