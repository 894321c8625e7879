//! `thrum config set|get`: checked against the declared settings, written
//! atomically, other keys kept, and nothing written on any error.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};
use thrum_testkit::TestEnv;

use crate::BIN;
use crate::wire::{ConfigSet, JsonAs, Setting};

fn read(env: &TestEnv) -> String {
    std::fs::read_to_string(env.thrum_dir().join("config.json")).unwrap()
}

#[test]
fn config_set_checks_keys_and_values_and_keeps_other_keys() {
    let env = TestEnv::new(BIN);
    env.ok(None, &["init"]);
    // Keys neither side declares, and the original's own blocks, survive.
    let path = env.thrum_dir().join("config.json");
    let mut c: Value = serde_json::from_str(&read(&env)).unwrap();
    c["worktrees"] = json!({ "base_path": "/srv/wt", "beads_enabled": true });
    c["future"] = json!({ "keep": [1, 2] });
    std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();

    let set: ConfigSet = env.json_as(None, &["config", "set", "daemon.sync_interval", "30"]);
    assert_eq!((set.value.clone(), set.previous.clone()), (json!(30), Some(json!(60))), "{set:?}");
    assert_eq!((set.effective.clone(), set.source.as_str(), set.restart_daemon), (json!(30), "file", false));
    env.ok(None, &["config", "set", "daemon.log_level", "DEBUG"]);
    env.ok(None, &["config", "set", "daemon.ws_port", "auto"]);
    env.ok(None, &["config", "set", "permission_supervisors", "coordinator,@lead"]);
    env.ok(None, &["config", "set", "restart.max_lines", "50"]);
    let human = env.ok(None, &["config", "set", "daemon.single_agent_mode", "on"]);
    assert!(human.contains("daemon.single_agent_mode = true"), "{human}");
    let c: Value = serde_json::from_str(&read(&env)).unwrap();
    assert_eq!(c["daemon"]["sync_interval"], 30);
    assert_eq!(c["daemon"]["log_level"], "debug");
    assert_eq!(c["daemon"]["ws_port"], "auto");
    assert_eq!(c["daemon"]["single_agent_mode"], true);
    assert_eq!(c["daemon"]["local_only"], true, "untouched");
    assert_eq!(c["permission_supervisors"], json!(["coordinator", "@lead"]));
    assert_eq!(c["restart"]["max_lines"], 50);
    assert_eq!(c["worktrees"]["base_path"], "/srv/wt");
    assert_eq!(c["future"], json!({ "keep": [1, 2] }));
    assert!(c["identity"]["daemon_id"].is_string());
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    // No temporary file is left beside it.
    let stray: Vec<_> = std::fs::read_dir(env.thrum_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");

    // `config get` reads back what `set` wrote, with the same source.
    assert_eq!(env.ok(None, &["config", "get", "daemon.sync_interval"]).trim(), "30");
    let got: Setting = env.json_as(None, &["config", "get", "daemon.log_level"]);
    assert_eq!((got.value, got.source.as_str()), (json!("debug"), "file"));
    // The environment still wins, and `set` says so.
    let out =
        env.thrum(&["config", "set", "daemon.sync_interval", "45"]).env("THRUM_SYNC_INTERVAL", "5").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("THRUM_SYNC_INTERVAL"), "{text}");
    env.ok(None, &["config", "set", "daemon.sync_interval", "30"]);

    // Every refusal is one line with the fix, exits 1, and writes nothing.
    let before = read(&env);
    for (args, wants) in [
        (&["daemon.local_ony", "true"][..], "did you mean daemon.local_only?"),
        (&["daemon.local_only", "maybe"][..], "use true or false"),
        (&["daemon.sync_interval", "0"][..], "a whole number ≥ 1"),
        (&["daemon.sync_interval", "soon"][..], "a whole number ≥ 1"),
        (&["daemon.log_level", "loud"][..], "debug, info, warn, warning or error"),
        (&["daemon.ws_port", "70000"][..], "a port from 1 to 65535, or auto"),
        (&["peers.pairing_code_length", "4"][..], "6 to 32"),
        (&["runtime.primary", "vim"][..], "claude"),
        (&["identity.name", "bob"][..], "set THRUM_NAME in the environment"),
        (&["nothing.like.this", "1"][..], "`thrum config show` lists the settings"),
    ] {
        let mut full = vec!["config", "set"];
        full.extend_from_slice(args);
        let (code, err) = env.fail(None, &full);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(wants) && err.trim().lines().count() == 1, "{args:?}: {err}");
        assert_eq!(read(&env), before, "{args:?} wrote");
    }
    let (_, err) = env.fail(None, &["config", "get", "daemon.local_ony"]);
    assert!(err.contains("did you mean daemon.local_only?"), "{err}");
    let out = env.thrum(&["config", "set", "daemon.log_level", "loud", "--json"]).output().unwrap();
    let e: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(e["error"]["kind"], "user", "{e}");

    // A config.json that is not valid JSON, or where a dotted key's parent
    // is not an object, is refused untouched.
    std::fs::write(&path, "{ \"daemon\": ").unwrap();
    let (code, err) = env.fail(None, &["config", "set", "daemon.sync_interval", "30"]);
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("not valid JSON") && err.contains("nothing was changed"), "{err}");
    assert_eq!(read(&env), "{ \"daemon\": ");
    std::fs::write(&path, "{\"daemon\": 3, \"x\": true}").unwrap();
    let (code, err) = env.fail(None, &["config", "set", "daemon.sync_interval", "30"]);
    assert!(code == 78 && err.contains("daemon in") && err.contains("not an object"), "{err}");
    assert_eq!(read(&env), "{\"daemon\": 3, \"x\": true}");
    // A config.json that does not exist yet is created.
    std::fs::remove_file(&path).unwrap();
    env.ok(None, &["config", "set", "tmux.quiet_ms", "800"]);
    assert_eq!(serde_json::from_str::<Value>(&read(&env)).unwrap(), json!({ "tmux": { "quiet_ms": 800 } }));
}
