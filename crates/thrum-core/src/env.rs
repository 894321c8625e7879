//! `THRUM_*` settings from the environment, with `.env` files as a
//! fallback: the repository's `.thrum/.env`, then the `.env` at its root.
//! The process environment always wins; only `THRUM_*`, `TAILSCALE_*`
//! and `TS_*` keys are taken from the files, so a project's other secrets
//! are never read into thrum.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A value from a `.env` file, with the file it came from.
#[derive(Debug, Clone)]
struct FromFile {
    value: String,
    file: PathBuf,
}

static DOTENV: OnceLock<HashMap<String, FromFile>> = OnceLock::new();

/// Reads the `.env` files of the repository at `root` (once per process;
/// later calls are ignored). Returns the keys it found.
pub fn load(root: &Path) -> Vec<String> {
    let mut found: HashMap<String, FromFile> = HashMap::new();
    // Earlier files win: .thrum/.env is the more specific one.
    for file in [root.join(".thrum").join(".env"), root.join(".env")] {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        for (k, v) in parse(&text) {
            found.entry(k).or_insert_with(|| FromFile { value: v, file: file.clone() });
        }
    }
    let keys = found.keys().cloned().collect();
    let _ = DOTENV.set(found);
    keys
}

fn wanted(key: &str) -> bool {
    key.starts_with("THRUM_") || key.starts_with("TAILSCALE_") || key.starts_with("TS_")
}

/// `KEY=value` lines: `export ` prefixes, `#` comments, and single or
/// double quotes are understood; other keys are ignored.
pub fn parse(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else { continue };
        let k = k.trim();
        if !wanted(k) || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let v = v.trim();
        let v = if (v.starts_with('"') && v.ends_with('"') && v.len() >= 2)
            || (v.starts_with('\'') && v.ends_with('\'') && v.len() >= 2)
        {
            v[1..v.len() - 1].to_string()
        } else {
            // An unquoted value ends at a comment.
            v.split(" #").next().unwrap_or("").trim().to_string()
        };
        out.push((k.to_string(), v));
    }
    out
}

/// Like `std::env::var`, falling back to the loaded `.env` files.
pub fn var(key: &str) -> Result<String, std::env::VarError> {
    match std::env::var(key) {
        Err(std::env::VarError::NotPresent) => match DOTENV.get().and_then(|m| m.get(key)) {
            Some(f) => Ok(f.value.clone()),
            None => Err(std::env::VarError::NotPresent),
        },
        other => other,
    }
}

/// Where `key` comes from: `env`, the `.env` file's path, or None.
pub fn source(key: &str) -> Option<String> {
    if std::env::var_os(key).is_some() {
        return Some("env".into());
    }
    DOTENV.get().and_then(|m| m.get(key)).map(|f| f.file.display().to_string())
}

/// The `.env` values (for a child process that should see them).
pub fn dotenv_pairs() -> Vec<(String, String)> {
    DOTENV
        .get()
        .map(|m| {
            m.iter().filter(|(k, _)| std::env::var_os(k).is_none()).map(|(k, f)| (k.clone(), f.value.clone())).collect()
        })
        .unwrap_or_default()
}

/// A path as users write it in settings and flags: `~` and `~/…` are the
/// home folder (`$HOME`); anything else is taken as it is. None when it
/// names the home folder and `HOME` is unset or empty.
pub fn expand_home(path: &str) -> Option<PathBuf> {
    expand_home_in(path, std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from))
}

fn expand_home_in(path: &str, home: Option<PathBuf>) -> Option<PathBuf> {
    match path.strip_prefix('~') {
        Some("") => home,
        Some(rest) if rest.starts_with('/') => Some(home?.join(&rest[1..])),
        _ => Some(PathBuf::from(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_paths_are_expanded_and_others_kept() {
        let home = || Some(PathBuf::from("/home/ann"));
        assert_eq!(expand_home_in("~", home()), Some(PathBuf::from("/home/ann")));
        assert_eq!(expand_home_in("~/wt/x", home()), Some(PathBuf::from("/home/ann/wt/x")));
        assert_eq!(expand_home_in("/abs", home()), Some(PathBuf::from("/abs")));
        assert_eq!(expand_home_in("rel/~x", home()), Some(PathBuf::from("rel/~x")));
        assert_eq!(expand_home_in("~bob/x", home()), Some(PathBuf::from("~bob/x")));
        assert_eq!(expand_home_in("~/x", None), None);
        assert_eq!(expand_home_in("/abs", None), Some(PathBuf::from("/abs")));
    }

    #[test]
    fn dotenv_lines() {
        let got = parse(
            "# comment\nexport THRUM_NAME=alice\nTHRUM_ROLE = \"reviewer\"\nTHRUM_MODULE='a b'\nAWS_SECRET=x\nTHRUM_WS_PORT=9000 # port\nnot a line\nTS_AUTHKEY=tskey\n",
        );
        let want: Vec<(String, String)> = [
            ("THRUM_NAME", "alice"),
            ("THRUM_ROLE", "reviewer"),
            ("THRUM_MODULE", "a b"),
            ("THRUM_WS_PORT", "9000"),
            ("TS_AUTHKEY", "tskey"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }
}
