//! thrum-client
