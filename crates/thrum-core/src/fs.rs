//! Private files: what only their owner may read (config.json with the
//! daemon identity, identity files, the PID file, peer tokens), written
//! atomically so a reader never sees half a file. Shared by the CLI and the
//! daemon.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A private file could not be written: the file (or its temporary
/// sibling) and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Writes a file readable only by its owner (mode 0600), atomically: the
/// data goes to a temporary file next to it, is synced, then renamed over
/// the target.
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), WriteError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    {
        let mut f =
            OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&tmp).map_err(at(&tmp))?;
        f.write_all(data).map_err(at(&tmp))?;
        f.sync_all().map_err(at(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(at(path))
}

fn at(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("thrum-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).ok();
        d
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0)
    }

    #[test]
    fn writes_owner_only_and_replaces_whole() {
        let d = tmp("write");
        let f = d.join("config.json");
        std::fs::write(&f, "an older, longer content").ok();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).ok();
        assert!(write_private(&f, b"{}\n").is_ok());
        assert_eq!(std::fs::read_to_string(&f).ok().as_deref(), Some("{}\n"));
        assert_eq!(mode(&f), 0o600);
        // Nothing is left behind next to it.
        let names: Vec<_> = std::fs::read_dir(&d).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.json")]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failure_names_the_file() {
        let d = tmp("fail");
        let f = d.join("missing-dir").join("x.json");
        let e = write_private(&f, b"x").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with(&d.join("missing-dir").display().to_string()), "{e}");
        assert!(!f.exists());
        let _ = std::fs::remove_dir_all(&d);
    }
}
