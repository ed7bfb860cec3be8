//! The DHCPv6 codec on arbitrary bytes, relay nesting and encapsulated options included:
//! decoding must never panic, and a well-formed message must re-encode byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = corelease_wire::v6::fuzz_reencodes6(data);
});
