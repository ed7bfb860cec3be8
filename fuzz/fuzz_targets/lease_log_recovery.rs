//! Lease-log recovery on arbitrary bytes: whatever a crash, a bad disk or an attacker leaves in
//! a shard log, `recover` must report damage and return the good prefix, never panic, and
//! `LeaseLog::open` (the server's start-up path, which zeroes a damaged tail) must not either.
//!
//! Input: byte 0 picks the family (bit 0) and whether the rest is split into two shard logs
//! (bit 1) at the offset given by byte 1, so that the cross-log merge is exercised too.
#![no_main]

use corelease_storage::{log_file_name, recover, Family, LeaseLog, LogOptions};
use libfuzzer_sys::fuzz_target;
use std::path::Path;
use std::sync::OnceLock;

/// One directory for the whole run: creating one per input would dominate the time.
fn dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")))
        .path()
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let family = if flags & 1 == 0 {
        Family::V4
    } else {
        Family::V6
    };
    let dir = dir();
    for f in [Family::V4, Family::V6] {
        for shard in 0..2 {
            let _ = std::fs::remove_file(dir.join(log_file_name(f, shard)));
        }
    }
    let (first, second) = if flags & 2 != 0 {
        let at = rest
            .first()
            .map_or(0, |&b| usize::from(b) * 8)
            .min(rest.len());
        let (a, b) = rest.split_at(at);
        (a, Some(b))
    } else {
        (rest, None)
    };
    let write = |shard: usize, bytes: &[u8]| {
        std::fs::write(dir.join(log_file_name(family, shard)), bytes)
            .unwrap_or_else(|e| panic!("write log: {e}"));
    };
    write(0, first);
    if let Some(second) = second {
        write(1, second);
    }
    let _ = recover(dir, family);
    let opts = LogOptions {
        segment_bytes: 0,
        ..LogOptions::default()
    };
    if let Ok(log) = LeaseLog::open(dir, family, 0, opts) {
        let _ = log.open_report();
        let _ = log.record_count();
    }
});
