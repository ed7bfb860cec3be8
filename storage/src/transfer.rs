//! `corelease lease export` / `corelease lease import` as library functions: moving a lease set
//! between the lease log directory and a Kea memfile CSV.

use crate::kea_csv::{self, RowError};
use crate::recovery::{recover, LogReport};
use crate::{Family, LeaseKind, LeaseLog, LeaseSink, LogOptions, StorageError};
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::path::Path;

/// What an export wrote.
#[derive(Debug)]
pub struct ExportSummary {
    pub leases: usize,
    /// Recovery's report per log (damaged logs are exported up to their damage).
    pub reports: Vec<LogReport>,
}

/// What an import did.
#[derive(Debug)]
pub struct ImportSummary {
    /// Leases written to the log.
    pub imported: usize,
    /// Addresses whose last CSV row deleted them: written as removals.
    pub removed: usize,
    /// CSV rows skipped by Kea's rules, with their line numbers.
    pub skipped: Vec<RowError>,
}

/// Writes the current lease set of `dir` (all shard logs of `family`) as a Kea 3.0 CSV, ordered
/// by address (Kea 3.0 leases4 or leases6 header). Works while the server runs: logs are only read.
pub fn export_kea_csv(
    dir: &Path,
    family: Family,
    out: impl Write,
) -> Result<ExportSummary, StorageError> {
    export_kea_csv_as(dir, family, kea_csv::KeaSchema::V3_0, out)
}

/// [`export_kea_csv`] in a chosen Kea layout: `KeaSchema::V2` is the file a Kea 2.x memfile
/// loads (no `pool_id` column), the way back from corelease to a Kea 2.x server.
pub fn export_kea_csv_as(
    dir: &Path,
    family: Family,
    schema: kea_csv::KeaSchema,
    out: impl Write,
) -> Result<ExportSummary, StorageError> {
    let mut recovery = recover(dir, family)?;
    recovery.leases.sort_by_key(|l| (l.addr, l.kind as u8));
    match family {
        Family::V4 => kea_csv::write_leases4_as(out, &recovery.leases, schema)?,
        Family::V6 => kea_csv::write_leases6_as(out, &recovery.leases, schema)?,
    }
    Ok(ExportSummary {
        leases: recovery.leases.len(),
        reports: recovery.reports,
    })
}

/// Imports a Kea leases4 (or leases6) CSV into the store in `dir` (the server must be stopped: the shard-0
/// log is opened exclusively and `Locked` is returned otherwise). Records are appended to the
/// shard-0 log with new sequence numbers, so they win over what the store held for the same
/// addresses; recovery re-hashes them to their shards at the next start. The log is synced
/// before returning.
pub fn import_kea_csv(
    dir: &Path,
    family: Family,
    input: impl BufRead,
    opts: LogOptions,
) -> Result<ImportSummary, StorageError> {
    let (leases, deleted, skipped) = match family {
        Family::V4 => {
            let file = kea_csv::read_leases4_file(input)?;
            let deleted: Vec<(LeaseKind, IpAddr, u8)> = file
                .deleted
                .iter()
                .map(|a| (LeaseKind::V4, IpAddr::V4(*a), 32))
                .collect();
            (file.leases, deleted, file.skipped)
        }
        Family::V6 => {
            let file = kea_csv::read_leases6_file(input)?;
            (file.leases, file.deleted, file.skipped)
        }
    };
    let mut log = LeaseLog::open(dir, family, 0, opts)?;
    for lease in &leases {
        log.record(lease)?;
    }
    for (kind, addr, prefix_len) in &deleted {
        log.remove(*kind, *addr, *prefix_len)?;
    }
    log.sync_now()?;
    Ok(ImportSummary {
        imported: leases.len(),
        removed: deleted.len(),
        skipped,
    })
}
