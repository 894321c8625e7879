//! The user's commands around a backup: each plugin's command (run before
//! its files are collected) and `post_backup` (run after the archive is
//! written). Both run with `sh -c` in the repository root, with
//! `THRUM_BACKUP_DIR`, `THRUM_BACKUP_REPO` and `THRUM_BACKUP_CURRENT` set,
//! and are stopped after a minute. A failing command is reported with the
//! backup; it never fails it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use thrum_core::backup::Plugin;
use thrum_proto::methods::backup::CommandOutcome;

/// How long a command may run.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Most stderr kept in a failure's message.
const MAX_STDERR: usize = 2048;

/// Where the backup goes, as the commands see it.
pub struct HookEnv<'a> {
    pub repo_root: &'a Path,
    pub backup_dir: &'a Path,
    pub repo: &'a str,
    /// The archive (for `post_backup`; the folder for plugins, which run
    /// before it exists).
    pub current: &'a Path,
}

/// Runs `command` and reports how it went.
pub fn run(command: &str, env: &HookEnv<'_>) -> CommandOutcome {
    let mut outcome = CommandOutcome { command: command.to_string(), error: String::new() };
    let child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(env.repo_root)
        .env("THRUM_BACKUP_DIR", env.backup_dir)
        .env("THRUM_BACKUP_REPO", env.repo)
        .env("THRUM_BACKUP_CURRENT", env.current)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            outcome.error = format!("cannot start sh: {e}");
            return outcome;
        }
    };
    // Read stderr on the side, so a chatty command never blocks on a full pipe.
    let stderr = child.stderr.take().map(|mut s| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut s, &mut buf);
            buf
        })
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) | Err(_) => {
                // Its whole process group: `sh -c` may have children.
                if let Some(pg) = rustix::process::Pid::from_raw(child.id() as i32) {
                    let _ = rustix::process::kill_process_group(pg, rustix::process::Signal::KILL);
                }
                let _ = child.wait();
                break None;
            }
        }
    };
    let err_text = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    let err_text = String::from_utf8_lossy(&err_text);
    let tail = {
        let t = err_text.trim();
        let cut = t.len().saturating_sub(MAX_STDERR);
        let cut = (cut..=t.len()).find(|i| t.is_char_boundary(*i)).unwrap_or(t.len());
        t[cut..].to_string()
    };
    match status {
        None => outcome.error = format!("stopped after {}s", TIMEOUT.as_secs()),
        Some(s) if !s.success() => {
            outcome.error = match s.code() {
                Some(c) => format!("exit status {c}"),
                None => "killed by a signal".into(),
            };
            if !tail.is_empty() {
                outcome.error.push_str(": ");
                outcome.error.push_str(&tail);
            }
        }
        Some(_) => {}
    }
    outcome
}

/// Runs each plugin's command, then collects the files its globs match,
/// as (archive name `plugins/<name>/<path>`, file).
pub fn plugins(list: &[Plugin], env: &HookEnv<'_>) -> (Vec<CommandOutcome>, Vec<(String, PathBuf)>) {
    let mut outcomes = Vec::new();
    let mut files = Vec::new();
    for p in list {
        if !p.command.trim().is_empty() {
            outcomes.push(run(&p.command, env));
        }
        let mut seen = std::collections::BTreeSet::new();
        for g in &p.include {
            for rel in glob(env.repo_root, g) {
                if seen.insert(rel.clone()) {
                    files.push((format!("plugins/{}/{rel}", p.name), env.repo_root.join(&rel)));
                }
            }
        }
    }
    (outcomes, files)
}

/// The regular files under `root` matching `pattern`: components split on
/// `/`, each matched with `*` (any run of characters) and `?` (one);
/// never inside `.git`. Returned relative to `root`, sorted.
pub fn glob(root: &Path, pattern: &str) -> Vec<String> {
    let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let mut out = Vec::new();
    walk(root, "", &parts, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, rel: &str, parts: &[&str], out: &mut Vec<String>) {
    let Some((first, rest)) = parts.split_first() else { return };
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let Ok(name) = e.file_name().into_string() else { continue };
        if name == ".git" || name == ".." || !matches(first, &name) {
            continue;
        }
        let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        // Symbolic links are not followed: a plugin collects its own files.
        let Ok(t) = e.file_type() else { continue };
        if rest.is_empty() {
            if t.is_file() {
                out.push(path);
            }
        } else if t.is_dir() {
            walk(&e.path(), &path, rest, out);
        }
    }
}

/// Wildcard match of one path component.
fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // A leading dot is matched only by a pattern that starts with one.
    if n.first() == Some(&'.') && p.first() != Some(&'.') {
        return false;
    }
    let (mut i, mut j) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*", "a.jsonl"));
        assert!(matches("*.jsonl", "a.jsonl"));
        assert!(!matches("*.jsonl", "a.json"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("*", ".hidden"));
        assert!(matches(".beads", ".beads"));
    }

    #[test]
    fn globs_collect_files_under_root() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = t.path();
        std::fs::create_dir_all(root.join(".beads/backup/sub")).ok();
        std::fs::write(root.join(".beads/backup/a.jsonl"), "a").ok();
        std::fs::write(root.join(".beads/backup/b.json"), "b").ok();
        assert_eq!(glob(root, ".beads/backup/*"), vec![".beads/backup/a.jsonl", ".beads/backup/b.json"]);
        assert_eq!(glob(root, ".beads/backup/*.jsonl"), vec![".beads/backup/a.jsonl"]);
    }

    #[test]
    fn failing_and_hanging_commands_are_reported() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let env = HookEnv { repo_root: t.path(), backup_dir: t.path(), repo: "r", current: t.path() };
        assert!(run("true", &env).error.is_empty());
        let o = run("echo oops >&2; exit 3", &env);
        assert_eq!(o.error, "exit status 3: oops");
        let o = run("echo \"$THRUM_BACKUP_REPO\" > seen", &env);
        assert!(o.error.is_empty());
        assert_eq!(std::fs::read_to_string(t.path().join("seen")).unwrap_or_default(), "r\n");
    }
}
