//! `message.announce`: telling an agent's runtime about its mail, once.
//!
//! Every channel (runtime hooks, the idle waker, `thrum wait`, the MCP
//! wait, a tmux doorbell) claims mail here. A claim runs in the writer, so
//! two channels racing for the same message cannot both get it: the first
//! records a `message.announced` event, the second finds the message
//! announced. What is already read, and the agent's own messages, are never
//! claimed.
//!
//! A waiter (Claude Code's background Stop hook) blocks on the commit feed,
//! not a timer, and only says that mail is pending: its caller then claims
//! it with an immediate call, once it knows its runtime is still there. Claude Code starts one after every turn and never stops the
//! old ones, so waiters are keyed by agent and runtime session: a new one
//! sends the previous one home, and a prompt submitted in that session
//! (`stand_down`) sends it home too, since the turn's own hooks announce
//! while the session is busy.

use std::collections::HashMap;
use std::sync::Mutex;

use thrum_core::Event;
use thrum_core::delivery::Channel;
use thrum_core::event::{MESSAGE_ANNOUNCED, MessageAnnounced};
use thrum_core::views::MessageSummary;
use thrum_proto::methods::message::{AnnounceParams, AnnounceResult, AnnounceStatus, ListParams};
use thrum_store::query::{self, ListQuery};
use tokio::sync::oneshot;

use crate::caller::Caller;
use crate::error::{HResult, server};
use crate::state::State;

/// Longest a waiter may block.
const MAX_WAIT_MS: u64 = 24 * 3600 * 1000;

/// The armed waiters, by (agent, runtime session).
#[derive(Default)]
pub struct Waiters {
    armed: Mutex<HashMap<(String, String), Armed>>,
    next: std::sync::atomic::AtomicU64,
}

struct Armed {
    generation: u64,
    home: oneshot::Sender<AnnounceStatus>,
}

/// A waiter's place in [`Waiters`]; leaves it when dropped.
struct Ticket<'a> {
    waiters: &'a Waiters,
    key: (String, String),
    generation: u64,
    sent_home: oneshot::Receiver<AnnounceStatus>,
}

impl Waiters {
    /// Arms a waiter for `agent` in `session`, sending home the one
    /// armed before it.
    fn arm(&self, agent: &str, session: &str) -> Ticket<'_> {
        let generation = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (home, sent_home) = oneshot::channel();
        let key = (agent.to_string(), session.to_string());
        let old = self.lock().insert(key.clone(), Armed { generation, home });
        if let Some(old) = old {
            let _ = old.home.send(AnnounceStatus::Superseded);
        }
        Ticket { waiters: self, key, generation, sent_home }
    }

    /// Sends home the waiter of `agent` in `session`, if one is armed.
    fn stand_down(&self, agent: &str, session: &str) {
        let old = self.lock().remove(&(agent.to_string(), session.to_string()));
        if let Some(old) = old {
            let _ = old.home.send(AnnounceStatus::StoodDown);
        }
    }

    /// How many waiters are armed (for `thrum doctor` and tests).
    pub fn armed(&self) -> usize {
        self.lock().len()
    }

    /// Whether a waiter of `agent` is armed (it will wake its runtime, so
    /// the tmux doorbell stays quiet).
    pub fn armed_for(&self, agent: &str) -> bool {
        self.lock().keys().any(|(a, _)| a == agent)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Armed>> {
        // A panic while holding this lock leaves the map consistent.
        self.armed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut armed = self.waiters.lock();
        if armed.get(&self.key).is_some_and(|a| a.generation == self.generation) {
            armed.remove(&self.key);
        }
    }
}

pub async fn announce(state: &State, caller: &Caller, p: AnnounceParams) -> HResult<AnnounceResult> {
    let me = caller.resolve(p.caller_agent_id.as_deref())?;
    let limit = p.limit.unwrap_or(20).clamp(1, 100);
    let session = p.session_id.filter(|s| !s.is_empty());
    if p.stand_down
        && let Some(s) = &session
    {
        state.waiters.stand_down(&me, s);
    }
    let q = pending_query(state, caller, &me, limit)?;
    let found = |messages: Vec<MessageSummary>| AnnounceResult { status: AnnounceStatus::Announced, messages };
    if p.wait_ms == 0 {
        let messages = claim(state, &me, &q, p.channel).await?;
        if messages.is_empty() {
            return Ok(AnnounceResult { status: AnnounceStatus::Nothing, messages });
        }
        return Ok(found(messages));
    }

    // Armed and subscribed before looking, so nothing committed in between
    // is missed.
    let mut ticket = session.as_deref().map(|s| state.waiters.arm(&me, s));
    let mut feed = state.feed.subscribe();
    let mut shutdown = state.shutdown.clone();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(p.wait_ms.min(MAX_WAIT_MS));
    loop {
        // A waiter claims nothing itself: it says mail is pending and its
        // caller claims it with an immediate call, so a waiter that died
        // meanwhile (its runtime gone) never takes mail to the grave.
        if !state.read(|r| Ok(query::list_messages(r, &q)?))?.messages.is_empty() {
            return Ok(AnnounceResult { status: AnnounceStatus::Pending, messages: Vec::new() });
        }
        let sent_home = async {
            match ticket.as_mut() {
                Some(t) => (&mut t.sent_home).await.unwrap_or(AnnounceStatus::Superseded),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                return Ok(AnnounceResult { status: AnnounceStatus::Timeout, messages: Vec::new() });
            }
            status = sent_home => {
                return Ok(AnnounceResult { status, messages: Vec::new() });
            }
            woke = next_message(&mut feed, &mut shutdown) => woke?,
        }
    }
}

/// Returns once a message may have been stored since the last look (a
/// `message.create` was committed, or the feed lagged and we cannot tell);
/// an error when the daemon is going down, so a waiter is told to call
/// again instead of hanging. Callers subscribe before they look, so
/// nothing committed in between is missed.
pub(super) async fn next_message(
    feed: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<[Event]>>,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> HResult<()> {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return Err(server("daemon restarted while waiting: call again")),
            got = feed.recv() => match got {
                Ok(events) if events.iter().any(|e| e.kind() == "message.create") => return Ok(()),
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => return Ok(()),
                Err(RecvError::Closed) => return Err(server("daemon restarted while waiting: call again")),
            }
        }
    }
}

/// The query for `agent`'s unread, unannounced mail, oldest first.
pub(crate) fn pending_query(state: &State, caller: &Caller, agent: &str, limit: u32) -> HResult<ListQuery> {
    let mut q = unread_query(state, caller, agent, limit, "asc")?;
    q.unannounced = true;
    q.no_counts = true;
    Ok(q)
}

/// The query for `agent`'s unread mail from others (`order`: "asc" or
/// "desc" by time), with its total count.
pub(crate) fn unread_query(state: &State, caller: &Caller, agent: &str, limit: u32, order: &str) -> HResult<ListQuery> {
    let list = ListParams {
        caller_agent_id: Some(agent.to_string()),
        for_agent: Some(agent.to_string()),
        exclude_self: true,
        unread: true,
        sort_order: Some(order.into()),
        page_size: Some(i64::from(limit)),
        ..Default::default()
    };
    super::message::list_query(state, caller, &list)
}

/// Claims what `q` finds for `agent` through `channel`: marks it announced
/// and returns it. Looks on a reader first, so the common case (nothing
/// new) costs the writer nothing.
pub(crate) async fn claim(state: &State, agent: &str, q: &ListQuery, channel: Channel) -> HResult<Vec<MessageSummary>> {
    let found = state.read(|r| Ok(query::list_messages(r, q)?))?;
    if found.messages.is_empty() {
        return Ok(Vec::new());
    }
    let (agent, q) = (agent.to_string(), q.clone());
    state
        .writer
        .submit(move |c| {
            // Again in the writer: another channel may have claimed some.
            let messages = query::list_messages(c, &q)?.messages;
            let session_id = query::active_session(c, &agent)?.map(|s| s.session_id).unwrap_or_default();
            let events = messages.iter().map(|m| announced(&m.message_id, &agent, &session_id, channel)).collect();
            Ok((events, messages))
        })
        .await
}

/// Claims one message for `agent`, if it is still unread and unannounced.
pub(super) async fn claim_one(state: &State, agent: &str, message_id: &str, channel: Channel) -> HResult<bool> {
    let (agent, id) = (agent.to_string(), message_id.to_string());
    state
        .writer
        .submit(move |c| {
            if query::announced_or_read(c, &id, &agent)? {
                return Ok((Vec::new(), false));
            }
            let session_id = query::active_session(c, &agent)?.map(|s| s.session_id).unwrap_or_default();
            Ok((vec![announced(&id, &agent, &session_id, channel)], true))
        })
        .await
}

fn announced(message_id: &str, agent: &str, session_id: &str, channel: Channel) -> Event {
    Event::new(
        MESSAGE_ANNOUNCED,
        &MessageAnnounced {
            message_id: message_id.to_string(),
            agent_id: agent.to_string(),
            session_id: session_id.to_string(),
            channel: channel.as_str().to_string(),
            ..Default::default()
        },
    )
}
