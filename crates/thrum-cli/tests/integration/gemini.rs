//! The real Gemini CLI, run headless (`gemini -p`) against the model
//! stand-in, with the hooks `thrum setup hooks --runtime gemini` writes.
//!
//! Gemini CLI 0.61.0 (pinned in `tests/runtimes/gemini/package.json`) is
//! pointed at `tests/runtimes/model_standin.py` (its Gemini-API mode) with
//! `GOOGLE_GEMINI_BASE_URL`, and the test reads what reached "the model".
//! The stand-in's markers script the turn, as for Codex: `[standin:tool]`
//! makes the first answer a `list_directory` call (so `AfterTool` runs) and
//! `[standin:slow]` answers each request 2 s late, a window in which the
//! test sends the next message.
//!
//! Needs `node`/`npm` and `python3` (`.ci/run` installs them).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::claude::{Standin, poll};
use crate::env_with;

/// The `gemini` launcher of the pinned release, running `npm ci` in
/// `tests/runtimes/gemini` first when it is missing or another version
/// (`node_modules/.package-lock.json`, written last, marks a finished
/// install). Once per test process.
fn gemini_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| crate::claude::npm_pinned("gemini", "@google/gemini-cli", "@google/gemini-cli", ".bin/gemini"))
        .clone()
}

/// Everything a Gemini request says to the model, one entry per part
/// (`role: text`; a tool's result as `role: tool: output`), in order.
fn said(request: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in request["body"]["contents"].as_array().into_iter().flatten() {
        let role = c["role"].as_str().unwrap_or("?");
        for p in c["parts"].as_array().into_iter().flatten() {
            if let Some(t) = p["text"].as_str() {
                out.push(format!("{role}: {t}"));
            }
            if let Some(o) = p.pointer("/functionResponse/response/output").and_then(Value::as_str) {
                out.push(format!("{role}: tool: {o}"));
            }
        }
    }
    out
}

/// The main loop's requests (the routing classifier's are not streamed).
fn main_requests(standin: &Standin) -> Vec<Value> {
    let requests = standin.requests().into_iter();
    requests.filter(|r| r["path"].as_str().is_some_and(|p| p.contains(":streamGenerateContent"))).collect()
}

#[test]
fn thrum_hooks_reach_gemini_model_once_each() {
    let env = env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    let standin = Standin::start();
    env.ok(None, &["setup", "hooks", "--runtime", "gemini"]);
    // An API key as the way in, so no login is asked for.
    let settings = env.home().join(".gemini/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, r#"{"security": {"auth": {"selectedType": "gemini-api-key"}}}"#).unwrap();
    env.ok(Some("bob"), &["send", "mail before the session", "--to", "@alice"]);

    let logs = tempfile::tempdir().unwrap();
    let file = |name: &str| std::fs::File::create(logs.path().join(name)).unwrap();
    let mut c = env.hermetic(Command::new(gemini_bin()));
    for var in ["GOOGLE_API_KEY", "GOOGLE_CLOUD_PROJECT", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_APPLICATION_CREDENTIALS"]
    {
        c.env_remove(var);
    }
    let mut gemini = c
        .current_dir(env.repo())
        .env("GEMINI_API_KEY", "standin")
        .env("GOOGLE_GEMINI_BASE_URL", standin.base_url())
        .env("GEMINI_CLI_TRUST_WORKSPACE", "true")
        .env("THRUM_NAME", "alice")
        .args(["--yolo", "-p", "[standin:tool] [standin:slow] look around"])
        .stdin(Stdio::null())
        .stdout(file("stdout"))
        .stderr(file("stderr"))
        .spawn()
        .unwrap();
    let arrived = |n: usize| poll(Duration::from_secs(90), || main_requests(&standin).len() >= n);
    let output = || {
        let read = |n: &str| std::fs::read_to_string(logs.path().join(n)).unwrap_or_default();
        format!("{}{}", read("stdout"), read("stderr"))
    };
    assert!(arrived(1), "Gemini CLI sent no model request:\n{}", output());
    env.ok(Some("bob"), &["send", "mail during the tool call", "--to", "@alice"]);
    assert!(arrived(2), "no request after the tool call:\n{}", output());
    env.ok(Some("bob"), &["send", "mail before the end", "--to", "@alice"]);
    let done = poll(Duration::from_secs(90), || gemini.try_wait().unwrap().is_some());
    if !done {
        let _ = gemini.kill();
    }
    let status = gemini.wait().unwrap();
    assert!(done && status.success(), "gemini failed ({status}):\n{}", output());

    let requests = main_requests(&standin);
    assert_eq!(requests.len(), 3, "tool call, answer, answer to the after-agent reason:\n{}", output());
    // The briefing with the waiting mail, in Gemini's <hook_context>, once.
    let first = said(&requests[0]);
    let briefing: Vec<&String> = first.iter().filter(|t| t.contains("[thrum] Session briefing (startup)")).collect();
    assert_eq!(briefing.len(), 1, "{first:#?}");
    assert!(briefing[0].starts_with("user: <hook_context>[thrum] Session briefing"), "{}", briefing[0]);
    assert!(briefing[0].contains("mail before the session"), "{}", briefing[0]);
    assert_eq!(first.iter().filter(|t| t.contains("[thrum] 1 new message")).count(), 1, "{first:#?}");
    // The mail that came during the tool call, appended to its result.
    let second = said(&requests[1]);
    let after_tool: Vec<&String> = second.iter().filter(|t| t.contains("mail during the tool call")).collect();
    assert_eq!(after_tool.len(), 1, "{second:#?}");
    assert!(
        after_tool[0].starts_with("user: tool: ") && after_tool[0].contains("<hook_context>[thrum] 1 new"),
        "{}",
        after_tool[0]
    );
    // The last mail as the next prompt, once; the retry ended the run.
    let third = said(&requests[2]);
    let last: Vec<&String> = third.iter().filter(|t| t.contains("mail before the end")).collect();
    assert_eq!(last.len(), 1, "{third:#?}");
    assert!(last[0].starts_with("user: [thrum] 1 new message for @alice from @bob (1)"), "{}", last[0]);
    let sent: Value = env.json(Some("bob"), &["sent"]);
    for m in sent["messages"].as_array().unwrap() {
        assert_eq!(m["recipients"][0]["state"], "announced", "{m}");
    }
    for ev in ["session-start", "before-agent", "after-tool", "after-agent"] {
        assert!(env.thrum_dir().join(format!("var/hook-runs/gemini.{ev}")).is_file(), "{ev} never ran");
    }
}
