//! `thrum monitor`: real daemons running real child processes (`sh`
//! scripts and python3). Matching lines reach the target's inbox from
//! `monitor:NAME`; the debounce window is shortened through the daemon's
//! `THRUM_MONITOR_MIN_DEBOUNCE` knob so no test waits 30 s; stop and
//! daemon shutdown end whole process groups; bad input changes nothing.

use std::time::Duration;

use serde_json::Value;
use thrum_testkit::{TestEnv, alive, wait_until};

use crate::env_with;

const KNOB: &str = "THRUM_MONITOR_MIN_DEBOUNCE";

/// @alice (who runs the monitors) and @bob (who gets their messages).
fn setup() -> TestEnv {
    env_with(&[("alice", "lead", "ops"), ("bob", "implementer", "api")])
}

/// Restarts the daemon with `vars` in its environment.
fn restart_daemon(env: &TestEnv, vars: &[(&str, &str)]) {
    env.ok(Some("alice"), &["daemon", "stop"]);
    let mut c = env.thrum(&["daemon", "start"]);
    for (k, v) in vars {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `thrum monitor start` with these flags and command; the JSON answer.
fn start(env: &TestEnv, flags: &[&str], argv: &[&str]) -> Value {
    let mut args = vec!["monitor", "start"];
    args.extend(flags);
    args.push("--");
    args.extend(argv);
    let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    a.insert(2, "--json".into());
    let out = env.thrum(&a.iter().map(String::as_str).collect::<Vec<_>>()).env("THRUM_NAME", "alice").output().unwrap();
    assert!(out.status.success(), "monitor start {flags:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A shell script that prints `boot`, then a matching line each time the
/// file `go` appears in the repository (removing it).
const ON_DEMAND: &str =
    "echo boot; while :; do if [ -f go ]; then rm -f go; echo \"ERROR: disk full\"; fi; sleep 0.02; done";

fn show(env: &TestEnv, id: &str) -> Value {
    env.json(Some("alice"), &["monitor", "show", id])
}

/// Messages in @bob's inbox from `monitor:NAME`, oldest first.
fn from_monitor(env: &TestEnv, name: &str) -> Vec<String> {
    let page = env.json(Some("bob"), &["inbox", "--page-size", "100"]);
    let author = format!("monitor:{name}");
    let mut v: Vec<String> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["agent_id"] == author.as_str())
        .map(|m| m["body"]["content"].as_str().unwrap().to_string())
        .collect();
    v.reverse();
    v
}

fn wait_messages(env: &TestEnv, name: &str, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    let ok = wait_until(Duration::from_secs(20), || {
        got = from_monitor(env, name);
        got.len() >= n
    });
    assert!(ok, "expected {n} messages from monitor:{name}, got {got:?}");
    got
}

fn pid_of(v: &Value) -> i32 {
    v["pid"].as_i64().unwrap() as i32
}

#[test]
fn a_matching_line_reaches_the_target_from_monitor_name() {
    let env = setup();
    let r = start(&env, &["--name", "dev-errors", "--match", "(?i)error", "--to", "@bob"], &["sh", "-c", ON_DEMAND]);
    let id = r["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("m_") && id.len() == 28, "{r}");
    assert_eq!(r["name"], "dev-errors");
    assert!(alive(pid_of(&r)));
    // `boot` does not match: nothing is sent for it.
    assert!(wait_until(Duration::from_secs(10), || env
        .ok(Some("alice"), &["monitor", "logs", "dev-errors"])
        .contains("boot")));
    assert!(from_monitor(&env, "dev-errors").is_empty());
    std::fs::write(env.repo().join("go"), "").unwrap();
    let got = wait_messages(&env, "dev-errors", 1);
    assert_eq!(got, vec!["ERROR: disk full".to_string()]);

    let list = env.json(Some("alice"), &["monitor", "list"]);
    let m = &list["monitors"][0];
    assert_eq!(m["id"], id.as_str());
    assert_eq!(m["status"], "running");
    assert_eq!(m["match"], "(?i)error");
    assert_eq!(m["to"], "bob");
    assert_eq!(m["pid"], r["pid"]);
    assert!(!m["uptime"].as_str().unwrap().is_empty());
    let s = show(&env, &id);
    assert_eq!(s["name"], "dev-errors");
    assert_eq!(s["argv"], serde_json::json!(["sh", "-c", ON_DEMAND]));
    assert_eq!(s["cwd"], env.repo().canonicalize().unwrap().to_str().unwrap());
    assert_eq!(s["debounce"], "1m0s");
    assert_eq!(s["match_count"], 1);
    assert_eq!(s["recent_matches"], serde_json::json!(["ERROR: disk full"]));
    let human = env.ok(Some("alice"), &["monitor", "list"]);
    assert!(human.starts_with("ID") && human.contains("dev-errors") && human.contains("running"), "{human}");
    let logs = env.json(Some("alice"), &["monitor", "logs", &id]);
    assert_eq!(logs["logs"], "boot\nERROR: disk full\n");

    // `add` is the same command; a stopped monitor is listed with --all only.
    env.json(Some("alice"), &["monitor", "stop", "dev-errors"]);
    assert!(env.json(Some("alice"), &["monitor", "list"])["monitors"].as_array().unwrap().is_empty());
    let all = env.json(Some("alice"), &["monitor", "list", "--all"]);
    assert_eq!(all["monitors"][0]["status"], "stopped");
    assert_eq!(all["monitors"][0]["pid"], 0);
    let out = env
        .thrum(&["monitor", "add", "--name", "again", "--match", "x", "--to", "bob", "--", "sleep", "30"])
        .env("THRUM_NAME", "alice")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // --cwd: where the command runs.
    let dir = env.dir.path().join("elsewhere");
    std::fs::create_dir_all(&dir).unwrap();
    let flags = ["--name", "where", "--match", "elsewhere", "--to", "@bob", "--cwd", dir.to_str().unwrap()];
    start(&env, &flags, &["sh", "-c", "pwd; exec sleep 30"]);
    assert_eq!(wait_messages(&env, "where", 1)[0], dir.canonicalize().unwrap().display().to_string());
    // The sender is no agent: it is not in the team.
    let team = env.ok(Some("alice"), &["team", "--json"]);
    assert!(!team.contains("monitor:"), "{team}");
}

#[test]
fn the_debounce_delivers_the_first_match_and_summarises_the_rest() {
    let env = setup();
    restart_daemon(&env, &[(KNOB, "100ms")]);
    let script = "echo 'FAIL a'; echo 'FAIL b'; echo ok; echo 'FAIL c'; echo 'FAIL d'; sleep 30";
    start(&env, &["--name", "tests", "--match", "^FAIL", "--to", "bob", "--debounce", "1500ms"], &["sh", "-c", script]);
    let got = wait_messages(&env, "tests", 2);
    assert_eq!(got[0], "FAIL a");
    assert_eq!(got[1], "FAIL b\n(+2 more matches suppressed in the last 1.5s)");
    let s = show(&env, "tests");
    assert_eq!(s["match_count"], 4);
    assert_eq!(s["suppressed_count"], 3);
    // Nothing more comes: one message for the window, one summary.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(from_monitor(&env, "tests").len(), 2);
    // The knob only lowers the minimum for the daemon it is given to.
    restart_daemon(&env, &[]);
    let (code, err) = env.fail(
        Some("alice"),
        &["monitor", "start", "--name", "short", "--match", "x", "--to", "bob", "--debounce", "1s", "--", "true"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("debounce below minimum (30s)"), "{err}");
}

#[test]
fn bad_input_gets_a_one_line_error_and_starts_nothing() {
    let env = setup();
    start(&env, &["--name", "keep", "--match", "x", "--to", "bob"], &["sleep", "60"]);
    let saved = std::fs::read(env.thrum_dir().join("var/monitors.json")).unwrap();
    let base = ["monitor", "start", "--name", "new", "--match", "x", "--to", "bob"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v: Vec<&'static str> = base.to_vec();
        v.extend(extra);
        v
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (with(&["--cwd", "/no/such/dir", "--", "true"]), "no such directory"),
        (
            vec!["monitor", "start", "--name", "new", "--match", "(oops", "--to", "bob", "--", "true"],
            "invalid regex \"(oops\"",
        ),
        (
            vec!["monitor", "start", "--name", "new", "--match", "x", "--to", "@nobody", "--", "true"],
            "agent not found: @nobody",
        ),
        (
            vec!["monitor", "start", "--name", "keep", "--match", "x", "--to", "bob", "--", "true"],
            "monitor keep already exists",
        ),
        (with(&["sleep", "60"]), "the command to run goes after `--`"),
        (with(&[]), "missing the command to run: put it after `--`"),
        (with(&["--debounce", "10s", "--", "true"]), "debounce below minimum (30s)"),
        (with(&["--debounce", "soon", "--", "true"]), "invalid debounce \"soon\""),
        (with(&["--env", "NOVALUE", "--", "true"]), "use --env KEY=VALUE"),
        (with(&["--env", "1X=y", "--", "true"]), "invalid env name"),
        (with(&["--", "/no/such/program"]), "cannot start \"/no/such/program\""),
        (
            vec!["monitor", "start", "--name", "Bad Name", "--match", "x", "--to", "bob", "--", "true"],
            "invalid monitor name",
        ),
    ];
    for (args, want) in cases {
        let (code, err) = env.fail(Some("alice"), &args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want:?} in {err:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err:?}");
    }
    let all = env.json(Some("alice"), &["monitor", "list", "--all"]);
    let names: Vec<&str> = all["monitors"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["keep"]);
    assert_eq!(std::fs::read(env.thrum_dir().join("var/monitors.json")).unwrap(), saved, "monitors.json was rewritten");
    // Ids and names that do not exist.
    for cmd in ["show", "stop", "logs", "restart"] {
        let (_, err) = env.fail(Some("alice"), &["monitor", cmd, "m_nope"]);
        assert!(err.contains("monitor not found: m_nope"), "{cmd}: {err}");
    }
    let (_, err) = env.fail(Some("alice"), &["monitor", "restart", "keep"]);
    assert!(err.contains("monitor already running"), "{err}");
}

#[test]
fn at_most_a_hundred_monitors() {
    let env = setup();
    for i in 0..100 {
        let name = format!("m{i}");
        start(&env, &["--name", &name, "--match", "x", "--to", "bob"], &["sleep", "120"]);
    }
    let (code, err) = env.fail(
        Some("alice"),
        &["monitor", "start", "--name", "m100", "--match", "x", "--to", "bob", "--", "sleep", "120"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("max monitors reached (100)"), "{err}");
    assert_eq!(env.json(Some("alice"), &["monitor", "list"])["monitors"].as_array().unwrap().len(), 100);
    env.ok(Some("alice"), &["monitor", "stop", "m0"]);
    start(&env, &["--name", "m100", "--match", "x", "--to", "bob"], &["sleep", "120"]);
    // The stopped one gave its place to the new one.
    let (_, err) = env.fail(Some("alice"), &["monitor", "restart", "m0"]);
    assert!(err.contains("monitor not found: m0"), "{err}");
    assert_eq!(env.json(Some("alice"), &["monitor", "list", "--all"])["monitors"].as_array().unwrap().len(), 100);
}

/// Reads `pid` lines the script printed (its own and its background
/// child's) from the monitor's logs.
fn printed_pids(env: &TestEnv, name: &str, n: usize) -> Vec<i32> {
    let mut pids = Vec::new();
    let ok = wait_until(Duration::from_secs(10), || {
        let logs = env.json(Some("alice"), &["monitor", "logs", name]);
        pids = logs["logs"]
            .as_str()
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("pid ").and_then(|p| p.trim().parse().ok()))
            .collect();
        pids.len() >= n
    });
    assert!(ok, "the script printed {pids:?}");
    pids
}

/// A script with a grandchild: a background `sleep` in the same group,
/// one that ignores SIGTERM when `stubborn`.
fn family(stubborn: bool) -> String {
    let trap = if stubborn { "trap '' TERM; " } else { "" };
    format!("{trap}sleep 300 & echo pid $$; echo pid $!; wait")
}

#[test]
fn stop_ends_the_whole_process_group() {
    let env = setup();
    start(&env, &["--name", "fam", "--match", "x", "--to", "bob"], &["sh", "-c", &family(false)]);
    let pids = printed_pids(&env, "fam", 2);
    assert!(pids.iter().all(|p| alive(*p)));
    let r = env.json(Some("alice"), &["monitor", "stop", "fam"]);
    assert_eq!(r["stopped"], true);
    // `stop` answers once the group is gone.
    for p in &pids {
        assert!(!alive(*p), "pid {p} survived monitor stop");
    }
    let s = show(&env, "fam");
    assert_eq!(s["status"], "stopped");
    assert_eq!(s["exit"], "stopped by monitor stop");
    // Stopped by hand, it is forgotten: not respawned by the next daemon.
    let (_, err) = env.fail(Some("alice"), &["monitor", "stop", "fam"]);
    assert!(err.contains("monitor already stopped"), "{err}");
    restart_daemon(&env, &[]);
    assert!(env.json(Some("alice"), &["monitor", "list", "--all"])["monitors"].as_array().unwrap().is_empty());
}

#[test]
fn monitors_persist_across_daemon_restarts_and_shutdown_ends_their_groups() {
    let env = setup();
    let first = start(
        &env,
        &["--name", "svc", "--match", "ERROR", "--to", "bob", "--env", "MODE=watch"],
        &["sh", "-c", &format!("{}; {ON_DEMAND}", family(true).replace("; wait", ""))],
    );
    let pids = printed_pids(&env, "svc", 2);
    let file = env.thrum_dir().join("var/monitors.json");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o600);
    // The daemon's shutdown ends the group, a grandchild that ignores
    // SIGTERM included.
    env.ok(Some("alice"), &["daemon", "stop"]);
    for p in &pids {
        assert!(wait_until(Duration::from_secs(10), || !alive(*p)), "pid {p} survived the daemon");
    }
    env.ok(Some("alice"), &["daemon", "start"]);
    let list = env.json(Some("alice"), &["monitor", "list", "--all"]);
    let m = &list["monitors"][0];
    assert_eq!(m["id"], first["id"], "{list}");
    assert_eq!(m["status"], "running");
    assert_ne!(m["pid"], first["pid"]);
    let s = show(&env, "svc");
    assert_eq!(s["env"], serde_json::json!({"MODE": "[redacted]"}));
    std::fs::write(env.repo().join("go"), "").unwrap();
    assert_eq!(wait_messages(&env, "svc", 1), vec!["ERROR: disk full".to_string()]);
}

#[test]
fn a_child_that_exits_is_reported_stopped_or_failed_with_its_status() {
    let env = setup();
    start(
        &env,
        &["--name", "crash", "--match", "ERROR", "--to", "bob"],
        &["sh", "-c", "echo 'ERROR bad config'; echo bye; exit 3"],
    );
    start(&env, &["--name", "done", "--match", "ERROR", "--to", "bob"], &["true"]);
    let exited = |name: &str| {
        let mut s = Value::Null;
        assert!(wait_until(Duration::from_secs(10), || {
            s = show(&env, name);
            s["status"] != "running"
        }));
        s
    };
    let s = exited("crash");
    assert_eq!(s["status"], "failed");
    assert_eq!(s["exit_code"], 3);
    assert_eq!(s["exit"], "exit status 3");
    assert_eq!(s["pid"], 0);
    let s = exited("done");
    assert_eq!(s["status"], "stopped");
    assert_eq!(s["exit_code"], 0);
    let got = wait_messages(&env, "crash", 2);
    assert_eq!(got[0], "ERROR bad config");
    assert!(got[1].contains("ended (exit status 3)"), "{}", got[1]);
    assert!(got[1].contains("ERROR bad config\nbye"), "{}", got[1]);
    assert!(got[1].contains("thrum monitor restart crash"), "{}", got[1]);
    let human = env.ok(Some("alice"), &["monitor", "list", "--all"]);
    assert!(human.contains("failed"), "{human}");
    // An exited monitor restarts from its spec, and counts start again.
    let r = env.json(Some("alice"), &["monitor", "restart", "crash"]);
    assert!(r["pid"].as_i64().unwrap() > 0);
    wait_messages(&env, "crash", 3);
}

#[test]
fn env_values_are_redacted_in_every_output() {
    let env = setup();
    let secret = "hunter2-s3cret-value";
    let kv = format!("API_TOKEN={secret}");
    start(
        &env,
        &["--name", "leaky", "--match", "ERROR", "--to", "bob", "--env", &kv],
        &["sh", "-c", "echo \"token is $API_TOKEN\"; echo \"ERROR with $API_TOKEN\"; sleep 60"],
    );
    let msgs = wait_messages(&env, "leaky", 1);
    assert_eq!(msgs[0], "ERROR with [redacted]");
    let outputs = [
        env.ok(Some("alice"), &["monitor", "show", "leaky"]),
        env.ok(Some("alice"), &["monitor", "show", "leaky", "--json"]),
        env.ok(Some("alice"), &["monitor", "list", "--json"]),
        env.ok(Some("alice"), &["monitor", "logs", "leaky"]),
        env.ok(Some("alice"), &["monitor", "logs", "leaky", "--json"]),
        env.ok(Some("bob"), &["inbox", "--json"]),
    ];
    for o in &outputs {
        assert!(!o.contains(secret), "the value leaked: {o}");
    }
    assert!(outputs[0].contains("API_TOKEN=[redacted]"), "{}", outputs[0]);
    assert!(outputs[3].contains("token is [redacted]"), "{}", outputs[3]);
    env.ok(Some("alice"), &["monitor", "stop", "leaky"]);
    let log = std::fs::read_to_string(env.thrum_dir().join("var/daemon.log")).unwrap();
    assert!(log.contains("monitor started") && !log.contains(secret));
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap()
}

#[test]
fn a_flood_of_output_does_not_grow_the_daemon() {
    let env = setup();
    let daemon = env.daemon_pid().unwrap();
    let before = rss_kib(daemon);
    // 50 MB in one line without a newline, then 50 MB of 1 KB lines.
    let py = "import sys\nz = b'z' * 65536\nfor _ in range(800): sys.stdout.buffer.write(z)\nsys.stdout.buffer.write(b'\\n')\nl = b'y' * 1023 + b'\\n'\nb = l * 64\nfor _ in range(800): sys.stdout.buffer.write(b)\nprint('END')\n";
    start(&env, &["--name", "flood", "--match", "^END", "--to", "bob"], &["python3", "-c", py]);
    let mut s = Value::Null;
    assert!(wait_until(Duration::from_secs(120), || {
        s = show(&env, "flood");
        s["status"] != "running"
    }));
    assert_eq!(s["exit_code"], 0, "{s}");
    assert_eq!(s["match_count"], 1, "{s}");
    let after = rss_kib(daemon);
    assert!(after < before + 32 * 1024, "daemon RSS grew from {before} KiB to {after} KiB");
    let logs = env.json(Some("alice"), &["monitor", "logs", "flood", "--bytes", "100000000"]);
    let text = logs["logs"].as_str().unwrap();
    assert!(text.len() <= 64 * 1024, "{} bytes of logs", text.len());
    assert!(text.ends_with("END\n"));
}

#[test]
fn children_left_by_a_killed_daemon_are_ended_by_the_next_one() {
    let env = setup();
    start(&env, &["--name", "orphan", "--match", "x", "--to", "bob"], &["sh", "-c", &family(false)]);
    let pids = printed_pids(&env, "orphan", 2);
    env.kill_daemon();
    // Nobody ended them: the killed daemon could not.
    assert!(pids.iter().all(|p| alive(*p)), "{pids:?}");
    env.ok(Some("alice"), &["daemon", "start"]);
    for p in &pids {
        assert!(wait_until(Duration::from_secs(10), || !alive(*p)), "pid {p} outlived the next daemon");
    }
    let s = show(&env, "orphan");
    assert_eq!(s["status"], "running");
    assert!(!pids.contains(&pid_of(&s)));
}

#[test]
fn monitor_methods_are_refused_over_the_websocket() {
    let env = setup();
    start(&env, &["--name", "local", "--match", "x", "--to", "bob"], &["sleep", "60"]);
    let p = crate::websocket::port(&env);
    let (mut ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{p}/ws")).unwrap();
    let argv = serde_json::json!(["sh", "-c", "touch pwned"]);
    for (method, params) in [
        ("monitor.list", serde_json::json!({ "all": true, "caller_agent_id": "alice" })),
        ("monitor.show", serde_json::json!({ "id": "local", "caller_agent_id": "alice" })),
        ("monitor.stop", serde_json::json!({ "id": "local", "caller_agent_id": "alice" })),
        (
            "monitor.start",
            serde_json::json!({ "name": "ws", "match": "x", "to": "bob", "argv": argv, "cwd": "/tmp", "caller_agent_id": "alice" }),
        ),
    ] {
        let r = crate::websocket::call(&mut ws, 1, method, params);
        assert_eq!(r["error"]["code"], -32001, "{method}: {r}");
        assert!(r["error"]["message"].as_str().unwrap().contains("only available on the local socket"), "{r}");
    }
    let all = env.json(Some("alice"), &["monitor", "list", "--all"]);
    assert_eq!(all["monitors"].as_array().unwrap().len(), 1);
    assert_eq!(all["monitors"][0]["status"], "running");
    assert!(!std::path::Path::new("/tmp/pwned").exists());
}

#[test]
fn stop_still_sends_what_the_window_held_back() {
    let env = setup();
    restart_daemon(&env, &[(KNOB, "100ms")]);
    start(
        &env,
        &["--name", "held", "--match", "^FAIL", "--to", "bob", "--debounce", "1h"],
        &["sh", "-c", "echo 'FAIL 1'; echo 'FAIL 2'; sleep 60"],
    );
    assert_eq!(wait_messages(&env, "held", 1), vec!["FAIL 1".to_string()]);
    assert!(wait_until(Duration::from_secs(10), || show(&env, "held")["suppressed_count"] == 1));
    env.ok(Some("alice"), &["monitor", "stop", "held"]);
    let got = wait_messages(&env, "held", 2);
    assert_eq!(got[1], "FAIL 2\n(held back by the 1h0m0s debounce window)");
}
