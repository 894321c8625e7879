//! Restart snapshots: the recent conversation an agent carries into its
//! next session (`.thrum/restart/<agent>.md`, consumed once by `thrum
//! prime`).
//!
//! - [`transcript`]: reads the runtime's own transcript (Claude Code's
//!   JSONL, Codex's rollout files) into [`Turn`]s and finds it on disk.
//! - This file renders turns as the snapshot markdown and cuts it to the
//!   last `restart.max_lines` lines, starting at a `=== USER ===` marker.
//!
//! The format is the original's: a `# Restart Snapshot — <agent>` header,
//! a `**Session:** … **Saved:** … **Reason:** …` line, an optional
//! truncation notice, then `=== USER ===` / `=== ASSISTANT ===` blocks.

pub mod transcript;

use std::path::{Path, PathBuf};

pub use transcript::{Role, Turn};

/// `restart.max_lines` when unset.
pub const DEFAULT_MAX_LINES: usize = 200;
/// `restart.graceful_timeout` (seconds) when unset.
pub const DEFAULT_GRACEFUL_TIMEOUT: u64 = 30;

pub const USER_MARKER: &str = "=== USER ===";
pub const ASSISTANT_MARKER: &str = "=== ASSISTANT ===";

/// A turn longer than this is cut in the middle: one pasted log must not
/// crowd out the rest of the conversation (and the hook's size cap).
pub const MAX_TURN_CHARS: usize = 4_000;

/// Why a snapshot was saved (`--reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    SelfInitiated,
    External,
    ContextThreshold,
}

impl Reason {
    pub const ALL: [Reason; 3] = [Reason::SelfInitiated, Reason::External, Reason::ContextThreshold];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SelfInitiated => "self-initiated",
            Reason::External => "external",
            Reason::ContextThreshold => "context-threshold",
        }
    }

    /// Parses `--reason`; the error names the accepted values.
    pub fn parse(s: &str) -> Result<Reason, String> {
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown reason {s:?}: use self-initiated, external or context-threshold"))
    }
}

/// The snapshot of `agent` in the restart folder `dir`
/// ([`crate::Layout::restart_dir`]).
pub fn path(dir: &Path, agent: &str) -> PathBuf {
    dir.join(format!("{}.md", crate::event::file_safe(agent)))
}

/// What the header says.
#[derive(Debug, Clone)]
pub struct Header<'a> {
    pub agent: &'a str,
    /// The runtime's session id (empty when unknown).
    pub session: &'a str,
    pub saved: &'a str,
    pub reason: Reason,
}

/// A rendered snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub text: String,
    /// Conversation lines kept (markers and blank lines included).
    pub lines: usize,
    /// Whether older lines were left out.
    pub truncated: bool,
}

/// Renders `turns` under `header`, keeping at most the last `max_lines`
/// conversation lines, cut at a user turn so no exchange starts halfway.
pub fn render(header: &Header, turns: &[Turn], max_lines: usize) -> Snapshot {
    let all = body_lines(turns);
    let (kept, truncated) = keep_tail(&all, max_lines.max(1));
    let session = if header.session.is_empty() { "unknown" } else { header.session };
    let mut text = format!(
        "# Restart Snapshot — {}\n\n**Session:** {session} **Saved:** {} **Reason:** {}\n\n",
        header.agent,
        header.saved,
        header.reason.as_str()
    );
    if truncated {
        text.push_str(&format!("[Conversation continued from earlier — truncated to last {} lines]\n\n", kept.len()));
    }
    if kept.is_empty() {
        text.push_str("(no conversation found in the runtime's transcript)\n");
    }
    for l in &kept {
        text.push_str(l);
        text.push('\n');
    }
    Snapshot { text, lines: kept.len(), truncated }
}

/// The conversation as lines: a marker, the turn's text, a blank line.
fn body_lines(turns: &[Turn]) -> Vec<String> {
    let mut lines = Vec::new();
    for t in turns {
        lines.push(marker(t.role).to_string());
        lines.extend(shorten(&t.text, MAX_TURN_CHARS).lines().map(str::to_string));
        lines.push(String::new());
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

fn marker(role: Role) -> &'static str {
    match role {
        Role::User => USER_MARKER,
        Role::Assistant => ASSISTANT_MARKER,
    }
}

/// The last `max` lines, starting at the first `=== USER ===` among them
/// (else the first marker; a single turn longer than `max` keeps its tail
/// under its own marker).
fn keep_tail(lines: &[String], max: usize) -> (Vec<String>, bool) {
    if lines.len() <= max {
        return (lines.to_vec(), false);
    }
    let from = lines.len() - max;
    let window = &lines[from..];
    let at = |m: &str| window.iter().position(|l| l == m);
    if let Some(i) = at(USER_MARKER).or_else(|| at(ASSISTANT_MARKER)) {
        return (window[i..].to_vec(), true);
    }
    let role = lines[..from].iter().rev().find(|l| *l == USER_MARKER || *l == ASSISTANT_MARKER);
    let mut kept = vec![role.cloned().unwrap_or_else(|| USER_MARKER.to_string()), "[…]".to_string()];
    kept.extend_from_slice(&window[2.min(window.len())..]);
    (kept, true)
}

/// `text` with its middle left out when longer than `max` characters.
pub fn shorten(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max * 2 / 3).collect();
    let tail: String = text.chars().skip(n - max / 4).collect();
    format!("{head}\n[… {} characters left out …]\n{tail}", n - max * 2 / 3 - max / 4)
}

/// Why no snapshot could be extracted.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error(
        "no transcript of @{agent}'s conversation found (looked for {recorded}, then Claude Code's {claude} and Codex's sessions under {codex}): run this in the agent's Claude Code or Codex session, with thrum's hooks installed (`thrum setup hooks`)"
    )]
    NotFound { agent: String, recorded: String, claude: String, codex: String },
    #[error("cannot read the transcript {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where to look and what to write in the header.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// The shared `.thrum/var` (hooks record transcripts there).
    pub var_dir: &'a Path,
    pub agent: &'a str,
    /// Where the runtime runs (its project folder).
    pub cwd: &'a Path,
    /// The runtime the agent runs, when known (`claude`, `codex`).
    pub runtime: &'a str,
    pub homes: &'a transcript::Homes,
}

/// Extracts `agent`'s snapshot from its runtime's transcript: the
/// snapshot and the transcript it came from.
pub fn extract(src: &Source, reason: Reason, max_lines: usize) -> Result<(Snapshot, transcript::Found), ExtractError> {
    let found = transcript::locate(src.var_dir, src.agent, src.cwd, src.runtime, src.homes).ok_or_else(|| {
        ExtractError::NotFound {
            agent: src.agent.to_string(),
            recorded: src.var_dir.join("runtime-sessions").join(format!("{}.json", src.agent)).display().to_string(),
            claude: transcript::claude_project_dir(&src.homes.claude, src.cwd).display().to_string(),
            codex: src.homes.codex.join("sessions").display().to_string(),
        }
    })?;
    let text = transcript::read_tail(&found.path, transcript::TAIL_BYTES)
        .map_err(|source| ExtractError::Read { path: found.path.clone(), source })?;
    let saved = crate::time::now_rfc3339();
    let header = Header { agent: src.agent, session: &found.session, saved: &saved, reason };
    Ok((render(&header, &transcript::parse(&text), max_lines), found))
}

/// `text` (a snapshot) within `budget` characters: its header, then as
/// much of the end of the conversation as fits, from a user marker when
/// one fits. Whether anything was cut.
pub fn fit(text: &str, budget: usize) -> (String, bool) {
    if text.chars().count() <= budget {
        return (text.to_string(), false);
    }
    let lines: Vec<&str> = text.lines().collect();
    let head_end = lines.iter().position(|l| l.starts_with("**Session:**")).map_or(0, |i| i + 1);
    let head: Vec<&str> = lines[..head_end].to_vec();
    let mut used: usize = head.iter().map(|l| l.chars().count() + 1).sum::<usize>() + 2;
    let mut from = lines.len();
    while from > head_end {
        let n = lines[from - 1].chars().count() + 1;
        if used + n > budget {
            break;
        }
        used += n;
        from -= 1;
    }
    let tail = &lines[from..];
    let start = tail
        .iter()
        .position(|l| *l == USER_MARKER)
        .or_else(|| tail.iter().position(|l| *l == ASSISTANT_MARKER))
        .unwrap_or(0);
    let mut out = head.join("\n");
    out.push_str("\n\n");
    for l in &tail[start..] {
        out.push_str(l);
        out.push('\n');
    }
    (out, true)
}

/// The conversation lines of a snapshot file (an agent may have written
/// or extended it): the non-blank lines after its header.
pub fn count_lines(text: &str) -> usize {
    let body = match text.find("**Session:**") {
        Some(i) => text[i..].split_once('\n').map_or("", |(_, rest)| rest),
        None => text,
    };
    body.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("[Conversation continued from earlier"))
        .filter(|l| !l.starts_with("(no conversation found"))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(role: Role, text: &str) -> Turn {
        Turn { role, text: text.to_string() }
    }

    fn header() -> Header<'static> {
        Header { agent: "impl_api", session: "ses_1", saved: "2026-04-07T14:30:00Z", reason: Reason::External }
    }

    #[test]
    fn renders_the_originals_format() {
        let turns = [t(Role::User, "Add the limiter."), t(Role::Assistant, "On it.\nToken bucket.")];
        let s = render(&header(), &turns, 200);
        assert_eq!(
            s.text,
            "# Restart Snapshot — impl_api\n\n**Session:** ses_1 **Saved:** 2026-04-07T14:30:00Z **Reason:** external\n\n\
             === USER ===\nAdd the limiter.\n\n=== ASSISTANT ===\nOn it.\nToken bucket.\n"
        );
        assert_eq!((s.lines, s.truncated), (6, false));
        assert_eq!(count_lines(&s.text), 5);
    }

    #[test]
    fn truncation_keeps_the_tail_from_a_user_marker() {
        let mut turns = Vec::new();
        for i in 0..50 {
            turns.push(t(Role::User, &format!("question {i}")));
            turns.push(t(Role::Assistant, &format!("answer {i}\nsecond line {i}")));
        }
        let s = render(&header(), &turns, 20);
        assert!(s.truncated && s.lines <= 20, "{}", s.lines);
        let body: Vec<&str> = s.text.lines().skip_while(|l| !l.starts_with("===")).collect();
        assert_eq!(body[0], USER_MARKER, "{}", s.text);
        assert!(s.text.contains(&format!("truncated to last {} lines]", s.lines)));
        assert!(s.text.trim_end().ends_with("second line 49"));
        assert!(!s.text.contains("question 44"));
    }

    #[test]
    fn one_turn_longer_than_the_limit_keeps_its_tail_under_its_marker() {
        let long: Vec<String> = (0..30).map(|i| format!("line {i}")).collect();
        let s = render(&header(), &[t(Role::Assistant, &long.join("\n"))], 10);
        let body: Vec<&str> = s.text.lines().skip_while(|l| !l.starts_with("===")).collect();
        assert_eq!(body[..2], [ASSISTANT_MARKER, "[…]"]);
        assert_eq!(body.last(), Some(&"line 29"));
        assert_eq!(s.lines, 10);
    }

    #[test]
    fn empty_and_huge_turns() {
        let s = render(&header(), &[], 200);
        assert_eq!((s.lines, count_lines(&s.text)), (0, 0));
        assert!(s.text.contains("(no conversation found"));
        let huge = "x".repeat(1_000_000);
        let s = render(&header(), &[t(Role::User, &huge)], 200);
        assert!(s.text.len() < MAX_TURN_CHARS + 500, "{}", s.text.len());
        assert!(s.text.contains("characters left out"));
    }

    #[test]
    fn a_long_snapshot_fits_a_budget_from_a_user_marker() {
        let turns: Vec<Turn> = (0..40)
            .flat_map(|i| [t(Role::User, &format!("question {i}")), t(Role::Assistant, &"word ".repeat(30))])
            .collect();
        let s = render(&header(), &turns, 1000);
        assert_eq!(fit(&s.text, 100_000), (s.text.clone(), false));
        let (short, cut) = fit(&s.text, 1_000);
        assert!(cut && short.chars().count() <= 1_000, "{}", short.len());
        assert!(short.starts_with("# Restart Snapshot — impl_api\n\n**Session:** ses_1"), "{short}");
        let body: Vec<&str> = short.lines().skip(4).collect();
        assert_eq!(body[0], USER_MARKER, "{short}");
        assert!(short.contains("question 39") && !short.contains("question 30"));
    }

    #[test]
    fn extraction_says_where_it_looked_and_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let homes = transcript::Homes { claude: dir.path().join("c"), codex: dir.path().join("x") };
        let src = Source { var_dir: dir.path(), agent: "alice", cwd: Path::new("/w"), runtime: "", homes: &homes };
        let e = extract(&src, Reason::External, 200).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("runtime-sessions/alice.json") && e.contains("thrum setup hooks"), "{e}");
        let t = dir.path().join("c/projects/-w/s1.jsonl");
        std::fs::create_dir_all(t.parent().unwrap_or(dir.path())).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&t, r#"{"type":"user","message":{"content":"hi"}}"#).unwrap_or_else(|e| panic!("{e}"));
        let (s, found) = extract(&src, Reason::External, 200).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((found.session.as_str(), s.lines), ("s1", 2));
        assert!(s.text.contains("**Session:** s1 ") && s.text.contains("=== USER ===\nhi\n"), "{}", s.text);
    }

    #[test]
    fn reasons_parse_and_say_the_fix() {
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Ok(r));
        }
        assert!(Reason::parse("bored").is_err_and(|e| e.contains("self-initiated, external or context-threshold")));
    }
}
