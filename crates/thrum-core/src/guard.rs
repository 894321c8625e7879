//! Identity guards: the named rules that keep one agent from acting as, or
//! overwriting, another, each with a mode an operator may loosen.
//!
//! Modes come from the `identity_guard` block of `.thrum/config.json`,
//! overridden key by key by `.thrum/var/guard-daemon.json` (same keys, not
//! committed, so a running team can loosen a guard for an incident without
//! a repository change). Both are read when a rule is broken, not before,
//! so an edit takes effect on the next check and a passing check costs no
//! file read.
//!
//! Forgery (a caller claiming an agent of another worktree) is not a guard:
//! no mode reaches it.

use std::path::Path;

use serde_json::Value;

use crate::Layout;

/// One named guard, as the original names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    CrossWorktree,
    QuickstartSelfRename,
    QuickstartNameCollision,
    NonGitBootstrap,
    UnauthenticatedRpc,
    DaemonWriterLiveness,
    PrimeOwnership,
    DeadPidAutoReclaim,
}

impl Guard {
    pub const ALL: [Guard; 8] = [
        Guard::CrossWorktree,
        Guard::QuickstartSelfRename,
        Guard::QuickstartNameCollision,
        Guard::NonGitBootstrap,
        Guard::UnauthenticatedRpc,
        Guard::DaemonWriterLiveness,
        Guard::PrimeOwnership,
        Guard::DeadPidAutoReclaim,
    ];

    /// The key inside the `identity_guard` block.
    pub fn key(self) -> &'static str {
        self.setting_key().trim_start_matches("identity_guard.")
    }

    /// The dotted key in config.json (declared in [`crate::settings`]).
    pub fn setting_key(self) -> &'static str {
        match self {
            Guard::CrossWorktree => "identity_guard.cross_worktree",
            Guard::QuickstartSelfRename => "identity_guard.quickstart_self_rename",
            Guard::QuickstartNameCollision => "identity_guard.quickstart_name_collision",
            Guard::NonGitBootstrap => "identity_guard.non_git_bootstrap",
            Guard::UnauthenticatedRpc => "identity_guard.unauthenticated_rpc",
            Guard::DaemonWriterLiveness => "identity_guard.daemon_writer_liveness",
            Guard::PrimeOwnership => "identity_guard.prime_ownership",
            Guard::DeadPidAutoReclaim => "identity_guard.dead_pid_auto_reclaim",
        }
    }

    /// The mode when nothing is configured.
    pub fn default_mode(self) -> Mode {
        // Reclaiming a dead agent's name is routine after a crash: say so,
        // but it is not an error.
        if self == Guard::DeadPidAutoReclaim { Mode::Warn } else { Mode::Strict }
    }
}

/// What a guard does when its rule is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refuse.
    Strict,
    /// Log (daemon.log, or a warning on the CLI) and allow.
    Warn,
    /// Allow without a word.
    Off,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "strict" => Some(Mode::Strict),
            "warn" => Some(Mode::Warn),
            "off" => Some(Mode::Off),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Strict => "strict",
            Mode::Warn => "warn",
            Mode::Off => "off",
        }
    }
}

/// Every guard's mode, and what was wrong with the files they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Guards {
    modes: [Mode; 8],
    /// Unreadable files and unknown modes, one line each, for the caller to
    /// log; the guard concerned keeps its default.
    pub problems: Vec<String>,
}

impl Default for Guards {
    fn default() -> Self {
        Guards { modes: Guard::ALL.map(Guard::default_mode), problems: Vec::new() }
    }
}

impl Guards {
    /// The modes from a repository's config.json and its guard-daemon.json.
    pub fn load(layout: &Layout) -> Guards {
        Self::load_dir(&layout.thrum_dir)
    }

    /// As [`Guards::load`], for a `.thrum/` folder that may not exist yet.
    pub fn load_dir(thrum_dir: &Path) -> Guards {
        let mut problems = Vec::new();
        let mut read = |path: &Path| -> Option<Value> {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
                Err(e) => {
                    problems.push(format!("cannot read {}: {e}; identity guards use their defaults", path.display()));
                    return None;
                }
            };
            match serde_json::from_str(&text) {
                Ok(v) => Some(v),
                Err(e) => {
                    problems.push(format!("invalid JSON in {}: {e}; fix or remove it", path.display()));
                    None
                }
            }
        };
        let config = read(&thrum_dir.join("config.json"));
        let daemon = read(&thrum_dir.join("var/guard-daemon.json"));
        let mut g = Self::from_values(config.as_ref().unwrap_or(&Value::Null), daemon.as_ref());
        problems.append(&mut g.problems);
        g.problems = problems;
        g
    }

    /// The modes from the parsed config.json and guard-daemon.json. The
    /// daemon file holds the keys either at its top level or inside an
    /// `identity_guard` block, as config.json does.
    pub fn from_values(config: &Value, daemon: Option<&Value>) -> Guards {
        let mut g = Guards::default();
        let daemon = daemon.map(|d| d.get("identity_guard").unwrap_or(d));
        for (i, guard) in Guard::ALL.into_iter().enumerate() {
            let from_daemon = daemon.and_then(|d| d.get(guard.key())).map(|v| (v, "var/guard-daemon.json"));
            let from_config = config.get("identity_guard").and_then(|b| b.get(guard.key())).map(|v| (v, "config.json"));
            let Some((v, file)) = from_daemon.or(from_config) else {
                continue;
            };
            match v.as_str().and_then(Mode::parse) {
                Some(m) => g.modes[i] = m,
                None => g.problems.push(format!(
                    "identity_guard.{} in {file} is {v}, not a mode: use \"strict\", \"warn\" or \"off\" (using {})",
                    guard.key(),
                    guard.default_mode().as_str()
                )),
            }
        }
        g
    }

    pub fn mode(&self, guard: Guard) -> Mode {
        self.modes[Guard::ALL.iter().position(|g| *g == guard).unwrap_or(0)]
    }
}

/// The one-line account of a guard firing, for logs and warnings, in the
/// original's words (`identity guard "NAME" fired: REASON`).
pub fn fired(guard: Guard, reason: &str, detail: &str) -> String {
    format!("identity guard {:?} fired: {reason}: {detail}", guard.key())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_strict_except_reclaim() {
        let g = Guards::default();
        for guard in Guard::ALL {
            let want = if guard == Guard::DeadPidAutoReclaim { Mode::Warn } else { Mode::Strict };
            assert_eq!(g.mode(guard), want, "{guard:?}");
            assert!(crate::settings::find(guard.setting_key()).is_some(), "{guard:?} is declared");
        }
    }

    #[test]
    fn the_daemon_file_wins_key_by_key() {
        let config = json!({ "identity_guard": { "cross_worktree": "warn", "prime_ownership": "off" } });
        let daemon = json!({ "cross_worktree": "off" });
        let g = Guards::from_values(&config, Some(&daemon));
        assert_eq!(g.mode(Guard::CrossWorktree), Mode::Off);
        assert_eq!(g.mode(Guard::PrimeOwnership), Mode::Off);
        assert_eq!(g.mode(Guard::UnauthenticatedRpc), Mode::Strict);
        let nested = json!({ "identity_guard": { "prime_ownership": "strict" } });
        assert_eq!(Guards::from_values(&config, Some(&nested)).mode(Guard::PrimeOwnership), Mode::Strict);
    }

    #[test]
    fn an_unknown_mode_keeps_the_default_and_says_so() {
        let g = Guards::from_values(&json!({ "identity_guard": { "non_git_bootstrap": "lax" } }), None);
        assert_eq!(g.mode(Guard::NonGitBootstrap), Mode::Strict);
        assert!(g.problems[0].contains("non_git_bootstrap") && g.problems[0].contains("\"warn\""), "{:?}", g.problems);
    }
}
