//! thrum-git
