//! The peer protocol's router: what a paired daemon may call on us, typed
//! by `thrum_proto::methods::peer_link`. Both transports feed it: `/peer`
//! on the HTTP port (local peers) and the encrypted network link.

use std::net::IpAddr;

use serde_json::Value;
use thrum_proto::methods::Method;
use thrum_proto::methods::peer_link::{
    AddressChanged, AddressChangedParams, AddressChangedResult, Notify, PairRequest, PairRequestParams,
    PairRequestResult, PeerInfo, PeerInfoResult, Pull, PullParams, PullResult, StatusResult, TokenParams,
};

use crate::error::{HResult, server};
use crate::rpc::{not_found, router};
use crate::state::State;

/// How a peer request reached us.
#[derive(Debug, Clone, Copy)]
pub enum Link {
    /// `/peer` on the loopback HTTP port: local peers, and pairing them.
    PeerSocket,
    /// An authenticated network link, from this address (when known).
    Network(Option<IpAddr>),
}

router! {
    /// Runs the handler of a peer-protocol method.
    fn serve(state: &State, link: &Link) serves PEER_ROUTED {
        PairRequest => pair_request,
        Pull => pull,
        Notify => notify,
        AddressChanged => address_changed,
        PeerInfo => peer_info,
    }
}

/// Pairing a local peer; a network pairing is answered inside its own
/// handshake channel (`net`), never on a link.
async fn pair_request(state: &State, link: &Link, p: PairRequestParams) -> HResult<PairRequestResult> {
    match link {
        Link::PeerSocket => super::rpc::pair_request(state, p).await,
        Link::Network(_) => Err(not_found(<PairRequest as Method>::METHOD)),
    }
}

async fn pull(state: &State, _: &Link, p: PullParams) -> HResult<PullResult> {
    super::sync::pull(state, p).await
}

async fn notify(state: &State, _: &Link, p: TokenParams) -> HResult<StatusResult> {
    super::sync::notify(state, p).await
}

async fn peer_info(state: &State, _: &Link, p: TokenParams) -> HResult<PeerInfoResult> {
    super::sync::peer_info(state, p)
}

/// Only network peers announce a new address, and only where they call from.
async fn address_changed(state: &State, link: &Link, p: AddressChangedParams) -> HResult<AddressChangedResult> {
    match link {
        Link::Network(Some(ip)) => super::rpc::address_changed(state, p, *ip).await,
        Link::Network(None) => Err(server("cannot tell where this link comes from")),
        Link::PeerSocket => Err(not_found(<AddressChanged as Method>::METHOD)),
    }
}

/// Answers one peer request (`{"jsonrpc", "method", "params", "id"}`).
pub async fn answer(state: &State, link: &Link, method: &str, params: Value) -> HResult<Value> {
    let params = if params.is_null() { Value::Object(Default::default()) } else { params };
    serve(state, link, method, params).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_router_serves_exactly_the_peer_protocol() {
        let mut declared: Vec<&str> = thrum_proto::methods::peer_link::METHODS.iter().map(|m| m.name).collect();
        let mut routed = PEER_ROUTED.to_vec();
        declared.sort_unstable();
        routed.sort_unstable();
        assert_eq!(routed, declared);
    }
}
