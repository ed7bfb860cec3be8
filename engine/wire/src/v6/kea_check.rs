//! Which received DHCPv6 messages kea-dhcp6 2.2 refuses to parse (counted in
//! pkt6-parse-failed), so that corelease refuses the same ones and serves the rest.
//!
//! Kea parses every option area (the message's options, each relay layer's, and those inside
//! IA_NA, IA_TA, IA_PD, IAADDR and IAPREFIX) with `LibDHCP::unpackOptions6`:
//! - an option whose header or payload runs past the end of its area ends that area silently:
//!   the options before it are kept, the message is processed ("be liberal in what you
//!   accept", Pkt6::unpackMsg), and a client identifier lost that way makes the sanity check
//!   drop it later (counted by message type and in pkt6-receive-drop);
//! - an option with a standard definition is built from that definition, and a payload the
//!   definition cannot read throws: the whole message is a parse failure.
//!
//! [`option_parses`] is that second rule for the standard options, as measured on the wire
//! against kea-dhcp6 2.2.0: every option code 1 to 143 sent inside a Solicit with payloads of
//! 0 to 32 bytes of zeros and of 'A's (see the tests). Codes not listed parse whatever their
//! payload (opaque or string definitions, or no definition).

use super::{opt, Options6};

/// How deep [`check_area`] follows encapsulating options. Kea has no limit; within the
/// 1500 bytes it reads of a datagram at most 187 levels fit (IA_TA: 8 bytes a level), so
/// this bound is never what refuses a received message.
pub const MAX_CHECKED_DEPTH: usize = 256;

/// Option codes whose payload is an array of IPv6 addresses: Kea accepts a multiple of 16
/// bytes, none included.
const ADDRESS_ARRAYS: [u16; 11] = [22, 23, 27, 28, 31, 34, 40, 48, 52, 88, 143];

/// Option codes whose payload is an array of domain names (RFC 1035 wire format).
const NAME_ARRAYS: [u16; 6] = [21, 24, 29, 30, 33, 58];

/// Option codes whose payload is a single domain name.
const SINGLE_NAMES: [u16; 4] = [51, 57, 64, 65];

/// The fixed part of an encapsulating option, before its sub-options (RFC 8415 21.4, 21.5,
/// 21.6, 21.21, 21.22).
pub fn fixed_part(code: u16) -> Option<usize> {
    match code {
        opt::IA_NA | opt::IA_PD => Some(12),
        opt::IA_TA => Some(4),
        opt::IAADDR => Some(24),
        opt::IAPREFIX => Some(25),
        _ => None,
    }
}

/// The least payload Kea's definition of `code` reads (integers, addresses, records).
fn minimum_len(code: u16) -> usize {
    match code {
        // IA_NA, IA_PD, IA_TA, IAADDR, IAPREFIX: their fixed fields.
        3 | 25 => 12,
        4 => 4,
        5 => 24,
        26 => 25,
        // preference, reconfigure-msg: uint8.
        7 | 19 => 1,
        // elapsed-time, relay-source-port: uint16; status-code: uint16 + message.
        8 | 13 | 135 => 2,
        // information-refresh-time, clt-time, sol-max-rt, inf-max-rt: uint32; remote-id:
        // uint32 enterprise number + binary.
        32 | 37 | 46 | 82 | 83 => 4,
        // unicast, link-address: an IPv6 address; lq-relay-data: address + binary.
        12 | 47 | 80 => 16,
        // lq-query: uint8 + IPv6 address (+ sub-options).
        44 => 17,
        // geoconf-civic: uint8 + uint16 + binary; nii: three uint8.
        36 | 62 => 3,
        _ => 0,
    }
}

/// Whether kea-dhcp6 2.2 builds option `code` from `data` without throwing.
pub fn option_parses(code: u16, data: &[u8]) -> bool {
    if data.len() < minimum_len(code) {
        return false;
    }
    match code {
        // ORO, ERO, client-arch-type: arrays of uint16, at least one.
        6 | 43 | 61 => !data.is_empty() && data.len().is_multiple_of(2),
        c if ADDRESS_ARRAYS.contains(&c) => data.len().is_multiple_of(16),
        // vendor-class: enterprise number, then 2-byte-length tuples filling the rest.
        16 => data.get(4..).is_some_and(tuples_fill),
        // bootfile-param: 2-byte-length tuples filling the payload.
        60 => tuples_fill(data),
        c if NAME_ARRAYS.contains(&c) => names_parse(data),
        c if SINGLE_NAMES.contains(&c) => {
            name_len(data).is_some_and(|(taken, _)| taken <= data.len())
        }
        // client-fqdn: flags, then a name that may be partial (no root label).
        39 => !data.is_empty() && data.get(1..).is_some_and(partial_name_parses),
        // pd-exclude: a non-zero prefix length and at least one byte of subnet ID.
        67 => data.len() >= 2 && data.first() != Some(&0),
        // rdnss-selection: IPv6 address, uint8, then a domain name.
        74 => data
            .get(17..)
            .is_some_and(|rest| name_len(rest).is_some_and(|(taken, _)| taken <= rest.len())),
        _ => true,
    }
}

/// `data` is a sequence of (2-byte length, bytes) tuples ending exactly at its end
/// (Kea's OpaqueDataTuple with LENGTH_2_BYTES).
fn tuples_fill(mut data: &[u8]) -> bool {
    while !data.is_empty() {
        let Some(len) = data
            .get(..2)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
        else {
            return false;
        };
        let Some(rest) = data.get(2 + len..) else {
            return false;
        };
        data = rest;
    }
    true
}

/// Reads one domain name in wire format from the start of `data` (isc::dns::Name): labels of
/// at most 63 bytes (no compression pointer), at most 255 bytes in all, ending with the root
/// label. Returns how many bytes Kea's OptionCustom advances past it (its text form with the
/// final dot plus one: the wire length, but 2 for the root name alone) and the wire length;
/// `None` when it does not parse.
fn name_len(data: &[u8]) -> Option<(usize, usize)> {
    let mut at = 0usize;
    loop {
        let label = usize::from(*data.get(at)?);
        if label == 0 {
            let wire = at + 1;
            if wire > 255 {
                return None;
            }
            return Some((if wire == 1 { 2 } else { wire }, wire));
        }
        if label > 63 {
            return None;
        }
        at += 1 + label;
    }
}

/// An array of names: each must parse; Kea stops (without error) when the room a name takes
/// by its count is more than what is left.
fn names_parse(data: &[u8]) -> bool {
    let mut at = 0usize;
    while let Some(rest) = data.get(at..).filter(|r| !r.is_empty()) {
        let Some((taken, _)) = name_len(rest) else {
            return false;
        };
        if taken > rest.len() {
            break;
        }
        at += taken;
    }
    true
}

/// A name that may lack its root label (Kea's Option6ClientFqdn appends one): labels of at
/// most 63 bytes that fit.
fn partial_name_parses(data: &[u8]) -> bool {
    let mut at = 0usize;
    while let Some(&label) = data.get(at) {
        if label == 0 {
            return true;
        }
        if label > 63 || at + 1 + usize::from(label) > data.len() {
            return false;
        }
        at += 1 + usize::from(label);
    }
    true
}

/// Checks one option area as Kea parses it: stops at the first option that runs past the end,
/// refuses an option Kea's definition cannot read, and descends into encapsulating options.
/// The payload of a Relay Message option is a message of its own (checked by the caller).
/// `Err((code, len))` names the refused option.
pub fn check_area(area: &[u8], depth: usize) -> Result<(), (u16, usize)> {
    for item in Options6::new(area, 0) {
        let Ok(o) = item else { break };
        if o.code == opt::RELAY_MSG {
            continue;
        }
        if !option_parses(o.code, o.data) {
            return Err((o.code, o.data.len()));
        }
        let Some(fixed) = fixed_part(o.code) else {
            continue;
        };
        if depth + 1 >= MAX_CHECKED_DEPTH {
            return Err((o.code, o.data.len()));
        }
        check_area(o.data.get(fixed..).unwrap_or(&[]), depth + 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeros(n: usize) -> Vec<u8> {
        vec![0; n]
    }

    fn a_s(n: usize) -> Vec<u8> {
        vec![b'A'; n]
    }

    const LENS: [usize; 15] = [0, 1, 2, 3, 4, 5, 8, 12, 15, 16, 17, 20, 24, 25, 32];

    /// The rows of kea-dhcp6 2.2.0's answers that are not "parses whatever the payload":
    /// code, then for each of LENS with zeros and then with 'A's, whether it parsed (measured
    /// on the wire, issue 9; `p` = parse failure, `.` = parsed).
    const MEASURED: [(u16, &str, &str); 50] = [
        (3, "ppppppp........", "ppppppp........"),
        (4, "pppp...........", "pppp..........."),
        (5, "pppppppppppp...", "pppppppppppp..."),
        (6, "pp.p.p..p.p..p.", "pp.p.p..p.p..p."),
        (7, "p..............", "p.............."),
        (8, "pp.............", "pp............."),
        (12, "ppppppppp......", "ppppppppp......"),
        (13, "pp.............", "pp............."),
        (16, "pppp.p..p.p..p.", "pppp.pppppppppp"),
        (19, "p..............", "p.............."),
        (21, "...............", ".pppppppppppppp"),
        (22, ".pppppppp.pppp.", ".pppppppp.pppp."),
        (23, ".pppppppp.pppp.", ".pppppppp.pppp."),
        (24, "...............", ".pppppppppppppp"),
        (25, "ppppppp........", "ppppppp........"),
        (26, "ppppppppppppp..", "ppppppppppppp.."),
        (27, ".pppppppp.pppp.", ".pppppppp.pppp."),
        (28, ".pppppppp.pppp.", ".pppppppp.pppp."),
        (29, "...............", ".pppppppppppppp"),
        (30, "...............", ".pppppppppppppp"),
        (31, ".pppppppp.pppp.", ".pppppppp.pppp."),
        (32, "pppp...........", "pppp..........."),
        (33, "...............", ".pppppppppppppp"),
        (34, ".pppppppp.pppp.", ".pppppppp.pppp."),
        (36, "ppp............", "ppp............"),
        (37, "pppp...........", "pppp..........."),
        (39, "p..............", "p.ppppppppppppp"),
        (40, ".pppppppp.pppp.", ".pppppppp.pppp."),
        (43, "pp.p.p..p.p..p.", "pp.p.p..p.p..p."),
        (44, "pppppppppp.....", "pppppppppp....."),
        (46, "pppp...........", "pppp..........."),
        (47, "ppppppppp......", "ppppppppp......"),
        (48, ".pppppppp.pppp.", ".pppppppp.pppp."),
        (51, "pp.............", "ppppppppppppppp"),
        (52, ".pppppppp.pppp.", ".pppppppp.pppp."),
        (57, "pp.............", "ppppppppppppppp"),
        (58, "...............", ".pppppppppppppp"),
        (60, ".p.p.p..p.p..p.", ".pppppppppppppp"),
        (61, "pp.p.p..p.p..p.", "pp.p.p..p.p..p."),
        (62, "ppp............", "ppp............"),
        (64, "pp.............", "ppppppppppppppp"),
        (65, "pp.............", "ppppppppppppppp"),
        (67, "ppppppppppppppp", "pp............."),
        (74, "ppppppppppp....", "ppppppppppppppp"),
        (80, "ppppppppp......", "ppppppppp......"),
        (82, "pppp...........", "pppp..........."),
        (83, "pppp...........", "pppp..........."),
        (88, ".pppppppp.pppp.", ".pppppppp.pppp."),
        (135, "pp.............", "pp............."),
        (143, ".pppppppp.pppp.", ".pppppppp.pppp."),
    ];

    #[test]
    fn option_payloads_parse_as_kea_dhcp6_2_2_parsed_them_on_the_wire() {
        for (code, zero_row, a_row) in MEASURED {
            for (fill, row) in [(zeros as fn(usize) -> Vec<u8>, zero_row), (a_s, a_row)] {
                for (len, want) in LENS.iter().zip(row.chars()) {
                    let data = fill(*len);
                    assert_eq!(
                        option_parses(code, &data),
                        want == '.',
                        "option {code}, {len} bytes of {:?}",
                        data.first()
                    );
                }
            }
        }
        // Every other code 1..=143 parsed whatever its payload.
        for code in 1..=143u16 {
            if MEASURED.iter().any(|m| m.0 == code) {
                continue;
            }
            for len in LENS {
                assert!(option_parses(code, &zeros(len)), "option {code}");
                assert!(option_parses(code, &a_s(len)), "option {code}");
            }
        }
    }

    #[test]
    fn real_names_parse_and_broken_ones_do_not() {
        let example = b"\x07example\x03com\x00";
        assert!(option_parses(24, example));
        assert!(option_parses(64, example));
        assert!(
            !option_parses(24, &example[..example.len() - 1]),
            "no root label"
        );
        assert!(!option_parses(24, b"\xc0\x0c"), "compression pointer");
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'x'; 63]);
        }
        long.push(0);
        assert!(!option_parses(24, &long), "longer than 255 bytes");
        let mut fqdn = vec![0x01];
        fqdn.extend_from_slice(b"\x04host\x07example");
        assert!(option_parses(39, &fqdn), "a partial name");
    }

    #[test]
    fn an_area_ends_silently_at_an_overrun_and_refuses_a_bad_sub_option() {
        // ORO (2 codes), then an option claiming 50 bytes with 2: the area ends there.
        let area = [0, 6, 0, 4, 0, 23, 0, 24, 0, 99, 0, 50, 1, 2];
        assert_eq!(check_area(&area, 0), Ok(()));
        // A lone trailing byte.
        assert_eq!(check_area(&[0, 6, 0, 2, 0, 23, 7], 0), Ok(()));
        // IA_NA holding a 1-byte status code.
        let mut ia = vec![0, 3, 0, 17, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        ia.extend_from_slice(&[0, 13, 0, 1, 0]);
        assert_eq!(check_area(&ia, 0), Err((13, 1)));
        // IA_NA of 5 bytes.
        assert_eq!(check_area(&[0, 3, 0, 5, 0, 0, 0, 1, 0], 0), Err((3, 5)));
        // A Relay Message's payload is not read here.
        assert_eq!(check_area(&[0, 9, 0, 3, 1, 0, 0], 0), Ok(()));
    }

    #[test]
    fn nesting_deeper_than_the_bound_is_refused() {
        // IA_TA inside IA_TA ... MAX_CHECKED_DEPTH + 1 levels.
        let mut area: Vec<u8> = Vec::new();
        for _ in 0..=MAX_CHECKED_DEPTH {
            let mut ia = vec![0, 4];
            ia.extend_from_slice(&((4 + area.len()) as u16).to_be_bytes());
            ia.extend_from_slice(&[0, 0, 0, 1]);
            ia.extend_from_slice(&area);
            area = ia;
        }
        assert!(check_area(&area, 0).is_err());
        // 100 levels are fine.
        let mut area: Vec<u8> = Vec::new();
        for _ in 0..100 {
            let mut ia = vec![0, 4];
            ia.extend_from_slice(&((4 + area.len()) as u16).to_be_bytes());
            ia.extend_from_slice(&[0, 0, 0, 1]);
            ia.extend_from_slice(&area);
            area = ia;
        }
        assert_eq!(check_area(&area, 0), Ok(()));
    }
}
