//! Live git state and who-has, with real worktrees and overlapping edits.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use thrum_testkit::{TestEnv, git, wait_until};

use crate::BIN;

fn holders(env: &TestEnv, dir: &Path, file: &str) -> Vec<(String, bool, bool)> {
    let v = env.json_in(dir, None, &["who-has", file]);
    let mut out: Vec<(String, bool, bool)> = v["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["agent_id"].as_str().unwrap().to_string(),
                a["uncommitted"].as_bool().unwrap(),
                a["in_unmerged_commits"].as_bool().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn beat(env: &TestEnv, dir: &Path) {
    env.ok_in(dir, None, &["session", "heartbeat"]);
}

/// Waits (heartbeating) until `who-has FILE` run in `dir` says `want`.
fn expect(env: &TestEnv, dirs: &[&Path], dir: &Path, file: &str, want: &[(&str, bool, bool)]) {
    let want: Vec<(String, bool, bool)> = want.iter().map(|(a, u, c)| (a.to_string(), *u, *c)).collect();
    let mut last = Vec::new();
    let ok = wait_until(Duration::from_secs(15), || {
        for d in dirs {
            beat(env, d);
        }
        last = holders(env, dir, file);
        last == want
    });
    assert!(ok, "who-has {file}: got {last:?}, want {want:?}");
}

#[test]
fn who_has_follows_edits_and_commits_across_worktrees() {
    let env = TestEnv::new(BIN);
    let main = env.repo();
    std::fs::create_dir_all(main.join("src")).unwrap();
    std::fs::write(main.join("src/auth.rs"), "fn login() {}\n").unwrap();
    std::fs::write(main.join("src/ui.rs"), "fn draw() {}\n").unwrap();
    git(&env, &main, &["add", "."]);
    git(&env, &main, &["commit", "-q", "-m", "code"]);
    env.ok(None, &["init"]);
    env.ok(None, &["quickstart", "--name", "alice", "--role", "implementer", "--module", "auth"]);
    let mut dirs = vec![main.clone()];
    for (name, branch, module) in [("bob", "feature-b", "auth"), ("carol", "feature-c", "ui")] {
        let wt = env.dir.path().join(format!("wt-{name}"));
        git(&env, &main, &["worktree", "add", "-q", wt.to_str().unwrap(), "-b", branch]);
        env.ok_in(&wt, None, &["setup"]);
        env.ok_in(&wt, None, &["quickstart", "--name", name, "--role", "implementer", "--module", module]);
        dirs.push(wt);
    }
    let (wt_b, wt_c) = (dirs[1].clone(), dirs[2].clone());
    let all: Vec<&Path> = dirs.iter().map(|d| d.as_path()).collect();

    // alice edits auth.rs in place; bob commits a change to it on his
    // branch and starts a new file; carol edits ui.rs.
    std::fs::write(main.join("src/auth.rs"), "fn login() { todo!() }\n").unwrap();
    std::fs::write(wt_b.join("src/auth.rs"), "fn login() -> bool { true }\n").unwrap();
    git(&env, &wt_b, &["commit", "-q", "-am", "login returns bool"]);
    std::fs::write(wt_b.join("src/session.rs"), "struct Session;\n").unwrap();
    std::fs::write(wt_c.join("src/ui.rs"), "fn draw() { paint() }\n").unwrap();

    expect(&env, &all, &main, "src/auth.rs", &[("alice", true, false), ("bob", false, true)]);
    expect(&env, &all, &main, "src/ui.rs", &[("carol", true, false)]);
    // A bare name matches anywhere; a path is taken relative to here.
    expect(&env, &all, &main, "session.rs", &[("bob", true, false)]);
    expect(&env, &all, &wt_c.join("src"), "ui.rs", &[("carol", true, false)]);
    assert!(holders(&env, &main, "README.md").is_empty());

    // The human form names the agent, the branch and how.
    let text = env.ok_in(&main, None, &["who-has", "src/auth.rs"]);
    assert!(text.contains("@bob is editing src/auth.rs on feature-b (1 unmerged commit)"), "{text}");
    assert!(text.contains("@alice is editing src/auth.rs on main (uncommitted changes)"), "{text}");

    // agent.listContext carries the commits and files.
    let ctx: Value = env.json_in(&wt_b, None, &["agent", "list", "--context"]);
    let bob = ctx["contexts"].as_array().unwrap().iter().find(|c| c["agent_id"] == "bob").unwrap().clone();
    assert_eq!(bob["branch"], "feature-b", "{bob}");
    assert_eq!(bob["unmerged_commits"][0]["subject"], "login returns bool", "{bob}");

    // alice throws her edit away: she no longer has the file.
    git(&env, &main, &["checkout", "--", "src/auth.rs"]);
    expect(&env, &all, &main, "src/auth.rs", &[("bob", false, true)]);
}
