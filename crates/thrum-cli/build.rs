//! Records the commit the binary was built from, and where its source is
//! published, for `thrum version`. Outside a git checkout (a source
//! tarball) the hash is `unknown`; THRUM_BUILD_HASH overrides it (packagers
//! building from an export). The repository is THRUM_REPOSITORY_URL, else
//! the checkout's `origin` when it is a web or ssh URL (a local path is no
//! address to give users), else empty: nothing made up.

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=THRUM_BUILD_HASH");
    let dir = std::env::var("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from).unwrap_or_default();
    let hash = std::env::var("THRUM_BUILD_HASH")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| git(&dir, &["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // Rebuild when HEAD moves: HEAD itself (a checkout) and the branch it
    // names (a commit), loose or packed. Paths git gives are relative to
    // `dir` or absolute.
    for path in
        [git(&dir, &["rev-parse", "--git-path", "HEAD"]), git(&dir, &["rev-parse", "--git-path", "packed-refs"])]
            .into_iter()
            .flatten()
            .chain(git(&dir, &["symbolic-ref", "-q", "HEAD"]).and_then(|r| git(&dir, &["rev-parse", "--git-path", &r])))
    {
        // A path that does not exist would make cargo rerun this every build.
        let path = dir.join(path);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    println!("cargo:rustc-env=THRUM_BUILD_HASH={hash}");
    println!("cargo:rerun-if-env-changed=THRUM_REPOSITORY_URL");
    let repo = std::env::var("THRUM_REPOSITORY_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| git(&dir, &["config", "--get", "remote.origin.url"]).and_then(|u| web_url(&u)))
        .unwrap_or_default();
    println!("cargo:rustc-env=THRUM_REPOSITORY={repo}");
}

/// An origin URL as a web address: `https://…` as it is (without `.git`),
/// `git@host:owner/repo` and `ssh://git@host/owner/repo` as
/// `https://host/owner/repo`; anything else (a path) is none.
fn web_url(origin: &str) -> Option<String> {
    let o = origin.trim().trim_end_matches('/').trim_end_matches(".git");
    if o.starts_with("https://") || o.starts_with("http://") {
        return Some(o.to_string());
    }
    let rest = o.strip_prefix("ssh://").unwrap_or(o);
    let (user_host, path) = rest.split_once([':', '/'])?;
    let host = user_host.rsplit('@').next()?;
    (rest.contains('@') && !host.is_empty() && !path.is_empty()).then(|| format!("https://{host}/{path}"))
}
