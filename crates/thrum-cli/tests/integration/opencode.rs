//! The real OpenCode TUI with thrum's plugin, installed by `thrum setup
//! hooks --runtime opencode`, against a scripted model.
//!
//! OpenCode (`opencode-ai`, pinned in `tests/runtimes/opencode`) runs
//! interactively in a tmux pane, as a person would use it, with its model
//! provider an OpenAI-compatible stand-in on loopback
//! (`tests/runtimes/model_standin.py`, chat-completions mode). The TUI also
//! listens on a loopback port (`--port`): the test reads from its HTTP API
//! whether a session is busy, which the screen would only hint at.
//!
//! Proved here: the plugin loads and mail waiting at the first prompt goes
//! with it; an idle session is woken by `thrum send` with the notice as the
//! next request's prompt; the agent's own message and mail already read
//! never wake it; a daemon restart loses no wake; mail that arrives while a
//! tool runs, or while a permission prompt is open (nothing is prompted
//! then), reaches the model in the tool's output; and a message is
//! announced once.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::claude::{Standin, kill_tmux_tree, poll, request_text, require};
use crate::wire::JsonAs;
use crate::{BIN, env_with};

/// The pinned OpenCode's native binary, running `npm ci` in
/// `tests/runtimes/opencode` first when it is missing or another version
/// (once per test process). As for Claude Code, the platform package's
/// binary is run directly; npm's `.package-lock.json` marks a finished
/// install.
fn opencode_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // The platform package is pinned itself (see its package.json):
        // this registry serves only the linux-x64 build.
        assert!(
            std::env::consts::OS == "linux" && std::env::consts::ARCH == "x86_64",
            "the OpenCode test pins opencode-linux-x64; this is {}/{}",
            std::env::consts::OS,
            std::env::consts::ARCH
        );
        crate::claude::npm_pinned(
            "opencode",
            "opencode-linux-x64",
            "opencode-linux-x64",
            "opencode-linux-x64/bin/opencode",
        )
    })
    .clone()
}

/// A loopback port nobody listens on (bound, then let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A GET on loopback; the body, or `None` when nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    if !head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return Some(body.to_string());
    }
    // Chunked: size line, data, CRLF, until a zero size.
    let (mut out, mut rest) = (String::new(), body);
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).ok()?;
        if n == 0 {
            break;
        }
        out.push_str(after.get(..n)?);
        rest = after.get(n + 2..)?;
    }
    Some(out)
}

/// OpenCode's TUI in a pane of a private tmux server, with its own model
/// stand-in and config. Killed with everything it started on drop.
struct OpenCodeSession {
    socket: String,
    socket_path: PathBuf,
    server_pid: u32,
    port: u16,
    project: PathBuf,
    standin: Standin,
    _config: tempfile::TempDir,
}

const WINDOW: &str = "opencode";

impl OpenCodeSession {
    /// Starts OpenCode in `project` with `home` as HOME, `path_prefix`
    /// before the test's PATH, plus `env`; the environment is otherwise
    /// empty. Its config (a file named by OPENCODE_CONFIG, so the project
    /// holds only what the test puts there) names the stand-in as the only
    /// model and turns auto-update, sharing and model-list fetching off.
    /// Returns once the prompt is drawn and its server answers.
    fn start(home: &Path, project: &Path, path_prefix: &Path, env: &[(&str, &str)]) -> OpenCodeSession {
        require("tmux", "apt-get install -y tmux");
        let bin = opencode_bin();
        let standin = Standin::start();
        let config_dir = tempfile::tempdir().unwrap();
        let config = config_dir.path().join("opencode.json");
        let model =
            json!({ "name": "Stand-in model", "tool_call": true, "limit": { "context": 200000, "output": 8192 } });
        let settings = json!({
            "$schema": "https://opencode.ai/config.json",
            "autoupdate": false,
            "share": "disabled",
            "model": "standin/standin-model",
            "small_model": "standin/standin-model",
            "provider": { "standin": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Stand-in",
                "options": { "baseURL": format!("{}/v1", standin.base_url()), "apiKey": "standin" },
                "models": { "standin-model": model },
            }},
            // One command asks first, so a test can hold a permission prompt open.
            "permission": { "bash": { "*": "allow", "echo ask-first*": "ask" }, "edit": "allow" },
        });
        std::fs::write(&config, serde_json::to_vec_pretty(&settings).unwrap()).unwrap();
        let project = project.canonicalize().unwrap();
        std::fs::create_dir_all(home).unwrap();
        let path = std::env::join_paths(
            std::iter::once(path_prefix.to_path_buf())
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )
        .unwrap();
        let vars: Vec<(String, String)> = [
            ("HOME", home.to_str().unwrap()),
            ("PATH", path.to_str().unwrap()),
            ("TERM", "screen-256color"),
            ("LANG", "C.UTF-8"),
            ("OPENCODE_CONFIG", config.to_str().unwrap()),
            // No self-update, no models.dev fetch, no language servers downloaded.
            ("OPENCODE_DISABLE_AUTOUPDATE", "1"),
            ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
            ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1"),
        ]
        .into_iter()
        .chain(env.iter().copied())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let port = free_port();

        static SESSIONS: AtomicUsize = AtomicUsize::new(0);
        let socket = format!("thrum-opencode-{}-{}", std::process::id(), SESSIONS.fetch_add(1, Ordering::Relaxed));
        let mut tmux = Command::new("tmux");
        tmux.args(["-L", &socket, "-f", "/dev/null", "new-session", "-d", "-s", WINDOW, "-x", "200", "-y", "50"])
            .arg("-c")
            .arg(&project)
            .args(["env", "-i"])
            .args(vars.iter().map(|(k, v)| format!("{k}={v}")))
            .arg(&bin)
            .args(["--port", &port.to_string()])
            .args([";", "set-option", "-g", "remain-on-exit", "on"])
            .env_remove("TMUX");
        let out = tmux.output().unwrap();
        assert!(out.status.success(), "tmux new-session failed: {}", String::from_utf8_lossy(&out.stderr));
        let mut session = OpenCodeSession {
            socket,
            socket_path: PathBuf::new(),
            server_pid: 0,
            port,
            project,
            standin,
            _config: config_dir,
        };
        let server = session.tmux(&["display-message", "-p", "#{pid} #{socket_path}"]);
        let (pid, socket_path) = server.trim().split_once(' ').unwrap();
        (session.server_pid, session.socket_path) = (pid.parse().unwrap(), socket_path.into());
        let ready = poll(Duration::from_secs(90), || session.capture().contains("Ask anything") && session.is_idle());
        assert!(ready, "OpenCode did not show its prompt within 90 s:\n{}", session.capture());
        session
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-L", &self.socket]).args(args).output().unwrap();
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn capture(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", WINDOW])
    }

    /// Whether no session runs a turn, from OpenCode's own API
    /// (`/session/status` lists the sessions that are not idle).
    fn is_idle(&self) -> bool {
        let dir = self.project.to_str().unwrap().replace('/', "%2F");
        let Some(body) = http_get(self.port, &format!("/session/status?directory={dir}")) else { return false };
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.as_object().map(|m| m.values().all(|s| s["type"] == "idle")))
            .unwrap_or(false)
    }

    fn wait_idle(&self, timeout: Duration) -> bool {
        poll(timeout, || self.is_idle())
    }

    /// Types `text` into the prompt and presses Enter once it shows.
    fn send_prompt(&self, text: &str) {
        self.tmux(&["send-keys", "-t", WINDOW, "-l", text]);
        let start: String = text.chars().take(30).collect();
        let shown = poll(Duration::from_secs(10), || self.capture().contains(&start));
        assert!(shown, "the prompt did not show what was typed ({start:?}):\n{}", self.capture());
        self.tmux(&["send-keys", "-t", WINDOW, "Enter"]);
    }

    fn standin(&self) -> &Standin {
        &self.standin
    }
}

impl Drop for OpenCodeSession {
    fn drop(&mut self) {
        kill_tmux_tree(&self.socket, &self.socket_path, self.server_pid);
    }
}

#[derive(Debug, Deserialize)]
struct Sent {
    message_id: String,
}

fn send(env: &thrum_testkit::TestEnv, from: &str, text: &str, to: &str) -> String {
    env.json_as::<Sent>(Some(from), &["send", text, "--to", to]).message_id
}

/// The number of main-loop requests once it has stayed the same for `quiet`.
fn settled(session: &OpenCodeSession, quiet: Duration) -> usize {
    let mut n = session.standin().main_requests().len();
    let mut since = Instant::now();
    while since.elapsed() < quiet {
        std::thread::sleep(Duration::from_millis(50));
        let now = session.standin().main_requests().len();
        if now != n {
            (n, since) = (now, Instant::now());
        }
    }
    n
}

/// Waits until the session is idle with the plugin's idle waker armed
/// (a `thrum hook opencode wait` started after `after`).
fn idle_and_armed(session: &OpenCodeSession, repo: &Path, after: SystemTime) {
    let marker = repo.join(".thrum/var/hook-runs/opencode.wait");
    let armed = poll(Duration::from_secs(30), || {
        std::fs::metadata(&marker).and_then(|m| m.modified()).is_ok_and(|t| t >= after) && session.is_idle()
    });
    assert!(armed, "the idle waker did not start after the turn:\n{}", session.capture());
}

/// The last message of a logged chat-completions request, and its text.
fn last_message(request: &Value) -> (String, String) {
    let last = request["body"]["messages"].as_array().and_then(|m| m.last()).cloned().unwrap_or_default();
    let text = request_text(&json!({ "body": { "messages": [last.clone()] } }));
    (last["role"].as_str().unwrap_or_default().to_owned(), text)
}

#[test]
fn the_opencode_plugin_announces_mail_at_turn_boundaries_and_wakes_an_idle_session() {
    let started = Instant::now();
    let env = env_with(&[("alice", "implementer", "auth"), ("bob", "reviewer", "auth")]);
    let repo = env.repo();
    env.ok(None, &["setup", "hooks", "--runtime", "opencode"]);
    assert!(repo.join(".opencode/plugins/thrum.ts").is_file());
    // Mail alice has already read: it must never be announced.
    let old = send(&env, "bob", "an old note alice has read", "@alice");
    env.ok(Some("alice"), &["inbox"]);
    // Mail waiting for her when she first prompts: it goes with the prompt.
    let waiting = send(&env, "bob", "waiting since before the session", "@alice");

    let bin_dir = Path::new(BIN).parent().unwrap();
    let gitconfig = env.home().join(".gitconfig");
    let session = OpenCodeSession::start(
        &env.home(),
        &repo,
        bin_dir,
        &[
            ("THRUM_NAME", "alice"),
            ("THRUM_NO_HINTS", "1"),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_CONFIG_GLOBAL", gitconfig.to_str().unwrap()),
        ],
    );
    eprintln!("OpenCode ready after {} ms", started.elapsed().as_millis());
    let standin = session.standin();

    // 1. The plugin loaded: the first prompt carries the waiting mail's notice.
    let turn_started = SystemTime::now();
    session.send_prompt("Say hello.");
    assert!(standin.wait_for_main_requests(1, Duration::from_secs(60)), "no first request:\n{}", session.capture());
    let first = request_text(&standin.main_requests()[0]);
    assert!(first.contains("Say hello."), "{first}");
    assert!(first.contains(&waiting), "the waiting message is not announced with the prompt:\n{first}");
    assert!(first.contains("not from your user"), "{first}");
    assert!(!first.contains(&old), "mail already read was announced:\n{first}");
    assert!(repo.join(".thrum/var/hook-runs/opencode.chat-message").exists());

    // 2. Idle, mail arrives: one wake, the notice as the next request's prompt.
    idle_and_armed(&session, &repo, turn_started);
    assert_eq!(settled(&session, Duration::from_millis(500)), 1, "a turn began on its own");
    let sent_at = Instant::now();
    let turn_started = SystemTime::now();
    let id = send(&env, "bob", "schema is ready for review", "@alice");
    assert!(standin.wait_for_main_requests(2, Duration::from_secs(10)), "not woken:\n{}", session.capture());
    eprintln!("send → woken request: {} ms", sent_at.elapsed().as_millis());
    let (role, woken) = last_message(&standin.main_requests()[1]);
    assert_eq!(role, "user", "the wake is not a new prompt");
    assert!(woken.contains(&id) && woken.contains("schema is ready"), "the notice is not the prompt:\n{woken}");
    assert!(woken.starts_with("[thrum] 1 new message for @alice"), "{woken}");
    let sent: Value = env.json(Some("bob"), &["message", "get", &id]);
    let me = &sent["message"]["recipients"][0];
    assert_eq!((me["state"].as_str(), me["announced_via"].as_str()), (Some("announced"), Some("waiter")), "{sent}");
    assert!(session.capture().contains("[thrum] 1 new message"), "the wake is not shown in the TUI");

    // 3. Her own message: no wake.
    idle_and_armed(&session, &repo, turn_started);
    send(&env, "alice", "a note from alice to everyone", "@everyone");
    assert_eq!(settled(&session, Duration::from_millis(1500)), 2, "the agent's own message woke it");

    // 4. The daemon restarts while the waker waits: the next message still wakes it.
    env.ok(None, &["daemon", "stop"]);
    let after_restart = send(&env, "bob", "sent after a daemon restart", "@alice");
    assert!(standin.wait_for_main_requests(3, Duration::from_secs(15)), "the restart lost the wake");
    let (_, woken) = last_message(&standin.main_requests()[2]);
    assert!(woken.contains(&after_restart), "{woken}");
    assert!(session.wait_idle(Duration::from_secs(30)), "the woken turn did not end");

    // 5. Mail that arrives while a tool runs reaches the model in the tool's
    // output (the scripted model runs the command; bob sends from it). No
    // `@` is typed: in the TUI it opens a menu of agents.
    session
        .send_prompt("standin-run: THRUM_NAME=bob thrum send 'sent while a tool ran' --to \"$(printf '\\100')alice\"");
    assert!(standin.wait_for_main_requests(5, Duration::from_secs(30)), "no tool turn:\n{}", session.capture());
    let (role, result) = last_message(&standin.main_requests()[4]);
    assert_eq!(role, "tool", "{result}");
    assert!(result.contains("sent while a tool ran") && result.contains("[thrum] 1 new message"), "{result}");
    assert!(session.wait_idle(Duration::from_secs(30)), "the tool turn did not end");
    assert_eq!(settled(&session, Duration::from_millis(1500)), 5, "mail announced in a tool's output woke it again");

    // 6. While a permission prompt is open nothing is prompted; once it is
    // answered, the mail that came meanwhile reaches the model with the tool.
    session.send_prompt("standin-run: echo ask-first");
    let asked = poll(Duration::from_secs(30), || {
        http_get(session.port, "/permission").is_some_and(|b| b.contains("ask-first"))
    });
    assert!(asked, "no permission prompt:\n{}", session.capture());
    let during = send(&env, "bob", "sent while a permission prompt was open", "@alice");
    assert_eq!(settled(&session, Duration::from_millis(1500)), 6, "something was prompted over the permission prompt");
    session.tmux(&["send-keys", "-t", WINDOW, "Enter"]); // "Allow once", the default
    assert!(standin.wait_for_main_requests(7, Duration::from_secs(30)), "the tool did not run:\n{}", session.capture());
    let (role, result) = last_message(&standin.main_requests()[6]);
    assert_eq!(role, "tool", "{result}");
    assert!(result.contains("ask-first") && result.contains(&during), "{result}");
    assert!(session.wait_idle(Duration::from_secs(30)), "the permission turn did not end");
    assert_eq!(settled(&session, Duration::from_millis(1500)), 7, "the mail was announced twice");

    // Every announcement once: each message id first appears in one request.
    let requests = standin.main_requests();
    for (i, id) in [(1, &id), (2, &after_restart), (6, &during)] {
        let before = request_text(&requests[i - 1]);
        assert!(!before.contains(id.as_str()), "{id} was announced before request {i}");
    }
    let all: String = requests.iter().map(request_text).collect();
    assert!(!all.contains(&old), "mail already read was announced");
    assert!(!all.contains("a note from alice to everyone"), "her own message was announced");
    eprintln!("whole test: {} ms", started.elapsed().as_millis());
}
