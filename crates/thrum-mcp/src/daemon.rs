//! The daemon as the MCP tools see it: typed calls made as one agent,
//! through a blocking [`Session`] run off the async threads. The session
//! starts the daemon when it is gone, replaces one speaking another
//! protocol, reconnects after a restart, and repeats only idempotent calls
//! (the same code the CLI uses).

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thrum_client::{ClientError, Session, SessionEvent};
use thrum_core::Layout;
use thrum_proto::methods::{Method, message};

/// Calls into the repository's daemon as `agent_id`.
#[derive(Clone)]
pub struct Daemon {
    agent_id: Arc<str>,
    session: Arc<Mutex<Session>>,
}

/// A failed call, worded for the agent reading the tool result.
#[derive(Debug)]
pub enum CallError {
    /// The daemon answered with an error (bad input, unknown recipient…).
    Refused(String),
    /// The daemon could not be reached or went away mid-call.
    Unreachable(String),
}

impl From<ClientError> for CallError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Rpc(r) => CallError::Refused(r.message),
            other => CallError::Unreachable(other.to_string()),
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Refused(m) => f.write_str(m),
            CallError::Unreachable(m) => {
                write!(f, "the thrum daemon is unreachable ({m}); check `thrum daemon status`")
            }
        }
    }
}

impl Daemon {
    pub fn new(layout: Layout, agent_id: String) -> Daemon {
        // stdout carries the protocol: news about the daemon goes to stderr,
        // which MCP clients keep in their server log.
        let session = Session::new(layout).on_event(|event| {
            let text = match event {
                SessionEvent::Started { pid } => format!("thrum mcp: started the daemon (PID {pid})"),
                SessionEvent::Restarted { old_pid, old_protocol, .. } => format!(
                    "thrum mcp: restarted the daemon: PID {old_pid} spoke protocol {old_protocol}, this thrum speaks {}",
                    thrum_proto::PROTOCOL_VERSION
                ),
            };
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        });
        Daemon { agent_id: agent_id.into(), session: Arc::new(Mutex::new(session)) }
    }

    pub fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// Calls method `M` (the tools name the agent in each params that has
    /// a `caller_agent_id`). A connection the daemon closed is re-opened
    /// (starting the daemon if it stopped) before the call; a call that
    /// fails on the way is repeated only if `M` is idempotent (sends are:
    /// they carry their own message id).
    pub async fn call<M: Method>(&self, params: M::Params) -> Result<M::Result, CallError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.call_blocking::<M>(&params))
            .await
            .unwrap_or_else(|e| Err(CallError::Unreachable(format!("call task failed: {e}"))))
    }

    fn call_blocking<M: Method>(&self, params: &M::Params) -> Result<M::Result, CallError> {
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        Ok(session.call::<M>(params)?)
    }

    /// Blocks until a message for this agent arrives (`status` is
    /// `received`), the timeout passes (`timeout`), or the daemon goes away
    /// (Err). Uses the daemon's push-driven `message.wait` on a connection
    /// of its own, so other tool calls are not held up meanwhile.
    pub async fn wait(&self, timeout: Duration) -> Result<message::WaitResult, CallError> {
        let session = self.session.clone();
        let params = message::WaitParams {
            caller_agent_id: Some(self.agent_id.to_string()),
            // Any mail not read and not yet announced to this agent, not
            // only what comes after the call (which would miss a message
            // that arrived just before it).
            after: None,
            timeout_ms: timeout.as_millis() as u64,
            channel: Some(thrum_core::delivery::Channel::Mcp),
            ..Default::default()
        };
        tokio::task::spawn_blocking(move || {
            // Its own connection, opened (and the daemon started) the
            // session's way; the session's lock is not held while waiting.
            let mut client = session.lock().unwrap_or_else(|p| p.into_inner()).extra_client()?;
            // The long poll may last the whole timeout; give the socket slack.
            let _ = client.set_timeout(timeout + Duration::from_secs(10));
            match client.call::<message::Wait>(&params) {
                Ok(r) => Ok(r),
                Err(ClientError::Rpc(r)) => Err(CallError::Refused(r.message)),
                Err(_) => Err(CallError::Unreachable(
                    "the daemon restarted while waiting: call wait_for_message again".into(),
                )),
            }
        })
        .await
        .unwrap_or_else(|e| Err(CallError::Unreachable(format!("wait task failed: {e}"))))
    }
}
