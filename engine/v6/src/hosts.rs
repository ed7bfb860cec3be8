//! Host reservations in the DHCPv6 engine (Kea ARM 10.3).
//!
//! The table itself (scopes, identifier order, reserved values, flex-id) is
//! `corelease-classes`' [`corelease_classes::HostTable`], shared with DHCPv4; this module says
//! what a DHCPv6 reservation gives its client ([`Host6`]: addresses, prefixes, options,
//! classes), which bytes of a message are which identifier ([`PacketIds6`]), and which
//! reserved addresses and prefixes are honoured, so that in-pool ones are claimed in their
//! pool's bitmap at load (no shard hands them to another client) and a client holding one is
//! moved away from it (ARM 10.3.2).

use crate::prepared::{reply_options, ReplyOption6};
use corelease_classes::HostIdentifiers;
use corelease_classify::Universe;
use corelease_config::{Dhcp6Config, HostIdentifierType, Reservation6, Subnet6};
use corelease_types::HwAddr;

pub use corelease_classes::HostIdx;

/// One reservation, ready for the hot path.
pub struct Host6 {
    /// Subnet index the reservation belongs to, None for a global one.
    pub subnet: Option<usize>,
    /// Reserved addresses, in config order (one per IA_NA, ARM 10.3).
    pub addrs: Box<[u128]>,
    /// Reserved prefixes with their lengths, in config order (one per IA_PD).
    pub prefixes: Box<[(u128, u8)]>,
    /// The RFC 6603 excluded prefix of each reserved prefix (same index), from
    /// `excluded-prefixes`.
    pub excluded: Box<[Option<(u128, u8)>]>,
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

    /// For one of this host's reserved prefixes, the prefix to exclude from it (None: none,
    /// whatever the pool says, ARM 10.3); None when `value` is not a prefix it reserves.
    pub fn excluded_of(&self, value: u128) -> Option<Option<(u128, u8)>> {
        let i = self.prefixes.iter().position(|&(v, _)| v == value)?;
        Some(self.excluded.get(i).copied().flatten())
    }

    pub fn has_class(&self, name: &str) -> bool {
        self.classes.iter().any(|c| &**c == name)
    }
}

/// The identifiers a message carries, borrowed from it. `hw` is Kea's DHCPv6 hardware
/// address (ARM 10.11 "MAC/Hardware Addresses in DHCPv6"): the one `mac-sources` found, as
/// Kea's `ctx.hwaddr_` serves its hw-address reservations.
#[derive(Clone, Copy, Default)]
pub struct PacketIds6<'a> {
    pub duid: Option<&'a [u8]>,
    pub hw: Option<&'a [u8]>,
    /// What the flex_id library's expression made of the packet (ARM 17.9).
    pub flex_id: Option<&'a [u8]>,
}

impl<'a> PacketIds6<'a> {
    /// `duid` is the client's option 1, `hw` its hardware address by `mac-sources`.
    pub fn of(duid: Option<&'a [u8]>, hw: Option<&'a HwAddr>) -> Self {
        PacketIds6 {
            duid,
            hw: hw.map(HwAddr::as_bytes),
            flex_id: None,
        }
    }

    /// With the packet's flex-id; an empty one identifies nobody (ARM 17.9).
    pub fn with_flex_id(mut self, flex_id: &'a [u8]) -> Self {
        self.flex_id = (!flex_id.is_empty()).then_some(flex_id);
        self
    }
}

impl HostIdentifiers for PacketIds6<'_> {
    fn identifier(&self, kind: HostIdentifierType) -> Option<&[u8]> {
        match kind {
            HostIdentifierType::HwAddress => self.hw,
            HostIdentifierType::Duid => self.duid,
            HostIdentifierType::FlexId => self.flex_id,
            HostIdentifierType::CircuitId | HostIdentifierType::ClientId => None,
        }
    }
}

/// Every reservation of one config; a reserved value is an address (false) or a prefix
/// (true).
pub type HostTable6 = corelease_classes::HostTable<Host6, (u128, bool)>;

/// Builds the config's host table: subnet reservations (their honoured addresses and
/// prefixes marked reserved), then the global ones, then the flex-id expression if some
/// reservation uses it.
pub fn host_table(cfg: &Dhcp6Config) -> HostTable6 {
    let mut t = HostTable6::new(cfg.subnets.len(), &cfg.host_reservation_identifiers);
    for (si, s) in cfg.subnets.iter().enumerate() {
        for r in &s.reservations {
            let Some(idx) = t.add(Some(si), &r.identifier, host(r, Some(si))) else {
                continue;
            };
            if !s.reservations_in_subnet {
                continue;
            }
            for &a in &r.ip_addresses {
                if honoured(s, false, u128::from(a), 128) {
                    t.reserve((u128::from(a), false), idx);
                }
            }
            for &(pfx, len) in &r.prefixes {
                if honoured(s, true, u128::from(pfx), len) {
                    t.reserve((u128::from(pfx), true), idx);
                }
            }
        }
    }
    for r in &cfg.reservations {
        t.add(None, &r.identifier, host(r, None));
    }
    t.flex_replaces_client_id = cfg.flex_id.as_ref().is_some_and(|f| f.replace_client_id);
    if t.uses_flex_id() || t.flex_replaces_client_id {
        if let Some(f) = &cfg.flex_id {
            let resolve =
                |name: &str| corelease_config::option6_code_by_name(name, &cfg.option_defs);
            t.compile_flex_id(&f.identifier_expression, Universe::V6, &resolve);
        }
    }
    t
}

fn host(r: &Reservation6, subnet: Option<usize>) -> Host6 {
    Host6 {
        subnet,
        addrs: r.ip_addresses.iter().map(|&a| u128::from(a)).collect(),
        prefixes: r
            .prefixes
            .iter()
            .map(|&(p, l)| (u128::from(p), l))
            .collect(),
        excluded: r
            .excluded_prefixes
            .iter()
            .map(|e| e.map(|(p, l)| (u128::from(p), l)))
            .collect(),
        hostname: r.hostname.as_deref().map(Into::into),
        options: reply_options(&r.options).into_boxed_slice(),
        classes: r.client_classes.iter().map(|c| c.as_str().into()).collect(),
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
