//! Every standard DHCPv6 option (ARM 10.2.11 table 1) configured the way the ARM writes it
//! (csv-format true) encodes to the bytes real Kea puts on the wire.
//!
//! The `kea_hex` payloads below were captured from kea-dhcp6 2.2.0 by
//! `sudo fuzz/kea-compare/run.sh 6 cases6-std-options.py`: for each case Kea was given the
//! case's option-data (global, always-send) with `config-set`, asked one relayed
//! Information-request, and the option's payload was copied from its Reply. Cases ending in
//! `-def` are options Kea 2.2 does not know yet (3.0 does): Kea 2.2 got an `option-def` with
//! the 3.0 table's type, so its own encoder for that type produced the bytes. Options Kea 2.2
//! could not produce bytes for are in [`NOT_FROM_KEA_22`], each with its reason and the
//! bytes from the ARM or RFC.

use corelease_config::{parse_dhcp6_str, DHCP6_SPACE, STD_V6_OPTION_DEFS};
use std::path::Path;

struct KeaCase {
    label: &'static str,
    /// The option read back from the Reply ("dhcp6" space).
    code: u16,
    /// `option-def` list the case needs (vendor spaces), empty if none.
    option_def: &'static str,
    option_data: &'static str,
    kea_hex: &'static str,
}

const KEA_22: &[KeaCase] = &[
    KeaCase {
        label: "preference",
        code: 7,
        option_def: r#""#,
        option_data: r#"[{"name": "preference", "always-send": true, "data": "255"}]"#,
        kea_hex: "ff",
    },
    KeaCase {
        label: "unicast",
        code: 12,
        option_def: r#""#,
        option_data: r#"[{"name": "unicast", "always-send": true, "data": "2001:db8::1"}]"#,
        kea_hex: "20010db8000000000000000000000001",
    },
    KeaCase {
        label: "sip-server-dns",
        code: 21,
        option_def: r#""#,
        option_data: r#"[{"name": "sip-server-dns", "always-send": true, "data": "sip1.example.org, sip2.example.org."}]"#,
        kea_hex: "0473697031076578616d706c65036f7267000473697032076578616d706c65036f726700",
    },
    KeaCase {
        label: "sip-server-addr",
        code: 22,
        option_def: r#""#,
        option_data: r#"[{"name": "sip-server-addr", "always-send": true, "data": "2001:db8::1, 2001:db8::2"}]"#,
        kea_hex: "20010db800000000000000000000000120010db8000000000000000000000002",
    },
    KeaCase {
        label: "dns-servers",
        code: 23,
        option_def: r#""#,
        option_data: r#"[{"name": "dns-servers", "always-send": true, "data": "2001:db8::1, 2001:db8::2"}]"#,
        kea_hex: "20010db800000000000000000000000120010db8000000000000000000000002",
    },
    KeaCase {
        label: "domain-search",
        code: 24,
        option_def: r#""#,
        option_data: r#"[{"name": "domain-search", "always-send": true, "data": "mydomain.example.com, example.com"}]"#,
        kea_hex: "086d79646f6d61696e076578616d706c6503636f6d00076578616d706c6503636f6d00",
    },
    KeaCase {
        label: "domain-search-dot",
        code: 24,
        option_def: r#""#,
        option_data: r#"[{"name": "domain-search", "always-send": true, "data": "example.com."}]"#,
        kea_hex: "076578616d706c6503636f6d00",
    },
    KeaCase {
        label: "nis-servers",
        code: 27,
        option_def: r#""#,
        option_data: r#"[{"name": "nis-servers", "always-send": true, "data": "2001:db8::1"}]"#,
        kea_hex: "20010db8000000000000000000000001",
    },
    KeaCase {
        label: "nisp-servers",
        code: 28,
        option_def: r#""#,
        option_data: r#"[{"name": "nisp-servers", "always-send": true, "data": "2001:db8::1, 2001:db8::2"}]"#,
        kea_hex: "20010db800000000000000000000000120010db8000000000000000000000002",
    },
    KeaCase {
        label: "nis-domain-name",
        code: 29,
        option_def: r#""#,
        option_data: r#"[{"name": "nis-domain-name", "always-send": true, "data": "nis.example.org"}]"#,
        kea_hex: "036e6973076578616d706c65036f726700",
    },
    KeaCase {
        label: "nisp-domain-name",
        code: 30,
        option_def: r#""#,
        option_data: r#"[{"name": "nisp-domain-name", "always-send": true, "data": "nisp.example.org, example.com"}]"#,
        kea_hex: "046e697370076578616d706c65036f726700076578616d706c6503636f6d00",
    },
    KeaCase {
        label: "sntp-servers",
        code: 31,
        option_def: r#""#,
        option_data: r#"[{"name": "sntp-servers", "always-send": true, "data": "2001:db8::123"}]"#,
        kea_hex: "20010db8000000000000000000000123",
    },
    KeaCase {
        label: "information-refresh-time",
        code: 32,
        option_def: r#""#,
        option_data: r#"[{"name": "information-refresh-time", "always-send": true, "data": "3600"}]"#,
        kea_hex: "00000e10",
    },
    KeaCase {
        label: "bcmcs-server-dns",
        code: 33,
        option_def: r#""#,
        option_data: r#"[{"name": "bcmcs-server-dns", "always-send": true, "data": "bcmcs.example.org"}]"#,
        kea_hex: "0562636d6373076578616d706c65036f726700",
    },
    KeaCase {
        label: "bcmcs-server-addr",
        code: 34,
        option_def: r#""#,
        option_data: r#"[{"name": "bcmcs-server-addr", "always-send": true, "data": "2001:db8::1, 2001:db8::2"}]"#,
        kea_hex: "20010db800000000000000000000000120010db8000000000000000000000002",
    },
    KeaCase {
        label: "geoconf-civic",
        code: 36,
        option_def: r#""#,
        option_data: r#"[{"name": "geoconf-civic", "always-send": true, "data": "1, 66, 0a0b0c"}]"#,
        kea_hex: "0100420a0b0c",
    },
    KeaCase {
        label: "remote-id",
        code: 37,
        option_def: r#""#,
        option_data: r#"[{"name": "remote-id", "always-send": true, "data": "2495, 0a0b0c0d"}]"#,
        kea_hex: "000009bf0a0b0c0d",
    },
    KeaCase {
        label: "subscriber-id",
        code: 38,
        option_def: r#""#,
        option_data: r#"[{"name": "subscriber-id", "always-send": true, "data": "0a0b0c"}]"#,
        kea_hex: "0a0b0c",
    },
    KeaCase {
        label: "client-fqdn",
        code: 39,
        option_def: r#""#,
        option_data: r#"[{"name": "client-fqdn", "always-send": true, "data": "1, host.example.org"}]"#,
        kea_hex: "0104686f7374076578616d706c65036f726700",
    },
    KeaCase {
        label: "pana-agent",
        code: 40,
        option_def: r#""#,
        option_data: r#"[{"name": "pana-agent", "always-send": true, "data": "2001:db8::1"}]"#,
        kea_hex: "20010db8000000000000000000000001",
    },
    KeaCase {
        label: "new-posix-timezone",
        code: 41,
        option_def: r#""#,
        option_data: r#"[{"name": "new-posix-timezone", "always-send": true, "data": "EST5EDT4\\,M3.2.0/02:00\\,M11.1.0/02:00"}]"#,
        kea_hex: "45535435454454342c4d332e322e302f30323a30302c4d31312e312e302f30323a3030",
    },
    KeaCase {
        label: "new-posix-timezone-unescaped",
        code: 41,
        option_def: r#""#,
        option_data: r#"[{"name": "new-posix-timezone", "always-send": true, "data": "EST5EDT4,M3.2.0/02:00,M11.1.0/02:00"}]"#,
        kea_hex: "4553543545445434",
    },
    KeaCase {
        label: "new-tzdb-timezone",
        code: 42,
        option_def: r#""#,
        option_data: r#"[{"name": "new-tzdb-timezone", "always-send": true, "data": "Europe/Zurich"}]"#,
        kea_hex: "4575726f70652f5a7572696368",
    },
    KeaCase {
        label: "ero",
        code: 43,
        option_def: r#""#,
        option_data: r#"[{"name": "ero", "always-send": true, "data": "1, 2, 65535"}]"#,
        kea_hex: "00010002ffff",
    },
    KeaCase {
        label: "clt-time",
        code: 46,
        option_def: r#""#,
        option_data: r#"[{"name": "clt-time", "always-send": true, "data": "600"}]"#,
        kea_hex: "00000258",
    },
    KeaCase {
        label: "lq-relay-data",
        code: 47,
        option_def: r#""#,
        option_data: r#"[{"name": "lq-relay-data", "always-send": true, "data": "2001:db8::1, 0a0b"}]"#,
        kea_hex: "20010db80000000000000000000000010a0b",
    },
    KeaCase {
        label: "lq-client-link",
        code: 48,
        option_def: r#""#,
        option_data: r#"[{"name": "lq-client-link", "always-send": true, "data": "2001:db8::1, 2001:db8::2"}]"#,
        kea_hex: "20010db800000000000000000000000120010db8000000000000000000000002",
    },
    KeaCase {
        label: "v6-lost",
        code: 51,
        option_def: r#""#,
        option_data: r#"[{"name": "v6-lost", "always-send": true, "data": "lost.example.org"}]"#,
        kea_hex: "046c6f7374076578616d706c65036f726700",
    },
    KeaCase {
        label: "capwap-ac-v6",
        code: 52,
        option_def: r#""#,
        option_data: r#"[{"name": "capwap-ac-v6", "always-send": true, "data": "2001:db8::1, 2001:db8::2"}]"#,
        kea_hex: "20010db800000000000000000000000120010db8000000000000000000000002",
    },
    KeaCase {
        label: "relay-id",
        code: 53,
        option_def: r#""#,
        option_data: r#"[{"name": "relay-id", "always-send": true, "data": "0a0b0c"}]"#,
        kea_hex: "0a0b0c",
    },
    KeaCase {
        label: "v6-access-domain",
        code: 57,
        option_def: r#""#,
        option_data: r#"[{"name": "v6-access-domain", "always-send": true, "data": "access.example.org"}]"#,
        kea_hex: "06616363657373076578616d706c65036f726700",
    },
    KeaCase {
        label: "sip-ua-cs-list",
        code: 58,
        option_def: r#""#,
        option_data: r#"[{"name": "sip-ua-cs-list", "always-send": true, "data": "sip.example.org, example.com"}]"#,
        kea_hex: "03736970076578616d706c65036f726700076578616d706c6503636f6d00",
    },
    KeaCase {
        label: "bootfile-url",
        code: 59,
        option_def: r#""#,
        option_data: r#"[{"name": "bootfile-url", "always-send": true, "data": "http://[2001:db8::1]/boot.efi"}]"#,
        kea_hex: "687474703a2f2f5b323030313a6462383a3a315d2f626f6f742e656669",
    },
    KeaCase {
        label: "bootfile-param",
        code: 60,
        option_def: r#""#,
        option_data: r#"[{"name": "bootfile-param", "always-send": true, "data": "root=/dev/sda1, quiet"}]"#,
        kea_hex: "000e726f6f743d2f6465762f7364613100057175696574",
    },
    KeaCase {
        label: "client-arch-type",
        code: 61,
        option_def: r#""#,
        option_data: r#"[{"name": "client-arch-type", "always-send": true, "data": "7, 9"}]"#,
        kea_hex: "00070009",
    },
    KeaCase {
        label: "nii",
        code: 62,
        option_def: r#""#,
        option_data: r#"[{"name": "nii", "always-send": true, "data": "1, 3, 0"}]"#,
        kea_hex: "010300",
    },
    KeaCase {
        label: "aftr-name",
        code: 64,
        option_def: r#""#,
        option_data: r#"[{"name": "aftr-name", "always-send": true, "data": "aftr.example.org"}]"#,
        kea_hex: "0461667472076578616d706c65036f726700",
    },
    KeaCase {
        label: "erp-local-domain-name",
        code: 65,
        option_def: r#""#,
        option_data: r#"[{"name": "erp-local-domain-name", "always-send": true, "data": "erp.example.org"}]"#,
        kea_hex: "03657270076578616d706c65036f726700",
    },
    KeaCase {
        label: "rsoo",
        code: 66,
        option_def: r#""#,
        option_data: r#"[{"name": "rsoo", "always-send": true}]"#,
        kea_hex: "",
    },
    KeaCase {
        label: "rdnss-selection",
        code: 74,
        option_def: r#""#,
        option_data: r#"[{"name": "rdnss-selection", "always-send": true, "data": "2001:db8::1, 1, rdnss.example.org"}]"#,
        kea_hex: "20010db8000000000000000000000001010572646e7373076578616d706c65036f726700",
    },
    KeaCase {
        label: "client-linklayer-addr",
        code: 79,
        option_def: r#""#,
        option_data: r#"[{"name": "client-linklayer-addr", "always-send": true, "data": "00010a0b0c0d0e0f"}]"#,
        kea_hex: "00010a0b0c0d0e0f",
    },
    KeaCase {
        label: "link-address",
        code: 80,
        option_def: r#""#,
        option_data: r#"[{"name": "link-address", "always-send": true, "data": "2001:db8::1"}]"#,
        kea_hex: "20010db8000000000000000000000001",
    },
    KeaCase {
        label: "solmax-rt",
        code: 82,
        option_def: r#""#,
        option_data: r#"[{"name": "solmax-rt", "always-send": true, "data": "7200"}]"#,
        kea_hex: "00001c20",
    },
    KeaCase {
        label: "inf-max-rt",
        code: 83,
        option_def: r#""#,
        option_data: r#"[{"name": "inf-max-rt", "always-send": true, "data": "7200"}]"#,
        kea_hex: "00001c20",
    },
    KeaCase {
        label: "dhcp4o6-server-addr",
        code: 88,
        option_def: r#""#,
        option_data: r#"[{"name": "dhcp4o6-server-addr", "always-send": true, "data": "2001:db8::1, 2001:db8::2"}]"#,
        kea_hex: "20010db800000000000000000000000120010db8000000000000000000000002",
    },
    KeaCase {
        label: "s46-cont-mape",
        code: 94,
        option_def: r#""#,
        option_data: r#"[{"name": "s46-cont-mape", "always-send": true}, {"name": "s46-rule", "always-send": true, "data": "128, 0, 24, 192.0.2.0, 2001:db8:1::/64", "space": "s46-cont-mape-options"}, {"name": "s46-br", "always-send": true, "data": "2001:db8:cafe::1", "space": "s46-cont-mape-options"}, {"name": "s46-portparams", "always-send": true, "data": "2, 3/4", "space": "s46-rule-options"}]"#,
        kea_hex: "00590018800018c00002004020010db800010000005d000402043000005a001020010db8cafe00000000000000000001",
    },
    KeaCase {
        label: "s46-cont-mapt",
        code: 95,
        option_def: r#""#,
        option_data: r#"[{"name": "s46-cont-mapt", "always-send": true}, {"name": "s46-rule", "always-send": true, "data": "0, 16, 24, 192.0.2.0, 2001:db8:1::/60", "space": "s46-cont-mapt-options"}, {"name": "s46-dmr", "always-send": true, "data": "2001:db8:cafe::/64", "space": "s46-cont-mapt-options"}]"#,
        kea_hex: "00590010001018c00002003c20010db800010000005b00094020010db8cafe0000",
    },
    KeaCase {
        label: "s46-cont-lw",
        code: 96,
        option_def: r#""#,
        option_data: r#"[{"name": "s46-cont-lw", "always-send": true}, {"name": "s46-br", "always-send": true, "data": "2001:db8:cafe::1", "space": "s46-cont-lw-options"}, {"name": "s46-v4v6bind", "always-send": true, "data": "192.0.2.3, 2001:db8:1:cafe::/64", "space": "s46-cont-lw-options"}, {"name": "s46-portparams", "always-send": true, "data": "2, 3/4", "space": "s46-v4v6bind-options"}]"#,
        kea_hex: "005a001020010db8cafe00000000000000000001005c0015c00002034020010db80001cafe005d000402043000",
    },
    KeaCase {
        label: "s46-cont-mapt-dmr41",
        code: 95,
        option_def: r#""#,
        option_data: r#"[{"name": "s46-cont-mapt", "always-send": true}, {"name": "s46-dmr", "always-send": true, "data": "2001:db8:ca80::/41", "space": "s46-cont-mapt-options"}]"#,
        kea_hex: "005b00072920010db8ca80",
    },
    KeaCase {
        label: "v6-captive-portal",
        code: 103,
        option_def: r#""#,
        option_data: r#"[{"name": "v6-captive-portal", "always-send": true, "data": "https://example.org/captive"}]"#,
        kea_hex: "68747470733a2f2f6578616d706c652e6f72672f63617074697665",
    },
    KeaCase {
        label: "ipv6-address-andsf",
        code: 143,
        option_def: r#""#,
        option_data: r#"[{"name": "ipv6-address-andsf", "always-send": true, "data": "2001:db8::1, 2001:db8::2"}]"#,
        kea_hex: "20010db800000000000000000000000120010db8000000000000000000000002",
    },
    KeaCase {
        label: "v6-sztp-redirect-def",
        code: 136,
        option_def: r#""#,
        option_data: r#"[{"name": "v6-sztp-redirect", "always-send": true, "data": "https://sztp1.example.org:8443, https://sztp2.example.org"}]"#,
        kea_hex: "001e68747470733a2f2f737a7470312e6578616d706c652e6f72673a38343433001968747470733a2f2f737a7470322e6578616d706c652e6f7267",
    },
    KeaCase {
        label: "addr-reg-enable-def",
        code: 148,
        option_def: r#""#,
        option_data: r#"[{"name": "addr-reg-enable", "always-send": true}]"#,
        kea_hex: "",
    },
    KeaCase {
        label: "s46-cont-lw-reversed",
        code: 96,
        option_def: r#""#,
        option_data: r#"[{"name": "s46-portparams", "always-send": true, "data": "2, 3/4", "space": "s46-v4v6bind-options"}, {"name": "s46-v4v6bind", "always-send": true, "data": "192.0.2.3, 2001:db8:1:cafe::/64", "space": "s46-cont-lw-options"}, {"name": "s46-br", "always-send": true, "data": "2001:db8:cafe::1", "space": "s46-cont-lw-options"}, {"name": "s46-cont-lw", "always-send": true}]"#,
        kea_hex: "005a001020010db8cafe00000000000000000001005c0015c00002034020010db80001cafe005d000402043000",
    },
    KeaCase {
        label: "vendor-opts-docsis-all",
        code: 17,
        option_def: r#""#,
        option_data: r#"[{"name": "vendor-opts", "always-send": true, "data": "4491"}, {"name": "time-offset", "always-send": true, "data": "-3600", "space": "vendor-4491"}, {"name": "time-servers", "always-send": true, "data": "2001:db8::7b", "space": "vendor-4491"}, {"name": "device-id", "always-send": true, "data": "0a0b0c", "space": "vendor-4491"}, {"name": "syslog-servers", "always-send": true, "data": "2001:db8::1, 2001:db8::2", "space": "vendor-4491"}, {"name": "config-file", "always-send": true, "data": "modem.cfg", "space": "vendor-4491"}, {"name": "tftp-servers", "always-send": true, "data": "2001:db8::69", "space": "vendor-4491"}, {"name": "oro", "always-send": true, "data": "32, 33", "space": "vendor-4491"}]"#,
        kea_hex: "0000118b00010004002000210020001020010db8000000000000000000000069002100096d6f64656d2e6366670022002020010db800000000000000000000000120010db8000000000000000000000002002400030a0b0c0025001020010db800000000000000000000007b00260004fffff1f0",
    },
    KeaCase {
        label: "vendor-opts-4o6",
        code: 17,
        option_def: r#""#,
        option_data: r#"[{"name": "vendor-opts", "always-send": true, "data": "2495"}, {"name": "4o6-interface", "always-send": true, "data": "eth0", "space": "vendor-2495"}, {"name": "4o6-source-address", "always-send": true, "data": "2001:db8::1", "space": "vendor-2495"}, {"name": "4o6-source-port", "always-send": true, "data": "547", "space": "vendor-2495"}]"#,
        kea_hex: "000009bfea60000465746830ea61001020010db8000000000000000000000001ea6200020223",
    },
    KeaCase {
        label: "vendor-opts-docsis",
        code: 17,
        option_def: r#""#,
        option_data: r#"[{"name": "vendor-opts", "always-send": true, "data": "4491"}, {"name": "tftp-servers", "always-send": true, "data": "2001:db8::69", "space": "vendor-4491"}]"#,
        kea_hex: "0000118b0020001020010db8000000000000000000000069",
    },
    KeaCase {
        label: "vendor-opts-custom",
        code: 17,
        option_def: r#"[{"name": "greeting", "code": 1, "space": "vendor-2495", "type": "string"}]"#,
        option_data: r#"[{"name": "vendor-opts", "always-send": true, "data": "2495"}, {"name": "greeting", "always-send": true, "data": "hello", "space": "vendor-2495"}]"#,
        kea_hex: "000009bf0001000568656c6c6f",
    },
];

/// Standard options whose bytes do not come from Kea 2.2, and why.
const NOT_FROM_KEA_22: &[KeaCase] = &[
    // Kea 2.2 segfaults (exit -11) when it sends lq-query or client-data with always-send
    // (cases6-std-options.py prints "KEA DIED"); bytes by the record definition: uint8 then
    // the 16-byte address (RFC 5007 section 4.1.2.2).
    KeaCase {
        label: "lq-query",
        code: 44,
        option_def: "",
        option_data: r#"[{"name": "lq-query", "data": "1, 2001:db8::1"}]"#,
        kea_hex: "0120010db8000000000000000000000001",
    },
    KeaCase {
        label: "client-data",
        code: 45,
        option_def: "",
        option_data: r#"[{"name": "client-data"}]"#,
        kea_hex: "",
    },
    // Not defined in Kea 2.2. ARM 3.0 table 1: empty container (RFC 5908); sub-options in
    // v6-ntp-server-suboptions are not configurable in corelease yet.
    KeaCase {
        label: "ntp-server",
        code: 56,
        option_def: "",
        option_data: r#"[{"name": "ntp-server"}]"#,
        kea_hex: "",
    },
    // Kea 2.2 types pd-exclude as ipv6-prefix; ARM 3.0 table 1 says binary (RFC 6603 section
    // 4.2: prefix-len then the significant bits), which corelease follows.
    KeaCase {
        label: "pd-exclude",
        code: 67,
        option_def: "",
        option_data: r#"[{"name": "pd-exclude", "data": "4001"}]"#,
        kea_hex: "4001",
    },
    // Not defined in Kea 2.2. The first example of ARM 3.0 section 10.2.13, with the on-wire
    // bytes the ARM lists for it.
    KeaCase {
        label: "v6-dnr",
        code: 144,
        option_def: "",
        option_data: r#"[{"name": "v6-dnr", "data": "100, dot1.example.org., 2001:db8::1 2001:db8::2, alpn=dot port=8530"}]"#,
        kea_hex: "0064001204646f7431076578616d706c65036f726700002020010db800000000000000000000000120010db80000000000000000000000020001000403646f74000300022152",
    },
    // The second example of ARM 3.0 section 10.2.13 (several alpn ids, dohpath), with the
    // on-wire bytes the ARM lists for it.
    KeaCase {
        label: "v6-dnr-alpn-list",
        code: 144,
        option_def: "",
        option_data: r#"[{"name": "v6-dnr", "data": "150, resolver.example., 2001:db8::1 2001:db8::2, alpn=dot\\,doq\\,h2\\,h3 dohpath=/q{?dns}"}]"#,
        kea_hex: "00960012087265736f6c766572076578616d706c6500002020010db800000000000000000000000120010db80000000000000000000000020001000e03646f7403646f71026832026833000700082f717b3f646e737d",
    },
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The payload corelease encodes for the case's top-level option, or why it has none.
fn corelease_payload(case: &KeaCase) -> Result<Vec<u8>, String> {
    let defs = if case.option_def.is_empty() {
        String::new()
    } else {
        format!(r#""option-def": {},"#, case.option_def)
    };
    let text = format!(
        r#"{{"Dhcp6": {{ {defs} "option-data": {} }}}}"#,
        case.option_data
    );
    let loaded = parse_dhcp6_str(&text, Path::new(".")).map_err(|e| e.to_string())?;
    if !loaded.unsupported.is_empty() {
        return Err(format!("unsupported: {:?}", loaded.unsupported));
    }
    loaded
        .config
        .global_options
        .get(case.code)
        .map(|o| o.data.to_vec())
        .ok_or_else(|| format!("no option {} in the global options", case.code))
}

fn check(cases: &[KeaCase]) {
    let mut differ = Vec::new();
    for case in cases {
        match corelease_payload(case) {
            Ok(got) if hex(&got) == case.kea_hex => {}
            Ok(got) => differ.push(format!(
                "{} ({}): corelease {} / kea {}",
                case.label,
                case.code,
                hex(&got),
                case.kea_hex
            )),
            Err(e) => differ.push(format!("{} ({}): {e}", case.label, case.code)),
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn every_standard_option_encodes_as_kea_2_2_sends_it() {
    check(KEA_22);
}

#[test]
fn standard_options_kea_2_2_cannot_send_encode_as_the_arm_says() {
    check(NOT_FROM_KEA_22);
}

/// Every entry of ARM 10.2.11 table 1 has a case: as a top-level option, or (the s46-*
/// sub-options) inside the container cases.
#[test]
fn every_table_entry_has_a_case() {
    let all = || KEA_22.iter().chain(NOT_FROM_KEA_22);
    for def in STD_V6_OPTION_DEFS {
        let name = format!(r#""name": "{}""#, def.name);
        assert!(
            all().any(|c| c.option_data.contains(&name)),
            "{} ({}) has no case",
            def.name,
            def.code
        );
    }
    assert_eq!(DHCP6_SPACE, "dhcp6");
}

fn load_errors(option_data: &str) -> Vec<String> {
    let text = format!(r#"{{"Dhcp6": {{ "option-data": {option_data} }}}}"#);
    match parse_dhcp6_str(&text, Path::new(".")) {
        Ok(_) => panic!("config should be rejected: {option_data}"),
        Err(e) => e.issues.iter().map(|i| i.to_string()).collect(),
    }
}

/// Kea 2.2: "definition for the option 'dhcp6.s46-br' having code '0' does not exist". The
/// s46 sub-options exist only inside their containers' spaces.
#[test]
fn s46_sub_options_are_not_top_level_options() {
    assert_eq!(
        load_errors(r#"[{"name": "s46-br", "data": "2001:db8::1"}]"#),
        vec![
            "Dhcp6.option-data[0].name: unknown option 's46-br' in space 'dhcp6' (no standard or option-def definition)"
                .to_string()
        ]
    );
    // Kea 2.2: "definition for the option 's46-cont-mape-options.s46-portparams' ... does not
    // exist": port parameters go inside a rule or a binding.
    assert_eq!(
        load_errors(
            r#"[{"name": "s46-portparams", "space": "s46-cont-mape-options", "data": "2, 3/4"}]"#
        ),
        vec![
            "Dhcp6.option-data[0].name: unknown option 's46-portparams' in space 's46-cont-mape-options' (no standard or option-def definition)"
                .to_string()
        ]
    );
}

#[test]
fn dnr_notation_errors_name_the_field() {
    let one = |data: &str| {
        load_errors(&format!(r#"[{{"name": "v6-dnr", "data": "{data}"}}]"#))
            .into_iter()
            .next()
            .unwrap_or_default()
    };
    assert_eq!(
        one("100, dot.example.org., 2001:db8::1, ipv6hint=2001:db8::1"),
        "Dhcp6.option-data[0].data: DNR SvcParamKey 'ipv6hint' is not supported (alpn, port and dohpath are, ARM 10.2.13)"
    );
    assert_eq!(
        one("100, doh.example.org., 2001:db8::1, alpn=h2"),
        "Dhcp6.option-data[0].data: DNR alpn names HTTP (h2/h3) but no dohpath is given (RFC 9461 section 5)"
    );
    assert_eq!(
        one("100"),
        "Dhcp6.option-data[0].data: DNR option data \"100\" needs at least a service priority and an authentication-domain-name (ARM 10.2.13)"
    );
}

/// RFC 9463 section 3.1.6: priority and ADN only.
#[test]
fn dnr_adn_only_form() {
    let case = KeaCase {
        label: "v6-dnr-adn-only",
        code: 144,
        option_def: "",
        option_data: r#"[{"name": "v6-dnr", "data": "1, resolver.example."}]"#,
        kea_hex: "00010012087265736f6c766572076578616d706c6500",
    };
    check(&[case]);
}
