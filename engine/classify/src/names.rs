//! Standard DHCPv4 option names usable as `option[name]` (Kea ARM 9.2.10 "Standard DHCPv4
//! Options" table; RFC 2132 and successors). The config layer passes its own resolver when
//! custom `option-def`s exist.

const V4_NAMES: &[(&str, u16)] = &[
    ("subnet-mask", 1),
    ("time-offset", 2),
    ("routers", 3),
    ("time-servers", 4),
    ("name-servers", 5),
    ("domain-name-servers", 6),
    ("log-servers", 7),
    ("host-name", 12),
    ("boot-size", 13),
    ("domain-name", 15),
    ("root-path", 17),
    ("interface-mtu", 26),
    ("broadcast-address", 28),
    ("static-routes", 33),
    ("ntp-servers", 42),
    ("vendor-encapsulated-options", 43),
    ("netbios-name-servers", 44),
    ("dhcp-requested-address", 50),
    ("dhcp-lease-time", 51),
    ("dhcp-option-overload", 52),
    ("dhcp-message-type", 53),
    ("dhcp-server-identifier", 54),
    ("dhcp-parameter-request-list", 55),
    ("dhcp-message", 56),
    ("dhcp-max-message-size", 57),
    ("dhcp-renewal-time", 58),
    ("dhcp-rebinding-time", 59),
    ("vendor-class-identifier", 60),
    ("dhcp-client-identifier", 61),
    ("tftp-server-name", 66),
    ("boot-file-name", 67),
    ("user-class", 77),
    ("fqdn", 81),
    ("dhcp-agent-options", 82),
    ("client-system", 93),
    ("client-ndi", 94),
    ("uuid-guid", 97),
    ("subnet-selection", 118),
    ("domain-search", 119),
    ("classless-static-route", 121),
    ("vivco-suboptions", 124),
    ("vivso-suboptions", 125),
];

/// Code of a standard DHCPv4 option name, as Kea spells it.
pub fn standard_v4_option_code(name: &str) -> Option<u16> {
    V4_NAMES.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)
}
