//! One shard's lease table: every lease (and pending offer) of the clients the kernel steers to
//! this shard, indexed by address and by client identity. Plain per-shard hash maps: no lock,
//! no sharing (DESIGN.md: 21 vs 14 Mops/s against a concurrent map).

use corelease_alloc::reclaim::HoldQueue;
use corelease_alloc::reload::Journal;
use corelease_types::{ClientId, HwAddr, Lease, LeaseState, SubnetId};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

/// Sentinel for "no pool" (a lease outside every pool of the current config).
pub const NO_POOL: u32 = u32::MAX;

/// A lease as the shard keeps it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub lease: Lease,
    /// Pool index in `Prepared4::pools`, or [`NO_POOL`].
    pub pool: u32,
    /// Subnet index in `Prepared4::subnets`, or `u32::MAX` when the subnet is gone.
    pub subnet: u32,
    /// Non-zero while this is only an OFFER (not logged): the time it lapses.
    pub offer_until: u64,
    /// Whether this shard holds the address's bit in the pool bitmap.
    pub holds_bit: bool,
    /// An offer of the client's own lease, reclaimed and kept for it: its REQUEST renews
    /// (lease4_renew), as in Kea, where a DHCPDISCOVER leaves the reclaimed lease in the
    /// database for the REQUEST to find.
    pub renews: bool,
}

impl Entry {
    /// A committed lease or a pending offer that still binds the address at `now`.
    pub fn is_active(&self, now: u64) -> bool {
        match self.lease.state {
            LeaseState::Default => {
                if self.offer_until != 0 {
                    self.offer_until > now
                } else {
                    !self.lease.is_expired(now)
                }
            }
            LeaseState::Declined => !self.lease.is_expired(now),
            _ => false,
        }
    }

    pub fn is_offer(&self) -> bool {
        self.offer_until != 0
    }
}

/// Who a request is from, as Kea identifies DHCPv4 clients (ARM 9.2.x match-client-id).
#[derive(Clone, Debug)]
pub struct ClientIdent {
    pub hw: HwAddr,
    pub client_id: Option<ClientId>,
}

impl ClientIdent {
    /// Whether `lease` belongs to this client: by client-id when both carry one and the subnet
    /// matches on client-id, else by hardware address (RFC 2131 4.2, ARM "match-client-id").
    pub fn owns(&self, lease: &Lease, match_client_id: bool) -> bool {
        if match_client_id {
            if let (Some(mine), Some(theirs)) = (&self.client_id, &lease.client_id) {
                return mine == theirs;
            }
        }
        match &lease.hwaddr {
            Some(hw) => hw.as_bytes() == self.hw.as_bytes() && !self.hw.is_empty(),
            None => false,
        }
    }
}

#[derive(Default)]
pub struct LeaseTable {
    by_addr: HashMap<u32, Entry>,
    by_client_id: HashMap<(SubnetId, ClientId), u32>,
    by_hwaddr: HashMap<(SubnetId, HwAddr), u32>,
    /// (expire, address) of committed leases; stale entries are skipped when popped.
    expiry: BinaryHeap<Reverse<(u64, u32)>>,
    /// (lapse time, address) of offers; offers share one hold time, so this is ordered.
    offers: VecDeque<(u64, u32)>,
    /// (time, address) of leases reclaimed or released, in time order, for the flush of
    /// hold-reclaimed-time.
    reclaimed: HoldQueue<u32>,
    /// Committed leases a client left behind when an offer or lease for another address of
    /// the same subnet took over its index: new address -> old address. The old lease goes
    /// when the client commits the new one (Kea's ALLOC_ENGINE_V4_REQUEST_REMOVE_LEASE);
    /// checked again when used, since the old entry may have changed meanwhile.
    displaced: HashMap<u32, u32>,
    /// While a config reload is prepared off the shard: every address whose entry was
    /// inserted, removed or borrowed mutably since, so the copy taken meanwhile can be made
    /// exact (`V4Shard::reload_changes` / `reload_take_dirty`). Off otherwise.
    journal: Journal<u32>,
}

impl LeaseTable {
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    pub fn get(&self, addr: u32) -> Option<&Entry> {
        self.by_addr.get(&addr)
    }

    pub fn get_mut(&mut self, addr: u32) -> Option<&mut Entry> {
        self.note(addr);
        self.by_addr.get_mut(&addr)
    }

    #[inline]
    fn note(&mut self, addr: u32) {
        self.journal.note(addr);
    }

    /// Starts noting changed addresses (a reload's copy begins now).
    pub fn start_journal(&mut self) {
        self.journal.start();
    }

    /// The addresses changed since the journal started or was last drained, sorted and
    /// without repeats; the journal keeps running.
    pub fn drain_journal(&mut self) -> Vec<u32> {
        self.journal.drain()
    }

    /// Stops the journal; returns what it still held, sorted and without repeats.
    pub fn stop_journal(&mut self) -> Vec<u32> {
        self.journal.stop()
    }

    pub fn journal_running(&self) -> bool {
        self.journal.running()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.by_addr.values()
    }

    /// The address this client holds (or was offered) in `subnet`, if any.
    pub fn find_client(
        &self,
        subnet: SubnetId,
        ident: &ClientIdent,
        match_client_id: bool,
    ) -> Option<u32> {
        if match_client_id {
            if let Some(cid) = &ident.client_id {
                if let Some(&addr) = self.by_client_id.get(&(subnet, cid.clone())) {
                    return Some(addr);
                }
            }
        }
        let addr = *self.by_hwaddr.get(&(subnet, ident.hw))?;
        // A lease found by chaddr whose client-id differs is another client's (ARM 9.2.x).
        let entry = self.by_addr.get(&addr)?;
        ident.owns(&entry.lease, match_client_id).then_some(addr)
    }

    /// Inserts or replaces the entry for its address, keeping the client indexes true.
    pub fn insert(&mut self, entry: Entry) {
        let addr = addr_u32(&entry.lease);
        self.note(addr);
        self.unindex(addr);
        if let Some(cid) = &entry.lease.client_id {
            let before = self
                .by_client_id
                .insert((entry.lease.subnet_id, cid.clone()), addr);
            self.note_displaced(before, addr);
        }
        if let Some(hw) = &entry.lease.hwaddr {
            if !hw.is_empty() {
                let before = self.by_hwaddr.insert((entry.lease.subnet_id, *hw), addr);
                self.note_displaced(before, addr);
            }
        }
        if entry.is_offer() {
            self.offers.push_back((entry.offer_until, addr));
        } else if matches!(
            entry.lease.state,
            LeaseState::Default | LeaseState::Declined
        ) {
            self.expiry.push(Reverse((entry.lease.expire(), addr)));
        }
        self.by_addr.insert(addr, entry);
    }

    /// Re-indexes an entry changed in place (state, times, identity) through `get_mut`.
    pub fn reinsert(&mut self, addr: u32) {
        if let Some(entry) = self.by_addr.remove(&addr) {
            self.insert(entry);
        }
    }

    /// Remembers that the client index pointing at `before` (a committed lease) now points
    /// at `addr` (see `displaced`). Costs nothing in the usual case: the index map's insert
    /// already returned what it replaced.
    fn note_displaced(&mut self, before: Option<u32>, addr: u32) {
        let Some(old) = before.filter(|&o| o != addr) else {
            return;
        };
        let committed = self
            .by_addr
            .get(&old)
            .is_some_and(|e| !e.is_offer() && e.lease.state == LeaseState::Default);
        if committed {
            self.displaced.insert(addr, old);
        }
    }

    /// The committed lease the entry at `addr` took the client index from, if any (see
    /// `displaced`); forgotten once asked for.
    pub fn take_displaced(&mut self, addr: u32) -> Option<u32> {
        if self.displaced.is_empty() {
            return None;
        }
        self.displaced.remove(&addr)
    }

    pub fn remove(&mut self, addr: u32) -> Option<Entry> {
        self.note(addr);
        if !self.displaced.is_empty() {
            self.displaced.remove(&addr);
        }
        self.unindex(addr);
        self.by_addr.remove(&addr)
    }

    /// Drops the client indexes that point at `addr` (the entry itself stays).
    pub fn unindex(&mut self, addr: u32) {
        if let Some(old) = self.by_addr.get(&addr) {
            if let Some(cid) = &old.lease.client_id {
                let key = (old.lease.subnet_id, cid.clone());
                if self.by_client_id.get(&key) == Some(&addr) {
                    self.by_client_id.remove(&key);
                }
            }
            if let Some(hw) = &old.lease.hwaddr {
                let key = (old.lease.subnet_id, *hw);
                if self.by_hwaddr.get(&key) == Some(&addr) {
                    self.by_hwaddr.remove(&key);
                }
            }
        }
    }

    /// The offers queued to lapse, with their lapse time (some stale: the caller checks the
    /// entry). As many as were made within the offer hold, whatever the table's size.
    pub fn queued_offers(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.offers.iter().copied()
    }

    /// The next offer that lapsed by `now`: (lapse time, address). Stale ones are the caller's to skip.
    pub fn pop_lapsed_offer(&mut self, now: u64) -> Option<(u64, u32)> {
        match self.offers.front() {
            Some(&(t, _)) if t <= now => self.offers.pop_front(),
            _ => None,
        }
    }

    /// Reclaimed and released leases waiting for hold-reclaimed-time to pass.
    pub fn held(&mut self) -> &mut HoldQueue<u32> {
        &mut self.reclaimed
    }

    /// Puts back an expiry [`Self::pop_expired`] returned that the caller did not act on.
    pub fn requeue_expired(&mut self, expire: u64, addr: u32) {
        self.expiry.push(Reverse((expire, addr)));
    }

    /// The next committed lease that expired by `now`: (expire, address), maybe stale.
    pub fn pop_expired(&mut self, now: u64) -> Option<(u64, u32)> {
        match self.expiry.peek() {
            Some(Reverse((t, _))) if *t <= now => self.expiry.pop().map(|Reverse(x)| x),
            _ => None,
        }
    }
}

pub fn addr_u32(lease: &Lease) -> u32 {
    match lease.addr {
        std::net::IpAddr::V4(a) => u32::from(a),
        std::net::IpAddr::V6(_) => 0,
    }
}
