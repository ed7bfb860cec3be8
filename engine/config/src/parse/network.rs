//! Subnets, shared networks and pools, with the parameters they inherit (global -> shared
//! network -> subnet) and the timer checks that go with them.

use super::*;

/// Parameters inherited global -> shared network -> subnet (ARM 9.4.x, Kea's
/// `INHERIT_TO_SUBNET4` and the Network4 fetchers).
#[derive(Clone, Debug, Default)]
pub(super) struct Params {
    pub(super) valid: Option<u32>,
    pub(super) min_valid: Option<u32>,
    pub(super) max_valid: Option<u32>,
    pub(super) renew: Option<u32>,
    pub(super) rebind: Option<u32>,
    pub(super) calculate_tee_times: Option<bool>,
    t1_percent: Option<f64>,
    t2_percent: Option<f64>,
    pub(super) match_client_id: Option<bool>,
    pub(super) authoritative: Option<bool>,
    pub(super) next_server: Option<Ipv4Addr>,
    pub(super) server_hostname: Option<String>,
    pub(super) boot_file_name: Option<String>,
    pub(super) reservations_global: Option<bool>,
    pub(super) reservations_in_subnet: Option<bool>,
    pub(super) reservations_out_of_pool: Option<bool>,
    pub(super) allocator: Option<Allocator>,
    pub(super) offer_lifetime: Option<u32>,
    pub(super) cache_threshold: Option<f64>,
    pub(super) cache_max_age: Option<u32>,
    pub(super) store_extended_info: Option<bool>,
}

impl Params {
    fn or(&self, parent: &Params) -> Params {
        Params {
            valid: self.valid.or(parent.valid),
            min_valid: self.min_valid.or(parent.min_valid),
            max_valid: self.max_valid.or(parent.max_valid),
            renew: self.renew.or(parent.renew),
            rebind: self.rebind.or(parent.rebind),
            calculate_tee_times: self.calculate_tee_times.or(parent.calculate_tee_times),
            t1_percent: self.t1_percent.or(parent.t1_percent),
            t2_percent: self.t2_percent.or(parent.t2_percent),
            match_client_id: self.match_client_id.or(parent.match_client_id),
            authoritative: self.authoritative.or(parent.authoritative),
            next_server: self.next_server.or(parent.next_server),
            server_hostname: self
                .server_hostname
                .clone()
                .or_else(|| parent.server_hostname.clone()),
            boot_file_name: self
                .boot_file_name
                .clone()
                .or_else(|| parent.boot_file_name.clone()),
            reservations_global: self.reservations_global.or(parent.reservations_global),
            reservations_in_subnet: self
                .reservations_in_subnet
                .or(parent.reservations_in_subnet),
            reservations_out_of_pool: self
                .reservations_out_of_pool
                .or(parent.reservations_out_of_pool),
            allocator: self.allocator.or(parent.allocator),
            offer_lifetime: self.offer_lifetime.or(parent.offer_lifetime),
            cache_threshold: self.cache_threshold.or(parent.cache_threshold),
            cache_max_age: self.cache_max_age.or(parent.cache_max_age),
            store_extended_info: self.store_extended_info.or(parent.store_extended_info),
        }
    }

    pub(super) fn sets_lifetime(&self) -> bool {
        self.valid.is_some() || self.min_valid.is_some() || self.max_valid.is_some()
    }

    fn sets_timers(&self) -> bool {
        self.sets_lifetime() || self.renew.is_some() || self.rebind.is_some()
    }

    fn sets_tee(&self) -> bool {
        self.calculate_tee_times.is_some() || self.t1_percent.is_some() || self.t2_percent.is_some()
    }
}

pub(super) fn parse_params(f: &mut Findings, map: &Map<String, Value>, path: &str) -> Params {
    let next_server = f.str_at(map, "next-server", path).and_then(|s| {
        if s.is_empty() {
            return Some(Ipv4Addr::UNSPECIFIED);
        }
        match s.parse::<Ipv4Addr>() {
            Ok(a) => Some(a),
            Err(_) => {
                f.error(
                    format!("{path}.next-server"),
                    format!("'{s}' is not a valid IPv4 address"),
                );
                None
            }
        }
    });
    let server_hostname = f.str_at(map, "server-hostname", path).map(str::to_string);
    if let Some(s) = &server_hostname {
        if s.len() >= SNAME_LEN {
            f.error(
                format!("{path}.server-hostname"),
                format!(
                    "is {} bytes long; the sname field holds at most {} bytes",
                    s.len(),
                    SNAME_LEN - 1
                ),
            );
        }
    }
    let boot_file_name = f.str_at(map, "boot-file-name", path).map(str::to_string);
    if let Some(s) = &boot_file_name {
        // Kea accepts the full 128 bytes here (a name without a terminating NUL).
        if s.len() > FILE_LEN {
            f.error(
                format!("{path}.boot-file-name"),
                format!(
                    "is {} bytes long; the file field holds at most {FILE_LEN} bytes",
                    s.len()
                ),
            );
        }
    }
    Params {
        valid: f.u32_at(map, "valid-lifetime", path),
        min_valid: f.u32_at(map, "min-valid-lifetime", path),
        max_valid: f.u32_at(map, "max-valid-lifetime", path),
        renew: f.u32_at(map, "renew-timer", path),
        rebind: f.u32_at(map, "rebind-timer", path),
        calculate_tee_times: f.bool_at(map, "calculate-tee-times", path),
        t1_percent: f.real_at(map, "t1-percent", path),
        t2_percent: f.real_at(map, "t2-percent", path),
        match_client_id: f.bool_at(map, "match-client-id", path),
        authoritative: f.bool_at(map, "authoritative", path),
        next_server,
        server_hostname,
        boot_file_name,
        reservations_global: f.bool_at(map, "reservations-global", path),
        reservations_in_subnet: f.bool_at(map, "reservations-in-subnet", path),
        reservations_out_of_pool: f.bool_at(map, "reservations-out-of-pool", path),
        allocator: f.str_at(map, "allocator", path).and_then(|a| match a {
            "iterative" => Some(Allocator::Iterative),
            "random" => Some(Allocator::Random),
            "flq" => Some(Allocator::FreeLeaseQueue),
            other => {
                f.error(
                    format!("{path}.allocator"),
                    format!("'{other}' is not an allocator (expected iterative, random or flq)"),
                );
                None
            }
        }),
        offer_lifetime: f.u32_at(map, "offer-lifetime", path),
        cache_threshold: f.real_at(map, "cache-threshold", path),
        cache_max_age: f.u32_at(map, "cache-max-age", path),
        store_extended_info: f.bool_at(map, "store-extended-info", path),
    }
}

/// Kea's `parseIntTriplet`: a missing bound takes the default, a missing default takes the
/// bound, and min <= default <= max must hold.
pub(super) fn lifetime_triplet(p: &Params) -> Result<Lifetime, String> {
    let value = p.valid;
    let (min, default, max) = match (p.min_valid, value, p.max_valid) {
        (None, None, None) => (
            DEFAULT_VALID_LIFETIME,
            DEFAULT_VALID_LIFETIME,
            DEFAULT_VALID_LIFETIME,
        ),
        (min, Some(v), max) => (min.unwrap_or(v), v, max.unwrap_or(v)),
        (Some(min), None, None) => (min, min, min),
        (None, None, Some(max)) => (max, max, max),
        (Some(_), None, Some(_)) => {
            return Err(
                "min-valid-lifetime and max-valid-lifetime are set but valid-lifetime (the default) is not"
                    .to_string(),
            )
        }
    };
    // Report the bounds the configuration actually set, as Kea's parseIntTriplet does.
    if p.min_valid.is_some() && p.max_valid.is_some() && min > max {
        return Err(format!(
            "min-valid-lifetime ({min}) is greater than max-valid-lifetime ({max})"
        ));
    }
    if default < min {
        return Err(format!(
            "valid-lifetime ({default}) is less than min-valid-lifetime ({min})"
        ));
    }
    if default > max {
        return Err(format!(
            "valid-lifetime ({default}) is greater than max-valid-lifetime ({max})"
        ));
    }
    Ok(Lifetime { min, default, max })
}

/// Checks the timers of one scope. `own` is what the scope itself sets, `merged` what it
/// ends up with after inheritance. A problem is reported only at the innermost scope that
/// sets one of the keys involved, so it is reported once.
pub(super) fn check_scope_timers(f: &mut Findings, path: &str, own: &Params, merged: &Params) {
    if own.sets_lifetime() {
        if let Err(message) = lifetime_triplet(merged) {
            f.error(format!("{path}.valid-lifetime"), message);
        }
    }
    if own.sets_timers() {
        let valid = merged.valid.unwrap_or(DEFAULT_VALID_LIFETIME);
        // Only where renew or rebind itself is set: a lifetime set lower down does not
        // change their order, and the error must be reported once.
        let sets_renew_or_rebind = own.renew.is_some() || own.rebind.is_some();
        match (merged.renew, merged.rebind) {
            (Some(renew), Some(rebind)) if renew > rebind && sets_renew_or_rebind => f.error(
                format!("{path}.renew-timer"),
                format!("renew-timer ({renew}) is greater than rebind-timer ({rebind})"),
            ),
            _ => {}
        }
        // Kea accepts these; it just does not send the timer (ARM 9.2.9).
        if let Some(rebind) = merged.rebind {
            if rebind >= valid {
                f.warn(
                    format!("{path}.rebind-timer"),
                    format!("rebind-timer ({rebind}) is not less than valid-lifetime ({valid}); T2 (option 59) will not be sent"),
                );
            }
        } else if let Some(renew) = merged.renew {
            if renew >= valid {
                f.warn(
                    format!("{path}.renew-timer"),
                    format!("renew-timer ({renew}) is not less than valid-lifetime ({valid}); T1 (option 58) will not be sent"),
                );
            }
        }
    }
    if own.sets_tee() && merged.calculate_tee_times == Some(true) {
        let t1 = merged.t1_percent.unwrap_or(DEFAULT_T1_PERCENT);
        let t2 = merged.t2_percent.unwrap_or(DEFAULT_T2_PERCENT);
        let mut ok = true;
        for (key, value) in [("t1-percent", t1), ("t2-percent", t2)] {
            if !(value > 0.0 && value < 1.0) {
                ok = false;
                f.error(
                    format!("{path}.{key}"),
                    format!("{value} is invalid, it must be greater than 0.0 and less than 1.0"),
                );
            }
        }
        if ok && t1 >= t2 {
            f.error(
                format!("{path}.t1-percent"),
                format!("{t1} is invalid, it must be less than t2-percent ({t2})"),
            );
        }
    }
}

#[derive(Default)]
pub(super) struct SeenSubnets {
    pub(super) ids: HashMap<u32, String>,
    pub(super) prefixes: HashMap<String, String>,
    pub(super) ip_reservations_unique: bool,
}

/// What a subnet inherits from its shared network besides [`Params`].
pub(super) struct SharedNetworkContext<'a> {
    index: usize,
    interface: Option<&'a str>,
    relay: &'a [Ipv4Addr],
}

#[allow(clippy::too_many_arguments)]
pub(super) fn parse_shared_network(
    f: &mut Findings,
    value: &Value,
    path: &str,
    global: &Params,
    option_defs: &[OptionDef],
    seen: &mut SeenSubnets,
    names: &mut HashMap<String, String>,
    subnets: &mut Vec<Subnet4>,
    shared_networks: &mut Vec<SharedNetwork4>,
) {
    let Some(map) = as_map(f, value, path) else {
        return;
    };
    f.check_keys(map, path, Scope::SharedNetwork4);
    let name = match f.str_at(map, "name", path) {
        Some("") => {
            f.error(format!("{path}.name"), "must not be empty");
            String::new()
        }
        Some(n) => {
            if let Some(first) = names.get(n) {
                f.error(
                    format!("{path}.name"),
                    format!("shared network name '{n}' is already used by {first}"),
                );
            } else {
                names.insert(n.to_string(), path.to_string());
            }
            n.to_string()
        }
        None => {
            if !map.contains_key("name") {
                f.error(path, "mandatory 'name' parameter is missing");
            }
            String::new()
        }
    };
    let own = parse_params(f, map, path);
    let merged = own.or(global);
    check_scope_timers(f, path, &own, &merged);
    let interface = f.str_at(map, "interface", path).map(str::to_string);
    let relay = parse_relay(f, map, path);
    let options = parse_option_data(
        f,
        map.get("option-data"),
        &format!("{path}.option-data"),
        option_defs,
    );
    let index = shared_networks.len();
    let mut members = Vec::new();
    if let Some(list) = f.list_at(map, "subnet4", path) {
        let ctx = SharedNetworkContext {
            index,
            interface: interface.as_deref(),
            relay: relay.as_deref().unwrap_or(&[]),
        };
        for (i, item) in list.iter().enumerate() {
            let sub_path = format!("{path}.subnet4[{i}]");
            if let Some(s) =
                parse_subnet(f, item, &sub_path, &merged, Some(&ctx), option_defs, seen)
            {
                members.push(subnets.len());
                subnets.push(s);
            }
        }
    }
    shared_networks.push(SharedNetwork4 {
        name,
        subnets: members,
        options,
        interface,
        relay_addresses: relay.unwrap_or_default(),
        user_context: user_context(map),
        classes: parse_class_lists(f, map, path),
    });
}

pub(super) fn parse_relay(
    f: &mut Findings,
    map: &Map<String, Value>,
    path: &str,
) -> Option<Vec<Ipv4Addr>> {
    let relay_path = format!("{path}.relay");
    let relay = f.map_at(map, "relay", path)?;
    f.check_keys(relay, &relay_path, Scope::Relay);
    let mut addrs = Vec::new();
    let mut parse_one = |f: &mut Findings, v: &Value, p: String| match v.as_str() {
        Some(s) => match s.parse::<Ipv4Addr>() {
            Ok(a) => addrs.push(a),
            Err(_) => f.error(p, format!("'{s}' is not a valid IPv4 address")),
        },
        None => f.error(p, format!("expected a string, found {}", json_type(v))),
    };
    if let Some(list) = f.list_at(relay, "ip-addresses", &relay_path) {
        for (i, v) in list.iter().enumerate() {
            parse_one(f, v, format!("{relay_path}.ip-addresses[{i}]"));
        }
    }
    if let Some(v) = relay.get("ip-address") {
        parse_one(f, v, format!("{relay_path}.ip-address"));
    }
    // Kea's grammar wants exactly one of the two.
    match (
        relay.contains_key("ip-addresses"),
        relay.contains_key("ip-address"),
    ) {
        (true, true) => f.error(
            relay_path,
            "give either 'ip-addresses' or 'ip-address', not both",
        ),
        (false, false) => f.error(relay_path, "mandatory 'ip-addresses' parameter is missing"),
        _ => {}
    }
    Some(addrs)
}

/// Parses "a.b.c.d/len" into the address as written and the length.
pub(super) fn parse_prefix(text: &str) -> Result<(Ipv4Addr, u8), String> {
    let bad = || format!("'{text}' is not a valid IPv4 prefix (expected address/length)");
    let (addr, len) = text.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.trim().parse().map_err(|_| bad())?;
    let len: u8 = len.trim().parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(format!(
            "prefix length {len} in '{text}' is out of range 0..32"
        ));
    }
    Ok((addr, len))
}

pub(super) fn parse_subnet(
    f: &mut Findings,
    value: &Value,
    path: &str,
    parent: &Params,
    shared: Option<&SharedNetworkContext<'_>>,
    option_defs: &[OptionDef],
    seen: &mut SeenSubnets,
) -> Option<Subnet4> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::Subnet4);

    let subnet_text = f.str_at(map, "subnet", path);
    if subnet_text.is_none() && !map.contains_key("subnet") {
        f.error(path, "mandatory 'subnet' parameter is missing");
    }
    let prefix = subnet_text.and_then(|text| match parse_prefix(text) {
        Ok((addr, len)) => {
            // ARM 9.2.7: duplicates are detected on the textual form only.
            if let Some(first) = seen.prefixes.get(text) {
                f.error(
                    format!("{path}.subnet"),
                    format!("subnet {text} is already defined at {first}"),
                );
            } else {
                seen.prefixes.insert(text.to_string(), path.to_string());
            }
            Some((Ipv4Addr::from(u32::from(addr) & prefix_mask(len)), len))
        }
        Err(message) => {
            f.error(format!("{path}.subnet"), message);
            None
        }
    });

    // Kea 3.0 no longer generates subnet ids (ARM 9.2.6, "subnet4-add"): `id` is mandatory,
    // in 1..4294967294.
    let id = if map.contains_key("id") {
        let id = f.int_in(map, "id", path, 1, i64::from(u32::MAX) - 1);
        if let Some(id) = id.and_then(|n| u32::try_from(n).ok()) {
            if let Some(first) = seen.ids.get(&id) {
                f.error(
                    format!("{path}.id"),
                    format!("subnet id {id} is already used by {first}"),
                );
            } else {
                seen.ids.insert(id, path.to_string());
            }
            Some(id)
        } else {
            None
        }
    } else {
        f.error(
            path,
            format!(
                "mandatory 'id' parameter is missing for subnet {}",
                subnet_text.unwrap_or("(no prefix)")
            ),
        );
        None
    };

    let own = parse_params(f, map, path);
    let merged = own.or(parent);
    check_scope_timers(f, path, &own, &merged);

    let own_interface = f.str_at(map, "interface", path).map(str::to_string);
    let dhcp4o6 = parse_subnet4o6(f, map, path);
    let own_relay = parse_relay(f, map, path);
    let options = parse_option_data(
        f,
        map.get("option-data"),
        &format!("{path}.option-data"),
        option_defs,
    );

    let mut pools: Vec<Pool4> = Vec::new();
    if let Some(list) = f.list_at(map, "pools", path) {
        for (i, item) in list.iter().enumerate() {
            let pool_path = format!("{path}.pools[{i}]");
            if let Some(pool) = parse_pool(f, item, &pool_path, prefix, &pools, option_defs) {
                pools.push(pool);
            }
        }
    }

    let reservations = f
        .list_at(map, "reservations", path)
        .map(|list| {
            parse_reservations(
                f,
                list,
                &format!("{path}.reservations"),
                prefix,
                option_defs,
                seen.ip_reservations_unique,
            )
        })
        .unwrap_or_default();

    let (prefix, prefix_len) = prefix?;
    let id = id?;
    Some(Subnet4 {
        id: SubnetId(id),
        prefix,
        prefix_len,
        pools,
        relay_addresses: own_relay
            .or_else(|| shared.map(|s| s.relay.to_vec()))
            .unwrap_or_default(),
        interface: own_interface.or_else(|| shared.and_then(|s| s.interface.map(str::to_string))),
        shared_network: shared.map(|s| s.index),
        valid_lifetime: lifetime_triplet(&merged).unwrap_or(Lifetime {
            min: DEFAULT_VALID_LIFETIME,
            default: DEFAULT_VALID_LIFETIME,
            max: DEFAULT_VALID_LIFETIME,
        }),
        renew_timer: merged.renew,
        rebind_timer: merged.rebind,
        calculate_tee_times: merged.calculate_tee_times.unwrap_or(false),
        t1_percent: merged.t1_percent.unwrap_or(DEFAULT_T1_PERCENT),
        t2_percent: merged.t2_percent.unwrap_or(DEFAULT_T2_PERCENT),
        match_client_id: merged.match_client_id.unwrap_or(true),
        authoritative: merged.authoritative.unwrap_or(false),
        next_server: merged.next_server.unwrap_or(Ipv4Addr::UNSPECIFIED),
        server_hostname: merged.server_hostname.unwrap_or_default(),
        boot_file_name: merged.boot_file_name.unwrap_or_default(),
        options,
        user_context: user_context(map),
        reservations,
        reservations_global: merged.reservations_global.unwrap_or(false),
        reservations_in_subnet: merged.reservations_in_subnet.unwrap_or(true),
        reservations_out_of_pool: merged.reservations_out_of_pool.unwrap_or(false),
        allocator: merged.allocator.unwrap_or(Allocator::Iterative),
        offer_lifetime: merged.offer_lifetime.unwrap_or(0),
        cache_threshold: merged.cache_threshold.unwrap_or(0.25),
        cache_max_age: merged.cache_max_age,
        store_extended_info: merged.store_extended_info.unwrap_or(false),
        classes: parse_class_lists(f, map, path),
        dhcp4o6,
    })
}

/// The `4o6-*` keys of a subnet4 (ARM 9.2.26). Kea takes `4o6-interface-id` as the raw bytes
/// of the string and `4o6-subnet` as "IPv6 address/length".
fn parse_subnet4o6(f: &mut Findings, map: &Map<String, Value>, path: &str) -> Subnet4o6 {
    let interface = f.str_at(map, "4o6-interface", path).map(str::to_string);
    let interface_id = f
        .str_at(map, "4o6-interface-id", path)
        .map(|s| s.as_bytes().to_vec());
    let subnet = f
        .str_at(map, "4o6-subnet", path)
        .and_then(|text| match parse_prefix6(text) {
            Ok(p) => Some(p),
            Err(message) => {
                f.error(format!("{path}.4o6-subnet"), message);
                None
            }
        });
    Subnet4o6 {
        interface,
        interface_id,
        subnet,
    }
}

/// "2001:db8:1::/64" to (address, length).
fn parse_prefix6(text: &str) -> Result<(std::net::Ipv6Addr, u8), String> {
    let Some((addr, len)) = text.split_once('/') else {
        return Err(format!(
            "'{text}' is not an IPv6 prefix (expected address/length, e.g. 2001:db8:1::/64)"
        ));
    };
    let addr: std::net::Ipv6Addr = addr
        .trim()
        .parse()
        .map_err(|_| format!("'{}' in '{text}' is not an IPv6 address", addr.trim()))?;
    let len: u8 = len
        .trim()
        .parse()
        .ok()
        .filter(|l| *l <= 128)
        .ok_or_else(|| format!("prefix length in '{text}' is not a number in 0..128"))?;
    Ok((addr, len))
}

/// Parses "first - last" (spaces optional) or "prefix/len" (ARM 9.2.8).
pub(super) fn parse_pool_range(text: &str) -> Result<(Ipv4Addr, Ipv4Addr), String> {
    if let Some((first, last)) = text.split_once('-') {
        let first_text = first.trim();
        let last_text = last.trim();
        let first: Ipv4Addr = first_text
            .parse()
            .map_err(|_| format!("range start '{first_text}' is not an IPv4 address"))?;
        let last: Ipv4Addr = last_text
            .parse()
            .map_err(|_| format!("range end '{last_text}' is not an IPv4 address"))?;
        if first > last {
            return Err(format!(
                "range start {first} is greater than range end {last}"
            ));
        }
        Ok((first, last))
    } else if text.contains('/') {
        let (addr, len) = parse_prefix(text.trim())?;
        if len == 0 {
            return Err(format!(
                "prefix length 0 in '{text}' is not valid for a pool"
            ));
        }
        let mask = prefix_mask(len);
        let first = u32::from(addr) & mask;
        Ok((Ipv4Addr::from(first), Ipv4Addr::from(first | !mask)))
    } else {
        Err(format!(
            "'{text}' is neither a range (first - last) nor a prefix (address/length)"
        ))
    }
}

pub(super) fn parse_pool(
    f: &mut Findings,
    value: &Value,
    path: &str,
    subnet: Option<(Ipv4Addr, u8)>,
    earlier: &[Pool4],
    option_defs: &[OptionDef],
) -> Option<Pool4> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::Pool4);
    let pool_path = format!("{path}.pool");
    let text = f.str_at(map, "pool", path);
    if text.is_none() && !map.contains_key("pool") {
        f.error(path, "mandatory 'pool' parameter is missing");
    }
    let range = text.and_then(|t| match parse_pool_range(t) {
        Ok(r) => Some(r),
        Err(message) => {
            f.error(pool_path.clone(), message);
            None
        }
    });
    let pool_id = f.u32_at(map, "pool-id", path).unwrap_or(0);
    let options = parse_option_data(
        f,
        map.get("option-data"),
        &format!("{path}.option-data"),
        option_defs,
    );
    let (first, last) = range?;
    if let Some((prefix, len)) = subnet {
        let mask = prefix_mask(len);
        for addr in [first, last] {
            if u32::from(addr) & mask != u32::from(prefix) {
                f.error(
                    pool_path.clone(),
                    format!("{addr} is outside subnet {prefix}/{len}"),
                );
                return None;
            }
        }
    }
    // "pools" sits just before the index in our own path.
    let pools_path = path.rsplit_once('[').map_or(path, |(p, _)| p);
    for (i, other) in earlier.iter().enumerate() {
        if first <= other.last && other.first <= last {
            f.error(
                pool_path.clone(),
                format!(
                    "{first}-{last} overlaps {}[{i}] ({}-{})",
                    pools_path.rsplit('.').next().unwrap_or("pools"),
                    other.first,
                    other.last
                ),
            );
            return None;
        }
    }
    Some(Pool4 {
        first,
        last,
        pool_id: PoolId(pool_id),
        options,
        user_context: user_context(map),
        classes: parse_class_lists(f, map, path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triplet_follows_kea_fill_in_rules() {
        let p = |min, v, max| Params {
            min_valid: min,
            valid: v,
            max_valid: max,
            ..Params::default()
        };
        assert_eq!(
            lifetime_triplet(&p(None, Some(100), None)).unwrap(),
            Lifetime {
                min: 100,
                default: 100,
                max: 100
            }
        );
        assert_eq!(
            lifetime_triplet(&p(Some(50), Some(100), None)).unwrap(),
            Lifetime {
                min: 50,
                default: 100,
                max: 100
            }
        );
        assert_eq!(
            lifetime_triplet(&p(Some(50), None, None)).unwrap(),
            Lifetime {
                min: 50,
                default: 50,
                max: 50
            }
        );
        assert_eq!(
            lifetime_triplet(&p(None, None, Some(70))).unwrap(),
            Lifetime {
                min: 70,
                default: 70,
                max: 70
            }
        );
        assert!(lifetime_triplet(&p(Some(1), None, Some(2))).is_err());
    }

    #[test]
    fn pool_forms_parse_to_inclusive_ranges() {
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            parse_pool_range("192.0.2.10 - 192.0.2.200").unwrap(),
            (a("192.0.2.10"), a("192.0.2.200"))
        );
        assert_eq!(
            parse_pool_range("192.0.2.10-192.0.2.20").unwrap(),
            (a("192.0.2.10"), a("192.0.2.20"))
        );
        assert_eq!(
            parse_pool_range("192.0.2.64/26").unwrap(),
            (a("192.0.2.64"), a("192.0.2.127"))
        );
        assert_eq!(
            parse_pool_range("192.0.2.7/32").unwrap(),
            (a("192.0.2.7"), a("192.0.2.7"))
        );
    }
}
