//! `.thrum/var/peers.json`: the paired peers, with the token each pair
//! shares. Written atomically with mode 0600 (the tokens grant access), and
//! backed up once before a schema change.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The schema this build writes.
pub const SCHEMA: u32 = 1;

/// One paired daemon.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Peer {
    /// The other side's name (its repo name unless given).
    pub name: String,
    /// `ip:port` (always an IP; names are for display only).
    pub address: String,
    /// For local peers: the other repository's root (its port file lives there).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub repo_path: String,
    pub token: String,
    /// `local`, `network` or `tailscale`.
    pub transport: String,
    /// `listener` (we ran `peer add`) or `dialer` (we ran `peer join`).
    pub role: String,
    /// Remote agents are addressed as `@{proxy_prefix}:{name}`.
    pub proxy_prefix: String,
    #[serde(default)]
    pub remote_agents: Vec<String>,
    pub paired_at: String,
    #[serde(default)]
    pub remote_daemon_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_repo_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_hostname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_repo_path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_git_origin_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_sync_at: String,
    /// Network peers: the Noise static key it proved when pairing (hex);
    /// links from any other key are refused.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_static: String,
    /// Network peers: the address we last told it we listen at; a link
    /// that finds ours changed announces it (`peer.address_changed`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub announced_address: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    #[serde(default)]
    schema: u32,
    #[serde(default)]
    peers: Vec<Peer>,
}

/// The registry, loaded once and saved on every change.
#[derive(Debug)]
pub struct Registry {
    path: PathBuf,
    peers: Mutex<Vec<Peer>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{path} is not a valid peers file ({why}); move it away and pair again")]
    Corrupt { path: String, why: String },
    #[error("cannot write {path}: {why}")]
    Write { path: String, why: String },
    #[error("a peer named {0:?} is already paired: remove it first (`thrum peer remove {0}`)")]
    Exists(String),
}

impl Registry {
    /// Loads `path` (an absent file is an empty registry). An older schema
    /// is kept once as `peers.json.pre-rotation-bak` before being rewritten.
    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let reg = Registry { path: path.to_path_buf(), peers: Mutex::new(Vec::new()) };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(_) => return Ok(reg),
        };
        let file: File = serde_json::from_str(&text)
            .map_err(|e| RegistryError::Corrupt { path: path.display().to_string(), why: e.to_string() })?;
        if file.schema != SCHEMA {
            let bak = path.with_file_name("peers.json.pre-rotation-bak");
            if !bak.exists() {
                let _ = crate::lifecycle::write_private(&bak, text.as_bytes());
            }
        }
        *reg.peers.lock().unwrap_or_else(|p| p.into_inner()) = file.peers;
        if file.schema != SCHEMA {
            reg.save()?;
        }
        Ok(reg)
    }

    /// A registry with no peers that saves to `path`.
    pub fn empty(path: &Path) -> Registry {
        Registry { path: path.to_path_buf(), peers: Mutex::new(Vec::new()) }
    }

    pub fn all(&self) -> Vec<Peer> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn get(&self, name: &str) -> Option<Peer> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|p| p.name == name).cloned()
    }

    /// Adds a newly paired peer.
    pub fn add(&self, peer: Peer) -> Result<(), RegistryError> {
        {
            let mut g = self.peers.lock().unwrap_or_else(|p| p.into_inner());
            if g.iter().any(|p| p.name == peer.name) {
                return Err(RegistryError::Exists(peer.name));
            }
            g.push(peer);
        }
        self.save()
    }

    /// Removes a peer; false when there was none by that name.
    pub fn remove(&self, name: &str) -> Result<bool, RegistryError> {
        let removed = {
            let mut g = self.peers.lock().unwrap_or_else(|p| p.into_inner());
            let before = g.len();
            g.retain(|p| p.name != name);
            g.len() != before
        };
        if removed {
            self.save()?;
        }
        Ok(removed)
    }

    /// Changes one peer in place (None when unknown).
    pub fn update<T>(&self, name: &str, f: impl FnOnce(&mut Peer) -> T) -> Result<Option<T>, RegistryError> {
        let out = {
            let mut g = self.peers.lock().unwrap_or_else(|p| p.into_inner());
            g.iter_mut().find(|p| p.name == name).map(f)
        };
        if out.is_some() {
            self.save()?;
        }
        Ok(out)
    }

    fn save(&self) -> Result<(), RegistryError> {
        let file = File { schema: SCHEMA, peers: self.all() };
        let text = serde_json::to_string_pretty(&file).unwrap_or_default();
        crate::lifecycle::write_private(&self.path, format!("{text}\n").as_bytes())
            .map_err(|e| RegistryError::Write { path: self.path.display().to_string(), why: e.to_string() })
    }
}

/// A short prefix for a peer's agents: the name, lower-cased, with
/// anything but letters, digits, `_` and `-` turned into `-`.
pub fn proxy_prefix(name: &str) -> String {
    let p: String =
        name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect();
    let p = p.trim_matches('-').to_string();
    if p.is_empty() { "peer".into() } else { p }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_private_and_backed_up_on_schema_change() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("peers.json");
        let r = Registry::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let peer = Peer { name: "api".into(), token: "t".into(), ..Default::default() };
        r.add(peer.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(r.add(peer.clone()), Err(RegistryError::Exists(_))));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode, 0o600);
        assert_eq!(Registry::load(&path).unwrap_or_else(|e| panic!("{e}")).all(), vec![peer]);
        // An older file: backed up once, then rewritten in the new schema.
        std::fs::write(&path, r#"{"peers":[{"name":"old","address":"127.0.0.1:1","token":"x","transport":"local","role":"dialer","proxy_prefix":"old","paired_at":"t"}]}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        let r = Registry::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.all()[0].name, "old");
        assert!(dir.path().join("peers.json.pre-rotation-bak").exists());
        assert!(std::fs::read_to_string(&path).unwrap_or_default().contains("\"schema\": 1"));
        assert!(r.remove("old").unwrap_or(false));
        std::fs::write(&path, "not json").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(Registry::load(&path), Err(RegistryError::Corrupt { .. })));
    }

    #[test]
    fn prefixes_are_slugs() {
        assert_eq!(proxy_prefix("Mock Salesforce"), "mock-salesforce");
        assert_eq!(proxy_prefix("api_2"), "api_2");
        assert_eq!(proxy_prefix("!!"), "peer");
    }
}
