//! `thrum backup [--dir DIR]`, `backup status`, `backup config`,
//! `backup restore [ARCHIVE] [--yes]`, `backup schedule [INTERVAL|off]`.
//!
//! A backup is taken by the daemon (it owns the log, so the snapshot has
//! no half-written write in it); restoring needs the daemon stopped, so
//! the CLI does it: check the archive, confirm, take a safety backup, stop
//! the daemon (holding the start lock so nothing restarts it meanwhile),
//! put the files back, start the daemon again.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::{Args, Subcommand};
use serde_json::json;
use thrum_core::backup::BackupSettings;
use thrum_proto::methods::backup::{self as bm, Counts};

use crate::context::Ctx;
use crate::error::{CliError, ErrorKind};
use crate::output;

/// A backup of a large store takes a while; so does the safety backup.
const BACKUP_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Backup directory for this command (else `backup.dir`, else .thrum/backup).
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<String>,
    #[command(subcommand)]
    pub cmd: Option<BackupCmd>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// The newest backup, the archives kept and the schedule.
    Status,
    /// The effective backup settings.
    Config,
    /// Restore the newest backup (or ARCHIVE): a safety backup is taken
    /// first, and the daemon is stopped for the restore and started again.
    Restore(RestoreArgs),
    /// Show or set the interval of the daemon's automatic backups.
    Schedule(ScheduleArgs),
    /// Third-party data collected with each backup: list, add, remove.
    #[command(subcommand)]
    Plugin(PluginCmd),
}

#[derive(Debug, Subcommand)]
pub enum PluginCmd {
    /// The plugins in `backup.plugins`.
    List,
    /// Add a plugin: a built-in preset, or a name, a command and globs.
    Add(PluginAddArgs),
    /// Remove a plugin by name.
    Remove {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct PluginAddArgs {
    /// A built-in preset: beads.
    #[arg(long, conflicts_with_all = ["name", "command", "include"])]
    pub preset: Option<String>,
    #[arg(long, required_unless_present = "preset")]
    pub name: Option<String>,
    /// Shell command run (in the repository root) before the files are collected.
    #[arg(long)]
    pub command: Option<String>,
    /// Files to collect, relative to the repository root (`*` and `?`; repeatable).
    #[arg(long, required_unless_present = "preset")]
    pub include: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// An archive written by `thrum backup` (default: the newest one).
    pub archive: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// An interval such as 24h, 6h30m or 90s, or `off`.
    pub interval: Option<String>,
}

pub fn run(ctx: &mut Ctx, a: BackupArgs) -> Result<u8> {
    let given = a.dir.unwrap_or_default();
    // A relative --dir is from here (the daemon would take it from the
    // repository root); `schedule --dir` stores it as typed, like config.json.
    let dir = match (&a.cmd, given.is_empty()) {
        (Some(BackupCmd::Schedule(_)), _) | (_, true) => given,
        _ => std::path::absolute(&given).map(|p| p.display().to_string()).unwrap_or(given),
    };
    match a.cmd {
        None => create(ctx, &dir),
        Some(BackupCmd::Status) => status(ctx, &dir),
        Some(BackupCmd::Config) => config(ctx, &dir),
        Some(BackupCmd::Restore(r)) => restore(ctx, &dir, r),
        Some(BackupCmd::Schedule(s)) => schedule(ctx, &dir, s),
        Some(BackupCmd::Plugin(p)) => plugin(ctx, p),
    }
}

fn user(msg: impl std::fmt::Display) -> anyhow::Error {
    CliError::new(ErrorKind::User, anyhow!("{msg}")).into()
}

fn create(ctx: &mut Ctx, dir: &str) -> Result<u8> {
    let out = ctx.out;
    ctx.client()?.set_timeout(BACKUP_TIMEOUT)?;
    let r = ctx.call::<bm::Create>(&bm::CreateParams { dir: dir.to_string(), safety: false })?;
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    out.ok(format!("Backup complete: {}", r.path));
    counts_lines(ctx, &r.counts);
    out.line(format!("  Size: {} ({:.0} ms; writes paused {:.1} ms)", size(r.bytes), r.elapsed_ms, r.pause_ms));
    for p in &r.pruned {
        out.line(format!("  Pruned: {p}"));
    }
    for p in &r.plugins {
        if !p.error.is_empty() {
            out.warn(format!("plugin command `{}` failed: {}", p.command, p.error));
        }
    }
    if let Some(p) = &r.post_backup {
        if p.error.is_empty() {
            out.line(format!("  post_backup: {} (ok)", p.command));
        } else {
            out.warn(format!("post_backup `{}` failed: {}", p.command, p.error));
        }
    }
    Ok(0)
}

fn counts_lines(ctx: &Ctx, c: &Counts) {
    let out = ctx.out;
    out.line(format!("  Events: {} lines", c.events));
    out.line(format!("  Message files: {}", c.message_files));
    out.line(format!("  Config files: {}", c.config_files));
    out.line(format!("  Local files: {}", c.local_files));
    if !c.plugins.is_empty() {
        out.line(format!("  Plugins: {}", c.plugins.join(", ")));
    }
}

/// Bytes as B / KB / MB.
fn size(b: u64) -> String {
    match b {
        0..1_000 => format!("{b} B"),
        1_000..1_000_000 => format!("{:.1} KB", b as f64 / 1e3),
        _ => format!("{:.1} MB", b as f64 / 1e6),
    }
}

fn status(ctx: &mut Ctx, dir: &str) -> Result<u8> {
    let out = ctx.out;
    let r = ctx.call::<bm::Status>(&bm::StatusParams { dir: dir.to_string() })?;
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    match &r.last {
        None => out.line(format!("No backups yet in {}: run `thrum backup`", r.repo_dir)),
        Some(l) => {
            out.line(format!("Last backup: {} ({})", output::absolute(&l.timestamp), output::relative(&l.timestamp)));
            out.line(format!("  Archive: {} ({})", l.path, size(l.bytes)));
            if let Some(c) = &r.counts {
                counts_lines(ctx, c);
            }
        }
    }
    if let (Some(first), Some(last)) = (r.archives.first(), r.archives.last()) {
        out.line(format!("Archives: {} ({}) in {}", r.archives.len(), size(r.total_bytes), r.repo_dir));
        out.line(format!("  Oldest: {}", output::absolute(&first.timestamp)));
        out.line(format!("  Newest: {}", output::absolute(&last.timestamp)));
        let safety = r.archives.iter().filter(|a| a.safety).count();
        if safety > 0 {
            out.line(format!("  Safety backups (never pruned): {safety}"));
        }
    }
    schedule_line(ctx, &r.schedule);
    Ok(0)
}

fn schedule_line(ctx: &Ctx, s: &bm::ScheduleState) {
    let out = ctx.out;
    if s.schedule == "off" {
        out.line("Schedule: off (`thrum backup schedule 24h` turns it on)");
    } else if s.next_run.is_empty() {
        out.line(format!("Schedule: every {}", s.schedule));
    } else {
        out.line(format!("Schedule: every {} (next: {})", s.schedule, output::absolute(&s.next_run)));
    }
    if !s.last_run.is_empty() {
        out.line(format!("  Last scheduled run: {}", output::absolute(&s.last_run)));
    }
    if !s.last_error.is_empty() {
        out.warn(format!("last scheduled backup failed: {}", s.last_error));
    }
}

/// The `backup` block as config.json has it, checked.
fn settings(ctx: &mut Ctx) -> Result<BackupSettings> {
    let layout = ctx.layout()?.clone();
    let cfg = thrum_core::config::Config::load(&layout).map_err(|e| CliError::new(ErrorKind::Config, e))?;
    let file = serde_json::to_value(&cfg).unwrap_or_default();
    BackupSettings::resolve(&file).map_err(|e| CliError::new(ErrorKind::Config, anyhow!("{e}")).into())
}

fn config(ctx: &mut Ctx, dir: &str) -> Result<u8> {
    let out = ctx.out;
    let s = settings(ctx)?;
    let (shown, source) = match (dir.is_empty(), s.dir.is_empty()) {
        (false, _) => (dir.to_string(), "--dir"),
        (true, false) => (s.dir.clone(), "config.json"),
        (true, true) => (thrum_core::backup::DEFAULT_DIR.to_string(), "default"),
    };
    if out.json {
        out.json(&json!({
            "dir": shown,
            "dir_source": source,
            "schedule": s.schedule_text,
            "retention": s.retention,
            "post_backup": s.post_backup,
            "plugins": s.plugins,
        }));
        return Ok(0);
    }
    let tier = |n: i64| match n {
        -1 => "forever".to_string(),
        0 => "none".to_string(),
        n => n.to_string(),
    };
    out.line(format!("Backup directory: {shown} ({source})"));
    out.line(format!(
        "Schedule: {}",
        if s.schedule.is_some() { format!("every {}", s.schedule_text) } else { "off".into() }
    ));
    out.line("Retention:");
    out.line(format!("  Daily: {}", tier(s.retention.daily)));
    out.line(format!("  Weekly: {}", tier(s.retention.weekly)));
    out.line(format!("  Monthly: {}", tier(s.retention.monthly)));
    out.line(format!("Post-backup: {}", if s.post_backup.is_empty() { "(none)" } else { &s.post_backup }));
    if s.plugins.is_empty() {
        out.line("Plugins: (none)");
    } else {
        out.line("Plugins:");
        for p in &s.plugins {
            out.line(format!("  {}: {} [{}]", p.name, p.command, p.include.join(", ")));
        }
    }
    Ok(0)
}

fn schedule(ctx: &mut Ctx, dir: &str, a: ScheduleArgs) -> Result<u8> {
    let out = ctx.out;
    let interval = a.interval.unwrap_or_default();
    if !interval.is_empty()
        && let Err(e) = thrum_core::backup::parse_schedule(&interval)
    {
        return Err(user(format!("backup schedule {e}")));
    }
    let r = ctx.call::<bm::Schedule>(&bm::ScheduleParams { interval: interval.clone(), dir: dir.to_string() })?;
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    if r.changed {
        if r.schedule.schedule == "off" {
            out.ok("Scheduled backups turned off");
        } else {
            out.ok(format!("Backups scheduled every {}", r.schedule.schedule));
        }
        if !dir.is_empty() {
            out.ok(format!("Backup directory set to {}", r.dir));
        }
    }
    schedule_line(ctx, &r.schedule);
    Ok(0)
}

fn restore(ctx: &mut Ctx, dir: &str, a: RestoreArgs) -> Result<u8> {
    let out = ctx.out;
    let layout = ctx.layout()?.clone();
    let archive = match &a.archive {
        Some(p) => std::path::absolute(p).unwrap_or_else(|_| p.clone()),
        None => {
            let st = ctx.call::<bm::Status>(&bm::StatusParams { dir: dir.to_string() })?;
            match st.last {
                Some(l) => PathBuf::from(l.path),
                None => {
                    return Err(user(format!(
                        "no backup to restore in {}: pass an ARCHIVE, or take one with `thrum backup`",
                        st.repo_dir
                    )));
                }
            }
        }
    };
    // Checked in full before anything changes: a bad archive stops here.
    let ms = |t: std::time::Instant| (t.elapsed().as_secs_f64() * 1000.0).round();
    let t = std::time::Instant::now();
    let staged = crate::commands::daemon::restore_stage(&archive, &layout.var_dir()).map_err(user)?;
    let check_ms = ms(t);
    if !a.yes && !confirm(&archive, &staged.manifest.timestamp, staged.manifest.counts.events)? {
        out.line("Restore cancelled; nothing changed.");
        return Ok(1);
    }
    ctx.client()?.set_timeout(BACKUP_TIMEOUT)?;
    let t = std::time::Instant::now();
    let safety = ctx
        .call::<bm::Create>(&bm::CreateParams { dir: dir.to_string(), safety: true })
        .map_err(|e| anyhow!("the safety backup failed, so nothing was restored: {e:#}"))?;
    if !out.json {
        out.line(format!("Safety backup: {}", safety.path));
    }
    // Nothing may start the daemon while its files are replaced: hold the
    // lock every autostart takes.
    let safety_ms = ms(t);
    let t = std::time::Instant::now();
    let lock = start_lock(&layout)?;
    let stopped = thrum_client::stop_daemon(&layout, None, thrum_client::STOP_TIMEOUT)?;
    ctx.set_layout(layout.clone());
    if stopped.is_some() && !out.json {
        out.line("Daemon stopped for restore.");
    }
    let stop_ms = ms(t);
    let t = std::time::Instant::now();
    let log_dir = crate::commands::daemon::prepare_log_dir(&layout, &layout.repo_root());
    let done = crate::commands::daemon::restore_apply(&staged, &layout, &log_dir).map_err(|e| {
        anyhow!(
            "{e}: the restore stopped part way; restore the safety backup with `thrum backup restore {} --yes`",
            safety.path
        )
    })?;
    drop(lock);
    drop(staged);
    let put_back_ms = ms(t);
    let t = std::time::Instant::now();
    let started = thrum_client::start_daemon(&layout, None);
    let start_ms = ms(t);
    if out.json {
        out.json(&json!({
            "restored_from": archive,
            "safety_backup": safety.path,
            "files": done.files,
            "events": done.events,
            "removed": done.removed,
            "missing_worktrees": done.missing_worktrees,
            "daemon_started": started.is_ok(),
            "timings_ms": {
                "check": check_ms, "safety_backup": safety_ms, "stop": stop_ms,
                "put_back": put_back_ms, "start": start_ms,
            },
        }));
    } else {
        out.ok(format!("Restored from: {} ({} events, {} files)", archive.display(), done.events, done.files));
        for wt in &done.missing_worktrees {
            out.warn(format!(
                "the identities of worktree {} were left out: it is not here; recreate it (thrum worktree create) and restore again, or register its agents anew",
                wt.display()
            ));
        }
        match &started {
            Ok(_) => out.line("Daemon started again; it rebuilt its database from the restored log."),
            Err(e) => out.warn(format!("the daemon did not start again ({e}): run `thrum daemon start`")),
        }
    }
    Ok(0)
}

/// Asks on the terminal; refuses when stdin is not one.
fn confirm(archive: &Path, taken: &str, events: u64) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(user(
            "refusing to restore without confirmation: stdin is not a terminal; pass --yes to restore anyway",
        ));
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "This will replace this repository's thrum data with the backup:");
    let _ = writeln!(err, "  Archive: {}", archive.display());
    let _ = writeln!(err, "  Taken:   {} ({events} events)", output::absolute(taken));
    let _ = writeln!(err, "A safety backup of the current data is taken first.");
    let _ = write!(err, "Continue? [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// Holds `.thrum/var/start.lock` (released on drop) so no client starts a
/// daemon meanwhile; one that tries waits for us.
fn start_lock(layout: &thrum_core::Layout) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = layout.start_lock_file();
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path)?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| anyhow!("cannot lock {}: {e}", path.display()))?;
    Ok(f)
}

/// The built-in plugin presets.
fn preset(name: &str) -> Option<thrum_core::backup::Plugin> {
    match name {
        "beads" => Some(thrum_core::backup::Plugin {
            name: "beads".into(),
            command: "bd backup --force".into(),
            include: vec![".beads/backup/*".into()],
        }),
        _ => None,
    }
}

fn plugin(ctx: &mut Ctx, cmd: PluginCmd) -> Result<u8> {
    let out = ctx.out;
    let s = settings(ctx)?;
    let mut plugins = s.plugins.clone();
    let (verb, name) = match cmd {
        PluginCmd::List => {
            if out.json {
                out.json(&json!({ "plugins": plugins }));
            } else if plugins.is_empty() {
                out.line("No backup plugins (`thrum backup plugin add --preset beads` adds one)");
            } else {
                for p in &plugins {
                    out.line(format!("{}: {} [{}]", p.name, p.command, p.include.join(", ")));
                }
            }
            return Ok(0);
        }
        PluginCmd::Add(a) => {
            let p = match &a.preset {
                Some(name) => {
                    preset(name).ok_or_else(|| user(format!("unknown preset {name:?}: the presets are beads")))?
                }
                None => thrum_core::backup::Plugin {
                    name: a.name.clone().unwrap_or_default(),
                    command: a.command.clone().unwrap_or_default(),
                    include: a.include.clone(),
                },
            };
            if plugins.iter().any(|x| x.name == p.name) {
                return Err(user(format!(
                    "a plugin named {} exists: remove it first (`thrum backup plugin remove --name {}`)",
                    p.name, p.name
                )));
            }
            let name = p.name.clone();
            plugins.push(p);
            ("added", name)
        }
        PluginCmd::Remove { name } => {
            let before = plugins.len();
            plugins.retain(|p| p.name != name);
            if plugins.len() == before {
                return Err(user(format!("no backup plugin named {name}: `thrum backup plugin list` shows them")));
            }
            ("removed", name)
        }
    };
    let layout = ctx.layout()?.clone();
    let path = layout.config_file();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| "{}".into());
    let mut cfg: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CliError::new(ErrorKind::Config, anyhow!("{} is not valid JSON: {e}", path.display())))?;
    let Some(root) = cfg.as_object_mut() else {
        return Err(CliError::new(ErrorKind::Config, anyhow!("{} is not a JSON object", path.display())).into());
    };
    let block = root.entry("backup").or_insert_with(|| json!({}));
    if !block.is_object() {
        *block = json!({});
    }
    block["plugins"] = serde_json::to_value(&plugins)?;
    // The whole block is checked before it is written (names, globs).
    BackupSettings::resolve(&cfg).map_err(user)?;
    let mut body = serde_json::to_vec_pretty(&cfg)?;
    body.push(b'\n');
    thrum_core::fs::write_private(&path, &body).map_err(|e| anyhow!("cannot write {e}"))?;
    if out.json {
        out.json(&json!({ verb: name, "plugins": plugins }));
    } else {
        out.ok(format!("Backup plugin {name} {verb}"));
    }
    Ok(0)
}
