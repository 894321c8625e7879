//! Monitor jobs: the daemon runs a command, reads its stdout and stderr
//! line by line, and sends each line matching a regex to an agent, from
//! `monitor:<name>`, debounced.
//!
//! - [`spec`]: the saved spec, its checks, and `.thrum/var/monitors.json`.
//! - [`child`]: spawning without a shell in a process group of its own,
//!   and ending the whole group.
//! - [`output`]: bounded lines and the ring of recent output.
//! - [`debounce`]: the leading-edge window and its trailing summary.
//! - [`rpc`]: the `monitor.*` handlers.
//!
//! One task per running child ([`supervise`]) reads both pipes, matches,
//! delivers, and reports the child's end. A monitor is *persisted* while
//! it runs or after its child exited by itself (it respawns when the
//! daemon restarts); `monitor stop` forgets its spec, and the stopped
//! monitor stays listed (`list --all`, `restart`) until the daemon
//! restarts or its place is needed.

pub mod child;
pub mod debounce;
pub mod orphans;
pub mod output;
pub mod rpc;
pub mod spec;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;

use crate::state::State;
use debounce::{Debounce, Verdict};
use output::{Lines, Ring};
use spec::Spec;

/// Bytes of recent output kept per monitor (`monitor logs`).
pub const LOG_BYTES: usize = 64 * 1024;
/// Output quoted in the message telling that a child exited.
const EXIT_TAIL: usize = 500;
/// Matched lines kept for `monitor show`.
const RECENT: usize = 10;
/// How long `monitor stop` lets the group go after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The same at daemon shutdown, kept short so the daemon exits promptly.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// After the child exits, how long output still in the pipes (or from
/// grandchildren holding them) is read before the group is ended.
const DRAIN: Duration = Duration::from_millis(300);
/// Env values shorter than this are not masked in output text (masking
/// every `1` would garble it); they are still never shown as values.
const MASK_MIN: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Stopped,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Failed => "failed",
        }
    }
}

/// Why a running child is being ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    User,
    Shutdown,
}

struct Stop {
    why: Why,
    done: oneshot::Sender<()>,
}

/// One monitor: its spec (fixed) and what its current run did.
pub struct Mon {
    pub spec: Spec,
    re: regex::Regex,
    window: Duration,
    run: Mutex<Run>,
}

pub struct Run {
    pub status: Status,
    pub pid: i64,
    pub started: Option<Instant>,
    pub exit: String,
    pub exit_code: Option<i32>,
    pub match_count: u64,
    pub suppressed: u64,
    pub recent: VecDeque<String>,
    pub log: Ring,
    /// In `monitors.json`: respawned when the daemon starts.
    pub persisted: bool,
    /// Asks the running child's task to end it; None when not running.
    stop: Option<oneshot::Sender<Stop>>,
}

impl Mon {
    fn new(spec: Spec, re: regex::Regex) -> Mon {
        let window = Duration::from_millis(spec.debounce_ms);
        Mon {
            spec,
            re,
            window,
            run: Mutex::new(Run {
                status: Status::Stopped,
                pid: 0,
                started: None,
                exit: String::new(),
                exit_code: None,
                match_count: 0,
                suppressed: 0,
                recent: VecDeque::new(),
                log: Ring::new(LOG_BYTES),
                persisted: true,
                stop: None,
            }),
        }
    }

    pub fn run(&self) -> MutexGuard<'_, Run> {
        self.run.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Masks the env values found in `text` (a child may print them).
    pub fn redact(&self, text: String) -> String {
        let mut text = text;
        for v in self.spec.env.values().filter(|v| v.len() >= MASK_MIN) {
            if text.contains(v.as_str()) {
                text = text.replace(v.as_str(), thrum_proto::methods::monitor::REDACTED);
            }
        }
        text
    }

    /// The sender of this monitor's messages.
    pub fn author(&self) -> String {
        format!("monitor:{}", self.spec.name)
    }
}

/// Every monitor of this daemon, in creation order.
pub struct Monitors {
    path: PathBuf,
    /// The running children's process groups (see [`orphans`]).
    groups_path: PathBuf,
    groups: Mutex<std::collections::BTreeMap<String, orphans::Group>>,
    min_debounce: Duration,
    all: Mutex<Vec<Arc<Mon>>>,
    closing: std::sync::atomic::AtomicBool,
}

impl Monitors {
    /// Loads the saved specs from `var_dir/monitors.json`; they start
    /// with [`resume`]. A file that cannot be read is moved aside and
    /// reported in `warnings`.
    pub fn load(var_dir: &Path, warnings: &mut Vec<String>) -> Monitors {
        let path = var_dir.join("monitors.json");
        let groups_path = var_dir.join("monitors.pids.json");
        orphans::reap(&groups_path);
        let specs = match spec::load(&path) {
            Ok(s) => s,
            Err(e) => {
                let aside = var_dir.join(format!("monitors.json.unreadable-{}", std::process::id()));
                let _ = std::fs::rename(&path, &aside);
                warnings.push(format!("{e} (moved to {})", aside.display()));
                Vec::new()
            }
        };
        let mut all = Vec::new();
        for s in specs.into_iter().take(spec::MAX_MONITORS) {
            match spec::compile(&s.pattern) {
                Ok(re) => all.push(Arc::new(Mon::new(s, re))),
                Err(e) => warnings.push(format!("monitor {}: {e}; not restarted", s.name)),
            }
        }
        Monitors {
            path,
            groups_path,
            groups: Default::default(),
            min_debounce: spec::min_debounce(),
            all: Mutex::new(all),
            closing: Default::default(),
        }
    }

    fn list(&self) -> MutexGuard<'_, Vec<Arc<Mon>>> {
        self.all.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every monitor, oldest first.
    pub fn snapshot(&self) -> Vec<Arc<Mon>> {
        self.list().clone()
    }

    /// The monitor with this id, else this name.
    pub fn find(&self, key: &str) -> Option<Arc<Mon>> {
        let all = self.list();
        all.iter().find(|m| m.spec.id == key).or_else(|| all.iter().find(|m| m.spec.name == key)).cloned()
    }

    /// Records (`Some`) or forgets a running child's process group.
    fn track(&self, id: &str, group: Option<orphans::Group>) {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        match group {
            Some(g) => groups.insert(id.to_string(), g),
            None => groups.remove(id),
        };
        orphans::save(&self.groups_path, &groups);
    }

    /// Saves the persisted specs. Called with the list lock held, so
    /// saves never interleave.
    fn save(&self, all: &[Arc<Mon>]) -> Result<(), String> {
        let specs = all.iter().filter(|m| m.run().persisted).map(|m| m.spec.clone()).collect();
        spec::save(&self.path, specs)
    }
}

/// Starts every saved monitor (at daemon start).
pub fn resume(state: &State) {
    for m in state.monitors.snapshot() {
        if let Err(e) = launch(state, &m) {
            tracing::warn!(monitor = %m.spec.name, error = %e, "saved monitor could not be started");
            let mut r = m.run();
            r.status = Status::Failed;
            r.exit = e;
        }
    }
}

/// Spawns a run of `m`'s command and its supervising task; the child's pid.
fn launch(state: &State, m: &Arc<Mon>) -> Result<i64, String> {
    if state.monitors.closing.load(std::sync::atomic::Ordering::SeqCst) {
        return Err("the daemon is shutting down".into());
    }
    let child = child::spawn(&m.spec)?;
    let pid = child.id().map(i64::from).unwrap_or(0);
    let (tx, rx) = oneshot::channel();
    {
        let mut r = m.run();
        r.status = Status::Running;
        r.pid = pid;
        r.started = Some(Instant::now());
        r.exit.clear();
        r.exit_code = None;
        r.match_count = 0;
        r.suppressed = 0;
        r.recent.clear();
        r.log.clear();
        r.stop = Some(tx);
    }
    if let Some(start) = orphans::start_time(pid) {
        state.monitors.track(&m.spec.id, Some(orphans::Group { pgid: pid, start }));
    }
    tracing::info!(monitor = %m.spec.name, id = %m.spec.id, pid, program = %m.spec.argv[0], "monitor started");
    tokio::spawn(supervise(state.clone(), m.clone(), child, rx));
    Ok(pid)
}

/// Asks a running monitor's task to end its group; resolves once it has.
/// None when it was not running.
fn request_stop(m: &Mon, why: Why) -> Option<oneshot::Receiver<()>> {
    let tx = m.run().stop.take()?;
    let (done, wait) = oneshot::channel();
    tx.send(Stop { why, done }).ok()?;
    Some(wait)
}

/// Ends every running monitor's process group (daemon shutdown); they
/// stay saved, so they come back with the daemon.
pub async fn shutdown(state: &State) {
    state.monitors.closing.store(true, std::sync::atomic::Ordering::SeqCst);
    let waits: Vec<_> = state.monitors.snapshot().iter().filter_map(|m| request_stop(m, Why::Shutdown)).collect();
    let n = waits.len();
    let all = futures_util::future::join_all(waits);
    if tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(2), all).await.is_err() {
        tracing::warn!("some monitors did not stop in time");
    } else if n > 0 {
        tracing::info!(monitors = n, "monitors stopped");
    }
}

/// The child's two pipes, their buffers and line splitters.
struct Pipes {
    out: Option<tokio::process::ChildStdout>,
    err: Option<tokio::process::ChildStderr>,
    bo: Vec<u8>,
    be: Vec<u8>,
    lo: Lines,
    le: Lines,
}

/// What one read brought: which pipe, and how many bytes (0 at its end).
struct Got(bool, std::io::Result<usize>);

impl Pipes {
    fn open(&self) -> bool {
        self.out.is_some() || self.err.is_some()
    }

    /// The next read from either pipe (never resolves when both are closed).
    async fn next(&mut self) -> Got {
        tokio::select! {
            r = read_from(&mut self.out, &mut self.bo) => Got(true, r),
            r = read_from(&mut self.err, &mut self.be) => Got(false, r),
        }
    }

    /// Splits what a read brought into lines and handles them.
    fn take(&mut self, got: Got, m: &Mon, deb: &mut Debounce, sends: &mut Vec<String>) {
        let Got(stdout, n) = got;
        let (lines, buf) = if stdout { (&mut self.lo, &self.bo) } else { (&mut self.le, &self.be) };
        match n {
            Ok(n) if n > 0 => handle(m, deb, sends, &mut |f| lines.feed(&buf[..n], f)),
            _ => {
                handle(m, deb, sends, &mut |f| lines.finish(f));
                if stdout {
                    self.out = None;
                } else {
                    self.err = None;
                }
            }
        }
    }
}

/// Reads into `buf` from `pipe`, or never resolves when the pipe is closed.
async fn read_from<R: tokio::io::AsyncRead + Unpin>(pipe: &mut Option<R>, buf: &mut [u8]) -> std::io::Result<usize> {
    match pipe {
        Some(p) => p.read(buf).await,
        None => std::future::pending().await,
    }
}

/// The life of one run: reads the child's output until it exits or is
/// stopped, then ends its group and records how it ended.
async fn supervise(state: State, m: Arc<Mon>, mut child: tokio::process::Child, mut stop: oneshot::Receiver<Stop>) {
    let pid = child.id().map(i64::from).unwrap_or(0);
    let mut p = Pipes {
        out: child.stdout.take(),
        err: child.stderr.take(),
        bo: vec![0u8; 16 * 1024],
        be: vec![0u8; 16 * 1024],
        lo: Lines::default(),
        le: Lines::default(),
    };
    let mut deb = Debounce::new(m.window);
    let mut sends = Vec::new();
    let post = outbox(&state, &m);
    let ended = loop {
        let due = deb.due();
        let got = tokio::select! {
            got = p.next(), if p.open() => got,
            st = child.wait() => break Ended::Exited(st),
            s = &mut stop => break Ended::Stopped(s.ok()),
            _ = sleep_until(due) => {
                summarise(&post, &m, &mut deb, false);
                continue;
            }
        };
        p.take(got, &m, &mut deb, &mut sends);
        for text in sends.drain(..) {
            post.send(text);
        }
    };
    let ended_run = |state: &State| state.monitors.track(&m.spec.id, None);
    match ended {
        Ended::Exited(st) => {
            // What is still in the pipes is read; output of grandchildren
            // that keep them open is not waited for: the group goes with
            // its leader.
            let deadline = Instant::now() + DRAIN;
            while p.open() {
                let got = tokio::select! {
                    got = p.next() => got,
                    _ = sleep_until(Some(deadline)) => break,
                };
                p.take(got, &m, &mut deb, &mut sends);
            }
            for text in sends.drain(..) {
                post.send(text);
            }
            child::end_group(pid, &mut child, SHUTDOWN_GRACE).await;
            ended_run(&state);
            summarise(&post, &m, &mut deb, true);
            let (exit, code) = match st {
                Ok(st) => child::describe(st),
                Err(e) => (format!("lost track of the child: {e}"), None),
            };
            let failed = code != Some(0);
            let tail = {
                let mut r = m.run();
                r.status = if failed { Status::Failed } else { Status::Stopped };
                r.pid = 0;
                r.started = None;
                r.exit = exit.clone();
                r.exit_code = code;
                r.stop = None;
                r.log.tail(EXIT_TAIL)
            };
            tracing::info!(monitor = %m.spec.name, id = %m.spec.id, pid, %exit, "monitor child exited");
            let mut text =
                format!("Monitor {} ({}): `{}` ended ({exit}).", m.spec.name, m.spec.id, m.spec.argv.join(" "));
            if !tail.trim().is_empty() {
                text.push_str(&format!("\nLast output:\n{}", tail.trim_end()));
            }
            text.push_str(&format!("\nRestart it with `thrum monitor restart {}`.", m.spec.name));
            post.send(text);
        }
        Ended::Stopped(s) => {
            let why = s.as_ref().map(|s| s.why).unwrap_or(Why::Shutdown);
            let grace = if why == Why::User { STOP_GRACE } else { SHUTDOWN_GRACE };
            child::end_group(pid, &mut child, grace).await;
            ended_run(&state);
            if why == Why::User {
                // What the window held back is still told.
                summarise(&post, &m, &mut deb, true);
            }
            let exit = match why {
                Why::User => "stopped by monitor stop",
                Why::Shutdown => "stopped with the daemon",
            };
            {
                let mut r = m.run();
                r.status = Status::Stopped;
                r.pid = 0;
                r.started = None;
                r.exit = exit.into();
                r.exit_code = None;
            }
            tracing::info!(monitor = %m.spec.name, id = %m.spec.id, pid, "monitor stopped");
            if let Some(s) = s {
                let _ = s.done.send(());
            }
        }
    }
}

enum Ended {
    Exited(std::io::Result<std::process::ExitStatus>),
    Stopped(Option<Stop>),
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// Where the splitter puts each line (and whether it was cut).
type LineSink<'a> = &'a mut dyn FnMut(&[u8], bool);

/// Runs the line splitter over new output with the run's lock held once:
/// each line goes to the log ring and, when it matches, is counted and
/// judged by the debounce; lines to deliver land in `sends`.
fn handle(m: &Mon, deb: &mut Debounce, sends: &mut Vec<String>, split: &mut dyn FnMut(LineSink<'_>)) {
    let now = Instant::now();
    if let Some(s) = deb.take_summary(now, false) {
        sends.push(summary_text(m, &s));
    }
    let mut r = m.run();
    let r = &mut *r;
    let mut f = |line: &[u8], cut: bool| {
        r.log.push_line(line, cut);
        let text = String::from_utf8_lossy(line);
        if !m.re.is_match(&text) {
            return;
        }
        let text = output::text(line, cut);
        r.match_count += 1;
        if r.recent.len() == RECENT {
            r.recent.pop_front();
        }
        r.recent.push_back(text.clone());
        match deb.on_match(now, &text) {
            Verdict::Deliver => sends.push(if text.is_empty() { "(empty line)".into() } else { text }),
            Verdict::Suppressed => r.suppressed += 1,
        }
    };
    split(&mut f);
}

fn summary_text(m: &Mon, s: &debounce::Summary) -> String {
    let w = thrum_core::time::go_format(m.window);
    if s.count == 1 {
        format!("{}\n(held back by the {w} debounce window)", s.first)
    } else {
        format!("{}\n(+{} more matches suppressed in the last {w})", s.first, s.count - 1)
    }
}

/// Sends the due summary of held-back matches (all of them when `force`).
fn summarise(post: &Outbox, m: &Mon, deb: &mut Debounce, force: bool) {
    if let Some(s) = deb.take_summary(Instant::now(), force) {
        post.send(summary_text(m, &s));
    }
}

/// A run's outbox: messages go out one at a time, in order (a match
/// before the summary of its window, both before the exit notice), on a
/// task of their own so sending never holds up the reading. The debounce
/// lets at most a match and a summary per window through; the queue is
/// bounded all the same, and what does not fit is dropped and logged.
struct Outbox {
    tx: tokio::sync::mpsc::Sender<String>,
    name: String,
}

/// Messages a run may have waiting to be sent.
const OUTBOX: usize = 256;

impl Outbox {
    fn send(&self, text: String) {
        if self.tx.try_send(text).is_err() {
            tracing::warn!(monitor = %self.name, "monitor message dropped: too many waiting to be sent");
        }
    }
}

/// Starts the task that sends a run's messages from `monitor:<name>` to
/// its recipient, env values masked.
fn outbox(state: &State, m: &Arc<Mon>) -> Outbox {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(OUTBOX);
    let state = state.clone();
    let mon = m.clone();
    tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            let text = mon.redact(text);
            if let Err(e) = crate::rpc::send_from_daemon(&state, &mon.author(), &mon.spec.to, text, None).await {
                tracing::warn!(monitor = %mon.spec.name, to = %mon.spec.to, error = %e.0.message, "monitor message not sent");
            }
        }
    });
    Outbox { tx, name: m.spec.name.clone() }
}
