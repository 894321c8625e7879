//! The `monitor.*` handlers. Every check runs before anything starts or
//! is written, so a refused request changes nothing; errors name the
//! problem and the fix on one line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use thrum_proto::methods::monitor::{
    IdParams, ListParams, ListResult, LogsParams, LogsResult, MonitorDetail, MonitorSummary, REDACTED, RestartResult,
    StartParams, StartResult, StopResult,
};

use super::spec::{self, Spec};
use super::{Mon, Status, Why, launch, request_stop};
use crate::caller::Caller;
use crate::error::{HResult, bad_params, server};
use crate::state::State;

/// `monitor.logs` answers at most this much by default.
const DEFAULT_LOG_BYTES: u64 = 10_000;

pub async fn start(state: &State, _: &Caller, p: StartParams) -> HResult<StartResult> {
    spec::check_name(&p.name).map_err(bad_params)?;
    let re = spec::compile(&p.pattern).map_err(bad_params)?;
    let to = p.to.trim().trim_start_matches('@').to_string();
    if to.is_empty() {
        return Err(bad_params("to is required: pass --to @agent"));
    }
    if p.argv.is_empty() || p.argv[0].is_empty() {
        return Err(bad_params(
            "argv is required and must not be empty: put the command after `--` (… -- node server.js)",
        ));
    }
    if p.cwd.is_empty() {
        return Err(bad_params("cwd is required"));
    }
    if !std::path::Path::new(&p.cwd).is_dir() {
        return Err(bad_params(format!("cwd {} is not a directory: run the command from an existing one", p.cwd)));
    }
    let window = spec::debounce(&p.debounce, state.monitors.min_debounce).map_err(bad_params)?;
    spec::check_env(&p.env).map_err(bad_params)?;
    let known = {
        let to = to.clone();
        state.read(move |r| Ok(thrum_store::query::agent(r, &to)?.is_some()))?
    };
    if !known {
        return Err(server(format!(
            "agent not found: @{to} is not registered; pass --to with an agent from `thrum team` (or register it first)"
        )));
    }
    let spec = Spec {
        id: format!("m_{}", ulid::Ulid::new()),
        name: p.name,
        pattern: p.pattern,
        to,
        argv: p.argv,
        cwd: p.cwd,
        debounce_ms: window.as_millis() as u64,
        env: p.env,
        created_at: thrum_core::time::now_rfc3339(),
    };
    let mon = Arc::new(Mon::new(spec, re));
    match admit(state, &mon) {
        Ok(pid) => Ok(StartResult { id: mon.spec.id.clone(), name: mon.spec.name.clone(), pid }),
        Err((e, started)) => {
            if started && let Some(wait) = request_stop(&mon, Why::User) {
                let _ = wait.await;
            }
            Err(e)
        }
    }
}

/// Checks the name and the limit, starts the new monitor and saves it,
/// under the list's lock. On failure, whether the child had started (it
/// is to be stopped again).
fn admit(state: &State, mon: &Arc<Mon>) -> Result<i64, (crate::error::Fail, bool)> {
    let monitors = &state.monitors;
    let mut all = monitors.list();
    if let Some(same) = all.iter().find(|m| m.spec.name == mon.spec.name) {
        let r = same.run();
        if r.status == Status::Running || r.persisted {
            return Err((
                server(format!(
                    "monitor {} already exists ({}, {}): stop it first (`thrum monitor stop {0}`) or pick another --name",
                    same.spec.name,
                    same.spec.id,
                    r.status.as_str()
                )),
                false,
            ));
        }
    }
    let kept = all.iter().filter(|m| m.run().persisted).count();
    if kept >= spec::MAX_MONITORS {
        return Err((too_many(), false));
    }
    // The place of a stopped monitor of that name, then of the oldest
    // stopped ones, so the list stays within the limit.
    all.retain(|m| m.spec.name != mon.spec.name);
    while all.len() >= spec::MAX_MONITORS {
        let Some(i) = all.iter().position(|m| !m.run().persisted && m.run().status != Status::Running) else {
            break;
        };
        all.remove(i);
    }
    let pid = launch(state, mon).map_err(|e| (bad_params(e), false))?;
    all.push(mon.clone());
    if let Err(e) = monitors.save(&all) {
        all.pop();
        return Err((server(format!("{e}; the monitor was not started")), true));
    }
    Ok(pid)
}

fn too_many() -> crate::error::Fail {
    server(format!("max monitors reached ({}): stop one with `thrum monitor stop NAME` first", spec::MAX_MONITORS))
}

pub async fn list(state: &State, _: &Caller, p: ListParams) -> HResult<ListResult> {
    let monitors =
        state.monitors.snapshot().iter().map(|m| summary(m)).filter(|s| p.all || s.status == "running").collect();
    Ok(ListResult { monitors })
}

pub async fn show(state: &State, _: &Caller, p: IdParams) -> HResult<MonitorDetail> {
    let m = find(state, &p.id)?;
    let summary = summary(&m);
    let r = m.run();
    Ok(MonitorDetail {
        summary,
        argv: m.spec.argv.clone(),
        cwd: m.spec.cwd.clone(),
        debounce: thrum_core::time::go_format(Duration::from_millis(m.spec.debounce_ms)),
        env: m.spec.env.keys().map(|k| (k.clone(), REDACTED.to_string())).collect(),
        match_count: r.match_count,
        recent_matches: r.recent.iter().map(|l| m.redact(l.clone())).collect(),
        created_at: m.spec.created_at.clone(),
        suppressed_count: r.suppressed,
    })
}

pub async fn stop(state: &State, _: &Caller, p: IdParams) -> HResult<StopResult> {
    let m = find(state, &p.id)?;
    let wait = request_stop(&m, Why::User);
    let was_kept = {
        let mut r = m.run();
        std::mem::replace(&mut r.persisted, false)
    };
    if wait.is_none() && !was_kept {
        return Err(server(format!(
            "monitor already stopped: {} ({}) is not running; start it again with `thrum monitor restart {0}`",
            m.spec.name, m.spec.id
        )));
    }
    {
        let all = state.monitors.list();
        state.monitors.save(&all).map_err(server)?;
    }
    if let Some(wait) = wait {
        let _ = wait.await;
    }
    // A child that had exited by itself keeps its `failed`/`stopped` and
    // exit status; a running one is now stopped.
    Ok(StopResult { id: m.spec.id.clone(), stopped: true })
}

pub async fn logs(state: &State, _: &Caller, p: LogsParams) -> HResult<LogsResult> {
    let m = find(state, &p.id)?;
    let n = p.bytes.unwrap_or(DEFAULT_LOG_BYTES).min(super::LOG_BYTES as u64) as usize;
    let text = m.run().log.tail(n);
    Ok(LogsResult { id: m.spec.id.clone(), logs: m.redact(text) })
}

pub async fn restart(state: &State, _: &Caller, p: IdParams) -> HResult<RestartResult> {
    let m = find(state, &p.id)?;
    match readmit(state, &m) {
        Ok(pid) => Ok(RestartResult { id: m.spec.id.clone(), pid }),
        Err((e, started)) => {
            if started && let Some(wait) = request_stop(&m, Why::User) {
                let _ = wait.await;
            }
            Err(e)
        }
    }
}

/// Respawns a monitor that is not running and saves it again, under the
/// list's lock (as [`admit`]).
fn readmit(state: &State, m: &Arc<Mon>) -> Result<i64, (crate::error::Fail, bool)> {
    let all = state.monitors.list();
    let was_kept = {
        let r = m.run();
        if r.status == Status::Running {
            return Err((
                server(format!(
                    "monitor already running: {} ({}, pid {}); stop it first with `thrum monitor stop {0}`",
                    m.spec.name, m.spec.id, r.pid
                )),
                false,
            ));
        }
        r.persisted
    };
    if !all.iter().any(|x| Arc::ptr_eq(x, m)) {
        return Err((server(format!("monitor not found: {}; see `thrum monitor list --all`", m.spec.name)), false));
    }
    if !was_kept && all.iter().filter(|x| x.run().persisted).count() >= spec::MAX_MONITORS {
        return Err((too_many(), false));
    }
    let pid = launch(state, m).map_err(|e| (bad_params(e), false))?;
    m.run().persisted = true;
    if let Err(e) = state.monitors.save(&all) {
        m.run().persisted = was_kept;
        return Err((server(format!("{e}; the monitor was not restarted")), true));
    }
    Ok(pid)
}

fn find(state: &State, key: &str) -> HResult<Arc<Mon>> {
    let key = key.trim();
    if key.is_empty() {
        return Err(bad_params("id is required: name a monitor by its id (m_…) or name"));
    }
    state.monitors.find(key).ok_or_else(|| server(format!("monitor not found: {key}; see `thrum monitor list --all`")))
}

/// A monitor's list entry.
fn summary(m: &Mon) -> MonitorSummary {
    let r = m.run();
    let running = r.status == Status::Running;
    MonitorSummary {
        id: m.spec.id.clone(),
        name: m.spec.name.clone(),
        status: r.status.as_str().into(),
        pid: if running { r.pid } else { 0 },
        uptime: match (running, r.started) {
            (true, Some(t)) => {
                thrum_core::time::go_format(Duration::from_secs(Instant::now().duration_since(t).as_secs()))
            }
            _ => String::new(),
        },
        pattern: m.spec.pattern.clone(),
        to: m.spec.to.clone(),
        exit: r.exit.clone(),
        exit_code: r.exit_code,
    }
}
