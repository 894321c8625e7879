//! Per-invocation context: global flags, the repository layout, the
//! daemon connection (started on demand) and the caller's identity.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde_json::Value;
use thrum_client::Client;
use thrum_core::Layout;
use thrum_proto::methods::Method;

use crate::identity::{self, Me};
use crate::output::Out;

pub struct Ctx {
    pub out: Out,
    pub role: Option<String>,
    pub module: Option<String>,
    repo: Option<PathBuf>,
    layout: Option<Layout>,
    client: Option<Client>,
}

impl Ctx {
    pub fn new(out: Out, role: Option<String>, module: Option<String>, repo: Option<PathBuf>) -> Self {
        let env = |k: &str| thrum_core::env::var(k).ok().filter(|v| !v.is_empty());
        Ctx {
            out,
            role: role.or_else(|| env("THRUM_ROLE")),
            module: module.or_else(|| env("THRUM_MODULE")),
            repo,
            layout: None,
            client: None,
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

    /// The daemon connection, starting the daemon when it is not running
    /// (and saying so on stderr once).
    pub fn client(&mut self) -> Result<&mut Client> {
        if self.client.is_none() {
            let layout = self.layout()?.clone();
            let (client, started) = thrum_client::connect_or_start(&layout, None)?;
            if let Some(pid) = started
                && !self.out.quiet
            {
                self.out.note(format!("thrum: started daemon (PID {pid}) for {}", layout.repo_root().display()));
            }
            self.client = Some(client);
        }
        self.client.as_mut().ok_or_else(|| crate::internal_err!("no client"))
    }

    /// Connects only if a daemon is already running.
    pub fn try_client(&mut self) -> Option<&mut Client> {
        if self.client.is_none() {
            let layout = self.layout().ok()?.clone();
            self.client = Client::connect(&layout.socket()).ok();
        }
        self.client.as_mut()
    }

    /// One RPC call; a daemon error stays in the chain as it came (code,
    /// message, data), so the edge can report its kind. A method whose
    /// policy says it is idempotent is retried across a dropped connection
    /// (reconnecting, and restarting the daemon if it died), up to three
    /// tries in all; any other method is tried once.
    pub fn call<M: Method>(&mut self, params: &M::Params) -> Result<M::Result> {
        let tries = if M::POLICY.idempotent { 3 } else { 1 };
        let mut last = None;
        for _ in 0..tries {
            match self.client()?.call::<M>(params) {
                Ok(r) => return Ok(r),
                Err(e) if e.rpc().is_some() => return Err(e.into()),
                Err(e) => {
                    self.client = None;
                    last = Some(e);
                }
            }
        }
        Err(last.map(Into::into).unwrap_or_else(|| crate::internal_err!("{} failed", M::METHOD)))
    }

    /// A call by name with raw JSON params: only for `thrum rpc METHOD
    /// JSON`, which may name any method at all.
    pub fn call_value(&mut self, method: &str, params: Value) -> Result<Value> {
        Ok(self.client()?.call_value(method, params)?)
    }

    /// The agent this process speaks for.
    pub fn me(&mut self) -> Result<Me> {
        let layout = self.layout()?.clone();
        identity::resolve(&layout, None)
    }
}

/// The root of the worktree holding `start`: the nearest folder with a
/// `.git` (directory or file) or a `.thrum/` directory.
pub fn worktree_root(start: &std::path::Path) -> Option<PathBuf> {
    start.ancestors().find(|d| d.join(".git").exists() || d.join(".thrum").is_dir()).map(std::path::Path::to_path_buf)
}
