//! Domain types for thrum: identifiers, agent names, scopes and refs, the
//! versioned event schema, and the pure rules (validation, addressing) that
//! every other crate shares.
//!
//! This crate is deliberately pure: no I/O, no async runtime, no SQLite, no
//! git. Anything here can be unit-tested in microseconds.

pub mod event;
pub mod ids;
pub mod name;
pub mod scope;
pub mod time;
pub mod views;

pub use event::{Event, EventError};
pub use ids::{IdKind, new_id};
pub use name::{AgentName, NameError};
pub use scope::{Scope, ScopeError};
