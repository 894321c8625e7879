//! Backups: consistent snapshots of the store written as archives, pruned
//! by the retention policy, on demand (`backup.create`) or on the
//! `backup.schedule` interval; and the offline restore the CLI runs with
//! the daemon stopped.
//!
//! - `snapshot` — what goes in, with the log pinned under the writer.
//! - `archive` — the tar.gz format, its manifest, the atomic write.
//! - `hooks` — `post_backup` and plugin commands.
//! - `retention` — the archives of a directory, and pruning them.
//! - `schedule` — the daemon's timer.
//! - `rpc` — the `backup.*` handlers.
//! - `restore` — check an archive, then put its files back.

pub mod archive;
mod hooks;
pub mod restore;
pub mod retention;
pub mod rpc;
pub mod schedule;
mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use thrum_core::backup::BackupSettings;
use thrum_proto::methods::backup::{CreateResult, ScheduleState};

use crate::background::Worker;
use crate::error::{HResult, server};
use crate::state::State;

/// The daemon's backup service: one backup at a time, on its own
/// low-priority thread, and the schedule's state.
pub struct Backups {
    running: tokio::sync::Mutex<()>,
    worker: Option<Worker>,
    pub(crate) schedule: Mutex<ScheduleState>,
    /// Wakes the timer when the schedule changed.
    pub(crate) changed: tokio::sync::Notify,
}

impl Default for Backups {
    fn default() -> Self {
        Backups {
            running: tokio::sync::Mutex::new(()),
            worker: Worker::start("thrum-backup").ok(),
            schedule: Mutex::new(ScheduleState { schedule: "off".into(), ..Default::default() }),
            changed: tokio::sync::Notify::new(),
        }
    }
}

impl Backups {
    /// Runs `f` on the backup thread (compressing must not take a core
    /// from the writer), or here when that thread could not start.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> HResult<T> {
        match &self.worker {
            Some(w) => w.run(f).await.ok_or_else(|| server("the backup thread failed; see .thrum/var/daemon.log")),
            None => tokio::task::spawn_blocking(f).await.map_err(|_| server("the backup task failed")),
        }
    }
}

/// Beside the archives: what the newest backup held (so `status` need not
/// read through an archive to its manifest).
pub(crate) const LAST: &str = "last-backup.json";

/// The `backup` block of config.json, or why it cannot be used.
pub fn settings(state: &State) -> HResult<BackupSettings> {
    let cfg = crate::load_config(&state.layout).map_err(|e| server(e.to_string()))?;
    let file = serde_json::to_value(&cfg).unwrap_or_default();
    BackupSettings::resolve(&file).map_err(|e| server(format!("{e} (in {})", state.layout.config_file().display())))
}

/// The backup directory: `dir` (a `--dir`), else `backup.dir`, else
/// `.thrum/backup`; relative to the repository root.
pub fn backup_dir(state: &State, dir: &str, s: &BackupSettings) -> PathBuf {
    let chosen =
        [dir.trim(), s.dir.as_str()].into_iter().find(|d| !d.is_empty()).unwrap_or(thrum_core::backup::DEFAULT_DIR);
    // Without a home, `~/x` stays a folder of the repository named `~`.
    let p = thrum_core::env::expand_home(chosen).unwrap_or_else(|| PathBuf::from(chosen));
    if p.is_absolute() { p } else { state.repo_root.join(p) }
}

/// This repository's folder name inside the backup directory.
pub fn repo_name(state: &State) -> String {
    thrum_core::backup::repo_name(&state.identity.git_origin_url, &state.repo_root)
}

/// Makes `dir` (and parents), owner-only, or says how to fix it.
fn make_dir(dir: &Path) -> HResult<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| {
        server(format!(
            "cannot create the backup directory {}: {e}: choose a writable one with --dir or `thrum config set backup.dir PATH`",
            dir.display()
        ))
    })?;
    // A folder that exists but refuses files is found now, not mid-archive.
    let probe = dir.join(format!(".probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| {
        server(format!(
            "cannot write to the backup directory {}: {e}: choose a writable one with --dir or `thrum config set backup.dir PATH`",
            dir.display()
        ))
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Takes a backup: pins the log, writes the archive off the writer, prunes
/// by retention (not for a safety backup) and runs `post_backup`.
pub async fn create(state: &State, dir: &str, safety: bool) -> HResult<CreateResult> {
    let t0 = Instant::now();
    let s = settings(state)?;
    let base = backup_dir(state, dir, &s);
    let repo = repo_name(state);
    let repo_dir = base.join(&repo);
    make_dir(&repo_dir)?;
    let _one = state.backup.running.lock().await;
    let now = chrono::Utc::now();
    let dest = repo_dir.join(thrum_core::backup::archive_name(now, safety));
    if dest.exists() {
        return Err(server(format!("{} already exists: retry in a moment", dest.display())));
    }
    let plugin_env_dir = repo_dir.clone();
    let pinned = snapshot::pin(state).await?;
    let pause_ms = pinned.pause_ms;
    let st = state.clone();
    let (repo2, base2, dest2, plugins) = (repo.clone(), base.clone(), dest.clone(), s.plugins.clone());
    let written = state
        .backup
        .run(move || -> Result<_, String> {
            let env =
                hooks::HookEnv { repo_root: &st.repo_root, backup_dir: &base2, repo: &repo2, current: &plugin_env_dir };
            let (plugin_runs, plugin_files) = hooks::plugins(&plugins, &env);
            let names: Vec<String> = plugins.iter().map(|p| p.name.clone()).collect();
            let (entries, mut counts) = snapshot::entries(&st, pinned, plugin_files).map_err(|e| e.to_string())?;
            counts.plugins = names;
            let mut manifest = archive::Manifest {
                format: archive::FORMAT.into(),
                version: archive::VERSION,
                timestamp: thrum_core::time::format_ts(now),
                thrum_version: thrum_core::VERSION.into(),
                repo: repo2.clone(),
                daemon_id: st.identity.daemon_id.clone(),
                safety,
                counts,
                files: Vec::new(),
            };
            let bytes = archive::write(&dest2, entries, &mut manifest)
                .map_err(|e| format!("cannot write {}: {e}", dest2.display()))?;
            Ok((bytes, manifest.counts, plugin_runs))
        })
        .await?
        .map_err(|e| {
            tracing::warn!(error = %e, "backup failed");
            server(format!("backup failed: {e}"))
        })?;
    let (bytes, counts, plugin_runs) = written;
    let pruned = if safety {
        Vec::new()
    } else {
        let (dir2, r) = (repo_dir.clone(), s.retention);
        state.backup.run(move || retention::prune(&dir2, now, r)).await?
    };
    let post_backup = match (safety, s.post_backup.is_empty()) {
        (false, false) => {
            let (cmd, root, base2, repo2, dest2) =
                (s.post_backup.clone(), state.repo_root.clone(), base.clone(), repo.clone(), dest.clone());
            let o = state
                .backup
                .run(move || {
                    hooks::run(
                        &cmd,
                        &hooks::HookEnv { repo_root: &root, backup_dir: &base2, repo: &repo2, current: &dest2 },
                    )
                })
                .await?;
            if !o.error.is_empty() {
                tracing::warn!(command = %o.command, error = %o.error, "post_backup command failed");
            }
            Some(o)
        }
        _ => None,
    };
    tracing::info!(path = %dest.display(), bytes, events = counts.events, pause_ms, "backup written");
    let result = CreateResult {
        path: dest.display().to_string(),
        timestamp: thrum_core::time::format_ts(now),
        bytes,
        repo_dir: repo_dir.display().to_string(),
        repo,
        counts,
        pruned,
        post_backup,
        plugins: plugin_runs,
        pause_ms,
        elapsed_ms: t0.elapsed().as_secs_f64() * 1000.0,
    };
    if !safety && let Ok(body) = serde_json::to_vec_pretty(&result) {
        let _ = thrum_core::fs::write_private(&repo_dir.join(LAST), &body);
    }
    Ok(result)
}
