//! The wire contract between thrum processes: JSON-RPC 2.0 envelopes and
//! error codes, newline-delimited framing with a size cap, the protocol
//! version, and the method catalogue.
//!
//! Both the daemon and every client depend on this crate and on nothing of
//! each other, so the two sides cannot drift apart silently.

pub mod frame;
pub mod jsonrpc;
pub mod methods;

pub use frame::{FrameError, MAX_FRAME};
pub use jsonrpc::{ErrorCode, Notification, Request, Response, RpcError};

/// Bumped whenever a method's params or results change incompatibly; a
/// client that sees a different version from `health` restarts the daemon.
pub const PROTOCOL_VERSION: u32 = 1;
