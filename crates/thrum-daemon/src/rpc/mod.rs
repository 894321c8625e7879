//! The router: one table from method name to handler, shared by every
//! transport. Handler modules mirror `thrum_proto::methods`.

mod agent;
mod group;
mod message;
mod session;
mod system;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use thrum_proto::methods::{self, agent as am, group as gm, message as mm, session as sm, system as ym};
use thrum_proto::{ErrorCode, RpcError};

use crate::caller::{Caller, anonymous_refused};
use crate::error::{Fail, HResult, bad_params};
use crate::state::State;

/// Routes one request. Errors come back as JSON-RPC error objects.
pub async fn dispatch(state: &State, caller: &Caller, method: &str, params: Value) -> Result<Value, RpcError> {
    if caller.is_anonymous() && methods::ALL.contains(&method) && !methods::ANONYMOUS_ALLOWED.contains(&method) {
        return Err(anonymous_refused(method));
    }
    let params = if params.is_null() { Value::Object(Default::default()) } else { params };
    if method.starts_with("peer.") && matches!(caller, Caller::Browser) {
        return Err(RpcError::new(
            ErrorCode::Identity,
            "peer methods are only available on the local socket (the thrum CLI)",
        ));
    }
    let out = match method {
        "peer.add" => crate::peers::rpc::add(state, params).await,
        "peer.add.wait" => crate::peers::rpc::add_wait(state, params).await,
        "peer.join" => crate::peers::rpc::join(state, params).await,
        "peer.list" => crate::peers::rpc::list(state).await,
        "peer.remove" => crate::peers::rpc::remove(state, params).await,
        "peer.repair" => crate::peers::rpc::repair(state, params).await,
        "peer.configure" => crate::peers::rpc::configure(state, params).await,
        ym::HEALTH => system::health(state).await,
        ym::USER_IDENTIFY => system::user_identify(state).await,
        ym::USER_REGISTER if matches!(caller, Caller::Browser) => system::user_register(state, params).await,
        ym::USER_REGISTER => {
            Err(Fail(RpcError::new(ErrorCode::Identity, "user.register is only available over the WebSocket API")))
        }
        ym::SUBSCRIBE => system::subscribe(state, caller, params).await,
        ym::UNSUBSCRIBE => system::unsubscribe(state, caller, params).await,
        ym::SUBSCRIPTIONS_LIST => system::subscriptions_list(state, caller, params).await,
        ym::SYNC_FORCE => system::sync_force(state, params).await,
        // Tailscale peers depend on the host's Tailscale: show its state.
        ym::SYNC_STATUS => ok(&state.sync.status()).map(|mut v| {
            if state.peers.all().iter().any(|p| p.transport == "tailscale") {
                v["tailscale"] = crate::peers::tailscale::status();
            }
            v
        }),

        am::REGISTER => agent::register(state, caller, params).await,
        am::LIST => agent::list(state, params).await,
        am::WHOAMI => agent::whoami(state, caller, params).await,
        am::LIST_CONTEXT => agent::list_context(state, params).await,
        am::DELETE => agent::delete(state, caller, params).await,
        am::CLEANUP => agent::cleanup(state, params).await,
        am::SET_STATUS => agent::set_status(state, params).await,

        sm::START => session::start(state, params).await,
        sm::END => session::end(state, params).await,
        sm::LIST => session::list(state, params).await,
        sm::HEARTBEAT => session::heartbeat(state, params).await,
        sm::SET_INTENT => session::set_intent(state, params).await,
        sm::SET_TASK => session::set_task(state, params).await,

        mm::SEND => message::send(state, caller, params).await,
        mm::GET => message::get(state, params).await,
        mm::LIST => message::list(state, caller, params).await,
        mm::OUTBOX => message::outbox(state, caller, params).await,
        mm::EDIT => message::edit(state, caller, params).await,
        mm::DELETE => message::delete(state, caller, params).await,
        mm::MARK_READ => message::mark_read(state, caller, params).await,
        mm::DELETE_BY_AGENT => message::delete_by_agent(state, caller, params).await,
        mm::WAIT => message::wait(state, caller, params).await,
        mm::PURGE => message::purge(state, params).await,

        gm::CREATE => group::create(state, caller, params).await,
        gm::DELETE => group::delete(state, params).await,
        gm::MEMBER_ADD => group::member_add(state, caller, params).await,
        gm::MEMBER_REMOVE => group::member_remove(state, params).await,
        gm::LIST => group::list(state).await,
        gm::INFO => group::info(state, params).await,
        gm::MEMBERS => group::members(state, params).await,

        _ => Err(Fail(RpcError {
            code: ErrorCode::MethodNotFound.code(),
            message: "Method not found".into(),
            data: Some(Value::from(format!("method '{method}' is not registered"))),
        })),
    };
    out.map_err(|f| f.0)
}

/// Decodes params, naming the problem on failure.
pub(crate) fn parse<T: DeserializeOwned>(params: Value) -> HResult<T> {
    serde_json::from_value(params).map_err(|e| bad_params(format!("invalid params: {e}")))
}

/// Encodes a result.
pub(crate) fn ok<T: Serialize>(v: &T) -> HResult<Value> {
    serde_json::to_value(v).map_err(|e| Fail(RpcError::internal(format!("encode result: {e}"))))
}
