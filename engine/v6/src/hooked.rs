//! Kea's DHCPv6 hook points in the engine, and the parking of packets whose hook script must
//! end before they go on (ARM 17, "Hooks libraries"; the hooks developer guide's "DHCPv6
//! hooks"; issue 6).
//!
//! A shard without `hooks-libraries` holds no [`HookState6`]: every point is one `Option` test.
//! With hooks, each point builds a [`HookContext`] only if something listens there, and acts on
//! the answer with Kea's semantics:
//!
//! | point | skip | drop |
//! |---|---|---|
//! | buffer6_receive | the packet is parsed anyway (callouts cannot hand us a parsed packet) | dropped, `pkt6-receive-drop` |
//! | pkt6_receive | dropped (DHCP6_HOOK_PACKET_RCVD_SKIP) | same |
//! | subnet6_select | no subnet: no address or prefix is given (DHCP6_HOOK_SUBNET6_SELECT_SKIP) | dropped |
//! | lease6_select | that IA gets no lease: NoAddrsAvail / NoPrefixAvail | dropped |
//! | lease6_renew / lease6_rebind | the lease is sent as it is, not extended (DHCP6_HOOK_LEASE6_EXTEND_SKIP) | dropped |
//! | lease6_release | not released; the IA gets UnspecFail, as Kea (DHCP6_HOOK_LEASE6_RELEASE_NA_SKIP) | dropped |
//! | lease6_decline | not declined (DHCP6_HOOK_DECLINE_SKIP) | dropped |
//! | leases6_committed | goes on | the response is not sent |
//! | pkt6_send / buffer6_send | the response is not sent | same |
//! | lease6_expire / lease6_recover | the lease is not reclaimed / recovered now | same |
//!
//! lease6_select is called for a lease the client did not hold committed before this message
//! (a new one, or the one advertised to it); a Request for a lease it holds reuses it as it is.
//!
//! # Parking
//! A run-script hook with `wait` / `sync` answers `Park(ticket)`: the packet waits for the
//! script while the shard serves every other packet. Slots are preallocated when the hooks are
//! installed, one per script that may run (`max-running`), so parking never allocates.
//! - Before the reply is finished (pkt6_receive, subnet6_select, the per-IA points) the slot
//!   keeps the datagram, its arrival metadata and the log of the hook calls made so far, keyed
//!   by (point, IA or address): when the script ends the datagram is processed again from the
//!   start and every logged call answers its logged verdict without calling anything (the
//!   parked one answers the script's), so no script runs twice for one message. Processing
//!   again is idempotent for what the first run already did: a lease committed for an earlier
//!   IA is found and sent again; an address picked for the parked IA stays held for the client
//!   (as an advertisement that does not lapse while parked). Release and Decline call their
//!   hooks for every lease of the message before changing any, so they park before the first
//!   change.
//! - After the reply is finished (leases6_committed, pkt6_send, buffer6_send) the slot keeps
//!   the query and the reply; when the script ends the reply goes on through the remaining
//!   points and is sent, or not.
//! - Lease reclamation parks the lease instead: with `wait`, a lease whose lease6_expire /
//!   lease6_recover script runs is reclaimed when the script ends (the address stays out of
//!   the pool until then, which is what waiting buys: a script that removes a route or a
//!   firewall entry finishes before the address can be given to someone else). The shard goes
//!   on meanwhile.

use crate::{Core, Meta6, Prepared6, Reply6, V6Shard, ADVERTISE_HOLD_SECS};
use corelease_hooks::{
    HookContext, HookPoint, HookVerdict, Hooks, IaView, LeaseTimers, NextStep, Packet6View,
    ScriptTicket, Subnet6View,
};
use corelease_storage::LeaseSink;
use corelease_types::Lease;
use corelease_wire::v6::{Dhcp6Packet, MessageType, SERVER_PORT};
use std::net::{Ipv6Addr, SocketAddrV6};

/// Room for one datagram in a parking slot: the runtime's slot size.
const SLOT_BYTES: usize = 2048;
/// Hook calls one message may log (a message with more IAs than this cannot park past them:
/// a script there runs as if detached).
const MAX_LOGGED: usize = 32;

/// What the engine does after the hooks of a point ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Continue,
    Skip,
    Drop,
    /// The packet waits for a script: stop processing it now.
    Park,
}

impl Step {
    fn of(next: NextStep) -> Self {
        match next {
            NextStep::Continue => Step::Continue,
            NextStep::Skip => Step::Skip,
            NextStep::Drop => Step::Drop,
        }
    }
}

/// Which call of a point a log entry is: the IA (IAID, IA_PD) for lease6_select / renew /
/// rebind, the address or prefix for release / decline, nothing for packet-level points.
pub(crate) type CallKey = (u128, bool);

/// The key of packet-level points.
pub(crate) const PACKET: CallKey = (0, false);

/// The key of an IA's call.
pub(crate) fn ia_key(iaid: u32, pd: bool) -> CallKey {
    (u128::from(iaid), pd)
}

/// The hook calls of one message and their verdicts.
#[derive(Clone, Copy)]
struct CallLog {
    calls: [(HookPoint, CallKey, NextStep); MAX_LOGGED],
    len: usize,
}

impl CallLog {
    const EMPTY: CallLog = CallLog {
        calls: [(HookPoint::Pkt6Receive, PACKET, NextStep::Continue); MAX_LOGGED],
        len: 0,
    };

    fn find(&self, point: HookPoint, key: CallKey) -> Option<NextStep> {
        self.calls
            .get(..self.len)?
            .iter()
            .find(|(p, k, _)| *p == point && *k == key)
            .map(|(_, _, s)| *s)
    }

    fn push(&mut self, point: HookPoint, key: CallKey, step: NextStep) -> bool {
        match self.calls.get_mut(self.len) {
            Some(slot) => {
                *slot = (point, key, step);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    fn is_full(&self) -> bool {
        self.len >= MAX_LOGGED
    }
}

/// Why the packet being processed stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Halt {
    Drop,
    Park(ScriptTicket, HookPoint, CallKey),
}

/// Where a finished reply stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PostStage {
    Committed,
    Send,
    BufferSend,
}

/// One parked packet.
struct ParkSlot6 {
    ticket: Option<ScriptTicket>,
    meta: Meta6,
    query: Box<[u8]>,
    query_len: usize,
    reply: Box<[u8]>,
    /// A finished reply (parked after the reply was written) and its stage.
    post: Option<(Reply6, PostStage)>,
    log: CallLog,
    parked_at: (HookPoint, CallKey),
}

/// Counters of the hook wiring of one shard (the script's own are in `ScriptStats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParkStats6 {
    /// Packets parked (each park of the same packet counts).
    pub parked: u64,
    /// Parked packets resumed after their script ended.
    pub resumed: u64,
    /// A script asked its packet to wait but no slot was free: the packet was dropped.
    pub table_full: u64,
    /// Reclamations that waited for their lease6_expire / lease6_recover script.
    pub reclaims_parked: u64,
}

/// The hooks of one shard and what parking needs.
pub(crate) struct HookState6 {
    pub(crate) hooks: Hooks,
    slots: Vec<ParkSlot6>,
    /// Calls made for the packet being processed (pre-filled from its slot on a replay).
    log: CallLog,
    halt: Option<Halt>,
    /// The packet being processed runs again after parking (its statistics are counted).
    replaying: bool,
    meta: Meta6,
    /// leases6_committed: the leases the exchange granted, extended or declined...
    committed: Vec<Lease>,
    /// ...and the ones it released.
    deleted: Vec<Lease>,
    /// Leases whose reclamation waits for their script.
    reclaims: Vec<(ScriptTicket, (u128, bool))>,
    /// A parked reclamation runs: its hook already ran.
    resuming_reclaim: bool,
    /// How long an address picked for a parked packet stays held (wait-timeout plus margin).
    park_hold_secs: u64,
    stats: ParkStats6,
}

impl HookState6 {
    fn new(hooks: Hooks) -> Self {
        let capacity = hooks.max_parked();
        let park_hold_secs = hooks
            .script()
            .map(|s| s.config().wait_timeout.as_secs() + 2)
            .unwrap_or(2);
        let unspecified = SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0);
        let meta = Meta6 {
            src: unspecified,
            dst: Ipv6Addr::UNSPECIFIED,
            ifindex: 0,
        };
        let slots = (0..capacity)
            .map(|_| ParkSlot6 {
                ticket: None,
                meta,
                query: vec![0u8; SLOT_BYTES].into_boxed_slice(),
                query_len: 0,
                reply: vec![0u8; SLOT_BYTES].into_boxed_slice(),
                post: None,
                log: CallLog::EMPTY,
                parked_at: (HookPoint::Pkt6Receive, PACKET),
            })
            .collect();
        HookState6 {
            hooks,
            slots,
            log: CallLog::EMPTY,
            halt: None,
            replaying: false,
            meta,
            committed: Vec::new(),
            deleted: Vec::new(),
            reclaims: Vec::with_capacity(capacity),
            resuming_reclaim: false,
            park_hold_secs,
            stats: ParkStats6::default(),
        }
    }

    fn begin(&mut self, meta: &Meta6, replay: Option<&CallLog>) {
        self.log = replay.copied().unwrap_or(CallLog::EMPTY);
        self.replaying = replay.is_some();
        self.halt = None;
        self.meta = *meta;
        self.committed.clear();
        self.deleted.clear();
    }
}

/// What [`V6Shard::resume_parked`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resumed6 {
    /// A reply for the packet, written into the caller's buffer.
    Reply(Reply6),
    /// Nothing to send (the packet was dropped or parked again, or a lease was reclaimed).
    NoReply,
}

/// The arguments of one hook point besides the query.
#[derive(Clone, Copy, Default)]
pub(crate) struct Args6<'a> {
    pub(crate) subnet: Option<usize>,
    pub(crate) lease: Option<&'a Lease>,
    pub(crate) timers: (u32, u32),
    pub(crate) fake_allocation: bool,
    pub(crate) ia: Option<IaView>,
    /// Seconds since the Unix epoch.
    pub(crate) now: u64,
}

fn interface_name(p: &Prepared6, ifindex: u32) -> &str {
    p.interfaces
        .iter()
        .find(|i| i.ifindex == ifindex)
        .map(|i| i.name.as_str())
        .unwrap_or("")
}

/// The query as hooks see it. Kea 2.2 does not set the local port of a DHCPv6 packet it
/// receives: scripts see 0 there (kea-dhcp6 2.2 with libdhcp_run_script.so prints
/// `QUERY6_LOCAL_PORT=0`), and so do ours.
fn query_view<'a>(p: &'a Prepared6, meta: &Meta6, query: &'a [u8]) -> Option<Packet6View<'a>> {
    Packet6View::from_wire(
        query,
        interface_name(p, meta.ifindex),
        meta.ifindex,
        SocketAddrV6::new(meta.dst, 0, 0, 0),
        meta.src,
    )
}

fn subnet_view(p: &Prepared6, subnet: Option<usize>) -> Option<Subnet6View> {
    let s = p.subnets.get(subnet?)?;
    Some(Subnet6View {
        id: s.id,
        prefix: Ipv6Addr::from(s.prefix),
        prefix_len: s.prefix_len,
    })
}

impl<S: LeaseSink> Core<S> {
    /// True if something listens at `point` (cheap: no context is built otherwise).
    #[inline]
    pub(crate) fn hook_wanted(&self, point: HookPoint) -> bool {
        self.hooked.as_deref().is_some_and(|h| h.hooks.wants(point))
    }

    /// True once a hook dropped or parked the packet being processed: the rest of its
    /// processing is skipped.
    #[inline]
    pub(crate) fn halted(&self) -> bool {
        self.hooked.as_deref().is_some_and(|h| h.halt.is_some())
    }

    fn parked_now(&self) -> bool {
        self.hooked
            .as_deref()
            .is_some_and(|h| matches!(h.halt, Some(Halt::Park(..))))
    }

    /// True while a parked packet runs again: it was counted when it arrived.
    pub(crate) fn replaying(&self) -> bool {
        self.hooked.as_deref().is_some_and(|h| h.replaying)
    }

    /// How long an address picked for a packet that parked stays held for its client.
    pub(crate) fn park_hold_secs(&self) -> u64 {
        self.hooked
            .as_deref()
            .map(|h| ADVERTISE_HOLD_SECS + h.park_hold_secs)
            .unwrap_or(ADVERTISE_HOLD_SECS)
    }

    /// Runs the hooks of `point` for the call `key` of the query being processed (`query`,
    /// the datagram). A call already logged for this message answers its logged verdict.
    pub(crate) fn hook6(
        &mut self,
        p: &Prepared6,
        point: HookPoint,
        key: CallKey,
        query: &[u8],
        args: Args6<'_>,
    ) -> Step {
        let Some(hs) = self.hooked.as_deref_mut() else {
            return Step::Continue;
        };
        if !hs.hooks.wants(point) {
            return Step::Continue;
        }
        if hs.halt.is_some() {
            return Step::Drop;
        }
        if let Some(step) = hs.log.find(point, key) {
            if step == NextStep::Drop {
                hs.halt = Some(Halt::Drop);
            }
            return Step::of(step);
        }
        let lease_timers = LeaseTimers {
            t1: args.timers.0,
            t2: args.timers.1,
        };
        let ctx = HookContext {
            query6: query_view(p, &hs.meta, query),
            subnet6: subnet_view(p, args.subnet),
            lease: args.lease,
            timers: lease_timers,
            fake_allocation: args.fake_allocation,
            ia: args.ia,
            ..HookContext::new(args.now)
        };
        let verdict = hs.hooks.call(point, &ctx);
        let next = match verdict {
            HookVerdict::Continue => NextStep::Continue,
            HookVerdict::Skip => NextStep::Skip,
            HookVerdict::Drop => {
                hs.halt = Some(Halt::Drop);
                return Step::Drop;
            }
            HookVerdict::Park(ticket) => {
                if hs.log.is_full() {
                    // No room to replay past this call: the script runs as if detached.
                    hs.stats.table_full += 1;
                    return Step::Continue;
                }
                hs.halt = Some(Halt::Park(ticket, point, key));
                return Step::Park;
            }
        };
        hs.log.push(point, key, next);
        Step::of(next)
    }

    /// Notes a lease the exchange committed (granted, extended, declined), for
    /// leases6_committed (only when something listens there).
    pub(crate) fn note_committed(&mut self, lease: &Lease) {
        if let Some(hs) = self
            .hooked
            .as_deref_mut()
            .filter(|h| h.hooks.wants(HookPoint::Leases6Committed))
        {
            hs.committed.push(lease.clone());
        }
    }

    /// Notes a lease the exchange released, for leases6_committed.
    pub(crate) fn note_deleted(&mut self, lease: &Lease) {
        if let Some(hs) = self
            .hooked
            .as_deref_mut()
            .filter(|h| h.hooks.wants(HookPoint::Leases6Committed))
        {
            hs.deleted.push(lease.clone());
        }
    }

    /// Runs lease6_expire / lease6_recover for a lease being reclaimed (`key`): true when the
    /// reclamation goes on now. False when a callout asked to leave the lease as it is, or when
    /// its script must end first (the lease is reclaimed when [`V6Shard::resume_parked`] sees
    /// the script end).
    pub(crate) fn hook_reclaim(
        &mut self,
        point: HookPoint,
        key: (u128, bool),
        lease: &Lease,
        now: u64,
    ) -> bool {
        let Some(hs) = self.hooked.as_deref_mut() else {
            return true;
        };
        if !hs.hooks.wants(point) || hs.resuming_reclaim {
            return true;
        }
        let ctx = HookContext {
            lease: Some(lease),
            // The engine keeps reclaimed leases (for lease affinity) until flushed.
            remove_lease: false,
            ..HookContext::new(now)
        };
        match hs.hooks.call(point, &ctx) {
            HookVerdict::Continue => true,
            HookVerdict::Skip | HookVerdict::Drop => false,
            HookVerdict::Park(ticket) => {
                hs.reclaims.push((ticket, key));
                hs.stats.reclaims_parked += 1;
                false
            }
        }
    }
}

impl<S: LeaseSink> V6Shard<S> {
    /// Installs this shard's hooks (None: no hooks, no per-packet cost). Packets parked on the
    /// hooks installed before are dropped with them.
    pub fn set_hooks(&mut self, hooks: Option<Hooks>) {
        self.core.hooked = hooks.map(|h| Box::new(HookState6::new(h)));
    }

    pub fn hooks(&self) -> Option<&Hooks> {
        self.core.hooked.as_deref().map(|h| &h.hooks)
    }

    pub fn hooks_mut(&mut self) -> Option<&mut Hooks> {
        self.core.hooked.as_deref_mut().map(|h| &mut h.hooks)
    }

    /// Counters of parking (zero without hooks).
    pub fn park_stats(&self) -> ParkStats6 {
        self.core
            .hooked
            .as_deref()
            .map(|h| h.stats)
            .unwrap_or_default()
    }

    /// Packets parked now.
    pub fn parked(&self) -> usize {
        self.core
            .hooked
            .as_deref()
            .map(|h| h.slots.iter().filter(|s| s.ticket.is_some()).count())
            .unwrap_or(0)
    }

    /// True when scripts run on this shard: the runtime should call
    /// [`V6Shard::resume_parked`] (their reports must be collected even for detached ones).
    pub fn hooks_pending(&self) -> bool {
        self.core
            .hooked
            .as_deref()
            .is_some_and(|h| h.hooks.running() > 0)
    }

    /// [`V6Shard::handle`] with hooks installed.
    pub(crate) fn handle_hooked(
        &mut self,
        meta: &Meta6,
        data: &[u8],
        now: u64,
        out: &mut [u8],
    ) -> Option<Reply6> {
        if let Some(hs) = self.core.hooked.as_deref_mut() {
            hs.begin(meta, None);
        }
        let reply = self.process(meta, data, now, out);
        self.after_process(meta, data, now, out, reply)
    }

    /// After the packet's processing: park it if a point asked to, else run the points of the
    /// finished reply.
    fn after_process(
        &mut self,
        meta: &Meta6,
        data: &[u8],
        now: u64,
        out: &mut [u8],
        reply: Option<Reply6>,
    ) -> Option<Reply6> {
        let hs = self.core.hooked.as_deref_mut()?;
        match hs.halt {
            Some(Halt::Park(ticket, point, key)) => {
                park(hs, ticket, (point, key), meta, data, None, out);
                return None;
            }
            Some(Halt::Drop) => return None,
            None => {}
        }
        let reply = reply?;
        // Kea's leases6_committed follows every exchange that commits leases: Request, Renew,
        // Rebind, Release, Decline, and a Rapid Commit Solicit answered with a Reply.
        let kind = Dhcp6Packet::new_checked(data)
            .ok()
            .and_then(|o| o.innermost().ok().and_then(|(m, _)| m.msg_type()));
        let commits = matches!(
            kind,
            Some(
                MessageType::Request
                    | MessageType::Renew
                    | MessageType::Rebind
                    | MessageType::Release
                    | MessageType::Decline
            )
        ) || (kind == Some(MessageType::Solicit)
            && reply.message_type == MessageType::Reply);
        let stage = if commits {
            PostStage::Committed
        } else {
            PostStage::Send
        };
        self.post_commit(meta, data, now, out, reply, stage)
    }

    /// leases6_committed, pkt6_send, buffer6_send from `stage` on.
    fn post_commit(
        &mut self,
        meta: &Meta6,
        data: &[u8],
        now: u64,
        out: &mut [u8],
        reply: Reply6,
        mut stage: PostStage,
    ) -> Option<Reply6> {
        loop {
            let point = match stage {
                PostStage::Committed => HookPoint::Leases6Committed,
                PostStage::Send => HookPoint::Pkt6Send,
                PostStage::BufferSend => HookPoint::Buffer6Send,
            };
            match self.post_point(point, meta, data, now, out, reply) {
                Step::Continue => {}
                Step::Skip if point == HookPoint::Leases6Committed => {}
                Step::Skip | Step::Drop => {
                    tracing::debug!(target: "DHCP6_HOOK_PACKET_SEND_SKIP", point = point.name(), "prepared response is not sent, because a callout asked so");
                    return None;
                }
                Step::Park => {
                    let hs = self.core.hooked.as_deref_mut()?;
                    if let Some(Halt::Park(ticket, _, _)) = hs.halt.take() {
                        park(
                            hs,
                            ticket,
                            (point, PACKET),
                            meta,
                            data,
                            Some((reply, stage)),
                            out,
                        );
                    }
                    return None;
                }
            }
            stage = match stage {
                PostStage::Committed => PostStage::Send,
                PostStage::Send => PostStage::BufferSend,
                PostStage::BufferSend => return Some(reply),
            };
        }
    }

    /// Runs one point of a finished reply: the query, the response (pkt6_send, buffer6_send)
    /// and the leases (leases6_committed).
    fn post_point(
        &mut self,
        point: HookPoint,
        meta: &Meta6,
        data: &[u8],
        now: u64,
        out: &[u8],
        reply: Reply6,
    ) -> Step {
        let p = &*self.prepared;
        let Some(hs) = self.core.hooked.as_deref_mut() else {
            return Step::Continue;
        };
        if !hs.hooks.wants(point) {
            return Step::Continue;
        }
        let iface = interface_name(p, meta.ifindex);
        let response = out.get(..reply.len).and_then(|bytes| {
            Packet6View::from_wire(
                bytes,
                iface,
                reply.ifindex.unwrap_or(meta.ifindex),
                // Kea sets a response's local port to the DHCPv6 server port.
                SocketAddrV6::new(meta.dst, SERVER_PORT, 0, 0),
                reply.dst,
            )
        });
        let committed = point == HookPoint::Leases6Committed;
        let ctx = HookContext {
            query6: query_view(p, meta, data),
            response6: response.filter(|_| !committed),
            leases: if committed { &hs.committed } else { &[] },
            deleted_leases: if committed { &hs.deleted } else { &[] },
            ..HookContext::new(now)
        };
        match hs.hooks.call(point, &ctx) {
            HookVerdict::Continue => Step::Continue,
            HookVerdict::Skip => Step::Skip,
            HookVerdict::Drop => Step::Drop,
            HookVerdict::Park(ticket) => {
                hs.halt = Some(Halt::Park(ticket, point, PACKET));
                Step::Park
            }
        }
    }

    /// Collects the reports of scripts that ended and resumes what waited on the next awaited
    /// one: a parked packet (its reply, if any, written into `out`) or a parked reclamation.
    /// Returns `None` when no report is waiting. Call it while [`V6Shard::hooks_pending`] (from
    /// the runtime's wake-up, which the spawner triggers as a script ends). Commit the lease log
    /// before sending what it wrote.
    pub fn resume_parked(&mut self, now: u64, out: &mut [u8]) -> Option<Resumed6> {
        let (done, slot) = loop {
            let hs = self.core.hooked.as_deref_mut()?;
            let done = hs.hooks.poll().next()?;
            if let Some(i) = hs.slots.iter().position(|s| s.ticket == Some(done.ticket)) {
                break (done, i);
            }
            if let Some(i) = hs.reclaims.iter().position(|(t, _)| *t == done.ticket) {
                let (_, key) = hs.reclaims.swap_remove(i);
                self.resume_reclaim(key, now);
                return Some(Resumed6::NoReply);
            }
            // A detached script, or a packet dropped with old hooks.
        };
        let hs = self.core.hooked.as_deref_mut()?;
        hs.stats.resumed += 1;
        let s = hs.slots.get_mut(slot)?;
        s.ticket = None;
        let meta = s.meta;
        let mut log = s.log;
        // The parked call answers what its script decided.
        log.push(s.parked_at.0, s.parked_at.1, done.next);
        // The slot's buffers are taken out while the packet runs again (it may park again, in
        // another slot or this one) and put back after: no copy, no allocation.
        let mut query = std::mem::take(&mut s.query);
        let query_len = s.query_len;
        let post = s.post.take();
        let mut reply_buf = std::mem::take(&mut s.reply);
        hs.begin(&meta, Some(&log));
        let data = query.get(..query_len).unwrap_or(&[]);
        let result = match post {
            None => {
                let reply = self.process(&meta, data, now, out);
                self.after_process(&meta, data, now, out, reply)
            }
            Some((reply, stage)) => {
                let copied = out
                    .get_mut(..reply.len)
                    .zip(reply_buf.get(..reply.len))
                    .map(|(dst, src)| dst.copy_from_slice(src))
                    .is_some();
                let stage = match (done.next, stage) {
                    // The parked point's verdict: skip / drop keep the reply, except that a
                    // skip at leases6_committed goes on.
                    (NextStep::Continue, _) | (NextStep::Skip, PostStage::Committed) => {
                        next_stage(stage)
                    }
                    _ => None,
                };
                match (copied, stage) {
                    (true, Some(Some(stage))) => {
                        self.post_commit(&meta, data, now, out, reply, stage)
                    }
                    (true, Some(None)) => Some(reply),
                    _ => None,
                }
            }
        };
        // Put the buffers back in the first slot that lacks them (the packet may have parked
        // again in this very slot, which then took the buffers of a free one).
        if let Some(hs) = self.core.hooked.as_deref_mut() {
            if let Some(s) = hs.slots.iter_mut().find(|s| s.query.is_empty()) {
                s.query = std::mem::take(&mut query);
            }
            if let Some(s) = hs.slots.iter_mut().find(|s| s.reply.is_empty()) {
                s.reply = std::mem::take(&mut reply_buf);
            }
            hs.replaying = false;
        }
        if let Some(r) = &result {
            self.count_sent(r.message_type);
        }
        Some(match result {
            Some(r) => Resumed6::Reply(r),
            None => Resumed6::NoReply,
        })
    }

    /// A reclamation whose script ended: the lease is reclaimed now if it is still due (the
    /// client may have come back meanwhile).
    fn resume_reclaim(&mut self, key: (u128, bool), now: u64) {
        let due = self.core.table.get(key).is_some_and(|e| {
            e.offer_until == 0
                && e.lease.expire() <= now
                && matches!(
                    e.lease.state,
                    corelease_types::LeaseState::Default | corelease_types::LeaseState::Declined
                )
        });
        if !due {
            return;
        }
        let p = &*self.prepared;
        if let Some(hs) = self.core.hooked.as_deref_mut() {
            hs.resuming_reclaim = true;
        }
        self.core.reclaim(p, key, now);
        if let Some(hs) = self.core.hooked.as_deref_mut() {
            hs.resuming_reclaim = false;
        }
    }

    /// True when a hook parked the packet being processed (nothing is counted as dropped).
    pub(crate) fn parking(&self) -> bool {
        self.core.parked_now()
    }
}

/// The stage after `stage`: `Some(None)` when none is left (send the reply).
fn next_stage(stage: PostStage) -> Option<Option<PostStage>> {
    Some(match stage {
        PostStage::Committed => Some(PostStage::Send),
        PostStage::Send => Some(PostStage::BufferSend),
        PostStage::BufferSend => None,
    })
}

/// A slot with both buffers (one whose buffers are lent to a resumed packet has none).
fn usable_slot(hs: &mut HookState6) -> Option<&mut ParkSlot6> {
    hs.slots
        .iter_mut()
        .find(|s| s.ticket.is_none() && s.query.len() >= SLOT_BYTES && s.reply.len() >= SLOT_BYTES)
}

/// Keeps the packet (and its finished reply, if any) until its script ends.
fn park(
    hs: &mut HookState6,
    ticket: ScriptTicket,
    at: (HookPoint, CallKey),
    meta: &Meta6,
    data: &[u8],
    post: Option<(Reply6, PostStage)>,
    out: &[u8],
) {
    let log = hs.log;
    let Some(slot) = usable_slot(hs) else {
        hs.stats.table_full += 1;
        tracing::warn!(target: "DHCP6_HOOK_LEASES6_PARKING_LOT_FULL", point = at.0.name(), "parking lot full: packet dropped");
        return;
    };
    let Some(q) = slot.query.get_mut(..data.len()) else {
        return;
    };
    q.copy_from_slice(data);
    if let Some((reply, _)) = post {
        let (Some(r), Some(src)) = (slot.reply.get_mut(..reply.len), out.get(..reply.len)) else {
            return;
        };
        r.copy_from_slice(src);
    }
    slot.query_len = data.len();
    slot.ticket = Some(ticket);
    slot.meta = *meta;
    slot.post = post;
    slot.log = log;
    slot.parked_at = at;
    hs.stats.parked += 1;
}

#[cfg(test)]
#[path = "hook_tests.rs"]
mod tests;
