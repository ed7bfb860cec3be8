//! ISC perfdhcp (Debian kea-admin) against the real server with an unchanged Kea-style config.

use crate::support::*;
use std::path::Path;

const CONFIG: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "lo/127.0.0.1" ], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES", "lfc-interval": 3600 },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64 },
    "valid-lifetime": 4000,
    "option-data": [ { "name": "domain-name-servers", "data": "100.64.0.53" } ],
    "subnet4": [ {
      "id": 7, "subnet": "100.64.0.0/16",
      "relay": { "ip-addresses": [ "127.0.0.2" ] },
      "pools": [ { "pool": "100.64.0.10 - 100.64.255.250" } ]
    } ]
  }
}"#;

fn run_perfdhcp(ns: &NetNs, args: &[&str]) -> String {
    let out = ns
        .command(Path::new("perfdhcp"))
        .args(args)
        .output()
        .expect("perfdhcp (Debian package kea-admin)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn perfdhcp_dora_completes_with_unique_addresses_and_matching_statistics() {
    let _g = serial();
    let ns = NetNs::new("perf").with_relay_address();
    let dir = TempDir::new("perf");
    let leases = dir.0.join("kea-leases4.csv");
    let cfg = dir.file(
        "kea-dhcp4.json",
        &CONFIG.replace("LEASES", &leases.to_string_lossy()),
    );
    let server = Server::start(
        &ns,
        &["-c", &cfg.to_string_lossy(), "-p", "6767"],
        &[("KEA_PIDFILE_DIR", &dir.0)],
    );
    assert!(
        dir.0.join("kea-dhcp4.kea-dhcp4.pid").exists(),
        "Kea-style PID file"
    );
    // A moderate rate, 3000 exchanges, bounded by count and time.
    // -R above -n: perfdhcp 2.2 sends in bursts of up to 3 and may pass -n by 2; with -R
    // equal to -n those extra exchanges reuse the first clients, whose repeated address it
    // counts as non unique (support::perfdhcp_value).
    let report = run_perfdhcp(
        &ns,
        &[
            "-4",
            "-r",
            "300",
            "-R",
            "3100",
            "-n",
            "3000",
            "-n",
            "3000",
            "-W",
            "5000000",
            "-p",
            "30",
            "-u",
            "-l",
            "127.0.0.2",
            // perfdhcp is a relay that listens on -L; servers answer relays at port 67
            // (Kea does too; only the RFC 8357 sub-option, which perfdhcp does not send, moves it).
            "-L",
            "67",
            "-N",
            "6767",
            "127.0.0.1",
        ],
    );
    let stopped = server.stop();
    let sent_d = perfdhcp_value(&report, "DISCOVER-OFFER", "sent packets").unwrap_or(0.0);
    let offers = perfdhcp_value(&report, "DISCOVER-OFFER", "received packets").unwrap_or(0.0);
    let sent_r = perfdhcp_value(&report, "REQUEST-ACK", "sent packets").unwrap_or(0.0);
    let acks = perfdhcp_value(&report, "REQUEST-ACK", "received packets").unwrap_or(0.0);
    assert!(
        sent_d >= 2900.0,
        "perfdhcp sent {sent_d} DISCOVERs:\n{report}"
    );
    assert!(
        acks >= 0.98 * sent_d,
        "{acks} ACKs for {sent_d} DISCOVERs:\n{report}"
    );
    assert_eq!(
        perfdhcp_value(&report, "DISCOVER-OFFER", "non unique addresses"),
        Some(0.0),
        "{report}"
    );
    assert_eq!(
        perfdhcp_value(&report, "REQUEST-ACK", "non unique addresses"),
        Some(0.0),
        "{report}"
    );
    assert_eq!(
        perfdhcp_value(&report, "REQUEST-ACK", "rejected leases"),
        Some(0.0),
        "{report}"
    );
    // The server's own counters agree with what perfdhcp saw: every request perfdhcp sent was
    // counted, every reply perfdhcp received was counted as sent, and a reply the server sent
    // but perfdhcp did not count is one of perfdhcp's drops (late past its drop time, on a
    // loaded machine).
    let stat = |name: &str| shutdown_stat(&stopped, name) as f64;
    let drops_d = perfdhcp_value(&report, "DISCOVER-OFFER", "drops").unwrap_or(0.0);
    let drops_r = perfdhcp_value(&report, "REQUEST-ACK", "drops").unwrap_or(0.0);
    let ctx = format!("{report}\n{stopped}");
    assert_eq!(stat("pkt4-discover-received"), sent_d, "{ctx}");
    assert_eq!(stat("pkt4-request-received"), sent_r, "{ctx}");
    assert!(
        stat("pkt4-offer-sent") >= offers && stat("pkt4-offer-sent") <= offers + drops_d,
        "{ctx}"
    );
    assert!(
        stat("pkt4-ack-sent") >= acks && stat("pkt4-ack-sent") <= acks + drops_r,
        "{ctx}"
    );
    let assigned = stat("subnet[7].assigned-addresses");
    assert_eq!(assigned, stat("pkt4-ack-sent"), "one lease per ACK: {ctx}");

    // The leases survive a restart: every ACKed lease is back, and exported as Kea CSV.
    let export = std::process::Command::new(bin())
        .args([
            "lease",
            "export",
            "-c",
            &cfg.to_string_lossy(),
            "--format",
            "kea-csv",
        ])
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let csv = String::from_utf8_lossy(&export.stdout);
    assert!(
        csv.starts_with("address,hwaddr,client_id,valid_lifetime,expire,subnet_id"),
        "{csv:.200}"
    );
    let rows: Vec<&str> = csv.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len() as f64, assigned, "one row per ACKed lease");
    let mut addrs: Vec<&str> = rows.iter().filter_map(|r| r.split(',').next()).collect();
    addrs.sort_unstable();
    addrs.dedup();
    assert_eq!(addrs.len(), rows.len(), "no address leased twice");
}
