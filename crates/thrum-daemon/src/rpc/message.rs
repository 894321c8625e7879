//! `message.*` handlers: send, read, edit, delete, receipts, wait, purge.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use thrum_core::delivery::Channel;
use thrum_core::event::{
    AgentMessagesDeleted, MessageBody, MessageCreate, MessageDelete, MessageEdit, MessageReceipt, PurgeExecuted,
};
use thrum_core::views::{Audience, Recipient};
use thrum_core::{Event, IdKind, Scope, new_id};
use thrum_proto::methods::message::{
    DeleteByAgentParams, DeleteByScopeParams, DeleteCountResult, DeleteParams, DeleteResult, EditParams, EditResult,
    GetParams, GetResult, ListParams, ListResult, MAX_CONTENT, MarkReadParams, MarkReadResult, OutboxParams,
    PurgeParams, PurgeResult, ReplyParams, SendParams, SendResult, WaitParams, WaitResult,
};
use thrum_store::query::{self, ListQuery};

use crate::caller::Caller;
use crate::error::{HResult, bad_params, server};
use crate::state::State;

fn check_format(f: &str) -> HResult<String> {
    match f {
        "" => Ok("markdown".into()),
        "markdown" | "plain" | "json" => Ok(f.into()),
        other => Err(server(format!("invalid format: {other} (must be 'markdown', 'plain', or 'json')"))),
    }
}

fn check_scopes(list: &[Scope], what: &str) -> HResult<()> {
    if list.len() > 64 {
        return Err(bad_params(format!("too many {what}s (max 64)")));
    }
    for s in list {
        if s.kind.is_empty() || s.value.is_empty() || s.kind.len() + s.value.len() > 256 {
            return Err(bad_params(format!(
                "invalid {what} {s}: expected type:value, each part non-empty, under 256 bytes"
            )));
        }
    }
    Ok(())
}

fn structured_string(v: &Option<Value>) -> HResult<String> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => {
            // Accept an already-encoded JSON string, but only if it is JSON.
            serde_json::from_str::<Value>(s).map_err(|e| bad_params(format!("invalid structured data: {e}")))?;
            Ok(s.clone())
        }
        Some(other) => Ok(other.to_string()),
    }
}

/// The caller's newest active session.
fn active_session_id(c: &thrum_store::Db, agent: &str) -> HResult<String> {
    query::active_session(c, agent)?.map(|s| s.session_id).ok_or_else(|| {
        server(format!(
            "no active session found for agent {agent} (you must start a session first: `thrum session start`)"
        ))
    })
}

/// Who a message goes to: the scopes and refs it gains, its audiences and
/// the agents it reaches. Read-only, so it runs on a reader connection
/// before the write (an agent registered in between is simply not counted).
struct Resolved {
    scopes: Vec<Scope>,
    refs: Vec<Scope>,
    audiences: Vec<Audience>,
    recipients: BTreeSet<String>,
    warnings: Vec<String>,
    resolved: i64,
}

fn resolve_audience(
    c: &thrum_store::Db,
    targets: &[String],
    author: &str,
    scopes: &[Scope],
    refs: &[Scope],
    peers: &[crate::peers::Peer],
    include_peers: bool,
) -> HResult<Resolved> {
    // A broadcast reaches the peers' addressable agents only when asked.
    let peer_agents = || -> Vec<String> {
        if !include_peers {
            return Vec::new();
        }
        peers.iter().flat_map(|p| p.remote_agents.iter().map(move |a| format!("{}:{a}", p.proxy_prefix))).collect()
    };
    let mut scopes = scopes.to_vec();
    let mut refs = refs.to_vec();
    let mut audiences: Vec<Audience> = Vec::new();
    let mut recipients: BTreeSet<String> = BTreeSet::new();
    let mut warnings = Vec::new();
    let mut unknown = Vec::new();
    let mut resolved = 0i64;
    let push_unique = |v: &mut Vec<Scope>, s: Scope| {
        if !v.contains(&s) {
            v.push(s);
        }
    };
    for t in targets {
        if let Some((prefix, name)) = thrum_store::projection::feed::split_proxy(t) {
            // `prefix:name`: agent `name` on the peer we call `prefix`.
            let Some(peer) = peers.iter().find(|p| p.proxy_prefix == prefix) else {
                return Err(server(format!(
                    "unknown recipient: @{t} — no paired peer uses the prefix {prefix:?} (see `thrum peer list`)"
                )));
            };
            // Configured proxies, and anyone of that peer who wrote to us
            // (so a reply always finds its way back).
            let known = peer.remote_agents.iter().any(|a| a == name) || query::has_messages_from(c, t)?;
            if !known {
                return Err(server(format!(
                    "unknown recipient: @{t} — make it addressable with `thrum peer configure {} add-agent {name}`",
                    peer.name
                )));
            }
            push_unique(&mut refs, Scope::new("mention", t.as_str()));
            audiences.push(Audience { kind: "agent".into(), value: t.clone() });
            recipients.insert(t.clone());
            resolved += 1;
            continue;
        }
        if t == "everyone" || t == "all" || t == "broadcast" {
            push_unique(&mut scopes, Scope::new("broadcast", "everyone"));
            push_unique(&mut refs, Scope::new("broadcast", "everyone"));
            audiences.push(Audience { kind: "broadcast".into(), value: "everyone".into() });
            for a in query::agents(c, None, None)? {
                recipients.insert(a.agent_id);
            }
            recipients.extend(peer_agents());
            resolved += 1;
            continue;
        }
        if query::group_by_name(c, t)?.is_some() {
            push_unique(&mut scopes, Scope::new("group", t.as_str()));
            push_unique(&mut refs, Scope::new("group", t.as_str()));
            audiences.push(Audience { kind: "group".into(), value: t.clone() });
            recipients.extend(query::expand_group(c, t)?);
            warnings.push(format!("@{t} resolved to a group, not an individual agent"));
            resolved += 1;
            continue;
        }
        let matches = query::agents_named_or_role(c, t)?;
        if matches.is_empty() {
            unknown.push(format!("@{t}"));
            continue;
        }
        push_unique(&mut refs, Scope::new("mention", t.as_str()));
        let kind = if matches.len() == 1 && matches[0].agent_id == *t { "agent" } else { "role" };
        audiences.push(Audience { kind: kind.into(), value: t.clone() });
        recipients.extend(matches.into_iter().map(|a| a.agent_id));
        resolved += 1;
    }
    if !unknown.is_empty() {
        return Err(server(format!(
            "unknown recipient: {} — send to agents directly with --to @agent_name (see `thrum agent list`)",
            unknown.join(", ")
        )));
    }
    if targets.is_empty() {
        audiences.push(Audience { kind: "broadcast".into(), value: "everyone".into() });
        for a in query::agents(c, None, None)? {
            recipients.insert(a.agent_id);
        }
        recipients.extend(peer_agents());
    }
    recipients.remove(author);
    Ok(Resolved { scopes, refs, audiences, recipients, warnings, resolved })
}

pub async fn send(state: &State, caller: &Caller, p: SendParams) -> HResult<SendResult> {
    let author = caller.resolve(p.caller_agent_id.as_deref())?;
    // The daemon's own pseudo-agents (`system`) have no session.
    let sessionless = matches!(caller, Caller::Daemon);
    if p.content.is_empty() {
        return Err(server("content is required"));
    }
    if p.content.len() > MAX_CONTENT {
        return Err(bad_params(format!("content is too long ({} bytes, max {MAX_CONTENT})", p.content.len())));
    }
    let format = check_format(&p.format)?;
    let structured = structured_string(&p.structured)?;
    check_scopes(&p.scopes, "scope")?;
    check_scopes(&p.refs, "ref")?;
    if let Some(id) = &p.message_id
        && !thrum_core::ids::is_valid(IdKind::Message, id)
    {
        return Err(bad_params(format!("invalid message_id {id:?}: expected msg_ followed by a ULID")));
    }
    let mut targets: Vec<String> = Vec::new();
    for t in p.to.iter().chain(p.mentions.iter()) {
        let t = t.trim().trim_start_matches('@').to_string();
        if t.is_empty() {
            return Err(bad_params("empty recipient: use --to @name"));
        }
        if t.len() > 128 {
            return Err(bad_params("recipient name too long"));
        }
        if !targets.contains(&t) {
            targets.push(t);
        }
    }
    let peers = state.peers.all();
    let mut audience =
        state.read(|r| resolve_audience(r, &targets, &author, &p.scopes, &p.refs, &peers, p.include_peers))?;
    // Say so when a peer the message goes to is down: it waits in the
    // queue (`thrum peer list` shows it pending) until the peer is back.
    for peer in &peers {
        let prefix = format!("{}:", peer.proxy_prefix);
        if audience.recipients.iter().any(|r| r.starts_with(&prefix))
            && let Some(link) = state.links.status(&peer.name)
            && matches!(link.state.as_str(), "unreachable" | "token_rejected")
        {
            let why = if link.state == "token_rejected" { "refusing our token (pair again)" } else { "unreachable" };
            audience
                .warnings
                .push(format!("peer {} is {why}: the message is queued and goes out when it is back", peer.name));
        }
    }
    state
        .writer
        .submit(move |c| {
            // A cheap look first: almost every send carries a fresh id.
            if let Some(id) = &p.message_id
                && query::message_head(c, id)?.is_some()
                && let Some(existing) = query::message_detail(c, id)?
            {
                // A retry of a send that already went through.
                if existing.author.agent_id != author {
                    return Err(server(format!("message_id {id} is already used by another message")));
                }
                let r = SendResult {
                    message_id: existing.message_id,
                    thread_id: existing.thread_id,
                    created_at: existing.created_at,
                    resolved_to: existing.audiences.len() as i64,
                    warnings: Vec::new(),
                    audiences: existing.audiences,
                    recipients: existing.recipients,
                };
                return Ok((Vec::new(), r));
            }
            let session_id = if sessionless { String::new() } else { active_session_id(c, &author)? };
            let Resolved { scopes, mut refs, audiences, recipients, warnings, resolved } = audience;
            let push_unique = |v: &mut Vec<Scope>, s: Scope| {
                if !v.contains(&s) {
                    v.push(s);
                }
            };
            let mut thread_id = String::new();
            if !p.reply_to.is_empty() {
                let parent_thread = query::message_head(c, &p.reply_to)?
                    .map(|h| h.thread_id)
                    .ok_or_else(|| server(format!("reply_to message not found: {}", p.reply_to)))?;
                thread_id = if parent_thread.is_empty() { new_id(IdKind::Thread) } else { parent_thread };
                push_unique(&mut refs, Scope::new("reply_to", p.reply_to.as_str()));
            }
            if !p.thread_id.is_empty() && p.thread_id != thread_id {
                if !p.reply_to.is_empty() {
                    return Err(bad_params(format!(
                        "{} is not in thread {}: drop --thread (a reply joins its parent's thread)",
                        p.reply_to, p.thread_id
                    )));
                }
                // Only a thread that exists: a typo would start a thread nobody sees.
                if !query::thread_exists(c, &p.thread_id)? {
                    return Err(server(format!(
                        "thread not found: {} — use a thread id shown by `thrum send`, `thrum reply` or `thrum inbox --json`",
                        p.thread_id
                    )));
                }
                thread_id = p.thread_id.clone();
            }
            let message_id = p.message_id.clone().unwrap_or_else(|| new_id(IdKind::Message));
            let ev = Event::new(
                "message.create",
                &MessageCreate {
                    message_id: message_id.clone(),
                    thread_id: thread_id.clone(),
                    agent_id: author.clone(),
                    session_id,
                    body: MessageBody { format, content: p.content.clone(), structured },
                    scopes,
                    refs,
                    recipients: recipients.iter().cloned().collect(),
                    ..Default::default()
                },
            );
            let created_at = ev.timestamp().to_string();
            let r = SendResult {
                message_id,
                thread_id,
                created_at: created_at.clone(),
                resolved_to: resolved,
                warnings,
                audiences,
                recipients: recipients
                    .into_iter()
                    .map(|agent_id| Recipient { agent_id, delivered_at: created_at.clone(), ..Default::default() })
                    .collect(),
            };
            Ok((vec![ev], r))
        })
        .await
}

/// `message.reply`: a send to the reply audience the core rule computes
/// from the parent, then the parent marked read for the replier.
pub async fn reply(state: &State, caller: &Caller, p: ReplyParams) -> HResult<SendResult> {
    if p.reply_to.is_empty() {
        return Err(bad_params("reply_to is required: the id of the message you reply to"));
    }
    let me = caller.resolve(p.caller_agent_id.as_deref())?;
    let parent = state
        .read(|r| Ok(query::message_detail(r, &p.reply_to)?))?
        .ok_or_else(|| server(format!("message not found: {}", p.reply_to)))?;
    let mentions = thrum_core::rules::reply_audience(&parent, &me, &p.mentions);
    let sent = send(
        state,
        caller,
        SendParams {
            content: p.content,
            message_id: p.message_id,
            format: p.format,
            reply_to: p.reply_to.clone(),
            mentions,
            caller_agent_id: Some(me.clone()),
            ..Default::default()
        },
    )
    .await?;
    // Replying means you read it; a failure here does not undo the reply.
    let read = MarkReadParams { message_ids: vec![p.reply_to], caller_agent_id: Some(me) };
    if let Err(e) = mark_read(state, caller, read).await {
        tracing::debug!(error = %e.0, "marking a replied-to message read failed");
    }
    Ok(sent)
}

pub async fn get(state: &State, _: &Caller, p: GetParams) -> HResult<GetResult> {
    if p.message_id.is_empty() {
        return Err(server("message_id is required"));
    }
    let m = state
        .read(|r| Ok(query::message_detail(r, &p.message_id)?))?
        .ok_or_else(|| server(format!("message not found: {}", p.message_id)))?;
    Ok(GetResult { message: m })
}

/// Turns `message.list` params into a query, resolving "the caller".
pub(super) fn list_query(state: &State, caller: &Caller, p: &ListParams) -> HResult<ListQuery> {
    let sort_by_updated = match p.sort_by.as_deref() {
        None | Some("") | Some("created_at") => false,
        Some("updated_at") => true,
        Some(o) => {
            return Err(server(format!("invalid sort_by: {o} (must be 'created_at' or 'updated_at')")));
        }
    };
    let ascending = match p.sort_order.as_deref() {
        None | Some("") | Some("desc") => false,
        Some("asc") => true,
        Some(o) => {
            return Err(server(format!("invalid sort_order: {o} (must be 'asc' or 'desc')")));
        }
    };
    let needs_me = p.exclude_self || p.unread || p.mentions;
    let me = match (&p.caller_agent_id, needs_me) {
        (Some(c), _) if !c.is_empty() => Some(c.trim_start_matches('@').to_string()),
        (_, true) => caller.resolve(None).ok(),
        _ => None,
    };
    let mut mention_role = p.mention_role.clone().filter(|s| !s.is_empty());
    if mention_role.is_none() && p.mentions {
        mention_role = p.caller_mention_role.clone().filter(|s| !s.is_empty());
        if mention_role.is_none()
            && let Some(me) = &me
        {
            mention_role = state.read(|r| Ok(query::agent(r, me)?))?.map(|a| a.role);
        }
    }
    let unread_for = p.unread_for_agent.clone().filter(|s| !s.is_empty()).or(if p.unread { me.clone() } else { None });
    let for_agent = p.for_agent.clone().filter(|s| !s.is_empty()).map(|s| s.trim_start_matches('@').to_string());
    let mut created_after = p.created_after.clone().filter(|s| !s.is_empty());
    let mut for_agent_role = p.for_agent_role.clone().filter(|s| !s.is_empty());
    if let Some(fa) = &for_agent
        && let Some(a) = state.read(|r| Ok(query::agent(r, fa)?))?
    {
        if for_agent_role.is_none() {
            for_agent_role = Some(a.role.clone());
        }
        // An agent's inbox starts when it registered.
        if created_after.as_deref().is_none_or(|c| c < a.registered_at.as_str()) {
            created_after = Some(a.registered_at);
        }
    }
    Ok(ListQuery {
        scope: p.scope.clone(),
        reference: p.reference.clone(),
        thread_id: p.thread_id.clone().filter(|s| !s.is_empty()),
        author_id: p.author_id.clone().filter(|s| !s.is_empty()).map(|s| s.trim_start_matches('@').to_string()),
        for_agent,
        for_agent_role,
        mention_role,
        unread_for,
        unannounced: false,
        exclude_author: if p.exclude_self { me.clone() } else { None },
        reader: me.or_else(|| p.for_agent.clone()),
        created_after,
        include_deleted: false,
        no_counts: false,
        with_audience: p.include_audience,
        scan_recent: false,
        page: p.page.unwrap_or(1),
        page_size: p.page_size.unwrap_or(10),
        sort_by_updated,
        ascending,
    })
}

pub async fn list(state: &State, caller: &Caller, p: ListParams) -> HResult<ListResult> {
    let q = list_query(state, caller, &p)?;
    let page = state.read(|r| Ok(query::list_messages(r, &q)?))?;
    Ok(ListResult {
        messages: page.messages,
        total: page.total,
        unread: page.unread,
        page: page.page,
        page_size: page.page_size,
        total_pages: page.total_pages,
    })
}

pub async fn outbox(state: &State, caller: &Caller, p: OutboxParams) -> HResult<ListResult> {
    let me = match &p.caller_agent_id {
        Some(c) if !c.is_empty() => c.clone(),
        _ => caller.resolve(None).map_err(|_| server("caller_agent_id is required"))?,
    };
    let to = p.to.as_deref().map(|t| t.trim_start_matches('@').to_lowercase()).filter(|t| !t.is_empty());
    let page = state.read(|r| {
        Ok(query::outbox(r, &me, to.as_deref(), p.unread, p.page.unwrap_or(1), p.page_size.unwrap_or(10))?)
    })?;
    Ok(ListResult {
        messages: page.messages,
        total: page.total,
        unread: 0,
        page: page.page,
        page_size: page.page_size,
        total_pages: page.total_pages,
    })
}

pub async fn edit(state: &State, caller: &Caller, p: EditParams) -> HResult<EditResult> {
    if p.message_id.is_empty() {
        return Err(server("message_id is required"));
    }
    if p.content.is_none() && p.structured.is_none() {
        return Err(server("at least one of content or structured must be provided"));
    }
    if p.content.as_ref().is_some_and(|c| c.len() > MAX_CONTENT) {
        return Err(bad_params(format!("content is too long (max {MAX_CONTENT} bytes)")));
    }
    let me = caller.resolve(p.caller_agent_id.as_deref())?;
    let structured = structured_string(&p.structured)?;
    state
        .writer
        .submit(move |c| {
            let d = query::message_detail(c, &p.message_id)?
                .ok_or_else(|| server(format!("message not found: {}", p.message_id)))?;
            if d.deleted {
                return Err(server("cannot edit deleted message"));
            }
            if d.author.agent_id != me {
                return Err(server(format!(
                    "only message author can edit (author: {}, current: {me})",
                    d.author.agent_id
                )));
            }
            active_session_id(c, &me)?;
            let body = MessageBody {
                format: "markdown".into(),
                content: p.content.clone().unwrap_or(d.body.content),
                structured: if p.structured.is_some() { structured } else { d.body.structured },
            };
            let ev = Event::new(
                "message.edit",
                &MessageEdit { message_id: p.message_id.clone(), body, ..Default::default() },
            );
            let updated_at = ev.timestamp().to_string();
            let version = query::edit_count(c, &p.message_id)? + 1;
            let r = EditResult { message_id: p.message_id, updated_at, version };
            Ok((vec![ev], r))
        })
        .await
}

pub async fn delete(state: &State, caller: &Caller, p: DeleteParams) -> HResult<DeleteResult> {
    if p.message_id.is_empty() {
        return Err(server("message_id is required"));
    }
    let me = caller.resolve(p.caller_agent_id.as_deref())?;
    state
        .writer
        .submit(move |c| {
            let query::MessageHead { author, deleted, .. } = query::message_head(c, &p.message_id)?
                .ok_or_else(|| server(format!("message not found: {}", p.message_id)))?;
            if deleted {
                return Err(server("message already deleted"));
            }
            if author != me {
                return Err(server(format!("only message author can delete (author: {author}, current: {me})")));
            }
            let ev = Event::new(
                "message.delete",
                &MessageDelete { message_id: p.message_id.clone(), reason: p.reason.clone(), ..Default::default() },
            );
            let r = DeleteResult { message_id: p.message_id, deleted_at: ev.timestamp().to_string() };
            Ok((vec![ev], r))
        })
        .await
}

pub async fn mark_read(state: &State, caller: &Caller, p: MarkReadParams) -> HResult<MarkReadResult> {
    if p.message_ids.is_empty() {
        return Err(server("message_ids is required and must not be empty"));
    }
    if p.message_ids.len() > 1000 {
        return Err(bad_params("too many message_ids (max 1000 per call)"));
    }
    let me = caller.resolve(p.caller_agent_id.as_deref())?;
    state
        .writer
        .submit(move |c| {
            let session_id = active_session_id(c, &me)?;
            let mut events = Vec::new();
            let mut also: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut marked = 0i64;
            let mut seen = BTreeSet::new();
            for id in &p.message_ids {
                if !seen.insert(id.clone()) || query::message_head(c, id)?.is_none() {
                    continue;
                }
                marked += 1;
                let others = query::read_by(c, id, &me)?;
                if !others.is_empty() {
                    also.insert(id.clone(), others);
                }
                // Already read: the receipt is on record, write nothing.
                if query::has_read(c, id, &me)? {
                    continue;
                }
                events.push(Event::new(
                    "message.receipt",
                    &MessageReceipt {
                        message_id: id.clone(),
                        agent_id: me.clone(),
                        session_id: session_id.clone(),
                        receipt_type: "read".into(),
                        ..Default::default()
                    },
                ));
            }
            Ok((events, MarkReadResult { marked_count: marked, also_read_by: also }))
        })
        .await
}

pub async fn delete_by_agent(state: &State, caller: &Caller, p: DeleteByAgentParams) -> HResult<DeleteCountResult> {
    if p.agent_id.is_empty() {
        return Err(server("agent_id is required"));
    }
    let me = caller.resolve(p.caller_agent_id.as_deref())?;
    if me != p.agent_id {
        return Err(server("unauthorized: an agent can only delete its own messages"));
    }
    let agent = p.agent_id.clone();
    state
        .writer
        .exclusive(move |store| {
            // An event, like a purge: it syncs, survives a rebuild, and
            // clones that merge it drop the messages too.
            let cutoff = thrum_core::time::now_rfc3339();
            let marker = Event::new(
                thrum_core::event::AGENT_MESSAGES_DELETED,
                &AgentMessagesDeleted {
                    timestamp: cutoff.clone(),
                    agent_id: agent.clone(),
                    cutoff: cutoff.clone(),
                    deleted_by: me,
                },
            );
            let deleted_count = query::messages_by_author_count(store.db(), &agent, &cutoff)?;
            let committed = store.commit_events(vec![marker])?;
            store.erase_agent_messages(&agent, &cutoff)?;
            Ok((DeleteCountResult { deleted_count }, committed))
        })
        .await
}

/// `message.deleteByScope`: deletes every message in a scope. Internal
/// (the router refuses outside callers); the daemon runs it for a group
/// deleted with `delete_messages`. Each deletion is a `message.delete`
/// event, so it syncs to other clones and survives a rebuild, like any
/// delete.
pub(super) async fn delete_by_scope(state: &State, _: &Caller, p: DeleteByScopeParams) -> HResult<DeleteCountResult> {
    if p.scope_type.is_empty() || p.scope_value.is_empty() {
        return Err(server("scope_type and scope_value are required"));
    }
    let scope = Scope::new(p.scope_type.trim(), p.scope_value.trim());
    check_scopes(std::slice::from_ref(&scope), "scope")?;
    let me = p.caller_agent_id.unwrap_or_else(|| "system".into());
    state
        .writer
        .submit(move |c| {
            let reason = format!("deleted by scope {scope} (by {me})");
            let events: Vec<Event> = query::live_messages_in_scope(c, &scope)?
                .into_iter()
                .map(|message_id| {
                    Event::new(
                        "message.delete",
                        &MessageDelete { message_id, reason: reason.clone(), ..Default::default() },
                    )
                })
                .collect();
            let r = DeleteCountResult { deleted_count: events.len() as i64 };
            Ok((events, r))
        })
        .await
}

/// Blocks until a message addressed to the caller arrives after `after`
/// that it has not read and that no channel has announced, or the timeout
/// passes; the message returned is then announced through the wait's
/// channel, so the next wait does not wake for it again. Subscribes to the
/// commit feed *before* looking at what is stored, so a message committed
/// in between is never missed.
pub async fn wait(state: &State, caller: &Caller, p: WaitParams) -> HResult<WaitResult> {
    let me = caller.resolve(p.caller_agent_id.as_deref())?;
    let channel = p.channel.unwrap_or(Channel::Wait);
    let timeout = std::time::Duration::from_millis(p.timeout_ms.clamp(0, 3_600_000));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut feed = state.feed.subscribe();
    let mut shutdown = state.shutdown.clone();
    let list = ListParams {
        caller_agent_id: Some(me.clone()),
        for_agent: Some(me.clone()),
        exclude_self: true,
        unread: true,
        scope: p.scope.clone(),
        mention_role: p.mention_role.clone().map(|m| m.trim_start_matches('@').to_string()),
        created_after: p.after.clone(),
        sort_order: Some("asc".into()),
        page_size: Some(1),
        ..Default::default()
    };
    let mut q = list_query(state, caller, &list)?;
    q.unannounced = true;
    q.no_counts = true;
    q.scan_recent = p.after.is_some();
    loop {
        let found = state.read(|r| Ok(query::list_messages(r, &q)?))?;
        if let Some(m) = found.messages.into_iter().next() {
            // Another channel may have claimed it meanwhile: look again.
            if super::delivery::claim_one(state, &me, &m.message_id, channel).await? {
                return Ok(WaitResult { status: "received".into(), message: Some(m) });
            }
            continue;
        }
        // Sleep until something is committed that could match.
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                return Ok(WaitResult { status: "timeout".into(), message: None });
            }
            woke = super::delivery::next_message(&mut feed, &mut shutdown) => woke?,
        }
    }
}

/// `thrum purge`: previews or removes everything older than a cutoff. The
/// cutoff is recorded as a `purge.executed` event so other clones apply it
/// too, and the shards are rewritten atomically without the purged lines.
pub async fn purge(state: &State, _: &Caller, p: PurgeParams) -> HResult<PurgeResult> {
    let cutoff = thrum_core::time::parse_ts(&p.before)
        .map(thrum_core::time::format_ts)
        .ok_or_else(|| bad_params(format!("invalid before {:?}: expected an RFC 3339 time", p.before)))?;
    state
        .writer
        .exclusive(move |store| {
            let query::PurgeCounts { messages, sessions, events } = query::count_before(store.db(), &cutoff)?;
            let mut files = BTreeSet::new();
            for (shard, e) in store.all_events()? {
                if thrum_store::purged(&e, &cutoff) {
                    files.insert(shard);
                }
            }
            let message_files = files.iter().filter(|s| s.starts_with("messages/")).count() as i64;
            let event_files = files.len() as i64 - message_files;
            let mut result = PurgeResult {
                before: cutoff.clone(),
                confirmed: p.confirm,
                messages,
                sessions,
                events,
                message_files,
                event_files,
            };
            if !p.confirm {
                return Ok((result, Vec::new()));
            }
            let marker = Event::new("purge.executed", &PurgeExecuted { cutoff: cutoff.clone(), ..Default::default() });
            let committed = store.commit_events(vec![marker])?;
            store.prune_before(&cutoff)?;
            result.confirmed = true;
            Ok((result, committed))
        })
        .await
}
