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

/// One row of `config show` / `config get`: a declared setting's
/// effective value and its source (flag, env, .env, file, default).
fn row(ctx: &Ctx, config: &Value, s: &thrum_core::settings::Setting) -> Value {
    let flag = match s.key {
        "identity.role" => ctx.role.clone().filter(|_| thrum_core::env::source("THRUM_ROLE").is_none()),
        "identity.module" => ctx.module.clone().filter(|_| thrum_core::env::source("THRUM_MODULE").is_none()),
        _ => None,
    };
    let (value, source) = match flag {
        Some(f) => (json!(f), "flag".to_string()),
        None => {
            let r = s.resolve(config);
            let value = match (s.key, &r.value) {
                // The runtime registry (not the settings) knows the default runtime.
                ("runtime.primary", Value::Null) => json!(crate::runtimes::DEFAULT),
                _ => r.value,
            };
            (value, r.source.to_string())
        }
    };
    json!({ "key": s.key, "value": value, "source": source, "env": s.env, "description": s.about })
}

#[derive(Debug, Args)]
pub struct ShowArgs {}

pub fn show(ctx: &mut Ctx, _a: ShowArgs) -> Result<u8> {
    let out = ctx.out;
    let path = config_path(ctx)?;
    let config = read_config(ctx)?;
    let rows: Vec<Value> = thrum_core::settings::SETTINGS.iter().map(|s| row(ctx, &config, s)).collect();
    if out.json {
        out.json(&json!({ "config_file": path, "keys": rows }));
        return Ok(0);
    }
    out.line(format!("Configuration ({}):", path.display()));
    for r in &rows {
        out.line(format!(
            "  {:<28} {:<36} {}",
            r["key"].as_str().unwrap_or(""),
            shown(&r["value"]),
            r["source"].as_str().unwrap_or("")
        ));
    }
    Ok(0)
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// A setting's key, e.g. daemon.sync_interval (see `thrum config show`).
    pub key: String,
}

/// `thrum config get KEY`: one setting's effective value (and, with
/// --json, its source).
pub fn get(ctx: &mut Ctx, a: GetArgs) -> Result<u8> {
    let out = ctx.out;
    let Some(s) = thrum_core::settings::find(&a.key) else {
        let keys: Vec<&str> = thrum_core::settings::SETTINGS.iter().map(|s| s.key).collect();
        bail!("unknown setting {:?}: use one of {}", a.key, keys.join(", "));
    };
    let config = read_config(ctx)?;
    let r = row(ctx, &config, s);
    if out.json {
        out.json(&r);
    } else {
        out.line(shown(&r["value"]));
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct SingleAgentArgs {
    /// on, off, true or false; without it, shows the current mode.
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
        // The original's docs use both spellings.
        Some("on" | "true") => true,
        Some("off" | "false") => false,
        Some(other) => bail!("unknown mode {other:?}: use `thrum single-agent-mode on` (or true) or `off` (or false)"),
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
