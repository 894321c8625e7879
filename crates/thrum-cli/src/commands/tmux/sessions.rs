//! Session lifecycle: create, launch, status, kill, send, capture,
//! connect, and `shell` (the first process of every managed pane).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use thrum_proto::methods::Empty;
use thrum_proto::methods::tmux as tm;
use thrum_tmux::Tmux;

use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The session's name (letters, digits, `-` and `_`).
    pub name: String,
    /// The worktree the agent works in.
    #[arg(long)]
    pub cwd: PathBuf,
    #[command(flatten)]
    pub agent: Registration,
    /// A bare session: register no agent.
    #[arg(long, conflicts_with_all = ["agent", "role", "module", "intent"])]
    pub no_agent: bool,
}

/// The agent registered inside a new session (quickstart's flags); the
/// same flags reach the pane's `thrum tmux shell`.
#[derive(Debug, Args)]
pub struct Registration {
    /// Register an agent with this name inside the session (with --role and --module).
    #[arg(long = "name", value_name = "AGENT")]
    pub agent: Option<String>,
    #[arg(long)]
    pub role: Option<String>,
    #[arg(long)]
    pub module: Option<String>,
    /// What the agent works on.
    #[arg(long)]
    pub intent: Option<String>,
    /// The agent's preferred runtime (what `thrum tmux launch` starts).
    #[arg(long)]
    pub runtime: Option<String>,
    /// Replace a session of that name (and an identity at --cwd).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LaunchArgs {
    pub name: String,
    /// claude, codex, gemini, opencode, cursor, shell… (default: the agent's
    /// preferred runtime, then runtime.primary, then claude).
    #[arg(long)]
    pub runtime: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {}

#[derive(Debug, Args)]
pub struct NameArgs {
    pub name: String,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    pub name: String,
    /// Typed literally, then Enter.
    pub text: String,
    /// Type the text without pressing Enter.
    #[arg(long)]
    pub no_enter: bool,
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    pub name: String,
    /// How many lines (default 50).
    #[arg(long, short = 'n')]
    pub lines: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The session (may be left out when there is only one).
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    #[command(flatten)]
    pub agent: Registration,
}

pub fn create(ctx: &mut Ctx, a: CreateArgs) -> Result<u8> {
    let (reg, no_agent) = (a.agent, a.no_agent);
    if !no_agent && (reg.agent.is_none() || reg.role.is_none() || reg.module.is_none()) {
        bail!(
            "thrum tmux create needs --name, --role and --module (to register the agent in the session), or --no-agent for a bare session"
        );
    }
    let cwd = a
        .cwd
        .canonicalize()
        .with_context(|| format!("--cwd {}: no such directory: pass an existing worktree", a.cwd.display()))?;
    let params = tm::CreateParams {
        name: a.name.clone(),
        cwd: cwd.to_string_lossy().into_owned(),
        agent_name: reg.agent.unwrap_or_default(),
        role: reg.role.unwrap_or_default(),
        module: reg.module.unwrap_or_default(),
        intent: reg.intent.unwrap_or_default(),
        runtime: reg.runtime.unwrap_or_default(),
        no_agent,
        force: reg.force,
    };
    let r = ctx.call::<tm::Create>(&params)?;
    let out = ctx.out;
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    out.line(format!("Created tmux session {} in {}", r.session, cwd.display()));
    if let Some(agent) = r.identity.as_ref().and_then(|i| i.pointer("/agent/name")).and_then(|v| v.as_str()) {
        out.line(format!("Registered @{agent} inside it."));
        out.line(format!("The agent is NOT running yet. Start it with: thrum tmux launch {}", r.session));
    }
    out.line(format!("Look at it with: thrum tmux connect {}", r.session));
    Ok(0)
}

pub fn launch(ctx: &mut Ctx, a: LaunchArgs) -> Result<u8> {
    let r = ctx.call::<tm::Launch>(&tm::LaunchParams { name: a.name, runtime: a.runtime.unwrap_or_default() })?;
    let out = ctx.out;
    if out.json {
        out.json(&r);
    } else {
        out.line(format!("Launched {} in tmux session {}", r.runtime, r.session));
    }
    Ok(0)
}

pub fn status(ctx: &mut Ctx, _a: StatusArgs) -> Result<u8> {
    let r = ctx.call::<tm::Status>(&Empty {})?;
    let out = ctx.out;
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    if r.sessions.is_empty() {
        out.line("No thrum-managed tmux sessions. Create one with: thrum tmux create NAME --cwd DIR --name AGENT --role ROLE --module MODULE");
        return Ok(0);
    }
    let rows: Vec<Vec<&str>> = r
        .sessions
        .iter()
        .map(|s| vec![s.name.as_str(), s.agent.as_str(), s.state.as_str(), s.runtime.as_str(), s.branch.as_str()])
        .collect();
    out.table(&["SESSION", "AGENT", "STATE", "RUNTIME", "BRANCH"], &rows);
    Ok(0)
}

pub fn kill(ctx: &mut Ctx, a: NameArgs) -> Result<u8> {
    ctx.call::<tm::Kill>(&tm::NameParams { name: a.name.clone() })?;
    if !ctx.out.json {
        ctx.out.line(format!("Killed tmux session {}", a.name));
    } else {
        ctx.out.json(&serde_json::json!({ "session": a.name, "killed": true }));
    }
    Ok(0)
}

pub fn send(ctx: &mut Ctx, a: SendArgs) -> Result<u8> {
    ctx.call::<tm::Send>(&tm::SendParams { name: a.name, text: a.text, no_enter: a.no_enter })?;
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({ "sent": true }));
    }
    Ok(0)
}

pub fn capture(ctx: &mut Ctx, a: CaptureArgs) -> Result<u8> {
    let r = ctx.call::<tm::Capture>(&tm::CaptureParams { name: a.name, lines: a.lines })?;
    if ctx.out.json {
        ctx.out.json(&r);
    } else {
        ctx.out.line(r.content.trim_end_matches('\n'));
    }
    Ok(0)
}

/// Attaches this terminal to a session (replacing this process with
/// `tmux attach`), on the server the daemon uses.
pub fn connect(ctx: &mut Ctx, a: ConnectArgs) -> Result<u8> {
    let sessions = ctx.call::<tm::Status>(&Empty {})?.sessions;
    let live: Vec<&tm::SessionInfo> = sessions.iter().filter(|s| s.state != "dead").collect();
    let name = match a.name {
        Some(n) => {
            if !live.iter().any(|s| s.name == n) {
                bail!("no thrum-managed tmux session named {n:?}: see `thrum tmux status`");
            }
            n
        }
        None => match live.as_slice() {
            [one] => one.name.clone(),
            [] => bail!("no thrum-managed tmux sessions: create one with `thrum tmux create`"),
            many => bail!(
                "several sessions: name one ({})",
                many.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        },
    };
    let tmux = Tmux::from_env();
    let mut cmd = tmux.command();
    cmd.stdin(std::process::Stdio::inherit());
    let verb = if std::env::var_os("TMUX").is_some() { "switch-client" } else { "attach-session" };
    cmd.args([verb, "-t", &format!("={name}")]);
    let e = cmd.exec();
    bail!("could not run tmux: {e}: is tmux installed?")
}

/// The first process of a managed pane. The pane inherits the tmux
/// server's environment, which may carry another agent's identity
/// (`THRUM_NAME`…) or a runtime's markers (`CLAUDECODE`…): they are dropped
/// here, then the agent is registered (quickstart, so its identity is
/// bound to this pane) and the user's shell takes over.
pub fn shell(ctx: &mut Ctx, a: ShellArgs) -> Result<u8> {
    let out = ctx.out;
    let markers = crate::runtimes::env_markers();
    let env =
        thrum_tmux::env::clean(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))), &markers);
    let a = a.agent;
    if let (Some(name), Some(role), Some(module)) = (&a.agent, &a.role, &a.module) {
        let me = std::env::current_exe().context("cannot find the thrum executable")?;
        let mut q = std::process::Command::new(me);
        q.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
        q.args(["quickstart", "--name", name, "--role", role, "--module", module]);
        if let Some(i) = &a.intent {
            q.args(["--intent", i]);
        }
        if let Some(r) = &a.runtime {
            q.args(["--runtime", r]);
        }
        if a.force {
            q.arg("--force");
        }
        match q.status() {
            Ok(s) if s.success() => {}
            Ok(_) => {
                out.note(format!("thrum: registering @{name} failed (above); fix it and run `thrum quickstart` here"))
            }
            Err(e) => out.note(format!("thrum: could not run quickstart: {e}")),
        }
    }
    let shell = std::env::var("SHELL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "/bin/sh".into());
    let mut sh = std::process::Command::new(&shell);
    sh.env_clear().envs(env.iter().map(|(k, v)| (k, v))).arg("-l");
    let e = sh.exec();
    // The shell could not start: fall back to /bin/sh rather than leave a
    // dead pane.
    out.note(format!("thrum: could not start {shell}: {e}; starting /bin/sh"));
    let e = std::process::Command::new("/bin/sh").env_clear().envs(env).exec();
    bail!("could not start /bin/sh: {e}")
}
