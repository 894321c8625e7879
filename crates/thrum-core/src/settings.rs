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
}

const fn s(key: &'static str, env: Option<&'static str>, default: &'static str, about: &'static str) -> Setting {
    Setting { key, env, default, about, file_first: false }
}

/// Every setting, in the order `thrum config show` lists them.
pub const SETTINGS: &[Setting] = &[
    s("daemon.local_only", Some("THRUM_LOCAL"), "false", "never push or fetch the a-sync branch"),
    s("daemon.sync_interval", Some("THRUM_SYNC_INTERVAL"), "60", "seconds between git syncs"),
    s("daemon.sync_debounce_ms", Some("THRUM_SYNC_DEBOUNCE_MS"), "1000", "milliseconds from a local write to its push"),
    s(
        "daemon.sync_remote_poll_ms",
        Some("THRUM_SYNC_REMOTE_POLL_MS"),
        "2000",
        "milliseconds between cheap checks for other clones' pushes (0: off)",
    ),
    s("daemon.ws_port", Some("THRUM_WS_PORT"), "\"9999\"", "HTTP/WebSocket port, or \"auto\""),
    Setting {
        key: "daemon.peer_port",
        env: Some("THRUM_TS_PORT"),
        default: "\"(the port used last time, else any)\"",
        about: "TCP port for network peers (the file wins over THRUM_TS_PORT)",
        file_first: true,
    },
    s("daemon.log_level", None, "\"info\"", "debug, info, warn or error"),
    s("daemon.single_agent_mode", None, "false", "one agent here: messaging instructions are left out"),
    s("runtime.primary", None, "null", "default runtime preset"),
    s("tmux.socket", Some("THRUM_TMUX_SOCKET"), "null", "a private tmux server (tmux -L NAME) for managed sessions"),
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
    ),
    s(
        "restart.graceful_timeout",
        None,
        "30",
        "seconds `thrum tmux restart` waits for the agent's own snapshot before extracting one",
    ),
    s("peers.pairing_code_length", None, "16", "digits in a pairing code"),
    s(
        "peers.auto_connect",
        None,
        "true",
        "dial the paired peers when the daemon starts (off: a link starts when a message goes to or comes from the peer)",
    ),
    s("orchestration.merge_target", None, "\"(remote default branch, else main)\"", "branch work is compared with"),
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
    s("identity.name", Some("THRUM_NAME"), "\"(resolved from .thrum/identities)\"", "which identity file to use"),
    s("identity.role", Some("THRUM_ROLE"), "null", "role override"),
    s("identity.module", Some("THRUM_MODULE"), "null", "module override"),
    s("identity.display", Some("THRUM_DISPLAY"), "null", "display name override"),
    s("repo", Some("THRUM_HOME"), "\"(current directory)\"", "repository to act on"),
    s("hints", Some("THRUM_NO_HINTS"), "\"on\"", "CLI hints (set THRUM_NO_HINTS=1 to turn off)"),
];

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
