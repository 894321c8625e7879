//! The thrum daemon: owns one repository's store and serves JSON-RPC on
//! its Unix socket.
//!
//! Layout:
//! - [`run`] is the composition root: ownership lock, logging, store,
//!   writer thread, socket server, signals, graceful shutdown.
//! - `lifecycle` — the flock and PID file that make one daemon per repo.
//! - `writer` — the single writer thread with group commit.
//! - `server` — the socket transport; `rpc` — the router and handlers.
//! - `caller` — who is calling, from the kernel's peer credentials.
//! - `subscriptions`, `logging`, `state` — as named.

pub mod background;
pub mod backup;
pub mod caller;
pub mod error;
pub mod gitwatch;
pub mod legacy;
pub mod lifecycle;
pub mod logging;
pub mod monitor;
pub mod notify;
pub mod peers;
pub mod rpc;
pub mod server;
pub mod state;
pub mod subscriptions;
pub mod sync;
pub mod tmux;
mod ui;
pub mod writer;
pub mod ws;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use thrum_core::Layout;
use thrum_core::config::{Config, DaemonIdentity};
use thrum_core::settings::DaemonSettings;
use thrum_store::Store;
use tokio::sync::{broadcast, mpsc, watch};

pub use error::DaemonError;

/// Called once the daemon is accepting connections (with its PID), or
/// failed to start (with why: `AlreadyRunning` when another daemon holds
/// the repository).
pub type ReadyFn = Box<dyn FnOnce(Result<u32, &DaemonError>) + Send>;

/// The protocol version `health` reports: [`thrum_proto::PROTOCOL_VERSION`].
/// For tests only, a debug build reads `THRUM_TEST_PROTOCOL_VERSION` to
/// pose as another version (so clients' replacement of an outdated daemon
/// can be tested); release builds ignore it.
pub fn protocol_version() -> u32 {
    #[cfg(debug_assertions)]
    if let Some(v) = std::env::var("THRUM_TEST_PROTOCOL_VERSION").ok().and_then(|v| v.parse().ok()) {
        return v;
    }
    thrum_proto::PROTOCOL_VERSION
}

pub struct RunOptions {
    pub layout: Layout,
    /// `--local` (None: from `THRUM_LOCAL`, then config).
    pub local: Option<bool>,
    pub ready: Option<ReadyFn>,
}

/// Reads config.json (a missing file is an empty config).
pub fn load_config(layout: &Layout) -> Result<Config, DaemonError> {
    Config::load(layout).map_err(|e| DaemonError::Config(e.to_string()))
}

/// Makes sure config.json holds a daemon identity
/// ([`thrum_core::config::bootstrap_identity`], with git's origin URL).
pub fn bootstrap_identity(layout: &Layout, repo_root: &Path) -> Result<DaemonIdentity, DaemonError> {
    thrum_core::config::bootstrap_identity(layout, repo_root, || {
        thrum_git::Git::new(repo_root).config_get("remote.origin.url").unwrap_or_default()
    })
    .map_err(|e| DaemonError::Config(e.to_string()))
}

/// The folder that holds the event log, with the sync branch and worktree
/// set up first (for `thrum migrate`, which may run before any daemon has).
pub fn prepare_log_dir(layout: &Layout, repo_root: &Path) -> PathBuf {
    let dir = thrum_git::sync_branch::log_dir(layout, repo_root);
    ensure_sync_worktree(repo_root, &dir);
    dir
}

/// Makes sure the sync branch and worktree exist (cheap when healthy).
fn ensure_sync_worktree(repo_root: &Path, dir: &Path) {
    let git = thrum_git::Git::new(repo_root);
    if git.common_dir().is_err() {
        return;
    }
    if thrum_git::sync_branch::worktree_healthy(&git, dir) {
        return;
    }
    // Keep whatever events a broken worktree still holds.
    let saved = std::env::temp_dir().join(format!("thrum-sync-rescue-{}", std::process::id()));
    let had_files = dir.join("events.jsonl").exists() || dir.join("messages").exists();
    if had_files {
        let _ = copy_tree(dir, &saved);
    }
    let res =
        thrum_git::sync_branch::ensure_branch(&git).and_then(|_| thrum_git::sync_branch::ensure_worktree(&git, dir));
    if let Err(e) = res {
        tracing::warn!(error = %e, "could not set up the sync worktree; using the directory as it is");
        let _ = std::fs::create_dir_all(dir);
    }
    if had_files {
        let _ = merge_rescued(&saved, dir);
        let _ = std::fs::remove_dir_all(&saved);
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to.join("messages"))?;
    if from.join("events.jsonl").exists() {
        std::fs::copy(from.join("events.jsonl"), to.join("events.jsonl"))?;
    }
    if let Ok(rd) = std::fs::read_dir(from.join("messages")) {
        for e in rd.flatten() {
            std::fs::copy(e.path(), to.join("messages").join(e.file_name()))?;
        }
    }
    Ok(())
}

/// Appends rescued lines that the fresh worktree lacks (dedup by line).
fn merge_rescued(saved: &Path, dir: &Path) -> std::io::Result<()> {
    let mut files = vec![PathBuf::from("events.jsonl")];
    if let Ok(rd) = std::fs::read_dir(saved.join("messages")) {
        files.extend(rd.flatten().map(|e| PathBuf::from("messages").join(e.file_name())));
    }
    for rel in files {
        let Ok(old) = std::fs::read_to_string(saved.join(&rel)) else {
            continue;
        };
        let target = dir.join(&rel);
        let cur = std::fs::read_to_string(&target).unwrap_or_default();
        let have: std::collections::HashSet<&str> = cur.lines().collect();
        let mut out = cur.clone();
        for l in old.lines().filter(|l| !l.trim().is_empty() && !have.contains(l)) {
            out.push_str(l);
            out.push('\n');
        }
        if out != cur {
            if let Some(p) = target.parent() {
                std::fs::create_dir_all(p)?;
            }
            thrum_core::fs::write_file(&target, out.as_bytes()).map_err(|e| e.source)?;
        }
    }
    Ok(())
}

/// The daemon's settings: the `--local` flag, then the environment,
/// config.json and the defaults ([`thrum_core::settings`]).
pub fn settings(cfg: &Config, local: Option<bool>) -> DaemonSettings {
    DaemonSettings::resolve(&serde_json::to_value(cfg).unwrap_or_default(), local)
}

/// The sync loop's timing: `daemon.sync_interval` seconds, a debounce after
/// local writes of `daemon.sync_debounce_ms`, and a cheap remote check every
/// `daemon.sync_remote_poll_ms` (0 turns it off).
fn sync_timing(s: &DaemonSettings) -> sync::Timing {
    sync::Timing {
        interval: Duration::from_secs(s.sync_interval_s),
        debounce: Duration::from_millis(s.sync_debounce_ms),
        remote_poll: Duration::from_millis(s.sync_remote_poll_ms),
    }
}

/// Runs the daemon in the foreground until SIGTERM or SIGINT.
pub fn run(opts: RunOptions) -> Result<(), DaemonError> {
    let RunOptions { layout, local, ready } = opts;
    let result = run_inner(&layout, local, ready);
    if let Err(e) = &result {
        tracing::error!(error = %e, "daemon stopped with an error");
    }
    result
}

fn run_inner(layout: &Layout, local: Option<bool>, mut ready: Option<ReadyFn>) -> Result<(), DaemonError> {
    let fail = |ready: &mut Option<ReadyFn>, e: DaemonError| -> DaemonError {
        if let Some(r) = ready.take() {
            r(Err(&e));
        }
        e
    };
    let var = layout.var_dir();
    std::fs::create_dir_all(&var).map_err(|e| fail(&mut ready, DaemonError::io(&var, e)))?;
    let _ = std::fs::set_permissions(&var, std::fs::Permissions::from_mode(0o700));
    let cfg = load_config(layout).map_err(|e| fail(&mut ready, e))?;
    let settings = settings(&cfg, local);
    if let Err(e) = logging::init(&layout.log_file(), &settings.log_level) {
        return Err(fail(&mut ready, DaemonError::io(layout.log_file(), e)));
    }
    let repo_root = layout.repo_root();
    let socket = layout.socket();
    let started_at = thrum_core::time::now_rfc3339();
    let info = thrum_core::process::PidInfo {
        pid: i64::from(std::process::id()),
        repo_path: repo_root.display().to_string(),
        started_at: started_at.clone(),
        socket_path: socket.display().to_string(),
        protocol_version: protocol_version(),
    };
    let ownership = lifecycle::Ownership::acquire(&layout.lock_file(), &layout.pid_file(), &info)
        .map_err(|e| fail(&mut ready, e))?;
    let identity = bootstrap_identity(layout, &repo_root).map_err(|e| fail(&mut ready, e))?;
    let local_only = settings.local_only;
    let dir = thrum_git::sync_branch::log_dir(layout, &repo_root);
    ensure_sync_worktree(&repo_root, &dir);
    if legacy::pending(layout) {
        match legacy::migrate(layout, &dir) {
            Ok(m) => tracing::info!(
                imported = m.imported,
                skipped = m.skipped,
                files = m.files.len(),
                "imported legacy .thrum/ log"
            ),
            Err(e) => tracing::warn!(error = %e, "could not import the legacy .thrum/ log; run `thrum migrate`"),
        }
    }
    let t0 = std::time::Instant::now();
    let (store, recovery) = Store::open(&dir, &layout.db_file(), &identity.daemon_id, &var.join("recovered"))
        .map_err(|e| fail(&mut ready, e.into()))?;
    let mut warnings = Vec::new();
    for (shard, saved) in &recovery.torn {
        warnings.push(format!(
            "torn write at the end of {shard} was cut off (never acknowledged); fragment saved to {}",
            saved.display()
        ));
    }
    for (shard, line, why) in &recovery.bad_lines {
        warnings.push(format!("{shard} line {line} is not a valid event and was skipped: {why}"));
    }
    tracing::info!(
        version = thrum_core::VERSION,
        pid = std::process::id(),
        replayed = recovery.replayed,
        restored_from_journal = recovery.restored_from_journal,
        ms = t0.elapsed().as_millis() as u64,
        log = %dir.display(),
        "daemon starting"
    );
    let db_path = layout.db_file();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("thrum-rt")
        .build()
        .map_err(|e| fail(&mut ready, DaemonError::io("tokio runtime", e)))?;
    let (feed, _) = broadcast::channel(4096);
    let (writer, writer_thread) = writer::Writer::start(store, feed.clone());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let timing = sync_timing(&settings);
    let remote = thrum_git::sync::origin_url(&thrum_git::Git::new(&repo_root));
    let (sync_handle, sync_rx) = sync::handle(local_only, remote, timing);
    let (gitwatch, git_requests) = gitwatch::channel();
    let merge_target = settings.merge_target.clone();
    let state = Arc::new(state::DaemonState::new(
        layout.clone(),
        repo_root.clone(),
        identity,
        local_only,
        writer,
        feed,
        db_path,
        warnings,
        shutdown_rx.clone(),
        dir.clone(),
        sync_handle,
        gitwatch,
    ));
    let served = rt.block_on(async {
        let listener = bind_socket(&socket)?;
        let (http, port) = bind_http(&settings).await?;
        let port_file = layout.var_dir().join("ws.port");
        lifecycle::write_private(&port_file, format!("{port}\n").as_bytes())?;
        state.set_ws_port(port);
        let web = tokio::spawn(ws::serve(http, state.clone(), state.shutdown.clone()));
        // Saved monitors run again before the first request is served,
        // so no client sees them stopped.
        monitor::resume(&state);
        if let Some(r) = ready.take() {
            r(Ok(std::process::id()));
        }
        tracing::info!(socket = %socket.display(), "listening");
        let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
        let server = tokio::spawn(server::serve(listener, state.clone(), shutdown_rx, done_tx));
        let syncer = tokio::spawn(sync::run(state.clone(), sync_rx, timing));
        let watcher = tokio::spawn(gitwatch::run(state.clone(), git_requests, merge_target));
        let links = tokio::spawn(peers::link::run(state.clone(), settings.auto_connect));
        let doorbell = tokio::spawn(tmux::doorbell::run(state.clone()));
        let queue = tokio::spawn(tmux::queue::dispatch::run(state.clone()));
        let permission = tokio::spawn(tmux::permission::run(state.clone()));
        let backups = tokio::spawn(backup::schedule::run(state.clone()));
        tokio::select! {
            _ = wait_for_signal() => {}
            _ = state.stop.notified() => {}
        }
        tracing::info!("shutting down");
        let _ = shutdown_tx.send(true);
        // Before the runtime goes: each monitor's whole process group ends.
        monitor::shutdown(&state).await;
        let _ = server.await;
        let _ = syncer.await;
        let _ = watcher.await;
        let _ = links.await;
        let _ = doorbell.await;
        let _ = queue.await;
        let _ = permission.await;
        let _ = backups.await;
        let _ = web.await;
        let _ = std::fs::remove_file(&port_file);
        // In-flight requests finish (their writes included) before exit.
        let _ = tokio::time::timeout(Duration::from_secs(5), done_rx.recv()).await;
        Ok::<(), DaemonError>(())
    });
    drop(state);
    rt.shutdown_timeout(Duration::from_secs(2));
    let _ = writer_thread.join();
    let _ = std::fs::remove_file(&socket);
    drop(ownership);
    tracing::info!("stopped");
    if let Err(e) = served {
        return Err(fail(&mut ready, e));
    }
    Ok(())
}

/// Binds the HTTP/WebSocket port on loopback: `THRUM_WS_PORT`, else
/// `daemon.ws_port`, else 9999; "auto" (or a port already taken) picks a
/// free one, so several repositories can run side by side.
async fn bind_http(settings: &DaemonSettings) -> Result<(tokio::net::TcpListener, u16), DaemonError> {
    let wanted = settings.ws_port.clone();
    let port: u16 = if wanted == "auto" { 0 } else { wanted.trim().parse().unwrap_or(0) };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) if port != 0 => {
            tracing::warn!(port, error = %e, "port taken; picking a free one");
            tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| DaemonError::io("127.0.0.1:0", e))?
        }
        Err(e) => return Err(DaemonError::io("127.0.0.1:0", e)),
    };
    let port = listener.local_addr().map_err(|e| DaemonError::io("http listener", e))?.port();
    Ok((listener, port))
}

/// Binds the socket, replacing a stale one (we hold the lock, so any
/// socket file left is from a dead daemon), readable only by the owner.
fn bind_socket(path: &Path) -> Result<tokio::net::UnixListener, DaemonError> {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(socket = %path.display(), "removed stale socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(DaemonError::io(path, e)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DaemonError::io(dir, e))?;
    }
    let listener = tokio::net::UnixListener::bind(path).map_err(|e| DaemonError::io(path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| DaemonError::io(path, e))?;
    Ok(listener)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        // Without signal handlers we can still be stopped by SIGKILL.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    /// Storage stays behind the store: no SQL statement is written in the
    /// daemon (every query and statement is a named thrum-store function).
    #[test]
    fn the_daemon_writes_no_sql() {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    files(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let mut all = Vec::new();
        files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut all);
        assert!(all.len() > 20, "found only {} source files", all.len());
        // Spelled in pieces, so this file does not match itself.
        let sql = [
            concat!("prepare", "_cached("),
            concat!(".exe", "cute("),
            concat!("query", "_row("),
            concat!("\"SEL", "ECT "),
            concat!("\"UPD", "ATE "),
            concat!("\"DEL", "ETE "),
            concat!("\"INS", "ERT "),
        ];
        for f in all {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for (n, line) in text.lines().enumerate() {
                if let Some(s) = sql.iter().find(|s| line.contains(**s)) {
                    panic!("{}:{}: {s} in the daemon; add a thrum-store function instead", f.display(), n + 1);
                }
            }
        }
    }
}
