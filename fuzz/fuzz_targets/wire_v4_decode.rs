//! The DHCPv4 codec on arbitrary bytes: decoding must never panic, and a message that decodes
//! must re-encode to the same options (the assertions inside `fuzz_reencodes`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = corelease_wire::v4::fuzz_reencodes(data);
});
