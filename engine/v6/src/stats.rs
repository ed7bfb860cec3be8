//! Per-shard DHCPv6 counters with Kea's statistic names (ARM 10.x "Statistics in the DHCPv6
//! Server"). Each shard writes only its own counters (a relaxed load and store, no lock); the
//! control thread sums every shard's on demand with [`kea_statistics6`].

pub use corelease_types::{Counter, Gauge};

macro_rules! global_counters {
    ($($field:ident => $name:literal),* $(,)?) => {
        /// Global DHCPv6 counters of one shard.
        #[derive(Default, Debug)]
        #[repr(align(64))]
        pub struct GlobalCounters6 { $(pub $field: Counter,)* }

        impl GlobalCounters6 {
            /// (Kea statistic name, value) for every counter.
            pub fn each(&self) -> [(&'static str, u64); [$($name),*].len()] {
                [$(($name, self.$field.get()),)*]
            }

            /// Adds every counter to `to`'s (a config reload carries them to the new state).
            pub fn carry_to(&self, to: &Self) {
                $( to.$field.add(self.$field.get()); )*
            }
        }
    };
}

global_counters! {
    pkt6_received => "pkt6-received",
    pkt6_solicit_received => "pkt6-solicit-received",
    pkt6_advertise_received => "pkt6-advertise-received",
    pkt6_request_received => "pkt6-request-received",
    pkt6_reply_received => "pkt6-reply-received",
    pkt6_renew_received => "pkt6-renew-received",
    pkt6_rebind_received => "pkt6-rebind-received",
    pkt6_release_received => "pkt6-release-received",
    pkt6_decline_received => "pkt6-decline-received",
    pkt6_infrequest_received => "pkt6-infrequest-received",
    pkt6_dhcpv4_query_received => "pkt6-dhcpv4-query-received",
    pkt6_dhcpv4_response_received => "pkt6-dhcpv4-response-received",
    pkt6_unknown_received => "pkt6-unknown-received",
    pkt6_parse_failed => "pkt6-parse-failed",
    pkt6_receive_drop => "pkt6-receive-drop",
    pkt6_sent => "pkt6-sent",
    pkt6_advertise_sent => "pkt6-advertise-sent",
    pkt6_reply_sent => "pkt6-reply-sent",
    pkt6_dhcpv4_response_sent => "pkt6-dhcpv4-response-sent",
    reclaimed_leases => "reclaimed-leases",
    reclaimed_declined_addresses => "reclaimed-declined-addresses",
    cumulative_assigned_nas => "cumulative-assigned-nas",
    cumulative_assigned_pds => "cumulative-assigned-pds",
    v6_ia_na_lease_reuses => "v6-ia-na-lease-reuses",
    v6_ia_pd_lease_reuses => "v6-ia-pd-lease-reuses",
    v6_allocation_fail => "v6-allocation-fail",
    v6_allocation_fail_shared_network => "v6-allocation-fail-shared-network",
    v6_allocation_fail_subnet => "v6-allocation-fail-subnet",
    v6_allocation_fail_no_pools => "v6-allocation-fail-no-pools",
    v6_allocation_fail_classes => "v6-allocation-fail-classes",
}

/// Per-subnet counters of one shard (`subnet[id].*`).
#[derive(Default, Debug)]
pub struct SubnetCounters6 {
    pub assigned_nas: Gauge,
    pub assigned_pds: Gauge,
    pub declined_addresses: Gauge,
    pub cumulative_assigned_nas: Counter,
    pub cumulative_assigned_pds: Counter,
    pub reclaimed_leases: Counter,
    pub reclaimed_declined_addresses: Counter,
    pub v6_ia_na_lease_reuses: Counter,
    pub v6_ia_pd_lease_reuses: Counter,
    pub v6_allocation_fail: Counter,
    pub v6_allocation_fail_shared_network: Counter,
    pub v6_allocation_fail_subnet: Counter,
    pub v6_allocation_fail_no_pools: Counter,
    pub v6_allocation_fail_classes: Counter,
}

impl SubnetCounters6 {
    /// Adds the cumulative counters to `to`'s (the gauges are counted from the leases).
    pub fn carry_to(&self, to: &Self) {
        to.cumulative_assigned_nas
            .add(self.cumulative_assigned_nas.get());
        to.cumulative_assigned_pds
            .add(self.cumulative_assigned_pds.get());
        to.reclaimed_leases.add(self.reclaimed_leases.get());
        to.reclaimed_declined_addresses
            .add(self.reclaimed_declined_addresses.get());
        to.v6_ia_na_lease_reuses
            .add(self.v6_ia_na_lease_reuses.get());
        to.v6_ia_pd_lease_reuses
            .add(self.v6_ia_pd_lease_reuses.get());
    }
}

/// Per-pool counters of one shard, indexed as `Prepared6::pools` (Kea 3.0's
/// `subnet[id].pool[pid].*` and `subnet[id].pd-pool[pid].*`, ARM 10.x "Statistics in the
/// DHCPv6 Server"). `assigned` / `cumulative_assigned` are the `-nas` statistics of an
/// address pool and the `-pds` ones of a pd-pool; the declined ones stay 0 in a pd-pool
/// (prefixes are not declined, RFC 8415 18.3.8).
#[derive(Default, Debug)]
pub struct PoolCounters6 {
    pub assigned: Gauge,
    pub declined_addresses: Gauge,
    pub cumulative_assigned: Counter,
    pub reclaimed_leases: Counter,
    pub reclaimed_declined_addresses: Counter,
}

impl PoolCounters6 {
    /// Adds the cumulative counters to `to`'s (the gauges are counted from the leases).
    pub fn carry_to(&self, to: &Self) {
        to.cumulative_assigned.add(self.cumulative_assigned.get());
        to.reclaimed_leases.add(self.reclaimed_leases.get());
        to.reclaimed_declined_addresses
            .add(self.reclaimed_declined_addresses.get());
    }
}

/// All counters of one shard; shared (`Arc`) with the control thread.
#[derive(Debug)]
pub struct ShardStats6 {
    pub global: GlobalCounters6,
    pub subnets: Box<[SubnetCounters6]>,
    pub pools: Box<[PoolCounters6]>,
    /// Declined addresses over all subnets (`declined-addresses`).
    pub declined_addresses: Gauge,
}

impl ShardStats6 {
    pub fn new(subnets: usize, pools: usize) -> Self {
        ShardStats6 {
            global: GlobalCounters6::default(),
            subnets: (0..subnets).map(|_| SubnetCounters6::default()).collect(),
            pools: (0..pools).map(|_| PoolCounters6::default()).collect(),
            declined_addresses: Gauge::default(),
        }
    }
}

/// One per-subnet counter, read as a statistic value.
type SubnetStat = fn(&SubnetCounters6) -> i64;

/// One per-pool counter, read as a statistic value.
type PoolStat = fn(&PoolCounters6) -> i64;

/// Sums the shards' counters into Kea's flat statistic names (`statistic-get-all`,
/// `/metrics`). Gauges are clamped at zero; totals are the configured pool sizes.
pub fn kea_statistics6(
    prepared: &crate::Prepared6,
    shards: &[std::sync::Arc<ShardStats6>],
) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = Vec::new();
    let mut sums: Vec<(&'static str, u64)> = Vec::new();
    for s in shards {
        for (i, (name, v)) in s.global.each().into_iter().enumerate() {
            match sums.get_mut(i) {
                Some(slot) => slot.1 = slot.1.wrapping_add(v),
                None => sums.push((name, v)),
            }
        }
    }
    out.extend(sums.into_iter().map(|(n, v)| (n.to_string(), v as i64)));
    let declined: i64 = shards.iter().map(|s| s.declined_addresses.get()).sum();
    out.push(("declined-addresses".into(), declined.max(0)));
    for (si, subnet) in prepared.subnets.iter().enumerate() {
        let id = subnet.id.0;
        let sum = |f: &dyn Fn(&SubnetCounters6) -> i64| -> i64 {
            shards
                .iter()
                .filter_map(|s| s.subnets.get(si).map(f))
                .sum::<i64>()
                .max(0)
        };
        let clamp = |v: u128| i64::try_from(v).unwrap_or(i64::MAX);
        out.push((format!("subnet[{id}].total-nas"), clamp(subnet.total_nas)));
        out.push((
            format!("subnet[{id}].assigned-nas"),
            sum(&|c| c.assigned_nas.get()),
        ));
        out.push((
            format!("subnet[{id}].cumulative-assigned-nas"),
            sum(&|c| c.cumulative_assigned_nas.get() as i64),
        ));
        out.push((format!("subnet[{id}].total-pds"), clamp(subnet.total_pds)));
        out.push((
            format!("subnet[{id}].assigned-pds"),
            sum(&|c| c.assigned_pds.get()),
        ));
        out.push((
            format!("subnet[{id}].cumulative-assigned-pds"),
            sum(&|c| c.cumulative_assigned_pds.get() as i64),
        ));
        out.push((
            format!("subnet[{id}].declined-addresses"),
            sum(&|c| c.declined_addresses.get()),
        ));
        out.push((
            format!("subnet[{id}].reclaimed-declined-addresses"),
            sum(&|c| c.reclaimed_declined_addresses.get() as i64),
        ));
        out.push((
            format!("subnet[{id}].reclaimed-leases"),
            sum(&|c| c.reclaimed_leases.get() as i64),
        ));
        out.push((
            format!("subnet[{id}].v6-ia-na-lease-reuses"),
            sum(&|c| c.v6_ia_na_lease_reuses.get() as i64),
        ));
        out.push((
            format!("subnet[{id}].v6-ia-pd-lease-reuses"),
            sum(&|c| c.v6_ia_pd_lease_reuses.get() as i64),
        ));
        let fails: [(&str, SubnetStat); 5] = [
            ("v6-allocation-fail", |c| c.v6_allocation_fail.get() as i64),
            ("v6-allocation-fail-shared-network", |c| {
                c.v6_allocation_fail_shared_network.get() as i64
            }),
            ("v6-allocation-fail-subnet", |c| {
                c.v6_allocation_fail_subnet.get() as i64
            }),
            ("v6-allocation-fail-no-pools", |c| {
                c.v6_allocation_fail_no_pools.get() as i64
            }),
            ("v6-allocation-fail-classes", |c| {
                c.v6_allocation_fail_classes.get() as i64
            }),
        ];
        for (name, f) in fails {
            out.push((format!("subnet[{id}].{name}"), sum(&f)));
        }
        // Pools with the same pool-id in a subnet share their statistics (ARM 10.x "Statistics
        // in the DHCPv6 Server": the id is 0 unless configured), pd-pools apart from address
        // pools.
        let first = out.len();
        for &pi in subnet.na_pools.iter().chain(&subnet.pd_pools) {
            let Some(pool) = prepared.pools.get(pi) else {
                continue;
            };
            let sum_p = |f: PoolStat| -> i64 {
                shards
                    .iter()
                    .filter_map(|s| s.pools.get(pi).map(f))
                    .sum::<i64>()
                    .max(0)
            };
            let pid = pool.pool_id.0;
            let total = clamp(pool.total);
            let values: &[(&str, i64)] = if pool.is_pd() {
                &[
                    ("total-pds", total),
                    ("assigned-pds", sum_p(|c| c.assigned.get())),
                    (
                        "cumulative-assigned-pds",
                        sum_p(|c| c.cumulative_assigned.get() as i64),
                    ),
                    (
                        "reclaimed-leases",
                        sum_p(|c| c.reclaimed_leases.get() as i64),
                    ),
                ]
            } else {
                &[
                    ("total-nas", total),
                    ("assigned-nas", sum_p(|c| c.assigned.get())),
                    (
                        "cumulative-assigned-nas",
                        sum_p(|c| c.cumulative_assigned.get() as i64),
                    ),
                    ("declined-addresses", sum_p(|c| c.declined_addresses.get())),
                    (
                        "reclaimed-declined-addresses",
                        sum_p(|c| c.reclaimed_declined_addresses.get() as i64),
                    ),
                    (
                        "reclaimed-leases",
                        sum_p(|c| c.reclaimed_leases.get() as i64),
                    ),
                ]
            };
            let kind = if pool.is_pd() { "pd-pool" } else { "pool" };
            for &(what, value) in values {
                let stat = format!("subnet[{id}].{kind}[{pid}].{what}");
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
