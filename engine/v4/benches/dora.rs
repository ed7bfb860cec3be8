//! One whole DORA (DISCOVER -> OFFER, REQUEST -> ACK) through the sans-IO core, with the lease
//! table and bitmap of a /16 pool, and a memory sink that drops records (the log has its own
//! benches). Run: `cargo bench -p corelease-v4 --bench dora`.

use corelease_storage::NullSink;
use corelease_v4::{InterfaceInfo, Meta4, Ports, Prepared4, V4Shard};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::Arc;

const CONFIG: &str = r#"{ "Dhcp4": { "valid-lifetime": 4000,
    "option-data": [ { "name": "domain-name-servers", "data": "10.0.0.53" } ],
    "subnet4": [ { "id": 1, "subnet": "10.0.0.0/8", "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "pools": [ { "pool": "10.1.0.0 - 10.254.255.255" } ],
        "option-data": [ { "name": "routers", "data": "10.0.0.1" } ] } ] } }"#;

fn packet(kind: u8, mac: [u8; 6], requested: Option<Ipv4Addr>) -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]).to_be_bytes());
    p[24..28].copy_from_slice(&[127, 0, 0, 1]);
    p[28..34].copy_from_slice(&mac);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(&[53, 1, kind]);
    if let Some(r) = requested {
        p.extend_from_slice(&[50, 4]);
        p.extend_from_slice(&r.octets());
        p.extend_from_slice(&[54, 4, 127, 0, 0, 1]);
    }
    p.extend_from_slice(&[55, 4, 1, 3, 6, 15, 255]);
    p
}

fn bench_dora(c: &mut Criterion) {
    let loaded = corelease_config::parse_dhcp4_str(CONFIG, Path::new(".")).expect("config");
    let prepared = Arc::new(Prepared4::new(
        &loaded.config,
        Vec::<InterfaceInfo>::new(),
        Ports::default(),
    ));
    let mut shard = V4Shard::new(prepared, 0, 1, NullSink);
    let meta = Meta4 {
        src: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 67),
        dst: Ipv4Addr::LOCALHOST,
        ifindex: 1,
        local: Ipv4Addr::LOCALHOST,
    };
    let mut out = [0u8; 1500];
    let mut n: u32 = 0;
    let mut g = c.benchmark_group("v4");
    g.throughput(Throughput::Elements(1));
    g.bench_function("dora_new_client", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let b = n.to_be_bytes();
            let mac = [2, 0, b[0], b[1], b[2], b[3]];
            let d = packet(1, mac, None);
            let Some(r) = shard.handle(&meta, &d, 1_700_000_000, &mut out) else {
                return;
            };
            let yiaddr = Ipv4Addr::new(out[16], out[17], out[18], out[19]);
            let _ = r;
            let q = packet(3, mac, Some(yiaddr));
            criterion::black_box(shard.handle(&meta, &q, 1_700_000_000, &mut out));
        })
    });
    g.finish();
}

criterion_group!(benches, bench_dora);
criterion_main!(benches);
