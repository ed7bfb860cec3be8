//! Subnet selection alone (ARM 9.2), through [`V4Shard::selected_subnet`]: packet and option
//! parsing plus the choice, no reply, no lease. Scenarios: one subnet; 1,000 subnets, the
//! relay's giaddr named in the last one's `relay.ip-addresses`; 1,000 subnets, giaddr inside
//! the last one (no relay addresses: Kea falls back to the subnet containing giaddr); a shared
//! network of 100 subnets, giaddr in its last one.
//! Run: `cargo bench -p corelease-v4 --bench select`.

use corelease_storage::NullSink;
use corelease_types::SubnetId;
use corelease_v4::{InterfaceInfo, Meta4, Ports, Prepared4, V4Shard};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::Arc;

/// `n` subnets 10.x.y.0/24 (x.y from the index), each with a pool; `relay` gives subnet i the
/// relay address 192.168.x.y; `network` puts them all in one shared network.
fn config(n: u32, relay: bool, network: bool) -> String {
    let subnets: Vec<String> = (0..n)
        .map(|i| {
            let (x, y) = (i / 256, i % 256);
            let relay = if relay {
                format!(r#""relay": {{ "ip-addresses": [ "192.168.{x}.{y}" ] }},"#)
            } else {
                String::new()
            };
            format!(
                r#"{{ "id": {}, "subnet": "10.{x}.{y}.0/24", {relay}
                   "pools": [ {{ "pool": "10.{x}.{y}.10 - 10.{x}.{y}.250" }} ] }}"#,
                i + 1
            )
        })
        .collect();
    let subnets = subnets.join(",");
    if network {
        format!(
            r#"{{ "Dhcp4": {{ "shared-networks": [ {{ "name": "net", "subnet4": [ {subnets} ] }} ] }} }}"#
        )
    } else {
        format!(r#"{{ "Dhcp4": {{ "subnet4": [ {subnets} ] }} }}"#)
    }
}

fn shard(json: &str) -> V4Shard<NullSink> {
    let loaded = corelease_config::parse_dhcp4_str(json, Path::new(".")).expect("bench config");
    let prepared = Arc::new(Prepared4::new(
        &loaded.config,
        Vec::<InterfaceInfo>::new(),
        Ports::default(),
    ));
    V4Shard::new(prepared, 0, 1, NullSink)
}

/// A relayed DISCOVER with the usual parameter request list.
fn discover(giaddr: Ipv4Addr) -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[24..28].copy_from_slice(&giaddr.octets());
    p[28..34].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(&[53, 1, 1, 55, 4, 1, 3, 6, 15, 255]);
    p
}

fn bench_select(c: &mut Criterion) {
    let meta = Meta4 {
        src: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 67),
        dst: Ipv4Addr::LOCALHOST,
        ifindex: 1,
        local: Ipv4Addr::LOCALHOST,
    };
    // Subnet 1,000 is 10.3.231.0/24 (index 999 = 3 * 256 + 231).
    let last_of_1000: (u8, u8) = (3, 231);
    let cases = [
        (
            "1-subnet-giaddr-relay",
            config(1, true, false),
            Ipv4Addr::new(192, 168, 0, 0),
            1,
        ),
        (
            "1000-subnets-giaddr-relay-last",
            config(1000, true, false),
            Ipv4Addr::new(192, 168, last_of_1000.0, last_of_1000.1),
            1000,
        ),
        (
            "1000-subnets-giaddr-inside-last",
            config(1000, false, false),
            Ipv4Addr::new(10, last_of_1000.0, last_of_1000.1, 1),
            1000,
        ),
        (
            "shared-network-100-giaddr-inside-last",
            config(100, false, true),
            Ipv4Addr::new(10, 0, 99, 1),
            100,
        ),
    ];
    let mut g = c.benchmark_group("v4-select-subnet");
    g.throughput(Throughput::Elements(1));
    for (name, json, giaddr, expect) in cases {
        let mut s = shard(&json);
        let pkt = discover(giaddr);
        assert_eq!(
            s.selected_subnet(&meta, &pkt),
            Some(SubnetId(expect)),
            "{name} selects the wrong subnet"
        );
        g.bench_function(name, |b| {
            b.iter(|| criterion::black_box(s.selected_subnet(&meta, criterion::black_box(&pkt))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_select);
criterion_main!(benches);
