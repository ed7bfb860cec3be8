//! Lease file cleanup (Kea's LFC, `lease-database.lfc-interval`): every interval, a shard
//! rewrites its lease log to hold only the newest record of each address, without pausing: the
//! shard notes where its log ends (begin, no copy of anything), a helper thread reads the log up
//! to there and writes and syncs the new file (run), and the shard swaps it in at a later tick
//! (finish), copying what it appended meanwhile. Like Kea's LFC it works from the lease file,
//! not from the server's memory, so its cost on the shard does not grow with the lease count.

use corelease_storage::{CompactionJob, LeaseLog, PreparedCompaction, RetiredLog, StorageError};
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

    /// Called from the shard's tick with its log.
    pub fn on_tick(&mut self, log: &mut LeaseLog) {
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
                    let finished = log.finish_compaction(prepared);
                    if let Some(old) = log.take_retired() {
                        drop_off_shard(old, self.shard);
                    }
                    match finished {
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
        match log.begin_log_compaction() {
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

/// Drops the log file a compaction replaced on a helper thread: unmapping it and freeing its
/// blocks takes tens of milliseconds for a large log.
fn drop_off_shard(old: RetiredLog, shard: usize) {
    let spawned = std::thread::Builder::new()
        .name(format!("lfc-drop-{shard}"))
        .spawn(move || drop(old));
    if let Err(e) = spawned {
        tracing::warn!(target: "DHCPSRV_MEMFILE_LFC_EXECUTE", shard, "old lease file released on the shard (no helper thread: {e})");
    }
}
