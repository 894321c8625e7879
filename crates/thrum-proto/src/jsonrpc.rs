//! JSON-RPC 2.0 envelopes and the error codes thrum uses.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The error codes of the original (JSON-RPC standard codes plus two
/// application codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The frame was not valid JSON (-32700).
    Parse,
    /// Valid JSON but not a JSON-RPC request (-32600).
    InvalidRequest,
    /// No such method (-32601).
    MethodNotFound,
    /// Params missing, of the wrong type, or failing validation (-32602).
    InvalidParams,
    /// A bug or an environment failure inside the daemon (-32603).
    Internal,
    /// A domain error: unknown recipient, not found, forbidden (-32000).
    Server,
    /// Identity errors: a mismatched or unknown caller (-32001).
    Identity,
    /// A caller outside every registered agent worktree invoking a method
    /// that needs an identity (-32002, the original's code).
    Anonymous,
}

impl ErrorCode {
    pub fn code(self) -> i64 {
        match self {
            ErrorCode::Parse => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::Internal => -32603,
            ErrorCode::Server => -32000,
            ErrorCode::Identity => -32001,
            ErrorCode::Anonymous => -32002,
        }
    }

    pub fn from_code(code: i64) -> Self {
        match code {
            -32700 => ErrorCode::Parse,
            -32600 => ErrorCode::InvalidRequest,
            -32601 => ErrorCode::MethodNotFound,
            -32602 => ErrorCode::InvalidParams,
            -32603 => ErrorCode::Internal,
            -32001 => ErrorCode::Identity,
            -32002 => ErrorCode::Anonymous,
            _ => ErrorCode::Server,
        }
    }
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RpcError { code: code.code(), message: message.into(), data: None }
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParams, message)
    }

    pub fn server(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Server, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    pub fn kind(&self) -> ErrorCode {
        ErrorCode::from_code(self.code)
    }
}

/// A request or a notification from a client. `id` is absent for
/// notifications, which get no response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub jsonrpc: String,
    pub method: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub params: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
}

impl Request {
    pub fn new(id: u64, method: &str, params: Value) -> Self {
        Request { jsonrpc: "2.0".into(), method: method.into(), params, id: Some(Value::from(id)) }
    }

    /// Checks a decoded JSON value is a well-formed request, returning the
    /// JSON-RPC error to send back when it is not. The `id` (when one can be
    /// recovered) is returned alongside so the error can echo it.
    pub fn from_value(v: Value) -> Result<Request, (Value, RpcError)> {
        let id = v.get("id").cloned().unwrap_or(Value::Null);
        let bad = |msg: &str| (id.clone(), RpcError::new(ErrorCode::InvalidRequest, msg));
        let obj = v.as_object().ok_or_else(|| bad("invalid request: expected a JSON object"))?;
        if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(bad("invalid request: jsonrpc must be \"2.0\""));
        }
        match obj.get("method") {
            Some(Value::String(_)) => {}
            _ => return Err(bad("invalid request: method must be a string")),
        }
        if let Some(i) = obj.get("id")
            && !(i.is_string() || i.is_number() || i.is_null())
        {
            return Err(bad("invalid request: id must be a string, number or null"));
        }
        match obj.get("params") {
            None | Some(Value::Object(_)) | Some(Value::Array(_)) | Some(Value::Null) => {}
            _ => return Err(bad("invalid request: params must be an object or array")),
        }
        serde_json::from_value(v).map_err(|e| bad(&format!("invalid request: {e}")))
    }
}

/// Encodes a call of a catalogue method as one request line (with its
/// newline), straight from the typed params (no intermediate `Value`).
pub fn encode_call<M: crate::methods::Method>(id: u64, params: &M::Params) -> Result<Vec<u8>, serde_json::Error> {
    encode_request(M::METHOD, id, params)
}

/// Encodes a request by method name (the raw `thrum rpc` path, and
/// [`encode_call`]).
pub fn encode_request<P: Serialize>(method: &str, id: u64, params: &P) -> Result<Vec<u8>, serde_json::Error> {
    /// The request frame, serialised from the caller's params as they are.
    #[derive(Serialize)]
    struct Outgoing<'a, P> {
        jsonrpc: &'static str,
        method: &'a str,
        params: &'a P,
        id: u64,
    }
    let mut frame = serde_json::to_vec(&Outgoing { jsonrpc: "2.0", method, params, id })?;
    frame.push(b'\n');
    Ok(frame)
}

/// A response: exactly one of `result` or `error`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub jsonrpc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
    pub id: Value,
}

impl Response {
    pub fn ok(id: Value, result: Value) -> Self {
        Response { jsonrpc: "2.0".into(), result: Some(result), error: None, id }
    }

    pub fn err(id: Value, error: RpcError) -> Self {
        Response { jsonrpc: "2.0".into(), result: None, error: Some(error), id }
    }

    /// Turns the response into the call's outcome.
    pub fn into_result(self) -> Result<Value, RpcError> {
        match (self.error, self.result) {
            (Some(e), _) => Err(e),
            (None, Some(r)) => Ok(r),
            (None, None) => Ok(Value::Null),
        }
    }
}

/// A server-to-client push (`notification.message`, …): a request
/// without an id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notification {
    pub jsonrpc: String,
    pub method: String,
    pub params: Value,
}

impl Notification {
    pub fn new(method: &str, params: Value) -> Self {
        Notification { jsonrpc: "2.0".into(), method: method.into(), params }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validates_requests() {
        assert!(Request::from_value(json!({"jsonrpc":"2.0","method":"health","id":1})).is_ok());
        let (id, e) = Request::from_value(json!({"jsonrpc":"1.0","method":"x","id":7}))
            .err()
            .unwrap_or((Value::Null, RpcError::internal("")));
        assert_eq!(id, json!(7));
        assert_eq!(e.code, -32600);
        assert!(Request::from_value(json!([1, 2])).is_err());
        assert!(Request::from_value(json!({"jsonrpc":"2.0","method":5})).is_err());
        assert!(Request::from_value(json!({"jsonrpc":"2.0","method":"x","params":3})).is_err());
    }

    #[test]
    fn response_shape() {
        let r = serde_json::to_value(Response::err(json!(1), RpcError::server("nope"))).unwrap_or_default();
        assert_eq!(r, json!({"jsonrpc":"2.0","error":{"code":-32000,"message":"nope"},"id":1}));
    }
}
