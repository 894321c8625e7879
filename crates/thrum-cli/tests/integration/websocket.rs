//! The WebSocket JSON-RPC API with a real WebSocket client.

use serde_json::{Value, json};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, connect};

use crate::team;
use crate::wire::{DaemonStatus, JsonAs, Page, Sent};

pub(crate) fn port(env: &thrum_testkit::TestEnv) -> u16 {
    let text = std::fs::read_to_string(env.thrum_dir().join("var/ws.port")).unwrap();
    text.trim().parse().unwrap()
}

pub(crate) type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

pub(crate) fn call(ws: &mut Ws, id: u64, method: &str, params: Value) -> Value {
    let req = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
    ws.send(Message::Text(req.to_string().into())).unwrap();
    read(ws)
}

fn read(ws: &mut Ws) -> Value {
    loop {
        match ws.read().unwrap() {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(_) => panic!("closed"),
            _ => continue,
        }
    }
}

#[test]
fn websocket_speaks_json_rpc_and_pushes() {
    let env = team();
    let p = port(&env);
    let st: DaemonStatus = env.json_as(None, &["daemon", "status"]);
    assert_eq!(st.ws_port, Some(p));
    let (mut ws, _) = connect(format!("ws://127.0.0.1:{p}/ws")).unwrap();
    let h = call(&mut ws, 1, "health", json!({}));
    assert_eq!(h["result"]["status"], "ok");
    // Malformed frames get an error and the connection goes on.
    ws.send(Message::Text("not json".into())).unwrap();
    assert_eq!(read(&mut ws)["error"]["code"], -32700);
    // Subscribe as bob, then a message from the CLI is pushed here.
    let sub = call(&mut ws, 2, "subscribe", json!({ "mention_role": "reviewer", "caller_agent_id": "bob" }));
    assert!(sub["result"]["subscription_id"].as_i64().is_some(), "{sub}");
    let sent: Sent = env.json_as(Some("alice"), &["send", "please review", "--to", "@reviewer"]);
    let push = read(&mut ws);
    assert_eq!(push["method"], "notification.message", "{push}");
    assert_eq!(push["params"]["message_id"], sent.message_id.as_str());
    assert_eq!(push["params"]["matched_subscription"]["match_type"], "mention");
    // Sending over the WebSocket works too (the caller names itself).
    let r = call(
        &mut ws,
        3,
        "message.send",
        json!({ "content": "from the browser", "mentions": ["alice"], "caller_agent_id": "bob" }),
    );
    assert!(r["result"]["message_id"].as_str().unwrap().starts_with("msg_"), "{r}");
    assert_eq!(env.json_as::<Page>(Some("alice"), &["inbox"]).total, 1);
    // Without a caller, a write is refused.
    let r = call(&mut ws, 4, "message.send", json!({ "content": "who am I", "mentions": ["alice"] }));
    assert_eq!(r["error"]["code"], -32001, "{r}");
}

#[test]
fn foreign_hosts_and_origins_are_refused() {
    let env = team();
    let p = port(&env);
    let mut req = format!("ws://127.0.0.1:{p}/ws").into_client_request().unwrap();
    req.headers_mut().insert("Origin", "https://evil.example".parse().unwrap());
    match connect(req) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("a cross-site page was let in: {:?}", other.map(|_| ())),
    }
    let mut req = format!("ws://127.0.0.1:{p}/ws").into_client_request().unwrap();
    req.headers_mut().insert("Host", format!("rebound.example:{p}").parse().unwrap());
    match connect(req) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("a DNS-rebinding request was let in: {:?}", other.map(|_| ())),
    }
    // A local page is fine.
    let mut req = format!("ws://127.0.0.1:{p}/ws").into_client_request().unwrap();
    req.headers_mut().insert("Origin", format!("http://localhost:{p}").parse().unwrap());
    assert!(connect(req).is_ok());
}

#[test]
fn a_browser_user_registers_and_talks_with_agents() {
    let env = team();
    let (mut ws, _) = connect(format!("ws://127.0.0.1:{}/ws", port(&env))).unwrap();
    let who = call(&mut ws, 1, "user.identify", json!({}));
    assert_eq!(who["result"]["username"], "test-user");
    let r = call(&mut ws, 2, "user.register", json!({ "username": "leon", "display": "Leon" }));
    assert_eq!(r["result"]["user_id"], "user:leon", "{r}");
    assert_eq!(r["result"]["status"], "registered");
    assert!(r["result"]["token"].as_str().unwrap().starts_with("tok_"));
    // From now on this connection speaks as user:leon.
    let sent = call(&mut ws, 3, "message.send", json!({ "content": "hello from the UI", "mentions": ["alice"] }));
    assert!(sent["result"]["message_id"].is_string(), "{sent}");
    let inbox: Page = env.json_as(Some("alice"), &["inbox"]);
    assert_eq!(inbox.messages[0].agent_id, "user:leon");
    // Agents can answer the user.
    env.ok(Some("alice"), &["reply", &inbox.messages[0].message_id, "hi Leon"]);
    let mine = call(
        &mut ws,
        4,
        "message.list",
        json!({ "for_agent": "user:leon", "exclude_self": true, "caller_agent_id": "user:leon" }),
    );
    assert_eq!(mine["result"]["messages"][0]["body"]["content"], "hi Leon", "{mine}");
    // Registering again is idempotent; bad names are refused.
    let again = call(&mut ws, 5, "user.register", json!({ "username": "leon" }));
    assert_eq!(again["result"]["status"], "existing");
    let bad = call(&mut ws, 6, "user.register", json!({ "username": "agent:x" }));
    assert!(bad["error"]["message"].as_str().unwrap().contains("agent:"), "{bad}");
    // Browsers never reach the peer commands or daemon control.
    for (i, method) in ["peer.add", "peer.list", "peer.remove", "peer.configure", "daemon.shutdown"].iter().enumerate()
    {
        let r = call(&mut ws, 20 + i as u64, method, json!({ "type": "local", "name": "x" }));
        assert_eq!(r["error"]["code"], -32001, "{method}: {r}");
        assert!(r["error"]["message"].as_str().unwrap().contains("only available on the local socket"), "{r}");
    }
    // Over the Unix socket it is refused.
    let (code, err) = env.fail(None, &["rpc", "user.register", r#"{"username":"x"}"#]);
    assert_eq!(code, 1);
    assert!(err.contains("only available over the WebSocket"), "{err}");
}

/// A subscriber that drops off and comes back: subscribing again is
/// idempotent, `message.list` with `created_after` catches up on what was
/// sent meanwhile, and pushes flow again on the new connection.
#[test]
fn a_subscriber_reconnects_catches_up_and_gets_pushes_again() {
    let env = team();
    let url = format!("ws://127.0.0.1:{}/ws", port(&env));
    let (mut ws, _) = connect(&url).unwrap();
    let sub = call(&mut ws, 1, "subscribe", json!({ "all": true, "caller_agent_id": "bob" }));
    let sub_id = sub["result"]["subscription_id"].clone();
    let first: Sent = env.json_as(Some("alice"), &["send", "before the drop", "--to", "@bob"]);
    assert_eq!(read(&mut ws)["params"]["message_id"], first.message_id.as_str());
    let seen_at = first.created_at.clone();
    ws.close(None).unwrap();
    drop(ws);
    // Sent while nobody listens.
    let missed: Sent = env.json_as(Some("alice"), &["send", "while away", "--to", "@bob"]);
    let (mut ws, _) = connect(&url).unwrap();
    let again = call(&mut ws, 1, "subscribe", json!({ "all": true, "caller_agent_id": "bob" }));
    assert_eq!(again["result"]["subscription_id"], sub_id, "the same subscription, not a second one");
    let caught = call(
        &mut ws,
        2,
        "message.list",
        json!({ "for_agent": "bob", "created_after": seen_at, "caller_agent_id": "bob", "sort_order": "asc" }),
    );
    let ids: Vec<&str> =
        caught["result"]["messages"].as_array().unwrap().iter().filter_map(|m| m["message_id"].as_str()).collect();
    assert_eq!(ids, [missed.message_id.as_str()], "{caught}");
    let after: Sent = env.json_as(Some("alice"), &["send", "after the return", "--to", "@bob"]);
    assert_eq!(read(&mut ws)["params"]["message_id"], after.message_id.as_str());
}

/// Oversized and binary garbage frames are refused without taking the
/// daemon (or other connections) down.
#[test]
fn oversized_and_garbage_frames_do_not_hurt_the_daemon() {
    let env = team();
    let url = format!("ws://127.0.0.1:{}/ws", port(&env));
    let (mut bystander, _) = connect(&url).unwrap();
    let (mut ws, _) = connect(&url).unwrap();
    ws.send(Message::Binary(vec![0xff, 0x00, 0x13, 0x37].into())).unwrap();
    assert_eq!(read(&mut ws)["error"]["code"], -32700);
    let huge = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"health","params":{{"pad":"{}"}}}}"#, "x".repeat(2 << 20));
    let _ = ws.send(Message::Text(huge.into()));
    // The big frame ends that connection (with an error frame or a close);
    // either way the daemon and the other connection carry on.
    loop {
        match ws.read() {
            Ok(Message::Text(t)) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                assert_eq!(v["error"]["code"], -32600, "{v}");
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    assert_eq!(call(&mut bystander, 2, "health", json!({}))["result"]["status"], "ok");
    let (mut fresh, _) = connect(&url).unwrap();
    assert_eq!(call(&mut fresh, 3, "health", json!({}))["result"]["status"], "ok");
}

/// The web UI is served on the same port, with a strict content policy,
/// deep links fall back to the page, and foreign Hosts are refused.
#[test]
fn the_web_ui_is_served_locally_only() {
    use std::io::{Read, Write};
    let env = team();
    let p = port(&env);
    let get = |path: &str, host: &str| -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", p)).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let page = get("/", &format!("localhost:{p}"));
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.to_lowercase().contains("content-security-policy: default-src 'none'"), "{page}");
    assert!(page.contains("/assets/app.js"));
    let deep = get("/group/team", &format!("127.0.0.1:{p}"));
    assert!(deep.starts_with("HTTP/1.1 200") && deep.contains("<html"), "deep links serve the page");
    let js = get("/assets/app.js", &format!("127.0.0.1:{p}"));
    assert!(js.to_lowercase().contains("content-type: text/javascript"), "{}", &js[..200.min(js.len())]);
    let rebound = get("/", &format!("attacker.example:{p}"));
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
}
