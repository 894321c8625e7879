//! One pairing session: a short-lived numeric code, three tries, then
//! locked. The listener (`peer add`) holds one at a time.

use std::time::{Duration, Instant};

use super::random_bytes;

/// How long a code is valid (the original's five minutes).
pub const TTL: Duration = Duration::from_secs(300);
/// Wrong codes tolerated before the session locks.
pub const ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    #[error("no pairing is in progress on that daemon: run `thrum peer add` there first")]
    NoSession,
    #[error("the pairing code expired (codes last 5 minutes): run `thrum peer add` again")]
    Expired,
    #[error("wrong pairing code ({0} tries left): check the peercode and try again")]
    WrongCode(u32),
    #[error("too many wrong pairing codes: this pairing is locked; run `thrum peer add` again")]
    Locked,
}

/// A pairing in progress.
#[derive(Debug)]
pub struct Pairing {
    code: String,
    expires: Instant,
    attempts_left: u32,
    /// What the listener asked for (`local`, `network`, `tailscale`).
    pub transport: String,
    /// The name this side goes by in the peercode.
    pub name: String,
    /// The address the peercode names (network pairings).
    pub address: String,
}

impl Pairing {
    /// A new session with a `digits`-long numeric code.
    pub fn new(digits: usize, ttl: Duration, transport: &str, name: &str) -> std::io::Result<Pairing> {
        let digits = digits.clamp(6, 32);
        let mut code = String::with_capacity(digits);
        // Rejection sampling keeps every digit uniform (256 % 10 != 0).
        let mut buf = [0u8; 64];
        while code.len() < digits {
            random_bytes(&mut buf)?;
            for b in buf {
                if b < 250 && code.len() < digits {
                    code.push(char::from(b'0' + b % 10));
                }
            }
        }
        Ok(Pairing {
            code,
            expires: Instant::now() + ttl,
            attempts_left: ATTEMPTS,
            transport: transport.into(),
            name: name.into(),
            address: String::new(),
        })
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    /// Checks a code offered by a joiner; consumes a try when wrong.
    pub fn check(&mut self, offered: &str) -> Result<(), PairingError> {
        if self.attempts_left == 0 {
            return Err(PairingError::Locked);
        }
        if Instant::now() > self.expires {
            return Err(PairingError::Expired);
        }
        if super::same_secret(offered.trim(), &self.code) {
            return Ok(());
        }
        self.attempts_left -= 1;
        if self.attempts_left == 0 {
            Err(PairingError::Locked)
        } else {
            Err(PairingError::WrongCode(self.attempts_left))
        }
    }

    /// A joiner failed to prove the code some other way (a network
    /// pairing's handshake): one try spent.
    pub fn spend_attempt(&mut self) -> PairingError {
        self.attempts_left = self.attempts_left.saturating_sub(1);
        if self.attempts_left == 0 { PairingError::Locked } else { PairingError::WrongCode(self.attempts_left) }
    }

    /// Too many wrong codes: nobody can join any more.
    pub fn locked(&self) -> bool {
        self.attempts_left == 0
    }

    pub fn expired(&self) -> bool {
        Instant::now() > self.expires
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(ttl: Duration) -> Pairing {
        Pairing::new(16, ttl, "local", "a").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn codes_are_numeric_of_the_asked_length() {
        let p = session(TTL);
        assert_eq!(p.code().len(), 16);
        assert!(p.code().bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(p.code(), session(TTL).code());
    }

    #[test]
    fn three_wrong_codes_lock_it() {
        let mut p = session(TTL);
        let right = p.code().to_string();
        assert_eq!(p.check("0"), Err(PairingError::WrongCode(2)));
        assert_eq!(p.check("1"), Err(PairingError::WrongCode(1)));
        assert_eq!(p.check("2"), Err(PairingError::Locked));
        assert_eq!(p.check(&right), Err(PairingError::Locked), "even the right code, once locked");
    }

    #[test]
    fn the_right_code_works_until_it_expires() {
        let mut p = session(TTL);
        let right = p.code().to_string();
        assert_eq!(p.check(&right), Ok(()));
        let mut gone = session(Duration::ZERO);
        let right = gone.code().to_string();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(gone.check(&right), Err(PairingError::Expired));
    }
}
