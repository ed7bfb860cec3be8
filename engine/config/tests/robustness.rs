//! Arbitrary damage to a configuration yields errors, never a panic.

mod common;
use common::data_dir;
use corelease_config::parse_dhcp4_str;

fn full_text() -> String {
    std::fs::read_to_string(data_dir().join("kea/accept/full.json")).unwrap()
}

#[test]
fn every_truncation_of_a_config_is_handled() {
    let text = full_text();
    let mut rejected = 0;
    for (cut, _) in text.char_indices() {
        if parse_dhcp4_str(&text[..cut], &data_dir()).is_err() {
            rejected += 1;
        }
    }
    // Only the whole document (and cuts inside its trailing comment/whitespace) is valid.
    assert!(rejected >= text.len() - 2, "{rejected} of {}", text.len());
}

#[test]
fn replacing_any_byte_with_json_punctuation_never_panics() {
    for name in [
        "full.json",
        "unsupported.json",
        "client-class-ok.json",
        "reservation-opts.json",
    ] {
        damage_every_third_byte(
            &std::fs::read_to_string(data_dir().join("kea/accept").join(name)).unwrap(),
        );
    }
}

fn damage_every_third_byte(text: &str) {
    let bytes = text.as_bytes();
    for i in (0..bytes.len()).step_by(3) {
        for replacement in [b'"', b'{', b']', b',', b'\\', b'-', b'9'] {
            let mut damaged = bytes.to_vec();
            damaged[i] = replacement;
            if let Ok(s) = String::from_utf8(damaged) {
                let _ = parse_dhcp4_str(&s, &data_dir());
            }
        }
    }
}
