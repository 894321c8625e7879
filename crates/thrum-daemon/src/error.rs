//! Errors of the daemon: start-up failures, and the handler error that
//! becomes a JSON-RPC error object.

use std::path::PathBuf;

use thrum_proto::{ErrorCode, RpcError};
use thrum_store::StoreError;

/// Why the daemon could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("daemon is already running (PID {pid}) for repo {repo}")]
    AlreadyRunning { pid: i64, repo: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("git: {0}")]
    Git(#[from] thrum_git::GitError),
    #[error("{0}")]
    Config(String),
}

impl DaemonError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DaemonError::Io { path: path.into(), source }
    }
}

/// A handler failure: carries the JSON-RPC error to return. Store errors
/// become internal errors, except a full disk, which says what to do.
#[derive(Debug)]
pub struct Fail(pub RpcError);

impl From<RpcError> for Fail {
    fn from(e: RpcError) -> Self {
        Fail(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        if e.is_disk_full() {
            Fail(RpcError::new(
                ErrorCode::Internal,
                "the disk holding the thrum log is full or read-only: nothing was written; free some space and retry",
            ))
        } else {
            tracing::error!(error = %e, "store error");
            Fail(RpcError::internal(format!("storage error: {e}")))
        }
    }
}

/// Shorthand for a domain error (-32000).
pub fn server(msg: impl Into<String>) -> Fail {
    Fail(RpcError::server(msg))
}

/// Shorthand for a bad-params error (-32602).
pub fn bad_params(msg: impl Into<String>) -> Fail {
    Fail(RpcError::invalid_params(msg))
}

pub type HResult<T> = Result<T, Fail>;
