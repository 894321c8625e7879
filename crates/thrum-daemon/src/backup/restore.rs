//! Restoring an archive, with the daemon stopped (the CLI runs this; the
//! daemon's code because it knows the store's files).
//!
//! Two steps, so a bad archive changes nothing: [`stage`] unpacks the
//! whole archive into a private folder and checks it against its
//! manifest (format, version, every file's size and SHA-256, no file
//! outside the known folders, the gzip checksum to the last byte); only
//! then [`apply`] puts each file in place (temporary file, then rename)
//! and deletes the projection, which the next daemon rebuilds from the
//! restored log.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use thrum_core::Layout;

use super::archive::{self, MANIFEST, Manifest};
use super::snapshot::VAR_FILES;

/// Why an archive cannot be restored, with what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0} does not exist: pass an archive listed by `thrum backup status`")]
    Missing(PathBuf),
    #[error("{path} is not a thrum backup ({why}): pass an archive written by `thrum backup`")]
    Foreign { path: PathBuf, why: String },
    #[error("{path} is damaged ({why}): restore another archive (`thrum backup status` lists them)")]
    Corrupt { path: PathBuf, why: String },
    #[error("{path} was written by a newer thrum (backup format {version}): upgrade thrum to restore it")]
    Newer { path: PathBuf, version: u32 },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RestoreError + '_ {
    move |source| RestoreError::Io { path: path.to_path_buf(), source }
}

/// A checked archive unpacked in a private folder (removed on drop).
#[derive(Debug)]
pub struct Staged {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub archive: PathBuf,
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What [`apply`] put back.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Restored {
    pub files: usize,
    pub events: u64,
    pub removed: usize,
    /// Linked worktrees whose identities the backup holds but which are
    /// not there (or not set up for thrum) now: left out.
    pub missing_worktrees: Vec<PathBuf>,
}

/// Unpacks `archive` into a new folder under `work_dir` and checks it.
pub fn stage(archive: &Path, work_dir: &Path) -> Result<Staged, RestoreError> {
    let file = match File::open(archive) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(RestoreError::Missing(archive.into())),
        Err(e) => return Err(io(archive)(e)),
    };
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(RestoreError::Foreign { path: archive.into(), why: "it is a directory".into() });
    }
    let dir = work_dir.join(format!("restore-{}-{}", std::process::id(), ulid::Ulid::new()));
    std::fs::DirBuilder::new().recursive(true).create(&dir).map_err(io(&dir))?;
    let mut staged = Staged { dir, manifest: empty_manifest(), archive: archive.into() };
    staged.manifest = unpack(file, archive, &staged.dir)?;
    Ok(staged)
}

fn empty_manifest() -> Manifest {
    Manifest {
        format: String::new(),
        version: 0,
        timestamp: String::new(),
        thrum_version: String::new(),
        repo: String::new(),
        daemon_id: String::new(),
        safety: false,
        counts: Default::default(),
        files: Vec::new(),
    }
}

fn unpack(file: File, path: &Path, dir: &Path) -> Result<Manifest, RestoreError> {
    let foreign = |why: String| RestoreError::Foreign { path: path.into(), why: one_line(&why) };
    let corrupt = |why: String| RestoreError::Corrupt { path: path.into(), why: one_line(&why) };
    let mut magic = [0u8; 2];
    let mut f = file;
    if f.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
        // The original thrum's backups are zip files of another layout.
        let why = if magic == *b"PK" { "a zip file, as the original thrum writes" } else { "not a .tar.gz archive" };
        return Err(foreign(why.into()));
    }
    let file = {
        use std::io::{Seek, SeekFrom};
        f.seek(SeekFrom::Start(0)).map_err(io(path))?;
        f
    };
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let mut sums: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let read = (|| -> Result<(), RestoreError> {
        let entries = tar.entries().map_err(|e| corrupt(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
            let name = entry.path().map_err(|e| corrupt(e.to_string()))?.to_string_lossy().into_owned();
            if entry.header().entry_type() != tar::EntryType::Regular {
                return Err(foreign(format!("{name} is not a regular file")));
            }
            if !archive::allowed_name(&name) {
                return Err(foreign(format!("unexpected entry {name}")));
            }
            if sums.contains_key(&name) {
                return Err(foreign(format!("{name} appears twice")));
            }
            let target = dir.join(&name);
            if let Some(p) = target.parent() {
                std::fs::create_dir_all(p).map_err(io(p))?;
            }
            let mut out = std::fs::OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .open(&target)
                .map_err(io(&target))?;
            let mut tee = Tee { inner: &mut entry, out: &mut out };
            let (sha, n) = archive::sha256(&mut tee).map_err(|e| corrupt(format!("{name}: {e}")))?;
            sums.insert(name, (sha, n));
        }
        Ok(())
    })();
    // The tar reader stops at the end-of-archive blocks (or at what it
    // could not read); read on to the gzip trailer, whose CRC covers the
    // whole stream. A broken stream makes any oddity found above damage,
    // not a foreign file.
    let mut rest = tar.into_inner();
    let drained = std::io::copy(&mut rest, &mut std::io::sink());
    match (read, drained) {
        (Ok(()) | Err(RestoreError::Foreign { .. }), Err(e)) => return Err(corrupt(e.to_string())),
        (Err(e), _) => return Err(e),
        (Ok(()), Ok(_)) => {}
    }
    let Some(_) = sums.remove(MANIFEST) else {
        return Err(foreign("no manifest.json".into()));
    };
    let text = std::fs::read(dir.join(MANIFEST)).map_err(io(dir))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| foreign(format!("manifest.json is not readable: {e}")))?;
    if manifest.format != archive::FORMAT {
        return Err(foreign(format!("manifest format is {:?}", manifest.format)));
    }
    if manifest.version > archive::VERSION {
        return Err(RestoreError::Newer { path: path.into(), version: manifest.version });
    }
    for f in &manifest.files {
        match sums.remove(&f.path) {
            Some((sha, n)) if sha == f.sha256 && n == f.bytes => {}
            Some(_) => return Err(corrupt(format!("{} does not match its checksum", f.path))),
            None => return Err(corrupt(format!("{} is missing", f.path))),
        }
    }
    if let Some(extra) = sums.keys().next() {
        return Err(foreign(format!("{extra} is not in the manifest")));
    }
    Ok(manifest)
}

/// A reader's error text (which may quote the archive's bytes) as one
/// short printable line.
fn one_line(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let words: Vec<&str> = clean.split_whitespace().collect();
    let mut out = words.join(" ");
    if out.chars().count() > 120 {
        out = out.chars().take(117).collect::<String>() + "...";
    }
    out
}

/// Copies what passes through into `out`.
struct Tee<'a, R, W> {
    inner: &'a mut R,
    out: &'a mut W,
}

impl<R: Read, W: Write> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Puts a staged archive's files in place: the log in `log_dir`, the
/// `.thrum/` files, the daemon-local files, plugin files under the
/// repository root; files of those kinds that the backup does not hold
/// are removed. Last, the projection is deleted so the next start
/// rebuilds it from the log.
pub fn apply(staged: &Staged, layout: &Layout, log_dir: &Path) -> Result<Restored, RestoreError> {
    let mut done = Restored { events: staged.manifest.counts.events, ..Default::default() };
    let names: Vec<&str> = staged.manifest.files.iter().map(|f| f.path.as_str()).collect();
    let has = |n: &str| names.contains(&n);
    let src = |n: &str| staged.dir.join(n);

    // The log: shards and the synced context files.
    std::fs::create_dir_all(log_dir.join("messages")).map_err(io(log_dir))?;
    let mut present = Vec::new();
    if log_dir.join("events.jsonl").is_file() {
        present.push("events.jsonl".to_string());
    }
    for sub in ["messages", "context"] {
        for (name, _) in super::snapshot::files_in(&log_dir.join(sub), sub).map_err(io(log_dir))? {
            present.push(name);
        }
    }
    for rel in present {
        if !has(&format!("log/{rel}")) {
            remove(&log_dir.join(&rel), &mut done)?;
        }
    }
    for n in names.iter().filter_map(|n| n.strip_prefix("log/")) {
        place(&src(&format!("log/{n}")), &log_dir.join(n), 0o644)?;
        done.files += 1;
    }

    // .thrum/config.json, the daemon identity included: the restored log,
    // peers and peer key belong to that daemon id (host and path are
    // refreshed when the daemon starts).
    if has("thrum/config.json") {
        place(&src("thrum/config.json"), &layout.config_file(), 0o600)?;
        done.files += 1;
    }
    for dir in ["identities", "context", "restart", "role_templates"] {
        let target = layout.local_thrum_dir.join(dir);
        let prefix = format!("thrum/{dir}/");
        for (name, path) in super::snapshot::files_in(&target, dir).map_err(io(&target))? {
            if !has(&format!("thrum/{name}")) {
                remove(&path, &mut done)?;
            }
        }
        for n in names.iter().filter_map(|n| n.strip_prefix(&prefix)) {
            let mode = if dir == "identities" { 0o600 } else { 0o644 };
            place(&src(&format!("{prefix}{n}")), &target.join(n), mode)?;
            done.files += 1;
        }
    }
    // Linked worktrees' identities go back into those worktrees that are
    // still there (a fresh clone has none of them).
    for n in names.iter().filter_map(|n| n.strip_prefix("worktrees/")) {
        let Some((key, file)) = n.split_once('/') else { continue };
        let Some(wt) = super::snapshot::worktree_of(key) else { continue };
        if !wt.join(".thrum").is_dir() {
            if !done.missing_worktrees.contains(&wt) {
                done.missing_worktrees.push(wt);
            }
            continue;
        }
        place(&src(&format!("worktrees/{n}")), &wt.join(".thrum").join("identities").join(file), 0o600)?;
        done.files += 1;
    }
    let var = layout.var_dir();
    for f in VAR_FILES {
        let name = format!("var/{f}");
        if has(&name) {
            place(&src(&name), &var.join(f), 0o600)?;
            done.files += 1;
        } else if var.join(f).is_file() {
            remove(&var.join(f), &mut done)?;
        }
    }
    // Plugin files go back where they were collected from.
    let root = layout.repo_root();
    for n in names.iter().filter_map(|n| n.strip_prefix("plugins/")) {
        let Some((_, rel)) = n.split_once('/') else { continue };
        if rel.starts_with(".git/") || rel.starts_with(".thrum/") {
            continue;
        }
        place(&src(&format!("plugins/{n}")), &root.join(rel), 0o644)?;
        done.files += 1;
    }
    // The projection and the write-ahead journal describe the old log.
    let db = layout.db_file();
    for p in [
        db.clone(),
        PathBuf::from(format!("{}-wal", db.display())),
        PathBuf::from(format!("{}-shm", db.display())),
        var.join("journal"),
    ] {
        if p.exists() {
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
    }
    Ok(done)
}

fn remove(p: &Path, done: &mut Restored) -> Result<(), RestoreError> {
    std::fs::remove_file(p).map_err(io(p))?;
    done.removed += 1;
    Ok(())
}

/// Copies `from` over `to` atomically (temporary file beside it, synced,
/// renamed).
fn place(from: &Path, to: &Path, mode: u32) -> Result<(), RestoreError> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = to.with_file_name(format!(".{name}.restore-{}", std::process::id()));
    let res = (|| {
        let mut out = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(mode).open(&tmp)?;
        std::io::copy(&mut File::open(from)?, &mut out)?;
        out.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        out.sync_all()?;
        std::fs::rename(&tmp, to)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(to)(e));
    }
    Ok(())
}
