//! The encrypted channel of network peers.
//!
//! Pairing: the dialer and the listener run SPAKE2 with the pairing code
//! as the password. Each side learns a 32-byte key that matches only if
//! both typed the same code, and an eavesdropper (or a fake listener)
//! learns nothing it could test codes against offline. That key is the
//! pre-shared key of a Noise `XXpsk3` handshake, in which both sides send
//! their long-term static keys; a wrong code fails the handshake.
//!
//! Links afterwards: Noise `IK`. The dialer knows the listener's static key
//! from pairing and proves its own; the listener looks the caller up by
//! that key and refuses strangers before reading a single request.
//!
//! On the wire every message is a frame: a 4-byte big-endian length, then
//! the bytes. The dialer's first frame and each listener reply before the
//! keys exist start with a tag byte (pair, link or refused). After the
//! handshake each JSON message is encrypted in chunks of at most one Noise
//! message.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use snow::{Builder, HandshakeState, TransportState};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PAIR_PATTERN: &str = "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s";
const LINK_PATTERN: &str = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
/// The first byte a dialer sends: what it wants.
const TAG_PAIR: u8 = b'P';
const TAG_LINK: u8 = b'L';
/// A listener's plain-text refusal before any key exists.
const TAG_REFUSED: u8 = b'E';
/// Largest frame accepted (a JSON message is chunked below this).
const MAX_FRAME: usize = 70_000;
/// Largest JSON message (a sync.pull answer of 500 events fits easily).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// Plain text per Noise message (65535 minus the 16-byte tag).
const CHUNK: usize = 65_000;
/// A handshake that takes longer than this is abandoned.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const SPAKE_DIALER: &[u8] = b"thrum-peer-dialer";
const SPAKE_LISTENER: &[u8] = b"thrum-peer-listener";

#[derive(Debug, thiserror::Error)]
pub enum SecureError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the secure handshake failed: {0}")]
    Handshake(String),
    #[error("the other daemon refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Protocol(String),
}

fn noise<E: std::fmt::Display>(e: E) -> SecureError {
    SecureError::Handshake(e.to_string())
}

/// This daemon's long-term Noise key pair (`.thrum/var/peer_key`, 0600).
#[derive(Clone)]
pub struct StaticKey {
    pub private: Vec<u8>,
    pub public: Vec<u8>,
}

impl StaticKey {
    pub fn public_hex(&self) -> String {
        hex(&self.public)
    }

    /// Loads the key, creating it on first use.
    pub fn load_or_create(path: &std::path::Path) -> Result<StaticKey, SecureError> {
        if let Ok(text) = std::fs::read_to_string(path) {
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| SecureError::Protocol(format!("{} is damaged ({e}): move it away", path.display())))?;
            let private = unhex(v["private"].as_str().unwrap_or(""));
            let public = unhex(v["public"].as_str().unwrap_or(""));
            if private.len() == 32 && public.len() == 32 {
                return Ok(StaticKey { private, public });
            }
            return Err(SecureError::Protocol(format!("{} holds no usable key: move it away", path.display())));
        }
        let kp = Builder::new(params(LINK_PATTERN)?).generate_keypair().map_err(noise)?;
        let key = StaticKey { private: kp.private, public: kp.public };
        let text = serde_json::json!({ "private": hex(&key.private), "public": key.public_hex() }).to_string();
        crate::lifecycle::write_private(path, text.as_bytes()).map_err(|e| SecureError::Protocol(e.to_string()))?;
        Ok(key)
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Vec::new();
    }
    (0..s.len()).step_by(2).filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

fn params(pattern: &str) -> Result<snow::params::NoiseParams, SecureError> {
    pattern.parse().map_err(noise)
}

async fn write_frame(s: &mut TcpStream, bytes: &[u8]) -> Result<(), SecureError> {
    let mut out = Vec::with_capacity(4 + bytes.len());
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
    s.write_all(&out).await?;
    Ok(())
}

async fn read_frame(s: &mut TcpStream) -> Result<Vec<u8>, SecureError> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(SecureError::Protocol(format!("frame of {len} bytes is too large")));
    }
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn send_handshake(s: &mut TcpStream, hs: &mut HandshakeState, payload: &[u8]) -> Result<(), SecureError> {
    let mut buf = vec![0u8; 65_535];
    let n = hs.write_message(payload, &mut buf).map_err(noise)?;
    write_frame(s, &buf[..n]).await
}

async fn recv_handshake(s: &mut TcpStream, hs: &mut HandshakeState) -> Result<Vec<u8>, SecureError> {
    let frame = read_frame(s).await?;
    let mut buf = vec![0u8; 65_535];
    let n = hs.read_message(&frame, &mut buf).map_err(noise)?;
    buf.truncate(n);
    Ok(buf)
}

/// An established encrypted channel.
pub struct Secure {
    stream: TcpStream,
    noise: TransportState,
    remote: Vec<u8>,
}

impl Secure {
    fn new(stream: TcpStream, hs: HandshakeState) -> Result<Secure, SecureError> {
        let remote = hs.get_remote_static().map(<[u8]>::to_vec).unwrap_or_default();
        Ok(Secure { stream, noise: hs.into_transport_mode().map_err(noise)?, remote })
    }

    /// The other side's static key (proven by the handshake).
    pub fn remote_static(&self) -> &[u8] {
        &self.remote
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.stream.local_addr().ok()
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.stream.peer_addr().ok()
    }

    pub async fn send_json(&mut self, v: &Value) -> Result<(), SecureError> {
        let body = serde_json::to_vec(v).map_err(|e| SecureError::Protocol(e.to_string()))?;
        let mut plain = Vec::with_capacity(4 + body.len());
        plain.extend_from_slice(&(body.len() as u32).to_be_bytes());
        plain.extend_from_slice(&body);
        let mut buf = vec![0u8; CHUNK + 16];
        for chunk in plain.chunks(CHUNK) {
            let n = self.noise.write_message(chunk, &mut buf).map_err(noise)?;
            write_frame(&mut self.stream, &buf[..n]).await?;
        }
        Ok(())
    }

    /// The next JSON message; `None` when the other side closed cleanly.
    pub async fn recv_json(&mut self) -> Result<Option<Value>, SecureError> {
        let mut buf = vec![0u8; 65_535];
        let first = match read_frame(&mut self.stream).await {
            Ok(f) => f,
            Err(SecureError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        };
        let n = self.noise.read_message(&first, &mut buf).map_err(noise)?;
        if n < 4 {
            return Err(SecureError::Protocol("short message".into()));
        }
        let total = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if total > MAX_MESSAGE {
            return Err(SecureError::Protocol(format!("message of {total} bytes is too large")));
        }
        let mut body = buf[4..n].to_vec();
        while body.len() < total {
            let frame = read_frame(&mut self.stream).await?;
            let n = self.noise.read_message(&frame, &mut buf).map_err(noise)?;
            body.extend_from_slice(&buf[..n]);
        }
        if body.len() != total {
            return Err(SecureError::Protocol("message longer than announced".into()));
        }
        serde_json::from_slice(&body).map(Some).map_err(|e| SecureError::Protocol(format!("bad JSON: {e}")))
    }

    /// One request, its answer.
    pub async fn call(&mut self, request: &Value) -> Result<Value, SecureError> {
        self.send_json(request).await?;
        self.recv_json().await?.ok_or_else(|| SecureError::Protocol("the peer closed the link".into()))
    }
}

fn tagged(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + bytes.len());
    v.push(tag);
    v.extend_from_slice(bytes);
    v
}

/// The `XXpsk3` handshake keyed by SPAKE2's outcome (a wrong code gives a
/// different key, and the handshake fails).
fn pair_handshake(
    ours: &StaticKey,
    spake: Result<Vec<u8>, spake2::Error>,
    initiator: bool,
) -> Result<HandshakeState, SecureError> {
    let key = spake.map_err(|e| SecureError::Handshake(format!("{e:?}")))?;
    let psk: [u8; 32] = key.try_into().map_err(|_| SecureError::Handshake("bad key length".into()))?;
    let b = Builder::new(params(PAIR_PATTERN)?)
        .local_private_key(&ours.private)
        .map_err(noise)?
        .psk(3, &psk)
        .map_err(noise)?;
    if initiator { b.build_initiator() } else { b.build_responder() }.map_err(noise)
}

/// Dials a listener to pair: SPAKE2 over the code, then `XXpsk3`.
pub async fn dial_pair(addr: SocketAddr, code: &str, ours: &StaticKey) -> Result<Secure, SecureError> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let (spake, msg_a) = Spake2::<Ed25519Group>::start_a(
        &Password::new(code.trim().as_bytes()),
        &Identity::new(SPAKE_DIALER),
        &Identity::new(SPAKE_LISTENER),
    );
    write_frame(&mut s, &tagged(TAG_PAIR, &msg_a)).await?;
    let reply = read_frame(&mut s).await?;
    let msg_b = match reply.split_first() {
        Some((&TAG_PAIR, rest)) => rest,
        Some((&TAG_REFUSED, why)) => return Err(SecureError::Refused(String::from_utf8_lossy(why).into())),
        _ => return Err(SecureError::Protocol("not a thrum peer listener".into())),
    };
    let mut hs = pair_handshake(ours, spake.finish(msg_b), true)?;
    send_handshake(&mut s, &mut hs, &[]).await?;
    recv_handshake(&mut s, &mut hs).await?;
    send_handshake(&mut s, &mut hs, &[]).await?;
    Secure::new(s, hs)
}

/// Dials a paired peer whose static key we hold.
pub async fn dial_link(addr: SocketAddr, ours: &StaticKey, theirs: &[u8]) -> Result<Secure, SecureError> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let mut hs = Builder::new(params(LINK_PATTERN)?)
        .local_private_key(&ours.private)
        .map_err(noise)?
        .remote_public_key(theirs)
        .map_err(noise)?
        .build_initiator()
        .map_err(noise)?;
    let mut buf = vec![0u8; 65_535];
    let n = hs.write_message(&[], &mut buf).map_err(noise)?;
    write_frame(&mut s, &tagged(TAG_LINK, &buf[..n])).await?;
    // Every reply is tagged: a handshake message starts with random key
    // bytes, so its first byte alone could look like anything.
    let reply = read_frame(&mut s).await?;
    let msg2 = match reply.split_first() {
        Some((&TAG_LINK, rest)) => rest,
        Some((&TAG_REFUSED, why)) => return Err(SecureError::Refused(String::from_utf8_lossy(why).into())),
        _ => return Err(SecureError::Protocol("not a thrum peer listener".into())),
    };
    hs.read_message(msg2, &mut buf).map_err(noise)?;
    Secure::new(s, hs)
}

/// What a dialer asked for, once the handshake is done.
pub enum Accepted {
    /// A pairing: the caller proved it knows the code.
    Pair(Secure),
    /// A link from the peer whose static key this is.
    Link(Secure),
}

/// The listener's side of either handshake. `code` is the pairing code
/// waiting for a joiner (None: no pairing open); `known` says whether a
/// static key belongs to a paired peer. A failed pairing handshake is
/// reported as `Handshake` (a wrong code, to be counted).
pub async fn accept(
    mut s: TcpStream,
    ours: &StaticKey,
    code: impl FnOnce() -> Result<String, String>,
    known: impl Fn(&[u8]) -> bool,
) -> Result<Accepted, SecureError> {
    s.set_nodelay(true)?;
    let first = read_frame(&mut s).await?;
    match first.split_first() {
        Some((&TAG_PAIR, msg_a)) => {
            let code = match code() {
                Ok(c) => c,
                Err(why) => {
                    let _ = write_frame(&mut s, &tagged(TAG_REFUSED, why.as_bytes())).await;
                    return Err(SecureError::Refused(why));
                }
            };
            let (spake, msg_b) = Spake2::<Ed25519Group>::start_b(
                &Password::new(code.as_bytes()),
                &Identity::new(SPAKE_DIALER),
                &Identity::new(SPAKE_LISTENER),
            );
            write_frame(&mut s, &tagged(TAG_PAIR, &msg_b)).await?;
            let mut hs = pair_handshake(ours, spake.finish(msg_a), false)?;
            recv_handshake(&mut s, &mut hs).await?;
            send_handshake(&mut s, &mut hs, &[]).await?;
            // A wrong code shows here: the last message does not decrypt.
            recv_handshake(&mut s, &mut hs).await?;
            Ok(Accepted::Pair(Secure::new(s, hs)?))
        }
        Some((&TAG_LINK, msg1)) => {
            let mut hs = Builder::new(params(LINK_PATTERN)?)
                .local_private_key(&ours.private)
                .map_err(noise)?
                .build_responder()
                .map_err(noise)?;
            let mut buf = vec![0u8; 65_535];
            hs.read_message(msg1, &mut buf).map_err(noise)?;
            let caller = hs.get_remote_static().map(<[u8]>::to_vec).unwrap_or_default();
            if !known(&caller) {
                let _ = write_frame(&mut s, &tagged(TAG_REFUSED, b"unknown peer key: pair again")).await;
                return Err(SecureError::Refused("a dialer with an unknown key".into()));
            }
            let n = hs.write_message(&[], &mut buf).map_err(noise)?;
            write_frame(&mut s, &tagged(TAG_LINK, &buf[..n])).await?;
            Ok(Accepted::Link(Secure::new(s, hs)?))
        }
        _ => Err(SecureError::Protocol("not a thrum peer".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn key() -> StaticKey {
        let kp = Builder::new(params(LINK_PATTERN).unwrap_or_else(|e| panic!("{e}")))
            .generate_keypair()
            .unwrap_or_else(|e| panic!("{e}"));
        StaticKey { private: kp.private, public: kp.public }
    }

    async fn listener() -> (TcpListener, SocketAddr) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let a = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
        (l, a)
    }

    #[tokio::test]
    async fn pairing_exchanges_keys_and_a_wrong_code_fails() {
        let (server_key, client_key) = (key(), key());
        let (l, addr) = listener().await;
        let sk = server_key.clone();
        let server = tokio::spawn(async move {
            let mut results = Vec::new();
            for _ in 0..2 {
                let (s, _) = l.accept().await.unwrap_or_else(|e| panic!("{e}"));
                results.push(match accept(s, &sk, || Ok("1234567890123456".into()), |_| false).await {
                    Ok(Accepted::Pair(mut c)) => {
                        let req = c.recv_json().await.ok().flatten().unwrap_or_default();
                        let _ = c.send_json(&serde_json::json!({ "echo": req["hello"] })).await;
                        Ok(hex(c.remote_static()))
                    }
                    Ok(Accepted::Link(_)) => Err("link".to_string()),
                    Err(e) => Err(e.to_string()),
                });
            }
            results
        });
        // The wrong code: the listener's handshake fails, the dialer gets nothing.
        let bad = dial_pair(addr, "1234567890123457", &client_key).await;
        if let Ok(mut c) = bad {
            assert!(c.call(&serde_json::json!({ "hello": 1 })).await.is_err());
        }
        let mut good = dial_pair(addr, "1234567890123456", &client_key).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(good.remote_static(), server_key.public.as_slice());
        let big = "x".repeat(200_000);
        let answer = good.call(&serde_json::json!({ "hello": big })).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(answer["echo"].as_str().map(str::len), Some(200_000));
        let results = server.await.unwrap_or_else(|e| panic!("{e}"));
        assert!(results[0].as_ref().is_err_and(|e| e.contains("handshake failed")), "{results:?}");
        assert_eq!(results[1].as_ref().ok(), Some(&client_key.public_hex()));
    }

    #[tokio::test]
    async fn links_need_a_known_key() {
        let (server_key, client_key, stranger) = (key(), key(), key());
        let (l, addr) = listener().await;
        let (sk, ck) = (server_key.clone(), client_key.public.clone());
        let server = tokio::spawn(async move {
            let mut out = Vec::new();
            for _ in 0..2 {
                let (s, _) = l.accept().await.unwrap_or_else(|e| panic!("{e}"));
                out.push(match accept(s, &sk, || Err("no pairing".into()), |k| k == ck.as_slice()).await {
                    Ok(Accepted::Link(mut c)) => {
                        let _ = c.send_json(&serde_json::json!({ "ok": true })).await;
                        true
                    }
                    _ => false,
                });
            }
            out
        });
        let mut c = dial_link(addr, &client_key, &server_key.public).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.recv_json().await.ok().flatten(), Some(serde_json::json!({ "ok": true })));
        let refused = dial_link(addr, &stranger, &server_key.public).await;
        assert!(matches!(refused, Err(SecureError::Refused(_))), "a stranger is refused");
        assert_eq!(server.await.unwrap_or_else(|e| panic!("{e}")), vec![true, false]);
    }

    /// A recorded link (handshake and a request) replayed byte for byte on
    /// a new connection gets nothing served: the listener's fresh ephemeral
    /// key makes the recorded request undecryptable.
    #[tokio::test]
    async fn a_replayed_link_is_refused() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (server_key, client_key) = (key(), key());
        let (l, addr) = listener().await;
        let (sk, ck) = (server_key.clone(), client_key.public.clone());
        let server = tokio::spawn(async move {
            let mut served = Vec::new();
            for _ in 0..2 {
                let (s, _) = l.accept().await.unwrap_or_else(|e| panic!("{e}"));
                let got = match accept(s, &sk, || Err("no pairing".into()), |k| k == ck.as_slice()).await {
                    Ok(Accepted::Link(mut c)) => match c.recv_json().await {
                        Ok(Some(v)) => {
                            let _ = c.send_json(&serde_json::json!({ "served": v["method"] })).await;
                            true
                        }
                        _ => false,
                    },
                    _ => false,
                };
                served.push(got);
            }
            served
        });
        // A relay that records what the dialer sends.
        let (relay, relay_addr) = listener().await;
        let recorded = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::<u8>::new()));
        let rec = recorded.clone();
        tokio::spawn(async move {
            let (mut inbound, _) = relay.accept().await.unwrap_or_else(|e| panic!("{e}"));
            let mut outbound = TcpStream::connect(addr).await.unwrap_or_else(|e| panic!("{e}"));
            let (mut ir, mut iw) = inbound.split();
            let (mut or, mut ow) = outbound.split();
            let up = async {
                let mut buf = [0u8; 4096];
                while let Ok(n) = ir.read(&mut buf).await {
                    if n == 0 || ow.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    rec.lock().await.extend_from_slice(&buf[..n]);
                }
            };
            let down = async {
                let _ = tokio::io::copy(&mut or, &mut iw).await;
            };
            tokio::join!(up, down);
        });
        let mut c = dial_link(relay_addr, &client_key, &server_key.public).await.unwrap_or_else(|e| panic!("{e}"));
        let answer = c.call(&serde_json::json!({ "method": "sync.pull" })).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(answer["served"], "sync.pull");
        drop(c);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let bytes = recorded.lock().await.clone();
        assert!(bytes.len() > 100, "recorded {} bytes", bytes.len());
        let mut replay = TcpStream::connect(addr).await.unwrap_or_else(|e| panic!("{e}"));
        let _ = replay.write_all(&bytes).await;
        let _ = replay.shutdown().await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), replay.read_to_end(&mut sink)).await;
        assert_eq!(server.await.unwrap_or_else(|e| panic!("{e}")), vec![true, false], "the replay was not served");
    }

    /// A listener's handshake reply is tagged, so one whose key bytes start
    /// with the refusal tag is not mistaken for a refusal (it once was: a
    /// link then stopped for ten minutes, one handshake in 256).
    #[tokio::test]
    async fn replies_are_told_apart_by_their_tag() {
        let (client_key, server_key) = (key(), key());
        for (reply, refused) in [(vec![TAG_LINK, TAG_REFUSED, 1, 2, 3], false), (b"Eno such peer".to_vec(), true)] {
            let (l, addr) = listener().await;
            let server = tokio::spawn(async move {
                let (mut s, _) = l.accept().await.unwrap_or_else(|e| panic!("{e}"));
                let _ = read_frame(&mut s).await;
                let _ = write_frame(&mut s, &reply).await;
            });
            let r = dial_link(addr, &client_key, &server_key.public).await;
            assert_eq!(matches!(r, Err(SecureError::Refused(_))), refused, "{:?}", r.err());
            if !refused {
                assert!(matches!(r, Err(SecureError::Handshake(_))), "a bad handshake message is a handshake error");
            }
            let _ = server.await;
        }
    }
}
