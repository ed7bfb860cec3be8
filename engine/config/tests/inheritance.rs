//! Each inherited parameter resolves subnet -> shared network -> global -> Kea default.

mod common;
use common::*;
use corelease_config::{Dhcp4Config, Lifetime, Subnet4};
use std::net::Ipv4Addr;

/// Global sets A, a shared network sets B, and three subnets: one inside the network setting
/// C itself, one inside inheriting B, one outside inheriting A.
fn three_levels(key: &str, global: &str, network: &str, own: &str) -> Dhcp4Config {
    config(&format!(
        r#""{key}": {global},
           "subnet4": [{{ "id": 3, "subnet": "10.0.3.0/24" }}],
           "shared-networks": [{{ "name": "net", "{key}": {network}, "subnet4": [
               {{ "id": 1, "subnet": "10.0.1.0/24", "{key}": {own} }},
               {{ "id": 2, "subnet": "10.0.2.0/24" }} ] }}]"#
    ))
}

fn by_id(c: &Dhcp4Config, id: u32) -> &Subnet4 {
    c.subnets.iter().find(|s| s.id.0 == id).unwrap()
}

fn check<T: PartialEq + std::fmt::Debug>(
    key: &str,
    values: (&str, &str, &str),
    get: impl Fn(&Subnet4) -> T,
    expect: (T, T, T),
) {
    let c = three_levels(key, values.0, values.1, values.2);
    assert_eq!(get(by_id(&c, 1)), expect.0, "{key}: own value");
    assert_eq!(
        get(by_id(&c, 2)),
        expect.1,
        "{key}: from the shared network"
    );
    assert_eq!(get(by_id(&c, 3)), expect.2, "{key}: from global");
}

fn fixed(v: u32) -> Lifetime {
    Lifetime {
        min: v,
        default: v,
        max: v,
    }
}

#[test]
fn valid_lifetime_is_inherited() {
    check(
        "valid-lifetime",
        ("1000", "2000", "3000"),
        |s| s.valid_lifetime,
        (fixed(3000), fixed(2000), fixed(1000)),
    );
}

#[test]
fn lifetime_bounds_are_inherited_one_by_one() {
    let c = config(
        r#""min-valid-lifetime": 100, "max-valid-lifetime": 9000,
           "subnet4": [{ "id": 1, "subnet": "10.0.1.0/24", "valid-lifetime": 500 },
                       { "id": 2, "subnet": "10.0.2.0/24" }]"#,
    );
    assert_eq!(
        by_id(&c, 1).valid_lifetime,
        Lifetime {
            min: 100,
            default: 500,
            max: 9000
        }
    );
    assert_eq!(
        by_id(&c, 2).valid_lifetime,
        Lifetime {
            min: 100,
            default: 7200,
            max: 9000
        }
    );
}

#[test]
fn renew_and_rebind_timers_are_inherited() {
    check(
        "renew-timer",
        ("10", "20", "30"),
        |s| s.renew_timer,
        (Some(30), Some(20), Some(10)),
    );
    check(
        "rebind-timer",
        ("100", "200", "300"),
        |s| s.rebind_timer,
        (Some(300), Some(200), Some(100)),
    );
}

#[test]
fn tee_parameters_are_inherited() {
    check(
        "calculate-tee-times",
        ("true", "false", "true"),
        |s| s.calculate_tee_times,
        (true, false, true),
    );
    check(
        "t1-percent",
        ("0.1", "0.2", "0.3"),
        |s| s.t1_percent,
        (0.3, 0.2, 0.1),
    );
    check(
        "t2-percent",
        ("0.6", "0.7", "0.8"),
        |s| s.t2_percent,
        (0.8, 0.7, 0.6),
    );
}

#[test]
fn client_id_and_authority_flags_are_inherited() {
    check(
        "match-client-id",
        ("false", "true", "false"),
        |s| s.match_client_id,
        (false, true, false),
    );
    check(
        "authoritative",
        ("true", "false", "true"),
        |s| s.authoritative,
        (true, false, true),
    );
}

#[test]
fn bootp_fields_are_inherited() {
    let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
    check(
        "next-server",
        ("\"192.0.2.1\"", "\"192.0.2.2\"", "\"192.0.2.3\""),
        |s| s.next_server,
        (ip("192.0.2.3"), ip("192.0.2.2"), ip("192.0.2.1")),
    );
    check(
        "server-hostname",
        ("\"g\"", "\"n\"", "\"s\""),
        |s| s.server_hostname.clone(),
        ("s".to_string(), "n".to_string(), "g".to_string()),
    );
    check(
        "boot-file-name",
        ("\"g.img\"", "\"n.img\"", "\"s.img\""),
        |s| s.boot_file_name.clone(),
        (
            "s.img".to_string(),
            "n.img".to_string(),
            "g.img".to_string(),
        ),
    );
}

#[test]
fn kea_defaults_apply_when_nothing_is_set() {
    let c = config(SUBNET);
    let s = &c.subnets[0];
    assert_eq!(s.valid_lifetime, fixed(7200));
    assert_eq!((s.renew_timer, s.rebind_timer), (None, None));
    assert!(!s.calculate_tee_times);
    assert_eq!((s.t1_percent, s.t2_percent), (0.5, 0.875));
    assert!(s.match_client_id);
    assert!(!s.authoritative);
    assert_eq!(s.next_server, Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        (s.server_hostname.as_str(), s.boot_file_name.as_str()),
        ("", "")
    );
    assert_eq!(c.decline_probation_period, 86400);
    assert!(c.echo_client_id);
    assert!(c.multi_threading.enable);
    assert_eq!(c.multi_threading.thread_pool_size, 0);
    assert_eq!(c.multi_threading.packet_queue_size, 64);
    let e = c.expired_leases_processing;
    assert_eq!(
        [
            e.reclaim_timer_wait_time,
            e.flush_reclaimed_timer_wait_time,
            e.hold_reclaimed_time,
            e.max_reclaim_leases,
            e.max_reclaim_time,
            e.unwarned_reclaim_cycles
        ],
        [10, 25, 3600, 100, 250, 5]
    );
    assert!(c.lease_database.persist);
    assert_eq!(c.lease_database.lfc_interval, 3600);
    assert_eq!(
        c.lease_database.durability,
        corelease_config::Durability::Default
    );
    assert_eq!(c.interfaces.socket_type, corelease_config::SocketType::Raw);
}

#[test]
fn interface_and_relay_come_from_the_shared_network_not_global() {
    let c = config(
        r#""shared-networks": [{ "name": "net", "interface": "eth1",
               "relay": { "ip-addresses": ["192.0.2.254"] },
               "subnet4": [{ "id": 1, "subnet": "10.0.1.0/24" },
                           { "id": 2, "subnet": "10.0.2.0/24", "interface": "eth2",
                             "relay": { "ip-addresses": ["10.0.2.1", "10.0.2.2"] } }] }],
           "subnet4": [{ "id": 3, "subnet": "10.0.3.0/24" }]"#,
    );
    let relay = |s: &Subnet4| {
        s.relay_addresses
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(by_id(&c, 1).interface.as_deref(), Some("eth1"));
    assert_eq!(relay(by_id(&c, 1)), ["192.0.2.254"]);
    assert_eq!(by_id(&c, 2).interface.as_deref(), Some("eth2"));
    assert_eq!(relay(by_id(&c, 2)), ["10.0.2.1", "10.0.2.2"]);
    assert_eq!(by_id(&c, 3).interface, None);
    assert!(by_id(&c, 3).relay_addresses.is_empty());
}

#[test]
fn subnets_are_listed_in_document_order_with_their_shared_network() {
    let c = config(
        r#""shared-networks": [{ "name": "a", "subnet4": [{ "id": 10, "subnet": "10.0.1.0/24" }] },
                               { "name": "b", "subnet4": [{ "id": 11, "subnet": "10.0.2.0/24" },
                                                          { "id": 12, "subnet": "10.0.3.0/24" }] }],
           "subnet4": [{ "id": 1, "subnet": "10.0.4.0/24" }]"#,
    );
    let ids: Vec<u32> = c.subnets.iter().map(|s| s.id.0).collect();
    assert_eq!(ids, [10, 11, 12, 1]);
    assert_eq!(c.shared_networks[1].subnets, [1, 2]);
    assert_eq!(c.subnets[2].shared_network, Some(1));
    assert_eq!(c.subnets[3].shared_network, None);
}

#[test]
fn options_stay_at_their_own_level() {
    let c = config(
        r#""option-data": [{ "name": "routers", "data": "10.0.0.1" }],
           "shared-networks": [{ "name": "n", "option-data": [{ "name": "domain-name", "data": "n.example" }],
               "subnet4": [{ "id": 1, "subnet": "10.0.1.0/24",
                   "option-data": [{ "name": "domain-name-servers", "data": "10.0.1.53" }],
                   "pools": [{ "pool": "10.0.1.10-10.0.1.20", "pool-id": 5,
                               "option-data": [{ "name": "ntp-servers", "data": "10.0.1.123" }] }] }] }]"#,
    );
    assert_eq!(&*c.global_options.get(3).unwrap().data, &[10, 0, 0, 1]);
    assert_eq!(
        &*c.shared_networks[0].options.get(15).unwrap().data,
        b"n.example"
    );
    let s = &c.subnets[0];
    assert_eq!(&*s.options.get(6).unwrap().data, &[10, 0, 1, 53]);
    assert!(s.options.get(3).is_none());
    assert_eq!(s.pools[0].pool_id.0, 5);
    assert_eq!(&*s.pools[0].options.get(42).unwrap().data, &[10, 0, 1, 123]);
}

#[test]
fn logger_defaults_and_case_insensitive_severity() {
    let c = config(
        r#""loggers": [{ "name": "kea-dhcp4", "severity": "debug", "debuglevel": 55 },
                                  { "name": "kea-dhcp4.leases" }]"#,
    );
    assert_eq!(c.loggers[0].severity, "DEBUG");
    assert_eq!(c.loggers[0].debuglevel, 55);
    assert_eq!(c.loggers[1].severity, "INFO");
    assert_eq!(c.loggers[1].outputs, ["stdout"]);
}

#[test]
fn reservations_are_parsed_with_their_identifiers_and_options() {
    use corelease_config::{HostIdentifierType as T, Reservation4};
    let c = config(
        r#""reservations": [{ "client-id": "01:aa:bb", "hostname": "g1" }],
           "reservations-out-of-pool": true,
           "subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "reservations-in-subnet": false, "reservations": [
              { "hw-address": "AA:bb:cc:dd:ee:ff", "ip-address": "192.0.2.5", "hostname": "h1",
                "next-server": "192.0.2.1", "boot-file-name": "pxe.0",
                "option-data": [{ "name": "routers", "data": "192.0.2.1" }] },
              { "circuit-id": "'port1'" },
              { "flex-id": "0x0102" } ] }]"#,
    );
    let g: &Reservation4 = &c.reservations[0];
    assert_eq!(
        (g.identifier.kind, &g.identifier.bytes[..]),
        (T::ClientId, &[1, 0xaa, 0xbb][..])
    );
    let r = &c.subnets[0].reservations;
    assert_eq!(r[0].identifier.kind, T::HwAddress);
    assert_eq!(r[0].identifier.bytes, [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    assert_eq!(r[0].ip_address, Some("192.0.2.5".parse().unwrap()));
    assert_eq!(r[0].hostname.as_deref(), Some("h1"));
    assert_eq!(r[0].next_server, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(r[0].boot_file_name.as_deref(), Some("pxe.0"));
    assert_eq!(&*r[0].options.get(3).unwrap().data, &[192, 0, 2, 1]);
    assert_eq!(
        (r[1].identifier.kind, &r[1].identifier.bytes[..]),
        (T::CircuitId, &b"port1"[..])
    );
    assert_eq!(r[2].identifier.bytes, [1, 2]);
    let s = &c.subnets[0];
    assert_eq!(
        (
            s.reservations_global,
            s.reservations_in_subnet,
            s.reservations_out_of_pool
        ),
        (false, false, true)
    );
    assert_eq!(
        c.host_reservation_identifiers,
        [T::HwAddress, T::Duid, T::CircuitId, T::ClientId]
    );
    assert!(c.ip_reservations_unique);
}

#[test]
fn control_sockets_and_run_script_hooks_are_supported() {
    use corelease_config::ControlSocketType;
    let loaded = load(
        r#""control-sockets": [{ "socket-type": "unix", "socket-name": "kea4-ctrl-socket" },
                               { "socket-type": "http", "socket-address": "::1", "socket-port": 8004,
                                 "http-headers": [{ "name": "X-A", "value": "1" }] }],
           "hooks-libraries": [{ "library": "/usr/lib/kea/hooks/libdhcp_run_script.so",
                                 "parameters": { "name": "/bin/true", "sync": false } }]"#,
    )
    .unwrap();
    let c = &loaded.config;
    assert_eq!(c.control_sockets.len(), 2);
    assert_eq!(c.control_sockets[0].socket_type, ControlSocketType::Unix);
    assert_eq!(
        c.control_sockets[0].socket_name.as_deref(),
        Some("kea4-ctrl-socket")
    );
    assert_eq!(c.control_sockets[1].socket_address.to_string(), "::1");
    assert_eq!(c.control_sockets[1].socket_port, 8004);
    assert_eq!(
        c.control_sockets[1].http_headers,
        [("X-A".to_string(), "1".to_string())]
    );
    assert_eq!(
        c.hooks_libraries[0].library,
        std::path::Path::new("/usr/lib/kea/hooks/libdhcp_run_script.so")
    );
    assert_eq!(
        c.hooks_libraries[0].parameters.as_ref().unwrap()["sync"],
        false
    );
    // Control sockets are served (engine/control), the run-script hook by engine/hooks.
    assert!(loaded.unsupported.is_empty(), "{:?}", loaded.unsupported);
}

#[test]
fn allocation_and_caching_parameters_are_inherited() {
    use corelease_config::Allocator;
    check(
        "allocator",
        ("\"random\"", "\"flq\"", "\"iterative\""),
        |s| s.allocator,
        (
            Allocator::Iterative,
            Allocator::FreeLeaseQueue,
            Allocator::Random,
        ),
    );
    check(
        "offer-lifetime",
        ("60", "90", "120"),
        |s| s.offer_lifetime,
        (120, 90, 60),
    );
    check(
        "cache-threshold",
        ("0.1", "0.2", "0.3"),
        |s| s.cache_threshold,
        (0.3, 0.2, 0.1),
    );
    check(
        "cache-max-age",
        ("10", "20", "30"),
        |s| s.cache_max_age,
        (Some(30), Some(20), Some(10)),
    );
    check(
        "store-extended-info",
        ("true", "false", "true"),
        |s| s.store_extended_info,
        (true, false, true),
    );
    let c = config(SUBNET);
    let s = &c.subnets[0];
    assert_eq!(
        (
            s.allocator,
            s.offer_lifetime,
            s.cache_threshold,
            s.cache_max_age
        ),
        (Allocator::Iterative, 0, 0.25, None)
    );
    assert_eq!(c.other.lease_checks, "warn");
    assert_eq!(c.other.statistic_default_sample_count, 20);
}

#[test]
fn client_classes_are_parsed_with_their_own_definitions() {
    let c = config(
        r#""client-classes": [
             { "name": "pxe", "test": "option[93].hex == 0x0007", "next-server": "10.0.0.1",
               "boot-file-name": "ipxe.efi", "valid-lifetime": 600, "only-if-required": true,
               "option-def": [{ "name": "priv", "code": 224, "type": "uint16" }],
               "option-data": [{ "name": "priv", "data": "513" }, { "name": "tftp-server-name", "data": "tftp" }] }]"#,
    );
    let pxe = &c.client_classes[0];
    assert_eq!(pxe.name, "pxe");
    assert_eq!(pxe.test.as_deref(), Some("option[93].hex == 0x0007"));
    assert!(pxe.only_in_additional_list);
    assert_eq!(pxe.next_server, Some("10.0.0.1".parse().unwrap()));
    assert_eq!(pxe.boot_file_name.as_deref(), Some("ipxe.efi"));
    assert_eq!(pxe.valid_lifetime, Some(fixed(600)));
    assert_eq!(&*pxe.options.get(224).unwrap().data, &[2, 1]);
    assert_eq!(&*pxe.options.get(66).unwrap().data, b"tftp");
    assert_eq!(pxe.option_defs[0].name, "priv");
    // Class-local definitions stay local.
    assert!(c.option_defs.is_empty());
}
