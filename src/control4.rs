//! The DHCPv4 server's side of the control API: `corelease_control::Backend` over the running
//! shards. Everything that touches a shard's state (its lease table, its enabled flag) is a
//! job sent through that shard's queue and run by the shard itself between batches
//! (`ShardHandler::on_wake`); the control thread waits for the answer. Counters are read
//! from the shards' published atomics. Nothing here runs on the packet path.

use crate::server4::{Dhcp4Handler, ShardStore};
use corelease_config::{Dhcp4Config, Loaded};
use corelease_control::{Backend, LeaseQuery, LeaseUpdate, MetricsWriter, UpdateError};
use corelease_shard::{Runtime, ShardWaker};
use corelease_storage::NullSink;
use corelease_types::{Lease, SubnetId};
use corelease_v4::{
    InterfaceInfo, LeaseCommandError, LeaseUpdated, Ports, Prepared4, ReloadBuild, ShardStats4,
};
use serde_json::{json, Map, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// Work for one shard, run on its thread with its handler and the current time (Unix secs).
pub type ShardJob = Box<dyn FnOnce(&mut Dhcp4Handler, u64) + Send>;

/// How long the control thread waits for a shard to answer (a shard answers between batches,
/// within about a millisecond when idle).
const SHARD_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

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

/// A barrier of several points for config reload: every shard arrives at point 0 (all
/// paused), then at each later point in turn (the switch's steps). A shard that waits past
/// the timeout aborts the reload for all; the last point once complete cannot be aborted,
/// so either every shard switches or none does.
pub struct Rendezvous {
    shards: usize,
    state: Mutex<([usize; RENDEZVOUS_POINTS], bool)>,
    cv: Condvar,
}

impl Rendezvous {
    pub fn new(shards: usize) -> Rendezvous {
        Rendezvous {
            shards,
            state: Mutex::new(([0; RENDEZVOUS_POINTS], false)),
            cv: Condvar::new(),
        }
    }

    /// Arrives at `point` (0 ..= 2); true once every shard has, false if the reload aborted.
    pub fn arrive(&self, point: usize) -> bool {
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
struct JobTime {
    wall: Duration,
    cpu: Duration,
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

/// What a reload prepared off the shards.
struct Prepared {
    builds: Vec<ReloadBuild<ShardStore>>,
    /// The longest the first step (journal on, list the leases) held a shard.
    begin: JobTime,
    /// The longest a copy or catch-up job held a shard.
    copy: JobTime,
    catch_ups: usize,
}

/// One job queue per shard: the senders stay here, each receiver goes to its shard.
pub fn job_queues(shards: usize) -> (Vec<Sender<ShardJob>>, Vec<Option<Receiver<ShardJob>>>) {
    (0..shards)
        .map(|_| {
            let (tx, rx) = mpsc::channel();
            (tx, Some(rx))
        })
        .unzip()
}

/// How many jobs wait in each shard's queue (for /metrics): raised before a job is sent,
/// lowered by the shard as it runs one, so it never reads below zero.
pub fn job_depths(shards: usize) -> Arc<[AtomicU64]> {
    (0..shards).map(|_| AtomicU64::new(0)).collect()
}

pub struct Dhcp4Backend {
    pub runtime: Arc<Runtime>,
    pub jobs: Vec<Sender<ShardJob>>,
    /// Jobs waiting per shard (shared with the shards, which count them down).
    pub job_depth: Arc<[AtomicU64]>,
    pub wakers: Vec<ShardWaker>,
    /// The running configuration's prepared form (replaced by a reload).
    pub prepared: Mutex<Arc<Prepared4>>,
    /// What a reload prepares a new configuration with (interfaces-config cannot change).
    pub configured_ifaces: Vec<InterfaceInfo>,
    pub ports: Ports,
    /// One reload at a time.
    pub reload_lock: Mutex<()>,
    pub stats: Arc<Mutex<Vec<Option<Arc<ShardStats4>>>>>,
    pub raw_config: Mutex<Value>,
    pub config_file: Option<PathBuf>,
    pub started: Instant,
    /// When the running configuration was applied (status-get `reload`).
    pub loaded_at: Mutex<Instant>,
    pub multi_threading: bool,
    pub packet_queue_size: u32,
    pub exit_value: Arc<AtomicI32>,
    /// Set while dhcp-disable is in force (for status-get); the shards hold the real flag.
    pub disabled: Mutex<bool>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn v4_of(l: &Lease) -> Option<Ipv4Addr> {
    match l.addr {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

/// Whether a lease answers a query (the Page bound is applied by the caller).
fn matches(l: &Lease, q: &LeaseQuery) -> bool {
    match q {
        LeaseQuery::Address(a) => v4_of(l) == Some(*a),
        LeaseQuery::HwAddr { hw, subnet } => {
            l.hwaddr.as_ref().map(|h| h.as_bytes()) == Some(hw.as_bytes())
                && subnet.is_none_or(|s| s == l.subnet_id)
        }
        LeaseQuery::ClientId { id, subnet } => {
            l.client_id.as_ref().map(|c| c.as_bytes()) == Some(id.as_slice())
                && subnet.is_none_or(|s| s == l.subnet_id)
        }
        LeaseQuery::Hostname(h) => l.hostname.as_deref().is_some_and(|x| {
            x.trim_end_matches('.')
                .eq_ignore_ascii_case(h.trim_end_matches('.'))
        }),
        LeaseQuery::Subnets(s) => s.is_empty() || s.contains(&l.subnet_id),
        LeaseQuery::Page { after, .. } => v4_of(l).is_some_and(|a| a > *after),
    }
}

/// The leases of one shard that answer `query`, computed on the shard's thread: an address is
/// one hash lookup; a page selects its `limit` lowest addresses in linear time and clones only
/// those, so paging through a large table never sorts or copies the whole of it.
fn leases_on_shard(h: &Dhcp4Handler, query: &LeaseQuery) -> Vec<Lease> {
    let table = h.v4.table();
    if let LeaseQuery::Address(a) = query {
        return table
            .get(u32::from(*a))
            .filter(|e| !e.is_offer())
            .map(|e| vec![e.lease.clone()])
            .unwrap_or_default();
    }
    let mut found: Vec<&Lease> = table
        .iter()
        .filter(|e| !e.is_offer() && matches(&e.lease, query))
        .map(|e| &e.lease)
        .collect();
    if let LeaseQuery::Page { limit, .. } = query {
        if found.len() > *limit && *limit > 0 {
            found.select_nth_unstable_by_key(*limit - 1, |l| l.addr);
            found.truncate(*limit);
        }
    }
    found.into_iter().cloned().collect()
}

impl Dhcp4Backend {
    /// The running configuration's prepared form.
    pub fn current_prepared(&self) -> Arc<Prepared4> {
        Arc::clone(&self.prepared.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// config-set / config-reload / SIGHUP: validates, refuses changes that need a restart,
    /// prepares the new configuration off the shards, then has every shard switch behind one
    /// rendezvous. On any error the running configuration stays.
    fn apply(&self, loaded: Loaded<Dhcp4Config>) -> Result<(), String> {
        let _one_at_a_time = self
            .reload_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // As at startup: keys not implemented yet are reported, not refused.
        for issue in &loaded.unsupported {
            tracing::warn!(target: "DHCP4_CONFIG_UNSUPPORTED", "{issue}");
        }
        {
            let running = self
                .raw_config
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for key in RESTART_ONLY {
                let old = running.get("Dhcp4").and_then(|d| d.get(*key));
                let new = loaded.raw.get("Dhcp4").and_then(|d| d.get(*key));
                if old != new {
                    return Err(format!(
                        "Dhcp4.{key}: changing it needs a restart; the running configuration stays"
                    ));
                }
            }
        }
        let prepared = Arc::new(Prepared4::new(
            &loaded.config,
            self.configured_ifaces.clone(),
            self.ports,
        ));
        let started = Instant::now();
        let Prepared {
            builds,
            begin,
            copy,
            catch_ups,
        } = match self.prepare_builds(&prepared) {
            Ok(b) => b,
            Err(e) => {
                // The journals stop; the running state never changed.
                let _ = self.ask_all(|h, _| h.v4.reload_abort());
                return Err(e);
            }
        };
        let prepared_in = started.elapsed();
        let slots: Arc<Vec<Mutex<Option<ReloadBuild<ShardStore>>>>> =
            Arc::new(builds.into_iter().map(|b| Mutex::new(Some(b))).collect());
        let rendezvous = Arc::new(Rendezvous::new(self.jobs.len()));
        let stats = Arc::clone(&self.stats);
        let within = PAUSE_TIMEOUT + REBUILD_TIMEOUT * 2 + SHARD_ANSWER_TIMEOUT;
        let results = self.ask_all_within(within, move |h, now| {
            let build = slots
                .get(h.shard_index())
                .and_then(|m| m.lock().unwrap_or_else(PoisonError::into_inner).take());
            match build {
                Some(b) => h.reload_switch(b, &rendezvous, &stats, now),
                None => {
                    h.v4.reload_abort();
                    Err(format!("shard {}: no prepared state", h.shard_index()))
                }
            }
        });
        let results = match results {
            Ok(r) => r,
            Err(e) => {
                let _ = self.ask_all(|h, _| h.v4.reload_abort());
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
        if conflicts > 0 {
            tracing::warn!(target: "DHCP4_DYNRECONF", conflicts, "leases for an address claimed twice were dropped by the reload");
        }
        *self.prepared.lock().unwrap_or_else(PoisonError::into_inner) = prepared;
        *self
            .raw_config
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = loaded.raw;
        *self
            .loaded_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        tracing::info!(target: "DHCP4_CONFIG_COMPLETE", micros = started.elapsed().as_micros() as u64, prepared_micros = prepared_in.as_micros() as u64, begin_cpu_us = begin.cpu.as_micros() as u64, begin_wall_us = begin.wall.as_micros() as u64, copy_cpu_us = copy.cpu.as_micros() as u64, copy_wall_us = copy.wall.as_micros() as u64, catch_ups, "configuration applied on every shard");
        Ok(())
    }

    /// Steps 1-3 of a reload (`corelease_v4::ReloadBuild`): every shard's state for
    /// `prepared` built here, on the control thread, from copies its shard hands over in
    /// chunks while it keeps serving, then caught up with the changes made meanwhile.
    fn prepare_builds(&self, prepared: &Arc<Prepared4>) -> Result<Prepared, String> {
        let shards = self.jobs.len();
        let now = unix_now();
        // Each job reports how long it held its shard: the longest stall the preparation
        // caused, logged with the reload (the switch's own pause is logged per shard).
        let (mut begin, mut copy) = (JobTime::default(), JobTime::default());
        let addrs = Arc::new(untime(
            &mut begin,
            self.ask_all(|h, _| timed(|| h.v4.reload_begin()))?,
        ));
        let mut builds: Vec<ReloadBuild<ShardStore>> = (0..shards)
            .map(|i| {
                ReloadBuild::new(
                    Arc::clone(prepared),
                    i,
                    shards,
                    ShardStore::Memory(NullSink),
                )
            })
            .collect();
        let longest = addrs.iter().map(Vec::len).max().unwrap_or(0);
        for round in 0..longest.div_ceil(RELOAD_COPY_CHUNK) {
            let addrs = Arc::clone(&addrs);
            let copies = untime(
                &mut copy,
                self.ask_all(move |h, _| {
                    timed(|| {
                        addrs
                            .get(h.shard_index())
                            .and_then(|a| a.chunks(RELOAD_COPY_CHUNK).nth(round))
                            .map(|chunk| h.v4.reload_copy(chunk))
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
                self.ask_all(|h, _| timed(|| h.v4.reload_changes()))?,
            );
            let most = changes.iter().map(Vec::len).max().unwrap_or(0);
            // Every build forgets before any loads: see ReloadBuild.
            for (b, c) in builds.iter_mut().zip(&changes) {
                let changed: Vec<u32> = c.iter().map(|(a, _)| *a).collect();
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
        Ok(Prepared {
            builds,
            begin,
            copy,
            catch_ups,
        })
    }

    /// Queues `job` for shard `shard`, counted in its depth until the shard runs it.
    fn send_job(
        &self,
        shard: usize,
        queue: &Sender<ShardJob>,
        job: ShardJob,
    ) -> Result<(), String> {
        let depth = self.job_depth.get(shard);
        if let Some(d) = depth {
            d.fetch_add(1, Ordering::Relaxed);
        }
        queue.send(job).map_err(|_| {
            if let Some(d) = depth {
                d.fetch_sub(1, Ordering::Relaxed);
            }
            format!("shard {shard} is not running")
        })
    }

    /// Runs `f` on shard `shard` and waits for its result.
    fn ask<T: Send + 'static>(
        &self,
        shard: usize,
        f: impl FnOnce(&mut Dhcp4Handler, u64) -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = mpsc::channel();
        let job: ShardJob = Box::new(move |h, now| {
            let _ = tx.send(f(h, now));
        });
        let queue = self
            .jobs
            .get(shard)
            .ok_or_else(|| format!("no shard {shard}"))?;
        self.send_job(shard, queue, job)?;
        if let Some(w) = self.wakers.get(shard) {
            w.wake();
        }
        rx.recv_timeout(SHARD_ANSWER_TIMEOUT)
            .map_err(|_| format!("shard {shard} did not answer within {SHARD_ANSWER_TIMEOUT:?}"))
    }

    /// Runs `f` on every shard, in shard order.
    fn ask_all<T: Send + 'static>(
        &self,
        f: impl Fn(&mut Dhcp4Handler, u64) -> T + Send + Sync + Clone + 'static,
    ) -> Result<Vec<T>, String> {
        self.ask_all_within(SHARD_ANSWER_TIMEOUT, f)
    }

    fn ask_all_within<T: Send + 'static>(
        &self,
        timeout: Duration,
        f: impl Fn(&mut Dhcp4Handler, u64) -> T + Send + Sync + Clone + 'static,
    ) -> Result<Vec<T>, String> {
        // Queue on every shard first, then collect: the shards work in parallel.
        let mut pending = Vec::with_capacity(self.jobs.len());
        for (i, queue) in self.jobs.iter().enumerate() {
            let (tx, rx) = mpsc::channel();
            let f = f.clone();
            let job: ShardJob = Box::new(move |h, now| {
                let _ = tx.send(f(h, now));
            });
            self.send_job(i, queue, job)?;
            if let Some(w) = self.wakers.get(i) {
                w.wake();
            }
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

    fn shard_stats(&self) -> Vec<Arc<ShardStats4>> {
        self.stats
            .lock()
            .map(|r| r.iter().flatten().cloned().collect())
            .unwrap_or_default()
    }
}

impl Backend for Dhcp4Backend {
    fn version(&self) -> (String, String) {
        let v = env!("CARGO_PKG_VERSION").to_string();
        let extended = format!(
            "{v}\ncorelease DHCPv4 server, thread-per-core (glommio), lease log: mmap'd append-only"
        );
        (v, extended)
    }

    fn build_report(&self) -> String {
        format!(
            "corelease {}\nprofile: {}\ntarget: {}-{}\ncontrol API: Kea 3.0 command set (see list-commands)",
            env!("CARGO_PKG_VERSION"),
            if cfg!(debug_assertions) { "debug" } else { "release" },
            std::env::consts::ARCH,
            std::env::consts::OS,
        )
    }

    fn status(&self) -> Map<String, Value> {
        let uptime = self.started.elapsed().as_secs();
        let counters = self.runtime.counters();
        let latency = self.runtime.latency();
        let dhcp = self.shard_stats();
        let per_shard: Vec<Value> = counters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut m = json!({
                    "shard": i,
                    "received": c.received,
                    "sent": c.sent,
                    "send-errors": c.send_errors,
                    "batches": c.batches,
                    "dropped-truncated": c.dropped_truncated,
                    "recv-errors": c.recv_errors,
                    "kernel-drops": c.kernel_drops,
                    "queue-overflow-drops": c.dropped_queue_overflow,
                });
                if let (Some(h), Value::Object(o)) = (latency.get(i), &mut m) {
                    o.insert("latency-p50-us".into(), json!(h.value_at_quantile(0.5)));
                    o.insert("latency-p99-us".into(), json!(h.value_at_quantile(0.99)));
                    o.insert("latency-p999-us".into(), json!(h.value_at_quantile(0.999)));
                }
                if let (Some(s), Value::Object(o)) = (dhcp.get(i), &mut m) {
                    o.insert("pkt4-received".into(), json!(s.global.pkt4_received.get()));
                    o.insert("pkt4-ack-sent".into(), json!(s.global.pkt4_ack_sent.get()));
                }
                m
            })
            .collect();
        let disabled = self.disabled.lock().map(|d| *d).unwrap_or(false);
        let mut m = Map::new();
        m.insert("pid".into(), json!(std::process::id()));
        m.insert("uptime".into(), json!(uptime));
        let since_reload = self
            .loaded_at
            .lock()
            .map(|t| t.elapsed().as_secs())
            .unwrap_or(uptime);
        m.insert("reload".into(), json!(since_reload));
        m.insert(
            "multi-threading-enabled".into(),
            json!(self.multi_threading),
        );
        m.insert("thread-pool-size".into(), json!(self.runtime.shards()));
        m.insert("packet-queue-size".into(), json!(self.packet_queue_size));
        m.insert("sockets".into(), json!({ "status": "ready" }));
        m.insert(
            "dhcp-state".into(),
            json!({
                "globally-disabled": disabled,
                "disabled-by-user": disabled,
                "disabled-by-db-connection": false,
                "disabled-by-local-command": [],
                "disabled-by-remote-command": [],
                "disabled-by-lease-reclamation": false,
            }),
        );
        m.insert("shards".into(), json!(self.runtime.shards()));
        m.insert("shard-counters".into(), Value::Array(per_shard));
        m
    }

    fn config(&self) -> Value {
        self.raw_config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn config_file(&self) -> Option<PathBuf> {
        self.config_file.clone()
    }

    fn test_config(&self, candidate: &Value) -> Result<(), String> {
        let loaded = corelease_config::parse_dhcp4_value(candidate).map_err(|e| e.to_string())?;
        if loaded.unsupported.is_empty() {
            Ok(())
        } else {
            Err(loaded
                .unsupported
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join("; "))
        }
    }

    fn set_config(&self, candidate: &Value) -> Result<(), String> {
        let loaded = corelease_config::parse_dhcp4_value(candidate).map_err(|e| e.to_string())?;
        self.apply(loaded)
    }

    fn reload_config(&self) -> Result<String, String> {
        let path = self.config_file.as_deref().ok_or_else(|| {
            "no configuration file: the server runs the embedded default config".to_string()
        })?;
        let loaded = corelease_config::load_dhcp4_file(path).map_err(|e| e.to_string())?;
        self.apply(loaded)?;
        Ok(path.display().to_string())
    }

    fn shutdown(&self, exit_value: i32) {
        self.exit_value.store(exit_value, Ordering::Relaxed);
        // The main thread waits for SIGTERM (blocked everywhere else): the same clean path.
        // SAFETY: kill(2) on our own PID.
        unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    }

    fn set_dhcp_enabled(&self, enabled: bool, max_period: Option<u64>) -> Result<(), String> {
        let until = max_period.map(|p| unix_now().saturating_add(p));
        self.ask_all(move |h, _| h.set_enabled(enabled, until))?;
        if let Ok(mut d) = self.disabled.lock() {
            *d = !enabled;
        }
        Ok(())
    }

    fn reclaim_leases(&self, remove: bool) -> Result<u64, String> {
        let counts = self.ask_all(move |h, now| h.v4.command_reclaim_expired(now, remove))?;
        Ok(counts.iter().sum())
    }

    fn statistics(&self) -> Vec<(String, i64)> {
        corelease_v4::kea_statistics(&self.current_prepared(), &self.shard_stats())
    }

    fn shard_metrics(&self, w: &mut MetricsWriter) {
        crate::control_common::runtime_metrics(&self.runtime, w);
        use corelease_control::MetricKind::Gauge;
        for (i, d) in self.job_depth.iter().enumerate() {
            w.sample(
                "corelease_shard_control_jobs_queued",
                "Control-plane jobs (lease commands, reload steps) waiting for the shard",
                Gauge,
                "",
                &[("shard", i.to_string())],
                d.load(Ordering::Relaxed) as f64,
            );
        }
    }

    fn find_leases(&self, q: &LeaseQuery) -> Result<Vec<Lease>, String> {
        let query = q.clone();
        let per_shard = self.ask_all(move |h, _| leases_on_shard(h, &query))?;
        let mut all: Vec<Lease> = per_shard.into_iter().flatten().collect();
        all.sort_by_key(|l| l.addr);
        if let LeaseQuery::Page { limit, .. } = q {
            all.truncate(*limit);
        }
        Ok(all)
    }

    fn subnet_for(
        &self,
        addr: Ipv4Addr,
        subnet: Option<SubnetId>,
    ) -> Result<(SubnetId, u32), String> {
        self.ask(0, move |h, _| h.v4.command_subnet_for(addr, subnet))?
            .map_err(|e| e.to_string())
    }

    fn add_lease(&self, lease: Lease) -> Result<(), String> {
        let owner = crate::server4::owner_shard(&lease, self.jobs.len());
        self.ask(owner, move |h, _| {
            let r = h.v4.command_add_lease(lease);
            h.commit_log();
            r
        })?
        .map_err(|e| e.to_string())
    }

    fn delete_lease(&self, addr: Ipv4Addr) -> Result<bool, String> {
        let results = self.ask_all(move |h, _| {
            let r = h.v4.command_delete_lease(addr);
            h.commit_log();
            r.map_err(|e| e.to_string())
        })?;
        let mut any = false;
        for r in results {
            any |= r?;
        }
        Ok(any)
    }

    /// The shard holding a lease of the address does the update in one job (one log record).
    /// When the new client belongs to another shard (a changed hw-address steers elsewhere)
    /// the lease moves: the holder takes it out keeping its pool bit claimed, the new owner
    /// puts it in; if the owner refuses, the holder gets it back. No other client can take
    /// the address in between.
    fn update_lease(&self, lease: Lease, force_create: bool) -> Result<LeaseUpdate, UpdateError> {
        let IpAddr::V4(addr) = lease.addr else {
            return Err(UpdateError::Failed(format!(
                "{} is not an IPv4 address",
                lease.addr
            )));
        };
        let a = u32::from(addr);
        let holders = self
            .ask_all(move |h, _| h.v4.table().get(a).is_some_and(|e| !e.is_offer()))
            .map_err(UpdateError::Failed)?;
        let owner = crate::server4::owner_shard(&lease, self.jobs.len());
        let holder = holders.iter().position(|held| *held);
        let update_error = |e: LeaseCommandError| match e {
            LeaseCommandError::NoSuchLease(_) => UpdateError::NoSuchLease(e.to_string()),
            LeaseCommandError::Taken(_) | LeaseCommandError::Exists(_) => {
                UpdateError::Conflict(e.to_string())
            }
            other => UpdateError::Failed(other.to_string()),
        };
        match holder {
            Some(from) if from != owner => {
                let taken = self
                    .ask(from, move |h, _| {
                        let r = h.v4.command_take_for_move(addr);
                        h.commit_log();
                        r
                    })
                    .map_err(UpdateError::Failed)?
                    .map_err(update_error)?;
                // Gone meanwhile (released by its client): Kea's "retry might succeed".
                let Some(taken) = taken else {
                    return Err(update_error(LeaseCommandError::NoSuchLease(addr)));
                };
                let refused = self
                    .ask(owner, move |h, _| {
                        let r = h.v4.command_put_moved_lease(lease, &taken);
                        h.commit_log();
                        r.err().map(|e| (e, taken))
                    })
                    .map_err(UpdateError::Failed)?;
                match refused {
                    None => Ok(LeaseUpdate::Updated),
                    Some((e, taken)) => {
                        self.ask(from, move |h, _| {
                            h.v4.command_restore_moved(taken);
                            h.commit_log();
                        })
                        .map_err(UpdateError::Failed)?;
                        Err(update_error(e))
                    }
                }
            }
            _ => {
                let on = holder.unwrap_or(owner);
                let r = self
                    .ask(on, move |h, _| {
                        let r = h.v4.command_update_lease(lease, force_create);
                        h.commit_log();
                        r
                    })
                    .map_err(UpdateError::Failed)?;
                match r.map_err(update_error)? {
                    LeaseUpdated::Updated => Ok(LeaseUpdate::Updated),
                    LeaseUpdated::Added => Ok(LeaseUpdate::Added),
                }
            }
        }
    }

    fn wipe_leases(&self, subnet: Option<SubnetId>) -> Result<u64, String> {
        let results = self.ask_all(move |h, _| {
            let r = h.v4.command_wipe_leases(subnet);
            h.commit_log();
            r.map_err(|e| e.to_string())
        })?;
        let mut n = 0;
        for r in results {
            n += r?;
        }
        Ok(n)
    }
}
