//! `thrum message get|edit|delete|read` and `thrum purge`.

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use thrum_proto::methods::message::{self as mm, MarkReadResult};

use crate::context::Ctx;
use crate::output;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum MessageCmd {
    /// Show one message in full (marks it read).
    Get { message_id: String },
    /// Replace a message's text (author only).
    Edit { message_id: String, text: String },
    /// Delete a message (author only; needs --force).
    Delete {
        message_id: String,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Mark messages read.
    Read(ReadArgs),
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    pub ids: Vec<String>,
    /// Mark every unread message read.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Cutoff: 2d, 24h, 2026-03-15 or RFC 3339.
    #[arg(long, conflicts_with = "all")]
    pub before: Option<String>,
    /// Everything.
    #[arg(long)]
    pub all: bool,
    /// Actually delete (otherwise only a preview).
    #[arg(long)]
    pub confirm: bool,
}

pub fn run(ctx: &mut Ctx, cmd: MessageCmd) -> Result<u8> {
    let out = ctx.out;
    match cmd {
        MessageCmd::Get { message_id } => {
            let r = ctx.call::<mm::Get>(&mm::GetParams { message_id: message_id.clone() })?;
            match ctx.me() {
                Ok(me) => {
                    let _ = ctx.call::<mm::MarkRead>(&mm::MarkReadParams {
                        message_ids: vec![message_id],
                        caller_agent_id: Some(me.name),
                    });
                }
                Err(e) if !out.quiet => out.note(format!("Warning: Could not mark as read (no identity): {e}")),
                Err(_) => {}
            }
            if out.json {
                out.json(&r);
                return Ok(0);
            }
            let m = r.message;
            out.line(format!("Message: {}", m.message_id));
            out.line(format!("  From:    @{}", m.author.agent_id));
            out.line(format!("  Time:    {} ({})", output::relative(&m.created_at), output::absolute(&m.created_at)));
            if !m.thread_id.is_empty() {
                out.line(format!("  Thread:  {}", m.thread_id));
            }
            if !m.reply_to.is_empty() {
                out.line(format!("  Reply to: {}", m.reply_to));
            }
            let scopes: Vec<String> = m.scopes.iter().map(|s| s.to_string()).collect();
            if !scopes.is_empty() {
                out.line(format!("  Scopes:  {}", scopes.join(", ")));
            }
            let refs: Vec<String> = m.refs.iter().map(|s| s.to_string()).collect();
            if !refs.is_empty() {
                out.line(format!("  Refs:    {}", refs.join(", ")));
            }
            if !m.updated_at.is_empty() {
                out.line(format!("  Edited:  {}", output::relative(&m.updated_at)));
            }
            let to: Vec<String> = m.audiences.iter().map(|a| format!("{}:{}", a.kind, a.value)).collect();
            if !to.is_empty() {
                out.line(format!("  To:      {}", to.join(", ")));
            }
            if !m.recipients.is_empty() {
                out.line("  Recipients:");
                for x in &m.recipients {
                    let st = output::receipt_state(x);
                    out.line(format!("    - @{} ({st})", x.agent_id));
                }
            }
            if m.deleted {
                out.line("  Status:  DELETED");
            }
            out.line("");
            out.line(m.body.content);
        }
        MessageCmd::Edit { message_id, text } => {
            let me = ctx.me()?;
            let r = ctx.call::<mm::Edit>(&mm::EditParams {
                message_id,
                content: Some(text),
                caller_agent_id: Some(me.name),
                ..Default::default()
            })?;
            if out.json {
                out.json(&r);
            } else {
                out.ok(format!("Message edited: {} (version {})", r.message_id, r.version));
            }
        }
        MessageCmd::Delete { message_id, force, reason } => {
            if !force {
                bail!("use --force to confirm deletion of {message_id}");
            }
            let me = ctx.me()?;
            let r = ctx.call::<mm::Delete>(&mm::DeleteParams {
                message_id,
                reason: reason.unwrap_or_default(),
                caller_agent_id: Some(me.name),
            })?;
            if out.json {
                out.json(&r);
            } else {
                out.ok(format!("Message deleted: {}", r.message_id));
            }
        }
        MessageCmd::Read(a) => {
            if a.ids.is_empty() && !a.all {
                bail!("requires at least 1 arg(s) or --all flag");
            }
            let me = ctx.me()?;
            let mut remaining = 0;
            let ids = if a.all {
                let role = me.file.as_ref().map(|f| f.agent.role.clone());
                let l = ctx.call::<mm::List>(&mm::ListParams {
                    caller_agent_id: Some(me.name.clone()),
                    for_agent: Some(me.name.clone()),
                    for_agent_role: role,
                    exclude_self: true,
                    unread: true,
                    page_size: Some(100),
                    ..Default::default()
                })?;
                remaining = (l.total - l.messages.len() as i64).max(0);
                l.messages.into_iter().map(|m| m.message_id).collect()
            } else {
                a.ids
            };
            if ids.is_empty() {
                if out.json {
                    out.json(&MarkReadResult::default());
                } else {
                    out.line("No unread messages.");
                }
                return Ok(0);
            }
            let r =
                ctx.call::<mm::MarkRead>(&mm::MarkReadParams { message_ids: ids, caller_agent_id: Some(me.name) })?;
            if out.json {
                out.json(&r);
            } else {
                let s = if r.marked_count == 1 { "" } else { "s" };
                out.ok(format!("Marked {} message{s} as read", r.marked_count));
                if remaining > 0 {
                    out.line(format!("  {remaining} unread messages remaining (run again to mark more)"));
                }
            }
        }
    }
    Ok(0)
}

pub fn purge(ctx: &mut Ctx, a: PurgeArgs) -> Result<u8> {
    let out = ctx.out;
    let now = chrono::Utc::now();
    let cutoff = match (&a.before, a.all) {
        (Some(b), false) => thrum_core::time::parse_before(b, now)
            .ok_or_else(|| anyhow!("invalid --before value: {b:?} (use 2d, 24h, 2026-03-15 or an RFC 3339 time)"))?,
        // "Everything so far": a cutoff in the future would also purge, on
        // every clone that receives the marker, messages sent after it.
        (None, true) => now,
        (None, false) => bail!("either --before or --all is required"),
        (Some(_), true) => bail!("--before and --all are mutually exclusive"),
    };
    let before = thrum_core::time::format_ts(cutoff);
    let r = ctx.call::<mm::Purge>(&mm::PurgeParams { before, confirm: a.confirm, caller_agent_id: None })?;
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    let when = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if r.confirmed {
        out.line(format!("Purged (before {when}):"));
        out.line("");
        out.line(format!("  Messages:   {:>6} deleted", r.messages));
        out.line(format!("  Sessions:   {:>6} deleted", r.sessions));
        out.line(format!("  Events:     {:>6} deleted", r.events));
        out.line(format!(
            "  Sync files: {} message files filtered, {} events file filtered",
            r.message_files, r.event_files
        ));
        out.line("");
        out.line("Done.");
        crate::hints::info(
            "purge.agents-kept",
            "agents and groups were kept; other clones apply the same cutoff when they sync",
            &[],
        );
    } else {
        out.line(format!("Purge preview (before {when}):"));
        out.line("");
        out.line(format!("  Messages:   {:>6}", r.messages));
        out.line(format!("  Sessions:   {:>6}", r.sessions));
        out.line(format!("  Events:     {:>6}", r.events));
        out.line(format!("  Sync files: {} message files, {} events file", r.message_files, r.event_files));
        out.line("");
        out.line("Run with --confirm to execute.");
    }
    Ok(0)
}
