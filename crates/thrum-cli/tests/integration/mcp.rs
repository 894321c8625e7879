//! `thrum mcp serve` driven by a real MCP client we did not write: the
//! official Python SDK (`tests/mcp/client.py`), installed on first run into
//! `target/mcp-venv` from `tests/mcp/requirements.txt`.

use std::path::PathBuf;
use std::process::Command;

use crate::{BIN, env_with, workspace};

/// The venv's python, creating the venv when it is missing.
pub(crate) fn python() -> PathBuf {
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

/// `thrum setup mcp` and `thrum init --runtime` merge the runtime's MCP
/// configuration: other servers and settings survive, the old file is kept
/// as a backup, a second run changes nothing, and a file that is not valid
/// JSON is refused untouched.
#[test]
fn mcp_client_configuration_is_merged_not_clobbered() {
    let env = env_with(&[("alice", "implementer", "auth")]);
    let mcp_json = env.repo().join(".mcp.json");
    let old = r#"{"mcpServers":{"other":{"command":"other-server"}},"keep":true}"#;
    std::fs::write(&mcp_json, old).unwrap();
    env.ok(None, &["setup", "mcp", "--runtime", "claude", "--agent", "alice"]);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&mcp_json).unwrap()).unwrap();
    assert_eq!(v["keep"], true);
    assert_eq!(v["mcpServers"]["other"]["command"], "other-server");
    assert_eq!(v["mcpServers"]["thrum"]["command"], "thrum");
    assert_eq!(v["mcpServers"]["thrum"]["args"], serde_json::json!(["mcp", "serve", "--agent-id", "alice"]));
    assert_eq!(std::fs::read_to_string(env.repo().join(".mcp.json.bak")).unwrap(), old);
    let again = env.ok(None, &["setup", "mcp", "--runtime", "claude", "--agent", "alice"]);
    assert!(again.contains("already configured"), "{again}");

    // Not JSON: refused, left as it was.
    let cursor = env.repo().join(".cursor/mcp.json");
    std::fs::create_dir_all(cursor.parent().unwrap()).unwrap();
    std::fs::write(&cursor, "{ oops").unwrap();
    let (code, err) = env.fail(None, &["setup", "mcp", "--runtime", "cursor"]);
    assert_eq!(code, 1);
    assert!(err.contains("not valid JSON") && err.contains("nothing was changed"), "{err}");
    assert_eq!(std::fs::read_to_string(&cursor).unwrap(), "{ oops");

    // Unknown runtimes are named; codex goes to ~/.codex/config.toml.
    let (_, err) = env.fail(None, &["setup", "mcp", "--runtime", "emacs"]);
    assert!(err.contains("emacs") && err.contains("claude, codex, cursor, gemini"), "{err}");
    env.ok(None, &["setup", "mcp", "--runtime", "codex"]);
    let toml = std::fs::read_to_string(env.home().join(".codex/config.toml")).unwrap();
    assert!(toml.contains("[mcp_servers.thrum]") && toml.contains(r#"args = ["mcp", "serve"]"#), "{toml}");

    // init --runtime writes it too.
    env.ok(None, &["init", "--runtime", "gemini"]);
    let gem: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.repo().join(".gemini/settings.json")).unwrap()).unwrap();
    assert_eq!(gem["mcpServers"]["thrum"]["args"], serde_json::json!(["mcp", "serve"]));
}
