//! The daemon log: `.thrum/var/daemon.log`, rotated by size.
//!
//! When the file passes 10 MiB it becomes `daemon.log.1` (older ones shift
//! up to `.4` and the oldest is dropped), matching the original's rotation
//! count. tracing-appender only rotates by time and renames the live
//! file, which would break `thrum daemon logs`, hence this small writer.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

const MAX_BYTES: u64 = 10 * 1024 * 1024;
const BACKUPS: u32 = 4;

struct Inner {
    path: PathBuf,
    file: File,
    size: u64,
    max: u64,
}

/// A size-rotating log file shared by all tracing writers.
#[derive(Clone)]
pub struct RotatingLog {
    inner: Arc<Mutex<Inner>>,
}

impl RotatingLog {
    pub fn open(path: &Path) -> io::Result<Self> {
        Self::with_limit(path, MAX_BYTES)
    }

    /// A log that rotates past `max` bytes.
    pub fn with_limit(path: &Path, max: u64) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingLog { inner: Arc::new(Mutex::new(Inner { path: path.to_path_buf(), file, size, max })) })
    }
}

impl Inner {
    fn rotate(&mut self) -> io::Result<()> {
        for i in (1..BACKUPS).rev() {
            let from = self.path.with_extension(format!("log.{i}"));
            if from.exists() {
                std::fs::rename(&from, self.path.with_extension(format!("log.{}", i + 1)))?;
            }
        }
        std::fs::rename(&self.path, self.path.with_extension("log.1"))?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// One write handle handed to tracing.
pub struct LogWriter(Arc<Mutex<Inner>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if g.size > 0 && g.size + buf.len() as u64 > g.max {
            // A failed rotation keeps logging into the current file.
            let _ = g.rotate();
        }
        g.file.write_all(buf)?;
        g.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).file.flush()
    }
}

impl<'a> MakeWriter<'a> for RotatingLog {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> LogWriter {
        LogWriter(self.inner.clone())
    }
}

/// Installs the global subscriber writing to `path` at `level`
/// (`THRUM_LOG` overrides, with tracing's filter syntax).
pub fn init(path: &Path, level: &str) -> io::Result<()> {
    let log = RotatingLog::open(path)?;
    let level = match level.to_ascii_lowercase().as_str() {
        "warning" => "warn".to_string(),
        l @ ("trace" | "debug" | "info" | "warn" | "error") => l.to_string(),
        _ => "info".to_string(),
    };
    let filter = EnvFilter::try_from_env("THRUM_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(log).try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_four_backups() {
        let dir = std::env::temp_dir().join(format!("thrum-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).ok();
        let path = dir.join("daemon.log");
        let log = RotatingLog::with_limit(&path, 100).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..40 {
            let mut w = log.make_writer();
            w.write_all(format!("line {i:03} {}\n", "x".repeat(40)).as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        }
        let live = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(live.contains("line 039"));
        assert!(live.len() <= 100);
        for i in 1..=4 {
            assert!(dir.join(format!("daemon.log.{i}")).exists(), "backup {i}");
        }
        assert!(!dir.join("daemon.log.5").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
