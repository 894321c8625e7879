//! `thrum version`, `completion` and `migrate`.

use anyhow::{Context, Result};
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
    ctx.out.line(serde_json::to_string_pretty(&v)?);
    Ok(0)
}

/// The commit this binary was built from (`unknown` outside a git checkout).
pub const BUILD_HASH: &str = env!("THRUM_BUILD_HASH");
/// Where the source is published (empty when the build did not know: see
/// build.rs).
pub const REPOSITORY: &str = env!("THRUM_REPOSITORY");

/// The README of the source this binary was built from (a `cargo install
/// --path` build keeps its checkout).
const SOURCE_README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");

/// The documentation: the README is the manual, on the published
/// repository, else in the source it was built from when that is still
/// here.
fn docs_url() -> Option<String> {
    if !REPOSITORY.is_empty() {
        return Some(format!("{REPOSITORY}#readme"));
    }
    let readme = std::path::Path::new(SOURCE_README).canonicalize().ok().filter(|p| p.is_file())?;
    Some(format!("file://{}", readme.display()))
}

pub fn version(ctx: &mut Ctx) -> Result<u8> {
    let out = ctx.out;
    if out.json {
        out.json(&json!({
            "version": thrum_core::VERSION,
            "build": BUILD_HASH,
            "repository": (!REPOSITORY.is_empty()).then_some(REPOSITORY),
            "docs": docs_url(),
            "protocol_version": thrum_proto::PROTOCOL_VERSION,
            "implementation": "thrum (Rust)",
        }));
    } else {
        out.line(format!(
            "thrum v{} (build {BUILD_HASH}, protocol {})",
            thrum_core::VERSION,
            thrum_proto::PROTOCOL_VERSION
        ));
        // Nothing made up: an unknown repository is said to be unknown.
        if REPOSITORY.is_empty() {
            out.line("  Repository: unknown (built without THRUM_REPOSITORY_URL or a public origin)");
        } else {
            out.line(format!("  Repository: {REPOSITORY}"));
        }
        match docs_url() {
            Some(docs) => out.line(format!("  Docs:       {docs}")),
            None => out.line("  Docs:       README.md in the source; `thrum --help` and `thrum COMMAND --help`"),
        }
    }
    Ok(0)
}

pub fn completion(ctx: &mut Ctx, a: CompletionArgs) -> Result<u8> {
    let mut cmd = crate::Cli::command();
    // Rendered first: clap_complete panics when its writer fails.
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "thrum", &mut script);
    ctx.out.write_parts(&[&script])?;
    Ok(0)
}

/// Imports the legacy in-repo layout (`.thrum/events.jsonl`,
/// `.thrum/messages.jsonl`, `.thrum/messages/*.jsonl`) into the sync
/// worktree, then stops tracking the old files in git (they stay on disk
/// as a backup) and makes `.gitignore` ignore `.thrum/` as a whole.
pub fn migrate(ctx: &mut Ctx) -> Result<u8> {
    let out = ctx.out;
    let layout = ctx.layout()?.clone();
    let root = layout.repo_root();
    let files = crate::commands::daemon::legacy_files(&layout);
    if files.is_empty() {
        if out.json {
            out.json(&json!({ "migrated": false, "files": [] }));
        } else {
            out.line("No migration needed.");
        }
        return Ok(0);
    }
    // The daemon owns the log while it runs: stop it; the next command restarts it.
    if thrum_client::pidfile::running_pid(&layout.lock_file(), &layout.pid_file()).is_some() {
        crate::commands::daemon::stop(ctx, false).context("stop the daemon")?;
    }
    let dir = crate::commands::daemon::prepare_log_dir(&layout, &root);
    let m = crate::commands::daemon::migrate_legacy(&layout, &dir)?;
    let git = thrum_git::Git::new(&root);
    let mut untracked = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap_or(f).display().to_string();
        if git.run(&["ls-files", "--error-unmatch", &rel]).is_ok() && git.run(&["rm", "--cached", "-q", &rel]).is_ok() {
            untracked.push(rel);
        }
    }
    let gi = root.join(".gitignore");
    let text = std::fs::read_to_string(&gi).unwrap_or_default();
    let gitignore_updated = !text.lines().any(|l| l.trim() == ".thrum/");
    if gitignore_updated {
        let mut t = text.clone();
        if !t.is_empty() && !t.ends_with('\n') {
            t.push('\n');
        }
        t.push_str(".thrum/\n");
        std::fs::write(&gi, t).with_context(|| format!("write {}", gi.display()))?;
    }
    if out.json {
        out.json(&json!({ "migrated": true, "result": m, "untracked": untracked, "gitignore_updated": gitignore_updated, "sync_dir": dir }));
        return Ok(0);
    }
    out.line("Migration complete:");
    for f in &m.files {
        out.line(format!("  Copied: {f} -> {}", dir.display()));
    }
    out.line(format!(
        "  Events imported: {} ({} already present, {} unreadable lines skipped)",
        m.imported, m.skipped, m.unreadable
    ));
    for u in &untracked {
        out.line(format!("  Untracked from main: {u}"));
    }
    if gitignore_updated {
        out.line("  Updated .gitignore: .thrum/");
    }
    out.line("Original files remain on disk as backup. Commit the .gitignore change when ready.");
    Ok(0)
}
