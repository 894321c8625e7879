//! `thrum tmux restart` and `thrum tmux snapshot`, end to end: the daemon
//! creates a managed session on a private tmux server, launches the real
//! pinned Claude Code in it (against the model stand-in), and restarts it
//! with the conversation carried in a snapshot, which the relaunched
//! session's first model request must contain.
//!
//! How the daemon's `claude` becomes the pinned one: the daemon launches a
//! runtime by typing its binary's name into the pane's login shell, whose
//! `/etc/profile` resets PATH. So the test's HOME gets a `.profile` that
//! puts a folder first on PATH holding a `claude` script, which execs the
//! pinned binary with the stand-in's environment. Nothing in thrum knows
//! it is being tested.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};
use thrum_testkit::TestEnv;

use crate::BIN;
use crate::claude::{Standin, claude_bin, kill_tmux_tree, poll, request_text, require};

const API_KEY: &str = "sk-ant-thrum-test-standin-0123456789abcdefghij";

/// A repository whose daemon runs its tmux sessions on a private server,
/// with the pinned Claude Code as `claude` and thrum's Claude hooks.
pub(crate) struct Rig {
    pub(crate) env: TestEnv,
    socket: String,
    pub(crate) standin: Standin,
    _bin: tempfile::TempDir,
}

impl Rig {
    fn new(graceful_timeout: Option<u64>) -> Rig {
        Rig::with(graceful_timeout, true)
    }

    /// With `hooks`, thrum's Claude Code hooks are installed (the idle
    /// waker among them); without, only the tmux doorbell can tell an idle
    /// Claude Code about mail.
    pub(crate) fn with(graceful_timeout: Option<u64>, hooks: bool) -> Rig {
        require("tmux", "apt-get install -y tmux");
        let claude = claude_bin();
        let env = TestEnv::new(BIN);
        let standin = Standin::start();
        let bin = tempfile::tempdir().unwrap();
        let script = format!(
            "#!/bin/sh\nexport ANTHROPIC_BASE_URL={} ANTHROPIC_API_KEY={API_KEY} DISABLE_AUTOUPDATER=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1\nexec {} \"$@\"\n",
            standin.base_url(),
            claude.display()
        );
        let wrapper = bin.path().join("claude");
        std::fs::write(&wrapper, script).unwrap();
        std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::write(env.home().join(".profile"), format!("PATH=\"{}:$PATH\"\nexport PATH\n", bin.path().display()))
            .unwrap();
        let repo = env.repo().canonicalize().unwrap();
        let state = json!({
            "hasCompletedOnboarding": true,
            "customApiKeyResponses": { "approved": [&API_KEY[API_KEY.len() - 20..]], "rejected": [] },
            "projects": { repo.to_str().unwrap(): { "hasTrustDialogAccepted": true } },
        });
        std::fs::write(env.home().join(".claude.json"), serde_json::to_vec_pretty(&state).unwrap()).unwrap();
        let socket = env.tmux_socket();
        let rig = Rig { env, socket, standin, _bin: bin };
        rig.ok(&["init"]);
        // The tmux methods take a registered caller: the coordinator
        // (no agent PID, so inside the pane alice is found by ancestry).
        rig.ok(&["quickstart", "--name", "coord", "--role", "coordinator", "--module", "all", "--no-agent-pid"]);
        if let Some(t) = graceful_timeout {
            let path = rig.env.thrum_dir().join("config.json");
            let mut config: Value = crate::claude::read_json(&path).unwrap_or_else(|| json!({}));
            config["restart"] = json!({ "graceful_timeout": t });
            std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
            let shown = rig.ok(&["config", "show", "--json"]);
            assert!(shown.contains("restart.graceful_timeout"), "{shown}");
        }
        if hooks {
            rig.ok(&["setup", "hooks", "--runtime", "claude"]);
        }
        rig
    }

    /// A thrum command as the coordinator (on the environment's own tmux
    /// server, which the daemon it may start inherits).
    pub(crate) fn thrum(&self, args: &[&str]) -> Command {
        let mut c = self.env.thrum(args);
        c.env("SHELL", "/bin/sh").env("THRUM_NAME", "coord");
        c
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.thrum(args).output().unwrap()
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "thrum {args:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub(crate) fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-L", &self.socket]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub(crate) fn screen(&self, session: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", session])
    }

    /// Claude Code shows its prompt and is idle (its title starts with ✳).
    pub(crate) fn wait_ready(&self, session: &str) {
        let ready = poll(Duration::from_secs(45), || {
            self.screen(session).contains('❯')
                && self.tmux(&["display-message", "-p", "-t", session, "#{pane_title}"]).starts_with('✳')
        });
        assert!(ready, "Claude Code did not become ready in {session}:\n{}", self.screen(session));
    }

    /// Types a prompt and waits for the stand-in's answer ("Done.") on
    /// screen: the title alone may not have left idle yet.
    pub(crate) fn prompt(&self, session: &str, text: &str) {
        let before = self.standin.main_requests().len();
        let answers = || self.screen(session).matches("● Done.").count();
        let answered = answers();
        self.tmux(&["send-keys", "-t", session, "-l", text]);
        let start: String = text.chars().take(30).collect();
        assert!(poll(Duration::from_secs(10), || self.screen(session).contains(&start)), "{}", self.screen(session));
        self.tmux(&["send-keys", "-t", session, "Enter"]);
        assert!(
            self.standin.wait_for_main_requests(before + 1, Duration::from_secs(45)),
            "no model request after {text:?}:\n{}",
            self.screen(session)
        );
        assert!(poll(Duration::from_secs(30), || answers() > answered), "no answer shown:\n{}", self.screen(session));
        self.wait_ready(session);
    }

    fn pane_pid(&self, session: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", session, "#{pane_pid}"]).trim().to_string()
    }

    /// A session with alice registered and Claude Code running in it.
    pub(crate) fn launched(&self, session: &str) {
        let repo = self.env.repo();
        self.ok(&[
            "tmux",
            "create",
            session,
            "--cwd",
            repo.to_str().unwrap(),
            "--name",
            "alice",
            "--role",
            "implementer",
            "--module",
            "auth",
        ]);
        self.ok(&["tmux", "launch", session]);
        self.wait_ready(session);
    }

    fn restart_dir(&self) -> PathBuf {
        self.env.thrum_dir().join("restart")
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let server = self.tmux(&["display-message", "-p", "#{pid} #{socket_path}"]);
        let (pid, path) = server.trim().split_once(' ').unwrap_or(("0", ""));
        kill_tmux_tree(&self.socket, Path::new(path), pid.parse().unwrap_or(0));
    }
}

fn nonce() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{}{nanos}", std::process::id())
}

/// The main-loop requests from index `from` on, as text.
fn texts_from(standin: &Standin, from: usize) -> Vec<String> {
    standin.main_requests().iter().skip(from).map(request_text).collect()
}

#[test]
fn restart_force_carries_the_conversation_into_the_relaunched_claude_code() {
    let rig = Rig::new(None);
    rig.launched("r1");
    let word = format!("pelican{}", nonce());
    rig.prompt("r1", &format!("Remember the codeword {word} for the rate limiter work."));
    rig.prompt("r1", "Now plan the Redis backend for distributed limiting.");
    let old_pid = rig.pane_pid("r1");

    let before = rig.standin.main_requests().len();

    let out = rig.run(&["tmux", "restart", "r1", "--force", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((r["session"].as_str(), r["snapshot_source"].as_str()), (Some("r1"), Some("transcript")), "{r}");
    let snap = std::fs::read_to_string(rig.restart_dir().join("alice.md"))
        .or_else(|_| std::fs::read_to_string(rig.restart_dir().join("consumed/alice.md")))
        .unwrap_or_default();
    assert!(r["snapshot_lines"].as_i64().unwrap() >= 8, "{r}\n{snap}");
    assert_ne!(rig.pane_pid("r1"), old_pid, "the session was not recreated");
    rig.wait_ready("r1");

    // The relaunched session's SessionStart hook primes it with the
    // snapshot, which is then consumed (kept aside in consumed/).
    rig.prompt("r1", "Carry on where you stopped.");
    let first = texts_from(&rig.standin, before).into_iter().next().unwrap();
    for expected in ["ACTION REQUIRED — this is YOUR message-to-self", "# Restart Snapshot — alice", "=== USER ==="]
    {
        assert!(first.contains(expected), "{expected:?} is not in the relaunched session's first request:\n{first}");
    }
    assert!(first.contains(&format!("Remember the codeword {word}")), "{first}");
    assert!(first.contains("Now plan the Redis backend") && first.contains("=== ASSISTANT ===\nDone."), "{first}");
    assert!(!rig.restart_dir().join("alice.md").exists(), "the snapshot was not consumed");
    let kept = std::fs::read_to_string(rig.restart_dir().join("consumed/alice.md")).unwrap();
    assert!(kept.contains("**Reason:** external") && kept.contains(&word), "{kept}");
    let check = rig.thrum(&["tmux", "snapshot", "check"]).env("THRUM_NAME", "alice").status().unwrap();
    assert_eq!(check.code(), Some(1));

    let status: Value = serde_json::from_str(&rig.ok(&["tmux", "status", "--json"])).unwrap();
    let s = &status["sessions"][0];
    assert_eq!(
        (s["state"].as_str(), s["runtime"].as_str(), s["agent"].as_str()),
        (Some("alive"), Some("claude"), Some("alice"))
    );
}

#[test]
fn restart_falls_back_to_the_transcript_when_the_agent_does_not_save() {
    let rig = Rig::new(Some(2));
    rig.launched("r2");
    let word = format!("heron{}", nonce());
    rig.prompt("r2", &format!("Keep the codeword {word} in mind while you work."));
    let before = rig.standin.main_requests().len();

    let started = std::time::Instant::now();
    let out = rig.run(&["tmux", "restart", "r2", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(started.elapsed() >= Duration::from_secs(2), "it did not wait for the agent");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["snapshot_source"], "transcript", "{r}");
    // The agent was asked (its idle waker brought the request to the
    // model, which answered "Done." and saved nothing).
    let asked =
        texts_from(&rig.standin, before).iter().any(|t| t.contains("thrum tmux snapshot save --reason external"));
    assert!(asked, "the @system request never reached the agent's model");
    rig.wait_ready("r2");
    let n = rig.standin.main_requests().len();
    rig.prompt("r2", "Carry on where you stopped.");
    let first = texts_from(&rig.standin, n).into_iter().next().unwrap();
    assert!(first.contains("# Restart Snapshot — alice") && first.contains(&word), "{first}");
}

#[test]
fn snapshot_commands_exit_codes_and_errors() {
    let env = crate::env_with(&[("alice", "implementer", "auth")]);
    let run = |args: &[&str]| env.run_as(Some("alice"), args);
    // Nothing saved yet.
    assert_eq!(run(&["tmux", "snapshot", "check"]).status.code(), Some(1));
    let o = run(&["tmux", "snapshot", "restore"]);
    assert_eq!((o.status.code(), o.stdout.is_empty()), (Some(1), true));
    assert!(String::from_utf8_lossy(&o.stderr).contains("No restart snapshot for @alice"));
    // No transcript: the error names where it looked and the fix.
    let o = run(&["tmux", "snapshot", "save"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0));
    assert!(err.contains("no transcript of @alice's conversation") && err.contains("thrum setup hooks"), "{err}");
    let o = run(&["tmux", "snapshot", "save", "--reason", "bored"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("self-initiated, external or context-threshold"));

    // A transcript where Claude Code keeps it for this worktree.
    let repo = env.repo().canonicalize().unwrap();
    let dir: String = repo.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let project = env.home().join(".claude/projects").join(dir);
    std::fs::create_dir_all(&project).unwrap();
    let fixture = crate::workspace().join("tests/transcripts/claude-code-2.1.328.jsonl");
    std::fs::copy(fixture, project.join("0e5ba795.jsonl")).unwrap();
    let saved: Value = serde_json::from_str(&String::from_utf8_lossy(
        &run(&["tmux", "snapshot", "save", "--reason", "context-threshold", "--json"]).stdout,
    ))
    .unwrap();
    assert!(saved["lines"].as_u64().unwrap() > 5, "{saved}");
    assert_eq!(run(&["tmux", "snapshot", "check"]).status.code(), Some(0));
    assert!(run(&["tmux", "snapshot", "check"]).stdout.is_empty());
    let o = run(&["tmux", "snapshot", "restore"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0));
    assert!(text.starts_with("# Restart Snapshot — alice\n\n**Session:** 0e5ba795 "), "{text}");
    assert!(text.contains("**Reason:** context-threshold") && text.contains("Implement the rate limiter"), "{text}");
    assert_eq!(run(&["tmux", "snapshot", "check"]).status.code(), Some(1), "restore deletes it");

    // No identity at all: a clear error.
    let bare = TestEnv::new(BIN);
    bare.ok(None, &["init"]);
    let (code, err) = bare.fail(None, &["tmux", "snapshot", "save"]);
    assert_ne!(code, 0);
    assert!(err.contains("a restart snapshot belongs to an agent") && err.contains("thrum quickstart"), "{err}");
}
