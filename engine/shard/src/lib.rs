//! The per-core runtime: reuseport sockets with steering filters, batched I/O, glommio executors.
//!
//! This crate is the only part of the DHCPv4 data path that touches sockets and threads
//! (DESIGN.md, "The life of a DHCPv4 packet", points 1, 2 and 6, and "Threads and tuning"). It
//! binds one UDP socket per shard in one `SO_REUSEPORT` group and has the kernel steer every
//! client to the same shard by a hash of its hardware address ([`bind_shard_sockets`],
//! [`shard_of_chaddr`]); it runs one glommio executor per shard, pinned to a core, that drains its
//! socket with `recvmmsg` into preallocated buffers, hands each datagram to a sans-IO
//! [`ShardHandler`], and sends the replies with one `sendmmsg` per batch ([`start`]). It must
//! never know DHCP beyond the `chaddr` offset, never allocate or lock per packet, never share
//! mutable state between shards (each shard's counters are written by that shard only), and
//! never close a shard socket while the process runs (the kernel would re-number the group).
//!
//! # How a shard waits for datagrams
//! glommio 0.9 has no public "wait until this foreign fd is readable" and its `UdpSocket` has no
//! batching and no control messages. A shard therefore keeps two handles on its socket: the
//! socket itself, drained with non-blocking `recvmmsg` until EAGAIN, and a `dup` of it wrapped in
//! a glommio `UdpSocket` used **only** to await readiness: a 1-byte `MSG_PEEK` receive that
//! glommio submits to io_uring and that completes when a datagram arrives, without consuming it.
//! The wait carries a read timeout (the time to the next tick, at most 100 ms), which is how
//! ticks and the shutdown flag are served while idle. Under load the socket is never empty, so
//! the shard never waits and pays one `recvmmsg` and one `sendmmsg` per batch; glommio's small
//! per-wait allocation happens only when the socket runs dry. DESIGN.md's loopback figures for
//! the alternatives: recvmmsg/sendmmsg 244–304k req/s, raw io_uring 259–300k/s, glommio
//! `UdpSocket` alone 192–224k/s: batching through the plain syscalls is as fast as a private
//! io_uring ring and needs no second ring per shard.
//!
//! # Measured (2-core VM shared with other builds, load average 7-9, so rates are noisy)
//! `cargo run --release -p corelease-shard --example loopback_load -- --seconds 3 --baseline 1`
//! (echo handler, 300-byte datagrams, one client thread with 256 in flight):
//! - 1 shard: 48-121k replies/s, 3.8-4.4 µs of shard CPU per reply, batches of 46-56;
//!   a blocking `recv_from`/`send_to` thread on the same client in the same minute: 41-93k/s,
//!   4.2-5.3 µs per reply.
//! - 2 shards: 73-101k replies/s, 6.4-8.4 µs of shard CPU per reply: the single client cannot
//!   fill two shards on two shared cores, so batches shrink to 5-9 and wake-ups dominate.
//! - `perf record` (1 shard): 96 % of the shard thread's samples are in the kernel (loopback
//!   UDP send/receive paths), 3 % in the binary (runtime, glommio, the echo's copy), 1 % libc.
//!
//! # Queue overflow
//! The kernel socket buffer is the shard's backlog. When it is full the kernel drops the
//! **newest** datagram (Kea's packet queue drops the oldest); see [`RuntimeConfig::queue_size`]
//! and [`ShardCountersSnapshot::dropped_queue_overflow`].

mod batch;
mod runtime;
mod steering;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, SystemTime};

use crate::runtime::ShardWaker as Waker;

pub use batch::{
    Family, FlushOutcome, QueueError, ReceivedControl, RecvBatch, RecvBatch6, RecvBatchOf,
    RecvDrop, SendBatch, SendBatch6, SendBatchOf, DATAGRAM_CAPACITY, MAX_BATCH, RECEIVE_CAPACITY,
    V4, V6,
};
pub use runtime::{
    socket_meminfo, start, start6, start_family, Runtime, RuntimeError, ShardCountersSnapshot,
    ShardWaker, ShutdownHandle, HANDOFF_QUEUE,
};
pub use steering::{
    attach_shard_socket_filter, bind_shard_sockets, shard_of_chaddr, CHADDR_OFFSET,
    DEFAULT_RECV_BUFFER, DEFAULT_SEND_BUFFER,
};
pub use steering::{bind_shard_sockets6, ALL_DHCP_RELAY_AGENTS_AND_SERVERS};

// The control thread owns the runtime and may share it: it must stay Send + Sync.
const _: fn() = || {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Runtime>();
    send_and_sync::<ShutdownHandle>();
    send_and_sync::<ShardWaker>();
};

/// Arrival metadata of one datagram (from `recvmmsg` + `IP_PKTINFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    /// The sender (a relay's address and port 67, or a client's address and port 68).
    pub src: SocketAddrV4,
    /// The IP header's destination address: 255.255.255.255 for a client broadcast
    /// (`ipi_addr`). 0.0.0.0 if the kernel gave no `IP_PKTINFO`.
    pub dst: Ipv4Addr,
    /// The interface the datagram came in on (`ipi_ifindex`); 0 if unknown.
    pub ifindex: u32,
    /// The local address the kernel would answer from (`ipi_spec_dst`): the destination itself
    /// for unicast, the arrival interface's primary address for broadcasts. The natural
    /// `SendMeta::src_ip` of a reply to a direct client.
    pub local: Ipv4Addr,
    /// When the kernel queued the datagram (`SO_TIMESTAMPNS`, CLOCK_REALTIME): how long it
    /// waited is `now - arrival`. `None` if the kernel gave no timestamp.
    pub arrival: Option<SystemTime>,
}

impl RecvMeta {
    /// Metadata with `local` = `dst` and no arrival time (handy in tests of handlers).
    pub fn new(src: SocketAddrV4, dst: Ipv4Addr, ifindex: u32) -> Self {
        RecvMeta {
            src,
            dst,
            ifindex,
            local: dst,
            arrival: None,
        }
    }

    /// True when the datagram was sent to a broadcast or multicast address rather than to one
    /// of ours, i.e. the kernel copied it to every shard socket and the socket filters chose.
    pub fn is_broadcast(&self) -> bool {
        self.dst.is_broadcast() || self.dst.is_multicast() || self.dst != self.local
    }
}

/// Where a reply goes. `src_ip`/`ifindex` set `IP_PKTINFO` on send: reply from the address the
/// request came to, out of the interface it came in on (needed to broadcast on the right link,
/// RFC 2131 section 4.1). A `src_ip` that is broadcast, multicast or 0.0.0.0 is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendMeta {
    pub dst: SocketAddrV4,
    pub src_ip: Option<Ipv4Addr>,
    pub ifindex: Option<u32>,
    /// Bytes of the reply written at the start of the `out` buffer.
    pub len: usize,
}

/// Arrival metadata of one IPv6 datagram (from `recvmmsg` + `IPV6_PKTINFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta6 {
    /// The sender (a relay's address and port 547, or a client's link-local address and port
    /// 546); a link-local source carries the arrival interface as its scope id.
    pub src: SocketAddrV6,
    /// The IP destination (`ipi6_addr`): ff02::1:2 for a direct client's multicast, or one of
    /// our addresses for a relay's (or a unicasting client's) datagram. `::` if the kernel gave
    /// no `IPV6_PKTINFO`.
    pub dst: Ipv6Addr,
    /// The interface the datagram came in on (`ipi6_ifindex`); 0 if unknown.
    pub ifindex: u32,
    /// When the kernel queued the datagram (`SO_TIMESTAMPNS`).
    pub arrival: Option<SystemTime>,
}

/// Where an IPv6 reply goes. `src_ip`/`ifindex` set `IPV6_PKTINFO` on send (the source
/// address, and the link of a link-local destination); a multicast or unspecified `src_ip` is
/// ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendMeta6 {
    pub dst: SocketAddrV6,
    pub src_ip: Option<Ipv6Addr>,
    pub ifindex: Option<u32>,
    /// Bytes of the reply written at the start of the `out` buffer.
    pub len: usize,
}

/// Which shard handles a datagram, as [`ShardHandler::steer`] decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steer {
    /// This shard.
    Here,
    /// Another shard: the runtime hands the datagram over through that shard's bounded
    /// hand-off queue (counted; a full queue drops and counts it).
    Shard(usize),
    /// Nobody here: a multicast copy whose owner shard received its own copy (counted).
    Ignore,
}

/// The protocol logic of one shard, as seen by the runtime, for address family `F` ([`V4`] or
/// [`V6`]). Built on its shard's thread by the factory given to [`start`] / [`start6`], so it
/// may hold `!Send` state; it is never shared.
pub trait ShardHandler<F: Family = V4>: 'static {
    /// One datagram in; writes a reply into `out` (length [`DATAGRAM_CAPACITY`]) and says where
    /// it goes, or `None` (dropped / no reply). `now` is read once per batch. `out` is reused
    /// and still holds earlier replies' bytes: the first `SendMeta::len` bytes are sent as they
    /// are, so every one of them must be written.
    fn on_datagram(
        &mut self,
        meta: &F::RecvMeta,
        data: &[u8],
        out: &mut [u8],
        now: SystemTime,
    ) -> Option<F::SendMeta>;

    /// Which shard owns a datagram, asked before [`ShardHandler::on_datagram`] for every
    /// datagram this shard's socket received (not for ones handed over to it). The default
    /// keeps everything: DHCPv4's kernel steering already delivered it to its owner. DHCPv6
    /// clients are identified by a DUID the kernel cannot find (DESIGN.md point 1), so the v6
    /// handler answers from `owner_shard(client_duid)`.
    fn steer(&mut self, _meta: &F::RecvMeta, _data: &[u8]) -> Steer {
        Steer::Here
    }

    /// End of a receive batch, BEFORE its replies are sent (lease-log group commit happens
    /// here, DESIGN.md "The lease log").
    fn on_batch_end(&mut self, _now: SystemTime) {}

    /// Called about every `tick` (lease reclamation, timers); must not block.
    fn on_tick(&mut self, _now: SystemTime) {}

    /// Called between batches after [`ShardWaker::wake`] (within about a millisecond when the
    /// shard is idle): the control thread's way to have a shard look at a queue its handler
    /// owns (a new config, a lease query). Wake-ups coalesce: several `wake` calls before the
    /// shard gets to it make one call. Must not block.
    fn on_wake(&mut self, _now: SystemTime) {}

    /// Called once on the shard's thread before the first datagram, with the shard's own
    /// [`ShardWaker`]: a handler that waits on work finishing elsewhere (a hook script it
    /// parked a packet on) hands it to whoever finishes that work, so the shard resumes within
    /// about a millisecond instead of at the next tick.
    fn attach_waker(&mut self, _waker: Waker) {}

    /// Replies produced outside [`ShardHandler::on_datagram`] (a parked packet resumed): the
    /// runtime calls this after [`ShardHandler::on_wake`] and [`ShardHandler::on_tick`], and
    /// sends what the handler queued in `out` ([`SendBatchOf::next_buffer`] then
    /// [`SendBatchOf::commit`]) through the same `sendmmsg` path as on_datagram's replies. Return
    /// true when more replies wait than `out` had slots for: the runtime sends these and calls
    /// again (a bounded number of times per loop turn). Anything the replies depend on (the
    /// lease log) must be made durable before returning. Must not block.
    fn pending_replies(&mut self, _out: &mut SendBatchOf<F>, _now: SystemTime) -> bool {
        false
    }

    /// Called once on the shard's thread when the runtime stops, after the last batch's
    /// replies were sent: the place for a final lease-log sync (DESIGN.md "Process behaviour":
    /// SIGTERM stops cleanly, logs synced). The handler is dropped right after.
    fn on_shutdown(&mut self, _now: SystemTime) {}
}

/// How the runtime runs its shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Number of shards; must equal the number of sockets given to [`start`].
    pub shards: usize,
    /// Pin shard `i` to the `i % n`th of the `n` CPUs in the process's affinity mask
    /// (DESIGN.md "Threads and tuning").
    pub pin_cores: bool,
    /// Datagrams per `recvmmsg` / `sendmmsg` (clamped to 1..=[`MAX_BATCH`]).
    pub batch: usize,
    /// Interval of [`ShardHandler::on_tick`] (at least 1 ms).
    pub tick: Duration,
    /// Datagrams each shard's kernel receive buffer should hold (Kea's `packet-queue-size`,
    /// ARM section 9.2.x "Multi-threading"). 0 keeps [`DEFAULT_RECV_BUFFER`] from
    /// [`bind_shard_sockets`]. The buffer is sized by the kernel's per-datagram cost, so the
    /// bound is approximate.
    pub queue_size: usize,
}

impl RuntimeConfig {
    /// The shard count for Kea's `multi-threading.thread-pool-size` (DESIGN.md "Threads and
    /// tuning"): the configured value, or one shard per available core when it is 0.
    pub fn shards_for_thread_pool_size(thread_pool_size: usize) -> usize {
        if thread_pool_size > 0 {
            thread_pool_size
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            shards: 1,
            pin_cores: true,
            batch: 64,
            tick: Duration::from_millis(250),
            queue_size: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_pool_size_zero_means_one_shard_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(RuntimeConfig::shards_for_thread_pool_size(0), cores);
        assert_eq!(RuntimeConfig::shards_for_thread_pool_size(3), 3);
    }

    #[test]
    fn recv_meta_new_answers_from_the_destination() {
        let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 67);
        let meta = RecvMeta::new(src, Ipv4Addr::new(10, 0, 0, 1), 3);
        assert_eq!(meta.local, Ipv4Addr::new(10, 0, 0, 1));
        assert!(!meta.is_broadcast());
        assert!(RecvMeta::new(src, Ipv4Addr::BROADCAST, 3).is_broadcast());
    }
}
