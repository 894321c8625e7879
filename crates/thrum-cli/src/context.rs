//! Per-invocation context: global flags, the repository layout, the
//! daemon connection (started on demand) and the caller's identity.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde_json::Value;
use thrum_client::{Client, Session, SessionEvent};
use thrum_core::Layout;
use thrum_proto::methods::Method;

use crate::identity::{self, Me};
use crate::output::Out;

pub struct Ctx {
    pub out: Out,
    pub role: Option<String>,
    pub module: Option<String>,
    /// THRUM_DISPLAY: the display name, over the identity file's (as
    /// THRUM_ROLE / THRUM_MODULE are for role and module).
    pub display: Option<String>,
    repo: Option<PathBuf>,
    layout: Option<Layout>,
    session: Option<Session>,
}

impl Ctx {
    pub fn new(out: Out, role: Option<String>, module: Option<String>, repo: Option<PathBuf>) -> Self {
        let env = |k: &str| thrum_core::env::var(k).ok().filter(|v| !v.is_empty());
        Ctx {
            out,
            role: role.or_else(|| env("THRUM_ROLE")),
            module: module.or_else(|| env("THRUM_MODULE")),
            display: env("THRUM_DISPLAY"),
            repo,
            layout: None,
            session: None,
        }
    }

    /// Where the command starts looking: `--repo`, `THRUM_HOME`, or cwd.
    pub fn start_dir(&self) -> Result<PathBuf> {
        if let Some(r) = &self.repo {
            return Ok(r.clone());
        }
        if let Ok(h) = thrum_core::env::var("THRUM_HOME")
            && !h.is_empty()
        {
            return Ok(PathBuf::from(h));
        }
        std::env::current_dir().context("cannot read the current directory")
    }

    /// The repository layout (requires `thrum init` to have run).
    pub fn layout(&mut self) -> Result<&Layout> {
        if self.layout.is_none() {
            let start = self.start_dir()?;
            self.layout = Some(Layout::discover(&start)?);
        }
        self.layout.as_ref().ok_or_else(|| crate::internal_err!("no layout"))
    }

    /// Uses `layout` from now on (a hook finds its repository from the
    /// runtime's `cwd`, not ours).
    pub fn set_layout(&mut self, layout: Layout) {
        self.layout = Some(layout);
        self.session = None;
    }

    /// The daemon session (created on first use): it starts the daemon
    /// when it is not running and replaces one that speaks another
    /// protocol, saying so on stderr once (not with --quiet).
    pub fn session(&mut self) -> Result<&mut Session> {
        if self.session.is_none() {
            let layout = self.layout()?.clone();
            let out = self.out;
            let root = layout.repo_root();
            let session = Session::new(layout).on_event(move |event| {
                if out.quiet {
                    return;
                }
                match event {
                    SessionEvent::Started { pid } => {
                        out.note(format!("thrum: started daemon (PID {pid}) for {}", root.display()));
                    }
                    SessionEvent::Restarted { old_pid, old_protocol, pid } => out.note(format!(
                        "thrum: restarted the daemon for {}: it spoke protocol {old_protocol} (PID {old_pid}), this thrum speaks {} (PID {})",
                        root.display(),
                        thrum_proto::PROTOCOL_VERSION,
                        pid.map_or_else(|| "?".to_string(), |p| p.to_string()),
                    )),
                }
            });
            self.session = Some(session);
        }
        self.session.as_mut().ok_or_else(|| crate::internal_err!("no session"))
    }

    /// The daemon connection itself, for calls that set their own timeout
    /// or read pushes (`wait`, `subscribe --follow`, `peer add`).
    pub fn client(&mut self) -> Result<&mut Client> {
        Ok(self.session()?.client()?)
    }

    /// Connects only if a daemon is already running.
    pub fn try_client(&mut self) -> Option<&mut Client> {
        self.session().ok()?.try_client()
    }

    /// One RPC call (see [`Session`]: a method whose policy says it is
    /// idempotent is retried across a dropped connection; any other is
    /// tried once). A daemon error stays in the chain as it came (code,
    /// message, data), so the edge can report its kind.
    pub fn call<M: Method>(&mut self, params: &M::Params) -> Result<M::Result> {
        Ok(self.session()?.call::<M>(params)?)
    }

    /// A call by name with raw JSON params: only for `thrum rpc METHOD
    /// JSON`, which may name any method at all.
    pub fn call_value(&mut self, method: &str, params: Value) -> Result<Value> {
        Ok(self.session()?.call_value(method, params)?)
    }

    /// The agent this process speaks for.
    pub fn me(&mut self) -> Result<Me> {
        let layout = self.layout()?.clone();
        let me = identity::resolve(&layout, None)?;
        identity::check_cross_worktree(&layout, &me, self.out)?;
        Ok(me)
    }
}

/// The root of the worktree holding `start`: the nearest folder with a
/// `.git` (directory or file) or a `.thrum/` directory.
pub fn worktree_root(start: &std::path::Path) -> Option<PathBuf> {
    start.ancestors().find(|d| d.join(".git").exists() || d.join(".thrum").is_dir()).map(std::path::Path::to_path_buf)
}
