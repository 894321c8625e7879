//! The archive format: a gzipped tar whose last entry, `manifest.json`,
//! names every other file with its size and SHA-256. Written to a
//! temporary file beside the final name and renamed only once complete
//! and synced, so a half archive never carries a real name.
//!
//! Inside: `log/` (the event log: `events.jsonl`, `messages/*.jsonl`,
//! `context/*.md` of the sync worktree), `thrum/` (config.json,
//! identities, context, restart snapshots, role templates), `var/`
//! (peers, peer key, subscriptions, reminders) and `plugins/<name>/`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thrum_proto::methods::backup::Counts;

/// `format` of every manifest; anything else is not ours.
pub const FORMAT: &str = "thrum-backup";
/// The manifest version this build writes and reads.
pub const VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
/// Top-level folders an archive may hold (`worktrees/<hex path>/` holds a
/// linked worktree's own identity files).
pub const ROOTS: &[&str] = &["log", "thrum", "var", "plugins", "worktrees"];

/// One file's record in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What an archive holds and where it came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub timestamp: String,
    pub thrum_version: String,
    pub repo: String,
    #[serde(default)]
    pub daemon_id: String,
    #[serde(default)]
    pub safety: bool,
    pub counts: Counts,
    pub files: Vec<FileSum>,
}

/// Where an entry's bytes come from.
pub enum Source {
    /// An open file read up to a fixed length (a log shard as the snapshot
    /// fixed it: later appends are left out).
    Prefix(File, u64),
    /// A whole file, read now.
    Path(PathBuf),
}

pub struct Entry {
    /// The path inside the archive (`log/events.jsonl`).
    pub name: String,
    pub source: Source,
}

/// Hashes what passes through.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    n: u64,
    lines: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.hash.update(&buf[..k]);
        self.n += k as u64;
        self.lines += buf[..k].iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(k)
    }
}

/// Writes the archive `dest` (temp file, fsync, rename, fsync the
/// folder), mode 0600: it holds peer tokens and keys. Returns its size.
/// `manifest.files` and `manifest.counts.events` are filled here.
pub fn write(dest: &Path, entries: Vec<Entry>, manifest: &mut Manifest) -> std::io::Result<u64> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let res = write_to(&tmp, entries, manifest).and_then(|bytes| {
        std::fs::rename(&tmp, dest)?;
        File::open(dir)?.sync_all()?;
        Ok(bytes)
    });
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

fn write_to(tmp: &Path, entries: Vec<Entry>, manifest: &mut Manifest) -> std::io::Result<u64> {
    let file = OpenOptions::new().create_new(true).write(true).mode(0o600).open(tmp)?;
    // Level 1: JSONL still shrinks several times, at a fraction of the
    // default level's CPU (the daemon shares two cores with the agents).
    let gz =
        flate2::write::GzEncoder::new(std::io::BufWriter::with_capacity(1 << 20, file), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mtime = chrono::Utc::now().timestamp().max(0) as u64;
    manifest.files.clear();
    manifest.counts.events = 0;
    for e in entries {
        let (reader, len): (Box<dyn Read>, u64) = match e.source {
            Source::Prefix(f, len) => (Box::new(f.take(len)), len),
            Source::Path(p) => {
                let f = match File::open(&p) {
                    Ok(f) => f,
                    // Removed since it was listed (an agent cleared its
                    // context meanwhile): it is simply not in this backup.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                let len = f.metadata()?.len();
                (Box::new(f.take(len)), len)
            }
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(len);
        header.set_mode(0o600);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        let mut r = Hashing { inner: reader, hash: Sha256::new(), n: 0, lines: 0 };
        tar.append_data(&mut header, &e.name, &mut r)?;
        if r.n != len {
            // The file shrank while it was read (a file the snapshot did
            // not pin): the entry is now wrong, so give up on this archive.
            return Err(std::io::Error::other(format!("{} changed while it was archived; retry", e.name)));
        }
        if e.name.starts_with("log/") && e.name.ends_with(".jsonl") {
            manifest.counts.events += r.lines;
        }
        manifest.files.push(FileSum { path: e.name, bytes: len, sha256: hex(&r.hash.finalize()) });
    }
    let body = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, MANIFEST, body.as_slice())?;
    let gz = tar.into_inner()?;
    let mut buf = gz.finish()?;
    buf.flush()?;
    let file = buf.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a reader's bytes, and how many there were.
pub fn sha256(mut r: impl Read) -> std::io::Result<(String, u64)> {
    let mut h = Hashing { inner: &mut r, hash: Sha256::new(), n: 0, lines: 0 };
    std::io::copy(&mut h, &mut std::io::sink())?;
    Ok((hex(&h.hash.finalize()), h.n))
}

/// Whether `name` is a path an archive may hold: relative, plain
/// components, under one of [`ROOTS`] (or the manifest itself).
pub fn allowed_name(name: &str) -> bool {
    if name == MANIFEST {
        return true;
    }
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() >= 2
        && ROOTS.contains(&parts[0])
        && parts.iter().all(|p| !p.is_empty() && *p != "." && *p != ".." && !p.contains('\\') && !p.contains('\0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside() {
        assert!(allowed_name("log/events.jsonl"));
        assert!(allowed_name("plugins/beads/.beads/backup/a.jsonl"));
        assert!(allowed_name(MANIFEST));
        for bad in ["../x", "log/../../etc/passwd", "/etc/passwd", "other/x", "log", "log//x", "log/./x"] {
            assert!(!allowed_name(bad), "{bad}");
        }
    }
}
