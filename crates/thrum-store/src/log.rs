//! The append-only event log: JSONL shards in the sync worktree.
//!
//! The log is the source of truth. Each shard is a file of one JSON event
//! per line (`events.jsonl`, `messages/{agent}.jsonl`). The single writer
//! appends a batch, then `fsync`s every file it touched once, so many
//! concurrent requests share one fsync (group commit). Nothing is
//! acknowledged before that fsync returns.
//!
//! Reading is tolerant: a line that is not valid JSON is reported and
//! skipped, never fatal, and a torn last line (a write cut short by a
//! crash, never acknowledged) is moved aside so later appends start on a
//! clean line.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use thrum_core::Event;

use crate::error::{Result, StoreError};

/// The shard for everything that is not a message event.
pub const EVENTS_SHARD: &str = "events.jsonl";
/// The folder of per-agent message shards.
pub const MESSAGES_DIR: &str = "messages";

/// One readable line of a shard and where it ends.
#[derive(Debug)]
pub struct LogLine {
    pub event: Event,
    /// Byte offset just past this line's newline.
    pub end: u64,
}

/// What reading a shard from an offset found.
#[derive(Debug, Default)]
pub struct ShardRead {
    pub lines: Vec<LogLine>,
    /// Offset just past the last complete line.
    pub end: u64,
    /// Complete lines that were not valid events, with their 1-based line
    /// numbers relative to the read start (reported, kept in the file).
    pub bad_lines: Vec<(usize, String)>,
    /// Bytes after the last newline: a torn write.
    pub torn_tail: Option<Vec<u8>>,
}

/// The event log rooted at a sync worktree directory.
#[derive(Debug)]
pub struct EventLog {
    root: PathBuf,
    /// Open append handles, by shard path relative to `root`.
    files: HashMap<String, File>,
    /// Current length of each open shard, kept exact because this process
    /// is the only writer.
    lens: HashMap<String, u64>,
}

impl EventLog {
    /// Opens (creating if needed) the log at `root`.
    pub fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root.join(MESSAGES_DIR)).map_err(|e| StoreError::io(root, e))?;
        Ok(EventLog { root: root.to_path_buf(), files: HashMap::new(), lens: HashMap::new() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Lists every shard that exists, `events.jsonl` first, then message
    /// shards in name order.
    pub fn shards(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        if self.root.join(EVENTS_SHARD).is_file() {
            out.push(EVENTS_SHARD.to_string());
        }
        let dir = self.root.join(MESSAGES_DIR);
        let mut names: Vec<String> = match fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".jsonl") && !n.starts_with('.'))
                .map(|n| format!("{MESSAGES_DIR}/{n}"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StoreError::io(&dir, e)),
        };
        names.sort();
        out.extend(names);
        Ok(out)
    }

    /// The current length of a shard (0 when it does not exist).
    pub fn len(&self, shard: &str) -> Result<u64> {
        if let Some(l) = self.lens.get(shard) {
            return Ok(*l);
        }
        let p = self.root.join(shard);
        match fs::metadata(&p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(StoreError::io(&p, e)),
        }
    }

    /// Appends a batch of events, each to its given shard, and fsyncs every
    /// touched file once. Returns the new length of each touched shard.
    ///
    /// Lines are written whole with one `write_all` per shard so a crash
    /// can tear at most the last line of a file, which [`Self::read_from`]
    /// tolerates.
    pub fn append(&mut self, batch: &[(String, Event)]) -> Result<Vec<(String, u64)>> {
        let mut by_shard: Vec<(String, Vec<u8>)> = Vec::new();
        for (shard, ev) in batch {
            let shard = shard.clone();
            let mut line = ev.to_line().into_bytes();
            line.push(b'\n');
            match by_shard.iter_mut().find(|(s, _)| *s == shard) {
                Some((_, buf)) => buf.extend_from_slice(&line),
                None => by_shard.push((shard, line)),
            }
        }
        let mut out = Vec::with_capacity(by_shard.len());
        for (shard, buf) in &by_shard {
            let len = self.len(shard)?;
            let path = self.root.join(shard);
            let file = self.file(shard)?;
            file.write_all(buf).map_err(|e| StoreError::io(&path, e))?;
            out.push((shard.clone(), len + buf.len() as u64));
        }
        // Flush every touched shard at once: the file system folds
        // concurrent fdatasyncs into one journal commit, so a batch that
        // spans many authors costs about one disk flush, not one each.
        let files: Vec<(&str, &File)> =
            out.iter().filter_map(|(shard, _)| self.files.get(shard).map(|f| (shard.as_str(), f))).collect();
        let root = &self.root;
        let failed = if files.len() == 1 {
            files[0].1.sync_data().err().map(|e| (files[0].0.to_string(), e))
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = files
                    .iter()
                    .map(|(shard, f)| s.spawn(move || f.sync_data().err().map(|e| (shard.to_string(), e))))
                    .collect();
                handles.into_iter().filter_map(|h| h.join().ok().flatten()).next()
            })
        };
        if let Some((shard, e)) = failed {
            return Err(StoreError::io(&root.join(shard), e));
        }
        for (shard, len) in &out {
            self.lens.insert(shard.clone(), *len);
        }
        Ok(out)
    }

    fn file(&mut self, shard: &str) -> Result<&mut File> {
        if !self.files.contains_key(shard) {
            let path = self.root.join(shard);
            let existed = path.exists();
            let f = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| StoreError::io(&path, e))?;
            if !existed {
                // A new file is only durable once its directory entry is.
                if let Some(dir) = path.parent() {
                    sync_dir(dir)?;
                }
            }
            let len = f.metadata().map_err(|e| StoreError::io(&path, e))?.len();
            self.lens.insert(shard.to_string(), len);
            self.files.insert(shard.to_string(), f);
        }
        let path = self.root.join(shard);
        self.files.get_mut(shard).ok_or_else(|| StoreError::io(&path, std::io::ErrorKind::NotFound.into()))
    }

    /// Reads a shard from byte `offset` to its end.
    pub fn read_from(&self, shard: &str, offset: u64) -> Result<ShardRead> {
        let path = self.root.join(shard);
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ShardRead::default());
            }
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        f.seek(SeekFrom::Start(offset)).map_err(|e| StoreError::io(&path, e))?;
        let mut data = Vec::new();
        f.read_to_end(&mut data).map_err(|e| StoreError::io(&path, e))?;
        Ok(parse_lines(&data, offset))
    }

    /// Reads bytes `[offset - n, offset)` of a shard: the fingerprint used
    /// to notice that a shard was rewritten behind our back.
    pub fn tail_bytes(&self, shard: &str, offset: u64, n: u64) -> Result<Vec<u8>> {
        let path = self.root.join(shard);
        let start = offset.saturating_sub(n);
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        f.seek(SeekFrom::Start(start)).map_err(|e| StoreError::io(&path, e))?;
        let mut buf = vec![0; (offset - start) as usize];
        match f.read_exact(&mut buf) {
            Ok(()) => Ok(buf),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(Vec::new()),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    /// Cuts a torn tail off a shard, saving the fragment into `save_dir`
    /// so nothing is silently destroyed. Returns the saved file's path.
    pub fn cut_torn_tail(&mut self, shard: &str, keep_len: u64, save_dir: &Path) -> Result<PathBuf> {
        let path = self.root.join(shard);
        let data = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        let frag = data.get(keep_len as usize..).unwrap_or_default();
        fs::create_dir_all(save_dir).map_err(|e| StoreError::io(save_dir, e))?;
        let saved = save_dir.join(format!(
            "torn-{}-{}.jsonl",
            shard.replace('/', "_"),
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f")
        ));
        fs::write(&saved, frag).map_err(|e| StoreError::io(&saved, e))?;
        self.files.remove(shard);
        self.lens.remove(shard);
        let f = OpenOptions::new().write(true).open(&path).map_err(|e| StoreError::io(&path, e))?;
        f.set_len(keep_len).map_err(|e| StoreError::io(&path, e))?;
        f.sync_all().map_err(|e| StoreError::io(&path, e))?;
        Ok(saved)
    }

    /// Replaces a shard's whole content atomically (write a temporary
    /// file, fsync, rename over, fsync the directory). Used by purge and
    /// migration; an empty `events` removes the shard.
    pub fn rewrite(&mut self, shard: &str, events: &[Event]) -> Result<u64> {
        let path = self.root.join(shard);
        self.files.remove(shard);
        self.lens.remove(shard);
        if events.is_empty() {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&path, e)),
            }
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
            return Ok(0);
        }
        let mut buf = Vec::new();
        for ev in events {
            buf.extend_from_slice(ev.to_line().as_bytes());
            buf.push(b'\n');
        }
        write_atomic(&path, &buf)?;
        Ok(buf.len() as u64)
    }
}

/// Splits raw shard bytes into events, reporting bad and torn lines.
pub fn parse_lines(data: &[u8], base: u64) -> ShardRead {
    let mut out = ShardRead { end: base, ..Default::default() };
    let mut pos = 0usize;
    let mut lineno = 0usize;
    while pos < data.len() {
        let Some(nl) = data[pos..].iter().position(|&b| b == b'\n') else {
            out.torn_tail = Some(data[pos..].to_vec());
            break;
        };
        lineno += 1;
        let line = &data[pos..pos + nl];
        pos += nl + 1;
        let end = base + pos as u64;
        out.end = end;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match std::str::from_utf8(line)
            .map_err(|e| e.to_string())
            .and_then(|s| Event::parse_line(s).map_err(|e| e.to_string()))
        {
            Ok(event) => out.lines.push(LogLine { event, end }),
            Err(e) => out.bad_lines.push((lineno, e)),
        }
    }
    out
}

/// Writes `data` to `path` atomically and durably.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        f.write_all(data).map_err(|e| StoreError::io(&tmp, e))?;
        f.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))?;
    sync_dir(dir)
}

/// fsyncs a directory so a created or renamed entry in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(dir, e))
}
