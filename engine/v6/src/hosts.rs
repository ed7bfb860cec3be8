//! Host reservations in the DHCPv6 engine (Kea ARM 10.3).
//!
//! [`HostTable6`] is built once per config from the subnets' and the global `reservations`:
//! one hash map per scope and identifier type (duid, hw-address), keyed by the identifier
//! bytes, so a lookup costs one hash per type in `host-reservation-identifiers` order, with no
//! allocation and no lock (the table is immutable, shared through the `Arc` of
//! [`crate::Prepared6`]). It also knows which addresses and prefixes are reserved in which
//! subnet, so that in-pool ones are claimed in their pool's bitmap at load (no shard hands
//! them to another client) and a client holding one is moved away from it (ARM 10.3.2).

use crate::prepared::{reply_options, ReplyOption6};
use corelease_classify::Program;
use corelease_config::{Dhcp6Config, HostIdentifierType, Reservation6, Subnet6};
use corelease_wire::v6::Dhcp6Packet;
// foldhash, not SipHash: identifiers are client-chosen, so the maps keep a per-process random
// seed (foldhash::fast::RandomState), but hashing a DUID costs a few ns (as engine/v4).
use foldhash::HashMap;

/// Index of a host in [`HostTable6::hosts`].
pub type HostIdx = u32;

/// One reservation, ready for the hot path.
pub struct Host6 {
    /// Subnet index the reservation belongs to, None for a global one.
    pub subnet: Option<usize>,
    /// Reserved addresses, in config order (one per IA_NA, ARM 10.3).
    pub addrs: Box<[u128]>,
    /// Reserved prefixes with their lengths, in config order (one per IA_PD).
    pub prefixes: Box<[(u128, u8)]>,
    pub hostname: Option<Box<str>>,
    /// The host's option-data, which wins over every other scope (ARM 10.3.4, 16.8).
    pub options: Box<[ReplyOption6]>,
    /// Reserved class names (ARM 10.3.x "Reserving Client Classes in DHCPv6").
    pub classes: Box<[Box<str>]>,
}

impl Host6 {
    /// The reserved values of one IA type, as (value, length).
    pub fn reserved(&self, pd: bool) -> impl Iterator<Item = (u128, u8)> + '_ {
        let addrs = self.addrs.iter().filter(move |_| !pd).map(|&a| (a, 128u8));
        let prefixes = self.prefixes.iter().filter(move |_| pd).copied();
        addrs.chain(prefixes)
    }

    pub fn reserves(&self, value: u128, pd: bool) -> bool {
        self.reserved(pd).any(|(v, _)| v == value)
    }

    pub fn has_class(&self, name: &str) -> bool {
        self.classes.iter().any(|c| &**c == name)
    }
}

/// Identifier types looked up in DHCPv6: hw-address, duid, flex-id.
const KINDS: usize = 3;

/// The map slot of flex-id reservations.
const FLEX_SLOT: usize = 2;

fn kind_slot(kind: HostIdentifierType) -> Option<usize> {
    match kind {
        HostIdentifierType::HwAddress => Some(0),
        HostIdentifierType::Duid => Some(1),
        HostIdentifierType::FlexId => Some(FLEX_SLOT),
        _ => None,
    }
}

/// The reservations of one scope (a subnet, or the global scope), by identifier type.
#[derive(Default)]
struct Scope {
    by_kind: [HashMap<Box<[u8]>, HostIdx>; KINDS],
}

impl Scope {
    fn is_empty(&self) -> bool {
        self.by_kind.iter().all(HashMap::is_empty)
    }
}

/// RFC 6939 OPTION_CLIENT_LINKLAYER_ADDR, inserted by a relay.
const OPT_CLIENT_LINKLAYER_ADDR: u16 = 79;

/// The identifiers a message carries, borrowed from it. `hw` is Kea's DHCPv6 hardware
/// address (ARM 10.x "MAC/Hardware Addresses in DHCPv6"), taken from the sources corelease
/// has: the client link-layer address option a relay added (RFC 6939), else the link-layer
/// address inside a DUID-LLT or DUID-LL.
#[derive(Clone, Copy, Default)]
pub struct PacketIds6<'a> {
    pub duid: Option<&'a [u8]>,
    pub hw: Option<&'a [u8]>,
    /// What the flex_id library's expression made of the packet (ARM 17.9).
    pub flex_id: Option<&'a [u8]>,
}

impl<'a> PacketIds6<'a> {
    /// `outer` is the datagram as received (relays included), `duid` the client's option 1.
    pub fn of(outer: &'a Dhcp6Packet<&'a [u8]>, relays: usize, duid: Option<&'a [u8]>) -> Self {
        // The relay closest to the client is the last Relay-forward layer.
        let from_relay = outer
            .relay_chain()
            .take(relays)
            .filter_map(Result::ok)
            .filter_map(|layer| {
                let bytes = layer.into_inner();
                let options = bytes.get(corelease_wire::v6::RELAY_HEADER_LEN..)?;
                corelease_wire::v6::Options6::new(options, corelease_wire::v6::RELAY_HEADER_LEN)
                    .find(OPT_CLIENT_LINKLAYER_ADDR)
            })
            .last()
            .and_then(|o| o.get(2..))
            .filter(|m| !m.is_empty());
        PacketIds6 {
            duid,
            hw: from_relay.or_else(|| duid.and_then(duid_link_layer)),
            flex_id: None,
        }
    }

    /// With the packet's flex-id; an empty one identifies nobody (ARM 17.9).
    pub fn with_flex_id(mut self, flex_id: &'a [u8]) -> Self {
        self.flex_id = (!flex_id.is_empty()).then_some(flex_id);
        self
    }

    fn get(&self, slot: usize) -> Option<&'a [u8]> {
        match slot {
            0 => self.hw,
            1 => self.duid,
            FLEX_SLOT => self.flex_id,
            _ => None,
        }
    }
}

/// The link-layer address inside a DUID-LLT (type 1: type, htype, time, address) or a DUID-LL
/// (type 3: type, htype, address), RFC 8415 sections 11.2 and 11.4.
pub fn duid_link_layer(duid: &[u8]) -> Option<&[u8]> {
    let ll = match duid.get(..2)? {
        [0, 1] => duid.get(8..)?,
        [0, 3] => duid.get(4..)?,
        _ => return None,
    };
    (!ll.is_empty()).then_some(ll)
}

/// Every reservation of one config.
#[derive(Default)]
pub struct HostTable6 {
    pub hosts: Vec<Host6>,
    /// Index = subnet index.
    subnets: Vec<Scope>,
    global: Scope,
    /// `host-reservation-identifiers`, as map slots, in order.
    order: Vec<usize>,
    /// Addresses (false) and prefixes (true) reserved in subnets with reservations-in-subnet,
    /// with the hosts they belong to (several when ip-reservations-unique is false): others
    /// must not get them (ARM 10.3.2). In-pool ones have their bit claimed at load.
    reserved: HashMap<(u128, bool), Box<[HostIdx]>>,
    /// The flex_id library's `identifier-expression` (ARM 17.9), compiled for DHCPv6; None
    /// unless the library is configured, flex-id is a `host-reservation-identifiers` type and
    /// some reservation uses it (else there is nothing to evaluate it for).
    pub flex_id: Option<Program>,
}

impl HostTable6 {
    pub fn new(cfg: &Dhcp6Config) -> Self {
        let mut t = HostTable6 {
            subnets: cfg.subnets.iter().map(|_| Scope::default()).collect(),
            order: cfg
                .host_reservation_identifiers
                .iter()
                .filter_map(|k| kind_slot(*k))
                .collect(),
            ..HostTable6::default()
        };
        let mut reserved: HashMap<(u128, bool), Vec<HostIdx>> = HashMap::default();
        for (si, s) in cfg.subnets.iter().enumerate() {
            for r in &s.reservations {
                let Some(idx) = t.add(r, Some(si)) else {
                    continue;
                };
                if !s.reservations_in_subnet {
                    continue;
                }
                for &a in &r.ip_addresses {
                    if honoured(s, false, u128::from(a), 128) {
                        reserved
                            .entry((u128::from(a), false))
                            .or_default()
                            .push(idx);
                    }
                }
                for &(pfx, len) in &r.prefixes {
                    if honoured(s, true, u128::from(pfx), len) {
                        reserved
                            .entry((u128::from(pfx), true))
                            .or_default()
                            .push(idx);
                    }
                }
            }
        }
        for r in &cfg.reservations {
            t.add(r, None);
        }
        t.reserved = reserved
            .into_iter()
            .map(|(k, hosts)| (k, hosts.into_boxed_slice()))
            .collect();
        let flex_used = t.order.contains(&FLEX_SLOT)
            && std::iter::once(&t.global)
                .chain(&t.subnets)
                .any(|s| s.by_kind.get(FLEX_SLOT).is_some_and(|m| !m.is_empty()));
        if flex_used {
            let resolve =
                |name: &str| corelease_config::option6_code_by_name(name, &cfg.option_defs);
            // Checked when the config was parsed; one that does not compile here (it cannot)
            // leaves flex-id reservations unmatched rather than failing.
            t.flex_id = cfg.flex_id.as_ref().and_then(|f| {
                corelease_classify::compile_with(
                    &f.identifier_expression,
                    corelease_classify::Universe::V6,
                    &resolve,
                )
                .ok()
            });
        }
        t
    }

    fn add(&mut self, r: &Reservation6, subnet: Option<usize>) -> Option<HostIdx> {
        let slot = kind_slot(r.identifier.kind)?;
        let idx = HostIdx::try_from(self.hosts.len()).ok()?;
        let scope = match subnet {
            Some(s) => self.subnets.get_mut(s)?,
            None => &mut self.global,
        };
        scope
            .by_kind
            .get_mut(slot)?
            .insert(r.identifier.bytes.clone().into_boxed_slice(), idx);
        self.hosts.push(Host6 {
            subnet,
            addrs: r.ip_addresses.iter().map(|&a| u128::from(a)).collect(),
            prefixes: r
                .prefixes
                .iter()
                .map(|&(p, l)| (u128::from(p), l))
                .collect(),
            hostname: r.hostname.as_deref().map(Into::into),
            options: reply_options(&r.options).into_boxed_slice(),
            classes: r.client_classes.iter().map(|c| c.as_str().into()).collect(),
        });
        Some(idx)
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    pub fn host(&self, idx: HostIdx) -> Option<&Host6> {
        self.hosts.get(idx as usize)
    }

    fn lookup_in(&self, scope: &Scope, ids: &PacketIds6<'_>) -> Option<HostIdx> {
        if scope.is_empty() {
            return None;
        }
        self.order.iter().find_map(|&slot| {
            let id = ids.get(slot)?;
            scope.by_kind.get(slot)?.get(id).copied()
        })
    }

    /// The client's reservation in subnet `subnet` (by identifier type order).
    pub fn in_subnet(&self, subnet: usize, ids: &PacketIds6<'_>) -> Option<HostIdx> {
        self.lookup_in(self.subnets.get(subnet)?, ids)
    }

    pub fn global(&self, ids: &PacketIds6<'_>) -> Option<HostIdx> {
        self.lookup_in(&self.global, ids)
    }

    /// The hosts an address (`pd` false) or prefix is reserved for in its subnet.
    pub fn reserved_for(&self, value: u128, pd: bool) -> Option<&[HostIdx]> {
        if self.reserved.is_empty() {
            return None;
        }
        self.reserved.get(&(value, pd)).map(|h| &**h)
    }

    /// Every honoured subnet reservation, for claiming their pool bits at load.
    pub fn reserved_values(&self) -> impl Iterator<Item = (u128, bool)> + '_ {
        self.reserved.keys().copied()
    }
}

/// Whether a subnet reservation of `value/len` keeps others away from it: with
/// reservations-out-of-pool, an in-pool reservation is not honoured and the value stays
/// dynamic (ARM 10.3.x "Fine-Tuning DHCPv6 Host Reservation").
fn honoured(s: &Subnet6, pd: bool, value: u128, len: u8) -> bool {
    if !s.reservations_out_of_pool {
        return true;
    }
    let v = std::net::Ipv6Addr::from(value);
    let in_pool = if pd {
        s.pd_pools.iter().any(|p| p.delegates(v, len))
    } else {
        s.pools.iter().any(|p| p.contains(v))
    };
    !in_pool
}
