//! Which agent this CLI process speaks for.
//!
//! Order: `THRUM_AGENT_ID` (pins the RPC identity) > `THRUM_NAME` > an
//! explicit `--name` > the only identity file in this worktree > the file
//! whose `agent_pid` is one of our ancestors > the file whose worktree is
//! this one > an error listing the candidates.
//!
//! Failing to tell who we are is a configuration error (exit 78): no
//! identity, several, one named that does not exist, or an unreadable file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use thrum_core::Layout;
use thrum_core::guard::{self, Guard, Guards, Mode};
use thrum_core::identity::IdentityFile;

use crate::config_err;
use crate::error::{ErrorKind, ResultExt};

/// The resolved agent.
#[derive(Debug, Clone)]
pub struct Me {
    pub name: String,
    pub file: Option<IdentityFile>,
    pub path: Option<PathBuf>,
    /// `environment`, `flags` or `identity_file`.
    pub source: &'static str,
}

fn file_path(layout: &Layout, name: &str) -> PathBuf {
    layout.identities_dir().join(format!("{name}.json"))
}

/// Reads one identity file.
pub fn load(path: &Path) -> Result<IdentityFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read {}", path.display()))
        .error_kind(ErrorKind::Config)?;
    IdentityFile::parse(&text).map_err(|e| config_err!("{}: {e}", path.display()))
}

/// Names of the identity files in this worktree (sorted).
pub fn names(layout: &Layout) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(layout.identities_dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
                .filter(|n| !n.ends_with(".deleted"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn by_name(layout: &Layout, name: &str, source: &'static str, var: &str) -> Result<Me> {
    let name = name.trim_start_matches('@').to_string();
    let path = file_path(layout, &name);
    if !path.exists() {
        let e = anyhow!(
            "{var}={name} but {} does not exist\n  Register with: thrum quickstart --name {name} --role <role> --module <module>",
            path.display()
        );
        return Err(e).error_kind(ErrorKind::Config);
    }
    let file = load(&path)?;
    Ok(Me { name, file: Some(file), path: Some(path), source })
}

/// Resolves the caller, `flag_name` being an explicit `--name`.
pub fn resolve(layout: &Layout, flag_name: Option<&str>) -> Result<Me> {
    if let Ok(id) = thrum_core::env::var("THRUM_AGENT_ID")
        && !id.is_empty()
    {
        let path = file_path(layout, &id);
        let file = load(&path).ok();
        return Ok(Me { name: id, path: file.as_ref().map(|_| path), file, source: "environment" });
    }
    if let Ok(n) = thrum_core::env::var("THRUM_NAME")
        && !n.is_empty()
    {
        return by_name(layout, &n, "environment", "THRUM_NAME");
    }
    if let Some(n) = flag_name.filter(|n| !n.is_empty()) {
        return by_name(layout, n, "flags", "--name");
    }
    let all = names(layout);
    match all.as_slice() {
        [] => {
            return Err(config_err!(
                "no agent identities registered in this worktree\n  Register with: thrum quickstart --name <name> --role <role> --module <module>"
            ));
        }
        [one] => return by_name(layout, one, "identity_file", "identity"),
        _ => {}
    }
    let files: Vec<(String, IdentityFile)> =
        all.iter().filter_map(|n| load(&file_path(layout, n)).ok().map(|f| (n.clone(), f))).collect();
    let ancestors = ancestor_pids();
    let by_pid: Vec<&(String, IdentityFile)> =
        files.iter().filter(|(_, f)| f.agent_pid > 0 && ancestors.contains(&f.agent_pid)).collect();
    if let [one] = by_pid.as_slice() {
        return by_name(layout, &one.0, "identity_file", "identity");
    }
    let here = layout.worktree_root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut by_tree: Vec<&(String, IdentityFile)> = files.iter().filter(|(_, f)| f.worktree == here).collect();
    if by_tree.len() == 1 {
        return by_name(layout, &by_tree[0].0, "identity_file", "identity");
    }
    by_tree.clear();
    Err(config_err!(
        "cannot auto-select identity: several agents are registered in this worktree ({})\n  Set THRUM_NAME=<name> to choose one",
        all.join(", ")
    ))
}

/// The identity guards' modes, with a warning for each unreadable file or
/// unknown mode (that guard keeps its default).
pub fn guards(thrum_dir: &Path, out: crate::output::Out) -> Guards {
    let g = Guards::load_dir(thrum_dir);
    for p in &g.problems {
        out.warn(p);
    }
    g
}

/// The cross_worktree guard: the identity we are about to speak as was
/// registered from another worktree and its runtime is still running
/// there, outside our process tree (a copied identity file, or a shell
/// that moved). Acting as it would put our words in that agent's mouth.
pub fn check_cross_worktree(layout: &Layout, me: &Me, out: crate::output::Out) -> Result<()> {
    let Some(f) = &me.file else {
        return Ok(());
    };
    // Cheapest tests first: most calls stop at the PID.
    if f.worktree.is_empty() || f.agent_pid <= 0 || !thrum_core::process::pid_alive(f.agent_pid) {
        return Ok(());
    }
    if ancestor_pids().contains(&f.agent_pid) {
        return Ok(());
    }
    // The worktree holding `.thrum/` (no git run: this is on every
    // command's path).
    let tree = layout.worktree_root.clone();
    let here = tree.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if f.worktree == here {
        return Ok(());
    }
    let why = format!(
        "@{} was registered from worktree {:?}, where its runtime (PID {}) still runs, but this command runs in {}; cd to that worktree, or claim the name here with `thrum quickstart --name {} --force`",
        me.name,
        f.worktree,
        f.agent_pid,
        tree.display(),
        me.name
    );
    match guards(&layout.thrum_dir, out).mode(Guard::CrossWorktree) {
        Mode::Strict => Err(config_err!("{why}")),
        Mode::Warn => {
            out.warn(guard::fired(Guard::CrossWorktree, "pid_mismatch", &why));
            Ok(())
        }
        Mode::Off => Ok(()),
    }
}

/// Our parent, grandparent, … (from /proc).
pub fn ancestor_pids() -> Vec<i64> {
    let mut out = Vec::new();
    let mut pid = std::process::id() as i64;
    for _ in 0..32 {
        let Some(ppid) = parent_of(pid) else { break };
        if ppid <= 1 {
            break;
        }
        out.push(ppid);
        pid = ppid;
    }
    out
}

fn parent_of(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn comm_of(pid: i64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The PID of the agent runtime we run under: the nearest ancestor whose
/// name is a known runtime, else our parent.
pub fn runtime_pid() -> i64 {
    let anc = ancestor_pids();
    anc.iter()
        .copied()
        .find(|p| crate::runtimes::is_runtime_process(&comm_of(*p)))
        .or_else(|| anc.first().copied())
        .unwrap_or(0)
}

/// Writes an identity file (0600, atomically).
pub fn save(layout: &Layout, file: &IdentityFile) -> Result<PathBuf> {
    let dir = layout.identities_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let path = file_path(layout, &file.agent.name);
    thrum_core::fs::write_private(&path, file.to_pretty().as_bytes()).context("write the identity file")?;
    Ok(path)
}
