//! config-set / config-reload / SIGHUP for both servers: the control thread's half of the
//! reload protocol of `corelease_alloc::reload` (ARCHITECTURE.md "Config reload"). Every
//! shard's state for the new configuration is built here from copies its shard hands over
//! in chunks while it keeps serving, caught up with the changes made meanwhile, then every
//! shard switches behind one three-point [`Rendezvous`]: all or none. The family servers
//! (src/server4.rs, src/server6.rs) implement [`ReloadShard`] for their shard handler.

use crate::shard_jobs::{ShardJobs, SHARD_ANSWER_TIMEOUT};
use corelease_alloc::reload::{ReloadBuild, ReloadTarget};
use corelease_types::Lease;
use serde_json::Value;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long shards wait for each other at a reload's rendezvous points: pausing takes a
/// batch (microseconds to milliseconds); the fix-ups after it take about a microsecond per
/// lease changed since the last catch-up.
const PAUSE_TIMEOUT: Duration = Duration::from_secs(2);
const REBUILD_TIMEOUT: Duration = Duration::from_secs(10);
/// Points of a reload's rendezvous: all paused, all forgot their stale copies, all caught up.
const RENDEZVOUS_POINTS: usize = 3;

/// Leases a shard copies for a reload in one job: about a millisecond of its time (a hash
/// lookup and a clone per lease), so packets wait at most that long behind one chunk.
const RELOAD_COPY_CHUNK: usize = 8192;
/// Catch-up rounds before the switch: each takes the changes since the previous one off the
/// shards; stop once a round brought fewer than RELOAD_CATCH_UP_ENOUGH per shard, since the
/// switch then fixes up about as many (under load the changes per round shrink with the
/// round's length: the copy takes longest, the rounds after it milliseconds).
const RELOAD_CATCH_UP_ROUNDS: usize = 4;
const RELOAD_CATCH_UP_ENOUGH: usize = 256;

/// Sections a reload cannot change: sockets, shard count and lease storage are set up once
/// (DESIGN.md: shard sockets are never closed at run time).
const RESTART_ONLY: &[&str] = &[
    "interfaces-config",
    "multi-threading",
    "lease-database",
    "control-socket",
    "control-sockets",
];

/// The key a family's lease table is keyed by.
pub(crate) type KeyOf<H> = <<H as ReloadShard>::Target as ReloadTarget>::Key;

/// A shard handler whose state a reload can rebuild.
pub(crate) trait ReloadShard: Sized + 'static {
    /// The shard's protocol state (`V4Shard`, `V6Shard`).
    type Target: ReloadTarget<Key: Send + Sync + 'static> + Send + 'static;
    /// What the switch needs besides the build (the shards' statistics registry).
    type SwitchContext: Send + Sync + 'static;
    /// The state a switch replaced, handed back to be dropped off the shard: dropping a
    /// table of a million leases takes tens of milliseconds, which a shard must not spend.
    type Old: Send + 'static;

    fn shard_index(&self) -> usize;
    /// Step 1: journal on; the keys of the shard's leases (offers lapse over a reload).
    fn reload_begin(&mut self) -> Vec<KeyOf<Self>>;
    /// Step 2: copies of the leases at `keys` that are still there.
    fn reload_copy(&self, keys: &[KeyOf<Self>]) -> Vec<Lease>;
    /// Step 3: the keys changed since the journal started or was drained, with their
    /// current lease.
    fn reload_changes(&mut self) -> Vec<(KeyOf<Self>, Option<Lease>)>;
    /// Step 4: journal off; the keys changed since the last catch-up.
    fn reload_take_dirty(&mut self) -> Vec<KeyOf<Self>>;
    /// The committed lease at `key` now.
    fn reload_current(&self, key: KeyOf<Self>) -> Option<Lease>;
    /// The reload was given up: the journal stops, nothing else changed.
    fn reload_abort(&mut self);
    /// At the switch (every shard paused and caught up): the shard's outstanding offers or
    /// advertisements go into `build` holding their bits, so none is given to another client
    /// right after the reload. Returns how many were carried.
    fn reload_carry_offers(&self, build: &mut ReloadBuild<Self::Target>, now: u64) -> usize;
    /// The last step of the switch, every shard caught up: the shard takes the build as its
    /// state (carrying counters and the lease log over). Returns the conflicts and the old
    /// state. `paused` is when this shard paused and `waited` how long of that it waited for
    /// the others; `fixups` and `offers` how many leases and offers the switch loaded, for the
    /// log.
    fn reload_install(
        &mut self,
        build: ReloadBuild<Self::Target>,
        ctx: &Self::SwitchContext,
        paused: Instant,
        waited: Duration,
        fixups: usize,
        offers: usize,
    ) -> (usize, Self::Old);
}

/// A barrier of several points for config reload: every shard arrives at point 0 (all
/// paused), then at each later point in turn (the switch's steps). A shard that waits past
/// the timeout aborts the reload for all; the last point once complete cannot be aborted,
/// so either every shard switches or none does.
pub(crate) struct Rendezvous {
    shards: usize,
    state: Mutex<([usize; RENDEZVOUS_POINTS], bool)>,
    cv: Condvar,
}

impl Rendezvous {
    pub(crate) fn new(shards: usize) -> Rendezvous {
        Rendezvous {
            shards,
            state: Mutex::new(([0; RENDEZVOUS_POINTS], false)),
            cv: Condvar::new(),
        }
    }

    /// Arrives at `point` (0 ..= 2); true once every shard has, false if the reload aborted.
    pub(crate) fn arrive(&self, point: usize) -> bool {
        let timeout = if point == 0 {
            PAUSE_TIMEOUT
        } else {
            REBUILD_TIMEOUT
        };
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if st.1 {
            return false;
        }
        if let Some(n) = st.0.get_mut(point) {
            *n += 1;
        }
        self.cv.notify_all();
        loop {
            if st.0.get(point).is_some_and(|n| *n >= self.shards) {
                return true;
            }
            if st.1 {
                return false;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                st.1 = true;
                self.cv.notify_all();
                return false;
            }
            st = self
                .cv
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// How long a job held its shard: wall time, and the shard thread's CPU time (the part of
/// the wall time not spent preempted by other threads on a busy machine).
#[derive(Clone, Copy, Default)]
pub(crate) struct JobTime {
    pub(crate) wall: Duration,
    pub(crate) cpu: Duration,
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the local.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Runs `f` and measures it as a [`JobTime`].
fn timed<T>(f: impl FnOnce() -> T) -> (JobTime, T) {
    let (wall, cpu) = (Instant::now(), thread_cpu());
    let r = f();
    let t = JobTime {
        wall: wall.elapsed(),
        cpu: thread_cpu().saturating_sub(cpu),
    };
    (t, r)
}

/// The results of timed shard jobs; `longest` keeps the longest of each time.
fn untime<T>(longest: &mut JobTime, timed: Vec<(JobTime, T)>) -> Vec<T> {
    timed
        .into_iter()
        .map(|(t, r)| {
            longest.wall = longest.wall.max(t.wall);
            longest.cpu = longest.cpu.max(t.cpu);
            r
        })
        .collect()
}

/// What a reload did, for the family's DHCPx_CONFIG_COMPLETE log line.
pub(crate) struct ReloadReport {
    /// Leases dropped because another lease holds their address.
    pub(crate) conflicts: usize,
    /// The whole reload, and the part spent preparing off the shards.
    pub(crate) total: Duration,
    pub(crate) prepared: Duration,
    /// The longest the first step (journal on, list the leases) held a shard.
    pub(crate) begin: JobTime,
    /// The longest a copy or catch-up job held a shard.
    pub(crate) copy: JobTime,
    pub(crate) catch_ups: usize,
}

/// Steps 1-3 and the switch: every shard's state built by `empty_build(shard)` and filled
/// from the shards' leases, then installed on every shard or on none. On an error the
/// journals stop and every shard keeps its running state.
pub(crate) fn reload_shards<H: ReloadShard>(
    jobs: &ShardJobs<H>,
    empty_build: impl Fn(usize) -> ReloadBuild<H::Target>,
    ctx: Arc<H::SwitchContext>,
    now: u64,
) -> Result<ReloadReport, String>
where
    ReloadBuild<H::Target>: Send,
{
    let started = Instant::now();
    let (builds, begin, copy, catch_ups) = match prepare_builds(jobs, empty_build, now) {
        Ok(b) => b,
        Err(e) => {
            let _ = jobs.ask_all(|h: &mut H, _| h.reload_abort());
            return Err(e);
        }
    };
    let prepared = started.elapsed();
    // One slot per shard: each shard takes its own build out in the switch job.
    type Slot<T> = Mutex<Option<ReloadBuild<T>>>;
    let slots: Arc<Vec<Slot<H::Target>>> =
        Arc::new(builds.into_iter().map(|b| Mutex::new(Some(b))).collect());
    let rendezvous = Arc::new(Rendezvous::new(jobs.shards()));
    let within = PAUSE_TIMEOUT + REBUILD_TIMEOUT * 2 + SHARD_ANSWER_TIMEOUT;
    let results = jobs.ask_all_within(within, move |h: &mut H, _| {
        let build = slots
            .get(h.shard_index())
            .and_then(|m| m.lock().unwrap_or_else(PoisonError::into_inner).take());
        match build {
            Some(b) => switch(h, b, &rendezvous, &ctx, now),
            None => {
                h.reload_abort();
                Err(format!("shard {}: no prepared state", h.shard_index()))
            }
        }
    });
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            let _ = jobs.ask_all(|h: &mut H, _| h.reload_abort());
            return Err(e);
        }
    };
    let mut conflicts = 0;
    let mut old_states = Vec::with_capacity(results.len());
    for r in results {
        let (c, old) = r?;
        conflicts += c;
        old_states.push(old);
    }
    drop(old_states);
    Ok(ReloadReport {
        conflicts,
        total: started.elapsed(),
        prepared,
        begin,
        copy,
        catch_ups,
    })
}

type Built<T> = (Vec<ReloadBuild<T>>, JobTime, JobTime, usize);

/// Steps 1-3: every shard's build filled here, on the control thread, from copies its shard
/// hands over in chunks while it keeps serving, then caught up with the changes made
/// meanwhile.
fn prepare_builds<H: ReloadShard>(
    jobs: &ShardJobs<H>,
    empty_build: impl Fn(usize) -> ReloadBuild<H::Target>,
    now: u64,
) -> Result<Built<H::Target>, String> {
    let shards = jobs.shards();
    // Each job reports how long it held its shard: the longest stall the preparation
    // caused, logged with the reload (the switch's own pause is logged per shard).
    let (mut begin, mut copy) = (JobTime::default(), JobTime::default());
    let keys = Arc::new(untime(
        &mut begin,
        jobs.ask_all(|h: &mut H, _| timed(|| h.reload_begin()))?,
    ));
    let mut builds: Vec<ReloadBuild<H::Target>> = (0..shards).map(&empty_build).collect();
    let longest = keys.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..longest.div_ceil(RELOAD_COPY_CHUNK) {
        let keys = Arc::clone(&keys);
        let copies = untime(
            &mut copy,
            jobs.ask_all(move |h: &mut H, _| {
                timed(|| {
                    keys.get(h.shard_index())
                        .and_then(|k| k.chunks(RELOAD_COPY_CHUNK).nth(round))
                        .map(|chunk| h.reload_copy(chunk))
                        .unwrap_or_default()
                })
            })?,
        );
        for (b, c) in builds.iter_mut().zip(copies) {
            b.load(c, now);
        }
    }
    let mut catch_ups = 0;
    for _ in 0..RELOAD_CATCH_UP_ROUNDS {
        catch_ups += 1;
        let changes = untime(
            &mut copy,
            jobs.ask_all(|h: &mut H, _| timed(|| h.reload_changes()))?,
        );
        let most = changes.iter().map(Vec::len).max().unwrap_or(0);
        // Every build forgets before any loads: see corelease_alloc::reload.
        for (b, c) in builds.iter_mut().zip(&changes) {
            let changed: Vec<KeyOf<H>> = c.iter().map(|(k, _)| *k).collect();
            b.forget(&changed);
        }
        for (b, c) in builds.iter_mut().zip(changes) {
            b.load(c.into_iter().filter_map(|(_, l)| l), now);
            b.retry_deferred(now);
        }
        if most < RELOAD_CATCH_UP_ENOUGH {
            break;
        }
    }
    Ok((builds, begin, copy, catch_ups))
}

/// The switch on one shard. `build` was prepared off the shard from copies of its leases
/// and caught up with its changes; here, with every shard paused behind `rendezvous` (so
/// none allocates from the new bitmaps before all are complete), only what changed since the
/// last catch-up is fixed up: every shard forgets its stale copies, then — all have — loads
/// the current leases of those keys, then — all have — installs the build. The pause is
/// bounded by those changes, not by the number of leases. If any shard misses a rendezvous
/// all keep their running state; the kernel queues the shard's packets meanwhile, so a
/// reload drops none.
fn switch<H: ReloadShard>(
    h: &mut H,
    mut build: ReloadBuild<H::Target>,
    rendezvous: &Rendezvous,
    ctx: &H::SwitchContext,
    now: u64,
) -> Result<(usize, H::Old), String> {
    let paused = Instant::now();
    let mut waited = Duration::ZERO;
    let mut arrive = |point: usize| {
        let t = Instant::now();
        let all = rendezvous.arrive(point);
        waited += t.elapsed();
        all
    };
    let missed = |h: &mut H, what: &str| {
        h.reload_abort();
        format!("shard {}: not every shard {what} in time", h.shard_index())
    };
    if !arrive(0) {
        return Err(missed(h, "paused"));
    }
    let dirty = h.reload_take_dirty();
    build.forget(&dirty);
    if !arrive(1) {
        return Err(missed(h, "forgot its stale copies"));
    }
    build.load(dirty.iter().filter_map(|&k| h.reload_current(k)), now);
    build.retry_deferred(now);
    // After every shard's leases: an offer never takes a bit from a lease.
    let offers = h.reload_carry_offers(&mut build, now);
    if !arrive(2) {
        return Err(missed(h, "caught up"));
    }
    Ok(h.reload_install(build, ctx, paused, waited, dirty.len(), offers))
}

/// The running configuration of a server as the control plane sees it, replaced as a whole
/// by a reload: its prepared form `P`, the JSON it came from, and when it was applied.
pub(crate) struct RunningConfig<P> {
    prepared: Mutex<Arc<P>>,
    raw: Mutex<Value>,
    loaded_at: Mutex<Instant>,
    /// One reload at a time.
    reload_lock: Mutex<()>,
}

impl<P> RunningConfig<P> {
    pub(crate) fn new(prepared: Arc<P>, raw: Value, loaded_at: Instant) -> Self {
        RunningConfig {
            prepared: Mutex::new(prepared),
            raw: Mutex::new(raw),
            loaded_at: Mutex::new(loaded_at),
            reload_lock: Mutex::new(()),
        }
    }

    pub(crate) fn prepared(&self) -> Arc<P> {
        Arc::clone(&self.prepared.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn raw(&self) -> Value {
        self.raw
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Seconds since the running configuration was applied (status-get `reload`).
    pub(crate) fn age_secs(&self) -> u64 {
        self.loaded_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
            .as_secs()
    }

    /// Runs `reload` alone (one reload at a time), after refusing a candidate `raw` that
    /// changes a section only a restart can change (`root` is "Dhcp4" or "Dhcp6"). On
    /// success `prepared` and `raw` become the running configuration.
    pub(crate) fn replace<T>(
        &self,
        root: &str,
        raw: Value,
        prepared: Arc<P>,
        reload: impl FnOnce(&Arc<P>) -> Result<T, String>,
    ) -> Result<T, String> {
        let _one_at_a_time = self
            .reload_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        {
            let running = self.raw.lock().unwrap_or_else(PoisonError::into_inner);
            for key in RESTART_ONLY {
                let old = running.get(root).and_then(|d| d.get(*key));
                let new = raw.get(root).and_then(|d| d.get(*key));
                if old != new {
                    return Err(format!(
                        "{root}.{key}: changing it needs a restart; the running configuration stays"
                    ));
                }
            }
        }
        let done = reload(&prepared)?;
        *self.prepared.lock().unwrap_or_else(PoisonError::into_inner) = prepared;
        *self.raw.lock().unwrap_or_else(PoisonError::into_inner) = raw;
        *self
            .loaded_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        Ok(done)
    }
}
