//! Test fixtures: throw-away git repositories with a real bare remote, a
//! hermetic environment, and helpers to run the real `thrum` binary.
//!
//! Nothing here mocks thrum: tests drive the binary, which starts a real
//! daemon on a real Unix socket, which runs real git.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A temporary home with a git repository (`repo/`, one commit on
/// `main`) and a bare remote (`remote.git`) set as its origin.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
    /// Other clones made with [`TestEnv::clone_repo`] (their daemons are
    /// stopped on drop too).
    clones: std::cell::RefCell<Vec<PathBuf>>,
}

/// Runs git in `dir` with the hermetic environment, panicking on failure.
pub fn git(env: &TestEnv, dir: &Path, args: &[&str]) -> String {
    let out = env.hermetic(Command::new("git")).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl TestEnv {
    /// A fresh environment for the binary at `bin` (pass
    /// `env!("CARGO_BIN_EXE_thrum")`).
    pub fn new(bin: &str) -> TestEnv {
        let dir = tempfile::Builder::new().prefix("thrum-test-").tempdir().unwrap();
        let env = TestEnv { dir, bin: PathBuf::from(bin), clones: Default::default() };
        std::fs::create_dir_all(env.home()).unwrap();
        std::fs::write(
            env.home().join(".gitconfig"),
            "[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n",
        )
        .unwrap();
        let repo = env.repo();
        std::fs::create_dir_all(&repo).unwrap();
        git(&env, &repo, &["init", "-q"]);
        std::fs::write(repo.join("README.md"), "test repo\n").unwrap();
        git(&env, &repo, &["add", "README.md"]);
        git(&env, &repo, &["commit", "-q", "-m", "initial"]);
        let remote = env.dir.path().join("remote.git");
        git(&env, env.dir.path(), &["init", "-q", "--bare", remote.to_str().unwrap()]);
        git(&env, &repo, &["remote", "add", "origin", remote.to_str().unwrap()]);
        env
    }

    /// Pushes `main` to the bare remote (once) and clones it as `name`.
    pub fn clone_repo(&self, name: &str) -> PathBuf {
        let remote = self.dir.path().join("remote.git");
        git(self, &self.repo(), &["push", "-q", "origin", "main"]);
        let dest = self.dir.path().join(name);
        // --no-local: a daemon of this test may be pushing to the remote
        // meanwhile, and a local clone's hardlinking of object files races
        // it ("hardlink different from source"); the pack protocol does not.
        git(self, self.dir.path(), &["clone", "-q", "--no-local", remote.to_str().unwrap(), dest.to_str().unwrap()]);
        self.clones.borrow_mut().push(dest.clone());
        dest
    }

    /// Runs thrum in `dir` as `agent`, asserting success; returns stdout.
    pub fn ok_in(&self, dir: &Path, agent: Option<&str>, args: &[&str]) -> String {
        let mut c = self.thrum_in(dir, args);
        if let Some(a) = agent {
            c.env("THRUM_NAME", a);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "thrum {args:?} in {} failed ({}):\nstdout: {}\nstderr: {}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Like [`TestEnv::ok_in`] with `--json`, parsed.
    pub fn json_in(&self, dir: &Path, agent: Option<&str>, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let s = self.ok_in(dir, agent, &a);
        serde_json::from_str(&s).unwrap_or_else(|e| panic!("thrum {args:?} printed invalid JSON ({e}): {s}"))
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Applies the hermetic environment: a private HOME and git config,
    /// no inherited THRUM_* variables.
    pub fn hermetic(&self, mut cmd: Command) -> Command {
        for (k, _) in std::env::vars() {
            if k.starts_with("THRUM_") || k.starts_with("GIT_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("HOME", self.home())
            .env("THRUM_TMUX_SOCKET", self.tmux_socket())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.home().join(".gitconfig"))
            .env("THRUM_NO_HINTS", "1")
            .env("COLUMNS", "80");
        cmd
    }

    /// The private tmux server (`tmux -L NAME`) of this environment's
    /// managed sessions, so tests never touch the developer's own tmux
    /// and never see each other's sessions; killed on drop.
    pub fn tmux_socket(&self) -> String {
        let base = self.dir.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        format!("thrum-{base}")
    }

    /// `tmux -L` on this environment's private server.
    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux").args(["-L", &self.tmux_socket()]).args(args).env_remove("TMUX").output().unwrap()
    }

    /// A `thrum` command run in the repository.
    pub fn thrum(&self, args: &[&str]) -> Command {
        self.thrum_in(&self.repo(), args)
    }

    pub fn thrum_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = self.hermetic(Command::new(&self.bin));
        c.args(args).current_dir(dir).stdin(Stdio::null());
        c
    }

    /// Runs thrum as `agent` (THRUM_NAME) and returns the output.
    pub fn run_as(&self, agent: Option<&str>, args: &[&str]) -> Output {
        let mut c = self.thrum(args);
        if let Some(a) = agent {
            c.env("THRUM_NAME", a);
        }
        c.output().unwrap()
    }

    /// Runs thrum and asserts success, returning stdout.
    pub fn ok(&self, agent: Option<&str>, args: &[&str]) -> String {
        let out = self.run_as(agent, args);
        assert!(
            out.status.success(),
            "thrum {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs thrum with `--json`, asserting success, and parses stdout.
    pub fn json(&self, agent: Option<&str>, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let s = self.ok(agent, &a);
        serde_json::from_str(&s).unwrap_or_else(|e| panic!("thrum {args:?} printed invalid JSON ({e}): {s}"))
    }

    /// Runs thrum expecting failure; returns (exit code, stderr).
    pub fn fail(&self, agent: Option<&str>, args: &[&str]) -> (i32, String) {
        let out = self.run_as(agent, args);
        assert!(
            !out.status.success(),
            "thrum {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// `thrum init` plus one registered agent per (name, role, module).
    pub fn with_agents(bin: &str, agents: &[(&str, &str, &str)]) -> TestEnv {
        let env = TestEnv::new(bin);
        env.ok(None, &["init"]);
        for (name, role, module) in agents {
            env.ok(None, &["quickstart", "--name", name, "--role", role, "--module", module, "--no-agent-pid"]);
        }
        env
    }

    pub fn thrum_dir(&self) -> PathBuf {
        self.repo().join(".thrum")
    }

    pub fn socket(&self) -> PathBuf {
        self.thrum_dir().join("var/thrum.sock")
    }

    pub fn sync_dir(&self) -> PathBuf {
        self.repo().join(".git/thrum-sync/a-sync")
    }

    /// The running daemon's PID, from its PID file — only if that process
    /// really is this repository's daemon (PIDs get recycled).
    pub fn daemon_pid(&self) -> Option<i32> {
        daemon_pid_in(&self.repo())
    }

    /// Kills the daemon with SIGKILL and waits until it is gone, every
    /// thread of it: the main thread turns zombie first, and until the last
    /// one exits the daemon's files stay open (its socket still takes
    /// connections, which are then reset).
    pub fn kill_daemon(&self) {
        if let Some(pid) = self.daemon_pid()
            && let Some(p) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            wait_until(Duration::from_secs(10), || !alive(pid) && !any_thread_alive(pid));
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // The sessions a test created (nothing happens when it made none).
        let _ = Command::new("tmux").args(["-L", &self.tmux_socket(), "kill-server"]).stderr(Stdio::null()).output();
        for root in self.clones.borrow().iter() {
            if let Some(pid) = daemon_pid_in(root)
                && let Some(p) = rustix::process::Pid::from_raw(pid)
            {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
                wait_until(Duration::from_secs(5), || !alive(pid));
            }
        }
        // A failing test shows the daemon's side of the story.
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.thrum_dir().join("var/daemon.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("---- daemon.log (last {} lines) ----", tail.len());
            for l in tail.into_iter().rev() {
                eprintln!("{l}");
            }
        }
        if let Some(pid) = self.daemon_pid()
            && let Some(p) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
            if !wait_until(Duration::from_secs(5), || !alive(pid)) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
    }
}

/// The daemon serving the repository at `root`, if one runs.
pub fn daemon_pid_in(root: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(root.join(".thrum/var/thrum.pid")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let pid = v.get("pid")?.as_i64()? as i32;
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
    (cmd.contains("daemon run") && cwd == root && alive(pid)).then_some(pid)
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s.rsplit(')').next().and_then(|r| r.split_whitespace().next()).unwrap_or("");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

/// Whether any thread of a process has not exited yet.
pub fn any_thread_alive(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    tasks.flatten().any(|t| {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let state = stat.rsplit(')').next().and_then(|r| r.split_whitespace().next()).unwrap_or("");
        !matches!(state, "" | "Z" | "X")
    })
}

/// Polls `cond` until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A raw JSON-RPC connection to the daemon socket, for protocol tests.
pub struct RawConn {
    pub stream: std::os::unix::net::UnixStream,
    reader: std::io::BufReader<std::os::unix::net::UnixStream>,
}

impl RawConn {
    pub fn connect(socket: &Path) -> RawConn {
        let stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let reader = std::io::BufReader::new(stream.try_clone().unwrap());
        RawConn { stream, reader }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.stream.write_all(bytes).unwrap();
    }

    pub fn read_line(&mut self) -> Value {
        use std::io::BufRead;
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad response {line:?}: {e}"))
    }

    pub fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        let req = serde_json::json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        self.send_raw(format!("{req}\n").as_bytes());
        self.read_line()
    }
}
