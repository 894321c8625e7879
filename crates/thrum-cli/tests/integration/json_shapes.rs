//! The `--json` shapes of the main commands, read through the test-owned
//! types of `wire.rs` (unknown fields refused), one command each.

use crate::team;
use crate::wire::*;

#[test]
fn the_main_commands_json_has_the_declared_shapes() {
    let env = team();
    let sent: Sent = env.json_as(Some("alice"), &["send", "hello", "--to", "@bob"]);
    assert_eq!(sent.recipients.iter().map(|r| r.agent_id.as_str()).collect::<Vec<_>>(), ["bob"]);
    let inbox: Page = env.json_as(Some("bob"), &["inbox"]);
    assert_eq!(inbox.messages[0].body.content, "hello");
    let reply: Sent = env.json_as(Some("bob"), &["reply", &sent.message_id, "ok"]);
    assert!(reply.thread_id.is_some());
    let outbox: Page = env.json_as(Some("alice"), &["sent"]);
    assert_eq!(outbox.messages[0].read_count, Some(1));
    let got: Got = env.json_as(Some("alice"), &["message", "get", &reply.message_id]);
    assert_eq!(got.message.reply_to.as_deref(), Some(sent.message_id.as_str()));
    let who: Whoami = env.json_as(Some("alice"), &["whoami"]);
    assert_eq!(who.agent_id, "alice");
    let team: Team = env.json_as(Some("alice"), &["team"]);
    assert_eq!(team.members.len(), 3);
    let agents: Agents = env.json_as(Some("alice"), &["agent", "list"]);
    assert!(agents.agents.iter().all(|a| a.presence.as_deref() == Some("active")));
}
