//! Host reservations (ARM 9.3) and client classification (ARM 16) through the real binary:
//! busybox udhcpc on a veth link (reserved address, hostname and option; a pool guarded by a
//! vendor class; a DROP class), and perfdhcp relayed over loopback with reservations present.

use crate::support::*;
use std::path::Path;
use std::time::{Duration, Instant};

const CLIENT_CONFIG: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "vsrv0" ], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES" },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2 },
    "valid-lifetime": 600,
    "option-data": [ { "name": "domain-name", "data": "example.org" } ],
    "client-classes": [
      { "name": "cam", "test": "option[vendor-class-identifier].text == 'camera'",
        "option-data": [ { "name": "domain-name", "data": "cams.example" } ] },
      { "name": "other", "test": "not member('cam')" },
      { "name": "DROP", "test": "option[60].text == 'blocked'" }
    ],
    "subnet4": [ {
      "id": 5, "subnet": "192.0.2.0/24", "interface": "vsrv0",
      "pools": [ { "pool": "192.0.2.100 - 192.0.2.149", "client-classes": [ "cam" ] },
                 { "pool": "192.0.2.150 - 192.0.2.199", "client-classes": [ "other" ] } ],
      "option-data": [ { "name": "routers", "data": "192.0.2.1" } ],
      "reservations": [
        { "hw-address": "02:00:00:aa:00:01", "ip-address": "192.0.2.20", "hostname": "resv-host",
          "option-data": [ { "name": "domain-name", "data": "reserved.example" } ] }
      ]
    } ]
  }
}"#;

fn wait_for(path: &Path, secs: u64) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.is_empty() {
                return Some(s);
            }
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn env_value<'a>(env: &'a str, key: &str) -> Option<&'a str> {
    env.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim_matches('\''))
}

/// Runs udhcpc once (quits after the lease, or after 3 tries) with the link's MAC set to `mac`;
/// returns the environment its script saw at "bound", if it got a lease.
fn udhcpc(cli: &NetNs, dir: &TempDir, mac: &str, extra: &[&str]) -> Option<String> {
    cli.ip(&["link", "set", "vcli0", "down"]);
    cli.ip(&["link", "set", "vcli0", "address", mac]);
    cli.ip(&["link", "set", "vcli0", "up"]);
    let tag = mac.replace(':', "");
    let out = dir.0.join(format!("bound-{tag}"));
    let script = dir.file(
        &format!("script-{tag}"),
        &format!(
            "#!/bin/sh\nif [ \"$1\" = bound ]; then env | sort > {o}.tmp && mv {o}.tmp {o}; fi\nexit 0\n",
            o = out.display()
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let status = cli
        .command(Path::new("busybox"))
        .args([
            "udhcpc", "-i", "vcli0", "-f", "-q", "-n", "-t", "3", "-T", "1",
        ])
        .args(extra)
        .arg("-s")
        .arg(&script)
        .status()
        .expect("busybox udhcpc");
    if !status.success() {
        return None;
    }
    wait_for(&out, 2)
}

#[test]
fn udhcpc_gets_reservation_class_pool_and_drop_class_drops() {
    let _g = serial();
    let srv = NetNs::new("resvs");
    let cli = NetNs::new("resvc");
    veth(&srv, "vsrv0", "192.0.2.1/24", &cli, "vcli0");
    let dir = TempDir::new("resv");
    let leases = dir.0.join("kea-leases4.csv");
    let cfg = dir.file(
        "kea-dhcp4.json",
        &CLIENT_CONFIG.replace("LEASES", &leases.to_string_lossy()),
    );
    let server = Server::start(&srv, &["-c", &cfg.to_string_lossy()], &[]);

    // The reserved host: its address (outside the pools), hostname and option (ARM 9.3).
    let env = udhcpc(&cli, &dir, "02:00:00:aa:00:01", &["-O", "hostname"])
        .unwrap_or_else(|| panic!("reserved host got no lease:\n{}", server.output()));
    assert_eq!(env_value(&env, "ip"), Some("192.0.2.20"), "{env}");
    assert_eq!(env_value(&env, "hostname"), Some("resv-host"), "{env}");
    assert_eq!(env_value(&env, "domain"), Some("reserved.example"), "{env}");
    assert_eq!(env_value(&env, "router"), Some("192.0.2.1"), "{env}");

    // udhcpc -V sets option 60: the camera class's pool and option (ARM 16.7, 16.1.1).
    let env = udhcpc(&cli, &dir, "02:00:00:aa:00:02", &["-V", "camera"])
        .unwrap_or_else(|| panic!("camera got no lease:\n{}", server.output()));
    let ip = env_value(&env, "ip").expect("ip");
    let last: u8 = ip
        .rsplit('.')
        .next()
        .and_then(|o| o.parse().ok())
        .expect("octet");
    assert!((100..=149).contains(&last), "camera pool, got {ip}");
    assert_eq!(env_value(&env, "domain"), Some("cams.example"), "{env}");

    // udhcpc's own vendor class ("udhcp <version>"): the other pool, the global option.
    let env = udhcpc(&cli, &dir, "02:00:00:aa:00:03", &[])
        .unwrap_or_else(|| panic!("plain client got no lease:\n{}", server.output()));
    let ip = env_value(&env, "ip").expect("ip");
    let last: u8 = ip
        .rsplit('.')
        .next()
        .and_then(|o| o.parse().ok())
        .expect("octet");
    assert!((150..=199).contains(&last), "other pool, got {ip}");
    assert_eq!(env_value(&env, "domain"), Some("example.org"), "{env}");

    // DROP: no answer at all, counted as pkt4-receive-drop (ARM 16.1.1 step 5).
    assert!(udhcpc(&cli, &dir, "02:00:00:aa:00:04", &["-V", "blocked"]).is_none());
    let stopped = server.stop();
    let stat = |name: &str| shutdown_stat(&stopped, name);
    assert!(
        stat("pkt4-receive-drop") >= 3,
        "3 DISCOVERs dropped:\n{stopped}"
    );
    assert_eq!(stat("pkt4-offer-sent"), 3, "{stopped}");
    assert_eq!(stat("pkt4-ack-sent"), 3, "{stopped}");
}

#[test]
fn perfdhcp_never_gets_a_reserved_address() {
    let _g = serial();
    let ns = NetNs::new("resvp").with_relay_address();
    let dir = TempDir::new("resvp");
    let leases = dir.0.join("kea-leases4.csv");
    // 200 pool addresses, the first 50 reserved for MACs perfdhcp never uses (its MACs come
    // from 00:0c:01:02:03:04 with random low bytes).
    let reservations: Vec<String> = (0..50)
        .map(|i| {
            format!(
                r#"{{ "hw-address": "02:aa:00:00:00:{i:02x}", "ip-address": "100.64.0.{}" }}"#,
                10 + i
            )
        })
        .collect();
    let config = format!(
        r#"{{ "Dhcp4": {{
        "interfaces-config": {{ "interfaces": [ "lo/127.0.0.1" ], "dhcp-socket-type": "udp" }},
        "lease-database": {{ "type": "memfile", "persist": true, "name": "{}" }},
        "multi-threading": {{ "enable-multi-threading": true, "thread-pool-size": 2 }},
        "valid-lifetime": 4000,
        "subnet4": [ {{ "id": 9, "subnet": "100.64.0.0/24",
            "relay": {{ "ip-addresses": [ "127.0.0.2" ] }},
            "pools": [ {{ "pool": "100.64.0.10 - 100.64.0.209" }} ],
            "reservations": [ {} ] }} ] }} }}"#,
        leases.to_string_lossy(),
        reservations.join(",")
    );
    let cfg = dir.file("kea-dhcp4.json", &config);
    let server = Server::start(&ns, &["-c", &cfg.to_string_lossy(), "-p", "6768"], &[]);
    let out = ns
        .command(Path::new("perfdhcp"))
        .args([
            "-4",
            "-r",
            "100",
            "-R",
            "140",
            "-n",
            "140",
            "-n",
            "140",
            "-W",
            "5000000",
            "-p",
            "20",
            "-u",
            "-l",
            "127.0.0.2",
            "-L",
            "67",
            "-N",
            "6768",
            "127.0.0.1",
        ])
        .output()
        .expect("perfdhcp (Debian package kea-admin)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stopped = server.stop();
    let sent = perfdhcp_value(&report, "DISCOVER-OFFER", "sent packets").unwrap_or(0.0);
    let acks = perfdhcp_value(&report, "REQUEST-ACK", "received packets").unwrap_or(0.0);
    assert!(sent >= 135.0, "perfdhcp sent {sent} DISCOVERs:\n{report}");
    assert!(
        acks >= 0.98 * sent,
        "{acks} ACKs for {sent}:\n{report}\n{stopped}"
    );
    let export = std::process::Command::new(bin())
        .args(["lease", "export", "-c", &cfg.to_string_lossy()])
        .output()
        .expect("corelease lease export");
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let csv = String::from_utf8_lossy(&export.stdout);
    let mut rows = 0;
    for row in csv.lines().skip(1).filter(|l| !l.is_empty()) {
        let addr: std::net::Ipv4Addr = row
            .split(',')
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("bad row {row}"));
        let last = addr.octets()[3];
        assert!(
            !(10..60).contains(&last),
            "reserved address {addr} leased to a non-reserved client: {row}"
        );
        rows += 1;
    }
    assert!(rows as f64 >= acks, "{rows} leases for {acks} ACKs:\n{csv}");
}

/// The last octet of a dotted IPv4 address from udhcpc's environment.
fn last_octet(env: &str) -> u8 {
    env_value(env, "ip")
        .and_then(|ip| ip.rsplit('.').next())
        .and_then(|o| o.parse().ok())
        .unwrap_or_else(|| panic!("no ip in {env}"))
}

#[test]
fn client_that_leaves_a_pools_class_moves_and_its_old_lease_goes() {
    let _g = serial();
    let srv = NetNs::new("resms");
    let cli = NetNs::new("resmc");
    veth(&srv, "vsrv0", "192.0.2.1/24", &cli, "vcli0");
    let dir = TempDir::new("resm");
    let leases = dir.0.join("kea-leases4.csv");
    let cfg = dir.file(
        "kea-dhcp4.json",
        &CLIENT_CONFIG.replace("LEASES", &leases.to_string_lossy()),
    );
    let server = Server::start(&srv, &["-c", &cfg.to_string_lossy()], &[]);
    let mac = "02:00:00:aa:00:05";
    // A camera: the class-guarded pool (ARM 16.7).
    let env = udhcpc(&cli, &dir, mac, &["-V", "camera"])
        .unwrap_or_else(|| panic!("camera got no lease:\n{}", server.output()));
    let first = env_value(&env, "ip").expect("ip").to_string();
    assert!((100..=149).contains(&last_octet(&env)), "{env}");
    // The same client without the vendor class asks for its address again (udhcpc -r):
    // the guard refuses it, so it is offered one of the other pool (kea-dhcp4 2.2.0 the same),
    // and committing that one deletes the old lease at once (ALLOC_ENGINE_V4_REQUEST_REMOVE_LEASE).
    std::fs::remove_file(dir.0.join("bound-020000aa0005")).expect("first bound file");
    let env = udhcpc(&cli, &dir, mac, &["-r", &first])
        .unwrap_or_else(|| panic!("moved client got no lease:\n{}", server.output()));
    assert!((150..=199).contains(&last_octet(&env)), "{env}");
    let second = env_value(&env, "ip").expect("ip").to_string();
    let stopped = server.stop();
    let stat = |name: &str| shutdown_stat(&stopped, name);
    assert_eq!(stat("subnet[5].assigned-addresses"), 1, "{stopped}");
    assert_eq!(
        stat("subnet[5].cumulative-assigned-addresses"),
        2,
        "{stopped}"
    );
    // The lease log has the deletion: an export after the stop lists only the new lease.
    let export = std::process::Command::new(bin())
        .args(["lease", "export", "-c", &cfg.to_string_lossy()])
        .output()
        .expect("corelease lease export");
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let csv = String::from_utf8_lossy(&export.stdout);
    let active: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter(|row| row.split(',').nth(1) == Some(mac))
        .collect();
    assert_eq!(active.len(), 1, "{csv}");
    assert!(active[0].starts_with(&format!("{second},")), "{csv}");
    assert!(
        !csv.contains(&format!("{first},")),
        "old lease still exported:\n{csv}"
    );
}
