//! Push notifications: `notification.message` for every new message that
//! matches one of a session's subscriptions, sent on the connection that
//! subscribed.
//!
//! Each such connection has a task reading the commit feed. Pushes go
//! into the connection's bounded queue without waiting: a consumer that
//! does not keep up loses pushes rather than slowing anyone down, and is
//! then told how many it missed and how to catch up.

use serde_json::Value;
use thrum_core::event::{MessageCreate, Payload};
use thrum_proto::Notification;
use thrum_proto::frame::encode;
use thrum_proto::methods::system::{
    MatchedSubscription, MessageNotification, MessagePushed, Missed, MissedNotification, NotificationAuthor, Subscribe,
};
use thrum_proto::methods::{Method, Notification as NotificationMethod};
use thrum_store::query;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::state::State;
use crate::subscriptions::Subscription;

/// The first subscription a message matches, and how.
pub fn matches<'a>(subs: &'a [Subscription], m: &MessageCreate) -> Option<(&'a Subscription, &'static str)> {
    subs.iter().find_map(|s| {
        if !s.scope_type.is_empty() && m.scopes.iter().any(|x| x.kind == s.scope_type && x.value == s.scope_value) {
            return Some((s, "scope"));
        }
        if !s.mention_role.is_empty() && m.refs.iter().any(|r| r.kind == "mention" && r.value == s.mention_role) {
            return Some((s, "mention"));
        }
        s.all.then_some((s, "all"))
    })
}

/// The first 100 characters of a message, for a preview.
fn preview(text: &str) -> String {
    let mut p: String = text.chars().take(100).collect();
    if text.chars().count() > 100 {
        p.push_str("...");
    }
    p
}

/// A new message, prepared once for every connection that pushes it: the
/// parsed event and the encoded notification up to the one field that
/// differs per subscriber (`matched_subscription`).
pub struct Prepared {
    pub event_id: String,
    pub message: MessageCreate,
    /// `{"jsonrpc":"2.0","method":"notification.message","params":{…` without
    /// the closing braces.
    head: String,
}

impl Prepared {
    fn new(state: &State, event_id: &str, m: MessageCreate, ts: &str) -> Prepared {
        let (role, module) = state
            .read(|r| Ok(query::agent(r, &m.agent_id)?))
            .ok()
            .flatten()
            .map(|a| (a.role, a.module))
            .unwrap_or_default();
        Prepared::with_author(event_id, m, ts, &role, &module)
    }

    fn with_author(event_id: &str, m: MessageCreate, ts: &str, role: &str, module: &str) -> Prepared {
        // Everything but `matched_subscription`, which comes last (the
        // declared field order) and differs per subscriber.
        let params = MessageNotification {
            author: NotificationAuthor { agent_id: m.agent_id.clone(), module: module.into(), role: role.into() },
            message_id: m.message_id.clone(),
            preview: preview(&m.body.content),
            scopes: m.scopes.clone(),
            thread_id: m.thread_id.clone(),
            timestamp: ts.into(),
            matched_subscription: None,
        };
        let n = Notification::new(<MessagePushed as NotificationMethod>::METHOD, Value::Null);
        let envelope = serde_json::to_string(&n).unwrap_or_default();
        let body = serde_json::to_string(&params).unwrap_or_else(|_| "{}".into());
        // `{"jsonrpc":"2.0","method":"notification.message","params":` then
        // the params without their closing brace.
        let envelope = envelope.strip_suffix("null}").unwrap_or(&envelope);
        let open = body.strip_suffix('}').unwrap_or("{");
        let head = format!("{envelope}{open}");
        Prepared { event_id: event_id.to_string(), message: m, head }
    }

    /// The whole notification line for one subscription.
    pub fn frame(&self, sub: &Subscription, kind: &str) -> Vec<u8> {
        let matched = MatchedSubscription { match_type: kind.into(), subscription_id: sub.id };
        let matched = serde_json::to_string(&matched).unwrap_or_else(|_| "{}".into());
        let mut out = Vec::with_capacity(self.head.len() + matched.len() + 28);
        out.extend_from_slice(self.head.as_bytes());
        if !self.head.ends_with('{') {
            out.push(b',');
        }
        out.extend_from_slice(br#""matched_subscription":"#);
        out.extend_from_slice(matched.as_bytes());
        out.extend_from_slice(b"}}\n");
        out
    }
}

/// The last few prepared messages, shared by all push tasks: the first
/// task to see a message prepares it, the others reuse it.
#[derive(Default)]
pub struct PreparedCache {
    recent: std::sync::Mutex<std::collections::VecDeque<std::sync::Arc<Prepared>>>,
}

/// Enough to cover any burst the push tasks are working through.
const PREPARED_KEPT: usize = 512;

impl PreparedCache {
    fn get(&self, state: &State, ev: &thrum_core::Event) -> Option<std::sync::Arc<Prepared>> {
        let id = ev.event_id();
        {
            let g = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = g.iter().rev().find(|p| p.event_id == id) {
                return Some(p.clone());
            }
        }
        let Ok(Payload::MessageCreate(m)) = ev.payload() else { return None };
        let p = std::sync::Arc::new(Prepared::new(state, id, m, ev.timestamp()));
        let mut g = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(other) = g.iter().rev().find(|q| q.event_id == id) {
            return Some(other.clone()); // another task won the race
        }
        if g.len() >= PREPARED_KEPT {
            g.pop_front();
        }
        g.push_back(p.clone());
        Some(p)
    }
}

/// Pushes matching messages for `session_id` until its subscriptions are
/// gone or the connection closes.
pub async fn push_session(state: State, session_id: String, out: mpsc::Sender<Vec<u8>>) {
    let mut feed = state.feed.subscribe();
    let mut missed: u64 = 0;
    // This session's subscriptions, re-read only when any changed.
    let mut subs_version = u64::MAX;
    let mut subs: Vec<Subscription> = Vec::new();
    loop {
        tokio::select! {
            // Once the reader makes room again, tell it what it missed.
            permit = out.reserve(), if missed > 0 => match permit {
                Ok(p) => {
                    let params = MissedNotification {
                        count: missed,
                        hint: "some notifications were dropped because they were not read in time: call message.list to catch up".into(),
                    };
                    let n = Notification::new(
                        <Missed as NotificationMethod>::METHOD,
                        serde_json::to_value(params).unwrap_or_default(),
                    );
                    p.send(encode(&n));
                    missed = 0;
                }
                Err(_) => return,
            },
            got = feed.recv() => match got {
                Ok(events) => {
                    for ev in events.iter().filter(|e| e.kind() == "message.create") {
                        let v = state.subscriptions.version();
                        if v != subs_version {
                            subs = state.subscriptions.for_session(&session_id);
                            subs_version = v;
                        }
                        let Some(me) = subs.first().map(|s| s.agent_id.as_str()) else { return };
                        let Some(p) = state.prepared.get(&state, ev) else { continue };
                        if p.message.agent_id == me {
                            continue;
                        }
                        let Some((sub, kind)) = matches(&subs, &p.message) else { continue };
                        // Never wait on a slow reader: count what does not fit.
                        match out.try_send(p.frame(sub, kind)) {
                            Ok(()) => {}
                            Err(mpsc::error::TrySendError::Full(_)) => missed += 1,
                            Err(mpsc::error::TrySendError::Closed(_)) => return,
                        }
                    }
                }
                Err(RecvError::Lagged(n)) => missed += n,
                Err(RecvError::Closed) => return,
            },
        }
    }
}

/// The push tasks of one connection: one per session subscribed on it,
/// all stopped when the connection ends (on drop).
pub struct Pushes {
    out: mpsc::Sender<Vec<u8>>,
    sessions: std::collections::HashSet<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Pushes {
    pub fn new(out: mpsc::Sender<Vec<u8>>) -> Self {
        Pushes { out, sessions: Default::default(), tasks: Vec::new() }
    }

    /// After a successful `subscribe` on this connection, starts pushing
    /// for its session (once per session).
    pub fn after_call(&mut self, state: &State, method: &str, response: Option<&thrum_proto::Response>) {
        if method != <Subscribe as Method>::METHOD {
            return;
        }
        let sid = response.and_then(|r| r.result.as_ref()).and_then(|v| v.get("session_id")).and_then(Value::as_str);
        if let Some(sid) = sid
            && self.sessions.insert(sid.to_string())
        {
            self.tasks.push(tokio::spawn(push_session(state.clone(), sid.to_string(), self.out.clone())));
        }
    }
}

impl Drop for Pushes {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thrum_core::Scope;

    fn sub(id: i64, scope: Option<(&str, &str)>, mention: &str, all: bool) -> Subscription {
        Subscription {
            id,
            session_id: "s".into(),
            agent_id: "bob".into(),
            scope_type: scope.map(|s| s.0.to_string()).unwrap_or_default(),
            scope_value: scope.map(|s| s.1.to_string()).unwrap_or_default(),
            mention_role: mention.into(),
            all,
            created_at: String::new(),
        }
    }

    #[test]
    fn matching_rules() {
        let m = MessageCreate {
            scopes: vec![Scope::new("module", "auth")],
            refs: vec![Scope::new("mention", "reviewer")],
            ..Default::default()
        };
        let subs = vec![sub(1, Some(("module", "ui")), "", false), sub(2, None, "reviewer", false)];
        assert_eq!(matches(&subs, &m).map(|(s, k)| (s.id, k)), Some((2, "mention")));
        let subs = vec![sub(3, Some(("module", "auth")), "", false)];
        assert_eq!(matches(&subs, &m).map(|(s, k)| (s.id, k)), Some((3, "scope")));
        let subs = vec![sub(4, None, "", true)];
        assert_eq!(matches(&subs, &m).map(|(_, k)| k), Some("all"));
        let subs = vec![sub(5, Some(("module", "db")), "tester", false)];
        assert!(matches(&subs, &m).is_none());
        assert_eq!(preview(&"x".repeat(150)).len(), 103);
    }

    #[test]
    fn prepared_frames_are_whole_notifications() {
        let m = MessageCreate {
            message_id: "msg_1".into(),
            agent_id: "alice".into(),
            body: thrum_core::event::MessageBody { content: "hi \"there\"".into(), ..Default::default() },
            ..Default::default()
        };
        let p = Prepared::with_author("evt_1", m, "2026-01-01T00:00:00Z", "dev", "auth");
        let line = p.frame(&sub(7, None, "", true), "all");
        assert_eq!(line.last(), Some(&b'\n'));
        // The line is a whole notification of the declared type, and the
        // same bytes as encoding that type at once.
        let whole: Notification = serde_json::from_slice(&line).unwrap_or_else(|e| panic!("{e}"));
        let typed: MessageNotification = serde_json::from_value(whole.params).unwrap_or_else(|e| panic!("{e}"));
        #[derive(serde::Serialize)]
        struct Typed<'a> {
            jsonrpc: &'a str,
            method: &'a str,
            params: &'a MessageNotification,
        }
        let again = encode(&Typed { jsonrpc: "2.0", method: "notification.message", params: &typed });
        assert_eq!(String::from_utf8_lossy(&again), String::from_utf8_lossy(&line));
        let v: Value = serde_json::from_slice(&line).unwrap_or_default();
        assert_eq!(v["method"], "notification.message");
        assert_eq!(v["params"]["message_id"], "msg_1");
        assert_eq!(v["params"]["preview"], "hi \"there\"");
        assert_eq!(v["params"]["author"]["role"], "dev");
        assert_eq!(v["params"]["matched_subscription"]["subscription_id"], 7);
        assert_eq!(v["params"]["matched_subscription"]["match_type"], "all");
    }
}
