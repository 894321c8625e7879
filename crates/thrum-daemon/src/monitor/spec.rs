//! A monitor's saved spec, the checks a new one passes, and the file the
//! specs persist in (`.thrum/var/monitors.json`, 0600, replaced
//! atomically): env values are kept there, since the child needs them
//! again after a daemon restart, and nowhere else.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use thrum_core::time::{go_format, parse_go_duration};

use serde::{Deserialize, Serialize};

/// The most monitors kept (running or exited, not stopped).
pub const MAX_MONITORS: usize = 100;
/// The default debounce window.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_secs(60);
/// The shortest debounce window allowed.
pub const MIN_DEBOUNCE: Duration = Duration::from_secs(30);
/// Lowers [`MIN_DEBOUNCE`] (never raises it) when set in the daemon's
/// environment: for tests and benchmarks only, so they need not wait 30s.
pub const MIN_DEBOUNCE_ENV: &str = "THRUM_MONITOR_MIN_DEBOUNCE";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub id: String,
    pub name: String,
    #[serde(rename = "match")]
    pub pattern: String,
    pub to: String,
    pub argv: Vec<String>,
    pub cwd: String,
    pub debounce_ms: u64,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub created_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    monitors: Vec<Spec>,
}

/// The minimum window in force: [`MIN_DEBOUNCE`], or lower when
/// [`MIN_DEBOUNCE_ENV`] says so.
pub fn min_debounce() -> Duration {
    std::env::var(MIN_DEBOUNCE_ENV)
        .ok()
        .and_then(|v| parse_go_duration(&v))
        .map(|d| d.min(MIN_DEBOUNCE))
        .unwrap_or(MIN_DEBOUNCE)
}

/// Checks a monitor name: it becomes the sender `monitor:<name>`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is required: pass --name NAME (e.g. --name dev-errors)".into());
    }
    if name.len() > 64 || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "invalid monitor name {name:?}: use up to 64 lowercase letters, digits, '-' and '_' (e.g. --name dev-errors)"
        ));
    }
    Ok(())
}

/// Compiles the pattern, explaining a failure on one line.
pub fn compile(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.is_empty() {
        return Err("match is required: pass --match REGEX (e.g. --match '(?i)error')".into());
    }
    regex::RegexBuilder::new(pattern).size_limit(1 << 20).build().map_err(|e| {
        let why = e.to_string();
        let why = why.lines().rev().find(|l| l.starts_with("error:")).unwrap_or(why.lines().next().unwrap_or(""));
        format!(
            "invalid regex {pattern:?} ({}): fix --match (RE2 syntax; (?i) makes it case-insensitive)",
            why.trim_start_matches("error:").trim()
        )
    })
}

/// Parses the debounce window (a Go duration; empty means the default)
/// against the minimum in force.
pub fn debounce(raw: &str, min: Duration) -> Result<Duration, String> {
    if raw.trim().is_empty() {
        return Ok(DEFAULT_DEBOUNCE);
    }
    let d = parse_go_duration(raw)
        .ok_or_else(|| format!("invalid debounce {raw:?}: use a duration such as 60s, 2m or 1m30s"))?;
    if d < min {
        return Err(format!(
            "debounce below minimum ({}): {raw} is too short; use --debounce {0} or more",
            go_format(min)
        ));
    }
    if d > Duration::from_secs(7 * 24 * 3600) {
        return Err(format!("debounce {raw} is too long: use at most 168h"));
    }
    Ok(d)
}

/// Checks the extra environment variables' names.
pub fn check_env(env: &BTreeMap<String, String>) -> Result<(), String> {
    for k in env.keys() {
        let ok = !k.is_empty()
            && !k.as_bytes()[0].is_ascii_digit()
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(format!("invalid env name {k:?}: use --env KEY=VALUE with KEY made of letters, digits and _"));
        }
    }
    Ok(())
}

/// Loads the saved specs (none when the file does not exist).
pub fn load(path: &Path) -> Result<Vec<Spec>, String> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice::<File>(&b)
            .map(|f| f.monitors)
            .map_err(|e| format!("{} is not a valid monitors file: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Saves the specs, replacing the file atomically (owner-only).
pub fn save(path: &Path, specs: Vec<Spec>) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(&File { version: 1, monitors: specs }).map_err(|e| e.to_string())?;
    thrum_core::fs::write_private(path, &json).map_err(|e| format!("cannot save {}: {}", path.display(), e.source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debounce_has_a_default_and_a_minimum() {
        assert_eq!(debounce("", MIN_DEBOUNCE), Ok(DEFAULT_DEBOUNCE));
        assert_eq!(debounce("2m", MIN_DEBOUNCE), Ok(Duration::from_secs(120)));
        let e = debounce("10s", MIN_DEBOUNCE).expect_err("too short");
        assert!(e.starts_with("debounce below minimum (30s)"), "{e}");
        assert!(debounce("soon", MIN_DEBOUNCE).expect_err("not a duration").contains("60s"));
    }

    #[test]
    fn names_regexes_and_env_are_checked() {
        assert!(check_name("dev-errors").is_ok());
        assert!(check_name("Dev").is_err());
        assert!(check_name("a/b").is_err());
        let e = compile("(unclosed").expect_err("bad regex");
        assert!(!e.contains('\n') && e.contains("unclosed"), "{e}");
        assert!(compile("(?i)error").is_ok());
        let mut env = BTreeMap::new();
        env.insert("GOOD_1".to_string(), "x".to_string());
        assert!(check_env(&env).is_ok());
        env.insert("1BAD".to_string(), "x".to_string());
        assert!(check_env(&env).is_err());
    }
}
