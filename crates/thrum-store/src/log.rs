//! The append-only event log: JSONL shards in the sync worktree.
//!
//! The log is the source of truth. Each shard is a file of one JSON event
//! per line (`events.jsonl`, `messages/{agent}.jsonl`). The single writer
//! appends a whole batch to one journal file (`.thrum/var/journal`) and
//! fsyncs it once — that is the moment the batch is durable — then
//! appends the same lines to their shards without waiting. A batch that
//! touches fifty shards still costs one flush. Every few megabytes (and at
//! shutdown) a checkpoint flushes the shards and empties the journal;
//! after a crash, opening the log re-appends any journaled event a shard
//! is missing.
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
pub struct LogLine<T = Event> {
    pub event: T,
    /// Byte offset just past this line's newline.
    pub end: u64,
}

/// What reading a shard from an offset found.
#[derive(Debug)]
pub struct ShardRead<T = Event> {
    pub lines: Vec<LogLine<T>>,
    /// Offset just past the last complete line.
    pub end: u64,
    /// Complete lines that were not valid events, with their 1-based line
    /// numbers relative to the read start (reported, kept in the file).
    pub bad_lines: Vec<(usize, String)>,
    /// Bytes after the last newline: a torn write.
    pub torn_tail: Option<Vec<u8>>,
}

impl<T> Default for ShardRead<T> {
    fn default() -> Self {
        ShardRead { lines: Vec::new(), end: 0, bad_lines: Vec::new(), torn_tail: None }
    }
}

/// What opening the journal repaired.
#[derive(Debug, Default)]
pub struct JournalRestore {
    /// Journaled events re-appended to shards that lacked them.
    pub restored: usize,
    /// Torn shard tails cut on the way, with where they were saved.
    pub torn: Vec<(String, PathBuf)>,
}

/// How many of the last written bytes of each shard are remembered (the
/// store's fingerprints are this long).
const TAIL_KEPT: usize = 64;

/// The journal is emptied once it grows past this.
const CHECKPOINT_BYTES: u64 = 8 * 1024 * 1024;

/// The write-ahead journal: `shard \t event-json \n` per line.
#[derive(Debug)]
struct Journal {
    path: PathBuf,
    file: File,
    len: u64,
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
    /// The last bytes this process wrote to each shard (at most
    /// `TAIL_KEPT`), so the fingerprint recorded after every commit needs
    /// no read of the file.
    tails: HashMap<String, Vec<u8>>,
    /// Present for the writer; read-only users have none.
    journal: Option<Journal>,
    /// Shards written since the last checkpoint (not yet flushed).
    dirty: std::collections::BTreeSet<String>,
}

impl EventLog {
    /// Opens (creating if needed) the log at `root`.
    pub fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root.join(MESSAGES_DIR)).map_err(|e| StoreError::io(root, e))?;
        Ok(EventLog {
            root: root.to_path_buf(),
            files: HashMap::new(),
            lens: HashMap::new(),
            tails: HashMap::new(),
            journal: None,
            dirty: Default::default(),
        })
    }

    /// Opens the log for writing with its journal at `journal`, first
    /// restoring into the shards any journaled event they lack (a crash
    /// after the journal flush). Returns the log, how many events were
    /// restored, and the torn shard tails cut on the way.
    pub fn open_writer(root: &Path, journal: &Path, recovered_dir: &Path) -> Result<(Self, JournalRestore)> {
        let mut log = Self::open(root)?;
        if let Some(dir) = journal.parent() {
            fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        }
        let mut torn = Vec::new();
        let restored = log.restore_from_journal(journal, recovered_dir, &mut torn)?;
        let file =
            OpenOptions::new().create(true).append(true).open(journal).map_err(|e| StoreError::io(journal, e))?;
        let len = file.metadata().map_err(|e| StoreError::io(journal, e))?.len();
        log.journal = Some(Journal { path: journal.to_path_buf(), file, len });
        Ok((log, JournalRestore { restored, torn }))
    }

    /// Re-appends journaled events missing from their shards, flushes,
    /// and empties the journal.
    fn restore_from_journal(
        &mut self,
        journal: &Path,
        recovered_dir: &Path,
        torn: &mut Vec<(String, PathBuf)>,
    ) -> Result<usize> {
        let data = match fs::read(journal) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(StoreError::io(journal, e)),
        };
        let mut by_shard: Vec<(String, Vec<Event>)> = Vec::new();
        // Only whole lines count: a torn last line was never acknowledged.
        for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(text) = std::str::from_utf8(line) else { continue };
            let Some((shard, json)) = text.split_once('\t') else { continue };
            if !is_shard_name(shard) {
                continue;
            }
            let Ok(ev) = Event::parse_line(json) else { continue };
            match by_shard.iter_mut().find(|(s, _)| s == shard) {
                Some((_, v)) => v.push(ev),
                None => by_shard.push((shard.to_string(), vec![ev])),
            }
        }
        let mut restored = 0;
        for (shard, events) in by_shard {
            let read = self.read_from(&shard, 0)?;
            if read.torn_tail.is_some() {
                let saved = self.cut_torn_tail(&shard, read.end, recovered_dir)?;
                torn.push((shard.clone(), saved));
            }
            let have: std::collections::HashSet<String> =
                read.lines.iter().map(|l| l.event.event_id().to_string()).collect();
            let mut buf = Vec::new();
            for ev in events.iter().filter(|e| !have.contains(e.event_id())) {
                buf.extend_from_slice(ev.to_line().as_bytes());
                buf.push(b'\n');
                restored += 1;
            }
            if !buf.is_empty() {
                let path = self.root.join(&shard);
                let file = self.file(&shard)?;
                file.write_all(&buf).map_err(|e| StoreError::io(&path, e))?;
                file.sync_data().map_err(|e| StoreError::io(&path, e))?;
                self.forget(&shard);
            }
        }
        if !data.is_empty() {
            let f = OpenOptions::new().write(true).open(journal).map_err(|e| StoreError::io(journal, e))?;
            f.set_len(0).map_err(|e| StoreError::io(journal, e))?;
            f.sync_all().map_err(|e| StoreError::io(journal, e))?;
        }
        Ok(restored)
    }

    /// Flushes every shard written since the last checkpoint, then empties
    /// the journal (in that order: the journal may only forget what the
    /// shards hold durably).
    pub fn checkpoint(&mut self) -> Result<()> {
        let dirty: Vec<String> = std::mem::take(&mut self.dirty).into_iter().collect();
        let files: Vec<(&str, &File)> =
            dirty.iter().filter_map(|s| self.files.get(s).map(|f| (s.as_str(), f))).collect();
        if let Some((shard, e)) = sync_all_parallel(&files) {
            return Err(StoreError::io(&self.root.join(shard), e));
        }
        if let Some(j) = self.journal.as_mut()
            && j.len > 0
        {
            j.file.set_len(0).map_err(|e| StoreError::io(&j.path, e))?;
            j.file.sync_data().map_err(|e| StoreError::io(&j.path, e))?;
            j.len = 0;
        }
        Ok(())
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
        if self.journal.is_none() {
            return self.append_direct(&by_shard);
        }
        // 1. The journal: one write, one flush. After this the batch is durable.
        let mut jbuf = Vec::new();
        for (shard, buf) in &by_shard {
            for line in buf.split_inclusive(|&b| b == b'\n') {
                jbuf.extend_from_slice(shard.as_bytes());
                jbuf.push(b'\t');
                jbuf.extend_from_slice(line);
            }
        }
        let jlen = match self.journal.as_mut() {
            Some(j) => {
                let before = j.len;
                let res = j.file.write_all(&jbuf).and_then(|()| j.file.sync_data());
                if let Err(e) = res {
                    // Leave no half-written batch to be replayed later.
                    let _ = j.file.set_len(before);
                    return Err(StoreError::io(&j.path, e));
                }
                j.len += jbuf.len() as u64;
                before
            }
            None => return Err(StoreError::Invalid("journal missing".into())),
        };
        // 2. The shards, without waiting for the disk.
        let mut out = Vec::with_capacity(by_shard.len());
        let mut failure = None;
        for (shard, buf) in &by_shard {
            let len = match self.len(shard) {
                Ok(l) => l,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            let path = self.root.join(shard);
            let res = self.file(shard).and_then(|f| f.write_all(buf).map_err(|e| StoreError::io(&path, e)));
            out.push((shard.clone(), len, len + buf.len() as u64));
            if let Err(e) = res {
                failure = Some(e);
                break;
            }
        }
        if let Some(e) = failure {
            // Undo this batch everywhere, so an error means "not stored".
            for (shard, before, _) in &out {
                if let Some(f) = self.files.get(shard) {
                    let _ = f.set_len(*before);
                }
                self.lens.insert(shard.clone(), *before);
                self.tails.remove(shard);
            }
            if let Some(j) = self.journal.as_mut() {
                let _ = j.file.set_len(jlen);
                let _ = j.file.sync_data();
                j.len = jlen;
            }
            return Err(e);
        }
        let mut result = Vec::with_capacity(out.len());
        for ((shard, _, len), (_, buf)) in out.into_iter().zip(&by_shard) {
            self.remember_tail(&shard, buf);
            self.lens.insert(shard.clone(), len);
            self.dirty.insert(shard.clone());
            result.push((shard, len));
        }
        if self.journal.as_ref().is_some_and(|j| j.len > CHECKPOINT_BYTES) {
            self.checkpoint()?;
        }
        Ok(result)
    }

    /// Appends without a journal: each touched shard is flushed (in
    /// parallel) before returning.
    fn append_direct(&mut self, by_shard: &[(String, Vec<u8>)]) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::with_capacity(by_shard.len());
        for (shard, buf) in by_shard {
            let len = self.len(shard)?;
            let path = self.root.join(shard);
            let file = self.file(shard)?;
            file.write_all(buf).map_err(|e| StoreError::io(&path, e))?;
            out.push((shard.clone(), len + buf.len() as u64));
        }
        let files: Vec<(&str, &File)> =
            out.iter().filter_map(|(shard, _)| self.files.get(shard).map(|f| (shard.as_str(), f))).collect();
        if let Some((shard, e)) = sync_all_parallel(&files) {
            return Err(StoreError::io(&self.root.join(shard), e));
        }
        for ((shard, len), (_, buf)) in out.iter().zip(by_shard) {
            self.remember_tail(shard, buf);
            self.lens.insert(shard.clone(), *len);
        }
        Ok(out)
    }

    /// Notes bytes just appended to `shard`.
    fn remember_tail(&mut self, shard: &str, appended: &[u8]) {
        let tail = self.tails.entry(shard.to_string()).or_default();
        tail.extend_from_slice(&appended[appended.len().saturating_sub(TAIL_KEPT)..]);
        let excess = tail.len().saturating_sub(TAIL_KEPT);
        tail.drain(..excess);
    }

    /// Drops what is remembered of a shard changed other than by appending.
    fn forget(&mut self, shard: &str) {
        self.lens.remove(shard);
        self.tails.remove(shard);
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
        Ok(parse_lines(&self.read_bytes(shard, offset)?, offset))
    }

    /// The raw bytes of a shard from `offset` (none for a missing shard).
    pub fn read_bytes(&self, shard: &str, offset: u64) -> Result<Vec<u8>> {
        let path = self.root.join(shard);
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        f.seek(SeekFrom::Start(offset)).map_err(|e| StoreError::io(&path, e))?;
        let mut data = Vec::new();
        f.read_to_end(&mut data).map_err(|e| StoreError::io(&path, e))?;
        Ok(data)
    }

    /// The last complete event of a shard (read from its tail only).
    pub fn last_event(&self, shard: &str) -> Result<Option<Event>> {
        let len = self.len(shard)?;
        let mut window = 4096u64;
        loop {
            let tail = self.tail_bytes(shard, len, window)?;
            let body = match tail.iter().rposition(|&b| b == b'\n') {
                Some(i) => &tail[..i],
                None => &tail[..],
            };
            // The last full line starts after the newline before it.
            if let Some(start) = body.iter().rposition(|&b| b == b'\n') {
                let line = &body[start + 1..];
                return Ok(std::str::from_utf8(line).ok().and_then(|l| Event::parse_line(l).ok()));
            }
            if window >= len {
                return Ok(std::str::from_utf8(body).ok().and_then(|l| Event::parse_line(l).ok()));
            }
            window *= 4;
        }
    }

    /// Reads bytes `[offset - n, offset)` of a shard: the fingerprint used
    /// to notice that a shard was rewritten behind our back.
    pub fn tail_bytes(&self, shard: &str, offset: u64, n: u64) -> Result<Vec<u8>> {
        let want = n.min(offset) as usize;
        if self.lens.get(shard) == Some(&offset)
            && let Some(tail) = self.tails.get(shard)
            && tail.len() >= want
        {
            return Ok(tail[tail.len() - want..].to_vec());
        }
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
        self.forget(shard);
        let f = OpenOptions::new().write(true).open(&path).map_err(|e| StoreError::io(&path, e))?;
        f.set_len(keep_len).map_err(|e| StoreError::io(&path, e))?;
        f.sync_all().map_err(|e| StoreError::io(&path, e))?;
        Ok(saved)
    }

    /// Replaces a shard's whole content atomically (write a temporary
    /// file, fsync, rename over, fsync the directory). Used by purge and
    /// migration; an empty `events` removes the shard.
    pub fn rewrite(&mut self, shard: &str, events: &[Event]) -> Result<u64> {
        // The journal must not hold lines a crash could bring back into
        // the rewritten shard.
        self.checkpoint()?;
        let path = self.root.join(shard);
        self.files.remove(shard);
        self.forget(shard);
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

/// Flushes files concurrently (the file system folds concurrent flushes
/// into one journal commit); returns the first failure.
fn sync_all_parallel<'a>(files: &[(&'a str, &'a File)]) -> Option<(String, std::io::Error)> {
    match files {
        [] => None,
        [(shard, f)] => f.sync_data().err().map(|e| (shard.to_string(), e)),
        _ => std::thread::scope(|s| {
            let handles: Vec<_> = files
                .iter()
                .map(|(shard, f)| s.spawn(move || f.sync_data().err().map(|e| (shard.to_string(), e))))
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok().flatten()).next()
        }),
    }
}

/// Whether a name is a real shard path (never a path outside the log).
pub fn is_shard_name(s: &str) -> bool {
    s == EVENTS_SHARD
        || s.strip_prefix("messages/").and_then(|n| n.strip_suffix(".jsonl")).is_some_and(|n| {
            !n.is_empty()
                && !n.starts_with('.')
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

/// Splits raw shard bytes into events, reporting bad and torn lines.
pub fn parse_lines(data: &[u8], base: u64) -> ShardRead {
    parse_lines_with(data, base, |s| Event::parse_line(s).map_err(|e| e.to_string()))
}

/// Splits raw shard bytes into lines decoded by `decode`, reporting bad
/// and torn lines.
pub fn parse_lines_with<'a, T>(
    data: &'a [u8],
    base: u64,
    decode: impl Fn(&'a str) -> std::result::Result<T, String>,
) -> ShardRead<T> {
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
        match std::str::from_utf8(line).map_err(|e| e.to_string()).and_then(&decode) {
            Ok(event) => out.lines.push(LogLine { event, end }),
            Err(e) => out.bad_lines.push((lineno, e)),
        }
    }
    out
}

/// Creates the folder, then writes `data` to `path` atomically and
/// durably ([`thrum_core::fs::write_file`]).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    thrum_core::fs::write_file(path, data).map_err(|e| StoreError::io(&e.path, e.source))
}

/// fsyncs a directory so a created or renamed entry in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(dir, e))
}
