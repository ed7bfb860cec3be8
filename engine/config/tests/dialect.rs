//! Kea's JSON dialect through the public entry points: comments, includes, extra commas,
//! and the raw document kept for config-get.

mod common;
use common::*;
use corelease_config::{load_dhcp4_file, Durability};

#[test]
fn comments_includes_and_extra_commas_load_from_a_file() {
    let loaded = load_dhcp4_file(&data_dir().join("include/main.json")).unwrap();
    let c = &loaded.config;
    assert_eq!(c.subnets.len(), 2);
    assert_eq!(c.subnets[0].valid_lifetime.default, 4000);
    assert_eq!(c.subnets[0].pools[0].first.to_string(), "192.0.2.10");
    assert_eq!(&*c.global_options.get(15).unwrap().data, b"a#b//c/*d*/e");
    assert_eq!(
        c.lease_database.durability,
        Durability::GroupCommit {
            max_delay_us: 200,
            max_batch: 256
        }
    );
    assert_eq!(
        c.lease_database.name.as_deref(),
        Some(std::path::Path::new("leases4.csv"))
    );
    // Two extra commas, each reported.
    assert_eq!(loaded.warnings.len(), 2);
    assert!(loaded.warnings[0].message.starts_with("extraneous comma"));
    // The raw document has the included subnets inline and no comments.
    assert_eq!(loaded.raw["Dhcp4"]["subnet4"][1]["id"], 2);
    assert_eq!(loaded.raw["Dhcp4"]["valid-lifetime"], 4000);
}

#[test]
fn recursive_include_stops_at_the_depth_limit() {
    let err = load_dhcp4_file(&data_dir().join("include/loop.json")).unwrap_err();
    assert_eq!(err.issues.len(), 1);
    assert!(
        err.issues[0]
            .message
            .ends_with("exceeds the maximum include depth of 10 (recursive include?)"),
        "{}",
        err.issues[0]
    );
}

#[test]
fn missing_include_names_the_file() {
    let err = load_dhcp4_file(&data_dir().join("include/missing.json")).unwrap_err();
    let issue = &err.issues[0];
    assert_eq!(issue.path, "missing.json:2:3");
    assert!(
        issue.message.starts_with("cannot read included file "),
        "{issue}"
    );
    assert!(issue.message.contains("no-such-file.json"), "{issue}");
}

#[test]
fn syntax_errors_carry_file_line_and_column() {
    let err = corelease_config::parse_dhcp4_str(
        "{\n \"Dhcp4\": {\n  \"valid-lifetime\": 10 10 } }",
        &data_dir(),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "config:3:24: expected ',' or '}' in a map");
}

#[test]
fn duplicate_keys_are_rejected_like_kea() {
    let err = corelease_config::parse_dhcp4_str(
        r#"{"Dhcp4": {"valid-lifetime": 10, "valid-lifetime": 20}}"#,
        &data_dir(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "config:1:34: duplicate key \"valid-lifetime\" in one map (previous at config:1:12)"
    );
}

#[test]
fn unreadable_file_is_reported_by_path() {
    let path = data_dir().join("does-not-exist.json");
    let err = load_dhcp4_file(&path).unwrap_err();
    assert_eq!(err.issues[0].path, path.display().to_string());
    assert!(err.issues[0]
        .message
        .starts_with("cannot read the configuration file"));
}

#[test]
fn raw_keeps_unsupported_sections_for_config_get() {
    let loaded = load(r#""dhcp-ddns": { "enable-updates": true }"#).unwrap();
    assert_eq!(loaded.raw["Dhcp4"]["dhcp-ddns"]["enable-updates"], true);
}

#[test]
fn byte_order_mark_is_skipped() {
    let text = "\u{feff}{\"Dhcp4\": {\"valid-lifetime\": 60}}";
    let loaded = corelease_config::parse_dhcp4_str(text, &data_dir()).unwrap();
    assert_eq!(loaded.raw["Dhcp4"]["valid-lifetime"], 60);
}

#[test]
fn an_already_parsed_document_validates_the_same_way() {
    let value = serde_json::json!({ "Dhcp4": { "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24",
        "pools": [ { "pool": "192.0.3.1-192.0.3.9" } ] } ] } });
    let err = corelease_config::parse_dhcp4_value(&value).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dhcp4.subnet4[0].pools[0].pool: 192.0.3.1 is outside subnet 192.0.2.0/24"
    );
    let ok = serde_json::json!({ "Dhcp4": { "valid-lifetime": 60 } });
    assert_eq!(corelease_config::parse_dhcp4_value(&ok).unwrap().raw, ok);
}

#[test]
fn errors_inside_an_included_file_name_that_file_and_line() {
    let err = load_dhcp4_file(&data_dir().join("include/includes-bad.json")).unwrap_err();
    let issue = &err.issues[0];
    assert!(issue.path.ends_with("bad-subnet.json:3:28"), "{issue}");
    assert_eq!(issue.message, "expected ',' or '}' in a map");
}

#[test]
fn errors_after_an_include_keep_the_including_files_lines() {
    let err = load_dhcp4_file(&data_dir().join("include/error-after-include.json")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "error-after-include.json:5:21: expected a value (map, list, string, number, true, false or null)"
    );
}
