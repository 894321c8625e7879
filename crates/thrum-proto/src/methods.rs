//! Method names.
