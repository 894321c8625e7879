//! `thrum mcp serve`: the MCP server on stdio (see the thrum-mcp crate).

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::context::Ctx;
use crate::identity;

#[derive(Debug, Subcommand)]
pub enum McpCmd {
    /// Serve MCP tools on stdin/stdout for a coding agent's MCP client.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The agent to act as (default: THRUM_NAME, then this worktree's identity).
    #[arg(long = "agent-id")]
    pub agent_id: Option<String>,
}

pub fn run(ctx: &mut Ctx, cmd: McpCmd) -> Result<u8> {
    match cmd {
        McpCmd::Serve(a) => serve(ctx, a),
    }
}

fn serve(ctx: &mut Ctx, a: ServeArgs) -> Result<u8> {
    let layout = ctx.layout()?.clone();
    // --agent-id wins over THRUM_NAME here: it is how a runtime's MCP
    // config pins one server to one agent.
    let me = match a.agent_id.as_deref().map(|s| s.trim_start_matches('@')).filter(|s| !s.is_empty()) {
        Some(id) => id.to_string(),
        None => identity::resolve(&layout, None)?.name,
    };
    // stdout belongs to the protocol: nothing else may print there.
    thrum_mcp::serve_stdio(layout, me)?;
    Ok(0)
}
