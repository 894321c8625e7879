//! The nudges still waiting on an answer, kept in
//! `var/tmux-permissions.json` so a reply after a daemon restart still
//! reaches its prompt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const FILE: &str = "tmux-permissions.json";

/// A prompt the supervisors were told about, not answered yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub session: String,
    pub agent: String,
    pub runtime: String,
    /// The prompt's id when it was detected (`thrum_tmux::prompt::Prompt::id`,
    /// as text: JSON numbers lose a u64's low bits in some readers).
    pub prompt: String,
    pub gist: Vec<String>,
    /// The nudge first, then each reminder: a reply to any of them answers.
    pub messages: Vec<String>,
    /// The agents the nudge reached: only they may answer.
    pub supervisors: Vec<String>,
    /// The names it was sent to (roles, agents), for reminders and replies.
    pub to: Vec<String>,
    pub detected_at: String,
}

impl Pending {
    /// Whether `message_id` is this prompt's nudge or one of its reminders.
    pub fn has_message(&self, message_id: &str) -> bool {
        self.messages.iter().any(|m| m == message_id)
    }
}

/// Every pending nudge, by session (a pane shows one prompt at a time).
pub struct Store {
    path: PathBuf,
    pub pending: BTreeMap<String, Pending>,
}

impl Store {
    pub fn load(var_dir: &Path) -> Store {
        let path = var_dir.join(FILE);
        Store { pending: read(&path), path }
    }

    /// Writes the file (atomically); a failure is logged, not fatal: the
    /// nudge still works until the daemon stops.
    pub fn save(&self) {
        let text = match serde_json::to_vec_pretty(&self.pending) {
            Ok(t) => t,
            Err(e) => return tracing::warn!(error = %e, "cannot encode the pending permission nudges"),
        };
        if let Err(e) = crate::lifecycle::write_private(&self.path, &text) {
            tracing::warn!(error = %e, "cannot record the pending permission nudges");
        }
    }

    pub fn insert(&mut self, p: Pending) {
        self.pending.insert(p.session.clone(), p);
        self.save();
    }

    pub fn remove(&mut self, session: &str) -> Option<Pending> {
        let p = self.pending.remove(session);
        if p.is_some() {
            self.save();
        }
        p
    }

    /// The pending prompt a message (a reply's parent) belongs to.
    pub fn by_message(&self, message_id: &str) -> Option<&Pending> {
        self.pending.values().find(|p| p.has_message(message_id))
    }
}

fn read(path: &Path) -> BTreeMap<String, Pending> {
    std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

/// The sessions waiting on a permission prompt (for `thrum tmux status`).
pub fn blocked(var_dir: &Path) -> Vec<String> {
    read(&var_dir.join(FILE)).into_keys().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_nudges_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut s = Store::load(dir.path());
        let p = Pending {
            session: "s".into(),
            prompt: u64::MAX.to_string(),
            messages: vec!["msg_1".into()],
            ..Default::default()
        };
        s.insert(p.clone());
        let again = Store::load(dir.path());
        assert_eq!(again.by_message("msg_1"), Some(&p));
        assert_eq!(blocked(dir.path()), ["s"]);
        let mut again = again;
        assert_eq!(again.remove("s"), Some(p));
        assert!(Store::load(dir.path()).pending.is_empty() && blocked(dir.path()).is_empty());
    }
}
