//! `thrum hook RUNTIME EVENT`: what a coding agent's runtime runs at its
//! turn boundaries, so mail reaches the model without the agent polling.
//!
//! The runtime hands the hook a JSON object on stdin and reads its stdout,
//! stderr and exit code in a shape of its own; one module per runtime knows
//! that shape (`claude`, `codex`, `gemini`, `cursor`, `opencode`). What
//! they share is here: reading stdin ([`read_input`]), finding the agent and
//! never failing the session ([`run_hook`]), the session briefing
//! ([`briefing`]), asking the daemon to claim unannounced mail
//! (`message.announce`, [`turn_notice`]), the idle waker's wait ([`Waiter`])
//! and the context cap ([`cap`]). The rule they all keep: a hook never hurts
//! the session. On a hot path it costs one query when there is nothing to
//! say and prints nothing; when the daemon is down, the identity unclear or
//! the input odd, it exits 0 silently and leaves a line in the daemon log.

use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Args;
use serde::Deserialize as _;
use serde::de::DeserializeOwned;
use serde_json::json;
use thrum_client::Client;
use thrum_core::Layout;
use thrum_core::delivery::{self, Channel};
use thrum_core::views::MessageSummary;
use thrum_proto::methods::message::{self as mm, AnnounceParams, AnnounceResult, AnnounceStatus};

use super::config_file;
use crate::context::Ctx;
use crate::runtimes::Hooks;

pub mod claude;
pub mod codex;
pub mod cursor;
pub mod gemini;
pub mod install;
pub mod opencode;

#[derive(Debug, Args)]
pub struct HookArgs {
    /// The runtime whose hook this is (claude, codex, gemini, cursor, opencode).
    pub runtime: String,
    /// The event (claude: session-start, user-prompt-submit, post-tool-use,
    /// stop, pre-compact, wait; codex: session-start, user-prompt-submit,
    /// post-tool-use, stop; gemini: session-start, before-agent, after-tool,
    /// after-agent; cursor: session-start, post-tool-use, stop; opencode:
    /// chat-message, tool-after, idle, wait).
    pub event: String,
    /// For `wait`: how long the idle waker waits before it exits 0
    /// (default 23h; Claude Code's own timeout for it is 24h).
    #[arg(long)]
    pub timeout: Option<String>,
}

#[derive(Debug, Args)]
pub struct SetupHooksArgs {
    /// claude (.claude/settings.json), codex (.codex/hooks.json), gemini
    /// (.gemini/settings.json), cursor (.cursor/hooks.json) or opencode
    /// (.opencode/plugins/thrum.ts).
    #[arg(long, default_value = crate::runtimes::DEFAULT)]
    pub runtime: String,
    /// Claude Code: write the personal .claude/settings.local.json instead
    /// of the project's .claude/settings.json.
    #[arg(long)]
    pub local: bool,
    /// Take thrum's hooks out again (everything else stays).
    #[arg(long)]
    pub remove: bool,
    /// Print the resulting file instead of writing it.
    #[arg(long)]
    pub dry_run: bool,
}

/// `thrum setup hooks`.
pub fn setup(ctx: &mut Ctx, a: SetupHooksArgs) -> Result<u8> {
    let root = ctx.layout()?.worktree_root.clone();
    let d = dialect(&a.runtime)?;
    let outcome = install(d, &root, a.local, a.remove, a.dry_run)?;
    let what = if a.remove { "thrum hooks removed" } else { "hooks" };
    // Codex runs no hook it has not been told to trust, and thrum cannot
    // trust them for it: say so, and how.
    let trust = (d == Hooks::Codex && !a.remove && outcome.action != "printed").then(|| codex::trust_note(&root));
    match trust {
        Some(note) if ctx.out.json => {
            let mut v = serde_json::to_value(&outcome)?;
            v["trust"] = json!(note);
            ctx.out.json(&v);
        }
        Some(note) => {
            super::mcp::report_as(ctx, what, &outcome)?;
            ctx.out.line(format!("  {}", note.replace('\n', "\n  ")));
        }
        None => super::mcp::report_as(ctx, what, &outcome)?,
    }
    Ok(0)
}

/// The largest hook input read; anything longer is cut (a runtime's
/// payload is a few KiB; a transcript is passed by path, not inline).
const MAX_INPUT: u64 = 1 << 20;

pub fn run(ctx: &mut Ctx, a: HookArgs) -> Result<u8> {
    match dialect(&a.runtime)? {
        Hooks::Claude => claude::run(ctx, &a),
        Hooks::Codex => codex::run(ctx, &a),
        Hooks::Gemini => gemini::run(ctx, &a),
        Hooks::Cursor => cursor::run(ctx, &a),
        Hooks::OpenCode => opencode::run(ctx, &a),
    }
}

/// Installs (or with `remove`, uninstalls) a dialect's hooks for the
/// worktree at `root` (`local`: the personal settings file, where the
/// runtime has one).
pub fn install(d: Hooks, root: &Path, local: bool, remove: bool, dry_run: bool) -> Result<config_file::Outcome> {
    match d {
        Hooks::Claude => install::apply_claude(root, local, remove, dry_run),
        Hooks::Codex => codex::install(root, remove, dry_run),
        Hooks::Gemini => gemini::install(root, remove, dry_run),
        Hooks::Cursor => cursor::install(root, remove, dry_run),
        Hooks::OpenCode => opencode::apply(root, local, remove, dry_run),
    }
}

/// Where a dialect's thrum hooks are installed at `root`, and which.
pub struct HookStatus {
    pub file: PathBuf,
    /// (the runtime's event, the command), thrum's entries only.
    pub commands: Vec<(String, String)>,
    /// The events `thrum hook` serves for it (run markers are by these).
    pub events: Vec<&'static str>,
}

/// thrum's hooks of dialect `d` at `root`, or `None` when none are there.
pub fn status(d: Hooks, root: &Path) -> Option<HookStatus> {
    match d {
        Hooks::Claude => [false, true].into_iter().find_map(|local| {
            let file = install::claude_settings(root, local);
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).ok()?).ok()?;
            let commands = install::claude_commands(&v);
            let events = claude::Event::ALL.iter().map(|e| e.name()).collect();
            (!commands.is_empty()).then_some(HookStatus { file, commands, events })
        }),
        Hooks::Codex => file_status(codex::hooks_file(root), "codex", codex::Event::ALL.iter().map(|e| e.name())),
        Hooks::Gemini => {
            file_status(gemini::settings_file(root), "gemini", gemini::Event::ALL.iter().map(|e| e.name()))
        }
        Hooks::Cursor => file_status(cursor::hooks_file(root), "cursor", cursor::Event::ALL.iter().map(|e| e.name())),
        Hooks::OpenCode => opencode::status(root),
    }
}

/// thrum's hooks of `runtime` in the JSON file at `file`, if any.
fn file_status(file: PathBuf, runtime: &str, events: impl Iterator<Item = &'static str>) -> Option<HookStatus> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).ok()?).ok()?;
    let commands = install::commands(&v, runtime);
    (!commands.is_empty()).then(|| HookStatus { file, commands, events: events.collect() })
}

/// When `runtime`'s `event` hook last ran here (RFC 3339), if ever.
pub fn last_run(layout: &Layout, runtime: &str, event: &str) -> Option<String> {
    std::fs::read_to_string(runs_dir(layout).join(format!("{runtime}.{event}"))).ok().map(|s| s.trim().to_string())
}

/// The dialects whose thrum hooks are installed in the worktree at `root`
/// (a new worktree gets the same).
pub fn installed(root: &Path) -> Vec<Hooks> {
    crate::runtimes::REGISTRY.iter().filter_map(|r| r.hooks).filter(|d| status(*d, root).is_some()).collect()
}

/// The hook dialect of the runtime called `name`, or a one-line error.
fn dialect(name: &str) -> Result<Hooks> {
    let rt = crate::runtimes::get(name).ok_or_else(|| anyhow::anyhow!(crate::runtimes::unknown(name)))?;
    rt.hooks.ok_or_else(|| {
        crate::user_err!(
            "{} has no hooks thrum can use; runtimes with hooks: {}",
            rt.label,
            crate::runtimes::with_hooks()
        )
    })
}

/// The hook's stdin as text: empty when it is a terminal (someone trying
/// the command by hand) or unreadable.
pub(crate) fn read_stdin() -> String {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return String::new();
    }
    let mut s = String::new();
    let _ = stdin.lock().take(MAX_INPUT).read_to_string(&mut s);
    s
}

/// Where a hook runs: the runtime's `cwd` when it names a folder, else
/// ours.
pub(crate) fn start_dir(cwd: &str) -> Option<PathBuf> {
    let p = Path::new(cwd);
    if !cwd.is_empty() && p.is_dir() { Some(p.to_path_buf()) } else { std::env::current_dir().ok() }
}

/// What a hook knows about where it runs, once it found thrum.
pub(crate) struct Here {
    pub layout: Layout,
    pub agent: String,
}

impl Here {
    /// The repository and agent of `dir`, or why not (for the log).
    pub fn find(ctx: &mut Ctx, dir: Option<PathBuf>) -> std::result::Result<Here, String> {
        let dir = dir.ok_or("no working directory")?;
        let layout = Layout::discover(&dir).map_err(|e| format!("no thrum repository at {}: {e}", dir.display()))?;
        let agent = crate::identity::resolve(&layout, None)
            .map_err(|e| format!("no identity: {}", e.to_string().lines().next().unwrap_or_default()))?
            .name;
        // Later calls (prime) use this repository too.
        ctx.set_layout(layout.clone());
        Ok(Here { layout, agent })
    }

    /// A connection, only if the daemon is already running: a hook on the
    /// hot path never starts one.
    pub fn connect_if_running(&self) -> Option<Client> {
        thrum_client::pidfile::running_pid(&self.layout.lock_file(), &self.layout.pid_file())?;
        Client::connect(&self.layout.socket()).ok()
    }

    /// Records that `runtime`'s `event` hook ran (its file's time is when),
    /// for `thrum doctor`'s "installed but never fires".
    pub fn mark_ran(&self, runtime: &str, event: &str) {
        mark_ran(&self.layout, runtime, event);
    }
}

/// The folder of hook run markers.
pub(crate) fn runs_dir(layout: &Layout) -> PathBuf {
    layout.var_dir().join("hook-runs")
}

fn mark_ran(layout: &Layout, runtime: &str, event: &str) {
    let dir = runs_dir(layout);
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{runtime}.{event}")), thrum_core::time::now_rfc3339());
}

/// A line in the daemon log (appended in one write), for what a hook
/// chose not to bother the session with. Best effort: a hook never fails
/// for its log.
pub(crate) fn log(layout: Option<&Layout>, runtime: &str, event: &str, what: &str) {
    use std::io::Write as _;
    let Some(layout) = layout else { return };
    let line =
        format!("{} WARN thrum hook {runtime} {event}: {}\n", thrum_core::time::now_rfc3339(), what.replace('\n', " "));
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(layout.log_file()) {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Claims `agent`'s unannounced mail now (empty when there is none).
pub(crate) fn claim(
    client: &mut Client,
    agent: &str,
    channel: Channel,
    session: Option<&str>,
    stand_down: bool,
) -> Result<Vec<MessageSummary>> {
    let r: AnnounceResult = client.call::<mm::Announce>(&AnnounceParams {
        caller_agent_id: Some(agent.to_string()),
        channel,
        session_id: session.filter(|s| !s.is_empty()).map(str::to_string),
        wait_ms: 0,
        stand_down,
        limit: None,
    })?;
    Ok(r.messages)
}

/// The largest context a hook hands its runtime, in characters. Claude
/// Code cuts hook context at 10,000 characters and Cursor drops a longer
/// one whole; we stay under both with room to spare.
pub(crate) const MAX_CONTEXT: usize = 9_500;

/// How much of [`MAX_CONTEXT`] a restart snapshot may take in the session
/// briefing: the rest of the briefing and a mail notice need the remainder.
const SNAPSHOT_BUDGET: usize = 5_500;

/// `text` cut under [`MAX_CONTEXT`] characters, saying so.
pub(crate) fn cap(text: &str) -> String {
    if text.chars().count() <= MAX_CONTEXT {
        return text.to_string();
    }
    let cut: String = text.chars().take(MAX_CONTEXT - 80).collect();
    format!("{cut}\n[thrum] (cut to fit the hook's limit: run `thrum prime` for the rest)")
}

/// `{"hookSpecificOutput": {"hookEventName", "additionalContext"}}`: how
/// Claude Code, Codex and Gemini CLI take context from a hook, `text`
/// capped.
pub(crate) fn context_json(event_name: &str, text: &str) -> String {
    json!({ "hookSpecificOutput": { "hookEventName": event_name, "additionalContext": cap(text) } }).to_string()
}

/// The hook's stdin as `I` (an empty stdin gives `I::default()`), or
/// `None` after a line in the daemon log when it is not the JSON object
/// the runtime should have sent.
pub(crate) fn read_input<I: DeserializeOwned + Default>(runtime: &str, event: &str) -> Option<I> {
    let raw = read_stdin();
    if raw.trim().is_empty() {
        return Some(I::default());
    }
    match serde_json::from_str(&raw) {
        Ok(i) => Some(i),
        Err(e) => {
            let layout = start_dir("").and_then(|d| Layout::discover(&d).ok());
            log(layout.as_ref(), runtime, event, &format!("unreadable hook input ({e}); ignored"));
            None
        }
    }
}

/// Runs one hook call in `dir` (where the runtime says it runs): finds the
/// agent, records the run, and hands `handler` the agent, or `None` when
/// the repository is there but the agent is not and the call `briefs` (a
/// session start, whose briefing says how to register). Whatever goes
/// wrong is a line in the daemon log and an exit 0 with nothing printed:
/// the runtime sees a hook with nothing to say.
pub(crate) fn run_hook(
    ctx: &mut Ctx,
    runtime: &str,
    event: &str,
    dir: Option<PathBuf>,
    briefs: bool,
    handler: impl FnOnce(&mut Ctx, Option<&Here>) -> Result<u8>,
) -> Result<u8> {
    let here = match Here::find(ctx, dir.clone()) {
        Ok(h) => h,
        Err(why) => {
            if briefs && !why.starts_with("no thrum repository") {
                let layout = dir.as_deref().and_then(|d| Layout::discover(d).ok());
                return handler(ctx, None).or_else(|e| {
                    log(layout.as_ref(), runtime, event, &format!("{e:#}"));
                    Ok(0)
                });
            }
            let layout = dir.as_deref().and_then(|d| Layout::discover(d).ok());
            log(layout.as_ref(), runtime, event, &why);
            return Ok(0);
        }
    };
    here.mark_ran(runtime, event);
    handler(ctx, Some(&here)).or_else(|e| {
        log(Some(&here.layout), runtime, event, &format!("{e:#}"));
        Ok(0)
    })
}

/// The session briefing: `thrum prime`'s text (this starts the daemon when
/// it is not running: a session start is not a hot path), then the notice
/// of any unannounced mail, claimed now; capped. `source` says why the
/// session started (startup, resume, clear, compact).
pub(crate) fn briefing(ctx: &mut Ctx, here: Option<&Here>, runtime: &str, session: &str, source: &str) -> String {
    let (res, mut text) = crate::output::capture(|| super::prime::run_with(ctx, Some(SNAPSHOT_BUDGET)));
    if let Err(e) = res {
        text = format!("thrum: the briefing failed: {e:#}\n");
    }
    if let Some(here) = here {
        let claimed = ctx.call::<mm::Announce>(&AnnounceParams {
            caller_agent_id: Some(here.agent.clone()),
            channel: Channel::Hook,
            session_id: Some(session.to_string()).filter(|s| !s.is_empty()),
            wait_ms: 0,
            stand_down: true,
            limit: None,
        });
        match claimed {
            Ok(r) if !r.messages.is_empty() => {
                text.push('\n');
                text.push_str(&delivery::notice(&here.agent, &r.messages));
            }
            Ok(_) => {}
            Err(e) => log(Some(&here.layout), runtime, "session-start", &format!("{e:#}")),
        }
    }
    let source = if source.is_empty() { "startup" } else { source };
    cap(&format!("[thrum] Session briefing ({source}):\n{}", text.trim_end()))
}

/// At a turn boundary: the notice of the agent's unannounced mail,
/// claimed now, or `None` when there is none or no daemon runs (a hook on
/// the hot path never starts one). `stand_down`: the session just became
/// busy (a prompt), so its idle waker goes home.
pub(crate) fn turn_notice(here: &Here, session: &str, stand_down: bool) -> Result<Option<String>> {
    let Some(mut client) = here.connect_if_running() else { return Ok(None) };
    let messages = claim(&mut client, &here.agent, Channel::Hook, Some(session), stand_down)?;
    Ok((!messages.is_empty()).then(|| cap(&delivery::notice(&here.agent, &messages))))
}

/// A hook input field that may come as `null` (Codex's and Cursor's
/// `transcript_path`, a missing `cwd`): read as its default.
pub(crate) fn lenient<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One waiting call; between calls the waker checks that its runtime is
/// still there.
const WAIT_CHUNK: Duration = Duration::from_secs(60);
/// How long the waker lets a burst of mail settle before it reports it,
/// so two messages sent together wake the session once.
const BURST_SETTLE: Duration = Duration::from_millis(150);
/// How long the waker looks for a daemon that went away (a restart takes
/// well under a second) before it gives up.
const RECONNECT_GRACE: Duration = Duration::from_secs(10);

/// An idle waker's wait on the daemon's push (`message.announce` with
/// `wait_ms`, which claims nothing). It ends when the deadline passes,
/// when the runtime that started it is gone (we were re-parented), when a
/// newer waiter of the same session replaces it or the session turns busy,
/// or when the daemon is gone for longer than a restart takes.
pub(crate) struct Waiter<'a> {
    here: &'a Here,
    session: Option<String>,
    deadline: Instant,
    parent: u32,
    client: Option<Client>,
}

impl<'a> Waiter<'a> {
    /// A waiter for `session`, or `None` when no daemon runs (nothing to
    /// wait for; one that goes away later is waited for a moment).
    pub fn start(here: &'a Here, session: &str, timeout: Duration) -> Option<Waiter<'a>> {
        let client = here.connect_if_running()?;
        Some(Waiter {
            here,
            session: Some(session.to_string()).filter(|s| !s.is_empty()),
            deadline: Instant::now() + timeout,
            parent: std::os::unix::process::parent_id(),
            client: Some(client),
        })
    }

    fn runtime_gone(&self) -> bool {
        std::os::unix::process::parent_id() != self.parent
    }

    /// Blocks until unannounced mail is pending, then returns a connection
    /// to claim it with (after letting a burst settle); `None` when the
    /// wait is over.
    pub fn pending(&mut self) -> Result<Option<&mut Client>> {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.runtime_gone() {
                return Ok(None);
            }
            if self.client.is_none() {
                match reconnect(self.here) {
                    Some(c) => self.client = Some(c),
                    None => return Ok(None),
                }
            }
            let Some(c) = self.client.as_mut() else { return Ok(None) };
            let chunk = left.min(WAIT_CHUNK);
            c.set_timeout(chunk + Duration::from_secs(10))?;
            let waited = c.call::<mm::Announce>(&AnnounceParams {
                caller_agent_id: Some(self.here.agent.clone()),
                channel: Channel::Waiter,
                session_id: self.session.clone(),
                wait_ms: chunk.as_millis() as u64,
                stand_down: false,
                limit: None,
            });
            match waited.map(|r| r.status) {
                Ok(AnnounceStatus::Pending) => {
                    std::thread::sleep(BURST_SETTLE);
                    if self.runtime_gone() {
                        return Ok(None);
                    }
                    return Ok(self.client.as_mut());
                }
                Ok(AnnounceStatus::Superseded | AnnounceStatus::StoodDown) => return Ok(None),
                Ok(AnnounceStatus::Timeout | AnnounceStatus::Announced | AnnounceStatus::Nothing) => {}
                // The daemon restarted or went away: look for it again.
                Err(_) => self.client = None,
            }
        }
    }
}

/// A connection to the daemon, waiting out a restart.
fn reconnect(here: &Here) -> Option<Client> {
    let until = Instant::now() + RECONNECT_GRACE;
    loop {
        if let Some(c) = here.connect_if_running() {
            return Some(c);
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `--timeout` as a duration (`default` without one), or a usage error.
pub(crate) fn wait_timeout(a: &HookArgs, default: Duration) -> Result<Duration> {
    match a.timeout.as_deref() {
        None => Ok(default),
        Some(t) => thrum_core::time::parse_duration(t)
            .ok_or_else(|| crate::user_err!("invalid --timeout {t:?}: use a duration such as 30s, 5m or 1h")),
    }
}

/// What an event is for, in the runtimes whose hooks take Claude Code's
/// shapes (`hookSpecificOutput.additionalContext` for context, a
/// `decision` with a `reason` to keep the agent going): Codex and Gemini
/// CLI. Each names its events its own way; this is the part they share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// The briefing, and any waiting mail.
    Start,
    /// A prompt was submitted: new mail, and the session's waker goes home.
    Prompt,
    /// After a tool: new mail.
    Tool,
    /// The agent would stop: new mail keeps it going once, with
    /// `{"decision": <word>, "reason": notice}`; never twice in a row.
    Stop(&'static str),
}

/// The fields those runtimes' hook input has that we read (they send more).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct TurnInput {
    #[serde(deserialize_with = "lenient")]
    session_id: String,
    #[serde(deserialize_with = "lenient")]
    cwd: String,
    #[serde(deserialize_with = "lenient")]
    stop_hook_active: bool,
    /// SessionStart: startup, resume, clear…
    #[serde(deserialize_with = "lenient")]
    source: String,
}

/// Runs `thrum hook RUNTIME EVENT` for such a runtime: `event` is our name
/// for it, `runtime_event` the runtime's (its `hookEventName`).
pub(crate) fn run_turn(ctx: &mut Ctx, runtime: &str, event: &str, runtime_event: &str, turn: Turn) -> Result<u8> {
    let Some(input) = read_input::<TurnInput>(runtime, event) else { return Ok(0) };
    // Nothing on stderr: a hook's stdout is its whole answer (and Gemini
    // CLI reads stderr as one when stdout is empty); no daemon-start notice,
    // no hints.
    ctx.out.quiet = true;
    let briefs = turn == Turn::Start;
    run_hook(ctx, runtime, event, start_dir(&input.cwd), briefs, |ctx, here| match (turn, here) {
        (Turn::Start, here) => {
            let body = briefing(ctx, here, runtime, &input.session_id, &input.source);
            ctx.out.line(context_json(runtime_event, &body));
            Ok(0)
        }
        (_, None) => Ok(0),
        (Turn::Prompt | Turn::Tool, Some(here)) => {
            if let Some(notice) = turn_notice(here, &input.session_id, turn == Turn::Prompt)? {
                ctx.out.line(context_json(runtime_event, &notice));
            }
            Ok(0)
        }
        // Already continuing because of a stop hook: never again in a row.
        (Turn::Stop(_), Some(_)) if input.stop_hook_active => Ok(0),
        (Turn::Stop(decision), Some(here)) => {
            if let Some(reason) = turn_notice(here, &input.session_id, false)? {
                ctx.out.line(json!({ "decision": decision, "reason": reason }).to_string());
            }
            Ok(0)
        }
    })
}
