//! Pairing two daemons (two repositories on this machine): the listener
//! prints a peercode and blocks, the dialer joins with it, both record the
//! same token; wrong codes lock the pairing, old codes expire, browsers
//! cannot reach the pairing endpoint.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;
use thrum_testkit::TestEnv;
use tungstenite::client::IntoClientRequest;

use crate::{BIN, env_with};

/// Starts `peer add` in `a`; returns the child and the peercode it printed.
/// The caller waits on the child (the lint cannot see through the return).
#[allow(clippy::zombie_processes)]
fn start_add(a: &TestEnv, name: &str) -> (std::process::Child, String) {
    let mut child =
        a.thrum(&["peer", "add", "--type", "local", "--name", name]).stdout(Stdio::piped()).spawn().unwrap();
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

fn peers(env: &TestEnv) -> Vec<Value> {
    env.json(None, &["peer", "list"])["peers"].as_array().unwrap().clone()
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
    assert_eq!(at_a[0]["role"], "listener");
    assert_eq!(at_b[0]["role"], "dialer");
    assert_eq!(at_b[0]["name"], "alpha");
    assert_eq!(at_a[0]["remote_repo_path"].as_str().unwrap(), b.repo().to_str().unwrap());
    assert!(at_a[0].get("token").is_none() && at_b[0].get("token").is_none(), "tokens never leave peers.json");
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
    assert_eq!(peers(&b)[0]["remote_agents"], serde_json::json!(["alice", "carol"]));
    b.ok(None, &["peer", "configure", "alpha", "remove-agent", "carol"]);
    assert_eq!(peers(&b)[0]["remote_agents"], serde_json::json!(["alice"]));
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
    let out = a.thrum(&["daemon", "restart"]).env("THRUM_PAIRING_TTL_MS", "300").output().unwrap();
    assert!(out.status.success());
    let (add, code) = start_add(&a, "alpha");
    std::thread::sleep(std::time::Duration::from_millis(600));
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
