//! The router: one table from method type to handler, shared by every
//! client transport (Unix socket and WebSocket). Handler modules mirror
//! `thrum_proto::methods`.
//!
//! Each handler takes its method's typed params and returns its typed
//! result; the table is written with the method types, so a handler of
//! the wrong shape does not compile, and a test checks that the table and
//! the catalogue hold the same methods.

pub(crate) mod agent;
pub mod delivery;
mod group;
pub(crate) mod message;
mod session;
mod system;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use thrum_proto::methods::{self, Method, Served, agent as am, group as gm, message as mm, peer as pm};
use thrum_proto::methods::{backup as bm, monitor as mo, session as sm, system as ym, tmux as tm};

use crate::tmux as tmx;
use thrum_core::guard::Guard;
use thrum_proto::{ErrorCode, RpcError};

use crate::caller::{self, Caller, anonymous_refused};
use crate::error::{Fail, HResult, bad_params};
use crate::peers::rpc as peers;
use crate::state::State;

/// Builds a router: an async fn that decodes a request's params into its
/// method's type, calls the handler (with the router's two context
/// arguments and the params) and encodes the result, plus the list of the
/// methods it serves (`$routed`).
macro_rules! router {
    (
        $(#[$doc:meta])*
        fn $name:ident($a:ident: $at:ty, $b:ident: $bt:ty) serves $routed:ident {
            $($m:ty => $handler:expr,)*
        }
    ) => {
        /// The methods this router serves (checked against the catalogue by
        /// the tests).
        #[allow(dead_code)]
        pub(crate) const $routed: &[&str] = &[$(<$m as Method>::METHOD),*];

        $(#[$doc])*
        pub(crate) async fn $name($a: $at, $b: $bt, method: &str, params: Value) -> HResult<Value> {
            $(
                if method == <$m as Method>::METHOD {
                    let p: <$m as Method>::Params = $crate::rpc::parse(params)?;
                    let r: <$m as Method>::Result = ($handler)($a, $b, p).await?;
                    return $crate::rpc::ok(&r);
                }
            )*
            Err($crate::rpc::not_found(method))
        }
    };
}
pub(crate) use router;

router! {
    /// Runs the handler of a client method.
    fn route(state: &State, caller: &Caller) serves ROUTED {
        ym::Health => system::health,
        ym::UserIdentify => system::user_identify,
        ym::UserRegister => system::user_register,
        ym::Subscribe => system::subscribe,
        ym::Unsubscribe => system::unsubscribe,
        ym::SubscriptionsList => system::subscriptions_list,
        ym::Shutdown => system::shutdown,
        ym::SyncForce => system::sync_force,
        ym::SyncStatus => system::sync_status,

        am::Register => agent::register,
        am::List => agent::list,
        am::Whoami => agent::whoami,
        am::ListContext => agent::list_context,
        am::Delete => agent::delete,
        am::Cleanup => agent::cleanup,
        am::SetStatus => agent::set_status,

        sm::Start => session::start,
        sm::End => session::end,
        sm::List => session::list,
        sm::Heartbeat => session::heartbeat,
        sm::SetIntent => session::set_intent,
        sm::SetTask => session::set_task,

        mm::Send => message::send,
        mm::Reply => message::reply,
        mm::Get => message::get,
        mm::List => message::list,
        mm::Outbox => message::outbox,
        mm::Edit => message::edit,
        mm::Delete => message::delete,
        mm::MarkRead => message::mark_read,
        mm::DeleteByAgent => message::delete_by_agent,
        mm::DeleteByScope => message::delete_by_scope,
        mm::Wait => message::wait,
        mm::Announce => delivery::announce,
        mm::Purge => message::purge,

        gm::Create => group::create,
        gm::Delete => group::delete,
        gm::MemberAdd => group::member_add,
        gm::MemberRemove => group::member_remove,
        gm::List => group::list,
        gm::Info => group::info,
        gm::Members => group::members,

        pm::Add => peers::add,
        pm::AddWait => peers::add_wait,
        pm::Join => peers::join,
        pm::List => peers::list,
        pm::Remove => peers::remove,
        pm::Repair => peers::repair,
        pm::Configure => peers::configure,

        tm::Create => tmx::sessions::create,
        tm::Launch => tmx::sessions::launch,
        tm::Status => tmx::sessions::status,
        tm::Kill => tmx::sessions::kill,
        tm::Send => tmx::sessions::send,
        tm::Capture => tmx::sessions::capture,
        tm::Restart => tmx::restart::restart,
        tm::Queue => tmx::queue::queue,
        tm::QueueWait => tmx::queue::wait,
        tm::QueueStatus => tmx::queue::status,
        tm::Cancel => tmx::queue::cancel,
        tm::CheckPane => tmx::permission::check_pane,

        mo::Start => crate::monitor::rpc::start,
        mo::List => crate::monitor::rpc::list,
        mo::Show => crate::monitor::rpc::show,
        mo::Stop => crate::monitor::rpc::stop,
        mo::Logs => crate::monitor::rpc::logs,
        mo::Restart => crate::monitor::rpc::restart,
        bm::Create => crate::backup::rpc::create,
        bm::Status => crate::backup::rpc::status,
        bm::Schedule => crate::backup::rpc::schedule,
    }
}

/// Routes one client request, after the method's declared policy allows
/// this caller. Errors come back as JSON-RPC error objects.
pub async fn dispatch(state: &State, caller: &Caller, method: &str, params: Value) -> Result<Value, RpcError> {
    // The peer protocol is not served to clients: to them it does not exist.
    let trusted = Caller::Unknown;
    let mut caller = caller;
    if let Some(info) = methods::find(method).filter(|m| m.policy.served != Served::PeerLink) {
        match allow(info, caller) {
            Ok(()) => {}
            // An anonymous write: the unauthenticated_rpc guard's to refuse.
            Err(refused) if caller.is_anonymous() && refused.code == anonymous_refused("").code => {
                if caller::refuses(&state.layout, Guard::UnauthenticatedRpc, "anonymous_mutating_rpc", &refused.message)
                {
                    return Err(refused);
                }
                // Loosened, a caller outside the repository is trusted to
                // name its agent, as before v0.9.0. One inside a worktree
                // of ours is not: claiming an agent registered elsewhere is
                // forgery, which `Caller::resolve` refuses whatever the mode.
                if matches!(caller, Caller::Anonymous) {
                    caller = &trusted;
                }
            }
            Err(e) => return Err(e),
        }
    }
    let params = if params.is_null() { Value::Object(Default::default()) } else { params };
    route(state, caller, method, params).await.map_err(|f| f.0)
}

/// The access policy, the same for every transport: where the method is
/// served, then whether an anonymous caller may call it.
fn allow(info: &methods::MethodInfo, caller: &Caller) -> Result<(), RpcError> {
    let browser = matches!(caller, Caller::Browser);
    match info.policy.served {
        // Internal methods do not exist for anyone outside.
        Served::Internal => return Err(not_found(info.name).0),
        Served::SocketOnly if browser => {
            return Err(RpcError::new(
                ErrorCode::Identity,
                format!("{} is only available on the local socket (the thrum CLI)", info.name),
            ));
        }
        Served::WebSocketOnly if !browser => {
            return Err(RpcError::new(
                ErrorCode::Identity,
                format!("{} is only available over the WebSocket API", info.name),
            ));
        }
        _ => {}
    }
    if !info.policy.anonymous && caller.is_anonymous() {
        return Err(anonymous_refused(info.name));
    }
    Ok(())
}

/// The "method not found" error (-32601), naming the method.
pub(crate) fn not_found(method: &str) -> Fail {
    Fail(RpcError {
        code: ErrorCode::MethodNotFound.code(),
        message: "Method not found".into(),
        data: Some(Value::from(format!("method '{method}' is not registered"))),
    })
}

/// Decodes params, naming the problem on failure.
pub(crate) fn parse<T: DeserializeOwned>(params: Value) -> HResult<T> {
    serde_json::from_value(params).map_err(|e| bad_params(format!("invalid params: {e}")))
}

/// Encodes a result.
pub(crate) fn ok<T: Serialize>(v: &T) -> HResult<Value> {
    serde_json::to_value(v).map_err(|e| Fail(RpcError::internal(format!("encode result: {e}"))))
}

/// Sends a message the daemon writes itself (queue results, restart
/// requests, permission prompts) from `author` (`system`, or a
/// pseudo-agent such as a supervisor) to `to` (an agent, `@role` or group
/// name), optionally as a reply in a thread. It goes through
/// `message.send` like any message, so it is stored, synced and announced
/// the same way.
pub(crate) async fn send_from_daemon(
    state: &State,
    author: &str,
    to: &str,
    content: String,
    reply_to: Option<&str>,
) -> HResult<mm::SendResult> {
    let p = mm::SendParams {
        content,
        to: Some(format!("@{}", to.trim_start_matches('@'))),
        reply_to: reply_to.unwrap_or_default().to_string(),
        caller_agent_id: Some(author.to_string()),
        ..Default::default()
    };
    message::send(state, &Caller::Daemon, p).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every client method of the catalogue has a handler here, and every
    /// handler here serves a declared client method.
    #[test]
    fn the_router_serves_exactly_the_client_catalogue() {
        let mut declared: Vec<&str> =
            methods::all().filter(|m| m.policy.served != Served::PeerLink).map(|m| m.name).collect();
        let mut routed = ROUTED.to_vec();
        declared.sort_unstable();
        routed.sort_unstable();
        assert_eq!(routed, declared);
    }

    /// Every `rpc.call("…")` of the web UI names a method the WebSocket
    /// serves to a browser; a call whose method is not a string literal
    /// fails too, since it could not be checked.
    #[test]
    fn the_web_ui_calls_only_methods_served_to_browsers() {
        let js = include_str!("../../ui/app.js");
        let mut called = Vec::new();
        for (at, _) in js.match_indices("rpc.call(") {
            let rest = &js[at + "rpc.call(".len()..];
            let name =
                rest.strip_prefix('"').and_then(|r| r.split_once('"')).map(|(name, _)| name).unwrap_or_else(|| {
                    panic!("app.js: rpc.call with a method that is not a string literal: {:.40}", rest)
                });
            called.push(name);
        }
        assert!(called.len() >= 10, "found only {called:?}: has the UI's RPC helper been renamed?");
        for name in called {
            let info = methods::find(name).unwrap_or_else(|| panic!("app.js calls {name:?}, which is not declared"));
            assert!(ROUTED.contains(&name), "app.js calls {name:?}, which has no handler");
            assert!(allow(info, &Caller::Browser).is_ok(), "app.js calls {name:?}, which a browser may not call");
        }
    }

    #[test]
    fn policies_are_enforced_for_every_transport() {
        let find = |n: &str| methods::find(n).copied().unwrap_or_else(|| panic!("{n} not declared"));
        let anon = Caller::Anonymous;
        let browser = Caller::Browser;
        let socket = Caller::Unknown;
        // Anonymous callers read, and bootstrap an agent; nothing else.
        assert!(allow(&find("health"), &anon).is_ok());
        assert!(allow(&find("agent.register"), &anon).is_ok());
        for write in ["message.send", "peer.add", "peer.remove", "peer.configure", "group.create", "daemon.shutdown"] {
            assert_eq!(allow(&find(write), &anon).map_err(|e| e.code), Err(-32002), "{write}");
        }
        // Browsers never reach the peer commands or daemon control.
        for m in pm::METHODS.iter().chain([&find("daemon.shutdown")]) {
            assert_eq!(allow(m, &browser).map_err(|e| e.code), Err(-32001), "{}", m.name);
            assert!(allow(m, &socket).is_ok(), "{}", m.name);
        }
        assert!(allow(&find("user.register"), &socket).is_err());
        assert!(allow(&find("user.register"), &browser).is_ok());
    }
}
