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
/// by address. Works while the server runs: logs are only read.
pub fn export_kea_csv(
    dir: &Path,
    family: Family,
    out: impl Write,
) -> Result<ExportSummary, StorageError> {
    if family == Family::V6 {
        return Err(StorageError::Unsupported {
            what: "Kea leases6 CSV export",
        });
    }
    let mut recovery = recover(dir, family)?;
    recovery.leases.sort_by_key(|l| l.addr);
    kea_csv::write_leases4(out, &recovery.leases)?;
    Ok(ExportSummary {
        leases: recovery.leases.len(),
        reports: recovery.reports,
    })
}

/// Imports a Kea leases4 CSV into the store in `dir` (the server must be stopped: the shard-0
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
    if family == Family::V6 {
        return Err(StorageError::Unsupported {
            what: "Kea leases6 CSV import",
        });
    }
    let file = kea_csv::read_leases4_file(input)?;
    let mut log = LeaseLog::open(dir, family, 0, opts)?;
    for lease in &file.leases {
        log.record(lease)?;
    }
    for addr in &file.deleted {
        log.remove(LeaseKind::V4, IpAddr::V4(*addr), 32)?;
    }
    log.sync_now()?;
    Ok(ImportSummary {
        imported: file.leases.len(),
        removed: file.deleted.len(),
        skipped: file.skipped,
    })
}
