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
}

/// A size-rotating log file shared by all tracing writers.
#[derive(Clone)]
pub struct RotatingLog {
    inner: Arc<Mutex<Inner>>,
}

impl RotatingLog {
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingLog { inner: Arc::new(Mutex::new(Inner { path: path.to_path_buf(), file, size })) })
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
        if g.size + buf.len() as u64 > MAX_BYTES {
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
