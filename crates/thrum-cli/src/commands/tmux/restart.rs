//! `thrum tmux restart NAME [--force] [--runtime R]`: the daemon saves the
//! session's context as a snapshot (asking the agent first, unless
//! `--force`), kills the session, recreates it and relaunches the runtime,
//! whose first briefing carries the snapshot.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use serde_json::json;
use thrum_core::settings::RestartSettings;
use thrum_proto::methods::tmux as tm;

use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// The session.
    pub name: String,
    /// Skip asking the agent to save its own snapshot; extract it from the transcript.
    #[arg(long)]
    pub force: bool,
    /// Relaunch with another runtime.
    #[arg(long)]
    pub runtime: Option<String>,
}

/// Beyond the graceful wait: killing, recreating and launching.
const REOPEN_ALLOWANCE: Duration = Duration::from_secs(60);

pub fn run(ctx: &mut Ctx, a: RestartArgs) -> Result<u8> {
    let config = super::super::config::file_value(ctx, "restart").map(|r| json!({ "restart": r }));
    let graceful = RestartSettings::resolve(&config.unwrap_or_default()).graceful_timeout_s;
    // The daemon answers after the graceful wait: longer than a call's usual timeout.
    ctx.client()?.set_timeout(Duration::from_secs(graceful) + REOPEN_ALLOWANCE)?;
    let params = tm::RestartParams { name: a.name, force: a.force, runtime: a.runtime.unwrap_or_default() };
    let r = ctx.call::<tm::Restart>(&params)?;
    let out = ctx.out;
    if r.snapshot_lines == 0 {
        out.warn(format!(
            "the snapshot of {} is empty ({}): the new session starts without its conversation",
            r.session,
            match r.snapshot_source.as_str() {
                "none" => "no transcript was found; see the daemon log",
                _ => "nothing to carry over",
            }
        ));
    }
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    let from = match r.snapshot_source.as_str() {
        "agent" => "saved by the agent",
        "transcript" => "extracted from the transcript",
        _ => "none",
    };
    out.ok(format!("Restarted tmux session {} (snapshot: {} lines, {from})", r.session, r.snapshot_lines));
    Ok(0)
}
