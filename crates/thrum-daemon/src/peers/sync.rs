//! Peer replication, the serving side and the translation of what we pull.
//!
//! Each daemon queues, per peer, the events that peer's agents must see
//! (`thrum_store::projection::feed`). A peer pulls them with `sync.pull`
//! (token-authenticated, in batches, with a per-peer checkpoint) and we
//! tell it to do so at once with `sync.notify`. What it pulls it rewrites
//! into its own names: the author `alice` becomes `{prefix}:alice`, the
//! recipient `{its prefix for us}:bob` becomes `bob`. Message ids stay the
//! same on both sides, so replies and receipts find their message.

use serde_json::{Value, json};
use thrum_core::Event;
use thrum_store::projection::feed;

use super::registry::Peer;
use crate::error::{Fail, HResult};
use crate::state::State;
use thrum_proto::methods::peer_link::{PeerInfoResult, StatusResult, TokenParams};

/// Events per `sync.pull` answer.
pub const PULL_LIMIT: i64 = 500;

/// The refusal a bad token gets (the dialer stops retrying on it).
pub const TOKEN_REJECTED: &str = "token rejected: this daemon has no peer with that token (pair again)";

/// The peer a token belongs to, compared in constant time.
pub fn peer_for_token(state: &State, token: &str) -> HResult<Peer> {
    let mut found = None;
    // Every entry is compared, so timing does not tell which one matched.
    for p in state.peers.all() {
        if super::same_secret(&p.token, token) && !p.token.is_empty() {
            found = Some(p);
        }
    }
    found.ok_or_else(|| Fail(thrum_proto::RpcError::new(thrum_proto::ErrorCode::Identity, TOKEN_REJECTED)))
}

pub use thrum_proto::methods::peer_link::{PullParams, PullResult, PulledEvent};

/// `sync.pull {token, epoch, after_seq, limit}`: the caller's queued
/// events after its checkpoint. Asking for what comes after `after_seq`
/// also tells us it holds everything up to there.
pub async fn pull(state: &State, p: PullParams) -> HResult<PullResult> {
    let peer = peer_for_token(state, &p.token)?;
    let prefix = peer.proxy_prefix.clone();
    let epoch = state.read(|r| Ok(feed::epoch(r)?))?;
    // A checkpoint from another epoch means nothing here: start over (the
    // caller drops what it already has by event id).
    let after = if p.epoch == epoch { p.after_seq.max(0) } else { 0 };
    let limit = if p.limit <= 0 { PULL_LIMIT } else { p.limit.min(PULL_LIMIT) };
    let (items, more) = state.read(|r| Ok(feed::after(r, &prefix, after, limit)?))?;
    let (ack_prefix, ack_epoch) = (prefix.clone(), epoch.clone());
    state
        .writer
        .submit(move |c| {
            feed::set_acked(c, &ack_prefix, &ack_epoch, after)?;
            Ok((Vec::new(), ()))
        })
        .await?;
    let next_seq = items.last().map_or(after, |i| i.seq);
    let events = items
        .into_iter()
        .filter_map(|i| serde_json::from_str(&i.body).ok().map(|event| PulledEvent { seq: i.seq, event }))
        .collect();
    Ok(PullResult {
        epoch,
        prefix,
        events,
        next_seq,
        more_available: more,
        daemon_id: state.identity.daemon_id.clone(),
    })
}

/// `sync.notify {token}`: the caller has something new for us; pull now.
/// Starts our link to it if none runs (`peers.auto_connect` off).
pub async fn notify(state: &State, p: TokenParams) -> HResult<StatusResult> {
    let peer = peer_for_token(state, &p.token)?;
    state.links.ensure(state, &peer.name);
    state.links.kick(&peer.name);
    Ok(StatusResult { status: "ok".into() })
}

/// `sync.peer_info {token}`: who we are, for a paired daemon only (the
/// token is checked like every other link method's).
pub fn peer_info(state: &State, p: TokenParams) -> HResult<PeerInfoResult> {
    peer_for_token(state, &p.token)?;
    let side = super::rpc::our_side(state);
    Ok(PeerInfoResult { name: side.repo_name.clone(), side })
}

/// Rewrites one pulled event into our names, or None for what we do not
/// take from peers. `theirs` is what the peer calls us, `ours` what we
/// call it.
pub fn translate(raw: Value, theirs: &str, ours: &str) -> Option<Event> {
    let mut ev = Event::from_object(raw).ok()?;
    // A peer is trusted to send, not to send anything: ids must be ids and
    // bodies within what a local send may carry.
    let valid_message_id = ev
        .as_object()
        .get("message_id")
        .and_then(Value::as_str)
        .is_some_and(|id| thrum_core::ids::is_valid(thrum_core::IdKind::Message, id));
    let content_len =
        ev.as_object().get("body").and_then(|b| b.get("content")).and_then(Value::as_str).map_or(0, str::len);
    if ev.event_id().is_empty() || !valid_message_id || content_len > thrum_proto::methods::message::MAX_CONTENT {
        return None;
    }
    let strip = |s: &str| s.strip_prefix(theirs).and_then(|r| r.strip_prefix(':')).map(str::to_string);
    let proxied = |s: &str| format!("{ours}:{s}");
    let o = ev.as_object_mut();
    match o.get("type").and_then(Value::as_str)? {
        "message.create" => {
            let author = o.get("agent_id").and_then(Value::as_str)?.to_string();
            if thrum_core::AgentName::parse(&author).is_err() {
                return None;
            }
            o.insert("agent_id".into(), Value::from(proxied(&author)));
            if let Some(by) = o.get("authored_by").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                let by = proxied(by);
                o.insert("authored_by".into(), Value::from(by));
            }
            let recipients: Vec<String> = o
                .get("recipients")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).filter_map(strip).collect())
                .unwrap_or_default();
            if recipients.is_empty() {
                return None;
            }
            o.insert("recipients".into(), json!(recipients));
            // Mentions of our agents lose the prefix; the peer's own
            // mentions, groups and broadcasts mean nothing here.
            let refs: Vec<Value> = o
                .get("refs")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|r| {
                            let kind = r.get("type").and_then(Value::as_str)?;
                            let value = r.get("value").and_then(Value::as_str)?;
                            match kind {
                                "mention" => strip(value).map(|v| json!({ "type": "mention", "value": v })),
                                "group" | "broadcast" => None,
                                _ => Some(r.clone()),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            o.insert("refs".into(), Value::Array(refs));
            let scopes: Vec<Value> = o
                .get("scopes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter(|s| !matches!(s.get("type").and_then(Value::as_str), Some("group" | "broadcast")))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            o.insert("scopes".into(), Value::Array(scopes));
        }
        // A receipt or announcement by the peer's agent of our agent's message.
        "message.receipt" | thrum_core::event::MESSAGE_ANNOUNCED => {
            let reader = o.get("agent_id").and_then(Value::as_str)?.to_string();
            if thrum_core::AgentName::parse(&reader).is_err() {
                return None;
            }
            o.insert("agent_id".into(), Value::from(proxied(&reader)));
        }
        _ => return None,
    }
    // Our sequence is stamped on write; the origin stays the peer's.
    o.remove("sequence");
    Some(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_renamed_into_our_names() {
        let raw = json!({
            "type": "message.create", "event_id": "evt_1", "timestamp": "2026-01-01T00:00:00Z", "v": 1,
            "origin_daemon": "d_a", "sequence": 7,
            "message_id": "msg_1", "agent_id": "alice", "body": {"format": "markdown", "content": "hi"},
            "recipients": ["b:bob", "carol", "c:dave"],
            "refs": [{"type": "mention", "value": "b:bob"}, {"type": "mention", "value": "carol"},
                     {"type": "reply_to", "value": "msg_0"}, {"type": "group", "value": "team"}],
            "scopes": [{"type": "module", "value": "auth"}, {"type": "group", "value": "team"}],
        });
        let ev = translate(raw, "b", "a").unwrap_or_else(|| panic!("dropped"));
        let o = ev.as_object();
        assert_eq!(o["agent_id"], "a:alice");
        assert_eq!(o["recipients"], json!(["bob"]));
        assert_eq!(o["refs"], json!([{"type": "mention", "value": "bob"}, {"type": "reply_to", "value": "msg_0"}]));
        assert_eq!(o["scopes"], json!([{"type": "module", "value": "auth"}]));
        assert_eq!(o["origin_daemon"], "d_a");
        assert!(o.get("sequence").is_none());
    }

    #[test]
    fn receipts_are_renamed_and_the_rest_is_refused() {
        let r = json!({"type": "message.receipt", "event_id": "e", "timestamp": "t", "message_id": "msg_1",
                       "agent_id": "bob", "receipt_type": "read"});
        let ev = translate(r, "a", "b").unwrap_or_else(|| panic!("dropped"));
        assert_eq!(ev.as_object()["agent_id"], "b:bob");
        // Nothing addressed to us, or another kind: not taken.
        let none = json!({"type": "message.create", "event_id": "e", "timestamp": "t", "message_id": "msg_1",
                          "agent_id": "alice", "recipients": ["carol"]});
        assert!(translate(none, "b", "a").is_none());
        // Malformed ids and oversized bodies are refused.
        let bad_id = json!({"type": "message.create", "event_id": "e", "timestamp": "t", "message_id": "../x",
                            "agent_id": "alice", "recipients": ["b:bob"]});
        assert!(translate(bad_id, "b", "a").is_none());
        let huge = "x".repeat(thrum_proto::methods::message::MAX_CONTENT + 1);
        let big = json!({"type": "message.create", "event_id": "e", "timestamp": "t", "message_id": "msg_2",
                         "agent_id": "alice", "recipients": ["b:bob"], "body": {"content": huge}});
        assert!(translate(big, "b", "a").is_none());
        let other = json!({"type": "agent.register", "event_id": "e", "timestamp": "t", "agent_id": "x"});
        assert!(translate(other, "b", "a").is_none());
    }
}
