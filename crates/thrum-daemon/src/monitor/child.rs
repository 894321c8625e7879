//! The child process: spawned without a shell in a process group of its
//! own, with a minimal environment, and ended group and all (its
//! grandchildren too): SIGTERM, a grace period, then SIGKILL.

use std::process::Stdio;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
use tokio::process::{Child, Command};

use super::spec::Spec;

/// Variables of the daemon's environment the child gets, besides its
/// `--env` ones. `PATH` is ours (the original passes only the first
/// four): without it the child could not find `sh`, `node` or `make`.
const PASSED: &[&str] = &["HOME", "USER", "LANG", "TZ", "PATH"];

/// Spawns the spec's command in `spec.cwd`, stdout and stderr piped,
/// stdin closed, leading a new process group.
pub fn spawn(spec: &Spec) -> Result<Child, String> {
    let Some((program, args)) = spec.argv.split_first() else {
        return Err("argv is required and must not be empty: put the command after `--`".into());
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(&spec.cwd)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    for k in PASSED {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd.envs(&spec.env);
    cmd.spawn().map_err(|e| {
        format!(
            "cannot start {program:?} in {}: {e}; check the command after `--` (it runs without a shell: use `-- sh -c '…'` for pipes or globs)",
            spec.cwd
        )
    })
}

/// Whether any process of the group is left.
fn group_alive(pgid: Pid) -> bool {
    test_kill_process_group(pgid).is_ok()
}

/// Ends the process group `pgid`: SIGTERM, up to `grace` for it to go,
/// then SIGKILL. `reap` is polled meanwhile, so the leader (our child)
/// does not linger as a zombie that keeps the group alive.
pub async fn end_group(pgid: i64, child: &mut Child, grace: Duration) {
    let Some(pgid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
        return;
    };
    let _ = kill_process_group(pgid, Signal::TERM);
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        let _ = child.try_wait();
        if !group_alive(pgid) {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = kill_process_group(pgid, Signal::KILL);
    let _ = child.wait().await;
}

/// How a child ended, in words, and its exit code if it exited.
pub fn describe(status: std::process::ExitStatus) -> (String, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => (format!("exit status {c}"), Some(c)),
        (None, Some(s)) => (format!("killed by signal {s}"), None),
        _ => ("exited".into(), None),
    }
}
