//! The control API (corelease-control): arbitrary request bytes through `Control::handle_bytes`,
//! the one entry both the unix and the HTTP control sockets call, against a `Backend` that
//! answers from memory (leases in a list, the configuration validated by corelease-config,
//! statistics from a table). A script of up to 16 requests (separated by 0xff, which JSON text
//! never contains) runs against one dispatcher so lease and statistics commands meet the state
//! earlier ones left; the Prometheus text is rendered at the end. Errors are fine (they are
//! Kea's error responses); panics are not, and every response must be a map with an integer
//! `result`.
#![no_main]

use corelease_control::{Backend, Control, LeaseQuery, LeaseUpdate, Limit, UpdateError};
use corelease_types::{Lease, SubnetId};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// A directory the dispatcher may write into (`config-write` goes to the directory of the
/// file the server started with), created once and left to the OS temp cleaner.
fn config_file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("corelease-fuzz-control-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("fuzz temp dir: {e}"));
        dir.join("kea-dhcp4.json")
    })
}

struct Memory {
    config: Mutex<Value>,
    leases: Mutex<Vec<Lease>>,
    enabled: Mutex<bool>,
    stats: Vec<(String, i64)>,
}

fn v4(l: &Lease) -> Ipv4Addr {
    match l.addr {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    }
}

impl Memory {
    fn new() -> Memory {
        Memory {
            config: Mutex::new(json!({ "Dhcp4": { "valid-lifetime": 4000,
                "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24",
                               "pools": [ { "pool": "192.0.2.10 - 192.0.2.20" } ] } ] } })),
            leases: Mutex::new(Vec::new()),
            enabled: Mutex::new(true),
            stats: vec![
                ("pkt4-received".into(), 12),
                ("pkt4-parse-failed".into(), 1),
                ("subnet[1].total-addresses".into(), 11),
                ("subnet[1].assigned-addresses".into(), 3),
                ("subnet[1].pool[0].assigned-addresses".into(), 3),
            ],
        }
    }
}

impl Backend for Memory {
    fn version(&self) -> (String, String) {
        ("2.2.0".into(), "2.2.0 (fuzz)".into())
    }
    fn build_report(&self) -> String {
        "fuzz".into()
    }
    fn status(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("pid".into(), json!(1));
        m
    }
    fn config(&self) -> Value {
        self.config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
    fn config_file(&self) -> Option<PathBuf> {
        Some(config_file().clone())
    }
    fn test_config(&self, candidate: &Value) -> Result<(), String> {
        corelease_config::parse_dhcp4_value(candidate)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    fn set_config(&self, candidate: &Value) -> Result<(), String> {
        self.test_config(candidate)?;
        *self.config.lock().unwrap_or_else(PoisonError::into_inner) = candidate.clone();
        Ok(())
    }
    fn reload_config(&self) -> Result<String, String> {
        Err("no configuration file in the fuzz backend".into())
    }
    fn shutdown(&self, _exit_value: i32) {}
    fn set_dhcp_enabled(&self, enabled: bool, _max: Option<u64>) -> Result<(), String> {
        *self.enabled.lock().unwrap_or_else(PoisonError::into_inner) = enabled;
        Ok(())
    }
    fn reclaim_leases(&self, _remove: bool) -> Result<u64, String> {
        Ok(0)
    }
    fn statistics(&self) -> Vec<(String, i64)> {
        self.stats.clone()
    }
    fn find_leases(&self, q: &LeaseQuery) -> Result<Vec<Lease>, String> {
        let all = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<Lease> = all
            .iter()
            .filter(|l| match q {
                LeaseQuery::Address(a) => v4(l) == *a,
                LeaseQuery::HwAddr { hw, subnet } => {
                    l.hwaddr.as_ref() == Some(hw) && subnet.is_none_or(|s| s == l.subnet_id)
                }
                LeaseQuery::ClientId { id, subnet } => {
                    l.client_id.as_ref().map(|c| c.as_bytes()) == Some(id.as_slice())
                        && subnet.is_none_or(|s| s == l.subnet_id)
                }
                LeaseQuery::Hostname(h) => l.hostname.as_deref() == Some(h.as_str()),
                LeaseQuery::Subnets(s) => s.is_empty() || s.contains(&l.subnet_id),
                LeaseQuery::Page { after, .. } => v4(l) > *after,
            })
            .cloned()
            .collect();
        out.sort_by_key(v4);
        if let LeaseQuery::Page { limit, .. } = q {
            out.truncate(*limit);
        }
        Ok(out)
    }
    fn subnet_for(
        &self,
        addr: Ipv4Addr,
        subnet: Option<SubnetId>,
    ) -> Result<(SubnetId, u32), String> {
        if addr.octets()[..3] != [192, 0, 2] || subnet.is_some_and(|s| s.0 != 1) {
            return Err(format!("no subnet for {addr}"));
        }
        Ok((SubnetId(1), 4000))
    }
    fn add_lease(&self, lease: Lease) -> Result<(), String> {
        let mut all = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        if all.iter().any(|l| l.addr == lease.addr) {
            return Err(format!("lease for {} already exists", lease.addr));
        }
        all.push(lease);
        Ok(())
    }
    fn delete_lease(&self, addr: Ipv4Addr) -> Result<bool, String> {
        let mut all = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        let before = all.len();
        all.retain(|x| v4(x) != addr);
        Ok(all.len() != before)
    }
    fn update_lease(&self, lease: Lease, force_create: bool) -> Result<LeaseUpdate, UpdateError> {
        let mut all = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        match all.iter_mut().find(|l| l.addr == lease.addr) {
            Some(l) => {
                *l = lease;
                Ok(LeaseUpdate::Updated)
            }
            None if force_create => {
                all.push(lease);
                Ok(LeaseUpdate::Added)
            }
            None => Err(UpdateError::NoSuchLease(format!(
                "failed to update the lease with address {}",
                lease.addr
            ))),
        }
    }
    fn wipe_leases(&self, subnet: Option<SubnetId>) -> Result<u64, String> {
        let mut all = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
        let before = all.len();
        all.retain(|x| subnet.is_some_and(|s| s != x.subnet_id));
        Ok((before - all.len()) as u64)
    }
}

fuzz_target!(|data: &[u8]| {
    let backend = Arc::new(Memory::new());
    let control = Control::new(backend, Limit::Count(4));
    for request in data.split(|&b| b == 0xff).take(16) {
        let response = control.handle_bytes(request);
        assert!(
            response.get("result").and_then(Value::as_i64).is_some(),
            "response without an integer result: {response}"
        );
    }
    let _ = control.metrics().len();
});
