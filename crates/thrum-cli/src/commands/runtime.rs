//! `thrum runtime list|show|set-default`: the runtime presets (see
//! `crate::runtimes`), what is detected of each here, and the default
//! recorded in config.json (`runtime.primary`).

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::runtimes::{self, Probe, REGISTRY};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum RuntimeCmd {
    /// Every known runtime, with what is detected of it here.
    List,
    /// One runtime's preset and detection evidence.
    Show { name: String },
    /// Record the default runtime in .thrum/config.json (runtime.primary).
    #[command(name = "set-default")]
    SetDefault { name: String },
}

/// The configured default, else the runtime we run inside, else claude;
/// with where it came from.
pub fn effective(ctx: &mut Ctx) -> (String, &'static str) {
    if let Some(p) = super::config::file_value(ctx, "runtime.primary").and_then(|v| v.as_str().map(str::to_string)) {
        return (p, "file");
    }
    let root = super::config::repo_root(ctx);
    if let Some(r) = Probe::here(&root).current() {
        return (r.name.to_string(), "detected");
    }
    (runtimes::DEFAULT.to_string(), "default")
}

pub fn run(ctx: &mut Ctx, cmd: RuntimeCmd) -> Result<u8> {
    let out = ctx.out;
    let root = super::config::repo_root(ctx);
    let probe = Probe::here(&root);
    match cmd {
        RuntimeCmd::List => {
            let (default, source) = effective(ctx);
            let found: Vec<runtimes::Evidence> = REGISTRY.iter().map(|r| probe.detect(r)).collect();
            let rows: Vec<Value> = REGISTRY
                .iter()
                .zip(&found)
                .map(|(r, ev)| {
                    json!({ "name": r.name, "label": r.label, "default": r.name == default,
                            "detected": ev.tier(), "evidence": ev, "mcp": r.mcp.is_some(), "instructions": r.instructions })
                })
                .collect();
            if out.json {
                out.json(&json!({ "runtimes": rows, "default": default, "default_source": source }));
                return Ok(0);
            }
            out.line(format!("{:<2}{:<10} {:<30} {:<9} {}", "", "RUNTIME", "", "DETECTED", "EVIDENCE"));
            for ((r, row), ev) in REGISTRY.iter().zip(&rows).zip(&found) {
                let evidence: Vec<String> = ev
                    .env
                    .iter()
                    .map(|e| format!("${e}"))
                    .chain(ev.config.iter().cloned())
                    .chain(ev.binaries.iter().map(|b| format!("{b} on PATH")))
                    .collect();
                out.line(format!(
                    "{:<2}{:<10} {:<30} {:<9} {}",
                    if row["default"] == true { "*" } else { "" },
                    r.name,
                    r.label,
                    if ev.tier().is_empty() { "-" } else { ev.tier() },
                    evidence.join(", ")
                ));
            }
            out.line(format!("\n* default ({source}); change it with `thrum runtime set-default NAME`"));
        }
        RuntimeCmd::Show { name } => {
            let r = runtimes::get(&name).ok_or_else(|| anyhow!(runtimes::unknown(&name)))?;
            let ev = probe.detect(r);
            let v = json!({
                "name": r.name, "label": r.label, "env": r.env, "config": r.config, "binaries": r.binaries,
                "instructions": r.instructions, "skill": r.skill, "mcp": r.mcp.is_some(),
                "detected": ev.tier(), "evidence": ev,
            });
            if out.json {
                out.json(&v);
                return Ok(0);
            }
            out.line(format!("{} ({})", r.label, r.name));
            out.line(format!("  Detected:     {}", if ev.tier().is_empty() { "no" } else { ev.tier() }));
            out.line(format!("  Environment:  {}", list(r.env)));
            out.line(format!("  Config:       {}", list(r.config)));
            out.line(format!("  Binaries:     {}", list(r.binaries)));
            out.line(format!("  Instructions: {}", r.instructions));
            if let Some(s) = r.skill {
                out.line(format!("  Skill:        {s}"));
            }
            out.line(format!(
                "  MCP setup:    {}",
                if r.mcp.is_some() { "thrum setup mcp --runtime NAME" } else { "not supported" }
            ));
        }
        RuntimeCmd::SetDefault { name } => {
            if runtimes::get(&name).is_none() {
                bail!(runtimes::unknown(&name));
            }
            super::config::edit(ctx, |c| c["runtime"]["primary"] = json!(name))?;
            if out.json {
                out.json(&json!({ "default": name }));
            } else {
                out.ok(format!("Default runtime: {name}"));
            }
        }
    }
    Ok(0)
}

fn list(items: &[&str]) -> String {
    if items.is_empty() { "-".into() } else { items.join(", ") }
}
