//! Hot-path cost of the codec: indexing a typical DHCPv4 REQUEST and writing a typical ACK;
//! reading a relayed DHCPv6 REQUEST down to its IA_NA and writing the relayed REPLY.
//!
//! Run: `cargo bench -p corelease-wire --bench codec`

use corelease_wire::v4::{opt, Dhcp4Packet, Dhcp4Writer, OptionIndex, BOOTREPLY, BOOTREQUEST};
use corelease_wire::v6::{self, Dhcp6Packet, Dhcp6Writer, Ia, IaAddr};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;

const CHADDR: [u8; 6] = [0x00, 0x16, 0x3e, 0x12, 0x34, 0x56];

/// A REQUEST as a Linux dhclient sends it through a relay (RAI with circuit and remote id).
fn typical_request(buf: &mut [u8]) -> usize {
    let Ok(mut w) = Dhcp4Writer::new(buf, 1500) else {
        return 0;
    };
    w.set_op(BOOTREQUEST);
    w.set_htype(1);
    w.set_hlen(6);
    w.set_hops(1);
    w.set_xid(0x1234_5678);
    w.set_giaddr(Ipv4Addr::new(10, 0, 0, 1));
    w.set_chaddr(&CHADDR);
    let options: [(u8, &[u8]); 8] = [
        (opt::MESSAGE_TYPE, &[3]),
        (opt::CLIENT_ID, &[1, 0x00, 0x16, 0x3e, 0x12, 0x34, 0x56]),
        (opt::REQUESTED_ADDRESS, &[10, 0, 0, 50]),
        (opt::SERVER_ID, &[10, 0, 0, 1]),
        (opt::MAX_MESSAGE_SIZE, &[2, 64]),
        (opt::HOST_NAME, b"client-host-01"),
        (
            opt::PARAMETER_REQUEST_LIST,
            &[1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42],
        ),
        (
            opt::RELAY_AGENT_INFO,
            &[
                1, 6, b'e', b't', b'h', b'0', b'/', b'1', 2, 4, 0xde, 0xad, 0xbe, 0xef,
            ],
        ),
    ];
    for (code, data) in options {
        if w.option(code, data).is_err() {
            return 0;
        }
    }
    w.finish().unwrap_or(0)
}

/// An ACK as the v4 logic would write it: header, nine options, RAI echoed last.
fn write_ack(buf: &mut [u8], prl_rai: &[u8]) -> usize {
    let Ok(mut w) = Dhcp4Writer::new(buf, 1500) else {
        return 0;
    };
    w.set_op(BOOTREPLY);
    w.set_htype(1);
    w.set_hlen(6);
    w.set_hops(1);
    w.set_xid(0x1234_5678);
    w.set_yiaddr(Ipv4Addr::new(10, 0, 0, 50));
    w.set_giaddr(Ipv4Addr::new(10, 0, 0, 1));
    w.set_chaddr(&CHADDR);
    let _ = w.option(opt::MESSAGE_TYPE, &[5]);
    let _ = w.option_ipv4(opt::SERVER_ID, Ipv4Addr::new(10, 0, 0, 1));
    let _ = w.option_u32(opt::LEASE_TIME, 4000);
    let _ = w.option_u32(opt::RENEWAL_TIME, 2000);
    let _ = w.option_u32(opt::REBINDING_TIME, 3500);
    let _ = w.option_ipv4(opt::SUBNET_MASK, Ipv4Addr::new(255, 255, 255, 0));
    let _ = w.option(opt::ROUTERS, &[10, 0, 0, 1]);
    let _ = w.option(opt::DOMAIN_NAME_SERVERS, &[10, 0, 0, 2, 10, 0, 0, 3]);
    let _ = w.option(opt::DOMAIN_NAME, b"example.org");
    let _ = w.option(opt::RELAY_AGENT_INFO, prl_rai);
    w.finish().unwrap_or(0)
}

fn bench_codec(c: &mut Criterion) {
    let mut request = [0u8; 1500];
    let len = typical_request(&mut request);
    let request = &request[..len];
    let mut index = OptionIndex::new();

    c.bench_function("v4_parse_request_header_and_options", |b| {
        b.iter(|| {
            let Ok(packet) = Dhcp4Packet::new_checked(black_box(request)) else {
                return 0;
            };
            let _ = index.parse(&packet);
            let mut sum = u32::from(packet.xid() as u8);
            sum += u32::from(index.message_type().map(|t| t.as_u8()).unwrap_or(0));
            sum += index.client_id().map(|c| c.len() as u32).unwrap_or(0);
            sum += index.requested_address().map(u32::from).unwrap_or(0) & 1;
            sum
        })
    });

    let rai: [u8; 14] = [
        1, 6, b'e', b't', b'h', b'0', b'/', b'1', 2, 4, 0xde, 0xad, 0xbe, 0xef,
    ];
    let mut out = [0u8; 1500];
    c.bench_function("v4_write_typical_ack", |b| {
        b.iter(|| write_ack(black_box(&mut out), black_box(&rai)))
    });
}

const LINK: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const PEER: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x216, 0x3eff, 0xfe01, 0x203);
const ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x42);
const DUID: [u8; 14] = [0, 1, 0, 1, 0x2a, 0x3b, 0x4c, 0x5d, 0, 0x16, 0x3e, 1, 2, 3];

/// A REQUEST relayed once, as a typical access router forwards it.
fn relayed_request(buf: &mut [u8]) -> usize {
    let Ok(mut w) = Dhcp6Writer::new_relay(buf, 12, 0, LINK, PEER) else {
        return 0;
    };
    let _ = w.option(v6::opt::INTERFACE_ID, b"ge-0/0/1.100");
    let _ = w.begin_relayed_message(3, 0x00ab_cdef);
    let _ = w.option(v6::opt::CLIENTID, &DUID);
    let _ = w.option(v6::opt::SERVERID, &DUID);
    let _ = w.option(v6::opt::ELAPSED_TIME, &[0, 0]);
    let _ = w.option(v6::opt::ORO, &[0, 23, 0, 24]);
    let _ = w.begin_ia_na(1, 0, 0);
    let _ = w.ia_addr(ADDR, 0, 0);
    let _ = w.end();
    let _ = w.end();
    w.finish().unwrap_or(0)
}

fn bench_codec6(c: &mut Criterion) {
    let mut request = [0u8; 1500];
    let len = relayed_request(&mut request);
    let request = &request[..len];

    c.bench_function("v6_read_relayed_request_to_ia_na", |b| {
        b.iter(|| {
            let Ok(outer) = Dhcp6Packet::new_checked(black_box(request)) else {
                return 0;
            };
            let Ok((inner, relays)) = outer.innermost() else {
                return 0;
            };
            if inner.validate().is_err() {
                return 0;
            }
            let duid_len = inner.option(v6::opt::CLIENTID).map_or(0, <[u8]>::len);
            let iaid = inner
                .option(v6::opt::IA_NA)
                .and_then(|d| Ia::parse(v6::opt::IA_NA, d).ok())
                .map_or(0, |ia| {
                    ia.iaid
                        + ia.options()
                            .find(v6::opt::IAADDR)
                            .and_then(|a| IaAddr::parse(a).ok())
                            .map_or(0, |a| a.valid)
                });
            relays
                + duid_len
                + iaid as usize
                + outer.option(v6::opt::INTERFACE_ID).map_or(0, <[u8]>::len)
        })
    });

    let mut out = [0u8; 1500];
    c.bench_function("v6_write_relayed_reply", |b| {
        b.iter(|| {
            let Ok(mut w) = Dhcp6Writer::new_relay(black_box(&mut out), 13, 0, LINK, PEER) else {
                return 0;
            };
            let _ = w.option(v6::opt::INTERFACE_ID, b"ge-0/0/1.100");
            let _ = w.begin_relayed_message(7, 0x00ab_cdef);
            let _ = w.option(v6::opt::CLIENTID, &DUID);
            let _ = w.option(v6::opt::SERVERID, &DUID);
            let _ = w.begin_ia_na(1, 1800, 2880);
            let _ = w.ia_addr(ADDR, 3600, 7200);
            let _ = w.end();
            let _ = w.option(v6::opt::DNS_SERVERS, &LINK.octets());
            let _ = w.end();
            w.finish().unwrap_or(0)
        })
    });
}

criterion_group!(benches, bench_codec, bench_codec6);
criterion_main!(benches);
