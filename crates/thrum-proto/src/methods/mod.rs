//! The method catalogue: every RPC's name, parameters, result and access
//! policy, one module per family, in the style of lsp-types' `Request`
//! trait. Each method is a type: `message::Send` carries
//! `METHOD = "message.send"`, `Params = SendParams`,
//! `Result = SendResult` and its [`Policy`]. The daemon's router is built
//! from these types and the client's `call::<M>` takes them, so the two
//! sides share one definition and cannot drift apart silently.
//!
//! Field names, optionality and omission rules follow the original's
//! `docs/rpc-api.md`. Params types accept (and ignore) fields they do not
//! know, so the original's CLI and scripts keep working.

use serde::Serialize;
use serde::de::DeserializeOwned;

pub mod agent;
pub mod backup;
pub mod group;
pub mod message;
pub mod monitor;
pub mod peer;
pub mod peer_link;
pub mod session;
pub mod system;
pub mod tmux;

/// A request/response method.
pub trait Method {
    /// The wire name (`"message.send"`).
    const METHOD: &'static str;
    /// Who may call it, where, and whether a client may repeat it.
    const POLICY: Policy;
    type Params: Serialize + DeserializeOwned + Send + 'static;
    type Result: Serialize + DeserializeOwned + Send + 'static;
}

/// A push from the daemon to a client: a request without an id, which
/// gets no answer.
pub trait Notification {
    const METHOD: &'static str;
    type Params: Serialize + DeserializeOwned + Send + 'static;
}

/// Where a method is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// The Unix socket and the WebSocket API alike.
    Everywhere,
    /// The Unix socket only (the local CLI and scripts): never a browser.
    SocketOnly,
    /// The WebSocket API only (a person in the web UI).
    WebSocketOnly,
    /// Between paired daemons only (`/peer` and the encrypted network
    /// link), never to a client.
    PeerLink,
    /// Inside the daemon only: declared and routed, but every outside
    /// caller is told it does not exist (-32601), as the original documents
    /// for its housekeeping calls.
    Internal,
}

/// A method's access policy, declared with it and enforced by the router
/// for every transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A caller outside every registered worktree may call it (the
    /// read-only methods and the ones that bootstrap a new agent).
    pub anonymous: bool,
    pub served: Served,
    /// Repeating the call changes nothing, so a client may retry it after
    /// a dropped connection.
    pub idempotent: bool,
}

impl Policy {
    /// Served everywhere, to registered callers, not repeated.
    pub const DEFAULT: Policy = Policy { anonymous: false, served: Served::Everywhere, idempotent: false };

    pub const fn anonymous(self) -> Policy {
        Policy { anonymous: true, ..self }
    }

    pub const fn idempotent(self) -> Policy {
        Policy { idempotent: true, ..self }
    }

    pub const fn socket_only(self) -> Policy {
        Policy { served: Served::SocketOnly, ..self }
    }

    pub const fn websocket_only(self) -> Policy {
        Policy { served: Served::WebSocketOnly, ..self }
    }

    pub const fn peer_link(self) -> Policy {
        Policy { served: Served::PeerLink, ..self }
    }

    pub const fn internal(self) -> Policy {
        Policy { served: Served::Internal, ..self }
    }
}

/// A catalogue entry: a method's name, policy and the names of its params
/// and result types, for lookups by name and the README's method table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodInfo {
    pub name: &'static str,
    pub policy: Policy,
    pub params: &'static str,
    pub result: &'static str,
}

/// Params of a method that takes none. Any object is accepted (unknown
/// fields are ignored, as everywhere); it is sent as `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Empty {}

/// Declares a family's methods: one uninhabited type per method with its
/// [`Method`] impl, and the family's `METHODS` list. Flags after the types
/// are [`Policy`] builders (`anonymous`, `idempotent`, `socket_only`…).
macro_rules! methods {
    ($( $(#[$doc:meta])* $ty:ident = $name:literal, $params:ty => $result:ty $(, $flag:ident)* ; )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub enum $ty {}

            impl $crate::methods::Method for $ty {
                const METHOD: &'static str = $name;
                const POLICY: $crate::methods::Policy = $crate::methods::Policy::DEFAULT $(.$flag())*;
                type Params = $params;
                type Result = $result;
            }
        )*

        /// This family's methods.
        pub const METHODS: &[$crate::methods::MethodInfo] = &[$(
            $crate::methods::MethodInfo {
                name: <$ty as $crate::methods::Method>::METHOD,
                policy: <$ty as $crate::methods::Method>::POLICY,
                params: stringify!($params),
                result: stringify!($result),
            }
        ),*];
    };
}

/// Declares a family's push notifications.
macro_rules! notifications {
    ($( $(#[$doc:meta])* $ty:ident = $name:literal, $params:ty ; )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub enum $ty {}

            impl $crate::methods::Notification for $ty {
                const METHOD: &'static str = $name;
                type Params = $params;
            }
        )*

        /// This family's push notifications.
        pub const NOTIFICATIONS: &[&str] = &[$(<$ty as $crate::methods::Notification>::METHOD),*];
    };
}

pub(crate) use {methods, notifications};

/// Every family, in the order the README lists them.
pub const FAMILIES: &[(&str, &[MethodInfo])] = &[
    ("system", system::METHODS),
    ("agent", agent::METHODS),
    ("session", session::METHODS),
    ("message", message::METHODS),
    ("group", group::METHODS),
    ("peer", peer::METHODS),
    ("peer link", peer_link::METHODS),
    ("tmux", tmux::METHODS),
    ("monitor", monitor::METHODS),
    ("backup", backup::METHODS),
];

/// Every push notification.
pub const NOTIFICATIONS: &[&[&str]] = &[system::NOTIFICATIONS];

/// Every declared method.
pub fn all() -> impl Iterator<Item = &'static MethodInfo> {
    FAMILIES.iter().flat_map(|(_, m)| m.iter())
}

/// The declaration of the method called `name`.
pub fn find(name: &str) -> Option<&'static MethodInfo> {
    all().find(|m| m.name == name)
}

/// Serde helper: skip `false`.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_declared_once() {
        let mut names: Vec<&str> = all().map(|m| m.name).collect();
        names.extend(NOTIFICATIONS.iter().flat_map(|n| n.iter().copied()));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a method name is declared twice");
    }

    #[test]
    fn peer_link_methods_are_never_anonymous_or_for_clients() {
        for m in peer_link::METHODS {
            assert_eq!(m.policy.served, Served::PeerLink, "{}", m.name);
        }
        for m in all().filter(|m| m.policy.served != Served::PeerLink) {
            assert!(!peer_link::METHODS.iter().any(|p| p.name == m.name));
        }
    }
}
