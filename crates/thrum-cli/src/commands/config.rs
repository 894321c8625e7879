//! `thrum config show [--json]` (every setting's effective value and
//! where it came from) and `thrum single-agent-mode [on|off]`, plus the
//! small helpers other commands use to read and edit .thrum/config.json.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::config_err;
use crate::context::Ctx;

/// The repository (worktree) root: where `.env` and instruction files live.
pub fn repo_root(ctx: &mut Ctx) -> PathBuf {
    let start = ctx.start_dir().unwrap_or_else(|_| PathBuf::from("."));
    crate::context::worktree_root(&start).unwrap_or(start)
}

fn config_path(ctx: &mut Ctx) -> Result<PathBuf> {
    Ok(ctx.layout()?.config_file())
}

fn read_config(ctx: &mut Ctx) -> Result<Value> {
    let path = config_path(ctx)?;
    match std::fs::read_to_string(&path) {
        Ok(t) => serde_json::from_str(&t)
            .map_err(|e| config_err!("{} is not valid JSON ({e}): fix or remove it", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
        Err(e) => Err(config_err!("cannot read {}: {e}", path.display())),
    }
}

/// A dotted key's value in config.json (None when unset or unreadable).
pub fn file_value(ctx: &mut Ctx, key: &str) -> Option<Value> {
    lookup(&read_config(ctx).ok()?, key)
}

/// A dotted key's value in a parsed config (None when unset).
pub fn lookup(config: &Value, key: &str) -> Option<Value> {
    let v = key.split('.').try_fold(config, |v, k| v.get(k))?;
    (!v.is_null()).then(|| v.clone())
}

/// Changes config.json with `f`, writing it back atomically (mode 0600).
pub fn edit(ctx: &mut Ctx, f: impl FnOnce(&mut Value)) -> Result<()> {
    let path = config_path(ctx)?;
    let mut c = read_config(ctx)?;
    if !c.is_object() {
        return Err(config_err!("{} does not hold a JSON object: fix or remove it", path.display()));
    }
    f(&mut c);
    let text = format!("{}\n", serde_json::to_string_pretty(&c)?);
    thrum_core::fs::write_private(&path, text.as_bytes()).map_err(|e| anyhow!("{e}"))
}

/// One setting: its config key, the variable that overrides it, and its
/// default.
struct Key {
    key: &'static str,
    env: Option<&'static str>,
    default: Value,
    about: &'static str,
}

fn keys() -> Vec<Key> {
    let k = |key, env, default, about| Key { key, env, default, about };
    vec![
        k("daemon.local_only", Some("THRUM_LOCAL"), json!(false), "never push or fetch the a-sync branch"),
        k("daemon.sync_interval", Some("THRUM_SYNC_INTERVAL"), json!(60), "seconds between git syncs"),
        k("daemon.ws_port", Some("THRUM_WS_PORT"), json!("9999"), "HTTP/WebSocket port, or \"auto\""),
        k("daemon.log_level", None, json!("info"), "debug, info, warn or error"),
        k("daemon.single_agent_mode", None, json!(false), "one agent here: messaging instructions are left out"),
        k("runtime.primary", None, json!(crate::runtimes::DEFAULT), "default runtime preset"),
        k("peers.pairing_code_length", None, json!(16), "digits in a pairing code"),
        k(
            "orchestration.merge_target",
            None,
            json!("(remote default branch, else main)"),
            "branch work is compared with",
        ),
        k(
            "identity.name",
            Some("THRUM_NAME"),
            json!("(resolved from .thrum/identities)"),
            "which identity file to use",
        ),
        k("identity.role", Some("THRUM_ROLE"), Value::Null, "role override"),
        k("identity.module", Some("THRUM_MODULE"), Value::Null, "module override"),
        k("repo", Some("THRUM_HOME"), json!("(current directory)"), "repository to act on"),
        k("hints", Some("THRUM_NO_HINTS"), json!("on"), "CLI hints (set THRUM_NO_HINTS=1 to turn off)"),
    ]
}

#[derive(Debug, Args)]
pub struct ShowArgs {}

pub fn show(ctx: &mut Ctx, _a: ShowArgs) -> Result<u8> {
    let out = ctx.out;
    let path = config_path(ctx)?;
    let config = read_config(ctx)?;
    let mut rows = Vec::new();
    for k in keys() {
        let flag = match k.key {
            "identity.role" => ctx.role.clone().filter(|_| thrum_core::env::source("THRUM_ROLE").is_none()),
            "identity.module" => ctx.module.clone().filter(|_| thrum_core::env::source("THRUM_MODULE").is_none()),
            _ => None,
        };
        let (value, source) = if let Some(f) = flag {
            (json!(f), "flag".to_string())
        } else if let Some((v, src)) =
            k.env.and_then(|e| thrum_core::env::var(e).ok().filter(|v| !v.is_empty()).map(|v| (v, e)))
        {
            let from = thrum_core::env::source(src).unwrap_or_default();
            let source = if from == "env" { format!("env ({src})") } else { format!("{from} ({src})") };
            (json!(v), source)
        } else if let Some(v) = lookup(&config, k.key) {
            (v, "file".to_string())
        } else {
            (k.default.clone(), "default".to_string())
        };
        rows.push(json!({ "key": k.key, "value": value, "source": source, "env": k.env, "description": k.about }));
    }
    if out.json {
        out.json(&json!({ "config_file": path, "keys": rows }));
        return Ok(0);
    }
    out.line(format!("Configuration ({}):", path.display()));
    for r in &rows {
        let v = match &r["value"] {
            Value::String(s) => s.clone(),
            Value::Null => "-".into(),
            other => other.to_string(),
        };
        out.line(format!("  {:<28} {:<36} {}", r["key"].as_str().unwrap_or(""), v, r["source"].as_str().unwrap_or("")));
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct SingleAgentArgs {
    /// on or off; without it, shows the current mode.
    pub mode: Option<String>,
}

/// Whether single-agent mode is on for this repository.
pub fn single_agent(ctx: &mut Ctx) -> bool {
    file_value(ctx, "daemon.single_agent_mode").and_then(|v| v.as_bool()).unwrap_or(false)
}

pub fn single_agent_mode(ctx: &mut Ctx, a: SingleAgentArgs) -> Result<u8> {
    let out = ctx.out;
    let on = match a.mode.as_deref() {
        None => single_agent(ctx),
        Some("on") => true,
        Some("off") => false,
        Some(other) => bail!("unknown mode {other:?}: use `thrum single-agent-mode on` or `off`"),
    };
    if a.mode.is_some() {
        edit(ctx, |c| c["daemon"]["single_agent_mode"] = json!(on))?;
    }
    if out.json {
        out.json(&json!({ "single_agent_mode": on }));
    } else if on {
        out.ok("Single-agent mode is on: `thrum prime` and the instruction block leave out team messaging; notes (`thrum context`) still work");
    } else {
        out.ok("Single-agent mode is off: agents are told how to message each other");
    }
    Ok(0)
}
