//! Fan-out: 200 WebSocket subscribers while messages are sent at a fixed
//! rate. Reports, for each subscriber, whether it received every message
//! in commit order, and the delivery latency.
//!
//! Run with `cargo bench --bench fanout` (THRUM_FANOUT_RATE, _SUBSCRIBERS,
//! _MESSAGES and _SENDERS override 1000 msg/s, 200 subscribers, 2000
//! messages, 4 sending connections).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::json;
use thrum_testkit::{RawConn, TestEnv};
use tungstenite::Message;

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
    let ready = Arc::new(Barrier::new(subscribers + 1));
    let clients: Vec<_> = (0..subscribers)
        .map(|_| {
            let ready = ready.clone();
            std::thread::spawn(move || {
                let (mut ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{port}/ws")).unwrap();
                let sub = json!({ "jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": { "all": true, "caller_agent_id": "bob" } });
                ws.send(Message::Text(sub.to_string().into())).unwrap();
                let _ = ws.read().unwrap();
                ready.wait();
                let mut ids = Vec::with_capacity(messages);
                let mut missed = 0u64;
                while ids.len() as u64 + missed < messages as u64 {
                    match ws.read() {
                        Ok(Message::Text(t)) => {
                            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                            match v["method"].as_str() {
                                Some("notification.message") => ids.push((v["params"]["message_id"].as_str().unwrap().to_string(), Instant::now())),
                                Some("notification.missed") => missed += v["params"]["count"].as_u64().unwrap_or(0),
                                _ => {}
                            }
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                (ids, missed)
            })
        })
        .collect();
    ready.wait();
    // Paced sends from SENDERS connections (a lone sender waiting for each
    // durable ack could not reach 1,000 msg/s by itself), remembering when
    // each message was acknowledged.
    let senders = env_or("THRUM_FANOUT_SENDERS", 4);
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
    for c in clients {
        let (ids, missed) = c.join().unwrap();
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
