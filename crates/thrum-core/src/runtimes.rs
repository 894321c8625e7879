//! The runtime registry: the coding-agent CLIs thrum knows, as data.
//!
//! Each entry lists the three kinds of evidence that the runtime is in
//! use, from the most to the least direct: an environment variable the
//! runtime sets for the processes it starts (we are running inside it),
//! a configuration file or folder (it has been used here), and its binary
//! on PATH (it is installed). Each entry also says how the runtime's
//! processes are named (to find the agent's PID), where its MCP client
//! configuration lives, and where its instructions go. Adding a runtime is
//! adding an entry here; nothing else matches on runtime names.

#[derive(Debug, Clone, Copy)]
pub struct Runtime {
    /// The name used on the command line and in config.json.
    pub name: &'static str,
    pub label: &'static str,
    /// Any of these set (non-empty) means we run inside the runtime.
    pub env: &'static [&'static str],
    /// Paths whose existence shows the runtime is set up; `~/` is the
    /// home directory, anything else is relative to the repository.
    pub config: &'static [&'static str],
    /// Executables on PATH.
    pub binaries: &'static [&'static str],
    /// The instruction file (relative to the worktree) that gets the thrum
    /// block from `setup claude-md` and `init --skills`.
    pub instructions: &'static str,
    /// A skill file (Claude Code format) installed by `init --skills`
    /// instead of the instruction block.
    pub skill: Option<&'static str>,
    /// Where `thrum setup mcp --runtime NAME` configures its MCP client
    /// (`None`: it cannot).
    pub mcp: Option<McpConfig>,
    /// Which hook dialect `thrum hook NAME EVENT` and `thrum setup hooks`
    /// speak for it (`None`: it has no hooks thrum can use).
    pub hooks: Option<Hooks>,
    /// Names its processes go by (`/proc/PID/comm`), to find the agent's
    /// PID among our ancestors.
    pub processes: &'static [&'static str],
    /// Other names accepted for it on the command line.
    pub aliases: &'static [&'static str],
}

/// The hook systems thrum speaks: each has its own input, output and
/// configuration file (`commands/hook/<dialect>.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hooks {
    /// `.claude/settings.json` `hooks`; `asyncRewake` wakes an idle session.
    Claude,
    /// `.codex/hooks.json` (Claude Code's format); Codex runs a hook only
    /// once the user has trusted it.
    Codex,
    /// `.gemini/settings.json` `hooks` (timeouts in milliseconds).
    Gemini,
    /// `.cursor/hooks.json`, `"version": 1`, flat entries.
    Cursor,
    /// A plugin in `.opencode/plugins/`; on `session.idle` it prompts the
    /// session through OpenCode's SDK.
    OpenCode,
}

/// Where a runtime reads its project MCP servers, and in what shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpConfig {
    /// A JSON file with an `mcpServers` object (Claude Code, Cursor, Gemini).
    Json(&'static str),
    /// Codex's TOML (`[mcp_servers.thrum]`), in the user's home.
    CodexToml,
}

pub const REGISTRY: &[Runtime] = &[
    Runtime {
        name: "claude",
        label: "Claude Code",
        env: &["CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT"],
        config: &[".claude", "~/.claude"],
        binaries: &["claude"],
        instructions: "CLAUDE.md",
        skill: Some(".claude/skills/thrum/SKILL.md"),
        mcp: Some(McpConfig::Json(".mcp.json")),
        hooks: Some(Hooks::Claude),
        processes: &["claude"],
        aliases: &["claude-code"],
    },
    Runtime {
        name: "codex",
        label: "Codex CLI",
        env: &["CODEX_SANDBOX", "CODEX_MANAGED_BY_NPM"],
        config: &["~/.codex/config.toml", ".codex"],
        binaries: &["codex"],
        instructions: "AGENTS.md",
        skill: None,
        mcp: Some(McpConfig::CodexToml),
        hooks: Some(Hooks::Codex),
        processes: &["codex"],
        aliases: &[],
    },
    Runtime {
        name: "cursor",
        label: "Cursor agent",
        env: &["CURSOR_AGENT", "CURSOR_TRACE_ID"],
        config: &[".cursor", "~/.cursor"],
        binaries: &["agent", "cursor-agent"],
        instructions: ".cursor/rules/thrum.mdc",
        skill: None,
        mcp: Some(McpConfig::Json(".cursor/mcp.json")),
        hooks: Some(Hooks::Cursor),
        processes: &["cursor", "cursor-agent"],
        aliases: &[],
    },
    Runtime {
        name: "gemini",
        label: "Gemini CLI",
        env: &["GEMINI_CLI"],
        config: &[".gemini", "~/.gemini"],
        binaries: &["gemini"],
        instructions: "GEMINI.md",
        skill: None,
        mcp: Some(McpConfig::Json(".gemini/settings.json")),
        hooks: Some(Hooks::Gemini),
        processes: &["gemini"],
        aliases: &[],
    },
    Runtime {
        name: "opencode",
        label: "OpenCode",
        env: &["OPENCODE"],
        config: &["opencode.json", "~/.config/opencode"],
        binaries: &["opencode"],
        instructions: "AGENTS.md",
        skill: None,
        mcp: None,
        hooks: Some(Hooks::OpenCode),
        processes: &["opencode"],
        aliases: &[],
    },
    Runtime {
        name: "auggie",
        label: "Auggie (Augment CLI)",
        env: &["AUGMENT_SESSION_AUTH"],
        config: &["~/.augment"],
        binaries: &["auggie"],
        instructions: "AGENTS.md",
        skill: None,
        mcp: None,
        hooks: None,
        processes: &["auggie"],
        aliases: &[],
    },
    Runtime {
        name: "amp",
        label: "Amp",
        env: &["AMP_THREAD_ID"],
        config: &["~/.config/amp"],
        binaries: &["amp"],
        instructions: "AGENTS.md",
        skill: None,
        mcp: None,
        hooks: None,
        processes: &["amp"],
        aliases: &[],
    },
    Runtime {
        name: "kiro-cli",
        label: "Kiro CLI",
        env: &["KIRO_SESSION"],
        config: &[".kiro", "~/.kiro"],
        binaries: &["kiro-cli"],
        instructions: ".kiro/steering/thrum.md",
        skill: None,
        mcp: None,
        hooks: None,
        processes: &["kiro-cli"],
        aliases: &[],
    },
    Runtime {
        name: "cli-only",
        label: "Plain shell (no agent runtime)",
        env: &[],
        config: &[],
        binaries: &[],
        instructions: "AGENTS.md",
        skill: None,
        mcp: None,
        hooks: None,
        processes: &[],
        aliases: &["shell"],
    },
];

/// The fallback when nothing is configured or detected.
pub const DEFAULT: &str = "claude";

/// The runtime called `name` (or one of its aliases).
pub fn get(name: &str) -> Option<&'static Runtime> {
    REGISTRY.iter().find(|r| r.name == name || r.aliases.contains(&name))
}

/// The runtimes whose MCP client `thrum setup mcp` configures, for help
/// and error texts.
pub fn with_mcp() -> String {
    REGISTRY.iter().filter(|r| r.mcp.is_some()).map(|r| r.name).collect::<Vec<_>>().join(", ")
}

/// The runtimes `thrum hook` and `thrum setup hooks` serve, for help and
/// error texts.
pub fn with_hooks() -> String {
    REGISTRY.iter().filter(|r| r.hooks.is_some()).map(|r| r.name).collect::<Vec<_>>().join(", ")
}

/// Whether a process name is one of a runtime's.
pub fn is_runtime_process(comm: &str) -> bool {
    REGISTRY.iter().any(|r| r.processes.contains(&comm))
}

/// The one-line error for an unknown runtime name.
pub fn unknown(name: &str) -> String {
    let names: Vec<&str> = REGISTRY.iter().map(|r| r.name).collect();
    format!("unknown runtime {name:?}: use one of {} (see `thrum runtime list`)", names.join(", "))
}

impl Runtime {
    /// The command that starts it in a terminal (`None`: a plain shell).
    pub fn launch(&self) -> Option<&'static str> {
        self.binaries.first().copied()
    }
}

/// Every variable a runtime sets for the processes it starts: a new tmux
/// pane must not inherit them (it would think it runs inside that runtime).
pub fn env_markers() -> Vec<&'static str> {
    REGISTRY.iter().flat_map(|r| r.env.iter().copied()).collect()
}
