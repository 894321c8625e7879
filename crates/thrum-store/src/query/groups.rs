//! Groups and their members, expanded.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension};
use thrum_core::views::{GroupDetail, GroupMemberInfo, GroupSummary};

use super::*;
use crate::error::Result;

pub fn group_by_name(conn: &Connection, name: &str) -> Result<Option<GroupDetail>> {
    let g = conn
        .prepare_cached("SELECT group_id, name, description, created_at, created_by FROM groups WHERE name = ?1")?
        .query_row([name], |r| {
            Ok(GroupDetail {
                group_id: r.get(0)?,
                name: r.get(1)?,
                description: r.get(2)?,
                created_at: r.get(3)?,
                created_by: r.get(4)?,
                members: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut g) = g else { return Ok(None) };
    let mut st = conn.prepare_cached(
        "SELECT member_type, member_value, added_at, added_by FROM group_members WHERE group_id = ?1 ORDER BY member_type, member_value",
    )?;
    let rows = st.query_map([&g.group_id], |r| {
        Ok(GroupMemberInfo {
            member_type: r.get(0)?,
            member_value: r.get(1)?,
            added_at: r.get(2)?,
            added_by: r.get(3)?,
        })
    })?;
    g.members = rows.collect::<rusqlite::Result<_>>()?;
    Ok(Some(g))
}

pub fn groups(conn: &Connection) -> Result<Vec<GroupSummary>> {
    let mut st = conn.prepare_cached(
        "SELECT g.group_id, g.name, g.description, g.created_at, (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.group_id)
         FROM groups g ORDER BY g.name",
    )?;
    let rows = st.query_map([], |r| {
        Ok(GroupSummary {
            group_id: r.get(0)?,
            name: r.get(1)?,
            description: r.get(2)?,
            created_at: r.get(3)?,
            member_count: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Resolves a group to agent ids: agents directly, roles to their agents,
/// nested groups recursively (each group visited once, so cycles end).
/// `everyone` expands to every agent.
pub fn expand_group(conn: &Connection, name: &str) -> Result<BTreeSet<String>> {
    let mut agents_out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![name.to_string()];
    while let Some(g) = stack.pop() {
        if !seen.insert(g.clone()) {
            continue;
        }
        if g == "everyone" {
            for a in agents(conn, None, None)? {
                agents_out.insert(a.agent_id);
            }
            continue;
        }
        let Some(detail) = group_by_name(conn, &g)? else {
            continue;
        };
        for m in detail.members {
            match m.member_type.as_str() {
                "agent" => {
                    agents_out.insert(m.member_value);
                }
                "role" => {
                    let role = if m.member_value == "*" { None } else { Some(m.member_value.as_str()) };
                    for a in agents(conn, role, None)? {
                        agents_out.insert(a.agent_id);
                    }
                }
                "group" => stack.push(m.member_value),
                _ => {}
            }
        }
    }
    Ok(agents_out)
}

/// Whether adding group `child` as a member of `parent` would make a cycle.
pub fn would_cycle(conn: &Connection, parent: &str, child: &str) -> Result<bool> {
    if parent == child {
        return Ok(true);
    }
    // A cycle exists if `parent` is reachable from `child` through group members.
    let mut seen = BTreeSet::new();
    let mut stack = vec![child.to_string()];
    while let Some(g) = stack.pop() {
        if g == parent {
            return Ok(true);
        }
        if !seen.insert(g.clone()) {
            continue;
        }
        if let Some(d) = group_by_name(conn, &g)? {
            stack.extend(d.members.into_iter().filter(|m| m.member_type == "group").map(|m| m.member_value));
        }
    }
    Ok(false)
}
