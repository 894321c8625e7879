//! Human and `--json` rendering: one place decides what goes to stdout
//! and stderr, so `--json` output stays machine-clean.
//!
//! Every byte the CLI prints on stdout goes through [`Out::write`] (the
//! MCP server's protocol stream aside): a locked stdout whose first
//! failure is recorded and stops all later output. Nothing can panic on a
//! closed pipe; the edge asks [`stdout_error`] how it went, and a reader
//! that went away (`thrum inbox | head`) is no error.

use std::io::{self, Write as _};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Output settings from the global flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Out {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
}

/// The first failure writing stdout, kept as its kind and text (an
/// `io::Error` cannot be cloned). After it, nothing more is written: a
/// closed pipe stays closed, and a full disk should not get half of the
/// rest.
static STDOUT_FAILED: OnceLock<(io::ErrorKind, String)> = OnceLock::new();

thread_local! {
    /// Where stdout goes instead while [`capture`] runs.
    static CAPTURE: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's output collected instead of printed, and
/// returns it with `f`'s value (a hook hands `thrum prime`'s briefing to
/// its runtime as context this way).
pub fn capture<T>(f: impl FnOnce() -> T) -> (T, String) {
    let before = CAPTURE.replace(Some(Vec::new()));
    let value = f();
    let got = CAPTURE.replace(before).unwrap_or_default();
    (value, String::from_utf8_lossy(&got).into_owned())
}

/// How writing stdout failed, if it did.
pub fn stdout_error() -> Option<io::Error> {
    STDOUT_FAILED.get().map(|(kind, msg)| io::Error::new(*kind, msg.clone()))
}

/// Whether stdout's reader went away (a broken pipe).
pub fn stdout_closed() -> bool {
    STDOUT_FAILED.get().is_some_and(|(kind, _)| *kind == io::ErrorKind::BrokenPipe)
}

impl Out {
    /// Writes `parts` to stdout, in order, under one lock. The first
    /// failure is recorded and returned, and every later write fails the
    /// same way without trying. Loops that print until stopped (`--follow`)
    /// use the result to stop; one-shot output can leave it to the edge.
    pub fn write_parts(&self, parts: &[&[u8]]) -> io::Result<()> {
        let captured = CAPTURE.with_borrow_mut(|c| match c {
            Some(buf) => {
                parts.iter().for_each(|p| buf.extend_from_slice(p));
                true
            }
            None => false,
        });
        if captured {
            return Ok(());
        }
        if let Some(e) = stdout_error() {
            return Err(e);
        }
        let mut so = io::stdout().lock();
        for p in parts {
            if let Err(e) = so.write_all(p) {
                let _ = STDOUT_FAILED.set((e.kind(), e.to_string()));
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes text as it is (no newline added).
    pub fn write(&self, text: &str) -> io::Result<()> {
        self.write_parts(&[text.as_bytes()])
    }

    /// Writes a line.
    pub fn write_line(&self, text: &str) -> io::Result<()> {
        self.write_parts(&[text.as_bytes(), b"\n"])
    }

    /// Flushes stdout (it is line-buffered; a prompt without a newline,
    /// or the end of the run, needs this).
    pub fn flush(&self) -> io::Result<()> {
        if let Some(e) = stdout_error() {
            return Err(e);
        }
        io::stdout().lock().flush().inspect_err(|e| {
            let _ = STDOUT_FAILED.set((e.kind(), e.to_string()));
        })
    }

    /// Prints a value as indented JSON (the original's 2-space format).
    /// Pending hints go into an object's `hints` array (not with --quiet
    /// or THRUM_NO_HINTS).
    pub fn json<T: Serialize>(&self, v: &T) {
        let mut v = serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
        let hints = crate::hints::take();
        if !hints.is_empty()
            && !self.quiet
            && !crate::hints::disabled_by_env()
            && let serde_json::Value::Object(m) = &mut v
        {
            m.insert("hints".into(), serde_json::to_value(&hints).unwrap_or_default());
        }
        self.line(serde_json::to_string_pretty(&v).unwrap_or_else(|_| "null".into()));
    }

    /// A success line (`✓ …`), dropped by `--quiet`.
    pub fn ok(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            let _ = self.write_parts(&["✓ ".as_bytes(), msg.as_ref().as_bytes(), b"\n"]);
        }
    }

    /// A plain line of human output (a failure is recorded for the edge).
    pub fn line(&self, msg: impl AsRef<str>) {
        let _ = self.write_line(msg.as_ref());
    }

    /// A table: the header, then each row, columns padded to their widest
    /// cell (by characters) two spaces apart; an empty cell shows as `-`.
    pub fn table<S: AsRef<str>>(&self, header: &[&str], rows: &[Vec<S>]) {
        let cell = |c: &str| if c.is_empty() { "-".to_string() } else { c.to_string() };
        let rows: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| cell(h)).collect())
            .chain(rows.iter().map(|r| r.iter().map(|c| cell(c.as_ref())).collect()))
            .collect();
        let width = |i: usize| rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..header.len()).map(width).collect();
        for r in &rows {
            let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            self.line(cells.join("  ").trim_end());
        }
    }

    /// Human output as it is, without adding a newline.
    pub fn text(&self, s: impl AsRef<str>) {
        let _ = self.write(s.as_ref());
    }

    /// Prints the hints the command left, as a stderr trailer (text mode
    /// only: `--json` output carries them in its body).
    pub fn flush_hints(&self) {
        let hints = crate::hints::take();
        if !self.quiet && !self.json && !crate::hints::disabled_by_env() {
            let _ = io::stderr().lock().write_all(crate::hints::render(&hints).as_bytes());
        }
    }

    /// A warning on stderr (kept under --json, dropped by --quiet).
    pub fn warn(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            self.note(format!("warning: {}", msg.as_ref()));
        }
    }

    /// A line on stderr, whatever the flags (progress, notices). A stderr
    /// that cannot be written is ignored: there is nowhere else to say so.
    pub fn note(&self, msg: impl AsRef<str>) {
        let _ = writeln!(io::stderr().lock(), "{}", msg.as_ref());
    }
}

/// `just now`, `5m ago`, `3h ago`, `2d ago`, or a date.
pub fn relative(ts: &str) -> String {
    let Some(t) = thrum_core::time::parse_ts(ts) else {
        return ts.to_string();
    };
    relative_to(t, Utc::now())
}

pub fn relative_to(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    if secs < 60 {
        "just now".into()
    } else if secs < 3600 {
        format!("{}m ago", secs / 60)
    } else if secs < 86_400 {
        format!("{}h ago", secs / 3600)
    } else if secs < 7 * 86_400 {
        format!("{}d ago", secs / 86_400)
    } else {
        t.format("%b %-d").to_string()
    }
}

/// `2026-02-03 10:00:00` in local-independent UTC.
pub fn absolute(ts: &str) -> String {
    thrum_core::time::parse_ts(ts).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| ts.to_string())
}

/// A compact duration: `45s`, `12m`, `2h15m`, `3d4h`.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        if m > 0 { format!("{h}h{m}m") } else { format!("{h}h") }
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

/// Milliseconds since an RFC 3339 time.
pub fn since_ms(ts: &str) -> i64 {
    thrum_core::time::parse_ts(ts).map(|t| (Utc::now() - t).num_milliseconds()).unwrap_or(0)
}

/// A recipient's delivery state in words, with when it changed: `read
/// 2m ago`, `announced via hook 5s ago`, `stored 1h ago`, or `pending via
/// peer` (not yet pulled by the recipient's daemon).
pub fn receipt_state(r: &thrum_core::views::Recipient) -> String {
    use thrum_core::delivery::DeliveryState;
    if r.peer_pending {
        return "pending via peer".into();
    }
    let ago = |ts: &str| if ts.is_empty() { String::new() } else { format!(" {}", relative(ts)) };
    match r.state {
        DeliveryState::Read => format!("read{}", ago(&r.read_at)),
        DeliveryState::Announced => match (r.announced_via, r.announced_at.is_empty()) {
            (Some(via), false) => format!("announced via {via}{}", ago(&r.announced_at)),
            _ => format!("seen{}", ago(&r.seen_at)),
        },
        DeliveryState::Stored => format!("stored{}", ago(&r.delivered_at)),
    }
}

/// Shortens a message id for tables (`msg_01HXE8Z7…`).
pub fn short_id(id: &str) -> &str {
    let n = id.len().min(16);
    &id[..n]
}

/// Truncates to `max` characters with an ellipsis.
pub fn truncate(s: &str, max: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut t: String = one_line.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_forms() {
        let now = thrum_core::time::parse_ts("2026-03-10T12:00:00Z").unwrap_or_default();
        let ago = |s: i64| relative_to(now - chrono::Duration::seconds(s), now);
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(300), "5m ago");
        assert_eq!(ago(7200), "2h ago");
        assert_eq!(ago(2 * 86_400), "2d ago");
        assert_eq!(ago(30 * 86_400), "Feb 8");
    }

    #[test]
    fn durations_and_truncation() {
        assert_eq!(duration(45_000), "45s");
        assert_eq!(duration(8_100_000), "2h15m");
        assert_eq!(duration(7_200_000), "2h");
        assert_eq!(truncate("hello world", 6), "hello…");
        assert_eq!(truncate("a\nb", 10), "a b");
    }
}
