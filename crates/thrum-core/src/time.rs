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

/// Go's duration units, in seconds.
const GO_UNITS: &[(&str, f64)] =
    &[("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)];
/// Ours add days and weeks.
const UNITS: &[(&str, f64)] =
    &[("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86_400.0), ("w", 604_800.0)];

/// The seconds in a run of `<number><unit>` pairs (`1h30m`, `1.5s`), each
/// unit from `units`; None for anything else.
fn seconds(s: &str, units: &[(&str, f64)]) -> Option<f64> {
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = units.iter().find(|(name, _)| *name == &rest[..u])?.1;
        rest = &rest[u..];
        total += value * scale;
    }
    (total.is_finite() && total < 1e12).then_some(total)
}

/// Parses a duration such as `30s`, `5m`, `2h`, `7d`, `1w`, `1h30m` or a
/// bare number of seconds.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Some(std::time::Duration::from_secs(n));
    }
    seconds(s, UNITS).map(|t| std::time::Duration::from_millis((t * 1000.0) as u64))
}

/// Parses a duration as Go's `time.ParseDuration` does (the original's
/// flags and config): `300ms`, `1.5s`, `2m`, `1h30m`, units ns, us, µs,
/// ms, s, m, h; a bare `0` is zero, any other bare number is refused.
pub fn parse_go_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(std::time::Duration::ZERO);
    }
    seconds(s, GO_UNITS).map(std::time::Duration::from_secs_f64)
}

/// A duration as Go's `time.Duration` prints it (the original's wire
/// form, to the millisecond): `500ms`, `1.5s`, `30s`, `1m0s`, `1h30m0s`.
pub fn go_format(d: std::time::Duration) -> String {
    let ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m) = (ms / 3_600_000, (ms / 60_000) % 60);
    let rest = ms % 60_000;
    let secs = if rest.is_multiple_of(1000) {
        format!("{}s", rest / 1000)
    } else {
        format!("{}s", format!("{}.{:03}", rest / 1000, rest % 1000).trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
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
    fn go_durations_parse_and_print_as_go_does() {
        assert_eq!(parse_go_duration("60s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        for bad in ["", "60", "s", "1x", "-1s", "1s2", "2d"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
        assert_eq!(go_format(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_format(Duration::from_secs(60)), "1m0s");
        assert_eq!(go_format(Duration::from_secs(30)), "30s");
        assert_eq!(go_format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_format(Duration::from_secs(5400)), "1h30m0s");
        assert_eq!(go_format(Duration::from_millis(250)), "250ms");
    }

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
