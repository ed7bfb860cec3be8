//! The whole sans-IO DHCPv6 path (decode -> decide -> encode, relay nesting included) over a
//! small fixed config: no sequence of packets and clock ticks may panic the shard, and every
//! reply it writes must be a well-formed DHCPv6 message (Relay-reply layers included) that
//! fits the buffer and re-encodes byte for byte.
//!
//! Structure-aware like v4_handler: the input is a script of steps. Each step is a clock
//! tick, a raw datagram, or a client message built from one of eight DUIDs with a message
//! type, optional Server Identifier (ours or forged), IA_NA / IA_TA / IA_PD naming addresses
//! and prefixes from a table that hits the pools, ORO, Rapid Commit and fuzzer-chosen raw
//! option bytes, optionally wrapped in up to three Relay-forward layers (link address,
//! Interface-ID, Relay Source Port chosen by the script).
#![no_main]

use corelease_fuzz::{option6, Script};
use corelease_storage::MemorySink;
use corelease_v6::{Interface6Info, Meta6, Prepared6, V6Shard};
use corelease_wire::v6::{fuzz_reencodes6, Dhcp6Packet, ALL_DHCP_RELAY_AGENTS_AND_SERVERS};
use libfuzzer_sys::fuzz_target;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// A direct subnet on eth0 with a tiny address pool and a PD pool with an excluded prefix, a
/// subnet selected by Interface-ID with Rapid Commit, and a shared network of two tiny pools
/// behind a relay (spill-over and exhaustion are a few packets away); options at every level.
const CONFIG: &str = r#"{ "Dhcp6": {
    "preferred-lifetime": 3000, "valid-lifetime": 4000,
    "renew-timer": 1000, "rebind-timer": 2000, "decline-probation-period": 600,
    "option-data": [ { "name": "dns-servers", "data": "2001:db8::53" },
                     { "name": "sntp-servers", "data": "2001:db8::123", "always-send": true } ],
    "shared-networks": [ { "name": "net", "relay": { "ip-addresses": [ "2001:db8:ffff::1" ] },
        "subnet6": [
            { "id": 3, "subnet": "2001:db8:3::/64",
              "pools": [ { "pool": "2001:db8:3::10 - 2001:db8:3::12" } ] },
            { "id": 4, "subnet": "2001:db8:4::/64",
              "pools": [ { "pool": "2001:db8:4::10 - 2001:db8:4::11" } ],
              "pd-pools": [ { "prefix": "2001:db8:4400::", "prefix-len": 62, "delegated-len": 64 } ] } ] } ],
    "subnet6": [
      { "id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
        "pools": [ { "pool": "2001:db8:1::100 - 2001:db8:1::107" } ],
        "pd-pools": [ { "prefix": "2001:db8:8000::", "prefix-len": 54, "delegated-len": 56,
                        "excluded-prefix": "2001:db8:8000:ab::", "excluded-prefix-len": 64 } ],
        "option-data": [ { "name": "dns-servers", "data": "2001:db8:1::53" } ] },
      { "id": 2, "subnet": "2001:db8:2::/64", "interface-id": "port-7", "rapid-commit": true,
        "pools": [ { "pool": "2001:db8:2::10 - 2001:db8:2::11" } ] }
    ]
} }"#;

const SERVER_DUID: &[u8] = &[0, 2, 0, 0, 0x09, 0xbf, 0xaa, 0xbb, 0xcc, 0xdd];
const START: u64 = 1_700_000_000;
const RELAY: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);
const CLIENT_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x42);

fn prepared() -> &'static Arc<Prepared6> {
    static PREPARED: OnceLock<Arc<Prepared6>> = OnceLock::new();
    PREPARED.get_or_init(|| {
        let loaded = corelease_config::parse_dhcp6_str(CONFIG, Path::new("."))
            .unwrap_or_else(|e| panic!("fuzz config rejected: {e}"));
        let ifaces = vec![Interface6Info {
            ifindex: 7,
            name: "eth0".into(),
            hwtype: 1,
        }];
        Arc::new(Prepared6::new(&loaded.config, ifaces))
    })
}

const fn a6(s: [u16; 8]) -> Ipv6Addr {
    Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
}

/// Addresses and prefixes worth naming: unset, pool members and edges, prefixes of the PD
/// pools (the excluded one too), the relay, link-local and addresses outside every subnet.
const ADDRS: [Ipv6Addr; 16] = [
    Ipv6Addr::UNSPECIFIED,
    a6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100]),
    a6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x107]),
    a6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x108]),
    a6([0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x10]),
    a6([0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x12]),
    a6([0x2001, 0xdb8, 4, 0, 0, 0, 0, 0x10]),
    a6([0x2001, 0xdb8, 0x8000, 0, 0, 0, 0, 0]),
    a6([0x2001, 0xdb8, 0x8000, 0xab00, 0, 0, 0, 0]),
    a6([0x2001, 0xdb8, 0x83ff, 0, 0, 0, 0, 0]),
    a6([0x2001, 0xdb8, 0x4400, 3, 0, 0, 0, 0]),
    RELAY,
    CLIENT_LL,
    a6([0x2001, 0xdb8, 3, 0, 0, 0, 0, 1]),
    a6([0x2001, 0xdb8, 4, 0, 0, 0, 0, 1]),
    a6([0x2001, 0xdb8, 9, 0, 0, 0, 0, 1]),
];

fn addr(i: u8) -> Ipv6Addr {
    ADDRS[usize::from(i) % ADDRS.len()]
}

/// Message types a client or relay may send (and a few it may not: Advertise, Reply,
/// Relay-reply, unknown).
const TYPES: [u8; 16] = [1, 3, 4, 5, 6, 7, 8, 9, 11, 2, 10, 13, 12, 14, 0, 255];

/// Appends an IA (NA, TA or PD) holding at most one address or prefix from the table.
fn ia(s: &mut Script<'_>, p: &mut Vec<u8>, code: u16) {
    let sel = s.byte();
    let iaid = u32::from(sel & 3);
    let mut body = Vec::with_capacity(64);
    body.extend_from_slice(&iaid.to_be_bytes());
    if code != 4 {
        // T1, T2: zero or a hint.
        let t = if sel & 4 != 0 { 500u32 } else { 0 };
        body.extend_from_slice(&t.to_be_bytes());
        body.extend_from_slice(&(t * 2).to_be_bytes());
    }
    if sel & 8 != 0 {
        let which = s.byte();
        let life = if sel & 16 != 0 { 0u32 } else { 3000 };
        let mut inner = Vec::with_capacity(32);
        inner.extend_from_slice(&life.to_be_bytes());
        inner.extend_from_slice(&life.to_be_bytes());
        if code == 25 {
            inner.push([56, 64, 48, 0, 128, 62][usize::from(which >> 4) % 6]);
            inner.extend_from_slice(&addr(which).octets());
            option6(&mut body, 26, &inner);
        } else {
            inner.splice(0..0, addr(which).octets());
            option6(&mut body, 5, &inner);
        }
    }
    option6(p, code, &body);
}

/// Builds one client message from the script into `p`.
fn client_message(s: &mut Script<'_>, p: &mut Vec<u8>) {
    let client = s.byte() % 8;
    let kind = TYPES[usize::from(s.byte() % 16)];
    let flags = s.byte();
    p.clear();
    p.extend_from_slice(&[kind, 0x12, client, kind]);
    if flags & 1 == 0 {
        option6(p, 1, &[0, 3, 0, 1, 2, 0, 0, 0, 0, client]);
    }
    option6(p, 8, &[0, 0]);
    if flags & 2 != 0 {
        if flags & 4 != 0 {
            option6(p, 2, SERVER_DUID);
        } else {
            option6(p, 2, &[0, 3, 0, 1, 2, 0, 0, 0, 0xee, client]);
        }
    }
    if flags & 8 != 0 {
        ia(s, p, 3);
    }
    if flags & 16 != 0 {
        ia(s, p, 25);
    }
    if flags & 32 != 0 {
        ia(s, p, if flags & 4 != 0 { 3 } else { 4 });
    }
    if flags & 64 != 0 {
        option6(p, 6, &[0, 23, 0, 24, 0, 31, 0, 67]);
    }
    if flags & 128 != 0 {
        option6(p, 14, &[]);
    }
    let extra = usize::from(s.byte() % 64);
    p.extend_from_slice(s.take(extra));
}

/// Wraps the message in `p` in `depth` Relay-forward layers (innermost first).
fn relay(s: &mut Script<'_>, p: &mut Vec<u8>, depth: u8, scratch: &mut Vec<u8>) {
    for hop in 0..depth {
        let sel = s.byte();
        scratch.clear();
        scratch.extend_from_slice(&[12, hop]);
        let link = if sel & 1 != 0 {
            addr(sel >> 4)
        } else {
            Ipv6Addr::UNSPECIFIED
        };
        scratch.extend_from_slice(&link.octets());
        scratch.extend_from_slice(&CLIENT_LL.octets());
        if sel & 2 != 0 {
            option6(
                scratch,
                18,
                if sel & 8 != 0 { b"port-7" } else { b"port-9" },
            );
        }
        if sel & 4 != 0 {
            option6(scratch, 135, &[2, 35]);
        }
        option6(scratch, 9, p);
        std::mem::swap(p, scratch);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut shard = V6Shard::new(
        Arc::clone(prepared()),
        SERVER_DUID,
        0,
        1,
        MemorySink::default(),
    );
    let mut script = Script(data);
    let mut now = START;
    let mut packet = Vec::with_capacity(1024);
    let mut scratch = Vec::with_capacity(1024);
    let mut out = [0u8; 1500];
    for _ in 0..64 {
        if script.0.is_empty() {
            break;
        }
        let step = script.byte();
        let relayed = step & 0x30;
        let meta = Meta6 {
            src: if relayed != 0 {
                SocketAddrV6::new(RELAY, 547, 0, 0)
            } else {
                SocketAddrV6::new(CLIENT_LL, 546, 0, 7)
            },
            dst: ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
            ifindex: if step & 0x40 != 0 { 9 } else { 7 },
        };
        let bytes: &[u8] = match step % 8 {
            0 => {
                now += u64::from(script.byte()) * 97;
                shard.on_tick(now);
                continue;
            }
            1 => {
                let len = usize::from(script.byte()) * 2;
                script.take(len)
            }
            _ => {
                client_message(&mut script, &mut packet);
                relay(&mut script, &mut packet, relayed >> 4, &mut scratch);
                &packet
            }
        };
        if let Some(reply) = shard.handle(&meta, bytes, now, &mut out) {
            assert!(reply.len <= out.len(), "reply longer than its buffer");
            let written = &out[..reply.len];
            assert!(
                Dhcp6Packet::new_checked(written).is_ok(),
                "reply does not decode"
            );
            assert!(
                fuzz_reencodes6(written),
                "reply is not a well-formed message"
            );
        }
    }
});
