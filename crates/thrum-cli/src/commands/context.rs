//! `thrum context save|show|load|clear|preamble|sync`: an agent's notes
//! that survive restarts and compaction, kept as Markdown in
//! `.thrum/context/{agent}.md` (and a stable `{agent}_preamble.md`).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::json;
use thrum_core::AgentName;
use thrum_proto::methods::system as ym;

use crate::context::Ctx;
use crate::output;

/// Largest context file accepted.
const MAX_CONTEXT: usize = 1024 * 1024;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ContextCmd {
    /// Save context from --file or stdin (replaces the saved context).
    Save(SaveArgs),
    /// Show the preamble and saved context.
    #[command(alias = "load")]
    Show(ShowArgs),
    /// Remove the saved context (the preamble stays).
    Clear(AgentArg),
    /// Show or set the preamble (a stable header shown before the context).
    Preamble(PreambleArgs),
    /// Copy the context to the a-sync branch so other worktrees and clones see it.
    Sync(AgentArg),
    /// Same as `thrum prime`.
    Prime,
}

#[derive(Debug, Args)]
pub struct AgentArg {
    /// Another agent (default: you).
    #[arg(long)]
    pub agent: Option<String>,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Read the context from this file instead of stdin.
    #[arg(long)]
    pub file: Option<PathBuf>,
    #[arg(long)]
    pub agent: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[arg(long)]
    pub agent: Option<String>,
    /// No header; mark where the preamble starts and ends.
    #[arg(long)]
    pub raw: bool,
    /// Leave the preamble out.
    #[arg(long)]
    pub no_preamble: bool,
}

#[derive(Debug, Args)]
pub struct PreambleArgs {
    #[arg(long)]
    pub agent: Option<String>,
    /// Create or reset the default preamble.
    #[arg(long, conflicts_with = "file")]
    pub init: bool,
    /// Set the preamble from this file.
    #[arg(long)]
    pub file: Option<PathBuf>,
}

pub(crate) const DEFAULT_PREAMBLE: &str = "## Thrum quick reference

- New messages: `thrum inbox --unread` (does not mark them read); all of them: `thrum inbox`
- Send: `thrum send \"text\" --to @agent_name` (a role like `@reviewer` reaches every agent with it; `thrum team` lists names)
- Reply in a thread: `thrum reply MSG_ID \"text\"`
- Wait for the next message: `thrum wait --timeout 5m`
- Who is doing what: `thrum team`; your own state: `thrum status`
- Keep notes for your next session: `thrum context save --file notes.md`
";

/// `quickstart --preamble-file PATH`: the default preamble, then the
/// project's own text from PATH (the original composes them the same way).
pub fn composed_preamble(path: &std::path::Path) -> Result<String> {
    let data = std::fs::read(path).map_err(|e| {
        anyhow!("cannot read --preamble-file {}: {e}: give the path of a Markdown file", path.display())
    })?;
    let text = String::from_utf8(data)
        .map_err(|_| anyhow!("--preamble-file {} is not UTF-8 text: give a Markdown file", path.display()))?;
    let composed = format!("{}\n{}", ensure_nl(DEFAULT_PREAMBLE), ensure_nl(&text));
    if composed.len() > MAX_CONTEXT {
        bail!(
            "--preamble-file {} is too large ({} bytes, max {MAX_CONTEXT}): keep it short",
            path.display(),
            text.len()
        );
    }
    Ok(composed)
}

/// `--init`: the agent's role template rendered, else the default.
fn role_or_default(ctx: &mut Ctx, name: &str) -> String {
    use thrum_proto::methods::agent as am;
    let rendered = ctx.call::<am::List>(&am::ListParams::default()).ok().and_then(|l| {
        let me = l.agents.iter().find(|a| a.agent_id == name)?;
        super::roles::preamble_for(ctx, me, &l.agents)
    });
    rendered.unwrap_or_else(|| DEFAULT_PREAMBLE.to_string())
}

fn agent(ctx: &mut Ctx, flag: Option<&str>) -> Result<String> {
    match flag {
        Some(a) => Ok(AgentName::parse(a).map_err(|e| anyhow!("invalid agent name: {e}"))?.to_string()),
        None => Ok(ctx.me()?.name),
    }
}

fn paths(ctx: &mut Ctx, agent: &str) -> Result<(PathBuf, PathBuf)> {
    let dir = ctx.layout()?.context_dir();
    Ok((dir.join(format!("{agent}.md")), dir.join(format!("{agent}_preamble.md"))))
}

fn write(path: &std::path::Path, data: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    thrum_core::fs::write_private(path, data).map_err(|e| anyhow!("{e}"))
}

fn read_input(file: Option<&PathBuf>) -> Result<Vec<u8>> {
    let data = match file {
        Some(f) => std::fs::read(f).with_context(|| format!("read {}", f.display()))?,
        None => {
            if std::io::stdin().is_terminal() {
                bail!("no context given: pipe it on stdin (echo notes | thrum context save) or pass --file PATH");
            }
            let mut buf = Vec::new();
            std::io::stdin().take(MAX_CONTEXT as u64 + 1).read_to_end(&mut buf)?;
            buf
        }
    };
    if data.len() > MAX_CONTEXT {
        bail!("context is too large ({} bytes, max {MAX_CONTEXT}): keep notes short", data.len());
    }
    if std::str::from_utf8(&data).is_err() {
        bail!("context must be UTF-8 text (Markdown)");
    }
    Ok(data)
}

#[derive(Debug, Serialize)]
struct Shown {
    agent_name: String,
    content: String,
    preamble: String,
    has_context: bool,
    has_preamble: bool,
    size: usize,
    preamble_size: usize,
    updated_at: String,
    /// Where the context came from: this worktree, or the a-sync branch.
    source: String,
}

pub fn run(ctx: &mut Ctx, cmd: ContextCmd) -> Result<u8> {
    let out = ctx.out;
    match cmd {
        ContextCmd::Save(a) => {
            let name = agent(ctx, a.agent.as_deref())?;
            let data = read_input(a.file.as_ref())?;
            let (file, _) = paths(ctx, &name)?;
            write(&file, &data)?;
            if out.json {
                out.json(&json!({ "agent_name": name, "size": data.len(), "path": file }));
            } else {
                out.ok(format!("Context saved for {name} ({} bytes)", data.len()));
            }
        }
        ContextCmd::Show(a) => {
            let name = agent(ctx, a.agent.as_deref())?;
            let (file, pre) = paths(ctx, &name)?;
            let layout = ctx.layout()?.clone();
            let shared = thrum_git::sync_branch::log_dir(&layout, &layout.repo_root())
                .join("context")
                .join(format!("{name}.md"));
            let (content, source, meta) = match std::fs::read_to_string(&file) {
                Ok(c) => (c, "worktree", std::fs::metadata(&file).ok()),
                Err(_) => match std::fs::read_to_string(&shared) {
                    Ok(c) => (c, "a-sync", std::fs::metadata(&shared).ok()),
                    Err(_) => (String::new(), "", None),
                },
            };
            let preamble =
                if a.no_preamble { String::new() } else { std::fs::read_to_string(&pre).unwrap_or_default() };
            let updated_at = meta
                .and_then(|m| m.modified().ok())
                .map(|t| thrum_core::time::format_ts(chrono::DateTime::<chrono::Utc>::from(t)))
                .unwrap_or_default();
            let shown = Shown {
                agent_name: name.clone(),
                has_context: !content.trim().is_empty(),
                has_preamble: !preamble.trim().is_empty(),
                size: content.len(),
                preamble_size: preamble.len(),
                content,
                preamble,
                updated_at,
                source: source.into(),
            };
            if out.json {
                out.json(&shown);
                return Ok(0);
            }
            if !shown.has_context && !shown.has_preamble {
                out.line(format!("No saved context for {name}."));
                if !out.quiet {
                    out.line("  Save some with: thrum context save --file notes.md (or pipe it on stdin)");
                }
                return Ok(0);
            }
            if a.raw {
                if shown.has_preamble {
                    out.line(format!("<!-- preamble: {} -->", pre.display()));
                    out.text(ensure_nl(&shown.preamble));
                    out.line("<!-- end preamble -->");
                    out.line("");
                }
                out.text(ensure_nl(&shown.content));
                return Ok(0);
            }
            let when = if shown.updated_at.is_empty() {
                String::new()
            } else {
                format!(", updated {}", output::relative(&shown.updated_at))
            };
            out.line(format!("# Context for {name} ({} bytes{when})", shown.size));
            out.line("");
            if shown.has_preamble {
                out.text(ensure_nl(&shown.preamble));
                out.line("");
            }
            out.text(ensure_nl(&shown.content));
        }
        ContextCmd::Clear(a) => {
            let name = agent(ctx, a.agent.as_deref())?;
            let (file, _) = paths(ctx, &name)?;
            let existed = file.exists();
            if existed {
                std::fs::remove_file(&file).with_context(|| format!("remove {}", file.display()))?;
            }
            if out.json {
                out.json(&json!({ "agent_name": name, "cleared": existed }));
            } else {
                out.ok(format!("Context cleared for {name}"));
            }
        }
        ContextCmd::Preamble(a) => {
            let name = agent(ctx, a.agent.as_deref())?;
            let (_, pre) = paths(ctx, &name)?;
            if a.init || a.file.is_some() {
                let data = match &a.file {
                    Some(f) => read_input(Some(f))?,
                    None => role_or_default(ctx, &name).into_bytes(),
                };
                write(&pre, &data)?;
                if out.json {
                    out.json(&json!({ "agent_name": name, "size": data.len() }));
                } else {
                    out.ok(format!("Preamble saved for {name} ({} bytes)", data.len()));
                }
            } else {
                let text = std::fs::read_to_string(&pre).unwrap_or_default();
                if out.json {
                    out.json(&json!({ "agent_name": name, "content": text, "has_preamble": !text.trim().is_empty() }));
                } else if text.trim().is_empty() {
                    out.line(format!("No preamble for {name}. Create one with: thrum context preamble --init"));
                } else {
                    out.text(ensure_nl(&text));
                }
            }
        }
        ContextCmd::Prime => return super::prime::run(ctx),
        ContextCmd::Sync(a) => {
            let name = agent(ctx, a.agent.as_deref())?;
            let (file, _) = paths(ctx, &name)?;
            let data = std::fs::read(&file)
                .map_err(|_| anyhow!("no saved context for {name} to sync: save it first with `thrum context save`"))?;
            let layout = ctx.layout()?.clone();
            let target = thrum_git::sync_branch::log_dir(&layout, &layout.repo_root())
                .join("context")
                .join(format!("{name}.md"));
            write(&target, &data)?;
            ctx.client()?.set_timeout(std::time::Duration::from_secs(300))?;
            let st = ctx.call::<ym::SyncForce>(&ym::SyncForceParams { wait: true })?;
            if out.json {
                out.json(&json!({ "agent_name": name, "size": data.len(), "sync": st }));
                return Ok(0);
            }
            out.ok(format!("Context for {name} copied to the a-sync branch ({} bytes)", data.len()));
            if st.status.mode == "local-only" {
                out.line("  Local-only mode: committed here, not pushed.");
            } else if !st.status.last_error.is_empty() {
                out.warn(format!("sync: {}", st.status.last_error));
            }
        }
    }
    Ok(0)
}

fn ensure_nl(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') { s.to_string() } else { format!("{s}\n") }
}
