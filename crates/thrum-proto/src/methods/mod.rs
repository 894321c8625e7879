//! The method catalogue: every RPC's name, parameters and result, one
//! module per family. The daemon deserialises params from these types and
//! the client serialises them, so the two sides share one definition.
//!
//! Field names, optionality and omission rules follow the original's
//! `docs/rpc-api.md`.

pub mod agent;
pub mod group;
pub mod message;
pub mod session;
pub mod system;

/// Every method the daemon serves on its socket.
pub const ALL: &[&str] = &[
    system::HEALTH,
    system::USER_IDENTIFY,
    system::USER_REGISTER,
    system::SUBSCRIBE,
    system::UNSUBSCRIBE,
    system::SUBSCRIPTIONS_LIST,
    system::SYNC_FORCE,
    system::SYNC_STATUS,
    agent::REGISTER,
    agent::LIST,
    agent::WHOAMI,
    agent::LIST_CONTEXT,
    agent::DELETE,
    agent::CLEANUP,
    agent::SET_STATUS,
    session::START,
    session::END,
    session::LIST,
    session::HEARTBEAT,
    session::SET_INTENT,
    session::SET_TASK,
    message::SEND,
    message::GET,
    message::LIST,
    message::OUTBOX,
    message::EDIT,
    message::DELETE,
    message::MARK_READ,
    message::DELETE_BY_AGENT,
    message::WAIT,
    message::PURGE,
    group::CREATE,
    group::DELETE,
    group::MEMBER_ADD,
    group::MEMBER_REMOVE,
    group::LIST,
    group::INFO,
    group::MEMBERS,
];

/// Methods an anonymous caller (a process outside every registered
/// worktree) may call: the read-only ones, plus the three that bootstrap
/// a new agent.
pub const ANONYMOUS_ALLOWED: &[&str] = &[
    system::HEALTH,
    agent::LIST,
    agent::WHOAMI,
    agent::LIST_CONTEXT,
    session::LIST,
    message::GET,
    message::LIST,
    message::OUTBOX,
    group::LIST,
    group::INFO,
    group::MEMBERS,
    system::USER_IDENTIFY,
    system::SUBSCRIPTIONS_LIST,
    system::SYNC_STATUS,
    agent::REGISTER,
    session::START,
    session::SET_INTENT,
    message::WAIT,
];

/// Serde helper: skip `false`.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
