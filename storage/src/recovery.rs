//! Startup recovery: every shard log of a family, merged newest-record-wins.

use crate::record::{self, Damage, FRAME_HEADER_LEN};
use crate::scan::scan_log;
use crate::{Family, KeyMap, StorageError};
use corelease_types::Lease;
use memmap2::Mmap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

/// What recovery found in one log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogReport {
    pub file: PathBuf,
    /// Where the good records end: the offset of the first damaged record, or the logical end.
    pub offset: u64,
    /// Good records read.
    pub kept: u64,
    /// Records at or after the damage, not applied (0 when the log is whole).
    pub dropped: u64,
    /// Why the log stops early; `None` for a whole log.
    pub reason: Option<Damage>,
}

impl LogReport {
    pub fn is_whole(&self) -> bool {
        self.reason.is_none()
    }
}

impl fmt::Display for LogReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            None => write!(f, "{}: {} records", self.file.display(), self.kept),
            Some(reason) => write!(
                f,
                "{}: {} at offset {}; {} records kept, {} dropped",
                self.file.display(),
                reason,
                self.offset,
                self.kept,
                self.dropped
            ),
        }
    }
}

/// Everything recovered for one family.
#[derive(Debug, Default)]
pub struct Recovery {
    /// The live lease set, newest record per (kind, address, prefix length), in no particular
    /// order: the caller re-hashes each to its shard for the current shard count.
    pub leases: Vec<Lease>,
    /// One report per log file, damaged or not, ordered by shard number.
    pub reports: Vec<LogReport>,
}

/// The shard log files of `family` in `dir`, ordered by shard number. Temp files of an
/// unfinished compaction (`*.log.compact`) are not logs and are skipped.
pub fn list_logs(dir: &Path, family: Family) -> Result<Vec<(usize, PathBuf)>, StorageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StorageError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let prefix = format!("leases{}-shard", family.code());
    let mut logs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| StorageError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let shard = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".log"))
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(shard) = shard {
            logs.push((shard, entry.path()));
        }
    }
    logs.sort();
    Ok(logs)
}

struct Winner {
    seq: u64,
    file: usize,
    payload_at: usize,
    payload_len: usize,
    removal: bool,
}

/// Scans every shard log of a family in `dir`: newest record per (kind, address) wins; stops each
/// log at its first torn/corrupt record and reports it. Leases are returned for re-hashing.
/// Safe while the server runs (export): files are only read, and every frame is checksummed.
pub fn recover(dir: &Path, family: Family) -> Result<Recovery, StorageError> {
    let logs = list_logs(dir, family)?;
    let mut maps: Vec<Option<Mmap>> = Vec::with_capacity(logs.len());
    let mut reports = Vec::with_capacity(logs.len());
    let mut winners: KeyMap<Winner> = KeyMap::default();
    for (file_index, (_, path)) in logs.iter().enumerate() {
        let file = File::open(path).map_err(|source| StorageError::Io {
            path: path.clone(),
            source,
        })?;
        let len = file
            .metadata()
            .map_err(|source| StorageError::Io {
                path: path.clone(),
                source,
            })?
            .len();
        if len == 0 {
            maps.push(None);
            reports.push(LogReport {
                file: path.clone(),
                offset: 0,
                kept: 0,
                dropped: 0,
                reason: None,
            });
            continue;
        }
        // SAFETY: read-only map. A writer in the running server may append concurrently; every
        // frame read through the map is length-checked and checksummed before use.
        let map = unsafe { Mmap::map(&file) }.map_err(|source| StorageError::Io {
            path: path.clone(),
            source,
        })?;
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        let scan = scan_log(&map, family.code(), |offset, frame| {
            let Some(head) = record::payload_head(frame.payload) else {
                return;
            };
            let candidate = Winner {
                seq: frame.seq,
                file: file_index,
                payload_at: offset + FRAME_HEADER_LEN,
                payload_len: frame.payload.len(),
                removal: head.is_removal,
            };
            match winners.entry(head.key) {
                Entry::Occupied(mut e) => {
                    if e.get().seq <= frame.seq {
                        e.insert(candidate);
                    }
                }
                Entry::Vacant(e) => {
                    e.insert(candidate);
                }
            }
        });
        reports.push(LogReport {
            file: path.clone(),
            offset: scan.end as u64,
            kept: scan.kept,
            dropped: scan.dropped,
            reason: scan.damage,
        });
        maps.push(Some(map));
    }
    let mut leases = Vec::with_capacity(winners.len());
    for winner in winners.values() {
        if winner.removal {
            continue;
        }
        let payload = maps
            .get(winner.file)
            .and_then(|m| m.as_ref())
            .and_then(|m| m.get(winner.payload_at..winner.payload_at + winner.payload_len));
        // Validated during the scan; a concurrent writer never rewrites a frame it wrote.
        if let Some(lease) = payload.and_then(record::decode_lease) {
            leases.push(lease);
        }
    }
    Ok(Recovery { leases, reports })
}
