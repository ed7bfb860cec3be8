//! The hot path does not allocate per packet (DESIGN.md "Nothing shared on the hot path"):
//! after warm-up, renewals and repeated DORAs of known clients allocate nothing beyond the
//! amortised growth of the expiry queue. Counted with a global allocator wrapper.

use corelease_storage::NullSink;
use corelease_v4::{Meta4, Ports, Prepared4, V4Shard};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddrV4};
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

fn packet(
    buf: &mut Vec<u8>,
    kind: u8,
    mac: [u8; 6],
    requested: Option<Ipv4Addr>,
    ciaddr: Option<Ipv4Addr>,
) {
    buf.clear();
    buf.resize(240, 0);
    buf[0] = 1;
    buf[1] = 1;
    buf[2] = 6;
    buf[4..8].copy_from_slice(&[mac[2], mac[3], mac[4], mac[5]]);
    if let Some(c) = ciaddr {
        buf[12..16].copy_from_slice(&c.octets());
    } else {
        buf[24..28].copy_from_slice(&[127, 0, 0, 1]);
    }
    buf[28..34].copy_from_slice(&mac);
    buf[236..240].copy_from_slice(&[99, 130, 83, 99]);
    buf.extend_from_slice(&[53, 1, kind, 61, 7, 1]);
    buf.extend_from_slice(&mac);
    if let Some(r) = requested {
        buf.extend_from_slice(&[50, 4]);
        buf.extend_from_slice(&r.octets());
        buf.extend_from_slice(&[54, 4, 127, 0, 0, 1]);
    }
    buf.extend_from_slice(&[55, 4, 1, 3, 6, 15, 255]);
}

#[test]
fn known_clients_are_served_without_allocating() {
    let cfg = r#"{ "Dhcp4": { "valid-lifetime": 4000, "renew-timer": 1000,
        "option-data": [ { "name": "domain-name-servers", "data": "10.0.0.53" } ],
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/16", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.1.0 - 10.0.200.255" } ],
            "option-data": [ { "name": "routers", "data": "10.0.0.1" } ] } ] } }"#;
    let loaded = corelease_config::parse_dhcp4_str(cfg, Path::new(".")).expect("config");
    let prepared = Arc::new(Prepared4::new(&loaded.config, Vec::new(), Ports::default()));
    let mut shard = V4Shard::new(prepared, 0, 1, NullSink);
    let relay = Meta4 {
        src: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 67),
        dst: Ipv4Addr::LOCALHOST,
        ifindex: 1,
        local: Ipv4Addr::LOCALHOST,
    };
    let mut out = vec![0u8; 1500];
    let mut buf = Vec::with_capacity(600);
    let clients: Vec<[u8; 6]> = (0..200u16)
        .map(|i| [2, 0, 0, 0, (i >> 8) as u8, i as u8])
        .collect();
    let mut addrs = Vec::with_capacity(clients.len());
    let now = 1_700_000_000;
    for mac in &clients {
        packet(&mut buf, 1, *mac, None, None);
        let r = shard.handle(&relay, &buf, now, &mut out).expect("offer");
        let yiaddr = Ipv4Addr::new(out[16], out[17], out[18], out[19]);
        let _ = r;
        packet(&mut buf, 3, *mac, Some(yiaddr), None);
        shard.handle(&relay, &buf, now, &mut out).expect("ack");
        addrs.push(yiaddr);
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    let rounds = 20u64;
    for round in 1..=rounds {
        for (mac, addr) in clients.iter().zip(&addrs) {
            // A renewal (RENEWING: ciaddr, unicast) ...
            packet(&mut buf, 3, *mac, None, Some(*addr));
            let meta = Meta4 {
                src: SocketAddrV4::new(*addr, 68),
                ..relay
            };
            assert!(shard.handle(&meta, &buf, now + round, &mut out).is_some());
            // ... and a full DORA of a client the server knows.
            packet(&mut buf, 1, *mac, None, None);
            assert!(shard.handle(&relay, &buf, now + round, &mut out).is_some());
            packet(&mut buf, 3, *mac, Some(*addr), None);
            assert!(shard.handle(&relay, &buf, now + round, &mut out).is_some());
        }
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    let packets = rounds * clients.len() as u64 * 3;
    // The expiry queue keeps one entry per renewal until its time passes: it doubles a few times.
    assert!(
        allocs <= 16,
        "{allocs} allocations for {packets} packets of known clients"
    );
}
