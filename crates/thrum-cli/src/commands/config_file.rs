//! Writing a runtime's own configuration files (its MCP servers, its
//! hooks) without ever losing what is in them: parse, change only thrum's
//! entries, keep the previous file as `*.bak`, write atomically, and leave
//! a file we cannot parse untouched with an error that says so. A second
//! run that changes nothing writes nothing.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

/// What a write did.
#[derive(Debug, serde::Serialize)]
pub struct Outcome {
    pub runtime: String,
    pub path: String,
    /// created, updated, unchanged or printed.
    pub action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content: String,
}

impl Outcome {
    pub fn unchanged(runtime: &str, path: &Path) -> Outcome {
        Outcome {
            runtime: runtime.into(),
            path: path.display().to_string(),
            action: "unchanged",
            backup: None,
            content: String::new(),
        }
    }
}

/// The file's text, or `None` when it does not exist.
pub fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => bail!("cannot read {}: {err}", path.display()),
    }
}

/// `existing` as a JSON object (`{}` for a new or empty file), or an
/// error naming the file and saying nothing was changed.
pub fn parse_object(existing: Option<&str>, path: &Path) -> Result<Value> {
    let root: Value = match existing.map(str::trim).filter(|s| !s.is_empty()) {
        None => json!({}),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            anyhow!(
                "{} is not valid JSON ({e}); fix it or move it away, then rerun — nothing was changed",
                path.display()
            )
        })?,
    };
    if !root.is_object() {
        bail!("{} holds a JSON {}, not an object; nothing was changed", path.display(), kind(&root));
    }
    Ok(root)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
        Value::Object(_) => "object",
    }
}

/// Writes `new` over `existing` at `path` (or, with `dry_run`, returns
/// it); `None` or the same text changes nothing.
pub fn write(
    runtime: &str,
    path: &Path,
    existing: Option<String>,
    new: Option<String>,
    dry_run: bool,
) -> Result<Outcome> {
    let shown = path.display().to_string();
    let Some(new) = new.filter(|n| existing.as_deref() != Some(n.as_str())) else {
        return Ok(Outcome::unchanged(runtime, path));
    };
    if dry_run {
        return Ok(Outcome { runtime: runtime.into(), path: shown, action: "printed", backup: None, content: new });
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|err| anyhow!("cannot create {}: {err}", dir.display()))?;
    }
    let backup = match &existing {
        Some(old) => {
            let b = PathBuf::from(format!("{}.bak", path.display()));
            thrum_core::fs::write_file(&b, old.as_bytes()).map_err(|err| anyhow!("cannot write the backup {err}"))?;
            Some(b.display().to_string())
        }
        None => None,
    };
    // Never seen half-written.
    thrum_core::fs::write_file(path, new.as_bytes()).map_err(|err| anyhow!("cannot write {err}"))?;
    Ok(Outcome {
        runtime: runtime.into(),
        path: shown,
        action: if existing.is_some() { "updated" } else { "created" },
        backup,
        content: String::new(),
    })
}
