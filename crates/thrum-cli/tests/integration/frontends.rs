//! The CLI, the MCP tools and the web UI's WebSocket calls answer the same
//! questions the same way: who a reply goes to, who is active, who has a
//! file. Each is decided once, by the daemon; these tests ask all three
//! front ends and compare.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use thrum_testkit::{TestEnv, wait_until};

use crate::websocket::{Ws, call, port};
use crate::wire::{Got, JsonAs, Page, Sent, Team, WhoHas};
use crate::{BIN, env_with, workspace};

/// One MCP tool call by `agent` through the official Python SDK; its JSON.
fn mcp(env: &TestEnv, agent: &str, tool: &str, args: Value) -> Value {
    let mut cmd = env.hermetic(Command::new(crate::mcp::python()));
    cmd.arg(workspace().join("tests/mcp/call.py"))
        .args([agent, tool, &args.to_string()])
        .current_dir(env.repo())
        .env("THRUM_BIN", BIN)
        .env("THRUM_REPO", env.repo());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "mcp {tool}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("mcp {tool}: {e}"))
}

fn ws(env: &TestEnv) -> Ws {
    tungstenite::connect(format!("ws://127.0.0.1:{}/ws", port(env))).unwrap().0
}

/// Who a message was addressed to: its mentions and groups.
fn audience(env: &TestEnv, message_id: &str) -> BTreeSet<String> {
    let got: Got = env.json_as(None, &["message", "get", message_id]);
    let mentions = got.message.refs.iter().filter(|r| r.kind == "mention");
    let groups = got.message.scopes.iter().filter(|s| s.kind == "group");
    mentions.chain(groups).map(|s| s.value.clone()).collect()
}

#[test]
fn a_reply_reaches_the_same_people_from_every_front_end() {
    let env = env_with(&[
        ("alice", "implementer", "auth"),
        ("bob", "reviewer", "auth"),
        ("carol", "implementer", "ui"),
        ("dave", "tester", "ui"),
    ]);
    env.ok(Some("alice"), &["group", "create", "backend"]);
    env.ok(Some("alice"), &["group", "add", "backend", "@carol"]);
    let parent: Sent = env.json_as(Some("alice"), &["send", "schema ready?", "--to", "@bob", "--to", "@backend"]);
    let parent = parent.message_id;

    let cli: Sent = env.json_as(Some("bob"), &["reply", &parent, "from the CLI"]);
    let via_mcp = mcp(&env, "bob", "reply", json!({ "message_id": parent, "content": "from MCP" }));
    // What the web UI's reply box sends (app.js sendReply).
    let mut ws = ws(&env);
    let web = call(
        &mut ws,
        1,
        "message.reply",
        json!({ "content": "from the web", "reply_to": parent, "mentions": [], "caller_agent_id": "bob" }),
    );
    let web = &web["result"];

    let want: BTreeSet<String> = ["alice", "backend"].iter().map(|s| s.to_string()).collect();
    let replies = [
        ("CLI", Some(cli.message_id.as_str()), format!("{cli:?}")),
        ("MCP", via_mcp["message_id"].as_str(), via_mcp.to_string()),
        ("web UI", web["message_id"].as_str(), web.to_string()),
    ];
    for (front, id, r) in replies {
        let id = id.unwrap_or_else(|| panic!("{front}: {r}"));
        assert_eq!(audience(&env, id), want, "{front}'s reply");
    }
    // All three are in the parent's thread, and carol (through the group)
    // and alice (the author) got each of them; dave got none.
    let carol: Page = env.json_as(Some("carol"), &["inbox"]);
    let replies = carol.messages.iter().filter(|m| m.reply_to.as_deref() == Some(parent.as_str())).count();
    assert_eq!(replies, 3, "{carol:?}");
    assert_eq!(env.json_as::<Page>(Some("dave"), &["inbox"]).total, 0);
}

#[test]
fn presence_and_who_has_are_the_same_from_every_front_end() {
    let env = env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth"), ("dave", "tester", "ui")]);
    env.ok(Some("dave"), &["session", "end"]);
    // Presence: alice and bob have open sessions, dave does not.
    let cli: Team = env.json_as(None, &["team", "--all"]);
    let cli: BTreeSet<(String, bool)> =
        cli.members.iter().map(|m| (m.agent_id.clone(), m.status == "active")).collect();
    let via_mcp = mcp(&env, "alice", "list_agents", json!({ "include_offline": true }));
    let via_mcp: BTreeSet<(String, bool)> = via_mcp["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["agent_id"].as_str().unwrap().to_string(), a["status"] == "online"))
        .collect();
    let mut ws = ws(&env);
    let web = call(&mut ws, 1, "agent.list", json!({}));
    let web: BTreeSet<(String, bool)> = web["result"]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["agent_id"].as_str().unwrap().to_string(), a["presence"] == "active"))
        .collect();
    let want: BTreeSet<(String, bool)> =
        [("alice", true), ("bob", true), ("dave", false)].iter().map(|(a, on)| (a.to_string(), *on)).collect();
    assert_eq!(cli, want, "CLI");
    assert_eq!(via_mcp, want, "MCP");
    assert_eq!(web, want, "web UI");

    // Who has: alice and bob share this worktree; a changed src/auth.rs
    // (and src/oauth.rs, which `auth.rs` must not find) shows up in their
    // work contexts once a heartbeat looks at git.
    let repo = env.repo();
    std::fs::create_dir_all(repo.join("src")).unwrap();
    std::fs::write(repo.join("src/auth.rs"), "fn login() {}\n").unwrap();
    std::fs::write(repo.join("src/oauth.rs"), "fn token() {}\n").unwrap();
    thrum_testkit::git(&env, &repo, &["add", "src"]);
    let who = |q: &str| -> WhoHas { env.json_as(None, &["who-has", q]) };
    let found = wait_until(Duration::from_secs(15), || {
        env.ok(Some("alice"), &["session", "heartbeat"]);
        env.ok(Some("bob"), &["session", "heartbeat"]);
        who("auth.rs").agents.len() == 2
    });
    assert!(found, "who-has never saw the edit: {:?}", who("auth.rs"));
    for q in ["auth.rs", "src/auth.rs", "oauth", "src"] {
        let rows = |v: &Value, key: &str| -> BTreeSet<(String, Vec<String>)> {
            v[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    let files = a["files"].as_array().or(a["matched_files"].as_array()).unwrap();
                    let files = files.iter().map(|f| f.as_str().unwrap().to_string()).collect();
                    (a["agent_id"].as_str().unwrap().to_string(), files)
                })
                .collect()
        };
        let cli: BTreeSet<(String, Vec<String>)> = who(q).agents.into_iter().map(|a| (a.agent_id, a.files)).collect();
        let via_mcp = rows(&mcp(&env, "alice", "who_has", json!({ "file": q })), "agents");
        let web = call(&mut ws, 2, "agent.listContext", json!({ "file": q }));
        let web = rows(&web["result"], "contexts");
        assert_eq!(cli, via_mcp, "who-has {q}: CLI and MCP");
        assert_eq!(cli, web, "who-has {q}: CLI and web UI");
        let expect = if q.ends_with("auth.rs") { 2 } else { 0 };
        assert_eq!(cli.len(), expect, "who-has {q}: {cli:?}");
    }
}
