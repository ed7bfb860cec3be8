//! The shard's DHCPv6 lease table: leases by (address or prefix, kind), a client index by
//! (DUID, IAID, kind), and expiry queues checked lazily against the table.

use corelease_alloc::reclaim::HoldQueue;
use corelease_alloc::reload::Journal;
use corelease_types::{ClientId, Lease};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// A lease's key: the address (IA_NA) or prefix (IA_PD, `true`) as a 128-bit integer.
pub type LeaseKey = (u128, bool);

/// No pool: a lease loaded for an address outside every configured pool.
pub const NO_POOL: u32 = u32::MAX;

/// One lease and what the shard knows about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry6 {
    pub lease: Lease,
    /// Index into `Prepared6::pools`, or [`NO_POOL`].
    pub pool: u32,
    /// Index into `Prepared6::subnets`, or `u32::MAX`.
    pub subnet: u32,
    /// Non-zero while the lease is only advertised (Solicit without Rapid Commit): the time
    /// the reservation lapses. Advertised leases are not written to the lease log.
    pub offer_until: u64,
    /// This entry holds its bit in the pool bitmap.
    pub holds_bit: bool,
}

impl Entry6 {
    pub fn is_offer(&self) -> bool {
        self.offer_until != 0
    }
}

#[derive(Default)]
pub struct LeaseTable6 {
    by_key: HashMap<LeaseKey, Entry6>,
    by_client: HashMap<(ClientId, u32, bool), u128>,
    expiry: BinaryHeap<Reverse<(u64, u128, bool)>>,
    offers: BinaryHeap<Reverse<(u64, u128, bool)>>,
    /// Reclaimed and released leases waiting for hold-reclaimed-time (ARM chapter 12).
    held: HoldQueue<LeaseKey>,
    /// While a config reload is prepared off the shard: every key whose entry was inserted,
    /// removed or borrowed mutably since (`V6Shard::reload_changes`). Off otherwise.
    journal: Journal<LeaseKey>,
}

impl LeaseTable6 {
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn get(&self, key: LeaseKey) -> Option<&Entry6> {
        self.by_key.get(&key)
    }

    pub fn get_mut(&mut self, key: LeaseKey) -> Option<&mut Entry6> {
        self.journal.note(key);
        self.by_key.get_mut(&key)
    }

    /// Reclaimed and released leases waiting for hold-reclaimed-time to pass.
    pub fn held(&mut self) -> &mut HoldQueue<LeaseKey> {
        &mut self.held
    }

    /// The reload journal of this table (`corelease_alloc::reload`).
    pub fn journal(&mut self) -> &mut Journal<LeaseKey> {
        &mut self.journal
    }

    pub fn journal_running(&self) -> bool {
        self.journal.running()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry6> {
        self.by_key.values()
    }

    /// The lease key a client's IA holds. Builds the DUID key inline (no allocation for a
    /// DUID of up to 24 bytes, which covers LLT, EN and LL DUIDs of Ethernet clients).
    pub fn find_client(&self, duid: &[u8], iaid: u32, pd: bool) -> Option<u128> {
        self.by_client
            .get(&(ClientId::new(duid), iaid, pd))
            .copied()
    }

    /// Inserts or replaces the entry at its key, indexes its client and queues its expiry.
    pub fn insert(&mut self, entry: Entry6) {
        let key = key_of(&entry.lease);
        self.journal.note(key);
        if let Some(old) = self.by_key.get(&key) {
            if old.lease.client_id != entry.lease.client_id || old.lease.iaid != entry.lease.iaid {
                self.unindex_client(key);
            }
        }
        if let Some(cid) = &entry.lease.client_id {
            self.by_client
                .insert((cid.clone(), entry.lease.iaid, key.1), key.0);
        }
        self.queue(&entry, key);
        self.by_key.insert(key, entry);
    }

    /// Queues the current expiry (or offer lapse) of the entry at `key` again, after a change.
    pub fn requeue(&mut self, key: LeaseKey) {
        // No clone of the entry: a lease with a hostname would allocate per renewal.
        let Some(e) = self.by_key.get(&key) else {
            return;
        };
        let item = Reverse((
            if e.offer_until != 0 {
                e.offer_until
            } else {
                e.lease.expire()
            },
            key.0,
            key.1,
        ));
        if e.offer_until != 0 {
            self.offers.push(item);
        } else {
            self.expiry.push(item);
        }
    }

    fn queue(&mut self, e: &Entry6, key: LeaseKey) {
        if e.offer_until != 0 {
            self.offers.push(Reverse((e.offer_until, key.0, key.1)));
        } else {
            self.expiry.push(Reverse((e.lease.expire(), key.0, key.1)));
        }
    }

    pub fn remove(&mut self, key: LeaseKey) -> Option<Entry6> {
        self.journal.note(key);
        self.unindex_client(key);
        self.by_key.remove(&key)
    }

    /// Drops the client index entry pointing at `key` (the lease stays in the table).
    pub fn unindex_client(&mut self, key: LeaseKey) {
        let Some(e) = self.by_key.get(&key) else {
            return;
        };
        if let Some(cid) = &e.lease.client_id {
            let ck = (cid.clone(), e.lease.iaid, key.1);
            if self.by_client.get(&ck) == Some(&key.0) {
                self.by_client.remove(&ck);
            }
        }
    }

    /// Puts back an expiry [`Self::pop_expired`] returned that the caller did not act on.
    pub fn requeue_expired(&mut self, expire: u64, key: LeaseKey) {
        self.expiry.push(Reverse((expire, key.0, key.1)));
    }

    /// The next queued expiry at or before `now` (may be stale: the caller checks the entry).
    pub fn pop_expired(&mut self, now: u64) -> Option<(u64, LeaseKey)> {
        pop_due(&mut self.expiry, now)
    }

    /// The advertisements queued to lapse, with their lapse time (some stale: the caller
    /// checks the entry). As many as were made within the advertise hold, whatever the
    /// table's size.
    pub fn queued_offers(&self) -> impl Iterator<Item = (u64, LeaseKey)> + '_ {
        self.offers
            .iter()
            .map(|Reverse((t, a, pd))| (*t, (*a, *pd)))
    }

    pub fn pop_lapsed_offer(&mut self, now: u64) -> Option<(u64, LeaseKey)> {
        pop_due(&mut self.offers, now)
    }
}

fn pop_due(heap: &mut BinaryHeap<Reverse<(u64, u128, bool)>>, now: u64) -> Option<(u64, LeaseKey)> {
    match heap.peek() {
        Some(Reverse((t, _, _))) if *t <= now => heap.pop().map(|Reverse((t, a, pd))| (t, (a, pd))),
        _ => None,
    }
}

/// The table key of a lease.
pub fn key_of(lease: &Lease) -> LeaseKey {
    let addr = match lease.addr {
        std::net::IpAddr::V6(a) => u128::from(a),
        std::net::IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
    };
    (addr, lease.kind == corelease_types::LeaseKind::V6Pd)
}
