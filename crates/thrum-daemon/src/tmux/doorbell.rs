//! The doorbell: a short line typed into an agent's tmux pane when mail
//! waits and nothing better can tell its runtime.
//!
//! A runtime with a hook that can wake it is woken by the hook (an armed
//! waiter means so: the doorbell stays quiet). For the others, and for
//! moments the hooks miss, the daemon rings, but only when the pane is
//! safe: no dialog or menu on screen, nothing typed in the input line, no
//! turn running, not in copy mode, and the pane unchanged for a moment
//! (`tmux.quiet_ms`), which is what "nobody is typing" looks like from
//! outside. Until then the doorbell waits, one per pane however much mail
//! comes. It never sends Escape, and presses Enter only once the line it
//! typed shows in the input line.
//!
//! Ringing claims the mail (`message.announced` through the `tmux`
//! channel), so it counts as the announcement, and mail read or announced
//! by another channel meanwhile cancels it. Two more reasons to ring, once
//! per newest message each: mail announced but still unread after
//! `tmux.backstop_minutes` (the backstop), and an agent marked `working`
//! whose pane has been silent for `tmux.working_silence_seconds` with
//! unread mail.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use thrum_core::delivery::{self, Channel};
use thrum_core::runtimes::{self, Hooks, Runtime};
use thrum_core::views::MessageSummary;
use thrum_store::query;
use thrum_tmux::screen::{self, Capture};
use thrum_tmux::{Tmux, TmuxError};

use super::{Live, blocking, look};
use crate::caller::Caller;
use crate::error::HResult;
use crate::rpc::delivery::{claim, pending_query, unread_query};
use crate::state::State;

/// How often pending doorbells look at their panes.
const TICK: Duration = Duration::from_millis(120);
/// How often every managed session is checked for mail no event told us
/// about, stale mail and silent working agents.
const SWEEP: Duration = Duration::from_secs(5);
/// A runtime with thrum's idle waker arms it right after its turn ends:
/// its pane must be quiet this long before the doorbell rings instead.
const WAKER_GRACE: Duration = Duration::from_secs(2);
/// How long a typed line may take to show in the input line.
const ECHO_WAIT: Duration = Duration::from_millis(1500);

/// A managed session with an agent whose runtime was launched.
#[derive(Debug, Clone)]
struct Target {
    session: String,
    agent: String,
    cwd: String,
    runtime: &'static Runtime,
    /// The runtime's process is there (a shell runtime always is).
    alive: bool,
    /// thrum's idle waker is installed for it (it wakes the runtime
    /// itself once armed).
    waker: bool,
}

/// What a pending doorbell will say.
#[derive(Debug, Clone)]
enum What {
    /// New mail, claimed when the bell rings.
    Mail,
    /// A line ready to type: claimed mail or a reminder, about `ids`
    /// (cancelled once all of them are read).
    Line { text: String, ids: Vec<String> },
}

#[derive(Debug)]
struct Bell {
    target: Target,
    what: What,
    /// When the pane last changed (to a safe look), and how it looked.
    calm: Option<(Instant, u64)>,
    /// Why it has not rung yet (for the log).
    why: String,
    /// Since when the pane has been unsafe (a dialog, a draft…), and when
    /// to look again: a doorbell held back for long looks less often.
    held: Option<Instant>,
    next_look: Instant,
}

impl Bell {
    fn new(target: Target, what: What, why: &str) -> Bell {
        Bell { target, what, calm: None, why: why.into(), held: None, next_look: Instant::now() }
    }

    /// The pane was not safe: look again soon at first (a person pausing
    /// between keys), then less often (a prompt waiting for hours costs a
    /// look every few seconds, not eight a second).
    fn hold(&mut self) {
        let held = *self.held.get_or_insert_with(Instant::now);
        let wait = match held.elapsed().as_secs() {
            0..5 => TICK,
            5..30 => Duration::from_millis(500),
            _ => Duration::from_secs(2),
        };
        self.calm = None;
        self.next_look = Instant::now() + wait;
    }
}

/// Settings read at every sweep, so a change needs no restart.
type Timing = thrum_core::settings::TmuxSettings;

fn timing(state: &State) -> Timing {
    let file = crate::load_config(&state.layout).ok().and_then(|c| serde_json::to_value(c).ok()).unwrap_or_default();
    Timing::resolve(&file)
}

/// The doorbell's loop; returns when the daemon shuts down.
pub async fn run(state: State) {
    let mut feed = state.feed.subscribe();
    let mut shutdown = state.shutdown.clone();
    let mut bells: BTreeMap<String, Bell> = BTreeMap::new();
    let mut watch = Watch::load(&state);
    let mut sweep = tokio::time::interval(SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut t = timing(&state);
    let mut targets = Targets::default();
    loop {
        let tick = async {
            if bells.is_empty() { std::future::pending::<()>().await } else { tokio::time::sleep(TICK).await }
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            got = feed.recv() => {
                use tokio::sync::broadcast::error::RecvError;
                let mail = match got {
                    Ok(events) => events.iter().any(|e| e.kind() == "message.create"),
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return,
                };
                if mail {
                    for target in targets.get(&state, TARGETS_TTL).await {
                        expect_mail(&mut bells, target);
                    }
                }
            }
            _ = sweep.tick() => {
                t = timing(&state);
                let targets = targets.get(&state, Duration::ZERO).await;
                bells.retain(|s, _| targets.iter().any(|t| &t.session == s));
                // Reminders first: a bell for new mail would hide them
                // (one bell per pane), and it ends at once when there is
                // no new mail.
                watch.sweep(&state, targets, &mut bells, t).await;
                for target in targets {
                    expect_mail(&mut bells, target);
                }
            }
            _ = tick => ring_all(&state, &mut bells, t).await,
        }
    }
}

/// Adds a pending doorbell for new mail, unless one waits already (one
/// per pane: it will tell about everything when it rings).
fn expect_mail(bells: &mut BTreeMap<String, Bell>, target: &Target) {
    if !target.alive {
        return;
    }
    bells.entry(target.session.clone()).or_insert_with(|| Bell::new(target.clone(), What::Mail, ""));
}

/// Whether thrum's idle waker is installed for `runtime` in the worktree
/// at `cwd`: Claude Code's `thrum hook claude wait` (project, local or
/// user settings), OpenCode's plugin.
fn has_waker(runtime: &Runtime, cwd: &std::path::Path) -> bool {
    let mentions = |p: std::path::PathBuf| std::fs::read_to_string(p).is_ok_and(|t| t.contains("hook claude wait"));
    match runtime.hooks {
        Some(Hooks::Claude) => {
            let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
            mentions(cwd.join(".claude/settings.json"))
                || mentions(cwd.join(".claude/settings.local.json"))
                || home.is_some_and(|h| mentions(h.join(".claude/settings.json")))
        }
        Some(Hooks::OpenCode) => cwd.join(".opencode/plugins/thrum.ts").exists(),
        _ => false,
    }
}

/// How long the list of managed sessions is reused when mail arrives (a
/// burst of sends must not run tmux for each message).
const TARGETS_TTL: Duration = Duration::from_secs(2);

/// The managed sessions, looked up at most once per TTL.
#[derive(Default)]
struct Targets {
    list: Vec<Target>,
    at: Option<Instant>,
    generation: u64,
}

impl Targets {
    async fn get(&mut self, state: &State, ttl: Duration) -> &[Target] {
        // A session created, launched or killed since is looked up at once.
        let generation = state.tmux.generation();
        if self.at.is_none_or(|at| at.elapsed() >= ttl) || generation != self.generation {
            self.list = live_targets(state).await;
            self.at = Some(Instant::now());
            self.generation = generation;
        }
        &self.list
    }
}

/// The managed sessions whose agent's runtime was launched. A daemon that
/// never created a session runs no tmux at all.
async fn live_targets(state: &State) -> Vec<Target> {
    if state.tmux.records().is_empty() {
        return Vec::new();
    }
    let st = state.clone();
    blocking(move || {
        let live = st.tmux.live().unwrap_or_default();
        let panes = st.tmux.tmux.all_panes().unwrap_or_default();
        Ok(live
            .into_iter()
            .filter(|s| !s.agent.is_empty() && !s.runtime.is_empty())
            .filter_map(|Live { name, agent, runtime, cwd }| {
                let runtime = runtimes::get(&runtime)?;
                let pane = panes.iter().find(|(s, _)| *s == name).map(|(_, p)| p)?;
                let shell = runtime.launch().is_none();
                let alive = !pane.dead && (shell || !super::sessions::is_shell_process(&pane.current_command));
                let waker = has_waker(runtime, std::path::Path::new(&cwd));
                Some(Target { session: name, agent, cwd, runtime, alive, waker })
            })
            .collect())
    })
    .await
    .unwrap_or_default()
}

async fn ring_all(state: &State, bells: &mut BTreeMap<String, Bell>, t: Timing) {
    let sessions: Vec<String> = bells.keys().cloned().collect();
    let now = Instant::now();
    for session in sessions {
        let Some(bell) = bells.get_mut(&session) else { continue };
        if bell.next_look > now {
            continue;
        }
        match step(state, bell, t).await {
            Ok(true) => {
                bells.remove(&session);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(session, error = %e.0.message, "doorbell: giving up on this one");
                bells.remove(&session);
            }
        }
    }
}

/// One look at a pending doorbell; `Ok(true)` when it is done (rung, or
/// nothing left to say).
async fn step(state: &State, bell: &mut Bell, t: Timing) -> HResult<bool> {
    let agent = bell.target.agent.clone();
    // Cancelled when there is nothing left to say.
    match &bell.what {
        What::Mail => {
            let q = pending_query(state, &Caller::Unknown, &agent, 1)?;
            if state.read(|r| Ok(query::list_messages(r, &q)?))?.messages.is_empty() {
                return Ok(true);
            }
            // An armed waiter wakes the runtime itself, and it claims the
            // mail; that cancels this doorbell.
            if state.waiters.armed_for(&agent) {
                bell.why = "a waiter is armed".into();
                return Ok(false);
            }
        }
        What::Line { ids, .. } => {
            let read = ids
                .iter()
                .map(|id| state.read(|r| Ok(query::is_read(r, id, &agent)?)))
                .collect::<HResult<Vec<bool>>>()?;
            if read.into_iter().all(|r| r) {
                return Ok(true);
            }
        }
    }

    let (tmux, session, screen) = (state.tmux.tmux.clone(), bell.target.session.clone(), bell.target.runtime.screen);
    let seen = match blocking(move || Ok(look(&tmux, &session, &screen))).await? {
        Ok(seen) => seen,
        Err(TmuxError::NoSession(_)) => return Ok(true),
        Err(e) => {
            bell.why = e.to_string();
            return Ok(false);
        }
    };
    if !seen.look.is_safe() {
        bell.hold();
        if bell.why != seen.look.reason() {
            tracing::debug!(session = bell.target.session, why = %seen.look.reason(), "doorbell waits");
            bell.why = seen.look.reason();
        }
        return Ok(false);
    }
    bell.held = None;
    match bell.calm {
        Some((since, fp)) if fp == seen.fingerprint => {
            // A runtime with thrum's idle waker arms it as its turn ends:
            // give it that long to take the mail itself.
            let quiet =
                if bell.target.waker && matches!(bell.what, What::Mail) { t.quiet.max(WAKER_GRACE) } else { t.quiet };
            if since.elapsed() < quiet {
                return Ok(false);
            }
        }
        _ => {
            bell.calm = Some((Instant::now(), seen.fingerprint));
            bell.why = "waiting for the pane to be quiet".into();
            return Ok(false);
        }
    }

    // Safe and quiet: claim what is still unannounced, then type.
    if let What::Mail = bell.what {
        let q = pending_query(state, &Caller::Unknown, &agent, 20)?;
        let messages = claim(state, &agent, &q, Channel::Tmux).await?;
        if messages.is_empty() {
            return Ok(true);
        }
        bell.what = What::Line {
            text: delivery::doorbell(&agent, &messages),
            ids: messages.iter().map(|m| m.message_id.clone()).collect(),
        };
    }
    let What::Line { text, .. } = &bell.what else { return Ok(false) };
    let line = if bell.target.runtime.screen.shell { shell_comment(text) } else { text.clone() };
    let (tmux, session, screen, fp) =
        (state.tmux.tmux.clone(), bell.target.session.clone(), bell.target.runtime.screen, seen.fingerprint);
    let lock = state.tmux.typing(&session);
    let rung = blocking(move || {
        let _typing = lock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(type_line(&tmux, &session, &screen, fp, &line))
    })
    .await?;
    match rung {
        Ok(Typed::Rung) => {
            tracing::info!(session = bell.target.session, agent, "doorbell rang");
            Ok(true)
        }
        Ok(Typed::NotNow) => {
            // The pane changed between the look and the typing: look again.
            bell.calm = None;
            Ok(false)
        }
        Ok(Typed::Unconfirmed(shown)) => {
            // Typed, but the line did not show in the input line: Enter
            // could do anything, so it is not pressed. The mail stays
            // unread; the backstop will ring again.
            tracing::warn!(
                session = bell.target.session,
                shown,
                "doorbell typed but not seen in the input line; Enter not pressed"
            );
            Ok(true)
        }
        Err(TmuxError::NoSession(_)) => Ok(true),
        Err(e) => Err(crate::error::server(e.to_string())),
    }
}

enum Typed {
    Rung,
    NotNow,
    /// What the cursor's line showed instead.
    Unconfirmed(String),
}

/// Types `line` if the pane still looks as it did (`fp`), waits for it to
/// show in the input line, then presses Enter.
fn type_line(tmux: &Tmux, session: &str, profile: &runtimes::Screen, fp: u64, line: &str) -> Result<Typed, TmuxError> {
    let now = look(tmux, session, profile)?;
    if !now.look.is_safe() || now.fingerprint != fp {
        return Ok(Typed::NotNow);
    }
    tmux.send_text(session, line)?;
    let end = Instant::now() + ECHO_WAIT;
    let mut shown = String::new();
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(30));
        let pane = tmux.pane(session)?;
        let capture = Capture::parse(&tmux.capture(session, 0, true)?);
        if screen::shows_typed(&capture, profile, (pane.cursor_x, pane.cursor_y), line) {
            tmux.send_keys(session, &["Enter"])?;
            return Ok(Typed::Rung);
        }
        shown = format!(
            "cursor {},{}: {:?}",
            pane.cursor_x,
            pane.cursor_y,
            capture.lines.iter().map(|l| screen::text(l)).collect::<Vec<_>>()
        );
    }
    Ok(Typed::Unconfirmed(shown))
}

/// The doorbell as a shell comment: Enter then runs nothing (and no
/// backquotes that a shell would run).
fn shell_comment(text: &str) -> String {
    format!("# {}", text.replace('`', ""))
}

/// The reminders: which newest message each agent was last reminded of
/// (`var/tmux-reminders.json`, so a restart does not repeat them), and
/// how long each working agent's pane has been silent.
struct Watch {
    path: std::path::PathBuf,
    reminded: HashMap<String, String>,
    silent: HashMap<String, (u64, Instant)>,
}

impl Watch {
    fn load(state: &State) -> Watch {
        let path = state.layout.var_dir().join("tmux-reminders.json");
        let reminded =
            std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        Watch { path, reminded, silent: HashMap::new() }
    }

    fn remember(&mut self, agent: &str, id: &str) {
        self.reminded.insert(agent.to_string(), id.to_string());
        if let Ok(text) = serde_json::to_vec_pretty(&self.reminded)
            && let Err(e) = crate::lifecycle::write_private(&self.path, &text)
        {
            tracing::warn!(error = %e, "cannot record a reminder");
        }
    }

    async fn sweep(&mut self, state: &State, targets: &[Target], bells: &mut BTreeMap<String, Bell>, t: Timing) {
        self.silent.retain(|s, _| targets.iter().any(|t| &t.session == s));
        for target in targets.iter().filter(|t| t.alive) {
            if let Err(e) = self.check(state, target, bells, t).await {
                tracing::debug!(session = target.session, error = %e.0.message, "reminder check failed");
            }
        }
    }

    async fn check(
        &mut self,
        state: &State,
        target: &Target,
        bells: &mut BTreeMap<String, Bell>,
        t: Timing,
    ) -> HResult<()> {
        let agent = &target.agent;
        let working = super::read_identity(std::path::Path::new(&target.cwd), agent)
            .is_some_and(|(_, f)| f.agent_status == "working");
        let silent_for = if working { self.silence(state, target).await } else { None };
        if !working {
            self.silent.remove(&target.session);
        }
        if bells.contains_key(&target.session) {
            return Ok(());
        }
        let q = unread_query(state, &Caller::Unknown, agent, 1, "desc")?;
        let page = state.read(|r| Ok(query::list_messages(r, &q)?))?;
        let Some(newest) = page.messages.first() else { return Ok(()) };
        if self.reminded.get(agent) == Some(&newest.message_id) {
            return Ok(());
        }
        let announced = state.read(|r| Ok(query::announced_or_read(r, &newest.message_id, agent)?))?;
        let stale = t.backstop.is_some_and(|b| age(newest) >= b);
        let silent = silent_for.is_some_and(|d| d >= t.working_silence);
        if !(silent || announced && stale) {
            return Ok(());
        }
        let why = if silent { "working but silent" } else { "backstop" };
        tracing::info!(session = target.session, agent, why, message = newest.message_id, "reminder doorbell");
        self.remember(agent, &newest.message_id);
        bells.insert(
            target.session.clone(),
            Bell::new(
                target.clone(),
                What::Line {
                    text: delivery::reminder(agent, page.total.max(1) as usize, newest),
                    ids: vec![newest.message_id.clone()],
                },
                why,
            ),
        );
        Ok(())
    }

    /// How long the pane of a working agent has been unchanged.
    async fn silence(&mut self, state: &State, target: &Target) -> Option<Duration> {
        let (tmux, session, screen) = (state.tmux.tmux.clone(), target.session.clone(), target.runtime.screen);
        let fp =
            blocking(move || Ok(look(&tmux, &session, &screen).ok().map(|s| s.fingerprint))).await.ok().flatten()?;
        let entry = self.silent.entry(target.session.clone()).or_insert((fp, Instant::now()));
        if entry.0 != fp {
            *entry = (fp, Instant::now());
        }
        Some(entry.1.elapsed())
    }
}

/// How old a message is (zero when its time cannot be read).
fn age(m: &MessageSummary) -> Duration {
    chrono::DateTime::parse_from_rfc3339(&m.created_at)
        .ok()
        .and_then(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).to_std().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_doorbell_is_a_comment_that_runs_nothing() {
        assert_eq!(shell_comment("[thrum] 1 new: read with `thrum inbox`"), "# [thrum] 1 new: read with thrum inbox");
    }
}
