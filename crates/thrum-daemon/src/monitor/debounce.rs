//! Leading-edge debounce with a trailing summary: the first match of a
//! window is delivered at once, later ones in the same window are held
//! back and counted, and when the window closes one summary tells of
//! them. Time is passed in, so tests drive it without sleeping.

use std::time::{Duration, Instant};

/// What to do with a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it now: it opens a window.
    Deliver,
    /// Held back: the window it falls in already delivered a match.
    Suppressed,
}

/// The matches a closed window held back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The first line held back.
    pub first: String,
    /// How many were held back, `first` included.
    pub count: u64,
}

#[derive(Debug)]
pub struct Debounce {
    window: Duration,
    opened: Option<Instant>,
    held: u64,
    first: Option<String>,
}

impl Debounce {
    pub fn new(window: Duration) -> Debounce {
        Debounce { window, opened: None, held: 0, first: None }
    }

    /// Judges a match seen at `now`. A summary of an earlier window that
    /// is due must be taken first ([`Debounce::take_summary`]).
    pub fn on_match(&mut self, now: Instant, line: &str) -> Verdict {
        match self.opened {
            Some(t) if now < t + self.window => {
                self.held += 1;
                if self.first.is_none() {
                    self.first = Some(line.to_string());
                }
                Verdict::Suppressed
            }
            _ => {
                self.opened = Some(now);
                Verdict::Deliver
            }
        }
    }

    /// When the held-back matches are to be summarised, if any are.
    pub fn due(&self) -> Option<Instant> {
        match (self.opened, self.held) {
            (Some(t), n) if n > 0 => Some(t + self.window),
            _ => None,
        }
    }

    /// The summary of the window, if it has closed by `now` (or `force`,
    /// when the child is gone) and held matches back.
    pub fn take_summary(&mut self, now: Instant, force: bool) -> Option<Summary> {
        let due = self.due()?;
        if now < due && !force {
            return None;
        }
        let count = std::mem::take(&mut self.held);
        Some(Summary { first: self.first.take().unwrap_or_default(), count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_match_goes_out_and_the_rest_of_the_window_is_summarised() {
        let t0 = Instant::now();
        let w = Duration::from_secs(60);
        let mut d = Debounce::new(w);
        assert_eq!(d.due(), None);
        assert_eq!(d.on_match(t0, "a"), Verdict::Deliver);
        assert_eq!(d.due(), None, "nothing held back yet");
        assert_eq!(d.on_match(t0 + Duration::from_secs(1), "b"), Verdict::Suppressed);
        assert_eq!(d.on_match(t0 + Duration::from_secs(59), "c"), Verdict::Suppressed);
        assert_eq!(d.due(), Some(t0 + w));
        assert_eq!(d.take_summary(t0 + Duration::from_secs(30), false), None, "window still open");
        assert_eq!(d.take_summary(t0 + w, false), Some(Summary { first: "b".into(), count: 2 }));
        assert_eq!(d.due(), None);
        // The next match after the window opens a new one.
        assert_eq!(d.on_match(t0 + w, "d"), Verdict::Deliver);
        assert_eq!(d.on_match(t0 + w + Duration::from_secs(1), "e"), Verdict::Suppressed);
        assert_eq!(
            d.take_summary(t0 + w + Duration::from_secs(2), true),
            Some(Summary { first: "e".into(), count: 1 })
        );
    }

    #[test]
    fn a_quiet_window_sends_no_summary() {
        let t0 = Instant::now();
        let mut d = Debounce::new(Duration::from_secs(30));
        assert_eq!(d.on_match(t0, "a"), Verdict::Deliver);
        assert_eq!(d.take_summary(t0 + Duration::from_secs(31), true), None);
        assert_eq!(d.on_match(t0 + Duration::from_secs(31), "b"), Verdict::Deliver);
    }
}
