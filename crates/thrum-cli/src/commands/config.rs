//! `thrum config show|get|set` (every setting's effective value and
//! where it came from; one value; a checked change to config.json) and
//! `thrum single-agent-mode [on|off]`, plus the small helpers other
//! commands use to read and edit .thrum/config.json.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::{config_err, user_err};

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
        Ok(t) => serde_json::from_str(&t).map_err(|e| {
            config_err!(
                "{} is not valid JSON ({e}): fix or remove it, then rerun — nothing was changed",
                path.display()
            )
        }),
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
    try_edit(ctx, |c| {
        f(c);
        Ok(())
    })
}

/// Changes config.json with `f`, which may refuse; nothing is written
/// unless it succeeds. Other keys, known or not, are kept as they are.
pub fn try_edit(ctx: &mut Ctx, f: impl FnOnce(&mut Value) -> Result<()>) -> Result<()> {
    let path = config_path(ctx)?;
    let mut c = read_config(ctx)?;
    if !c.is_object() {
        return Err(config_err!(
            "{} does not hold a JSON object: fix or remove it, then rerun — nothing was changed",
            path.display()
        ));
    }
    f(&mut c)?;
    let text = format!("{}\n", serde_json::to_string_pretty(&c)?);
    thrum_core::fs::write_private(&path, text.as_bytes()).map_err(|e| anyhow!("{e}"))
}

/// Sets a dotted key in a parsed config (an object), making the objects
/// on its way; refuses to replace a value that is not an object with one.
fn set_path(config: &mut Value, key: &str, value: Value, path: &std::path::Path) -> Result<()> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut at = config;
    let mut walked = String::new();
    for p in parts {
        walked = if walked.is_empty() { p.to_string() } else { format!("{walked}.{p}") };
        match at.get(p) {
            Some(v) if v.is_object() => {}
            None | Some(Value::Null) => at[p] = json!({}),
            Some(v) => {
                return Err(config_err!(
                    "{walked} in {} is {v}, not an object: fix or remove it, then rerun — nothing was changed",
                    path.display()
                ));
            }
        }
        // An object, checked or made just above: indexing cannot panic.
        at = &mut at[p];
    }
    at[last] = value;
    Ok(())
}

/// A declared setting, or an error that names the closest key.
fn declared(key: &str) -> Result<&'static thrum_core::settings::Setting> {
    if let Some(s) = thrum_core::settings::find(key) {
        return Ok(s);
    }
    let closest = thrum_core::settings::SETTINGS
        .iter()
        .map(|s| (strsim::jaro_winkler(key, s.key), s.key))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.8);
    Err(match closest {
        Some((_, k)) => user_err!("unknown setting {key:?}: did you mean {k}? (`thrum config show` lists them all)"),
        None => user_err!("unknown setting {key:?}: `thrum config show` lists the settings"),
    })
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
    let s = declared(&a.key)?;
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
pub struct SetArgs {
    /// A setting's key, e.g. daemon.local_only (see `thrum config show`).
    pub key: String,
    /// The new value: true/false (or on/off) for a switch, a number, a
    /// word, or for a list a JSON array or words separated by commas.
    #[arg(allow_hyphen_values = true)]
    pub value: String,
}

/// `thrum config set KEY VALUE`: checks the key and the value against the
/// declared settings, then rewrites config.json atomically, keeping every
/// other key (ours, the original's, or unknown to both).
pub fn set(ctx: &mut Ctx, a: SetArgs) -> Result<u8> {
    let out = ctx.out;
    let s = declared(&a.key)?;
    let value = s.parse(&a.value).map_err(|e| user_err!("{e}"))?;
    let path = config_path(ctx)?;
    let mut previous = None;
    try_edit(ctx, |c| {
        previous = lookup(c, s.key);
        set_path(c, s.key, value.clone(), &path)
    })?;
    let config = read_config(ctx)?;
    let r = row(ctx, &config, s);
    // The daemon reads its settings when it starts.
    let restart = s.key.starts_with("daemon.")
        && thrum_client::pidfile::running_pid(&ctx.layout()?.lock_file(), &ctx.layout()?.pid_file()).is_some();
    if out.json {
        out.json(&json!({
            "key": s.key, "value": value, "previous": previous, "config_file": path,
            "effective": r["value"], "source": r["source"], "restart_daemon": restart,
        }));
        return Ok(0);
    }
    out.ok(format!("{} = {} (in {})", s.key, shown(&value), path.display()));
    if r["source"] != "file" {
        out.line(format!(
            "  Note: {} is in effect ({}), which wins over the file",
            shown(&r["value"]),
            r["source"].as_str().unwrap_or("")
        ));
    }
    if restart {
        out.line("  The running daemon keeps its old value until `thrum daemon restart`");
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
