//! Dhcp4 JSON value -> validated model. Every problem is collected with its JSON path; the
//! parse goes on after an error so that one run reports them all.

use crate::keys::{KeyStatus, Scope, IGNORED_TOP_LEVEL};
use crate::model::*;
use crate::options::defs::{self, DefView, OptionDef, OptionType, DHCP4_SPACE};
use crate::options::{encapsulate, encode, ConfiguredOption, OptionSet};
use crate::PathIssue;
use corelease_types::{PoolId, SubnetId};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// Problems found while parsing, by kind.
#[derive(Default)]
pub(crate) struct Findings {
    pub errors: Vec<PathIssue>,
    pub unsupported: Vec<PathIssue>,
    pub warnings: Vec<PathIssue>,
}

impl Findings {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(PathIssue::new(path, message));
    }

    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(PathIssue::new(path, message));
    }

    /// Reports unknown and not-yet-supported keys of `map`, and checks the types of the
    /// `comment` and `user-context` keys Kea accepts in most maps.
    fn check_keys(&mut self, map: &Map<String, Value>, path: &str, scope: Scope) {
        for (key, value) in map {
            let key_path = format!("{path}.{key}");
            match scope.status(key) {
                Some(KeyStatus::Supported) => {}
                Some(KeyStatus::Unsupported) => self
                    .unsupported
                    .push(PathIssue::new(key_path, "not supported yet")),
                None => self.error(key_path, "unknown key"),
            }
            if key == "user-context" && !value.is_object() {
                self.error(
                    format!("{path}.{key}"),
                    format!("expected a map, found {}", json_type(value)),
                );
            }
            if key == "comment" && !value.is_string() {
                self.error(
                    format!("{path}.{key}"),
                    format!("expected a string, found {}", json_type(value)),
                );
            }
        }
    }

    fn int_in(
        &mut self,
        map: &Map<String, Value>,
        key: &str,
        path: &str,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let value = map.get(key)?;
        let key_path = format!("{path}.{key}");
        match value.as_i64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.error(key_path, format!("{n} is out of range {min}..{max}"));
                None
            }
            None => {
                self.error(
                    key_path,
                    format!("expected an integer, found {}", json_type(value)),
                );
                None
            }
        }
    }

    fn u32_at(&mut self, map: &Map<String, Value>, key: &str, path: &str) -> Option<u32> {
        self.int_in(map, key, path, 0, u32::MAX.into())
            .and_then(|n| u32::try_from(n).ok())
    }

    fn bool_at(&mut self, map: &Map<String, Value>, key: &str, path: &str) -> Option<bool> {
        let value = map.get(key)?;
        match value.as_bool() {
            Some(b) => Some(b),
            None => {
                self.error(
                    format!("{path}.{key}"),
                    format!("expected a boolean, found {}", json_type(value)),
                );
                None
            }
        }
    }

    fn str_at<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'v str> {
        let value = map.get(key)?;
        match value.as_str() {
            Some(s) => Some(s),
            None => {
                self.error(
                    format!("{path}.{key}"),
                    format!("expected a string, found {}", json_type(value)),
                );
                None
            }
        }
    }

    /// Kea's grammar takes only floating point literals for its real-valued keys.
    fn real_at(&mut self, map: &Map<String, Value>, key: &str, path: &str) -> Option<f64> {
        let value = map.get(key)?;
        match value {
            Value::Number(n) if n.is_f64() => n.as_f64(),
            _ => {
                self.error(
                    format!("{path}.{key}"),
                    format!(
                        "expected a real number with a decimal point (e.g. 0.5), found {}",
                        json_type(value)
                    ),
                );
                None
            }
        }
    }

    fn map_at<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'v Map<String, Value>> {
        let value = map.get(key)?;
        as_map(self, value, &format!("{path}.{key}"))
    }

    fn list_at<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'v [Value]> {
        let value = map.get(key)?;
        match value.as_array() {
            Some(list) => Some(list),
            None => {
                self.error(
                    format!("{path}.{key}"),
                    format!("expected a list, found {}", json_type(value)),
                );
                None
            }
        }
    }
}

fn as_map<'v>(
    findings: &mut Findings,
    value: &'v Value,
    path: &str,
) -> Option<&'v Map<String, Value>> {
    match value.as_object() {
        Some(m) => Some(m),
        None => {
            findings.error(path, format!("expected a map, found {}", json_type(value)));
            None
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "real number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn user_context(map: &Map<String, Value>) -> Option<Value> {
    map.get("user-context").filter(|v| v.is_object()).cloned()
}

/// Kea's default valid lifetime (simple_parser4.cc GLOBAL4_DEFAULTS).
const DEFAULT_VALID_LIFETIME: u32 = 7200;
/// RFC 2131 4.4.5 T1/T2 fractions, Kea's defaults (ARM 9.2.9).
const DEFAULT_T1_PERCENT: f64 = 0.5;
const DEFAULT_T2_PERCENT: f64 = 0.875;
/// Kea's limit for thread-pool-size and packet-queue-size.
const MAX_THREADS_OR_QUEUE: i64 = 65535;
/// Sizes of the BOOTP sname and file fields (RFC 2131 section 2).
const SNAME_LEN: usize = 64;
const FILE_LEN: usize = 128;

/// Parameters inherited global -> shared network -> subnet (ARM 9.4.x, Kea's
/// `INHERIT_TO_SUBNET4` and the Network4 fetchers).
#[derive(Clone, Debug, Default)]
struct Params {
    valid: Option<u32>,
    min_valid: Option<u32>,
    max_valid: Option<u32>,
    renew: Option<u32>,
    rebind: Option<u32>,
    calculate_tee_times: Option<bool>,
    t1_percent: Option<f64>,
    t2_percent: Option<f64>,
    match_client_id: Option<bool>,
    authoritative: Option<bool>,
    next_server: Option<Ipv4Addr>,
    server_hostname: Option<String>,
    boot_file_name: Option<String>,
    reservations_global: Option<bool>,
    reservations_in_subnet: Option<bool>,
    reservations_out_of_pool: Option<bool>,
    allocator: Option<Allocator>,
    offer_lifetime: Option<u32>,
    cache_threshold: Option<f64>,
    cache_max_age: Option<u32>,
    store_extended_info: Option<bool>,
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

    fn sets_lifetime(&self) -> bool {
        self.valid.is_some() || self.min_valid.is_some() || self.max_valid.is_some()
    }

    fn sets_timers(&self) -> bool {
        self.sets_lifetime() || self.renew.is_some() || self.rebind.is_some()
    }

    fn sets_tee(&self) -> bool {
        self.calculate_tee_times.is_some() || self.t1_percent.is_some() || self.t2_percent.is_some()
    }
}

fn parse_params(f: &mut Findings, map: &Map<String, Value>, path: &str) -> Params {
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
fn lifetime_triplet(p: &Params) -> Result<Lifetime, String> {
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
fn check_scope_timers(f: &mut Findings, path: &str, own: &Params, merged: &Params) {
    if own.sets_lifetime() {
        if let Err(message) = lifetime_triplet(merged) {
            f.error(format!("{path}.valid-lifetime"), message);
        }
    }
    if own.sets_timers() {
        let valid = merged.valid.unwrap_or(DEFAULT_VALID_LIFETIME);
        match (merged.renew, merged.rebind) {
            (Some(renew), Some(rebind)) if renew > rebind => f.error(
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

/// Parses a whole configuration document (the map holding `Dhcp4`).
pub(crate) fn parse_root(root: &Value) -> (Option<Dhcp4Config>, Findings) {
    let mut f = Findings::default();
    let Some(top) = root.as_object() else {
        f.error(
            "(document)",
            format!(
                "expected a map holding \"Dhcp4\", found {}",
                json_type(root)
            ),
        );
        return (None, f);
    };
    let mut dhcp4 = None;
    for (key, value) in top {
        if key == "Dhcp4" {
            dhcp4 = Some(value);
        } else if !IGNORED_TOP_LEVEL.contains(&key.as_str()) {
            f.error(key.clone(), "unknown key");
        }
    }
    let Some(dhcp4) = dhcp4 else {
        f.error("Dhcp4", "missing: the configuration has no Dhcp4 map");
        return (None, f);
    };
    let Some(map) = as_map(&mut f, dhcp4, "Dhcp4") else {
        return (None, f);
    };
    let config = parse_dhcp4(&mut f, map);
    if f.errors.is_empty() {
        (Some(config), f)
    } else {
        (None, f)
    }
}

fn parse_dhcp4(f: &mut Findings, map: &Map<String, Value>) -> Dhcp4Config {
    let path = "Dhcp4";
    f.check_keys(map, path, Scope::Global);

    let option_defs = parse_option_defs(f, map.get("option-def"), &format!("{path}.option-def"));
    let global_options = parse_option_data(
        f,
        map.get("option-data"),
        &format!("{path}.option-data"),
        &option_defs,
    );

    let global_own = parse_params(f, map, path);
    let mut global_merged = global_own.clone();
    global_merged.valid = global_merged.valid.or(Some(DEFAULT_VALID_LIFETIME));
    check_scope_timers(f, path, &global_own, &global_merged);

    let ip_reservations_unique = f
        .bool_at(map, "ip-reservations-unique", path)
        .unwrap_or(true);
    let reservations = f
        .list_at(map, "reservations", path)
        .map(|list| {
            parse_reservations(
                f,
                list,
                &format!("{path}.reservations"),
                None,
                &option_defs,
                ip_reservations_unique,
            )
        })
        .unwrap_or_default();
    let host_reservation_identifiers = parse_identifier_types(f, map, path);
    let control_sockets = parse_control_sockets(f, map, path);
    let hooks_libraries = f
        .list_at(map, "hooks-libraries", path)
        .map(|list| {
            list.iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    parse_hook_library(f, v, &format!("{path}.hooks-libraries[{i}]"))
                })
                .collect()
        })
        .unwrap_or_default();

    let mut subnets = Vec::new();
    let mut shared_networks = Vec::new();
    let mut seen = SeenSubnets {
        ip_reservations_unique,
        ..SeenSubnets::default()
    };
    // Subnets are numbered in document order, whichever of the two lists comes first.
    for (key, _) in map {
        match key.as_str() {
            "subnet4" => {
                if let Some(list) = f.list_at(map, "subnet4", path) {
                    for (i, item) in list.iter().enumerate() {
                        let sub_path = format!("{path}.subnet4[{i}]");
                        if let Some(s) = parse_subnet(
                            f,
                            item,
                            &sub_path,
                            &global_merged,
                            None,
                            &option_defs,
                            &mut seen,
                        ) {
                            subnets.push(s);
                        }
                    }
                }
            }
            "shared-networks" => {
                if let Some(list) = f.list_at(map, "shared-networks", path) {
                    let mut names: HashMap<String, String> = HashMap::new();
                    for (i, item) in list.iter().enumerate() {
                        let sn_path = format!("{path}.shared-networks[{i}]");
                        parse_shared_network(
                            f,
                            item,
                            &sn_path,
                            &global_merged,
                            &option_defs,
                            &mut seen,
                            &mut names,
                            &mut subnets,
                            &mut shared_networks,
                        );
                    }
                }
            }
            _ => {}
        }
    }

    let interfaces = map
        .get("interfaces-config")
        .and_then(|v| as_map(f, v, &format!("{path}.interfaces-config")))
        .map(|m| parse_interfaces(f, m, &format!("{path}.interfaces-config")))
        .unwrap_or_default();
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

    Dhcp4Config {
        interfaces,
        lease_database,
        subnets,
        shared_networks,
        global_options,
        option_defs,
        multi_threading,
        decline_probation_period: f
            .u32_at(map, "decline-probation-period", path)
            .unwrap_or(86400),
        echo_client_id: f.bool_at(map, "echo-client-id", path).unwrap_or(true),
        loggers,
        expired_leases_processing,
        user_context: user_context(map),
        reservations,
        host_reservation_identifiers,
        ip_reservations_unique,
        control_sockets,
        hooks_libraries,
        other: parse_other_globals(f, map, path),
    }
}

fn parse_hook_library(f: &mut Findings, value: &Value, path: &str) -> Option<HookLibrary> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::HookLibrary);
    let library = match f.str_at(map, "library", path) {
        Some("") => {
            f.error(format!("{path}.library"), "must not be empty");
            None
        }
        Some(l) => Some(PathBuf::from(l)),
        None => {
            if !map.contains_key("library") {
                f.error(path, "mandatory 'library' parameter is missing");
            }
            None
        }
    };
    Some(HookLibrary {
        library: library?,
        parameters: map.get("parameters").cloned(),
    })
}

/// `control-socket` (one map, the pre-2.7 form) or `control-sockets` (a list), ARM 9.9.
fn parse_control_sockets(
    f: &mut Findings,
    map: &Map<String, Value>,
    path: &str,
) -> Vec<ControlSocket> {
    let mut sockets = Vec::new();
    if map.contains_key("control-socket") && map.contains_key("control-sockets") {
        f.error(
            format!("{path}.control-sockets"),
            "give either control-socket or control-sockets, not both",
        );
        return sockets;
    }
    if let Some(v) = map.get("control-socket") {
        sockets.extend(parse_control_socket(
            f,
            v,
            &format!("{path}.control-socket"),
        ));
    }
    if let Some(list) = f.list_at(map, "control-sockets", path) {
        for (i, v) in list.iter().enumerate() {
            sockets.extend(parse_control_socket(
                f,
                v,
                &format!("{path}.control-sockets[{i}]"),
            ));
        }
    }
    // ARM 9.9.1: "Kea supports only one unix control socket".
    if sockets
        .iter()
        .filter(|s| s.socket_type == ControlSocketType::Unix)
        .count()
        > 1
    {
        f.error(
            format!("{path}.control-sockets"),
            "only one unix control socket is supported",
        );
    }
    sockets
}

fn parse_control_socket(f: &mut Findings, value: &Value, path: &str) -> Option<ControlSocket> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::ControlSocket);
    let socket_type = match f.str_at(map, "socket-type", path) {
        Some("unix") => Some(ControlSocketType::Unix),
        Some("http") => Some(ControlSocketType::Http),
        Some("https") => Some(ControlSocketType::Https),
        Some(other) => {
            f.error(
                format!("{path}.socket-type"),
                format!("'{other}' is not a control socket type (expected unix, http or https)"),
            );
            None
        }
        None => {
            if !map.contains_key("socket-type") {
                f.error(path, "mandatory 'socket-type' parameter is missing");
            }
            None
        }
    };
    let socket_name = f.str_at(map, "socket-name", path).map(str::to_string);
    if socket_type == Some(ControlSocketType::Unix)
        && socket_name.as_deref().unwrap_or("").is_empty()
    {
        f.error(
            path,
            "a unix control socket needs a non-empty 'socket-name'",
        );
    }
    let socket_address = match f.str_at(map, "socket-address", path) {
        None => Some(std::net::IpAddr::from([127, 0, 0, 1])),
        Some(text) => match text.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                f.error(
                    format!("{path}.socket-address"),
                    format!("'{text}' is not a valid IP address"),
                );
                None
            }
        },
    };
    let socket_port = f
        .int_in(map, "socket-port", path, 1, u16::MAX.into())
        .and_then(|n| u16::try_from(n).ok())
        .unwrap_or(8000);
    let mut http_headers = Vec::new();
    if let Some(list) = f.list_at(map, "http-headers", path) {
        for (i, v) in list.iter().enumerate() {
            let p = format!("{path}.http-headers[{i}]");
            let Some(h) = as_map(f, v, &p) else {
                continue;
            };
            match (f.str_at(h, "name", &p), f.str_at(h, "value", &p)) {
                (Some(n), Some(v)) if !n.is_empty() => {
                    http_headers.push((n.to_string(), v.to_string()))
                }
                _ => f.error(p, "an HTTP header needs a non-empty 'name' and a 'value'"),
            }
        }
    }
    let trust_anchor = f.str_at(map, "trust-anchor", path).map(str::to_string);
    let cert_file = f.str_at(map, "cert-file", path).map(str::to_string);
    let key_file = f.str_at(map, "key-file", path).map(str::to_string);
    let cert_required = f.bool_at(map, "cert-required", path).unwrap_or(true);
    if socket_type == Some(ControlSocketType::Https)
        && (trust_anchor.is_none() || cert_file.is_none() || key_file.is_none())
    {
        f.error(
            path,
            "an https control socket needs trust-anchor, cert-file and key-file",
        );
    }
    let authentication = f
        .map_at(map, "authentication", path)
        .map(|m| Value::Object(m.clone()));
    Some(ControlSocket {
        socket_type: socket_type?,
        socket_name,
        socket_address: socket_address?,
        socket_port,
        http_headers,
        trust_anchor,
        cert_file,
        key_file,
        cert_required,
        authentication,
        user_context: user_context(map),
    })
}

#[derive(Default)]
struct SeenSubnets {
    ids: HashMap<u32, String>,
    prefixes: HashMap<String, String>,
    ip_reservations_unique: bool,
}

/// What a subnet inherits from its shared network besides [`Params`].
struct SharedNetworkContext<'a> {
    index: usize,
    interface: Option<&'a str>,
    relay: &'a [Ipv4Addr],
}

#[allow(clippy::too_many_arguments)]
fn parse_shared_network(
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
    });
}

fn parse_relay(f: &mut Findings, map: &Map<String, Value>, path: &str) -> Option<Vec<Ipv4Addr>> {
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
fn parse_prefix(text: &str) -> Result<(Ipv4Addr, u8), String> {
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

fn parse_subnet(
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
    })
}

/// One of `allowed` at `map[key]`, or `default`.
fn choice_at(
    f: &mut Findings,
    map: &Map<String, Value>,
    key: &str,
    path: &str,
    allowed: &[&str],
    default: &str,
) -> String {
    match f.str_at(map, key, path) {
        Some(v) if allowed.contains(&v) => v.to_string(),
        Some(v) => {
            f.error(
                format!("{path}.{key}"),
                format!("'{v}' is not valid (expected {})", allowed.join(", ")),
            );
            default.to_string()
        }
        None => default.to_string(),
    }
}

fn parse_other_globals(f: &mut Findings, map: &Map<String, Value>, path: &str) -> OtherGlobals {
    let d = OtherGlobals::default();
    let mut o = OtherGlobals {
        server_tag: f.str_at(map, "server-tag", path).unwrap_or("").to_string(),
        statistic_default_sample_count: f
            .u32_at(map, "statistic-default-sample-count", path)
            .unwrap_or(d.statistic_default_sample_count),
        statistic_default_sample_age: f
            .u32_at(map, "statistic-default-sample-age", path)
            .unwrap_or(d.statistic_default_sample_age),
        parked_packet_limit: f
            .u32_at(map, "parked-packet-limit", path)
            .unwrap_or(d.parked_packet_limit),
        early_global_reservations_lookup: f
            .bool_at(map, "early-global-reservations-lookup", path)
            .unwrap_or(false),
        reservations_lookup_first: f
            .bool_at(map, "reservations-lookup-first", path)
            .unwrap_or(false),
        stash_agent_options: f.bool_at(map, "stash-agent-options", path).unwrap_or(false),
        ..d
    };
    let compat_path = format!("{path}.compatibility");
    if let Some(c) = f.map_at(map, "compatibility", path) {
        o.lenient_option_parsing = f
            .bool_at(c, "lenient-option-parsing", &compat_path)
            .unwrap_or(false);
        o.ignore_dhcp_server_identifier = f
            .bool_at(c, "ignore-dhcp-server-identifier", &compat_path)
            .unwrap_or(false);
        o.ignore_rai_link_selection = f
            .bool_at(c, "ignore-rai-link-selection", &compat_path)
            .unwrap_or(false);
        o.exclude_first_last_24 = f
            .bool_at(c, "exclude-first-last-24", &compat_path)
            .unwrap_or(false);
    }
    let sanity_path = format!("{path}.sanity-checks");
    if let Some(c) = f.map_at(map, "sanity-checks", path) {
        o.lease_checks = choice_at(
            f,
            c,
            "lease-checks",
            &sanity_path,
            &["none", "warn", "fix", "fix-del", "del"],
            "warn",
        );
        o.extended_info_checks = choice_at(
            f,
            c,
            "extended-info-checks",
            &sanity_path,
            &["none", "fix", "strict", "pedantic"],
            "fix",
        );
    }
    let queue_path = format!("{path}.dhcp-queue-control");
    if let Some(q) = f.map_at(map, "dhcp-queue-control", path) {
        o.queue_enabled = f.bool_at(q, "enable-queue", &queue_path).unwrap_or(false);
        o.queue_type = f
            .str_at(q, "queue-type", &queue_path)
            .unwrap_or("kea-ring4")
            .to_string();
        o.queue_capacity = f.u32_at(q, "capacity", &queue_path).unwrap_or(64);
    }
    o
}

/// `host-reservation-identifiers` (Kea's default order for DHCPv4 when absent).
fn parse_identifier_types(
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
fn parse_identifier(kind: HostIdentifierType, text: &str) -> Result<Vec<u8>, String> {
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
fn parse_reservations(
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

/// Parses "first - last" (spaces optional) or "prefix/len" (ARM 9.2.8).
fn parse_pool_range(text: &str) -> Result<(Ipv4Addr, Ipv4Addr), String> {
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

fn parse_pool(
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
    })
}

fn parse_interfaces(f: &mut Findings, map: &Map<String, Value>, path: &str) -> InterfacesConfig {
    f.check_keys(map, path, Scope::InterfacesConfig);
    let mut config = InterfacesConfig::default();
    if let Some(list) = f.list_at(map, "interfaces", path) {
        for (i, v) in list.iter().enumerate() {
            let p = format!("{path}.interfaces[{i}]");
            let Some(s) = v.as_str() else {
                f.error(p, format!("expected a string, found {}", json_type(v)));
                continue;
            };
            if s == "*" {
                config.all = true;
                continue;
            }
            let (name, addr) = match s.split_once('/') {
                Some((name, addr)) => match addr.parse::<Ipv4Addr>() {
                    Ok(a) => (name, Some(a)),
                    Err(_) => {
                        f.error(p, format!("'{addr}' in '{s}' is not a valid IPv4 address"));
                        continue;
                    }
                },
                None => (s, None),
            };
            if name.is_empty() {
                f.error(p, "interface name must not be empty");
                continue;
            }
            config.interfaces.push(InterfaceSpec {
                name: name.to_string(),
                addr,
            });
        }
    }
    if let Some(s) = f.str_at(map, "dhcp-socket-type", path) {
        match s {
            "raw" => config.socket_type = SocketType::Raw,
            "udp" => config.socket_type = SocketType::Udp,
            other => f.error(
                format!("{path}.dhcp-socket-type"),
                format!("'{other}' is not a socket type (expected raw or udp)"),
            ),
        }
    }
    if let Some(s) = f.str_at(map, "outbound-interface", path) {
        match s {
            "same-as-inbound" => config.outbound_interface = OutboundInterface::SameAsInbound,
            "use-routing" => config.outbound_interface = OutboundInterface::UseRouting,
            other => f.error(
                format!("{path}.outbound-interface"),
                format!("'{other}' is not valid (expected same-as-inbound or use-routing)"),
            ),
        }
    }
    if let Some(b) = f.bool_at(map, "re-detect", path) {
        config.re_detect = b;
    }
    if let Some(b) = f.bool_at(map, "service-sockets-require-all", path) {
        config.service_sockets_require_all = b;
    }
    if let Some(n) = f.u32_at(map, "service-sockets-max-retries", path) {
        config.service_sockets_max_retries = n;
    }
    if let Some(n) = f.u32_at(map, "service-sockets-retry-wait-time", path) {
        config.service_sockets_retry_wait_time = n;
    }
    config
}

fn parse_lease_database(f: &mut Findings, map: &Map<String, Value>, path: &str) -> LeaseDatabase {
    f.check_keys(map, path, Scope::LeaseDatabase);
    let mut db = LeaseDatabase::default();
    match f.str_at(map, "type", path) {
        Some("memfile") => {}
        Some(t @ ("mysql" | "postgresql")) => f.unsupported.push(PathIssue::new(
            format!("{path}.type"),
            format!("{t} not supported yet (only memfile)"),
        )),
        Some(other) => f.error(
            format!("{path}.type"),
            format!(
                "'{other}' is not a lease database type (expected memfile, mysql or postgresql)"
            ),
        ),
        None => {
            if !map.contains_key("type") {
                f.error(path, "mandatory 'type' parameter is missing");
            }
        }
    }
    if let Some(b) = f.bool_at(map, "persist", path) {
        db.persist = b;
    }
    // Kea accepts an empty name and then uses its default file.
    if let Some(name) = f.str_at(map, "name", path).filter(|n| !n.is_empty()) {
        db.name = Some(PathBuf::from(name));
    }
    if let Some(n) = f.u32_at(map, "lfc-interval", path) {
        db.lfc_interval = n;
    }
    if let Some(n) = f.u32_at(map, "max-row-errors", path) {
        db.max_row_errors = n;
    }
    let max_delay_us = f
        .int_in(map, "group-commit-max-delay-us", path, 1, u32::MAX.into())
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(500);
    let max_batch = f
        .int_in(map, "group-commit-max-batch", path, 1, u32::MAX.into())
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(256);
    match f.str_at(map, "durability", path) {
        None | Some("default") => {}
        Some("group-commit") => {
            db.durability = Durability::GroupCommit {
                max_delay_us,
                max_batch,
            }
        }
        Some(other) => f.error(
            format!("{path}.durability"),
            format!("'{other}' is not a durability (expected default or group-commit)"),
        ),
    }
    db
}

fn parse_multi_threading(f: &mut Findings, map: &Map<String, Value>, path: &str) -> MultiThreading {
    f.check_keys(map, path, Scope::MultiThreading);
    let mut mt = MultiThreading::default();
    if let Some(b) = f.bool_at(map, "enable-multi-threading", path) {
        mt.enable = b;
    }
    if let Some(n) = f.int_in(map, "thread-pool-size", path, 0, MAX_THREADS_OR_QUEUE) {
        mt.thread_pool_size = u32::try_from(n).unwrap_or(0);
    }
    if let Some(n) = f.int_in(map, "packet-queue-size", path, 0, MAX_THREADS_OR_QUEUE) {
        mt.packet_queue_size = u32::try_from(n).unwrap_or(64);
    }
    mt
}

fn parse_expired(
    f: &mut Findings,
    map: &Map<String, Value>,
    path: &str,
) -> ExpiredLeasesProcessing {
    f.check_keys(map, path, Scope::ExpiredLeasesProcessing);
    let d = ExpiredLeasesProcessing::default();
    ExpiredLeasesProcessing {
        reclaim_timer_wait_time: f
            .u32_at(map, "reclaim-timer-wait-time", path)
            .unwrap_or(d.reclaim_timer_wait_time),
        flush_reclaimed_timer_wait_time: f
            .u32_at(map, "flush-reclaimed-timer-wait-time", path)
            .unwrap_or(d.flush_reclaimed_timer_wait_time),
        hold_reclaimed_time: f
            .u32_at(map, "hold-reclaimed-time", path)
            .unwrap_or(d.hold_reclaimed_time),
        max_reclaim_leases: f
            .u32_at(map, "max-reclaim-leases", path)
            .unwrap_or(d.max_reclaim_leases),
        max_reclaim_time: f
            .u32_at(map, "max-reclaim-time", path)
            .unwrap_or(d.max_reclaim_time),
        unwarned_reclaim_cycles: f
            .u32_at(map, "unwarned-reclaim-cycles", path)
            .unwrap_or(d.unwarned_reclaim_cycles),
    }
}

fn parse_logger(f: &mut Findings, value: &Value, path: &str) -> Option<LoggerConfig> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::Logger);
    let name = match f.str_at(map, "name", path) {
        Some("") => {
            f.error(format!("{path}.name"), "must not be empty");
            None
        }
        Some(n) => Some(n.to_string()),
        None => {
            if !map.contains_key("name") {
                f.error(path, "mandatory 'name' parameter is missing");
            }
            None
        }
    };
    let severity = match f.str_at(map, "severity", path) {
        None => Severity::Info,
        Some(s) => match s.to_ascii_uppercase().as_str() {
            "DEBUG" => Severity::Debug,
            "INFO" => Severity::Info,
            "WARN" => Severity::Warn,
            "ERROR" => Severity::Error,
            "FATAL" => Severity::Fatal,
            "NONE" => Severity::None,
            _ => {
                f.error(
                    format!("{path}.severity"),
                    format!("'{s}' is not a severity (expected FATAL, ERROR, WARN, INFO, DEBUG or NONE)"),
                );
                Severity::Info
            }
        },
    };
    let debuglevel = f
        .int_in(map, "debuglevel", path, 0, 99)
        .and_then(|n| u8::try_from(n).ok())
        .unwrap_or(0);
    let key = if map.contains_key("output-options") {
        "output-options"
    } else {
        "output_options"
    };
    let mut output_options = Vec::new();
    if let Some(list) = f.list_at(map, key, path) {
        for (i, v) in list.iter().enumerate() {
            let p = format!("{path}.{key}[{i}]");
            let Some(m) = as_map(f, v, &p) else {
                continue;
            };
            f.check_keys(m, &p, Scope::LoggerOutput);
            let Some(output) = f.str_at(m, "output", &p) else {
                if !m.contains_key("output") {
                    f.error(p, "mandatory 'output' parameter is missing");
                }
                continue;
            };
            output_options.push(LoggerOutput {
                output: output.to_string(),
                flush: f.bool_at(m, "flush", &p).unwrap_or(true),
                maxsize: f
                    .int_in(m, "maxsize", &p, 0, i64::MAX)
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(10_240_000),
                maxver: f.u32_at(m, "maxver", &p).unwrap_or(1),
                pattern: f.str_at(m, "pattern", &p).map(str::to_string),
            });
        }
    } else if !map.contains_key(key) {
        output_options.push(LoggerOutput {
            output: "stdout".to_string(),
            flush: true,
            maxsize: 10_240_000,
            maxver: 1,
            pattern: None,
        });
    }
    Some(LoggerConfig {
        name: name?,
        severity: severity.name().to_string(),
        severity_level: severity,
        debuglevel,
        outputs: output_options.iter().map(|o| o.output.clone()).collect(),
        output_options,
    })
}

/// Option space names: letters, digits, '-' and '_' (Kea's `OptionSpace::validateName`).
fn is_valid_space_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with(['-', '_'])
        && !name.ends_with(['-', '_'])
}

fn is_valid_option_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

fn parse_option_defs(f: &mut Findings, value: Option<&Value>, path: &str) -> Vec<OptionDef> {
    let mut defs: Vec<OptionDef> = Vec::new();
    let Some(value) = value else {
        return defs;
    };
    let Some(list) = value.as_array() else {
        f.error(path, format!("expected a list, found {}", json_type(value)));
        return defs;
    };
    for (i, item) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if let Some(def) = parse_option_def(f, item, &p, &defs) {
            defs.push(def);
        }
    }
    defs
}

fn parse_option_def(
    f: &mut Findings,
    value: &Value,
    path: &str,
    earlier: &[OptionDef],
) -> Option<OptionDef> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::OptionDef);
    for key in ["name", "code", "type"] {
        if !map.contains_key(key) {
            f.error(path, format!("mandatory '{key}' parameter is missing"));
        }
    }
    let space = f
        .str_at(map, "space", path)
        .unwrap_or(DHCP4_SPACE)
        .to_string();
    if !is_valid_space_name(&space) {
        f.error(
            format!("{path}.space"),
            format!("'{space}' is not a valid option space name"),
        );
    }
    let name = f.str_at(map, "name", path).and_then(|n| {
        if is_valid_option_name(n) {
            Some(n.to_string())
        } else {
            f.error(
                format!("{path}.name"),
                format!("'{n}' is not a valid option name"),
            );
            None
        }
    });
    let code = f
        .int_in(map, "code", path, 0, 255)
        .and_then(|c| u8::try_from(c).ok());
    let code = code.and_then(|c| {
        if space == DHCP4_SPACE && (c == 0 || c == 255) {
            f.error(
                format!("{path}.code"),
                format!("option code {c} is reserved for {}", if c == 0 { "PAD" } else { "END" }),
            );
            return None;
        }
        // Option 43 only has a last-resort definition, which a global definition replaces
        // (ARM 9.2.13, 9.2.14).
        if space == DHCP4_SPACE && c != 43 && defs::std_option_def(c).is_some() {
            f.error(
                format!("{path}.code"),
                format!("unable to override definition of option '{c}' in standard option space 'dhcp4'"),
            );
            return None;
        }
        Some(c)
    });
    let type_name = f.str_at(map, "type", path);
    let option_type = type_name.and_then(|t| match OptionType::from_name(t) {
        Some(ty) => Some(ty),
        None => {
            f.error(
                format!("{path}.type"),
                format!("'{t}' is not an option data type"),
            );
            None
        }
    });
    let array = f.bool_at(map, "array", path).unwrap_or(false);
    let record_text = f.str_at(map, "record-types", path).unwrap_or("");
    let encapsulate = f
        .str_at(map, "encapsulate", path)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if let Some(e) = &encapsulate {
        if !is_valid_space_name(e) {
            f.error(
                format!("{path}.encapsulate"),
                format!("'{e}' is not a valid option space name"),
            );
        }
        if array {
            f.error(
                format!("{path}.encapsulate"),
                "an option that encapsulates an option space cannot be an array",
            );
        }
    }
    let option_type = option_type?;
    let mut record_types = Vec::new();
    if option_type == OptionType::Record {
        let fields: Vec<&str> = record_text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if fields.is_empty() {
            f.error(
                format!("{path}.record-types"),
                "a record option needs its field types in record-types",
            );
            return None;
        }
        let count = fields.len();
        for (i, field) in fields.into_iter().enumerate() {
            match OptionType::from_name(field) {
                Some(OptionType::Record | OptionType::Empty) | None => {
                    f.error(
                        format!("{path}.record-types"),
                        format!("'{field}' is not a valid record field type"),
                    );
                    return None;
                }
                Some(ty @ (OptionType::String | OptionType::Binary)) if i + 1 < count => {
                    f.error(
                        format!("{path}.record-types"),
                        format!(
                            "{} data field can't be laid before data fields of other types",
                            ty.name()
                        ),
                    );
                    return None;
                }
                Some(ty) => record_types.push(ty),
            }
        }
    } else if !record_text.trim().is_empty() {
        f.error(
            format!("{path}.record-types"),
            format!(
                "record-types is only for type record, not {}",
                option_type.name()
            ),
        );
        return None;
    }
    if array
        && matches!(
            option_type,
            OptionType::String | OptionType::Binary | OptionType::Empty
        )
    {
        f.error(
            format!("{path}.array"),
            format!(
                "array of {} is not a valid option definition",
                option_type.name()
            ),
        );
        return None;
    }
    let name = name?;
    let code = code?;
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
    Some(OptionDef {
        name,
        code,
        space,
        option_type,
        array,
        record_types,
        encapsulate,
    })
}

fn find_def_by_code<'a>(custom: &'a [OptionDef], space: &str, code: u8) -> Option<DefView<'a>> {
    custom
        .iter()
        .find(|d| d.space == space && d.code == code)
        .map(OptionDef::view)
        .or_else(|| defs::std_option_def_in_space(space, code).map(|d| d.view()))
}

fn find_def_by_name<'a>(custom: &'a [OptionDef], space: &str, name: &str) -> Option<DefView<'a>> {
    custom
        .iter()
        .find(|d| d.space == space && d.name == name)
        .map(OptionDef::view)
        .or_else(|| defs::std_option_def_in_space_by_name(space, name).map(|d| d.view()))
}

fn parse_option_data(
    f: &mut Findings,
    value: Option<&Value>,
    path: &str,
    custom: &[OptionDef],
) -> OptionSet {
    let mut set = OptionSet::default();
    let Some(value) = value else {
        return set;
    };
    let Some(list) = value.as_array() else {
        f.error(path, format!("expected a list, found {}", json_type(value)));
        return set;
    };
    for (i, item) in list.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if let Some(option) = parse_one_option(f, item, &p, custom) {
            set.options.push(option);
        }
    }
    encapsulate(&mut set, custom);
    set
}

fn parse_one_option(
    f: &mut Findings,
    value: &Value,
    path: &str,
    custom: &[OptionDef],
) -> Option<ConfiguredOption> {
    let map = as_map(f, value, path)?;
    f.check_keys(map, path, Scope::OptionData);
    let space = f
        .str_at(map, "space", path)
        .unwrap_or(DHCP4_SPACE)
        .to_string();
    if !is_valid_space_name(&space) {
        f.error(
            format!("{path}.space"),
            format!("'{space}' is not a valid option space name"),
        );
        return None;
    }
    let name = f.str_at(map, "name", path);
    let code = f
        .int_in(map, "code", path, 0, 255)
        .and_then(|c| u8::try_from(c).ok());
    if map.get("code").is_some() && code.is_none() {
        return None;
    }
    if let Some(c) = code {
        if space == DHCP4_SPACE && (c == 0 || c == 255) {
            f.error(
                format!("{path}.code"),
                format!(
                    "option code {c} is reserved for {}",
                    if c == 0 { "PAD" } else { "END" }
                ),
            );
            return None;
        }
    }
    let data = f.str_at(map, "data", path).unwrap_or("");
    let csv_format = f.bool_at(map, "csv-format", path);
    let always_send = f.bool_at(map, "always-send", path).unwrap_or(false);
    let never_send = f.bool_at(map, "never-send", path).unwrap_or(false);

    let def = match (code, name) {
        (Some(c), name) => {
            let def = find_def_by_code(custom, &space, c);
            if let (Some(d), Some(n)) = (&def, name) {
                if d.name != n {
                    f.error(
                        format!("{path}.name"),
                        format!(
                            "option name '{n}' does not match the definition of code {c}: '{space}.{}'",
                            d.name
                        ),
                    );
                    return None;
                }
            }
            if def.is_none() {
                if let Some(n) = name {
                    if find_def_by_name(custom, &space, n).is_some() {
                        f.error(
                            format!("{path}.code"),
                            format!("option '{space}.{n}' is not defined with code {c}"),
                        );
                        return None;
                    }
                }
            }
            def
        }
        (None, Some(n)) => match find_def_by_name(custom, &space, n) {
            Some(d) => Some(d),
            None => {
                f.error(
                    format!("{path}.name"),
                    format!("unknown option '{n}' in space '{space}' (no standard or option-def definition)"),
                );
                return None;
            }
        },
        (None, None) => {
            f.error(path, "option data needs a 'name' or a 'code'");
            return None;
        }
    };
    let data_path = format!("{path}.data");
    let payload = match def {
        Some(d) => {
            if csv_format.unwrap_or(true) {
                encode::encode_csv(&d, data)
            } else {
                encode::decode_hex(data).and_then(|bytes| encode::check_wire(&d, &bytes).map(|()| bytes))
            }
        }
        // Kea accepts an option without a definition only as explicit hex data.
        None if csv_format == Some(false) => encode::decode_hex(data),
        None => Err(format!(
            "option code {} in space '{space}' has no definition; give its data as hex with \"csv-format\": false, or define it in option-def",
            code.unwrap_or(0)
        )),
    };
    let code = code.or(def.map(|d| d.code))?;
    match payload {
        Ok(bytes) => Some(ConfiguredOption {
            code,
            space,
            data: bytes.into_boxed_slice(),
            always_send,
            never_send,
        }),
        Err(message) => {
            f.error(data_path, message);
            None
        }
    }
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
