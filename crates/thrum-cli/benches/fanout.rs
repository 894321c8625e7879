//! Fan-out: 200 WebSocket subscribers while messages are sent at a fixed
//! rate. Reports, for each subscriber, whether it received every message
//! in commit order, and the delivery latency.
//!
//! Run with `cargo bench --bench fanout` (THRUM_FANOUT_RATE, _SUBSCRIBERS,
//! _MESSAGES and _SENDERS override 1000 msg/s, 200 subscribers, 2000
//! messages, 8 sending connections).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use thrum_testkit::{RawConn, TestEnv};
use tokio_tungstenite::tungstenite::Message;

/// The parts of a push the benchmark checks (the rest is skipped unread).
#[derive(Deserialize)]
struct Push<'a> {
    #[serde(borrow, default)]
    method: Option<&'a str>,
    #[serde(borrow, default)]
    params: Option<PushParams<'a>>,
}

#[derive(Deserialize)]
struct PushParams<'a> {
    #[serde(borrow, default)]
    message_id: Option<&'a str>,
    #[serde(default)]
    count: Option<u64>,
}

/// One subscriber: subscribes to everything, says it is ready, then
/// collects message ids (with arrival times) until it has them all.
async fn subscriber(port: u16, messages: usize, ready: std::sync::mpsc::Sender<()>) -> (Vec<(String, Instant)>, u64) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await.unwrap();
    let sub = json!({ "jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": { "all": true, "caller_agent_id": "bob" } });
    ws.send(Message::Text(sub.to_string().into())).await.unwrap();
    let _ = ws.next().await.unwrap().unwrap();
    ready.send(()).unwrap();
    let mut ids = Vec::with_capacity(messages);
    let mut missed = 0u64;
    while ids.len() as u64 + missed < messages as u64 {
        let Some(Ok(Message::Text(t))) = ws.next().await else { break };
        let p: Push<'_> = serde_json::from_str(&t).unwrap();
        match (p.method, p.params) {
            (Some("notification.message"), Some(pp)) => ids.push((pp.message_id.unwrap().to_string(), Instant::now())),
            (Some("notification.missed"), Some(pp)) => missed += pp.count.unwrap_or(0),
            _ => {}
        }
    }
    (ids, missed)
}

fn env_or(k: &str, d: usize) -> usize {
    std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("fanout: benchmark");
        return;
    }
    let subscribers = env_or("THRUM_FANOUT_SUBSCRIBERS", 200);
    let messages = env_or("THRUM_FANOUT_MESSAGES", 2000);
    let rate = env_or("THRUM_FANOUT_RATE", 1000);
    let env = TestEnv::with_agents(env!("CARGO_BIN_EXE_thrum"), &[("alice", "dev", "m"), ("bob", "rev", "m")]);
    std::env::set_current_dir(env.repo()).unwrap();
    let port: u16 = std::fs::read_to_string(env.thrum_dir().join("var/ws.port")).unwrap().trim().parse().unwrap();
    // The subscribers are tasks on one single-threaded runtime: 200
    // blocking threads would spend most of the machine switching between
    // themselves, and real subscribers live in other processes anyway.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let clients = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let tasks: Vec<_> = (0..subscribers)
                .map(|_| {
                    let ready = ready_tx.clone();
                    tokio::spawn(subscriber(port, messages, ready))
                })
                .collect();
            let mut out = Vec::with_capacity(tasks.len());
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        })
    });
    for _ in 0..subscribers {
        ready_rx.recv().unwrap();
    }
    // Paced sends from SENDERS connections (a lone sender waiting for each
    // durable ack could not reach 1,000 msg/s by itself), remembering when
    // each message was acknowledged.
    let senders = env_or("THRUM_FANOUT_SENDERS", 8);
    let start = Instant::now();
    let socket = env.socket();
    let handles: Vec<_> = (0..senders)
        .map(|k| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut sender = RawConn::connect(&socket);
                let mut sent: Vec<(String, Instant)> = Vec::new();
                for n in (k..messages).step_by(senders) {
                    let due = start + Duration::from_secs_f64(n as f64 / rate as f64);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let t = Instant::now();
                    let r = sender.call(
                        n as u64,
                        "message.send",
                        json!({ "content": format!("fan {n}"), "mentions": ["bob"], "caller_agent_id": "alice" }),
                    );
                    sent.push((r["result"]["message_id"].as_str().unwrap().to_string(), t));
                }
                sent
            })
        })
        .collect();
    let per_sender: Vec<Vec<(String, Instant)>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let send_secs = start.elapsed().as_secs_f64();
    let sent_at: std::collections::HashMap<&str, Instant> =
        per_sender.iter().flatten().map(|(id, t)| (id.as_str(), *t)).collect();
    let sender_of: std::collections::HashMap<&str, usize> =
        per_sender.iter().enumerate().flat_map(|(k, v)| v.iter().map(move |(id, _)| (id.as_str(), k))).collect();
    let (mut complete, mut lossy, mut reordered) = (0, 0, 0);
    let mut lat = Vec::new();
    let mut reference: Option<Vec<String>> = None;
    for (ids, missed) in clients.join().unwrap() {
        let got: Vec<String> = ids.iter().map(|(id, _)| id.clone()).collect();
        // In order: each sender's messages in the order it sent them, and
        // every subscriber saw the same overall (commit) order.
        let mut per: Vec<Vec<&str>> = vec![Vec::new(); senders];
        for id in &got {
            if let Some(k) = sender_of.get(id.as_str()) {
                per[*k].push(id.as_str());
            }
        }
        let sender_order_ok =
            per.iter().zip(&per_sender).all(|(g, s)| g.iter().copied().eq(s.iter().map(|(id, _)| id.as_str())));
        let same_as_others = reference.as_ref().is_none_or(|r| *r == got);
        if missed > 0 || got.len() < messages {
            lossy += 1;
        } else if !sender_order_ok || !same_as_others {
            reordered += 1;
        } else {
            complete += 1;
            reference.get_or_insert(got.clone());
        }
        for (id, at) in &ids {
            if let Some(t) = sent_at.get(id.as_str()) {
                lat.push(at.duration_since(*t));
            }
        }
    }
    lat.sort();
    let pct = |p: f64| lat.get(((lat.len().max(1) - 1) as f64 * p) as usize).copied().unwrap_or_default();
    println!(
        "fan-out: {subscribers} WebSocket subscribers, {messages} messages from {senders} senders at {:.0} msg/s achieved (target {rate}): \
         {complete} got every message in order, {lossy} missed some (told how many), {reordered} saw a different order; \
         delivery p50 {:.1} ms, p99 {:.1} ms",
        messages as f64 / send_secs,
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
}
