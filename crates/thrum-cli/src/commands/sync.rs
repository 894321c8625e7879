//! `thrum sync force|status`.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};
use thrum_proto::methods::system as ym;

use crate::context::Ctx;
use crate::output;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SyncCmd {
    /// Sync now (returns at once; --wait blocks until the cycle is done).
    Force {
        #[arg(long)]
        wait: bool,
    },
    /// Mode, remote, last sync and its result.
    Status,
}

pub fn run(ctx: &mut Ctx, cmd: SyncCmd) -> Result<u8> {
    let out = ctx.out;
    let (v, forced): (Value, bool) = match cmd {
        SyncCmd::Force { wait } => {
            if wait {
                ctx.client()?.set_timeout(std::time::Duration::from_secs(300))?;
            }
            (ctx.call_value(ym::SYNC_FORCE, json!({ "wait": wait }))?, true)
        }
        SyncCmd::Status => (ctx.call_value(ym::SYNC_STATUS, json!({}))?, false),
    };
    if out.json {
        out.json(&v);
        return Ok(0);
    }
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    if forced && s("last_sync_at").is_empty() {
        out.ok("Sync triggered");
        return Ok(0);
    }
    if forced {
        out.ok("Sync triggered");
    }
    out.line(format!("Mode:       {}", s("mode")));
    out.line(format!("Remote:     {}", if s("remote").is_empty() { "(none)".to_string() } else { s("remote") }));
    out.line(format!("State:      {}", s("sync_state")));
    if let Some(ts) = v.get("tailscale") {
        out.line(format!("Tailscale:  {}", tailscale_line(ts)));
    }
    if s("last_sync_at").is_empty() {
        out.line("Last sync:  never");
    } else {
        out.line(format!(
            "Last sync:  {} ({}, {} ms)",
            output::relative(&s("last_sync_at")),
            s("last_result"),
            n("last_cycle_ms")
        ));
    }
    out.line(format!(
        "Events:     {} pulled, {} pushed last time ({} / {} in total)",
        n("last_pulled"),
        n("last_pushed"),
        n("pulled_total"),
        n("pushed_total")
    ));
    if !s("last_error").is_empty() {
        out.line(format!("Last error: {}", s("last_error")));
        out.line(format!("  Fix:      {}", s("last_error_hint")));
    }
    Ok(0)
}

/// `running (100.64.0.1)`, or the state and what to do about it.
pub fn tailscale_line(ts: &Value) -> String {
    let state = ts["state"].as_str().unwrap_or("unknown");
    let addrs: Vec<&str> = ts["addresses"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    match ts["hint"].as_str() {
        Some(h) => format!("{state}: {h}"),
        None => format!("{state} ({})", addrs.join(", ")),
    }
}
