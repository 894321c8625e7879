//! `thrum tmux snapshot save|restore|check`: the restart snapshot
//! (`.thrum/restart/<agent>.md`) an agent leaves for its next session.
//! `save` extracts it from the runtime's own transcript (see
//! `thrum_core::snapshot`); `thrum prime` hands it to the next session and
//! deletes it.

use anyhow::{Context as _, Result};
use clap::Subcommand;
use serde_json::json;
use thrum_core::settings::RestartSettings;
use thrum_core::snapshot::{self, Reason, transcript::Homes};

use crate::context::Ctx;
use crate::{config_err, user_err};

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

pub fn run(ctx: &mut Ctx, cmd: SnapshotCmd) -> Result<u8> {
    match cmd {
        SnapshotCmd::Save { reason } => save(ctx, &reason),
        SnapshotCmd::Restore => restore(ctx),
        SnapshotCmd::Check => check(ctx),
    }
}

/// The agent's name and its snapshot file.
fn target(ctx: &mut Ctx) -> Result<(String, std::path::PathBuf)> {
    let me = ctx.me().map_err(|e| config_err!("a restart snapshot belongs to an agent: {e:#}"))?;
    let dir = ctx.layout()?.restart_dir();
    let path = snapshot::path(&dir, &me.name);
    Ok((me.name, path))
}

fn save(ctx: &mut Ctx, reason: &str) -> Result<u8> {
    let reason = Reason::parse(reason).map_err(|e| user_err!("--reason: {e}"))?;
    let me = ctx.me().map_err(|e| config_err!("a restart snapshot belongs to an agent: {e:#}"))?;
    let layout = ctx.layout()?.clone();
    let config = super::super::config::file_value(ctx, "restart").map(|r| json!({ "restart": r }));
    let settings = RestartSettings::resolve(&config.unwrap_or_default());
    let runtime = me.file.as_ref().map(|f| f.runtime.clone()).unwrap_or_default();
    let homes = Homes::from_env();
    let src = snapshot::Source {
        var_dir: &layout.var_dir(),
        agent: &me.name,
        cwd: &layout.worktree_root,
        runtime: &runtime,
        homes: &homes,
    };
    let (snap, found) = snapshot::extract(&src, reason, settings.max_lines).map_err(|e| config_err!("{e}"))?;
    let path = snapshot::path(&layout.restart_dir(), &me.name);
    write(&path, &snap.text)?;
    let out = ctx.out;
    if out.json {
        out.json(&json!({
            "path": path, "lines": snap.lines, "truncated": snap.truncated,
            "transcript": found.path, "runtime": found.runtime, "reason": reason.as_str(),
        }));
    } else {
        out.ok(format!("Saved a restart snapshot of @{} ({} lines) to {}", me.name, snap.lines, path.display()));
        if snap.lines == 0 {
            out.warn(format!("no conversation found in {}", found.path.display()));
        }
    }
    Ok(0)
}

/// Writes a snapshot (private: it holds the conversation).
pub(crate) fn write(path: &std::path::Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    thrum_core::fs::write_private(path, text.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))
}

fn restore(ctx: &mut Ctx) -> Result<u8> {
    let (name, path) = target(ctx)?;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ctx.out.note(format!("No restart snapshot for @{name} ({} does not exist).", path.display()));
            return Ok(1);
        }
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    };
    // Printed before it is deleted: a snapshot is never lost to a failed write.
    if ctx.out.json {
        ctx.out.json(&json!({ "agent": name, "path": path, "content": text }));
    } else {
        ctx.out.text(&text);
    }
    ctx.out.flush().context("cannot print the snapshot; it is kept")?;
    std::fs::remove_file(&path).with_context(|| format!("cannot delete {}", path.display()))?;
    Ok(0)
}

fn check(ctx: &mut Ctx) -> Result<u8> {
    let (_, path) = target(ctx)?;
    Ok(if path.is_file() { 0 } else { 1 })
}
