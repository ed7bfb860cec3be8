//! Host reservation tables (Kea ARM 9.3 for DHCPv4, 10.3 for DHCPv6).
//!
//! A [`HostTable`] is built once per config from the subnets' and the global `reservations`:
//! one hash map per scope (a subnet, or the global scope) and identifier type, keyed by the
//! identifier bytes, so a lookup costs one hash per type in `host-reservation-identifiers`
//! order, with no allocation and no lock (the table is immutable and shared by the shards
//! through their prepared config's `Arc`). It also knows which addresses (v4) or addresses and
//! prefixes (v6) are reserved, and for whom, for the allocators' "reserved for another
//! client" checks (ARM 9.3.2, 10.3.2).
//!
//! What a reservation gives its client (`H`) and how a reserved value is keyed (`K`) are the
//! family's; so is reading the identifiers out of a packet ([`HostIdentifiers`]).

use corelease_classify::{Program, Universe};
use corelease_config::{HostIdentifier, HostIdentifierType};
// foldhash, not std's SipHash: identifiers are client-chosen, so the maps stay keyed by a
// per-process random seed (foldhash::fast::RandomState), but hashing a MAC or a DUID costs a
// few ns instead of ~20 (issue 8: classes + host lookup under 200 ns per packet).
use foldhash::HashMap;
use std::hash::Hash;

/// Index of a host in [`HostTable::hosts`].
pub type HostIdx = u32;

/// Every identifier type has a map slot in each scope; a family's config accepts only the
/// types it can read (DHCPv6: hw-address, duid, flex-id), so the others stay empty.
const KINDS: usize = HostIdentifierType::ALL.len();

fn slot(kind: HostIdentifierType) -> usize {
    match kind {
        HostIdentifierType::HwAddress => 0,
        HostIdentifierType::Duid => 1,
        HostIdentifierType::CircuitId => 2,
        HostIdentifierType::ClientId => 3,
        HostIdentifierType::FlexId => 4,
    }
}

/// The identifiers one packet carries, borrowed from it: each family says which bytes are
/// which identifier (e.g. DHCPv4's hw-address is chaddr, DHCPv6's comes from RFC 6939 or
/// the DUID). `None` (or an identifier the family does not have) matches no reservation.
pub trait HostIdentifiers {
    fn identifier(&self, kind: HostIdentifierType) -> Option<&[u8]>;
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

/// Every reservation of one config: the hosts (`H`, what a reservation gives its client) and
/// the reserved values (`K`: an IPv4 address, or a DHCPv6 address or prefix) with the hosts
/// they belong to.
pub struct HostTable<H, K> {
    pub hosts: Vec<H>,
    /// Index = subnet index.
    subnets: Vec<Scope>,
    global: Scope,
    /// `host-reservation-identifiers`, in order.
    order: Vec<HostIdentifierType>,
    /// Values reserved in subnets with reservations-in-subnet, with the hosts they belong to
    /// (several when ip-reservations-unique is false): others must not get them (ARM 9.3.2,
    /// 10.3.2).
    reserved: HashMap<K, Box<[HostIdx]>>,
    /// The flex_id library's `identifier-expression` (ARM 17.9), compiled; None unless the
    /// library is configured and the family found a use for it ([`HostTable::uses_flex_id`]).
    pub flex_id: Option<Program>,
    /// `replace-client-id` (ARM 17.9.1): the flex-id, behind a 0x00 type byte (DHCPv4) or two
    /// zero bytes (DHCPv6), stands in for the client identifier or DUID of the packet.
    /// `flex_id` is then always compiled.
    pub flex_replaces_client_id: bool,
}

impl<H, K: Hash + Eq + Copy> Default for HostTable<H, K> {
    fn default() -> Self {
        HostTable::new(0, &[])
    }
}

impl<H, K: Hash + Eq + Copy> HostTable<H, K> {
    /// An empty table for `subnets` subnets, looked up in `order`
    /// (`host-reservation-identifiers`).
    pub fn new(subnets: usize, order: &[HostIdentifierType]) -> Self {
        HostTable {
            hosts: Vec::new(),
            subnets: (0..subnets).map(|_| Scope::default()).collect(),
            global: Scope::default(),
            order: order.to_vec(),
            reserved: HashMap::default(),
            flex_id: None,
            flex_replaces_client_id: false,
        }
    }

    /// Adds a reservation of subnet `subnet` (None: global) identified by `id`; None when the
    /// subnet index is out of range or the table is full.
    pub fn add(&mut self, subnet: Option<usize>, id: &HostIdentifier, host: H) -> Option<HostIdx> {
        let idx = HostIdx::try_from(self.hosts.len()).ok()?;
        let scope = match subnet {
            Some(s) => self.subnets.get_mut(s)?,
            None => &mut self.global,
        };
        scope
            .by_kind
            .get_mut(slot(id.kind))?
            .insert(id.bytes.clone().into_boxed_slice(), idx);
        self.hosts.push(host);
        Some(idx)
    }

    /// Records that `value` is reserved for `host` (after the hosts it is already reserved
    /// for, in config order).
    pub fn reserve(&mut self, value: K, host: HostIdx) {
        let hosts = self.reserved.entry(value).or_default();
        let mut list = std::mem::take(hosts).into_vec();
        list.push(host);
        *hosts = list.into_boxed_slice();
    }

    /// Whether flex-id is a `host-reservation-identifiers` type and some reservation uses it
    /// (else the `identifier-expression` has nothing to be evaluated for).
    pub fn uses_flex_id(&self) -> bool {
        let flex = slot(HostIdentifierType::FlexId);
        self.order.contains(&HostIdentifierType::FlexId)
            && std::iter::once(&self.global)
                .chain(&self.subnets)
                .any(|s| s.by_kind.get(flex).is_some_and(|m| !m.is_empty()))
    }

    /// Compiles the flex_id library's `identifier-expression` into [`HostTable::flex_id`].
    /// The config parser checked it; one that does not compile here (it cannot) leaves
    /// flex-id reservations unmatched rather than failing.
    pub fn compile_flex_id(
        &mut self,
        expr: &str,
        universe: Universe,
        resolve: &dyn Fn(&str) -> Option<u16>,
    ) {
        self.flex_id = corelease_classify::compile_with(expr, universe, resolve).ok();
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    pub fn host(&self, idx: HostIdx) -> Option<&H> {
        self.hosts.get(idx as usize)
    }

    #[inline]
    fn lookup_in(&self, scope: &Scope, ids: &impl HostIdentifiers) -> Option<HostIdx> {
        if scope.is_empty() {
            return None;
        }
        self.order.iter().find_map(|&kind| {
            let id = ids.identifier(kind)?;
            scope.by_kind.get(slot(kind))?.get(id).copied()
        })
    }

    /// The client's reservation in subnet `subnet` (by identifier type order).
    pub fn in_subnet(&self, subnet: usize, ids: &impl HostIdentifiers) -> Option<HostIdx> {
        self.lookup_in(self.subnets.get(subnet)?, ids)
    }

    /// The client's global reservation (by identifier type order).
    pub fn global(&self, ids: &impl HostIdentifiers) -> Option<HostIdx> {
        self.lookup_in(&self.global, ids)
    }

    pub fn has_reserved_values(&self) -> bool {
        !self.reserved.is_empty()
    }

    /// The hosts `value` is reserved for, if it is an honoured subnet reservation's value.
    #[inline]
    pub fn reserved_for(&self, value: K) -> Option<&[HostIdx]> {
        if self.reserved.is_empty() {
            return None;
        }
        self.reserved.get(&value).map(|h| &**h)
    }

    /// Every honoured subnet reservation's value, for claiming their pool bits at load.
    pub fn reserved_values(&self) -> impl Iterator<Item = K> + '_ {
        self.reserved.keys().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ids<'a> {
        hw: Option<&'a [u8]>,
        duid: Option<&'a [u8]>,
    }

    impl HostIdentifiers for Ids<'_> {
        fn identifier(&self, kind: HostIdentifierType) -> Option<&[u8]> {
            match kind {
                HostIdentifierType::HwAddress => self.hw,
                HostIdentifierType::Duid => self.duid,
                _ => None,
            }
        }
    }

    fn id(kind: HostIdentifierType, bytes: &[u8]) -> HostIdentifier {
        HostIdentifier {
            kind,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn lookup_follows_the_identifier_order_and_the_scope() {
        use HostIdentifierType::{Duid, HwAddress};
        let mut t: HostTable<&str, u32> = HostTable::new(2, &[Duid, HwAddress]);
        let by_hw = t.add(Some(0), &id(HwAddress, &[1, 2, 3]), "hw");
        let by_duid = t.add(Some(0), &id(Duid, &[9, 9]), "duid");
        let global = t.add(None, &id(HwAddress, &[1, 2, 3]), "global");
        assert_eq!(t.add(Some(7), &id(HwAddress, &[4]), "no such subnet"), None);
        let both = Ids {
            hw: Some(&[1, 2, 3]),
            duid: Some(&[9, 9]),
        };
        // duid comes first in the order, whatever matched by hw-address.
        assert_eq!(t.in_subnet(0, &both), by_duid);
        let hw_only = Ids {
            hw: Some(&[1, 2, 3]),
            duid: Some(&[8]),
        };
        assert_eq!(t.in_subnet(0, &hw_only), by_hw);
        assert_eq!(t.in_subnet(1, &hw_only), None);
        assert_eq!(t.global(&hw_only), global);
        assert_eq!(t.hosts.len(), 3);
        assert_eq!(global.and_then(|g| t.host(g)), Some(&"global"));
    }

    #[test]
    fn a_type_missing_from_the_order_is_not_looked_up() {
        let mut t: HostTable<(), u32> = HostTable::new(1, &[HostIdentifierType::Duid]);
        t.add(Some(0), &id(HostIdentifierType::HwAddress, &[1]), ());
        let ids = Ids {
            hw: Some(&[1]),
            duid: None,
        };
        assert_eq!(t.in_subnet(0, &ids), None);
    }

    #[test]
    fn reserved_values_keep_every_host_in_config_order() {
        let mut t: HostTable<(), (u128, bool)> = HostTable::new(0, &[]);
        assert!(!t.has_reserved_values());
        assert_eq!(t.reserved_for((5, false)), None);
        t.reserve((5, false), 2);
        t.reserve((5, false), 0);
        t.reserve((5, true), 1);
        assert_eq!(t.reserved_for((5, false)), Some(&[2, 0][..]));
        assert_eq!(t.reserved_for((5, true)), Some(&[1][..]));
        assert_eq!(t.reserved_for((6, false)), None);
        let mut values: Vec<_> = t.reserved_values().collect();
        values.sort_unstable();
        assert_eq!(values, vec![(5, false), (5, true)]);
    }

    #[test]
    fn flex_id_is_used_only_when_ordered_and_reserved() {
        use HostIdentifierType::{FlexId, HwAddress};
        let mut unordered: HostTable<(), u32> = HostTable::new(1, &[HwAddress]);
        unordered.add(Some(0), &id(FlexId, b"x"), ());
        assert!(!unordered.uses_flex_id());
        let mut unused: HostTable<(), u32> = HostTable::new(1, &[FlexId]);
        unused.add(None, &id(HwAddress, &[1]), ());
        assert!(!unused.uses_flex_id());
        let mut used: HostTable<(), u32> = HostTable::new(1, &[FlexId]);
        used.add(Some(0), &id(FlexId, b"x"), ());
        assert!(used.uses_flex_id());
    }
}
