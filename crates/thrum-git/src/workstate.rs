//! The live git state of an agent's worktree: its branch, the commits not
//! yet on the merge target, the files those commits change, and the files
//! changed but not committed.
//!
//! Three cheap git commands per refresh. `git status` is the one whose
//! cost grows with the repository (it stats every tracked file), so the
//! caller decides how often to run it from how long it took.

use std::path::Path;

use crate::cmd::{Git, GitError};

/// At most this many entries are kept of each list: enough to answer
/// "who has this file" for any real piece of work, bounded for a branch
/// that rewrites the whole tree.
pub const MAX_ENTRIES: usize = 500;

/// One commit not yet on the merge target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub subject: String,
}

/// What a worktree looks like now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkState {
    /// The checked-out branch ("" when detached).
    pub branch: String,
    /// What the branch is compared with (e.g. `main`, `origin/main`); ""
    /// when none could be found.
    pub merge_target: String,
    /// Newest first.
    pub unmerged_commits: Vec<Commit>,
    /// Files the unmerged commits change (since the merge base).
    pub changed_files: Vec<String>,
    /// Files modified, staged, deleted or untracked in the worktree.
    pub uncommitted_files: Vec<String>,
}

/// Reads the state of the worktree at `dir`. `merge_target` names the
/// branch work is merged into; when `None` it is found: the remote's
/// default branch, else `main`, else `master`.
pub fn work_state(dir: &Path, merge_target: Option<&str>) -> Result<WorkState, GitError> {
    let git = Git::new(dir).with_timeout(std::time::Duration::from_secs(20));
    let branch = crate::head_branch(dir);
    let target = match merge_target.filter(|t| !t.is_empty()) {
        Some(t) if git.ref_exists(t) || git.ref_exists(&format!("refs/heads/{t}")) => t.to_string(),
        Some(_) => String::new(),
        None => default_target(&git),
    };
    let mut state = WorkState { branch, merge_target: target.clone(), ..Default::default() };
    if !target.is_empty() {
        let range = format!("{target}..HEAD");
        let log = git.run_bytes(&["log", "--format=%H%x1f%s%x1e", "--max-count=500", &range, "--"], None)?;
        state.unmerged_commits = String::from_utf8_lossy(&log)
            .split('\x1e')
            .filter_map(|rec| {
                let (sha, subject) = rec.trim_start_matches('\n').split_once('\x1f')?;
                Some(Commit { sha: sha.to_string(), subject: subject.trim_end().to_string() })
            })
            .collect();
        if !state.unmerged_commits.is_empty() {
            let three_dot = format!("{target}...HEAD");
            let diff = git.run_bytes(&["diff", "--name-only", "-z", "--no-renames", &three_dot, "--"], None)?;
            state.changed_files = nul_list(&diff).take(MAX_ENTRIES).collect();
        }
    }
    let status =
        git.run_bytes(&["status", "--porcelain=v1", "-z", "--untracked-files=normal", "--no-renames"], None)?;
    state.uncommitted_files = parse_status(&status).into_iter().take(MAX_ENTRIES).collect();
    Ok(state)
}

/// The remote's default branch, else a local `main` or `master`.
fn default_target(git: &Git) -> String {
    if let Ok(r) = git.run(&["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"])
        && !r.is_empty()
    {
        return r;
    }
    for b in ["main", "master"] {
        if git.ref_exists(&format!("refs/heads/{b}")) {
            return b.to_string();
        }
    }
    String::new()
}

fn nul_list(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    bytes.split(|&b| b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned())
}

/// Paths from `git status --porcelain=v1 -z --no-renames`: each entry is
/// two status letters, a space, then the path.
fn parse_status(bytes: &[u8]) -> Vec<String> {
    nul_list(bytes).filter_map(|e| e.get(3..).map(str::to_string)).filter(|p| !p.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_entries_become_paths() {
        let raw = b" M src/a.rs\0?? new file.txt\0D  gone.rs\0A  dir/b.rs\0";
        assert_eq!(parse_status(raw), vec!["src/a.rs", "new file.txt", "gone.rs", "dir/b.rs"]);
    }
}
