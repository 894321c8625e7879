//! The original's older on-disk layouts are read and migrated.

use thrum_testkit::{TestEnv, git};

use crate::BIN;
use crate::wire::{JsonAs, Migrate, Page, Whoami};

const EVENTS: &str = r#"{"type":"agent.register","timestamp":"2026-01-01T10:00:00Z","event_id":"evt_L1","v":1,"agent_id":"furiosa","kind":"agent","name":"furiosa","role":"implementer","module":"auth"}
{"type":"agent.register","timestamp":"2026-01-01T10:00:01Z","event_id":"evt_L2","v":1,"agent_id":"nux","kind":"agent","name":"nux","role":"reviewer","module":"auth"}
"#;
// A monolithic messages.jsonl from before sharding, with a line that has
// no event_id (very old) — and a per-agent shard with a field from the future.
const MONOLITHIC: &str = r#"{"type":"message.create","timestamp":"2026-01-01T10:05:00Z","v":1,"message_id":"msg_L1","agent_id":"furiosa","session_id":"ses_x","body":{"format":"markdown","content":"legacy hello"},"refs":[{"type":"mention","value":"nux"}]}
"#;
const SHARD: &str = r#"{"type":"message.create","timestamp":"2026-01-01T10:06:00Z","event_id":"evt_L4","v":1,"message_id":"msg_L2","agent_id":"furiosa","session_id":"ses_x","body":{"format":"markdown","content":"second legacy"},"refs":[{"type":"mention","value":"reviewer"}],"future_field":{"keep":true}}
"#;
const IDENTITY_V2: &str = r#"{"version":2,"repo_id":"r_7K2Q1X9M3P0B","agent":{"kind":"agent","name":"nux","role":"reviewer","module":"auth","display":"Reviewer"},"worktree":"repo","confirmed_by":"human:leon","updated_at":"2026-02-03T18:02:10.000Z"}
"#;

#[test]
fn legacy_layout_is_imported_on_start_and_by_migrate() {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init"]);
    let t = env.thrum_dir();
    std::fs::write(t.join("events.jsonl"), EVENTS).unwrap();
    std::fs::write(t.join("messages.jsonl"), MONOLITHIC).unwrap();
    std::fs::create_dir_all(t.join("messages")).unwrap();
    std::fs::write(t.join("messages/furiosa.jsonl"), SHARD).unwrap();
    std::fs::write(t.join("identities/nux.json"), IDENTITY_V2).unwrap();
    // The legacy files were tracked on the user's branch.
    git(
        &env,
        &env.repo(),
        &["add", "-f", ".thrum/events.jsonl", ".thrum/messages.jsonl", ".thrum/messages/furiosa.jsonl"],
    );
    git(&env, &env.repo(), &["commit", "-q", "-m", "old thrum data"]);

    // First use starts the daemon, which imports the legacy log.
    let inbox: Page = env.json_as(None, &["inbox"]);
    let contents: Vec<&str> = inbox.messages.iter().map(|m| m.body.content.as_str()).collect();
    assert_eq!(contents, vec!["second legacy", "legacy hello"], "{inbox:?}");
    let shard = std::fs::read_to_string(env.sync_dir().join("messages/furiosa.jsonl")).unwrap();
    assert!(shard.contains(r#""future_field":{"keep":true}"#), "unknown fields survive: {shard}");
    assert!(shard.contains("evt_legacy_"), "old lines get a stable event id");
    let whoami: Whoami = env.json_as(None, &["whoami"]);
    assert_eq!((whoami.agent_id.as_str(), whoami.display.as_deref()), ("nux", Some("Reviewer")));

    // `thrum migrate` finishes the job: nothing new to import, the old
    // files leave the index, and .thrum/ is ignored.
    let m: Migrate = env.json_as(None, &["migrate"]);
    let result = m.result.as_ref().unwrap_or_else(|| panic!("{m:?}"));
    assert_eq!(result.imported, 0, "{m:?}");
    assert_eq!(result.skipped, 4, "{m:?}");
    assert_eq!(m.untracked.as_ref().map(Vec::len), Some(3), "{m:?}");
    assert!(git(&env, &env.repo(), &["ls-files", ".thrum"]).is_empty());
    assert!(t.join("events.jsonl").exists(), "old files stay as a backup");
    // The daemon comes back on its own with the same answers.
    assert_eq!(env.json_as::<Page>(None, &["inbox"]).total, 2);
}

/// A repository that only ever ran the original's old version: `.thrum/`
/// holds the log and identities but no `var/`, and no sync worktree exists.
#[test]
fn migrate_works_on_a_legacy_thrum_dir_without_var() {
    let env = TestEnv::new(BIN);
    let t = env.thrum_dir();
    std::fs::create_dir_all(t.join("messages")).unwrap();
    std::fs::create_dir_all(t.join("identities")).unwrap();
    std::fs::write(t.join("events.jsonl"), EVENTS).unwrap();
    std::fs::write(t.join("messages/furiosa.jsonl"), SHARD).unwrap();
    std::fs::write(t.join("identities/nux.json"), IDENTITY_V2).unwrap();
    assert!(!t.join("var").exists());

    let m: Migrate = env.json_as(None, &["migrate"]);
    let result = m.result.as_ref().unwrap_or_else(|| panic!("{m:?}"));
    assert_eq!((result.imported, result.skipped, result.unreadable), (3, 0, 0), "{m:?}");
    assert!(t.join("var/legacy-migrated").is_file(), "the marker keeps the daemon from importing again");
    // The events landed in a real sync worktree on the a-sync branch.
    let branch = git(&env, &env.sync_dir(), &["rev-parse", "--abbrev-ref", "HEAD"]);
    assert_eq!(branch, "a-sync");
    let shard = std::fs::read_to_string(env.sync_dir().join("messages/furiosa.jsonl")).unwrap();
    assert!(shard.contains("second legacy"), "{shard}");

    // And the daemon serves them without importing twice.
    let inbox: Page = env.json_as(None, &["inbox"]);
    assert_eq!(inbox.total, 1, "{inbox:?}");
    let m: Migrate = env.json_as(None, &["migrate"]);
    assert_eq!(m.result.map(|r| r.imported), Some(0));
}
