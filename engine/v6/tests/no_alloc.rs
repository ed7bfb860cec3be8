//! The hot path does not allocate per packet (DESIGN.md "Nothing shared on the hot path"):
//! after warm-up, Solicit/Request, Renew, Rebind and Information-request of known clients,
//! direct and relayed, allocate nothing beyond the amortised growth of the expiry queue.
//! Counted with a global allocator wrapper.

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
fn known_clients_are_served_without_allocating() {
    let cfg = r#"{ "Dhcp6": { "preferred-lifetime": 3000, "valid-lifetime": 4000,
        "option-data": [ { "name": "dns-servers", "data": "2001:db8::53" } ],
        "subnet6": [
          { "id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
            "pools": [ { "pool": "2001:db8:1::/112" } ],
            "pd-pools": [ { "prefix": "2001:db8:8000::", "prefix-len": 40, "delegated-len": 56,
                            "excluded-prefix": "2001:db8:8000:1::", "excluded-prefix-len": 64 } ] },
          { "id": 2, "subnet": "2001:db8:2::/64", "interface-id": "port",
            "pools": [ { "pool": "2001:db8:2::/112" } ],
            "pd-pools": [ { "prefix": "2001:db8:9000::", "prefix-len": 40, "delegated-len": 56 } ] } ] } }"#;
    let loaded = match corelease_config::parse_dhcp6_str(cfg, Path::new(".")) {
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
    let clients: Vec<(u16, bool)> = (1..=200u16).map(|n| (n, n % 2 == 0)).collect();
    for &(n, relayed) in &clients {
        let meta = if relayed { relay } else { direct };
        message(&mut buf, 1, n, false, true, relayed);
        assert!(shard.handle(&meta, &buf, now, &mut out).is_some());
        message(&mut buf, 3, n, true, true, relayed);
        assert!(shard.handle(&meta, &buf, now, &mut out).is_some());
    }
    assert_eq!(shard.table().len(), 400);
    let before = ALLOCS.load(Ordering::Relaxed);
    let rounds = 20u64;
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
    // The expiry queue keeps one entry per extension until its time passes: it doubles a few
    // times; nothing else may allocate.
    assert!(
        allocs <= 16,
        "{allocs} allocations for {packets} packets of known clients"
    );
}
