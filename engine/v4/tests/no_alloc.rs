//! The hot path does not allocate per packet (DESIGN.md "Nothing shared on the hot path"):
//! after warm-up, renewals and repeated DORAs of known clients allocate nothing beyond the
//! amortised growth of the expiry queue. Counted with a global allocator wrapper.

use corelease_storage::NullSink;
use corelease_v4::{Meta4, Ports, Prepared4, V4Shard};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::Arc;

struct Counting;

thread_local! {
    // Per thread: the tests of this file run in parallel and must not count each other.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

fn allocations() -> usize {
    ALLOCS.with(Cell::get)
}

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
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
    packet_with(buf, kind, mac, requested, ciaddr, &[]);
}

fn packet_with(
    buf: &mut Vec<u8>,
    kind: u8,
    mac: [u8; 6],
    requested: Option<Ipv4Addr>,
    ciaddr: Option<Ipv4Addr>,
    extra: &[u8],
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
    buf.extend_from_slice(extra);
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
    let before = allocations();
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
    let allocs = allocations() - before;
    let packets = rounds * clients.len() as u64 * 3;
    // The expiry queue keeps one entry per renewal until its time passes: it doubles a few times.
    assert!(
        allocs <= 16,
        "{allocs} allocations for {packets} packets of known clients"
    );
}

/// Ten classes (vendor tests, a KNOWN-dependent one, a host class, a pool guard, an
/// additional class) and 100 host reservations: classification, the host lookup and the
/// reserved-address checks allocate nothing per packet either.
#[test]
fn classes_and_reservations_are_served_without_allocating() {
    let mut reservations = String::new();
    for i in 0..100u16 {
        if i > 0 {
            reservations.push(',');
        }
        reservations.push_str(&format!(
            r#"{{ "hw-address": "02:00:00:00:{:02x}:{:02x}", "ip-address": "10.0.100.{}",
                 "client-classes": [ "gold" ],
                 "option-data": [ {{ "name": "ntp-servers", "data": "10.0.0.{}" }} ] }}"#,
            i >> 8,
            i & 0xff,
            i + 1,
            i + 1
        ));
    }
    let cfg = format!(
        r#"{{ "Dhcp4": {{ "valid-lifetime": 4000, "renew-timer": 1000,
        "option-data": [ {{ "name": "domain-name-servers", "data": "10.0.0.53" }} ],
        "client-classes": [
            {{ "name": "c1", "test": "option[60].text == 'pxe'", "next-server": "10.0.0.9" }},
            {{ "name": "c2", "test": "substring(option[60].hex, 0, 3) == 'doc'",
               "option-data": [ {{ "name": "routers", "data": "10.0.0.2" }} ] }},
            {{ "name": "c3", "test": "option[61].exists and not option[82].exists" }},
            {{ "name": "c4", "test": "pkt4.mac == 0x020000000001" }},
            {{ "name": "c5", "test": "member('c3') or member('c4')",
               "option-data": [ {{ "name": "domain-name", "data": "example.org" }} ] }},
            {{ "name": "c6", "test": "member('KNOWN')", "valid-lifetime": 3000 }},
            {{ "name": "c7", "test": "option[55].exists and pkt4.htype == 1" }},
            {{ "name": "c8", "test": "concat(option[60].text, 'x') == 'pxex'" }},
            {{ "name": "gold", "option-data": [ {{ "name": "time-offset", "data": "3600" }} ] }},
            {{ "name": "late", "test": "member('UNKNOWN')", "only-in-additional-list": true,
               "option-data": [ {{ "name": "domain-name-servers", "data": "10.0.0.7" }} ] }}
        ],
        "subnet4": [ {{ "id": 1, "subnet": "10.0.0.0/16", "relay": {{ "ip-addresses": [ "127.0.0.1" ] }},
            "pools": [ {{ "pool": "10.0.1.0 - 10.0.200.255", "client-classes": [ "c7" ],
                          "evaluate-additional-classes": [ "late" ] }} ],
            "reservations": [ {reservations} ],
            "option-data": [ {{ "name": "routers", "data": "10.0.0.1" }} ] }} ] }} }}"#
    );
    let loaded = corelease_config::parse_dhcp4_str(&cfg, Path::new(".")).expect("config");
    assert!(loaded.unsupported.is_empty(), "{:?}", loaded.unsupported);
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
    // Half the clients have reservations (MACs 02:00:00:00:00:00..63), half do not.
    let clients: Vec<[u8; 6]> = (0..200u16)
        .map(|i| [2, 0, 0, 0, (i >> 8) as u8, i as u8])
        .collect();
    let vendor: &[u8] = &[60, 3, b'p', b'x', b'e'];
    let mut addrs = Vec::with_capacity(clients.len());
    let now = 1_700_000_000;
    for mac in &clients {
        packet_with(&mut buf, 1, *mac, None, None, vendor);
        shard.handle(&relay, &buf, now, &mut out).expect("offer");
        let yiaddr = Ipv4Addr::new(out[16], out[17], out[18], out[19]);
        packet_with(&mut buf, 3, *mac, Some(yiaddr), None, vendor);
        shard.handle(&relay, &buf, now, &mut out).expect("ack");
        addrs.push(yiaddr);
    }
    assert_eq!(addrs[5], Ipv4Addr::new(10, 0, 100, 6), "reserved address");
    // The last ACK (client 199, not reserved): c1 (siaddr), c5 (option 15), "late" (UNKNOWN).
    let mut opts = corelease_wire::v4::OptionIndex::new();
    let ack = corelease_wire::v4::Dhcp4Packet::new_checked(&out[..]).expect("ack");
    opts.parse(&ack).expect("options");
    assert_eq!(
        ack.siaddr(),
        Ipv4Addr::new(10, 0, 0, 9),
        "class next-server"
    );
    assert_eq!(
        opts.get(6),
        Some(&[10, 0, 0, 7][..]),
        "additional class option"
    );
    assert_eq!(opts.get(15), Some(&b"example.org"[..]), "class option");
    let before = allocations();
    let rounds = 20u64;
    for round in 1..=rounds {
        for (mac, addr) in clients.iter().zip(&addrs) {
            packet_with(&mut buf, 3, *mac, None, Some(*addr), vendor);
            let meta = Meta4 {
                src: SocketAddrV4::new(*addr, 68),
                ..relay
            };
            assert!(shard.handle(&meta, &buf, now + round, &mut out).is_some());
            packet_with(&mut buf, 1, *mac, None, None, vendor);
            assert!(shard.handle(&relay, &buf, now + round, &mut out).is_some());
            packet_with(&mut buf, 3, *mac, Some(*addr), None, vendor);
            assert!(shard.handle(&relay, &buf, now + round, &mut out).is_some());
        }
    }
    let allocs = allocations() - before;
    let packets = rounds * clients.len() as u64 * 3;
    assert!(
        allocs <= 16,
        "{allocs} allocations for {packets} packets with classes and reservations"
    );
}

/// flex-id reservations (ARM 17.9): the identifier expression is evaluated for every packet
/// into a reused buffer and looked up like any identifier, allocating nothing.
#[test]
fn flex_id_reservations_are_served_without_allocating() {
    let mut reservations = String::new();
    for i in 0..50u16 {
        if i > 0 {
            reservations.push(',');
        }
        reservations.push_str(&format!(
            r#"{{ "flex-id": "'pxe-{i}'", "ip-address": "10.0.100.{}" }}"#,
            i + 1
        ));
    }
    let cfg = format!(
        r#"{{ "Dhcp4": {{ "valid-lifetime": 4000,
        "host-reservation-identifiers": [ "flex-id", "hw-address" ],
        "hooks-libraries": [ {{ "library": "libdhcp_flex_id.so", "parameters": {{
            "identifier-expression": "concat(option[60].text, concat('-', uint8totext(substring(pkt4.mac, 5, 1))))" }} }} ],
        "subnet4": [ {{ "id": 1, "subnet": "10.0.0.0/16", "relay": {{ "ip-addresses": [ "127.0.0.1" ] }},
            "pools": [ {{ "pool": "10.0.1.0 - 10.0.1.255" }} ],
            "reservations": [ {reservations} ] }} ] }} }}"#
    );
    let loaded = corelease_config::parse_dhcp4_str(&cfg, Path::new(".")).expect("config");
    assert!(loaded.unsupported.is_empty(), "{:?}", loaded.unsupported);
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
    // MACs ..:00 to ..:63: the first 50 have a flex-id reservation ("pxe-<last octet>").
    let clients: Vec<[u8; 6]> = (0..100u8).map(|i| [2, 0, 0, 0, 0, i]).collect();
    let vendor: &[u8] = &[60, 3, b'p', b'x', b'e'];
    let mut addrs = Vec::with_capacity(clients.len());
    let now = 1_700_000_000;
    for mac in &clients {
        packet_with(&mut buf, 1, *mac, None, None, vendor);
        shard.handle(&relay, &buf, now, &mut out).expect("offer");
        let yiaddr = Ipv4Addr::new(out[16], out[17], out[18], out[19]);
        packet_with(&mut buf, 3, *mac, Some(yiaddr), None, vendor);
        shard.handle(&relay, &buf, now, &mut out).expect("ack");
        addrs.push(yiaddr);
    }
    assert_eq!(
        addrs[7],
        Ipv4Addr::new(10, 0, 100, 8),
        "flex-id reservation"
    );
    assert_eq!(addrs[60].octets()[2], 1, "dynamic address");
    let before = allocations();
    let rounds = 20u64;
    for round in 1..=rounds {
        for (mac, addr) in clients.iter().zip(&addrs) {
            packet_with(&mut buf, 1, *mac, None, None, vendor);
            assert!(shard.handle(&relay, &buf, now + round, &mut out).is_some());
            packet_with(&mut buf, 3, *mac, Some(*addr), None, vendor);
            assert!(shard.handle(&relay, &buf, now + round, &mut out).is_some());
        }
    }
    let allocs = allocations() - before;
    let packets = rounds * clients.len() as u64 * 2;
    assert!(
        allocs <= 16,
        "{allocs} allocations for {packets} packets with flex-id reservations"
    );
}
