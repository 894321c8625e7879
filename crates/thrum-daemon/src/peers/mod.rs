//! Peers: links to other thrum daemons (other repositories, other
//! machines). The registry (`.thrum/var/peers.json`); pairing, a one-time
//! numeric code shown by `peer add` (the listener) and typed into `peer
//! join` (the dialer), after which both sides share a 32-byte token and
//! each other's identity; replication of messages between paired daemons
//! (`sync`) and the live links that drive it (`link`).

pub mod link;
pub mod net;
pub mod pairing;
pub mod registry;
pub mod rpc;
pub mod secure;
pub mod serve;
pub mod sync;
pub mod tailscale;

pub use pairing::{Pairing, PairingError};
pub use registry::{Peer, Registry};

/// Fills `buf` from the operating system's random source.
pub fn random_bytes(buf: &mut [u8]) -> std::io::Result<()> {
    getrandom::fill(buf).map_err(|e| std::io::Error::other(e.to_string()))
}

/// A fresh 32-byte token, hex-encoded.
pub fn new_token() -> std::io::Result<String> {
    let mut b = [0u8; 32];
    random_bytes(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Compares secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The transports a peer can use.
pub const TYPES: &[&str] = &["local", "network", "tailscale"];

/// Transports that run over the encrypted TCP channel (`secure`, `net`).
pub fn is_secure(transport: &str) -> bool {
    matches!(transport, "network" | "tailscale")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_hex_and_differ() {
        let a = new_token().unwrap_or_default();
        let b = new_token().unwrap_or_default();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &b));
        assert!(!same_secret("ab", "abc"));
    }
}
