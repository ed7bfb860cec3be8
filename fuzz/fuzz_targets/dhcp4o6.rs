//! DHCPv4-over-DHCPv6 (RFC 7341) end to end, sans-IO: the DHCPv6 side's forward of a
//! DHCPv4-query (`V6Shard::forward_dhcp4_query`, which builds the IPC message), the DHCPv4
//! side serving it (`V4Shard::handle_4o6`), and the DHCPv6 side turning the DHCPv4-response
//! back into what goes to the client or relay (`V6Shard::dhcp4_response`), plus the codec
//! itself (`parse_ipc`, `dhcpv4_message`, `first_relay_interface_id`, `strip_ipc`,
//! `encode_ipc`, `encode_response`) on raw bytes. Nothing may panic, and:
//! - a forwarded query is a valid IPC message naming the arrival interface and the source,
//!   carrying the DHCPv4 message unchanged; stripping the endpoint gives back the query;
//! - a DHCPv4 side's answer is a DHCPv4-response with the query's transaction id, endpoint
//!   and relay count, whose DHCPv4 message decodes and re-encodes byte for byte;
//! - what the DHCPv6 side sends is a well-formed DHCPv6 message that fits its buffer and
//!   re-encodes byte for byte, without the ISC sub-options.
//!
//! Structure-aware: the input is a script of up to 32 steps. Each step is a clock tick, raw
//! bytes for one of the four entry points, or a DHCPv4-query built from a DHCPv4 message
//! (eight clients, the DHCPv4 message types, requested address / server id / client id,
//! fuzzer-chosen option bytes) with a DHCPv6 client / server identifier, an ISC vendor
//! option, raw DHCPv6 option bytes and up to three Relay-forward layers (Interface-ID, Relay
//! Source Port), sent through the whole chain either from a client (arrival interface and
//! source chosen by the script) or as an IPC message straight to the DHCPv4 side (endpoint
//! chosen by the script); the IPC messages on the way can be corrupted by one byte.
#![no_main]

use corelease_fuzz::{option6, Script};
use corelease_storage::MemorySink;
use corelease_v4::{InterfaceInfo, Ports, Prepared4, V4Shard};
use corelease_v6::{Dhcp4Query, Interface6Info, Meta6, Prepared6, V6Shard};
use corelease_wire::v4::{fuzz_reencodes, Dhcp4Packet};
use corelease_wire::v6::dhcp4o6::{
    encode_ipc, encode_response, parse_ipc, strip_ipc, Endpoint4o6, ENTERPRISE_ID_ISC,
    ISC_V6_4O6_INTERFACE, ISC_V6_4O6_SRC_ADDRESS, ISC_V6_4O6_SRC_PORT,
};
use corelease_wire::v6::{
    fuzz_reencodes6, Dhcp6Packet, MessageType, ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
};
use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The DHCPv6 side: 4o6 on, two interfaces (the DHCPv4 side knows the same two by name).
const CONFIG6: &str = r#"{ "Dhcp6": {
    "dhcp4o6-port": 6767,
    "subnet6": [ { "id": 1, "subnet": "2001:db8:1:1::/64", "interface": "eth0",
        "pools": [ { "pool": "2001:db8:1:1::100 - 2001:db8:1:1::1ff" } ] } ]
} }"#;

/// The DHCPv4 side: subnet 1 is plain DHCPv4 (never serves 4o6); 2 is chosen by the query's
/// IPv6 source, 3 by the first relay's Interface-ID, 4 by the arrival interface. The pools are
/// tiny so that exhaustion is a few queries away; a reservation and options at every level.
const CONFIG4: &str = r#"{ "Dhcp4": {
    "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000, "dhcp4o6-port": 6767,
    "option-data": [ { "name": "domain-name-servers", "data": "192.0.2.53" } ],
    "subnet4": [
      { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.10 - 192.0.2.19" } ] },
      { "id": 2, "subnet": "10.10.10.0/24", "4o6-subnet": "2001:db8:1:1::/64",
        "pools": [ { "pool": "10.10.10.100 - 10.10.10.102" } ],
        "reservations": [ { "hw-address": "02:00:00:00:00:07", "ip-address": "10.10.10.50" } ],
        "option-data": [ { "name": "routers", "data": "10.10.10.1" } ] },
      { "id": 3, "subnet": "10.10.20.0/24", "4o6-interface-id": "port-7",
        "pools": [ { "pool": "10.10.20.100 - 10.10.20.101" } ] },
      { "id": 4, "subnet": "10.10.30.0/24", "4o6-interface": "eth1",
        "pools": [ { "pool": "10.10.30.100 - 10.10.30.101" } ] }
    ]
} }"#;

const SERVER_DUID: &[u8] = &[0, 2, 0, 0, 0x09, 0xbf, 0xaa, 0xbb, 0xcc, 0xdd];
const START: u64 = 1_700_000_000;
const CLIENT: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 1, 0, 0, 0, 0x42);
const CLIENT_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x42);
const RELAY: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 9, 0, 0, 0, 0, 1);

fn prepared6() -> &'static Arc<Prepared6> {
    static PREPARED: OnceLock<Arc<Prepared6>> = OnceLock::new();
    PREPARED.get_or_init(|| {
        let loaded = corelease_config::parse_dhcp6_str(CONFIG6, Path::new("."))
            .unwrap_or_else(|e| panic!("fuzz config rejected: {e}"));
        let ifaces = ["eth0", "eth1"]
            .iter()
            .zip(7..)
            .map(|(name, ifindex)| Interface6Info {
                ifindex,
                name: (*name).into(),
                hwtype: 1,
            })
            .collect();
        Arc::new(Prepared6::new(&loaded.config, ifaces))
    })
}

fn prepared4() -> &'static Arc<Prepared4> {
    static PREPARED: OnceLock<Arc<Prepared4>> = OnceLock::new();
    PREPARED.get_or_init(|| {
        let loaded = corelease_config::parse_dhcp4_str(CONFIG4, Path::new("."))
            .unwrap_or_else(|e| panic!("fuzz config rejected: {e}"));
        let ifaces = vec![
            InterfaceInfo {
                name: "eth0".into(),
                index: 7,
                addrs: vec![Ipv4Addr::new(192, 0, 2, 1)],
            },
            InterfaceInfo {
                name: "eth1".into(),
                index: 8,
                addrs: vec![Ipv4Addr::new(198, 51, 100, 1)],
            },
        ];
        Arc::new(Prepared4::new(&loaded.config, ifaces, Ports::default()))
    })
}

/// IPv6 sources and relay link addresses: the 4o6 subnet's client, link-local, the relay,
/// unspecified, and outside everything.
const ADDRS6: [Ipv6Addr; 8] = [
    CLIENT,
    CLIENT_LL,
    RELAY,
    Ipv6Addr::UNSPECIFIED,
    Ipv6Addr::new(0x2001, 0xdb8, 1, 1, 0, 0, 0, 0x43),
    Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, 1),
    Ipv6Addr::LOCALHOST,
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2),
];

fn addr6(i: u8) -> Ipv6Addr {
    ADDRS6[usize::from(i) % ADDRS6.len()]
}

/// IPv4 addresses worth naming: pool members and edges of the 4o6 subnets, the reservation,
/// and the server identifiers (the addresses of eth0 and eth1).
const ADDRS4: [Ipv4Addr; 8] = [
    Ipv4Addr::UNSPECIFIED,
    Ipv4Addr::new(10, 10, 10, 100),
    Ipv4Addr::new(10, 10, 10, 102),
    Ipv4Addr::new(10, 10, 10, 50),
    Ipv4Addr::new(10, 10, 20, 100),
    Ipv4Addr::new(10, 10, 30, 100),
    Ipv4Addr::new(192, 0, 2, 1),
    Ipv4Addr::new(198, 51, 100, 1),
];

fn addr4(i: u8) -> Ipv4Addr {
    ADDRS4[usize::from(i) % ADDRS4.len()]
}

/// Interface names an IPC message may carry: ours, unknown, empty, not UTF-8.
const IFACES: [&[u8]; 6] = [b"eth0", b"eth1", b"eth9", b"", b"eth0\0", b"\xff\xfe"];

/// Builds one BOOTREQUEST-shaped DHCPv4 message from the script into `p`.
fn dhcpv4(s: &mut Script<'_>, p: &mut Vec<u8>) {
    let client = s.byte() % 8;
    let kind = s.byte() % 10;
    let flags = s.byte();
    let mac = [2, 0, 0, 0, 0, client];
    p.clear();
    p.resize(240, 0);
    p[0] = if flags & 0x80 != 0 { 2 } else { 1 };
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&[0x40, 0x60, client, kind]);
    if flags & 1 != 0 {
        p[10] = 0x80;
    }
    if flags & 2 != 0 {
        p[12..16].copy_from_slice(&addr4(s.byte()).octets());
    }
    if flags & 4 != 0 {
        p[24..28].copy_from_slice(&addr4(s.byte()).octets());
    }
    p[28..34].copy_from_slice(&mac);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    if kind != 0 {
        p.extend_from_slice(&[53, 1, kind]);
    }
    if flags & 8 != 0 {
        p.extend_from_slice(&[50, 4]);
        p.extend_from_slice(&addr4(s.byte()).octets());
    }
    if flags & 0x10 != 0 {
        p.extend_from_slice(&[54, 4]);
        p.extend_from_slice(&addr4(s.byte()).octets());
    }
    if flags & 0x20 != 0 {
        p.extend_from_slice(&[61, 7, 1]);
        p.extend_from_slice(&mac);
    }
    if flags & 0x40 != 0 {
        let extra = usize::from(s.byte() % 64);
        p.extend_from_slice(s.take(extra));
    }
    p.push(255);
}

/// Builds a DHCPv4-query (or, rarely, another type) around `v4` into `p`. Returns whether the
/// query is exact: one DHCPv4 Message option, no vendor option and no raw option bytes, so
/// that the IPC message must carry `v4` unchanged and stripping the endpoint must give the
/// query back byte for byte.
fn query(s: &mut Script<'_>, v4: &[u8], p: &mut Vec<u8>) -> bool {
    let flags = s.byte();
    let kind = if flags & 0x80 != 0 {
        [MessageType::Dhcpv4Response.as_u8(), 1, 11, 0][usize::from(s.byte() % 4)]
    } else {
        MessageType::Dhcpv4Query.as_u8()
    };
    p.clear();
    // RFC 7341 6.2: the flags field is 3 bytes; Kea uses it as the transaction id.
    p.extend_from_slice(&[kind, 0x51, 0x52, flags]);
    if flags & 1 != 0 {
        option6(p, 1, &[0, 3, 0, 1, 2, 0, 0, 0, 0, flags]);
    }
    if flags & 2 != 0 {
        let id: &[u8] = if flags & 4 != 0 {
            SERVER_DUID
        } else {
            &[0, 3, 0, 1, 2, 0, 0, 0, 0xee, 1]
        };
        option6(p, 2, id);
    }
    if flags & 8 != 0 {
        // An ISC vendor option of the client's own, holding an unrelated sub-option or a
        // forged 4o6 one.
        let mut vendor = ENTERPRISE_ID_ISC.to_be_bytes().to_vec();
        let sub = [
            7,
            ISC_V6_4O6_INTERFACE,
            ISC_V6_4O6_SRC_ADDRESS,
            ISC_V6_4O6_SRC_PORT,
        ][usize::from(s.byte() % 4)];
        let len = usize::from(s.byte() % 20);
        option6(&mut vendor, sub, s.take(len));
        option6(p, 17, &vendor);
    }
    let carries = s.byte() % 4;
    if carries != 0 {
        option6(p, 87, v4);
    }
    if carries == 3 {
        option6(p, 87, v4);
    }
    if flags & 0x10 != 0 {
        let extra = usize::from(s.byte() % 48);
        p.extend_from_slice(s.take(extra));
    }
    flags & 0x18 == 0 && carries == 1
}

/// Wraps the message in `p` in `depth` Relay-forward layers (innermost first); each relay's
/// own options come before its Relay Message option, as Kea packs them.
fn relay(s: &mut Script<'_>, p: &mut Vec<u8>, depth: u8, scratch: &mut Vec<u8>) {
    for hop in 0..depth {
        let sel = s.byte();
        scratch.clear();
        scratch.extend_from_slice(&[12, hop]);
        scratch.extend_from_slice(&addr6(sel >> 5).octets());
        scratch.extend_from_slice(&CLIENT_LL.octets());
        if sel & 1 != 0 {
            option6(
                scratch,
                18,
                if sel & 2 != 0 { b"port-7" } else { b"port-9" },
            );
        }
        if sel & 4 != 0 {
            option6(scratch, 135, &[2, 35]);
        }
        option6(scratch, 9, p);
        std::mem::swap(p, scratch);
    }
}

/// Flips bits of one byte of `buf[..len]` when the script says so; returns whether it did.
fn corrupt(s: &mut Script<'_>, buf: &mut [u8], len: usize) -> bool {
    let sel = s.byte();
    if sel & 0x80 == 0 || len == 0 {
        return false;
    }
    let at = (usize::from(sel & 0x7f) * 256 + usize::from(s.byte())) % len;
    match buf.get_mut(at) {
        Some(b) => {
            *b ^= s.byte() | 1;
            true
        }
        None => false,
    }
}

/// True when `msg` (any relay layers) still carries one of the three 4o6 sub-options in an
/// ISC vendor option of its client/server message.
fn has_4o6_suboption(msg: &[u8]) -> bool {
    let Ok(outer) = Dhcp6Packet::new_checked(msg) else {
        return false;
    };
    let Ok((inner, _)) = outer.innermost() else {
        return false;
    };
    inner
        .options()
        .map_while(Result::ok)
        .filter(|o| o.code == 17 && o.data.get(..4) == Some(&ENTERPRISE_ID_ISC.to_be_bytes()[..]))
        .any(|o| {
            let mut at = 4;
            while let Some(h) = o.data.get(at..at + 4) {
                let code = u16::from_be_bytes([h[0], h[1]]);
                if matches!(
                    code,
                    ISC_V6_4O6_INTERFACE | ISC_V6_4O6_SRC_ADDRESS | ISC_V6_4O6_SRC_PORT
                ) {
                    return true;
                }
                at += 4 + usize::from(u16::from_be_bytes([h[2], h[3]]));
            }
            false
        })
}

/// The pair of servers and their buffers.
struct Rig {
    v6: V6Shard<MemorySink>,
    v4: V4Shard<MemorySink>,
    now: u64,
    ipc: [u8; 2048],
    response: [u8; 2048],
    scratch: [u8; 1500],
    wire: [u8; 2048],
}

impl Rig {
    /// The DHCPv4 side serves an IPC message; checks the DHCPv4-response it writes and returns
    /// its length.
    fn serve4(&mut self, ipc_len: usize) -> Option<usize> {
        let ipc = self.ipc.get(..ipc_len)?;
        let n = self
            .v4
            .handle_4o6(ipc, self.now, &mut self.scratch, &mut self.response)?;
        assert!(n <= self.response.len(), "response longer than its buffer");
        let query = parse_ipc(ipc).expect("a query the DHCPv4 side answered parses");
        let resp = parse_ipc(&self.response[..n]).expect("the DHCPv4-response parses");
        assert_eq!(resp.inner.msg_type(), Some(MessageType::Dhcpv4Response));
        assert_eq!(resp.inner.transaction_id(), query.inner.transaction_id());
        assert_eq!(
            resp.endpoint, query.endpoint,
            "the endpoint goes back unchanged"
        );
        assert_eq!(
            resp.relays, query.relays,
            "one Relay-reply per Relay-forward"
        );
        let v4 = resp
            .dhcpv4_message()
            .expect("one DHCPv4 message in the response");
        assert!(
            Dhcp4Packet::new_checked(v4).is_ok(),
            "DHCPv4 reply does not decode"
        );
        assert!(
            fuzz_reencodes(v4),
            "DHCPv4 reply is not a well-formed message"
        );
        Some(n)
    }

    /// The DHCPv6 side sends on a message from the DHCPv4 side (`raw`, else the DHCPv4
    /// side's response); checks what goes out. The 4o6 sub-options must be gone from a
    /// response the DHCPv4 side wrote (`intact`: not corrupted on the way).
    fn answer6(&mut self, bytes_from_v4: Option<usize>, raw: Option<&[u8]>, intact: bool) {
        let input: &[u8] = match (raw, bytes_from_v4) {
            (Some(r), _) => r,
            (None, Some(n)) => &self.response[..n],
            (None, None) => return,
        };
        let Some(reply) = self.v6.dhcp4_response(input, 546, &mut self.wire) else {
            return;
        };
        assert!(reply.len <= self.wire.len(), "reply longer than its buffer");
        let written = &self.wire[..reply.len];
        assert!(
            Dhcp6Packet::new_checked(written).is_ok(),
            "reply does not decode"
        );
        // Option bodies of a message the DHCPv4 side wrote are passed through as they are
        // (Kea's Dhcp6to4Ipc::handler too): only our own DHCPv4 side's intact responses must
        // re-encode byte for byte.
        if raw.is_none() && intact {
            assert!(
                fuzz_reencodes6(written),
                "reply is not a well-formed message"
            );
            assert!(
                !has_4o6_suboption(written),
                "the ISC 4o6 sub-options went to the client"
            );
        }
    }
}

/// Every codec entry point on raw bytes; the writers' output must parse back.
fn codec(raw: &[u8], v4: &[u8], out: &mut [u8]) {
    let Ok(ipc) = parse_ipc(raw) else {
        let ep = Endpoint4o6 {
            interface: b"eth0",
            address: CLIENT,
            port: 546,
        };
        if let Ok(n) = encode_ipc(raw, &ep, out) {
            let back = parse_ipc(&out[..n]).expect("encode_ipc output parses");
            assert_eq!(back.endpoint, ep);
        }
        return;
    };
    let _ = ipc.dhcpv4_message();
    let _ = ipc.first_relay_interface_id();
    if let Ok(n) = strip_ipc(&ipc, out) {
        assert!(
            Dhcp6Packet::new_checked(&out[..n]).is_ok(),
            "stripped message does not decode"
        );
    }
    if let Ok(n) = encode_response(&ipc, v4, out) {
        let resp = parse_ipc(&out[..n]).expect("encode_response output parses");
        assert_eq!(resp.endpoint, ipc.endpoint);
        assert_eq!(resp.dhcpv4_message(), Ok(v4));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut rig = Rig {
        v6: V6Shard::new(
            Arc::clone(prepared6()),
            SERVER_DUID,
            0,
            1,
            MemorySink::default(),
        ),
        v4: V4Shard::new(Arc::clone(prepared4()), 0, 1, MemorySink::default()),
        now: START,
        ipc: [0; 2048],
        response: [0; 2048],
        scratch: [0; 1500],
        wire: [0; 2048],
    };
    let mut script = Script(data);
    let mut v4 = Vec::with_capacity(600);
    let mut packet = Vec::with_capacity(1024);
    let mut scratch = Vec::with_capacity(1024);
    let mut stripped = [0u8; 2048];
    for _ in 0..32 {
        if script.0.is_empty() {
            break;
        }
        let step = script.byte();
        match step % 8 {
            0 => {
                rig.now += u64::from(script.byte()) * 97;
                rig.v4.on_tick(rig.now);
                rig.v6.on_tick(rig.now);
            }
            1..=4 => {
                let len = usize::from(script.byte()) * 2;
                let raw = script.take(len);
                match step % 8 {
                    1 => {
                        let meta = Meta6 {
                            src: SocketAddrV6::new(addr6(step >> 3), 546, 0, 7),
                            dst: ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
                            ifindex: 7,
                        };
                        if let Dhcp4Query::Forward(n) =
                            rig.v6.forward_dhcp4_query(&meta, raw, &mut rig.ipc)
                        {
                            assert!(
                                parse_ipc(&rig.ipc[..n]).is_ok(),
                                "forwarded query does not parse"
                            );
                            let resp = rig.serve4(n);
                            rig.answer6(resp, None, true);
                        }
                    }
                    2 => {
                        let n = raw.len().min(rig.ipc.len());
                        rig.ipc[..n].copy_from_slice(&raw[..n]);
                        let resp = rig.serve4(n);
                        rig.answer6(resp, None, true);
                    }
                    3 => rig.answer6(None, Some(raw), false),
                    _ => {
                        dhcpv4(&mut script, &mut v4);
                        codec(raw, &v4, &mut stripped);
                    }
                }
            }
            _ => {
                // A DHCPv4-query through the chain: from a client (5, 6) or as an IPC message
                // straight to the DHCPv4 side (7).
                dhcpv4(&mut script, &mut v4);
                let exact = query(&mut script, &v4, &mut packet);
                let depth = (step >> 3) % 4;
                relay(&mut script, &mut packet, depth, &mut scratch);
                let ipc_len = if step % 8 == 7 {
                    let sel = script.byte();
                    let ep = Endpoint4o6 {
                        interface: IFACES[usize::from(sel % 6)],
                        address: addr6(sel >> 3),
                        port: if sel & 0x80 != 0 { 547 } else { 546 },
                    };
                    match encode_ipc(&packet, &ep, &mut rig.ipc) {
                        Ok(n) => n,
                        Err(_) => continue,
                    }
                } else {
                    let sel = script.byte();
                    let src = if depth > 0 { RELAY } else { addr6(sel) };
                    let meta = Meta6 {
                        src: SocketAddrV6::new(src, if depth > 0 { 547 } else { 546 }, 0, 7),
                        dst: ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
                        ifindex: if step % 8 == 5 {
                            7
                        } else {
                            8 + u32::from(sel >> 7)
                        },
                    };
                    let n = match rig.v6.forward_dhcp4_query(&meta, &packet, &mut rig.ipc) {
                        Dhcp4Query::Forward(n) => n,
                        Dhcp4Query::NotAQuery | Dhcp4Query::Dropped => continue,
                    };
                    let ipc = parse_ipc(&rig.ipc[..n]).expect("a forwarded query parses");
                    let iface: &[u8] = if meta.ifindex == 7 { b"eth0" } else { b"eth1" };
                    assert_eq!(ipc.endpoint.interface, iface);
                    assert_eq!(ipc.endpoint.address, src);
                    assert_eq!(ipc.endpoint.port, meta.src.port());
                    if exact {
                        assert_eq!(
                            ipc.dhcpv4_message(),
                            Ok(&v4[..]),
                            "the DHCPv4 message changed"
                        );
                        let m = strip_ipc(&ipc, &mut stripped).expect("a forwarded query strips");
                        assert_eq!(
                            &stripped[..m],
                            &packet[..],
                            "strip_ipc(encode_ipc(q)) is not q"
                        );
                    }
                    n
                };
                corrupt(&mut script, &mut rig.ipc, ipc_len);
                let resp = rig.serve4(ipc_len);
                let intact = !corrupt(&mut script, &mut rig.response, resp.unwrap_or(0));
                rig.answer6(resp, None, intact);
            }
        }
    }
});
