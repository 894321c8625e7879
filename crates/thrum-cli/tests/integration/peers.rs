//! Pairing two daemons (two repositories on this machine): the listener
//! prints a peercode and blocks, the dialer joins with it, both record the
//! same token; wrong codes lock the pairing, old codes expire, browsers
//! cannot reach the pairing endpoint.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;
use thrum_testkit::TestEnv;
use tungstenite::client::IntoClientRequest;

use crate::wire::{JsonAs, Page, Row, Sent, SyncStatus, Team};
use crate::{BIN, env_with};

/// Starts `peer add` in `a`; returns the child and the peercode it printed.
/// The caller waits on the child (the lint cannot see through the return).
fn start_add(a: &TestEnv, name: &str) -> (std::process::Child, String) {
    start_add_as(a, name, &["--type", "local"])
}

/// `peer add` with the given type flags.
#[allow(clippy::zombie_processes)]
fn start_add_as(a: &TestEnv, name: &str, kind: &[&str]) -> (std::process::Child, String) {
    let mut args = vec!["peer", "add", "--name", name];
    args.extend_from_slice(kind);
    let mut child = a.thrum(&args).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("peer add ended without a peercode");
        }
        if let Some(rest) = line.split("--peercode ").nth(1) {
            let code = rest.split_whitespace().next().unwrap().to_string();
            // Keep reading the rest in the background so the pipe never fills.
            std::thread::spawn(move || for _ in out.lines() {});
            return (child, code);
        }
    }
}

/// `peer list --json`, as these tests read it (unknown fields refused, so
/// a token could never slip into it unnoticed).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerList {
    peers: Vec<PeerRow>,
    tailscale: Option<Value>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Read by decoding.
struct PeerRow {
    name: String,
    address: String,
    repo_path: Option<String>,
    transport: String,
    role: String,
    proxy_prefix: String,
    remote_agents: Vec<String>,
    paired_at: String,
    remote_daemon_id: String,
    remote_repo_name: Option<String>,
    remote_hostname: Option<String>,
    remote_repo_path: Option<String>,
    remote_git_origin_url: Option<String>,
    last_sync_at: Option<String>,
    remote_static: Option<String>,
    announced_address: Option<String>,
    status: Option<String>,
    reconcile_status: Option<String>,
    last_error: Option<String>,
    pending: Option<i64>,
    last_seq: Option<i64>,
}

fn peers(env: &TestEnv) -> Vec<PeerRow> {
    env.json_as::<PeerList>(None, &["peer", "list"]).peers
}

fn stored_token(env: &TestEnv) -> String {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(env.thrum_dir().join("var/peers.json")).unwrap()).unwrap();
    v["peers"][0]["token"].as_str().unwrap().to_string()
}

#[test]
fn two_repositories_pair_once_and_share_a_token() {
    let a = env_with(&[("alice", "dev", "m")]);
    let b = env_with(&[("bob", "dev", "m")]);
    let (add, code) = start_add(&a, "alpha");
    assert!(code.starts_with("alpha:127.0.0.1:"), "{code}");
    let joined = b
        .ok(None, &["peer", "join", "--type", "local", "--peercode", &code, "--repo-path", a.repo().to_str().unwrap()]);
    assert!(joined.contains("Paired with \"alpha\""), "{joined}");
    let out = add.wait_with_output().unwrap();
    assert!(out.status.success(), "peer add failed");

    let at_a = peers(&a);
    let at_b = peers(&b);
    assert_eq!((at_a.len(), at_b.len()), (1, 1));
    assert_eq!(at_a[0].role, "listener");
    assert_eq!(at_b[0].role, "dialer");
    assert_eq!(at_b[0].name, "alpha");
    assert_eq!(at_a[0].remote_repo_path.as_deref().unwrap(), b.repo().to_str().unwrap());
    // (PeerRow has no token field and refuses unknown ones: tokens never
    // leave peers.json.)
    let (ta, tb) = (stored_token(&a), stored_token(&b));
    assert_eq!(ta, tb);
    assert_eq!(ta.len(), 64);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(a.thrum_dir().join("var/peers.json")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Which of the peer's agents are addressable here.
    let out = b.ok(None, &["peer", "configure", "alpha", "add-agent", "@alice"]);
    assert!(out.contains("@alpha:alice"), "{out}");
    b.ok(None, &["peer", "configure", "alpha", "add-agent", "carol"]);
    assert_eq!(peers(&b)[0].remote_agents, ["alice", "carol"]);
    b.ok(None, &["peer", "configure", "alpha", "remove-agent", "carol"]);
    assert_eq!(peers(&b)[0].remote_agents, ["alice"]);
    let (_, err) = b.fail(None, &["peer", "configure", "nobody", "add-agent", "x"]);
    assert!(err.contains("no peer named"), "{err}");
    let (_, err) = b.fail(None, &["peer", "configure", "alpha", "add-agent", "Not Valid!"]);
    assert!(err.contains("invalid agent"), "{err}");
    assert!(b.ok(None, &["peer", "status"]).contains("alice"));

    // The code is spent; the pair survives restarts; remove forgets it.
    let (code2, err) = b.fail(None, &["peer", "join", "--type", "local", "--peercode", &code]);
    assert_eq!(code2, 1);
    assert!(err.contains("already paired"), "{err}");
    a.ok(None, &["daemon", "restart"]);
    assert_eq!(peers(&a).len(), 1);
    a.ok(None, &["peer", "remove", "repo"]);
    assert!(peers(&a).is_empty());
}

#[test]
fn wrong_codes_lock_the_pairing_and_codes_expire() {
    let a = env_with(&[("alice", "dev", "m")]);
    let b = env_with(&[("bob", "dev", "m")]);
    let (add, code) = start_add(&a, "alpha");
    let (prefix, _) = code.rsplit_once(':').unwrap();
    let repo = a.repo();
    let repo = repo.to_str().unwrap();
    for (n, want) in [(1, "2 tries left"), (2, "1 tries left"), (3, "locked")] {
        let bad = format!("{prefix}:000000000000000{n}");
        let (_, err) = b.fail(None, &["peer", "join", "--type", "local", "--peercode", &bad, "--repo-path", repo]);
        assert!(err.contains(want), "attempt {n}: {err}");
    }
    let (_, err) = b.fail(None, &["peer", "join", "--type", "local", "--peercode", &code, "--repo-path", repo]);
    assert!(err.contains("locked") || err.contains("no pairing"), "the right code after the lock: {err}");
    let out = add.wait_with_output().unwrap();
    assert!(!out.status.success(), "peer add reports the failed pairing");
    assert!(peers(&a).is_empty() && peers(&b).is_empty());

    // Expiry (shortened for the test).
    // A code that lasts 1 ms has expired by the time another process can
    // use it (no sleep needed).
    let out = a.thrum(&["daemon", "restart"]).env("THRUM_PAIRING_TTL_MS", "1").output().unwrap();
    assert!(out.status.success());
    let (add, code) = start_add(&a, "alpha");
    let (_, err) = b.fail(None, &["peer", "join", "--type", "local", "--peercode", &code, "--repo-path", repo]);
    assert!(err.contains("expired"), "{err}");
    let out = add.wait_with_output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn peer_commands_explain_a_missing_type_and_browsers_cannot_pair() {
    let a = env_with(&[("alice", "dev", "m")]);
    let (code, err) = a.fail(None, &["peer", "add"]);
    assert_eq!(code, 1);
    assert!(err.contains("--type local") && err.contains("--type tailscale"), "{err}");
    let (_, err) = a.fail(None, &["peer", "join", "x:127.0.0.1:1:2"]);
    assert!(err.contains("--type repair"), "{err}");
    let (_, err) = a.fail(None, &["peer", "join", "--type", "local", "--peercode", "alpha:localhost:1:2"]);
    assert!(err.contains("not an IP"), "{err}");
    let port = std::fs::read_to_string(a.thrum_dir().join("var/ws.port")).unwrap().trim().to_string();
    let mut req = format!("ws://127.0.0.1:{port}/peer").into_client_request().unwrap();
    req.headers_mut().insert("Origin", format!("http://localhost:{port}").parse().unwrap());
    match tungstenite::connect(req) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("a browser reached /peer: {:?}", other.map(|_| ())),
    }
    // Without a pairing in progress the endpoint says so.
    let (mut ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{port}/peer")).unwrap();
    let req = serde_json::json!({"jsonrpc":"2.0","id":1,"method":"pair.request","params":{"code":"1","name":"x","address":"127.0.0.1:1"}});
    ws.send(tungstenite::Message::Text(req.to_string().into())).unwrap();
    let v: Value = match ws.read().unwrap() {
        tungstenite::Message::Text(t) => serde_json::from_str(&t).unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(v["error"]["message"].as_str().unwrap().contains("peer add"), "{v}");
    let _ = BIN;
}

/// Pairs `a` (as "alpha") with `b` (which `a` then calls "repo") and makes
/// alice@a and bob@b addressable across the link.
fn paired(a: &TestEnv, b: &TestEnv) {
    let (add, code) = start_add(a, "alpha");
    b.ok(None, &["peer", "join", "--type", "local", "--peercode", &code, "--repo-path", a.repo().to_str().unwrap()]);
    assert!(add.wait_with_output().unwrap().status.success(), "peer add failed");
    b.ok(None, &["peer", "configure", "alpha", "add-agent", "alice"]);
    a.ok(None, &["peer", "configure", "repo", "add-agent", "bob"]);
    // Both links come up on their own (the listener's waits for the
    // joiner's first notify: it must not dial before the joiner holds the
    // token, or it would see its token refused).
    wait_for("both links", || {
        peers(a)[0].status.as_deref() == Some("healthy") && peers(b)[0].status.as_deref() == Some("healthy")
    });
}

/// Unread messages for `agent`, without marking them read.
fn unread(env: &TestEnv, agent: &str) -> Vec<Row> {
    env.json_as::<Page>(Some(agent), &["inbox", "--unread", "--page-size", "100"]).messages
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    assert!(thrum_testkit::wait_until(std::time::Duration::from_secs(20), &mut cond), "timed out waiting for {what}");
}

#[test]
fn messages_replies_and_receipts_cross_the_link() {
    let a = env_with(&[("alice", "dev", "m")]);
    let b = env_with(&[("bob", "reviewer", "m")]);
    paired(&a, &b);

    let sent: Sent = a.json_as(Some("alice"), &["send", "hello bob", "--to", "@repo:bob"]);
    let id = sent.message_id.clone();
    assert_eq!(sent.recipients[0].agent_id, "repo:bob");
    wait_for("bob to receive alice's message", || !unread(&b, "bob").is_empty());
    let got = unread(&b, "bob");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, id, "the same id on both sides");
    assert_eq!(got[0].agent_id, "alpha:alice");
    assert_eq!(got[0].body.content, "hello bob");

    // bob replies by id; the reply threads and comes back to alice.
    b.ok(Some("bob"), &["reply", &id, "hi alice"]);
    wait_for("alice to receive bob's reply", || !unread(&a, "alice").is_empty());
    let reply = &unread(&a, "alice")[0];
    assert_eq!(reply.agent_id, "repo:bob");
    assert_eq!(reply.body.content, "hi alice");
    assert!(!reply.thread_id.as_deref().unwrap_or("").is_empty(), "{reply:?}");
    // alice answers the reply: a second round trip on the same thread.
    let rid = reply.message_id.clone();
    a.ok(Some("alice"), &["reply", &rid, "thanks"]);
    wait_for("bob to get the second reply", || unread(&b, "bob").iter().any(|m| m.body.content == "thanks"));
    let thanks = unread(&b, "bob").into_iter().find(|m| m.body.content == "thanks").unwrap();
    assert_eq!(thanks.thread_id, reply.thread_id);

    // bob's runtime is told about "thanks" (a hook; he read the first
    // message when he replied to it): alice sees that he was, and how.
    let hook = b
        .thrum(&["hook", "claude", "post-tool-use"])
        .env("THRUM_NAME", "bob")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&hook.stdout).contains("thanks"), "{hook:?}");
    wait_for("the announcement to reach alice", || {
        let s: Page = a.json_as(Some("alice"), &["sent"]);
        s.messages.iter().any(|m| {
            m.message_id == thanks.message_id
                && m.recipients
                    .as_ref()
                    .is_some_and(|r| r[0].state == "announced" && r[0].announced_via.as_deref() == Some("hook"))
        })
    });

    // bob reads the first message: alice sees the receipt.
    b.ok(Some("bob"), &["message", "read", &id]);
    wait_for("the read receipt", || {
        let s: Page = a.json_as(Some("alice"), &["sent"]);
        s.messages.iter().any(|m| {
            m.message_id == id
                && m.recipients.as_ref().is_some_and(|r| r[0].read_at.as_deref().is_some_and(|t| !t.is_empty()))
        })
    });
    let listed = peers(&a);
    assert_eq!(listed[0].status.as_deref(), Some("healthy"), "{listed:?}");
    // Proxies show in the team, marked as remote.
    let team: Team = a.json_as(Some("alice"), &["team"]);
    assert_eq!(team.proxies[0]["agent_id"], "repo:bob", "{:?}", team.proxies);
    assert!(a.ok(Some("alice"), &["team"]).contains("@repo:bob [via peer repo, healthy]"));
    assert_eq!(listed[0].pending, Some(0), "{listed:?}");

    // Names that lead nowhere are refused before anything is stored.
    let (_, err) = a.fail(Some("alice"), &["send", "x", "--to", "@repo:nobody"]);
    assert!(err.contains("peer configure repo add-agent nobody"), "{err}");
    let (_, err) = a.fail(Some("alice"), &["send", "x", "--to", "@nowhere:bob"]);
    assert!(err.contains("no paired peer"), "{err}");
}

#[test]
fn a_peer_that_was_killed_gets_everything_once_when_back() {
    let a = env_with(&[("alice", "dev", "m")]);
    let b = env_with(&[("bob", "reviewer", "m")]);
    paired(&a, &b);
    a.ok(Some("alice"), &["send", "before", "--to", "@repo:bob"]);
    wait_for("the first message", || unread(&b, "bob").len() == 1);

    // Short backoff steps for a's links, so three failed dials take moments.
    a.ok(None, &["daemon", "stop"]);
    std::fs::write(a.thrum_dir().join(".env"), "THRUM_PEER_BACKOFF_MS=100\n").unwrap();
    b.kill_daemon();
    // A killed daemon leaves its port file behind, and the daemon of a test
    // running alongside may take that port: a would then reach a stranger
    // (token refused) instead of finding nobody. Remove the stale file, as
    // the dead daemon would have on a clean exit.
    let _ = std::fs::remove_file(b.thrum_dir().join("var/ws.port"));
    for i in 0..5 {
        a.ok(Some("alice"), &["send", &format!("while down {i}"), "--to", "@repo:bob"]);
    }
    // Once the link noticed, the sender is told the message waits.
    wait_for("the link to notice", || peers(&a)[0].status.as_deref() == Some("unreachable"));
    let queued: Sent = a.json_as(Some("alice"), &["send", "while down 5", "--to", "@repo:bob"]);
    let warnings = queued.warnings.clone().unwrap_or_default().join("\n");
    assert!(warnings.contains("peer repo is unreachable: the message is queued"), "{queued:?}");
    // Queued, and visibly so.
    wait_for("the messages to show as pending", || peers(&a)[0].pending.unwrap_or(0) >= 6);
    // `thrum sent` says which ones bob's daemon has not pulled yet.
    let pending_flags = |env: &TestEnv| -> Vec<bool> {
        let sent: Page = env.json_as(Some("alice"), &["sent", "--page-size", "10"]);
        sent.messages.iter().map(|m| m.recipients.as_ref().is_some_and(|r| r[0].peer_pending == Some(true))).collect()
    };
    assert_eq!(pending_flags(&a), [true, true, true, true, true, true, false]);
    let listing = a.ok(Some("alice"), &["sent", "--page-size", "1"]);
    assert!(listing.contains("@repo:bob(pending via peer)"), "{listing}");
    // Three failed dials in a row: drift, with the fix on the list.
    wait_for("drift to be flagged", || peers(&a)[0].reconcile_status.as_deref() == Some("drift_reconcile_failed"));
    let listing = a.ok(None, &["peer", "list"]);
    assert!(listing.contains("drift detected") && listing.contains("thrum peer join --type repair repo"), "{listing}");

    // bob's daemon comes back (any command starts it) and catches up.
    wait_for("all six to arrive", || unread(&b, "bob").len() == 7);
    let got = unread(&b, "bob");
    let mut texts: Vec<&str> = got.iter().map(|m| m.body.content.as_str()).collect();
    texts.sort();
    let want =
        ["before", "while down 0", "while down 1", "while down 2", "while down 3", "while down 4", "while down 5"];
    assert_eq!(texts, want);
    wait_for("nothing pending", || peers(&a)[0].pending == Some(0));
    assert_eq!(pending_flags(&a), [false; 7]);
    wait_for("the drift to clear", || peers(&a)[0].reconcile_status.as_deref() == Some("healthy"));
    // A repair dials again at once and says how it went.
    assert!(a.ok(None, &["peer", "join", "--type", "repair", "repo"]).contains("repo is reachable again"));
    let (_, err) = a.fail(None, &["peer", "join", "--type", "repair", "nobody"]);
    assert!(err.contains("no peer named"), "{err}");
    let (_, err) = a.fail(None, &["peer", "join", "--type", "repair"]);
    assert!(err.contains("name the peer to repair"), "{err}");

    // A rebuilt projection on either side changes nothing: no duplicates.
    for env in [&a, &b] {
        env.ok(None, &["daemon", "stop"]);
        std::fs::remove_file(env.thrum_dir().join("var/messages.db")).unwrap();
    }
    a.ok(Some("alice"), &["send", "after rebuild", "--to", "@repo:bob"]);
    wait_for("the message after the rebuild", || unread(&b, "bob").len() == 8);
    // Everything queued for b has been pulled (b asked past it): anything
    // that could arrive twice has arrived.
    wait_for("nothing pending", || peers(&a)[0].pending == Some(0));
    assert_eq!(unread(&b, "bob").len(), 8, "nothing arrives twice");
}

#[test]
fn sync_endpoints_refuse_forged_tokens() {
    let a = env_with(&[("alice", "dev", "m")]);
    let b = env_with(&[("bob", "reviewer", "m")]);
    paired(&a, &b);
    // b is down, so the message stays queued for it (what b has pulled and
    // acknowledged leaves the queue).
    b.ok(None, &["daemon", "stop"]);
    a.ok(Some("alice"), &["send", "secret", "--to", "@repo:bob"]);
    let port = std::fs::read_to_string(a.thrum_dir().join("var/ws.port")).unwrap().trim().to_string();
    let (mut ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{port}/peer")).unwrap();
    let token = stored_token(&a);
    // One hex digit off (never the same digit: that would be the token).
    let last = if token.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &token[..63]);
    for params in [serde_json::json!({}), serde_json::json!({ "token": forged }), serde_json::json!({ "token": "" })] {
        let req = serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": "sync.pull", "params": params });
        ws.send(tungstenite::Message::Text(req.to_string().into())).unwrap();
        let answer: Value = serde_json::from_str(ws.read().unwrap().to_text().unwrap()).unwrap();
        assert!(answer["error"]["message"].as_str().unwrap_or("").contains("token rejected"), "{answer}");
        assert!(answer.get("result").is_none());
    }
    // The real token gets the queued message.
    let req = serde_json::json!({ "jsonrpc": "2.0", "id": 2, "method": "sync.pull", "params": { "token": token } });
    ws.send(tungstenite::Message::Text(req.to_string().into())).unwrap();
    let answer: Value = serde_json::from_str(ws.read().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(answer["result"]["events"][0]["event"]["body"]["content"], "secret", "{answer}");
}

#[test]
fn network_peers_pair_over_an_encrypted_channel_and_exchange_messages() {
    let a = env_with(&[("alice", "dev", "m")]);
    let b = env_with(&[("bob", "reviewer", "m")]);
    let (add, code) = start_add_as(&a, "alpha", &["--type", "network", "--address", "127.0.0.1"]);
    assert!(code.starts_with("alpha:127.0.0.1:"), "{code}");
    let joined = b.ok(None, &["peer", "join", "--type", "network", "--peercode", &code]);
    assert!(joined.contains("Paired with \"alpha\""), "{joined}");
    assert!(add.wait_with_output().unwrap().status.success(), "peer add failed");
    let (at_a, at_b) = (peers(&a), peers(&b));
    assert_eq!(
        (Some(at_a[0].transport.as_str()), Some(at_b[0].transport.as_str())),
        (Some("network"), Some("network"))
    );
    // Each side holds the other's static key, and the key files are private.
    let stored = |env: &TestEnv| -> Value {
        serde_json::from_str(&std::fs::read_to_string(env.thrum_dir().join("var/peers.json")).unwrap()).unwrap()
    };
    let key_of = |env: &TestEnv| -> Value {
        serde_json::from_str(&std::fs::read_to_string(env.thrum_dir().join("var/peer_key")).unwrap()).unwrap()
    };
    assert_eq!(stored(&a)["peers"][0]["remote_static"], key_of(&b)["public"]);
    assert_eq!(stored(&b)["peers"][0]["remote_static"], key_of(&a)["public"]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(a.thrum_dir().join("var/peer_key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    b.ok(None, &["peer", "configure", "alpha", "add-agent", "alice"]);
    a.ok(None, &["peer", "configure", "repo", "add-agent", "bob"]);
    let id = a.json_as::<Sent>(Some("alice"), &["send", "over the wire", "--to", "@repo:bob"]).message_id;
    wait_for("bob to receive it", || !unread(&b, "bob").is_empty());
    assert_eq!(unread(&b, "bob")[0].agent_id, "alpha:alice");
    b.ok(Some("bob"), &["reply", &id, "and back"]);
    wait_for("alice to get the reply", || unread(&a, "alice").iter().any(|m| m.body.content == "and back"));

    // Kill the listener's daemon; it comes back on another port (as when
    // its port was taken meanwhile), tells b (same /24, from the address it
    // connects from), and b follows.
    let old_port: u16 = std::fs::read_to_string(a.thrum_dir().join("var/peer.port")).unwrap().trim().parse().unwrap();
    a.kill_daemon();
    let free = std::net::TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port();
    std::fs::write(a.thrum_dir().join("var/peer.port"), format!("{free}\n")).unwrap();
    b.ok(Some("bob"), &["send", "while alpha is down", "--to", "@alpha:alice"]);
    wait_for("alice to catch up", || unread(&a, "alice").iter().any(|m| m.body.content == "while alpha is down"));
    let new_port: u16 = std::fs::read_to_string(a.thrum_dir().join("var/peer.port")).unwrap().trim().parse().unwrap();
    assert_ne!(new_port, old_port);
    wait_for("b to follow the new port", || {
        let p = &peers(&b)[0];
        p.address == format!("127.0.0.1:{new_port}") && p.status.as_deref() == Some("healthy")
    });
    b.ok(Some("bob"), &["send", "to the new port", "--to", "@alpha:alice"]);
    wait_for("the message via the new port", || {
        unread(&a, "alice").iter().any(|m| m.body.content == "to the new port")
    });
}

#[test]
fn network_pairing_locks_after_three_wrong_codes() {
    let a = env_with(&[("alice", "dev", "m")]);
    let b = env_with(&[("bob", "reviewer", "m")]);
    let (add, code) = start_add_as(&a, "alpha", &["--type", "network", "--address", "127.0.0.1"]);
    let (prefix, real) = code.rsplit_once(':').unwrap();
    for i in 0..3 {
        let wrong: String = real.chars().rev().collect::<String>() + &i.to_string();
        let (_, err) = b.fail(None, &["peer", "join", "--type", "network", "--peercode", &format!("{prefix}:{wrong}")]);
        assert!(err.contains("pairing failed") || err.contains("refused"), "{err}");
    }
    // Even the right code is refused now.
    let (_, err) = b.fail(None, &["peer", "join", "--type", "network", "--peercode", &code]);
    assert!(err.contains("locked") || err.contains("refused"), "{err}");
    let out = add.wait_with_output().unwrap();
    assert!(!out.status.success(), "peer add reports the locked pairing");
    assert!(peers(&a).is_empty() && peers(&b).is_empty());
}

/// Two network namespaces joined by a veth pair: `{subnet}.1` (a) and
/// `{subnet}.2` (b). Removed on drop.
struct Netns {
    a: String,
    b: String,
    veth: String,
}

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip").args(args).output().expect("iproute2 (`ip`) is needed for this test");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

impl Netns {
    fn new(subnet: &str) -> Netns {
        let id = std::process::id() % 100_000;
        let n = Netns { a: format!("thrum{id}a"), b: format!("thrum{id}b"), veth: format!("thv{id}a") };
        let peer_veth = format!("thv{id}b");
        ip(&["netns", "add", &n.a]);
        ip(&["netns", "add", &n.b]);
        ip(&["link", "add", &n.veth, "type", "veth", "peer", "name", &peer_veth]);
        ip(&["link", "set", &n.veth, "netns", &n.a]);
        ip(&["link", "set", &peer_veth, "netns", &n.b]);
        ip(&["-n", &n.a, "addr", "add", &format!("{subnet}.1/24"), "dev", &n.veth]);
        ip(&["-n", &n.b, "addr", "add", &format!("{subnet}.2/24"), "dev", &peer_veth]);
        for (ns, dev) in [(&n.a, &n.veth), (&n.b, &peer_veth)] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        n
    }

    /// Starts `env`'s daemon inside namespace `ns` (CLI calls then reach it
    /// through its Unix socket from anywhere).
    fn start_daemon(&self, env: &TestEnv, ns: &str, vars: &[(&str, &str)]) {
        let mut cmd = env.hermetic(std::process::Command::new("ip"));
        cmd.args(["netns", "exec", ns, crate::BIN, "daemon", "start"]).current_dir(env.repo());
        cmd.envs(vars.iter().copied());
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "daemon start in {ns}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn link(&self, up: bool) {
        ip(&["-n", &self.a, "link", "set", &self.veth, if up { "up" } else { "down" }]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = std::process::Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

#[test]
fn network_peers_in_two_namespaces_survive_a_cut_link() {
    let a = env_with(&[("alice", "dev", "m")]);
    let b = env_with(&[("bob", "reviewer", "m")]);
    let net = Netns::new("10.77.0");
    a.ok(None, &["daemon", "stop"]);
    b.ok(None, &["daemon", "stop"]);
    net.start_daemon(&a, &net.a, &[]);
    net.start_daemon(&b, &net.b, &[]);

    let (add, code) = start_add_as(&a, "alpha", &["--type", "network", "--address", "10.77.0.1"]);
    assert!(code.starts_with("alpha:10.77.0.1:"), "{code}");
    b.ok(None, &["peer", "join", "--type", "network", "--peercode", &code]);
    assert!(add.wait_with_output().unwrap().status.success());
    assert!(peers(&a)[0].address.as_str().starts_with("10.77.0.2:"), "{:?}", peers(&a));
    b.ok(None, &["peer", "configure", "alpha", "add-agent", "alice"]);
    a.ok(None, &["peer", "configure", "repo", "add-agent", "bob"]);

    a.ok(Some("alice"), &["send", "before the cut", "--to", "@repo:bob"]);
    wait_for("the first message", || unread(&b, "bob").len() == 1);

    net.link(false);
    for i in 0..3 {
        a.ok(Some("alice"), &["send", &format!("during the cut {i}"), "--to", "@repo:bob"]);
    }
    b.ok(Some("bob"), &["send", "from the other side", "--to", "@alpha:alice"]);
    wait_for("the cut to be noticed", || peers(&a)[0].status.as_deref() == Some("unreachable"));
    // The three are still pending on a's side: b has not pulled them.
    assert!(peers(&a)[0].pending.unwrap_or(0) >= 3);
    assert_eq!(unread(&b, "bob").len(), 1, "nothing crosses a cut link");

    net.link(true);
    // The links retry with backoff (2 s, 8 s, 30 s): both sides converge.
    let converged = thrum_testkit::wait_until(std::time::Duration::from_secs(60), || {
        unread(&b, "bob").len() == 4 && unread(&a, "alice").len() == 1
    });
    assert!(converged, "bob has {:?}; alice has {:?}", unread(&b, "bob"), unread(&a, "alice"));
    wait_for("nothing pending", || peers(&a)[0].pending == Some(0) && peers(&b)[0].pending == Some(0));
    let mut texts: Vec<String> = unread(&b, "bob").iter().map(|m| m.body.content.clone()).collect();
    texts.sort();
    assert_eq!(texts, ["before the cut", "during the cut 0", "during the cut 1", "during the cut 2"]);
}

#[test]
fn three_daemons_local_and_network_share_a_group() {
    let a = env_with(&[("alice", "lead", "m")]);
    let b = env_with(&[("bob", "reviewer", "m")]);
    let c = env_with(&[("carol", "tester", "m")]);
    // b joins a locally; c joins a over the network. Both repositories are
    // called "repo": a keeps them apart as repo and repo-2.
    paired(&a, &b);
    let (add, code) = start_add_as(&a, "alpha", &["--type", "network", "--address", "127.0.0.1"]);
    c.ok(None, &["peer", "join", "--type", "network", "--peercode", &code]);
    assert!(add.wait_with_output().unwrap().status.success());
    let names: Vec<String> = peers(&a).iter().map(|p| p.name.clone()).collect();
    assert_eq!(names, ["repo", "repo-2"]);
    a.ok(None, &["peer", "configure", "repo-2", "add-agent", "carol"]);
    c.ok(None, &["peer", "configure", "alpha", "add-agent", "alice"]);

    // A group on a with members on both peers.
    a.ok(Some("alice"), &["group", "create", "crew"]);
    for m in ["@alice", "@repo:bob", "@repo-2:carol"] {
        a.ok(Some("alice"), &["group", "add", "crew", m]);
    }
    let (_, err) = a.fail(Some("alice"), &["group", "add", "crew", "@repo:mallory"]);
    assert!(err.contains("not found") || err.contains("invalid"), "an unconfigured proxy is refused: {err}");
    let id = a.json_as::<Sent>(Some("alice"), &["send", "crew meeting at 3", "--to", "@crew"]).message_id;
    wait_for("bob and carol to get the group message", || {
        unread(&b, "bob").iter().any(|m| m.message_id == id) && unread(&c, "carol").iter().any(|m| m.message_id == id)
    });
    // Each answers on its own link; alice gets both, once each.
    c.ok(Some("carol"), &["reply", &id, "carol will be there"]);
    b.ok(Some("bob"), &["send", "bob too", "--to", "@alpha:alice"]);
    wait_for("both answers", || unread(&a, "alice").len() == 2);
    let mut from: Vec<String> = unread(&a, "alice").iter().map(|m| m.agent_id.clone()).collect();
    from.sort();
    assert_eq!(from, ["repo-2:carol", "repo:bob"]);
    // Nothing leaked between b and c: each sees only what named it.
    assert_eq!(b.json_as::<Page>(Some("bob"), &["inbox"]).total, 1);
    assert_eq!(c.json_as::<Page>(Some("carol"), &["inbox"]).total, 1);

    // A broadcast stays on a unless asked to reach the peers.
    a.ok(Some("alice"), &["send", "local news", "--broadcast"]);
    let wide: Sent = a.json_as(Some("alice"), &["send", "news for all", "--broadcast", "--include-peers"]);
    let mut to: Vec<&str> = wide.recipients.iter().map(|r| r.agent_id.as_str()).collect();
    to.sort();
    assert_eq!(to, ["repo-2:carol", "repo:bob"]);
    wait_for("the wide broadcast", || {
        unread(&b, "bob").iter().any(|m| m.body.content == "news for all")
            && unread(&c, "carol").iter().any(|m| m.body.content == "news for all")
    });
    // Both peers pulled everything queued for them: had the local news
    // been queued, it would have arrived by now.
    wait_for("nothing pending", || peers(&a).iter().all(|p| p.pending == Some(0)));
    assert!(!unread(&b, "bob").iter().any(|m| m.body.content == "local news"));
    assert!(!unread(&c, "carol").iter().any(|m| m.body.content == "local news"));
}

/// A stand-in for the `tailscale` CLI (no tailnet can run in CI): it reports
/// the namespace's 100.64.0.0/10 address as the node's tailnet address, and
/// names nodes after their address for `whois`.
fn tailscale_stand_in(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("tailscale");
    std::fs::write(
        &path,
        r#"#!/bin/sh
ip=$(ip -o -4 addr show | grep -o 'inet 100\.[0-9.]*' | head -1 | cut -d' ' -f2)
case "$1" in
  status) printf '{"BackendState":"Running","Self":{"TailscaleIPs":["%s"],"DNSName":"node-%s."}}\n' "$ip" "$ip" ;;
  whois) printf '{"Node":{"Name":"node-%s."}}\n' "$3" ;;
  *) exit 1 ;;
esac
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn tailscale_peers_pair_on_tailnet_addresses_only() {
    let a = env_with(&[("alice", "dev", "m")]);
    let b = env_with(&[("bob", "reviewer", "m")]);
    // Without a running Tailscale, the error says what to do.
    let (_, err) = a.fail(None, &["peer", "add", "--type", "tailscale"]);
    assert!(err.contains("Tailscale is not installed here") || err.contains("Tailscale is"), "{err}");

    let net = Netns::new("100.64.77");
    let bin = tailscale_stand_in(a.home().as_path());
    // THRUM_TS_PORT names the peer port (free: each namespace has its own).
    let vars = [("TAILSCALE_BIN", bin.to_str().unwrap()), ("THRUM_TS_PORT", "47123")];
    a.ok(None, &["daemon", "stop"]);
    b.ok(None, &["daemon", "stop"]);
    net.start_daemon(&a, &net.a, &vars);
    net.start_daemon(&b, &net.b, &vars);

    let (add, code) = start_add_as(&a, "alpha", &["--type", "tailscale"]);
    assert!(code.starts_with("alpha:100.64.77.1:47123:"), "the node's tailnet address and THRUM_TS_PORT: {code}");
    // A peercode outside the tailnet is refused before dialing.
    let (_, err) = b.fail(None, &["peer", "join", "--type", "tailscale", "--peercode", "x:192.168.1.5:9100:1234"]);
    assert!(err.contains("not a tailnet address"), "{err}");
    b.ok(None, &["peer", "join", "--type", "tailscale", "--peercode", &code]);
    assert!(add.wait_with_output().unwrap().status.success());
    let listed: PeerList = a.json_as(None, &["peer", "list"]);
    assert_eq!(listed.peers[0].transport, "tailscale");
    assert_eq!(listed.peers[0].remote_hostname.as_deref(), Some("node-100.64.77.2"), "whois names the joiner");
    assert_eq!(listed.tailscale.as_ref().map(|t| t["state"].clone()), Some(serde_json::json!("running")), "{listed:?}");
    assert!(a.ok(None, &["peer", "list"]).contains("Tailscale: running (100.64.77.1)"));
    let sync: SyncStatus = a.json_as(None, &["sync", "status"]);
    assert_eq!(sync.tailscale.map(|t| t["state"].clone()), Some(serde_json::json!("running")));

    b.ok(None, &["peer", "configure", "alpha", "add-agent", "alice"]);
    a.ok(None, &["peer", "configure", "repo", "add-agent", "bob"]);
    a.ok(Some("alice"), &["send", "over the tailnet", "--to", "@repo:bob"]);
    wait_for("bob to receive it", || unread(&b, "bob").iter().any(|m| m.body.content == "over the tailnet"));
}

#[test]
fn a_peer_killed_mid_stream_converges_without_loss_or_duplicates() {
    let a = env_with(&[("alice", "dev", "m")]);
    let b = env_with(&[("bob", "reviewer", "m")]);
    paired(&a, &b);
    const N: usize = 80;
    // alice streams messages while bob's daemon is killed part-way through
    // (it is pulling them as they come).
    let sends: Vec<std::process::Command> = (0..N)
        .map(|i| {
            let mut c = a.thrum(&["send", &format!("stream {i:03}"), "--to", "@repo:bob", "--quiet"]);
            c.env("THRUM_NAME", "alice");
            c
        })
        .collect();
    let sender = std::thread::spawn(move || {
        for mut c in sends {
            let out = c.output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    });
    wait_for("the stream to start arriving", || unread(&b, "bob").len() >= 10);
    b.kill_daemon();
    sender.join().unwrap();
    // bob's daemon comes back (any command starts it) and catches up.
    wait_for("every message", || unread(&b, "bob").len() >= N);
    // b pulled everything a queued: a duplicate would be here by now.
    wait_for("nothing pending", || peers(&a)[0].pending == Some(0));
    let got = unread(&b, "bob");
    let mut texts: Vec<String> = got.iter().map(|m| m.body.content.clone()).collect();
    texts.sort();
    let want: Vec<String> = (0..N).map(|i| format!("stream {i:03}")).collect();
    assert_eq!(texts, want, "each message exactly once");
    wait_for("nothing pending", || peers(&a)[0].pending == Some(0));
}

/// Calls a peer-protocol method on `env`'s `/peer` endpoint.
fn peer_call(env: &TestEnv, method: &str, params: Value) -> Value {
    let port = std::fs::read_to_string(env.thrum_dir().join("var/ws.port")).unwrap().trim().to_string();
    let (mut ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{port}/peer")).unwrap();
    let req = serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    ws.send(tungstenite::Message::Text(req.to_string().into())).unwrap();
    serde_json::from_str(ws.read().unwrap().to_text().unwrap()).unwrap()
}

#[test]
fn sync_peer_info_names_the_daemon_to_its_peers_only() {
    let a = env_with(&[("alice", "dev", "m")]);
    let b = env_with(&[("bob", "reviewer", "m")]);
    paired(&a, &b);
    let answer = peer_call(&a, "sync.peer_info", serde_json::json!({ "token": stored_token(&a) }));
    let info = &answer["result"];
    // What b recorded about a when they paired.
    let seen_by_b = &peers(&b)[0];
    assert_eq!(info["daemon_id"], seen_by_b.remote_daemon_id.as_str(), "{answer}");
    assert_eq!(info["name"], "repo", "{answer}");
    assert_eq!(info["repo_path"].as_str(), seen_by_b.remote_repo_path.as_deref(), "{answer}");
    for params in [serde_json::json!({}), serde_json::json!({ "token": "0".repeat(64) })] {
        let answer = peer_call(&a, "sync.peer_info", params);
        assert!(answer["error"]["message"].as_str().unwrap_or("").contains("token rejected"), "{answer}");
    }
    // Not a client method: the socket does not serve it.
    let (_, err) = a.fail(Some("alice"), &["rpc", "sync.peer_info", "{}"]);
    assert!(err.contains("Method not found"), "{err}");
}

#[test]
fn peers_auto_connect_off_waits_for_traffic() {
    let a = env_with(&[("alice", "dev", "m")]);
    let b = env_with(&[("bob", "reviewer", "m")]);
    paired(&a, &b);
    b.ok(None, &["daemon", "stop"]);
    let cfg_path = b.thrum_dir().join("config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["peers"] = serde_json::json!({ "auto_connect": false });
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    b.ok(None, &["daemon", "start"]);
    // No link is started: b does not dial a (a link dials at once).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(peers(&b)[0].status.as_deref(), Some("stopped"), "{:?}", peers(&b));
    // a has mail for bob: its notify starts b's link, which pulls it.
    a.ok(Some("alice"), &["send", "are you there?", "--to", "@repo:bob"]);
    wait_for("bob to receive alice's message", || !unread(&b, "bob").is_empty());
    wait_for("b's link to be up", || peers(&b)[0].status.as_deref() == Some("healthy"));
    let got = b.json_as::<Value>(None, &["config", "get", "peers.auto_connect"]);
    assert_eq!(got["value"], false, "{got}");
}
