//! Agents in thrum-managed tmux sessions.
//!
//! - [`sessions`]: the `tmux.*` lifecycle methods (create, launch, status,
//!   kill, send, capture).
//! - [`doorbell`]: the line typed into a pane when mail waits, only when
//!   the pane is safe; the backstop and working-but-silent reminders.
//! - [`permission`]: permission prompts announced to supervisors, answered
//!   from their replies.
//! - [`restart`]: restart with a context snapshot.
//! - [`queue`]: the per-session command queue.
//!
//! A managed session is a tmux session tagged with this daemon's `.thrum`
//! directory (`@thrum-dir`), so several repositories' daemons can share one
//! tmux server and each sees only its own. The tag and the other
//! `@thrum-…` options live in tmux itself; `var/tmux-sessions.json` keeps
//! what must outlive the session (its working directory, agent and
//! runtime), so `status` can report a session that died and `restart` can
//! recreate it.

pub mod doorbell;
pub mod permission;
pub mod queue;
pub mod restart;
pub mod sessions;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use thrum_core::identity::IdentityFile;
use thrum_tmux::{Tmux, TmuxError};

use crate::error::{Fail, HResult, server};

/// tmux user options thrum keeps on a managed session.
pub const OPT_DIR: &str = "@thrum-dir";
pub const OPT_AGENT: &str = "@thrum-agent";
pub const OPT_CWD: &str = "@thrum-cwd";
pub const OPT_RUNTIME: &str = "@thrum-runtime";

/// What the daemon remembers of a session it created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub cwd: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub agent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    pub created_at: String,
}

/// The daemon's view of its tmux sessions.
pub struct Manager {
    pub tmux: Tmux,
    /// This daemon's `.thrum` directory: the `@thrum-dir` tag.
    pub tag: String,
    records_path: PathBuf,
    records: Mutex<BTreeMap<String, Record>>,
    /// Bumped whenever a session is created, launched or killed, so the
    /// watchers know to look again.
    generation: std::sync::atomic::AtomicU64,
    /// One lock per session, held while anything types into its pane, so
    /// the doorbell, the queue, `tmux send` and prompt answers never
    /// interleave their keys.
    typing: Mutex<std::collections::HashMap<String, std::sync::Arc<Mutex<()>>>>,
    /// Sessions a runtime's hook said show a permission prompt: the
    /// permission watcher looks at them at once.
    poked: Mutex<std::collections::HashSet<String>>,
    pub poke: tokio::sync::Notify,
    /// The command queue of every session.
    pub queue: queue::Queue,
}

impl Manager {
    pub fn new(tmux: Tmux, thrum_dir: &Path, var_dir: &Path) -> Manager {
        let tag = thrum_dir.canonicalize().unwrap_or_else(|_| thrum_dir.to_path_buf()).to_string_lossy().into_owned();
        let records_path = var_dir.join("tmux-sessions.json");
        let records =
            std::fs::read_to_string(&records_path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        Manager {
            tmux,
            tag,
            records_path,
            records: Mutex::new(records),
            generation: Default::default(),
            typing: Default::default(),
            poked: Default::default(),
            poke: tokio::sync::Notify::new(),
            queue: queue::Queue::load(var_dir),
        }
    }

    /// The record of session `name`.
    pub fn record(&self, name: &str) -> Option<Record> {
        self.lock().get(name).cloned()
    }

    pub fn records(&self) -> BTreeMap<String, Record> {
        self.lock().clone()
    }

    /// The typing lock of `session`: hold it (from blocking code) for the
    /// whole of a look-then-type sequence.
    pub fn typing(&self, session: &str) -> std::sync::Arc<Mutex<()>> {
        let mut all = self.typing.lock().unwrap_or_else(|p| p.into_inner());
        all.entry(session.to_string()).or_default().clone()
    }

    /// Asks the permission watcher to look at `session` now.
    pub fn poke(&self, session: &str) {
        self.poked.lock().unwrap_or_else(|p| p.into_inner()).insert(session.to_string());
        self.poke.notify_one();
    }

    /// The sessions poked since the last call.
    pub fn take_poked(&self) -> std::collections::HashSet<String> {
        std::mem::take(&mut *self.poked.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// How many times sessions changed (see the field).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Changes (or with `None`, drops) a record and writes the file.
    pub fn set_record(&self, name: &str, record: Option<Record>) -> HResult<()> {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut all = self.lock();
        match record {
            Some(r) => all.insert(name.to_string(), r),
            None => all.remove(name),
        };
        let text = serde_json::to_vec_pretty(&*all).map_err(|e| server(e.to_string()))?;
        crate::lifecycle::write_private(&self.records_path, &text).map_err(|e| server(e.to_string()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Record>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live sessions tagged as ours: (name, agent, runtime, cwd).
    pub fn live(&self) -> Result<Vec<Live>, TmuxError> {
        let rows = self.tmux.sessions(&[
            "#{session_name}",
            "#{@thrum-dir}",
            "#{@thrum-agent}",
            "#{@thrum-runtime}",
            "#{@thrum-cwd}",
        ])?;
        Ok(rows
            .into_iter()
            .filter(|r| r.len() == 5 && r[1] == self.tag)
            .map(|r| Live { name: r[0].clone(), agent: r[2].clone(), runtime: r[3].clone(), cwd: r[4].clone() })
            .collect())
    }

    /// Session `name`, if it is alive and ours; else the error that says
    /// so (a session of another repository is not ours to touch).
    pub fn ours(&self, name: &str) -> HResult<Live> {
        let live = self.live().map_err(tmux_fail)?;
        if let Some(s) = live.into_iter().find(|s| s.name == name) {
            return Ok(s);
        }
        if self.tmux.has_session(name) {
            return Err(server(format!(
                "tmux session {name:?} is not managed by this repository's thrum: see `thrum tmux status`"
            )));
        }
        Err(tmux_fail(TmuxError::NoSession(name.to_string())))
    }
}

/// A live managed session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    pub name: String,
    pub agent: String,
    pub runtime: String,
    pub cwd: String,
}

pub fn tmux_fail(e: TmuxError) -> Fail {
    server(e.to_string())
}

/// Runs blocking tmux work off the async threads.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> HResult<T> + Send + 'static) -> HResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| server(format!("tmux task failed: {e}")))?
}

/// How the runtime of a session draws its screen (a session where no
/// runtime was launched is a shell).
pub fn profile_of(runtime: &str) -> &'static thrum_core::runtimes::Screen {
    let r = thrum_core::runtimes::get(runtime).or_else(|| thrum_core::runtimes::get("shell"));
    match r {
        Some(r) => &r.screen,
        None => &thrum_core::runtimes::GENERIC_SCREEN,
    }
}

/// One look at a session's pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// What it shows (see `thrum_tmux::screen::look`).
    pub look: thrum_tmux::screen::Look,
    /// Tells whether it changed between two looks.
    pub fingerprint: u64,
}

/// Looks at a session's pane.
pub fn look(tmux: &Tmux, session: &str, profile: &thrum_core::runtimes::Screen) -> Result<Seen, TmuxError> {
    use thrum_tmux::screen;
    let pane = tmux.pane(session)?;
    let capture = screen::Capture::parse(&tmux.capture(session, 0, true)?);
    let look = screen::look(&capture, profile, &pane.title, (pane.cursor_x, pane.cursor_y), pane.in_mode);
    Ok(Seen { look, fingerprint: screen::fingerprint(&capture, profile) })
}

/// The identity file of `agent` in the worktree at `cwd`.
pub fn identity_path(cwd: &Path, agent: &str) -> Option<PathBuf> {
    let layout = thrum_core::Layout::discover(cwd).ok()?;
    Some(layout.identities_dir().join(format!("{agent}.json")))
}

/// Reads the identity file of `agent` at `cwd`.
pub fn read_identity(cwd: &Path, agent: &str) -> Option<(PathBuf, IdentityFile)> {
    let path = identity_path(cwd, agent)?;
    let f = IdentityFile::parse(&std::fs::read_to_string(&path).ok()?).ok()?;
    Some((path, f))
}

/// Changes an agent's identity file in place (a missing file is left
/// alone).
pub fn update_identity(cwd: &Path, agent: &str, change: impl FnOnce(&mut IdentityFile)) -> HResult<()> {
    let Some((path, mut f)) = read_identity(cwd, agent) else {
        return Ok(());
    };
    change(&mut f);
    crate::lifecycle::write_private(&path, f.to_pretty().as_bytes()).map_err(|e| server(e.to_string()))
}
