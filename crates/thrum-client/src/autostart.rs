//! Starting and stopping the daemon on demand.
//!
//! On a refused connection or a missing socket, the client takes the
//! start lock (so racing clients start one daemon between them), checks
//! again, then spawns `thrum daemon run --background` and waits for the
//! child's [`Handshake`] line on its stdout: `READY`, `BUSY` (another
//! daemon holds the repository) or `ERROR …`. No polling for the socket,
//! no sleeps: the child answers as soon as it is listening.
//!
//! [`stop_daemon`] is `thrum daemon stop`: SIGTERM to the PID in the PID
//! file (only while the lock is held, so a recycled PID is never hit),
//! then a wait for the lock to be released.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, flock};
use thrum_core::Layout;

use crate::connection::Client;
use crate::error::ClientError;
use crate::handshake::Handshake;
use crate::pidfile::{process_running, read_pid_file, running_pid};

/// How long a new daemon may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a daemon may take to stop after SIGTERM (it finishes the
/// writes in flight first).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

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
    match Handshake::parse(&line) {
        Some(Handshake::Ready(pid)) => Ok(StartOutcome::Started(pid)),
        Some(Handshake::Busy(pid)) => {
            // Another daemon won a race we could not see: that is success
            // once it answers (it may still be starting, or briefly unable
            // to accept under load). It gets as long as a start of our own
            // would: a loaded machine can take seconds.
            let until = Instant::now() + START_TIMEOUT;
            while Instant::now() < until {
                if Client::connect(&layout.socket()).is_ok() {
                    return Ok(StartOutcome::AlreadyRunning);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(ClientError::StartFailed(format!(
                "daemon PID {pid} holds this repository but does not answer on {}: see {}",
                layout.socket().display(),
                layout.log_file().display()
            )))
        }
        Some(Handshake::Error(msg)) => Err(ClientError::StartFailed(msg)),
        None => {
            let _ = child.wait();
            Err(ClientError::StartFailed(format!(
                "the daemon exited during start-up: see {}",
                layout.log_file().display()
            )))
        }
    }
}

/// Stops the repository's daemon as `thrum daemon stop` does: SIGTERM,
/// then waits (up to `timeout`) until its lock is released and the
/// process is gone. With `only`, a daemon with another PID is left alone
/// (someone replaced the one the caller saw). Returns the PID stopped,
/// or `None` when no daemon was running.
pub fn stop_daemon(layout: &Layout, only: Option<i64>, timeout: Duration) -> Result<Option<i64>, ClientError> {
    let (lock, pid_file) = (layout.lock_file(), layout.pid_file());
    let Some(info) = running_pid(&lock, &pid_file).and_then(|_| read_pid_file(&pid_file)) else {
        return Ok(None);
    };
    if only.is_some_and(|p| p != info.pid) {
        return Ok(None);
    }
    let pid = i32::try_from(info.pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| ClientError::Protocol(format!("bad PID {} in {}", info.pid, pid_file.display())))?;
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)
        .map_err(|e| ClientError::Io(std::io::Error::other(format!("signal daemon PID {}: {e}", info.pid))))?;
    // The daemon finishes in-flight writes, removes its socket, then
    // releases its lock and exits.
    let deadline = Instant::now() + timeout;
    while running_pid(&lock, &pid_file) == Some(info.pid) || process_running(info.pid) {
        if Instant::now() > deadline {
            return Err(ClientError::StopTimeout { pid: info.pid, secs: timeout.as_secs() });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Some(info.pid))
}
