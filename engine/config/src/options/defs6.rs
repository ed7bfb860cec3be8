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
    /// The option spaces this definition lives in: "dhcp6" for a top-level option; the
    /// s46-* sub-options live only inside their containers (Kea rejects `s46-br` in "dhcp6").
    pub spaces: &'static [&'static str],
    /// The space of the sub-options carried after this option's own data ("" = none).
    pub encapsulate: &'static str,
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
            encapsulate: self.encapsulate,
            tuple_length: TupleLength::TwoBytes,
        }
    }

    fn in_space(&self, space: &str) -> bool {
        self.spaces.contains(&space)
    }
}

const TOP: &[&str] = &[DHCP6_SPACE];

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
        spaces: TOP,
        encapsulate: "",
    }
}

/// A definition in other spaces than "dhcp6", or one that encapsulates a space.
const fn sub(
    def: StdOption6Def,
    spaces: &'static [&'static str],
    encapsulate: &'static str,
) -> StdOption6Def {
    StdOption6Def {
        spaces,
        encapsulate,
        ..def
    }
}

// RFC 7598 (ARM 10.2.12): the Softwire46 containers and the spaces of their sub-options, as
// Kea's std_option_defs.h names them.
const S46_MAPE: &str = "s46-cont-mape-options";
const S46_MAPT: &str = "s46-cont-mapt-options";
const S46_LW: &str = "s46-cont-lw-options";
const S46_RULE: &str = "s46-rule-options";
const S46_V4V6BIND: &str = "s46-v4v6bind-options";

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
    sub(
        d(
            "s46-rule",
            89,
            Record,
            false,
            &[Uint8, Uint8, Uint8, Ipv4Address, Ipv6Prefix],
        ),
        &[S46_MAPE, S46_MAPT],
        S46_RULE,
    ),
    sub(
        d("s46-br", 90, Ipv6Address, false, &[]),
        &[S46_MAPE, S46_LW],
        "",
    ),
    sub(d("s46-dmr", 91, Ipv6Prefix, false, &[]), &[S46_MAPT], ""),
    sub(
        d(
            "s46-v4v6bind",
            92,
            Record,
            false,
            &[Ipv4Address, Ipv6Prefix],
        ),
        &[S46_LW],
        S46_V4V6BIND,
    ),
    sub(
        d("s46-portparams", 93, Record, false, &[Uint8, Psid]),
        &[S46_RULE, S46_V4V6BIND],
        "",
    ),
    sub(d("s46-cont-mape", 94, Empty, false, &[]), TOP, S46_MAPE),
    sub(d("s46-cont-mapt", 95, Empty, false, &[]), TOP, S46_MAPT),
    sub(d("s46-cont-lw", 96, Empty, false, &[]), TOP, S46_LW),
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

/// Kea's other built-in DHCPv6 definitions (ARM 10.2.16): the Vendor-Specific Information
/// option (RFC 8415 section 21.17; its uint32 enterprise-number selects the space
/// "vendor-<number>" of the sub-options after it), ISC's 4o6 options (vendor-2495) and
/// DOCSIS 3 (vendor-4491, Kea's docsis3_option_defs.h; the codes are those Kea 2.2 sends).
pub static OTHER_V6_OPTION_DEFS: &[StdOption6Def] = &[
    d("vendor-opts", VENDOR_OPTS_CODE, Uint32, false, &[]),
    sub(
        d("4o6-interface", 60000, String, false, &[]),
        &["vendor-2495"],
        "",
    ),
    sub(
        d("4o6-source-address", 60001, Ipv6Address, false, &[]),
        &["vendor-2495"],
        "",
    ),
    sub(
        d("4o6-source-port", 60002, Uint16, false, &[]),
        &["vendor-2495"],
        "",
    ),
    sub(d("oro", 1, Uint16, true, &[]), &["vendor-4491"], ""),
    sub(
        d("tftp-servers", 32, Ipv6Address, true, &[]),
        &["vendor-4491"],
        "",
    ),
    sub(
        d("config-file", 33, String, false, &[]),
        &["vendor-4491"],
        "",
    ),
    sub(
        d("syslog-servers", 34, Ipv6Address, true, &[]),
        &["vendor-4491"],
        "",
    ),
    sub(d("device-id", 36, Binary, false, &[]), &["vendor-4491"], ""),
    sub(
        d("time-servers", 37, Ipv6Address, true, &[]),
        &["vendor-4491"],
        "",
    ),
    sub(
        d("time-offset", 38, Int32, false, &[]),
        &["vendor-4491"],
        "",
    ),
];

/// Option 144, DNR (RFC 9463), given in Kea's own notation (ARM 10.2.13).
pub const DNR_V6_CODE: u16 = 144;

/// Option 17, Vendor-Specific Information (RFC 8415 section 21.17).
pub const VENDOR_OPTS_CODE: u16 = 17;

fn all_std_defs() -> impl Iterator<Item = &'static StdOption6Def> {
    STD_V6_OPTION_DEFS.iter().chain(OTHER_V6_OPTION_DEFS)
}

/// The built-in definition of top-level option `code`.
pub fn std_option6_def(code: u16) -> Option<&'static StdOption6Def> {
    std_option6_def_in_space(DHCP6_SPACE, code)
}

pub fn std_option6_def_in_space(space: &str, code: u16) -> Option<&'static StdOption6Def> {
    all_std_defs().find(|d| d.code == code && d.in_space(space))
}

pub fn std_option6_def_in_space_by_name(space: &str, name: &str) -> Option<&'static StdOption6Def> {
    all_std_defs().find(|d| d.name == name && d.in_space(space))
}

pub fn std_option6_def_by_name(name: &str) -> Option<&'static StdOption6Def> {
    std_option6_def_in_space_by_name(DHCP6_SPACE, name)
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

/// The space whose options are carried inside option `code` of `space`, if any.
fn encapsulated_space6(
    custom: &[OptionDef6],
    space: &str,
    code: u16,
    own_payload: &[u8],
) -> Option<std::string::String> {
    if let Some(def) = custom.iter().find(|d| d.space == space && d.code == code) {
        return def.encapsulate.clone();
    }
    if space == DHCP6_SPACE && code == VENDOR_OPTS_CODE {
        // RFC 8415 section 21.17: the enterprise-number selects the vendor's space
        // (ARM 10.2.16, "vendor-<enterprise-number>").
        let enterprise = own_payload.get(..4)?;
        let mut be = [0u8; 4];
        be.copy_from_slice(enterprise);
        return Some(format!("vendor-{}", u32::from_be_bytes(be)));
    }
    std_option6_def_in_space(space, code)
        .map(|d| d.encapsulate)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Appends to each option the sub-options configured in the same scope for the space it
/// encapsulates (Kea's `CfgOption::encapsulate`): the s46 containers (ARM 10.2.12), vendor-opts
/// (ARM 10.2.16), custom `encapsulate` spaces. DHCPv6 sub-options carry 16-bit codes and
/// lengths (RFC 8415 section 21.1), and go in code order, as Kea packs them (its sub-options
/// live in a map keyed by code; checked with kea-compare/cases6-std-options.py).
pub(crate) fn encapsulate6(set: &mut OptionSet6, custom: &[OptionDef6]) {
    let mut original = set.options.clone();
    original.sort_by_key(|o| o.code);
    for option in set.options.iter_mut() {
        let mut payload = Vec::from(&*option.data);
        append_suboptions6(
            &original,
            custom,
            &option.space,
            option.code,
            &mut payload,
            0,
        );
        option.data = payload.into_boxed_slice();
    }
}

const MAX_ENCAPSULATION_DEPTH: usize = 4;

fn append_suboptions6(
    all: &[ConfiguredOption6],
    custom: &[OptionDef6],
    space: &str,
    code: u16,
    payload: &mut Vec<u8>,
    depth: usize,
) {
    if depth >= MAX_ENCAPSULATION_DEPTH {
        return;
    }
    let Some(sub_space) = encapsulated_space6(custom, space, code, payload) else {
        return;
    };
    for sub in all.iter().filter(|o| o.space == sub_space) {
        let mut sub_payload = Vec::from(&*sub.data);
        append_suboptions6(
            all,
            custom,
            &sub.space,
            sub.code,
            &mut sub_payload,
            depth + 1,
        );
        payload.extend_from_slice(&sub.code.to_be_bytes());
        // The sum is checked against u16::MAX where the top-level option is used; a longer
        // sub-option is cut off at the 16-bit length, as it could not be sent anyway.
        let len = u16::try_from(sub_payload.len()).unwrap_or(u16::MAX);
        payload.extend_from_slice(&len.to_be_bytes());
        payload.extend_from_slice(sub_payload.get(..usize::from(len)).unwrap_or(&sub_payload));
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
