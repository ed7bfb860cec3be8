//! Kea's command-line contract (ARM 9.1): -t checks a config, errors name the JSON path.

use crate::support::*;
use std::process::Command;

#[test]
fn config_check_accepts_a_valid_kea_config() {
    let dir = TempDir::new("cli");
    let cfg = dir.file(
        "kea-dhcp4.json",
        r#"// a comment, Kea style
        { "Dhcp4": { "interfaces-config": { "interfaces": [ "lo" ] },
          "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.10 - 192.0.2.20" } ] } ] } }"#,
    );
    let out = Command::new(bin())
        .args(["dhcp4", "-t"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn config_check_names_the_json_path_of_an_error() {
    let dir = TempDir::new("cli");
    let cfg = dir.file(
        "bad.json",
        r#"{ "Dhcp4": { "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24",
            "pools": [ { "pool": "192.0.3.20 - 192.0.3.30" } ] } ] } }"#,
    );
    let out = Command::new(bin())
        .args(["dhcp4", "-t"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Dhcp4.subnet4[0].pools[0].pool"),
        "stderr: {err}"
    );
}

#[test]
fn config_check_reports_unsupported_keys_by_name() {
    let dir = TempDir::new("cli");
    let cfg = dir.file(
        "ddns.json",
        r#"{ "Dhcp4": { "dhcp-ddns": { "enable-updates": true },
            "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24" } ] } }"#,
    );
    let out = Command::new(bin())
        .args(["dhcp4", "-t"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("dhcp-ddns") && err.contains("not supported yet"),
        "stderr: {err}"
    );
}

#[test]
fn config_check_refuses_a_hook_library_that_is_not_a_run_script_with_its_path() {
    let dir = TempDir::new("cli");
    let cfg = dir.file(
        "hooks.json",
        r#"{ "Dhcp4": { "hooks-libraries": [ { "library": "/usr/lib/libdhcp_lease_cmds.so" } ],
            "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24" } ] } }"#,
    );
    let out = Command::new(bin())
        .args(["dhcp4", "-t"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "Dhcp4.hooks-libraries[0].library: '/usr/lib/libdhcp_lease_cmds.so' is not supported"
        ),
        "stderr: {err}"
    );
}

#[test]
fn bad_config_makes_the_server_exit_non_zero_at_once() {
    let dir = TempDir::new("cli");
    let cfg = dir.file("bad.json", r#"{ "Dhcp4": { "valid-lifetime": "long" } }"#);
    let out = Command::new(bin())
        .args(["dhcp4", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("valid-lifetime"));
}

#[test]
fn embedded_default_serves_perfdhcp_on_loopback() {
    let _g = serial();
    let ns = NetNs::new("dflt").with_relay_address();
    let server = Server::start(&ns, &[], &[]);
    let out = ns
        .command(std::path::Path::new("perfdhcp"))
        .args([
            "-4",
            "-r",
            "50",
            "-n",
            "100",
            "-n",
            "100",
            "-W",
            "5000000",
            "-l",
            "127.0.0.2",
            // perfdhcp is a relay that listens on -L; servers answer relays at port 67
            // (Kea does too; only the RFC 8357 sub-option, which perfdhcp does not send, moves it).
            "-L",
            "67",
            "-N",
            "6767",
            "-u",
            "127.0.0.1",
        ])
        .output()
        .expect("perfdhcp (Debian package kea-admin)");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let stopped = server.stop();
    let acks = perfdhcp_value(&report, "REQUEST-ACK", "received packets").unwrap_or(0.0);
    assert!(
        acks >= 98.0,
        "only {acks} ACKs of 100:\n{report}\n{stopped}"
    );
    // Every ACK perfdhcp counted was sent; one it gave up on (late) may be among its drops.
    let drops = perfdhcp_value(&report, "REQUEST-ACK", "drops").unwrap_or(0.0);
    let sent = shutdown_stat(&stopped, "pkt4-ack-sent") as f64;
    assert!(sent >= acks && sent <= acks + drops, "{report}\n{stopped}");
    assert!(stopped.contains("corelease perf"), "start-up hint printed");
}
