//! thrum's own Claude Code hooks, installed by `thrum setup hooks`, in the
//! real Claude Code (see `claude.rs` for the harness): the briefing reaches
//! the first model request, new mail wakes an idle session with the notice
//! in the next request, a burst wakes it once, mail already read and the
//! agent's own never wake it, and a daemon restart while the waker waits
//! loses no wake.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::claude::{ClaudeSession, request_text};
use crate::wire::JsonAs;
use crate::{BIN, env_with};

#[derive(Debug, Deserialize)]
struct Sent {
    message_id: String,
}

/// Sends `text` from `from` to `to`; the new message's id.
fn send(env: &thrum_testkit::TestEnv, from: &str, text: &str, to: &str) -> String {
    env.json_as::<Sent>(Some(from), &["send", text, "--to", to]).message_id
}

/// The number of main-loop requests, once it has stayed the same for
/// `quiet` (a wake that should not come, or a second one, would show).
fn settled(session: &ClaudeSession, quiet: Duration) -> usize {
    let mut n = session.standin().main_requests().len();
    let mut since = Instant::now();
    while since.elapsed() < quiet {
        std::thread::sleep(Duration::from_millis(50));
        let now = session.standin().main_requests().len();
        if now != n {
            (n, since) = (now, Instant::now());
        }
    }
    n
}

/// Waits until the session is idle with its waker armed (a `hook claude
/// wait` started after the last turn), so what follows tests the waker.
fn idle_and_armed(session: &ClaudeSession, repo: &Path, after: std::time::SystemTime) {
    let marker = repo.join(".thrum/var/hook-runs/claude.wait");
    let armed = crate::claude::poll(Duration::from_secs(30), || {
        std::fs::metadata(&marker).and_then(|m| m.modified()).is_ok_and(|t| t >= after) && session.is_idle()
    });
    assert!(armed, "the idle waker did not start after the turn:\n{}", session.capture());
}

#[test]
fn thrum_hooks_brief_claude_code_and_wake_it_once_per_new_message() {
    let env = env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    let repo = env.repo();
    env.ok(None, &["setup", "hooks", "--runtime", "claude"]);
    // Mail alice has already read: it must never be announced.
    let old = send(&env, "bob", "an old note alice has read", "@alice");
    env.ok(Some("alice"), &["inbox"]);
    // Mail waiting for her when the session starts: the briefing tells her.
    let waiting = send(&env, "bob", "waiting since before the session", "@alice");

    let bin_dir = Path::new(BIN).parent().unwrap();
    let gitconfig = env.home().join(".gitconfig");
    let session = ClaudeSession::start(
        &env.home(),
        &repo,
        Some(bin_dir),
        &[
            ("THRUM_NAME", "alice"),
            ("THRUM_NO_HINTS", "1"),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_CONFIG_GLOBAL", gitconfig.to_str().unwrap()),
        ],
    );
    let standin = session.standin();
    let turn_started = std::time::SystemTime::now();
    session.send_prompt("Say hello.");
    assert!(standin.wait_for_main_requests(1, Duration::from_secs(60)), "no first request:\n{}", session.capture());
    let first = request_text(&standin.main_requests()[0]);
    assert!(first.contains("[thrum] Session briefing"), "the briefing is not in the first request:\n{first}");
    assert!(first.contains("alice"), "the briefing does not say who the agent is:\n{first}");
    assert!(first.contains(&waiting), "the waiting message is not announced in the briefing:\n{first}");
    assert!(!first.contains(&old), "mail already read was announced:\n{first}");

    // 1. Idle, mail arrives: one wake, its notice in the next request.
    idle_and_armed(&session, &repo, turn_started);
    assert_eq!(settled(&session, Duration::from_millis(500)), 1, "a turn began on its own");
    let sent_at = Instant::now();
    let turn_started = std::time::SystemTime::now();
    let id = send(&env, "bob", "schema is ready for review", "@alice");
    assert!(standin.wait_for_main_requests(2, Duration::from_secs(10)), "not woken:\n{}", session.capture());
    eprintln!("send → woken request: {} ms", sent_at.elapsed().as_millis());
    let woken = request_text(&standin.main_requests()[1]);
    assert!(woken.contains(&id) && woken.contains("schema is ready"), "the notice is not in the request:\n{woken}");
    assert!(woken.contains("not from your user"), "the notice is not marked as thrum's:\n{woken}");
    let sent: Value = env.json(Some("bob"), &["message", "get", &id]);
    let me = &sent["message"]["recipients"][0];
    assert_eq!((me["state"].as_str(), me["announced_via"].as_str()), (Some("announced"), Some("waiter")), "{sent}");

    // 2. A burst of two: one wake carrying both.
    idle_and_armed(&session, &repo, turn_started);
    let turn_started = std::time::SystemTime::now();
    let (a, b) = (send(&env, "bob", "first of a burst", "@alice"), send(&env, "bob", "second of a burst", "@alice"));
    assert!(standin.wait_for_main_requests(3, Duration::from_secs(10)), "not woken by the burst");
    assert_eq!(settled(&session, Duration::from_millis(1500)), 3, "a burst of two woke the session twice");
    let burst = request_text(&standin.main_requests()[2]);
    assert!(burst.contains(&a) && burst.contains(&b), "the burst's notice lacks a message:\n{burst}");

    // 3. Her own message, and mail she read before the waker saw it: no wake.
    idle_and_armed(&session, &repo, turn_started);
    send(&env, "alice", "a note from alice to everyone", "@everyone");
    assert_eq!(settled(&session, Duration::from_millis(1500)), 3, "the agent's own message woke it");

    // 4. The daemon restarts while the waker waits: the next message still wakes it.
    env.ok(None, &["daemon", "stop"]);
    let after_restart = send(&env, "bob", "sent after a daemon restart", "@alice");
    assert!(
        standin.wait_for_main_requests(4, Duration::from_secs(15)),
        "the restart lost the wake:\n{}",
        session.capture()
    );
    let last = request_text(&standin.main_requests()[3]);
    assert!(last.contains(&after_restart), "{last}");
    // Every announcement once: each message id appears in exactly one
    // request's new part (a request repeats the conversation before it).
    for (i, id) in [(1, &id), (2, &a), (3, &after_restart)] {
        let before = request_text(&standin.main_requests()[i - 1]);
        assert!(!before.contains(id.as_str()), "{id} was announced before request {i}");
    }
}
