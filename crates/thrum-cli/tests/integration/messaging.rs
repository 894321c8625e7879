//! Registration, sending, inbox, replies, receipts, groups, wait, purge.

use std::time::{Duration, Instant};

use crate::team;
use crate::wire::{
    AgentDeleted, Agents, Cleanup, Contexts, Edited, Got, GroupMembers, Groups, JsonAs, MarkedRead, Overview, Page,
    Ping, Purge, Sent, Sessions, Status, Team, Version, Waited, decode,
};

fn page_ids(p: &Page) -> Vec<String> {
    p.messages.iter().map(|m| m.message_id.clone()).collect()
}

/// Events written by requests: the daemon's own background record of the
/// agents' git state (`agent.update`) comes and goes on its own schedule.
fn count_events(env: &thrum_testkit::TestEnv) -> usize {
    let dir = env.sync_dir();
    let mut files = vec![dir.join("events.jsonl")];
    files.extend(std::fs::read_dir(dir.join("messages")).unwrap().flatten().map(|e| e.path()));
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.contains("\"type\":\"agent.update\""))
                .count()
        })
        .sum()
}

#[test]
fn send_to_name_role_and_everyone_reaches_the_right_inboxes() {
    let env = team();
    let direct: Sent = env.json_as(Some("alice"), &["send", "for bob only", "--to", "@bob"]);
    assert!(direct.message_id.starts_with("msg_"));
    assert_eq!(direct.resolved_to, 1);
    let role: Sent =
        env.json_as(Some("alice"), &["send", "reviewers please look", "--to", "@reviewer", "--scope", "module:auth"]);
    let all: Sent = env.json_as(Some("alice"), &["send", "standup in 5", "--broadcast"]);

    let bob: Page = env.json_as(Some("bob"), &["inbox"]);
    let carol: Page = env.json_as(Some("carol"), &["inbox"]);
    let alice: Page = env.json_as(Some("alice"), &["inbox"]);
    let (d, r, a) = (direct.message_id, role.message_id, all.message_id);
    assert_eq!(page_ids(&bob), vec![a.clone(), r.clone(), d.clone()]);
    assert_eq!(page_ids(&carol), vec![a.clone(), r.clone()]);
    assert!(page_ids(&alice).is_empty(), "own messages never appear in one's inbox");
    assert_eq!((bob.total, bob.unread), (3, 3));
    assert_eq!(bob.messages[0].body.format, "markdown");

    // Viewing marked them read; a second view shows them read.
    let again: Page = env.json_as(Some("bob"), &["inbox"]);
    assert_eq!(again.unread, 0);
    assert!(again.messages.iter().all(|m| m.is_read));

    // Scope filter and --all.
    let scoped: Page = env.json_as(Some("carol"), &["inbox", "--scope", "module:auth"]);
    assert_eq!(page_ids(&scoped), vec![r.clone()]);
    let everything: Page = env.json_as(Some("carol"), &["inbox", "--all"]);
    assert_eq!(everything.total, 3);
    // --from filters by sender.
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox", "--from", "@carol"]).total, 0);
}

#[test]
fn unknown_recipient_is_an_error_and_nothing_is_stored() {
    let env = team();
    let before = count_events(&env);
    let (code, err) = env.fail(Some("alice"), &["send", "hello?", "--to", "@bob", "--to", "@nobody"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown recipient: @nobody"), "{err}");
    assert_eq!(count_events(&env), before);
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 0);
    // No recipient at all is refused with a hint.
    let (_, err) = env.fail(Some("alice"), &["send", "to whom?"]);
    assert!(err.contains("--to") && err.contains("--broadcast"), "{err}");
}

#[test]
fn bad_input_gets_one_clear_line_and_no_write() {
    let env = team();
    let before = count_events(&env);
    for (args, needle) in [
        (vec!["send", "x", "--to", "@bob", "--scope", "nocolon"], "type:value"),
        (vec!["send", "x", "--to", "@bob", "--format", "html"], "--format"),
        (vec!["send", "x", "--to", "@bob", "--structured", "{not json"], "invalid structured data"),
        (vec!["send", "", "--to", "@bob"], "content is required"),
        (vec!["inbox", "--page-size", "0"], "page-size"),
        (vec!["purge"], "--before or --all"),
        (vec!["message", "get", "msg_doesnotexist"], "message not found"),
    ] {
        let (code, err) = env.fail(Some("alice"), &args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?} printed more than one line: {err}");
    }
    let (_, err) = env.fail(None, &["quickstart", "--name", "Bad-Name", "--role", "x", "--module", "y"]);
    assert!(err.contains("invalid agent name"), "{err}");
    let (_, err) = env.fail(None, &["quickstart", "--name", "daemon", "--role", "x", "--module", "y"]);
    assert!(err.contains("reserved"), "{err}");
    let (_, err) = env.fail(None, &["quickstart", "--name", "tester", "--role", "tester", "--module", "y"]);
    assert!(err.contains("cannot be the same as its role"), "{err}");
    assert_eq!(count_events(&env), before);
}

#[test]
fn reply_threads_and_receipts_are_durable() {
    let env = team();
    let first: Sent = env.json_as(Some("alice"), &["send", "PR ready", "--to", "@bob"]);
    let first_id = first.message_id;
    let r1: Sent = env.json_as(Some("bob"), &["reply", &first_id, "looking"]);
    let thread = r1.thread_id.clone().unwrap_or_default();
    assert!(thread.starts_with("thr_"));
    let r2: Sent = env.json_as(Some("alice"), &["reply", &r1.message_id, "thanks"]);
    assert_eq!(r2.thread_id.as_deref(), Some(thread.as_str()), "later replies join the thread");
    let parent: Got = env.json_as(Some("alice"), &["message", "get", &first_id]);
    assert_eq!(parent.message.thread_id.as_deref(), Some(thread.as_str()), "the parent joins the thread");
    let reply: Got = env.json_as(Some("alice"), &["message", "get", &r1.message_id]);
    assert_eq!(reply.message.reply_to.as_deref(), Some(first_id.as_str()));

    // bob read the parent by replying; alice sees the receipt.
    let sent: Page = env.json_as(Some("alice"), &["sent"]);
    let m = sent.messages.iter().find(|m| m.message_id == first_id).unwrap();
    let to = &m.recipients.as_ref().unwrap()[0];
    assert_eq!(to.agent_id, "bob");
    assert!(to.read_at.as_deref().is_some_and(|r| !r.is_empty()), "{m:?}");
    assert_eq!(m.read_count, Some(1));
    // Receipts survive a rebuild from the log.
    env.ok(None, &["daemon", "stop"]);
    for f in ["messages.db", "messages.db-wal", "messages.db-shm"] {
        let _ = std::fs::remove_file(env.thrum_dir().join("var").join(f));
    }
    let sent2: Page = env.json_as(Some("alice"), &["sent"]);
    assert_eq!(sent, sent2);
}

#[test]
fn edit_delete_and_mark_read() {
    let env = team();
    let m: Sent = env.json_as(Some("alice"), &["send", "typo hree", "--to", "@bob"]);
    let id = m.message_id.as_str();
    let e: Edited = env.json_as(Some("alice"), &["message", "edit", id, "typo here"]);
    assert_eq!(e.version, 1);
    let (_, err) = env.fail(Some("bob"), &["message", "edit", id, "hijack"]);
    assert!(err.contains("only message author can edit"), "{err}");
    let got: Got = env.json_as(Some("bob"), &["message", "get", id]);
    assert_eq!(got.message.body.content, "typo here");
    assert!(got.message.updated_at.is_some_and(|u| !u.is_empty()));

    let m2: Sent = env.json_as(Some("alice"), &["send", "second", "--to", "@bob"]);
    let id2 = m2.message_id.as_str();
    let r: MarkedRead = env.json_as(Some("bob"), &["message", "read", "--all"]);
    assert_eq!(r.marked_count, 1, "{r:?}");
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox", "--unread"]).total, 0);

    let (_, err) = env.fail(Some("alice"), &["message", "delete", id2]);
    assert!(err.contains("--force"), "{err}");
    let (_, err) = env.fail(Some("bob"), &["message", "delete", id2, "--force"]);
    assert!(err.contains("only message author can delete"), "{err}");
    env.ok(Some("alice"), &["message", "delete", id2, "--force"]);
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 1);
    assert!(env.json_as::<Got>(Some("bob"), &["message", "get", id2]).message.deleted);
}

#[test]
fn groups_nest_without_cycles() {
    let env = team();
    env.ok(Some("alice"), &["group", "create", "backend"]);
    env.ok(Some("alice"), &["group", "create", "leads"]);
    env.ok(Some("alice"), &["group", "add", "backend", "@bob"]);
    env.ok(Some("alice"), &["group", "add", "leads", "--group", "backend"]);
    let (_, err) = env.fail(Some("alice"), &["group", "add", "backend", "--group", "leads"]);
    assert!(err.contains("cycle"), "{err}");
    let members: GroupMembers = env.json_as(None, &["group", "members", "leads", "--expand"]);
    assert_eq!(members.expanded, Some(vec!["bob".to_string()]));
    let sent: Sent = env.json_as(Some("alice"), &["send", "leads only", "--to", "@leads"]);
    assert_eq!(sent.recipients[0].agent_id, "bob");
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 1);
    assert_eq!(env.json_as::<Page>(Some("carol"), &["inbox"]).total, 0);
    let (_, err) = env.fail(Some("alice"), &["group", "delete", "everyone"]);
    assert!(err.contains("cannot delete"), "{err}");
    let list: Groups = env.json_as(None, &["group", "list"]);
    let names: Vec<&str> = list.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, vec!["backend", "everyone", "leads"]);
}

#[test]
fn wait_returns_quickly_on_arrival_and_times_out_with_exit_1() {
    let env = team();
    let start = Instant::now();
    let out = env.run_as(Some("bob"), &["wait", "--timeout", "300ms"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NO_MESSAGES_TIMEOUT"));
    assert!(start.elapsed() < Duration::from_secs(5));

    // --after covers the send whether the waiter connects before or after
    // it, so there is no race to sleep over.
    let waiter = env
        .thrum(&["wait", "--timeout", "20s", "--after", "-1m", "--json"])
        .env("THRUM_NAME", "bob")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let waiter = std::sync::Arc::new(std::sync::Mutex::new(Some(waiter)));
    // Send; the waiter must wake promptly.
    let sent_at = Instant::now();
    env.ok(Some("alice"), &["send", "wake up", "--to", "@bob"]);
    let child = waiter.lock().unwrap().take().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(sent_at.elapsed() < Duration::from_secs(5));
    let v: Waited = decode("wait", &String::from_utf8_lossy(&out.stdout));
    assert_eq!(v.status, "received");
    // Messages to others do not wake carol.
    let out = env.run_as(Some("carol"), &["wait", "--timeout", "200ms", "--after", "-1m"]);
    assert_eq!(out.status.code(), Some(1));
    // The wait that woke for it announced it: a second wait does not wake
    // for the same message again (no phantom wake), even looking back.
    let out = env.run_as(Some("bob"), &["wait", "--timeout", "200ms", "--after", "-1m"]);
    assert_eq!(out.status.code(), Some(1), "woke twice for one message");
    // Mail that came before the wait, never announced, wakes it at once.
    env.ok(Some("alice"), &["send", "while you were away", "--to", "@bob"]);
    let out = env.run_as(Some("bob"), &["wait", "--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(0));
    // Mail already read does not.
    env.ok(Some("alice"), &["send", "read at once", "--to", "@bob"]);
    env.ok(Some("bob"), &["inbox"]);
    let out = env.run_as(Some("bob"), &["wait", "--timeout", "300ms"]);
    assert_eq!(out.status.code(), Some(1), "woke for mail already read");
    // Errors exit 2.
    let out = env.run_as(Some("bob"), &["wait", "--timeout", "soon"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn purge_previews_then_removes_messages_but_keeps_agents() {
    let env = team();
    for i in 0..3 {
        env.ok(Some("alice"), &["send", &format!("old {i}"), "--to", "@bob"]);
    }
    let preview: Purge = env.json_as(None, &["purge", "--all"]);
    assert!(!preview.confirmed);
    assert_eq!(preview.messages, 3);
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 3, "preview changes nothing");
    let done: Purge = env.json_as(None, &["purge", "--all", "--confirm"]);
    assert!(done.confirmed);
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 0);
    let shard = std::fs::read_to_string(env.sync_dir().join("messages/alice.jsonl")).unwrap_or_default();
    assert!(!shard.contains("old 0"), "the JSONL was rewritten");
    assert_eq!(env.json_as::<Agents>(None, &["agent", "list"]).agents.len(), 3);
    // A rebuild agrees.
    env.ok(None, &["daemon", "stop"]);
    let _ = std::fs::remove_file(env.thrum_dir().join("var/messages.db"));
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 0);
    let (_, err) = env.fail(None, &["purge", "--before", "whenever"]);
    assert!(err.contains("invalid --before"), "{err}");
}

#[test]
fn sessions_intent_team_and_views() {
    let env = team();
    env.ok(Some("alice"), &["session", "set-intent", "Fixing token refresh"]);
    env.ok(Some("alice"), &["agent", "set-task", "beads:42"]);
    let team: Team = env.json_as(None, &["team"]);
    let alice = team.members.iter().find(|m| m.agent_id == "alice").unwrap();
    assert_eq!(alice.intent.as_deref(), Some("Fixing token refresh"));
    assert_eq!(alice.current_task.as_deref(), Some("beads:42"));
    assert_eq!(alice.branch.as_deref(), Some("main"));
    let ping: Ping = env.json_as(None, &["ping", "@alice"]);
    assert_eq!(ping.status, "active");
    env.ok(Some("carol"), &["session", "end"]);
    let ping: Ping = env.json_as(None, &["ping", "carol"]);
    assert_eq!(ping.status, "offline");
    let sessions: Sessions = env.json_as(None, &["session", "list", "--agent", "carol"]);
    assert_eq!(sessions.sessions[0].status, "ended");
    let (_, err) = env.fail(Some("carol"), &["send", "x", "--to", "@bob"]);
    assert!(err.contains("no active session"), "{err}");
    let ov: Overview = env.json_as(Some("bob"), &["overview"]);
    assert_eq!(ov.agent.map(|a| a.agent_id).as_deref(), Some("bob"));
    let st: Status = env.json_as(Some("bob"), &["status"]);
    assert_eq!(st.agent.role, "reviewer");
    let ctx: Contexts = env.json_as(None, &["agent", "list", "--context"]);
    assert!(ctx.contexts.iter().any(|c| c.intent.as_deref() == Some("Fixing token refresh")));
}

#[test]
fn agent_delete_and_cleanup() {
    let env = team();
    env.ok(Some("carol"), &["send", "bye", "--to", "@bob"]);
    let (_, err) = env.fail(None, &["agent", "delete", "carol"]);
    assert!(err.contains("--force"), "{err}");
    let d: AgentDeleted = env.json_as(None, &["agent", "delete", "carol", "--force"]);
    assert!(d.deleted);
    assert!(!env.thrum_dir().join("identities/carol.json").exists());
    assert!(!env.sync_dir().join("messages/carol.jsonl").exists());
    assert_eq!(env.json_as::<Page>(Some("bob"), &["inbox"]).total, 0);
    // bob's identity file vanishes: cleanup finds him orphaned.
    std::fs::remove_file(env.thrum_dir().join("identities/bob.json")).unwrap();
    let dry: Cleanup = env.json_as(None, &["agent", "cleanup", "--dry-run"]);
    let orphans: Vec<&str> = dry.orphans.iter().map(|o| o.agent_id.as_str()).collect();
    assert_eq!(orphans, vec!["bob"]);
    let done: Cleanup = env.json_as(None, &["agent", "cleanup", "--force"]);
    assert_eq!(done.deleted, vec!["bob"]);
    let agents: Agents = env.json_as(None, &["agent", "list"]);
    assert_eq!(agents.agents.len(), 1);
}

#[test]
fn version_and_completion() {
    let env = thrum_testkit::TestEnv::new(crate::BIN);
    let v: Version = env.json_as(None, &["version"]);
    // Built from this checkout: the hash is its HEAD's (or a later commit's
    // when the tree moved since the build), hex either way.
    assert!(v.build.len() >= 7 && v.build.chars().all(|c| c.is_ascii_hexdigit()), "{v:?}");
    let text = env.ok(None, &["version"]);
    assert!(text.contains(&format!("build {}", v.build)) && text.contains("Docs: "), "{text}");
    // No made-up address: a published one, or "unknown" and where the manual is.
    match (&v.repository, &v.docs) {
        (Some(r), Some(d)) => assert!(r.starts_with("http") && d.starts_with(r.as_str()), "{v:?}"),
        // Built here: the README of this very source.
        (None, Some(d)) => {
            assert!(text.contains("Repository: unknown"), "{text}");
            let readme = crate::workspace().join("README.md");
            assert_eq!(d, &format!("file://{}", readme.display()), "{v:?}");
        }
        _ => panic!("{v:?}"),
    }
    for sh in ["bash", "zsh", "fish"] {
        let s = env.ok(None, &["completion", sh]);
        assert!(s.contains("quickstart"), "{sh}");
    }
}
