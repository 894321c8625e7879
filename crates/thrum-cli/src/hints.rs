//! Next-step hints: short advice after (or before) a command, each with a
//! stable dotted code that scripts may match.
//!
//! Commands add hints while they run; how they show is decided once:
//! - text mode: a trailer on stderr after the command's output (stdout
//!   stays clean for pipes), warnings before infos;
//! - `--json`: a `hints` array inside the JSON body (omitted when empty);
//! - `--quiet` or `THRUM_NO_HINTS` (any value but "", "0", "false"):
//!   nothing at all.

use std::cell::RefCell;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warn,
    Info,
}

/// A suggested command under a hint.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub label: &'static str,
    pub cmd: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hint {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Step>,
}

thread_local! {
    static PENDING: RefCell<Vec<Hint>> = const { RefCell::new(Vec::new()) };
}

/// Every hint code this version can emit (stable: only ever added to).
pub const CODES: &[&str] = &[
    "init.next-quickstart",
    "quickstart.next-send",
    "agent.register.next-session",
    "agent.list.none-registered",
    "send.recipient-stale",
    "inbox.next-page",
    "daemon.stop.messaging-restarts-it",
    "purge.agents-kept",
    "prime.no-agent-block",
    "roles.template-drift",
    "roles.template-update",
];

/// An informational hint with suggested commands (label, command).
pub fn info(code: &'static str, message: impl Into<String>, steps: &[(&'static str, String)]) {
    push(code, Severity::Info, message.into(), steps);
}

/// A warning hint.
pub fn warn(code: &'static str, message: impl Into<String>, steps: &[(&'static str, String)]) {
    push(code, Severity::Warn, message.into(), steps);
}

fn push(code: &'static str, severity: Severity, message: String, steps: &[(&'static str, String)]) {
    debug_assert!(CODES.contains(&code), "hint code {code} missing from CODES");
    let options = steps.iter().map(|(label, cmd)| Step { label, cmd: cmd.clone(), note: None }).collect();
    PENDING.with(|p| p.borrow_mut().push(Hint { code, severity, message, options }));
}

/// Whether THRUM_NO_HINTS turns hints off.
pub fn disabled_by_env() -> bool {
    thrum_core::env::var("THRUM_NO_HINTS")
        .map(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
        .unwrap_or(false)
}

/// Takes the pending hints, warnings first.
pub fn take() -> Vec<Hint> {
    let mut h = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    h.sort_by_key(|x| x.severity);
    h
}

/// The stderr trailer for `hints` (empty when there are none).
pub fn render(hints: &[Hint]) -> String {
    let mut s = String::new();
    if hints.is_empty() {
        return s;
    }
    s.push('\n');
    for h in hints {
        let sev = match h.severity {
            Severity::Warn => "warn",
            Severity::Info => "info",
        };
        s.push_str(&format!("  {sev} [{}]: {}\n", h.code, h.message));
        let width = h.options.iter().map(|o| o.label.len()).max().unwrap_or(0) + 1;
        for o in &h.options {
            s.push_str(&format!("    {:<width$}  {}", format!("{}:", o.label), o.cmd));
            if let Some(n) = &o.note {
                s.push_str(&format!("    ({n})"));
            }
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_come_first_and_options_align() {
        info("inbox.next-page", "more messages", &[("next", "thrum inbox --page 2".into())]);
        warn(
            "send.recipient-stale",
            "@bob was last seen 2h ago",
            &[("ping", "thrum ping @bob".into()), ("wait", "thrum wait".into())],
        );
        let h = take();
        assert_eq!(h[0].code, "send.recipient-stale");
        let text = render(&h);
        assert!(text.contains("  warn [send.recipient-stale]: @bob was last seen 2h ago\n    ping:  thrum ping @bob\n    wait:  thrum wait\n"), "{text}");
        assert!(take().is_empty());
    }
}
