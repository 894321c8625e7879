//! What the permission messages say, and how a reply is read.

use serde_json::Value;
use thrum_tmux::prompt::{Answer, Prompt};

/// A supervisor's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Deny,
}

/// A reply's verdict: the whole reply, trimmed and lowercased, must be
/// one of the tokens (prose such as "yes please" answers nothing).
pub fn verdict(reply: &str) -> Option<Verdict> {
    match reply.trim().to_lowercase().as_str() {
        "y" | "yes" | "approve" | "a" => Some(Verdict::Approve),
        "n" | "no" | "deny" | "d" => Some(Verdict::Deny),
        _ => None,
    }
}

/// The pseudo-agent that writes the nudges, `supervisor_<project>`: the
/// project is `project_name` from config, else the repository folder's
/// name, reduced to what an agent name may hold (`[a-z0-9_]`).
pub fn author(project: &str) -> String {
    let mut name = String::new();
    for c in project.to_lowercase().chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '_' };
        if !(c == '_' && (name.is_empty() || name.ends_with('_'))) {
            name.push(c);
        }
    }
    let mut name = name.trim_end_matches('_').to_string();
    if name.is_empty() {
        name = "project".into();
    }
    let prefix = "supervisor_";
    name.truncate(thrum_core::name::MAX_LEN - prefix.len());
    format!("{prefix}{}", name.trim_end_matches('_'))
}

/// The names in `permission_supervisors` (roles or `@agents`, the `@`
/// dropped): a list, or one text of names apart by commas or spaces.
pub fn supervisors(value: &Value) -> Vec<String> {
    let names: Vec<String> = match value {
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Value::String(s) => s.split([',', ' ']).map(str::to_string).collect(),
        _ => vec!["coordinator".into()],
    };
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let n = n.trim().trim_start_matches('@').to_string();
        if !n.is_empty() && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// How a supervisor can press a key without the reply: a digit can be
/// typed with `thrum tmux send`; anything else needs the pane.
fn by_hand(session: &str, a: &Answer) -> String {
    match a {
        Answer::Keys(k) if k.len() == 1 && k[0].chars().all(|c| c.is_ascii_digit()) => {
            format!("`thrum tmux send {session} {} --no-enter`", k[0])
        }
        _ => format!("`thrum tmux connect {session}`, then {}", a.describe()),
    }
}

/// The first message about a prompt (and, with `reminder`, the later ones).
pub fn nudge(agent: &str, session: &str, runtime: &str, p: &Prompt, reminder: Option<usize>) -> String {
    let head = match reminder {
        None => format!("⚠ Permission prompt: @{agent} is waiting for an answer in tmux session {session} ({runtime})"),
        Some(n) => format!(
            "⚠ Reminder {n}: @{agent} is still waiting on this permission prompt in tmux session {session} ({runtime})"
        ),
    };
    let gist: String = p.gist.iter().map(|l| format!("    {l}\n")).collect();
    let approve = match &p.approve {
        Some(a) => format!("`y` approves this once (thrum presses {})", a.describe()),
        None => "no option here approves only this once, so `y` presses nothing (approve in the pane)".into(),
    };
    let mut text = format!(
        "{head}\n\n{gist}\nReply to this message: {approve}; `n` denies (thrum presses {}). Nothing is pressed if the prompt has changed by then.\n",
        p.deny.describe()
    );
    let mut hands = Vec::new();
    if let Some(a) = &p.approve {
        hands.push(format!("approve {}", by_hand(session, a)));
    }
    hands.push(format!("deny {}", by_hand(session, &p.deny)));
    text.push_str(&format!("By hand: {}.", hands.join("; ")));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_tokens_answer() {
        for y in ["y", " Yes\n", "APPROVE", "a"] {
            assert_eq!(verdict(y), Some(Verdict::Approve), "{y:?}");
        }
        for n in ["n", "No", "deny", " d "] {
            assert_eq!(verdict(n), Some(Verdict::Deny), "{n:?}");
        }
        for none in ["sure", "yes please", "y.", "", "nope", "1"] {
            assert_eq!(verdict(none), None, "{none:?}");
        }
    }

    #[test]
    fn the_author_is_a_valid_agent_name() {
        assert_eq!(author("thrum"), "supervisor_thrum");
        assert_eq!(author("My Repo.v2"), "supervisor_my_repo_v2");
        assert_eq!(author("--"), "supervisor_project");
        let long = author(&"x".repeat(100));
        assert!(thrum_core::name::AgentName::parse(&long).is_ok(), "{long}");
        assert!(thrum_core::name::AgentName::parse(&author("Ünïcode ☃")).is_ok());
    }

    #[test]
    fn supervisors_are_names_or_roles() {
        assert_eq!(supervisors(&serde_json::json!(["coordinator", "@lead", "lead"])), ["coordinator", "lead"]);
        assert_eq!(supervisors(&serde_json::json!("@a, b")), ["a", "b"]);
        assert!(supervisors(&serde_json::json!([])).is_empty());
    }

    #[test]
    fn a_nudge_says_who_waits_what_for_and_how_to_answer() {
        let p = Prompt {
            gist: vec!["Bash command".into(), "touch x".into(), "Do you want to proceed?".into()],
            options: vec![],
            id: 1,
            approve: Some(Answer::Keys(vec!["1".into()])),
            deny: Answer::Keys(vec!["Escape".into()]),
        };
        let t = nudge("impl", "s", "claude", &p, None);
        assert!(t.starts_with("⚠ Permission prompt: @impl is waiting for an answer in tmux session s (claude)"), "{t}");
        assert!(t.contains("    touch x\n") && t.contains("`y` approves this once (thrum presses `1`)"), "{t}");
        assert!(t.contains("`n` denies (thrum presses `Escape`)"), "{t}");
        assert!(
            t.contains("`thrum tmux send s 1 --no-enter`") && t.contains("`thrum tmux connect s`, then `Escape`"),
            "{t}"
        );
        assert!(nudge("impl", "s", "claude", &p, Some(2)).starts_with("⚠ Reminder 2: @impl is still waiting"));
    }
}
