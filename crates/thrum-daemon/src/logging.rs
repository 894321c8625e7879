//! The daemon log: `.thrum/var/daemon.log`, rotated as the original's
//! (lumberjack) is: past 10 MB the file is renamed to a timestamped backup
//! (`daemon-2026-04-09T15-04-05.000.log`), which is then gzipped; at most
//! four backups are kept, none older than 28 days.
//!
//! tracing-appender only rotates by time and renames the live file, which
//! would break `thrum daemon logs`, hence this small writer. Compression and
//! pruning run on a thread of their own so that no logging call waits for
//! gzip; backups are named by time, so a rotation never renames a file that
//! is being compressed.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// lumberjack's MaxSize is in megabytes of 1024 × 1024 bytes.
const MAX_BYTES: u64 = 10 * 1024 * 1024;
const BACKUPS: usize = 4;
const MAX_AGE: Duration = Duration::from_secs(28 * 24 * 3600);
/// lumberjack's backup time format (UTC), between the name and `.log`.
const STAMP: &str = "%Y-%m-%dT%H-%M-%S%.3f";

/// When and how backups are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub max_bytes: u64,
    pub backups: usize,
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { max_bytes: MAX_BYTES, backups: BACKUPS, max_age: MAX_AGE }
    }
}

struct Inner {
    path: PathBuf,
    file: File,
    size: u64,
    keep: Retention,
    mill: Arc<Mill>,
}

/// Background compress-and-prune passes: one at a time, counted so that
/// [`RotatingLog::settle`] can wait for them.
#[derive(Default)]
struct Mill {
    one_at_a_time: Mutex<()>,
    pending: Mutex<usize>,
    done: Condvar,
}

/// A size-rotating log file shared by all tracing writers.
#[derive(Clone)]
pub struct RotatingLog {
    inner: Arc<Mutex<Inner>>,
}

impl RotatingLog {
    pub fn open(path: &Path) -> io::Result<Self> {
        Self::with_retention(path, Retention::default())
    }

    /// A log kept as `keep` says. Backups left uncompressed or past their
    /// age by an earlier run are dealt with now, in the background.
    pub fn with_retention(path: &Path, keep: Retention) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        let inner = Inner { path: path.to_path_buf(), file, size, keep, mill: Arc::default() };
        inner.spawn_mill();
        Ok(RotatingLog { inner: Arc::new(Mutex::new(inner)) })
    }

    /// Waits until the background compression and pruning started so far
    /// are done.
    pub fn settle(&self) {
        let mill = self.inner.lock().unwrap_or_else(|p| p.into_inner()).mill.clone();
        let mut pending = mill.pending.lock().unwrap_or_else(|p| p.into_inner());
        while *pending > 0 {
            pending = mill.done.wait(pending).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Inner {
    fn rotate(&mut self) -> io::Result<()> {
        // Never over an earlier backup, even two rotations in one millisecond.
        let mut at = chrono::Utc::now();
        let mut backup = backup_name(&self.path, at);
        while backup.exists() || PathBuf::from(format!("{}.gz", backup.display())).exists() {
            at += chrono::Duration::milliseconds(1);
            backup = backup_name(&self.path, at);
        }
        std::fs::rename(&self.path, &backup)?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        self.spawn_mill();
        Ok(())
    }

    fn spawn_mill(&self) {
        let (path, keep, m) = (self.path.clone(), self.keep, self.mill.clone());
        *m.pending.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        let finish = |m: &Mill| {
            *m.pending.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
            m.done.notify_all();
        };
        let spawned = std::thread::Builder::new().name("thrum-log-mill".into()).spawn({
            let m = m.clone();
            move || {
                let one = m.one_at_a_time.lock().unwrap_or_else(|p| p.into_inner());
                mill(&path, keep);
                drop(one);
                finish(&m);
            }
        });
        // No thread: the backups wait for the next rotation or start.
        if spawned.is_err() {
            finish(&m);
        }
    }
}

/// `daemon.log` → `daemon-2026-04-09T15-04-05.000.log`, beside it.
fn backup_name(path: &Path, at: chrono::DateTime<chrono::Utc>) -> PathBuf {
    let (stem, ext) = split_name(path);
    path.with_file_name(format!("{stem}-{}{ext}", at.format(STAMP)))
}

/// `daemon.log` → ("daemon", ".log").
fn split_name(path: &Path) -> (String, String) {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "daemon".into());
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    (stem, ext)
}

/// The backups of `path`, newest first, by the time in their names.
fn backups(path: &Path) -> Vec<(PathBuf, chrono::NaiveDateTime)> {
    let (stem, ext) = split_name(path);
    let prefix = format!("{stem}-");
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut found: Vec<(PathBuf, chrono::NaiveDateTime)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix(&prefix)?;
            let rest = rest.strip_suffix(".gz").unwrap_or(rest);
            let stamp = rest.strip_suffix(&ext)?;
            let at = chrono::NaiveDateTime::parse_from_str(stamp, STAMP).ok()?;
            Some((e.path(), at))
        })
        .collect();
    found.sort_by_key(|b| std::cmp::Reverse(b.1));
    found
}

/// Compresses uncompressed backups, then removes those beyond the count or
/// the age. Failures leave files in place for the next pass.
fn mill(path: &Path, keep: Retention) {
    for (p, _) in backups(path) {
        if p.extension().is_some_and(|e| e != "gz") {
            let _ = compress(&p);
        }
    }
    let now = chrono::Utc::now().naive_utc();
    let max_age = chrono::Duration::from_std(keep.max_age).unwrap_or(chrono::Duration::MAX);
    for (i, (p, at)) in backups(path).into_iter().enumerate() {
        if i >= keep.backups || now.signed_duration_since(at) > max_age {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// `X` → `X.gz`, written beside it under a temporary name, then renamed,
/// then `X` removed: a crash at any point leaves one whole copy.
fn compress(src: &Path) -> io::Result<()> {
    let dst = PathBuf::from(format!("{}.gz", src.display()));
    if !dst.exists() {
        let tmp = PathBuf::from(format!("{}.gz.tmp", src.display()));
        let result = (|| {
            let mut input = File::open(src)?;
            let mut gz = flate2::write::GzEncoder::new(File::create(&tmp)?, flate2::Compression::default());
            io::copy(&mut input, &mut gz)?;
            gz.finish()?.sync_all()?;
            // Keep the backup's time: ages are read from names, but people read mtimes.
            if let Ok(m) = std::fs::metadata(src).and_then(|m| m.modified()) {
                let _ = File::options().write(true).open(&tmp).and_then(|f| f.set_modified(m));
            }
            std::fs::rename(&tmp, &dst)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
            return result;
        }
    }
    std::fs::remove_file(src)
}

/// One write handle handed to tracing.
pub struct LogWriter(Arc<Mutex<Inner>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if g.size > 0 && g.size + buf.len() as u64 > g.keep.max_bytes {
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
    use std::io::Read;

    use super::*;

    fn gunzip(p: &Path) -> String {
        let mut s = String::new();
        let f = File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        flate2::read::GzDecoder::new(f).read_to_string(&mut s).unwrap_or_else(|e| panic!("{e}"));
        s
    }

    /// Rotations by size produce gzipped, timestamped backups; the count
    /// and the age limits drop the oldest; nothing written is lost in
    /// between (the live file and the kept backups hold the newest lines).
    #[test]
    fn rotates_by_size_compresses_and_keeps_four_backups_within_the_age() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("daemon.log");
        // A backup from 30 days ago, and one left uncompressed by a crash.
        let old = backup_name(&path, chrono::Utc::now() - chrono::Duration::days(30));
        std::fs::write(format!("{}.gz", old.display()), b"old").unwrap_or_else(|e| panic!("{e}"));
        let raw = backup_name(&path, chrono::Utc::now() - chrono::Duration::days(1));
        std::fs::write(&raw, "left behind\n").unwrap_or_else(|e| panic!("{e}"));
        let keep = Retention { max_bytes: 100, ..Retention::default() };
        let log = RotatingLog::with_retention(&path, keep).unwrap_or_else(|e| panic!("{e}"));
        log.settle();
        assert!(!PathBuf::from(format!("{}.gz", old.display())).exists(), "older than 28 days");
        assert_eq!(gunzip(&PathBuf::from(format!("{}.gz", raw.display()))), "left behind\n");
        assert!(!raw.exists());

        // 51-byte lines under a 100-byte limit: one line per file.
        for i in 0..12 {
            let mut w = log.make_writer();
            w.write_all(format!("line {i:03} {}\n", "x".repeat(41)).as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        }
        log.settle();
        let live = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(live.starts_with("line 011") && live.len() <= 100, "{live}");
        let b = backups(&path);
        assert_eq!(b.len(), 4, "{b:?}");
        assert!(b.iter().all(|(p, _)| p.extension().is_some_and(|e| e == "gz")), "{b:?}");
        // Newest first: the four lines before the live file's.
        let kept: Vec<String> = b.iter().map(|(p, _)| gunzip(p)[..8].to_string()).collect();
        assert_eq!(kept, ["line 010", "line 009", "line 008", "line 007"]);
    }
}
