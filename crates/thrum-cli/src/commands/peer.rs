//! `thrum peer`: pair with other thrum daemons and manage the pairs.

use std::io::Read;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use thrum_proto::methods::Empty;
use thrum_proto::methods::peer::{self as pm, PeerInfo};

use crate::context::Ctx;
use crate::output::Out;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum PeerCmd {
    /// Start a pairing: print the peercode and wait (up to 5 minutes) for the join.
    Add(AddArgs),
    /// Join a pairing with the peercode `peer add` printed on the other side.
    Join(JoinArgs),
    /// Paired peers.
    List,
    /// Paired peers in detail.
    Status,
    /// Forget a peer.
    Remove(RemoveArgs),
    /// Choose which of a peer's agents are addressable here (@prefix:agent).
    Configure(ConfigureArgs),
}

#[derive(Debug, Args)]
pub struct ConfigureArgs {
    /// The peer (see `thrum peer list`).
    pub name: String,
    /// add-agent or remove-agent.
    #[arg(value_parser = ["add-agent", "remove-agent"])]
    pub action: String,
    /// The agent's name on the peer.
    pub agent: String,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// local (another repository on this machine), network or tailscale.
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// The name the other side will know this daemon by (default: the repo name).
    #[arg(long)]
    pub name: Option<String>,
    /// The address to announce (network peers).
    #[arg(long)]
    pub address: Option<String>,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// local, network, tailscale or repair.
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// name:ip:port:code, as printed by `peer add` (or give it with --peercode, or on stdin).
    pub peercode_arg: Option<String>,
    #[arg(long)]
    pub peercode: Option<String>,
    /// For local peers: the other repository (its daemon's port is read there).
    #[arg(long)]
    pub repo_path: Option<String>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    pub name: String,
}

/// The help block for a missing --type (the original's v0.9 behaviour).
fn type_required(cmd: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "--type is required for `thrum peer {cmd}`:\n  \
         --type local       another repository on this machine (127.0.0.1 only)\n  \
         --type network     another machine on your LAN (--address IP)\n  \
         --type tailscale   another machine on your tailnet{}\n  \
         e.g. thrum peer {cmd} --type local",
        if cmd == "join" { "\n  --type repair      re-establish a broken peer from stored secrets" } else { "" }
    )
}

pub fn run(ctx: &mut Ctx, cmd: PeerCmd) -> Result<u8> {
    match cmd {
        PeerCmd::Add(a) => add(ctx, a),
        PeerCmd::Join(a) => join(ctx, a),
        PeerCmd::List => list(ctx, false),
        PeerCmd::Status => list(ctx, true),
        PeerCmd::Configure(a) => {
            let r = ctx.call::<pm::Configure>(&pm::ConfigureParams {
                name: a.name.clone(),
                action: a.action.clone(),
                agent: a.agent.clone(),
            })?;
            if ctx.out.json {
                ctx.out.json(&r);
            } else if a.action == "add-agent" {
                ctx.out.ok(format!("{} of peer {} is addressable as {}", a.agent, a.name, r.address_as));
            } else {
                ctx.out.ok(format!("{} of peer {} is no longer addressable here", a.agent, a.name));
            }
            Ok(0)
        }
        PeerCmd::Remove(a) => {
            let r = ctx.call::<pm::Remove>(&pm::NameParams { name: a.name.clone() })?;
            if ctx.out.json {
                ctx.out.json(&r);
            } else {
                ctx.out.ok(format!("Removed peer {}", a.name));
            }
            Ok(0)
        }
    }
}

fn add(ctx: &mut Ctx, a: AddArgs) -> Result<u8> {
    let kind = a.kind.ok_or_else(|| type_required("add"))?;
    let started = ctx.call::<pm::Add>(&pm::AddParams {
        kind: kind.clone(),
        name: a.name.unwrap_or_default(),
        address: a.address.unwrap_or_default(),
    })?;
    let peercode = started.peercode;
    let repo = started.repo_path;
    if !ctx.out.json {
        // The peercode must be visible at once, even when piped.
        let out = ctx.out;
        out.line("Waiting for connection...\n");
        out.line(format!("Share this with the other {}:", if kind == "local" { "repository" } else { "machine" }));
        let extra = if kind == "local" { format!(" --repo-path {repo}") } else { String::new() };
        out.line(format!("  thrum peer join --type {kind} --peercode {peercode}{extra}\n"));
        let _ = out.flush();
    }
    // The join can take minutes: a long-poll with its own generous timeout.
    let limit = started.expires_in_s;
    ctx.client()?.set_timeout(Duration::from_secs(limit + 30))?;
    let r = ctx.call::<pm::AddWait>(&pm::AddWaitParams { timeout_ms: limit * 1000 + 1000 })?;
    if r.status != "paired" {
        bail!("nobody joined within {limit} s: run `thrum peer add --type {kind}` again");
    }
    if ctx.out.json {
        ctx.out.json(&json!({ "peercode": peercode, "peer": r.peer }));
    } else {
        print_paired(ctx.out, r.peer.as_ref());
    }
    Ok(0)
}

fn join(ctx: &mut Ctx, a: JoinArgs) -> Result<u8> {
    let kind = a.kind.ok_or_else(|| type_required("join"))?;
    if kind == "repair" {
        // The argument names a paired peer; never wait on stdin for it.
        let Some(name) = a.peercode.or(a.peercode_arg).map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) else {
            bail!("name the peer to repair: thrum peer join --type repair NAME (see `thrum peer list`)");
        };
        let r = ctx.call::<pm::Repair>(&pm::NameParams { name: name.clone() })?;
        if ctx.out.json {
            ctx.out.json(&r);
        } else {
            ctx.out.ok(format!("{name} is reachable again"));
        }
        return Ok(0);
    }
    let mut code = a.peercode.or(a.peercode_arg).unwrap_or_default();
    if code.is_empty() || code == "-" {
        std::io::stdin().read_to_string(&mut code)?;
    }
    let code = code.trim().to_string();
    if code.is_empty() {
        bail!("no peercode: pass the name:ip:port:code that `thrum peer add` printed (argument, --peercode or stdin)");
    }
    let r =
        ctx.call::<pm::Join>(&pm::JoinParams { kind, peercode: code, repo_path: a.repo_path.unwrap_or_default() })?;
    if ctx.out.json {
        ctx.out.json(&r);
    } else {
        print_paired(ctx.out, r.peer.as_ref());
    }
    Ok(0)
}

/// `Paired with "name" (address).` ("?" for what the daemon did not say).
fn print_paired(out: Out, peer: Option<&PeerInfo>) {
    let (name, address) = peer.map_or(("?", "?"), |p| (p.name.as_str(), p.address.as_str()));
    out.line(format!("Paired with \"{name}\" ({address})."));
}

/// A peer-list cell: "" for a field the daemon left out.
fn cell<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_default()
}

fn list(ctx: &mut Ctx, detailed: bool) -> Result<u8> {
    let r = ctx.call::<pm::List>(&Empty {})?;
    if ctx.out.json {
        ctx.out.json(&r);
        return Ok(0);
    }
    if r.peers.is_empty() {
        ctx.out.line("No peers. Pair with: thrum peer add --type local (then peer join on the other side)");
        return Ok(0);
    }
    if let Some(ts) = &r.tailscale {
        ctx.out.line(format!("Tailscale: {}", super::sync::tailscale_line(ts)));
    }
    if detailed {
        for p in &r.peers {
            ctx.out.line(format!("{} ({})", p.name, p.transport));
            for (label, v) in [
                ("address", p.address.clone()),
                ("role", p.role.clone()),
                ("agents as", format!("@{}:NAME", p.proxy_prefix)),
                ("agents", p.remote_agents.join(", ")),
                ("paired", p.paired_at.clone()),
                ("daemon", p.remote_daemon_id.clone()),
                ("repository", p.remote_repo_path.clone()),
                ("host", p.remote_hostname.clone()),
                ("origin", p.remote_git_origin_url.clone()),
                ("status", cell(&p.status)),
                ("last error", p.last_error.clone()),
                ("last sync", p.last_sync_at.clone()),
                ("last seq", cell(&p.last_seq)),
                ("pending", cell(&p.pending)),
            ] {
                ctx.out.line(format!("  {label:<11} {}", if v.is_empty() { "—".into() } else { v }));
            }
        }
        return Ok(0);
    }
    ctx.out.line(format!(
        "{:<20} {:<10} {:<22} {:<12} {:<16} {:<9} {}",
        "NAME", "TYPE", "ADDRESS", "STATUS", "LAST SYNC", "LAST SEQ", "PENDING"
    ));
    for p in &r.peers {
        let status = cell(&p.status);
        ctx.out.line(format!(
            "{:<20} {:<10} {:<22} {:<12} {:<16} {:<9} {}",
            p.name,
            p.transport,
            p.address,
            status,
            if p.last_sync_at.is_empty() { "never".into() } else { crate::output::relative(&p.last_sync_at) },
            p.last_seq.unwrap_or(0),
            p.pending.unwrap_or(0),
        ));
        match status.as_str() {
            "token_rejected" => ctx.out.line(format!(
                "  └─ the peer refused our token — pair again: thrum peer remove {}, then peer add / peer join",
                p.name
            )),
            _ if p.reconcile_status.as_deref() == Some("drift_reconcile_failed") => ctx.out.line(format!(
                "  └─ drift detected ({}) — run: thrum peer join --type repair {}",
                p.last_error, p.name
            )),
            "unreachable" => ctx.out.line(format!(
                "  └─ unreachable: {} (retrying; messages wait; retry now: thrum peer join --type repair {})",
                p.last_error, p.name
            )),
            _ => {}
        }
    }
    Ok(0)
}
