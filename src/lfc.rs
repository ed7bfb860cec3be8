//! Lease file cleanup (Kea's LFC, `lease-database.lfc-interval`): every interval, a shard
//! rewrites its lease log to hold only its live leases, without pausing: the shard snapshots
//! its table (begin), a helper thread writes and syncs the new file (run), and the shard swaps
//! it in at a later tick (finish), copying what it appended meanwhile.

use corelease_storage::{CompactionJob, LeaseLog, PreparedCompaction, StorageError};
use corelease_types::Lease;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

pub struct Lfc {
    interval: Option<Duration>,
    next: Instant,
    running: Option<Receiver<Result<PreparedCompaction, StorageError>>>,
    shard: usize,
}

impl Lfc {
    /// `interval_secs` 0 disables it, as in Kea.
    pub fn new(interval_secs: u32, shard: usize) -> Lfc {
        let interval = (interval_secs > 0).then(|| Duration::from_secs(u64::from(interval_secs)));
        Lfc {
            interval,
            next: Instant::now() + interval.unwrap_or(Duration::ZERO),
            running: None,
            shard,
        }
    }

    /// Called from the shard's tick with its log and a snapshot source of its live leases
    /// (called only when a compaction starts).
    pub fn on_tick<I: Iterator<Item = Lease>>(
        &mut self,
        log: &mut LeaseLog,
        live: impl FnOnce() -> I,
    ) {
        if let Some(rx) = &self.running {
            match rx.try_recv() {
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    tracing::error!(target: "DHCPSRV_MEMFILE_LFC_EXECUTE", shard = self.shard, "lease file cleanup thread died");
                    self.running = None;
                }
                Ok(Err(e)) => {
                    tracing::error!(target: "DHCPSRV_MEMFILE_LFC_EXECUTE", shard = self.shard, "lease file cleanup failed: {e}");
                    self.running = None;
                }
                Ok(Ok(prepared)) => {
                    self.running = None;
                    match log.finish_compaction(prepared) {
                        Ok(stats) => {
                            tracing::info!(target: "DHCPSRV_MEMFILE_LFC_EXECUTE", shard = self.shard,
                            before = stats.records_before, live = stats.live_written, "lease file cleanup done")
                        }
                        Err(e) => {
                            tracing::error!(target: "DHCPSRV_MEMFILE_LFC_EXECUTE", shard = self.shard, "lease file cleanup swap failed: {e}")
                        }
                    }
                }
            }
        }
        let Some(interval) = self.interval else {
            return;
        };
        if self.running.is_some() || Instant::now() < self.next {
            return;
        }
        self.next = Instant::now() + interval;
        match log.begin_compaction(live()) {
            Ok(job) => self.running = Some(spawn_job(job, self.shard)),
            Err(e) => {
                tracing::error!(target: "DHCPSRV_MEMFILE_LFC_EXECUTE", shard = self.shard, "lease file cleanup could not start: {e}")
            }
        }
    }
}

fn spawn_job(
    job: CompactionJob,
    shard: usize,
) -> Receiver<Result<PreparedCompaction, StorageError>> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("lfc-{shard}"))
        .spawn(move || {
            let _ = tx.send(job.run());
        });
    if let Err(e) = spawned {
        tracing::error!(target: "DHCPSRV_MEMFILE_LFC_EXECUTE", shard, "cannot start lease file cleanup thread: {e}");
    }
    rx
}
