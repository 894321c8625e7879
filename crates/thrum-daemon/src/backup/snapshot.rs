//! What goes into a backup, gathered so that no write is half in it.
//!
//! The log is pinned under the writer, for the moment it takes to open
//! every shard and note its length: appends only ever add bytes past that
//! length, and a rewrite (purge, migration) renames a new file over the
//! shard, leaving our open handle on the old one. So reading each handle
//! up to its noted length afterwards, with writes going on, gives exactly
//! the log as it stood between two commits. The small files beside the
//! log (config, identities, context, peers) are read as they are.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use thrum_proto::methods::backup::Counts;

use super::archive::{Entry, Source};
use crate::error::HResult;
use crate::state::State;

/// Folders of `.thrum/` kept (as `thrum/<folder>/` in the archive).
const THRUM_DIRS: &[&str] = &["identities", "context", "restart", "role_templates"];
/// Daemon-local files of `.thrum/var/` kept (not in the log, not rebuilt).
pub const VAR_FILES: &[&str] = &["peers.json", "peer_key", "subscriptions.json", "tmux-reminders.json"];

/// The pinned log: every shard with an open handle and its length.
pub struct Pinned {
    pub shards: Vec<(String, File, u64)>,
    /// Milliseconds the writer stood still.
    pub pause_ms: f64,
}

/// Pins the log under the writer.
pub async fn pin(state: &State) -> HResult<Pinned> {
    state
        .writer
        .exclusive(|store| {
            let t0 = Instant::now();
            let log = store.log();
            let mut shards = Vec::new();
            for shard in log.shards()? {
                let len = log.len(&shard)?;
                let path = log.root().join(&shard);
                let f = File::open(&path).map_err(|e| thrum_store::StoreError::io(&path, e))?;
                shards.push((shard, f, len));
            }
            let pause_ms = t0.elapsed().as_secs_f64() * 1000.0;
            Ok((Pinned { shards, pause_ms }, Vec::new()))
        })
        .await
}

/// Every entry of the archive but the manifest, and the counts.
pub fn entries(
    state: &State,
    pinned: Pinned,
    plugin_files: Vec<(String, PathBuf)>,
) -> std::io::Result<(Vec<Entry>, Counts)> {
    let mut counts = Counts::default();
    let mut out = Vec::new();
    // (`counts.events` is counted while the archive is written.)
    for (shard, f, len) in pinned.shards {
        if shard.starts_with("messages/") {
            counts.message_files += 1;
        }
        out.push(Entry { name: format!("log/{shard}"), source: Source::Prefix(f, len) });
    }
    for (name, path) in files_in(&state.log_dir.join("context"), "log/context")? {
        out.push(Entry { name, source: Source::Path(path) });
    }
    let layout = &state.layout;
    let config = layout.config_file();
    if config.is_file() {
        counts.config_files += 1;
        out.push(Entry { name: "thrum/config.json".into(), source: Source::Path(config) });
    }
    for dir in THRUM_DIRS {
        for (name, path) in files_in(&layout.local_thrum_dir.join(dir), &format!("thrum/{dir}"))? {
            counts.config_files += 1;
            out.push(Entry { name, source: Source::Path(path) });
        }
    }
    for (dir, key) in linked_worktrees(&state.repo_root) {
        let ids = dir.join(".thrum").join("identities");
        for (name, path) in files_in(&ids, &format!("worktrees/{key}"))? {
            counts.config_files += 1;
            out.push(Entry { name, source: Source::Path(path) });
        }
    }
    for f in VAR_FILES {
        let p = layout.var_dir().join(f);
        if p.is_file() {
            counts.local_files += 1;
            out.push(Entry { name: format!("var/{f}"), source: Source::Path(p) });
        }
    }
    for (name, path) in plugin_files {
        out.push(Entry { name, source: Source::Path(path) });
    }
    Ok((out, counts))
}

/// The repository's linked git worktrees (not the main one, not thrum's
/// sync worktree inside `.git/`), each with its archive key: its absolute
/// path in hex, one path component that needs no escaping. Their agents'
/// identity files live in each worktree's own `.thrum/identities/`.
fn linked_worktrees(repo_root: &Path) -> Vec<(PathBuf, String)> {
    let Ok(text) = thrum_git::Git::new(repo_root).run(&["worktree", "list", "--porcelain"]) else {
        return Vec::new();
    };
    let git_dir = repo_root.join(".git");
    text.lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .skip(1)
        .map(PathBuf::from)
        .filter(|p| !p.starts_with(&git_dir))
        .map(|p| {
            let key = p.to_string_lossy().bytes().map(|b| format!("{b:02x}")).collect();
            (p, key)
        })
        .collect()
}

/// The worktree path an archive key stands for (see [`linked_worktrees`]).
pub fn worktree_of(key: &str) -> Option<PathBuf> {
    if key.is_empty() || !key.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..key.len()).step_by(2).map(|i| u8::from_str_radix(key.get(i..i + 2)?, 16).ok()).collect();
    let path = PathBuf::from(String::from_utf8(bytes?).ok()?);
    path.is_absolute().then_some(path)
}

/// The regular files directly in `dir` (none when it is missing), as
/// (archive name under `prefix`, path), in name order. Hidden files
/// (temporary files of an atomic write) are left out.
pub fn files_in(dir: &Path, prefix: &str) -> std::io::Result<Vec<(String, PathBuf)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let Ok(name) = e.file_name().into_string() else { continue };
        if name.starts_with('.') || !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        out.push((format!("{prefix}/{name}"), e.path()));
    }
    out.sort();
    Ok(out)
}
