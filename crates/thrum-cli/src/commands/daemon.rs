//! `thrum daemon start|stop|status|restart|logs|run`, and the daemon's
//! own code the CLI runs outside it (the identity `thrum init` writes, the
//! import `thrum migrate` does, the files `thrum backup restore` puts back).
//!
//! The one module that uses `thrum_daemon`: the CLI binary hosts the
//! daemon (`daemon run`); every other command is a client.

use std::io::{BufRead, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use thrum_client::{Client, Handshake, StartOutcome};
use thrum_core::Layout;
use thrum_proto::methods::Empty;
use thrum_proto::methods::system::Health;

use crate::context::Ctx;
use crate::error::{CliError, ErrorKind};
use crate::output::{self, Out};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum DaemonCmd {
    /// Start the daemon in the background.
    Start(StartArgs),
    /// Stop the daemon gracefully (in-flight writes finish).
    Stop,
    /// Show whether the daemon runs, and its identity.
    Status,
    /// Stop, then start.
    Restart(StartArgs),
    /// Show the daemon log.
    Logs(LogsArgs),
    /// Run the daemon in the foreground (for supervisors such as systemd).
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Local-only mode: never fetch or push the sync branch.
    #[arg(long)]
    pub local: bool,
    /// Start even outside a git repository (after `thrum init --force`).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Local-only mode: never fetch or push the sync branch.
    #[arg(long)]
    pub local: bool,
    /// Detach from the terminal and report readiness on stdout (used by
    /// `daemon start` and auto-start).
    #[arg(long, hide = true)]
    pub background: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new lines as they are written.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Number of lines to show (0 = all).
    #[arg(long, short = 'n', default_value_t = 50)]
    pub lines: usize,
    /// Only lines since a duration ago (1h, 7d), a date or RFC 3339.
    #[arg(long)]
    pub since: Option<String>,
}

pub fn run(ctx: &mut Ctx, cmd: DaemonCmd) -> Result<u8> {
    match cmd {
        DaemonCmd::Start(a) => {
            git_guard(ctx, a.force)?;
            start(ctx, a.local, "started")
        }
        DaemonCmd::Stop => stop(ctx, true),
        DaemonCmd::Status => status(ctx),
        DaemonCmd::Restart(a) => {
            git_guard(ctx, a.force)?;
            let _ = stop(ctx, false);
            start(ctx, a.local, "restarted")
        }
        DaemonCmd::Logs(a) => logs(ctx, a),
        DaemonCmd::Run(a) => run_foreground(ctx, a),
    }
}

/// The original's non-git guard: a daemon outside git has no branch to
/// keep messages on and no git root to tell agents' worktrees apart, so
/// starting one is refused unless asked for (as `init` refuses).
fn git_guard(ctx: &mut Ctx, force: bool) -> Result<()> {
    let root = ctx.layout()?.repo_root();
    if !force && thrum_git::Git::new(&root).toplevel().is_err() {
        bail!(
            "not a git repository: {}\n  thrum keeps messages on a git branch; run `git init` first, or pass --force to start the daemon without git",
            root.display()
        );
    }
    Ok(())
}

fn start(ctx: &mut Ctx, local: bool, verb: &str) -> Result<u8> {
    let layout = ctx.layout()?.clone();
    let out = ctx.out;
    let outcome = thrum_client::start_daemon(&layout, local.then_some(true))?;
    let health = Client::connect(&layout.socket()).and_then(|mut c| c.call::<Health>(&Empty {}));
    let pid = health.as_ref().map(|h| h.pid).unwrap_or(0);
    if out.json {
        out.json(&serde_json::json!({
            "running": true,
            "status": match outcome { StartOutcome::Started(_) => verb, StartOutcome::AlreadyRunning => "already_running" },
            "pid": pid,
            "socket": layout.socket(),
        }));
        return Ok(0);
    }
    match outcome {
        StartOutcome::Started(_) => out.ok(format!("Daemon {verb} (PID {pid})")),
        StartOutcome::AlreadyRunning => out.ok(format!("Daemon already running (PID {pid})")),
    }
    Ok(0)
}

pub(crate) fn stop(ctx: &mut Ctx, loud: bool) -> Result<u8> {
    let layout = ctx.layout()?.clone();
    let out = ctx.out;
    // The daemon finishes in-flight writes, then releases its lock.
    let Some(pid) = thrum_client::stop_daemon(&layout, None, thrum_client::STOP_TIMEOUT)? else {
        if loud {
            bail!("daemon is not running");
        }
        return Ok(0);
    };
    if loud {
        if out.json {
            out.json(&serde_json::json!({ "stopped": true, "pid": pid }));
        } else {
            out.ok("Daemon stopped successfully");
            crate::hints::info(
                "daemon.stop.messaging-restarts-it",
                "the next thrum command that needs the daemon starts it again; agents waiting on `thrum wait` must call it again",
                &[("start now", "thrum daemon start".into())],
            );
        }
    }
    Ok(0)
}

#[derive(Debug, Serialize)]
struct StatusJson {
    running: bool,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repo_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uptime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uptime_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    socket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sync_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ws_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<thrum_core::config::DaemonIdentity>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

fn status(ctx: &mut Ctx) -> Result<u8> {
    let layout = ctx.layout()?.clone();
    let out = ctx.out;
    let health = Client::connect(&layout.socket()).and_then(|mut c| c.call::<Health>(&Empty {}));
    let Ok(h) = health else {
        if out.json {
            out.json(&StatusJson {
                running: false,
                status: "stopped",
                pid: None,
                repo_path: None,
                uptime: None,
                uptime_ms: None,
                version: None,
                socket: None,
                sync_state: None,
                ws_port: None,
                identity: None,
                warnings: Vec::new(),
            });
            return Ok(0);
        }
        out.line("Daemon: not running");
        out.line("  Start it with: thrum daemon start (or just run any command)");
        return Ok(1);
    };
    let repo = layout.repo_root().display().to_string();
    if out.json {
        out.json(&StatusJson {
            running: true,
            status: "running",
            pid: Some(h.pid),
            repo_path: Some(repo),
            uptime: Some(output::duration(h.uptime_ms as i64)),
            uptime_ms: Some(h.uptime_ms),
            version: Some(h.version),
            socket: Some(h.socket_path),
            sync_state: Some(h.sync_state),
            ws_port: Some(h.ws_port),
            identity: h.identity,
            warnings: h.warnings,
        });
        return Ok(0);
    }
    out.line(format!("Daemon: running (PID {}, uptime {})", h.pid, output::duration(h.uptime_ms as i64)));
    out.line(format!("  Version:  v{}", h.version));
    out.line(format!("  Socket:   {}", h.socket_path));
    out.line(format!("  Repo:     {repo}"));
    out.line(format!("  Sync:     {}", h.sync_state));
    if h.ws_port > 0 {
        out.line(format!("  API:      ws://127.0.0.1:{}/ws", h.ws_port));
    }
    if let Some(id) = h.identity {
        out.line("");
        out.line("Identity:");
        out.line(format!("  daemon_id:  {}", id.daemon_id));
        out.line(format!("  repo_name:  {}", id.repo_name));
        out.line(format!("  hostname:   {}", id.hostname));
        out.line(format!("  repo_path:  {}", id.repo_path));
        if !id.git_origin_url.is_empty() {
            out.line(format!("  git_origin: {}", id.git_origin_url));
        }
        out.line(format!("  init_at:    {}", id.init_at));
    }
    for w in &h.warnings {
        out.warn(w);
    }
    Ok(0)
}

/// The leading RFC 3339 timestamp of a log line, if any.
fn line_time(line: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    thrum_core::time::parse_ts(line.split_whitespace().next()?)
}

fn logs(ctx: &mut Ctx, a: LogsArgs) -> Result<u8> {
    let layout = ctx.layout()?.clone();
    let path = layout.log_file();
    let since = match &a.since {
        Some(s) => Some(
            thrum_core::time::parse_before(s, chrono::Utc::now())
                .ok_or_else(|| anyhow!("--since: invalid value {s:?} (use 1h, 7d, 2026-04-09 or RFC 3339)"))?,
        ),
        None => None,
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !a.follow => {
            bail!("no daemon log yet at {}: start the daemon with `thrum daemon start`", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
    };
    let mut reader = std::io::BufReader::new(file);
    let mut lines: Vec<String> = Vec::new();
    let mut keep = since.is_none();
    for l in reader.by_ref().lines() {
        let l = l?;
        if let (Some(s), Some(t)) = (since, line_time(&l)) {
            keep = t >= s;
        }
        if keep {
            lines.push(l);
        }
    }
    let skip = if a.lines == 0 { 0 } else { lines.len().saturating_sub(a.lines) };
    let out = ctx.out;
    for l in &lines[skip..] {
        out.write_line(l)?;
    }
    out.flush()?;
    if !a.follow {
        return Ok(0);
    }
    let mut pos = reader.stream_position()?;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if len < pos {
            // Rotated: start over on the new file.
            reader = std::io::BufReader::new(std::fs::File::open(&path)?);
            pos = 0;
        }
        reader.seek(SeekFrom::Start(pos))?;
        let mut buf = String::new();
        while reader.read_line(&mut buf)? > 0 {
            if buf.ends_with('\n') {
                out.write(&buf)?;
                pos += buf.len() as u64;
            }
            buf.clear();
        }
        out.flush()?;
    }
}

fn run_foreground(ctx: &mut Ctx, a: RunArgs) -> Result<u8> {
    let layout: Layout =
        ctx.layout().map_err(|_| crate::config_err!("thrum not initialized - run 'thrum init' first"))?.clone();
    let out: Out = ctx.out;
    if a.background {
        // Leave the caller's session so terminal signals do not reach us.
        let _ = rustix::process::setsid();
    }
    let background = a.background;
    let ready: thrum_daemon::ReadyFn = Box::new(move |r| {
        if background {
            // The handshake line `thrum_client::start_daemon` waits for.
            let line = match r {
                Ok(pid) => Handshake::Ready(pid),
                Err(thrum_daemon::DaemonError::AlreadyRunning { pid, .. }) => Handshake::Busy(*pid),
                Err(e) => Handshake::Error(e.to_string()),
            };
            let _ = out.write_line(&line.to_string());
            let _ = out.flush();
        } else if let Ok(pid) = r
            && !out.quiet
        {
            out.note(format!("thrum daemon running (PID {pid}); stop with Ctrl-C or SIGTERM"));
        }
    });
    let local = if a.local { Some(true) } else { None };
    thrum_daemon::run(thrum_daemon::RunOptions { layout, local, ready: Some(ready) }).map_err(|e| {
        let kind = match &e {
            thrum_daemon::DaemonError::AlreadyRunning { .. } => ErrorKind::User,
            thrum_daemon::DaemonError::Config(_) => ErrorKind::Config,
            _ => ErrorKind::DaemonUnreachable,
        };
        CliError::new(kind, e)
    })?;
    Ok(0)
}

/// The legacy log files `thrum migrate` imports.
pub(crate) fn legacy_files(layout: &Layout) -> Vec<PathBuf> {
    thrum_daemon::legacy::legacy_files(&layout.thrum_dir)
}

/// The sync worktree, created when missing (a legacy repository has none).
pub(crate) fn prepare_log_dir(layout: &Layout, repo_root: &Path) -> PathBuf {
    thrum_daemon::prepare_log_dir(layout, repo_root)
}

/// Imports the legacy log into `log_dir`: it rewrites the store, so it is
/// the daemon's code, run here with the daemon stopped.
pub(crate) fn migrate_legacy(
    layout: &Layout,
    log_dir: &Path,
) -> Result<thrum_daemon::legacy::Migration, thrum_daemon::DaemonError> {
    thrum_daemon::legacy::migrate(layout, log_dir)
}

/// A backup archive unpacked and checked (`thrum backup restore`'s first
/// step; nothing is changed yet).
pub(crate) fn restore_stage(
    archive: &Path,
    work_dir: &Path,
) -> Result<thrum_daemon::backup::restore::Staged, thrum_daemon::backup::restore::RestoreError> {
    thrum_daemon::backup::restore::stage(archive, work_dir)
}

/// Puts a checked archive's files in place: it rewrites the store, so it
/// is the daemon's code, run here with the daemon stopped.
pub(crate) fn restore_apply(
    staged: &thrum_daemon::backup::restore::Staged,
    layout: &Layout,
    log_dir: &Path,
) -> Result<thrum_daemon::backup::restore::Restored, thrum_daemon::backup::restore::RestoreError> {
    thrum_daemon::backup::restore::apply(staged, layout, log_dir)
}
