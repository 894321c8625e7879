//! `thrum tmux queue NAME CMD`, `queue-status NAME`, `cancel ID`.

use anyhow::{Result, bail};
use clap::Args;

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

pub fn queue(_ctx: &mut Ctx, _a: QueueArgs) -> Result<u8> {
    bail!("thrum tmux queue is not built yet")
}

pub fn status(_ctx: &mut Ctx, _a: QueueStatusArgs) -> Result<u8> {
    bail!("thrum tmux queue-status is not built yet")
}

pub fn cancel(_ctx: &mut Ctx, _a: CancelArgs) -> Result<u8> {
    bail!("thrum tmux cancel is not built yet")
}
