//! The DHCPv6 hook points in the engine: a recording in-process callout sees every point in
//! Kea's order with Kea's arguments, and the environment both run-script contracts build from
//! them; skip and drop act as Kea's; a packet parked on a real script resumes with the lease
//! the script saw, each script running once; a reclamation waits for its script.

use crate::*;
use corelease_hooks::{
    script_env, Callout, Contract, HookContext, HookPoint, HookPoints, Hooks, NextStep, RunScript,
    RunScriptConfig,
};
use corelease_storage::MemorySink;
use dhcproto::v6::{self as d6, DhcpOption, Message};
use dhcproto::{Decodable, Decoder, Encodable};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NOW: u64 = 1_700_000_000;
const SERVER_DUID: &[u8] = &[0, 2, 0, 0, 0x09, 0xbf, 0xaa, 0xbb, 0xcc, 0xdd];
const LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x42);

const CONFIG: &str = r#"{ "Dhcp6": {
    "preferred-lifetime": 3000, "valid-lifetime": 4000,
    "renew-timer": 1000, "rebind-timer": 2000, "decline-probation-period": 600,
    "expired-leases-processing": { "reclaim-timer-wait-time": 1 },
    "subnet6": [
      { "id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
        "pools": [ { "pool": "2001:db8:1::100 - 2001:db8:1::101" } ],
        "pd-pools": [ { "prefix": "2001:db8:8000::", "prefix-len": 48, "delegated-len": 56 } ] }
    ]
} }"#;

fn shard() -> V6Shard<MemorySink> {
    let loaded = corelease_config::parse_dhcp6_str(CONFIG, Path::new("."))
        .unwrap_or_else(|e| panic!("test config rejected: {e}"));
    let ifaces = vec![Interface6Info {
        ifindex: 7,
        name: "eth0".into(),
        hwtype: 1,
    }];
    let p = Arc::new(Prepared6::new(&loaded.config, ifaces));
    V6Shard::new(p, SERVER_DUID, 0, 1, MemorySink::default())
}

/// A DUID-LL with Ethernet address 02:00:00:00:00:<n>.
fn duid(n: u8) -> Vec<u8> {
    vec![0, 3, 0, 1, 2, 0, 0, 0, 0, n]
}

fn meta() -> Meta6 {
    Meta6 {
        src: SocketAddrV6::new(LL, 546, 0, 7),
        dst: corelease_wire::v6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
        ifindex: 7,
    }
}

fn ia_na(addrs: &[Ipv6Addr]) -> DhcpOption {
    let mut opts = d6::DhcpOptions::new();
    for &addr in addrs {
        opts.insert(DhcpOption::IAAddr(d6::IAAddr {
            addr,
            preferred_life: 0,
            valid_life: 0,
            opts: d6::DhcpOptions::new(),
        }));
    }
    DhcpOption::IANA(d6::IANA {
        id: 1,
        t1: 11,
        t2: 22,
        opts,
    })
}

fn ia_pd(prefixes: &[Ipv6Addr]) -> DhcpOption {
    let mut opts = d6::DhcpOptions::new();
    for &prefix_ip in prefixes {
        opts.insert(DhcpOption::IAPrefix(d6::IAPrefix {
            preferred_lifetime: 0,
            valid_lifetime: 0,
            prefix_len: 56,
            prefix_ip,
            opts: d6::DhcpOptions::new(),
        }));
    }
    DhcpOption::IAPD(d6::IAPD {
        id: 1,
        t1: 0,
        t2: 0,
        opts,
    })
}

/// A client message with client-id, elapsed time, one IA_NA and one IA_PD listing `leases`.
fn msg(kind: d6::MessageType, client: u8, leases: Option<(Ipv6Addr, Ipv6Addr)>) -> Vec<u8> {
    let mut m = Message::new_with_id(kind, [0x12, 0x34, client]);
    m.opts_mut().insert(DhcpOption::ClientId(duid(client)));
    m.opts_mut().insert(DhcpOption::ElapsedTime(0));
    if kind != d6::MessageType::Solicit && kind != d6::MessageType::Rebind {
        m.opts_mut()
            .insert(DhcpOption::ServerId(SERVER_DUID.to_vec()));
    }
    match leases {
        Some((a, p)) => {
            m.opts_mut().insert(ia_na(&[a]));
            m.opts_mut().insert(ia_pd(&[p]));
        }
        None => {
            m.opts_mut().insert(ia_na(&[]));
            m.opts_mut().insert(ia_pd(&[]));
        }
    }
    m.to_vec().unwrap_or_default()
}

fn send(s: &mut V6Shard<MemorySink>, bytes: &[u8], now: u64) -> Option<Message> {
    let mut out = [0u8; 1500];
    let r = s.handle(&meta(), bytes, now, &mut out)?;
    Message::decode(&mut Decoder::new(out.get(..r.len)?)).ok()
}

/// The address of the reply's IA_NA and the prefix of its IA_PD (unspecified when absent).
fn granted(m: &Message) -> (Ipv6Addr, Ipv6Addr) {
    let mut a = Ipv6Addr::UNSPECIFIED;
    let mut p = Ipv6Addr::UNSPECIFIED;
    for o in m.opts().iter() {
        match o {
            DhcpOption::IANA(x) => {
                for s in x.opts.iter() {
                    if let DhcpOption::IAAddr(x) = s {
                        a = x.addr;
                    }
                }
            }
            DhcpOption::IAPD(x) => {
                for s in x.opts.iter() {
                    if let DhcpOption::IAPrefix(x) = s {
                        p = x.prefix_ip;
                    }
                }
            }
            _ => {}
        }
    }
    (a, p)
}

/// The status codes inside the reply's IAs.
fn ia_statuses(m: &Message) -> Vec<d6::Status> {
    let mut v = Vec::new();
    for o in m.opts().iter() {
        let inner = match o {
            DhcpOption::IANA(x) => &x.opts,
            DhcpOption::IAPD(x) => &x.opts,
            _ => continue,
        };
        for s in inner.iter() {
            if let DhcpOption::StatusCode(s) = s {
                v.push(s.status);
            }
        }
    }
    v
}

fn stat(s: &V6Shard<MemorySink>, name: &str) -> i64 {
    kea_statistics6(s.prepared(), &[s.stats()])
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or(-1)
}

/// One call: the point and the environment of each contract.
#[derive(Clone, Debug)]
struct Seen {
    point: HookPoint,
    readme: Vec<(String, String)>,
    kea: Vec<(String, String)>,
}

impl Seen {
    fn names(&self, contract: Contract) -> Vec<&str> {
        let v = match contract {
            Contract::KeaHookRunscript => &self.readme,
            Contract::KeaRunScript => &self.kea,
        };
        v.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn get(&self, name: &str) -> &str {
        self.readme
            .iter()
            .chain(self.kea.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{} has no {name}", self.point.name()))
    }
}

struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Option<(HookPoint, NextStep)>,
}

fn text(env: Vec<(String, Vec<u8>)>) -> Vec<(String, String)> {
    env.into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect()
}

impl Callout for Recorder {
    fn points(&self) -> HookPoints {
        HookPoints::of(&HookPoint::ALL6)
    }

    fn call(&mut self, point: HookPoint, ctx: &HookContext<'_>) -> NextStep {
        self.seen.lock().expect("lock").push(Seen {
            point,
            readme: text(script_env(Contract::KeaHookRunscript, point, ctx)),
            kea: text(script_env(Contract::KeaRunScript, point, ctx)),
        });
        match self.answer {
            Some((p, next)) if p == point => next,
            _ => NextStep::Continue,
        }
    }
}

fn recording(
    s: &mut V6Shard<MemorySink>,
    answer: Option<(HookPoint, NextStep)>,
) -> Arc<Mutex<Vec<Seen>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut hooks = Hooks::new();
    hooks.register(Box::new(Recorder {
        seen: Arc::clone(&seen),
        answer,
    }));
    s.set_hooks(Some(hooks));
    seen
}

fn take(seen: &Arc<Mutex<Vec<Seen>>>) -> Vec<Seen> {
    std::mem::take(&mut *seen.lock().expect("lock"))
}

fn points(v: &[Seen]) -> Vec<HookPoint> {
    v.iter().map(|s| s.point).collect()
}

fn prefixed(prefix: &str, names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("{prefix}{n}")).collect()
}

/// kea-hook-runscript README, DHCPv6 tables.
fn readme_query(prefix: &str) -> Vec<String> {
    prefixed(
        prefix,
        &[
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
        ],
    )
}

fn readme_subnet() -> Vec<String> {
    prefixed("KEA_SUBNET6", &["_PREFIX", "_PREFIXLEN", ""])
}

fn readme_lease() -> Vec<String> {
    prefixed(
        "KEA_LEASE6_",
        &[
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
        ],
    )
}

/// ARM 17.25 (libdhcp_run_script), DHCPv6.
fn kea_query() -> Vec<String> {
    prefixed(
        "QUERY6_",
        &[
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
        ],
    )
}

fn kea_lease(prefix: &str) -> Vec<String> {
    prefixed(
        prefix,
        &[
            "_ADDRESS",
            "_CLTT",
            "_HOSTNAME",
            "_HWADDR",
            "_HWADDR_TYPE",
            "_STATE",
            "_SUBNET_ID",
            "_VALID_LIFETIME",
            "_DUID",
            "_IAID",
            "_PREFERRED_LIFETIME",
            "_PREFIX_LEN",
            "_TYPE",
        ],
    )
}

fn cat(parts: &[Vec<String>]) -> Vec<String> {
    parts.concat()
}

fn check_names(s: &Seen, contract: Contract, want: Vec<String>) {
    assert_eq!(s.names(contract), want, "{} ({contract:?})", s.point.name());
}

#[test]
fn every_point_is_called_in_keas_order_with_both_contracts_variables() {
    use HookPoint::*;
    let mut s = shard();
    let seen = recording(&mut s, None);
    let rh = Contract::KeaHookRunscript;
    let ks = Contract::KeaRunScript;

    // Solicit: NA and PD advertised.
    let adv = send(&mut s, &msg(d6::MessageType::Solicit, 1, None), NOW).expect("advertise");
    let (a, p) = granted(&adv);
    assert!(!a.is_unspecified() && !p.is_unspecified(), "{adv:?}");
    let v = take(&seen);
    assert_eq!(
        points(&v),
        [
            Buffer6Receive,
            Pkt6Receive,
            Subnet6Select,
            Lease6Select,
            Lease6Select,
            Pkt6Send,
            Buffer6Send
        ]
    );
    check_names(&v[1], rh, readme_query("KEA_QUERY6_"));
    check_names(&v[1], ks, Vec::new());
    check_names(
        &v[2],
        rh,
        cat(&[readme_query("KEA_QUERY6_"), readme_subnet()]),
    );
    let select = cat(&[
        readme_query("KEA_QUERY6_"),
        readme_subnet(),
        vec!["KEA_FAKE_ALLOCATION".into()],
        readme_lease(),
    ]);
    check_names(&v[3], rh, select.clone());
    check_names(&v[4], rh, select);
    check_names(
        &v[5],
        rh,
        cat(&[readme_query("KEA_QUERY6_"), readme_query("KEA_RESPONSE6_")]),
    );
    for s in [&v[0], &v[6]] {
        check_names(s, rh, Vec::new());
        check_names(s, ks, Vec::new());
    }
    // Values, as Kea prints them.
    let q = &v[1];
    for (name, want) in [
        ("KEA_QUERY6_TYPE", "SOLICIT"),
        ("KEA_QUERY6_INTERFACE", "eth0"),
        ("KEA_QUERY6_IFINDEX", "7"),
        ("KEA_QUERY6_DUID", "00:03:00:01:02:00:00:00:00:01"),
        ("KEA_QUERY6_HWADDR", "02:00:00:00:00:01"),
        ("KEA_QUERY6_HWADDR_TYPE", "1"),
        ("KEA_QUERY6_HWADDR_SOURCE", "2"),
        ("KEA_QUERY6_LOCAL_ADDRESS", "ff02::1:2"),
        ("KEA_QUERY6_LOCAL_PORT", "0"),
        ("KEA_QUERY6_REMOTE_ADDRESS", "fe80::42"),
        ("KEA_QUERY6_REMOTE_PORT", "546"),
        (
            "KEA_QUERY6_LABEL",
            "duid=[00:03:00:01:02:00:00:00:00:01], tid=0x123401",
        ),
        ("KEA_QUERY6_TRANSACTION_ID", "1192961"),
    ] {
        assert_eq!(q.get(name), want, "{name}");
    }
    assert_eq!(v[2].get("KEA_SUBNET6"), "2001:db8:1::/64");
    assert_eq!(v[2].get("KEA_SUBNET6_PREFIXLEN"), "64");
    let (na, pd) = (&v[3], &v[4]);
    for (name, want) in [
        ("KEA_FAKE_ALLOCATION", "1"),
        ("KEA_LEASE6_TYPE", "IA_NA"),
        ("KEA_LEASE6_ADDRESS", a.to_string().as_str()),
        ("KEA_LEASE6_DELEGATED_PREFIX", ""),
        ("KEA_LEASE6_CLIENT_DUID", "00:03:00:01:02:00:00:00:00:01"),
        ("KEA_LEASE6_HWADDR", "02:00:00:00:00:01"),
        ("KEA_LEASE6_STATE", "default"),
        ("KEA_LEASE6_IS_EXPIRED", "0"),
        ("KEA_LEASE6_CLIENT_LAST_TRANSMISSION", "1700000000"),
        ("KEA_LEASE6_RENEW_TIMER", "1000"),
        ("KEA_LEASE6_REBIND_TIMER", "2000"),
        ("KEA_LEASE6_VALID_LIFETIME", "4000"),
        ("KEA_LEASE6_PREFERRED_LIFETIME", "3000"),
        ("KEA_LEASE6_IAID", "1"),
    ] {
        assert_eq!(na.get(name), want, "{name}");
    }
    assert_eq!(pd.get("KEA_LEASE6_TYPE"), "IA_PD");
    assert_eq!(pd.get("KEA_LEASE6_DELEGATED_PREFIX"), format!("{p}/56"));
    assert_eq!(pd.get("KEA_LEASE6_DELEGATED_PREFIXLEN"), "56");
    assert_eq!(pd.get("KEA_LEASE6_IAID"), "1");
    let send6 = &v[5];
    assert_eq!(send6.get("KEA_RESPONSE6_TYPE"), "ADVERTISE");
    assert_eq!(send6.get("KEA_RESPONSE6_LOCAL_PORT"), "547");
    assert_eq!(send6.get("KEA_RESPONSE6_REMOTE_ADDRESS"), "fe80::42");
    assert_eq!(send6.get("KEA_RESPONSE6_REMOTE_PORT"), "546");
    assert_eq!(send6.get("KEA_RESPONSE6_TRANSACTION_ID"), "1192961");

    // Request: the advertised leases are committed.
    let rep = send(&mut s, &msg(d6::MessageType::Request, 1, Some((a, p))), NOW).expect("reply");
    assert_eq!(granted(&rep), (a, p));
    let v = take(&seen);
    assert_eq!(
        points(&v),
        [
            Buffer6Receive,
            Pkt6Receive,
            Subnet6Select,
            Lease6Select,
            Lease6Select,
            Leases6Committed,
            Pkt6Send,
            Buffer6Send
        ]
    );
    assert_eq!(v[3].get("KEA_FAKE_ALLOCATION"), "0");
    let committed = &v[5];
    check_names(committed, rh, Vec::new());
    check_names(
        committed,
        ks,
        cat(&[
            kea_query(),
            vec!["LEASES6_SIZE".into()],
            kea_lease("LEASES6_AT0"),
            kea_lease("LEASES6_AT1"),
            vec!["DELETED_LEASES6_SIZE".into()],
        ]),
    );
    for (name, want) in [
        ("QUERY6_TYPE", "REQUEST"),
        ("QUERY6_TXID", "1192961"),
        ("QUERY6_LOCAL_ADDR", "ff02::1:2"),
        ("QUERY6_LOCAL_PORT", "0"),
        ("QUERY6_REMOTE_ADDR", "fe80::42"),
        ("QUERY6_REMOTE_PORT", "546"),
        ("QUERY6_IFACE_INDEX", "7"),
        ("QUERY6_IFACE_NAME", "eth0"),
        ("QUERY6_REMOTE_HWADDR", ""),
        ("QUERY6_PROTO", "UDP"),
        ("QUERY6_CLIENT_ID", "00:03:00:01:02:00:00:00:00:01"),
        ("LEASES6_SIZE", "2"),
        ("LEASES6_AT0_ADDRESS", a.to_string().as_str()),
        ("LEASES6_AT0_TYPE", "IA_NA"),
        ("LEASES6_AT0_PREFIX_LEN", "128"),
        ("LEASES6_AT0_HWADDR", "02:00:00:00:00:01"),
        ("LEASES6_AT0_HWADDR_TYPE", "1"),
        ("LEASES6_AT0_STATE", "default"),
        ("LEASES6_AT0_SUBNET_ID", "1"),
        ("LEASES6_AT0_VALID_LIFETIME", "4000"),
        ("LEASES6_AT0_PREFERRED_LIFETIME", "3000"),
        ("LEASES6_AT0_DUID", "00:03:00:01:02:00:00:00:00:01"),
        ("LEASES6_AT0_IAID", "1"),
        ("LEASES6_AT0_CLTT", "1700000000"),
        ("LEASES6_AT1_ADDRESS", p.to_string().as_str()),
        ("LEASES6_AT1_TYPE", "IA_PD"),
        ("LEASES6_AT1_PREFIX_LEN", "56"),
        ("DELETED_LEASES6_SIZE", "0"),
    ] {
        assert_eq!(committed.get(name), want, "{name}");
    }

    // Renew and Rebind: one call per IA, with the IA the client sent.
    for (kind, point, name) in [
        (d6::MessageType::Renew, Lease6Renew, "RENEW"),
        (d6::MessageType::Rebind, Lease6Rebind, "REBIND"),
    ] {
        let later = NOW + 500;
        send(&mut s, &msg(kind, 1, Some((a, p))), later).expect("reply");
        let v = take(&seen);
        assert_eq!(
            points(&v),
            [
                Buffer6Receive,
                Pkt6Receive,
                Subnet6Select,
                point,
                point,
                Leases6Committed,
                Pkt6Send,
                Buffer6Send
            ]
        );
        let lease = cat(&[
            kea_query(),
            kea_lease("LEASE6"),
            prefixed("PKT6_IA_", &["IAID", "IA_TYPE", "IA_T1", "IA_T2"]),
        ]);
        check_names(&v[3], ks, lease);
        check_names(
            &v[3],
            rh,
            cat(&[readme_query("KEA_QUERY6_"), readme_lease()]),
        );
        assert_eq!(v[3].get("KEA_QUERY6_TYPE"), name);
        assert_eq!(v[3].get("PKT6_IA_IA_TYPE"), "3");
        assert_eq!(v[3].get("PKT6_IA_IA_T1"), "11");
        assert_eq!(v[3].get("PKT6_IA_IA_T2"), "22");
        assert_eq!(v[3].get("LEASE6_CLTT"), later.to_string());
        assert_eq!(v[4].get("PKT6_IA_IA_TYPE"), "25");
        assert_eq!(v[4].get("PKT6_IA_IAID"), "1");
        assert_eq!(v[4].get("LEASE6_TYPE"), "IA_PD");
    }

    // Release: both leases, then leases6_committed lists them as deleted, as they were.
    let rep = send(
        &mut s,
        &msg(d6::MessageType::Release, 1, Some((a, p))),
        NOW + 600,
    )
    .expect("reply");
    assert!(ia_statuses(&rep).iter().all(|s| *s == d6::Status::Success));
    let v = take(&seen);
    assert_eq!(
        points(&v),
        [
            Buffer6Receive,
            Pkt6Receive,
            Subnet6Select,
            Lease6Release,
            Lease6Release,
            Leases6Committed,
            Pkt6Send,
            Buffer6Send
        ]
    );
    check_names(&v[3], ks, cat(&[kea_query(), kea_lease("LEASE6")]));
    assert_eq!(v[3].get("LEASE6_STATE"), "default");
    assert_eq!(v[5].get("LEASES6_SIZE"), "0");
    assert_eq!(v[5].get("DELETED_LEASES6_SIZE"), "2");
    assert_eq!(v[5].get("DELETED_LEASES6_AT0_ADDRESS"), a.to_string());
    assert_eq!(v[5].get("DELETED_LEASES6_AT0_STATE"), "default");
    assert_eq!(v[5].get("DELETED_LEASES6_AT1_ADDRESS"), p.to_string());
}

#[test]
fn decline_and_reclamation_points_carry_the_lease_before_the_change() {
    use HookPoint::*;
    let mut s = shard();
    let seen = recording(&mut s, None);
    let adv = send(&mut s, &msg(d6::MessageType::Solicit, 2, None), NOW).expect("advertise");
    let (a, p) = granted(&adv);
    send(&mut s, &msg(d6::MessageType::Request, 2, Some((a, p))), NOW).expect("reply");
    take(&seen);
    // Decline of the address (an IA_PD in a Decline is ignored).
    let rep = send(
        &mut s,
        &msg(d6::MessageType::Decline, 2, Some((a, p))),
        NOW + 10,
    );
    assert!(rep.is_some());
    let v = take(&seen);
    let decline: Vec<&Seen> = v.iter().filter(|s| s.point == Lease6Decline).collect();
    assert_eq!(decline.len(), 1);
    assert_eq!(decline[0].get("LEASE6_ADDRESS"), a.to_string());
    assert_eq!(decline[0].get("LEASE6_STATE"), "default");
    assert_eq!(decline[0].get("KEA_QUERY6_TYPE"), "DECLINE");
    let committed = v
        .iter()
        .find(|s| s.point == Leases6Committed)
        .expect("committed");
    assert_eq!(committed.get("LEASES6_SIZE"), "1");
    assert_eq!(committed.get("LEASES6_AT0_STATE"), "declined");

    // The prefix expires; the declined address ends its probation.
    s.on_tick(NOW + 5000);
    let v = take(&seen);
    let expire = v.iter().find(|s| s.point == Lease6Expire).expect("expire");
    assert_eq!(
        expire.names(Contract::KeaRunScript),
        cat(&[kea_lease("LEASE6"), vec!["REMOVE_LEASE".into()]])
    );
    assert_eq!(expire.get("LEASE6_ADDRESS"), p.to_string());
    assert_eq!(expire.get("LEASE6_STATE"), "default");
    assert_eq!(expire.get("REMOVE_LEASE"), "false");
    assert_eq!(expire.get("KEA_REMOVE_LEASE"), "0");
    assert_eq!(expire.get("KEA_LEASE6_IS_EXPIRED"), "1");
    let recover = v
        .iter()
        .find(|s| s.point == Lease6Recover)
        .expect("recover");
    assert_eq!(recover.get("LEASE6_ADDRESS"), a.to_string());
    assert_eq!(recover.get("LEASE6_STATE"), "declined");
    assert_eq!(
        recover.names(Contract::KeaHookRunscript),
        readme_lease(),
        "lease6_recover"
    );
    assert_eq!(stat(&s, "reclaimed-leases"), 2);
}

#[test]
fn skip_and_drop_act_as_keas() {
    use HookPoint::*;
    // Skip at lease6_select: that IA gets no lease, and the address goes back to the pool.
    let mut s = shard();
    let _seen = recording(&mut s, Some((Lease6Select, NextStep::Skip)));
    let adv = send(&mut s, &msg(d6::MessageType::Solicit, 3, None), NOW).expect("advertise");
    assert_eq!(
        granted(&adv),
        (Ipv6Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED)
    );
    assert_eq!(
        ia_statuses(&adv),
        [d6::Status::NoAddrsAvail, d6::Status::NoPrefixAvail]
    );
    s.set_hooks(None);
    // The pool has two addresses: both are free for the next two clients.
    for client in [4, 5] {
        let adv =
            send(&mut s, &msg(d6::MessageType::Solicit, client, None), NOW).expect("advertise");
        assert!(
            !granted(&adv).0.is_unspecified(),
            "the address was given back"
        );
    }

    // Drop at pkt6_receive: nothing is sent, counted as a receive drop.
    let mut s = shard();
    let _seen = recording(&mut s, Some((Pkt6Receive, NextStep::Drop)));
    assert!(send(&mut s, &msg(d6::MessageType::Solicit, 5, None), NOW).is_none());
    assert_eq!(stat(&s, "pkt6-receive-drop"), 1);
    assert_eq!(stat(&s, "pkt6-sent"), 0);

    // Skip at lease6_renew: the lease is sent as it is, not extended.
    let mut s = shard();
    let adv = send(&mut s, &msg(d6::MessageType::Solicit, 6, None), NOW).expect("advertise");
    let (a, p) = granted(&adv);
    send(&mut s, &msg(d6::MessageType::Request, 6, Some((a, p))), NOW).expect("reply");
    let _seen = recording(&mut s, Some((Lease6Renew, NextStep::Skip)));
    send(
        &mut s,
        &msg(d6::MessageType::Renew, 6, Some((a, p))),
        NOW + 900,
    )
    .expect("reply");
    let key = (u128::from(a), false);
    assert_eq!(s.table().get(key).map(|e| e.lease.cltt), Some(NOW));

    // Skip at lease6_release: not released; the IA says UnspecFail, as Kea.
    let _seen = recording(&mut s, Some((Lease6Release, NextStep::Skip)));
    let rep = send(
        &mut s,
        &msg(d6::MessageType::Release, 6, Some((a, p))),
        NOW + 900,
    )
    .expect("reply");
    assert_eq!(
        ia_statuses(&rep),
        [d6::Status::UnspecFail, d6::Status::UnspecFail]
    );
    assert_eq!(
        s.table().get(key).map(|e| e.lease.state),
        Some(LeaseState::Default)
    );

    // Drop at pkt6_send: the reply is not sent.
    let _seen = recording(&mut s, Some((Pkt6Send, NextStep::Drop)));
    assert!(send(
        &mut s,
        &msg(d6::MessageType::Renew, 6, Some((a, p))),
        NOW + 900
    )
    .is_none());
}

/// A kea-hook-runscript script that notes each call in `calls` and sleeps 50 ms (so the
/// packet must wait); with `fail_at`, it exits 1 at that point.
fn script(dir: &Path, fail_at: Option<&str>) -> PathBuf {
    let path = dir.join("hook.sh");
    let fail = fail_at
        .map(|p| format!("[ \"$1\" = {p} ] && exit 1\n"))
        .unwrap_or_default();
    let body = format!(
        "#!/bin/sh\necho \"$1\" >> '{}'\nsleep 0.05\n{fail}exit 0\n",
        dir.join("calls").display()
    );
    std::fs::write(&path, body).expect("script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn awaited(s: &mut V6Shard<MemorySink>, script: PathBuf, exit_code_drops: bool) {
    let mut cfg = RunScriptConfig::new(Contract::KeaHookRunscript, script);
    cfg.wait = true;
    cfg.exit_code_drops = exit_code_drops;
    cfg.wait_timeout = Duration::from_secs(5);
    let mut hooks = Hooks::new();
    hooks.set_script(RunScript::new(cfg).expect("spawner"));
    s.set_hooks(Some(hooks));
}

/// Resumes parked packets until one yields a reply (or 10 s pass).
fn resume(s: &mut V6Shard<MemorySink>, now: u64) -> Option<Message> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = [0u8; 1500];
    while Instant::now() < deadline {
        match s.resume_parked(now, &mut out) {
            Some(Resumed6::Reply(r)) => {
                return Message::decode(&mut Decoder::new(out.get(..r.len)?)).ok()
            }
            Some(Resumed6::NoReply) => {}
            None if s.parked() == 0 && !s.hooks_pending() => return None,
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    None
}

fn calls(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("calls"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_packet_waits_for_each_script_which_runs_once_and_gets_the_lease_it_saw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = shard();
    awaited(&mut s, script(dir.path(), None), false);
    assert!(send(&mut s, &msg(d6::MessageType::Solicit, 7, None), NOW).is_none());
    assert_eq!(s.parked(), 1, "parked at pkt6_receive");
    // Another client is served meanwhile (it parks too, in its own slot).
    assert!(send(&mut s, &msg(d6::MessageType::Solicit, 8, None), NOW).is_none());
    assert_eq!(s.parked(), 2);
    let one = resume(&mut s, NOW).expect("advertise after the scripts");
    let other = resume(&mut s, NOW).expect("advertise after the scripts");
    // Whichever client's scripts ended first was answered first.
    let (first, second) = if one.xid() == [0x12, 0x34, 7] {
        (one, other)
    } else {
        (other, one)
    };
    assert_eq!(first.xid(), [0x12, 0x34, 7]);
    let (a, p) = granted(&first);
    assert!(!a.is_unspecified() && !p.is_unspecified());
    assert_ne!(granted(&second).0, a, "two clients, two addresses");
    let mut got = calls(dir.path());
    got.sort();
    assert_eq!(
        got,
        [
            "lease6_select",
            "lease6_select",
            "lease6_select",
            "lease6_select",
            "pkt6_receive",
            "pkt6_receive",
            "pkt6_send",
            "pkt6_send",
            "subnet6_select",
            "subnet6_select"
        ],
        "every script once per message"
    );
    assert_eq!(stat(&s, "pkt6-received"), 2, "counted once each");
    assert_eq!(stat(&s, "pkt6-advertise-sent"), 2);
    assert_eq!(s.park_stats().parked, 10);

    // The Request commits the advertised leases after its scripts.
    std::fs::remove_file(dir.path().join("calls")).expect("rm");
    let req = msg(d6::MessageType::Request, 7, Some((a, p)));
    assert!(send(&mut s, &req, NOW).is_none());
    let rep = resume(&mut s, NOW).expect("reply after the scripts");
    assert_eq!(rep.msg_type(), d6::MessageType::Reply);
    assert_eq!(granted(&rep), (a, p));
    assert_eq!(calls(dir.path()).len(), 5);
    assert_eq!(stat(&s, "subnet[1].assigned-nas"), 1);
    assert_eq!(stat(&s, "subnet[1].assigned-pds"), 1);
    assert_eq!(s.parked(), 0);
}

#[test]
fn exit_code_drops_refuses_the_lease_at_lease6_select() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = shard();
    awaited(&mut s, script(dir.path(), Some("lease6_select")), true);
    assert!(send(&mut s, &msg(d6::MessageType::Solicit, 9, None), NOW).is_none());
    let adv = resume(&mut s, NOW).expect("advertise");
    assert_eq!(
        ia_statuses(&adv),
        [d6::Status::NoAddrsAvail, d6::Status::NoPrefixAvail]
    );
    // exit 1 at pkt6_receive drops the packet.
    let mut s = shard();
    awaited(&mut s, script(dir.path(), Some("pkt6_receive")), true);
    assert!(send(&mut s, &msg(d6::MessageType::Solicit, 9, None), NOW).is_none());
    assert!(resume(&mut s, NOW).is_none());
    assert_eq!(stat(&s, "pkt6-receive-drop"), 1);
}

#[test]
fn a_reclamation_waits_for_its_script_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = shard();
    let adv = send(&mut s, &msg(d6::MessageType::Solicit, 10, None), NOW).expect("advertise");
    let (a, p) = granted(&adv);
    send(
        &mut s,
        &msg(d6::MessageType::Request, 10, Some((a, p))),
        NOW,
    )
    .expect("reply");
    awaited(&mut s, script(dir.path(), None), false);
    s.on_tick(NOW + 5000);
    let key = (u128::from(a), false);
    assert_eq!(
        s.table().get(key).map(|e| e.lease.state),
        Some(LeaseState::Default),
        "not reclaimed while its script runs"
    );
    assert_eq!(s.park_stats().reclaims_parked, 2);
    assert!(resume(&mut s, NOW + 5000).is_none());
    assert_eq!(
        s.table().get(key).map(|e| e.lease.state),
        Some(LeaseState::ExpiredReclaimed)
    );
    assert_eq!(stat(&s, "reclaimed-leases"), 2);
    let mut got = calls(dir.path());
    got.sort();
    assert_eq!(got, ["lease6_expire", "lease6_expire"], "once each");
}

#[test]
fn no_hooks_means_no_hook_state() {
    let mut s = shard();
    assert!(s.hooks().is_none());
    let mut hooks = Hooks::new();
    hooks.register(Box::new(Recorder {
        seen: Arc::new(Mutex::new(Vec::new())),
        answer: None,
    }));
    s.set_hooks(Some(hooks));
    assert!(s.hooks().is_some());
    s.set_hooks(None);
    assert!(s.hooks().is_none());
    assert!(!s.hooks_pending());
}

/// Kea 2.2's order (Dhcpv6Srv::processPacket): a server identifier that is not ours drops the
/// message before pkt6_receive (testServerID); the early classes come next, then pkt6_receive,
/// then the sanity checks and the DROP class. So pkt6_receive sees a message in DROP and a
/// Solicit that wrongly carries our server identifier, and never sees one for another server.
#[test]
fn pkt6_receive_runs_after_the_server_id_test_and_before_sanity_checks_and_drop() {
    use HookPoint::*;
    let config = CONFIG.replace(
        r#""subnet6": ["#,
        r#""client-classes": [
          { "name": "DROP", "test": "substring(option[1].hex, 9, 1) == 0x0a" } ],
        "subnet6": ["#,
    );
    let loaded = corelease_config::parse_dhcp6_str(&config, Path::new("."))
        .unwrap_or_else(|e| panic!("test config rejected: {e}"));
    let ifaces = vec![Interface6Info {
        ifindex: 7,
        name: "eth0".into(),
        hwtype: 1,
    }];
    let p = Arc::new(Prepared6::new(&loaded.config, ifaces));
    let mut s = V6Shard::new(p, SERVER_DUID, 0, 1, MemorySink::default());
    let seen = recording(&mut s, None);

    // A Request for another server: dropped before any packet hook but buffer6_receive.
    let mut other = Message::new_with_id(d6::MessageType::Request, [1, 2, 3]);
    other.opts_mut().insert(DhcpOption::ClientId(duid(3)));
    other.opts_mut().insert(DhcpOption::ServerId(vec![
        0, 2, 0, 0, 0x09, 0xbf, 1, 2, 3, 4,
    ]));
    other.opts_mut().insert(ia_na(&[]));
    assert!(send(&mut s, &other.to_vec().unwrap_or_default(), NOW).is_none());
    assert_eq!(points(&take(&seen)), [Buffer6Receive]);
    assert_eq!(stat(&s, "pkt6-receive-drop"), 1);

    // A client in DROP (its DUID ends in 0x0a): pkt6_receive sees it, then it is dropped.
    assert!(send(&mut s, &msg(d6::MessageType::Solicit, 10, None), NOW).is_none());
    assert_eq!(points(&take(&seen)), [Buffer6Receive, Pkt6Receive]);
    assert_eq!(stat(&s, "pkt6-receive-drop"), 2);

    // A Solicit carrying our server identifier (RFC 8415 16.2 forbids one): pkt6_receive
    // sees it, the sanity check drops it.
    let mut bad = Message::new_with_id(d6::MessageType::Solicit, [1, 2, 4]);
    bad.opts_mut().insert(DhcpOption::ClientId(duid(4)));
    bad.opts_mut()
        .insert(DhcpOption::ServerId(SERVER_DUID.to_vec()));
    bad.opts_mut().insert(ia_na(&[]));
    assert!(send(&mut s, &bad.to_vec().unwrap_or_default(), NOW).is_none());
    assert_eq!(points(&take(&seen)), [Buffer6Receive, Pkt6Receive]);
    assert_eq!(stat(&s, "pkt6-receive-drop"), 3);

    // Any other client goes on to subnet selection.
    assert!(send(&mut s, &msg(d6::MessageType::Solicit, 5, None), NOW).is_some());
    assert_eq!(
        points(&take(&seen))[..3],
        [Buffer6Receive, Pkt6Receive, Subnet6Select]
    );
}

#[test]
fn a_lease_given_a_hw_address_shows_it_at_lease6_expire() {
    use HookPoint::*;
    let mut s = shard();
    let seen = recording(&mut s, None);
    // lease6-add / lease6-update with a hw-address (src/control6.rs keeps it in the lease):
    // no packet is there at reclamation, so the lease's own address is what Kea passes.
    let lease = Lease {
        kind: LeaseKind::V6Na,
        addr: "2001:db8:1::100".parse().expect("address"),
        prefix_len: 128,
        iaid: 5,
        hwaddr: Some(corelease_types::HwAddr::new(
            1,
            &[0x1a, 0x2b, 0x3c, 0, 0, 9],
        )),
        client_id: Some(corelease_types::ClientId::new(&duid(9))),
        valid_lifetime: 100,
        preferred_lifetime: 50,
        cltt: NOW,
        subnet_id: corelease_types::SubnetId(1),
        pool_id: corelease_types::PoolId(0),
        state: LeaseState::Default,
        hostname: None,
        fqdn_fwd: false,
        fqdn_rev: false,
        user_context: Some(r#"{"a":1}"#.into()),
    };
    s.add_lease(lease, NOW).expect("added");
    s.on_tick(NOW + 200);
    let v = take(&seen);
    let expire = v.iter().find(|s| s.point == Lease6Expire).expect("expire");
    assert_eq!(expire.get("LEASE6_ADDRESS"), "2001:db8:1::100");
    assert_eq!(expire.get("KEA_LEASE6_HWADDR"), "1a:2b:3c:00:00:09");
    assert_eq!(expire.get("LEASE6_HWADDR"), "1a:2b:3c:00:00:09");
}

/// The statistics an expired lease's renewal moves: global, subnet 1 and its pools.
const RENEWAL_STATS: [&str; 12] = [
    "reclaimed-leases",
    "subnet[1].reclaimed-leases",
    "subnet[1].pool[0].reclaimed-leases",
    "subnet[1].pd-pool[0].reclaimed-leases",
    "cumulative-assigned-nas",
    "subnet[1].cumulative-assigned-nas",
    "subnet[1].pool[0].cumulative-assigned-nas",
    "cumulative-assigned-pds",
    "subnet[1].cumulative-assigned-pds",
    "subnet[1].pd-pool[0].cumulative-assigned-pds",
    "subnet[1].assigned-nas",
    "subnet[1].assigned-pds",
];

fn renewal_stats(s: &V6Shard<MemorySink>) -> Vec<i64> {
    RENEWAL_STATS.iter().map(|n| stat(s, n)).collect()
}

/// What moved between two [`renewal_stats`], by name.
fn moved(before: &[i64], after: &[i64]) -> Vec<(&'static str, i64)> {
    RENEWAL_STATS
        .iter()
        .zip(before.iter().zip(after))
        .filter(|(_, (b, a))| a != b)
        .map(|(n, (b, a))| (*n, a - b))
        .collect()
}

/// The lease points a message called, with the lease's address, cltt and valid lifetime.
fn lease_points(v: &[Seen]) -> Vec<(HookPoint, String, String, String)> {
    use HookPoint::*;
    v.iter()
        .filter(|x| {
            matches!(
                x.point,
                Lease6Select | Lease6Renew | Lease6Rebind | Lease6Expire
            )
        })
        .map(|x| {
            (
                x.point,
                x.get("LEASE6_ADDRESS").to_string(),
                x.get("LEASE6_CLTT").to_string(),
                x.get("LEASE6_VALID_LIFETIME").to_string(),
            )
        })
        .collect()
}

/// Client 2 with an address and a prefix committed at NOW for 4000 s.
fn bound(s: &mut V6Shard<MemorySink>) -> (Ipv6Addr, Ipv6Addr) {
    let adv = send(s, &msg(d6::MessageType::Solicit, 2, None), NOW).expect("advertise");
    let leases = granted(&adv);
    let rep = send(s, &msg(d6::MessageType::Request, 2, Some(leases)), NOW).expect("reply");
    assert_eq!(granted(&rep), leases);
    leases
}

const EXPIRED: u64 = NOW + 5000;

/// kea-dhcp6 2.2 with libdhcp_run_script.so (fuzz/kea-compare/hooks6.py, side by side with
/// corelease): a Renew or Rebind of a lease that expired and was not reclaimed yet renews it
/// (same address, same prefix): lease6_renew / lease6_rebind with the renewed lease, then
/// lease6_expire with the old one (REMOVE_LEASE=false), then leases6_committed; counted in
/// reclaimed-leases and cumulative-assigned-*, the assigned gauges unchanged.
#[test]
fn an_expired_lease_not_reclaimed_is_renewed_and_reclaimed_in_place_at_renew_and_rebind() {
    use HookPoint::*;
    for (kind, point, name) in [
        (d6::MessageType::Renew, Lease6Renew, "RENEW"),
        (d6::MessageType::Rebind, Lease6Rebind, "REBIND"),
    ] {
        let mut s = shard();
        let seen = recording(&mut s, None);
        let (a, p) = bound(&mut s);
        take(&seen);
        let before = renewal_stats(&s);
        let rep = send(&mut s, &msg(kind, 2, Some((a, p))), EXPIRED).expect("reply");
        assert_eq!(granted(&rep), (a, p), "{name}: the same address and prefix");
        assert!(
            ia_statuses(&rep).is_empty(),
            "{name}: {:?}",
            ia_statuses(&rep)
        );
        let v = take(&seen);
        let (then, now) = (NOW.to_string(), EXPIRED.to_string());
        let valid = "4000".to_string();
        assert_eq!(
            lease_points(&v),
            [
                (point, a.to_string(), now.clone(), valid.clone()),
                (Lease6Expire, a.to_string(), then.clone(), valid.clone()),
                (point, p.to_string(), now.clone(), valid.clone()),
                (Lease6Expire, p.to_string(), then.clone(), valid.clone()),
            ],
            "{name}"
        );
        let expire = v.iter().find(|x| x.point == Lease6Expire).expect("expire");
        assert_eq!(expire.get("REMOVE_LEASE"), "false");
        assert_eq!(expire.get("LEASE6_STATE"), "default");
        let committed = v
            .iter()
            .find(|x| x.point == Leases6Committed)
            .expect("committed");
        assert_eq!(committed.get("LEASES6_SIZE"), "2");
        assert_eq!(committed.get("QUERY6_TYPE"), name);
        assert_eq!(
            moved(&before, &renewal_stats(&s)),
            [
                ("reclaimed-leases", 2),
                ("subnet[1].reclaimed-leases", 2),
                ("subnet[1].pool[0].reclaimed-leases", 1),
                ("subnet[1].pd-pool[0].reclaimed-leases", 1),
                ("cumulative-assigned-nas", 1),
                ("subnet[1].cumulative-assigned-nas", 1),
                ("subnet[1].pool[0].cumulative-assigned-nas", 1),
                ("cumulative-assigned-pds", 1),
                ("subnet[1].cumulative-assigned-pds", 1),
                ("subnet[1].pd-pool[0].cumulative-assigned-pds", 1),
            ],
            "{name}"
        );
        let lease = s.table().get((u128::from(a), false)).expect("lease");
        assert_eq!(
            (lease.lease.cltt, lease.lease.state),
            (EXPIRED, LeaseState::Default)
        );
        // Renewed: the reclamation that would have come finds nothing to do.
        s.on_tick(EXPIRED + 1);
        assert!(
            !take(&seen).iter().any(|x| x.point == Lease6Expire),
            "{name}"
        );
        assert_eq!(stat(&s, "subnet[1].assigned-nas"), 1, "{name}");
    }
}

/// kea-dhcp6 2.2: a Solicit from a client whose lease expired (not reclaimed) advertises that
/// lease again, and a Request (with or without the Solicit) gives it back as it is: no
/// lease6_expire, no statistic moves (the lease was still counted as assigned). corelease
/// advertised a new address before, taking a second one of the pool per such client.
#[test]
fn an_expired_lease_not_reclaimed_is_advertised_and_requested_again_without_a_new_address() {
    use HookPoint::*;
    let mut s = shard();
    let seen = recording(&mut s, None);
    let (a, p) = bound(&mut s);
    take(&seen);
    let before = renewal_stats(&s);
    let adv = send(&mut s, &msg(d6::MessageType::Solicit, 2, None), EXPIRED).expect("advertise");
    assert_eq!(granted(&adv), (a, p));
    assert!(lease_points(&take(&seen)).is_empty());
    let rep = send(
        &mut s,
        &msg(d6::MessageType::Request, 2, Some((a, p))),
        EXPIRED,
    )
    .expect("reply");
    assert_eq!(granted(&rep), (a, p));
    let v = take(&seen);
    assert!(lease_points(&v).is_empty(), "{:?}", lease_points(&v));
    assert_eq!(
        points(&v)
            .iter()
            .filter(|&&x| x == Leases6Committed)
            .count(),
        1
    );
    assert_eq!(moved(&before, &renewal_stats(&s)), []);
    // Another client gets the pool's other address: the first one was not taken twice.
    let other = send(&mut s, &msg(d6::MessageType::Solicit, 3, None), EXPIRED).expect("adv");
    assert_ne!(granted(&other).0, a);
    assert_ne!(granted(&other).0, Ipv6Addr::UNSPECIFIED);
}

/// kea-dhcp6 2.2 with hold-reclaimed-time: a lease reclaimed and kept is advertised again to
/// its client at Solicit and given again at Request, Renew and Rebind (lease6_renew /
/// lease6_rebind, no lease6_expire), counted as assigned anew: assigned-* and
/// cumulative-assigned-* +1.
#[test]
fn a_reclaimed_lease_is_given_again_to_its_client_and_counted_as_assigned() {
    use HookPoint::*;
    for (kind, point) in [
        (d6::MessageType::Request, None),
        (d6::MessageType::Renew, Some(Lease6Renew)),
        (d6::MessageType::Rebind, Some(Lease6Rebind)),
    ] {
        let mut s = shard();
        let seen = recording(&mut s, None);
        let (a, p) = bound(&mut s);
        s.on_tick(EXPIRED);
        assert_eq!(stat(&s, "subnet[1].assigned-nas"), 0);
        assert_eq!(
            s.table().get((u128::from(a), false)).map(|e| e.lease.state),
            Some(LeaseState::ExpiredReclaimed)
        );
        take(&seen);
        let before = renewal_stats(&s);
        let later = EXPIRED + 10;
        let adv = send(&mut s, &msg(d6::MessageType::Solicit, 2, None), later).expect("adv");
        assert_eq!(granted(&adv), (a, p), "{kind:?}");
        let rep = send(&mut s, &msg(kind, 2, Some((a, p))), later).expect("reply");
        assert_eq!(granted(&rep), (a, p), "{kind:?}");
        assert!(ia_statuses(&rep).is_empty(), "{kind:?}");
        let v = take(&seen);
        let want: Vec<_> = point
            .into_iter()
            .flat_map(|pt| {
                [a, p].map(|x| (pt, x.to_string(), later.to_string(), "4000".to_string()))
            })
            .collect();
        assert_eq!(lease_points(&v), want, "{kind:?}");
        assert_eq!(
            moved(&before, &renewal_stats(&s)),
            [
                ("cumulative-assigned-nas", 1),
                ("subnet[1].cumulative-assigned-nas", 1),
                ("subnet[1].pool[0].cumulative-assigned-nas", 1),
                ("cumulative-assigned-pds", 1),
                ("subnet[1].cumulative-assigned-pds", 1),
                ("subnet[1].pd-pool[0].cumulative-assigned-pds", 1),
                ("subnet[1].assigned-nas", 1),
                ("subnet[1].assigned-pds", 1),
            ],
            "{kind:?}"
        );
        let e = s.table().get((u128::from(a), false)).expect("lease");
        assert!(
            e.holds_bit,
            "{kind:?}: the address's bit is the lease's again"
        );
        assert_eq!(e.lease.state, LeaseState::Default);
        // Its pool has one address left, and a new client gets it, not this one.
        let other = send(&mut s, &msg(d6::MessageType::Solicit, 3, None), later).expect("adv");
        let b = granted(&other).0;
        assert!(b != a && b != Ipv6Addr::UNSPECIFIED, "{kind:?}: {b}");
    }
}

/// A reclaimed lease whose address another client took meanwhile is not the client's any
/// more: it gets a new address, and its Renew of the old one is answered NoBinding.
#[test]
fn a_reclaimed_address_taken_by_another_client_is_not_given_back() {
    let mut s = shard();
    let (a, p) = bound(&mut s);
    s.on_tick(EXPIRED);
    let later = EXPIRED + 10;
    // Client 3 asks for the reclaimed address and gets it.
    let rep = send(
        &mut s,
        &msg(d6::MessageType::Request, 3, Some((a, p))),
        later,
    )
    .expect("reply");
    assert_eq!(granted(&rep).0, a);
    let adv = send(&mut s, &msg(d6::MessageType::Solicit, 2, None), later).expect("adv");
    let (b, _) = granted(&adv);
    assert!(b != a && b != Ipv6Addr::UNSPECIFIED, "{b}");
    let rep = send(&mut s, &msg(d6::MessageType::Renew, 2, Some((a, p))), later).expect("reply");
    assert!(ia_statuses(&rep).contains(&d6::Status::NoBinding));
}

/// Skip at lease6_expire leaves the expired lease unreclaimed (not counted), and the renewal
/// goes on, as Kea's reclaimExpiredLease with a skipping callout.
#[test]
fn skip_at_lease6_expire_for_a_renewed_lease_renews_it_uncounted() {
    let mut s = shard();
    let (a, p) = bound(&mut s);
    recording(&mut s, Some((HookPoint::Lease6Expire, NextStep::Skip)));
    let before = renewal_stats(&s);
    let rep = send(
        &mut s,
        &msg(d6::MessageType::Renew, 2, Some((a, p))),
        EXPIRED,
    )
    .expect("reply");
    assert_eq!(granted(&rep), (a, p));
    assert_eq!(moved(&before, &renewal_stats(&s)), []);
    let e = s.table().get((u128::from(a), false)).expect("lease");
    assert_eq!(e.lease.cltt, EXPIRED);
}
