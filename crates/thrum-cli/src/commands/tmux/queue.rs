//! `thrum tmux queue NAME CMD`, `queue-status NAME`, `cancel ID`.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use thrum_proto::methods::tmux as tm;

use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct QueueArgs {
    /// The session.
    pub name: String,
    /// The command line to type into the pane.
    pub command: String,
    /// Seconds before the command times out.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Block until the command is done and print its output (no @system message).
    #[arg(long)]
    pub wait: bool,
    /// Seconds of quiet that mean the command finished.
    #[arg(long, default_value_t = 5.0)]
    pub silence: f64,
}

#[derive(Debug, Args)]
pub struct QueueStatusArgs {
    /// The session.
    pub name: String,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The command's id (cmd_…).
    pub command_id: String,
}

/// How long one `tmux.queue-wait` call may block before the CLI asks
/// again (a command may wait in the queue for any length of time).
const WAIT_CHUNK: Duration = Duration::from_secs(60);

pub fn queue(ctx: &mut Ctx, a: QueueArgs) -> Result<u8> {
    if a.timeout == 0 {
        bail!("--timeout must be at least 1 second");
    }
    if !a.silence.is_finite() || !(0.1..=600.0).contains(&a.silence) {
        bail!("--silence must be between 0.1 and 600 seconds (e.g. --silence 2.5)");
    }
    let me = ctx.me().context("the queue reports back to an agent: cannot tell who you are")?;
    let params = tm::QueueParams {
        session: a.name.clone(),
        text: a.command,
        requester: me.name,
        timeout_ms: Some(a.timeout.saturating_mul(1000)),
        silence_ms: Some((a.silence * 1000.0).round() as u64),
        notify_on_complete: Some(!a.wait),
    };
    let r = ctx.call::<tm::Queue>(&params)?;
    let out = ctx.out;
    if !a.wait {
        if out.json {
            out.json(&r);
        } else {
            out.line(format!("Queued {} (position {})", r.command_id, r.position));
        }
        return Ok(0);
    }
    if !out.json {
        out.note(format!("Queued {} (position {}); waiting for it", r.command_id, r.position));
    }
    let client = ctx.client()?;
    client.set_timeout(WAIT_CHUNK + Duration::from_secs(10))?;
    let done = loop {
        let p =
            tm::QueueWaitParams { command_id: r.command_id.clone(), timeout_ms: Some(WAIT_CHUNK.as_millis() as u64) };
        // On this connection, with its long timeout; a call that ends
        // with the command still pending is simply made again.
        let w = client.call::<tm::QueueWait>(&p).with_context(|| {
            format!(
                "lost the daemon while waiting for {}: it will be reported as interrupted in your inbox",
                r.command_id
            )
        })?;
        if !matches!(w.state.as_str(), "queued" | "sent") {
            break w;
        }
    };
    if out.json {
        out.json(&done);
    } else {
        out.line(format!("State: {}", done.state));
        out.line(format!("Elapsed: {}ms", done.elapsed_ms));
        if !done.output.is_empty() {
            out.line(done.output.trim_end_matches('\n'));
        }
    }
    match done.state.as_str() {
        "completed" => Ok(0),
        "timeout_waiting" => {
            if !out.json {
                out.note(format!(
                    "{} is still running in {} past its timeout; cancel it with `thrum tmux cancel {}`",
                    done.command_id, a.name, done.command_id
                ));
            }
            Ok(1)
        }
        _ => Ok(1),
    }
}

pub fn status(ctx: &mut Ctx, a: QueueStatusArgs) -> Result<u8> {
    let r = ctx.call::<tm::QueueStatus>(&tm::QueueStatusParams { session: a.name })?;
    let out = ctx.out;
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    if r.active.is_none() && r.queued.is_empty() {
        out.line(format!("No commands queued for {}.", r.session));
        return Ok(0);
    }
    if let Some(c) = &r.active {
        out.line(format!("Active:  {}  {:<15}  @{}  {}", c.id, c.state, c.requester_agent, c.text));
    }
    for (i, c) in r.queued.iter().enumerate() {
        out.line(format!("Queued {}: {}  @{}  {}", i + 1, c.id, c.requester_agent, c.text));
    }
    Ok(0)
}

pub fn cancel(ctx: &mut Ctx, a: CancelArgs) -> Result<u8> {
    let r = ctx.call::<tm::Cancel>(&tm::CancelParams { command_id: a.command_id })?;
    let out = ctx.out;
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    if r.elapsed_ms == 0 && r.output.is_empty() {
        out.line(format!("Cancelled {} (it had not been sent).", r.command_id));
        return Ok(0);
    }
    out.line(format!(
        "Cancelled {}. It may still be running in the pane: thrum types nothing to stop it.",
        r.command_id
    ));
    if !r.output.is_empty() {
        out.line("Output so far:");
        out.line(r.output.trim_end_matches('\n'));
    }
    Ok(0)
}
