//! Client errors, classified so callers can decide what to tell the user.

use thrum_proto::RpcError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon is listening on the socket.
    #[error("daemon is not running (no socket at {0}): start it with `thrum daemon start`")]
    NotRunning(String),
    /// The daemon answered with a JSON-RPC error.
    #[error("{0}")]
    Rpc(RpcError),
    #[error("daemon did not answer within {0}s: check `thrum daemon status` and .thrum/var/daemon.log")]
    Timeout(u64),
    #[error("could not start the daemon: {0}")]
    StartFailed(String),
    #[error("timeout waiting for daemon to stop (PID {pid} still running after {secs}s)")]
    StopTimeout { pid: i64, secs: u64 },
    #[error("connection to the daemon failed: {0}")]
    Io(#[from] std::io::Error),
    /// The daemon closed the connection before answering (it stopped or
    /// restarted).
    #[error("unexpected reply from the daemon: the daemon closed the connection")]
    Closed,
    #[error("unexpected reply from the daemon: {0}")]
    Protocol(String),
    /// A call that is not safe to repeat failed after it was sent: the
    /// daemon may or may not have acted on it.
    #[error(
        "{method}: the connection to the daemon failed after the request was sent, so whether it took effect is unknown; check before repeating it"
    )]
    Interrupted {
        method: String,
        #[source]
        source: Box<ClientError>,
    },
}

impl ClientError {
    /// The JSON-RPC error, when the daemon answered with one.
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            ClientError::Rpc(e) => Some(e),
            _ => None,
        }
    }
}
