//! Identity rules across worktrees, subscriptions, and small RPCs.

use serde_json::json;
use thrum_testkit::git;

use crate::wire::{Agents, DeletedCount, JsonAs, Page, Sent, Subscribed, Subscriptions, UserIdentity};
use crate::{BIN, team};

#[test]
fn a_name_held_by_a_live_process_in_another_worktree_is_refused() {
    let env = thrum_testkit::TestEnv::new(BIN);
    env.ok(None, &["init"]);
    // alice registers from the main worktree; her runtime (this test
    // process) is alive.
    env.ok(None, &["quickstart", "--name", "alice", "--role", "implementer", "--module", "auth"]);
    let wt = env.dir.path().join("wt2");
    git(&env, &env.repo(), &["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "feature"]);
    let out = env.thrum_in(&wt, &["setup"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(wt.join(".thrum/redirect").exists());
    // Another process in the other worktree asks for the same name.
    let quick = |extra: &str| {
        let cmd = format!("'{BIN}' quickstart --name alice --role implementer --module auth {extra}");
        env.hermetic(std::process::Command::new("sh")).arg("-c").arg(cmd).current_dir(&wt).output().unwrap()
    };
    let out = quick("");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("held by a running agent session") && err.contains("--force"), "{err}");
    let out = quick("--force");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Both worktrees share one daemon and one store; identities stay local.
    assert!(wt.join(".thrum/identities/alice.json").exists());
    let agents: Agents = env.json_as(None, &["agent", "list"]);
    assert_eq!(agents.agents.len(), 1);
    assert!(!wt.join(".thrum/var").exists(), "the worktree uses the main .thrum/var");
}

#[test]
fn several_identities_need_thrum_name() {
    let env = team();
    let (_, err) = env.fail(None, &["send", "hi", "--to", "@bob"]);
    assert!(err.contains("THRUM_NAME"), "{err}");
    let (_, err) = env.fail(Some("zed"), &["whoami"]);
    assert!(err.contains("THRUM_NAME=zed") && err.contains("quickstart"), "{err}");
}

#[test]
fn subscriptions_round_trip() {
    let env = team();
    let s: Subscribed = env.json_as(Some("bob"), &["subscribe", "--scope", "module:auth"]);
    let id = s.subscription_id;
    env.ok(Some("bob"), &["subscribe", "--mention", "@reviewer"]);
    let list: Subscriptions = env.json_as(Some("bob"), &["subscriptions"]);
    assert_eq!(list.subscriptions.len(), 2, "{list:?}");
    env.ok(Some("bob"), &["unsubscribe", &id.to_string()]);
    let list: Subscriptions = env.json_as(Some("bob"), &["subscriptions"]);
    assert_eq!(list.subscriptions.len(), 1);
    let (_, err) = env.fail(Some("bob"), &["unsubscribe", &id.to_string()]);
    assert!(err.contains("no subscription"), "{err}");
    // Ending the session drops its subscriptions.
    env.ok(Some("bob"), &["session", "end"]);
    env.ok(Some("bob"), &["session", "start"]);
    assert_eq!(env.json_as::<Subscriptions>(Some("bob"), &["subscriptions"]).subscriptions.len(), 0);
}

#[test]
fn user_identify_and_delete_by_agent() {
    let env = team();
    let who: UserIdentity = env.json_as(None, &["rpc", "user.identify"]);
    assert_eq!(who.username, "test-user");
    assert_eq!(who.email, "test@example.com");
    env.ok(Some("alice"), &["send", "one", "--to", "@bob"]);
    env.ok(Some("alice"), &["send", "two", "--to", "@bob"]);
    env.ok(Some("carol"), &["send", "three", "--to", "@bob"]);
    let params = json!({ "agent_id": "alice", "caller_agent_id": "alice" }).to_string();
    let r: DeletedCount = env.json_as(Some("alice"), &["rpc", "message.deleteByAgent", &params]);
    assert_eq!(r.deleted_count, 2);
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 1);
    // Someone else's messages are not yours to delete.
    let params = json!({ "agent_id": "carol", "caller_agent_id": "alice" }).to_string();
    let (_, err) = env.fail(Some("alice"), &["rpc", "message.deleteByAgent", &params]);
    assert!(err.contains("unauthorized"), "{err}");
    // The internal scope deletion is not reachable from outside (as the
    // original documents: -32601 to every outside caller)…
    let params = json!({ "scope_type": "group", "scope_value": "backend" }).to_string();
    let (_, err) = env.fail(Some("alice"), &["rpc", "message.deleteByScope", &params]);
    assert!(err.contains("Method not found"), "{err}");
    // …but runs for a group deleted with its messages: those go, as
    // delete events, and the others stay.
    env.ok(Some("carol"), &["group", "create", "backend"]);
    env.ok(Some("carol"), &["group", "add", "backend", "@bob"]);
    env.ok(Some("carol"), &["send", "to the group", "--to", "@backend"]);
    env.ok(Some("carol"), &["send", "also to the group", "--to", "@backend"]);
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 3);
    let params = json!({ "name": "backend", "delete_messages": true, "caller_agent_id": "carol" }).to_string();
    env.ok(Some("carol"), &["rpc", "group.delete", &params]);
    let inbox: Page = env.json_as(Some("bob"), &["inbox"]);
    assert_eq!(inbox.total, 1, "{inbox:?}");
    assert_eq!(inbox.messages[0].body.content, "three");
}

#[test]
fn subscribers_get_pushes_for_matching_messages_only() {
    use std::io::BufRead;
    let env = team();
    let mut follower = env
        .thrum(&["subscribe", "--scope", "module:auth", "--follow", "--json"])
        .env("THRUM_NAME", "bob")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follower.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Wait until the subscription exists before sending.
    assert!(thrum_testkit::wait_until(std::time::Duration::from_secs(10), || {
        !env.json_as::<Subscriptions>(Some("bob"), &["subscriptions"]).subscriptions.is_empty()
    }));
    env.ok(Some("alice"), &["send", "ui only", "--to", "@bob", "--scope", "module:ui"]);
    let hit: Sent =
        env.json_as(Some("alice"), &["send", "auth change landed", "--to", "@bob", "--scope", "module:auth"]);
    let line = rx.recv_timeout(std::time::Duration::from_secs(10)).expect("no push arrived");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["method"], "notification.message");
    assert_eq!(v["params"]["message_id"], hit.message_id.as_str(), "only the matching message is pushed: {v}");
    assert_eq!(v["params"]["matched_subscription"]["match_type"], "scope");
    assert_eq!(v["params"]["author"]["agent_id"], "alice");
    assert_eq!(v["params"]["author"]["role"], "implementer");
    assert_eq!(v["params"]["preview"], "auth change landed");
    let _ = follower.kill();
    let _ = follower.wait();
}

/// A subscriber that stops reading never slows senders down; when it
/// reads again it learns how many pushes it missed.
#[test]
fn a_slow_subscriber_never_blocks_writers_and_hears_what_it_missed() {
    let env = team();
    // Python stands in for a raw client that lives inside the worktree
    // (the daemon identifies callers by their working directory).
    let script = r#"
import json, socket, sys, time
path = ".thrum/var/thrum.sock"
def conn():
    s = socket.socket(socket.AF_UNIX); s.connect(path); return s, s.makefile("rwb")
def call(f, i, m, p):
    f.write((json.dumps({"jsonrpc": "2.0", "id": i, "method": m, "params": p}) + "\n").encode()); f.flush()
    while True:
        v = json.loads(f.readline())
        if v.get("id") == i: return v
slow_s, slow = conn()
slow_s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
r = call(slow, 1, "subscribe", {"all": True, "caller_agent_id": "bob"})
assert "result" in r, r
_, fast = conn()
t = time.time()
for i in range(3000):
    r = call(fast, 10 + i, "message.send", {"content": "m%d" % i, "mentions": ["bob"], "caller_agent_id": "alice"})
    assert "result" in r, r
elapsed = time.time() - t
got, missed = 0, 0
slow_s.settimeout(5)
try:
    while got + missed < 3000:
        line = slow.readline()
        if not line: break
        v = json.loads(line)
        if v.get("method") == "notification.message": got += 1
        elif v.get("method") == "notification.missed": missed += v["params"]["count"]
except socket.timeout:
    pass
print(json.dumps({"sent_seconds": elapsed, "got": got, "missed": missed}))
"#;
    let v: serde_json::Value = serde_json::from_str(&crate::python_in_repo(&env, script)).unwrap();
    assert!(v["missed"].as_u64().unwrap() > 0, "the slow reader should have missed some: {v}");
    assert_eq!(
        v["got"].as_u64().unwrap() + v["missed"].as_u64().unwrap(),
        3000,
        "every push is either delivered or counted: {v}"
    );
}

/// A connection caches its worktree's identity listing; an agent
/// registered in that worktree while the connection is open can act on it
/// at once (the listing is re-read when the directory changes, and never
/// trusted within a second of a change).
#[test]
fn an_open_connection_sees_an_agent_registered_after_it_connected() {
    use std::io::{BufRead, BufReader, Write};
    let env = thrum_testkit::TestEnv::with_agents(env!("CARGO_BIN_EXE_thrum"), &[("alice", "dev", "m")]);
    // A client process inside the worktree, so the daemon sees its cwd.
    let relay = "import socket,sys\ns=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1]);f=s.makefile('rwb')\nfor line in sys.stdin:\n    f.write(line.encode());f.flush();sys.stdout.write(f.readline().decode());sys.stdout.flush()\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", relay, &env.socket().to_string_lossy()])
        .current_dir(env.repo())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    let mut out = BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("stdout")));
    let mut call = |who: &str| -> serde_json::Value {
        let req = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "agent.whoami", "params": {"caller_agent_id": who}});
        writeln!(stdin, "{req}").unwrap_or_else(|e| panic!("{e}"));
        let mut line = String::new();
        out.read_line(&mut line).unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };
    let r = call("alice");
    assert!(r.get("result").is_some(), "{r}");
    let r = call("bob");
    assert_eq!(r["error"]["code"], -32001, "bob is not registered yet: {r}");
    env.ok(None, &["quickstart", "--name", "bob", "--role", "rev", "--module", "m", "--no-agent-pid"]);
    let r = call("bob");
    assert!(r.get("result").is_some(), "bob registered while the connection was open: {r}");
    drop(stdin);
    let _ = child.wait();
}
