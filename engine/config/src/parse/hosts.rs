//! Host reservations (ARM 9.3) and the identifier types they are looked up by.

use super::*;

/// `host-reservation-identifiers` (Kea's default order for DHCPv4 when absent).
pub(super) fn parse_identifier_types(
    f: &mut Findings,
    map: &Map<String, Value>,
    path: &str,
) -> Vec<HostIdentifierType> {
    let Some(list) = f.list_at(map, "host-reservation-identifiers", path) else {
        return vec![
            HostIdentifierType::HwAddress,
            HostIdentifierType::Duid,
            HostIdentifierType::CircuitId,
            HostIdentifierType::ClientId,
        ];
    };
    let mut types = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let p = format!("{path}.host-reservation-identifiers[{i}]");
        match v.as_str().map(|s| (s, HostIdentifierType::from_key(s))) {
            Some((_, Some(t))) => types.push(t),
            Some((s, None)) => f.error(
                p,
                format!("'{s}' is not a host identifier type (expected hw-address, duid, circuit-id, client-id or flex-id)"),
            ),
            None => f.error(p, format!("expected a string, found {}", json_type(v))),
        }
    }
    types
}

/// Kea's host identifier text: 'quoted text' (not for hw-address), or hex as `01:02:0a`,
/// `01 02 0a` or `01020a` / `0x01020a` (Kea's `decodeFormattedHexString`).
pub(super) fn parse_identifier(kind: HostIdentifierType, text: &str) -> Result<Vec<u8>, String> {
    if kind != HostIdentifierType::HwAddress
        && text.len() >= 2
        && text.starts_with('\'')
        && text.ends_with('\'')
    {
        let inner = &text[1..text.len() - 1];
        return if inner.is_empty() {
            Err("empty host identifier".to_string())
        } else {
            Ok(inner.as_bytes().to_vec())
        };
    }
    let bad = || format!("'{text}' is not a valid {} value", kind.key());
    let bytes: Vec<u8> = if let Some(sep) = [':', ' '].into_iter().find(|c| text.contains(*c)) {
        text.split(sep)
            .map(|g| {
                if g.is_empty() || g.len() > 2 {
                    None
                } else {
                    u8::from_str_radix(g, 16).ok()
                }
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(bad)?
    } else {
        let plain = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        let padded = if plain.len() % 2 == 1 {
            format!("0{plain}")
        } else {
            plain.to_string()
        };
        (0..padded.len())
            .step_by(2)
            .map(|i| {
                padded
                    .get(i..i + 2)
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(bad)?
    };
    if bytes.is_empty() {
        return Err("empty host identifier".to_string());
    }
    if kind == HostIdentifierType::HwAddress && bytes.len() > corelease_types::MAX_HWADDR_LEN {
        return Err(format!(
            "hardware address is {} bytes long, more than {}",
            bytes.len(),
            corelease_types::MAX_HWADDR_LEN
        ));
    }
    Ok(bytes)
}

/// Host reservations of one subnet (`subnet` is its prefix) or the global ones (`None`),
/// checked as Kea does: one identifier each, address inside the subnet and not 0.0.0.0, no
/// identifier reserved twice, and no address twice when `ip-reservations-unique`.
pub(super) fn parse_reservations(
    f: &mut Findings,
    list: &[Value],
    path: &str,
    subnet: Option<(Ipv4Addr, u8)>,
    option_defs: &[OptionDef],
    ip_unique: bool,
) -> Vec<Reservation4> {
    let mut out = Vec::new();
    let mut seen_ids: HashMap<HostIdentifier, String> = HashMap::new();
    let mut seen_ips: HashMap<Ipv4Addr, String> = HashMap::new();
    for (i, item) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(map) = as_map(f, item, &p) else {
            continue;
        };
        f.check_keys(map, &p, Scope::Reservation4);
        let present: Vec<HostIdentifierType> = HostIdentifierType::ALL
            .into_iter()
            .filter(|t| map.contains_key(t.key()))
            .collect();
        let kind = match present.as_slice() {
            [one] => Some(*one),
            [] => {
                f.error(
                    p.clone(),
                    "one identifier is needed: hw-address, duid, circuit-id, client-id or flex-id",
                );
                None
            }
            [first, second, ..] => {
                f.error(
                    p.clone(),
                    format!(
                        "'{}' and '{}' are mutually exclusive",
                        first.key(),
                        second.key()
                    ),
                );
                None
            }
        };
        let identifier = kind.and_then(|kind| {
            let text = f.str_at(map, kind.key(), &p)?;
            match parse_identifier(kind, text) {
                Ok(bytes) => Some(HostIdentifier { kind, bytes }),
                Err(message) => {
                    f.error(format!("{p}.{}", kind.key()), message);
                    None
                }
            }
        });
        if let Some(id) = &identifier {
            let key_path = format!("{p}.{}", id.kind.key());
            if let Some(first) = seen_ids.get(id) {
                f.error(
                    key_path,
                    format!("this {} is already reserved by {first}", id.kind.key()),
                );
            } else {
                seen_ids.insert(id.clone(), p.clone());
            }
        }
        let ip_address = f.str_at(map, "ip-address", &p).and_then(|text| {
            let ip_path = format!("{p}.ip-address");
            let Ok(addr) = text.parse::<Ipv4Addr>() else {
                f.error(ip_path, format!("'{text}' is not a valid IPv4 address"));
                return None;
            };
            if addr.is_unspecified() {
                f.error(ip_path, "must not reserve the 0.0.0.0 address");
                return None;
            }
            if let Some((prefix, len)) = subnet {
                if u32::from(addr) & prefix_mask(len) != u32::from(prefix) {
                    f.error(ip_path, format!("{addr} is outside subnet {prefix}/{len}"));
                    return None;
                }
            }
            if ip_unique {
                if let Some(first) = seen_ips.get(&addr) {
                    f.error(ip_path, format!("{addr} is already reserved by {first}"));
                    return None;
                }
                seen_ips.insert(addr, p.clone());
            }
            Some(addr)
        });
        let params = parse_params(f, map, &p);
        let client_classes = f
            .list_at(map, "client-classes", &p)
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let options = parse_option_data(
            f,
            map.get("option-data"),
            &format!("{p}.option-data"),
            option_defs,
        );
        let hostname = f.str_at(map, "hostname", &p).map(str::to_string);
        if let Some(identifier) = identifier {
            out.push(Reservation4 {
                identifier,
                ip_address,
                hostname,
                next_server: params.next_server,
                server_hostname: params.server_hostname,
                boot_file_name: params.boot_file_name,
                client_classes,
                options,
                user_context: user_context(map),
            });
        }
    }
    out
}
