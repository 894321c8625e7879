//! `thrum group …`.

use anyhow::{Result, bail};
use clap::Subcommand;
use thrum_proto::methods::Empty;
use thrum_proto::methods::group as gm;

use crate::context::Ctx;
use crate::output;

// Not deferred: `group add --role` shadows the global --role, and clap
// only notices the shadowing when the arguments exist before the globals
// are propagated.
#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Create a group.
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a group.
    Delete { name: String },
    /// Add an agent (default), a role (--role) or a group (--group).
    Add(MemberArgs),
    /// Remove a member.
    Remove(MemberArgs),
    /// List groups.
    List,
    /// Show a group.
    Info { name: String },
    /// List a group's members (--expand resolves roles and nested groups).
    Members {
        name: String,
        #[arg(long)]
        expand: bool,
    },
}

/// A group and one member of it.
#[derive(Debug, clap::Args)]
pub struct MemberArgs {
    pub group: String,
    /// An agent (@alice).
    pub member: Option<String>,
    /// Every agent with this role (* for all).
    #[arg(long, conflicts_with_all = ["member", "group_member"])]
    pub role: Option<String>,
    /// Another group (nested).
    #[arg(long = "group", conflicts_with = "member")]
    pub group_member: Option<String>,
}

impl MemberArgs {
    /// The RPC params for adding or removing this member.
    fn params(self, caller: &Option<String>) -> Result<gm::MemberParams> {
        let (kind, value) = member(self.member, self.role, self.group_member)?;
        Ok(gm::MemberParams {
            group: self.group.trim_start_matches('@').to_string(),
            member_type: kind,
            member_value: value,
            caller_agent_id: caller.clone(),
        })
    }
}

fn member(member: Option<String>, role: Option<String>, group: Option<String>) -> Result<(String, String)> {
    Ok(match (member, role, group) {
        (_, Some(r), _) => ("role".into(), r),
        (_, _, Some(g)) => ("group".into(), g.trim_start_matches('@').into()),
        (Some(m), _, _) => ("agent".into(), m.trim_start_matches('@').into()),
        _ => bail!("name a member: an agent (@alice), --role ROLE or --group GROUP"),
    })
}

pub fn run(ctx: &mut Ctx, cmd: GroupCmd) -> Result<u8> {
    let out = ctx.out;
    let caller = ctx.me().ok().map(|m| m.name);
    match cmd {
        GroupCmd::Create { name, description } => {
            let r = ctx.call::<gm::Create>(&gm::CreateParams {
                name: name.trim_start_matches('@').to_string(),
                description: description.unwrap_or_default(),
                caller_agent_id: caller,
            })?;
            if out.json { out.json(&r) } else { out.ok(format!("Group created: {}", r.name)) }
        }
        GroupCmd::Delete { name } => {
            let r = ctx.call::<gm::Delete>(&gm::NameParams {
                name: name.trim_start_matches('@').to_string(),
                caller_agent_id: caller,
                ..Default::default()
            })?;
            if out.json { out.json(&r) } else { out.ok(format!("Group deleted: {}", r.name)) }
        }
        GroupCmd::Add(a) => {
            let r = ctx.call::<gm::MemberAdd>(&a.params(&caller)?)?;
            if out.json {
                out.json(&r)
            } else {
                out.ok(format!("Added {} {} to group {}", r.member_type, r.member_value, r.group))
            }
        }
        GroupCmd::Remove(a) => {
            let r = ctx.call::<gm::MemberRemove>(&a.params(&caller)?)?;
            if out.json {
                out.json(&r)
            } else {
                out.ok(format!("Removed {} {} from group {}", r.member_type, r.member_value, r.group))
            }
        }
        GroupCmd::List => {
            let r = ctx.call::<gm::List>(&Empty {})?;
            if out.json {
                out.json(&r);
                return Ok(0);
            }
            out.line(format!("Groups ({}):", r.groups.len()));
            for g in &r.groups {
                out.line("");
                out.line(if g.name == gm::EVERYONE { "@everyone".to_string() } else { g.name.clone() });
                if !g.description.is_empty() {
                    out.line(format!("  Description: {}", g.description));
                }
                if g.name == gm::EVERYONE {
                    out.line("  Members:     (implicit - all agents)");
                } else {
                    out.line(format!("  Members:     {}", g.member_count));
                }
                out.line(format!("  Created:     {}", output::absolute(&g.created_at)));
            }
        }
        GroupCmd::Info { name } => {
            let g = ctx.call::<gm::Info>(&gm::NameParams {
                name: name.trim_start_matches('@').to_string(),
                ..Default::default()
            })?;
            if out.json {
                out.json(&g);
                return Ok(0);
            }
            out.line(format!("Group: {}", g.name));
            if !g.description.is_empty() {
                out.line(format!("  Description: {}", g.description));
            }
            out.line(format!("  Created:     {}", output::absolute(&g.created_at)));
            out.line(format!("  Created by:  {}", g.created_by));
            out.line(format!("  Members:     {}", g.members.len()));
            if !g.members.is_empty() {
                out.line("");
                out.line("  Members:");
                for m in &g.members {
                    let v =
                        if m.member_type == "agent" { format!("@{}", m.member_value) } else { m.member_value.clone() };
                    out.line(format!("    - {v} ({})", m.member_type));
                }
            }
        }
        GroupCmd::Members { name, expand } => {
            let name = name.trim_start_matches('@').to_string();
            let r = ctx.call::<gm::Members>(&gm::NameParams { name: name.clone(), expand, ..Default::default() })?;
            if out.json {
                out.json(&r);
                return Ok(0);
            }
            out.line(format!("Members of {name} ({}):", r.members.len()));
            for m in &r.members {
                let v = if m.member_type == "agent" { format!("@{}", m.member_value) } else { m.member_value.clone() };
                out.line(format!("  - {v} ({})", m.member_type));
            }
            if expand || name == gm::EVERYONE {
                out.line("");
                out.line(format!("Expanded ({} agents):", r.expanded.len()));
                for a in &r.expanded {
                    out.line(format!("  @{a}"));
                }
            }
        }
    }
    Ok(0)
}
