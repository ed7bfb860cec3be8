//! The lease log of corelease: one append-only, memory-mapped file per shard and family, crash
//! recovery across all of them, compaction (Kea's LFC), group commit, and Kea memfile CSV
//! import/export (`kea_csv`, [`export_kea_csv`], [`import_kea_csv`]).
//!
//! The protocol logic writes every lease change through [`LeaseSink`] from inside its shard;
//! the shard calls [`LeaseLog::commit`] at the end of each receive batch, before the replies
//! leave. This crate must never be shared between shards, never take a lock or allocate on the
//! append path (a record is encoded straight into the mapped file), and never acknowledge as
//! durable what is not: in group-commit mode `commit` returns only after the msync.
//!
//! # Record layout: a fixed little-endian layout, not rkyv
//! Each record is framed as CRC32C, length, sequence number (the checksum first, so it covers
//! length, sequence number and payload in one contiguous call), then the lease in a fixed 80-byte
//! little-endian layout followed by a variable tail (client-id / DUID, hostname, user-context);
//! see `record.rs` for the byte map. Chosen over rkyv because: the lease has exactly three
//! variable fields, so the layout is a page of code with no derive machinery or format-version
//! coupling to a dependency; encoding writes straight into the mapped file with no scratch
//! buffer; recovery needs to read only the key (kind, address, prefix length at fixed offsets)
//! of every record and decodes only the winners, which is what rkyv's in-place access would
//! have bought; and every field is validated after the checksum anyway (the DESIGN asks for
//! validated access after a crash), which is the cost rkyv's checked access would add.
//!
//! # Ordering across logs
//! The sequence number is a hybrid clock: `max(previous + 1, wall-clock ns)`. Within a log it
//! strictly increases (a frame that does not is treated as damage); across logs it orders the
//! records of one address that moved between shards (released by one, taken by another, or
//! re-hashed after a change of thread-pool-size), so "newest record wins" holds globally.
//!
//! # Moving a lease between shards
//! When lease4-update / lease6-update give a lease a client another shard owns, the new owner writes the lease with [`LeaseSink::record_after`] the old holder's
//! [`LeaseSink::last_seq`], and the old holder writes nothing: its older record of the address
//! stays in its log and loses to the new one at recovery (newest record wins across logs), and
//! its compaction keeps it no newer than it was. A crash before the new owner's write recovers
//! the lease as it was before the move; after it, as moved. Writing a removal in the old
//! holder's log instead would lose the lease either way: written first, a crash before the new
//! owner's record leaves only the removal; written second, the removal is the newest record.
//!
//! # Durability modes
//! [`Durability::Default`]: a record is in the shared page cache when `record` returns, so it
//! survives a crash or SIGKILL of the process (not a power loss), like Kea's memfile.
//! [`Durability::GroupCommit`]: `commit` msyncs (fdatasync of the written range) everything
//! appended since the last one; the runtime sends ACKs only after it, and calls it at the end
//! of each batch or by [`LeaseLog::needs_commit_by`]; `max_batch` records trigger it inside
//! `record`. OFFERs are not recorded, so they never wait.
//!
//! # Compaction without pausing the shard
//! [`LeaseLog::begin_log_compaction`] (notes the log's end, on the shard) → `CompactionJob::run`
//! (reads the log up to there, writes the newest record of every address, fdatasync, on any
//! thread) → [`LeaseLog::finish_compaction`] (copy the records appended meanwhile, rename, on
//! the shard) → [`LeaseLog::take_retired`] (the old file, dropped on any thread).
//! [`LeaseLog::compact_log`] does it all in place. The shard's part does not grow with the
//! number of leases: it copies only what it appended while the job ran.
//! [`LeaseLog::begin_compaction`] / [`LeaseLog::compact`] rewrite the log to hold a given live
//! set instead (the shard's table after a change of thread-pool-size, before serving).
//!
//! # Reading while the server runs
//! `recover` and `export_kea_csv` only read. A record being written at that instant may read as
//! a damaged tail and is then reported and left out; the next read sees it.
//!
//! # After a change of shard count
//! `recover` returns the merged lease set; the runtime re-hashes it and should then
//! `compact` each shard's log with that shard's new lease set, so that no log keeps records
//! of addresses that now live elsewhere.

mod log;
mod record;
mod recovery;
mod scan;
mod transfer;

pub mod kea_csv;

pub use corelease_types::{Lease, LeaseKind, LeaseState};
pub use kea_csv::KeaSchema;
pub use log::{
    log_file_name, CompactionJob, CompactionStats, CompactionStep, Durability, LeaseLog,
    LogOptions, PreparedCompaction, RetiredLog,
};
pub use record::Damage;
pub use recovery::{list_logs, recover, LogReport, Recovery};
pub use transfer::{
    export_kea_csv, export_kea_csv_as, import_kea_csv, ExportSummary, ImportSummary,
};

use std::net::IpAddr;
use std::path::PathBuf;

/// Errors of the lease store. Each names the file (or CSV line) and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    #[error("lease store {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("lease log {path} is open in another process (is the server running? stop it first)")]
    Locked { path: PathBuf },
    #[error("{path} is not a corelease lease log of this family (wrong file in the lease directory? move it away)")]
    NotALeaseLog { path: PathBuf },
    #[error("a {kind:?} lease cannot go into the {log:?} lease log")]
    FamilyMismatch { kind: LeaseKind, log: Family },
    #[error(
        "lease {addr}: client-id or hostname longer than 65535 bytes, or user-context over 1 MiB"
    )]
    RecordTooLarge { addr: IpAddr },
    #[error("compaction of {path} was prepared for a log that has since changed (another compaction finished first); start a new one")]
    CompactionOutdated { path: PathBuf },
    #[error("Kea lease file header: {reason}")]
    CsvHeader { reason: String },
    #[error("Kea lease file: {source}")]
    CsvIo {
        #[source]
        source: std::io::Error,
    },
    #[error("{what} is not supported yet")]
    Unsupported { what: &'static str },
}

/// Address family of a log: one log per shard and family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// 4 or 6: used in file names (`leases4-shard0.log`) and in the file header.
    pub fn code(self) -> u8 {
        match self {
            Family::V4 => 4,
            Family::V6 => 6,
        }
    }

    pub fn of(kind: LeaseKind) -> Family {
        match kind {
            LeaseKind::V4 => Family::V4,
            LeaseKind::V6Na | LeaseKind::V6Ta | LeaseKind::V6Pd => Family::V6,
        }
    }
}

/// What the protocol logic writes to. One per shard and family.
pub trait LeaseSink {
    /// Appends the new state of one lease (allocate, renew, release, decline, reclaim).
    fn record(&mut self, lease: &Lease) -> Result<(), StorageError>;
    /// Appends the removal of a lease (lease4-del, wipe).
    fn remove(&mut self, kind: LeaseKind, addr: IpAddr, prefix_len: u8)
        -> Result<(), StorageError>;

    /// The sequence number of the newest record in this sink (0 for sinks that keep none).
    /// A lease moving to another shard's log is recorded there after it
    /// ([`LeaseSink::record_after`]).
    fn last_seq(&self) -> LogSeq {
        LogSeq(0)
    }

    /// [`LeaseSink::record`] with a sequence number above `after` (another shard's
    /// [`LeaseSink::last_seq`]), for a lease moving between shards: the new owner's record
    /// must win at recovery over the old holder's, which stays in the old holder's log (crate
    /// documentation, "Moving a lease between shards").
    fn record_after(&mut self, lease: &Lease, after: LogSeq) -> Result<(), StorageError> {
        let _ = after;
        self.record(lease)
    }
}

/// A record's sequence number: the order of records across all shard logs of a family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogSeq(pub u64);

/// A removal as `MemorySink` keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Removal {
    pub kind: LeaseKind,
    pub addr: IpAddr,
    pub prefix_len: u8,
}

/// Keeps what it is given, for protocol tests.
#[derive(Clone, Debug, Default)]
pub struct MemorySink {
    pub records: Vec<Lease>,
    pub removals: Vec<Removal>,
}

impl LeaseSink for MemorySink {
    fn record(&mut self, lease: &Lease) -> Result<(), StorageError> {
        self.records.push(lease.clone());
        Ok(())
    }

    fn remove(
        &mut self,
        kind: LeaseKind,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<(), StorageError> {
        self.removals.push(Removal {
            kind,
            addr,
            prefix_len,
        });
        Ok(())
    }
}

/// Discards everything: Kea's `"persist": false`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullSink;

impl LeaseSink for NullSink {
    fn record(&mut self, _lease: &Lease) -> Result<(), StorageError> {
        Ok(())
    }

    fn remove(
        &mut self,
        _kind: LeaseKind,
        _addr: IpAddr,
        _prefix_len: u8,
    ) -> Result<(), StorageError> {
        Ok(())
    }
}

/// Hash map keyed by lease identity with a cheap multiplicative hasher: keys are addresses
/// written by ourselves, not attacker-chosen strings, and recovery hashes a million of them.
pub(crate) type KeyMap<V> =
    std::collections::HashMap<record::LeaseKey, V, std::hash::BuildHasherDefault<KeyHasher>>;

#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    fn finish(&self) -> u64 {
        // Fold the high bits down: hashbrown takes its bucket index from the low bits.
        self.0 ^ (self.0 >> 29)
    }
}
