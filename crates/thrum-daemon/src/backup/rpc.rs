//! The `backup.*` handlers.

use serde_json::Value;
use thrum_proto::methods::backup::{
    CreateParams, CreateResult, ScheduleParams, ScheduleResult, StatusParams, StatusResult,
};

use crate::caller::Caller;
use crate::error::{HResult, bad_params, server};
use crate::state::State;

use super::LAST;

pub async fn create(state: &State, _: &Caller, p: CreateParams) -> HResult<CreateResult> {
    super::create(state, &p.dir, p.safety).await
}

pub async fn status(state: &State, _: &Caller, p: StatusParams) -> HResult<StatusResult> {
    let s = super::settings(state)?;
    let dir = super::backup_dir(state, &p.dir, &s);
    let repo_dir = dir.join(super::repo_name(state));
    let archives = super::retention::list(&repo_dir);
    let last = archives.iter().rev().find(|a| !a.safety).cloned();
    let counts = last.as_ref().and_then(|l| {
        let text = std::fs::read(repo_dir.join(LAST)).ok()?;
        let r: CreateResult = serde_json::from_slice(&text).ok()?;
        (r.path == l.path).then_some(r.counts)
    });
    let mut schedule = state.backup.schedule.lock().unwrap_or_else(|p| p.into_inner()).clone();
    schedule.schedule = s.schedule_text.clone();
    Ok(StatusResult {
        dir: dir.display().to_string(),
        repo_dir: repo_dir.display().to_string(),
        total_bytes: archives.iter().map(|a| a.bytes).sum(),
        last,
        counts,
        archives,
        schedule,
    })
}

pub async fn schedule(state: &State, _: &Caller, p: ScheduleParams) -> HResult<ScheduleResult> {
    let interval = p.interval.trim();
    let dir = p.dir.trim();
    let mut changed = false;
    if !interval.is_empty() || !dir.is_empty() {
        if !interval.is_empty() {
            thrum_core::backup::parse_schedule(interval).map_err(|e| bad_params(format!("backup schedule {e}")))?;
        }
        let mut cfg = crate::load_config(&state.layout).map_err(|e| server(e.to_string()))?;
        let block = cfg.other.entry("backup").or_insert_with(|| Value::Object(Default::default()));
        if !block.is_object() {
            *block = Value::Object(Default::default());
        }
        if let Some(b) = block.as_object_mut() {
            if !interval.is_empty() {
                let v = if thrum_core::backup::parse_schedule(interval).ok().flatten().is_none() {
                    "off"
                } else {
                    interval
                };
                changed |= b.get("schedule").and_then(Value::as_str) != Some(v);
                b.insert("schedule".into(), Value::from(v));
            }
            if !dir.is_empty() {
                changed |= b.get("dir").and_then(Value::as_str) != Some(dir);
                b.insert("dir".into(), Value::from(dir));
            }
        }
        if changed {
            thrum_core::fs::write_private(&state.layout.config_file(), cfg.to_pretty().as_bytes())
                .map_err(|e| server(format!("cannot save config.json: {e}")))?;
            // The timer picks the new interval up at once.
            state.backup.changed.notify_one();
        }
    }
    let s = super::settings(state)?;
    // Give the timer a moment to compute the next run for the answer.
    if changed {
        for _ in 0..50 {
            let st = state.backup.schedule.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if st.schedule == s.schedule_text {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    let mut schedule = state.backup.schedule.lock().unwrap_or_else(|p| p.into_inner()).clone();
    schedule.schedule = s.schedule_text.clone();
    if s.schedule.is_none() {
        schedule.next_run.clear();
    }
    Ok(ScheduleResult { schedule, dir: s.dir, changed })
}
