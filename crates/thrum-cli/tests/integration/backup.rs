//! Backups: snapshot through the daemon, restore into a fresh clone,
//! refusal of bad archives and bad settings, the schedule, retention, and
//! writes going on while a backup runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use thrum_testkit::{TestEnv, wait_until};

use crate::BIN;

fn archive_of(v: &Value) -> PathBuf {
    PathBuf::from(v["path"].as_str().unwrap())
}

/// Archives (not safety backups) in a backup folder.
fn archives(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tar.gz") && !n.starts_with("safety-"))
        .collect();
    v.sort();
    v
}

fn set_config(env: &TestEnv, dir: &Path, key: &str, value: Value) {
    let p = dir.join(".thrum/config.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let mut slot = &mut cfg;
    let parts: Vec<&str> = key.split('.').collect();
    for k in &parts[..parts.len() - 1] {
        if slot.get(*k).is_none() {
            slot[*k] = json!({});
        }
        slot = &mut slot[*k];
    }
    slot[parts[parts.len() - 1]] = value;
    std::fs::write(&p, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    let _ = env;
}

/// The answers a restore must keep: every agent's inbox (unread only, so
/// asking marks nothing read), sent mail with receipts, groups with
/// members, agents.
fn answers(env: &TestEnv, dir: &Path, agents: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for a in agents {
        out.insert(format!("inbox {a}"), env.json_in(dir, Some(a), &["inbox", "--unread", "--page-size", "100"]));
        out.insert(
            format!("inbox all {a}"),
            env.json_in(dir, Some(a), &["inbox", "--all", "--unread", "--page-size", "100"]),
        );
        out.insert(format!("sent {a}"), env.json_in(dir, Some(a), &["sent"]));
    }
    out.insert("groups".into(), env.json_in(dir, None, &["group", "list"]));
    out.insert("devs".into(), env.json_in(dir, None, &["group", "members", "devs"]));
    let mut agents_v = env.json_in(dir, None, &["agent", "list"]);
    // Live git state (branch, changed files, when last looked at) is the
    // machine's, refreshed by the daemon, not data a backup holds.
    agents_v.as_object_mut().unwrap().remove("contexts");
    // Liveness and the worktree path belong to the machine, not the data.
    for a in agents_v["agents"].as_array_mut().unwrap() {
        let o = a.as_object_mut().unwrap();
        for k in ["worktree", "pid_alive", "status", "last_seen", "last_seen_at", "repo_path"] {
            o.remove(k);
        }
    }
    out.insert("agents".into(), agents_v);
    Value::Object(out)
}

/// A store with messages, replies, reads, groups and three agents.
fn busy_store() -> (TestEnv, Vec<&'static str>) {
    let agents = vec!["alice", "bob", "carol"];
    let env = TestEnv::with_agents(
        BIN,
        &[("alice", "implementer", "auth"), ("bob", "reviewer", "auth"), ("carol", "planner", "ui")],
    );
    let m1 = env.json(Some("alice"), &["send", "review please", "--to", "@bob"]);
    let id1 = m1["message_id"].as_str().unwrap().to_string();
    env.json(Some("carol"), &["send", "standup at 10", "--broadcast"]);
    env.json(Some("bob"), &["reply", &id1, "looks good"]);
    env.ok(Some("alice"), &["group", "create", "devs"]);
    env.ok(Some("alice"), &["group", "add", "devs", "@bob"]);
    env.ok(Some("alice"), &["group", "add", "devs", "@carol"]);
    env.json(Some("carol"), &["send", "to the devs", "--to", "@devs"]);
    // Reads: bob reads everything; carol reads one message.
    env.ok(Some("bob"), &["inbox", "--all"]);
    env.ok(Some("carol"), &["message", "read", &id1]);
    let mut child = env
        .thrum(&["context", "save"])
        .env("THRUM_NAME", "alice")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"working on the token refresh\n").unwrap();
    }
    assert!(child.wait().unwrap().success());
    (env, agents)
}

#[test]
fn restore_into_a_fresh_clone_answers_as_before() {
    let (env, agents) = busy_store();
    let made = env.json(None, &["backup"]);
    let archive = archive_of(&made);
    assert!(archive.is_file(), "{made}");
    assert!(made["counts"]["events"].as_u64().unwrap() >= 10, "{made}");
    assert_eq!(made["counts"]["message_files"].as_u64(), Some(3), "{made}");
    let before = answers(&env, &env.repo(), &agents);

    // A fresh clone knows nothing of these agents until the restore.
    let clone = env.clone_repo("clone");
    env.ok_in(&clone, None, &["init"]);
    let restored = env.json_in(&clone, None, &["backup", "restore", archive.to_str().unwrap(), "--yes"]);
    assert_eq!(restored["daemon_started"], json!(true), "{restored}");
    let safety = PathBuf::from(restored["safety_backup"].as_str().unwrap());
    assert!(safety.file_name().unwrap().to_string_lossy().starts_with("safety-"), "{restored}");
    assert!(safety.is_file());
    let after = answers(&env, &clone, &agents);
    assert_eq!(before, after);
    // Not vacuous: bob's unread inbox is empty (he read it), carol's is not.
    assert_eq!(before["inbox bob"]["messages"].as_array().map(Vec::len), Some(0), "{before}");
    assert!(before["inbox all carol"]["messages"].as_array().is_some_and(|m| !m.is_empty()), "{before}");
    // Identity files and context came back too.
    assert!(clone.join(".thrum/identities/carol.json").is_file());
    let ctx = env.ok_in(&clone, Some("alice"), &["context", "show"]);
    assert!(ctx.contains("token refresh"), "{ctx}");
}

#[test]
fn identities_of_linked_worktrees_are_backed_up_and_restored_where_the_worktree_is() {
    let env = TestEnv::with_agents(BIN, &[("lead", "coordinator", "all")]);
    let trees = env.dir.path().join("trees");
    env.ok(Some("lead"), &["config", "set", "worktrees.base_path", trees.to_str().unwrap()]);
    env.ok(Some("lead"), &["worktree", "create", "api"]);
    let wt = trees.join("api");
    env.ok_in(&wt, None, &["quickstart", "--name", "impl_api", "--role", "implementer", "--module", "api"]);
    let id_file = wt.join(".thrum/identities/impl_api.json");
    let saved = std::fs::read(&id_file).unwrap();

    let made = env.json(None, &["backup"]);
    let archive = archive_of(&made);
    std::fs::remove_file(&id_file).unwrap();
    let r = env.json(None, &["backup", "restore", archive.to_str().unwrap(), "--yes"]);
    assert_eq!(r["missing_worktrees"], json!([]), "{r}");
    assert_eq!(std::fs::read(&id_file).unwrap(), saved, "the worktree's identity came back");
    let me = env.json_in(&wt, None, &["whoami"]);
    assert!(me.to_string().contains("impl_api"), "{me}");

    // A fresh clone has no such worktree: its identities are left out, and said so.
    let clone = env.clone_repo("clone");
    env.ok_in(&clone, None, &["init"]);
    let gone = env.dir.path().join("gone");
    std::fs::rename(&wt, &gone).unwrap();
    let r = env.json_in(&clone, None, &["backup", "restore", archive.to_str().unwrap(), "--yes"]);
    assert_eq!(r["missing_worktrees"], json!([wt.to_str().unwrap()]), "{r}");
    let out = env.thrum_in(&clone, &["backup", "restore", archive.to_str().unwrap(), "--yes"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("left out") && err.contains(wt.to_str().unwrap()), "{err}");
}

#[test]
fn restore_needs_yes_without_a_terminal_and_the_default_is_the_newest_backup() {
    let (env, agents) = busy_store();
    env.json(None, &["backup"]);
    let before = answers(&env, &env.repo(), &agents);
    let (code, err) = env.fail(None, &["backup", "restore"]);
    assert_eq!(code, 1);
    assert!(err.contains("--yes") && err.lines().count() == 1, "{err}");
    // New mail after the backup goes away with a restore of it.
    env.json(Some("alice"), &["send", "after the backup", "--to", "@carol"]);
    let r = env.json(None, &["backup", "restore", "--yes"]);
    assert!(r["restored_from"].as_str().unwrap().ends_with(".tar.gz"), "{r}");
    assert_eq!(answers(&env, &env.repo(), &agents), before);
    // The safety backup kept it: restoring that brings it back.
    let safety = r["safety_backup"].as_str().unwrap().to_string();
    env.json(None, &["backup", "restore", &safety, "--yes"]);
    let inbox = env.json(Some("carol"), &["inbox", "--all", "--unread"]);
    assert!(inbox.to_string().contains("after the backup"), "{inbox}");
}

#[test]
fn bad_archives_are_refused_in_one_line_and_change_nothing() {
    let (env, agents) = busy_store();
    let good = archive_of(&env.json(None, &["backup"]));
    let before = answers(&env, &env.repo(), &agents);
    let dir = env.dir.path().join("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.join("truncated.tar.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    // One byte changed, at a quarter, half, three quarters and the end
    // (the gzip trailer's checksum).
    let flipped: Vec<PathBuf> = [bytes.len() / 4, bytes.len() / 2, bytes.len() * 3 / 4, bytes.len() - 5]
        .iter()
        .enumerate()
        .map(|(i, at)| {
            let p = dir.join(format!("flipped{i}.tar.gz"));
            let mut b = bytes.clone();
            b[*at] ^= 0x55;
            std::fs::write(&p, &b).unwrap();
            p
        })
        .collect();
    let text = dir.join("notes.tar.gz");
    std::fs::write(&text, "just some text\n").unwrap();
    // A real tar.gz, but not ours (no manifest).
    std::fs::write(dir.join("x.txt"), "x").unwrap();
    let foreign = dir.join("foreign.tar.gz");
    let st = std::process::Command::new("tar")
        .args(["czf", foreign.to_str().unwrap(), "-C", dir.to_str().unwrap(), "x.txt"])
        .status()
        .unwrap();
    assert!(st.success());
    let missing = dir.join("missing.tar.gz");
    let cases = [
        (&truncated, "damaged"),
        (&flipped[0], "damaged"),
        (&flipped[1], "damaged"),
        (&flipped[2], "damaged"),
        (&flipped[3], "damaged"),
        (&text, "not a thrum backup"),
        (&foreign, "not a thrum backup"),
        (&missing, "does not exist"),
    ];
    let backup_dir = env.thrum_dir().join("backup");
    for (path, why) in cases {
        let (code, err) = env.fail(None, &["backup", "restore", path.to_str().unwrap(), "--yes"]);
        assert_eq!(code, 1, "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(why) && err.contains(path.file_name().unwrap().to_str().unwrap()), "{why}: {err}");
    }
    // No safety backup was needed: nothing was touched.
    let any_safety = walk(&backup_dir).iter().any(|p| p.contains("safety-"));
    assert!(!any_safety);
    assert_eq!(answers(&env, &env.repo(), &agents), before);
    // No staging folder was left behind.
    let var: Vec<String> = std::fs::read_dir(env.thrum_dir().join("var"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("restore-"))
        .collect();
    assert!(var.is_empty(), "{var:?}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[test]
fn sends_during_a_backup_are_acknowledged_and_kept() {
    let env = TestEnv::with_agents(BIN, &[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    for i in 0..50 {
        env.json(Some("alice"), &["send", &format!("before {i}"), "--to", "@bob"]);
    }
    // A plugin whose command holds the backup open after the log is
    // pinned and before the archive is written, and collects a file.
    let repo = env.repo();
    std::fs::create_dir_all(repo.join(".beads/backup")).unwrap();
    std::fs::write(repo.join(".beads/backup/issues.jsonl"), "{\"id\":1}\n").unwrap();
    let marker = env.dir.path().join("plugin-started");
    let cmd = format!("touch {} && sleep 2", marker.display());
    set_config(
        &env,
        &repo,
        "backup.plugins",
        json!([{ "name": "beads", "command": cmd, "include": [".beads/backup/*"] }]),
    );
    let backup = env.thrum(&["backup", "--json"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(20), || marker.exists()), "the plugin command never ran");
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let t = Instant::now();
        let sent = env.json(Some("alice"), &["send", &format!("during {i}"), "--to", "@bob"]);
        slowest = slowest.max(t.elapsed());
        assert!(sent["message_id"].as_str().is_some_and(|id| id.starts_with("msg_")), "{sent}");
    }
    // The sends did not wait for the backup (which still sleeps).
    assert!(slowest < Duration::from_secs(1), "a send took {slowest:?} during the backup");
    let out = backup.wait_with_output().unwrap();
    assert!(out.status.success());
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(made["counts"]["plugins"], json!(["beads"]), "{made}");
    let inbox = env.json(Some("bob"), &["inbox", "--all", "--page-size", "100"]);
    let text = inbox.to_string();
    for i in 0..20 {
        assert!(text.contains(&format!("during {i}\"")), "during {i} is missing");
    }
    // The snapshot is the log as it was pinned: the 50 sends before, none during.
    let listing = std::process::Command::new("tar")
        .args(["xzOf", made["path"].as_str().unwrap(), "log/messages/alice.jsonl"])
        .output()
        .unwrap();
    let shard = String::from_utf8_lossy(&listing.stdout);
    assert_eq!(shard.matches("\"before ").count(), 50);
    assert_eq!(shard.matches("\"during ").count(), 0);
    let names = std::process::Command::new("tar").args(["tzf", made["path"].as_str().unwrap()]).output().unwrap();
    assert!(String::from_utf8_lossy(&names.stdout).contains("plugins/beads/.beads/backup/issues.jsonl"));
}

#[test]
fn the_daemon_backs_up_on_schedule() {
    let env = TestEnv::with_agents(BIN, &[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    let r = env.json(None, &["backup", "schedule", "2s"]);
    assert_eq!(r["schedule"]["schedule"], json!("2s"), "{r}");
    assert!(r["schedule"]["next_run"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
    let dir = env.thrum_dir().join("backup/remote");
    // Writes go on between and during scheduled backups.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sent = 0;
    while archives(&dir).len() < 2 && Instant::now() < deadline {
        env.json(Some("alice"), &["send", &format!("tick {sent}"), "--to", "@bob"]);
        sent += 1;
    }
    let st = env.json(None, &["backup", "status"]);
    assert!(st["schedule"]["last_run"].as_str().is_some_and(|s| !s.is_empty()), "{st}");
    assert_eq!(st["schedule"]["last_error"], Value::Null, "{st}");
    assert!(st["last"]["path"].as_str().is_some(), "{st}");
    let off = env.json(None, &["backup", "schedule", "off"]);
    assert_eq!(off["schedule"]["schedule"], json!("off"), "{off}");
    assert_eq!(env.json(None, &["backup", "config"])["schedule"], json!("off"));
    let inbox = env.json(Some("bob"), &["inbox", "--all", "--unread", "--page-size", "500"]);
    assert_eq!(inbox["total"].as_u64(), Some(sent), "{inbox}");
}

#[test]
fn retention_prunes_by_the_archives_times() {
    let env = TestEnv::with_agents(BIN, &[("alice", "implementer", "auth")]);
    let dir = env.thrum_dir().join("backup/remote");
    std::fs::create_dir_all(&dir).unwrap();
    let now = chrono::Utc::now();
    let name = |days: i64, safety: bool| {
        let t = now - chrono::Duration::days(days) - chrono::Duration::seconds(5);
        format!("{}{}.tar.gz", if safety { "safety-" } else { "" }, t.format("%Y-%m-%dT%H%M%S%.3fZ"))
    };
    let old = [name(40, false), name(10, false), name(1, false), name(0, false)];
    let keep_safety = name(90, true);
    for n in old.iter().chain([&keep_safety]) {
        std::fs::write(dir.join(n), "x").unwrap();
    }
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    env.ok(None, &["config", "set", "backup.retention.daily", "3"]);
    env.ok(None, &["config", "set", "backup.retention.weekly", "0"]);
    env.ok(None, &["config", "set", "backup.retention.monthly", "0"]);
    let made = env.json(None, &["backup"]);
    let mut pruned: Vec<String> = made["pruned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Path::new(p.as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    pruned.sort();
    // Kept: the new one, today's older one and yesterday's (the last 3
    // days keep all theirs), the safety backup, the unrelated file.
    // Gone: 40 and 10 days old.
    let mut expected = vec![old[0].clone(), old[1].clone()];
    expected.sort();
    assert_eq!(pruned, expected, "{made}");
    assert!(dir.join(&old[2]).exists() && dir.join(&old[3]).exists());
    assert!(dir.join(&keep_safety).exists() && dir.join("notes.txt").exists());
    // Weekly only: one archive per week, so this week keeps only the newest.
    env.ok(None, &["config", "set", "backup.retention.daily", "0"]);
    env.ok(None, &["config", "set", "backup.retention.weekly", "-1"]);
    let made = env.json(None, &["backup"]);
    let left = archives(&dir);
    assert!(
        left.len() <= 2
            && left.contains(
                &Path::new(made["path"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned()
            ),
        "{left:?}"
    );
    assert!(!made["pruned"].as_array().unwrap().is_empty(), "{made}");
}

#[test]
fn bad_settings_and_places_get_one_line_with_the_fix() {
    let env = TestEnv::with_agents(BIN, &[("alice", "implementer", "auth")]);
    let (code, err) = env.fail(None, &["config", "set", "backup.schedule", "soon"]);
    assert!(code != 0 && err.contains("24h"), "{err}");
    let (_, err) = env.fail(None, &["config", "set", "backup.retention.daily", "-2"]);
    assert!(err.contains("-1 to keep all"), "{err}");
    let (_, err) = env.fail(None, &["backup", "schedule", "12"]);
    assert!(err.contains("no unit") && err.trim().lines().count() == 1, "{err}");
    // A hand-edited bad value: refused by name, the daemon keeps running.
    set_config(&env, &env.repo(), "backup.retention.weekly", json!("lots"));
    let (code, err) = env.fail(None, &["backup"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("backup.retention.weekly") && err.contains("thrum config set"), "{err}");
    let (_, err) = env.fail(None, &["backup", "config"]);
    assert!(err.contains("backup.retention.weekly"), "{err}");
    set_config(&env, &env.repo(), "backup.retention.weekly", json!(4));
    // A folder that cannot be made or written.
    let ro = env.dir.path().join("readonly");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::write(ro.join("file"), "").unwrap();
    let (code, err) = env.fail(None, &["backup", "--dir", ro.join("file/sub").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot create the backup directory") && err.contains("--dir"), "{err}");
    // The daemon is fine afterwards.
    let made = env.json(None, &["backup"]);
    assert!(archive_of(&made).is_file());
}

#[test]
fn post_backup_runs_with_the_archive_in_its_environment() {
    let env = TestEnv::with_agents(BIN, &[("alice", "implementer", "auth")]);
    let seen = env.dir.path().join("seen.txt");
    env.ok(
        None,
        &[
            "config",
            "set",
            "backup.post_backup",
            &format!("echo \"$THRUM_BACKUP_CURRENT $THRUM_BACKUP_REPO\" > {}", seen.display()),
        ],
    );
    let made = env.json(None, &["backup"]);
    let text = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(text.trim(), format!("{} remote", made["path"].as_str().unwrap()));
    assert_eq!(made["post_backup"]["error"], Value::Null, "{made}");
    // A failing command is reported, the backup stands.
    env.ok(None, &["config", "set", "backup.post_backup", "echo nope >&2; exit 4"]);
    let made = env.json(None, &["backup"]);
    assert_eq!(made["post_backup"]["error"], json!("exit status 4: nope"), "{made}");
    assert!(archive_of(&made).is_file());
}

#[test]
fn plugins_are_added_listed_and_removed() {
    let env = TestEnv::with_agents(BIN, &[("alice", "implementer", "auth")]);
    env.ok(None, &["backup", "plugin", "add", "--preset", "beads"]);
    let l = env.json(None, &["backup", "plugin", "list"]);
    assert_eq!(
        l["plugins"],
        json!([{ "name": "beads", "command": "bd backup --force", "include": [".beads/backup/*"] }])
    );
    let (_, err) = env.fail(None, &["backup", "plugin", "add", "--preset", "beads"]);
    assert!(err.contains("exists"), "{err}");
    let (_, err) = env.fail(None, &["backup", "plugin", "add", "--name", "bad", "--include", "../etc/*"]);
    assert!(err.contains("without .."), "{err}");
    env.ok(None, &["backup", "plugin", "add", "--name", "notes", "--command", "true", "--include", "docs/*.md"]);
    env.ok(None, &["backup", "plugin", "remove", "--name", "beads"]);
    let l = env.json(None, &["backup", "plugin", "list"]);
    assert_eq!(
        l["plugins"].as_array().map(|p| p.iter().map(|x| x["name"].clone()).collect::<Vec<_>>()),
        Some(vec![json!("notes")])
    );
    let (_, err) = env.fail(None, &["backup", "plugin", "remove", "--name", "nope"]);
    assert!(err.contains("no backup plugin named nope"), "{err}");
    // The rest of config.json is kept.
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(env.thrum_dir().join("config.json")).unwrap()).unwrap();
    assert!(cfg["identity"]["daemon_id"].as_str().is_some_and(|d| d.starts_with("d_")), "{cfg}");
}
