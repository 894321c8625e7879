//! `thrum mcp serve`: an MCP server on stdio, so coding agents message
//! each other through native tools instead of shelling out.
//!
//! The server speaks MCP through the official Rust SDK (rmcp) and talks to
//! the repository's daemon over its Unix socket as one agent, starting the
//! daemon when needed and reconnecting when it restarts. Tool failures come
//! back as `isError` results with a message that says what to do; the
//! server itself never exits on a bad call.

mod daemon;
mod tools;

pub use daemon::Daemon;
pub use tools::ThrumTools;

use rmcp::ServiceExt;
use thrum_core::Layout;

/// Serves MCP on stdin/stdout as `agent_id` until the client hangs up.
pub fn serve_stdio(layout: Layout, agent_id: String) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let server = ThrumTools::new(Daemon::new(layout, agent_id));
        let running = server.serve(rmcp::transport::stdio()).await.map_err(std::io::Error::other)?;
        running.waiting().await.map_err(std::io::Error::other)?;
        Ok(())
    })
}
