//! `thrum tmux` session lifecycle on a real tmux server (each test
//! environment has its own, `THRUM_TMUX_SOCKET`): create registers the agent
//! inside a pane with a clean environment, launch starts the runtime from
//! the registry, status shows only this daemon's sessions, and send,
//! capture and kill do what they say.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use thrum_testkit::{TestEnv, git};

use crate::claude::{poll, require};
use crate::env_with;

/// A git worktree of the test repository at `name`, set up for thrum.
pub(crate) fn worktree(env: &TestEnv, name: &str) -> PathBuf {
    let dir = env.dir.path().join(name);
    git(env, &env.repo(), &["worktree", "add", "-q", "-b", name, dir.to_str().unwrap()]);
    env.ok_in(&dir, None, &["setup"]);
    dir
}

/// Puts `dirs` and the thrum binary's folder on the PATH of the panes'
/// login shells (`~/.profile`, as a user's own PATH setup would; the
/// system's profile resets PATH for login shells).
pub(crate) fn pane_path(env: &TestEnv, dirs: &[&Path]) {
    let mut path: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    path.push(Path::new(crate::BIN).parent().unwrap().display().to_string());
    std::fs::write(env.home().join(".profile"), format!("export PATH=\"{}:$PATH\"\n", path.join(":"))).unwrap();
}

fn status(env: &TestEnv) -> Vec<Value> {
    env.json(Some("lead"), &["tmux", "status"])["sessions"].as_array().cloned().unwrap_or_default()
}

fn session<'a>(all: &'a [Value], name: &str) -> Option<&'a Value> {
    all.iter().find(|s| s["name"] == name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn sessions_are_created_clean_launched_listed_and_killed() {
    require("tmux", "apt-get install -y tmux");
    let env = env_with(&[("lead", "coordinator", "all")]);
    let wt = worktree(&env, "wt-api");
    // A fake runtime: the registry launches `codex` by name from the
    // daemon's PATH.
    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("codex");
    std::fs::write(&fake, "#!/bin/sh\necho FAKE-CODEX-RUNNING\nexec sleep 600\n").unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    pane_path(&env, &[&bin]);

    // The daemon starts from a process carrying another agent's identity
    // and a runtime's markers: none may reach the new pane.
    env.ok(Some("lead"), &["daemon", "stop"]);
    let out = env
        .thrum(&["daemon", "start"])
        .env("SHELL", "/bin/bash")
        .env("THRUM_NAME", "lead")
        .env("THRUM_ROLE", "leaky")
        .env("CLAUDE_PROJECT_DIR", "/somewhere/else")
        .env("CLAUDECODE", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let created = env.json(
        Some("lead"),
        &[
            "tmux",
            "create",
            "impl-api",
            "--cwd",
            wt.to_str().unwrap(),
            "--name",
            "impl_api",
            "--role",
            "implementer",
            "--module",
            "api",
        ],
    );
    assert_eq!(created["session"], "impl-api");
    assert_eq!(created["identity"]["agent"]["name"], "impl_api", "{created}");
    assert_eq!(created["identity"]["tmux_session"], "impl-api:0.0", "{created}");
    let id_file = wt.join(".thrum/identities/impl_api.json");
    assert!(id_file.exists(), "the agent registered in its worktree");

    // What the pane's shell has.
    let envfile = env.dir.path().join("pane-env.txt");
    let who = env.dir.path().join("pane-who.json");
    env.ok(Some("lead"), &["tmux", "send", "impl-api", &format!("env > {0}.tmp && mv {0}.tmp {0}", envfile.display())]);
    assert!(poll(Duration::from_secs(10), || envfile.exists()), "the pane ran the command");
    let pane_env = read(&envfile);
    for leak in ["THRUM_NAME=", "THRUM_ROLE=", "CLAUDE_PROJECT_DIR=", "CLAUDECODE="] {
        assert!(!pane_env.lines().any(|l| l.starts_with(leak)), "{leak} leaked into the pane:\n{pane_env}");
    }
    assert!(pane_env.lines().any(|l| l.starts_with("TMUX=")), "the pane knows it is in tmux");
    // So the pane is its own agent, not the caller's.
    env.ok(
        Some("lead"),
        &["tmux", "send", "impl-api", &format!("thrum whoami --json > {0}.tmp 2>&1; mv {0}.tmp {0}", who.display())],
    );
    assert!(poll(Duration::from_secs(10), || who.exists()), "whoami ran in the pane");
    let me: Value = serde_json::from_str(&read(&who)).unwrap_or_else(|e| panic!("{e}: {}", read(&who)));
    assert_eq!(me["name"].as_str().or(me["agent_id"].as_str()), Some("impl_api"), "{me}");

    let all = status(&env);
    let s = session(&all, "impl-api").unwrap_or_else(|| panic!("{all:?}"));
    assert_eq!(
        (s["agent"].as_str(), s["role"].as_str(), s["branch"].as_str()),
        (Some("impl_api"), Some("implementer"), Some("wt-api"))
    );
    assert_eq!(s["state"], "alive");

    // Launch starts the runtime's binary in the pane.
    let launched = env.json(Some("lead"), &["tmux", "launch", "impl-api", "--runtime", "codex"]);
    assert_eq!(launched["runtime"], "codex");
    assert!(
        poll(Duration::from_secs(10), || env
            .ok(Some("lead"), &["tmux", "capture", "impl-api"])
            .contains("FAKE-CODEX-RUNNING")),
        "the runtime started"
    );
    let id: Value = serde_json::from_str(&read(&id_file)).unwrap();
    assert_eq!((id["runtime"].as_str(), id["tmux_session"].as_str()), (Some("codex"), Some("impl-api:0.0")));
    let all = status(&env);
    assert_eq!(session(&all, "impl-api").unwrap()["runtime"], "codex");
    assert!(poll(Duration::from_secs(5), || session(&status(&env), "impl-api").is_some_and(|s| s["state"] == "alive")));
    // Twice is refused: it already runs.
    let (code, err) = env.fail(Some("lead"), &["tmux", "launch", "impl-api", "--runtime", "codex"]);
    assert!(code != 0 && err.contains("already runs") && err.contains("thrum tmux restart impl-api"), "{err}");
    // The runtime exits: the session is stale.
    assert!(env.tmux(&["send-keys", "-t", "=impl-api:", "C-c"]).status.success());
    assert!(
        poll(Duration::from_secs(10), || session(&status(&env), "impl-api").is_some_and(|s| s["state"] == "stale")),
        "{:?}",
        status(&env)
    );

    // capture --lines
    let tail = env.ok(Some("lead"), &["tmux", "capture", "impl-api", "--lines", "3"]);
    assert!(tail.lines().count() <= 3, "{tail}");

    // Only this repository's sessions are listed or touched.
    assert!(env.tmux(&["new-session", "-d", "-s", "foreign"]).status.success());
    assert!(session(&status(&env), "foreign").is_none());
    let (_, err) = env.fail(Some("lead"), &["tmux", "kill", "foreign"]);
    assert!(err.contains("not managed by this repository"), "{err}");

    // Kill: gone from the list, tmux_session cleared from the identity.
    env.ok(Some("lead"), &["tmux", "kill", "impl-api"]);
    assert!(session(&status(&env), "impl-api").is_none());
    let id: Value = serde_json::from_str(&read(&id_file)).unwrap();
    assert!(id.get("tmux_session").is_none(), "{id}");
    let (_, err) = env.fail(Some("lead"), &["tmux", "kill", "impl-api"]);
    assert!(err.contains("no tmux session named \"impl-api\""), "{err}");
}

#[test]
fn bad_requests_are_refused_with_the_fix() {
    require("tmux", "apt-get install -y tmux");
    let env = env_with(&[("lead", "coordinator", "all")]);
    let wt = worktree(&env, "wt-bare");
    let cwd = wt.to_str().unwrap();

    let (code, err) = env.fail(Some("lead"), &["tmux", "create", "x", "--cwd", cwd, "--name", "x_agent"]);
    assert!(code != 0 && err.contains("--role") && err.contains("--no-agent"), "{err}");
    let (_, err) = env.fail(Some("lead"), &["tmux", "create", "a.b", "--cwd", cwd, "--no-agent"]);
    assert!(err.contains("invalid session name"), "{err}");
    let (_, err) = env.fail(Some("lead"), &["tmux", "create", "x", "--cwd", "/no/such/dir", "--no-agent"]);
    assert!(err.contains("no such directory"), "{err}");

    // A bare session cannot be launched: there is no agent to run.
    env.ok(Some("lead"), &["tmux", "create", "bare", "--cwd", cwd, "--no-agent"]);
    let (code, err) = env.fail(Some("lead"), &["tmux", "launch", "bare"]);
    assert!(code != 0 && err.contains("has no agent identity") && err.contains("thrum quickstart"), "{err}");
    let (_, err) = env.fail(Some("lead"), &["tmux", "create", "bare", "--cwd", cwd, "--no-agent"]);
    assert!(err.contains("already exists") && err.contains("--force"), "{err}");
    env.ok(Some("lead"), &["tmux", "create", "bare", "--cwd", cwd, "--no-agent", "--force"]);
    let (_, err) = env.fail(Some("lead"), &["tmux", "send", "nope", "hi"]);
    assert!(err.contains("no tmux session named \"nope\""), "{err}");
    let all = status(&env);
    assert_eq!(session(&all, "bare").map(|s| s["state"].clone()), Some(Value::from("alive")), "{all:?}");

    // connect: a name that is not ours, or no name among several.
    let (_, err) = env.fail(Some("lead"), &["tmux", "connect", "nope"]);
    assert!(err.contains("no thrum-managed tmux session named \"nope\""), "{err}");
    env.ok(Some("lead"), &["tmux", "create", "bare2", "--cwd", cwd, "--no-agent"]);
    let (_, err) = env.fail(Some("lead"), &["tmux", "connect"]);
    assert!(err.contains("several sessions") && err.contains("bare, bare2"), "{err}");
}
