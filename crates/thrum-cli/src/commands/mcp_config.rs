//! Writing the MCP client configuration of a runtime, so it starts
//! `thrum mcp serve` by itself: `thrum setup mcp` and `thrum init
//! --runtime`. Existing configuration is merged, never replaced: only our
//! `thrum` entry is added or updated, a backup of the old file is kept, and
//! a file we cannot parse is left alone with an error.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

pub use crate::commands::config_file::Outcome;
pub use crate::runtimes::McpConfig as Target;

use crate::commands::config_file;

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
    let mut root = config_file::parse_object(existing, path)?;
    let obj = root.as_object_mut().ok_or_else(|| anyhow!("{} is not a JSON object", path.display()))?;
    let servers = obj.entry("mcpServers").or_insert_with(|| json!({}));
    let Some(servers) = servers.as_object_mut() else {
        bail!("{}: \"mcpServers\" is not an object; nothing was changed", path.display());
    };
    servers.insert("thrum".into(), entry.clone());
    Ok(format!("{}\n", serde_json::to_string_pretty(&root)?))
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
    let existing = config_file::read(&path)?;
    let new = match t {
        Target::Json(_) => Some(merge_json(existing.as_deref(), &e, &path)?),
        Target::CodexToml => merge_codex(existing.as_deref(), &e),
    };
    config_file::write(runtime, &path, existing, new, dry_run)
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
