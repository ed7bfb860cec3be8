//! Every key Kea 3.0's DHCPv6 grammar accepts in the Dhcp6-specific maps, and whether corelease
//! implements it (the [`crate::keys::Scope`] `*6` variants point here). Maps shared with
//! DHCPv4 (lease-database, multi-threading, loggers, option-data, control sockets, hooks)
//! use the DHCPv4 tables. Sources: Kea's `dhcp6_parser.yy`, ARM chapter 10.

use crate::keys::KeyStatus::{self, Supported as S, Unsupported as U};

/// Top-level maps other than `Dhcp6` that a Kea configuration file may carry; ignored here.
pub const IGNORED_TOP_LEVEL6: &[&str] =
    &["Dhcp4", "Control-agent", "DhcpDdns", "Netconf", "Logging"];

const DDNS_AND_FRIENDS: [(&str, KeyStatus); 17] = [
    ("ddns-send-updates", U),
    ("ddns-override-no-update", U),
    ("ddns-override-client-update", U),
    ("ddns-replace-client-name", U),
    ("ddns-generated-prefix", U),
    ("ddns-qualifying-suffix", U),
    ("ddns-update-on-renew", U),
    ("ddns-use-conflict-resolution", U),
    ("ddns-conflict-resolution-mode", U),
    ("ddns-ttl-percent", U),
    ("ddns-ttl", U),
    ("ddns-ttl-min", U),
    ("ddns-ttl-max", U),
    ("hostname-char-set", U),
    ("hostname-char-replacement", U),
    ("store-extended-info", U),
    ("cache-threshold", U),
];

macro_rules! table {
    ($name:ident, [$($k:literal => $s:ident),* $(,)?]) => {
        pub(crate) const $name: &[(&str, KeyStatus)] = &{
            const OWN: &[(&str, KeyStatus)] = &[$(($k, $s)),*];
            const N: usize = OWN.len() + DDNS_AND_FRIENDS.len();
            let mut out = [("", S); N];
            let mut i = 0;
            while i < OWN.len() {
                out[i] = OWN[i];
                i += 1;
            }
            let mut j = 0;
            while j < DDNS_AND_FRIENDS.len() {
                out[i + j] = DDNS_AND_FRIENDS[j];
                j += 1;
            }
            out
        };
    };
}

table!(GLOBAL6, [
    "preferred-lifetime" => S, "min-preferred-lifetime" => S, "max-preferred-lifetime" => S,
    "valid-lifetime" => S, "min-valid-lifetime" => S, "max-valid-lifetime" => S,
    "renew-timer" => S, "rebind-timer" => S, "calculate-tee-times" => S,
    "t1-percent" => S, "t2-percent" => S, "decline-probation-period" => S,
    "subnet6" => S, "shared-networks" => S, "interfaces-config" => S, "lease-database" => S,
    "option-data" => S, "server-id" => S, "rapid-commit" => S,
    "expired-leases-processing" => S, "multi-threading" => S, "loggers" => S,
    "user-context" => S, "comment" => S,
    "option-def" => S, "control-socket" => S, "control-sockets" => S, "hooks-libraries" => S,
    "hosts-database" => U, "hosts-databases" => U, "host-reservation-identifiers" => S,
    "client-classes" => S, "dhcp4o6-port" => S, "dhcp-queue-control" => U, "dhcp-ddns" => U,
    "sanity-checks" => U, "reservations" => S, "config-control" => U, "server-tag" => U,
    "reservation-mode" => U, "reservations-global" => S, "reservations-in-subnet" => S,
    "reservations-out-of-pool" => S, "relay-supplied-options" => U,
    "mac-sources" => S, "statistic-default-sample-count" => U,
    "statistic-default-sample-age" => U, "cache-max-age" => U,
    "early-global-reservations-lookup" => S, "ip-reservations-unique" => S,
    "reservations-lookup-first" => S, "compatibility" => U, "parked-packet-limit" => U,
    "allocator" => U, "pd-allocator" => U, "data-directory" => U,
    "allow-address-registration" => U,
]);

table!(SUBNET6, [
    "id" => S, "subnet" => S, "pools" => S, "pd-pools" => S, "option-data" => S,
    "interface" => S, "interface-id" => S, "relay" => S, "rapid-commit" => S,
    "preferred-lifetime" => S, "min-preferred-lifetime" => S, "max-preferred-lifetime" => S,
    "valid-lifetime" => S, "min-valid-lifetime" => S, "max-valid-lifetime" => S,
    "renew-timer" => S, "rebind-timer" => S, "calculate-tee-times" => S,
    "t1-percent" => S, "t2-percent" => S, "user-context" => S, "comment" => S,
    "client-class" => S, "client-classes" => S, "require-client-classes" => S,
    "evaluate-additional-classes" => S, "reservations" => S, "reservation-mode" => U,
    "reservations-global" => S, "reservations-in-subnet" => S,
    "reservations-out-of-pool" => S, "metadata" => U, "cache-max-age" => U,
    "allocator" => U, "pd-allocator" => U,
]);

table!(SHARED_NETWORK6, [
    "name" => S, "subnet6" => S, "interface" => S, "interface-id" => S, "relay" => S,
    "option-data" => S, "rapid-commit" => S,
    "preferred-lifetime" => S, "min-preferred-lifetime" => S, "max-preferred-lifetime" => S,
    "valid-lifetime" => S, "min-valid-lifetime" => S, "max-valid-lifetime" => S,
    "renew-timer" => S, "rebind-timer" => S, "calculate-tee-times" => S,
    "t1-percent" => S, "t2-percent" => S, "user-context" => S, "comment" => S,
    "client-class" => S, "client-classes" => S, "require-client-classes" => S,
    "evaluate-additional-classes" => S, "reservation-mode" => U, "reservations-global" => S,
    "reservations-in-subnet" => S, "reservations-out-of-pool" => S, "metadata" => U,
    "cache-max-age" => U, "allocator" => U, "pd-allocator" => U,
]);

pub(crate) const POOL6: &[(&str, KeyStatus)] = &[
    ("pool", S),
    ("pool-id", S),
    ("option-data", S),
    ("user-context", S),
    ("comment", S),
    ("client-class", S),
    ("client-classes", S),
    ("require-client-classes", S),
    ("evaluate-additional-classes", S),
];

pub(crate) const PD_POOL6: &[(&str, KeyStatus)] = &[
    ("prefix", S),
    ("prefix-len", S),
    ("delegated-len", S),
    ("excluded-prefix", S),
    ("excluded-prefix-len", S),
    ("pool-id", S),
    ("option-data", S),
    ("user-context", S),
    ("comment", S),
    ("client-class", S),
    ("client-classes", S),
    ("require-client-classes", S),
    ("evaluate-additional-classes", S),
];

pub(crate) const INTERFACES_CONFIG6: &[(&str, KeyStatus)] = &[
    ("interfaces", S),
    ("re-detect", S),
    ("user-context", S),
    ("comment", S),
    ("service-sockets-require-all", U),
    ("service-sockets-retry-wait-time", U),
    ("service-sockets-max-retries", U),
];

pub(crate) const SERVER_ID6: &[(&str, KeyStatus)] = &[
    ("type", S),
    ("identifier", S),
    ("time", S),
    ("htype", S),
    ("enterprise-id", S),
    ("persist", S),
    ("user-context", S),
    ("comment", S),
];

pub(crate) const RELAY6: &[(&str, KeyStatus)] = &[("ip-addresses", S), ("ip-address", S)];

/// Inside a Dhcp6 `reservations` entry (Kea's `reservation_param` of dhcp6_parser.yy).
pub(crate) const RESERVATION6: &[(&str, KeyStatus)] = &[
    ("duid", S),
    ("hw-address", S),
    ("flex-id", S),
    ("ip-addresses", S),
    ("prefixes", S),
    ("excluded-prefixes", S),
    ("hostname", S),
    ("option-data", S),
    ("client-classes", S),
    ("user-context", S),
    ("comment", S),
];

/// Inside a Dhcp6 `client-classes` entry: no next-server / boot fields and no option-def
/// (DHCPv4 only in Kea, ARM 16.x class-get note), preferred lifetimes besides valid ones.
pub(crate) const CLIENT_CLASS6: &[(&str, KeyStatus)] = &[
    ("name", S),
    ("test", S),
    ("template-test", S),
    ("only-if-required", S),
    ("only-in-additional-list", S),
    ("option-data", S),
    ("preferred-lifetime", S),
    ("min-preferred-lifetime", S),
    ("max-preferred-lifetime", S),
    ("valid-lifetime", S),
    ("min-valid-lifetime", S),
    ("max-valid-lifetime", S),
    ("user-context", S),
    ("comment", S),
];
