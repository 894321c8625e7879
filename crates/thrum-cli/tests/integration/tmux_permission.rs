//! Permission prompts in managed sessions, end to end: the daemon
//! announces a prompt to the supervisors once, and a threaded `y`/`n`
//! presses the key that approves once or denies, only on the prompt that
//! was announced.
//!
//! - The fake agent (`tests/tmux/fake_agent.py`, drawn like Claude Code),
//!   whose log shows every key it got.
//! - The real pinned Claude Code in manual permission mode, against the
//!   model stand-in: a `standin-run: touch FILE` prompt asks to run a
//!   command, a `y` reply makes it run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use thrum_testkit::TestEnv;

use crate::claude::poll;
use crate::tmux_doorbell::{capture, control, events, setup_with};
use crate::tmux_restart::Rig;

/// The messages of `agent`'s inbox from the nudge author, oldest first.
fn from_supervisor(env: &TestEnv, agent: &str) -> Vec<Value> {
    let page = env.json(Some(agent), &["inbox", "--all", "--limit", "100"]);
    let mut all: Vec<Value> = page["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["agent_id"].as_str().is_some_and(|a| a.starts_with("supervisor_")))
        .collect();
    all.sort_by(|a, b| a["created_at"].as_str().cmp(&b["created_at"].as_str()));
    all
}

fn content(m: &Value) -> String {
    m["body"]["content"].as_str().unwrap_or_default().to_string()
}

/// The nudges (not reminders nor answers) `agent` got.
fn nudges(env: &TestEnv, agent: &str) -> Vec<Value> {
    from_supervisor(env, agent).into_iter().filter(|m| content(m).starts_with("⚠ Permission prompt")).collect()
}

/// The supervisor's message replying to `reply` (the answer to an answer).
fn answer_to(env: &TestEnv, agent: &str, reply: &str) -> Option<String> {
    from_supervisor(env, agent).iter().find(|m| m["reply_to"] == reply).map(content)
}

fn reply(env: &TestEnv, agent: &str, to: &str, text: &str) -> String {
    env.json(Some(agent), &["reply", to, text])["message_id"].as_str().unwrap().to_string()
}

fn session_state(env: &TestEnv, agent: &str, session: &str) -> String {
    let all = env.json(Some(agent), &["tmux", "status"])["sessions"].as_array().cloned().unwrap_or_default();
    all.iter().find(|s| s["name"] == session).and_then(|s| s["state"].as_str()).unwrap_or("").to_string()
}

/// The keys that reached the fake agent while its dialog showed.
fn dialog_keys(log: &Path) -> Vec<String> {
    events(log)
        .iter()
        .filter(|e| e["event"] == "key" && e["dialog"] == true)
        .map(|e| e["key"].as_str().unwrap_or("").to_string())
        .collect()
}

fn answers(log: &Path) -> Vec<i64> {
    events(log).iter().filter(|e| e["event"] == "dialog_answer").filter_map(|e| e["option"].as_i64()).collect()
}

/// `lead` (a coordinator: the default supervisor) and `impl` in session
/// `s`, whose `claude` is the fake agent; launched. The fake's log and
/// control files.
fn fake_setup() -> (TestEnv, PathBuf, PathBuf) {
    let (env, _wt, fake) = setup_with(json!({}), true);
    let (log, ctl) = fake.unwrap();
    env.ok(Some("lead"), &["tmux", "launch", "s"]);
    assert!(poll(Duration::from_secs(10), || capture(&env, "s").contains('❯')), "{}", capture(&env, "s"));
    (env, log, ctl)
}

#[test]
fn a_prompt_is_announced_once_and_answered_only_while_it_shows() {
    let (env, log, ctl) = fake_setup();

    // A prompt: one nudge to the coordinator, saying who waits on what.
    control(&ctl, "dialog on");
    assert!(poll(Duration::from_secs(15), || nudges(&env, "lead").len() == 1), "no nudge:\n{}", capture(&env, "s"));
    let nudge = nudges(&env, "lead").remove(0);
    let text = content(&nudge);
    for want in ["@impl", "tmux session s", "touch fake-agent-was-here", "Do you want to proceed?", "`y`", "`n`"] {
        assert!(text.contains(want), "{want:?} is not in the nudge:\n{text}");
    }
    assert_eq!(session_state(&env, "lead", "s"), "blocked");
    // Not a metronome.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(nudges(&env, "lead").len(), 1, "announced again");
    assert!(dialog_keys(&log).is_empty(), "keys before any answer: {:?}", dialog_keys(&log));

    // `y`: exactly the approve key, then a confirmation in the thread.
    let id = nudge["message_id"].as_str().unwrap();
    let yes = reply(&env, "lead", id, "y");
    assert!(poll(Duration::from_secs(10), || answers(&log) == [1]), "{:?}", events(&log));
    assert_eq!(dialog_keys(&log), ["1"]);
    assert!(poll(Duration::from_secs(10), || answer_to(&env, "lead", &yes).is_some()));
    let said = answer_to(&env, "lead", &yes).unwrap();
    assert!(said.starts_with("Approved once: pressed `1` in tmux session s") && said.contains("closed"), "{said}");
    assert!(poll(Duration::from_secs(5), || session_state(&env, "lead", "s") == "alive"));

    // A second prompt changes before the answer: nothing pressed.
    control(&ctl, "dialog on touch second-prompt");
    assert!(poll(Duration::from_secs(15), || nudges(&env, "lead").len() == 2), "no second nudge");
    let second = nudges(&env, "lead")[1]["message_id"].as_str().unwrap().to_string();
    control(&ctl, "dialog off");
    control(&ctl, "dialog on touch third-prompt");
    assert!(poll(Duration::from_secs(5), || capture(&env, "s").contains("third-prompt")));
    let late = reply(&env, "lead", &second, "yes");
    assert!(poll(Duration::from_secs(10), || answer_to(&env, "lead", &late).is_some()));
    let said = answer_to(&env, "lead", &late).unwrap();
    assert!(said.starts_with("Nothing pressed"), "{said}");
    assert_eq!(dialog_keys(&log), ["1"], "a key reached a prompt nobody answered");

    // The third prompt: prose answers nothing, `n` denies.
    assert!(poll(Duration::from_secs(15), || nudges(&env, "lead").len() == 3), "no third nudge");
    let third = nudges(&env, "lead")[2].clone();
    assert!(content(&third).contains("touch third-prompt"), "{}", content(&third));
    let third = third["message_id"].as_str().unwrap().to_string();
    let sure = reply(&env, "lead", &third, "sure");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(dialog_keys(&log), ["1"]);
    assert_eq!(answer_to(&env, "lead", &sure), None);
    let no = reply(&env, "lead", &third, " No ");
    assert!(poll(Duration::from_secs(10), || answers(&log) == [1, 2]), "{:?}", events(&log));
    assert_eq!(dialog_keys(&log), ["1", "2"]);
    assert!(poll(Duration::from_secs(10), || answer_to(&env, "lead", &no).is_some()));
    let said = answer_to(&env, "lead", &no).unwrap();
    assert!(said.starts_with("Denied: pressed `2`"), "{said}");
    assert_eq!(nudges(&env, "lead").len(), 3);
}

#[test]
fn a_real_claude_code_prompt_is_approved_from_a_reply() {
    // With thrum's hooks, Notification among them: Claude Code says when a
    // permission prompt is up, and the daemon looks at once.
    let rig = Rig::with(None, true);
    // Manual mode: ask before each command (auto mode is the default).
    std::fs::create_dir_all(rig.env.home().join(".claude")).unwrap();
    let settings = json!({ "permissions": { "defaultMode": "default" } });
    std::fs::write(rig.env.home().join(".claude/settings.json"), settings.to_string()).unwrap();
    rig.launched("p1");
    let screen = || rig.screen("p1");
    assert!(
        poll(Duration::from_secs(10), || screen().contains("manual mode on")),
        "Claude Code did not start in manual mode:\n{}",
        screen()
    );
    let env = &rig.env;

    let file = env.dir.path().join("ran-by-claude");
    let prompt = format!("standin-run: touch {}", file.display());
    rig.tmux(&["send-keys", "-t", "p1", "-l", &prompt]);
    assert!(poll(Duration::from_secs(10), || screen().contains("standin-run")), "{}", screen());
    rig.tmux(&["send-keys", "-t", "p1", "Enter"]);
    let nudged = || nudges(env, "coord");
    assert!(poll(Duration::from_secs(30), || nudged().len() == 1), "no nudge:\n{}", screen());
    let nudge = nudged().remove(0);
    let text = content(&nudge);
    assert!(text.contains("@alice") && text.contains(&format!("touch {}", file.display())), "{text}");
    assert!(text.contains("thrum presses `1`"), "{text}");
    assert!(!file.exists(), "ran before the answer");
    let told = env.thrum_dir().join("var/hook-runs/claude.notification");
    assert!(poll(Duration::from_secs(10), || told.exists()), "Claude Code's Notification hook never ran thrum's");

    let yes = reply(env, "coord", nudge["message_id"].as_str().unwrap(), "yes");
    assert!(poll(Duration::from_secs(15), || file.exists()), "the command did not run:\n{}", screen());
    let tool_result = || {
        rig.standin.main_requests().iter().any(|r| {
            r["body"]["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m["content"].as_array().into_iter().flatten().any(|b| b["type"] == "tool_result"))
        })
    };
    assert!(poll(Duration::from_secs(15), tool_result), "the stand-in never got the tool result");
    assert!(poll(Duration::from_secs(10), || answer_to(env, "coord", &yes).is_some()));
    let said = answer_to(env, "coord", &yes).unwrap();
    assert!(said.starts_with("Approved once: pressed `1` in tmux session p1"), "{said}");
}
