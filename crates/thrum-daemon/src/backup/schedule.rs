//! The daemon's backup timer: a backup every `backup.schedule`, counted
//! from the newest backup in the folder (so a daemon restarted more often
//! than the interval still backs up), else from the daemon's start.
//!
//! The backup runs off the writer (see `snapshot`): sends go on while it
//! runs. `thrum backup schedule` wakes the timer, so a new interval
//! applies at once; a hand edit of config.json is seen within a minute.
//! A bad `backup` block is reported in `backup status` and logged; the
//! timer waits for a fix and never stops the daemon.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::state::State;

/// How often the timer re-reads config.json at least.
const RECHECK: Duration = Duration::from_secs(60);

pub async fn run(state: State) {
    let mut shutdown = state.shutdown.clone();
    let started = Utc::now();
    let mut last_run: Option<DateTime<Utc>> = None;
    let mut reported = String::new();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = Utc::now();
        let (next, text, error) = match super::settings(&state) {
            Ok(s) => {
                let next = s.schedule.map(|every| {
                    let anchor = last_run.or_else(|| newest(&state, &s)).unwrap_or(started);
                    anchor + chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX)
                });
                (next, s.schedule_text, None)
            }
            Err(e) => (None, "off".to_string(), Some(e.0.message)),
        };
        {
            let mut st = state.backup.schedule.lock().unwrap_or_else(|p| p.into_inner());
            st.schedule = text;
            st.next_run = next.map(thrum_core::time::format_ts).unwrap_or_default();
            if let Some(e) = &error {
                st.last_error = e.clone();
            }
        }
        if let Some(e) = error.filter(|e| *e != reported) {
            tracing::warn!(error = %e, "scheduled backups are paused until the backup block is fixed");
            reported = e;
        }
        // Woken at least every RECHECK to see a hand edit of config.json.
        let wait = match next {
            Some(t) => (t - now).to_std().unwrap_or(Duration::ZERO).min(RECHECK),
            None => RECHECK,
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.backup.changed.notified() => continue,
            _ = shutdown.changed() => return,
        }
        if next.is_none_or(|t| Utc::now() < t) {
            continue;
        }
        let outcome = super::create(&state, "", false).await;
        last_run = Some(Utc::now());
        let mut st = state.backup.schedule.lock().unwrap_or_else(|p| p.into_inner());
        st.last_run = thrum_core::time::format_ts(Utc::now());
        match outcome {
            Ok(r) => {
                st.last_error.clear();
                tracing::info!(path = %r.path, "scheduled backup written");
            }
            Err(e) => {
                tracing::warn!(error = %e.0.message, "scheduled backup failed; retried at the next interval");
                st.last_error = e.0.message;
            }
        }
    }
}

/// When the newest (non-safety) backup in the configured folder was taken.
fn newest(state: &State, s: &thrum_core::backup::BackupSettings) -> Option<DateTime<Utc>> {
    let dir = super::backup_dir(state, "", s).join(super::repo_name(state));
    super::retention::list(&dir).iter().rev().find(|a| !a.safety).and_then(|a| thrum_core::time::parse_ts(&a.timestamp))
}
