//! The daemon log rotates as the original's does (lumberjack): past 10 MB
//! into a timestamped backup that is gzipped; four backups kept, none
//! older than 28 days.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use thrum_testkit::{TestEnv, wait_until};

use crate::BIN;

/// lumberjack's backup name for `daemon.log`, `days` ago.
fn backup(var: &Path, days: i64) -> PathBuf {
    let at = chrono::Utc::now() - chrono::Duration::days(days);
    var.join(format!("daemon-{}.log", at.format("%Y-%m-%dT%H-%M-%S%.3f")))
}

fn gz(p: &Path) -> PathBuf {
    PathBuf::from(format!("{}.gz", p.display()))
}

fn gunzip(env: &TestEnv, p: &Path) -> String {
    let out = env.hermetic(Command::new("gzip")).arg("-dc").arg(p).output().unwrap();
    assert!(out.status.success(), "gzip -dc {}: {}", p.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn backups(var: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(var)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("daemon-"))
        .collect();
    v.sort();
    v
}

#[test]
fn the_daemon_log_rotates_past_10_mb_gzips_and_keeps_four_recent_backups() {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init"]);
    let var = env.thrum_dir().join("var");
    // A log just past 10 MB, as a busy daemon leaves it.
    let line = "2026-01-01T00:00:00.000000Z  INFO thrum_daemon: an old line\n";
    std::fs::write(var.join("daemon.log"), line.repeat(10 * 1024 * 1024 / line.len() + 1)).unwrap();
    // Backups from earlier runs: one past 28 days, four recent, one of
    // them left uncompressed (a daemon killed while compressing).
    let expired = gz(&backup(&var, 40));
    std::fs::write(&expired, b"not even gzip").unwrap();
    for days in [1, 2, 3] {
        std::fs::write(gz(&backup(&var, days)), b"placeholder").unwrap();
    }
    let raw = backup(&var, 4);
    std::fs::write(&raw, "left uncompressed\n").unwrap();
    let oldest_recent = gz(&backup(&var, 5));
    std::fs::write(&oldest_recent, b"placeholder").unwrap();

    env.ok(None, &["daemon", "start"]);
    let live = var.join("daemon.log");
    // The start's first line rotated the full log; the mill compresses the
    // new backup and the one left raw, then keeps the four newest.
    let done = wait_until(Duration::from_secs(20), || {
        let b = backups(&var);
        b.len() == 4 && b.iter().all(|n| n.ends_with(".log.gz"))
    });
    assert!(done, "backups: {:?}", backups(&var));
    let b = backups(&var);
    assert!(!expired.exists() && !oldest_recent.exists(), "{b:?}");
    assert!(
        !b.contains(&gz(&raw).file_name().unwrap().to_string_lossy().into_owned()),
        "the 4-day one is fifth: {b:?}"
    );
    // The newest backup is the old log, whole.
    let newest = var.join(b.last().unwrap());
    let text = gunzip(&env, &newest);
    assert!(text.len() > 10 * 1024 * 1024 && text.lines().all(|l| l.ends_with("an old line")), "{}", text.len());
    let now = std::fs::read_to_string(&live).unwrap();
    assert!(now.len() < 1024 * 1024 && now.contains("daemon starting"), "{now}");
    assert!(!now.contains("an old line"));
    // `thrum daemon logs` reads the live file.
    let logs = env.ok(None, &["daemon", "logs", "-n", "0"]);
    assert!(logs.contains("daemon starting") && !logs.contains("an old line"), "{logs}");
}
