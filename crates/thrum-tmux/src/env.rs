//! What a new pane must not inherit.
//!
//! A pane's process starts with the tmux server's environment, which is the
//! environment of whoever started the server: often an agent, or the
//! daemon that an agent started. Identity variables (`THRUM_NAME`,
//! `THRUM_AGENT_ID`…), a runtime's markers for its children
//! (`CLAUDECODE`, `CLAUDE_PROJECT_DIR`…) and another pane's tmux handle
//! would make the new agent act as someone else, or think it runs inside
//! another runtime. The pane's first process (`thrum tmux shell`) drops
//! them before starting the shell.

/// Whether `name` must not reach a new pane. `markers` are the variables
/// runtimes set for the processes they start (from the runtime registry).
pub fn leaks(name: &str, markers: &[&str]) -> bool {
    name.starts_with("THRUM_")
        || markers.contains(&name)
        || matches!(
            name,
            // Claude Code's per-project and IDE handles.
            "CLAUDE_PROJECT_DIR" | "CLAUDE_CODE_SSE_PORT" | "CLAUDE_ENV_FILE"
            // Another shell's place and depth.
            | "PWD" | "OLDPWD" | "SHLVL" | "_"
        )
}

/// The environment without what [`leaks`].
pub fn clean<I, K, V>(vars: I, markers: &[&str]) -> Vec<(K, V)>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
{
    vars.into_iter().filter(|(k, _)| !leaks(k.as_ref(), markers)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_runtime_markers_are_dropped() {
        let vars = [
            ("THRUM_NAME", "x"),
            ("THRUM_AGENT_ID", "x"),
            ("CLAUDECODE", "1"),
            ("CLAUDE_PROJECT_DIR", "/elsewhere"),
            ("PATH", "/bin"),
            ("HOME", "/home/a"),
            ("ANTHROPIC_API_KEY", "k"),
            ("TMUX", "/tmp/tmux-1/default,1,0"),
        ];
        let kept: Vec<&str> = clean(vars, &["CLAUDECODE"]).into_iter().map(|(k, _)| k).collect();
        // TMUX stays: it is set by tmux for this very pane (prime reads it).
        assert_eq!(kept, ["PATH", "HOME", "ANTHROPIC_API_KEY", "TMUX"]);
    }
}
