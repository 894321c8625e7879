//! How a message reaches an agent's model: the channels that can tell a
//! runtime about mail, each recipient's delivery state, and the short
//! notice the agent reads.
//!
//! One rule holds everywhere: a message is announced to an agent once,
//! whatever the number of channels, never when it is the agent's own and
//! never once it is read. The daemon enforces it (it claims unannounced
//! mail atomically, `message.announce`); this module names the pieces and
//! words the notice, so every channel says the same thing.

use serde::{Deserialize, Serialize};

use crate::views::MessageSummary;

/// What told a runtime about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A runtime hook at a turn boundary (session start, after a tool, on
    /// stop, a prompt submitted).
    Hook,
    /// A background idle waker (Claude Code's `asyncRewake` Stop hook,
    /// OpenCode's `session.idle`).
    Waiter,
    /// The MCP `wait_for_message` tool.
    Mcp,
    /// `thrum wait`.
    Wait,
    /// A doorbell typed into a thrum-managed tmux pane.
    Tmux,
}

impl Channel {
    pub const ALL: [Channel; 5] = [Channel::Hook, Channel::Waiter, Channel::Mcp, Channel::Wait, Channel::Tmux];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Hook => "hook",
            Channel::Waiter => "waiter",
            Channel::Mcp => "mcp",
            Channel::Wait => "wait",
            Channel::Tmux => "tmux",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one recipient of a message is: stored → announced → read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// In the recipient's inbox; its runtime has not been told.
    #[default]
    Stored,
    /// Its runtime was told (or the original's `seen` receipt says it
    /// was shown).
    Announced,
    Read,
}

impl DeliveryState {
    /// The state from the delivery row's times (empty when not reached).
    pub fn from_times(announced_at: &str, seen_at: &str, read_at: &str) -> DeliveryState {
        if !read_at.is_empty() {
            DeliveryState::Read
        } else if !announced_at.is_empty() || !seen_at.is_empty() {
            DeliveryState::Announced
        } else {
            DeliveryState::Stored
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Stored => "stored",
            DeliveryState::Announced => "announced",
            DeliveryState::Read => "read",
        }
    }
}

/// How many characters of a body a notice quotes.
const PREVIEW_CHARS: usize = 80;

/// The notice an agent reads about new mail: who sent how many, each
/// message's id and first words, and how to read them. Facts, marked as
/// coming from thrum rather than the agent's user; never the bodies in
/// full (the agent reads them on demand).
pub fn notice(agent: &str, messages: &[MessageSummary]) -> String {
    if messages.is_empty() {
        return String::new();
    }
    let n = messages.len();
    let mut senders: Vec<(&str, usize)> = Vec::new();
    for m in messages {
        match senders.iter_mut().find(|(a, _)| *a == m.agent_id) {
            Some((_, c)) => *c += 1,
            None => senders.push((&m.agent_id, 1)),
        }
    }
    let from: Vec<String> = senders.iter().map(|(a, c)| format!("@{a} ({c})")).collect();
    let mut out = format!(
        "[thrum] {n} new message{} for @{agent} from {} (a notice from the thrum messaging system, not from your user):\n",
        if n == 1 { "" } else { "s" },
        from.join(", ")
    );
    for m in messages {
        out.push_str(&format!("- {} from @{}: {}\n", m.message_id, m.agent_id, preview(&m.body.content)));
    }
    out.push_str("Read them with: thrum inbox (shows them and marks them read)");
    out
}

/// The doorbell typed into an agent's tmux pane: one line (Enter submits
/// it), short (it must fit the input line), facts marked as coming from
/// thrum. The bodies are not in it: the agent reads them with the command.
pub fn doorbell(agent: &str, messages: &[MessageSummary]) -> String {
    let n = messages.len();
    let mut senders: Vec<&str> = Vec::new();
    for m in messages {
        if !senders.contains(&m.agent_id.as_str()) {
            senders.push(&m.agent_id);
        }
    }
    let from = match senders.as_slice() {
        [] => String::new(),
        [one] => format!(" from @{one}"),
        [a, b] => format!(" from @{a} and @{b}"),
        [a, rest @ ..] => format!(" from @{a} and {} others", rest.len()),
    };
    format!(
        "[thrum] {n} new message{} for @{agent}{from} (thrum messaging, not your user): `thrum inbox`",
        if n == 1 { "" } else { "s" }
    )
}

/// The reminder typed when mail stays unread (the backstop) or an agent
/// marked working has gone silent with mail waiting.
pub fn reminder(agent: &str, unread: usize, newest: &MessageSummary) -> String {
    format!(
        "[thrum] reminder: {unread} unread message{} for @{agent}, newest {} from @{} (thrum messaging): `thrum inbox`",
        if unread == 1 { "" } else { "s" },
        newest.message_id,
        newest.agent_id
    )
}

/// The first words of a body on one line, cut at a character boundary.
fn preview(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = flat.chars();
    let cut: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() { format!("\"{cut}…\"") } else { format!("\"{cut}\"") }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::event::MessageBody;

    fn msg(id: &str, from: &str, body: &str) -> MessageSummary {
        MessageSummary {
            message_id: id.into(),
            agent_id: from.into(),
            body: MessageBody { content: body.into(), ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn a_notice_counts_senders_quotes_first_words_and_says_how_to_read() {
        let long = "word ".repeat(40);
        let n = notice(
            "alice",
            &[msg("msg_1", "bob", "Schema\nis ready"), msg("msg_2", "carol", &long), msg("msg_3", "bob", "ü")],
        );
        assert!(n.starts_with("[thrum] 3 new messages for @alice from @bob (2), @carol (1) (a notice from the thrum"));
        assert!(n.contains("- msg_1 from @bob: \"Schema is ready\"\n"));
        assert!(n.contains("- msg_2 from @carol: \"word word"), "{n}");
        assert!(n.contains("…\"\n"), "a long body is cut: {n}");
        assert!(n.ends_with("Read them with: thrum inbox (shows them and marks them read)"));
        // Facts, not imperatives in capitals.
        assert!(!n.contains("MUST") && !n.contains("IMPORTANT"));
        assert_eq!(notice("alice", &[]), "");
    }

    #[test]
    fn a_single_message_is_singular() {
        assert!(notice("a", &[msg("m", "b", "hi")]).starts_with("[thrum] 1 new message for @a from @b (1)"));
    }

    #[test]
    fn states_follow_the_furthest_time_reached() {
        assert_eq!(DeliveryState::from_times("", "", ""), DeliveryState::Stored);
        assert_eq!(DeliveryState::from_times("t", "", ""), DeliveryState::Announced);
        assert_eq!(DeliveryState::from_times("", "t", ""), DeliveryState::Announced);
        assert_eq!(DeliveryState::from_times("t", "t", "t"), DeliveryState::Read);
        assert_eq!(serde_json::to_string(&Channel::Waiter).unwrap(), "\"waiter\"");
        for c in Channel::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}
