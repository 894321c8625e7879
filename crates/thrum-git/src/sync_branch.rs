//! The `a-sync` orphan branch and the sparse worktree the daemon keeps it
//! checked out in, under `<git-common-dir>/thrum-sync/a-sync/`.
//!
//! The branch is created with plumbing only (`commit-tree` of the empty
//! tree, then `update-ref`), so the user's branch, index and working tree
//! are never touched.

use std::path::{Path, PathBuf};

use thrum_core::Layout;

use crate::cmd::{Git, GitError};
use crate::{EMPTY_TREE, SYNC_BRANCH};

/// Sparse-checkout patterns: only the log, never anything else that might
/// appear on the branch.
pub const SPARSE_PATTERNS: &[&str] = &["/events.jsonl", "/messages/", "/messages.jsonl", "/context/"];

/// Where the sync worktree lives for a repository.
pub fn sync_worktree_path(common_dir: &Path) -> PathBuf {
    common_dir.join("thrum-sync").join(SYNC_BRANCH)
}

/// Where the event log lives: the sync worktree on `a-sync` when the
/// repository is a git repository (every worktree of it shares one), else
/// `.thrum/a-sync/`.
pub fn log_dir(layout: &Layout, repo_root: &Path) -> PathBuf {
    match Git::new(repo_root).common_dir() {
        Ok(common) => sync_worktree_path(&common),
        Err(_) => layout.thrum_dir.join("a-sync"),
    }
}

/// Creates the `a-sync` branch if it does not exist. Returns true when it
/// was created.
pub fn ensure_branch(git: &Git) -> Result<bool, GitError> {
    if git.ref_exists(&format!("refs/heads/{SYNC_BRANCH}")) {
        return Ok(false);
    }
    let sha = git.run(&[
        "-c",
        "user.name=Thrum",
        "-c",
        "user.email=thrum@local",
        "commit-tree",
        EMPTY_TREE,
        "-m",
        "Initialize Thrum sync",
    ])?;
    git.run(&["update-ref", &format!("refs/heads/{SYNC_BRANCH}"), &sha, ""])?;
    Ok(true)
}

/// Whether the sync worktree at `path` is healthy: a linked worktree that
/// git knows, on `a-sync`, with our sparse patterns.
pub fn worktree_healthy(git: &Git, path: &Path) -> bool {
    let dotgit = path.join(".git");
    if !dotgit.is_file() {
        return false;
    }
    let Ok(list) = git.run(&["worktree", "list", "--porcelain"]) else {
        return false;
    };
    let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let listed = list
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .any(|p| Path::new(p).canonicalize().map(|c| c == canon).unwrap_or(false));
    if !listed {
        return false;
    }
    let wt = Git::new(path);
    if wt.run(&["rev-parse", "--abbrev-ref", "HEAD"]).ok().as_deref() != Some(SYNC_BRANCH) {
        return false;
    }
    let gitdir = std::fs::read_to_string(&dotgit)
        .ok()
        .and_then(|s| s.trim().strip_prefix("gitdir:").map(|p| PathBuf::from(p.trim())));
    match gitdir.map(|g| std::fs::read_to_string(g.join("info/sparse-checkout"))) {
        Some(Ok(s)) => s.contains("events.jsonl") && s.contains("messages"),
        _ => false,
    }
}

/// Creates (or repairs) the sparse sync worktree. Events already in a
/// broken worktree's files are preserved by the caller before repair.
pub fn ensure_worktree(git: &Git, path: &Path) -> Result<bool, GitError> {
    let _ = git.run(&["worktree", "prune"]);
    if worktree_healthy(git, path) {
        return Ok(false);
    }
    if path.exists() {
        let p = path.to_string_lossy().to_string();
        let _ = git.run(&["worktree", "remove", "--force", &p]);
        let _ = git.run(&["worktree", "prune"]);
        std::fs::remove_dir_all(path)
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })?;
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let p = path.to_string_lossy().to_string();
    git.run(&["worktree", "add", "-f", "--no-checkout", &p, SYNC_BRANCH])?;
    let wt = Git::new(path);
    wt.run(&["sparse-checkout", "init", "--no-cone"])?;
    let mut args = vec!["sparse-checkout", "set", "--no-cone"];
    args.extend_from_slice(SPARSE_PATTERNS);
    wt.run(&args)?;
    wt.run(&["checkout", SYNC_BRANCH])?;
    // git >= 2.38 may switch sparse checkout on for the main worktree as a
    // side effect; the user's checkout must stay as it was.
    let _ = git.run(&["config", "core.sparseCheckout", "false"]);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("thrum-syncbranch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join(".thrum")).ok();
        d.canonicalize().unwrap_or(d)
    }

    fn layout(root: &Path) -> Layout {
        Layout {
            worktree_root: root.to_path_buf(),
            local_thrum_dir: root.join(".thrum"),
            thrum_dir: root.join(".thrum"),
        }
    }

    #[test]
    fn the_log_lives_in_the_sync_worktree_of_a_git_repository() {
        let root = tmp("log-dir");
        assert_eq!(log_dir(&layout(&root), &root), root.join(".thrum/a-sync"), "not a git repository");
        if Git::new(&root).run(&["init", "-q"]).is_err() {
            return; // no git here: nothing more to check
        }
        assert_eq!(log_dir(&layout(&root), &root), root.join(".git/thrum-sync/a-sync"));
        let _ = std::fs::remove_dir_all(&root);
    }
}
