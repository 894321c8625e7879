//! `thrum init`: creates `.thrum/`, the ignore entries, the `a-sync`
//! orphan branch and its sparse worktree. Idempotent: a second run
//! repairs what is missing and changes nothing else.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use thrum_core::Layout;
use thrum_core::layout::THRUM_DIR;
use thrum_git::Git;

use crate::context::Ctx;

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Initialize even outside a git repository (messages stay local).
    #[arg(long)]
    pub force: bool,
    /// Write ignore entries to .git/info/exclude instead of .gitignore.
    #[arg(long)]
    pub stealth: bool,
    /// Show what would be done without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Runtime preset to record and set up (claude, codex, cursor, gemini,
    /// …), or `all`: every runtime's MCP config and hooks.
    #[arg(long)]
    pub runtime: Option<String>,
    /// Never prompt: the silent path (the default when stdin or stdout is
    /// not a terminal); on a terminal `thrum init` runs a short wizard.
    #[arg(long)]
    pub non_interactive: bool,
    /// Only install the thrum skill or instructions for the runtime
    /// (--runtime, else the one detected); nothing else is set up.
    #[arg(long)]
    pub skills: bool,
    /// Register this agent as part of init (with --agent-role and
    /// --agent-module), as `thrum quickstart` would.
    #[arg(long, value_name = "NAME", requires_all = ["agent_role", "agent_module"])]
    pub agent_name: Option<String>,
    /// The registered agent's role.
    #[arg(long, value_name = "ROLE", requires = "agent_name")]
    pub agent_role: Option<String>,
    /// The registered agent's module.
    #[arg(long, value_name = "MODULE", requires = "agent_name")]
    pub agent_module: Option<String>,
    /// Set by the wizard, which runs this path and then registers the agent.
    #[arg(skip)]
    pub in_wizard: bool,
    /// Where `thrum worktree create` puts worktrees (worktrees.base_path):
    /// an absolute path (or ~/…) outside the repository. Pre-fills the
    /// wizard's prompt.
    #[arg(long, value_name = "PATH")]
    pub worktrees_root: Option<String>,
    /// The wizard's role-template choice: `default` or `enhanced` install
    /// the shipped templates into .thrum/role_templates/ (one set is
    /// shipped), `skip` does not.
    #[arg(long, value_name = "CHOICE", value_parser = ["default", "enhanced", "skip"])]
    pub roles: Option<String>,
    /// The wizard does not start the daemon at its end.
    #[arg(long)]
    pub no_daemon: bool,
    /// Sync messages through origin's a-sync branch. Without it a new
    /// repository is local-only (messages never reach a remote by
    /// surprise); on an existing one it turns sync on.
    #[arg(long)]
    pub sync: bool,
}

/// `--runtime all`.
const ALL: &str = "all";

impl InitArgs {
    /// The runtimes to set up: the one named, or with `all` each one
    /// that has an MCP config or hooks to write.
    fn runtimes(&self) -> Vec<&'static crate::runtimes::Runtime> {
        match self.runtime.as_deref() {
            Some(ALL) => crate::runtimes::REGISTRY.iter().filter(|r| r.mcp.is_some() || r.hooks.is_some()).collect(),
            Some(rt) => crate::runtimes::get(rt).into_iter().collect(),
            None => Vec::new(),
        }
    }

    /// Each hook dialect once (runtimes may share one).
    fn hook_dialects(&self) -> Vec<crate::runtimes::Hooks> {
        let mut out = Vec::new();
        for d in self.runtimes().into_iter().filter_map(|r| r.hooks) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }
}

const IGNORE_HEADER: &str = "# Thrum data directory (all data lives on a-sync branch via worktree)";
const STEALTH_HEADER: &str = "# Thrum stealth mode (added by thrum init --stealth)";
const IGNORE_LINES: &[&str] = &[".thrum/", ".thrum.*.json"];

#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    repo_path: String,
    thrum_dir: String,
    sync_worktree: String,
    created: Vec<String>,
    updated: Vec<String>,
    unchanged: Vec<String>,
    dry_run: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    redirect: String,
    /// The agent registered with --agent-name.
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<serde_json::Value>,
    /// The daemon's sync mode once this is done (flag aside): true when
    /// messages stay in this clone.
    #[serde(skip_serializing_if = "Option::is_none")]
    local_only: Option<bool>,
    /// `--sync` turned sync on while a daemon runs: it reads the mode when
    /// it starts.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    restart_daemon: bool,
    /// The wizard goes on to register an agent: no "register one" advice.
    #[serde(skip)]
    in_wizard: bool,
}

pub fn run(ctx: &mut Ctx, a: InitArgs) -> Result<u8> {
    if let Some(rt) = &a.runtime
        && rt != ALL
        && crate::runtimes::get(rt).is_none()
    {
        bail!("{} (or all)", crate::runtimes::unknown(rt));
    }
    if a.skills && a.runtime.as_deref() == Some(ALL) {
        bail!("--skills installs one runtime's skill: name it with --runtime NAME (not all)");
    }
    // Checked before anything is written.
    if let Some(n) = &a.agent_name {
        thrum_core::AgentName::parse(n).map_err(|e| anyhow::anyhow!("invalid --agent-name: {e}"))?;
        for (flag, v) in [("--agent-role", &a.agent_role), ("--agent-module", &a.agent_module)] {
            let v = v.as_deref().unwrap_or_default();
            thrum_core::name::validate_chars(v).map_err(|e| anyhow::anyhow!("invalid {flag}: {e}"))?;
        }
        if a.agent_role.as_deref() == Some(n.trim_start_matches('@')) {
            bail!("--agent-name cannot be the same as --agent-role: use a distinct name (e.g. '{n}_main')");
        }
    }
    if a.skills {
        return install_skills(ctx, &a);
    }
    if super::init_wizard::wanted(ctx, &a) {
        return super::init_wizard::run(ctx, a);
    }
    let start = ctx.start_dir()?;
    let git = Git::new(&start);
    let (root, common) = match (git.toplevel(), git.common_dir()) {
        (Ok(t), Ok(c)) => (t, Some(c)),
        _ if a.force || !non_git_refused(ctx, &start) => (start.clone(), None),
        _ => bail!(
            "not a git repository: {}\n  thrum keeps messages on a git branch; run `git init` first, or pass --force to use thrum without git",
            start.display()
        ),
    };
    // Checked before anything is written.
    let worktrees_root = match a.worktrees_root.as_deref() {
        Some(w) => {
            Some(super::init_wizard::worktrees_root(w, &root).map_err(|e| anyhow::anyhow!("--worktrees-root: {e}"))?)
        }
        None => None,
    };
    let mut rep = Report {
        repo_path: root.display().to_string(),
        dry_run: a.dry_run,
        in_wizard: a.in_wizard,
        ..Default::default()
    };
    let thrum = root.join(THRUM_DIR);
    rep.thrum_dir = thrum.display().to_string();

    // A linked worktree shares the main repository's .thrum through a redirect.
    if let Some(common) = &common
        && let Some(main_root) = main_root_of(common)
        && main_root != root
    {
        let main_thrum = main_root.join(THRUM_DIR);
        if !main_thrum.is_dir() {
            return Err(crate::config_err!(
                "this is a git worktree, but the main repo ({}) is not initialized\n  Run 'thrum init' in the main repo first, then run 'thrum init' here again",
                main_root.display()
            ));
        }
        link_worktree(&mut rep, &root, &main_root, &a.hook_dialects(), a.dry_run)?;
        register(ctx, &a, &mut rep)?;
        return finish(ctx, rep, true);
    }

    for sub in ["", "identities", "context", "var"] {
        let p = if sub.is_empty() { thrum.clone() } else { thrum.join(sub) };
        let label = if sub.is_empty() { ".thrum/".to_string() } else { format!(".thrum/{sub}/") };
        step(&mut rep, a.dry_run, "created", &label, !p.is_dir(), || std::fs::create_dir_all(&p).map_err(Into::into))?;
    }
    let cfg = thrum.join("config.json");
    let existed = cfg.exists();
    step(&mut rep, a.dry_run, "created", ".thrum/config.json", !existed, || {
        // Local-only unless asked, as the original: agents' messages must
        // not reach a public remote because someone ran `thrum init`.
        let mut c =
            serde_json::json!({ "daemon": { "local_only": !a.sync, "sync_interval": 60, "log_level": "info" } });
        if let Some(rt) = a.runtime.as_deref().filter(|r| *r != ALL) {
            c["runtime"] = serde_json::json!({ "primary": rt });
        }
        let text = format!("{}\n", serde_json::to_string_pretty(&c)?);
        thrum_core::fs::write_private(&cfg, text.as_bytes()).map_err(Into::into)
    })?;
    // An existing repository keeps its mode; --sync is asked for explicitly.
    // Without --sync a config.json we cannot read is left to `thrum doctor`
    // and the daemon's own error, as before.
    let file = match (existed, a.sync) {
        (false, _) => Some(serde_json::json!({})),
        (true, true) => Some(read_config(&cfg)?),
        (true, false) => read_config(&cfg).ok(),
    };
    if existed && a.sync {
        let mut c = file.clone().unwrap_or_default();
        let on = c.pointer("/daemon/local_only").and_then(serde_json::Value::as_bool) == Some(false);
        if !c.is_object() || !(c["daemon"].is_object() || c["daemon"].is_null()) {
            return Err(crate::config_err!(
                "{} does not hold a \"daemon\" object: fix or remove it, then rerun `thrum init --sync`",
                cfg.display()
            ));
        }
        step(&mut rep, a.dry_run, "updated", ".thrum/config.json (daemon.local_only: false)", !on, || {
            // An object with a "daemon" object or none, checked above.
            c["daemon"]["local_only"] = serde_json::json!(false);
            let text = format!("{}\n", serde_json::to_string_pretty(&c)?);
            thrum_core::fs::write_private(&cfg, text.as_bytes()).map_err(Into::into)
        })?;
        rep.restart_daemon = !on
            && !a.dry_run
            && Layout::for_root(&root)
                .ok()
                .and_then(|l| thrum_client::pidfile::running_pid(&l.lock_file(), &l.pid_file()))
                .is_some();
    }
    let mode_in_file =
        if a.sync || !existed { Some(serde_json::json!({ "daemon": { "local_only": !a.sync } })) } else { file };
    rep.local_only = match (&common, mode_in_file) {
        (None, _) => Some(true),
        (Some(_), Some(f)) => Some(thrum_core::settings::DaemonSettings::resolve(&f, None).local_only),
        (Some(_), None) => None,
    };

    let (ignore_file, header) = match (&common, a.stealth) {
        (Some(c), true) => (c.join("info").join("exclude"), STEALTH_HEADER),
        (_, true) => bail!("--stealth needs a git repository"),
        _ => (root.join(".gitignore"), IGNORE_HEADER),
    };
    let label = if a.stealth { ".git/info/exclude (stealth mode)".to_string() } else { ".gitignore".to_string() };
    let text = std::fs::read_to_string(&ignore_file).unwrap_or_default();
    let missing = IGNORE_LINES.iter().any(|l| !text.lines().any(|x| x.trim() == *l));
    step(&mut rep, a.dry_run, "updated", &label, missing, || add_ignore(&ignore_file, &text, header))?;

    if let Some(common) = &common {
        let sync = thrum_git::sync_branch::sync_worktree_path(common);
        rep.sync_worktree = sync.display().to_string();
        let git = Git::new(&root);
        let exists = git.ref_exists("refs/heads/a-sync");
        step(&mut rep, a.dry_run, "created", "a-sync branch for message sync", !exists, || {
            thrum_git::sync_branch::ensure_branch(&git).map(|_| ()).map_err(Into::into)
        })?;
        let healthy = thrum_git::sync_branch::worktree_healthy(&git, &sync);
        step(&mut rep, a.dry_run, "created", &format!("sync worktree {}", sync.display()), !healthy, || {
            thrum_git::sync_branch::ensure_worktree(&git, &sync).map(|_| ()).map_err(Into::into)
        })?;
    } else {
        rep.sync_worktree = thrum.join("a-sync").display().to_string();
    }
    if !a.dry_run {
        let layout = Layout::for_root(&root)?;
        thrum_core::config::bootstrap_identity(&layout, &root, || {
            thrum_git::Git::new(&root).config_get("remote.origin.url").unwrap_or_default()
        })
        .context("write the daemon identity")?;
    }
    // A runtime with MCP support gets `thrum mcp serve` in its config.
    for rt in a.runtimes().into_iter().filter(|r| r.mcp.is_some()) {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        let o = crate::commands::mcp_config::apply(rt.name, None, &root, &home, a.dry_run)?;
        note_outcome(&mut rep, "MCP server config", &o);
    }
    // And its hooks, so new mail reaches the agent's model.
    for d in a.hook_dialects() {
        let o = crate::commands::hook::install(d, &root, false, false, a.dry_run)?;
        note_outcome(&mut rep, "hooks", &o);
    }
    // The wizard asks for (and records) the worktrees root itself.
    if let Some(wt) = worktrees_root.filter(|_| !a.in_wizard) {
        let label = format!(".thrum/config.json (worktrees.base_path: {wt})");
        step(&mut rep, a.dry_run, "updated", &label, true, || {
            super::config::edit(ctx, |c| c["worktrees"]["base_path"] = serde_json::json!(wt))
        })?;
    }
    register(ctx, &a, &mut rep)?;
    finish(ctx, rep, false)
}

/// `--agent-name/--agent-role/--agent-module`: registers the agent and
/// starts its session (`thrum quickstart`, quietly: init reports it).
fn register(ctx: &mut Ctx, a: &InitArgs, rep: &mut Report) -> Result<()> {
    let (Some(name), Some(role), Some(module)) = (&a.agent_name, &a.agent_role, &a.agent_module) else {
        return Ok(());
    };
    if a.dry_run {
        rep.created.push(format!("agent @{name} (role {role}, module {module})"));
        return Ok(());
    }
    register_agent(ctx, name, role, module, a.runtime.as_deref())?;
    rep.agent = Some(serde_json::json!({ "name": name, "role": role, "module": module }));
    Ok(())
}

/// Registers `name` and starts its session, as `thrum quickstart` would,
/// quietly (the caller reports it).
pub(crate) fn register_agent(ctx: &mut Ctx, name: &str, role: &str, module: &str, runtime: Option<&str>) -> Result<()> {
    let saved = (ctx.out, ctx.role.clone(), ctx.module.clone());
    ctx.out = crate::output::Out { json: false, quiet: true, ..ctx.out };
    ctx.role = Some(role.to_string());
    ctx.module = Some(module.to_string());
    let q = crate::commands::agent::QuickstartArgs {
        name: Some(name.to_string()),
        display: None,
        intent: None,
        runtime: runtime.filter(|r| *r != ALL).map(str::to_string),
        force: false,
        dry_run: false,
        no_agent_pid: false,
        no_init: false,
        preamble_file: None,
    };
    let r = crate::commands::agent::quickstart(ctx, q);
    (ctx.out, ctx.role, ctx.module) = saved;
    r.with_context(|| format!("thrum is set up, but registering @{name} failed; retry with `thrum quickstart --name {name} --role {role} --module {module}`"))?;
    Ok(())
}

/// Wires the linked worktree at `root` to the main worktree's `.thrum/`:
/// its own `identities/` and `context/`, `.thrum/redirect`, and the hooks
/// the main worktree has (and `extra`), so an agent started here is
/// reached like one there. Shared by `thrum init`/`setup` in a worktree and
/// `thrum worktree create`.
pub(crate) fn link_worktree(
    rep: &mut Report,
    root: &Path,
    main_root: &Path,
    extra: &[crate::runtimes::Hooks],
    dry_run: bool,
) -> Result<()> {
    let thrum = root.join(THRUM_DIR);
    let main_thrum = main_root.join(THRUM_DIR);
    rep.redirect = main_thrum.display().to_string();
    step(
        rep,
        dry_run,
        "created",
        ".thrum/identities/ (local to this worktree)",
        !thrum.join("identities").is_dir(),
        || std::fs::create_dir_all(thrum.join("identities")).map_err(Into::into),
    )?;
    if !dry_run {
        std::fs::create_dir_all(thrum.join("context")).context("create .thrum/context")?;
    }
    let want = format!("{}\n", main_thrum.display());
    let have = std::fs::read_to_string(thrum.join("redirect")).unwrap_or_default();
    step(rep, dry_run, "created", ".thrum/redirect", have != want, || {
        thrum_core::fs::write_file(&thrum.join("redirect"), want.as_bytes()).map_err(Into::into)
    })?;
    // The worktree gets the hooks its main worktree has (or those of
    // --runtime): an agent started here is reached like one there.
    let mut dialects = crate::commands::hook::installed(main_root);
    for d in extra.iter().copied() {
        if !dialects.contains(&d) {
            dialects.push(d);
        }
    }
    for d in dialects {
        let o = crate::commands::hook::install(d, root, false, false, dry_run)?;
        note_outcome(rep, "hooks", &o);
    }
    Ok(())
}

/// An existing config.json, parsed; refused (nothing changed) when it is
/// not valid JSON.
fn read_config(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        crate::config_err!("{} is not valid JSON ({e}): fix or remove it, then rerun `thrum init`", path.display())
    })
}

/// Puts a configuration write in the report.
fn note_outcome(rep: &mut Report, what: &str, o: &crate::commands::config_file::Outcome) {
    let what = format!("{what} for {}: {}", o.runtime, o.path);
    match o.action {
        "created" | "printed" => rep.created.push(what),
        "updated" => rep.updated.push(what),
        _ => rep.unchanged.push(what),
    }
}

/// The main worktree's root, from the common git dir (`…/.git`).
pub(crate) fn main_root_of(common: &Path) -> Option<PathBuf> {
    if common.file_name().is_some_and(|n| n == ".git") { common.parent().map(Path::to_path_buf) } else { None }
}

fn step(
    rep: &mut Report,
    dry: bool,
    kind: &str,
    what: &str,
    needed: bool,
    f: impl FnOnce() -> Result<()>,
) -> Result<()> {
    if !needed {
        rep.unchanged.push(what.to_string());
        return Ok(());
    }
    if !dry {
        f().with_context(|| format!("create {what}"))?;
    }
    if kind == "updated" {
        rep.updated.push(what.to_string())
    } else {
        rep.created.push(what.to_string())
    }
    Ok(())
}

fn add_ignore(path: &Path, text: &str, header: &str) -> Result<()> {
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(header);
    out.push('\n');
    for l in IGNORE_LINES {
        if !text.lines().any(|x| x.trim() == *l) {
            out.push_str(l);
            out.push('\n');
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    thrum_core::fs::write_file(path, out.as_bytes()).context("write")
}

fn finish(ctx: &mut Ctx, rep: Report, worktree: bool) -> Result<u8> {
    let out = ctx.out;
    if !rep.dry_run && !rep.in_wizard {
        let nobody = ctx
            .layout()
            .map(|l| std::fs::read_dir(l.identities_dir()).map_or(true, |mut d| d.next().is_none()))
            .unwrap_or(false);
        if nobody {
            crate::hints::info(
                "init.next-quickstart",
                "no agent is registered here yet",
                &[("register", "thrum quickstart --name <name> --role <role> --module <module>".into())],
            );
        }
    }
    if out.json {
        out.json(&rep);
        return Ok(0);
    }
    // --quiet: success says nothing (a dry run still shows its plan).
    if out.quiet && !rep.dry_run {
        return Ok(0);
    }
    let prefix = if rep.dry_run { "Would create" } else { "Created" };
    if worktree {
        out.ok("Worktree detected — set up redirect to main repo");
        out.line(format!("  Redirect: .thrum/redirect → {}", rep.redirect));
    } else if rep.created.is_empty() && rep.updated.is_empty() {
        out.ok("Thrum already initialized (nothing to change)");
    } else if rep.dry_run {
        out.line("Dry run: nothing was changed.");
    } else {
        out.ok("Thrum initialized successfully");
    }
    out.line(format!("  Repository: {}", rep.repo_path));
    for c in &rep.created {
        out.line(format!("  {prefix}: {c}"));
    }
    for u in &rep.updated {
        out.line(format!("  {}: {u}", if rep.dry_run { "Would update" } else { "Updated" }));
    }
    match rep.local_only {
        Some(true) => {
            out.line("  Mode: local-only (messages stay in this clone; nothing is pushed to a remote)");
            out.line("  To sync through origin: thrum config set daemon.local_only false (or thrum init --sync)");
        }
        Some(false) => {
            out.line("  Mode: sync (messages go through origin's a-sync branch)");
            out.line("  To keep them local: thrum config set daemon.local_only true");
            if rep.restart_daemon {
                out.line("  The running daemon stays local-only until `thrum daemon restart`");
            }
        }
        None => {}
    }
    if let Some(agent) = &rep.agent {
        out.ok(format!(
            "Registered @{} (role {}, module {}) and started its session",
            agent["name"].as_str().unwrap_or(""),
            agent["role"].as_str().unwrap_or(""),
            agent["module"].as_str().unwrap_or("")
        ));
    } else if !rep.dry_run && !rep.in_wizard {
        out.line("");
        out.line("Done. Run 'thrum quickstart --name <name> --role <role> --module <module>' to register an agent.");
    }
    Ok(0)
}

/// `thrum init --skills`: the skill file (Claude Code) or the thrum block
/// in the runtime's instruction file, and nothing else.
fn install_skills(ctx: &mut Ctx, a: &InitArgs) -> Result<u8> {
    let out = ctx.out;
    let name = match &a.runtime {
        Some(r) => r.clone(),
        None => super::runtime::effective(ctx).0,
    };
    let rt = crate::runtimes::get(&name).ok_or_else(|| anyhow::anyhow!(crate::runtimes::unknown(&name)))?;
    let root = super::config::repo_root(ctx);
    let (path, status) = match rt.skill {
        Some(skill) => {
            let path = root.join(skill);
            let text = super::agent_docs::skill_file();
            let status = match std::fs::read_to_string(&path) {
                Ok(old) if old == text => "current",
                Ok(_) => "replaced",
                Err(_) => "created",
            };
            if status != "current" && !a.dry_run {
                super::agent_docs::write_atomic(&path, &text)?;
            }
            (path, status)
        }
        None => {
            let path = root.join(rt.instructions);
            let (_, status) = super::agent_docs::apply_to(&path, false, a.dry_run)?;
            (path, status)
        }
    };
    if out.json {
        out.json(&serde_json::json!({ "runtime": rt.name, "file": path, "status": status, "dry_run": a.dry_run }));
    } else {
        let verb = match (status, a.dry_run) {
            ("current", _) => "Already current:",
            (_, true) => "Would write",
            ("created", _) => "Created",
            _ => "Updated",
        };
        out.ok(format!("{verb} {} (thrum instructions for {})", path.display(), rt.label));
    }
    Ok(0)
}

/// The non_git_bootstrap guard, for `init` outside a git repository: its
/// mode comes from a `.thrum/` already there (a re-init); warn says so and
/// goes on as `--force` would.
fn non_git_refused(ctx: &Ctx, start: &std::path::Path) -> bool {
    use thrum_core::guard::{Guard, Mode, fired};
    let why = format!("{} is not in a git repository", start.display());
    match crate::identity::guards(&start.join(THRUM_DIR), ctx.out).mode(Guard::NonGitBootstrap) {
        Mode::Strict => true,
        Mode::Warn => {
            ctx.out.warn(fired(Guard::NonGitBootstrap, "not_a_git_repo", &why));
            false
        }
        Mode::Off => false,
    }
}
