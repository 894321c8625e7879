//! `tmux.*`: agents in thrum-managed tmux sessions: create, launch, look
//! at, type into, restart with context, and the per-session command queue.
//!
//! Names and shapes follow the original's `docs/rpc-api.md` (Tmux and
//! Queue methods). All are Unix-socket only: they start processes and type
//! into terminals on this machine, which no browser or peer may do.

use serde::{Deserialize, Serialize};

use super::{Empty, methods};

methods! {
    /// Creates a detached session with a clean environment in `cwd`;
    /// with `agent_name`/`role`/`module` it registers the agent inside it.
    Create = "tmux.create", CreateParams => CreateResult, socket_only;
    /// Starts a runtime (claude, codex, gemini, opencode, shell…) in a session.
    Launch = "tmux.launch", LaunchParams => LaunchResult, socket_only;
    /// This daemon's sessions: agent, runtime, state, branch.
    Status = "tmux.status", Empty => StatusResult, socket_only, idempotent;
    /// Kills a session and clears `tmux_session` from its identity file.
    Kill = "tmux.kill", NameParams => Option<Empty>, socket_only;
    /// Types text into a session (literally) and presses Enter.
    Send = "tmux.send", SendParams => Option<Empty>, socket_only;
    /// The last lines of a session's pane.
    Capture = "tmux.capture", CaptureParams => CaptureResult, socket_only, idempotent;
    /// Restarts a session's runtime with a context snapshot.
    Restart = "tmux.restart", RestartParams => RestartResult, socket_only;
    /// Queues a command for a session's pane (FIFO, dispatched on silence).
    Queue = "tmux.queue", QueueParams => QueueResult, socket_only;
    /// Blocks until a queued command is done (completed, cancelled, interrupted).
    QueueWait = "tmux.queue-wait", QueueWaitParams => QueueWaitResult, socket_only;
    /// A session's active and queued commands.
    QueueStatus = "tmux.queue-status", QueueStatusParams => QueueStatusResult, socket_only, idempotent;
    /// Cancels a queued or active command.
    Cancel = "tmux.cancel", CancelParams => QueueWaitResult, socket_only;
    /// Looks at a session's pane now (a runtime's hook says a permission
    /// prompt is up): `permission`, `working` or `idle`.
    CheckPane = "tmux.check-pane", CheckPaneParams => CheckPaneResult, socket_only;
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CheckPaneParams {
    pub session: String,
    /// Accepted for the original's clients and ignored: the daemon reads
    /// the pane itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CheckPaneResult {
    pub session: String,
    /// `permission` (a prompt waits for an answer), `working` (a turn
    /// runs), `idle`.
    pub state: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateParams {
    pub name: String,
    pub cwd: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub role: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub module: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub intent: String,
    /// Recorded as the agent's preferred runtime (quickstart `--runtime`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub no_agent: bool,
    /// Replace a session of that name (and an identity at `cwd`).
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub force: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateResult {
    pub session: String,
    /// The identity file found at `cwd` once the agent is registered.
    pub identity: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LaunchParams {
    pub name: String,
    /// Resolved by the CLI (flag > identity's preferred_runtime >
    /// runtime.primary > claude); the daemon falls back the same way.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runtime: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LaunchResult {
    pub session: String,
    pub runtime: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NameParams {
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatusResult {
    pub sessions: Vec<SessionInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub name: String,
    /// Empty for a `--no-agent` session.
    pub agent: String,
    pub role: String,
    pub module: String,
    /// `alive` (runtime running), `stale` (session without its runtime),
    /// `dead` (session gone), `idle` (runtime running, no output for two
    /// minutes), `blocked` (waiting on a permission prompt).
    pub state: String,
    pub runtime: String,
    pub branch: String,
    /// Ours: the session's working directory and its pane target.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cwd: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SendParams {
    pub name: String,
    pub text: String,
    /// Ours: type the text without pressing Enter (a single key such as
    /// a prompt's `1`).
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub no_enter: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CaptureParams {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CaptureResult {
    pub content: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RestartParams {
    pub name: String,
    #[serde(default, skip_serializing_if = "crate::methods::is_false")]
    pub force: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runtime: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RestartResult {
    pub session: String,
    pub snapshot_lines: i64,
    /// Ours: where the snapshot came from (`agent`, `transcript`, `none`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub snapshot_source: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueParams {
    pub session: String,
    pub text: String,
    pub requester: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_on_complete: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueResult {
    pub command_id: String,
    pub position: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueWaitParams {
    pub command_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueWaitResult {
    pub command_id: String,
    /// `queued`, `sent`, `completed`, `timeout_waiting`, `cancelled`,
    /// `interrupted`.
    pub state: String,
    #[serde(default)]
    pub output: String,
    #[serde(default)]
    pub elapsed_ms: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueStatusParams {
    pub session: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueStatusResult {
    pub session: String,
    pub active: Option<QueuedCommand>,
    pub queued: Vec<QueuedCommand>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueuedCommand {
    pub id: String,
    pub text: String,
    pub requester_agent: String,
    pub state: String,
    pub silence_ms: u64,
    #[serde(default)]
    pub timeout_ms: u64,
    pub notify_on_complete: bool,
    pub submitted_at: String,
    #[serde(default)]
    pub sent_at: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CancelParams {
    pub command_id: String,
}
