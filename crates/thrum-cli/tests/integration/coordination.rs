//! Live git state and who-has, with real worktrees and overlapping edits.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use thrum_testkit::{TestEnv, git, wait_until};

use crate::BIN;
use crate::wire::{
    Applied, ConfigShow, Contexts, Deploy, Init, JsonAs, Page, Prime, Refresh, Roles, Runtime, Runtimes, Setting,
    ShippedRoles, SingleAgentMode, Skills, WhoHas, Whoami, decode,
};

fn holders(env: &TestEnv, dir: &Path, file: &str) -> Vec<(String, bool, bool)> {
    let v: WhoHas = env.json_in_as(dir, None, &["who-has", file]);
    let mut out: Vec<(String, bool, bool)> =
        v.agents.into_iter().map(|a| (a.agent_id, a.uncommitted, a.in_unmerged_commits)).collect();
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
    let ctx: Contexts = env.json_in_as(&wt_b, None, &["agent", "list", "--context"]);
    let bob = ctx.contexts.iter().find(|c| c.agent_id == "bob").unwrap();
    assert_eq!(bob.branch.as_deref(), Some("feature-b"), "{bob:?}");
    assert_eq!(bob.unmerged_commits.as_ref().unwrap()[0].subject, "login returns bool", "{bob:?}");

    // alice throws her edit away: she no longer has the file.
    git(&env, &main, &["checkout", "--", "src/auth.rs"]);
    expect(&env, &all, &main, "src/auth.rs", &[("bob", false, true)]);
}

/// Runs thrum in the repository with hints on (the test environment turns
/// them off), returning (exit code, stdout, stderr).
fn with_hints(env: &TestEnv, agent: Option<&str>, args: &[&str], no_hints: Option<&str>) -> (i32, String, String) {
    let mut c = env.thrum(args);
    c.env_remove("THRUM_NO_HINTS");
    if let Some(v) = no_hints {
        c.env("THRUM_NO_HINTS", v);
    }
    if let Some(a) = agent {
        c.env("THRUM_NAME", a);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

#[test]
fn claude_md_block_is_printed_appended_kept_and_replaced_only_on_force() {
    let env = crate::team();
    let file = env.repo().join("CLAUDE.md");
    std::fs::write(&file, "# My project\n\nUse tabs.\n").unwrap();
    let printed = env.ok(None, &["setup", "claude-md"]);
    assert!(printed.starts_with("<!-- thrum:begin") && printed.contains("thrum prime"), "{printed}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# My project\n\nUse tabs.\n", "printing writes nothing");

    let r: Applied = env.json_as(None, &["setup", "claude-md", "--apply"]);
    assert_eq!(r.status, "appended");
    let applied = std::fs::read_to_string(&file).unwrap();
    assert!(applied.starts_with("# My project\n\nUse tabs.\n\n<!-- thrum:begin"), "{applied}");
    assert_eq!(env.json_as::<Applied>(None, &["setup", "claude-md", "--apply"]).status, "current");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), applied);

    // Someone edited the block: kept unless --force, then replaced alone.
    let edited = applied.replace("Answer in the thread", "Reply") + "\n## Notes\nmine\n";
    std::fs::write(&file, &edited).unwrap();
    let (code, err) = env.fail(None, &["setup", "claude-md", "--apply"]);
    assert_eq!(code, 1);
    assert!(err.contains("--force") && err.trim().lines().count() == 1, "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), edited);
    assert_eq!(env.json_as::<Applied>(None, &["setup", "claude-md", "--apply", "--force"]).status, "replaced");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), applied + "\n## Notes\nmine\n");

    // The same block for the other runtimes' files.
    assert_eq!(env.json_as::<Applied>(None, &["setup", "agents-md", "--apply"]).status, "created");
    assert!(std::fs::read_to_string(env.repo().join("AGENTS.md")).unwrap().contains("<!-- thrum:end -->"));
}

#[test]
fn prime_briefs_a_fresh_session_without_marking_anything_read() {
    let env = crate::team();
    env.ok(Some("bob"), &["send", "please review the login flow", "--to", "@alice"]);
    env.ok(Some("alice"), &["agent", "set-intent", "JWT refresh"]);
    let mut save = env.thrum(&["context", "save"]);
    save.env("THRUM_NAME", "alice").stdin(std::process::Stdio::piped());
    let mut child = save.spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"# Next\n- finish refresh tokens\n").unwrap();
    assert!(child.wait().unwrap().success());

    let (code, out, _) = with_hints(&env, Some("alice"), &["prime", "--json"], None);
    assert_eq!(code, 0);
    let p: Prime = decode("prime --json", &out);
    assert_eq!(p.identity.agent_id, "alice");
    assert_eq!(p.identity.role, "implementer");
    assert_eq!(p.session.as_ref().map(|s| s.intent.as_str()), Some("JWT refresh"));
    assert_eq!(p.inbox.unread, 1, "{p:?}");
    assert_eq!(p.inbox.recent_unread[0].from, "bob");
    assert!(p.context.content.contains("finish refresh tokens"));
    let team: Vec<&str> = p.team.iter().map(|t| t.agent_id.as_str()).collect();
    assert!(team.contains(&"bob") && team.contains(&"carol") && !team.contains(&"alice"), "{team:?}");
    assert!(p.next.iter().any(|n| n == "thrum inbox --unread"), "{p:?}");
    assert!(p.daemon.running);
    assert_eq!(p.hints.as_ref().map(|h| h[0].code.as_str()), Some("prime.no-agent-block"), "{p:?}");

    // The briefing reads; it does not mark read.
    assert_eq!(env.json_as::<Page>(Some("alice"), &["inbox", "--unread"]).unread, 1);

    let text = env.ok(Some("alice"), &["prime"]);
    for want in ["# Thrum briefing for @alice", "Inbox: 1 unread", "@bob", "finish refresh tokens", "Next:"] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // Once CLAUDE.md has the block, prime stops suggesting it.
    env.ok(None, &["setup", "claude-md", "--apply"]);
    let (_, out, _) = with_hints(&env, Some("alice"), &["prime", "--json"], None);
    let p: Prime = decode("prime --json", &out);
    assert!(p.hints.is_none(), "{p:?}");
    // `thrum context prime` is the same command.
    assert_eq!(env.json_as::<Prime>(Some("alice"), &["context", "prime"]).identity.agent_id, "alice");
}

#[test]
fn hints_have_codes_and_honour_quiet_json_and_thrum_no_hints() {
    let env = TestEnv::new(BIN);
    let (code, out, err) = with_hints(&env, None, &["init"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Thrum initialized"), "{out}");
    assert!(err.contains("info [init.next-quickstart]: no agent is registered here yet"), "{err}");
    assert!(err.contains("register:  thrum quickstart --name"), "{err}");
    // A second init changes nothing, and still nobody is registered.
    let (_, out, err) = with_hints(&env, None, &["init", "--json"], None);
    let v: Init = decode("init --json", &out);
    let hint = &v.hints.as_ref().unwrap()[0];
    assert_eq!(hint.code, "init.next-quickstart", "{v:?}");
    assert_eq!(hint.severity, "info");
    assert!(!err.contains("init.next-quickstart"), "--json keeps hints off stderr: {err}");
    let (_, _, err) = with_hints(&env, None, &["init", "--quiet"], None);
    assert!(!err.contains("hint") && !err.contains("info ["), "{err}");
    let (_, out, _) = with_hints(&env, None, &["init", "--json", "--quiet"], None);
    assert!(!out.contains("hints"), "--quiet drops hints from JSON too: {out}");
    for off in ["1", "yes"] {
        let (_, out, err) = with_hints(&env, None, &["init", "--json"], Some(off));
        assert!(!out.contains("hints") && !err.contains("info ["), "{off}: {out} {err}");
    }
    let (_, _, err) = with_hints(&env, None, &["init"], Some("0"));
    assert!(err.contains("init.next-quickstart"), "THRUM_NO_HINTS=0 keeps hints on: {err}");
    env.ok(None, &["daemon", "start"]);
    let (code, out, err) = with_hints(&env, None, &["daemon", "stop"], None);
    assert_eq!(code, 0);
    assert!(out.contains("Daemon stopped"), "{out}");
    assert!(err.contains("info [daemon.stop.messaging-restarts-it]") && err.contains("thrum daemon start"), "{err}");
}

#[test]
fn runtimes_are_detected_listed_and_defaulted() {
    let env = crate::team();
    let mut c = env.thrum(&["runtime", "list", "--json"]);
    // Whatever runtime this test itself runs under must not count.
    for k in ["CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT", "CODEX_SANDBOX", "CODEX_MANAGED_BY_NPM", "CURSOR_AGENT"] {
        c.env_remove(k);
    }
    for k in ["CURSOR_TRACE_ID", "OPENCODE", "AUGMENT_SESSION_AUTH", "AMP_THREAD_ID", "KIRO_SESSION"] {
        c.env_remove(k);
    }
    c.env("GEMINI_CLI", "1");
    let o = c.output().unwrap();
    assert!(o.status.success());
    let v: Runtimes = decode("runtime list --json", &String::from_utf8_lossy(&o.stdout));
    let names: Vec<&str> = v.runtimes.iter().map(|r| r.name.as_str()).collect();
    for want in ["claude", "codex", "cursor", "gemini", "opencode", "auggie", "amp", "kiro-cli", "cli-only"] {
        assert!(names.contains(&want), "{want} missing: {names:?}");
    }
    let gemini = v.runtimes.iter().find(|r| r.name == "gemini").unwrap();
    assert_eq!(gemini.detected, "env", "{gemini:?}");
    assert_eq!((v.default.as_str(), v.default_source.as_str()), ("gemini", "detected"));

    env.ok(None, &["runtime", "set-default", "codex"]);
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(env.thrum_dir().join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["runtime"]["primary"], "codex");
    assert_eq!(cfg["daemon"]["sync_interval"], 60, "other settings survive: {cfg}");
    assert_eq!(env.json_as::<Runtimes>(None, &["runtime", "list"]).default_source, "file");
    assert_eq!(env.json_as::<Runtime>(None, &["runtime", "show", "cursor"]).binaries[0], "agent");
    let (code, err) = env.fail(None, &["runtime", "set-default", "vim"]);
    assert!(code == 1 && err.contains("unknown runtime \"vim\"") && err.contains("claude, codex"), "{err}");
    let (_, err) = env.fail(None, &["init", "--runtime", "vim"]);
    assert!(err.contains("unknown runtime"), "{err}");

    // --skills installs the instructions only; prime then stops asking.
    let (_, out, _) = with_hints(&env, Some("alice"), &["prime", "--json"], None);
    assert!(out.contains("prime.no-agent-block"), "{out}");
    let r: Skills = env.json_as(None, &["init", "--skills", "--runtime", "claude"]);
    assert_eq!(r.status, "created");
    let skill = std::fs::read_to_string(env.repo().join(".claude/skills/thrum/SKILL.md")).unwrap();
    assert!(skill.starts_with("---\nname: thrum\n") && skill.contains("thrum prime"), "{skill}");
    assert_eq!(env.json_as::<Skills>(None, &["init", "--skills", "--runtime", "claude"]).status, "current");
    let (_, out, _) = with_hints(&env, Some("alice"), &["prime", "--json"], None);
    assert!(!out.contains("prime.no-agent-block"), "the Claude skill counts as instructions: {out}");
    env.ok(None, &["init", "--skills", "--runtime", "cursor"]);
    let rule = std::fs::read_to_string(env.repo().join(".cursor/rules/thrum.mdc")).unwrap();
    assert!(rule.starts_with("---\ndescription:") && rule.contains("<!-- thrum:begin"), "{rule}");
    assert!(env.json_as::<Skills>(None, &["init", "--skills", "--runtime", "codex"]).file.ends_with("AGENTS.md"));
}

#[test]
fn config_show_reports_sources_and_dotenv_files_fill_in_thrum_settings() {
    let env = crate::team();
    std::fs::write(env.thrum_dir().join(".env"), "THRUM_NAME=bob\n").unwrap();
    std::fs::write(env.repo().join(".env"), "THRUM_NAME=carol\nexport THRUM_SYNC_INTERVAL=42\nSECRET=nope\n").unwrap();
    // Three identities here: without THRUM_NAME `whoami` could not choose.
    assert_eq!(env.json_as::<Whoami>(None, &["whoami"]).agent_id, "bob");
    // The real environment wins over both files.
    assert_eq!(env.json_as::<Whoami>(Some("alice"), &["whoami"]).agent_id, "alice");

    env.ok(None, &["runtime", "set-default", "gemini"]);
    let v: ConfigShow = env.json_as(None, &["config", "show", "--role", "planner"]);
    let key = |k: &str| v.keys.iter().find(|r| r.key == k).unwrap().clone();
    assert_eq!(key("daemon.sync_interval").value, "42");
    let src = key("daemon.sync_interval").source;
    assert!(src.ends_with(".env (THRUM_SYNC_INTERVAL)") && !src.contains(".thrum"), "{src}");
    assert_eq!(key("identity.name").value, "bob");
    assert!(key("identity.name").source.contains(".thrum/.env"));
    assert_eq!(
        (key("runtime.primary").value.as_str(), key("runtime.primary").source.as_str()),
        (Some("gemini"), "file")
    );
    assert_eq!(key("identity.role").source, "flag");
    // `thrum init` wrote it: new repositories are local-only.
    assert_eq!((key("daemon.local_only").value, key("daemon.local_only").source.as_str()), (true.into(), "file"));
    let text = env.ok(None, &["config", "show"]);
    assert!(text.contains("daemon.sync_interval") && text.contains("42"), "{text}");
    // Every setting the daemon reads is listed, and `config get` gives the
    // same value and source as `config show` for each.
    let keys: Vec<Setting> = v.keys.clone();
    for k in ["daemon.sync_debounce_ms", "daemon.sync_remote_poll_ms", "daemon.peer_port", "daemon.ws_port"] {
        assert!(keys.iter().any(|r| r.key == k), "config show lacks {k}");
    }
    for r in &keys {
        let k = r.key.as_str();
        let got: Setting = env.json_as(None, &["config", "get", k, "--role", "planner"]);
        assert_eq!(&got, r, "config get {k}");
    }
    assert_eq!(env.ok(None, &["config", "get", "daemon.sync_interval"]).trim(), "42");
    let (_, err) = env.fail(None, &["config", "get", "daemon.sync_intervall"]);
    assert!(err.contains("unknown setting") && err.contains("did you mean daemon.sync_interval?"), "{err}");
}

#[test]
fn single_agent_mode_drops_the_team_from_the_briefing() {
    let env = crate::team();
    assert!(!env.json_as::<SingleAgentMode>(None, &["single-agent-mode"]).single_agent_mode);
    env.ok(None, &["single-agent-mode", "on"]);
    let p: Prime = env.json_as(Some("alice"), &["prime"]);
    assert!(p.single_agent_mode);
    assert!(p.team.is_empty(), "{p:?}");
    assert!(!p.next.iter().any(|n| n.starts_with("thrum wait")), "{p:?}");
    assert!(env.ok(Some("alice"), &["prime"]).contains("Mode: single agent"));
    env.ok(None, &["single-agent-mode", "off"]);
    assert_eq!(env.json_as::<Prime>(Some("alice"), &["prime"]).team.len(), 2);
    // The original's docs spell it true|false as well as on|off.
    assert!(env.json_as::<SingleAgentMode>(None, &["single-agent-mode", "true"]).single_agent_mode);
    assert!(env.json_as::<SingleAgentMode>(None, &["single-agent-mode"]).single_agent_mode);
    assert!(!env.json_as::<SingleAgentMode>(None, &["single-agent-mode", "false"]).single_agent_mode);
    assert!(!env.json_as::<SingleAgentMode>(None, &["single-agent-mode"]).single_agent_mode);
    let (_, err) = env.fail(None, &["single-agent-mode", "maybe"]);
    assert!(err.contains("on") && err.contains("off") && err.contains("true"), "{err}");
}

#[test]
fn role_templates_render_preambles_and_track_shipped_versions() {
    let env = crate::team();
    let ctx_dir = env.thrum_dir().join("context");
    // quickstart rendered alice's preamble from the shipped template.
    let alice = std::fs::read_to_string(ctx_dir.join("alice_preamble.md")).unwrap();
    assert!(alice.starts_with("# Agent: alice\n\n**Role:** implementer **Module:** auth"), "{alice}");
    assert!(alice.contains("Thrum quick reference") && !alice.contains("{{."), "{alice}");
    let shipped: ShippedRoles = env.json_as(None, &["roles", "templates", "list"]);
    assert_eq!(shipped.roles.len(), 8);
    assert!(env.ok(None, &["roles", "templates", "print", "reviewer"]).contains("{{.AgentName}}"));
    let (_, err) = env.fail(None, &["roles", "templates", "print", "juggler"]);
    assert!(err.contains("no shipped template"), "{err}");

    // A project template wins; deploy overwrites, --dry-run writes nothing.
    let tdir = env.thrum_dir().join("role_templates");
    std::fs::create_dir_all(&tdir).unwrap();
    std::fs::write(tdir.join("reviewer.md"), "Reviewer {{.AgentName}} of {{.Module}}, ask @{{.CoordinatorName}}\n")
        .unwrap();
    let bob_before = std::fs::read_to_string(ctx_dir.join("bob_preamble.md")).unwrap();
    let dry: Deploy = env.json_as(None, &["roles", "deploy", "--dry-run"]);
    let status = |v: &Deploy, who: &str| v.agents.iter().find(|a| a.agent == who).unwrap().status.clone();
    assert_eq!(status(&dry, "bob"), "updated");
    assert_eq!(status(&dry, "alice"), "unchanged");
    assert_eq!(std::fs::read_to_string(ctx_dir.join("bob_preamble.md")).unwrap(), bob_before);
    env.ok(None, &["roles", "deploy", "--agent", "bob"]);
    let bob = std::fs::read_to_string(ctx_dir.join("bob_preamble.md")).unwrap();
    assert!(bob.starts_with("Reviewer bob of auth, ask @coordinator\n"), "{bob}");
    assert!(std::fs::read_to_string(ctx_dir.join("carol_preamble.md")).unwrap().starts_with("# Agent: carol"));
    let list: Roles = env.json_as(None, &["roles", "list"]);
    let row = |v: &Roles, r: &str| v.roles.iter().find(|x| x.role == r).unwrap().clone();
    assert_eq!(row(&list, "reviewer").template, "custom");
    assert_eq!(row(&list, "reviewer").agents, vec!["bob", "carol"]);
    assert_eq!(row(&list, "implementer").template, "shipped");

    // refresh installs shipped templates and keeps edited ones.
    let r: Refresh = env.json_as(None, &["roles", "refresh"]);
    let result = |v: &Refresh, role: &str| v.templates.iter().find(|x| x.role == role).unwrap().result.clone();
    assert_eq!(result(&r, "implementer"), "installed");
    assert!(result(&r, "reviewer").starts_with("kept"), "{r:?}");
    assert_eq!(row(&env.json_as(None, &["roles", "list"]), "implementer").template, "current");

    // A thrum that ships a newer implementer template: simulated by an
    // older copy recorded as installed.
    let old = "# Agent: {{.AgentName}} (old template)\n";
    std::fs::write(tdir.join("implementer.md"), old).unwrap();
    let set_recorded = |h: String| {
        let p = env.thrum_dir().join("config.json");
        let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        c["roles"]["templates"]["implementer"]["shipped"] = Value::String(h);
        std::fs::write(&p, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    };
    set_recorded(thrum_core::ids::content_hash(old));
    assert_eq!(row(&env.json_as(None, &["roles", "list"]), "implementer").template, "update-available");
    assert_eq!(result(&env.json_as(None, &["roles", "refresh"]), "implementer"), "updated");
    assert_eq!(row(&env.json_as(None, &["roles", "list"]), "implementer").template, "current");
    // The same, but the copy was edited: drift, reported with a hint.
    std::fs::write(tdir.join("implementer.md"), "my own words\n").unwrap();
    set_recorded(thrum_core::ids::content_hash(old));
    let (_, out, _) = with_hints(&env, None, &["roles", "list", "--json"], None);
    let v: Roles = decode("roles list --json", &out);
    assert_eq!(row(&v, "implementer").template, "drift");
    assert_eq!(v.hints.as_ref().map(|h| h[0].code.as_str()), Some("roles.template-drift"), "{v:?}");
    assert!(result(&env.json_as(None, &["roles", "refresh"]), "implementer").contains("--force"));
    assert_eq!(std::fs::read_to_string(tdir.join("implementer.md")).unwrap(), "my own words\n");
    env.ok(None, &["roles", "refresh", "--force"]);
    assert!(std::fs::read_to_string(tdir.join("implementer.md")).unwrap().contains("## How you work"));
}
