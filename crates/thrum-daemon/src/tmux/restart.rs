//! `tmux.restart`: restart a session's runtime with a context snapshot.

use thrum_proto::methods::tmux::{RestartParams, RestartResult};

use crate::caller::Caller;
use crate::error::{HResult, server};
use crate::state::State;

pub async fn restart(_state: &State, _: &Caller, _p: RestartParams) -> HResult<RestartResult> {
    Err(server("tmux.restart is not built yet"))
}
