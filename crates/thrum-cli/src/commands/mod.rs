//! One module per command family; `run` dispatches.

pub mod agent;
pub mod agent_docs;
pub mod backup;
pub mod config;
pub mod config_file;
pub mod context;
pub mod daemon;
pub mod doctor;
pub mod group;
pub mod hook;
pub mod init;
pub mod init_wizard;
pub mod mcp;
pub mod mcp_config;
pub mod message;
pub mod messaging;
pub mod misc;
pub mod monitor;
pub mod peer;
pub mod prime;
pub mod roles;
pub mod runtime;
pub mod session;
pub mod sync;
pub mod tmux;
pub mod views;
pub mod worktree;

use anyhow::Result;

use crate::Command;
use crate::context::Ctx;

/// Runs a command, returning its exit code.
pub fn run(ctx: &mut Ctx, cmd: Command) -> Result<u8> {
    match cmd {
        Command::Init(a) => init::run(ctx, a),
        Command::Setup(a) => match a.cmd {
            Some(mcp::SetupCmd::Mcp(m)) => mcp::setup(ctx, m),
            Some(mcp::SetupCmd::Hooks(h)) => hook::setup(ctx, h),
            Some(mcp::SetupCmd::ClaudeMd(d)) => agent_docs::run(ctx, "CLAUDE.md", d),
            Some(mcp::SetupCmd::AgentsMd(d)) => agent_docs::run(ctx, "AGENTS.md", d),
            Some(mcp::SetupCmd::GeminiMd(d)) => agent_docs::run(ctx, "GEMINI.md", d),
            None => init::run(ctx, a.init),
        },
        Command::Quickstart(a) => agent::quickstart(ctx, a),
        Command::Whoami(a) => agent::whoami(ctx, a),
        Command::Send(a) => messaging::send(ctx, a),
        Command::Reply(a) => messaging::reply(ctx, a),
        Command::Inbox(a) => messaging::inbox(ctx, a),
        Command::Sent(a) => messaging::sent(ctx, a),
        Command::Wait(a) => messaging::wait(ctx, a),
        Command::Hook(a) => hook::run(ctx, a),
        Command::Doctor => doctor::run(ctx),
        Command::Message(c) => message::run(ctx, c),
        Command::Purge(a) => message::purge(ctx, a),
        Command::Agent(c) => agent::run(ctx, c),
        Command::Session(c) => session::run(ctx, c),
        Command::Group(c) => group::run(ctx, c),
        Command::Team(a) => views::team(ctx, a),
        Command::Overview => views::overview(ctx),
        Command::Status => views::status(ctx),
        Command::Ping(a) => views::ping(ctx, a),
        Command::WhoHas(a) => views::who_has(ctx, a),
        Command::Prime => prime::run(ctx),
        Command::Runtime(c) => runtime::run(ctx, c),
        Command::Roles(c) => roles::run(ctx, c),
        Command::Config(crate::ConfigCmd::Show(a)) => config::show(ctx, a),
        Command::Config(crate::ConfigCmd::Get(a)) => config::get(ctx, a),
        Command::Config(crate::ConfigCmd::Set(a)) => config::set(ctx, a),
        Command::SingleAgentMode(a) => config::single_agent_mode(ctx, a),
        Command::Subscribe(a) => views::subscribe(ctx, a),
        Command::Unsubscribe(a) => views::unsubscribe(ctx, a),
        Command::Subscriptions => views::subscriptions(ctx),
        Command::Context(c) => context::run(ctx, c),
        Command::Sync(c) => sync::run(ctx, c),
        Command::Daemon(c) => daemon::run(ctx, c),
        Command::Migrate => misc::migrate(ctx),
        Command::Version => misc::version(ctx),
        Command::Completion(a) => misc::completion(ctx, a),
        Command::Rpc(a) => misc::rpc(ctx, a),
        Command::Mcp(c) => mcp::run(ctx, c),
        Command::Peer(c) => peer::run(ctx, c),
        Command::Tmux(c) => tmux::run(ctx, c),
        Command::Worktree(c) => worktree::run(ctx, c),
        Command::Monitor(c) => monitor::run(ctx, c),
        Command::Backup(a) => backup::run(ctx, a),
    }
}

/// Parses repeated `type:value` flags.
pub fn scopes(list: &[String], what: &'static str) -> Result<Vec<thrum_core::Scope>> {
    list.iter().map(|s| thrum_core::Scope::parse(s, what).map_err(|e| anyhow::anyhow!("{e}"))).collect()
}
