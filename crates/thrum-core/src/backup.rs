//! The rules of backups that need no file system: the `backup` block of
//! config.json, read and checked; the schedule's interval; archive names;
//! and which archives the retention policy keeps (given the time "now",
//! so tests need no clock).

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The default backup directory, relative to the repository root.
pub const DEFAULT_DIR: &str = ".thrum/backup";
/// Shortest schedule accepted (tests use a few seconds).
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// Prefix of the safety backups `restore` takes (never pruned).
pub const SAFETY_PREFIX: &str = "safety-";
/// Suffix of every archive.
pub const ARCHIVE_EXT: &str = ".tar.gz";

/// A bad value in the `backup` block: names the key, the value and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("backup.{key} = {value} is not valid: {fix}")]
pub struct BackupConfigError {
    pub key: String,
    pub value: String,
    pub fix: String,
}

/// How many buckets each retention tier keeps (-1: all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub daily: i64,
    pub weekly: i64,
    pub monthly: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { daily: 5, weekly: 4, monthly: -1 }
    }
}

/// A third-party plugin: a command run before collection, then the files
/// matching `include` (globs relative to the repository root).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plugin {
    pub name: String,
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub include: Vec<String>,
}

/// The `backup` block, resolved with its defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSettings {
    /// As configured (empty: [`DEFAULT_DIR`]).
    pub dir: String,
    /// None: off.
    pub schedule: Option<std::time::Duration>,
    /// The schedule as written (`24h`), or `off`.
    pub schedule_text: String,
    pub retention: Retention,
    pub post_backup: String,
    pub plugins: Vec<Plugin>,
}

impl BackupSettings {
    /// Reads the block from config.json (parsed). Every bad value is an
    /// error naming it, so nothing runs on a half-understood policy.
    pub fn resolve(file: &Value) -> Result<BackupSettings, BackupConfigError> {
        let block = file.get("backup").cloned().unwrap_or(Value::Null);
        let bad = |key: &str, v: &Value, fix: &str| BackupConfigError {
            key: key.into(),
            value: v.to_string(),
            fix: fix.into(),
        };
        let text = |key: &str| -> Result<String, BackupConfigError> {
            match block.get(key) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.trim().to_string()),
                Some(v) => Err(bad(key, v, "use a string")),
            }
        };
        let dir = text("dir")?;
        let schedule_raw = match block.get("schedule") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(v) => {
                return Err(bad("schedule", v, "use a duration string such as \"24h\", or \"off\""));
            }
        };
        let schedule =
            parse_schedule(&schedule_raw).map_err(|fix| bad("schedule", &Value::from(schedule_raw.clone()), &fix))?;
        let schedule_text = if schedule.is_some() { schedule_raw } else { "off".into() };
        let mut retention = Retention::default();
        if let Some(r) = block.get("retention").filter(|r| !r.is_null()) {
            if !r.is_object() {
                return Err(bad(
                    "retention",
                    r,
                    "use an object such as {\"daily\": 5, \"weekly\": 4, \"monthly\": -1}",
                ));
            }
            for (key, slot) in [
                ("daily", &mut retention.daily),
                ("weekly", &mut retention.weekly),
                ("monthly", &mut retention.monthly),
            ] {
                match r.get(key) {
                    None | Some(Value::Null) => {}
                    Some(v) => match v.as_i64() {
                        Some(n) if n >= -1 => *slot = n,
                        _ => {
                            let fix = format!(
                                "use a whole number ≥ 0, or -1 to keep all (thrum config set backup.retention.{key} N)"
                            );
                            return Err(bad(&format!("retention.{key}"), v, &fix));
                        }
                    },
                }
            }
        }
        let post_backup = text("post_backup")?;
        let plugins = match block.get("plugins") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => {
                let list: Vec<Plugin> = serde_json::from_value(v.clone()).map_err(|_| {
                    bad("plugins", v, "use a list of {\"name\", \"command\", \"include\": [globs]} objects")
                })?;
                for p in &list {
                    if crate::name::validate_chars(&p.name).is_err() {
                        return Err(bad(
                            "plugins",
                            &Value::from(p.name.clone()),
                            "name each plugin with lower-case letters, digits and _",
                        ));
                    }
                    if let Some(g) = p.include.iter().find(|g| !safe_glob(g)) {
                        return Err(bad(
                            "plugins",
                            &Value::from(g.clone()),
                            "include patterns are relative to the repository root, without ..",
                        ));
                    }
                }
                list
            }
        };
        Ok(BackupSettings { dir, schedule, schedule_text, retention, post_backup, plugins })
    }
}

/// Whether an include glob stays inside the repository.
fn safe_glob(g: &str) -> bool {
    !g.is_empty() && !g.starts_with('/') && !g.split('/').any(|c| c == "..")
}

/// Parses a schedule: `off` (or empty) is None; otherwise a duration with
/// units, as Go writes them (`24h`, `6h30m`, `90s`, `1.5h`; `d` and `w`
/// are accepted too), at least [`MIN_INTERVAL`]. The error says what to
/// write instead.
pub fn parse_schedule(s: &str) -> Result<Option<std::time::Duration>, String> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let hint = "use a duration with a unit such as 24h, 6h30m or 90s, or off";
    if t.parse::<f64>().is_ok() {
        return Err(format!("{t:?} has no unit: {hint}"));
    }
    match crate::time::parse_duration(t) {
        Some(d) if d >= MIN_INTERVAL => Ok(Some(d)),
        Some(_) => Err(format!("{t:?} is shorter than 1s: {hint}")),
        None => Err(format!("{t:?} is not a duration: {hint}")),
    }
}

/// Formats the time in an archive name: `2026-03-01T221503.123Z`
/// (sortable, no colons).
pub fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H%M%S%.3fZ").to_string()
}

/// An archive's file name for a backup taken at `t`.
pub fn archive_name(t: DateTime<Utc>, safety: bool) -> String {
    format!("{}{}{ARCHIVE_EXT}", if safety { SAFETY_PREFIX } else { "" }, stamp(t))
}

/// Reads an archive name back: its time and whether it is a safety
/// backup. None for any other file (never touched by pruning).
pub fn parse_archive_name(name: &str) -> Option<(DateTime<Utc>, bool)> {
    let base = name.strip_suffix(ARCHIVE_EXT)?;
    let (base, safety) = match base.strip_prefix(SAFETY_PREFIX) {
        Some(b) => (b, true),
        None => (base, false),
    };
    let t = NaiveDateTime::parse_from_str(base, "%Y-%m-%dT%H%M%S%.3fZ").ok()?;
    Some((t.and_utc(), safety))
}

/// A retention tier's bucket number for a time.
type Bucket = fn(DateTime<Utc>) -> i64;

/// Days since a fixed start.
fn day_bucket(t: DateTime<Utc>) -> i64 {
    i64::from(t.date_naive().num_days_from_ce())
}

/// ISO weeks since a fixed Monday, so "the last N weeks" is a subtraction.
fn week_bucket(t: DateTime<Utc>) -> i64 {
    (day_bucket(t) - i64::from(t.weekday().num_days_from_monday())) / 7
}

fn month_bucket(t: DateTime<Utc>) -> i64 {
    i64::from(t.year()) * 12 + i64::from(t.month0())
}

/// The archives retention removes, given every archive's name and time
/// (safety backups left out by the caller) and the time now.
///
/// Grandfather-father-son: the daily tier keeps every archive of the last
/// `daily` days (today included), the weekly tier the newest archive of
/// each of the last `weekly` ISO weeks, the monthly tier the newest of
/// each of the last `monthly` months; -1 makes a tier reach back forever,
/// 0 turns it off. The newest archive of all is always kept (it is the
/// current backup). Everything else is removed.
pub fn plan_prune(archives: &[(String, DateTime<Utc>)], now: DateTime<Utc>, r: Retention) -> Vec<String> {
    let mut sorted: Vec<&(String, DateTime<Utc>)> = archives.iter().collect();
    // Newest first: the first archive seen in a bucket is the one it keeps.
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    let mut keep = std::collections::HashSet::new();
    if let Some(first) = sorted.first() {
        keep.insert(first.0.clone());
    }
    // (buckets kept, bucket of a time, every archive of a bucket or its newest)
    let tiers: [(i64, Bucket, bool); 3] =
        [(r.daily, day_bucket, true), (r.weekly, week_bucket, false), (r.monthly, month_bucket, false)];
    for (count, bucket, all) in tiers {
        if count == 0 {
            continue;
        }
        let current = bucket(now);
        let mut seen = std::collections::HashSet::new();
        for (name, t) in &sorted {
            let b = bucket(*t);
            // In the window: the last `count` buckets up to now (an archive
            // from the future, a skewed clock, counts as now).
            let age = (current - b).max(0);
            if count != -1 && age >= count {
                continue;
            }
            if all || seen.insert(b) {
                keep.insert(name.clone());
            }
        }
    }
    sorted.iter().filter(|(n, _)| !keep.contains(n)).map(|(n, _)| n.clone()).collect()
}

/// The folder name for a repository's archives inside the backup
/// directory: the origin URL's last part (`org/thrum.git` → `thrum`),
/// else the repository folder's name.
pub fn repo_name(origin_url: &str, repo_root: &std::path::Path) -> String {
    let from_url = origin_url
        .trim()
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .map(|s| s.trim_end_matches(".git").to_string())
        .filter(|s| !s.is_empty() && s != "." && s != "..");
    let name = from_url
        .or_else(|| repo_root.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "repo".into());
    // A folder name, never a path.
    name.chars().map(|c| if c == '/' || c == '\\' || c.is_control() { '_' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        crate::time::parse_ts(s).unwrap_or_default()
    }

    #[test]
    fn schedules() {
        assert_eq!(parse_schedule("off"), Ok(None));
        assert_eq!(parse_schedule(""), Ok(None));
        assert_eq!(parse_schedule("24h"), Ok(Some(std::time::Duration::from_secs(86_400))));
        assert_eq!(parse_schedule("6h30m"), Ok(Some(std::time::Duration::from_secs(23_400))));
        assert_eq!(parse_schedule("2s"), Ok(Some(std::time::Duration::from_secs(2))));
        for bad in ["24", "soon", "-1h", "500ms", "0s"] {
            let e = parse_schedule(bad).err().unwrap_or_default();
            assert!(e.contains("24h"), "{bad}: {e}");
        }
    }

    #[test]
    fn names_round_trip() {
        let t = at("2026-03-01T22:15:03.123Z");
        assert_eq!(archive_name(t, false), "2026-03-01T221503.123Z.tar.gz");
        assert_eq!(parse_archive_name(&archive_name(t, false)), Some((t, false)));
        assert_eq!(parse_archive_name(&archive_name(t, true)), Some((t, true)));
        assert_eq!(parse_archive_name("notes.txt"), None);
        assert_eq!(parse_archive_name("2026-03-01.tar.gz"), None);
    }

    #[test]
    fn settings_defaults_and_errors() {
        let s = BackupSettings::resolve(&json!({})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.dir.as_str(), s.schedule, s.retention), ("", None, Retention::default()));
        let s =
            BackupSettings::resolve(&json!({"backup": {"schedule": "2s", "retention": {"daily": -1, "weekly": 0}}}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.schedule, Some(std::time::Duration::from_secs(2)));
        assert_eq!(s.retention, Retention { daily: -1, weekly: 0, monthly: -1 });
        let e = BackupSettings::resolve(&json!({"backup": {"retention": {"daily": -2}}})).err();
        assert!(e.is_some_and(|e| e.to_string().contains("backup.retention.daily = -2")));
        let e = BackupSettings::resolve(&json!({"backup": {"schedule": "often"}})).err();
        assert!(e.is_some_and(|e| e.to_string().contains("backup.schedule")));
        let e =
            BackupSettings::resolve(&json!({"backup": {"plugins": [{"name": "x", "include": ["../etc/*"]}]}})).err();
        assert!(e.is_some());
    }

    fn names(list: &[&str]) -> Vec<(String, DateTime<Utc>)> {
        list.iter().map(|s| (s.to_string(), at(s))).collect()
    }

    #[test]
    fn retention_keeps_days_whole_and_the_newest_of_weeks_and_months() {
        let now = at("2026-03-20T12:00:00Z");
        let all = names(&[
            "2026-03-20T10:00:00Z",
            "2026-03-20T08:00:00Z", // same day as a newer one: days keep all
            "2026-03-19T10:00:00Z",
            "2026-03-14T10:00:00Z", // outside 5 days, own week
            "2026-03-02T10:00:00Z",
            "2026-03-01T10:00:00Z", // an older week, and not its month's newest
            "2026-01-15T10:00:00Z",
            "2026-01-10T10:00:00Z",
        ]);
        let r = Retention { daily: 5, weekly: 2, monthly: -1 };
        let mut gone = plan_prune(&all, now, r);
        gone.sort();
        // Days (16th to 20th): all three. Weeks (this and last): 20th, 14th.
        // Months: March's newest (20th), January's newest (15th).
        assert_eq!(gone, vec!["2026-01-10T10:00:00Z", "2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z"]);
    }

    #[test]
    fn retention_zero_keeps_only_the_newest_and_minus_one_reaches_back_forever() {
        let now = at("2026-03-20T12:00:00Z");
        let all = names(&["2026-03-20T10:00:00Z", "2026-03-19T10:00:00Z", "2025-01-01T10:00:00Z"]);
        let none = Retention { daily: 0, weekly: 0, monthly: 0 };
        let mut gone = plan_prune(&all, now, none);
        gone.sort();
        assert_eq!(gone, vec!["2025-01-01T10:00:00Z", "2026-03-19T10:00:00Z"]);
        let every_day = Retention { daily: -1, weekly: 0, monthly: 0 };
        assert!(plan_prune(&all, now, every_day).is_empty());
        // Weeks keep one each: the older archive of this week goes.
        let weeks = Retention { daily: 0, weekly: -1, monthly: 0 };
        assert_eq!(plan_prune(&all, now, weeks), vec!["2026-03-19T10:00:00Z"]);
        assert!(plan_prune(&[], now, none).is_empty());
    }

    #[test]
    fn repo_names() {
        let root = std::path::Path::new("/x/myrepo");
        assert_eq!(repo_name("git@github.com:org/thrum.git", root), "thrum");
        assert_eq!(repo_name("https://h/org/thrum/", root), "thrum");
        assert_eq!(repo_name("/tmp/t/remote.git", root), "remote");
        assert_eq!(repo_name("", root), "myrepo");
    }
}
