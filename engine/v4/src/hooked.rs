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
//! A run-script hook with `wait` / `sync` parks the packet while the shard serves every other
//! packet; the parking, the replay of a parked packet and the points of a finished reply are
//! shared with DHCPv6 ([`corelease_hooks::park`]). What is DHCPv4's: an address picked at
//! lease4_select for a packet that parks stays held for the client (as an offer that does not
//! lapse while parked), so the resumed run offers exactly the address the script saw; a
//! RELEASE or DECLINE reaches leases4_committed without a reply.

use crate::{tee_times, Meta4, Reply4, V4Shard};
use corelease_hooks::park::{self, Family, Parking, ParkingEngine, PostStage, Step, PACKET};
use corelease_hooks::{
    HookContext, HookPoint, Hooks, LeaseTimers, PacketView, ParkStats, Resumed, SubnetView,
};
use corelease_storage::LeaseSink;
use corelease_types::Lease;
use corelease_wire::v4::{Dhcp4Packet, MessageType, OptionIndex};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

/// The hooks of one shard: the shared parking, keyed by address in the lease table.
pub(crate) struct HookState {
    park: Parking<Meta4, Reply4, u32>,
    /// The option index of a response (pkt4_send needs both packets' options).
    resp_opts: OptionIndex,
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
        let blank = Meta4 {
            src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
            dst: Ipv4Addr::UNSPECIFIED,
            ifindex: 0,
            local: Ipv4Addr::UNSPECIFIED,
        };
        self.hooked = hooks.map(|h| {
            Box::new(HookState {
                park: Parking::new(h, Family::V4, blank),
                resp_opts: OptionIndex::new(),
            })
        });
    }

    pub fn hooks(&self) -> Option<&Hooks> {
        self.hooked.as_deref().map(|h| &h.park.hooks)
    }

    /// Whether packets processed from now on may park on a hook script (not a 4o6 query).
    pub(crate) fn set_parkable(&mut self, parkable: bool) {
        if let Some(h) = self.hooked.as_deref_mut() {
            h.park.set_parkable(parkable);
        }
    }

    pub fn hooks_mut(&mut self) -> Option<&mut Hooks> {
        self.hooked.as_deref_mut().map(|h| &mut h.park.hooks)
    }

    /// Counters of parking (zero without hooks).
    pub fn park_stats(&self) -> ParkStats {
        self.hooked
            .as_deref()
            .map(|h| h.park.stats())
            .unwrap_or_default()
    }

    /// Packets parked now.
    pub fn parked(&self) -> usize {
        self.hooked.as_deref().map(|h| h.park.parked()).unwrap_or(0)
    }

    /// True when scripts run on this shard: the runtime should call
    /// [`V4Shard::resume_parked`] (their reports must be collected even for detached ones).
    pub fn hooks_pending(&self) -> bool {
        self.hooked
            .as_deref()
            .is_some_and(|h| h.park.hooks.running() > 0)
    }

    /// True if something listens at `point` (cheap: no context is built otherwise).
    #[inline]
    pub(crate) fn hook_wanted(&self, point: HookPoint) -> bool {
        self.hooked
            .as_deref()
            .is_some_and(|h| h.park.hooks.wants(point))
    }

    /// True while a parked packet runs again: it was counted when it arrived.
    pub(crate) fn replaying(&self) -> bool {
        self.hooked.as_deref().is_some_and(|h| h.park.replaying())
    }

    /// True when a point parked the packet being processed.
    pub(crate) fn parking(&self) -> bool {
        self.hooked.as_deref().is_some_and(|h| h.park.parking())
    }

    pub(crate) fn park_hold_secs(&self) -> u64 {
        self.hooked
            .as_deref()
            .map(|h| h.park.park_hold_secs())
            .unwrap_or(0)
    }

    /// Runs the hooks of `point` for the query being processed. A point already called for
    /// this message (a parked packet running again) answers its logged verdict.
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
        if !hs.park.hooks.wants(point) {
            return Step::Continue;
        }
        if let Some(next) = hs.park.logged(point, PACKET) {
            return Step::of(next);
        }
        let p = &*self.prepared;
        let query = query_view(p, meta, pkt, &self.opts, self.dhcp4o6_remote);
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
        let verdict = hs.park.hooks.call(point, &ctx);
        hs.park.record(point, PACKET, verdict)
    }

    /// Runs a point whose only argument is a lease (lease4_expire for the expired lease a
    /// REQUEST renews) for the query being processed, logged with the packet like [`hook`]
    /// so that a parked packet running again does not call it twice.
    ///
    /// [`hook`]: V4Shard::hook
    pub(crate) fn hook_lease(&mut self, point: HookPoint, lease: &Lease, now: u64) -> Step {
        let Some(hs) = self.hooked.as_deref_mut() else {
            return Step::Continue;
        };
        if !hs.park.hooks.wants(point) {
            return Step::Continue;
        }
        if let Some(next) = hs.park.logged(point, PACKET) {
            return Step::of(next);
        }
        let ctx = HookContext {
            lease: Some(lease),
            // Kea's renewLease4 reclaims without touching the lease database
            // (DB_RECLAIM_LEAVE_UNCHANGED): `remove_lease` is false, as kea-dhcp4 2.2 shows.
            remove_lease: false,
            ..HookContext::new(now)
        };
        let verdict = hs.park.hooks.call(point, &ctx);
        hs.park.record(point, PACKET, verdict)
    }

    /// Runs lease4_expire / lease4_recover for a lease being reclaimed: true when the
    /// reclamation goes on now. False when a callout asked to leave the lease as it is, or when
    /// its script must end first (the lease is reclaimed when [`V4Shard::resume_parked`] sees
    /// the script end).
    pub(crate) fn hook_reclaim(&mut self, point: HookPoint, lease: &Lease, now: u64) -> bool {
        let (Some(hs), IpAddr::V4(addr)) = (self.hooked.as_deref_mut(), lease.addr) else {
            return true;
        };
        let ctx = HookContext {
            lease: Some(lease),
            // The engine keeps reclaimed leases (for lease affinity) until flushed.
            remove_lease: false,
            ..HookContext::new(now)
        };
        hs.park.call_reclaim(point, u32::from(addr), &ctx)
    }

    /// Notes the lease a REQUEST moved away from or a RELEASE / DECLINE ended, for
    /// leases4_committed (only when something listens there).
    pub(crate) fn note_deleted(&mut self, lease: &Lease) {
        if let Some(hs) = self
            .hooked
            .as_deref_mut()
            .filter(|h| h.park.hooks.wants(HookPoint::Leases4Committed))
        {
            hs.park.deleted.clear();
            hs.park.deleted.push(lease.clone());
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
        park::handle_hooked(self, meta, data, now, out)
    }

    /// Collects the reports of scripts that ended and resumes the packet (or the reclamation)
    /// parked on the next awaited one, writing its reply (if any) into `out`. Returns `None`
    /// when no report is waiting. Call it while [`V4Shard::hooks_pending`] (from the runtime's
    /// wake-up, which the spawner triggers as a script ends). Commit the lease log before
    /// sending what it wrote.
    pub fn resume_parked(&mut self, now: u64, out: &mut [u8]) -> Option<Resumed<Reply4>> {
        park::resume_parked(self, now, out)
    }
}

impl<S: LeaseSink> ParkingEngine for V4Shard<S> {
    type Meta = Meta4;
    type Reply = Reply4;
    type LeaseKey = u32;
    const FAMILY: Family = Family::V4;

    fn parking(&mut self) -> Option<&mut Parking<Meta4, Reply4, u32>> {
        self.hooked.as_deref_mut().map(|h| &mut h.park)
    }

    fn process(&mut self, meta: &Meta4, data: &[u8], now: u64, out: &mut [u8]) -> Option<Reply4> {
        V4Shard::process(self, meta, data, now, out)
    }

    fn first_post_stage(&mut self, data: &[u8], reply: Option<&Reply4>) -> Option<PostStage> {
        // Kea's leases4_committed follows REQUEST, RELEASE and DECLINE (the last two send
        // nothing); other replies go straight to pkt4_send.
        let committed_kind = matches!(
            self.opts.message_type(),
            Some(MessageType::Request | MessageType::Release | MessageType::Decline)
        );
        if reply.is_none() && !committed_kind {
            return None;
        }
        Dhcp4Packet::new_checked(data).ok()?;
        Some(if committed_kind {
            PostStage::Committed
        } else {
            PostStage::Send
        })
    }

    /// The query, the response (pkt4_send, buffer4_send) and the leases (leases4_committed).
    /// The query's options are in `self.opts`.
    fn post_point(
        &mut self,
        point: HookPoint,
        meta: &Meta4,
        data: &[u8],
        now: u64,
        out: &[u8],
        reply: Option<Reply4>,
    ) -> Step {
        let Some(hs) = self.hooked.as_deref_mut() else {
            return Step::Continue;
        };
        if !hs.park.hooks.wants(point) {
            return Step::Continue;
        }
        let Ok(pkt) = Dhcp4Packet::new_checked(data) else {
            return Step::Continue;
        };
        let p = &*self.prepared;
        let query = query_view(p, meta, &pkt, &self.opts, self.dhcp4o6_remote);
        let response_bytes = reply.and_then(|r| out.get(..r.len));
        let response = match (response_bytes, reply) {
            (Some(bytes), Some(r)) => match Dhcp4Packet::new_checked(bytes) {
                Ok(rp) if hs.resp_opts.parse(&rp).is_ok() => {
                    let from = SocketAddrV4::new(
                        r.src_ip.unwrap_or(*query.local.ip()),
                        query.local.port(),
                    );
                    Some(PacketView::from_wire(
                        &rp,
                        &hs.resp_opts,
                        query.interface,
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
            deleted_leases: &hs.park.deleted,
            ..HookContext::new(now)
        };
        let verdict = hs.park.hooks.call(point, &ctx);
        hs.park.record_post(point, verdict)
    }

    fn send_skipped(&self, point: HookPoint, data: &[u8]) {
        let xid = Dhcp4Packet::new_checked(data).map(|p| p.xid()).unwrap_or(0);
        tracing::debug!(target: "DHCP4_HOOK_PACKET_SEND_SKIP", point = point.name(), xid, "prepared response is not sent, because a callout asked so");
    }

    fn reply_len(reply: &Reply4) -> usize {
        reply.len
    }

    fn restore_query(&mut self, data: &[u8]) -> bool {
        let Ok(pkt) = Dhcp4Packet::new_checked(data) else {
            return false;
        };
        // Other packets used the option index meanwhile.
        let _ = self.opts.parse(&pkt);
        true
    }

    /// The lease is reclaimed now if it is still due (the client may have renewed meanwhile).
    fn reclaim_if_due(&mut self, addr: u32, now: u64) {
        let due = self.table.get(addr).is_some_and(|e| {
            e.offer_until == 0
                && e.lease.expire() <= now
                && matches!(
                    e.lease.state,
                    corelease_types::LeaseState::Default | corelease_types::LeaseState::Declined
                )
        });
        if due {
            self.reclaim(addr, now);
        }
    }

    fn count_sent(&mut self, reply: &Reply4) {
        V4Shard::count_sent(self, reply);
    }
}

/// The query as hooks see it, with our address and port for the exchange (Kea's
/// `getLocalAddr` / `getLocalPort`). A DHCPv4-over-DHCPv6 query (`dhcp4o6_remote`, its IPv6
/// source) shows what kea-dhcp4 2.2's `Pkt4o6` shows with libdhcp_run_script.so
/// (fuzz/kea-compare/hooks4o6.py): the IPv6 source with the client port as remote, 0.0.0.0
/// with the server port as local.
fn query_view<'a>(
    p: &'a crate::Prepared4,
    meta: &Meta4,
    pkt: &Dhcp4Packet<&'a [u8]>,
    opts: &'a OptionIndex,
    dhcp4o6_remote: Option<Ipv6Addr>,
) -> PacketView<'a> {
    let iface = p.interface(meta.ifindex);
    let ip = if !meta.dst.is_broadcast() && !meta.dst.is_unspecified() {
        meta.dst
    } else {
        iface
            .and_then(|i| i.addrs.first().copied())
            .unwrap_or(meta.local)
    };
    let local = SocketAddrV4::new(ip, p.server_port);
    let name = iface.map(|i| i.name.as_str()).unwrap_or("");
    let mut view = PacketView::from_wire(pkt, opts, name, meta.ifindex, local, meta.src);
    if let Some(remote) = dhcp4o6_remote {
        view.remote = SocketAddr::new(IpAddr::V6(remote), meta.src.port());
        view.local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, p.server_port);
    }
    view
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
pub(crate) mod tests;
