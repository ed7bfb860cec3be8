//! Turns `option-data` text into option payload bytes, once, at config load (DESIGN.md: the
//! hot path only copies bytes). The rules follow Kea's option definition factory:
//!
//! - `csv-format: true` (the default): the data is split at commas (`\,` is a literal comma,
//!   ARM 9.2.10), each value is trimmed and written per its type. A non-array option uses its
//!   first value; a record takes one value per field, and when it is an array its last field
//!   repeats (ARM 9.2.10 table 3, "record").
//! - `csv-format: false`: the data is hex and is checked against the definition's shape.
//!
//! Integers may be decimal or hexadecimal, plain or `0x`-prefixed (ARM 9.2.12 note).

use super::defs::{DefView, OptionType, TupleLength};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Splits csv option data as Kea does: commas separate values, `\,` is a literal comma and
/// `\\` a literal backslash, and values are trimmed.
pub fn split_csv(data: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut current = String::new();
    let mut chars = data.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some(',') | Some('\\')) => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ',' => {
                push_token(&mut values, &current);
                current.clear();
            }
            _ => current.push(c),
        }
    }
    push_token(&mut values, &current);
    values
}

/// Kea drops empty tokens (",," or a leading comma) but keeps whitespace-only ones, which
/// trim to an empty value.
fn push_token(values: &mut Vec<String>, token: &str) {
    if !token.is_empty() {
        values.push(token.trim().to_string());
    }
}

/// Encodes csv-format option data for `def` into the option payload.
pub fn encode_csv(def: &DefView<'_>, data: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    if def.option_type == OptionType::Internal {
        encode_classless_routes(data, &mut out)?;
        return Ok(out);
    }
    let values = split_csv(data);
    if values.is_empty() {
        // Kea builds the option from an empty buffer: fine for types that may be empty.
        return match def.option_type {
            OptionType::Empty | OptionType::Binary => Ok(out),
            _ if def.array => Ok(out),
            _ => Err("no option value specified".to_string()),
        };
    }
    match def.option_type {
        OptionType::Empty => {
            return Err(format!(
                "option '{}' is of type empty and carries no data, but data \"{data}\" is given",
                def.name
            ))
        }
        OptionType::Record => {
            let fields = def.record_types;
            if values.len() < fields.len() {
                return Err(format!(
                    "the record has {} fields ({}) but only {} values are given",
                    fields.len(),
                    fields
                        .iter()
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                    values.len()
                ));
            }
            for (value, ty) in values.iter().zip(fields.iter()) {
                write_value(*ty, value, def.tuple_length, true, &mut out)?;
            }
            if def.array {
                if let Some(last) = fields.last() {
                    for value in values.iter().skip(fields.len()) {
                        write_value(*last, value, def.tuple_length, true, &mut out)?;
                    }
                }
            }
        }
        ty if def.array => {
            for value in &values {
                write_value(ty, value, def.tuple_length, false, &mut out)?;
            }
        }
        ty => {
            if let Some(first) = values.first() {
                write_value(ty, first, def.tuple_length, false, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// The DHCPv6 DNR option (RFC 9463 section 4.1) from Kea's notation (ARM 10.2.13):
/// "priority, adn[, addresses[, svc-params]]" where the addresses are space-separated and the
/// SvcParams are space-separated key=value pairs (alpn, port, dohpath; an alpn list separates
/// its ids with escaped commas). Two fields give the ADN-only form (RFC 9463 section 3.1.6).
pub fn encode_dnr_v6(data: &str) -> Result<Vec<u8>, String> {
    let fields = split_csv(data);
    let (priority, adn) = match (fields.first(), fields.get(1)) {
        (Some(p), Some(a)) => (p, a),
        _ => {
            return Err(format!(
                "DNR option data \"{data}\" needs at least a service priority and an authentication-domain-name (ARM 10.2.13)"
            ))
        }
    };
    if fields.len() > 4 {
        return Err(format!(
            "DNR option data \"{data}\" has {} comma-separated fields; at most 4 (priority, ADN, addresses, SvcParams)",
            fields.len()
        ));
    }
    let mut out = Vec::new();
    let priority: u16 = priority.parse().map_err(|_| {
        format!("DNR service priority '{priority}' is not a 16-bit unsigned integer")
    })?;
    out.extend_from_slice(&priority.to_be_bytes());
    let mut name = Vec::new();
    write_fqdn(adn, &mut name)?;
    push_u16_len(&mut out, name.len())?;
    out.extend_from_slice(&name);
    let Some(addresses) = fields.get(2) else {
        return Ok(out);
    };
    let mut addrs = Vec::new();
    for a in addresses.split_whitespace() {
        let ip: Ipv6Addr = a
            .parse()
            .map_err(|_| format!("DNR address '{a}' is not an IPv6 address"))?;
        addrs.extend_from_slice(&ip.octets());
    }
    if addrs.is_empty() {
        return Err("DNR option: the address field is empty; give at least one IPv6 address or only priority and ADN".to_string());
    }
    push_u16_len(&mut out, addrs.len())?;
    out.extend_from_slice(&addrs);
    if let Some(params) = fields.get(3) {
        write_svc_params(params, &mut out)?;
    }
    Ok(out)
}

fn push_u16_len(out: &mut Vec<u8>, len: usize) -> Result<(), String> {
    let len = u16::try_from(len).map_err(|_| format!("{len} bytes do not fit a 16-bit length"))?;
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

/// SvcParams in wire form (RFC 9460 section 2.2: key, length, value, keys in increasing
/// order). Kea supports alpn (1), port (3) and dohpath (7) in DNR (ARM 10.2.13).
fn write_svc_params(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let mut params: Vec<(u16, Vec<u8>)> = Vec::new();
    let mut http = false;
    for pair in text.split_whitespace() {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("DNR SvcParam '{pair}' is not key=value"));
        };
        let (code, bytes) = match key {
            "alpn" => {
                let mut v = Vec::new();
                for id in value.split(',') {
                    let len = u8::try_from(id.len())
                        .ok()
                        .filter(|l| *l > 0)
                        .ok_or_else(|| format!("DNR alpn-id '{id}' must be 1 to 255 bytes"))?;
                    http |= id.starts_with('h');
                    v.push(len);
                    v.extend_from_slice(id.as_bytes());
                }
                (1, v)
            }
            "port" => {
                let port: u16 = value
                    .parse()
                    .map_err(|_| format!("DNR port '{value}' is not a 16-bit unsigned integer"))?;
                (3, port.to_be_bytes().to_vec())
            }
            "dohpath" => {
                // RFC 9461 section 5: the URI Template MUST contain a "dns" variable.
                if !value.contains("{?dns}") {
                    return Err(format!(
                        "DNR dohpath '{value}' must contain the \"dns\" variable ({{?dns}}, RFC 9461 section 5)"
                    ));
                }
                (7, value.as_bytes().to_vec())
            }
            other => {
                return Err(format!(
                    "DNR SvcParamKey '{other}' is not supported (alpn, port and dohpath are, ARM 10.2.13)"
                ))
            }
        };
        if params.iter().any(|(c, _)| *c == code) {
            return Err(format!("DNR SvcParamKey '{key}' is given twice"));
        }
        params.push((code, bytes));
    }
    // RFC 9461 section 5: an alpn naming HTTP (h2, h3) needs dohpath.
    if http && !params.iter().any(|(c, _)| *c == 7) {
        return Err(
            "DNR alpn names HTTP (h2/h3) but no dohpath is given (RFC 9461 section 5)".to_string(),
        );
    }
    params.sort_by_key(|(c, _)| *c);
    for (code, value) in params {
        out.extend_from_slice(&code.to_be_bytes());
        push_u16_len(out, value.len())?;
        out.extend_from_slice(&value);
    }
    Ok(())
}

/// Writes one value of type `ty`. `in_record` relaxes the non-empty rule for strings, which
/// only applies to whole string options.
fn write_value(
    ty: OptionType,
    text: &str,
    tuple_length: TupleLength,
    in_record: bool,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    match ty {
        OptionType::Boolean => out.push(u8::from(parse_bool(text)?)),
        OptionType::Uint8 => out.push(parse_int(text, 0, u8::MAX.into())? as u8),
        OptionType::Uint16 => {
            out.extend_from_slice(&(parse_int(text, 0, u16::MAX.into())? as u16).to_be_bytes())
        }
        OptionType::Uint32 => {
            out.extend_from_slice(&(parse_int(text, 0, u32::MAX.into())? as u32).to_be_bytes())
        }
        OptionType::Int8 => out.push(parse_int(text, i8::MIN.into(), i8::MAX.into())? as i8 as u8),
        OptionType::Int16 => out.extend_from_slice(
            &(parse_int(text, i16::MIN.into(), i16::MAX.into())? as i16).to_be_bytes(),
        ),
        OptionType::Int32 => out.extend_from_slice(
            &(parse_int(text, i32::MIN.into(), i32::MAX.into())? as i32).to_be_bytes(),
        ),
        OptionType::Ipv4Address => out.extend_from_slice(&parse_ipv4(text)?.octets()),
        OptionType::Ipv6Address => {
            let addr: Ipv6Addr = text
                .parse()
                .map_err(|_| format!("'{text}' is not a valid IPv6 address"))?;
            out.extend_from_slice(&addr.octets());
        }
        OptionType::Ipv6Prefix => write_ipv6_prefix(text, out)?,
        OptionType::Psid => write_psid(text, out)?,
        OptionType::String => {
            if text.is_empty() && !in_record {
                return Err("no option value specified".to_string());
            }
            out.extend_from_slice(text.as_bytes());
        }
        OptionType::Fqdn => write_fqdn(text, out)?,
        OptionType::Binary => out.extend_from_slice(&decode_csv_binary(text)?),
        OptionType::Tuple => write_tuple(text, tuple_length, out)?,
        OptionType::Empty | OptionType::Record | OptionType::Internal => {
            return Err(format!(
                "a {} value cannot be written as a field",
                ty.name()
            ))
        }
    }
    Ok(())
}

/// Kea's boolean conversion: `true`/`false` in any case, or the integers 0 and 1.
fn parse_bool(text: &str) -> Result<bool, String> {
    if text.eq_ignore_ascii_case("true") {
        return Ok(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Ok(false);
    }
    match text.parse::<i64>() {
        Ok(1) => Ok(true),
        Ok(0) => Ok(false),
        _ => Err(format!(
            "unable to convert the value '{text}' to boolean (expected true, false, 1 or 0)"
        )),
    }
}

/// Kea's integer conversion: decimal first, else hexadecimal with an optional `0x`.
fn parse_int(text: &str, min: i64, max: i64) -> Result<i64, String> {
    let value = match text.parse::<i64>() {
        Ok(v) => v,
        Err(_) => {
            let hex = text
                .strip_prefix("0x")
                .or_else(|| text.strip_prefix("0X"))
                .unwrap_or(text);
            i64::from_str_radix(hex, 16)
                .ok()
                .filter(|_| !hex.starts_with(['+', '-']))
                .ok_or_else(|| format!("unable to convert the value '{text}' to an integer"))?
        }
    };
    if value < min || value > max {
        return Err(format!("'{text}' is out of range: expected {min}..{max}"));
    }
    Ok(value)
}

fn parse_ipv4(text: &str) -> Result<Ipv4Addr, String> {
    text.parse()
        .map_err(|_| format!("'{text}' is not a valid IPv4 address"))
}

/// ipv6-prefix: a length byte, then the prefix's significant bytes.
fn write_ipv6_prefix(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let bad = || format!("'{text}' is not a valid IPv6 prefix (expected address/length)");
    let (addr, len) = text.split_once('/').ok_or_else(bad)?;
    let addr: Ipv6Addr = addr.trim().parse().map_err(|_| bad())?;
    let len: u8 = len.trim().parse().map_err(|_| bad())?;
    if len > 128 {
        return Err(format!("prefix length {len} in '{text}' exceeds 128"));
    }
    out.push(len);
    let bytes = usize::from(len).div_ceil(8);
    out.extend(addr.octets().iter().take(bytes));
    Ok(())
}

/// psid (ARM 9.2.10 table 3, RFC 7597): "PSID/length" is written as the length byte followed
/// by the PSID left-aligned in 16 bits.
fn write_psid(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let bad = || format!("'{text}' is not a valid PSID (expected psid/length, e.g. 3/4)");
    let (psid, len) = text.split_once('/').ok_or_else(bad)?;
    let psid: u16 = psid.trim().parse().map_err(|_| bad())?;
    let len: u8 = len.trim().parse().map_err(|_| bad())?;
    if len > 16 {
        return Err(format!("PSID length {len} in '{text}' exceeds 16"));
    }
    if len < 16 && u32::from(psid) >= (1u32 << len) {
        return Err(format!(
            "PSID {psid} in '{text}' does not fit in {len} bits"
        ));
    }
    out.push(len);
    let aligned = if len == 0 { 0 } else { psid << (16 - len) };
    out.extend_from_slice(&aligned.to_be_bytes());
    Ok(())
}

/// fqdn: the uncompressed wire encoding of RFC 1035 3.1 (length-prefixed labels, then a zero).
pub fn write_fqdn(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let name = text.strip_suffix('.').unwrap_or(text);
    let start = out.len();
    if !name.is_empty() {
        for label in name.split('.') {
            if label.is_empty() {
                return Err(format!("'{text}' is not a valid domain name: empty label"));
            }
            if label.len() > 63 {
                return Err(format!(
                    "'{text}' is not a valid domain name: label '{label}' is longer than 63 bytes"
                ));
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    } else if text.is_empty() {
        return Err("empty domain name".to_string());
    }
    out.push(0);
    if out.len() - start > 255 {
        return Err(format!(
            "'{text}' is not a valid domain name: longer than 255 bytes on the wire"
        ));
    }
    Ok(())
}

fn write_tuple(text: &str, width: TupleLength, out: &mut Vec<u8>) -> Result<(), String> {
    let len = text.len();
    match width {
        TupleLength::OneByte => {
            let len = u8::try_from(len)
                .map_err(|_| format!("tuple value is {len} bytes long, more than 255"))?;
            out.push(len);
        }
        TupleLength::TwoBytes => {
            let len = u16::try_from(len)
                .map_err(|_| format!("tuple value is {len} bytes long, more than 65535"))?;
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Option 121 (RFC 3442) as the ARM writes it: "10.229.0.128/25 - 10.229.0.1, ...". Each
/// route is the prefix width, the significant octets of the destination, then the router.
fn encode_classless_routes(data: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let mut routes = 0;
    for route in data.split(',') {
        let route = route.trim();
        if route.is_empty() {
            continue;
        }
        let bad =
            || format!("'{route}' is not a valid static route (expected prefix/length - router)");
        let (prefix, router) = route.split_once('-').ok_or_else(bad)?;
        let (addr, len) = prefix.trim().split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.trim().parse().map_err(|_| bad())?;
        let len: u8 = len.trim().parse().map_err(|_| bad())?;
        if len > 32 {
            return Err(format!("prefix length {len} in '{route}' exceeds 32"));
        }
        let router = parse_ipv4(router.trim())?;
        out.push(len);
        out.extend(addr.octets().iter().take(usize::from(len).div_ceil(8)));
        out.extend_from_slice(&router.octets());
        routes += 1;
    }
    if routes == 0 {
        return Err("no option value specified".to_string());
    }
    Ok(())
}

/// A binary value inside csv data: hex digits, whitespace ignored, an even number of digits
/// and no separators or `0x` (Kea's `decodeHex`; "0x0102" and "ab:cd" are rejected there).
fn decode_csv_binary(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let bad = || format!("'{text}' is not valid hex data (expected an even number of hex digits)");
    if digits.len() & 1 == 1 {
        return Err(bad());
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

/// Hex option data (`csv-format: false`, and binary fields): `0102ab`, `01:02:ab`,
/// `01 02 ab` or `0x0102ab`.
pub fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    corelease_types::parse_hex_bytes(text).ok_or_else(|| format!("'{text}' is not valid hex data"))
}

/// Checks raw (hex) data against the shape of its definition, as Kea does when it builds the
/// option from the buffer ("option buffer truncated").
pub fn check_wire(def: &DefView<'_>, data: &[u8]) -> Result<(), String> {
    let truncated = || {
        format!(
            "{} bytes do not form a valid '{}' option of type {}{}",
            data.len(),
            def.name,
            def.option_type.name(),
            if def.array { " array" } else { "" }
        )
    };
    match def.option_type {
        OptionType::Empty | OptionType::Binary => Ok(()),
        OptionType::Internal => check_classless_routes(data).ok_or_else(truncated),
        OptionType::String => {
            if data.is_empty() {
                Err(truncated())
            } else {
                Ok(())
            }
        }
        OptionType::Fqdn => check_fqdns(data, def.array).ok_or_else(truncated),
        OptionType::Record => {
            let fixed: usize = def.record_types.iter().map_while(|t| t.fixed_size()).sum();
            if data.len() < fixed {
                Err(truncated())
            } else {
                Ok(())
            }
        }
        ty => match ty.fixed_size() {
            Some(size) if def.array => {
                if data.len().checked_rem(size) == Some(0) {
                    Ok(())
                } else {
                    Err(truncated())
                }
            }
            Some(size) => {
                if data.len() >= size {
                    Ok(())
                } else {
                    Err(truncated())
                }
            }
            None => Ok(()),
        },
    }
}

fn check_classless_routes(mut data: &[u8]) -> Option<()> {
    while let Some((&width, rest)) = data.split_first() {
        if width > 32 {
            return None;
        }
        let need = usize::from(width).div_ceil(8) + 4;
        data = rest.get(need..)?;
    }
    Some(())
}

fn check_fqdns(mut data: &[u8], array: bool) -> Option<()> {
    loop {
        // One name: labels until the zero byte.
        loop {
            let (&len, rest) = data.split_first()?;
            if len == 0 {
                data = rest;
                break;
            }
            if len > 63 {
                return None;
            }
            data = rest.get(usize::from(len)..)?;
        }
        if data.is_empty() {
            return Some(());
        }
        if !array {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::defs::{std_option_def, std_option_def_by_name, DefView, OptionType};

    fn custom(ty: OptionType, array: bool, record: &'static [OptionType]) -> DefView<'static> {
        DefView {
            name: "test",
            code: 222,
            space: "dhcp4",
            option_type: ty,
            array,
            record_types: record,
            encapsulate: "",
            tuple_length: TupleLength::OneByte,
        }
    }

    fn enc(ty: OptionType, array: bool, data: &str) -> Result<Vec<u8>, String> {
        encode_csv(&custom(ty, array, &[]), data)
    }

    #[test]
    fn csv_split_honours_escaped_commas_and_drops_empty_values() {
        assert_eq!(split_csv("a, b ,,c"), vec!["a", "b", "c"]);
        assert_eq!(split_csv(",a"), vec!["a"]);
        assert_eq!(split_csv("true, "), vec!["true", ""]);
        assert_eq!(split_csv("foo\\,bar"), vec!["foo,bar"]);
        assert_eq!(split_csv("x\\\\y"), vec!["x\\y"]);
        assert!(split_csv("").is_empty());
    }

    #[test]
    fn ipv4_address_and_array() {
        assert_eq!(
            enc(OptionType::Ipv4Address, false, "192.0.2.1").unwrap(),
            [192, 0, 2, 1]
        );
        assert_eq!(
            enc(OptionType::Ipv4Address, true, "192.0.2.1, 10.0.0.2").unwrap(),
            [192, 0, 2, 1, 10, 0, 0, 2]
        );
        assert_eq!(
            enc(OptionType::Ipv4Address, false, "192.0.2.300").unwrap_err(),
            "'192.0.2.300' is not a valid IPv4 address"
        );
        // A non-array option keeps the first value, as Kea does.
        assert_eq!(
            enc(OptionType::Ipv4Address, false, "1.2.3.4, 5.6.7.8").unwrap(),
            [1, 2, 3, 4]
        );
    }

    #[test]
    fn unsigned_integers_accept_decimal_and_hex() {
        assert_eq!(enc(OptionType::Uint8, false, "255").unwrap(), [255]);
        assert_eq!(enc(OptionType::Uint8, false, "0x10").unwrap(), [16]);
        assert_eq!(enc(OptionType::Uint8, false, "ff").unwrap(), [255]);
        assert_eq!(
            enc(OptionType::Uint16, false, "1500").unwrap(),
            [0x05, 0xdc]
        );
        assert_eq!(
            enc(OptionType::Uint32, false, "86400").unwrap(),
            [0, 1, 0x51, 0x80]
        );
        assert_eq!(
            enc(OptionType::Uint8, false, "256").unwrap_err(),
            "'256' is out of range: expected 0..255"
        );
        assert_eq!(
            enc(OptionType::Uint16, false, "-1").unwrap_err(),
            "'-1' is out of range: expected 0..65535"
        );
        assert_eq!(
            enc(OptionType::Uint32, false, "zz").unwrap_err(),
            "unable to convert the value 'zz' to an integer"
        );
    }

    #[test]
    fn signed_integers_are_twos_complement_big_endian() {
        assert_eq!(enc(OptionType::Int8, false, "-1").unwrap(), [0xff]);
        assert_eq!(enc(OptionType::Int16, false, "-2").unwrap(), [0xff, 0xfe]);
        assert_eq!(
            enc(OptionType::Int32, false, "-3600").unwrap(),
            [0xff, 0xff, 0xf1, 0xf0]
        );
        assert!(enc(OptionType::Int8, false, "128").is_err());
    }

    #[test]
    fn booleans_accept_words_and_digits_only() {
        assert_eq!(enc(OptionType::Boolean, false, "true").unwrap(), [1]);
        assert_eq!(enc(OptionType::Boolean, false, "FALSE").unwrap(), [0]);
        assert_eq!(enc(OptionType::Boolean, false, "1").unwrap(), [1]);
        assert_eq!(
            enc(OptionType::Boolean, false, "yes").unwrap_err(),
            "unable to convert the value 'yes' to boolean (expected true, false, 1 or 0)"
        );
    }

    #[test]
    fn strings_are_raw_bytes_and_must_not_be_empty() {
        assert_eq!(
            enc(OptionType::String, false, "example.org").unwrap(),
            b"example.org"
        );
        assert_eq!(
            enc(OptionType::String, false, "foo\\,bar").unwrap(),
            b"foo,bar"
        );
        assert_eq!(
            enc(OptionType::String, false, "").unwrap_err(),
            "no option value specified"
        );
    }

    #[test]
    fn fqdn_uses_uncompressed_labels() {
        assert_eq!(
            enc(OptionType::Fqdn, false, "example.com.").unwrap(),
            b"\x07example\x03com\x00"
        );
        assert_eq!(
            enc(OptionType::Fqdn, true, "a.b, c").unwrap(),
            b"\x01a\x01b\x00\x01c\x00"
        );
        assert_eq!(
            enc(OptionType::Fqdn, false, "a..b").unwrap_err(),
            "'a..b' is not a valid domain name: empty label"
        );
        let long = "x".repeat(64);
        assert!(enc(OptionType::Fqdn, false, &long).is_err());
    }

    #[test]
    fn binary_csv_values_are_plain_hex() {
        assert_eq!(
            enc(OptionType::Binary, false, "0a0B0c").unwrap(),
            [10, 11, 12]
        );
        assert_eq!(
            enc(OptionType::Binary, false, "0a 0b0 c").unwrap(),
            [10, 11, 12]
        );
        assert_eq!(
            enc(OptionType::Binary, false, "").unwrap(),
            Vec::<u8>::new()
        );
        // Kea 2.2 rejects these in csv data (they are fine as csv-format false data).
        for bad in ["0x0a0b", "0a:0b", "abc", "xyz"] {
            assert_eq!(
                enc(OptionType::Binary, false, bad).unwrap_err(),
                format!("'{bad}' is not valid hex data (expected an even number of hex digits)")
            );
        }
        assert_eq!(decode_hex("0x0a0b").unwrap(), [10, 11]);
        assert_eq!(decode_hex("0a:0b").unwrap(), [10, 11]);
        assert_eq!(decode_hex("abc").unwrap(), [10, 188]);
    }

    #[test]
    fn empty_type_takes_no_data() {
        assert_eq!(enc(OptionType::Empty, false, "").unwrap(), Vec::<u8>::new());
        assert!(enc(OptionType::Empty, false, "1").is_err());
    }

    #[test]
    fn ipv6_address_and_prefix() {
        assert_eq!(
            enc(OptionType::Ipv6Address, false, "2001:db8::1").unwrap(),
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        );
        assert_eq!(
            enc(OptionType::Ipv6Prefix, false, "2001:db8:1::/48").unwrap(),
            [48, 0x20, 0x01, 0x0d, 0xb8, 0, 1]
        );
        assert_eq!(
            enc(OptionType::Ipv6Prefix, false, "2001:db8::/0").unwrap(),
            [0]
        );
        assert!(enc(OptionType::Ipv6Prefix, false, "2001:db8::/129").is_err());
    }

    #[test]
    fn psid_is_length_then_left_aligned_value() {
        // ARM 9.2.10 table 3: 3/4 is length 4 and PSID 0011 followed by zeros.
        assert_eq!(
            enc(OptionType::Psid, false, "3/4").unwrap(),
            [4, 0x30, 0x00]
        );
        assert_eq!(enc(OptionType::Psid, false, "0/0").unwrap(), [0, 0, 0]);
        assert_eq!(
            enc(OptionType::Psid, false, "65535/16").unwrap(),
            [16, 0xff, 0xff]
        );
        assert_eq!(
            enc(OptionType::Psid, false, "16/4").unwrap_err(),
            "PSID 16 in '16/4' does not fit in 4 bits"
        );
    }

    #[test]
    fn tuples_carry_their_length() {
        assert_eq!(enc(OptionType::Tuple, false, "abc").unwrap(), b"\x03abc");
        let sztp = std_option_def(143).unwrap().view();
        assert_eq!(
            encode_csv(&sztp, "https://a, https://bc").unwrap(),
            b"\x00\x09https://a\x00\x0ahttps://bc"
        );
    }

    #[test]
    fn records_write_each_field_and_repeat_the_last_for_arrays() {
        let ndi = std_option_def_by_name("client-ndi").unwrap().view();
        assert_eq!(encode_csv(&ndi, "1, 2, 3").unwrap(), [1, 2, 3]);
        assert_eq!(
            encode_csv(&ndi, "1, 2").unwrap_err(),
            "the record has 3 fields (uint8, uint8, uint8) but only 2 values are given"
        );
        let custom_rec = custom(
            OptionType::Record,
            true,
            &[OptionType::Ipv4Address, OptionType::Uint16],
        );
        assert_eq!(
            encode_csv(&custom_rec, "10.0.0.1, 1, 2").unwrap(),
            [10, 0, 0, 1, 0, 1, 0, 2]
        );
        let portparams = std_option_def_by_name("v4-portparams").unwrap().view();
        assert_eq!(encode_csv(&portparams, "2, 3/4").unwrap(), [2, 4, 0x30, 0]);
        let rdnss = std_option_def_by_name("rdnss-selection").unwrap().view();
        assert_eq!(
            encode_csv(&rdnss, "1, 192.0.2.1, 192.0.2.2, a.b").unwrap(),
            b"\x01\xc0\x00\x02\x01\xc0\x00\x02\x02\x01a\x01b\x00"
        );
    }

    #[test]
    fn classless_static_routes_use_rfc3442_significant_octets() {
        let csr = std_option_def(121).unwrap().view();
        assert_eq!(
            encode_csv(&csr, "10.229.0.128/25 - 10.229.0.1, 10.198.122.47/32 - 10.198.122.1, 0.0.0.0/0 - 10.0.0.1")
                .unwrap(),
            [
                25, 10, 229, 0, 128, 10, 229, 0, 1, //
                32, 10, 198, 122, 47, 10, 198, 122, 1, //
                0, 10, 0, 0, 1
            ]
        );
        assert!(encode_csv(&csr, "10.0.0.0/8").is_err());
        assert!(check_wire(&csr, &[25, 10, 229, 0, 128, 10, 229, 0, 1]).is_ok());
        assert!(check_wire(&csr, &[25, 10, 229, 0, 128, 10]).is_err());
    }

    #[test]
    fn empty_csv_data_is_fine_for_arrays_but_not_for_scalars() {
        assert_eq!(
            enc(OptionType::Ipv4Address, true, "").unwrap(),
            Vec::<u8>::new()
        );
        assert_eq!(
            enc(OptionType::Uint8, false, "").unwrap_err(),
            "no option value specified"
        );
    }

    #[test]
    fn raw_data_is_checked_against_fixed_sizes() {
        let swap = std_option_def(16).unwrap().view();
        assert!(check_wire(&swap, &[1, 2, 3]).is_err());
        assert!(check_wire(&swap, &[1, 2, 3, 4]).is_ok());
        let routers = std_option_def(3).unwrap().view();
        assert!(check_wire(&routers, &[1, 2, 3, 4, 5]).is_err());
        assert!(check_wire(&routers, &[1, 2, 3, 4, 5, 6, 7, 8]).is_ok());
        let search = std_option_def(119).unwrap().view();
        assert!(check_wire(&search, b"\x01a\x00\x01b\x00").is_ok());
        assert!(check_wire(&search, b"\x01a").is_err());
    }
}
