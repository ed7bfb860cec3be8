//! The lease4-* commands (ARM 17.15, libdhcp_lease_cmds): argument parsing, Kea's lease JSON
//! (Lease4::toElement) and result texts. The backend finds, adds and deletes; this module
//! decides what each command means and answers with Kea's texts.

use crate::{result, Backend, LeaseQuery, LeaseUpdate, Response};
use corelease_types::{ClientId, HwAddr, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
use serde_json::{json, Map, Value};
use std::net::{IpAddr, Ipv4Addr};

/// Kea's JSON for an IPv4 lease: client-id and user-context only when present, pool-id only
/// when not zero.
pub fn lease_to_json(l: &Lease) -> Value {
    let mut m = Map::new();
    m.insert("ip-address".into(), json!(l.addr.to_string()));
    m.insert(
        "hw-address".into(),
        json!(l.hwaddr.map(|h| h.to_string()).unwrap_or_default()),
    );
    if let Some(c) = &l.client_id {
        m.insert("client-id".into(), json!(c.to_string()));
    }
    m.insert("valid-lft".into(), json!(l.valid_lifetime));
    m.insert("cltt".into(), json!(l.cltt));
    m.insert("subnet-id".into(), json!(l.subnet_id.0));
    if l.pool_id.0 != 0 {
        m.insert("pool-id".into(), json!(l.pool_id.0));
    }
    m.insert("fqdn-fwd".into(), json!(l.fqdn_fwd));
    m.insert("fqdn-rev".into(), json!(l.fqdn_rev));
    m.insert(
        "hostname".into(),
        json!(l.hostname.as_deref().unwrap_or("")),
    );
    m.insert("state".into(), json!(l.state.code()));
    if let Some(uc) = &l.user_context {
        if let Ok(v) = serde_json::from_str::<Value>(uc) {
            m.insert("user-context".into(), v);
        }
    }
    Value::Object(m)
}

/// The arguments of lease4-add / lease4-update, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseArgs {
    pub addr: Ipv4Addr,
    /// 0 / absent: the server selects the subnet containing the address.
    pub subnet: Option<SubnetId>,
    pub hwaddr: HwAddr,
    pub client_id: Option<ClientId>,
    pub valid_lifetime: Option<u32>,
    pub expire: Option<u64>,
    pub fqdn_fwd: bool,
    pub fqdn_rev: bool,
    pub hostname: Option<String>,
    pub state: LeaseState,
    pub user_context: Option<Value>,
    pub force_create: bool,
}

fn missing(name: &str) -> String {
    format!("missing parameter '{name}'")
}

fn str_arg<'a>(m: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match m.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("'{name}' is not a string")),
    }
}

fn bool_arg(m: &Map<String, Value>, name: &str) -> Result<bool, String> {
    match m.get(name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("'{name}' is not a boolean")),
    }
}

fn u64_arg(m: &Map<String, Value>, name: &str) -> Result<Option<u64>, String> {
    match m.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("'{name}' is not a non-negative integer")),
    }
}

fn addr_arg(m: &Map<String, Value>) -> Result<Ipv4Addr, String> {
    let text = str_arg(m, "ip-address")?.ok_or_else(|| missing("ip-address"))?;
    text.parse()
        .map_err(|_| format!("'{text}' is not an IPv4 address"))
}

fn subnet_arg(m: &Map<String, Value>) -> Result<Option<SubnetId>, String> {
    Ok(u64_arg(m, "subnet-id")?
        .map(|v| u32::try_from(v).map_err(|_| format!("subnet-id {v} is out of range")))
        .transpose()?
        .filter(|v| *v != 0)
        .map(SubnetId))
}

fn hw_parse(text: &str) -> Result<HwAddr, String> {
    HwAddr::parse(text, 1).ok_or_else(|| format!("'{text}' is not a hardware address"))
}

fn client_id_parse(text: &str) -> Result<ClientId, String> {
    ClientId::parse(text).ok_or_else(|| format!("'{text}' is not a client identifier"))
}

/// Parses lease4-add / lease4-update arguments (ARM 17.15.1 and 17.15.8).
pub fn lease_from_args(args: Option<&Value>) -> Result<LeaseArgs, String> {
    let m = args
        .and_then(Value::as_object)
        .ok_or_else(|| "Missing mandatory 'arguments' parameter.".to_string())?;
    let addr = addr_arg(m)?;
    let hw_text = str_arg(m, "hw-address")?.ok_or_else(|| missing("hw-address"))?;
    let hwaddr = hw_parse(hw_text)?;
    let client_id = str_arg(m, "client-id")?
        .filter(|s| !s.is_empty())
        .map(client_id_parse)
        .transpose()?;
    let valid_lifetime = u64_arg(m, "valid-lft")?
        .map(|v| u32::try_from(v).map_err(|_| format!("valid-lft {v} is out of range")))
        .transpose()?;
    let state = match u64_arg(m, "state")? {
        None => LeaseState::Default,
        Some(code) => u32::try_from(code)
            .ok()
            .and_then(LeaseState::from_code)
            .filter(|s| {
                matches!(
                    s,
                    LeaseState::Default
                        | LeaseState::Declined
                        | LeaseState::ExpiredReclaimed
                        | LeaseState::Released
                )
            })
            .ok_or_else(|| format!("invalid state {code}: must be 0, 1, 2 or 3"))?,
    };
    let hostname = str_arg(m, "hostname")?
        .filter(|h| !h.is_empty())
        .map(str::to_string);
    let fqdn_fwd = bool_arg(m, "fqdn-fwd")?;
    let fqdn_rev = bool_arg(m, "fqdn-rev")?;
    if (fqdn_fwd || fqdn_rev) && hostname.is_none() {
        return Err(
            "No hostname specified and either forward or reverse fqdn was set to true.".to_string(),
        );
    }
    let user_context = match m.get("user-context") {
        None => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => return Err("'user-context' must be a JSON map".to_string()),
    };
    Ok(LeaseArgs {
        addr,
        subnet: subnet_arg(m)?,
        hwaddr,
        client_id,
        valid_lifetime,
        expire: u64_arg(m, "expire")?,
        fqdn_fwd,
        fqdn_rev,
        hostname,
        state,
        user_context,
        force_create: bool_arg(m, "force-create")?,
    })
}

impl LeaseArgs {
    /// The lease these arguments describe; `now` sets cltt unless `expire` is given.
    pub fn into_lease(self, subnet: SubnetId, default_valid: u32, now: u64) -> Lease {
        let valid = self.valid_lifetime.unwrap_or(default_valid);
        let cltt = match self.expire {
            Some(e) => e.saturating_sub(u64::from(valid)),
            None => now,
        };
        Lease {
            kind: LeaseKind::V4,
            addr: IpAddr::V4(self.addr),
            prefix_len: 32,
            iaid: 0,
            hwaddr: Some(self.hwaddr),
            client_id: self.client_id,
            valid_lifetime: valid,
            preferred_lifetime: 0,
            cltt,
            subnet_id: subnet,
            pool_id: PoolId(0),
            state: self.state,
            hostname: self.hostname.map(String::into_boxed_str),
            fqdn_fwd: self.fqdn_fwd,
            fqdn_rev: self.fqdn_rev,
            user_context: self.user_context.map(|v| v.to_string().into_boxed_str()),
        }
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn leases_response(leases: &[Lease], with_count: bool) -> Response {
    let n = leases.len();
    let mut args = Map::new();
    args.insert(
        "leases".into(),
        Value::Array(leases.iter().map(lease_to_json).collect()),
    );
    if with_count {
        args.insert("count".into(), json!(n));
    }
    let code = if n == 0 {
        result::EMPTY
    } else {
        result::SUCCESS
    };
    Response::new(code, format!("{n} IPv4 lease(s) found.")).with_arguments(Value::Object(args))
}

/// The query of lease4-get / lease4-del: by address, or by identifier in a subnet.
fn identity_query(m: &Map<String, Value>) -> Result<LeaseQuery, String> {
    if m.contains_key("ip-address") {
        return Ok(LeaseQuery::Address(addr_arg(m)?));
    }
    let kind = str_arg(m, "identifier-type")?.ok_or_else(|| {
        "Mandatory 'ip-address' or 'identifier-type' and 'identifier' parameters missing"
            .to_string()
    })?;
    let ident = str_arg(m, "identifier")?.ok_or_else(|| missing("identifier"))?;
    let subnet = Some(subnet_arg(m)?.ok_or_else(|| missing("subnet-id"))?);
    match kind {
        "hw-address" => Ok(LeaseQuery::HwAddr {
            hw: hw_parse(ident)?,
            subnet,
        }),
        "client-id" => Ok(LeaseQuery::ClientId {
            id: client_id_parse(ident)?.as_bytes().to_vec(),
            subnet,
        }),
        other => Err(format!(
            "Incorrect identifier type: {other}, the only supported values are: hw-address, client-id"
        )),
    }
}

/// Dispatches one lease4-* command.
pub fn handle(b: &dyn Backend, command: &str, args: Option<&Value>) -> Response {
    let run = || -> Result<Response, String> {
        let empty = Map::new();
        let m = args.and_then(Value::as_object);
        let need = || m.ok_or_else(|| "Missing mandatory 'arguments' parameter.".to_string());
        Ok(match command {
            "lease4-get" => {
                let q = identity_query(need()?)?;
                match b.find_leases(&q)?.first() {
                    Some(l) => {
                        Response::success("IPv4 lease found.").with_arguments(lease_to_json(l))
                    }
                    None => Response::new(result::EMPTY, "Lease not found."),
                }
            }
            "lease4-get-all" => {
                let m = m.unwrap_or(&empty);
                let subnets = match m.get("subnets") {
                    None => Vec::new(),
                    Some(Value::Array(list)) => list
                        .iter()
                        .map(|v| {
                            v.as_u64()
                                .and_then(|n| u32::try_from(n).ok())
                                .map(SubnetId)
                                .ok_or_else(|| "'subnets' must be a list of subnet ids".to_string())
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err("'subnets' parameter must be a list".to_string()),
                };
                let mut leases = b.find_leases(&LeaseQuery::Subnets(subnets))?;
                leases.sort_by_key(|l| l.addr);
                leases_response(&leases, false)
            }
            "lease4-get-page" => {
                let m = need()?;
                let after = match m.get("from") {
                    Some(Value::String(s)) if s == "start" => Ipv4Addr::UNSPECIFIED,
                    Some(Value::String(s)) => s
                        .parse()
                        .map_err(|_| format!("'from' parameter value {s} is neither 'start' keyword nor a valid IPv4 address"))?,
                    Some(_) => return Err("'from' parameter must be a string".to_string()),
                    None => return Err("'from' parameter is mandatory".to_string()),
                };
                let limit = match m.get("limit").map(Value::as_u64) {
                    Some(Some(n)) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
                    Some(_) => {
                        return Err("page size of retrieved leases must not be 0".to_string())
                    }
                    None => return Err("'limit' parameter is mandatory".to_string()),
                };
                let leases = b.find_leases(&LeaseQuery::Page { after, limit })?;
                leases_response(&leases, true)
            }
            "lease4-get-by-hw-address" => {
                let text = str_arg(need()?, "hw-address")?.ok_or_else(|| missing("hw-address"))?;
                let leases = b.find_leases(&LeaseQuery::HwAddr {
                    hw: hw_parse(text)?,
                    subnet: None,
                })?;
                leases_response(&leases, false)
            }
            "lease4-get-by-client-id" => {
                let text = str_arg(need()?, "client-id")?.ok_or_else(|| missing("client-id"))?;
                let leases = b.find_leases(&LeaseQuery::ClientId {
                    id: client_id_parse(text)?.as_bytes().to_vec(),
                    subnet: None,
                })?;
                leases_response(&leases, false)
            }
            "lease4-get-by-hostname" => {
                let text = str_arg(need()?, "hostname")?.ok_or_else(|| missing("hostname"))?;
                if text.is_empty() {
                    return Err("'hostname' parameter is empty".to_string());
                }
                let leases = b.find_leases(&LeaseQuery::Hostname(text.to_string()))?;
                leases_response(&leases, false)
            }
            "lease4-add" => {
                let a = lease_from_args(args)?;
                let addr = a.addr;
                let (subnet, valid) = b.subnet_for(addr, a.subnet)?;
                if !b.find_leases(&LeaseQuery::Address(addr))?.is_empty() {
                    return Ok(Response::error(format!(
                        "IPv4 lease already exists for {addr}"
                    )));
                }
                b.add_lease(a.into_lease(subnet, valid, now_secs()))?;
                Response::success(format!(
                    "Lease for address {addr}, subnet-id {} added.",
                    subnet.0
                ))
            }
            "lease4-update" => {
                let a = lease_from_args(args)?;
                let (subnet, valid) = b.subnet_for(a.addr, a.subnet)?;
                let force = a.force_create;
                match b.update_lease(a.into_lease(subnet, valid, now_secs()), force) {
                    Ok(LeaseUpdate::Updated) => Response::success("IPv4 lease updated."),
                    Ok(LeaseUpdate::Added) => Response::success("IPv4 lease added."),
                    Err(e) => Response::new(e.result(), e.to_string()),
                }
            }
            "lease4-del" => {
                let q = identity_query(need()?)?;
                let addr = match &q {
                    LeaseQuery::Address(a) => Some(*a),
                    _ => b.find_leases(&q)?.first().and_then(|l| match l.addr {
                        IpAddr::V4(a) => Some(a),
                        IpAddr::V6(_) => None,
                    }),
                };
                match addr {
                    Some(a) if b.delete_lease(a)? => Response::success("IPv4 lease deleted."),
                    _ => Response::new(result::EMPTY, "IPv4 lease not found."),
                }
            }
            "lease4-wipe" => {
                let subnet = match m {
                    Some(m) => subnet_arg(m)?,
                    None => None,
                };
                let n = b.wipe_leases(subnet)?;
                let which = subnet
                    .map(|s| s.0.to_string())
                    .unwrap_or_else(|| "all".to_string());
                let text = format!("Deleted {n} IPv4 lease(s) from subnet(s) {which}");
                if n == 0 {
                    Response::new(result::EMPTY, text)
                } else {
                    Response::success(text)
                }
            }
            other => Response::new(
                result::UNSUPPORTED,
                format!("'{other}' command not supported."),
            ),
        })
    };
    run().unwrap_or_else(Response::error)
}
