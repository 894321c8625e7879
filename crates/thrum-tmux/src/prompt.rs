//! Reading a runtime's permission prompt: what it asks (its gist), its
//! options, and which keys approve it once or deny it.
//!
//! A prompt is found by its runtime's markers in the bottom lines of a
//! capture (`thrum_core::runtimes::Permission`). Numbered menus are read
//! as drawn (a digit answers at once); unnumbered ones only among the
//! runtime's known labels, and approving them means moving the selection,
//! so the caller must check where it landed before pressing Enter
//! ([`Answer::Select`]). No answer ever picks an option that widens
//! permissions ([`widens`]): approve means this one call.

use thrum_core::runtimes::{Highlight, Permission};

use crate::screen::{BOTTOM, Capture, Cell, text};

/// A permission prompt on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// What it asks: the question and the command or file, a few lines
    /// of plain text.
    pub gist: Vec<String>,
    pub options: Vec<Choice>,
    /// Stays the same while the same prompt shows, whichever option is
    /// selected (gist and labels only).
    pub id: u64,
    /// How to approve this one call; `None` when no option is known to.
    pub approve: Option<Answer>,
    pub deny: Answer,
}

/// One option of the prompt's menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Its number, on a numbered menu.
    pub number: Option<u8>,
    pub label: String,
    pub selected: bool,
}

/// The keys that give an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Press these keys (tmux key names).
    Keys(Vec<String>),
    /// Move the selection with `moves`, check that the option `label` is
    /// the selected one, then press Enter.
    Select { moves: Vec<String>, label: String },
}

impl Answer {
    /// For people: `` `1` ``, `` `Escape` ``, `` `Down` then `Enter` on "Yes" ``.
    pub fn describe(&self) -> String {
        match self {
            Answer::Keys(k) => k.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" then "),
            Answer::Select { moves, label } => {
                let mut keys: Vec<String> = moves.iter().map(|k| format!("`{k}`")).collect();
                keys.push("`Enter`".into());
                format!("{} on \"{label}\"", keys.join(" then "))
            }
        }
    }
}

/// Words of an option that grants more than this one call: never chosen
/// as an approval.
const WIDENING: &[&str] = &[
    "always",
    "don't ask",
    "do not ask",
    "allowlist",
    "allow list",
    "auto mode",
    "auto-approve",
    "accept edits",
    "this session",
    "for session",
    "switch to",
    "remember",
];

/// Whether an option's label grants more than this one call.
pub fn widens(label: &str) -> bool {
    let l = label.to_lowercase();
    WIDENING.iter().any(|w| l.contains(w))
}

/// Longest gist line kept, in characters.
const GIST_WIDTH: usize = 160;
/// Gist lines kept (the last ones, nearest the question).
const GIST_LINES: usize = 8;

/// Box borders stripped from both ends of a line.
const BORDERS: &[char] = &['│', '┃', '║', '|'];

/// Blanks that part the prompt from another panel on the same rows (a
/// sidebar).
const GAP: &str = "        ";

/// A line's text without box borders, surrounding blanks and any other
/// panel drawn beside the prompt.
fn clean(line: &[Cell]) -> String {
    let t = text(line);
    let body = match t.find(BORDERS) {
        Some(i) if t[..i].trim().is_empty() => &t[i + t[i..].chars().next().map_or(1, char::len_utf8)..],
        _ => t.as_str(),
    };
    // Only another panel far to the right.
    if body.len() - body.trim_start().len() >= GAP.len() {
        return String::new();
    }
    let body = body.trim_start();
    let body = body.split(GAP).next().unwrap_or_default();
    body.trim_matches(|c: char| c.is_whitespace() || BORDERS.contains(&c)).to_string()
}

/// A row drawn only with rule characters (after its borders).
fn is_rule(t: &str) -> bool {
    !t.is_empty() && t.chars().all(|c| matches!(c, '─' | '━' | '═' | '╌' | '╭' | '╮' | '╰' | '╯' | ' '))
}

/// The top edge of a prompt: a rule or a box top at the line's start (a
/// box inside the prompt starts after a border).
fn is_top(line: &[Cell]) -> bool {
    let t = text(line);
    let t = t.trim_start();
    t.starts_with(['─', '━', '╭']) && is_rule(t.trim_end())
}

/// The permission prompt `capture` shows, if any.
pub fn read(capture: &Capture, p: &Permission) -> Option<Prompt> {
    let lines = capture.bottom(BOTTOM);
    let marker = lines.iter().position(|l| {
        let t = text(l);
        p.markers.iter().any(|m| t.contains(m))
    })?;
    let (first_option, options) = numbered(lines, marker, p).or_else(|| unnumbered(lines, marker, p))?;
    let start = (0..=marker).rev().find(|&i| is_top(&lines[i])).map(|i| i + 1).unwrap_or(marker);
    let mut gist: Vec<String> = lines[start..first_option]
        .iter()
        .map(|l| clean(l))
        .filter(|t| !t.is_empty() && !is_rule(t) && !t.starts_with("Tip:"))
        .map(|t| if t.chars().count() > GIST_WIDTH { t.chars().take(GIST_WIDTH).collect::<String>() + "…" } else { t })
        .collect();
    gist.drain(..gist.len().saturating_sub(GIST_LINES));
    let id = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        gist.hash(&mut h);
        for o in &options {
            (o.number, &o.label).hash(&mut h);
        }
        h.finish()
    };
    let approve = approve(&options, p);
    let deny = deny(&options);
    Some(Prompt { gist, options, id, approve, deny })
}

/// A label without a trailing hotkey hint: `Yes, proceed (y)` → `Yes, proceed`.
fn bare(label: &str) -> &str {
    if let Some(open) = label.rfind(" (")
        && label.ends_with(')')
        && label.len() - open <= 8
    {
        return label[..open].trim_end();
    }
    label
}

/// The approve-once option, and how to answer with it.
fn approve(options: &[Choice], p: &Permission) -> Option<Answer> {
    let (at, once) = options.iter().enumerate().find(|(_, o)| p.once.contains(&bare(&o.label)) && !widens(&o.label))?;
    if let Some(n) = once.number {
        return Some(Answer::Keys(vec![n.to_string()]));
    }
    // Unnumbered: from the one selected option to it.
    let mut selected = options.iter().enumerate().filter(|(_, o)| o.selected).map(|(i, _)| i);
    let (from, None) = (selected.next()?, selected.next()) else { return None };
    let key = if at >= from { p.next } else { p.prev };
    Some(Answer::Select { moves: vec![key.to_string(); at.abs_diff(from)], label: once.label.clone() })
}

/// Deny: the number of an option saying No, else Escape (which cancels
/// every prompt recorded).
fn deny(options: &[Choice]) -> Answer {
    let no = options.iter().find(|o| {
        let l = o.label.as_str();
        (l == "No" || l.starts_with("No,") || l.starts_with("No ")) && !widens(l)
    });
    match no.and_then(|o| o.number) {
        Some(n) => Answer::Keys(vec![n.to_string()]),
        None => Answer::Keys(vec!["Escape".into()]),
    }
}

/// A line's text without borders and a leading selector.
fn unselected<'a>(t: &'a str, p: &Permission) -> (&'a str, bool) {
    match p.highlight {
        Highlight::Selector(s) => match t.strip_prefix(s) {
            Some(rest) => (rest.trim_start(), true),
            None => (t, false),
        },
        Highlight::Background(_) => (t, false),
    }
}

/// `N. label` options below the marker: the first one's row and all of
/// them (numbered 1, 2, 3… in order).
fn numbered(lines: &[Vec<Cell>], marker: usize, p: &Permission) -> Option<(usize, Vec<Choice>)> {
    let mut first = None;
    let mut options = Vec::new();
    for (i, l) in lines.iter().enumerate().skip(marker) {
        let t = clean(l);
        let (rest, selected) = unselected(&t, p);
        let mut cs = rest.chars();
        let (Some(d @ '1'..='9'), Some('.' | ')'), Some(' ')) = (cs.next(), cs.next(), cs.next()) else {
            continue;
        };
        let number = d as u8 - b'0';
        if usize::from(number) != options.len() + 1 {
            return None;
        }
        first.get_or_insert(i);
        let selected = selected || highlighted_at(l, p, rest);
        options.push(Choice { number: Some(number), label: rest[3..].trim().to_string(), selected });
    }
    (options.len() >= 2).then(|| (first.unwrap_or(marker), options))
}

/// Options drawn without numbers, among the runtime's known labels:
/// one a line, or several on a row apart by two or more spaces.
fn unnumbered(lines: &[Vec<Cell>], marker: usize, p: &Permission) -> Option<(usize, Vec<Choice>)> {
    let mut first = None;
    let mut options = Vec::new();
    for (i, l) in lines.iter().enumerate().skip(marker + 1) {
        let t = clean(l);
        let (rest, selected) = unselected(&t, p);
        for part in rest.split("  ").map(str::trim).filter(|s| !s.is_empty()) {
            if p.choices.contains(&part) {
                first.get_or_insert(i);
                let selected = selected || highlighted_at(l, p, part);
                options.push(Choice { number: None, label: part.to_string(), selected });
            }
        }
    }
    (options.len() >= 2).then(|| (first.unwrap_or(marker), options))
}

/// Whether `label`, on `line`, is drawn on the highlight background.
fn highlighted_at(line: &[Cell], p: &Permission, label: &str) -> bool {
    let Highlight::Background(bg) = p.highlight else { return false };
    let t = text(line);
    let Some(byte) = t.find(label) else { return false };
    let at = t[..byte].chars().count();
    line.get(at).is_some_and(|c| c.bg == Some(bg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorded;
    use thrum_core::runtimes;

    fn prompt(runtime: &str, state: &str) -> Option<Prompt> {
        let (capture, _) = recorded::load(runtime, state);
        let profile = recorded::profile_of(runtime);
        let p = runtimes::get(profile).and_then(|r| r.screen.permission).unwrap_or_else(|| panic!("{profile}"));
        read(&capture, &p)
    }

    fn keys(k: &[&str]) -> Answer {
        Answer::Keys(k.iter().map(|s| s.to_string()).collect())
    }

    fn shown(runtime: &str, state: &str) -> Prompt {
        prompt(runtime, state).unwrap_or_else(|| panic!("{runtime}/{state}: no prompt read"))
    }

    #[test]
    fn claude_code_prompts_approve_once_and_deny_with_no() {
        let p = shown("claude", "permission");
        assert_eq!(
            p.gist,
            ["Bash command", "Run a scripted command", "touch /tmp/scr/c2/ran-1", "Do you want to proceed?"]
        );
        assert_eq!(p.options.len(), 4);
        assert!(p.options[0].selected && !p.options[1].selected);
        assert_eq!((p.approve, p.deny), (Some(keys(&["1"])), keys(&["4"])));
        // Typed text changed nothing: the same prompt.
        assert_eq!(shown("claude", "permission-typed").id, p.id);
        let p = shown("claude", "permission-in-project");
        assert_eq!(p.approve, Some(keys(&["1"])));
        assert_eq!(p.deny, Answer::Keys(vec![p.options.len().to_string()]));
        let p = shown("claude", "permission-edit");
        assert_eq!(p.gist, ["Create file", "new.txt", "1 standin", "Do you want to create new.txt?"]);
        assert_eq!((p.approve, p.deny), (Some(keys(&["1"])), keys(&["3"])));
    }

    #[test]
    fn claude_code_auto_mode_prompt_approves_by_moving_to_yes() {
        let p = shown("claude", "permission-auto");
        assert_eq!(
            p.options,
            [
                Choice { number: None, label: "No".into(), selected: true },
                Choice { number: None, label: "Yes".into(), selected: false }
            ]
        );
        assert_eq!(p.approve, Some(Answer::Select { moves: vec!["Down".into()], label: "Yes".into() }));
        assert_eq!(p.deny, keys(&["Escape"]));
        assert!(p.gist.contains(&"touch /tmp/scr/c3/ran-a".to_string()), "{:?}", p.gist);
        assert_eq!(p.gist.last().map(String::as_str), Some("Do you want to proceed?"));
    }

    #[test]
    fn codex_gemini_and_opencode_prompts() {
        let p = shown("codex", "permission");
        assert_eq!(
            p.gist,
            [
                "Would you like to run the following command?",
                "Environment: local",
                "Reason: Run a scripted command?",
                "$ touch /tmp/scr/x1/ran-1"
            ]
        );
        assert_eq!((p.approve.clone(), p.deny.clone()), (Some(keys(&["1"])), keys(&["3"])));
        assert_eq!(shown("codex", "permission-typed").approve, p.approve);

        let p = shown("gemini", "permission");
        assert_eq!(p.gist[0], "? Shell  touch /tmp/scr/g1/ran-1");
        assert_eq!(p.gist.last().map(String::as_str), Some("Allow execution of [Shell]?"));
        assert_eq!((p.approve.clone(), p.deny.clone()), (Some(keys(&["1"])), keys(&["3"])));
        assert_eq!(shown("gemini", "permission-typed").approve, p.approve);

        let p = shown("opencode", "permission");
        assert_eq!(
            p.gist,
            ["△ Permission required", "← Access external directory /tmp/scr/o1", "Patterns", "- /tmp/scr/o1/*"]
        );
        let labels: Vec<(&str, bool)> = p.options.iter().map(|o| (o.label.as_str(), o.selected)).collect();
        assert_eq!(labels, [("Allow once", true), ("Allow always", false), ("Reject", false)]);
        assert_eq!(p.approve, Some(Answer::Select { moves: vec![], label: "Allow once".into() }));
        assert_eq!(p.deny, keys(&["Escape"]));
        let p = shown("opencode", "permission-bash");
        assert_eq!(p.gist, ["△ Permission required", "# Shell command", "$ touch /tmp/scr/o1/ran-1"]);
        // Typed letters moved the selection to "Allow always": back left.
        let typed = shown("opencode", "permission-typed");
        assert_eq!(typed.approve, Some(Answer::Select { moves: vec!["Left".into()], label: "Allow once".into() }));
        assert_eq!(typed.id, shown("opencode", "permission").id, "the selection is not part of the prompt's id");
    }

    #[test]
    fn the_fake_agent_prompt_reads_like_claude_codes() {
        let p = shown("fake", "dialog");
        assert_eq!((p.approve, p.deny), (Some(keys(&["1"])), keys(&["2"])));
        assert!(p.gist.contains(&"touch fake-agent-was-here".to_string()), "{:?}", p.gist);
    }

    /// Every recorded screen: a prompt exactly on the `permission*` ones
    /// (and the fake's dialog), and no approval ever picks an option that
    /// widens permissions.
    #[test]
    fn prompts_only_where_recorded_and_approvals_never_widen() {
        let mut prompts = 0;
        for (runtime, state) in recorded::all() {
            let got = prompt(&runtime, &state);
            let expected = state.starts_with("permission") || (runtime == "fake" && state == "dialog");
            assert_eq!(got.is_some(), expected, "{runtime}/{state}: {got:?}");
            let Some(p) = got else { continue };
            prompts += 1;
            assert!(!p.gist.is_empty(), "{runtime}/{state}: no gist");
            let approve = p.approve.unwrap_or_else(|| panic!("{runtime}/{state}: no approval"));
            let label = match &approve {
                Answer::Keys(k) => {
                    let n: u8 = k[0].parse().unwrap_or_else(|_| panic!("{runtime}/{state}: {k:?}"));
                    p.options.iter().find(|o| o.number == Some(n)).map(|o| o.label.clone()).unwrap_or_default()
                }
                Answer::Select { label, .. } => label.clone(),
            };
            assert!(!label.is_empty() && !widens(&label), "{runtime}/{state}: approves {label:?}");
            // A deny digit is an option saying No.
            if let Answer::Keys(k) = &p.deny
                && let Ok(n) = k[0].parse::<u8>()
            {
                let o = p.options.iter().find(|o| o.number == Some(n)).map(|o| o.label.as_str());
                assert!(o.is_some_and(|l| l.starts_with("No") && !widens(l)), "{runtime}/{state}: denies {o:?}");
            }
        }
        assert!(prompts >= 11, "only {prompts} prompts read");
    }

    #[test]
    fn widening_options_are_never_approvals() {
        let p = runtimes::get("claude").and_then(|r| r.screen.permission).unwrap_or_else(|| panic!());
        let menu =
            " Do you want to proceed?\n ❯ 1. Yes, and always allow access\n   2. Yes, and don't ask again\n   3. No\n";
        let got = read(&Capture::parse(menu), &p).unwrap_or_else(|| panic!("no prompt"));
        assert_eq!((got.approve, got.deny), (None, keys(&["3"])));
        for l in
            ["Yes, and don't ask again for commands that start with `x` (p)", "Allow for this session", "Allow always"]
        {
            assert!(widens(l), "{l}");
        }
        for l in ["Yes", "Yes, proceed (y)", "Allow once", "No"] {
            assert!(!widens(l), "{l}");
        }
        // A "No" that widens something is not a deny key.
        let menu = " Do you want to proceed?\n ❯ 1. Yes\n   2. No, and always allow x\n";
        assert_eq!(read(&Capture::parse(menu), &p).map(|p| p.deny), Some(keys(&["Escape"])));
    }

    #[test]
    fn a_numbered_list_without_a_marker_is_not_a_prompt() {
        let p = runtimes::get("gemini").and_then(|r| r.screen.permission).unwrap_or_else(|| panic!());
        let tips = "Tips for getting started:\n1. Ask questions\n2. Be specific\n > \n";
        assert_eq!(read(&Capture::parse(tips), &p), None);
    }
}
