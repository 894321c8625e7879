//! Who is calling: identity from the kernel, not from the request.
//!
//! On accept, the peer's PID comes from `SO_PEERCRED`; its working
//! directory (from `/proc/PID/cwd`) is walked up to the worktree holding a
//! `.thrum/` that resolves to this daemon's. The identity files in that
//! worktree are the agents the caller may act as. A `caller_agent_id`
//! naming anyone else is refused.
//!
//! Three outcomes, as in the original: a resolved worktree; provably
//! anonymous (outside every worktree of this repository), which may only
//! call read-only methods; and unknown (the process was gone before we
//! could look), which falls back to trusting the claim.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use thrum_core::Layout;
use thrum_core::guard::{Guard, Guards, Mode, fired};
use thrum_proto::{ErrorCode, RpcError};

use crate::error::{Fail, HResult};

#[derive(Debug, Clone)]
pub enum Caller {
    /// A process inside one of this repository's worktrees.
    Worktree { root: PathBuf, identities: PathBuf, listing: Arc<Mutex<Option<Listing>>> },
    /// Provably outside this repository.
    Anonymous,
    /// Introspection failed; claims are trusted.
    Unknown,
    /// A WebSocket client (a browser or a tool on this machine): no kernel
    /// identity, so writes must name their agent; may register a user.
    Browser,
    /// The daemon itself, writing as a pseudo-agent (`system`): never a
    /// peer on a socket, so no request can claim it.
    Daemon,
}

impl Caller {
    /// Classifies a peer by PID.
    pub fn from_pid(pid: Option<i32>, thrum_dir: &Path) -> Caller {
        let Some(pid) = pid else {
            return Caller::Unknown;
        };
        let cwd = match std::fs::read_link(format!("/proc/{pid}/cwd")) {
            Ok(p) => p,
            Err(_) => return Caller::Unknown,
        };
        Self::from_cwd(&cwd, thrum_dir)
    }

    /// Classifies a working directory.
    pub fn from_cwd(cwd: &Path, thrum_dir: &Path) -> Caller {
        let Ok(layout) = Layout::discover(cwd) else {
            return Caller::Anonymous;
        };
        let ours = thrum_dir.canonicalize().unwrap_or_else(|_| thrum_dir.to_path_buf());
        let theirs = layout.thrum_dir.canonicalize().unwrap_or_else(|_| layout.thrum_dir.clone());
        if ours != theirs {
            return Caller::Anonymous;
        }
        Caller::Worktree {
            identities: layout.identities_dir(),
            root: layout.worktree_root,
            listing: Default::default(),
        }
    }

    /// Agents whose identity files are in the caller's worktree.
    pub fn agents(&self) -> Vec<String> {
        let Caller::Worktree { identities, listing, .. } = self else {
            return Vec::new();
        };
        // A connection asks on every request: re-list the directory only
        // when its modification time moved (one stat instead of a scan).
        let mtime = std::fs::metadata(identities).and_then(|m| m.modified()).ok();
        let mut cached = listing.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some(m), Some(l)) = (mtime, cached.as_ref())
            && l.trusted(m)
        {
            return l.agents.clone();
        }
        let read_at = SystemTime::now();
        let mut out: Vec<String> = std::fs::read_dir(identities)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        *cached = mtime.map(|mtime| Listing { mtime, read_at, agents: out.clone() });
        out
    }

    /// Whether the caller counts as anonymous for the method allowlist: no
    /// worktree of ours, or a worktree with no registered agent.
    pub fn is_anonymous(&self) -> bool {
        match self {
            Caller::Anonymous => true,
            Caller::Worktree { .. } => self.agents().is_empty(),
            Caller::Unknown | Caller::Browser | Caller::Daemon => false,
        }
    }

    /// Resolves which agent a request acts as, checking a claim against
    /// the kernel-derived identity.
    pub fn resolve(&self, claimed: Option<&str>) -> HResult<String> {
        let claimed = claimed.map(|c| c.trim_start_matches('@')).filter(|c| !c.is_empty());
        match self {
            Caller::Unknown | Caller::Daemon => claimed
                .map(str::to_string)
                .ok_or_else(|| identity_err("caller_agent_id is required: set THRUM_NAME or pass --name")),
            Caller::Browser => claimed.map(str::to_string).ok_or_else(|| {
                identity_err("unauthenticated_rpc/no_caller_agent_id: name the agent in caller_agent_id, or call user.register first")
            }),
            Caller::Anonymous => Err(identity_err(
                "caller is outside every worktree of this repository: cd into a registered agent worktree and retry",
            )),
            Caller::Worktree { root, .. } => {
                let agents = self.agents();
                match claimed {
                    Some(c) if agents.iter().any(|a| a == c) => Ok(c.to_string()),
                    Some(c) => Err(identity_err(&format!(
                        "unauthenticated_rpc/identity_mismatch: caller_agent_id {c:?} is not registered in worktree {} (registered here: {}); run from that agent's worktree or set THRUM_NAME to one of these",
                        root.display(),
                        list_or_none(&agents)
                    ))),
                    None => match agents.as_slice() {
                        [one] => Ok(one.clone()),
                        [] => Err(identity_err(
                            "no agent is registered in this worktree: run `thrum quickstart --name NAME --role ROLE --module MODULE`",
                        )),
                        many => Err(identity_err(&format!(
                            "several agents are registered in this worktree ({}): set THRUM_NAME to pick one",
                            many.join(", ")
                        ))),
                    },
                }
            }
        }
    }
}

/// The identity files of a worktree as last listed.
#[derive(Debug)]
pub struct Listing {
    mtime: SystemTime,
    read_at: SystemTime,
    agents: Vec<String>,
}

impl Listing {
    /// Whether the listing still holds for a directory modified at
    /// `mtime`. File times tick coarsely, so a file added in the same tick
    /// as our read would leave the time unchanged: a listing taken less
    /// than a second after the last change is never trusted.
    fn trusted(&self, mtime: SystemTime) -> bool {
        mtime == self.mtime && self.read_at.duration_since(self.mtime).is_ok_and(|d| d > Duration::from_secs(1))
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

fn identity_err(msg: &str) -> Fail {
    Fail(RpcError::new(ErrorCode::Identity, msg))
}

/// The error for an anonymous caller invoking a method outside the
/// allowlist (the original's wording and its code).
pub fn anonymous_refused(method: &str) -> RpcError {
    RpcError::new(
        ErrorCode::Anonymous,
        format!("anonymous caller cannot invoke {method:?}: cd into a registered agent worktree and retry"),
    )
}

/// A guard's mode now (the files are read at each broken rule, so an
/// operator's edit to guard-daemon.json applies without a restart).
pub fn guard_mode(layout: &Layout, guard: Guard) -> Mode {
    let guards = Guards::load(layout);
    for p in &guards.problems {
        tracing::warn!("{p}");
    }
    guards.mode(guard)
}

/// Whether a broken rule is refused under its guard's mode (strict);
/// warn logs `why` in daemon.log and allows, off allows.
pub fn refuses(layout: &Layout, guard: Guard, reason: &str, why: &str) -> bool {
    match guard_mode(layout, guard) {
        Mode::Strict => true,
        Mode::Warn => {
            tracing::warn!(guard = guard.key(), reason, outcome = "allowed", "{}", fired(guard, reason, why));
            false
        }
        Mode::Off => false,
    }
}
