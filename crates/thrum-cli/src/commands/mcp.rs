//! `thrum mcp serve`: the MCP server on stdio (see the thrum-mcp crate).

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::commands::init::InitArgs;
use crate::commands::mcp_config;
use crate::context::Ctx;
use crate::identity;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
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

/// `thrum setup`: the worktree set-up (init's flags), or a subcommand.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SetupArgs {
    #[command(subcommand)]
    pub cmd: Option<SetupCmd>,
    #[command(flatten)]
    pub init: InitArgs,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SetupCmd {
    /// Write (merge) a runtime's MCP configuration so it starts `thrum mcp serve`.
    Mcp(SetupMcpArgs),
    /// Install (merge) a runtime's hooks so new mail reaches its model; --remove takes them out.
    Hooks(super::hook::SetupHooksArgs),
    /// Print, or with --apply add, a short thrum block in ./CLAUDE.md.
    #[command(name = "claude-md")]
    ClaudeMd(super::agent_docs::AgentDocArgs),
    /// The same block in ./AGENTS.md (Codex, Amp, opencode, and others).
    #[command(name = "agents-md")]
    AgentsMd(super::agent_docs::AgentDocArgs),
    /// The same block in ./GEMINI.md.
    #[command(name = "gemini-md")]
    GeminiMd(super::agent_docs::AgentDocArgs),
}

#[derive(Debug, Args)]
pub struct SetupMcpArgs {
    /// claude (.mcp.json), cursor (.cursor/mcp.json), gemini
    /// (.gemini/settings.json) or codex (~/.codex/config.toml).
    #[arg(long, default_value = crate::runtimes::DEFAULT)]
    pub runtime: String,
    /// Pin the server to this agent (--agent-id); default: resolved at start.
    #[arg(long)]
    pub agent: Option<String>,
    /// Print the resulting file instead of writing it.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn setup(ctx: &mut Ctx, a: SetupMcpArgs) -> Result<u8> {
    let root = ctx.layout()?.worktree_root.clone();
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_default();
    let agent = a.agent.as_deref().map(|s| s.trim_start_matches('@')).filter(|s| !s.is_empty());
    let outcome = mcp_config::apply(&a.runtime, agent, &root, &home, a.dry_run)?;
    report(ctx, &outcome)?;
    Ok(0)
}

/// Prints what `apply` did (shared with `init --runtime`).
pub fn report(ctx: &mut Ctx, o: &mcp_config::Outcome) -> Result<()> {
    report_as(ctx, "MCP server", o)
}

/// Prints what a configuration write did; `what` names what was written.
pub fn report_as(ctx: &mut Ctx, what: &str, o: &mcp_config::Outcome) -> Result<()> {
    if ctx.out.json {
        ctx.out.json(o);
        return Ok(());
    }
    match o.action {
        "printed" => {
            ctx.out.line(format!("# {} (dry run: not written)", o.path));
            ctx.out.line(o.content.trim_end());
        }
        "unchanged" => ctx.out.ok(format!("{what} for {} already configured in {}", o.runtime, o.path)),
        action => {
            ctx.out.ok(format!("{what} for {} {action} in {}", o.runtime, o.path));
            if let Some(b) = &o.backup {
                ctx.out.line(format!("  previous version kept in {b}"));
            }
        }
    }
    Ok(())
}
