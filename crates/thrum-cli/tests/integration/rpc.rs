//! The socket protocol under bad input: malformed, oversized and
//! half-written frames, anonymous and forged callers, many clients.

use serde_json::{Value, json};
use thrum_testkit::RawConn;

use crate::team;
use crate::wire::{Health, JsonAs, Page};

#[test]
fn malformed_frames_get_errors_and_the_connection_survives() {
    let env = team();
    let mut c = RawConn::connect(&env.socket());
    c.send_raw(b"this is not json\n");
    let r = c.read_line();
    assert_eq!(r["error"]["code"], -32700);
    assert_eq!(r["id"], Value::Null);
    c.send_raw(b"{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"health\"}\n");
    let r = c.read_line();
    assert_eq!(r["error"]["code"], -32600);
    assert_eq!(r["id"], 7);
    let r = c.call(8, "no.such.method", json!({}));
    assert_eq!(r["error"]["code"], -32601);
    let r = c.call(9, "message.get", json!({ "message_id": 42 }));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    // Fields this daemon does not know (the original's clients send some,
    // such as acting_as and body) are ignored, not refused.
    let r = c.call(11, "agent.list", json!({ "role": "implementer", "from_a_newer_client": [1, 2] }));
    assert!(r["result"]["agents"].is_array(), "{r}");
    let r = c.call(12, "health", json!({ "verbose": true }));
    assert_eq!(r["result"]["status"], "ok", "{r}");
    // Still healthy after all that.
    let r = c.call(10, "health", json!({}));
    assert_eq!(r["result"]["status"], "ok");
    assert_eq!(r["id"], 10);
}

#[test]
fn oversized_frame_is_refused_without_disturbing_others() {
    let env = team();
    let mut big = RawConn::connect(&env.socket());
    let mut other = RawConn::connect(&env.socket());
    let mut frame = br#"{"jsonrpc":"2.0","id":1,"method":"health","params":{"pad":""#.to_vec();
    frame.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    frame.extend_from_slice(b"\"}}\n");
    let writer = {
        let mut s = big.stream.try_clone().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = s.write_all(&frame);
        })
    };
    let r = big.read_line();
    assert_eq!(r["error"]["code"], -32600);
    assert!(r["error"]["message"].as_str().unwrap().contains("too large"));
    writer.join().unwrap();
    assert_eq!(other.call(2, "health", json!({}))["result"]["status"], "ok");
    assert_eq!(big.call(3, "health", json!({}))["result"]["status"], "ok");
}

#[test]
fn half_written_request_then_hangup_does_not_hurt_the_daemon() {
    let env = team();
    {
        let mut c = RawConn::connect(&env.socket());
        c.send_raw(br#"{"jsonrpc":"2.0","id":1,"method":"message.send","params":{"content":"half"#);
        // Dropped mid-frame.
    }
    let mut c = RawConn::connect(&env.socket());
    assert_eq!(c.call(1, "health", json!({}))["result"]["status"], "ok");
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 0);
}

#[test]
fn anonymous_callers_may_only_read() {
    let env = team();
    // A process outside every worktree of this repository.
    let outside = env.dir.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    let send = json!({ "content": "forged", "mentions": ["bob"], "caller_agent_id": "alice" }).to_string();
    let out = env.thrum_in(&outside, &["rpc", "message.send", &send]).env("THRUM_HOME", env.repo()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("anonymous caller cannot invoke \"message.send\""), "{err}");
    // Reads are fine.
    let out = env.thrum_in(&outside, &["rpc", "agent.list"]).env("THRUM_HOME", env.repo()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The raw test process is outside too.
    let mut c = RawConn::connect(&env.socket());
    let r = c.call(1, "message.send", serde_json::from_str(&send).unwrap());
    assert_eq!(r["error"]["code"], -32002);
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 0);
    // No write of any family gets through, the peer commands included (an
    // outsider must not get a live pairing code), nor stopping the daemon.
    let writes = [
        ("peer.add", json!({ "type": "local" })),
        ("peer.remove", json!({ "name": "x" })),
        ("peer.configure", json!({ "name": "x", "action": "add-agent", "agent": "y" })),
        ("peer.join", json!({ "type": "local", "peercode": "x:127.0.0.1:1:1" })),
        ("group.create", json!({ "name": "g" })),
        ("agent.delete", json!({ "name": "bob" })),
        ("message.markRead", json!({ "message_ids": [] })),
        ("daemon.shutdown", json!({})),
    ];
    for (i, (method, params)) in writes.into_iter().enumerate() {
        let r = c.call(10 + i as u64, method, params);
        assert_eq!(r["error"]["code"], -32002, "{method}: {r}");
    }
    assert_eq!(c.call(30, "health", json!({}))["result"]["status"], "ok");
}

#[test]
fn daemon_shutdown_stops_the_daemon_after_answering() {
    let env = team();
    let pid = env.json_as::<Health>(None, &["rpc", "health"]).pid;
    /// `rpc daemon.shutdown --json` (its result).
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Stopping {
        status: String,
        pid: u32,
    }
    let r: Stopping = env.json_as(Some("alice"), &["rpc", "daemon.shutdown"]);
    assert_eq!((r.status.as_str(), r.pid), ("stopping", pid));
    // It exits on its own (the socket goes away); wait with a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while env.socket().exists() {
        assert!(std::time::Instant::now() < deadline, "the daemon is still running");
        std::thread::yield_now();
    }
    // The next command starts a fresh one.
    assert_ne!(env.json_as::<Health>(None, &["rpc", "health"]).pid, pid);
}

#[test]
fn a_caller_id_that_contradicts_the_kernel_is_rejected() {
    let env = team();
    let send = json!({ "content": "forged", "mentions": ["bob"], "caller_agent_id": "mallory" }).to_string();
    let out = env.run_as(None, &["rpc", "message.send", &send]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("identity_mismatch"), "{err}");
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 0);
}

#[test]
fn many_concurrent_connections() {
    let env = team();
    let sock = env.socket();
    let handles: Vec<_> = (0..32)
        .map(|i| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                let mut c = RawConn::connect(&sock);
                for j in 0..20 {
                    let r = c.call(j, "message.list", json!({ "page_size": 5 }));
                    assert!(r.get("result").is_some(), "client {i}: {r}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
