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
//! A run-script hook with `wait` / `sync` parks the packet while the shard serves every other
//! packet; the parking, the replay and the points of a finished reply are shared with DHCPv4
//! ([`corelease_hooks::park`]). What is DHCPv6's: a message calls the per-IA points once per
//! IA (or address), so its call log is keyed by (point, IA or address), and processing again
//! is idempotent for what the first run already did: a lease committed for an earlier IA is
//! found and sent again; an address picked for the parked IA stays held for the client (as an
//! advertisement that does not lapse while parked). Release and Decline call their hooks for
//! every lease of the message before changing any, so they park before the first change.

use crate::{Core, Meta6, Prepared6, Reply6, V6Shard, ADVERTISE_HOLD_SECS};
use corelease_hooks::park::{self, CallKey, Family, Parking, ParkingEngine, PostStage, Step};
use corelease_hooks::{
    HookContext, HookPoint, Hooks, IaView, LeaseTimers, Packet6View, ParkStats, Resumed,
    Subnet6View,
};
use corelease_storage::LeaseSink;
use corelease_types::Lease;
use corelease_wire::v6::{Dhcp6Packet, MessageType, SERVER_PORT};
use std::net::{Ipv6Addr, SocketAddrV6};

pub(crate) use corelease_hooks::park::PACKET;

/// The key of an IA's call.
pub(crate) fn ia_key(iaid: u32, pd: bool) -> CallKey {
    (u128::from(iaid), pd)
}

/// The hooks of one shard: the shared parking, keyed by address or prefix in the lease table.
pub(crate) type HookState6 = Parking<Meta6, Reply6, (u128, bool)>;

/// Counters of the hook wiring of one shard.
pub type ParkStats6 = ParkStats;

/// What [`V6Shard::resume_parked`] produced.
pub type Resumed6 = Resumed<Reply6>;

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
        self.hooked.as_deref().is_some_and(|h| h.halt().is_some())
    }

    /// True while a parked packet runs again: it was counted when it arrived.
    pub(crate) fn replaying(&self) -> bool {
        self.hooked.as_deref().is_some_and(|h| h.replaying())
    }

    /// How long an address picked for a packet that parked stays held for its client.
    pub(crate) fn park_hold_secs(&self) -> u64 {
        self.hooked
            .as_deref()
            .map(|h| ADVERTISE_HOLD_SECS + h.park_hold_secs())
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
        if hs.halt().is_some() {
            return Step::Drop;
        }
        let step = match hs.logged(point, key) {
            Some(next) => Step::of(next),
            None => {
                let ctx = HookContext {
                    query6: query_view(p, hs.meta(), query),
                    subnet6: subnet_view(p, args.subnet),
                    lease: args.lease,
                    timers: LeaseTimers {
                        t1: args.timers.0,
                        t2: args.timers.1,
                    },
                    fake_allocation: args.fake_allocation,
                    ia: args.ia,
                    ..HookContext::new(args.now)
                };
                let verdict = hs.hooks.call(point, &ctx);
                hs.record(point, key, verdict)
            }
        };
        // A drop anywhere ends the DHCPv6 message: nothing is answered.
        if step == Step::Drop {
            hs.set_drop();
        }
        step
    }

    /// Runs lease6_expire for the expired lease a Renew or Rebind renews (call `key`, the
    /// IA's), logged with the message like [`Core::hook6`] so that a parked message running
    /// again does not call it twice. Kea's extendLease6 reclaims it without touching the lease
    /// database (DB_RECLAIM_LEAVE_UNCHANGED): `remove_lease` is false, and the callouts see
    /// only the old lease, as kea-dhcp6 2.2 with libdhcp_run_script.so shows.
    pub(crate) fn hook6_expire_renewed(&mut self, key: CallKey, lease: &Lease, now: u64) -> Step {
        let Some(hs) = self.hooked.as_deref_mut() else {
            return Step::Continue;
        };
        let point = HookPoint::Lease6Expire;
        if !hs.hooks.wants(point) {
            return Step::Continue;
        }
        if hs.halt().is_some() {
            return Step::Drop;
        }
        let step = match hs.logged(point, key) {
            Some(next) => Step::of(next),
            None => {
                let ctx = HookContext {
                    lease: Some(lease),
                    remove_lease: false,
                    ..HookContext::new(now)
                };
                let verdict = hs.hooks.call(point, &ctx);
                hs.record(point, key, verdict)
            }
        };
        // Skip or drop leaves the lease unreclaimed (ALLOC_ENGINE_V6_LEASE_RECLAMATION_SKIP);
        // the message goes on.
        step
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
        let ctx = HookContext {
            lease: Some(lease),
            // The engine keeps reclaimed leases (for lease affinity) until flushed.
            remove_lease: false,
            ..HookContext::new(now)
        };
        hs.call_reclaim(point, key, &ctx)
    }
}

impl<S: LeaseSink> V6Shard<S> {
    /// Installs this shard's hooks (None: no hooks, no per-packet cost). Packets parked on the
    /// hooks installed before are dropped with them.
    pub fn set_hooks(&mut self, hooks: Option<Hooks>) {
        let blank = Meta6 {
            src: SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0),
            dst: Ipv6Addr::UNSPECIFIED,
            ifindex: 0,
        };
        self.core.hooked = hooks.map(|h| Box::new(Parking::new(h, Family::V6, blank)));
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
            .map(|h| h.stats())
            .unwrap_or_default()
    }

    /// Packets parked now.
    pub fn parked(&self) -> usize {
        self.core.hooked.as_deref().map(|h| h.parked()).unwrap_or(0)
    }

    /// True when scripts run on this shard: the runtime should call
    /// [`V6Shard::resume_parked`] (their reports must be collected even for detached ones).
    pub fn hooks_pending(&self) -> bool {
        self.core
            .hooked
            .as_deref()
            .is_some_and(|h| h.hooks.running() > 0)
    }

    /// True when a hook parked the packet being processed (nothing is counted as dropped).
    pub(crate) fn parking(&self) -> bool {
        self.core.hooked.as_deref().is_some_and(|h| h.parking())
    }

    /// [`V6Shard::handle`] with hooks installed.
    pub(crate) fn handle_hooked(
        &mut self,
        meta: &Meta6,
        data: &[u8],
        now: u64,
        out: &mut [u8],
    ) -> Option<Reply6> {
        park::handle_hooked(self, meta, data, now, out)
    }

    /// Collects the reports of scripts that ended and resumes what waited on the next awaited
    /// one: a parked packet (its reply, if any, written into `out`) or a parked reclamation.
    /// Returns `None` when no report is waiting. Call it while [`V6Shard::hooks_pending`] (from
    /// the runtime's wake-up, which the spawner triggers as a script ends). Commit the lease log
    /// before sending what it wrote.
    pub fn resume_parked(&mut self, now: u64, out: &mut [u8]) -> Option<Resumed6> {
        park::resume_parked(self, now, out)
    }
}

impl<S: LeaseSink> ParkingEngine for V6Shard<S> {
    type Meta = Meta6;
    type Reply = Reply6;
    type LeaseKey = (u128, bool);
    const FAMILY: Family = Family::V6;

    fn parking(&mut self) -> Option<&mut HookState6> {
        self.core.hooked.as_deref_mut()
    }

    fn process(&mut self, meta: &Meta6, data: &[u8], now: u64, out: &mut [u8]) -> Option<Reply6> {
        V6Shard::process(self, meta, data, now, out)
    }

    fn first_post_stage(&mut self, data: &[u8], reply: Option<&Reply6>) -> Option<PostStage> {
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
        Some(if commits {
            PostStage::Committed
        } else {
            PostStage::Send
        })
    }

    /// The query, the response (pkt6_send, buffer6_send) and the leases (leases6_committed).
    fn post_point(
        &mut self,
        point: HookPoint,
        meta: &Meta6,
        data: &[u8],
        now: u64,
        out: &[u8],
        reply: Option<Reply6>,
    ) -> Step {
        let p = &*self.prepared;
        let Some(hs) = self.core.hooked.as_deref_mut() else {
            return Step::Continue;
        };
        if !hs.hooks.wants(point) {
            return Step::Continue;
        }
        let iface = interface_name(p, meta.ifindex);
        let response = reply.and_then(|reply| {
            Packet6View::from_wire(
                out.get(..reply.len)?,
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
        let verdict = hs.hooks.call(point, &ctx);
        hs.record_post(point, verdict)
    }

    fn send_skipped(&self, point: HookPoint, _data: &[u8]) {
        tracing::debug!(target: "DHCP6_HOOK_PACKET_SEND_SKIP", point = point.name(), "prepared response is not sent, because a callout asked so");
    }

    fn reply_len(reply: &Reply6) -> usize {
        reply.len
    }

    /// The DHCPv6 points read the query from its bytes: nothing to restore.
    fn restore_query(&mut self, _data: &[u8]) -> bool {
        true
    }

    /// The lease is reclaimed now if it is still due (the client may have come back
    /// meanwhile).
    fn reclaim_if_due(&mut self, key: (u128, bool), now: u64) {
        let due = self.core.table.get(key).is_some_and(|e| {
            e.offer_until == 0
                && e.lease.expire() <= now
                && matches!(
                    e.lease.state,
                    corelease_types::LeaseState::Default | corelease_types::LeaseState::Declined
                )
        });
        if due {
            let p = &*self.prepared;
            self.core.reclaim(p, key, now);
        }
    }

    fn count_sent(&mut self, reply: &Reply6) {
        V6Shard::count_sent(self, reply.message_type);
    }
}

#[cfg(test)]
#[path = "hook_tests.rs"]
mod tests;
