//! Dhcp6 host reservations (ARM 10.3) and client classes (ARM chapter 16). The identifier
//! text, class-list and class-test checks are the Dhcp4 parser's; what differs is the set of
//! identifier types, the plural `ip-addresses` / `prefixes`, and the lifetimes of a class.

use super::*;

/// `host-reservation-identifiers` of Dhcp6: hw-address, duid and flex-id (flex-id matches
/// through the flex_id library's expression, ARM 17.9). Kea's DHCPv6 default order when
/// absent: hw-address, duid.
pub(super) fn parse_identifier_types6(
    f: &mut Findings,
    map: &Map<String, Value>,
    path: &str,
) -> Vec<HostIdentifierType> {
    let Some(list) = f.list_at(map, "host-reservation-identifiers", path) else {
        return vec![HostIdentifierType::HwAddress, HostIdentifierType::Duid];
    };
    let mut types = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let p = format!("{path}.host-reservation-identifiers[{i}]");
        match v.as_str().map(|s| (s, HostIdentifierType::from_key(s))) {
            Some((
                _,
                Some(
                    t @ (HostIdentifierType::HwAddress
                    | HostIdentifierType::Duid
                    | HostIdentifierType::FlexId),
                ),
            )) => {
                if types.contains(&t) {
                    f.error(p, format!("'{}' is listed twice", t.key()));
                } else {
                    types.push(t);
                }
            }
            Some((s, _)) => f.error(
                p,
                format!("'{s}' is not a DHCPv6 host identifier type (expected hw-address, duid or flex-id)"),
            ),
            None => f.error(p, format!("expected a string, found {}", json_type(v))),
        }
    }
    types
}

/// The identifier kinds a Dhcp6 reservation may carry.
const IDENTIFIERS6: [HostIdentifierType; 3] = [
    HostIdentifierType::HwAddress,
    HostIdentifierType::Duid,
    HostIdentifierType::FlexId,
];

/// What reservations of one scope must not repeat (Kea: an identifier once per subnet, an
/// address or prefix once when ip-reservations-unique is true).
#[derive(Default)]
pub(super) struct Seen6 {
    ids: HashMap<HostIdentifier, String>,
    values: HashMap<(u128, u8), String>,
}

/// Reservations of one subnet (`subnet` is its prefix) or the global ones (`None`).
pub(super) fn parse_reservations6(
    f: &mut Findings,
    list: &[Value],
    path: &str,
    subnet: Option<(Ipv6Addr, u8)>,
    ip_unique: bool,
    defs: &[OptionDef6],
) -> Vec<Reservation6> {
    let mut out = Vec::new();
    let mut seen = Seen6::default();
    for (i, item) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if let Some(r) = parse_reservation6(f, item, &p, subnet, ip_unique, defs, &mut seen) {
            out.push(r);
        }
    }
    out
}

fn parse_reservation6(
    f: &mut Findings,
    item: &Value,
    p: &str,
    subnet: Option<(Ipv6Addr, u8)>,
    ip_unique: bool,
    defs: &[OptionDef6],
    seen: &mut Seen6,
) -> Option<Reservation6> {
    let map = as_map(f, item, p)?;
    f.check_keys(map, p, Scope::Reservation6);
    let present: Vec<HostIdentifierType> = IDENTIFIERS6
        .into_iter()
        .filter(|t| map.contains_key(t.key()))
        .collect();
    let kind = match present.as_slice() {
        [one] => Some(*one),
        [] => {
            f.error(p, "one identifier is needed: duid, hw-address or flex-id");
            None
        }
        [first, second, ..] => {
            // ARM 10.3: "defining both for the same host is considered a configuration error".
            f.error(
                p,
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
        let text = f.str_at(map, kind.key(), p)?;
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
        match seen.ids.get(id) {
            Some(first) => f.error(
                key_path,
                format!("this {} is already reserved by {first}", id.kind.key()),
            ),
            None => {
                seen.ids.insert(id.clone(), p.to_string());
            }
        }
    }
    let mut unique = |f: &mut Findings, value: u128, len: u8, at: String| -> bool {
        if !ip_unique {
            return true;
        }
        match seen.values.get(&(value, len)) {
            Some(first) => {
                f.error(at, format!("already reserved by {first}"));
                false
            }
            None => {
                seen.values.insert((value, len), p.to_string());
                true
            }
        }
    };
    let mut ip_addresses = Vec::new();
    for (j, text) in string_items(f, map, "ip-addresses", p) {
        let ip_path = format!("{p}.ip-addresses[{j}]");
        let Ok(addr) = text.parse::<Ipv6Addr>() else {
            f.error(ip_path, format!("'{text}' is not a valid IPv6 address"));
            continue;
        };
        if addr.is_unspecified() || addr.is_multicast() {
            f.error(ip_path, format!("{addr} cannot be reserved"));
            continue;
        }
        if let Some((prefix, len)) = subnet {
            // ARM 10.3 note: "The reserved address must be within the subnet."
            if !prefix6_contains(prefix, len, addr) {
                f.error(ip_path, format!("{addr} is outside subnet {prefix}/{len}"));
                continue;
            }
        }
        if unique(f, u128::from(addr), 128, ip_path) {
            ip_addresses.push(addr);
        }
    }
    // ARM 10.3 (Kea 2.7.3+): excluded-prefixes, when present, has one entry per prefix,
    // each "" or a longer prefix inside the prefix at the same position.
    let excluded_texts = string_items(f, map, "excluded-prefixes", p);
    let prefix_count = map
        .get("prefixes")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if !excluded_texts.is_empty() && excluded_texts.len() != prefix_count {
        f.error(
            format!("{p}.excluded-prefixes"),
            format!(
                "has {} entries; prefixes has {prefix_count} (one excluded prefix, or \"\", per prefix)",
                excluded_texts.len()
            ),
        );
    }
    let mut prefixes = Vec::new();
    let mut excluded_prefixes = Vec::new();
    for (j, text) in string_items(f, map, "prefixes", p) {
        let pp = format!("{p}.prefixes[{j}]");
        let (prefix, len) = match parse_prefix6(&text) {
            Ok(x) => x,
            Err(m) => {
                f.error(pp, m);
                continue;
            }
        };
        if len == 0 {
            f.error(pp, format!("{text}: a reserved prefix needs a length"));
            continue;
        }
        if u128::from(prefix) & !prefix6_mask(len) != 0 {
            // Kea 2.2 accepts it and hands it out as written; so does corelease, but says so.
            f.warn(
                pp.clone(),
                format!("{text} has bits set beyond its length; it is delegated as written"),
            );
        }
        let excluded = match excluded_texts.iter().find(|(k, _)| *k == j) {
            None => None,
            Some((_, t)) if t.is_empty() => None,
            Some((_, t)) => {
                let ep = format!("{p}.excluded-prefixes[{j}]");
                match parse_prefix6(t) {
                    Ok((ex, ex_len))
                        if ex_len > len
                            && prefix6_contains(prefix, len, ex)
                            && u128::from(ex) & !prefix6_mask(ex_len) == 0 =>
                    {
                        Some((ex, ex_len))
                    }
                    Ok(_) => {
                        f.error(
                            ep,
                            format!("{t} is not a prefix longer than {text} inside it (RFC 6603)"),
                        );
                        continue;
                    }
                    Err(m) => {
                        f.error(ep, m);
                        continue;
                    }
                }
            }
        };
        if unique(f, u128::from(prefix), len, pp) {
            prefixes.push((prefix, len));
            excluded_prefixes.push(excluded);
        }
    }
    let client_classes = string_items(f, map, "client-classes", p)
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let options = parse_option_data6(f, map.get("option-data"), &format!("{p}.option-data"), defs);
    let hostname = f.str_at(map, "hostname", p).map(str::to_string);
    Some(Reservation6 {
        identifier: identifier?,
        ip_addresses,
        prefixes,
        excluded_prefixes,
        hostname,
        client_classes,
        options,
        user_context: user_context(map),
    })
}

/// The strings of a list key, with their index; a non-string entry is an error.
fn string_items(
    f: &mut Findings,
    map: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Vec<(usize, String)> {
    let Some(list) = f.list_at(map, key, path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        match v.as_str() {
            Some(s) => out.push((i, s.to_string())),
            None => f.error(
                format!("{path}.{key}[{i}]"),
                format!("expected a string, found {}", json_type(v)),
            ),
        }
    }
    out
}

/// The code of a DHCPv6 option named in an expression: the standard names, then the
/// `option-def` entries of the dhcp6 space (ARM 16.3 `option[name]`).
pub fn option6_code_by_name(name: &str, defs: &[OptionDef6]) -> Option<u16> {
    std_option6_def_by_name(name).map(|d| d.code).or_else(|| {
        defs.iter()
            .find(|d| d.space == DHCP6_SPACE && d.name == name)
            .map(|d| d.code)
    })
}

/// Dhcp6 `client-classes` (ARM 16.4): names unique, tests compiled for DHCPv6 with no forward
/// `member()` references, option data encoded, lifetimes as triplets.
pub(super) fn parse_client_classes6(
    f: &mut Findings,
    list: &[Value],
    path: &str,
    defs: &[OptionDef6],
) -> Vec<ClientClass6> {
    let mut classes = Vec::new();
    let mut names: HashMap<String, String> = HashMap::new();
    for (i, item) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(map) = as_map(f, item, &p) else {
            continue;
        };
        f.check_keys(map, &p, Scope::ClientClass6);
        let name = match f.str_at(map, "name", &p) {
            Some("") => {
                f.error(format!("{p}.name"), "must not be empty");
                None
            }
            Some(n) => Some(n.to_string()),
            None => {
                if !map.contains_key("name") {
                    f.error(p.clone(), "mandatory 'name' parameter is missing");
                }
                None
            }
        };
        let test = f.str_at(map, "test", &p).map(str::to_string);
        let template_test = f.str_at(map, "template-test", &p).map(str::to_string);
        let resolve = |n: &str| option6_code_by_name(n, defs);
        if test.is_some() && template_test.is_some() {
            // ARM 16.4 note: test and template-test are mutually exclusive.
            f.error(
                format!("{p}.template-test"),
                "'test' and 'template-test' are mutually exclusive",
            );
        }
        if let Some(expr) = &template_test {
            check_template_test_with(
                f,
                expr,
                &format!("{p}.template-test"),
                &names,
                corelease_classify::Universe::V6,
                &resolve,
            );
        }
        if let Some(expr) = &test {
            check_class_test_with(
                f,
                expr,
                &format!("{p}.test"),
                &names,
                corelease_classify::Universe::V6,
                &resolve,
            );
        }
        if let Some(n) = &name {
            if let Some(first) = names.get(n) {
                f.error(
                    format!("{p}.name"),
                    format!("client class '{n}' is already defined at {first}"),
                );
            } else {
                names.insert(n.clone(), p.clone());
            }
        }
        let own = parse_params6(f, map, &p);
        let class_triplet = |f: &mut Findings, what: &str, v: [Option<u32>; 3], default| {
            if v.iter().all(Option::is_none) {
                return None;
            }
            match triplet(what, v[0], v[1], v[2], default) {
                Ok(l) => Some(l),
                Err(m) => {
                    f.error(format!("{p}.{what}-lifetime"), m);
                    None
                }
            }
        };
        let preferred = class_triplet(
            f,
            "preferred",
            [own.min_preferred, own.preferred, own.max_preferred],
            DEFAULT_PREFERRED_LIFETIME6,
        );
        let valid = class_triplet(
            f,
            "valid",
            [own.min_valid, own.valid, own.max_valid],
            DEFAULT_VALID_LIFETIME6,
        );
        let only_in_additional_list = f
            .bool_at(map, "only-in-additional-list", &p)
            .or(f.bool_at(map, "only-if-required", &p))
            .unwrap_or(false);
        let options =
            parse_option_data6(f, map.get("option-data"), &format!("{p}.option-data"), defs);
        if let Some(name) = name {
            if template_test.is_some() && only_in_additional_list {
                f.unsupported.push(PathIssue::new(
                    format!("{p}.template-test"),
                    "a template class evaluated only in additional lists is not supported yet",
                ));
            }
            classes.push(ClientClass6 {
                name,
                test,
                template_test,
                only_in_additional_list,
                options,
                preferred,
                valid,
                user_context: user_context(map),
            });
        }
    }
    classes
}
