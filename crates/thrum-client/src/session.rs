//! A client session: the one place that decides how a process talks to
//! its repository's daemon over time. The CLI's `Ctx` and the MCP server
//! both use it.
//!
//! - **Lazy connect.** Nothing happens until the first call; then the
//!   daemon is started if it is not running ([`crate::connect_or_start`]).
//! - **Protocol check.** On the session's first connection to a daemon it
//!   did not start, it reads the daemon's `protocol_version` from its PID
//!   file (no round trip: every CLI process pays for this check). A daemon that
//!   reports another version than [`thrum_proto::PROTOCOL_VERSION`] is
//!   stopped (as `thrum daemon stop` does) and ours started in its place,
//!   said once through [`SessionEvent::Restarted`]. A daemon that reports
//!   none (0: the original implementation, or a build from before the
//!   field) is left alone: it speaks the original's protocol, as we do, and
//!   is not ours to replace. Only the first connection is checked, so two
//!   builds on one machine replace each other's daemon at most once per
//!   process, not on every reconnect.
//! - **Reconnect.** A connection the daemon closed since the last call
//!   (it stopped or restarted) is noticed before the next request is sent
//!   and replaced, starting the daemon again if needed.
//! - **Retries by policy.** A call that fails on the way (not an answer
//!   from the daemon) is repeated on a new connection, up to three tries,
//!   only when its method's [`Policy`](thrum_proto::methods::Policy) says
//!   it is idempotent. Any other call is tried once; when it failed after
//!   the request was sent, the error ([`ClientError::Interrupted`]) says
//!   the outcome is unknown.

use serde_json::Value;
use thrum_core::Layout;
use thrum_proto::PROTOCOL_VERSION;
use thrum_proto::methods::Method;

use crate::autostart::{STOP_TIMEOUT, StartOutcome, connect_or_start, start_daemon, stop_daemon};
use crate::connection::Client;
use crate::error::ClientError;

/// Tries of an idempotent call (the first and two more).
const IDEMPOTENT_TRIES: u32 = 3;

/// Something the user may want to hear about, reported once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The session started the daemon (it was not running).
    Started { pid: u32 },
    /// A daemon speaking another protocol was stopped and ours started.
    Restarted { old_pid: u32, old_protocol: u32, pid: Option<u32> },
}

type EventFn = Box<dyn FnMut(&SessionEvent) + Send>;

/// One process's calls to its repository's daemon.
pub struct Session {
    layout: Layout,
    client: Option<Client>,
    /// Whether the daemon's protocol version was checked (once per session).
    checked: bool,
    on_event: Option<EventFn>,
}

impl Session {
    /// A session for the repository at `layout`; nothing connects yet.
    pub fn new(layout: Layout) -> Session {
        Session { layout, client: None, checked: false, on_event: None }
    }

    /// Calls `f` for each [`SessionEvent`] (the CLI prints them on stderr).
    pub fn on_event(mut self, f: impl FnMut(&SessionEvent) + Send + 'static) -> Session {
        self.on_event = Some(Box::new(f));
        self
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Calls method `M`, retrying it across a dropped connection only if
    /// its policy says it is idempotent.
    pub fn call<M: Method>(&mut self, params: &M::Params) -> Result<M::Result, ClientError> {
        self.call_with(M::METHOD, M::POLICY.idempotent, |c| c.call::<M>(params))
    }

    /// Calls a method by name with raw JSON params (`thrum rpc`): retried
    /// only if the catalogue knows the method and calls it idempotent.
    pub fn call_value(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        let idempotent = thrum_proto::methods::find(method).is_some_and(|m| m.policy.idempotent);
        self.call_with(method, idempotent, |c| c.call_value(method, params.clone()))
    }

    /// The live connection, connecting (and starting the daemon) if there
    /// is none or the daemon closed it. For calls that manage their own
    /// connection: a long poll with its own timeout, a subscription.
    pub fn client(&mut self) -> Result<&mut Client, ClientError> {
        if self.client.as_ref().is_some_and(Client::peer_closed) {
            self.client = None;
        }
        let client = match self.client.take() {
            Some(c) => c,
            None => self.connect(true)?,
        };
        Ok(self.client.insert(client))
    }

    /// The connection only if a daemon is already running (none is
    /// started); `None` when there is none or it cannot be used.
    pub fn try_client(&mut self) -> Option<&mut Client> {
        if self.client.as_ref().is_some_and(Client::peer_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            self.client = self.connect(false).ok();
        }
        self.client.as_mut()
    }

    /// A second connection made the same way (started and checked like the
    /// first), for a call that must not hold up the session's own: the MCP
    /// server's long `message.wait`.
    pub fn extra_client(&mut self) -> Result<Client, ClientError> {
        self.connect(true)
    }

    /// Drops the connection (the next call connects again).
    pub fn disconnect(&mut self) {
        self.client = None;
    }

    fn call_with<R>(
        &mut self,
        method: &str,
        idempotent: bool,
        mut f: impl FnMut(&mut Client) -> Result<R, ClientError>,
    ) -> Result<R, ClientError> {
        let tries = if idempotent { IDEMPOTENT_TRIES } else { 1 };
        let mut tried = 0;
        loop {
            tried += 1;
            let client = self.client()?;
            let err = match f(client) {
                Ok(r) => return Ok(r),
                // The daemon answered: a refusal is final, and the
                // connection is fine.
                Err(e @ ClientError::Rpc(_)) => return Err(e),
                Err(e) => e,
            };
            let sent = self.client.as_ref().is_some_and(Client::request_sent);
            self.client = None;
            if tried >= tries {
                return Err(if !idempotent && sent {
                    ClientError::Interrupted { method: method.to_string(), source: Box::new(err) }
                } else {
                    err
                });
            }
        }
    }

    /// Connects, starting the daemon when `start` (else only an answering
    /// daemon will do), and checks the protocol on the session's first
    /// connection.
    fn connect(&mut self, start: bool) -> Result<Client, ClientError> {
        let (client, started) =
            if start { connect_or_start(&self.layout, None)? } else { (Client::connect(&self.layout.socket())?, None) };
        if let Some(pid) = started {
            self.emit(&SessionEvent::Started { pid });
        }
        if self.checked {
            return Ok(client);
        }
        // A daemon this session just started is this binary: no need to ask.
        let client = if started.is_some() { client } else { self.check_protocol(client)? };
        self.checked = true;
        Ok(client)
    }

    /// Replaces a daemon that speaks another protocol version with ours.
    /// Its version is in its PID file (written before it listens), so this
    /// costs a file read, not a request.
    fn check_protocol(&mut self, client: Client) -> Result<Client, ClientError> {
        let Some(info) = crate::pidfile::read_pid_file(&self.layout.pid_file()) else {
            return Ok(client);
        };
        let theirs = info.protocol_version;
        if theirs == 0 || theirs == PROTOCOL_VERSION {
            return Ok(client);
        }
        drop(client);
        let old_pid = u32::try_from(info.pid).unwrap_or(0);
        stop_daemon(&self.layout, Some(info.pid), STOP_TIMEOUT)?;
        let started = match start_daemon(&self.layout, None)? {
            StartOutcome::Started(pid) => Some(pid),
            // Another client replaced it meanwhile.
            StartOutcome::AlreadyRunning => None,
        };
        self.emit(&SessionEvent::Restarted { old_pid, old_protocol: theirs, pid: started });
        Client::connect(&self.layout.socket())
    }

    fn emit(&mut self, event: &SessionEvent) {
        if let Some(f) = self.on_event.as_mut() {
            f(event);
        }
    }
}

#[cfg(test)]
mod tests {
    //! A fake daemon on a real socket: it answers, or reads a request and
    //! closes the connection without answering (a daemon dying mid-call),
    //! as each test scripts it, and records every request it reads.

    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixListener;
    use std::path::PathBuf;
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};
    use thrum_proto::methods::Empty;
    use thrum_proto::methods::system::{Health, Unsubscribe, UnsubscribeParams};

    use super::*;

    /// What the fake does with the `n`-th request (from 1) of a method.
    #[derive(Clone, Copy)]
    enum Act {
        Answer,
        /// Reads the request, then closes without answering.
        Drop,
        /// Answers, then closes (the daemon restarts between two calls),
        /// and says so on the test's channel once the socket is closed.
        AnswerThenClose,
    }

    struct Fake {
        dir: PathBuf,
        events: Arc<Mutex<Vec<SessionEvent>>>,
        seen: Arc<Mutex<Vec<String>>>,
        closed: mpsc::Receiver<()>,
    }

    impl Fake {
        fn start(name: &str, script: fn(&str, usize) -> Act) -> Fake {
            Fake::speaking(name, PROTOCOL_VERSION, script)
        }

        fn speaking(name: &str, protocol: u32, script: fn(&str, usize) -> Act) -> Fake {
            let dir = std::env::temp_dir().join(format!("thrum-session-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join(".thrum/var")).ok();
            let listener = UnixListener::bind(dir.join(".thrum/var/thrum.sock")).unwrap_or_else(|e| panic!("{e}"));
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (tx, closed) = mpsc::channel();
            let log = seen.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let mut out = stream.try_clone().unwrap_or_else(|e| panic!("{e}"));
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { break };
                        let req: Value = serde_json::from_str(&line).unwrap_or_default();
                        let method = req["method"].as_str().unwrap_or("").to_string();
                        let n = {
                            let mut seen = log.lock().unwrap_or_else(|p| p.into_inner());
                            seen.push(method.clone());
                            seen.iter().filter(|m| **m == method).count()
                        };
                        let result = match method.as_str() {
                            "health" => json!({ "status": "ok", "uptime_ms": 1, "version": "fake", "pid": 1,
                                                "protocol_version": protocol }),
                            _ => json!({ "removed": true }),
                        };
                        let answer = format!("{}\n", json!({ "jsonrpc": "2.0", "id": req["id"], "result": result }));
                        match script(&method, n) {
                            Act::Answer => {
                                let _ = out.write_all(answer.as_bytes());
                            }
                            Act::Drop => break,
                            Act::AnswerThenClose => {
                                let _ = out.write_all(answer.as_bytes());
                                let _ = out.shutdown(std::net::Shutdown::Both);
                                let _ = tx.send(());
                                break;
                            }
                        }
                    }
                }
            });
            Fake { dir, events: Arc::default(), seen, closed }
        }

        fn session(&self) -> Session {
            let events = self.events.clone();
            Session::new(Layout::for_root(&self.dir).unwrap_or_else(|e| panic!("{e}")))
                .on_event(move |e| events.lock().unwrap_or_else(|p| p.into_inner()).push(e.clone()))
        }

        fn count(&self, method: &str) -> usize {
            self.seen.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|m| *m == method).count()
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn unsubscribe() -> UnsubscribeParams {
        UnsubscribeParams { subscription_id: 1, caller_agent_id: None }
    }

    #[test]
    fn an_idempotent_call_is_repeated_after_a_drop_mid_call() {
        // The first try dies mid-call; the second answers. (The protocol
        // check reads the PID file: it sends nothing.)
        let fake = Fake::start("idem", |m, n| if m == "health" && n == 1 { Act::Drop } else { Act::Answer });
        let mut s = fake.session();
        let h = s.call::<Health>(&Empty {});
        assert_eq!(h.map(|h| h.version).ok().as_deref(), Some("fake"));
        assert_eq!(fake.count("health"), 2);
    }

    #[test]
    fn another_call_is_sent_once_and_says_the_outcome_is_unknown() {
        let fake = Fake::start("once", |m, _| if m == "unsubscribe" { Act::Drop } else { Act::Answer });
        let mut s = fake.session();
        let err = s.call::<Unsubscribe>(&unsubscribe()).err();
        assert!(
            matches!(&err, Some(ClientError::Interrupted { method, source }) if method == "unsubscribe" && matches!(**source, ClientError::Closed)),
            "{err:?}"
        );
        assert_eq!(fake.count("unsubscribe"), 1, "a call that is not idempotent must not be repeated");
        // The session reconnects for the next call.
        assert!(s.call::<Health>(&Empty {}).is_ok());
        assert_eq!(fake.count("health"), 1, "the call, and no request for the protocol check");
    }

    #[test]
    fn a_connection_closed_between_calls_is_replaced_before_sending() {
        let fake =
            Fake::start(
                "between",
                |m, n| if m == "unsubscribe" && n == 1 { Act::AnswerThenClose } else { Act::Answer },
            );
        let mut s = fake.session();
        assert!(s.call::<Unsubscribe>(&unsubscribe()).is_ok());
        fake.closed.recv().unwrap_or_else(|e| panic!("{e}"));
        // Not idempotent, yet it goes through: it is sent on a new
        // connection, once.
        assert!(s.call::<Unsubscribe>(&unsubscribe()).is_ok());
        assert_eq!(fake.count("unsubscribe"), 2);
        assert_eq!(fake.count("health"), 0, "the protocol check costs no request");
    }

    #[test]
    fn a_daemon_without_a_version_or_not_ours_to_stop_is_used_as_it_is() {
        // 0: the original implementation (or a build before the field).
        let fake = Fake::speaking("v0", 0, |_, _| Act::Answer);
        let mut s = fake.session();
        assert!(s.call::<Health>(&Empty {}).is_ok());
        assert_eq!(fake.count("health"), 1);
        assert!(fake.events.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
        // Another version, but no thrum daemon holds this repository's lock
        // (so there is no PID to stop): nothing is stopped or started.
        let fake = Fake::speaking("v9", PROTOCOL_VERSION + 8, |_, _| Act::Answer);
        let mut s = fake.session();
        assert!(s.call::<Unsubscribe>(&unsubscribe()).is_ok());
        assert_eq!((fake.count("health"), fake.count("unsubscribe")), (0, 1));
        assert!(fake.events.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
    }
}
