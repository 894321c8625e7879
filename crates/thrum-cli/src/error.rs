//! Errors at the CLI's edge: every failure has a kind, and every kind a
//! fixed exit code (after jj's `CommandError`; the chain walk is
//! ripgrep's).
//!
//! Commands return `anyhow::Result<u8>`. At the edge, [`CliError::classify`]
//! decides the kind from the error's *types*, walking its chain from the
//! outside in: a kind set by the command ([`ResultExt::error_kind`],
//! [`user_err!`], [`config_err!`], [`internal_err!`]) wins, then the first
//! client error, daemon error code, layout error or clap error found;
//! anything else is a user error (exit 1, as the original exits on every
//! error). A closed stdout is no error at all: see [`is_broken_pipe`].
//!
//! | kind | exit | when |
//! |---|---|---|
//! | user | 1 | bad input, not found, refused by the daemon (-32000, -32001, -32002, -32601, -32602) |
//! | usage | 64 | the command line does not parse (`EX_USAGE`) |
//! | daemon_unreachable | 69 | cannot connect to or start the daemon, a timeout, a dropped connection (`EX_UNAVAILABLE`) |
//! | internal | 70 | the daemon's internal error (-32603), an unexpected reply, a bug (`EX_SOFTWARE`) |
//! | config | 78 | not initialised; an invalid config.json, redirect or identity file; no identity (`EX_CONFIG`) |
//!
//! `thrum wait` keeps its own contract: 0 received, 1 timeout, 2 any error.

use std::error::Error as StdError;
use std::fmt;
use std::io::Write as _;

use serde::Serialize;
use thrum_client::ClientError;
use thrum_proto::{ErrorCode, RpcError};

use crate::output::Out;

/// What kind of failure an error is; it fixes the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request was wrong or refused: bad input, not found, not allowed.
    User,
    /// The command line did not parse.
    Usage,
    /// thrum's own setup is missing or invalid.
    Config,
    /// The daemon could not be reached, started, or answered in time.
    DaemonUnreachable,
    /// A bug, here or in the daemon.
    Internal,
}

impl ErrorKind {
    /// The process exit code (the non-1 codes are sysexits.h's).
    pub const fn exit_code(self) -> u8 {
        match self {
            ErrorKind::User => 1,
            ErrorKind::Usage => 64,
            ErrorKind::DaemonUnreachable => 69,
            ErrorKind::Internal => 70,
            ErrorKind::Config => 78,
        }
    }

    /// The kind as the `--json` error object names it.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::User => "user",
            ErrorKind::Usage => "usage",
            ErrorKind::Config => "config",
            ErrorKind::DaemonUnreachable => "daemon_unreachable",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error with its kind decided. Inside an `anyhow::Error` it marks the
/// kind and is otherwise invisible: it displays as the error it wraps and
/// passes that error's sources on, so the `Error: …` line is unchanged.
#[derive(Debug)]
pub struct CliError {
    pub kind: ErrorKind,
    pub error: anyhow::Error,
}

impl CliError {
    pub fn new(kind: ErrorKind, error: impl Into<anyhow::Error>) -> CliError {
        CliError { kind, error: error.into() }
    }

    /// Decides the kind of a command's error by walking its chain.
    pub fn classify(error: anyhow::Error) -> CliError {
        let kind = links(&error).find_map(kind_of).unwrap_or(ErrorKind::User);
        CliError { kind, error }
    }

    /// The daemon's JSON-RPC error, when the daemon answered with one.
    pub fn rpc(&self) -> Option<&RpcError> {
        links(&self.error).find_map(rpc_of)
    }

    /// Prints the error on stderr: `Error: …` (the whole chain), or with
    /// `--json` one object `{"error": {"kind", "code"?, "message",
    /// "data"?, "exit_code"}}`. A stderr that cannot be written to is
    /// ignored: there is nowhere else to say it.
    pub fn report(&self, out: &Out, exit_code: u8) {
        let message = format!("{:#}", self.error);
        let text = if out.json {
            let rpc = self.rpc();
            let body = ErrorJson {
                error: ErrorBody {
                    kind: self.kind.name(),
                    code: rpc.map(|r| r.code),
                    message: &message,
                    data: rpc.and_then(|r| r.data.as_ref()),
                    exit_code,
                },
            };
            serde_json::to_string(&body).unwrap_or_else(|_| format!("Error: {message}"))
        } else {
            format!("Error: {message}")
        };
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() { write!(f, "{:#}", self.error) } else { write!(f, "{}", self.error) }
    }
}

impl StdError for CliError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}

/// The `--json` error object.
#[derive(Serialize)]
struct ErrorJson<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<i64>,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a serde_json::Value>,
    exit_code: u8,
}

/// Every error in the chain, outermost first. A [`CliError`] hands its
/// sources on but is not its wrapped error, so that error is visited too.
fn links(error: &anyhow::Error) -> impl Iterator<Item = &(dyn StdError + 'static)> {
    error.chain().flat_map(|link| {
        let wrapped = link.downcast_ref::<CliError>().map(|c| &*c.error as &(dyn StdError + 'static));
        std::iter::once(link).chain(wrapped)
    })
}

/// The kind one link of the chain decides, if it decides one.
fn kind_of(link: &(dyn StdError + 'static)) -> Option<ErrorKind> {
    if let Some(c) = link.downcast_ref::<CliError>() {
        return Some(c.kind);
    }
    if let Some(c) = link.downcast_ref::<ClientError>() {
        return Some(client_kind(c));
    }
    if let Some(r) = link.downcast_ref::<RpcError>() {
        return Some(rpc_kind(r));
    }
    if link.is::<thrum_core::LayoutError>() {
        return Some(ErrorKind::Config);
    }
    if let Some(thrum_daemon::DaemonError::Config(_)) = link.downcast_ref::<thrum_daemon::DaemonError>() {
        return Some(ErrorKind::Config);
    }
    if link.is::<clap::Error>() {
        return Some(ErrorKind::Usage);
    }
    None
}

fn rpc_of<'a>(link: &'a (dyn StdError + 'static)) -> Option<&'a RpcError> {
    link.downcast_ref::<ClientError>().and_then(ClientError::rpc).or_else(|| link.downcast_ref::<RpcError>())
}

/// How the client failed decides the kind.
pub fn client_kind(e: &ClientError) -> ErrorKind {
    match e {
        ClientError::Rpc(r) => rpc_kind(r),
        ClientError::NotRunning(_)
        | ClientError::Timeout(_)
        | ClientError::StartFailed(_)
        | ClientError::Io(_)
        | ClientError::Closed
        | ClientError::StopTimeout { .. }
        | ClientError::Interrupted { .. } => ErrorKind::DaemonUnreachable,
        ClientError::Protocol(_) => ErrorKind::Internal,
    }
}

/// The daemon's error code decides the kind: its internal errors, and
/// the frames it could not read (our bug), are internal; every other
/// refusal is the user's to fix.
pub fn rpc_kind(e: &RpcError) -> ErrorKind {
    match e.kind() {
        ErrorCode::Internal | ErrorCode::Parse | ErrorCode::InvalidRequest => ErrorKind::Internal,
        ErrorCode::MethodNotFound
        | ErrorCode::InvalidParams
        | ErrorCode::Server
        | ErrorCode::Identity
        | ErrorCode::Anonymous => ErrorKind::User,
    }
}

/// Whether the error is a write to a closed pipe (`thrum inbox | head`).
/// Only the chain is looked at; the edge also checks that it was stdout
/// that failed (a daemon socket closing mid-write is a broken pipe too).
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    links(error).filter_map(|l| l.downcast_ref::<std::io::Error>()).any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Marks a result's error with a kind, its message unchanged:
/// `ctx.layout().error_kind(ErrorKind::Config)?`.
pub trait ResultExt<T> {
    fn error_kind(self, kind: ErrorKind) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> ResultExt<T> for Result<T, E> {
    fn error_kind(self, kind: ErrorKind) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::Error::new(CliError::new(kind, e)))
    }
}

/// `anyhow!` for an error of a given kind: `kind_err!(Config, "…")`.
#[macro_export]
macro_rules! kind_err {
    ($kind:ident, $($arg:tt)+) => {
        ::anyhow::Error::new($crate::error::CliError::new($crate::error::ErrorKind::$kind, ::anyhow::anyhow!($($arg)+)))
    };
}

/// A user error (exit 1), where a typed error in the chain would decide
/// otherwise.
#[macro_export]
macro_rules! user_err {
    ($($arg:tt)+) => { $crate::kind_err!(User, $($arg)+) };
}

/// A configuration error (exit 78): thrum's setup is missing or invalid.
#[macro_export]
macro_rules! config_err {
    ($($arg:tt)+) => { $crate::kind_err!(Config, $($arg)+) };
}

/// An internal error (exit 70): something that cannot happen did.
#[macro_export]
macro_rules! internal_err {
    ($($arg:tt)+) => { $crate::kind_err!(Internal, $($arg)+) };
}

#[cfg(test)]
mod tests {
    use anyhow::{Context as _, anyhow};

    use super::*;

    fn rpc(code: i64) -> anyhow::Error {
        anyhow::Error::new(ClientError::Rpc(RpcError { code, message: format!("code {code}"), data: None }))
    }

    fn kind(e: anyhow::Error) -> ErrorKind {
        CliError::classify(e).kind
    }

    #[test]
    fn daemon_codes_decide_the_kind() {
        for code in [-32000, -32001, -32002, -32601, -32602] {
            assert_eq!(kind(rpc(code)), ErrorKind::User, "{code}");
        }
        for code in [-32603, -32700, -32600] {
            assert_eq!(kind(rpc(code)), ErrorKind::Internal, "{code}");
        }
        // Wrapped in context, the code still decides, and survives.
        let e = CliError::classify(rpc(-32603).context("sending"));
        assert_eq!((e.kind, e.rpc().map(|r| r.code)), (ErrorKind::Internal, Some(-32603)));
        assert_eq!(format!("{:#}", e.error), "sending: code -32603");
    }

    #[test]
    fn client_failures_are_unreachable_or_internal() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        for e in [
            ClientError::NotRunning("/x".into()),
            ClientError::Timeout(30),
            ClientError::StartFailed("no".into()),
            ClientError::Io(io),
            ClientError::Closed,
            ClientError::StopTimeout { pid: 1, secs: 10 },
            ClientError::Interrupted { method: "sync.force".into(), source: Box::new(ClientError::Closed) },
        ] {
            assert_eq!(kind(anyhow::Error::new(e)), ErrorKind::DaemonUnreachable);
        }
        assert_eq!(kind(anyhow::Error::new(ClientError::Protocol("junk".into()))), ErrorKind::Internal);
    }

    #[test]
    fn types_not_text_decide() {
        assert_eq!(kind(anyhow!("daemon is not running")), ErrorKind::User);
        let layout = thrum_core::LayoutError::NotInitialized("/r".into());
        assert_eq!(kind(anyhow::Error::new(layout).context("x")), ErrorKind::Config);
        let clap = clap::Error::new(clap::error::ErrorKind::UnknownArgument);
        assert_eq!(kind(anyhow::Error::new(clap)), ErrorKind::Usage);
    }

    #[test]
    fn a_mark_wins_and_leaves_the_text_alone() {
        let inner: anyhow::Result<()> = Err(anyhow!("root cause")).context("middle");
        let marked = inner.error_kind(ErrorKind::Config).context("outer");
        let e = CliError::classify(marked.err().unwrap_or_else(|| anyhow!("")));
        assert_eq!(e.kind, ErrorKind::Config);
        assert_eq!(format!("{:#}", e.error), "outer: middle: root cause");
        // A mark overrides a typed error further in.
        let e = CliError::classify(anyhow::Error::new(CliError::new(ErrorKind::User, rpc(-32603))));
        assert_eq!((e.kind, e.rpc().map(|r| r.code)), (ErrorKind::User, Some(-32603)));
        assert_eq!(kind(config_err!("bad {}", 1)), ErrorKind::Config);
        assert_eq!(format!("{:#}", internal_err!("x")), "x");
    }

    #[test]
    fn broken_pipes_are_found_anywhere_in_the_chain() {
        let pipe = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "closed");
        assert!(is_broken_pipe(&anyhow::Error::new(pipe).context("write")));
        assert!(!is_broken_pipe(&anyhow!("Broken pipe")));
    }

    #[test]
    fn exit_codes_are_fixed() {
        let all = [
            (ErrorKind::User, 1),
            (ErrorKind::Usage, 64),
            (ErrorKind::DaemonUnreachable, 69),
            (ErrorKind::Internal, 70),
            (ErrorKind::Config, 78),
        ];
        for (k, code) in all {
            assert_eq!(k.exit_code(), code, "{k:?}");
        }
    }
}
