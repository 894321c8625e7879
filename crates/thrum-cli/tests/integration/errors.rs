//! Exit codes by error kind, the `--json` error object, and a stdout
//! whose reader went away.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Output, Stdio};

use serde_json::Value;
use thrum_testkit::TestEnv;

use crate::{BIN, team};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The error object of a failed `--json` command, as this test reads it
/// (unknown fields refused).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorLine {
    error: ErrorObject,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Read by decoding.
struct ErrorObject {
    kind: String,
    code: Option<i64>,
    message: String,
    data: Option<Value>,
    exit_code: i64,
}

/// The one JSON object a failed `--json` command prints on stderr.
fn error_object(out: &Output) -> Value {
    let err = stderr(out);
    assert_eq!(err.trim().lines().count(), 1, "one line expected: {err}");
    let typed: ErrorLine =
        serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("not the error shape ({e}): {err}"));
    assert_eq!(Some(typed.error.exit_code), out.status.code().map(i64::from), "{typed:?}");
    let v: Value = serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {err}"));
    v["error"].clone()
}

#[test]
fn usage_errors_exit_64_and_help_exits_0() {
    let env = TestEnv::new(BIN);
    let out = env.thrum(&["inbox", "--bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("--bogus"), "{}", stderr(&out));
    // `wait` keeps 0/1/2 for what it does, but a command line that does
    // not parse is a usage error like any other.
    assert_eq!(env.thrum(&["wait", "--bogus"]).output().unwrap().status.code(), Some(64));
    assert_eq!(env.thrum(&[]).output().unwrap().status.code(), Some(64));
    for ok in [&["--help"][..], &["--version"], &["send", "--help"]] {
        let out = env.thrum(ok).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{ok:?}");
        assert!(!out.stdout.is_empty(), "{ok:?}");
    }
    let out = env.thrum(&["inbox", "--json", "--bogus"]).output().unwrap();
    let e = error_object(&out);
    assert_eq!((e["kind"].as_str(), e["exit_code"].as_i64()), (Some("usage"), Some(64)), "{e}");
    assert!(e["message"].as_str().unwrap().contains("--bogus") && e.get("code").is_none(), "{e}");
}

#[test]
fn user_errors_exit_1_and_keep_the_daemon_code() {
    let env = team();
    // Refused by the daemon (-32000): the text line is as it always was.
    let out = env.run_as(Some("alice"), &["send", "hi", "--to", "@nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("Error: unknown recipient: @nobody"), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1);
    let e = error_object(&env.run_as(Some("alice"), &["send", "hi", "--to", "@nobody", "--json"]));
    assert_eq!((e["kind"].as_str(), e["code"].as_i64()), (Some("user"), Some(-32000)), "{e}");
    assert!(e["message"].as_str().unwrap().starts_with("unknown recipient: @nobody"), "{e}");
    // Refused here, before any call: no daemon code.
    let out = env.run_as(Some("alice"), &["send", "to whom?"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let e = error_object(&env.run_as(Some("alice"), &["send", "to whom?", "--json"]));
    assert_eq!(e["kind"], "user");
    assert!(e.get("code").is_none(), "{e}");
    // An anonymous caller's write (-32002) and bad params (-32602).
    let outside = env.dir.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    let out = env
        .thrum_in(&outside, &["rpc", "message.send", r#"{"content":"x","mentions":["bob"]}"#, "--json"])
        .env("THRUM_HOME", env.repo())
        .output()
        .unwrap();
    let e = error_object(&out);
    assert_eq!((e["code"].as_i64(), e["exit_code"].as_i64()), (Some(-32002), Some(1)), "{e}");
    let e = error_object(&env.run_as(Some("alice"), &["rpc", "message.get", r#"{"message_id":7}"#, "--json"]));
    assert_eq!((e["kind"].as_str(), e["code"].as_i64()), (Some("user"), Some(-32602)), "{e}");
}

#[test]
fn setup_problems_exit_78() {
    let env = TestEnv::new(BIN);
    // Not initialised.
    let out = env.run_as(Some("alice"), &["inbox"]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(stderr(&out).contains("thrum init"), "{}", stderr(&out));
    env.ok(None, &["init"]);
    env.ok(None, &["quickstart", "--name", "alice", "--role", "dev", "--module", "m", "--no-agent-pid"]);
    // An identity named that does not exist.
    let out = env.run_as(Some("zed"), &["inbox"]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    // An identity file that does not parse.
    std::fs::write(env.thrum_dir().join("identities/alice.json"), "{ oops").unwrap();
    let out = env.run_as(Some("alice"), &["inbox", "--json"]);
    let e = error_object(&out);
    assert_eq!((e["kind"].as_str(), e["exit_code"].as_i64()), (Some("config"), Some(78)), "{e}");
}

#[test]
fn an_unreachable_daemon_exits_69() {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init"]);
    let _ = env.thrum(&["daemon", "stop"]).output().unwrap();
    // The daemon cannot start: its socket would go in a directory that
    // cannot be created (the client finds no socket, spawns the daemon,
    // and the daemon's handshake reports the failure).
    let out = env.thrum(&["rpc", "health"]).env("THRUM_SOCKET", "/proc/thrum-no-such-dir/thrum.sock").output().unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(stderr(&out).contains("could not start the daemon"), "{}", stderr(&out));
    // A socket path longer than a Unix socket address can hold: no
    // connection is possible at all.
    let long = env.dir.path().join("x".repeat(120)).join("thrum.sock");
    let out = env.thrum(&["rpc", "health", "--json"]).env("THRUM_SOCKET", &long).output().unwrap();
    let e = error_object(&out);
    assert_eq!((e["kind"].as_str(), e["exit_code"].as_i64()), (Some("daemon_unreachable"), Some(69)), "{e}");
    assert!(e.get("code").is_none(), "{e}");
}

/// `thrum inbox | head -c1`: the reader takes one byte and goes away;
/// the rest of the output meets a closed pipe. Exit 0, nothing on stderr.
#[test]
fn a_closed_stdout_is_not_an_error() {
    let env = team();
    // Well over a pipe's 64 KiB buffer, in the box and in the JSON.
    let body = "lorem ipsum ".repeat(8000);
    env.ok(Some("alice"), &["send", &body, "--to", "@bob"]);
    for args in [&["inbox"][..], &["inbox", "--json"]] {
        let mut child =
            env.thrum(args).env("THRUM_NAME", "bob").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut one = [0u8; 1];
        stdout.read_exact(&mut one).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    // No reader at all, from the first byte.
    let (reader, writer) = UnixStream::pair().unwrap();
    drop(reader);
    let out =
        env.thrum(&["inbox"]).env("THRUM_NAME", "bob").stdout(Stdio::from(OwnedFd::from(writer))).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    // A command that stops on the failed write (its error carries the
    // broken pipe) exits 0 as well.
    let log = env.thrum_dir().join("var/daemon.log");
    let mut text = std::fs::read_to_string(&log).unwrap_or_default();
    for i in 0..20_000 {
        text.push_str(&format!("2026-01-01T00:00:00Z INFO filler line {i} to overflow the pipe buffer\n"));
    }
    std::fs::write(&log, text).unwrap();
    let mut child =
        env.thrum(&["daemon", "logs", "-n", "0"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut one = [0u8; 1];
    stdout.read_exact(&mut one).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}
