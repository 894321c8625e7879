//! The README's table of RPC methods is the catalogue's: this test renders
//! the catalogue and compares it with the README's block. Run it with
//! `THRUM_UPDATE_README=1` to rewrite the block after changing a method.

use thrum_proto::methods::{self, MethodInfo, Served};

const BEGIN: &str =
    "<!-- rpc-methods: generated from thrum-proto's catalogue by crates/thrum-proto/tests/readme.rs -->\n";
const END: &str = "<!-- /rpc-methods -->\n";

fn who(m: &MethodInfo) -> String {
    let p = m.policy;
    let mut s = match p.served {
        Served::PeerLink => "paired daemons (token)".to_string(),
        Served::Internal => "the daemon itself (-32601 to others)".to_string(),
        Served::SocketOnly if p.anonymous => "anyone on the socket".to_string(),
        Served::SocketOnly => "registered callers, socket only".to_string(),
        Served::WebSocketOnly => "browsers, WebSocket only".to_string(),
        Served::Everywhere if p.anonymous => "anyone".to_string(),
        Served::Everywhere => "registered callers".to_string(),
    };
    if p.idempotent {
        s.push_str("; retried");
    }
    s
}

fn render() -> String {
    let mut out = String::from(BEGIN);
    out.push_str("| family | method | params | result | who may call |\n| --- | --- | --- | --- | --- |\n");
    for (family, list) in methods::FAMILIES {
        for m in list.iter() {
            out.push_str(&format!("| {family} | `{}` | `{}` | `{}` | {} |\n", m.name, m.params, m.result, who(m)));
        }
    }
    for n in methods::NOTIFICATIONS.iter().flat_map(|n| n.iter()) {
        out.push_str(&format!("| push | `{n}` | | | sent to subscribed connections |\n"));
    }
    out.push_str(END);
    out
}

#[test]
fn the_readme_lists_every_method_of_the_catalogue() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let table = render();
    let (Some(start), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        panic!("README.md has no generated method table (markers {BEGIN:?} … {END:?})");
    };
    let current = &readme[start..end + END.len()];
    if current != table {
        if std::env::var_os("THRUM_UPDATE_README").is_some() {
            let updated = format!("{}{}{}", &readme[..start], table, &readme[end + END.len()..]);
            std::fs::write(&path, updated).expect("write README.md");
        } else {
            panic!(
                "README.md's method table is out of date: run THRUM_UPDATE_README=1 cargo test -p thrum-proto --test readme\n{table}"
            );
        }
    }
}
