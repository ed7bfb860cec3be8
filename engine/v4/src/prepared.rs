//! The configuration as the hot path wants it: integers instead of addresses, option tables
//! merged per pool (pool > subnet > shared network > global, ARM 9.2.10) and indexed by code, and
//! one [`AddressBitmap`] per pool shared by all shards. Built once per config load, off the hot
//! path, then shared read-only (`Arc`) by every shard.

use crate::classes::{ClassIdx, ClassTable, Guard};
use crate::hosts::HostTable;
use corelease_alloc::{AddressBitmap, Range4};
use corelease_config::{Dhcp4Config, OptionSet};
use corelease_types::{PoolId, SubnetId};
// foldhash: the subnet index is probed once or twice per packet with a u32; SipHash was a
// measurable part of classify's cost (issue 8).
use foldhash::HashMap;
use std::net::Ipv4Addr;

/// An interface the server listens on, as the runtime found it (name, index, addresses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub name: String,
    pub index: u32,
    pub addrs: Vec<Ipv4Addr>,
}

/// One option ready to copy into a reply.
#[derive(Clone, Debug)]
pub struct ReplyOption {
    pub code: u8,
    pub data: Box<[u8]>,
    pub always_send: bool,
    pub never_send: bool,
    /// `client-classes` tags (ARM 16.9): only for members of one of them; empty = anyone.
    pub classes: Box<[Box<str>]>,
    /// The next value of the same code to try when this one's tags do not match (index + 1
    /// in the table's entries; 0 = none).
    next: u16,
}

/// Options effective at one scope, first definition by code wins, indexed for O(1) lookup.
/// With class-tagged options (ARM 16.9) a code has a chain of values in precedence order:
/// tagged ones first, ended by the first untagged one.
#[derive(Clone, Debug)]
pub struct OptionTable {
    entries: Vec<ReplyOption>,
    index: Box<[u16; 256]>,
    tagged: bool,
}

impl OptionTable {
    /// Merges `levels`, most specific first: a code defined at a more specific level hides the
    /// same code at the levels after it. Only the top-level "dhcp4" space goes into replies.
    ///
    /// A class-tagged option does not hide what follows it: "when an option's class-tag does
    /// not match, it is as though the option was not specified at that scope", and within a
    /// scope "an option with an empty client-classes list is checked last" (ARM 16.9).
    pub fn merge(levels: &[&OptionSet]) -> Self {
        let mut entries: Vec<ReplyOption> = Vec::new();
        let mut index = Box::new([0u16; 256]);
        let mut tail = [0u16; 256];
        let mut closed = [false; 256];
        let mut tagged = false;
        for level in levels {
            let tagged_first = level
                .options
                .iter()
                .filter(|o| !o.client_classes.is_empty())
                .chain(level.options.iter().filter(|o| o.client_classes.is_empty()));
            for opt in tagged_first {
                let c = usize::from(opt.code);
                if opt.space != "dhcp4" || closed[c] {
                    continue;
                }
                let Ok(at) = u16::try_from(entries.len() + 1) else {
                    break;
                };
                entries.push(ReplyOption {
                    code: opt.code,
                    data: opt.data.clone(),
                    always_send: opt.always_send,
                    never_send: opt.never_send,
                    classes: opt
                        .client_classes
                        .iter()
                        .map(|n| n.as_str().into())
                        .collect(),
                    next: 0,
                });
                match tail[c] {
                    0 => index[c] = at,
                    t => {
                        if let Some(prev) = entries.get_mut(usize::from(t) - 1) {
                            prev.next = at;
                        }
                    }
                }
                tail[c] = at;
                if opt.client_classes.is_empty() {
                    closed[c] = true;
                } else {
                    tagged = true;
                }
            }
        }
        OptionTable {
            entries,
            index,
            tagged,
        }
    }

    /// The value of `code` at this scope, tags aside (the first of its chain).
    pub fn get(&self, code: u8) -> Option<&ReplyOption> {
        match self.index[usize::from(code)] {
            0 => None,
            i => self.entries.get(usize::from(i) - 1),
        }
    }

    /// Whether some option here is class-tagged.
    pub fn is_tagged(&self) -> bool {
        self.tagged
    }

    /// The value of `code` for a packet whose class membership `admits` decides (true when
    /// the packet is in one of the names): the first value of the chain that is untagged or
    /// admitted. A tagged never-send value is returned whatever the tags say, so the option
    /// is left out ("when never-send for an option is true at any scope, all client-classes
    /// entries for that option are ignored", ARM 16.9).
    pub fn get_for(&self, code: u8, admits: &dyn Fn(&[Box<str>]) -> bool) -> Option<&ReplyOption> {
        let mut e = self.get(code)?;
        if !self.tagged {
            return Some(e);
        }
        loop {
            if e.classes.is_empty() || e.never_send || admits(&e.classes) {
                return Some(e);
            }
            e = match e.next {
                0 => return None,
                n => self.entries.get(usize::from(n) - 1)?,
            };
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &ReplyOption> {
        self.entries.iter()
    }
}

/// A pool at run time.
pub struct PoolRt {
    pub range: Range4,
    pub subnet: usize,
    pub pool_id: PoolId,
    pub bitmap: AddressBitmap,
    pub options: OptionTable,
    /// Pool, subnet and shared-network options without the global ones: class options sit
    /// between these and the globals (ARM 16.1.1 step 13).
    pub local_options: OptionTable,
    /// `client-classes` guard (ARM 16.7).
    pub guard: Guard,
    pub additional: Box<[ClassIdx]>,
}

/// Valid-lifetime triplet (ARM 9.2.x "min-valid-lifetime / max-valid-lifetime").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    pub min: u32,
    pub default: u32,
    pub max: u32,
}

impl Lifetime {
    /// The lifetime granted to a client that asked for `hint` (option 51), clamped to the bounds.
    pub fn grant(&self, hint: Option<u32>) -> u32 {
        match hint {
            Some(h) if h > 0 => h.clamp(self.min, self.max),
            _ => self.default,
        }
    }
}

/// A subnet at run time, with every parameter already resolved through inheritance.
pub struct SubnetRt {
    pub id: SubnetId,
    pub net: u32,
    pub mask: u32,
    pub prefix_len: u8,
    pub pools: Vec<usize>,
    pub relay: Vec<u32>,
    pub interface: Option<String>,
    pub network: Option<usize>,
    pub valid: Lifetime,
    /// Effective `offer-lifetime` (subnet, shared network, global; ARM 9.2.34): when not 0,
    /// a DHCPDISCOVER allocates and logs a lease for this many seconds.
    pub offer_lifetime: u32,
    pub renew_timer: Option<u32>,
    pub rebind_timer: Option<u32>,
    pub calculate_tee_times: bool,
    pub t1_percent: f64,
    pub t2_percent: f64,
    pub match_client_id: bool,
    pub authoritative: bool,
    pub next_server: Ipv4Addr,
    pub server_hostname: Box<[u8]>,
    pub boot_file_name: Box<[u8]>,
    /// Options without a pool (DHCPINFORM, and addresses outside pools).
    pub options: OptionTable,
    /// The same without the global options.
    pub local_options: OptionTable,
    pub total_addresses: u64,
    /// `client-classes` guard (ARM 16.6) and `evaluate-additional-classes`.
    pub guard: Guard,
    pub additional: Box<[ClassIdx]>,
    /// `reservations-global` / `-in-subnet` (ARM 9.3.8).
    pub reservations_global: bool,
    pub reservations_in_subnet: bool,
    /// `4o6-interface`, `4o6-interface-id`, `4o6-subnet` (ARM 9.2.26).
    pub dhcp4o6: corelease_config::Subnet4o6,
}

impl SubnetRt {
    pub fn contains(&self, addr: u32) -> bool {
        addr & self.mask == self.net
    }
}

pub struct NetworkRt {
    pub name: String,
    pub subnets: Vec<usize>,
    pub guard: Guard,
    pub additional: Box<[ClassIdx]>,
}

/// Everything a shard reads to answer DHCPv4, shared read-only by all shards.
pub struct Prepared4 {
    pub subnets: Vec<SubnetRt>,
    pub pools: Vec<PoolRt>,
    pub networks: Vec<NetworkRt>,
    pub interfaces: Vec<InterfaceInfo>,
    pub decline_probation_period: u32,
    pub echo_client_id: bool,
    /// How long an OFFERed address stays reserved for its client before it goes back, when
    /// no `offer-lifetime` applies (the offer is then kept in memory only).
    pub offer_hold_secs: u32,
    /// Whether any subnet or class sets a non-zero `offer-lifetime` (ARM 9.2.34): else a
    /// DHCPDISCOVER never looks for one (no cost per packet when the feature is off).
    pub offer_lifetime_used: bool,
    /// Port relays are answered on (Kea answers relays on its server port).
    pub server_port: u16,
    /// Port clients are answered on.
    pub client_port: u16,
    /// Server identifiers configured with option-data 54, besides the interface addresses.
    pub configured_server_ids: Vec<Ipv4Addr>,
    /// Kea's `expired-leases-processing` (ARM chapter 12).
    pub expired: corelease_config::ExpiredLeasesProcessing,
    /// `hooks-libraries` (validated run-script entries): the runtime builds each shard's
    /// `Hooks` from them (the engine never starts threads itself).
    pub hooks_libraries: Vec<corelease_config::HookLibrary>,
    /// `client-classes` (ARM chapter 16).
    pub classes: ClassTable,
    /// `reservations`, global and per subnet (ARM 9.3).
    pub hosts: HostTable,
    /// The global option-data alone (the last level after class options).
    pub global_options: OptionTable,
    /// `early-global-reservations-lookup` (ARM 16.1.1 step 6).
    pub early_global_reservations_lookup: bool,
    /// Whether any subnet, network or pool has a class guard or additional classes, or any
    /// class or host exists: else the per-packet class steps are skipped altogether.
    pub classify: bool,
    /// Subnet selection index: see [`SubnetIndex`].
    pub subnet_index: SubnetIndex,
}

/// Lookups of subnet selection (ARM 9.2) that give the same answer as a scan of the subnets
/// in config order, without the scan: per packet they cost one hash lookup per distinct
/// prefix length instead of one comparison per subnet (3.9 µs with 1,000 subnets before:
/// `cargo bench -p corelease-v4 --bench select`).
#[derive(Default)]
pub struct SubnetIndex {
    /// Relay address → the first subnet listing it in `relay.ip-addresses`.
    relay: HashMap<u32, usize>,
    /// Per netmask present: network → the first subnet with it (the lowest index over all
    /// masks is the first subnet containing an address, as the scan found it).
    by_prefix: Vec<(u32, HashMap<u32, usize>)>,
}

impl SubnetIndex {
    fn new(subnets: &[SubnetRt]) -> Self {
        let mut index = SubnetIndex::default();
        for (i, s) in subnets.iter().enumerate() {
            for r in &s.relay {
                index.relay.entry(*r).or_insert(i);
            }
            let slot = match index.by_prefix.iter().position(|(m, _)| *m == s.mask) {
                Some(slot) => slot,
                None => {
                    index.by_prefix.push((s.mask, HashMap::default()));
                    index.by_prefix.len() - 1
                }
            };
            if let Some((_, nets)) = index.by_prefix.get_mut(slot) {
                nets.entry(s.net).or_insert(i);
            }
        }
        index
    }

    /// The first subnet (in config order) whose `relay.ip-addresses` holds `addr`.
    pub fn by_relay(&self, addr: u32) -> Option<usize> {
        self.relay.get(&addr).copied()
    }

    /// The first subnet (in config order) containing `addr`.
    pub fn containing(&self, addr: u32) -> Option<usize> {
        self.by_prefix
            .iter()
            .filter_map(|(mask, nets)| nets.get(&(addr & mask)).copied())
            .min()
    }
}

/// Ports the server answers on; tests move them off 67/68 (Kea's -p / -P).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub server: u16,
    pub client: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            server: 67,
            client: 68,
        }
    }
}

fn mask_of(prefix_len: u8) -> u32 {
    if prefix_len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix_len.min(32)))
    }
}

impl Prepared4 {
    /// Builds the run-time form of a validated config.
    pub fn new(cfg: &Dhcp4Config, interfaces: Vec<InterfaceInfo>, ports: Ports) -> Self {
        let mut pools = Vec::new();
        let mut subnets = Vec::with_capacity(cfg.subnets.len());
        let empty = OptionSet::default();
        let classes = crate::classes::class_table(cfg);
        let hosts = crate::hosts::host_table(cfg, &classes);
        for (si, s) in cfg.subnets.iter().enumerate() {
            let network_opts = s
                .shared_network
                .and_then(|n| cfg.shared_networks.get(n))
                .map(|n| &n.options)
                .unwrap_or(&empty);
            let mask = mask_of(s.prefix_len);
            let mut pool_idx = Vec::new();
            let mut total = 0u64;
            for p in &s.pools {
                let range = Range4 {
                    first: u32::from(p.first),
                    last: u32::from(p.last),
                };
                total += range.len();
                pool_idx.push(pools.len());
                pools.push(PoolRt {
                    range,
                    subnet: si,
                    pool_id: p.pool_id,
                    bitmap: AddressBitmap::new(range.len()),
                    options: OptionTable::merge(&[
                        &p.options,
                        &s.options,
                        network_opts,
                        &cfg.global_options,
                    ]),
                    local_options: OptionTable::merge(&[&p.options, &s.options, network_opts]),
                    guard: classes.guard(&p.classes.guard),
                    additional: classes.additional(&p.classes.additional),
                });
            }
            subnets.push(SubnetRt {
                id: s.id,
                net: u32::from(s.prefix) & mask,
                mask,
                prefix_len: s.prefix_len,
                pools: pool_idx,
                relay: s.relay_addresses.iter().map(|a| u32::from(*a)).collect(),
                interface: s.interface.clone(),
                network: s.shared_network,
                valid: Lifetime {
                    min: s.valid_lifetime.min,
                    default: s.valid_lifetime.default,
                    max: s.valid_lifetime.max,
                },
                offer_lifetime: s.offer_lifetime,
                renew_timer: s.renew_timer,
                rebind_timer: s.rebind_timer,
                calculate_tee_times: s.calculate_tee_times,
                t1_percent: s.t1_percent,
                t2_percent: s.t2_percent,
                match_client_id: s.match_client_id,
                authoritative: s.authoritative,
                next_server: s.next_server,
                server_hostname: s.server_hostname.as_bytes().into(),
                boot_file_name: s.boot_file_name.as_bytes().into(),
                options: OptionTable::merge(&[&s.options, network_opts, &cfg.global_options]),
                local_options: OptionTable::merge(&[&s.options, network_opts]),
                total_addresses: total,
                guard: classes.guard(&s.classes.guard),
                additional: classes.additional(&s.classes.additional),
                reservations_global: s.reservations_global,
                reservations_in_subnet: s.reservations_in_subnet,
                dhcp4o6: s.dhcp4o6.clone(),
            });
        }
        let networks = cfg
            .shared_networks
            .iter()
            .map(|n| NetworkRt {
                name: n.name.clone(),
                subnets: n.subnets.clone(),
                guard: classes.guard(&n.classes.guard),
                additional: classes.additional(&n.classes.additional),
            })
            .collect::<Vec<_>>();
        // ARM 9.3.2: an in-pool reserved address is never handed out dynamically. Its bit is
        // claimed here, for the life of this config, so every shard's allocator skips it; the
        // reserved client takes it without the bit.
        for addr in hosts.reserved_values() {
            for pool in pools.iter().filter(|p: &&PoolRt| p.range.contains(addr)) {
                if let Some(off) = pool.range.offset_of(addr) {
                    pool.bitmap.try_claim(off);
                }
            }
        }
        // Class-tagged options (ARM 16.9) need the packet's classes at reply time.
        let tagged = |set: &OptionSet| set.options.iter().any(|o| !o.client_classes.is_empty());
        let tagged_options = tagged(&cfg.global_options)
            || cfg.shared_networks.iter().any(|n| tagged(&n.options))
            || cfg.reservations.iter().any(|r| tagged(&r.options))
            || cfg.subnets.iter().any(|s| {
                tagged(&s.options)
                    || s.pools.iter().any(|p| tagged(&p.options))
                    || s.reservations.iter().any(|r| tagged(&r.options))
            });
        let classify = !classes.is_empty()
            || tagged_options
            || !hosts.is_empty()
            || hosts.flex_id.is_some()
            || pools
                .iter()
                .any(|p| !p.guard.is_open() || !p.additional.is_empty())
            || subnets
                .iter()
                .any(|s| !s.guard.is_open() || !s.additional.is_empty())
            || networks
                .iter()
                .any(|n| !n.guard.is_open() || !n.additional.is_empty());
        let configured_server_ids = cfg
            .global_options
            .options
            .iter()
            .chain(cfg.subnets.iter().flat_map(|s| s.options.options.iter()))
            .filter(|o| o.code == 54 && o.data.len() == 4)
            .map(|o| Ipv4Addr::new(o.data[0], o.data[1], o.data[2], o.data[3]))
            .collect();
        Prepared4 {
            pools,
            networks,
            interfaces,
            decline_probation_period: cfg.decline_probation_period,
            echo_client_id: cfg.echo_client_id,
            offer_hold_secs: 10,
            offer_lifetime_used: cfg.subnets.iter().any(|s| s.offer_lifetime != 0)
                || cfg
                    .client_classes
                    .iter()
                    .any(|c| c.offer_lifetime.is_some_and(|l| l != 0)),
            server_port: ports.server,
            client_port: ports.client,
            configured_server_ids,
            expired: cfg.expired_leases_processing,
            hooks_libraries: cfg.hooks_libraries.clone(),
            global_options: OptionTable::merge(&[&cfg.global_options]),
            early_global_reservations_lookup: cfg.other.early_global_reservations_lookup,
            classify,
            classes,
            hosts,
            subnet_index: SubnetIndex::new(&subnets),
            subnets,
        }
    }

    /// Whether `addr` is reserved (in a subnet) for someone other than `host`.
    pub fn reserved_for_other(&self, addr: u32, host: Option<crate::hosts::HostIdx>) -> bool {
        match self.hosts.reserved_for(addr) {
            None => false,
            Some(owners) => !host.is_some_and(|h| owners.contains(&h)),
        }
    }

    /// The subnets a client of `subnet` may be served from: the whole shared network, the
    /// selected subnet first (ARM 9.5 shared networks), or the subnet alone.
    pub fn candidates(&self, subnet: usize) -> Candidates<'_> {
        let network = self
            .subnets
            .get(subnet)
            .and_then(|s| s.network)
            .and_then(|n| self.networks.get(n));
        Candidates {
            first: subnet,
            rest: network.map(|n| n.subnets.as_slice()).unwrap_or(&[]),
            pos: 0,
        }
    }

    pub fn interface(&self, ifindex: u32) -> Option<&InterfaceInfo> {
        self.interfaces.iter().find(|i| i.index == ifindex)
    }

    /// The pool (index) containing `addr` among `subnet`'s pools.
    pub fn pool_of(&self, subnet: usize, addr: u32) -> Option<usize> {
        self.subnets.get(subnet)?.pools.iter().copied().find(|&p| {
            self.pools
                .get(p)
                .map(|p| p.range.contains(addr))
                .unwrap_or(false)
        })
    }

    /// Whether `addr` is one of this server's identifiers.
    pub fn is_own_server_id(&self, addr: Ipv4Addr, local: Ipv4Addr) -> bool {
        addr == local
            || self.configured_server_ids.contains(&addr)
            || self.interfaces.iter().any(|i| i.addrs.contains(&addr))
    }
}

/// Iterator over candidate subnet indices: the selected one, then its network's others.
pub struct Candidates<'a> {
    first: usize,
    rest: &'a [usize],
    pos: usize,
}

impl Iterator for Candidates<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.pos == 0 {
            self.pos = 1;
            return Some(self.first);
        }
        while let Some(&s) = self.rest.get(self.pos - 1) {
            self.pos += 1;
            if s != self.first {
                return Some(s);
            }
        }
        None
    }
}
