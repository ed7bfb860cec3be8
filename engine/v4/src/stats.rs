//! Per-shard DHCPv4 counters with Kea's statistic names (ARM 9.2 "Statistics in the DHCPv4
//! Server"). Each shard writes only its own counters (a relaxed load and store, no lock, no
//! contended RMW); the control thread reads every shard's and sums them on demand.

pub use corelease_types::{Counter, Gauge};

macro_rules! global_counters {
    ($($field:ident => $name:literal),* $(,)?) => {
        /// Global DHCPv4 counters of one shard.
        #[derive(Default, Debug)]
        #[repr(align(64))]
        pub struct GlobalCounters4 { $(pub $field: Counter,)* }

        impl GlobalCounters4 {
            /// (Kea statistic name, value) for every counter.
            pub fn each(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$(($name, self.$field.get()),)*].into_iter()
            }
        }
    };
}

global_counters! {
    pkt4_received => "pkt4-received",
    pkt4_discover_received => "pkt4-discover-received",
    pkt4_offer_received => "pkt4-offer-received",
    pkt4_request_received => "pkt4-request-received",
    pkt4_ack_received => "pkt4-ack-received",
    pkt4_nak_received => "pkt4-nak-received",
    pkt4_release_received => "pkt4-release-received",
    pkt4_decline_received => "pkt4-decline-received",
    pkt4_inform_received => "pkt4-inform-received",
    pkt4_unknown_received => "pkt4-unknown-received",
    pkt4_sent => "pkt4-sent",
    pkt4_offer_sent => "pkt4-offer-sent",
    pkt4_ack_sent => "pkt4-ack-sent",
    pkt4_nak_sent => "pkt4-nak-sent",
    pkt4_parse_failed => "pkt4-parse-failed",
    pkt4_receive_drop => "pkt4-receive-drop",
    v4_allocation_fail => "v4-allocation-fail",
    v4_allocation_fail_shared_network => "v4-allocation-fail-shared-network",
    v4_allocation_fail_subnet => "v4-allocation-fail-subnet",
    v4_allocation_fail_no_pools => "v4-allocation-fail-no-pools",
    v4_allocation_fail_classes => "v4-allocation-fail-classes",
    v4_lease_reuses => "v4-lease-reuses",
    reclaimed_leases => "reclaimed-leases",
    reclaimed_declined_addresses => "reclaimed-declined-addresses",
    cumulative_assigned_addresses => "cumulative-assigned-addresses",
}

/// Per-subnet counters of one shard (`subnet[id].*`).
#[derive(Default, Debug)]
pub struct SubnetCounters4 {
    pub assigned_addresses: Gauge,
    pub declined_addresses: Gauge,
    pub cumulative_assigned_addresses: Counter,
    pub reclaimed_leases: Counter,
    pub reclaimed_declined_addresses: Counter,
    pub v4_allocation_fail: Counter,
    pub v4_allocation_fail_shared_network: Counter,
    pub v4_allocation_fail_subnet: Counter,
    pub v4_allocation_fail_no_pools: Counter,
    pub v4_allocation_fail_classes: Counter,
}

/// Per-pool counters of one shard (`subnet[id].pool[pid].*`).
#[derive(Default, Debug)]
pub struct PoolCounters4 {
    pub assigned_addresses: Gauge,
    pub declined_addresses: Gauge,
    pub cumulative_assigned_addresses: Counter,
    pub reclaimed_leases: Counter,
    pub reclaimed_declined_addresses: Counter,
}

/// All counters of one shard; shared (`Arc`) with the control thread.
#[derive(Debug)]
pub struct ShardStats4 {
    pub global: GlobalCounters4,
    pub subnets: Box<[SubnetCounters4]>,
    pub pools: Box<[PoolCounters4]>,
    /// Declined addresses over all subnets (`declined-addresses`).
    pub declined_addresses: Gauge,
}

impl ShardStats4 {
    pub fn new(subnets: usize, pools: usize) -> Self {
        ShardStats4 {
            global: GlobalCounters4::default(),
            subnets: (0..subnets).map(|_| SubnetCounters4::default()).collect(),
            pools: (0..pools).map(|_| PoolCounters4::default()).collect(),
            declined_addresses: Gauge::default(),
        }
    }
}

/// Sums the shards' counters into Kea's flat statistic names, ready for `statistic-get-all`
/// and `/metrics`. Gauges are summed and clamped at zero.
pub fn kea_statistics(
    prepared: &crate::Prepared4,
    shards: &[std::sync::Arc<ShardStats4>],
) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = Vec::new();
    if let Some(first) = shards.first() {
        for (i, (name, _)) in first.global.each().enumerate() {
            let sum: u64 = shards
                .iter()
                .filter_map(|s| s.global.each().nth(i).map(|(_, v)| v))
                .sum();
            out.push((name.to_string(), sum as i64));
        }
    }
    let declined: i64 = shards.iter().map(|s| s.declined_addresses.get()).sum();
    out.push(("declined-addresses".into(), declined.max(0)));
    for (si, subnet) in prepared.subnets.iter().enumerate() {
        let id = subnet.id;
        let sum_g = |f: &dyn Fn(&SubnetCounters4) -> i64| -> i64 {
            shards
                .iter()
                .filter_map(|s| s.subnets.get(si).map(f))
                .sum::<i64>()
                .max(0)
        };
        out.push((
            format!("subnet[{id}].total-addresses"),
            subnet.total_addresses as i64,
        ));
        out.push((
            format!("subnet[{id}].assigned-addresses"),
            sum_g(&|c| c.assigned_addresses.get()),
        ));
        out.push((
            format!("subnet[{id}].declined-addresses"),
            sum_g(&|c| c.declined_addresses.get()),
        ));
        out.push((
            format!("subnet[{id}].cumulative-assigned-addresses"),
            sum_g(&|c| c.cumulative_assigned_addresses.get() as i64),
        ));
        out.push((
            format!("subnet[{id}].reclaimed-leases"),
            sum_g(&|c| c.reclaimed_leases.get() as i64),
        ));
        out.push((
            format!("subnet[{id}].reclaimed-declined-addresses"),
            sum_g(&|c| c.reclaimed_declined_addresses.get() as i64),
        ));
        out.push((
            format!("subnet[{id}].v4-allocation-fail"),
            sum_g(&|c| c.v4_allocation_fail.get() as i64),
        ));
        out.push((
            format!("subnet[{id}].v4-allocation-fail-shared-network"),
            sum_g(&|c| c.v4_allocation_fail_shared_network.get() as i64),
        ));
        out.push((
            format!("subnet[{id}].v4-allocation-fail-subnet"),
            sum_g(&|c| c.v4_allocation_fail_subnet.get() as i64),
        ));
        out.push((
            format!("subnet[{id}].v4-allocation-fail-no-pools"),
            sum_g(&|c| c.v4_allocation_fail_no_pools.get() as i64),
        ));
        out.push((
            format!("subnet[{id}].v4-allocation-fail-classes"),
            sum_g(&|c| c.v4_allocation_fail_classes.get() as i64),
        ));
        // Pools with the same pool-id in a subnet share their statistics (ARM 9.x
        // "Statistics in the DHCPv4 Server": the id is 0 unless configured, and the
        // statistics of one id are the sums over its pools).
        let first = out.len();
        for &pi in &subnet.pools {
            let Some(pool) = prepared.pools.get(pi) else {
                continue;
            };
            let pid = pool.pool_id;
            let sum_p = |f: &dyn Fn(&PoolCounters4) -> i64| -> i64 {
                shards
                    .iter()
                    .filter_map(|s| s.pools.get(pi).map(f))
                    .sum::<i64>()
                    .max(0)
            };
            let values = [
                ("total-addresses", pool.range.len() as i64),
                ("assigned-addresses", sum_p(&|c| c.assigned_addresses.get())),
                ("declined-addresses", sum_p(&|c| c.declined_addresses.get())),
                (
                    "cumulative-assigned-addresses",
                    sum_p(&|c| c.cumulative_assigned_addresses.get() as i64),
                ),
                (
                    "reclaimed-leases",
                    sum_p(&|c| c.reclaimed_leases.get() as i64),
                ),
                (
                    "reclaimed-declined-addresses",
                    sum_p(&|c| c.reclaimed_declined_addresses.get() as i64),
                ),
            ];
            for (what, value) in values {
                let stat = format!("subnet[{id}].pool[{pid}].{what}");
                match out
                    .get_mut(first..)
                    .and_then(|o| o.iter_mut().find(|(n, _)| *n == stat))
                {
                    Some((_, v)) => *v = v.saturating_add(value),
                    None => out.push((stat, value)),
                }
            }
        }
    }
    out
}
