//! The SQLite projection of the event log: schema, apply, rebuild.

pub mod apply;
pub mod feed;
pub mod schema;

pub use apply::{Applied, PurgeCutoff, apply, apply_decoded};
