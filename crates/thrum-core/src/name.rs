//! Agent and group names: `[a-z0-9_]+`, bounded length, some reserved.
//!
//! Names become file names (`identities/{name}.json`,
//! `messages/{name}.jsonl`), so validation here is also what keeps paths
//! from escaping their folder.

use std::fmt;

/// Names no agent may take: they are used by the system itself.
pub const RESERVED: &[&str] = &["daemon", "system", "thrum", "all", "broadcast"];

/// The role and module the daemon registers its permission-nudge author
/// (`supervisor_<project>`) under: a reply to a nudge needs an agent to
/// go to, but it is no coding agent.
pub const PSEUDO_ROLE: &str = "supervisor";
pub const PSEUDO_MODULE: &str = "permissions";

/// Whether a registered agent is one of the daemon's reserved
/// pseudo-agents, which `thrum team` and `agent list` show only with
/// `--system` (marked ⊙). Told by name prefix, role and module together,
/// so an ordinary agent with the `supervisor` role is not caught.
pub fn is_pseudo_agent(name: &str, role: &str, module: &str) -> bool {
    name.starts_with("supervisor_") && role == PSEUDO_ROLE && module == PSEUDO_MODULE
}

/// The longest accepted name, in bytes.
pub const MAX_LEN: usize = 64;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("name is empty: pass a name such as --name alice")]
    Empty,
    #[error("name {0:?} is too long ({1} bytes, max {MAX_LEN})")]
    TooLong(String, usize),
    #[error("invalid name {0:?}: use only lowercase letters, digits and underscores ([a-z0-9_]+)")]
    BadChars(String),
    #[error("name {0:?} is reserved: pick another name")]
    Reserved(String),
}

/// A validated agent name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgentName(String);

impl AgentName {
    /// Validates `raw` as an agent name (a leading `@` is accepted and
    /// dropped, since users type `@alice`).
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let s = raw.strip_prefix('@').unwrap_or(raw);
        validate_chars(s)?;
        if RESERVED.contains(&s) {
            return Err(NameError::Reserved(s.to_string()));
        }
        Ok(AgentName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks the character set and length shared by agent, role, module and
/// group names, without the reserved-name rule.
pub fn validate_chars(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if s.len() > MAX_LEN {
        return Err(NameError::TooLong(s.to_string(), s.len()));
    }
    if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return Err(NameError::BadChars(s.to_string()));
    }
    Ok(())
}

impl fmt::Display for AgentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for AgentName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names() {
        assert_eq!(AgentName::parse("furiosa_2").map(|n| n.to_string()), Ok("furiosa_2".into()));
        assert_eq!(AgentName::parse("@bob").map(|n| n.to_string()), Ok("bob".into()));
    }

    #[test]
    fn refuses_bad_names() {
        assert_eq!(AgentName::parse(""), Err(NameError::Empty));
        assert!(matches!(AgentName::parse("Alice"), Err(NameError::BadChars(_))));
        assert!(matches!(AgentName::parse("../x"), Err(NameError::BadChars(_))));
        assert!(matches!(AgentName::parse("a-b"), Err(NameError::BadChars(_))));
        assert!(matches!(AgentName::parse("daemon"), Err(NameError::Reserved(_))));
        assert!(matches!(AgentName::parse(&"a".repeat(65)), Err(NameError::TooLong(..))));
    }
}
