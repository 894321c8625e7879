//! Domain types for thrum: identifiers, agent names, scopes and refs, the
//! versioned event schema, read models, file layouts and the pure rules
//! (validation, addressing) that every other crate shares.
//!
//! This crate does no networking, runs no async runtime, opens no
//! database and runs no git: anything here can be unit-tested in
//! microseconds. (It reads a redirect file, config text and a PID file; the
//! one thing it writes is a private file, atomically: [`fs`].)

pub mod backup;
pub mod config;
pub mod delivery;
pub mod env;
pub mod event;
pub mod fs;
pub mod guard;
pub mod identity;
pub mod ids;
pub mod layout;
pub mod name;
pub mod process;
pub mod rules;
pub mod runtimes;
pub mod scope;
pub mod settings;
pub mod snapshot;
pub mod time;
pub mod views;

pub use event::{Event, EventError};
pub use ids::{IdKind, new_id};
pub use layout::{Layout, LayoutError};
pub use name::{AgentName, NameError};
pub use scope::{Scope, ScopeError};

/// This build's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
