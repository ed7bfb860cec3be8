//! The validated, fully-resolved DHCPv4 configuration model.

use crate::options::defs::OptionDef;
use crate::options::OptionSet;
use corelease_types::{PoolId, SubnetId};
use std::net::Ipv4Addr;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq)]
pub struct Dhcp4Config {
    pub interfaces: InterfacesConfig,
    pub lease_database: LeaseDatabase,
    /// All subnets, including those inside shared networks, in config order (global
    /// `subnet4` first, then each shared network's).
    pub subnets: Vec<Subnet4>,
    pub shared_networks: Vec<SharedNetwork4>,
    pub global_options: OptionSet,
    pub option_defs: Vec<OptionDef>,
    pub multi_threading: MultiThreading,
    /// Seconds a declined address stays in probation (Kea default 86400, ARM 9.7).
    pub decline_probation_period: u32,
    /// RFC 6842: echo the client identifier (ARM 9.2.23); default true.
    pub echo_client_id: bool,
    pub loggers: Vec<LoggerConfig>,
    pub expired_leases_processing: ExpiredLeasesProcessing,
    pub user_context: Option<serde_json::Value>,
    /// Global host reservations (`Dhcp4.reservations`, ARM 9.3).
    pub reservations: Vec<Reservation4>,
    /// Identifier types looked up, in order (Kea default: hw-address, duid, circuit-id,
    /// client-id).
    pub host_reservation_identifiers: Vec<HostIdentifierType>,
    /// At most one reservation per address in a subnet (Kea default true).
    pub ip_reservations_unique: bool,
    /// `control-socket` / `control-sockets` (ARM 9.9); parsed, reported as not supported until
    /// the control thread serves them.
    pub control_sockets: Vec<ControlSocket>,
    /// `hooks-libraries`: the run-script libraries corelease implements natively (the
    /// flex_id library is read into `flex_id` instead).
    pub hooks_libraries: Vec<HookLibrary>,
    /// `libdhcp_flex_id.so`'s parameters (ARM 17.9), when that library is configured.
    pub flex_id: Option<FlexId>,
    /// Further global settings Kea has, parsed and type-checked; each key is still reported as
    /// not supported until the server honours it.
    pub other: OtherGlobals,
    /// `client-classes`, in order (ARM 16.4). Test expressions are kept as text here; they are
    /// compiled (and rejected with their path when malformed) while parsing, and compiled
    /// again into programs by the protocol crate.
    pub client_classes: Vec<ClientClass>,
    /// `dhcp4o6-port` (ARM 9.2.26): the DHCPv4 side of DHCPv4-over-DHCPv6 is bound to `[::1]`
    /// at this port + 1 and sends to the DHCPv6 server at this port. 0 (Kea's default) turns
    /// 4o6 off.
    pub dhcp4o6_port: u16,
}

/// One client class definition.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientClass {
    pub name: String,
    /// The `test` expression, as written.
    pub test: Option<String>,
    pub template_test: Option<String>,
    /// `only-in-additional-list` (Kea 3.0) or its older name `only-if-required`.
    pub only_in_additional_list: bool,
    pub options: OptionSet,
    /// Class-local definitions (only code 43 and 224..=254, ARM 9.2.13).
    pub option_defs: Vec<crate::options::defs::OptionDef>,
    pub next_server: Option<Ipv4Addr>,
    pub server_hostname: Option<String>,
    pub boot_file_name: Option<String>,
    /// Set when the class sets any of valid-lifetime / min- / max-.
    pub valid_lifetime: Option<Lifetime>,
    pub offer_lifetime: Option<u32>,
    pub user_context: Option<serde_json::Value>,
}

/// Global Kea settings the server does not act on yet, with Kea's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct OtherGlobals {
    /// `compatibility` (ARM 9.15).
    pub lenient_option_parsing: bool,
    pub ignore_dhcp_server_identifier: bool,
    pub ignore_rai_link_selection: bool,
    pub exclude_first_last_24: bool,
    /// `sanity-checks.lease-checks` (ARM 9.2.27): none, warn (default), fix, fix-del, del.
    pub lease_checks: String,
    /// `sanity-checks.extended-info-checks`: none, fix (default), strict, pedantic.
    pub extended_info_checks: String,
    pub server_tag: String,
    pub statistic_default_sample_count: u32,
    pub statistic_default_sample_age: u32,
    pub parked_packet_limit: u32,
    pub early_global_reservations_lookup: bool,
    /// Accepted and without effect: ARM 9.3.x says it only matters to Kea without
    /// multi-threading, and that with multi-threading reservations are always looked up
    /// first. corelease always looks them up first (each shard owns its leases, the lookup
    /// takes no lock), whatever the value.
    pub reservations_lookup_first: bool,
    pub stash_agent_options: bool,
    /// `dhcp-queue-control.enable-queue` / `queue-type` / `capacity`.
    pub queue_enabled: bool,
    pub queue_type: String,
    pub queue_capacity: u32,
}

impl Default for OtherGlobals {
    fn default() -> Self {
        OtherGlobals {
            lenient_option_parsing: false,
            ignore_dhcp_server_identifier: false,
            ignore_rai_link_selection: false,
            exclude_first_last_24: false,
            lease_checks: "warn".to_string(),
            extended_info_checks: "fix".to_string(),
            server_tag: String::new(),
            statistic_default_sample_count: 20,
            statistic_default_sample_age: 0,
            parked_packet_limit: 256,
            early_global_reservations_lookup: false,
            reservations_lookup_first: false,
            stash_agent_options: false,
            queue_enabled: false,
            queue_type: "kea-ring4".to_string(),
            queue_capacity: 64,
        }
    }
}

/// `allocator` (ARM 9.16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocator {
    Iterative,
    Random,
    FreeLeaseQueue,
}

/// `interfaces-config` (ARM 9.2.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfacesConfig {
    /// Named interfaces (without "*").
    pub interfaces: Vec<InterfaceSpec>,
    /// "*" was listed: listen on all interfaces.
    pub all: bool,
    pub socket_type: SocketType,
    pub outbound_interface: OutboundInterface,
    pub re_detect: bool,
    pub service_sockets_require_all: bool,
    pub service_sockets_max_retries: u32,
    /// Milliseconds between socket retries (Kea default 5000).
    pub service_sockets_retry_wait_time: u32,
}

impl Default for InterfacesConfig {
    fn default() -> Self {
        InterfacesConfig {
            interfaces: Vec::new(),
            all: false,
            socket_type: SocketType::Raw,
            outbound_interface: OutboundInterface::SameAsInbound,
            re_detect: true,
            service_sockets_require_all: false,
            service_sockets_max_retries: 0,
            service_sockets_retry_wait_time: 5000,
        }
    }
}

/// `"eth0"` or `"eth0/192.0.2.1"` (listen on that address only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceSpec {
    pub name: String,
    pub addr: Option<Ipv4Addr>,
}

/// `dhcp-socket-type`; Kea's default for DHCPv4 is raw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketType {
    Udp,
    Raw,
}

/// `outbound-interface`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboundInterface {
    SameAsInbound,
    UseRouting,
}

/// `lease-database` (memfile only, ARM 9.2.2.1) plus our durability choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseDatabase {
    pub persist: bool,
    pub name: Option<PathBuf>,
    /// Seconds between lease file cleanups; 0 disables (Kea default 3600).
    pub lfc_interval: u32,
    /// 0 = no limit (Kea default).
    pub max_row_errors: u32,
    pub durability: Durability,
}

impl Default for LeaseDatabase {
    fn default() -> Self {
        LeaseDatabase {
            persist: true,
            name: None,
            lfc_interval: 3600,
            max_row_errors: 0,
            durability: Durability::Default,
        }
    }
}

/// Ours, not Kea's (DESIGN.md "The lease log"): `"durability": "group-commit"` makes every ACK
/// wait for a shared fdatasync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survives a process crash (page cache), not a power loss.
    #[default]
    Default,
    GroupCommit {
        max_delay_us: u32,
        max_batch: u32,
    },
}

/// `multi-threading` (ARM 9.2.30); `thread_pool_size` is the shard count here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiThreading {
    pub enable: bool,
    /// 0 = one per core.
    pub thread_pool_size: u32,
    pub packet_queue_size: u32,
}

impl Default for MultiThreading {
    fn default() -> Self {
        MultiThreading {
            enable: true,
            thread_pool_size: 0,
            packet_queue_size: 64,
        }
    }
}

/// One entry of `loggers` (ARM chapter "Logging").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggerConfig {
    pub name: String,
    /// Kea's severity name, upper case: "FATAL", "ERROR", "WARN", "INFO", "DEBUG" or "NONE".
    pub severity: String,
    pub severity_level: Severity,
    /// 0..=99, used when severity is DEBUG.
    pub debuglevel: u8,
    /// `stdout`, `stderr`, `syslog` / `syslog:name` or a file path, one per output option.
    pub outputs: Vec<String>,
    pub output_options: Vec<LoggerOutput>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggerOutput {
    pub output: String,
    pub flush: bool,
    pub maxsize: u64,
    pub maxver: u32,
    pub pattern: Option<String>,
}

/// Logger severities, least severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
    None,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
            Severity::None => "NONE",
        }
    }
}

/// `expired-leases-processing` (ARM 10.x "Lease Reclamation"), Kea's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiredLeasesProcessing {
    /// Seconds between reclamation cycles (default 10).
    pub reclaim_timer_wait_time: u32,
    /// Seconds between removals of expired-reclaimed leases (default 25).
    pub flush_reclaimed_timer_wait_time: u32,
    /// Seconds reclaimed leases are kept for affinity (default 3600).
    pub hold_reclaimed_time: u32,
    /// Leases per cycle, 0 = no limit (default 100).
    pub max_reclaim_leases: u32,
    /// Milliseconds per cycle, 0 = no limit (default 250).
    pub max_reclaim_time: u32,
    /// Cycles with leftovers before a warning (default 5).
    pub unwarned_reclaim_cycles: u32,
}

impl Default for ExpiredLeasesProcessing {
    fn default() -> Self {
        ExpiredLeasesProcessing {
            reclaim_timer_wait_time: 10,
            flush_reclaimed_timer_wait_time: 25,
            hold_reclaimed_time: 3600,
            max_reclaim_leases: 100,
            max_reclaim_time: 250,
            unwarned_reclaim_cycles: 5,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SharedNetwork4 {
    pub name: String,
    /// Indices into `Dhcp4Config::subnets`.
    pub subnets: Vec<usize>,
    pub options: OptionSet,
    pub interface: Option<String>,
    pub relay_addresses: Vec<Ipv4Addr>,
    pub user_context: Option<serde_json::Value>,
    /// Class guard and additional classes of the network (ARM 16.6, 16.4.1).
    pub classes: ClassLists,
}

/// A scope's class guard (`client-classes`, or the deprecated single `client-class`) and its
/// `evaluate-additional-classes` (or the deprecated `require-client-classes`), ARM 16.6 / 16.7
/// / 16.4.1. Names may be classes the config does not define (Kea accepts them: host
/// reservations and hooks can assign any name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassLists {
    /// A client must belong to at least one of these to use the scope; empty = no guard.
    pub guard: Vec<String>,
    /// Classes evaluated after the lease is chosen, before options are assembled.
    pub additional: Vec<String>,
}

/// The valid-lifetime triplet (ARM 9.2.1 note): a client's requested lifetime is clamped to
/// min..=max, `default` is used when it asks for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    pub min: u32,
    pub default: u32,
    pub max: u32,
}

impl Lifetime {
    pub fn clamp(&self, requested: u32) -> u32 {
        requested.clamp(self.min, self.max)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Subnet4 {
    pub id: SubnetId,
    /// The network address (host bits cleared).
    pub prefix: Ipv4Addr,
    pub prefix_len: u8,
    pub pools: Vec<Pool4>,
    /// Own `relay.ip-addresses`, or inherited from the shared network.
    pub relay_addresses: Vec<Ipv4Addr>,
    /// Own `interface`, or inherited from the shared network.
    pub interface: Option<String>,
    /// Index into `Dhcp4Config::shared_networks`.
    pub shared_network: Option<usize>,
    // Effective parameters, resolved subnet -> shared network -> global -> Kea default.
    pub valid_lifetime: Lifetime,
    pub renew_timer: Option<u32>,
    pub rebind_timer: Option<u32>,
    pub calculate_tee_times: bool,
    pub t1_percent: f64,
    pub t2_percent: f64,
    pub match_client_id: bool,
    pub authoritative: bool,
    pub next_server: Ipv4Addr,
    pub server_hostname: String,
    pub boot_file_name: String,
    /// The subnet's own option-data only.
    pub options: OptionSet,
    pub user_context: Option<serde_json::Value>,
    /// The subnet's host reservations (parsed and validated; see `Dhcp4Config::reservations`).
    pub reservations: Vec<Reservation4>,
    /// Effective `reservations-global` / `-in-subnet` / `-out-of-pool` (Kea defaults false,
    /// true, false).
    pub reservations_global: bool,
    pub reservations_in_subnet: bool,
    pub reservations_out_of_pool: bool,
    /// Effective `allocator` (Kea default iterative). Reported as not supported yet.
    pub allocator: Allocator,
    /// Effective `offer-lifetime` (ARM 9.2.34; 0 = no lease on DHCPDISCOVER).
    pub offer_lifetime: u32,
    /// Effective `cache-threshold` (Kea 3.0 default 0.25) and `cache-max-age` (ARM 9.2.33).
    /// Reported as not supported yet.
    pub cache_threshold: f64,
    pub cache_max_age: Option<u32>,
    /// Effective `store-extended-info` (default false). Reported as not supported yet.
    pub store_extended_info: bool,
    /// The subnet's own class guard and additional classes (not inherited: the shared
    /// network's guard is checked on its own, ARM 16.6).
    pub classes: ClassLists,
    /// DHCPv4-over-DHCPv6 selectors (ARM 9.2.26); any of them makes the subnet a 4o6 subnet.
    pub dhcp4o6: Subnet4o6,
}

/// The `4o6-*` keys of a subnet4 (ARM 9.2.26, Kea's `Cfg4o6`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subnet4o6 {
    /// `4o6-interface`: matched against the interface the DHCPv6 server received the query on.
    pub interface: Option<String>,
    /// `4o6-interface-id`: matched against the Interface-ID option of the relay closest to the
    /// DHCPv6 server.
    pub interface_id: Option<Vec<u8>>,
    /// `4o6-subnet`: an IPv6 prefix matched against the query's IPv6 source address.
    pub subnet: Option<(std::net::Ipv6Addr, u8)>,
}

impl Subnet4o6 {
    /// True when any 4o6 selector is set (Kea's `Cfg4o6::enabled`).
    pub fn enabled(&self) -> bool {
        self.interface.is_some() || self.interface_id.is_some() || self.subnet.is_some()
    }
}

impl Subnet4 {
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(prefix_mask(self.prefix_len))
    }

    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & prefix_mask(self.prefix_len) == u32::from(self.prefix)
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.prefix) | !prefix_mask(self.prefix_len))
    }
}

/// The netmask of a prefix length (0..=32) as a host-order integer.
pub fn prefix_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pool4 {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    /// Kea's `pool-id`, 0 when not configured.
    pub pool_id: PoolId,
    pub options: OptionSet,
    pub user_context: Option<serde_json::Value>,
    /// The pool's class guard and additional classes (ARM 16.7).
    pub classes: ClassLists,
}

impl Pool4 {
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.first <= addr && addr <= self.last
    }

    /// Number of addresses in the pool.
    pub fn size(&self) -> u64 {
        u64::from(u32::from(self.last)) - u64::from(u32::from(self.first)) + 1
    }
}

/// The kinds of host identifier a reservation can use (ARM 9.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostIdentifierType {
    HwAddress,
    Duid,
    CircuitId,
    ClientId,
    FlexId,
}

impl HostIdentifierType {
    pub const ALL: [HostIdentifierType; 5] = [
        HostIdentifierType::HwAddress,
        HostIdentifierType::Duid,
        HostIdentifierType::CircuitId,
        HostIdentifierType::ClientId,
        HostIdentifierType::FlexId,
    ];

    /// The configuration key, e.g. "hw-address".
    pub fn key(self) -> &'static str {
        match self {
            HostIdentifierType::HwAddress => "hw-address",
            HostIdentifierType::Duid => "duid",
            HostIdentifierType::CircuitId => "circuit-id",
            HostIdentifierType::ClientId => "client-id",
            HostIdentifierType::FlexId => "flex-id",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.key() == key)
    }
}

/// A reservation's identifier: its kind and the raw bytes (for hw-address, the MAC without
/// the hardware type).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostIdentifier {
    pub kind: HostIdentifierType,
    pub bytes: Vec<u8>,
}

/// One host reservation (ARM 9.3).
#[derive(Clone, Debug, PartialEq)]
pub struct Reservation4 {
    pub identifier: HostIdentifier,
    pub ip_address: Option<Ipv4Addr>,
    pub hostname: Option<String>,
    pub next_server: Option<Ipv4Addr>,
    pub server_hostname: Option<String>,
    pub boot_file_name: Option<String>,
    pub client_classes: Vec<String>,
    pub options: OptionSet,
    pub user_context: Option<serde_json::Value>,
}

/// One control channel (ARM 9.9.1 UNIX, 9.9.2 HTTP/HTTPS).
#[derive(Clone, Debug, PartialEq)]
pub struct ControlSocket {
    pub socket_type: ControlSocketType,
    /// UNIX socket path (unix only).
    pub socket_name: Option<String>,
    /// HTTP(S) listen address (default 127.0.0.1) and port (default 8000).
    pub socket_address: std::net::IpAddr,
    pub socket_port: u16,
    pub http_headers: Vec<(String, String)>,
    pub trust_anchor: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    /// Require client certificates (Kea default true).
    pub cert_required: bool,
    /// Basic HTTP authentication, as the raw `authentication` map.
    pub authentication: Option<serde_json::Value>,
    pub user_context: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlSocketType {
    Unix,
    Http,
    Https,
}

/// The flexible identifier library (`libdhcp_flex_id.so`, ARM 17.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlexId {
    /// `identifier-expression`: evaluated per packet to the flex-id a reservation is looked
    /// up by (ARM 17.9); checked to compile to a string when the config is parsed.
    pub identifier_expression: String,
    /// `replace-client-id`: the client is identified by 0x00 + the flex-id as its client
    /// identifier (ARM 17.9.1).
    pub replace_client_id: bool,
}

/// One `hooks-libraries` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct HookLibrary {
    pub library: PathBuf,
    pub parameters: Option<serde_json::Value>,
}
