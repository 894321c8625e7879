//! Shared daemon state: everything a handler needs, behind one `Arc`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use thrum_core::Layout;
use thrum_core::config::DaemonIdentity;
use thrum_store::Reader;
use tokio::sync::watch;

use crate::error::HResult;
use crate::subscriptions::Subscriptions;
use crate::sync::SyncHandle;
use crate::writer::{EventFeed, Writer};

pub struct DaemonState {
    pub layout: Layout,
    pub repo_root: PathBuf,
    pub identity: DaemonIdentity,
    pub local_only: bool,
    pub started: Instant,
    pub started_at: String,
    pub writer: Writer,
    pub feed: EventFeed,
    pub subscriptions: Subscriptions,
    /// Armed idle wakers (`message.announce` with a wait).
    pub waiters: crate::rpc::delivery::Waiters,
    /// New messages prepared once for all push tasks.
    pub prepared: crate::notify::PreparedCache,
    /// Monitor jobs (`monitor.*`).
    pub monitors: crate::monitor::Monitors,
    /// The thrum-managed tmux sessions.
    pub tmux: crate::tmux::Manager,
    /// Backups: one at a time, and the schedule.
    pub backup: crate::backup::Backups,
    /// Paired daemons (`.thrum/var/peers.json`).
    pub peers: crate::peers::Registry,
    /// The pairing `peer add` is waiting on.
    pub pairing: crate::peers::rpc::Slot,
    /// Live links to the paired daemons.
    pub links: crate::peers::link::Links,
    /// The TCP listener of network peers (started on demand).
    pub net: crate::peers::net::NetListener,
    pairing_code_length: usize,
    pub warnings: Vec<String>,
    /// The sync worktree (where the log lives).
    pub log_dir: PathBuf,
    pub sync: SyncHandle,
    /// Asks for a fresh look at a session's git state.
    pub gitwatch: crate::gitwatch::Handle,
    readers: Mutex<Vec<Reader>>,
    db_path: PathBuf,
    /// Flips to true when shutdown begins; long-polls watch it.
    pub shutdown: watch::Receiver<bool>,
    /// Asks the daemon to stop (`daemon.shutdown`), as SIGTERM does.
    pub stop: tokio::sync::Notify,
    ws_port: std::sync::atomic::AtomicU16,
}

pub type State = Arc<DaemonState>;

impl DaemonState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        layout: Layout,
        repo_root: PathBuf,
        identity: DaemonIdentity,
        local_only: bool,
        writer: Writer,
        feed: EventFeed,
        db_path: PathBuf,
        warnings: Vec<String>,
        shutdown: watch::Receiver<bool>,
        log_dir: PathBuf,
        sync: SyncHandle,
        gitwatch: crate::gitwatch::Handle,
    ) -> Self {
        let subscriptions = Subscriptions::load(layout.var_dir().join("subscriptions.json"));
        let mut warnings = warnings;
        let peers = load_peers(&layout, &mut warnings);
        let monitors = crate::monitor::Monitors::load(&layout.var_dir(), &mut warnings);
        let tmux = crate::tmux::Manager::new(thrum_tmux::Tmux::from_env(), &layout.thrum_dir, &layout.var_dir());
        let pairing_code_length =
            crate::settings(&crate::load_config(&layout).unwrap_or_default(), None).pairing_code_length;
        DaemonState {
            layout,
            repo_root,
            identity,
            local_only,
            started: Instant::now(),
            started_at: thrum_core::time::now_rfc3339(),
            writer,
            feed,
            subscriptions,
            waiters: Default::default(),
            prepared: Default::default(),
            monitors,
            tmux,
            backup: Default::default(),
            peers,
            pairing: Default::default(),
            links: Default::default(),
            net: Default::default(),
            pairing_code_length,
            warnings,
            log_dir,
            sync,
            gitwatch,
            readers: Mutex::new(Vec::new()),
            db_path,
            shutdown,
            stop: tokio::sync::Notify::new(),
            ws_port: std::sync::atomic::AtomicU16::new(0),
        }
    }

    /// The HTTP/WebSocket port (0 until bound).
    pub fn ws_port(&self) -> u16 {
        self.ws_port.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_ws_port(&self, port: u16) {
        self.ws_port.store(port, std::sync::atomic::Ordering::Relaxed);
    }

    /// Digits in a pairing code (`peers.pairing_code_length`, default 16).
    pub fn config_pairing_code_length(&self) -> usize {
        self.pairing_code_length
    }

    /// Runs a read query on a pooled read-only connection.
    pub fn read<T>(&self, f: impl FnOnce(&Reader) -> HResult<T>) -> HResult<T> {
        let reader = match self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            Some(r) => r,
            None => Reader::open(&self.db_path)?,
        };
        let out = f(&reader);
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < 16 {
            pool.push(reader);
        }
        out
    }
}

/// Loads the peer registry. A file that cannot be read is moved aside (so
/// nothing overwrites it) and reported; the daemon starts without peers.
fn load_peers(layout: &Layout, warnings: &mut Vec<String>) -> crate::peers::Registry {
    let path = layout.var_dir().join("peers.json");
    match crate::peers::Registry::load(&path) {
        Ok(r) => r,
        Err(e) => {
            let aside = layout.var_dir().join(format!("peers.json.unreadable-{}", std::process::id()));
            let _ = std::fs::rename(&path, &aside);
            warnings.push(format!("{e} (moved to {})", aside.display()));
            crate::peers::Registry::load(&path).unwrap_or_else(|_| crate::peers::Registry::empty(&path))
        }
    }
}
