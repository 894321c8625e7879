//! thrum-testkit
