//! The `thrum` command line: argument definitions, dispatch, and the
//! mapping from outcomes to exit codes. Each command lives in its own
//! module under `commands/`.

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod commands;
pub mod context;
pub mod error;
pub mod hints;
pub mod identity;
pub mod output;
pub mod runtimes;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::context::Ctx;
use crate::output::Out;

/// Git-backed messaging and coordination for AI coding agents.
#[derive(Debug, Parser)]
#[command(name = "thrum", version, about, long_about = None, disable_help_subcommand = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts (listed after each command's own options).
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Machine-readable JSON output.
    #[arg(long, global = true, display_order = 901)]
    pub json: bool,
    /// Suppress non-essential output (success lines, hints).
    #[arg(long, short = 'q', global = true, display_order = 902)]
    pub quiet: bool,
    /// Extra detail on stderr.
    #[arg(long, short = 'v', global = true, display_order = 903)]
    pub verbose: bool,
    /// Agent role (or THRUM_ROLE).
    #[arg(long, global = true, value_name = "ROLE", display_order = 904)]
    pub role: Option<String>,
    /// Agent module (or THRUM_MODULE).
    #[arg(long, global = true, value_name = "MODULE", display_order = 905)]
    pub module: Option<String>,
    /// Repository path (default: the current directory, or THRUM_HOME).
    #[arg(long, global = true, value_name = "PATH", display_order = 906)]
    pub repo: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Set up thrum in this repository (.thrum/, the a-sync branch and its worktree).
    Init(commands::init::InitArgs),
    /// In a git worktree of an initialized repository: share its .thrum/
    /// through .thrum/redirect (same as `init` there); `setup mcp` writes a
    /// runtime's MCP configuration.
    Setup(commands::mcp::SetupArgs),
    /// Register, start a session and set your intent, in one step.
    Quickstart(commands::agent::QuickstartArgs),
    /// Show who you are (works without the daemon).
    Whoami(commands::agent::WhoamiArgs),
    /// Send a message.
    Send(commands::messaging::SendArgs),
    /// Reply to a message (threads automatically).
    Reply(commands::messaging::ReplyArgs),
    /// List messages addressed to you.
    Inbox(commands::messaging::InboxArgs),
    /// List messages you sent, with read receipts.
    Sent(commands::messaging::SentArgs),
    /// Block until a message for you arrives (exit 0 received, 1 timeout, 2 error).
    Wait(commands::messaging::WaitArgs),
    /// Run by a coding agent's runtime at its turn boundaries: puts new
    /// mail in front of the model (see `thrum setup hooks`).
    Hook(commands::hook::HookArgs),
    /// Check that mail reaches the agents here: daemon, identity, and each runtime's MCP config and hooks (exit 1 on a failure).
    Doctor,
    /// Get, edit, delete or mark messages read.
    #[command(subcommand)]
    Message(commands::message::MessageCmd),
    /// Remove old messages and sessions (preview unless --confirm).
    Purge(commands::message::PurgeArgs),
    /// Agents: register, list, delete, clean up, and session aliases.
    #[command(subcommand)]
    Agent(commands::agent::AgentCmd),
    /// Work sessions.
    #[command(subcommand)]
    Session(commands::session::SessionCmd),
    /// Named groups of agents and roles.
    #[command(subcommand)]
    Group(commands::group::GroupCmd),
    /// What everyone is working on.
    Team(commands::views::TeamArgs),
    /// You, your team and your inbox in one view.
    Overview,
    /// Your current state.
    Status,
    /// Is an agent online?
    Ping(commands::views::PingArgs),
    /// Everything a fresh session needs: identity, team, inbox, git state, notes, next steps.
    Prime,
    /// Role templates rendered into agents' preambles: list, deploy, refresh, templates.
    #[command(subcommand)]
    Roles(commands::roles::RolesCmd),
    /// Runtime presets (claude, codex, cursor, …): list, show, set-default.
    #[command(subcommand)]
    Runtime(commands::runtime::RuntimeCmd),
    /// Settings: `config show` lists each one's value and where it came from.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Turn single-agent mode on or off (or show it).
    #[command(name = "single-agent-mode")]
    SingleAgentMode(commands::config::SingleAgentArgs),
    /// Which agents are changing a file (uncommitted, or in commits not yet merged)?
    #[command(name = "who-has")]
    WhoHas(commands::views::WhoHasArgs),
    /// Subscribe to a scope, a mention, or everything.
    Subscribe(commands::views::SubscribeArgs),
    /// Remove a subscription.
    Unsubscribe(commands::views::UnsubscribeArgs),
    /// List your subscriptions.
    Subscriptions,
    /// Notes that survive restarts: save, show, clear, preamble, sync.
    #[command(subcommand)]
    Context(commands::context::ContextCmd),
    /// Git sync of the a-sync branch with the remote.
    #[command(subcommand)]
    Sync(commands::sync::SyncCmd),
    /// The background daemon.
    #[command(subcommand)]
    Daemon(commands::daemon::DaemonCmd),
    /// Agents in thrum-managed tmux sessions: create, launch, status, restart, queue…
    #[command(subcommand)]
    Tmux(commands::tmux::TmuxCmd),
    /// Git worktrees for agents: create (with an agent in a tmux session), teardown, list.
    #[command(subcommand)]
    Worktree(commands::worktree::WorktreeCmd),
    /// Monitor jobs: run a command and send its output lines matching a regex to an agent.
    #[command(subcommand)]
    Monitor(commands::monitor::MonitorCmd),
    /// Back up thrum's data (events, messages, identities, context, config, peers); status, config, restore, schedule, plugin.
    Backup(commands::backup::BackupArgs),
    /// Move data from the old in-repo layout to the a-sync branch.
    Migrate,
    /// Show version information.
    Version,
    /// Print a shell completion script.
    Completion(commands::misc::CompletionArgs),
    /// Call a daemon RPC method directly and print the JSON result.
    Rpc(commands::misc::RpcArgs),
    /// The MCP server for coding agents (`thrum mcp serve`).
    #[command(subcommand)]
    Mcp(commands::mcp::McpCmd),
    /// Pair with thrum daemons of other repositories or machines.
    #[command(subcommand)]
    Peer(commands::peer::PeerCmd),
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ConfigCmd {
    /// Every setting's effective value and its source (flag, env, .env, file, default).
    Show(commands::config::ShowArgs),
    /// One setting's effective value (with --json, also its source).
    Get(commands::config::GetArgs),
    /// Change one setting in .thrum/config.json (checked against the
    /// declared keys; other keys are kept).
    Set(commands::config::SetArgs),
}

/// Parses arguments, runs the command, and returns the exit code: 0 on
/// success (or the command's own code), else the error kind's fixed code
/// (see [`error`]); `thrum wait` exits 2 on any error.
pub fn main() -> ExitCode {
    let cli = match parse_args() {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    let out = Out { json: cli.global.json, quiet: cli.global.quiet, verbose: cli.global.verbose };
    load_dotenv(cli.global.repo.as_deref());
    // `wait` is called from hooks and scripts with a contract of its own.
    let error_code = matches!(cli.command, Command::Wait(_)).then_some(2);
    let mut ctx = Ctx::new(out, cli.global.role.clone(), cli.global.module.clone(), cli.global.repo.clone());
    let result = commands::run(&mut ctx, cli.command);
    ExitCode::from(finish(out, result, error_code))
}

/// Turns a command's outcome into the exit code, reporting an error.
/// Output to a reader that went away (`thrum inbox | head`) is no
/// error: the command's own code stands, or 0 if it stopped because of
/// it, and nothing is printed. Any other failure to write stdout (a full
/// disk) is a user error.
fn finish(out: Out, result: anyhow::Result<u8>, error_code: Option<u8>) -> u8 {
    let result = result.and_then(|code| match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write the output"))
        }
        _ => Ok(code),
    });
    match result {
        Ok(code) => {
            if !output::stdout_closed() {
                out.flush_hints();
            }
            code
        }
        Err(e) if output::stdout_closed() && error::is_broken_pipe(&e) => 0,
        Err(e) => {
            let e = error::CliError::classify(e);
            let code = error_code.unwrap_or(e.kind.exit_code());
            e.report(&out, code);
            code
        }
    }
}

/// A command line clap refused: help and `--version` print and exit 0;
/// anything else is a usage error (64), reported as the JSON error object
/// when `--json` is among the arguments.
fn usage_error(e: &clap::Error) -> ExitCode {
    if !e.use_stderr() {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let code = error::ErrorKind::Usage.exit_code();
    let json = std::env::args_os().skip(1).take_while(|a| a != "--").any(|a| a == "--json");
    if json {
        let text = e.render().to_string();
        let message = text.trim().strip_prefix("error: ").unwrap_or(text.trim()).to_string();
        let e = error::CliError::new(error::ErrorKind::Usage, anyhow::Error::msg(message));
        e.report(&Out { json: true, ..Out::default() }, code);
    } else {
        let _ = e.print();
    }
    ExitCode::from(code)
}

/// Parses the command line. Subcommands' arguments are built only for the
/// one invoked (`defer` on every subcommand enum), and the command tree is
/// leaked rather than dropped: the process is about to exit, and freeing a
/// few hundred clap nodes cost more than parsing (a sixth of `thrum send`'s
/// instructions).
fn parse_args() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let cmd = Box::leak(Box::new(Cli::command()));
    let matches = cmd.try_get_matches_from_mut(std::env::args_os())?;
    Cli::from_arg_matches(&matches)
}

/// Reads `THRUM_*` settings from the repository's `.thrum/.env` and root
/// `.env` (the process environment wins). The repository is found from
/// --repo, THRUM_HOME or the current directory.
fn load_dotenv(repo: Option<&std::path::Path>) {
    let start = repo
        .map(std::path::Path::to_path_buf)
        .or_else(|| std::env::var_os("THRUM_HOME").filter(|h| !h.is_empty()).map(Into::into))
        .or_else(|| std::env::current_dir().ok());
    if let Some(start) = start
        && let Some(root) = context::worktree_root(&start)
    {
        thrum_core::env::load(&root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command path, as the words that invoke it.
    fn paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands() {
            let mut p = prefix.to_vec();
            p.push(sub.get_name().to_string());
            out.push(p.clone());
            paths(sub, &p, out);
        }
    }

    /// Subcommand arguments are built lazily (`defer`), so clap's debug
    /// checks (duplicate names, a local flag shadowing a global one) run
    /// only when a command is invoked: invoke every one of them.
    #[test]
    fn every_command_builds_and_shows_help() {
        let mut all = Vec::new();
        let mut full = Cli::command();
        full.build();
        paths(&full, &[], &mut all);
        assert!(all.len() > 50, "found only {} commands", all.len());
        for path in all {
            let mut argv = vec!["thrum".to_string()];
            argv.extend(path.iter().cloned());
            argv.push("--help".into());
            let err = Cli::command().try_get_matches_from(&argv).err();
            let kind = err.as_ref().map(clap::Error::kind);
            assert_eq!(kind, Some(clap::error::ErrorKind::DisplayHelp), "thrum {} --help", path.join(" "));
        }
    }
}
