//! One connection: send a request frame, read frames until the matching
//! response (notifications in between are skipped).

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use rustix::net::RecvFlags;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use thrum_proto::RpcError;
use thrum_proto::frame::{FrameError, read_frame};
use thrum_proto::jsonrpc::encode_request;
use thrum_proto::methods::Method;

use crate::error::ClientError;

/// Default time to wait for an answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
    timeout: Duration,
    buf: Vec<u8>,
    /// Whether the last request was written out whole: after that, a
    /// failure leaves unknown whether the daemon acted on it.
    sent: bool,
}

impl Client {
    /// Connects to a daemon socket.
    pub fn connect(socket: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                ClientError::NotRunning(socket.display().to_string())
            }
            _ => ClientError::Io(e),
        })?;
        stream.set_read_timeout(Some(DEFAULT_TIMEOUT))?;
        let writer = stream.try_clone()?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
            next_id: 1,
            timeout: DEFAULT_TIMEOUT,
            buf: Vec::new(),
            sent: false,
        })
    }

    /// Sets how long a call may wait for its answer.
    pub fn set_timeout(&mut self, t: Duration) -> Result<(), ClientError> {
        self.timeout = t;
        self.reader.get_ref().set_read_timeout(Some(t))?;
        Ok(())
    }

    /// Whether the daemon has closed this connection (it stopped or
    /// restarted since the last call): one non-blocking peek, so a session
    /// can reconnect *before* sending rather than lose a call to a dead
    /// connection. A pending notification is not a close.
    pub fn peer_closed(&self) -> bool {
        let mut byte = [0u8; 1];
        match rustix::net::recv(self.reader.get_ref(), &mut byte[..], RecvFlags::PEEK | RecvFlags::DONTWAIT) {
            Ok((0, _)) => true,
            Ok(_) => false,
            Err(e) => e != rustix::io::Errno::AGAIN && e != rustix::io::Errno::INTR,
        }
    }

    /// Whether the last request left this process whole, so a failure
    /// after it may have come after the daemon acted on it.
    pub fn request_sent(&self) -> bool {
        self.sent
    }

    /// Calls a method of the catalogue: `client.call::<message::Send>(&params)`.
    pub fn call<M: Method>(&mut self, params: &M::Params) -> Result<M::Result, ClientError> {
        self.request(M::METHOD, params)
    }

    /// Calls `method` with raw JSON params: the escape hatch for
    /// `thrum rpc METHOD JSON`, which may name any method at all.
    pub fn call_value(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        self.request(method, &params)
    }

    /// Waits (without a time limit) for the next push notification on this
    /// connection: `(method, params)`. `Ok(None)` when the daemon closed
    /// the connection.
    pub fn next_notification(&mut self) -> Result<Option<(String, Value)>, ClientError> {
        self.reader.get_ref().set_read_timeout(None)?;
        loop {
            match read_frame(&mut self.reader, &mut self.buf) {
                Ok(Some(())) => {}
                Ok(None) | Err(FrameError::Truncated) => return Ok(None),
                Err(FrameError::TooLarge) => continue,
                Err(FrameError::Io(e)) => return Err(ClientError::Io(e)),
            }
            let v: Value = serde_json::from_slice(&self.buf).map_err(|e| ClientError::Protocol(e.to_string()))?;
            if v.get("id").is_none()
                && let Some(m) = v.get("method").and_then(Value::as_str)
            {
                return Ok(Some((m.to_string(), v.get("params").cloned().unwrap_or(Value::Null))));
            }
        }
    }

    /// Sends one request and waits for its answer. The reply is decoded
    /// straight into `R` (no intermediate `Value` tree: for a page of 100
    /// messages that was most of the client's work).
    fn request<P: Serialize, R: DeserializeOwned>(&mut self, method: &str, params: &P) -> Result<R, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let frame = encode_request(method, id, params).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.sent = false;
        self.writer.write_all(&frame)?;
        self.sent = true;
        loop {
            match read_frame(&mut self.reader, &mut self.buf) {
                Ok(Some(())) => {}
                Ok(None) | Err(FrameError::Truncated) => return Err(ClientError::Closed),
                Err(FrameError::TooLarge) => {
                    return Err(ClientError::Protocol("reply too large".into()));
                }
                Err(FrameError::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    return Err(ClientError::Timeout(self.timeout.as_secs()));
                }
                Err(FrameError::Io(e)) => return Err(ClientError::Io(e)),
            }
            // A push notification has a method and no id: skip it without
            // decoding its params as our result type.
            let head: Head = serde_json::from_slice(&self.buf).map_err(|e| ClientError::Protocol(e.to_string()))?;
            if head.id.as_ref().and_then(Value::as_u64) != Some(id) {
                continue;
            }
            let reply: Reply<R> =
                serde_json::from_slice(&self.buf).map_err(|e| ClientError::Protocol(format!("{method}: {e}")))?;
            return match (reply.error, reply.result) {
                (Some(e), _) => Err(ClientError::Rpc(e)),
                (None, Some(r)) => Ok(r),
                // A null or absent result decodes as JSON null (for `()` or `Value`).
                (None, None) => {
                    serde_json::from_value(Value::Null).map_err(|e| ClientError::Protocol(format!("{method}: {e}")))
                }
            };
        }
    }
}

/// Just enough of a frame to tell a notification or another call's reply
/// from ours; every other field is skipped unparsed.
#[derive(serde::Deserialize)]
struct Head {
    #[serde(default)]
    id: Option<Value>,
}

/// A reply whose result decodes straight into the caller's type.
#[derive(serde::Deserialize)]
#[serde(bound = "R: DeserializeOwned")]
struct Reply<R> {
    #[serde(default)]
    result: Option<R>,
    #[serde(default)]
    error: Option<RpcError>,
}
