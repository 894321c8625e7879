//! Commands and flags of the original's surface (issue #19, item 6):
//! `send --thread`, `team --system`, THRUM_DISPLAY, `quickstart
//! --preamble-file / --no-init`, `init --agent-name … / --runtime all`,
//! and the non-git guard of `daemon start`.

use serde_json::Value;

use crate::{BIN, team};

#[test]
fn send_thread_joins_an_existing_thread() {
    let env = team();
    let first = env.json(Some("alice"), &["send", "review please", "--to", "@bob"]);
    let id = first["message_id"].as_str().unwrap().to_string();
    let reply = env.json(Some("bob"), &["reply", &id, "on it"]);
    let thread = reply["thread_id"].as_str().unwrap().to_string();
    assert!(thread.starts_with("thr_"), "{reply}");
    // carol joins the thread without replying to a particular message.
    let sent = env.json(Some("carol"), &["send", "me too", "--to", "@alice", "--thread", &thread]);
    assert_eq!(sent["thread_id"], thread.as_str(), "{sent}");
    let got = env.json(Some("alice"), &["message", "get", sent["message_id"].as_str().unwrap()]);
    assert_eq!(got["message"]["thread_id"], thread.as_str(), "{got}");
    // A thread that does not exist is refused, and nothing is stored.
    let before = env.json(Some("alice"), &["inbox", "--all"])["total"].clone();
    let (code, err) =
        env.fail(Some("carol"), &["send", "lost", "--to", "@alice", "--thread", "thr_01JZZZZZZZZZZZZZZZZZZZZZZZ"]);
    assert_eq!(code, 1);
    assert!(err.contains("thread not found") && err.contains("thrum inbox"), "{err}");
    assert_eq!(env.json(Some("alice"), &["inbox", "--all"])["total"], before);
    // A reply joins its parent's thread: another thread is a contradiction.
    let other = env.json(Some("alice"), &["send", "unrelated", "--to", "@carol"]);
    let (_, err) = env.fail(
        Some("carol"),
        &["send", "x", "--to", "@alice", "--reply-to", other["message_id"].as_str().unwrap(), "--thread", &thread],
    );
    assert!(err.contains("is not in thread") && err.contains("drop --thread"), "{err}");
}

fn ids(members: &Value) -> Vec<(String, String)> {
    members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["agent_id"].as_str().unwrap().to_string(), m["status"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn team_system_lists_the_reserved_pseudo_agents() {
    let env = team();
    // The daemon registers `supervisor_<project>` like this the first time
    // it announces a permission prompt.
    env.ok(
        None,
        &[
            "quickstart",
            "--name",
            "supervisor_repo",
            "--role",
            "supervisor",
            "--module",
            "permissions",
            "--no-agent-pid",
        ],
    );
    let all = env.json(None, &["team", "--all"]);
    assert!(!ids(&all["members"]).iter().any(|(a, _)| a == "supervisor_repo" || a == "system"), "{all}");
    let agents = env.json(None, &["agent", "list"]);
    let names: Vec<&str> = agents["agents"].as_array().unwrap().iter().filter_map(|a| a["agent_id"].as_str()).collect();
    assert!(!names.contains(&"supervisor_repo") && names.contains(&"alice"), "{names:?}");
    let with = env.json(None, &["agent", "list", "--system"]);
    assert!(with["agents"].as_array().unwrap().iter().any(|a| a["agent_id"] == "supervisor_repo"), "{with}");
    let sys = env.json(None, &["team", "--system"]);
    let listed = ids(&sys["members"]);
    assert!(listed.contains(&("system".into(), "reserved".into())), "{listed:?}");
    assert!(listed.contains(&("supervisor_repo".into(), "reserved".into())), "{listed:?}");
    assert!(listed.iter().any(|(a, s)| a == "alice" && s == "active"), "{listed:?}");
    let text = env.ok(None, &["team", "--system"]);
    assert!(text.contains("⊙ @system [reserved]") && text.contains("⊙ @supervisor_repo [reserved]"), "{text}");
    assert!(!env.ok(None, &["team"]).contains('⊙'));
    let text = env.ok(None, &["agent", "list", "--system"]);
    assert!(text.contains("⊙ @supervisor_repo (reserved)"), "{text}");
    // An ordinary agent with the supervisor role is not reserved.
    env.ok(None, &["quickstart", "--name", "sue", "--role", "supervisor", "--module", "ops", "--no-agent-pid"]);
    assert!(ids(&env.json(None, &["team"])["members"]).contains(&("sue".into(), "active".into())));
}

#[test]
fn thrum_display_sets_the_display_name() {
    let env = crate::env_with(&[]);
    let out = env
        .thrum(&["quickstart", "--name", "dana", "--role", "dev", "--module", "core", "--no-agent-pid"])
        .env("THRUM_DISPLAY", "Dana the Dev")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let who = env.json(Some("dana"), &["whoami"]);
    assert_eq!(who["display"], "Dana the Dev", "{who}");
    let listed = env.json(None, &["agent", "list"]);
    assert_eq!(listed["agents"][0]["display"], "Dana the Dev", "{listed}");
    // Over the identity file, as THRUM_ROLE is for the role; --display wins.
    let out = env.thrum(&["whoami", "--json"]).env("THRUM_NAME", "dana").env("THRUM_DISPLAY", "D").output().unwrap();
    let who: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(who["display"], "D");
    let out = env
        .thrum(&[
            "quickstart",
            "--name",
            "dana",
            "--role",
            "dev",
            "--module",
            "core",
            "--display",
            "Flag",
            "--no-agent-pid",
        ])
        .env("THRUM_DISPLAY", "Env")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(env.json(None, &["agent", "list"])["agents"][0]["display"], "Flag");
    let shown = env.json(None, &["config", "get", "identity.display"]);
    assert_eq!(shown["env"], "THRUM_DISPLAY", "{shown}");
}

#[test]
fn quickstart_preamble_file_and_no_init() {
    let env = crate::env_with(&[]);
    let ctx = env.thrum_dir().join("context");
    let custom = env.home().join("project-preamble.md");
    std::fs::write(&custom, "## Our project\nRun `make check` before you push.\n").unwrap();
    let q = |name: &str, extra: &[&str]| {
        let mut args =
            vec!["quickstart", "--name", name, "--role", "implementer", "--module", "core", "--no-agent-pid"];
        args.extend_from_slice(extra);
        env.ok(None, &args)
    };
    let out = q("erin", &["--preamble-file", custom.to_str().unwrap()]);
    assert!(out.contains("Preamble from"), "{out}");
    let text = std::fs::read_to_string(ctx.join("erin_preamble.md")).unwrap();
    // The default quick reference first, then the project's text.
    let (ours, theirs) = (text.find("thrum send").unwrap(), text.find("## Our project").unwrap());
    assert!(ours < theirs && text.contains("make check"), "{text}");
    // --no-init writes nothing besides the identity.
    q("fred", &["--no-init"]);
    assert!(env.thrum_dir().join("identities/fred.json").exists());
    assert!(!ctx.join("fred_preamble.md").exists());
    // A file that cannot be read changes nothing.
    let (code, err) = env.fail(
        None,
        &[
            "quickstart",
            "--name",
            "gina",
            "--role",
            "implementer",
            "--module",
            "core",
            "--preamble-file",
            "/nonexistent.md",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("cannot read --preamble-file /nonexistent.md"), "{err}");
    assert!(!env.thrum_dir().join("identities/gina.json").exists());
    let (code, _) = env.fail(None, &["quickstart", "--name", "gina", "--no-init", "--preamble-file", "x"]);
    assert_eq!(code, 64);
}

#[test]
fn init_registers_an_agent_and_sets_up_every_runtime() {
    let env = thrum_testkit::TestEnv::new(BIN);
    // Half the flags: a usage error, and nothing is created.
    let (code, err) = env.fail(None, &["init", "--agent-name", "hank"]);
    assert_eq!(code, 64, "{err}");
    assert!(!env.thrum_dir().exists());
    let (code, err) =
        env.fail(None, &["init", "--agent-name", "Bad Name", "--agent-role", "dev", "--agent-module", "m"]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid --agent-name"), "{err}");
    assert!(!env.thrum_dir().exists());

    let rep = env.json(
        None,
        &["init", "--agent-name", "hank", "--agent-role", "dev", "--agent-module", "core", "--runtime", "all"],
    );
    assert_eq!(rep["agent"], serde_json::json!({ "name": "hank", "role": "dev", "module": "core" }), "{rep}");
    let who = env.json(Some("hank"), &["whoami"]);
    assert_eq!((who["role"].as_str(), who["module"].as_str()), (Some("dev"), Some("core")), "{who}");
    assert!(!who["session_id"].as_str().unwrap_or("").is_empty(), "a session is started: {who}");
    // Every runtime with an MCP client or hooks got its configuration.
    let created: Vec<&str> = rep["created"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for rt in ["claude", "cursor", "gemini", "codex"] {
        assert!(created.iter().any(|c| c.starts_with(&format!("MCP server config for {rt}"))), "{rt}: {created:?}");
    }
    assert!(created.iter().filter(|c| c.starts_with("hooks for")).count() >= 3, "{created:?}");
    assert!(env.repo().join(".claude/settings.json").exists());
    // `all` is no runtime to record as the primary one.
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(env.thrum_dir().join("config.json")).unwrap()).unwrap();
    assert!(cfg.get("runtime").is_none(), "{cfg}");
    let text = env.ok(None, &["init"]);
    assert!(text.contains("Thrum already initialized"), "{text}");
    let (_, err) = env.fail(None, &["init", "--skills", "--runtime", "all"]);
    assert!(err.contains("--runtime NAME"), "{err}");
}

#[test]
fn daemon_start_outside_git_needs_force() {
    let env = thrum_testkit::TestEnv::new(BIN);
    let plain = env.home().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let run = |args: &[&str]| env.thrum_in(&plain, args).output().unwrap();
    assert!(!run(&["init"]).status.success());
    assert!(run(&["init", "--force"]).status.success());
    let out = run(&["daemon", "start"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a git repository") && err.contains("--force"), "{err}");
    assert!(!plain.join(".thrum/var/thrum.pid").exists() || thrum_testkit::daemon_pid_in(&plain).is_none());
    let out = run(&["daemon", "start", "--force", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["running"], true);
    assert!(run(&["daemon", "stop"]).status.success());
    // In a repository, no flag is needed.
    env.ok(None, &["init"]);
    env.ok(None, &["daemon", "start"]);
}
