//! `.thrum/config.json`: typed where thrum reads it, pass-through for
//! everything else (keys written by other tools or versions are kept).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Layout;

/// config.json could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {why}")]
    Invalid { path: String, why: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Write(#[from] crate::fs::WriteError),
}

/// The daemon section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DaemonConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_interval: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_port: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_agent_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The daemon identity block, created once by `thrum init` / first start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DaemonIdentity {
    #[serde(default)]
    pub daemon_id: String,
    #[serde(default)]
    pub repo_name: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub repo_path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub git_origin_url: String,
    #[serde(default)]
    pub init_at: String,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    #[serde(default, skip_serializing_if = "is_default_daemon")]
    pub daemon: DaemonConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<DaemonIdentity>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

fn is_default_daemon(d: &DaemonConfig) -> bool {
    *d == DaemonConfig::default()
}

impl Config {
    /// Parses the file's text; the error names what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("invalid config.json: {e}"))
    }

    /// Reads a repository's config.json (a missing file is an empty
    /// config).
    pub fn load(layout: &Layout) -> Result<Config, ConfigError> {
        let path = layout.config_file();
        match std::fs::read_to_string(&path) {
            Ok(t) => Config::parse(&t).map_err(|why| ConfigError::Invalid { path: path.display().to_string(), why }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read { path: path.display().to_string(), source }),
        }
    }

    pub fn to_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        s.push('\n');
        s
    }
}

/// Makes sure config.json holds a daemon identity: the `daemon_id` is
/// created once (with `origin_url`, asked only then, since it runs git),
/// host, path and name are refreshed. Written only when something
/// changed. `thrum init` and the daemon's start both call it.
pub fn bootstrap_identity(
    layout: &Layout,
    repo_root: &Path,
    origin_url: impl FnOnce() -> String,
) -> Result<DaemonIdentity, ConfigError> {
    let mut cfg = Config::load(layout)?;
    let mut id = cfg.identity.clone().unwrap_or_default();
    let before = id.clone();
    if id.daemon_id.is_empty() || !id.daemon_id.starts_with("d_") {
        id.daemon_id = crate::new_id(crate::IdKind::Daemon);
        id.init_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        id.git_origin_url = origin_url();
    }
    id.hostname = hostname();
    id.repo_path = repo_root.display().to_string();
    id.repo_name = repo_root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if id != before {
        cfg.identity = Some(id.clone());
        crate::fs::write_private(&layout.config_file(), cfg.to_pretty().as_bytes())?;
    }
    Ok(id)
}

/// This machine's name (the kernel's, as `uname -n` reports it).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_survive() {
        let text = r#"{"daemon":{"local_only":true,"peer_port":"auto"},"runtime":{"primary":"claude"},"identity":{"daemon_id":"d_1","repo_name":"r","hostname":"h","repo_path":"/r","init_at":"t"}}"#;
        let c = Config::parse(text).unwrap_or_default();
        assert_eq!(c.daemon.local_only, Some(true));
        let back: Value = serde_json::from_str(&c.to_pretty()).unwrap_or_default();
        let orig: Value = serde_json::from_str(text).unwrap_or_default();
        assert_eq!(back, orig);
    }

    #[test]
    fn bad_config_is_named() {
        assert!(Config::parse("{").err().unwrap_or_default().contains("invalid config.json"));
    }
}
