//! What the control planes of `dhcp4` and `dhcp6` share: the runtime's per-shard series on
//! `/metrics` (receive/send/drop and hand-off counters, receive-queue depth, reply latency).

use corelease_control::MetricsWriter;
use corelease_shard::Runtime;

/// Appends every shard's runtime counters, receive-queue depth and reply-latency summary.
pub(crate) fn runtime_metrics(runtime: &Runtime, w: &mut MetricsWriter) {
    use corelease_control::MetricKind::{Counter, Summary};
    for (i, c) in runtime.counters().iter().enumerate() {
        let l = [("shard", i.to_string())];
        let rows: [(&str, &str, u64); 11] = [
            (
                "received",
                "Datagrams handed to the shard's DHCP logic",
                c.received,
            ),
            ("sent", "Replies the kernel accepted", c.sent),
            ("send_errors", "Replies not sent", c.send_errors),
            (
                "batches",
                "Receive batches that carried a datagram",
                c.batches,
            ),
            (
                "truncated",
                "Datagrams longer than the 1500 bytes read of each (handled on those, as Kea)",
                c.truncated,
            ),
            ("recv_errors", "Failed receive calls", c.recv_errors),
            (
                "kernel_drops",
                "The socket's kernel drop counter (includes broadcast copies other shards own)",
                c.kernel_drops,
            ),
            (
                "queue_overflow_drops",
                "Datagrams dropped because the shard's receive queue was full (estimate)",
                c.dropped_queue_overflow,
            ),
            (
                "handed_off",
                "Datagrams received for a client another shard owns, handed to that shard",
                c.handed_off,
            ),
            (
                "handoffs_received",
                "Datagrams other shards handed to this one",
                c.handoffs_received,
            ),
            (
                "handoff_dropped",
                "Datagrams not handed off because the owner's hand-off queue was full",
                c.handoff_dropped,
            ),
        ];
        for (name, help, v) in rows {
            w.sample(
                &format!("corelease_shard_{name}_total"),
                help,
                Counter,
                "",
                &l,
                v as f64,
            );
        }
    }
    use corelease_control::MetricKind::Gauge;
    for (i, c) in runtime.counters().iter().enumerate() {
        w.sample(
                "corelease_shard_receive_queue_bytes",
                "Bytes queued in the shard socket's kernel receive buffer (about 2.3 KiB per datagram), read every tick",
                Gauge,
                "",
                &[("shard", i.to_string())],
                c.receive_queue_bytes as f64,
            );
    }
    for (i, h) in runtime.latency().iter().enumerate() {
        let family = "corelease_shard_reply_latency_seconds";
        let help = "Time from the kernel queueing a request to its reply being sent";
        for q in [0.5, 0.99, 0.999] {
            w.sample(
                family,
                help,
                Summary,
                "",
                &[("shard", i.to_string()), ("quantile", q.to_string())],
                h.value_at_quantile(q) as f64 / 1e6,
            );
        }
        let l = [("shard", i.to_string())];
        w.sample(
            family,
            help,
            Summary,
            "_sum",
            &l,
            h.mean() * h.len() as f64 / 1e6,
        );
        w.sample(family, help, Summary, "_count", &l, h.len() as f64);
    }
}

/// Appends how many control jobs (lease commands, reload steps) wait for each shard.
pub(crate) fn job_metrics(depths: impl Iterator<Item = u64>, w: &mut MetricsWriter) {
    use corelease_control::MetricKind::Gauge;
    for (i, d) in depths.enumerate() {
        w.sample(
            "corelease_shard_control_jobs_queued",
            "Control-plane jobs (lease commands, reload steps) waiting for the shard",
            Gauge,
            "",
            &[("shard", i.to_string())],
            d as f64,
        );
    }
}
