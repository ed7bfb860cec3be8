//! The control thread's side of corelease: Kea's management API (ARM chapter 19 "Management
//! API", 18.3 statistics commands, 17.15 lease commands) over a unix socket and HTTP, the
//! statistics samples Kea returns, and a Prometheus `/metrics` endpoint.
//!
//! A request `{"command": ..., "arguments": ...}` becomes a response
//! `{"result": N, "text": ..., "arguments": ...}` with Kea's result codes, texts and argument
//! shapes, so tools written for Kea (kea-shell, Stork, scripts) work unchanged. What the server
//! knows (its config, its leases, its counters) comes through the [`Backend`] trait the binary
//! implements; this crate owns the protocol, the JSON shapes, the statistics bookkeeping
//! (samples, reset, remove, limits) and the sockets.
//!
//! It must never run on a shard's thread nor be reached from the packet path: the backend
//! reaches shards through messages, and a statistic reset here never writes a shard's counter
//! (a reset is a baseline subtracted on read, so each counter keeps its single writer).

mod leases;
mod metrics;
mod server;
mod stats;
mod tls;

pub use leases::{lease_from_args, lease_to_json, LeaseArgs};
pub use metrics::{MetricKind, MetricsWriter};
pub use server::{ControlServer, ServeError};
pub use stats::{Limit, StatsRegistry};

use corelease_types::{HwAddr, Lease, SubnetId};
use serde_json::{json, Map, Value};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// Kea's result codes (ARM 19.1).
pub mod result {
    pub const SUCCESS: i64 = 0;
    pub const ERROR: i64 = 1;
    pub const UNSUPPORTED: i64 = 2;
    pub const EMPTY: i64 = 3;
    pub const CONFLICT: i64 = 4;
}

/// One command response. `text` and `arguments` are omitted when None, as Kea does.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub result: i64,
    pub text: Option<String>,
    pub arguments: Option<Value>,
}

impl Response {
    pub fn new(result: i64, text: impl Into<String>) -> Response {
        Response {
            result,
            text: Some(text.into()),
            arguments: None,
        }
    }

    pub fn success(text: impl Into<String>) -> Response {
        Response::new(result::SUCCESS, text)
    }

    pub fn error(text: impl Into<String>) -> Response {
        Response::new(result::ERROR, text)
    }

    /// Success with arguments and no text (Kea's `createAnswer(0, args)`).
    pub fn arguments(arguments: Value) -> Response {
        Response {
            result: result::SUCCESS,
            text: None,
            arguments: Some(arguments),
        }
    }

    pub fn with_arguments(mut self, arguments: Value) -> Response {
        self.arguments = Some(arguments);
        self
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("result".into(), json!(self.result));
        if let Some(t) = &self.text {
            m.insert("text".into(), json!(t));
        }
        if let Some(a) = &self.arguments {
            m.insert("arguments".into(), a.clone());
        }
        Value::Object(m)
    }
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub command: String,
    pub arguments: Option<Value>,
}

impl Request {
    /// Parses Kea's command JSON; the error is the response Kea would send.
    pub fn parse(bytes: &[u8]) -> Result<Request, Response> {
        let v: Value = serde_json::from_slice(bytes)
            .map_err(|e| Response::error(format!("invalid command: {e}")))?;
        let Value::Object(mut m) = v else {
            return Err(Response::error("invalid command: not a JSON map"));
        };
        let command = match m.remove("command") {
            Some(Value::String(c)) => c,
            Some(_) => return Err(Response::error("'command' must be a string")),
            None => {
                return Err(Response::error(
                    "Invalid answer specified, does not contain mandatory 'command'",
                ))
            }
        };
        let arguments = match m.remove("arguments") {
            None => None,
            Some(a @ Value::Object(_)) => Some(a),
            Some(_) => return Err(Response::error("'arguments' must be a map")),
        };
        Ok(Request { command, arguments })
    }
}

/// Which leases a lease query wants (ARM 17.15.3-6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseQuery {
    Address(Ipv4Addr),
    HwAddr {
        hw: HwAddr,
        subnet: Option<SubnetId>,
    },
    ClientId {
        id: Vec<u8>,
        subnet: Option<SubnetId>,
    },
    Hostname(String),
    /// Every lease of these subnets; all leases when empty.
    Subnets(Vec<SubnetId>),
    /// Leases with addresses above `after`, lowest first, at most `limit`.
    Page {
        after: Ipv4Addr,
        limit: usize,
    },
}

/// What `lease4-update` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseUpdate {
    Updated,
    /// force-create on an address without a lease.
    Added,
}

/// Why `lease4-update` changed nothing; the text is Kea's where Kea has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// No lease at the address (and no force-create), or it went away meanwhile: result 1.
    #[error("{0}")]
    NoSuchLease(String),
    /// The address is held by another client's lease or offer: result 4 (Kea's
    /// CONTROL_RESULT_CONFLICT, ARM 17.15 "LEASE_CMDS_UPDATE4_CONFLICT").
    #[error("{0}")]
    Conflict(String),
    /// Anything else (bad subnet, storage): result 1.
    #[error("{0}")]
    Failed(String),
}

impl UpdateError {
    pub fn result(&self) -> i64 {
        match self {
            UpdateError::Conflict(_) => result::CONFLICT,
            UpdateError::NoSuchLease(_) | UpdateError::Failed(_) => result::ERROR,
        }
    }
}

/// Everything the control API needs from the running server. Called on the control thread;
/// an implementation reaches its shards through messages and must not block them.
pub trait Backend: Send + Sync + 'static {
    /// `version-get` text (the -v output) and extended text (the -V output).
    fn version(&self) -> (String, String);
    /// `build-report` text.
    fn build_report(&self) -> String;
    /// `status-get` arguments (pid, uptime, reload, multi-threading, shard load...).
    fn status(&self) -> Map<String, Value>;
    /// The running configuration as loaded (after includes), for config-get / -write / -hash.
    fn config(&self) -> Value;
    /// The file the server was started with (-c), if any.
    fn config_file(&self) -> Option<std::path::PathBuf>;
    /// Validates a candidate configuration (`{"Dhcp4": {...}}`), as `-t` does.
    fn test_config(&self, candidate: &Value) -> Result<(), String>;
    /// Applies a new configuration (`{"Dhcp4": {...}}`) on every shard, keeping every lease;
    /// on error the running configuration stays.
    fn set_config(&self, candidate: &Value) -> Result<(), String>;
    /// Loads the file the server was started with again and applies it; Ok(its path).
    fn reload_config(&self) -> Result<String, String>;
    /// Starts the shutdown (as SIGTERM) and makes the process exit with `exit_value`.
    fn shutdown(&self, exit_value: i32);
    /// Switches packet processing on or off on every shard; `max_period` re-enables.
    fn set_dhcp_enabled(&self, enabled: bool, max_period: Option<u64>) -> Result<(), String>;
    /// Reclaims every expired lease now; returns how many.
    fn reclaim_leases(&self, remove: bool) -> Result<u64, String>;
    /// Every statistic's current raw value, summed over shards, with Kea's names.
    fn statistics(&self) -> Vec<(String, i64)>;
    /// Per-shard series appended to `/metrics` (receive/drop counters, latency).
    fn shard_metrics(&self, _out: &mut MetricsWriter) {}
    /// The address family in the `/metrics` names of the statistics: "dhcp4" or "dhcp6".
    fn metrics_family(&self) -> &'static str {
        "dhcp4"
    }
    /// Leases matching a query (every shard asked; merged).
    fn find_leases(&self, query: &LeaseQuery) -> Result<Vec<Lease>, String>;
    /// The subnet id and default valid lifetime for `addr` (`subnet` 0/None: select).
    fn subnet_for(
        &self,
        addr: Ipv4Addr,
        subnet: Option<SubnetId>,
    ) -> Result<(SubnetId, u32), String>;
    /// Adds a lease on its owning shard; Err(text) when refused.
    fn add_lease(&self, lease: Lease) -> Result<(), String>;
    /// Deletes the lease of `addr` wherever it lives; false when there is none.
    fn delete_lease(&self, addr: Ipv4Addr) -> Result<bool, String>;
    /// `lease4-update`: replaces the lease of its address in one step on the shard that owns
    /// it (no moment without the lease, nothing changed on failure); with `force_create` a
    /// missing lease is added. A backend without IPv4 leases keeps this default.
    fn update_lease(&self, lease: Lease, force_create: bool) -> Result<LeaseUpdate, UpdateError> {
        let _ = (lease, force_create);
        Err(UpdateError::Failed(
            "lease4-update is not supported by this server".to_string(),
        ))
    }
    /// Deletes every lease of `subnet` (all when None); returns how many.
    fn wipe_leases(&self, subnet: Option<SubnetId>) -> Result<u64, String>;
    /// Commands of the server's address family that this crate does not parse (DHCPv6's
    /// lease6-*): `Some(response)` when the backend answers `command` itself, `None` to let
    /// the shared dispatcher handle it. Asked first, for every command.
    fn family_command(&self, _command: &str, _args: Option<&Value>) -> Option<Response> {
        None
    }
    /// What `list-commands` lists (the dispatcher's own [`COMMANDS`] by default).
    fn command_names(&self) -> Vec<&'static str> {
        COMMANDS.to_vec()
    }
}

/// The commands this crate answers, in list-commands order.
pub const COMMANDS: &[&str] = &[
    "build-report",
    "config-get",
    "config-hash-get",
    "config-reload",
    "config-set",
    "config-test",
    "config-write",
    "dhcp-disable",
    "dhcp-enable",
    "lease4-add",
    "lease4-del",
    "lease4-get",
    "lease4-get-all",
    "lease4-get-by-client-id",
    "lease4-get-by-hostname",
    "lease4-get-by-hw-address",
    "lease4-get-page",
    "lease4-update",
    "lease4-wipe",
    "leases-reclaim",
    "list-commands",
    "shutdown",
    "statistic-get",
    "statistic-get-all",
    "statistic-remove",
    "statistic-remove-all",
    "statistic-reset",
    "statistic-reset-all",
    "statistic-sample-age-set",
    "statistic-sample-age-set-all",
    "statistic-sample-count-set",
    "statistic-sample-count-set-all",
    "status-get",
    "version-get",
];

/// The command dispatcher shared by every control socket.
pub struct Control {
    backend: Arc<dyn Backend>,
    stats: Mutex<StatsRegistry>,
}

impl Control {
    /// `default_limit` is `statistic-default-sample-count` / `-age` of the config.
    pub fn new(backend: Arc<dyn Backend>, default_limit: Limit) -> Control {
        Control {
            backend,
            stats: Mutex::new(StatsRegistry::new(default_limit)),
        }
    }

    /// One request's bytes in, one response JSON out.
    pub fn handle_bytes(&self, bytes: &[u8]) -> Value {
        match Request::parse(bytes) {
            Ok(req) => self.handle(&req).to_json(),
            Err(resp) => resp.to_json(),
        }
    }

    pub fn handle(&self, req: &Request) -> Response {
        let args = req.arguments.as_ref();
        let b = &*self.backend;
        if let Some(response) = b.family_command(req.command.as_str(), args) {
            return response;
        }
        match req.command.as_str() {
            "list-commands" => Response::arguments(json!(b.command_names())),
            "version-get" => {
                let (text, extended) = b.version();
                Response::success(text).with_arguments(json!({ "extended": extended }))
            }
            "build-report" => Response::success(b.build_report()),
            "status-get" => Response::arguments(Value::Object(b.status())),
            "config-get" => {
                let mut cfg = running_config(b);
                let hash = config_hash(&cfg);
                if let Value::Object(m) = &mut cfg {
                    m.insert("hash".into(), json!(hash));
                }
                Response::arguments(cfg)
            }
            "config-hash-get" => Response::arguments(json!({ "hash": config_hash(&running_config(b)) })),
            "config-test" => match args {
                None => Response::error("Missing mandatory 'arguments' parameter."),
                Some(a) => match b.test_config(a) {
                    Ok(()) => Response::success(
                        "Configuration seems sane. Control-socket, hook-libraries, and D2 configuration were sanity checked, but not applied.",
                    ),
                    Err(e) => Response::error(e),
                },
            },
            "config-write" => self.config_write(args),
            // ARM 19.4.9 / 19.4.4: the running configuration stays when the new one fails.
            "config-set" => match args {
                None => Response::error("Missing mandatory 'arguments' parameter."),
                Some(a) => {
                    // config-get's output carries the hash; it is not configuration.
                    let mut candidate = a.clone();
                    if let Value::Object(m) = &mut candidate {
                        m.remove("hash");
                    }
                    match b.set_config(&candidate) {
                        Ok(()) => Response::success("Configuration successful.").with_arguments(
                            json!({ "hash": config_hash(&running_config(b)) }),
                        ),
                        Err(e) => Response::error(e),
                    }
                }
            },
            "config-reload" => match b.reload_config() {
                Ok(_) => Response::success("Configuration successful.")
                    .with_arguments(json!({ "hash": config_hash(&running_config(b)) })),
                Err(e) => Response::error(format!("Config reload failed: {e}")),
            },
            "shutdown" => {
                let exit_value = args
                    .and_then(|a| a.get("exit-value"))
                    .and_then(Value::as_i64)
                    .and_then(|v| i32::try_from(v).ok())
                    .unwrap_or(0);
                b.shutdown(exit_value);
                Response::success("Shutting down.")
            }
            "dhcp-disable" => {
                let max_period = match args.and_then(|a| a.get("max-period")) {
                    None => None,
                    Some(v) => match v.as_u64() {
                        Some(p) if p > 0 => Some(p),
                        _ => {
                            return Response::error(
                                "'max-period' must be a positive integer",
                            )
                        }
                    },
                };
                match b.set_dhcp_enabled(false, max_period) {
                    Ok(()) => Response::success(match max_period {
                        Some(p) => format!("DHCPv4 service disabled for {p} seconds"),
                        None => "DHCPv4 service disabled".to_string(),
                    }),
                    Err(e) => Response::error(e),
                }
            }
            "dhcp-enable" => match b.set_dhcp_enabled(true, None) {
                Ok(()) => Response::success("DHCP service successfully enabled"),
                Err(e) => Response::error(e),
            },
            "leases-reclaim" => match args.and_then(|a| a.get("remove")) {
                Some(Value::Bool(remove)) => match b.reclaim_leases(*remove) {
                    Ok(_) => Response::success("Reclamation of expired leases is complete."),
                    Err(e) => Response::error(e),
                },
                Some(_) => Response::error("'remove' parameter expected to be a boolean."),
                None => Response::error("'remove' parameter not specified."),
            },
            c if c.starts_with("statistic-") => self.statistics_command(c, args),
            c if c.starts_with("lease4-") => leases::handle(b, c, args),
            other => Response::new(
                result::UNSUPPORTED,
                format!("'{other}' command not supported."),
            ),
        }
    }

    fn config_write(&self, args: Option<&Value>) -> Response {
        let b = &*self.backend;
        let started_with = b.config_file();
        let target = match args.and_then(|a| a.get("filename")) {
            Some(Value::String(f)) => std::path::PathBuf::from(f),
            Some(_) => return Response::error("Argument 'filename' is not a string"),
            None => match &started_with {
                Some(p) => p.clone(),
                None => {
                    return Response::error(
                        "Unable to determine filename. Please specify filename explicitly.",
                    )
                }
            },
        };
        // ARM 19.4.6 (Kea 2.7.9+): only into the directory of the file the server started with.
        let dir = started_with
            .as_deref()
            .and_then(std::path::Path::parent)
            .map(|d| {
                if d.as_os_str().is_empty() {
                    std::path::Path::new(".")
                } else {
                    d
                }
            })
            .unwrap_or(std::path::Path::new("."));
        let target = if target.is_relative() {
            dir.join(&target)
        } else {
            target
        };
        let same_dir = target
            .parent()
            .and_then(|p| p.canonicalize().ok())
            .zip(dir.canonicalize().ok())
            .is_some_and(|(a, b)| a == b);
        if !same_dir {
            return Response::error(format!(
                "not allowed to write config into {}: path must be in {}",
                target.display(),
                dir.display()
            ));
        }
        let text = match serde_json::to_string_pretty(&running_config(b)) {
            Ok(t) => t,
            Err(e) => return Response::error(format!("serializing the configuration: {e}")),
        };
        match std::fs::write(&target, text.as_bytes()) {
            Ok(()) => Response::success(format!(
                "Configuration written to {} successful",
                target.display()
            ))
            .with_arguments(
                json!({ "filename": target.display().to_string(), "size": text.len() }),
            ),
            Err(e) => Response::error(format!(
                "Unable to open file {} for writing: {e}",
                target.display()
            )),
        }
    }

    fn statistics_command(&self, command: &str, args: Option<&Value>) -> Response {
        let raw = self.backend.statistics();
        let mut reg = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        reg.observe(SystemTime::now(), &raw);
        stats::handle(&mut reg, command, args)
    }

    /// The Prometheus text exposition of every statistic plus the backend's shard series.
    pub fn metrics(&self) -> String {
        let raw = self.backend.statistics();
        let mut w = MetricsWriter::default();
        {
            let mut reg = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
            reg.observe(SystemTime::now(), &raw);
            metrics::write_statistics(&mut w, self.backend.metrics_family(), &reg.current());
        }
        self.backend.shard_metrics(&mut w);
        w.finish()
    }
}

/// The running configuration without a `hash` key: a config file or config-set may carry
/// the `hash` config-get returned (Kea 2.4+, ARM 19.4.3); that is not configuration, and a
/// stale one must not leak into config-get, config-write or the new hash.
fn running_config<B: Backend + ?Sized>(b: &B) -> Value {
    let mut cfg = b.config();
    if let Value::Object(m) = &mut cfg {
        m.remove("hash");
    }
    cfg
}

/// SHA-256 of the configuration as config-get returns it, upper-case hex (ARM 19.4.3).
pub fn config_hash(config: &Value) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(config).unwrap_or_default();
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests;
