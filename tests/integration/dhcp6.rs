//! `corelease dhcp6` end to end: ISC perfdhcp -6 relayed over loopback (-A 1) and direct over a
//! veth link (multicast to ff02::1:2), addresses and delegated prefixes, ISC dhclient -6, and
//! what survives a restart (leases, server DUID). Every namespace, link and file is the test's
//! own and removed on drop.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub(crate) const RELAYED_CONFIG: &str = r#"{
  "Dhcp6": {
    "interfaces-config": { "interfaces": [ "lo" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES", "lfc-interval": 3600 },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64 },
    "preferred-lifetime": 3000, "valid-lifetime": 4000,
    "option-data": [ { "name": "dns-servers", "data": "fd00:1::53" } ],
    "subnet6": [ {
      "id": 9, "subnet": "fd00:1::/64",
      "relay": { "ip-addresses": [ "::1" ] },
      "pools": [ { "pool": "fd00:1::1000 - fd00:1::ffff" } ],
      "pd-pools": [ { "prefix": "fd00:1000::", "prefix-len": 32, "delegated-len": 48 } ]
    } ]
  }
}"#;

const DIRECT_CONFIG: &str = r#"{
  "Dhcp6": {
    "interfaces-config": { "interfaces": [ "IFACE" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES" },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2 },
    "preferred-lifetime": 3000, "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
    "subnet6": [ {
      "id": 5, "subnet": "fd00:2::/64", "interface": "IFACE",
      "pools": [ { "pool": "fd00:2::100 - fd00:2::1ff" } ],
      "pd-pools": [ { "prefix": "fd00:2000::", "prefix-len": 40, "delegated-len": 56 } ]
    } ]
  }
}"#;

pub(crate) fn run_perfdhcp(ns: &NetNs, args: &[&str]) -> String {
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

/// IPv6 duplicate address detection off in `ns`, so link-local addresses are usable at once
/// (a tentative address cannot send, and DAD takes seconds).
fn no_dad(ns: &NetNs) {
    for key in ["all", "default"] {
        let status = ns
            .command(Path::new("sysctl"))
            .args(["-qw", &format!("net.ipv6.conf.{key}.accept_dad=0")])
            .status()
            .expect("sysctl");
        assert!(status.success());
    }
}

/// `corelease lease export` of a config: (header, rows).
pub(crate) fn export(cfg: &Path) -> (String, Vec<String>) {
    export_as(cfg, "kea-csv")
}

/// `corelease lease export --format FORMAT` of a config: (header, rows).
pub(crate) fn export_as(cfg: &Path, format: &str) -> (String, Vec<String>) {
    let out = std::process::Command::new(bin())
        .args(["lease", "export", "-c", &cfg.to_string_lossy()])
        .args(["--format", format])
        .output()
        .expect("corelease lease export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = csv.lines().map(str::to_string);
    let header = lines.next().unwrap_or_default();
    (header, lines.filter(|l| !l.is_empty()).collect())
}

/// Column `name` of a leases6 CSV row.
pub(crate) fn column<'a>(header: &str, row: &'a str, name: &str) -> &'a str {
    let i = header
        .split(',')
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {header}"));
    row.split(',').nth(i).unwrap_or("")
}

/// The server DUID the server logged at start (`DHCP6_USING_SERVERID ... server_id=...`).
fn logged_server_id(output: &str) -> String {
    output
        .lines()
        .filter(|l| l.contains("DHCP6_USING_SERVERID"))
        .find_map(|l| l.split("server_id=").nth(1))
        .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
        .unwrap_or_default()
}

pub(crate) fn config(dir: &TempDir, template: &str, iface: &str) -> (PathBuf, PathBuf) {
    let leases = dir.0.join("kea-leases6.csv");
    let text = template
        .replace("LEASES", &leases.to_string_lossy())
        .replace("IFACE", iface);
    (dir.file("kea-dhcp6.json", &text), leases)
}

#[test]
fn perfdhcp6_relayed_addresses_and_prefixes_are_unique_counted_and_kept_across_restart() {
    let _g = serial();
    let ns = NetNs::new("p6");
    let dir = TempDir::new("p6");
    let (cfg, _) = config(&dir, RELAYED_CONFIG, "lo");
    let env = [("KEA_DHCP_DATA_DIR", dir.0.as_path())];
    let cfg_s = cfg.to_string_lossy().into_owned();
    let server = Server::start6(&ns, &["-c", &cfg_s, "-p", "5547"], &env);
    // perfdhcp is a relay on ::1 (-A 1), listening on 547 where a server answers relays;
    // 2000 clients (-R) asking for an address and a prefix each, at a moderate rate.
    let report = run_perfdhcp(
        &ns,
        &[
            "-6",
            "-A",
            "1",
            "-e",
            "address-and-prefix",
            "-r",
            "200",
            // Above -n: the exchanges past -n get clients of their own (perfdhcp.rs).
            "-R",
            "2100",
            "-n",
            "2000",
            "-n",
            "2000",
            "-W",
            "5000000",
            "-p",
            "30",
            "-u",
            "-l",
            "::1",
            "-L",
            "547",
            "-N",
            "5547",
            "::1",
        ],
    );
    let first_output = server.stop();
    let sent_s = perfdhcp_value(&report, "SOLICIT-ADVERTISE", "sent packets").unwrap_or(0.0);
    let advertises =
        perfdhcp_value(&report, "SOLICIT-ADVERTISE", "received packets").unwrap_or(0.0);
    let sent_r = perfdhcp_value(&report, "REQUEST-REPLY", "sent packets").unwrap_or(0.0);
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    let ctx = format!("{report}\n{first_output}");
    assert!(sent_s >= 1900.0, "perfdhcp sent {sent_s} Solicits:\n{ctx}");
    assert!(
        replies >= 0.98 * sent_s,
        "{replies} Replies for {sent_s} Solicits:\n{ctx}"
    );
    for section in ["SOLICIT-ADVERTISE", "REQUEST-REPLY"] {
        assert_eq!(
            perfdhcp_value(&report, section, "non unique addresses"),
            Some(0.0),
            "{ctx}"
        );
        assert_eq!(
            perfdhcp_value(&report, section, "rejected leases"),
            Some(0.0),
            "{ctx}"
        );
    }
    // The server's statistics (Kea's v6 names) agree with perfdhcp's counts; a reply the
    // server sent that perfdhcp did not count is one of perfdhcp's drops.
    let stat = |name: &str| shutdown_stat(&first_output, name) as f64;
    let drops_s = perfdhcp_value(&report, "SOLICIT-ADVERTISE", "drops").unwrap_or(0.0);
    let drops_r = perfdhcp_value(&report, "REQUEST-REPLY", "drops").unwrap_or(0.0);
    // perfdhcp -6 now and then counts as sent a first Solicit that never leaves it (Kea 2.2
    // sees the same); such a message is one of its drops.
    let solicits = stat("pkt6-solicit-received");
    assert!(solicits <= sent_s && solicits >= sent_s - drops_s, "{ctx}");
    let requests = stat("pkt6-request-received");
    assert!(requests <= sent_r && requests >= sent_r - drops_r, "{ctx}");
    let adv_sent = stat("pkt6-advertise-sent");
    assert!(
        adv_sent >= advertises && adv_sent <= advertises + drops_s,
        "{ctx}"
    );
    let reply_sent = stat("pkt6-reply-sent");
    assert!(
        reply_sent >= replies && reply_sent <= replies + drops_r,
        "{ctx}"
    );
    let nas = stat("subnet[9].assigned-nas");
    let pds = stat("subnet[9].assigned-pds");
    assert_eq!(nas, reply_sent, "one address per Reply: {ctx}");
    assert_eq!(pds, reply_sent, "one prefix per Reply: {ctx}");

    // The lease log holds every lease, exported as a Kea leases6 CSV with unique leases.
    let (header, rows) = export(&cfg);
    assert!(
        header.starts_with(
            "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len"
        ),
        "{header}"
    );
    let na_rows: Vec<&String> = rows
        .iter()
        .filter(|r| column(&header, r, "lease_type") == "0")
        .collect();
    let pd_rows: Vec<&String> = rows
        .iter()
        .filter(|r| column(&header, r, "lease_type") == "2")
        .collect();
    assert_eq!(na_rows.len() as f64, nas, "one NA row per address lease");
    assert_eq!(pd_rows.len() as f64, pds, "one PD row per delegated prefix");
    assert!(pd_rows
        .iter()
        .all(|r| column(&header, r, "prefix_len") == "48"));
    let mut keys: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                column(&header, r, "address"),
                column(&header, r, "lease_type"),
            )
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), rows.len(), "no address or prefix leased twice");

    // The way back to Kea 2.x: the same rows in the leases6 layout kea-dhcp6 2.2 writes and
    // loads (no pool_id column, which a 2.x memfile refuses).
    let (header2, rows2) = export_as(&cfg, "kea2-csv");
    assert_eq!(header2, corelease_storage::kea_csv::LEASES6_HEADER_2_X);
    let pool_id = header
        .split(',')
        .position(|c| c == "pool_id")
        .expect("pool_id column");
    let without_pool_id: Vec<String> = rows
        .iter()
        .map(|r| {
            r.split(',')
                .enumerate()
                .filter(|(i, _)| *i != pool_id)
                .map(|(_, c)| c)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(
        rows2, without_pool_id,
        "kea2-csv rows are the kea-csv rows without pool_id"
    );

    // Restart: the server DUID comes back from kea-dhcp6-serverid and every lease is
    // recovered (the assigned counts are rebuilt from the log).
    let persisted = std::fs::read_to_string(dir.0.join("kea-dhcp6-serverid"))
        .expect("kea-dhcp6-serverid written");
    assert_eq!(logged_server_id(&first_output), persisted.trim());
    let again = Server::start6(&ns, &["-c", &cfg_s, "-p", "5547"], &env);
    let second_output = again.stop();
    assert_eq!(logged_server_id(&second_output), persisted.trim());
    assert_eq!(
        shutdown_stat(&second_output, "subnet[9].assigned-nas") as f64,
        nas
    );
    assert_eq!(
        shutdown_stat(&second_output, "subnet[9].assigned-pds") as f64,
        pds
    );
}

/// Two namespaces joined by a veth pair with DAD off: the server side has fd00:2::1/64.
fn link(tag: &str) -> (NetNs, NetNs) {
    let srv = NetNs::new(&format!("{tag}s"));
    let cli = NetNs::new(&format!("{tag}c"));
    no_dad(&srv);
    no_dad(&cli);
    veth(&srv, "v6srv0", "fd00:2::1/64", &cli, "v6cli0");
    // Carrier, and with it the link-local addresses, come up asynchronously.
    wait_link_local(&srv, "v6srv0");
    wait_link_local(&cli, "v6cli0");
    (srv, cli)
}

fn wait_link_local(ns: &NetNs, iface: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ns
        .ip(&["-6", "addr", "show", "dev", iface, "scope", "link"])
        .contains("fe80")
    {
        assert!(
            Instant::now() < deadline,
            "{iface} got no link-local address within 15 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn perfdhcp6_direct_multicast_on_a_link_is_answered_once_per_message() {
    let _g = serial();
    let (srv, cli) = link("m6");
    let dir = TempDir::new("m6");
    let (cfg, _) = config(&dir, DIRECT_CONFIG, "v6srv0");
    let env = [("KEA_DHCP_DATA_DIR", dir.0.as_path())];
    let server = Server::start6(&srv, &["-c", &cfg.to_string_lossy()], &env);
    // Direct clients: Solicit and Request go to ff02::1:2 on the link, which the kernel copies
    // to both shard sockets; only the owner shard may answer.
    let report = run_perfdhcp(
        &cli,
        &[
            "-6",
            "-e",
            "address-and-prefix",
            "-r",
            "100",
            // Above -n: the exchanges past -n get clients of their own (perfdhcp.rs).
            "-R",
            "300",
            "-n",
            "200",
            "-n",
            "200",
            "-W",
            "5000000",
            "-p",
            "20",
            "-u",
            "-l",
            "v6cli0",
        ],
    );
    let output = server.stop();
    let ctx = format!("{report}\n{output}");
    let sent_s = perfdhcp_value(&report, "SOLICIT-ADVERTISE", "sent packets").unwrap_or(0.0);
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    assert!(sent_s >= 190.0, "{ctx}");
    assert!(replies >= 0.98 * sent_s, "{ctx}");
    for section in ["SOLICIT-ADVERTISE", "REQUEST-REPLY"] {
        assert_eq!(
            perfdhcp_value(&report, section, "non unique addresses"),
            Some(0.0),
            "{ctx}"
        );
    }
    // Exactly one answer per message although every shard socket got a copy.
    let stat = |name: &str| shutdown_stat(&output, name) as f64;
    let drops_s = perfdhcp_value(&report, "SOLICIT-ADVERTISE", "drops").unwrap_or(0.0);
    let drops_r = perfdhcp_value(&report, "REQUEST-REPLY", "drops").unwrap_or(0.0);
    let solicits = stat("pkt6-solicit-received");
    // A message perfdhcp counted as sent but the server never saw is one of its drops; every
    // message the server saw got exactly one answer (a second one would exceed the count).
    assert!(solicits <= sent_s && solicits >= sent_s - drops_s, "{ctx}");
    assert_eq!(stat("pkt6-advertise-sent"), solicits, "{ctx}");
    let sent_r = perfdhcp_value(&report, "REQUEST-REPLY", "sent packets").unwrap_or(0.0);
    let requests = stat("pkt6-request-received");
    assert!(requests <= sent_r && requests >= sent_r - drops_r, "{ctx}");
    assert_eq!(stat("pkt6-reply-sent"), requests, "{ctx}");
    assert_eq!(stat("subnet[5].assigned-nas"), requests, "{ctx}");
    assert_eq!(stat("subnet[5].assigned-pds"), requests, "{ctx}");
}

fn wait_for(path: &Path, what: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.is_empty() {
                return s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {secs} s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn env_value<'a>(env: &'a str, key: &str) -> Option<&'a str> {
    env.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim_matches('\''))
}

/// A dhcp6 server in namespace `{tag}s`, linked by a veth to a client namespace `{tag}c`,
/// started from `template` on v6srv0: (server ns, client ns, temp dir, config path, server).
/// Bound in this order, they drop server first and the namespaces last.
fn linked_server6(tag: &str, template: &str) -> (NetNs, NetNs, TempDir, PathBuf, Server) {
    let (srv, cli) = link(tag);
    let dir = TempDir::new(tag);
    let (cfg, _) = config(&dir, template, "v6srv0");
    let env = [("KEA_DHCP_DATA_DIR", dir.0.as_path())];
    let server = Server::start6(&srv, &["-c", &cfg.to_string_lossy()], &env);
    (srv, cli, dir, cfg, server)
}

/// A dhclient-script that configures nothing and records what dhclient learned: dhclient
/// runs it once per IA per event, and each call appends `env` to `env-$reason` in `dir`.
fn recording_script(dir: &TempDir) -> PathBuf {
    let script = dir.file(
        "dhclient-script",
        &format!(
            "#!/bin/sh\nenv | sort >> {d}/env-$reason\nexit 0\n",
            d = dir.0.display()
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    script
}

#[test]
fn dhclient6_gets_an_address_and_a_prefix_that_are_in_the_lease_log() {
    let _g = serial();
    let (_srv, cli, dir, cfg, server) = linked_server6("dc6", DIRECT_CONFIG);
    let d = &dir.0;
    let script = recording_script(&dir);
    let lf = d.join("dhclient6.leases");
    let pf = d.join("dhclient6.pid");
    // -N -P: one IA_NA and one IA_PD in the same exchange.
    let status = cli
        .command(Path::new("dhclient"))
        .args(["-6", "-N", "-P", "-1", "-v"])
        .args(["-lf", &lf.to_string_lossy()])
        .args(["-pf", &pf.to_string_lossy()])
        .args(["-sf", &script.to_string_lossy()])
        .arg("v6cli0")
        .status()
        .expect("dhclient (isc-dhcp-client)");
    let bound_file = d.join("env-BOUND6");
    wait_for(&bound_file, "BOUND6", 15);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut bound = String::new();
    while Instant::now() < deadline {
        bound = std::fs::read_to_string(&bound_file).unwrap_or_default();
        if bound.contains("new_ip6_address=") && bound.contains("new_ip6_prefix=") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // dhclient daemonised after binding: stop it by its PID file (the PID of a process this
    // test started).
    if let Ok(pid) = std::fs::read_to_string(&pf) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            // SAFETY: kill(2) on the dhclient this test started.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
    assert!(status.success(), "dhclient -6 got no lease");
    let address = env_value(&bound, "new_ip6_address")
        .unwrap_or_else(|| panic!("new_ip6_address in {bound}"));
    let prefix =
        env_value(&bound, "new_ip6_prefix").unwrap_or_else(|| panic!("new_ip6_prefix in {bound}"));
    assert!(address.starts_with("fd00:2::1"), "{address} from the pool");
    assert!(
        prefix.starts_with("fd00:20") && prefix.ends_with("/56"),
        "{prefix}"
    );
    let output = server.stop();
    let (header, rows) = export(&cfg);
    let has = |addr: &str, kind: &str| {
        rows.iter().any(|r| {
            column(&header, r, "address") == addr && column(&header, r, "lease_type") == kind
        })
    };
    assert!(
        has(address, "0"),
        "{address} in the lease log:\n{rows:?}\n{output}"
    );
    let prefix_addr = prefix.split('/').next().unwrap_or("");
    assert!(
        has(prefix_addr, "2"),
        "{prefix} in the lease log:\n{rows:?}\n{output}"
    );
}

/// A Dhcp6 config template with a unix control socket at `socket`.
pub(crate) fn with_control_socket(template: &str, socket: &Path) -> String {
    template.replace(
        r#""preferred-lifetime""#,
        &format!(
            r#""control-sockets": [ {{ "socket-type": "unix", "socket-name": "{}" }} ], "preferred-lifetime""#,
            socket.display()
        ),
    )
}

pub(crate) fn unix_command(socket: &Path, cmd: &serde_json::Value) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket)
        .unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(cmd.to_string().as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("response");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

#[test]
fn control_socket_serves_v6_statistics_and_lease6_commands() {
    use serde_json::json;
    let _g = serial();
    let ns = NetNs::new("c6");
    let dir = TempDir::new("c6");
    let socket = dir.0.join("kea6-ctrl.sock");
    let template = with_control_socket(RELAYED_CONFIG, &socket);
    let (cfg, _) = config(&dir, &template, "lo");
    let env = [("KEA_DHCP_DATA_DIR", dir.0.as_path())];
    let server = Server::start6(&ns, &["-c", &cfg.to_string_lossy(), "-p", "5547"], &env);
    let report = run_perfdhcp(
        &ns,
        &[
            "-6",
            "-A",
            "1",
            "-e",
            "address-and-prefix",
            "-r",
            "100",
            "-R",
            "300",
            "-n",
            "300",
            "-n",
            "300",
            "-W",
            "5000000",
            "-p",
            "15",
            "-l",
            "::1",
            "-L",
            "547",
            "-N",
            "5547",
            "::1",
        ],
    );
    let cmd = |c: serde_json::Value| unix_command(&socket, &c);
    let stats = cmd(json!({ "command": "statistic-get-all" }));
    assert_eq!(stats["result"], 0, "{stats}");
    let stat = |name: &str| stats["arguments"][name][0][0].as_i64().unwrap_or(-1);
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    let drops = perfdhcp_value(&report, "REQUEST-REPLY", "drops").unwrap_or(0.0);
    let reply_sent = stat("pkt6-reply-sent") as f64;
    assert!(replies >= 0.98 * 300.0, "{report}");
    assert!(
        reply_sent >= replies && reply_sent <= replies + drops,
        "{stats}\n{report}"
    );
    let nas = stat("subnet[9].assigned-nas");
    let pds = stat("subnet[9].assigned-pds");
    assert_eq!(nas as f64, reply_sent, "{stats}");
    assert_eq!(pds as f64, reply_sent, "{stats}");

    let all = cmd(json!({ "command": "lease6-get-all", "arguments": { "subnets": [9] } }));
    let leases = all["arguments"]["leases"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(leases.len() as i64, nas + pds, "{all}");
    let na = leases
        .iter()
        .find(|l| l["type"] == "IA_NA")
        .cloned()
        .expect("an IA_NA lease");
    let addr = na["ip-address"].as_str().unwrap_or_default().to_string();
    let got = cmd(json!({ "command": "lease6-get", "arguments": { "ip-address": addr } }));
    assert_eq!(got["result"], 0, "{got}");
    assert_eq!(got["arguments"]["duid"], na["duid"], "{got}");
    let by_duid =
        cmd(json!({ "command": "lease6-get-by-duid", "arguments": { "duid": na["duid"] } }));
    assert_eq!(by_duid["result"], 0, "{by_duid}");
    assert!(by_duid["arguments"]["leases"]
        .as_array()
        .is_some_and(|l| l.iter().any(|x| x["ip-address"] == addr.as_str())));
    let page =
        cmd(json!({ "command": "lease6-get-page", "arguments": { "from": "start", "limit": 10 } }));
    assert_eq!(page["arguments"]["count"], 10, "{page}");

    let del = cmd(json!({ "command": "lease6-del", "arguments": { "ip-address": addr } }));
    assert_eq!(del["result"], 0, "{del}");
    let gone = cmd(json!({ "command": "lease6-get", "arguments": { "ip-address": addr } }));
    assert_eq!(gone["result"], 3, "{gone}");
    let after = cmd(
        json!({ "command": "statistic-get", "arguments": { "name": "subnet[9].assigned-nas" } }),
    );
    assert_eq!(
        after["arguments"]["subnet[9].assigned-nas"][0][0],
        nas - 1,
        "{after}"
    );

    let add = cmd(json!({ "command": "lease6-add", "arguments": {
        "ip-address": "fd00:1::77", "duid": "01:02:03:04:05:06", "iaid": 5, "subnet-id": 9 } }));
    assert_eq!(add["result"], 0, "{add}");
    let added =
        cmd(json!({ "command": "lease6-get", "arguments": { "ip-address": "fd00:1::77" } }));
    assert_eq!(added["arguments"]["duid"], "01:02:03:04:05:06", "{added}");
    let twice = cmd(json!({ "command": "lease6-add", "arguments": {
        "ip-address": "fd00:1::77", "duid": "0a:0b:0c", "iaid": 1, "subnet-id": 9 } }));
    assert_eq!(twice["result"], 1, "{twice}");
    // The same out-of-pool address for a DUID that another shard owns: only the owner of
    // 01:02:03:04:05:06 holds the lease, and nothing else guards an out-of-pool address.
    let first_owner = corelease_v6::owner_shard(&[1, 2, 3, 4, 5, 6], 2);
    let other = (0u8..=255)
        .map(|b| [0x0a, 0x0b, b])
        .find(|d| corelease_v6::owner_shard(d, 2) != first_owner)
        .expect("a DUID owned by the other shard");
    let elsewhere = cmd(json!({ "command": "lease6-add", "arguments": {
        "ip-address": "fd00:1::77", "iaid": 1, "subnet-id": 9,
        "duid": format!("{:02x}:{:02x}:{:02x}", other[0], other[1], other[2]) } }));
    assert_eq!(elsewhere["result"], 1, "{elsewhere}");
    let still =
        cmd(json!({ "command": "lease6-get", "arguments": { "ip-address": "fd00:1::77" } }));
    assert_eq!(still["arguments"]["duid"], "01:02:03:04:05:06", "{still}");

    let list = cmd(json!({ "command": "list-commands" }));
    let names: Vec<&str> = list["arguments"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert!(names.contains(&"lease6-get") && names.contains(&"statistic-get-all"));
    assert!(!names.iter().any(|n| n.starts_with("lease4-")), "{list}");
    let v4 = cmd(json!({ "command": "lease4-get-all" }));
    assert_eq!(v4["result"], 2, "{v4}");
    let output = server.stop();

    // The deletion and the addition are in the lease log.
    let (header, rows) = export(&cfg);
    let addrs: Vec<&str> = rows.iter().map(|r| column(&header, r, "address")).collect();
    assert!(addrs.contains(&"fd00:1::77"), "{output}");
    assert!(!addrs.contains(&addr.as_str()), "{output}");
}

#[test]
fn sigkill_under_perfdhcp6_load_keeps_every_acknowledged_v6_lease() {
    let _g = serial();
    let ns = NetNs::new("k6");
    let dir = TempDir::new("k6");
    let (cfg, _) = config(&dir, RELAYED_CONFIG, "lo");
    let env = [("KEA_DHCP_DATA_DIR", dir.0.as_path())];
    let cfg_s = cfg.to_string_lossy().into_owned();
    let server = Server::start6(&ns, &["-c", &cfg_s, "-p", "5547"], &env);
    // perfdhcp runs 6 s; the server is SIGKILLed in the middle of it, so no shutdown sync
    // happens. Each Reply perfdhcp received acknowledged one address and one prefix of a
    // distinct client (-R 100000 clients, fewer exchanges than that).
    let perf = ns
        .command(Path::new("perfdhcp"))
        .args([
            "-6",
            "-A",
            "1",
            "-e",
            "address-and-prefix",
            "-r",
            "400",
            "-R",
            "100000",
            "-p",
            "6",
            "-l",
            "::1",
            "-L",
            "547",
            "-N",
            "5547",
            "::1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("perfdhcp");
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0);
    std::thread::sleep(Duration::from_millis(1500 + u64::from(jitter) * 2));
    server.kill9();
    let out = perf.wait_with_output().expect("perfdhcp ends");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    assert!(
        replies > 100.0,
        "only {replies} Replies before the kill:\n{report}"
    );

    // Restart on the same log: every acknowledged lease is recovered, none twice.
    let restarted = Server::start6(&ns, &["-c", &cfg_s, "-p", "5547"], &env);
    let output = restarted.stop();
    let nas = shutdown_stat(&output, "subnet[9].assigned-nas") as f64;
    let pds = shutdown_stat(&output, "subnet[9].assigned-pds") as f64;
    assert!(
        nas >= replies,
        "{nas} addresses recovered for {replies} Replies:\n{output}"
    );
    assert!(
        pds >= replies,
        "{pds} prefixes recovered for {replies} Replies:\n{output}"
    );
    let (header, rows) = export(&cfg);
    let mut keys: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                column(&header, r, "address"),
                column(&header, r, "lease_type"),
            )
        })
        .collect();
    let total = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), total, "no address or prefix held twice");
    assert_eq!(total as f64, nas + pds);
}

/// DIRECT_CONFIG with a reservation (ARM 10.3) for the DUID-LL 00:03:00:01:02:00:00:00:77:01:
/// an in-pool address and an in-pool delegated prefix, a hostname, and its own dns-servers.
const RESERVED_CONFIG: &str = r#"{
  "Dhcp6": {
    "interfaces-config": { "interfaces": [ "IFACE" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES" },
    "preferred-lifetime": 3000, "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
    "option-data": [ { "name": "dns-servers", "data": "fd00:2::53" } ],
    "subnet6": [ {
      "id": 5, "subnet": "fd00:2::/64", "interface": "IFACE",
      "pools": [ { "pool": "fd00:2::100 - fd00:2::1ff" } ],
      "pd-pools": [ { "prefix": "fd00:2000::", "prefix-len": 40, "delegated-len": 56 } ],
      "reservations": [ {
        "duid": "00:03:00:01:02:00:00:00:77:01",
        "ip-addresses": [ "fd00:2::1ab" ],
        "prefixes": [ "fd00:20ab:cd00::/56" ],
        "hostname": "reserved-host",
        "option-data": [ { "name": "dns-servers", "data": "fd00:2::77" } ]
      } ]
    } ]
  }
}"#;

#[test]
fn dhclient6_with_a_reserved_duid_gets_its_reserved_address_prefix_and_options() {
    let _g = serial();
    let (_srv, cli, dir, cfg, server) = linked_server6("rv6", RESERVED_CONFIG);
    let d = &dir.0;
    let script = recording_script(&dir);
    // dhclient takes its DUID from the lease file's default-duid (octal-escaped bytes).
    let lf = dir.file(
        "dhclient6.leases",
        "default-duid \"\\000\\003\\000\\001\\002\\000\\000\\000\\167\\001\";\n",
    );
    let pf = d.join("dhclient6.pid");
    let status = cli
        .command(Path::new("dhclient"))
        .args(["-6", "-N", "-P", "-1", "-v"])
        .args(["-lf", &lf.to_string_lossy()])
        .args(["-pf", &pf.to_string_lossy()])
        .args(["-sf", &script.to_string_lossy()])
        .arg("v6cli0")
        .status()
        .expect("dhclient (isc-dhcp-client)");
    let bound_file = d.join("env-BOUND6");
    wait_for(&bound_file, "BOUND6", 15);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut bound = String::new();
    while Instant::now() < deadline {
        bound = std::fs::read_to_string(&bound_file).unwrap_or_default();
        if bound.contains("new_ip6_address=") && bound.contains("new_ip6_prefix=") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Ok(pid) = std::fs::read_to_string(&pf) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            // SAFETY: kill(2) on the dhclient this test started.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
    assert!(status.success(), "dhclient -6 got no lease");
    let output = server.stop();
    assert_eq!(
        env_value(&bound, "new_ip6_address"),
        Some("fd00:2::1ab"),
        "{bound}\n{output}"
    );
    assert_eq!(
        env_value(&bound, "new_ip6_prefix"),
        Some("fd00:20ab:cd00::/56"),
        "{bound}\n{output}"
    );
    // dhclient -6 requests dns-servers: the host's value wins over the global one.
    assert_eq!(
        env_value(&bound, "new_dhcp6_name_servers"),
        Some("fd00:2::77"),
        "{bound}"
    );
    let (header, rows) = export(&cfg);
    for (addr, kind) in [("fd00:2::1ab", "0"), ("fd00:20ab:cd00::", "2")] {
        let row = rows
            .iter()
            .find(|r| {
                column(&header, r, "address") == addr && column(&header, r, "lease_type") == kind
            })
            .unwrap_or_else(|| panic!("{addr} in the lease log:\n{rows:?}\n{output}"));
        assert_eq!(column(&header, row, "hostname"), "reserved-host", "{row}");
        assert_eq!(
            column(&header, row, "duid"),
            "00:03:00:01:02:00:00:00:77:01",
            "{row}"
        );
    }
}

/// perfdhcp -6 (relayed, two shards) against a pool of 256 addresses and 256 delegated /48s
/// of which the first 40 of each are reserved for other DUIDs: every client is served and no
/// client gets a reserved address or prefix, whichever shard serves it (the reservation's bit
/// is claimed at load in the pool bitmap all shards share, ARM 10.3).
#[test]
fn perfdhcp6_never_gets_an_in_pool_reserved_address_or_prefix() {
    let _g = serial();
    let ns = NetNs::new("rp6");
    let dir = TempDir::new("rp6");
    let reservations: Vec<String> = (0..40u32)
        .map(|i| {
            format!(
                r#"{{ "duid": "00:03:00:01:aa:bb:cc:00:00:{i:02x}", "ip-addresses": [ "fd00:1::{:x}" ], "prefixes": [ "fd00:1000:{i:x}::/48" ] }}"#,
                0x1000 + i
            )
        })
        .collect();
    let template = format!(
        r#"{{ "Dhcp6": {{
        "interfaces-config": {{ "interfaces": [ "lo" ] }},
        "lease-database": {{ "type": "memfile", "persist": true, "name": "LEASES" }},
        "multi-threading": {{ "enable-multi-threading": true, "thread-pool-size": 2 }},
        "preferred-lifetime": 3000, "valid-lifetime": 4000,
        "subnet6": [ {{
          "id": 9, "subnet": "fd00:1::/64", "relay": {{ "ip-addresses": [ "::1" ] }},
          "pools": [ {{ "pool": "fd00:1::1000 - fd00:1::10ff" }} ],
          "pd-pools": [ {{ "prefix": "fd00:1000::", "prefix-len": 40, "delegated-len": 48 }} ],
          "reservations": [ {} ] }} ] }} }}"#,
        reservations.join(",\n")
    );
    let (cfg, _) = config(&dir, &template, "lo");
    let env = [("KEA_DHCP_DATA_DIR", dir.0.as_path())];
    let cfg_s = cfg.to_string_lossy().into_owned();
    let server = Server::start6(&ns, &["-c", &cfg_s, "-p", "5548"], &env);
    let report = run_perfdhcp(
        &ns,
        &[
            "-6",
            "-A",
            "1",
            "-e",
            "address-and-prefix",
            "-r",
            "100",
            // Above -n: the exchanges past -n get clients of their own (perfdhcp.rs).
            "-R",
            "300",
            "-n",
            "200",
            "-n",
            "200",
            "-W",
            "5000000",
            "-p",
            "20",
            "-u",
            "-l",
            "::1",
            "-L",
            "547",
            "-N",
            "5548",
            "::1",
        ],
    );
    let output = server.stop();
    let ctx = format!("{report}\n{output}");
    let sent_s = perfdhcp_value(&report, "SOLICIT-ADVERTISE", "sent packets").unwrap_or(0.0);
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    assert!(sent_s >= 190.0, "{ctx}");
    assert!(replies >= 0.98 * sent_s, "{ctx}");
    let (header, rows) = export(&cfg);
    let mut addrs = 0;
    let mut prefixes = 0;
    for row in &rows {
        let addr: std::net::Ipv6Addr = column(&header, row, "address")
            .parse()
            .unwrap_or_else(|_| panic!("{row}"));
        let seg = addr.segments();
        match column(&header, row, "lease_type") {
            "0" => {
                addrs += 1;
                assert!(seg[7] >= 0x1028, "reserved address {addr} leased: {row}");
            }
            "2" => {
                prefixes += 1;
                assert!(seg[2] >= 0x28, "reserved prefix {addr} leased: {row}");
            }
            other => panic!("lease type {other}: {row}"),
        }
    }
    assert!(addrs as f64 >= 0.98 * sent_s, "{addrs} addresses\n{ctx}");
    assert!(
        prefixes as f64 >= 0.98 * sent_s,
        "{prefixes} prefixes\n{ctx}"
    );
    assert_eq!(
        shutdown_stat(&output, "subnet[9].assigned-nas"),
        addrs,
        "{ctx}"
    );
}

/// DIRECT_CONFIG with timers short enough that dhclient -6 renews within the test: T1 2 s,
/// T2 4 s (the server sends them in each IA_NA and IA_PD, RFC 8415 §21.4 / §21.21).
const SHORT_TIMERS_CONFIG: &str = r#"{
  "Dhcp6": {
    "interfaces-config": { "interfaces": [ "IFACE" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES" },
    "preferred-lifetime": 30, "valid-lifetime": 40, "renew-timer": 2, "rebind-timer": 4,
    "subnet6": [ {
      "id": 5, "subnet": "fd00:2::/64", "interface": "IFACE",
      "pools": [ { "pool": "fd00:2::100 - fd00:2::1ff" } ],
      "pd-pools": [ { "prefix": "fd00:2000::", "prefix-len": 40, "delegated-len": 56 } ]
    } ]
  }
}"#;

/// The `expire` of the newest lease-log row for (`addr`, `lease_type`), from `corelease lease
/// export` (which reads the log the running server appends to).
fn exported_expire(cfg: &Path, addr: &str, kind: &str) -> Option<u64> {
    let (header, rows) = export(cfg);
    rows.iter()
        .filter(|r| {
            column(&header, r, "address") == addr && column(&header, r, "lease_type") == kind
        })
        .filter_map(|r| column(&header, r, "expire").parse().ok())
        .max()
}

#[test]
fn dhclient6_renews_its_address_and_prefix_and_releases_them() {
    let _g = serial();
    let (_srv, cli, dir, cfg, server) = linked_server6("dr6", SHORT_TIMERS_CONFIG);
    let d = &dir.0;
    let script = recording_script(&dir);
    let lf = d.join("dhclient6.leases");
    let pf = d.join("dhclient6.pid");
    let dhclient = |extra: &[&str]| {
        cli.command(Path::new("dhclient"))
            .args(["-6", "-N", "-P", "-v"])
            .args(extra)
            .args(["-lf", &lf.to_string_lossy()])
            .args(["-pf", &pf.to_string_lossy()])
            .args(["-sf", &script.to_string_lossy()])
            .arg("v6cli0")
            .status()
            .expect("dhclient (isc-dhcp-client)")
    };
    // Stops the daemonised dhclient on any failure below (the PID of a process this test
    // started); after `dhclient -r` the PID file is gone and this does nothing.
    struct StopDhclient(PathBuf);
    impl Drop for StopDhclient {
        fn drop(&mut self) {
            if let Some(pid) = std::fs::read_to_string(&self.0)
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
            {
                // SAFETY: kill(2) on the dhclient this test started.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
    }
    let _stop = StopDhclient(pf.clone());
    assert!(dhclient(&["-1"]).success(), "dhclient -6 got no lease");
    let both = |file: &str, what: &str| {
        let path = d.join(file);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = std::fs::read_to_string(&path).unwrap_or_default();
            if s.contains("new_ip6_address=") && s.contains("new_ip6_prefix=") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{what} of the address and the prefix within 15 s:\n{s}\n{}",
                server.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let bound = both("env-BOUND6", "BOUND6");
    let address = env_value(&bound, "new_ip6_address")
        .unwrap_or_else(|| panic!("new_ip6_address in {bound}"))
        .to_string();
    let prefix = env_value(&bound, "new_ip6_prefix")
        .unwrap_or_else(|| panic!("new_ip6_prefix in {bound}"))
        .to_string();
    let prefix_addr = prefix.split('/').next().unwrap_or("").to_string();
    assert!(address.starts_with("fd00:2::1"), "{address} from the pool");
    assert!(prefix.ends_with("/56"), "{prefix}");
    let first_na = exported_expire(&cfg, &address, "0").expect("address lease logged");
    let first_pd = exported_expire(&cfg, &prefix_addr, "2").expect("prefix lease logged");

    // At T1 (2 s) dhclient sends a Renew for both IAs; the server extends both leases and
    // logs the new expiry (now + valid-lifetime, later than the first).
    let renewed = both("env-RENEW6", "RENEW6");
    assert!(
        renewed.contains(&format!("new_ip6_address={address}"))
            || renewed.contains(&format!("new_ip6_address='{address}'")),
        "same address renewed:\n{renewed}"
    );
    assert!(
        renewed.contains(&format!("new_ip6_prefix={prefix}"))
            || renewed.contains(&format!("new_ip6_prefix='{prefix}'")),
        "same prefix renewed:\n{renewed}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let na = exported_expire(&cfg, &address, "0").unwrap_or(0);
        let pd = exported_expire(&cfg, &prefix_addr, "2").unwrap_or(0);
        if na > first_na && pd > first_pd {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "lease log: address expire {first_na} -> {na}, prefix expire {first_pd} -> {pd}\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Release: dhclient -r stops the daemon (by its PID file) and sends a Release for both IAs.
    assert!(dhclient(&["-r"]).success(), "dhclient -6 -r");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = server.output();
        if out.contains("DHCP6_RELEASE_NA") && out.contains("DHCP6_RELEASE_PD") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no DHCP6_RELEASE_NA and DHCP6_RELEASE_PD logged:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = server.stop();
    assert!(shutdown_stat(&out, "pkt6-renew-received") >= 1, "{out}");
    assert!(shutdown_stat(&out, "pkt6-release-received") >= 1, "{out}");
    assert_eq!(
        shutdown_stat(&out, "subnet[5].assigned-nas"),
        0,
        "released: {out}"
    );
    assert_eq!(
        shutdown_stat(&out, "subnet[5].assigned-pds"),
        0,
        "released: {out}"
    );
    assert_eq!(
        shutdown_stat(&out, "subnet[5].cumulative-assigned-nas"),
        1,
        "{out}"
    );
    assert_eq!(
        shutdown_stat(&out, "subnet[5].cumulative-assigned-pds"),
        1,
        "{out}"
    );
    // The lease log keeps each released lease with valid lifetime 0 (Kea writes the same row
    // when it releases a lease, and its memfile treats it as gone on load).
    let (header, rows) = export(&cfg);
    for (addr, kind) in [(address.as_str(), "0"), (prefix_addr.as_str(), "2")] {
        let live: Vec<&String> = rows
            .iter()
            .filter(|r| {
                column(&header, r, "address") == addr && column(&header, r, "lease_type") == kind
            })
            .filter(|r| column(&header, r, "valid_lifetime") != "0")
            .collect();
        assert!(
            live.is_empty(),
            "{addr} released, yet exported live: {live:?}\n{header}"
        );
    }
}
