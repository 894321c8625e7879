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
    /// How its terminal screen reads (for the tmux doorbell and the
    /// permission-prompt watcher).
    pub screen: Screen,
}

/// How a runtime draws its terminal: where the input line is, what a
/// dialog or a running turn looks like. Read by `thrum_tmux::screen`;
/// facts from recorded screens (`tests/screens/<runtime>/`).
#[derive(Debug, Clone, Copy)]
pub struct Screen {
    pub prompt: Prompt,
    /// Text (in the bottom lines) of a dialog or question a key would
    /// answer. Numbered menus (`1. Yes` / `2. No`) and `(y/n)` are
    /// recognised for every runtime.
    pub dialogs: &'static [&'static str],
    /// Text (in the bottom lines) shown while a turn runs.
    pub busy: &'static [&'static str],
    /// Pane-title prefixes shown while a turn runs.
    pub busy_titles: &'static [&'static str],
    /// Lines that change while nothing happens (ignored when telling
    /// whether the pane is quiet).
    pub volatile: &'static [&'static str],
    /// Foreground colours (256-colour indexes) of its placeholder text,
    /// when it is drawn in a colour rather than faint.
    pub placeholder_fg: &'static [u8],
    /// Enter runs the input line as a shell command: the doorbell is
    /// typed as a comment.
    pub shell: bool,
    /// How its permission prompts read and are answered (`None`: thrum
    /// does not recognise them, so it never answers one).
    pub permission: Option<Permission>,
}

/// A runtime's permission prompt: how to find it and which option
/// approves once. Read by `thrum_tmux::prompt`, which also refuses any
/// option that widens permissions (always, don't ask again, auto mode…)
/// whatever this says. Facts from `tests/screens/<runtime>/permission*`.
#[derive(Debug, Clone, Copy)]
pub struct Permission {
    /// Text (in the bottom lines) that marks a permission prompt; its
    /// options are below the line holding it.
    pub markers: &'static [&'static str],
    /// Labels of the option that approves this one call (a trailing
    /// hotkey hint such as `(y)` is ignored).
    pub once: &'static [&'static str],
    /// Option labels of menus drawn without numbers (numbered menus are
    /// read as drawn).
    pub choices: &'static [&'static str],
    /// How the selected option is drawn.
    pub highlight: Highlight,
    /// Keys that move the selection to the next and the previous option
    /// of an unnumbered menu.
    pub next: &'static str,
    pub prev: &'static str,
}

/// How a menu shows its selected option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Highlight {
    /// A marker before the option (`❯ 1. Yes`).
    Selector(char),
    /// The option on this background colour (256-colour index).
    Background(u8),
}

/// Where the input line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// The last line (of the bottom ones) starting with this marker; the
    /// input is what follows it, down to the box's rule.
    Marker(&'static str),
    /// The cursor's line, after a shell-style prompt (`$ `, `# `, `% `,
    /// `> `, `❯ `), with nothing after the cursor.
    Shell,
    /// A box of rows starting with `border` over a row starting with
    /// `bottom`; its last row is a status row, the others are input.
    Boxed { border: &'static str, bottom: &'static str },
    /// Not to be typed into (no input line we can locate reliably).
    Unreadable,
}

/// Any runtime we have no recorded screens for: the cursor's line.
pub const GENERIC_SCREEN: Screen = Screen {
    prompt: Prompt::Shell,
    dialogs: &[],
    busy: &[],
    busy_titles: &[],
    volatile: &[],
    placeholder_fg: &[],
    shell: false,
    permission: None,
};

/// Claude Code 2.1 (tests/screens/claude): the input line starts with `❯`
/// and a no-break space (the conversation's earlier prompts use a plain
/// space); the title spins while a turn runs (it may hold terminal-query
/// noise at start-up, so it is never read as idle).
pub const CLAUDE_SCREEN: Screen = Screen {
    prompt: Prompt::Marker("❯\u{a0}"),
    dialogs: &["Do you want to", "Esc to cancel"],
    busy: &["esc to interrupt"],
    busy_titles: &["◐", "◓", "◑", "◒"],
    volatile: &[],
    placeholder_fg: &[],
    shell: false,
    // `❯ 1. Yes` / `2. Yes, and always allow…` / `3. Yes, and switch to
    // auto mode` / `4. No`; in auto mode without its server check, an
    // unnumbered `❯ No` / `Yes` with No selected first.
    permission: Some(Permission {
        markers: &["Do you want to"],
        once: &["Yes"],
        choices: &["No", "Yes"],
        highlight: Highlight::Selector('❯'),
        next: "Down",
        prev: "Up",
    }),
};

/// Codex 0.169 (tests/screens/codex): the input line starts with `›`; a
/// braille spinner leads the title while a turn runs.
pub const CODEX_SCREEN: Screen = Screen {
    prompt: Prompt::Marker("› "),
    dialogs: &["Would you like to", "Action Required"],
    busy: &["esc to interrupt"],
    busy_titles: &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"],
    volatile: &[],
    placeholder_fg: &[],
    shell: false,
    // `› 1. Yes, proceed (y)` / `2. Yes, and don't ask again… (p)` /
    // `3. No, and tell Codex what to do differently (esc)`.
    permission: Some(Permission {
        markers: &["Would you like to"],
        once: &["Yes, proceed"],
        choices: &[],
        highlight: Highlight::Selector('›'),
        next: "Down",
        prev: "Up",
    }),
};

/// Gemini CLI 0.61 (tests/screens/gemini): the input line starts with `>`
/// and its placeholder is grey (colour 248), not faint.
pub const GEMINI_SCREEN: Screen = Screen {
    prompt: Prompt::Marker("> "),
    dialogs: &["Allow execution", "Action Required"],
    busy: &["esc to cancel"],
    busy_titles: &["✦", "✋"],
    volatile: &[],
    placeholder_fg: &[248],
    shell: false,
    // `● 1. Allow once` / `2. Allow for this session` /
    // `3. No, suggest changes (esc)`.
    permission: Some(Permission {
        markers: &["Allow execution"],
        once: &["Allow once"],
        choices: &[],
        highlight: Highlight::Selector('●'),
        next: "Down",
        prev: "Up",
    }),
};

/// OpenCode 1.18 (tests/screens/opencode): the input is a box of `┃` rows
/// over a `╹▀▀▀` edge; its placeholder is grey (colour 8). Its plugin wakes
/// it when idle, so the doorbell is rarely needed here.
pub const OPENCODE_SCREEN: Screen = Screen {
    prompt: Prompt::Boxed { border: "┃", bottom: "╹▀" },
    dialogs: &["Permission required"],
    busy: &["esc interrupt"],
    busy_titles: &[],
    volatile: &[],
    placeholder_fg: &[8],
    shell: false,
    // One row, no numbers: `Allow once   Allow always   Reject`, the
    // selected one on orange; letters typed at it move the selection.
    permission: Some(Permission {
        markers: &["Permission required"],
        once: &["Allow once"],
        choices: &["Allow once", "Allow always", "Reject"],
        highlight: Highlight::Background(215),
        next: "Right",
        prev: "Left",
    }),
};

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
        screen: CLAUDE_SCREEN,
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
        screen: CODEX_SCREEN,
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
        screen: GENERIC_SCREEN,
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
        screen: GEMINI_SCREEN,
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
        screen: OPENCODE_SCREEN,
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
        screen: GENERIC_SCREEN,
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
        screen: GENERIC_SCREEN,
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
        screen: GENERIC_SCREEN,
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
        screen: Screen { shell: true, ..GENERIC_SCREEN },
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
