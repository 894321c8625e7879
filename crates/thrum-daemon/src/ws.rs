//! The HTTP and WebSocket transport, on one loopback port.
//!
//! `/ws` speaks the same JSON-RPC methods as the Unix socket (one request
//! per text frame) plus server pushes for subscriptions made on the
//! connection. Requests whose `Host` or `Origin` is not local are refused,
//! so a web page elsewhere cannot reach the daemon through the user's
//! browser (DNS rebinding, cross-site requests). There is no kernel peer
//! identity here: mutating calls must name their agent (`caller_agent_id`).

use axum::Router;
use axum::extract::State as AxState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use thrum_proto::frame::encode;
use thrum_proto::{ErrorCode, Response as RpcResponse, RpcError};
use tokio::sync::{mpsc, watch};

use crate::caller::Caller;
use crate::server::handle_frame;
use crate::state::State;

/// Serves HTTP/WebSocket on an already-bound listener until shutdown.
pub async fn serve(listener: tokio::net::TcpListener, state: State, mut shutdown: watch::Receiver<bool>) {
    let app =
        Router::new().route("/ws", get(upgrade)).route("/peer", get(peer_upgrade)).fallback(fallback).with_state(state);
    let stop = async move {
        let _ = shutdown.changed().await;
    };
    // Pushes are small frames that must leave at once: no Nagle delay.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
        tracing::warn!(error = %e, "http server stopped");
    }
}

/// Whether a `host[:port]` names this machine's loopback.
fn loopback_host(h: &str) -> bool {
    let host = if let Some(rest) = h.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        h.rsplit_once(':').map(|(a, _)| a).unwrap_or(h)
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

/// The DNS-rebinding and cross-site check: Host must be local, and an
/// Origin, when a browser sends one, must be a local page.
pub fn local_request(headers: &HeaderMap) -> bool {
    let host_ok = headers.get(header::HOST).and_then(|v| v.to_str().ok()).is_some_and(loopback_host);
    let origin_ok = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(o) => o
            .strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
            .is_some_and(|rest| loopback_host(rest.split('/').next().unwrap_or(""))),
    };
    host_ok && origin_ok
}

async fn upgrade(ws: WebSocketUpgrade, headers: HeaderMap, AxState(state): AxState<State>) -> Response {
    if !local_request(&headers) {
        return (
            StatusCode::FORBIDDEN,
            "refused: the Host and Origin of a request to thrum must be local (localhost, 127.0.0.1 or [::1])\n",
        )
            .into_response();
    }
    ws.max_message_size(thrum_proto::MAX_FRAME).on_upgrade(move |socket| connection(socket, state))
}

/// `/peer`: other thrum daemons. Browsers are turned away (they always send
/// an Origin on a WebSocket handshake; daemons never do), so no web page can
/// reach pairing. Only `pair.request` is served without a token;
/// `sync.pull` and `sync.notify` need a paired peer's.
async fn peer_upgrade(ws: WebSocketUpgrade, headers: HeaderMap, AxState(state): AxState<State>) -> Response {
    if headers.contains_key(header::ORIGIN) {
        return (StatusCode::FORBIDDEN, "refused: /peer is for thrum daemons, not browsers\n").into_response();
    }
    ws.max_message_size(64 * 1024).on_upgrade(move |socket| peer_connection(socket, state))
}

async fn peer_connection(mut socket: WebSocket, state: State) {
    while let Some(Ok(msg)) = socket.recv().await {
        let bytes = match msg {
            Message::Text(t) => t.as_bytes().to_vec(),
            Message::Binary(b) => b.to_vec(),
            Message::Close(_) => break,
            _ => continue,
        };
        let response = match thrum_proto::Request::from_value(serde_json::from_slice(&bytes).unwrap_or(Value::Null)) {
            Err((id, e)) => RpcResponse::err(id, e),
            Ok(req) => {
                let id = req.id.clone().unwrap_or(Value::Null);
                let link = crate::peers::serve::Link::PeerSocket;
                // Only `pair.request` goes without a token; `sync.pull` and
                // `sync.notify` check theirs first.
                match crate::peers::serve::answer(&state, &link, &req.method, req.params).await {
                    Ok(v) => RpcResponse::ok(id, v),
                    Err(e) if e.0.kind() == ErrorCode::MethodNotFound => RpcResponse::err(
                        id,
                        RpcError::new(ErrorCode::Identity, format!("{} needs a paired peer's token", req.method)),
                    ),
                    Err(e) => RpcResponse::err(id, e.0),
                }
            }
        };
        let text = serde_json::to_string(&response).unwrap_or_default();
        if socket.send(Message::Text(text.into())).await.is_err() {
            break;
        }
    }
}

/// Everything but `/ws`: the embedded web UI.
async fn fallback(method: axum::http::Method, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    if !local_request(&headers) {
        return (StatusCode::FORBIDDEN, "refused: non-local Host or Origin\n").into_response();
    }
    crate::ui::serve(&method, uri.path())
}

async fn connection(socket: WebSocket, state: State) {
    let caller = Caller::Browser;
    // After `user.register`, calls that name no agent act as that user.
    let mut user: Option<String> = None;
    // Responses and pushes share one queue and one writer task, so the
    // reader never re-polls the socket for every push it sends, and
    // whatever is queued goes out under a single flush.
    let (mut sink, mut stream) = socket.split();
    let (out, mut out_rx) = mpsc::channel::<Vec<u8>>(1024);
    let writer = tokio::spawn(async move {
        while let Some(first) = out_rx.recv().await {
            if sink.feed(text_frame(first)).await.is_err() {
                return;
            }
            for _ in 0..256 {
                let Ok(more) = out_rx.try_recv() else { break };
                if sink.feed(text_frame(more)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });
    let mut pushes = crate::notify::Pushes::new(out.clone());
    let mut shutdown = state.shutdown.clone();
    loop {
        let msg = tokio::select! {
            _ = shutdown.changed() => break,
            m = stream.next() => m,
        };
        let bytes = match msg {
            Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
            Some(Ok(Message::Binary(b))) => b.to_vec(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None => break,
            Some(Err(e)) => {
                // Oversized or malformed frames end up here.
                let err = RpcError::new(ErrorCode::InvalidRequest, format!("bad WebSocket frame: {e}"));
                let _ = out.send(encode(&RpcResponse::err(Value::Null, err))).await;
                break;
            }
        };
        let bytes = match &user {
            Some(u) => with_default_caller(&bytes, u),
            None => bytes,
        };
        let (response, method) = handle_frame(&state, &caller, &bytes).await;
        if method == <thrum_proto::methods::system::UserRegister as thrum_proto::methods::Method>::METHOD
            && let Some(u) =
                response.as_ref().and_then(|r| r.result.as_ref()).and_then(|v| v.get("user_id")).and_then(Value::as_str)
        {
            user = Some(u.to_string());
        }
        pushes.after_call(&state, &method, response.as_ref());
        if let Some(r) = response
            && out.send(encode(&r)).await.is_err()
        {
            break;
        }
    }
    drop(pushes);
    drop(out);
    let _ = writer.await;
}

/// One encoded JSON-RPC line as a WebSocket text frame (without its newline).
fn text_frame(mut line: Vec<u8>) -> Message {
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    // encode() wrote JSON from serde: always UTF-8.
    Message::Text(String::from_utf8(line).unwrap_or_default().into())
}

/// Adds `caller_agent_id` to a request that names none.
fn with_default_caller(frame: &[u8], user: &str) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(frame) else { return frame.to_vec() };
    if let Some(params) = v.get_mut("params").and_then(Value::as_object_mut) {
        params.entry("caller_agent_id").or_insert_with(|| Value::from(user));
    } else if let Some(obj) = v.as_object_mut() {
        obj.insert("params".into(), serde_json::json!({ "caller_agent_id": user }));
    }
    serde_json::to_vec(&v).unwrap_or_else(|_| frame.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap_or_else(|_| axum::http::HeaderValue::from_static("x")));
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap_or_else(|_| axum::http::HeaderValue::from_static("x")));
        }
        h
    }

    #[test]
    fn only_local_hosts_and_origins_pass() {
        assert!(local_request(&headers("localhost:9999", None)));
        assert!(local_request(&headers("127.0.0.1:9999", Some("http://localhost:9999"))));
        assert!(local_request(&headers("[::1]:9999", Some("http://[::1]:9999"))));
        assert!(!local_request(&headers("evil.example:9999", None)));
        assert!(!local_request(&headers("localhost.evil.example", None)));
        assert!(!local_request(&headers("127.0.0.1:9999", Some("https://evil.example"))));
        assert!(!local_request(&headers("127.0.0.1:9999", Some("null"))));
    }
}
