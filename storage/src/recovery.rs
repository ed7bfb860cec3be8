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
    /// The sequence number of each lease's winning record (same index as `leases`): a log
    /// rewritten with leases that come from other logs (the shard count shrank) must write
    /// them above it, or an older removal of the same address left in a remaining log would
    /// win at the next recovery ([`crate::LeaseLog::compact_recovered`]).
    pub seqs: Vec<u64>,
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

/// The newest record of one key so far. Kept small (16 bytes): recovery holds one per lease.
struct Winner {
    seq: u64,
    /// File index in the top 16 bits, payload offset in the low 47, removal flag in bit 47.
    location: u64,
}

const OFFSET_BITS: u32 = 47;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
const REMOVAL_BIT: u64 = 1 << OFFSET_BITS;

impl Winner {
    fn new(seq: u64, file: usize, payload_at: usize, removal: bool) -> Self {
        let mut location = ((file as u64) << 48) | (payload_at as u64 & OFFSET_MASK);
        if removal {
            location |= REMOVAL_BIT;
        }
        Winner { seq, location }
    }

    fn file(&self) -> usize {
        (self.location >> 48) as usize
    }

    fn payload_at(&self) -> usize {
        (self.location & OFFSET_MASK) as usize
    }

    fn is_removal(&self) -> bool {
        self.location & REMOVAL_BIT != 0
    }
}

/// Upper bound on the records a log file of `len` bytes can hold, for sizing the merge map.
fn max_records(len: u64) -> usize {
    let smallest_frame = record::padded(FRAME_HEADER_LEN + record::FIXED_PAYLOAD_LEN) as u64;
    usize::try_from(len / smallest_frame).unwrap_or(usize::MAX)
}

/// Most merge-map entries reserved up front (about 2 M leases); beyond, the map grows.
const MAX_RESERVED: usize = 2 << 20;

/// Scans every shard log of a family in `dir`: newest record per (kind, address) wins; stops each
/// log at its first torn/corrupt record and reports it. Leases are returned for re-hashing.
/// Safe while the server runs (export): files are only read, and every frame is checksummed.
pub fn recover(dir: &Path, family: Family) -> Result<Recovery, StorageError> {
    let logs = list_logs(dir, family)?;
    let mut maps: Vec<Option<Mmap>> = Vec::with_capacity(logs.len());
    let mut reports = Vec::with_capacity(logs.len());
    let mut winners: KeyMap<Winner> = KeyMap::default();
    let mut total_len = 0u64;
    for (_, path) in &logs {
        total_len += std::fs::metadata(path).map_or(0, |m| m.len());
    }
    // Files are pre-allocated, so this over-estimates small stores; capped, it saves the
    // repeated rehashing that dominates a million-lease recovery.
    winners.reserve(max_records(total_len).min(MAX_RESERVED));
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
            let candidate = Winner::new(
                frame.seq,
                file_index,
                offset + FRAME_HEADER_LEN,
                head.is_removal,
            );
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
    // Decode the winners in file order: walking the hash map's order instead makes every
    // decode a random access into the mapped files, which costs more than the sort.
    let mut locations: Vec<(u64, u64)> = winners
        .values()
        .filter(|w| !w.is_removal())
        .map(|w| (w.location, w.seq))
        .collect();
    drop(winners);
    locations.sort_unstable();
    let mut leases = Vec::with_capacity(locations.len());
    let mut seqs = Vec::with_capacity(locations.len());
    for (location, seq) in locations {
        let winner = Winner { seq: 0, location };
        let at = winner.payload_at();
        let payload = maps
            .get(winner.file())
            .and_then(|m| m.as_ref())
            .and_then(|m| {
                // The length field sits 4 bytes into the frame header.
                let len_at = at.checked_sub(FRAME_HEADER_LEN)? + 4;
                let len = u32::from_le_bytes(m.get(len_at..len_at + 4)?.try_into().ok()?);
                m.get(at..at + len as usize)
            });
        // Validated during the scan; a concurrent writer never rewrites a frame it wrote.
        if let Some(lease) = payload.and_then(record::decode_lease) {
            leases.push(lease);
            seqs.push(seq);
        }
    }
    Ok(Recovery {
        leases,
        seqs,
        reports,
    })
}
