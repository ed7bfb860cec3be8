//! Sans-IO DHCPv4 protocol logic (RFC 2131, RFC 2132, ARM chapter 9).
//!
//! `V4Shard::handle(meta, bytes, now, out)` takes one datagram and the time, decides, updates
//! the shard's lease table and lease log, and writes the reply into the caller's buffer: the
//! quinn-proto shape (STYLE.md). It never touches a socket, a clock or a thread, so every branch
//! is tested in memory. It must never panic on packet contents, never lock, and never allocate
//! per packet once warm (the option index and reply buffer are reused; a lease allocates only
//! when a new client's entry enters the table).

pub mod classes;
mod commands;
mod dhcp4o6;
mod hooked;
pub mod hosts;
mod leases;
mod prepared;
pub mod stats;
mod steps;

pub use commands::{LeaseCommandError, LeaseUpdated, MovingLease, ReloadBuild};
pub use corelease_hooks::ParkStats;
pub use dhcp4o6::{dhcp4o6_chaddr, select_subnet4o6, Query4o6};
/// What [`V4Shard::resume_parked`] produced.
pub type Resumed = corelease_hooks::Resumed<Reply4>;
pub use leases::{ClientIdent, Entry, LeaseTable, NO_POOL};
pub use prepared::{
    InterfaceInfo, Lifetime, NetworkRt, OptionTable, PoolRt, Ports, Prepared4, ReplyOption,
    SubnetRt,
};
pub use stats::{kea_statistics, ShardStats4};
pub use steps::Classified;

use classes::PacketClasses;
use corelease_alloc::reclaim::{CycleEnd, ReclaimCycles, ReclaimFamily, ReclaimLimits};
use corelease_alloc::FreeLeaseQueue;
use corelease_classify::Scratch;
use corelease_hooks::HookPoint;
use corelease_hooks::Step;
use corelease_storage::LeaseSink;
use corelease_types::{ClientId, HwAddr, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
use corelease_wire::v4::{
    opt, relay_link_selection, relay_sub, relay_suboptions, Dhcp4Packet, Dhcp4Writer, MessageType,
    OptionIndex, WireError, SERVER_PORT,
};
use hooked::PointArgs;
use hosts::HostIdx;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

/// Where a datagram came from and arrived (from the runtime's IP_PKTINFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta4 {
    pub src: SocketAddrV4,
    /// The IP destination: one of ours, or 255.255.255.255 for a client broadcast.
    pub dst: Ipv4Addr,
    pub ifindex: u32,
    /// The address the kernel would answer from on that interface (IP_PKTINFO ipi_spec_dst),
    /// 0.0.0.0 when unknown.
    pub local: Ipv4Addr,
}

/// Where the reply written into `out` goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply4 {
    pub dst: SocketAddrV4,
    /// Source address to send from (the server identifier), when known.
    pub src_ip: Option<Ipv4Addr>,
    /// Interface to send on: needed for broadcasts to reach the client's link.
    pub ifindex: Option<u32>,
    pub len: usize,
    pub message_type: MessageType,
    /// RFC 2131 4.1: an OFFER/ACK for a client with no address yet (no broadcast bit, no
    /// ciaddr, not relayed) is unicast to its hardware address and yiaddr. A runtime with a
    /// raw (layer-2) socket sends it there; one with only UDP sockets broadcasts to `dst`.
    pub l2_unicast: Option<L2Unicast>,
}

/// The layer-2 destination of a reply to a client that has no address yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2Unicast {
    pub mac: [u8; 6],
    pub ip: Ipv4Addr,
    pub port: u16,
}

/// Kea's "returned if not requested" options (ARM 9.2.10 table 1): routers, domain-name-servers,
/// domain-name. The subnet mask is always sent with a lease.
/// The fixed BOOTP header up to and including `file` (RFC 2131 section 2), without the magic
/// cookie: what Kea needs before it treats a datagram as a packet at all.
const BOOTP_HEADER_LEN: usize = 236;

const ALWAYS_RETURNED: [u8; 3] = [opt::ROUTERS, opt::DOMAIN_NAME_SERVERS, opt::DOMAIN_NAME];

/// Upper bound of reclamations in one tick whatever `max-reclaim-leases` says (0 is "no limit"
/// in Kea): a tick must never stall packets for long, the cycle goes on at the next tick.
const MAX_RECLAIM_PER_TICK: u32 = 10_000;

/// A monotonic clock reading, injected by the runtime (the engine reads no clock): it bounds a
/// reclamation cycle by `max-reclaim-time`.
pub type MonotonicClock = fn() -> Duration;

/// The clock of a shard nobody gave one: time stands still, so `max-reclaim-time` never ends a
/// cycle (the lease-count bounds still do).
fn frozen_clock() -> Duration {
    Duration::ZERO
}

/// The DHCPv4 state of one shard.
pub struct V4Shard<S: LeaseSink> {
    prepared: Arc<Prepared4>,
    shards: usize,
    queues: Vec<FreeLeaseQueue>,
    table: LeaseTable,
    sink: S,
    stats: Arc<ShardStats4>,
    opts: OptionIndex,
    steal_cursor: u64,
    /// Reclamation cycles: schedule, budget, incomplete-cycle warnings (ARM chapter 12).
    reclaim_cycles: ReclaimCycles,
    clock: MonotonicClock,
    /// Hook points and parked packets (hooked.rs); None without `hooks-libraries`.
    hooked: Option<Box<hooked::HookState>>,
    /// The classes of the packet being handled (ARM 16), reset per packet.
    cls: PacketClasses,
    /// Evaluation stacks for class tests, reused.
    scratch: Scratch,
    /// The host reservation of the packet being handled (ARM 9.3).
    host: Option<HostIdx>,
    /// The flex-id of the packet being handled (ARM 17.9), reused.
    flex_id: Vec<u8>,
    /// With flex_id's replace-client-id: 0x00 + the flex-id, the client identifier the packet
    /// is handled with (ARM 17.9.1); empty when not replaced.
    replaced_client_id: Vec<u8>,
    /// Set while a DHCPv4-over-DHCPv6 query is handled: the subnet its DHCPv6 side selected
    /// (ARM 9.2.26), which replaces the address-based selection (dhcp4o6.rs).
    dhcp4o6_subnet: Option<Option<usize>>,
    /// The IPv6 source of the DHCPv4-over-DHCPv6 query being served: hooks see it as the
    /// query's remote address, as Kea's `Pkt4o6` shows it.
    dhcp4o6_remote: Option<std::net::Ipv6Addr>,
}

/// What a REQUEST is, by RFC 2131 4.3.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestState {
    Selecting {
        server_id: Ipv4Addr,
        requested: Option<Ipv4Addr>,
    },
    InitReboot {
        requested: Ipv4Addr,
    },
    RenewingOrRebinding {
        ciaddr: Ipv4Addr,
    },
    Invalid,
}

/// The lease parameters a reply carries.
#[derive(Clone, Copy)]
struct Grant {
    subnet: usize,
    pool: u32,
    addr: u32,
    valid: u32,
}

impl<S: LeaseSink> V4Shard<S> {
    pub fn new(prepared: Arc<Prepared4>, shard: usize, shards: usize, sink: S) -> Self {
        let queues = prepared
            .pools
            .iter()
            .map(|p| FreeLeaseQueue::new(p.range.len(), shard, shards))
            .collect();
        let stats = Arc::new(ShardStats4::new(
            prepared.subnets.len(),
            prepared.pools.len(),
        ));
        let cls = PacketClasses::for_table(&prepared.classes);
        let mut scratch = Scratch::new();
        for d in &prepared.classes.defs {
            if let Some(t) = &d.test {
                scratch.reserve_for(t);
            }
        }
        let mut flex_id = Vec::new();
        let mut replaced_client_id = Vec::new();
        if let Some(program) = &prepared.hosts.flex_id {
            scratch.reserve_for(program);
            // Room for any option's worth of identifier: grown only by longer ones.
            flex_id.reserve(256);
            if prepared.hosts.flex_replaces_client_id {
                replaced_client_id.reserve(257);
            }
        }
        V4Shard {
            cls,
            scratch,
            host: None,
            flex_id,
            replaced_client_id,
            prepared,
            shards: shards.max(1),
            queues,
            table: LeaseTable::default(),
            sink,
            stats,
            opts: OptionIndex::new(),
            steal_cursor: shard as u64 * 64,
            reclaim_cycles: ReclaimCycles::default(),
            clock: frozen_clock,
            hooked: None,
            dhcp4o6_subnet: None,
            dhcp4o6_remote: None,
        }
    }

    /// Gives the shard a monotonic clock, which bounds reclamation cycles by
    /// `max-reclaim-time`; without one only the lease-count bounds apply.
    pub fn set_clock(&mut self, clock: MonotonicClock) {
        self.clock = clock;
    }

    /// Reclamation cycles in a row that ended with expired leases left, and how many
    /// ALLOC_ENGINE_V4_LEASES_RECLAMATION_SLOW warnings were issued.
    pub fn reclaim_backlog(&self) -> (u32, u64) {
        (
            self.reclaim_cycles.incomplete_in_a_row(),
            self.reclaim_cycles.slow_warnings(),
        )
    }

    pub fn stats(&self) -> Arc<ShardStats4> {
        Arc::clone(&self.stats)
    }

    /// The counters without touching the shared refcount (for per-packet use).
    pub fn counters(&self) -> &ShardStats4 {
        &self.stats
    }

    pub fn prepared(&self) -> &Arc<Prepared4> {
        &self.prepared
    }

    pub fn table(&self) -> &LeaseTable {
        &self.table
    }

    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// The lease log and the table at once (lease file cleanup snapshots one into the other).
    pub fn sink_and_table(&mut self) -> (&mut S, &LeaseTable) {
        (&mut self.sink, &self.table)
    }

    pub fn shards(&self) -> usize {
        self.shards
    }

    /// Loads recovered leases into this shard (startup, after the runtime re-hashed them by
    /// client). Active leases claim their bit; a second lease for an already claimed address is
    /// refused and counted in the return value.
    pub fn load_leases(&mut self, leases: impl IntoIterator<Item = Lease>, now: u64) -> usize {
        leases
            .into_iter()
            .map(|lease| usize::from(self.load_one(lease, now).is_some()))
            .sum()
    }

    /// Loads one lease (see [`Self::load_leases`]); hands it back when its address's bit is
    /// already claimed by another lease.
    pub(crate) fn load_one(&mut self, lease: Lease, _now: u64) -> Option<Lease> {
        let IpAddr::V4(a) = lease.addr else {
            return None;
        };
        let addr = u32::from(a);
        let subnet = self
            .prepared
            .subnets
            .iter()
            .position(|s| s.id == lease.subnet_id && s.contains(addr));
        let pool = subnet.and_then(|s| self.prepared.pool_of(s, addr));
        let binds = matches!(lease.state, LeaseState::Default | LeaseState::Declined);
        let mut holds_bit = false;
        // A reserved address's bit belongs to the reservation (claimed at load); a lease on
        // it (a conflict, ARM 9.3.2, or the host's own) is kept without the bit.
        let reserved = self.prepared.hosts.reserved_for(addr).is_some();
        if let (true, Some(p), false) = (binds, pool, reserved) {
            let pool_rt = self.prepared.pools.get(p)?;
            let off = u64::from(addr - pool_rt.range.first);
            if !pool_rt.bitmap.try_claim(off) {
                return Some(lease);
            }
            holds_bit = true;
        }
        // An expired lease (the server was down, or it lapsed meanwhile) is counted too and
        // reclaimed at the first tick.
        if let (true, Some(s)) = (binds, subnet) {
            self.count_assigned(s, pool, lease.state == LeaseState::Declined, 1);
        }
        if matches!(
            lease.state,
            LeaseState::ExpiredReclaimed | LeaseState::Released
        ) {
            // Recovered or carried over a reload: still removed once hold-reclaimed-time
            // has passed since it was reclaimed or released (ARM chapter 12).
            self.table.held().note(lease.cltt, addr);
        }
        self.table.insert(Entry {
            lease,
            pool: pool.map(|p| p as u32).unwrap_or(NO_POOL),
            subnet: subnet.map(|s| s as u32).unwrap_or(u32::MAX),
            offer_until: 0,
            holds_bit,
            renews: false,
        });
        None
    }

    /// Takes over an OFFER a running shard holds (a config reload's switch): its bit under
    /// this state's pools, for the same client until the same time. False when the new
    /// configuration has no pool for the address any more, reserves it, or another lease
    /// holds it. An offer of the client's own reclaimed lease (`renews`) is not taken over:
    /// it lapses, as every offer did before.
    fn load_offer(&mut self, offer: &Entry) -> bool {
        let IpAddr::V4(a) = offer.lease.addr else {
            return false;
        };
        let addr = u32::from(a);
        let p = &*self.prepared;
        if offer.renews || self.table.get(addr).is_some() || p.hosts.reserved_for(addr).is_some() {
            return false;
        }
        let Some(subnet) = p
            .subnets
            .iter()
            .position(|s| s.id == offer.lease.subnet_id && s.contains(addr))
        else {
            return false;
        };
        let Some(pool) = p.pool_of(subnet, addr) else {
            return false;
        };
        let Some(pool_rt) = p.pools.get(pool) else {
            return false;
        };
        if !pool_rt
            .bitmap
            .try_claim(u64::from(addr - pool_rt.range.first))
        {
            return false;
        }
        self.table.insert(Entry {
            lease: offer.lease.clone(),
            pool: pool as u32,
            subnet: subnet as u32,
            offer_until: offer.offer_until,
            holds_bit: true,
            renews: false,
        });
        true
    }

    fn count_assigned(&self, subnet: usize, pool: Option<usize>, declined: bool, n: i64) {
        if let Some(c) = self.stats.subnets.get(subnet) {
            c.assigned_addresses.add(n);
            if declined {
                c.declined_addresses.add(n);
            }
        }
        if let Some(c) = pool.and_then(|p| self.stats.pools.get(p)) {
            c.assigned_addresses.add(n);
            if declined {
                c.declined_addresses.add(n);
            }
        }
        if declined {
            self.stats.declined_addresses.add(n);
        }
    }

    /// Handles one datagram. Returns where the reply in `out` goes, or None when nothing is
    /// sent (malformed, not for us, or a message that takes no answer).
    /// With hooks, a packet a hook script must answer first is parked (None now); its reply
    /// comes later from [`V4Shard::resume_parked`].
    pub fn handle(
        &mut self,
        meta: &Meta4,
        data: &[u8],
        now: u64,
        out: &mut [u8],
    ) -> Option<Reply4> {
        let reply = if self.hooked.is_some() {
            self.handle_hooked(meta, data, now, out)
        } else {
            self.process(meta, data, now, out)
        };
        if let Some(r) = &reply {
            self.count_sent(r);
        }
        reply
    }

    fn count_sent(&self, r: &Reply4) {
        let g = &self.stats.global;
        g.pkt4_sent.inc();
        match r.message_type {
            MessageType::Offer => g.pkt4_offer_sent.inc(),
            MessageType::Ack => g.pkt4_ack_sent.inc(),
            MessageType::Nak => g.pkt4_nak_sent.inc(),
            _ => {}
        }
    }

    /// The packet's processing up to its reply (the pre-commit hook points included).
    fn process(&mut self, meta: &Meta4, data: &[u8], now: u64, out: &mut [u8]) -> Option<Reply4> {
        let replay = self.replaying();
        let g = &self.stats.global;
        if data.len() < BOOTP_HEADER_LEN {
            // Kea 2.2 refuses such a datagram while receiving it, before any statistic
            // (checked on the wire: 0 to 235 bytes leave every pkt4-* counter unchanged). Kea
            // logs this at ERROR; at debug here, so a flood of runts cannot flood the log.
            tracing::debug!(target: "DHCP4_BUFFER_RECEIVE_FAIL", len = data.len(), "error on attempt to receive packet: Truncated DHCPv4 packet received, at least 236 is expected");
            return None;
        }
        if !replay {
            g.pkt4_received.inc();
        }
        let Ok(pkt) = Dhcp4Packet::new_checked(data) else {
            // Kea counts a packet it cannot parse in both (DHCP4_PACKET_DROP_0001).
            g.pkt4_parse_failed.inc();
            g.pkt4_receive_drop.inc();
            return None;
        };
        match self.opts.parse(&pkt) {
            Ok(()) => {}
            // Kea serves a packet whose options end in a truncated one with the options before
            // it (DHCP4_PACKET_OPTIONS_SKIPPED); the index keeps those.
            Err(WireError::BadOptionLength { code, offset }) => {
                tracing::debug!(target: "DHCP4_PACKET_OPTIONS_SKIPPED", code, offset, "truncated option; later options skipped");
            }
            Err(_) => {
                g.pkt4_parse_failed.inc();
                g.pkt4_receive_drop.inc();
                return None;
            }
        }
        if pkt.op() != 1 {
            // A BOOTREPLY sent to a server: count by type, answer nothing.
            self.count_received(self.opts.message_type());
            g.pkt4_receive_drop.inc();
            return None;
        }
        let Some(kind) = self.opts.message_type() else {
            // BOOTP needs the BOOTP class (issue 8); until then a packet without type is dropped.
            g.pkt4_unknown_received.inc();
            g.pkt4_receive_drop.inc();
            return None;
        };
        if !replay {
            self.count_received(Some(kind));
        }
        if kind != MessageType::Request && self.names_another_server(meta) {
            // Kea's Dhcpv4Srv::acceptServerId, before classification and pkt4_receive: a
            // message naming another server's identifier is not for us (a REQUEST is judged
            // in handle_request, which also gives our offer back).
            tracing::debug!(target: "DHCP4_PACKET_DROP_0003", xid = pkt.xid(), "it contains a foreign server identifier");
            g.pkt4_receive_drop.inc();
            return None;
        }
        // ARM 16.1.1 steps 1-5 (before pkt4_receive). A parked packet is classified again
        // when it resumes: the shard's class state belongs to the packet being handled.
        if self.prepared.classify && self.classify_early(meta, &pkt) {
            // ARM 16.1.1 step 5: a packet in class DROP is dropped.
            tracing::debug!(target: "DHCP4_CLASS_DROP", xid = pkt.xid(), "packet in class DROP dropped");
            self.stats.global.pkt4_receive_drop.inc();
            return None;
        }
        if self.hooked.is_some() {
            // buffer4_receive: Kea's callouts may parse the buffer themselves (skip); ours
            // cannot hand a parsed packet back, so skip goes on like continue.
            for point in [HookPoint::Buffer4Receive, HookPoint::Pkt4Receive] {
                match self.hook(point, meta, &pkt, now, PointArgs::default()) {
                    Step::Continue => {}
                    Step::Skip if point == HookPoint::Buffer4Receive => {}
                    Step::Park => return None,
                    Step::Skip | Step::Drop => {
                        tracing::debug!(target: "DHCP4_HOOK_PACKET_RCVD_SKIP", point = point.name(), xid = pkt.xid(), "packet is dropped, because a callout set the next step to SKIP or DROP");
                        self.stats.global.pkt4_receive_drop.inc();
                        return None;
                    }
                }
            }
        }
        match kind {
            MessageType::Discover => self.handle_discover(meta, &pkt, now, out),
            MessageType::Request => self.handle_request(meta, &pkt, now, out),
            MessageType::Release => {
                self.handle_release(meta, &pkt, now);
                None
            }
            MessageType::Decline => {
                self.handle_decline(meta, &pkt, now);
                None
            }
            MessageType::Inform => self.handle_inform(meta, &pkt, now, out),
            _ => {
                self.stats.global.pkt4_receive_drop.inc();
                None
            }
        }
    }

    fn count_received(&self, kind: Option<MessageType>) {
        let g = &self.stats.global;
        match kind {
            Some(MessageType::Discover) => g.pkt4_discover_received.inc(),
            Some(MessageType::Offer) => g.pkt4_offer_received.inc(),
            Some(MessageType::Request) => g.pkt4_request_received.inc(),
            Some(MessageType::Ack) => g.pkt4_ack_received.inc(),
            Some(MessageType::Nak) => g.pkt4_nak_received.inc(),
            Some(MessageType::Release) => g.pkt4_release_received.inc(),
            Some(MessageType::Decline) => g.pkt4_decline_received.inc(),
            Some(MessageType::Inform) => g.pkt4_inform_received.inc(),
            _ => g.pkt4_unknown_received.inc(),
        }
    }

    /// Time-driven work: lapsed offers go back, expired leases and ended decline probations
    /// are reclaimed (ARM chapter 12), a bounded number per call.
    pub fn on_tick(&mut self, now: u64) {
        while let Some((t, addr)) = self.table.pop_lapsed_offer(now) {
            let lapsed = matches!(self.table.get(addr), Some(e) if e.offer_until == t);
            if lapsed {
                if let Some(e) = self.table.remove(addr) {
                    self.give_back(&e, addr);
                }
            }
        }
        // ARM chapter 12: a reclamation cycle every reclaim-timer-wait-time seconds (0 turns
        // periodic reclamation off), bounded by max-reclaim-leases and max-reclaim-time.
        let exp = self.prepared.expired;
        let limits = ReclaimLimits {
            wait_secs: exp.reclaim_timer_wait_time,
            max_leases: exp.max_reclaim_leases,
            max_time: Duration::from_millis(u64::from(exp.max_reclaim_time)),
            unwarned_cycles: exp.unwarned_reclaim_cycles,
            per_tick_cap: MAX_RECLAIM_PER_TICK,
        };
        let clock = self.clock;
        if let Some(mut slice) = self
            .reclaim_cycles
            .begin(now, clock(), limits, ReclaimFamily::V4)
        {
            let end = self.reclaim_expired(now, || {
                slice.admit(clock())?;
                slice.reclaimed_one();
                Ok(())
            });
            self.reclaim_cycles.end(slice, now, clock(), end);
        }
        // Reclaimed and released leases are kept hold-reclaimed-time for lease affinity, then
        // removed every flush-reclaimed-timer-wait-time seconds (0 turns flushing off).
        if self
            .table
            .held()
            .flush_due(now, exp.flush_reclaimed_timer_wait_time)
        {
            self.flush_reclaimed(now, u64::from(exp.hold_reclaimed_time));
        }
    }

    /// Reclaims leases that expired by `now` while `admit` allows one more (it is asked only
    /// when an expired lease is waiting); says why it stopped.
    fn reclaim_expired(
        &mut self,
        now: u64,
        mut admit: impl FnMut() -> Result<(), CycleEnd>,
    ) -> CycleEnd {
        loop {
            let Some((t, addr)) = self.table.pop_expired(now) else {
                return CycleEnd::Complete;
            };
            let due = matches!(self.table.get(addr),
                Some(e) if e.offer_until == 0
                    && e.lease.expire() == t
                    && matches!(e.lease.state, LeaseState::Default | LeaseState::Declined));
            if !due {
                continue;
            }
            if let Err(end) = admit() {
                // Left for a later cycle, which must find it again.
                self.table.requeue_expired(t, addr);
                return end;
            }
            self.reclaim(addr, now);
        }
    }

    /// Removes reclaimed / released leases whose hold time has passed (logged as removals).
    fn flush_reclaimed(&mut self, now: u64, hold: u64) {
        while let Some((t, addr)) = self.table.held().pop_held_out(now, hold) {
            let stale = !matches!(self.table.get(addr),
                Some(e) if !e.holds_bit
                    && e.lease.cltt == t
                    && matches!(e.lease.state, LeaseState::ExpiredReclaimed | LeaseState::Released));
            if stale {
                continue;
            }
            self.table.remove(addr);
            if self
                .sink
                .remove(LeaseKind::V4, IpAddr::V4(Ipv4Addr::from(addr)), 32)
                .is_err()
            {
                tracing::error!(target: "DHCPSRV_MEMFILE_LEASE_ADD_FAILED", addr = %Ipv4Addr::from(addr), "lease log append failed while flushing");
            }
        }
    }

    /// Reclaims an expired lease or an ended probation: logged, bit released, address queued.
    fn reclaim(&mut self, addr: u32, now: u64) {
        if self.hooked.is_some() {
            if let Some(e) = self.table.get(addr) {
                let point = if e.lease.state == LeaseState::Declined {
                    HookPoint::Lease4Recover
                } else {
                    HookPoint::Lease4Expire
                };
                if self.hook_wanted(point) {
                    let lease = e.lease.clone();
                    if !self.hook_reclaim(point, &lease, now) {
                        tracing::debug!(target: "ALLOC_ENGINE_V4_LEASE_RECLAMATION_SKIP", addr = %Ipv4Addr::from(addr), point = point.name(), "a callout asked to leave the lease as it is");
                        return;
                    }
                }
            }
        }
        let Some(e) = self.table.get_mut(addr) else {
            return;
        };
        let was_declined = e.lease.state == LeaseState::Declined;
        e.lease.state = LeaseState::ExpiredReclaimed;
        e.lease.cltt = now;
        e.lease.valid_lifetime = 0;
        if was_declined {
            // Kea clears the identity of a declined lease; nothing to keep affinity for.
            e.lease.hwaddr = None;
            e.lease.client_id = None;
        }
        let entry = e.clone();
        if self.sink.record(&entry.lease).is_err() {
            tracing::error!(target: "DHCPSRV_MEMFILE_LEASE_ADD_FAILED", addr = %Ipv4Addr::from(addr), "lease log append failed while reclaiming");
        }
        let subnet = entry.subnet as usize;
        let pool = (entry.pool != NO_POOL).then_some(entry.pool as usize);
        self.count_assigned(subnet, pool, was_declined, -1);
        let g = &self.stats.global;
        g.reclaimed_leases.inc();
        if was_declined {
            g.reclaimed_declined_addresses.inc();
        }
        if let Some(c) = self.stats.subnets.get(subnet) {
            c.reclaimed_leases.inc();
            if was_declined {
                c.reclaimed_declined_addresses.inc();
            }
        }
        if let Some(c) = pool.and_then(|p| self.stats.pools.get(p)) {
            c.reclaimed_leases.inc();
            if was_declined {
                c.reclaimed_declined_addresses.inc();
            }
        }
        self.give_back(&entry, addr);
        if let Some(e) = self.table.get_mut(addr) {
            e.holds_bit = false;
        }
        self.table.reinsert(addr);
        self.table.held().note(now, addr);
    }

    /// Releases the bitmap bit an entry held and queues the address on this shard.
    fn give_back(&mut self, entry: &Entry, addr: u32) {
        if !entry.holds_bit || entry.pool == NO_POOL {
            return;
        }
        let p = entry.pool as usize;
        if let Some(pool) = self.prepared.pools.get(p) {
            if let Some(off) = pool.range.offset_of(addr) {
                pool.bitmap.release(off);
                if let Some(q) = self.queues.get_mut(p) {
                    q.push(off);
                }
            }
        }
    }

    fn ident(&self, pkt: &Dhcp4Packet<&[u8]>) -> ClientIdent {
        ClientIdent {
            hw: HwAddr::new(pkt.htype(), pkt.chaddr()),
            client_id: self.client_id_bytes().map(ClientId::new),
        }
    }

    /// Subnet selection (ARM 9.2 "How the DHCPv4 server selects a subnet"): subnet-selection
    /// option (RFC 3011), relay link-selection sub-option (RFC 3527), giaddr (relay addresses
    /// first, then the subnet containing it), ciaddr, then the arrival interface.
    fn select_subnet(&self, meta: &Meta4, pkt: &Dhcp4Packet<&[u8]>) -> Option<usize> {
        let selected = self.select_subnet_by_address(meta, pkt)?;
        self.admitted_subnet(selected)
    }

    /// The subnet a datagram selects by its addresses (ARM 9.2: subnet-selection option, relay
    /// link-selection, giaddr, ciaddr, arrival interface), before class guards, without
    /// answering or counting it. For benchmarks and diagnostics.
    pub fn selected_subnet(&mut self, meta: &Meta4, data: &[u8]) -> Option<SubnetId> {
        let pkt = Dhcp4Packet::new_checked(data).ok()?;
        match self.opts.parse(&pkt) {
            Ok(()) | Err(WireError::BadOptionLength { .. }) => {}
            Err(_) => return None,
        }
        let i = self.select_subnet_by_address(meta, &pkt)?;
        self.prepared.subnets.get(i).map(|s| s.id)
    }

    /// Subnet selection by the packet's addresses alone, before class guards.
    fn select_subnet_by_address(&self, meta: &Meta4, pkt: &Dhcp4Packet<&[u8]>) -> Option<usize> {
        if let Some(selected) = self.dhcp4o6_subnet {
            // Kea's selectSubnet hands a 4o6 query to selectSubnet4o6, whatever it carries.
            return selected;
        }
        let p = &self.prepared;
        let containing = |a: u32| p.subnet_index.containing(a);
        if let Some(a) = self.opts.subnet_selection() {
            return containing(u32::from(a));
        }
        if let Some(a) = self.opts.relay_agent_info().and_then(relay_link_selection) {
            return containing(u32::from(a));
        }
        let giaddr = u32::from(pkt.giaddr());
        if giaddr != 0 {
            if let Some(i) = p.subnet_index.by_relay(giaddr) {
                return Some(i);
            }
            return containing(giaddr);
        }
        let ciaddr = u32::from(pkt.ciaddr());
        if ciaddr != 0 {
            if let Some(i) = containing(ciaddr) {
                return Some(i);
            }
        }
        let iface = p.interface(meta.ifindex)?;
        if let Some(i) = p
            .subnets
            .iter()
            .position(|s| s.interface.as_deref() == Some(iface.name.as_str()))
        {
            return Some(i);
        }
        iface.addrs.iter().find_map(|a| containing(u32::from(*a)))
    }

    /// Whether the packet carries a server identifier (option 54) that is not this server's:
    /// not the address it arrived on, not one of the interfaces' addresses, not one configured
    /// as option 54 (Kea's acceptServerId). One that is not 4 bytes names no server of ours.
    fn names_another_server(&self, meta: &Meta4) -> bool {
        match self.opts.get(opt::SERVER_ID) {
            None => false,
            Some(&[a, b, c, d]) => !self.prepared.is_own_server_id(
                Ipv4Addr::new(a, b, c, d),
                self.local_addr(meta).unwrap_or(Ipv4Addr::UNSPECIFIED),
            ),
            Some(_) => true,
        }
    }

    /// The address this server answers as (its server identifier, RFC 2132 9.7).
    fn local_addr(&self, meta: &Meta4) -> Option<Ipv4Addr> {
        if !meta.dst.is_broadcast() && !meta.dst.is_unspecified() && !meta.dst.is_multicast() {
            return Some(meta.dst);
        }
        self.prepared
            .interface(meta.ifindex)
            .and_then(|i| i.addrs.first().copied())
            .or_else(|| (!meta.local.is_unspecified()).then_some(meta.local))
    }

    /// The client's existing lease or offer among `subnet`'s network, if its address can still
    /// be used (held by this shard, or free again). Does not claim anything.
    fn find_own(&mut self, subnet: usize, ident: &ClientIdent) -> Option<(usize, u32)> {
        // A plain borrow, not an Arc clone: the refcount is shared by every shard and
        // bumping it per packet would bounce its cache line between cores.
        let p = &*self.prepared;
        for s in p.candidates(subnet) {
            let Some(srt) = p.subnets.get(s) else {
                continue;
            };
            let Some(addr) = self.table.find_client(srt.id, ident, srt.match_client_id) else {
                continue;
            };
            let Some(e) = self.table.get(addr) else {
                continue;
            };
            if e.lease.state == LeaseState::Declined {
                continue;
            }
            if p.reserved_for_other(addr, self.host) {
                // ARM 9.3.2: reserved for another client since; the lease stays (a lost NAK
                // must not free it) but this client moves on.
                continue;
            }
            if e.pool == NO_POOL && p.hosts.reserved_for(addr).is_none() {
                // In no pool any more (a reload shrank it): not the client's to be offered or
                // renewed (kea-dhcp4 2.2.0), but its lease until it expires or the client
                // commits another address (see `outside_pools`).
                continue;
            }
            let usable = e.holds_bit
                || p.hosts.reserved_for(addr).is_some()
                || p.pools
                    .get(e.pool as usize)
                    .and_then(|pool| {
                        pool.range
                            .offset_of(addr)
                            .map(|o| !pool.bitmap.is_claimed(o))
                    })
                    .unwrap_or(false);
            if usable {
                return Some((s, addr));
            }
            // Another shard took the address since this client's lease lapsed.
            self.table.remove(addr);
        }
        None
    }

    /// The client's lease on an address in no pool and not reserved (left so by a reload),
    /// which `find_own` passes over: it goes when the client commits another address, as
    /// Kea's allocation engine removes a client's previous lease.
    fn outside_pools(&self, subnet: usize, ident: &ClientIdent) -> Option<u32> {
        let p = &*self.prepared;
        p.candidates(subnet).find_map(|s| {
            let srt = p.subnets.get(s)?;
            let addr = self.table.find_client(srt.id, ident, srt.match_client_id)?;
            let e = self.table.get(addr)?;
            (e.pool == NO_POOL && !e.is_offer() && p.hosts.reserved_for(addr).is_none())
                .then_some(addr)
        })
    }

    /// Re-claims the bit of a lapsed entry of ours (lease affinity). False if taken meanwhile.
    fn reclaim_bit(&mut self, addr: u32) -> bool {
        let Some(e) = self.table.get(addr) else {
            return false;
        };
        if e.pool == NO_POOL {
            return false;
        }
        let Some(pool) = self.prepared.pools.get(e.pool as usize) else {
            return false;
        };
        let Some(off) = pool.range.offset_of(addr) else {
            return false;
        };
        if pool.bitmap.try_claim(off) {
            if let Some(e) = self.table.get_mut(addr) {
                e.holds_bit = true;
            }
            true
        } else {
            false
        }
    }

    /// Takes a specific address for `ident` (requested address, RFC 2131 4.3.1). True when the
    /// shard now holds it for this client.
    fn take_address(
        &mut self,
        pool: usize,
        addr: u32,
        ident: &ClientIdent,
        mcid: bool,
        now: u64,
    ) -> bool {
        if self.reserved_for_other(addr) {
            return false;
        }
        if pool == NO_POOL as usize || self.prepared.hosts.reserved_for(addr).is_some() {
            // The bit of a reserved address stays with its reservation (ARM 9.3.2); an
            // address outside the pools has none.
            return self.take_reserved(addr, ident, mcid, now);
        }
        if let Some(e) = self.table.get(addr) {
            if ident.owns(&e.lease, mcid) && e.lease.state != LeaseState::Declined {
                return e.holds_bit || self.reclaim_bit(addr);
            }
            if e.is_active(now) {
                return false;
            }
            if e.holds_bit {
                // Lapsed but not yet reclaimed by a tick: ours to reuse at once.
                let lapsed = self.table.remove(addr);
                if let Some(l) = lapsed.filter(|l| !l.is_offer()) {
                    let s = l.subnet as usize;
                    let pl = (l.pool != NO_POOL).then_some(l.pool as usize);
                    self.count_assigned(s, pl, l.lease.state == LeaseState::Declined, -1);
                }
                return true;
            }
        }
        let Some(pool_rt) = self.prepared.pools.get(pool) else {
            return false;
        };
        let Some(off) = pool_rt.range.offset_of(addr) else {
            return false;
        };
        if pool_rt.bitmap.try_claim(off) {
            self.table.remove(addr);
            true
        } else {
            false
        }
    }

    /// Picks a free address for a new client from the candidate subnets' pools: this shard's
    /// queue first, then any free address of the pool (stealing from other shards' stripes).
    fn allocate(&mut self, subnet: usize, now: u64, xid: u32) -> Option<(usize, usize, u32)> {
        if let Some(found) = self.try_allocate(subnet) {
            return Some(found);
        }
        // ARM 12: an expired lease not yet reclaimed by the timer is reclaimed when the
        // allocator needs its address; then try once more before counting a failure.
        let mut reclaimed = 0;
        self.reclaim_expired(now, || {
            if reclaimed == 64 {
                return Err(CycleEnd::LeaseLimit);
            }
            reclaimed += 1;
            Ok(())
        });
        if reclaimed > 0 {
            if let Some(found) = self.try_allocate(subnet) {
                return Some(found);
            }
        }
        self.count_allocation_fail(subnet, xid);
        None
    }

    fn try_allocate(&mut self, subnet: usize) -> Option<(usize, usize, u32)> {
        // A plain borrow, not an Arc clone: the refcount is shared by every shard and
        // bumping it per packet would bounce its cache line between cores.
        let p = &*self.prepared;
        for s in p.candidates(subnet) {
            let Some(srt) = p.subnets.get(s) else {
                continue;
            };
            if !self.subnet_admits(s) {
                continue;
            }
            for &pi in &srt.pools {
                let Some(pool) = p.pools.get(pi) else {
                    continue;
                };
                if !self.pool_admits(pi) {
                    continue;
                }
                while let Some(off) = self.queues.get_mut(pi).and_then(|q| q.pop()) {
                    if pool.bitmap.try_claim(off) {
                        if let Some(addr) = pool.range.addr_at(off) {
                            self.table.remove(addr);
                            return Some((s, pi, addr));
                        }
                    }
                }
                if let Some(off) = pool
                    .bitmap
                    .claim_any(self.steal_cursor % pool.range.len().max(1))
                {
                    self.steal_cursor = off.wrapping_add(1);
                    if let Some(addr) = pool.range.addr_at(off) {
                        self.table.remove(addr);
                        return Some((s, pi, addr));
                    }
                }
            }
        }
        None
    }

    /// Counts and logs a failed allocation as Kea's allocateUnreservedLease4 does (checked
    /// with kea-dhcp4 2.2 on a guarded pool, a guarded subnet in a shared network, a subnet
    /// without pools and an exhausted pool): `v4-allocation-fail-subnet` or
    /// `-shared-network` always; `v4-allocation-fail-classes` always (a Kea packet is at
    /// least in ALL); then either no pool the client may use (`-no-pools`, and
    /// `v4-allocation-fail` stays as it is: 0 attempts) or usable pools that are full
    /// (`v4-allocation-fail`). Global and for the selected subnet.
    fn count_allocation_fail(&self, subnet: usize, xid: u32) {
        let p = &*self.prepared;
        // Kea's counts: addresses it would have tried, subnets with usable pools (all full)
        // and admitted subnets without one.
        let (mut attempts, mut full_subnets, mut no_pool_subnets) = (0u64, 0u32, 0u32);
        for s in p.candidates(subnet) {
            let Some(srt) = p.subnets.get(s) else {
                continue;
            };
            if !self.subnet_admits(s) {
                continue;
            }
            let capacity: u64 = srt
                .pools
                .iter()
                .filter(|&&pi| self.pool_admits(pi))
                .filter_map(|&pi| p.pools.get(pi))
                .map(|pool| pool.range.len())
                .sum();
            if capacity > 0 {
                attempts += capacity;
                full_subnets += 1;
            } else {
                no_pool_subnets += 1;
            }
        }
        let g = &self.stats.global;
        let srt = p.subnets.get(subnet);
        let network = srt.and_then(|s| s.network).and_then(|n| p.networks.get(n));
        let c = self.stats.subnets.get(subnet);
        match (network, srt) {
            (Some(n), _) => {
                tracing::warn!(target: "ALLOC_ENGINE_V4_ALLOC_FAIL_SHARED_NETWORK", xid, "failed to allocate an IPv4 address in the shared network {}: {full_subnets} subnets have no available addresses, {no_pool_subnets} subnets have no matching pools", n.name);
                g.v4_allocation_fail_shared_network.inc();
                if let Some(c) = c {
                    c.v4_allocation_fail_shared_network.inc();
                }
            }
            (None, s) => {
                if let Some(s) = s {
                    let net = Ipv4Addr::from(s.net);
                    tracing::warn!(target: "ALLOC_ENGINE_V4_ALLOC_FAIL_SUBNET", xid, "failed to allocate an IPv4 lease in the subnet {net}/{}, subnet-id {}, shared network (none)", s.prefix_len, s.id);
                }
                g.v4_allocation_fail_subnet.inc();
                if let Some(c) = c {
                    c.v4_allocation_fail_subnet.inc();
                }
            }
        }
        if attempts == 0 {
            tracing::warn!(target: "ALLOC_ENGINE_V4_ALLOC_FAIL_NO_POOLS", xid, "no pools were available for the address allocation");
            g.v4_allocation_fail_no_pools.inc();
            if let Some(c) = c {
                c.v4_allocation_fail_no_pools.inc();
            }
        } else {
            tracing::warn!(target: "ALLOC_ENGINE_V4_ALLOC_FAIL", xid, "failed to allocate an IPv4 address after {attempts} attempt(s)");
            g.v4_allocation_fail.inc();
            if let Some(c) = c {
                c.v4_allocation_fail.inc();
            }
        }
        tracing::warn!(target: "ALLOC_ENGINE_V4_ALLOC_FAIL_CLASSES", xid, "Failed to allocate an IPv4 address for client with classes: {}", self.class_names());
        g.v4_allocation_fail_classes.inc();
        if let Some(c) = c {
            c.v4_allocation_fail_classes.inc();
        }
    }

    /// Finds the pool holding `addr` among the candidate subnets of `subnet`.
    fn pool_in_network(&self, subnet: usize, addr: u32) -> Option<(usize, usize)> {
        self.prepared
            .candidates(subnet)
            .find_map(|s| self.prepared.pool_of(s, addr).map(|p| (s, p)))
    }

    fn in_network(&self, subnet: usize, addr: u32) -> bool {
        self.prepared.candidates(subnet).any(|s| {
            self.prepared
                .subnets
                .get(s)
                .map(|s| s.contains(addr))
                .unwrap_or(false)
        })
    }

    /// RFC 2131 4.3.1: DISCOVER -> OFFER of the client's lease, else the requested address if
    /// free, else a free address. The offer reserves the address briefly but is not logged,
    /// unless an `offer-lifetime` applies (ARM 9.2.34: then it is a logged lease).
    fn handle_discover(
        &mut self,
        meta: &Meta4,
        pkt: &Dhcp4Packet<&[u8]>,
        now: u64,
        out: &mut [u8],
    ) -> Option<Reply4> {
        if self.opts.server_id().is_some() {
            // RFC 2131 table 5: a DHCPDISCOVER MUST NOT carry a server identifier. Kea drops
            // one that names this server too (sanityCheck FORBIDDEN, DHCP4_PACKET_DROP_0007);
            // one naming another server never got here.
            tracing::debug!(target: "DHCP4_PACKET_DROP_0007", xid = pkt.xid(), "failed to process packet: Server-id option was not expected, but received in message DHCPDISCOVER");
            self.stats.global.pkt4_receive_drop.inc();
            return None;
        }
        let Ok(selected) = self.subnet_for(meta, pkt, now) else {
            return None;
        };
        let Some(subnet) = selected else {
            // kea-dhcp4 2.2.0 (run): no OFFER and no statistic but pkt4-discover-received;
            // pkt4-receive-drop stays as it was.
            // Kea logs both, the second as an error (checked with kea-dhcp4 2.2 for a giaddr
            // in no subnet and for a client every subnet guard refuses).
            tracing::debug!(target: "DHCP4_SUBNET_SELECTION_FAILED", xid = pkt.xid(), "failed to select subnet for the client");
            tracing::error!(target: "DHCP4_PACKET_NAK_0001", xid = pkt.xid(), "failed to select a subnet for incoming packet, src {}, type DHCPDISCOVER", meta.src.ip());
            return None;
        };
        if self.classify_after_subnet(meta, pkt, subnet) {
            self.stats.global.pkt4_receive_drop.inc();
            return None;
        }
        let server_id = self.local_addr(meta)?;
        let ident = self.ident(pkt);
        let hint = self.opts.lease_time();
        // ARM 9.3: the reserved address first, when it is free (or already this client's);
        // while another client's lease holds it, the client gets a dynamic address meanwhile
        // (ARM 9.3.2).
        let reserved = self.host_address(subnet).filter(|&(s, pool, addr)| {
            let mcid = self
                .prepared
                .subnets
                .get(s)
                .map(|x| x.match_client_id)
                .unwrap_or(true);
            self.take_address(pool as usize, addr, &ident, mcid, now)
        });
        let own = reserved
            .is_none()
            .then(|| self.find_own(subnet, &ident))
            .flatten()
            .filter(|&(s, addr)| {
                let mcid = self
                    .prepared
                    .subnets
                    .get(s)
                    .map(|x| x.match_client_id)
                    .unwrap_or(true);
                let pool = self.table.get(addr).map(|e| e.pool).unwrap_or(NO_POOL);
                // ARM 16.6/16.7: not a lease in a subnet or pool whose guard no longer admits
                // the client (kea-dhcp4 2.2.0 offers another address then).
                pool != NO_POOL
                    && self.subnet_admits(s)
                    && self.pool_admits(pool as usize)
                    && self.take_address(pool as usize, addr, &ident, mcid, now)
            });
        let (subnet, pool, addr, existing) = if let Some((s, pool, addr)) = reserved {
            // The temporary lease the client held meanwhile (ARM 9.3.2) goes when it
            // commits the reserved one (`commit`), as in Kea: an OFFER changes no lease.
            (s, pool, addr, self.table.get(addr).is_some())
        } else if let Some((s, addr)) = own {
            let pool = self.table.get(addr).map(|e| e.pool).unwrap_or(NO_POOL);
            (s, pool, addr, true)
        } else if let Some((s, p, a)) = self.requested_free(subnet, &ident, now) {
            (s, p as u32, a, false)
        } else {
            let Some((s, p, a)) = self.allocate(subnet, now, pkt.xid()) else {
                // kea-dhcp4 2.2: no OFFER, after the allocation engine's warnings.
                let requested = self.opts.requested_address();
                tracing::debug!(target: "DHCP4_PACKET_NAK_0003", xid = pkt.xid(), "failed to advertise a lease, client sent ciaddr {}, requested-ip-address {}", pkt.ciaddr(), requested.map_or_else(|| "(no address)".to_string(), |a| a.to_string()));
                return None;
            };
            (s, p as u32, a, false)
        };
        let srt = self.prepared.subnets.get(subnet)?;
        let valid = self.lifetime(srt).grant(hint);
        let offer_lifetime = self.offer_lifetime(srt);
        let subnet_id = srt.id;
        let committed = existing
            && self
                .table
                .get(addr)
                .map(|e| !e.is_offer() && e.lease.state == LeaseState::Default)
                .unwrap_or(false);
        let mut offer_hold = u64::from(self.prepared.offer_hold_secs);
        // Kea's discoverLease4 renews a lease the client already has (renewLease4, which runs
        // lease4_renew for the fake allocation too); only an address new to the client goes
        // through lease4_select (createLease4 / reuseExpiredLease4). Seen with kea-dhcp4 2.2
        // and libdhcp_run_script.so: lease4_renew at a DISCOVER from a client whose lease is
        // live, expired or reclaimed (fuzz/kea-compare/hooks4.py).
        // (Only hooks tell the two apart: without them, no lookup.)
        let renewing = self.hooked.is_some() && self.own_lease_at(subnet, addr, &ident).is_some();
        let point = if renewing {
            HookPoint::Lease4Renew
        } else {
            HookPoint::Lease4Select
        };
        let mut renew_skipped = false;
        let mut valid = valid;
        if self.hook_wanted(point) {
            // Kea hands the callouts the lease as it would store it: with offer-lifetime, for
            // the offer lifetime; a renewed one keeps its state (a reclaimed lease stays
            // expired-reclaimed in a fake allocation) and what the client left out.
            let lease_lifetime = if offer_lifetime != 0 {
                offer_lifetime
            } else {
                valid
            };
            let lease = self.renewed_or_new_lease(
                &ident,
                subnet_id,
                pool,
                addr,
                lease_lifetime,
                now,
                renewing,
            );
            let args = PointArgs {
                subnet: Some(subnet),
                lease: Some(&lease),
                valid,
                fake_allocation: true,
            };
            match self.hook(point, meta, pkt, now, args) {
                Step::Continue => {}
                // Held for this client while its script runs, so the resumed run finds and
                // offers this very address.
                Step::Park => offer_hold += self.park_hold_secs(),
                Step::Skip if renewing && committed => {
                    // DHCPSRV_HOOK_LEASE4_RENEW_SKIP: the lease is offered as it is, neither
                    // extended nor (with offer-lifetime) rewritten.
                    tracing::debug!(target: "DHCPSRV_HOOK_LEASE4_RENEW_SKIP", addr = %Ipv4Addr::from(addr), "lease was not renewed because a callout set the skip flag");
                    renew_skipped = true;
                    valid = self
                        .table
                        .get(addr)
                        .map(|e| e.lease.valid_lifetime)
                        .unwrap_or(valid);
                }
                Step::Skip | Step::Drop => {
                    if !committed {
                        self.unclaim(pool, addr);
                    }
                    self.stats.global.pkt4_receive_drop.inc();
                    return None;
                }
            }
        }
        if !renew_skipped {
            if offer_lifetime != 0 && !self.parking() {
                // ARM 9.2.34: with offer-lifetime the OFFER allocates and persists a lease. Kea
                // 2.6's lease4_offer hook point is not called: libdhcp_run_script has no such
                // point (ARM 17.25 lists lease4_renew, lease4_expire, lease4_recover,
                // leases4_committed, lease4_release, lease4_decline), nor has kea-hook-runscript.
                if committed {
                    self.refresh_offered_lease(addr, offer_lifetime, now);
                } else {
                    let lease = self.new_lease(&ident, subnet_id, pool, addr, offer_lifetime, now);
                    if !self.persist_offered_lease(lease, subnet, pool, addr) {
                        self.stats.global.pkt4_receive_drop.inc();
                        return None;
                    }
                }
            } else if !committed {
                // Without offer-lifetime (or while a hook script decides) the offer is only held
                // in memory: nothing is logged or counted until the REQUEST.
                let lease = self.new_lease(&ident, subnet_id, pool, addr, valid, now);
                self.table.insert(Entry {
                    lease,
                    pool,
                    subnet: subnet as u32,
                    offer_until: now + offer_hold,
                    holds_bit: self.holds_bit_for(addr),
                    renews: renewing,
                });
            }
        }
        if self.parking() {
            return None;
        }
        let grant = Grant {
            subnet,
            pool,
            addr,
            valid,
        };
        self.classify_additional(meta, pkt, subnet, pool);
        self.write_reply(meta, pkt, MessageType::Offer, Some(grant), server_id, out)
    }

    /// ARM 9.2.34 "Temporary Allocation on DHCPDISCOVER": the offered address becomes a lease
    /// whose lifetime is the offer lifetime (option 51 of the OFFER still says the valid
    /// lifetime), logged before the OFFER leaves, so that no one else is offered it while the
    /// offer stands, also across a restart. "Assigned lease statistics are incremented"
    /// (assigned-addresses and cumulative-assigned-addresses, as for a lease granted by a
    /// DHCPREQUEST; the REQUEST that takes it then extends it without counting it again), and
    /// "expiration processing and reclamation behave just as they do for leases allocated
    /// during DHCPREQUEST processing": an unclaimed offer expires into reclaimed-leases.
    /// False when the lease log refused it: the address is given back and no OFFER sent.
    fn persist_offered_lease(&mut self, lease: Lease, subnet: usize, pool: u32, addr: u32) -> bool {
        if self.sink.record(&lease).is_err() {
            tracing::error!(target: "DHCPSRV_MEMFILE_LEASE_ADD_FAILED", addr = %Ipv4Addr::from(addr), "lease log append failed; no OFFER sent");
            match self.table.get(addr) {
                Some(e) if !e.is_offer() => {
                    // The client's lapsed entry, whose bit was claimed again for this offer.
                    if e.holds_bit {
                        let e = e.clone();
                        self.give_back(&e, addr);
                        if let Some(x) = self.table.get_mut(addr) {
                            x.holds_bit = false;
                        }
                    }
                }
                _ => self.unclaim(pool, addr),
            }
            return false;
        }
        tracing::debug!(target: "DHCP4_LEASE_OFFER", addr = %Ipv4Addr::from(addr), valid = lease.valid_lifetime, "lease will be offered");
        let holds_bit = self.holds_bit_for(addr);
        self.table.insert(Entry {
            lease,
            pool,
            subnet: subnet as u32,
            offer_until: 0,
            holds_bit,
            renews: false,
        });
        self.count_allocated(subnet, pool);
        true
    }

    /// ARM 9.2.34: "Clients repeating DHCPDISCOVERs are offered the same address each time".
    /// The client's lease is renewed for the offer lifetime from now and logged, as Kea's
    /// allocation engine does for a DHCPDISCOVER from a client with a lease (renewLease4 with
    /// offer_lft: updateLease4Information sets `valid_lft = offer_lft`, cltt now, and the
    /// lease is updated in the store), also a lease the client was ACKed: a client that
    /// DISCOVERs again has left it, and its REQUEST extends it to the valid lifetime again.
    fn refresh_offered_lease(&mut self, addr: u32, offer_lifetime: u32, now: u64) {
        let Some(e) = self.table.get_mut(addr) else {
            return;
        };
        if e.lease.cltt == now && e.lease.valid_lifetime == offer_lifetime {
            return;
        }
        e.lease.cltt = now;
        e.lease.valid_lifetime = offer_lifetime;
        self.table.reinsert(addr);
        let Some(e) = self.table.get(addr) else {
            return;
        };
        if self.sink.record(&e.lease).is_err() {
            tracing::error!(target: "DHCPSRV_MEMFILE_LEASE_ADD_FAILED", addr = %Ipv4Addr::from(addr), "lease log append failed while renewing an offered lease");
        }
    }

    /// A new lease in subnet `s` (pool `pool` or NO_POOL): the gauges and the cumulative
    /// counters go up.
    fn count_allocated(&self, s: usize, pool: u32) {
        let pl = (pool != NO_POOL).then_some(pool as usize);
        self.count_assigned(s, pl, false, 1);
        self.stats.global.cumulative_assigned_addresses.inc();
        if let Some(c) = self.stats.subnets.get(s) {
            c.cumulative_assigned_addresses.inc();
        }
        if let Some(c) = pl.and_then(|p| self.stats.pools.get(p)) {
            c.cumulative_assigned_addresses.inc();
        }
    }

    /// An expired lease reclaimed as its client renews it (Kea's renewLease4): counted as
    /// reclaimed and no longer assigned, before the renewal counts it assigned again.
    fn count_reclaimed_in_place(&self, s: usize, pool: u32) {
        let pl = (pool != NO_POOL).then_some(pool as usize);
        self.count_assigned(s, pl, false, -1);
        self.stats.global.reclaimed_leases.inc();
        if let Some(c) = self.stats.subnets.get(s) {
            c.reclaimed_leases.inc();
        }
        if let Some(c) = pl.and_then(|p| self.stats.pools.get(p)) {
            c.reclaimed_leases.inc();
        }
    }

    /// The requested address (option 50) when it lies in the client's network and is free.
    fn requested_free(
        &mut self,
        subnet: usize,
        ident: &ClientIdent,
        now: u64,
    ) -> Option<(usize, usize, u32)> {
        let req = u32::from(self.opts.requested_address()?);
        let (s, p) = self.pool_in_network(subnet, req)?;
        if !self.subnet_admits(s) || !self.pool_admits(p) {
            return None;
        }
        let mcid = self.prepared.subnets.get(s)?.match_client_id;
        self.take_address(p, req, ident, mcid, now)
            .then_some((s, p, req))
    }

    /// The client's lease on `addr` that Kea's allocation engine finds for it
    /// (`findClientLease`) and renews (`renewLease4`, hook point lease4_renew) instead of
    /// allocating it (lease4_select): a committed lease, live or expired, or one reclaimed and
    /// kept for lease affinity (or offered again: [`Entry::renews`]). Not another offer held
    /// in memory (Kea stores none without offer-lifetime), nor a released lease (kea-dhcp4 2.2 deletes it) or a declined one
    /// (its identity is cleared).
    fn own_lease_at(&self, subnet: usize, addr: u32, ident: &ClientIdent) -> Option<&Entry> {
        let e = self.table.get(addr)?;
        let kept = if e.is_offer() {
            e.renews
        } else {
            matches!(
                e.lease.state,
                LeaseState::Default | LeaseState::ExpiredReclaimed
            )
        };
        let mcid = self
            .prepared
            .subnets
            .get(e.subnet as usize)
            .or_else(|| self.prepared.subnets.get(subnet))
            .map(|s| s.match_client_id)
            .unwrap_or(true);
        (kept && ident.owns(&e.lease, mcid)).then_some(e)
    }

    /// The lease the allocation hook points see: for a renewal (Kea's
    /// `updateLease4Information` on the client's lease), the new times on the old lease's
    /// state, keeping the hostname the client left out and the lease's user context; else a
    /// new lease.
    #[allow(clippy::too_many_arguments)]
    fn renewed_or_new_lease(
        &self,
        ident: &ClientIdent,
        subnet_id: SubnetId,
        pool: u32,
        addr: u32,
        valid: u32,
        now: u64,
        renewing: bool,
    ) -> Lease {
        let mut lease = self.new_lease(ident, subnet_id, pool, addr, valid, now);
        if let Some(old) = self.table.get(addr).filter(|_| renewing) {
            lease.state = old.lease.state;
            if lease.hostname.is_none() {
                lease.hostname = old.lease.hostname.clone();
            }
            lease.user_context = old.lease.user_context.clone();
        }
        lease
    }

    fn new_lease(
        &self,
        ident: &ClientIdent,
        subnet_id: SubnetId,
        pool: u32,
        addr: u32,
        valid: u32,
        now: u64,
    ) -> Lease {
        let pool_id = self
            .prepared
            .pools
            .get(pool as usize)
            .map(|p| p.pool_id)
            .unwrap_or(PoolId(0));
        Lease {
            kind: LeaseKind::V4,
            addr: IpAddr::V4(Ipv4Addr::from(addr)),
            prefix_len: 32,
            iaid: 0,
            hwaddr: Some(ident.hw),
            client_id: ident.client_id.clone(),
            valid_lifetime: valid,
            preferred_lifetime: 0,
            cltt: now,
            subnet_id,
            pool_id,
            state: LeaseState::Default,
            // ARM 9.3.3: the reserved hostname.
            hostname: self.current_host().and_then(|h| h.hostname.clone()),
            fqdn_fwd: false,
            fqdn_rev: false,
            user_context: None,
        }
    }

    fn request_state(&self, pkt: &Dhcp4Packet<&[u8]>) -> RequestState {
        let requested = self.opts.requested_address();
        let ciaddr = pkt.ciaddr();
        match (self.opts.server_id(), requested) {
            (Some(server_id), requested) => RequestState::Selecting {
                server_id,
                requested,
            },
            (None, Some(requested)) if ciaddr.is_unspecified() => {
                RequestState::InitReboot { requested }
            }
            (None, _) if !ciaddr.is_unspecified() => RequestState::RenewingOrRebinding { ciaddr },
            _ => RequestState::Invalid,
        }
    }

    /// RFC 2131 4.3.2: REQUEST in SELECTING, INIT-REBOOT, RENEWING or REBINDING state.
    fn handle_request(
        &mut self,
        meta: &Meta4,
        pkt: &Dhcp4Packet<&[u8]>,
        now: u64,
        out: &mut [u8],
    ) -> Option<Reply4> {
        let Ok(selected) = self.subnet_for(meta, pkt, now) else {
            return None;
        };
        let Some(subnet) = selected else {
            // No subnet by address (e.g. a giaddr no subnet or relay list names) or one whose
            // class guards refuse the client: kea-dhcp4 2.2.0 NAKs the REQUEST
            // (DHCP4_PACKET_NAK_0001, counted in pkt4-nak-sent only; checked by running it).
            return self.nak_no_subnet(meta, pkt, out);
        };
        if self.classify_after_subnet(meta, pkt, subnet) {
            self.stats.global.pkt4_receive_drop.inc();
            return None;
        }
        let server_id = self.local_addr(meta)?;
        let ident = self.ident(pkt);
        let authoritative = self.prepared.subnets.get(subnet)?.authoritative;
        let nak = |this: &mut Self, out: &mut [u8]| {
            this.write_reply(meta, pkt, MessageType::Nak, None, server_id, out)
        };
        let wanted = match self.request_state(pkt) {
            RequestState::Selecting {
                server_id: chosen,
                requested,
            } => {
                if !self.prepared.is_own_server_id(chosen, server_id) {
                    // The client chose another server: our offer goes back (RFC 2131 4.3.2),
                    // and the packet counts as dropped as in Kea (ARM "pkt4-receive-drop":
                    // "the server ID sent by the client does not match the server's"). An
                    // offer made a lease by offer-lifetime stays until it expires, as any
                    // lease (ARM 9.2.34 gives it no other end).
                    self.stats.global.pkt4_receive_drop.inc();
                    if let Some((_, addr)) = self.find_own(subnet, &ident) {
                        if self.table.get(addr).map(|e| e.is_offer()).unwrap_or(false) {
                            if let Some(e) = self.table.remove(addr) {
                                self.give_back(&e, addr);
                            }
                        }
                    }
                    return None;
                }
                let Some(requested) = requested.or_else(|| {
                    let c = pkt.ciaddr();
                    (!c.is_unspecified()).then_some(c)
                }) else {
                    self.stats.global.pkt4_receive_drop.inc();
                    return None;
                };
                u32::from(requested)
            }
            RequestState::InitReboot { requested } => {
                let req = u32::from(requested);
                if !self.in_network(subnet, req) {
                    // ARM 9.2.x: silent unless authoritative (dhcpd's behaviour).
                    return if authoritative { nak(self, out) } else { None };
                }
                match self.find_own(subnet, &ident) {
                    Some((_, addr)) if addr != req => return nak(self, out),
                    Some(_) => {}
                    None if !authoritative => return None,
                    None => {}
                }
                req
            }
            RequestState::RenewingOrRebinding { ciaddr } => u32::from(ciaddr),
            RequestState::Invalid => {
                self.stats.global.pkt4_receive_drop.inc();
                return None;
            }
        };
        match self.commit(meta, pkt, subnet, &ident, wanted, now) {
            Ok(grant) => {
                self.classify_additional(meta, pkt, grant.subnet, grant.pool);
                self.write_reply(meta, pkt, MessageType::Ack, Some(grant), server_id, out)
            }
            Err(CommitError::Taken) => nak(self, out),
            Err(CommitError::UnknownAddress) => None,
            Err(CommitError::Storage) | Err(CommitError::Dropped) => {
                self.stats.global.pkt4_receive_drop.inc();
                None
            }
            Err(CommitError::Parked) => None,
        }
    }

    /// Makes `addr` this client's lease (new, from an offer, or renewed) and logs it.
    fn commit(
        &mut self,
        meta: &Meta4,
        pkt: &Dhcp4Packet<&[u8]>,
        subnet: usize,
        ident: &ClientIdent,
        addr: u32,
        now: u64,
    ) -> Result<Grant, CommitError> {
        if self.reserved_for_other(addr) {
            // ARM 9.3.2: the address is now reserved for another client: NAK, lease kept.
            return Err(CommitError::Taken);
        }
        let host_addr = self.host_address(subnet);
        if let Some((_, _, reserved)) = host_addr.filter(|&(_, _, r)| r != addr) {
            // ARM 9.3.2: the client has a reservation for another address; once that address
            // is free, the client is refused this one so that it comes back for it.
            let mcid = self
                .prepared
                .subnets
                .get(subnet)
                .map(|x| x.match_client_id)
                .unwrap_or(true);
            let free = match self.table.get(reserved) {
                None => true,
                Some(e) => {
                    ident.owns(&e.lease, mcid) || !e.is_active(now) || self.superseded(reserved)
                }
            };
            if free {
                return Err(CommitError::Taken);
            }
        }
        let reserved_here = host_addr.filter(|&(_, _, r)| r == addr);
        let in_pool = self.pool_in_network(subnet, addr);
        if let (None, Some((s, p))) = (reserved_here, in_pool) {
            if !self.subnet_admits(s) || !self.pool_admits(p) {
                // ARM 16.6/16.7: the guard is checked at every REQUEST, renewals included.
                // kea-dhcp4 2.2.0 NAKs a client that left the pool's class
                // (ALLOC_ENGINE_V4_REQUEST_OUT_OF_POOL, DHCP4_PACKET_NAK_0004) and keeps
                // the lease until the client's next address replaces it.
                tracing::debug!(target: "ALLOC_ENGINE_V4_REQUEST_OUT_OF_POOL", addr = %Ipv4Addr::from(addr), "requested address is in a pool the client's classes may not use");
                return Err(CommitError::Taken);
            }
        }
        let (s, pool) = match (reserved_here, in_pool) {
            (Some((s, p, _)), _) => (s, p),
            (None, Some((s, p))) => (s, p as u32),
            (None, None) => {
                // In no pool and not reserved for the client. kea-dhcp4 2.2.0 (run): another
                // client's lease on it is a NAK (DHCP4_PACKET_NAK_0004); otherwise, the
                // client's own lease included (a pool shrunk by a reload), no answer at all,
                // so the client keeps its lease until it expires and then starts over.
                if !self.in_network(subnet, addr) {
                    return Err(CommitError::Taken);
                }
                let mcid = self
                    .prepared
                    .subnets
                    .get(subnet)
                    .map(|x| x.match_client_id)
                    .unwrap_or(true);
                if let Some(e) = self.table.get(addr) {
                    if e.is_active(now) && !ident.owns(&e.lease, mcid) {
                        return Err(CommitError::Taken);
                    }
                }
                tracing::debug!(target: "DHCP4_UNKNOWN_ADDRESS_REQUESTED", addr = %Ipv4Addr::from(addr), "client requested an address in no pool and not reserved for it");
                return Err(CommitError::UnknownAddress);
            }
        };
        let srt = self.prepared.subnets.get(s).ok_or(CommitError::Taken)?;
        let (subnet_id, mcid) = (srt.id, srt.match_client_id);
        let valid = self.lifetime(srt).grant(self.opts.lease_time());
        let was_lease = self
            .table
            .get(addr)
            .map(|e| {
                !e.is_offer()
                    && e.lease.state == LeaseState::Default
                    && (e.holds_bit || !self.holds_bit_for(addr))
                    && ident.owns(&e.lease, mcid)
            })
            .unwrap_or(false);
        // Kea renews the client's own lease (lease4_renew), also one reclaimed meanwhile; it
        // first reclaims one that expired without being reclaimed yet (renewLease4 calls
        // reclaimExpiredLease: lease4_expire with the old lease, reclaimed-leases counted, the
        // renewal then counted as an assignment). Seen with kea-dhcp4 2.2 and
        // libdhcp_run_script.so (fuzz/kea-compare/hooks4.py): lease4_expire, lease4_renew,
        // leases4_committed, in that order.
        let renews = self.hooked.is_some() && self.own_lease_at(s, addr, ident).is_some();
        let mut reclaim_first = was_lease
            && self
                .table
                .get(addr)
                .is_some_and(|e| e.lease.is_expired(now));
        if !was_lease && !self.take_address(pool as usize, addr, ident, mcid, now) {
            return Err(CommitError::Taken);
        }
        if reclaim_first && self.hook_wanted(HookPoint::Lease4Expire) {
            if let Some(old) = self.table.get(addr).map(|e| e.lease.clone()) {
                match self.hook_lease(HookPoint::Lease4Expire, &old, now) {
                    Step::Continue => {}
                    Step::Park => return Err(CommitError::Parked),
                    Step::Skip | Step::Drop => {
                        // ALLOC_ENGINE_V4_LEASE_RECLAMATION_SKIP: not reclaimed (nor counted);
                        // the renewal goes on.
                        tracing::debug!(target: "ALLOC_ENGINE_V4_LEASE_RECLAMATION_SKIP", addr = %Ipv4Addr::from(addr), point = "lease4_expire", "a callout asked to leave the lease as it is");
                        reclaim_first = false;
                    }
                }
            }
        }
        let mut lease = self.new_lease(ident, subnet_id, pool, addr, valid, now);
        if let Some(old) = self.table.get(addr).filter(|e| ident.owns(&e.lease, mcid)) {
            if lease.hostname.is_none() {
                lease.hostname = old.lease.hostname.clone();
            }
            lease.user_context = old.lease.user_context.clone();
        }
        // lease4_select for a new lease, lease4_renew for the client's own (Kea's allocation
        // engine), before anything is recorded.
        let point = if renews {
            HookPoint::Lease4Renew
        } else {
            HookPoint::Lease4Select
        };
        if self.hook_wanted(point) {
            let args = PointArgs {
                subnet: Some(s),
                lease: Some(&lease),
                valid,
                fake_allocation: false,
            };
            match self.hook(point, meta, pkt, now, args) {
                Step::Continue => {}
                Step::Park => {
                    if !was_lease {
                        // Held for this client (as an offer) while its script runs.
                        let until =
                            now + u64::from(self.prepared.offer_hold_secs) + self.park_hold_secs();
                        self.table.insert(Entry {
                            lease,
                            pool,
                            subnet: s as u32,
                            offer_until: until,
                            holds_bit: self.holds_bit_for(addr),
                            renews,
                        });
                    }
                    return Err(CommitError::Parked);
                }
                Step::Skip if was_lease => {
                    // DHCPSRV_HOOK_LEASE4_RENEW_SKIP: the lease is used as it is.
                    let valid = self
                        .table
                        .get(addr)
                        .map(|e| e.lease.valid_lifetime)
                        .unwrap_or(valid);
                    return Ok(Grant {
                        subnet: s,
                        pool,
                        addr,
                        valid,
                    });
                }
                Step::Skip => {
                    self.unclaim(pool, addr);
                    return Err(CommitError::Taken);
                }
                Step::Drop => {
                    if !was_lease {
                        self.unclaim(pool, addr);
                    }
                    return Err(CommitError::Dropped);
                }
            }
        }
        // The client moves to this address: the lease (or offer) it held elsewhere in the
        // network goes in the same step, once the new lease is durable (below).
        let left_by_index = self
            .find_own(subnet, ident)
            .map(|(_, a)| a)
            .or_else(|| self.outside_pools(subnet, ident))
            .filter(|&a| a != addr);
        let left_by_offer = self.displaced_lease(addr, ident);
        if self.sink.record(&lease).is_err() {
            tracing::error!(target: "DHCPSRV_MEMFILE_LEASE_ADD_FAILED", addr = %Ipv4Addr::from(addr), "lease log append failed; no ACK sent");
            return Err(CommitError::Storage);
        }
        for old in [left_by_index, left_by_offer].into_iter().flatten() {
            self.release_moved(old);
        }
        if self.prepared.hosts.has_reserved_values() {
            self.drop_conflicting_lease(subnet, ident, addr);
        }
        self.table.insert(Entry {
            lease,
            pool,
            subnet: s as u32,
            offer_until: 0,
            holds_bit: self.holds_bit_for(addr),
            renews: false,
        });
        if reclaim_first {
            self.count_reclaimed_in_place(s, pool);
        }
        if !was_lease || reclaim_first {
            self.count_allocated(s, pool);
        }
        if !was_lease {
            tracing::info!(target: "DHCP4_LEASE_ALLOC", addr = %Ipv4Addr::from(addr), hwaddr = %ident.hw, "lease allocated");
        }
        Ok(Grant {
            subnet: s,
            pool,
            addr,
            valid,
        })
    }

    /// RFC 2131 4.3.4: the client gives its lease back. Only the owner can release it.
    fn handle_release(&mut self, meta: &Meta4, pkt: &Dhcp4Packet<&[u8]>, now: u64) {
        let addr = u32::from(pkt.ciaddr());
        let ident = self.ident(pkt);
        let Some(e) = self.table.get(addr) else {
            self.stats.global.pkt4_receive_drop.inc();
            return;
        };
        let mcid = self
            .prepared
            .subnets
            .get(e.subnet as usize)
            .map(|s| s.match_client_id)
            .unwrap_or(true);
        if e.is_offer() || e.lease.state != LeaseState::Default || !ident.owns(&e.lease, mcid) {
            tracing::debug!(target: "DHCP4_RELEASE_FAIL_WRONG_CLIENT", addr = %Ipv4Addr::from(addr), "release of a lease the sender does not own");
            self.stats.global.pkt4_receive_drop.inc();
            return;
        }
        let mut entry = e.clone();
        if self.hook_wanted(HookPoint::Lease4Release) {
            let args = PointArgs {
                subnet: Some(entry.subnet as usize),
                lease: Some(&entry.lease),
                ..PointArgs::default()
            };
            if self.hook(HookPoint::Lease4Release, meta, pkt, now, args) != Step::Continue {
                // DHCP4_HOOK_LEASE4_RELEASE_SKIP: the lease stays (or the packet waits).
                return;
            }
        }
        self.note_deleted(&entry.lease);
        entry.lease.state = LeaseState::Released;
        entry.lease.valid_lifetime = 0;
        entry.lease.cltt = now;
        if self.sink.record(&entry.lease).is_err() {
            return;
        }
        let pl = (entry.pool != NO_POOL).then_some(entry.pool as usize);
        self.count_assigned(entry.subnet as usize, pl, false, -1);
        self.give_back(&entry, addr);
        entry.holds_bit = false;
        // Kept (not indexed away) for lease affinity: the client gets it back if still free,
        // until hold-reclaimed-time has passed.
        self.table.insert(entry);
        self.table.held().note(now, addr);
        tracing::info!(target: "DHCP4_RELEASE", addr = %Ipv4Addr::from(addr), "lease released");
    }

    /// RFC 2131 4.3.3: the client found the address in use. The lease goes into probation for
    /// decline-probation-period with its identity removed (ARM 9.x "DHCPDECLINE").
    fn handle_decline(&mut self, meta: &Meta4, pkt: &Dhcp4Packet<&[u8]>, now: u64) {
        let Some(req) = self.opts.requested_address() else {
            self.stats.global.pkt4_receive_drop.inc();
            return;
        };
        let addr = u32::from(req);
        let ident = self.ident(pkt);
        let Some(e) = self.table.get(addr) else {
            self.stats.global.pkt4_receive_drop.inc();
            return;
        };
        let mcid = self
            .prepared
            .subnets
            .get(e.subnet as usize)
            .map(|s| s.match_client_id)
            .unwrap_or(true);
        if e.is_offer() || e.lease.state != LeaseState::Default || !ident.owns(&e.lease, mcid) {
            self.stats.global.pkt4_receive_drop.inc();
            return;
        }
        let mut entry = e.clone();
        if self.hook_wanted(HookPoint::Lease4Decline) {
            let args = PointArgs {
                subnet: Some(entry.subnet as usize),
                lease: Some(&entry.lease),
                ..PointArgs::default()
            };
            if self.hook(HookPoint::Lease4Decline, meta, pkt, now, args) != Step::Continue {
                // DHCP4_HOOK_DECLINE_SKIP: the lease is not declined (or the packet waits).
                return;
            }
        }
        entry.lease.state = LeaseState::Declined;
        entry.lease.hwaddr = None;
        entry.lease.client_id = None;
        entry.lease.hostname = None;
        entry.lease.cltt = now;
        entry.lease.valid_lifetime = self.prepared.decline_probation_period;
        if self.sink.record(&entry.lease).is_err() {
            return;
        }
        let s = entry.subnet as usize;
        let pl = (entry.pool != NO_POOL).then_some(entry.pool as usize);
        // Kea keeps assigned-addresses until the address is recovered (ARM note on statistics).
        if let Some(c) = self.stats.subnets.get(s) {
            c.declined_addresses.add(1);
        }
        if let Some(c) = pl.and_then(|p| self.stats.pools.get(p)) {
            c.declined_addresses.add(1);
        }
        self.stats.declined_addresses.add(1);
        self.table.insert(entry);
        tracing::info!(target: "DHCP4_DECLINE_LEASE", addr = %req, "address declined, in probation");
    }

    /// RFC 2131 4.3.5: configuration only, no lease.
    fn handle_inform(
        &mut self,
        meta: &Meta4,
        pkt: &Dhcp4Packet<&[u8]>,
        now: u64,
        out: &mut [u8],
    ) -> Option<Reply4> {
        let Ok(selected) = self.subnet_for(meta, pkt, now) else {
            return None;
        };
        let Some(subnet) = selected else {
            self.stats.global.pkt4_receive_drop.inc();
            return None;
        };
        if self.classify_after_subnet(meta, pkt, subnet) {
            self.stats.global.pkt4_receive_drop.inc();
            return None;
        }
        let server_id = self.local_addr(meta)?;
        let grant = Grant {
            subnet,
            pool: NO_POOL,
            addr: 0,
            valid: 0,
        };
        self.classify_additional(meta, pkt, subnet, NO_POOL);
        self.write_reply(meta, pkt, MessageType::Inform, Some(grant), server_id, out)
    }

    /// Writes an OFFER, ACK (also the ACK to an INFORM) or NAK and says where it goes.
    fn write_reply(
        &self,
        meta: &Meta4,
        req: &Dhcp4Packet<&[u8]>,
        kind: MessageType,
        grant: Option<Grant>,
        server_id: Ipv4Addr,
        out: &mut [u8],
    ) -> Option<Reply4> {
        let inform = kind == MessageType::Inform;
        let kind = if inform { MessageType::Ack } else { kind };
        let p = &self.prepared;
        // RFC 2131 2: the client's maximum message size bounds the reply (minimum 576 octets
        // including IP and UDP headers).
        let max_len = self
            .opts
            .max_message_size()
            .map(|m| usize::from(m.max(576)) - 28)
            .unwrap_or(548)
            .min(out.len());
        let mut w = Dhcp4Writer::new(out, max_len).ok()?;
        w.set_op(2);
        w.set_htype(req.htype());
        w.set_hlen(req.hlen());
        w.set_xid(req.xid());
        w.set_flags(req.flags());
        w.set_giaddr(req.giaddr());
        w.set_chaddr(req.chaddr());
        let srt = grant.and_then(|g| p.subnets.get(g.subnet));
        if kind == MessageType::Nak {
            if !req.giaddr().is_unspecified() {
                // RFC 2131 4.3.2: a NAK through a relay asks it to broadcast.
                w.set_flags(req.flags() | 0x8000);
            }
        } else {
            if inform || kind == MessageType::Ack {
                w.set_ciaddr(req.ciaddr());
            }
            if let Some(g) = grant {
                w.set_yiaddr(Ipv4Addr::from(g.addr));
            }
            if let Some(s) = srt {
                let (next_server, sname, file) = self.boot_fields(s);
                w.set_siaddr(next_server);
                if !sname.is_empty() {
                    w.set_sname(sname);
                }
                if !file.is_empty() {
                    w.set_file(file);
                }
            }
        }
        w.option(opt::MESSAGE_TYPE, &[kind as u8]).ok()?;
        w.option(opt::SERVER_ID, &server_id.octets()).ok()?;
        let mut written = [false; 256];
        written[usize::from(opt::MESSAGE_TYPE)] = true;
        written[usize::from(opt::SERVER_ID)] = true;
        if let (Some(g), Some(s), false, true) = (grant, srt, inform, kind != MessageType::Nak) {
            w.option(opt::LEASE_TIME, &g.valid.to_be_bytes()).ok()?;
            written[usize::from(opt::LEASE_TIME)] = true;
            let (t1, t2) = tee_times(s, g.valid);
            if let Some(t1) = t1 {
                let _ = w.option(opt::RENEWAL_TIME, &t1.to_be_bytes());
                written[usize::from(opt::RENEWAL_TIME)] = true;
            }
            if let Some(t2) = t2 {
                let _ = w.option(opt::REBINDING_TIME, &t2.to_be_bytes());
                written[usize::from(opt::REBINDING_TIME)] = true;
            }
        }
        if let (Some(s), true) = (srt, kind != MessageType::Nak) {
            let pool = grant
                .filter(|g| g.pool != NO_POOL)
                .and_then(|g| p.pools.get(g.pool as usize));
            // Host > pool > subnet > shared network > classes > globals (ARM 16.1.1 step 13).
            let table = self.option_chain(pool, s);
            let mask_configured = table.get(opt::SUBNET_MASK).is_some();
            if !mask_configured {
                let _ = w.option(opt::SUBNET_MASK, &s.mask.to_be_bytes());
                written[usize::from(opt::SUBNET_MASK)] = true;
            }
            // ARM 9.3.3: a reserved hostname goes back in option 12 when the client sent
            // option 12 or asked for it.
            if let Some(name) = self.current_host().and_then(|h| h.hostname.as_deref()) {
                let wanted = self.opts.get(opt::HOST_NAME).is_some()
                    || self.opts.parameter_request_list().contains(&opt::HOST_NAME);
                if wanted && !name.is_empty() {
                    let _ = w.option(opt::HOST_NAME, name.as_bytes());
                    written[usize::from(opt::HOST_NAME)] = true;
                }
            }
            for &code in self.opts.parameter_request_list() {
                if written[usize::from(code)] {
                    continue;
                }
                if let Some(o) = table.get(code).filter(|o| !o.never_send) {
                    let _ = w.option(code, &o.data);
                    written[usize::from(code)] = true;
                }
            }
            table.for_each_winner(|o| {
                let returned = o.always_send || ALWAYS_RETURNED.contains(&o.code);
                if returned && !o.never_send && !written[usize::from(o.code)] {
                    let _ = w.option(o.code, &o.data);
                    written[usize::from(o.code)] = true;
                }
            });
        }
        // flex_id's replace-client-id restores the client's own identifier in the reply,
        // whatever echo-client-id says (ARM 17.9.1, FLEX_ID_RESTORE_CLIENT_ID).
        if p.echo_client_id || !self.replaced_client_id.is_empty() {
            if let Some(cid) = self.opts.client_id() {
                // RFC 6842: echo the client identifier.
                let _ = w.option(opt::CLIENT_ID, cid);
            }
        }
        if let Some(rai) = self.opts.relay_agent_info() {
            // RFC 3046 2.2: the relay agent information goes back unchanged, last.
            let _ = w.option(opt::RELAY_AGENT_INFO, rai);
        }
        let len = w.finish().ok()?;
        let (dst, broadcast) = self.reply_destination(meta, req, kind, inform);
        let yiaddr = grant
            .map(|g| Ipv4Addr::from(g.addr))
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let l2_unicast = match (
            broadcast,
            req.flags() & 0x8000 == 0,
            req.htype(),
            req.chaddr(),
        ) {
            (true, true, 1, &[a, b, c, d, e, f])
                if kind != MessageType::Nak && !yiaddr.is_unspecified() =>
            {
                Some(L2Unicast {
                    mac: [a, b, c, d, e, f],
                    ip: yiaddr,
                    port: p.client_port,
                })
            }
            _ => None,
        };
        Some(Reply4 {
            dst,
            src_ip: Some(server_id),
            ifindex: (broadcast || req.giaddr().is_unspecified()).then_some(meta.ifindex),
            len,
            message_type: kind,
            l2_unicast,
        })
    }

    /// RFC 2131 4.1 (and Kea's choices in UDP socket mode): relay -> giaddr at port 67, or at
    /// the relay's source port when it sent the RFC 8357 relay-port sub-option (as Kea);
    /// NAK -> broadcast; ciaddr set -> unicast to it; otherwise broadcast (a UDP socket cannot
    /// unicast to an address the client does not have yet without an ARP entry).
    fn reply_destination(
        &self,
        meta: &Meta4,
        req: &Dhcp4Packet<&[u8]>,
        kind: MessageType,
        inform: bool,
    ) -> (SocketAddrV4, bool) {
        let p = &self.prepared;
        let giaddr = req.giaddr();
        if !giaddr.is_unspecified() {
            let relay_port = self
                .opts
                .relay_agent_info()
                .map(|rai| relay_suboptions(rai).any(|(code, _)| code == relay_sub::RELAY_PORT))
                .unwrap_or(false);
            let port = if relay_port {
                meta.src.port()
            } else {
                SERVER_PORT
            };
            return (SocketAddrV4::new(giaddr, port), false);
        }
        let ciaddr = req.ciaddr();
        if kind != MessageType::Nak && !ciaddr.is_unspecified() {
            return (SocketAddrV4::new(ciaddr, p.client_port), false);
        }
        if inform && !meta.src.ip().is_unspecified() {
            return (SocketAddrV4::new(*meta.src.ip(), meta.src.port()), false);
        }
        (SocketAddrV4::new(Ipv4Addr::BROADCAST, p.client_port), true)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CommitError {
    /// The address is another client's or outside the client's network.
    Taken,
    /// The lease log refused the record: no ACK without a durable lease.
    Storage,
    /// The address is in the client's network but in no pool, not reserved for the client
    /// and not another client's: kea-dhcp4 2.2.0 (run) neither answers nor counts it
    /// (ALLOC_ENGINE_V4_REQUEST_OUT_OF_POOL, DHCP4_UNKNOWN_ADDRESS_REQUESTED), authoritative
    /// or not, even when the client holds a lease on it (e.g. the pool shrank in a reload).
    UnknownAddress,
    /// A hook dropped the packet.
    Dropped,
    /// A hook script must end first: the packet is parked.
    Parked,
}

/// T1/T2 (RFC 2131 4.4.5): configured timers, or computed with t1/t2-percent when
/// calculate-tee-times is on; a timer not below its successor is not sent (Kea).
fn tee_times(s: &SubnetRt, valid: u32) -> (Option<u32>, Option<u32>) {
    let pct = |p: f64| (f64::from(valid) * p) as u32;
    let t2 = s
        .rebind_timer
        .or_else(|| s.calculate_tee_times.then(|| pct(s.t2_percent)))
        .filter(|&t| t < valid);
    let t1 = s
        .renew_timer
        .or_else(|| s.calculate_tee_times.then(|| pct(s.t1_percent)))
        .filter(|&t| t < t2.unwrap_or(valid));
    (t1, t2)
}

#[cfg(test)]
mod class_tests;
#[cfg(test)]
mod offer_tests;
#[cfg(test)]
mod tests;
