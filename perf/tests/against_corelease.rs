//! The generator against `corelease dhcp4` itself, from the same Kea configuration the Kea
//! tests use. The corelease binary is built by the root package, not by this crate, so this
//! test is ignored by default; run it with CORELEASE_BIN naming the binary:
//! `CORELEASE_BIN=target/debug/corelease cargo test -p corelease-perf --test against_corelease -- --ignored`

mod common;

use common::{free_port, stdout_json, KeaNetns};
use std::time::Duration;

#[test]
#[ignore = "needs the corelease binary: set CORELEASE_BIN and pass --ignored"]
fn completed_exchanges_match_corelease_leases() {
    let Some(bin) = std::env::var_os("CORELEASE_BIN") else {
        panic!("CORELEASE_BIN must name the corelease binary");
    };
    let server = match KeaNetns::start_corelease(std::path::Path::new(&bin), free_port()) {
        Ok(s) => s,
        Err(e) => panic!("cannot start corelease dhcp4 in a network namespace: {e}"),
    };
    let acks = server.dir.path().join("acks.txt");
    let acks_arg = acks.display().to_string();
    // A relay port other than 67 (RFC 8357 sub-option), as a non-root relay would use.
    let local_port = free_port().to_string();
    let out = server.run_generator(
        &[
            "-R",
            "300",
            "-n",
            "300",
            "-L",
            &local_port,
            "--record-acks",
            &acks_arg,
            "--json",
        ],
        Duration::from_secs(60),
    );
    let report = stdout_json(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(report["exchanges"]["request-ack"]["received"], 300);
    let recorded = std::fs::read_to_string(&acks).unwrap_or_default();
    let addresses: std::collections::BTreeSet<&str> = recorded
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .collect();
    assert_eq!(addresses.len(), 300, "one distinct address per client");
    // Kea's statistics commands, once corelease answers them (ARM 8.8 names).
    if let Ok(acked) = server.statistic("pkt4-ack-sent") {
        assert_eq!(acked, 300);
    } else {
        eprintln!("note: corelease answered no statistic-get; counts checked from the ACKs only");
    }
}
