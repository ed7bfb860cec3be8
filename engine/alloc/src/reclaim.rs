//! When a shard reclaims expired leases and how much one reclamation cycle may do: Kea's
//! `expired-leases-processing` (ARM chapter 12, "Lease Reclamation"), shared by DHCPv4 and
//! DHCPv6 so both bound their cycles the same way.
//!
//! A cycle starts every `reclaim-timer-wait-time` seconds and stops at whichever comes first:
//! no expired lease left, `max-reclaim-leases` reclaimed, or `max-reclaim-time` milliseconds
//! spent (0 = no bound for either). Kea counts the cycles in a row that ended with expired
//! leases left and warns after `unwarned-reclaim-cycles` of them
//! (ALLOC_ENGINE_V4/V6_LEASES_RECLAMATION_SLOW).
//!
//! A shard must never stall its packets for long, so a cycle is also cut after a per-tick
//! number of leases that no configuration can raise; such a cycle continues at the next tick
//! with what it has left of its configured budget (it is one Kea cycle spread over ticks, not
//! a new one). Time comes from the caller (a monotonic reading): this module reads no clock.

use std::time::Duration;

/// The `expired-leases-processing` values that bound reclamation cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReclaimLimits {
    /// Seconds between cycles; 0 turns periodic reclamation off.
    pub wait_secs: u32,
    /// Leases per cycle; 0 = no limit.
    pub max_leases: u32,
    /// Length of a cycle; zero = no limit.
    pub max_time: Duration,
    /// Incomplete cycles in a row before a warning; 0 = never warn.
    pub unwarned_cycles: u32,
    /// Leases one tick may reclaim whatever the configuration says.
    pub per_tick_cap: u32,
}

/// Which family's log message IDs a cycle uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReclaimFamily {
    V4,
    V6,
}

/// How a cycle (or the slice of it run in one tick) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CycleEnd {
    /// No expired lease is left.
    Complete,
    /// `max-reclaim-leases` reached with expired leases left.
    LeaseLimit,
    /// `max-reclaim-time` reached with expired leases left.
    Timeout,
    /// The per-tick cap was reached: the same cycle goes on at the next tick.
    TickCap,
}

/// The schedule and the incomplete-cycle count of one shard.
#[derive(Debug, Default)]
pub struct ReclaimCycles {
    /// When the next cycle starts (seconds, the caller's clock).
    next: u64,
    /// A cycle the per-tick cap cut short: what it already used of its budget.
    open: Option<Spent>,
    /// Cycles in a row that ended with expired leases left (Kea's incomplete_v4_reclamations_).
    incomplete_in_a_row: u32,
    /// How many ALLOC_ENGINE_*_LEASES_RECLAMATION_SLOW warnings were issued.
    slow_warnings: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Spent {
    leases: u64,
    time: Duration,
}

/// One tick's slice of a running cycle: asks before each lease whether it may reclaim another.
#[derive(Debug)]
pub struct CycleSlice {
    limits: ReclaimLimits,
    spent_before: Spent,
    started_at: Duration,
    leases: u64,
    family: ReclaimFamily,
}

impl CycleSlice {
    /// Whether one more lease may be reclaimed in this slice at monotonic time `clock`;
    /// otherwise why the slice ends. Call it only when an expired lease is waiting.
    pub fn admit(&self, clock: Duration) -> Result<(), CycleEnd> {
        let total = self.spent_before.leases + self.leases;
        if self.limits.max_leases > 0 && total >= u64::from(self.limits.max_leases) {
            return Err(CycleEnd::LeaseLimit);
        }
        // Kea checks the time after each lease, so a cycle always reclaims at least one.
        if !self.limits.max_time.is_zero()
            && self.leases + self.spent_before.leases > 0
            && self.spent_before.time + clock.saturating_sub(self.started_at)
                >= self.limits.max_time
        {
            return Err(CycleEnd::Timeout);
        }
        if self.leases >= u64::from(self.limits.per_tick_cap.max(1)) {
            return Err(CycleEnd::TickCap);
        }
        Ok(())
    }

    /// Notes one reclaimed lease.
    pub fn reclaimed_one(&mut self) {
        self.leases += 1;
    }

    /// Leases reclaimed in this slice.
    pub fn leases(&self) -> u64 {
        self.leases
    }
}

impl ReclaimCycles {
    /// Starts a cycle's slice if one is due at `now` (seconds); `clock` is a monotonic reading.
    pub fn begin(
        &mut self,
        now: u64,
        clock: Duration,
        limits: ReclaimLimits,
        family: ReclaimFamily,
    ) -> Option<CycleSlice> {
        if limits.wait_secs == 0 || now < self.next {
            return None;
        }
        let spent_before = match self.open.take() {
            Some(spent) => spent,
            None => {
                let ms = limits.max_time.as_millis();
                match family {
                    ReclaimFamily::V4 => {
                        tracing::debug!(target: "ALLOC_ENGINE_V4_LEASES_RECLAMATION_START",
                        "starting reclamation of expired leases (limit = {} leases or {ms} milliseconds)", limits.max_leases)
                    }
                    ReclaimFamily::V6 => {
                        tracing::debug!(target: "ALLOC_ENGINE_V6_LEASES_RECLAMATION_START",
                        "starting reclamation of expired leases (limit = {} leases or {ms} milliseconds)", limits.max_leases)
                    }
                }
                Spent::default()
            }
        };
        Some(CycleSlice {
            limits,
            spent_before,
            started_at: clock,
            leases: 0,
            family,
        })
    }

    /// Ends a slice at `now` (seconds) and monotonic time `clock`; `end` says why. Schedules
    /// the next cycle (or the rest of this one at the next tick) and counts incomplete cycles,
    /// warning as Kea does after `unwarned-reclaim-cycles` of them in a row.
    pub fn end(&mut self, slice: CycleSlice, now: u64, clock: Duration, end: CycleEnd) {
        let spent = Spent {
            leases: slice.spent_before.leases + slice.leases,
            time: slice.spent_before.time + clock.saturating_sub(slice.started_at),
        };
        let limits = slice.limits;
        if end == CycleEnd::TickCap {
            self.open = Some(spent);
            self.next = now;
            return;
        }
        self.next = now.saturating_add(u64::from(limits.wait_secs));
        let ms = limits.max_time.as_millis();
        match (slice.family, end) {
            (ReclaimFamily::V4, CycleEnd::Timeout) => {
                tracing::debug!(target: "ALLOC_ENGINE_V4_LEASES_RECLAMATION_TIMEOUT",
                "timeout of {ms} ms reached while reclaiming IPv4 leases")
            }
            (ReclaimFamily::V6, CycleEnd::Timeout) => {
                tracing::debug!(target: "ALLOC_ENGINE_V6_LEASES_RECLAMATION_TIMEOUT",
                "timeout of {ms} ms reached while reclaiming IPv6 leases")
            }
            _ => {}
        }
        match slice.family {
            ReclaimFamily::V4 => {
                tracing::debug!(target: "ALLOC_ENGINE_V4_LEASES_RECLAMATION_COMPLETE",
                "reclaimed {} leases in {:?}", spent.leases, spent.time)
            }
            ReclaimFamily::V6 => {
                tracing::debug!(target: "ALLOC_ENGINE_V6_LEASES_RECLAMATION_COMPLETE",
                "reclaimed {} leases in {:?}", spent.leases, spent.time)
            }
        }
        if end == CycleEnd::Complete {
            self.incomplete_in_a_row = 0;
            return;
        }
        if limits.unwarned_cycles == 0 {
            return;
        }
        self.incomplete_in_a_row += 1;
        if self.incomplete_in_a_row > limits.unwarned_cycles {
            let n = limits.unwarned_cycles;
            match slice.family {
                ReclaimFamily::V4 => {
                    tracing::warn!(target: "ALLOC_ENGINE_V4_LEASES_RECLAMATION_SLOW",
                    "expired leases still exist after {n} reclamations")
                }
                ReclaimFamily::V6 => {
                    tracing::warn!(target: "ALLOC_ENGINE_V6_LEASES_RECLAMATION_SLOW",
                    "expired leases still exist after {n} reclamations")
                }
            }
            self.slow_warnings += 1;
            self.incomplete_in_a_row = 0;
        }
    }

    /// Cycles in a row that ended with expired leases left.
    pub fn incomplete_in_a_row(&self) -> u32 {
        self.incomplete_in_a_row
    }

    /// How many "reclamation is too slow" warnings were issued.
    pub fn slow_warnings(&self) -> u64 {
        self.slow_warnings
    }
}

/// Leases reclaimed or released, kept `hold-reclaimed-time` seconds for lease affinity and
/// then removed every `flush-reclaimed-timer-wait-time` seconds (ARM chapter 12; 0 turns
/// flushing off). Keyed by the family's lease-table key; entries may be stale (the lease was
/// renewed or deleted since): the family checks the lease before removing it. Ordered by
/// time, so leases noted out of order (recovered or reloaded ones) are flushed on time too.
#[derive(Debug)]
pub struct HoldQueue<K> {
    /// (time reclaimed or released, key), earliest first.
    queue: std::collections::BinaryHeap<std::cmp::Reverse<(u64, K)>>,
    next_flush: u64,
}

impl<K: Ord> Default for HoldQueue<K> {
    fn default() -> Self {
        HoldQueue {
            queue: std::collections::BinaryHeap::new(),
            next_flush: 0,
        }
    }
}

impl<K: Ord> HoldQueue<K> {
    /// Notes that the lease at `key` was reclaimed or released at `t`.
    pub fn note(&mut self, t: u64, key: K) {
        self.queue.push(std::cmp::Reverse((t, key)));
    }

    /// Whether a flush is due at `now` with `wait_secs` between flushes (0: never); when it
    /// is, the next one is scheduled.
    pub fn flush_due(&mut self, now: u64, wait_secs: u32) -> bool {
        if wait_secs == 0 || now < self.next_flush {
            return false;
        }
        self.next_flush = now + u64::from(wait_secs);
        true
    }

    /// The next noted lease whose hold time ended by `now`: (time noted, key), maybe stale.
    pub fn pop_held_out(&mut self, now: u64, hold: u64) -> Option<(u64, K)> {
        match self.queue.peek() {
            Some(std::cmp::Reverse((t, _))) if t.saturating_add(hold) <= now => {
                self.queue.pop().map(|std::cmp::Reverse(x)| x)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_leases: u32, max_ms: u64, unwarned: u32) -> ReclaimLimits {
        ReclaimLimits {
            wait_secs: 10,
            max_leases,
            max_time: Duration::from_millis(max_ms),
            unwarned_cycles: unwarned,
            per_tick_cap: 1000,
        }
    }

    /// Runs one slice against `expired` waiting leases, each taking `per_lease` of clock.
    fn run(
        c: &mut ReclaimCycles,
        now: u64,
        l: ReclaimLimits,
        expired: &mut u64,
        per_lease: Duration,
        clock: &mut Duration,
    ) -> Option<(u64, CycleEnd)> {
        let mut s = c.begin(now, *clock, l, ReclaimFamily::V4)?;
        let end = loop {
            if *expired == 0 {
                break CycleEnd::Complete;
            }
            if let Err(e) = s.admit(*clock) {
                break e;
            }
            *expired -= 1;
            *clock += per_lease;
            s.reclaimed_one();
        };
        let n = s.leases();
        c.end(s, now, *clock, end);
        Some((n, end))
    }

    #[test]
    fn lease_limit_ends_a_cycle_and_the_next_waits_the_timer() {
        let mut c = ReclaimCycles::default();
        let (mut left, mut clock) = (250, Duration::ZERO);
        let l = limits(100, 0, 5);
        assert_eq!(
            run(&mut c, 0, l, &mut left, Duration::ZERO, &mut clock),
            Some((100, CycleEnd::LeaseLimit))
        );
        assert_eq!(
            run(&mut c, 9, l, &mut left, Duration::ZERO, &mut clock),
            None
        );
        assert_eq!(
            run(&mut c, 10, l, &mut left, Duration::ZERO, &mut clock),
            Some((100, CycleEnd::LeaseLimit))
        );
        assert_eq!(
            run(&mut c, 20, l, &mut left, Duration::ZERO, &mut clock),
            Some((50, CycleEnd::Complete))
        );
    }

    #[test]
    fn max_reclaim_time_ends_a_cycle_after_at_least_one_lease() {
        let mut c = ReclaimCycles::default();
        let (mut left, mut clock) = (1000, Duration::ZERO);
        let l = limits(0, 10, 5);
        // 1 ms per lease, 10 ms per cycle: 10 leases.
        assert_eq!(
            run(
                &mut c,
                0,
                l,
                &mut left,
                Duration::from_millis(1),
                &mut clock
            ),
            Some((10, CycleEnd::Timeout))
        );
        // One lease slower than the whole budget still gets reclaimed.
        assert_eq!(
            run(
                &mut c,
                10,
                l,
                &mut left,
                Duration::from_millis(50),
                &mut clock
            ),
            Some((1, CycleEnd::Timeout))
        );
    }

    #[test]
    fn tick_cap_continues_the_same_cycle_with_its_remaining_budget() {
        let mut c = ReclaimCycles::default();
        let (mut left, mut clock) = (5000, Duration::ZERO);
        let mut l = limits(2500, 0, 1);
        l.per_tick_cap = 1000;
        let z = Duration::ZERO;
        assert_eq!(
            run(&mut c, 0, l, &mut left, z, &mut clock),
            Some((1000, CycleEnd::TickCap))
        );
        assert_eq!(c.incomplete_in_a_row(), 0, "not a finished cycle");
        assert_eq!(
            run(&mut c, 0, l, &mut left, z, &mut clock),
            Some((1000, CycleEnd::TickCap))
        );
        assert_eq!(
            run(&mut c, 0, l, &mut left, z, &mut clock),
            Some((500, CycleEnd::LeaseLimit))
        );
        assert_eq!(c.incomplete_in_a_row(), 1);
        assert_eq!(run(&mut c, 5, l, &mut left, z, &mut clock), None);
    }

    #[test]
    fn warns_after_unwarned_reclaim_cycles_incomplete_cycles_in_a_row() {
        let mut c = ReclaimCycles::default();
        let (mut left, mut clock) = (10_000, Duration::ZERO);
        let l = limits(10, 0, 3);
        for cycle in 1..=3u64 {
            run(&mut c, cycle * 10, l, &mut left, Duration::ZERO, &mut clock);
        }
        assert_eq!(
            c.slow_warnings(),
            0,
            "three incomplete cycles are still unwarned"
        );
        run(&mut c, 40, l, &mut left, Duration::ZERO, &mut clock);
        assert_eq!(c.slow_warnings(), 1);
        assert_eq!(
            c.incomplete_in_a_row(),
            0,
            "Kea restarts the count after warning"
        );
        // A complete cycle resets the count.
        run(&mut c, 50, l, &mut left, Duration::ZERO, &mut clock);
        left = 5;
        run(&mut c, 60, l, &mut left, Duration::ZERO, &mut clock);
        assert_eq!(c.incomplete_in_a_row(), 0);
    }

    #[test]
    fn unwarned_reclaim_cycles_zero_never_warns() {
        let mut c = ReclaimCycles::default();
        let (mut left, mut clock) = (10_000, Duration::ZERO);
        let l = limits(10, 0, 0);
        for cycle in 0..20u64 {
            run(&mut c, cycle * 10, l, &mut left, Duration::ZERO, &mut clock);
        }
        assert_eq!(c.slow_warnings(), 0);
    }

    #[test]
    fn wait_time_zero_turns_reclamation_off() {
        let mut c = ReclaimCycles::default();
        let mut l = limits(0, 0, 5);
        l.wait_secs = 0;
        assert!(c.begin(100, Duration::ZERO, l, ReclaimFamily::V4).is_none());
    }

    #[test]
    fn hold_queue_releases_in_time_order_after_the_hold_and_flushes_on_its_timer() {
        let mut q = HoldQueue::<u32>::default();
        q.note(100, 7);
        q.note(50, 3);
        assert!(q.flush_due(0, 25));
        assert!(!q.flush_due(24, 25), "between two flushes");
        assert!(q.flush_due(25, 25));
        assert!(!q.flush_due(1000, 0), "0 turns flushing off");
        assert_eq!(q.pop_held_out(80, 40), None, "hold not over for either");
        assert_eq!(q.pop_held_out(90, 40), Some((50, 3)), "earliest first");
        assert_eq!(q.pop_held_out(90, 40), None);
        assert_eq!(q.pop_held_out(140, 40), Some((100, 7)));
    }
}
