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
    #[error("connection to the daemon failed: {0}")]
    Io(#[from] std::io::Error),
    /// The daemon closed the connection before answering (it stopped or
    /// restarted).
    #[error("unexpected reply from the daemon: the daemon closed the connection")]
    Closed,
    #[error("unexpected reply from the daemon: {0}")]
    Protocol(String),
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
