//! Golden tests of the wire: the exact bytes of a representative request
//! and response of each method family, as the client writes requests
//! (`encode_call`) and the daemon writes answers (a result encoded to a
//! JSON value inside a `Response` line). A renamed field, a changed
//! omission rule or a new field breaks one of these.
//!
//! Each family also decodes the example the original documents (its
//! `docs/rpc-api.md` and `docs/api/*.md`), with fields we do not know
//! (`acting_as`, `body`, `display`…): other clients' requests keep working.

use serde::Serialize;
use serde_json::{Value, json};
use thrum_core::Scope;
use thrum_core::config::DaemonIdentity;
use thrum_core::event::MessageBody;
use thrum_core::views::MessageSummary;
use thrum_proto::frame::encode;
use thrum_proto::jsonrpc::encode_call;
use thrum_proto::methods::{Empty, Method, agent, group, message, peer_link, system};
use thrum_proto::{Notification, Response};

/// A request line as the client writes it.
fn request<M: Method>(params: &M::Params) -> String {
    String::from_utf8(encode_call::<M>(1, params).expect("encode")).expect("utf-8")
}

/// A response line as the daemon writes it.
fn response<T: Serialize>(result: &T) -> String {
    let v = serde_json::to_value(result).expect("encode");
    String::from_utf8(encode(&Response::ok(json!(1), v))).expect("utf-8")
}

/// Decodes a documented example into our type and back: every field the
/// example gives that we know keeps its value, at any depth.
fn decodes_documented<T: serde::de::DeserializeOwned + Serialize>(example: Value) -> T {
    let typed: T = serde_json::from_value(example.clone()).unwrap_or_else(|e| panic!("{e}: {example}"));
    let back = serde_json::to_value(&typed).expect("encode");
    same_where_both(&example, &back, "$");
    typed
}

fn same_where_both(given: &Value, ours: &Value, at: &str) {
    match (given, ours) {
        (Value::Object(g), Value::Object(o)) => {
            for (k, v) in o {
                if let Some(gv) = g.get(k) {
                    same_where_both(gv, v, &format!("{at}.{k}"));
                }
            }
        }
        (Value::Array(g), Value::Array(o)) => {
            assert_eq!(g.len(), o.len(), "{at}");
            for (i, (gv, ov)) in g.iter().zip(o).enumerate() {
                same_where_both(gv, ov, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(given, ours, "{at}"),
    }
}

#[test]
fn health() {
    assert_eq!(
        request::<system::Health>(&Empty {}),
        "{\"jsonrpc\":\"2.0\",\"method\":\"health\",\"params\":{},\"id\":1}\n"
    );
    let r = system::HealthResult {
        status: "ok".into(),
        uptime_ms: 5445000,
        version: "0.1.0".into(),
        repo_id: String::new(),
        sync_state: "synced".into(),
        identity: Some(DaemonIdentity {
            daemon_id: "d_01J".into(),
            repo_name: "api".into(),
            hostname: "box".into(),
            repo_path: "/src/api".into(),
            git_origin_url: String::new(),
            init_at: "2026-02-03T10:00:00Z".into(),
        }),
        pid: 42,
        protocol_version: 1,
        started_at: "2026-02-03T10:00:00Z".into(),
        socket_path: "/src/api/.thrum/var/thrum.sock".into(),
        local_only: Some(true),
        ws_port: 9100,
        warnings: Vec::new(),
    };
    assert_eq!(
        response(&r),
        concat!(
            r#"{"jsonrpc":"2.0","result":{"identity":{"daemon_id":"d_01J","hostname":"box","init_at":"2026-02-03T10:00:00Z","repo_name":"api","repo_path":"/src/api"},"local_only":true,"pid":42,"protocol_version":1,"repo_id":"","socket_path":"/src/api/.thrum/var/thrum.sock","started_at":"2026-02-03T10:00:00Z","status":"ok","sync_state":"synced","uptime_ms":5445000,"version":"0.1.0","ws_port":9100},"id":1}"#,
            "\n"
        )
    );
    // docs/api/websocket.md
    let doc: system::HealthResult = decodes_documented(json!({
        "status": "ok", "uptime_ms": 5445000, "version": "0.1.0", "repo_id": "r_ABC123", "sync_state": "idle"
    }));
    assert_eq!(doc.repo_id, "r_ABC123");
}

#[test]
fn agent_register() {
    let p = agent::RegisterParams {
        name: "furiosa".into(),
        role: "implementer".into(),
        module: "auth".into(),
        display: "Auth Implementer".into(),
        ..Default::default()
    };
    assert_eq!(
        request::<agent::Register>(&p),
        concat!(
            r#"{"jsonrpc":"2.0","method":"agent.register","params":{"name":"furiosa","role":"implementer","module":"auth","display":"Auth Implementer"},"id":1}"#,
            "\n"
        )
    );
    let r = agent::RegisterResult {
        agent_id: "furiosa".into(),
        status: "registered".into(),
        session_id: "ses_01HXE".into(),
        ..Default::default()
    };
    assert_eq!(
        response(&r),
        concat!(
            r#"{"jsonrpc":"2.0","result":{"agent_id":"furiosa","session_id":"ses_01HXE","status":"registered"},"id":1}"#,
            "\n"
        )
    );
    let conflict = agent::RegisterResult {
        agent_id: "furiosa".into(),
        status: "conflict".into(),
        conflict: Some(agent::Conflict {
            existing_agent_id: "furiosa".into(),
            registered_at: "2026-02-03T10:00:00Z".into(),
            last_seen_at: "2026-02-03T11:00:00Z".into(),
            conflict_pid: None,
        }),
        ..Default::default()
    };
    assert_eq!(
        response(&conflict),
        concat!(
            r#"{"jsonrpc":"2.0","result":{"agent_id":"furiosa","conflict":{"existing_agent_id":"furiosa","last_seen_at":"2026-02-03T11:00:00Z","registered_at":"2026-02-03T10:00:00Z"},"status":"conflict"},"id":1}"#,
            "\n"
        )
    );
    // docs/api/authentication.md
    let doc: agent::RegisterParams = decodes_documented(
        json!({ "name": "furiosa", "role": "implementer", "module": "auth", "display": "Auth Implementer" }),
    );
    assert_eq!((doc.name.as_str(), doc.display.as_str()), ("furiosa", "Auth Implementer"));
    decodes_documented::<agent::RegisterResult>(json!({ "agent_id": "furiosa", "status": "registered" }));
}

#[test]
fn message_send() {
    let p = message::SendParams {
        content: "Auth module ready for review".into(),
        message_id: Some("msg_01HXE0000000000000000000".into()),
        mentions: vec!["@reviewer".into()],
        scopes: vec![Scope::new("module", "auth")],
        caller_agent_id: Some("furiosa".into()),
        ..Default::default()
    };
    assert_eq!(
        request::<message::Send>(&p),
        concat!(
            r#"{"jsonrpc":"2.0","method":"message.send","params":{"content":"Auth module ready for review","message_id":"msg_01HXE0000000000000000000","scopes":[{"type":"module","value":"auth"}],"mentions":["@reviewer"],"caller_agent_id":"furiosa"},"id":1}"#,
            "\n"
        )
    );
    let r = message::SendResult {
        message_id: "msg_01HXE0000000000000000000".into(),
        created_at: "2026-02-03T12:00:00Z".into(),
        resolved_to: 1,
        ..Default::default()
    };
    assert_eq!(
        response(&r),
        concat!(
            r#"{"jsonrpc":"2.0","result":{"created_at":"2026-02-03T12:00:00Z","message_id":"msg_01HXE0000000000000000000","resolved_to":1},"id":1}"#,
            "\n"
        )
    );
    // docs/api/websocket.md and authentication.md: `body` and `acting_as`
    // are not ours, and are accepted (ignored).
    let doc: message::SendParams = decodes_documented(json!({
        "content": "Hello, world!",
        "thread_id": "thr_abc123",
        "scopes": [{ "type": "task", "value": "PROJ-123" }],
        "refs": [{ "type": "mention", "value": "reviewer" }],
        "body": { "format": "markdown", "structured": "{\"key\":\"value\"}" },
        "acting_as": "furiosa"
    }));
    assert_eq!(doc.refs, vec![Scope::new("mention", "reviewer")]);
    decodes_documented::<message::SendResult>(json!({
        "message_id": "msg_01HXE...", "thread_id": "thr_abc123", "created_at": "2026-02-03T12:00:00Z", "resolved_to": 1
    }));
}

#[test]
fn message_list() {
    let p = message::ListParams {
        for_agent: Some("bob".into()),
        for_agent_role: Some("reviewer".into()),
        unread: true,
        exclude_self: true,
        page_size: Some(50),
        page: Some(1),
        sort_order: Some("desc".into()),
        caller_agent_id: Some("bob".into()),
        ..Default::default()
    };
    assert_eq!(
        request::<message::List>(&p),
        concat!(
            r#"{"jsonrpc":"2.0","method":"message.list","params":{"unread":true,"exclude_self":true,"caller_agent_id":"bob","for_agent":"bob","for_agent_role":"reviewer","page_size":50,"page":1,"sort_order":"desc"},"id":1}"#,
            "\n"
        )
    );
    let r = message::ListResult {
        messages: vec![MessageSummary {
            message_id: "msg_01HXE".into(),
            agent_id: "furiosa".into(),
            body: MessageBody {
                format: "markdown".into(),
                content: "Auth module complete, all tests passing".into(),
                structured: String::new(),
            },
            created_at: "2026-02-03T15:41:12Z".into(),
            is_read: true,
            ..Default::default()
        }],
        total: 150,
        unread: 5,
        page: 1,
        page_size: 50,
        total_pages: 3,
    };
    assert_eq!(
        response(&r),
        concat!(
            r#"{"jsonrpc":"2.0","result":{"messages":[{"agent_id":"furiosa","body":{"content":"Auth module complete, all tests passing","format":"markdown"},"created_at":"2026-02-03T15:41:12Z","deleted":false,"is_read":true,"message_id":"msg_01HXE"}],"page":1,"page_size":50,"total":150,"total_pages":3,"unread":5},"id":1}"#,
            "\n"
        )
    );
    // docs/inbox-query-methods.md
    let doc: message::ListParams = decodes_documented(json!({
        "author_id": "furiosa",
        "scope": { "type": "module", "value": "auth" },
        "ref": { "type": "mention", "value": "reviewer" },
        "mentions": true,
        "unread": true,
        "mention_role": "reviewer",
        "unread_for_agent": "furiosa",
        "page_size": 50,
        "page": 1,
        "sort_by": "created_at",
        "sort_order": "desc"
    }));
    assert_eq!(doc.reference, Some(Scope::new("mention", "reviewer")));
    let doc: message::ListResult = decodes_documented(json!({
        "messages": [{
            "message_id": "msg_01HXE...",
            "agent_id": "furiosa",
            "body": { "format": "markdown", "content": "Auth module complete, all tests passing", "structured": "" },
            "created_at": "2026-02-03T15:41:12Z",
            "deleted": false,
            "is_read": true
        }],
        "total": 150, "unread": 5, "page": 1, "page_size": 50, "total_pages": 3
    }));
    assert_eq!(doc.messages[0].body.content, "Auth module complete, all tests passing");
}

#[test]
fn group_create() {
    let p = group::CreateParams {
        name: "reviewers".into(),
        description: "Code reviewers".into(),
        caller_agent_id: Some("furiosa".into()),
    };
    assert_eq!(
        request::<group::Create>(&p),
        concat!(
            r#"{"jsonrpc":"2.0","method":"group.create","params":{"name":"reviewers","description":"Code reviewers","caller_agent_id":"furiosa"},"id":1}"#,
            "\n"
        )
    );
    let r = group::CreateResult {
        group_id: "grp_01HXE".into(),
        name: "reviewers".into(),
        created_at: "2026-02-03T10:00:00Z".into(),
        created_by: "furiosa".into(),
    };
    assert_eq!(
        response(&r),
        concat!(
            r#"{"jsonrpc":"2.0","result":{"created_at":"2026-02-03T10:00:00Z","created_by":"furiosa","group_id":"grp_01HXE","name":"reviewers"},"id":1}"#,
            "\n"
        )
    );
    // docs/rpc-api.md gives the fields (no example).
    decodes_documented::<group::CreateParams>(json!({ "name": "reviewers", "description": "Code reviewers" }));
}

#[test]
fn subscribe() {
    let p = system::SubscribeParams { scope: Some(Scope::new("module", "auth")), ..Default::default() };
    assert_eq!(
        request::<system::Subscribe>(&p),
        concat!(
            r#"{"jsonrpc":"2.0","method":"subscribe","params":{"scope":{"type":"module","value":"auth"}},"id":1}"#,
            "\n"
        )
    );
    let r = system::SubscribeResult {
        subscription_id: 42,
        session_id: "ses_01HXE".into(),
        created_at: "2026-02-03T10:00:00Z".into(),
    };
    assert_eq!(
        response(&r),
        concat!(
            r#"{"jsonrpc":"2.0","result":{"created_at":"2026-02-03T10:00:00Z","session_id":"ses_01HXE","subscription_id":42},"id":1}"#,
            "\n"
        )
    );
    // docs/subscriptions.md, docs/event-streaming.md
    decodes_documented::<system::SubscribeParams>(json!({ "scope": { "type": "module", "value": "auth" } }));
    decodes_documented::<system::SubscribeParams>(json!({ "mention_role": "reviewer" }));
    decodes_documented::<system::SubscribeParams>(json!({ "all": true }));
    decodes_documented::<system::SubscribeResult>(
        json!({ "subscription_id": 42, "session_id": "ses_01HXE...", "created_at": "2026-02-03T10:00:00Z" }),
    );
    let r = system::UnsubscribeResult { removed: true };
    assert_eq!(response(&r), concat!(r#"{"jsonrpc":"2.0","result":{"removed":true},"id":1}"#, "\n"));
}

#[test]
fn notification_message() {
    let n = system::MessageNotification {
        author: system::NotificationAuthor {
            agent_id: "furiosa".into(),
            module: "auth".into(),
            role: "implementer".into(),
        },
        message_id: "msg_01HXE".into(),
        preview: "First 100 chars of message...".into(),
        scopes: vec![Scope::new("module", "auth")],
        thread_id: String::new(),
        timestamp: "2026-02-03T10:00:00Z".into(),
        matched_subscription: Some(system::MatchedSubscription { match_type: "scope".into(), subscription_id: 42 }),
    };
    // Written straight from the type (the daemon writes these bytes).
    #[derive(Serialize)]
    struct Line<'a> {
        jsonrpc: &'a str,
        method: &'a str,
        params: &'a system::MessageNotification,
    }
    let line = Line {
        jsonrpc: "2.0",
        method: <system::MessagePushed as thrum_proto::methods::Notification>::METHOD,
        params: &n,
    };
    assert_eq!(
        String::from_utf8(encode(&line)).expect("utf-8"),
        concat!(
            r#"{"jsonrpc":"2.0","method":"notification.message","params":{"author":{"agent_id":"furiosa","module":"auth","role":"implementer"},"message_id":"msg_01HXE","preview":"First 100 chars of message...","scopes":[{"type":"module","value":"auth"}],"thread_id":"","timestamp":"2026-02-03T10:00:00Z","matched_subscription":{"match_type":"scope","subscription_id":42}}}"#,
            "\n"
        )
    );
    // docs/rpc-api.md
    let doc: Notification = serde_json::from_value(json!({
        "jsonrpc": "2.0",
        "method": "notification.message",
        "params": {
            "message_id": "msg_01HXE...",
            "author": { "agent_id": "agent:implementer:auth:ABC", "role": "implementer", "module": "auth" },
            "preview": "First 100 chars of message...",
            "scopes": [{ "type": "module", "value": "auth" }],
            "matched_subscription": { "subscription_id": 42, "match_type": "scope" },
            "timestamp": "2026-02-03T10:00:00Z"
        }
    }))
    .expect("notification");
    let params: system::MessageNotification = serde_json::from_value(doc.params).expect("params");
    assert_eq!(params.matched_subscription.map(|m| m.subscription_id), Some(42));
    let missed = system::MissedNotification { count: 3, hint: "call message.list to catch up".into() };
    let n = Notification::new(
        <system::Missed as thrum_proto::methods::Notification>::METHOD,
        serde_json::to_value(missed).expect("encode"),
    );
    assert_eq!(
        String::from_utf8(encode(&n)).expect("utf-8"),
        concat!(
            r#"{"jsonrpc":"2.0","method":"notification.missed","params":{"count":3,"hint":"call message.list to catch up"}}"#,
            "\n"
        )
    );
}

/// The peer protocol is ours (the original's daemons pair differently, so
/// the two never link); its names follow the original's `tailscale-sync.md`
/// (`after_seq`, `next_seq`, `more_available`, a token on every call).
#[test]
fn sync_pull() {
    let p = peer_link::PullParams { token: "ab".repeat(32), epoch: "ep_1".into(), after_seq: 42, limit: 500 };
    assert_eq!(
        request::<peer_link::Pull>(&p),
        concat!(
            r#"{"jsonrpc":"2.0","method":"sync.pull","params":{"token":"abababababababababababababababababababababababababababababababab","epoch":"ep_1","after_seq":42,"limit":500},"id":1}"#,
            "\n"
        )
    );
    let r = peer_link::PullResult {
        epoch: "ep_1".into(),
        prefix: "web".into(),
        events: vec![peer_link::PulledEvent {
            seq: 43,
            event: json!({
                "v": 1, "type": "message.create", "event_id": "evt_01", "timestamp": "2026-02-03T10:00:00Z",
                "message_id": "msg_01", "agent_id": "alice", "body": { "format": "markdown", "content": "hi" },
                "recipients": ["web:bob"]
            }),
        }],
        next_seq: 43,
        more_available: false,
        daemon_id: "d_01J".into(),
    };
    assert_eq!(
        response(&r),
        concat!(
            r#"{"jsonrpc":"2.0","result":{"daemon_id":"d_01J","epoch":"ep_1","events":[{"event":{"agent_id":"alice","body":{"content":"hi","format":"markdown"},"event_id":"evt_01","message_id":"msg_01","recipients":["web:bob"],"timestamp":"2026-02-03T10:00:00Z","type":"message.create","v":1},"seq":43}],"more_available":false,"next_seq":43,"prefix":"web"},"id":1}"#,
            "\n"
        )
    );
    let r = peer_link::StatusResult { status: "ok".into() };
    assert_eq!(response(&r), concat!(r#"{"jsonrpc":"2.0","result":{"status":"ok"},"id":1}"#, "\n"));
}
