//! Real DHCP clients against the real server over a veth pair: ISC dhclient and busybox
//! udhcpc, each in its own network namespace, the server in another.

use crate::support::*;
use std::path::Path;
use std::time::{Duration, Instant};

const SERVER_CONFIG: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "IFACE" ], "dhcp-socket-type": "SOCKET" },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES" },
    "valid-lifetime": 30, "renew-timer": 3, "rebind-timer": 20,
    "option-data": [
      { "name": "domain-name-servers", "data": "192.0.2.53, 192.0.2.54" },
      { "name": "domain-name", "data": "example.org" }
    ],
    "subnet4": [ {
      "id": 42, "subnet": "192.0.2.0/24", "interface": "IFACE",
      "pools": [ { "pool": "192.0.2.100 - 192.0.2.199" } ],
      "option-data": [ { "name": "routers", "data": "192.0.2.1" } ]
    } ]
  }
}"#;

struct Lab {
    srv: NetNs,
    cli: NetNs,
    dir: TempDir,
    cfg: std::path::PathBuf,
}

/// `socket`: "raw" (Kea's default: replies to a client without an address are unicast at
/// layer 2 to its MAC and yiaddr) or "udp" (they are broadcast).
fn lab(tag: &str, threads: u32, socket: &str) -> Lab {
    let srv = NetNs::new(&format!("{tag}s"));
    let cli = NetNs::new(&format!("{tag}c"));
    veth(&srv, "vsrv0", "192.0.2.1/24", &cli, "vcli0");
    let dir = TempDir::new(tag);
    let leases = dir.0.join("kea-leases4.csv");
    let mut text = SERVER_CONFIG
        .replace("IFACE", "vsrv0")
        .replace("SOCKET", socket)
        .replace("LEASES", &leases.to_string_lossy());
    if threads > 0 {
        text = text.replace(
            "\"valid-lifetime\"",
            &format!("\"multi-threading\": {{ \"enable-multi-threading\": true, \"thread-pool-size\": {threads} }}, \"valid-lifetime\""),
        );
    }
    let cfg = dir.file("kea-dhcp4.json", &text);
    Lab { srv, cli, dir, cfg }
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

#[test]
fn dhclient_gets_renews_and_releases_a_lease() {
    let _g = serial();
    let lab = lab("dhcl", 0, "raw");
    let server = Server::start(&lab.srv, &["-c", &lab.cfg.to_string_lossy()], &[]);
    let d = &lab.dir.0;
    // The hook script records what dhclient learned and configures the address (inside the
    // client namespace only), so that the renewal is a real unicast RENEWING request.
    let script = lab.dir.file(
        "dhclient-script",
        &format!(
            "#!/bin/sh\nenv | sort > {d}/env-$reason.tmp && mv {d}/env-$reason.tmp {d}/env-$reason\n\
             case $reason in BOUND|RENEW|REBOOT) ip addr replace $new_ip_address/24 dev $interface ;; esac\nexit 0\n",
            d = d.display()
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let lf = d.join("dhclient.leases");
    let pf = d.join("dhclient.pid");
    let args = |extra: &[&str]| {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        v.extend(
            [
                "-lf",
                &lf.to_string_lossy(),
                "-pf",
                &pf.to_string_lossy(),
                "-sf",
                &script.to_string_lossy(),
                "vcli0",
            ]
            .map(String::from),
        );
        v
    };
    let st = lab
        .cli
        .command(Path::new("dhclient"))
        .args(args(&["-1", "-v"]))
        .status()
        .expect("dhclient (isc-dhcp-client)");
    assert!(st.success(), "dhclient got no lease");
    let bound = wait_for(&d.join("env-BOUND"), "BOUND", 10);
    let ip = env_value(&bound, "new_ip_address")
        .expect("new_ip_address")
        .to_string();
    assert!(
        ip.starts_with("192.0.2.1") && ip.len() == 11,
        "address {ip} from the pool"
    );
    assert_eq!(env_value(&bound, "new_routers"), Some("192.0.2.1"));
    assert_eq!(
        env_value(&bound, "new_domain_name_servers"),
        Some("192.0.2.53 192.0.2.54")
    );
    assert_eq!(env_value(&bound, "new_domain_name"), Some("example.org"));
    assert_eq!(
        env_value(&bound, "new_dhcp_server_identifier"),
        Some("192.0.2.1")
    );
    assert_eq!(env_value(&bound, "new_dhcp_lease_time"), Some("30"));
    // renew-timer is 3 s: dhclient renews by unicast and gets the same address.
    let renew = wait_for(&d.join("env-RENEW"), "RENEW", 15);
    assert_eq!(env_value(&renew, "new_ip_address"), Some(ip.as_str()));
    // Release: dhclient -r stops the daemon it started (by its PID file) and sends DHCPRELEASE.
    let st = lab
        .cli
        .command(Path::new("dhclient"))
        .args(args(&["-r", "-v"]))
        .status()
        .unwrap();
    assert!(st.success());
    // The server logs DHCP4_RELEASE (INFO, as Kea) once it processed the release.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.output().contains("DHCP4_RELEASE") {
        assert!(
            Instant::now() < deadline,
            "no DHCP4_RELEASE logged:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = server.stop();
    assert!(shutdown_stat(&out, "pkt4-release-received") >= 1, "{out}");
    assert!(
        shutdown_stat(&out, "pkt4-request-received") >= 2,
        "initial request and renewal: {out}"
    );
    assert_eq!(
        shutdown_stat(&out, "subnet[42].assigned-addresses"),
        0,
        "released: {out}"
    );
    assert_eq!(
        shutdown_stat(&out, "subnet[42].cumulative-assigned-addresses"),
        1,
        "{out}"
    );
}

#[test]
fn udhcpc_gets_a_lease_with_the_configured_options() {
    let _g = serial();
    let lab = lab("udhc", 2, "udp");
    let server = Server::start(&lab.srv, &["-c", &lab.cfg.to_string_lossy()], &[]);
    let d = &lab.dir.0;
    let script = lab.dir.file(
        "udhcpc-script",
        &format!(
            "#!/bin/sh\nif [ \"$1\" = bound ]; then env | sort > {d}/udhcpc.tmp && mv {d}/udhcpc.tmp {d}/udhcpc-bound\n\
             ip addr replace $ip/24 dev $interface; fi\nexit 0\n",
            d = d.display()
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // udhcpc runs in the foreground until we signal it: SIGUSR2 makes it release (busybox's
    // documented signal), SIGTERM ends it. `-q` would quit before it counts itself bound,
    // and then sends no release at all.
    let udhcpc = lab
        .cli
        .command(Path::new("busybox"))
        .args(["udhcpc", "-i", "vcli0", "-f", "-t", "5", "-T", "1", "-s"])
        .arg(&script)
        .spawn()
        .expect("busybox udhcpc");
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let udhcpc = KillOnDrop(udhcpc);
    let pid = udhcpc.0.id() as i32;
    let env = wait_for(&d.join("udhcpc-bound"), "udhcpc bound", 5);
    let ip = env_value(&env, "ip").expect("ip");
    assert!(ip.starts_with("192.0.2.1"), "{ip}");
    assert_eq!(env_value(&env, "router"), Some("192.0.2.1"));
    assert_eq!(env_value(&env, "subnet"), Some("255.255.255.0"));
    assert_eq!(env_value(&env, "dns"), Some("192.0.2.53 192.0.2.54"));
    assert_eq!(env_value(&env, "domain"), Some("example.org"));
    assert_eq!(env_value(&env, "serverid"), Some("192.0.2.1"));
    assert_eq!(env_value(&env, "lease"), Some("30"));
    // SAFETY: kill(2) on the PID of the udhcpc this test started.
    unsafe { libc::kill(pid, libc::SIGUSR2) };
    // The server logs DHCP4_RELEASE (INFO, as Kea) once it processed the release.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.output().contains("DHCP4_RELEASE") {
        assert!(
            Instant::now() < deadline,
            "no DHCP4_RELEASE logged:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = server.stop();
    // One DISCOVER answered once although two shard sockets saw the broadcast.
    assert_eq!(
        shutdown_stat(&out, "pkt4-offer-sent"),
        shutdown_stat(&out, "pkt4-discover-received"),
        "{out}"
    );
    assert!(
        shutdown_stat(&out, "pkt4-release-received") >= 1,
        "udhcpc releases on SIGUSR2: {out}"
    );
}
