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
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The atomic occupancy bitmap of one pool of `len` consecutive addresses (or prefixes).
/// Offsets are relative to the pool's first address.
///
/// Beside the bits it keeps the number of free offsets, split into partitions by
/// `offset % partitions` (each on its own cache line), so an exhausted pool is known without
/// scanning it: a random-MAC DISCOVER flood against a full /8 would otherwise cost a scan of
/// 2 MiB of bitmap (about 1 ms) per packet. Every change of a bit goes through this type and
/// adjusts the count of the bit's partition by the change the atomic RMW reports, so the
/// count is exact whenever no claim or release is in flight (the shards' free queues stripe
/// the pool the same way, so a shard claiming from its own stripe touches only its own
/// partition's line when the shard count divides the partition count).
pub struct AddressBitmap {
    len: u64,
    words: Box<[AtomicU64]>,
    free: Box<[FreeCount]>,
}

/// The free offsets of one partition of a bitmap. Signed because the bit and the count are
/// two atomics: between one thread's release of a bit and its increment, another may claim
/// that bit and decrement first. Summed, the partitions never undercount what stays free once
/// both have finished.
#[repr(align(128))]
struct FreeCount(AtomicI64);

/// Pools of at least this many offsets get [`MAX_FREE_PARTITIONS`] partitions; smaller ones
/// one (a /24 pool's bitmap is 32 bytes: eight padded counters would be 32 times that, and a
/// small pool's scan is cheap anyway).
const PARTITIONED_FROM: u64 = 4096;
/// A power of two, so shards that are a power of two up to it own disjoint partitions.
const MAX_FREE_PARTITIONS: u64 = 8;

impl AddressBitmap {
    pub fn new(len: u64) -> Self {
        let words = len.div_ceil(64) as usize;
        let partitions = if len >= PARTITIONED_FROM {
            MAX_FREE_PARTITIONS
        } else {
            1
        };
        let free = (0..partitions)
            .map(|p| {
                // Offsets p, p + partitions, ... below len.
                let n = len.saturating_sub(p).div_ceil(partitions);
                FreeCount(AtomicI64::new(i64::try_from(n).unwrap_or(i64::MAX)))
            })
            .collect();
        AddressBitmap {
            len,
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            free,
        }
    }

    fn free_count_of(&self, offset: u64) -> Option<&AtomicI64> {
        let partitions = self.free.len() as u64;
        self.free
            .get((offset % partitions.max(1)) as usize)
            .map(|c| &c.0)
    }

    fn count_claimed_offset(&self, offset: u64) {
        if let Some(c) = self.free_count_of(offset) {
            c.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn count_released_offset(&self, offset: u64) {
        if let Some(c) = self.free_count_of(offset) {
            c.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Offsets not claimed, from the partition counts: O(1) in the pool size. Exact when no
    /// claim or release is in flight; during one it may lag the bits by that one change.
    pub fn free_count(&self) -> u64 {
        let sum: i64 = self.free.iter().map(|c| c.0.load(Ordering::Acquire)).sum();
        u64::try_from(sum).unwrap_or(0)
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
            Some((word, bit)) => {
                let won = word.fetch_or(bit, Ordering::AcqRel) & bit == 0;
                if won {
                    self.count_claimed_offset(offset);
                }
                won
            }
            None => false,
        }
    }

    /// Gives `offset` back. Returns whether it was held.
    pub fn release(&self, offset: u64) -> bool {
        match self.slot(offset) {
            Some((word, bit)) => {
                let held = word.fetch_and(!bit, Ordering::AcqRel) & bit != 0;
                if held {
                    self.count_released_offset(offset);
                }
                held
            }
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
    /// own stripe is exhausted to take an address from another shard's stripe. An exhausted
    /// pool answers None from the free count, without a scan.
    pub fn claim_any(&self, start: u64) -> Option<u64> {
        let nwords = self.words.len() as u64;
        if nwords == 0 || self.free_count() == 0 {
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
                    let offset = wi * 64 + u64::from(bit.trailing_zeros());
                    self.count_claimed_offset(offset);
                    return Some(offset);
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
    use proptest::prelude::*;
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
    fn free_count_follows_claims_releases_and_scans() {
        for len in [0, 1, 70, 4095, 4096, 4103] {
            let bm = AddressBitmap::new(len);
            assert_eq!(bm.free_count(), len, "len {len}");
            assert!(!bm.try_claim(len), "out of range changes nothing");
            assert!(!bm.release(len));
            assert_eq!(bm.free_count(), len);
            if len == 0 {
                continue;
            }
            assert!(bm.try_claim(len - 1));
            assert!(
                !bm.try_claim(len - 1),
                "a second claim of a held bit counts nothing"
            );
            assert_eq!(bm.free_count(), len - 1);
            while bm.claim_any(len / 2).is_some() {}
            assert_eq!(bm.free_count(), 0);
            assert!(bm.release(0));
            assert!(
                !bm.release(0),
                "a second release of a free bit counts nothing"
            );
            assert_eq!(bm.free_count(), 1);
            assert_eq!(bm.claim_any(len - 1), Some(0));
            assert_eq!(bm.claim_any(0), None);
        }
    }

    #[test]
    fn concurrent_claims_and_releases_leave_the_count_exact() {
        let bm = Arc::new(AddressBitmap::new(5000));
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let bm = Arc::clone(&bm);
                std::thread::spawn(move || {
                    for round in 0..2000u64 {
                        let off = (round * 7 + t * 13) % 5000;
                        if round % 3 == 0 {
                            bm.release(off);
                        } else if round % 3 == 1 {
                            bm.try_claim(off);
                        } else {
                            bm.claim_any(off);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(bm.free_count(), 5000 - bm.count_claimed());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Claim(u64),
        Release(u64),
        ClaimAny(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..9000u64).prop_map(Op::Claim),
            (0..9000u64).prop_map(Op::Release),
            (0..9000u64).prop_map(Op::ClaimAny),
        ]
    }

    proptest! {
        /// The free count always equals the bitmap's free bits, whatever the order of claims,
        /// releases and scans, for pools with one partition and with several (and offsets out
        /// of range).
        #[test]
        fn free_count_equals_free_bits(
            len in prop_oneof![0..200u64, 4000..9000u64],
            ops in proptest::collection::vec(op(), 0..400),
        ) {
            let bm = AddressBitmap::new(len);
            for op in ops {
                match op {
                    Op::Claim(o) => { bm.try_claim(o); }
                    Op::Release(o) => { bm.release(o); }
                    Op::ClaimAny(o) => { bm.claim_any(o); }
                }
                prop_assert_eq!(bm.free_count(), len - bm.count_claimed());
            }
            // Exhausting the pool by scans leaves a count of zero and a scan that finds nothing.
            while bm.claim_any(0).is_some() {}
            prop_assert_eq!(bm.free_count(), 0);
            prop_assert_eq!(bm.count_claimed(), len);
        }
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
