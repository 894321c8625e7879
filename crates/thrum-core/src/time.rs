//! Timestamps and the duration/date forms users type (`2d`, `24h`,
//! `2026-03-15`, RFC 3339).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// The current time as the RFC 3339 string stored in events
/// (UTC, nanosecond precision, `Z` suffix — the same form Go's
/// `time.RFC3339Nano` writes, so timestamps sort as text).
pub fn now_rfc3339() -> String {
    format_ts(Utc::now())
}

pub fn format_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Parses an RFC 3339 timestamp.
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Parses a duration such as `30s`, `5m`, `2h`, `7d`, `1w`, `1h30m` or a
/// bare number of seconds.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<u64>() {
        return Some(std::time::Duration::from_secs(n));
    }
    let mut total_ms: u128 = 0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut saw_unit = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            unit = "ms".into();
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let ms_per = match unit.as_str() {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            "w" => 604_800_000.0,
            _ => return None,
        };
        total_ms += (n * ms_per) as u128;
        saw_unit = true;
    }
    if !num.is_empty() || !saw_unit {
        return None;
    }
    Some(std::time::Duration::from_millis(total_ms as u64))
}

/// Parses the `--before` forms of `thrum purge`: a duration ago (`2d`), a
/// date (`2026-03-15`, midnight UTC) or an RFC 3339 timestamp.
pub fn parse_before(s: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Some(t) = parse_ts(s) {
        return Some(t);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    let d = parse_duration(s)?;
    Some(now - chrono::Duration::from_std(d).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("12"), Some(Duration::from_secs(12)));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn before_forms() {
        let now = parse_ts("2026-03-20T00:00:00Z").unwrap_or_default();
        assert_eq!(parse_before("2d", now), parse_ts("2026-03-18T00:00:00Z"));
        assert_eq!(parse_before("2026-03-15", now), parse_ts("2026-03-15T00:00:00Z"));
        assert_eq!(parse_before("2026-03-15T10:00:00+02:00", now), parse_ts("2026-03-15T08:00:00Z"));
        assert_eq!(parse_before("yesterday", now), None);
    }

    #[test]
    fn timestamps_sort_as_text() {
        let a = now_rfc3339();
        let b = now_rfc3339();
        assert!(a <= b);
        assert!(a.ends_with('Z'));
    }
}
