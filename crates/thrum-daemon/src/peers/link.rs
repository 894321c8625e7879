//! Live links to paired daemons: one task per peer pulls its feed for us
//! (at start, when it sends `sync.notify`, and every 15 s as a fallback),
//! and a notifier tells a peer to pull as soon as we queue something for
//! it. Failed dials back off 2 s → 8 s → 30 s; a refused token is not
//! retried in a loop (the pair must be repaired).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::Value;
use thrum_core::Event;
use thrum_proto::methods::Method;
use thrum_proto::methods::peer_link as pl;
use thrum_store::projection::feed;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

use super::registry::Peer;
use super::sync::{PULL_LIMIT, PullParams, TOKEN_REJECTED, translate};
use crate::state::State;

/// The fallback pull interval (a peer synced more recently waits longer).
const SCHEDULE: Duration = Duration::from_secs(15);
/// Waits between failed dials.
const BACKOFF: [Duration; 3] = [Duration::from_secs(2), Duration::from_secs(8), Duration::from_secs(30)];
/// The wait after the `failures`-th failed dial in a row
/// (`THRUM_PEER_BACKOFF_MS` makes every step that long, for tests).
fn backoff(failures: u32) -> Duration {
    if let Some(ms) = thrum_core::env::var("THRUM_PEER_BACKOFF_MS").ok().and_then(|v| v.parse().ok()) {
        return Duration::from_millis(ms);
    }
    BACKOFF[(failures.max(1) as usize - 1).min(BACKOFF.len() - 1)]
}

/// After a refused token: only a notify, a repair or this long brings a retry.
const REJECTED_WAIT: Duration = Duration::from_secs(600);
/// One call's limit (connect included).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How the link to one peer is doing, for `peer list` and `peer status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LinkStatus {
    /// `connecting`, `healthy`, `unreachable` or `token_rejected`.
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_error: String,
    pub failures: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_sync_at: String,
}

struct Entry {
    kick: Arc<Notify>,
    status: LinkStatus,
}

/// The running links, by peer name.
#[derive(Default)]
pub struct Links {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Links {
    /// Starts the link to `name` unless it runs already.
    pub fn ensure(&self, state: &State, name: &str) {
        self.start(state, name, false);
    }

    /// Starts the link of a pairing's listener: it waits for the joiner's
    /// first notify (or the fallback interval) before dialing, because the
    /// joiner stores our token and key only after our answer reaches it.
    pub fn ensure_after_pairing(&self, state: &State, name: &str) {
        self.start(state, name, true);
    }

    fn start(&self, state: &State, name: &str, wait_first: bool) {
        let kick = {
            let mut g = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if g.contains_key(name) {
                return;
            }
            let kick = Arc::new(Notify::new());
            let status = LinkStatus { state: "connecting".into(), ..Default::default() };
            g.insert(name.to_string(), Entry { kick: kick.clone(), status });
            kick
        };
        tokio::spawn(run_link(state.clone(), name.to_string(), kick, wait_first));
    }

    /// Asks the link to pull now.
    pub fn kick(&self, name: &str) {
        if let Some(e) = self.entries.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
            e.kick.notify_one();
        }
    }

    /// Starts over with a peer: a fresh dial now, whatever the backoff.
    pub fn retry_now(&self, state: &State, name: &str) {
        self.ensure(state, name);
        self.set(name, |s| s.state = "connecting".into());
        self.kick(name);
    }

    pub fn status(&self, name: &str) -> Option<LinkStatus> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).get(name).map(|e| e.status.clone())
    }

    fn set(&self, name: &str, f: impl FnOnce(&mut LinkStatus)) {
        if let Some(e) = self.entries.lock().unwrap_or_else(|p| p.into_inner()).get_mut(name) {
            f(&mut e.status);
        }
    }

    fn forget(&self, name: &str) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
    }
}

/// Starts a link per paired peer (unless `auto_connect` is off) and the
/// notifier; returns at shutdown.
pub async fn run(state: State, auto_connect: bool) {
    // Network peers dial us too: listen again on the port they know (even
    // with auto_connect off: listening dials nobody).
    if state.peers.all().iter().any(|p| super::is_secure(&p.transport))
        && let Err(e) = super::net::ensure(&state).await
    {
        tracing::warn!(error = %e.0.message, "network peers cannot reach us");
    }
    if auto_connect {
        for p in state.peers.all() {
            state.links.ensure(&state, &p.name);
        }
    } else if !state.peers.all().is_empty() {
        // A link then starts on first use: the peer's notify, our notifier
        // below, or `thrum peer join --type repair`.
        tracing::info!("peers.auto_connect is off: not dialing the paired peers");
    }
    notifier(state).await;
}

#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Rejected(String),
    #[error("{0}")]
    Local(String),
}

async fn run_link(state: State, name: String, kick: Arc<Notify>, wait_first: bool) {
    let mut shutdown = state.shutdown.clone();
    if wait_first {
        tokio::select! {
            _ = kick.notified() => {}
            _ = tokio::time::sleep(SCHEDULE) => {}
            _ = shutdown.changed() => return,
        }
    }
    let mut failures = 0u32;
    let mut first = true;
    while let Some(peer) = state.peers.get(&name) {
        let wait = match pull_from(&state, &peer).await {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(peer = %name, events = n, "pulled from peer");
                }
                // Back after a gap (ours or its): it may not know what we
                // queued meanwhile.
                if first || failures > 0 {
                    tokio::spawn(send_notify(state.clone(), peer.clone()));
                }
                failures = 0;
                let now = thrum_core::time::now_rfc3339();
                state.links.set(&name, |s| {
                    *s = LinkStatus { state: "healthy".into(), last_sync_at: now, ..Default::default() };
                });
                SCHEDULE
            }
            Err(e) => {
                failures += 1;
                let (kind, wait) = match &e {
                    LinkError::Rejected(_) => ("token_rejected", REJECTED_WAIT),
                    _ => ("unreachable", backoff(failures)),
                };
                if failures <= 3 || failures.is_multiple_of(20) {
                    tracing::warn!(peer = %name, error = %e, failures, "peer pull failed");
                }
                let msg = e.to_string();
                state.links.set(&name, |s| {
                    s.state = kind.into();
                    s.last_error = msg;
                    s.failures = failures;
                });
                wait
            }
        };
        first = false;
        tokio::select! {
            _ = kick.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => break,
        }
    }
    state.links.forget(&name);
}

/// Where a peer listens now. A local peer's port is read from its
/// repository each time, so a restart on another port is followed.
fn address(peer: &Peer) -> Result<String, LinkError> {
    if peer.transport == "local" && !peer.repo_path.is_empty() {
        let file = std::path::Path::new(&peer.repo_path).join(".thrum/var/ws.port");
        let port: u16 = std::fs::read_to_string(&file).ok().and_then(|t| t.trim().parse().ok()).ok_or_else(|| {
            LinkError::Unreachable(format!("its daemon is not running ({} is missing)", file.display()))
        })?;
        return Ok(format!("127.0.0.1:{port}"));
    }
    Ok(peer.address.clone())
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One open link: a WebSocket to `/peer` for local peers, an encrypted
/// channel for network peers.
enum Conn {
    Ws(Box<Ws>),
    Net(Box<super::secure::Secure>),
}

async fn connect(state: &State, peer: &Peer) -> Result<Conn, LinkError> {
    if super::is_secure(&peer.transport) {
        let addr: std::net::SocketAddr = peer
            .address
            .parse()
            .map_err(|_| LinkError::Local(format!("stored address {:?} is not ip:port", peer.address)))?;
        let theirs = super::secure::unhex(&peer.remote_static);
        if theirs.len() != 32 {
            return Err(LinkError::Rejected("no key stored for this peer: pair again".into()));
        }
        let key = super::net::static_key(state).map_err(|e| LinkError::Local(e.0.message))?;
        let dial = super::secure::dial_link(addr, &key, &theirs);
        return match tokio::time::timeout(CALL_TIMEOUT, dial).await {
            Ok(Ok(c)) => Ok(Conn::Net(Box::new(c))),
            Ok(Err(super::secure::SecureError::Refused(why))) => Err(LinkError::Rejected(why)),
            Ok(Err(e)) => Err(LinkError::Unreachable(format!("cannot reach {addr}: {e}"))),
            Err(_) => Err(LinkError::Unreachable(format!("{addr} did not answer in {}s", CALL_TIMEOUT.as_secs()))),
        };
    }
    let url = format!("ws://{}/peer", address(peer)?);
    match tokio::time::timeout(CALL_TIMEOUT, tokio_tungstenite::connect_async(url.as_str())).await {
        Ok(Ok((ws, _))) => Ok(Conn::Ws(Box::new(ws))),
        Ok(Err(e)) => Err(LinkError::Unreachable(format!("cannot reach {url}: {e}"))),
        Err(_) => Err(LinkError::Unreachable(format!("{url} did not answer in {}s", CALL_TIMEOUT.as_secs()))),
    }
}

impl Conn {
    async fn close(self) {
        match self {
            Conn::Ws(mut ws) => {
                let _ = tokio_tungstenite::WebSocketStream::close(&mut *ws, None).await;
            }
            Conn::Net(_) => {}
        }
    }
}

async fn call<M: Method>(conn: &mut Conn, params: &M::Params) -> Result<M::Result, LinkError> {
    let method = M::METHOD;
    let params = serde_json::to_value(params).map_err(|e| LinkError::Local(format!("encode {method}: {e}")))?;
    let request = serde_json::to_value(thrum_proto::Request::new(1, method, params))
        .map_err(|e| LinkError::Local(format!("encode {method}: {e}")))?;
    let exchange = async {
        match conn {
            Conn::Net(c) => c.call(&request).await.map_err(|e| LinkError::Unreachable(format!("{method}: {e}"))),
            Conn::Ws(ws) => {
                ws.send(Message::Text(request.to_string().into()))
                    .await
                    .map_err(|e| LinkError::Unreachable(format!("sending {method}: {e}")))?;
                loop {
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) => {
                            return serde_json::from_str::<Value>(&t)
                                .map_err(|e| LinkError::Unreachable(format!("bad answer to {method}: {e}")));
                        }
                        Some(Ok(Message::Close(_))) | None => {
                            return Err(LinkError::Unreachable(format!("the peer closed the link during {method}")));
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            return Err(LinkError::Unreachable(format!("reading the answer to {method}: {e}")));
                        }
                    }
                }
            }
        }
    };
    let answer = tokio::time::timeout(CALL_TIMEOUT, exchange)
        .await
        .map_err(|_| LinkError::Unreachable(format!("{method} got no answer in {}s", CALL_TIMEOUT.as_secs())))??;
    if let Some(err) = answer.get("error") {
        let msg = err["message"].as_str().unwrap_or("unknown error").to_string();
        return Err(if msg == TOKEN_REJECTED { LinkError::Rejected(msg) } else { LinkError::Unreachable(msg) });
    }
    serde_json::from_value(answer["result"].clone())
        .map_err(|e| LinkError::Unreachable(format!("bad result of {method}: {e}")))
}

/// Pulls everything the peer queued for us; each batch is stored with the
/// new checkpoint in one transaction. Returns how many events were new.
async fn pull_from(state: &State, peer: &Peer) -> Result<usize, LinkError> {
    let mut ws = connect(state, peer).await?;
    if let Conn::Net(c) = &ws
        && let (Some(local), Some(port)) = (c.local_addr(), state.net.port())
    {
        // Where this peer reaches us now; tell it when that moved (our port
        // was taken at a restart, or this machine changed address).
        let now = std::net::SocketAddr::new(local.ip(), port).to_string();
        if now != peer.announced_address {
            let params = pl::AddressChangedParams { token: peer.token.clone(), address: now.clone() };
            let r = call::<pl::AddressChanged>(&mut ws, &params).await;
            match r {
                Ok(_) => {
                    let _ = state.peers.update(&peer.name, |p| p.announced_address = now.clone());
                    tracing::info!(peer = %peer.name, address = %now, "announced our new address");
                }
                Err(e) => tracing::warn!(peer = %peer.name, error = %e, "the peer did not take our new address"),
            }
        }
    }
    let ours = peer.proxy_prefix.clone();
    let mut total = 0;
    loop {
        let at = state.read(|r| Ok(feed::state(r, &ours)?)).map_err(|e| LinkError::Local(e.0.message))?;
        let params = PullParams {
            token: peer.token.clone(),
            epoch: at.pulled_epoch,
            after_seq: at.pulled_seq,
            limit: PULL_LIMIT,
        };
        let r = call::<pl::Pull>(&mut ws, &params).await?;
        // Asking again after a non-empty batch is how the peer learns we
        // hold it (its "pending" drops at once); an empty answer ends.
        let done = r.events.is_empty();
        let events: Vec<Event> = r.events.into_iter().filter_map(|e| translate(e.event, &r.prefix, &ours)).collect();
        let (prefix, epoch, next) = (ours.clone(), r.epoch.clone(), r.next_seq);
        let fresh = state
            .writer
            .submit(move |c| {
                let mut fresh = Vec::with_capacity(events.len());
                for ev in events {
                    if !thrum_store::query::has_event(c, ev.event_id())? {
                        fresh.push(ev);
                    }
                }
                feed::set_pulled(c, &prefix, &epoch, next, &thrum_core::time::now_rfc3339())?;
                let n = fresh.len();
                Ok((fresh, n))
            })
            .await
            .map_err(|e| LinkError::Local(e.0.message))?;
        total += fresh;
        if done {
            break;
        }
    }
    ws.close().await;
    Ok(total)
}

/// Tells a peer we queued something for it (fire and forget). A peer that
/// cannot be reached is shown as such at once (its link keeps retrying).
async fn send_notify(state: State, peer: Peer) {
    let outcome = async {
        let mut ws = connect(&state, &peer).await?;
        call::<pl::Notify>(&mut ws, &pl::TokenParams { token: peer.token.clone() }).await?;
        ws.close().await;
        Ok::<(), LinkError>(())
    };
    if let Err(e) = outcome.await {
        tracing::debug!(peer = %peer.name, error = %e, "sync.notify not delivered; its scheduled pull will catch up");
        if let LinkError::Unreachable(msg) = e {
            state.links.set(&peer.name, |s| {
                s.state = "unreachable".into();
                s.last_error = msg;
            });
        }
    }
}

/// Watches our commits; when the peer feed grew, notifies those peers.
async fn notifier(state: State) {
    let mut rx = state.feed.subscribe();
    let mut shutdown = state.shutdown.clone();
    let mut last = state.read(|r| Ok(feed::max_seq(r)?)).unwrap_or(0);
    loop {
        let batch = tokio::select! {
            b = rx.recv() => b,
            _ = shutdown.changed() => break,
        };
        match batch {
            Ok(events) if !events.iter().any(may_feed) => continue,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        }
        let Ok((prefixes, max)) = state.read(|r| Ok(feed::prefixes_after(r, last)?)) else { continue };
        last = last.max(max);
        for prefix in prefixes {
            if let Some(peer) = state.peers.all().into_iter().find(|p| p.proxy_prefix == prefix) {
                // Talking to it now: pull its side too (a no-op when the
                // link runs, as it does unless `peers.auto_connect` is off).
                state.links.ensure(&state, &peer.name);
                tokio::spawn(send_notify(state.clone(), peer));
            }
        }
    }
}

/// Whether an event can have queued something for a peer.
fn may_feed(ev: &Event) -> bool {
    match ev.kind() {
        "message.create" => ev
            .as_object()
            .get("recipients")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().filter_map(Value::as_str).any(|a| feed::proxy_prefix(a).is_some())),
        "message.receipt" | thrum_core::event::MESSAGE_ANNOUNCED => true,
        _ => false,
    }
}
