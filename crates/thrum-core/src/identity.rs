//! Agent identity files: `.thrum/identities/{name}.json` (format v5),
//! one per agent registered from a worktree. Unknown keys are preserved.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Version written by this implementation.
pub const IDENTITY_VERSION: u64 = 5;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityAgent {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub module: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display: String,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityFile {
    #[serde(default)]
    pub version: u64,
    #[serde(default)]
    pub repo_id: String,
    #[serde(default)]
    pub agent: IdentityAgent,
    #[serde(default)]
    pub worktree: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub intent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context_file: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub agent_pid: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_runtime: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent_status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent_status_updated_at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub confirmed_by: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl IdentityFile {
    /// Parses an identity file of any version (missing fields default);
    /// `claude_pid` of v3/v4 files is read as `agent_pid`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut f: IdentityFile = serde_json::from_str(text).map_err(|e| format!("invalid identity file: {e}"))?;
        if f.agent_pid == 0
            && let Some(pid) = f.other.remove("claude_pid").and_then(|v| v.as_i64())
        {
            f.agent_pid = pid;
        }
        // Very old files kept the name at the top level.
        if f.agent.name.is_empty()
            && let Some(Value::String(n)) = f.other.get("name")
        {
            f.agent.name = n.clone();
        }
        Ok(f)
    }

    /// The agent id this file stands for.
    pub fn agent_id(&self) -> &str {
        &self.agent.name
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
    fn reads_v2_and_migrates_claude_pid() {
        let v2 = r#"{"version":2,"repo_id":"r_1","agent":{"kind":"agent","name":"furiosa","role":"implementer","module":"auth","display":"Auth"},"worktree":"auth","confirmed_by":"human:leon","updated_at":"2026-02-03T18:02:10.000Z","claude_pid":42,"tmux_session":"x:0.0"}"#;
        let f = IdentityFile::parse(v2).unwrap_or_default();
        assert_eq!(f.agent.name, "furiosa");
        assert_eq!(f.agent_pid, 42);
        assert!(f.to_pretty().contains("\"tmux_session\": \"x:0.0\""));
    }
}
