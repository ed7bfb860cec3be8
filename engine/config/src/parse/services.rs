//! Server-wide sections: interfaces, lease database, threads, lease reclamation, loggers,
//! control sockets, hook libraries and the other global settings.

use super::*;

pub(super) fn parse_hook_library(
    f: &mut Findings,
    value: &Value,
    path: &str,
) -> Option<HookLibrary> {
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

/// Whether a `hooks-libraries` entry is Kea's flexible identifier library (ARM 17.9), which
/// corelease implements natively: recognised by its file name, as the run-script libraries.
pub(super) fn is_flex_id_library(library: &std::path::Path) -> bool {
    library
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split(".so").next())
        .is_some_and(|stem| stem == "libdhcp_flex_id")
}

/// `libdhcp_flex_id.so`'s parameters (ARM 17.9): `identifier-expression` must compile to a
/// string (Kea's FLEX_ID_EXPRESSION_PARSE_FAILED otherwise). Missing or empty, the library
/// loads and generates no identifiers (FLEX_ID_EXPRESSION_NOT_DEFINED / _EMPTY, warnings).
/// `replace-client-id` is a boolean (ARM 17.9.1); `ignore-iaid` is DHCPv6's only.
pub(super) fn parse_flex_id(
    f: &mut Findings,
    library: &HookLibrary,
    path: &str,
    option_defs: &[OptionDef],
) -> Option<FlexId> {
    let resolve = |name: &str| option_code_by_name(name, option_defs);
    parse_flex_id_with(f, library, path, corelease_classify::Universe::V4, &resolve)
}

/// [`parse_flex_id`] for either universe (Dhcp6 compiles the expression for DHCPv6, with its
/// own option names).
pub(super) fn parse_flex_id_with(
    f: &mut Findings,
    library: &HookLibrary,
    path: &str,
    universe: corelease_classify::Universe,
    resolve: &dyn Fn(&str) -> Option<u16>,
) -> Option<FlexId> {
    let empty = Map::new();
    let params = match &library.parameters {
        None => &empty,
        Some(Value::Object(m)) => m,
        Some(other) => {
            f.error(
                format!("{path}.parameters"),
                format!("expected a map, found {}", json_type(other)),
            );
            return None;
        }
    };
    let ppath = format!("{path}.parameters");
    let mut replace_client_id = false;
    for key in ["replace-client-id", "ignore-iaid"] {
        match params.get(key) {
            None => {}
            Some(Value::Bool(b)) if key == "replace-client-id" => replace_client_id = *b,
            Some(Value::Bool(_)) => {}
            Some(other) => f.error(
                format!("{ppath}.{key}"),
                format!("the {key} is {other} but expected boolean value"),
            ),
        }
    }
    let expr = match params.get("identifier-expression") {
        Some(Value::String(e)) if !e.is_empty() => e,
        Some(Value::String(_)) => {
            f.warn(ppath, "Specified identifier-expression is empty (FLEX_ID_EXPRESSION_EMPTY): no flex-id is generated");
            return None;
        }
        None => {
            f.warn(ppath, "Expression (identifier-expression) is not defined (FLEX_ID_EXPRESSION_NOT_DEFINED): no flex-id is generated");
            return None;
        }
        Some(other) => {
            f.error(
                format!("{ppath}.identifier-expression"),
                format!("The identifier-expression is {other}, but expected JSON string"),
            );
            return None;
        }
    };
    let at = format!("{ppath}.identifier-expression");
    match corelease_classify::compile_with(expr, universe, resolve) {
        Ok(p) if p.kind() == corelease_classify::ValueKind::String => Some(FlexId {
            identifier_expression: expr.clone(),
            replace_client_id,
        }),
        Ok(_) => {
            f.error(
                at,
                format!("expression '{expr}' evaluates to a boolean; the flex-id must be a string"),
            );
            None
        }
        Err(e) => {
            f.error(at, format!("expression '{expr}': {e}"));
            None
        }
    }
}

/// A DHCPv4 `hooks-libraries` entry must be one of the run-script libraries corelease
/// implements natively (it loads no shared objects), with a script that exists and is
/// executable now, as Kea checks when it loads the library; only one run-script entry
/// (`not_first`: an entry came before it).
pub(super) fn check_run_script(
    f: &mut Findings,
    library: &HookLibrary,
    path: &str,
    not_first: bool,
) {
    let checked = corelease_hooks::RunScriptConfig::from_library(
        &library.library,
        library.parameters.as_ref(),
        path,
    );
    match checked {
        Ok(_) if not_first => f.error(
            path,
            "a second hooks library; corelease runs one run-script library: configure one script and dispatch on its first argument (the hook point)",
        ),
        Ok(_) => {}
        Err(e) => {
            // The hooks crate names the key in its message ("<path>.parameters.script: ...").
            let text = e.to_string();
            match text.split_once(": ") {
                Some((at, why)) => f.error(at, why),
                None => f.error(path, text),
            }
        }
    }
}

/// `control-socket` (one map, the pre-2.7 form) or `control-sockets` (a list), ARM 9.9.
pub(super) fn parse_control_sockets(
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

pub(super) fn parse_control_socket(
    f: &mut Findings,
    value: &Value,
    path: &str,
) -> Option<ControlSocket> {
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

/// One of `allowed` at `map[key]`, or `default`.
pub(super) fn choice_at(
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

pub(super) fn parse_other_globals(
    f: &mut Findings,
    map: &Map<String, Value>,
    path: &str,
) -> OtherGlobals {
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

pub(super) fn parse_interfaces(
    f: &mut Findings,
    map: &Map<String, Value>,
    path: &str,
) -> InterfacesConfig {
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

pub(super) fn parse_lease_database(
    f: &mut Findings,
    map: &Map<String, Value>,
    path: &str,
) -> LeaseDatabase {
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

pub(super) fn parse_multi_threading(
    f: &mut Findings,
    map: &Map<String, Value>,
    path: &str,
) -> MultiThreading {
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

pub(super) fn parse_expired(
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

pub(super) fn parse_logger(f: &mut Findings, value: &Value, path: &str) -> Option<LoggerConfig> {
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
