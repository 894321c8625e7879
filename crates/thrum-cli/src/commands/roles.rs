//! `thrum roles list|deploy|refresh|templates`: role templates rendered
//! into each agent's preamble (`.thrum/context/{agent}_preamble.md`).
//!
//! Templates come from two places: the ones shipped in this binary, and
//! the project's own in `.thrum/role_templates/{role}.md` (which win).
//! `roles refresh` copies shipped templates into the project and records,
//! in config.json (`roles.templates.{role}.shipped`), which version it
//! copied; when a later thrum ships a different one, an untouched copy is
//! updated by the next refresh and an edited one is reported as drift.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use thrum_core::ids::content_hash;
use thrum_core::views::AgentInfo;
use thrum_proto::methods::agent as am;

use crate::context::Ctx;

/// The templates shipped in the binary.
pub const SHIPPED: &[(&str, &str)] = &[
    ("coordinator", include_str!("../templates/roles/coordinator.md")),
    ("implementer", include_str!("../templates/roles/implementer.md")),
    ("reviewer", include_str!("../templates/roles/reviewer.md")),
    ("planner", include_str!("../templates/roles/planner.md")),
    ("tester", include_str!("../templates/roles/tester.md")),
    ("orchestrator", include_str!("../templates/roles/orchestrator.md")),
    ("researcher", include_str!("../templates/roles/researcher.md")),
    ("documenter", include_str!("../templates/roles/documenter.md")),
];

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum RolesCmd {
    /// Templates (project and shipped), their state, and the agents using them.
    List,
    /// Re-render agents' preambles from their role's template (overwrites).
    Deploy {
        /// Only this agent.
        #[arg(long)]
        agent: Option<String>,
        /// Show what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy shipped templates into .thrum/role_templates/: new roles, and
    /// newer versions of templates you have not edited.
    Refresh {
        /// Also replace templates you edited.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        dry_run: bool,
    },
    /// The shipped templates.
    #[command(subcommand)]
    Templates(TemplatesCmd),
}

#[derive(Debug, Subcommand)]
// Not deferred: `print ROLE` names its argument like the global --role,
// which clap resolves only when the arguments exist before propagation.
pub enum TemplatesCmd {
    /// Print a shipped template.
    Print { role: String },
    /// The roles with a shipped template.
    List,
}

pub fn shipped(role: &str) -> Option<&'static str> {
    SHIPPED.iter().find(|(r, _)| *r == role).map(|(_, t)| *t)
}

fn templates_dir(ctx: &mut Ctx) -> Result<PathBuf> {
    Ok(ctx.layout()?.thrum_dir.join("role_templates"))
}

/// The template for `role`: the project's, else the shipped one.
pub fn template_for(ctx: &mut Ctx, role: &str) -> Option<(String, &'static str)> {
    let dir = templates_dir(ctx).ok()?;
    if let Ok(t) = std::fs::read_to_string(dir.join(format!("{role}.md"))) {
        return Some((t, "project"));
    }
    shipped(role).map(|t| (t.to_string(), "shipped"))
}

/// Fills the template variables (the original's `{{.Name}}` spelling, so
/// its templates work unchanged).
pub fn render(template: &str, agent: &AgentInfo, repo_root: &str, coordinator: &str) -> String {
    let worktree = if agent.worktree.is_empty() { repo_root } else { &agent.worktree };
    template
        .replace("{{.AgentName}}", &agent.agent_id)
        .replace("{{.Role}}", &agent.role)
        .replace("{{.Module}}", &agent.module)
        .replace("{{.WorktreePath}}", worktree)
        .replace("{{.RepoRoot}}", repo_root)
        .replace("{{.CoordinatorName}}", coordinator)
}

fn coordinator_of(agents: &[AgentInfo]) -> String {
    agents.iter().find(|a| a.role == "coordinator").map_or("coordinator".into(), |a| a.agent_id.clone())
}

/// Renders `agent`'s preamble from its role's template, followed by the
/// command quick reference (None: no template for the role).
pub fn preamble_for(ctx: &mut Ctx, agent: &AgentInfo, agents: &[AgentInfo]) -> Option<String> {
    let (t, _) = template_for(ctx, &agent.role)?;
    let root = ctx.layout().ok()?.repo_root().display().to_string();
    let body = render(&t, agent, &root, &coordinator_of(agents));
    Some(format!(
        "{}

{}",
        body.trim_end(),
        super::context::DEFAULT_PREAMBLE
    ))
}

/// A project template's state against the shipped one.
fn state(ctx: &mut Ctx, role: &str) -> &'static str {
    let Ok(dir) = templates_dir(ctx) else { return "none" };
    let Ok(active) = std::fs::read_to_string(dir.join(format!("{role}.md"))) else {
        return if shipped(role).is_some() { "shipped" } else { "none" };
    };
    let Some(ship) = shipped(role) else { return "custom" };
    let recorded = super::config::file_value(ctx, &format!("roles.templates.{role}.shipped"));
    let Some(recorded) = recorded.as_ref().and_then(Value::as_str) else {
        return if active == ship { "current" } else { "custom" };
    };
    let edited = content_hash(&active) != recorded;
    match (content_hash(ship) == recorded, edited) {
        (true, false) => "current",
        (true, true) => "edited",
        (false, false) => "update-available",
        (false, true) => "drift",
    }
}

pub fn run(ctx: &mut Ctx, cmd: RolesCmd) -> Result<u8> {
    let out = ctx.out;
    match cmd {
        RolesCmd::Templates(TemplatesCmd::Print { role }) => {
            let t = shipped(&role)
                .ok_or_else(|| anyhow!("no shipped template for role {role:?}: see `thrum roles templates list`"))?;
            out.text(t);
        }
        RolesCmd::Templates(TemplatesCmd::List) => {
            let roles: Vec<&str> = SHIPPED.iter().map(|(r, _)| *r).collect();
            if out.json {
                out.json(&json!({ "roles": roles }));
            } else {
                out.line(roles.join("\n"));
            }
        }
        RolesCmd::List => {
            let agents = ctx.call::<am::List>(&am::ListParams::default())?;
            let mut roles: Vec<String> = SHIPPED.iter().map(|(r, _)| r.to_string()).collect();
            if let Ok(rd) = std::fs::read_dir(templates_dir(ctx)?) {
                for e in rd.flatten() {
                    if let Some(r) = e.file_name().to_str().and_then(|n| n.strip_suffix(".md"))
                        && !roles.iter().any(|x| x == r)
                    {
                        roles.push(r.to_string());
                    }
                }
            }
            for a in &agents.agents {
                if !roles.contains(&a.role) && !a.role.is_empty() {
                    roles.push(a.role.clone());
                }
            }
            let mut rows = Vec::new();
            for r in &roles {
                let st = state(ctx, r);
                let mut who: Vec<&str> =
                    agents.agents.iter().filter(|a| &a.role == r).map(|a| a.agent_id.as_str()).collect();
                who.sort_unstable();
                if st == "drift" {
                    crate::hints::info(
                        "roles.template-drift",
                        format!("the shipped {r} template changed and your copy is edited"),
                        &[
                            ("compare", format!("thrum roles templates print {r}")),
                            ("replace", "thrum roles refresh --force".into()),
                        ],
                    );
                } else if st == "update-available" {
                    crate::hints::info(
                        "roles.template-update",
                        format!("a newer shipped {r} template is available"),
                        &[("update", "thrum roles refresh".into())],
                    );
                }
                rows.push(json!({ "role": r, "template": st, "agents": who }));
            }
            if out.json {
                out.json(&json!({ "roles": rows }));
                return Ok(0);
            }
            out.line(format!("{:<14} {:<17} AGENTS", "ROLE", "TEMPLATE"));
            for row in &rows {
                let who: Vec<String> = row["agents"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str()).map(|x| format!("@{x}")).collect())
                    .unwrap_or_default();
                out.line(format!(
                    "{:<14} {:<17} {}",
                    row["role"].as_str().unwrap_or(""),
                    row["template"].as_str().unwrap_or(""),
                    if who.is_empty() { "-".into() } else { who.join(", ") }
                ));
            }
        }
        RolesCmd::Deploy { agent, dry_run } => {
            let agents = ctx.call::<am::List>(&am::ListParams::default())?;
            if let Some(a) = &agent
                && !agents.agents.iter().any(|x| &x.agent_id == a)
            {
                bail!("unknown agent @{a}: see `thrum agent list`");
            }
            let dir = ctx.layout()?.context_dir();
            let mut rows = Vec::new();
            for a in agents.agents.iter().filter(|x| agent.as_ref().is_none_or(|n| &x.agent_id == n)) {
                let path = dir.join(format!("{}_preamble.md", a.agent_id));
                let status = match preamble_for(ctx, a, &agents.agents) {
                    None => "no-template",
                    Some(text) => {
                        let old = std::fs::read_to_string(&path).ok();
                        if old.as_deref() == Some(text.as_str()) {
                            "unchanged"
                        } else {
                            if !dry_run {
                                super::agent_docs::write_atomic(&path, &text)?;
                            }
                            if old.is_some() { "updated" } else { "created" }
                        }
                    }
                };
                rows.push(json!({ "agent": a.agent_id, "role": a.role, "status": status, "path": path }));
            }
            if out.json {
                out.json(&json!({ "dry_run": dry_run, "agents": rows }));
                return Ok(0);
            }
            for r in &rows {
                let s = r["status"].as_str().unwrap_or("");
                let verb = match (s, dry_run) {
                    ("no-template", _) => "no template for its role".to_string(),
                    ("unchanged", _) => "unchanged".to_string(),
                    (s, true) => format!("would be {s}"),
                    (s, false) => s.to_string(),
                };
                out.line(format!(
                    "@{} ({}): {verb}",
                    r["agent"].as_str().unwrap_or(""),
                    r["role"].as_str().unwrap_or("")
                ));
            }
        }
        RolesCmd::Refresh { force, dry_run } => {
            let dir = templates_dir(ctx)?;
            let mut rows = Vec::new();
            let mut installed: Vec<(&str, String)> = Vec::new();
            for (role, text) in SHIPPED {
                let st = state(ctx, role);
                let write = matches!(st, "shipped" | "update-available")
                    || (force && matches!(st, "drift" | "edited" | "custom"));
                if write && !dry_run {
                    super::agent_docs::write_atomic(&dir.join(format!("{role}.md")), text)?;
                    installed.push((role, content_hash(text)));
                }
                let outcome = match (write, st) {
                    (true, "shipped") => "installed",
                    (true, _) => "updated",
                    (false, "drift") => "kept (edited; shipped changed: --force replaces)",
                    (false, "edited" | "custom") => "kept (edited)",
                    (false, _) => "current",
                };
                rows.push(json!({ "role": role, "result": outcome }));
            }
            // The versions copied, recorded in one write of config.json.
            if !installed.is_empty() {
                super::config::edit(ctx, |c| {
                    for (role, hash) in &installed {
                        c["roles"]["templates"][*role]["shipped"] = json!(hash);
                    }
                })?;
            }
            if out.json {
                out.json(&json!({ "dry_run": dry_run, "templates": rows, "dir": dir }));
                return Ok(0);
            }
            for r in &rows {
                out.line(format!("{:<14} {}", r["role"].as_str().unwrap_or(""), r["result"].as_str().unwrap_or("")));
            }
            if !dry_run {
                out.ok(format!("Templates in {} (apply them with `thrum roles deploy`)", dir.display()));
            }
        }
    }
    Ok(0)
}
