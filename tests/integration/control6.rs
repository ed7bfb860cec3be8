//! `corelease dhcp6`'s control plane beyond lease6-get: config-set / config-reload / SIGHUP
//! under perfdhcp -6 load (the journalled reload of src/reload.rs), leases-reclaim and
//! lease6-update; the `-P` client port switch. The server, namespace and files are the test's
//! own and removed on drop.

use crate::dhcp6::{config, run_perfdhcp, unix_command, with_control_socket, RELAYED_CONFIG};
use crate::support::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A relayed dhcp6 server (2 shards, subnet 9) with a unix control socket.
struct Rig6 {
    ns: NetNs,
    dir: TempDir,
    cfg: PathBuf,
    socket: PathBuf,
    server: Option<Server>,
}

impl Rig6 {
    fn start(tag: &str, template: &str) -> Rig6 {
        let ns = NetNs::new(tag);
        let dir = TempDir::new(tag);
        let socket = dir.0.join("kea6-ctrl.sock");
        let template = with_control_socket(template, &socket);
        let (cfg, _) = config(&dir, &template, "lo");
        let env = [("KEA_DHCP_DATA_DIR", dir.0.as_path())];
        let server = Server::start6(&ns, &["-c", &cfg.to_string_lossy(), "-p", "5547"], &env);
        Rig6 {
            ns,
            dir,
            cfg,
            socket,
            server: Some(server),
        }
    }

    fn cmd(&self, c: Value) -> Value {
        unix_command(&self.socket, &c)
    }

    fn stat(&self, name: &str) -> i64 {
        let r = self.cmd(json!({ "command": "statistic-get", "arguments": { "name": name } }));
        r["arguments"][name][0][0].as_i64().unwrap_or(-1)
    }

    /// Stops the server (SIGTERM) and starts it again on the same config and lease log.
    fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
        let env = [("KEA_DHCP_DATA_DIR", self.dir.0.as_path())];
        let cfg = self.cfg.to_string_lossy().into_owned();
        self.server = Some(Server::start6(&self.ns, &["-c", &cfg, "-p", "5547"], &env));
    }

    fn output(&self) -> String {
        self.server.as_ref().map(Server::output).unwrap_or_default()
    }

    fn lease_count(&self) -> usize {
        let all = self.cmd(json!({ "command": "lease6-get-all" }));
        all["arguments"]["leases"].as_array().map_or(0, Vec::len)
    }
}

/// perfdhcp -6 as a relay on ::1 asking for an address and a prefix per client, `exchanges`
/// of them among `clients` (more clients than exchanges: perfdhcp may pass -n by 2, and an
/// exchange of a client used again counts as a non unique address).
fn perfdhcp6_args<'a>(
    rate: &'a str,
    clients: &'a str,
    exchanges: &'a str,
    seconds: &'a str,
) -> Vec<&'a str> {
    vec![
        "-6",
        "-A",
        "1",
        "-e",
        "address-and-prefix",
        "-r",
        rate,
        "-R",
        clients,
        "-n",
        exchanges,
        "-n",
        exchanges,
        "-W",
        "5000000",
        "-p",
        seconds,
        "-u",
        "-l",
        "::1",
        "-L",
        "547",
        "-N",
        "5547",
        "::1",
    ]
}

#[test]
fn dhcp6_config_set_reload_and_sighup_keep_every_lease_and_serve_the_new_pool_under_load() {
    let _g = serial();
    let rig = Rig6::start("r6", RELAYED_CONFIG);
    let report = run_perfdhcp(&rig.ns, &perfdhcp6_args("100", "400", "300", "15"));
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    assert!(replies >= 0.98 * 300.0, "{report}");
    // perfdhcp may exit with its last Request still in flight: wait until the server has
    // answered everything it will (two equal readings), so the baseline is final.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = -1;
    loop {
        let now = rig.stat("pkt6-received");
        if now == last || Instant::now() > deadline {
            break;
        }
        last = now;
        std::thread::sleep(Duration::from_millis(300));
    }
    let nas = rig.stat("subnet[9].assigned-nas");
    let pds = rig.stat("subnet[9].assigned-pds");
    let reply_sent = rig.stat("pkt6-reply-sent");
    assert!(nas > 0 && pds > 0, "{report}");

    // config-set: config-get's output with a shorter lifetime: every lease and counter stays.
    let mut cfg = rig.cmd(json!({ "command": "config-get" }))["arguments"].clone();
    cfg["Dhcp6"]["valid-lifetime"] = json!(3500);
    let r = rig.cmd(json!({ "command": "config-set", "arguments": cfg.clone() }));
    assert_eq!(r["result"], 0, "{r}");
    assert_eq!(r["text"], "Configuration successful.");
    let r = rig.cmd(json!({ "command": "config-get" }));
    assert_eq!(r["arguments"]["Dhcp6"]["valid-lifetime"], 3500);
    assert_eq!(rig.stat("subnet[9].assigned-nas"), nas, "every lease kept");
    assert_eq!(rig.stat("subnet[9].assigned-pds"), pds, "every prefix kept");
    assert_eq!(rig.stat("pkt6-reply-sent"), reply_sent, "counters carried");
    assert_eq!(rig.lease_count() as i64, nas + pds);

    // A bad config is refused with its JSON path; the running one stays. So is a change
    // that needs a restart.
    let mut bad = cfg.clone();
    bad["Dhcp6"]["subnet6"][0]["pools"][0]["pool"] = json!("fd00:9::1 - fd00:9::ff");
    for cmd in ["config-set", "config-test"] {
        let r = rig.cmd(json!({ "command": cmd, "arguments": bad.clone() }));
        assert_eq!(r["result"], 1, "{r}");
        let text = r["text"].as_str().unwrap_or_default();
        assert!(text.contains("Dhcp6.subnet6[0].pools[0]"), "{r}");
    }
    let mut restart = cfg.clone();
    restart["Dhcp6"]["multi-threading"]["thread-pool-size"] = json!(3);
    let r = rig.cmd(json!({ "command": "config-set", "arguments": restart }));
    assert_eq!(r["result"], 1, "{r}");
    assert!(
        r["text"]
            .as_str()
            .is_some_and(|t| t.contains("Dhcp6.multi-threading")),
        "{r}"
    );
    let r = rig.cmd(json!({ "command": "config-get" }));
    assert_eq!(
        r["arguments"]["Dhcp6"]["valid-lifetime"], 3500,
        "running one stays"
    );

    // The file gets a new subnet listed first for the same relay, so new clients are served
    // from its pools once it is loaded; config-reload in the middle of a perfdhcp run, then
    // SIGHUP (Kea's reload signal).
    let mut next = json!({ "Dhcp6": cfg["Dhcp6"].clone() });
    next["Dhcp6"]["valid-lifetime"] = json!(4000);
    let subnets = next["Dhcp6"]["subnet6"].as_array_mut().expect("subnet6");
    subnets.insert(
        0,
        json!({ "id": 10, "subnet": "fd00:3::/64", "relay": { "ip-addresses": [ "::1" ] },
            "pools": [ { "pool": "fd00:3::1000 - fd00:3::ffff" } ],
            "pd-pools": [ { "prefix": "fd00:3000::", "prefix-len": 32, "delegated-len": 48 } ] }),
    );
    std::fs::write(&rig.cfg, next.to_string()).expect("write the new config file");
    let ns_name = rig.ns.name.clone();
    let load = std::thread::spawn(move || {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &ns_name, "perfdhcp"])
            .args(perfdhcp6_args("200", "1600", "1500", "20"))
            .output()
            .expect("perfdhcp");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    std::thread::sleep(Duration::from_millis(2000));
    let r = rig.cmd(json!({ "command": "config-reload" }));
    assert_eq!(r["result"], 0, "{r}");
    std::thread::sleep(Duration::from_millis(500));
    if let Some(s) = rig.server.as_ref() {
        s.signal(libc::SIGHUP);
    }
    let report = load.join().expect("perfdhcp thread");
    let sent_s = perfdhcp_value(&report, "SOLICIT-ADVERTISE", "sent packets").unwrap_or(0.0);
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    assert!(
        sent_s >= 1400.0 && replies >= 0.98 * sent_s,
        "{replies} Replies for {sent_s} Solicits:\n{report}"
    );
    for section in ["SOLICIT-ADVERTISE", "REQUEST-REPLY"] {
        assert_eq!(
            perfdhcp_value(&report, section, "non unique addresses"),
            Some(0.0),
            "{report}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rig.output().contains("SIGHUP: configuration") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = rig.output();
    assert!(
        out.contains("SIGHUP: configuration") && out.contains("applied"),
        "{out}"
    );
    let r = rig.cmd(json!({ "command": "config-get" }));
    assert_eq!(
        r["arguments"]["Dhcp6"]["subnet6"][0]["id"], 10,
        "the file's config"
    );
    assert!(
        rig.stat("subnet[9].assigned-nas") >= nas,
        "subnet 9 kept its leases"
    );
    let new_nas = rig.stat("subnet[10].assigned-nas");
    let new_pds = rig.stat("subnet[10].assigned-pds");
    assert!(new_nas > 0 && new_pds > 0, "the new pools serve:\n{out}");
    let total =
        rig.stat("subnet[9].assigned-nas") + rig.stat("subnet[9].assigned-pds") + new_nas + new_pds;
    assert_eq!(
        rig.lease_count() as i64,
        total,
        "table and statistics agree"
    );
    let _ = &rig.dir;
    if let Some(s) = rig.server {
        s.stop();
    }
}

/// The shard (of 2) that owns a DUID given in Kea's text form.
fn owner_of_two(duid: &str) -> usize {
    let bytes: Vec<u8> = duid
        .split(':')
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    corelease_v6::owner_shard(&bytes, 2)
}

#[test]
fn dhcp6_lease6_update_and_leases_reclaim_with_kea_texts() {
    let _g = serial();
    let mut rig = Rig6::start("u6", RELAYED_CONFIG);
    let addr = "fd00:1::4242";
    let update = |duid: &str, extra: Value| {
        let mut args = json!({ "ip-address": addr, "duid": duid, "iaid": 7, "subnet-id": 9 });
        if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        rig.cmd(json!({ "command": "lease6-update", "arguments": args }))
    };
    // Kea 2.2's answers (checked against libdhcp_lease_cmds.so).
    let r = update("01:02:03:04", json!({}));
    assert_eq!(r["result"], 1, "{r}");
    assert_eq!(
        r["text"],
        format!("failed to update the lease with address {addr} either because the lease has been deleted or it has changed in the database, in both cases a retry might succeed")
    );
    let r = update("01:02:03:04", json!({ "force-create": true }));
    assert_eq!(
        (r["result"].clone(), r["text"].clone()),
        (json!(0), json!("IPv6 lease added.")),
        "{r}"
    );
    assert_eq!(rig.stat("subnet[9].assigned-nas"), 1);
    // New DUIDs: with 2 shards some belong to the other shard, so the lease moves there.
    let duids = ["0a:0b:0c:01", "0a:0b:0c:02", "0a:0b:0c:03", "0a:0b:0c:04"];
    let owners: Vec<usize> = std::iter::once("01:02:03:04")
        .chain(duids)
        .map(owner_of_two)
        .collect();
    assert!(
        owners.windows(2).any(|w| w[0] != w[1]),
        "some update moves the lease: {owners:?}"
    );
    for (i, duid) in duids.iter().enumerate() {
        let host = format!("h{i}.example.org");
        let r = update(duid, json!({ "hostname": host }));
        assert_eq!(
            (r["result"].clone(), r["text"].clone()),
            (json!(0), json!("IPv6 lease updated.")),
            "{r}"
        );
        let got = rig.cmd(json!({ "command": "lease6-get", "arguments": { "ip-address": addr } }));
        assert_eq!(got["arguments"]["duid"], *duid, "{got}");
        assert_eq!(got["arguments"]["hostname"], host.as_str(), "{got}");
        assert_eq!(
            rig.stat("subnet[9].assigned-nas"),
            1,
            "one lease, counted once"
        );
        assert_eq!(rig.lease_count(), 1);
    }
    // The moves left superseded records in the old holders' logs: recovery keeps the newest.
    rig.restart();
    let got = rig.cmd(json!({ "command": "lease6-get", "arguments": { "ip-address": addr } }));
    assert_eq!(got["arguments"]["duid"], "0a:0b:0c:04", "{got}");
    assert_eq!(got["arguments"]["hostname"], "h3.example.org", "{got}");
    assert_eq!(rig.lease_count(), 1);
    assert_eq!(rig.stat("subnet[9].assigned-nas"), 1);
    let update = |duid: &str, extra: Value| {
        let mut args = json!({ "ip-address": addr, "duid": duid, "iaid": 7, "subnet-id": 9 });
        if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        rig.cmd(json!({ "command": "lease6-update", "arguments": args }))
    };
    let r = update("0a:0b:0c:04", json!({ "subnet-id": 99 }));
    assert_eq!(r["result"], 1);
    assert_eq!(
        r["text"],
        "Invalid subnet-id: No IPv6 subnet with subnet-id=99 currently configured."
    );
    let r = update("0a:0b:0c:04", json!({ "state": 1 }));
    assert_eq!(r["result"], 0, "{r}");
    assert_eq!(rig.stat("subnet[9].declined-addresses"), 1);
    assert_eq!(rig.stat("declined-addresses"), 1);

    // leases-reclaim: two leases that expired 10 s ago (ARM 19.4.7).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for (a, duid) in [("fd00:1::5001", "0b:01:01"), ("fd00:1::5002", "0b:01:02")] {
        let r = rig.cmd(json!({ "command": "lease6-add", "arguments": {
            "ip-address": a, "duid": duid, "iaid": 1, "subnet-id": 9,
            "valid-lft": 100, "expire": now - 10 } }));
        assert_eq!(r["result"], 0, "{r}");
    }
    let r = rig.cmd(json!({ "command": "leases-reclaim", "arguments": { "remove": false } }));
    assert_eq!(r["result"], 0, "{r}");
    assert_eq!(rig.stat("reclaimed-leases"), 2);
    let got =
        rig.cmd(json!({ "command": "lease6-get", "arguments": { "ip-address": "fd00:1::5001" } }));
    assert_eq!(
        got["arguments"]["state"], 2,
        "expired-reclaimed, kept: {got}"
    );
    let r = rig.cmd(json!({ "command": "lease6-add", "arguments": {
        "ip-address": "fd00:1::5003", "duid": "0b:01:03", "iaid": 1, "subnet-id": 9,
        "valid-lft": 100, "expire": now - 10 } }));
    assert_eq!(r["result"], 0, "{r}");
    let r = rig.cmd(json!({ "command": "leases-reclaim", "arguments": { "remove": true } }));
    assert_eq!(r["result"], 0, "{r}");
    let got =
        rig.cmd(json!({ "command": "lease6-get", "arguments": { "ip-address": "fd00:1::5003" } }));
    assert_eq!(got["result"], 3, "reclaimed and removed: {got}");
    assert_eq!(rig.stat("reclaimed-leases"), 3);
    let output = rig.server.map(Server::stop).unwrap_or_default();
    let _ = (&rig.dir, &rig.cfg, output);
}

#[test]
fn dhcp6_client_port_switch_sends_every_reply_to_that_port() {
    let _g = serial();
    let ns = NetNs::new("cp6");
    let dir = TempDir::new("cp6");
    let (cfg, _) = config(&dir, RELAYED_CONFIG, "lo");
    let env = [("KEA_DHCP_DATA_DIR", dir.0.as_path())];
    let cfg_s = cfg.to_string_lossy().into_owned();
    // perfdhcp relays from port 5548 and listens there: without -P the relayed replies
    // would go to the relay port 547, where nothing listens (Kea sends every reply to the
    // -P port, relayed or not).
    let server = Server::start6(&ns, &["-c", &cfg_s, "-p", "5547", "-P", "5548"], &env);
    let args = [
        "-6", "-A", "1", "-r", "100", "-R", "200", "-n", "200", "-n", "200", "-W", "5000000", "-p",
        "10", "-u", "-l", "::1", "-L", "5548", "-N", "5547", "::1",
    ];
    let report = run_perfdhcp(&ns, &args);
    let output = server.stop();
    let sent = perfdhcp_value(&report, "SOLICIT-ADVERTISE", "sent packets").unwrap_or(0.0);
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    assert!(
        sent >= 190.0 && replies >= 0.98 * sent,
        "{replies} Replies for {sent} Solicits:\n{report}\n{output}"
    );
}

/// Two address pools (one without a pool-id, one with pool-id 3) and a pd-pool, a unix and
/// an HTTP control socket (`/metrics`).
const POOL_STATS_CONFIG: &str = r#"{
  "Dhcp6": {
    "interfaces-config": { "interfaces": [ "lo" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES", "lfc-interval": 3600 },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64 },
    "control-sockets": [
      { "socket-type": "unix", "socket-name": "SOCKET" },
      { "socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8000,
        "authentication": { "type": "basic", "realm": "corelease-test",
          "clients": [ { "user": "admin", "password": "s3cret" } ] } }
    ],
    "valid-lifetime": 4000,
    "subnet6": [ {
      "id": 9, "subnet": "fd00:1::/64",
      "relay": { "ip-addresses": [ "::1" ] },
      "pools": [ { "pool": "fd00:1::1000 - fd00:1::10ff" },
                 { "pool": "fd00:1::2000 - fd00:1::2fff", "pool-id": 3 } ],
      "pd-pools": [ { "prefix": "fd00:1000::", "prefix-len": 32, "delegated-len": 48 } ]
    } ]
  }
}"#;

#[test]
fn dhcp6_pool_statistics_match_the_lease_log_after_perfdhcp_and_reach_metrics() {
    use crate::control::{http_request, GOOD_AUTH};
    use crate::dhcp6::{column, export};
    let _g = serial();
    let ns = NetNs::new("p6s");
    let dir = TempDir::new("p6s");
    let socket = dir.0.join("kea6-ctrl.sock");
    let template = POOL_STATS_CONFIG.replace("SOCKET", &socket.to_string_lossy());
    let (cfg, _) = config(&dir, &template, "lo");
    let env = [("KEA_DHCP_DATA_DIR", dir.0.as_path())];
    let server = Server::start6(&ns, &["-c", &cfg.to_string_lossy(), "-p", "5547"], &env);
    let report = run_perfdhcp(&ns, &perfdhcp6_args("100", "400", "400", "15"));
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    assert!(replies >= 0.98 * 400.0, "{report}");
    // Wait until the server has answered everything it will (two equal readings).
    let stat = |name: &str| {
        let r = unix_command(
            &socket,
            &json!({ "command": "statistic-get", "arguments": { "name": name } }),
        );
        r["arguments"][name][0][0].as_i64().unwrap_or(-1)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = -1;
    loop {
        let now = stat("pkt6-received");
        if now == last || Instant::now() > deadline {
            break;
        }
        last = now;
        std::thread::sleep(Duration::from_millis(300));
    }
    let all = unix_command(&socket, &json!({ "command": "statistic-get-all" }));
    let get = |name: &str| {
        all["arguments"][name][0][0]
            .as_i64()
            .unwrap_or_else(|| panic!("{name} not in statistic-get-all: {all}"))
    };
    let (pool0, pool3) = (
        get("subnet[9].pool[0].assigned-nas"),
        get("subnet[9].pool[3].assigned-nas"),
    );
    let pd0 = get("subnet[9].pd-pool[0].assigned-pds");
    assert_eq!(pool0 + pool3, get("subnet[9].assigned-nas"), "{all}");
    assert_eq!(pd0, get("subnet[9].assigned-pds"), "{all}");
    // No lease was released or expired: every assignment is still assigned.
    assert_eq!(get("subnet[9].pool[0].cumulative-assigned-nas"), pool0);
    assert_eq!(get("subnet[9].pool[3].cumulative-assigned-nas"), pool3);
    assert_eq!(get("subnet[9].pd-pool[0].cumulative-assigned-pds"), pd0);
    assert_eq!(get("subnet[9].pool[0].total-nas"), 256);
    assert_eq!(get("subnet[9].pool[3].total-nas"), 4096);
    assert_eq!(get("subnet[9].pool[3].declined-addresses"), 0);
    assert_eq!(get("subnet[9].pd-pool[0].reclaimed-leases"), 0);

    // /metrics: the same numbers under the dhcp6 names, pools labelled.
    let (status, text) = http_request(&ns, "GET", "/metrics", Some(GOOD_AUTH), "");
    assert_eq!(status, 200);
    for want in [
        format!("corelease_dhcp6_pool_assigned_nas{{subnet_id=\"9\",pool_id=\"0\"}} {pool0}\n"),
        format!("corelease_dhcp6_pool_assigned_nas{{subnet_id=\"9\",pool_id=\"3\"}} {pool3}\n"),
        format!("corelease_dhcp6_pd_pool_assigned_pds{{subnet_id=\"9\",pool_id=\"0\"}} {pd0}\n"),
    ] {
        assert!(text.contains(&want), "{want} not in\n{text}");
    }

    // Every lease carries the MAC of perfdhcp's DUID-LLT as its hardware address (Kea's
    // mac-sources "any" finds no option 79 from perfdhcp's relay, then the DUID), and, as in
    // Kea's lease6-get-all, prefix-len only for IA_PD.
    let all = unix_command(&socket, &json!({ "command": "lease6-get-all" }));
    let leases = all["arguments"]["leases"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(leases.len() as i64, pool0 + pool3 + pd0, "{all}");
    for l in &leases {
        let duid = l["duid"].as_str().unwrap_or("");
        assert!(duid.starts_with("00:01:00:01:"), "a DUID-LLT: {l}");
        assert_eq!(l["hw-address"].as_str(), duid.get(24..), "{l}");
        let pd = l["type"] == "IA_PD";
        assert_eq!(l.get("prefix-len").is_some(), pd, "{l}");
    }

    // The lease log, exported after the stop, holds exactly that many leases per pool.
    let output = server.stop();
    let (header, rows) = export(&cfg);
    for r in &rows {
        // Hardware type 1 from the DUID, source 2 (Kea's HWADDR_SOURCE_DUID).
        let hw = (
            column(&header, r, "hwtype"),
            column(&header, r, "hwaddr_source"),
        );
        assert_eq!(hw, ("1", "2"), "{r}");
    }
    let in_range = |r: &&String, lo: u128, hi: u128| {
        column(&header, r, "lease_type") == "0"
            && column(&header, r, "address")
                .parse::<std::net::Ipv6Addr>()
                .is_ok_and(|a| (lo..=hi).contains(&u128::from(a)))
    };
    let base = u128::from("fd00:1::".parse::<std::net::Ipv6Addr>().unwrap());
    let logged0 = rows
        .iter()
        .filter(|r| in_range(r, base + 0x1000, base + 0x10ff))
        .count() as i64;
    let logged3 = rows
        .iter()
        .filter(|r| in_range(r, base + 0x2000, base + 0x2fff))
        .count() as i64;
    let logged_pd = rows
        .iter()
        .filter(|r| column(&header, r, "lease_type") == "2")
        .count() as i64;
    assert_eq!(
        (logged0, logged3, logged_pd),
        (pool0, pool3, pd0),
        "{output}"
    );
    assert!(pool0 + pool3 >= 392, "{report}");
}

/// `corelease <family> -t <file>`: (exit success, output).
fn test_config_file(family: &str, file: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(bin())
        .args([family, "-t", &file.to_string_lossy()])
        .output()
        .expect("corelease -t");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn config_get_output_with_its_hash_is_accepted_back_by_config_set_and_as_a_file() {
    let _g = serial();
    let rig = Rig6::start("cgh", RELAYED_CONFIG);
    let got = rig.cmd(json!({ "command": "config-get" }));
    let cfg = got["arguments"].clone();
    let hash = cfg["hash"].as_str().unwrap_or_default().to_string();
    assert_eq!(hash.len(), 64, "{got}");
    // config-test and config-set with the hash in: accepted, the hash unchanged (the same
    // configuration).
    let r = rig.cmd(json!({ "command": "config-test", "arguments": cfg.clone() }));
    assert_eq!(r["result"], 0, "{r}");
    let r = rig.cmd(json!({ "command": "config-set", "arguments": cfg.clone() }));
    assert_eq!(r["result"], 0, "{r}");
    assert_eq!(r["arguments"]["hash"], hash.as_str(), "{r}");
    // Written as the config file (what config-write or an operator does), with a stale hash:
    // -t and config-reload accept it, and the stale hash does not leak into config-get.
    let mut file_cfg = cfg.clone();
    file_cfg["hash"] = json!("0000000000000000000000000000000000000000000000000000000000000000");
    std::fs::write(&rig.cfg, file_cfg.to_string()).expect("write config");
    let (ok, out) = test_config_file("dhcp6", &rig.cfg);
    assert!(ok, "{out}");
    let r = rig.cmd(json!({ "command": "config-reload" }));
    assert_eq!(r["result"], 0, "{r}");
    assert_eq!(r["arguments"]["hash"], hash.as_str(), "{r}");
    let again = rig.cmd(json!({ "command": "config-get" }));
    assert_eq!(again["arguments"]["hash"], hash.as_str());
    let r = rig.cmd(json!({ "command": "config-hash-get" }));
    assert_eq!(r["arguments"]["hash"], hash.as_str());
    // A hash that is not a string is refused by its path.
    file_cfg["hash"] = json!(7);
    std::fs::write(&rig.cfg, file_cfg.to_string()).expect("write config");
    let (ok, out) = test_config_file("dhcp6", &rig.cfg);
    assert!(!ok && out.contains("hash: expected a string"), "{out}");
    // DHCPv4: the same document shape from config-get is a valid file.
    let v4 = rig.dir.0.join("kea4-with-hash.json");
    std::fs::write(
        &v4,
        json!({ "Dhcp4": { "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24" } ] },
                "hash": hash })
        .to_string(),
    )
    .expect("write v4 config");
    let (ok, out) = test_config_file("dhcp4", &v4);
    assert!(ok, "{out}");
}

/// With 2 shards, the kernel's reuseport program (engine/shard `reuseport_program6`) steers
/// every datagram of perfdhcp's relayed layout (client identifier first in the Relay Message)
/// to the shard `owner_shard` names: no shard hands one off. Without the program the kernel's
/// 4-tuple hash sends about half of them to the wrong shard.
#[test]
fn perfdhcp6_relayed_datagrams_reach_their_owner_shard_without_a_hand_off() {
    let _g = serial();
    let rig = Rig6::start("k6", RELAYED_CONFIG);
    let report = run_perfdhcp(
        &rig.ns,
        &[
            "-6", "-A", "1", "-r", "200", "-R", "600", "-n", "600", "-n", "600", "-W", "5000000",
            "-p", "15", "-u", "-l", "::1", "-L", "547", "-N", "5547", "::1",
        ],
    );
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    assert!(replies >= 0.98 * 600.0, "{report}");
    let r = rig.cmd(json!({ "command": "status-get" }));
    let shards = r["arguments"]["shards"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(shards.len(), 2, "{r}");
    let field = |name: &str| -> Vec<u64> {
        shards
            .iter()
            .map(|s| s[name].as_u64().unwrap_or(u64::MAX))
            .collect()
    };
    let received = field("received");
    assert!(
        received.iter().all(|n| *n > 0 && *n != u64::MAX),
        "both shards serve clients: {r}"
    );
    assert!(
        received.iter().sum::<u64>() as f64 >= 2.0 * replies,
        "every Solicit and Request is counted: {r}\n{report}"
    );
    assert_eq!(field("handed-off"), vec![0, 0], "{r}\n{}", rig.output());
    assert_eq!(field("handoffs-received"), vec![0, 0], "{r}");
    if let Some(s) = rig.server {
        s.stop();
    }
}

#[test]
fn lease6_hw_address_and_user_context_are_kept_logged_exported_and_recovered() {
    use crate::dhcp6::{column, export};
    let _g = serial();
    let mut rig = Rig6::start("hwuc6", RELAYED_CONFIG);
    let get = |rig: &Rig6, addr: &str| {
        rig.cmd(json!({ "command": "lease6-get", "arguments": { "ip-address": addr } }))
    };
    let add = |rig: &Rig6, extra: Value| {
        let mut args = json!({ "ip-address": "fd00:1::77", "duid": "01:02:03:04", "iaid": 3 });
        if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        rig.cmd(json!({ "command": "lease6-add", "arguments": args }))
    };
    // Refused with kea-dhcp6 2.2's texts (libdhcp_lease_cmds.so); nothing added.
    for (extra, text) in [
        (
            json!({ "hw-address": "zz" }),
            "'z' is not a valid hexadecimal digit in decoded string 'zz'",
        ),
        (
            json!({ "hw-address": "1a2b3c" }),
            "invalid format of the decoded string '1a2b3c'",
        ),
        (
            json!({ "hw-address": 5 }),
            "invalid type specified for parameter 'hw-address'",
        ),
        (
            json!({ "user-context": "x" }),
            "Invalid user context '\"x\"' is not a JSON map.",
        ),
        (
            json!({ "user-context": null }),
            "Invalid user context 'null' is not a JSON map.",
        ),
    ] {
        let r = add(&rig, extra.clone());
        assert_eq!(r["result"], 1, "{extra}: {r}");
        assert_eq!(r["text"], text, "{extra}");
    }
    assert_eq!(rig.lease_count(), 0);
    // Kept and shown as kea-dhcp6 2.2 shows them ("1a:2b:3" is 1a:2b:03 there too).
    let r = add(
        &rig,
        json!({ "hw-address": "1a:2b:3", "user-context": { "site": "b7", "n": [1, 2] } }),
    );
    assert_eq!(r["result"], 0, "{r}");
    let l = &get(&rig, "fd00:1::77")["arguments"];
    assert_eq!(l["hw-address"], "1a:2b:03", "{l}");
    assert_eq!(
        l["user-context"],
        json!({ "site": "b7", "n": [1, 2] }),
        "{l}"
    );
    // lease6-update replaces the lease: without them, the lease has neither (Kea 2.2).
    let upd = |rig: &Rig6, extra: Value| {
        let mut args = json!({ "ip-address": "fd00:1::77", "duid": "01:02:03:04", "iaid": 3 });
        if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        rig.cmd(json!({ "command": "lease6-update", "arguments": args }))
    };
    let r = upd(&rig, json!({}));
    assert_eq!(r["text"], "IPv6 lease updated.", "{r}");
    let l = &get(&rig, "fd00:1::77")["arguments"];
    assert!(
        l.get("hw-address").is_none() && l.get("user-context").is_none(),
        "{l}"
    );
    let r = upd(
        &rig,
        json!({ "hw-address": "0a:0b:0c:0d:0e:0f", "user-context": { "v": 2 } }),
    );
    assert_eq!(r["text"], "IPv6 lease updated.", "{r}");
    // A prefix too.
    let r = rig.cmd(json!({ "command": "lease6-add", "arguments": {
        "ip-address": "fd00:1000:5::", "type": "IA_PD", "prefix-len": 48, "subnet-id": 9,
        "duid": "01:02:03:05",
        "iaid": 4, "hw-address": "02:00:00:00:00:09", "user-context": { "pd": true } } }));
    assert_eq!(r["result"], 0, "{r}");

    // The lease log carries both: Kea's leases6 CSV export after a stop ...
    if let Some(s) = rig.server.take() {
        s.stop();
    }
    let (header, rows) = export(&rig.cfg);
    let row = |addr: &str| {
        rows.iter()
            .find(|r| column(&header, r, "address") == addr)
            .cloned()
            .unwrap_or_else(|| panic!("{addr} not exported: {rows:?}"))
    };
    let na = row("fd00:1::77");
    assert_eq!(column(&header, &na, "hwaddr"), "0a:0b:0c:0d:0e:0f");
    assert_eq!(column(&header, &na, "hwtype"), "1");
    assert_eq!(column(&header, &na, "user_context"), r#"{"v":2}"#);
    let pd = row("fd00:1000:5::");
    assert_eq!(column(&header, &pd, "hwaddr"), "02:00:00:00:00:09");
    // ... and recovery at the next start.
    let env = [("KEA_DHCP_DATA_DIR", rig.dir.0.as_path())];
    rig.server = Some(Server::start6(
        &rig.ns,
        &["-c", &rig.cfg.to_string_lossy(), "-p", "5547"],
        &env,
    ));
    let l = &get(&rig, "fd00:1::77")["arguments"];
    assert_eq!(l["hw-address"], "0a:0b:0c:0d:0e:0f", "{l}");
    assert_eq!(l["user-context"], json!({ "v": 2 }), "{l}");
    let r = rig.cmd(json!({ "command": "lease6-get", "arguments": {
        "ip-address": "fd00:1000:5::", "type": "IA_PD" } }));
    assert_eq!(r["arguments"]["hw-address"], "02:00:00:00:00:09", "{r}");
    assert_eq!(r["arguments"]["user-context"], json!({ "pd": true }), "{r}");
    if let Some(s) = rig.server.take() {
        s.stop();
    }
}
