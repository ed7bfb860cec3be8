//! The run-script hook through the real binary under perfdhcp traffic (issue 6): a recording
//! script sees the exact variable set of each hook point of both contracts with the values
//! of the exchange; a hostile hostname reaches it verbatim and runs nothing; exit-code-drops
//! drops; a script that makes one client wait 1 s at lease4_select does not slow the others.

use crate::support::*;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "lo/127.0.0.1" ], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": false },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2 },
    "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
    "hooks-libraries": [ HOOK ],
    "subnet4": [ {
      "id": 7, "subnet": "100.64.0.0/16",
      "relay": { "ip-addresses": [ "127.0.0.2", "127.0.0.3" ] },
      "pools": [ { "pool": "100.64.0.10 - 100.64.255.250" } ]
    } ]
  }
}"#;

/// The recording script: the environment of every call, NUL-separated, one file per call
/// named after the hook point; `extra` runs after (shell text using the variables).
/// With an empty `guard`, every call is recorded; otherwise only calls where the shell test
/// `guard` holds (a cheap script for everyone else: three processes per call would be the load
/// of the test).
pub(crate) fn recorder_when(dir: &TempDir, guard: &str, extra: &str) -> PathBuf {
    let d = dir.0.join("calls");
    std::fs::create_dir_all(&d).expect("calls dir");
    let path = dir.file(
        "record.sh",
        &format!(
            "#!/bin/sh\n{guard}\n/usr/bin/env -0 > '{d}'/\"$1.$$.$(date +%s%N)\"\n{extra}\nexit 0\n",
            d = d.display(),
            guard = if guard.is_empty() {
                String::new()
            } else {
                format!("{guard} || exit 0")
            }
        ),
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// Every recorded call: (hook point, environment without the shell's own PWD).
pub(crate) fn calls(dir: &TempDir) -> Vec<(String, BTreeMap<String, Vec<u8>>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir.0.join("calls")) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let point = name.split('.').next().unwrap_or("").to_string();
        let raw = std::fs::read(e.path()).unwrap_or_default();
        let env: BTreeMap<String, Vec<u8>> = raw
            .split(|&b| b == 0)
            .filter(|kv| !kv.is_empty())
            .filter_map(|kv| {
                let eq = kv.iter().position(|&b| b == b'=')?;
                Some((
                    String::from_utf8_lossy(&kv[..eq]).into_owned(),
                    kv[eq + 1..].to_vec(),
                ))
            })
            .filter(|(k, _)| k != "PWD")
            .collect();
        out.push((point, env));
    }
    out
}

pub(crate) fn text(env: &BTreeMap<String, Vec<u8>>, key: &str) -> String {
    env.get(key)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_else(|| format!("<no {key}>"))
}

/// A namespace with relays 127.0.0.2 and 127.0.0.3 on loopback, the recording script
/// (running `extra` after recording) and the server with `hook` ("SCRIPT": the script's path).
fn start(tag: &str, extra: &str, hook: &str) -> (NetNs, TempDir, Server) {
    start_when(tag, "", extra, hook)
}

fn start_when(tag: &str, guard: &str, extra: &str, hook: &str) -> (NetNs, TempDir, Server) {
    let ns = NetNs::new(tag).with_relay_address();
    ns.ip(&["addr", "add", "127.0.0.3/8", "dev", "lo"]);
    let dir = TempDir::new(tag);
    let script = recorder_when(&dir, guard, extra);
    let hook = hook.replace("SCRIPT", &script.to_string_lossy());
    let cfg = dir.file("kea-dhcp4.json", &CONFIG.replace("HOOK", &hook));
    let server = Server::start(&ns, &["-c", &cfg.to_string_lossy(), "-p", "6767"], &[]);
    (ns, dir, server)
}

fn perfdhcp_args(relay: &str, rate: &str, clients: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "-4", "-r", rate, "-R", clients, "-n", clients, "-n", clients, "-p", "30", "-u", "-l",
        relay, "-L", "67", "-N", "6767",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    // -n twice (DISCOVERs, then REQUESTs): with -n once, perfdhcp 2.2 ends its -W wait as soon
    // as OFFERs + ACKs received == n, which a slow (hooked) server hits with half the ACKs
    // still in flight (TestControl::haveAllPacketsBeenReceived sums both exchanges against
    // n[0] + n[1]). With both given, it ends when every reply is in, or after -W.
    if !extra.contains(&"-W") {
        // perfdhcp stops when the last request is sent; wait 2 s for the replies in flight.
        v.extend(["-W".to_string(), "2000000".to_string()]);
    }
    v.push("127.0.0.1".into());
    v
}

pub(crate) fn perfdhcp(ns: &NetNs, args: &[String]) -> String {
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const QUERY: [&str; 12] = [
    "TYPE",
    "INTERFACE",
    "IFINDEX",
    "HWADDR",
    "HWADDR_SOURCE",
    "HWADDR_TYPE",
    "RELAYED",
    "RELAY_HOPS",
    "CIADDR",
    "SIADDR",
    "YIADDR",
    "GIADDR",
];
const LEASE: [&str; 10] = [
    "ADDRESS",
    "TYPE",
    "STATE",
    "IS_EXPIRED",
    "HWADDR",
    "HOSTNAME",
    "CLIENT_LAST_TRANSMISSION",
    "RENEW_TIMER",
    "REBIND_TIMER",
    "VALID_LIFETIME",
];

/// kea-hook-runscript README: the variables of each hook point it lists.
fn readme_names(point: &str) -> Vec<String> {
    let q = |p: &'static str| QUERY.iter().map(move |n| format!("{p}_{n}"));
    let subnet = ["KEA_SUBNET4_PREFIX", "KEA_SUBNET4_PREFIXLEN", "KEA_SUBNET4"].map(String::from);
    let lease = LEASE.iter().map(|n| format!("KEA_LEASE4_{n}"));
    let mut v: Vec<String> = match point {
        "pkt4_receive" => q("KEA_QUERY4").collect(),
        "pkt4_send" => q("KEA_QUERY4").chain(q("KEA_RESPONSE4")).collect(),
        "subnet4_select" => q("KEA_QUERY4").chain(subnet).collect(),
        "lease4_select" => q("KEA_QUERY4")
            .chain(subnet)
            .chain(["KEA_FAKE_ALLOCATION".to_string()])
            .chain(lease)
            .collect(),
        _ => Vec::new(),
    };
    v.sort();
    v
}

#[test]
fn kea_hook_runscript_sees_the_readme_variables_and_a_hostile_hostname_verbatim() {
    let _g = serial();
    let probe = TempDir::new("hkrp");
    let pwned = probe.0.join("PWNED");
    let (ns, dir, server) = start(
        "hkrs",
        "",
        r#"{ "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/kea-hook-runscript.so",
             "parameters": { "script": "SCRIPT", "wait": true } }"#,
    );
    let hostile = format!(
        "$(touch {p}); `touch {p}`; ';touch {p};' \"|touch {p}\n",
        p = pwned.display()
    );
    let option = format!("12,{}", hex(hostile.as_bytes()));
    let report = perfdhcp(
        &ns,
        &perfdhcp_args("127.0.0.2", "20", "10", &["-o", &option]),
    );
    let out = server.stop();
    let acks = perfdhcp_value(&report, "REQUEST-ACK", "received packets").unwrap_or(0.0);
    assert!(acks >= 9.0, "{report}\n{out}");
    let calls = calls(&dir);
    for point in [
        "pkt4_receive",
        "subnet4_select",
        "lease4_select",
        "pkt4_send",
    ] {
        let of_point: Vec<_> = calls.iter().filter(|(p, _)| p == point).collect();
        assert!(
            of_point.len() as f64 >= 2.0 * acks,
            "{point}: {} calls for {acks} exchanges",
            of_point.len()
        );
        for (_, env) in of_point {
            let names: Vec<String> = env.keys().cloned().collect();
            assert_eq!(
                names,
                readme_names(point),
                "{point}: the README's variables"
            );
            assert_eq!(text(env, "KEA_QUERY4_GIADDR"), "127.0.0.2");
            assert_eq!(text(env, "KEA_QUERY4_RELAYED"), "1");
            assert_eq!(text(env, "KEA_QUERY4_INTERFACE"), "lo");
            let kind = text(env, "KEA_QUERY4_TYPE");
            assert!(kind == "DHCPDISCOVER" || kind == "DHCPREQUEST", "{kind}");
            if point != "pkt4_receive" && point != "pkt4_send" {
                assert_eq!(text(env, "KEA_SUBNET4"), "100.64.0.0/16");
                assert_eq!(text(env, "KEA_SUBNET4_PREFIXLEN"), "16");
            }
            if point == "lease4_select" {
                let fake = if kind == "DHCPDISCOVER" { "1" } else { "0" };
                assert_eq!(text(env, "KEA_FAKE_ALLOCATION"), fake);
                assert!(text(env, "KEA_LEASE4_ADDRESS").starts_with("100.64."));
                assert_eq!(
                    text(env, "KEA_LEASE4_HWADDR"),
                    text(env, "KEA_QUERY4_HWADDR")
                );
                assert_eq!(text(env, "KEA_LEASE4_STATE"), "default");
                assert_eq!(text(env, "KEA_LEASE4_RENEW_TIMER"), "1000");
                assert_eq!(text(env, "KEA_LEASE4_REBIND_TIMER"), "2000");
                assert_eq!(text(env, "KEA_LEASE4_VALID_LIFETIME"), "4000");
                // The hostname arrives byte for byte, quotes, backquotes and newline included.
                assert_eq!(
                    env.get("KEA_LEASE4_HOSTNAME").map(Vec::as_slice),
                    Some(hostile.as_bytes())
                );
            }
            if point == "pkt4_send" {
                let answer = if kind == "DHCPDISCOVER" {
                    "DHCPOFFER"
                } else {
                    "DHCPACK"
                };
                assert_eq!(text(env, "KEA_RESPONSE4_TYPE"), answer);
                assert!(text(env, "KEA_RESPONSE4_YIADDR").starts_with("100.64."));
            }
        }
    }
    assert!(!pwned.exists(), "the hostname ran a command");
    assert!(
        !calls.iter().any(|(p, _)| p == "leases4_committed"),
        "not a point of kea-hook-runscript"
    );
}

#[test]
fn kea_run_script_sees_its_variables_at_leases4_committed() {
    let _g = serial();
    let (ns, dir, server) = start(
        "hkks",
        "",
        r#"{ "library": "/usr/lib/kea/hooks/libdhcp_run_script.so",
             "parameters": { "name": "SCRIPT", "sync": false } }"#,
    );
    let report = perfdhcp(&ns, &perfdhcp_args("127.0.0.2", "50", "50", &[]));
    // Detached scripts: give the last ones a moment to write (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    let acks = perfdhcp_value(&report, "REQUEST-ACK", "received packets").unwrap_or(0.0);
    while (calls(&dir).len() as f64) < acks && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = server.stop();
    assert!(acks >= 49.0, "{report}\n{out}");
    let calls = calls(&dir);
    assert!(
        calls.iter().all(|(p, _)| p == "leases4_committed"),
        "only its point fired"
    );
    assert_eq!(calls.len() as f64, acks, "one call per committed REQUEST");
    for (_, env) in &calls {
        assert_eq!(text(env, "QUERY4_TYPE"), "DHCPREQUEST");
        assert_eq!(text(env, "LEASES4_SIZE"), "1");
        assert_eq!(text(env, "DELETED_LEASES4_SIZE"), "0");
        assert!(text(env, "LEASES4_AT0_ADDRESS").starts_with("100.64."));
        assert_eq!(text(env, "LEASES4_AT0_STATE"), "default");
        assert_eq!(text(env, "LEASES4_AT0_SUBNET_ID"), "7");
        assert_eq!(
            text(env, "LEASES4_AT0_HWADDR"),
            text(env, "QUERY4_HWADDR"),
            "the lease of the query's client"
        );
    }
}

/// The recorded calls not in `seen` yet, in the order the server made them (the scripts'
/// PIDs: one spawner per shard forks them in call order, and one client stays on one shard),
/// once `want` of them are there and written (bounded at 10 s).
fn new_calls(
    dir: &TempDir,
    seen: &mut std::collections::BTreeSet<String>,
    want: usize,
) -> Vec<(String, BTreeMap<String, Vec<u8>>)> {
    let d = dir.0.join("calls");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut fresh: Vec<(u64, String)> = std::fs::read_dir(&d)
            .map(|it| {
                it.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !seen.contains(n))
                    .filter_map(|n| Some((n.split('.').nth(1)?.parse().ok()?, n)))
                    .collect()
            })
            .unwrap_or_default();
        // `env -0` ends every entry with a NUL: a file ending otherwise is still being written.
        let written = fresh
            .iter()
            .all(|(_, n)| std::fs::read(d.join(n)).is_ok_and(|b| b.last() == Some(&0)));
        if (fresh.len() >= want && written) || Instant::now() > deadline {
            fresh.sort();
            return fresh
                .into_iter()
                .map(|(_, n)| {
                    seen.insert(n.clone());
                    let raw = std::fs::read(d.join(&n)).unwrap_or_default();
                    let env = raw
                        .split(|&b| b == 0)
                        .filter_map(|kv| {
                            let eq = kv.iter().position(|&b| b == b'=')?;
                            Some((
                                String::from_utf8_lossy(&kv[..eq]).into_owned(),
                                kv[eq + 1..].to_vec(),
                            ))
                        })
                        .collect();
                    (n.split('.').next().unwrap_or("").to_string(), env)
                })
                .collect();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Crafted exchanges against libdhcp_run_script.so, with the calls kea-dhcp4 2.2 makes for
/// the same exchanges (fuzz/kea-compare/hooks4.py, run side by side): a DISCOVER from a client
/// that has a lease is a renewal (lease4_renew with the query a DHCPDISCOVER), and a REQUEST
/// renewing a lease that expired unreclaimed first reclaims it (lease4_expire with the old
/// lease, then lease4_renew, then leases4_committed).
#[test]
fn kea_run_script_sees_lease4_renew_at_a_discover_and_lease4_expire_before_an_expired_renewal() {
    use crate::hostile::{exchange, relay_sockets, Msg, ACK, DISCOVER, OFFER, REQUEST, SERVER_ID};
    let _g = serial();
    let ns = NetNs::new("hkrenew").with_relay_address();
    let dir = TempDir::new("hkrenew");
    let script = recorder_when(&dir, "", "");
    let hook = format!(
        r#"{{ "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_run_script.so",
             "parameters": {{ "name": "{}", "sync": false }} }}"#,
        script.display()
    );
    // A client may ask for 2 s (min-valid-lifetime); nothing is reclaimed by the timer.
    let cfg = CONFIG.replace("HOOK", &hook).replace(
        r#""valid-lifetime": 4000,"#,
        r#""valid-lifetime": 4000, "min-valid-lifetime": 2, "max-valid-lifetime": 4000,
           "expired-leases-processing": { "reclaim-timer-wait-time": 3600 },"#,
    );
    let cfg = dir.file("kea-dhcp4.json", &cfg);
    let server = Server::start(&ns, &["-c", &cfg.to_string_lossy(), "-p", "6767"], &[]);
    let sock = relay_sockets(&ns, &[crate::hostile::RELAY]).remove(0);
    let mut seen = std::collections::BTreeSet::new();
    let points = |v: &[(String, BTreeMap<String, Vec<u8>>)]| -> Vec<String> {
        v.iter().map(|(p, _)| p.clone()).collect()
    };
    let dora = |mac: [u8; 6], xid: u32, lease_time: Option<u32>| {
        let mut d = Msg::new(DISCOVER, xid, mac);
        d.lease_time = lease_time;
        let offer = exchange(&sock, &d).expect("an OFFER");
        assert_eq!(offer.kind, OFFER);
        let mut r = Msg::new(REQUEST, xid + 1, mac);
        r.requested = Some(offer.yiaddr);
        r.server_id = Some(SERVER_ID);
        r.lease_time = lease_time;
        let ack = exchange(&sock, &r).expect("an ACK");
        assert_eq!(ack.kind, ACK);
        ack.yiaddr
    };

    let a_mac = [2, 0, 0, 0, 0xa1, 1];
    let a = dora(a_mac, 0x7100, None);
    assert_eq!(
        points(&new_calls(&dir, &mut seen, 1)),
        ["leases4_committed"]
    );

    // DISCOVER from a client with a live lease: lease4_renew (Kea's renewLease4).
    let offer = exchange(&sock, &Msg::new(DISCOVER, 0x7102, a_mac)).expect("an OFFER");
    assert_eq!(offer.yiaddr, a);
    let v = new_calls(&dir, &mut seen, 1);
    assert_eq!(
        points(&v),
        ["lease4_renew"],
        "kea-dhcp4 2.2 calls lease4_renew here"
    );
    let env = &v[0].1;
    assert_eq!(text(env, "QUERY4_TYPE"), "DHCPDISCOVER");
    assert_eq!(text(env, "LEASE4_ADDRESS"), a.to_string());
    assert_eq!(text(env, "LEASE4_STATE"), "default");
    assert_eq!(text(env, "LEASE4_VALID_LIFETIME"), "4000");
    assert_eq!(text(env, "SUBNET4_ID"), "7");
    assert_eq!(text(env, "PKT4_HWADDR"), "02:00:00:00:a1:01");

    // A renewing REQUEST (ciaddr): lease4_renew, then leases4_committed.
    let mut renew = Msg::new(REQUEST, 0x7103, a_mac);
    renew.ciaddr = a;
    assert_eq!(exchange(&sock, &renew).map(|r| r.kind), Some(ACK));
    assert_eq!(
        points(&new_calls(&dir, &mut seen, 2)),
        ["lease4_renew", "leases4_committed"]
    );

    // A 2 s lease left to expire (not reclaimed: the timer waits an hour), then renewed.
    let b_mac = [2, 0, 0, 0, 0xb2, 2];
    let b = dora(b_mac, 0x7200, Some(2));
    assert_eq!(
        points(&new_calls(&dir, &mut seen, 1)),
        ["leases4_committed"]
    );
    std::thread::sleep(Duration::from_millis(3100));
    let mut renew = Msg::new(REQUEST, 0x7202, b_mac);
    renew.ciaddr = b;
    assert_eq!(exchange(&sock, &renew).map(|r| r.kind), Some(ACK));
    let v = new_calls(&dir, &mut seen, 3);
    let out = server.stop();
    assert_eq!(
        points(&v),
        ["lease4_expire", "lease4_renew", "leases4_committed"],
        "{out}"
    );
    let (expire, renewed) = (&v[0].1, &v[1].1);
    assert_eq!(text(expire, "LEASE4_ADDRESS"), b.to_string());
    assert_eq!(text(expire, "LEASE4_VALID_LIFETIME"), "2");
    assert_eq!(text(expire, "REMOVE_LEASE"), "false");
    let cltt = |env| text(env, "LEASE4_CLTT").parse::<u64>().unwrap_or(0);
    assert!(
        cltt(renewed) >= cltt(expire) + 3,
        "lease4_expire shows the old lease, lease4_renew the renewed one"
    );
    assert_eq!(text(renewed, "QUERY4_CIADDR"), b.to_string());
    let files = std::fs::read_dir(dir.0.join("calls"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files, seen.len(), "no other call was made");
}

#[test]
fn exit_code_drops_drops_at_pkt4_receive() {
    let _g = serial();
    // Refuses every client relayed through 127.0.0.3, serves those through 127.0.0.2.
    let (ns, _dir, server) = start(
        "hkxd",
        "[ \"$1\" = pkt4_receive ] && [ \"$KEA_QUERY4_GIADDR\" = 127.0.0.3 ] && exit 1",
        r#"{ "library": "kea-hook-runscript.so",
             "parameters": { "script": "SCRIPT", "exit-code-drops": true } }"#,
    );
    let refused = perfdhcp(&ns, &perfdhcp_args("127.0.0.3", "20", "10", &[]));
    let served = perfdhcp(&ns, &perfdhcp_args("127.0.0.2", "20", "10", &[]));
    let out = server.stop();
    let sent = perfdhcp_value(&refused, "DISCOVER-OFFER", "sent packets").unwrap_or(0.0);
    assert!(sent >= 10.0, "{refused}");
    assert_eq!(
        perfdhcp_value(&refused, "DISCOVER-OFFER", "received packets"),
        Some(0.0),
        "{refused}\n{out}"
    );
    assert!(
        perfdhcp_value(&served, "REQUEST-ACK", "received packets").unwrap_or(0.0) >= 9.0,
        "{served}\n{out}"
    );
    assert_eq!(
        shutdown_stat(&out, "pkt4-receive-drop") as f64,
        sent,
        "each refused DISCOVER counted as a receive drop: {out}"
    );
}

pub(crate) fn spawn_perfdhcp(ns: &NetNs, args: &[String]) -> Child {
    ns.command(Path::new("perfdhcp"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("perfdhcp")
}

/// Kills a background perfdhcp by PID if the test fails before collecting it.
pub(crate) struct Reap(pub(crate) Option<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn one_client_waiting_on_its_script_does_not_slow_the_others() {
    let _g = serial();
    // The client relayed through 127.0.0.3 waits 1 s at lease4_select and lease4_renew
    // (DISCOVER and REQUEST; once it has a lease, as in Kea, its DISCOVER renews it).
    let (ns, dir, server) = start_when(
        "hksl",
        "[ \"$KEA_QUERY4_GIADDR\" = 127.0.0.3 ]",
        "case \"$1\" in lease4_select|lease4_renew) sleep 1;; esac",
        r#"{ "library": "kea-hook-runscript.so",
             "parameters": { "script": "SCRIPT", "wait": true } }"#,
    );
    // The slow client: one client (-R 1) starting an exchange every second for 3 s, each
    // message allowed 10 s, and 4 s to collect the last answers (perfdhcp honours -W only
    // with a test period, not with -n).
    let slow_args: Vec<String> = [
        "-4",
        "-r",
        "1",
        "-R",
        "1",
        "-p",
        "3",
        "-d",
        "10",
        "-W",
        "4000000",
        "-u",
        "-l",
        "127.0.0.3",
        "-L",
        "67",
        "-N",
        "6767",
        "127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut slow = Reap(Some(spawn_perfdhcp(&ns, &slow_args)));
    let started = Instant::now();
    let report = perfdhcp(&ns, &perfdhcp_args("127.0.0.2", "50", "200", &[]));
    let others_took = started.elapsed();
    let slow_out = slow
        .0
        .take()
        .expect("slow perfdhcp")
        .wait_with_output()
        .expect("slow perfdhcp output");
    let slow_report = format!(
        "{}{}",
        String::from_utf8_lossy(&slow_out.stdout),
        String::from_utf8_lossy(&slow_out.stderr)
    );
    let out = server.stop();
    let sent = perfdhcp_value(&report, "DISCOVER-OFFER", "sent packets").unwrap_or(0.0);
    let acks = perfdhcp_value(&report, "REQUEST-ACK", "received packets").unwrap_or(0.0);
    assert!(sent >= 195.0, "{report}");
    assert!(
        acks >= 0.98 * sent,
        "{acks} ACKs for {sent} while one client waited ({others_took:?}):\n{report}\n{out}"
    );
    let slow_sent = perfdhcp_value(&slow_report, "REQUEST-ACK", "sent packets").unwrap_or(0.0);
    let slow_acks = perfdhcp_value(&slow_report, "REQUEST-ACK", "received packets");
    assert!(slow_sent >= 1.0, "{slow_report}");
    assert_eq!(
        slow_acks,
        Some(slow_sent),
        "the waiting client completes after its script:\n{slow_report}\n{out}"
    );
    // Its OFFERs came after the 1 s script, not before.
    let slow_delay = perfdhcp_value(&slow_report, "DISCOVER-OFFER", "min delay").unwrap_or(0.0);
    assert!(slow_delay >= 1000.0, "{slow_report}");
    let waited = calls(&dir)
        .into_iter()
        .filter(|(p, env)| {
            (p == "lease4_select" || p == "lease4_renew")
                && text(env, "KEA_QUERY4_GIADDR") == "127.0.0.3"
                && text(env, "KEA_QUERY4_TYPE") == "DHCPDISCOVER"
        })
        .count();
    // Each DISCOVER waited: at lease4_select for the first, at lease4_renew once the client
    // holds a lease.
    assert!(
        waited as f64 >= slow_sent,
        "{waited} DISCOVER waits for {slow_sent} exchanges"
    );
}

/// A configuration naming a library that is not a run-script library is refused at start,
/// with its JSON path; the running server never loads anything.
#[test]
fn a_server_with_another_hook_library_does_not_start() {
    let _g = serial();
    let dir = TempDir::new("hkbad");
    let cfg = dir.file(
        "kea-dhcp4.json",
        &CONFIG.replace(
            "HOOK",
            r#"{ "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so" }"#,
        ),
    );
    let out = Command::new(bin())
        .args(["dhcp4", "-c"])
        .arg(&cfg)
        .output()
        .expect("corelease");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Dhcp4.hooks-libraries[0].library:") && err.contains("is not supported"),
        "{err}"
    );
}

/// ISC dhclient over a veth pair, Kea's default raw socket mode: every DORA message of the
/// client is parked on an awaited script (resumed replies leave at layer 2 like any other),
/// and the script sees the direct client's values; the release reaches lease4_release.
#[test]
fn dhclient_through_awaited_scripts_gets_and_releases_its_lease() {
    let _g = serial();
    let srv = NetNs::new("hkdcs");
    let cli = NetNs::new("hkdcc");
    veth(&srv, "vsrv0", "192.0.2.1/24", &cli, "vcli0");
    let dir = TempDir::new("hkdc");
    let script = recorder_when(&dir, "", "");
    let cfg = dir.file(
        "kea-dhcp4.json",
        &format!(
            r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": [ "vsrv0" ], "dhcp-socket-type": "raw" }},
  "lease-database": {{ "type": "memfile", "persist": false }},
  "valid-lifetime": 600, "renew-timer": 300, "rebind-timer": 500,
  "hooks-libraries": [ {{ "library": "kea-hook-runscript.so",
                          "parameters": {{ "script": "{}", "wait": true }} }} ],
  "subnet4": [ {{ "id": 42, "subnet": "192.0.2.0/24", "interface": "vsrv0",
                  "pools": [ {{ "pool": "192.0.2.100 - 192.0.2.199" }} ] }} ] }} }}"#,
            script.display()
        ),
    );
    let server = Server::start(&srv, &["-c", &cfg.to_string_lossy()], &[]);
    let d = &dir.0;
    let dscript = dir.file(
        "dhclient-script",
        &format!(
            "#!/bin/sh\nenv | sort > {d}/env-$reason.tmp && mv {d}/env-$reason.tmp {d}/env-$reason\n\
             case $reason in BOUND|RENEW|REBOOT) ip addr replace $new_ip_address/24 dev $interface ;; esac\nexit 0\n",
            d = d.display()
        ),
    );
    std::fs::set_permissions(&dscript, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let lf = d.join("dhclient.leases");
    let pf = d.join("dhclient.pid");
    let args = |extra: &[&str]| {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        for s in [
            "-lf",
            &lf.to_string_lossy(),
            "-pf",
            &pf.to_string_lossy(),
            "-sf",
            &dscript.to_string_lossy(),
            "vcli0",
        ] {
            v.push(s.to_string());
        }
        v
    };
    let st = cli
        .command(Path::new("dhclient"))
        .args(args(&["-1", "-v"]))
        .status()
        .expect("dhclient (isc-dhcp-client)");
    assert!(st.success(), "dhclient got no lease:\n{}", server.output());
    let bound = std::fs::read_to_string(d.join("env-BOUND")).expect("BOUND");
    let ip = bound
        .lines()
        .find_map(|l| l.strip_prefix("new_ip_address="))
        .map(|v| v.trim_matches('\'').to_string())
        .expect("new_ip_address");
    let mac = cli.ip(&["-o", "link", "show", "vcli0"]);
    let mac = mac
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .expect("vcli0 MAC")
        .to_string();
    let st = cli
        .command(Path::new("dhclient"))
        .args(args(&["-r", "-v"]))
        .status()
        .expect("dhclient -r");
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    // The release is parked at lease4_release until its script ends, then logged.
    while !server.output().contains("DHCP4_RELEASE") {
        assert!(
            Instant::now() < deadline,
            "no DHCP4_RELEASE:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = server.stop();
    let calls = calls(&dir);
    let select: Vec<_> = calls.iter().filter(|(p, _)| p == "lease4_select").collect();
    assert_eq!(select.len(), 2, "DISCOVER and REQUEST: {out}");
    for (_, env) in &select {
        assert_eq!(text(env, "KEA_QUERY4_HWADDR"), mac);
        assert_eq!(text(env, "KEA_QUERY4_INTERFACE"), "vsrv0");
        assert_eq!(text(env, "KEA_QUERY4_RELAYED"), "0");
        assert_eq!(text(env, "KEA_QUERY4_GIADDR"), "0.0.0.0");
        assert_eq!(text(env, "KEA_SUBNET4"), "192.0.2.0/24");
        assert_eq!(text(env, "KEA_LEASE4_ADDRESS"), ip);
    }
    let release = calls
        .iter()
        .find(|(p, _)| p == "lease4_release")
        .map(|(_, e)| e)
        .expect("lease4_release");
    assert_eq!(text(release, "KEA_QUERY4_TYPE"), "DHCPRELEASE");
    assert_eq!(text(release, "KEA_LEASE4_ADDRESS"), ip);
    assert_eq!(text(release, "KEA_LEASE4_HWADDR"), mac);
    assert_eq!(
        shutdown_stat(&out, "subnet[42].assigned-addresses"),
        0,
        "{out}"
    );
}
