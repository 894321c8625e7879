//! `tmux.restart`: restart a session's runtime with a context snapshot.
//!
//! 1. The snapshot (`.thrum/restart/<agent>.md` in the session's
//!    worktree): one already waiting is used as it is (the agent saved
//!    it). Otherwise, unless `force`, the agent is asked by an @system
//!    message to save one, and the file is awaited for
//!    `restart.graceful_timeout` seconds; failing that, the session is
//!    killed and, once the transcript is still, the snapshot is extracted
//!    from it (`thrum_core::snapshot`).
//! 2. The session is killed and opened again the way `tmux.create` opens
//!    it, without registering the agent (its identity exists), and the
//!    runtime is launched as `tmux.launch` does. A dead session is
//!    reopened from its record. The new session's `thrum prime` (the
//!    SessionStart hook) hands the snapshot to the model and consumes it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use thrum_core::settings::RestartSettings;
use thrum_core::snapshot::transcript::{self, Homes};
use thrum_core::snapshot::{self, Reason};
use thrum_proto::methods::tmux::{LaunchParams, RestartParams, RestartResult};

use super::{blocking, tmux_fail};
use crate::caller::Caller;
use crate::error::{HResult, bad_params, server};
use crate::state::State;

/// How often the graceful wait looks for the agent's snapshot.
const POLL: Duration = Duration::from_millis(100);

/// The session to restart, live or remembered.
struct Target {
    cwd: PathBuf,
    agent: String,
    runtime: String,
    alive: bool,
}

pub async fn restart(state: &State, caller: &Caller, p: RestartParams) -> HResult<RestartResult> {
    let t = target(state, &p.name).await?;
    if t.agent.is_empty() {
        return Err(bad_params(format!(
            "tmux session {0} has no agent, so there is no context to carry: use `thrum tmux kill {0}` and `thrum tmux create {0} --cwd DIR --name NAME --role ROLE --module MODULE`",
            p.name
        )));
    }
    if super::read_identity(&t.cwd, &t.agent).is_none() {
        return Err(server(format!(
            "@{} has no identity file in {}: recreate the session with `thrum tmux create {} --cwd {} --name {} --role ROLE --module MODULE --force`",
            t.agent,
            t.cwd.display(),
            p.name,
            t.cwd.display(),
            t.agent
        )));
    }
    let layout = thrum_core::Layout::discover(&t.cwd).map_err(|e| server(format!("{}: {e}", t.cwd.display())))?;
    let file = snapshot::path(&layout.restart_dir(), &t.agent);
    let settings = RestartSettings::resolve(
        &crate::load_config(&state.layout).ok().and_then(|c| serde_json::to_value(c).ok()).unwrap_or_default(),
    );

    // A snapshot already waiting was saved by the agent (self-initiated,
    // before asking for this restart): it is used as it is.
    let saved = file.is_file()
        || (!p.force && t.alive && ask_and_wait(state, &p.name, &t.agent, &file, settings.graceful_timeout_s).await);
    if !saved && t.alive {
        // Stopped first, so the runtime finishes writing its transcript
        // and adds nothing while it is read.
        let (st, name) = (state.clone(), p.name.clone());
        blocking(move || st.tmux.tmux.kill_session(&name).map_err(tmux_fail)).await?;
    }
    let (lines, source) =
        if saved { (count(&file), "agent") } else { extract(state, &t, &file, settings.max_lines).await };

    reopen(state, &p.name, &t).await?;
    let runtime = if p.runtime.is_empty() { t.runtime.clone() } else { p.runtime.clone() };
    super::sessions::launch(state, caller, LaunchParams { name: p.name.clone(), runtime }).await?;
    tracing::info!(session = %p.name, agent = %t.agent, lines, source, "tmux session restarted with a snapshot");
    Ok(RestartResult { session: p.name, snapshot_lines: lines as i64, snapshot_source: source.into() })
}

/// The live session if it is ours, else its record (a dead session).
async fn target(state: &State, name: &str) -> HResult<Target> {
    let (st, name) = (state.clone(), name.to_string());
    blocking(move || match st.tmux.ours(&name) {
        Ok(l) => Ok(Target { cwd: l.cwd.into(), agent: l.agent, runtime: l.runtime, alive: true }),
        Err(e) => match st.tmux.record(&name) {
            // A record whose session is alive but no longer ours is not
            // ours to replace.
            Some(r) if !st.tmux.tmux.has_session(&name) => {
                Ok(Target { cwd: r.cwd.into(), agent: r.agent, runtime: r.runtime, alive: false })
            }
            _ => Err(e),
        },
    })
    .await
}

/// Asks the agent to save its snapshot, then waits for the file.
async fn ask_and_wait(state: &State, session: &str, agent: &str, file: &Path, timeout_s: u64) -> bool {
    // The command comes first: mail notices show only the start of a message.
    let text = format!(
        "Run `thrum tmux snapshot save --reason external` now: your tmux session {session} is about to be restarted with a fresh context, \
         and the snapshot carries your conversation into it (you may append a `## Resume Plan` to the file it writes). \
         Then stop. In {timeout_s} s the snapshot is taken from your transcript instead."
    );
    if let Err(e) = crate::rpc::send_from_daemon(state, "system", agent, text, None).await {
        tracing::warn!(session, agent, error = %e.0.message, "could not ask the agent to save a snapshot");
        return false;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_s);
    loop {
        if file.is_file() {
            // The agent's save is one atomic rename: a file seen is whole.
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Extracts the snapshot from the runtime's transcript into `file`:
/// (lines, source). With no transcript the restart goes on without one.
async fn extract(state: &State, t: &Target, file: &Path, max_lines: usize) -> (usize, &'static str) {
    let var_dir = state.layout.var_dir();
    let (cwd, agent, runtime, file) = (t.cwd.clone(), t.agent.clone(), t.runtime.clone(), file.to_path_buf());
    let done = tokio::task::spawn_blocking(move || {
        let homes = Homes::from_env();
        let src = snapshot::Source { var_dir: &var_dir, agent: &agent, cwd: &cwd, runtime: &runtime, homes: &homes };
        if let Some(found) = transcript::locate(&var_dir, &agent, &cwd, &runtime, &homes) {
            settle(&found.path);
        }
        let (snap, _) = snapshot::extract(&src, Reason::External, max_lines).map_err(|e| e.to_string())?;
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        thrum_core::fs::write_private(&file, snap.text.as_bytes()).map_err(|e| e.to_string())?;
        Ok::<usize, String>(snap.lines)
    })
    .await;
    match done {
        Ok(Ok(lines)) => (lines, "transcript"),
        Ok(Err(e)) => {
            tracing::warn!(agent = %t.agent, error = %e, "restart without a snapshot");
            (0, "none")
        }
        Err(e) => {
            tracing::warn!(agent = %t.agent, error = %e, "snapshot extraction failed");
            (0, "none")
        }
    }
}

/// A runtime writes its transcript a moment after the screen shows a
/// turn (Claude Code: ~0.2 s): the file is read once it has been still
/// for [`QUIET`], or after [`SETTLE_MAX`] if it never is.
const QUIET: Duration = Duration::from_millis(1000);
const SETTLE_MAX: Duration = Duration::from_secs(5);

fn settle(path: &Path) {
    let start = std::time::Instant::now();
    while start.elapsed() < SETTLE_MAX {
        let age = path.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        if age.is_none_or(|a| a >= QUIET) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn count(file: &Path) -> usize {
    std::fs::read_to_string(file).map(|t| snapshot::count_lines(&t)).unwrap_or(0)
}

/// Kills the session (when alive) and opens it again with a plain
/// `thrum tmux shell`, binding the identity to the new pane.
async fn reopen(state: &State, name: &str, t: &Target) -> HResult<()> {
    let command = super::sessions::shell_command()?;
    let (st, name2, cwd, agent, alive) = (state.clone(), name.to_string(), t.cwd.clone(), t.agent.clone(), t.alive);
    let pane = blocking(move || {
        let m = &st.tmux;
        if alive && m.tmux.has_session(&name2) {
            m.tmux.kill_session(&name2).map_err(tmux_fail)?;
        }
        super::sessions::open_session(m, &name2, &cwd, &agent, command)?;
        m.tmux.pane(&name2).map_err(tmux_fail)
    })
    .await?;
    // What quickstart in the pane would have recorded: the pane's process
    // is the agent's, so identity resolution by ancestry finds it.
    super::update_identity(&t.cwd, &t.agent, |f| {
        f.agent_pid = i64::from(pane.pid);
        f.other.insert("tmux_session".into(), pane.target.clone().into());
    })
}
