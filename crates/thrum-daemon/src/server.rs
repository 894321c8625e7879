//! The Unix-socket transport: accepts connections, frames NDJSON, and
//! feeds each request to the router.
//!
//! Each connection is served by its own task, one request at a time in
//! order (as the original does); many connections run concurrently. A
//! malformed or oversized frame gets its JSON-RPC error and the
//! connection goes on; a frame cut off by the client closing is dropped.

use std::sync::Arc;

use serde_json::Value;
use thrum_proto::frame::{FrameError, encode, read_frame_async};
use thrum_proto::{ErrorCode, Request, Response, RpcError};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};

use crate::caller::Caller;
use crate::rpc;
use crate::state::State;

/// Accepts connections until `shutdown` flips. Each connection task holds
/// a clone of `done`; the caller learns all connections have finished
/// when every clone is dropped.
pub async fn serve(listener: UnixListener, state: State, mut shutdown: watch::Receiver<bool>, done: mpsc::Sender<()>) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let state = state.clone();
                    let shutdown = shutdown.clone();
                    let done = done.clone();
                    tokio::spawn(async move {
                        serve_conn(stream, state, shutdown).await;
                        drop(done);
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

async fn serve_conn(stream: UnixStream, state: State, mut shutdown: watch::Receiver<bool>) {
    let pid = stream.peer_cred().ok().and_then(|c| c.pid());
    let caller = Arc::new(Caller::from_pid(pid, &state.layout.thrum_dir));
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let mut buf = Vec::with_capacity(4096);
    // Responses and pushes share the connection through one writer task;
    // the bounded queue is what keeps a slow reader from holding anyone up.
    let (out, mut out_rx) = mpsc::channel::<Vec<u8>>(1024);
    let writer = tokio::spawn(async move {
        while let Some(frame) = out_rx.recv().await {
            if wr.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    let mut pushes = crate::notify::Pushes::new(out.clone());
    loop {
        let frame = tokio::select! {
            _ = shutdown.changed() => break,
            f = read_frame_async(&mut rd, &mut buf) => f,
        };
        let (response, method) = match frame {
            Ok(None) | Err(FrameError::Truncated) | Err(FrameError::Io(_)) => break,
            Err(FrameError::TooLarge) => (
                Some(Response::err(
                    Value::Null,
                    RpcError::new(
                        ErrorCode::InvalidRequest,
                        format!("request too large (over {} bytes): send a smaller message", thrum_proto::MAX_FRAME),
                    ),
                )),
                String::new(),
            ),
            Ok(Some(())) => handle_frame(&state, &caller, &buf).await,
        };
        // A subscription made on this connection is pushed on it.
        pushes.after_call(&state, &method, response.as_ref());
        if let Some(resp) = response
            && out.send(encode(&resp)).await.is_err()
        {
            break;
        }
    }
    drop(pushes);
    drop(out);
    let _ = writer.await;
}

/// Decodes and dispatches one frame, returning the response (none for a
/// notification, which has no `id`) and the method called.
pub async fn handle_frame(state: &State, caller: &Caller, frame: &[u8]) -> (Option<Response>, String) {
    let value: Value = match serde_json::from_slice(frame) {
        Ok(v) => v,
        Err(e) => {
            let err = RpcError {
                code: ErrorCode::Parse.code(),
                message: "Parse error".into(),
                data: Some(Value::from(format!("{e}: send one JSON-RPC 2.0 object per line"))),
            };
            return (Some(Response::err(Value::Null, err)), String::new());
        }
    };
    let req = match Request::from_value(value) {
        Ok(r) => r,
        Err((id, e)) => return (Some(Response::err(id, e)), String::new()),
    };
    let id = req.id.clone();
    let result = rpc::dispatch(state, caller, &req.method, req.params).await;
    let response = id.map(|id| match result {
        Ok(v) => Response::ok(id, v),
        Err(e) => Response::err(id, e),
    });
    (response, req.method)
}
