//! `.thrum/config.json`: typed where thrum reads it, pass-through for
//! everything else (keys written by other tools or versions are kept).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

    pub fn to_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        s.push('\n');
        s
    }
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
