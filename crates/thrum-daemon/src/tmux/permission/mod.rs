//! Permission prompts: an agent in a managed session waits on its
//! runtime's "may I run this?" prompt; the daemon tells the supervisors
//! and presses the key they answer with.
//!
//! - Watching: every [`LOOK`], one `list-panes` call; only panes whose
//!   activity changed (or that showed a prompt last time) are captured
//!   and read (`thrum_tmux::prompt`). A prompt seen the same on two looks
//!   in a row is announced once: a nudge from `@supervisor_<project>` to
//!   `permission_supervisors` ([`text::nudge`]), then reminders in its
//!   thread at [`REMINDERS`] while it still shows. A daemon with no
//!   managed session runs no tmux at all.
//! - Answering: a reply in the nudge's thread whose whole text is `y`/`n`
//!   (and synonyms), from an agent the nudge reached, presses the key the
//!   prompt's reading gives ([`keys`]), only if the same prompt still
//!   shows; a threaded reply says what was done.
//! - Pending nudges live in `var/tmux-permissions.json` ([`store`]), so a
//!   reply after a restart still works, and `thrum tmux status` shows
//!   their sessions as `blocked`.

pub mod keys;
pub mod store;
pub mod text;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use thrum_core::event::{MessageCreate, Payload};
use thrum_core::runtimes::{self, Permission};
use thrum_proto::methods::agent::RegisterParams;
use thrum_proto::methods::message::SendParams;
use thrum_tmux::Pane;
use thrum_tmux::prompt::{self, Prompt};
use thrum_tmux::screen::Capture;

use super::{Live, blocking};
use crate::caller::Caller;
use crate::error::HResult;
use crate::state::State;
use keys::Outcome;
use store::{Pending, Store};
use text::Verdict;

pub use store::blocked;

/// How often the panes are looked at.
const LOOK: Duration = Duration::from_secs(2);
/// How long the list of managed sessions is reused (a session created,
/// launched or killed is seen at once: the manager's generation changes).
const SESSIONS_TTL: Duration = Duration::from_secs(10);
/// Reminders, counted from the first detection (as the original's).
const REMINDERS: [Duration; 5] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(45 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(4 * 3600),
];

/// A managed session whose runtime has readable permission prompts.
#[derive(Debug, Clone)]
struct Target {
    session: String,
    agent: String,
    runtime: &'static str,
    permission: Permission,
}

/// What the watcher remembers of a pane between looks.
#[derive(Debug, Default)]
struct Seen {
    /// `window_activity` at the last look, and when (epoch seconds) that
    /// look was.
    activity: u64,
    looked_at: u64,
    /// The prompt the last look showed.
    prompt: Option<u64>,
    /// A prompt just answered (or whose nudge failed): not announced again
    /// while it shows.
    quiet: Option<u64>,
    /// Looks in a row without the pending prompt.
    gone: u32,
}

struct Watcher {
    store: Store,
    seen: HashMap<String, Seen>,
    targets: Vec<Target>,
    targets_at: Option<(Instant, u64)>,
    /// `supervisor_<project>` once registered by this daemon.
    author: Option<String>,
    /// Nudges and reminders of prompts that ended since the daemon
    /// started, and how: a late answer is told so rather than ignored.
    ended: HashMap<String, String>,
}

/// The watcher's loop; returns when the daemon shuts down.
pub async fn run(state: State) {
    let mut feed = state.feed.subscribe();
    let mut shutdown = state.shutdown.clone();
    let mut w = Watcher {
        store: Store::load(&state.layout.var_dir()),
        seen: HashMap::new(),
        targets: Vec::new(),
        targets_at: None,
        author: None,
        ended: HashMap::new(),
    };
    if !w.store.pending.is_empty() {
        tracing::info!(count = w.store.pending.len(), "permission prompts still waiting on an answer");
    }
    let mut tick = tokio::time::interval(LOOK);
    // A slow look (many panes, a busy machine) is not made up for.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            got = feed.recv() => {
                use tokio::sync::broadcast::error::RecvError;
                match got {
                    Ok(events) => {
                        for e in events.iter().filter(|e| e.kind() == "message.create") {
                            if let Ok(Payload::MessageCreate(m)) = e.payload() {
                                w.reply(&state, &m).await;
                            }
                        }
                    }
                    // A reply lost in a lag is answered by nothing: the
                    // supervisor can reply again.
                    Err(RecvError::Lagged(n)) => tracing::warn!(skipped = n, "permission watcher lagged"),
                    Err(RecvError::Closed) => return,
                }
            }
            _ = tick.tick() => w.look(&state).await,
            // A runtime's hook says a prompt is up: look now.
            _ = state.tmux.poke.notified() => w.look(&state).await,
        }
    }
}

impl Watcher {
    /// The managed sessions to watch, looked up at most once per TTL.
    async fn targets(&mut self, state: &State) -> Vec<Target> {
        let generation = state.tmux.generation();
        let fresh = self.targets_at.is_some_and(|(at, g)| at.elapsed() < SESSIONS_TTL && g == generation);
        if !fresh {
            let st = state.clone();
            let live = blocking(move || Ok(st.tmux.live().unwrap_or_default())).await.unwrap_or_default();
            self.targets = live
                .into_iter()
                .filter_map(|Live { name, agent, runtime, .. }| {
                    let r = runtimes::get(&runtime)?;
                    let permission = r.screen.permission?;
                    Some(Target { session: name, agent, runtime: r.name, permission })
                })
                .collect();
            self.targets_at = Some((Instant::now(), generation));
        }
        self.targets.clone()
    }

    /// One look at every watched pane.
    async fn look(&mut self, state: &State) {
        // No managed session: no tmux at all.
        if state.tmux.records().is_empty() {
            return;
        }
        let targets = self.targets(state).await;
        let poked = state.tmux.take_poked();
        self.seen.retain(|s, _| targets.iter().any(|t| &t.session == s));
        let gone: Vec<String> =
            self.store.pending.keys().filter(|s| !targets.iter().any(|t| &t.session == *s)).cloned().collect();
        for s in gone {
            self.resolved(state, &s, "its tmux session is gone").await;
        }
        if targets.is_empty() {
            return;
        }
        let st = state.clone();
        let Ok(panes) = blocking(move || Ok(st.tmux.tmux.all_panes().unwrap_or_default())).await else { return };
        let now = epoch();
        let due: Vec<Target> = targets
            .into_iter()
            .filter(|t| {
                let Some(pane) = panes.iter().find(|(s, _)| *s == t.session).map(|(_, p)| p) else { return false };
                poked.contains(&t.session) || self.due(t, pane)
            })
            .collect();
        if due.is_empty() {
            return;
        }
        let (st, list) = (state.clone(), due.clone());
        let Ok(read) = blocking(move || {
            Ok(list
                .iter()
                .map(|t| {
                    let capture = st.tmux.tmux.capture(&t.session, 0, true).ok();
                    capture.map(|c| prompt::read(&Capture::parse(&c), &t.permission))
                })
                .collect::<Vec<_>>())
        })
        .await
        else {
            return;
        };
        for (t, shown) in due.iter().zip(read) {
            let activity = panes.iter().find(|(s, _)| *s == t.session).map_or(0, |(_, p)| p.activity);
            let seen = self.seen.entry(t.session.clone()).or_default();
            (seen.activity, seen.looked_at) = (activity, now);
            // A capture that failed tells nothing.
            let Some(shown) = shown else { continue };
            self.saw(state, t, shown, poked.contains(&t.session)).await;
        }
    }

    /// Whether a pane must be captured: its activity changed (or changed
    /// within the second of the last look, which its whole-second clock
    /// cannot tell apart), or it showed a prompt.
    fn due(&self, t: &Target, pane: &Pane) -> bool {
        if pane.dead {
            return false;
        }
        let Some(seen) = self.seen.get(&t.session) else { return true };
        pane.activity != seen.activity
            || pane.activity >= seen.looked_at
            || seen.prompt.is_some()
            || self.store.pending.contains_key(&t.session)
    }

    /// What one look found in a pane. `told`: the runtime's own hook said
    /// a permission prompt is up, so one look is enough.
    async fn saw(&mut self, state: &State, t: &Target, shown: Option<Prompt>, told: bool) {
        let pending_id = self.store.pending.get(&t.session).map(|p| p.prompt.clone());
        let seen = self.seen.entry(t.session.clone()).or_default();
        let Some(p) = shown else {
            seen.prompt = None;
            seen.quiet = None;
            if pending_id.is_some() {
                seen.gone += 1;
                // Twice in a row: not a redraw.
                if seen.gone >= 2 {
                    self.resolved(state, &t.session, "it is no longer showing (answered in the pane?)").await;
                }
            }
            return;
        };
        seen.gone = 0;
        let stable = told || seen.prompt == Some(p.id);
        seen.prompt = Some(p.id);
        if seen.quiet == Some(p.id) {
            return;
        }
        seen.quiet = None;
        match pending_id {
            Some(id) if id == p.id.to_string() => return self.remind(state, t, &p).await,
            Some(_) => self.resolved(state, &t.session, "another prompt shows instead").await,
            None => {}
        }
        if stable {
            self.nudge(state, t, &p).await;
        }
    }

    /// The first message about a prompt.
    async fn nudge(&mut self, state: &State, t: &Target, p: &Prompt) {
        let to = supervisors(state);
        if to.is_empty() {
            return;
        }
        let Some(author) = self.author(state).await else {
            self.quiet(&t.session, p.id);
            return;
        };
        let content = text::nudge(&t.agent, &t.session, t.runtime, p, None);
        match send(state, &author, &to, content, "").await {
            Ok(sent) => {
                tracing::info!(
                    session = t.session,
                    agent = t.agent,
                    message = sent.message_id,
                    "permission prompt announced"
                );
                self.store.insert(Pending {
                    session: t.session.clone(),
                    agent: t.agent.clone(),
                    runtime: t.runtime.into(),
                    prompt: p.id.to_string(),
                    gist: p.gist.clone(),
                    messages: vec![sent.message_id],
                    supervisors: sent.recipients.into_iter().map(|r| r.agent_id).collect(),
                    to,
                    detected_at: thrum_core::time::now_rfc3339(),
                });
            }
            Err(e) => {
                // Not retried every look: once the prompt changes.
                tracing::warn!(session = t.session, error = %e.0.message, "cannot announce a permission prompt: check permission_supervisors in .thrum/config.json");
                self.quiet(&t.session, p.id);
            }
        }
    }

    /// Forgets the pending prompt of `session`, remembering how it ended.
    fn end(&mut self, session: &str, why: &str) -> Option<Pending> {
        let p = self.store.remove(session)?;
        // Bounded: a late answer after hundreds of prompts is not told.
        if self.ended.len() > 500 {
            self.ended.clear();
        }
        for m in &p.messages {
            self.ended.insert(m.clone(), why.to_string());
        }
        Some(p)
    }

    fn quiet(&mut self, session: &str, id: u64) {
        self.seen.entry(session.to_string()).or_default().quiet = Some(id);
    }

    /// A reminder in the nudge's thread, when the next one is due.
    async fn remind(&mut self, state: &State, t: &Target, p: &Prompt) {
        let Some(pending) = self.store.pending.get(&t.session).cloned() else { return };
        let sent = pending.messages.len() - 1;
        let Some(due) = REMINDERS.get(sent) else { return };
        if age(&pending.detected_at) < *due {
            return;
        }
        let Some(author) = self.author(state).await else { return };
        let content = text::nudge(&t.agent, &t.session, t.runtime, p, Some(sent + 1));
        match send(state, &author, &pending.to, content, &pending.messages[0]).await {
            Ok(r) => {
                let mut pending = pending;
                pending.messages.push(r.message_id);
                self.store.insert(pending);
            }
            Err(e) => tracing::warn!(session = t.session, error = %e.0.message, "cannot send a permission reminder"),
        }
    }

    /// A pending prompt ended without an answer from us: say so in its
    /// thread and forget it.
    async fn resolved(&mut self, state: &State, session: &str, why: &str) {
        let Some(p) = self.end(session, why) else { return };
        let Some(author) = self.author(state).await else { return };
        let content =
            format!("The permission prompt of @{} in tmux session {session} ended: {why}. Nothing to answer.", p.agent);
        if let Err(e) = send(state, &author, &p.to, content, &p.messages[0]).await {
            tracing::debug!(session, error = %e.0.message, "cannot post that a permission prompt ended");
        }
    }

    /// A new message: an answer, if it replies to a pending nudge.
    async fn reply(&mut self, state: &State, m: &MessageCreate) {
        let Some(parent) = m.refs.iter().find(|r| r.kind == "reply_to").map(|r| r.value.clone()) else { return };
        let pending = self.store.by_message(&parent).cloned();
        if pending.is_none() && !self.ended.contains_key(&parent) {
            return;
        }
        if self.author.as_deref() == Some(m.agent_id.as_str()) || m.agent_id == text::author(&project(state)) {
            return;
        }
        let Some(verdict) = text::verdict(&m.body.content) else { return };
        let Some(author) = self.author(state).await else { return };
        let Some(pending) = pending else {
            let why = self.ended.get(&parent).cloned().unwrap_or_default();
            let content = format!("Nothing pressed: that permission prompt is over ({why}).");
            if let Err(e) = send(state, &author, std::slice::from_ref(&m.agent_id), content, &m.message_id).await {
                tracing::warn!(error = %e.0.message, "cannot reply about a permission prompt");
            }
            return;
        };
        let session = pending.session.clone();
        let answer_to = |content: String| {
            let (state, author, to, id) = (state.clone(), author.clone(), m.agent_id.clone(), m.message_id.clone());
            let mut names = vec![to];
            names.extend(pending.to.iter().cloned());
            async move {
                if let Err(e) = send(&state, &author, &names, content, &id).await {
                    tracing::warn!(error = %e.0.message, "cannot reply about a permission prompt");
                }
            }
        };
        if !pending.supervisors.contains(&m.agent_id) {
            let who: Vec<String> = pending.supervisors.iter().map(|s| format!("@{s}")).collect();
            return answer_to(format!(
                "Nothing pressed: only the agents this prompt was announced to ({}) can answer it; set permission_supervisors in .thrum/config.json to change who.",
                who.join(", ")
            ))
            .await;
        }
        let Some(permission) = runtimes::get(&pending.runtime).and_then(|r| r.screen.permission) else { return };
        let recorded: u64 = pending.prompt.parse().unwrap_or_default();
        let (st, s) = (state.clone(), session.clone());
        let lock = state.tmux.typing(&session);
        let outcome = blocking(move || {
            // Nothing else types into the pane between the look and the key.
            let _typing = lock.lock().unwrap_or_else(|p| p.into_inner());
            keys::answer(&st.tmux.tmux, &s, &permission, recorded, verdict).map_err(super::tmux_fail)
        })
        .await;
        let what = if verdict == Verdict::Approve { "Approved once" } else { "Denied" };
        let content = match outcome {
            Ok(Outcome::Pressed { keys, closed }) => {
                self.end(&session, &format!("answered by @{}", m.agent_id));
                self.quiet(&session, recorded);
                tracing::info!(session, by = m.agent_id, keys, "permission prompt answered");
                let after = if closed {
                    "the prompt closed".to_string()
                } else {
                    format!("the prompt still shows: look with `thrum tmux capture {session}`")
                };
                format!("{what}: pressed {keys} in tmux session {session} (@{}); {after}.", pending.agent)
            }
            Ok(Outcome::Changed(gist)) => {
                self.end(&session, "another prompt shows instead");
                format!(
                    "Nothing pressed: the prompt in tmux session {session} changed since it was announced; it now shows:\n\n{}\n\nA new nudge follows if it waits on an answer.",
                    gist.iter().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
                )
            }
            Ok(Outcome::Gone) => {
                self.end(&session, "it is no longer showing");
                format!("Nothing pressed: tmux session {session} shows no permission prompt any more.")
            }
            Ok(Outcome::Refused(why)) => {
                format!("Nothing confirmed: {why}. Answer it in the pane: `thrum tmux connect {session}`.")
            }
            Err(e) => format!("Nothing pressed: {}.", e.0.message),
        };
        answer_to(content).await;
    }

    /// `supervisor_<project>`, registered as an agent the first time (so
    /// replies to its nudges have someone to go to).
    async fn author(&mut self, state: &State) -> Option<String> {
        if let Some(a) = &self.author {
            return Some(a.clone());
        }
        let name = text::author(&project(state));
        let p = RegisterParams {
            name: name.clone(),
            role: thrum_core::name::PSEUDO_ROLE.into(),
            module: thrum_core::name::PSEUDO_MODULE.into(),
            display: "thrum daemon: permission-prompt nudges".into(),
            ..Default::default()
        };
        match crate::rpc::agent::register(state, &Caller::Daemon, p).await {
            Ok(_) => {
                self.author = Some(name.clone());
                Some(name)
            }
            Err(e) => {
                tracing::warn!(agent = name, error = %e.0.message, "cannot register the permission-nudge author");
                None
            }
        }
    }
}

/// Sends as the daemon from `author` to `to` (roles or agents), threaded
/// under `reply_to` when not empty.
/// `tmux.check-pane`: what a session's pane shows now. A runtime's
/// permission hook calls it (`thrum hook claude notification`), so the
/// watcher looks at once instead of at its next round.
pub async fn check_pane(
    state: &State,
    _: &Caller,
    p: thrum_proto::methods::tmux::CheckPaneParams,
) -> HResult<thrum_proto::methods::tmux::CheckPaneResult> {
    use thrum_tmux::screen::Look;
    let st = state.clone();
    let session = p.session.clone();
    let (live, seen, prompt) = blocking(move || {
        let live = st.tmux.ours(&session)?;
        let r = runtimes::get(&live.runtime);
        let seen = super::look(&st.tmux.tmux, &session, super::profile_of(&live.runtime)).map_err(super::tmux_fail)?;
        let prompt = match r.and_then(|r| r.screen.permission) {
            Some(perm) => {
                let c = st.tmux.tmux.capture(&session, 0, true).map_err(super::tmux_fail)?;
                prompt::read(&Capture::parse(&c), &perm)
            }
            None => None,
        };
        Ok((live, seen, prompt))
    })
    .await?;
    let (state_name, reason) = match (&prompt, &seen.look) {
        (Some(pr), _) => {
            state.tmux.poke(&live.name);
            ("permission", pr.gist.join(" / "))
        }
        (None, Look::Busy(why)) => ("working", why.clone()),
        (None, look) => ("idle", look.reason()),
    };
    Ok(thrum_proto::methods::tmux::CheckPaneResult { session: p.session, state: state_name.into(), reason })
}

async fn send(
    state: &State,
    author: &str,
    to: &[String],
    content: String,
    reply_to: &str,
) -> HResult<thrum_proto::methods::message::SendResult> {
    let p = SendParams {
        content,
        to: to.first().map(|t| format!("@{t}")),
        mentions: to.iter().skip(1).map(|t| format!("@{t}")).collect(),
        reply_to: reply_to.to_string(),
        caller_agent_id: Some(author.to_string()),
        ..Default::default()
    };
    crate::rpc::message::send(state, &Caller::Daemon, p).await
}

/// The config file as JSON (read at each use: a change needs no restart).
fn config(state: &State) -> serde_json::Value {
    crate::load_config(&state.layout).ok().and_then(|c| serde_json::to_value(c).ok()).unwrap_or_default()
}

fn setting(state: &State, key: &str) -> serde_json::Value {
    let file = config(state);
    thrum_core::settings::find(key).map(|s| s.resolve(&file).value).unwrap_or_default()
}

/// `permission_supervisors` (an empty list turns the nudges off).
fn supervisors(state: &State) -> Vec<String> {
    text::supervisors(&setting(state, "permission_supervisors"))
}

/// `project_name`, else the repository folder's name.
fn project(state: &State) -> String {
    let file = config(state);
    match file.get("project_name").and_then(|v| v.as_str()).filter(|s| !s.trim().is_empty()) {
        Some(p) => p.to_string(),
        None => state.repo_root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    }
}

fn epoch() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// How long ago an RFC 3339 time was (zero when unreadable).
fn age(at: &str) -> Duration {
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .and_then(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).to_std().ok())
        .unwrap_or_default()
}
