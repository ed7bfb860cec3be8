//! The Kea memfile CSV importer on arbitrary bytes: every row it cannot read must be an error,
//! never a panic. The first byte picks the v4 or v6 reader.
#![no_main]

use corelease_storage::kea_csv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, text)) = data.split_first() else {
        return;
    };
    if which & 1 == 0 {
        let _ = kea_csv::read_leases4(text);
        let _ = kea_csv::read_leases4_file(text);
    } else {
        let _ = kea_csv::read_leases6(text);
        let _ = kea_csv::read_leases6_file(text);
    }
});
