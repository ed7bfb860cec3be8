//! DHCPv4-over-DHCPv6 (RFC 7341) end to end: `corelease dhcp6` and `corelease dhcp4` run with
//! their own Kea configs sharing a `dhcp4o6-port`, as Kea's two servers do; a client in the
//! test's namespace sends DHCPv4-queries (DISCOVER, then REQUEST) to the DHCPv6 server and must
//! get DHCPv4-responses carrying an OFFER and an ACK from the 4o6 subnet, and the lease must be
//! in dhcp4's lease export. A second test pairs each side with ISC Kea 2.2: `corelease dhcp6`
//! with kea-dhcp4, kea-dhcp6 with `corelease dhcp4`.

use crate::support::*;
use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

const DHCP6_CONFIG: &str = r#"{ "Dhcp6": {
    "interfaces-config": { "interfaces": [ "lo" ] },
    "lease-database": { "type": "memfile", "persist": false },
    "dhcp4o6-port": 6767,
    "subnet6": [ { "id": 1, "subnet": "fd00:46::/64", "pools": [ { "pool": "fd00:46::100 - fd00:46::1ff" } ] } ]
} }"#;

const DHCP4_CONFIG: &str = r#"{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "lo" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES" },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2 },
    "valid-lifetime": 4000,
    "dhcp4o6-port": 6767,
    "subnet4": [
      { "id": 1, "subnet": "127.0.0.0/8", "pools": [ { "pool": "127.0.1.10 - 127.0.1.20" } ] },
      { "id": 46, "subnet": "10.46.0.0/24", "4o6-interface": "lo",
        "pools": [ { "pool": "10.46.0.100 - 10.46.0.199" } ] }
    ]
} }"#;

/// Moves the calling thread into namespace `name` (setns affects only this thread).
fn enter_netns(name: &str) {
    let f = std::fs::File::open(format!("/var/run/netns/{name}")).expect("netns handle");
    // SAFETY: setns on a valid namespace fd, for this thread only.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

/// A DHCPv4 DISCOVER or REQUEST (RFC 2131) from `mac`.
fn dhcpv4(kind: u8, mac: [u8; 6], requested: Option<[u8; 4]>, server: Option<[u8; 4]>) -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 1; // BOOTREQUEST
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&0x4060_0001u32.to_be_bytes());
    p[28..34].copy_from_slice(&mac);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(&[53, 1, kind]);
    if let Some(a) = requested {
        p.extend_from_slice(&[50, 4]);
        p.extend_from_slice(&a);
    }
    if let Some(s) = server {
        p.extend_from_slice(&[54, 4]);
        p.extend_from_slice(&s);
    }
    p.push(255);
    p
}

/// A DHCPv4-query (RFC 7341 6.2: msg-type 20, flags 0) carrying `v4` in option 87.
fn dhcpv4_query(xid: [u8; 3], v4: &[u8]) -> Vec<u8> {
    let mut q = vec![20, xid[0], xid[1], xid[2], 0, 87];
    q.extend_from_slice(&(v4.len() as u16).to_be_bytes());
    q.extend_from_slice(v4);
    q
}

/// The DHCPv4 message of a DHCPv4-response (type 21), checking the transaction id.
fn dhcpv4_of_response(resp: &[u8], xid: [u8; 3]) -> Vec<u8> {
    assert_eq!(resp.first(), Some(&21), "a DHCPv4-response: {resp:?}");
    assert_eq!(&resp[1..4], &xid);
    let mut at = 4;
    while at + 4 <= resp.len() {
        let code = u16::from_be_bytes([resp[at], resp[at + 1]]);
        let len = usize::from(u16::from_be_bytes([resp[at + 2], resp[at + 3]]));
        assert_ne!(code, 17, "the ISC 4o6 sub-options were stripped");
        if code == 87 {
            return resp[at + 4..at + 4 + len].to_vec();
        }
        at += 4 + len;
    }
    panic!("no DHCPv4 Message option in {resp:?}");
}

/// (message type, yiaddr, server identifier) of a DHCPv4 reply.
fn summary(v4: &[u8]) -> (u8, [u8; 4], Option<[u8; 4]>) {
    assert!(v4.len() > 240 && v4[0] == 2, "a BOOTREPLY: {v4:?}");
    let yiaddr = [v4[16], v4[17], v4[18], v4[19]];
    let (mut kind, mut sid) = (0, None);
    let mut at = 240;
    while at + 1 < v4.len() && v4[at] != 255 {
        let (code, len) = (v4[at], usize::from(v4[at + 1]));
        let data = &v4[at + 2..(at + 2 + len).min(v4.len())];
        match code {
            53 => kind = data[0],
            54 if len == 4 => sid = Some([data[0], data[1], data[2], data[3]]),
            _ => {}
        }
        at += 2 + len;
    }
    (kind, yiaddr, sid)
}

/// DISCOVER then REQUEST as DHCPv4-queries to the DHCPv6 server on [::1]:547, from the
/// client port 546 of the test's namespace; returns the ACKed address and server id.
fn dora_over_dhcpv6(ns: &str, mac: [u8; 6]) -> ([u8; 4], [u8; 4]) {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter_netns(&ns);
        let sock = UdpSocket::bind(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 546, 0, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let server = SocketAddrV6::new(Ipv6Addr::LOCALHOST, 547, 0, 0);
        let exchange = |xid: [u8; 3], v4: &[u8]| {
            let q = dhcpv4_query(xid, v4);
            let mut buf = [0u8; 2048];
            // Retry as a client would: Kea opens its 4o6 socket after it wrote its PID file.
            for _ in 0..15 {
                sock.send_to(&q, server).unwrap();
                if let Ok(n) = sock.recv(&mut buf) {
                    return dhcpv4_of_response(&buf[..n], xid);
                }
            }
            panic!("no DHCPv4-response to {xid:?}");
        };
        let (kind, offered, sid) = summary(&exchange([1, 2, 3], &dhcpv4(1, mac, None, None)));
        assert_eq!(kind, 2, "DHCPOFFER");
        let sid = sid.expect("server identifier");
        let (kind, acked, _) = summary(&exchange(
            [1, 2, 4],
            &dhcpv4(3, mac, Some(offered), Some(sid)),
        ));
        assert_eq!(kind, 5, "DHCPACK");
        assert_eq!(acked, offered);
        (acked, sid)
    })
    .join()
    .expect("client thread")
}

fn lease_export(cfg: &Path) -> String {
    let out = std::process::Command::new(bin())
        .args(["lease", "export", "-c", &cfg.to_string_lossy()])
        .args(["--format", "kea-csv"])
        .output()
        .expect("corelease lease export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn dhcpv4_over_dhcpv6_through_corelease_dhcp6_and_dhcp4() {
    let _g = serial();
    let ns = NetNs::new("4o6");
    let dir = TempDir::new("4o6");
    let leases = dir.0.join("leases4.csv");
    let cfg4 = dir.file(
        "kea-dhcp4.json",
        &DHCP4_CONFIG.replace("LEASES", &leases.to_string_lossy()),
    );
    let cfg6 = dir.file("kea-dhcp6.json", DHCP6_CONFIG);
    let env = [("KEA_DHCP_DATA_DIR", dir.0.as_path())];
    let v4 = Server::start(&ns, &["-c", &cfg4.to_string_lossy()], &env);
    let v6 = Server::start6(&ns, &["-c", &cfg6.to_string_lossy()], &env);

    let mac = [0x02, 0x46, 0, 0, 0, 0x07];
    let (addr, sid) = dora_over_dhcpv6(&ns.name, mac);
    assert_eq!(&addr[..3], &[10, 46, 0], "from the 4o6 subnet: {addr:?}");
    assert!((100..=199).contains(&addr[3]));
    assert_eq!(sid, [127, 0, 0, 1], "answered as lo's address");

    let out6 = v6.stop();
    assert_eq!(
        shutdown_stat(&out6, "pkt6-dhcpv4-query-received"),
        2,
        "{out6}"
    );
    assert_eq!(
        shutdown_stat(&out6, "pkt6-dhcpv4-response-sent"),
        2,
        "{out6}"
    );
    assert_eq!(shutdown_stat(&out6, "pkt6-receive-drop"), 0, "{out6}");
    let out4 = v4.stop();
    assert_eq!(shutdown_stat(&out4, "pkt4-offer-sent"), 1, "{out4}");
    assert_eq!(shutdown_stat(&out4, "pkt4-ack-sent"), 1, "{out4}");
    assert_eq!(
        shutdown_stat(&out4, "subnet[46].assigned-addresses"),
        1,
        "{out4}"
    );

    let export = lease_export(&cfg4);
    let ip = format!("{}.{}.{}.{}", addr[0], addr[1], addr[2], addr[3]);
    let row = export
        .lines()
        .find(|l| l.starts_with(&format!("{ip},")))
        .unwrap_or_else(|| panic!("{ip} not in the export:\n{export}"));
    assert!(row.contains("02:46:00:00:00:07"), "{row}");
    assert!(row.contains(",46,"), "subnet 46: {row}");
}

/// kea-dhcp4 2.2 runs a 4o6 query through its DHCPv4 hook points; with libdhcp_run_script.so
/// the query shows the DHCPv4-query's IPv6 source as QUERY4_REMOTE_ADDR, port 68, and
/// 0.0.0.0:67 as local (fuzz/kea-compare/hooks4o6.py, run against both servers). corelease
/// dhcp4 behind corelease dhcp6 must call the same points with the same values.
#[test]
fn dhcpv4_over_dhcpv6_runs_the_dhcp4_hook_points_as_kea() {
    use crate::hooks::{calls, recorder_when, text};
    let _g = serial();
    let ns = NetNs::new("4o6hk");
    let dir = TempDir::new("4o6hk");
    let script = recorder_when(&dir, "", "");
    let leases = dir.0.join("leases4.csv");
    let hook = format!(
        r#""dhcp4o6-port": 6767,
    "hooks-libraries": [ {{ "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_run_script.so",
                            "parameters": {{ "name": "{}", "sync": false }} }} ],"#,
        script.display()
    );
    let cfg4 = dir.file(
        "kea-dhcp4.json",
        &DHCP4_CONFIG
            .replace("LEASES", &leases.to_string_lossy())
            .replace(r#""dhcp4o6-port": 6767,"#, &hook),
    );
    let cfg6 = dir.file("kea-dhcp6.json", DHCP6_CONFIG);
    let env = [("KEA_DHCP_DATA_DIR", dir.0.as_path())];
    let v4 = Server::start(&ns, &["-c", &cfg4.to_string_lossy()], &env);
    let v6 = Server::start6(&ns, &["-c", &cfg6.to_string_lossy()], &env);

    let mac = [0x02, 0x46, 0, 0, 0, 0x33];
    // Twice: the second DISCOVER and REQUEST renew the client's lease (lease4_renew).
    let (addr, _) = dora_over_dhcpv6(&ns.name, mac);
    let (again, _) = dora_over_dhcpv6(&ns.name, mac);
    assert_eq!(addr, again);
    let count = |point: &str| calls(&dir).iter().filter(|(p, _)| p == point).count();
    // Detached scripts: wait for them to write (bounded).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (count("leases4_committed") < 2 || count("lease4_renew") < 2)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out4 = v4.stop();
    v6.stop();
    let calls = calls(&dir);
    let mut points: Vec<&str> = calls.iter().map(|(p, _)| p.as_str()).collect();
    points.sort();
    assert_eq!(
        points,
        [
            "lease4_renew",
            "lease4_renew",
            "leases4_committed",
            "leases4_committed"
        ],
        "{out4}"
    );
    let ip = format!("{}.{}.{}.{}", addr[0], addr[1], addr[2], addr[3]);
    for (point, env) in &calls {
        assert_eq!(text(env, "QUERY4_REMOTE_ADDR"), "::1", "{point}");
        assert_eq!(text(env, "QUERY4_REMOTE_PORT"), "68", "{point}");
        assert_eq!(text(env, "QUERY4_LOCAL_ADDR"), "0.0.0.0", "{point}");
        assert_eq!(text(env, "QUERY4_LOCAL_PORT"), "67", "{point}");
        assert_eq!(text(env, "QUERY4_IFACE_NAME"), "lo", "{point}");
        assert_eq!(text(env, "QUERY4_RELAYED"), "false", "{point}");
        assert_eq!(text(env, "QUERY4_HWADDR"), "02:46:00:00:00:33", "{point}");
    }
    let renews: Vec<String> = calls
        .iter()
        .filter(|(p, _)| p == "lease4_renew")
        .map(|(_, env)| {
            assert_eq!(text(env, "LEASE4_ADDRESS"), ip);
            assert_eq!(text(env, "SUBNET4_ID"), "46");
            text(env, "QUERY4_TYPE")
        })
        .collect();
    assert!(renews.contains(&"DHCPDISCOVER".to_string()), "{renews:?}");
    assert!(renews.contains(&"DHCPREQUEST".to_string()), "{renews:?}");
    for (_, env) in calls.iter().filter(|(p, _)| p == "leases4_committed") {
        assert_eq!(text(env, "LEASES4_AT0_ADDRESS"), ip);
        assert_eq!(text(env, "LEASES4_AT0_SUBNET_ID"), "46");
    }
}

/// A real ISC Kea 2.2 server (`kea-dhcp4` / `kea-dhcp6`) in the test's namespace, killed by PID
/// on drop; its log goes to `<dir>/<program>.log`.
struct Kea {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Kea {
    fn start(ns: &NetNs, program: &str, config: &Path, dir: &Path) -> Kea {
        let log = dir.join(format!("{program}.log"));
        let child = ns
            .command(Path::new(program))
            .arg("-c")
            .arg(config)
            .env("KEA_PIDFILE_DIR", dir)
            .env("KEA_LOCKFILE_DIR", dir)
            .stdout(std::fs::File::create(&log).expect("kea log"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{program}: {e} (Debian packages kea-dhcp4-server / kea-dhcp6-server)")
            });
        Kea { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Kea {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const KEA_DHCP4_CONFIG: &str = r#"{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "lo" ], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES", "lfc-interval": 0 },
    "valid-lifetime": 4000,
    "dhcp4o6-port": 6767,
    "subnet4": [ { "id": 46, "subnet": "10.46.0.0/24", "4o6-interface": "lo",
                   "pools": [ { "pool": "10.46.0.100 - 10.46.0.199" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ],
                   "severity": "DEBUG", "debuglevel": 40 } ]
} }"#;

const KEA_DHCP6_CONFIG: &str = r#"{ "Dhcp6": {
    "interfaces-config": { "interfaces": [ "lo/::1" ] },
    "server-id": { "type": "EN", "enterprise-id": 2495, "identifier": "0102", "persist": false },
    "lease-database": { "type": "memfile", "persist": false },
    "dhcp4o6-port": 6767,
    "subnet6": [ { "id": 1, "subnet": "fd00:46::/64", "interface": "lo",
                   "pools": [ { "pool": "fd00:46::100 - fd00:46::1ff" } ] } ],
    "loggers": [ { "name": "kea-dhcp6", "output_options": [ { "output": "stdout" } ],
                   "severity": "DEBUG", "debuglevel": 40 } ]
} }"#;

#[test]
fn dhcpv4_over_dhcpv6_interoperates_with_kea_2_2_on_either_side() {
    let _g = serial();
    let mac = [0x02, 0x46, 0, 0, 0, 0x22];
    let mac_text = "02:46:00:00:00:22";

    // corelease dhcp6 in front of ISC kea-dhcp4.
    {
        let ns = NetNs::new("4o6k4");
        let dir = TempDir::new("4o6k4");
        let leases = dir.0.join("kea-leases4.csv");
        let cfg4 = dir.file(
            "kea-dhcp4.json",
            &KEA_DHCP4_CONFIG.replace("LEASES", &leases.to_string_lossy()),
        );
        let cfg6 = dir.file("corelease-dhcp6.json", DHCP6_CONFIG);
        let kea = Kea::start(&ns, "kea-dhcp4", &cfg4, &dir.0);
        let v6 = Server::start6(
            &ns,
            &["-c", &cfg6.to_string_lossy()],
            &[("KEA_DHCP_DATA_DIR", dir.0.as_path())],
        );
        let (addr, sid) = dora_over_dhcpv6(&ns.name, mac);
        assert_eq!(&addr[..3], &[10, 46, 0], "{}", kea.log());
        assert_eq!(sid, [127, 0, 0, 1]);
        let out6 = v6.stop();
        assert_eq!(
            shutdown_stat(&out6, "pkt6-dhcpv4-response-sent"),
            2,
            "{out6}"
        );
        let ip = format!("{}.{}.{}.{}", addr[0], addr[1], addr[2], addr[3]);
        let csv = std::fs::read_to_string(&leases).unwrap_or_default();
        assert!(
            csv.lines()
                .any(|l| l.starts_with(&format!("{ip},{mac_text},"))),
            "kea-dhcp4's lease file holds {ip}:\n{csv}\n{}",
            kea.log()
        );
    }

    // ISC kea-dhcp6 in front of corelease dhcp4.
    {
        let ns = NetNs::new("4o6k6");
        let dir = TempDir::new("4o6k6");
        let leases = dir.0.join("leases4.csv");
        let cfg4 = dir.file(
            "kea-dhcp4.json",
            &DHCP4_CONFIG.replace("LEASES", &leases.to_string_lossy()),
        );
        let cfg6 = dir.file("kea-dhcp6.json", KEA_DHCP6_CONFIG);
        let v4 = Server::start(
            &ns,
            &["-c", &cfg4.to_string_lossy()],
            &[("KEA_DHCP_DATA_DIR", dir.0.as_path())],
        );
        let kea = Kea::start(&ns, "kea-dhcp6", &cfg6, &dir.0);
        let (addr, sid) = dora_over_dhcpv6(&ns.name, mac);
        assert_eq!(&addr[..3], &[10, 46, 0], "{}", kea.log());
        assert_eq!(sid, [127, 0, 0, 1]);
        let log6 = kea.log();
        assert!(log6.contains("DHCP6_DHCP4O6_PACKET_RECEIVED"), "{log6}");
        let out4 = v4.stop();
        assert_eq!(shutdown_stat(&out4, "pkt4-ack-sent"), 1, "{out4}");
        let ip = format!("{}.{}.{}.{}", addr[0], addr[1], addr[2], addr[3]);
        let export = lease_export(&cfg4);
        assert!(
            export
                .lines()
                .any(|l| l.starts_with(&format!("{ip},{mac_text},"))),
            "{ip} in corelease dhcp4's export:\n{export}"
        );
    }
}
