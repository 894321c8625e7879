//! Times a full projection rebuild from an existing log directory:
//! `cargo run --release -p thrum-store --example rebuild_timing -- LOG_DIR`

fn main() {
    let Some(log) = std::env::args().nth(1) else {
        eprintln!("usage: rebuild_timing LOG_DIR");
        std::process::exit(2);
    };
    let tmp = std::env::temp_dir().join(format!("thrum-rebuild-{}", std::process::id()));
    let mut runs = Vec::new();
    for _ in 0..5 {
        let _ = std::fs::remove_dir_all(&tmp);
        let t = std::time::Instant::now();
        let (_s, rec) =
            thrum_store::Store::open(std::path::Path::new(&log), &tmp.join("messages.db"), "d_x", &tmp.join("rec"))
                .unwrap_or_else(|e| panic!("{e}"));
        let el = t.elapsed();
        runs.push((el, rec.replayed));
    }
    runs.sort();
    let (el, n) = runs[2];
    println!("rebuild: {n} events in {el:?} = {:.0} events/s (median of 5)", n as f64 / el.as_secs_f64());
    let _ = std::fs::remove_dir_all(&tmp);
    let l = thrum_store::EventLog::open(std::path::Path::new(&log)).unwrap_or_else(|e| panic!("{e}"));
    let t = std::time::Instant::now();
    let mut evs = Vec::new();
    for s in l.shards().unwrap_or_default() {
        evs.extend(l.read_from(&s, 0).unwrap_or_else(|e| panic!("{e}")).lines.into_iter().map(|x| x.event));
    }
    println!("read+parse {} events: {:?}", evs.len(), t.elapsed());
    let t = std::time::Instant::now();
    let mut n = 0;
    for e in &evs {
        if e.payload().is_ok() {
            n += 1;
        }
    }
    println!("typed payloads {n}: {:?}", t.elapsed());
}
