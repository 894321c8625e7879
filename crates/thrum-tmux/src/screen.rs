//! Reading a pane: is it safe to type into?
//!
//! A pane is captured with its escape sequences (`capture-pane -e`), so the
//! cells keep the two attributes that matter here: faint (a runtime draws
//! its placeholder suggestion faint, and that is not the user's input) and
//! inverse (the runtime's own drawn cursor). From a capture, [`look`] says
//! what the pane shows, using the runtime's [`Profile`]: a dialog or menu
//! (keys would answer it), a turn running, text in the input line (a
//! person typing), no input line we recognise, or a safe, empty input.
//! Whether the pane is also quiet is the caller's to judge, by comparing
//! two looks a moment apart ([`Look::fingerprint`]).

use thrum_core::runtimes::{Prompt, Screen as Profile};

/// One cell of a captured line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub ch: char,
    pub faint: bool,
    pub inverse: bool,
    /// The foreground colour (256-colour index), if set: some runtimes
    /// draw their placeholder grey instead of faint.
    pub fg: Option<u8>,
    /// The background colour (256-colour index), if set: some menus
    /// show their selected option on a colour.
    pub bg: Option<u8>,
}

/// A captured pane: its lines of cells, and each line as captured (with
/// its escape sequences, for [`fingerprint`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capture {
    pub lines: Vec<Vec<Cell>>,
    pub raw: Vec<String>,
}

impl Capture {
    /// Parses `capture-pane -p -e` output. Only SGR sequences carry
    /// meaning here; any other escape sequence is skipped.
    pub fn parse(ansi: &str) -> Capture {
        let mut lines = Vec::new();
        let mut raws = Vec::new();
        let mut attrs = Attrs::default();
        for raw in ansi.split('\n') {
            raws.push(raw.to_string());
            let mut line = Vec::new();
            let mut chars = raw.chars().peekable();
            while let Some(c) = chars.next() {
                if c != '\x1b' {
                    if c != '\r' {
                        line.push(Cell {
                            ch: c,
                            faint: attrs.faint,
                            inverse: attrs.inverse,
                            fg: attrs.fg,
                            bg: attrs.bg,
                        });
                    }
                    continue;
                }
                match chars.peek() {
                    Some('[') => {
                        chars.next();
                        let mut params = String::new();
                        let mut end = ' ';
                        for c in chars.by_ref() {
                            if ('\x40'..='\x7e').contains(&c) {
                                end = c;
                                break;
                            }
                            params.push(c);
                        }
                        if end == 'm' {
                            attrs.apply(&params);
                        }
                    }
                    Some(']') => {
                        // OSC: up to BEL or ST.
                        while let Some(c) = chars.next() {
                            if c == '\x07' || (c == '\x1b' && chars.peek() == Some(&'\\')) {
                                if c == '\x1b' {
                                    chars.next();
                                }
                                break;
                            }
                        }
                    }
                    _ => {
                        chars.next();
                    }
                }
            }
            lines.push(line);
        }
        while lines.last().is_some_and(|l: &Vec<Cell>| text(l).trim().is_empty()) {
            lines.pop();
            raws.pop();
        }
        Capture { lines, raw: raws }
    }

    /// The last `n` lines (the blank rows below the content are already
    /// gone).
    pub fn bottom(&self, n: usize) -> &[Vec<Cell>] {
        &self.lines[self.lines.len().saturating_sub(n)..]
    }
}

/// The attributes we track, as SGR sequences set them.
#[derive(Debug, Clone, Copy, Default)]
struct Attrs {
    faint: bool,
    inverse: bool,
    fg: Option<u8>,
    bg: Option<u8>,
}

impl Attrs {
    /// Applies one SGR parameter list.
    fn apply(&mut self, params: &str) {
        if params.is_empty() {
            *self = Attrs::default();
            return;
        }
        let mut it = params.split([';', ':']).map(|p| p.parse::<u32>().unwrap_or(0));
        while let Some(p) = it.next() {
            match p {
                0 => *self = Attrs::default(),
                2 => self.faint = true,
                1 | 22 => self.faint = false,
                7 => self.inverse = true,
                27 => self.inverse = false,
                30..=37 => self.fg = Some((p - 30) as u8),
                90..=97 => self.fg = Some((p - 90 + 8) as u8),
                39 => self.fg = None,
                40..=47 => self.bg = Some((p - 40) as u8),
                100..=107 => self.bg = Some((p - 100 + 8) as u8),
                49 => self.bg = None,
                // Extended colours carry their own arguments.
                38 => match it.next() {
                    Some(5) => self.fg = it.next().map(|n| n.min(255) as u8),
                    Some(2) => {
                        it.nth(2);
                        self.fg = None;
                    }
                    _ => {}
                },
                48 => match it.next() {
                    Some(5) => self.bg = it.next().map(|n| n.min(255) as u8),
                    Some(2) => {
                        it.nth(2);
                        self.bg = None;
                    }
                    _ => {}
                },
                58 => match it.next() {
                    Some(5) => {
                        it.next();
                    }
                    Some(2) => {
                        it.nth(2);
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
}

/// A line's characters.
pub fn text(line: &[Cell]) -> String {
    line.iter().map(|c| c.ch).collect()
}

/// What the user typed on a line: what is neither a placeholder (faint,
/// or in one of the runtime's placeholder colours) nor the runtime's drawn
/// cursor, trimmed.
fn typed(line: &[Cell], placeholder_fg: &[u8]) -> String {
    let s: String = line
        .iter()
        .filter(|c| !c.faint && !c.inverse && !c.fg.is_some_and(|f| placeholder_fg.contains(&f)))
        .map(|c| c.ch)
        .collect();
    s.trim_matches(|c: char| c.is_whitespace() || BOX.contains(&c)).to_string()
}

/// Box-drawing characters around input boxes.
const BOX: &[char] = &['│', '┃', '║', '|', '╭', '╮', '╰', '╯'];

fn is_rule(line: &[Cell]) -> bool {
    let t = text(line);
    let t = t.trim();
    !t.is_empty() && t.chars().all(|c| matches!(c, '─' | '━' | '═' | '╌' | '-' | '╭' | '╮' | '╰' | '╯'))
}

/// What a pane shows, as far as typing into it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look {
    /// An empty input line and nothing in the way.
    Safe,
    /// A dialog, menu or question: a key would answer it.
    Dialog(String),
    /// A turn is running.
    Busy(String),
    /// The input line holds text (someone is typing or left a draft).
    Typed(String),
    /// No input line we recognise (a pager, an editor, a crashed runtime…).
    NoInput,
    /// The pane is in copy mode (or another tmux mode): keys go to tmux.
    InMode,
}

impl Look {
    pub fn is_safe(&self) -> bool {
        *self == Look::Safe
    }

    /// A short reason, for logs and `thrum tmux status`.
    pub fn reason(&self) -> String {
        match self {
            Look::Safe => "safe".into(),
            Look::Dialog(d) => format!("dialog: {d}"),
            Look::Busy(b) => format!("busy: {b}"),
            Look::Typed(t) => format!("input holds {} characters", t.chars().count()),
            Look::NoInput => "no input line".into(),
            Look::InMode => "in copy mode".into(),
        }
    }
}

/// How many bottom lines a dialog or the input line is looked for in.
pub const BOTTOM: usize = 15;

/// The numbered options of a menu (`❯ 1. Yes`, `2. No`…): two or more
/// lines in a row that start with `N.` or `N)` (after a selector); its
/// first line and the row after its last.
fn numbered_menu(lines: &[Vec<Cell>]) -> Option<(String, usize)> {
    let mut run = 0;
    let mut first = String::new();
    let mut found = None;
    for (i, l) in lines.iter().enumerate() {
        let t = text(l);
        let t = t.trim_start().trim_start_matches(['❯', '>', '›', '▶', '●', '○', '◯', '◉', '*']).trim_start();
        let mut cs = t.chars();
        let numbered = matches!((cs.next(), cs.next(), cs.next()), (Some('1'..='9'), Some('.' | ')'), Some(' ')));
        if numbered {
            if run == 0 {
                first = t.to_string();
            }
            run += 1;
            if run >= 2 {
                found = Some((first.clone(), i + 1));
            }
        } else if !t.trim().is_empty() {
            run = 0;
        }
    }
    found
}

/// The row (of `lines`) of the last line starting with `marker`.
fn marker_row(lines: &[Vec<Cell>], marker: &str) -> Option<usize> {
    lines.iter().rposition(|l| text(l).trim_start_matches(|c: char| c == ' ' || BOX.contains(&c)).starts_with(marker))
}

/// What the pane shows. `title` is the pane title (some runtimes spin it
/// while a turn runs); `cursor` is tmux's cursor position (column, row of
/// the visible screen) for runtimes whose input line is the shell's.
pub fn look(capture: &Capture, profile: &Profile, title: &str, cursor: (u16, u16), in_mode: bool) -> Look {
    if in_mode {
        return Look::InMode;
    }
    let bottom = capture.bottom(BOTTOM);
    for l in bottom {
        let t = text(l);
        if let Some(d) = profile.dialogs.iter().find(|d| t.contains(*d)) {
            return Look::Dialog((*d).to_string());
        }
        let lower = t.to_lowercase();
        if ["(y/n)", "[y/n]", "(yes/no)"].iter().any(|q| lower.contains(q)) {
            return Look::Dialog(t.trim().to_string());
        }
    }
    if let Some((menu, after)) = numbered_menu(bottom) {
        // A numbered list above the input line is text (tips, a plan), not
        // a menu waiting for a key.
        let input_below = match profile.prompt {
            Prompt::Marker(m) => marker_row(bottom, m).is_some_and(|row| row >= after),
            _ => false,
        };
        if !input_below {
            return Look::Dialog(menu);
        }
    }
    if let Some(b) = profile.busy_titles.iter().find(|b| title.starts_with(*b)) {
        return Look::Busy(format!("title {b}"));
    }
    for l in bottom {
        let t = text(l);
        if let Some(b) = profile.busy.iter().find(|b| t.contains(*b)) {
            return Look::Busy((*b).to_string());
        }
    }
    match input(capture, profile, cursor) {
        None => Look::NoInput,
        Some(t) if t.is_empty() => Look::Safe,
        Some(t) => Look::Typed(t),
    }
}

/// The text in the input line: `None` when there is no input line.
pub fn input(capture: &Capture, profile: &Profile, cursor: (u16, u16)) -> Option<String> {
    let ph = profile.placeholder_fg;
    match profile.prompt {
        Prompt::Unreadable => None,
        Prompt::Boxed { border, bottom } => {
            // The box's last rows (over its bottom edge); the last of
            // them is the box's status row, not input.
            let end = capture.lines.iter().rposition(|l| text(l).trim_start().starts_with(bottom))?;
            let mut rows: Vec<&Vec<Cell>> =
                capture.lines[..end].iter().rev().take_while(|l| text(l).trim_start().starts_with(border)).collect();
            rows.reverse();
            rows.pop()?;
            let lines: Vec<String> = rows
                .iter()
                .map(|l| {
                    let t = text(l);
                    let skip = t.find(border).map(|i| t[..i + border.len()].chars().count()).unwrap_or(0);
                    typed(&l[skip..], ph)
                })
                .filter(|t| !t.is_empty())
                .collect();
            Some(lines.join("\n"))
        }
        Prompt::Marker(marker) => {
            let bottom = capture.bottom(BOTTOM);
            let at = marker_row(bottom, marker)?;
            let line = &bottom[at];
            let t = text(line);
            let start = t.find(marker)? + marker.len();
            let skip = t[..start].chars().count();
            let mut typed_text = typed(&line[skip..], ph);
            // A multi-line draft continues below, up to the box's rule or
            // a blank row.
            for more in bottom[at + 1..].iter().take_while(|l| !is_rule(l) && !text(l).trim().is_empty()) {
                let t = typed(more, ph);
                if !t.is_empty() {
                    typed_text.push('\n');
                    typed_text.push_str(&t);
                }
            }
            Some(typed_text)
        }
        Prompt::Shell => {
            // The cursor's row, counted from the top of the visible screen.
            let line = capture.lines.get(cursor.1 as usize)?;
            let x = cursor.0 as usize;
            // tmux drops trailing blanks from a captured line: the cells
            // up to the cursor that are missing are spaces.
            let mut before: String = line.iter().take(x).map(|c| c.ch).collect();
            before.extend(std::iter::repeat_n(' ', x.saturating_sub(line.len())));
            let after: String = line.iter().skip(x).map(|c| c.ch).collect();
            let prompt_ends = ["$ ", "# ", "% ", "> ", "❯ "].iter().any(|p| before.ends_with(p));
            if !prompt_ends {
                return None;
            }
            Some(after.trim().to_string())
        }
    }
}

/// Whether `line`, just typed, shows in the input line (so Enter submits
/// it, and nothing else).
pub fn shows_typed(capture: &Capture, profile: &Profile, cursor: (u16, u16), line: &str) -> bool {
    // Compared without whitespace: a line wrapped at a space loses that
    // space in the capture (tmux trims each row).
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let want = squash(line);
    match profile.prompt {
        Prompt::Marker(_) | Prompt::Boxed { .. } => input(capture, profile, cursor).is_some_and(|t| squash(&t) == want),
        Prompt::Unreadable => false,
        Prompt::Shell => {
            // The cursor sits after the typed line now: find it on the
            // cursor's row (and the rows it wrapped over), after a prompt.
            let row = cursor.1 as usize;
            let from = row.saturating_sub(4);
            let joined: String = capture.lines.iter().skip(from).take(row + 1 - from).map(|l| text(l)).collect();
            let joined = squash(&joined);
            joined
                .strip_suffix(want.as_str())
                .is_some_and(|before| ["$", "#", "%", ">", "❯"].iter().any(|p| before.ends_with(p)))
        }
    }
}

/// What must stay the same between two looks for the pane to count as
/// quiet: the bottom lines with their attributes (a spinner that only
/// changes colour still changes this), minus lines the runtime changes
/// while idle.
pub fn fingerprint(capture: &Capture, profile: &Profile) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let from = capture.lines.len().saturating_sub(BOTTOM);
    for (l, raw) in capture.lines[from..].iter().zip(&capture.raw[from..]) {
        let t = text(l);
        if profile.volatile.iter().any(|v| t.contains(v)) {
            continue;
        }
        raw.hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorded;
    use thrum_core::runtimes;

    fn look_at(runtime: &str, state: &str) -> Look {
        let (c, m) = recorded::load(runtime, state);
        let profile = &runtimes::get(recorded::profile_of(runtime)).unwrap_or_else(|| panic!("{runtime}")).screen;
        look(&c, profile, &m.title, m.cursor, false)
    }

    /// Every recorded screen reads as its name says (the names follow
    /// tests/screens/README.md).
    #[test]
    fn every_recorded_screen_reads_as_named() {
        let mut checked = 0;
        for (runtime, state) in recorded::all() {
            let got = look_at(&runtime, &state);
            let ok = if state.starts_with("permission") || state.starts_with("dialog") {
                matches!(got, Look::Dialog(_))
            } else if state.starts_with("busy") {
                matches!(got, Look::Busy(_))
            } else if state.starts_with("typed-multiline") {
                got == Look::Typed("first line\nhello wor".into())
            } else if state.starts_with("typed") {
                got == Look::Typed("hello wor".into())
            } else if state.starts_with("idle") {
                got == Look::Safe
            } else {
                continue;
            };
            assert!(ok, "{runtime}/{state}: read as {got:?}");
            checked += 1;
        }
        assert!(checked >= 40, "only {checked} screens checked");
    }

    #[test]
    fn claude_code_screens_are_read_right() {
        assert_eq!(look_at("claude", "idle"), Look::Safe);
        assert_eq!(look_at("claude", "idle-after-turn"), Look::Safe);
        // The faint suggestion is not input.
        assert_eq!(look_at("claude", "idle-placeholder"), Look::Safe);
        assert_eq!(look_at("claude", "typed"), Look::Typed("hello wor".into()));
        assert_eq!(look_at("claude", "typed-multiline"), Look::Typed("first line\nhello wor".into()));
        assert!(matches!(look_at("claude", "busy"), Look::Busy(_)), "{:?}", look_at("claude", "busy"));
        assert!(matches!(look_at("claude", "busy-typed"), Look::Busy(_)));
        for p in ["permission", "permission-edit", "permission-typed"] {
            assert!(matches!(look_at("claude", p), Look::Dialog(_)), "{p}: {:?}", look_at("claude", p));
        }
    }

    #[test]
    fn sgr_parameters_are_followed() {
        let c = Capture::parse("a\x1b[2mb\x1b[22mc\x1b[7md\x1b[0me\x1b[38;5;2mf\x1b[38;2;1;2;7mg");
        let attrs: Vec<(char, bool, bool)> = c.lines[0].iter().map(|c| (c.ch, c.faint, c.inverse)).collect();
        assert_eq!(
            attrs,
            [
                ('a', false, false),
                ('b', true, false),
                ('c', false, false),
                ('d', false, true),
                ('e', false, false),
                ('f', false, false),
                // 38;2;R;G;B: the 7 is a colour, not "inverse".
                ('g', false, false)
            ]
        );
    }

    #[test]
    fn a_shell_prompt_is_read_at_the_cursor() {
        let profile = &runtimes::get("shell").unwrap_or_else(|| panic!()).screen;
        let c = Capture::parse("old output\nuser@host:~/w$\n");
        assert_eq!(look(&c, profile, "", (15, 1), false), Look::Safe);
        let c = Capture::parse("user@host:~/w$ ls -l\n");
        assert_eq!(look(&c, profile, "", (20, 0), false), Look::NoInput);
        assert_eq!(look(&c, profile, "", (15, 0), false), Look::Typed("ls -l".into()));
        let c = Capture::parse("Overwrite file? (y/n) \n");
        assert!(matches!(look(&c, profile, "", (22, 0), false), Look::Dialog(_)));
        assert_eq!(look(&c, profile, "", (22, 0), true), Look::InMode);
    }

    #[test]
    fn two_looks_differ_when_only_a_colour_changes() {
        let profile = &runtimes::get("claude").unwrap_or_else(|| panic!()).screen;
        let a = Capture::parse("\x1b[38;5;174mHer\x1b[38;5;216mding");
        let b = Capture::parse("\x1b[38;5;216mHer\x1b[38;5;174mding");
        assert_ne!(fingerprint(&a, profile), fingerprint(&b, profile));
        let same = Capture::parse("\x1b[38;5;174mHer\x1b[38;5;216mding\n\n");
        assert_eq!(fingerprint(&a, profile), fingerprint(&same, profile));
    }
}
