//! Every setting thrum reads, declared once: its dotted key in
//! `.thrum/config.json`, the environment variable that overrides it, its
//! default, and what it does. The daemon takes its values from here
//! ([`DaemonSettings`]), and `thrum config show` / `config get` list the
//! same keys with where each value came from.
//!
//! Precedence, highest first: a command-line flag (applied by the caller),
//! the environment (or a `.env` file), `config.json`, the default. One
//! setting differs, as documented for it: `daemon.peer_port` is read from
//! the file before `THRUM_TS_PORT` (the original's Tailscale port).

use serde_json::Value;

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The dotted key in config.json (`daemon.sync_interval`).
    pub key: &'static str,
    /// The environment variable that overrides the file.
    pub env: Option<&'static str>,
    /// The default, as JSON text (`null`: none, or decided elsewhere).
    pub default: &'static str,
    pub about: &'static str,
    /// The file wins over the environment (only `daemon.peer_port`).
    pub file_first: bool,
    /// What `thrum config set` accepts for it.
    pub kind: Kind,
}

/// The values a setting takes, which `thrum config set` checks before it
/// writes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Taken from the default: a boolean is a [`Kind::Bool`], a number a
    /// [`Kind::Count`] from 0, a list a [`Kind::List`], anything else
    /// [`Kind::Text`]. Most keys need nothing more, so a new one declared
    /// with [`s`] gets checked without a second table.
    FromDefault,
    Bool,
    /// A whole number from the first bound to the second.
    Count(u64, u64),
    /// A TCP port (1–65535) or "auto", kept as text as the original does.
    Port,
    /// One of these words (lower case; the input's case does not matter).
    OneOf(&'static [&'static str]),
    /// A runtime preset's name ([`crate::runtimes::REGISTRY`]).
    Runtime,
    Text,
    /// A list of words: a JSON array, or words separated by commas.
    List,
    /// Not stored in config.json: only the environment (or a flag) sets it.
    EnvOnly,
    /// An interval such as `24h` or `6h30m`, or `off`
    /// ([`crate::backup::parse_schedule`]).
    Interval,
    /// How many archives a retention tier keeps: -1 (all) or more.
    Retention,
}

const fn s(key: &'static str, env: Option<&'static str>, default: &'static str, about: &'static str) -> Setting {
    Setting { key, env, default, about, file_first: false, kind: Kind::FromDefault }
}

impl Setting {
    /// This setting with values checked as `kind`.
    const fn kind(mut self, kind: Kind) -> Setting {
        self.kind = kind;
        self
    }
}

/// Every setting, in the order `thrum config show` lists them.
pub const SETTINGS: &[Setting] = &[
    s(
        "daemon.local_only",
        Some("THRUM_LOCAL"),
        "false",
        "never push or fetch the a-sync branch (`thrum init` writes true; a repository without the key syncs)",
    ),
    s("daemon.sync_interval", Some("THRUM_SYNC_INTERVAL"), "60", "seconds between git syncs")
        .kind(Kind::Count(1, u64::MAX)),
    s("daemon.sync_debounce_ms", Some("THRUM_SYNC_DEBOUNCE_MS"), "1000", "milliseconds from a local write to its push"),
    s(
        "daemon.sync_remote_poll_ms",
        Some("THRUM_SYNC_REMOTE_POLL_MS"),
        "2000",
        "milliseconds between cheap checks for other clones' pushes (0: off)",
    ),
    s("daemon.ws_port", Some("THRUM_WS_PORT"), "\"9999\"", "HTTP/WebSocket port, or \"auto\"").kind(Kind::Port),
    Setting {
        key: "daemon.peer_port",
        env: Some("THRUM_TS_PORT"),
        default: "\"(the port used last time, else any)\"",
        about: "TCP port for network peers (the file wins over THRUM_TS_PORT)",
        file_first: true,
        kind: Kind::Port,
    },
    s("daemon.log_level", None, "\"info\"", "debug, info, warn or error")
        .kind(Kind::OneOf(&["debug", "info", "warn", "warning", "error"])),
    s("daemon.single_agent_mode", None, "false", "one agent here: messaging instructions are left out"),
    s("runtime.primary", None, "null", "default runtime preset").kind(Kind::Runtime),
    s("tmux.socket", Some("THRUM_TMUX_SOCKET"), "null", "a private tmux server (tmux -L NAME) for managed sessions")
        .kind(Kind::Text),
    s("tmux.quiet_ms", None, "600", "milliseconds a pane must stay unchanged before a doorbell is typed"),
    s("tmux.backstop_minutes", None, "15", "minutes announced mail may stay unread before one more doorbell (0: off)"),
    s(
        "tmux.working_silence_seconds",
        None,
        "120",
        "seconds a pane of an agent marked working may stay silent with unread mail before a doorbell",
    ),
    s(
        "permission_supervisors",
        None,
        "[\"coordinator\"]",
        "roles or @agents told when an agent in a tmux session waits on a permission prompt",
    ),
    s(
        "project_name",
        None,
        "\"(the repository folder's name)\"",
        "names @supervisor_<project>, the author of permission-prompt nudges",
    ),
    s(
        "restart.max_lines",
        None,
        "200",
        "conversation lines a restart snapshot keeps (thrum tmux restart, snapshot save)",
    )
    .kind(Kind::Count(1, u64::MAX)),
    s(
        "restart.graceful_timeout",
        None,
        "30",
        "seconds `thrum tmux restart` waits for the agent's own snapshot before extracting one",
    ),
    // The daemon clamps a pairing code to 6–32 digits; refuse what it would change.
    s("peers.pairing_code_length", None, "16", "digits in a pairing code (6 to 32)").kind(Kind::Count(6, 32)),
    s(
        "peers.auto_connect",
        None,
        "true",
        "dial the paired peers when the daemon starts (off: a link starts when a message goes to or comes from the peer)",
    ),
    s(
        "backup.dir",
        None,
        "\".thrum/backup\"",
        "where `thrum backup` writes archives (relative: from the repository root)",
    )
    .kind(Kind::Text),
    s("backup.schedule", None, "\"off\"", "interval between the daemon's automatic backups (24h, 6h30m), or off")
        .kind(Kind::Interval),
    s("backup.retention.daily", None, "5", "days that keep their newest backup (-1: every day; 0: none)")
        .kind(Kind::Retention),
    s("backup.retention.weekly", None, "4", "weeks that keep their newest backup (-1: every week; 0: none)")
        .kind(Kind::Retention),
    s("backup.retention.monthly", None, "-1", "months that keep their newest backup (-1: every month; 0: none)")
        .kind(Kind::Retention),
    s("backup.post_backup", None, "\"\"", "shell command run after each backup (THRUM_BACKUP_* in its environment)")
        .kind(Kind::Text),
    s("orchestration.merge_target", None, "\"(remote default branch, else main)\"", "branch work is compared with"),
    s(
        "worktrees.base_path",
        None,
        "\"(~/.thrum/worktrees/<repository folder>)\"",
        "where `thrum worktree create NAME` makes NAME (absolute, or ~/…; never the repository itself)",
    )
    .kind(Kind::Text),
    s(
        "worktrees.thrum_enabled",
        None,
        "true",
        "new worktrees share this repository's .thrum (.thrum/redirect and their own identities/)",
    ),
    s("worktrees.beads_enabled", None, "true", "new worktrees get .beads/redirect when this repository has .beads/"),
    s(
        "identity_guard.cross_worktree",
        None,
        "\"strict\"",
        "identity guard: an identity file used from another worktree",
    ),
    s(
        "identity_guard.quickstart_self_rename",
        None,
        "\"strict\"",
        "identity guard: a runtime re-registering itself under a new name",
    ),
    s(
        "identity_guard.quickstart_name_collision",
        None,
        "\"strict\"",
        "identity guard: a name held by a live process in another worktree",
    ),
    s("identity_guard.non_git_bootstrap", None, "\"strict\"", "identity guard: thrum init outside a git repository"),
    s(
        "identity_guard.unauthenticated_rpc",
        None,
        "\"strict\"",
        "identity guard: a write from outside every agent worktree",
    ),
    s(
        "identity_guard.daemon_writer_liveness",
        None,
        "\"strict\"",
        "identity guard: the daemon writing a dead agent's identity file",
    ),
    s("identity_guard.prime_ownership", None, "\"strict\"", "identity guard: thrum prime from a sub-agent"),
    s(
        "identity_guard.dead_pid_auto_reclaim",
        None,
        "\"warn\"",
        "identity guard: taking over a name whose process is dead (off: treat as a collision)",
    ),
    s("identity.name", Some("THRUM_NAME"), "\"(resolved from .thrum/identities)\"", "which identity file to use")
        .kind(Kind::EnvOnly),
    s("identity.role", Some("THRUM_ROLE"), "null", "role override").kind(Kind::EnvOnly),
    s("identity.module", Some("THRUM_MODULE"), "null", "module override").kind(Kind::EnvOnly),
    s("identity.display", Some("THRUM_DISPLAY"), "null", "display name override").kind(Kind::EnvOnly),
    s("repo", Some("THRUM_HOME"), "\"(current directory)\"", "repository to act on").kind(Kind::EnvOnly),
    s("hints", Some("THRUM_NO_HINTS"), "\"on\"", "CLI hints (set THRUM_NO_HINTS=1 to turn off)").kind(Kind::EnvOnly),
];

/// Why a value cannot be stored for a setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("{key} is not stored in config.json: set {env} in the environment instead")]
    EnvOnly { key: &'static str, env: &'static str },
    #[error("{key} cannot be {value:?}: use {expected}")]
    Invalid { key: &'static str, value: String, expected: String },
}

impl Setting {
    /// The values this setting accepts, with [`Kind::FromDefault`]
    /// decided.
    pub fn value_kind(&self) -> Kind {
        if self.kind != Kind::FromDefault {
            return self.kind;
        }
        match serde_json::from_str::<Value>(self.default) {
            Ok(Value::Bool(_)) => Kind::Bool,
            Ok(Value::Number(_)) => Kind::Count(0, u64::MAX),
            Ok(Value::Array(_)) => Kind::List,
            _ => Kind::Text,
        }
    }

    /// What `thrum config set KEY TEXT` stores in config.json, or why it
    /// cannot. Booleans take true/false, on/off, yes/no, 1/0; ports and
    /// names stay text, as the original writes them.
    pub fn parse(&self, input: &str) -> Result<Value, SettingError> {
        let t = input.trim();
        let bad = |expected: String| SettingError::Invalid { key: self.key, value: input.to_string(), expected };
        match self.value_kind() {
            Kind::EnvOnly => {
                Err(SettingError::EnvOnly { key: self.key, env: self.env.unwrap_or("the environment variable") })
            }
            Kind::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "on" | "yes" | "1" => Ok(Value::Bool(true)),
                "false" | "off" | "no" | "0" => Ok(Value::Bool(false)),
                _ => Err(bad("true or false".into())),
            },
            Kind::Count(min, max) => {
                let range =
                    if max == u64::MAX { format!("a whole number ≥ {min}") } else { format!("{min} to {max}") };
                match t.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(Value::from(n)),
                    _ => Err(bad(range)),
                }
            }
            Kind::Port => match t.to_ascii_lowercase().as_str() {
                "auto" => Ok(Value::String("auto".into())),
                _ => match t.parse::<u16>() {
                    Ok(p) if p > 0 => Ok(Value::String(p.to_string())),
                    _ => Err(bad("a port from 1 to 65535, or auto".into())),
                },
            },
            Kind::OneOf(words) => {
                let w = t.to_ascii_lowercase();
                if words.contains(&w.as_str()) { Ok(Value::String(w)) } else { Err(bad(or_list(words))) }
            }
            Kind::Runtime => {
                let names: Vec<&str> = crate::runtimes::REGISTRY.iter().map(|r| r.name).collect();
                if names.contains(&t) { Ok(Value::String(t.to_string())) } else { Err(bad(or_list(&names))) }
            }
            Kind::Interval => match crate::backup::parse_schedule(t) {
                Ok(None) => Ok(Value::String("off".into())),
                Ok(Some(_)) => Ok(Value::String(t.to_string())),
                Err(_) => Err(bad("an interval such as 24h, 6h30m or 90s, or off".into())),
            },
            Kind::Retention => match t.parse::<i64>() {
                Ok(n) if n >= -1 => Ok(Value::from(n)),
                _ => Err(bad("a whole number ≥ 0, or -1 to keep all".into())),
            },
            Kind::Text | Kind::FromDefault => {
                if t.is_empty() {
                    Err(bad("a non-empty value".into()))
                } else {
                    Ok(Value::String(t.to_string()))
                }
            }
            Kind::List => {
                let items: Vec<String> = if t.starts_with('[') {
                    match serde_json::from_str::<Vec<String>>(t) {
                        Ok(v) => v,
                        Err(_) => return Err(bad("a JSON array of strings, or words separated by commas".into())),
                    }
                } else {
                    t.split(',').map(|w| w.trim().to_string()).filter(|w| !w.is_empty()).collect()
                };
                Ok(Value::from(items))
            }
        }
    }
}

/// "a, b or c".
fn or_list(words: &[&str]) -> String {
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => words.join(""),
    }
}

/// The declaration of a key.
pub fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The environment variable, set in the process environment.
    Env(&'static str),
    /// The environment variable, set in this `.env` file.
    DotEnv(&'static str, String),
    File,
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Env(v) => write!(f, "env ({v})"),
            Source::DotEnv(v, file) => write!(f, "{file} ({v})"),
            Source::File => f.write_str("file"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A setting's effective value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub value: Value,
    pub source: Source,
}

impl Setting {
    /// The value from the environment, `file` (the parsed config.json) or
    /// the default, in this setting's order. Environment values are text.
    pub fn resolve(&self, file: &Value) -> Resolved {
        let from_env = || {
            let var = self.env?;
            let v = crate::env::var(var).ok().filter(|v| !v.is_empty())?;
            let source = match crate::env::source(var) {
                Some(s) if s != "env" => Source::DotEnv(var, s),
                _ => Source::Env(var),
            };
            Some(Resolved { value: Value::String(v), source })
        };
        let from_file = || {
            let v = self.key.split('.').try_fold(file, |v, k| v.get(k))?;
            (!v.is_null()).then(|| Resolved { value: v.clone(), source: Source::File })
        };
        let found = if self.file_first { from_file().or_else(from_env) } else { from_env().or_else(from_file) };
        found.unwrap_or_else(|| Resolved {
            value: serde_json::from_str(self.default).unwrap_or(Value::Null),
            source: Source::Default,
        })
    }
}

/// A declared key's value (panics in debug builds on an undeclared key,
/// which is a bug in thrum, not bad input).
fn get(key: &str, file: &Value) -> Resolved {
    debug_assert!(find(key).is_some(), "setting {key} is not declared");
    find(key).map(|s| s.resolve(file)).unwrap_or(Resolved { value: Value::Null, source: Source::Default })
}

/// Reads a value as a flag: JSON booleans, and text where "", "0",
/// "false", "no" and "off" are false.
fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(!matches!(s.trim().to_ascii_lowercase().as_str(), "" | "0" | "false" | "no" | "off")),
        _ => None,
    }
}

/// Reads a value as a count: JSON numbers and numeric text.
fn count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a value as text (numbers are written out).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The daemon's settings, typed, with the defaults above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSettings {
    pub local_only: bool,
    pub sync_interval_s: u64,
    pub sync_debounce_ms: u64,
    pub sync_remote_poll_ms: u64,
    /// A port number, or "auto".
    pub ws_port: String,
    /// None: the port used last time, else any.
    pub peer_port: Option<u16>,
    pub log_level: String,
    pub pairing_code_length: usize,
    /// Dial the paired peers at start (`peers.auto_connect`).
    pub auto_connect: bool,
    /// None: the remote's default branch, else main.
    pub merge_target: Option<String>,
}

impl DaemonSettings {
    /// The settings from `file` (config.json, parsed) and the environment;
    /// `local` is the `--local` flag, which wins. A value of the wrong type
    /// falls back to the default.
    pub fn resolve(file: &Value, local: Option<bool>) -> DaemonSettings {
        let n = |key: &str, default: u64| count(&get(key, file).value).unwrap_or(default);
        DaemonSettings {
            local_only: local.unwrap_or_else(|| flag(&get("daemon.local_only", file).value).unwrap_or(false)),
            sync_interval_s: Some(n("daemon.sync_interval", 60)).filter(|s| *s > 0).unwrap_or(60),
            sync_debounce_ms: n("daemon.sync_debounce_ms", 1000),
            sync_remote_poll_ms: n("daemon.sync_remote_poll_ms", 2000),
            ws_port: text(&get("daemon.ws_port", file).value).unwrap_or_else(|| "9999".into()),
            // A port in the file, else one in THRUM_TS_PORT ("auto" in the
            // file leaves the choice to the variable).
            peer_port: ["daemon", "peer_port"]
                .iter()
                .try_fold(file, |v, k| v.get(k))
                .and_then(count)
                .or_else(|| crate::env::var("THRUM_TS_PORT").ok().and_then(|v| v.trim().parse().ok()))
                .and_then(|p| u16::try_from(p).ok()),
            log_level: text(&get("daemon.log_level", file).value).unwrap_or_else(|| "info".into()),
            pairing_code_length: n("peers.pairing_code_length", 16) as usize,
            auto_connect: flag(&get("peers.auto_connect", file).value).unwrap_or(true),
            merge_target: Some(get("orchestration.merge_target", file))
                .filter(|r| r.source != Source::Default)
                .and_then(|r| text(&r.value))
                .filter(|t| !t.is_empty()),
        }
    }
}

/// The restart snapshot's settings (`thrum tmux restart`, `snapshot save`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartSettings {
    pub max_lines: usize,
    pub graceful_timeout_s: u64,
}

impl RestartSettings {
    /// From `file` (config.json, parsed); a value of the wrong type, or a
    /// zero line count, falls back to the default.
    pub fn resolve(file: &Value) -> RestartSettings {
        use crate::snapshot::{DEFAULT_GRACEFUL_TIMEOUT, DEFAULT_MAX_LINES};
        RestartSettings {
            max_lines: count(&get("restart.max_lines", file).value)
                .filter(|n| *n > 0)
                .map_or(DEFAULT_MAX_LINES, |n| n as usize),
            graceful_timeout_s: count(&get("restart.graceful_timeout", file).value).unwrap_or(DEFAULT_GRACEFUL_TIMEOUT),
        }
    }
}

/// The tmux doorbell's timing (read at every sweep, so a change needs no
/// restart).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TmuxSettings {
    /// How long a pane must stay unchanged before a doorbell is typed.
    pub quiet: std::time::Duration,
    /// None: no backstop reminders.
    pub backstop: Option<std::time::Duration>,
    /// How long the pane of an agent marked working may stay silent with
    /// unread mail before a doorbell.
    pub working_silence: std::time::Duration,
}

impl TmuxSettings {
    /// From `file` (config.json, parsed); numbers may be fractional or
    /// text (as environment values are); out-of-range values are clamped
    /// and a wrong type falls back to the default.
    pub fn resolve(file: &Value) -> TmuxSettings {
        use std::time::Duration;
        let n = |key: &str, default: f64| {
            let v = get(key, file).value;
            v.as_f64()
                .or_else(|| v.as_str()?.trim().parse().ok())
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .unwrap_or(default)
        };
        let backstop = n("tmux.backstop_minutes", 15.0);
        TmuxSettings {
            quiet: Duration::from_millis(n("tmux.quiet_ms", 600.0).clamp(100.0, 60_000.0) as u64),
            backstop: (backstop > 0.0).then(|| Duration::from_secs_f64(backstop.min(1e6) * 60.0)),
            working_silence: Duration::from_secs_f64(n("tmux.working_silence_seconds", 120.0).clamp(2.0, 1e6)),
        }
    }
}

/// `thrum worktree create`'s settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeSettings {
    /// None: `~/.thrum/worktrees/<repository folder>`. As written: a
    /// leading `~/` is the caller's to expand.
    pub base_path: Option<String>,
    pub thrum_enabled: bool,
    pub beads_enabled: bool,
}

impl WorktreeSettings {
    /// From `file` (config.json, parsed); a value of the wrong type falls
    /// back to the default.
    pub fn resolve(file: &Value) -> WorktreeSettings {
        WorktreeSettings {
            base_path: Some(get("worktrees.base_path", file))
                .filter(|r| r.source != Source::Default)
                .and_then(|r| text(&r.value))
                .filter(|t| !t.trim().is_empty()),
            thrum_enabled: flag(&get("worktrees.thrum_enabled", file).value).unwrap_or(true),
            beads_enabled: flag(&get("worktrees.beads_enabled", file).value).unwrap_or(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tmux_timing_reads_fractions_and_text_and_clamps() {
        use std::time::Duration;
        let d = TmuxSettings::resolve(&json!({}));
        assert_eq!(
            (d.quiet, d.backstop, d.working_silence),
            (Duration::from_millis(600), Some(Duration::from_secs(900)), Duration::from_secs(120))
        );
        let t = json!({ "tmux": { "quiet_ms": "250", "backstop_minutes": 0.05, "working_silence_seconds": 0 } });
        let t = TmuxSettings::resolve(&t);
        assert_eq!(
            (t.quiet, t.backstop, t.working_silence),
            (Duration::from_millis(250), Some(Duration::from_secs(3)), Duration::from_secs(2))
        );
        assert_eq!(TmuxSettings::resolve(&json!({ "tmux": { "backstop_minutes": 0 } })).backstop, None);
        assert_eq!(TmuxSettings::resolve(&json!({ "tmux": { "quiet_ms": [1] } })).quiet, Duration::from_millis(600));
    }

    #[test]
    fn keys_are_declared_once_with_parseable_defaults() {
        let mut keys: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), SETTINGS.len());
        for s in SETTINGS {
            assert!(serde_json::from_str::<Value>(s.default).is_ok(), "{}", s.key);
        }
    }

    /// `config set` stores typed values and refuses the rest with what
    /// would be accepted.
    #[test]
    fn values_are_parsed_by_kind() {
        let parse = |k: &str, v: &str| find(k).map(|s| s.parse(v));
        assert_eq!(parse("daemon.local_only", "off"), Some(Ok(json!(false))));
        assert_eq!(parse("daemon.local_only", "TRUE"), Some(Ok(json!(true))));
        assert!(matches!(parse("daemon.local_only", "maybe"), Some(Err(SettingError::Invalid { .. }))));
        assert_eq!(parse("daemon.sync_interval", "30"), Some(Ok(json!(30))));
        assert!(parse("daemon.sync_interval", "0").is_some_and(|r| r.is_err()), "0 would fall back to 60");
        assert!(parse("daemon.sync_debounce_ms", "-5").is_some_and(|r| r.is_err()));
        assert_eq!(parse("daemon.sync_debounce_ms", "0"), Some(Ok(json!(0))));
        assert_eq!(parse("peers.pairing_code_length", "40").map(|r| r.is_err()), Some(true));
        assert_eq!(parse("daemon.ws_port", "Auto"), Some(Ok(json!("auto"))));
        assert_eq!(parse("daemon.ws_port", "8080"), Some(Ok(json!("8080"))));
        assert!(parse("daemon.peer_port", "70000").is_some_and(|r| r.is_err()));
        assert_eq!(parse("daemon.log_level", "DEBUG"), Some(Ok(json!("debug"))));
        let e = parse("daemon.log_level", "loud").and_then(Result::err).map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("daemon.log_level cannot be \"loud\": use debug, info, warn, warning or error"));
        assert_eq!(parse("runtime.primary", "codex"), Some(Ok(json!("codex"))));
        assert!(parse("runtime.primary", "vim").is_some_and(|r| r.is_err()));
        assert_eq!(parse("permission_supervisors", "coordinator, @lead"), Some(Ok(json!(["coordinator", "@lead"]))));
        assert_eq!(parse("permission_supervisors", r#"["a","b"]"#), Some(Ok(json!(["a", "b"]))));
        assert_eq!(parse("project_name", "thrum"), Some(Ok(json!("thrum"))));
        assert!(matches!(parse("identity.name", "x"), Some(Err(SettingError::EnvOnly { env: "THRUM_NAME", .. }))));
        // Every declared key has a kind that parses its own default's type.
        for s in SETTINGS {
            assert_ne!(s.value_kind(), Kind::FromDefault, "{}", s.key);
        }
    }

    /// Defaults, then the file (numbers as JSON or text), with values of
    /// the wrong type falling back. (The environment is the process's, so
    /// only variables no test sets are relied on here.)
    #[test]
    fn daemon_settings_from_defaults_and_the_file() {
        let d = DaemonSettings::resolve(&json!({}), None);
        assert_eq!(
            (d.local_only, d.sync_interval_s, d.sync_debounce_ms, d.sync_remote_poll_ms, d.ws_port.as_str()),
            (false, 60, 1000, 2000, "9999")
        );
        assert_eq!((d.peer_port, d.pairing_code_length, d.merge_target.as_deref()), (None, 16, None));
        let file = json!({
            "daemon": { "local_only": true, "sync_interval": 0, "sync_debounce_ms": "250", "ws_port": 8080,
                        "peer_port": "7000", "log_level": "debug" },
            "peers": { "pairing_code_length": 20 },
            "orchestration": { "merge_target": "develop" }
        });
        let d = DaemonSettings::resolve(&file, None);
        assert!(d.local_only);
        assert_eq!((d.sync_interval_s, d.sync_debounce_ms, d.ws_port.as_str()), (60, 250, "8080"));
        assert_eq!((d.peer_port, d.log_level.as_str(), d.pairing_code_length), (Some(7000), "debug", 20));
        assert_eq!(d.merge_target.as_deref(), Some("develop"));
        assert!(!DaemonSettings::resolve(&file, Some(false)).local_only, "the flag wins");
        let r = find("daemon.ws_port").map(|s| s.resolve(&file));
        assert_eq!(RestartSettings::resolve(&json!({})), RestartSettings { max_lines: 200, graceful_timeout_s: 30 });
        let restart = json!({ "restart": { "max_lines": "50", "graceful_timeout": 2 } });
        assert_eq!(RestartSettings::resolve(&restart), RestartSettings { max_lines: 50, graceful_timeout_s: 2 });
        assert_eq!(r.map(|r| r.source), Some(Source::File));
    }
}
