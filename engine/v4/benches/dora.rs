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
    dora(c, "dora_new_client", CONFIG);
}

/// The same DORA with `offer-lifetime` (ARM 9.2.34): the DISCOVER allocates and records a
/// lease for the offer lifetime, the REQUEST extends it (the sink drops the records).
fn bench_dora_offer_lifetime(c: &mut Criterion) {
    let cfg = CONFIG.replace(
        r#""valid-lifetime": 4000,"#,
        r#""valid-lifetime": 4000, "offer-lifetime": 60,"#,
    );
    let loaded = corelease_config::parse_dhcp4_str(&cfg, Path::new(".")).expect("config");
    assert_eq!(loaded.config.subnets[0].offer_lifetime, 60);
    dora(c, "dora_new_client_offer_lifetime", &cfg);
}

/// A new client's DISCOVER + REQUEST through one shard configured by `config`.
fn dora(c: &mut Criterion, name: &str, config: &str) {
    let loaded = corelease_config::parse_dhcp4_str(config, Path::new(".")).expect("config");
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
    g.bench_function(name, |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let b = n.to_be_bytes();
            let mac = [2, 0, b[0], b[1], b[2], b[3]];
            let d = packet(1, mac, None);
            if shard.handle(&meta, &d, 1_700_000_000, &mut out).is_none() {
                return;
            }
            let yiaddr = Ipv4Addr::new(out[16], out[17], out[18], out[19]);
            let q = packet(3, mac, Some(yiaddr));
            criterion::black_box(shard.handle(&meta, &q, 1_700_000_000, &mut out));
        })
    });
    g.finish();
}

/// The same DORA with 10 classes (ARM 16) and 10,000 host reservations (ARM 9.3) configured;
/// the new clients are not reserved, so every packet is classified, looked up and found
/// UNKNOWN. Classes as in benches/classify.rs.
fn bench_dora_classified(c: &mut Criterion) {
    let reservations: Vec<String> = (0..10_000u32)
        .map(|i| {
            format!(
                r#"{{ "hw-address": "02:aa:00:{:02x}:{:02x}:{:02x}", "ip-address": "10.255.{}.{}" }}"#,
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff,
                (i >> 8) & 0xff,
                i & 0xff
            )
        })
        .collect();
    let cfg = CONFIG
        .replace(
            r#""valid-lifetime": 4000,"#,
            &format!(r#""valid-lifetime": 4000, "client-classes": {CLASSES},"#),
        )
        .replace(
            r#""option-data": [ { "name": "routers""#,
            &format!(
                r#""reservations": [ {} ], "option-data": [ {{ "name": "routers""#,
                reservations.join(",")
            ),
        );
    let loaded = corelease_config::parse_dhcp4_str(&cfg, Path::new(".")).expect("config");
    assert!(
        loaded.config.client_classes.len() == 10
            && loaded.config.subnets[0].reservations.len() == 10_000
    );
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
    g.bench_function("dora_new_client_10_classes_10k_hosts", |b| {
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

criterion_group!(
    benches,
    bench_dora,
    bench_dora_offer_lifetime,
    bench_dora_classified
);
criterion_main!(benches);
