//! The validated, fully-resolved DHCPv6 configuration model (ARM chapter 10).

use crate::model::{
    ClassLists, ControlSocket, ExpiredLeasesProcessing, HookLibrary, HostIdentifier,
    HostIdentifierType, LeaseDatabase, LoggerConfig, MultiThreading,
};
use crate::options::defs6::{OptionDef6, OptionSet6};
use corelease_types::{PoolId, SubnetId};
use std::net::Ipv6Addr;

/// Kea's DHCPv6 lifetime defaults (simple_parser6.cc GLOBAL6_DEFAULTS).
pub const DEFAULT_PREFERRED_LIFETIME6: u32 = 3600;
pub const DEFAULT_VALID_LIFETIME6: u32 = 7200;
/// DHCPv6 default T1/T2 fractions when calculate-tee-times is on (ARM 10.2.9; Kea's
/// default for calculate-tee-times is true in DHCPv6).
pub const DEFAULT_T1_PERCENT6: f64 = 0.5;
pub const DEFAULT_T2_PERCENT6: f64 = 0.8;

#[derive(Clone, Debug, PartialEq)]
pub struct Dhcp6Config {
    pub interfaces: Interfaces6,
    pub lease_database: LeaseDatabase,
    /// All subnets, those inside shared networks included, in config order.
    pub subnets: Vec<Subnet6>,
    pub shared_networks: Vec<SharedNetwork6>,
    pub global_options: OptionSet6,
    pub multi_threading: MultiThreading,
    /// Seconds a declined address stays in probation (Kea default 86400, ARM 10.5).
    pub decline_probation_period: u32,
    /// `server-id` (ARM 10.2.13): how the server DUID is generated when none is persisted.
    pub server_id: ServerIdConfig,
    pub expired_leases_processing: ExpiredLeasesProcessing,
    pub loggers: Vec<LoggerConfig>,
    /// Served by the control thread of `corelease dhcp6` (src/control6.rs).
    pub control_sockets: Vec<ControlSocket>,
    /// `hooks-libraries`: run-script libraries only (checked by the parser).
    pub hooks_libraries: Vec<HookLibrary>,
    pub user_context: Option<serde_json::Value>,
    /// Global `reservations` (ARM 10.3.1), used by subnets with reservations-global.
    pub reservations: Vec<Reservation6>,
    /// `host-reservation-identifiers`, in lookup order (Kea's DHCPv6 default: hw-address,
    /// duid).
    pub host_reservation_identifiers: Vec<HostIdentifierType>,
    /// `ip-reservations-unique` (ARM 10.3.x): false lets several hosts reserve one address.
    pub ip_reservations_unique: bool,
    /// `early-global-reservations-lookup` (ARM 10.3, 16.1.1 step 6): global reservations are
    /// looked up before subnet selection, so their classes (and KNOWN) can select a subnet.
    pub early_global_reservations_lookup: bool,
    /// `client-classes` (ARM chapter 16), in config order.
    pub client_classes: Vec<ClientClass6>,
    /// Global `option-def` (ARM 10.2.12).
    pub option_defs: Vec<OptionDef6>,
    /// `libdhcp_flex_id.so`'s parameters (ARM 17.9), when that library is configured; its
    /// expression is compiled for DHCPv6.
    pub flex_id: Option<crate::model::FlexId>,
    /// `dhcp4o6-port` (ARM 10.2.26): the DHCPv6 side of DHCPv4-over-DHCPv6 is bound to
    /// `[::1]` at this port and forwards DHCPv4-queries to the DHCPv4 server at this port + 1.
    /// 0 (Kea's default) turns 4o6 off.
    pub dhcp4o6_port: u16,
    /// `mac-sources` (ARM 10.11): how a client's hardware address is found, tried in order;
    /// each entry a mask of [`corelease_types::hwaddr_source`] bits (Kea's default: any).
    pub mac_sources: Vec<u32>,
}

/// One DHCPv6 host reservation (ARM 10.3): one identifier (duid or hw-address), any number of
/// addresses and prefixes, a hostname, options and classes.
#[derive(Clone, Debug, PartialEq)]
pub struct Reservation6 {
    pub identifier: HostIdentifier,
    pub ip_addresses: Vec<Ipv6Addr>,
    /// Reserved prefixes as (prefix, length); not bound to the subnet (ARM 10.3 note).
    pub prefixes: Vec<(Ipv6Addr, u8)>,
    /// `excluded-prefixes` (Kea 2.7.3+, ARM 10.3): the RFC 6603 prefix to exclude from
    /// `prefixes` at the same index, None for none (the pool's is not used for a reserved
    /// prefix). Same length as `prefixes`.
    pub excluded_prefixes: Vec<Option<(Ipv6Addr, u8)>>,
    pub hostname: Option<String>,
    pub client_classes: Vec<String>,
    pub options: OptionSet6,
    pub user_context: Option<serde_json::Value>,
}

/// One Dhcp6 `client-classes` entry (ARM 16.4).
#[derive(Clone, Debug, PartialEq)]
pub struct ClientClass6 {
    pub name: String,
    pub test: Option<String>,
    /// `template-test` (ARM 16.4.1): its value v spawns class `SPAWN_<name>_<v>`.
    pub template_test: Option<String>,
    /// `only-in-additional-list` (or the older `only-if-required`).
    pub only_in_additional_list: bool,
    pub options: OptionSet6,
    /// `preferred-lifetime` (+ min/max) given to members (ARM 16.4).
    pub preferred: Option<Lifetime6>,
    pub valid: Option<Lifetime6>,
    pub user_context: Option<serde_json::Value>,
}

/// `interfaces-config` of Dhcp6 (ARM 10.2.4): names, optionally `eth0/2001:db8::1` to listen
/// on one unicast address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interfaces6 {
    pub interfaces: Vec<Interface6Spec>,
    /// "*" was listed.
    pub all: bool,
    pub re_detect: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface6Spec {
    pub name: String,
    /// A unicast address to listen on besides ff02::1:2 (ARM 10.2.5).
    pub unicast: Option<Ipv6Addr>,
}

/// DUID types of `server-id.type` (RFC 8415 section 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DuidType {
    /// Link-layer address plus time (type 1), Kea's default.
    Llt,
    /// Enterprise number plus identifier (type 2).
    En,
    /// Link-layer address (type 3).
    Ll,
}

/// `server-id` (ARM 10.2.13). Unset fields are generated (and then persisted) by the runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerIdConfig {
    pub duid_type: DuidType,
    /// `identifier`: the link-layer address (LLT/LL) or the EN identifier, as bytes.
    pub identifier: Option<Vec<u8>>,
    /// `htype` (LLT/LL), default 1 (Ethernet).
    pub htype: u16,
    /// `time` (LLT), seconds since 2000-01-01; None = now.
    pub time: Option<u32>,
    /// `enterprise-id` (EN), default 2495 (ISC).
    pub enterprise_id: u32,
    /// `persist`: keep the DUID in the server-id file (default true).
    pub persist: bool,
}

impl Default for ServerIdConfig {
    fn default() -> Self {
        ServerIdConfig {
            duid_type: DuidType::Llt,
            identifier: None,
            htype: 1,
            time: None,
            enterprise_id: 2495,
            persist: true,
        }
    }
}

impl ServerIdConfig {
    /// The DUID when every part is configured (LLT needs identifier and time, EN and LL the
    /// identifier); None when the runtime must generate the missing parts.
    pub fn configured_duid(&self) -> Option<Vec<u8>> {
        let id = self.identifier.as_ref()?;
        let mut duid = Vec::with_capacity(8 + id.len());
        match self.duid_type {
            DuidType::Llt => {
                duid.extend_from_slice(&1u16.to_be_bytes());
                duid.extend_from_slice(&self.htype.to_be_bytes());
                duid.extend_from_slice(&self.time?.to_be_bytes());
            }
            DuidType::En => {
                duid.extend_from_slice(&2u16.to_be_bytes());
                duid.extend_from_slice(&self.enterprise_id.to_be_bytes());
            }
            DuidType::Ll => {
                duid.extend_from_slice(&3u16.to_be_bytes());
                duid.extend_from_slice(&self.htype.to_be_bytes());
            }
        }
        duid.extend_from_slice(id);
        Some(duid)
    }
}

/// Seconds from the Unix epoch to 2000-01-01 00:00:00 UTC, the DUID-LLT epoch (RFC 8415
/// section 11.2).
pub const DUID_TIME_EPOCH: u64 = 946_684_800;

impl ServerIdConfig {
    /// The DUID to generate when none is persisted yet: configured parts as given, the
    /// missing identifier taken from `link_layer` (an interface's MAC for LLT/LL, random
    /// bytes for EN, as Kea does), the missing LLT time from `now_unix`. The runtime persists
    /// the result and reuses it across restarts (ARM 10.2.13).
    pub fn generate_duid(&self, link_layer: &[u8], now_unix: u64) -> Vec<u8> {
        let time = self.time.unwrap_or_else(|| {
            u32::try_from(now_unix.saturating_sub(DUID_TIME_EPOCH)).unwrap_or(u32::MAX)
        });
        let filled = ServerIdConfig {
            identifier: Some(
                self.identifier
                    .clone()
                    .unwrap_or_else(|| link_layer.to_vec()),
            ),
            time: Some(time),
            ..self.clone()
        };
        filled.configured_duid().unwrap_or_default()
    }
}

/// A lifetime with its bounds (Kea's triplet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime6 {
    pub min: u32,
    pub default: u32,
    pub max: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SharedNetwork6 {
    pub name: String,
    pub interface: Option<String>,
    pub interface_id: Option<Vec<u8>>,
    pub relay_addresses: Vec<Ipv6Addr>,
    pub options: OptionSet6,
    /// Indexes into [`Dhcp6Config::subnets`].
    pub subnets: Vec<usize>,
    /// `client-classes` guard and `evaluate-additional-classes` (ARM 16.6, 16.4.1).
    pub classes: ClassLists,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Subnet6 {
    pub id: SubnetId,
    pub prefix: Ipv6Addr,
    pub prefix_len: u8,
    pub pools: Vec<Pool6>,
    pub pd_pools: Vec<PdPool6>,
    /// Directly connected on this interface (ARM 10.2.6); inherited from the shared network.
    pub interface: Option<String>,
    /// Selected by a relay's Interface-ID option (ARM 10.6.x "interface-id").
    pub interface_id: Option<Vec<u8>>,
    /// `relay.ip-addresses`: selected by a relay's link-address (ARM 10.6).
    pub relay_addresses: Vec<Ipv6Addr>,
    /// Solicit with Rapid Commit answered by Reply (ARM 10.2.14); default false.
    pub rapid_commit: bool,
    pub preferred: Lifetime6,
    pub valid: Lifetime6,
    pub renew_timer: Option<u32>,
    pub rebind_timer: Option<u32>,
    pub calculate_tee_times: bool,
    pub t1_percent: f64,
    pub t2_percent: f64,
    /// Subnet options merged over the shared network's and the global ones: most specific
    /// first is the lookup order the engine uses (subnet, shared network, global).
    pub options: OptionSet6,
    /// The subnet's and its shared network's own options, without the global ones: class
    /// options rank between these and the global ones (ARM 16.8: host > pool > subnet >
    /// shared network > class > global).
    pub scoped_options: OptionSet6,
    pub shared_network: Option<usize>,
    pub user_context: Option<serde_json::Value>,
    /// This subnet's `reservations` (ARM 10.3).
    pub reservations: Vec<Reservation6>,
    /// reservations-global / -in-subnet / -out-of-pool, inherited global -> shared network ->
    /// subnet (Kea defaults false / true / false).
    pub reservations_global: bool,
    pub reservations_in_subnet: bool,
    pub reservations_out_of_pool: bool,
    pub classes: ClassLists,
}

impl Subnet6 {
    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        prefix6_contains(self.prefix, self.prefix_len, addr)
    }
}

/// True when `addr` lies in `prefix/len`.
pub fn prefix6_contains(prefix: Ipv6Addr, len: u8, addr: Ipv6Addr) -> bool {
    let mask = prefix6_mask(len);
    u128::from(prefix) & mask == u128::from(addr) & mask
}

/// The netmask of a /`len` as a 128-bit integer.
pub fn prefix6_mask(len: u8) -> u128 {
    match len {
        0 => 0,
        l if l >= 128 => u128::MAX,
        l => u128::MAX << (128 - u32::from(l)),
    }
}

/// An address pool: "2001:db8::10 - 2001:db8::ff" or "2001:db8::/120".
#[derive(Clone, Debug, PartialEq)]
pub struct Pool6 {
    pub first: Ipv6Addr,
    pub last: Ipv6Addr,
    pub pool_id: PoolId,
    pub options: OptionSet6,
    pub classes: ClassLists,
}

impl Pool6 {
    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        (u128::from(self.first)..=u128::from(self.last)).contains(&u128::from(addr))
    }
}

/// A prefix delegation pool (ARM 10.2.8): `prefix/prefix-len` cut into `/delegated-len`
/// prefixes, optionally with an RFC 6603 excluded prefix inside each delegated one.
#[derive(Clone, Debug, PartialEq)]
pub struct PdPool6 {
    pub prefix: Ipv6Addr,
    pub prefix_len: u8,
    pub delegated_len: u8,
    pub excluded_prefix: Option<(Ipv6Addr, u8)>,
    pub pool_id: PoolId,
    pub options: OptionSet6,
    pub classes: ClassLists,
}

impl PdPool6 {
    /// Whether `prefix/len` is one of the prefixes this pool delegates.
    pub fn delegates(&self, prefix: Ipv6Addr, len: u8) -> bool {
        len == self.delegated_len && prefix6_contains(self.prefix, self.prefix_len, prefix)
    }
}
