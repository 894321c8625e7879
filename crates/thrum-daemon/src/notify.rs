//! Push notifications: `notification.message` for every new message that
//! matches one of a session's subscriptions, sent on the connection that
//! subscribed.
//!
//! Each such connection has a task reading the commit feed. Pushes go
//! into the connection's bounded queue without waiting: a consumer that
//! does not keep up loses pushes rather than slowing anyone down, and is
//! then told how many it missed and how to catch up.

use serde_json::{Value, json};
use thrum_core::event::{MessageCreate, Payload};
use thrum_proto::Notification;
use thrum_proto::frame::encode;
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

/// Role and module of message authors, looked up once per connection.
type AuthorCache = std::collections::HashMap<String, (String, String)>;

fn message_params(
    state: &State,
    authors: &mut AuthorCache,
    m: &MessageCreate,
    ts: &str,
    sub: &Subscription,
    kind: &str,
) -> Value {
    let (role, module) = authors
        .entry(m.agent_id.clone())
        .or_insert_with(|| {
            state
                .read(|r| Ok(query::agent(r, &m.agent_id)?))
                .ok()
                .flatten()
                .map(|a| (a.role, a.module))
                .unwrap_or_default()
        })
        .clone();
    json!({
        "message_id": m.message_id,
        "thread_id": m.thread_id,
        "author": { "agent_id": m.agent_id, "role": role, "module": module },
        "preview": preview(&m.body.content),
        "scopes": m.scopes,
        "matched_subscription": { "subscription_id": sub.id, "match_type": kind },
        "timestamp": ts,
    })
}

/// Pushes matching messages for `session_id` until its subscriptions are
/// gone or the connection closes.
pub async fn push_session(state: State, session_id: String, out: mpsc::Sender<Vec<u8>>) {
    let mut feed = state.feed.subscribe();
    let mut missed: u64 = 0;
    let mut authors = AuthorCache::new();
    loop {
        tokio::select! {
            // Once the reader makes room again, tell it what it missed.
            permit = out.reserve(), if missed > 0 => match permit {
                Ok(p) => {
                    let n = Notification::new(
                        "notification.missed",
                        json!({ "count": missed, "hint": "some notifications were dropped because they were not read in time: call message.list to catch up" }),
                    );
                    p.send(encode(&n));
                    missed = 0;
                }
                Err(_) => return,
            },
            got = feed.recv() => match got {
                Ok(events) => {
                    for ev in events.iter().filter(|e| e.kind() == "message.create") {
                        let subs = state.subscriptions.for_session(&session_id);
                        let Some(me) = subs.first().map(|s| s.agent_id.clone()) else { return };
                        let Ok(Payload::MessageCreate(m)) = ev.payload() else { continue };
                        if m.agent_id == me {
                            continue;
                        }
                        let Some((sub, kind)) = matches(&subs, &m) else { continue };
                        let n = Notification::new("notification.message", message_params(&state, &mut authors, &m, ev.timestamp(), sub, kind));
                        // Never wait on a slow reader: count what does not fit.
                        match out.try_send(encode(&n)) {
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
        if method != thrum_proto::methods::system::SUBSCRIBE {
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
}
