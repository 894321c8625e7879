//! thrum-store
