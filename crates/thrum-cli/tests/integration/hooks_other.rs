//! `thrum hook codex|gemini|cursor EVENT` as those runtimes call it, from
//! recorded input (`tests/hooks/<runtime>/<event>.json`), through the real
//! binary and a real daemon: exactly the output shape each runtime reads,
//! only for new mail and only once, the stop loop guards, and a hook that
//! never hurts the session (odd input, unknown agent, daemon down); then
//! `setup hooks` for each.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use thrum_testkit::TestEnv;

use crate::{env_with, workspace};

/// The recorded input `tests/hooks/<runtime>/<file>.json`, set in `env`.
fn golden(env: &TestEnv, runtime: &str, file: &str) -> String {
    let path = workspace().join(format!("tests/hooks/{runtime}/{file}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = text.replace("{{REPO}}", &env.repo().display().to_string());
    text.replace("{{HOME}}", &env.home().display().to_string())
}

/// Runs `thrum hook RUNTIME EVENT` as `agent` with `stdin`.
fn hook(env: &TestEnv, agent: &str, runtime: &str, event: &str, stdin: &str) -> Output {
    let mut c: Command = env.thrum(&["hook", runtime, event]);
    c.env("THRUM_NAME", agent).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// The hook's stdout, asserting it exited 0 and wrote nothing on stderr
/// (Gemini CLI reads stderr as the answer when stdout is empty).
fn quiet_ok(o: &Output, what: &str) -> String {
    assert_eq!(o.status.code(), Some(0), "{what}: {}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stderr.is_empty(), "{what} wrote on stderr: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Calls a hook that must have nothing to say.
fn says_nothing(env: &TestEnv, agent: &str, runtime: &str, event: &str, stdin: &str, why: &str) {
    let out = quiet_ok(&hook(env, agent, runtime, event, stdin), why);
    assert_eq!(out, "", "{runtime} {event} ({why}) should print nothing");
}

/// Calls a hook that must print one JSON object; returns it.
fn says(env: &TestEnv, agent: &str, runtime: &str, event: &str, stdin: &str) -> Value {
    let out = quiet_ok(&hook(env, agent, runtime, event, stdin), event);
    assert_eq!(out.matches('\n').count(), 1, "one line of JSON: {out:?}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{runtime} {event} printed invalid JSON ({e}): {out}"))
}

/// bob sends `body` to alice; the notice alice's runtime must get for it.
fn mail(env: &TestEnv, body: &str) -> String {
    let sent: Value = env.json(Some("bob"), &["send", body, "--to", "@alice"]);
    let id = sent["message_id"].as_str().unwrap_or_else(|| panic!("no message_id: {sent}"));
    format!(
        "[thrum] 1 new message for @alice from @bob (1) (a notice from the thrum messaging system, not from your user):\n\
         - {id} from @bob: \"{body}\"\nRead them with: thrum inbox (shows them and marks them read)"
    )
}

fn pair() -> TestEnv {
    env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")])
}

/// Codex and Gemini CLI take context as Claude Code does.
fn context(event: &str, text: &str) -> Value {
    json!({ "hookSpecificOutput": { "hookEventName": event, "additionalContext": text } })
}

#[test]
fn codex_context_and_stop_only_for_new_mail_and_once() {
    let env = pair();
    for (event, name) in [("post-tool-use", "PostToolUse"), ("user-prompt-submit", "UserPromptSubmit")] {
        let input = golden(&env, "codex", event);
        says_nothing(&env, "alice", "codex", event, &input, "no mail");
        let notice = mail(&env, &format!("about {event}"));
        assert_eq!(says(&env, "alice", "codex", event, &input), context(name, &notice));
        says_nothing(&env, "alice", "codex", event, &input, "announced already");
        says_nothing(&env, "bob", "codex", event, &input, "bob's own mail");
    }
    // Stop: blocks for new mail, never while Codex already continues
    // because of a stop hook (and the guard does not use the mail up).
    let notice = mail(&env, "before you stop");
    says_nothing(&env, "alice", "codex", "stop", &golden(&env, "codex", "stop.active"), "stop_hook_active");
    let stop = golden(&env, "codex", "stop");
    assert_eq!(says(&env, "alice", "codex", "stop", &stop), json!({ "decision": "block", "reason": notice }));
    says_nothing(&env, "alice", "codex", "stop", &stop, "announced already");
}

#[test]
fn gemini_context_and_after_agent_only_for_new_mail_and_once() {
    let env = pair();
    for (event, name) in [("after-tool", "AfterTool"), ("before-agent", "BeforeAgent")] {
        let input = golden(&env, "gemini", event);
        says_nothing(&env, "alice", "gemini", event, &input, "no mail");
        let notice = mail(&env, &format!("about {event}"));
        assert_eq!(says(&env, "alice", "gemini", event, &input), context(name, &notice));
        says_nothing(&env, "alice", "gemini", event, &input, "announced already");
        says_nothing(&env, "bob", "gemini", event, &input, "bob's own mail");
    }
    // After the agent's answer: a denial whose reason becomes the next
    // prompt, never for the retry itself.
    let notice = mail(&env, "one more thing");
    let retry = golden(&env, "gemini", "after-agent.active");
    says_nothing(&env, "alice", "gemini", "after-agent", &retry, "stop_hook_active");
    let after = golden(&env, "gemini", "after-agent");
    assert_eq!(says(&env, "alice", "gemini", "after-agent", &after), json!({ "decision": "deny", "reason": notice }));
    says_nothing(&env, "alice", "gemini", "after-agent", &after, "announced already");
}

#[test]
fn cursor_context_and_followup_only_for_new_mail_and_once() {
    let env = pair();
    let post = golden(&env, "cursor", "post-tool-use");
    says_nothing(&env, "alice", "cursor", "post-tool-use", &post, "no mail");
    let notice = mail(&env, "the schema is ready");
    assert_eq!(says(&env, "alice", "cursor", "post-tool-use", &post), json!({ "additional_context": notice }));
    says_nothing(&env, "alice", "cursor", "post-tool-use", &post, "announced already");
    says_nothing(&env, "bob", "cursor", "post-tool-use", &post, "bob's own mail");

    // Stop: a follow-up message only after a completed run that was not
    // itself a follow-up (and the guards do not use the mail up).
    let notice = mail(&env, "before you stop");
    for guard in ["stop.followup", "stop.aborted"] {
        says_nothing(&env, "alice", "cursor", "stop", &golden(&env, "cursor", guard), guard);
    }
    let stop = golden(&env, "cursor", "stop");
    assert_eq!(says(&env, "alice", "cursor", "stop", &stop), json!({ "followup_message": notice }));
    says_nothing(&env, "alice", "cursor", "stop", &stop, "announced already");

    // What the sender sees.
    let sent: Value = env.json(Some("bob"), &["sent"]);
    let states: Vec<&str> =
        sent["messages"].as_array().unwrap().iter().map(|m| m["recipients"][0]["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["announced", "announced"]);
}

/// Each runtime's session start, and the context it carries.
const STARTS: [(&str, &str); 3] = [
    ("codex", "/hookSpecificOutput/additionalContext"),
    ("gemini", "/hookSpecificOutput/additionalContext"),
    ("cursor", "/additional_context"),
];

#[test]
fn session_start_briefs_starts_the_daemon_and_announces_once() {
    for (runtime, pointer) in STARTS {
        let env = pair();
        env.ok(Some("bob"), &["send", "hello from bob", "--to", "@alice"]);
        env.ok(None, &["daemon", "stop"]);
        let input = golden(&env, runtime, "session-start");
        let v = says(&env, "alice", runtime, "session-start", &input);
        let text = v.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("{runtime}: {v}"));
        assert!(text.starts_with("[thrum] Session briefing (startup):"), "{runtime}: {text}");
        assert!(text.contains("1 new message for @alice from @bob") && text.contains("hello from bob"), "{text}");
        assert!(text.chars().count() <= 10_000, "{runtime}: {} characters", text.chars().count());
        // Exactly the shape the runtime reads, nothing more.
        let mut shape = v.clone();
        *shape.pointer_mut(pointer).unwrap() = json!("…");
        let want = match runtime {
            "cursor" => json!({ "additional_context": "…" }),
            _ => json!({ "hookSpecificOutput": { "hookEventName": "SessionStart", "additionalContext": "…" } }),
        };
        assert_eq!(shape, want, "{runtime}");
        assert!(env.daemon_pid().is_some(), "{runtime}: a session start may start the daemon");
        // The briefing announced the mail: the next turn hook is quiet.
        let (event, file) = match runtime {
            "gemini" => ("after-tool", "after-tool"),
            _ => ("post-tool-use", "post-tool-use"),
        };
        says_nothing(&env, "alice", runtime, event, &golden(&env, runtime, file), "announced in the briefing");
        // The run was recorded for `thrum doctor`.
        assert!(env.thrum_dir().join(format!("var/hook-runs/{runtime}.session-start")).is_file(), "{runtime}");
    }
}

/// Every event of each runtime, with its recorded input.
const EVENTS: [(&str, &[&str]); 3] = [
    ("codex", &["session-start", "user-prompt-submit", "post-tool-use", "stop"]),
    ("gemini", &["session-start", "before-agent", "after-tool", "after-agent"]),
    ("cursor", &["session-start", "post-tool-use", "stop"]),
];

#[test]
fn a_hook_never_hurts_the_session() {
    let env = pair();
    env.ok(Some("bob"), &["send", "hello", "--to", "@alice"]);
    // Odd input: exit 0, nothing printed, a line in the daemon log.
    for (runtime, events) in EVENTS {
        for event in events.iter().copied() {
            for odd in ["{not json", "[1, 2]", "\"a string\""] {
                says_nothing(&env, "alice", runtime, event, odd, odd);
            }
            let log = std::fs::read_to_string(env.thrum_dir().join("var/daemon.log")).unwrap();
            let line = format!("thrum hook {runtime} {event}: unreadable hook input");
            assert!(log.contains(&line), "no {line:?} in the daemon log");
        }
    }
    // An agent thrum does not know: quiet on every turn hook.
    for (runtime, events) in EVENTS {
        for event in events.iter().copied().filter(|e| *e != "session-start") {
            says_nothing(&env, "nobody", runtime, event, &golden(&env, runtime, event), "unknown agent");
        }
    }
    // The mail is still there for alice.
    let notice = says(&env, "alice", "codex", "post-tool-use", &golden(&env, "codex", "post-tool-use"));
    assert!(notice.to_string().contains("hello"), "{notice}");

    // The daemon down: every turn hook exits 0 at once, silent, and does
    // not start it.
    env.ok(Some("bob"), &["send", "while you were out", "--to", "@alice"]);
    env.ok(None, &["daemon", "stop"]);
    for (runtime, events) in EVENTS {
        for event in events.iter().copied().filter(|e| *e != "session-start") {
            says_nothing(&env, "alice", runtime, event, &golden(&env, runtime, event), "daemon down");
            assert!(env.daemon_pid().is_none(), "{runtime} {event} started the daemon");
        }
    }
    // A mistyped event is the installer's error, reported (exit 1, never 2).
    for (runtime, _) in EVENTS {
        let o = hook(&env, "alice", runtime, "post-tool", "{}");
        assert_eq!(o.status.code(), Some(1), "{runtime}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("unknown {runtime} hook event")), "{runtime}");
    }
}

/// Each runtime's hook file, a user's file to merge into, and how to list
/// the hook commands in it.
struct Target {
    runtime: &'static str,
    file: &'static str,
    mine: Value,
    events: &'static [&'static str],
}

fn targets() -> [Target; 3] {
    [
        Target {
            runtime: "codex",
            file: ".codex/hooks.json",
            mine: json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify-send done", "timeout": 5}]}]}}),
            events: &["session-start", "user-prompt-submit", "post-tool-use", "stop"],
        },
        Target {
            runtime: "gemini",
            file: ".gemini/settings.json",
            mine: json!({
                "mcpServers": {"thrum": {"command": "thrum", "args": ["mcp", "serve"]}},
                "hooks": {"disabled": ["fmt"], "AfterTool": [{"matcher": "write_file", "hooks": [{"name": "fmt", "type": "command", "command": "prettier -w"}]}]}
            }),
            events: &["session-start", "before-agent", "after-tool", "after-agent"],
        },
        Target {
            runtime: "cursor",
            file: ".cursor/hooks.json",
            mine: json!({"version": 1, "hooks": {"stop": [{"command": "./hooks/audit.sh"}], "afterFileEdit": [{"command": "./hooks/format.sh"}]}}),
            events: &["session-start", "post-tool-use", "stop"],
        },
    ]
}

/// Every hook command in a hook file, nested or flat.
fn commands(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for list in v["hooks"].as_object().unwrap().values().filter_map(Value::as_array) {
        for entry in list {
            match entry["hooks"].as_array() {
                Some(inner) => out.extend(inner.iter().filter_map(|h| h["command"].as_str().map(String::from))),
                None => out.extend(entry["command"].as_str().map(String::from)),
            }
        }
    }
    out
}

#[test]
fn setup_hooks_merges_each_runtime_file_and_removes_only_its_own() {
    let env = env_with(&[("alice", "implementer", "auth")]);
    for t in targets() {
        let path = env.repo().join(t.file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, t.mine.to_string()).unwrap();

        let said = env.ok(None, &["setup", "hooks", "--runtime", t.runtime]);
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let cmds = commands(&v);
        for mine in commands(&t.mine) {
            assert!(cmds.contains(&mine), "{}: {mine} was lost: {v}", t.runtime);
        }
        for e in t.events {
            let ours: Vec<&String> = cmds.iter().filter(|c| c.ends_with(&format!(" hook {} {e}", t.runtime))).collect();
            assert_eq!(ours.len(), 1, "{} {e}: {cmds:?}", t.runtime);
            let bin = ours[0].split_whitespace().next().unwrap();
            assert!(bin == "thrum" || std::path::Path::new(bin).is_file(), "{bin}");
        }
        assert_eq!(cmds.len(), commands(&t.mine).len() + t.events.len(), "{}: {cmds:?}", t.runtime);
        assert_eq!(std::fs::read_to_string(format!("{}.bak", path.display())).unwrap(), t.mine.to_string());
        match t.runtime {
            "codex" => {
                // Codex runs no hook it has not been told to trust: said.
                assert!(said.contains("/hooks") && said.contains("trust"), "{said}");
                let j: Value = env.json(None, &["setup", "hooks", "--runtime", "codex"]);
                assert!(j["trust"].as_str().unwrap().contains("/hooks"), "{j}");
            }
            "gemini" => {
                assert_eq!(v["mcpServers"], t.mine["mcpServers"]);
                assert_eq!(v["hooks"]["disabled"], json!(["fmt"]));
                assert_eq!(v["hooks"]["AfterAgent"][0]["hooks"][0]["timeout"], 10_000, "milliseconds");
            }
            _ => {
                assert_eq!(v["version"], 1);
                assert_eq!(v["hooks"]["stop"][1]["loop_limit"], 1);
            }
        }

        // A second run changes nothing.
        let before = std::fs::read_to_string(&path).unwrap();
        let again: Value = env.json(None, &["setup", "hooks", "--runtime", t.runtime]);
        assert_eq!(again["action"], "unchanged", "{}", t.runtime);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);

        // --remove leaves the user's file as it was.
        env.ok(None, &["setup", "hooks", "--runtime", t.runtime, "--remove"]);
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v, t.mine, "{}", t.runtime);

        // A file that is not JSON is refused untouched.
        std::fs::write(&path, "{ broken").unwrap();
        let (code, err) = env.fail(None, &["setup", "hooks", "--runtime", t.runtime]);
        assert_eq!(code, 1);
        assert!(err.contains("not valid JSON") && err.contains("nothing was changed"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ broken");
        std::fs::remove_file(&path).unwrap();

        // A fresh install creates the file, and the runtime's hooks count as
        // installed (a new worktree gets them too).
        env.ok(None, &["setup", "hooks", "--runtime", t.runtime]);
        assert!(path.is_file());
    }
    let (_, err) = env.fail(None, &["setup", "hooks", "--runtime", "amp"]);
    assert!(err.contains("runtimes with hooks: claude, codex, cursor, gemini"), "{err}");
}
