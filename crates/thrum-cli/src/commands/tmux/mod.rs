//! `thrum tmux`: agents in thrum-managed tmux sessions.
//!
//! - [`sessions`]: create (alias quickstart), launch, status (alias list),
//!   kill, send, capture, connect, and `shell`, the pane's first process.
//! - [`restart`]: restart a session's runtime with a context snapshot.
//! - [`snapshot`]: save, restore and check the snapshot a restart carries.
//! - [`queue`]: the per-session command queue (queue, queue-status, cancel).
//!
//! The daemon owns the sessions (`tmux.*` methods): it creates them, types
//! into them and watches them (the doorbell, the queue, permission
//! prompts); these commands ask it.

pub mod queue;
pub mod restart;
pub mod sessions;
pub mod snapshot;

use anyhow::Result;
use clap::Subcommand;

use crate::context::Ctx;

#[derive(Debug, Subcommand)]
pub enum TmuxCmd {
    /// Create a session for an agent (clean environment) and register the agent in it.
    #[command(visible_alias = "quickstart")]
    Create(sessions::CreateArgs),
    /// Start a runtime (claude, codex, gemini, opencode, shell…) in a session.
    Launch(sessions::LaunchArgs),
    /// This daemon's sessions: agent, state, runtime, branch.
    #[command(visible_alias = "list")]
    Status(sessions::StatusArgs),
    /// Tear down a session (and clear tmux_session from its identity file).
    Kill(sessions::NameArgs),
    /// Type text into a session and press Enter.
    Send(sessions::SendArgs),
    /// Print the last lines of a session's pane.
    Capture(sessions::CaptureArgs),
    /// Attach your terminal to a session.
    Connect(sessions::ConnectArgs),
    /// Restart a session's runtime, carrying its context in a snapshot.
    Restart(restart::RestartArgs),
    /// The restart snapshot: save, restore, check.
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCmd),
    /// Queue a command for a session's pane (run when it is quiet).
    Queue(queue::QueueArgs),
    /// Show a session's active and queued commands.
    #[command(name = "queue-status")]
    QueueStatus(queue::QueueStatusArgs),
    /// Cancel a queued or active command.
    Cancel(queue::CancelArgs),
    /// The first process of a thrum-managed pane (not for people): drops
    /// inherited identity variables, registers the agent, starts the shell.
    #[command(hide = true)]
    Shell(sessions::ShellArgs),
}

pub fn run(ctx: &mut Ctx, cmd: TmuxCmd) -> Result<u8> {
    match cmd {
        TmuxCmd::Create(a) => sessions::create(ctx, a),
        TmuxCmd::Launch(a) => sessions::launch(ctx, a),
        TmuxCmd::Status(a) => sessions::status(ctx, a),
        TmuxCmd::Kill(a) => sessions::kill(ctx, a),
        TmuxCmd::Send(a) => sessions::send(ctx, a),
        TmuxCmd::Capture(a) => sessions::capture(ctx, a),
        TmuxCmd::Connect(a) => sessions::connect(ctx, a),
        TmuxCmd::Shell(a) => sessions::shell(ctx, a),
        TmuxCmd::Restart(a) => restart::run(ctx, a),
        TmuxCmd::Snapshot(c) => snapshot::run(ctx, c),
        TmuxCmd::Queue(a) => queue::queue(ctx, a),
        TmuxCmd::QueueStatus(a) => queue::status(ctx, a),
        TmuxCmd::Cancel(a) => queue::cancel(ctx, a),
    }
}
