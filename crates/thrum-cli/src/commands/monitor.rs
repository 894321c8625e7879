//! `thrum monitor`: monitor jobs. The daemon runs a command and sends the
//! lines of its output that match a regex to an agent, from
//! `@monitor:NAME`: `start` (alias `add`), `list`, `show`, `stop`, `logs`,
//! `restart`.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use thrum_proto::methods::monitor as mo;

use crate::context::Ctx;

#[derive(Debug, Subcommand)]
pub enum MonitorCmd {
    /// Start a monitor: run CMD (no shell) and send its matching lines to an agent.
    #[command(visible_alias = "add")]
    Start(StartArgs),
    /// The running monitors (--all: the stopped and exited ones too).
    List(ListArgs),
    /// One monitor in full: command, env (values redacted), matches, debounce.
    Show(IdArgs),
    /// Stop a monitor (its whole process group); it no longer restarts with the daemon.
    Stop(IdArgs),
    /// The last output (stdout and stderr) of a monitor's command.
    Logs(LogsArgs),
    /// Start a stopped or exited monitor again from its saved spec.
    Restart(IdArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  thrum monitor start --name dev-errors --match '(?i)(error|panic)' --to @impl_api -- npm run dev"
)]
pub struct StartArgs {
    /// Short identifier; messages come from @monitor:NAME.
    #[arg(long)]
    pub name: Option<String>,
    /// Lines matching this regex are sent (RE2 syntax; (?i) for case-insensitive).
    #[arg(long = "match", value_name = "REGEX")]
    pub pattern: Option<String>,
    /// The agent that gets the messages.
    #[arg(long, value_name = "@AGENT")]
    pub to: Option<String>,
    /// After a match is sent, later ones within this window are held back
    /// and summarised when it closes (default 60s, minimum 30s).
    #[arg(long, value_name = "DURATION")]
    pub debounce: Option<String>,
    /// An environment variable for the command (repeatable); its value is
    /// never shown.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The command's working directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<std::path::PathBuf>,
    /// Words before `--`: refused, the command goes after `--`.
    #[arg(hide = true, allow_hyphen_values = true)]
    pub stray: Vec<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, value_name = "CMD")]
    pub argv: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Include stopped and exited monitors.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The monitor's id (m_…) or name.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The monitor's id (m_…) or name.
    pub id: String,
    /// At most this many bytes of the most recent output.
    #[arg(long, default_value_t = 10_000)]
    pub bytes: u64,
}

pub fn run(ctx: &mut Ctx, cmd: MonitorCmd) -> Result<u8> {
    match cmd {
        MonitorCmd::Start(a) => start(ctx, a),
        MonitorCmd::List(a) => list(ctx, a),
        MonitorCmd::Show(a) => show(ctx, a),
        MonitorCmd::Stop(a) => stop(ctx, a),
        MonitorCmd::Logs(a) => logs(ctx, a),
        MonitorCmd::Restart(a) => restart(ctx, a),
    }
}

const USAGE: &str = "thrum monitor start --name NAME --match REGEX --to @agent -- CMD ARGS...";

fn start(ctx: &mut Ctx, a: StartArgs) -> Result<u8> {
    if !a.stray.is_empty() {
        bail!("the command to run goes after `--`: {USAGE} (got `{}` before `--`)", a.stray.join(" "));
    }
    let (Some(name), Some(pattern), Some(to)) = (a.name, a.pattern, a.to) else {
        bail!("--name, --match and --to are all required: {USAGE}");
    };
    if a.argv.is_empty() {
        bail!("missing the command to run: put it after `--`, as in {USAGE}");
    }
    let mut env = BTreeMap::new();
    for kv in &a.env {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--env {kv:?} has no `=`: use --env KEY=VALUE");
        };
        env.insert(k.to_string(), v.to_string());
    }
    let cwd = match &a.cwd {
        Some(d) => d
            .canonicalize()
            .map_err(|_| anyhow::anyhow!("--cwd {}: no such directory: pass an existing one", d.display()))?,
        None => ctx.start_dir()?,
    };
    let cwd = cwd.display().to_string();
    let params = mo::StartParams {
        name,
        pattern: pattern.clone(),
        to,
        argv: a.argv,
        cwd,
        debounce: a.debounce.unwrap_or_default(),
        env,
    };
    let to = params.to.trim_start_matches('@').to_string();
    let r = ctx.call::<mo::Start>(&params)?;
    let out = ctx.out;
    if out.json {
        out.json(&r);
    } else {
        out.ok(format!("Started monitor {} ({}), pid {}: lines matching {pattern} go to @{to}", r.name, r.id, r.pid));
    }
    Ok(0)
}

fn list(ctx: &mut Ctx, a: ListArgs) -> Result<u8> {
    let r = ctx.call::<mo::List>(&mo::ListParams { all: a.all })?;
    let out = ctx.out;
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    if r.monitors.is_empty() {
        out.line(if a.all { "No monitors." } else { "No monitors running (--all shows stopped ones)." });
        return Ok(0);
    }
    let zero_empty = |s: String| if s == "0" { String::new() } else { s };
    let rows: Vec<Vec<String>> = r
        .monitors
        .iter()
        .map(|m| {
            vec![
                m.id.clone(),
                m.name.clone(),
                m.status.clone(),
                format!("@{}", m.to),
                m.uptime.clone(),
                zero_empty(m.pid.to_string()),
            ]
        })
        .collect();
    // The original's columns.
    out.table(&["ID", "NAME", "STATUS", "TARGET", "UPTIME", "PID"], &rows);
    Ok(0)
}

fn show(ctx: &mut Ctx, a: IdArgs) -> Result<u8> {
    let r = ctx.call::<mo::Show>(&mo::IdParams { id: a.id })?;
    let out = ctx.out;
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    let s = &r.summary;
    out.line(format!("Monitor:   {} ({})", s.name, s.id));
    let mut status = s.status.clone();
    if s.status == "running" {
        status.push_str(&format!(", pid {}, up {}", s.pid, s.uptime));
    } else if !s.exit.is_empty() {
        status.push_str(&format!(" ({})", s.exit));
    }
    out.line(format!("Status:    {status}"));
    out.line(format!("Command:   {}", r.argv.join(" ")));
    out.line(format!("Directory: {}", r.cwd));
    if !r.env.is_empty() {
        let env: Vec<String> = r.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.line(format!("Env:       {}", env.join(" ")));
    }
    out.line(format!("Match:     {}", s.pattern));
    out.line(format!("To:        @{}", s.to));
    out.line(format!("Debounce:  {}", r.debounce));
    out.line(format!("Matches:   {} ({} held back by the debounce)", r.match_count, r.suppressed_count));
    out.line(format!("Created:   {}", r.created_at));
    if !r.recent_matches.is_empty() {
        out.line("Recent matches:");
        for l in &r.recent_matches {
            out.line(format!("  {l}"));
        }
    }
    Ok(0)
}

fn stop(ctx: &mut Ctx, a: IdArgs) -> Result<u8> {
    let r = ctx.call::<mo::Stop>(&mo::IdParams { id: a.id.clone() })?;
    let out = ctx.out;
    if out.json {
        out.json(&r);
    } else {
        out.ok(format!("Stopped monitor {} ({}); it will not restart with the daemon.", a.id, r.id));
    }
    Ok(0)
}

fn logs(ctx: &mut Ctx, a: LogsArgs) -> Result<u8> {
    let r = ctx.call::<mo::Logs>(&mo::LogsParams { id: a.id, bytes: Some(a.bytes) })?;
    let out = ctx.out;
    if out.json {
        out.json(&r);
    } else {
        out.text(&r.logs);
    }
    Ok(0)
}

fn restart(ctx: &mut Ctx, a: IdArgs) -> Result<u8> {
    let r = ctx.call::<mo::Restart>(&mo::IdParams { id: a.id.clone() })?;
    let out = ctx.out;
    if out.json {
        out.json(&r);
    } else {
        out.ok(format!("Restarted monitor {} ({}), pid {}.", a.id, r.id, r.pid));
    }
    Ok(0)
}
