//! Parking and replay of packets whose hook script must end before they go on, for both
//! address families (ARM 17, "Hooks libraries"; issue 6). The engines (engine/v4 and engine/v6
//! `hooked.rs`) keep only what differs per family: the context each point sees, which
//! exchanges reach leases*_committed, and how a parked reclamation finds its lease.
//!
//! A run-script hook with `wait` / `sync` answers [`HookVerdict::Park`]: the packet waits for
//! the script while the shard serves every other packet. The slots are preallocated when the
//! hooks are installed, one per script that may run (`max-running`), so parking never
//! allocates and never grows.
//! - Before the reply is finished (pkt*_receive, subnet*_select, the lease points) a slot keeps
//!   the datagram, its arrival metadata and the log of the hook calls made so far, keyed by
//!   (point, [`CallKey`]): when the script ends the datagram is processed again from the start
//!   and every logged call answers its logged verdict without calling anything (the parked one
//!   answers the script's), so no script runs twice for one message. Processing again is
//!   idempotent for what the first run already did: the engines keep an address picked for a
//!   parked packet held for its client, so the resumed run finds it.
//! - After the reply is finished (leases*_committed, pkt*_send, buffer*_send) the slot keeps
//!   the query and the reply; when the script ends the reply goes on through the remaining
//!   points ([`PostStage`]) and is sent, or not (skip / drop).
//! - Lease reclamation parks the lease instead ([`Parking::call_reclaim`]): the lease is
//!   reclaimed when its lease*_expire / lease*_recover script ends, and the address stays out of
//!   the pool until then. That is what waiting buys in Kea (the callout blocks reclamation, and
//!   neither library reads the script's exit there): a script that removes a route or a
//!   firewall entry finishes before the address can be given to someone else.

use crate::{HookContext, HookPoint, HookVerdict, Hooks, NextStep, ScriptTicket};
use corelease_types::Lease;

/// Room for one datagram in a parking slot: the runtime's slot size.
pub const SLOT_BYTES: usize = 2048;

/// Hook calls one message may log (a message with more calls than this cannot park past them:
/// a script there runs as if detached, counted as `table_full`).
pub const MAX_LOGGED: usize = 32;

/// Which family's points, log targets and statistics a [`Parking`] serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// What the engine does after the hooks of a point ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Continue,
    Skip,
    Drop,
    /// The packet waits for a script: stop processing it now.
    Park,
}

impl Step {
    pub fn of(next: NextStep) -> Self {
        match next {
            NextStep::Continue => Step::Continue,
            NextStep::Skip => Step::Skip,
            NextStep::Drop => Step::Drop,
        }
    }
}

/// Which call of a point a log entry is: for DHCPv6, the IA (IAID, IA_PD) of lease6_select /
/// renew / rebind or the address / prefix of release / decline; [`PACKET`] for points called
/// once per message (every DHCPv4 point).
pub type CallKey = (u128, bool);

/// The key of points called once per message.
pub const PACKET: CallKey = (0, false);

/// The hook calls of one message and their verdicts.
#[derive(Clone, Copy)]
pub struct CallLog {
    calls: [(HookPoint, CallKey, NextStep); MAX_LOGGED],
    len: usize,
}

impl CallLog {
    pub const EMPTY: CallLog = CallLog {
        calls: [(HookPoint::Pkt4Receive, PACKET, NextStep::Continue); MAX_LOGGED],
        len: 0,
    };

    /// The verdict logged for this call, if it was made.
    pub fn find(&self, point: HookPoint, key: CallKey) -> Option<NextStep> {
        self.calls
            .get(..self.len)?
            .iter()
            .find(|(p, k, _)| *p == point && *k == key)
            .map(|(_, _, s)| *s)
    }

    /// Logs a call; false when the log is full.
    pub fn push(&mut self, point: HookPoint, key: CallKey, step: NextStep) -> bool {
        match self.calls.get_mut(self.len) {
            Some(slot) => {
                *slot = (point, key, step);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    pub fn is_full(&self) -> bool {
        self.len >= MAX_LOGGED
    }
}

/// Why the packet being processed stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Halt {
    Drop,
    Park(ScriptTicket, HookPoint, CallKey),
}

/// The points of a finished reply, in Kea's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostStage {
    Committed,
    Send,
    BufferSend,
}

impl PostStage {
    pub fn point(self, family: Family) -> HookPoint {
        match (family, self) {
            (Family::V4, PostStage::Committed) => HookPoint::Leases4Committed,
            (Family::V4, PostStage::Send) => HookPoint::Pkt4Send,
            (Family::V4, PostStage::BufferSend) => HookPoint::Buffer4Send,
            (Family::V6, PostStage::Committed) => HookPoint::Leases6Committed,
            (Family::V6, PostStage::Send) => HookPoint::Pkt6Send,
            (Family::V6, PostStage::BufferSend) => HookPoint::Buffer6Send,
        }
    }

    fn next(self) -> Option<PostStage> {
        match self {
            PostStage::Committed => Some(PostStage::Send),
            PostStage::Send => Some(PostStage::BufferSend),
            PostStage::BufferSend => None,
        }
    }
}

/// Counters of the hook wiring of one shard (the script's own are in `ScriptStats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParkStats {
    /// Packets parked (each park of the same packet counts).
    pub parked: u64,
    /// Parked packets resumed after their script ended.
    pub resumed: u64,
    /// A script asked its packet to wait but no slot (or no log room) was left: the packet was
    /// dropped, or the script ran as if detached.
    pub table_full: u64,
    /// Reclamations that waited for their lease*_expire / lease*_recover script.
    pub reclaims_parked: u64,
    /// Scripts a packet that cannot park (a DHCPv4-over-DHCPv6 query) would have waited for:
    /// they ran as if detached.
    pub not_parkable: u64,
}

/// What a resumed parked packet or reclamation produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resumed<R> {
    /// A reply for the packet, written into the caller's buffer.
    Reply(R),
    /// Nothing to send (the packet was dropped, skipped or parked again, or a lease was
    /// reclaimed).
    NoReply,
}

/// One parked packet.
struct ParkSlot<M, R> {
    ticket: Option<ScriptTicket>,
    meta: M,
    query: Box<[u8]>,
    query_len: usize,
    reply: Box<[u8]>,
    /// A finished reply (parked after the reply was written) and its stage.
    post: Option<(R, PostStage)>,
    log: CallLog,
    parked_at: (HookPoint, CallKey),
}

/// A parked packet whose script ended, taken out of its slot to run again (its call log is
/// already the one of the packet being processed).
struct Woken<M, R> {
    meta: M,
    query: Box<[u8]>,
    query_len: usize,
    reply: Box<[u8]>,
    post: Option<(R, PostStage)>,
    /// The script's verdict for the point the packet parked at.
    next: NextStep,
}

enum Done<M, R, K> {
    Packet(Woken<M, R>),
    Reclaim(K),
}

/// The hooks of one shard and what parking needs: `M` is the family's arrival metadata, `R`
/// its reply, `K` the key of a lease in its table.
pub struct Parking<M, R, K> {
    pub hooks: Hooks,
    family: Family,
    slots: Vec<ParkSlot<M, R>>,
    /// Calls made for the packet being processed (pre-filled from its slot on a replay).
    log: CallLog,
    halt: Option<Halt>,
    /// The packet being processed runs again after parking (its statistics are counted).
    replaying: bool,
    meta: M,
    /// leases*_committed: the leases the exchange granted, extended or declined...
    pub committed: Vec<Lease>,
    /// ...and the ones it released or moved away from (Kea's `deleted_leases*`).
    pub deleted: Vec<Lease>,
    /// Leases whose reclamation waits for their script (at most one per running script).
    reclaims: Vec<(ScriptTicket, K)>,
    /// A parked reclamation runs: its hook already ran.
    resuming_reclaim: bool,
    /// How long an address picked for a parked packet stays held (wait-timeout plus margin).
    park_hold_secs: u64,
    /// The packet being processed cannot park ([`Parking::set_parkable`]).
    unparkable: bool,
    stats: ParkStats,
}

impl<M: Copy, R: Copy, K> Parking<M, R, K> {
    /// `blank` fills the slots' metadata until a packet parks there.
    pub fn new(hooks: Hooks, family: Family, blank: M) -> Self {
        let capacity = hooks.max_parked();
        let park_hold_secs = hooks
            .script()
            .map(|s| s.config().wait_timeout.as_secs() + 2)
            .unwrap_or(2);
        let slots = (0..capacity)
            .map(|_| ParkSlot {
                ticket: None,
                meta: blank,
                query: vec![0u8; SLOT_BYTES].into_boxed_slice(),
                query_len: 0,
                reply: vec![0u8; SLOT_BYTES].into_boxed_slice(),
                post: None,
                log: CallLog::EMPTY,
                parked_at: (HookPoint::Pkt4Receive, PACKET),
            })
            .collect();
        Parking {
            hooks,
            family,
            slots,
            log: CallLog::EMPTY,
            halt: None,
            replaying: false,
            meta: blank,
            committed: Vec::new(),
            deleted: Vec::new(),
            reclaims: Vec::with_capacity(capacity),
            resuming_reclaim: false,
            park_hold_secs,
            unparkable: false,
            stats: ParkStats::default(),
        }
    }

    /// Starts a packet: a new one, or a parked one running again with its log.
    pub fn begin(&mut self, meta: &M, replay: Option<&CallLog>) {
        self.log = replay.copied().unwrap_or(CallLog::EMPTY);
        self.replaying = replay.is_some();
        self.halt = None;
        self.meta = *meta;
        self.committed.clear();
        self.deleted.clear();
    }

    /// The arrival metadata of the packet being processed.
    pub fn meta(&self) -> &M {
        &self.meta
    }

    pub fn halt(&self) -> Option<Halt> {
        self.halt
    }

    /// A point dropped the packet being processed: the rest of it is skipped.
    pub fn set_drop(&mut self) {
        self.halt = Some(Halt::Drop);
    }

    /// True when a point parked the packet being processed.
    pub fn parking(&self) -> bool {
        matches!(self.halt, Some(Halt::Park(..)))
    }

    /// True while a parked packet runs again: it was counted when it arrived.
    pub fn replaying(&self) -> bool {
        self.replaying
    }

    pub fn park_hold_secs(&self) -> u64 {
        self.park_hold_secs
    }

    pub fn stats(&self) -> ParkStats {
        self.stats
    }

    /// Packets parked now.
    pub fn parked(&self) -> usize {
        self.slots.iter().filter(|s| s.ticket.is_some()).count()
    }

    /// Whether the packets processed from now on may park. A DHCPv4-over-DHCPv6 query may
    /// not: its reply goes back through the DHCPv6 server, which a parked packet's resumed
    /// reply does not. Its awaited scripts run as if detached (counted in `not_parkable`).
    pub fn set_parkable(&mut self, parkable: bool) {
        self.unparkable = !parkable;
    }

    /// The verdict logged for this call of the packet being processed (a replay).
    pub fn logged(&self, point: HookPoint, key: CallKey) -> Option<NextStep> {
        self.log.find(point, key)
    }

    /// Acts on the verdict of the hooks (`self.hooks.call`) at a point before the reply is
    /// finished, and logs it. A drop is returned, not recorded: what a drop stops differs per
    /// family and point.
    pub fn record(&mut self, point: HookPoint, key: CallKey, verdict: HookVerdict) -> Step {
        let next = match verdict {
            HookVerdict::Continue => NextStep::Continue,
            HookVerdict::Skip => NextStep::Skip,
            HookVerdict::Drop => return Step::Drop,
            HookVerdict::Park(_) if self.unparkable => {
                self.stats.not_parkable += 1;
                NextStep::Continue
            }
            HookVerdict::Park(ticket) => {
                if self.log.is_full() {
                    // No room to replay past this call: the script runs as if detached.
                    self.stats.table_full += 1;
                    return Step::Continue;
                }
                self.halt = Some(Halt::Park(ticket, point, key));
                return Step::Park;
            }
        };
        self.log.push(point, key, next);
        Step::of(next)
    }

    /// Acts on the verdict of the hooks at a point of a finished reply (not logged: a packet
    /// parked there goes on from the next point).
    pub fn record_post(&mut self, point: HookPoint, verdict: HookVerdict) -> Step {
        match verdict {
            HookVerdict::Continue => Step::Continue,
            HookVerdict::Skip => Step::Skip,
            HookVerdict::Drop => Step::Drop,
            HookVerdict::Park(_) if self.unparkable => {
                self.stats.not_parkable += 1;
                Step::Continue
            }
            HookVerdict::Park(ticket) => {
                self.halt = Some(Halt::Park(ticket, point, PACKET));
                Step::Park
            }
        }
    }

    /// Runs lease*_expire / lease*_recover for the lease `key` being reclaimed: true when the
    /// reclamation goes on now. False when a callout asked to leave the lease as it is, or when
    /// its script must end first (the engine reclaims it when [`resume_parked`] sees the
    /// script end).
    pub fn call_reclaim(&mut self, point: HookPoint, key: K, ctx: &HookContext<'_>) -> bool {
        if !self.hooks.wants(point) || self.resuming_reclaim {
            return true;
        }
        match self.hooks.call(point, ctx) {
            HookVerdict::Continue => true,
            HookVerdict::Skip | HookVerdict::Drop => false,
            HookVerdict::Park(ticket) => {
                self.reclaims.push((ticket, key));
                self.stats.reclaims_parked += 1;
                false
            }
        }
    }

    /// Keeps the packet (and its finished reply `post`, with the reply's bytes) until its
    /// script ends.
    fn park(
        &mut self,
        ticket: ScriptTicket,
        at: (HookPoint, CallKey),
        meta: &M,
        data: &[u8],
        post: Option<(R, PostStage, &[u8])>,
    ) {
        let log = self.log;
        let family = self.family;
        let Some(slot) = self
            .slots
            .iter_mut()
            // A slot whose buffers are lent to a resumed packet has none.
            .find(|s| {
                s.ticket.is_none() && s.query.len() >= SLOT_BYTES && s.reply.len() >= SLOT_BYTES
            })
        else {
            self.stats.table_full += 1;
            match family {
                Family::V4 => {
                    tracing::warn!(target: "DHCP4_HOOK_LEASES4_COMMITTED_PARKING_LOT_FULL", point = at.0.name(), "parking lot full: packet dropped")
                }
                Family::V6 => {
                    tracing::warn!(target: "DHCP6_HOOK_LEASES6_PARKING_LOT_FULL", point = at.0.name(), "parking lot full: packet dropped")
                }
            }
            return;
        };
        let Some(q) = slot.query.get_mut(..data.len()) else {
            return;
        };
        q.copy_from_slice(data);
        if let Some((_, _, bytes)) = post {
            let Some(r) = slot.reply.get_mut(..bytes.len()) else {
                return;
            };
            r.copy_from_slice(bytes);
        }
        slot.query_len = data.len();
        slot.ticket = Some(ticket);
        slot.meta = *meta;
        slot.post = post.map(|(reply, stage, _)| (reply, stage));
        slot.log = log;
        slot.parked_at = at;
        self.stats.parked += 1;
    }

    /// The next awaited script that ended and what waited on it, a packet started again with
    /// its log; `None` when no report is waiting. Detached scripts' reports (and those of packets dropped with old hooks) are
    /// passed over.
    fn next_done(&mut self) -> Option<Done<M, R, K>> {
        loop {
            let done = self.hooks.poll().next()?;
            if let Some(s) = self
                .slots
                .iter_mut()
                .find(|s| s.ticket == Some(done.ticket))
            {
                s.ticket = None;
                let mut log = s.log;
                // The parked call answers what its script decided.
                log.push(s.parked_at.0, s.parked_at.1, done.next);
                let meta = s.meta;
                // The slot's buffers are taken out while the packet runs again (it may park
                // again, in another slot or this one) and put back after: no copy, no
                // allocation.
                let woken = Woken {
                    meta,
                    query: std::mem::take(&mut s.query),
                    query_len: s.query_len,
                    reply: std::mem::take(&mut s.reply),
                    post: s.post.take(),
                    next: done.next,
                };
                self.stats.resumed += 1;
                self.begin(&meta, Some(&log));
                return Some(Done::Packet(woken));
            }
            if let Some(i) = self.reclaims.iter().position(|(t, _)| *t == done.ticket) {
                let (_, key) = self.reclaims.swap_remove(i);
                return Some(Done::Reclaim(key));
            }
        }
    }

    /// Puts a resumed packet's buffers back in the first slots that lack them (the packet may
    /// have parked again in its own slot, which then took the buffers of a free one).
    fn give_back(&mut self, query: Box<[u8]>, reply: Box<[u8]>) {
        if let Some(s) = self.slots.iter_mut().find(|s| s.query.is_empty()) {
            s.query = query;
        }
        if let Some(s) = self.slots.iter_mut().find(|s| s.reply.is_empty()) {
            s.reply = reply;
        }
        self.replaying = false;
    }
}

/// What an engine supplies for [`handle_hooked`] and [`resume_parked`] to drive its packets
/// through the hook points and the parking.
pub trait ParkingEngine {
    type Meta: Copy;
    type Reply: Copy;
    /// The key of a lease in the engine's table.
    type LeaseKey;
    const FAMILY: Family;

    /// The shard's hooks (None: no hooks installed).
    fn parking(&mut self) -> Option<&mut Parking<Self::Meta, Self::Reply, Self::LeaseKey>>;

    /// The packet's processing up to its reply, the points before the reply included (each
    /// answers its logged verdict on a replay).
    fn process(
        &mut self,
        meta: &Self::Meta,
        data: &[u8],
        now: u64,
        out: &mut [u8],
    ) -> Option<Self::Reply>;

    /// Where the points of a finished exchange start: [`PostStage::Committed`] for exchanges
    /// that commit leases, else [`PostStage::Send`] when there is a reply; None when no point
    /// runs.
    fn first_post_stage(&mut self, data: &[u8], reply: Option<&Self::Reply>) -> Option<PostStage>;

    /// Runs one point of a finished exchange (reply None: nothing is sent, as after a DHCPv4
    /// RELEASE), answering with [`Parking::record_post`].
    fn post_point(
        &mut self,
        point: HookPoint,
        meta: &Self::Meta,
        data: &[u8],
        now: u64,
        out: &[u8],
        reply: Option<Self::Reply>,
    ) -> Step;

    /// Logs that the reply is not sent because a callout at `point` asked so.
    fn send_skipped(&self, point: HookPoint, data: &[u8]);

    fn reply_len(reply: &Self::Reply) -> usize;

    /// Makes the query the one the engine's per-packet state describes again, before the
    /// points of its finished reply run after a park (other packets ran meanwhile). False
    /// when the query is not readable.
    fn restore_query(&mut self, data: &[u8]) -> bool;

    /// Reclaims the lease `key` whose script ended, if it is still due (the client may have
    /// come back meanwhile).
    fn reclaim_if_due(&mut self, key: Self::LeaseKey, now: u64);

    /// Counts a reply sent.
    fn count_sent(&mut self, reply: &Self::Reply);
}

/// Processes a packet with hooks installed: the points before the reply (in
/// [`ParkingEngine::process`]), then park it if one asked to, else the points of the finished
/// reply.
pub fn handle_hooked<E: ParkingEngine>(
    e: &mut E,
    meta: &E::Meta,
    data: &[u8],
    now: u64,
    out: &mut [u8],
) -> Option<E::Reply> {
    if let Some(hs) = e.parking() {
        hs.begin(meta, None);
    }
    let reply = e.process(meta, data, now, out);
    after_process(e, meta, data, now, out, reply)
}

fn after_process<E: ParkingEngine>(
    e: &mut E,
    meta: &E::Meta,
    data: &[u8],
    now: u64,
    out: &mut [u8],
    reply: Option<E::Reply>,
) -> Option<E::Reply> {
    let hs = e.parking()?;
    match hs.halt {
        Some(Halt::Park(ticket, point, key)) => {
            hs.park(ticket, (point, key), meta, data, None);
            return None;
        }
        Some(Halt::Drop) => return None,
        None => {}
    }
    let Some(stage) = e.first_post_stage(data, reply.as_ref()) else {
        return reply;
    };
    post_commit(e, meta, data, now, out, reply, stage)
}

/// The points of a finished exchange from `stage` on.
fn post_commit<E: ParkingEngine>(
    e: &mut E,
    meta: &E::Meta,
    data: &[u8],
    now: u64,
    out: &mut [u8],
    reply: Option<E::Reply>,
    mut stage: PostStage,
) -> Option<E::Reply> {
    loop {
        let point = stage.point(E::FAMILY);
        match e.post_point(point, meta, data, now, out, reply) {
            Step::Continue => {}
            // leases*_committed: skip goes on (only drop stops the response).
            Step::Skip if stage == PostStage::Committed => {}
            Step::Skip | Step::Drop => {
                e.send_skipped(point, data);
                return None;
            }
            Step::Park => {
                let hs = e.parking()?;
                if let Some(Halt::Park(ticket, _, _)) = hs.halt.take() {
                    // Without a reply (a DHCPv4 RELEASE) nothing waits for the script.
                    if let Some(r) = reply {
                        if let Some(bytes) = out.get(..E::reply_len(&r)) {
                            hs.park(ticket, (point, PACKET), meta, data, Some((r, stage, bytes)));
                        }
                    }
                }
                return None;
            }
        }
        // leases4_committed fires also when nothing is sent (RELEASE, DECLINE).
        reply?;
        match stage.next() {
            Some(next) => stage = next,
            None => return reply,
        }
    }
}

/// Collects the reports of scripts that ended and resumes what waited on the next awaited
/// one: a parked packet (its reply, if any, written into `out` and counted) or a parked
/// reclamation. Returns `None` when no report is waiting. The runtime calls it while scripts
/// run (from its wake-up, which the spawner triggers as a script ends), and commits the lease
/// log before sending what it wrote.
pub fn resume_parked<E: ParkingEngine>(
    e: &mut E,
    now: u64,
    out: &mut [u8],
) -> Option<Resumed<E::Reply>> {
    let woken = match e.parking()?.next_done()? {
        Done::Packet(woken) => woken,
        Done::Reclaim(key) => {
            if let Some(hs) = e.parking() {
                hs.resuming_reclaim = true;
            }
            e.reclaim_if_due(key, now);
            if let Some(hs) = e.parking() {
                hs.resuming_reclaim = false;
            }
            return Some(Resumed::NoReply);
        }
    };
    let Woken {
        meta,
        query,
        query_len,
        reply: reply_buf,
        post,
        next,
    } = woken;
    let data = query.get(..query_len).unwrap_or(&[]);
    let result = match post {
        None => {
            let reply = e.process(&meta, data, now, out);
            after_process(e, &meta, data, now, out, reply)
        }
        Some((reply, stage)) => {
            let len = E::reply_len(&reply);
            let copied = out
                .get_mut(..len)
                .zip(reply_buf.get(..len))
                .map(|(dst, src)| dst.copy_from_slice(src))
                .is_some();
            // The parked point's verdict: skip / drop keep the reply, except that a skip at
            // leases*_committed goes on.
            let goes_on = matches!(
                (next, stage),
                (NextStep::Continue, _) | (NextStep::Skip, PostStage::Committed)
            );
            if !goes_on {
                e.send_skipped(stage.point(E::FAMILY), data);
            }
            if copied && goes_on && e.restore_query(data) {
                match stage.next() {
                    Some(stage) => post_commit(e, &meta, data, now, out, Some(reply), stage),
                    None => Some(reply),
                }
            } else {
                None
            }
        }
    };
    if let Some(hs) = e.parking() {
        hs.give_back(query, reply_buf);
    }
    if let Some(r) = &result {
        e.count_sent(r);
    }
    Some(match result {
        Some(r) => Resumed::Reply(r),
        None => Resumed::NoReply,
    })
}
