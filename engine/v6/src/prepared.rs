//! The configuration prepared for the hot path: subnets with their pools as 128-bit ranges,
//! merged option tables, and subnet selection (Kea's `CfgSubnets6::selectSubnet`, ARM 10.6).

use crate::classes::{ClassIdx, ClassTable6, Guard6};
use crate::hosts::HostTable6;
use corelease_alloc::AddressBitmap;
use corelease_config::{prefix6_mask, Dhcp6Config, Lifetime6, OptionSet6};
use corelease_types::{PoolId, SubnetId};
use std::net::Ipv6Addr;

/// Largest number of addresses (or delegated prefixes) of one pool that are handed out.
///
/// Offsets inside a pool are u64 and every offset has a bit in the pool's [`AddressBitmap`],
/// so a pool's size must be capped: a /64 pool has 2^64 addresses. 2^24 offsets cost a 2 MiB
/// bitmap per pool and cover any real client population of one link; a bigger pool is served
/// from its first 2^24 addresses (prefixes), while its `total-nas` / `total-pds` statistics
/// still report the configured size, as Kea does.
pub const MAX_POOL_OFFSETS: u64 = 1 << 24;

/// One interface the runtime listens on, for subnet selection of direct clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface6Info {
    pub ifindex: u32,
    pub name: String,
    /// Its ARP hardware type (Linux `/sys/class/net/NAME/type`: 1 for Ethernet), which Kea
    /// gives a hardware address read from a link-local address or a remote-id (ARM 10.11).
    pub hwtype: u16,
}

/// What a pool hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// Addresses for IA_NA.
    Na,
    /// Prefixes of `delegated_len` for IA_PD, each with an optional RFC 6603 excluded
    /// prefix (its subnet-ID bits, the same for every delegated prefix, as Kea's
    /// `Option6PDExclude`).
    Pd {
        delegated_len: u8,
        excluded: Option<(u128, u8)>,
    },
}

/// A pool at run time: offsets `0..len` map to `first + (offset << shift)`.
pub struct PoolRt6 {
    pub subnet: usize,
    pub pool_id: PoolId,
    pub first: u128,
    /// Offsets handed out (at most [`MAX_POOL_OFFSETS`]).
    pub len: u64,
    /// Configured size, for `total-nas` / `total-pds`.
    pub total: u128,
    pub kind: PoolKind,
    pub bitmap: AddressBitmap,
    /// The pool's own option-data, which wins over the subnet's (ARM 10.2.11).
    pub options: Vec<ReplyOption6>,
    /// `client-classes` guard (ARM 16.7) and `evaluate-additional-classes`.
    pub guard: Guard6,
    pub additional: Box<[ClassIdx]>,
}

impl PoolRt6 {
    fn shift(&self) -> u32 {
        match self.kind {
            PoolKind::Na => 0,
            PoolKind::Pd { delegated_len, .. } => 128 - u32::from(delegated_len.min(128)),
        }
    }

    /// The address or prefix at `offset`.
    pub fn at(&self, offset: u64) -> Option<u128> {
        if offset >= self.len {
            return None;
        }
        let step = u128::from(offset).checked_shl(self.shift())?;
        self.first.checked_add(step)
    }

    /// The offset of `value`, if it is one this pool hands out.
    pub fn offset_of(&self, value: u128) -> Option<u64> {
        let delta = value.checked_sub(self.first)?;
        let shift = self.shift();
        if shift >= 128 {
            return (delta == 0 && self.len > 0).then_some(0);
        }
        if shift > 0 && delta & ((1u128 << shift) - 1) != 0 {
            return None;
        }
        let off = u64::try_from(delta >> shift).ok()?;
        (off < self.len).then_some(off)
    }

    /// The delegated prefix length (128 for addresses).
    pub fn lease_len(&self) -> u8 {
        match self.kind {
            PoolKind::Na => 128,
            PoolKind::Pd { delegated_len, .. } => delegated_len,
        }
    }

    pub fn is_pd(&self) -> bool {
        matches!(self.kind, PoolKind::Pd { .. })
    }
}

/// A configured option ready to copy into a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyOption6 {
    pub code: u16,
    pub data: Box<[u8]>,
    pub always_send: bool,
    pub never_send: bool,
    /// `client-classes` tags (ARM 16.9): only for members of one of them; empty = anyone.
    /// Within a scope the tagged values come first (the config orders them so).
    pub classes: Box<[Box<str>]>,
}

impl ReplyOption6 {
    /// Whether this value is the one of its code for a packet whose class membership
    /// `admits` decides: untagged, or tagged with one of the packet's classes. A tagged
    /// never-send value is taken whatever the tags say, so the option is left out ("when
    /// never-send for an option is true at any scope, all client-classes entries for that
    /// option are ignored", ARM 16.9).
    pub fn applies(&self, admits: &dyn Fn(&[Box<str>]) -> bool) -> bool {
        self.classes.is_empty() || self.never_send || admits(&self.classes)
    }
}

pub(crate) fn reply_options(set: &OptionSet6) -> Vec<ReplyOption6> {
    set.top_level()
        .map(|o| ReplyOption6 {
            code: o.code,
            data: o.data.clone(),
            always_send: o.always_send,
            never_send: o.never_send,
            classes: o.client_classes.iter().map(|n| n.as_str().into()).collect(),
        })
        .collect()
}

/// A subnet at run time.
pub struct SubnetRt6 {
    pub id: SubnetId,
    pub prefix: u128,
    pub prefix_len: u8,
    pub na_pools: Vec<usize>,
    pub pd_pools: Vec<usize>,
    /// `interface`, as the ifindex of a listened interface with that name.
    pub ifindex: Option<u32>,
    pub interface_id: Option<Box<[u8]>>,
    pub relay_addresses: Vec<Ipv6Addr>,
    pub rapid_commit: bool,
    pub preferred: Lifetime6,
    pub valid: Lifetime6,
    pub renew_timer: Option<u32>,
    pub rebind_timer: Option<u32>,
    pub calculate_tee_times: bool,
    pub t1_percent: f64,
    pub t2_percent: f64,
    /// Subnet, then shared-network, then global options (config already merged them).
    pub options: Vec<ReplyOption6>,
    /// Index of the shared network, whose subnets are alternatives when this one is full.
    pub network: Option<usize>,
    pub total_nas: u128,
    pub total_pds: u128,
    /// The subnet's and its network's own options (no global ones): class options rank
    /// below these and above the global ones (ARM 16.8).
    pub scoped_options: Vec<ReplyOption6>,
    /// Look up host reservations in this subnet / globally (ARM 10.3.x flags).
    pub reservations_in_subnet: bool,
    pub reservations_global: bool,
    /// `client-classes` guard (ARM 16.6) and `evaluate-additional-classes`.
    pub guard: Guard6,
    pub additional: Box<[ClassIdx]>,
}

impl SubnetRt6 {
    pub fn contains(&self, addr: u128) -> bool {
        let m = prefix6_mask(self.prefix_len);
        addr & m == self.prefix & m
    }

    /// T1 and T2 for a lease with `preferred` lifetime: configured timers, else (with
    /// calculate-tee-times) the t1/t2 fractions of the preferred lifetime (ARM 10.2.9), else
    /// 0, which leaves the choice to the client (RFC 8415 section 21.4).
    pub fn timers(&self, preferred: u32) -> (u32, u32) {
        let calc = |pct: f64| (f64::from(preferred) * pct) as u32;
        let t1 = match self.renew_timer {
            Some(t) => t,
            None if self.calculate_tee_times => calc(self.t1_percent),
            None => 0,
        };
        let t2 = match self.rebind_timer {
            Some(t) => t,
            None if self.calculate_tee_times => calc(self.t2_percent),
            None => 0,
        };
        // RFC 8415 21.4: T1 must not exceed T2 when both are set.
        if t2 != 0 && t1 > t2 {
            (t2, t2)
        } else {
            (t1, t2)
        }
    }
}

/// Grants a lifetime: the client's hint when within [min, max], else the default (Kea's
/// `Triplet::get(hint)` clamps; 0 means no hint).
pub fn grant(l: &Lifetime6, hint: u32) -> u32 {
    if hint == 0 {
        l.default
    } else {
        hint.clamp(l.min, l.max)
    }
}

/// Where a message came from, for subnet selection.
#[derive(Clone, Copy, Debug, Default)]
pub struct Selector<'a> {
    pub relayed: bool,
    /// The link-address of the relay closest to the client that is neither `::` nor
    /// link-local (Kea walks the relays from the client outwards).
    pub link_address: Option<Ipv6Addr>,
    /// The Interface-ID of the relay closest to the client that sent one.
    pub interface_id: Option<&'a [u8]>,
    pub ifindex: u32,
    pub src: Option<Ipv6Addr>,
    /// The packet's destination (`pkt.dst` in class expressions), not used for selection.
    pub dst: Option<Ipv6Addr>,
}

/// Everything the shards share about one configuration.
pub struct Prepared6 {
    pub subnets: Vec<SubnetRt6>,
    pub pools: Vec<PoolRt6>,
    /// Subnet indexes of each shared network.
    pub networks: Vec<Vec<usize>>,
    pub global_options: Vec<ReplyOption6>,
    pub decline_probation_period: u32,
    pub interfaces: Vec<Interface6Info>,
    /// `mac-sources` (ARM 10.11): [`corelease_types::hwaddr_source`] masks, tried in order.
    pub mac_sources: Vec<u32>,
    /// Kea's `expired-leases-processing` (ARM chapter 12).
    pub expired: corelease_config::ExpiredLeasesProcessing,
    /// Host reservations (ARM 10.3).
    pub hosts: HostTable6,
    /// `early-global-reservations-lookup`: global hosts are looked up before subnet
    /// selection (ARM 16.1.1 step 6).
    pub early_global_reservations_lookup: bool,
    /// Client classes (ARM chapter 16).
    pub classes: ClassTable6,
    /// Guard and additional classes of each shared network.
    pub network_guards: Vec<Guard6>,
    pub network_additional: Vec<Box<[ClassIdx]>>,
    /// Name of each shared network (for Kea's log messages).
    pub network_names: Vec<String>,
    /// `hooks-libraries` (run-script libraries; each shard builds its hooks from them, at
    /// start and at every reload).
    pub hooks_libraries: Vec<corelease_config::HookLibrary>,
}

fn pool_len(total: u128) -> u64 {
    u64::try_from(total.min(u128::from(MAX_POOL_OFFSETS))).unwrap_or(MAX_POOL_OFFSETS)
}

impl Prepared6 {
    pub fn new(cfg: &Dhcp6Config, interfaces: Vec<Interface6Info>) -> Self {
        let classes = crate::classes::class_table(cfg);
        let mut pools = Vec::new();
        let mut subnets = Vec::new();
        for (si, s) in cfg.subnets.iter().enumerate() {
            let mut na_pools = Vec::new();
            let mut pd_pools = Vec::new();
            let mut total_nas = 0u128;
            let mut total_pds = 0u128;
            for p in &s.pools {
                let first = u128::from(p.first);
                let total = u128::from(p.last).saturating_sub(first).saturating_add(1);
                total_nas = total_nas.saturating_add(total);
                let len = pool_len(total);
                na_pools.push(pools.len());
                pools.push(PoolRt6 {
                    subnet: si,
                    pool_id: p.pool_id,
                    first,
                    len,
                    total,
                    kind: PoolKind::Na,
                    bitmap: AddressBitmap::new(len),
                    options: reply_options(&p.options),
                    guard: classes.guard(&p.classes.guard),
                    additional: classes.additional(&p.classes.additional),
                });
            }
            for p in &s.pd_pools {
                let bits = u32::from(p.delegated_len.saturating_sub(p.prefix_len));
                let total = 1u128.checked_shl(bits).unwrap_or(u128::MAX);
                total_pds = total_pds.saturating_add(total);
                let len = pool_len(total);
                pd_pools.push(pools.len());
                pools.push(PoolRt6 {
                    subnet: si,
                    pool_id: p.pool_id,
                    first: u128::from(p.prefix) & prefix6_mask(p.prefix_len),
                    len,
                    total,
                    kind: PoolKind::Pd {
                        delegated_len: p.delegated_len,
                        excluded: p.excluded_prefix.map(|(a, l)| (u128::from(a), l)),
                    },
                    bitmap: AddressBitmap::new(len),
                    options: reply_options(&p.options),
                    guard: classes.guard(&p.classes.guard),
                    additional: classes.additional(&p.classes.additional),
                });
            }
            let ifindex = s.interface.as_ref().and_then(|name| {
                interfaces
                    .iter()
                    .find(|i| &i.name == name)
                    .map(|i| i.ifindex)
            });
            subnets.push(SubnetRt6 {
                id: s.id,
                prefix: u128::from(s.prefix),
                prefix_len: s.prefix_len,
                na_pools,
                pd_pools,
                ifindex,
                interface_id: s.interface_id.clone().map(Vec::into_boxed_slice),
                relay_addresses: s.relay_addresses.clone(),
                rapid_commit: s.rapid_commit,
                preferred: s.preferred,
                valid: s.valid,
                renew_timer: s.renew_timer,
                rebind_timer: s.rebind_timer,
                calculate_tee_times: s.calculate_tee_times,
                t1_percent: s.t1_percent,
                t2_percent: s.t2_percent,
                options: reply_options(&s.options),
                network: s.shared_network,
                total_nas,
                total_pds,
                scoped_options: reply_options(&s.scoped_options),
                reservations_in_subnet: s.reservations_in_subnet,
                reservations_global: s.reservations_global,
                guard: classes.guard(&s.classes.guard),
                additional: classes.additional(&s.classes.additional),
            });
        }
        let mut prepared = Prepared6 {
            subnets,
            pools,
            networks: cfg
                .shared_networks
                .iter()
                .map(|n| n.subnets.clone())
                .collect(),
            global_options: reply_options(&cfg.global_options),
            decline_probation_period: cfg.decline_probation_period,
            interfaces,
            mac_sources: cfg.mac_sources.clone(),
            expired: cfg.expired_leases_processing,
            hooks_libraries: cfg.hooks_libraries.clone(),
            hosts: crate::hosts::host_table(cfg),
            early_global_reservations_lookup: cfg.early_global_reservations_lookup,
            network_guards: cfg
                .shared_networks
                .iter()
                .map(|n| classes.guard(&n.classes.guard))
                .collect(),
            network_additional: cfg
                .shared_networks
                .iter()
                .map(|n| classes.additional(&n.classes.additional))
                .collect(),
            network_names: cfg.shared_networks.iter().map(|n| n.name.clone()).collect(),
            classes,
        };
        prepared.claim_reserved(cfg);
        prepared
    }

    /// Claims the bit of every honoured in-pool reservation, so no shard hands it to another
    /// client (ARM 10.3.2): from then on the bit belongs to the reservation, and a lease on it
    /// does not hold it (engine/v4 does the same for DHCPv4).
    fn claim_reserved(&mut self, cfg: &Dhcp6Config) {
        let mut claims = Vec::new();
        for (si, s) in cfg.subnets.iter().enumerate() {
            for r in &s.reservations {
                let values = r
                    .ip_addresses
                    .iter()
                    .map(|&a| (u128::from(a), 128u8, false))
                    .chain(r.prefixes.iter().map(|&(p, l)| (u128::from(p), l, true)));
                for (v, len, pd) in values {
                    if self.hosts.reserved_for((v, pd)).is_some() {
                        if let Some(at) = self.reserved_pool_of(si, pd, v, len) {
                            claims.push(at);
                        }
                    }
                }
            }
        }
        for (pi, off) in claims {
            if let Some(pool) = self.pools.get(pi) {
                pool.bitmap.try_claim(off);
            }
        }
    }

    /// The pool of the shared network of `subnet` (itself first) that hands out `value/len`,
    /// with its offset: where a reserved address or prefix would otherwise be allocated.
    pub fn reserved_pool_of(
        &self,
        subnet: usize,
        pd: bool,
        value: u128,
        len: u8,
    ) -> Option<(usize, u64)> {
        self.candidates(subnet)
            .filter_map(|s| self.pool_of(s, pd, value))
            .find(|&(pi, _)| {
                self.pools
                    .get(pi)
                    .is_some_and(|p| !pd || p.lease_len() == len)
            })
    }

    /// Kea's subnet selection (ARM 10.6, `CfgSubnets6::selectSubnet`): a relayed message by
    /// the relay's Interface-ID, then by `relay.ip-addresses`, then by the subnet holding the
    /// relay's link-address; a direct one by the subnet holding the client's (global) source
    /// address, then by the arrival interface.
    pub fn select_subnet(&self, sel: &Selector<'_>) -> Option<usize> {
        if sel.relayed {
            if let Some(iid) = sel.interface_id {
                if let Some(i) = self
                    .subnets
                    .iter()
                    .position(|s| s.interface_id.as_deref() == Some(iid))
                {
                    return Some(i);
                }
            }
            let link = sel.link_address?;
            if let Some(i) = self
                .subnets
                .iter()
                .position(|s| s.relay_addresses.contains(&link))
            {
                return Some(i);
            }
            return self.subnets.iter().position(|s| {
                s.relay_addresses.is_empty()
                    && s.interface_id.is_none()
                    && s.contains(u128::from(link))
            });
        }
        if let Some(src) = sel.src {
            let is_link_local = src.segments()[0] & 0xffc0 == 0xfe80;
            if !is_link_local && !src.is_unspecified() {
                if let Some(i) = self
                    .subnets
                    .iter()
                    .position(|s| s.contains(u128::from(src)))
                {
                    return Some(i);
                }
            }
        }
        self.subnets
            .iter()
            .position(|s| s.ifindex == Some(sel.ifindex) && s.ifindex.is_some())
    }

    /// The selected subnet, then the other subnets of its shared network (ARM 10.7).
    pub fn candidates(&self, subnet: usize) -> impl Iterator<Item = usize> + '_ {
        let siblings: &[usize] = self
            .subnets
            .get(subnet)
            .and_then(|s| s.network)
            .and_then(|n| self.networks.get(n))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        std::iter::once(subnet).chain(siblings.iter().copied().filter(move |&s| s != subnet))
    }

    /// The pool of `subnet` (kind by `pd`) holding `value`, with its offset.
    pub fn pool_of(&self, subnet: usize, pd: bool, value: u128) -> Option<(usize, u64)> {
        let s = self.subnets.get(subnet)?;
        let list = if pd { &s.pd_pools } else { &s.na_pools };
        list.iter().find_map(|&p| {
            self.pools
                .get(p)
                .and_then(|pool| pool.offset_of(value))
                .map(|off| (p, off))
        })
    }
}
