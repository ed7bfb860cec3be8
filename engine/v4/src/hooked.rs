//! Kea's DHCPv4 hook points in the engine, and the parking of packets whose hook script must
//! end before they go on (ARM 17, "Hooks libraries"; the hooks developer guide's "DHCPv4
//! hooks"; issue 6).
//!
//! A shard without `hooks-libraries` holds no [`HookState`]: every point is one `Option` test
//! and nothing else. With hooks, each point builds a [`HookContext`] only if something listens
//! there ([`Hooks::wants`]), and acts on the answer with Kea's semantics:
//!
//! | point | skip | drop |
//! |---|---|---|
//! | buffer4_receive | the packet is parsed anyway (callouts cannot hand us a parsed packet) | dropped, `pkt4-receive-drop` |
//! | pkt4_receive | dropped, `pkt4-receive-drop` (DHCP4_HOOK_PACKET_RCVD_SKIP) | same |
//! | subnet4_select | no subnet: no address is given (DHCP4_HOOK_SUBNET4_SELECT_SKIP) | dropped |
//! | lease4_select | no lease: no OFFER to a DISCOVER, a NAK to a REQUEST | dropped |
//! | lease4_renew | the lease is used as it is, not extended (DHCPSRV_HOOK_LEASE4_RENEW_SKIP) | dropped |
//! | lease4_release / lease4_decline | the lease is not released / declined | same |
//! | leases4_committed | goes on | the response is not sent |
//! | pkt4_send / buffer4_send | the response is not sent (DHCP4_HOOK_PACKET_SEND_SKIP) | same |
//! | lease4_expire / lease4_recover | the lease is not reclaimed / recovered now | same |
//!
//! `host4_identifier` is not called. Kea calls it only to let a callout hand back a flexible
//! identifier (`id_type` flex-id, `id_value` an out-argument) for host reservation lookup; the
//! run-script libraries have no callout there (a script cannot return a value to Kea), the
//! in-process [`corelease_hooks::Callout`] answers only a next step, and corelease computes
//! flex-id natively from the flex_id library's expression (ARM 17.9). A script can still act
//! on every client at pkt4_receive, which sees the same query.
//!
//! # Parking
//! A run-script hook with `wait` / `sync` answers `Park(ticket)`: the packet waits for the
//! script while the shard serves every other packet. The parking table is preallocated when
//! the hooks are installed, one slot per script that may run (`max-running`), so parking never
//! allocates and never grows.
//! - Before the lease is committed (pkt4_receive, subnet4_select, lease4_select, lease4_renew,
//!   lease4_release, lease4_decline) the slot keeps the datagram and its arrival metadata; an
//!   address picked at lease4_select stays held for the client (as an offer that does not lapse
//!   while parked). When the script ends the datagram is processed again from the start with the
//!   points that already fired masked (they are not called twice; the parked one takes the
//!   script's verdict), so the resumed run finds the held address and offers exactly the
//!   address the script saw.
//! - After the commit (leases4_committed, pkt4_send, buffer4_send) the slot keeps the query and
//!   the finished reply; when the script ends the reply goes on through the remaining points
//!   and is sent, or not (skip / drop).
//!
//! Lease reclamation parks the lease instead: with `wait`, a lease whose lease4_expire /
//! lease4_recover script runs is reclaimed when the script ends, and the address stays out of
//! the pool until then. That is what waiting buys in Kea (the callout blocks reclamation, and
//! neither library reads the script's exit there): a script that removes a route or a
//! firewall entry finishes before the address can be given to someone else. The shard goes
//! on meanwhile.

use crate::{tee_times, Meta4, Reply4, V4Shard};
use corelease_hooks::{
    HookContext, HookPoint, HookPoints, HookVerdict, Hooks, LeaseTimers, NextStep, PacketView,
    ScriptTicket, SubnetView,
};
use corelease_storage::LeaseSink;
use corelease_types::Lease;
use corelease_wire::v4::{Dhcp4Packet, MessageType, OptionIndex};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Room for one datagram in a parking slot: the runtime's slot size.
const SLOT_BYTES: usize = 2048;

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

/// The run of a parked packet after its script ended.
#[derive(Clone, Copy, Debug)]
struct Replay {
    /// Points that fired before the packet parked: not called again.
    fired: HookPoints,
    parked_at: HookPoint,
    /// The script's verdict for `parked_at`.
    next: NextStep,
}

/// Where a post-commit packet stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PostStage {
    Committed,
    Send,
    BufferSend,
}

/// One parked packet.
struct ParkSlot {
    ticket: Option<ScriptTicket>,
    meta: Meta4,
    query: Box<[u8]>,
    query_len: usize,
    /// The finished reply (post-commit parking) and where it goes.
    reply: Box<[u8]>,
    post: Option<(Reply4, PostStage)>,
    fired: HookPoints,
    parked_at: HookPoint,
}

/// Counters of the hook wiring of one shard (the script's own are in `ScriptStats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParkStats {
    /// Packets parked (each park of the same packet counts).
    pub parked: u64,
    /// Parked packets resumed after their script ended.
    pub resumed: u64,
    /// A script asked its packet to wait but every slot was taken: the packet went on.
    pub table_full: u64,
    /// Reclamations that waited for their lease4_expire / lease4_recover script.
    pub reclaims_parked: u64,
}

/// The hooks of one shard and what parking needs.
pub(crate) struct HookState {
    pub(crate) hooks: Hooks,
    slots: Vec<ParkSlot>,
    replay: Option<Replay>,
    /// Points called for the packet being processed.
    fired: HookPoints,
    /// Set when a point of the packet being processed parked it.
    parked: Option<(ScriptTicket, HookPoint)>,
    /// The option index of a response (pkt4_send needs both packets' options).
    resp_opts: OptionIndex,
    /// The lease a REQUEST moved away from, or the one a RELEASE / DECLINE ended: Kea's
    /// `deleted_leases4` at leases4_committed.
    deleted: Option<Lease>,
    /// How long an address picked for a parked packet stays held (wait-timeout plus margin).
    pub(crate) park_hold_secs: u64,
    stats: ParkStats,
    /// Leases whose reclamation waits for their script (at most one per running script).
    reclaims: Vec<(ScriptTicket, u32)>,
    /// A parked reclamation runs: its hook already ran.
    resuming_reclaim: bool,
}

impl HookState {
    fn new(hooks: Hooks) -> Self {
        let capacity = hooks.max_parked();
        let park_hold_secs = hooks
            .script()
            .map(|s| s.config().wait_timeout.as_secs() + 2)
            .unwrap_or(2);
        let slots = (0..capacity)
            .map(|_| ParkSlot {
                ticket: None,
                meta: Meta4 {
                    src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
                    dst: Ipv4Addr::UNSPECIFIED,
                    ifindex: 0,
                    local: Ipv4Addr::UNSPECIFIED,
                },
                query: vec![0u8; SLOT_BYTES].into_boxed_slice(),
                query_len: 0,
                reply: vec![0u8; SLOT_BYTES].into_boxed_slice(),
                post: None,
                fired: HookPoints::NONE,
                parked_at: HookPoint::Pkt4Receive,
            })
            .collect();
        HookState {
            hooks,
            slots,
            replay: None,
            fired: HookPoints::NONE,
            parked: None,
            resp_opts: OptionIndex::new(),
            deleted: None,
            park_hold_secs,
            stats: ParkStats::default(),
            reclaims: Vec::with_capacity(capacity),
            resuming_reclaim: false,
        }
    }

    fn begin(&mut self, replay: Option<Replay>) {
        self.replay = replay;
        self.fired = replay.map(|r| r.fired).unwrap_or(HookPoints::NONE);
        self.parked = None;
        self.deleted = None;
    }
}

/// What [`V4Shard::resume_parked`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resumed {
    /// A reply for the packet, written into the caller's buffer.
    Reply(Reply4),
    /// Nothing to send (the packet was dropped, skipped or parked again, or a lease was
    /// reclaimed).
    NoReply,
}

/// The arguments of one hook point besides the query.
#[derive(Clone, Copy, Default)]
pub(crate) struct PointArgs<'a> {
    pub(crate) subnet: Option<usize>,
    pub(crate) lease: Option<&'a Lease>,
    pub(crate) valid: u32,
    pub(crate) fake_allocation: bool,
}

impl<S: LeaseSink> V4Shard<S> {
    /// Installs this shard's hooks (None: no hooks, no per-packet cost). Parked packets of
    /// hooks installed before are dropped with them.
    pub fn set_hooks(&mut self, hooks: Option<Hooks>) {
        self.hooked = hooks.map(|h| Box::new(HookState::new(h)));
    }

    pub fn hooks(&self) -> Option<&Hooks> {
        self.hooked.as_deref().map(|h| &h.hooks)
    }

    pub fn hooks_mut(&mut self) -> Option<&mut Hooks> {
        self.hooked.as_deref_mut().map(|h| &mut h.hooks)
    }

    /// Counters of parking (zero without hooks).
    pub fn park_stats(&self) -> ParkStats {
        self.hooked.as_deref().map(|h| h.stats).unwrap_or_default()
    }

    /// Packets parked now.
    pub fn parked(&self) -> usize {
        self.hooked
            .as_deref()
            .map(|h| h.slots.iter().filter(|s| s.ticket.is_some()).count())
            .unwrap_or(0)
    }

    /// True when scripts run on this shard: the runtime should call
    /// [`V4Shard::resume_parked`] (their reports must be collected even for detached ones).
    pub fn hooks_pending(&self) -> bool {
        self.hooked
            .as_deref()
            .is_some_and(|h| h.hooks.running() > 0)
    }

    /// True if something listens at `point` (cheap: no context is built otherwise).
    #[inline]
    pub(crate) fn hook_wanted(&self, point: HookPoint) -> bool {
        self.hooked.as_deref().is_some_and(|h| h.hooks.wants(point))
    }

    /// Runs the hooks of `point` for the query being processed.
    pub(crate) fn hook(
        &mut self,
        point: HookPoint,
        meta: &Meta4,
        pkt: &Dhcp4Packet<&[u8]>,
        now: u64,
        args: PointArgs<'_>,
    ) -> Step {
        let Some(hs) = self.hooked.as_deref_mut() else {
            return Step::Continue;
        };
        if !hs.hooks.wants(point) {
            return Step::Continue;
        }
        if let Some(r) = hs.replay.filter(|r| r.fired.contains(point)) {
            return if r.parked_at == point {
                Step::of(r.next)
            } else {
                Step::Continue
            };
        }
        let p = &*self.prepared;
        let iface = p
            .interface(meta.ifindex)
            .map(|i| i.name.as_str())
            .unwrap_or("");
        let iface_addr = p
            .interface(meta.ifindex)
            .and_then(|i| i.addrs.first().copied());
        let local = local_of(meta, iface_addr, p.server_port);
        let query = PacketView::from_wire(pkt, &self.opts, iface, meta.ifindex, local, meta.src);
        let srt = args.subnet.and_then(|s| p.subnets.get(s));
        let timers = srt
            .map(|s| {
                let (t1, t2) = tee_times(s, args.valid);
                LeaseTimers {
                    t1: t1.unwrap_or(0),
                    t2: t2.unwrap_or(0),
                }
            })
            .unwrap_or_default();
        let ctx = HookContext {
            query: Some(query),
            subnet: srt.map(|s| SubnetView {
                id: s.id,
                prefix: Ipv4Addr::from(s.net),
                prefix_len: s.prefix_len,
            }),
            lease: args.lease,
            timers,
            fake_allocation: args.fake_allocation,
            ..HookContext::new(now)
        };
        hs.fired = hs.fired.with(point);
        match hs.hooks.call(point, &ctx) {
            HookVerdict::Continue => Step::Continue,
            HookVerdict::Skip => Step::Skip,
            HookVerdict::Drop => Step::Drop,
            HookVerdict::Park(ticket) => {
                // Reclamation has no packet to park: its scripts run as if detached.
                if matches!(point, HookPoint::Lease4Expire | HookPoint::Lease4Recover) {
                    return Step::Continue;
                }
                hs.parked = Some((ticket, point));
                Step::Park
            }
        }
    }

    /// Runs lease4_expire / lease4_recover for a lease being reclaimed: true when the
    /// reclamation goes on now. False when a callout asked to leave the lease as it is, or when
    /// its script must end first (the lease is reclaimed when [`V4Shard::resume_parked`] sees
    /// the script end).
    pub(crate) fn hook_reclaim(&mut self, point: HookPoint, lease: &Lease, now: u64) -> bool {
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
            HookVerdict::Park(ticket) => match lease.addr {
                std::net::IpAddr::V4(a) => {
                    hs.reclaims.push((ticket, u32::from(a)));
                    hs.stats.reclaims_parked += 1;
                    false
                }
                std::net::IpAddr::V6(_) => true,
            },
        }
    }

    /// A reclamation whose script ended: the lease is reclaimed now if it is still due (the
    /// client may have renewed meanwhile).
    fn resume_reclaim(&mut self, addr: u32, now: u64) {
        let due = self.table.get(addr).is_some_and(|e| {
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
        if let Some(hs) = self.hooked.as_deref_mut() {
            hs.resuming_reclaim = true;
        }
        self.reclaim(addr, now);
        if let Some(hs) = self.hooked.as_deref_mut() {
            hs.resuming_reclaim = false;
        }
    }

    /// Notes the lease a REQUEST moved away from or a RELEASE / DECLINE ended, for
    /// leases4_committed (only when something listens there).
    pub(crate) fn note_deleted(&mut self, lease: &Lease) {
        if let Some(hs) = self
            .hooked
            .as_deref_mut()
            .filter(|h| h.hooks.wants(HookPoint::Leases4Committed))
        {
            hs.deleted = Some(lease.clone());
        }
    }

    /// [`V4Shard::handle`] with hooks installed.
    pub(crate) fn handle_hooked(
        &mut self,
        meta: &Meta4,
        data: &[u8],
        now: u64,
        out: &mut [u8],
    ) -> Option<Reply4> {
        if let Some(hs) = self.hooked.as_deref_mut() {
            hs.begin(None);
        }
        let reply = self.process(meta, data, now, out);
        self.after_process(meta, data, now, out, reply)
    }

    /// After the packet's processing: park it if a point asked to, else run the post-commit
    /// points.
    fn after_process(
        &mut self,
        meta: &Meta4,
        data: &[u8],
        now: u64,
        out: &mut [u8],
        reply: Option<Reply4>,
    ) -> Option<Reply4> {
        let hs = self.hooked.as_deref_mut()?;
        if let Some((ticket, point)) = hs.parked.take() {
            park_query(hs, ticket, point, meta, data);
            return None;
        }
        let kind = self.opts.message_type();
        let committed_kind = matches!(
            kind,
            Some(MessageType::Request | MessageType::Release | MessageType::Decline)
        );
        if reply.is_none() && !committed_kind {
            return None;
        }
        let Ok(pkt) = Dhcp4Packet::new_checked(data) else {
            return reply;
        };
        let stage = if committed_kind {
            PostStage::Committed
        } else {
            PostStage::Send
        };
        self.post_commit(meta, &pkt, now, out, reply, stage)
    }

    /// leases4_committed, pkt4_send, buffer4_send from `stage` on. The query's options must be
    /// in `self.opts`.
    fn post_commit(
        &mut self,
        meta: &Meta4,
        pkt: &Dhcp4Packet<&[u8]>,
        now: u64,
        out: &mut [u8],
        reply: Option<Reply4>,
        mut stage: PostStage,
    ) -> Option<Reply4> {
        loop {
            let point = match stage {
                PostStage::Committed => HookPoint::Leases4Committed,
                PostStage::Send => HookPoint::Pkt4Send,
                PostStage::BufferSend => HookPoint::Buffer4Send,
            };
            let step = self.post_point(point, meta, pkt, now, out, reply);
            match step {
                Step::Continue => {}
                Step::Skip if point == HookPoint::Leases4Committed => {}
                Step::Skip | Step::Drop => {
                    tracing::debug!(target: "DHCP4_HOOK_PACKET_SEND_SKIP", point = point.name(), xid = pkt.xid(), "prepared response is not sent, because a callout asked so");
                    return None;
                }
                Step::Park => {
                    let hs = self.hooked.as_deref_mut()?;
                    let (ticket, _) = hs.parked.take()?;
                    park_reply(hs, ticket, point, meta, pkt, out, reply, stage);
                    return None;
                }
            }
            // leases4_committed fires also when nothing is sent (RELEASE, DECLINE).
            reply?;
            stage = match stage {
                PostStage::Committed => PostStage::Send,
                PostStage::Send => PostStage::BufferSend,
                PostStage::BufferSend => return reply,
            };
        }
    }

    /// Runs one post-commit point: the query, the response (pkt4_send, buffer4_send) and the
    /// leases (leases4_committed).
    fn post_point(
        &mut self,
        point: HookPoint,
        meta: &Meta4,
        pkt: &Dhcp4Packet<&[u8]>,
        now: u64,
        out: &[u8],
        reply: Option<Reply4>,
    ) -> Step {
        let Some(hs) = self.hooked.as_deref_mut() else {
            return Step::Continue;
        };
        if !hs.hooks.wants(point) {
            return Step::Continue;
        }
        if let Some(r) = hs.replay.filter(|r| r.fired.contains(point)) {
            return if r.parked_at == point {
                Step::of(r.next)
            } else {
                Step::Continue
            };
        }
        let p = &*self.prepared;
        let iface = p
            .interface(meta.ifindex)
            .map(|i| i.name.as_str())
            .unwrap_or("");
        let iface_addr = p
            .interface(meta.ifindex)
            .and_then(|i| i.addrs.first().copied());
        let local = local_of(meta, iface_addr, p.server_port);
        let query = PacketView::from_wire(pkt, &self.opts, iface, meta.ifindex, local, meta.src);
        let response_bytes = reply.and_then(|r| out.get(..r.len));
        let response = match (response_bytes, reply) {
            (Some(bytes), Some(r)) => match Dhcp4Packet::new_checked(bytes) {
                Ok(rp) if hs.resp_opts.parse(&rp).is_ok() => {
                    let from = SocketAddrV4::new(r.src_ip.unwrap_or(*local.ip()), local.port());
                    Some(PacketView::from_wire(
                        &rp,
                        &hs.resp_opts,
                        iface,
                        r.ifindex.unwrap_or(meta.ifindex),
                        from,
                        r.dst,
                    ))
                }
                _ => None,
            },
            _ => None,
        };
        // leases4_committed: the lease the exchange granted (REQUEST) or declined.
        let granted = match (point, self.opts.message_type()) {
            (HookPoint::Leases4Committed, Some(MessageType::Request)) => reply
                .filter(|r| r.message_type == MessageType::Ack)
                .and_then(|_| response.as_ref().map(|r| r.yiaddr))
                .and_then(|a| self.table.get(u32::from(a)))
                .map(|e| &e.lease),
            (HookPoint::Leases4Committed, Some(MessageType::Decline)) => self
                .opts
                .requested_address()
                .and_then(|a| self.table.get(u32::from(a)))
                .filter(|e| e.lease.state == corelease_types::LeaseState::Declined)
                .map(|e| &e.lease),
            _ => None,
        };
        let ctx = HookContext {
            query: Some(query),
            response,
            leases: granted.map(std::slice::from_ref).unwrap_or(&[]),
            deleted_leases: hs.deleted.as_slice(),
            ..HookContext::new(now)
        };
        hs.fired = hs.fired.with(point);
        match hs.hooks.call(point, &ctx) {
            HookVerdict::Continue => Step::Continue,
            HookVerdict::Skip => Step::Skip,
            HookVerdict::Drop => Step::Drop,
            HookVerdict::Park(ticket) => {
                hs.parked = Some((ticket, point));
                Step::Park
            }
        }
    }

    /// Collects the reports of scripts that ended and resumes the packet parked on the next
    /// awaited one, writing its reply (if any) into `out`. Returns `None` when no report is
    /// waiting. Call it while [`V4Shard::hooks_pending`] (from the runtime's wake-up, which the
    /// spawner triggers as a script ends). Commit the lease log before sending what it wrote.
    pub fn resume_parked(&mut self, now: u64, out: &mut [u8]) -> Option<Resumed> {
        let (done, slot) = loop {
            let hs = self.hooked.as_deref_mut()?;
            let done = hs.hooks.poll().next()?;
            if let Some(i) = hs.slots.iter().position(|s| s.ticket == Some(done.ticket)) {
                break (done, i);
            }
            if let Some(i) = hs.reclaims.iter().position(|(t, _)| *t == done.ticket) {
                let (_, addr) = hs.reclaims.swap_remove(i);
                self.resume_reclaim(addr, now);
                return Some(Resumed::NoReply);
            }
            // A detached script, or a packet dropped with old hooks.
        };
        let hs = self.hooked.as_deref_mut()?;
        hs.stats.resumed += 1;
        let s = hs.slots.get_mut(slot)?;
        s.ticket = None;
        let meta = s.meta;
        let replay = Replay {
            fired: s.fired,
            parked_at: s.parked_at,
            next: done.next,
        };
        // The slot's buffers are taken out while the packet runs again (it may park again, in
        // another slot or this one) and put back after: no copy, no allocation.
        let mut query = std::mem::take(&mut s.query);
        let query_len = s.query_len;
        let post = s.post.take();
        let mut reply_buf = std::mem::take(&mut s.reply);
        hs.begin(Some(replay));
        let data = query.get(..query_len).unwrap_or(&[]);
        let result = match post {
            None => {
                let reply = self.process(&meta, data, now, out);
                self.after_process(&meta, data, now, out, reply)
            }
            Some((reply, stage)) => {
                self.resume_post(&meta, data, now, out, &mut reply_buf, reply, stage)
            }
        };
        // Put the buffers back in the first slot that lacks them (the packet may have parked
        // again in this very slot, which then took fresh ones from nowhere: see park_*).
        if let Some(hs) = self.hooked.as_deref_mut() {
            if let Some(s) = hs.slots.iter_mut().find(|s| s.query.is_empty()) {
                s.query = std::mem::take(&mut query);
            }
            if let Some(s) = hs.slots.iter_mut().find(|s| s.reply.is_empty()) {
                s.reply = std::mem::take(&mut reply_buf);
            }
            hs.replay = None;
        }
        if let Some(r) = &result {
            self.count_sent(r);
        }
        Some(match result {
            Some(r) => Resumed::Reply(r),
            None => Resumed::NoReply,
        })
    }

    /// A post-commit packet whose script ended: copy its reply back and run the rest.
    #[allow(clippy::too_many_arguments)]
    fn resume_post(
        &mut self,
        meta: &Meta4,
        data: &[u8],
        now: u64,
        out: &mut [u8],
        saved: &mut [u8],
        reply: Reply4,
        stage: PostStage,
    ) -> Option<Reply4> {
        let pkt = Dhcp4Packet::new_checked(data).ok()?;
        // The query's options again in self.opts (other packets used the index meanwhile).
        let _ = self.opts.parse(&pkt);
        let dst = out.get_mut(..reply.len)?;
        dst.copy_from_slice(saved.get(..reply.len)?);
        self.post_commit(meta, &pkt, now, out, Some(reply), stage)
    }
}

/// Our address and port for an exchange (Kea's `getLocalAddr` / `getLocalPort`).
fn local_of(meta: &Meta4, iface_addr: Option<Ipv4Addr>, port: u16) -> SocketAddrV4 {
    let ip = if !meta.dst.is_broadcast() && !meta.dst.is_unspecified() {
        meta.dst
    } else {
        iface_addr.unwrap_or(meta.local)
    };
    SocketAddrV4::new(ip, port)
}

/// A slot with both buffers (one whose buffers are lent to a resumed packet has none).
fn usable_slot(hs: &mut HookState) -> Option<&mut ParkSlot> {
    hs.slots
        .iter_mut()
        .find(|s| s.ticket.is_none() && s.query.len() >= SLOT_BYTES && s.reply.len() >= SLOT_BYTES)
}

fn park_query(
    hs: &mut HookState,
    ticket: ScriptTicket,
    point: HookPoint,
    meta: &Meta4,
    data: &[u8],
) {
    let fired = hs.fired;
    let Some(slot) = usable_slot(hs) else {
        hs.stats.table_full += 1;
        tracing::warn!(target: "DHCP4_HOOK_LEASES4_COMMITTED_PARKING_LOT_FULL", point = point.name(), "parking lot full: packet dropped");
        return;
    };
    let Some(dst) = slot.query.get_mut(..data.len()) else {
        return;
    };
    dst.copy_from_slice(data);
    slot.query_len = data.len();
    slot.ticket = Some(ticket);
    slot.meta = *meta;
    slot.post = None;
    slot.fired = fired;
    slot.parked_at = point;
    hs.stats.parked += 1;
}

#[allow(clippy::too_many_arguments)]
fn park_reply(
    hs: &mut HookState,
    ticket: ScriptTicket,
    point: HookPoint,
    meta: &Meta4,
    pkt: &Dhcp4Packet<&[u8]>,
    out: &[u8],
    reply: Option<Reply4>,
    stage: PostStage,
) {
    let fired = hs.fired;
    let Some(slot) = usable_slot(hs) else {
        hs.stats.table_full += 1;
        tracing::warn!(target: "DHCP4_HOOK_LEASES4_COMMITTED_PARKING_LOT_FULL", point = point.name(), "parking lot full: response dropped");
        return;
    };
    let data: &[u8] = (*pkt).into_inner();
    let (Some(q), Some(reply)) = (slot.query.get_mut(..data.len()), reply) else {
        return;
    };
    q.copy_from_slice(data);
    let (Some(r), Some(src)) = (slot.reply.get_mut(..reply.len), out.get(..reply.len)) else {
        return;
    };
    r.copy_from_slice(src);
    slot.query_len = data.len();
    slot.ticket = Some(ticket);
    slot.meta = *meta;
    slot.post = Some((reply, stage));
    slot.fired = fired;
    slot.parked_at = point;
    hs.stats.parked += 1;
}

impl HookState {
    pub(crate) fn replaying(&self) -> bool {
        self.replay.is_some()
    }
}

impl<S: LeaseSink> V4Shard<S> {
    /// Subnet selection followed by subnet4_select. `Err` when the packet stops here (dropped
    /// and counted, or parked); `Ok(None)` when no subnet is selected (also by a skip).
    pub(crate) fn subnet_for(
        &mut self,
        meta: &Meta4,
        pkt: &Dhcp4Packet<&[u8]>,
        now: u64,
    ) -> Result<Option<usize>, ()> {
        let selected = self.select_subnet(meta, pkt);
        if !self.hook_wanted(HookPoint::Subnet4Select) {
            return Ok(selected);
        }
        let args = PointArgs {
            subnet: selected,
            ..PointArgs::default()
        };
        match self.hook(HookPoint::Subnet4Select, meta, pkt, now, args) {
            Step::Continue => Ok(selected),
            Step::Skip => {
                tracing::debug!(target: "DHCP4_HOOK_SUBNET4_SELECT_SKIP", xid = pkt.xid(), "no subnet was selected, because a callout set the next step to SKIP");
                Ok(None)
            }
            Step::Drop => {
                tracing::debug!(target: "DHCP4_HOOK_SUBNET4_SELECT_DROP", xid = pkt.xid(), "packet was dropped, because a callout set the next step to DROP");
                self.stats.global.pkt4_receive_drop.inc();
                Err(())
            }
            Step::Park => Err(()),
        }
    }

    /// True when a point parked the packet being processed.
    pub(crate) fn parking(&self) -> bool {
        self.hooked.as_deref().is_some_and(|h| h.parked.is_some())
    }

    pub(crate) fn park_hold_secs(&self) -> u64 {
        self.hooked
            .as_deref()
            .map(|h| h.park_hold_secs)
            .unwrap_or(0)
    }

    /// Gives back an address picked for a client that will not get it (a hook refused the
    /// lease): its offer entry if it has one, else the bit claimed for it.
    pub(crate) fn unclaim(&mut self, pool: u32, addr: u32) {
        if let Some(e) = self.table.get(addr).filter(|e| e.is_offer()) {
            let e = e.clone();
            self.table.remove(addr);
            self.give_back(&e, addr);
            return;
        }
        // A reserved address's bit stays with its reservation (ARM 9.3.2).
        if self.table.get(addr).is_some() || !self.holds_bit_for(addr) {
            return;
        }
        let p = pool as usize;
        if let Some(pool_rt) = self.prepared.pools.get(p) {
            if let Some(off) = pool_rt.range.offset_of(addr) {
                pool_rt.bitmap.release(off);
                if let Some(q) = self.queues.get_mut(p) {
                    q.push(off);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "hook_tests.rs"]
mod tests;
