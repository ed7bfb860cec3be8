//! Passes a Kea leases4 CSV through the lease log: stdin → `import_kea_csv` into a temp store →
//! recovery → Kea CSV on stdout, in Kea 3.0 layout or (`2`) Kea 2.x layout. Used to check that a
//! real Kea loads what corelease exports (tests/data/kea-loads-export.sh).
//! `cargo run -p corelease-storage --example kea_roundtrip [3.0|2] < leases4.csv > out.csv`

use corelease_storage::kea_csv::{write_leases4_as, KeaSchema};
use corelease_storage::{import_kea_csv, recover, Family, LogOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schema = match std::env::args().nth(1).as_deref() {
        Some("2") => KeaSchema::V2,
        _ => KeaSchema::V3_0,
    };
    let dir = tempfile::tempdir()?;
    let summary = import_kea_csv(
        dir.path(),
        Family::V4,
        std::io::stdin().lock(),
        LogOptions::default(),
    )?;
    for skipped in &summary.skipped {
        eprintln!("skipped {skipped}");
    }
    let mut leases = recover(dir.path(), Family::V4)?.leases;
    leases.sort_by_key(|l| l.addr);
    write_leases4_as(std::io::stdout().lock(), &leases, schema)?;
    eprintln!(
        "{} leases imported, {} deletions, {} exported",
        summary.imported,
        summary.removed,
        leases.len()
    );
    Ok(())
}
