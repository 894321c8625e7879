//! tmux for thrum-managed agent sessions.
//!
//! - [`driver`]: the tmux commands thrum runs (create, kill, look at and
//!   type into a session), on the default server or a named one
//!   (`THRUM_TMUX_SOCKET`, tmux's `-L`), so tests and users can keep thrum's
//!   sessions apart from their own.
//! - [`env`]: the environment a new pane must not inherit.
//! - [`prompt`]: a permission prompt: its gist, and the keys that approve
//!   it once or deny it.
//! - [`screen`]: reading a pane: a dialog, a running turn, someone's
//!   draft, or an empty input line that is safe to type into.
//!
//! Every call is a short synchronous `tmux` process; the daemon runs them
//! off its async threads.

pub mod driver;
pub mod env;
pub mod prompt;
pub mod screen;

#[cfg(test)]
mod recorded;

pub use driver::{NewSession, Pane, Tmux, TmuxError};
