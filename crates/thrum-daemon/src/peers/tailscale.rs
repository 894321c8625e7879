//! Tailscale peers: the network transport (SPAKE2 pairing, Noise links)
//! over this host's running Tailscale. We find our tailnet address with the
//! `tailscale` CLI (`TAILSCALE_BIN`, else `tailscale` on PATH; the daemon
//! never joins a tailnet itself), and accept only tailnet addresses from
//! peers: 100.64.0.0/10 and fd7a:115c:a1e0::/48.

use std::net::IpAddr;
use std::process::Command;

use serde_json::{Value, json};

/// Whether an address belongs to a tailnet.
pub fn in_tailnet(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            o[0] == 100 && (64..128).contains(&o[1])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            s[0] == 0xfd7a && s[1] == 0x115c && s[2] == 0xa1e0
        }
    }
}

fn cli() -> Command {
    let bin =
        thrum_core::env::var("TAILSCALE_BIN").ok().filter(|b| !b.is_empty()).unwrap_or_else(|| "tailscale".into());
    Command::new(bin)
}

/// What `tailscale status --json` says about this node.
pub fn status() -> Value {
    let out = match cli().args(["status", "--json"]).output() {
        Ok(o) => o,
        Err(_) => return json!({ "state": "not installed", "hint": "install Tailscale and run `tailscale up`" }),
    };
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let backend = v["BackendState"].as_str().unwrap_or("");
    let ips: Vec<Value> = v["Self"]["TailscaleIPs"].as_array().cloned().unwrap_or_default();
    let state = match backend {
        "Running" => "running",
        "" => "unknown",
        _ => "stopped",
    };
    let mut s = json!({ "state": state, "backend_state": backend, "addresses": ips });
    if let Some(name) = v["Self"]["DNSName"].as_str().filter(|n| !n.is_empty()) {
        s["node"] = Value::from(name.trim_end_matches('.'));
    }
    if state != "running" {
        s["hint"] = Value::from("start Tailscale (`tailscale up`)");
    }
    s
}

/// This node's tailnet IPv4 address (else its IPv6 one).
pub fn node_address() -> Result<IpAddr, String> {
    let s = status();
    if s["state"] != "running" {
        return Err(format!(
            "Tailscale is {} here: {} or pair with --type network",
            s["state"].as_str().unwrap_or("unknown"),
            s["hint"].as_str().unwrap_or("start it")
        ));
    }
    let ips: Vec<IpAddr> = s["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str()?.parse().ok())
        .filter(|ip: &IpAddr| in_tailnet(*ip))
        .collect();
    ips.iter()
        .find(|ip| ip.is_ipv4())
        .or(ips.first())
        .copied()
        .ok_or_else(|| "Tailscale reports no tailnet address for this node: check `tailscale ip`".to_string())
}

/// The tailnet node behind an address, when the local Tailscale knows it
/// (`tailscale whois`): recorded as the peer's host at pairing.
pub fn whois(ip: IpAddr) -> Option<String> {
    let out = cli().args(["whois", "--json", &ip.to_string()]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v["Node"]["Name"].as_str().map(|n| n.trim_end_matches('.').to_string()).filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tailnet_ranges() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or_else(|e| panic!("{e}"));
        assert!(in_tailnet(ip("100.64.0.1")));
        assert!(in_tailnet(ip("100.127.255.254")));
        assert!(!in_tailnet(ip("100.128.0.1")));
        assert!(!in_tailnet(ip("100.63.255.255")));
        assert!(!in_tailnet(ip("192.168.1.1")));
        assert!(in_tailnet(ip("fd7a:115c:a1e0::1")));
        assert!(!in_tailnet(ip("fd7a:115c:a1e1::1")));
    }
}
