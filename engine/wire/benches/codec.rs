//! Hot-path cost of the DHCPv4 codec: indexing a typical REQUEST and writing a typical ACK.
//!
//! Run: `CARGO_TARGET_DIR=/work/targets/wire cargo bench -p corelease-wire --bench codec`

use corelease_wire::v4::{opt, Dhcp4Packet, Dhcp4Writer, OptionIndex, BOOTREPLY, BOOTREQUEST};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::net::Ipv4Addr;

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

criterion_group!(benches, bench_codec);
criterion_main!(benches);
