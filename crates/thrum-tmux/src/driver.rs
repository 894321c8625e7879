//! The tmux commands thrum runs.
//!
//! Sessions are named by the user; every target is written `=NAME:` so
//! tmux matches the name exactly (a bare `api` would also match a session
//! called `api-v2`). Options thrum keeps on a session are user options
//! (`@thrum-…`), which tmux stores and shows but never acts on.

use std::path::Path;
use std::process::{Command, Stdio};

/// The environment variable naming a private tmux server (`tmux -L NAME`).
pub const SOCKET_ENV: &str = "THRUM_TMUX_SOCKET";

#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    #[error("tmux is not installed: install it (e.g. `apt install tmux` or `brew install tmux`)")]
    NotInstalled,
    #[error("no tmux session named {0:?}: see `thrum tmux status`")]
    NoSession(String),
    #[error("tmux {command} failed: {stderr}")]
    Failed { command: String, stderr: String },
    #[error("tmux printed something unexpected for {command}: {output:?}")]
    Unexpected { command: String, output: String },
}

/// A tmux server: the default one, or a named one (`-L`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tmux {
    socket: Option<String>,
}

/// What a new session starts with.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub name: &'a str,
    pub cwd: &'a Path,
    /// The pane's first process (argv); empty for tmux's default shell.
    pub command: Vec<String>,
    /// User options set on the session as it is created (`@thrum-…`).
    pub options: Vec<(&'a str, String)>,
    pub width: u16,
    pub height: u16,
}

/// What tmux says about a session's active pane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pane {
    /// `%N`, stable for the pane's life.
    pub id: String,
    /// `session:window.pane`, what identity files record.
    pub target: String,
    pub pid: u32,
    /// The foreground process's name (`bash`, `claude`, `node`…).
    pub current_command: String,
    pub title: String,
    /// In copy mode or another mode: keys would go to the mode.
    pub in_mode: bool,
    pub dead: bool,
    pub cursor_x: u16,
    pub cursor_y: u16,
    pub width: u16,
    pub height: u16,
    /// The window's last output, in seconds since the epoch.
    pub activity: u64,
    /// How many clients (people) look at the session.
    pub attached: u32,
}

const PANE_FORMAT: &str = "#{pane_id}\x1f#{session_name}:#{window_index}.#{pane_index}\x1f#{pane_pid}\x1f#{pane_current_command}\x1f#{pane_title}\x1f#{pane_in_mode}\x1f#{pane_dead}\x1f#{cursor_x}\x1f#{cursor_y}\x1f#{pane_width}\x1f#{pane_height}\x1f#{window_activity}\x1f#{session_attached}";

impl Pane {
    fn parse(line: &str) -> Option<Pane> {
        let f: Vec<&str> = line.split('\x1f').collect();
        if f.len() != 13 {
            return None;
        }
        let n = |s: &str| s.trim().parse().unwrap_or(0);
        Some(Pane {
            id: f[0].to_string(),
            target: f[1].to_string(),
            pid: n(f[2]) as u32,
            current_command: f[3].to_string(),
            title: f[4].to_string(),
            in_mode: f[5] == "1",
            dead: f[6] == "1",
            cursor_x: n(f[7]) as u16,
            cursor_y: n(f[8]) as u16,
            width: n(f[9]) as u16,
            height: n(f[10]) as u16,
            activity: n(f[11]),
            attached: n(f[12]) as u32,
        })
    }
}

/// The exact-match target of a session's active pane.
pub fn target(session: &str) -> String {
    format!("={session}:")
}

impl Tmux {
    pub fn new(socket: Option<String>) -> Tmux {
        Tmux { socket: socket.filter(|s| !s.is_empty()) }
    }

    /// The server named by `THRUM_TMUX_SOCKET`, else the default one.
    pub fn from_env() -> Tmux {
        Tmux::new(std::env::var(SOCKET_ENV).ok())
    }

    /// The `-L` name, if not the default server.
    pub fn socket(&self) -> Option<&str> {
        self.socket.as_deref()
    }

    /// The command line that reaches this server (`tmux` or `tmux -L X`),
    /// for the hints we print.
    pub fn command_line(&self) -> String {
        match &self.socket {
            Some(s) => format!("tmux -L {s}"),
            None => "tmux".into(),
        }
    }

    /// A `tmux` command for this server. `TMUX` is removed so a command run
    /// from inside another tmux session still reaches this server.
    pub fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        if let Some(s) = &self.socket {
            c.args(["-L", s]);
        }
        c.env_remove("TMUX").stdin(Stdio::null());
        c
    }

    /// Runs `tmux ARGS`, returning its standard output.
    pub fn run(&self, args: &[&str]) -> Result<String, TmuxError> {
        let out = self.command().args(args).output().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TmuxError::NotInstalled,
            _ => TmuxError::Failed { command: args.first().unwrap_or(&"").to_string(), stderr: e.to_string() },
        })?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(TmuxError::Failed { command: args.first().unwrap_or(&"").to_string(), stderr })
    }

    /// Whether tmux can be run at all.
    pub fn installed(&self) -> bool {
        !matches!(self.run(&["-V"]), Err(TmuxError::NotInstalled))
    }

    pub fn has_session(&self, name: &str) -> bool {
        self.run(&["has-session", "-t", &format!("={name}")]).is_ok()
    }

    /// Creates a detached session. Its user options are set in the same
    /// tmux invocation, so no one ever sees the session without them.
    pub fn new_session(&self, s: &NewSession<'_>) -> Result<(), TmuxError> {
        let (w, h) = (s.width.max(20).to_string(), s.height.max(5).to_string());
        let cwd = s.cwd.to_string_lossy();
        let mut args: Vec<&str> = vec!["new-session", "-d", "-s", s.name, "-c", &cwd, "-x", &w, "-y", &h];
        args.extend(s.command.iter().map(String::as_str));
        // Without -t: in one invocation, the session just created is the
        // current one (tmux cannot resolve `=NAME` there yet).
        for (k, v) in &s.options {
            args.extend([";", "set-option", k, v.as_str()]);
        }
        match self.run(&args) {
            // The last session was just killed and the server is exiting:
            // a new one starts on the next try.
            Err(TmuxError::Failed { stderr, .. }) if stderr.contains("server exited unexpectedly") => {
                std::thread::sleep(std::time::Duration::from_millis(100));
                self.run(&args).map(drop)
            }
            r => r.map(drop),
        }
    }

    pub fn kill_session(&self, name: &str) -> Result<(), TmuxError> {
        self.run(&["kill-session", "-t", &format!("={name}")]).map(drop).map_err(|e| self.no_session(name, e))
    }

    pub fn set_option(&self, session: &str, key: &str, value: &str) -> Result<(), TmuxError> {
        // `=NAME:` (session and its current window): set-option does not
        // take a bare `=NAME`.
        self.run(&["set-option", "-t", &target(session), key, value]).map(drop).map_err(|e| self.no_session(session, e))
    }

    /// Every session with the values of `fields` (tmux formats such as
    /// `#{session_name}` or `#{@thrum-dir}`), one row per session.
    pub fn sessions(&self, fields: &[&str]) -> Result<Vec<Vec<String>>, TmuxError> {
        let format = fields.join("\x1f");
        match self.run(&["list-sessions", "-F", &format]) {
            Ok(out) => Ok(out.lines().map(|l| l.split('\x1f').map(str::to_string).collect()).collect()),
            // No server running means no sessions.
            Err(TmuxError::Failed { stderr, .. }) if no_server(&stderr) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// The active pane of a session.
    pub fn pane(&self, session: &str) -> Result<Pane, TmuxError> {
        let out = self
            .run(&["display-message", "-p", "-t", &target(session), PANE_FORMAT])
            .map_err(|e| self.no_session(session, e))?;
        Pane::parse(out.trim_end_matches('\n'))
            .ok_or_else(|| TmuxError::Unexpected { command: "display-message".into(), output: out })
    }

    /// Every pane of every session, with its session's name, in one call
    /// (the pane watcher's cheap look).
    pub fn all_panes(&self) -> Result<Vec<(String, Pane)>, TmuxError> {
        let format = format!("#{{session_name}}\x1e{PANE_FORMAT}");
        let out = match self.run(&["list-panes", "-a", "-F", &format]) {
            Ok(out) => out,
            Err(TmuxError::Failed { stderr, .. }) if no_server(&stderr) => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        Ok(out
            .lines()
            .filter_map(|l| {
                let (s, p) = l.split_once('\x1e')?;
                Some((s.to_string(), Pane::parse(p)?))
            })
            .collect())
    }

    /// What the pane shows: the visible screen, plus `history` lines of
    /// scrollback above it. With `escapes` (for reading the screen), one
    /// line per screen row with colours and attributes as escape sequences
    /// (to tell a faint placeholder from typed text; rows match the
    /// cursor's); without, plain text with wrapped lines joined (for
    /// people).
    pub fn capture(&self, session: &str, history: u32, escapes: bool) -> Result<String, TmuxError> {
        let start = format!("-{history}");
        let t = target(session);
        let mut args = vec!["capture-pane", "-p", "-t", &t];
        if history > 0 {
            args.extend(["-S", &start]);
        }
        args.push(if escapes { "-e" } else { "-J" });
        self.run(&args).map_err(|e| self.no_session(session, e))
    }

    /// Types `text` literally (no key names, no shell).
    pub fn send_text(&self, session: &str, text: &str) -> Result<(), TmuxError> {
        if text.is_empty() {
            return Ok(());
        }
        self.run(&["send-keys", "-t", &target(session), "-l", "--", text])
            .map(drop)
            .map_err(|e| self.no_session(session, e))
    }

    /// Presses keys by name (`Enter`, `Escape`, `1`…).
    pub fn send_keys(&self, session: &str, keys: &[&str]) -> Result<(), TmuxError> {
        let t = target(session);
        let mut args = vec!["send-keys", "-t", &t];
        args.extend(keys);
        self.run(&args).map(drop).map_err(|e| self.no_session(session, e))
    }

    /// Replaces "can't find session" (or no server at all) with the error that says what to do.
    fn no_session(&self, name: &str, e: TmuxError) -> TmuxError {
        match e {
            TmuxError::Failed { stderr, .. } if stderr.contains("can't find") || no_server(&stderr) => {
                TmuxError::NoSession(name.to_string())
            }
            e => e,
        }
    }
}

/// Whether tmux failed because no server answers on the socket. The last
/// session's kill ends the server, and for a moment after its socket file
/// may still be there: tmux then says "error connecting … (Connection
/// refused)" or "server exited unexpectedly" rather than "no server running".
fn no_server(stderr: &str) -> bool {
    ["no server running", "error connecting", "server exited unexpectedly"].iter().any(|m| stderr.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A private tmux server, killed when the test ends (passed or not).
    struct Server(Tmux);

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.run(&["kill-server"]);
        }
    }

    fn tmux() -> Server {
        let t = Tmux::new(Some(format!("thrum-tmux-unit-{}", std::process::id())));
        assert!(t.installed(), "tmux is not installed: apt-get install -y tmux (or run `bash .ci/run`)");
        Server(t)
    }

    #[test]
    fn a_session_is_created_looked_at_typed_into_and_killed() {
        let server = tmux();
        let t = &server.0;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let s = NewSession {
            name: "unit",
            cwd: dir.path(),
            command: vec!["cat".into()],
            options: vec![("@thrum-dir", "/x/.thrum".into())],
            width: 80,
            height: 24,
        };
        t.new_session(&s).unwrap_or_else(|e| panic!("{e}"));
        // Exact names: a prefix does not reach the session.
        assert!(t.has_session("unit") && !t.has_session("un"));
        let rows = t.sessions(&["#{session_name}", "#{@thrum-dir}"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows, vec![vec!["unit".to_string(), "/x/.thrum".to_string()]]);
        t.send_text("unit", "hello; $HOME").unwrap_or_else(|e| panic!("{e}"));
        t.send_keys("unit", &["Enter"]).unwrap_or_else(|e| panic!("{e}"));
        let mut shown = String::new();
        for _ in 0..100 {
            shown = t.capture("unit", 0, false).unwrap_or_else(|e| panic!("{e}"));
            if shown.matches("hello; $HOME").count() == 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // `cat` echoes the line back: typed literally, then echoed.
        assert_eq!(shown.matches("hello; $HOME").count(), 2, "{shown}");
        let pane = t.pane("unit").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((pane.current_command.as_str(), pane.width, pane.target.as_str()), ("cat", 80, "unit:0.0"));
        assert_eq!(t.all_panes().unwrap_or_else(|e| panic!("{e}")).len(), 1);
        t.kill_session("unit").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(t.kill_session("unit"), Err(TmuxError::NoSession(_))));
        assert!(matches!(t.capture("unit", 0, false), Err(TmuxError::NoSession(_))));
    }
}
