//! The recorded screens of `tests/screens/<runtime>/<state>.ansi|json`,
//! for the tests of [`crate::screen`] and [`crate::prompt`].

use std::path::PathBuf;

use crate::screen::Capture;

fn root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/screens")
}

/// The runtime whose screen profile reads `runtime`'s recordings (the
/// fake agent is drawn like Claude Code).
pub fn profile_of(runtime: &str) -> &str {
    if runtime == "fake" { "claude" } else { runtime }
}

/// Every recording, as (runtime, state), sorted.
pub fn all() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root()).unwrap_or_else(|e| panic!("{e}")) {
        let dir = dir.unwrap_or_else(|e| panic!("{e}")).path();
        if !dir.is_dir() {
            continue;
        }
        let runtime = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        for f in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}")) {
            let f = f.unwrap_or_else(|e| panic!("{e}")).path();
            if f.extension().and_then(|e| e.to_str()) == Some("ansi") {
                let state = f.file_stem().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                out.push((runtime.clone(), state));
            }
        }
    }
    out.sort();
    out
}

/// The pane's title and cursor when it was recorded.
pub struct Meta {
    pub title: String,
    pub cursor: (u16, u16),
}

/// A recording: the capture and its metadata (read without a JSON
/// dependency: two string fields and two numbers).
pub fn load(runtime: &str, state: &str) -> (Capture, Meta) {
    let dir = root().join(runtime);
    let ansi = std::fs::read_to_string(dir.join(format!("{state}.ansi")))
        .unwrap_or_else(|e| panic!("{runtime}/{state}.ansi: {e}"));
    let meta = std::fs::read_to_string(dir.join(format!("{state}.json"))).unwrap_or_default();
    let field = |k: &str| -> String {
        let Some(i) = meta.find(&format!("\"{k}\"")) else { return String::new() };
        let rest = meta[i + k.len() + 2..].trim_start().trim_start_matches(':').trim_start();
        match rest.strip_prefix('"') {
            Some(r) => r.split('"').next().unwrap_or("").to_string(),
            None => rest.split([',', '}', '\n']).next().unwrap_or("").trim().to_string(),
        }
    };
    let n = |k: &str| field(k).parse().unwrap_or(0);
    (Capture::parse(&ansi), Meta { title: field("pane_title"), cursor: (n("cursor_x"), n("cursor_y")) })
}
