//! MCP tool-call round trips over stdio: `thrum mcp serve` as a child
//! process, raw JSON-RPC lines on its stdin/stdout (no client library in the
//! way), timing `send_message` and `check_messages` from request written to
//! response read. Run with `cargo bench --bench mcp`; prints medians and p99.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use thrum_testkit::TestEnv;

const CALLS: usize = 500;

/// The server's stdio, one JSON-RPC message per line.
struct Stdio2 {
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    next_id: u64,
}

impl Stdio2 {
    fn send(&mut self, msg: &Value) {
        writeln!(self.input, "{msg}").unwrap();
        self.input.flush().unwrap();
    }

    /// One request; returns its response and the round-trip time.
    fn call(&mut self, method: &str, params: Value) -> (Value, Duration) {
        self.next_id += 1;
        let id = self.next_id;
        let t = Instant::now();
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let mut line = String::new();
            self.output.read_line(&mut line).unwrap();
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == json!(id) {
                return (v, t.elapsed());
            }
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("mcp: benchmark");
        return;
    }
    let env = TestEnv::with_agents(env!("CARGO_BIN_EXE_thrum"), &[("alice", "dev", "m"), ("bob", "rev", "m")]);
    let mut child = env
        .hermetic(Command::new(env!("CARGO_BIN_EXE_thrum")))
        .args(["mcp", "serve", "--agent-id", "alice"])
        .current_dir(env.repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut io =
        Stdio2 { input: child.stdin.take().unwrap(), output: BufReader::new(child.stdout.take().unwrap()), next_id: 0 };
    let (init, _) = io.call(
        "initialize",
        json!({ "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "bench", "version": "0" } }),
    );
    assert!(init.get("result").is_some(), "{init}");
    io.send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
    let (tools, _) = io.call("tools/list", json!({}));
    assert!(tools["result"]["tools"].as_array().is_some_and(|t| t.len() >= 11), "{tools}");
    let mut send = Vec::new();
    let mut check = Vec::new();
    for n in 0..CALLS {
        let (v, d) = io.call(
            "tools/call",
            json!({ "name": "send_message", "arguments": { "to": "@bob", "content": format!("bench {n}") } }),
        );
        assert_eq!(v["result"]["isError"], json!(false), "{v}");
        send.push(d);
        let (v, d) = io.call("tools/call", json!({ "name": "check_messages", "arguments": { "limit": 10 } }));
        assert_eq!(v["result"]["isError"], json!(false), "{v}");
        check.push(d);
    }
    report("send_message", &mut send);
    report("check_messages", &mut check);
    drop(io);
    let _ = child.kill();
    let _ = child.wait();
}

fn report(what: &str, v: &mut [Duration]) {
    v.sort();
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e3;
    println!(
        "MCP {what} round trip over stdio: median {:.2} ms, p99 {:.2} ms ({} calls)",
        pct(0.5),
        pct(0.99),
        v.len()
    );
}
