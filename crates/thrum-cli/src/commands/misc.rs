//! `thrum version`, `completion` and `migrate`.

use anyhow::{Context, Result, bail};
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use serde_json::json;

use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct RpcArgs {
    /// Method name, e.g. health or message.list.
    pub method: String,
    /// Params as a JSON object (default {}).
    pub params: Option<String>,
}

/// Calls any method as this process (the daemon identifies the caller by
/// its working directory, as for every command).
pub fn rpc(ctx: &mut Ctx, a: RpcArgs) -> Result<u8> {
    let params: serde_json::Value = match &a.params {
        Some(p) => serde_json::from_str(p).with_context(|| format!("params are not valid JSON: {p}"))?,
        None => json!({}),
    };
    let v = ctx.call_value(&a.method, params)?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(0)
}

pub fn version(ctx: &mut Ctx) -> Result<u8> {
    let out = ctx.out;
    if out.json {
        out.json(&json!({
            "version": thrum_core::VERSION,
            "protocol_version": thrum_proto::PROTOCOL_VERSION,
            "implementation": "thrum (Rust)",
        }));
    } else {
        out.line(format!("thrum v{} (protocol {})", thrum_core::VERSION, thrum_proto::PROTOCOL_VERSION));
    }
    Ok(0)
}

pub fn completion(a: CompletionArgs) -> Result<u8> {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "thrum", &mut std::io::stdout());
    Ok(0)
}

/// Moves the legacy in-repo layout (`.thrum/events.jsonl`,
/// `.thrum/messages.jsonl`, `.thrum/messages/*.jsonl`) into the sync
/// worktree. Lines already there are not duplicated; the old files stay
/// on disk as a backup. The daemon picks the events up on its next start.
pub fn migrate(ctx: &mut Ctx) -> Result<u8> {
    let out = ctx.out;
    let layout = ctx.layout()?.clone();
    let root = layout.repo_root();
    let old = &layout.thrum_dir;
    let mut sources = Vec::new();
    for f in ["events.jsonl", "messages.jsonl"] {
        if old.join(f).is_file() {
            sources.push(old.join(f));
        }
    }
    if let Ok(rd) = std::fs::read_dir(old.join("messages")) {
        let mut v: Vec<_> =
            rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "jsonl")).collect();
        v.sort();
        sources.extend(v);
    }
    if sources.is_empty() {
        if out.json {
            out.json(&json!({ "migrated": false, "files": [] }));
        } else {
            out.line("No migration needed.");
        }
        return Ok(0);
    }
    // The daemon owns the log: stop it, migrate, and let it restart on demand.
    if let Some(info) = thrum_daemon::lifecycle::read_pid_file(&layout.pid_file())
        && thrum_daemon::lifecycle::pid_alive(info.pid)
    {
        bail!("stop the daemon first (`thrum daemon stop`), then run `thrum migrate` again");
    }
    let dir = thrum_daemon::log_dir(&layout, &root);
    std::fs::create_dir_all(dir.join("messages")).with_context(|| format!("create {}", dir.display()))?;
    let mut copied = Vec::new();
    let mut moved = 0usize;
    for src in &sources {
        let text = std::fs::read_to_string(src).with_context(|| format!("read {}", src.display()))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(ev) = thrum_core::Event::parse_line(line) else {
                continue;
            };
            let shard = ev.shard(None);
            let target = dir.join(&shard);
            let existing = std::fs::read_to_string(&target).unwrap_or_default();
            let id = ev.event_id().to_string();
            if existing.lines().any(|l| thrum_core::Event::parse_line(l).map(|e| e.event_id() == id).unwrap_or(false)) {
                continue;
            }
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&target)?;
            writeln!(f, "{}", ev.to_line())?;
            f.sync_data()?;
            moved += 1;
        }
        copied.push(src.display().to_string());
    }
    if out.json {
        out.json(&json!({ "migrated": true, "files": copied, "events": moved, "sync_dir": dir }));
        return Ok(0);
    }
    out.line("Migration complete:");
    for c in &copied {
        out.line(format!("  Copied: {c} -> {}", dir.display()));
    }
    out.line(format!("  Events imported: {moved}"));
    out.line("Original files remain on disk as backup.");
    Ok(0)
}
