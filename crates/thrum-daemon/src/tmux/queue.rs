//! The per-session command queue: `tmux.queue`, `tmux.queue-wait`,
//! `tmux.queue-status`, `tmux.cancel`.

use thrum_proto::methods::tmux::*;

use crate::caller::Caller;
use crate::error::{HResult, server};
use crate::state::State;

pub async fn queue(_state: &State, _: &Caller, _p: QueueParams) -> HResult<QueueResult> {
    Err(server("tmux.queue is not built yet"))
}

pub async fn wait(_state: &State, _: &Caller, _p: QueueWaitParams) -> HResult<QueueWaitResult> {
    Err(server("tmux.queue-wait is not built yet"))
}

pub async fn status(_state: &State, _: &Caller, _p: QueueStatusParams) -> HResult<QueueStatusResult> {
    Err(server("tmux.queue-status is not built yet"))
}

pub async fn cancel(_state: &State, _: &Caller, _p: CancelParams) -> HResult<QueueWaitResult> {
    Err(server("tmux.cancel is not built yet"))
}
