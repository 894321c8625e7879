//! `thrum init` on a terminal: the original's short wizard (set-up,
//! identity, worktrees root, role templates, daemon). Every prompt is one
//! line on stderr with its `[default]` (pre-filled by the flags), so Enter
//! throughout gives the recommended set-up. Each answer's step runs the
//! same code as the silent path. Transactional: Ctrl-C, end of input or a
//! failed step puts `.gitignore` and `.git/info/exclude` back byte for byte.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use anyhow::Result;
use thrum_git::Git;

use super::init::{self, InitArgs};
use crate::context::Ctx;

/// Exit code after Ctrl-C (128 + SIGINT), as a shell reports it.
const INTERRUPTED: u8 = 130;

/// The wizard runs when a person is at the terminal and asked for nothing
/// that rules it out.
pub fn wanted(ctx: &Ctx, a: &InitArgs) -> bool {
    !a.non_interactive
        && !a.dry_run
        && !a.skills
        && !ctx.out.json
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
}

/// Ctrl-C or the end of input while the wizard ran.
#[derive(Debug)]
struct Aborted(&'static str);

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Aborted {}

pub fn run(ctx: &mut Ctx, a: InitArgs) -> Result<u8> {
    let start = ctx.start_dir()?;
    let git = Git::new(&start);
    let root = git.toplevel().unwrap_or_else(|_| start.clone());
    let common = git.common_dir().ok();
    let mut files = vec![root.join(".gitignore")];
    files.extend(common.as_ref().map(|c| c.join("info").join("exclude")));
    let snapshot = Snapshot::take(&files);
    let term = Term::open();
    note("thrum init: Enter accepts each [default]; Ctrl-C stops and puts .gitignore and .git/info/exclude back.");
    let result = steps(ctx, a, &term, &root, common.is_some());
    let result = match result {
        Ok(_) if term.interrupted.load(Ordering::SeqCst) => Err(Aborted("interrupted").into()),
        r => r,
    };
    let Err(e) = result else { return Ok(0) };
    let restored = snapshot.restore();
    let what = files.iter().map(|f| rel(&root, f)).collect::<Vec<_>>().join(" and ");
    match restored {
        Ok(()) => note(format!(
            "thrum init: restored {what} byte for byte (anything else already set up stays: rerun `thrum init` to finish)"
        )),
        Err(r) => note(format!("thrum init: could not restore {what}: {r:#}")),
    }
    match e.downcast_ref::<Aborted>() {
        Some(why) => {
            note(format!("thrum init: {why}"));
            Ok(INTERRUPTED)
        }
        None => Err(e),
    }
}

/// A line on stderr, with the prompts (stdout keeps the steps' reports).
fn note(msg: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr().lock(), "{}", msg.as_ref());
}

fn rel(root: &Path, p: &Path) -> String {
    match p.strip_prefix(root) {
        Ok(r) => r.display().to_string(),
        Err(_) => p.display().to_string(),
    }
}

fn steps(ctx: &mut Ctx, mut a: InitArgs, term: &Term, root: &Path, in_git: bool) -> Result<()> {
    // A value given by a flag is taken as it is: its prompt is skipped (a
    // line says what was taken), so with every flag given the wizard runs
    // through without a question.
    // 1. Set-up: the silent path, with what its flags give.
    if a.sync {
        given("Sync messages through origin's a-sync branch", "yes", "--sync");
    } else {
        a.sync = term.yes("Sync messages through origin's a-sync branch?", false)?;
    }
    if in_git && !a.stealth {
        a.stealth = term.yes("Keep thrum out of .gitignore (use .git/info/exclude)?", false)?;
    } else if a.stealth {
        given("Keep thrum out of .gitignore", "yes", "--stealth");
    }
    let rt = match a.runtime.clone() {
        Some(rt) => {
            given("Runtime to set up", &rt, "--runtime");
            rt
        }
        None => loop {
            let rt = term.ask("Runtime to set up (claude, codex, cursor, gemini, …, all, none)", "none")?;
            if rt == "none" || rt == "all" || crate::runtimes::get(&rt).is_some() {
                break rt;
            }
            note(format!("  {}", crate::runtimes::unknown(&rt)));
        },
    };
    a.runtime = (rt != "none").then_some(rt);
    let agent = (a.agent_name.take(), a.agent_role.take(), a.agent_module.take());
    a.non_interactive = true;
    a.in_wizard = true;
    term.step(init::run(ctx, a.clone()))?;

    // 2. Identity: registered and its session started, as quickstart does
    // (the three flags come together, checked by `init`).
    let (name, role, module) = match agent {
        (Some(name), Some(role), Some(module)) => {
            given(
                "Agent",
                &format!("@{name} (role {role}, module {module})"),
                "--agent-name/--agent-role/--agent-module",
            );
            (name, role, module)
        }
        _ => {
            let check = |v: &str| thrum_core::name::validate_chars(v).map_err(|e| e.to_string());
            let role = term.ask_valid("Agent role", "coordinator", check)?;
            let module = term.ask_valid("Agent module", "main", check)?;
            let name = term.ask_valid("Agent name (none: register later)", &format!("{role}_{module}"), |v| {
                if v == "none" {
                    return Ok(());
                }
                thrum_core::AgentName::parse(v).map_err(|e| e.to_string())?;
                if v.trim_start_matches('@') == role {
                    return Err(format!("the name cannot be the role: try {role}_{module}"));
                }
                Ok(())
            })?;
            (name, role, module)
        }
    };
    if name != "none" {
        term.step(init::register_agent(ctx, &name, &role, &module, a.runtime.as_deref()))?;
        ctx.out.ok(format!("Registered @{name} (role {role}, module {module}) and started its session"));
    }

    // 3. Worktrees root, recorded as worktrees.base_path.
    let wt = match &a.worktrees_root {
        Some(wt) => {
            let wt = worktrees_root(wt, root).map_err(anyhow::Error::msg)?;
            given("Worktrees root", &wt, "--worktrees-root");
            wt
        }
        None => {
            let project = root.file_name().map_or_else(|| "project".into(), |n| n.to_string_lossy().into_owned());
            term.ask_valid("Worktrees root", &format!("~/.thrum/worktrees/{project}"), |v| {
                worktrees_root(v, root).map(drop)
            })
            .and_then(|v| worktrees_root(&v, root).map_err(anyhow::Error::msg))?
        }
    };
    term.step(super::config::edit(ctx, |c| c["worktrees"]["base_path"] = serde_json::json!(wt)))?;
    ctx.out.ok(format!("Worktrees root: {wt}"));

    // 4. Role templates into .thrum/role_templates/.
    let templates = match a.roles.as_deref() {
        Some(choice) => {
            given("Role templates", choice, "--roles");
            choice != "skip"
        }
        None => term.yes("Install the shipped role templates into .thrum/role_templates/?", true)?,
    };
    if templates {
        let cmd = super::roles::RolesCmd::Refresh { force: false, dry_run: false };
        term.step(super::roles::run(ctx, cmd).map(|_| ()))?;
    }

    // 5. The daemon, in the background.
    let start = if a.no_daemon {
        given("Start the daemon now", "no", "--no-daemon");
        false
    } else {
        term.yes("Start the daemon now?", true)?
    };
    if start {
        let cmd = super::daemon::DaemonCmd::Start(super::daemon::StartArgs { local: false, force: a.force });
        term.step(super::daemon::run(ctx, cmd).map(|_| ()))?;
    }
    Ok(())
}

/// Says which value a flag gave in place of a prompt.
fn given(what: &str, value: &str, flag: &str) {
    note(format!("{what}: {value} (from {flag})"));
}

/// A worktrees root as written to config.json: `~/…` expanded, absolute,
/// not the repository itself or inside it.
pub(crate) fn worktrees_root(v: &str, repo: &Path) -> Result<String, String> {
    let path = thrum_core::env::expand_home(v.trim()).unwrap_or_default();
    if !path.is_absolute() {
        return Err(format!("the worktrees root must be an absolute path (or ~/…), not {v:?}"));
    }
    let repo = repo.canonicalize().unwrap_or_else(|_| repo.to_path_buf());
    if path.starts_with(&repo) {
        return Err(format!("the worktrees root must be outside the repository ({}): pick another", repo.display()));
    }
    Ok(path.display().to_string())
}

/// `.gitignore` and `.git/info/exclude` as they were: content or absence.
struct Snapshot(Vec<(PathBuf, Option<Vec<u8>>)>);

impl Snapshot {
    fn take(files: &[PathBuf]) -> Snapshot {
        Snapshot(files.iter().map(|f| (f.clone(), std::fs::read(f).ok())).collect())
    }

    fn restore(&self) -> Result<()> {
        for (path, before) in &self.0 {
            match before {
                Some(bytes) if std::fs::read(path).ok().as_ref() != Some(bytes) => std::fs::write(path, bytes)?,
                None if path.exists() => std::fs::remove_file(path)?,
                _ => {}
            }
        }
        Ok(())
    }
}

enum Input {
    Line(String),
    Eof,
    Interrupt,
}

/// The terminal: lines from stdin and Ctrl-C, one channel. SIGINT is
/// caught (tokio's handler) so the wizard can restore before exiting.
struct Term {
    rx: mpsc::Receiver<Input>,
    interrupted: Arc<AtomicBool>,
}

impl Term {
    fn open() -> Term {
        let (tx, rx) = mpsc::channel();
        let interrupted = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let (sig_tx, flag) = (tx.clone(), interrupted.clone());
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                let _ = ready_tx.send(());
                return;
            };
            rt.block_on(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let sig = signal(SignalKind::interrupt());
                let _ = ready_tx.send(());
                let Ok(mut sig) = sig else { return };
                while sig.recv().await.is_some() {
                    flag.store(true, Ordering::SeqCst);
                    let _ = sig_tx.send(Input::Interrupt);
                }
            });
        });
        // The handler is in place before the first prompt.
        let _ = ready_rx.recv();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            loop {
                let mut line = String::new();
                let msg = match stdin.lock().read_line(&mut line) {
                    Ok(0) | Err(_) => Input::Eof,
                    Ok(_) => Input::Line(line.trim().to_string()),
                };
                let eof = matches!(msg, Input::Eof);
                if tx.send(msg).is_err() || eof {
                    return;
                }
            }
        });
        Term { rx, interrupted }
    }

    /// A step's outcome, and Ctrl-C pressed while it ran.
    fn step<T>(&self, r: Result<T>) -> Result<T> {
        let v = r?;
        if self.interrupted.load(Ordering::SeqCst) {
            return Err(Aborted("interrupted").into());
        }
        Ok(v)
    }

    fn ask(&self, q: &str, default: &str) -> Result<String> {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{q} [{default}]: ");
        let _ = err.flush();
        drop(err);
        match self.rx.recv() {
            Ok(Input::Line(l)) if l.is_empty() => Ok(default.to_string()),
            Ok(Input::Line(l)) => Ok(l),
            Ok(Input::Interrupt) => {
                note("");
                Err(Aborted("interrupted").into())
            }
            Ok(Input::Eof) | Err(_) => {
                note("");
                Err(Aborted("stopped: end of input").into())
            }
        }
    }

    fn ask_valid(&self, q: &str, default: &str, ok: impl Fn(&str) -> Result<(), String>) -> Result<String> {
        loop {
            let v = self.ask(q, default)?;
            match ok(&v) {
                Ok(()) => return Ok(v),
                Err(e) => note(format!("  {e}")),
            }
        }
    }

    fn yes(&self, q: &str, default: bool) -> Result<bool> {
        let shown = if default { "Y/n" } else { "y/N" };
        loop {
            match self.ask(q, shown)?.to_ascii_lowercase().as_str() {
                "y/n" => return Ok(default),
                "y" | "yes" => return Ok(true),
                "n" | "no" => return Ok(false),
                _ => note(format!("  answer y or n (Enter: {})", if default { "yes" } else { "no" })),
            }
        }
    }
}
