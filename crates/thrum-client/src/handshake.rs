//! The readiness handshake between a client starting the daemon and the
//! daemon it spawned: one line on the child's stdout, written by
//! `thrum daemon run --background` and read by [`crate::start_daemon`].
//! Both sides use this type, so the tokens are defined once.

use std::fmt;

/// What a daemon started in the background reports, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// Listening on the socket: `READY <pid>`.
    Ready(u32),
    /// Another daemon holds the repository's lock (a start race lost, or
    /// a daemon that does not answer on this socket): `BUSY <pid>`.
    Busy(i64),
    /// The daemon could not start: `ERROR <one-line message>`.
    Error(String),
}

impl Handshake {
    /// Parses the line (without its newline); `None` for anything else.
    pub fn parse(line: &str) -> Option<Handshake> {
        let (token, rest) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        match token {
            "READY" => rest.trim().parse().ok().map(Handshake::Ready),
            "BUSY" => rest.trim().parse().ok().map(Handshake::Busy),
            "ERROR" => Some(Handshake::Error(rest.trim().to_string())),
            _ => None,
        }
    }
}

/// The line to write (without its newline); a message is kept on one line.
impl fmt::Display for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Handshake::Ready(pid) => write!(f, "READY {pid}"),
            Handshake::Busy(pid) => write!(f, "BUSY {pid}"),
            Handshake::Error(msg) => write!(f, "ERROR {}", msg.replace(['\n', '\r'], " ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        for h in [Handshake::Ready(42), Handshake::Busy(7), Handshake::Error("bind failed: no such dir".into())] {
            assert_eq!(Handshake::parse(&h.to_string()), Some(h.clone()), "{h}");
        }
        assert_eq!(Handshake::Error("a\nb".into()).to_string(), "ERROR a b");
        assert_eq!(Handshake::parse("READY x"), None);
        assert_eq!(
            Handshake::parse("ERROR daemon is already running (PID 5)").map(|h| h.to_string()).as_deref(),
            Some("ERROR daemon is already running (PID 5)")
        );
        assert_eq!(Handshake::parse(""), None);
    }
}
