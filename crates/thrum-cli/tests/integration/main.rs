//! End-to-end tests: the real `thrum` binary, a real daemon on a real
//! socket, real git with a bare remote, in throw-away directories.

#![allow(clippy::unwrap_used)]

mod backup;
mod browser;
mod claude;
mod claude_delivery;
mod codex;
mod config;
mod coordination;
mod daemon;
mod daemon_log;
mod errors;
mod frontends;
mod gemini;
mod guards;
mod hooks_claude;
mod hooks_other;
mod identity;
mod init;
mod json_shapes;
mod legacy;
mod mcp;
mod messaging;
mod monitor;
mod opencode;
mod parity;
mod peers;
mod robustness;
mod rpc;
mod sync;
mod tmux_claude_doorbell;
mod tmux_doorbell;
mod tmux_permission;
mod tmux_queue;
mod tmux_restart;
mod tmux_sessions;
mod websocket;
mod wire;
mod worktree;

use thrum_testkit::TestEnv;

pub const BIN: &str = env!("CARGO_BIN_EXE_thrum");

/// The workspace root (for files the tests use: tests/browser, tests/mcp).
pub fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A repository with thrum initialized and these agents registered.
/// Runs a Python script as a raw socket client inside the worktree (the
/// daemon identifies callers by their working directory); its stdout.
pub fn python_in_repo(env: &TestEnv, script: &str) -> String {
    let out = env
        .hermetic(std::process::Command::new("python3"))
        .arg("-c")
        .arg(script)
        .current_dir(env.repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn env_with(agents: &[(&str, &str, &str)]) -> TestEnv {
    TestEnv::with_agents(BIN, agents)
}

/// alice (implementer/auth), bob (reviewer/auth), carol (reviewer/ui).
pub fn team() -> TestEnv {
    env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth"), ("carol", "reviewer", "ui")])
}
