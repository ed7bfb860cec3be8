//! Every example configuration in the workspace's configs/ directory loads (DESIGN.md: "every
//! one is loaded by a test"). Files meant for Kea's other daemons (no Dhcp4 map) are skipped.

use corelease_config::load_dhcp4_file;
use std::path::Path;

#[test]
fn every_workspace_example_config_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut failures = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if !text.contains("\"Dhcp4\"") {
            continue;
        }
        if let Err(e) = load_dhcp4_file(&path) {
            failures.push(format!("{}:\n{e}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
