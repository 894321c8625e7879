//! `thrum tmux snapshot save|restore|check`.

use anyhow::{Result, bail};
use clap::Subcommand;

use crate::context::Ctx;

#[derive(Debug, Subcommand)]
pub enum SnapshotCmd {
    /// Save a snapshot of your conversation for the next session.
    Save {
        /// self-initiated (default), external, or context-threshold.
        #[arg(long, default_value = "self-initiated")]
        reason: String,
    },
    /// Print the snapshot and delete it (exit 1 if there is none).
    Restore,
    /// Exit 0 if a snapshot waits, 1 if not (prints nothing).
    Check,
}

pub fn run(_ctx: &mut Ctx, _cmd: SnapshotCmd) -> Result<u8> {
    bail!("thrum tmux snapshot is not built yet")
}
