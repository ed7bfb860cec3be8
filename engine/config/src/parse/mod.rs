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

pub(crate) mod classes;
mod hosts;
mod network;
mod option_data;
mod services;
/// The Dhcp6 parser lives beside this one so it shares the helpers above.
#[path = "../parse6/mod.rs"]
pub(crate) mod v6;

use classes::*;
use hosts::*;
use network::*;
use option_data::*;
use services::*;

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
                // A no-op setting (empty list, Kea's default) is not worth refusing to start.
                Some(KeyStatus::Unsupported) if crate::keys::is_inert(key, value) => {}
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

/// Parses a whole configuration document (the map holding `Dhcp4`).
pub(crate) fn parse_root(root: &Value) -> (Option<Dhcp4Config>, Findings) {
    parse_server_root(root, "Dhcp4", IGNORED_TOP_LEVEL, parse_dhcp4)
}

/// The document-level frame both servers share: a map holding exactly one `server` map (other
/// Kea top-level maps in `ignored` are skipped), parsed by `parse`; the config only when no
/// error was found.
pub(crate) fn parse_server_root<T>(
    root: &Value,
    server: &str,
    ignored: &[&str],
    parse: fn(&mut Findings, &Map<String, Value>) -> T,
) -> (Option<T>, Findings) {
    let mut f = Findings::default();
    let Some(top) = root.as_object() else {
        f.error(
            "(document)",
            format!(
                "expected a map holding \"{server}\", found {}",
                json_type(root)
            ),
        );
        return (None, f);
    };
    let mut section = None;
    for (key, value) in top {
        if key == server {
            section = Some(value);
        } else if key == "hash" {
            // Kea 2.4+ config-get returns the SHA-256 of the configuration next to the
            // server map (ARM 19.4.3), and that output is meant to be fed back with
            // config-set or written as a file: the hash is accepted and not checked (it
            // describes the config it came with, not this one after edits). Kea 2.2, which
            // has no hash, refuses it ("Unsupported 'hash' parameter.").
            if !value.is_string() {
                f.error(
                    "hash",
                    format!("expected a string, found {}", json_type(value)),
                );
            }
        } else if !ignored.contains(&key.as_str()) {
            f.error(key.clone(), "unknown key");
        }
    }
    let Some(section) = section else {
        f.error(
            server,
            format!("missing: the configuration has no {server} map"),
        );
        return (None, f);
    };
    let Some(map) = as_map(&mut f, section, server) else {
        return (None, f);
    };
    let config = parse(&mut f, map);
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
    let client_classes = f
        .list_at(map, "client-classes", path)
        .map(|list| parse_client_classes(f, list, &format!("{path}.client-classes"), &option_defs))
        .unwrap_or_default();
    let mut hooks_libraries = Vec::new();
    let mut flex_id = None;
    let mut flex_entry = None;
    if let Some(list) = f.list_at(map, "hooks-libraries", path) {
        for (i, v) in list.iter().enumerate() {
            let entry = format!("{path}.hooks-libraries[{i}]");
            let Some(library) = parse_hook_library(f, v, &entry) else {
                continue;
            };
            if services::is_flex_id_library(&library.library) {
                flex_id = services::parse_flex_id(f, &library, &entry, &option_defs);
                flex_entry = Some(entry);
                continue;
            }
            services::check_run_script(f, &library, &entry, !hooks_libraries.is_empty());
            hooks_libraries.push(library);
        }
    }

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
    // The kernel steers a DHCPv4 client to a shard by its chaddr, and a lease lives on its
    // client's shard. A replaced client identifier exists so that a new device (new chaddr)
    // with the same flex-id keeps the lease, but that device lands on another shard than the
    // lease. Until the steering evaluates the flex-id, replace-client-id needs one shard (as
    // for DHCPv6).
    let one_shard = !multi_threading.enable || multi_threading.thread_pool_size == 1;
    if let Some(entry) = flex_entry {
        if flex_id.as_ref().is_some_and(|x| x.replace_client_id) && !one_shard {
            f.unsupported.push(PathIssue::new(
                format!("{entry}.parameters.replace-client-id"),
                "not supported yet with more than one thread: set multi-threading \
                 enable-multi-threading false or thread-pool-size 1",
            ));
        }
    }
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
        flex_id,
        other: parse_other_globals(f, map, path),
        client_classes,
        dhcp4o6_port: parse_dhcp4o6_port(f, map, path),
    }
}

/// `dhcp4o6-port` (ARM 9.2.26 / 10.2.26): 0 turns DHCPv4-over-DHCPv6 off; the other server
/// uses the port + 1, so 65535 is refused (as Kea's `Dhcp4o6IpcBase::open` does).
pub(crate) fn parse_dhcp4o6_port(f: &mut Findings, map: &Map<String, Value>, path: &str) -> u16 {
    f.int_in(map, "dhcp4o6-port", path, 0, 65534)
        .and_then(|n| u16::try_from(n).ok())
        .unwrap_or(0)
}
