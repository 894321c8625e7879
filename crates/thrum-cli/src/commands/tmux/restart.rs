//! `thrum tmux restart NAME [--force] [--runtime R]`.

use anyhow::{Result, bail};
use clap::Args;

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

pub fn run(_ctx: &mut Ctx, _a: RestartArgs) -> Result<u8> {
    bail!("thrum tmux restart is not built yet")
}
