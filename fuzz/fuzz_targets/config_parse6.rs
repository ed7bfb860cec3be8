//! The Kea JSON config parser and validator for Dhcp6 (what `config-set`, `config-test` and
//! `config-reload` reach over the control API) on arbitrary UTF-8: a config it cannot accept
//! must be a `ConfigError`, never a panic. An accepted config is then prepared for the shards
//! (`Prepared6::new`: pools, classes, reservations, options), as the server does before it
//! swaps the config in. Includes resolve against an empty directory.
#![no_main]

use corelease_v6::{Interface6Info, Prepared6};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|text: &str| {
    if let Ok(loaded) =
        corelease_config::parse_dhcp6_str(text, Path::new("/nonexistent-corelease-fuzz"))
    {
        let ifaces = vec![Interface6Info {
            ifindex: 7,
            name: "eth0".into(),
            hwtype: 1,
        }];
        let _ = Prepared6::new(&loaded.config, ifaces);
    }
});
