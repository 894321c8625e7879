//! The real Codex CLI, run with `codex exec` against the model stand-in, with
//! the hooks `thrum setup hooks --runtime codex` writes.
//!
//! What is checked is what reaches "the model": Codex 0.169.0 (pinned in
//! `tests/runtimes/codex/package.json`) is pointed at
//! `tests/runtimes/model_standin.py` (its Responses-API mode) through a
//! `[model_providers.standin]` table in a private `CODEX_HOME`, and the test
//! reads the requests the stand-in logged. The stand-in's markers script the
//! turn: `[standin:tool]` makes the first answer an `exec_command` call (so
//! `PostToolUse` runs) and `[standin:slow]` answers each request 2 s late, a
//! window in which the test sends the next message.
//!
//! Needs `node`/`npm` and `python3` (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use thrum_testkit::TestEnv;

use crate::claude::{Standin, poll};
use crate::env_with;

/// The `codex` launcher of the pinned release (it runs the platform
/// package's native binary), running `npm ci` in `tests/runtimes/codex`
/// first when it is missing or another version. npm writes
/// `node_modules/.package-lock.json` last: it marks a finished install.
/// Once per test process.
fn codex_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::claude::npm_pinned("codex", "@openai/codex", "@openai/codex", ".bin/codex")).clone()
}

/// A private Codex home whose model is the stand-in and which trusts the
/// project at `repo` (Codex reads a project's `.codex/hooks.json` only then).
struct CodexHome {
    dir: tempfile::TempDir,
}

impl CodexHome {
    fn new(standin: &Standin, repo: &Path) -> CodexHome {
        let dir = tempfile::tempdir().unwrap();
        let repo = repo.canonicalize().unwrap().display().to_string();
        let config = format!(
            "model = \"gpt-5\"\nmodel_provider = \"standin\"\n\n\
             [model_providers.standin]\nname = \"standin\"\nbase_url = \"{}/v1\"\nwire_api = \"responses\"\nenv_key = \"STANDIN_API_KEY\"\n\n\
             [projects.{}]\ntrust_level = \"trusted\"\n",
            standin.base_url(),
            serde_json::to_string(&repo).unwrap(),
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        CodexHome { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Records Codex's trust for every hook it lists in `repo`, as `/hooks`
    /// would: the hash `codex app-server` reports (`hooks/list`), under
    /// `[hooks.state."KEY"]` in config.toml.
    fn trust_all_hooks(&self, env: &TestEnv) {
        let listed = app_server(env, self, &[json!({"method": "hooks/list", "params": {"cwds": [env.repo()]}})]);
        let hooks = listed[0]["result"]["data"][0]["hooks"].as_array().cloned().unwrap_or_default();
        assert!(!hooks.is_empty(), "Codex lists no hooks: {listed:?}");
        let mut config = std::fs::read_to_string(self.path().join("config.toml")).unwrap();
        for h in hooks {
            assert_eq!(h["trustStatus"], "untrusted", "{h}");
            let key = serde_json::to_string(h["key"].as_str().unwrap()).unwrap();
            config.push_str(&format!("\n[hooks.state.{key}]\ntrusted_hash = {}\n", h["currentHash"]));
        }
        std::fs::write(self.path().join("config.toml"), config).unwrap();
    }
}

/// The environment Codex runs in: the test's HOME and PATH, its own
/// CODEX_HOME, the stand-in's key, and `agent` as the thrum identity (the
/// hooks inherit it).
fn codex_command(env: &TestEnv, home: &CodexHome, agent: &str) -> Command {
    let mut c = env.hermetic(Command::new(codex_bin()));
    c.current_dir(env.repo())
        .env("CODEX_HOME", home.path())
        .env("STANDIN_API_KEY", "standin")
        .env("THRUM_NAME", agent)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL");
    c
}

/// A running `codex exec`, its output going to files.
struct Exec {
    child: Child,
    out: tempfile::TempDir,
}

/// `codex exec` with `prompt`, started (not awaited).
fn codex_exec(env: &TestEnv, home: &CodexHome, prompt: &str, bypass_trust: bool) -> Exec {
    let out = tempfile::tempdir().unwrap();
    let mut c = codex_command(env, home, "alice");
    c.args(["exec", "--skip-git-repo-check"]);
    if bypass_trust {
        c.arg("--dangerously-bypass-hook-trust");
    }
    let file = |name: &str| std::fs::File::create(out.path().join(name)).unwrap();
    let child = c.arg(prompt).stdin(Stdio::null()).stdout(file("stdout")).stderr(file("stderr")).spawn().unwrap();
    Exec { child, out }
}

/// Waits for a `codex exec` to finish (killing it after 120 s) and returns
/// its output, asserting it succeeded.
fn finish(mut exec: Exec) -> String {
    let done = poll(Duration::from_secs(120), || exec.child.try_wait().unwrap().is_some());
    if !done {
        let _ = exec.child.kill();
    }
    let status = exec.child.wait().unwrap();
    let read = |name: &str| std::fs::read_to_string(exec.out.path().join(name)).unwrap_or_default();
    let text = format!("{}{}", read("stdout"), read("stderr"));
    assert!(done && status.success(), "codex exec failed ({status}):\n{text}");
    text
}

/// Sends JSON-RPC requests to `codex app-server` (after its handshake) and
/// returns their answers, in order.
fn app_server(env: &TestEnv, home: &CodexHome, requests: &[Value]) -> Vec<Value> {
    use std::io::{BufRead as _, Write as _};
    let mut child = codex_command(env, home, "alice")
        .arg("app-server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = |v: Value| writeln!(stdin, "{v}").unwrap();
    send(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"clientInfo": {"name": "thrum-test", "version": "0"}}}),
    );
    send(json!({"jsonrpc": "2.0", "method": "initialized"}));
    for (i, r) in requests.iter().enumerate() {
        let mut r = r.clone();
        r["jsonrpc"] = json!("2.0");
        r["id"] = json!(i + 1);
        send(r);
    }
    let mut answers = vec![Value::Null; requests.len()];
    let mut left = requests.len();
    while left > 0 {
        let Some(Ok(line)) = lines.next() else { break };
        let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
        if let Some(i) = v["id"].as_u64().filter(|i| (1..=requests.len() as u64).contains(i)) {
            answers[i as usize - 1] = v;
            left -= 1;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    answers
}

/// Everything a Responses-API request says to the model, one text per input
/// message (`role: text`), in order.
fn said(request: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for item in request["body"]["input"].as_array().into_iter().flatten() {
        let role = item["role"].as_str().unwrap_or(item["type"].as_str().unwrap_or("?"));
        for part in item["content"].as_array().into_iter().flatten() {
            if let Some(t) = part["text"].as_str() {
                out.push(format!("{role}: {t}"));
            }
        }
    }
    out
}

fn main_requests(standin: &Standin) -> Vec<Value> {
    standin.requests().into_iter().filter(|r| r["path"] == "/v1/responses").collect()
}

#[test]
fn thrum_hooks_reach_codex_model_once_each() {
    let env = env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    let standin = Standin::start();
    let home = CodexHome::new(&standin, &env.repo());
    env.ok(None, &["setup", "hooks", "--runtime", "codex"]);
    env.ok(Some("bob"), &["send", "mail before the session", "--to", "@alice"]);

    // One turn: a tool call, then an answer; each answer 2 s late, so mail
    // sent meanwhile lands between two of Codex's steps.
    let codex = codex_exec(&env, &home, "[standin:tool] [standin:slow] check the schema", true);
    let arrived = |n: usize| poll(Duration::from_secs(60), || main_requests(&standin).len() >= n);
    assert!(arrived(1), "Codex sent no model request");
    env.ok(Some("bob"), &["send", "mail during the tool call", "--to", "@alice"]);
    assert!(arrived(2), "no request after the tool call");
    env.ok(Some("bob"), &["send", "mail before the stop", "--to", "@alice"]);
    let output = finish(codex);

    let requests = main_requests(&standin);
    assert_eq!(requests.len(), 3, "tool call, answer, answer to the stop hook's reason:\n{output}");
    let first = said(&requests[0]);
    // The session start briefing, as a developer message, with the mail that
    // was waiting; the prompt hook had nothing more to say.
    let briefing: Vec<&String> = first.iter().filter(|t| t.contains("[thrum] Session briefing (startup)")).collect();
    assert_eq!(briefing.len(), 1, "{first:#?}");
    assert!(
        briefing[0].starts_with("developer: ") && briefing[0].contains("mail before the session"),
        "{}",
        briefing[0]
    );
    assert_eq!(first.iter().filter(|t| t.contains("[thrum] 1 new message")).count(), 1, "{first:#?}");
    // After the tool: the mail that came during it, once.
    let second = said(&requests[1]);
    let after_tool: Vec<&String> = second.iter().filter(|t| t.contains("mail during the tool call")).collect();
    assert_eq!(after_tool.len(), 1, "{second:#?}");
    assert!(after_tool[0].starts_with("developer: [thrum] 1 new message for @alice from @bob"), "{}", after_tool[0]);
    assert!(!second.iter().any(|t| t.contains("mail before the stop")), "announced before it was sent?");
    // The stop hook blocked once with the last mail as the next prompt,
    // and let Codex stop after that (stop_hook_active).
    let third = said(&requests[2]);
    let at_stop: Vec<&String> = third.iter().filter(|t| t.contains("mail before the stop")).collect();
    assert_eq!(at_stop.len(), 1, "{third:#?}");
    // Codex wraps it: `<hook_prompt hook_run_id="stop:…">…</hook_prompt>`.
    assert!(at_stop[0].starts_with("user: <hook_prompt "), "{}", at_stop[0]);
    assert!(at_stop[0].contains(">[thrum] 1 new message for @alice from @bob (1)"), "{}", at_stop[0]);
    // Every message was announced exactly once and nothing is left.
    let sent: Value = env.json(Some("bob"), &["sent"]);
    for m in sent["messages"].as_array().unwrap() {
        assert_eq!(m["recipients"][0]["state"], "announced", "{m}");
    }
    for ev in ["session-start", "user-prompt-submit", "post-tool-use", "stop"] {
        assert!(env.thrum_dir().join(format!("var/hook-runs/codex.{ev}")).is_file(), "{ev} never ran");
    }
}

#[test]
fn codex_runs_thrum_hooks_only_once_trusted_and_thrum_can_tell() {
    let env = env_with(&[("alice", "implementer", "auth")]);
    let standin = Standin::start();
    let home = CodexHome::new(&standin, &env.repo());
    let said_setup = env.ok(None, &["setup", "hooks", "--runtime", "codex"]);
    assert!(said_setup.contains("/hooks"), "{said_setup}");
    let trust = |h: &CodexHome| thrum_cli::commands::hook::codex::trust(&env.repo(), h.path()).unwrap();
    let before = trust(&home);
    assert!(before.project_trusted);
    assert_eq!(before.pending().len(), 4, "{before:?}");

    // Untrusted: Codex skips thrum's hooks silently.
    finish(codex_exec(&env, &home, "hello", false));
    let first = said(&main_requests(&standin)[0]);
    assert!(!first.iter().any(|t| t.contains("[thrum]")), "an untrusted hook ran: {first:#?}");
    assert!(!env.thrum_dir().join("var/hook-runs/codex.session-start").exists());

    // Trusted the way /hooks records it: they run, and thrum sees the trust
    // under the keys it computed.
    home.trust_all_hooks(&env);
    let after = trust(&home);
    assert!(after.pending().is_empty(), "{after:?}");
    finish(codex_exec(&env, &home, "hello again", false));
    let second = said(main_requests(&standin).last().unwrap());
    assert!(second.iter().any(|t| t.starts_with("developer: [thrum] Session briefing")), "{second:#?}");
    let told = env.thrum(&["setup", "hooks", "--runtime", "codex"]).env("CODEX_HOME", home.path()).output().unwrap();
    let told = String::from_utf8_lossy(&told.stdout);
    assert!(told.contains("trust recorded for all 4"), "{told}");
}
