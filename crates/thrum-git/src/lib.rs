//! Git as a subprocess: repository discovery, the `a-sync` orphan branch
//! and its sparse sync worktree.
//!
//! Running `git` itself (not a library) means the user's credentials,
//! hooks and configuration apply exactly as they do on the command line.
//! Every command runs with `GIT_TERMINAL_PROMPT=0` so a daemon can never
//! hang on a password prompt, and with a timeout.

mod cmd;
pub mod sync;
pub mod sync_branch;
pub mod workstate;

pub use cmd::{Git, GitError};
pub use workstate::{WorkState, work_state};

/// The orphan branch holding the event log.
pub const SYNC_BRANCH: &str = "a-sync";

/// git's well-known empty tree object.
pub const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// The branch checked out in a worktree, read from its HEAD file without
/// running git ("" when detached or unreadable). Cheap enough for every
/// heartbeat.
pub fn head_branch(worktree: &std::path::Path) -> String {
    let dotgit = worktree.join(".git");
    let gitdir = if dotgit.is_dir() {
        dotgit
    } else {
        match std::fs::read_to_string(&dotgit) {
            Ok(s) => match s.trim().strip_prefix("gitdir:") {
                Some(p) => {
                    let p = std::path::PathBuf::from(p.trim());
                    if p.is_absolute() { p } else { worktree.join(p) }
                }
                None => return String::new(),
            },
            Err(_) => return String::new(),
        }
    };
    std::fs::read_to_string(gitdir.join("HEAD"))
        .ok()
        .and_then(|h| h.trim().strip_prefix("ref: refs/heads/").map(str::to_string))
        .unwrap_or_default()
}
