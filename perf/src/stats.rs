//! Per-exchange statistics, kept by each worker thread on its own and merged at the end.
//! The counters are perfdhcp's (StatsMgr: sent, received, drops, orphans, rejected leases,
//! non-unique addresses, min/avg/max/std-dev delay); the HDR histogram adds percentiles.
//!
//! Recording a sample never allocates: the histogram is sized for 1 µs .. 60 s up front.

use crate::options::Family;
use hdrhistogram::Histogram;

/// Highest delay the histograms track, in microseconds (a minute: far past any drop time).
const MAX_TRACKED_US: u64 = 60_000_000;

/// The exchanges perfdhcp reports for DHCPv4, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeKind {
    DiscoverOffer,
    RequestAck,
    RenewAck,
    Release,
}

impl ExchangeKind {
    pub const ALL: [ExchangeKind; 4] = [
        ExchangeKind::DiscoverOffer,
        ExchangeKind::RequestAck,
        ExchangeKind::RenewAck,
        ExchangeKind::Release,
    ];

    /// The heading perfdhcp prints ("***Statistics for: ...***").
    pub fn perfdhcp_name(self, family: Family) -> &'static str {
        match (family, self) {
            (Family::V4, ExchangeKind::DiscoverOffer) => "DISCOVER-OFFER",
            (Family::V4, ExchangeKind::RequestAck) => "REQUEST-ACK",
            (Family::V4, ExchangeKind::RenewAck) => "REQUEST-ACK (renewal)",
            (Family::V4, ExchangeKind::Release) => "RELEASE",
            (Family::V6, ExchangeKind::DiscoverOffer) => "SOLICIT-ADVERTISE",
            (Family::V6, ExchangeKind::RequestAck) => "REQUEST-REPLY",
            (Family::V6, ExchangeKind::RenewAck) => "RENEW-REPLY",
            (Family::V6, ExchangeKind::Release) => "RELEASE-REPLY",
        }
    }

    /// Key used in the JSON report.
    pub fn json_key(self, family: Family) -> &'static str {
        match (family, self) {
            (Family::V4, ExchangeKind::DiscoverOffer) => "discover-offer",
            (Family::V4, ExchangeKind::RequestAck) => "request-ack",
            (Family::V4, ExchangeKind::RenewAck) => "renew-ack",
            (Family::V4, ExchangeKind::Release) => "release",
            (Family::V6, ExchangeKind::DiscoverOffer) => "solicit-advertise",
            (Family::V6, ExchangeKind::RequestAck) => "request-reply",
            (Family::V6, ExchangeKind::RenewAck) => "renew-reply",
            (Family::V6, ExchangeKind::Release) => "release-reply",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

fn new_histogram() -> Histogram<u64> {
    // Constant, valid bounds (low >= 1, high >= 2 * low, sigfig <= 5): cannot fail.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).expect("constant histogram bounds are valid")
}

/// Statistics of one exchange type (e.g. DISCOVER-OFFER) as seen by one thread or merged.
#[derive(Clone, Debug)]
pub struct ExchangeStats {
    pub sent: u64,
    pub received: u64,
    /// Replies that matched no outstanding request (late, duplicate or foreign).
    pub orphans: u64,
    /// OFFER without an address, NAK to a REQUEST.
    pub rejected: u64,
    /// -u: an address handed to a second client while the first still held it.
    pub non_unique: u64,
    /// Requests declared lost by the -d drop timer while the run was going on
    /// (perfdhcp's "collected packets").
    pub collected: u64,
    min_ns: u64,
    max_ns: u64,
    sum_ns: f64,
    sum_sq_ms: f64,
    samples: u64,
    histogram: Histogram<u64>,
}

impl Default for ExchangeStats {
    fn default() -> Self {
        ExchangeStats {
            sent: 0,
            received: 0,
            orphans: 0,
            rejected: 0,
            non_unique: 0,
            collected: 0,
            min_ns: u64::MAX,
            max_ns: 0,
            sum_ns: 0.0,
            sum_sq_ms: 0.0,
            samples: 0,
            histogram: new_histogram(),
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
}

impl ExchangeStats {
    /// Records the delay of one matched reply.
    pub fn record_delay(&mut self, delay_ns: u64) {
        self.received += 1;
        self.samples += 1;
        self.min_ns = self.min_ns.min(delay_ns);
        self.max_ns = self.max_ns.max(delay_ns);
        self.sum_ns += delay_ns as f64;
        let ms = delay_ns as f64 / 1e6;
        self.sum_sq_ms += ms * ms;
        let us = (delay_ns / 1000).clamp(1, MAX_TRACKED_US);
        // Clamped into the histogram's range, so recording cannot fail.
        let _ = self.histogram.record(us);
    }

    /// Requests that got no reply (perfdhcp: sent - received, never negative).
    pub fn drops(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    /// Percentage of drops, NaN when nothing was sent (as perfdhcp prints "-nan").
    pub fn drop_ratio_percent(&self) -> f64 {
        if self.sent == 0 {
            f64::NAN
        } else {
            100.0 * self.drops() as f64 / self.sent as f64
        }
    }

    pub fn samples(&self) -> u64 {
        self.samples
    }

    pub fn min_ms(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.min_ns as f64 / 1e6)
    }

    pub fn max_ms(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.max_ns as f64 / 1e6)
    }

    pub fn avg_ms(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.sum_ns / self.samples as f64 / 1e6)
    }

    /// Population standard deviation, as perfdhcp's StatsMgr computes it.
    pub fn std_dev_ms(&self) -> Option<f64> {
        let avg = self.avg_ms()?;
        let var = self.sum_sq_ms / self.samples as f64 - avg * avg;
        Some(var.max(0.0).sqrt())
    }

    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.samples == 0 {
            return None;
        }
        let at = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        Some(Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
        })
    }

    /// Adds another thread's statistics into these.
    pub fn merge(&mut self, other: &ExchangeStats) {
        self.sent += other.sent;
        self.received += other.received;
        self.orphans += other.orphans;
        self.rejected += other.rejected;
        self.non_unique += other.non_unique;
        self.collected += other.collected;
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
        self.sum_ns += other.sum_ns;
        self.sum_sq_ms += other.sum_sq_ms;
        self.samples += other.samples;
        // Both histograms share bounds, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }
}

/// One point of the time series behind --plot and the progress line: what completed during
/// one second of the run.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct SecondSample {
    pub second: u64,
    pub completed: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Collects per-second latency of completed exchanges for one thread. The interval histogram
/// is reset every second; only the samples vector grows, once per second.
#[derive(Debug)]
pub struct TimeSeries {
    interval: Histogram<u64>,
    current_second: u64,
    completed: u64,
    pub samples: Vec<SecondSample>,
}

impl Default for TimeSeries {
    fn default() -> Self {
        TimeSeries {
            interval: new_histogram(),
            current_second: 0,
            completed: 0,
            samples: Vec::with_capacity(64),
        }
    }
}

impl TimeSeries {
    /// Closes every second before `second`.
    pub fn advance_to(&mut self, second: u64) {
        while self.current_second < second {
            let (p50, p99) = if self.completed > 0 {
                (
                    self.interval.value_at_quantile(0.5) as f64 / 1000.0,
                    self.interval.value_at_quantile(0.99) as f64 / 1000.0,
                )
            } else {
                (0.0, 0.0)
            };
            self.samples.push(SecondSample {
                second: self.current_second,
                completed: self.completed,
                p50_ms: p50,
                p99_ms: p99,
            });
            self.interval.reset();
            self.completed = 0;
            self.current_second += 1;
        }
    }

    /// Records one completed exchange (its last leg's delay) at `second` of the run.
    pub fn record(&mut self, second: u64, delay_ns: u64) {
        self.advance_to(second);
        self.completed += 1;
        let _ = self
            .interval
            .record((delay_ns / 1000).clamp(1, MAX_TRACKED_US));
    }

    /// The p99 of the second in progress (for the live progress line), in microseconds.
    pub fn current_p99_us(&self) -> u64 {
        if self.completed == 0 {
            0
        } else {
            self.interval.value_at_quantile(0.99)
        }
    }
}

/// Merges the per-thread series into one, second by second (completed counts add up; the
/// percentiles are approximated by the busiest thread's values weighted by counts).
pub fn merge_series(series: &[Vec<SecondSample>]) -> Vec<SecondSample> {
    let len = series.iter().map(Vec::len).max().unwrap_or(0);
    (0..len)
        .map(|i| {
            let mut out = SecondSample {
                second: i as u64,
                ..SecondSample::default()
            };
            let mut weight = 0.0;
            for s in series.iter().filter_map(|s| s.get(i)) {
                out.completed += s.completed;
                let w = s.completed as f64;
                out.p50_ms += s.p50_ms * w;
                out.p99_ms = out.p99_ms.max(s.p99_ms);
                weight += w;
            }
            if weight > 0.0 {
                out.p50_ms /= weight;
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_give_perfdhcp_min_avg_max_and_population_std_dev() {
        let mut s = ExchangeStats {
            sent: 4,
            ..Default::default()
        };
        for ms in [1u64, 2, 3] {
            s.record_delay(ms * 1_000_000);
        }
        assert_eq!(s.received, 3);
        assert_eq!(s.drops(), 1);
        assert_eq!(s.drop_ratio_percent(), 25.0);
        assert_eq!(s.min_ms(), Some(1.0));
        assert_eq!(s.max_ms(), Some(3.0));
        assert_eq!(s.avg_ms(), Some(2.0));
        let sd = s.std_dev_ms().unwrap_or(-1.0);
        assert!((sd - (2.0f64 / 3.0).sqrt()).abs() < 1e-9, "std dev {sd}");
    }

    #[test]
    fn empty_stats_have_no_delays_and_nan_ratio() {
        let s = ExchangeStats::default();
        assert_eq!(s.min_ms(), None);
        assert_eq!(s.percentiles(), None);
        assert!(s.drop_ratio_percent().is_nan());
    }

    #[test]
    fn merge_adds_counts_and_keeps_extremes() {
        let mut a = ExchangeStats {
            sent: 2,
            ..Default::default()
        };
        a.record_delay(5_000_000);
        let mut b = ExchangeStats {
            sent: 3,
            orphans: 1,
            ..Default::default()
        };
        b.record_delay(1_000_000);
        b.record_delay(9_000_000);
        a.merge(&b);
        assert_eq!((a.sent, a.received, a.orphans), (5, 3, 1));
        assert_eq!(a.min_ms(), Some(1.0));
        assert_eq!(a.max_ms(), Some(9.0));
        let p = a.percentiles().unwrap_or(Percentiles {
            p50: 0.0,
            p90: 0.0,
            p99: 0.0,
            p999: 0.0,
        });
        assert!((p.p50 - 5.0).abs() < 0.01, "p50 {}", p.p50);
        assert!((p.p999 - 9.0).abs() < 0.01, "p99.9 {}", p.p999);
    }

    #[test]
    fn time_series_closes_empty_seconds_and_merges() {
        let mut t = TimeSeries::default();
        t.record(0, 1_000_000);
        t.record(2, 2_000_000);
        t.record(2, 2_000_000);
        t.advance_to(3);
        let counts: Vec<u64> = t.samples.iter().map(|s| s.completed).collect();
        assert_eq!(counts, vec![1, 0, 2]);
        let merged = merge_series(&[t.samples.clone(), t.samples.clone()]);
        let counts: Vec<u64> = merged.iter().map(|s| s.completed).collect();
        assert_eq!(counts, vec![2, 0, 4]);
        assert!((merged[2].p50_ms - 2.0).abs() < 0.05);
    }
}
