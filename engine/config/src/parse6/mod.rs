//! Dhcp6 JSON value -> validated [`Dhcp6Config`] (ARM chapter 10). Shares the dialect
//! reader, the [`Findings`] collector and the lease-database / multi-threading / logger /
//! control-socket / hook parsers with the Dhcp4 parser; everything v6-specific (lifetimes with
//! a preferred lifetime, subnet6, pd-pools, interface-id, server-id, the 16-bit option table)
//! is here. Every problem is collected with its JSON path, as for Dhcp4.

use super::*;
use crate::keys6::IGNORED_TOP_LEVEL6;
use crate::model6::*;
use crate::options::defs6::{
    std_option6_def, std_option6_def_by_name, std_option6_def_in_space,
    std_option6_def_in_space_by_name, ConfiguredOption6, OptionDef6, OptionSet6, DHCP6_SPACE,
    DNR_V6_CODE, SERVER_MANAGED_V6_CODES,
};
use std::net::Ipv6Addr;

mod hosts6;
pub use hosts6::option6_code_by_name;
use hosts6::*;

/// Parameters inherited global -> shared network -> subnet (Kea's Network6 fetchers).
#[derive(Clone, Debug, Default)]
struct Params6 {
    preferred: Option<u32>,
    min_preferred: Option<u32>,
    max_preferred: Option<u32>,
    valid: Option<u32>,
    min_valid: Option<u32>,
    max_valid: Option<u32>,
    renew: Option<u32>,
    rebind: Option<u32>,
    calculate_tee_times: Option<bool>,
    t1_percent: Option<f64>,
    t2_percent: Option<f64>,
    rapid_commit: Option<bool>,
    reservations_global: Option<bool>,
    reservations_in_subnet: Option<bool>,
    reservations_out_of_pool: Option<bool>,
}

impl Params6 {
    fn or(&self, parent: &Params6) -> Params6 {
        Params6 {
            preferred: self.preferred.or(parent.preferred),
            min_preferred: self.min_preferred.or(parent.min_preferred),
            max_preferred: self.max_preferred.or(parent.max_preferred),
            valid: self.valid.or(parent.valid),
            min_valid: self.min_valid.or(parent.min_valid),
            max_valid: self.max_valid.or(parent.max_valid),
            renew: self.renew.or(parent.renew),
            rebind: self.rebind.or(parent.rebind),
            calculate_tee_times: self.calculate_tee_times.or(parent.calculate_tee_times),
            t1_percent: self.t1_percent.or(parent.t1_percent),
            t2_percent: self.t2_percent.or(parent.t2_percent),
            rapid_commit: self.rapid_commit.or(parent.rapid_commit),
            reservations_global: self.reservations_global.or(parent.reservations_global),
            reservations_in_subnet: self
                .reservations_in_subnet
                .or(parent.reservations_in_subnet),
            reservations_out_of_pool: self
                .reservations_out_of_pool
                .or(parent.reservations_out_of_pool),
        }
    }
}

fn parse_params6(f: &mut Findings, map: &Map<String, Value>, path: &str) -> Params6 {
    Params6 {
        preferred: f.u32_at(map, "preferred-lifetime", path),
        min_preferred: f.u32_at(map, "min-preferred-lifetime", path),
        max_preferred: f.u32_at(map, "max-preferred-lifetime", path),
        valid: f.u32_at(map, "valid-lifetime", path),
        min_valid: f.u32_at(map, "min-valid-lifetime", path),
        max_valid: f.u32_at(map, "max-valid-lifetime", path),
        renew: f.u32_at(map, "renew-timer", path),
        rebind: f.u32_at(map, "rebind-timer", path),
        calculate_tee_times: f.bool_at(map, "calculate-tee-times", path),
        t1_percent: f.real_at(map, "t1-percent", path),
        t2_percent: f.real_at(map, "t2-percent", path),
        rapid_commit: f.bool_at(map, "rapid-commit", path),
        reservations_global: f.bool_at(map, "reservations-global", path),
        reservations_in_subnet: f.bool_at(map, "reservations-in-subnet", path),
        reservations_out_of_pool: f.bool_at(map, "reservations-out-of-pool", path),
    }
}

/// Kea's `parseIntTriplet` for one lifetime (`what` is "valid" or "preferred").
fn triplet(
    what: &str,
    min: Option<u32>,
    value: Option<u32>,
    max: Option<u32>,
    default: u32,
) -> Result<Lifetime6, String> {
    let (lo, v, hi) = match (min, value, max) {
        (None, None, None) => (default, default, default),
        (lo, Some(v), hi) => (lo.unwrap_or(v), v, hi.unwrap_or(v)),
        (Some(lo), None, None) => (lo, lo, lo),
        (None, None, Some(hi)) => (hi, hi, hi),
        (Some(_), None, Some(_)) => {
            return Err(format!(
                "min-{what}-lifetime and max-{what}-lifetime are set but {what}-lifetime (the default) is not"
            ))
        }
    };
    if lo > hi {
        return Err(format!(
            "min-{what}-lifetime ({lo}) is greater than max-{what}-lifetime ({hi})"
        ));
    }
    if v < lo {
        return Err(format!(
            "{what}-lifetime ({v}) is less than min-{what}-lifetime ({lo})"
        ));
    }
    if v > hi {
        return Err(format!(
            "{what}-lifetime ({v}) is greater than max-{what}-lifetime ({hi})"
        ));
    }
    Ok(Lifetime6 {
        min: lo,
        default: v,
        max: hi,
    })
}

/// Parses a whole configuration document (the map holding `Dhcp6`).
pub(crate) fn parse_root6(root: &Value) -> (Option<Dhcp6Config>, Findings) {
    parse_server_root(root, "Dhcp6", IGNORED_TOP_LEVEL6, parse_dhcp6)
}

/// What a subnet inherits from its shared network besides [`Params6`].
struct Network6Context<'a> {
    index: usize,
    interface: Option<&'a str>,
    interface_id: Option<&'a [u8]>,
    relay: &'a [Ipv6Addr],
    options: &'a OptionSet6,
    /// The network's own options (without the global ones).
    own_options: &'a OptionSet6,
}

struct Walk6<'a> {
    global: Params6,
    global_options: &'a OptionSet6,
    option_defs: &'a [OptionDef6],
    ip_reservations_unique: bool,
    subnets: Vec<Subnet6>,
    explicit_ids: Vec<Option<u32>>,
    prefixes: HashMap<(u128, u8), String>,
}

fn parse_dhcp6(f: &mut Findings, map: &Map<String, Value>) -> Dhcp6Config {
    let path = "Dhcp6";
    f.check_keys(map, path, Scope::Global6);
    let option_defs = parse_option_defs6(f, map.get("option-def"), &format!("{path}.option-def"));
    let global_options = parse_option_data6(
        f,
        map.get("option-data"),
        &format!("{path}.option-data"),
        &option_defs,
    );
    let global = parse_params6(f, map, path);
    check_params6(f, path, &global, &global);
    let ip_reservations_unique = f
        .bool_at(map, "ip-reservations-unique", path)
        .unwrap_or(true);

    let mut walk = Walk6 {
        global: global.clone(),
        global_options: &global_options,
        option_defs: &option_defs,
        ip_reservations_unique,
        subnets: Vec::new(),
        explicit_ids: Vec::new(),
        prefixes: HashMap::new(),
    };
    let mut shared_networks = Vec::new();
    for (key, _) in map {
        match key.as_str() {
            "subnet6" => {
                if let Some(list) = f.list_at(map, "subnet6", path) {
                    for (i, item) in list.iter().enumerate() {
                        parse_subnet6(
                            f,
                            item,
                            &format!("{path}.subnet6[{i}]"),
                            &mut walk,
                            &global,
                            None,
                        );
                    }
                }
            }
            "shared-networks" => {
                if let Some(list) = f.list_at(map, "shared-networks", path) {
                    let mut names: HashMap<String, String> = HashMap::new();
                    for (i, item) in list.iter().enumerate() {
                        let sn_path = format!("{path}.shared-networks[{i}]");
                        if let Some(sn) = parse_shared_network6(
                            f,
                            item,
                            &sn_path,
                            &mut walk,
                            shared_networks.len(),
                            &mut names,
                        ) {
                            shared_networks.push(sn);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    // Kea 3.0 numbers subnets without an id after the highest configured one.
    let mut next_id = walk
        .explicit_ids
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0);
    for (subnet, explicit) in walk.subnets.iter_mut().zip(&walk.explicit_ids) {
        if explicit.is_none() {
            next_id = next_id.saturating_add(1);
            subnet.id = SubnetId(next_id);
        }
    }
    let subnets = walk.subnets;

    let interfaces = map
        .get("interfaces-config")
        .and_then(|v| as_map(f, v, &format!("{path}.interfaces-config")))
        .map(|m| parse_interfaces6(f, m, &format!("{path}.interfaces-config")))
        .unwrap_or(Interfaces6 {
            re_detect: true,
            ..Interfaces6::default()
        });
    let lease_database = map
        .get("lease-database")
        .and_then(|v| as_map(f, v, &format!("{path}.lease-database")))
        .map(|m| parse_lease_database(f, m, &format!("{path}.lease-database")))
        .unwrap_or_default();
    let multi_threading = map
        .get("multi-threading")
        .and_then(|v| as_map(f, v, &format!("{path}.multi-threading")))
        .map(|m| parse_multi_threading(f, m, &format!("{path}.multi-threading")))
        .unwrap_or_default();
    let expired_leases_processing = map
        .get("expired-leases-processing")
        .and_then(|v| as_map(f, v, &format!("{path}.expired-leases-processing")))
        .map(|m| parse_expired(f, m, &format!("{path}.expired-leases-processing")))
        .unwrap_or_default();
    let loggers = f
        .list_at(map, "loggers", path)
        .map(|list| {
            list.iter()
                .enumerate()
                .filter_map(|(i, v)| parse_logger(f, v, &format!("{path}.loggers[{i}]")))
                .collect()
        })
        .unwrap_or_default();
    let server_id = map
        .get("server-id")
        .and_then(|v| as_map(f, v, &format!("{path}.server-id")))
        .map(|m| parse_server_id(f, m, &format!("{path}.server-id")))
        .unwrap_or_default();
    let control_sockets = parse_control_sockets(f, map, path);
    let mut hooks_libraries = Vec::new();
    let mut flex_id = None;
    if let Some(list) = f.list_at(map, "hooks-libraries", path) {
        for (i, v) in list.iter().enumerate() {
            let entry = format!("{path}.hooks-libraries[{i}]");
            let Some(library) = parse_hook_library(f, v, &entry) else {
                continue;
            };
            if is_flex_id_library(&library.library) {
                // ARM 17.9: flex_id is implemented natively, for DHCPv6 as for DHCPv4
                // (replace-client-id included). Ignoring IAIDs is not done yet: named, not
                // silently ignored.
                let ignore_iaid = library
                    .parameters
                    .as_ref()
                    .and_then(|p| p.get("ignore-iaid"))
                    .and_then(Value::as_bool);
                if ignore_iaid == Some(true) {
                    f.unsupported.push(PathIssue::new(
                        format!("{entry}.parameters.ignore-iaid"),
                        "not supported yet for DHCPv6",
                    ));
                }
                let resolve = |n: &str| option6_code_by_name(n, &option_defs);
                flex_id = parse_flex_id_with(
                    f,
                    &library,
                    &entry,
                    corelease_classify::Universe::V6,
                    &resolve,
                );
                // A DHCPv6 client belongs to the shard its DUID hashes to, both for its
                // datagrams and for its leases at start-up; with the DUID replaced the two
                // hash different DUIDs, so the lease would be recovered on another shard
                // than the one the client talks to. Until the steering evaluates the
                // flex-id, replace-client-id needs one shard.
                let one_shard = !multi_threading.enable || multi_threading.thread_pool_size == 1;
                if flex_id.as_ref().is_some_and(|x| x.replace_client_id) && !one_shard {
                    f.unsupported.push(PathIssue::new(
                        format!("{entry}.parameters.replace-client-id"),
                        "not supported yet with more than one thread: set multi-threading \
                         enable-multi-threading false or thread-pool-size 1",
                    ));
                }
                continue;
            }
            // The run-script libraries, implemented natively (engine/v6/src/hooked.rs).
            check_run_script(f, &library, &entry, !hooks_libraries.is_empty());
            hooks_libraries.push(library);
        }
    }

    let reservations = f
        .list_at(map, "reservations", path)
        .map(|list| {
            parse_reservations6(
                f,
                list,
                &format!("{path}.reservations"),
                None,
                ip_reservations_unique,
                &option_defs,
            )
        })
        .unwrap_or_default();
    let host_reservation_identifiers = parse_identifier_types6(f, map, path);
    // `reservations-lookup-first` (ARM 10.3.x): whether reservations are looked up before
    // the lease; it only matters to Kea without multi-threading, and with multi-threading
    // Kea always looks reservations up first. corelease always does (each shard owns its
    // leases, the lookup takes no lock), so both values are accepted and mean the same; the
    // value must still be a boolean.
    let _reservations_lookup_first = f.bool_at(map, "reservations-lookup-first", path);
    let client_classes = f
        .list_at(map, "client-classes", path)
        .map(|list| parse_client_classes6(f, list, &format!("{path}.client-classes"), &option_defs))
        .unwrap_or_default();

    Dhcp6Config {
        interfaces,
        lease_database,
        subnets,
        shared_networks,
        global_options,
        multi_threading,
        decline_probation_period: f
            .u32_at(map, "decline-probation-period", path)
            .unwrap_or(86400),
        server_id,
        expired_leases_processing,
        loggers,
        control_sockets,
        hooks_libraries,
        user_context: user_context(map),
        reservations,
        host_reservation_identifiers,
        ip_reservations_unique,
        early_global_reservations_lookup: f
            .bool_at(map, "early-global-reservations-lookup", path)
            .unwrap_or(false),
        client_classes,
        option_defs,
        flex_id,
        dhcp4o6_port: parse_dhcp4o6_port(f, map, path),
        mac_sources: parse_mac_sources(f, map, path),
    }
}

/// `mac-sources` (ARM 10.11): the ways to find a client's hardware address, in the order to
/// try them, as [`corelease_types::hwaddr_source`] masks. Kea's names and aliases
/// (`CfgMACSource::MACSourceFromText`) and texts; absent means `any`. `raw` and
/// `subscriber-id` are accepted and find nothing, as in Kea 2.2 (the ARM says so of raw; Kea's
/// `Pkt::getMAC` has no code for subscriber-id).
fn parse_mac_sources(f: &mut Findings, map: &Map<String, Value>, path: &str) -> Vec<u32> {
    use corelease_types::hwaddr_source as src;
    let Some(list) = f.list_at(map, "mac-sources", path) else {
        return vec![src::ANY];
    };
    if list.is_empty() {
        f.error(
            format!("{path}.mac-sources"),
            "must have at least one value (omit it, or use \"any\", for every source)",
        );
    }
    let mut masks: Vec<u32> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let p = format!("{path}.mac-sources[{i}]");
        let Some(name) = v.as_str() else {
            f.error(p, format!("expected a string, found {}", json_type(v)));
            continue;
        };
        let mask = match name {
            "any" => src::ANY,
            "raw" => src::RAW,
            "duid" => src::DUID,
            "ipv6-link-local" => src::IPV6_LINK_LOCAL,
            "client-link-addr-option" | "rfc6939" => src::CLIENT_ADDR_RELAY_OPTION,
            "remote-id" | "rfc4649" => src::REMOTE_ID,
            "subscriber-id" | "rfc4580" => src::SUBSCRIBER_ID,
            "docsis-cmts" => src::DOCSIS_CMTS,
            "docsis-modem" => src::DOCSIS_MODEM,
            _ => {
                f.error(
                    p,
                    format!("Failed to convert '{name}' to any recognized MAC source (expected any, raw, duid, ipv6-link-local, client-link-addr-option, rfc6939, remote-id, rfc4649, subscriber-id, rfc4580, docsis-cmts or docsis-modem)"),
                );
                continue;
            }
        };
        if masks.contains(&mask) {
            f.error(
                p,
                format!("The mac-sources value '{name}' was specified twice"),
            );
        } else {
            masks.push(mask);
        }
    }
    masks
}

/// Lifetime, timer and T1/T2 checks of one scope; reported where a key involved is set.
fn check_params6(f: &mut Findings, path: &str, own: &Params6, merged: &Params6) {
    let valid = triplet(
        "valid",
        merged.min_valid,
        merged.valid,
        merged.max_valid,
        DEFAULT_VALID_LIFETIME6,
    );
    if own.valid.is_some() || own.min_valid.is_some() || own.max_valid.is_some() {
        if let Err(m) = &valid {
            f.error(format!("{path}.valid-lifetime"), m.clone());
        }
    }
    let preferred = triplet(
        "preferred",
        merged.min_preferred,
        merged.preferred,
        merged.max_preferred,
        DEFAULT_PREFERRED_LIFETIME6,
    );
    if own.preferred.is_some() || own.min_preferred.is_some() || own.max_preferred.is_some() {
        if let Err(m) = &preferred {
            f.error(format!("{path}.preferred-lifetime"), m.clone());
        }
        // RFC 8415 section 21.6: preferred > valid makes the client discard the address.
        if let (Ok(p), Ok(v)) = (&preferred, &valid) {
            if p.default > v.default {
                f.warn(
                    format!("{path}.preferred-lifetime"),
                    format!("preferred-lifetime ({}) is greater than valid-lifetime ({}); clients discard such addresses (RFC 8415 21.6)", p.default, v.default),
                );
            }
        }
    }
    if own.renew.is_some() || own.rebind.is_some() {
        if let (Some(r), Some(b)) = (merged.renew, merged.rebind) {
            if r > b {
                f.error(
                    format!("{path}.renew-timer"),
                    format!("renew-timer ({r}) is greater than rebind-timer ({b})"),
                );
            }
        }
    }
    if own.t1_percent.is_some() || own.t2_percent.is_some() || own.calculate_tee_times.is_some() {
        let t1 = merged.t1_percent.unwrap_or(DEFAULT_T1_PERCENT6);
        let t2 = merged.t2_percent.unwrap_or(DEFAULT_T2_PERCENT6);
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

fn parse_v6_addr(f: &mut Findings, text: &str, path: &str) -> Option<Ipv6Addr> {
    match text.trim().parse::<Ipv6Addr>() {
        Ok(a) => Some(a),
        Err(_) => {
            f.error(path, format!("'{text}' is not a valid IPv6 address"));
            None
        }
    }
}

/// "2001:db8::/64" -> (network address, length); host bits must be zero, as Kea requires.
fn parse_prefix6(text: &str) -> Result<(Ipv6Addr, u8), String> {
    let (addr, len) = text
        .split_once('/')
        .ok_or_else(|| format!("'{text}' is not a prefix (expected address/length)"))?;
    let addr: Ipv6Addr = addr
        .trim()
        .parse()
        .map_err(|_| format!("'{addr}' is not a valid IPv6 address"))?;
    let len: u8 = len
        .trim()
        .parse()
        .ok()
        .filter(|l| *l <= 128)
        .ok_or_else(|| format!("'{len}' is not a prefix length (0..128)"))?;
    Ok((addr, len))
}

fn relay_addresses6(f: &mut Findings, map: &Map<String, Value>, path: &str) -> Vec<Ipv6Addr> {
    let Some(relay) = f.map_at(map, "relay", path) else {
        return Vec::new();
    };
    let rpath = format!("{path}.relay");
    f.check_keys(relay, &rpath, Scope::Relay6);
    let mut out = Vec::new();
    if let Some(a) = f.str_at(relay, "ip-address", &rpath) {
        if let Some(a) = parse_v6_addr(f, a, &format!("{rpath}.ip-address")) {
            out.push(a);
        }
    }
    if let Some(list) = f.list_at(relay, "ip-addresses", &rpath) {
        for (i, v) in list.iter().enumerate() {
            let p = format!("{rpath}.ip-addresses[{i}]");
            match v.as_str() {
                Some(s) => {
                    if let Some(a) = parse_v6_addr(f, s, &p) {
                        out.push(a);
                    }
                }
                None => f.error(p, format!("expected a string, found {}", json_type(v))),
            }
        }
    }
    out
}

fn parse_shared_network6(
    f: &mut Findings,
    value: &Value,
    path: &str,
    walk: &mut Walk6<'_>,
    index: usize,
    names: &mut HashMap<String, String>,
) -> Option<SharedNetwork6> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::SharedNetwork6);
    let name = match f.str_at(map, "name", path) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => {
            f.error(
                format!("{path}.name"),
                "a shared network needs a non-empty name",
            );
            return None;
        }
    };
    if let Some(first) = names.insert(name.clone(), path.to_string()) {
        f.error(
            format!("{path}.name"),
            format!("duplicate shared network name '{name}' (also at {first})"),
        );
    }
    let own = parse_params6(f, map, path);
    let merged = own.or(&walk.global);
    check_params6(f, path, &own, &merged);
    let interface = f.str_at(map, "interface", path).map(str::to_string);
    let interface_id = f
        .str_at(map, "interface-id", path)
        .map(|s| s.as_bytes().to_vec());
    let relay = relay_addresses6(f, map, path);
    let own_options = parse_option_data6(
        f,
        map.get("option-data"),
        &format!("{path}.option-data"),
        walk.option_defs,
    );
    let options = merge_options(&own_options, walk.global_options);
    let classes = parse_class_lists(f, map, path);
    let mut members = Vec::new();
    if let Some(list) = f.list_at(map, "subnet6", path) {
        let ctx = Network6Context {
            index,
            interface: interface.as_deref(),
            interface_id: interface_id.as_deref(),
            relay: &relay,
            options: &options,
            own_options: &own_options,
        };
        for (i, item) in list.iter().enumerate() {
            if let Some(at) = parse_subnet6(
                f,
                item,
                &format!("{path}.subnet6[{i}]"),
                walk,
                &merged,
                Some(&ctx),
            ) {
                members.push(at);
            }
        }
    }
    Some(SharedNetwork6 {
        name,
        interface,
        interface_id,
        relay_addresses: relay,
        options,
        subnets: members,
        classes,
    })
}

/// `own` first, then the parent's options whose code `own` does not set untagged: a
/// class-tagged value that does not match "is as though the option was not specified at
/// that scope" (ARM 16.9), so the parent's values of that code stay behind it.
fn merge_options(own: &OptionSet6, parent: &OptionSet6) -> OptionSet6 {
    let mut out = own.clone();
    for o in &parent.options {
        if !own
            .options
            .iter()
            .any(|x| x.code == o.code && x.space == o.space && x.client_classes.is_empty())
        {
            out.options.push(o.clone());
        }
    }
    out
}

/// Parses one subnet6 into `walk.subnets`; returns its index.
fn parse_subnet6(
    f: &mut Findings,
    value: &Value,
    path: &str,
    walk: &mut Walk6<'_>,
    parent: &Params6,
    network: Option<&Network6Context<'_>>,
) -> Option<usize> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::Subnet6);
    let id = f
        .int_in(map, "id", path, 1, i64::from(u32::MAX) - 1)
        .and_then(|n| u32::try_from(n).ok());
    if let Some(id) = id {
        if let Some(other) = walk.explicit_ids.iter().position(|x| *x == Some(id)) {
            f.error(
                format!("{path}.id"),
                format!("subnet id {id} is already used by subnet #{other}"),
            );
        }
    }
    let (prefix, prefix_len) = match f.str_at(map, "subnet", path) {
        Some(text) => match parse_prefix6(text) {
            Ok(p) => p,
            Err(m) => {
                f.error(format!("{path}.subnet"), m);
                return None;
            }
        },
        None => {
            f.error(
                format!("{path}.subnet"),
                "missing: a subnet6 needs a \"subnet\" prefix",
            );
            return None;
        }
    };
    let net = u128::from(prefix) & prefix6_mask(prefix_len);
    if let Some(first) = walk.prefixes.insert((net, prefix_len), path.to_string()) {
        f.error(
            format!("{path}.subnet"),
            format!("subnet {prefix}/{prefix_len} is already defined at {first}"),
        );
    }
    let own = parse_params6(f, map, path);
    let merged = own.or(parent);
    check_params6(f, path, &own, &merged);
    let valid = triplet(
        "valid",
        merged.min_valid,
        merged.valid,
        merged.max_valid,
        DEFAULT_VALID_LIFETIME6,
    )
    .ok()?;
    let preferred = triplet(
        "preferred",
        merged.min_preferred,
        merged.preferred,
        merged.max_preferred,
        DEFAULT_PREFERRED_LIFETIME6,
    )
    .ok()?;

    let own_options = parse_option_data6(
        f,
        map.get("option-data"),
        &format!("{path}.option-data"),
        walk.option_defs,
    );
    let options = merge_options(
        &own_options,
        network.map(|n| n.options).unwrap_or(walk.global_options),
    );
    let scoped_options = match network {
        Some(n) => merge_options(&own_options, n.own_options),
        None => own_options.clone(),
    };

    let mut pools = Vec::new();
    if let Some(list) = f.list_at(map, "pools", path) {
        for (i, item) in list.iter().enumerate() {
            let p = format!("{path}.pools[{i}]");
            if let Some(pool) = parse_pool6(f, item, &p, (prefix, prefix_len), walk.option_defs) {
                for (j, other) in pools.iter().enumerate() {
                    let other: &Pool6 = other;
                    if u128::from(pool.first) <= u128::from(other.last)
                        && u128::from(other.first) <= u128::from(pool.last)
                    {
                        f.error(p.clone(), format!("pool overlaps {path}.pools[{j}]"));
                    }
                }
                pools.push(pool);
            }
        }
    }
    let mut pd_pools = Vec::new();
    if let Some(list) = f.list_at(map, "pd-pools", path) {
        for (i, item) in list.iter().enumerate() {
            if let Some(pool) =
                parse_pd_pool6(f, item, &format!("{path}.pd-pools[{i}]"), walk.option_defs)
            {
                pd_pools.push(pool);
            }
        }
    }
    let interface = f
        .str_at(map, "interface", path)
        .map(str::to_string)
        .or_else(|| network.and_then(|n| n.interface.map(str::to_string)));
    let interface_id = f
        .str_at(map, "interface-id", path)
        .map(|s| s.as_bytes().to_vec())
        .or_else(|| network.and_then(|n| n.interface_id.map(<[u8]>::to_vec)));
    if interface.is_some() && interface_id.is_some() {
        // Kea: "interface and interface-id are mutually exclusive" (ARM 10.2.21).
        f.error(format!("{path}.interface-id"), "interface and interface-id cannot both be set: a subnet is either directly connected or behind a relay");
    }
    let mut relay_addresses = relay_addresses6(f, map, path);
    if relay_addresses.is_empty() {
        relay_addresses = network.map(|n| n.relay.to_vec()).unwrap_or_default();
    }
    let calculate_tee_times = merged.calculate_tee_times.unwrap_or(true);
    let reservations = f
        .list_at(map, "reservations", path)
        .map(|list| {
            parse_reservations6(
                f,
                list,
                &format!("{path}.reservations"),
                Some((Ipv6Addr::from(net), prefix_len)),
                walk.ip_reservations_unique,
                walk.option_defs,
            )
        })
        .unwrap_or_default();
    let classes = parse_class_lists(f, map, path);
    walk.subnets.push(Subnet6 {
        id: SubnetId(id.unwrap_or(0)),
        prefix: Ipv6Addr::from(net),
        prefix_len,
        pools,
        pd_pools,
        interface,
        interface_id,
        relay_addresses,
        rapid_commit: merged.rapid_commit.unwrap_or(false),
        preferred,
        valid,
        renew_timer: merged.renew,
        rebind_timer: merged.rebind,
        calculate_tee_times,
        t1_percent: merged.t1_percent.unwrap_or(DEFAULT_T1_PERCENT6),
        t2_percent: merged.t2_percent.unwrap_or(DEFAULT_T2_PERCENT6),
        options,
        scoped_options,
        shared_network: network.map(|n| n.index),
        user_context: user_context(map),
        reservations,
        // Kea's defaults (ARM 10.3.x): subnet reservations only, in-pool ones honoured.
        reservations_global: merged.reservations_global.unwrap_or(false),
        reservations_in_subnet: merged.reservations_in_subnet.unwrap_or(true),
        reservations_out_of_pool: merged.reservations_out_of_pool.unwrap_or(false),
        classes,
    });
    walk.explicit_ids.push(id);
    Some(walk.subnets.len() - 1)
}

/// `pool-id` of a pool or pd-pool: 0 unless configured (ARM 10.x "Statistics in the DHCPv6
/// Server": the statistics of pools with the same id in a subnet are combined).
fn pool_id_of(f: &mut Findings, map: &Map<String, Value>, path: &str) -> PoolId {
    PoolId(f.u32_at(map, "pool-id", path).unwrap_or(0))
}

fn parse_pool6(
    f: &mut Findings,
    value: &Value,
    path: &str,
    (prefix, prefix_len): (Ipv6Addr, u8),
    defs: &[OptionDef6],
) -> Option<Pool6> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::Pool6);
    let text = match f.str_at(map, "pool", path) {
        Some(t) => t,
        None => {
            f.error(
                format!("{path}.pool"),
                "missing: a pool needs a \"pool\" range or prefix",
            );
            return None;
        }
    };
    let range = if let Some((a, b)) = text.split_once('-') {
        match (a.trim().parse::<Ipv6Addr>(), b.trim().parse::<Ipv6Addr>()) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            _ => Err(format!(
                "'{text}' is not an address range (2001:db8::10 - 2001:db8::ff)"
            )),
        }
    } else {
        parse_prefix6(text).map(|(a, len)| {
            let m = prefix6_mask(len);
            (
                Ipv6Addr::from(u128::from(a) & m),
                Ipv6Addr::from(u128::from(a) | !m),
            )
        })
    };
    let (first, last) = match range {
        Ok(r) => r,
        Err(m) => {
            f.error(format!("{path}.pool"), m);
            return None;
        }
    };
    if u128::from(first) > u128::from(last) {
        f.error(format!("{path}.pool"), format!("{first} is after {last}"));
        return None;
    }
    if !prefix6_contains(prefix, prefix_len, first) || !prefix6_contains(prefix, prefix_len, last) {
        f.error(
            format!("{path}.pool"),
            format!("{text} is outside subnet {prefix}/{prefix_len}"),
        );
        return None;
    }
    let pool_id = pool_id_of(f, map, path);
    Some(Pool6 {
        first,
        last,
        pool_id,
        options: parse_option_data6(
            f,
            map.get("option-data"),
            &format!("{path}.option-data"),
            defs,
        ),
        classes: parse_class_lists(f, map, path),
    })
}

fn parse_pd_pool6(
    f: &mut Findings,
    value: &Value,
    path: &str,
    defs: &[OptionDef6],
) -> Option<PdPool6> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::PdPool6);
    let prefix = f
        .str_at(map, "prefix", path)
        .and_then(|s| parse_v6_addr(f, s, &format!("{path}.prefix")));
    let prefix_len = f.int_in(map, "prefix-len", path, 1, 128).map(|n| n as u8);
    let delegated_len = f
        .int_in(map, "delegated-len", path, 1, 128)
        .map(|n| n as u8);
    for (key, v) in [
        ("prefix", prefix.is_some()),
        ("prefix-len", prefix_len.is_some()),
        ("delegated-len", delegated_len.is_some()),
    ] {
        if !v && map.get(key).is_none() {
            f.error(
                format!("{path}.{key}"),
                format!("missing: a pd-pool needs \"{key}\""),
            );
        }
    }
    let (prefix, prefix_len, delegated_len) = (prefix?, prefix_len?, delegated_len?);
    if delegated_len < prefix_len {
        f.error(
            format!("{path}.delegated-len"),
            format!("delegated-len ({delegated_len}) is shorter than prefix-len ({prefix_len})"),
        );
        return None;
    }
    let excluded_prefix = match (
        f.str_at(map, "excluded-prefix", path),
        f.int_in(map, "excluded-prefix-len", path, 0, 128),
    ) {
        (None, None) | (None, Some(0)) => None,
        (Some(p), Some(len)) => {
            let len = len as u8;
            let addr = parse_v6_addr(f, p, &format!("{path}.excluded-prefix"))?;
            if len <= delegated_len {
                f.error(
                    format!("{path}.excluded-prefix-len"),
                    format!("excluded-prefix-len ({len}) must be longer than delegated-len ({delegated_len}) (RFC 6603 section 4.2)"),
                );
                return None;
            }
            Some((addr, len))
        }
        _ => {
            f.error(
                format!("{path}.excluded-prefix"),
                "excluded-prefix and excluded-prefix-len go together",
            );
            return None;
        }
    };
    let pool_id = pool_id_of(f, map, path);
    Some(PdPool6 {
        prefix: Ipv6Addr::from(u128::from(prefix) & prefix6_mask(prefix_len)),
        prefix_len,
        delegated_len,
        excluded_prefix,
        pool_id,
        options: parse_option_data6(
            f,
            map.get("option-data"),
            &format!("{path}.option-data"),
            defs,
        ),
        classes: parse_class_lists(f, map, path),
    })
}

fn parse_interfaces6(f: &mut Findings, map: &Map<String, Value>, path: &str) -> Interfaces6 {
    f.check_keys(map, path, Scope::InterfacesConfig6);
    let mut out = Interfaces6 {
        re_detect: f.bool_at(map, "re-detect", path).unwrap_or(true),
        ..Interfaces6::default()
    };
    if let Some(list) = f.list_at(map, "interfaces", path) {
        for (i, v) in list.iter().enumerate() {
            let p = format!("{path}.interfaces[{i}]");
            let Some(s) = v.as_str() else {
                f.error(p, format!("expected a string, found {}", json_type(v)));
                continue;
            };
            if s == "*" {
                out.all = true;
                continue;
            }
            let (name, unicast) = match s.split_once('/') {
                Some((n, a)) => {
                    // ARM 10.2.5: "eth0/2001:db8::1" makes Kea also accept direct unicast
                    // from clients on that address. The shard sockets drop direct unicast (as
                    // kea-dhcp6 without it); relayed messages to the address are answered, so
                    // the config is kept and the gap named (a Kea config for relays on "lo/::1"
                    // runs as before).
                    let unicast = parse_v6_addr(f, a, &p);
                    if unicast.is_some() {
                        f.unsupported.push(PathIssue::new(
                            p.clone(),
                            format!(
                                "unicast address '{a}' on interface '{n}' is not supported yet: \
                                 relayed messages to it are answered, direct unicast from \
                                 clients is dropped"
                            ),
                        ));
                    }
                    (n, unicast)
                }
                None => (s, None),
            };
            if name.is_empty() {
                f.error(p, "empty interface name");
                continue;
            }
            out.interfaces.push(Interface6Spec {
                name: name.to_string(),
                unicast,
            });
        }
    }
    out
}

fn parse_server_id(f: &mut Findings, map: &Map<String, Value>, path: &str) -> ServerIdConfig {
    f.check_keys(map, path, Scope::ServerId6);
    let mut out = ServerIdConfig::default();
    if let Some(t) = f.str_at(map, "type", path) {
        out.duid_type = match t {
            "LLT" => DuidType::Llt,
            "EN" => DuidType::En,
            "LL" => DuidType::Ll,
            other => {
                f.error(
                    format!("{path}.type"),
                    format!("'{other}' is not a server DUID type (expected LLT, EN or LL)"),
                );
                DuidType::Llt
            }
        };
    }
    if let Some(id) = f.str_at(map, "identifier", path) {
        match corelease_types::parse_hex_bytes(id) {
            Some(bytes) if !bytes.is_empty() => out.identifier = Some(bytes),
            Some(_) => {}
            None => f.error(
                format!("{path}.identifier"),
                format!("'{id}' is not hexadecimal bytes"),
            ),
        }
    }
    if let Some(h) = f.int_in(map, "htype", path, 0, 65535) {
        out.htype = h as u16;
    }
    out.time = f.u32_at(map, "time", path).filter(|t| *t != 0);
    if let Some(e) = f.u32_at(map, "enterprise-id", path) {
        out.enterprise_id = e;
    }
    out.persist = f.bool_at(map, "persist", path).unwrap_or(true);
    if out.duid_type == DuidType::En && map.contains_key("htype") {
        f.warn(format!("{path}.htype"), "htype is not used by an EN DUID");
    }
    out
}

/// Dhcp6 `option-def` (ARM 10.2.12): 16-bit codes; a standard dhcp6 option cannot be
/// redefined; names and codes unique per space. Type checks are the Dhcp4 parser's.
fn parse_option_defs6(f: &mut Findings, value: Option<&Value>, path: &str) -> Vec<OptionDef6> {
    let mut defs: Vec<OptionDef6> = Vec::new();
    let Some(value) = value else {
        return defs;
    };
    let Some(list) = value.as_array() else {
        f.error(path, format!("expected a list, found {}", json_type(value)));
        return defs;
    };
    for (i, item) in list.iter().enumerate() {
        if let Some(def) = parse_option_def6(f, item, &format!("{path}[{i}]"), &defs) {
            defs.push(def);
        }
    }
    defs
}

fn parse_option_def6(
    f: &mut Findings,
    value: &Value,
    path: &str,
    earlier: &[OptionDef6],
) -> Option<OptionDef6> {
    let map = as_map(f, value, path)?;
    let (space, name) = option_def_head(f, map, path, DHCP6_SPACE);
    let code = f
        .int_in(map, "code", path, 1, 65535)
        .and_then(|c| u16::try_from(c).ok())
        .and_then(|c| {
            let standard = std_option6_def(c).is_some() || SERVER_MANAGED_V6_CODES.contains(&c);
            if space == DHCP6_SPACE && standard {
                f.error(
                    format!("{path}.code"),
                    format!("unable to override definition of option '{c}' in standard option space 'dhcp6'"),
                );
                return None;
            }
            Some(c)
        });
    let (option_type, array, record_types, encapsulate) = option_def_shape(f, map, path)?;
    let (name, code) = (name?, code?);
    if let Some(other) = earlier.iter().find(|d| d.space == space && d.code == code) {
        f.error(
            format!("{path}.code"),
            format!(
                "option code {code} is already defined in space '{space}' (as '{}')",
                other.name
            ),
        );
        return None;
    }
    if earlier.iter().any(|d| d.space == space && d.name == name) {
        f.error(
            format!("{path}.name"),
            format!("option name '{name}' is already defined in space '{space}'"),
        );
        return None;
    }
    Some(OptionDef6 {
        name,
        code,
        space,
        option_type,
        array,
        record_types,
        encapsulate,
    })
}

fn parse_option_data6(
    f: &mut Findings,
    value: Option<&Value>,
    path: &str,
    defs: &[OptionDef6],
) -> OptionSet6 {
    let mut set = OptionSet6::default();
    let Some(value) = value else {
        return set;
    };
    let Some(list) = value.as_array() else {
        f.error(path, format!("expected a list, found {}", json_type(value)));
        return set;
    };
    for (i, item) in list.iter().enumerate() {
        if let Some(o) = parse_one_option6(f, item, &format!("{path}[{i}]"), defs) {
            set.options.push(o);
        }
    }
    // ARM 16.9: within a scope "an option with an empty client-classes list is checked last";
    // the engine takes the first value of a code whose tags admit the packet, so the tagged
    // values of a scope go first (a stable partition: config order otherwise).
    set.options.sort_by_key(|o| o.client_classes.is_empty());
    crate::options::defs6::encapsulate6(&mut set, defs);
    for o in &set.options {
        if o.data.len() > usize::from(u16::MAX) {
            f.error(
                path,
                format!(
                    "option {} with its sub-options is {} bytes, more than a DHCPv6 option holds (65535)",
                    o.code,
                    o.data.len()
                ),
            );
        }
    }
    set
}

/// A definition the encoder can use: a standard one or an `option-def` entry.
enum Def6<'a> {
    Std(&'static crate::options::defs6::StdOption6Def),
    Custom(&'a OptionDef6),
}

impl Def6<'_> {
    fn name(&self) -> &str {
        match self {
            Def6::Std(d) => d.name,
            Def6::Custom(d) => &d.name,
        }
    }
    fn code(&self) -> u16 {
        match self {
            Def6::Std(d) => d.code,
            Def6::Custom(d) => d.code,
        }
    }
    fn view(&self) -> crate::options::defs::DefView<'_> {
        match self {
            Def6::Std(d) => d.view(),
            Def6::Custom(d) => d.view(),
        }
    }
}

fn parse_one_option6(
    f: &mut Findings,
    value: &Value,
    path: &str,
    defs: &[OptionDef6],
) -> Option<ConfiguredOption6> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::OptionData);
    let space = f
        .str_at(map, "space", path)
        .unwrap_or(DHCP6_SPACE)
        .to_string();
    let name = f.str_at(map, "name", path);
    let code = f.int_in(map, "code", path, 1, 65535).map(|c| c as u16);
    if map.get("code").is_some() && code.is_none() {
        return None;
    }
    // Sub-option spaces (s46-*, vendor-*, custom `encapsulate` spaces) have their own
    // definitions; their options are appended to the option that encapsulates the space.
    let by_code = |c: u16| {
        std_option6_def_in_space(&space, c)
            .map(Def6::Std)
            .or_else(|| {
                defs.iter()
                    .find(|d| d.space == space && d.code == c)
                    .map(Def6::Custom)
            })
    };
    let by_name = |n: &str| {
        std_option6_def_in_space_by_name(&space, n)
            .map(Def6::Std)
            .or_else(|| {
                defs.iter()
                    .find(|d| d.space == space && d.name == n)
                    .map(Def6::Custom)
            })
    };
    let def = match (code, name) {
        (Some(c), n) => {
            let def = by_code(c);
            if let (Some(d), Some(n)) = (&def, n) {
                if d.name() != n {
                    f.error(format!("{path}.name"), format!("option name '{n}' does not match the definition of code {c}: '{space}.{}'", d.name()));
                    return None;
                }
            }
            def
        }
        (None, Some(n)) => match by_name(n) {
            Some(d) => Some(d),
            None => {
                f.error(format!("{path}.name"), format!("unknown option '{n}' in space '{space}' (no standard or option-def definition)"));
                return None;
            }
        },
        (None, None) => {
            f.error(path, "option data needs a 'name' or a 'code'");
            return None;
        }
    };
    let code = code.or(def.as_ref().map(Def6::code))?;
    if space == DHCP6_SPACE && SERVER_MANAGED_V6_CODES.contains(&code) {
        f.error(format!("{path}.code"), format!("option {code} is managed by the server itself and cannot be configured (ARM 10.2.11 table 2)"));
        return None;
    }
    let data = f.str_at(map, "data", path).unwrap_or("");
    let csv_format = f.bool_at(map, "csv-format", path);
    let client_classes = option_client_classes(f, map, path);
    let payload = match &def {
        // ARM 10.2.13: Kea 3.0 reads v6-dnr in its own notation, not as the plain record.
        Some(Def6::Std(d)) if csv_format.unwrap_or(true) && d.code == DNR_V6_CODE => {
            encode::encode_dnr_v6(data)
        }
        Some(d) if csv_format.unwrap_or(true) => encode::encode_csv(&d.view(), data),
        Some(d) => encode::decode_hex(data).and_then(|b| encode::check_wire(&d.view(), &b).map(|()| b)),
        None if csv_format == Some(false) => encode::decode_hex(data),
        None => Err(format!("option code {code} in space '{space}' has no definition; give its data as hex with \"csv-format\": false, or define it in option-def")),
    };
    match payload {
        Ok(bytes) if bytes.len() <= usize::from(u16::MAX) => Some(ConfiguredOption6 {
            code,
            space,
            data: bytes.into_boxed_slice(),
            always_send: f.bool_at(map, "always-send", path).unwrap_or(false),
            never_send: f.bool_at(map, "never-send", path).unwrap_or(false),
            client_classes,
        }),
        Ok(bytes) => {
            f.error(
                format!("{path}.data"),
                format!(
                    "{} bytes do not fit a DHCPv6 option (at most 65535)",
                    bytes.len()
                ),
            );
            None
        }
        Err(m) => {
            f.error(format!("{path}.data"), m);
            None
        }
    }
}

#[cfg(test)]
mod tests;
