//! One whole Solicit -> Advertise, Request -> Reply exchange for a new client through the
//! sans-IO core, with the lease table and bitmap of a 2^24-address pool, and a sink that drops
//! records (the lease log has its own benches).
//! Run: `cargo bench -p corelease-v6 --bench exchange6`.

use corelease_storage::NullSink;
use corelease_v6::{Interface6Info, Meta6, Prepared6, V6Shard};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const CONFIG: &str = r#"{ "Dhcp6": { "preferred-lifetime": 3000, "valid-lifetime": 4000,
    "option-data": [ { "name": "dns-servers", "data": "2001:db8::53" } ],
    "subnet6": [ { "id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
        "pools": [ { "pool": "2001:db8:1::/104" } ] } ] } }"#;

const SERVER_DUID: [u8; 10] = [0, 3, 0, 1, 2, 0, 0, 0, 0, 1];

/// A client message: type, xid, client-id (DUID-LL with a counter as MAC), optional server-id,
/// elapsed time, one IA_NA and an ORO asking for DNS servers.
fn message(kind: u8, n: u32, server_id: bool) -> Vec<u8> {
    let x = n.to_be_bytes();
    let mut p = vec![kind, x[1], x[2], x[3]];
    p.extend_from_slice(&[0, 1, 0, 10, 0, 3, 0, 1, 2, 0, x[0], x[1], x[2], x[3]]);
    if server_id {
        p.extend_from_slice(&[0, 2, 0, 10]);
        p.extend_from_slice(&SERVER_DUID);
    }
    p.extend_from_slice(&[0, 8, 0, 2, 0, 0]);
    p.extend_from_slice(&[0, 3, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    p.extend_from_slice(&[0, 6, 0, 2, 0, 23]);
    p
}

fn bench_exchange(c: &mut Criterion) {
    let loaded = match corelease_config::parse_dhcp6_str(CONFIG, Path::new(".")) {
        Ok(l) => l,
        Err(e) => panic!("bench config: {e}"),
    };
    let ifaces = vec![Interface6Info {
        ifindex: 1,
        name: "eth0".into(),
        hwtype: 1,
    }];
    let prepared = Arc::new(Prepared6::new(&loaded.config, ifaces));
    let mut shard = V6Shard::new(prepared, &SERVER_DUID, 0, 1, NullSink);
    let meta = Meta6 {
        src: SocketAddrV6::new(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2), 546, 0, 1),
        dst: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2),
        ifindex: 1,
    };
    let mut out = [0u8; 1500];
    let mut n: u32 = 0;
    let mut g = c.benchmark_group("v6");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("solicit_request_new_client", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let sol = message(1, n, false);
            let adv = shard.handle(&meta, &sol, 1_700_000_000, &mut out);
            assert!(adv.is_some());
            let req = message(3, n, true);
            let rep = shard.handle(&meta, &req, 1_700_000_000, &mut out);
            assert!(rep.is_some());
        })
    });
    g.finish();
}

criterion_group!(benches, bench_exchange);
criterion_main!(benches);
