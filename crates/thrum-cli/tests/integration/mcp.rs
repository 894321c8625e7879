//! `thrum mcp serve` driven by a real MCP client we did not write: the
//! official Python SDK (`tests/mcp/client.py`), installed on first run into
//! `target/mcp-venv` from `tests/mcp/requirements.txt`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{BIN, env_with};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The venv's python, creating the venv when it is missing.
fn python() -> PathBuf {
    let venv = workspace().join("target/mcp-venv");
    let py = venv.join("bin/python");
    let marker = venv.join(".installed");
    if marker.exists() {
        return py;
    }
    let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().unwrap();
    assert!(made.success(), "python3 -m venv failed: install python3 and python3-venv");
    let reqs = workspace().join("tests/mcp/requirements.txt");
    let out = Command::new(&py).args(["-m", "pip", "install", "-q", "-r"]).arg(&reqs).output().unwrap();
    assert!(out.status.success(), "pip install -r {} failed: {}", reqs.display(), String::from_utf8_lossy(&out.stderr));
    std::fs::write(&marker, "").unwrap();
    py
}

#[test]
fn a_real_mcp_client_sends_checks_waits_and_survives_a_daemon_restart() {
    let py = python();
    let env = env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    let mut cmd = env.hermetic(Command::new(py));
    cmd.arg(workspace().join("tests/mcp/client.py"))
        .current_dir(env.repo())
        .env("THRUM_BIN", BIN)
        .env("THRUM_REPO", env.repo());
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("MCP OK"),
        "the MCP client failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
