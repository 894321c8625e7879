//! Spawning git with a clean, non-interactive environment and a timeout.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git is not installed or not on PATH: install git and retry")]
    NotInstalled,
    #[error("not a git repository: {0} (run inside a git repository, or `git init` first)")]
    NotARepo(PathBuf),
    #[error("git {args} failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("git {args} timed out after {secs}s")]
    Timeout { args: String, secs: u64 },
    #[error("git: {0}")]
    Io(#[from] std::io::Error),
}

/// A git invocation context rooted at a directory.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
    timeout: Duration,
}

impl Git {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Git { dir: dir.into(), timeout: Duration::from_secs(30) }
    }

    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs git and returns trimmed stdout, or the failure with stderr.
    pub fn run(&self, args: &[&str]) -> Result<String, GitError> {
        self.run_bytes(args, None).map(|b| String::from_utf8_lossy(&b).trim().to_string())
    }

    /// Runs git feeding `input` on stdin; returns raw stdout.
    pub fn run_bytes(&self, args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>, GitError> {
        let mut child =
            Command::new("git")
                .args(args)
                .current_dir(&self.dir)
                .env("GIT_TERMINAL_PROMPT", "0")
                .env("GIT_ASKPASS", "")
                .env("SSH_ASKPASS", "")
                .env("LC_ALL", "C")
                .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound { GitError::NotInstalled } else { GitError::Io(e) }
                })?;
        // Feed stdin and drain both pipes on threads so a chatty git cannot
        // fill a pipe buffer and deadlock against our wait.
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            let data = data.to_vec();
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = stdin.write_all(&data);
            });
        }
        let mut out = child.stdout.take();
        let mut err = child.stderr.take();
        let t_out = std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(o) = out.as_mut() {
                let _ = o.read_to_end(&mut s);
            }
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(e) = err.as_mut() {
                let _ = e.read_to_end(&mut s);
            }
            s
        });
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break s;
            }
            if start.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                return Err(GitError::Timeout { args: args.join(" "), secs: self.timeout.as_secs() });
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let stdout = t_out.join().unwrap_or_default();
        let stderr = t_err.join().unwrap_or_default();
        if !status.success() {
            return Err(GitError::Failed {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&stderr).trim().to_string(),
            });
        }
        Ok(stdout)
    }

    /// The top of the working tree containing `dir`.
    pub fn toplevel(&self) -> Result<PathBuf, GitError> {
        self.run(&["rev-parse", "--show-toplevel"]).map(PathBuf::from).map_err(|e| match e {
            GitError::Failed { .. } => GitError::NotARepo(self.dir.clone()),
            other => other,
        })
    }

    /// The common git directory (shared by all worktrees), absolute.
    pub fn common_dir(&self) -> Result<PathBuf, GitError> {
        let p = self.run(&["rev-parse", "--path-format=absolute", "--git-common-dir"]).map_err(|e| match e {
            GitError::Failed { .. } => GitError::NotARepo(self.dir.clone()),
            other => other,
        })?;
        Ok(PathBuf::from(p))
    }

    /// A config value, or None when unset.
    pub fn config_get(&self, key: &str) -> Option<String> {
        self.run(&["config", "--get", key]).ok().filter(|s| !s.is_empty())
    }

    /// Whether a ref resolves.
    pub fn ref_exists(&self, name: &str) -> bool {
        self.run(&["rev-parse", "--verify", "--quiet", name]).is_ok()
    }
}
