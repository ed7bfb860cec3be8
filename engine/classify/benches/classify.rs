//! Issue 8 budget: classification of one packet against 10 classes (plus reservations,
//! measured elsewhere) under 200 ns. Here: 10 typical class tests evaluated against one parsed
//! DHCPv4 REQUEST through `V4Context`, one shared `Scratch`.

use corelease_classify::{compile, Program, Scratch, V4Context};
use corelease_wire::v4::{opt, Dhcp4Packet, Dhcp4Writer, OptionIndex};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::net::Ipv4Addr;

const CLASS_TESTS: &[&str] = &[
    "substring(option[60].hex, 0, 9) == 'PXEClient'",
    "option[vendor-class-identifier].text == 'MSFT 5.0'",
    "substring(option[61].hex, 0, 3) == 0x01aabb",
    "relay4[2].hex == 0x1234",
    "pkt4.giaddr == 10.0.0.1",
    "option[93].hex == 0x0007",
    "member('gold') and not member('blocked')",
    "substring(hexstring(pkt4.mac, ':'), 0, 8) == 'AA:BB:CC'",
    "option[77].exists or option[12].text == 'printer'",
    "vendor[4491].option[1].hex == 'docsis3.0'",
];

fn request(buf: &mut [u8]) -> usize {
    let Ok(mut w) = Dhcp4Writer::new(buf, 1500) else {
        return 0;
    };
    w.set_op(1);
    w.set_htype(1);
    w.set_hlen(6);
    w.set_xid(42);
    w.set_giaddr(Ipv4Addr::new(10, 0, 0, 1));
    w.set_chaddr(&[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    let _ = w.option(opt::MESSAGE_TYPE, &[3]);
    let _ = w.option(opt::CLIENT_ID, &[1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    let _ = w.option(opt::PARAMETER_REQUEST_LIST, &[1, 3, 6, 15, 119]);
    let _ = w.option(60, b"PXEClient:Arch:00007:UNDI:003016");
    let _ = w.option(93, &[0, 7]);
    let _ = w.option(12, b"host-17");
    let _ = w.option(82, &[1, 4, b'p', b'o', b'r', b't', 2, 2, 0x12, 0x34]);
    w.finish().unwrap_or(0)
}

fn classify_packet(c: &mut Criterion) {
    let programs: Vec<Program> = CLASS_TESTS.iter().filter_map(|t| compile(t).ok()).collect();
    assert_eq!(
        programs.len(),
        CLASS_TESTS.len(),
        "every class test compiles"
    );
    let mut buf = [0u8; 1500];
    let len = request(&mut buf);
    let Ok(pkt) = Dhcp4Packet::new_checked(&buf[..len]) else {
        panic!("bench packet rejected");
    };
    let mut index = OptionIndex::new();
    assert!(index.parse(&pkt).is_ok());
    let classes = vec!["gold"];
    let mut ctx = V4Context::new(&pkt, &index);
    ctx.classes = &classes;
    let mut scratch = Scratch::new();
    let matched = programs
        .iter()
        .filter(|p| p.eval_bool(&ctx, &mut scratch))
        .count();
    // PXEClient, client-id prefix, relay4[2], giaddr, option 93, member, mac prefix.
    assert_eq!(
        matched, 7,
        "bench packet must exercise matching and non-matching tests"
    );

    c.bench_function("classify_10_tests_one_v4_packet", |b| {
        b.iter(|| {
            let mut mask = 0u32;
            for (i, p) in programs.iter().enumerate() {
                if p.eval_bool(black_box(&ctx), &mut scratch) {
                    mask |= 1 << i;
                }
            }
            black_box(mask)
        })
    });
}

criterion_group!(benches, classify_packet);
criterion_main!(benches);
