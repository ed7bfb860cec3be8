//! Measures how long reading the JSON and loading a large configuration take:
//! `cargo run --release -p corelease-config --example load_time -- 20000`
//! (N subnets, each with two pools and two options, plus one shared network of N/10 subnets).

use std::fmt::Write;
use std::time::Instant;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let mut subnets = String::new();
    let mut shared = String::new();
    for i in 0..n {
        let (a, b) = (10 + (i >> 8) % 200, i & 0xff);
        let entry = format!(
            r#"{{ "id": {id}, "subnet": "{a}.{b}.0.0/24", "pools": [ {{ "pool": "{a}.{b}.0.10 - {a}.{b}.0.99" }}, {{ "pool": "{a}.{b}.0.128/26" }} ],
               "option-data": [ {{ "name": "routers", "data": "{a}.{b}.0.1" }}, {{ "name": "domain-name-servers", "data": "{a}.{b}.0.53, {a}.{b}.0.54" }} ] }}"#,
            id = i + 1
        );
        let list = if i % 10 == 0 {
            &mut shared
        } else {
            &mut subnets
        };
        if !list.is_empty() {
            list.push_str(",\n");
        }
        let _ = write!(list, "{entry}");
    }
    let text = format!(
        r#"{{ "Dhcp4": {{ "valid-lifetime": 4000, "subnet4": [ {subnets} ],
              "shared-networks": [ {{ "name": "big", "subnet4": [ {shared} ] }} ] }} }}"#
    );
    let start = Instant::now();
    let doc = corelease_config::json::parse_document(&text, "gen", std::path::Path::new("."));
    println!(
        "JSON reading alone: {:.1} ms ({})",
        start.elapsed().as_secs_f64() * 1e3,
        if doc.is_ok() { "ok" } else { "failed" }
    );
    let start = Instant::now();
    let loaded = corelease_config::parse_dhcp4_str(&text, std::path::Path::new("."));
    let elapsed = start.elapsed();
    match loaded {
        Ok(l) => println!(
            "{} subnets, {} bytes of JSON: loaded in {:.1} ms ({:.2} us per subnet)",
            l.config.subnets.len(),
            text.len(),
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e6 / f64::from(n.max(1))
        ),
        Err(e) => println!("failed: {e}"),
    }
}
