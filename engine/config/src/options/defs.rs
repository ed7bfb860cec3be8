//! Option definitions: the option data types of ARM 9.2.10 table 3, the standard DHCPv4
//! option table (ARM 9.2.10 tables 1 and 2, checked against Kea's `std_option_defs.h`), the
//! standard sub-option spaces Kea ships (RAI sub-options, CableLabs client conf 9.2.11,
//! DOCSIS vendor-4491 9.2.14), and user definitions from `option-def` (ARM 9.2.12).

/// The option data types Kea knows (ARM 9.2.10 table 3, "List of standard DHCP option types").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptionType {
    Empty,
    Binary,
    Boolean,
    Int8,
    Int16,
    Int32,
    Uint8,
    Uint16,
    Uint32,
    Ipv4Address,
    Ipv6Address,
    Ipv6Prefix,
    Psid,
    String,
    Fqdn,
    Tuple,
    Record,
    /// Options with a dedicated format of their own (option 121, RFC 3442).
    Internal,
}

impl OptionType {
    /// Parses the type names used in `option-def` `type` and `record-types`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "empty" => OptionType::Empty,
            "binary" => OptionType::Binary,
            "boolean" => OptionType::Boolean,
            "int8" => OptionType::Int8,
            "int16" => OptionType::Int16,
            "int32" => OptionType::Int32,
            "uint8" => OptionType::Uint8,
            "uint16" => OptionType::Uint16,
            "uint32" => OptionType::Uint32,
            "ipv4-address" => OptionType::Ipv4Address,
            "ipv6-address" => OptionType::Ipv6Address,
            "ipv6-prefix" => OptionType::Ipv6Prefix,
            "psid" => OptionType::Psid,
            "string" => OptionType::String,
            "fqdn" => OptionType::Fqdn,
            "tuple" => OptionType::Tuple,
            "record" => OptionType::Record,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            OptionType::Empty => "empty",
            OptionType::Binary => "binary",
            OptionType::Boolean => "boolean",
            OptionType::Int8 => "int8",
            OptionType::Int16 => "int16",
            OptionType::Int32 => "int32",
            OptionType::Uint8 => "uint8",
            OptionType::Uint16 => "uint16",
            OptionType::Uint32 => "uint32",
            OptionType::Ipv4Address => "ipv4-address",
            OptionType::Ipv6Address => "ipv6-address",
            OptionType::Ipv6Prefix => "ipv6-prefix",
            OptionType::Psid => "psid",
            OptionType::String => "string",
            OptionType::Fqdn => "fqdn",
            OptionType::Tuple => "tuple",
            OptionType::Record => "record",
            OptionType::Internal => "internal",
        }
    }

    /// Wire size of one value when it is fixed.
    pub fn fixed_size(self) -> Option<usize> {
        Some(match self {
            OptionType::Boolean | OptionType::Int8 | OptionType::Uint8 => 1,
            OptionType::Int16 | OptionType::Uint16 => 2,
            OptionType::Int32 | OptionType::Uint32 | OptionType::Ipv4Address => 4,
            OptionType::Ipv6Address => 16,
            OptionType::Psid => 3,
            _ => return None,
        })
    }
}

/// Width of the length field of a `tuple` value. DHCPv4 tuples use one byte, except the
/// SZTP redirect option (143), whose URIs carry 16-bit lengths (ARM 9.2.10 table 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TupleLength {
    OneByte,
    TwoBytes,
}

/// A standard definition, from the static tables below.
#[derive(Debug)]
pub struct StdOptionDef {
    pub name: &'static str,
    pub code: u8,
    pub space: &'static str,
    pub option_type: OptionType,
    pub array: bool,
    pub record_types: &'static [OptionType],
    /// Space of the sub-options this option carries ("" for none).
    pub encapsulate: &'static str,
    /// Sent even when the client did not request it (ARM 9.2.10 table 1, last column).
    pub sent_unrequested: bool,
    pub tuple_length: TupleLength,
}

/// A definition from `option-def` (ARM 9.2.12).
#[derive(Clone, Debug, PartialEq)]
pub struct OptionDef {
    pub name: String,
    pub code: u8,
    pub space: String,
    pub option_type: OptionType,
    pub array: bool,
    pub record_types: Vec<OptionType>,
    pub encapsulate: Option<String>,
}

/// A borrowed view of either kind of definition, used by the encoder.
#[derive(Clone, Copy, Debug)]
pub struct DefView<'a> {
    pub name: &'a str,
    pub code: u8,
    pub space: &'a str,
    pub option_type: OptionType,
    pub array: bool,
    pub record_types: &'a [OptionType],
    pub encapsulate: &'a str,
    pub tuple_length: TupleLength,
}

impl StdOptionDef {
    pub fn view(&'static self) -> DefView<'static> {
        DefView {
            name: self.name,
            code: self.code,
            space: self.space,
            option_type: self.option_type,
            array: self.array,
            record_types: self.record_types,
            encapsulate: self.encapsulate,
            tuple_length: self.tuple_length,
        }
    }
}

impl OptionDef {
    pub fn view(&self) -> DefView<'_> {
        DefView {
            name: &self.name,
            code: self.code,
            space: &self.space,
            option_type: self.option_type,
            array: self.array,
            record_types: &self.record_types,
            encapsulate: self.encapsulate.as_deref().unwrap_or(""),
            tuple_length: TupleLength::OneByte,
        }
    }
}

/// The top-level DHCPv4 option space.
pub const DHCP4_SPACE: &str = "dhcp4";
/// Sub-options of the Relay Agent Information option (82).
pub const AGENT_SPACE: &str = "dhcp-agent-options-space";
/// Sub-options of the Vendor-Specific Information option (43), empty by default.
pub const VENDOR_ENCAPSULATED_SPACE: &str = "vendor-encapsulated-options-space";
/// Sub-options of option 122 (ARM 9.2.11).
pub const CABLELABS_SPACE: &str = "cablelabs-client-conf";

use OptionType as T;

const fn def(name: &'static str, code: u8, option_type: OptionType, array: bool) -> StdOptionDef {
    StdOptionDef {
        name,
        code,
        space: DHCP4_SPACE,
        option_type,
        array,
        record_types: &[],
        encapsulate: "",
        sent_unrequested: false,
        tuple_length: TupleLength::OneByte,
    }
}

const fn record(
    name: &'static str,
    code: u8,
    array: bool,
    fields: &'static [OptionType],
) -> StdOptionDef {
    StdOptionDef {
        record_types: fields,
        ..def(name, code, OptionType::Record, array)
    }
}

const fn always(d: StdOptionDef) -> StdOptionDef {
    StdOptionDef {
        sent_unrequested: true,
        ..d
    }
}

const fn encapsulating(d: StdOptionDef, space: &'static str) -> StdOptionDef {
    StdOptionDef {
        encapsulate: space,
        ..d
    }
}

const fn in_space(d: StdOptionDef, space: &'static str) -> StdOptionDef {
    StdOptionDef { space, ..d }
}

/// Every standard DHCPv4 option Kea 3.0 defines, in code order: the configurable ones of ARM
/// 9.2.10 table 1 and those Kea manages itself (table 2), which Kea also defines.
///
/// `domain-name` (15) is listed by the ARM as `fqdn`, but Kea's definition and the wire
/// format of RFC 2132 3.17 are a plain string; we follow Kea's behaviour on the wire.
pub static STD_V4_OPTION_DEFS: &[StdOptionDef] = &[
    def("subnet-mask", 1, T::Ipv4Address, false),
    def("time-offset", 2, T::Int32, false),
    always(def("routers", 3, T::Ipv4Address, true)),
    def("time-servers", 4, T::Ipv4Address, true),
    def("name-servers", 5, T::Ipv4Address, true),
    always(def("domain-name-servers", 6, T::Ipv4Address, true)),
    def("log-servers", 7, T::Ipv4Address, true),
    def("cookie-servers", 8, T::Ipv4Address, true),
    def("lpr-servers", 9, T::Ipv4Address, true),
    def("impress-servers", 10, T::Ipv4Address, true),
    def("resource-location-servers", 11, T::Ipv4Address, true),
    def("host-name", 12, T::String, false),
    def("boot-size", 13, T::Uint16, false),
    def("merit-dump", 14, T::String, false),
    always(def("domain-name", 15, T::String, false)),
    def("swap-server", 16, T::Ipv4Address, false),
    def("root-path", 17, T::String, false),
    def("extensions-path", 18, T::String, false),
    def("ip-forwarding", 19, T::Boolean, false),
    def("non-local-source-routing", 20, T::Boolean, false),
    def("policy-filter", 21, T::Ipv4Address, true),
    def("max-dgram-reassembly", 22, T::Uint16, false),
    def("default-ip-ttl", 23, T::Uint8, false),
    def("path-mtu-aging-timeout", 24, T::Uint32, false),
    def("path-mtu-plateau-table", 25, T::Uint16, true),
    def("interface-mtu", 26, T::Uint16, false),
    def("all-subnets-local", 27, T::Boolean, false),
    def("broadcast-address", 28, T::Ipv4Address, false),
    def("perform-mask-discovery", 29, T::Boolean, false),
    def("mask-supplier", 30, T::Boolean, false),
    def("router-discovery", 31, T::Boolean, false),
    def("router-solicitation-address", 32, T::Ipv4Address, false),
    def("static-routes", 33, T::Ipv4Address, true),
    def("trailer-encapsulation", 34, T::Boolean, false),
    def("arp-cache-timeout", 35, T::Uint32, false),
    def("ieee802-3-encapsulation", 36, T::Boolean, false),
    def("default-tcp-ttl", 37, T::Uint8, false),
    def("tcp-keepalive-interval", 38, T::Uint32, false),
    def("tcp-keepalive-garbage", 39, T::Boolean, false),
    def("nis-domain", 40, T::String, false),
    def("nis-servers", 41, T::Ipv4Address, true),
    def("ntp-servers", 42, T::Ipv4Address, true),
    // Kea's last-resort definition (ARM 9.2.13/9.2.14).
    encapsulating(
        def("vendor-encapsulated-options", 43, T::Empty, false),
        VENDOR_ENCAPSULATED_SPACE,
    ),
    def("netbios-name-servers", 44, T::Ipv4Address, true),
    def("netbios-dd-server", 45, T::Ipv4Address, true),
    def("netbios-node-type", 46, T::Uint8, false),
    def("netbios-scope", 47, T::String, false),
    def("font-servers", 48, T::Ipv4Address, true),
    def("x-display-manager", 49, T::Ipv4Address, true),
    def("dhcp-requested-address", 50, T::Ipv4Address, false),
    def("dhcp-lease-time", 51, T::Uint32, false),
    def("dhcp-option-overload", 52, T::Uint8, false),
    def("dhcp-message-type", 53, T::Uint8, false),
    always(def("dhcp-server-identifier", 54, T::Ipv4Address, false)),
    def("dhcp-parameter-request-list", 55, T::Uint8, true),
    def("dhcp-message", 56, T::String, false),
    def("dhcp-max-message-size", 57, T::Uint16, false),
    def("dhcp-renewal-time", 58, T::Uint32, false),
    def("dhcp-rebinding-time", 59, T::Uint32, false),
    def("vendor-class-identifier", 60, T::String, false),
    def("dhcp-client-identifier", 61, T::Binary, false),
    def("nwip-domain-name", 62, T::String, false),
    def("nwip-suboptions", 63, T::Binary, false),
    def("nisplus-domain-name", 64, T::String, false),
    def("nisplus-servers", 65, T::Ipv4Address, true),
    def("tftp-server-name", 66, T::String, false),
    def("boot-file-name", 67, T::String, false),
    def("mobile-ip-home-agent", 68, T::Ipv4Address, true),
    def("smtp-server", 69, T::Ipv4Address, true),
    def("pop-server", 70, T::Ipv4Address, true),
    def("nntp-server", 71, T::Ipv4Address, true),
    def("www-server", 72, T::Ipv4Address, true),
    def("finger-server", 73, T::Ipv4Address, true),
    def("irc-server", 74, T::Ipv4Address, true),
    def("streettalk-server", 75, T::Ipv4Address, true),
    def(
        "streettalk-directory-assistance-server",
        76,
        T::Ipv4Address,
        true,
    ),
    def("user-class", 77, T::Binary, false),
    record(
        "slp-directory-agent",
        78,
        true,
        &[T::Boolean, T::Ipv4Address],
    ),
    record("slp-service-scope", 79, false, &[T::Boolean, T::String]),
    record("fqdn", 81, false, &[T::Uint8, T::Uint8, T::Uint8, T::Fqdn]),
    encapsulating(def("dhcp-agent-options", 82, T::Empty, false), AGENT_SPACE),
    def("nds-servers", 85, T::Ipv4Address, true),
    def("nds-tree-name", 86, T::String, false),
    def("nds-context", 87, T::String, false),
    def("bcms-controller-names", 88, T::Fqdn, true),
    def("bcms-controller-address", 89, T::Ipv4Address, true),
    def("authenticate", 90, T::Binary, false),
    def("client-last-transaction-time", 91, T::Uint32, false),
    def("associated-ip", 92, T::Ipv4Address, true),
    def("client-system", 93, T::Uint16, true),
    record("client-ndi", 94, false, &[T::Uint8, T::Uint8, T::Uint8]),
    record("uuid-guid", 97, false, &[T::Uint8, T::Binary]),
    def("uap-servers", 98, T::String, false),
    def("geoconf-civic", 99, T::Binary, false),
    def("pcode", 100, T::String, false),
    def("tcode", 101, T::String, false),
    def("v6-only-preferred", 108, T::Uint32, false),
    def("netinfo-server-address", 112, T::Ipv4Address, true),
    def("netinfo-server-tag", 113, T::String, false),
    def("v4-captive-portal", 114, T::String, false),
    def("auto-config", 116, T::Uint8, false),
    def("name-service-search", 117, T::Uint16, true),
    def("subnet-selection", 118, T::Ipv4Address, false),
    def("domain-search", 119, T::Fqdn, true),
    def("classless-static-route", 121, T::Internal, false),
    encapsulating(
        def("cablelabs-client-conf", 122, T::Empty, false),
        CABLELABS_SPACE,
    ),
    record("vivco-suboptions", 124, false, &[T::Uint32, T::Binary]),
    // The enterprise number; sub-options come from the space "vendor-<enterprise>".
    def("vivso-suboptions", 125, T::Uint32, false),
    def("pana-agent", 136, T::Ipv4Address, true),
    def("v4-lost", 137, T::Fqdn, false),
    def("capwap-ac-v4", 138, T::Ipv4Address, true),
    def("sip-ua-cs-domains", 141, T::Fqdn, true),
    StdOptionDef {
        tuple_length: TupleLength::TwoBytes,
        ..def("v4-sztp-redirect", 143, T::Tuple, true)
    },
    record(
        "rdnss-selection",
        146,
        true,
        &[T::Uint8, T::Ipv4Address, T::Ipv4Address, T::Fqdn],
    ),
    record("status-code", 151, false, &[T::Uint8, T::String]),
    def("base-time", 152, T::Uint32, false),
    def("start-time-of-state", 153, T::Uint32, false),
    def("query-start-time", 154, T::Uint32, false),
    def("query-end-time", 155, T::Uint32, false),
    def("dhcp-state", 156, T::Uint8, false),
    def("data-source", 157, T::Uint8, false),
    record("v4-portparams", 159, false, &[T::Uint8, T::Psid]),
    record(
        "v4-dnr",
        162,
        false,
        &[T::Uint16, T::Uint16, T::Uint8, T::Fqdn, T::Binary],
    ),
    record(
        "option-6rd",
        212,
        true,
        &[T::Uint8, T::Uint8, T::Ipv6Address, T::Ipv4Address],
    ),
    def("v4-access-domain", 213, T::Fqdn, false),
];

/// Standard definitions of the sub-option spaces Kea ships for DHCPv4.
pub static STD_V4_SUBOPTION_DEFS: &[StdOptionDef] = &[
    // Relay Agent Information sub-options (RFC 3046 and successors).
    in_space(def("circuit-id", 1, T::Binary, false), AGENT_SPACE),
    in_space(def("remote-id", 2, T::Binary, false), AGENT_SPACE),
    in_space(def("docsis-device-class", 4, T::Uint32, false), AGENT_SPACE),
    in_space(def("link-selection", 5, T::Ipv4Address, false), AGENT_SPACE),
    in_space(def("subscriber-id", 6, T::String, false), AGENT_SPACE),
    in_space(def("radius", 7, T::Binary, false), AGENT_SPACE),
    in_space(def("auth", 8, T::Binary, false), AGENT_SPACE),
    in_space(
        def("vendor-specific-info", 9, T::Binary, false),
        AGENT_SPACE,
    ),
    in_space(def("relay-flags", 10, T::Uint8, false), AGENT_SPACE),
    in_space(
        def("server-id-override", 11, T::Ipv4Address, false),
        AGENT_SPACE,
    ),
    in_space(def("relay-id", 12, T::Binary, false), AGENT_SPACE),
    in_space(def("access-techno-type", 13, T::Uint16, false), AGENT_SPACE),
    in_space(
        def("access-network-name", 14, T::String, false),
        AGENT_SPACE,
    ),
    in_space(def("access-point-name", 15, T::String, false), AGENT_SPACE),
    in_space(def("access-point-bssid", 16, T::Binary, false), AGENT_SPACE),
    in_space(def("operator-id", 17, T::Uint32, false), AGENT_SPACE),
    in_space(def("operator-realm", 18, T::String, false), AGENT_SPACE),
    in_space(def("relay-port", 19, T::Uint16, false), AGENT_SPACE),
    in_space(
        def("virtual-subnet-select", 151, T::Binary, false),
        AGENT_SPACE,
    ),
    in_space(
        def("virtual-subnet-select-ctrl", 152, T::Empty, false),
        AGENT_SPACE,
    ),
    // CableLabs client configuration (ARM 9.2.11, RFC 3495/3594/3634).
    in_space(
        def("tsp-primary-server", 1, T::Ipv4Address, false),
        CABLELABS_SPACE,
    ),
    in_space(
        def("tsp-secondary-server", 2, T::Ipv4Address, false),
        CABLELABS_SPACE,
    ),
    in_space(
        record(
            "tsp-as-parameters",
            4,
            false,
            &[T::Uint32, T::Uint32, T::Uint32],
        ),
        CABLELABS_SPACE,
    ),
    in_space(
        record(
            "tsp-ap-parameters",
            5,
            false,
            &[T::Uint32, T::Uint32, T::Uint32],
        ),
        CABLELABS_SPACE,
    ),
    in_space(def("tsp-realm", 6, T::Fqdn, false), CABLELABS_SPACE),
    in_space(def("tsp-use-tgt", 7, T::Boolean, false), CABLELABS_SPACE),
    in_space(
        def("tsp-provisioning-timer", 8, T::Uint8, false),
        CABLELABS_SPACE,
    ),
    in_space(def("tsp-sct", 9, T::Uint16, false), CABLELABS_SPACE),
    in_space(def("kdc-server", 10, T::Ipv4Address, true), CABLELABS_SPACE),
    // DOCSIS 3 vendor options carried in option 125 (ARM 9.2.14).
    in_space(def("oro", 1, T::Uint8, true), "vendor-4491"),
    in_space(def("tftp-servers", 2, T::Ipv4Address, true), "vendor-4491"),
];

/// The standard definition of a top-level DHCPv4 option.
pub fn std_option_def(code: u8) -> Option<&'static StdOptionDef> {
    STD_V4_OPTION_DEFS.iter().find(|d| d.code == code)
}

/// The standard definition of a top-level DHCPv4 option, by Kea's name.
pub fn std_option_def_by_name(name: &str) -> Option<&'static StdOptionDef> {
    STD_V4_OPTION_DEFS.iter().find(|d| d.name == name)
}

/// Standard definitions in any space Kea ships for DHCPv4, by code.
pub fn std_option_def_in_space(space: &str, code: u8) -> Option<&'static StdOptionDef> {
    if space == DHCP4_SPACE {
        return std_option_def(code);
    }
    STD_V4_SUBOPTION_DEFS
        .iter()
        .find(|d| d.space == space && d.code == code)
}

/// Standard definitions in any space Kea ships for DHCPv4, by name.
pub fn std_option_def_in_space_by_name(space: &str, name: &str) -> Option<&'static StdOptionDef> {
    if space == DHCP4_SPACE {
        return std_option_def_by_name(name);
    }
    STD_V4_SUBOPTION_DEFS
        .iter()
        .find(|d| d.space == space && d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_table_has_unique_codes_and_names_per_space() {
        for (i, a) in STD_V4_OPTION_DEFS
            .iter()
            .chain(STD_V4_SUBOPTION_DEFS)
            .enumerate()
        {
            for b in STD_V4_OPTION_DEFS
                .iter()
                .chain(STD_V4_SUBOPTION_DEFS)
                .skip(i + 1)
            {
                if a.space == b.space {
                    assert_ne!(a.code, b.code, "{} / {}", a.name, b.name);
                    assert_ne!(a.name, b.name);
                }
            }
        }
    }

    #[test]
    fn std_table_covers_arm_table_one_samples() {
        let routers = std_option_def(3).unwrap();
        assert_eq!(routers.name, "routers");
        assert_eq!(routers.option_type, OptionType::Ipv4Address);
        assert!(routers.array && routers.sent_unrequested);
        let dnr = std_option_def_by_name("v4-dnr").unwrap();
        assert_eq!(dnr.code, 162);
        assert_eq!(dnr.record_types.len(), 5);
        assert_eq!(
            std_option_def(121).unwrap().option_type,
            OptionType::Internal
        );
        assert_eq!(std_option_def(122).unwrap().encapsulate, CABLELABS_SPACE);
        assert_eq!(
            std_option_def(143).unwrap().tuple_length,
            TupleLength::TwoBytes
        );
        assert!(std_option_def(0).is_none());
        assert!(std_option_def(255).is_none());
        assert_eq!(
            std_option_def_in_space(AGENT_SPACE, 5).unwrap().name,
            "link-selection"
        );
    }

    #[test]
    fn type_names_round_trip() {
        for name in [
            "empty",
            "binary",
            "boolean",
            "int8",
            "int16",
            "int32",
            "uint8",
            "uint16",
            "uint32",
            "ipv4-address",
            "ipv6-address",
            "ipv6-prefix",
            "psid",
            "string",
            "fqdn",
            "tuple",
            "record",
        ] {
            assert_eq!(OptionType::from_name(name).unwrap().name(), name);
        }
        assert!(OptionType::from_name("internal").is_none());
    }
}
