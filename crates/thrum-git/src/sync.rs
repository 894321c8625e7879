//! The git side of a sync cycle, in the sync worktree: fetch, read the
//! remote's shards, commit, push. Merging the events themselves is the
//! store's job; this module only moves bytes and commits.

use std::path::Path;

use crate::SYNC_BRANCH;
use crate::cmd::{Git, GitError};

/// The remote-tracking ref a fetch updates.
pub const REMOTE_REF: &str = "refs/remotes/origin/a-sync";

/// What a push achieved.
#[derive(Debug)]
pub enum Push {
    Done,
    /// The remote moved on (non-fast-forward): fetch, merge, retry.
    Rejected(String),
}

/// The URL of `origin`, if the repository has one.
pub fn origin_url(git: &Git) -> Option<String> {
    git.config_get("remote.origin.url")
}

/// Fetches `a-sync` from origin. Returns the remote branch's commit, or
/// None when the remote has no `a-sync` yet.
pub fn fetch(wt: &Git) -> Result<Option<String>, GitError> {
    let refspec = format!("+refs/heads/{SYNC_BRANCH}:{REMOTE_REF}");
    match wt.run(&["fetch", "--quiet", "--no-tags", "origin", &refspec]) {
        Ok(_) => {}
        Err(GitError::Failed { stderr, .. }) if stderr.contains("couldn't find remote ref") => {
            // The remote lost (or never had) the branch: forget our copy.
            let _ = wt.run(&["update-ref", "-d", REMOTE_REF]);
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    Ok(wt.run(&["rev-parse", "--verify", "--quiet", REMOTE_REF]).ok().filter(|s| !s.is_empty()))
}

/// The remote's `a-sync` commit, asked without fetching (cheap: a ref
/// listing). None when the remote has no such branch.
pub fn remote_head(wt: &Git) -> Result<Option<String>, GitError> {
    let out = wt.run(&["ls-remote", "--quiet", "origin", &format!("refs/heads/{SYNC_BRANCH}")])?;
    Ok(out.split_whitespace().next().map(str::to_string))
}

/// Whether `a` is an ancestor of (or equal to) `b`.
pub fn is_ancestor(wt: &Git, a: &str, b: &str) -> bool {
    wt.run(&["merge-base", "--is-ancestor", a, b]).is_ok()
}

/// Every path of a commit's tree, or only those changed since `since`
/// when `since` is an ancestor (one line per path).
fn paths_at(wt: &Git, rev: &str, since: Option<&str>) -> Result<String, GitError> {
    match since {
        Some(base) if is_ancestor(wt, base, rev) => wt.run(&["diff", "--name-only", "--no-renames", base, rev]),
        _ => wt.run(&["ls-tree", "-r", "--name-only", rev]),
    }
}

/// Log files (shards) in a commit's tree, optionally only those changed
/// since `since` (when `since` is an ancestor).
pub fn shard_paths(wt: &Git, rev: &str, since: Option<&str>) -> Result<Vec<String>, GitError> {
    Ok(paths_at(wt, rev, since)?
        .lines()
        .filter(|p| {
            *p == "events.jsonl" || *p == "messages.jsonl" || (p.starts_with("messages/") && p.ends_with(".jsonl"))
        })
        .map(str::to_string)
        .collect())
}

/// Shared context files (`context/{agent}.md`) in a commit, optionally
/// only those changed since `since`.
pub fn context_paths(wt: &Git, rev: &str, since: Option<&str>) -> Result<Vec<String>, GitError> {
    Ok(paths_at(wt, rev, since)?
        .lines()
        .filter(|p| {
            p.strip_prefix("context/").and_then(|n| n.strip_suffix(".md")).is_some_and(|n| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            })
        })
        .map(str::to_string)
        .collect())
}

/// Reads files of a commit in one `git cat-file --batch` call. Missing
/// paths (deleted on that side) are left out.
pub fn read_files(wt: &Git, rev: &str, paths: &[String]) -> Result<Vec<(String, Vec<u8>)>, GitError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let mut input = Vec::new();
    for p in paths {
        input.extend_from_slice(format!("{rev}:{p}\n").as_bytes());
    }
    let out = wt.run_bytes(&["cat-file", "--batch"], Some(&input))?;
    let mut files = Vec::new();
    let mut pos = 0;
    for p in paths {
        let Some(nl) = out[pos..].iter().position(|&b| b == b'\n') else { break };
        let header = String::from_utf8_lossy(&out[pos..pos + nl]).to_string();
        pos += nl + 1;
        if header.ends_with(" missing") {
            continue;
        }
        let size: usize = header.rsplit(' ').next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let end = (pos + size).min(out.len());
        files.push((p.clone(), out[pos..end].to_vec()));
        pos = end + 1; // the newline after the content
    }
    Ok(files)
}

/// Stages everything in the worktree and, if anything changed (or a
/// remote parent must be recorded), commits it on `a-sync` with plumbing.
/// Returns the new commit.
pub fn commit(wt: &Git, message: &str, remote_parent: Option<&str>) -> Result<Option<String>, GitError> {
    // --sparse: shared context files may sit outside older worktrees'
    // sparse patterns. Dot-files are left out: they are the temporary
    // files of an atomic rewrite that may be in flight.
    wt.run(&["add", "-A", "--sparse", "--", ".", ":(exclude).*", ":(exclude)**/.*"])?;
    let head = wt.run(&["rev-parse", "--verify", "--quiet", "HEAD"]).ok().filter(|s| !s.is_empty());
    let tree = wt.run(&["write-tree"])?;
    let head_tree = head.as_ref().and_then(|h| wt.run(&["rev-parse", &format!("{h}^{{tree}}")]).ok());
    let merge = remote_parent.filter(|r| head.as_deref().is_none_or(|h| !is_ancestor(wt, r, h)));
    if head_tree.as_deref() == Some(tree.as_str()) && merge.is_none() {
        return Ok(None);
    }
    let mut args: Vec<String> = vec![
        "-c".into(),
        "user.name=Thrum".into(),
        "-c".into(),
        "user.email=thrum@local".into(),
        "commit-tree".into(),
        tree,
    ];
    for p in head.iter().chain(merge.map(str::to_string).iter()) {
        args.push("-p".into());
        args.push(p.clone());
    }
    args.push("-m".into());
    args.push(message.into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let sha = wt.run(&refs)?;
    let old = head.unwrap_or_default();
    wt.run(&["update-ref", &format!("refs/heads/{SYNC_BRANCH}"), &sha, &old])?;
    Ok(Some(sha))
}

/// Pushes `a-sync` to origin.
pub fn push(wt: &Git) -> Result<Push, GitError> {
    let spec = format!("refs/heads/{SYNC_BRANCH}:refs/heads/{SYNC_BRANCH}");
    match wt.run(&["push", "--quiet", "--porcelain", "origin", &spec]) {
        Ok(_) => Ok(Push::Done),
        // Someone else moved the branch first: a non-fast-forward, or a
        // ref lock lost to a push landing at the same moment.
        Err(GitError::Failed { stderr, .. })
            if ["non-fast-forward", "rejected", "fetch first", "cannot lock ref", "failed to update ref"]
                .iter()
                .any(|m| stderr.contains(m)) =>
        {
            Ok(Push::Rejected(stderr))
        }
        Err(e) => Err(e),
    }
}

/// The branch the worktree has checked out.
pub fn current_branch(wt: &Path) -> String {
    crate::head_branch(wt)
}
