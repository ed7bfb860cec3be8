//! Host reservations in the DHCPv4 engine (Kea ARM 9.3).
//!
//! [`HostTable`] is built once per config from the subnets' and the global `reservations`:
//! one hash map per scope and identifier type, keyed by the identifier bytes, so a lookup is
//! one hash per identifier type in `host-reservation-identifiers` order, with no allocation
//! and no lock (the table is immutable and shared by the shards through the `Arc` of
//! [`crate::Prepared4`]). It also knows which addresses are reserved, for the allocator's
//! "reserved for another client" checks (ARM 9.3.2, 9.3.8).

use crate::classes::{ClassIdx, ClassTable, HostClassNames};
use crate::prepared::OptionTable;
use corelease_classify::Program;
use corelease_config::{Dhcp4Config, HostIdentifierType, Reservation4};
use corelease_wire::v4::{relay_sub, relay_suboptions, Dhcp4Packet, OptionIndex};
// foldhash, not std's SipHash: identifiers are client-chosen, so the maps stay keyed by a
// per-process random seed (foldhash::fast::RandomState), but hashing a MAC costs a few ns
// instead of ~20 (issue 8: classes + host lookup under 200 ns per packet).
use foldhash::HashMap;
use std::net::Ipv4Addr;

/// Index of a host in [`HostTable::hosts`].
pub type HostIdx = u32;

/// One reservation, ready for the hot path.
pub struct Host {
    /// Subnet index the reservation belongs to, None for a global one.
    pub subnet: Option<usize>,
    pub addr: Option<u32>,
    pub hostname: Option<Box<str>>,
    pub options: OptionTable,
    pub has_options: bool,
    pub next_server: Option<Ipv4Addr>,
    pub server_hostname: Option<Box<[u8]>>,
    pub boot_file_name: Option<Box<[u8]>>,
    /// Reserved classes the config defines (ARM 9.3.6).
    pub classes: Box<[ClassIdx]>,
    /// Reserved class names the config does not define (still usable by guards, `member()`).
    pub other_classes: Box<[Box<str>]>,
}

impl HostClassNames for Host {
    fn has_class(&self, name: &str) -> bool {
        self.other_classes.iter().any(|c| &**c == name)
    }
}

/// The identifier kinds looked up in DHCPv4.
const KINDS: usize = 5;

/// The map slot of flex-id reservations.
const FLEX_SLOT: usize = 4;

fn kind_slot(kind: HostIdentifierType) -> Option<usize> {
    match kind {
        HostIdentifierType::HwAddress => Some(0),
        HostIdentifierType::Duid => Some(1),
        HostIdentifierType::CircuitId => Some(2),
        HostIdentifierType::ClientId => Some(3),
        HostIdentifierType::FlexId => Some(FLEX_SLOT),
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

/// The identifiers a packet carries, borrowed from it (ARM 9.3: hw-address is chaddr, client-id
/// option 61 as sent, duid the DUID inside an RFC 4361 client identifier, circuit-id the
/// relay agent's sub-option 1, flex-id what the flex_id library's expression made of the
/// packet, ARM 17.9).
#[derive(Clone, Copy, Default)]
pub struct PacketIds<'a> {
    pub hw: &'a [u8],
    pub client_id: Option<&'a [u8]>,
    pub duid: Option<&'a [u8]>,
    pub circuit_id: Option<&'a [u8]>,
    pub flex_id: Option<&'a [u8]>,
}

impl<'a> PacketIds<'a> {
    pub fn of(pkt: &'a Dhcp4Packet<&'a [u8]>, opts: &'a OptionIndex) -> Self {
        let client_id = opts.client_id();
        // RFC 4361 6.1: type 255, then a 4-byte IAID, then the DUID.
        let duid = client_id
            .filter(|c| c.len() > 5 && c.first() == Some(&255))
            .and_then(|c| c.get(5..));
        let circuit_id = opts.relay_agent_info().and_then(|rai| {
            relay_suboptions(rai)
                .find(|&(code, _)| code == relay_sub::CIRCUIT_ID)
                .map(|(_, v)| v)
        });
        PacketIds {
            hw: pkt.chaddr(),
            client_id,
            duid,
            circuit_id,
            flex_id: None,
        }
    }

    /// With the client identifier replaced (flex_id's replace-client-id): RFC 4361's DUID
    /// form is looked for in the new one, as Kea's processing would see it.
    pub fn with_client_id(mut self, client_id: Option<&'a [u8]>) -> Self {
        if let Some(c) = client_id {
            self.client_id = Some(c);
            self.duid = (c.len() > 5 && c.first() == Some(&255))
                .then(|| c.get(5..))
                .flatten();
        }
        self
    }

    /// With the packet's flex-id (the evaluated `identifier-expression`); an empty one
    /// identifies nobody (ARM 17.9: the expression may well evaluate to "").
    pub fn with_flex_id(mut self, flex_id: &'a [u8]) -> Self {
        self.flex_id = (!flex_id.is_empty()).then_some(flex_id);
        self
    }

    fn get(&self, slot: usize) -> Option<&'a [u8]> {
        match slot {
            0 => (!self.hw.is_empty()).then_some(self.hw),
            1 => self.duid,
            2 => self.circuit_id,
            3 => self.client_id,
            FLEX_SLOT => self.flex_id,
            _ => None,
        }
    }
}

/// Every reservation of one config.
#[derive(Default)]
pub struct HostTable {
    pub hosts: Vec<Host>,
    /// Index = subnet index.
    subnets: Vec<Scope>,
    global: Scope,
    /// `host-reservation-identifiers`, as map slots, in order.
    order: Vec<usize>,
    /// Addresses reserved in subnets with reservations-in-subnet: the hosts they belong to
    /// (several when ip-reservations-unique is false). Others must not get them (ARM 9.3.2).
    reserved: HashMap<u32, Box<[HostIdx]>>,
    /// The flex_id library's `identifier-expression` (ARM 17.9), compiled; None unless the
    /// library is configured, flex-id is a `host-reservation-identifiers` type and some
    /// reservation uses it (else there is nothing to evaluate it for).
    pub flex_id: Option<Program>,
    /// `replace-client-id` (ARM 17.9.1): the flex-id, behind a 0x00 type byte, stands in for
    /// the client identifier of the packet. `flex_id` is then always compiled.
    pub flex_replaces_client_id: bool,
}

impl HostTable {
    pub fn new(cfg: &Dhcp4Config, classes: &ClassTable) -> Self {
        let mut t = HostTable {
            subnets: cfg.subnets.iter().map(|_| Scope::default()).collect(),
            order: cfg
                .host_reservation_identifiers
                .iter()
                .filter_map(|k| kind_slot(*k))
                .collect(),
            ..HostTable::default()
        };
        let mut reserved: HashMap<u32, Vec<HostIdx>> = HashMap::default();
        for (si, s) in cfg.subnets.iter().enumerate() {
            for r in &s.reservations {
                let Some(idx) = t.add(r, Some(si), classes) else {
                    continue;
                };
                // reservations-out-of-pool: an in-pool reserved address is not honoured and
                // stays dynamic (ARM 9.3.8).
                let in_pool = |a: Ipv4Addr| s.pools.iter().any(|p| p.contains(a));
                if let Some(a) = r.ip_address {
                    let honoured =
                        s.reservations_in_subnet && !(s.reservations_out_of_pool && in_pool(a));
                    if honoured {
                        reserved.entry(u32::from(a)).or_default().push(idx);
                    }
                }
            }
        }
        for r in &cfg.reservations {
            t.add(r, None, classes);
        }
        let flex_used = t.order.contains(&FLEX_SLOT)
            && (t.global.by_kind[FLEX_SLOT].len()
                + t.subnets
                    .iter()
                    .map(|s| s.by_kind[FLEX_SLOT].len())
                    .sum::<usize>()
                > 0);
        t.flex_replaces_client_id = cfg.flex_id.as_ref().is_some_and(|f| f.replace_client_id);
        if flex_used || t.flex_replaces_client_id {
            let resolve =
                |name: &str| corelease_config::option_code_by_name(name, &cfg.option_defs);
            // Checked when the config was parsed; one that does not compile here (it cannot)
            // leaves flex-id reservations unmatched rather than failing.
            t.flex_id = cfg.flex_id.as_ref().and_then(|f| {
                corelease_classify::compile_with(
                    &f.identifier_expression,
                    corelease_classify::Universe::V4,
                    &resolve,
                )
                .ok()
            });
        }
        t.reserved = reserved
            .into_iter()
            .map(|(a, hosts)| (a, hosts.into_boxed_slice()))
            .collect();
        t
    }

    fn add(
        &mut self,
        r: &Reservation4,
        subnet: Option<usize>,
        classes: &ClassTable,
    ) -> Option<HostIdx> {
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
        let options = OptionTable::merge(&[&r.options]);
        let has_options = options.iter().next().is_some();
        self.hosts.push(Host {
            subnet,
            addr: r.ip_address.map(u32::from),
            hostname: r.hostname.as_deref().map(Into::into),
            options,
            has_options,
            next_server: r.next_server,
            server_hostname: r.server_hostname.as_deref().map(|s| s.as_bytes().into()),
            boot_file_name: r.boot_file_name.as_deref().map(|s| s.as_bytes().into()),
            classes: r
                .client_classes
                .iter()
                .filter_map(|c| classes.index_of(c))
                .collect(),
            other_classes: r
                .client_classes
                .iter()
                .filter(|c| classes.index_of(c).is_none())
                .map(|c| c.as_str().into())
                .collect(),
        });
        Some(idx)
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    pub fn host(&self, idx: HostIdx) -> Option<&Host> {
        self.hosts.get(idx as usize)
    }

    fn lookup_in(&self, scope: &Scope, ids: &PacketIds<'_>) -> Option<HostIdx> {
        if scope.is_empty() {
            return None;
        }
        self.order.iter().find_map(|&slot| {
            let id = ids.get(slot)?;
            scope.by_kind.get(slot)?.get(id).copied()
        })
    }

    /// The client's reservation in subnet `subnet` (by identifier type order).
    pub fn in_subnet(&self, subnet: usize, ids: &PacketIds<'_>) -> Option<HostIdx> {
        self.lookup_in(self.subnets.get(subnet)?, ids)
    }

    pub fn global(&self, ids: &PacketIds<'_>) -> Option<HostIdx> {
        self.lookup_in(&self.global, ids)
    }

    pub fn has_reserved_addresses(&self) -> bool {
        !self.reserved.is_empty()
    }

    /// The hosts `addr` is reserved for, if it is a subnet reservation's address.
    pub fn reserved_for(&self, addr: u32) -> Option<&[HostIdx]> {
        if self.reserved.is_empty() {
            return None;
        }
        self.reserved.get(&addr).map(|h| &**h)
    }

    /// Every reserved address (in-subnet reservations), for claiming their pool bits.
    pub fn reserved_addresses(&self) -> impl Iterator<Item = u32> + '_ {
        self.reserved.keys().copied()
    }
}
