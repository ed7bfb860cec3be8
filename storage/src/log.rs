//! `LeaseLog`: one shard's append-only, memory-mapped log file, its group commit and its
//! compaction.

use crate::record::{self, LeaseKey, FILE_HEADER_LEN, FIXED_PAYLOAD_LEN, FRAME_HEADER_LEN};
use crate::scan::scan_log;
use crate::{Family, KeyMap, LeaseSink, LogReport, LogSeq, StorageError};
use corelease_types::{Lease, LeaseKind};
use memmap2::MmapMut;
use std::fs::{File, OpenOptions};
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Smallest growth step: below this, remapping would happen too often to be worth it.
const MIN_SEGMENT_BYTES: u64 = 64 * 1024;

/// How a log trades latency for durability (DESIGN.md, "The lease log").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Records live in the shared page cache as soon as they are written: they survive a crash
    /// of the process, not of the machine (Kea's memfile gives the same guarantee).
    Default,
    /// Every ACK waits for an fdatasync (msync of the written range) shared by all records of a
    /// window bounded by `max_delay` and by `max_batch` records: survives power loss.
    GroupCommit { max_delay: Duration, max_batch: u32 },
}

/// How a `LeaseLog` is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogOptions {
    pub durability: Durability,
    /// Pre-allocation and growth step of the file, in bytes (at least 64 KiB is used).
    pub segment_bytes: u64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            durability: Durability::Default,
            segment_bytes: 64 << 20,
        }
    }
}

/// The step of a compaction after which a crash is simulated in tests.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompactionStep {
    /// Live records written to `<log>.compact`, nothing synced.
    TempWritten,
    /// `<log>.compact` written and fdatasync'd, not yet renamed.
    TempSynced,
    /// Renamed over the log, directory not yet synced.
    Renamed,
}

/// What a compaction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactionStats {
    /// Records in the log before compaction.
    pub records_before: u64,
    /// Live leases written.
    pub live_written: u64,
    /// Removal records kept for addresses no longer live (see `LeaseLog::compact`).
    pub removals_written: u64,
    /// Logical length of the log before and after, in bytes.
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// File name of a shard's log: `leases4-shard3.log`, `leases6-shard0.log`.
pub fn log_file_name(family: Family, shard: usize) -> String {
    format!("leases{}-shard{shard}.log", family.code())
}

/// One shard's lease log for one family. Not shared between threads: the shard owns it.
pub struct LeaseLog {
    file: File,
    map: MmapMut,
    path: PathBuf,
    dir: PathBuf,
    family: Family,
    opts: LogOptions,
    /// Offset where the next frame goes.
    end: usize,
    last_seq: u64,
    /// In group-commit mode: bytes before this offset are known durable.
    synced_end: usize,
    pending: u32,
    first_pending_at: Option<Instant>,
    records: u64,
    open_report: LogReport,
    /// The file a compaction replaced, until the owner takes it (`take_retired`).
    retired: Option<RetiredLog>,
}

/// The file and mapping of a log a compaction replaced. Dropping it unmaps the old log and,
/// as its last reference, frees its blocks: tens of milliseconds for a log of a million leases,
/// so a shard hands it to another thread rather than pausing for it.
pub struct RetiredLog {
    _map: MmapMut,
    _file: File,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Extends the file to `len` bytes with fallocate: never by writing zeros, which makes every
/// later msync write back far more than the touched pages (DESIGN.md). Falls back to
/// `set_len` (a sparse extension) on file systems without fallocate.
fn preallocate(file: &File, len: u64, path: &Path) -> Result<(), StorageError> {
    let off_len = libc::off_t::try_from(len).map_err(|_| StorageError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })?;
    // SAFETY: plain syscall on a file descriptor we own; no memory is passed.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, off_len) };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EOPNOTSUPP) {
        return file.set_len(len).map_err(io_err(path));
    }
    Err(StorageError::Io {
        path: path.to_path_buf(),
        source: err,
    })
}

fn map_file(file: &File, path: &Path) -> Result<MmapMut, StorageError> {
    // SAFETY: the file is locked exclusively (flock) by this process for as long as the map
    // lives, so no other writer changes it under us; readers in other processes (export) only
    // read, and validate every frame with its checksum.
    unsafe { MmapMut::map_mut(file) }.map_err(io_err(path))
}

fn lock_exclusive(file: &File, path: &Path) -> Result<(), StorageError> {
    // SAFETY: plain syscall on a file descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(())
    } else {
        Err(StorageError::Locked {
            path: path.to_path_buf(),
        })
    }
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Offset one past the last non-zero byte of `bytes`, scanning 64-byte blocks from the end.
fn nonzero_extent(bytes: &[u8]) -> usize {
    const ZERO: [u8; 64] = [0; 64];
    let full = bytes.len() / 64 * 64;
    let tail = bytes.get(full..).unwrap_or(&[]);
    if let Some(i) = tail.iter().rposition(|b| *b != 0) {
        return full + i + 1;
    }
    match bytes
        .get(..full)
        .unwrap_or(&[])
        .chunks_exact(64)
        .rposition(|c| c != ZERO)
    {
        Some(block) => {
            let start = block * 64;
            let chunk = bytes.get(start..start + 64).unwrap_or(&[]);
            start + chunk.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1)
        }
        None => 0,
    }
}

impl LeaseLog {
    /// Opens (creating if needed) the log of `shard` for `family` in `dir` and positions it after
    /// its last good record. A damaged tail is reported in [`LeaseLog::open_report`] and zeroed,
    /// so that records appended now can never be followed by stale bytes. Fails with
    /// `Locked` when another process has the log open.
    pub fn open(
        dir: &Path,
        family: Family,
        shard: usize,
        opts: LogOptions,
    ) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(log_file_name(family, shard));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path))?;
        lock_exclusive(&file, &path)?;
        // A compaction that died before its rename left this behind; the log itself is whole.
        let stale = compact_temp_path(&path);
        if stale.exists() {
            std::fs::remove_file(&stale).map_err(io_err(&stale))?;
        }
        let segment = opts.segment_bytes.max(MIN_SEGMENT_BYTES);
        let len = file.metadata().map_err(io_err(&path))?.len();
        let created = len < (FILE_HEADER_LEN + 8) as u64;
        if created {
            preallocate(&file, segment, &path)?;
        }
        let mut map = map_file(&file, &path)?;
        let scan = scan_log(&map, family.code(), |_, _| {});
        if scan.damage == Some(record::Damage::BadFileHeader) {
            return Err(StorageError::NotALeaseLog { path });
        }
        let header = record::file_header(family.code());
        if map.get(..FILE_HEADER_LEN) != Some(&header[..]) {
            if let Some(h) = map.get_mut(..FILE_HEADER_LEN) {
                h.copy_from_slice(&header);
            }
        }
        let extent = scan.end + nonzero_extent(map.get(scan.end..).unwrap_or(&[]));
        if let Some(garbage) = map.get_mut(scan.end..extent) {
            garbage.fill(0);
        }
        let open_report = LogReport {
            file: path.clone(),
            offset: scan.end as u64,
            kept: scan.kept,
            dropped: scan.dropped,
            reason: scan.damage,
        };
        let mut log = LeaseLog {
            file,
            map,
            path,
            dir: dir.to_path_buf(),
            family,
            opts,
            end: scan.end,
            last_seq: scan.last_seq,
            synced_end: 0,
            pending: 0,
            first_pending_at: None,
            records: scan.kept,
            open_report,
            retired: None,
        };
        // Header, zeroed tail and (for a new file) its directory entry are made durable
        // before anything new is acknowledged.
        if matches!(opts.durability, Durability::GroupCommit { .. }) {
            log.flush_range(0, extent.max(log.end))?;
            if created {
                sync_dir(dir)?;
            }
        }
        log.synced_end = log.end;
        Ok(log)
    }

    /// The file the last compaction replaced, for the caller to drop off the shard (dropping
    /// it is the slow part of a swap). Left here, it goes at the next swap or with the log.
    pub fn take_retired(&mut self) -> Option<RetiredLog> {
        self.retired.take()
    }

    /// What `open` found: records kept, and the first damaged record if any.
    pub fn open_report(&self) -> &LogReport {
        &self.open_report
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Logical length of the log in bytes (header and records): what compaction would shrink.
    pub fn logical_len(&self) -> u64 {
        self.end as u64
    }

    /// Records in the log since it was opened or last compacted (compaction resets it to the
    /// number of records it wrote).
    pub fn record_count(&self) -> u64 {
        self.records
    }

    /// Records appended but not yet durable (group-commit mode; always 0 in default mode).
    pub fn pending_records(&self) -> u32 {
        self.pending
    }

    /// End of a batch: in group-commit mode fdatasync when records are pending (returns whether
    /// it synced); in default mode nothing. Replies carrying ACKs are sent only after this.
    pub fn commit(&mut self) -> Result<bool, StorageError> {
        match self.opts.durability {
            Durability::Default => Ok(false),
            Durability::GroupCommit { .. } if self.pending == 0 => Ok(false),
            Durability::GroupCommit { .. } => {
                self.sync_pending()?;
                Ok(true)
            }
        }
    }

    /// When the oldest pending record must be synced by (group-commit `max_delay`); `None` when
    /// nothing is pending or in default mode.
    pub fn needs_commit_by(&self) -> Option<Instant> {
        match self.opts.durability {
            Durability::GroupCommit { max_delay, .. } => {
                self.first_pending_at.map(|t| t + max_delay)
            }
            Durability::Default => None,
        }
    }

    /// Makes everything written so far durable, whatever the mode (clean shutdown).
    pub fn sync_now(&mut self) -> Result<(), StorageError> {
        self.flush_range(0, self.end)?;
        self.synced_end = self.end;
        self.pending = 0;
        self.first_pending_at = None;
        Ok(())
    }

    fn sync_pending(&mut self) -> Result<(), StorageError> {
        self.flush_range(self.synced_end, self.end)?;
        self.synced_end = self.end;
        self.pending = 0;
        self.first_pending_at = None;
        Ok(())
    }

    /// msync(MS_SYNC) of `[from, to)`: on Linux an fdatasync restricted to those pages.
    fn flush_range(&self, from: usize, to: usize) -> Result<(), StorageError> {
        let to = to.min(self.map.len());
        if to <= from {
            return Ok(());
        }
        self.map
            .flush_range(from, to - from)
            .map_err(io_err(&self.path))
    }

    fn next_seq(&mut self) -> u64 {
        // A hybrid clock: wall-clock nanoseconds, forced to increase within the log. It orders
        // records of *different* shard logs too (an address released by one shard and taken by
        // another), which a per-log counter could not.
        self.last_seq = now_nanos().max(self.last_seq + 1);
        self.last_seq
    }

    /// Grows the file by whole segments until `frame_len` more bytes fit, and remaps it.
    fn ensure_room(&mut self, frame_len: usize) -> Result<(), StorageError> {
        // One spare zero word after the frame keeps the end marker inside the file.
        let needed = self.end + frame_len + 8;
        if needed <= self.map.len() {
            return Ok(());
        }
        let step = self.opts.segment_bytes.max(MIN_SEGMENT_BYTES);
        let mut new_len = self.map.len() as u64;
        while new_len < needed as u64 {
            new_len += step;
        }
        preallocate(&self.file, new_len, &self.path)?;
        self.map = map_file(&self.file, &self.path)?;
        Ok(())
    }

    fn after_append(&mut self, frame_len: usize) -> Result<(), StorageError> {
        self.end += frame_len;
        self.records += 1;
        if let Durability::GroupCommit { max_batch, .. } = self.opts.durability {
            if self.pending == 0 {
                self.first_pending_at = Some(Instant::now());
            }
            self.pending += 1;
            if self.pending >= max_batch.max(1) {
                self.sync_pending()?;
            }
        }
        Ok(())
    }

    fn check_family(&self, kind: LeaseKind) -> Result<(), StorageError> {
        if Family::of(kind) == self.family {
            Ok(())
        } else {
            Err(StorageError::FamilyMismatch {
                kind,
                log: self.family,
            })
        }
    }

    fn append_upsert(&mut self, lease: &Lease, seq: Option<u64>) -> Result<(), StorageError> {
        self.check_family(lease.kind)?;
        let payload_len = record::upsert_payload_len(lease)
            .ok_or(StorageError::RecordTooLarge { addr: lease.addr })?;
        let frame_len = record::padded(FRAME_HEADER_LEN + payload_len);
        self.ensure_room(frame_len)?;
        let seq = match seq {
            Some(s) => s,
            None => self.next_seq(),
        };
        let at = self.end;
        if let Some(out) = self.map.get_mut(at..at + frame_len) {
            record::encode_upsert(out, seq, lease, payload_len);
        }
        self.after_append(frame_len)
    }

    fn append_removal(&mut self, key: LeaseKey, seq: Option<u64>) -> Result<(), StorageError> {
        let frame_len = record::padded(FRAME_HEADER_LEN + FIXED_PAYLOAD_LEN);
        self.ensure_room(frame_len)?;
        let seq = match seq {
            Some(s) => s,
            None => self.next_seq(),
        };
        let at = self.end;
        if let Some(out) = self.map.get_mut(at..at + frame_len) {
            record::encode_removal(out, seq, key);
        }
        self.after_append(frame_len)
    }

    /// Rewrites the log to hold exactly `live` (the shard's lease table), the equivalent of
    /// Kea's LFC, in one call: [`LeaseLog::begin_compaction`], `CompactionJob::run`,
    /// [`LeaseLog::finish_compaction`]. A shard that must not pause runs the middle step on
    /// another thread.
    pub fn compact(
        &mut self,
        live: impl Iterator<Item = Lease>,
    ) -> Result<CompactionStats, StorageError> {
        let job = self.begin_compaction(live)?;
        let prepared = job.run()?;
        self.finish_compaction(prepared)
    }

    /// `compact`, stopping right after `step` as if the process died there.
    #[doc(hidden)]
    pub fn compact_and_crash_after(
        &mut self,
        live: impl Iterator<Item = Lease>,
        step: CompactionStep,
    ) -> Result<(), StorageError> {
        let job = self.begin_compaction(live)?;
        let sync = step != CompactionStep::TempWritten;
        let prepared = job.run_inner(sync)?;
        if step == CompactionStep::Renamed {
            self.finish_inner(prepared, true)?;
        }
        Ok(())
    }

    /// Snapshot for a compaction, taken between two batches: the lease table (`live`) and the
    /// log position that table reflects. Cheap: it only collects `live` and reserves sequence
    /// numbers for leases that have no record in this log yet. The returned job is `Send`.
    ///
    /// Each live lease keeps the sequence number of its newest record here, so that a newer
    /// record of the same address in another shard's log still wins at recovery. Addresses
    /// that have records here but are not in `live` get a removal record with their last
    /// sequence number (bounded by the pool sizes), so an older copy in another shard's log
    /// cannot come back.
    pub fn begin_compaction(
        &mut self,
        live: impl Iterator<Item = Lease>,
    ) -> Result<CompactionJob, StorageError> {
        self.begin_compaction_of(live.map(|l| (l, None)))
    }

    /// [`LeaseLog::begin_compaction`], the job and the finish in one call, for a live set
    /// that comes from recovery after the shard count shrank: each lease with the sequence
    /// number of its winning record ([`crate::Recovery::seqs`]), in whichever log that was.
    /// Such a lease is written above every record of every log (the log it came from is
    /// deleted, and another remaining log may hold an older removal of the same address,
    /// which would otherwise win at the next recovery).
    pub fn compact_recovered(
        &mut self,
        live: impl Iterator<Item = (Lease, Option<u64>)>,
    ) -> Result<CompactionStats, StorageError> {
        let job = self.begin_compaction_of(live)?;
        let prepared = job.run()?;
        self.finish_compaction(prepared)
    }

    fn begin_compaction_of(
        &mut self,
        live: impl Iterator<Item = (Lease, Option<u64>)>,
    ) -> Result<CompactionJob, StorageError> {
        let mut newest_elsewhere = 0u64;
        let live: Vec<(Lease, bool)> = live
            .map(|(lease, won_at)| {
                if let Some(seq) = won_at {
                    newest_elsewhere = newest_elsewhere.max(seq);
                }
                (lease, won_at.is_some())
            })
            .collect();
        for (lease, _) in &live {
            self.check_family(lease.kind)?;
        }
        // The reserved range starts above this log and above every recovered lease's
        // winning record, so a recovered lease taken from it outranks all its old records.
        let fresh_seq_base = self.last_seq.max(newest_elsewhere);
        self.last_seq = fresh_seq_base + live.len() as u64;
        // Records appended from now on get numbers above the reserved range.
        Ok(CompactionJob {
            log_path: self.path.clone(),
            log_inode: inode(&self.file, &self.path)?,
            family: self.family,
            segment: self.opts.segment_bytes.max(MIN_SEGMENT_BYTES),
            snapshot_end: self.end,
            snapshot_records: self.records,
            fresh_seq_base,
            live: Some(live),
        })
    }

    /// Snapshot for a compaction that keeps the newest record of every address in the log
    /// (an upsert, or a removal so that an older copy in another shard's log cannot come
    /// back), the way Kea's LFC works from the lease file rather than the server's memory.
    /// Costs the shard nothing but noting the log's end: the job reads the log up to there on
    /// its own thread, copying the winning frames verbatim (same sequence numbers, so the order
    /// against other shards' logs is unchanged), and `finish_compaction` appends everything
    /// recorded since. The compacted log therefore recovers to exactly what the log did, at
    /// every step, whatever the shard changed meanwhile, and it never needs the lease table
    /// (which may hold leases whose records live in another shard's log, after a change of
    /// thread-pool-size).
    pub fn begin_log_compaction(&mut self) -> Result<CompactionJob, StorageError> {
        Ok(CompactionJob {
            log_path: self.path.clone(),
            log_inode: inode(&self.file, &self.path)?,
            family: self.family,
            segment: self.opts.segment_bytes.max(MIN_SEGMENT_BYTES),
            snapshot_end: self.end,
            snapshot_records: self.records,
            fresh_seq_base: self.last_seq,
            live: None,
        })
    }

    /// [`LeaseLog::begin_log_compaction`], the job and the finish in one call.
    pub fn compact_log(&mut self) -> Result<CompactionStats, StorageError> {
        let prepared = self.begin_log_compaction()?.run()?;
        self.finish_compaction(prepared)
    }

    /// `compact_log` with records appended between its steps (`between_begin_and_run`, then
    /// `between_run_and_finish`), stopping right after `step` as if the process died there
    /// (`None`: it completes).
    #[doc(hidden)]
    pub fn compact_log_with_changes_and_crash_after(
        &mut self,
        between_begin_and_run: impl FnOnce(&mut LeaseLog) -> Result<(), StorageError>,
        between_run_and_finish: impl FnOnce(&mut LeaseLog) -> Result<(), StorageError>,
        step: Option<CompactionStep>,
    ) -> Result<(), StorageError> {
        let job = self.begin_log_compaction()?;
        between_begin_and_run(self)?;
        let prepared = job.run_inner(step != Some(CompactionStep::TempWritten))?;
        between_run_and_finish(self)?;
        match step {
            Some(CompactionStep::TempWritten | CompactionStep::TempSynced) => Ok(()),
            Some(CompactionStep::Renamed) => self.finish_inner(prepared, true).map(|_| ()),
            None => self.finish_compaction(prepared).map(|_| ()),
        }
    }

    /// Completes a compaction on the shard: copies the records appended since the snapshot
    /// into the new file, renames it over the log and switches to it; in group-commit mode it
    /// syncs the copied records and the directory first (everything pending a group commit is
    /// durable afterwards). Costs a copy of the records since the snapshot (plus two syncs in
    /// group-commit mode). The replaced file waits in [`LeaseLog::take_retired`].
    pub fn finish_compaction(
        &mut self,
        prepared: PreparedCompaction,
    ) -> Result<CompactionStats, StorageError> {
        self.finish_inner(prepared, false)
    }

    fn finish_inner(
        &mut self,
        mut prepared: PreparedCompaction,
        crash_after_rename: bool,
    ) -> Result<CompactionStats, StorageError> {
        if prepared.log_inode != inode(&self.file, &self.path)?
            || prepared.snapshot_end > self.end
            || prepared.log_path != self.path
        {
            return Err(StorageError::CompactionOutdated {
                path: self.path.clone(),
            });
        }
        let tail = self.map.get(prepared.snapshot_end..self.end).unwrap_or(&[]);
        let tail_start = prepared.end;
        let needed = prepared.end + tail.len() + 8;
        if needed > prepared.map.len() {
            let mut new_len = prepared.map.len() as u64;
            while new_len < needed as u64 {
                new_len += prepared.segment;
            }
            preallocate(&prepared.file, new_len, &prepared.temp_path)?;
            prepared.map = map_file(&prepared.file, &prepared.temp_path)?;
        }
        if let Some(dst) = prepared.map.get_mut(tail_start..tail_start + tail.len()) {
            dst.copy_from_slice(tail);
        }
        prepared.end += tail.len();
        let tail_records = self.records - prepared.snapshot_records;
        // Group commit: the tail holds acknowledged records, durable in the old file; they
        // must be durable in the new one, and the rename too, before the old one goes. The
        // default mode promises only what survives a crash of the process (the page cache),
        // which the rename alone keeps, so the shard does not wait for the disk there.
        let durable = matches!(self.opts.durability, Durability::GroupCommit { .. });
        if durable && !tail.is_empty() {
            prepared
                .map
                .flush_range(tail_start, tail.len())
                .map_err(io_err(&prepared.temp_path))?;
        }
        std::fs::rename(&prepared.temp_path, &self.path).map_err(io_err(&self.path))?;
        if crash_after_rename {
            return Ok(prepared.stats);
        }
        if durable {
            sync_dir(&self.dir)?;
        }
        let mut stats = prepared.stats;
        stats.bytes_after = prepared.end as u64;
        let old_file = std::mem::replace(&mut self.file, prepared.file);
        let old_map = std::mem::replace(&mut self.map, prepared.map);
        self.retired = Some(RetiredLog {
            _map: old_map,
            _file: old_file,
        });
        self.end = prepared.end;
        self.synced_end = self.end;
        self.pending = 0;
        self.first_pending_at = None;
        self.records = stats.live_written + stats.removals_written + tail_records;
        Ok(stats)
    }
}

fn inode(file: &File, path: &Path) -> Result<(u64, u64), StorageError> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().map_err(io_err(path))?;
    Ok((meta.dev(), meta.ino()))
}

/// The part of a compaction that may run on any thread: reads the log up to the snapshot
/// (the bytes before it never change: the log is append-only) and writes and syncs the new
/// file. See [`LeaseLog::begin_compaction`].
pub struct CompactionJob {
    log_path: PathBuf,
    log_inode: (u64, u64),
    family: Family,
    segment: u64,
    snapshot_end: usize,
    snapshot_records: u64,
    fresh_seq_base: u64,
    /// The shard's live leases (`begin_compaction`), each with whether it must take a fresh
    /// sequence number (`compact_recovered`), or `None` to keep the newest record of every
    /// address in the log (`begin_log_compaction`).
    live: Option<Vec<(Lease, bool)>>,
}

/// A compacted file written and synced, waiting for [`LeaseLog::finish_compaction`].
pub struct PreparedCompaction {
    log_path: PathBuf,
    log_inode: (u64, u64),
    temp_path: PathBuf,
    file: File,
    map: MmapMut,
    end: usize,
    segment: u64,
    snapshot_end: usize,
    snapshot_records: u64,
    stats: CompactionStats,
}

/// Entry of a compacted log, in sequence order.
enum CompactEntry {
    Lease(Lease),
    Removal(LeaseKey),
    /// A frame of the old log copied as it is: (offset, size, is a removal).
    Frame(usize, usize, bool),
}

impl CompactionJob {
    /// Writes `<log>.compact` with the live leases and removals in sequence order and
    /// fdatasyncs it. Runs without the shard; one job per log at a time.
    pub fn run(self) -> Result<PreparedCompaction, StorageError> {
        self.run_inner(true)
    }

    fn run_inner(self, sync: bool) -> Result<PreparedCompaction, StorageError> {
        let old = File::open(&self.log_path).map_err(io_err(&self.log_path))?;
        if inode(&old, &self.log_path)? != self.log_inode {
            return Err(StorageError::CompactionOutdated {
                path: self.log_path.clone(),
            });
        }
        // SAFETY: read-only map of our own log; the range read (before the snapshot end) is
        // never written again, appends only go after it.
        let old_map = unsafe { memmap2::Mmap::map(&old) }.map_err(io_err(&self.log_path))?;
        let image = old_map.get(..self.snapshot_end).unwrap_or(&[]);
        let mut stats = CompactionStats {
            records_before: self.snapshot_records,
            bytes_before: self.snapshot_end as u64,
            ..CompactionStats::default()
        };
        let mut entries = match self.live {
            Some(live) => entries_for_live_set(image, self.family, self.fresh_seq_base, live),
            None => newest_frames(image, self.family),
        };
        // Sequence numbers are unique: one per key from this log, fresh ones from the
        // reserved range; sorting restores the log's increasing order.
        entries.sort_unstable_by_key(|(seq, _)| *seq);

        let mut frame_lens = Vec::with_capacity(entries.len());
        let mut bytes_needed = FILE_HEADER_LEN + 8;
        for (_, entry) in &entries {
            let len = match entry {
                CompactEntry::Lease(lease) => {
                    let payload = record::upsert_payload_len(lease)
                        .ok_or(StorageError::RecordTooLarge { addr: lease.addr })?;
                    (record::padded(FRAME_HEADER_LEN + payload), payload)
                }
                CompactEntry::Removal(_) => (
                    record::padded(FRAME_HEADER_LEN + FIXED_PAYLOAD_LEN),
                    FIXED_PAYLOAD_LEN,
                ),
                CompactEntry::Frame(_, size, _) => (*size, 0),
            };
            bytes_needed += len.0;
            frame_lens.push(len);
        }
        let temp_path = compact_temp_path(&self.log_path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp_path)
            .map_err(io_err(&temp_path))?;
        lock_exclusive(&file, &temp_path)?;
        // One spare segment: the records appended meanwhile are copied in at the finish.
        let temp_len = (bytes_needed as u64).div_ceil(self.segment) * self.segment + self.segment;
        preallocate(&file, temp_len, &temp_path)?;
        let mut map = map_file(&file, &temp_path)?;
        if let Some(h) = map.get_mut(..FILE_HEADER_LEN) {
            h.copy_from_slice(&record::file_header(self.family.code()));
        }
        let mut end = FILE_HEADER_LEN;
        for ((seq, entry), (frame_len, payload_len)) in entries.into_iter().zip(frame_lens) {
            let Some(out) = map.get_mut(end..end + frame_len) else {
                break;
            };
            match entry {
                CompactEntry::Lease(lease) => {
                    record::encode_upsert(out, seq, &lease, payload_len);
                    stats.live_written += 1;
                }
                CompactEntry::Removal(key) => {
                    record::encode_removal(out, seq, key);
                    stats.removals_written += 1;
                }
                CompactEntry::Frame(at, size, is_removal) => {
                    let Some(frame) = image.get(at..at + size) else {
                        break;
                    };
                    out.copy_from_slice(frame);
                    if is_removal {
                        stats.removals_written += 1;
                    } else {
                        stats.live_written += 1;
                    }
                }
            }
            end += frame_len;
        }
        if sync {
            map.flush_range(0, end).map_err(io_err(&temp_path))?;
            file.sync_all().map_err(io_err(&temp_path))?;
        }
        Ok(PreparedCompaction {
            log_path: self.log_path,
            log_inode: self.log_inode,
            temp_path,
            file,
            map,
            end,
            segment: self.segment,
            snapshot_end: self.snapshot_end,
            snapshot_records: self.snapshot_records,
            stats,
        })
    }
}

/// What a compaction from the shard's live set writes: each live lease with the sequence
/// number of its newest record in `image` (or a fresh one from the range reserved after
/// `fresh_seq_base`: always for a lease marked so, one recovered from another log), and a
/// removal for every address with records but no live lease.
fn entries_for_live_set(
    image: &[u8],
    family: Family,
    fresh_seq_base: u64,
    live: Vec<(Lease, bool)>,
) -> Vec<(u64, CompactEntry)> {
    let mut newest: KeyMap<u64> = KeyMap::default();
    scan_log(image, family.code(), |_, frame| {
        if let Some(head) = record::payload_head(frame.payload) {
            newest.insert(head.key, frame.seq);
        }
    });
    let mut fresh_seq = fresh_seq_base;
    let mut live_by_key: KeyMap<(u64, Lease)> = KeyMap::default();
    for (lease, always_fresh) in live {
        let key = LeaseKey::of(&lease);
        let seq = match newest.get(&key).filter(|_| !always_fresh) {
            Some(seq) => *seq,
            None => {
                fresh_seq += 1;
                fresh_seq
            }
        };
        live_by_key.insert(key, (seq, lease));
    }
    let mut entries: Vec<(u64, CompactEntry)> =
        Vec::with_capacity(newest.len().max(live_by_key.len()));
    for (key, seq) in &newest {
        if !live_by_key.contains_key(key) {
            entries.push((*seq, CompactEntry::Removal(*key)));
        }
    }
    entries.extend(
        live_by_key
            .into_values()
            .map(|(seq, lease)| (seq, CompactEntry::Lease(lease))),
    );
    entries
}

/// What a compaction from the log writes: the newest frame of every address in `image`, as
/// it is (what recovery of this log alone would apply).
fn newest_frames(image: &[u8], family: Family) -> Vec<(u64, CompactEntry)> {
    let mut newest: KeyMap<(u64, CompactEntry)> = KeyMap::default();
    scan_log(image, family.code(), |at, frame| {
        if let Some(head) = record::payload_head(frame.payload) {
            newest.insert(
                head.key,
                (
                    frame.seq,
                    CompactEntry::Frame(at, frame.size, head.is_removal),
                ),
            );
        }
    });
    newest.into_values().collect()
}

fn compact_temp_path(log_path: &Path) -> PathBuf {
    let mut name = log_path.as_os_str().to_owned();
    name.push(".compact");
    PathBuf::from(name)
}

impl LeaseSink for LeaseLog {
    fn record(&mut self, lease: &Lease) -> Result<(), StorageError> {
        self.append_upsert(lease, None)
    }

    fn last_seq(&self) -> LogSeq {
        LogSeq(self.last_seq)
    }

    fn record_after(&mut self, lease: &Lease, after: LogSeq) -> Result<(), StorageError> {
        // Above both this log's clock and the other log's newest record, whatever the two
        // wall clocks said when each was written.
        let seq = self.next_seq().max(after.0.saturating_add(1));
        self.last_seq = seq;
        self.append_upsert(lease, Some(seq))
    }

    fn remove(
        &mut self,
        kind: LeaseKind,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<(), StorageError> {
        self.check_family(kind)?;
        self.append_removal(LeaseKey::new(kind, addr, prefix_len), None)
    }
}
