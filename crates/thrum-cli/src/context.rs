//! Per-invocation context: global flags, the repository layout, the
//! daemon connection (started on demand) and the caller's identity.

use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use thrum_client::{Client, ClientError};
use thrum_core::Layout;

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
        self.layout.as_ref().ok_or_else(|| anyhow!("no layout"))
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
                eprintln!("thrum: started daemon (PID {pid}) for {}", layout.repo_root().display());
            }
            self.client = Some(client);
        }
        self.client.as_mut().ok_or_else(|| anyhow!("no client"))
    }

    /// Connects only if a daemon is already running.
    pub fn try_client(&mut self) -> Option<&mut Client> {
        if self.client.is_none() {
            let layout = self.layout().ok()?.clone();
            self.client = Client::connect(&layout.socket()).ok();
        }
        self.client.as_mut()
    }

    /// One typed RPC call; daemon errors keep their message. Calls that
    /// are safe to repeat are retried across a dropped connection.
    pub fn call<P: Serialize, R: DeserializeOwned>(&mut self, method: &str, params: &P) -> Result<R> {
        if repeatable(method) {
            return self.call_retrying(method, params);
        }
        self.client()?.call_as(method, params).map_err(|e| rpc_error(method, e))
    }

    /// A call that is safe to repeat (idempotent on the daemon side):
    /// when the connection fails, reconnect (restarting the daemon if it
    /// died) and try again, up to three times.
    pub fn call_retrying<P: Serialize, R: DeserializeOwned>(&mut self, method: &str, params: &P) -> Result<R> {
        let mut last = None;
        for _ in 0..3 {
            match self.client()?.call_as(method, params) {
                Ok(v) => return Ok(v),
                Err(ClientError::Rpc(r)) => return Err(anyhow!("{}", r.message)),
                Err(e) => {
                    self.client = None;
                    last = Some(e);
                }
            }
        }
        Err(last.map(|e| anyhow!(e)).unwrap_or_else(|| anyhow!("{method} failed")))
    }

    pub fn call_value(&mut self, method: &str, params: Value) -> Result<Value> {
        self.client()?.call_value(method, params).map_err(|e| rpc_error(method, e))
    }

    /// The agent this process speaks for.
    pub fn me(&mut self) -> Result<Me> {
        let layout = self.layout()?.clone();
        identity::resolve(&layout, None)
    }
}

/// Reads, and writes whose repetition changes nothing.
fn repeatable(method: &str) -> bool {
    use thrum_proto::methods::{agent, message, session, system};
    const WRITES: &[&str] = &[agent::REGISTER, session::START, session::SET_INTENT];
    (thrum_proto::methods::ANONYMOUS_ALLOWED.contains(&method) && !WRITES.contains(&method))
        || [message::MARK_READ, session::HEARTBEAT, system::HEALTH].contains(&method)
}

fn rpc_error(_method: &str, e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Rpc(r) => anyhow!("{}", r.message),
        other => anyhow!(other),
    }
}

/// The root of the worktree holding `start`: the nearest folder with a
/// `.git` (directory or file) or a `.thrum/` directory.
pub fn worktree_root(start: &std::path::Path) -> Option<PathBuf> {
    start.ancestors().find(|d| d.join(".git").exists() || d.join(".thrum").is_dir()).map(std::path::Path::to_path_buf)
}
