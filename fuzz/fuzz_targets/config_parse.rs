//! The Kea JSON config parser and validator on arbitrary UTF-8: a config it cannot accept must
//! be a `ConfigError`, never a panic. Includes resolve against an empty directory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|text: &str| {
    let _ = corelease_config::parse_dhcp4_str(text, Path::new("/nonexistent-corelease-fuzz"));
});
