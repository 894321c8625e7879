//! Rules that every front end (the CLI, the MCP tools, the web UI) must
//! answer the same way, so they are decided once, here, and applied by the
//! daemon: who a reply goes to, whether an agent counts as active, and
//! which files a who-has query names.

use crate::views::MessageDetail;

/// Who a reply to `parent` by `replier` goes to: the parent's audience
/// (the agents and roles it mentioned, its groups, everyone for a
/// broadcast) and its author, plus `extra` recipients the replier named,
/// never the replier; the parent's author when nobody else is left (a reply
/// to one's own message).
pub fn reply_audience(parent: &MessageDetail, replier: &str, extra: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |who: &str| {
        let who = who.trim().trim_start_matches('@');
        if !who.is_empty() && who != replier && !out.iter().any(|x| x == who) {
            out.push(who.to_string());
        }
    };
    for r in parent.refs.iter().filter(|r| r.kind == "mention") {
        add(&r.value);
    }
    for s in parent.scopes.iter().filter(|s| s.kind == "group") {
        add(&s.value);
    }
    if parent.scopes.iter().any(|s| s.kind == "broadcast") {
        add("everyone");
    }
    add(&parent.author.agent_id);
    for e in extra {
        add(e);
    }
    if out.is_empty() && !parent.author.agent_id.is_empty() {
        out.push(parent.author.agent_id.clone());
    }
    out
}

/// An agent's presence: `active` while it has an open session, else
/// `offline` (the MCP `list_agents` tool says `online` for active, as the
/// original does).
pub fn presence(has_open_session: bool) -> &'static str {
    if has_open_session { "active" } else { "offline" }
}

/// Whether a changed file answers a who-has query: the same path, or a
/// path ending in it at a folder boundary (`auth.rs` finds `src/auth.rs`,
/// not `src/oauth.rs`). A leading `./` in the query is ignored.
pub fn file_matches(file: &str, query: &str) -> bool {
    let q = query.trim().trim_start_matches("./");
    !q.is_empty() && (file == q || file.strip_suffix(q).is_some_and(|head| head.ends_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scope;
    use crate::views::Author;

    fn parent(author: &str, refs: &[(&str, &str)], scopes: &[(&str, &str)]) -> MessageDetail {
        MessageDetail {
            author: Author { agent_id: author.into(), session_id: String::new() },
            refs: refs.iter().map(|(k, v)| Scope::new(*k, *v)).collect(),
            scopes: scopes.iter().map(|(k, v)| Scope::new(*k, *v)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_reply_goes_to_the_parents_audience_and_author() {
        let p = parent("alice", &[("mention", "bob"), ("mention", "reviewer")], &[("group", "backend")]);
        assert_eq!(reply_audience(&p, "bob", &[]), vec!["reviewer", "backend", "alice"]);
        assert_eq!(
            reply_audience(&p, "bob", &["@carol".into(), "alice".into()]),
            vec!["reviewer", "backend", "alice", "carol"]
        );
        let b = parent("alice", &[], &[("broadcast", "all")]);
        assert_eq!(reply_audience(&b, "bob", &[]), vec!["everyone", "alice"]);
        // Replying to your own message to bob reaches bob; to nobody, yourself.
        assert_eq!(reply_audience(&parent("alice", &[("mention", "bob")], &[]), "alice", &[]), vec!["bob"]);
        assert_eq!(reply_audience(&parent("alice", &[], &[]), "alice", &[]), vec!["alice"]);
    }

    #[test]
    fn who_has_matches_whole_paths_and_path_suffixes() {
        assert!(file_matches("src/auth.rs", "src/auth.rs"));
        assert!(file_matches("src/auth.rs", "auth.rs"));
        assert!(file_matches("src/auth.rs", "./src/auth.rs"));
        assert!(!file_matches("src/oauth.rs", "auth.rs"));
        assert!(!file_matches("src/auth.rs", "src"));
        assert!(!file_matches("src/auth.rs", " "));
        assert_eq!((presence(true), presence(false)), ("active", "offline"));
    }
}
