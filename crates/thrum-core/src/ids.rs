//! Prefixed ULID identifiers (`msg_01HX…`, `ses_…`, `evt_…`).
//!
//! The original uses a short type prefix, an underscore and a ULID. ULIDs
//! sort by creation time, which keeps SQLite indexes and JSONL shards in
//! roughly chronological order.

/// The kinds of identifier thrum mints, each with its wire prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Message,
    Event,
    Session,
    Thread,
    Group,
    Subscription,
    Daemon,
    Token,
    /// A command in a tmux session's queue.
    Command,
}

impl IdKind {
    /// The prefix written before the underscore.
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Message => "msg",
            IdKind::Event => "evt",
            IdKind::Session => "ses",
            IdKind::Thread => "thr",
            IdKind::Group => "grp",
            IdKind::Subscription => "sub",
            IdKind::Daemon => "d",
            IdKind::Token => "tok",
            IdKind::Command => "cmd",
        }
    }
}

/// Mints a new identifier of the given kind.
pub fn new_id(kind: IdKind) -> String {
    format!("{}_{}", kind.prefix(), ulid::Ulid::new())
}

/// Checks that `id` looks like an identifier of `kind`: the right prefix
/// and a body of ULID characters. Used to reject garbage before it reaches
/// SQL or file names.
pub fn is_valid(kind: IdKind, id: &str) -> bool {
    match id.strip_prefix(kind.prefix()).and_then(|s| s.strip_prefix('_')) {
        Some(body) => {
            !body.is_empty()
                && body.len() <= 64
                && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        None => false,
    }
}

/// A short, stable fingerprint of a text (FNV-1a, hex): enough to notice
/// that a file changed, not a security measure.
pub fn content_hash(text: &str) -> String {
    format!("{:016x}", crate::event::fnv1a(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_have_prefix_and_validate() {
        let id = new_id(IdKind::Message);
        assert!(id.starts_with("msg_"));
        assert_eq!(id.len(), 4 + 26);
        assert!(is_valid(IdKind::Message, &id));
        assert!(!is_valid(IdKind::Session, &id));
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(!is_valid(IdKind::Message, "msg_"));
        assert!(!is_valid(IdKind::Message, "msg_../../etc"));
        assert!(!is_valid(IdKind::Message, "xyz_01ABC"));
    }

    #[test]
    fn ids_sort_by_creation() {
        let a = new_id(IdKind::Event);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id(IdKind::Event);
        assert!(a < b);
    }
}
