//! `thrum setup claude-md|agents-md|gemini-md [--apply] [--force]`: a
//! short thrum block in a runtime's instruction file, kept between
//! markers so it can be replaced without touching anything else.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use clap::Args;
use serde_json::json;

use crate::context::Ctx;

pub const BEGIN: &str = "<!-- thrum:begin (managed by `thrum setup claude-md`; replaced on --force) -->";
pub const END: &str = "<!-- thrum:end -->";
const BLOCK: &str = include_str!("../templates/agent_block.md");

#[derive(Debug, Args)]
pub struct AgentDocArgs {
    /// Write the block into the file (created if missing, appended
    /// otherwise); without it the block is only printed.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: replace a thrum block that differs from this one.
    #[arg(long)]
    pub force: bool,
    /// Another instruction file instead (e.g. .github/copilot-instructions.md).
    #[arg(long)]
    pub file: Option<PathBuf>,
}

/// The block with its markers.
pub fn block() -> String {
    format!("{BEGIN}\n{}{END}\n", BLOCK)
}

/// Whether `text` holds a thrum block (from any version).
pub fn has_block(text: &str) -> bool {
    text.contains("<!-- thrum:begin") && text.contains(END)
}

/// What applying the block to a file's text gives.
#[derive(Debug, PartialEq)]
pub enum Change {
    /// The file gets this text.
    Write(String),
    /// The file already holds this very block.
    Current,
    /// A different block is there and --force was not given.
    Differs,
}

pub fn change(existing: Option<&str>, force: bool) -> Change {
    let block = block();
    let Some(text) = existing else { return Change::Write(block) };
    let Some(start) = text.find("<!-- thrum:begin") else {
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&block);
        return Change::Write(out);
    };
    let end = match text[start..].find(END) {
        Some(e) => start + e + END.len(),
        // A begin marker without its end: replace to the end of the file.
        None => text.len(),
    };
    let end = if text[end..].starts_with('\n') { end + 1 } else { end };
    if text[start..end] == block {
        return Change::Current;
    }
    if !force {
        return Change::Differs;
    }
    Change::Write(format!("{}{block}{}", &text[..start], &text[end..]))
}

/// Applies the block to the file at `path`: returns the new text (if
/// any) and `created`, `appended`, `replaced` or `current`. With
/// `dry_run` nothing is written.
pub fn apply_to(path: &Path, force: bool, dry_run: bool) -> Result<(Option<String>, &'static str)> {
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => bail!("cannot read {}: {e}", path.display()),
    };
    let change = change(existing.as_deref(), force);
    let status = match (&change, &existing) {
        (Change::Current, _) => return Ok((None, "current")),
        (Change::Differs, _) => bail!(
            "{} already has a different thrum block: pass --force to replace it (nothing else in the file changes)",
            path.display()
        ),
        (Change::Write(_), None) => "created",
        (Change::Write(_), Some(t)) if has_block(t) => "replaced",
        (Change::Write(_), Some(_)) => "appended",
    };
    let Change::Write(mut text) = change else { return Ok((None, status)) };
    // Cursor reads rules from .mdc files that start with front matter.
    if existing.is_none() && path.extension().is_some_and(|e| e == "mdc") {
        text =
            format!("---\ndescription: How to message the other coding agents (thrum)\nalwaysApply: true\n---\n{text}");
    }
    if !dry_run {
        write_atomic(path, &text)?;
    }
    Ok((Some(text), status))
}

/// Creates the folder, then replaces the file atomically
/// ([`thrum_core::fs::write_file`]): it is never seen half-written.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    thrum_core::fs::write_file(path, text.as_bytes()).map_err(|e| anyhow!("cannot write {e}"))
}

/// The Claude Code skill installed by `thrum init --skills`.
pub fn skill_file() -> String {
    format!(
        "---\nname: thrum\ndescription: Message the other coding agents working on this repository, see who is editing which file, and keep notes across sessions, with the thrum CLI.\n---\n\n{BLOCK}"
    )
}

/// The instruction file in the current worktree's root.
fn worktree_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    crate::context::worktree_root(&cwd).unwrap_or(cwd)
}

pub fn run(ctx: &mut Ctx, default_file: &str, a: AgentDocArgs) -> Result<u8> {
    let out = ctx.out;
    let path = match &a.file {
        Some(f) if f.is_absolute() => f.clone(),
        Some(f) => std::env::current_dir()?.join(f),
        None => worktree_root().join(default_file),
    };
    if !a.apply {
        if a.force {
            bail!("--force only makes sense with --apply");
        }
        if out.json {
            out.json(&json!({ "file": path, "block": block(), "applied": false }));
        } else {
            out.text(block());
        }
        return Ok(0);
    }
    let (_, status) = apply_to(&path, a.force, false)?;
    let shown = path.display();
    if out.json {
        out.json(&json!({ "file": path, "status": status, "applied": true }));
    } else {
        match status {
            "current" => out.ok(format!("{shown} already has the current thrum block")),
            "created" => out.ok(format!("Created {shown} with the thrum block")),
            "replaced" => out.ok(format!("Replaced the thrum block in {shown}")),
            _ => out.ok(format!("Appended the thrum block to {shown}")),
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_once_replaces_on_force_and_keeps_the_rest() {
        let mine = "# My project\n\nUse tabs.\n";
        let Change::Write(once) = change(Some(mine), false) else { panic!() };
        assert!(once.starts_with(mine) && once.ends_with(&block()));
        assert_eq!(change(Some(&once), false), Change::Current);
        assert_eq!(change(Some(&once), true), Change::Current);
        let old = once.replace("Answer in the thread", "Reply");
        assert_eq!(change(Some(&old), false), Change::Differs);
        let Change::Write(fixed) = change(Some(&format!("{old}\n## After\n")), true) else { panic!() };
        assert_eq!(fixed, format!("{once}\n## After\n"));
        assert_eq!(change(None, false), Change::Write(block()));
    }
}
