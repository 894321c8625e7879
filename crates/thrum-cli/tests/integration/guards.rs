//! Identity guards (`identity_guard` in config.json, overridden by
//! `.thrum/var/guard-daemon.json`): each guard in its modes, and forgery
//! refused whatever the modes say.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};
use thrum_testkit::{TestEnv, git, wait_until};

use crate::{BIN, env_with};

const GUARDS: [&str; 8] = [
    "cross_worktree",
    "quickstart_self_rename",
    "quickstart_name_collision",
    "non_git_bootstrap",
    "unauthenticated_rpc",
    "daemon_writer_liveness",
    "prime_ownership",
    "dead_pid_auto_reclaim",
];

/// Sets `identity_guard.KEY` in `thrum_dir`/config.json, keeping the rest.
fn set_config_guard(thrum_dir: &Path, key: &str, mode: &str) {
    let path = thrum_dir.join("config.json");
    let mut v: Value = std::fs::read_to_string(&path).map(|t| serde_json::from_str(&t).unwrap()).unwrap_or(json!({}));
    v["identity_guard"][key] = json!(mode);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// Writes `.thrum/var/guard-daemon.json`.
fn set_daemon_guards(env: &TestEnv, v: Value) {
    std::fs::write(env.thrum_dir().join("var/guard-daemon.json"), v.to_string()).unwrap();
}

/// Whether daemon.log comes to hold `needle` (the log is written by
/// another process: wait for it with a deadline).
fn daemon_log_gets(env: &TestEnv, needle: &str) -> bool {
    let log = env.thrum_dir().join("var/daemon.log");
    wait_until(Duration::from_secs(5), || std::fs::read_to_string(&log).is_ok_and(|t| t.contains(needle)))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A PID that no process has any more.
fn dead_pid() -> i64 {
    let mut child = Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    i64::from(child.id())
}

/// Rewrites fields of an identity file.
fn edit_identity(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// A repository with a second worktree `wt2` set up for thrum.
fn two_worktrees() -> (TestEnv, PathBuf) {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init"]);
    let wt = env.dir.path().join("wt2");
    git(&env, &env.repo(), &["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "feature"]);
    let out = env.thrum_in(&wt, &["setup"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    (env, wt)
}

/// `thrum quickstart` run by a shell in `dir`: its runtime PID is the
/// shell's, dead once the command returns.
fn quickstart_from_shell(env: &TestEnv, dir: &Path, name: &str) -> Output {
    let cmd = format!("'{BIN}' quickstart --name {name} --role implementer --module auth");
    env.hermetic(Command::new("sh")).arg("-c").arg(cmd).current_dir(dir).output().unwrap()
}

#[test]
fn thrum_name_lets_several_agents_share_one_shell_and_self_rename_follows_its_mode() {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init"]);
    // This test process is the runtime of every quickstart below.
    let quick = |as_name: Option<&str>, name: &str| {
        env.run_as(as_name, &["quickstart", "--name", name, "--role", "implementer", "--module", "auth"])
    };
    // The README's way: one THRUM_NAME per agent, from the same shell.
    for name in ["carol", "dave"] {
        let out = quick(Some(name), name);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
    }
    // Registering again under a name this runtime holds is not a rename.
    let out = quick(None, "carol");
    assert!(out.status.success(), "{}", stderr(&out));
    // A new name without THRUM_NAME is this runtime renaming itself.
    let out = quick(None, "erin");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("already registered here as @"), "{err}");
    assert!(err.contains("THRUM_NAME=erin") && err.contains("--force"), "the message says what to do: {err}");
    assert!(!env.thrum_dir().join("identities/erin.json").exists());
    // warn: a warning, and the registration goes through.
    set_config_guard(&env.thrum_dir(), "quickstart_self_rename", "warn");
    let out = quick(None, "erin");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("identity guard \"quickstart_self_rename\" fired"), "{}", stderr(&out));
    // off: not a word.
    set_config_guard(&env.thrum_dir(), "quickstart_self_rename", "off");
    let out = quick(None, "frank");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("fired"), "{}", stderr(&out));
    // guard-daemon.json wins over config.json.
    set_daemon_guards(&env, json!({ "quickstart_self_rename": "strict" }));
    let out = quick(None, "gina");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn unauthenticated_rpc_follows_its_mode_and_forgery_is_refused_in_every_mode() {
    let (env, wt) = two_worktrees();
    env.ok(None, &["quickstart", "--name", "alice", "--role", "implementer", "--module", "auth", "--no-agent-pid"]);
    env.ok_in(&wt, None, &["quickstart", "--name", "dave", "--role", "reviewer", "--module", "auth", "--no-agent-pid"]);
    let outside = env.dir.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    let send = |dir: &Path, caller: &str, content: &str| {
        let p = json!({ "content": content, "mentions": ["dave"], "caller_agent_id": caller }).to_string();
        env.thrum_in(dir, &["rpc", "message.send", &p]).env("THRUM_HOME", env.repo()).output().unwrap()
    };
    let forge = |mode: &str| {
        // dave's worktree claiming alice, and the main worktree claiming dave.
        for (dir, caller) in [(&wt, "alice"), (&env.repo(), "dave")] {
            let out = send(dir, caller, &format!("forged-{mode}"));
            assert_eq!(out.status.code(), Some(1), "{mode}: a forged {caller} got through");
            assert!(stderr(&out).contains("identity_mismatch"), "{mode}: {}", stderr(&out));
        }
    };
    for mode in ["strict", "warn", "off"] {
        set_daemon_guards(&env, json!({ "unauthenticated_rpc": mode }));
        let out = send(&outside, "alice", &format!("from outside, {mode}"));
        match mode {
            "strict" => {
                assert_eq!(out.status.code(), Some(1));
                assert!(stderr(&out).contains("anonymous caller cannot invoke \"message.send\""), "{}", stderr(&out));
            }
            _ => assert!(out.status.success(), "{mode}: {}", stderr(&out)),
        }
        forge(mode);
    }
    assert!(daemon_log_gets(&env, "identity guard \"unauthenticated_rpc\" fired: anonymous_mutating_rpc"));
    // Every guard off, in both files: forgery is still refused.
    for g in GUARDS {
        set_config_guard(&env.thrum_dir(), g, "off");
    }
    set_daemon_guards(&env, Value::Object(GUARDS.iter().map(|g| (g.to_string(), json!("off"))).collect()));
    forge("all-off");
    let list = env.ok(None, &["rpc", "message.list"]);
    assert!(!list.contains("forged"), "{list}");
    assert!(list.contains("from outside, warn") && list.contains("from outside, off"), "{list}");
    assert!(!list.contains("from outside, strict"), "{list}");
}

#[test]
fn set_status_on_a_dead_agent_follows_daemon_writer_liveness() {
    let env = env_with(&[("alice", "implementer", "auth"), ("zed", "reviewer", "auth")]);
    let zed = env.thrum_dir().join("identities/zed.json");
    edit_identity(&zed, |v| v["agent_pid"] = json!(dead_pid()));
    let status = |v: &str| env.run_as(Some("alice"), &["agent", "set-status", v, "--agent", "zed"]);
    let on_file = || -> String {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&zed).unwrap()).unwrap();
        v["agent_status"].as_str().unwrap_or_default().to_string()
    };
    let before = on_file();
    let out = status("blocked");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is not running") && stderr(&out).contains("quickstart"), "{}", stderr(&out));
    assert_eq!(on_file(), before, "the file is left alone");
    set_config_guard(&env.thrum_dir(), "daemon_writer_liveness", "warn");
    let out = status("working");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(on_file(), "working");
    assert!(daemon_log_gets(&env, "identity guard \"daemon_writer_liveness\" fired: subject_pid_dead"));
    set_config_guard(&env.thrum_dir(), "daemon_writer_liveness", "off");
    let out = status("blocked");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(on_file(), "blocked");
}

#[test]
fn a_dead_holders_name_is_reclaimed_unless_reclaiming_is_off() {
    let (env, wt) = two_worktrees();
    // Registered by a shell in wt2 that has since exited.
    for name in ["alice", "bob"] {
        let out = quickstart_from_shell(&env, &wt, name);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // Default (warn): taken over from the main worktree, with a log line.
    let out = quickstart_from_shell(&env, &env.repo(), "alice");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(daemon_log_gets(&env, "identity guard \"dead_pid_auto_reclaim\" fired"));
    // off: a dead holder counts as a collision.
    set_config_guard(&env.thrum_dir(), "dead_pid_auto_reclaim", "off");
    let out = quickstart_from_shell(&env, &env.repo(), "bob");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("dead_pid_auto_reclaim is off") && stderr(&out).contains("--force"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_name_held_by_a_live_process_elsewhere_follows_quickstart_name_collision() {
    let (env, wt) = two_worktrees();
    // cora's runtime is this test process, alive throughout.
    env.ok(None, &["quickstart", "--name", "cora", "--role", "implementer", "--module", "auth"]);
    let out = quickstart_from_shell(&env, &wt, "cora");
    assert_eq!(out.status.code(), Some(1), "strict refuses");
    set_config_guard(&env.thrum_dir(), "quickstart_name_collision", "warn");
    let out = quickstart_from_shell(&env, &wt, "cora");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(daemon_log_gets(&env, "identity guard \"quickstart_name_collision\" fired: name_held_by_live_foreign_pid"));
}

#[test]
fn an_identity_whose_runtime_runs_in_another_worktree_follows_cross_worktree() {
    let env = env_with(&[("zed", "reviewer", "auth")]);
    // zed's runtime: a live process that is not one of ours, registered
    // from a worktree that is not this one (a copied identity file).
    let mut runtime = Command::new("sleep").arg("60").spawn().unwrap();
    edit_identity(&env.thrum_dir().join("identities/zed.json"), |v| {
        v["agent_pid"] = json!(runtime.id());
        v["worktree"] = json!("elsewhere");
    });
    let whoami = || env.run_as(Some("zed"), &["whoami"]);
    let out = whoami();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("registered from worktree \"elsewhere\"") && stderr(&out).contains("cd "),
        "{}",
        stderr(&out)
    );
    set_config_guard(&env.thrum_dir(), "cross_worktree", "warn");
    let out = whoami();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("identity guard \"cross_worktree\" fired: pid_mismatch"), "{}", stderr(&out));
    set_config_guard(&env.thrum_dir(), "cross_worktree", "off");
    let out = whoami();
    assert!(out.status.success() && !stderr(&out).contains("fired"), "{}", stderr(&out));
    runtime.kill().unwrap();
    runtime.wait().unwrap();
}

#[test]
fn init_outside_git_follows_non_git_bootstrap() {
    let env = TestEnv::new(BIN);
    let plain = env.dir.path().join("plain");
    std::fs::create_dir_all(plain.join(".thrum")).unwrap();
    set_config_guard(&plain.join(".thrum"), "non_git_bootstrap", "strict");
    let out = env.thrum_in(&plain, &["init"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a git repository"), "{}", stderr(&out));
    set_config_guard(&plain.join(".thrum"), "non_git_bootstrap", "warn");
    let out = env.thrum_in(&plain, &["init"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("identity guard \"non_git_bootstrap\" fired: not_a_git_repo"), "{}", stderr(&out));
    let cfg: Value = serde_json::from_str(&std::fs::read_to_string(plain.join(".thrum/config.json")).unwrap()).unwrap();
    assert_eq!(cfg["identity_guard"]["non_git_bootstrap"], "warn", "init keeps the block");
}
