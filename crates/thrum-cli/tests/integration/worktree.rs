//! `thrum worktree create|setup|teardown|list` with real git worktrees: a
//! new worktree under `worktrees.base_path` shares this repository's thrum
//! (its agent sends and is listed), with `--name --role --module` its agent
//! is registered inside a real tmux session, teardown ends the session and
//! removes the identity, the worktree and (asked) the branch, and refuses
//! uncommitted work.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use thrum_testkit::{TestEnv, git};

use crate::claude::{poll, require};
use crate::env_with;
use crate::tmux_sessions::pane_path;

fn branches(env: &TestEnv) -> String {
    git(env, &env.repo(), &["branch", "--format=%(refname:short)"])
}

fn listed(env: &TestEnv) -> Vec<Value> {
    env.json(Some("lead"), &["worktree", "list"])["worktrees"].as_array().cloned().unwrap()
}

fn entry<'a>(all: &'a [Value], path: &Path) -> Option<&'a Value> {
    all.iter().find(|w| Path::new(w["path"].as_str().unwrap_or_default()) == path)
}

#[test]
fn a_worktree_is_created_wired_used_listed_and_torn_down() {
    let env = env_with(&[("lead", "coordinator", "all")]);
    // The default base: ~/.thrum/worktrees/<repository folder>.
    let made = env.json(Some("lead"), &["worktree", "create", "api"]);
    let wt = env.home().join(".thrum/worktrees/repo/api");
    assert_eq!(Path::new(made["path"].as_str().unwrap()), wt.canonicalize().unwrap(), "{made}");
    assert_eq!(made["branch"], "feature/api");
    assert!(branches(&env).lines().any(|b| b == "feature/api"));
    let main_thrum = env.repo().canonicalize().unwrap().join(".thrum");
    assert_eq!(std::fs::read_to_string(wt.join(".thrum/redirect")).unwrap().trim(), main_thrum.to_str().unwrap());
    assert!(wt.join(".thrum/identities").is_dir());
    assert!(made.get("session").is_none(), "no agent flags, no session: {made}");

    // An agent registered there is one of this repository's agents.
    env.ok_in(&wt, None, &["quickstart", "--name", "impl_api", "--role", "implementer", "--module", "api"]);
    env.ok_in(&wt, Some("impl_api"), &["send", "hello from the worktree", "--to", "@lead"]);
    let inbox = env.ok(Some("lead"), &["inbox"]);
    assert!(inbox.contains("hello from the worktree"), "{inbox}");

    let all = listed(&env);
    let main = entry(&all, &env.repo().canonicalize().unwrap()).unwrap_or_else(|| panic!("{all:?}"));
    assert_eq!(main["main"], true);
    assert_eq!(main["agents"][0]["name"], "lead");
    let e = entry(&all, &wt.canonicalize().unwrap()).unwrap_or_else(|| panic!("{all:?}"));
    assert_eq!((e["branch"].as_str(), e["agents"][0]["name"].as_str()), (Some("feature/api"), Some("impl_api")));
    let table = env.ok(Some("lead"), &["worktree", "list"]);
    assert!(table.starts_with("WORKTREE") && table.contains("impl_api") && table.contains("feature/api"), "{table}");

    // Uncommitted work holds the teardown; thrum's own files do not.
    std::fs::write(wt.join("notes.txt"), "draft").unwrap();
    let (code, err) = env.fail(Some("lead"), &["worktree", "teardown", "api"]);
    assert!(
        code != 0 && err.contains("uncommitted work") && err.contains("notes.txt") && err.contains("--force"),
        "{err}"
    );
    assert!(!err.contains("?? .thrum") && !err.contains("redirect"), "{err}");
    assert!(wt.join("notes.txt").exists() && wt.join(".thrum/identities/impl_api.json").exists(), "nothing removed");
    std::fs::remove_file(wt.join("notes.txt")).unwrap();

    // A monitor running a command in the worktree is stopped with it; one
    // elsewhere is left alone.
    let monitor = |name: &str, dir: &Path| {
        let flags =
            ["monitor", "start", "--name", name, "--match", "x", "--to", "@lead", "--cwd", dir.to_str().unwrap()];
        env.ok(Some("lead"), &[&flags[..], &["--", "sleep", "60"]].concat());
    };
    monitor("in-wt", &wt);
    monitor("in-main", &env.repo());

    let gone = env.json(Some("lead"), &["worktree", "teardown", "api", "--delete-branch"]);
    assert_eq!(gone["identities_removed"], serde_json::json!(["impl_api"]), "{gone}");
    assert_eq!(gone["monitors_stopped"], serde_json::json!(["in-wt"]), "{gone}");
    let running = env.json(Some("lead"), &["monitor", "list"]);
    let names: Vec<&str> =
        running["monitors"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["in-main"]);
    assert_eq!(gone["branch_deleted"], true);
    assert!(!wt.exists(), "the worktree's folder is gone");
    assert!(!branches(&env).lines().any(|b| b == "feature/api"));
    assert!(entry(&listed(&env), &wt).is_none());
    let (_, err) = env.fail(Some("lead"), &["worktree", "teardown", "api"]);
    assert!(err.contains("no worktree named \"api\"") && err.contains("thrum worktree list"), "{err}");
}

#[test]
fn base_path_branches_beads_and_force() {
    let env = env_with(&[("lead", "coordinator", "all")]);
    let base = env.dir.path().join("trees");
    env.ok(Some("lead"), &["config", "set", "worktrees.base_path", base.to_str().unwrap()]);
    std::fs::create_dir_all(env.repo().join(".beads")).unwrap();

    // `setup` is the same command; -b names the branch; beads is wired.
    let made = env.json(Some("lead"), &["worktree", "setup", "hotfix", "-b", "fix/urgent"]);
    let wt = base.join("hotfix");
    assert_eq!(made["branch"], "fix/urgent", "{made}");
    assert_eq!(git(&env, &wt, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(), "fix/urgent");
    let beads = env.repo().canonicalize().unwrap().join(".beads");
    assert_eq!(std::fs::read_to_string(wt.join(".beads/redirect")).unwrap().trim(), beads.to_str().unwrap());

    // Detached, and without beads or thrum wiring when they are turned off.
    env.ok(Some("lead"), &["config", "set", "worktrees.beads_enabled", "false"]);
    env.ok(Some("lead"), &["config", "set", "worktrees.thrum_enabled", "off"]);
    let made = env.json(Some("lead"), &["worktree", "create", "look", "--detach"]);
    assert_eq!((made["branch"].clone(), made["detached"].clone()), (Value::Null, Value::Bool(true)), "{made}");
    assert!(!base.join("look/.beads/redirect").exists());
    assert!(!base.join("look/.thrum").exists() && made.get("thrum_redirect").is_none(), "{made}");
    let text = env.ok(Some("lead"), &["worktree", "list"]);
    assert!(text.contains("(detached)"), "{text}");

    // A modified tracked file: refused, then --force discards it.
    let tracked = git(&env, &wt, &["ls-files"]);
    let file = tracked.lines().next().unwrap().to_string();
    std::fs::write(wt.join(&file), "changed\n").unwrap();
    let (_, err) = env.fail(Some("lead"), &["worktree", "teardown", "hotfix"]);
    assert!(err.contains("uncommitted work") && err.contains(&file), "{err}");
    env.ok(Some("lead"), &["worktree", "teardown", "hotfix", "--force"]);
    assert!(!wt.exists());
    assert!(branches(&env).lines().any(|b| b == "fix/urgent"), "the branch stays without --delete-branch");

    // An existing branch is checked out, not recreated.
    let made = env.json(Some("lead"), &["worktree", "create", "again", "-b", "fix/urgent"]);
    assert_eq!(made["branch"], "fix/urgent");
    assert_eq!(git(&env, &base.join("again"), &["rev-parse", "--abbrev-ref", "HEAD"]).trim(), "fix/urgent");
}

#[test]
fn bad_requests_change_nothing() {
    let env = env_with(&[("lead", "coordinator", "all")]);
    let trees = || {
        let all = git(&env, &env.repo(), &["worktree", "list", "--porcelain"]);
        all.lines().filter(|l| l.starts_with("worktree ")).map(str::to_string).collect::<Vec<_>>()
    };
    let before = (trees(), branches(&env));
    let refused = |args: &[&str], want: &[&str]| {
        let (code, err) = env.fail(Some("lead"), args);
        assert!(code != 0, "{args:?} succeeded");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        for w in want {
            assert!(err.contains(w), "{args:?}: {err} lacks {w:?}");
        }
    };
    refused(&["worktree", "create", "a/b"], &["invalid worktree name", "no '/'"]);
    refused(&["worktree", "create", ".."], &["invalid worktree name"]);
    refused(&["worktree", "create", "x", "--name", "x_impl"], &["--role", "--module"]);
    refused(&["worktree", "create", "x", "-b", "bad..branch"], &["invalid branch name"]);
    refused(&["worktree", "create", "x.y", "--name", "xy", "--role", "r", "--module", "m"], &["tmux session"]);
    refused(&["worktree", "create", "x", "--name", "bad name", "--role", "r", "--module", "m"], &["invalid --name"]);
    refused(&["worktree", "teardown", "nope"], &["no worktree named"]);
    let repo = env.repo().canonicalize().unwrap();
    refused(&["worktree", "teardown", repo.to_str().unwrap()], &["main worktree"]);

    // The repository itself as the base, directly or through `..`.
    env.ok(Some("lead"), &["config", "set", "worktrees.base_path", repo.to_str().unwrap()]);
    refused(&["worktree", "create", "x"], &["is the repository itself", "worktrees.base_path"]);
    let sneaky = repo.join("sub/..");
    env.ok(Some("lead"), &["config", "set", "worktrees.base_path", sneaky.to_str().unwrap()]);
    refused(&["worktree", "create", "x"], &["is the repository itself"]);
    // The repository's parent as base and its folder name as NAME.
    env.ok(Some("lead"), &["config", "set", "worktrees.base_path", repo.parent().unwrap().to_str().unwrap()]);
    refused(&["worktree", "create", "repo"], &["the repository itself"]);
    env.ok(Some("lead"), &["config", "set", "worktrees.base_path", "relative/trees"]);
    refused(&["worktree", "create", "x"], &["not an absolute path"]);

    assert_eq!((trees(), branches(&env)), before, "nothing was created");
    // thrum's own a-sync worktree is neither listed nor torn down.
    assert!(listed(&env).iter().all(|w| !w["path"].as_str().unwrap().contains("thrum-sync")));
    refused(&["worktree", "teardown", "a-sync"], &["no worktree named"]);
}

#[test]
fn with_an_agent_it_gets_a_tmux_session_that_teardown_ends() {
    require("tmux", "apt-get install -y tmux");
    let env = env_with(&[("lead", "coordinator", "all")]);
    pane_path(&env, &[]);
    let base = env.dir.path().join("trees");
    env.ok(Some("lead"), &["config", "set", "worktrees.base_path", base.to_str().unwrap()]);

    let text = env.ok(
        Some("lead"),
        &["worktree", "create", "auth", "--name", "impl_auth", "--role", "implementer", "--module", "auth"],
    );
    assert!(text.contains("Session created: auth") && text.contains("Registered @impl_auth"), "{text}");
    assert!(text.contains("Agent is NOT running yet") && text.contains("thrum tmux launch auth"), "{text}");
    let wt = base.join("auth");
    assert!(wt.join(".thrum/identities/impl_auth.json").exists(), "registered inside the worktree");
    let status = env.json(Some("lead"), &["tmux", "status"]);
    let s = status["sessions"].as_array().unwrap().iter().find(|s| s["name"] == "auth").cloned();
    assert_eq!(s.as_ref().map(|s| s["agent"].clone()), Some(Value::from("impl_auth")), "{status}");
    let all = listed(&env);
    let e = entry(&all, &wt.canonicalize().unwrap()).unwrap_or_else(|| panic!("{all:?}"));
    assert_eq!(e["agents"][0]["name"], "impl_auth");

    // A second worktree whose agent cannot be registered (a session of
    // that name exists): the worktree is removed again.
    assert!(env.tmux(&["new-session", "-d", "-s", "auth2"]).status.success());
    let (_, err) = env.fail(
        Some("lead"),
        &["worktree", "create", "auth2", "--name", "impl_two", "--role", "implementer", "--module", "auth"],
    );
    assert!(err.contains("removed again"), "{err}");
    assert!(!base.join("auth2").exists());
    assert!(!branches(&env).contains("feature/auth2"));

    let gone = env.json(Some("lead"), &["worktree", "teardown", "auth"]);
    assert_eq!(gone["sessions_killed"], serde_json::json!(["auth"]), "{gone}");
    assert!(!wt.exists());
    assert!(
        poll(Duration::from_secs(5), || env.tmux(&["has-session", "-t", "=auth"]).status.code() != Some(0)),
        "the session is gone"
    );
    let status = env.json(Some("lead"), &["tmux", "status"]);
    assert!(status["sessions"].as_array().unwrap().iter().all(|s| s["name"] != "auth"), "{status}");
}
