//! `thrum sync force|status`.

use anyhow::Result;
use clap::Subcommand;
use serde_json::Value;
use thrum_proto::methods::Empty;
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
    // Both answers are the sync state; `status` may add the host's
    // Tailscale, `force` says it triggered a cycle.
    let (st, tailscale, forced) = match cmd {
        SyncCmd::Force { wait } => {
            if wait {
                ctx.client()?.set_timeout(std::time::Duration::from_secs(300))?;
            }
            let r = ctx.call::<ym::SyncForce>(&ym::SyncForceParams { wait })?;
            if out.json {
                out.json(&r);
                return Ok(0);
            }
            (r.status, None, true)
        }
        SyncCmd::Status => {
            let r = ctx.call::<ym::SyncStatus>(&Empty {})?;
            if out.json {
                out.json(&r);
                return Ok(0);
            }
            (r.status, r.tailscale, false)
        }
    };
    if forced && st.last_sync_at.is_empty() {
        out.ok("Sync triggered");
        return Ok(0);
    }
    if forced {
        out.ok("Sync triggered");
    }
    out.line(format!("Mode:       {}", st.mode));
    if st.mode == "local-only" {
        out.line("            messages stay in this clone; to sync through the remote:");
        out.line("            thrum config set daemon.local_only false && thrum daemon restart");
    }
    out.line(format!("Remote:     {}", if st.remote.is_empty() { "(none)" } else { &st.remote }));
    out.line(format!("State:      {}", st.sync_state));
    if let Some(ts) = &tailscale {
        out.line(format!("Tailscale:  {}", tailscale_line(ts)));
    }
    if st.last_sync_at.is_empty() {
        out.line("Last sync:  never");
    } else {
        out.line(format!(
            "Last sync:  {} ({}, {} ms)",
            output::relative(&st.last_sync_at),
            st.last_result,
            st.last_cycle_ms
        ));
    }
    out.line(format!(
        "Events:     {} pulled, {} pushed last time ({} / {} in total)",
        st.last_pulled, st.last_pushed, st.pulled_total, st.pushed_total
    ));
    if !st.last_error.is_empty() {
        out.line(format!("Last error: {}", st.last_error));
        out.line(format!("  Fix:      {}", st.last_error_hint));
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
