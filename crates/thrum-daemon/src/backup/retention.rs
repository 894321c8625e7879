//! The archives in a repository's backup folder, and pruning them by the
//! retention policy ([`thrum_core::backup::plan_prune`]). Only files named
//! as archives are ever looked at or removed; safety backups never are.

use std::path::Path;

use chrono::{DateTime, Utc};
use thrum_core::backup::{Retention, parse_archive_name, plan_prune};
use thrum_proto::methods::backup::ArchiveInfo;

/// Every archive in `repo_dir`, oldest first.
pub fn list(repo_dir: &Path) -> Vec<ArchiveInfo> {
    let mut out: Vec<(DateTime<Utc>, ArchiveInfo)> = Vec::new();
    for e in std::fs::read_dir(repo_dir).into_iter().flatten().flatten() {
        let Ok(name) = e.file_name().into_string() else { continue };
        let Some((t, safety)) = parse_archive_name(&name) else { continue };
        let bytes = e.metadata().map(|m| m.len()).unwrap_or(0);
        out.push((
            t,
            ArchiveInfo {
                path: e.path().display().to_string(),
                timestamp: thrum_core::time::format_ts(t),
                bytes,
                safety,
            },
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.path.cmp(&b.1.path)));
    out.into_iter().map(|(_, a)| a).collect()
}

/// Removes the archives the policy does not keep, as of `now`; returns
/// their paths.
pub fn prune(repo_dir: &Path, now: DateTime<Utc>, r: Retention) -> Vec<String> {
    let mut named = Vec::new();
    for e in std::fs::read_dir(repo_dir).into_iter().flatten().flatten() {
        let Ok(name) = e.file_name().into_string() else { continue };
        if let Some((t, false)) = parse_archive_name(&name) {
            named.push((name, t));
        }
    }
    let mut gone = Vec::new();
    for name in plan_prune(&named, now, r) {
        let p = repo_dir.join(&name);
        match std::fs::remove_file(&p) {
            Ok(()) => gone.push(p.display().to_string()),
            Err(e) => tracing::warn!(path = %p.display(), error = %e, "could not prune backup"),
        }
    }
    gone.sort();
    gone
}
