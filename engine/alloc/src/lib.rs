//! Address allocation for one family: per-pool atomic address bitmaps and per-shard free-lease
//! queues (DESIGN.md "Allocate").
//!
//! The bitmap is the single truth about who holds an address: one bit per address of a pool,
//! shared by all shards, claimed with one atomic read-modify-write. Each shard owns a
//! [`FreeLeaseQueue`] per pool that proposes candidates from its own stripe of the pool
//! (offset % shards == shard), so shards rarely contend on the same bitmap word. A requested
//! address outside the shard's stripe, a reservation, or a lease recovered for another shard are
//! all claimed through the same bitmap, safely and without locks.
//!
//! This crate must never block, lock, or allocate per packet: the queues allocate only when an
//! address is given back (amortised), the bitmap never after construction.

pub mod reclaim;
pub mod reload;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

/// The atomic occupancy bitmap of one pool of `len` consecutive addresses (or prefixes).
/// Offsets are relative to the pool's first address.
pub struct AddressBitmap {
    len: u64,
    words: Box<[AtomicU64]>,
}

impl AddressBitmap {
    pub fn new(len: u64) -> Self {
        let words = len.div_ceil(64) as usize;
        AddressBitmap {
            len,
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(&self, offset: u64) -> Option<(&AtomicU64, u64)> {
        if offset >= self.len {
            return None;
        }
        let word = self.words.get((offset / 64) as usize)?;
        Some((word, 1u64 << (offset % 64)))
    }

    /// Claims `offset`; true when this caller now holds it, false when it was already held (or
    /// out of range). One atomic RMW: two shards can never both win the same address.
    pub fn try_claim(&self, offset: u64) -> bool {
        match self.slot(offset) {
            Some((word, bit)) => word.fetch_or(bit, Ordering::AcqRel) & bit == 0,
            None => false,
        }
    }

    /// Gives `offset` back. Returns whether it was held.
    pub fn release(&self, offset: u64) -> bool {
        match self.slot(offset) {
            Some((word, bit)) => word.fetch_and(!bit, Ordering::AcqRel) & bit != 0,
            None => false,
        }
    }

    pub fn is_claimed(&self, offset: u64) -> bool {
        match self.slot(offset) {
            Some((word, bit)) => word.load(Ordering::Acquire) & bit != 0,
            None => false,
        }
    }

    /// Number of claimed addresses (a scan: for statistics, not the hot path).
    pub fn count_claimed(&self) -> u64 {
        self.words
            .iter()
            .map(|w| u64::from(w.load(Ordering::Relaxed).count_ones()))
            .sum()
    }

    /// Finds and claims any free offset, scanning from `start` (wrapping). Used by a shard whose
    /// own stripe is exhausted to take an address from another shard's stripe.
    pub fn claim_any(&self, start: u64) -> Option<u64> {
        let nwords = self.words.len() as u64;
        if nwords == 0 {
            return None;
        }
        let first_word = (start / 64) % nwords;
        for i in 0..nwords {
            let wi = (first_word + i) % nwords;
            let word = &self.words[wi as usize];
            loop {
                let cur = word.load(Ordering::Acquire);
                let free = !cur & self.valid_mask(wi);
                if free == 0 {
                    break;
                }
                let bit = free & free.wrapping_neg();
                if word.fetch_or(bit, Ordering::AcqRel) & bit == 0 {
                    return Some(wi * 64 + u64::from(bit.trailing_zeros()));
                }
            }
        }
        None
    }

    /// Mask of the bits of word `wi` that stand for real offsets (the last word may be partial).
    fn valid_mask(&self, wi: u64) -> u64 {
        let last = self.len.div_ceil(64).saturating_sub(1);
        if wi < last || self.len.is_multiple_of(64) {
            u64::MAX
        } else {
            (1u64 << (self.len % 64)) - 1
        }
    }
}

/// One shard's source of candidate offsets in one pool.
///
/// Fresh offsets of the shard's stripe are walked lazily by a cursor (no memory per address, so
/// a /8 pool costs nothing up front); offsets given back (released, reclaimed, expired offers)
/// queue behind them, so a released address is reused last, which keeps lease affinity for a
/// client that comes back (as Kea's iterative allocator does). Candidates are only proposals:
/// the caller claims each in the [`AddressBitmap`] and skips those another shard holds.
pub struct FreeLeaseQueue {
    next_fresh: u64,
    stride: u64,
    len: u64,
    recycled: VecDeque<u64>,
}

impl FreeLeaseQueue {
    /// Queue of shard `shard` out of `shards` over a pool of `len` offsets.
    pub fn new(len: u64, shard: usize, shards: usize) -> Self {
        FreeLeaseQueue {
            next_fresh: shard as u64,
            stride: shards.max(1) as u64,
            len,
            recycled: VecDeque::new(),
        }
    }

    /// The next candidate, fresh stripe first, then given-back offsets.
    pub fn pop(&mut self) -> Option<u64> {
        if self.next_fresh < self.len {
            let offset = self.next_fresh;
            self.next_fresh += self.stride;
            return Some(offset);
        }
        self.recycled.pop_front()
    }

    /// Gives an offset back to this shard's queue.
    pub fn push(&mut self, offset: u64) {
        if offset < self.len {
            self.recycled.push_back(offset);
        }
    }

    /// Candidates still queued (an upper bound on what this shard can allocate without stealing).
    pub fn pending(&self) -> u64 {
        let fresh = if self.next_fresh < self.len {
            (self.len - self.next_fresh).div_ceil(self.stride)
        } else {
            0
        };
        fresh + self.recycled.len() as u64
    }
}

/// A contiguous IPv4 pool as offsets from its first address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range4 {
    pub first: u32,
    pub last: u32,
}

impl Range4 {
    pub fn len(&self) -> u64 {
        u64::from(self.last.saturating_sub(self.first)) + 1
    }

    pub fn is_empty(&self) -> bool {
        self.last < self.first
    }

    pub fn contains(&self, addr: u32) -> bool {
        addr >= self.first && addr <= self.last
    }

    pub fn offset_of(&self, addr: u32) -> Option<u64> {
        self.contains(addr).then(|| u64::from(addr - self.first))
    }

    pub fn addr_at(&self, offset: u64) -> Option<u32> {
        if offset < self.len() {
            Some(self.first + offset as u32)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn claim_is_exclusive_and_release_frees() {
        let bm = AddressBitmap::new(100);
        assert!(bm.try_claim(5));
        assert!(!bm.try_claim(5));
        assert!(bm.is_claimed(5));
        assert!(bm.release(5));
        assert!(!bm.release(5));
        assert!(bm.try_claim(5));
        assert!(!bm.try_claim(100), "out of range is never claimable");
        assert_eq!(bm.count_claimed(), 1);
    }

    #[test]
    fn claim_any_never_returns_offsets_past_the_end() {
        let bm = AddressBitmap::new(70);
        let mut got = Vec::new();
        while let Some(o) = bm.claim_any(65) {
            got.push(o);
        }
        got.sort_unstable();
        assert_eq!(got, (0..70).collect::<Vec<_>>());
        assert_eq!(bm.claim_any(0), None);
    }

    #[test]
    fn concurrent_claims_hand_each_address_to_one_thread() {
        let bm = Arc::new(AddressBitmap::new(10_000));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let bm = Arc::clone(&bm);
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    while let Some(o) = bm.claim_any(0) {
                        mine.push(o);
                    }
                    mine
                })
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        let n = all.len();
        all.dedup();
        assert_eq!(n, 10_000);
        assert_eq!(all.len(), 10_000);
    }

    #[test]
    fn queues_partition_the_pool_by_stripe_then_recycle() {
        let mut q0 = FreeLeaseQueue::new(5, 0, 2);
        let mut q1 = FreeLeaseQueue::new(5, 1, 2);
        assert_eq!(q0.pending(), 3);
        assert_eq!(q1.pending(), 2);
        let a: Vec<_> = std::iter::from_fn(|| q0.pop()).collect();
        let b: Vec<_> = std::iter::from_fn(|| q1.pop()).collect();
        assert_eq!(a, vec![0, 2, 4]);
        assert_eq!(b, vec![1, 3]);
        q0.push(3);
        q0.push(99); // outside the pool: ignored
        assert_eq!(q0.pop(), Some(3));
        assert_eq!(q0.pop(), None);
    }

    #[test]
    fn range_offsets_round_trip() {
        let r = Range4 {
            first: 0xC000_0210,
            last: 0xC000_0220,
        };
        assert_eq!(r.len(), 17);
        assert_eq!(r.offset_of(0xC000_0215), Some(5));
        assert_eq!(r.addr_at(5), Some(0xC000_0215));
        assert_eq!(r.addr_at(17), None);
        assert_eq!(r.offset_of(0xC000_0221), None);
    }
}
