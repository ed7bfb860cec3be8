//! The whole sans-IO DHCPv4 path (decode -> decide -> encode) over a small fixed config: no
//! sequence of packets and clock ticks may panic the shard, and every reply it writes must be a
//! well-formed DHCPv4 message that fits the buffer.
//!
//! Structure-aware: plain bytes rarely get past the BOOTP header and magic cookie, so the input
//! is read as a script of steps. Each step is a clock tick, a raw datagram, or a packet built
//! from a valid BOOTP header (one of eight clients, addresses from a table that hits the pools,
//! the reservation, the relay and the server) with a message type, optional requested address,
//! server identifier and client identifier, followed by fuzzer-chosen raw option bytes.
#![no_main]

use corelease_fuzz::Script;
use corelease_storage::MemorySink;
use corelease_v4::{InterfaceInfo, Meta4, Ports, Prepared4, V4Shard};
use corelease_wire::v4::{fuzz_reencodes, Dhcp4Packet};
use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// A direct subnet on eth0, a shared network of two tiny pools behind a relay (spill-over and
/// exhaustion are a few packets away), a global reservation, and options at every level.
const CONFIG: &str = r#"{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "eth0" ] },
    "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
    "option-data": [ { "name": "domain-name-servers", "data": "192.0.2.53" },
                     { "name": "domain-name", "data": "example.org" } ],
    "reservations": [ { "hw-address": "02:00:00:00:00:03", "ip-address": "192.0.2.50" } ],
    "shared-networks": [ { "name": "net", "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "subnet4": [
            { "id": 2, "subnet": "198.51.100.0/24",
              "pools": [ { "pool": "198.51.100.10 - 198.51.100.12" } ],
              "option-data": [ { "name": "routers", "data": "198.51.100.1" } ] },
            { "id": 3, "subnet": "203.0.113.0/24",
              "pools": [ { "pool": "203.0.113.5 - 203.0.113.9" } ] } ] } ],
    "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "interface": "eth0",
        "pools": [ { "pool": "192.0.2.10 - 192.0.2.19" } ],
        "option-data": [ { "name": "routers", "data": "192.0.2.1" } ] } ]
} }"#;

const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const RELAY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const START: u64 = 1_700_000_000;

fn prepared() -> &'static Arc<Prepared4> {
    static PREPARED: OnceLock<Arc<Prepared4>> = OnceLock::new();
    PREPARED.get_or_init(|| {
        let loaded = corelease_config::parse_dhcp4_str(CONFIG, Path::new("."))
            .unwrap_or_else(|e| panic!("fuzz config rejected: {e}"));
        let ifaces = vec![InterfaceInfo {
            name: "eth0".into(),
            index: 7,
            addrs: vec![SERVER],
        }];
        Arc::new(Prepared4::new(&loaded.config, ifaces, Ports::default()))
    })
}

/// Addresses worth asking for: unset, pool members and edges, the reservation, the server, the
/// relay, broadcast, and addresses outside every subnet.
const ADDRS: [Ipv4Addr; 16] = [
    Ipv4Addr::UNSPECIFIED,
    Ipv4Addr::new(192, 0, 2, 10),
    Ipv4Addr::new(192, 0, 2, 11),
    Ipv4Addr::new(192, 0, 2, 19),
    Ipv4Addr::new(192, 0, 2, 50),
    SERVER,
    Ipv4Addr::new(198, 51, 100, 10),
    Ipv4Addr::new(198, 51, 100, 12),
    Ipv4Addr::new(203, 0, 113, 5),
    Ipv4Addr::new(203, 0, 113, 9),
    RELAY,
    Ipv4Addr::BROADCAST,
    Ipv4Addr::new(10, 0, 0, 1),
    Ipv4Addr::new(192, 0, 2, 255),
    Ipv4Addr::new(198, 51, 100, 1),
    Ipv4Addr::new(192, 0, 2, 20),
];

fn addr(i: u8) -> Ipv4Addr {
    ADDRS[usize::from(i) % ADDRS.len()]
}

fn relay_meta() -> Meta4 {
    Meta4 {
        src: SocketAddrV4::new(RELAY, 67),
        dst: SERVER,
        ifindex: 1,
        local: SERVER,
    }
}

fn direct_meta(ifindex: u32, unicast: bool) -> Meta4 {
    Meta4 {
        src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
        dst: if unicast { SERVER } else { Ipv4Addr::BROADCAST },
        ifindex,
        local: SERVER,
    }
}

/// Builds one BOOTREQUEST-shaped packet from the script into `p`; returns the meta to deliver
/// it with.
fn build(s: &mut Script<'_>, p: &mut Vec<u8>) -> Meta4 {
    let client = s.byte() % 8;
    let kind = s.byte() % 10;
    let addrs = s.byte();
    let flags = s.byte();
    let mac = [2, 0, 0, 0, 0, client];
    p.clear();
    p.resize(240, 0);
    p[0] = if flags & 0x80 != 0 { 2 } else { 1 };
    p[1] = 1;
    p[2] = if flags & 0x40 != 0 { s.byte() } else { 6 };
    p[4..8].copy_from_slice(&[0x12, 0x34, client, kind]);
    if flags & 1 != 0 {
        p[10] = 0x80;
    }
    p[12..16].copy_from_slice(&addr(addrs & 0x0f).octets());
    let giaddr = if flags & 2 != 0 {
        RELAY
    } else if flags & 4 != 0 {
        addr(s.byte())
    } else {
        Ipv4Addr::UNSPECIFIED
    };
    p[24..28].copy_from_slice(&giaddr.octets());
    p[28..34].copy_from_slice(&mac);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    if kind != 0 {
        p.extend_from_slice(&[53, 1, kind]);
    }
    if flags & 0x10 != 0 {
        p.extend_from_slice(&[50, 4]);
        p.extend_from_slice(&addr(addrs >> 4).octets());
    }
    if flags & 0x20 != 0 {
        p.extend_from_slice(&[54, 4]);
        p.extend_from_slice(&addr(s.byte()).octets());
    }
    if flags & 0x40 != 0 {
        p.extend_from_slice(&[61, 7, 1]);
        p.extend_from_slice(&mac);
    }
    let extra = usize::from(s.byte() % 64);
    p.extend_from_slice(s.take(extra));
    p.push(255);
    if giaddr != Ipv4Addr::UNSPECIFIED {
        relay_meta()
    } else {
        direct_meta(if flags & 8 != 0 { 9 } else { 7 }, addrs & 1 != 0)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut shard = V4Shard::new(Arc::clone(prepared()), 0, 1, MemorySink::default());
    let mut script = Script(data);
    let mut now = START;
    let mut packet = Vec::with_capacity(600);
    let mut out = [0u8; 1500];
    for _ in 0..64 {
        if script.0.is_empty() {
            break;
        }
        let step = script.byte();
        let (meta, bytes): (Meta4, &[u8]) = match step % 8 {
            0 => {
                now += u64::from(script.byte()) * 97;
                shard.on_tick(now);
                continue;
            }
            1 => {
                let len = usize::from(script.byte()) * 2;
                let meta = if step & 8 != 0 {
                    relay_meta()
                } else {
                    direct_meta(7, false)
                };
                (meta, script.take(len))
            }
            _ => {
                let meta = build(&mut script, &mut packet);
                (meta, &packet)
            }
        };
        if let Some(reply) = shard.handle(&meta, bytes, now, &mut out) {
            assert!(reply.len <= out.len(), "reply longer than its buffer");
            let written = &out[..reply.len];
            assert!(
                Dhcp4Packet::new_checked(written).is_ok(),
                "reply does not decode"
            );
            assert!(
                fuzz_reencodes(written),
                "reply is not a well-formed message"
            );
        }
    }
});
