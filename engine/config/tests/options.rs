//! option-data and option-def end to end: lookup by name and code, custom definitions,
//! encapsulated spaces, flags, and the whole standard table.

mod common;
use common::*;
use corelease_config::{OptionType, STD_V4_OPTION_DEFS};

#[test]
fn option_by_name_and_by_code_encode_alike() {
    let c = config(
        r#""option-data": [{ "name": "domain-name-servers", "data": "192.0.2.1, 192.0.2.2" },
                           { "code": 42, "data": "192.0.2.3" },
                           { "name": "domain-search", "data": "example.com, example.org" }]"#,
    );
    let o = &c.global_options;
    assert_eq!(&*o.get(6).unwrap().data, &[192, 0, 2, 1, 192, 0, 2, 2]);
    assert_eq!(&*o.get(42).unwrap().data, &[192, 0, 2, 3]);
    assert_eq!(
        &*o.get(119).unwrap().data,
        b"\x07example\x03com\x00\x07example\x03org\x00"
    );
    assert_eq!(o.get(6).unwrap().space, "dhcp4");
}

#[test]
fn hex_data_for_a_standard_option() {
    let c = config(
        r#""option-data": [{ "name": "routers", "data": "C0 00 02 01", "csv-format": false }]"#,
    );
    assert_eq!(&*c.global_options.get(3).unwrap().data, &[192, 0, 2, 1]);
}

#[test]
fn always_send_and_never_send_flags_are_kept() {
    let c = config(
        r#""option-data": [{ "name": "ntp-servers", "data": "192.0.2.3", "always-send": true },
                           { "name": "routers", "data": "192.0.2.1", "never-send": true }]"#,
    );
    let ntp = c.global_options.get(42).unwrap();
    assert!(ntp.always_send && !ntp.never_send);
    let routers = c.global_options.get(3).unwrap();
    assert!(!routers.always_send && routers.never_send);
}

#[test]
fn custom_definition_is_used_by_name_and_code() {
    let c = config(
        r#""option-def": [{ "name": "foo", "code": 222, "type": "uint32" },
                          { "name": "bar", "code": 223, "type": "record", "array": true,
                            "record-types": "ipv4-address, uint16" }],
           "option-data": [{ "name": "foo", "data": "12345" },
                           { "code": 223, "data": "192.0.2.1, 1, 2, 3" }]"#,
    );
    assert_eq!(
        &*c.global_options.get(222).unwrap().data,
        &12345u32.to_be_bytes()
    );
    assert_eq!(
        &*c.global_options.get(223).unwrap().data,
        &[192, 0, 2, 1, 0, 1, 0, 2, 0, 3]
    );
    assert_eq!(c.option_defs.len(), 2);
    assert_eq!(
        c.option_defs[1].record_types,
        [OptionType::Ipv4Address, OptionType::Uint16]
    );
}

#[test]
fn container_option_carries_sub_options_of_its_space() {
    // ARM 9.2.15 "Nested DHCPv4 Options".
    let c = config(
        r#""option-def": [{ "name": "subopt1", "code": 1, "space": "isc", "type": "ipv4-address" },
                          { "name": "subopt2", "code": 2, "space": "isc", "type": "string" },
                          { "name": "container", "code": 222, "type": "empty", "encapsulate": "isc" }],
           "option-data": [{ "name": "subopt1", "space": "isc", "data": "192.0.2.3" },
                           { "name": "subopt2", "space": "isc", "data": "Hello world" },
                           { "name": "container" }]"#,
    );
    let mut expected = vec![1, 4, 192, 0, 2, 3, 2, 11];
    expected.extend_from_slice(b"Hello world");
    assert_eq!(&*c.global_options.get(222).unwrap().data, &expected[..]);
    // The sub-options stay in the set, in their own space.
    assert_eq!(
        &*c.global_options.get_in_space("isc", 1).unwrap().data,
        &[192, 0, 2, 3]
    );
    assert_eq!(c.global_options.top_level().count(), 1);
}

#[test]
fn vendor_encapsulated_options_carry_their_space() {
    // ARM 9.2.14: option 43 with sub-option foo in vendor-encapsulated-options-space.
    let c = config(
        r#""option-def": [{ "name": "foo", "code": 1, "space": "vendor-encapsulated-options-space",
                            "type": "record", "record-types": "ipv4-address, uint16, string" }],
           "option-data": [{ "name": "foo", "space": "vendor-encapsulated-options-space",
                             "data": "192.0.2.3, 123, Hello World" },
                           { "name": "vendor-encapsulated-options" }]"#,
    );
    let mut expected = vec![1, 17, 192, 0, 2, 3, 0, 123];
    expected.extend_from_slice(b"Hello World");
    assert_eq!(&*c.global_options.get(43).unwrap().data, &expected[..]);
}

#[test]
fn vivso_carries_enterprise_length_and_vendor_space_sub_options() {
    // RFC 3925 section 4; ARM 9.2.14 (vendor 2234, option "tag").
    let c = config(
        r#""option-def": [{ "name": "tag", "code": 22, "space": "vendor-2234", "type": "string" }],
           "option-data": [{ "name": "vivso-suboptions", "data": "2234" },
                           { "name": "tag", "space": "vendor-2234", "data": "tagged", "always-send": true }]"#,
    );
    let mut expected = vec![0, 0, 0x08, 0xba, 8, 22, 6];
    expected.extend_from_slice(b"tagged");
    assert_eq!(&*c.global_options.get(125).unwrap().data, &expected[..]);
}

#[test]
fn docsis_standard_vendor_space_is_known() {
    let c = config(
        r#""option-data": [{ "name": "vivso-suboptions", "data": "4491" },
                           { "name": "tftp-servers", "space": "vendor-4491", "data": "10.0.0.1" }]"#,
    );
    assert_eq!(
        &*c.global_options.get(125).unwrap().data,
        &[0, 0, 0x11, 0x8b, 6, 2, 4, 10, 0, 0, 1]
    );
}

#[test]
fn cablelabs_client_conf_uses_its_standard_space() {
    let c = config(
        r#""option-data": [{ "name": "cablelabs-client-conf" },
                           { "name": "tsp-primary-server", "space": "cablelabs-client-conf", "data": "10.1.1.1" },
                           { "name": "tsp-realm", "space": "cablelabs-client-conf", "data": "a.b" }]"#,
    );
    assert_eq!(
        &*c.global_options.get(122).unwrap().data,
        &[1, 4, 10, 1, 1, 1, 6, 5, 1, b'a', 1, b'b', 0]
    );
}

#[test]
fn long_options_are_kept_whole_for_rfc3396_splitting() {
    let long = "x".repeat(300);
    let c = config(&format!(
        r#""option-data": [{{ "name": "root-path", "data": "{long}" }}]"#
    ));
    assert_eq!(c.global_options.get(17).unwrap().data.len(), 300);
}

#[test]
fn string_with_escaped_comma_keeps_the_comma() {
    // ARM 9.2.10: "foo\\,bar" in JSON is the string foo,bar.
    let c = config(r#""option-data": [{ "name": "boot-file-name", "data": "foo\\,bar" }]"#);
    assert_eq!(&*c.global_options.get(67).unwrap().data, b"foo,bar");
}

#[test]
fn classless_static_routes_in_arm_format() {
    let c = config(
        r#""option-data": [{ "name": "classless-static-route",
                             "data": "10.229.0.128/25 - 10.229.0.1, 10.27.129.0/24 - 10.229.0.2" }]"#,
    );
    assert_eq!(
        &*c.global_options.get(121).unwrap().data,
        &[25, 10, 229, 0, 128, 10, 229, 0, 1, 24, 10, 27, 129, 10, 229, 0, 2]
    );
}

fn sample_value(ty: OptionType) -> &'static str {
    match ty {
        OptionType::Empty => "",
        OptionType::Binary => "0102",
        OptionType::Boolean => "true",
        OptionType::Int8 | OptionType::Int16 | OptionType::Int32 => "-1",
        OptionType::Uint8 | OptionType::Uint16 | OptionType::Uint32 => "1",
        OptionType::Ipv4Address => "192.0.2.1",
        OptionType::Ipv6Address => "2001:db8::1",
        OptionType::Ipv6Prefix => "2001:db8::/32",
        OptionType::Psid => "1/4",
        OptionType::String => "text",
        OptionType::Fqdn => "example.org",
        OptionType::Tuple => "uri",
        OptionType::Record => "",
        OptionType::Internal => "10.0.0.0/8 - 10.0.0.1",
    }
}

#[test]
fn every_standard_option_accepts_a_value_of_its_type() {
    for def in STD_V4_OPTION_DEFS {
        let data = if def.option_type == OptionType::Record {
            def.record_types
                .iter()
                .map(|t| sample_value(*t))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            sample_value(def.option_type).to_string()
        };
        let body = format!(
            r#""option-data": [{{ "name": "{}", "data": "{data}" }}]"#,
            def.name
        );
        let c = match load(&body) {
            Ok(l) => l.config,
            Err(e) => panic!("{} ({}) rejected sample {data:?}: {e}", def.name, def.code),
        };
        assert!(c.global_options.get(def.code).is_some(), "{}", def.name);
    }
}

#[test]
fn global_definition_replaces_the_last_resort_one_of_option_43() {
    // ARM 9.2.13: a global option-def for code 43 takes precedence over the built-in one.
    let c = config(
        r#""option-def": [{ "name": "vendor-encapsulated-options", "code": 43, "type": "empty", "encapsulate": "APC" },
                          { "name": "cookie", "code": 1, "space": "APC", "type": "string" }],
           "option-data": [{ "name": "cookie", "space": "APC", "data": "1APC" },
                           { "name": "vendor-encapsulated-options" }]"#,
    );
    assert_eq!(&*c.global_options.get(43).unwrap().data, b"\x01\x041APC");
    let raw = config(
        r#""option-def": [{ "name": "vendor-encapsulated-options", "code": 43, "type": "binary" }],
           "option-data": [{ "name": "vendor-encapsulated-options", "data": "0102" }]"#,
    );
    assert_eq!(&*raw.global_options.get(43).unwrap().data, &[1, 2]);
}
