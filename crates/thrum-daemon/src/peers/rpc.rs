//! Peer RPC. On the local socket (the CLI): `peer.add`, `peer.add.wait`,
//! `peer.join`, `peer.list`, `peer.remove`. On `/peer` of the HTTP port
//! (the other daemon): `pair.request`, the only method served there
//! without a token.

use std::time::Duration;

use serde_json::Value;
use thrum_proto::methods::Empty;
use thrum_proto::methods::peer::{
    AddParams, AddResult, AddWaitParams, ConfigureParams, ConfigureResult, JoinParams, ListResult, NameParams,
    PairedResult, PeerInfo, RemoveResult, RepairResult,
};
use thrum_proto::methods::peer_link::{
    AddressChangedParams, AddressChangedResult, DaemonSide, PairRequest, PairRequestParams, PairRequestResult,
};

use super::pairing::{self, Pairing};
use super::registry::{Peer, proxy_prefix};
use crate::caller::Caller;
use crate::error::{HResult, bad_params, server};
use crate::state::State;

/// The pairing the listener is waiting on, and who joined it.
#[derive(Default)]
pub struct PairingSlot {
    session: Option<Pairing>,
    /// Set when a joiner got in; `peer.add.wait` returns it.
    joined: Option<Peer>,
}

pub type Slot = tokio::sync::Mutex<PairingSlot>;

impl PairingSlot {
    /// The code a joiner over `transport` must know, or why none can join.
    pub fn open_code(&self, transport: &str) -> Result<String, String> {
        match &self.session {
            None => Err(pairing::PairingError::NoSession.to_string()),
            Some(s) if s.transport != transport => Err(format!("the open pairing is for --type {}", s.transport)),
            Some(s) if s.locked() => Err(pairing::PairingError::Locked.to_string()),
            Some(s) if s.expired() => Err(pairing::PairingError::Expired.to_string()),
            Some(s) => Ok(s.code().to_string()),
        }
    }

    /// The code of an open network or Tailscale pairing.
    pub fn open_code_secure(&self) -> Result<String, String> {
        let transport = self.session.as_ref().map(|s| s.transport.clone()).unwrap_or_default();
        if !super::is_secure(&transport) {
            return Err(match transport.as_str() {
                "" => pairing::PairingError::NoSession.to_string(),
                other => format!("the open pairing is for --type {other}"),
            });
        }
        self.open_code(&transport)
    }

    /// A joiner of a network or Tailscale pairing failed to prove the
    /// code: one try spent.
    pub fn wrong_code_secure(&mut self) {
        if let Some(s) = self.session.as_mut().filter(|s| super::is_secure(&s.transport)) {
            let _ = s.spend_attempt();
        }
    }
}

fn our_address(state: &State) -> String {
    format!("127.0.0.1:{}", state.ws_port())
}

/// A peer as clients see it: everything but the token.
fn public(p: &Peer) -> PeerInfo {
    let p = p.clone();
    PeerInfo {
        name: p.name,
        address: p.address,
        repo_path: p.repo_path,
        transport: p.transport,
        role: p.role,
        proxy_prefix: p.proxy_prefix,
        remote_agents: p.remote_agents,
        paired_at: p.paired_at,
        remote_daemon_id: p.remote_daemon_id,
        remote_repo_name: p.remote_repo_name,
        remote_hostname: p.remote_hostname,
        remote_repo_path: p.remote_repo_path,
        remote_git_origin_url: p.remote_git_origin_url,
        last_sync_at: p.last_sync_at,
        remote_static: p.remote_static,
        announced_address: p.announced_address,
        ..Default::default()
    }
}

/// The paired answer of `peer.add.wait` and `peer.join`.
fn paired(p: &Peer) -> PairedResult {
    PairedResult { status: "paired".into(), peer: Some(public(p)) }
}

fn check_type(t: &str) -> HResult<()> {
    match t {
        "local" | "network" | "tailscale" => Ok(()),
        "" => Err(bad_params("--type is required: local, network or tailscale")),
        other => Err(bad_params(format!("unknown peer type {other:?}: use local, network or tailscale"))),
    }
}

/// This daemon's side of the pairing exchange.
pub(super) fn our_side(state: &State) -> DaemonSide {
    let id = &state.identity;
    DaemonSide {
        daemon_id: id.daemon_id.clone(),
        repo_name: id.repo_name.clone(),
        hostname: id.hostname.clone(),
        repo_path: id.repo_path.clone(),
        git_origin_url: id.git_origin_url.clone(),
    }
}

/// The registry entry for a peer paired just now, from what it told
/// about itself.
fn new_peer(side: DaemonSide, name: &str, address: String, token: String, transport: &str, role: &str) -> Peer {
    Peer {
        name: name.into(),
        address,
        repo_path: side.repo_path.clone(),
        token,
        transport: transport.into(),
        role: role.into(),
        proxy_prefix: proxy_prefix(name),
        remote_agents: Vec::new(),
        paired_at: thrum_core::time::now_rfc3339(),
        remote_daemon_id: side.daemon_id,
        remote_repo_name: side.repo_name,
        remote_hostname: side.hostname,
        remote_repo_path: side.repo_path,
        remote_git_origin_url: side.git_origin_url,
        last_sync_at: String::new(),
        remote_static: String::new(),
        announced_address: String::new(),
    }
}

/// `peer.add {type, name?}`: starts a pairing and returns the peercode.
pub async fn add(state: &State, _: &Caller, p: AddParams) -> HResult<AddResult> {
    check_type(&p.kind)?;
    if super::is_secure(&p.kind) {
        return add_network(state, p.name, p.address, &p.kind).await;
    }
    if state.ws_port() == 0 {
        return Err(server("this daemon has no HTTP port to pair on: check `daemon.ws_port` and restart it"));
    }
    let name = listener_name(state, p.name.clone())?;
    open_pairing(state, &p.kind, name, our_address(state)).await
}

/// Opens the pairing `peer add` waits on (replacing any earlier one) and
/// answers with its peercode `name:address:code`.
async fn open_pairing(state: &State, kind: &str, name: String, address: String) -> HResult<AddResult> {
    let digits = state.config_pairing_code_length();
    let mut session = Pairing::new(digits, pairing_ttl(), kind, &name).map_err(|e| server(e.to_string()))?;
    session.address = address.clone();
    let peercode = format!("{name}:{address}:{}", session.code());
    let mut slot = state.pairing.lock().await;
    *slot = PairingSlot { session: Some(session), joined: None };
    Ok(AddResult {
        peercode,
        name,
        address,
        kind: kind.into(),
        repo_path: state.repo_root.display().to_string(),
        expires_in_s: pairing_ttl().as_secs(),
    })
}

/// How long codes last: five minutes (THRUM_PAIRING_TTL_MS shortens it for
/// tests).
fn pairing_ttl() -> Duration {
    thrum_core::env::var("THRUM_PAIRING_TTL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(pairing::TTL)
}

/// `peer.add.wait {timeout_ms}`: blocks until someone joins the current
/// pairing, it expires or locks, or the timeout passes.
pub async fn add_wait(state: &State, _: &Caller, p: AddWaitParams) -> HResult<PairedResult> {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(p.timeout_ms.clamp(1, 600_000));
    loop {
        {
            let mut slot = state.pairing.lock().await;
            if let Some(peer) = slot.joined.take() {
                slot.session = None;
                return Ok(paired(&peer));
            }
            match &slot.session {
                None => return Err(server("no pairing is in progress: run `thrum peer add` again")),
                // The spent session stays, so a late joiner hears why.
                Some(s) if s.locked() => return Err(server(pairing::PairingError::Locked.to_string())),
                Some(s) if s.expired() => {
                    return Err(server("the pairing code expired before anyone joined: run `thrum peer add` again"));
                }
                Some(_) => {}
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(PairedResult { status: "waiting".into(), peer: None });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `pair.request` (from the joining daemon, on `/peer`): checks the code,
/// records the joiner and hands back the shared token and our identity.
pub async fn pair_request(state: &State, p: PairRequestParams) -> HResult<PairRequestResult> {
    let code = p.code.ok_or_else(|| bad_params("invalid params: missing field `code`"))?;
    let mut slot = state.pairing.lock().await;
    let session = slot.session.as_mut().ok_or_else(|| server(pairing::PairingError::NoSession.to_string()))?;
    session
        .check(&code)
        .map_err(|e| crate::error::Fail(thrum_proto::RpcError::new(thrum_proto::ErrorCode::Identity, e.to_string())))?;
    check_name(&p.name, "the joiner's name")?;
    // Local peers live on this machine: their address is loopback.
    if session.transport == "local" && !p.address.starts_with("127.0.0.1:") {
        return Err(bad_params("a local peer must give a 127.0.0.1 address"));
    }
    let token = super::new_token().map_err(|e| server(e.to_string()))?;
    let name = unique_name(state, &p.name);
    let peer = new_peer(p.side, &name, p.address, token.clone(), &session.transport, "listener");
    state.peers.add(peer.clone()).map_err(|e| server(e.to_string()))?;
    start_link(state, &peer).await?;
    let name = session.name.clone();
    // The code is spent: nobody else may join with it.
    slot.session = None;
    slot.joined = Some(peer);
    Ok(PairRequestResult { side: our_side(state), token, name: Some(name) })
}

/// A parsed `name:ip:port:code`.
#[derive(Debug, PartialEq, Eq)]
pub struct Peercode {
    pub name: String,
    pub ip: std::net::IpAddr,
    pub port: u16,
    pub code: String,
}

pub fn parse_peercode(s: &str) -> Result<Peercode, String> {
    let s = s.trim();
    // IPv6 addresses contain ':' themselves: name and code are the ends.
    let (name, rest) = s.split_once(':').ok_or("expected name:ip:port:code")?;
    let (addr, code) = rest.rsplit_once(':').ok_or("expected name:ip:port:code")?;
    let (ip, port) = addr.rsplit_once(':').ok_or("expected name:ip:port:code")?;
    let ip: std::net::IpAddr = ip
        .trim_matches(['[', ']'])
        .parse()
        .map_err(|_| format!("{ip:?} is not an IP address (names are not accepted)"))?;
    let port: u16 = port.parse().map_err(|_| format!("{port:?} is not a port number"))?;
    if name.is_empty() || code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected name:ip:port:code with a numeric code".into());
    }
    Ok(Peercode { name: name.into(), ip, port, code: code.into() })
}

/// `peer.join {type, peercode, repo_path?}`: dials the listener and pairs.
pub async fn join(state: &State, _: &Caller, p: JoinParams) -> HResult<PairedResult> {
    check_type(&p.kind)?;
    let code = parse_peercode(&p.peercode).map_err(|e| bad_params(format!("invalid peercode: {e}")))?;
    if super::is_secure(&p.kind) {
        return join_network(state, code, &p.kind).await;
    }
    if !code.ip.is_loopback() {
        return Err(bad_params(
            "a local peer's peercode must name 127.0.0.1: use the peercode `thrum peer add --type local` printed",
        ));
    }
    // The other repo's port file is the truth for local peers.
    let mut port = code.port;
    if !p.repo_path.is_empty() {
        let file = std::path::Path::new(&p.repo_path).join(".thrum/var/ws.port");
        port = std::fs::read_to_string(&file).ok().and_then(|t| t.trim().parse().ok()).ok_or_else(|| {
            bad_params(format!("cannot read the port of {}: is its daemon running? ({})", p.repo_path, file.display()))
        })?;
    }
    if state.peers.get(&code.name).is_some() {
        return Err(server(format!(
            "a peer named {:?} is already paired: `thrum peer remove {}` first",
            code.name, code.name
        )));
    }
    let params = PairRequestParams {
        code: Some(code.code.clone()),
        name: state.identity.repo_name.clone(),
        address: our_address(state),
        side: our_side(state),
    };
    let request = pair_request_frame(&params)?;
    let url = format!("ws://127.0.0.1:{port}/peer");
    let answer = tokio::task::spawn_blocking(move || ws_call(&url, &request))
        .await
        .map_err(|e| server(format!("pairing task failed: {e}")))?
        .map_err(server)?;
    let Accepted { name, token, side: remote } = accepted(&answer, &code.name)?;
    let mut peer = new_peer(remote, &name, format!("127.0.0.1:{port}"), token, &p.kind, "dialer");
    // Where we read its port: the path given here, not the one it reported.
    peer.repo_path = p.repo_path.clone();
    state.peers.add(peer.clone()).map_err(|e| server(e.to_string()))?;
    start_link(state, &peer).await?;
    Ok(paired(&peer))
}

/// The one `pair.request` a joiner sends.
fn pair_request_frame(params: &PairRequestParams) -> HResult<Value> {
    let request =
        thrum_proto::Request::new(1, <PairRequest as thrum_proto::methods::Method>::METHOD, crate::rpc::ok(params)?);
    crate::rpc::ok(&request)
}

/// Starts replicating with a newly paired peer, from nothing: positions
/// left by an earlier pairing under the same prefix mean nothing now.
async fn start_link(state: &State, peer: &Peer) -> HResult<()> {
    forget_positions(state, peer.proxy_prefix.clone()).await?;
    if peer.role == "listener" {
        state.links.ensure_after_pairing(state, &peer.name);
    } else {
        state.links.ensure(state, &peer.name);
    }
    Ok(())
}

async fn forget_positions(state: &State, prefix: String) -> HResult<()> {
    state
        .writer
        .submit(move |c| {
            thrum_store::projection::feed::reset(c, &prefix)?;
            Ok((Vec::new(), ()))
        })
        .await
        .map(|_| ())
}

/// Peer names become proxy prefixes (`name:agent`): non-empty, no ':'.
fn check_name(name: &str, what: &str) -> HResult<()> {
    if name.is_empty() || name.contains(':') {
        return Err(bad_params(format!("{what} must be non-empty and contain no ':'")));
    }
    Ok(())
}

/// The name a pairing's listener goes by: --name, else the repository's.
fn listener_name(state: &State, given: String) -> HResult<String> {
    let name = if given.is_empty() { state.identity.repo_name.clone() } else { given };
    check_name(&name, "the peer name (--name)")?;
    Ok(name)
}

/// A joiner is stored under its own name, or `name-2`, `name-3`… when a
/// peer here already has it (two repositories called `api`), with a proxy
/// prefix to match.
fn unique_name(state: &State, name: &str) -> String {
    let taken =
        |n: &str| state.peers.all().iter().any(|p| p.name == n || p.proxy_prefix == super::registry::proxy_prefix(n));
    if !taken(name) {
        return name.to_string();
    }
    (2..).map(|i| format!("{name}-{i}")).find(|n| !taken(n)).unwrap_or_else(|| name.to_string())
}

/// The name a new peer is stored under must be free here.
fn name_free(state: &State, name: &str) -> HResult<()> {
    check_name(name, "the peer name")?;
    if state.peers.get(name).is_some() {
        return Err(server(format!("a peer named {name:?} is already paired: `thrum peer remove {name}` first")));
    }
    Ok(())
}

/// `peer add --type network`: opens the peer listener and a pairing; the
/// peercode names the address this machine is reached at.
async fn add_network(state: &State, name: String, address: String, kind: &str) -> HResult<AddResult> {
    let name = listener_name(state, name)?;
    let ip: std::net::IpAddr = if address.is_empty() && kind == "tailscale" {
        super::tailscale::node_address().map_err(server)?
    } else if address.is_empty() {
        lan_address().ok_or_else(|| {
            bad_params("cannot tell this machine's LAN address: pass --address with the IP the other machine reaches")
        })?
    } else {
        address.trim().parse().map_err(|_| {
            bad_params(format!(
                "--address {address:?} is not an IP address (names are not accepted): e.g. 192.168.1.20"
            ))
        })?
    };
    if ip.is_unspecified() {
        return Err(bad_params("--address must be this machine's own IP, not 0.0.0.0"));
    }
    if kind == "tailscale" && !super::tailscale::in_tailnet(ip) {
        return Err(bad_params(format!("{ip} is not a tailnet address (100.64.0.0/10 or fd7a:115c:a1e0::/48)")));
    }
    let port = super::net::ensure(state).await?;
    open_pairing(state, kind, name, std::net::SocketAddr::new(ip, port).to_string()).await
}

/// The address other machines most likely reach us at: the source address
/// of the default route (a UDP socket "connected" sends nothing).
fn lan_address() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// `peer join --type network`: SPAKE2 + Noise to the listener, then the
/// pairing request inside the encrypted channel. We listen too, so the
/// listener can pull from us.
async fn join_network(state: &State, code: Peercode, kind: &str) -> HResult<PairedResult> {
    name_free(state, &code.name)?;
    if kind == "tailscale" && !super::tailscale::in_tailnet(code.ip) {
        return Err(bad_params(format!(
            "{} is not a tailnet address: a --type tailscale peercode names the other node's 100.x address",
            code.ip
        )));
    }
    let key = super::net::static_key(state)?;
    let our_port = super::net::ensure(state).await?;
    let addr = std::net::SocketAddr::new(code.ip, code.port);
    let mut conn =
        tokio::time::timeout(super::secure::HANDSHAKE_TIMEOUT, super::secure::dial_pair(addr, &code.code, &key))
            .await
            .map_err(|_| {
                server(format!("{addr} did not answer in time: is `thrum peer add --type network` running there?"))
            })?
            .map_err(|e| match e {
                super::secure::SecureError::Io(e) => server(format!(
                    "cannot reach {addr}: {e} (is the other daemon's peer add running, and the port open?)"
                )),
                super::secure::SecureError::Refused(why) => server(format!("the other daemon refused: {why}")),
                other => server(format!("pairing failed: {other} (a mistyped code counts as one of 3 tries)")),
            })?;
    // The address the listener sees us at, with our listener's port.
    let ours = conn.local_addr().map(|a| std::net::SocketAddr::new(a.ip(), our_port).to_string()).unwrap_or_default();
    let params = PairRequestParams {
        code: None,
        name: state.identity.repo_name.clone(),
        address: ours.clone(),
        side: our_side(state),
    };
    let request = pair_request_frame(&params)?;
    let answer = conn.call(&request).await.map_err(|e| {
        server(format!("pairing failed: {e} (a mistyped code counts as one of 3 tries: check it and run join again)"))
    })?;
    let Accepted { name, token, side: remote } = accepted(&answer, &code.name)?;
    name_free(state, &name)?;
    let mut peer = new_peer(remote, &name, addr.to_string(), token, kind, "dialer");
    peer.repo_path = String::new();
    peer.remote_static = super::secure::hex(conn.remote_static());
    peer.announced_address = ours;
    state.peers.add(peer.clone()).map_err(|e| server(e.to_string()))?;
    start_link(state, &peer).await?;
    Ok(paired(&peer))
}

/// `pair.request` over a network pairing channel: the code was proven by
/// the handshake. The joiner's address must be the one it connected from.
pub async fn pair_network(
    state: &State,
    p: PairRequestParams,
    remote_static: &str,
    from: std::net::IpAddr,
) -> HResult<PairRequestResult> {
    let address: std::net::SocketAddr =
        p.address.parse().map_err(|_| bad_params(format!("the joiner's address {:?} is not ip:port", p.address)))?;
    if address.ip() != from {
        return Err(bad_params(format!(
            "the joiner announced {} but connected from {from}: addresses must match",
            address.ip()
        )));
    }
    let mut slot = state.pairing.lock().await;
    let (listener_name, announced, kind) = match &slot.session {
        Some(s) if super::is_secure(&s.transport) && !s.locked() && !s.expired() => {
            (s.name.clone(), s.address.clone(), s.transport.clone())
        }
        _ => return Err(server(pairing::PairingError::NoSession.to_string())),
    };
    if kind == "tailscale" && !super::tailscale::in_tailnet(from) {
        return Err(bad_params(format!("{from} is not a tailnet address: join over Tailscale")));
    }
    check_name(&p.name, "the joiner's name")?;
    let token = super::new_token().map_err(|e| server(e.to_string()))?;
    let name = unique_name(state, &p.name);
    let mut peer = new_peer(p.side, &name, address.to_string(), token.clone(), &kind, "listener");
    peer.repo_path = String::new();
    // The tailnet's own word on who is calling: a running Tailscale that
    // does not know the address means it is not a node of our tailnet.
    if kind == "tailscale" {
        match super::tailscale::whois(from) {
            Some(node) => {
                tracing::info!(peer = %name, node = %node, "tailscale peer identified");
                peer.remote_hostname = node;
            }
            None if super::tailscale::status()["state"] == "running" => {
                return Err(bad_params(format!(
                    "{from} is not a node of this tailnet (tailscale whois does not know it)"
                )));
            }
            None => {}
        }
    }
    peer.remote_static = remote_static.to_string();
    peer.announced_address = announced;
    state.peers.add(peer.clone()).map_err(|e| server(e.to_string()))?;
    start_link(state, &peer).await?;
    slot.session = None;
    slot.joined = Some(peer);
    Ok(PairRequestResult { side: our_side(state), token, name: Some(listener_name) })
}

/// The listener's answer to `pair.request`: its name (else the peercode's),
/// the shared token and what it told about itself.
fn accepted(answer: &Value, fallback_name: &str) -> HResult<Accepted> {
    if let Some(err) = answer.get("error") {
        return Err(server(format!(
            "the other daemon refused: {}",
            err["message"].as_str().unwrap_or("unknown error")
        )));
    }
    let r: PairRequestResult = answer
        .get("result")
        .and_then(|r| serde_json::from_value(r.clone()).ok())
        .filter(|r: &PairRequestResult| r.token.len() == 64)
        .ok_or_else(|| server("the other daemon sent no usable token: is it a thrum daemon?"))?;
    let name = r.name.unwrap_or_else(|| fallback_name.to_string());
    Ok(Accepted { name, token: r.token, side: r.side })
}

/// A listener's acceptance of our pairing request.
struct Accepted {
    name: String,
    token: String,
    side: DaemonSide,
}

/// One JSON-RPC call over a fresh WebSocket (blocking; pairing is rare).
fn ws_call(url: &str, request: &Value) -> Result<Value, String> {
    use tungstenite::Message;
    let (mut ws, _) = tungstenite::connect(url)
        .map_err(|e| format!("cannot reach the other daemon at {url}: {e}; is it running?"))?;
    ws.send(Message::Text(request.to_string().into())).map_err(|e| format!("sending to {url}: {e}"))?;
    loop {
        match ws.read().map_err(|e| format!("reading from {url}: {e}"))? {
            Message::Text(t) => return serde_json::from_str(&t).map_err(|e| format!("bad answer from {url}: {e}")),
            Message::Close(_) => return Err(format!("{url} closed the connection")),
            _ => {}
        }
    }
}

/// `peer.list`: every peer, without tokens.
pub async fn list(state: &State, _: &Caller, _: Empty) -> HResult<ListResult> {
    let mut peers: Vec<PeerInfo> = Vec::new();
    for p in state.peers.all() {
        let mut v = public(&p);
        let at = state.read(|r| Ok(thrum_store::projection::feed::state(r, &p.proxy_prefix)?))?;
        let link = state.links.status(&p.name).unwrap_or_default();
        // The original's drift flag: the stored address or token no longer
        // works after three dials in a row (or the token was refused).
        let drift = link.state == "token_rejected" || (link.state == "unreachable" && link.failures >= 3);
        v.reconcile_status = Some(if drift { "drift_reconcile_failed" } else { "healthy" }.into());
        v.status = Some(if link.state.is_empty() { "stopped".to_string() } else { link.state });
        v.last_error = link.last_error;
        // Our events it has not pulled yet, and how far we pulled its feed.
        v.pending = Some(at.pending);
        v.last_seq = Some(at.pulled_seq);
        if !at.last_pull_at.is_empty() {
            v.last_sync_at = at.last_pull_at;
        }
        peers.push(v);
    }
    let tailscale = state.peers.all().iter().any(|p| p.transport == "tailscale").then(super::tailscale::status);
    Ok(ListResult { peers, tailscale })
}

/// `peer.configure {name, action: add-agent|remove-agent, agent}`: which of
/// the peer's agents are addressable here as `@{prefix}:{agent}`.
pub async fn configure(state: &State, _: &Caller, p: ConfigureParams) -> HResult<ConfigureResult> {
    let agent = p.agent.trim().trim_start_matches('@').to_string();
    thrum_core::AgentName::parse(&agent).map_err(|e| bad_params(format!("invalid agent {agent:?}: {e}")))?;
    let add = match p.action.as_str() {
        "add-agent" => true,
        "remove-agent" => false,
        other => return Err(bad_params(format!("unknown action {other:?}: use add-agent or remove-agent"))),
    };
    let changed = state
        .peers
        .update(&p.name, |peer| {
            let had = peer.remote_agents.contains(&agent);
            if add && !had {
                peer.remote_agents.push(agent.clone());
                peer.remote_agents.sort();
            } else if !add {
                peer.remote_agents.retain(|a| *a != agent);
            }
            (had != add, peer.proxy_prefix.clone(), peer.remote_agents.clone())
        })
        .map_err(|e| server(e.to_string()))?;
    let Some((changed, prefix, agents)) = changed else {
        return Err(server(format!("no peer named {:?}: see `thrum peer list`", p.name)));
    };
    Ok(ConfigureResult { peer: p.name, changed, address_as: format!("@{prefix}:{agent}"), remote_agents: agents })
}

/// `peer.repair {name}` (`thrum peer join --type repair NAME`): dials the
/// peer again now with the stored token and key (a local peer's port is
/// re-read from its repository) and reports how that went.
pub async fn repair(state: &State, _: &Caller, p: NameParams) -> HResult<RepairResult> {
    let name = p.name.trim().to_string();
    if state.peers.get(&name).is_none() {
        return Err(server(format!("no peer named {name:?}: see `thrum peer list`")));
    }
    state.links.retry_now(state, &name);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let s = state.links.status(&name).unwrap_or_default();
        match s.state.as_str() {
            "healthy" => return Ok(RepairResult { status: "healthy".into(), peer: name }),
            "token_rejected" => {
                return Err(server(format!(
                    "{name} refused our token: it no longer knows this pairing; pair again (`thrum peer remove {name}`, then peer add / peer join)"
                )));
            }
            "unreachable" if tokio::time::Instant::now() >= deadline => {
                return Err(server(format!(
                    "{name} is still unreachable: {} (it keeps retrying in the background)",
                    s.last_error
                )));
            }
            _ if tokio::time::Instant::now() >= deadline => {
                return Err(server(format!("{name} did not answer within 15 s (it keeps retrying in the background)")));
            }
            _ => {}
        }
    }
}

/// `peer.address_changed {token, address}` (from a network peer, on its
/// authenticated link): it listens elsewhere now. The new address must be
/// the one the link comes from and stay in the /24 (IPv4) or /64 (IPv6) of
/// the address paired with, so a stolen token cannot redirect us.
pub async fn address_changed(
    state: &State,
    p: AddressChangedParams,
    from: std::net::IpAddr,
) -> HResult<AddressChangedResult> {
    let peer = super::sync::peer_for_token(state, &p.token)?;
    let new: std::net::SocketAddr =
        p.address.parse().map_err(|_| bad_params(format!("{:?} is not ip:port", p.address)))?;
    if !super::is_secure(&peer.transport) {
        return Err(bad_params(format!("{} is a {} peer: its address is not announced", peer.name, peer.transport)));
    }
    if peer.transport == "tailscale" && !super::tailscale::in_tailnet(new.ip()) {
        return Err(bad_params(format!("{} is outside the tailnet: pair again", new.ip())));
    }
    if new.ip() != from {
        return Err(bad_params(format!("the new address {} is not where the link comes from ({from})", new.ip())));
    }
    let old: Option<std::net::SocketAddr> = peer.address.parse().ok();
    // On a tailnet any tailnet address will do; on a LAN, the same subnet.
    let allowed = peer.transport == "tailscale" || old.is_some_and(|o| same_subnet(o.ip(), new.ip()));
    if !allowed {
        return Err(server(format!(
            "{} moved outside the network it was paired on ({} -> {}): pair again",
            peer.name, peer.address, new
        )));
    }
    state.peers.update(&peer.name, |x| x.address = new.to_string()).map_err(|e| server(e.to_string()))?;
    tracing::info!(peer = %peer.name, from = %peer.address, to = %new, "peer address changed");
    // Dial the new address now rather than at the next backoff step.
    state.links.kick(&peer.name);
    Ok(AddressChangedResult { status: "ok".into(), address: new.to_string() })
}

/// Same /24 (IPv4) or /64 (IPv6).
fn same_subnet(a: std::net::IpAddr, b: std::net::IpAddr) -> bool {
    match (a, b) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(b)) => a.octets()[..3] == b.octets()[..3],
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(b)) => a.segments()[..4] == b.segments()[..4],
        _ => false,
    }
}

/// `peer.remove {name}`.
pub async fn remove(state: &State, _: &Caller, p: NameParams) -> HResult<RemoveResult> {
    let prefix = state.peers.get(&p.name).map(|peer| peer.proxy_prefix);
    if state.peers.remove(&p.name).map_err(|e| server(e.to_string()))? {
        // The link sees the peer gone and stops.
        state.links.kick(&p.name);
        if let Some(prefix) = prefix {
            forget_positions(state, prefix).await?;
        }
        Ok(RemoveResult { removed: p.name })
    } else {
        Err(server(format!("no peer named {:?}: see `thrum peer list`", p.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_changes_stay_in_the_paired_subnet() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap_or_else(|e| panic!("{e}"));
        assert!(same_subnet(ip("192.168.1.20"), ip("192.168.1.77")));
        assert!(!same_subnet(ip("192.168.1.20"), ip("192.168.2.20")));
        assert!(!same_subnet(ip("10.0.0.1"), ip("::1")));
        assert!(same_subnet(ip("fd00:1:2:3::1"), ip("fd00:1:2:3::99")));
        assert!(!same_subnet(ip("fd00:1:2:3::1"), ip("fd00:1:2:4::1")));
    }

    #[test]
    fn peercodes_parse_with_ipv4_and_ipv6() {
        let c = parse_peercode("api:127.0.0.1:9342:4829175036284719").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.name.as_str(), c.port, c.code.as_str()), ("api", 9342, "4829175036284719"));
        let c = parse_peercode("api:[::1]:9342:12").unwrap_or_else(|e| panic!("{e}"));
        assert!(c.ip.is_loopback());
        assert!(parse_peercode("api:localhost:9342:12").is_err_and(|e| e.contains("not an IP")));
        assert!(parse_peercode("api:127.0.0.1:x:12").is_err());
        assert!(parse_peercode("api:127.0.0.1:9:abc").is_err());
        assert!(parse_peercode("nonsense").is_err());
    }
}
