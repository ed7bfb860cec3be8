use crate::model6::*;
use crate::{parse_dhcp6_str, ConfigError, Loaded};
use corelease_types::{PoolId, SubnetId};
use std::net::Ipv6Addr;
use std::path::Path;

fn load(text: &str) -> Result<Loaded<Dhcp6Config>, ConfigError> {
    parse_dhcp6_str(text, Path::new("."))
}

fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.issues.iter().map(|i| i.to_string()).collect(),
    }
}

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)
}

const FULL: &str = r#"{ "Dhcp6": {
    // Kea dialect: comments and all
    "interfaces-config": { "interfaces": [ "eth0", "eth1/2001:db8::1" ] },
    "preferred-lifetime": 3000, "valid-lifetime": 4000,
    "renew-timer": 1000, "rebind-timer": 2000,
    "rapid-commit": true,
    "server-id": { "type": "EN", "identifier": "0102", "enterprise-id": 2495 },
    "option-data": [ { "name": "dns-servers", "data": "2001:db8::53" },
                     { "code": 24, "data": "example.com" } ],
    "subnet6": [ {
        "id": 7, "subnet": "2001:db8:1::/64", "interface": "eth0", "rapid-commit": false,
        "pools": [ { "pool": "2001:db8:1::10 - 2001:db8:1::ff" }, { "pool": "2001:db8:1::1:0/112" } ],
        "pd-pools": [ { "prefix": "2001:db8:8000::", "prefix-len": 48, "delegated-len": 56,
                        "excluded-prefix": "2001:db8:8000:ff::", "excluded-prefix-len": 64 } ],
        "option-data": [ { "name": "dns-servers", "data": "2001:db8:1::53" } ]
    } ],
    "shared-networks": [ { "name": "net", "interface-id": "ethx",
        "relay": { "ip-addresses": [ "2001:db8:2::1" ] }, "preferred-lifetime": 100,
        "subnet6": [ { "subnet": "2001:db8:2::/64", "pools": [ { "pool": "2001:db8:2::/120" } ] } ] } ]
} }"#;

#[test]
fn full_dhcp6_config_resolves_inheritance_pools_and_pd_pools() {
    let loaded = load(FULL).map_err(|e| e.to_string());
    let cfg = match loaded {
        Ok(l) => l.config,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(cfg.subnets.len(), 2);
    let s = &cfg.subnets[0];
    assert_eq!(s.id, SubnetId(7));
    assert_eq!((s.prefix, s.prefix_len), (a("2001:db8:1::"), 64));
    assert!(!s.rapid_commit, "subnet overrides the global rapid-commit");
    assert_eq!(s.preferred.default, 3000);
    assert_eq!(s.valid.default, 4000);
    assert_eq!((s.renew_timer, s.rebind_timer), (Some(1000), Some(2000)));
    assert_eq!(s.pools[1].first, a("2001:db8:1::1:0"));
    assert_eq!(s.pools[1].last, a("2001:db8:1::1:ffff"));
    assert_eq!(s.pools[1].pool_id, PoolId(1));
    let pd = &s.pd_pools[0];
    assert_eq!(
        (pd.prefix, pd.prefix_len, pd.delegated_len),
        (a("2001:db8:8000::"), 48, 56)
    );
    assert_eq!(pd.excluded_prefix, Some((a("2001:db8:8000:ff::"), 64)));
    // Subnet's dns-servers first, global domain-search inherited.
    assert_eq!(s.options.get(23).map(|o| o.data.len()), Some(16));
    assert_eq!(s.options.get(23).map(|o| o.data[15]), Some(0x53));
    assert_eq!(
        s.options.get(24).map(|o| o.data.to_vec()),
        Some(b"\x07example\x03com\x00".to_vec())
    );
    let t = &cfg.subnets[1];
    assert_eq!(
        t.id,
        SubnetId(8),
        "no id: numbered after the highest configured one"
    );
    assert_eq!(t.interface_id.as_deref(), Some(&b"ethx"[..]));
    assert_eq!(t.relay_addresses, vec![a("2001:db8:2::1")]);
    assert!(t.rapid_commit, "inherits the global rapid-commit");
    assert_eq!(t.preferred.default, 100);
    assert_eq!(t.shared_network, Some(0));
    assert_eq!(cfg.shared_networks[0].subnets, vec![1]);
    assert_eq!(cfg.interfaces.interfaces[1].unicast, Some(a("2001:db8::1")));
    assert_eq!(cfg.server_id.duid_type, DuidType::En);
    assert_eq!(
        cfg.server_id.configured_duid(),
        Some(vec![0, 2, 0, 0, 0x09, 0xbf, 1, 2])
    );
}

#[test]
fn defaults_follow_kea_dhcp6() {
    let cfg = load(r#"{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8::/64"}]}}"#)
        .map(|l| l.config)
        .map_err(|e| e.to_string());
    let Ok(cfg) = cfg else { panic!("{cfg:?}") };
    let s = &cfg.subnets[0];
    assert_eq!(s.preferred.default, 3600);
    assert_eq!(s.valid.default, 7200);
    assert!(s.calculate_tee_times);
    assert_eq!((s.t1_percent, s.t2_percent), (0.5, 0.8));
    assert!(!s.rapid_commit);
    assert_eq!(cfg.decline_probation_period, 86400);
    assert_eq!(cfg.server_id.duid_type, DuidType::Llt);
    assert!(cfg.server_id.persist);
}

#[test]
fn pool_outside_subnet_and_bad_pd_lengths_are_reported_with_paths() {
    let errs = errors(
        r#"{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8::/64",
            "pools": [{"pool": "2001:db9::1 - 2001:db9::2"}],
            "pd-pools": [{"prefix": "3000::", "prefix-len": 56, "delegated-len": 48},
                         {"prefix": "3001::", "prefix-len": 48, "delegated-len": 56,
                          "excluded-prefix": "3001::", "excluded-prefix-len": 56}]}]}}"#,
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("Dhcp6.subnet6[0].pools[0].pool:")
                && e.contains("outside subnet")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("Dhcp6.subnet6[0].pd-pools[0].delegated-len:")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("Dhcp6.subnet6[0].pd-pools[1].excluded-prefix-len:")),
        "{errs:?}"
    );
}

#[test]
fn unknown_keys_are_errors_and_unimplemented_keys_are_named() {
    let errs = errors(r#"{"Dhcp6": {"subnet6": [], "bogus": 1}}"#);
    assert_eq!(errs, vec!["Dhcp6.bogus: unknown key".to_string()]);
    let loaded = load(r#"{"Dhcp6": {"reservations": [{"duid": "01:02"}], "subnet4": []}}"#);
    assert!(loaded.is_err(), "subnet4 is not a Dhcp6 key");
    let loaded =
        load(r#"{"Dhcp6": {"client-classes": [{"name": "a"}]}}"#).map_err(|e| e.to_string());
    let Ok(loaded) = loaded else {
        panic!("{loaded:?}")
    };
    assert_eq!(loaded.unsupported.len(), 1);
    assert_eq!(loaded.unsupported[0].path, "Dhcp6.client-classes");
}

#[test]
fn server_managed_and_unknown_options_are_refused() {
    let errs = errors(
        r#"{"Dhcp6": {"option-data": [{"code": 3, "data": "00", "csv-format": false}, {"name": "no-such"}]}}"#,
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("Dhcp6.option-data[0].code:")
                && e.contains("managed by the server")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("Dhcp6.option-data[1].name:")),
        "{errs:?}"
    );
}

#[test]
fn duplicate_subnet_ids_and_prefixes_are_errors() {
    let errs = errors(
        r#"{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8::/64"}, {"id": 1, "subnet": "2001:db8::/64"}]}}"#,
    );
    assert!(
        errs.iter().any(|e| e.starts_with("Dhcp6.subnet6[1].id:")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("Dhcp6.subnet6[1].subnet:")),
        "{errs:?}"
    );
}

#[test]
fn lifetime_bounds_and_interface_with_interface_id_are_errors() {
    let errs = errors(r#"{"Dhcp6": {"preferred-lifetime": 10, "min-preferred-lifetime": 20}}"#);
    assert_eq!(
        errs,
        vec!["Dhcp6.preferred-lifetime: min-preferred-lifetime (20) is greater than max-preferred-lifetime (10)".to_string()]
    );
    let errs = errors(
        r#"{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8::/64", "interface": "eth0", "interface-id": "x"}]}}"#,
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("Dhcp6.subnet6[0].interface-id:")),
        "{errs:?}"
    );
}

#[test]
fn configured_llt_duid_is_type_one_with_time() {
    let id = ServerIdConfig {
        identifier: Some(vec![0xaa, 0xbb]),
        time: Some(0x01020304),
        ..ServerIdConfig::default()
    };
    assert_eq!(
        id.configured_duid(),
        Some(vec![0, 1, 0, 1, 1, 2, 3, 4, 0xaa, 0xbb])
    );
    let no_time = ServerIdConfig {
        identifier: Some(vec![1]),
        ..ServerIdConfig::default()
    };
    assert_eq!(
        no_time.configured_duid(),
        None,
        "the runtime supplies the time"
    );
}

#[test]
fn generated_llt_duid_counts_seconds_from_2000_and_keeps_configured_parts() {
    let id = ServerIdConfig::default();
    let duid = id.generate_duid(&[2, 0, 0, 0, 0, 9], DUID_TIME_EPOCH + 0x0102_0304);
    assert_eq!(duid, vec![0, 1, 0, 1, 1, 2, 3, 4, 2, 0, 0, 0, 0, 9]);
    let ll = ServerIdConfig {
        duid_type: DuidType::Ll,
        identifier: Some(vec![0xaa]),
        ..ServerIdConfig::default()
    };
    assert_eq!(ll.generate_duid(&[1, 2], 0), vec![0, 3, 0, 1, 0xaa]);
}
