//! The standard DHCPv6 option table (ARM 10.2.11 table 1, "List of standard DHCPv6 options
//! configurable by an administrator"), checked against Kea's `std_option_defs.h`.
//!
//! DHCPv6 option codes are 16 bits wide, so the table has its own entry type; the payload
//! encoders of [`super::encode`] are shared with DHCPv4 through a [`DefView`] (whose 8-bit
//! `code` the encoders do not read).

use super::defs::{DefView, OptionType, TupleLength};
use OptionType::*;

/// The top-level DHCPv6 option space.
pub const DHCP6_SPACE: &str = "dhcp6";

/// A standard DHCPv6 option definition.
#[derive(Debug)]
pub struct StdOption6Def {
    pub name: &'static str,
    pub code: u16,
    pub option_type: OptionType,
    pub array: bool,
    pub record_types: &'static [OptionType],
}

impl StdOption6Def {
    /// The encoder's view. DHCPv6 tuples carry 16-bit lengths (RFC 8415 section 21.15/16,
    /// RFC 5970 section 3.2), unlike most DHCPv4 ones.
    pub fn view(&'static self) -> DefView<'static> {
        DefView {
            name: self.name,
            code: 0,
            space: DHCP6_SPACE,
            option_type: self.option_type,
            array: self.array,
            record_types: self.record_types,
            encapsulate: "",
            tuple_length: TupleLength::TwoBytes,
        }
    }
}

const fn d(
    name: &'static str,
    code: u16,
    option_type: OptionType,
    array: bool,
    record_types: &'static [OptionType],
) -> StdOption6Def {
    StdOption6Def {
        name,
        code,
        option_type,
        array,
        record_types,
    }
}

/// ARM 10.2.11 table 1. `lq-*` and `client-data` have definitions but no logic, as in Kea.
pub static STD_V6_OPTION_DEFS: &[StdOption6Def] = &[
    d("preference", 7, Uint8, false, &[]),
    d("unicast", 12, Ipv6Address, false, &[]),
    d("sip-server-dns", 21, Fqdn, true, &[]),
    d("sip-server-addr", 22, Ipv6Address, true, &[]),
    d("dns-servers", 23, Ipv6Address, true, &[]),
    d("domain-search", 24, Fqdn, true, &[]),
    d("nis-servers", 27, Ipv6Address, true, &[]),
    d("nisp-servers", 28, Ipv6Address, true, &[]),
    d("nis-domain-name", 29, Fqdn, true, &[]),
    d("nisp-domain-name", 30, Fqdn, true, &[]),
    d("sntp-servers", 31, Ipv6Address, true, &[]),
    d("information-refresh-time", 32, Uint32, false, &[]),
    d("bcmcs-server-dns", 33, Fqdn, true, &[]),
    d("bcmcs-server-addr", 34, Ipv6Address, true, &[]),
    d("geoconf-civic", 36, Record, false, &[Uint8, Uint16, Binary]),
    d("remote-id", 37, Record, false, &[Uint32, Binary]),
    d("subscriber-id", 38, Binary, false, &[]),
    d("client-fqdn", 39, Record, false, &[Uint8, Fqdn]),
    d("pana-agent", 40, Ipv6Address, true, &[]),
    d("new-posix-timezone", 41, String, false, &[]),
    d("new-tzdb-timezone", 42, String, false, &[]),
    d("ero", 43, Uint16, true, &[]),
    d("lq-query", 44, Record, false, &[Uint8, Ipv6Address]),
    d("client-data", 45, Empty, false, &[]),
    d("clt-time", 46, Uint32, false, &[]),
    d("lq-relay-data", 47, Record, false, &[Ipv6Address, Binary]),
    d("lq-client-link", 48, Ipv6Address, true, &[]),
    d("v6-lost", 51, Fqdn, false, &[]),
    d("capwap-ac-v6", 52, Ipv6Address, true, &[]),
    d("relay-id", 53, Binary, false, &[]),
    d("ntp-server", 56, Empty, false, &[]),
    d("v6-access-domain", 57, Fqdn, false, &[]),
    d("sip-ua-cs-list", 58, Fqdn, true, &[]),
    d("bootfile-url", 59, String, false, &[]),
    d("bootfile-param", 60, Tuple, true, &[]),
    d("client-arch-type", 61, Uint16, true, &[]),
    d("nii", 62, Record, false, &[Uint8, Uint8, Uint8]),
    d("aftr-name", 64, Fqdn, false, &[]),
    d("erp-local-domain-name", 65, Fqdn, false, &[]),
    d("rsoo", 66, Empty, false, &[]),
    d("pd-exclude", 67, Binary, false, &[]),
    d(
        "rdnss-selection",
        74,
        Record,
        true,
        &[Ipv6Address, Uint8, Fqdn],
    ),
    d("client-linklayer-addr", 79, Binary, false, &[]),
    d("link-address", 80, Ipv6Address, false, &[]),
    d("solmax-rt", 82, Uint32, false, &[]),
    d("inf-max-rt", 83, Uint32, false, &[]),
    d("dhcp4o6-server-addr", 88, Ipv6Address, true, &[]),
    d(
        "s46-rule",
        89,
        Record,
        false,
        &[Uint8, Uint8, Uint8, Ipv4Address, Ipv6Prefix],
    ),
    d("s46-br", 90, Ipv6Address, false, &[]),
    d("s46-dmr", 91, Ipv6Prefix, false, &[]),
    d(
        "s46-v4v6bind",
        92,
        Record,
        false,
        &[Ipv4Address, Ipv6Prefix],
    ),
    d("s46-portparams", 93, Record, false, &[Uint8, Psid]),
    d("s46-cont-mape", 94, Empty, false, &[]),
    d("s46-cont-mapt", 95, Empty, false, &[]),
    d("s46-cont-lw", 96, Empty, false, &[]),
    d("v6-captive-portal", 103, String, false, &[]),
    d("v6-sztp-redirect", 136, Tuple, true, &[]),
    d("ipv6-address-andsf", 143, Ipv6Address, true, &[]),
    d(
        "v6-dnr",
        144,
        Record,
        false,
        &[Uint16, Uint16, Fqdn, Binary],
    ),
    d("addr-reg-enable", 148, Empty, false, &[]),
];

/// Options the server builds itself (ARM 10.2.11 table 2): configuring them is refused.
pub const SERVER_MANAGED_V6_CODES: &[u16] = &[1, 2, 3, 4, 5, 6, 8, 9, 11, 13, 14, 18, 25, 26];

pub fn std_option6_def(code: u16) -> Option<&'static StdOption6Def> {
    STD_V6_OPTION_DEFS.iter().find(|d| d.code == code)
}

pub fn std_option6_def_by_name(name: &str) -> Option<&'static StdOption6Def> {
    STD_V6_OPTION_DEFS.iter().find(|d| d.name == name)
}

/// A Dhcp6 `option-def` entry (ARM 10.2.12 "Custom DHCPv6 Options"): 16-bit code.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionDef6 {
    pub name: std::string::String,
    pub code: u16,
    pub space: std::string::String,
    pub option_type: OptionType,
    pub array: bool,
    pub record_types: Vec<OptionType>,
    pub encapsulate: Option<std::string::String>,
}

impl OptionDef6 {
    /// The encoder's view (16-bit tuple lengths, as every DHCPv6 tuple).
    pub fn view(&self) -> DefView<'_> {
        DefView {
            name: &self.name,
            code: 0,
            space: &self.space,
            option_type: self.option_type,
            array: self.array,
            record_types: &self.record_types,
            encapsulate: self.encapsulate.as_deref().unwrap_or(""),
            tuple_length: TupleLength::TwoBytes,
        }
    }
}

/// One `option-data` entry of a Dhcp6 configuration, encoded once at load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfiguredOption6 {
    pub code: u16,
    /// "dhcp6" for top-level options.
    pub space: std::string::String,
    /// The wire payload, without code and length.
    pub data: Box<[u8]>,
    pub always_send: bool,
    pub never_send: bool,
    /// `client-classes` (ARM 16.9): only members of one of these classes get this option
    /// value; empty = every client.
    pub client_classes: Vec<std::string::String>,
}

/// The options of one Dhcp6 scope (global, shared network, subnet, pool), in config order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptionSet6 {
    pub options: Vec<ConfiguredOption6>,
}

impl OptionSet6 {
    pub fn get(&self, code: u16) -> Option<&ConfiguredOption6> {
        self.options
            .iter()
            .find(|o| o.code == code && o.space == DHCP6_SPACE)
    }

    /// Top-level ("dhcp6" space) options only, in config order.
    pub fn top_level(&self) -> impl Iterator<Item = &ConfiguredOption6> {
        self.options.iter().filter(|o| o.space == DHCP6_SPACE)
    }

    pub fn is_empty(&self) -> bool {
        self.options.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::encode::encode_csv;

    #[test]
    fn table_codes_and_names_are_unique() {
        for (i, a) in STD_V6_OPTION_DEFS.iter().enumerate() {
            for b in STD_V6_OPTION_DEFS.iter().skip(i + 1) {
                assert_ne!(a.code, b.code, "{} / {}", a.name, b.name);
                assert_ne!(a.name, b.name);
            }
        }
        assert_eq!(STD_V6_OPTION_DEFS.len(), 60);
    }

    #[test]
    fn dns_servers_encode_as_sixteen_byte_addresses() {
        let def = std_option6_def_by_name("dns-servers").map(|d| d.view());
        let bytes = def.map(|d| encode_csv(&d, "2001:db8::1, 2001:db8::2"));
        let mut want = vec![0x20, 0x01, 0x0d, 0xb8];
        want.extend_from_slice(&[0; 11]);
        want.push(1);
        want.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        want.extend_from_slice(&[0; 11]);
        want.push(2);
        assert_eq!(bytes, Some(Ok(want)));
    }

    #[test]
    fn bootfile_param_tuples_carry_two_byte_lengths() {
        let def = std_option6_def(60).map(|d| d.view());
        let bytes = def.map(|d| encode_csv(&d, "ab,c"));
        assert_eq!(bytes, Some(Ok(vec![0, 2, b'a', b'b', 0, 1, b'c'])));
    }
}
