//! `thrum send`, `reply`, `inbox`, `sent` and `wait`.

use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};
use thrum_proto::methods::agent;
use thrum_proto::methods::message::{self as mm, ListResult, SendResult};

use crate::context::Ctx;
use crate::output::{self, Out};

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The message text.
    pub message: String,
    /// Recipient: @name, @role, @group or @everyone (repeatable).
    #[arg(long)]
    pub to: Vec<String>,
    /// Send to everyone (same as --to @everyone).
    #[arg(long, short = 'b', conflicts_with = "to")]
    pub broadcast: bool,
    /// Alias of --broadcast.
    #[arg(long, hide = true)]
    pub everyone: bool,
    /// A broadcast also reaches the paired peers' addressable agents
    /// (`thrum peer configure … add-agent`); without it, it stays here.
    #[arg(long)]
    pub include_peers: bool,
    /// Mention a role or agent (repeatable).
    #[arg(long)]
    pub mention: Vec<String>,
    /// Routing scope type:value (repeatable).
    #[arg(long)]
    pub scope: Vec<String>,
    /// Reference type:value (repeatable).
    #[arg(long = "ref")]
    pub refs: Vec<String>,
    /// markdown (default), plain or json.
    #[arg(long, default_value = "markdown")]
    pub format: String,
    /// A JSON object carried with the message.
    #[arg(long)]
    pub structured: Option<String>,
    /// Send as a reply to this message.
    #[arg(long)]
    pub reply_to: Option<String>,
    /// Send into this existing thread (its `thr_…` id).
    #[arg(long, value_name = "ID")]
    pub thread: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReplyArgs {
    pub message_id: String,
    pub text: String,
    #[arg(long, default_value = "markdown")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct InboxArgs {
    /// Only messages with this scope (type:value).
    #[arg(long)]
    pub scope: Option<String>,
    /// Only messages mentioning you or your role.
    #[arg(long)]
    pub mentions: bool,
    /// Only unread messages (and do not mark them read).
    #[arg(long)]
    pub unread: bool,
    /// Only messages from this agent.
    #[arg(long)]
    pub from: Option<String>,
    /// Every message, not only those addressed to you.
    #[arg(long, short = 'a')]
    pub all: bool,
    #[command(flatten)]
    pub paging: PageArgs,
}

/// Paging flags shared by the listing commands.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// Messages per page (max 100).
    #[arg(long, default_value_t = 10)]
    pub page_size: i64,
    /// Alias of --page-size.
    #[arg(long)]
    pub limit: Option<i64>,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1)]
    pub page: i64,
}

impl PageArgs {
    /// The page size and page asked for, checked.
    pub fn checked(&self) -> Result<(i64, i64)> {
        let size = self.limit.unwrap_or(self.page_size);
        if size < 1 {
            bail!("--page-size must be at least 1");
        }
        if self.page < 1 {
            bail!("--page must be at least 1");
        }
        Ok((size.min(100), self.page))
    }
}

#[derive(Debug, Args)]
pub struct SentArgs {
    /// Only messages addressed to this agent, role or group.
    #[arg(long)]
    pub to: Option<String>,
    /// Only messages someone has not read yet.
    #[arg(long)]
    pub unread: bool,
    #[command(flatten)]
    pub paging: PageArgs,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// How long to wait: 30s, 5m, 1h (a bare number is seconds).
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    /// Only messages with this scope (type:value).
    #[arg(long)]
    pub scope: Option<String>,
    /// Only messages mentioning this role.
    #[arg(long)]
    pub mention: Option<String>,
    /// -30s: only messages sent up to 30s ago or later; +60s: only from
    /// 60s on. Without it, any message not yet read or announced to you.
    #[arg(long, allow_hyphen_values = true)]
    pub after: Option<String>,
}

fn structured(s: &Option<String>) -> Result<Option<Value>> {
    match s {
        None => Ok(None),
        Some(t) => {
            let v: Value = serde_json::from_str(t).map_err(|e| anyhow!("invalid structured data: {e}"))?;
            if !v.is_object() {
                bail!("invalid structured data: expected a JSON object, e.g. '{{\"task\": 42}}'");
            }
            Ok(Some(v))
        }
    }
}

fn print_sent(out: Out, r: &SendResult, what: &str) {
    if out.json {
        out.json(r);
        return;
    }
    out.ok(format!("{what}: {}", r.message_id));
    if !out.quiet {
        if !r.thread_id.is_empty() {
            out.line(format!("  Thread:     {}", r.thread_id));
        }
        let to: Vec<String> = r.audiences.iter().map(|a| format!("{}:{}", a.kind, a.value)).collect();
        if !to.is_empty() {
            out.line(format!("  To:         {}", to.join(", ")));
        }
        let rc: Vec<String> = r.recipients.iter().map(|x| format!("@{}", x.agent_id)).collect();
        out.line(format!("  Recipients: {}", if rc.is_empty() { "(none yet)".to_string() } else { rc.join(", ") }));
    }
    for w in &r.warnings {
        out.warn(w);
    }
}

pub fn send(ctx: &mut Ctx, a: SendArgs) -> Result<u8> {
    let out = ctx.out;
    let mut to = a.to.clone();
    if a.broadcast || a.everyone {
        to.push("everyone".into());
    }
    if to.is_empty() && a.mention.is_empty() && a.reply_to.is_none() {
        bail!(
            "no recipient: add --to @name (an agent, role or group), or --broadcast to send to everyone\n  e.g. thrum send \"{}\" --to @reviewer",
            output::truncate(&a.message, 30)
        );
    }
    if !matches!(a.format.as_str(), "markdown" | "plain" | "json") {
        bail!("invalid --format {:?}: use markdown, plain or json", a.format);
    }
    let me = ctx.me().context("failed to resolve agent identity")?;
    let mut mentions: Vec<String> = to.iter().map(|t| t.trim_start_matches('@').to_string()).collect();
    mentions.extend(a.mention.iter().map(|m| m.trim_start_matches('@').to_string()));
    let params = mm::SendParams {
        message_id: Some(thrum_core::new_id(thrum_core::IdKind::Message)),
        content: a.message,
        format: a.format,
        structured: structured(&a.structured)?,
        scopes: super::scopes(&a.scope, "scope")?,
        refs: super::scopes(&a.refs, "ref")?,
        mentions,
        reply_to: a.reply_to.unwrap_or_default(),
        thread_id: a.thread.unwrap_or_default(),
        include_peers: a.include_peers,
        caller_agent_id: Some(me.name),
        ..Default::default()
    };
    let r = ctx.call::<mm::Send>(&params)?;
    stale_recipient_hints(ctx, &r);
    print_sent(out, &r, "Message sent");
    Ok(0)
}

/// A recipient idle this long probably will not read the message soon.
const STALE_AFTER_MINUTES: i64 = 30;

/// `send.recipient-stale`: tells the sender which recipients have not
/// been seen for a while (the message is stored either way). Only for a
/// handful of named recipients, and only when hints will be shown.
fn stale_recipient_hints(ctx: &mut Ctx, r: &SendResult) {
    let out = ctx.out;
    if out.quiet || crate::hints::disabled_by_env() || r.recipients.is_empty() || r.recipients.len() > 10 {
        return;
    }
    let Ok(agents) = ctx.call::<agent::List>(&agent::ListParams::default()) else {
        return;
    };
    let now = chrono::Utc::now();
    for rcpt in &r.recipients {
        let Some(a) = agents.agents.iter().find(|a| a.agent_id == rcpt.agent_id) else { continue };
        let seen = if a.last_seen_at.is_empty() { &a.registered_at } else { &a.last_seen_at };
        let Some(t) = thrum_core::time::parse_ts(seen) else { continue };
        if (now - t).num_minutes() >= STALE_AFTER_MINUTES {
            crate::hints::info(
                "send.recipient-stale",
                format!("@{} was last active {}; the message waits in their inbox", a.agent_id, output::relative(seen)),
                &[("check", format!("thrum ping @{}", a.agent_id))],
            );
        }
    }
}

pub fn reply(ctx: &mut Ctx, a: ReplyArgs) -> Result<u8> {
    let out = ctx.out;
    let me = ctx.me().context("failed to resolve agent identity")?;
    // The daemon picks who the reply goes to (the parent's audience and
    // author), the same for every front end, and marks the parent read.
    let params = mm::ReplyParams {
        reply_to: a.message_id,
        content: a.text,
        message_id: Some(thrum_core::new_id(thrum_core::IdKind::Message)),
        format: a.format,
        caller_agent_id: Some(me.name.clone()),
        ..Default::default()
    };
    let parent = params.reply_to.clone();
    let r = ctx.call::<mm::Reply>(&params)?;
    print_sent(out, &r, "Reply sent");
    if !out.json && !out.quiet {
        out.line(format!("  In reply to: {parent}"));
    }
    Ok(0)
}

pub fn inbox(ctx: &mut Ctx, a: InboxArgs) -> Result<u8> {
    let out = ctx.out;
    let me = ctx.me().context("failed to resolve agent identity")?;
    let role = ctx.role.clone().or_else(|| me.file.as_ref().map(|f| f.agent.role.clone()));
    let (page_size, page) = a.paging.checked()?;
    let scope = match &a.scope {
        Some(s) => Some(thrum_core::Scope::parse(s, "scope").map_err(|e| anyhow!("{e}"))?),
        None => None,
    };
    let p = mm::ListParams {
        caller_agent_id: Some(me.name.clone()),
        exclude_self: true,
        page_size: Some(page_size),
        page: Some(page),
        sort_order: Some("desc".into()),
        for_agent: (!a.all).then(|| me.name.clone()),
        for_agent_role: if a.all { None } else { role.clone() },
        scope,
        mentions: a.mentions,
        caller_mention_role: if a.mentions { role.clone() } else { None },
        unread: a.unread,
        author_id: a.from.as_ref().map(|f| f.trim_start_matches('@').to_string()),
        ..Default::default()
    };
    let r = ctx.call::<mm::List>(&p)?;
    // Viewing marks read, as the original does (not with --unread, which polls).
    if !a.unread {
        let ids: Vec<String> = r.messages.iter().filter(|m| !m.is_read).map(|m| m.message_id.clone()).collect();
        if !ids.is_empty() {
            let _ = ctx
                .call::<mm::MarkRead>(&mm::MarkReadParams { message_ids: ids, caller_agent_id: Some(me.name.clone()) });
        }
    }
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    if r.messages.is_empty() {
        if a.unread {
            return Ok(0);
        }
        if let Some(s) = &a.scope {
            out.line(format!("No messages matching filter --scope {s}"));
        } else if a.all {
            out.line("No messages in inbox.");
        } else {
            out.line(format!("No messages for @{}.", me.name));
            if !out.quiet {
                out.line("  Tip: Use 'thrum inbox --all' to see all messages");
            }
        }
        return Ok(0);
    }
    render_inbox(out, &r);
    let first = (r.page - 1) * r.page_size + 1;
    let last = first + r.messages.len() as i64 - 1;
    let mut footer = format!("Showing {first}-{last} of {} messages", r.total);
    if r.unread > 0 {
        footer.push_str(&format!(" ({} unread)", r.unread));
    }
    if !a.all {
        footer.push_str(&format!(" (filtered for @{})", me.name));
    }
    out.line(footer);
    if r.total_pages > r.page {
        crate::hints::info(
            "inbox.next-page",
            format!("page {} of {}", r.page, r.total_pages),
            &[("next", format!("thrum inbox --page {}", r.page + 1))],
        );
    }
    Ok(0)
}

/// Terminal width from $COLUMNS, clamped; the box fits inside.
fn box_width() -> usize {
    let cols = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()).unwrap_or(80);
    cols.saturating_sub(2).clamp(40, 120)
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.lines() {
        let mut cur = String::new();
        for word in para.split_whitespace() {
            let wlen = word.chars().count();
            let clen = cur.chars().count();
            if clen > 0 && clen + 1 + wlen > width {
                lines.push(std::mem::take(&mut cur));
            }
            if wlen > width {
                // Hard-break very long words.
                let chars: Vec<char> = word.chars().collect();
                for chunk in chars.chunks(width) {
                    if !cur.is_empty() {
                        lines.push(std::mem::take(&mut cur));
                    }
                    cur = chunk.iter().collect();
                }
                continue;
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        lines.push(cur);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width { s.to_string() } else { format!("{s}{}", " ".repeat(width - n)) }
}

fn render_inbox(out: Out, r: &ListResult) {
    let w = box_width();
    let inner = w - 2;
    // Replies sit under their parent when both are on this page.
    let mut order: Vec<usize> = Vec::new();
    let ids: Vec<&str> = r.messages.iter().map(|m| m.message_id.as_str()).collect();
    for (i, m) in r.messages.iter().enumerate() {
        if !m.reply_to.is_empty() && ids.contains(&m.reply_to.as_str()) {
            continue;
        }
        order.push(i);
        let mut kids: Vec<usize> =
            r.messages.iter().enumerate().filter(|(_, c)| c.reply_to == m.message_id).map(|(j, _)| j).collect();
        kids.reverse();
        order.extend(kids);
    }
    out.line(format!("┌{}┐", "─".repeat(w)));
    for (n, &i) in order.iter().enumerate() {
        let m = &r.messages[i];
        let dot = if m.is_read { "○" } else { "●" };
        let is_reply = !m.reply_to.is_empty();
        let edited = if m.updated_at.is_empty() { "" } else { " (edited)" };
        let head = if is_reply {
            format!("   {dot} {}  ↳ @{}  {}{edited}", m.message_id, m.agent_id, output::relative(&m.created_at))
        } else {
            format!(" {dot} {}  @{}  {}{edited}", m.message_id, m.agent_id, output::relative(&m.created_at))
        };
        out.line(format!("│{}│", pad(&head, w)));
        let indent = if is_reply { 4 } else { 0 };
        for line in wrap(&m.body.content, inner - indent) {
            out.line(format!("│ {}{} │", " ".repeat(indent), pad(&line, inner - indent)));
        }
        if n + 1 < order.len() {
            out.line(format!("├{}┤", "─".repeat(w)));
        }
    }
    out.line(format!("└{}┘", "─".repeat(w)));
}

pub fn sent(ctx: &mut Ctx, a: SentArgs) -> Result<u8> {
    let out = ctx.out;
    let me = ctx.me().context("failed to resolve agent identity")?;
    let (page_size, page) = a.paging.checked()?;
    let r = ctx.call::<mm::Outbox>(&mm::OutboxParams {
        caller_agent_id: Some(me.name),
        to: a.to,
        unread: a.unread,
        page_size: Some(page_size),
        page: Some(page),
    })?;
    if out.json {
        out.json(&r);
        return Ok(0);
    }
    if r.messages.is_empty() {
        out.line("No sent messages.");
        return Ok(0);
    }
    for m in &r.messages {
        let to: Vec<String> = m.audiences.iter().map(|x| format!("{}:{}", x.kind, x.value)).collect();
        out.line(format!(
            "{}  {}  to {}  {}/{} read",
            m.message_id,
            output::relative(&m.created_at),
            if to.is_empty() { "-".into() } else { to.join(", ") },
            m.read_count,
            m.recipients.len()
        ));
        out.line(format!("  {}", output::truncate(&m.body.content, 100)));
        if !m.recipients.is_empty() {
            let rc: Vec<String> = m
                .recipients
                .iter()
                .map(|x| {
                    let st = output::receipt_state(x);
                    format!("@{}({st})", x.agent_id)
                })
                .collect();
            out.line(format!("  Recipients: {}", rc.join(", ")));
        }
    }
    Ok(0)
}

const ACTION: &str =
    "ACTION REQUIRED: You have unread messages. Run `thrum inbox --unread` now to read and respond to them.";

/// Exit codes: 0 a message arrived, 1 timeout, 2 error (the edge maps
/// every error of `wait` to 2).
pub fn wait(ctx: &mut Ctx, a: WaitArgs) -> Result<u8> {
    let out = ctx.out;
    let timeout = thrum_core::time::parse_duration(&a.timeout)
        .ok_or_else(|| anyhow!("invalid timeout {:?}: use a duration such as 30s, 5m or 1h", a.timeout))?;
    let now = chrono::Utc::now();
    // Without --after: any message not read and not yet announced to
    // this agent, however old (a lookback window would miss mail that
    // came just before the wait, or wake for mail already read).
    let after = match a.after.as_deref() {
        None | Some("") => None,
        Some(s) => {
            let (sign, rest) = match s.strip_prefix('-') {
                Some(r) => (-1, r),
                None => (1, s.strip_prefix('+').unwrap_or(s)),
            };
            let d = thrum_core::time::parse_duration(rest)
                .ok_or_else(|| anyhow!("invalid --after duration {s:?} (examples: -30s, -5m, +60s)"))?;
            let d = chrono::Duration::from_std(d).map_err(|e| anyhow!("--after: {e}"))?;
            Some(if sign < 0 { now - d } else { now + d })
        }
    };
    let scope = match &a.scope {
        Some(s) => Some(thrum_core::Scope::parse(s, "scope").map_err(|e| anyhow!("{e}"))?),
        None => None,
    };
    let me = ctx.me().context("failed to resolve agent identity")?;
    if out.verbose {
        match after {
            Some(t) => out.note(format!("Listening for messages after {}", thrum_core::time::format_ts(t))),
            None => out.note("Listening for messages not yet read or announced"),
        }
    }
    let client = ctx.client()?;
    client.set_timeout(timeout + Duration::from_secs(10))?;
    let p = mm::WaitParams {
        caller_agent_id: Some(me.name),
        after: after.map(thrum_core::time::format_ts),
        timeout_ms: timeout.as_millis() as u64,
        scope,
        mention_role: a.mention.map(|m| m.trim_start_matches('@').to_string()),
        channel: None,
    };
    // On this connection, with its long timeout, and never repeated: a
    // retry would wait the whole timeout again.
    let r = client.call::<mm::Wait>(&p)?;
    if r.status == "received" {
        let id = r.message.as_ref().map(|m| m.message_id.clone()).unwrap_or_default();
        if out.json {
            out.json(&json!({ "status": "received", "action": ACTION, "message_id": id }));
        } else {
            out.line(ACTION);
        }
        return Ok(0);
    }
    if out.json {
        out.json(&json!({ "status": "timeout" }));
    } else if !out.quiet {
        out.note("NO_MESSAGES_TIMEOUT — re-run thrum wait to continue listening");
    }
    Ok(1)
}
