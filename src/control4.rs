//! The DHCPv4 server's side of the control API: `corelease_control::Backend` over the running
//! shards. Everything that touches a shard's state (its lease table, its enabled flag) is a
//! job sent through that shard's queue and run by the shard itself between batches
//! (`ShardHandler::on_wake`); the control thread waits for the answer. Counters are read
//! from the shards' published atomics. Nothing here runs on the packet path.

use crate::reload::{reload_shards, RunningConfig};
use crate::server4::{Dhcp4Handler, ShardStore};
use crate::shard_jobs::ShardJobs;
use corelease_config::{Dhcp4Config, Loaded};
use corelease_control::{Backend, LeaseQuery, LeaseUpdate, MetricsWriter, UpdateError};
use corelease_shard::Runtime;
use corelease_storage::NullSink;
use corelease_types::{Lease, SubnetId};
use corelease_v4::{
    InterfaceInfo, LeaseCommandError, LeaseUpdated, Ports, Prepared4, ShardStats4, V4Shard,
};
use serde_json::{json, Map, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

pub struct Dhcp4Backend {
    pub runtime: Arc<Runtime>,
    pub(crate) jobs: ShardJobs<Dhcp4Handler>,
    /// The running configuration (replaced by a reload).
    pub(crate) running: RunningConfig<Prepared4>,
    /// What a reload prepares a new configuration with (interfaces-config cannot change).
    pub configured_ifaces: Vec<InterfaceInfo>,
    pub ports: Ports,
    pub stats: Arc<Mutex<Vec<Option<Arc<ShardStats4>>>>>,
    pub config_file: Option<PathBuf>,
    pub started: Instant,
    pub multi_threading: bool,
    pub packet_queue_size: u32,
    pub exit_value: Arc<AtomicI32>,
    /// Set while dhcp-disable is in force (for status-get); the shards hold the real flag.
    pub disabled: Mutex<bool>,
    /// The 4o6 path's drop counters, when `dhcp4o6-port` is set (src/dhcp4o6.rs).
    pub(crate) dhcp4o6: Option<crate::dhcp4o6::IpcMonitor>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn v4_of(l: &Lease) -> Option<Ipv4Addr> {
    match l.addr {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

/// Whether a lease answers a query (the Page bound is applied by the caller).
fn matches(l: &Lease, q: &LeaseQuery) -> bool {
    match q {
        LeaseQuery::Address(a) => v4_of(l) == Some(*a),
        LeaseQuery::HwAddr { hw, subnet } => {
            l.hwaddr.as_ref().map(|h| h.as_bytes()) == Some(hw.as_bytes())
                && subnet.is_none_or(|s| s == l.subnet_id)
        }
        LeaseQuery::ClientId { id, subnet } => {
            l.client_id.as_ref().map(|c| c.as_bytes()) == Some(id.as_slice())
                && subnet.is_none_or(|s| s == l.subnet_id)
        }
        LeaseQuery::Hostname(h) => l.hostname.as_deref().is_some_and(|x| {
            x.trim_end_matches('.')
                .eq_ignore_ascii_case(h.trim_end_matches('.'))
        }),
        LeaseQuery::Subnets(s) => s.is_empty() || s.contains(&l.subnet_id),
        LeaseQuery::Page { after, .. } => v4_of(l).is_some_and(|a| a > *after),
    }
}

/// The leases of one shard that answer `query`, computed on the shard's thread: an address is
/// one hash lookup; a page selects its `limit` lowest addresses in linear time and clones only
/// those, so paging through a large table never sorts or copies the whole of it.
fn leases_on_shard(h: &Dhcp4Handler, query: &LeaseQuery) -> Vec<Lease> {
    let table = h.v4.table();
    if let LeaseQuery::Address(a) = query {
        return table
            .get(u32::from(*a))
            .filter(|e| !e.is_offer())
            .map(|e| vec![e.lease.clone()])
            .unwrap_or_default();
    }
    let mut found: Vec<&Lease> = table
        .iter()
        .filter(|e| !e.is_offer() && matches(&e.lease, query))
        .map(|e| &e.lease)
        .collect();
    if let LeaseQuery::Page { limit, .. } = query {
        if found.len() > *limit && *limit > 0 {
            found.select_nth_unstable_by_key(*limit - 1, |l| l.addr);
            found.truncate(*limit);
        }
    }
    found.into_iter().cloned().collect()
}

impl Dhcp4Backend {
    /// The running configuration's prepared form.
    pub fn current_prepared(&self) -> Arc<Prepared4> {
        self.running.prepared()
    }

    /// config-set / config-reload / SIGHUP: validates, refuses changes that need a restart,
    /// prepares the new configuration off the shards, then has every shard switch behind one
    /// rendezvous (src/reload.rs). On any error the running configuration stays.
    fn apply(&self, loaded: Loaded<Dhcp4Config>) -> Result<(), String> {
        // As at startup: keys not implemented yet are reported, not refused.
        for issue in &loaded.unsupported {
            tracing::warn!(target: "DHCP4_CONFIG_UNSUPPORTED", "{issue}");
        }
        let prepared = Arc::new(Prepared4::new(
            &loaded.config,
            self.configured_ifaces.clone(),
            self.ports,
        ));
        let shards = self.jobs.shards();
        let r = self
            .running
            .replace("Dhcp4", loaded.raw, prepared, |prepared| {
                let empty = |i: usize| {
                    V4Shard::reload_empty(
                        Arc::clone(prepared),
                        i,
                        shards,
                        ShardStore::Memory(NullSink),
                    )
                };
                reload_shards(&self.jobs, empty, Arc::clone(&self.stats), unix_now())
            })?;
        if r.conflicts > 0 {
            tracing::warn!(target: "DHCP4_DYNRECONF", conflicts = r.conflicts, "leases for an address claimed twice were dropped by the reload");
        }
        tracing::info!(target: "DHCP4_CONFIG_COMPLETE", micros = r.total.as_micros() as u64, prepared_micros = r.prepared.as_micros() as u64, begin_cpu_us = r.begin.cpu.as_micros() as u64, begin_wall_us = r.begin.wall.as_micros() as u64, copy_cpu_us = r.copy.cpu.as_micros() as u64, copy_wall_us = r.copy.wall.as_micros() as u64, catch_ups = r.catch_ups, "configuration applied on every shard");
        Ok(())
    }

    fn shard_stats(&self) -> Vec<Arc<ShardStats4>> {
        self.stats
            .lock()
            .map(|r| r.iter().flatten().cloned().collect())
            .unwrap_or_default()
    }
}

impl Backend for Dhcp4Backend {
    fn version(&self) -> (String, String) {
        let v = env!("CARGO_PKG_VERSION").to_string();
        let extended = format!(
            "{v}\ncorelease DHCPv4 server, thread-per-core (glommio), lease log: mmap'd append-only"
        );
        (v, extended)
    }

    fn build_report(&self) -> String {
        format!(
            "corelease {}\nprofile: {}\ntarget: {}-{}\ncontrol API: Kea 3.0 command set (see list-commands)",
            env!("CARGO_PKG_VERSION"),
            if cfg!(debug_assertions) { "debug" } else { "release" },
            std::env::consts::ARCH,
            std::env::consts::OS,
        )
    }

    fn status(&self) -> Map<String, Value> {
        let uptime = self.started.elapsed().as_secs();
        let counters = self.runtime.counters();
        let latency = self.runtime.latency();
        let dhcp = self.shard_stats();
        let per_shard: Vec<Value> = counters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut m = json!({
                    "shard": i,
                    "received": c.received,
                    "sent": c.sent,
                    "send-errors": c.send_errors,
                    "batches": c.batches,
                    "truncated": c.truncated,
                    "recv-errors": c.recv_errors,
                    "kernel-drops": c.kernel_drops,
                    "queue-overflow-drops": c.dropped_queue_overflow,
                });
                if let (Some(h), Value::Object(o)) = (latency.get(i), &mut m) {
                    o.insert("latency-p50-us".into(), json!(h.value_at_quantile(0.5)));
                    o.insert("latency-p99-us".into(), json!(h.value_at_quantile(0.99)));
                    o.insert("latency-p999-us".into(), json!(h.value_at_quantile(0.999)));
                }
                if let (Some(s), Value::Object(o)) = (dhcp.get(i), &mut m) {
                    o.insert("pkt4-received".into(), json!(s.global.pkt4_received.get()));
                    o.insert("pkt4-ack-sent".into(), json!(s.global.pkt4_ack_sent.get()));
                }
                m
            })
            .collect();
        let disabled = self.disabled.lock().map(|d| *d).unwrap_or(false);
        let mut m = Map::new();
        m.insert("pid".into(), json!(std::process::id()));
        m.insert("uptime".into(), json!(uptime));
        m.insert("reload".into(), json!(self.running.age_secs()));
        m.insert(
            "multi-threading-enabled".into(),
            json!(self.multi_threading),
        );
        m.insert("thread-pool-size".into(), json!(self.runtime.shards()));
        m.insert("packet-queue-size".into(), json!(self.packet_queue_size));
        m.insert("sockets".into(), json!({ "status": "ready" }));
        m.insert(
            "dhcp-state".into(),
            json!({
                "globally-disabled": disabled,
                "disabled-by-user": disabled,
                "disabled-by-db-connection": false,
                "disabled-by-local-command": [],
                "disabled-by-remote-command": [],
                "disabled-by-lease-reclamation": false,
            }),
        );
        m.insert("shards".into(), json!(self.runtime.shards()));
        m.insert("shard-counters".into(), Value::Array(per_shard));
        if let Some(ipc) = &self.dhcp4o6 {
            m.insert("dhcp4o6".into(), ipc.status());
        }
        m
    }

    fn config(&self) -> Value {
        self.running.raw()
    }

    fn config_file(&self) -> Option<PathBuf> {
        self.config_file.clone()
    }

    fn test_config(&self, candidate: &Value) -> Result<(), String> {
        let loaded = corelease_config::parse_dhcp4_value(candidate).map_err(|e| e.to_string())?;
        if loaded.unsupported.is_empty() {
            Ok(())
        } else {
            Err(loaded
                .unsupported
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join("; "))
        }
    }

    fn set_config(&self, candidate: &Value) -> Result<(), String> {
        let loaded = corelease_config::parse_dhcp4_value(candidate).map_err(|e| e.to_string())?;
        self.apply(loaded)
    }

    fn reload_config(&self) -> Result<String, String> {
        let path = self.config_file.as_deref().ok_or_else(|| {
            "no configuration file: the server runs the embedded default config".to_string()
        })?;
        let loaded = corelease_config::load_dhcp4_file(path).map_err(|e| e.to_string())?;
        self.apply(loaded)?;
        Ok(path.display().to_string())
    }

    fn shutdown(&self, exit_value: i32) {
        self.exit_value.store(exit_value, Ordering::Relaxed);
        // The main thread waits for SIGTERM (blocked everywhere else): the same clean path.
        // SAFETY: kill(2) on our own PID.
        unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    }

    fn set_dhcp_enabled(&self, enabled: bool, max_period: Option<u64>) -> Result<(), String> {
        let until = max_period.map(|p| unix_now().saturating_add(p));
        self.jobs
            .ask_all(move |h, _| h.set_enabled(enabled, until))?;
        if let Ok(mut d) = self.disabled.lock() {
            *d = !enabled;
        }
        Ok(())
    }

    fn reclaim_leases(&self, remove: bool) -> Result<u64, String> {
        let counts = self
            .jobs
            .ask_all(move |h, now| h.v4.command_reclaim_expired(now, remove))?;
        Ok(counts.iter().sum())
    }

    fn statistics(&self) -> Vec<(String, i64)> {
        corelease_v4::kea_statistics(&self.current_prepared(), &self.shard_stats())
    }

    fn shard_metrics(&self, w: &mut MetricsWriter) {
        crate::control_common::runtime_metrics(&self.runtime, w);
        crate::control_common::job_metrics(self.jobs.depths(), w);
        if let Some(ipc) = &self.dhcp4o6 {
            ipc.metrics(w);
        }
    }

    fn find_leases(&self, q: &LeaseQuery) -> Result<Vec<Lease>, String> {
        let query = q.clone();
        let per_shard = self.jobs.ask_all(move |h, _| leases_on_shard(h, &query))?;
        let mut all: Vec<Lease> = per_shard.into_iter().flatten().collect();
        all.sort_by_key(|l| l.addr);
        if let LeaseQuery::Page { limit, .. } = q {
            all.truncate(*limit);
        }
        Ok(all)
    }

    fn subnet_for(
        &self,
        addr: Ipv4Addr,
        subnet: Option<SubnetId>,
    ) -> Result<(SubnetId, u32), String> {
        self.jobs
            .ask(0, move |h, _| h.v4.command_subnet_for(addr, subnet))?
            .map_err(|e| e.to_string())
    }

    fn add_lease(&self, lease: Lease) -> Result<(), String> {
        let owner = crate::server4::owner_shard(&lease, self.jobs.shards());
        self.jobs
            .ask(owner, move |h, _| {
                let r = h.v4.command_add_lease(lease);
                h.commit_log();
                r
            })?
            .map_err(|e| e.to_string())
    }

    fn delete_lease(&self, addr: Ipv4Addr) -> Result<bool, String> {
        let results = self.jobs.ask_all(move |h, _| {
            let r = h.v4.command_delete_lease(addr);
            h.commit_log();
            r.map_err(|e| e.to_string())
        })?;
        let mut any = false;
        for r in results {
            any |= r?;
        }
        Ok(any)
    }

    /// The shard holding a lease of the address does the update in one job (one log record).
    /// When the new client belongs to another shard (a changed hw-address steers elsewhere)
    /// the lease moves: the holder takes it out keeping its pool bit claimed, the new owner
    /// puts it in; if the owner refuses, the holder gets it back. No other client can take
    /// the address in between.
    fn update_lease(&self, lease: Lease, force_create: bool) -> Result<LeaseUpdate, UpdateError> {
        let IpAddr::V4(addr) = lease.addr else {
            return Err(UpdateError::Failed(format!(
                "{} is not an IPv4 address",
                lease.addr
            )));
        };
        let a = u32::from(addr);
        let holders = self
            .jobs
            .ask_all(move |h, _| h.v4.table().get(a).is_some_and(|e| !e.is_offer()))
            .map_err(UpdateError::Failed)?;
        let owner = crate::server4::owner_shard(&lease, self.jobs.shards());
        let holder = holders.iter().position(|held| *held);
        let update_error = |e: LeaseCommandError| match e {
            LeaseCommandError::NoSuchLease(_) => UpdateError::NoSuchLease(e.to_string()),
            LeaseCommandError::Taken(_) | LeaseCommandError::Exists(_) => {
                UpdateError::Conflict(e.to_string())
            }
            other => UpdateError::Failed(other.to_string()),
        };
        match holder {
            Some(from) if from != owner => {
                // The holder writes nothing: its record stays until the owner's newer one
                // supersedes it, so a crash in between recovers the lease as it was
                // (corelease_storage, "Moving a lease between shards").
                let taken = self
                    .jobs
                    .ask(from, move |h, _| h.v4.command_take_for_move(addr))
                    .map_err(UpdateError::Failed)?;
                // Gone meanwhile (released by its client): Kea's "retry might succeed".
                let Some(taken) = taken else {
                    return Err(update_error(LeaseCommandError::NoSuchLease(addr)));
                };
                let refused = self
                    .jobs
                    .ask(owner, move |h, _| {
                        let r = h.v4.command_put_moved_lease(lease, &taken);
                        h.commit_log();
                        r.err().map(|e| (e, taken))
                    })
                    .map_err(UpdateError::Failed)?;
                match refused {
                    None => Ok(LeaseUpdate::Updated),
                    Some((e, taken)) => {
                        self.jobs
                            .ask(from, move |h, _| h.v4.command_restore_moved(taken))
                            .map_err(UpdateError::Failed)?;
                        Err(update_error(e))
                    }
                }
            }
            _ => {
                let on = holder.unwrap_or(owner);
                let r = self
                    .jobs
                    .ask(on, move |h, _| {
                        let r = h.v4.command_update_lease(lease, force_create);
                        h.commit_log();
                        r
                    })
                    .map_err(UpdateError::Failed)?;
                match r.map_err(update_error)? {
                    LeaseUpdated::Updated => Ok(LeaseUpdate::Updated),
                    LeaseUpdated::Added => Ok(LeaseUpdate::Added),
                }
            }
        }
    }

    fn wipe_leases(&self, subnet: Option<SubnetId>) -> Result<u64, String> {
        let results = self.jobs.ask_all(move |h, _| {
            let r = h.v4.command_wipe_leases(subnet);
            h.commit_log();
            r.map_err(|e| e.to_string())
        })?;
        let mut n = 0;
        for r in results {
            n += r?;
        }
        Ok(n)
    }
}
