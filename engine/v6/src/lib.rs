//! Sans-IO DHCPv6 protocol logic (RFC 8415, RFC 6603 prefix exclude, ARM chapter 10).
//!
//! `V6Shard::handle(meta, bytes, now, out)` takes one datagram (a client message or a
//! Relay-forward chain) and the time, decides, updates the shard's lease table and lease log,
//! and writes the reply (Advertise / Reply, wrapped in Relay-reply layers with each relay's
//! Interface-ID echoed) into the caller's buffer. It never touches a socket, a clock or a
//! thread, so every branch is tested in memory. It must never panic on packet contents, never
//! lock, and never allocate per packet once warm (a lease allocates only when a new client's
//! entry enters the table).
//!
//! Clients are identified by DUID, which the kernel cannot hash: the runtime computes the
//! owning shard with [`owner_shard`] of [`client_duid`] and hands packets it does not own to
//! that shard; `handle` assumes the shard owns the client. The server DUID is given at
//! construction (generating and persisting it is the runtime's job, ARM 10.2.13).

pub mod classes;
mod commands;
mod dhcp4o6;
mod hooked;
pub mod hosts;
mod leases;
#[cfg(test)]
mod mac_tests;
mod prepared;
pub mod stats;
#[cfg(test)]
mod tests;

pub use commands::{Lease6CommandError, Lease6Updated, MovingLease6, ReloadBuild6};
pub use dhcp4o6::Dhcp4Query;
pub use hooked::{ParkStats6, Resumed6};
pub use leases::{key_of, Entry6, LeaseKey, LeaseTable6, NO_POOL};
pub use prepared::{
    grant, Interface6Info, PoolKind, PoolRt6, Prepared6, ReplyOption6, Selector, SubnetRt6,
    MAX_POOL_OFFSETS,
};
pub use stats::{kea_statistics6, ShardStats6};

use classes::{Classify6, Guard6, Packet6, PacketClasses6, V6Context};
use corelease_alloc::reclaim::{CycleEnd, ReclaimCycles, ReclaimFamily, ReclaimLimits};
use corelease_alloc::FreeLeaseQueue;
use corelease_classify::Scratch;
use corelease_config::{prefix6_mask, Lifetime6};
use corelease_hooks::Step;
use corelease_hooks::{HookPoint, IaView};
use corelease_storage::LeaseSink;
use corelease_types::{ClientId, HwAddr, Lease, LeaseKind, LeaseState};
use corelease_wire::v6::mac::client_hwaddr;
use corelease_wire::v6::{
    opt, relay_message_of, status, Dhcp6Packet, Dhcp6Writer, Ia, IaAddr, IaPrefix, MessageType,
    Options6, WireError, HEADER_LEN, MAX_RELAY_DEPTH, OPTION_HEADER_LEN, RELAY_HEADER_LEN,
    SERVER_PORT,
};
use hooked::{ia_key, Args6};
use hosts::{Host6, HostIdx, PacketIds6};
use std::net::{IpAddr, Ipv6Addr, SocketAddrV6};
use std::sync::Arc;
use std::time::Duration;

/// Where a datagram came from and arrived (from the runtime's IPV6_PKTINFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta6 {
    pub src: SocketAddrV6,
    /// The IP destination: ff02::1:2 for a client's multicast, or one of ours.
    pub dst: Ipv6Addr,
    pub ifindex: u32,
}

/// Where the reply written into `out` goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply6 {
    pub dst: SocketAddrV6,
    /// Interface to send on (needed for a link-local destination).
    pub ifindex: Option<u32>,
    pub len: usize,
    /// The type of the client/server message inside (Advertise or Reply).
    pub message_type: MessageType,
}

/// How long an advertised address or prefix stays reserved for the Request that should
/// follow (RFC 8415 18.3.1 lets the server choose; Kea keeps none, so two clients can be
/// advertised the same address). Advertised leases are not logged.
pub const ADVERTISE_HOLD_SECS: u64 = 30;
/// Upper bound of reclamations in one tick whatever `max-reclaim-leases` says (0 is "no limit"
/// in Kea): a tick must never stall packets for long, the cycle goes on at the next tick.
const MAX_RECLAIM_PER_TICK: u32 = 1000;

/// A monotonic clock reading, injected by the runtime (the engine reads no clock): it bounds a
/// reclamation cycle by `max-reclaim-time`.
pub type MonotonicClock = fn() -> Duration;

/// The clock of a shard nobody gave one: time stands still, so `max-reclaim-time` never ends a
/// cycle (the lease-count bounds still do).
fn frozen_clock() -> Duration {
    Duration::ZERO
}
/// Candidates taken from the shard's queue before scanning the bitmap.
const CLAIM_TRIES: usize = 64;
/// RFC 8357 Relay Source Port option: answer the relay at the port it sent from.
const OPT_RELAY_SOURCE_PORT: u16 = 135;
/// RFC 6603 OPTION_PD_EXCLUDE.
const OPT_PD_EXCLUDE: u16 = 67;

/// The shard that owns a client, the same on every shard: for a DUID of 6 bytes or more the
/// steering hash of its last six (the link-layer address of a DUID-LLT or DUID-LL), which the
/// kernel's reuseport program computes too (engine/shard steering.rs), so most datagrams reach
/// their owner without a hand-off; FNV-1a of a shorter DUID.
pub fn owner_shard(duid: &[u8], shards: usize) -> usize {
    if let Some(&[a, b, c, d, e, f]) = duid.len().checked_sub(6).and_then(|at| duid.get(at..)) {
        let half = u32::from(u16::from_be_bytes([a, b]));
        let word = u32::from_be_bytes([c, d, e, f]);
        let h = corelease_types::steering_hash(word, half);
        return (h % u32::try_from(shards.max(1)).unwrap_or(u32::MAX)) as usize;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in duid {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % shards.max(1) as u64) as usize
}

/// The client DUID of a datagram, found through any relay layers; None when malformed or
/// absent (such a packet can go to any shard: it is dropped there).
pub fn client_duid(data: &[u8]) -> Option<&[u8]> {
    let mut bytes = data;
    for _ in 0..=MAX_RELAY_DEPTH {
        let relay = Dhcp6Packet::new_checked(bytes).ok()?.is_relay();
        if !relay {
            return Options6::new(bytes.get(HEADER_LEN..)?, HEADER_LEN)
                .find(opt::CLIENTID)
                .filter(|d| !d.is_empty());
        }
        bytes = relay_message_of(bytes.get(RELAY_HEADER_LEN..)?)?;
    }
    None
}

/// Kea's Dhcpv6Srv::sanityCheck (RFC 8415 section 16): Solicit, Confirm and Rebind carry one
/// client identifier and no server identifier; Request, Renew, Release and Decline one of
/// each; Information-request at most one of each. Every identifier present is a DUID of 3 to
/// 128 bytes (Kea's DUID::MIN_DUID_LEN and MAX_DUID_LEN; checked on the wire with kea-dhcp6
/// 2.2: a 2-byte or a 130-byte client identifier, or two identical ones, is dropped).
fn identifiers_ok(kind: MessageType, msg: &Dhcp6Packet<&[u8]>) -> bool {
    let (mut clients, mut servers) = (0usize, 0usize);
    let mut lengths_ok = true;
    for o in msg.options().map_while(Result::ok) {
        let count = match o.code {
            opt::CLIENTID => &mut clients,
            opt::SERVERID => &mut servers,
            _ => continue,
        };
        *count += 1;
        // Kea checks the first of each (getOption); a second one fails the count anyway.
        if *count == 1 {
            lengths_ok &= (3..=128).contains(&o.data.len());
        }
    }
    lengths_ok
        && match kind {
            MessageType::Solicit | MessageType::Confirm | MessageType::Rebind => {
                clients == 1 && servers == 0
            }
            MessageType::Request
            | MessageType::Renew
            | MessageType::Release
            | MessageType::Decline => clients == 1 && servers == 1,
            MessageType::InformationRequest => clients <= 1 && servers <= 1,
            _ => true,
        }
}

/// A relay message shorter than its 34-byte header but holding at least a client message
/// header (4 bytes): Kea's Pkt6::unpackRelayMsg stops there without an error.
fn is_short_relay(e: &WireError) -> bool {
    matches!(e, WireError::Truncated { len, needed } if *needed == RELAY_HEADER_LEN && *len >= HEADER_LEN)
}

/// The DHCPv6 state of one shard.
pub struct V6Shard<S: LeaseSink> {
    prepared: Arc<Prepared6>,
    server_duid: Box<[u8]>,
    shards: usize,
    core: Core<S>,
    /// Reclamation cycles: schedule, budget, incomplete-cycle warnings (ARM chapter 12).
    reclaim_cycles: ReclaimCycles,
    clock: MonotonicClock,
    /// The classes of the packet being handled (ARM 16.1.1), reset per packet.
    pkt_classes: PacketClasses6,
    /// Classes added by `evaluate-additional-classes` after the lease choice.
    extra_classes: PacketClasses6,
    /// The expression evaluator's value stack.
    scratch: Scratch,
    /// The flex-id of the packet being handled (ARM 17.9), reused.
    flex_id: Vec<u8>,
}

/// The mutable part of a shard, apart from the shared configuration so both can be borrowed.
struct Core<S: LeaseSink> {
    queues: Vec<FreeLeaseQueue>,
    table: LeaseTable6,
    sink: S,
    stats: Arc<ShardStats6>,
    steal_cursor: u64,
    /// The pool of the first address or prefix granted in the reply being written, whose
    /// option-data is sent (pool options win over subnet ones).
    reply_pool: Option<usize>,
    /// Hook points and parked packets (hooked.rs); None without `hooks-libraries`.
    hooked: Option<Box<hooked::HookState6>>,
}

/// Per-IA context.
struct IaCtx<'a> {
    duid: &'a [u8],
    subnet: Option<usize>,
    now: u64,
    pd_exclude: bool,
    /// The client's host reservation (ARM 10.3), with its index.
    host: Option<(HostIdx, &'a Host6)>,
    /// The packet's classes, for pool and subnet guards (ARM 16.6, 16.7).
    view: V6Context<'a>,
    /// Lifetimes of the first class that sets them (ARM 16.4), over the subnet's.
    preferred: Option<Lifetime6>,
    valid: Option<Lifetime6>,
    /// The datagram being answered (hook points show it to callouts).
    query: &'a [u8],
    /// The client's hardware address by `mac-sources` (ARM 10.11), stored with its leases
    /// as Kea stores `ctx.hwaddr_`.
    hwaddr: Option<HwAddr>,
}

impl IaCtx<'_> {
    fn admits(&self, g: &Guard6) -> bool {
        g.is_open() || self.view.admits(g)
    }

    /// Whether the packet may use subnet `s`: its guard and its shared network's.
    fn subnet_ok(&self, p: &Prepared6, s: usize) -> bool {
        let Some(sn) = p.subnets.get(s) else {
            return false;
        };
        let network_ok = sn
            .network
            .and_then(|n| p.network_guards.get(n))
            .is_none_or(|g| self.admits(g));
        network_ok && self.admits(&sn.guard)
    }

    fn pool_ok(&self, pool: &PoolRt6) -> bool {
        self.admits(&pool.guard)
    }

    fn host_idx(&self) -> Option<HostIdx> {
        self.host.map(|(i, _)| i)
    }
}

fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

impl<S: LeaseSink> V6Shard<S> {
    /// Shard `shard` of `shards`; `server_duid` is option 2's payload in every reply.
    pub fn new(
        prepared: Arc<Prepared6>,
        server_duid: &[u8],
        shard: usize,
        shards: usize,
        sink: S,
    ) -> Self {
        let queues = prepared
            .pools
            .iter()
            .map(|p| FreeLeaseQueue::new(p.len, shard, shards))
            .collect();
        let stats = Arc::new(ShardStats6::new(
            prepared.subnets.len(),
            prepared.pools.len(),
        ));
        V6Shard {
            prepared,
            server_duid: server_duid.into(),
            shards: shards.max(1),
            core: Core {
                queues,
                table: LeaseTable6::default(),
                sink,
                stats,
                steal_cursor: shard as u64 * 64,
                reply_pool: None,
                hooked: None,
            },
            reclaim_cycles: ReclaimCycles::default(),
            clock: frozen_clock,
            pkt_classes: PacketClasses6::default(),
            extra_classes: PacketClasses6::default(),
            scratch: Scratch::new(),
            // Room for any option's worth of identifier: grown only by a longer one.
            flex_id: Vec::with_capacity(256),
        }
    }

    /// Gives the shard a monotonic clock, which bounds reclamation cycles by
    /// `max-reclaim-time`; without one only the lease-count bounds apply.
    pub fn set_clock(&mut self, clock: MonotonicClock) {
        self.clock = clock;
    }

    /// Reclamation cycles in a row that ended with expired leases left, and how many
    /// ALLOC_ENGINE_V6_LEASES_RECLAMATION_SLOW warnings were issued.
    pub fn reclaim_backlog(&self) -> (u32, u64) {
        (
            self.reclaim_cycles.incomplete_in_a_row(),
            self.reclaim_cycles.slow_warnings(),
        )
    }

    pub fn stats(&self) -> Arc<ShardStats6> {
        Arc::clone(&self.core.stats)
    }

    pub fn prepared(&self) -> &Arc<Prepared6> {
        &self.prepared
    }

    pub fn table(&self) -> &LeaseTable6 {
        &self.core.table
    }

    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.core.sink
    }

    /// Deletes the committed lease of `key` (lease6-del, lease6-wipe; ARM 16.x "lease_cmds"):
    /// the log records the removal, the address or prefix is freed and leaves the
    /// assigned-nas / assigned-pds count. None when there is no such lease (an advertised,
    /// uncommitted one included) or the log refused the removal.
    pub fn delete_lease(&mut self, key: LeaseKey) -> Option<Lease> {
        let p = &*self.prepared;
        let c = &mut self.core;
        let e = c.table.get(key).filter(|e| !e.is_offer())?.clone();
        if let Err(err) = c
            .sink
            .remove(e.lease.kind, e.lease.addr, e.lease.prefix_len)
        {
            tracing::error!(target: "DHCPSRV_MEMFILE_LEASE_ADD_FAILED", error = %err, addr = %e.lease.addr, "lease log removal failed");
            return None;
        }
        c.uncount(&e, key);
        c.table.remove(key);
        c.give_back(p, &e, key);
        Some(e.lease)
    }

    /// Adds a lease from the control plane (lease6-add): refused when the address or prefix
    /// already has a lease or is held elsewhere; logged, then counted like a recovered one.
    pub fn add_lease(&mut self, lease: Lease, now: u64) -> Result<(), String> {
        let key = key_of(&lease);
        if self.core.table.get(key).is_some_and(|e| !e.is_offer()) {
            return Err(format!("lease for {} already exists", lease.addr));
        }
        if self.load_leases([lease.clone()], now) > 0 {
            return Err(format!("{} is in use", lease.addr));
        }
        if !self.core.record(&lease) {
            self.delete_lease(key);
            return Err(format!("{}: the lease log refused the lease", lease.addr));
        }
        Ok(())
    }

    /// The lease sink and the lease table at once (lease file cleanup snapshots the table
    /// into the log).
    pub fn sink_and_table(&mut self) -> (&mut S, &LeaseTable6) {
        (&mut self.core.sink, &self.core.table)
    }

    pub fn shards(&self) -> usize {
        self.shards
    }

    pub fn server_duid(&self) -> &[u8] {
        &self.server_duid
    }

    /// Loads recovered v6 leases into this shard (startup, after the runtime re-hashed them
    /// by [`owner_shard`] of their DUID). Active and declined leases claim their bit; a second
    /// lease for an already claimed address or prefix is refused and counted in the result.
    pub fn load_leases(&mut self, leases: impl IntoIterator<Item = Lease>, _now: u64) -> usize {
        leases
            .into_iter()
            .filter(|l| self.load_one(l.clone()).is_some())
            .count()
    }

    /// Loads one lease (recovery, lease6-add, a reload's build): an active or declined lease
    /// claims its bit. Gives the lease back when another holds the bit; a lease that is not
    /// a v6 lease is dropped.
    fn load_one(&mut self, lease: Lease) -> Option<Lease> {
        let p = &*self.prepared;
        let c = &mut self.core;
        let pd = match lease.kind {
            LeaseKind::V6Na => false,
            LeaseKind::V6Pd => true,
            _ => return None,
        };
        let key = key_of(&lease);
        let subnet = p
            .subnets
            .iter()
            .position(|s| s.id == lease.subnet_id && (pd || s.contains(key.0)));
        let pool = subnet.and_then(|s| p.pool_of(s, pd, key.0));
        let binds = matches!(lease.state, LeaseState::Default | LeaseState::Declined);
        let mut holds_bit = false;
        // A reserved value's bit belongs to the reservation (claimed at load); a lease on
        // it is kept without holding it (ARM 10.3.2: the holder is moved at renewal).
        let reserved = p.hosts.reserved_for((key.0, pd)).is_some();
        if let (true, Some((pi, off)), false) = (binds, pool, reserved) {
            let pool_rt = p.pools.get(pi)?;
            if !pool_rt.bitmap.try_claim(off) {
                return Some(lease);
            }
            holds_bit = true;
        }
        if binds {
            if let Some(s) = subnet {
                let pool = pool.map_or(NO_POOL, |(pi, _)| pi as u32);
                c.count_assigned(s, pool, pd, 1);
                if lease.state == LeaseState::Declined {
                    c.count_declined(s, pool, 1);
                }
            }
        }
        if matches!(
            lease.state,
            LeaseState::ExpiredReclaimed | LeaseState::Released
        ) {
            // Recovered or carried over a reload: still removed once hold-reclaimed-time
            // has passed since it was reclaimed or released (ARM chapter 12).
            c.table.held().note(lease.cltt, key);
        }
        c.table.insert(Entry6 {
            lease,
            pool: pool.map(|(pi, _)| pi as u32).unwrap_or(NO_POOL),
            subnet: subnet.map(|s| s as u32).unwrap_or(u32::MAX),
            offer_until: 0,
            holds_bit,
        });
        None
    }

    /// Takes over an advertisement a running shard holds (a config reload's switch): its bit
    /// under this state's pools, for the same client until the same time. False when the
    /// new configuration has no pool for it any more, reserves it, or another lease holds it.
    fn load_offer(&mut self, offer: &Entry6) -> bool {
        let p = &*self.prepared;
        let key = key_of(&offer.lease);
        if self.core.table.get(key).is_some() || p.hosts.reserved_for(key).is_some() {
            return false;
        }
        let pd = key.1;
        let Some(subnet) = p
            .subnets
            .iter()
            .position(|s| s.id == offer.lease.subnet_id && (pd || s.contains(key.0)))
        else {
            return false;
        };
        let Some((pi, off)) = p.pool_of(subnet, pd, key.0) else {
            return false;
        };
        let Some(pool) = p.pools.get(pi) else {
            return false;
        };
        if offer.lease.prefix_len != pool.lease_len() || !pool.bitmap.try_claim(off) {
            return false;
        }
        self.core.table.insert(Entry6 {
            lease: offer.lease.clone(),
            pool: pi as u32,
            subnet: subnet as u32,
            offer_until: offer.offer_until,
            holds_bit: true,
        });
        true
    }

    /// Handles one datagram. Returns where the reply in `out` goes, or None when nothing is
    /// sent (malformed, not for this server, or a message that takes no answer).
    /// With hooks, a packet a hook script must answer first is parked (None now); its reply
    /// comes later from [`V6Shard::resume_parked`].
    pub fn handle(
        &mut self,
        meta: &Meta6,
        data: &[u8],
        now: u64,
        out: &mut [u8],
    ) -> Option<Reply6> {
        let reply = if self.core.hooked.is_some() {
            self.handle_hooked(meta, data, now, out)
        } else {
            self.process(meta, data, now, out)
        };
        if let Some(r) = &reply {
            self.count_sent(r.message_type);
        }
        reply
    }

    fn count_sent(&self, message_type: MessageType) {
        let g = &self.core.stats.global;
        g.pkt6_sent.inc();
        match message_type {
            MessageType::Advertise => g.pkt6_advertise_sent.inc(),
            _ => g.pkt6_reply_sent.inc(),
        }
    }

    /// The datagram's processing up to its reply (the hook points before it included).
    fn process(&mut self, meta: &Meta6, data: &[u8], now: u64, out: &mut [u8]) -> Option<Reply6> {
        let replay = self.core.replaying();
        let g = &self.core.stats.global;
        if !replay {
            g.pkt6_received.inc();
        }
        // Kea counts a datagram it cannot parse in pkt6-parse-failed and pkt6-receive-drop
        // (checked on the wire with kea-dhcp6 2.2: an empty one, 3 bytes, 34 relay layers, an
        // empty or 3-byte Relay Message, an option its definition cannot read at any level).
        // A relay message too short for its 34-byte header is no parse failure there: Kea
        // stops unwrapping (Pkt6::unpackRelayMsg) and counts the relay type as unknown.
        let parse_failed = |e: &WireError| {
            if is_short_relay(e) {
                g.pkt6_unknown_received.inc();
            } else {
                g.pkt6_parse_failed.inc();
            }
            g.pkt6_receive_drop.inc();
        };
        let outer = match Dhcp6Packet::new_checked(data) {
            Ok(outer) => outer,
            Err(e) => {
                parse_failed(&e);
                return None;
            }
        };
        let (msg, relays) = match outer.innermost() {
            Ok(found) => found,
            Err(e) => {
                parse_failed(&e);
                return None;
            }
        };
        // Each layer's options as Kea reads them (kea_check): a truncated last option is
        // ignored, an unreadable one fails the message.
        if let Some(Err(e)) = outer
            .relay_chain()
            .map(|layer| layer.and_then(|l| l.kea_check()))
            .find(Result::is_err)
        {
            parse_failed(&e);
            return None;
        }
        let Some(kind) = msg.msg_type() else {
            g.pkt6_unknown_received.inc();
            g.pkt6_receive_drop.inc();
            return None;
        };
        if !replay {
            self.count_received(kind);
        }
        if self.core.hook_wanted(HookPoint::Buffer6Receive) {
            // buffer6_receive: Kea's callouts may parse the buffer themselves (skip); ours
            // cannot hand a parsed packet back, so skip goes on like continue. pkt6_receive
            // comes later, after the early classes (`respond`).
            let args = Args6 {
                now,
                ..Args6::default()
            };
            let p = &*self.prepared;
            let point = HookPoint::Buffer6Receive;
            match self.core.hook6(p, point, hooked::PACKET, data, args) {
                Step::Continue | Step::Skip => {}
                Step::Park => return None,
                Step::Drop => {
                    tracing::debug!(target: "DHCP6_HOOK_BUFFER_RCVD_DROP", "packet is dropped, because a callout set the next step to DROP");
                    self.core.stats.global.pkt6_receive_drop.inc();
                    return None;
                }
            }
        }

        let mut sel = Selector {
            relayed: relays > 0,
            link_address: None,
            interface_id: None,
            ifindex: meta.ifindex,
            src: Some(*meta.src.ip()),
            dst: Some(meta.dst),
        };
        let mut relay_port = SERVER_PORT;
        // Outermost first: the last value kept is the one of the relay closest to the client.
        // A Relay-reply layer is read as a Relay-forward. RFC 8415 section 19 has Relay-reply go
        // from servers to relays, but kea-dhcp6 2.2 unwraps both relay types alike
        // (Pkt6::unpackRelayMsg) and answers the message inside (checked on the wire: a
        // Solicit in a Relay-reply, at any layer, gets its Advertise in Relay-replies, as any
        // relayed one). The answer goes back to the sender like any relayed answer, so this
        // gives nobody more than a Relay-forward would.
        for (depth, layer) in outer.relay_chain().take(relays).enumerate() {
            let Ok(layer) = layer else { break };
            if depth == 0 && layer.option(OPT_RELAY_SOURCE_PORT).is_some() {
                relay_port = meta.src.port();
            }
            let link = layer.link_address();
            if !link.is_unspecified() && !is_link_local(link) {
                sel.link_address = Some(link);
            }
            let layer_bytes = layer.into_inner();
            let relay_options = layer_bytes.get(RELAY_HEADER_LEN..).unwrap_or(&[]);
            if let Some(iid) =
                Options6::new(relay_options, RELAY_HEADER_LEN).find(opt::INTERFACE_ID)
            {
                sel.interface_id = Some(iid);
            }
        }

        match self.respond(&outer, relays, &msg, kind, &sel, now, out) {
            Some((message_type, len)) => {
                let dst = if relays > 0 {
                    SocketAddrV6::new(*meta.src.ip(), relay_port, 0, 0)
                } else {
                    meta.src
                };
                Some(Reply6 {
                    dst,
                    ifindex: Some(meta.ifindex),
                    len,
                    message_type,
                })
            }
            None => {
                // A packet waiting for its hook script is not dropped.
                if !self.parking() {
                    self.core.stats.global.pkt6_receive_drop.inc();
                }
                None
            }
        }
    }

    fn count_received(&self, kind: MessageType) {
        let g = &self.core.stats.global;
        match kind {
            MessageType::Solicit => g.pkt6_solicit_received.inc(),
            MessageType::Advertise => g.pkt6_advertise_received.inc(),
            MessageType::Request => g.pkt6_request_received.inc(),
            MessageType::Reply => g.pkt6_reply_received.inc(),
            MessageType::Renew => g.pkt6_renew_received.inc(),
            MessageType::Rebind => g.pkt6_rebind_received.inc(),
            MessageType::Release => g.pkt6_release_received.inc(),
            MessageType::Decline => g.pkt6_decline_received.inc(),
            MessageType::InformationRequest => g.pkt6_infrequest_received.inc(),
            MessageType::Dhcpv4Query => g.pkt6_dhcpv4_query_received.inc(),
            MessageType::Dhcpv4Response => g.pkt6_dhcpv4_response_received.inc(),
            // Kea has no dedicated counter for Confirm.
            MessageType::Confirm => {}
            _ => g.pkt6_unknown_received.inc(),
        }
    }

    /// The server identifier rules of RFC 8415 section 16: Solicit, Confirm and Rebind must
    /// not carry one; Request, Renew, Release and Decline must carry ours;
    /// Information-request may carry one, and then it must be ours.
    fn server_id_ok(&self, kind: MessageType, msg: &Dhcp6Packet<&[u8]>) -> bool {
        let theirs = msg.option(opt::SERVERID);
        match kind {
            MessageType::Solicit | MessageType::Confirm | MessageType::Rebind => theirs.is_none(),
            MessageType::Request
            | MessageType::Renew
            | MessageType::Release
            | MessageType::Decline => theirs == Some(&self.server_duid[..]),
            MessageType::InformationRequest => theirs.is_none_or(|d| d == &self.server_duid[..]),
            _ => false,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn respond(
        &mut self,
        outer: &Dhcp6Packet<&[u8]>,
        relays: usize,
        msg: &Dhcp6Packet<&[u8]>,
        kind: MessageType,
        sel: &Selector<'_>,
        now: u64,
        out: &mut [u8],
    ) -> Option<(MessageType, usize)> {
        // Kea 2.2's testUnicast, before everything below: a Solicit, Confirm, Rebind or
        // Information-request sent by a client straight to a unicast address is dropped (RFC
        // 8415 sections 18.4 and 16: those go to the multicast address; checked on the wire
        // with kea-dhcp6 2.2: counted by type and in pkt6-receive-drop, no answer).
        let to_unicast = sel
            .dst
            .is_some_and(|d| !d.is_multicast() && !d.is_unspecified());
        if relays == 0
            && to_unicast
            && matches!(
                kind,
                MessageType::Solicit
                    | MessageType::Confirm
                    | MessageType::Rebind
                    | MessageType::InformationRequest
            )
        {
            tracing::debug!(target: "DHCP6_PACKET_DROP_UNICAST", kind = kind.kea_name(), "dropping unicast message of a type that must be multicast");
            return None;
        }
        // Kea 2.2's order (Dhcpv6Srv::processPacket): a server identifier that is not ours
        // drops the message first (testServerID); then the early classes; then pkt6_receive;
        // then the sanity checks (message type, client and server identifier rules) and the
        // DROP class. So pkt6_receive sees every message for this server, classified, even one
        // the sanity checks or DROP will discard.
        if msg
            .option(opt::SERVERID)
            .is_some_and(|d| d != &self.server_duid[..])
        {
            tracing::debug!(target: "DHCP6_PACKET_DROP_SERVERID_MISMATCH", kind = kind.kea_name(), "dropping packet with mismatched server identifier");
            return None;
        }
        let p = &*self.prepared;
        // ARM 16.1.1: ALL, the vendor class and the tests that need no host lookup come
        // before subnet selection; a packet in DROP is dropped.
        let pkt = Packet6 {
            outer,
            relays,
            msg,
            iface: p
                .interfaces
                .iter()
                .find(|i| i.ifindex == sel.ifindex)
                .map_or("", |i| i.name.as_str()),
            src: sel.src.unwrap_or(Ipv6Addr::UNSPECIFIED),
            dst: sel.dst.unwrap_or(Ipv6Addr::UNSPECIFIED),
        };
        let mut cls = Classify6 {
            table: &p.classes,
            pkt,
            host: None,
        };
        cls.early(&mut self.pkt_classes, &mut self.scratch);
        if self.core.hook_wanted(HookPoint::Pkt6Receive) {
            let args = Args6 {
                now,
                ..Args6::default()
            };
            let query = outer.as_bytes();
            match self
                .core
                .hook6(p, HookPoint::Pkt6Receive, hooked::PACKET, query, args)
            {
                Step::Continue => {}
                Step::Park => return None,
                // Counted as pkt6-receive-drop by the caller.
                Step::Skip | Step::Drop => {
                    tracing::debug!(target: "DHCP6_HOOK_PACKET_RCVD_SKIP", "packet is dropped, because a callout set the next step to SKIP or DROP");
                    return None;
                }
            }
        }
        if !matches!(
            kind,
            MessageType::Solicit
                | MessageType::Request
                | MessageType::Confirm
                | MessageType::Renew
                | MessageType::Rebind
                | MessageType::Release
                | MessageType::Decline
                | MessageType::InformationRequest
        ) {
            // Server-to-client types, 4o6 (not implemented yet), lease query: not answered.
            return None;
        }
        let duid = msg.client_id();
        if !identifiers_ok(kind, msg) {
            tracing::debug!(target: "DHCP6_PACKET_DROP_RFC_VIOLATION", kind = kind.kea_name(), "client or server identifier missing, repeated or of a bad length");
            return None;
        }
        if !self.server_id_ok(kind, msg) {
            tracing::debug!(target: "DHCP6_PACKET_DROP_SERVERID_MISMATCH", kind = kind.kea_name(), "server identifier check failed");
            return None;
        }
        let has_ia = [opt::IA_NA, opt::IA_TA, opt::IA_PD]
            .iter()
            .any(|&c| msg.option(c).is_some());
        if kind == MessageType::InformationRequest && has_ia {
            // RFC 8415 16.12: an Information-request carrying IA options is discarded.
            return None;
        }
        let dropped =
            |state: &PacketClasses6| p.classes.drop.is_some_and(|d| state.is_defined_member(d));
        if dropped(&self.pkt_classes) {
            tracing::debug!(target: "DHCP6_PACKET_DROP_DROP_CLASS", kind = kind.kea_name(), "packet is in the DROP class");
            return None;
        }
        // ARM 17.9: the flex_id library evaluates its expression for every packet, at
        // pkt6_receive (after the early classes, which `member()` may read; before subnet
        // selection, which an early global lookup by flex-id precedes).
        self.flex_id.clear();
        if let Some(program) = &p.hosts.flex_id {
            let value = program.eval_string(&cls.view(&self.pkt_classes), &mut self.scratch);
            self.flex_id.extend_from_slice(value);
            tracing::debug!(target: "FLEX_ID_EXPRESSION_EVALUATED", size = value.len(), "flex-id evaluated for packet");
        }
        // ARM 17.9.1 replace-client-id: "in the DHCPv6 case, [the value] is formed by
        // prepending two zero bytes before the flexible identifier", and the message is
        // handled as if the client had sent that DUID (its leases and DUID reservations);
        // the reply carries the client's own DUID back. An empty flex-id replaces nothing.
        // On the stack: a DUID is at most 130 bytes (RFC 8415 11.1); a longer flex-id is
        // not made into one.
        let mut replaced_duid = [0u8; 130];
        let client_duid = match replaced_duid.get_mut(2..2 + self.flex_id.len()) {
            Some(rest) if p.hosts.flex_replaces_client_id && !self.flex_id.is_empty() => {
                rest.copy_from_slice(&self.flex_id);
                replaced_duid.get(..2 + self.flex_id.len())
            }
            _ => duid,
        };
        // Kea's Dhcpv6Srv::initContext: the hardware address by mac-sources (ARM 10.11), for
        // hw-address reservations and for the leases of this message.
        let iface_htype = p
            .interfaces
            .iter()
            .find(|i| i.ifindex == sel.ifindex)
            .map_or(0, |i| i.hwtype);
        let hwaddr = client_hwaddr(
            &p.mac_sources,
            outer.as_bytes(),
            sel.src.unwrap_or(Ipv6Addr::UNSPECIFIED),
            iface_htype,
        );
        // ARM 16.1.1 step 6: with early-global-reservations-lookup a global host's classes
        // and KNOWN are known before subnet selection, so they can select a subnet.
        let early_host = if p.early_global_reservations_lookup && !p.hosts.is_empty() {
            let ids = PacketIds6::of(client_duid, hwaddr.as_ref()).with_flex_id(&self.flex_id);
            p.hosts
                .global(&ids)
                .and_then(|i| p.hosts.host(i).map(|h| (i, h)))
        } else {
            None
        };
        cls.host = early_host.map(|(_, h)| h);
        cls.early_host(&mut self.pkt_classes);
        // Subnet selection, skipping subnets whose guard does not admit the packet (ARM 16.6):
        // the selected subnet, else another of its shared network.
        let mut subnet = p.select_subnet(sel).and_then(|s| {
            let view = cls.view(&self.pkt_classes);
            let admits = |g: &Guard6| g.is_open() || view.admits(g);
            p.candidates(s).find(|&c| {
                p.subnets.get(c).is_some_and(|sn| {
                    admits(&sn.guard)
                        && sn
                            .network
                            .and_then(|n| p.network_guards.get(n))
                            .is_none_or(admits)
                })
            })
        });
        if subnet.is_none() {
            // kea-dhcp6 2.2 logs it for every message it finds no subnet for (then answers
            // each IA with a status, see `obtain`).
            tracing::debug!(target: "DHCP6_SUBNET_SELECTION_FAILED", "failed to select subnet for the client");
        }
        // subnet6_select, after Kea's class-aware selection and before the host lookup.
        if self.core.hook_wanted(HookPoint::Subnet6Select) {
            let args = Args6 {
                subnet,
                now,
                ..Args6::default()
            };
            let query = outer.as_bytes();
            match self
                .core
                .hook6(p, HookPoint::Subnet6Select, hooked::PACKET, query, args)
            {
                Step::Continue => {}
                Step::Skip => {
                    tracing::debug!(target: "DHCP6_HOOK_SUBNET6_SELECT_SKIP", "no subnet was selected, because a callout set the next step to SKIP");
                    subnet = None;
                }
                Step::Drop | Step::Park => return None,
            }
        }
        // Host reservation lookup (ARM 10.3): the subnets of the link in order, then the
        // global reservations where the selected subnet allows them.
        let host = match (subnet, p.hosts.is_empty()) {
            (Some(s), false) => {
                let ids = PacketIds6::of(client_duid, hwaddr.as_ref()).with_flex_id(&self.flex_id);
                p.candidates(s)
                    .filter(|&c| p.subnets.get(c).is_some_and(|sn| sn.reservations_in_subnet))
                    .find_map(|c| p.hosts.in_subnet(c, &ids))
                    .or_else(|| {
                        p.subnets
                            .get(s)
                            .filter(|sn| sn.reservations_global)
                            .and_then(|_| {
                                early_host.map(|(i, _)| i).or_else(|| p.hosts.global(&ids))
                            })
                    })
                    .and_then(|i| p.hosts.host(i).map(|h| (i, h)))
            }
            _ => None,
        };
        // An early global host stays KNOWN (with its classes) for classification even where
        // the selected subnet does not use global reservations; it reserves nothing there.
        cls.host = host.or(early_host).map(|(_, h)| h);
        cls.after_host(&mut self.pkt_classes, &mut self.scratch);
        if dropped(&self.pkt_classes) {
            tracing::debug!(target: "DHCP6_PACKET_DROP_DROP_CLASS2", kind = kind.kea_name(), "packet is in the DROP class");
            return None;
        }
        let class_defs = || {
            self.pkt_classes
                .order()
                .iter()
                .filter_map(|&i| p.classes.def(i))
        };
        let class_preferred = class_defs().find_map(|d| d.preferred);
        let class_valid = class_defs().find_map(|d| d.valid);
        let rapid = kind == MessageType::Solicit
            && msg.rapid_commit()
            && subnet
                .and_then(|s| p.subnets.get(s))
                .is_some_and(|s| s.rapid_commit);
        let reply_type = if kind == MessageType::Solicit && !rapid {
            MessageType::Advertise
        } else {
            MessageType::Reply
        };
        let ctx = IaCtx {
            duid: client_duid.unwrap_or(&[]),
            subnet,
            now,
            pd_exclude: msg.oro().any(|c| c == OPT_PD_EXCLUDE),
            host,
            view: cls.view(&self.pkt_classes),
            preferred: class_preferred,
            valid: class_valid,
            query: outer.as_bytes(),
            hwaddr,
        };
        self.core.reply_pool = None;
        let written = (|| -> Result<Option<usize>, WireError> {
            let mut w = begin_reply(outer, relays, out, reply_type, msg.transaction_id())?;
            w.option(opt::SERVERID, &self.server_duid)?;
            if let Some(d) = duid {
                w.option(opt::CLIENTID, d)?;
            }
            let c = &mut self.core;
            match kind {
                MessageType::Solicit | MessageType::Request => {
                    let commit = kind == MessageType::Request || rapid;
                    for ia in msg.ias(opt::IA_NA) {
                        c.obtain(p, &ctx, &ia, false, commit, &mut w)?;
                    }
                    for ia in msg.ias(opt::IA_PD) {
                        c.obtain(p, &ctx, &ia, true, commit, &mut w)?;
                    }
                    if rapid {
                        // RFC 8415 18.3.1: the Reply to a Rapid Commit Solicit carries it.
                        w.option(opt::RAPID_COMMIT, &[])?;
                    }
                }
                MessageType::Renew | MessageType::Rebind => {
                    let rebind = kind == MessageType::Rebind;
                    for ia in msg.ias(opt::IA_NA) {
                        c.extend(p, &ctx, &ia, false, rebind, &mut w)?;
                    }
                    for ia in msg.ias(opt::IA_PD) {
                        c.extend(p, &ctx, &ia, true, rebind, &mut w)?;
                    }
                }
                MessageType::Release => {
                    c.release_hooks(p, &ctx, msg, false);
                    // Kea's Dhcpv6Srv::releaseLeases: a top-level status summing up the IAs,
                    // Success unless one was refused, then the status of the last refused one
                    // (checked on the wire with kea-dhcp6 2.2: a Release of an unknown
                    // address gets NoBinding in its IA and at the top). Kea orders a reply's
                    // options by code, so the summary sits between the IA_NAs and the IA_PDs:
                    // it is written there and its code set once the IA_PDs are done.
                    let mut summary = status::SUCCESS;
                    for ia in msg.ias(opt::IA_NA) {
                        let code = c.release(p, &ctx, &ia, false, &mut w)?;
                        if code != status::SUCCESS {
                            summary = code;
                        }
                    }
                    let summary_at = w.len() + OPTION_HEADER_LEN;
                    w.status_code(summary, b"Summary status for all processed IA_NAs")?;
                    for ia in msg.ias(opt::IA_PD) {
                        let code = c.release(p, &ctx, &ia, true, &mut w)?;
                        if code != status::SUCCESS {
                            summary = code;
                        }
                    }
                    w.overwrite_u16(summary_at, summary);
                }
                MessageType::Decline => {
                    // No top-level status: kea-dhcp6 2.2 puts one only in each IA_NA (checked
                    // on the wire, for declined, unknown and missing addresses).
                    c.release_hooks(p, &ctx, msg, true);
                    for ia in msg.ias(opt::IA_NA) {
                        c.decline(p, &ctx, &ia, &mut w)?;
                    }
                }
                MessageType::Confirm => {
                    // RFC 8415 18.3.3: with no addresses, or no knowledge of the link, the
                    // server must not answer.
                    let Some(s) = subnet else { return Ok(None) };
                    let mut any = false;
                    let mut all_on_link = true;
                    for ia in msg.ias(opt::IA_NA) {
                        for a in ia_addrs(&ia) {
                            any = true;
                            let v = u128::from(a.addr);
                            let on = p
                                .candidates(s)
                                .filter_map(|i| p.subnets.get(i))
                                .any(|sn| sn.contains(v));
                            all_on_link &= on;
                        }
                    }
                    if !any {
                        return Ok(None);
                    }
                    if all_on_link {
                        w.status_code(status::SUCCESS, b"All addresses are on-link.")?;
                    } else {
                        w.status_code(status::NOT_ON_LINK, b"Some addresses are not on-link.")?;
                    }
                }
                _ => {}
            }
            let pool = c.reply_pool.and_then(|i| p.pools.get(i));
            // ARM 16.4.1: the additional classes of the pool, the subnet and the network.
            let sn = subnet.and_then(|s| p.subnets.get(s));
            let lists = [
                pool.map_or(&[][..], |x| &x.additional[..]),
                sn.map_or(&[][..], |x| &x.additional[..]),
                sn.and_then(|x| x.network)
                    .and_then(|n| p.network_additional.get(n))
                    .map_or(&[][..], |x| &x[..]),
            ];
            cls.additional(
                &self.pkt_classes,
                &mut self.extra_classes,
                &mut self.scratch,
                lists,
            );
            let layers = OptionLayers {
                host: host.map_or(&[][..], |(_, h)| &h.options[..]),
                pool: pool.map_or(&[][..], |x| &x.options[..]),
                scoped: sn.map_or(&[][..], |x| &x.scoped_options[..]),
                classes: &p.classes,
                class_order: [self.pkt_classes.order(), self.extra_classes.order()],
                global: &p.global_options,
                membership: V6Context {
                    extra: Some(&self.extra_classes),
                    ..cls.view(&self.pkt_classes)
                },
            };
            write_options(&layers, msg, &mut w)?;
            for _ in 0..relays {
                w.end()?;
            }
            w.finish().map(Some)
        })();
        if self.core.halted() {
            // A hook dropped the packet or parked it while the reply was being written.
            return None;
        }
        match written {
            Ok(Some(len)) => Some((reply_type, len)),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(target: "DHCP6_PACKET_SEND_FAIL", error = %e, "reply does not fit the buffer");
                None
            }
        }
    }

    /// Time-driven work: lapsed advertisements go back, expired leases and ended decline
    /// probations are reclaimed (ARM chapter 12), a bounded number per call.
    pub fn on_tick(&mut self, now: u64) {
        self.flush_reclaimed(now);
        let p = &*self.prepared;
        let c = &mut self.core;
        while let Some((t, key)) = c.table.pop_lapsed_offer(now) {
            let lapsed = matches!(c.table.get(key), Some(e) if e.offer_until == t);
            if lapsed {
                if let Some(e) = c.table.remove(key) {
                    c.give_back(p, &e, key);
                }
            }
        }
        // ARM chapter 12: a reclamation cycle every reclaim-timer-wait-time seconds (0 turns
        // periodic reclamation off), bounded by max-reclaim-leases and max-reclaim-time.
        let exp = p.expired;
        let limits = ReclaimLimits {
            wait_secs: exp.reclaim_timer_wait_time,
            max_leases: exp.max_reclaim_leases,
            max_time: Duration::from_millis(u64::from(exp.max_reclaim_time)),
            unwarned_cycles: exp.unwarned_reclaim_cycles,
            per_tick_cap: MAX_RECLAIM_PER_TICK,
        };
        let clock = self.clock;
        let Some(mut slice) = self
            .reclaim_cycles
            .begin(now, clock(), limits, ReclaimFamily::V6)
        else {
            return;
        };
        let end = loop {
            let Some((t, key)) = c.pop_due(now) else {
                break CycleEnd::Complete;
            };
            if let Err(end) = slice.admit(clock()) {
                // Left for a later cycle, which must find it again.
                c.table.requeue_expired(t, key);
                break end;
            }
            c.reclaim(p, key, now);
            slice.reclaimed_one();
        };
        self.reclaim_cycles.end(slice, now, clock(), end);
    }

    /// Reclaimed and released leases are kept hold-reclaimed-time for lease affinity, then
    /// removed (table and log) every flush-reclaimed-timer-wait-time seconds (ARM chapter 12;
    /// 0 turns flushing off), as in DHCPv4.
    fn flush_reclaimed(&mut self, now: u64) {
        let exp = self.prepared.expired;
        let c = &mut self.core;
        if !c
            .table
            .held()
            .flush_due(now, exp.flush_reclaimed_timer_wait_time)
        {
            return;
        }
        let hold = u64::from(exp.hold_reclaimed_time);
        while let Some((t, key)) = c.table.held().pop_held_out(now, hold) {
            let due = matches!(c.table.get(key),
                Some(e) if !e.holds_bit
                    && e.offer_until == 0
                    && e.lease.cltt == t
                    && matches!(e.lease.state, LeaseState::ExpiredReclaimed | LeaseState::Released));
            if !due {
                continue;
            }
            if let Some(e) = c.table.remove(key) {
                let l = &e.lease;
                if let Err(err) = c.sink.remove(l.kind, l.addr, l.prefix_len) {
                    tracing::error!(target: "DHCPSRV_MEMFILE_LEASE_ADD_FAILED", error = %err, addr = %l.addr, "lease log removal failed while flushing");
                }
            }
        }
    }
}

/// Starts the reply: one Relay-reply per Relay-forward layer, outermost first, each echoing
/// that relay's Interface-ID (RFC 8415 section 19.3), then the client/server message header.
fn begin_reply<'o>(
    outer: &Dhcp6Packet<&[u8]>,
    relays: usize,
    out: &'o mut [u8],
    reply: MessageType,
    xid: u32,
) -> Result<Dhcp6Writer<'o>, WireError> {
    if relays == 0 {
        return Dhcp6Writer::new(out, reply.as_u8(), xid);
    }
    let relay_repl = MessageType::RelayRepl.as_u8();
    let mut chain = outer.relay_chain().take(relays);
    let first = chain
        .next()
        .ok_or(WireError::MissingRelayMessage { depth: 0 })??;
    let mut w = Dhcp6Writer::new_relay(
        out,
        relay_repl,
        first.hop_count(),
        first.link_address(),
        first.peer_address(),
    )?;
    if let Some(iid) = first.option(opt::INTERFACE_ID) {
        w.option(opt::INTERFACE_ID, iid)?;
    }
    for layer in chain {
        let layer = layer?;
        w.begin_relayed_relay(
            relay_repl,
            layer.hop_count(),
            layer.link_address(),
            layer.peer_address(),
        )?;
        if let Some(iid) = layer.option(opt::INTERFACE_ID) {
            w.option(opt::INTERFACE_ID, iid)?;
        }
    }
    w.begin_relayed_message(reply.as_u8(), xid)?;
    Ok(w)
}

/// The option sources of one reply, highest precedence first (ARM 16.8: host, pool,
/// subnet, shared network, classes in assignment order, global).
struct OptionLayers<'a> {
    host: &'a [ReplyOption6],
    pool: &'a [ReplyOption6],
    /// The subnet's options over its shared network's.
    scoped: &'a [ReplyOption6],
    classes: &'a classes::ClassTable6,
    /// The packet's classes, then its additional classes.
    class_order: [&'a [classes::ClassIdx]; 2],
    global: &'a [ReplyOption6],
    /// The packet's classes (additional ones and the host's included), for class-tagged
    /// options (ARM 16.9).
    membership: V6Context<'a>,
}

impl OptionLayers<'_> {
    /// Calls `f` on each layer in precedence order until it returns Some.
    fn find_map<'s, T>(&'s self, mut f: impl FnMut(&'s [ReplyOption6]) -> Option<T>) -> Option<T> {
        if let Some(t) = f(self.host)
            .or_else(|| f(self.pool))
            .or_else(|| f(self.scoped))
        {
            return Some(t);
        }
        for list in self.class_order {
            for &i in list {
                if let Some(t) = self.classes.def(i).and_then(|d| f(&d.options)) {
                    return Some(t);
                }
            }
        }
        f(self.global)
    }

    /// The option with `code` from the highest layer that has it for this packet: a
    /// class-tagged value whose tags do not match is as if absent (ARM 16.9).
    fn lookup(&self, code: u16) -> Option<&ReplyOption6> {
        let admits = |names: &[Box<str>]| names.iter().any(|n| self.membership.is_member_name(n));
        self.find_map(|layer| layer.iter().find(|o| o.code == code && o.applies(&admits)))
    }
}

/// Requested options (ORO) the scopes have, then the always-send ones (ARM 10.2.11);
/// never-send ones are never sent. Each code comes from the highest layer that has it.
fn write_options(
    layers: &OptionLayers<'_>,
    msg: &Dhcp6Packet<&[u8]>,
    w: &mut Dhcp6Writer<'_>,
) -> Result<(), WireError> {
    for (i, code) in msg.oro().enumerate() {
        if msg.oro().take(i).any(|c| c == code) {
            continue;
        }
        if let Some(o) = layers.lookup(code).filter(|o| !o.never_send) {
            w.option(code, &o.data)?;
        }
    }
    let mut result = Ok(());
    layers.find_map(|layer| {
        for o in layer.iter().filter(|o| o.always_send && !o.never_send) {
            let winner = layers.lookup(o.code).is_some_and(|x| std::ptr::eq(x, o));
            if winner && !msg.oro().any(|c| c == o.code) {
                if let Err(e) = w.option(o.code, &o.data) {
                    result = Err(e);
                    return Some(());
                }
            }
        }
        None::<()>
    });
    result
}

/// The IAADDR options of an IA.
fn ia_addrs<'a>(ia: &Ia<'a>) -> impl Iterator<Item = IaAddr<'a>> + 'a {
    ia.options()
        .map_while(Result::ok)
        .filter(|o| o.code == opt::IAADDR)
        .filter_map(|o| IaAddr::parse(o.data).ok())
}

/// The IAPREFIX options of an IA.
fn ia_prefixes<'a>(ia: &Ia<'a>) -> impl Iterator<Item = IaPrefix<'a>> + 'a {
    ia.options()
        .map_while(Result::ok)
        .filter(|o| o.code == opt::IAPREFIX)
        .filter_map(|o| IaPrefix::parse(o.data).ok())
}

/// (value, prefix length, preferred, valid) of each address or prefix the client listed.
fn listed<'a>(ia: &Ia<'a>, pd: bool) -> impl Iterator<Item = (u128, u8, u32, u32)> + 'a {
    let addrs = ia_addrs(ia)
        .filter(move |_| !pd)
        .map(|a| (u128::from(a.addr), 128u8, a.preferred, a.valid));
    let prefixes = ia_prefixes(ia)
        .filter(move |_| pd)
        .map(|x| (u128::from(x.prefix), x.prefix_len, x.preferred, x.valid));
    addrs.chain(prefixes)
}

/// The RFC 6603 OPTION_PD_EXCLUDE payload: the excluded prefix's length, then its bits after
/// the delegated length, in as few octets as hold them (section 4.2).
pub fn pd_exclude_payload(delegated_len: u8, excluded: (u128, u8)) -> Option<([u8; 17], usize)> {
    let (prefix, len) = excluded;
    if len <= delegated_len || len > 128 {
        return None;
    }
    let bits = len - delegated_len;
    let octets = usize::from(bits - 1) / 8 + 1;
    let id = prefix.checked_shl(u32::from(delegated_len)).unwrap_or(0) & prefix6_mask(bits);
    let mut buf = [0u8; 17];
    buf[0] = len;
    buf.get_mut(1..1 + octets)?
        .copy_from_slice(id.to_be_bytes().get(..octets)?);
    Some((buf, 1 + octets))
}

/// The prefix to exclude (RFC 6603) from delegated prefix `value`: for a prefix the client's
/// reservation names, the reservation's `excluded-prefixes` entry or none ("a reserved
/// prefix without an excluded prefix will not add a pd-exclude option ... even if the
/// delegated prefix is in a configured prefix pool that does specify an excluded prefix",
/// ARM 10.3); otherwise the pd-pool's.
fn excluded_for(c: &IaCtx<'_>, pool: Option<&PoolRt6>, value: u128) -> Option<(u128, u8)> {
    if let Some(reserved) = c.host.and_then(|(_, h)| h.excluded_of(value)) {
        return reserved;
    }
    match pool.map(|p| p.kind) {
        Some(PoolKind::Pd { excluded, .. }) => excluded,
        _ => None,
    }
}

/// Writes an IA with one address or prefix, and `retired` (the value the client is moved
/// away from) with lifetimes 0 (RFC 8415 18.3.4, ARM 10.3.2).
#[allow(clippy::too_many_arguments)]
fn write_ia_retiring(
    w: &mut Dhcp6Writer<'_>,
    excluded: Option<(u128, u8)>,
    pd: bool,
    iaid: u32,
    timers: (u32, u32),
    value: u128,
    plen: u8,
    lifetimes: (u32, u32),
    pd_exclude: bool,
    retired: Option<(u128, u8)>,
) -> Result<(), WireError> {
    let (preferred, valid) = lifetimes;
    let addr = Ipv6Addr::from(value);
    if pd {
        w.begin_ia_pd(iaid, timers.0, timers.1)?;
        let exclude = excluded
            .filter(|_| pd_exclude && valid > 0)
            .and_then(|ex| pd_exclude_payload(plen, ex));
        match exclude {
            Some((buf, n)) => {
                w.begin_ia_prefix(preferred, valid, plen, addr)?;
                w.option(OPT_PD_EXCLUDE, buf.get(..n).unwrap_or(&[]))?;
                w.end()?;
            }
            None => w.ia_prefix(preferred, valid, plen, addr)?,
        }
    } else {
        w.begin_ia_na(iaid, timers.0, timers.1)?;
        w.ia_addr(addr, preferred, valid)?;
    }
    match retired {
        Some((old, len)) if pd => w.ia_prefix(0, 0, len, Ipv6Addr::from(old))?,
        Some((old, _)) => w.ia_addr(Ipv6Addr::from(old), 0, 0)?,
        None => {}
    }
    w.end()
}

/// An IA carrying only a status code (T1 = T2 = 0).
fn write_ia_status(
    w: &mut Dhcp6Writer<'_>,
    pd: bool,
    iaid: u32,
    code: u16,
    message: &[u8],
) -> Result<(), WireError> {
    if pd {
        w.begin_ia_pd(iaid, 0, 0)?;
    } else {
        w.begin_ia_na(iaid, 0, 0)?;
    }
    w.status_code(code, message)?;
    w.end()
}

impl<S: LeaseSink> Core<S> {
    /// Moves `assigned-nas` / `assigned-pds` of the subnet and of the pool (an index into
    /// `Prepared6::pools`, or [`NO_POOL`] for a value outside every pool).
    fn count_assigned(&self, subnet: usize, pool: u32, pd: bool, delta: i64) {
        if let Some(c) = self.stats.subnets.get(subnet) {
            if pd {
                c.assigned_pds.add(delta);
            } else {
                c.assigned_nas.add(delta);
            }
        }
        if let Some(c) = self.pool_stats(pool) {
            c.assigned.add(delta);
        }
    }

    fn pool_stats(&self, pool: u32) -> Option<&stats::PoolCounters6> {
        self.stats.pools.get(usize::try_from(pool).ok()?)
    }

    /// The next committed lease (or probation) that expired by `now` and is still due:
    /// (expire time, key). Stale queue entries (renewed, released, deleted) are skipped.
    fn pop_due(&mut self, now: u64) -> Option<(u64, LeaseKey)> {
        while let Some((t, key)) = self.table.pop_expired(now) {
            let due = matches!(self.table.get(key),
                Some(e) if e.offer_until == 0
                    && e.lease.expire() == t
                    && matches!(e.lease.state, LeaseState::Default | LeaseState::Declined));
            if due {
                return Some((t, key));
            }
        }
        None
    }

    /// Counts and logs a failed allocation as Kea's allocation engine does (checked with
    /// kea-dhcp6 2.2 on a guarded pool, a guarded subnet in a shared network and a subnet
    /// without pools, as in DHCPv4): `v6-allocation-fail-subnet` or `-shared-network`
    /// always; `v6-allocation-fail-classes` always (a Kea packet is at least in ALL); then
    /// either no pool of the kind asked for that the client may use (`-no-pools`, and
    /// `v6-allocation-fail` stays as it is: 0 attempts) or usable pools that are full
    /// (`v6-allocation-fail`). Global and for the selected subnet.
    fn count_allocation_fail(&self, p: &Prepared6, c: &IaCtx<'_>, subnet: usize, pd: bool) {
        let (mut attempts, mut full_subnets, mut no_pool_subnets) = (0u64, 0u32, 0u32);
        for s in p.candidates(subnet).filter(|&s| c.subnet_ok(p, s)) {
            let Some(sn) = p.subnets.get(s) else { continue };
            let list = if pd { &sn.pd_pools } else { &sn.na_pools };
            let capacity: u64 = list
                .iter()
                .filter_map(|&pi| p.pools.get(pi))
                .filter(|x| c.pool_ok(x))
                .map(|x| x.len)
                .sum();
            if capacity > 0 {
                attempts = attempts.saturating_add(capacity);
                full_subnets += 1;
            } else {
                no_pool_subnets += 1;
            }
        }
        let g = &self.stats.global;
        let c_stats = self.stats.subnets.get(subnet);
        let sn = p.subnets.get(subnet);
        let network = sn
            .and_then(|s| s.network)
            .and_then(|n| p.network_names.get(n));
        match (network, sn) {
            (Some(name), _) => {
                tracing::warn!(target: "ALLOC_ENGINE_V6_ALLOC_FAIL_SHARED_NETWORK", "failed to allocate a lease in the shared network {name}: {full_subnets} subnets have no available leases, {no_pool_subnets} subnets have no matching pools");
                g.v6_allocation_fail_shared_network.inc();
                if let Some(c) = c_stats {
                    c.v6_allocation_fail_shared_network.inc();
                }
            }
            (None, s) => {
                if let Some(s) = s {
                    let net = Ipv6Addr::from(s.prefix);
                    tracing::warn!(target: "ALLOC_ENGINE_V6_ALLOC_FAIL_SUBNET", "failed to allocate an IPv6 lease in the subnet {net}/{}, subnet-id {}, shared network (none)", s.prefix_len, s.id);
                }
                g.v6_allocation_fail_subnet.inc();
                if let Some(c) = c_stats {
                    c.v6_allocation_fail_subnet.inc();
                }
            }
        }
        if attempts == 0 {
            tracing::warn!(target: "ALLOC_ENGINE_V6_ALLOC_FAIL_NO_POOLS", "no pools were available for the lease allocation");
            g.v6_allocation_fail_no_pools.inc();
            if let Some(c) = c_stats {
                c.v6_allocation_fail_no_pools.inc();
            }
        } else {
            tracing::warn!(target: "ALLOC_ENGINE_V6_ALLOC_FAIL", "failed to allocate an IPv6 lease after {attempts} attempt(s)");
            g.v6_allocation_fail.inc();
            if let Some(c) = c_stats {
                c.v6_allocation_fail.inc();
            }
        }
        let names = corelease_classes::ClassNames {
            defs: &p.classes.defs,
            vendor_classes: &p.classes.vendor,
            order: c.view.state.order(),
            known: c.view.state.known(),
            vendor: c.view.pkt.vendor(),
        };
        tracing::warn!(target: "ALLOC_ENGINE_V6_ALLOC_FAIL_CLASSES", "Failed to allocate an IPv6 address for client with classes: {names}");
        g.v6_allocation_fail_classes.inc();
        if let Some(c) = c_stats {
            c.v6_allocation_fail_classes.inc();
        }
    }

    /// Puts a committed entry into the assigned (and declined) gauges it counts in.
    fn count(&self, e: &Entry6, key: LeaseKey) {
        if e.is_offer() {
            return;
        }
        let si = e.subnet as usize;
        match e.lease.state {
            LeaseState::Default => self.count_assigned(si, e.pool, key.1, 1),
            LeaseState::Declined => {
                self.count_assigned(si, e.pool, key.1, 1);
                self.count_declined(si, e.pool, 1);
            }
            _ => {}
        }
    }

    /// Takes an entry out of the assigned (and declined) gauges it counts in.
    fn uncount(&self, e: &Entry6, key: LeaseKey) {
        if e.is_offer() {
            return;
        }
        let si = e.subnet as usize;
        match e.lease.state {
            LeaseState::Default => self.count_assigned(si, e.pool, key.1, -1),
            LeaseState::Declined => {
                self.count_assigned(si, e.pool, key.1, -1);
                self.count_declined(si, e.pool, -1);
            }
            _ => {}
        }
    }

    fn count_declined(&self, subnet: usize, pool: u32, delta: i64) {
        self.stats.declined_addresses.add(delta);
        if let Some(c) = self.stats.subnets.get(subnet) {
            c.declined_addresses.add(delta);
        }
        if let Some(c) = self.pool_stats(pool) {
            c.declined_addresses.add(delta);
        }
    }

    fn record(&mut self, lease: &Lease) -> bool {
        match self.sink.record(lease) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(target: "DHCPSRV_MEMFILE_LEASE_ADD_FAILED", error = %e, addr = %lease.addr, "lease log append failed");
                false
            }
        }
    }

    /// The client's current binding for an IA, if usable on the selected link: an
    /// advertisement, a lease (also one that expired and was not reclaimed yet), or a lease
    /// reclaimed and kept for hold-reclaimed-time whose value nobody took since. Kea's
    /// allocation engine finds the client's leases whatever their state and gives them again
    /// (seen with kea-dhcp6 2.2, fuzz/kea-compare/hooks6.py: the same address or prefix is
    /// advertised at Solicit, and given at Request, Renew and Rebind).
    fn binding(&self, p: &Prepared6, c: &IaCtx<'_>, iaid: u32, pd: bool) -> Option<LeaseKey> {
        let subnet = c.subnet?;
        let v = self.table.find_client(c.duid, iaid, pd)?;
        let e = self.table.get((v, pd))?;
        // A lease on a reserved value does not hold its bit: the reservation does.
        let reserved = p.hosts.reserved_for((v, pd)).is_some()
            || c.host.is_some_and(|(_, h)| h.reserves(v, pd));
        let usable = if e.is_offer() {
            e.holds_bit || reserved
        } else {
            match e.lease.state {
                LeaseState::Default => e.holds_bit || reserved,
                // Its bit went back to the pool at the reclamation: usable while still free.
                LeaseState::ExpiredReclaimed => reserved || self.bit_free(p, e, v),
                _ => false,
            }
        };
        let on_link = p.candidates(subnet).any(|s| s as u32 == e.subnet);
        (usable && on_link).then_some((v, pd))
    }

    /// Whether the pool bit of the value `v` of a reclaimed entry is free.
    fn bit_free(&self, p: &Prepared6, e: &Entry6, v: u128) -> bool {
        p.pools
            .get(e.pool as usize)
            .and_then(|pool| pool.offset_of(v).map(|off| !pool.bitmap.is_claimed(off)))
            .unwrap_or(false)
    }

    /// Whether the entry at `key` is a committed lease reclaimed (and kept for lease affinity).
    fn is_reclaimed(&self, key: LeaseKey) -> bool {
        self.table
            .get(key)
            .is_some_and(|e| !e.is_offer() && e.lease.state == LeaseState::ExpiredReclaimed)
    }

    /// Takes the pool bit of the client's reclaimed lease at `key` back, as it is given to the
    /// client again. False when another shard claimed the value meanwhile. A value reserved
    /// for a host holds no bit: nothing to take.
    fn revive(&mut self, p: &Prepared6, key: LeaseKey) -> bool {
        let Some(e) = self.table.get(key) else {
            return false;
        };
        if e.holds_bit || p.hosts.reserved_for(key).is_some() {
            return true;
        }
        let Some(pool) = p.pools.get(e.pool as usize) else {
            // Outside every pool (a reservation out of pool): no bit to take.
            return true;
        };
        let claimed = pool
            .offset_of(key.0)
            .is_some_and(|off| pool.bitmap.try_claim(off));
        if claimed {
            if let Some(e) = self.table.get_mut(key) {
                e.holds_bit = true;
            }
        }
        claimed
    }

    /// Undoes [`Core::revive`] when the lease could not be logged: the entry stays reclaimed
    /// and its bit goes back to the pool.
    fn unrevive(&mut self, p: &Prepared6, key: LeaseKey) {
        let Some(e) = self.table.get(key).filter(|e| e.holds_bit).cloned() else {
            return;
        };
        self.give_back(p, &e, key);
        if let Some(e) = self.table.get_mut(key) {
            e.holds_bit = false;
        }
    }

    /// A lease given to a client that did not hold it assigned: assigned-nas / assigned-pds
    /// and the cumulative counts, for the subnet and the pool (and globally).
    fn count_assignment(&self, si: usize, pool: u32, pd: bool) {
        self.count_assigned(si, pool, pd, 1);
        self.count_cumulative(si, pool, pd);
    }

    /// cumulative-assigned-nas / cumulative-assigned-pds, globally, for the subnet and the pool.
    fn count_cumulative(&self, si: usize, pool: u32, pd: bool) {
        let g = &self.stats.global;
        let sc = self.stats.subnets.get(si);
        if pd {
            g.cumulative_assigned_pds.inc();
            if let Some(sc) = sc {
                sc.cumulative_assigned_pds.inc();
            }
        } else {
            g.cumulative_assigned_nas.inc();
            if let Some(sc) = sc {
                sc.cumulative_assigned_nas.inc();
            }
        }
        if let Some(pc) = self.pool_stats(pool) {
            pc.cumulative_assigned.inc();
        }
    }

    /// An expired lease reclaimed as its client renews it (Kea's extendLease6 reclaims it
    /// first): reclaimed-leases, globally, for the subnet and the pool. It stays assigned.
    fn count_reclaimed_in_place(&self, si: usize, pool: u32) {
        self.stats.global.reclaimed_leases.inc();
        if let Some(sc) = self.stats.subnets.get(si) {
            sc.reclaimed_leases.inc();
        }
        if let Some(pc) = self.pool_stats(pool) {
            pc.reclaimed_leases.inc();
        }
    }

    /// Solicit / Request (and Rapid Commit): the client's binding, else the hinted address or
    /// prefix when free, else a new one from the link's pools (RFC 8415 18.3.1, 18.3.2).
    fn obtain(
        &mut self,
        p: &Prepared6,
        c: &IaCtx<'_>,
        ia: &Ia<'_>,
        pd: bool,
        commit: bool,
        w: &mut Dhcp6Writer<'_>,
    ) -> Result<(), WireError> {
        if self.halted() {
            return Ok(());
        }
        // Kea's texts (kea-dhcp6 2.2 assignIA_NA / assignIA_PD, seen on the wire).
        let (none_code, none_msg): (u16, &[u8]) = if pd {
            (
                status::NO_PREFIX_AVAIL,
                b"Sorry, no prefixes could be allocated.",
            )
        } else {
            (
                status::NO_ADDRS_AVAIL,
                b"Sorry, no address could be allocated.",
            )
        };
        let hint = listed(ia, pd).next();
        let Some(subnet) = c.subnet else {
            let no_subnet: &[u8] = if pd {
                b"Sorry, no subnet available."
            } else {
                b"Server could not select subnet for this client"
            };
            return write_ia_status(w, pd, ia.iaid, none_code, no_subnet);
        };
        let existing = self.binding(p, c, ia.iaid, pd);
        let reserved = c
            .host
            .and_then(|(_, h)| self.pick_reserved(p, c, h, ia.iaid, pd));
        // ARM 10.3 / 10.3.2: a free reserved value first; a binding that is not the client's
        // reservation, or is another host's, is replaced (an advertisement is dropped, a
        // committed lease is retired only when this message commits, and is then listed with
        // lifetimes 0).
        let mut retired = None;
        let replace = match (existing, reserved) {
            (Some(k), Some((v, _))) => k.0 != v,
            (Some(k), None) => self.reserved_for_other(p, c, k) || !self.admitted(p, c, k),
            (None, _) => false,
        };
        let keep = match existing {
            // A reclaimed lease is not the client's any more: nothing to take back.
            Some(k) if replace && self.is_reclaimed(k) => None,
            Some(k) if replace => {
                let offer = self.table.get(k).is_some_and(Entry6::is_offer);
                if offer {
                    if let Some(e) = self.table.remove(k) {
                        self.give_back(p, &e, k);
                    }
                    None
                } else if commit {
                    if self.retire(p, k, c.now) {
                        retired = self.table.get(k).map(|e| (k.0, e.lease.prefix_len));
                    }
                    None
                } else {
                    Some(k)
                }
            }
            // The client's reclaimed lease is given again (Kea's allocation engine finds it as
            // the client's): a commit takes its bit back, unless another shard took the value.
            Some(k) if commit && self.is_reclaimed(k) => self.revive(p, k).then_some(k),
            other => other,
        };
        // Given again: counted as assigned anew (kea-dhcp6 2.2: assigned-nas and
        // cumulative-assigned-nas +1 at a Request for a reclaimed lease).
        let revived = commit && keep.is_some_and(|k| self.is_reclaimed(k));
        let existing = keep;
        let key = match (keep, reserved) {
            (Some(k), _) => Some(k),
            (None, Some(r)) => self
                .take_reserved(p, c, ia.iaid, pd, r, commit)
                .or_else(|| self.allocate(p, c, subnet, ia.iaid, pd, hint, commit)),
            (None, None) => self.allocate(p, c, subnet, ia.iaid, pd, hint, commit),
        };
        let Some(key) = key else {
            self.count_allocation_fail(p, c, subnet, pd);
            let iaid = ia.iaid;
            match (commit, pd) {
                (false, false) => {
                    tracing::debug!(target: "DHCP6_LEASE_ADVERT_FAIL", "failed to advertise an address lease for iaid={iaid}")
                }
                (true, false) => {
                    tracing::debug!(target: "DHCP6_LEASE_ALLOC_FAIL", "failed to grant an address lease for iaid={iaid}")
                }
                (false, true) => {
                    tracing::debug!(target: "DHCP6_PD_LEASE_ADVERT_FAIL", "failed to advertise a prefix lease for iaid={iaid}")
                }
                (true, true) => {
                    tracing::debug!(target: "DHCP6_PD_LEASE_ALLOC_FAIL", "failed to grant a prefix lease for iaid={iaid}")
                }
            }
            return write_ia_status(w, pd, ia.iaid, none_code, none_msg);
        };
        let Some(e) = self.table.get(key) else {
            return write_ia_status(w, pd, ia.iaid, none_code, none_msg);
        };
        let si = e.subnet as usize;
        let Some(s) = p.subnets.get(si) else {
            return write_ia_status(w, pd, ia.iaid, none_code, none_msg);
        };
        let (hint_pref, hint_valid) = hint.map(|h| (h.2, h.3)).unwrap_or((0, 0));
        let valid = grant(c.valid.as_ref().unwrap_or(&s.valid), hint_valid);
        let preferred = grant(c.preferred.as_ref().unwrap_or(&s.preferred), hint_pref).min(valid);
        let timers = s.timers(preferred);
        let pool = p.pools.get(e.pool as usize);
        if self.reply_pool.is_none() && e.pool != NO_POOL {
            self.reply_pool = Some(e.pool as usize);
        }
        let plen = e.lease.prefix_len;
        let was_offer = e.is_offer();
        // lease6_select, for a lease the client did not hold committed before this message.
        if (existing.is_none() || was_offer) && self.hook_wanted(HookPoint::Lease6Select) {
            let mut lease = e.lease.clone();
            lease.cltt = c.now;
            lease.valid_lifetime = valid;
            lease.preferred_lifetime = preferred;
            lease.hwaddr = c.hwaddr;
            let args = Args6 {
                subnet: Some(si),
                lease: Some(&lease),
                timers,
                fake_allocation: !commit,
                now: c.now,
                ia: None,
            };
            let call = ia_key(ia.iaid, pd);
            match self.hook6(p, HookPoint::Lease6Select, call, c.query, args) {
                Step::Continue => {}
                Step::Skip => {
                    tracing::debug!(target: "DHCPSRV_HOOK_LEASE6_SELECT_SKIP", iaid = ia.iaid, pd, "lease6 allocation skipped, because a callout set the next step to SKIP");
                    self.unclaim(p, key);
                    return write_ia_status(w, pd, ia.iaid, none_code, none_msg);
                }
                Step::Drop => return Ok(()),
                Step::Park => {
                    // Held for this client (as an advertisement) while its script runs, so
                    // the resumed run finds and gives this very lease.
                    let until = c.now.saturating_add(self.park_hold_secs());
                    if let Some(e) = self.table.get_mut(key) {
                        e.offer_until = until;
                    }
                    self.table.requeue(key);
                    return Ok(());
                }
            }
        }
        if commit {
            let newly = was_offer || existing.is_none() || revived;
            let Some(mut lease) = self.take_lease(key) else {
                return write_ia_status(w, pd, ia.iaid, none_code, none_msg);
            };
            lease.state = LeaseState::Default;
            lease.cltt = c.now;
            lease.valid_lifetime = valid;
            lease.preferred_lifetime = preferred;
            // Kea's AllocEngine sets the lease's hardware address from the context each time
            // it commits (a new lease, or one the client asks for again).
            lease.hwaddr = c.hwaddr;
            // ARM 10.3.3: the reserved hostname is the lease's.
            if let Some(name) = c.host.and_then(|(_, h)| h.hostname.as_deref()) {
                if lease.hostname.as_deref() != Some(name) {
                    lease.hostname = Some(name.into());
                }
            }
            if !self.record(&lease) {
                if revived {
                    self.unrevive(p, key);
                }
                self.put_back_hostname(key, lease);
                return write_ia_status(
                    w,
                    pd,
                    ia.iaid,
                    status::UNSPEC_FAIL,
                    b"Lease storage failed.",
                );
            }
            self.note_committed(&lease);
            let mut pool = NO_POOL;
            if let Some(e) = self.table.get_mut(key) {
                e.lease = lease;
                e.offer_until = 0;
                pool = e.pool;
            }
            self.table.requeue(key);
            if newly {
                self.count_assignment(si, pool, pd);
                // Kea's message IDs for a new lease (ARM "Logging"; kea-dhcp6 messages).
                let addr = Ipv6Addr::from(key.0);
                if pd {
                    tracing::info!(target: "DHCP6_PD_LEASE_ALLOC", prefix = %addr, iaid = ia.iaid, "prefix lease allocated");
                } else {
                    tracing::info!(target: "DHCP6_LEASE_ALLOC", addr = %addr, iaid = ia.iaid, "lease allocated");
                }
            }
        }
        write_ia_retiring(
            w,
            excluded_for(c, pool, key.0),
            pd,
            ia.iaid,
            timers,
            key.0,
            plen,
            (preferred, valid),
            c.pd_exclude,
            retired,
        )
    }

    /// Claims a free address or prefix for the client's IA and enters it in the table (as an
    /// advertisement unless `commit`). The hint first, then the shard's queues, then any free
    /// bit of the pool (another shard's stripe).
    #[allow(clippy::too_many_arguments)]
    fn allocate(
        &mut self,
        p: &Prepared6,
        c: &IaCtx<'_>,
        subnet: usize,
        iaid: u32,
        pd: bool,
        hint: Option<(u128, u8, u32, u32)>,
        commit: bool,
    ) -> Option<LeaseKey> {
        let mut found = None;
        if let Some((h, hlen, _, _)) = hint {
            for s in p.candidates(subnet).filter(|&s| c.subnet_ok(p, s)) {
                if let Some((pi, off)) = p.pool_of(s, pd, h) {
                    let Some(pool) = p.pools.get(pi).filter(|x| c.pool_ok(x)) else {
                        continue;
                    };
                    let len_ok = !pd || hlen == 0 || hlen == pool.lease_len();
                    if len_ok && pool.bitmap.try_claim(off) {
                        found = Some((pi, off));
                        break;
                    }
                }
            }
        }
        if found.is_none() {
            'subnets: for s in p.candidates(subnet).filter(|&s| c.subnet_ok(p, s)) {
                let Some(sn) = p.subnets.get(s) else { continue };
                let list = if pd { &sn.pd_pools } else { &sn.na_pools };
                for &pi in list {
                    let Some(pool) = p.pools.get(pi).filter(|x| c.pool_ok(x)) else {
                        continue;
                    };
                    if let Some(q) = self.queues.get_mut(pi) {
                        for _ in 0..CLAIM_TRIES {
                            let Some(off) = q.pop() else { break };
                            if pool.bitmap.try_claim(off) {
                                found = Some((pi, off));
                                break 'subnets;
                            }
                        }
                    }
                    let start = self.steal_cursor % pool.len.max(1);
                    if let Some(off) = pool.bitmap.claim_any(start) {
                        self.steal_cursor = self.steal_cursor.wrapping_add(64);
                        found = Some((pi, off));
                        break 'subnets;
                    }
                }
            }
        }
        let (pi, off) = found?;
        let pool = p.pools.get(pi)?;
        let value = pool.at(off)?;
        let s = p.subnets.get(pool.subnet)?;
        let lease = Lease {
            kind: if pd { LeaseKind::V6Pd } else { LeaseKind::V6Na },
            addr: IpAddr::V6(Ipv6Addr::from(value)),
            prefix_len: pool.lease_len(),
            iaid,
            hwaddr: c.hwaddr,
            client_id: Some(ClientId::new(c.duid)),
            valid_lifetime: 0,
            preferred_lifetime: 0,
            cltt: c.now,
            subnet_id: s.id,
            pool_id: pool.pool_id,
            state: LeaseState::Default,
            hostname: None,
            fqdn_fwd: false,
            fqdn_rev: false,
            user_context: None,
        };
        self.table.insert(Entry6 {
            lease,
            pool: pi as u32,
            subnet: pool.subnet as u32,
            offer_until: if commit {
                0
            } else {
                c.now.saturating_add(ADVERTISE_HOLD_SECS)
            },
            holds_bit: true,
        });
        Some((value, pd))
    }

    /// Renew / Rebind (RFC 8415 18.3.4, 18.3.5): extends the client's binding; other listed
    /// addresses go back with lifetimes 0. Without a binding: NoBinding, except a Rebind whose
    /// addresses are not on this link, which gets them back with lifetimes 0.
    fn extend(
        &mut self,
        p: &Prepared6,
        c: &IaCtx<'_>,
        ia: &Ia<'_>,
        pd: bool,
        rebind: bool,
        w: &mut Dhcp6Writer<'_>,
    ) -> Result<(), WireError> {
        if self.halted() {
            return Ok(());
        }
        let committed = self
            .binding(p, c, ia.iaid, pd)
            .filter(|k| self.table.get(*k).is_some_and(|e| !e.is_offer()));
        let Some(key) = committed else {
            let on_link = |v: u128| {
                c.subnet.is_some_and(|s| {
                    p.candidates(s).filter_map(|i| p.subnets.get(i)).any(|sn| {
                        if pd {
                            !sn.pd_pools.is_empty()
                        } else {
                            sn.contains(v)
                        }
                    })
                })
            };
            let mut any = false;
            let mut all_off_link = true;
            for (v, _, _, _) in listed(ia, pd) {
                any = true;
                all_off_link &= !on_link(v);
            }
            if rebind && any && all_off_link {
                if pd {
                    w.begin_ia_pd(ia.iaid, 0, 0)?;
                } else {
                    w.begin_ia_na(ia.iaid, 0, 0)?;
                }
                for (v, len, _, _) in listed(ia, pd) {
                    if pd {
                        w.ia_prefix(0, 0, len, Ipv6Addr::from(v))?;
                    } else {
                        w.ia_addr(Ipv6Addr::from(v), 0, 0)?;
                    }
                }
                return w.end();
            }
            return write_ia_status(
                w,
                pd,
                ia.iaid,
                status::NO_BINDING,
                b"No binding for this IA.",
            );
        };
        // ARM 10.3.2: a lease on another host's reserved value, or a client whose own
        // reservation is free again, is moved: the new value, and the old one with lifetimes 0.
        // So is a lease whose pool or subnet no longer admits the client's classes (ARM 16.6,
        // 16.7: guards hold at renewal too, as engine/v4 does).
        let better = c.host.is_some_and(|(_, h)| {
            !h.reserves(key.0, pd) && self.pick_reserved(p, c, h, ia.iaid, pd).is_some()
        });
        if better || self.reserved_for_other(p, c, key) || !self.admitted(p, c, key) {
            return self.obtain(p, c, ia, pd, true, w);
        }
        let Some(e) = self.table.get(key) else {
            return write_ia_status(
                w,
                pd,
                ia.iaid,
                status::NO_BINDING,
                b"No binding for this IA.",
            );
        };
        let si = e.subnet as usize;
        let Some(s) = p.subnets.get(si) else {
            return write_ia_status(
                w,
                pd,
                ia.iaid,
                status::NO_BINDING,
                b"No binding for this IA.",
            );
        };
        let hint = listed(ia, pd).find(|x| x.0 == key.0);
        let (hp, hv) = hint.map(|h| (h.2, h.3)).unwrap_or((0, 0));
        let mut valid = grant(c.valid.as_ref().unwrap_or(&s.valid), hv);
        let mut preferred = grant(c.preferred.as_ref().unwrap_or(&s.preferred), hp).min(valid);
        let timers = s.timers(preferred);
        let pool = p.pools.get(e.pool as usize);
        if self.reply_pool.is_none() && e.pool != NO_POOL {
            self.reply_pool = Some(e.pool as usize);
        }
        // Kea's extendLease6 renews the client's lease also when it expired: one not reclaimed
        // yet is reclaimed first (lease6_expire with the old lease after lease6_renew /
        // lease6_rebind, counted in reclaimed-leases and cumulative-assigned-*, still
        // assigned); a reclaimed one is assigned again. Seen with kea-dhcp6 2.2 and
        // libdhcp_run_script.so (fuzz/kea-compare/hooks6.py).
        let reclaimed = e.lease.state == LeaseState::ExpiredReclaimed;
        let expired = !reclaimed && e.lease.is_expired(c.now);
        let old = (expired && self.hook_wanted(HookPoint::Lease6Expire)).then(|| e.lease.clone());
        let Some(mut lease) = self.take_lease(key) else {
            return write_ia_status(
                w,
                pd,
                ia.iaid,
                status::NO_BINDING,
                b"No binding for this IA.",
            );
        };
        lease.state = LeaseState::Default;
        lease.cltt = c.now;
        lease.valid_lifetime = valid;
        lease.preferred_lifetime = preferred;
        // Kea's extendLease6 replaces the hardware address with this message's, or with none
        // (checked on the wire with kea-dhcp6 2.2: a Renew without option 79 clears it).
        lease.hwaddr = c.hwaddr;
        let point = if rebind {
            HookPoint::Lease6Rebind
        } else {
            HookPoint::Lease6Renew
        };
        let mut extend = true;
        if self.hook_wanted(point) {
            let args = Args6 {
                subnet: Some(si),
                lease: Some(&lease),
                timers,
                fake_allocation: false,
                now: c.now,
                ia: Some(IaView {
                    code: if pd { opt::IA_PD } else { opt::IA_NA },
                    iaid: ia.iaid,
                    t1: ia.t1,
                    t2: ia.t2,
                }),
            };
            match self.hook6(p, point, ia_key(ia.iaid, pd), c.query, args) {
                Step::Continue => {}
                Step::Skip => {
                    // DHCP6_HOOK_LEASE6_EXTEND_SKIP: the lease is sent as it is.
                    tracing::debug!(target: "DHCP6_HOOK_LEASE6_EXTEND_SKIP", iaid = ia.iaid, pd, "lease is not extended, because a callout set the next step to SKIP");
                    if let Some(old) = self.table.get(key) {
                        lease.cltt = old.lease.cltt;
                        lease.valid_lifetime = old.lease.valid_lifetime;
                        lease.preferred_lifetime = old.lease.preferred_lifetime;
                    }
                    valid = lease.valid_lifetime;
                    preferred = lease.preferred_lifetime;
                    extend = false;
                }
                Step::Drop | Step::Park => {
                    self.put_back_hostname(key, lease);
                    return Ok(());
                }
            }
        }
        let mut reclaim_first = expired && extend;
        if let Some(old) = old.as_ref().filter(|_| extend) {
            match self.hook6_expire_renewed(ia_key(ia.iaid, pd), old, c.now) {
                Step::Continue => {}
                Step::Park => {
                    self.put_back_hostname(key, lease);
                    return Ok(());
                }
                Step::Skip | Step::Drop => {
                    tracing::debug!(target: "ALLOC_ENGINE_V6_LEASE_RECLAMATION_SKIP", addr = %old.addr, point = "lease6_expire", "a callout asked to leave the lease as it is");
                    reclaim_first = false;
                }
            }
        }
        if extend && reclaimed && !self.revive(p, key) {
            // Another shard took the value since the reclamation.
            self.put_back_hostname(key, lease);
            return write_ia_status(
                w,
                pd,
                ia.iaid,
                status::NO_BINDING,
                b"No binding for this IA.",
            );
        }
        if extend && !self.record(&lease) {
            if reclaimed {
                self.unrevive(p, key);
            }
            self.put_back_hostname(key, lease);
            return write_ia_status(
                w,
                pd,
                ia.iaid,
                status::UNSPEC_FAIL,
                b"Lease storage failed.",
            );
        }
        let plen = lease.prefix_len;
        if extend {
            self.note_committed(&lease);
            let mut pool = NO_POOL;
            if let Some(e) = self.table.get_mut(key) {
                e.lease = lease;
                pool = e.pool;
            }
            self.table.requeue(key);
            if reclaimed {
                self.count_assignment(si, pool, pd);
            } else if reclaim_first {
                self.count_reclaimed_in_place(si, pool);
                self.count_cumulative(si, pool, pd);
            }
        } else {
            self.put_back_hostname(key, lease);
        }
        if pd {
            w.begin_ia_pd(ia.iaid, timers.0, timers.1)?;
        } else {
            w.begin_ia_na(ia.iaid, timers.0, timers.1)?;
        }
        let addr = Ipv6Addr::from(key.0);
        if pd {
            let exclude = excluded_for(c, pool, key.0)
                .filter(|_| c.pd_exclude)
                .and_then(|ex| pd_exclude_payload(plen, ex));
            match exclude {
                Some((buf, n)) => {
                    w.begin_ia_prefix(preferred, valid, plen, addr)?;
                    w.option(OPT_PD_EXCLUDE, buf.get(..n).unwrap_or(&[]))?;
                    w.end()?;
                }
                None => w.ia_prefix(preferred, valid, plen, addr)?,
            }
        } else {
            w.ia_addr(addr, preferred, valid)?;
        }
        // RFC 8415 18.3.4: addresses the client has that are not its binding any more.
        for (v, len, _, _) in listed(ia, pd) {
            if v != key.0 {
                if pd {
                    w.ia_prefix(0, 0, len, Ipv6Addr::from(v))?;
                } else {
                    w.ia_addr(Ipv6Addr::from(v), 0, 0)?;
                }
            }
        }
        w.end()
    }

    /// Release (RFC 8415 18.3.7): each listed address or prefix the client holds is freed.
    /// Returns the status code written in the IA (Success when nothing was written).
    fn release(
        &mut self,
        p: &Prepared6,
        c: &IaCtx<'_>,
        ia: &Ia<'_>,
        pd: bool,
        w: &mut Dhcp6Writer<'_>,
    ) -> Result<u16, WireError> {
        if self.halted() {
            return Ok(status::SUCCESS);
        }
        let mut released = 0;
        let mut skipped = 0;
        let mut listed_any = false;
        for (v, _, _, _) in listed(ia, pd) {
            listed_any = true;
            let key = (v, pd);
            if !self.releasable(c, ia.iaid, key) {
                continue;
            }
            let Some(mut entry) = self.table.get(key).cloned() else {
                continue;
            };
            match self.lease_hook(p, c, HookPoint::Lease6Release, key, &entry.lease) {
                Step::Continue => {}
                Step::Skip => {
                    tracing::debug!(target: "DHCP6_HOOK_LEASE6_RELEASE_NA_SKIP", addr = %entry.lease.addr, "lease is not released, because a callout set the next step to SKIP");
                    skipped += 1;
                    continue;
                }
                Step::Drop | Step::Park => return Ok(status::SUCCESS),
            }
            self.note_deleted(&entry.lease);
            entry.lease.state = LeaseState::Released;
            entry.lease.valid_lifetime = 0;
            entry.lease.preferred_lifetime = 0;
            entry.lease.cltt = c.now;
            if !self.record(&entry.lease) {
                continue;
            }
            self.count_assigned(entry.subnet as usize, entry.pool, pd, -1);
            self.give_back(p, &entry, key);
            entry.holds_bit = false;
            let target_addr = entry.lease.addr;
            self.table.insert(entry);
            self.table.held().note(c.now, key);
            released += 1;
            if pd {
                tracing::info!(target: "DHCP6_RELEASE_PD", prefix = %target_addr, iaid = ia.iaid, "prefix released");
            } else {
                tracing::info!(target: "DHCP6_RELEASE_NA", addr = %target_addr, iaid = ia.iaid, "address released");
            }
        }
        // Kea's status and words for each case (Dhcpv6Srv::releaseIA_NA / releaseIA_PD).
        let (code, message): (u16, &[u8]) = if skipped > 0 {
            (status::UNSPEC_FAIL, b"Server failed to release a lease")
        } else if released > 0 {
            (
                status::SUCCESS,
                b"Lease released. Thank you, please come again.",
            )
        } else if !listed_any && pd {
            (
                status::NO_BINDING,
                b"You did not include a prefix in your RELEASE",
            )
        } else if !listed_any {
            (
                status::NO_BINDING,
                b"You did not include an address in your RELEASE",
            )
        } else {
            (
                status::NO_BINDING,
                b"Sorry, no known leases for this duid/iaid, can't release.",
            )
        };
        write_ia_status(w, pd, ia.iaid, code, message)?;
        Ok(code)
    }

    /// The client holds the lease at `key` for this IA (Release, RFC 8415 18.3.7).
    fn releasable(&self, c: &IaCtx<'_>, iaid: u32, key: LeaseKey) -> bool {
        matches!(self.table.get(key), Some(e)
            if !e.is_offer()
                && e.lease.state == LeaseState::Default
                && e.lease.iaid == iaid
                && e.lease.client_id.as_ref().map(ClientId::as_bytes) == Some(c.duid))
    }

    /// lease6_release / lease6_decline for the lease at `key`, as it is before the change.
    fn lease_hook(
        &mut self,
        p: &Prepared6,
        c: &IaCtx<'_>,
        point: HookPoint,
        key: LeaseKey,
        lease: &Lease,
    ) -> Step {
        if !self.hook_wanted(point) {
            return Step::Continue;
        }
        let args = Args6 {
            lease: Some(lease),
            now: c.now,
            ..Args6::default()
        };
        self.hook6(p, point, key, c.query, args)
    }

    /// Runs lease6_release (or lease6_decline) for every lease of a Release (Decline) before
    /// any is changed, so a script that must end first parks the message before its first
    /// change (the per-lease calls then answer from the log).
    fn release_hooks(
        &mut self,
        p: &Prepared6,
        c: &IaCtx<'_>,
        msg: &Dhcp6Packet<&[u8]>,
        decline: bool,
    ) {
        let point = if decline {
            HookPoint::Lease6Decline
        } else {
            HookPoint::Lease6Release
        };
        if !self.hook_wanted(point) {
            return;
        }
        let kinds: &[(u16, bool)] = if decline {
            &[(opt::IA_NA, false)]
        } else {
            &[(opt::IA_NA, false), (opt::IA_PD, true)]
        };
        for &(code, pd) in kinds {
            for ia in msg.ias(code) {
                for (v, _, _, _) in listed(&ia, pd) {
                    let key = (v, pd);
                    if self.halted() || !self.releasable(c, ia.iaid, key) {
                        continue;
                    }
                    let Some(lease) = self.table.get(key).map(|e| e.lease.clone()) else {
                        continue;
                    };
                    self.lease_hook(p, c, point, key, &lease);
                }
            }
        }
    }

    /// Decline (RFC 8415 18.3.8): the address goes into probation for
    /// decline-probation-period with the client's identity removed (ARM 10.5).
    fn decline(
        &mut self,
        p: &Prepared6,
        c: &IaCtx<'_>,
        ia: &Ia<'_>,
        w: &mut Dhcp6Writer<'_>,
    ) -> Result<(), WireError> {
        if self.halted() {
            return Ok(());
        }
        let mut declined = 0;
        for a in ia_addrs(ia) {
            let key = (u128::from(a.addr), false);
            if !self.releasable(c, ia.iaid, key) {
                continue;
            }
            if self.hook_wanted(HookPoint::Lease6Decline) {
                let Some(lease) = self.table.get(key).map(|e| e.lease.clone()) else {
                    continue;
                };
                match self.lease_hook(p, c, HookPoint::Lease6Decline, key, &lease) {
                    Step::Continue => {}
                    Step::Skip => {
                        // DHCP6_HOOK_DECLINE_SKIP: Kea leaves the lease as it is and answers
                        // as if it were declined.
                        tracing::debug!(target: "DHCP6_HOOK_DECLINE_SKIP", addr = %lease.addr, "lease is not declined, because a callout set the next step to SKIP");
                        declined += 1;
                        continue;
                    }
                    Step::Drop | Step::Park => return Ok(()),
                }
            }
            self.table.unindex_client(key);
            let Some(mut entry) = self.table.get(key).cloned() else {
                continue;
            };
            entry.lease.state = LeaseState::Declined;
            entry.lease.client_id = None;
            // Kea's Lease6::decline drops the hardware address with the DUID.
            entry.lease.hwaddr = None;
            entry.lease.cltt = c.now;
            entry.lease.valid_lifetime = p.decline_probation_period;
            entry.lease.preferred_lifetime = 0;
            if !self.record(&entry.lease) {
                continue;
            }
            self.count_declined(entry.subnet as usize, entry.pool, 1);
            self.note_committed(&entry.lease);
            let target_addr = entry.lease.addr;
            self.table.insert(entry);
            declined += 1;
            tracing::info!(target: "DHCP6_DECLINE_LEASE", addr = %target_addr, iaid = ia.iaid, "address declined, in probation");
        }
        // Kea's words (Dhcpv6Srv::declineIA, checked on the wire with kea-dhcp6 2.2).
        if declined > 0 {
            write_ia_status(
                w,
                false,
                ia.iaid,
                status::SUCCESS,
                b"Lease declined. Hopefully the next one will be better.",
            )
        } else if ia_addrs(ia).next().is_none() {
            write_ia_status(
                w,
                false,
                ia.iaid,
                status::NO_BINDING,
                b"No addresses sent in IA_NA",
            )
        } else {
            write_ia_status(
                w,
                false,
                ia.iaid,
                status::NO_BINDING,
                b"Server does not know about such an address.",
            )
        }
    }

    /// An expired lease (or an ended probation) goes back to the pool (ARM chapter 12).
    fn reclaim(&mut self, p: &Prepared6, key: LeaseKey, now: u64) {
        let Some(e) = self.table.get(key) else {
            return;
        };
        let was_declined = e.lease.state == LeaseState::Declined;
        let point = if was_declined {
            HookPoint::Lease6Recover
        } else {
            HookPoint::Lease6Expire
        };
        if self.hook_wanted(point) {
            let lease = e.lease.clone();
            if !self.hook_reclaim(point, key, &lease, now) {
                tracing::debug!(target: "ALLOC_ENGINE_V6_LEASE_RECLAMATION_SKIP", addr = %lease.addr, point = point.name(), "a callout asked to leave the lease as it is, or its script runs first");
                return;
            }
        }
        let Some(e) = self.table.get(key) else {
            return;
        };
        let mut entry = e.clone();
        entry.lease.state = LeaseState::ExpiredReclaimed;
        entry.lease.cltt = now;
        entry.lease.valid_lifetime = 0;
        entry.lease.preferred_lifetime = 0;
        if !self.record(&entry.lease) {
            return;
        }
        let si = entry.subnet as usize;
        self.count_assigned(si, entry.pool, key.1, -1);
        if was_declined {
            self.count_declined(si, entry.pool, -1);
        }
        let g = &self.stats.global;
        g.reclaimed_leases.inc();
        if was_declined {
            g.reclaimed_declined_addresses.inc();
        }
        if let Some(sc) = self.stats.subnets.get(si) {
            sc.reclaimed_leases.inc();
            if was_declined {
                sc.reclaimed_declined_addresses.inc();
            }
        }
        if let Some(pc) = self.pool_stats(entry.pool) {
            pc.reclaimed_leases.inc();
            if was_declined {
                pc.reclaimed_declined_addresses.inc();
            }
        }
        self.give_back(p, &entry, key);
        entry.holds_bit = false;
        if let Some(e) = self.table.get_mut(key) {
            *e = entry;
        }
        self.table.held().note(now, key);
    }

    /// A copy of the lease at `key` to update and log, made without allocating: the hostname
    /// (a reserved host's, the only heap part of a lease besides DUIDs over 24 bytes) is moved
    /// out of the table entry, and goes back with the updated lease (or
    /// [`Core::put_back_hostname`] when the log refused it).
    fn take_lease(&mut self, key: LeaseKey) -> Option<Lease> {
        let e = self.table.get_mut(key)?;
        let hostname = e.lease.hostname.take();
        let mut lease = e.lease.clone();
        lease.hostname = hostname;
        Some(lease)
    }

    fn put_back_hostname(&mut self, key: LeaseKey, lease: Lease) {
        if let Some(e) = self.table.get_mut(key) {
            e.lease.hostname = lease.hostname;
        }
    }

    /// Whether the pool and subnet of the lease at `key` admit the packet's classes. A value
    /// the client's own reservation names is always admitted (host reservations are not
    /// guarded).
    fn admitted(&self, p: &Prepared6, c: &IaCtx<'_>, key: LeaseKey) -> bool {
        let Some(e) = self.table.get(key) else {
            return true;
        };
        if c.host.is_some_and(|(_, h)| h.reserves(key.0, key.1)) {
            return true;
        }
        let pool_ok = p.pools.get(e.pool as usize).is_none_or(|x| c.pool_ok(x));
        pool_ok && c.subnet_ok(p, e.subnet as usize)
    }

    /// Whether `key` is a value reserved in its subnet for hosts other than the client's
    /// (ARM 10.3.2 conflicts).
    fn reserved_for_other(&self, p: &Prepared6, c: &IaCtx<'_>, key: LeaseKey) -> bool {
        p.hosts
            .reserved_for(key)
            .is_some_and(|hosts| !c.host_idx().is_some_and(|h| hosts.contains(&h)))
    }

    /// Whether the value at `key` is in use by anyone but this IA of this client: a live
    /// advertisement, an active lease or one in decline probation.
    fn held_by_other(&self, key: LeaseKey, c: &IaCtx<'_>, iaid: u32) -> bool {
        let Some(e) = self.table.get(key) else {
            return false;
        };
        let ours = e.lease.iaid == iaid
            && e.lease.client_id.as_ref().map(ClientId::as_bytes) == Some(c.duid);
        let live = if e.is_offer() {
            e.offer_until > c.now
        } else {
            matches!(e.lease.state, LeaseState::Default | LeaseState::Declined)
                && !e.lease.is_expired(c.now)
        };
        !ours && live
    }

    /// The first of the host's reserved values of this IA type that is usable on the link and
    /// not held by someone else (another of the client's IAs included): ARM 10.3 gives each
    /// IA its own reserved value and skips those in use.
    fn pick_reserved(
        &self,
        p: &Prepared6,
        c: &IaCtx<'_>,
        host: &Host6,
        iaid: u32,
        pd: bool,
    ) -> Option<(u128, u8)> {
        let subnet = c.subnet?;
        host.reserved(pd).find(|&(v, _)| {
            // Reserved prefixes are not bound to the subnet (ARM 10.3 note); addresses are.
            let on_link = pd
                || p.candidates(subnet)
                    .filter_map(|i| p.subnets.get(i))
                    .any(|sn| sn.contains(v));
            on_link && !self.held_by_other((v, pd), c, iaid)
        })
    }

    /// Enters a lease (or advertisement) on a reserved value for the client's IA. An honoured
    /// subnet reservation's in-pool bit is already the reservation's; any other in-pool value
    /// (a global reservation, reservations-out-of-pool) claims its bit like a dynamic one.
    fn take_reserved(
        &mut self,
        p: &Prepared6,
        c: &IaCtx<'_>,
        iaid: u32,
        pd: bool,
        (value, len): (u128, u8),
        commit: bool,
    ) -> Option<LeaseKey> {
        let subnet = c.subnet?;
        let key = (value, pd);
        let pool = p.reserved_pool_of(subnet, pd, value, len);
        let lease_subnet = match pool.and_then(|(pi, _)| p.pools.get(pi)) {
            Some(pool) => pool.subnet,
            None if pd => c.host.and_then(|(_, h)| h.subnet).unwrap_or(subnet),
            None => p
                .candidates(subnet)
                .find(|&s| p.subnets.get(s).is_some_and(|sn| sn.contains(value)))
                .unwrap_or(subnet),
        };
        let s = p.subnets.get(lease_subnet)?;
        let mut holds_bit = false;
        if let Some((pi, off)) = pool {
            if p.hosts.reserved_for((value, pd)).is_none() {
                let inherited = self.table.get(key).is_some_and(|e| e.holds_bit);
                if !inherited && !p.pools.get(pi)?.bitmap.try_claim(off) {
                    return None;
                }
                holds_bit = true;
            }
        }
        let lease = Lease {
            kind: if pd { LeaseKind::V6Pd } else { LeaseKind::V6Na },
            addr: IpAddr::V6(Ipv6Addr::from(value)),
            prefix_len: len,
            iaid,
            hwaddr: c.hwaddr,
            client_id: Some(ClientId::new(c.duid)),
            valid_lifetime: 0,
            preferred_lifetime: 0,
            cltt: c.now,
            subnet_id: s.id,
            pool_id: pool
                .and_then(|(pi, _)| p.pools.get(pi))
                .map(|x| x.pool_id)
                .unwrap_or_default(),
            state: LeaseState::Default,
            hostname: None,
            fqdn_fwd: false,
            fqdn_rev: false,
            user_context: None,
        };
        self.table.insert(Entry6 {
            lease,
            pool: pool.map(|(pi, _)| pi as u32).unwrap_or(NO_POOL),
            subnet: lease_subnet as u32,
            offer_until: if commit {
                0
            } else {
                c.now.saturating_add(ADVERTISE_HOLD_SECS)
            },
            holds_bit,
        });
        Some(key)
    }

    /// Ends a committed lease the client is moved away from (ARM 10.3.2): logged as released
    /// with lifetimes 0, uncounted, its bit (if it held one) given back.
    fn retire(&mut self, p: &Prepared6, key: LeaseKey, now: u64) -> bool {
        let Some(mut entry) = self.table.get(key).cloned() else {
            return false;
        };
        entry.lease.state = LeaseState::Released;
        entry.lease.valid_lifetime = 0;
        entry.lease.preferred_lifetime = 0;
        entry.lease.cltt = now;
        if !self.record(&entry.lease) {
            return false;
        }
        self.count_assigned(entry.subnet as usize, entry.pool, key.1, -1);
        self.give_back(p, &entry, key);
        entry.holds_bit = false;
        self.table.insert(entry);
        true
    }

    /// Gives back a lease picked for a client that will not get it (a hook refused it): the
    /// entry goes and its bit returns to the pool. Only for an entry not committed.
    fn unclaim(&mut self, p: &Prepared6, key: LeaseKey) {
        if let Some(e) = self.table.remove(key) {
            self.give_back(p, &e, key);
        }
    }

    /// Releases the bit an entry held and queues the offset on this shard.
    fn give_back(&mut self, p: &Prepared6, entry: &Entry6, key: LeaseKey) {
        if !entry.holds_bit || entry.pool == NO_POOL {
            return;
        }
        let pi = entry.pool as usize;
        if let Some(pool) = p.pools.get(pi) {
            if let Some(off) = pool.offset_of(key.0) {
                pool.bitmap.release(off);
                if let Some(q) = self.queues.get_mut(pi) {
                    q.push(off);
                }
            }
        }
    }
}
