//! The daemon as the MCP tools see it: typed calls made as one agent,
//! on a blocking socket client run off the async threads, with one
//! reconnect (which starts the daemon if it is gone) per call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use thrum_client::{Client, ClientError};
use thrum_core::Layout;
use thrum_proto::methods::{Method, message};

/// Calls into the repository's daemon as `agent_id`.
#[derive(Clone)]
pub struct Daemon {
    layout: Arc<Layout>,
    agent_id: Arc<str>,
    conn: Arc<Mutex<Option<Client>>>,
}

/// A failed call, worded for the agent reading the tool result.
#[derive(Debug)]
pub enum CallError {
    /// The daemon answered with an error (bad input, unknown recipient…).
    Refused(String),
    /// The daemon could not be reached or went away mid-call.
    Unreachable(String),
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
        Daemon { layout: Arc::new(layout), agent_id: agent_id.into(), conn: Arc::new(Mutex::new(None)) }
    }

    pub fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// Calls method `M` (the tools name the agent in each params that has
    /// a `caller_agent_id`). A dropped connection is re-opened once —
    /// starting the daemon if it stopped — and the call repeated; every
    /// tool call is safe to repeat (sends carry their own message id).
    pub async fn call<M: Method>(&self, params: M::Params) -> Result<M::Result, CallError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.call_blocking::<M>(&params))
            .await
            .unwrap_or_else(|e| Err(CallError::Unreachable(format!("call task failed: {e}"))))
    }

    fn call_blocking<M: Method>(&self, params: &M::Params) -> Result<M::Result, CallError> {
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut last = String::new();
        for _ in 0..2 {
            if slot.is_none() {
                match thrum_client::connect_or_start(&self.layout, None) {
                    Ok((c, _)) => *slot = Some(c),
                    Err(e) => {
                        last = e.to_string();
                        continue;
                    }
                }
            }
            let Some(client) = slot.as_mut() else { continue };
            match client.call::<M>(params) {
                Ok(v) => return Ok(v),
                Err(ClientError::Rpc(r)) => return Err(CallError::Refused(r.message)),
                Err(e) => {
                    last = e.to_string();
                    *slot = None;
                }
            }
        }
        Err(CallError::Unreachable(last))
    }

    /// Blocks until a message for this agent arrives (`status` is
    /// `received`), the timeout passes (`timeout`), or the daemon goes away
    /// (Err). Uses the daemon's push-driven `message.wait` on a connection
    /// of its own, so other tool calls are not held up meanwhile.
    pub async fn wait(&self, timeout: Duration) -> Result<message::WaitResult, CallError> {
        let layout = self.layout.clone();
        let params = message::WaitParams {
            caller_agent_id: Some(self.agent_id.to_string()),
            after: Some(thrum_core::time::now_rfc3339()),
            timeout_ms: timeout.as_millis() as u64,
            ..Default::default()
        };
        tokio::task::spawn_blocking(move || {
            let (mut client, _) =
                thrum_client::connect_or_start(&layout, None).map_err(|e| CallError::Unreachable(e.to_string()))?;
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
