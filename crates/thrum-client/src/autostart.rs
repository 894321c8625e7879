//! Starting the daemon on demand.
//!
//! On a refused connection or a missing socket, the client takes the
//! start lock (so racing clients start one daemon between them), checks
//! again, then spawns `thrum daemon run --background` and waits for the
//! child to say "READY" (or "ERROR …") on its stdout. No polling for the
//! socket, no sleeps: the child answers as soon as it is listening.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rustix::fs::{FlockOperation, flock};
use thrum_core::Layout;

use crate::connection::Client;
use crate::error::ClientError;

/// How long a new daemon may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// What `start_daemon` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    Started(u32),
    AlreadyRunning,
}

/// Connects, starting the daemon if needed. The flag says whether this
/// call started it (so the caller can say so once).
pub fn connect_or_start(layout: &Layout, local: Option<bool>) -> Result<(Client, Option<u32>), ClientError> {
    match Client::connect(&layout.socket()) {
        Ok(c) => return Ok((c, None)),
        Err(ClientError::NotRunning(_)) => {}
        Err(e) => return Err(e),
    }
    let started = match start_daemon(layout, local)? {
        StartOutcome::Started(pid) => Some(pid),
        StartOutcome::AlreadyRunning => None,
    };
    Ok((Client::connect(&layout.socket())?, started))
}

/// Starts the daemon unless one is already answering.
pub fn start_daemon(layout: &Layout, local: Option<bool>) -> Result<StartOutcome, ClientError> {
    let var = layout.var_dir();
    std::fs::create_dir_all(&var)?;
    let lock =
        OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(layout.start_lock_file())?;
    // Blocks while another client is starting the daemon; the kernel
    // releases it if that client dies.
    flock(&lock, FlockOperation::LockExclusive).map_err(|e| ClientError::Io(e.into()))?;
    if Client::connect(&layout.socket()).is_ok() {
        return Ok(StartOutcome::AlreadyRunning);
    }
    let exe = std::env::current_exe()?;
    let log = OpenOptions::new().create(true).append(true).open(layout.log_file())?;
    let mut cmd = Command::new(exe);
    cmd.arg("daemon").arg("run").arg("--background");
    if local == Some(true) {
        cmd.arg("--local");
    }
    // Two malloc arenas instead of glibc's one per thread (up to eight per
    // core): each arena keeps memory it freed, and the daemon's dozen
    // threads left it near 20 MiB of RSS when idle (19.0 MiB with two
    // arenas, same run). The user's own setting wins.
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        cmd.env("MALLOC_ARENA_MAX", "2");
    }
    cmd.current_dir(layout.repo_root())
        .env("THRUM_HOME", layout.repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    let mut child = cmd.spawn().map_err(|e| ClientError::StartFailed(format!("spawn: {e}")))?;
    let Some(stdout) = child.stdout.take() else {
        return Err(ClientError::StartFailed("no handshake pipe".into()));
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(START_TIMEOUT) {
        Ok(l) => l,
        Err(_) => {
            return Err(ClientError::StartFailed(format!(
                "no answer within {}s: see {}",
                START_TIMEOUT.as_secs(),
                layout.log_file().display()
            )));
        }
    };
    let line = line.trim();
    if let Some(pid) = line.strip_prefix("READY ") {
        return Ok(StartOutcome::Started(pid.trim().parse().unwrap_or(0)));
    }
    if let Some(msg) = line.strip_prefix("ERROR ") {
        // Another daemon won a race we could not see: that is success once
        // it answers (it may still be starting, or briefly unable to accept
        // under load).
        if msg.contains("already running") {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while std::time::Instant::now() < until {
                if Client::connect(&layout.socket()).is_ok() {
                    return Ok(StartOutcome::AlreadyRunning);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        return Err(ClientError::StartFailed(msg.to_string()));
    }
    let _ = child.wait();
    Err(ClientError::StartFailed(format!("the daemon exited during start-up: see {}", layout.log_file().display())))
}
