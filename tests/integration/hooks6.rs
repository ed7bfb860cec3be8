//! The run-script hook of `corelease dhcp6` through the real binary under perfdhcp -6 relayed
//! over loopback (issue 6): a recording script sees the exact variable set of each DHCPv6 hook
//! point of both contracts, with the values of the exchange; a script that makes one client
//! wait 1 s at lease6_select does not slow the others.

use crate::hooks::{calls, perfdhcp, recorder_when, spawn_perfdhcp, text, Reap};
use crate::support::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const CONFIG6: &str = r#"{
  "Dhcp6": {
    "interfaces-config": { "interfaces": [ "lo" ] },
    "lease-database": { "type": "memfile", "persist": false },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2 },
    "preferred-lifetime": 3000, "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
    "hooks-libraries": [ HOOK ],
    "subnet6": [ {
      "id": 9, "subnet": "fd00:1::/64",
      "relay": { "ip-addresses": [ "::1", "::2" ] },
      "pools": [ { "pool": "fd00:1::1000 - fd00:1::ffff" } ],
      "pd-pools": [ { "prefix": "fd00:1000::", "prefix-len": 32, "delegated-len": 48 } ]
    } ]
  }
}"#;

/// A namespace with ::1 and ::2 on loopback (perfdhcp relays from either), the recording
/// script (recording only when the shell test `guard` holds, then running `extra`) and the
/// server with `hook` ("SCRIPT": the script's path).
fn start6(tag: &str, guard: &str, extra: &str, hook: &str) -> (NetNs, TempDir, Server) {
    let ns = NetNs::new(tag);
    ns.ip(&["-6", "addr", "add", "::2/128", "dev", "lo", "nodad"]);
    let dir = TempDir::new(tag);
    let script = recorder_when(&dir, guard, extra);
    let hook = hook.replace("SCRIPT", &script.to_string_lossy());
    let cfg = dir.file("kea-dhcp6.json", &CONFIG6.replace("HOOK", &hook));
    let server = Server::start6(&ns, &["-c", &cfg.to_string_lossy(), "-p", "5547"], &[]);
    (ns, dir, server)
}

/// perfdhcp -6 as a relay on `relay` (-A 1), asking for an address and a prefix.
/// Callers that pass `-n N` pass it twice (Solicits, then Requests): with one -n, perfdhcp 2.2
/// ends its -W wait as soon as Advertises + Replies received == N, which a server slowed by
/// wait=true scripts reaches with half the Replies still in flight.
fn perfdhcp6_args(relay: &str, rate: &str, clients: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "-6",
        "-A",
        "1",
        "-e",
        "address-and-prefix",
        "-r",
        rate,
        "-R",
        clients,
        "-u",
        "-l",
        relay,
        "-L",
        "547",
        "-N",
        "5547",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v.push("::1".into());
    v
}

fn sorted(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = names.into_iter().collect();
    v.sort();
    v
}

const QUERY6: [&str; 13] = [
    "TYPE",
    "INTERFACE",
    "IFINDEX",
    "DUID",
    "HWADDR",
    "HWADDR_TYPE",
    "HWADDR_SOURCE",
    "LOCAL_ADDRESS",
    "LOCAL_PORT",
    "REMOTE_ADDRESS",
    "REMOTE_PORT",
    "LABEL",
    "TRANSACTION_ID",
];
const LEASE6: [&str; 15] = [
    "TYPE",
    "ADDRESS",
    "DELEGATED_PREFIX",
    "DELEGATED_PREFIXLEN",
    "CLIENT_DUID",
    "HWADDR",
    "HOSTNAME",
    "STATE",
    "IS_EXPIRED",
    "CLIENT_LAST_TRANSMISSION",
    "RENEW_TIMER",
    "REBIND_TIMER",
    "VALID_LIFETIME",
    "PREFERRED_LIFETIME",
    "IAID",
];

/// kea-hook-runscript README: the variables of the DHCPv6 points perfdhcp reaches.
fn readme_names6(point: &str) -> Vec<String> {
    let q = |p: &'static str| QUERY6.iter().map(move |n| format!("{p}_{n}"));
    let subnet = ["KEA_SUBNET6_PREFIX", "KEA_SUBNET6_PREFIXLEN", "KEA_SUBNET6"].map(String::from);
    let lease = LEASE6.iter().map(|n| format!("KEA_LEASE6_{n}"));
    sorted(match point {
        "pkt6_receive" => q("KEA_QUERY6").collect::<Vec<_>>(),
        "pkt6_send" => q("KEA_QUERY6").chain(q("KEA_RESPONSE6")).collect(),
        "subnet6_select" => q("KEA_QUERY6").chain(subnet).collect(),
        "lease6_select" => q("KEA_QUERY6")
            .chain(subnet)
            .chain(["KEA_FAKE_ALLOCATION".to_string()])
            .chain(lease)
            .collect(),
        _ => Vec::new(),
    })
}

const KEA_QUERY6: [&str; 12] = [
    "TYPE",
    "TXID",
    "LOCAL_ADDR",
    "LOCAL_PORT",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "IFACE_INDEX",
    "IFACE_NAME",
    "REMOTE_HWADDR",
    "REMOTE_HWADDR_TYPE",
    "PROTO",
    "CLIENT_ID",
];
const KEA_LEASE6: [&str; 13] = [
    "ADDRESS",
    "CLTT",
    "HOSTNAME",
    "HWADDR",
    "HWADDR_TYPE",
    "STATE",
    "SUBNET_ID",
    "VALID_LIFETIME",
    "DUID",
    "IAID",
    "PREFERRED_LIFETIME",
    "PREFIX_LEN",
    "TYPE",
];

fn kea_lease_names(prefix: &str) -> impl Iterator<Item = String> + '_ {
    KEA_LEASE6.iter().map(move |n| format!("{prefix}_{n}"))
}

/// ARM 17.25 (libdhcp_run_script): the variables of the DHCPv6 points perfdhcp reaches.
fn kea_names6(point: &str, env: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let q = KEA_QUERY6.iter().map(|n| format!("QUERY6_{n}"));
    let size = |k: &str| text(env, k).parse::<usize>().unwrap_or(0);
    sorted(match point {
        "lease6_renew" | "lease6_rebind" => q
            .chain(kea_lease_names("LEASE6"))
            .chain(
                [
                    "PKT6_IA_IAID",
                    "PKT6_IA_IA_TYPE",
                    "PKT6_IA_IA_T1",
                    "PKT6_IA_IA_T2",
                ]
                .map(String::from),
            )
            .collect::<Vec<_>>(),
        "lease6_release" | "lease6_decline" => q.chain(kea_lease_names("LEASE6")).collect(),
        "leases6_committed" => {
            let mut v: Vec<String> = q.collect();
            v.push("LEASES6_SIZE".into());
            v.push("DELETED_LEASES6_SIZE".into());
            for i in 0..size("LEASES6_SIZE") {
                v.extend(kea_lease_names(&format!("LEASES6_AT{i}")));
            }
            for i in 0..size("DELETED_LEASES6_SIZE") {
                v.extend(kea_lease_names(&format!("DELETED_LEASES6_AT{i}")));
            }
            v
        }
        _ => Vec::new(),
    })
}

#[test]
fn kea_hook_runscript_sees_the_readme_dhcpv6_variables_under_perfdhcp6() {
    let _g = serial();
    let (ns, dir, server) = start6(
        "hk6r",
        "",
        "",
        r#"{ "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/kea-hook-runscript.so",
             "parameters": { "script": "SCRIPT", "wait": true } }"#,
    );
    let report = perfdhcp(
        &ns,
        &perfdhcp6_args(
            "::1",
            "20",
            "10",
            &["-n", "10", "-n", "10", "-p", "20", "-W", "2000000"],
        ),
    );
    let out = server.stop();
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    assert!(replies >= 9.0, "{report}\n{out}");
    let calls = calls(&dir);
    for point in [
        "pkt6_receive",
        "subnet6_select",
        "lease6_select",
        "pkt6_send",
    ] {
        let of_point: Vec<_> = calls.iter().filter(|(p, _)| p == point).collect();
        // A Solicit and a Request per exchange, lease6_select once per IA (NA and PD).
        let per_exchange = if point == "lease6_select" { 4.0 } else { 2.0 };
        assert!(
            of_point.len() as f64 >= per_exchange * replies,
            "{point}: {} calls for {replies} exchanges",
            of_point.len()
        );
        for (_, env) in of_point {
            let names: Vec<String> = env.keys().cloned().collect();
            assert_eq!(
                names,
                readme_names6(point),
                "{point}: the README's variables"
            );
            let kind = text(env, "KEA_QUERY6_TYPE");
            assert!(kind == "SOLICIT" || kind == "REQUEST", "{kind}");
            assert_eq!(text(env, "KEA_QUERY6_INTERFACE"), "lo");
            assert_eq!(text(env, "KEA_QUERY6_REMOTE_ADDRESS"), "::1");
            assert_eq!(text(env, "KEA_QUERY6_REMOTE_PORT"), "547");
            assert_eq!(text(env, "KEA_QUERY6_LOCAL_ADDRESS"), "::1");
            // perfdhcp's DUID-LLT carries the client's MAC (Kea's getMAC: source DUID).
            let duid = text(env, "KEA_QUERY6_DUID");
            assert!(duid.starts_with("00:01:00:01:"), "{duid}");
            assert!(duid.ends_with(&text(env, "KEA_QUERY6_HWADDR")), "{duid}");
            assert_eq!(text(env, "KEA_QUERY6_HWADDR_SOURCE"), "2");
            let label = text(env, "KEA_QUERY6_LABEL");
            assert!(
                label.starts_with(&format!("duid=[{duid}], tid=0x")),
                "{label}"
            );
            if point == "subnet6_select" || point == "lease6_select" {
                assert_eq!(text(env, "KEA_SUBNET6"), "fd00:1::/64");
            }
            if point == "lease6_select" {
                let fake = if kind == "SOLICIT" { "1" } else { "0" };
                assert_eq!(text(env, "KEA_FAKE_ALLOCATION"), fake);
                assert_eq!(text(env, "KEA_LEASE6_CLIENT_DUID"), duid);
                assert_eq!(text(env, "KEA_LEASE6_STATE"), "default");
                assert_eq!(text(env, "KEA_LEASE6_VALID_LIFETIME"), "4000");
                assert_eq!(text(env, "KEA_LEASE6_PREFERRED_LIFETIME"), "3000");
                assert_eq!(text(env, "KEA_LEASE6_RENEW_TIMER"), "1000");
                match text(env, "KEA_LEASE6_TYPE").as_str() {
                    "IA_NA" => {
                        assert!(text(env, "KEA_LEASE6_ADDRESS").starts_with("fd00:1::"));
                        assert_eq!(text(env, "KEA_LEASE6_DELEGATED_PREFIX"), "");
                    }
                    "IA_PD" => {
                        let prefix = text(env, "KEA_LEASE6_ADDRESS");
                        assert!(prefix.starts_with("fd00:1"), "{prefix}");
                        assert_eq!(
                            text(env, "KEA_LEASE6_DELEGATED_PREFIX"),
                            format!("{prefix}/48")
                        );
                    }
                    other => panic!("lease type {other}"),
                }
            }
            if point == "pkt6_send" {
                let answer = if kind == "SOLICIT" {
                    "ADVERTISE"
                } else {
                    "REPLY"
                };
                assert_eq!(text(env, "KEA_RESPONSE6_TYPE"), answer);
                assert_eq!(
                    text(env, "KEA_RESPONSE6_TRANSACTION_ID"),
                    text(env, "KEA_QUERY6_TRANSACTION_ID")
                );
            }
        }
    }
    assert!(
        !calls.iter().any(|(p, _)| p == "leases6_committed"),
        "not a point of kea-hook-runscript"
    );
}

#[test]
fn kea_run_script_sees_its_dhcpv6_variables_at_commit_renew_and_release() {
    let _g = serial();
    let (ns, dir, server) = start6(
        "hk6k",
        "",
        "",
        r#"{ "library": "/usr/lib/kea/hooks/libdhcp_run_script.so",
             "parameters": { "name": "SCRIPT", "sync": false } }"#,
    );
    // 4 exchanges a second with renews and releases of the leases obtained (perfdhcp -f, -F).
    let report = perfdhcp(
        &ns,
        &perfdhcp6_args(
            "::1",
            "4",
            "1000",
            &["-p", "8", "-f", "1", "-F", "1", "-W", "2000000"],
        ),
    );
    let renews = perfdhcp_value(&report, "RENEW-REPLY", "received packets").unwrap_or(0.0);
    let releases = perfdhcp_value(&report, "RELEASE-REPLY", "received packets").unwrap_or(0.0);
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    // Detached scripts: give the last ones a moment to write (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    let want = replies + 3.0 * renews + 3.0 * releases;
    while (calls(&dir).len() as f64) < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = server.stop();
    assert!(
        replies >= 8.0 && renews >= 1.0 && releases >= 1.0,
        "{report}\n{out}"
    );
    let calls = calls(&dir);
    let count = |point: &str| calls.iter().filter(|(p, _)| p == point).count() as f64;
    // Every exchange commits (Request, Renew, Release); renew and release once per IA.
    assert!(
        count("leases6_committed") >= replies + renews + releases,
        "{out}"
    );
    // A Renew or Release perfdhcp sends for a binding its client no longer has (perfdhcp can
    // hold the same lease twice when a DUID comes back, and release one copy) is answered
    // NoBinding and, as in Kea, calls no lease6_renew / lease6_release. So the calls are not
    // tied to perfdhcp's reply count: each bound message calls the point once per IA (an
    // address and a prefix, always bound together here), so there are some, and in pairs.
    for point in ["lease6_renew", "lease6_release"] {
        let n = count(point) as u64;
        assert!(n >= 2 && n.is_multiple_of(2), "{point}: {n} calls\n{out}");
    }
    for (point, env) in &calls {
        assert_eq!(
            env.keys().cloned().collect::<Vec<_>>(),
            kea_names6(point, env),
            "{point}: ARM 17.25's variables"
        );
        assert_eq!(text(env, "QUERY6_IFACE_NAME"), "lo");
        assert_eq!(text(env, "QUERY6_REMOTE_ADDR"), "::1");
        assert_eq!(text(env, "QUERY6_LOCAL_PORT"), "0", "as kea-dhcp6 2.2");
        assert_eq!(text(env, "QUERY6_PROTO"), "UDP");
        let client = text(env, "QUERY6_CLIENT_ID");
        match (point.as_str(), text(env, "QUERY6_TYPE").as_str()) {
            ("leases6_committed", "REQUEST" | "RENEW") => {
                assert_eq!(text(env, "LEASES6_SIZE"), "2");
                assert_eq!(text(env, "DELETED_LEASES6_SIZE"), "0");
                assert_eq!(text(env, "LEASES6_AT0_TYPE"), "IA_NA");
                assert_eq!(text(env, "LEASES6_AT0_PREFIX_LEN"), "128");
                assert_eq!(text(env, "LEASES6_AT1_TYPE"), "IA_PD");
                assert_eq!(text(env, "LEASES6_AT1_PREFIX_LEN"), "48");
                assert_eq!(text(env, "LEASES6_AT0_SUBNET_ID"), "9");
                assert_eq!(text(env, "LEASES6_AT0_DUID"), client);
                assert_eq!(text(env, "LEASES6_AT0_STATE"), "default");
                assert!(client.ends_with(&text(env, "LEASES6_AT0_HWADDR")));
            }
            ("leases6_committed", "RELEASE") => {
                assert_eq!(text(env, "LEASES6_SIZE"), "0");
                assert_eq!(text(env, "DELETED_LEASES6_SIZE"), "2");
                assert_eq!(text(env, "DELETED_LEASES6_AT0_STATE"), "default");
            }
            ("lease6_renew", "RENEW") => {
                let ia_type = text(env, "PKT6_IA_IA_TYPE");
                let lease_type = text(env, "LEASE6_TYPE");
                assert!(
                    (ia_type == "3" && lease_type == "IA_NA")
                        || (ia_type == "25" && lease_type == "IA_PD"),
                    "{ia_type} {lease_type}"
                );
                assert_eq!(text(env, "LEASE6_DUID"), client);
            }
            ("lease6_release", "RELEASE") => {
                assert_eq!(text(env, "LEASE6_STATE"), "default");
                assert_eq!(text(env, "LEASE6_DUID"), client);
            }
            (p, t) => panic!("{p} fired for a {t}"),
        }
    }
}

#[test]
fn one_dhcpv6_client_waiting_on_its_script_does_not_slow_the_others() {
    let _g = serial();
    // The client relayed from ::2 waits 1 s at lease6_select (its Solicit and its Request).
    let (ns, dir, server) = start6(
        "hk6s",
        "[ \"$KEA_QUERY6_REMOTE_ADDRESS\" = ::2 ]",
        "[ \"$1\" = lease6_select ] && sleep 1",
        r#"{ "library": "kea-hook-runscript.so",
             "parameters": { "script": "SCRIPT", "wait": true } }"#,
    );
    // The slow client: one client (-R 1) starting three exchanges, one a second, each message
    // allowed 10 s. Each exchange sleeps 2 s at its Solicit and 2 s at its Request (one
    // lease6_select per IA), plus one script start per hook point, which takes long on a
    // loaded machine: so perfdhcp waits up to 12 s after the third Solicit for the last
    // answers, and `-n 3 -n 3` lets it leave as soon as all 6 have come (a fixed wait of 5 s
    // after a 3 s period was too short under load). Its own DUID: perfdhcp builds DUID-LLTs
    // from one MAC and the second it starts, so two instances started together would
    // otherwise share their first client's DUID.
    let slow_args = perfdhcp6_args(
        "::2",
        "1",
        "1",
        &[
            "-n",
            "3",
            "-n",
            "3",
            "-p",
            "20",
            "-d",
            "10",
            "-W",
            "12000000",
            "-b",
            "duid=0003000102aabbccdd01",
        ],
    );
    let mut slow = Reap(Some(spawn_perfdhcp(&ns, &slow_args)));
    let report = perfdhcp(
        &ns,
        &perfdhcp6_args(
            "::1",
            "50",
            "200",
            &["-n", "200", "-n", "200", "-p", "30", "-W", "2000000"],
        ),
    );
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
    let sent = perfdhcp_value(&report, "SOLICIT-ADVERTISE", "sent packets").unwrap_or(0.0);
    let replies = perfdhcp_value(&report, "REQUEST-REPLY", "received packets").unwrap_or(0.0);
    assert!(sent >= 195.0, "{report}");
    assert!(
        replies >= 0.98 * sent,
        "{replies} Replies for {sent} Solicits while one client waited:\n{report}\n{out}"
    );
    let slow_sent = perfdhcp_value(&slow_report, "REQUEST-REPLY", "sent packets").unwrap_or(0.0);
    let slow_replies = perfdhcp_value(&slow_report, "REQUEST-REPLY", "received packets");
    assert!(slow_sent >= 1.0, "{slow_report}\n{out}");
    assert_eq!(
        slow_replies,
        Some(slow_sent),
        "the waiting client completes after its script:\n{slow_report}\n{out}"
    );
    // Its Advertises came after the 1 s script (twice: one per IA), not before.
    let slow_delay = perfdhcp_value(&slow_report, "SOLICIT-ADVERTISE", "min delay").unwrap_or(0.0);
    let seen: Vec<String> = calls(&dir)
        .iter()
        .map(|(p, env)| {
            format!(
                "{p} {} {} {}",
                text(env, "KEA_QUERY6_TYPE"),
                text(env, "KEA_LEASE6_TYPE"),
                text(env, "KEA_QUERY6_TRANSACTION_ID")
            )
        })
        .collect();
    assert!(slow_delay >= 2000.0, "{slow_report}\n{seen:#?}\n{out}");
    let waited = calls(&dir)
        .into_iter()
        .filter(|(p, _)| p == "lease6_select")
        .count();
    assert!(
        waited as f64 >= 2.0 * slow_sent,
        "{waited} waits at lease6_select for {slow_sent} exchanges"
    );
}

/// Dhcp6 refuses a library that is not a run-script library, with its JSON path.
#[test]
fn a_dhcp6_server_with_another_hook_library_does_not_start() {
    let _g = serial();
    let dir = TempDir::new("hk6bad");
    let cfg = dir.file(
        "kea-dhcp6.json",
        &CONFIG6.replace(
            "HOOK",
            r#"{ "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so" }"#,
        ),
    );
    let out = std::process::Command::new(bin())
        .args(["dhcp6", "-c"])
        .arg(&cfg)
        .output()
        .expect("corelease");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Dhcp6.hooks-libraries[0].library:") && err.contains("is not supported"),
        "{err}"
    );
}
