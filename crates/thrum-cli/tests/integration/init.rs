//! `thrum init`: files, ignore entries, the orphan branch and worktree.

use std::os::unix::fs::PermissionsExt;

use thrum_testkit::{TestEnv, git};

use crate::BIN;
use crate::wire::{ConfigSet, Init, JsonAs, SyncStatus};

#[test]
fn init_creates_layout_branch_and_worktree_without_touching_user_state() {
    let env = TestEnv::new(BIN);
    let repo = env.repo();
    // Some user work in progress that must survive untouched.
    std::fs::write(repo.join("wip.txt"), "uncommitted\n").unwrap();
    std::fs::write(repo.join("README.md"), "edited\n").unwrap();
    git(&env, &repo, &["add", "README.md"]);
    let head_before = git(&env, &repo, &["rev-parse", "HEAD"]);
    let status_before = git(&env, &repo, &["status", "--porcelain"]);

    let out = env.ok(None, &["init"]);
    assert!(out.contains("Thrum initialized"), "{out}");
    for d in ["identities", "context", "var"] {
        assert!(env.thrum_dir().join(d).is_dir(), "missing .thrum/{d}");
    }
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.thrum_dir().join("config.json")).unwrap()).unwrap();
    assert!(cfg["identity"]["daemon_id"].as_str().unwrap().starts_with("d_"));
    let gi = std::fs::read_to_string(repo.join(".gitignore")).unwrap();
    assert!(gi.lines().any(|l| l == ".thrum/"), "{gi}");

    // The branch exists, holds the empty tree, and the user's state is unchanged.
    assert_eq!(git(&env, &repo, &["rev-parse", "a-sync^{tree}"]), "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
    assert_eq!(git(&env, &repo, &["rev-parse", "HEAD"]), head_before);
    assert_eq!(git(&env, &repo, &["branch", "--show-current"]), "main");
    let mut after: Vec<String> = git(&env, &repo, &["status", "--porcelain"]).lines().map(str::to_string).collect();
    let mut expected: Vec<String> = status_before.lines().map(str::to_string).collect();
    expected.push("?? .gitignore".into());
    after.sort();
    expected.sort();
    assert_eq!(after, expected);
    assert_eq!(std::fs::read_to_string(repo.join("wip.txt")).unwrap(), "uncommitted\n");

    let wt = env.sync_dir();
    assert!(wt.join(".git").is_file());
    assert_eq!(git(&env, &wt, &["rev-parse", "--abbrev-ref", "HEAD"]), "a-sync");
    assert!(git(&env, &repo, &["worktree", "list"]).contains("thrum-sync/a-sync"));
    // The main checkout must not have been switched to sparse mode.
    assert_ne!(git(&env, &repo, &["config", "--get", "core.sparseCheckout"]).as_str(), "true");
}

#[test]
fn init_is_idempotent() {
    let env = TestEnv::new(BIN);
    // --quiet: a successful init prints nothing.
    assert_eq!(env.ok(None, &["init", "--quiet"]), "");
    assert!(env.thrum_dir().join("config.json").exists());
    let gi = std::fs::read_to_string(env.repo().join(".gitignore")).unwrap();
    let cfg = std::fs::read_to_string(env.thrum_dir().join("config.json")).unwrap();
    let second: Init = env.json_as(None, &["init"]);
    assert!(second.created.is_empty() && second.updated.is_empty(), "{second:?}");
    assert_eq!(std::fs::read_to_string(env.repo().join(".gitignore")).unwrap(), gi);
    assert_eq!(std::fs::read_to_string(env.thrum_dir().join("config.json")).unwrap(), cfg);
}

#[test]
fn init_dry_run_changes_nothing() {
    let env = TestEnv::new(BIN);
    let out: Init = env.json_as(None, &["init", "--dry-run"]);
    assert!(out.dry_run);
    assert!(!out.created.is_empty());
    assert!(!env.thrum_dir().exists());
    assert!(!env.repo().join(".gitignore").exists());
    assert!(git(&env, &env.repo(), &["branch", "--list", "a-sync"]).is_empty());
}

#[test]
fn init_stealth_uses_info_exclude() {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init", "--stealth"]);
    assert!(!env.repo().join(".gitignore").exists());
    let ex = std::fs::read_to_string(env.repo().join(".git/info/exclude")).unwrap();
    assert!(ex.contains("# Thrum stealth mode") && ex.lines().any(|l| l == ".thrum/"), "{ex}");
}

#[test]
fn init_refuses_outside_git_unless_forced() {
    let env = TestEnv::new(BIN);
    let plain = env.dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let out = env.thrum_in(&plain, &["init"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a git repository") && err.contains("--force"), "{err}");
    assert!(!plain.join(".thrum").exists());
    let out = env.thrum_in(&plain, &["init", "--force"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(plain.join(".thrum/config.json").exists());
    // Messaging works without git too.
    let q = env
        .thrum_in(&plain, &["quickstart", "--name", "solo", "--role", "dev", "--module", "x", "--no-agent-pid"])
        .output()
        .unwrap();
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
    let pid = std::fs::read_to_string(plain.join(".thrum/var/thrum.pid")).unwrap();
    let pid: serde_json::Value = serde_json::from_str(&pid).unwrap();
    let p = rustix::process::Pid::from_raw(pid["pid"].as_i64().unwrap() as i32).unwrap();
    let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
}

#[test]
fn identity_files_are_private_v5() {
    let env = crate::env_with(&[("alice", "implementer", "auth")]);
    let path = env.thrum_dir().join("identities/alice.json");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let f: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(f["version"], 5);
    assert_eq!(f["agent"]["name"], "alice");
    assert_eq!(f["agent"]["role"], "implementer");
    assert_eq!(f["agent"]["module"], "auth");
    assert_eq!(f["worktree"], "repo");
    assert!(f["session_id"].as_str().unwrap().starts_with("ses_"));
}

/// As the original: a new repository is local-only (its agents' messages
/// never reach origin by surprise), init says how to turn sync on, and
/// `sync status` and `prime` say which mode is on. An existing repository
/// keeps its mode; `init --sync` or `config set` turn sync on.
#[test]
fn new_repositories_are_local_only_until_sync_is_turned_on() {
    let env = TestEnv::new(BIN);
    let remote = env.dir.path().join("remote.git");
    let out = env.ok(None, &["init"]);
    assert!(out.contains("local-only"), "{out}");
    assert!(out.contains("thrum config set daemon.local_only false") && out.contains("thrum init --sync"), "{out}");
    let cfg = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(env.thrum_dir().join("config.json")).unwrap()).unwrap()
    };
    assert_eq!(cfg()["daemon"]["local_only"], true);
    let again: Init = env.json_as(None, &["init"]);
    assert_eq!(again.local_only, Some(true));
    assert!(again.updated.is_empty(), "a second init changes nothing: {again:?}");

    env.ok(None, &["quickstart", "--name", "alice", "--role", "implementer", "--module", "auth", "--no-agent-pid"]);
    env.ok(Some("alice"), &["send", "stays here", "--to", "@alice"]);
    let s: SyncStatus = env.json_as(None, &["sync", "force", "--wait"]);
    assert_eq!((s.mode.as_str(), s.local_only), ("local-only", true), "{s:?}");
    assert!(git(&env, &remote, &["branch", "--list", "a-sync"]).is_empty(), "nothing was pushed");
    let human = env.ok(None, &["sync", "status"]);
    assert!(human.contains("Mode:       local-only") && human.contains("daemon.local_only false"), "{human}");
    let prime = env.ok(Some("alice"), &["prime"]);
    assert!(prime.contains("Sync: local-only"), "{prime}");

    // Turned on by config set: the running daemon needs a restart, and says so.
    let set: ConfigSet = env.json_as(None, &["config", "set", "daemon.local_only", "false"]);
    assert_eq!((set.value.clone(), set.previous.clone(), set.restart_daemon), (false.into(), Some(true.into()), true));
    env.ok(None, &["daemon", "restart"]);
    let s: SyncStatus = env.json_as(None, &["sync", "force", "--wait"]);
    assert_eq!((s.mode.as_str(), s.last_result.as_str()), ("normal", "ok"), "{s:?}");
    assert!(!git(&env, &remote, &["branch", "--list", "a-sync"]).is_empty(), "pushed once sync is on");
    assert!(env.ok(Some("alice"), &["prime"]).contains("Sync: normal"));
    // A plain init keeps an existing repository's mode.
    let again: Init = env.json_as(None, &["init"]);
    assert_eq!((again.local_only, cfg()["daemon"]["local_only"].clone()), (Some(false), false.into()));

    // init --sync turns an existing local-only repository to sync.
    let other = TestEnv::new(BIN);
    other.ok(None, &["init"]);
    other.ok(None, &["daemon", "start"]);
    let on: Init = other.json_as(None, &["init", "--sync"]);
    assert_eq!(on.local_only, Some(false));
    assert!(on.restart_daemon, "the running daemon read local-only when it started: {on:?}");
    // Said once: a second --sync changes nothing.
    let text = other.ok(None, &["init", "--sync"]);
    assert!(!text.contains("daemon restart"), "{text}");
    assert!(on.updated.iter().any(|u| u.contains("local_only")), "{on:?}");
    let c: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(other.thrum_dir().join("config.json")).unwrap()).unwrap();
    assert_eq!(c["daemon"]["local_only"], false);
    // A config.json init cannot change is refused by --sync, untouched.
    std::fs::write(other.thrum_dir().join("config.json"), "[1]").unwrap();
    let (code, err) = other.fail(None, &["init", "--sync"]);
    assert!(code == 78 && err.contains("config.json") && err.contains("fix or remove it"), "{code}: {err}");
    assert_eq!(std::fs::read_to_string(other.thrum_dir().join("config.json")).unwrap(), "[1]");
}

/// Runs `thrum ARGS…` in a pseudo-terminal (Python's `pty`), answering
/// each `[default]: ` prompt with Enter; with `ctrl_c_at`, sends Ctrl-C at
/// the first prompt containing it instead. Prints the exit status, then
/// what the terminal showed.
const PTY_DRIVER: &str = r#"
import os, pty, select, sys, time
bin, ctrl_c_at, args = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(bin, [bin] + args)
buf, answered, status, deadline = b"", 0, None, time.time() + 20
while status is None and time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.05)
    if r:
        try:
            buf += os.read(fd, 65536)
        except OSError:
            pass
    prompts = buf.split(b"]: ")[:-1]
    if len(prompts) > answered:
        last = prompts[-1].rsplit(b"\n", 1)[-1].decode(errors="replace")
        answered = len(prompts)
        os.write(fd, b"\x03" if ctrl_c_at and ctrl_c_at in last else b"\r")
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(st)
print(status)
print(buf.decode(errors="replace"))
"#;

/// (exit status, terminal output) of `thrum init ARGS` in a pty.
fn init_in_pty(env: &TestEnv, ctrl_c_at: &str, args: &[&str]) -> (String, String) {
    let out = env
        .hermetic(std::process::Command::new("python3"))
        .arg("-c")
        .arg(PTY_DRIVER)
        .arg(BIN)
        .arg(ctrl_c_at)
        .arg("init")
        .args(args)
        .current_dir(env.repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, shown) = text.split_once('\n').unwrap_or((&text, ""));
    (status.to_string(), shown.to_string())
}

#[test]
fn init_wizard_on_a_terminal_accepts_every_default_with_enter() {
    let env = TestEnv::new(BIN);
    let repo = env.repo();
    let (status, shown) =
        init_in_pty(&env, "", &["--agent-module", "auth", "--agent-name", "ann", "--agent-role", "lead"]);
    assert_eq!(status, "0", "{shown}");
    // One line per prompt; what a flag gave is taken without asking.
    for p in ["Sync messages", "[y/N]", "Runtime to set up", "[none]", "Worktrees root [~/.thrum/worktrees/repo]"] {
        assert!(shown.contains(p), "{p}: {shown}");
    }
    assert!(shown.contains("Agent: @ann (role lead, module auth) (from --agent-name"), "{shown}");
    assert!(!shown.contains("Agent role ["), "{shown}");
    // What the silent path does…
    let gi = std::fs::read_to_string(repo.join(".gitignore")).unwrap();
    assert!(gi.lines().any(|l| l == ".thrum/"), "{gi}");
    assert!(!git(&env, &repo, &["rev-parse", "--verify", "a-sync"]).is_empty());
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.thrum_dir().join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["daemon"]["local_only"], true);
    // …and what the defaults add: the agent, the worktrees root, the role
    // templates and a running daemon.
    assert!(env.thrum_dir().join("identities/ann.json").is_file(), "{shown}");
    let wt = cfg["worktrees"]["base_path"].as_str().unwrap();
    assert_eq!(wt, env.home().join(".thrum/worktrees/repo").display().to_string());
    assert!(env.thrum_dir().join("role_templates/implementer.md").is_file(), "{shown}");
    assert!(env.daemon_pid().is_some(), "{shown}");
}

#[test]
fn init_wizard_with_every_flag_asks_nothing() {
    let env = TestEnv::new(BIN);
    let trees = env.dir.path().join("trees");
    let args = [
        "--runtime",
        "cli-only",
        "--agent-name",
        "ann",
        "--agent-role",
        "lead",
        "--agent-module",
        "auth",
        "--worktrees-root",
        trees.to_str().unwrap(),
        "--roles",
        "skip",
        "--no-daemon",
        "--stealth",
        "--sync",
    ];
    let (status, shown) = init_in_pty(&env, "", &args);
    assert_eq!(status, "0", "{shown}");
    assert!(!shown.contains("]: "), "no prompt: {shown}");
    assert!(shown.contains("Role templates: skip (from --roles)"), "{shown}");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.thrum_dir().join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["worktrees"]["base_path"], trees.to_str().unwrap());
    assert_eq!(cfg["daemon"]["local_only"], false);
    assert!(env.thrum_dir().join("identities/ann.json").is_file());
    assert!(!env.thrum_dir().join("role_templates").exists());
    // (Registering the agent started the daemon, as quickstart does; the
    // wizard's own daemon step was skipped.)
    assert!(shown.contains("Start the daemon now: no (from --no-daemon)"), "{shown}");
}

#[test]
fn init_worktrees_root_is_recorded_or_refused_before_anything_is_written() {
    let env = TestEnv::new(BIN);
    let repo = env.repo();
    for (bad, why) in
        [("relative/trees", "absolute path"), (repo.join("trees").to_str().unwrap(), "outside the repository")]
    {
        let out = env.thrum(&["init", "--worktrees-root", bad]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("--worktrees-root") && err.contains(why), "{err}");
        assert!(!env.thrum_dir().exists(), "nothing written");
    }
    let trees = env.dir.path().join("trees");
    env.ok(None, &["init", "--worktrees-root", trees.to_str().unwrap()]);
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.thrum_dir().join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["worktrees"]["base_path"], trees.to_str().unwrap());
}

#[test]
fn init_wizard_ctrl_c_restores_the_ignore_files_byte_for_byte() {
    let env = TestEnv::new(BIN);
    let repo = env.repo();
    // No trailing newline, and an exclude file git wrote: both must come back as they were.
    std::fs::write(repo.join(".gitignore"), b"target/\n*.log").unwrap();
    let exclude = repo.join(".git/info/exclude");
    std::fs::write(&exclude, b"# mine\n").unwrap();
    let (gi_before, ex_before) = (std::fs::read(repo.join(".gitignore")).unwrap(), std::fs::read(&exclude).unwrap());

    let (status, shown) = init_in_pty(&env, "Agent role", &[]);
    assert_eq!(status, "130", "{shown}");
    // The set-up step ran (it writes .gitignore) before Ctrl-C.
    assert!(shown.contains("Updated: .gitignore"), "{shown}");
    assert!(shown.contains("restored .gitignore and .git/info/exclude byte for byte"), "{shown}");
    assert_eq!(std::fs::read(repo.join(".gitignore")).unwrap(), gi_before);
    assert_eq!(std::fs::read(&exclude).unwrap(), ex_before);

    // Stealth writes the exclude file instead; Ctrl-C puts it back too.
    let (status, shown) = init_in_pty(&env, "Agent role", &["--stealth"]);
    assert_eq!(status, "130", "{shown}");
    assert_eq!(std::fs::read(repo.join(".gitignore")).unwrap(), gi_before);
    assert_eq!(std::fs::read(&exclude).unwrap(), ex_before);
}

#[test]
fn init_without_a_terminal_or_with_non_interactive_stays_silent() {
    let env = TestEnv::new(BIN);
    // stdin is /dev/null here: no prompt, the silent path.
    let out = env.thrum(&["init"]).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("]: "), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Thrum initialized"));
    assert!(!env.thrum_dir().join("role_templates").exists());
    // On a terminal, --non-interactive keeps it silent as well.
    let env = TestEnv::new(BIN);
    let (status, shown) = init_in_pty(&env, "", &["--non-interactive"]);
    assert_eq!(status, "0", "{shown}");
    assert!(!shown.contains("]: "), "{shown}");
    assert!(shown.contains("Thrum initialized"), "{shown}");
}

#[test]
fn init_wizard_failed_step_restores_the_ignore_files() {
    let env = TestEnv::new(BIN);
    let repo = env.repo();
    std::fs::write(repo.join(".gitignore"), b"target/\n").unwrap();
    let exclude = repo.join(".git/info/exclude");
    let ex_before = std::fs::read(&exclude).ok();
    // The role templates cannot be written: that step fails after the set-up wrote .gitignore.
    std::fs::create_dir_all(env.thrum_dir()).unwrap();
    std::fs::write(env.thrum_dir().join("role_templates"), b"not a directory").unwrap();

    let (status, shown) = init_in_pty(&env, "", &[]);
    assert_eq!(status, "1", "{shown}");
    assert!(shown.contains("Updated: .gitignore"), "{shown}");
    assert!(shown.contains("restored .gitignore and .git/info/exclude byte for byte"), "{shown}");
    assert_eq!(std::fs::read(repo.join(".gitignore")).unwrap(), b"target/\n");
    assert_eq!(std::fs::read(&exclude).ok(), ex_before);
}
