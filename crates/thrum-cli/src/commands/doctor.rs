//! `thrum doctor [--json]`: is everything in place for mail to reach the
//! agents here? The daemon, the identity, and per runtime found: its MCP
//! configuration, its hooks (installed, pointing at a thrum that exists)
//! and when each hook last ran, so "installed but never fires" shows. Each
//! problem comes with the command that fixes it. Exit 1 when something
//! fails (a warning alone exits 0).

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use thrum_core::Layout;
use thrum_proto::methods::Empty;
use thrum_proto::methods::system as ym;

use crate::commands::{hook, mcp_config};
use crate::context::Ctx;
use crate::runtimes::{self, McpConfig, Probe, Runtime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
pub struct Check {
    /// daemon, identity, mcp, hooks, hooks-trust (Codex), hook-runs.
    pub check: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<&'static str>,
    pub status: Status,
    pub detail: String,
    /// The command that fixes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Serialize)]
struct HookRun {
    event: &'static str,
    /// RFC 3339, or null: never ran here.
    last_run: Option<String>,
}

#[derive(Debug, Serialize)]
struct RuntimeReport {
    name: &'static str,
    label: &'static str,
    /// How it was found: env, config or binary.
    found_by: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hook_runs: Vec<HookRun>,
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    checks: Vec<Check>,
    runtimes: Vec<RuntimeReport>,
}

fn check(check: &'static str, runtime: Option<&'static str>, status: Status, detail: String) -> Check {
    Check { check, runtime, status, detail, fix: None }
}

impl Check {
    fn fix(mut self, cmd: impl Into<String>) -> Check {
        if self.status != Status::Ok {
            self.fix = Some(cmd.into());
        }
        self
    }
}

pub fn run(ctx: &mut Ctx) -> Result<u8> {
    let layout = ctx.layout()?.clone();
    let root = layout.worktree_root.clone();
    let mut checks = vec![daemon(ctx, &layout), identity(&layout)];
    let probe = Probe::here(&root);
    let mut reports = Vec::new();
    for rt in runtimes::REGISTRY.iter().filter(|r| r.mcp.is_some() || r.hooks.is_some()) {
        let found_by = probe.detect(rt).tier();
        let hooks = rt.hooks.and_then(|d| hook::status(d, &root));
        if found_by.is_empty() && hooks.is_none() {
            continue;
        }
        if let Some(m) = rt.mcp {
            checks.push(mcp(rt, m, &root, probe.home.as_deref()));
        }
        let mut hook_runs = Vec::new();
        if let Some(d) = rt.hooks {
            let fix = format!("thrum setup hooks --runtime {}", rt.name);
            match &hooks {
                None => checks.push(
                    check(
                        "hooks",
                        Some(rt.name),
                        Status::Warn,
                        format!("no thrum hooks: new mail does not reach {}'s model unless it polls", rt.label),
                    )
                    .fix(fix),
                ),
                Some(st) => {
                    checks.push(hook_binaries(rt, st, &fix));
                    if d == runtimes::Hooks::Codex {
                        checks.extend(codex_trust(rt, &root));
                    }
                    for event in hook::status(d, &root).map(|s| s.events).unwrap_or_default() {
                        hook_runs.push(HookRun { event, last_run: hook::last_run(&layout, rt.name, event) });
                    }
                    if hook_runs.iter().all(|r| r.last_run.is_none()) {
                        checks.push(
                            check(
                                "hook-runs",
                                Some(rt.name),
                                Status::Warn,
                                format!("installed in {} but never ran here", st.file.display()),
                            )
                            .fix(format!(
                                "start a new {} session in {} (hooks are read at startup)",
                                rt.label,
                                root.display()
                            )),
                        );
                    }
                }
            }
        }
        reports.push(RuntimeReport { name: rt.name, label: rt.label, found_by, hook_runs });
    }
    let ok = checks.iter().all(|c| c.status != Status::Fail);
    let report = Report { ok, checks, runtimes: reports };
    print(ctx, &report);
    Ok(if ok { 0 } else { 1 })
}

fn daemon(ctx: &mut Ctx, layout: &Layout) -> Check {
    let running = thrum_client::pidfile::running_pid(&layout.lock_file(), &layout.pid_file());
    let Some(pid) = running else {
        return check("daemon", None, Status::Fail, "not running: hooks stay silent and nothing is delivered".into())
            .fix("thrum daemon start");
    };
    match ctx.try_client().map(|c| c.call::<ym::Health>(&Empty {})) {
        Some(Ok(h)) => check("daemon", None, Status::Ok, format!("running (PID {pid}, version {})", h.version)),
        Some(Err(e)) => {
            check("daemon", None, Status::Fail, format!("PID {pid} does not answer: {e}")).fix("thrum daemon restart")
        }
        None => check("daemon", None, Status::Fail, format!("PID {pid} holds the lock but its socket refuses"))
            .fix("thrum daemon restart"),
    }
}

fn identity(layout: &Layout) -> Check {
    match crate::identity::resolve(layout, None) {
        Ok(me) => check("identity", None, Status::Ok, format!("@{} (from {})", me.name, me.source)),
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default().to_string();
            // Several agents share the worktree: each one's runtime must say
            // which it is; a person running doctor may well not.
            if !crate::identity::names(layout).is_empty() && text.contains("THRUM_NAME") {
                return check("identity", None, Status::Warn, first)
                    .fix("set THRUM_NAME=<name> in each agent's environment (or run doctor with it)");
            }
            check("identity", None, Status::Fail, first)
                .fix("thrum quickstart --name <name> --role <role> --module <module>")
        }
    }
}

fn mcp(rt: &Runtime, m: McpConfig, root: &Path, home: Option<&Path>) -> Check {
    let fix = format!("thrum setup mcp --runtime {}", rt.name);
    let path: PathBuf = match m {
        McpConfig::Json(rel) => root.join(rel),
        McpConfig::CodexToml => home.map(|h| h.join(".codex/config.toml")).unwrap_or_default(),
    };
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return check("mcp", Some(rt.name), Status::Warn, format!("{shown} does not exist: no thrum MCP tools"))
                .fix(fix);
        }
        Err(e) => return check("mcp", Some(rt.name), Status::Fail, format!("cannot read {shown}: {e}")).fix(fix),
    };
    let has = match m {
        McpConfig::Json(_) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => v.pointer("/mcpServers/thrum").is_some(),
            Err(e) => {
                return check("mcp", Some(rt.name), Status::Fail, format!("{shown} is not valid JSON ({e})"))
                    .fix(format!("fix {shown} by hand, then {fix}"));
            }
        },
        McpConfig::CodexToml => mcp_config::merge_codex(Some(&text), &mcp_config::entry(None)).is_none(),
    };
    if has {
        check("mcp", Some(rt.name), Status::Ok, format!("{shown} starts `thrum mcp serve`"))
    } else {
        check("mcp", Some(rt.name), Status::Warn, format!("{shown} has no thrum server")).fix(fix)
    }
}

/// Codex skips hooks it has not been told to trust, silently: whether it
/// trusts the project (else it does not read `.codex/hooks.json`) and each
/// of thrum's hooks.
fn codex_trust(rt: &Runtime, root: &Path) -> Option<Check> {
    let t = hook::codex::trust(root, &hook::codex::codex_home()?)?;
    let fix = format!("start codex in {}, trust the folder, then type /hooks and trust thrum's hooks", root.display());
    if !t.project_trusted {
        return Some(
            check(
                "hooks-trust",
                Some(rt.name),
                Status::Fail,
                "Codex does not trust this project, so it does not read .codex/hooks.json".into(),
            )
            .fix(fix),
        );
    }
    let pending = t.pending();
    if pending.is_empty() {
        return Some(check(
            "hooks-trust",
            Some(rt.name),
            Status::Ok,
            format!("Codex trusts thrum's {} hooks", t.hooks.len()),
        ));
    }
    let events: Vec<&str> = pending.iter().map(|h| h.event.as_str()).collect();
    Some(
        check(
            "hooks-trust",
            Some(rt.name),
            Status::Fail,
            format!(
                "{} of thrum's hooks are not trusted yet, so Codex skips them: {}",
                pending.len(),
                dedup(&events).join(", ")
            ),
        )
        .fix(fix),
    )
}

/// Whether every thrum hook command runs a thrum binary that exists.
fn hook_binaries(rt: &Runtime, st: &hook::HookStatus, fix: &str) -> Check {
    let mut missing: Vec<String> = Vec::new();
    for (_, cmd) in &st.commands {
        let bin = cmd.split_whitespace().next().unwrap_or_default();
        let exists = if bin.contains('/') { is_executable(Path::new(bin)) } else { on_path(bin) };
        if !exists && !missing.contains(&bin.to_string()) {
            missing.push(bin.to_string());
        }
    }
    let events: Vec<&str> = st.commands.iter().map(|(e, _)| e.as_str()).collect();
    if missing.is_empty() {
        check(
            "hooks",
            Some(rt.name),
            Status::Ok,
            format!("{}: {} thrum hooks ({})", st.file.display(), st.commands.len(), dedup(&events).join(", ")),
        )
    } else {
        check(
            "hooks",
            Some(rt.name),
            Status::Fail,
            format!("{} runs {}, which does not exist", st.file.display(), missing.join(", ")),
        )
        .fix(fix)
    }
}

fn dedup<'a>(v: &[&'a str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for x in v {
        if !out.contains(x) {
            out.push(x);
        }
    }
    out
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| is_executable(&d.join(bin))))
}

fn print(ctx: &mut Ctx, r: &Report) {
    let out = ctx.out;
    if out.json {
        out.json(r);
        return;
    }
    for c in &r.checks {
        let mark = match c.status {
            Status::Ok => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
        };
        let who = c.runtime.map(|n| format!("{n} ")).unwrap_or_default();
        out.line(format!("{mark} {who}{}: {}", c.check, c.detail));
        if let Some(f) = &c.fix {
            out.line(format!("    fix: {f}"));
        }
    }
    for rt in r.runtimes.iter().filter(|rt| !rt.hook_runs.is_empty()) {
        let runs: Vec<String> = rt
            .hook_runs
            .iter()
            .map(|h| {
                let when = h.last_run.as_deref().map_or_else(|| "never".to_string(), crate::output::relative);
                format!("{} {when}", h.event)
            })
            .collect();
        out.line(format!("  {} hooks last ran: {}", rt.name, runs.join(", ")));
    }
    out.line(if r.ok {
        "No problems that stop delivery."
    } else {
        "Fix the ✗ lines above: mail may not reach your agents."
    });
}
