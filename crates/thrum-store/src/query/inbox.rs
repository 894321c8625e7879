//! An agent's inbox as a merge of sorted index ranges.
//!
//! A message is in an agent's inbox when it was delivered to the agent,
//! mentions one of its names (itself, `user:` itself, its role), is
//! addressed to one of its groups, or went to everyone. Each of those is
//! one range of an index ordered by `(created_at, message_id)` that also
//! holds the author (schema 5), so SQLite merges the ranges in order and
//! stops once it has the page, and counts them without reading a single
//! `messages` row. The general query instead looked up every candidate in
//! `messages` to filter and sort it, about a microsecond each: an agent
//! with 1,000 messages paid milliseconds for a page of ten.
//!
//! The agent's own messages, when wanted (the web UI's inbox), are one more
//! range, of `messages` by author.
//!
//! [`list`] answers the shapes the inbox uses (`thrum inbox`, `--unread`,
//! the team view's counts, the web UI) and declines the rest, which go to
//! the general query. A test holds both to the same answers.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use super::{ListPage, ListQuery, groups_of, summary_row};
use crate::error::Result;

/// Past this many ranges (an agent in dozens of groups) the general query
/// is used; SQLite also caps a compound SELECT at 500 terms.
const MAX_RANGES: usize = 64;

/// Numbered statement parameters.
#[derive(Default)]
struct Args(Vec<SqlValue>);

impl Args {
    fn push(&mut self, v: impl Into<SqlValue>) -> String {
        self.0.push(v.into());
        format!("?{}", self.0.len())
    }
}

/// The statements that answer one inbox query, and their parameters.
struct Plan {
    /// The page's rows; takes all of `args`.
    page: String,
    /// The size of the whole set; takes the first `counted` of `args`.
    count: String,
    counted: usize,
    /// How many of the set the agent has read, when the unread count needs
    /// it; takes the first `kept` of `args`.
    read: Option<String>,
    kept: usize,
    args: Vec<SqlValue>,
}

/// The page and counts of `q`, or `None` when `q` is not an inbox shape
/// this module answers.
pub(super) fn list(conn: &Connection, q: &ListQuery, page: i64, page_size: i64) -> Result<Option<ListPage>> {
    let Some(plan) = plan(conn, q, page, page_size)? else { return Ok(None) };
    let mut messages = Vec::new();
    {
        let mut st = conn.prepare_cached(&plan.page)?;
        let mut rows = st.query(params_from_iter(plan.args.iter()))?;
        while let Some(r) = rows.next()? {
            let mut m = summary_row(r)?;
            m.is_read = r.get(10)?;
            messages.push(m);
        }
    }
    let (mut total, mut unread) = (0i64, 0i64);
    if !q.no_counts {
        total = conn
            .prepare_cached(&plan.count)?
            .query_row(params_from_iter(plan.args[..plan.counted].iter()), |r| r.get(0))?;
        unread = match (&q.reader, &plan.read) {
            (None, _) => 0,
            // Every message the agent read is in its delivery range.
            (Some(_), Some(read)) => {
                let read: i64 = conn
                    .prepare_cached(read)?
                    .query_row(params_from_iter(plan.args[..plan.kept].iter()), |r| r.get(0))?;
                total - read
            }
            // Only unread messages were counted.
            (Some(_), None) => total,
        };
    }
    Ok(Some(ListPage::new(messages, total, unread, page, page_size)))
}

/// Builds the statements for `q`, or `None` when it is not an inbox shape.
fn plan(conn: &Connection, q: &ListQuery, page: i64, page_size: i64) -> Result<Option<Plan>> {
    let Some(me) = q.for_agent.as_deref() else { return Ok(None) };
    // Filters that name someone else, or test something the ranges do not
    // hold, need the general query.
    let only_me = |o: &Option<String>| o.as_deref().is_none_or(|v| v == me);
    if q.scope.is_some()
        || q.reference.is_some()
        || q.thread_id.is_some()
        || q.author_id.is_some()
        || q.mention_role.is_some()
        || q.include_deleted
        || q.sort_by_updated
        || q.scan_recent
        || !only_me(&q.exclude_author)
        || !only_me(&q.unread_for)
        || !only_me(&q.reader)
    {
        return Ok(None);
    }
    let role = q.for_agent_role.as_deref().filter(|r| !r.is_empty() && *r != me);
    let groups = groups_of(conn, me, role)?;

    let mut args = Args::default();
    let me_arg = args.push(me.to_string());
    // The agent's own messages are a range of their own (its delivery rows
    // as author are not indexed, schema 5), read by definition.
    let own = q.exclude_author.is_none();
    // What every range keeps: not the agent's own (unless wanted), not from
    // before it registered, not deleted (few are, and have their own index).
    let mut keep = String::new();
    let mut keep_messages = String::from(" AND deleted = 0");
    if !own {
        keep.push_str(&format!(" AND author != {me_arg}"));
        keep_messages.push_str(&format!(" AND agent_id != {me_arg}"));
    }
    let mut after_clause = String::new();
    if let Some(after) = &q.created_after {
        let a = args.push(after.clone());
        after_clause = format!(" AND created_at > {a}");
    }
    keep.push_str(&after_clause);
    keep_messages.push_str(&after_clause);
    keep.push_str(" AND message_id NOT IN (SELECT message_id FROM messages WHERE deleted = 1)");
    let own_range =
        format!("SELECT created_at, message_id FROM messages WHERE agent_id = {me_arg} AND deleted = 0{after_clause}");
    // (SQLite wants exactly the parameters a statement names.)
    let keep_args = args.0.len();

    let mut ranges = vec![
        format!(
            "SELECT created_at AS k, message_id AS id FROM message_deliveries
             WHERE recipient_agent_id = {me_arg} AND recipient_agent_id != author{keep}"
        ),
        format!("SELECT created_at, message_id FROM messages WHERE broadcast = 1{keep_messages}"),
    ];
    if own {
        ranges.push(own_range.clone());
    }
    let mut names = vec![me_arg.clone(), args.push(format!("user:{me}"))];
    names.extend(role.map(|r| args.push(r.to_string())));
    for n in &names {
        ranges.push(format!(
            "SELECT created_at, message_id FROM message_refs WHERE ref_type = 'mention' AND ref_value = {n}{keep}"
        ));
    }
    for g in &groups {
        let g = args.push(g.clone());
        ranges.push(format!(
            "SELECT created_at, message_id FROM message_scopes WHERE scope_type = 'group' AND scope_value = {g}{keep}"
        ));
        ranges.push(format!(
            "SELECT created_at, message_id FROM message_refs WHERE ref_type = 'group' AND ref_value = {g}{keep}"
        ));
    }
    if ranges.len() > MAX_RANGES {
        return Ok(None);
    }
    let mut set = ranges.join(" UNION ");
    if q.unread_for.is_some() {
        // What the agent read has a delivery row saying so.
        let done = if q.unannounced { "(read_at != '' OR announced_at != '')" } else { "read_at != ''" };
        set.push_str(&format!(
            " EXCEPT SELECT created_at, message_id FROM message_deliveries
              WHERE recipient_agent_id = {me_arg} AND recipient_agent_id != author AND {done}"
        ));
        if own {
            set.push_str(&format!(" EXCEPT {own_range}"));
        }
    }
    let dir = if q.ascending { "ASC" } else { "DESC" };
    // The ORDER BY makes SQLite merge the ranges (each already in order)
    // instead of collecting them in a temporary B-tree.
    let ordered = format!("{set} ORDER BY 1 {dir}, 2 {dir}");

    let (is_read, join) = match &q.reader {
        Some(_) => (
            "COALESCE(rd.read_at != '', 0)",
            format!(" LEFT JOIN message_deliveries rd ON rd.message_id = p.id AND rd.recipient_agent_id = {me_arg}"),
        ),
        None => ("0", String::new()),
    };
    let counted = args.0.len();
    let lim = args.push(page_size);
    let off = args.push((page - 1) * page_size);
    Ok(Some(Plan {
        page: format!(
            "SELECT m.message_id, m.thread_id, m.reply_to, m.agent_id, m.body_format, m.body_content,
                    m.body_structured, m.created_at, m.updated_at, m.deleted, {is_read}
             FROM ({ordered} LIMIT {lim} OFFSET {off}) p
             JOIN messages m ON m.message_id = p.id{join}
             ORDER BY p.k {dir}, p.id {dir}"
        ),
        count: format!("SELECT COUNT(*) FROM ({ordered})"),
        counted,
        read: q.unread_for.is_none().then(|| {
            let others = format!(
                "SELECT COUNT(*) FROM message_deliveries
                 WHERE recipient_agent_id = {me_arg} AND recipient_agent_id != author AND read_at != ''{keep}"
            );
            if own { format!("SELECT ({others}) + (SELECT COUNT(*) FROM ({own_range}))") } else { others }
        }),
        kept: keep_args,
        args: args.0,
    }))
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;
    use thrum_core::event::{AgentRegister, GroupCreate, GroupMember, MessageCreate, MessageDelete, MessageReceipt};
    use thrum_core::{Event, Scope};

    use super::super::{ListQuery, list_general};
    use crate::{Store, StoreError};

    /// xorshift: a fixed, dependency-free sequence.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    fn open(dir: &std::path::Path) -> Store {
        Store::open(&dir.join("log"), &dir.join("var/messages.db"), "d_t", &dir.join("rec"))
            .unwrap_or_else(|e| panic!("{e}"))
            .0
    }

    fn commit(store: &mut Store, events: Vec<Event>) {
        let (r, _) = store.commit_batch(vec![move |_: &Connection| Ok::<_, StoreError>((events, ()))]);
        assert!(r.iter().all(Result::is_ok), "{r:?}");
    }

    const AGENTS: usize = 8;

    /// Agents in three roles, nested groups (one through a role, one
    /// through `*`), and messages of every kind of address: direct,
    /// by role, by `user:`, by group scope or ref, to nobody (everyone);
    /// some deleted, some seen or read by their recipients or bystanders.
    fn populate(store: &mut Store, rng: &mut Rng) -> Vec<String> {
        let agent = |i: usize| format!("agent_{i}");
        commit(
            store,
            (0..AGENTS)
                .map(|i| {
                    Event::new(
                        "agent.register",
                        &AgentRegister {
                            agent_id: agent(i),
                            kind: "agent".into(),
                            name: agent(i),
                            role: format!("role_{}", i % 3),
                            ..Default::default()
                        },
                    )
                })
                .collect(),
        );
        let group = |id: &str, name: &str| {
            Event::new("group.create", &GroupCreate { group_id: id.into(), name: name.into(), ..Default::default() })
        };
        let member = |id: &str, kind: &str, value: &str| {
            Event::new(
                "group.member.add",
                &GroupMember {
                    group_id: id.into(),
                    member_type: kind.into(),
                    member_value: value.into(),
                    ..Default::default()
                },
            )
        };
        commit(
            store,
            vec![
                group("grp_a", "alpha"),
                group("grp_b", "beta"),
                group("grp_c", "gamma"),
                member("grp_a", "agent", "agent_1"),
                member("grp_a", "role", "role_2"),
                member("grp_b", "group", "alpha"),
                member("grp_c", "role", "*"),
            ],
        );
        let mut ids = Vec::new();
        for n in 0..400 {
            let from = agent(rng.below(AGENTS));
            let to = agent(rng.below(AGENTS));
            let (mut refs, mut scopes, mut recipients) = (Vec::new(), Vec::new(), Vec::new());
            match rng.below(8) {
                0 => refs.push(Scope::new("mention", format!("role_{}", rng.below(3)))),
                1 => refs.push(Scope::new("mention", format!("user:{to}"))),
                2 => scopes.push(Scope::new("group", ["alpha", "beta", "gamma"][rng.below(3)])),
                3 => refs.push(Scope::new("group", ["alpha", "beta"][rng.below(2)])),
                4 => {}
                5 => recipients.push(to.clone()),
                _ => {
                    refs.push(Scope::new("mention", to.as_str()));
                    recipients.push(to.clone());
                }
            }
            if rng.below(4) == 0 {
                scopes.push(Scope::new("module", "x"));
            }
            let id = format!("msg_{n:04}");
            let mut events = vec![Event::new(
                "message.create",
                &MessageCreate {
                    message_id: id.clone(),
                    agent_id: from,
                    body: thrum_core::event::MessageBody { content: format!("m{n}"), ..Default::default() },
                    refs,
                    scopes,
                    recipients,
                    ..Default::default()
                },
            )];
            if rng.below(15) == 0 {
                events.push(Event::new(
                    "message.delete",
                    &MessageDelete { message_id: id.clone(), ..Default::default() },
                ));
            }
            commit(store, events);
            ids.push(id);
        }
        // Receipts from anyone, of anything (a bystander's receipt makes a
        // delivery row of its own).
        let receipts = (0..300)
            .map(|_| {
                Event::new(
                    "message.receipt",
                    &MessageReceipt {
                        message_id: ids[rng.below(ids.len())].clone(),
                        agent_id: agent(rng.below(AGENTS)),
                        receipt_type: if rng.below(3) == 0 { "seen" } else { "read" }.into(),
                        ..Default::default()
                    },
                )
            })
            .collect();
        commit(store, receipts);
        ids
    }

    #[test]
    fn the_merged_inbox_answers_as_the_general_query_does() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut store = open(dir.path());
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        populate(&mut store, &mut rng);
        let reader = store.reader().unwrap_or_else(|e| panic!("{e}"));
        let times: Vec<String> = reader
            .prepare("SELECT created_at FROM messages ORDER BY created_at")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_else(|e| panic!("{e}"));
        let middle = times[times.len() / 2].clone();
        let inbox_of = |me: &str| ListQuery {
            for_agent: Some(me.to_string()),
            for_agent_role: Some(format!("role_{}", me.trim_start_matches("agent_").parse::<usize>().unwrap_or(0) % 3)),
            exclude_author: Some(me.to_string()),
            page_size: 100,
            ..Default::default()
        };
        let mut checked = 0;
        for i in 0..AGENTS {
            let me = format!("agent_{i}");
            for variant in 0..32 {
                let flag = |bit: u32| variant & (1 << bit) != 0;
                let q = ListQuery {
                    for_agent: Some(me.clone()),
                    for_agent_role: Some(format!("role_{}", i % 3)),
                    exclude_author: flag(0).then(|| me.clone()),
                    unread_for: flag(1).then(|| me.clone()),
                    reader: flag(2).then(|| me.clone()),
                    created_after: flag(3).then(|| middle.clone()),
                    ascending: flag(4),
                    page_size: 7,
                    ..Default::default()
                };
                for page in [1, 2, 9, 400] {
                    let q = ListQuery { page, ..q.clone() };
                    let merged = super::list(&reader, &q, page, q.page_size)
                        .unwrap_or_else(|e| panic!("{e}"))
                        .unwrap_or_else(|| panic!("not an inbox shape: {q:?}"));
                    let general = list_general(&reader, &q, page, q.page_size).unwrap_or_else(|e| panic!("{e}"));
                    let ids = |p: &super::ListPage| {
                        p.messages.iter().map(|m| (m.message_id.clone(), m.is_read)).collect::<Vec<_>>()
                    };
                    assert_eq!(ids(&merged), ids(&general), "{q:?}");
                    assert_eq!(
                        (merged.total, merged.unread, merged.total_pages),
                        (general.total, general.unread, general.total_pages),
                        "{q:?}"
                    );
                    checked += usize::from(!general.messages.is_empty());
                }
            }
        }
        // The store is rich enough that most pages are not empty.
        assert!(checked > AGENTS * 32 * 2, "only {checked} non-empty pages");
        // The web UI's inbox keeps the agent's own messages: the general
        // query finds them through `messages` (they have no indexed
        // delivery row).
        let mine = ListQuery { exclude_author: None, page_size: 100, ..inbox_of("agent_1") };
        let with_own = list_general(&reader, &mine, 1, 100).unwrap_or_else(|e| panic!("{e}"));
        let without = list_general(&reader, &inbox_of("agent_1"), 1, 100).unwrap_or_else(|e| panic!("{e}"));
        let authored: i64 = reader
            .query_row("SELECT COUNT(*) FROM messages WHERE agent_id = 'agent_1' AND deleted = 0", [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(authored > 0);
        assert_eq!(with_own.total, without.total + authored);
    }

    /// Every statement of the merged inbox reads index ranges: a SCAN of a
    /// table or of a whole index (a lost partial index, say) would make it
    /// as slow as the query it replaces, and no answer would show it.
    #[test]
    fn the_merged_inbox_only_searches_indexes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut store = open(dir.path());
        populate(&mut store, &mut Rng(7));
        let reader = store.reader().unwrap_or_else(|e| panic!("{e}"));
        for (unread, own) in [(false, false), (true, false), (false, true), (true, true)] {
            let me = Some("agent_2".to_string());
            let q = ListQuery {
                for_agent: me.clone(),
                for_agent_role: Some("role_2".into()),
                exclude_author: if own { None } else { me.clone() },
                reader: me.clone(),
                unread_for: if unread { me.clone() } else { None },
                created_after: Some("2000".into()),
                ..Default::default()
            };
            let plan = super::plan(&reader, &q, 1, 10)
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("not an inbox shape"));
            let statements = [(&plan.page, plan.args.len()), (&plan.count, plan.counted)]
                .into_iter()
                .chain(plan.read.as_ref().map(|r| (r, plan.kept)));
            for (sql, n) in statements {
                let steps: Vec<String> = reader
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .and_then(|mut st| {
                        st.query_map(rusqlite::params_from_iter(plan.args[..n].iter()), |r| r.get::<_, String>(3))?
                            .collect()
                    })
                    .unwrap_or_else(|e| panic!("{e}"));
                for step in &steps {
                    // The deleted-message list, the page, and the merge
                    // being counted are small or are the work itself.
                    let fine = ["messages_deleted", "SCAN p", "SCAN (subquery", "CONSTANT ROW"]
                        .iter()
                        .any(|f| step.contains(f));
                    assert!(!step.starts_with("SCAN") || fine, "{step} in\n{}", steps.join("\n"));
                    // A range that needs its table's rows costs a lookup
                    // per candidate, what this module exists to avoid.
                    let range =
                        step.starts_with("SEARCH") && (step.contains("_inbox") || step.contains("messages_author"));
                    assert!(!range || step.contains("COVERING"), "{step} in\n{}", steps.join("\n"));
                }
                assert!(steps.iter().any(|s| s.contains("message_deliveries_inbox")) || sql == &plan.page);
            }
        }
    }

    #[test]
    fn other_filters_and_other_readers_take_the_general_query() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = open(dir.path());
        let reader = store.reader().unwrap_or_else(|e| panic!("{e}"));
        let me = || Some("agent_1".to_string());
        let inbox = ListQuery { for_agent: me(), exclude_author: me(), ..Default::default() };
        assert!(super::list(&reader, &inbox, 1, 10).unwrap_or_else(|e| panic!("{e}")).is_some());
        for q in [
            ListQuery { for_agent: None, ..inbox.clone() },
            ListQuery { reader: Some("agent_2".into()), ..inbox.clone() },
            ListQuery { unread_for: Some("agent_2".into()), ..inbox.clone() },
            ListQuery { exclude_author: Some("agent_2".into()), ..inbox.clone() },
            ListQuery { author_id: Some("agent_2".into()), ..inbox.clone() },
            ListQuery { scope: Some(Scope::new("module", "x")), ..inbox.clone() },
            ListQuery { mention_role: Some("role_1".into()), ..inbox.clone() },
            ListQuery { sort_by_updated: true, ..inbox.clone() },
            ListQuery { include_deleted: true, ..inbox.clone() },
        ] {
            assert!(super::list(&reader, &q, 1, 10).unwrap_or_else(|e| panic!("{e}")).is_none(), "{q:?}");
        }
    }
}
