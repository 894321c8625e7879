//! `thrum peer`: pair with other thrum daemons and manage the pairs.

use std::io::Read;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::context::Ctx;

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
            let r =
                ctx.call_value("peer.configure", json!({ "name": a.name, "action": a.action, "agent": a.agent }))?;
            if ctx.out.json {
                ctx.out.json(&r);
            } else if a.action == "add-agent" {
                ctx.out.ok(format!(
                    "{} of peer {} is addressable as {}",
                    a.agent,
                    a.name,
                    r["address_as"].as_str().unwrap_or("")
                ));
            } else {
                ctx.out.ok(format!("{} of peer {} is no longer addressable here", a.agent, a.name));
            }
            Ok(0)
        }
        PeerCmd::Remove(a) => {
            let r = ctx.call_value("peer.remove", json!({ "name": a.name }))?;
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
    let started = ctx.call_value(
        "peer.add",
        json!({ "type": kind, "name": a.name.unwrap_or_default(), "address": a.address.unwrap_or_default() }),
    )?;
    let peercode = started["peercode"].as_str().unwrap_or_default().to_string();
    let repo = started["repo_path"].as_str().unwrap_or_default().to_string();
    if !ctx.out.json {
        // The peercode must be visible at once, even when piped.
        println!("Waiting for connection...\n");
        println!("Share this with the other {}:", if kind == "local" { "repository" } else { "machine" });
        let extra = if kind == "local" { format!(" --repo-path {repo}") } else { String::new() };
        println!("  thrum peer join --type {kind} --peercode {peercode}{extra}\n");
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
    // The join can take minutes: a long-poll with its own generous timeout.
    let limit = started["expires_in_s"].as_u64().unwrap_or(300);
    ctx.client()?.set_timeout(Duration::from_secs(limit + 30))?;
    let r = ctx.call_value("peer.add.wait", json!({ "timeout_ms": limit * 1000 + 1000 }))?;
    if r["status"] != "paired" {
        bail!("nobody joined within {limit} s: run `thrum peer add --type {kind}` again");
    }
    let peer = &r["peer"];
    if ctx.out.json {
        ctx.out.json(&json!({ "peercode": peercode, "peer": peer }));
    } else {
        println!(
            "Paired with \"{}\" ({}).",
            peer["name"].as_str().unwrap_or("?"),
            peer["address"].as_str().unwrap_or("?")
        );
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
        let r = ctx.call_value("peer.repair", json!({ "name": name }))?;
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
    let r = ctx.call_value(
        "peer.join",
        json!({ "type": kind, "peercode": code, "repo_path": a.repo_path.unwrap_or_default() }),
    )?;
    let peer = &r["peer"];
    if ctx.out.json {
        ctx.out.json(&r);
    } else {
        println!(
            "Paired with \"{}\" ({}).",
            peer["name"].as_str().unwrap_or("?"),
            peer["address"].as_str().unwrap_or("?")
        );
    }
    Ok(0)
}

fn list(ctx: &mut Ctx, detailed: bool) -> Result<u8> {
    let r = ctx.call_value("peer.list", json!({}))?;
    let peers = r["peers"].as_array().cloned().unwrap_or_default();
    if ctx.out.json {
        ctx.out.json(&r);
        return Ok(0);
    }
    if peers.is_empty() {
        ctx.out.line("No peers. Pair with: thrum peer add --type local (then peer join on the other side)");
        return Ok(0);
    }
    if let Some(ts) = r.get("tailscale") {
        ctx.out.line(format!("Tailscale: {}", super::sync::tailscale_line(ts)));
    }
    let s = |v: &Value, k: &str| match &v[k] {
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
        Value::Number(n) => n.to_string(),
        other => other.as_str().unwrap_or("").to_string(),
    };
    if detailed {
        for p in &peers {
            ctx.out.line(format!("{} ({})", s(p, "name"), s(p, "transport")));
            for (label, key) in [
                ("address", "address"),
                ("role", "role"),
                ("agents as", "proxy_prefix"),
                ("agents", "remote_agents"),
                ("paired", "paired_at"),
                ("daemon", "remote_daemon_id"),
                ("repository", "remote_repo_path"),
                ("host", "remote_hostname"),
                ("origin", "remote_git_origin_url"),
                ("status", "status"),
                ("last error", "last_error"),
                ("last sync", "last_sync_at"),
                ("last seq", "last_seq"),
                ("pending", "pending"),
            ] {
                let v = s(p, key);
                let v = if key == "proxy_prefix" { format!("@{v}:NAME") } else { v };
                ctx.out.line(format!("  {label:<11} {}", if v.is_empty() { "—".into() } else { v }));
            }
        }
        return Ok(0);
    }
    ctx.out.line(format!(
        "{:<20} {:<10} {:<22} {:<12} {:<16} {:<9} {}",
        "NAME", "TYPE", "ADDRESS", "STATUS", "LAST SYNC", "LAST SEQ", "PENDING"
    ));
    for p in &peers {
        let last = s(p, "last_sync_at");
        ctx.out.line(format!(
            "{:<20} {:<10} {:<22} {:<12} {:<16} {:<9} {}",
            s(p, "name"),
            s(p, "transport"),
            s(p, "address"),
            s(p, "status"),
            if last.is_empty() { "never".into() } else { crate::output::relative(&last) },
            p["last_seq"].as_i64().unwrap_or(0),
            p["pending"].as_i64().unwrap_or(0),
        ));
        match s(p, "status").as_str() {
            "token_rejected" => ctx.out.line(format!(
                "  └─ the peer refused our token — pair again: thrum peer remove {}, then peer add / peer join",
                s(p, "name")
            )),
            _ if s(p, "reconcile_status") == "drift_reconcile_failed" => ctx.out.line(format!(
                "  └─ drift detected ({}) — run: thrum peer join --type repair {}",
                s(p, "last_error"),
                s(p, "name")
            )),
            "unreachable" => ctx.out.line(format!(
                "  └─ unreachable: {} (retrying; messages wait; retry now: thrum peer join --type repair {})",
                s(p, "last_error"),
                s(p, "name")
            )),
            _ => {}
        }
    }
    Ok(0)
}
