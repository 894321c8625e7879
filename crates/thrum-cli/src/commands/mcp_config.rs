//! Writing the MCP client configuration of a runtime, so it starts
//! `thrum mcp serve` by itself: `thrum setup mcp` and `thrum init
//! --runtime`. Existing configuration is merged, never replaced: only our
//! `thrum` entry is added or updated, a backup of the old file is kept, and
//! a file we cannot parse is left alone with an error.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

pub use crate::runtimes::McpConfig as Target;

/// The MCP config file of a runtime, from the registry (`None`: it has no
/// MCP config, or no such runtime).
pub fn target(runtime: &str) -> Option<Target> {
    crate::runtimes::get(runtime).and_then(|r| r.mcp)
}

/// The server entry: `thrum mcp serve`, pinned to an agent when given.
pub fn entry(agent: Option<&str>) -> Value {
    let mut args = vec!["mcp".to_string(), "serve".to_string()];
    if let Some(a) = agent {
        args.push("--agent-id".into());
        args.push(a.to_string());
    }
    json!({ "command": "thrum", "args": args })
}

/// `existing` (a JSON config, or None for a new file) with our entry set
/// under `mcpServers.thrum`; everything else is kept as it was.
pub fn merge_json(existing: Option<&str>, entry: &Value, path: &Path) -> Result<String> {
    let mut root: Value = match existing.map(str::trim).filter(|s| !s.is_empty()) {
        None => json!({}),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            anyhow!(
                "{} is not valid JSON ({e}); fix it or move it away, then rerun — nothing was changed",
                path.display()
            )
        })?,
    };
    let Some(obj) = root.as_object_mut() else {
        bail!("{} holds a JSON {}, not an object; nothing was changed", path.display(), kind(&root));
    };
    let servers = obj.entry("mcpServers").or_insert_with(|| json!({}));
    let Some(servers) = servers.as_object_mut() else {
        bail!("{}: \"mcpServers\" is not an object; nothing was changed", path.display());
    };
    servers.insert("thrum".into(), entry.clone());
    Ok(format!("{}\n", serde_json::to_string_pretty(&root)?))
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

/// The TOML block for Codex.
pub fn codex_block(entry: &Value) -> String {
    let args: Vec<String> =
        entry["args"].as_array().into_iter().flatten().filter_map(Value::as_str).map(|a| format!("{a:?}")).collect();
    format!("[mcp_servers.thrum]\ncommand = \"thrum\"\nargs = [{}]\n", args.join(", "))
}

/// `existing` Codex TOML with our block appended, unless a thrum server is
/// already configured (then None: we leave the user's version alone).
pub fn merge_codex(existing: Option<&str>, entry: &Value) -> Option<String> {
    let old = existing.unwrap_or("");
    if old.lines().any(|l| l.trim() == "[mcp_servers.thrum]") {
        return None;
    }
    let mut out = old.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&codex_block(entry));
    Some(out)
}

/// What `apply` did.
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

/// Writes (or, with `dry_run`, shows) the configuration for `runtime`.
/// Project files go under `root`; Codex's under `home`.
pub fn apply(runtime: &str, agent: Option<&str>, root: &Path, home: &Path, dry_run: bool) -> Result<Outcome> {
    let t = target(runtime).ok_or_else(|| {
        anyhow!("no MCP configuration is known for runtime {runtime:?}; use one of: {}", crate::runtimes::with_mcp())
    })?;
    let e = entry(agent);
    let path: PathBuf = match t {
        Target::Json(rel) => root.join(rel),
        Target::CodexToml => home.join(".codex/config.toml"),
    };
    let existing = match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => bail!("cannot read {}: {err}", path.display()),
    };
    let new = match t {
        Target::Json(_) => Some(merge_json(existing.as_deref(), &e, &path)?),
        Target::CodexToml => merge_codex(existing.as_deref(), &e),
    };
    let shown = path.display().to_string();
    let Some(new) = new.filter(|n| existing.as_deref() != Some(n.as_str())) else {
        return Ok(Outcome {
            runtime: runtime.into(),
            path: shown,
            action: "unchanged",
            backup: None,
            content: String::new(),
        });
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
    thrum_core::fs::write_file(&path, new.as_bytes()).map_err(|err| anyhow!("cannot write {err}"))?;
    Ok(Outcome {
        runtime: runtime.into(),
        path: shown,
        action: if existing.is_some() { "updated" } else { "created" },
        backup,
        content: String::new(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_merge_keeps_everything_else() {
        let old = r#"{"theme":"dark","mcpServers":{"other":{"command":"x"}}}"#;
        let out = merge_json(Some(old), &entry(Some("alice")), Path::new(".mcp.json")).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["theme"], "dark");
        assert_eq!(v["mcpServers"]["other"]["command"], "x");
        assert_eq!(v["mcpServers"]["thrum"]["args"], json!(["mcp", "serve", "--agent-id", "alice"]));
        // Idempotent.
        assert_eq!(merge_json(Some(&out), &entry(Some("alice")), Path::new(".mcp.json")).unwrap(), out);
    }

    #[test]
    fn json_merge_refuses_what_it_cannot_read() {
        let e = merge_json(Some("{not json"), &entry(None), Path::new("x.json")).unwrap_err().to_string();
        assert!(e.contains("not valid JSON") && e.contains("nothing was changed"), "{e}");
        assert!(merge_json(Some("[1]"), &entry(None), Path::new("x.json")).is_err());
        assert!(merge_json(Some(r#"{"mcpServers": 3}"#), &entry(None), Path::new("x.json")).is_err());
    }

    #[test]
    fn codex_block_is_appended_once() {
        let old = "model = \"o4\"\n";
        let out = merge_codex(Some(old), &entry(None)).unwrap();
        assert!(
            out.starts_with(old)
                && out.contains("[mcp_servers.thrum]\ncommand = \"thrum\"\nargs = [\"mcp\", \"serve\"]")
        );
        assert_eq!(merge_codex(Some(&out), &entry(None)), None);
    }
}
