//! The one way thrum replaces a file: atomically and durably, so a reader
//! never sees half a file and a crash never leaves one. Private files
//! (config.json with the daemon identity, identity files, the PID file,
//! peer tokens) are written owner-only. Used by the CLI, the daemon and the
//! store alike.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A private file could not be written: the file (or its temporary
/// sibling) and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Writes a file readable only by its owner (mode 0600), atomically
/// ([`write_atomic`]).
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), WriteError> {
    write_atomic(path, data, 0o600)
}

/// Replaces a file that is not private (the user's config files, shards,
/// instruction files) atomically, keeping its permissions (0644 for a new
/// file).
pub fn write_file(path: &Path, data: &[u8]) -> Result<(), WriteError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);
    write_atomic(path, data, mode)
}

/// Replaces `path` with `data`, atomically and durably: the data goes to a
/// temporary file beside it (named for this process and this write, so
/// concurrent writers, in this process or others, never share one), is
/// synced, renamed over the target, and the directory is synced so the
/// rename survives a crash too. A new file gets `mode`; an existing one
/// gets it as well. The folder must exist. On failure the target is
/// untouched and the temporary file removed.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), WriteError> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new().create_new(true).write(true).mode(mode).open(&tmp).map_err(at(&tmp))?;
        f.write_all(data).map_err(at(&tmp))?;
        // The umask may have narrowed the mode of the new file.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode)).map_err(at(&tmp))?;
        f.sync_all().map_err(at(&tmp))?;
        std::fs::rename(&tmp, path).map_err(at(path))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    File::open(dir).and_then(|d| d.sync_all()).map_err(at(dir))
}

fn at(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A fresh folder, removed when the guard drops.
    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0)
    }

    #[test]
    fn writes_owner_only_and_replaces_whole() {
        let guard = tmp();
        let d = guard.path().to_path_buf();
        let f = d.join("config.json");
        std::fs::write(&f, "an older, longer content").ok();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).ok();
        assert!(write_private(&f, b"{}\n").is_ok());
        assert_eq!(std::fs::read_to_string(&f).ok().as_deref(), Some("{}\n"));
        assert_eq!(mode(&f), 0o600);
        // Nothing is left behind next to it.
        let names: Vec<_> = std::fs::read_dir(&d).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.json")]);
    }

    /// Two processes replace one file many times while it is read: every
    /// read sees one writer's whole content, the last write is whole, and
    /// no temporary file is left. The children are this test binary, run
    /// as [`concurrent_writer_child`].
    #[test]
    fn concurrent_writers_never_tear_or_lose_a_write() {
        let guard = tmp();
        let d = guard.path().to_path_buf();
        let f = d.join("shared.json");
        let exe = std::env::current_exe().unwrap_or_default();
        let spawn = |fill: &str| {
            std::process::Command::new(&exe)
                .args(["--exact", "fs::tests::concurrent_writer_child", "--nocapture", "--test-threads=1"])
                .env("THRUM_FS_TEST_TARGET", &f)
                .env("THRUM_FS_TEST_FILL", fill)
                .stdout(std::process::Stdio::null())
                .spawn()
        };
        let (Ok(mut a), Ok(mut b)) = (spawn("a"), spawn("b")) else { panic!("cannot run the writer processes") };
        let mut reads = 0;
        loop {
            let done = matches!(a.try_wait(), Ok(Some(_))) && matches!(b.try_wait(), Ok(Some(_)));
            if let Ok(text) = std::fs::read(&f) {
                reads += 1;
                assert!(whole(&text), "a reader saw a torn file ({} bytes)", text.len());
            }
            if done {
                break;
            }
        }
        assert!(a.wait().is_ok_and(|s| s.success()) && b.wait().is_ok_and(|s| s.success()));
        let last = std::fs::read(&f).unwrap_or_default();
        assert!(whole(&last), "the last write was lost or torn");
        assert!(reads > 1);
        let names: Vec<_> = std::fs::read_dir(&d).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("shared.json")], "temporary files left behind");
    }

    /// 64 KiB of one letter, ending in a newline.
    fn content(fill: &str) -> Vec<u8> {
        let mut v = fill.repeat(64 * 1024).into_bytes();
        v.push(b'\n');
        v
    }

    fn whole(text: &[u8]) -> bool {
        text == content("a").as_slice() || text == content("b").as_slice()
    }

    /// The writer side of the test above (does nothing when run alone).
    #[test]
    fn concurrent_writer_child() {
        let (Some(target), Some(fill)) =
            (std::env::var_os("THRUM_FS_TEST_TARGET"), std::env::var("THRUM_FS_TEST_FILL").ok())
        else {
            return;
        };
        let data = content(&fill);
        for _ in 0..200 {
            assert!(write_atomic(Path::new(&target), &data, 0o644).is_ok());
        }
    }

    #[test]
    fn a_failure_names_the_file() {
        let guard = tmp();
        let d = guard.path().to_path_buf();
        let f = d.join("missing-dir").join("x.json");
        let e = write_private(&f, b"x").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with(&d.join("missing-dir").display().to_string()), "{e}");
        assert!(!f.exists());
    }
}
