//! Store micro-benchmarks: durable append+apply, projection rebuild, and
//! the inbox query at 10k messages (and 1M with THRUM_BENCH_LARGE=1).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use thrum_core::event::{AgentRegister, MessageBody, MessageCreate};
use thrum_core::{Event, IdKind, Scope, new_id};
use thrum_store::query::{self, ListQuery};
use thrum_store::{Store, StoreError};

fn open(dir: &Path) -> Store {
    Store::open(&dir.join("log"), &dir.join("var/messages.db"), "d_bench", &dir.join("var/recovered"))
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

fn agent(i: usize) -> Event {
    Event::new(
        "agent.register",
        &AgentRegister {
            agent_id: format!("agent_{i}"),
            kind: "agent".into(),
            name: format!("agent_{i}"),
            role: format!("role_{}", i % 5),
            module: "m".into(),
            ..Default::default()
        },
    )
}

fn message(from: usize, to: usize, n: usize) -> Event {
    let to = format!("agent_{to}");
    Event::new(
        "message.create",
        &MessageCreate {
            message_id: new_id(IdKind::Message),
            agent_id: format!("agent_{from}"),
            session_id: "ses_bench".into(),
            body: MessageBody {
                format: "markdown".into(),
                content: format!("benchmark message number {n}"),
                structured: String::new(),
            },
            refs: vec![Scope::new("mention", to.as_str())],
            scopes: vec![Scope::new("module", "bench")],
            recipients: vec![to],
            ..Default::default()
        },
    )
}

fn commit(store: &mut Store, events: Vec<Event>) {
    let (r, _) = store.commit_batch(vec![move |_: &rusqlite::Connection| Ok::<_, StoreError>((events, ()))]);
    assert!(r.iter().all(Result::is_ok));
}

/// A store with `agents` agents and `messages` messages, committed in
/// batches of 1000.
fn populate(dir: &Path, agents: usize, messages: usize) -> Store {
    let mut store = open(dir);
    commit(&mut store, (0..agents).map(agent).collect());
    let mut n = 0;
    while n < messages {
        let batch: Vec<Event> =
            (n..(n + 1000).min(messages)).map(|i| message(i % agents, (i * 7 + 1) % agents, i)).collect();
        n += batch.len();
        commit(&mut store, batch);
    }
    store
}

fn inbox_query(agent: &str) -> ListQuery {
    ListQuery {
        for_agent: Some(agent.into()),
        for_agent_role: Some("role_3".into()),
        exclude_author: Some(agent.into()),
        reader: Some(agent.into()),
        page_size: 100,
        page: 1,
        ..Default::default()
    }
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut store = populate(dir.path(), 50, 0);
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(1));
    g.bench_function("one message, durable", |b| {
        let mut n = 0;
        b.iter(|| {
            n += 1;
            commit(&mut store, vec![message(n % 50, (n + 1) % 50, n)]);
        })
    });
    g.throughput(Throughput::Elements(256));
    g.bench_function("256 messages in one group commit", |b| {
        let mut n = 0;
        b.iter(|| {
            // 256 jobs of one message each, as concurrent senders produce.
            let jobs: Vec<_> = (0..256)
                .map(|_| {
                    n += 1;
                    let ev = message(n % 50, (n + 3) % 50, n);
                    move |_: &rusqlite::Connection| Ok::<_, StoreError>((vec![ev], ()))
                })
                .collect();
            let (r, _) = store.commit_batch(jobs);
            black_box(r);
        })
    });
    g.finish();
}

fn rebuild(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    drop(populate(dir.path(), 50, 10_000));
    let mut g = c.benchmark_group("rebuild");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_050));
    g.bench_function("10k-message store from the log", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for f in ["messages.db", "messages.db-wal", "messages.db-shm"] {
                    let _ = std::fs::remove_file(dir.path().join("var").join(f));
                }
                let t = Instant::now();
                let (s, rec) = Store::open(
                    &dir.path().join("log"),
                    &dir.path().join("var/messages.db"),
                    "d_bench",
                    &dir.path().join("var/recovered"),
                )
                .unwrap_or_else(|e| panic!("{e}"));
                total += t.elapsed();
                assert_eq!(rec.replayed, 10_050);
                drop(s);
            }
            total
        })
    });
    g.finish();
}

fn inbox(c: &mut Criterion) {
    let mut sizes = vec![10_000usize];
    if std::env::var("THRUM_BENCH_LARGE").is_ok_and(|v| v == "1") {
        sizes.push(1_000_000);
    }
    let mut g = c.benchmark_group("inbox");
    for n in sizes {
        let agents = if n >= 1_000_000 { 1000 } else { 50 };
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = populate(dir.path(), agents, n);
        let reader = store.reader().unwrap_or_else(|e| panic!("{e}"));
        let q = inbox_query("agent_3");
        g.bench_function(format!("page of 100 over {n} messages / {agents} agents"), |b| {
            b.iter(|| black_box(query::list_messages(&reader, &q).unwrap_or_else(|e| panic!("{e}"))))
        });
        // The target is a percentile over agents: one inbox each for 400
        // agents in turn (every one with its own cold ranges), so the tail
        // shows.
        let mut times: Vec<Duration> = (0..400)
            .map(|i| {
                let mut q = inbox_query(&format!("agent_{}", (i * 7) % agents));
                q.for_agent_role = Some(format!("role_{}", ((i * 7) % agents) % 5));
                let t = Instant::now();
                black_box(query::list_messages(&reader, &q).unwrap_or_else(|e| panic!("{e}")));
                t.elapsed()
            })
            .collect();
        times.sort();
        let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
        println!(
            "inbox over {n} messages / {agents} agents, 400 agents' pages of 100: p50 {:.2} ms, p99 {:.2} ms",
            pct(0.5),
            pct(0.99)
        );
    }
    g.finish();
}

criterion_group!(benches, append, rebuild, inbox);
criterion_main!(benches);
