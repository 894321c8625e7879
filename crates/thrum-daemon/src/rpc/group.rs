//! `group.*` handlers. `everyone` is built in and virtual: it always
//! holds every agent and cannot be changed or deleted.

use thrum_core::event::{GroupCreate, GroupDelete, GroupMember};
use thrum_core::name::validate_chars;
use thrum_core::views::{GroupDetail, GroupSummary};
use thrum_core::{Event, IdKind, new_id};
use thrum_proto::methods::group::{
    CreateParams, CreateResult, DeleteResult, EVERYONE, ListResult, MemberParams, MemberResult, MembersResult,
    NameParams,
};
use thrum_store::query;

use thrum_proto::methods::Empty;
use thrum_proto::methods::message::DeleteByScopeParams;

use crate::caller::Caller;
use crate::error::{HResult, bad_params, server};
use crate::state::State;

fn clean(name: &str) -> String {
    name.trim().trim_start_matches('@').to_string()
}

fn everyone_summary(created_at: &str) -> GroupSummary {
    GroupSummary {
        group_id: "grp_everyone".into(),
        name: EVERYONE.into(),
        description: "All registered agents".into(),
        created_at: created_at.into(),
        member_count: 0,
    }
}

pub async fn create(state: &State, caller: &Caller, p: CreateParams) -> HResult<CreateResult> {
    let name = clean(&p.name);
    if name.is_empty() {
        return Err(server("name is required"));
    }
    validate_chars(&name).map_err(|e| bad_params(format!("invalid group name: {e}")))?;
    if p.description.len() > 1000 {
        return Err(bad_params("description is too long (max 1000 bytes)"));
    }
    let by = caller.resolve(p.caller_agent_id.as_deref()).unwrap_or_else(|_| "system".into());
    state
        .writer
        .submit(move |c| {
            if name == EVERYONE || query::group_by_name(c, &name)?.is_some() {
                return Err(server(format!("group {name:?} already exists")));
            }
            if query::agent(c, &name)?.is_some() || !query::agents(c, Some(&name), None)?.is_empty() {
                return Err(server(format!(
                    "group name {name:?} is already an agent or role name: pick another so @{name} stays unambiguous"
                )));
            }
            let ev = Event::new(
                "group.create",
                &GroupCreate {
                    group_id: new_id(IdKind::Group),
                    name: name.clone(),
                    description: p.description.clone(),
                    created_by: by.clone(),
                    ..Default::default()
                },
            );
            let gid = ev.as_object().get("group_id").and_then(|v| v.as_str()).unwrap_or("").to_string();
            let r = CreateResult { group_id: gid, name, created_at: ev.timestamp().into(), created_by: by };
            Ok((vec![ev], r))
        })
        .await
}

/// `group.delete`; with `delete_messages`, the messages sent to the group
/// go too (`message.deleteByScope` on its scope, as the original does).
pub async fn delete(state: &State, caller: &Caller, p: NameParams) -> HResult<DeleteResult> {
    let name = clean(&p.name);
    if name.is_empty() {
        return Err(server("name is required"));
    }
    if name == EVERYONE {
        return Err(server("cannot delete built-in @everyone group"));
    }
    let by = p.caller_agent_id.clone().unwrap_or_else(|| "system".into());
    let group = name.clone();
    let deleted_by = by.clone();
    let r = state
        .writer
        .submit(move |c| {
            let g = query::group_by_name(c, &group)?.ok_or_else(|| server(format!("group {group:?} not found")))?;
            let ev =
                Event::new("group.delete", &GroupDelete { group_id: g.group_id, deleted_by, ..Default::default() });
            let r = DeleteResult { name: group, deleted_at: ev.timestamp().into() };
            Ok((vec![ev], r))
        })
        .await?;
    if p.delete_messages {
        let scope = DeleteByScopeParams { scope_type: "group".into(), scope_value: name, caller_agent_id: Some(by) };
        super::message::delete_by_scope(state, caller, scope).await?;
    }
    Ok(r)
}

/// A validated membership change.
struct Membership {
    group: String,
    kind: String,
    value: String,
}

fn member_common(p: &MemberParams) -> HResult<Membership> {
    let group = clean(&p.group);
    if group.is_empty() {
        return Err(server("group is required"));
    }
    if p.member_type.is_empty() {
        return Err(server("member_type is required"));
    }
    let value = clean(&p.member_value);
    if value.is_empty() {
        return Err(server("member_value is required"));
    }
    if group == EVERYONE {
        return Err(server("cannot modify members of built-in @everyone group"));
    }
    Ok(Membership { group, kind: p.member_type.clone(), value })
}

pub async fn member_add(state: &State, caller: &Caller, p: MemberParams) -> HResult<MemberResult> {
    let Membership { group, kind, value } = member_common(&p)?;
    if !matches!(kind.as_str(), "agent" | "role" | "group") {
        return Err(server(format!("invalid member_type {kind:?} (must be 'agent', 'role' or 'group')")));
    }
    // A peer's agent (`@api:alice`) may be a member once it is addressable
    // here; messages to the group then reach it through the peer.
    let proxy = kind == "agent"
        && thrum_store::projection::feed::split_proxy(&value).is_some_and(|(prefix, name)| {
            state.peers.all().iter().any(|p| p.proxy_prefix == prefix && p.remote_agents.iter().any(|a| a == name))
        });
    if !(proxy || kind == "role" && value == "*") {
        validate_chars(&value).map_err(|e| bad_params(format!("invalid member: {e}")))?;
    }
    let by = caller.resolve(p.caller_agent_id.as_deref()).unwrap_or_else(|_| "system".into());
    state
        .writer
        .submit(move |c| {
            let g = query::group_by_name(c, &group)?.ok_or_else(|| server(format!("group {group:?} not found")))?;
            match kind.as_str() {
                "agent" if !proxy && query::agent(c, &value)?.is_none() => {
                    return Err(server(format!("agent not found: {value} (see `thrum agent list`)")));
                }
                "group" => {
                    if value != EVERYONE && query::group_by_name(c, &value)?.is_none() {
                        return Err(server(format!("group {value:?} not found")));
                    }
                    if query::would_cycle(c, &group, &value)? {
                        return Err(server(format!(
                            "cycle detected: group {value:?} already contains {group:?} (directly or through nested groups)"
                        )));
                    }
                }
                _ => {}
            }
            let ev = Event::new("group.member.add", &GroupMember {
                group_id: g.group_id,
                member_type: kind.clone(),
                member_value: value.clone(),
                added_by: by,
                ..Default::default()
            });
            Ok((vec![ev], MemberResult { group, member_type: kind, member_value: value }))
        })
        .await
}

pub async fn member_remove(state: &State, _: &Caller, p: MemberParams) -> HResult<MemberResult> {
    let Membership { group, kind, value } = member_common(&p)?;
    let by = p.caller_agent_id.clone().unwrap_or_else(|| "system".into());
    state
        .writer
        .submit(move |c| {
            let g = query::group_by_name(c, &group)?.ok_or_else(|| server(format!("group {group:?} not found")))?;
            if !g.members.iter().any(|m| m.member_type == kind && m.member_value == value) {
                return Err(server(format!("member not found: {kind} {value} in group {group}")));
            }
            let ev = Event::new(
                "group.member.remove",
                &GroupMember {
                    group_id: g.group_id,
                    member_type: kind.clone(),
                    member_value: value.clone(),
                    removed_by: by,
                    ..Default::default()
                },
            );
            Ok((vec![ev], MemberResult { group, member_type: kind, member_value: value }))
        })
        .await
}

pub async fn list(state: &State, _: &Caller, _: Empty) -> HResult<ListResult> {
    let mut groups = state.read(|r| Ok(query::groups(r)?))?;
    groups.push(everyone_summary(&state.identity.init_at));
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ListResult { groups })
}

fn find(state: &State, name: &str) -> HResult<GroupDetail> {
    if name.is_empty() {
        return Err(server("name is required"));
    }
    if name == EVERYONE {
        let s = everyone_summary(&state.identity.init_at);
        return Ok(GroupDetail {
            group_id: s.group_id,
            name: s.name,
            description: s.description,
            created_at: s.created_at,
            created_by: "system".into(),
            members: Vec::new(),
        });
    }
    state.read(|r| Ok(query::group_by_name(r, name)?))?.ok_or_else(|| server(format!("group {name:?} not found")))
}

pub async fn info(state: &State, _: &Caller, p: NameParams) -> HResult<GroupDetail> {
    find(state, &clean(&p.name))
}

pub async fn members(state: &State, _: &Caller, p: NameParams) -> HResult<MembersResult> {
    let name = clean(&p.name);
    let g = find(state, &name)?;
    let expanded = if p.expand || name == EVERYONE {
        state.read(|r| Ok(query::expand_group(r, &name)?))?.into_iter().collect()
    } else {
        Vec::new()
    };
    Ok(MembersResult { members: g.members, expanded })
}
