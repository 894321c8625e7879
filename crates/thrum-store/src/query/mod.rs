//! Read queries over the projection, one module per area: `agents`
//! (agents, sessions, work contexts), `messages`, `groups`, `inbox` (the
//! merged inbox ranges) and `maintenance`.
//!
//! Every query is a free function over a `&Connection`, so the writer can
//! run the same checks inside its transaction (seeing its own uncommitted
//! work) that readers run on their own connections. Results are named
//! types (the views of `thrum_core::views`, or a struct here), never
//! tuples of more than two values.

use std::path::Path;

use rusqlite::Connection;

use crate::error::Result;

mod agents;
mod groups;
mod inbox;
mod maintenance;
mod messages;

pub use agents::*;
pub use groups::*;
pub use maintenance::*;
pub use messages::*;

/// A read-only connection to the projection.
pub struct Reader {
    conn: Connection,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Reader { conn: crate::open_conn(path, true)? })
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::Deref for Reader {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}
