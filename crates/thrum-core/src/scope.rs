//! Scopes and refs: `type:value` routing and reference metadata.
//!
//! Both share one shape on the wire (`{"type": "module", "value": "auth"}`)
//! and one textual form on the command line (`module:auth`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A `type:value` pair. Used for scopes (`module:auth`) and refs
/// (`pr:42`, `mention:reviewer`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// Why a `type:value` string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("invalid {what} {raw:?}: expected type:value, e.g. module:auth")]
    Format { what: &'static str, raw: String },
    #[error("{what} {raw:?} is too long (max 256 bytes)")]
    TooLong { what: &'static str, raw: String },
}

impl Scope {
    pub fn new(kind: impl Into<String>, value: impl Into<String>) -> Self {
        Scope { kind: kind.into(), value: value.into() }
    }

    /// Parses `type:value`; `what` names the flag in the error ("scope", "ref").
    pub fn parse(raw: &str, what: &'static str) -> Result<Self, ScopeError> {
        if raw.len() > 256 {
            return Err(ScopeError::TooLong { what, raw: raw.to_string() });
        }
        match raw.split_once(':') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() && !k.contains(char::is_whitespace) => Ok(Scope::new(k, v)),
            _ => Err(ScopeError::Format { what, raw: raw.to_string() }),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let s = Scope::parse("module:auth", "scope").ok();
        assert_eq!(s, Some(Scope::new("module", "auth")));
        assert_eq!(Scope::new("pr", "42").to_string(), "pr:42");
        // The value may itself contain colons (URLs, proxy names).
        assert_eq!(Scope::parse("url:http://x", "ref").ok(), Some(Scope::new("url", "http://x")));
    }

    #[test]
    fn refuses_malformed() {
        for bad in ["", "module", ":auth", "module:", "a b:c"] {
            assert!(Scope::parse(bad, "scope").is_err(), "{bad}");
        }
    }

    #[test]
    fn wire_shape() {
        let j = serde_json::to_string(&Scope::new("module", "auth")).unwrap_or_default();
        assert_eq!(j, r#"{"type":"module","value":"auth"}"#);
    }
}
