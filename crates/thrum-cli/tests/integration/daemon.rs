//! Daemon lifecycle: start, status, stop, races, SIGKILL, stale files.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::time::Duration;

use thrum_proto::methods::Empty;
use thrum_proto::methods::system::Health;
use thrum_testkit::{TestEnv, alive, wait_until};

use crate::BIN;
use crate::wire::{DaemonStatus, Health as HealthOut, JsonAs, Page, Whoami};

#[test]
fn start_status_stop() {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init"]);
    let (code, _) = env.fail(None, &["daemon", "status"]);
    assert_eq!(code, 1);
    let st: DaemonStatus = env.json_as(None, &["daemon", "status"]);
    assert!(!st.running);

    env.ok(None, &["daemon", "start"]);
    let st: DaemonStatus = env.json_as(None, &["daemon", "status"]);
    assert!(st.running);
    let pid = st.pid.unwrap() as i32;
    let id1 = st.identity.unwrap().daemon_id;
    assert!(id1.starts_with("d_"));
    assert_eq!(st.repo_path.as_deref(), env.repo().to_str());

    // The PID file is JSON with the original's keys; the socket is private.
    let pidfile: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.thrum_dir().join("var/thrum.pid")).unwrap()).unwrap();
    assert_eq!(pidfile["pid"].as_i64(), Some(i64::from(pid)));
    assert!(pidfile["socket_path"].as_str().unwrap().ends_with("thrum.sock"));
    let meta = std::fs::metadata(env.socket()).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // The daemon id is created once and kept across restarts.
    env.ok(None, &["daemon", "stop"]);
    assert!(!alive(pid));
    assert!(!env.socket().exists());
    assert!(!env.thrum_dir().join("var/thrum.pid").exists());
    env.ok(None, &["daemon", "start"]);
    let st: DaemonStatus = env.json_as(None, &["daemon", "status"]);
    assert_eq!(st.identity.map(|i| i.daemon_id), Some(id1));
    let (_, err) = env.fail(None, &["daemon", "stop", "--quiet", "--bogus"]);
    assert!(err.contains("--bogus"));
    env.ok(None, &["daemon", "stop"]);
    let (code, err) = env.fail(None, &["daemon", "stop"]);
    assert_eq!(code, 1);
    assert!(err.contains("not running"), "{err}");
}

#[test]
fn concurrent_starts_leave_exactly_one_daemon() {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init"]);
    let children: Vec<_> = (0..8).map(|_| env.thrum(&["daemon", "start", "--json"]).spawn().unwrap()).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let pid = env.daemon_pid().unwrap();
    // Exactly one thrum daemon process holds this repository.
    let mut daemons = 0;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let cwd = std::fs::read_link(format!("/proc/{p}/cwd")).unwrap_or_default();
        // A child the daemon is forking (git) briefly looks like it.
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let ppid: i32 =
            stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|x| x.parse().ok()).unwrap_or(0);
        if cmd.contains("daemon run") && cwd == env.repo() && alive(p) && ppid != pid {
            daemons += 1;
            assert_eq!(p, pid);
        }
    }
    assert_eq!(daemons, 1);
}

#[test]
fn sigkilled_daemon_never_blocks_the_next_start_and_stale_socket_is_replaced() {
    let env = crate::env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    env.ok(Some("alice"), &["send", "before the crash", "--to", "@bob"]);
    env.kill_daemon();
    // The lock died with the process; the socket and PID files are stale.
    assert!(env.socket().exists());
    // Any command brings the daemon back on its own, and says so once.
    let out = env.run_as(Some("bob"), &["inbox", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("started daemon"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["messages"][0]["body"]["content"], "before the crash");
    // A second command does not announce a start.
    let out = env.run_as(Some("bob"), &["inbox", "--json"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("started daemon"));
}

#[test]
fn sigterm_finishes_in_flight_writes() {
    let env = crate::env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    let pid = env.daemon_pid().unwrap();
    let senders: Vec<_> = (0..6)
        .map(|i| {
            env.thrum(&["send", &format!("m{i}"), "--to", "@bob", "--json"])
                .env("THRUM_NAME", "alice")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let _ = rustix::process::kill_process(rustix::process::Pid::from_raw(pid).unwrap(), rustix::process::Signal::TERM);
    let mut acked = Vec::new();
    for c in senders {
        let out = c.wait_with_output().unwrap();
        if out.status.success()
            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout)
        {
            acked.push(v["message_id"].as_str().unwrap().to_string());
        }
    }
    assert!(wait_until(Duration::from_secs(10), || !alive(pid)));
    let inbox: Page = env.json_as(Some("bob"), &["inbox", "--page-size", "100"]);
    let have: Vec<&str> = inbox.messages.iter().map(|m| m.message_id.as_str()).collect();
    for id in &acked {
        assert!(have.contains(&id.as_str()), "acknowledged {id} lost");
    }
}

#[test]
fn logs_show_the_daemon_log() {
    let env = crate::env_with(&[("alice", "implementer", "auth")]);
    let out = env.ok(None, &["daemon", "logs", "-n", "200"]);
    assert!(out.contains("listening"), "{out}");
    let out = env.ok(None, &["daemon", "logs", "--since", "1h"]);
    assert!(out.contains("listening"), "{out}");
    let (_, err) = env.fail(None, &["daemon", "logs", "--since", "yesterdayish"]);
    assert!(err.contains("--since"), "{err}");
}

#[test]
fn whoami_works_without_the_daemon() {
    let env = crate::env_with(&[("alice", "implementer", "auth")]);
    env.ok(None, &["daemon", "stop"]);
    let v: Whoami = env.json_as(None, &["whoami"]);
    assert_eq!((v.agent_id.as_str(), v.role.as_str(), v.daemon_running), ("alice", "implementer", false));
    assert!(!env.socket().exists(), "whoami must not start the daemon");
    assert_eq!(env.ok(None, &["whoami", "--field", "module"]).trim(), "auth");
}

#[test]
fn foreground_run_for_supervisors_stops_cleanly_on_sigint() {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init"]);
    let mut child = env
        .thrum(&["daemon", "run", "--local"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || env.socket().exists()));
    let h: HealthOut = env.json_as(None, &["rpc", "health"]);
    assert_eq!(h.local_only, Some(true));
    assert_eq!(h.pid, child.id());
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!env.socket().exists());
    assert!(!env.thrum_dir().join("var/thrum.pid").exists());
    // A second foreground daemon cannot run beside a live one.
    env.ok(None, &["daemon", "start"]);
    let out = env.thrum(&["daemon", "run"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already running"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(None, &["daemon", "restart"]);
    assert!(env.json_as::<DaemonStatus>(None, &["daemon", "status"]).running);
}

/// A burst of writes grows the WAL; once writes pause, the checkpointer
/// folds it back and cuts the file down (the writer itself never does).
#[test]
fn the_wal_is_cut_back_after_a_burst() {
    let env = crate::env_with(&[("alice", "dev", "m"), ("bob", "dev", "m")]);
    // One raw client in the worktree sends back to back (a CLI process per
    // send leaves gaps the checkpointer already counts as pauses), and
    // reports the largest WAL file it saw.
    let script = r#"
import json, os, socket
s = socket.socket(socket.AF_UNIX); s.connect(".thrum/var/thrum.sock"); f = s.makefile("rwb")
body = "x" * 100000
biggest = 0
for i in range(200):
    f.write((json.dumps({"jsonrpc": "2.0", "id": i, "method": "message.send", "params": {"content": body, "mentions": ["bob"], "caller_agent_id": "alice"}}) + "\n").encode()); f.flush()
    v = json.loads(f.readline())
    assert "result" in v, v
    try: biggest = max(biggest, os.path.getsize(".thrum/var/messages.db-wal"))
    except OSError: pass
print(biggest)
"#;
    let biggest: u64 = crate::python_in_repo(&env, script).trim().parse().unwrap();
    assert!(biggest > 2 << 20, "the burst grew the WAL to {biggest} bytes only");
    let wal = env.thrum_dir().join("var/messages.db-wal");
    let size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(
        wait_until(Duration::from_secs(10), || size() <= 1 << 20),
        "the WAL file is still {} bytes after the burst",
        size()
    );
    // Writes go on as before.
    env.ok(Some("alice"), &["send", "after", "--to", "@bob"]);
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox", "--page-size", "1"]).total, 201);
}

/// A started daemon gets two malloc arenas (its idle RSS) unless the user
/// chose otherwise, and the threads that run git are `SCHED_IDLE`, so git
/// never delays an answer (policy 5 in /proc/<tid>/stat, field 41).
#[test]
fn the_daemon_limits_malloc_arenas_and_idles_its_git_threads() {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init"]);
    env.ok(None, &["daemon", "start"]);
    let pid = env.daemon_pid().unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let vars: Vec<String> = environ.split(|&b| b == 0).map(|v| String::from_utf8_lossy(v).into_owned()).collect();
    let expected = std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "2".into());
    assert!(vars.contains(&format!("MALLOC_ARENA_MAX={expected}")), "{vars:?}");

    let policy_of = |name: &str| -> Option<String> {
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim() == name {
                let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
                // Fields after the parenthesised command name, from field 3.
                let rest = stat.rsplit_once(") ")?.1;
                return rest.split_whitespace().nth(41 - 3).map(str::to_string);
            }
        }
        None
    };
    // The thread lowers its own priority as it starts: give it a moment.
    wait_until(Duration::from_secs(5), || policy_of("thrum-sync").as_deref() == Some("5"));
    assert_eq!(policy_of("thrum-sync").as_deref(), Some("5"), "thrum-sync should be SCHED_IDLE");
    assert_eq!(policy_of("thrum-writer").as_deref(), Some("0"), "the writer keeps the normal policy");
    env.ok(None, &["daemon", "stop"]);
}

/// The daemon's `health.protocol_version`, asked over a raw connection
/// (no session, so nothing is replaced).
fn protocol_and_pid(env: &TestEnv) -> (u64, i64) {
    let h = thrum_testkit::RawConn::connect(&env.socket()).call(1, "health", serde_json::json!({}));
    (h["result"]["protocol_version"].as_u64().unwrap(), h["result"]["pid"].as_i64().unwrap())
}

#[test]
fn a_daemon_speaking_another_protocol_is_replaced_once() {
    let env = crate::team();
    env.ok(None, &["daemon", "stop"]);
    // A debug build's daemon poses as protocol 99 for this test only.
    let out = env.thrum(&["daemon", "start"]).env("THRUM_TEST_PROTOCOL_VERSION", "99").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (v, old) = protocol_and_pid(&env);
    assert_eq!(v, 99);
    // The next command's session stops it, starts ours, says so once.
    let out = env.run_as(Some("alice"), &["send", "hello", "--to", "@bob"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.matches("restarted the daemon").count(), 1, "{err}");
    assert!(err.contains("protocol 99") && err.contains(&format!("PID {old}")), "{err}");
    assert!(!alive(old as i32), "the outdated daemon is gone");
    let (v, new) = protocol_and_pid(&env);
    assert_eq!((v, new == old), (u64::from(thrum_proto::PROTOCOL_VERSION), false));
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 1, "the message went to the new daemon");
    // Ours is left alone, and nothing more is said.
    let out = env.run_as(Some("bob"), &["inbox"]);
    assert!(String::from_utf8_lossy(&out.stderr).is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(protocol_and_pid(&env).1, new);
}

#[test]
fn a_daemon_reporting_no_protocol_version_is_left_alone() {
    let env = crate::team();
    env.ok(None, &["daemon", "stop"]);
    // 0 is what a daemon without the field (the original) reports.
    env.thrum(&["daemon", "start"]).env("THRUM_TEST_PROTOCOL_VERSION", "0").output().unwrap();
    let (v, pid) = protocol_and_pid(&env);
    assert_eq!(v, 0);
    let out = env.run_as(Some("alice"), &["send", "hello", "--to", "@bob"]);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(protocol_and_pid(&env).1, pid);
}

/// One session (the CLI's and the MCP server's code) across a restart
/// between two calls: the dropped connection is replaced before the
/// second call is sent.
#[test]
fn a_session_survives_a_daemon_restart_between_calls() {
    let env = crate::team();
    let layout = thrum_core::Layout::discover(&env.repo()).unwrap();
    let mut session = thrum_client::Session::new(layout);
    let first = session.call::<Health>(&Empty {}).unwrap();
    env.ok(None, &["daemon", "restart"]);
    let second = session.call::<Health>(&Empty {}).unwrap();
    assert_ne!(first.pid, second.pid);
    assert_eq!(i64::from(second.pid), protocol_and_pid(&env).1);
}

/// A lost start race is reported with the handshake's BUSY token, not a
/// message to match: a second daemon for the repository answers
/// `BUSY <pid>` and exits.
#[test]
fn a_second_daemon_says_busy_and_the_client_waits_for_the_first() {
    let env = crate::team();
    let pid = env.daemon_pid().unwrap();
    let out = env.thrum(&["daemon", "run", "--background"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("BUSY {pid}\n"));
    // A client that spawned it (here: on a socket the first daemon does not
    // serve) waits for an answer, then says who holds the repository.
    let elsewhere = env.dir.path().join("other.sock");
    let out = env.thrum(&["rpc", "health"]).env("THRUM_SOCKET", &elsewhere).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains(&format!("daemon PID {pid} holds this repository but does not answer")), "{err}");
}
