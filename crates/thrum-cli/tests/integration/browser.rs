//! The web UI in a real browser: headless Chromium (Debian's package)
//! driven by Playwright (`tests/browser/ui.mjs`), against a real daemon,
//! with the CLI on the other side. Screenshots of the main views land in
//! `target/ui-screenshots/`.
//!
//! Needs `chromium` and `node` on PATH (`.ci/run` installs them); the
//! Playwright library is installed into `tests/browser/node_modules` from
//! the committed lock file on first run.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::wire::{JsonAs, Page, Sent};
use crate::{env_with, workspace};

fn require(tool: &str, fix: &str) {
    let found =
        Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is not installed: {fix} (or run `bash .ci/run`, which installs it)");
}

/// Installs playwright-core from the lock file unless it is already there.
fn playwright(dir: &Path) {
    if dir.join("node_modules/playwright-core/package.json").exists() {
        return;
    }
    let out = Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "npm ci in {} failed: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn inbox_texts(env: &thrum_testkit::TestEnv, agent: &str) -> Vec<String> {
    let v: Page = env.json_as(Some(agent), &["inbox", "--all", "--limit", "50"]);
    v.messages.into_iter().map(|m| m.body.content).collect()
}

#[test]
fn the_web_ui_shows_live_messages_and_replies_reach_the_cli() {
    require("chromium", "apt-get install -y chromium");
    require("node", "install Node.js 18 or newer");
    let dir = workspace().join("tests/browser");
    playwright(&dir);

    let env = env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    // A fixed port, so the page finds the daemon again after a restart.
    let port = free_port();
    let cfg_path = env.thrum_dir().join("config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["daemon"]["ws_port"] = Value::from(port.to_string());
    std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    env.ok(None, &["daemon", "restart"]);
    env.ok(Some("alice"), &["group", "create", "team"]);
    env.ok(Some("alice"), &["group", "add", "team", "@alice"]);
    env.ok(Some("bob"), &["send", "first message from the CLI", "--to", "@alice"]);

    let shots = workspace().join("target/ui-screenshots");
    let mut child = Command::new("node")
        .arg("ui.mjs")
        .current_dir(&dir)
        .env("THRUM_URL", format!("http://127.0.0.1:{port}/"))
        .env("THRUM_SHOTS", &shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A hung browser must not hang the suite.
    let pid = child.id();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(180));
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
    let mut to_page = child.stdin.take().unwrap();
    let from_page = BufReader::new(child.stdout.take().unwrap());
    let mut answer = |line: String| writeln!(to_page, "{line}").unwrap();
    let send = |text: &str| -> String {
        let v: Sent = env.json_as(Some("alice"), &["send", text, "--to", "@user:test-user"]);
        format!("{} {text}", v.message_id)
    };
    let mut done = false;
    for line in from_page.lines() {
        let line = line.unwrap();
        match line.split_once(' ').map_or(line.as_str(), |(a, _)| a) {
            "READY" => answer(send("pushed from the CLI")),
            "REPLIED" => {
                let want = line.split_once(' ').unwrap().1;
                assert!(inbox_texts(&env, "alice").iter().any(|t| t == want), "alice's inbox lacks {want:?}");
                answer("INBOX_OK".into());
            }
            "GROUP_SENT" => {
                let want = line.split_once(' ').unwrap().1;
                assert!(inbox_texts(&env, "alice").iter().any(|t| t.starts_with(want)), "alice's inbox lacks {want:?}");
                answer("GROUP_OK".into());
            }
            "STOP_DAEMON" => {
                env.ok(None, &["daemon", "stop"]);
                answer("STOPPED".into());
            }
            "START_DAEMON" => {
                env.ok(None, &["daemon", "start"]);
                answer("STARTED".into());
            }
            "RECONNECTED" => answer(send("after the restart")),
            "DONE" => done = true,
            other => panic!("unexpected line from the browser script: {other}"),
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        done && out.status.success(),
        "the browser test failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for shot in ["feed", "thread", "group", "inbox", "agent", "settings", "disconnected", "phone", "phone-menu"] {
        assert!(shots.join(format!("{shot}.png")).exists(), "screenshot {shot}.png");
    }
}
