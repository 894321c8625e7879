//! Finding which runtimes are in use here; the registry itself (names,
//! processes, hooks, MCP targets, how to launch each) is
//! `thrum_core::runtimes`, shared with the daemon.

use std::path::{Path, PathBuf};

pub use thrum_core::runtimes::*;

/// What was found of a runtime, tier by tier.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Evidence {
    /// Environment variables set: we are running inside it.
    pub env: Vec<String>,
    /// Configuration paths that exist.
    pub config: Vec<String>,
    /// Binaries found on PATH (executable).
    pub binaries: Vec<String>,
}

impl Evidence {
    /// The strongest tier that matched: `env`, `config`, `binary`, or "".
    pub fn tier(&self) -> &'static str {
        if !self.env.is_empty() {
            "env"
        } else if !self.config.is_empty() {
            "config"
        } else if !self.binaries.is_empty() {
            "binary"
        } else {
            ""
        }
    }
}

/// Where detection looks: the environment, the home directory, the
/// repository, and PATH (all injectable for tests).
pub struct Probe<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<PathBuf>,
    pub repo: PathBuf,
    pub path: Vec<PathBuf>,
}

impl Probe<'_> {
    /// The real environment, for the repository at `repo`.
    pub fn here(repo: &Path) -> Probe<'static> {
        Probe {
            env: &|k| std::env::var(k).ok().filter(|v| !v.is_empty()),
            home: std::env::var_os("HOME").map(PathBuf::from),
            repo: repo.to_path_buf(),
            path: std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default(),
        }
    }

    pub fn detect(&self, rt: &Runtime) -> Evidence {
        let env = rt.env.iter().filter(|k| (self.env)(k).is_some()).map(|k| k.to_string()).collect();
        let config = rt
            .config
            .iter()
            .filter(|c| {
                let p = match c.strip_prefix("~/") {
                    Some(rest) => match &self.home {
                        Some(h) => h.join(rest),
                        None => return false,
                    },
                    None => self.repo.join(c),
                };
                p.exists()
            })
            .map(|c| c.to_string())
            .collect();
        let binaries = rt.binaries.iter().filter(|b| self.on_path(b)).map(|b| b.to_string()).collect();
        Evidence { env, config, binaries }
    }

    fn on_path(&self, bin: &str) -> bool {
        use std::os::unix::fs::PermissionsExt;
        self.path
            .iter()
            .any(|d| std::fs::metadata(d.join(bin)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
    }

    /// The runtime we are running inside (an environment match), if any.
    pub fn current(&self) -> Option<&'static Runtime> {
        REGISTRY.iter().find(|r| !self.detect(r).env.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_found_in_order_of_strength() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let home = dir.path().join("home");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(home.join(".gemini")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
        let exe = bin.join("codex");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap_or_else(|e| panic!("{e}"));
        // Not executable yet: not a verified binary.
        let env = |k: &str| (k == "CLAUDECODE").then(|| "1".to_string());
        let probe = Probe { env: &env, home: Some(home), repo: dir.path().to_path_buf(), path: vec![bin] };
        assert_eq!(probe.detect(get("codex").unwrap_or_else(|| panic!())).tier(), "");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(probe.detect(get("codex").unwrap_or_else(|| panic!())).tier(), "binary");
        assert_eq!(probe.detect(get("gemini").unwrap_or_else(|| panic!())).tier(), "config");
        assert_eq!(probe.detect(get("claude").unwrap_or_else(|| panic!())).tier(), "env");
        assert_eq!(probe.current().map(|r| r.name), Some("claude"));
        assert!(unknown("vim").contains("claude, codex"));
        assert_eq!(get("claude-code").map(|r| r.name), Some("claude"));
        assert_eq!(with_mcp(), "claude, codex, cursor, gemini");
        assert!(is_runtime_process("cursor-agent") && !is_runtime_process("bash"));
    }
}
