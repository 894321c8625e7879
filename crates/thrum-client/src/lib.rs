//! Talking to a thrum daemon over its Unix socket, starting it first when
//! it is not running (and replacing one that speaks another protocol
//! version), and telling from its PID file and lock whether it runs. Used
//! by the CLI and the MCP server alike, through a [`Session`].
//!
//! The client is blocking: a CLI command makes a handful of calls and
//! exits, and a plain socket is the fastest way to do that.

mod autostart;
mod connection;
mod error;
pub mod handshake;
pub mod pidfile;
mod session;

pub use autostart::{STOP_TIMEOUT, StartOutcome, connect_or_start, start_daemon, stop_daemon};
pub use connection::Client;
pub use error::ClientError;
pub use handshake::Handshake;
pub use session::{Session, SessionEvent};
