//! One test per validation rule, asserting the exact path and message.

mod common;
use common::*;
use corelease_config::parse_dhcp4_str;

fn top_level_errors(text: &str) -> Vec<String> {
    match parse_dhcp4_str(text, &data_dir()) {
        Ok(_) => panic!("should be rejected: {text}"),
        Err(e) => e.issues.iter().map(|i| i.to_string()).collect(),
    }
}

#[test]
fn missing_dhcp4_is_an_error() {
    assert_eq!(
        top_level_errors(r#"{"Dhcp6": {}}"#),
        ["Dhcp4: missing: the configuration has no Dhcp4 map"]
    );
}

#[test]
fn other_kea_daemons_maps_are_ignored() {
    let text = r#"{"Dhcp4": {}, "Dhcp6": {"x": 1}, "Control-agent": {}, "DhcpDdns": {},
                   "Netconf": {}, "Logging": {}}"#;
    assert!(parse_dhcp4_str(text, &data_dir()).is_ok());
}

#[test]
fn unknown_top_level_key_is_an_error() {
    assert_eq!(
        top_level_errors(r#"{"Dhcp4": {}, "Dhcp5": {}}"#),
        ["Dhcp5: unknown key"]
    );
}

#[test]
fn config_get_hash_next_to_dhcp4_is_accepted_and_must_be_a_string() {
    // Kea 2.4+ config-get output (ARM 19.4.3) fed back as a config.
    let text = r#"{"Dhcp4": {}, "hash": "5C3C90EF7035249E2FF74D003C19F34EE0B83A3D329E741B52B2EF95A2C9CC5C"}"#;
    assert!(parse_dhcp4_str(text, &data_dir()).is_ok());
    assert_eq!(
        top_level_errors(r#"{"Dhcp4": {}, "hash": 5}"#),
        ["hash: expected a string, found integer"]
    );
}

#[test]
fn document_must_be_a_map() {
    assert_eq!(
        top_level_errors("[1]"),
        ["(document): expected a map holding \"Dhcp4\", found list"]
    );
}

#[test]
fn dhcp4_must_be_a_map() {
    assert_eq!(
        top_level_errors(r#"{"Dhcp4": 5}"#),
        ["Dhcp4: expected a map, found integer"]
    );
}

#[test]
fn key_kea_does_not_know_is_an_error() {
    assert_error(r#""valid-lifetim": 10"#, "Dhcp4.valid-lifetim: unknown key");
}

#[test]
fn unknown_key_deep_inside_names_its_path() {
    assert_error(
        r#""shared-networks": [{ "name": "a", "subnet4": [
              { "id": 1, "subnet": "192.0.2.0/24", "pools": [{ "pool": "192.0.2.1-192.0.2.9", "bogus": 1 }] }
           ]}]"#,
        "Dhcp4.shared-networks[0].subnet4[0].pools[0].bogus: unknown key",
    );
}

#[test]
fn keys_kea_knows_but_we_do_not_implement_are_listed_not_ignored() {
    let loaded = load(
        r#""dhcp-ddns": { "enable-updates": true }, "subnet4": [{ "id": 1, "subnet": "192.0.2.0/24",
             "reservations": [{ "hw-address": "01:02:03:04:05:06" }],
             "pools": [{ "pool": "192.0.2.1-192.0.2.9", "client-class": "x" }] }],
            "lease-database": { "type": "memfile", "lfc-interval": 10, "host": "db" }"#,
    )
    .unwrap();
    let lines: Vec<String> = loaded.unsupported.iter().map(|i| i.to_string()).collect();
    assert_eq!(
        lines,
        [
            "Dhcp4.dhcp-ddns: not supported yet",
            "Dhcp4.lease-database.host: not supported yet",
        ]
    );
}

#[test]
fn wrong_json_types_name_the_expected_type() {
    assert_error(
        r#""valid-lifetime": "7200""#,
        "Dhcp4.valid-lifetime: expected an integer, found string",
    );
    assert_error(
        r#""authoritative": "yes""#,
        "Dhcp4.authoritative: expected a boolean, found string",
    );
    assert_error(
        r#""server-hostname": 5"#,
        "Dhcp4.server-hostname: expected a string, found integer",
    );
    assert_error(
        r#""subnet4": {}"#,
        "Dhcp4.subnet4: expected a list, found map",
    );
    assert_error(
        r#""interfaces-config": []"#,
        "Dhcp4.interfaces-config: expected a map, found list",
    );
    assert_error(
        r#""subnet4": [3]"#,
        "Dhcp4.subnet4[0]: expected a map, found integer",
    );
}

#[test]
fn real_valued_keys_need_a_decimal_point_like_keas_grammar() {
    assert_error(
        r#""t1-percent": 1"#,
        "Dhcp4.t1-percent: expected a real number with a decimal point (e.g. 0.5), found integer",
    );
}

#[test]
fn integers_out_of_u32_range_are_rejected() {
    assert_error(
        r#""valid-lifetime": -1"#,
        "Dhcp4.valid-lifetime: -1 is out of range 0..4294967295",
    );
    assert_error(
        r#""decline-probation-period": 4294967296"#,
        "Dhcp4.decline-probation-period: 4294967296 is out of range 0..4294967295",
    );
}

#[test]
fn comment_must_be_a_string_and_user_context_a_map() {
    assert_error(
        r#""comment": 1"#,
        "Dhcp4.comment: expected a string, found integer",
    );
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "user-context": "x" }]"#,
        "Dhcp4.subnet4[0].user-context: expected a map, found string",
    );
}

#[test]
fn pool_outside_its_subnet_is_rejected() {
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24",
                         "pools": [{ "pool": "192.0.3.20 - 192.0.3.30" }] }]"#,
        "Dhcp4.subnet4[0].pools[0].pool: 192.0.3.20 is outside subnet 192.0.2.0/24",
    );
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24",
                         "pools": [{ "pool": "192.0.2.250 - 192.0.3.3" }] }]"#,
        "Dhcp4.subnet4[0].pools[0].pool: 192.0.3.3 is outside subnet 192.0.2.0/24",
    );
}

#[test]
fn overlapping_pools_in_one_subnet_are_rejected() {
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24",
             "pools": [{ "pool": "192.0.2.10-192.0.2.20" }, { "pool": "192.0.2.15/32" }] }]"#,
        "Dhcp4.subnet4[0].pools[1].pool: 192.0.2.15-192.0.2.15 overlaps pools[0] (192.0.2.10-192.0.2.20)",
    );
}

#[test]
fn same_pool_in_two_subnets_is_allowed() {
    // ARM 9.2.8: overlapping pools in different subnets are allowed.
    config(
        r#""subnet4": [
             { "id": 1, "subnet": "10.0.0.0/8", "pools": [{ "pool": "10.0.0.10-10.0.0.20" }] },
             { "id": 2, "subnet": "10.0.0.0/16", "pools": [{ "pool": "10.0.0.10-10.0.0.20" }] }]"#,
    );
}

#[test]
fn reversed_pool_range_is_rejected() {
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "pools": [{ "pool": "192.0.2.20-192.0.2.10" }] }]"#,
        "Dhcp4.subnet4[0].pools[0].pool: range start 192.0.2.20 is greater than range end 192.0.2.10",
    );
}

#[test]
fn malformed_pools_are_rejected() {
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "pools": [{ "pool": "192.0.2.20" }] }]"#,
        "Dhcp4.subnet4[0].pools[0].pool: '192.0.2.20' is neither a range (first - last) nor a prefix (address/length)",
    );
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "pools": [{ "pool": "192.0.2.1 - 192.0.2.300" }] }]"#,
        "Dhcp4.subnet4[0].pools[0].pool: range end '192.0.2.300' is not an IPv4 address",
    );
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "pools": [{ }] }]"#,
        "Dhcp4.subnet4[0].pools[0]: mandatory 'pool' parameter is missing",
    );
}

#[test]
fn subnet_id_is_mandatory_as_in_kea_3() {
    assert_error(
        r#""subnet4": [{ "subnet": "192.0.2.0/24" }]"#,
        "Dhcp4.subnet4[0]: mandatory 'id' parameter is missing for subnet 192.0.2.0/24",
    );
}

#[test]
fn subnet_id_must_be_in_range() {
    assert_error(
        r#""subnet4": [{ "id": 0, "subnet": "192.0.2.0/24" }]"#,
        "Dhcp4.subnet4[0].id: 0 is out of range 1..4294967294",
    );
    assert_error(
        r#""subnet4": [{ "id": 4294967295, "subnet": "192.0.2.0/24" }]"#,
        "Dhcp4.subnet4[0].id: 4294967295 is out of range 1..4294967294",
    );
}

#[test]
fn subnet_ids_are_unique_across_shared_networks() {
    assert_error(
        r#""subnet4": [{ "id": 7, "subnet": "192.0.2.0/24" }],
           "shared-networks": [{ "name": "n", "subnet4": [{ "id": 7, "subnet": "192.0.3.0/24" }] }]"#,
        "Dhcp4.shared-networks[0].subnet4[0].id: subnet id 7 is already used by Dhcp4.subnet4[0]",
    );
}

#[test]
fn subnet_prefixes_are_unique() {
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24" }, { "id": 2, "subnet": "192.0.2.0/24" }]"#,
        "Dhcp4.subnet4[1].subnet: subnet 192.0.2.0/24 is already defined at Dhcp4.subnet4[0]",
    );
}

#[test]
fn non_canonical_prefix_is_accepted_and_normalised() {
    // ARM 9.2.7: Kea accepts 192.0.2.1/24 and compares only the text for duplicates.
    let c = config(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.1/24" }, { "id": 2, "subnet": "192.0.2.0/24" }]"#,
    );
    assert_eq!(
        c.subnets[0].prefix,
        "192.0.2.0".parse::<std::net::Ipv4Addr>().unwrap()
    );
}

#[test]
fn bad_subnet_prefixes_are_rejected() {
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "10.0.0.0/33" }]"#,
        "Dhcp4.subnet4[0].subnet: prefix length 33 in '10.0.0.0/33' is out of range 0..32",
    );
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "10.0.0.0" }]"#,
        "Dhcp4.subnet4[0].subnet: '10.0.0.0' is not a valid IPv4 prefix (expected address/length)",
    );
    assert_error(
        r#""subnet4": [{ "id": 1 }]"#,
        "Dhcp4.subnet4[0]: mandatory 'subnet' parameter is missing",
    );
}

#[test]
fn lifetime_bounds_must_hold_min_default_max() {
    assert_error(
        r#""valid-lifetime": 100, "min-valid-lifetime": 200"#,
        "Dhcp4.valid-lifetime: valid-lifetime (100) is less than min-valid-lifetime (200)",
    );
    assert_error(
        r#""valid-lifetime": 300, "max-valid-lifetime": 200"#,
        "Dhcp4.valid-lifetime: valid-lifetime (300) is greater than max-valid-lifetime (200)",
    );
    assert_error(
        r#""valid-lifetime": 300, "min-valid-lifetime": 400, "max-valid-lifetime": 200"#,
        "Dhcp4.valid-lifetime: min-valid-lifetime (400) is greater than max-valid-lifetime (200)",
    );
}

#[test]
fn lifetime_bounds_without_default_below_a_global_default_are_rejected_where_set() {
    // The subnet sets min and max; the default (7200) is inherited from the global level.
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "min-valid-lifetime": 10, "max-valid-lifetime": 20 }]"#,
        "Dhcp4.subnet4[0].valid-lifetime: valid-lifetime (7200) is greater than max-valid-lifetime (20)",
    );
}

#[test]
fn renew_timer_above_rebind_timer_is_rejected() {
    assert_error(
        r#""renew-timer": 100, "rebind-timer": 50"#,
        "Dhcp4.renew-timer: renew-timer (100) is greater than rebind-timer (50)",
    );
    // Reported once, where set, even though every subnet inherits it.
    assert_error(
        &format!(r#""renew-timer": 100, "rebind-timer": 50, {SUBNET}"#),
        "Dhcp4.renew-timer: renew-timer (100) is greater than rebind-timer (50)",
    );
    // A subnet that only sets its lifetime does not repeat the global error.
    assert_error(
        r#""renew-timer": 100, "rebind-timer": 50, "subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "valid-lifetime": 500 }]"#,
        "Dhcp4.renew-timer: renew-timer (100) is greater than rebind-timer (50)",
    );
    assert_error(
        r#""rebind-timer": 50, "subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "renew-timer": 60 }]"#,
        "Dhcp4.subnet4[0].renew-timer: renew-timer (60) is greater than rebind-timer (50)",
    );
}

#[test]
fn rebind_timer_not_below_valid_lifetime_is_a_warning_as_kea_accepts_it() {
    let loaded = load(r#""valid-lifetime": 100, "rebind-timer": 200"#).unwrap();
    let lines: Vec<String> = loaded.warnings.iter().map(|i| i.to_string()).collect();
    assert_eq!(
        lines,
        ["Dhcp4.rebind-timer: rebind-timer (200) is not less than valid-lifetime (100); T2 (option 59) will not be sent"]
    );
}

#[test]
fn tee_percents_are_checked_when_calculated() {
    assert_error(
        r#""calculate-tee-times": true, "t1-percent": 0.9, "t2-percent": 0.5"#,
        "Dhcp4.t1-percent: 0.9 is invalid, it must be less than t2-percent (0.5)",
    );
    assert_error(
        r#""calculate-tee-times": true, "t2-percent": 1.5"#,
        "Dhcp4.t2-percent: 1.5 is invalid, it must be greater than 0.0 and less than 1.0",
    );
    // Not calculated: Kea does not look at them.
    config(r#""t1-percent": 0.9, "t2-percent": 0.5"#);
}

#[test]
fn thread_pool_and_queue_sizes_are_bounded_like_kea() {
    assert_error(
        r#""multi-threading": { "thread-pool-size": 100000 }"#,
        "Dhcp4.multi-threading.thread-pool-size: 100000 is out of range 0..65535",
    );
    assert_error(
        r#""multi-threading": { "packet-queue-size": -1 }"#,
        "Dhcp4.multi-threading.packet-queue-size: -1 is out of range 0..65535",
    );
}

#[test]
fn unknown_option_name_is_rejected() {
    assert_error(
        r#""option-data": [{ "name": "domain-name-server", "data": "192.0.2.1" }]"#,
        "Dhcp4.option-data[0].name: unknown option 'domain-name-server' in space 'dhcp4' (no standard or option-def definition)",
    );
}

#[test]
fn option_name_and_code_must_agree() {
    assert_error(
        r#""option-data": [{ "name": "routers", "code": 4, "data": "192.0.2.1" }]"#,
        "Dhcp4.option-data[0].name: option name 'routers' does not match the definition of code 4: 'dhcp4.time-servers'",
    );
}

#[test]
fn option_data_must_fit_its_definition() {
    assert_error(
        r#""option-data": [{ "name": "default-ip-ttl", "data": "256" }]"#,
        "Dhcp4.option-data[0].data: '256' is out of range: expected 0..255",
    );
    assert_error(
        r#""option-data": [{ "name": "domain-name", "data": "" }]"#,
        "Dhcp4.option-data[0].data: no option value specified",
    );
    assert_error(
        r#""option-data": [{ "name": "swap-server", "data": "010203", "csv-format": false }]"#,
        "Dhcp4.option-data[0].data: 3 bytes do not form a valid 'swap-server' option of type ipv4-address",
    );
}

#[test]
fn option_without_definition_needs_hex_data() {
    assert_error(
        r#""option-data": [{ "code": 222, "data": "0102" }]"#,
        "Dhcp4.option-data[0].data: option code 222 in space 'dhcp4' has no definition; give its data as hex with \"csv-format\": false, or define it in option-def",
    );
    let c = config(r#""option-data": [{ "code": 222, "data": "0102", "csv-format": false }]"#);
    assert_eq!(&*c.global_options.get(222).unwrap().data, &[1, 2]);
}

#[test]
fn pad_and_end_codes_cannot_be_configured() {
    assert_error(
        r#""option-data": [{ "code": 255, "data": "", "csv-format": false }]"#,
        "Dhcp4.option-data[0].code: option code 255 is reserved for END",
    );
}

#[test]
fn option_needs_name_or_code() {
    assert_error(
        r#""option-data": [{ "data": "1" }]"#,
        "Dhcp4.option-data[0]: option data needs a 'name' or a 'code'",
    );
}

#[test]
fn standard_options_cannot_be_redefined() {
    assert_error(
        r#""option-def": [{ "name": "my", "code": 3, "type": "uint8" }]"#,
        "Dhcp4.option-def[0].code: unable to override definition of option '3' in standard option space 'dhcp4'",
    );
}

#[test]
fn option_def_shape_rules_match_kea() {
    assert_error(
        r#""option-def": [{ "name": "my", "code": 224, "type": "string", "array": true }]"#,
        "Dhcp4.option-def[0].array: array of string is not a valid option definition",
    );
    assert_error(
        r#""option-def": [{ "name": "my", "code": 224, "type": "record", "record-types": "string, uint8" }]"#,
        "Dhcp4.option-def[0].record-types: string data field can't be laid before data fields of other types",
    );
    assert_error(
        r#""option-def": [{ "name": "my", "code": 224, "type": "record" }]"#,
        "Dhcp4.option-def[0].record-types: a record option needs its field types in record-types",
    );
    assert_error(
        r#""option-def": [{ "name": "my", "code": 224, "type": "uint9" }]"#,
        "Dhcp4.option-def[0].type: 'uint9' is not an option data type",
    );
    assert_error(
        r#""option-def": [{ "name": "my", "code": 224, "type": "uint8", "record-types": "uint8" }]"#,
        "Dhcp4.option-def[0].record-types: record-types is only for type record, not uint8",
    );
    assert_error(
        r#""option-def": [{ "name": "my", "code": 224 }]"#,
        "Dhcp4.option-def[0]: mandatory 'type' parameter is missing",
    );
}

#[test]
fn option_defs_are_unique_per_space() {
    assert_error(
        r#""option-def": [{ "name": "a", "code": 224, "type": "uint8" },
                          { "name": "b", "code": 224, "type": "uint8" }]"#,
        "Dhcp4.option-def[1].code: option code 224 is already defined in space 'dhcp4' (as 'a')",
    );
    assert_error(
        r#""option-def": [{ "name": "a", "code": 224, "type": "uint8" },
                          { "name": "a", "code": 225, "type": "uint8" }]"#,
        "Dhcp4.option-def[1].name: option name 'a' is already defined in space 'dhcp4'",
    );
    // Same code in another space is fine.
    config(
        r#""option-def": [{ "name": "a", "code": 224, "type": "uint8" },
                          { "name": "a", "code": 224, "type": "uint8", "space": "isc" }]"#,
    );
}

#[test]
fn shared_network_names_are_mandatory_and_unique() {
    assert_error(
        r#""shared-networks": [{ "name": "a" }, { "name": "a" }]"#,
        "Dhcp4.shared-networks[1].name: shared network name 'a' is already used by Dhcp4.shared-networks[0]",
    );
    assert_error(
        r#""shared-networks": [{ "subnet4": [] }]"#,
        "Dhcp4.shared-networks[0]: mandatory 'name' parameter is missing",
    );
}

#[test]
fn interfaces_config_values_are_checked() {
    assert_error(
        r#""interfaces-config": { "interfaces": ["eth0"], "dhcp-socket-type": "tcp" }"#,
        "Dhcp4.interfaces-config.dhcp-socket-type: 'tcp' is not a socket type (expected raw or udp)",
    );
    assert_error(
        r#""interfaces-config": { "interfaces": ["eth0/192.0.2.300"] }"#,
        "Dhcp4.interfaces-config.interfaces[0]: '192.0.2.300' in 'eth0/192.0.2.300' is not a valid IPv4 address",
    );
}

#[test]
fn lease_database_type_is_checked() {
    assert_error(
        r#""lease-database": { "type": "cassandra" }"#,
        "Dhcp4.lease-database.type: 'cassandra' is not a lease database type (expected memfile, mysql or postgresql)",
    );
    assert_error(
        r#""lease-database": { "persist": false }"#,
        "Dhcp4.lease-database: mandatory 'type' parameter is missing",
    );
    let loaded = load(r#""lease-database": { "type": "mysql" }"#).unwrap();
    assert_eq!(
        loaded.unsupported[0].to_string(),
        "Dhcp4.lease-database.type: mysql not supported yet (only memfile)"
    );
}

#[test]
fn durability_values_are_checked() {
    assert_error(
        r#""lease-database": { "type": "memfile", "durability": "fsync" }"#,
        "Dhcp4.lease-database.durability: 'fsync' is not a durability (expected default or group-commit)",
    );
    assert_error(
        r#""lease-database": { "type": "memfile", "durability": "group-commit", "group-commit-max-batch": 0 }"#,
        "Dhcp4.lease-database.group-commit-max-batch: 0 is out of range 1..4294967295",
    );
}

#[test]
fn logger_values_are_checked() {
    assert_error(
        r#""loggers": [{ "name": "kea-dhcp4", "severity": "LOUD" }]"#,
        "Dhcp4.loggers[0].severity: 'LOUD' is not a severity (expected FATAL, ERROR, WARN, INFO, DEBUG or NONE)",
    );
    assert_error(
        r#""loggers": [{ "name": "kea-dhcp4", "debuglevel": 100 }]"#,
        "Dhcp4.loggers[0].debuglevel: 100 is out of range 0..99",
    );
}

#[test]
fn next_server_and_bootp_fields_are_checked() {
    assert_error(
        r#""next-server": "tftp.example""#,
        "Dhcp4.next-server: 'tftp.example' is not a valid IPv4 address",
    );
    let long = "h".repeat(64);
    assert_error(
        &format!(r#""server-hostname": "{long}""#),
        "Dhcp4.server-hostname: is 64 bytes long; the sname field holds at most 63 bytes",
    );
    let long = "f".repeat(129);
    assert_error(
        &format!(r#""boot-file-name": "{long}""#),
        "Dhcp4.boot-file-name: is 129 bytes long; the file field holds at most 128 bytes",
    );
    config(&format!(r#""boot-file-name": "{}""#, "f".repeat(128)));
}

#[test]
fn all_errors_are_reported_not_just_the_first() {
    let lines = errors(
        r#""valid-lifetime": "x", "bogus": 1,
           "subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "pools": [{ "pool": "10.0.0.1-10.0.0.2" }] },
                       { "id": 1, "subnet": "192.0.3.0/24" }]"#,
    );
    assert_eq!(
        lines,
        [
            "Dhcp4.bogus: unknown key",
            "Dhcp4.valid-lifetime: expected an integer, found string",
            "Dhcp4.subnet4[0].pools[0].pool: 10.0.0.1 is outside subnet 192.0.2.0/24",
            "Dhcp4.subnet4[1].id: subnet id 1 is already used by Dhcp4.subnet4[0]",
        ]
    );
}

#[test]
fn config_error_displays_one_issue_per_line() {
    let err = load(r#""bogus": 1, "valid-lifetime": true"#).err().unwrap();
    assert_eq!(
        err.to_string(),
        "Dhcp4.bogus: unknown key\nDhcp4.valid-lifetime: expected an integer, found boolean"
    );
}

#[test]
fn pool_prefix_of_length_zero_is_rejected_like_kea() {
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "0.0.0.0/0", "pools": [{ "pool": "0.0.0.0/0" }] }]"#,
        "Dhcp4.subnet4[0].pools[0].pool: prefix length 0 in '0.0.0.0/0' is not valid for a pool",
    );
}

#[test]
fn relay_needs_exactly_one_address_key() {
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "relay": {} }]"#,
        "Dhcp4.subnet4[0].relay: mandatory 'ip-addresses' parameter is missing",
    );
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24",
             "relay": { "ip-address": "10.0.0.1", "ip-addresses": ["10.0.0.2"] } }]"#,
        "Dhcp4.subnet4[0].relay: give either 'ip-addresses' or 'ip-address', not both",
    );
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "relay": { "ip-addresses": ["10.0.0.300"] } }]"#,
        "Dhcp4.subnet4[0].relay.ip-addresses[0]: '10.0.0.300' is not a valid IPv4 address",
    );
}

fn reservation_errors(entries: &str) -> Vec<String> {
    errors(&format!(
        r#""subnet4": [{{ "id": 1, "subnet": "192.0.2.0/24", "reservations": [{entries}] }}]"#
    ))
}

#[test]
fn reservation_needs_exactly_one_identifier() {
    assert_eq!(
        reservation_errors(r#"{ "ip-address": "192.0.2.5" }"#),
        ["Dhcp4.subnet4[0].reservations[0]: one identifier is needed: hw-address, duid, circuit-id, client-id or flex-id"]
    );
    assert_eq!(
        reservation_errors(r#"{ "hw-address": "aa:bb:cc:dd:ee:ff", "client-id": "01:aa" }"#),
        ["Dhcp4.subnet4[0].reservations[0]: 'hw-address' and 'client-id' are mutually exclusive"]
    );
}

#[test]
fn reservation_identifiers_must_parse() {
    assert_eq!(
        reservation_errors(r#"{ "hw-address": "aa-bb-cc-dd-ee-ff" }"#),
        ["Dhcp4.subnet4[0].reservations[0].hw-address: 'aa-bb-cc-dd-ee-ff' is not a valid hw-address value"]
    );
    assert_eq!(
        reservation_errors(r#"{ "hw-address": "" }"#),
        ["Dhcp4.subnet4[0].reservations[0].hw-address: empty host identifier"]
    );
    assert_eq!(
        reservation_errors(
            r#"{ "hw-address": "01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13:14:15" }"#
        ),
        ["Dhcp4.subnet4[0].reservations[0].hw-address: hardware address is 21 bytes long, more than 20"]
    );
}

#[test]
fn reserved_address_must_be_in_the_subnet_and_not_zero() {
    assert_eq!(
        reservation_errors(r#"{ "hw-address": "aa:bb:cc:dd:ee:ff", "ip-address": "192.0.3.5" }"#),
        ["Dhcp4.subnet4[0].reservations[0].ip-address: 192.0.3.5 is outside subnet 192.0.2.0/24"]
    );
    assert_eq!(
        reservation_errors(r#"{ "hw-address": "aa:bb:cc:dd:ee:ff", "ip-address": "0.0.0.0" }"#),
        ["Dhcp4.subnet4[0].reservations[0].ip-address: must not reserve the 0.0.0.0 address"]
    );
}

#[test]
fn identifiers_and_addresses_are_reserved_once_per_subnet() {
    assert_eq!(
        reservation_errors(
            r#"{ "hw-address": "aa:bb:cc:dd:ee:ff", "ip-address": "192.0.2.5" },
               { "hw-address": "AA:BB:CC:DD:EE:FF", "ip-address": "192.0.2.6" }"#
        ),
        ["Dhcp4.subnet4[0].reservations[1].hw-address: this hw-address is already reserved by Dhcp4.subnet4[0].reservations[0]"]
    );
    assert_eq!(
        reservation_errors(
            r#"{ "hw-address": "aa:bb:cc:dd:ee:ff", "ip-address": "192.0.2.5" },
               { "hw-address": "aa:bb:cc:dd:ee:01", "ip-address": "192.0.2.5" }"#
        ),
        ["Dhcp4.subnet4[0].reservations[1].ip-address: 192.0.2.5 is already reserved by Dhcp4.subnet4[0].reservations[0]"]
    );
    // ip-reservations-unique: false allows it (ARM 9.3).
    config(
        r#""ip-reservations-unique": false, "subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "reservations": [
              { "hw-address": "aa:bb:cc:dd:ee:ff", "ip-address": "192.0.2.5" },
              { "hw-address": "aa:bb:cc:dd:ee:01", "ip-address": "192.0.2.5" } ] }]"#,
    );
}

#[test]
fn host_reservation_identifiers_are_checked() {
    assert_error(
        r#""host-reservation-identifiers": ["mac"]"#,
        "Dhcp4.host-reservation-identifiers[0]: 'mac' is not a host identifier type (expected hw-address, duid, circuit-id, client-id or flex-id)",
    );
}

#[test]
fn control_sockets_are_checked() {
    assert_error(
        r#""control-sockets": [{ "socket-type": "tcp" }]"#,
        "Dhcp4.control-sockets[0].socket-type: 'tcp' is not a control socket type (expected unix, http or https)",
    );
    assert_error(
        r#""control-socket": { "socket-type": "unix" }"#,
        "Dhcp4.control-socket: a unix control socket needs a non-empty 'socket-name'",
    );
    assert_error(
        r#""control-sockets": [{ "socket-type": "unix", "socket-name": "a" },
                               { "socket-type": "unix", "socket-name": "b" }]"#,
        "Dhcp4.control-sockets: only one unix control socket is supported",
    );
    assert_error(
        r#""control-sockets": [{ "socket-type": "https", "socket-port": 8004 }]"#,
        "Dhcp4.control-sockets[0]: an https control socket needs trust-anchor, cert-file and key-file",
    );
    assert_error(
        r#""control-socket": { "socket-type": "unix", "socket-name": "a" },
           "control-sockets": []"#,
        "Dhcp4.control-sockets: give either control-socket or control-sockets, not both",
    );
}

#[test]
fn only_run_script_hook_libraries_are_accepted_with_an_executable_script() {
    assert_error(
        r#""hooks-libraries": [{ "library": "/usr/lib/kea/hooks/libdhcp_lease_cmds.so" }]"#,
        "Dhcp4.hooks-libraries[0].library: '/usr/lib/kea/hooks/libdhcp_lease_cmds.so' is not supported: corelease loads no hook libraries and implements natively only kea-hook-runscript.so and libdhcp_run_script.so",
    );
    assert_error(
        r#""hooks-libraries": [{ "library": "/usr/lib/kea-hook-runscript.so", "parameters": { "script": "/nonexistent/hook.sh" } }]"#,
        "Dhcp4.hooks-libraries[0].parameters.script: script '/nonexistent/hook.sh' does not exist or cannot be read",
    );
    assert_error(
        r#""hooks-libraries": [{ "library": "/usr/lib/libdhcp_run_script.so", "parameters": { "name": "/bin/true" } },
                              { "library": "/usr/lib/kea-hook-runscript.so", "parameters": { "script": "/bin/true" } }]"#,
        "Dhcp4.hooks-libraries[1]: a second hooks library; corelease runs one run-script library: configure one script and dispatch on its first argument (the hook point)",
    );
    let loaded = load(
        r#""hooks-libraries": [{ "library": "/usr/lib/kea/hooks/kea-hook-runscript.so",
                                 "parameters": { "script": "/bin/true", "wait": false } }]"#,
    )
    .unwrap();
    assert!(loaded.unsupported.is_empty(), "{:?}", loaded.unsupported);
    assert_eq!(loaded.config.hooks_libraries.len(), 1);
}

#[test]
fn hook_libraries_need_a_library() {
    assert_error(
        r#""hooks-libraries": [{ "parameters": {} }]"#,
        "Dhcp4.hooks-libraries[0]: mandatory 'library' parameter is missing",
    );
}

#[test]
fn not_yet_supported_settings_are_still_type_checked() {
    assert_error(
        r#""sanity-checks": { "lease-checks": "maybe" }"#,
        "Dhcp4.sanity-checks.lease-checks: 'maybe' is not valid (expected none, warn, fix, fix-del, del)",
    );
    assert_error(
        r#""compatibility": { "lenient-option-parsing": "yes" }"#,
        "Dhcp4.compatibility.lenient-option-parsing: expected a boolean, found string",
    );
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "allocator": "fast" }]"#,
        "Dhcp4.subnet4[0].allocator: 'fast' is not an allocator (expected iterative, random or flq)",
    );
    assert_error(
        r#""server-tag": 5"#,
        "Dhcp4.server-tag: expected a string, found integer",
    );
}

#[test]
fn unsupported_keys_that_change_nothing_are_not_reported() {
    let loaded = load(
        r#""hooks-libraries": [], "client-classes": [], "reservations-in-subnet": true,
           "ddns-send-updates": true, "allocator": "iterative",
           "subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "reservations": [], "store-extended-info": false }]"#,
    )
    .unwrap();
    assert!(loaded.unsupported.is_empty(), "{:?}", loaded.unsupported);
    let loaded = load(r#""allocator": "random""#).unwrap();
    assert_eq!(
        loaded.unsupported[0].to_string(),
        "Dhcp4.allocator: not supported yet"
    );
}

#[test]
fn client_classes_are_checked() {
    assert_error(
        r#""client-classes": [{ "name": "a", "test": "option[93].exists" }, { "name": "a" }]"#,
        "Dhcp4.client-classes[1].name: client class 'a' is already defined at Dhcp4.client-classes[0]",
    );
    assert_error(
        r#""client-classes": [{ "name": "a", "option-def": [{ "name": "x", "code": 200, "type": "uint8" }] }]"#,
        "Dhcp4.client-classes[0].option-def[0].code: option 200 cannot be defined in a client class (only 43 and 224..254)",
    );
    assert_error(
        r#""client-classes": [{ "name": "a", "option-data": [{ "name": "routers", "data": "x" }] }]"#,
        "Dhcp4.client-classes[0].option-data[0].data: 'x' is not a valid IPv4 address",
    );
}

#[test]
fn class_tests_are_compiled_at_load_and_errors_name_class_and_position() {
    assert_error(
        r#""client-classes": [{ "name": "a", "test": "option[60].text == " }]"#,
        "Dhcp4.client-classes[0].test: expression 'option[60].text == ': at byte 19: expected an expression, found end of expression",
    );
    // ARM 16.4: the test must be boolean.
    let e = errors(r#""client-classes": [{ "name": "a", "test": "option[60].text" }]"#);
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("Dhcp4.client-classes[0].test: expression 'option[60].text': "),
        "{e:?}"
    );
    // ARM 16.3: no forward dependencies, no unknown classes; built-ins are always defined.
    assert_error(
        r#""client-classes": [{ "name": "a", "test": "member('b')" }, { "name": "b", "test": "option[60].exists" }]"#,
        "Dhcp4.client-classes[0].test: expression 'member('b')' depends on class 'b', which is not defined before this class",
    );
    config(
        r#""client-classes": [{ "name": "b", "test": "option[60].exists" },
        { "name": "a", "test": "member('b') and member('ALL') and not member('VENDOR_CLASS_x') and known" }]"#,
    );
    assert_error(
        r#""client-classes": [{ "name": "a", "test": "option[60].exists", "template-test": "option[60].text" }]"#,
        "Dhcp4.client-classes[0].template-test: 'test' and 'template-test' are mutually exclusive",
    );
    // The same for a template-test (a later class would be evaluated after it).
    assert_error(
        r#""client-classes": [{ "name": "t", "template-test": "ifelse(member('b'), 'x', '')" }, { "name": "b", "test": "option[60].exists" }]"#,
        "Dhcp4.client-classes[0].template-test: expression 'ifelse(member('b'), 'x', '')' depends on class 'b', which is not defined before this class",
    );
    config(
        r#""client-classes": [{ "name": "b", "test": "option[60].exists" },
        { "name": "t", "template-test": "ifelse(member('b') or member('KNOWN'), 'x', '')" }]"#,
    );
}

#[test]
fn class_guards_and_additional_lists_parse_in_every_scope() {
    let c = config(
        r#""shared-networks": [{ "name": "n", "client-classes": ["a"], "evaluate-additional-classes": ["x"],
            "subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "client-class": "b", "require-client-classes": ["y"],
                "pools": [{ "pool": "192.0.2.1-192.0.2.9", "client-classes": ["c", "d"], "evaluate-additional-classes": ["z"] }] }] }]"#,
    );
    assert_eq!(c.shared_networks[0].classes.guard, ["a"]);
    assert_eq!(c.shared_networks[0].classes.additional, ["x"]);
    assert_eq!(c.subnets[0].classes.guard, ["b"]);
    assert_eq!(c.subnets[0].classes.additional, ["y"]);
    assert_eq!(c.subnets[0].pools[0].classes.guard, ["c", "d"]);
    assert_eq!(c.subnets[0].pools[0].classes.additional, ["z"]);
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "client-class": "a", "client-classes": ["b"] }]"#,
        "Dhcp4.subnet4[0].client-class: 'client-class' and 'client-classes' are mutually exclusive",
    );
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24", "client-classes": "a" }]"#,
        "Dhcp4.subnet4[0].client-classes: expected a list, found string",
    );
}

#[test]
fn template_classes_are_checked() {
    let loaded = load(
        r#""host-reservation-identifiers": ["hw-address", "flex-id"],
           "client-classes": [{ "name": "t", "template-test": "option[60].text" }],
           "reservations": [{ "flex-id": "'abc'" }]"#,
    )
    .unwrap();
    assert!(loaded.unsupported.is_empty(), "{:?}", loaded.unsupported);
    assert_eq!(
        loaded.config.client_classes[0].template_test.as_deref(),
        Some("option[60].text")
    );
    assert_error(
        r#""client-classes": [{ "name": "t", "template-test": "option[60].exists" }]"#,
        "Dhcp4.client-classes[0].template-test: expression 'option[60].exists' evaluates to a boolean; a template-test must yield a string",
    );
    assert_error(
        r#""client-classes": [{ "name": "t", "test": "option[60].exists", "template-test": "'a'" }]"#,
        "Dhcp4.client-classes[0].template-test: 'test' and 'template-test' are mutually exclusive",
    );
    let additional = load(
        r#""client-classes": [{ "name": "t", "template-test": "'a'", "only-in-additional-list": true }]"#,
    )
    .unwrap();
    assert!(
        additional.unsupported.is_empty(),
        "{:?}",
        additional.unsupported
    );
}

#[test]
fn flex_id_library_is_read_natively_and_checked() {
    let loaded = load(
        r#""host-reservation-identifiers": ["flex-id", "hw-address"],
           "hooks-libraries": [{ "library": "/usr/lib/kea/hooks/libdhcp_flex_id.so",
               "parameters": { "identifier-expression": "substring(relay4[2].hex, 0, 6)",
                               "ignore-iaid": true } }],
           "reservations": [{ "flex-id": "'abc'", "hostname": "flex" }]"#,
    )
    .unwrap();
    assert!(loaded.unsupported.is_empty(), "{:?}", loaded.unsupported);
    let c = &loaded.config;
    assert_eq!(
        c.flex_id.as_ref().map(|f| f.identifier_expression.as_str()),
        Some("substring(relay4[2].hex, 0, 6)")
    );
    assert!(c.hooks_libraries.is_empty(), "not a run-script library");
    assert_eq!(c.reservations[0].identifier.bytes, b"abc");
    let syntax = errors(
        r#""hooks-libraries": [{ "library": "libdhcp_flex_id.so",
               "parameters": { "identifier-expression": "option[60].text ==" } }]"#,
    );
    assert!(
        syntax.len() == 1
            && syntax[0].starts_with(
                "Dhcp4.hooks-libraries[0].parameters.identifier-expression: expression 'option[60].text ==': "
            ),
        "{syntax:?}"
    );
    assert_error(
        r#""hooks-libraries": [{ "library": "libdhcp_flex_id.so",
               "parameters": { "identifier-expression": "option[60].text == 'x'" } }]"#,
        "Dhcp4.hooks-libraries[0].parameters.identifier-expression: expression 'option[60].text == 'x'' evaluates to a boolean; the flex-id must be a string",
    );
    assert_error(
        r#""hooks-libraries": [{ "library": "libdhcp_flex_id.so",
               "parameters": { "identifier-expression": 5 } }]"#,
        "Dhcp4.hooks-libraries[0].parameters.identifier-expression: The identifier-expression is 5, but expected JSON string",
    );
    let replace = config(
        r#""hooks-libraries": [{ "library": "libdhcp_flex_id.so",
               "parameters": { "identifier-expression": "option[60].text", "replace-client-id": true } }]"#,
    );
    assert_eq!(replace.flex_id.map(|f| f.replace_client_id), Some(true));
    // With several shards (Kea's default multi-threading) a new device would land on another
    // shard than the lease it should keep: named, not silently half-working.
    let hook = r#""hooks-libraries": [{ "library": "libdhcp_flex_id.so",
               "parameters": { "identifier-expression": "option[60].text", "replace-client-id": true } }]"#;
    let several = load(hook).unwrap();
    assert_eq!(
        several.unsupported.first().map(|u| u.path.as_str()),
        Some("Dhcp4.hooks-libraries[0].parameters.replace-client-id")
    );
    let one = load(&format!(
        r#""multi-threading": {{ "enable-multi-threading": true, "thread-pool-size": 1 }}, {hook}"#
    ))
    .unwrap();
    assert!(one.unsupported.is_empty(), "{:?}", one.unsupported);
    let off = load(&format!(
        r#""multi-threading": {{ "enable-multi-threading": false }}, {hook}"#
    ))
    .unwrap();
    assert!(off.unsupported.is_empty(), "{:?}", off.unsupported);
    assert_error(
        r#""hooks-libraries": [{ "library": "libdhcp_flex_id.so",
               "parameters": { "identifier-expression": "option[60].text", "replace-client-id": "yes" } }]"#,
        "Dhcp4.hooks-libraries[0].parameters.replace-client-id: the replace-client-id is \"yes\" but expected boolean value",
    );
}

#[test]
fn option_data_client_classes_tag_an_option() {
    let c = config(
        r#""option-data": [ { "name": "ntp-servers", "data": "10.0.0.1", "client-classes": [ "a", "b" ] },
                           { "name": "ntp-servers", "data": "10.0.0.2" } ]"#,
    );
    assert_eq!(c.global_options.options[0].client_classes, ["a", "b"]);
    assert!(c.global_options.options[1].client_classes.is_empty());
    assert_error(
        r#""option-data": [ { "name": "ntp-servers", "data": "10.0.0.1", "client-classes": [ 5 ] } ]"#,
        "Dhcp4.option-data[0].client-classes[0]: expected a string, found integer",
    );
}

#[test]
fn dhcp4o6_keys_are_read_as_kea_does() {
    let c = config(
        r#""dhcp4o6-port": 786, "subnet4": [{ "id": 1, "subnet": "10.10.10.0/24",
            "4o6-interface": "eth0", "4o6-interface-id": "port-7",
            "4o6-subnet": "2001:db8:1:1::/64" }, { "id": 2, "subnet": "10.0.0.0/24" }]"#,
    );
    assert_eq!(c.dhcp4o6_port, 786);
    let s = &c.subnets[0].dhcp4o6;
    assert!(s.enabled());
    assert_eq!(s.interface.as_deref(), Some("eth0"));
    assert_eq!(s.interface_id.as_deref(), Some(&b"port-7"[..]));
    assert_eq!(s.subnet, Some(("2001:db8:1:1::".parse().unwrap(), 64)));
    assert!(!c.subnets[1].dhcp4o6.enabled());
}

#[test]
fn dhcp4o6_port_and_4o6_subnet_are_checked() {
    assert_error(
        r#""dhcp4o6-port": 65535"#,
        "Dhcp4.dhcp4o6-port: 65535 is out of range 0..65534",
    );
    assert_error(
        r#""subnet4": [{ "id": 1, "subnet": "10.0.0.0/24", "4o6-subnet": "2001:db8::/129" }]"#,
        "Dhcp4.subnet4[0].4o6-subnet: prefix length in '2001:db8::/129' is not a number in 0..128",
    );
}

#[test]
fn dhcp6_accepts_dhcp4o6_port() {
    let text = r#"{"Dhcp6": {"dhcp4o6-port": 6767}}"#;
    let loaded = corelease_config::parse_dhcp6_str(text, &data_dir()).unwrap();
    assert_eq!(loaded.config.dhcp4o6_port, 6767);
    assert!(loaded.unsupported.is_empty());
}
