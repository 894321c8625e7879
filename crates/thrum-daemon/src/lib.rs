//! thrum-daemon
