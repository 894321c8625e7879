//! The legacy layout: before the sync worktree, the original kept its log
//! in the repository itself (`.thrum/events.jsonl`, `.thrum/messages.jsonl`,
//! `.thrum/messages/*.jsonl`). This imports those events into the sync
//! worktree's shards, once, without duplicates and without touching the
//! old files (they stay as a backup). It runs at daemon start and from
//! `thrum migrate`.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use thrum_core::{Event, Layout};

use crate::error::DaemonError;

/// What an import found and did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Migration {
    /// Legacy files read.
    pub files: Vec<String>,
    /// Events appended to the log.
    pub imported: usize,
    /// Events already present (by event_id).
    pub skipped: usize,
    /// Lines that were not events.
    pub unreadable: usize,
}

/// Marker written once the legacy files have been imported, so later
/// starts do not re-read them.
const MARKER: &str = "legacy-migrated";

/// The legacy log files under `.thrum/`, in a stable order.
pub fn legacy_files(thrum_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for f in ["events.jsonl", "messages.jsonl"] {
        if thrum_dir.join(f).is_file() {
            out.push(thrum_dir.join(f));
        }
    }
    if let Ok(rd) = std::fs::read_dir(thrum_dir.join("messages")) {
        let mut v: Vec<PathBuf> =
            rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "jsonl")).collect();
        v.sort();
        out.extend(v);
    }
    out
}

/// Whether there is anything left to import.
pub fn pending(layout: &Layout) -> bool {
    !layout.var_dir().join(MARKER).exists() && !legacy_files(&layout.thrum_dir).is_empty()
}

/// Imports legacy events into the shards under `log_dir`. Must run while
/// no daemon writes to the log (before the store opens).
pub fn migrate(layout: &Layout, log_dir: &Path) -> Result<Migration, DaemonError> {
    let mut m = Migration::default();
    let files = legacy_files(&layout.thrum_dir);
    if files.is_empty() {
        return Ok(m);
    }
    // A legacy `.thrum/` predates `var/`; the marker goes there, so make it
    // before anything is written rather than fail after the import.
    let var = layout.var_dir();
    std::fs::create_dir_all(&var).map_err(|e| DaemonError::io(&var, e))?;
    let _ = std::fs::set_permissions(&var, std::os::unix::fs::PermissionsExt::from_mode(0o700));
    std::fs::create_dir_all(log_dir.join("messages")).map_err(|e| DaemonError::io(log_dir, e))?;
    // Ids already in the log.
    let mut have: HashSet<String> = HashSet::new();
    let mut shards = vec![log_dir.join("events.jsonl")];
    if let Ok(rd) = std::fs::read_dir(log_dir.join("messages")) {
        shards.extend(rd.flatten().map(|e| e.path()));
    }
    for s in &shards {
        for line in std::fs::read_to_string(s).unwrap_or_default().lines() {
            if let Ok(ev) = Event::parse_line(line) {
                have.insert(ev.event_id().to_string());
            }
        }
    }
    let mut by_shard: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| DaemonError::io(f, e))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(ev) = Event::parse_line(line) else {
                m.unreadable += 1;
                continue;
            };
            if !have.insert(ev.event_id().to_string()) {
                m.skipped += 1;
                continue;
            }
            by_shard.entry(ev.shard(None)).or_default().push(ev.to_line());
            m.imported += 1;
        }
        m.files.push(f.display().to_string());
    }
    for (shard, lines) in by_shard {
        let path = log_dir.join(&shard);
        // A shard that ends without a newline (torn) gets one first.
        let needs_nl = std::fs::read(&path).map(|b| !b.is_empty() && !b.ends_with(b"\n")).unwrap_or(false);
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| DaemonError::io(&path, e))?;
        let mut buf = String::new();
        if needs_nl {
            buf.push('\n');
        }
        for l in lines {
            buf.push_str(&l);
            buf.push('\n');
        }
        file.write_all(buf.as_bytes()).map_err(|e| DaemonError::io(&path, e))?;
        file.sync_all().map_err(|e| DaemonError::io(&path, e))?;
    }
    let marker = serde_json::to_string_pretty(&m).unwrap_or_default();
    crate::lifecycle::write_private(&layout.var_dir().join(MARKER), marker.as_bytes())?;
    Ok(m)
}
