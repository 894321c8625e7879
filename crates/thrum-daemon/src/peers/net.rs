//! The TCP listener of network peers. It starts when a network pairing
//! begins or a network peer is paired, binds every interface on
//! `daemon.peer_port` (else `THRUM_TS_PORT`, else the port it had last time, kept in
//! `.thrum/var/peer.port` so paired peers still find it, else any), and
//! serves only encrypted, authenticated channels (`secure`): a pairing
//! while `peer add --type network` waits, links from peers whose static
//! key we hold.

use std::net::SocketAddr;
use std::sync::Mutex;

use serde_json::{Value, json};
use thrum_proto::{ErrorCode, Response as RpcResponse, RpcError};
use tokio::net::TcpListener;

use super::secure::{self, Accepted, Secure, StaticKey};
use super::serve::Link;
use crate::error::{HResult, server};
use crate::state::State;

/// The bound listener's port, once started.
#[derive(Default)]
pub struct NetListener {
    port: Mutex<Option<u16>>,
}

impl NetListener {
    pub fn port(&self) -> Option<u16> {
        *self.port.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// This daemon's static key, created on first use.
pub fn static_key(state: &State) -> HResult<StaticKey> {
    StaticKey::load_or_create(&state.layout.var_dir().join("peer_key")).map_err(|e| server(e.to_string()))
}

/// Starts the listener unless it runs; returns its port.
pub async fn ensure(state: &State) -> HResult<u16> {
    if let Some(p) = state.net.port() {
        return Ok(p);
    }
    let key = static_key(state)?;
    let port_file = state.layout.var_dir().join("peer.port");
    let remembered: Option<u16> = std::fs::read_to_string(&port_file).ok().and_then(|t| t.trim().parse().ok());
    let wanted = configured_port(state).or(remembered).unwrap_or(0);
    let listener = match TcpListener::bind(("0.0.0.0", wanted)).await {
        Ok(l) => l,
        // The remembered port was taken meanwhile: any port (peers that
        // knew the old one must be told; see `peer status`).
        Err(_) if configured_port(state).is_none() && wanted != 0 => {
            TcpListener::bind(("0.0.0.0", 0)).await.map_err(|e| server(format!("cannot open the peer port: {e}")))?
        }
        Err(e) => {
            return Err(server(format!(
                "cannot listen on peer port {wanted}: {e} (change daemon.peer_port in .thrum/config.json)"
            )));
        }
    };
    let port = listener.local_addr().map_err(|e| server(e.to_string()))?.port();
    {
        let mut g = state.net.port.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = *g {
            // Another call got there first.
            return Ok(p);
        }
        *g = Some(port);
    }
    let _ = crate::lifecycle::write_private(&port_file, format!("{port}\n").as_bytes());
    tracing::info!(port, "listening for network peers");
    tokio::spawn(accept_loop(state.clone(), listener, key));
    Ok(port)
}

/// `daemon.peer_port` when it names a port ("auto" or nothing: None), else
/// `THRUM_TS_PORT` (the original's Tailscale listener port setting); read
/// afresh, so a changed config applies at the next listen.
fn configured_port(state: &State) -> Option<u16> {
    crate::settings(&crate::load_config(&state.layout).unwrap_or_default(), None).peer_port
}

async fn accept_loop(state: State, listener: TcpListener, key: StaticKey) {
    let mut shutdown = state.shutdown.clone();
    loop {
        let (stream, from) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "peer accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let (state, key) = (state.clone(), key.clone());
        tokio::spawn(async move {
            if let Err(e) = serve(&state, stream, from, &key).await {
                tracing::info!(%from, error = %e.0.message, "network peer connection ended");
            }
        });
    }
}

async fn serve(state: &State, stream: tokio::net::TcpStream, from: SocketAddr, key: &StaticKey) -> HResult<()> {
    let code = {
        let slot = state.pairing.lock().await;
        slot.open_code_secure()
    };
    let peers = state.peers.all();
    // A Tailscale peer must also come from the tailnet.
    let known = |k: &[u8]| {
        let k = secure::hex(k);
        peers.iter().any(|p| {
            super::is_secure(&p.transport)
                && super::same_secret(&p.remote_static, &k)
                && (p.transport != "tailscale" || super::tailscale::in_tailnet(from.ip()))
        })
    };
    let accepted = tokio::time::timeout(secure::HANDSHAKE_TIMEOUT, secure::accept(stream, key, move || code, known))
        .await
        .map_err(|_| server("handshake timed out"))?;
    match accepted {
        Ok(Accepted::Pair(conn)) => pairing(state, conn, from).await,
        Ok(Accepted::Link(conn)) => link(state, conn).await,
        Err(secure::SecureError::Handshake(e)) => {
            // During a pairing a failed handshake is a wrong code.
            let mut slot = state.pairing.lock().await;
            slot.wrong_code_secure();
            Err(server(format!("handshake failed: {e}")))
        }
        Err(e) => Err(server(e.to_string())),
    }
}

/// A joiner that proved the code: record it, answer with our side.
async fn pairing(state: &State, mut conn: Secure, from: SocketAddr) -> HResult<()> {
    let request = conn.recv_json().await.map_err(|e| server(e.to_string()))?.unwrap_or_default();
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let remote_static = secure::hex(conn.remote_static());
    let outcome = async {
        let p = crate::rpc::parse(params)?;
        crate::rpc::ok(&super::rpc::pair_network(state, p, &remote_static, from.ip()).await?)
    };
    let answer = match outcome.await {
        Ok(v) => RpcResponse::ok(id, v),
        Err(e) => RpcResponse::err(id, e.0),
    };
    let _ = conn.send_json(&serde_json::to_value(answer).unwrap_or_default()).await;
    Ok(())
}

/// A paired peer's link: its requests, one after another.
async fn link(state: &State, mut conn: Secure) -> HResult<()> {
    let from = conn.peer_addr().map(|a| a.ip());
    while let Some(request) = conn.recv_json().await.map_err(|e| server(e.to_string()))? {
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let params = request.get("params").cloned().unwrap_or_else(|| json!({}));
        let outcome = match request.get("method").and_then(Value::as_str) {
            Some(method) => super::serve::answer(state, &Link::Network(from), method, params).await.map_err(|e| {
                if e.0.kind() == ErrorCode::MethodNotFound {
                    crate::error::Fail(RpcError::new(
                        ErrorCode::MethodNotFound,
                        format!("{method} is not served to peers"),
                    ))
                } else {
                    e
                }
            }),
            None => Err(crate::error::Fail(RpcError::new(ErrorCode::InvalidRequest, "no method"))),
        };
        let answer = match outcome {
            Ok(v) => RpcResponse::ok(id, v),
            Err(e) => RpcResponse::err(id, e.0),
        };
        conn.send_json(&serde_json::to_value(answer).unwrap_or_default()).await.map_err(|e| server(e.to_string()))?;
    }
    Ok(())
}
