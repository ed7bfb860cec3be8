//! Every key Kea 3.0's DHCPv4 grammar accepts, per map, and whether corelease implements it.
//!
//! This is the one place to change when a feature lands: move its key from `Unsupported` to
//! `Supported`. A key listed here as `Unsupported` is reported as "not supported yet"
//! (DESIGN.md: never silently ignored) unless its value changes nothing ([`is_inert`]); a key
//! absent from its scope is one Kea itself rejects ("unknown key"). Sources: Kea's
//! `dhcp4_parser.yy` and `simple_parser4.cc` keyword tables, ARM chapter 9.
//!
//! Several `Unsupported` sections are already parsed and validated into the model, so only
//! this table needs to change when the server starts honouring them: `control-socket(s)`,
//! `allocator`, `cache-*`, `store-extended-info`, `compatibility`,
//! `sanity-checks`, `dhcp-queue-control`, `server-tag`, `statistic-default-*`,
//! `parked-packet-limit`, `stash-agent-options`.

use KeyStatus::{Supported as S, Unsupported as U};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    Supported,
    Unsupported,
}

/// The maps of a DHCPv4 configuration whose keys are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Global,
    InterfacesConfig,
    LeaseDatabase,
    MultiThreading,
    ExpiredLeasesProcessing,
    Logger,
    LoggerOutput,
    Subnet4,
    SharedNetwork4,
    Pool4,
    Relay,
    /// `option-data` of Dhcp4 and Dhcp6 (the same keys in both).
    OptionData,
    OptionDef,
    Reservation4,
    ControlSocket,
    HookLibrary,
    ClientClass,
    /// Dhcp6 maps (tables in `keys6.rs`).
    Global6,
    InterfacesConfig6,
    Subnet6,
    SharedNetwork6,
    Pool6,
    PdPool6,
    ServerId6,
    Relay6,
    Reservation6,
    ClientClass6,
}

impl Scope {
    pub fn keys(self) -> &'static [(&'static str, KeyStatus)] {
        match self {
            Scope::Global => GLOBAL,
            Scope::InterfacesConfig => INTERFACES_CONFIG,
            Scope::LeaseDatabase => LEASE_DATABASE,
            Scope::MultiThreading => MULTI_THREADING,
            Scope::ExpiredLeasesProcessing => EXPIRED_LEASES_PROCESSING,
            Scope::Logger => LOGGER,
            Scope::LoggerOutput => LOGGER_OUTPUT,
            Scope::Subnet4 => SUBNET4,
            Scope::SharedNetwork4 => SHARED_NETWORK4,
            Scope::Pool4 => POOL4,
            Scope::Relay => RELAY,
            Scope::OptionData => OPTION_DATA,
            Scope::OptionDef => OPTION_DEF,
            Scope::Reservation4 => RESERVATION4,
            Scope::ControlSocket => CONTROL_SOCKET,
            Scope::HookLibrary => HOOK_LIBRARY,
            Scope::ClientClass => CLIENT_CLASS,
            Scope::Global6 => crate::keys6::GLOBAL6,
            Scope::InterfacesConfig6 => crate::keys6::INTERFACES_CONFIG6,
            Scope::Subnet6 => crate::keys6::SUBNET6,
            Scope::SharedNetwork6 => crate::keys6::SHARED_NETWORK6,
            Scope::Pool6 => crate::keys6::POOL6,
            Scope::PdPool6 => crate::keys6::PD_POOL6,
            Scope::ServerId6 => crate::keys6::SERVER_ID6,
            Scope::Relay6 => crate::keys6::RELAY6,
            Scope::Reservation6 => crate::keys6::RESERVATION6,
            Scope::ClientClass6 => crate::keys6::CLIENT_CLASS6,
        }
    }

    /// `None` when Kea does not know the key in this map.
    pub fn status(self, key: &str) -> Option<KeyStatus> {
        self.keys()
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, status)| *status)
    }
}

/// Kea's default value of a key we do not implement: setting it to this is a no-op.
#[derive(Clone, Copy, Debug)]
enum KeaDefault {
    Bool(bool),
    Int(i64),
    Str(&'static str),
}

/// Defaults of not-yet-supported keys (Kea's `simple_parser4.cc` tables). A key set to its
/// default changes nothing, so it is not reported.
const UNSUPPORTED_DEFAULTS: &[(&str, KeaDefault)] = &[
    ("server-tag", KeaDefault::Str("")),
    ("reservations-global", KeaDefault::Bool(false)),
    ("reservations-in-subnet", KeaDefault::Bool(true)),
    ("reservations-out-of-pool", KeaDefault::Bool(false)),
    ("ddns-send-updates", KeaDefault::Bool(true)),
    ("ddns-override-no-update", KeaDefault::Bool(false)),
    ("ddns-override-client-update", KeaDefault::Bool(false)),
    ("ddns-replace-client-name", KeaDefault::Str("never")),
    ("ddns-generated-prefix", KeaDefault::Str("myhost")),
    ("ddns-qualifying-suffix", KeaDefault::Str("")),
    ("ddns-update-on-renew", KeaDefault::Bool(false)),
    (
        "ddns-conflict-resolution-mode",
        KeaDefault::Str("check-with-dhcid"),
    ),
    ("hostname-char-set", KeaDefault::Str("[^A-Za-z0-9.-]")),
    ("hostname-char-replacement", KeaDefault::Str("")),
    ("store-extended-info", KeaDefault::Bool(false)),
    ("statistic-default-sample-count", KeaDefault::Int(20)),
    ("statistic-default-sample-age", KeaDefault::Int(0)),
    ("early-global-reservations-lookup", KeaDefault::Bool(false)),
    ("ip-reservations-unique", KeaDefault::Bool(true)),
    ("reservations-lookup-first", KeaDefault::Bool(false)),
    ("parked-packet-limit", KeaDefault::Int(256)),
    ("allocator", KeaDefault::Str("iterative")),
    ("stash-agent-options", KeaDefault::Bool(false)),
];

/// True when a not-yet-supported key's value cannot change behaviour: an empty list or map
/// (no hooks, no reservations, no classes, ...) or Kea's default value.
pub fn is_inert(key: &str, value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Array(items) => return items.is_empty(),
        Value::Object(map) => {
            let flag_off = |k: &str| map.get(k).and_then(Value::as_bool) != Some(true);
            return match key {
                // Switched off: the rest of the map has no effect.
                "dhcp-ddns" => flag_off("enable-updates"),
                "dhcp-queue-control" => flag_off("enable-queue"),
                // Every flag at its default (false).
                "compatibility" => map.values().all(|v| v.as_bool() == Some(false)),
                "sanity-checks" => map.iter().all(|(k, v)| {
                    matches!(
                        (k.as_str(), v.as_str()),
                        ("lease-checks", Some("warn")) | ("extended-info-checks", Some("fix"))
                    )
                }),
                _ => map.is_empty(),
            };
        }
        _ => {}
    }
    UNSUPPORTED_DEFAULTS
        .iter()
        .find(|(k, _)| *k == key)
        .is_some_and(|(_, default)| match (default, value) {
            (KeaDefault::Bool(d), Value::Bool(b)) => d == b,
            (KeaDefault::Int(d), Value::Number(n)) => n.as_i64() == Some(*d),
            (KeaDefault::Str(d), Value::String(s)) => d == s,
            _ => false,
        })
}

/// Top-level maps other than `Dhcp4` that a Kea configuration file may carry; ignored here.
pub const IGNORED_TOP_LEVEL: &[&str] =
    &["Dhcp6", "Control-agent", "DhcpDdns", "Netconf", "Logging"];

const GLOBAL: &[(&str, KeyStatus)] = &[
    ("valid-lifetime", S),
    ("min-valid-lifetime", S),
    ("max-valid-lifetime", S),
    ("renew-timer", S),
    ("rebind-timer", S),
    ("decline-probation-period", S),
    ("subnet4", S),
    ("shared-networks", S),
    ("interfaces-config", S),
    ("lease-database", S),
    ("option-def", S),
    ("option-data", S),
    ("expired-leases-processing", S),
    ("echo-client-id", S),
    ("match-client-id", S),
    ("authoritative", S),
    ("next-server", S),
    ("server-hostname", S),
    ("boot-file-name", S),
    ("user-context", S),
    ("comment", S),
    ("calculate-tee-times", S),
    ("t1-percent", S),
    ("t2-percent", S),
    ("loggers", S),
    ("multi-threading", S),
    ("hosts-database", U),
    ("hosts-databases", U),
    ("host-reservation-identifiers", S),
    ("client-classes", S),
    ("hooks-libraries", S),
    ("dhcp4o6-port", S),
    ("control-socket", S),
    ("control-sockets", S),
    ("dhcp-queue-control", U),
    ("dhcp-ddns", U),
    ("sanity-checks", U),
    ("reservations", S),
    ("config-control", U),
    ("server-tag", U),
    ("reservation-mode", U),
    ("reservations-global", S),
    ("reservations-in-subnet", S),
    ("reservations-out-of-pool", S),
    ("hostname-char-set", U),
    ("hostname-char-replacement", U),
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
    ("store-extended-info", U),
    ("statistic-default-sample-count", S),
    ("statistic-default-sample-age", S),
    ("cache-threshold", U),
    ("cache-max-age", U),
    ("early-global-reservations-lookup", S),
    ("ip-reservations-unique", S),
    ("reservations-lookup-first", S),
    ("compatibility", U),
    ("parked-packet-limit", U),
    ("allocator", U),
    ("offer-lifetime", S),
    ("stash-agent-options", U),
];

const INTERFACES_CONFIG: &[(&str, KeyStatus)] = &[
    ("interfaces", S),
    ("dhcp-socket-type", S),
    ("outbound-interface", S),
    ("re-detect", S),
    ("service-sockets-require-all", S),
    ("service-sockets-retry-wait-time", S),
    ("service-sockets-max-retries", S),
    ("user-context", S),
    ("comment", S),
];

const LEASE_DATABASE: &[(&str, KeyStatus)] = &[
    ("type", S),
    ("persist", S),
    ("name", S),
    ("lfc-interval", S),
    ("max-row-errors", S),
    ("user-context", S),
    ("comment", S),
    // corelease's own keys (DESIGN.md "The lease log").
    ("durability", S),
    ("group-commit-max-delay-us", S),
    ("group-commit-max-batch", S),
    ("user", U),
    ("password", U),
    ("host", U),
    ("port", U),
    ("readonly", U),
    ("connect-timeout", U),
    ("read-timeout", U),
    ("write-timeout", U),
    ("tcp-user-timeout", U),
    ("max-reconnect-tries", U),
    ("reconnect-wait-time", U),
    ("on-fail", U),
    ("retry-on-startup", U),
    ("trust-anchor", U),
    ("cert-file", U),
    ("key-file", U),
    ("key-password", U),
    ("ssl-mode", U),
    ("cipher-list", U),
];

const MULTI_THREADING: &[(&str, KeyStatus)] = &[
    ("enable-multi-threading", S),
    ("thread-pool-size", S),
    ("packet-queue-size", S),
    ("user-context", S),
    ("comment", S),
];

const EXPIRED_LEASES_PROCESSING: &[(&str, KeyStatus)] = &[
    ("reclaim-timer-wait-time", S),
    ("flush-reclaimed-timer-wait-time", S),
    ("hold-reclaimed-time", S),
    ("max-reclaim-leases", S),
    ("max-reclaim-time", S),
    ("unwarned-reclaim-cycles", S),
    ("user-context", S),
    ("comment", S),
];

const LOGGER: &[(&str, KeyStatus)] = &[
    ("name", S),
    ("output-options", S),
    ("output_options", S),
    ("debuglevel", S),
    ("severity", S),
    ("user-context", S),
    ("comment", S),
];

const LOGGER_OUTPUT: &[(&str, KeyStatus)] = &[
    ("output", S),
    ("flush", S),
    ("maxsize", S),
    ("maxver", S),
    ("pattern", S),
];

const SUBNET4: &[(&str, KeyStatus)] = &[
    ("id", S),
    ("subnet", S),
    ("pools", S),
    ("option-data", S),
    ("interface", S),
    ("relay", S),
    ("valid-lifetime", S),
    ("min-valid-lifetime", S),
    ("max-valid-lifetime", S),
    ("renew-timer", S),
    ("rebind-timer", S),
    ("calculate-tee-times", S),
    ("t1-percent", S),
    ("t2-percent", S),
    ("match-client-id", S),
    ("authoritative", S),
    ("next-server", S),
    ("server-hostname", S),
    ("boot-file-name", S),
    ("user-context", S),
    ("comment", S),
    ("client-class", S),
    ("client-classes", S),
    ("require-client-classes", S),
    ("evaluate-additional-classes", S),
    ("reservations", S),
    ("reservation-mode", U),
    ("reservations-global", S),
    ("reservations-in-subnet", S),
    ("reservations-out-of-pool", S),
    ("4o6-interface", S),
    ("4o6-interface-id", S),
    ("4o6-subnet", S),
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
    ("metadata", U),
    ("cache-threshold", U),
    ("cache-max-age", U),
    ("allocator", U),
    ("offer-lifetime", S),
];

const SHARED_NETWORK4: &[(&str, KeyStatus)] = &[
    ("name", S),
    ("subnet4", S),
    ("interface", S),
    ("relay", S),
    ("option-data", S),
    ("valid-lifetime", S),
    ("min-valid-lifetime", S),
    ("max-valid-lifetime", S),
    ("renew-timer", S),
    ("rebind-timer", S),
    ("calculate-tee-times", S),
    ("t1-percent", S),
    ("t2-percent", S),
    ("match-client-id", S),
    ("authoritative", S),
    ("next-server", S),
    ("server-hostname", S),
    ("boot-file-name", S),
    ("user-context", S),
    ("comment", S),
    ("client-class", S),
    ("client-classes", S),
    ("require-client-classes", S),
    ("evaluate-additional-classes", S),
    ("reservation-mode", U),
    ("reservations-global", S),
    ("reservations-in-subnet", S),
    ("reservations-out-of-pool", S),
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
    ("metadata", U),
    ("cache-threshold", U),
    ("cache-max-age", U),
    ("allocator", U),
    ("offer-lifetime", S),
];

const POOL4: &[(&str, KeyStatus)] = &[
    ("pool", S),
    ("pool-id", S),
    ("option-data", S),
    ("user-context", S),
    ("comment", S),
    ("client-class", S),
    ("client-classes", S),
    ("require-client-classes", S),
    ("evaluate-additional-classes", S),
    ("ddns-send-updates", U),
    ("ddns-override-no-update", U),
    ("ddns-override-client-update", U),
    ("ddns-replace-client-name", U),
    ("ddns-generated-prefix", U),
    ("ddns-qualifying-suffix", U),
    ("ddns-update-on-renew", U),
    ("ddns-conflict-resolution-mode", U),
    ("ddns-ttl-percent", U),
    ("ddns-ttl", U),
    ("ddns-ttl-min", U),
    ("ddns-ttl-max", U),
    ("hostname-char-set", U),
    ("hostname-char-replacement", U),
    ("metadata", U),
];

/// Inside `reservations` (ARM 9.3). `flex-id` reservations match through the flex_id
/// library's `identifier-expression` (ARM 17.9).
const RESERVATION4: &[(&str, KeyStatus)] = &[
    ("ip-address", S),
    ("hw-address", S),
    ("duid", S),
    ("circuit-id", S),
    ("client-id", S),
    ("flex-id", S),
    ("hostname", S),
    ("option-data", S),
    ("next-server", S),
    ("server-hostname", S),
    ("boot-file-name", S),
    ("user-context", S),
    ("comment", S),
    ("client-classes", S),
];

/// Inside `control-socket(s)` (itself still reported as not supported).
const CONTROL_SOCKET: &[(&str, KeyStatus)] = &[
    ("socket-type", S),
    ("socket-name", S),
    ("socket-address", S),
    ("socket-port", S),
    ("http-headers", S),
    ("trust-anchor", S),
    ("cert-file", S),
    ("key-file", S),
    ("cert-required", S),
    ("authentication", S),
    ("user-context", S),
    ("comment", S),
];

/// Inside `client-classes` (ARM 16.4).
const CLIENT_CLASS: &[(&str, KeyStatus)] = &[
    ("name", S),
    ("test", S),
    ("template-test", S),
    ("only-if-required", S),
    ("only-in-additional-list", S),
    ("option-data", S),
    ("option-def", S),
    ("next-server", S),
    ("server-hostname", S),
    ("boot-file-name", S),
    ("valid-lifetime", S),
    ("min-valid-lifetime", S),
    ("max-valid-lifetime", S),
    ("offer-lifetime", S),
    ("user-context", S),
    ("comment", S),
];

/// Inside `hooks-libraries` (run-script libraries only, checked by the parser).
const HOOK_LIBRARY: &[(&str, KeyStatus)] = &[
    ("library", S),
    ("parameters", S),
    ("user-context", S),
    ("comment", S),
];

const RELAY: &[(&str, KeyStatus)] = &[("ip-addresses", S), ("ip-address", S)];

/// `option-data` (Dhcp4 and Dhcp6): `client-classes` tags an option for members of those
/// classes only (ARM 16.9 "Option Class-Tagging", "the same for DHCPv6").
const OPTION_DATA: &[(&str, KeyStatus)] = &[
    ("name", S),
    ("code", S),
    ("space", S),
    ("data", S),
    ("csv-format", S),
    ("always-send", S),
    ("never-send", S),
    ("user-context", S),
    ("comment", S),
    ("client-classes", S),
    ("metadata", U),
];

const OPTION_DEF: &[(&str, KeyStatus)] = &[
    ("name", S),
    ("code", S),
    ("type", S),
    ("record-types", S),
    ("space", S),
    ("encapsulate", S),
    ("array", S),
    ("user-context", S),
    ("comment", S),
    ("metadata", U),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_lists_each_key_once() {
        for scope in [
            Scope::Global,
            Scope::InterfacesConfig,
            Scope::LeaseDatabase,
            Scope::MultiThreading,
            Scope::ExpiredLeasesProcessing,
            Scope::Logger,
            Scope::LoggerOutput,
            Scope::Subnet4,
            Scope::SharedNetwork4,
            Scope::Pool4,
            Scope::Relay,
            Scope::OptionData,
            Scope::OptionDef,
            Scope::Reservation4,
            Scope::ControlSocket,
            Scope::HookLibrary,
            Scope::ClientClass,
            Scope::Global6,
            Scope::Subnet6,
            Scope::SharedNetwork6,
            Scope::Pool6,
            Scope::PdPool6,
            Scope::Reservation6,
            Scope::ClientClass6,
        ] {
            let keys = scope.keys();
            for (i, (a, _)) in keys.iter().enumerate() {
                assert!(
                    keys.iter().skip(i + 1).all(|(b, _)| a != b),
                    "{a} twice in {scope:?}"
                );
            }
        }
    }

    #[test]
    fn empty_lists_maps_and_kea_defaults_are_inert() {
        use serde_json::json;
        assert!(is_inert("hooks-libraries", &json!([])));
        assert!(is_inert("client-classes", &json!([])));
        assert!(is_inert("reservations-in-subnet", &json!(true)));
        assert!(!is_inert("reservations-in-subnet", &json!(false)));
        assert!(is_inert("allocator", &json!("iterative")));
        assert!(!is_inert("allocator", &json!("random")));
        assert!(!is_inert("hooks-libraries", &json!([{ "library": "x" }])));
        assert!(!is_inert("cache-threshold", &json!(0.25)));
        assert!(is_inert(
            "dhcp-ddns",
            &json!({ "enable-updates": false, "server-ip": "127.0.0.1" })
        ));
        assert!(!is_inert("dhcp-ddns", &json!({ "enable-updates": true })));
        assert!(is_inert(
            "dhcp-queue-control",
            &json!({ "enable-queue": false, "capacity": 9 })
        ));
        assert!(is_inert(
            "compatibility",
            &json!({ "lenient-option-parsing": false })
        ));
        assert!(!is_inert(
            "compatibility",
            &json!({ "lenient-option-parsing": true })
        ));
        assert!(is_inert(
            "sanity-checks",
            &json!({ "lease-checks": "warn" })
        ));
        assert!(!is_inert(
            "sanity-checks",
            &json!({ "lease-checks": "fix-del" })
        ));
        assert!(!is_inert(
            "control-socket",
            &json!({ "socket-type": "unix" })
        ));
    }

    #[test]
    fn status_distinguishes_supported_unsupported_and_unknown() {
        assert_eq!(Scope::Global.status("subnet4"), Some(KeyStatus::Supported));
        assert_eq!(
            Scope::Global.status("hooks-libraries"),
            Some(KeyStatus::Supported)
        );
        assert_eq!(
            Scope::Global.status("dhcp-ddns"),
            Some(KeyStatus::Unsupported)
        );
        assert_eq!(Scope::Global.status("no-such-key"), None);
    }
}
