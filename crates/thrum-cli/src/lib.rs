//! thrum-cli
