//! Helpers shared by the integration tests.
#![allow(dead_code)]

use corelease_config::{parse_dhcp4_str, ConfigError, Dhcp4Config, Loaded};
use std::path::{Path, PathBuf};

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Parses `{"Dhcp4": { <body> }}`.
pub fn load(body: &str) -> Result<Loaded<Dhcp4Config>, ConfigError> {
    parse_dhcp4_str(&format!("{{\"Dhcp4\": {{ {body} }}}}"), &data_dir())
}

pub fn config(body: &str) -> Dhcp4Config {
    match load(body) {
        Ok(l) => l.config,
        Err(e) => panic!("config should load, got:\n{e}"),
    }
}

/// The error lines ("path: message") of a config that must not load.
pub fn errors(body: &str) -> Vec<String> {
    match load(body) {
        Ok(_) => panic!("config should be rejected: {body}"),
        Err(e) => e.issues.iter().map(|i| i.to_string()).collect(),
    }
}

/// Asserts the config is rejected with exactly this one issue.
pub fn assert_error(body: &str, expected: &str) {
    assert_eq!(errors(body), vec![expected.to_string()], "config: {body}");
}

pub const SUBNET: &str = r#""subnet4": [{ "id": 1, "subnet": "192.0.2.0/24" }]"#;
