//! The control API of the real binary (ARM 19 "Management API"): every implemented command over
//! the unix socket and over HTTP, basic authentication, `/metrics` through promtool, and the
//! statistics and leases after a perfdhcp run. The server runs in a namespace the test makes;
//! the HTTP client connects from a thread that joined that namespace (setns is per thread).

use crate::support::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "lo/127.0.0.1" ], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES", "lfc-interval": 3600 },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64 },
    "valid-lifetime": 4000,
    "control-sockets": [
      { "socket-type": "unix", "socket-name": "SOCKET" },
      { "socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8000,
        "authentication": { "type": "basic", "realm": "corelease-test",
          "clients": [ { "user": "admin", "password": "s3cret" } ] } }
    ],
    "subnet4": [ {
      "id": 7, "subnet": "100.64.0.0/16",
      "relay": { "ip-addresses": [ "127.0.0.2" ] },
      "pools": [ { "pool": "100.64.0.10 - 100.64.255.250" } ]
    } ]
  }
}"#;

/// base64("admin:s3cret")
pub(crate) const GOOD_AUTH: &str = "YWRtaW46czNjcmV0";

struct Rig {
    ns: NetNs,
    dir: TempDir,
    cfg: PathBuf,
    socket: PathBuf,
    server: Option<Server>,
}

impl Rig {
    fn start(tag: &str) -> Rig {
        let ns = NetNs::new(tag).with_relay_address();
        let dir = TempDir::new(tag);
        let socket = dir.0.join("kea4-ctrl-socket");
        let leases = dir.0.join("kea-leases4.csv");
        let cfg = dir.file(
            "kea-dhcp4.json",
            &CONFIG
                .replace("LEASES", &leases.to_string_lossy())
                .replace("SOCKET", &socket.to_string_lossy()),
        );
        let server = Server::start(
            &ns,
            &["-c", &cfg.to_string_lossy(), "-p", "6767"],
            &[("KEA_PIDFILE_DIR", &dir.0)],
        );
        Rig {
            ns,
            dir,
            cfg,
            socket,
            server: Some(server),
        }
    }

    fn unix(&self, cmd: &Value) -> Value {
        unix_command(&self.socket, cmd)
    }

    /// POST / with good credentials; Kea's HTTP answer is a list with one response.
    fn http(&self, cmd: &Value) -> Value {
        let (status, body) = http_request(&self.ns, "POST", "/", Some(GOOD_AUTH), &cmd.to_string());
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        let list = v.as_array().unwrap_or_else(|| panic!("not a list: {body}"));
        assert_eq!(list.len(), 1, "{body}");
        list[0].clone()
    }

    /// The same command over both sockets; both answers must agree on result (and text).
    fn both(&self, cmd: Value) -> Value {
        let u = self.unix(&cmd);
        let h = self.http(&cmd);
        assert_eq!(u["result"], h["result"], "{cmd}: unix {u} http {h}");
        h
    }

    fn stop(mut self) -> String {
        self.server.take().map(Server::stop).unwrap_or_default()
    }
}

fn unix_command(socket: &Path, cmd: &Value) -> Value {
    let mut s =
        UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(cmd.to_string().as_bytes()).unwrap();
    let mut out = String::new();
    // Kea closes the connection after its one response.
    s.read_to_string(&mut out).unwrap();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// One HTTP/1.1 request to 127.0.0.1:8000 inside `ns`, from a thread that joined `ns`.
pub(crate) fn http_request(
    ns: &NetNs,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, String) {
    let ns_path = format!("/var/run/netns/{}", ns.name);
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{body}",
        body.len(),
        auth.map(|a| format!("Authorization: Basic {a}\r\n")).unwrap_or_default()
    );
    std::thread::scope(|sc| {
        sc.spawn(|| {
            let f = std::fs::File::open(&ns_path).expect("netns file");
            // SAFETY: setns(2) on this thread only, with a namespace fd we opened.
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let mut s = std::net::TcpStream::connect("127.0.0.1:8000").expect("connect HTTP");
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            s.write_all(req.as_bytes()).unwrap();
            let mut raw = Vec::new();
            s.read_to_end(&mut raw).unwrap();
            let text = String::from_utf8_lossy(&raw).into_owned();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let status = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            (status, body.to_string())
        })
        .join()
        .expect("HTTP thread")
    })
}

fn run_perfdhcp(ns: &NetNs, clients: &str, seconds: &str) -> String {
    let out = ns
        .command(Path::new("perfdhcp"))
        .args([
            "-4",
            "-r",
            "300",
            "-R",
            clients,
            "-n",
            clients,
            "-n",
            clients,
            "-W",
            "5000000",
            "-p",
            seconds,
            "-u",
            "-l",
            "127.0.0.2",
            "-L",
            "67",
            "-N",
            "6767",
            "127.0.0.1",
        ])
        .output()
        .expect("perfdhcp (Debian package kea-admin)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stat(rig: &Rig, name: &str) -> i64 {
    let r = rig.both(json!({ "command": "statistic-get", "arguments": { "name": name } }));
    assert_eq!(r["result"], 0, "{r}");
    r["arguments"][name][0][0]
        .as_i64()
        .unwrap_or_else(|| panic!("{name}: {r}"))
}

#[test]
fn http_without_valid_credentials_gets_401() {
    let _g = serial();
    let rig = Rig::start("ctl401");
    let cmd = json!({ "command": "version-get" }).to_string();
    let (status, body) = http_request(&rig.ns, "POST", "/", None, &cmd);
    assert_eq!(status, 401, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["result"], 401);
    // base64("admin:wrong")
    let (status, _) = http_request(&rig.ns, "POST", "/", Some("YWRtaW46d3Jvbmc="), &cmd);
    assert_eq!(status, 401);
    let (status, _) = http_request(&rig.ns, "GET", "/metrics", None, "");
    assert_eq!(status, 401);
    let (status, body) = http_request(&rig.ns, "POST", "/", Some(GOOD_AUTH), &cmd);
    assert_eq!(status, 200, "{body}");
    rig.stop();
}

#[test]
fn unix_control_socket_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let _g = serial();
    let rig = Rig::start("ctlmode");
    let mode = std::fs::metadata(&rig.socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let socket = rig.socket.clone();
    rig.stop();
    assert!(!socket.exists(), "socket file removed at shutdown");
}

#[test]
fn every_command_round_trips_over_unix_and_http() {
    let _g = serial();
    let rig = Rig::start("ctlall");

    let r = rig.both(json!({ "command": "list-commands" }));
    let list: Vec<&str> = r["arguments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for c in [
        "status-get",
        "statistic-get-all",
        "lease4-get-page",
        "dhcp-disable",
        "shutdown",
    ] {
        assert!(list.contains(&c), "{c} missing from {list:?}");
    }
    let r = rig.both(json!({ "command": "version-get" }));
    assert_eq!(r["text"], env!("CARGO_PKG_VERSION"));
    assert!(r["arguments"]["extended"]
        .as_str()
        .unwrap()
        .contains("corelease"));
    let r = rig.both(json!({ "command": "build-report" }));
    assert!(r["text"].as_str().unwrap().starts_with("corelease "), "{r}");
    let r = rig.both(json!({ "command": "status-get" }));
    assert_eq!(r["arguments"]["shards"], 2, "{r}");
    assert_eq!(
        r["arguments"]["shard-counters"].as_array().unwrap().len(),
        2,
        "{r}"
    );
    assert!(r["arguments"]["pid"].as_u64().is_some_and(|p| p > 1), "{r}");
    assert_eq!(r["arguments"]["thread-pool-size"], 2);
    let r = rig.both(json!({ "command": "config-get" }));
    assert_eq!(r["arguments"]["Dhcp4"]["subnet4"][0]["id"], 7, "{r}");
    let hash = r["arguments"]["hash"].as_str().unwrap().to_string();
    let r = rig.both(json!({ "command": "config-hash-get" }));
    assert_eq!(r["arguments"]["hash"], hash.as_str());
    let good = json!({ "Dhcp4": { "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24" } ] } });
    let r = rig.both(json!({ "command": "config-test", "arguments": good }));
    assert_eq!(r["result"], 0, "{r}");
    let bad = json!({ "Dhcp4": { "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24",
        "pools": [ { "pool": "192.0.3.1 - 192.0.3.9" } ] } ] } });
    let r = rig.both(json!({ "command": "config-test", "arguments": bad }));
    assert_eq!(r["result"], 1);
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("Dhcp4.subnet4[0].pools[0].pool"),
        "{r}"
    );
    let r =
        rig.both(json!({ "command": "config-write", "arguments": { "filename": "written.json" } }));
    assert_eq!(r["result"], 0, "{r}");
    let written: Value =
        serde_json::from_slice(&std::fs::read(rig.dir.0.join("written.json")).unwrap()).unwrap();
    assert_eq!(written["Dhcp4"]["subnet4"][0]["id"], 7);
    let r = rig.unix(&json!({ "command": "config-write", "arguments": { "filename": "/etc/corelease-nope.json" } }));
    assert_eq!(r["result"], 1, "outside the config directory: {r}");
    // A reload cannot change sockets, threads or lease storage; a bad config is named by
    // JSON path; either way result 1 and the running configuration stays.
    let r = rig.both(json!({ "command": "config-set", "arguments": good }));
    assert_eq!(r["result"], 1);
    assert!(
        r["text"].as_str().unwrap().contains("needs a restart"),
        "{r}"
    );
    let r = rig.both(json!({ "command": "config-set", "arguments": bad }));
    assert_eq!(r["result"], 1);
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("Dhcp4.subnet4[0].pools[0].pool"),
        "{r}"
    );
    let r = rig.both(json!({ "command": "config-hash-get" }));
    assert_eq!(
        r["arguments"]["hash"],
        hash.as_str(),
        "running config unchanged"
    );
    let r = rig.both(json!({ "command": "config-reload" }));
    assert_eq!(r["result"], 0, "{r}");
    assert_eq!(
        r["arguments"]["hash"],
        hash.as_str(),
        "same file, same hash"
    );
    let r = rig.both(json!({ "command": "no-such-command" }));
    assert_eq!(r["result"], 2);

    // Statistics.
    let r = rig.both(json!({ "command": "statistic-get-all" }));
    assert_eq!(
        r["arguments"]["subnet[7].total-addresses"][0][0], 65_521,
        "{r}"
    );
    assert!(r["arguments"]["pkt4-received"].is_array());
    for (cmd, args) in [
        ("statistic-reset", json!({ "name": "pkt4-received" })),
        ("statistic-reset-all", json!({})),
        (
            "statistic-sample-age-set",
            json!({ "name": "pkt4-received", "duration": 60 }),
        ),
        ("statistic-sample-age-set-all", json!({ "duration": 60 })),
        (
            "statistic-sample-count-set",
            json!({ "name": "pkt4-received", "max-samples": 5 }),
        ),
        (
            "statistic-sample-count-set-all",
            json!({ "max-samples": 5 }),
        ),
    ] {
        let r = rig.both(json!({ "command": cmd, "arguments": args }));
        assert_eq!(r["result"], 0, "{cmd}: {r}");
    }
    let r =
        rig.unix(&json!({ "command": "statistic-remove", "arguments": { "name": "pkt4-sent" } }));
    assert_eq!(r["text"], "Statistic 'pkt4-sent' removed.");
    let r = rig.http(&json!({ "command": "statistic-get", "arguments": { "name": "pkt4-sent" } }));
    assert_eq!(r["arguments"], json!({}), "removed: {r}");
    let r = rig.both(json!({ "command": "statistic-remove-all", "arguments": {} }));
    assert_eq!(r["result"], 0);
    let r = rig.both(json!({ "command": "statistic-get-all" }));
    assert_eq!(r["arguments"].as_object().map(|m| m.len()), Some(0), "{r}");

    // Leases: add, get every way, update, delete, wipe.
    let r = rig.unix(&json!({ "command": "lease4-add", "arguments": {
        "ip-address": "100.64.1.1", "hw-address": "1a:1b:1c:1d:1e:1f", "client-id": "01:02:03",
        "hostname": "host-a.example.org" } }));
    assert_eq!(
        r,
        json!({ "result": 0, "text": "Lease for address 100.64.1.1, subnet-id 7 added." })
    );
    let r = rig.http(&json!({ "command": "lease4-add", "arguments": {
        "ip-address": "100.64.1.2", "hw-address": "2a:2b:2c:2d:2e:2f", "subnet-id": 7 } }));
    assert_eq!(r["result"], 0, "{r}");
    let r = rig.both(json!({ "command": "lease4-add", "arguments": {
        "ip-address": "100.64.1.2", "hw-address": "3a:3b:3c:3d:3e:3f" } }));
    assert_eq!(r["result"], 1, "address taken: {r}");
    let r = rig.both(json!({ "command": "lease4-add", "arguments": {
        "ip-address": "10.9.9.9", "hw-address": "3a:3b:3c:3d:3e:3f" } }));
    assert_eq!(r["result"], 1, "no subnet: {r}");
    // An out-of-pool address (no pool bitmap guards it) already leased to one client is
    // refused for every other client, whichever shard owns it (16 MACs that differ in every
    // byte cover both shards); then removed again.
    let mac = |m: [u8; 6]| m.map(|b| format!("{b:02x}")).join(":");
    let r = rig.unix(&json!({ "command": "lease4-add", "arguments": {
        "ip-address": "100.64.0.5", "hw-address": "4a:4b:4c:4d:4e:4f" } }));
    assert_eq!(r["result"], 0, "out of pool: {r}");
    for b in 0u8..16 {
        let other = [
            b,
            b ^ 0x55,
            b.wrapping_mul(37),
            0x5d,
            b.wrapping_mul(11),
            b ^ 0xa0,
        ];
        let r = rig.both(json!({ "command": "lease4-add", "arguments": {
            "ip-address": "100.64.0.5", "hw-address": mac(other) } }));
        assert_eq!(r["result"], 1, "out-of-pool address already leased: {r}");
    }
    let r =
        rig.unix(&json!({ "command": "lease4-del", "arguments": { "ip-address": "100.64.0.5" } }));
    assert_eq!(r["result"], 0, "{r}");
    let r =
        rig.both(json!({ "command": "lease4-get", "arguments": { "ip-address": "100.64.1.1" } }));
    assert_eq!(r["text"], "IPv4 lease found.");
    assert_eq!(r["arguments"]["hw-address"], "1a:1b:1c:1d:1e:1f");
    assert_eq!(r["arguments"]["valid-lft"], 4000);
    assert_eq!(r["arguments"]["subnet-id"], 7);
    let r = rig.both(json!({ "command": "lease4-get", "arguments": {
        "identifier-type": "client-id", "identifier": "01:02:03", "subnet-id": 7 } }));
    assert_eq!(r["arguments"]["ip-address"], "100.64.1.1", "{r}");
    let r = rig.both(json!({ "command": "lease4-get", "arguments": {
        "identifier-type": "hw-address", "identifier": "2a:2b:2c:2d:2e:2f", "subnet-id": 7 } }));
    assert_eq!(r["arguments"]["ip-address"], "100.64.1.2", "{r}");
    let r = rig.both(json!({ "command": "lease4-get-all" }));
    assert_eq!(r["text"], "2 IPv4 lease(s) found.", "{r}");
    let r = rig.both(json!({ "command": "lease4-get-all", "arguments": { "subnets": [ 8 ] } }));
    assert_eq!(r["result"], 3);
    let r = rig.both(
        json!({ "command": "lease4-get-page", "arguments": { "from": "start", "limit": 1 } }),
    );
    assert_eq!(r["arguments"]["count"], 1);
    assert_eq!(r["arguments"]["leases"][0]["ip-address"], "100.64.1.1");
    let r = rig.both(
        json!({ "command": "lease4-get-page", "arguments": { "from": "100.64.1.1", "limit": 10 } }),
    );
    assert_eq!(
        r["arguments"]["leases"][0]["ip-address"], "100.64.1.2",
        "{r}"
    );
    let r = rig.both(json!({ "command": "lease4-get-by-hw-address", "arguments": { "hw-address": "2a:2b:2c:2d:2e:2f" } }));
    assert_eq!(r["arguments"]["leases"][0]["ip-address"], "100.64.1.2");
    let r = rig.both(
        json!({ "command": "lease4-get-by-client-id", "arguments": { "client-id": "01:02:03" } }),
    );
    assert_eq!(r["arguments"]["leases"][0]["ip-address"], "100.64.1.1");
    let r = rig.both(json!({ "command": "lease4-get-by-hostname", "arguments": { "hostname": "host-a.example.org" } }));
    assert_eq!(r["arguments"]["leases"][0]["ip-address"], "100.64.1.1");
    assert_eq!(
        stat(&rig, "subnet[7].assigned-addresses"),
        2,
        "added leases are counted"
    );
    let r = rig.unix(&json!({ "command": "lease4-update", "arguments": {
        "ip-address": "100.64.1.1", "hw-address": "4a:4b:4c:4d:4e:4f", "hostname": "renamed.example.org" } }));
    assert_eq!(r, json!({ "result": 0, "text": "IPv4 lease updated." }));
    let r =
        rig.http(&json!({ "command": "lease4-get", "arguments": { "ip-address": "100.64.1.1" } }));
    assert_eq!(r["arguments"]["hostname"], "renamed.example.org");
    assert_eq!(r["arguments"]["hw-address"], "4a:4b:4c:4d:4e:4f");
    let r = rig.both(json!({ "command": "lease4-update", "arguments": {
        "ip-address": "100.64.1.9", "hw-address": "4a:4b:4c:4d:4e:4f" } }));
    assert_eq!(r["result"], 1, "no such lease, no force-create: {r}");
    assert!(
        r["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("failed to update the lease with address 100.64.1.9")),
        "Kea's text: {r}"
    );
    let r = rig.unix(&json!({ "command": "lease4-update", "arguments": {
        "ip-address": "100.64.1.9", "hw-address": "4a:4b:4c:4d:4e:40", "force-create": true } }));
    assert_eq!(r, json!({ "result": 0, "text": "IPv4 lease added." }));
    assert_eq!(stat(&rig, "subnet[7].assigned-addresses"), 3);
    // Each new hw-address steers the client to a shard by hash: across these the lease moves
    // between the two shards; it is found under its new client every time and counted once.
    for last in 0x41..0x49u8 {
        let hw = format!("4a:4b:4c:4d:4e:{last:02x}");
        let r = rig.both(json!({ "command": "lease4-update", "arguments": {
            "ip-address": "100.64.1.9", "hw-address": hw, "valid-lft": 3000 + u32::from(last) } }));
        assert_eq!(r["text"], "IPv4 lease updated.", "{r}");
        let r = rig.http(
            &json!({ "command": "lease4-get-by-hw-address", "arguments": { "hw-address": hw } }),
        );
        assert_eq!(
            r["arguments"]["leases"][0]["ip-address"], "100.64.1.9",
            "{hw}: {r}"
        );
        assert_eq!(
            r["arguments"]["leases"].as_array().map(Vec::len),
            Some(1),
            "{r}"
        );
        let r = rig.http(&json!({ "command": "lease4-get-all" }));
        assert_eq!(
            r["text"], "3 IPv4 lease(s) found.",
            "one lease, never two: {r}"
        );
        assert_eq!(stat(&rig, "subnet[7].assigned-addresses"), 3);
    }
    let r =
        rig.unix(&json!({ "command": "lease4-del", "arguments": { "ip-address": "100.64.1.9" } }));
    assert_eq!(r["result"], 0, "{r}");
    let r =
        rig.unix(&json!({ "command": "lease4-del", "arguments": { "ip-address": "100.64.1.1" } }));
    assert_eq!(r, json!({ "result": 0, "text": "IPv4 lease deleted." }));
    let r =
        rig.http(&json!({ "command": "lease4-del", "arguments": { "ip-address": "100.64.1.1" } }));
    assert_eq!(r["result"], 3);
    assert_eq!(stat(&rig, "subnet[7].assigned-addresses"), 1);
    let r = rig.unix(&json!({ "command": "lease4-wipe", "arguments": { "subnet-id": 7 } }));
    assert_eq!(
        r,
        json!({ "result": 0, "text": "Deleted 1 IPv4 lease(s) from subnet(s) 7" })
    );
    let r = rig.http(&json!({ "command": "lease4-wipe", "arguments": { "subnet-id": 7 } }));
    assert_eq!(r["result"], 3);
    let r = rig.both(json!({ "command": "leases-reclaim", "arguments": { "remove": false } }));
    assert_eq!(r["text"], "Reclamation of expired leases is complete.");

    // dhcp-disable: packets are received, counted, dropped; dhcp-enable serves again.
    let r = rig.both(json!({ "command": "dhcp-disable" }));
    assert_eq!(r["text"], "DHCPv4 service disabled");
    let r = rig.both(json!({ "command": "status-get" }));
    assert_eq!(r["arguments"]["dhcp-state"]["globally-disabled"], true);
    // Removed by statistic-remove-all above and unchanged since: absent, i.e. 0 from there on.
    let r = rig
        .both(json!({ "command": "statistic-get", "arguments": { "name": "pkt4-receive-drop" } }));
    assert_eq!(r["arguments"], json!({}), "{r}");
    let report = run_perfdhcp(&rig.ns, "20", "3");
    let offers = perfdhcp_value(&report, "DISCOVER-OFFER", "received packets").unwrap_or(-1.0);
    assert_eq!(offers, 0.0, "disabled server answered:\n{report}");
    // Back once it changed, counting from its removal.
    // perfdhcp exits once its 20 DISCOVERs timed out; on a loaded machine the shards may
    // count the last of them a moment later, so wait for the count (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut drops = stat(&rig, "pkt4-receive-drop");
    while drops < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        drops = stat(&rig, "pkt4-receive-drop");
    }
    assert!(drops >= 20, "{drops} drops counted:\n{report}");
    let r = rig.both(json!({ "command": "dhcp-enable" }));
    assert_eq!(r["result"], 0);

    // shutdown over the unix socket stops the server (the socket file goes away).
    let r = rig.unix(&json!({ "command": "shutdown" }));
    assert_eq!(r, json!({ "result": 0, "text": "Shutting down." }));
    let deadline = Instant::now() + Duration::from_secs(10);
    while rig.socket.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !rig.socket.exists(),
        "shutdown command did not stop the server"
    );
    let _ = &rig.cfg;
    rig.stop();
}

#[test]
fn statistics_metrics_and_leases_agree_with_a_perfdhcp_run() {
    let _g = serial();
    let rig = Rig::start("ctlperf");
    let report = run_perfdhcp(&rig.ns, "1000", "20");
    let sent_d = perfdhcp_value(&report, "DISCOVER-OFFER", "sent packets").unwrap_or(0.0);
    let offers = perfdhcp_value(&report, "DISCOVER-OFFER", "received packets").unwrap_or(0.0);
    let acks = perfdhcp_value(&report, "REQUEST-ACK", "received packets").unwrap_or(0.0);
    let drops_d = perfdhcp_value(&report, "DISCOVER-OFFER", "drops").unwrap_or(0.0);
    let drops_r = perfdhcp_value(&report, "REQUEST-ACK", "drops").unwrap_or(0.0);
    assert!(sent_d >= 950.0 && acks >= 0.95 * sent_d, "{report}");
    // A reply the server sent but perfdhcp did not count is one of perfdhcp's own drops.
    let ack_sent = stat(&rig, "pkt4-ack-sent") as f64;
    let offer_sent = stat(&rig, "pkt4-offer-sent") as f64;
    assert!(
        ack_sent >= acks && ack_sent <= acks + drops_r,
        "ack-sent {ack_sent}, perfdhcp:\n{report}"
    );
    assert!(
        offer_sent >= offers && offer_sent <= offers + drops_d,
        "offer-sent {offer_sent}:\n{report}"
    );
    assert_eq!(
        stat(&rig, "pkt4-discover-received") as f64,
        sent_d,
        "{report}"
    );
    let assigned = stat(&rig, "subnet[7].assigned-addresses");
    assert_eq!(assigned as f64, ack_sent, "one lease per ACK");

    // Every lease perfdhcp obtained is there, and lease4-get finds one by address and identity.
    let all = rig.both(json!({ "command": "lease4-get-all" }));
    let leases = all["arguments"]["leases"].as_array().unwrap();
    assert_eq!(leases.len() as i64, assigned);
    let first = &leases[0];
    let addr = first["ip-address"].as_str().unwrap();
    let r = rig.both(json!({ "command": "lease4-get", "arguments": { "ip-address": addr } }));
    assert_eq!(r["result"], 0);
    assert_eq!(r["arguments"]["hw-address"], first["hw-address"]);
    let r = rig.both(json!({ "command": "lease4-get", "arguments": {
        "identifier-type": "hw-address", "identifier": first["hw-address"], "subnet-id": 7 } }));
    assert_eq!(r["arguments"]["ip-address"], addr, "{r}");
    // Paging walks every lease exactly once.
    let mut seen = 0;
    let mut from = "start".to_string();
    for _ in 0..100 {
        let r = rig.unix(
            &json!({ "command": "lease4-get-page", "arguments": { "from": from, "limit": 100 } }),
        );
        let n = r["arguments"]["count"].as_u64().unwrap_or(0) as usize;
        seen += n;
        if n < 100 {
            break;
        }
        from = r["arguments"]["leases"][n - 1]["ip-address"]
            .as_str()
            .unwrap()
            .to_string();
    }
    assert_eq!(seen, leases.len());

    // /metrics: the same numbers, per-shard series, and promtool's approval.
    let (status, text) = http_request(&rig.ns, "GET", "/metrics", Some(GOOD_AUTH), "");
    assert_eq!(status, 200);
    assert!(
        text.contains(&format!("corelease_dhcp4_pkt4_ack_sent_total {ack_sent}\n")),
        "{text}"
    );
    assert!(
        text.contains("corelease_shard_received_total{shard=\"1\"}"),
        "{text}"
    );
    assert!(
        text.contains("corelease_shard_reply_latency_seconds{shard=\"0\",quantile=\"0.99\"}"),
        "{text}"
    );
    // Queue depths: the kernel receive queue (idle now) and the control jobs (none waiting:
    // every job sent so far was answered).
    for shard in 0..2 {
        for family in [
            "corelease_shard_receive_queue_bytes",
            "corelease_shard_control_jobs_queued",
            // DHCPv4 is steered by the kernel: nothing is handed between shards.
            "corelease_shard_handed_off_total",
            "corelease_shard_handoff_dropped_total",
        ] {
            assert!(
                text.contains(&format!("{family}{{shard=\"{shard}\"}} 0\n")),
                "{family} of shard {shard}:\n{text}"
            );
        }
    }
    let promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match promtool {
        Ok(c) => c,
        Err(e) => {
            panic!("promtool is not installed ({e}): apt-get install prometheus (ci/test.sh does)")
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stopped = rig.stop();
    assert_eq!(shutdown_stat(&stopped, "pkt4-ack-sent") as f64, ack_sent);
}

#[test]
fn bad_control_socket_config_stops_the_start_naming_the_json_path() {
    let _g = serial();
    let ns = NetNs::new("ctlbad");
    let dir = TempDir::new("ctlbad");
    let cfg = dir.file(
        "kea-dhcp4.json",
        &CONFIG
            .replace("LEASES", &dir.0.join("leases.csv").to_string_lossy())
            .replace("SOCKET", &dir.0.join("s").to_string_lossy())
            .replace(r#""type": "basic""#, r#""type": "digest""#),
    );
    let mut child = ns
        .command(&bin())
        .args(["dhcp4", "-c", &cfg.to_string_lossy(), "-p", "6767"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn corelease");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("corelease kept running with a bad control socket");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("Dhcp4.control-sockets[1].authentication.type: 'digest' is not supported"),
        "{err}"
    );
}

fn pid_of(rig: &Rig) -> i32 {
    std::fs::read_to_string(rig.dir.0.join("kea-dhcp4.kea-dhcp4.pid"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .expect("PID file")
}

fn server_output(rig: &Rig) -> String {
    rig.server.as_ref().map(Server::output).unwrap_or_default()
}

#[test]
fn config_set_reload_and_sighup_keep_every_lease_and_lose_no_exchange_under_load() {
    let _g = serial();
    let rig = Rig::start("ctlreload");
    let report = run_perfdhcp(&rig.ns, "1000", "20");
    let acks1 = perfdhcp_value(&report, "REQUEST-ACK", "received packets").unwrap_or(0.0);
    assert!(acks1 >= 950.0, "{report}");
    let assigned = stat(&rig, "subnet[7].assigned-addresses");
    let ack_sent = stat(&rig, "pkt4-ack-sent");

    // config-set: config-get's output with a shorter lifetime and a second subnet.
    let mut cfg = rig.both(json!({ "command": "config-get" }))["arguments"].clone();
    cfg["Dhcp4"]["valid-lifetime"] = json!(3000);
    cfg["Dhcp4"]["subnet4"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "id": 8, "subnet": "100.65.0.0/24",
            "pools": [ { "pool": "100.65.0.10 - 100.65.0.19" } ] }));
    let r = rig.unix(&json!({ "command": "config-set", "arguments": cfg }));
    assert_eq!(r["result"], 0, "{r}");
    assert_eq!(r["text"], "Configuration successful.");
    let r = rig.both(json!({ "command": "config-get" }));
    assert_eq!(r["arguments"]["Dhcp4"]["valid-lifetime"], 3000);
    assert_eq!(stat(&rig, "subnet[8].total-addresses"), 10);
    assert_eq!(
        stat(&rig, "subnet[7].assigned-addresses"),
        assigned,
        "every lease kept"
    );
    assert_eq!(
        stat(&rig, "pkt4-ack-sent"),
        ack_sent,
        "counters carried over"
    );
    let all = rig.both(json!({ "command": "lease4-get-all", "arguments": { "subnets": [ 7 ] } }));
    assert_eq!(
        all["arguments"]["leases"].as_array().map(Vec::len),
        Some(assigned as usize)
    );

    // config-reload in the middle of a perfdhcp run (the file on disk is the original config),
    // then SIGHUP (Kea's reload signal): every exchange completes, no address leased twice.
    let ns_name = rig.ns.name.clone();
    let load = std::thread::spawn(move || {
        let out = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns_name,
                "perfdhcp",
                "-4",
                "-r",
                "300",
                "-R",
                "3000",
                "-n",
                "1500",
                "-n",
                "1500",
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
                "6767",
                "127.0.0.1",
            ])
            .output()
            .expect("perfdhcp");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    std::thread::sleep(Duration::from_millis(1500));
    let r = rig.unix(&json!({ "command": "config-reload" }));
    assert_eq!(r["result"], 0, "{r}");
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on the PID of the server this test started (from its PID file).
    unsafe { libc::kill(pid_of(&rig), libc::SIGHUP) };
    let report = load.join().expect("perfdhcp thread");
    let sent_d = perfdhcp_value(&report, "DISCOVER-OFFER", "sent packets").unwrap_or(0.0);
    let acks = perfdhcp_value(&report, "REQUEST-ACK", "received packets").unwrap_or(0.0);
    assert!(
        sent_d >= 1400.0 && acks >= 0.98 * sent_d,
        "{acks} ACKs for {sent_d}:\n{report}"
    );
    for section in ["DISCOVER-OFFER", "REQUEST-ACK"] {
        assert_eq!(
            perfdhcp_value(&report, section, "non unique addresses"),
            Some(0.0),
            "{report}"
        );
    }
    let r = rig.both(json!({ "command": "config-get" }));
    assert_eq!(
        r["arguments"]["Dhcp4"]["valid-lifetime"], 4000,
        "the file's config again"
    );
    let r = rig.both(
        json!({ "command": "statistic-get", "arguments": { "name": "subnet[8].total-addresses" } }),
    );
    assert_eq!(
        r["arguments"],
        json!({}),
        "statistics of a removed subnet go away"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server_output(&rig).contains("SIGHUP: configuration") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = server_output(&rig);
    assert!(
        out.contains("SIGHUP: configuration") && out.contains("applied"),
        "{out}"
    );
    let assigned_now = stat(&rig, "subnet[7].assigned-addresses");
    let leases = rig.both(json!({ "command": "lease4-get-all" }));
    assert_eq!(
        leases["arguments"]["leases"].as_array().map(Vec::len),
        Some(assigned_now as usize)
    );
    assert!(assigned_now >= assigned, "{assigned_now} < {assigned}");
    rig.stop();
}

/// A throwaway PKI in `dir`: a CA, a server certificate for 127.0.0.1, a client certificate
/// from the CA, and a client certificate from another CA (must be refused).
fn make_test_pki(dir: &Path) {
    let script = r#"
set -e
ext() { printf '%s\n' "$@" > "$1.ext.tmp"; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout ca.key -out ca.pem -subj /CN=corelease-test-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout rogue-ca.key -out rogue-ca.pem -subj /CN=rogue-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
leaf() { # name ca eku san
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" \
    -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n%s\n' "$3" "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
    -out "$1.pem" -extfile "$1.ext" 2>/dev/null
}
leaf server ca serverAuth 'subjectAltName=IP:127.0.0.1'
leaf client ca clientAuth ''
leaf rogue rogue-ca clientAuth ''
"#;
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "making the test PKI: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// curl inside the namespace: (exit code, body). `cert`: the client certificate to present.
fn curl_https(
    ns: &NetNs,
    dir: &Path,
    port: u16,
    cert: Option<&str>,
    extra: &[&str],
) -> (i32, String) {
    let d = |f: &str| dir.join(f).to_string_lossy().to_string();
    let mut args: Vec<String> = vec![
        "netns".into(),
        "exec".into(),
        ns.name.clone(),
        "curl".into(),
        "-sS".into(),
        "--max-time".into(),
        "10".into(),
        "--cacert".into(),
        d("ca.pem"),
    ];
    if let Some(c) = cert {
        args.extend([
            "--cert".into(),
            d(&format!("{c}.pem")),
            "--key".into(),
            d(&format!("{c}.key")),
        ]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(format!("https://127.0.0.1:{port}/"));
    let out = std::process::Command::new("ip")
        .args(&args)
        .output()
        .expect("curl");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

const VERSION_GET: &[&str] = &[
    "-X",
    "POST",
    "-H",
    "Content-Type: application/json",
    "-d",
    r#"{ "command": "version-get" }"#,
];

#[test]
fn https_control_sockets_verify_client_certificates_against_the_trust_anchor() {
    let _g = serial();
    let ns = NetNs::new("ctltls").with_relay_address();
    let dir = TempDir::new("ctltls");
    make_test_pki(&dir.0);
    let p = |f: &str| dir.0.join(f).to_string_lossy().to_string();
    let sockets = format!(
        r#""control-sockets": [
      {{ "socket-type": "unix", "socket-name": "{sock}" }},
      {{ "socket-type": "https", "socket-address": "127.0.0.1", "socket-port": 8443,
        "trust-anchor": "{ca}", "cert-file": "{cert}", "key-file": "{key}", "cert-required": true,
        "authentication": {{ "type": "basic", "realm": "corelease-test",
          "clients": [ {{ "user": "admin", "password": "s3cret" }} ] }} }},
      {{ "socket-type": "https", "socket-address": "127.0.0.1", "socket-port": 8444,
        "trust-anchor": "{cadir}", "cert-file": "{cert}", "key-file": "{key}", "cert-required": false }}
    ],"#,
        sock = p("ctrl"),
        ca = p("ca.pem"),
        cadir = dir.0.join("anchors").to_string_lossy(),
        cert = p("server.pem"),
        key = p("server.key"),
    );
    // The second socket's trust-anchor is a directory holding the CA.
    std::fs::create_dir_all(dir.0.join("anchors")).expect("anchors dir");
    std::fs::copy(dir.0.join("ca.pem"), dir.0.join("anchors/ca.pem")).expect("copy CA");
    let start = CONFIG
        .find(r#""control-sockets""#)
        .expect("control-sockets in CONFIG");
    let end = CONFIG[start..]
        .find("],")
        .map(|e| start + e + 2)
        .expect("end of list");
    let config = format!("{}{}{}", &CONFIG[..start], sockets, &CONFIG[end..])
        .replace("LEASES", &dir.0.join("leases.csv").to_string_lossy());
    let cfg = dir.file("kea-dhcp4.json", &config);
    let server = Server::start(
        &ns,
        &["-c", &cfg.to_string_lossy(), "-p", "6767"],
        &[("KEA_PIDFILE_DIR", &dir.0)],
    );
    let mut ok = curl_https(
        &ns,
        &dir.0,
        8443,
        Some("client"),
        &[&["-u", "admin:s3cret"], VERSION_GET].concat(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while ok.0 == 7 && Instant::now() < deadline {
        // Connection refused: the listener is not up yet.
        std::thread::sleep(Duration::from_millis(100));
        ok = curl_https(
            &ns,
            &dir.0,
            8443,
            Some("client"),
            &[&["-u", "admin:s3cret"], VERSION_GET].concat(),
        );
    }
    assert_eq!(ok.0, 0, "{}", ok.1);
    let v: Value = serde_json::from_str(&ok.1).unwrap_or_else(|e| panic!("{e}: {}", ok.1));
    assert_eq!(v[0]["result"], 0, "{v}");
    assert_eq!(v[0]["text"], env!("CARGO_PKG_VERSION"));

    // Basic authentication still applies inside TLS.
    let (code, body) = curl_https(&ns, &dir.0, 8443, Some("client"), VERSION_GET);
    assert_eq!(code, 0, "{body}");
    assert!(body.contains(r#""result": 401"#), "{body}");
    // cert-required: no client certificate, or one from another CA, gets no answer.
    for cert in [None, Some("rogue")] {
        let (code, body) = curl_https(
            &ns,
            &dir.0,
            8443,
            cert,
            &[&["-u", "admin:s3cret"], VERSION_GET].concat(),
        );
        assert_ne!(code, 0, "{cert:?} was served: {body}");
        assert!(!body.contains("result"), "{cert:?}: {body}");
    }
    // Plain HTTP to the TLS port is not answered as a command.
    let plain = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "curl",
            "-sS",
            "--max-time",
            "5",
            "-u",
            "admin:s3cret",
        ])
        .args(VERSION_GET)
        .arg("http://127.0.0.1:8443/")
        .output()
        .expect("curl");
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("\"result\":0"));

    // cert-required false: a client without a certificate is served; a certificate that does
    // not chain to the trust anchor (a directory here) is still refused. /metrics too.
    let (code, body) = curl_https(&ns, &dir.0, 8444, None, VERSION_GET);
    assert_eq!(code, 0, "{body}");
    assert!(body.contains(r#""result":0"#), "{body}");
    let (code, body) = curl_https(&ns, &dir.0, 8444, Some("rogue"), VERSION_GET);
    assert_ne!(code, 0, "rogue certificate served: {body}");
    let (code, body) = curl_https(&ns, &dir.0, 8444, Some("client"), &[]);
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("Bad Request"), "GET / : {body}");
    let d = |f: &str| dir.0.join(f).to_string_lossy().to_string();
    let metrics = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "curl",
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            &d("ca.pem"),
        ])
        .arg("https://127.0.0.1:8444/metrics")
        .output()
        .expect("curl");
    assert!(
        String::from_utf8_lossy(&metrics.stdout).contains("corelease_shard_received_total"),
        "{}",
        String::from_utf8_lossy(&metrics.stderr)
    );
    server.stop();

    // A bad path stops the start, naming the entry and the key.
    let bad = config.replace(&p("server.key"), &p("missing.key"));
    let cfg = dir.file("bad.json", &bad);
    let out = ns
        .command(&bin())
        .args(["dhcp4", "-c", &cfg.to_string_lossy(), "-p", "6767"])
        .output()
        .expect("corelease");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Dhcp4.control-sockets[1].key-file:") && err.contains("missing.key"),
        "{err}"
    );
}
