//! One glommio executor per shard, each owning its socket: receive a batch, hand it to the
//! handler, commit, send the replies, count (DESIGN.md points 2, 6, 7 and "Threads and tuning").

use std::io::{self, Write};
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use glommio::{ExecutorJoinHandle, GlommioError, LocalExecutorBuilder, Placement};
use hdrhistogram::Histogram;

use crossbeam::queue::ArrayQueue;

use crate::batch::{Family, RecvBatchOf, RecvDrop, SendBatchOf, DATAGRAM_CAPACITY, V4, V6};
use crate::{RuntimeConfig, ShardHandler, Steer};

/// Datagrams each shard's hand-off queue holds (DHCPv6: packets another shard received for a
/// client this shard owns). About 2 KiB each, allocated once at start. A full queue drops the
/// datagram and counts it ([`ShardCountersSnapshot::handoff_dropped`]); the client retransmits.
pub const HANDOFF_QUEUE: usize = 1024;

/// glommio refuses to start below this locked-memory limit (its io_uring rings are locked).
const MIN_MEMLOCK: u64 = 512 * 1024;
/// Largest io_uring buffer arena per executor: shards only use glommio for 1-byte readiness
/// peeks and timers, so a small arena is plenty (DESIGN.md: keep io_memory under a third of the
/// locked-memory limit).
const MAX_IO_MEMORY: u64 = 256 * 1024;
const MIN_IO_MEMORY: u64 = 16 * 1024;
/// Longest an idle shard sleeps before looking at the shutdown flag again.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);
/// How long `start` waits for every shard to build its handler and report ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts to flush replies when the send buffer is full, before counting them as errors.
const SEND_ATTEMPTS: u32 = 3;
const SEND_RETRY_PAUSE: Duration = Duration::from_micros(200);
/// Pause after an unexpected receive error, so a persistent error cannot spin a core.
const ERROR_PAUSE: Duration = Duration::from_millis(10);
/// Kernel memory charged per queued datagram (skb truesize), for `queue_size`: measured here on
/// loopback as 1280 bytes for datagrams up to ~1000 bytes and 2304 for 1400-byte ones; NIC
/// drivers charge a 2-4 KiB buffer per frame. The larger loopback figure is used.
const TRUESIZE_ESTIMATE: usize = 2304;
/// `SO_MEMINFO` (include/uapi/asm-generic/socket.h) and the index of the drop counter in its
/// u32 array (include/uapi/linux/sock_diag.h, `SK_MEMINFO_DROPS`).
const SO_MEMINFO: libc::c_int = 55;
const SK_MEMINFO_DROPS: usize = 8;
/// Index of the receive queue's memory (bytes charged for queued datagrams, `SK_MEMINFO_RMEM_ALLOC`).
const SK_MEMINFO_RMEM_ALLOC: usize = 0;
/// Latency histograms cover 1 µs .. 60 s with 2 significant digits (1 % error), ~20 KiB each.
const LATENCY_MAX_US: u64 = 60_000_000;
const LATENCY_SIGFIG: u8 = 2;

fn new_latency_histogram() -> io::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, LATENCY_SIGFIG)
        .map_err(|err| io::Error::other(format!("latency histogram: {err:?}")))
}

/// Why the runtime could not start or a shard stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    #[error(
        "the locked-memory limit (RLIMIT_MEMLOCK) is {have_kib} KiB but the glommio shards need \
         at least {need_kib} KiB for their io_uring rings; raise it with `ulimit -l {need_kib}` \
         or LimitMEMLOCK= in the systemd unit"
    )]
    MemlockTooLow { have_kib: u64, need_kib: u64 },
    #[error("at least one shard is needed (got 0 sockets)")]
    NoShards,
    #[error(
        "the runtime is configured for {configured} shards but got {sockets} sockets; bind one \
         socket per shard with bind_shard_sockets"
    )]
    ShardCountMismatch { configured: usize, sockets: usize },
    #[error("shard {shard}: cannot start its glommio executor: {reason}")]
    ExecutorStart { shard: usize, reason: String },
    #[error("shard {shard} did not report ready within {seconds} s")]
    StartTimeout { shard: usize, seconds: u64 },
    #[error("shard {shard} stopped: {reason}")]
    ShardFailed { shard: usize, reason: String },
}

impl From<RuntimeError> for io::Error {
    fn from(err: RuntimeError) -> io::Error {
        io::Error::other(err)
    }
}

/// A shard's counters as written by the shard; read by anyone. Padded to two cache lines so
/// shards never write to a line another shard writes (adjacent-line prefetch included).
#[repr(align(128))]
#[derive(Default)]
struct ShardCounters {
    received: AtomicU64,
    sent: AtomicU64,
    send_errors: AtomicU64,
    batches: AtomicU64,
    truncated: AtomicU64,
    recv_errors: AtomicU64,
    broadcasts_received: AtomicU64,
    kernel_drops: AtomicU64,
    receive_queue_bytes: AtomicU64,
    handed_off: AtomicU64,
    handoffs_received: AtomicU64,
    handoff_dropped: AtomicU64,
    ignored_copies: AtomicU64,
}

/// The shard's private tally; published to [`ShardCounters`] once per batch with plain stores
/// (one writer, so no read-modify-write atomics on the hot path).
#[derive(Default)]
struct LocalCounters {
    received: u64,
    sent: u64,
    send_errors: u64,
    batches: u64,
    truncated: u64,
    recv_errors: u64,
    broadcasts_received: u64,
    kernel_drops: u64,
    receive_queue_bytes: u64,
    handed_off: u64,
    handoffs_received: u64,
    handoff_dropped: u64,
    ignored_copies: u64,
}

impl ShardCounters {
    fn publish(&self, local: &LocalCounters) {
        self.received.store(local.received, Ordering::Relaxed);
        self.sent.store(local.sent, Ordering::Relaxed);
        self.send_errors.store(local.send_errors, Ordering::Relaxed);
        self.batches.store(local.batches, Ordering::Relaxed);
        self.truncated.store(local.truncated, Ordering::Relaxed);
        self.recv_errors.store(local.recv_errors, Ordering::Relaxed);
        self.broadcasts_received
            .store(local.broadcasts_received, Ordering::Relaxed);
        self.kernel_drops
            .store(local.kernel_drops, Ordering::Relaxed);
        self.receive_queue_bytes
            .store(local.receive_queue_bytes, Ordering::Relaxed);
        self.handed_off.store(local.handed_off, Ordering::Relaxed);
        self.handoffs_received
            .store(local.handoffs_received, Ordering::Relaxed);
        self.handoff_dropped
            .store(local.handoff_dropped, Ordering::Relaxed);
        self.ignored_copies
            .store(local.ignored_copies, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ShardCountersSnapshot {
        ShardCountersSnapshot {
            received: self.received.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            send_errors: self.send_errors.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            truncated: self.truncated.load(Ordering::Relaxed),
            recv_errors: self.recv_errors.load(Ordering::Relaxed),
            broadcasts_received: self.broadcasts_received.load(Ordering::Relaxed),
            kernel_drops: self.kernel_drops.load(Ordering::Relaxed),
            receive_queue_bytes: self.receive_queue_bytes.load(Ordering::Relaxed),
            dropped_queue_overflow: 0,
            handed_off: self.handed_off.load(Ordering::Relaxed),
            handoffs_received: self.handoffs_received.load(Ordering::Relaxed),
            handoff_dropped: self.handoff_dropped.load(Ordering::Relaxed),
            ignored_copies: self.ignored_copies.load(Ordering::Relaxed),
        }
    }
}

/// One shard's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardCountersSnapshot {
    /// Datagrams handed to the handler.
    pub received: u64,
    /// Replies the kernel accepted.
    pub sent: u64,
    /// Replies not sent: refused by the kernel, still blocked after retries, or longer than a
    /// slot.
    pub send_errors: u64,
    /// Receive batches that carried at least one datagram.
    pub batches: u64,
    /// Datagrams longer than [`crate::RECEIVE_CAPACITY`], handled on their first bytes (as
    /// Kea reads them).
    pub truncated: u64,
    /// Failed `recvmmsg` calls and unusable slots.
    pub recv_errors: u64,
    /// Received datagrams that were sent to a broadcast or multicast address.
    pub broadcasts_received: u64,
    /// The kernel's drop counter of this socket (`SK_MEMINFO_DROPS`, read every tick). It also
    /// counts the broadcast copies this socket's filter rejected because another shard owns
    /// the client.
    pub kernel_drops: u64,
    /// Bytes the kernel holds in this socket's receive queue (`SK_MEMINFO_RMEM_ALLOC`, read
    /// every tick): the shard's backlog, about [`TRUESIZE_ESTIMATE`] bytes per datagram.
    pub receive_queue_bytes: u64,
    /// Datagrams the kernel dropped because this shard's receive buffer was full: estimated as
    /// `kernel_drops` minus the broadcasts the other shards received (each of those is a copy
    /// this socket's filter rejected). Over-counts by N-1 for a broadcast dropped at its owner.
    pub dropped_queue_overflow: u64,
    /// Datagrams this shard received for a client another shard owns and handed to that
    /// shard's queue (DHCPv6).
    pub handed_off: u64,
    /// Datagrams other shards handed to this one (also counted in `received`).
    pub handoffs_received: u64,
    /// Datagrams this shard could not hand off because the owner's queue was full (dropped).
    pub handoff_dropped: u64,
    /// Multicast copies this shard ignored because another shard owns the client (that shard
    /// got its own copy).
    pub ignored_copies: u64,
}

/// Sets the shutdown flag from anywhere (e.g. a signal-handling thread); cheap to clone.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<AtomicBool>);

impl ShutdownHandle {
    /// Asks every shard to stop after its current batch (within about 100 ms when idle).
    pub fn shutdown(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The control side of a shard's wake-up line.
#[derive(Debug)]
struct WakeLine {
    /// Set by `wake`, cleared by the shard when it calls `on_wake`; a byte is written only on
    /// the false -> true edge, so a burst of wakes costs one write.
    pending: AtomicBool,
    /// Our end of a Unix stream pair; the shard awaits its other end through glommio.
    stream: UnixStream,
}

/// A datagram one shard received for a client another shard owns.
struct Handoff<M> {
    meta: M,
    len: usize,
    data: [u8; DATAGRAM_CAPACITY],
}

/// A shard's hand-off queue (DESIGN.md point 1: where the kernel cannot steer, the receiving
/// shard hands the datagram to the owner through the owner's lock-free queue).
struct Inbox<M> {
    queue: ArrayQueue<Handoff<M>>,
    /// Set by a sender that found it clear (and then writes one wake byte), cleared by the
    /// owner before it drains: a burst of hand-offs costs one write, and an idle owner always
    /// wakes for a datagram queued after its last drain.
    signalled: AtomicBool,
    line: Arc<WakeLine>,
}

impl<M> Inbox<M> {
    /// Queues a copy of `data`; false when the queue is full or `data` is too long.
    fn push(&self, meta: M, data: &[u8]) -> bool {
        let mut handoff = Handoff {
            meta,
            len: data.len(),
            data: [0; DATAGRAM_CAPACITY],
        };
        let Some(slot) = handoff.data.get_mut(..data.len()) else {
            return false;
        };
        slot.copy_from_slice(data);
        if self.queue.push(handoff).is_err() {
            return false;
        }
        if !self.signalled.swap(true, Ordering::AcqRel) {
            // Non-blocking; a full buffer means unread wake bytes, so the owner wakes anyway.
            let _ = (&self.line.stream).write(&[1]);
        }
        true
    }
}

/// Wakes one shard so it calls [`crate::ShardHandler::on_wake`]; cheap to clone, usable from
/// any thread.
#[derive(Debug, Clone)]
pub struct ShardWaker(Arc<WakeLine>);

impl ShardWaker {
    /// Asks the shard to call `on_wake` between its batches, promptly even when idle.
    pub fn wake(&self) {
        if !self.0.pending.swap(true, Ordering::AcqRel) {
            // Non-blocking; a full buffer means unread wake bytes, so the shard wakes anyway.
            let _ = (&self.0.stream).write(&[1]);
        }
    }
}

/// The running shards.
pub struct Runtime {
    shutdown: Arc<AtomicBool>,
    counters: Arc<[ShardCounters]>,
    latency: Arc<[Mutex<Histogram<u64>>]>,
    wake_lines: Vec<Arc<WakeLine>>,
    handles: Vec<ExecutorJoinHandle<io::Result<()>>>,
    /// The shard sockets, owned here rather than by the shard threads so that a shard that
    /// dies (a panicking handler) cannot close its socket and re-number the reuseport group
    /// under the others. Closed only after every shard thread has been joined.
    sockets: Vec<UdpSocket>,
}

impl Runtime {
    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.counters.len()
    }

    /// Asks every shard to stop; [`Runtime::join`] waits for them.
    pub fn shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
    }

    /// A handle that makes shard `shard` call its handler's `on_wake`; `None` if there is no
    /// such shard.
    pub fn waker(&self, shard: usize) -> Option<ShardWaker> {
        self.wake_lines
            .get(shard)
            .map(|line| ShardWaker(Arc::clone(line)))
    }

    /// A handle that can stop the runtime from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(Arc::clone(&self.shutdown))
    }

    /// Waits for every shard to stop; returns the first shard's error, if any. The shard
    /// sockets are closed afterwards.
    pub fn join(mut self) -> io::Result<()> {
        join_all(std::mem::take(&mut self.handles))
    }

    /// Stops every shard and waits for them, keeping the runtime for a last look at its
    /// counters and latency (final values, published by each shard as it stops). The sockets
    /// stay open until the runtime is dropped.
    pub fn stop(&mut self) -> io::Result<()> {
        self.shutdown();
        join_all(std::mem::take(&mut self.handles))
    }

    /// Every shard's latency histogram, in shard order: microseconds from the kernel queueing
    /// a request to its reply being handed to the kernel, for every reply sent. Published by
    /// each shard every tick (so up to one tick behind); the histograms are cumulative.
    pub fn latency(&self) -> Vec<Histogram<u64>> {
        self.latency
            .iter()
            .map(|shared| {
                shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            })
            .collect()
    }

    /// Every shard's counters, in shard order.
    pub fn counters(&self) -> Vec<ShardCountersSnapshot> {
        let mut snapshots: Vec<ShardCountersSnapshot> =
            self.counters.iter().map(ShardCounters::snapshot).collect();
        let broadcasts_total: u64 = snapshots.iter().map(|s| s.broadcasts_received).sum();
        for snapshot in &mut snapshots {
            let filtered_copies = broadcasts_total.saturating_sub(snapshot.broadcasts_received);
            snapshot.dropped_queue_overflow = snapshot.kernel_drops.saturating_sub(filtered_copies);
        }
        snapshots
    }
}

impl Drop for Runtime {
    /// Dropping a runtime that was not joined stops its shards and waits for them, so no shard
    /// thread outlives its owner.
    fn drop(&mut self) {
        self.shutdown();
        let _ = join_all(std::mem::take(&mut self.handles));
    }
}

fn join_all(handles: Vec<ExecutorJoinHandle<io::Result<()>>>) -> io::Result<()> {
    let mut first_error = None;
    for (shard, handle) in handles.into_iter().enumerate() {
        let result = match handle.join() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(RuntimeError::ShardFailed {
                shard,
                reason: err.to_string(),
            }),
            Err(err) => Err(RuntimeError::ShardFailed {
                shard,
                reason: executor_error_text(&err),
            }),
        };
        if let (Err(err), None) = (result, &first_error) {
            first_error = Some(err);
        }
    }
    match first_error {
        Some(err) => Err(err.into()),
        None => Ok(()),
    }
}

fn executor_error_text(err: &GlommioError<()>) -> String {
    match err {
        GlommioError::BuilderError(glommio::BuilderErrorKind::ThreadPanic(_)) => {
            "its thread panicked".to_string()
        }
        other => other.to_string(),
    }
}

/// The CPUs this process may run on, in ascending order (a container's cpuset may not start at
/// CPU 0). Empty if the kernel will not say, in which case shards are not pinned.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain old data; sched_getaffinity fills it for this thread, which
    // inherited the process's mask.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Vec::new();
    }
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: CPU_ISSET reads one bit below CPU_SETSIZE of the set filled above.
    (0..max)
        .filter(|cpu| unsafe { libc::CPU_ISSET(*cpu, &set) })
        .collect()
}

/// The locked-memory limit in bytes (`None`: unlimited).
fn memlock_limit() -> io::Result<Option<u64>> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the local.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur))
}

/// Checks the locked-memory limit and picks each executor's io_uring buffer arena: together
/// under a third of the limit, 16..=256 KiB each, in whole pages.
fn io_memory_per_shard(shards: usize) -> Result<usize, RuntimeError> {
    let limit = memlock_limit().map_err(|err| RuntimeError::ExecutorStart {
        shard: 0,
        reason: format!("cannot read RLIMIT_MEMLOCK: {err}"),
    })?;
    let bytes = match limit {
        None => MAX_IO_MEMORY,
        Some(have) if have < MIN_MEMLOCK => {
            return Err(RuntimeError::MemlockTooLow {
                have_kib: have / 1024,
                need_kib: MIN_MEMLOCK / 1024,
            })
        }
        Some(have) => (have / 3 / shards.max(1) as u64).clamp(MIN_IO_MEMORY, MAX_IO_MEMORY),
    };
    Ok(usize::try_from(bytes & !4095).unwrap_or(MIN_IO_MEMORY as usize))
}

/// Reports a shard's start-up result to `start` exactly once, also when the shard's thread
/// dies before running (executor creation failed) or its handler factory panics.
struct ReadyReport {
    shard: usize,
    tx: Option<mpsc::Sender<(usize, Result<(), String>)>>,
}

impl ReadyReport {
    fn report(&mut self, result: Result<(), String>) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send((self.shard, result));
        }
    }
}

impl Drop for ReadyReport {
    fn drop(&mut self) {
        self.report(Err(
            "the shard stopped before it was ready (see the error from join)".to_string(),
        ));
    }
}

/// Everything a shard needs besides its handler; moved into the shard's thread.
struct ShardSetup<F: Family> {
    index: usize,
    /// The shard's end of its wake-up line (see [`ShardWaker`]).
    wake_stream: UnixStream,
    wake_line: Arc<WakeLine>,
    /// The shard socket, owned by [`Runtime`], which outlives the shard thread.
    fd: RawFd,
    batch: usize,
    tick: Duration,
    shutdown: Arc<AtomicBool>,
    counters: Arc<[ShardCounters]>,
    latency: Arc<[Mutex<Histogram<u64>>]>,
    /// Every shard's hand-off queue, in shard order.
    inboxes: Arc<[Inbox<F::RecvMeta>]>,
}

/// [`start_family`] for DHCPv4 ([`V4`]): the kernel steers every client to its owner, so the
/// hand-off queues are minimal.
pub fn start<H, M>(
    cfg: RuntimeConfig,
    sockets: Vec<UdpSocket>,
    make_handler: M,
) -> io::Result<Runtime>
where
    M: Fn(usize) -> H + Send + Sync + 'static,
    H: ShardHandler<V4>,
{
    start_family::<V4, H, M>(cfg, sockets, make_handler, 1)
}

/// [`start_family`] for DHCPv6 ([`V6`]) with [`HANDOFF_QUEUE`] datagrams per hand-off queue.
pub fn start6<H, M>(
    cfg: RuntimeConfig,
    sockets: Vec<UdpSocket>,
    make_handler: M,
) -> io::Result<Runtime>
where
    M: Fn(usize) -> H + Send + Sync + 'static,
    H: ShardHandler<V6>,
{
    start_family::<V6, H, M>(cfg, sockets, make_handler, HANDOFF_QUEUE)
}

/// Starts one glommio executor per shard (pinned to the `i % n`th of the `n` CPUs the process
/// may use when `pin_cores`), each
/// owning socket `i`, building its handler with `make_handler(i)` on its own thread, then
/// serving datagrams until [`Runtime::shutdown`]. Returns once every shard is ready, or the
/// first start-up error (after stopping the shards that did start). Each shard gets a
/// hand-off queue of `handoff_capacity` datagrams (at least 1) for [`Steer::Shard`].
pub fn start_family<Fam, H, F>(
    cfg: RuntimeConfig,
    sockets: Vec<UdpSocket>,
    make_handler: F,
    handoff_capacity: usize,
) -> io::Result<Runtime>
where
    Fam: Family,
    F: Fn(usize) -> H + Send + Sync + 'static,
    H: ShardHandler<Fam>,
{
    if sockets.is_empty() {
        return Err(RuntimeError::NoShards.into());
    }
    if cfg.shards != sockets.len() {
        return Err(RuntimeError::ShardCountMismatch {
            configured: cfg.shards,
            sockets: sockets.len(),
        }
        .into());
    }
    let io_memory = io_memory_per_shard(sockets.len())?;
    let cpus = allowed_cpus();
    let shards = sockets.len();
    let make_handler = Arc::new(make_handler);
    let shutdown = Arc::new(AtomicBool::new(false));
    let counters: Arc<[ShardCounters]> = (0..shards).map(|_| ShardCounters::default()).collect();
    let latency: Arc<[Mutex<Histogram<u64>>]> = (0..shards)
        .map(|_| new_latency_histogram().map(Mutex::new))
        .collect::<io::Result<_>>()?;
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut runtime = Runtime {
        shutdown: Arc::clone(&shutdown),
        counters: Arc::clone(&counters),
        latency: Arc::clone(&latency),
        wake_lines: Vec::with_capacity(shards),
        handles: Vec::with_capacity(shards),
        sockets: Vec::with_capacity(shards),
    };

    let mut shard_ends = Vec::with_capacity(shards);
    for _ in 0..shards {
        let (control_end, shard_end) = UnixStream::pair()?;
        control_end.set_nonblocking(true)?;
        shard_end.set_nonblocking(true)?;
        runtime.wake_lines.push(Arc::new(WakeLine {
            pending: AtomicBool::new(false),
            stream: control_end,
        }));
        shard_ends.push(shard_end);
    }
    let inboxes: Arc<[Inbox<Fam::RecvMeta>]> = runtime
        .wake_lines
        .iter()
        .map(|line| Inbox {
            queue: ArrayQueue::new(handoff_capacity.max(1)),
            signalled: AtomicBool::new(false),
            line: Arc::clone(line),
        })
        .collect();

    for ((index, socket), shard_end) in sockets.into_iter().enumerate().zip(shard_ends) {
        socket.set_nonblocking(true)?;
        if cfg.queue_size > 0 {
            // The kernel doubles the value asked for (socket(7), SO_RCVBUF).
            crate::steering::set_recv_buffer(
                &socket,
                cfg.queue_size.saturating_mul(TRUESIZE_ESTIMATE) / 2,
            )?;
        }
        let placement = match (cfg.pin_cores, cpus.get(index % cpus.len().max(1))) {
            (true, Some(cpu)) => Placement::Fixed(*cpu),
            _ => Placement::Unbound,
        };
        let wake_line = runtime
            .wake_lines
            .get(index)
            .map(Arc::clone)
            .ok_or_else(|| io::Error::other("shard index beyond the wake lines"))?;
        let setup = ShardSetup::<Fam> {
            index,
            wake_stream: shard_end,
            wake_line,
            fd: socket.as_raw_fd(),
            batch: cfg.batch,
            tick: cfg.tick.max(Duration::from_millis(1)),
            shutdown: Arc::clone(&shutdown),
            counters: Arc::clone(&counters),
            latency: Arc::clone(&latency),
            inboxes: Arc::clone(&inboxes),
        };
        let mut ready = ReadyReport {
            shard: index,
            tx: Some(ready_tx.clone()),
        };
        runtime.sockets.push(socket);
        let make_handler = Arc::clone(&make_handler);
        let spawned = LocalExecutorBuilder::new(placement)
            .name(&format!("shard{index}"))
            .io_memory(io_memory)
            .spawn(move || async move {
                let handler = make_handler(setup.index);
                run_shard(setup, handler, &mut ready).await
            });
        match spawned {
            Ok(handle) => runtime.handles.push(handle),
            Err(err) => {
                return Err(RuntimeError::ExecutorStart {
                    shard: index,
                    reason: executor_error_text(&err),
                }
                .into());
            }
        }
    }
    drop(ready_tx);

    let deadline = Instant::now() + START_TIMEOUT;
    let mut ready = vec![false; shards];
    while ready.iter().any(|r| !r) {
        let wait = deadline.saturating_duration_since(Instant::now());
        match ready_rx.recv_timeout(wait) {
            Ok((shard, Ok(()))) => {
                if let Some(slot) = ready.get_mut(shard) {
                    *slot = true;
                }
            }
            Ok((shard, Err(reason))) => {
                runtime.shutdown();
                return Err(match join_all(std::mem::take(&mut runtime.handles)) {
                    Err(err) => err,
                    Ok(()) => RuntimeError::ExecutorStart { shard, reason }.into(),
                });
            }
            // Every shard reports before it drops its sender, so this cannot precede the
            // reports; treat it as the end of them.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let shard = ready.iter().position(|r| !r).unwrap_or(0);
                return Err(RuntimeError::StartTimeout {
                    shard,
                    seconds: START_TIMEOUT.as_secs(),
                }
                .into());
            }
        }
    }
    Ok(runtime)
}

/// Awaits readability of the shard socket through glommio (see the crate docs): a 1-byte
/// `MSG_PEEK` that completes when a datagram is queued, or after `timeout`.
async fn wait_readable(waiter: &glommio::net::UdpSocket, timeout: Duration) -> io::Result<()> {
    waiter
        .set_read_timeout(Some(timeout.max(Duration::from_micros(1))))
        .map_err(io::Error::from)?;
    let mut probe = [0u8; 1];
    match waiter.peek_from(&mut probe).await {
        Ok(_) | Err(GlommioError::TimedOut(_)) => Ok(()),
        Err(err) => {
            let err = io::Error::from(err);
            if err.kind() == io::ErrorKind::TimedOut {
                Ok(())
            } else {
                Err(err)
            }
        }
    }
}

/// Awaits whichever comes first: the shard socket becoming readable (or `timeout`), or a
/// wake-up byte on the wake line (consumed here).
async fn wait_readable_or_woken(
    waiter: &glommio::net::UdpSocket,
    wake: &mut glommio::net::UnixStream,
    timeout: Duration,
) -> io::Result<()> {
    let mut wake_bytes = [0u8; 64];
    futures_lite::future::or(wait_readable(waiter, timeout), async {
        // 0 bytes means the control end is gone (runtime dropped): nothing to wait for there,
        // so fall back to waiting for the socket alone.
        match futures_lite::AsyncReadExt::read(wake, &mut wake_bytes).await {
            Ok(0) => wait_readable(waiter, timeout).await,
            Ok(_) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(err) => Err(err),
        }
    })
    .await
}

/// The kernel's view of the socket: (drop counter `SK_MEMINFO_DROPS`, receive queue bytes
/// `SK_MEMINFO_RMEM_ALLOC`). Also read for sockets outside the shards (the 4o6 socket).
pub fn socket_meminfo(fd: RawFd) -> Option<(u64, u64)> {
    let mut meminfo = [0u32; 16];
    let mut len = std::mem::size_of_val(&meminfo) as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into the local array and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_MEMINFO,
            meminfo.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 || (len as usize) < (SK_MEMINFO_DROPS + 1) * 4 {
        return None;
    }
    let drops = meminfo.get(SK_MEMINFO_DROPS).map(|d| u64::from(*d))?;
    let queued = meminfo.get(SK_MEMINFO_RMEM_ALLOC).map(|d| u64::from(*d))?;
    Some((drops, queued))
}

/// Reads the socket's drop counter and queue depth into the shard's tally.
fn read_meminfo(fd: RawFd, local: &mut LocalCounters) {
    if let Some((drops, queued)) = socket_meminfo(fd) {
        local.kernel_drops = drops;
        local.receive_queue_bytes = queued;
    }
}

/// Sends what the batch queued, retrying briefly while the send buffer is full.
async fn flush_replies<F: Family>(
    replies: &mut SendBatchOf<F>,
    fd: RawFd,
    local: &mut LocalCounters,
) {
    for attempt in 1..=SEND_ATTEMPTS {
        let outcome = replies.flush(fd);
        local.sent += outcome.sent as u64;
        local.send_errors += outcome.failed as u64;
        if outcome.blocked == 0 {
            break;
        }
        if attempt == SEND_ATTEMPTS {
            local.send_errors += outcome.blocked as u64;
            break;
        }
        glommio::timer::sleep(SEND_RETRY_PAUSE).await;
    }
    replies.clear();
}

/// Rounds of [`ShardHandler::pending_replies`] per loop turn: enough to drain every parked
/// reply of a full parking table in the common case, bounded so that a handler reporting
/// "more" forever cannot keep the shard from its socket.
const PENDING_ROUNDS: usize = 8;

/// Sends the replies the handler produced outside on_datagram (resumed packets).
async fn send_pending<F: Family, H: ShardHandler<F>>(
    handler: &mut H,
    replies: &mut SendBatchOf<F>,
    fd: RawFd,
    local: &mut LocalCounters,
) {
    for _ in 0..PENDING_ROUNDS {
        let more = handler.pending_replies(replies, SystemTime::now());
        if replies.pending() > 0 {
            flush_replies(replies, fd, local).await;
        }
        if !more {
            break;
        }
    }
}

/// Hands every datagram of the last receive to the handler (or, when [`ShardHandler::steer`]
/// says so, to its owner shard's queue) and queues its replies; notes the arrival time of each
/// request answered (`arrivals` has capacity for a whole batch).
#[allow(clippy::too_many_arguments)]
fn handle_batch<F: Family, H: ShardHandler<F>>(
    handler: &mut H,
    requests: &RecvBatchOf<F>,
    replies: &mut SendBatchOf<F>,
    arrivals: &mut Vec<SystemTime>,
    local: &mut LocalCounters,
    me: usize,
    inboxes: &[Inbox<F::RecvMeta>],
    now: SystemTime,
) {
    for index in 0..requests.received() {
        if requests.truncated(index) {
            local.truncated += 1;
        }
        let (meta, data) = match requests.datagram(index) {
            Ok(datagram) => datagram,
            Err(RecvDrop::NotIpv4 | RecvDrop::OutOfRange) => {
                local.recv_errors += 1;
                continue;
            }
        };
        if F::is_broadcast(&meta) {
            local.broadcasts_received += 1;
        }
        match handler.steer(&meta, data) {
            Steer::Here => {}
            Steer::Shard(owner) if owner != me => {
                match inboxes.get(owner) {
                    Some(inbox) if inbox.push(meta, data) => local.handed_off += 1,
                    _ => local.handoff_dropped += 1,
                }
                continue;
            }
            Steer::Shard(_) => {}
            Steer::Ignore => {
                local.ignored_copies += 1;
                continue;
            }
        }
        local.received += 1;
        answer(handler, &meta, data, replies, arrivals, local, now);
    }
}

/// Runs one datagram through the handler and queues its reply.
fn answer<F: Family, H: ShardHandler<F>>(
    handler: &mut H,
    meta: &F::RecvMeta,
    data: &[u8],
    replies: &mut SendBatchOf<F>,
    arrivals: &mut Vec<SystemTime>,
    local: &mut LocalCounters,
    now: SystemTime,
) {
    // Reply slots equal receive slots, and hand-offs are drained only into free slots, so a
    // free slot always exists here.
    let Some(out) = replies.next_buffer() else {
        local.send_errors += 1;
        return;
    };
    if let Some(reply) = handler.on_datagram(meta, data, out, now) {
        match replies.commit(&reply) {
            Ok(()) => {
                if let (Some(arrival), true) =
                    (F::arrival(meta), arrivals.len() < arrivals.capacity())
                {
                    arrivals.push(arrival);
                }
            }
            Err(_) => local.send_errors += 1,
        }
    }
}

/// Handles the datagrams other shards handed to this one, as many as there are free reply
/// slots (the rest wait for the next round). Returns how many it took.
fn handle_handoffs<F: Family, H: ShardHandler<F>>(
    handler: &mut H,
    inbox: &Inbox<F::RecvMeta>,
    replies: &mut SendBatchOf<F>,
    arrivals: &mut Vec<SystemTime>,
    local: &mut LocalCounters,
    now: SystemTime,
) -> usize {
    // Cleared before draining, so a sender that queues after the drain writes a wake byte.
    inbox.signalled.store(false, Ordering::SeqCst);
    let mut taken = 0;
    while replies.pending() < replies.slots() {
        let Some(handoff) = inbox.queue.pop() else {
            break;
        };
        taken += 1;
        local.received += 1;
        local.handoffs_received += 1;
        let data = handoff.data.get(..handoff.len).unwrap_or(&[]);
        answer(handler, &handoff.meta, data, replies, arrivals, local, now);
    }
    taken
}

/// The shard's event loop: drain the socket batch by batch, wait through glommio only when it
/// is empty, tick, stop when asked.
async fn run_shard<F: Family, H: ShardHandler<F>>(
    setup: ShardSetup<F>,
    mut handler: H,
    ready: &mut ReadyReport,
) -> io::Result<()> {
    let fd = setup.fd;
    // SAFETY: dup returns a new descriptor (or -1, checked) that the glommio socket owns and
    // closes; the shard socket itself stays open, so the reuseport group never changes.
    let waiter = unsafe {
        let dup = libc::dup(fd);
        if dup < 0 {
            let err = io::Error::last_os_error();
            ready.report(Err(format!("dup of the shard socket failed: {err}")));
            return Err(err);
        }
        glommio::net::UdpSocket::from_raw_fd(dup)
    };
    // SAFETY: into_raw_fd hands over sole ownership of the descriptor to the glommio stream.
    let mut wake_stream =
        unsafe { glommio::net::UnixStream::from_raw_fd(setup.wake_stream.into_raw_fd()) };
    let counters = setup
        .counters
        .get(setup.index)
        .ok_or_else(|| io::Error::other("shard index beyond the counters"))?;
    let latency_shared = setup
        .latency
        .get(setup.index)
        .ok_or_else(|| io::Error::other("shard index beyond the latency histograms"))?;
    let inbox = setup
        .inboxes
        .get(setup.index)
        .ok_or_else(|| io::Error::other("shard index beyond the hand-off queues"))?;
    let mut requests = RecvBatchOf::<F>::new(setup.batch);
    let mut replies = SendBatchOf::<F>::new(requests.slots());
    let mut arrivals = Vec::with_capacity(requests.slots());
    let mut latency = new_latency_histogram()?;
    let mut local = LocalCounters::default();
    let mut next_tick = Instant::now() + setup.tick;
    handler.attach_waker(ShardWaker(Arc::clone(&setup.wake_line)));
    ready.report(Ok(()));

    while !setup.shutdown.load(Ordering::Acquire) {
        let received = match requests.recv(fd) {
            Ok(n) => n,
            Err(_) => {
                local.recv_errors += 1;
                counters.publish(&local);
                glommio::timer::sleep(ERROR_PAUSE).await;
                continue;
            }
        };
        let handoffs_waiting = !inbox.queue.is_empty();
        if received > 0 || handoffs_waiting {
            let now = SystemTime::now();
            handle_batch(
                &mut handler,
                &requests,
                &mut replies,
                &mut arrivals,
                &mut local,
                setup.index,
                &setup.inboxes,
                now,
            );
            if handoffs_waiting {
                handle_handoffs(
                    &mut handler,
                    inbox,
                    &mut replies,
                    &mut arrivals,
                    &mut local,
                    now,
                );
            }
            handler.on_batch_end(now);
            flush_replies(&mut replies, fd, &mut local).await;
            record_latency(&mut latency, &mut arrivals, SystemTime::now());
            local.batches += 1;
            counters.publish(&local);
        }
        if setup.wake_line.pending.load(Ordering::Relaxed)
            && setup.wake_line.pending.swap(false, Ordering::AcqRel)
        {
            handler.on_wake(SystemTime::now());
            send_pending(&mut handler, &mut replies, fd, &mut local).await;
            counters.publish(&local);
        }
        let now = Instant::now();
        if now >= next_tick {
            handler.on_tick(SystemTime::now());
            send_pending(&mut handler, &mut replies, fd, &mut local).await;
            read_meminfo(fd, &mut local);
            counters.publish(&local);
            publish_latency(&mut latency, latency_shared);
            next_tick = now + setup.tick;
        }
        if received == 0 && inbox.queue.is_empty() {
            let timeout = next_tick.saturating_duration_since(now).min(SHUTDOWN_POLL);
            if wait_readable_or_woken(&waiter, &mut wake_stream, timeout)
                .await
                .is_err()
            {
                local.recv_errors += 1;
                counters.publish(&local);
                glommio::timer::sleep(ERROR_PAUSE).await;
            }
        }
    }
    handler.on_shutdown(SystemTime::now());
    read_meminfo(fd, &mut local);
    counters.publish(&local);
    publish_latency(&mut latency, latency_shared);
    Ok(())
}

/// Records, for each reply of the batch, the time from the request's arrival to `sent_at`.
fn record_latency(
    latency: &mut Histogram<u64>,
    arrivals: &mut Vec<SystemTime>,
    sent_at: SystemTime,
) {
    for arrival in arrivals.drain(..) {
        // A clock step backwards makes duration_since fail; such a sample is skipped.
        if let Ok(waited) = sent_at.duration_since(arrival) {
            let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
            latency.saturating_record(micros.max(1));
        }
    }
}

/// Adds the shard's latency samples since the last tick to the shared histogram: the only
/// lock a shard takes, once per tick, never per packet.
fn publish_latency(latency: &mut Histogram<u64>, shared: &Mutex<Histogram<u64>>) {
    if latency.is_empty() {
        return;
    }
    let mut shared = shared.lock().unwrap_or_else(PoisonError::into_inner);
    // Both histograms have the same bounds and every sample was clamped into them, so the
    // addition cannot fail; if it did, the samples are dropped rather than double-counted.
    let _ = shared.add(&*latency);
    latency.reset();
}
