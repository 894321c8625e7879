//! A monitor's captured output: lines cut at a bounded length, and a
//! byte ring holding the most recent output. Neither grows with what the
//! child prints, however much or however long its lines.

use std::collections::VecDeque;

/// The longest line kept, in bytes; the rest is dropped and the line
/// ends with [`TRUNCATED`].
pub const MAX_LINE: usize = 2048;
/// Appended to a line cut at [`MAX_LINE`].
pub const TRUNCATED: &str = " [truncated]";

/// Splits a byte stream into lines of at most [`MAX_LINE`] bytes. A
/// longer line is handed on as soon as it reaches the limit (so a line
/// that never ends still shows up) and its remainder is skipped up to the
/// next newline.
#[derive(Debug, Default)]
pub struct Lines {
    cur: Vec<u8>,
    skipping: bool,
}

impl Lines {
    /// Feeds a chunk; `f` gets each complete line (without its newline
    /// and any `\r`) and whether it was cut.
    pub fn feed(&mut self, mut chunk: &[u8], f: &mut dyn FnMut(&[u8], bool)) {
        while !chunk.is_empty() {
            let nl = chunk.iter().position(|&b| b == b'\n');
            let (part, rest, ended) = match nl {
                Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                None => (chunk, &[][..], false),
            };
            chunk = rest;
            if self.skipping {
                if ended {
                    self.skipping = false;
                }
                continue;
            }
            let room = MAX_LINE - self.cur.len();
            if part.len() > room {
                self.cur.extend_from_slice(&part[..room]);
                f(&self.cur, true);
                self.cur.clear();
                self.skipping = !ended;
                continue;
            }
            if ended {
                if self.cur.is_empty() {
                    f(strip_cr(part), false);
                } else {
                    self.cur.extend_from_slice(part);
                    f(strip_cr(&self.cur), false);
                    self.cur.clear();
                }
            } else {
                self.cur.extend_from_slice(part);
            }
        }
    }

    /// At end of stream: the last line if it had no newline.
    pub fn finish(&mut self, f: &mut dyn FnMut(&[u8], bool)) {
        if !self.cur.is_empty() && !self.skipping {
            f(strip_cr(&self.cur), false);
        }
        self.cur.clear();
        self.skipping = false;
    }
}

fn strip_cr(l: &[u8]) -> &[u8] {
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// A line as text: invalid UTF-8 replaced, a cut line marked.
pub fn text(line: &[u8], cut: bool) -> String {
    let mut s = String::from_utf8_lossy(line).into_owned();
    if cut {
        s.push_str(TRUNCATED);
    }
    s
}

/// The last `cap` bytes of output.
#[derive(Debug)]
pub struct Ring {
    buf: VecDeque<u8>,
    cap: usize,
    /// The oldest byte kept is in the middle of a line.
    cut_head: bool,
}

impl Ring {
    pub fn new(cap: usize) -> Ring {
        Ring { buf: VecDeque::new(), cap, cut_head: false }
    }

    /// Appends a line and its newline, dropping the oldest bytes past the cap.
    pub fn push_line(&mut self, line: &[u8], cut: bool) {
        self.buf.extend(line);
        if cut {
            self.buf.extend(TRUNCATED.as_bytes());
        }
        self.buf.push_back(b'\n');
        if self.buf.len() > self.cap {
            let extra = self.buf.len() - self.cap;
            self.cut_head = self.buf.get(extra - 1) != Some(&b'\n');
            self.buf.drain(..extra);
        }
    }

    /// The last `n` bytes as text, starting at a line boundary when one
    /// is near, so the first line is not a fragment.
    pub fn tail(&self, n: usize) -> String {
        let n = n.min(self.buf.len());
        let start = self.buf.len() - n;
        let mut bytes: Vec<u8> = self.buf.range(start..).copied().collect();
        if (start > 0 || self.cut_head)
            && let Some(i) = bytes.iter().position(|&b| b == b'\n')
            && i + 1 < bytes.len()
        {
            bytes.drain(..=i);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.cut_head = false;
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        let mut l = Lines::default();
        let mut f = |b: &[u8], cut: bool| out.push((String::from_utf8_lossy(b).into_owned(), cut));
        for c in chunks {
            l.feed(c, &mut f);
        }
        l.finish(&mut f);
        out
    }

    #[test]
    fn splits_lines_across_chunks() {
        let got = lines(&[b"ab", b"c\nd\r\n\n", b"e"]);
        assert_eq!(got, vec![("abc".into(), false), ("d".into(), false), ("".into(), false), ("e".into(), false)]);
    }

    #[test]
    fn cuts_long_lines_and_skips_their_rest() {
        let long = vec![b'x'; MAX_LINE * 3];
        let got = lines(&[&long[..100], &long[100..], b"\nnext\n"]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.len(), MAX_LINE);
        assert!(got[0].1);
        assert_eq!(got[1], ("next".into(), false));
    }

    #[test]
    fn an_endless_line_shows_up_once_and_holds_no_memory() {
        let mut l = Lines::default();
        let mut n = 0;
        let chunk = vec![b'y'; 64 * 1024];
        for _ in 0..100 {
            l.feed(&chunk, &mut |_, cut| {
                assert!(cut);
                n += 1;
            });
            assert!(l.cur.capacity() <= MAX_LINE * 2);
        }
        assert_eq!(n, 1);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_whole() {
        let mut line = vec![b'z'; MAX_LINE];
        line.push(b'\n');
        assert_eq!(lines(&[&line]), vec![("z".repeat(MAX_LINE), false)]);
    }

    #[test]
    fn the_ring_keeps_the_last_bytes() {
        let mut r = Ring::new(20);
        for i in 0..100 {
            r.push_line(format!("line {i}").as_bytes(), false);
        }
        assert_eq!(r.len(), 20);
        assert_eq!(r.tail(1000), "line 98\nline 99\n", "the cut first line is left out");
        assert_eq!(r.tail(3), "99\n");
    }
}
