//! `tmux.create`, `tmux.launch`, `tmux.status`, `tmux.kill`, `tmux.send`,
//! `tmux.capture`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use thrum_core::name::AgentName;
use thrum_core::runtimes;
use thrum_proto::methods::Empty;
use thrum_proto::methods::tmux::*;
use thrum_tmux::NewSession;

use super::{Live, OPT_AGENT, OPT_CWD, OPT_DIR, OPT_RUNTIME, Record, blocking, tmux_fail};
use crate::caller::Caller;
use crate::error::{HResult, bad_params, server};
use crate::state::State;

/// How long `create` waits for the agent to be registered in the pane.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(20);

/// A running runtime whose pane printed nothing for this long is `idle`.
const IDLE_AFTER_SECS: u64 = 120;

/// Shells: a pane whose foreground process is one of these runs no runtime.
const SHELLS: &[&str] = &["bash", "zsh", "sh", "dash", "fish", "ksh", "tcsh", "csh", "mksh", "thrum"];

/// Whether a pane's foreground process is a shell (no runtime runs).
pub(crate) fn is_shell_process(command: &str) -> bool {
    SHELLS.contains(&command)
}

fn check_name(name: &str) -> HResult<()> {
    let ok =
        !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(bad_params(format!("invalid session name {name:?}: use letters, digits, - and _ (at most 64)")))
    }
}

pub async fn create(state: &State, _: &Caller, p: CreateParams) -> HResult<CreateResult> {
    check_name(&p.name)?;
    let cwd = PathBuf::from(&p.cwd);
    if !cwd.is_absolute() || !cwd.is_dir() {
        return Err(bad_params(format!("cwd {:?} is not an existing absolute directory", p.cwd)));
    }
    let agent = if p.no_agent {
        None
    } else {
        if p.agent_name.is_empty() || p.role.is_empty() || p.module.is_empty() {
            return Err(bad_params(
                "tmux.create needs agent_name, role and module (to register the agent in the session), or no_agent for a bare session",
            ));
        }
        Some(AgentName::parse(&p.agent_name).map_err(|e| bad_params(format!("invalid agent name: {e}")))?.to_string())
    };
    if !p.runtime.is_empty() && runtimes::get(&p.runtime).is_none() {
        return Err(bad_params(runtimes::unknown(&p.runtime)));
    }
    let mut command = shell_command()?;
    if let Some(a) = &agent {
        command.extend([
            "--name".into(),
            a.clone(),
            "--role".into(),
            p.role.clone(),
            "--module".into(),
            p.module.clone(),
        ]);
        if !p.intent.is_empty() {
            command.extend(["--intent".into(), p.intent.clone()]);
        }
        if !p.runtime.is_empty() {
            command.extend(["--runtime".into(), p.runtime.clone()]);
        }
        if p.force {
            command.push("--force".into());
        }
    }
    let st = state.clone();
    let (name, agent_opt, force) = (p.name.clone(), agent.clone().unwrap_or_default(), p.force);
    let cwd2 = cwd.clone();
    blocking(move || {
        let m = &st.tmux;
        if m.tmux.has_session(&name) {
            let ours = m.live().map_err(tmux_fail)?.iter().any(|s| s.name == name);
            if !force || !ours {
                let fix = if ours {
                    format!("pass --force to replace it, or `thrum tmux kill {name}`")
                } else {
                    "it is not managed by this repository's thrum: pick another name".to_string()
                };
                return Err(server(format!("tmux session {name:?} already exists: {fix}")));
            }
            m.tmux.kill_session(&name).map_err(tmux_fail)?;
        }
        open_session(m, &name, &cwd2, &agent_opt, command)
    })
    .await?;

    let Some(agent) = agent else {
        return Ok(CreateResult { session: p.name, identity: None });
    };
    // The agent registers itself inside the pane (`thrum tmux shell`), so
    // its identity is bound to the pane's processes; wait for its file.
    let deadline = tokio::time::Instant::now() + REGISTER_TIMEOUT;
    let path = super::identity_path(&cwd, &agent)
        .ok_or_else(|| server(format!("{} is not in a repository set up for thrum: run `thrum setup` there", p.cwd)))?;
    loop {
        if super::read_identity(&cwd, &agent).is_some() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let shown = pane_tail(state, &p.name, 12).await;
            return Err(server(format!(
                "registering @{agent} in tmux session {} did not finish within {} s (no {}); its pane shows:\n{shown}",
                p.name,
                REGISTER_TIMEOUT.as_secs(),
                path.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let target = pane_target(state, &p.name).await;
    super::update_identity(&cwd, &agent, |f| {
        f.other.insert("tmux_session".into(), target.into());
    })?;
    let identity = super::read_identity(&cwd, &agent).and_then(|(_, f)| serde_json::to_value(f).ok());
    Ok(CreateResult { session: p.name, identity })
}

/// Opens a managed session `name` in `cwd` whose pane runs `command`,
/// tagged as ours and recorded (no runtime yet). Blocking.
pub(crate) fn open_session(
    m: &super::Manager,
    name: &str,
    cwd: &Path,
    agent: &str,
    command: Vec<String>,
) -> HResult<()> {
    let options = vec![
        (OPT_DIR, m.tag.clone()),
        (OPT_AGENT, agent.to_string()),
        (OPT_CWD, cwd.to_string_lossy().into_owned()),
        (OPT_RUNTIME, String::new()),
    ];
    m.tmux.new_session(&NewSession { name, cwd, command, options, width: 200, height: 50 }).map_err(tmux_fail)?;
    m.set_record(
        name,
        Some(Record {
            cwd: cwd.to_string_lossy().into_owned(),
            agent: agent.to_string(),
            runtime: String::new(),
            created_at: thrum_core::time::now_rfc3339(),
        }),
    )
}

/// The pane's first process: `thrum tmux shell` (this executable).
pub(crate) fn shell_command() -> HResult<Vec<String>> {
    let exe = std::env::current_exe().map_err(|e| server(format!("cannot find the thrum executable: {e}")))?;
    Ok(vec![exe.to_string_lossy().into_owned(), "tmux".into(), "shell".into()])
}

/// The runtime to start: asked for, else the agent's preferred one, else
/// `runtime.primary`, else claude.
fn resolve_runtime(state: &State, asked: &str, preferred: &str) -> HResult<&'static runtimes::Runtime> {
    let configured = crate::load_config(&state.layout)
        .ok()
        .and_then(|c| c.other.get("runtime")?.get("primary")?.as_str().map(str::to_string))
        .unwrap_or_default();
    let name = [asked, preferred, configured.as_str(), runtimes::DEFAULT]
        .into_iter()
        .find(|n| !n.is_empty())
        .unwrap_or(runtimes::DEFAULT);
    runtimes::get(name).ok_or_else(|| bad_params(runtimes::unknown(name)))
}

pub async fn launch(state: &State, _: &Caller, p: LaunchParams) -> HResult<LaunchResult> {
    let st = state.clone();
    let name = p.name.clone();
    let live = blocking(move || st.tmux.ours(&name)).await?;
    let cwd = PathBuf::from(&live.cwd);
    let no_identity = || {
        server(format!(
            "tmux session {0} has no agent identity: run `thrum quickstart --name NAME --role ROLE --module MODULE` inside it, or recreate it with `thrum tmux create {0} --cwd DIR --name NAME --role ROLE --module MODULE --force`",
            p.name
        ))
    };
    if live.agent.is_empty() {
        return Err(no_identity());
    }
    let (_, identity) = super::read_identity(&cwd, &live.agent).ok_or_else(no_identity)?;
    let runtime = resolve_runtime(state, &p.runtime, &identity.preferred_runtime)?;
    let st = state.clone();
    let name = p.name.clone();
    let target = blocking(move || {
        let t = &st.tmux.tmux;
        let pane = t.pane(&name).map_err(tmux_fail)?;
        if !SHELLS.contains(&pane.current_command.as_str()) {
            return Err(server(format!(
                "tmux session {name} already runs {}: restart it with `thrum tmux restart {name}`",
                pane.current_command
            )));
        }
        if let Some(bin) = runtime.launch() {
            t.send_text(&name, bin).map_err(tmux_fail)?;
            t.send_keys(&name, &["Enter"]).map_err(tmux_fail)?;
        }
        t.set_option(&name, OPT_RUNTIME, runtime.name).map_err(tmux_fail)?;
        if let Some(mut r) = st.tmux.record(&name) {
            r.runtime = runtime.name.to_string();
            st.tmux.set_record(&name, Some(r))?;
        }
        Ok(pane.target)
    })
    .await?;
    super::update_identity(&cwd, &live.agent, |f| {
        f.runtime = runtime.name.to_string();
        f.other.insert("tmux_session".into(), target.into());
    })?;
    Ok(LaunchResult { session: p.name, runtime: runtime.name.to_string() })
}

pub async fn status(state: &State, _: &Caller, _: Empty) -> HResult<StatusResult> {
    let st = state.clone();
    blocking(move || {
        let m = &st.tmux;
        let live = m.live().map_err(tmux_fail)?;
        let panes = m.tmux.all_panes().map_err(tmux_fail)?;
        let blocked = super::permission::blocked(&st.layout.var_dir());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let mut sessions: Vec<SessionInfo> = live
            .iter()
            .map(|s| {
                let pane = panes.iter().find(|(n, _)| *n == s.name).map(|(_, p)| p);
                let running = pane.is_some_and(|p| !p.dead && !SHELLS.contains(&p.current_command.as_str()));
                let alive = s.agent.is_empty() || s.runtime.is_empty() || running || is_shell(&s.runtime);
                // A runtime that printed nothing for a while is idle (the
                // window's last output, as tmux keeps it).
                let quiet_since = pane.map(|p| p.activity).unwrap_or(0);
                let state = if running && blocked.contains(&s.name) {
                    "blocked"
                } else if !alive {
                    "stale"
                } else if running && quiet_since > 0 && now.saturating_sub(quiet_since) > IDLE_AFTER_SECS {
                    "idle"
                } else {
                    "alive"
                };
                info(s, state, pane.map(|p| p.target.clone()).unwrap_or_default())
            })
            .collect();
        for (name, r) in m.records() {
            if !live.iter().any(|s| s.name == name) {
                let gone = Live { name, agent: r.agent, runtime: r.runtime, cwd: r.cwd };
                sessions.push(info(&gone, "dead", String::new()));
            }
        }
        sessions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(StatusResult { sessions })
    })
    .await
}

fn is_shell(runtime: &str) -> bool {
    runtimes::get(runtime).is_some_and(|r| r.launch().is_none())
}

fn info(s: &Live, state: &str, target: String) -> SessionInfo {
    let identity = (!s.agent.is_empty()).then(|| super::read_identity(Path::new(&s.cwd), &s.agent)).flatten();
    let (role, module, mut branch) =
        identity.map(|(_, f)| (f.agent.role.clone(), f.agent.module.clone(), f.branch.clone())).unwrap_or_default();
    if branch.is_empty() {
        branch = git_branch(Path::new(&s.cwd));
    }
    SessionInfo {
        name: s.name.clone(),
        agent: s.agent.clone(),
        role,
        module,
        state: state.into(),
        runtime: s.runtime.clone(),
        branch,
        cwd: s.cwd.clone(),
        target,
    }
}

/// The branch checked out at `dir` (empty when unknown).
fn git_branch(dir: &Path) -> String {
    std::process::Command::new("git")
        .args(["symbolic-ref", "--short", "-q", "HEAD"])
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub async fn kill(state: &State, _: &Caller, p: NameParams) -> HResult<Option<Empty>> {
    let st = state.clone();
    let name = p.name.clone();
    let live = blocking(move || {
        let live = st.tmux.ours(&name)?;
        st.tmux.tmux.kill_session(&name).map_err(tmux_fail)?;
        st.tmux.set_record(&name, None)?;
        Ok(live)
    })
    .await?;
    super::queue::interrupt_session(state, &p.name, "its tmux session was killed").await;
    if !live.agent.is_empty() {
        super::update_identity(Path::new(&live.cwd), &live.agent, |f| {
            f.other.remove("tmux_session");
        })?;
    }
    Ok(None)
}

pub async fn send(state: &State, _: &Caller, p: SendParams) -> HResult<Option<Empty>> {
    if p.text.is_empty() && p.no_enter {
        return Err(bad_params("text is required"));
    }
    let st = state.clone();
    let lock = state.tmux.typing(&p.name);
    blocking(move || {
        st.tmux.ours(&p.name)?;
        let _typing = lock.lock().unwrap_or_else(|p| p.into_inner());
        let t = &st.tmux.tmux;
        t.send_text(&p.name, &p.text).map_err(tmux_fail)?;
        if !p.no_enter {
            t.send_keys(&p.name, &["Enter"]).map_err(tmux_fail)?;
        }
        Ok(None)
    })
    .await
}

pub async fn capture(state: &State, _: &Caller, p: CaptureParams) -> HResult<CaptureResult> {
    let lines = p.lines.unwrap_or(50).clamp(1, 10_000);
    let st = state.clone();
    blocking(move || {
        st.tmux.ours(&p.name)?;
        let text = st.tmux.tmux.capture(&p.name, lines, false).map_err(tmux_fail)?;
        Ok(CaptureResult { content: last_lines(&text, lines as usize) })
    })
    .await
}

/// The last `n` lines of `text`, without the blank rows below the output.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let from = lines.len().saturating_sub(n);
    let mut out = lines[from..].join("\n");
    out.push('\n');
    out
}

async fn pane_tail(state: &State, name: &str, n: usize) -> String {
    let (st, name) = (state.clone(), name.to_string());
    blocking(move || Ok(st.tmux.tmux.capture(&name, 0, false).map(|t| last_lines(&t, n)).unwrap_or_default()))
        .await
        .unwrap_or_default()
}

pub(crate) async fn pane_target(state: &State, name: &str) -> String {
    let (st, name) = (state.clone(), name.to_string());
    blocking(move || Ok(st.tmux.tmux.pane(&name).map(|p| p.target).unwrap_or_default())).await.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::Manager;
    use super::*;

    #[test]
    fn names_and_tails() {
        assert!(check_name("impl-api_2").is_ok());
        for bad in ["", "a.b", "a:b", "a b", "=x", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(last_lines("a\nb\nc\n\n\n", 2), "b\nc\n");
        assert_eq!(last_lines("a\n", 5), "a\n");
    }

    #[test]
    fn a_manager_keeps_its_records() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let m = Manager::new(thrum_tmux::Tmux::new(Some("unused".into())), dir.path(), dir.path());
        let r = Record { cwd: "/w".into(), agent: "a".into(), runtime: "claude".into(), created_at: "t".into() };
        m.set_record("s", Some(r.clone())).unwrap_or_else(|e| panic!("{e:?}"));
        let again = Manager::new(thrum_tmux::Tmux::new(None), dir.path(), dir.path());
        assert_eq!(again.record("s"), Some(r));
        again.set_record("s", None).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(Manager::new(thrum_tmux::Tmux::new(None), dir.path(), dir.path()).records().is_empty());
    }
}
