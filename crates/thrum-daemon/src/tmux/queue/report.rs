//! What a command printed, and the @system messages about it.

use super::store::{CmdState, Command};

/// At most this many lines of output are kept.
pub const MAX_LINES: usize = 500;
/// And at most this many bytes (a message has a size limit, and 500
/// joined lines can be long).
const MAX_BYTES: usize = 64 * 1024;

/// What appeared below the command line in `screen` (a capture with
/// scrollback): the lines after the last one ending with the command as
/// typed, without the blank rows at the bottom or the shell's next prompt
/// (the text before the command on its line, when it comes back). When
/// the command line is not found (scrolled out, or a program that does
/// not echo input) it is the whole capture.
pub fn output_of(screen: &str, text: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let typed = text.trim();
    let at = lines.iter().rposition(|l| l.trim_end().ends_with(typed));
    let (mut body, prompt): (Vec<&str>, Option<&str>) = match at {
        Some(i) => {
            let line = lines[i].trim_end();
            (lines[i + 1..].to_vec(), Some(&line[..line.len() - typed.len()]))
        }
        None => (lines, None),
    };
    while body.last().is_some_and(|l| l.trim().is_empty()) {
        body.pop();
    }
    if let Some(p) = prompt.map(str::trim_end).filter(|p| !p.is_empty())
        && body.last().is_some_and(|l| l.trim_end() == p)
    {
        body.pop();
    }
    let from = body.len().saturating_sub(MAX_LINES);
    let mut out = body[from..].join("\n");
    if out.len() > MAX_BYTES {
        let mut cut = out.len() - MAX_BYTES;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out = out[cut..].to_string();
    }
    out
}

fn seconds(ms: i64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn fenced(output: &str) -> String {
    if output.trim().is_empty() {
        return "(no output)".into();
    }
    // A fence longer than any run of backticks in the output.
    let mut fence = "```".to_string();
    while output.contains(fence.as_str()) {
        fence.push('`');
    }
    format!("{fence}\n{output}\n{fence}")
}

/// The @system message for a command that just reached `c.state`.
pub fn message(c: &Command) -> String {
    let head = format!("tmux queue: {} in session {} (`{}`)", c.id, c.session, c.text);
    match c.state {
        CmdState::Completed => {
            format!("{head} completed after {}.\n\nOutput:\n{}", seconds(c.elapsed_ms), fenced(&c.output))
        }
        CmdState::TimeoutWaiting => format!(
            "{head} is still running after its timeout of {}. It stays active and blocks the session's queue until the pane goes quiet; cancel it with `thrum tmux cancel {}`.",
            seconds(c.timeout_ms as i64),
            c.id
        ),
        CmdState::Cancelled if c.sent_at.is_empty() => {
            format!("{head} was cancelled before it was sent.")
        }
        CmdState::Cancelled => format!(
            "{head} was cancelled after {}. It may still be running in the pane: thrum types nothing to stop it (look with `thrum tmux capture {}`).\n\nOutput so far:\n{}",
            seconds(c.elapsed_ms),
            c.session,
            fenced(&c.output)
        ),
        CmdState::Interrupted if c.sent_at.is_empty() => {
            format!("{head} was interrupted before it was sent: {}. Queue it again if it is still needed.", c.reason)
        }
        CmdState::Interrupted => format!(
            "{head} was interrupted: {}. It was typed into the pane at {} and may have run partly or fully; check before queueing it again.",
            c.reason, c.sent_at
        ),
        CmdState::Queued | CmdState::Sent => format!("{head} is {}.", c.state.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_what_follows_the_command_line_without_the_next_prompt() {
        let screen = "$ ls\nold\n$ echo one; echo two\none\ntwo\n$ \n\n\n";
        assert_eq!(output_of(screen, "echo one; echo two"), "one\ntwo");
        // The same command twice: the last run counts.
        let twice = "$ echo a\na\n$ echo a\na\n$";
        assert_eq!(output_of(twice, "echo a"), "a");
        // Not found: everything, trimmed.
        assert_eq!(output_of("x\ny\n\n", "nope"), "x\ny");
        let long: String = (0..600).map(|i| format!("{i}\n")).collect();
        let out = output_of(&format!("$ seq\n{long}$ "), "seq");
        assert_eq!(out.lines().count(), MAX_LINES);
        assert!(out.starts_with("100\n") && out.ends_with("599"));
    }

    #[test]
    fn a_fence_outlasts_backticks_in_the_output() {
        assert_eq!(fenced("a ``` b"), "````\na ``` b\n````");
        assert_eq!(fenced("  \n"), "(no output)");
    }
}
