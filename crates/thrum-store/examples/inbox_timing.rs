//! Times the inbox query against an existing projection:
//! `cargo run --release -p thrum-store --example inbox_timing -- path/to/messages.db agent_3 role_3`

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (db, agent, role) = match args.as_slice() {
        [_, db, agent, role] => (db.clone(), agent.clone(), role.clone()),
        _ => {
            eprintln!("usage: inbox_timing DB AGENT ROLE");
            std::process::exit(2);
        }
    };
    let r = thrum_store::Reader::open(std::path::Path::new(&db)).unwrap_or_else(|e| panic!("{e}"));
    let q = thrum_store::query::ListQuery {
        for_agent: Some(agent.clone()),
        for_agent_role: Some(role),
        exclude_author: Some(agent.clone()),
        reader: Some(agent),
        page_size: 100,
        page: 1,
        ..Default::default()
    };
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = std::time::Instant::now();
        let p = thrum_store::query::list_messages(&r, &q).unwrap_or_else(|e| panic!("{e}"));
        times.push(t.elapsed());
        assert!(!p.messages.is_empty());
    }
    times.sort();
    println!("median {:?}", times[10]);
    let mut q2 = q.clone();
    q2.no_counts = true;
    let mut t2 = Vec::new();
    for _ in 0..20 {
        let t = std::time::Instant::now();
        let _ = thrum_store::query::list_messages(&r, &q2);
        t2.push(t.elapsed());
    }
    t2.sort();
    println!("no counts: median {:?}", t2[10]);
    let mut t3 = Vec::new();
    for _ in 0..20 {
        let t = std::time::Instant::now();
        let _ = thrum_store::query::groups_of(&r, "agent_3", Some("role_3"));
        t3.push(t.elapsed());
    }
    t3.sort();
    println!("groups_of: median {:?}", t3[10]);
}
