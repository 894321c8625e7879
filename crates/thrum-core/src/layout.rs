//! Where thrum keeps its files, and how a worktree finds the shared
//! `.thrum/` directory through `.thrum/redirect`.
//!
//! Only the standard library's file system calls are used here; git
//! queries (the common dir for the sync worktree) live in `thrum-git`.

use std::path::{Path, PathBuf};

/// Name of the per-repository directory.
pub const THRUM_DIR: &str = ".thrum";

/// Why the `.thrum` directory could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("thrum is not initialized in {0} (no .thrum/ directory found): run `thrum init` first")]
    NotInitialized(PathBuf),
    #[error("invalid .thrum/redirect in {path}: {why}")]
    BadRedirect { path: PathBuf, why: String },
}

/// The resolved locations for one repository (and one worktree of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The worktree the command runs in (holds `.thrum/identities`).
    pub worktree_root: PathBuf,
    /// The worktree-local `.thrum/` (identities, context).
    pub local_thrum_dir: PathBuf,
    /// The shared `.thrum/` (after following a redirect): var/, config.
    pub thrum_dir: PathBuf,
}

impl Layout {
    /// Builds the layout for a worktree root, following a redirect.
    pub fn for_root(root: &Path) -> Result<Self, LayoutError> {
        let local = root.join(THRUM_DIR);
        let shared = resolve_redirect(&local)?;
        Ok(Layout { worktree_root: root.to_path_buf(), local_thrum_dir: local, thrum_dir: shared })
    }

    /// Finds the layout by walking up from `start` to the nearest
    /// directory holding `.thrum/` (the way git finds its root).
    pub fn discover(start: &Path) -> Result<Self, LayoutError> {
        let mut dir = Some(start);
        while let Some(d) = dir {
            if d.join(THRUM_DIR).is_dir() {
                return Self::for_root(d);
            }
            dir = d.parent();
        }
        Err(LayoutError::NotInitialized(start.to_path_buf()))
    }

    /// The repository root that owns the shared `.thrum/`.
    pub fn repo_root(&self) -> PathBuf {
        self.thrum_dir.parent().map(Path::to_path_buf).unwrap_or_else(|| self.worktree_root.clone())
    }

    pub fn var_dir(&self) -> PathBuf {
        self.thrum_dir.join("var")
    }
    pub fn socket(&self) -> PathBuf {
        match crate::env::var("THRUM_SOCKET") {
            Ok(s) if !s.is_empty() => PathBuf::from(s),
            _ => self.var_dir().join("thrum.sock"),
        }
    }
    pub fn pid_file(&self) -> PathBuf {
        self.var_dir().join("thrum.pid")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.var_dir().join("thrum.lock")
    }
    pub fn start_lock_file(&self) -> PathBuf {
        self.var_dir().join("start.lock")
    }
    pub fn log_file(&self) -> PathBuf {
        self.var_dir().join("daemon.log")
    }
    pub fn db_file(&self) -> PathBuf {
        self.var_dir().join("messages.db")
    }
    pub fn config_file(&self) -> PathBuf {
        self.thrum_dir.join("config.json")
    }
    pub fn identities_dir(&self) -> PathBuf {
        self.local_thrum_dir.join("identities")
    }
    pub fn context_dir(&self) -> PathBuf {
        self.local_thrum_dir.join("context")
    }
    /// Restart snapshots (`<agent>.md`), beside the identities they belong to.
    pub fn restart_dir(&self) -> PathBuf {
        self.local_thrum_dir.join("restart")
    }
}

/// Follows `.thrum/redirect` one hop. The target must be an absolute path
/// to another `.thrum` directory that has no redirect of its own.
pub fn resolve_redirect(local: &Path) -> Result<PathBuf, LayoutError> {
    let file = local.join("redirect");
    let raw = match std::fs::read_to_string(&file) {
        Ok(s) => s,
        Err(_) => return Ok(local.to_path_buf()),
    };
    let bad = |why: &str| LayoutError::BadRedirect { path: file.clone(), why: why.to_string() };
    let target = PathBuf::from(raw.trim());
    if target.as_os_str().is_empty() {
        return Err(bad("the file is empty; write the absolute path of the main repository's .thrum directory"));
    }
    if !target.is_absolute() {
        return Err(bad("the target must be an absolute path"));
    }
    let same =
        |a: &Path, b: &Path| a.canonicalize().ok().zip(b.canonicalize().ok()).map(|(x, y)| x == y).unwrap_or(a == b);
    if same(&target, local) {
        return Err(bad("it points at itself"));
    }
    if !target.is_dir() {
        return Err(bad(&format!("target {} does not exist", target.display())));
    }
    if target.join("redirect").exists() {
        return Err(bad("the target has a redirect of its own; chains are not followed"));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder, removed when the guard drops.
    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn discovers_and_follows_one_redirect() {
        let guard = tmp();
        let base = guard.path().to_path_buf();
        let main = base.join("main");
        let wt = base.join("wt");
        std::fs::create_dir_all(main.join(".thrum")).ok();
        std::fs::create_dir_all(wt.join(".thrum")).ok();
        std::fs::create_dir_all(wt.join("src/deep")).ok();
        std::fs::write(wt.join(".thrum/redirect"), format!("{}\n", main.join(".thrum").display())).ok();
        let l = Layout::discover(&wt.join("src/deep")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.thrum_dir, main.join(".thrum"));
        assert_eq!(l.identities_dir(), wt.join(".thrum/identities"));
        assert_eq!(l.repo_root(), main);
    }

    #[test]
    fn rejects_chains_relative_and_self() {
        let guard = tmp();
        let base = guard.path().to_path_buf();
        for d in ["a/.thrum", "b/.thrum", "c/.thrum"] {
            std::fs::create_dir_all(base.join(d)).ok();
        }
        std::fs::write(base.join("b/.thrum/redirect"), base.join("c/.thrum").display().to_string()).ok();
        std::fs::write(base.join("a/.thrum/redirect"), base.join("b/.thrum").display().to_string()).ok();
        assert!(matches!(Layout::for_root(&base.join("a")), Err(LayoutError::BadRedirect { .. })));
        std::fs::write(base.join("a/.thrum/redirect"), "relative/.thrum").ok();
        assert!(matches!(Layout::for_root(&base.join("a")), Err(LayoutError::BadRedirect { .. })));
        std::fs::write(base.join("a/.thrum/redirect"), base.join("a/.thrum").display().to_string()).ok();
        assert!(matches!(Layout::for_root(&base.join("a")), Err(LayoutError::BadRedirect { .. })));
    }

    #[test]
    fn not_initialized() {
        let guard = tmp();
        let base = guard.path().to_path_buf();
        assert!(matches!(Layout::discover(&base), Err(LayoutError::NotInitialized(_))));
    }
}
