//! Whole-system socket benchmarks against a real daemon:
//! - durable `message.send` throughput with 16 concurrent clients;
//! - send → `message.wait` wake-up latency (p50/p99).
//!
//! Run with `cargo bench --bench socket`. Prints medians and percentiles.
//! `THRUM_BENCH_BIN=/path/to/thrum` times another build's daemon with the
//! same client code (for A/B runs).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde_json::json;
use thrum_testkit::{RawConn, TestEnv};

const CLIENTS: usize = 16;
const PER_CLIENT: usize = 2_000;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("socket: benchmark");
        return;
    }
    let agents: Vec<(String, String, String)> =
        (0..CLIENTS).map(|i| (format!("agent_{i}"), "dev".to_string(), "bench".to_string())).collect();
    let refs: Vec<(&str, &str, &str)> = agents.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
    let bin = std::env::var("THRUM_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_thrum").to_string());
    let env = TestEnv::with_agents(&bin, &refs);
    // `init` leaves a new repository local-only; the throughput round
    // "sync to a local bare remote on" needs sync.
    env.ok(None, &["config", "set", "daemon.local_only", "false"]);
    env.ok(None, &["daemon", "restart"]);
    // The daemon identifies callers by working directory: be in the repo.
    std::env::set_current_dir(env.repo()).unwrap();

    // Latency first, on a daemon with nothing else to do: after the
    // throughput rounds below, git sync is still pushing their ~100,000
    // events for a while, and the measurement would be of that instead.
    // Latency: a waiter blocks in message.wait; a sender sends; measure
    // from just before the send to the waiter's return.
    let sock = env.socket();
    let mut lat = Vec::new();
    let mut sender = RawConn::connect(&sock);
    for n in 0..300u64 {
        let after = chrono_now();
        let (tx, rx) = std::sync::mpsc::channel::<(Instant, String)>();
        let sock2 = sock.clone();
        let waiter = std::thread::spawn(move || {
            let mut w = RawConn::connect(&sock2);
            let r =
                w.call(1, "message.wait", json!({ "caller_agent_id": "agent_1", "after": after, "timeout_ms": 5000 }));
            let done = Instant::now();
            assert_eq!(r["result"]["status"], "received", "{r}");
            tx.send((done, r["result"]["message"]["message_id"].as_str().unwrap_or("").to_string())).unwrap();
        });
        // Let the waiter reach its blocking point.
        std::thread::sleep(Duration::from_millis(3));
        let t = Instant::now();
        let r = sender.call(
            n,
            "message.send",
            json!({ "content": "ping", "mentions": ["agent_1"], "caller_agent_id": "agent_0" }),
        );
        let sent = r["result"]["message_id"].as_str().unwrap_or("").to_string();
        let (done, got) = rx.recv().unwrap();
        waiter.join().unwrap();
        assert_eq!(got, sent, "the waiter woke for an older message");
        lat.push(done.duration_since(t));
    }
    {
        // Where the tail comes from: stalls that recur (a checkpoint, a
        // WAL restart) show as neighbouring sample numbers.
        let mut idx: Vec<(usize, f64)> = lat.iter().enumerate().map(|(i, d)| (i, d.as_secs_f64() * 1000.0)).collect();
        idx.sort_by(|a, b| b.1.total_cmp(&a.1));
        let worst: Vec<String> = idx.iter().take(8).map(|(i, ms)| format!("#{i} {ms:.2} ms")).collect();
        println!("send -> message.wait: slowest samples {}", worst.join(", "));
    }
    report("send -> message.wait wake-up", &mut lat);

    // Push latency: a WebSocket client subscribed to mentions of agent_2.
    let port: u16 = std::fs::read_to_string(env.thrum_dir().join("var/ws.port")).unwrap().trim().parse().unwrap();
    let (mut ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{port}/ws")).unwrap();
    let sub = json!({ "jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": { "mention_role": "agent_2", "caller_agent_id": "agent_2" } });
    ws.send(tungstenite::Message::Text(sub.to_string().into())).unwrap();
    let _ = ws.read().unwrap();
    let mut lat = Vec::new();
    for n in 0..300u64 {
        let t = Instant::now();
        let r = sender.call(
            10_000 + n,
            "message.send",
            json!({ "content": "push", "mentions": ["agent_2"], "caller_agent_id": "agent_0" }),
        );
        let sent = r["result"]["message_id"].as_str().unwrap_or("").to_string();
        loop {
            if let tungstenite::Message::Text(t2) = ws.read().unwrap() {
                let v: serde_json::Value = serde_json::from_str(&t2).unwrap();
                if v["params"]["message_id"] == sent.as_str() {
                    break;
                }
            }
        }
        lat.push(t.elapsed());
    }
    report("send -> WebSocket push", &mut lat);

    // Throughput with git sync running (to a bare remote on this same
    // machine, so the remote's unpacking is charged here too).
    throughput(&env, "sync to a local bare remote on");

    // Throughput of the daemon's write path alone (`daemon start --local`).
    env.ok(None, &["daemon", "stop"]);
    env.ok(None, &["daemon", "start", "--local"]);
    throughput(&env, "local-only daemon");
}

/// 16 clients, each sending PER_CLIENT messages back to back; prints the
/// median rate of three rounds.
fn throughput(env: &TestEnv, label: &str) {
    let mut rates = Vec::new();
    for round in 0..3 {
        let barrier = Arc::new(Barrier::new(CLIENTS + 1));
        let handles: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let sock = env.socket();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let mut c = RawConn::connect(&sock);
                    let me = format!("agent_{i}");
                    let to = format!("agent_{}", (i + 1) % CLIENTS);
                    barrier.wait();
                    for n in 0..PER_CLIENT {
                        let r = c.call(
                            n as u64,
                            "message.send",
                            json!({ "content": format!("round {round} msg {n}"), "mentions": [to], "caller_agent_id": me }),
                        );
                        assert!(r.get("result").is_some(), "{r}");
                    }
                })
            })
            .collect();
        barrier.wait();
        let t = Instant::now();
        for h in handles {
            h.join().unwrap();
        }
        let rate = (CLIENTS * PER_CLIENT) as f64 / t.elapsed().as_secs_f64();
        rates.push(rate);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "message.send, {CLIENTS} concurrent clients, durable acks, {label}: median {:.0} msg/s (runs: {})",
        rates[1],
        rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ")
    );
}

fn report(what: &str, lat: &mut [Duration]) {
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize];
    println!(
        "{what}: p50 {:.2} ms, p99 {:.2} ms (includes the durable send itself)",
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
}

/// RFC 3339 "now": only messages sent from here on wake the waiter.
fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
