//! Classification with 10 classes plus the host lookup in a 10,000-reservation table, on one
//! DHCPv4 packet inside the v4 engine (`V4Shard::classify`: parsing, ARM 16.1.1 steps 1-10,
//! subnet selection with guards), against the same packet with no classes and no hosts.
//! The issue's goal: classes + reservation lookup under 200 ns per packet.
//! Run: `nice -n 19 cargo bench -p corelease-v4 --bench classify`.

use corelease_storage::NullSink;
use corelease_v4::{InterfaceInfo, Meta4, Ports, Prepared4, V4Shard};
use criterion::{criterion_group, criterion_main, Criterion};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::Arc;

/// Ten class tests of the kinds ARM chapter 16 shows (the classify crate's bench set, with a
/// KNOWN-dependent one in place of relay4).
const CLASSES: &str = r#"[
    { "name": "pxe", "test": "substring(option[60].hex, 0, 9) == 'PXEClient'",
      "option-data": [ { "name": "domain-name-servers", "data": "10.0.0.9" } ] },
    { "name": "msft", "test": "option[vendor-class-identifier].text == 'MSFT 5.0'" },
    { "name": "cid", "test": "substring(option[61].hex, 0, 3) == 0x01aabb" },
    { "name": "relayed", "test": "pkt4.giaddr == 127.0.0.1" },
    { "name": "arch", "test": "option[93].hex == 0x0007" },
    { "name": "gold", "test": "member('pxe') and not member('msft')" },
    { "name": "mac", "test": "substring(hexstring(pkt4.mac, ':'), 0, 8) == 'AA:BB:CC'" },
    { "name": "printer", "test": "option[77].exists or option[12].text == 'printer'" },
    { "name": "docsis", "test": "vendor[4491].option[1].hex == 'docsis3.0'" },
    { "name": "known", "test": "member('KNOWN')", "valid-lifetime": 3000 }
]"#;

fn config(classes: bool, hosts: usize) -> String {
    let reservations: Vec<String> = (0..hosts)
        .map(|i| {
            format!(
                r#"{{ "hw-address": "02:00:00:{:02x}:{:02x}:{:02x}", "ip-address": "10.{}.{}.{}" }}"#,
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff,
                255,
                (i >> 8) & 0xff,
                i & 0xff
            )
        })
        .collect();
    format!(
        r#"{{ "Dhcp4": {{ "valid-lifetime": 4000, "client-classes": {},
        "subnet4": [ {{ "id": 1, "subnet": "10.0.0.0/8", "relay": {{ "ip-addresses": [ "127.0.0.1" ] }},
            "pools": [ {{ "pool": "10.1.0.0 - 10.254.255.255" }} ],
            "reservations": [ {} ] }} ] }} }}"#,
        if classes { CLASSES } else { "[]" },
        reservations.join(",")
    )
}

pub fn shard(cfg: &str) -> V4Shard<NullSink> {
    let loaded = corelease_config::parse_dhcp4_str(cfg, Path::new(".")).expect("config");
    assert!(loaded.unsupported.is_empty(), "{:?}", loaded.unsupported);
    let prepared = Arc::new(Prepared4::new(
        &loaded.config,
        Vec::<InterfaceInfo>::new(),
        Ports::default(),
    ));
    V4Shard::new(prepared, 0, 1, NullSink)
}

/// A relayed DISCOVER with a vendor class, client id, PRL and hostname, from `mac`.
fn packet(mac: [u8; 6]) -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[24..28].copy_from_slice(&[127, 0, 0, 1]);
    p[28..34].copy_from_slice(&mac);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(&[53, 1, 1]);
    p.extend_from_slice(&[61, 7, 1]);
    p.extend_from_slice(&mac);
    p.push(60);
    p.push(32);
    p.extend_from_slice(b"PXEClient:Arch:00007:UNDI:003016");
    p.extend_from_slice(&[93, 2, 0, 7]);
    p.extend_from_slice(&[12, 7]);
    p.extend_from_slice(b"host-17");
    p.extend_from_slice(&[55, 4, 1, 3, 6, 15, 255]);
    p
}

fn bench(c: &mut Criterion) {
    let meta = Meta4 {
        src: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 67),
        dst: Ipv4Addr::LOCALHOST,
        ifindex: 1,
        local: Ipv4Addr::LOCALHOST,
    };
    let known = packet([2, 0, 0, 0, 0x12, 0x34]);
    let unknown = packet([2, 0xee, 0, 0x12, 0x34, 0x56]);
    let mut plain = shard(&config(false, 0));
    let mut full = shard(&config(true, 10_000));
    let r = full.classify(&meta, &known).expect("classified");
    assert!(r.known && !r.dropped && r.subnet.is_some(), "{r:?}");
    let r = full.classify(&meta, &unknown).expect("classified");
    assert!(!r.known, "{r:?}");
    let mut g = c.benchmark_group("v4_classify");
    g.bench_function("parse_and_select_no_classes_no_hosts", |b| {
        b.iter(|| criterion::black_box(plain.classify(&meta, &known)))
    });
    g.bench_function("10_classes_10k_hosts_known_client", |b| {
        b.iter(|| criterion::black_box(full.classify(&meta, &known)))
    });
    g.bench_function("10_classes_10k_hosts_unknown_client", |b| {
        b.iter(|| criterion::black_box(full.classify(&meta, &unknown)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
