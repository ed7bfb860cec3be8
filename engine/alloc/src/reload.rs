//! Config reload without a stop proportional to the leases, for either family (DESIGN.md
//! "Control thread"; ARCHITECTURE.md "Config reload"). A shard's new state is built on the
//! control thread from copies of its leases taken in bounded chunks while the shard keeps
//! serving; the shard's lease table notes every key it changes meanwhile in a [`Journal`], and
//! the builder catches up with those changes. At the switch, with every shard paused, only
//! what changed since the last catch-up is fixed up, so the pause depends on recent changes,
//! not on how many leases a shard holds:
//!
//! 1. on the shard: journal on, list the keys of its leases;
//! 2. on the shard, in chunks: copy those leases; off the shard: [`ReloadBuild::load`];
//! 3. catch-up, any number of rounds: on the shard, drain the journal with the current lease
//!    of each key; off the shard, for every shard's build [`ReloadBuild::forget`] first, then
//!    for every one [`ReloadBuild::load`] of the current leases and
//!    [`ReloadBuild::retry_deferred`];
//! 4. the switch, every shard paused behind a barrier: stop the journal, `forget` — barrier —
//!    load the current leases of those keys, `retry_deferred`, [`ReloadBuild::finish`] —
//!    barrier — the shard swaps its state for the build's.
//!
//! The order "every build forgets, then every build loads" matters: the builds of all shards
//! claim bits in the same new bitmaps, and a stale copy of an address on one shard (its
//! client left, another shard's client took it) must let go of the bit before the current
//! holder claims it. A lease whose bit is taken when loaded is deferred and retried; one
//! still refused at the switch is a real conflict (two leases for one address) and dropped,
//! as recovery does.
//!
//! The family engines (corelease-v4, corelease-v6) implement [`ReloadTarget`] for their shard
//! state; nothing here is family-specific.

use corelease_types::Lease;

/// Room reserved in a journal when it starts, so that a reload under load grows it rarely
/// (it grows by doubling past this, never per packet).
const JOURNAL_RESERVE: usize = 1 << 14;

/// The keys (address, or address and lease type) a lease table changed while a reload is
/// prepared: off unless a reload runs, then every insert, removal or mutable borrow notes
/// its key.
#[derive(Debug, Default)]
pub struct Journal<K> {
    keys: Option<Vec<K>>,
}

impl<K: Ord + Copy> Journal<K> {
    /// Notes a changed key (nothing when no reload runs).
    #[inline]
    pub fn note(&mut self, key: K) {
        if let Some(j) = &mut self.keys {
            j.push(key);
        }
    }

    /// Starts noting changed keys (a reload's copy begins now).
    pub fn start(&mut self) {
        self.keys = Some(Vec::with_capacity(JOURNAL_RESERVE));
    }

    /// The keys changed since the journal started or was last drained, sorted and without
    /// repeats; the journal keeps running.
    pub fn drain(&mut self) -> Vec<K> {
        let mut changed = match &mut self.keys {
            Some(j) => std::mem::replace(j, Vec::with_capacity(JOURNAL_RESERVE)),
            None => Vec::new(),
        };
        changed.sort_unstable();
        changed.dedup();
        changed
    }

    /// Stops the journal; returns what it still held, sorted and without repeats.
    pub fn stop(&mut self) -> Vec<K> {
        let mut changed = self.keys.take().unwrap_or_default();
        changed.sort_unstable();
        changed.dedup();
        changed
    }

    pub fn running(&self) -> bool {
        self.keys.is_some()
    }
}

/// A shard state a reload can be built into (`V4Shard`, `V6Shard`).
pub trait ReloadTarget {
    /// What the lease table is keyed by.
    type Key: Ord + Copy;
    /// The key of a lease.
    fn reload_key(lease: &Lease) -> Self::Key;
    /// Loads one lease, claiming its bit; gives it back when the bit is held by another.
    fn reload_load(&mut self, lease: Lease, now: u64) -> Option<Lease>;
    /// Drops the entry at `key` (its bit and counts go back), if any.
    fn reload_forget(&mut self, key: Self::Key);
    /// Leases in the table.
    fn reload_len(&self) -> usize;
}

/// One shard's state under the new configuration, built off the shard (see the module
/// documentation for the protocol).
pub struct ReloadBuild<T: ReloadTarget> {
    next: T,
    /// Leases refused because their bit was claimed (maybe by a stale copy), retried later.
    deferred: Vec<Lease>,
}

impl<T: ReloadTarget> ReloadBuild<T> {
    /// Builds into `empty`: a fresh shard state under the new configuration, whose bitmaps
    /// no running shard uses yet.
    pub fn new(empty: T) -> Self {
        ReloadBuild {
            next: empty,
            deferred: Vec::new(),
        }
    }

    /// Adds copied (or current) leases; a lease whose bit is already claimed is deferred.
    pub fn load(&mut self, leases: impl IntoIterator<Item = Lease>, now: u64) {
        for lease in leases {
            if let Some(refused) = self.next.reload_load(lease, now) {
                self.deferred.push(refused);
            }
        }
    }

    /// Drops what the build holds for `keys` (sorted): the entries (their bits and counts go
    /// back) and deferred leases. Their current versions are loaded afterwards.
    pub fn forget(&mut self, keys: &[T::Key]) {
        for &k in keys {
            self.next.reload_forget(k);
        }
        self.deferred
            .retain(|l| keys.binary_search(&T::reload_key(l)).is_err());
    }

    /// Tries the deferred leases again (after the stale copies were forgotten).
    pub fn retry_deferred(&mut self, now: u64) {
        let pending = std::mem::take(&mut self.deferred);
        self.load(pending, now);
    }

    /// The state being built, for what the family engine adds at the switch besides leases
    /// (the shard's outstanding offers).
    pub fn target_mut(&mut self) -> &mut T {
        &mut self.next
    }

    /// Leases waiting for a bit held by another lease (maybe a stale copy).
    pub fn deferred(&self) -> usize {
        self.deferred.len()
    }

    /// Leases loaded so far (for progress reporting and tests).
    pub fn len(&self) -> usize {
        self.next.reload_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The built state and the number of leases dropped because another lease holds their
    /// address (the family engine then carries the running shard's counters and lease log
    /// over).
    pub fn finish(self) -> (T, usize) {
        (self.next, self.deferred.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_notes_only_while_running_and_drains_sorted_unique() {
        let mut j = Journal::<u32>::default();
        j.note(5);
        assert!(!j.running());
        j.start();
        for k in [9, 3, 9, 1] {
            j.note(k);
        }
        assert_eq!(j.drain(), vec![1, 3, 9]);
        assert!(j.running(), "a drain keeps the journal on");
        j.note(4);
        j.note(4);
        assert_eq!(j.stop(), vec![4]);
        assert!(!j.running());
        j.note(7);
        assert_eq!(j.drain(), Vec::<u32>::new());
    }
}
