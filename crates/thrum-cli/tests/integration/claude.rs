//! The real Claude Code CLI, driven interactively, against a scripted model.
//!
//! Hook behaviour (what reaches the model, whether an idle session wakes) is
//! only worth testing against the real runtime, so this module drives the
//! pinned `@anthropic-ai/claude-code` (`tests/runtimes/package.json`) in a
//! tmux pane, as a person would, with `ANTHROPIC_BASE_URL` pointing at a
//! stand-in on loopback (`tests/runtimes/model_standin.py`) that answers every
//! turn with "Done." and logs every request. Tests then read what Claude Code
//! sent to "the model".
//!
//! Interactive, not `claude -p`: print mode kills background hooks when it
//! exits, so an idle session could never be woken there.
//!
//! Harness:
//! - [`claude_bin`]: the pinned native binary, installed by `npm ci` on first use.
//! - [`Standin`]: the model stand-in and its request log.
//! - [`request_text`]: everything a request says to the model, as one string.
//! - [`ClaudeSession`]: Claude Code in a private tmux server; killed with
//!   everything it started on drop.
//!
//! Needs `tmux`, `python3`, `node`/`npm` (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::workspace;

pub(crate) fn require(tool: &str, fix: &str) {
    let found =
        Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is not installed: {fix} (or run `bash .ci/run`, which installs it)");
}

pub(crate) fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Polls `done` every 20 ms until it holds or `timeout` passes; whether it held.
pub(crate) fn poll(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A runtime's binary from its pinned npm package in `tests/runtimes/FOLDER`
/// ("" for `tests/runtimes` itself), running `npm ci` there first when it is
/// missing or another version. `dep` is the pinned dependency, `pkg` the
/// installed package whose version must equal the pin (a platform package
/// may be run directly: npm skips wrapper packages' postinstall here), and
/// `bin` the binary's path under `node_modules`. npm writes
/// `node_modules/.package-lock.json` last, so it marks a finished install
/// (an interrupted one is redone). Callers keep the answer in a `OnceLock`:
/// concurrent tests must not run npm over each other.
pub(crate) fn npm_pinned(folder: &str, dep: &str, pkg: &str, bin: &str) -> PathBuf {
    let dir = workspace().join("tests/runtimes").join(folder);
    let pin = read_json(&dir.join("package.json")).unwrap()["dependencies"][dep].as_str().unwrap().to_owned();
    let modules = dir.join("node_modules");
    let bin = modules.join(bin);
    let installed = || {
        modules.join(".package-lock.json").exists()
            && bin.exists()
            && read_json(&modules.join(pkg).join("package.json")).is_some_and(|p| p["version"] == pin.as_str())
    };
    if !installed() {
        require("npm", "install Node.js and npm");
        let out = Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir).output().unwrap();
        assert!(out.status.success(), "npm ci in {} failed: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
        assert!(installed(), "npm ci did not install {dep} {pin} at {}", bin.display());
    }
    bin
}

/// The native `claude` binary of the pinned release (its platform package).
pub(crate) fn claude_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let platform = match (std::env::consts::OS, std::env::consts::ARCH) {
            ("linux", "x86_64") => "linux-x64",
            ("linux", "aarch64") => "linux-arm64",
            ("macos", "x86_64") => "darwin-x64",
            ("macos", "aarch64") => "darwin-arm64",
            (os, arch) => panic!("no Claude Code package for {os}/{arch}"),
        };
        let pkg = format!("@anthropic-ai/claude-code-{platform}");
        npm_pinned("", "@anthropic-ai/claude-code", &pkg, &format!("{pkg}/claude"))
    })
    .clone()
}

/// The model stand-in: `tests/runtimes/model_standin.py` on 127.0.0.1, on a
/// port the kernel picked, logging to a file in its own temp dir. Killed on
/// drop.
pub(crate) struct Standin {
    pub(crate) child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Standin {
    pub(crate) fn start() -> Standin {
        require("python3", "apt-get install -y python3");
        let dir = tempfile::tempdir().unwrap();
        let (port_file, log) = (dir.path().join("port"), dir.path().join("requests.jsonl"));
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let child = Command::new("python3")
            .arg(workspace().join("tests/runtimes/model_standin.py"))
            .args([&port_file, &log])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        // Owned before waiting, so a failed start still kills the child.
        let mut standin = Standin { child, port: 0, log, _dir: dir };
        let read_port = || std::fs::read_to_string(&port_file).ok().and_then(|s| s.trim().parse::<u16>().ok());
        let up = poll(Duration::from_secs(20), || read_port().is_some() || standin.child.try_wait().unwrap().is_some());
        let Some(port) = read_port() else {
            let err = std::fs::read_to_string(standin._dir.path().join("stderr")).unwrap_or_default();
            panic!("the model stand-in did not start ({}):\n{err}", if up { "it exited" } else { "timed out" })
        };
        standin.port = port;
        standin
    }

    /// What `ANTHROPIC_BASE_URL` should be.
    pub(crate) fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request so far, oldest first: `{"t": <CLOCK_MONOTONIC seconds,
    /// as Python's time.monotonic()>, "method", "path", "body": <JSON or null>}`.
    pub(crate) fn requests(&self) -> Vec<Value> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        // Large bodies reach the file in several writes: a last line without
        // its newline is still being written, and is left for the next call.
        let complete = &log[..log.rfind('\n').map_or(0, |i| i + 1)];
        complete.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The main loop's requests: those offering tools. Claude Code's side
    /// requests (titles, quota checks, classifiers) carry none.
    pub(crate) fn main_requests(&self) -> Vec<Value> {
        self.requests().into_iter().filter(|r| r["body"]["tools"].as_array().is_some_and(|t| !t.is_empty())).collect()
    }

    /// Whether at least `n` main-loop requests arrived within `timeout`.
    pub(crate) fn wait_for_main_requests(&self, n: usize, timeout: Duration) -> bool {
        poll(timeout, || self.main_requests().len() >= n)
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything a logged request says to the model, flattened into one string
/// to search: the system prompt, then every message's text, including
/// tool results and the `system`-role messages Claude Code sends (hook
/// output goes there). Blocks are separated by newlines.
pub(crate) fn request_text(request: &Value) -> String {
    fn flatten(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
            // A block: text, or a tool result whose content is a string or blocks.
            Value::Object(block) => {
                for key in ["text", "content"] {
                    if let Some(inner) = block.get(key) {
                        flatten(inner, out);
                    }
                }
            }
            _ => {}
        }
    }
    let body = &request["body"];
    let mut out = String::new();
    flatten(&body["system"], &mut out);
    for message in body["messages"].as_array().into_iter().flatten() {
        flatten(&message["content"], &mut out);
    }
    out
}

/// Claude Code running interactively in a tmux pane of a private tmux server
/// (`tmux -L <socket>`; attach with that to watch a failing test), talking to
/// its own [`Standin`]. On drop, the server, Claude Code, every process it
/// started (background hooks included) and the stand-in are killed.
pub(crate) struct ClaudeSession {
    socket: String,
    /// tmux leaves its socket file behind when the server is killed.
    socket_path: PathBuf,
    server_pid: u32,
    standin: Standin,
}

/// Any key will do (the stand-in ignores it); Claude Code only asks that its
/// last 20 characters be approved in `.claude.json`.
const API_KEY: &str = "sk-ant-thrum-test-standin-0123456789abcdefghij";
const WINDOW: &str = "claude";

impl ClaudeSession {
    /// Starts Claude Code in `project` with `home` as HOME (its `.claude.json`
    /// is written here so no onboarding, API-key or trust dialog appears),
    /// `path_prefix` (e.g. the thrum binary's folder) put before the test's
    /// PATH, plus `env` (e.g. THRUM_NAME; a name given twice takes the later
    /// value, so `env` can override ours). The environment is otherwise
    /// empty, so the developer's own ANTHROPIC_* or CLAUDE_* settings cannot
    /// leak in. Returns once the input prompt is drawn and the session idle.
    /// `home` may hold other files (a test's HOME); only `.claude.json` is
    /// written, and Claude Code keeps its transcripts under `home/.claude`.
    pub(crate) fn start(
        home: &Path,
        project: &Path,
        path_prefix: Option<&Path>,
        env: &[(&str, &str)],
    ) -> ClaudeSession {
        // Once, under heavy load (a full test run next to other builds),
        // Claude Code drew its banner and never its input box within 60 s;
        // a fresh start then worked. Retried once, and said so.
        match Self::start_once(home, project, path_prefix, env) {
            Ok(s) => s,
            Err(screen) => {
                eprintln!("Claude Code did not show its prompt within 45 s; starting it again. Its screen:\n{screen}");
                Self::start_once(home, project, path_prefix, env).unwrap_or_else(|screen| {
                    panic!("Claude Code did not show its prompt within 45 s, twice:\n{screen}")
                })
            }
        }
    }

    fn start_once(
        home: &Path,
        project: &Path,
        path_prefix: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Result<ClaudeSession, String> {
        require("tmux", "apt-get install -y tmux");
        let bin = claude_bin();
        let standin = Standin::start();
        // Claude Code keys trust by the path it sees as its working directory.
        let project = project.canonicalize().unwrap();
        std::fs::create_dir_all(home).unwrap();
        let state = json!({
            "hasCompletedOnboarding": true,
            "customApiKeyResponses": { "approved": [&API_KEY[API_KEY.len() - 20..]], "rejected": [] },
            "projects": { project.to_str().unwrap(): { "hasTrustDialogAccepted": true } },
        });
        std::fs::write(home.join(".claude.json"), serde_json::to_vec_pretty(&state).unwrap()).unwrap();

        let mut path = std::env::var_os("PATH").unwrap_or_default();
        if let Some(prefix) = path_prefix {
            path = std::env::join_paths(std::iter::once(prefix.to_path_buf()).chain(std::env::split_paths(&path)))
                .unwrap();
        }
        let vars: Vec<(String, String)> = [
            ("HOME", home.to_str().unwrap()),
            ("PATH", path.to_str().unwrap()),
            ("TERM", "screen-256color"),
            ("LANG", "C.UTF-8"),
            ("ANTHROPIC_BASE_URL", &standin.base_url()),
            ("ANTHROPIC_API_KEY", API_KEY),
            // Without these two it tries to update itself and phones home.
            ("DISABLE_AUTOUPDATER", "1"),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ]
        .into_iter()
        .chain(env.iter().copied())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();

        static SESSIONS: AtomicUsize = AtomicUsize::new(0);
        let socket = format!("thrum-claude-{}-{}", std::process::id(), SESSIONS.fetch_add(1, Ordering::Relaxed));
        // `-f /dev/null`: none of the developer's tmux.conf. `env -i`: the pane
        // gets exactly `vars`, not the tmux server's environment. A fixed,
        // wide size keeps captures stable; remain-on-exit keeps a crashed
        // Claude Code's last screen for the failure message.
        let mut tmux = Command::new("tmux");
        tmux.args(["-L", &socket, "-f", "/dev/null", "new-session", "-d", "-s", WINDOW, "-x", "200", "-y", "50"])
            .arg("-c")
            .arg(&project)
            .args(["env", "-i"])
            .args(vars.iter().map(|(k, v)| format!("{k}={v}")))
            .arg(&bin)
            .args([";", "set-option", "-g", "remain-on-exit", "on"])
            .env_remove("TMUX");
        let out = tmux.output().unwrap();
        assert!(out.status.success(), "tmux new-session failed: {}", String::from_utf8_lossy(&out.stderr));
        let mut session = ClaudeSession { socket, socket_path: PathBuf::new(), server_pid: 0, standin };
        let server = session.tmux(&["display-message", "-p", "#{pid} #{socket_path}"]);
        let (pid, socket_path) = server.trim().split_once(' ').unwrap();
        (session.server_pid, session.socket_path) = (pid.parse().unwrap(), socket_path.into());

        // Ready: the input box's prompt is drawn (before that, keys could be
        // lost; a dialog would show instead of it) and nothing runs.
        let ready = poll(Duration::from_secs(45), || session.capture().contains('❯') && session.is_idle());
        if !ready {
            // Dropping the session kills it and its stand-in.
            return Err(session.capture());
        }
        Ok(session)
    }

    /// Whether no turn is running. Claude Code titles its terminal
    /// "✳ Claude Code" when idle and cycles "◐ ◓ ◑ ◒ Claude Code" while a
    /// turn (or a blocking hook) runs; the title is set by escape sequence,
    /// so this reads state rather than screen text. Background
    /// (`asyncRewake`) hooks do not count: they run while idle.
    pub(crate) fn is_idle(&self) -> bool {
        self.tmux(&["display-message", "-p", "-t", WINDOW, "#{pane_title}"]).starts_with('✳')
    }

    /// Whether the session became idle within `timeout`.
    pub(crate) fn wait_idle(&self, timeout: Duration) -> bool {
        poll(timeout, || self.is_idle())
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-L", &self.socket]).args(args).output().unwrap();
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub(crate) fn standin(&self) -> &Standin {
        &self.standin
    }

    /// Types `text` (plain text: a leading `/` or `@` would open a menu) into
    /// the prompt and presses Enter once it is shown, so Enter cannot arrive
    /// as part of the text. Whether a turn started is for the caller to
    /// check (e.g. [`Standin::wait_for_main_requests`]).
    pub(crate) fn send_prompt(&self, text: &str) {
        self.tmux(&["send-keys", "-t", WINDOW, "-l", text]);
        let start: String = text.lines().next().unwrap_or("").chars().take(40).collect();
        let shown = poll(Duration::from_secs(10), || {
            let screen = self.capture();
            screen.contains(&start) || screen.contains("[Pasted text")
        });
        assert!(shown, "the prompt did not show what was typed ({start:?}):\n{}", self.capture());
        self.tmux(&["send-keys", "-t", WINDOW, "Enter"]);
    }

    /// The pane's text: scrollback and screen, wrapped lines joined.
    pub(crate) fn capture(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", WINDOW])
    }

    /// Every live process this session started: the stand-in, the tmux
    /// server and all its descendants (Claude Code and its hooks, which run
    /// in sessions of their own, so a process group would miss them).
    pub(crate) fn processes(&self) -> Vec<u32> {
        assert_ne!(self.server_pid, 0);
        let mut all = descendants(self.server_pid);
        all.push(self.standin.child.id());
        all.retain(|&pid| alive(pid));
        all
    }
}

impl Drop for ClaudeSession {
    fn drop(&mut self) {
        kill_tmux_tree(&self.socket, &self.socket_path, self.server_pid);
        // The stand-in goes when the `standin` field drops, right after this.
    }
}

/// Kills a private tmux server (`tmux -L socket`, whose server process is
/// `server`) and every process it started. The tree is frozen first (a
/// stopped process cannot start another hook), until no new process
/// appears; then all of it is killed. Hooks would outlive a plain
/// kill-server: they are orphaned, not killed.
pub(crate) fn kill_tmux_tree(socket: &str, socket_path: &Path, server: u32) {
    use rustix::process::{Pid, Signal, kill_process};
    let signal = |pid: u32, sig| {
        let _ = kill_process(Pid::from_raw(pid as i32).unwrap(), sig);
    };
    let mut frozen: Vec<u32> = Vec::new();
    // No pid when start failed early: then never walk the tree, as the
    // "descendants" of 0 are every process on the machine.
    while server != 0 && frozen.len() < 1000 {
        let new: Vec<u32> = descendants(server).into_iter().filter(|p| *p != server && !frozen.contains(p)).collect();
        if new.is_empty() {
            break;
        }
        new.iter().for_each(|&p| signal(p, Signal::STOP));
        frozen.extend(new);
    }
    frozen.iter().for_each(|&p| signal(p, Signal::KILL));
    let stopped = Command::new("tmux").args(["-L", socket, "kill-server"]).output();
    if server != 0 {
        if !stopped.is_ok_and(|o| o.status.success()) {
            signal(server, Signal::KILL);
        }
        frozen.push(server);
    }
    poll(Duration::from_secs(5), || frozen.iter().all(|&p| !alive(p)));
    if !socket_path.as_os_str().is_empty() {
        let _ = std::fs::remove_file(socket_path);
    }
}

/// `pid` and all its descendants, from /proc.
pub(crate) fn descendants(pid: u32) -> Vec<u32> {
    assert_ne!(pid, 0, "every process descends from 0");
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) {
            parents.push((child, ppid));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(c, _)| *c));
        i += 1;
    }
    found
}

/// Whether `pid` runs. A zombie counts as gone: its parent may be an init
/// that never reaps (as in some containers).
pub(crate) fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s[s.rfind(')').map_or(0, |i| i + 1)..].split_whitespace().next() != Some("Z"))
}

/// The SessionStart hook's stdout reaches the first main-loop request; a
/// background Stop hook (`asyncRewake`) that exits 2 while the session is
/// idle starts a new turn carrying its stderr, with nothing typed.
#[test]
fn claude_code_hooks_reach_the_model_and_async_rewake_wakes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (project, home) = (tmp.path().join("project"), tmp.path().join("home"));
    std::fs::create_dir_all(project.join(".claude")).unwrap();
    let git = Command::new("git").args(["init", "-q"]).current_dir(&project).status().unwrap();
    assert!(git.success());

    // Each marker is printed from a format string, so the literal marker is
    // nowhere in the hook definitions: finding it in a request proves the
    // hook ran and its output was sent, not that a file was echoed.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let nonce = format!("{}-{nanos}", std::process::id());
    let start_marker = format!("session-start-marker-{nonce}");
    let wake_marker = format!("rewake-marker-{nonce}");
    // Runs in the background after every turn. Claude Code starts one per
    // turn and never deduplicates them, so the trigger is taken with mv:
    // exactly one waiting hook fires per trigger (else the woken turn's own
    // hook would fire again at once, and again...). Bounded, and gone with
    // the project, so it can never outlive the test.
    let stop_hook = format!(
        r#"d="$CLAUDE_PROJECT_DIR"
cat > "$d/.stop-stdin.$$" && mv "$d/.stop-stdin.$$" "$d/stop-armed.$$.json"
i=0
while ! mv "$d/trigger" "$d/trigger.taken" 2>/dev/null; do
  i=$((i + 1)); [ "$i" -ge 3000 ] && exit 0; [ -d "$d" ] || exit 0
  sleep 0.02
done
printf 'rewake-marker-%s\n' {nonce} >&2
exit 2
"#
    );
    std::fs::write(project.join(".claude/stop-hook.sh"), stop_hook).unwrap();
    let settings = json!({ "hooks": {
        "SessionStart": [{ "hooks": [{ "type": "command", "command": format!("printf 'session-start-marker-%s\\n' {nonce}") }] }],
        "Stop": [{ "hooks": [{ "type": "command", "command": "sh \"$CLAUDE_PROJECT_DIR/.claude/stop-hook.sh\"",
                               "asyncRewake": true, "timeout": 120 }] }],
    }});
    std::fs::write(project.join(".claude/settings.json"), serde_json::to_vec_pretty(&settings).unwrap()).unwrap();

    let session = ClaudeSession::start(&home, &project, None, &[]);
    let standin = session.standin();
    assert!(standin.main_requests().is_empty(), "a turn began before any prompt: {:?}", standin.requests());

    session.send_prompt("Say hello.");
    assert!(
        standin.wait_for_main_requests(1, Duration::from_secs(60)),
        "no main-loop request after the prompt; requests: {:?}\n{}",
        standin.requests().iter().map(|r| r["path"].clone()).collect::<Vec<_>>(),
        session.capture()
    );
    let first = request_text(&standin.main_requests()[0]);
    assert!(first.contains("Say hello."), "the prompt is not in the first request");
    assert!(first.contains(&start_marker), "the SessionStart output is not in the first request:\n{first}");
    assert!(!first.contains(&wake_marker));
    let line = first.lines().find(|l| l.contains(&start_marker)).unwrap();
    eprintln!("SessionStart output arrived as: {line:?}");

    // The turn ended, so its Stop hook runs and waits. Each Stop hook that
    // started, as (its shell's pid, the JSON it got on stdin):
    let armed = || -> Vec<(u32, Value)> {
        std::fs::read_dir(&project)
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let pid = name.strip_prefix("stop-armed.")?.strip_suffix(".json")?.parse().ok()?;
                Some((pid, read_json(&e.path())?))
            })
            .collect()
    };
    assert!(poll(Duration::from_secs(30), || !armed().is_empty()), "the Stop hook never ran:\n{}", session.capture());
    let (_, stdin) = &armed()[0];
    assert_eq!(stdin["hook_event_name"], "Stop", "{stdin}");
    assert_eq!(stdin["stop_hook_active"], false, "{stdin}");
    // Idle while the hook waits: a hook without asyncRewake would also
    // deliver its stderr, but by holding the turn open, not by waking.
    assert!(session.wait_idle(Duration::from_secs(10)), "not idle while the Stop hook waits:\n{}", session.capture());
    // Nothing wakes the session on its own: the next turn must be the trigger's doing.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(standin.main_requests().len(), 1, "a turn began before the trigger");
    assert!(session.is_idle());

    // The trigger's creation time, on the stand-in's clock (CLOCK_MONOTONIC).
    let trigger = project.join("trigger");
    let made = Command::new("python3")
        .args(["-c", "import sys, time; t = time.monotonic(); open(sys.argv[1], 'w').close(); print(t)"])
        .arg(&trigger)
        .output()
        .unwrap();
    assert!(made.status.success());
    let triggered: f64 = String::from_utf8_lossy(&made.stdout).trim().parse().unwrap();
    assert!(
        standin.wait_for_main_requests(2, Duration::from_secs(10)),
        "the idle session was not woken within 10 s of the trigger:\n{}",
        session.capture()
    );
    let woken = &standin.main_requests()[1];
    let latency = woken["t"].as_f64().unwrap() - triggered;
    assert!(latency > 0.0, "the second turn began before the trigger ({latency} s)");
    let text = request_text(woken);
    assert!(text.contains(&wake_marker), "the Stop hook's stderr is not in the woken turn's request:\n{text}");
    assert!(project.join("trigger.taken").exists(), "a hook woke the session, but not by taking the trigger");
    let blocks = woken["body"]["messages"].as_array().unwrap().iter().flat_map(|m| m["content"].as_array().cloned());
    let block =
        blocks.flatten().filter_map(|b| b["text"].as_str().map(str::to_owned)).find(|t| t.contains(&wake_marker));
    eprintln!("the Stop hook's stderr arrived in this block: {:?}", block.unwrap());
    eprintln!("latency, trigger file created -> woken turn's model request: {:.0} ms", latency * 1000.0);

    // Drop kills everything: Claude Code, the hook the woken turn left
    // waiting (an orphan would wait on), the tmux server and the stand-in.
    assert!(poll(Duration::from_secs(30), || armed().len() == 2), "the woken turn's Stop hook never ran");
    let waiting = armed().into_iter().map(|(pid, _)| pid).find(|&pid| alive(pid)).unwrap();
    let processes = session.processes();
    assert!(processes.contains(&waiting), "the waiting hook {waiting} is not among {processes:?}");
    drop(session);
    let left: Vec<u32> = processes.into_iter().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "processes left running after drop: {left:?}");
}
