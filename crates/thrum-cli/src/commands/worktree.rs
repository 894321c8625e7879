//! `thrum worktree create|setup|teardown|list`: git worktrees for agents.
//! A new worktree goes under `worktrees.base_path`, is wired to this
//! repository's `.thrum/` (and `.beads/`), and with `--name --role
//! --module` gets its agent registered inside a new tmux session there.
//!
//! Everything here runs git and reads files in the caller's process; only
//! the tmux session (create, and kill at teardown) goes through the daemon,
//! which owns the sessions.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::json;
use thrum_core::identity::IdentityFile;
use thrum_core::layout::THRUM_DIR;
use thrum_core::settings::WorktreeSettings;
use thrum_git::Git;
use thrum_proto::methods::Empty;
use thrum_proto::methods::monitor as mo;
use thrum_proto::methods::tmux as tm;

use super::tmux::sessions::Registration;
use crate::context::Ctx;

#[derive(Debug, Subcommand)]
pub enum WorktreeCmd {
    /// Create a git worktree wired to this repository's thrum; with --name,
    /// --role and --module, register its agent in a new tmux session.
    #[command(visible_alias = "setup")]
    Create(CreateArgs),
    /// End the worktree's agents' tmux sessions, remove their identity
    /// files and the worktree (and with --delete-branch its branch).
    Teardown(TeardownArgs),
    /// Each worktree with its branch and the agents registered in it.
    List,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The worktree's folder name under worktrees.base_path (and the tmux
    /// session's name).
    pub name: String,
    /// The branch to check out, created from HEAD when it does not exist
    /// (default: feature/NAME).
    #[arg(long, short = 'b', conflicts_with = "detach")]
    pub branch: Option<String>,
    /// Check out HEAD detached (no branch).
    #[arg(long)]
    pub detach: bool,
    #[command(flatten)]
    pub agent: Registration,
}

#[derive(Debug, Args)]
pub struct TeardownArgs {
    /// The worktree's name (its folder's name), or its path.
    pub name: String,
    /// Delete the worktree's branch too (its last commit is printed, to
    /// bring it back with `git branch`).
    #[arg(long)]
    pub delete_branch: bool,
    /// Remove it even with uncommitted work (which is lost).
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &mut Ctx, cmd: WorktreeCmd) -> Result<u8> {
    match cmd {
        WorktreeCmd::Create(a) => create(ctx, a),
        WorktreeCmd::Teardown(a) => teardown(ctx, a),
        WorktreeCmd::List => list(ctx),
    }
}

/// The repository's main worktree (where `.thrum/` lives), from anywhere in
/// any of its worktrees.
fn main_root(ctx: &Ctx) -> Result<PathBuf> {
    let start = ctx.start_dir()?;
    let common = Git::new(&start).common_dir().map_err(|_| {
        anyhow::anyhow!("not a git repository: {}: run thrum worktree in a repository", start.display())
    })?;
    let root = super::init::main_root_of(&common)
        .ok_or_else(|| anyhow::anyhow!("{} has no main worktree (a bare repository?)", common.display()))?;
    if !root.join(THRUM_DIR).is_dir() {
        return Err(crate::config_err!("thrum is not set up in {}: run `thrum init` there first", root.display()));
    }
    Ok(root)
}

/// A worktree name: one folder name that is also a tmux session name.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.contains("..");
    if !ok {
        bail!(
            "invalid worktree name {name:?}: use letters, digits, '-', '_' and '.' (no '/', '\\' or '..'; not starting with '.' or '-')"
        );
    }
    Ok(())
}

/// Where new worktrees go: `worktrees.base_path` (absolute, or `~/…`), else
/// `~/.thrum/worktrees/<repository folder>`.
fn base_path(settings: &WorktreeSettings, main_root: &Path) -> Result<PathBuf> {
    let repo = main_root.file_name().map_or_else(|| "repo".into(), |n| n.to_string_lossy().into_owned());
    let written = settings.base_path.as_deref().map(str::trim);
    let path = thrum_core::env::expand_home(written.unwrap_or("~/.thrum/worktrees"))
        .ok_or_else(|| anyhow::anyhow!("HOME is not set: set worktrees.base_path to an absolute path"))?;
    let path = if written.is_none() { path.join(repo) } else { path };
    if !path.is_absolute() {
        bail!(
            "worktrees.base_path {:?} is not an absolute path: set one with `thrum config set worktrees.base_path /abs/path`",
            written.unwrap_or_default()
        );
    }
    Ok(normalize(&path))
}

/// `path` with `.` and `..` folded and symlinks resolved as far as it
/// exists (so two spellings of the repository root compare equal).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut lexical = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                lexical.pop();
            }
            c => lexical.push(c),
        }
    }
    let mut existing = lexical.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name().map(ToOwned::to_owned), existing.parent()) {
            (Some(n), Some(p)) => {
                rest.push(n);
                existing = p.to_path_buf();
            }
            _ => return lexical,
        }
    }
    let mut out = existing.canonicalize().unwrap_or(existing);
    out.extend(rest.into_iter().rev());
    out
}

fn settings(ctx: &mut Ctx) -> WorktreeSettings {
    let file = super::config::file_value(ctx, "worktrees").map(|w| json!({ "worktrees": w }));
    WorktreeSettings::resolve(&file.unwrap_or_default())
}

fn git_err(what: &str, e: thrum_git::GitError) -> anyhow::Error {
    let text = e.to_string();
    let line = text.lines().map(str::trim).find(|l| l.starts_with("fatal:") || l.starts_with("error:"));
    anyhow::anyhow!("{what} failed: {}", line.unwrap_or(text.trim()))
}

#[derive(Debug, Default, Serialize)]
struct Created {
    path: String,
    /// None when detached.
    branch: Option<String>,
    detached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    thrum_redirect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    beads_redirect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<String>,
    /// The command that starts the agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

pub fn create(ctx: &mut Ctx, a: CreateArgs) -> Result<u8> {
    // Every check before anything is written.
    check_name(&a.name)?;
    let reg = &a.agent;
    let given = [&reg.agent, &reg.role, &reg.module].iter().filter(|v| v.is_some()).count();
    if given != 0 && given != 3 {
        bail!("to register an agent give all of --name, --role and --module (or none of them for a bare worktree)");
    }
    let with_agent = given == 3;
    if with_agent {
        if a.name.contains('.') {
            bail!(
                "invalid worktree name {:?} with an agent: its tmux session takes the same name, which cannot hold '.'; use letters, digits, '-' and '_'",
                a.name
            );
        }
        let name = reg.agent.as_deref().unwrap_or_default();
        thrum_core::AgentName::parse(name).map_err(|e| anyhow::anyhow!("invalid --name: {e}"))?;
        for (flag, v) in [("--role", &reg.role), ("--module", &reg.module)] {
            thrum_core::name::validate_chars(v.as_deref().unwrap_or_default())
                .map_err(|e| anyhow::anyhow!("invalid {flag}: {e}"))?;
        }
        if let Some(rt) = &reg.runtime
            && crate::runtimes::get(rt).is_none()
        {
            bail!("{}", crate::runtimes::unknown(rt));
        }
        if !thrum_tmux::Tmux::new(None).installed() {
            bail!(
                "registering an agent needs tmux (its session is a tmux session): install tmux (apt-get install tmux / brew install tmux), or leave out --name/--role/--module"
            );
        }
    }
    let main = main_root(ctx)?;
    let settings = settings(ctx);
    let base = base_path(&settings, &main)?;
    let main_n = normalize(&main);
    if base == main_n {
        bail!(
            "worktrees.base_path is the repository itself ({}): set another with `thrum config set worktrees.base_path /abs/path`",
            main.display()
        );
    }
    let path = base.join(&a.name);
    if path == main_n {
        bail!("the worktree would be the repository itself ({}): pick another name", main.display());
    }
    if path.exists() {
        bail!(
            "{} already exists: pick another name, or remove it with `thrum worktree teardown {}`",
            path.display(),
            a.name
        );
    }
    let git = Git::new(&main);
    let branch = (!a.detach).then(|| a.branch.clone().unwrap_or_else(|| format!("feature/{}", a.name)));
    if let Some(b) = &branch {
        git.run(&["check-ref-format", "--branch", b]).map_err(|_| {
            anyhow::anyhow!("invalid branch name {b:?}: pick a name git accepts (e.g. feature/{})", a.name)
        })?;
    }

    std::fs::create_dir_all(&base)
        .with_context(|| format!("cannot create worktrees.base_path {}: pick a writable one", base.display()))?;
    let path_s = path.to_string_lossy().into_owned();
    let new_branch = branch.as_ref().is_some_and(|b| !git.ref_exists(&format!("refs/heads/{b}")));
    let mut args = vec!["worktree", "add", "--quiet"];
    match &branch {
        None => args.extend(["--detach", &path_s]),
        Some(b) if new_branch => args.extend(["-b", b.as_str(), &path_s]),
        Some(b) => args.extend([path_s.as_str(), b.as_str()]),
    }
    git.run(&args).map_err(|e| git_err("git worktree add", e))?;

    let undo = |git: &Git| {
        let _ = git.run(&["worktree", "remove", "--force", &path_s]);
        if let (true, Some(b)) = (new_branch, &branch) {
            let _ = git.run(&["branch", "-D", b]);
        }
    };
    let mut done = Created { path: path_s.clone(), branch: branch.clone(), detached: a.detach, ..Default::default() };
    if let Err(e) = wire(&path, &main, &settings, reg.runtime.as_deref(), &mut done) {
        undo(&git);
        return Err(e.context("setting up the new worktree failed; it was removed again"));
    }
    if with_agent {
        let params = tm::CreateParams {
            name: a.name.clone(),
            cwd: path_s.clone(),
            agent_name: reg.agent.clone().unwrap_or_default(),
            role: reg.role.clone().unwrap_or_default(),
            module: reg.module.clone().unwrap_or_default(),
            intent: reg.intent.clone().unwrap_or_default(),
            runtime: reg.runtime.clone().unwrap_or_default(),
            no_agent: false,
            force: reg.force,
        };
        match ctx.call::<tm::Create>(&params) {
            Ok(r) => {
                done.agent = r
                    .identity
                    .as_ref()
                    .and_then(|i| i.pointer("/agent/name"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                done.next = Some(format!("thrum tmux launch {}", r.session));
                done.session = Some(r.session);
            }
            Err(e) => {
                undo(&git);
                return Err(
                    e.context(format!("registering the agent failed; the worktree {} was removed again", a.name))
                );
            }
        }
    }
    report_created(ctx, &done);
    Ok(0)
}

/// Wires a new worktree: the thrum redirect and identities (with the main
/// worktree's hooks, and `runtime`'s), and the beads redirect.
fn wire(path: &Path, main: &Path, s: &WorktreeSettings, runtime: Option<&str>, done: &mut Created) -> Result<()> {
    if s.thrum_enabled {
        let extra: Vec<_> = runtime.and_then(crate::runtimes::get).and_then(|r| r.hooks).into_iter().collect();
        let mut rep = super::init::Report::default();
        super::init::link_worktree(&mut rep, path, main, &extra, false)?;
        done.thrum_redirect = Some(main.join(THRUM_DIR).display().to_string());
    }
    let main_beads = main.join(".beads");
    if s.beads_enabled && main_beads.is_dir() {
        let beads = path.join(".beads");
        std::fs::create_dir_all(&beads).with_context(|| format!("create {}", beads.display()))?;
        thrum_core::fs::write_file(&beads.join("redirect"), format!("{}\n", main_beads.display()).as_bytes())?;
        done.beads_redirect = Some(main_beads.display().to_string());
    }
    Ok(())
}

fn report_created(ctx: &Ctx, c: &Created) {
    let out = ctx.out;
    if out.json {
        out.json(c);
        return;
    }
    out.line(format!("Worktree created: {}", c.path));
    match &c.branch {
        Some(b) => out.line(format!("  Branch: {b}")),
        None => out.line("  Branch: (detached HEAD)"),
    }
    if let Some(r) = &c.thrum_redirect {
        out.line(format!("  Thrum: .thrum/redirect → {r}"));
    }
    if let Some(r) = &c.beads_redirect {
        out.line(format!("  Beads: .beads/redirect → {r}"));
    }
    if let Some(s) = &c.session {
        out.ok(format!("Session created: {s}"));
    }
    if let Some(agent) = &c.agent {
        out.ok(format!("Registered @{agent} in worktree"));
    }
    if let Some(next) = &c.next {
        out.line("  Agent is NOT running yet. Start it with:");
        out.line(format!("    {next} [--runtime <runtime>]"));
    }
}

/// One entry of `git worktree list --porcelain`.
#[derive(Debug, Clone, Default, Serialize)]
struct Entry {
    path: String,
    head: String,
    /// None when detached (or bare).
    branch: Option<String>,
    detached: bool,
    /// The main worktree (the first entry).
    main: bool,
    /// Its folder is gone (git would prune it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    missing: bool,
}

fn worktrees(main: &Path) -> Result<Vec<Entry>> {
    let text = Git::new(main).run(&["worktree", "list", "--porcelain"]).map_err(|e| git_err("git worktree list", e))?;
    let mut out = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut e = Entry::default();
        let mut bare = false;
        for line in block.lines() {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            match k {
                "worktree" => e.path = v.to_string(),
                "HEAD" => e.head = v.to_string(),
                "branch" => e.branch = Some(v.strip_prefix("refs/heads/").unwrap_or(v).to_string()),
                "detached" => e.detached = true,
                "bare" => bare = true,
                _ => {}
            }
        }
        // thrum's own a-sync worktree lives inside .git: not an agent's.
        let internal = Path::new(&e.path).starts_with(main.join(".git"));
        if !bare && !internal && !e.path.is_empty() {
            e.main = out.is_empty();
            e.missing = !Path::new(&e.path).is_dir();
            out.push(e);
        }
    }
    Ok(out)
}

/// The identity files registered in a worktree (its own `.thrum/identities`).
fn identities(worktree: &Path) -> Vec<(PathBuf, IdentityFile)> {
    let Ok(dir) = std::fs::read_dir(worktree.join(THRUM_DIR).join("identities")) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, IdentityFile)> = dir
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let id = IdentityFile::parse(&std::fs::read_to_string(&p).ok()?).ok()?;
            Some((p, id))
        })
        .collect();
    out.sort_by(|a, b| a.1.agent.name.cmp(&b.1.agent.name));
    out
}

#[derive(Debug, Serialize)]
struct Listed {
    #[serde(flatten)]
    entry: Entry,
    agents: Vec<serde_json::Value>,
}

pub fn list(ctx: &mut Ctx) -> Result<u8> {
    let main = main_root(ctx)?;
    let rows: Vec<Listed> = worktrees(&main)?
        .into_iter()
        .map(|entry| {
            let agents = identities(Path::new(&entry.path))
                .into_iter()
                .map(|(_, id)| {
                    json!({
                        "name": id.agent.name,
                        "role": id.agent.role,
                        "module": id.agent.module,
                        "status": id.agent_status,
                    })
                })
                .collect();
            Listed { entry, agents }
        })
        .collect();
    let out = ctx.out;
    if out.json {
        out.json(&json!({ "worktrees": rows }));
        return Ok(0);
    }
    let mut table: Vec<Vec<String>> = Vec::new();
    for r in &rows {
        let e = &r.entry;
        let branch = match (&e.branch, e.missing) {
            (_, true) => "(missing)".to_string(),
            (Some(b), _) => b.clone(),
            (None, _) => "(detached)".to_string(),
        };
        let head: String = e.head.chars().take(7).collect();
        let cell = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
        if r.agents.is_empty() {
            table.push(vec![e.path.clone(), branch.clone(), head.clone(), String::new(), String::new()]);
        }
        for ag in &r.agents {
            table.push(vec![e.path.clone(), branch.clone(), head.clone(), cell(ag, "name"), cell(ag, "status")]);
        }
    }
    out.table(&["WORKTREE", "BRANCH", "HEAD", "AGENT", "STATUS"], &table);
    Ok(0)
}

/// What `git status` shows in a worktree that thrum did not put there
/// itself (its `.thrum/`, the beads redirect, the hook files it installs).
fn uncommitted(path: &Path) -> Result<Vec<String>> {
    let text = Git::new(path)
        .run(&["status", "--porcelain=v1", "--untracked-files=all"])
        .map_err(|e| git_err("git status", e))?;
    let ours: Vec<PathBuf> = crate::runtimes::REGISTRY
        .iter()
        .filter_map(|r| r.hooks)
        .filter_map(|d| super::hook::status(d, path))
        .filter_map(|s| s.file.strip_prefix(path).ok().map(Path::to_path_buf))
        .collect();
    Ok(text
        .lines()
        .filter(|l| l.len() > 3)
        .filter(|l| {
            let file = l[3..].trim_matches('"');
            let untracked = l.starts_with("??");
            !(file.starts_with(".thrum/")
                || file == ".beads/redirect"
                || (untracked && ours.iter().any(|o| Path::new(file) == o)))
        })
        .map(str::to_string)
        .collect())
}

pub fn teardown(ctx: &mut Ctx, a: TeardownArgs) -> Result<u8> {
    let main = main_root(ctx)?;
    let all = worktrees(&main)?;
    let settings = settings(ctx);
    let by_path = |p: &Path| {
        let p = normalize(p);
        all.iter().find(|e| normalize(Path::new(&e.path)) == p).cloned()
    };
    let under_base = base_path(&settings, &main).ok().and_then(|b| by_path(&b.join(&a.name)));
    let named = || {
        let hits: Vec<&Entry> = all
            .iter()
            .filter(|e| !e.main && Path::new(&e.path).file_name().is_some_and(|n| n == a.name.as_str()))
            .collect();
        (hits.len() == 1).then(|| hits[0].clone())
    };
    let entry = under_base
        .or_else(|| a.name.contains('/').then(|| by_path(Path::new(&a.name))).flatten())
        .or_else(named)
        .ok_or_else(|| anyhow::anyhow!("no worktree named {:?}: see `thrum worktree list`", a.name))?;
    if entry.main {
        bail!("{} is the main worktree: it cannot be torn down", entry.path);
    }
    let path = PathBuf::from(&entry.path);
    if !entry.missing && !a.force {
        let dirty = uncommitted(&path)?;
        if !dirty.is_empty() {
            let shown: Vec<&str> = dirty.iter().take(5).map(String::as_str).collect();
            let more = if dirty.len() > 5 { format!(", and {} more", dirty.len() - 5) } else { String::new() };
            bail!(
                "{} has uncommitted work ({}{more}): commit or stash it, or rerun with --force to discard it",
                entry.path,
                shown.join(", ")
            );
        }
    }

    // The agents' sessions and the monitors running there first: a process
    // left running in a deleted folder fails confusingly.
    let ids = identities(&path);
    let names: Vec<String> = ids.iter().map(|(_, id)| id.agent.name.clone()).collect();
    let mut killed = Vec::new();
    let canon = normalize(&path);
    let sessions = ctx.call::<tm::Status>(&Empty {})?.sessions;
    for s in sessions {
        let inside = !s.cwd.is_empty() && normalize(Path::new(&s.cwd)).starts_with(&canon);
        if inside || (!s.agent.is_empty() && names.contains(&s.agent)) {
            ctx.call::<tm::Kill>(&tm::NameParams { name: s.name.clone() })
                .with_context(|| format!("ending tmux session {} failed; nothing was removed", s.name))?;
            killed.push(s.name);
        }
    }
    // Monitors running a command in it: their folder is about to go.
    let mut stopped = Vec::new();
    for m in ctx.call::<mo::List>(&mo::ListParams { all: false })?.monitors {
        let detail = ctx.call::<mo::Show>(&mo::IdParams { id: m.id.clone() })?;
        if normalize(Path::new(&detail.cwd)).starts_with(&canon) {
            ctx.call::<mo::Stop>(&mo::IdParams { id: m.id.clone() })
                .with_context(|| format!("stopping monitor {} failed; nothing was removed", m.name))?;
            stopped.push(m.name);
        }
    }
    for (file, _) in &ids {
        std::fs::remove_file(file).with_context(|| format!("remove {}", file.display()))?;
    }
    let git = Git::new(&main);
    if entry.missing {
        git.run(&["worktree", "prune"]).map_err(|e| git_err("git worktree prune", e))?;
    } else {
        git.run(&["worktree", "remove", "--force", &entry.path]).map_err(|e| git_err("git worktree remove", e))?;
    }
    let deleted = match (&entry.branch, a.delete_branch) {
        (Some(b), true) => {
            git.run(&["branch", "-D", b]).map_err(|e| git_err("git branch -D", e))?;
            Some(b.clone())
        }
        _ => None,
    };

    let out = ctx.out;
    if out.json {
        out.json(&json!({
            "path": entry.path,
            "branch": entry.branch,
            "sessions_killed": killed,
            "monitors_stopped": stopped,
            "identities_removed": names,
            "branch_deleted": deleted.is_some(),
            "head": entry.head,
        }));
        return Ok(0);
    }
    for s in &killed {
        out.ok(format!("Killed tmux session {s}"));
    }
    for m in &stopped {
        out.ok(format!("Stopped monitor {m} (its command ran in the worktree)"));
    }
    out.ok(format!("Cleaned up {} identity file(s)", names.len()));
    out.ok(format!("Worktree removed: {}", entry.path));
    if let Some(b) = deleted {
        let short: String = entry.head.chars().take(7).collect();
        out.ok(format!("Deleted branch {b} (was {short}; bring it back with `git branch {b} {short}`)"));
    } else if a.delete_branch {
        out.line("  (detached: no branch to delete)");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_safe_folder() {
        for ok in ["api", "api-feature", "hqy-100.wt", "a_b"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "a\\b", "..", "a..b", ".hidden", "-x", "a b", "a:b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn base_paths_are_absolute_or_home() {
        let s = |p: Option<&str>| WorktreeSettings {
            base_path: p.map(String::from),
            thrum_enabled: true,
            beads_enabled: true,
        };
        let main = Path::new("/srv/repos/proj");
        let home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
        if !home.as_os_str().is_empty() {
            assert_eq!(base_path(&s(None), main).ok(), Some(normalize(&home.join(".thrum/worktrees/proj"))));
            assert_eq!(base_path(&s(Some("~/wt")), main).ok(), Some(normalize(&home.join("wt"))));
        }
        assert_eq!(base_path(&s(Some("/nowhere/x/../wt")), main).ok(), Some(PathBuf::from("/nowhere/wt")));
        assert!(base_path(&s(Some("relative/wt")), main).is_err());
    }
}
