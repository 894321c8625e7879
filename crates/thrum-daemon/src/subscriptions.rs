//! Subscriptions (`subscribe` / `unsubscribe` / `subscriptions.list`):
//! per-session interest in a scope, a mention, or everything. Kept in
//! memory and saved to `.thrum/var/subscriptions.json`, because they are
//! local state (not events) yet should survive a daemon restart.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Subscription {
    pub id: i64,
    pub session_id: String,
    pub agent_id: String,
    #[serde(default)]
    pub scope_type: String,
    #[serde(default)]
    pub scope_value: String,
    #[serde(default)]
    pub mention_role: String,
    #[serde(default)]
    pub all: bool,
    pub created_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    next_id: i64,
    subscriptions: Vec<Subscription>,
}

pub struct Subscriptions {
    path: PathBuf,
    inner: Mutex<Saved>,
    /// Bumped on every change, so push tasks re-read only when needed.
    version: std::sync::atomic::AtomicU64,
}

impl Subscriptions {
    pub fn load(path: PathBuf) -> Self {
        let saved = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<Saved>(&t).ok())
            .unwrap_or_default();
        Subscriptions { path, inner: Mutex::new(saved), version: Default::default() }
    }

    fn save(&self, s: &Saved) {
        self.version.fetch_add(1, std::sync::atomic::Ordering::Release);
        let text = serde_json::to_string_pretty(s).unwrap_or_default();
        if let Err(e) = crate::lifecycle::write_private(&self.path, text.as_bytes()) {
            tracing::warn!(error = %e, "could not save subscriptions");
        }
    }

    pub fn add(&self, mut sub: Subscription) -> Subscription {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = g.subscriptions.iter().find(|s| {
            s.session_id == sub.session_id
                && s.scope_type == sub.scope_type
                && s.scope_value == sub.scope_value
                && s.mention_role == sub.mention_role
                && s.all == sub.all
        }) {
            return existing.clone();
        }
        g.next_id += 1;
        sub.id = g.next_id;
        g.subscriptions.push(sub.clone());
        self.save(&g);
        sub
    }

    pub fn remove(&self, id: i64, session_id: &str) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let before = g.subscriptions.len();
        g.subscriptions.retain(|s| !(s.id == id && s.session_id == session_id));
        let removed = g.subscriptions.len() != before;
        if removed {
            self.save(&g);
        }
        removed
    }

    pub fn remove_session(&self, session_id: &str) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let before = g.subscriptions.len();
        g.subscriptions.retain(|s| s.session_id != session_id);
        if g.subscriptions.len() != before {
            self.save(&g);
        }
    }

    /// Changes so far (any change makes it bigger).
    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn for_session(&self, session_id: &str) -> Vec<Subscription> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.subscriptions.iter().filter(|s| s.session_id == session_id).cloned().collect()
    }
}
