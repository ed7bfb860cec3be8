//! The control thread's way into the shards, for both families: one job queue per shard.
//! A job is a closure run by the shard itself between batches (`ShardHandler::on_wake`), with
//! its handler and the current time; the control thread waits for its answer. Nothing here
//! runs on the packet path.

use corelease_shard::ShardWaker;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

/// Work for one shard, run on its thread with its handler `H` and the current time (Unix secs).
pub(crate) type Job<H> = Box<dyn FnOnce(&mut H, u64) + Send>;

/// How long the control thread waits for a shard to answer (a shard answers between batches,
/// within about a millisecond when idle).
pub(crate) const SHARD_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Jobs a shard runs per wake-up: jobs queued after that wait for the next one, so a burst of
/// commands never holds packets back for long.
const JOBS_PER_WAKE: usize = 1024;

/// The control thread's side: a sender per shard, the shards' wakers, and how many jobs wait
/// per shard (for /metrics).
pub(crate) struct ShardJobs<H> {
    senders: Vec<Sender<Job<H>>>,
    wakers: Vec<ShardWaker>,
    depth: Arc<[AtomicU64]>,
}

/// A shard's side: its queue's receiver and the shared depth counters.
pub(crate) struct JobInbox<H> {
    shard: usize,
    rx: Receiver<Job<H>>,
    depth: Arc<[AtomicU64]>,
}

/// One queue per shard: the control side, and each shard's inbox (taken by its handler).
pub(crate) fn job_queues<H>(shards: usize) -> (ShardJobs<H>, Vec<Option<JobInbox<H>>>) {
    let depth: Arc<[AtomicU64]> = (0..shards).map(|_| AtomicU64::new(0)).collect();
    let (senders, inboxes) = (0..shards)
        .map(|shard| {
            let (tx, rx) = mpsc::channel();
            let inbox = JobInbox {
                shard,
                rx,
                depth: Arc::clone(&depth),
            };
            (tx, Some(inbox))
        })
        .unzip();
    let jobs = ShardJobs {
        senders,
        wakers: Vec::new(),
        depth,
    };
    (jobs, inboxes)
}

impl<H> JobInbox<H> {
    /// The jobs waiting now (at most [`JOBS_PER_WAKE`]), for the shard to run in order.
    pub(crate) fn take(&self) -> Vec<Job<H>> {
        let jobs: Vec<Job<H>> = self.rx.try_iter().take(JOBS_PER_WAKE).collect();
        if let Some(d) = self.depth.get(self.shard) {
            d.fetch_sub(jobs.len() as u64, Ordering::Relaxed);
        }
        jobs
    }
}

impl<H: 'static> ShardJobs<H> {
    /// The shards' wakers, known once the runtime started.
    pub(crate) fn set_wakers(&mut self, wakers: Vec<ShardWaker>) {
        self.wakers = wakers;
    }

    pub(crate) fn shards(&self) -> usize {
        self.senders.len()
    }

    /// Jobs waiting per shard.
    pub(crate) fn depths(&self) -> impl Iterator<Item = u64> + '_ {
        self.depth.iter().map(|d| d.load(Ordering::Relaxed))
    }

    /// Queues `job` for shard `shard`, counted in its depth until the shard takes it, and
    /// wakes the shard.
    fn send(&self, shard: usize, job: Job<H>) -> Result<(), String> {
        let queue = self
            .senders
            .get(shard)
            .ok_or_else(|| format!("no shard {shard}"))?;
        let depth = self.depth.get(shard);
        if let Some(d) = depth {
            d.fetch_add(1, Ordering::Relaxed);
        }
        queue.send(job).map_err(|_| {
            if let Some(d) = depth {
                d.fetch_sub(1, Ordering::Relaxed);
            }
            format!("shard {shard} is not running")
        })?;
        if let Some(w) = self.wakers.get(shard) {
            w.wake();
        }
        Ok(())
    }

    /// Runs `f` on shard `shard` and waits for its result.
    pub(crate) fn ask<T: Send + 'static>(
        &self,
        shard: usize,
        f: impl FnOnce(&mut H, u64) -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = mpsc::channel();
        self.send(
            shard,
            Box::new(move |h, now| {
                let _ = tx.send(f(h, now));
            }),
        )?;
        rx.recv_timeout(SHARD_ANSWER_TIMEOUT)
            .map_err(|_| format!("shard {shard} did not answer within {SHARD_ANSWER_TIMEOUT:?}"))
    }

    /// Runs `f` on every shard, in shard order.
    pub(crate) fn ask_all<T: Send + 'static>(
        &self,
        f: impl Fn(&mut H, u64) -> T + Send + Sync + Clone + 'static,
    ) -> Result<Vec<T>, String> {
        self.ask_all_within(SHARD_ANSWER_TIMEOUT, f)
    }

    /// [`Self::ask_all`] waiting up to `timeout` per shard.
    pub(crate) fn ask_all_within<T: Send + 'static>(
        &self,
        timeout: Duration,
        f: impl Fn(&mut H, u64) -> T + Send + Sync + Clone + 'static,
    ) -> Result<Vec<T>, String> {
        // Queue on every shard first, then collect: the shards work in parallel.
        let mut pending = Vec::with_capacity(self.senders.len());
        for i in 0..self.senders.len() {
            let (tx, rx) = mpsc::channel();
            let f = f.clone();
            self.send(
                i,
                Box::new(move |h, now| {
                    let _ = tx.send(f(h, now));
                }),
            )?;
            pending.push(rx);
        }
        pending
            .into_iter()
            .enumerate()
            .map(|(i, rx)| {
                rx.recv_timeout(timeout)
                    .map_err(|_| format!("shard {i} did not answer within {timeout:?}"))
            })
            .collect()
    }
}
