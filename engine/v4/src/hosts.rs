//! Host reservations in the DHCPv4 engine (Kea ARM 9.3).
//!
//! The table itself (scopes, identifier order, reserved addresses, flex-id) is
//! `corelease-classes`' [`corelease_classes::HostTable`], shared with DHCPv6; this module says
//! what a DHCPv4 reservation gives its client ([`Host`]), which bytes of a packet are which
//! identifier ([`PacketIds`]), and which reserved addresses are honoured (ARM 9.3.8).

use crate::classes::{ClassIdx, ClassTable, HostClassNames};
use crate::prepared::OptionTable;
use corelease_classes::HostIdentifiers;
use corelease_classify::Universe;
use corelease_config::{Dhcp4Config, HostIdentifierType, Reservation4};
use corelease_wire::v4::{relay_sub, relay_suboptions, Dhcp4Packet, OptionIndex};
use std::net::Ipv4Addr;

pub use corelease_classes::HostIdx;

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
}

impl HostIdentifiers for PacketIds<'_> {
    fn identifier(&self, kind: HostIdentifierType) -> Option<&[u8]> {
        match kind {
            HostIdentifierType::HwAddress => (!self.hw.is_empty()).then_some(self.hw),
            HostIdentifierType::Duid => self.duid,
            HostIdentifierType::CircuitId => self.circuit_id,
            HostIdentifierType::ClientId => self.client_id,
            HostIdentifierType::FlexId => self.flex_id,
        }
    }
}

/// Every reservation of one config, reserved addresses keyed as `u32`.
pub type HostTable = corelease_classes::HostTable<Host, u32>;

/// Builds the config's host table: subnet reservations (the honoured addresses marked
/// reserved), then the global ones, then the flex-id expression if anything needs it.
pub fn host_table(cfg: &Dhcp4Config, classes: &ClassTable) -> HostTable {
    let mut t = HostTable::new(cfg.subnets.len(), &cfg.host_reservation_identifiers);
    for (si, s) in cfg.subnets.iter().enumerate() {
        for r in &s.reservations {
            let Some(idx) = t.add(Some(si), &r.identifier, host(r, Some(si), classes)) else {
                continue;
            };
            // reservations-out-of-pool: an in-pool reserved address is not honoured and
            // stays dynamic (ARM 9.3.8).
            let in_pool = |a: Ipv4Addr| s.pools.iter().any(|p| p.contains(a));
            if let Some(a) = r.ip_address {
                let honoured =
                    s.reservations_in_subnet && !(s.reservations_out_of_pool && in_pool(a));
                if honoured {
                    t.reserve(u32::from(a), idx);
                }
            }
        }
    }
    for r in &cfg.reservations {
        t.add(None, &r.identifier, host(r, None, classes));
    }
    t.flex_replaces_client_id = cfg.flex_id.as_ref().is_some_and(|f| f.replace_client_id);
    if t.uses_flex_id() || t.flex_replaces_client_id {
        if let Some(f) = &cfg.flex_id {
            let resolve =
                |name: &str| corelease_config::option_code_by_name(name, &cfg.option_defs);
            t.compile_flex_id(&f.identifier_expression, Universe::V4, &resolve);
        }
    }
    t
}

fn host(r: &Reservation4, subnet: Option<usize>, classes: &ClassTable) -> Host {
    let options = OptionTable::merge(&[&r.options]);
    let has_options = options.iter().next().is_some();
    Host {
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
    }
}
