//! The hot path does not allocate per packet with client classes, host reservations and a
//! flex-id expression evaluated per packet (DESIGN.md "Nothing shared on the hot path"): 12
//! classes (option, relay6, member and KNOWN tests, a template class, class-guarded pools,
//! additional classes) and 100 reservations, half of the clients reserved. After warm-up,
//! Solicit/Request, Renew, Rebind and Information-request allocate nothing beyond the
//! amortised growth of the expiry queue. A separate test binary from no_alloc.rs because the
//! allocation counter is process-wide.

use corelease_storage::NullSink;
use corelease_v6::{Interface6Info, Meta6, Prepared6, V6Shard};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SERVER_DUID: [u8; 10] = [0, 3, 0, 1, 2, 0, 0, 0, 0, 1];

/// A client message into `buf`: client-id, optional server-id, elapsed time, an IA_NA and an
/// IA_PD (or neither, for Information-request), ORO for DNS servers; optionally wrapped in a
/// Relay-forward with an Interface-ID.
fn message(buf: &mut Vec<u8>, kind: u8, n: u16, server_id: bool, ias: bool, relayed: bool) {
    buf.clear();
    if relayed {
        buf.extend_from_slice(&[12, 0]);
        buf.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 1).octets());
        buf.extend_from_slice(&Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, n).octets());
        buf.extend_from_slice(&[0, 18, 0, 4, b'p', b'o', b'r', b't']);
        buf.extend_from_slice(&[0, 9, 0, 0]);
    }
    let start = buf.len();
    let x = n.to_be_bytes();
    buf.extend_from_slice(&[kind, 0, x[0], x[1]]);
    buf.extend_from_slice(&[0, 1, 0, 10, 0, 3, 0, 1, 2, 0, 0, 0, x[0], x[1]]);
    if server_id {
        buf.extend_from_slice(&[0, 2, 0, 10]);
        buf.extend_from_slice(&SERVER_DUID);
    }
    buf.extend_from_slice(&[0, 8, 0, 2, 0, 0]);
    if ias {
        buf.extend_from_slice(&[0, 3, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        buf.extend_from_slice(&[0, 25, 0, 12, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
    buf.extend_from_slice(&[0, 6, 0, 4, 0, 23, 0, 67]);
    if relayed {
        let len = (buf.len() - start) as u16;
        buf[start - 2..start].copy_from_slice(&len.to_be_bytes());
    }
}

#[test]
fn classified_and_reserved_clients_are_served_without_allocating() {
    let mut reservations = Vec::new();
    for n in 1..=100u16 {
        let x = n.to_be_bytes();
        // Even clients: an in-pool address; odd ones: out of pool.
        let addr = if n % 2 == 0 {
            format!("2001:db8:1::{n:x}")
        } else {
            format!("2001:db8:1::1:{n:x}")
        };
        reservations.push(format!(
            r#"{{ "duid": "00:03:00:01:02:00:00:00:{:02x}:{:02x}", "ip-addresses": [ "{addr}" ],
                 "prefixes": [ "2001:db8:8000:{:x}00::/56" ], "hostname": "h{n}",
                 "client-classes": [ "gold" ],
                 "option-data": [ {{ "name": "sntp-servers", "data": "2001:db8::{n:x}" }} ] }}"#,
            x[0], x[1], n
        ));
    }
    let cfg = format!(
        r#"{{ "Dhcp6": {{ "preferred-lifetime": 3000, "valid-lifetime": 4000,
        "hooks-libraries": [ {{ "library": "libdhcp_flex_id.so",
            "parameters": {{ "identifier-expression": "concat(substring(option[1].hex, 0, 6), 'x')" }} }} ],
        "host-reservation-identifiers": [ "duid", "flex-id" ],
        "option-data": [ {{ "name": "dns-servers", "data": "2001:db8::53" }} ],
        "client-classes": [
          {{ "name": "c1", "test": "substring(option[1].hex, 0, 2) == 0x0003" }},
          {{ "name": "c2", "test": "option[23].exists or option[6].exists" }},
          {{ "name": "c3", "test": "relay6[0].option[18].text == 'port'" }},
          {{ "name": "c4", "test": "member('c1') and not member('c3')" }},
          {{ "name": "c5", "test": "pkt6.msgtype == 1 or not (pkt6.transid == 0)" }},
          {{ "name": "c6", "test": "member('KNOWN')", "option-data": [ {{ "name": "nis-servers", "data": "2001:db8::6" }} ] }},
          {{ "name": "c7", "test": "concat(substring(option[1].hex, 8, 2), 0x00) == 0x000100" }},
          {{ "name": "gold", "option-data": [ {{ "name": "domain-search", "data": "gold.example" }} ] }},
          {{ "name": "c9", "test": "not (pkt.len == 0)", "valid-lifetime": 5000, "preferred-lifetime": 3500 }},
          {{ "name": "tpl", "template-test": "substring(option[1].hex, 0, 2)" }},
          {{ "name": "SPAWN_tpl_x", "option-data": [ {{ "name": "nisp-servers", "data": "2001:db8::8" }} ] }},
          {{ "name": "extra", "only-in-additional-list": true, "test": "member('c2')",
            "option-data": [ {{ "name": "sip-server-addr", "data": "2001:db8::5060", "always-send": true }} ] }}
        ],
        "subnet6": [
          {{ "id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
            "evaluate-additional-classes": [ "extra" ],
            "reservations": [ {}, {{ "flex-id": "'nobody'" }} ],
            "pools": [ {{ "pool": "2001:db8:1::/112", "client-classes": [ "c1" ] }} ],
            "pd-pools": [ {{ "prefix": "2001:db8:8000::", "prefix-len": 40, "delegated-len": 56 }} ] }},
          {{ "id": 2, "subnet": "2001:db8:2::/64", "interface-id": "port", "client-classes": [ "c3" ],
            "pools": [ {{ "pool": "2001:db8:2::/112" }} ],
            "pd-pools": [ {{ "prefix": "2001:db8:9000::", "prefix-len": 40, "delegated-len": 56 }} ] }} ] }} }}"#,
        reservations.join(",\n")
    );
    let loaded = match corelease_config::parse_dhcp6_str(&cfg, Path::new(".")) {
        Ok(l) => l,
        Err(e) => panic!("config: {e}"),
    };
    let ifaces = vec![Interface6Info {
        ifindex: 1,
        name: "eth0".into(),
        hwtype: 1,
    }];
    let prepared = Arc::new(Prepared6::new(&loaded.config, ifaces));
    let mut shard = V6Shard::new(prepared, &SERVER_DUID, 0, 1, NullSink);
    assert!(
        shard.prepared().hosts.flex_id.is_some(),
        "flex-id is evaluated"
    );
    let direct = Meta6 {
        src: SocketAddrV6::new(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2), 546, 0, 1),
        dst: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2),
        ifindex: 1,
    };
    let relay = Meta6 {
        src: SocketAddrV6::new(Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 1), 547, 0, 0),
        ..direct
    };
    let mut out = vec![0u8; 1500];
    let mut buf = Vec::with_capacity(600);
    let now = 1_700_000_000;
    // Clients 1..=100 are reserved (direct, subnet 1); 101..=200 are not (half relayed).
    let clients: Vec<(u16, bool)> = (1..=200u16).map(|n| (n, n > 100 && n % 2 == 0)).collect();
    for &(n, relayed) in &clients {
        let meta = if relayed { relay } else { direct };
        message(&mut buf, 1, n, false, true, relayed);
        assert!(shard.handle(&meta, &buf, now, &mut out).is_some());
        message(&mut buf, 3, n, true, true, relayed);
        assert!(shard.handle(&meta, &buf, now, &mut out).is_some());
    }
    assert_eq!(shard.table().len(), 400);
    // The reservations were honoured (so the lookups above really ran).
    let reserved = shard
        .table()
        .iter()
        .filter(|e| e.lease.hostname.is_some())
        .count();
    assert_eq!(reserved, 200, "100 reserved clients x (address + prefix)");
    let before = ALLOCS.load(Ordering::Relaxed);
    let rounds = 10u64;
    for round in 1..=rounds {
        for &(n, relayed) in &clients {
            let meta = if relayed { relay } else { direct };
            for (kind, sid, ias) in [
                (5, true, true),    // Renew
                (6, false, true),   // Rebind
                (1, false, true),   // Solicit
                (3, true, true),    // Request
                (11, false, false), // Information-request
            ] {
                message(&mut buf, kind, n, sid, ias, relayed);
                assert!(shard.handle(&meta, &buf, now + round, &mut out).is_some());
            }
        }
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    let packets = rounds * clients.len() as u64 * 5;
    assert!(
        allocs <= 16,
        "{allocs} allocations for {packets} packets of classified and reserved clients"
    );
}
