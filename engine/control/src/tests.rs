//! The command layer against an in-memory backend: JSON shapes, result codes and texts.

use super::*;
use corelease_types::{LeaseKind, LeaseState, PoolId};
use std::net::IpAddr;

#[derive(Default)]
struct Fake {
    stats: Mutex<Vec<(String, i64)>>,
    leases: Mutex<Vec<Lease>>,
    enabled: Mutex<Vec<bool>>,
}

impl Fake {
    fn set_stat(&self, name: &str, v: i64) {
        let mut s = self.stats.lock().unwrap();
        match s.iter_mut().find(|(n, _)| n == name) {
            Some(e) => e.1 = v,
            None => s.push((name.to_string(), v)),
        }
    }
}

fn v4(l: &Lease) -> Ipv4Addr {
    match l.addr {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    }
}

impl Backend for Fake {
    fn version(&self) -> (String, String) {
        ("9.9.9".into(), "9.9.9 extended".into())
    }
    fn build_report(&self) -> String {
        "report".into()
    }
    fn status(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("pid".into(), json!(1));
        m
    }
    fn config(&self) -> Value {
        json!({ "Dhcp4": { "valid-lifetime": 4000 } })
    }
    fn config_file(&self) -> Option<std::path::PathBuf> {
        None
    }
    fn test_config(&self, candidate: &Value) -> Result<(), String> {
        if candidate.get("Dhcp4").is_some() {
            Ok(())
        } else {
            Err("missing Dhcp4".into())
        }
    }
    fn set_config(&self, candidate: &Value) -> Result<(), String> {
        self.test_config(candidate)
    }
    fn reload_config(&self) -> Result<String, String> {
        Err("no configuration file: the server runs the embedded default".into())
    }
    fn shutdown(&self, _exit_value: i32) {}
    fn set_dhcp_enabled(&self, enabled: bool, _max: Option<u64>) -> Result<(), String> {
        self.enabled.lock().unwrap().push(enabled);
        Ok(())
    }
    fn reclaim_leases(&self, _remove: bool) -> Result<u64, String> {
        Ok(0)
    }
    fn statistics(&self) -> Vec<(String, i64)> {
        self.stats.lock().unwrap().clone()
    }
    fn find_leases(&self, q: &LeaseQuery) -> Result<Vec<Lease>, String> {
        let all = self.leases.lock().unwrap();
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
        if addr.octets()[0] != 192 || subnet.is_some_and(|s| s.0 != 1) {
            return Err(format!("no subnet for {addr}"));
        }
        Ok((SubnetId(1), 3600))
    }
    fn add_lease(&self, lease: Lease) -> Result<(), String> {
        self.leases.lock().unwrap().push(lease);
        Ok(())
    }
    fn delete_lease(&self, addr: Ipv4Addr) -> Result<bool, String> {
        let mut l = self.leases.lock().unwrap();
        let before = l.len();
        l.retain(|x| v4(x) != addr);
        Ok(l.len() != before)
    }
    fn update_lease(&self, lease: Lease, force: bool) -> Result<LeaseUpdate, UpdateError> {
        let mut l = self.leases.lock().unwrap();
        if lease.hostname.as_deref() == Some("taken.example.org") {
            return Err(UpdateError::Conflict("address taken".into()));
        }
        match l.iter_mut().find(|x| v4(x) == v4(&lease)) {
            Some(x) => {
                *x = lease;
                Ok(LeaseUpdate::Updated)
            }
            None if force => {
                l.push(lease);
                Ok(LeaseUpdate::Added)
            }
            None => Err(UpdateError::NoSuchLease("no such lease".into())),
        }
    }
    fn wipe_leases(&self, subnet: Option<SubnetId>) -> Result<u64, String> {
        let mut l = self.leases.lock().unwrap();
        let before = l.len();
        l.retain(|x| subnet.is_some_and(|s| s != x.subnet_id));
        Ok((before - l.len()) as u64)
    }
}

fn lease(addr: [u8; 4], hw: [u8; 6]) -> Lease {
    Lease {
        kind: LeaseKind::V4,
        addr: IpAddr::V4(Ipv4Addr::from(addr)),
        prefix_len: 32,
        iaid: 0,
        hwaddr: Some(HwAddr::new(1, &hw)),
        client_id: None,
        valid_lifetime: 3600,
        preferred_lifetime: 0,
        cltt: 1_700_000_000,
        subnet_id: SubnetId(1),
        pool_id: PoolId(0),
        state: LeaseState::Default,
        hostname: None,
        fqdn_fwd: false,
        fqdn_rev: false,
        user_context: None,
    }
}

fn setup() -> (Arc<Fake>, Control) {
    let fake = Arc::new(Fake::default());
    let control = Control::new(fake.clone(), Limit::Count(20));
    (fake, control)
}

fn call(c: &Control, cmd: Value) -> Value {
    c.handle_bytes(cmd.to_string().as_bytes())
}

#[test]
fn unknown_command_is_result_2_with_keas_text() {
    let (_, c) = setup();
    let r = call(&c, json!({ "command": "foo-bar" }));
    assert_eq!(
        r,
        json!({ "result": 2, "text": "'foo-bar' command not supported." })
    );
}

#[test]
fn malformed_request_is_result_1() {
    let (_, c) = setup();
    let r = c.handle_bytes(b"{ not json");
    assert_eq!(r["result"], 1);
    let r = c.handle_bytes(br#"{"arguments": {}}"#);
    assert_eq!(r["result"], 1);
}

#[test]
fn list_commands_lists_every_implemented_command() {
    let (_, c) = setup();
    let r = call(&c, json!({ "command": "list-commands" }));
    assert_eq!(r["result"], 0);
    let list = r["arguments"].as_array().unwrap();
    assert_eq!(list.len(), COMMANDS.len());
    assert!(list.contains(&json!("lease4-get-page")));
    assert!(r.get("text").is_none());
}

#[test]
fn version_get_has_text_and_extended_argument() {
    let (_, c) = setup();
    let r = call(&c, json!({ "command": "version-get" }));
    assert_eq!(
        r,
        json!({ "result": 0, "text": "9.9.9", "arguments": { "extended": "9.9.9 extended" } })
    );
}

#[test]
fn config_get_carries_the_hash_that_config_hash_get_returns() {
    let (_, c) = setup();
    let g = call(&c, json!({ "command": "config-get" }));
    let h = call(&c, json!({ "command": "config-hash-get" }));
    assert_eq!(g["arguments"]["Dhcp4"]["valid-lifetime"], 4000);
    let hash = h["arguments"]["hash"].as_str().unwrap();
    assert_eq!(hash.len(), 64);
    assert!(hash
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    assert_eq!(g["arguments"]["hash"], h["arguments"]["hash"]);
}

#[test]
fn config_set_answers_with_the_new_hash_or_the_error() {
    let (_, c) = setup();
    let r = call(
        &c,
        json!({ "command": "config-set", "arguments": { "Dhcp4": {}, "hash": "X" } }),
    );
    assert_eq!(r["result"], 0, "{r}");
    assert_eq!(r["text"], "Configuration successful.");
    assert_eq!(r["arguments"]["hash"].as_str().map(str::len), Some(64));
    let r = call(
        &c,
        json!({ "command": "config-set", "arguments": { "Dhcp6": {} } }),
    );
    assert_eq!(r, json!({ "result": 1, "text": "missing Dhcp4" }));
    let r = call(&c, json!({ "command": "config-reload" }));
    assert_eq!(r["result"], 1);
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .starts_with("Config reload failed: no configuration file"),
        "{r}"
    );
}

#[test]
fn statistic_get_returns_newest_sample_first_and_keeps_history() {
    let (f, c) = setup();
    f.set_stat("pkt4-received", 5);
    let r = call(
        &c,
        json!({ "command": "statistic-get", "arguments": { "name": "pkt4-received" } }),
    );
    assert_eq!(r["result"], 0);
    assert_eq!(r["arguments"]["pkt4-received"][0][0], 5);
    let ts = r["arguments"]["pkt4-received"][0][1].as_str().unwrap();
    assert_eq!(ts.len(), "2019-07-30 10:11:19.498739".len(), "{ts}");
    f.set_stat("pkt4-received", 9);
    let r = call(
        &c,
        json!({ "command": "statistic-get", "arguments": { "name": "pkt4-received" } }),
    );
    let samples = r["arguments"]["pkt4-received"].as_array().unwrap();
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0][0], 9);
    assert_eq!(samples[1][0], 5);
}

#[test]
fn statistic_get_of_unknown_name_is_an_empty_map_with_success() {
    let (_, c) = setup();
    let r = call(
        &c,
        json!({ "command": "statistic-get", "arguments": { "name": "nope" } }),
    );
    assert_eq!(r, json!({ "result": 0, "arguments": {} }));
}

#[test]
fn statistic_reset_counts_from_zero_without_touching_the_source() {
    let (f, c) = setup();
    f.set_stat("pkt4-ack-sent", 100);
    let r = call(
        &c,
        json!({ "command": "statistic-reset", "arguments": { "name": "pkt4-ack-sent" } }),
    );
    assert_eq!(
        r,
        json!({ "result": 0, "text": "Statistic 'pkt4-ack-sent' reset." })
    );
    f.set_stat("pkt4-ack-sent", 103);
    let r = call(
        &c,
        json!({ "command": "statistic-get", "arguments": { "name": "pkt4-ack-sent" } }),
    );
    assert_eq!(r["arguments"]["pkt4-ack-sent"][0][0], 3);
    assert_eq!(r["arguments"]["pkt4-ack-sent"][1][0], 0);
    let r = call(
        &c,
        json!({ "command": "statistic-reset", "arguments": { "name": "nope" } }),
    );
    assert_eq!(
        r,
        json!({ "result": 1, "text": "No 'nope' statistic found" })
    );
}

#[test]
fn removed_statistic_is_hidden_until_it_changes() {
    let (f, c) = setup();
    f.set_stat("pkt4-nak-sent", 4);
    f.set_stat("pkt4-sent", 1);
    let r = call(
        &c,
        json!({ "command": "statistic-remove", "arguments": { "name": "pkt4-nak-sent" } }),
    );
    assert_eq!(r["text"], "Statistic 'pkt4-nak-sent' removed.");
    let all = call(&c, json!({ "command": "statistic-get-all" }));
    assert!(all["arguments"].get("pkt4-nak-sent").is_none());
    assert_eq!(all["arguments"]["pkt4-sent"][0][0], 1);
    f.set_stat("pkt4-nak-sent", 6);
    let r = call(
        &c,
        json!({ "command": "statistic-get", "arguments": { "name": "pkt4-nak-sent" } }),
    );
    assert_eq!(r["arguments"]["pkt4-nak-sent"][0][0], 2);
}

#[test]
fn sample_count_limit_bounds_the_history() {
    let (f, c) = setup();
    f.set_stat("pkt4-sent", 0);
    let r = call(
        &c,
        json!({ "command": "statistic-sample-count-set", "arguments": { "name": "pkt4-sent", "max-samples": 2 } }),
    );
    assert_eq!(r["text"], "Statistic 'pkt4-sent' count limit is set.");
    for v in 1..=5 {
        f.set_stat("pkt4-sent", v);
        call(&c, json!({ "command": "statistic-get-all" }));
    }
    let r = call(
        &c,
        json!({ "command": "statistic-get", "arguments": { "name": "pkt4-sent" } }),
    );
    let s = r["arguments"]["pkt4-sent"].as_array().unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!((s[0][0].as_i64(), s[1][0].as_i64()), (Some(5), Some(4)));
    let r = call(
        &c,
        json!({ "command": "statistic-sample-count-set-all", "arguments": { "max-samples": 0 } }),
    );
    assert_eq!(r["result"], 1);
}

#[test]
fn lease4_get_by_address_and_by_identifier() {
    let (f, c) = setup();
    f.leases
        .lock()
        .unwrap()
        .push(lease([192, 0, 2, 1], [8, 8, 8, 8, 8, 8]));
    let r = call(
        &c,
        json!({ "command": "lease4-get", "arguments": { "ip-address": "192.0.2.1" } }),
    );
    assert_eq!(
        r,
        json!({ "result": 0, "text": "IPv4 lease found.", "arguments": {
            "ip-address": "192.0.2.1", "hw-address": "08:08:08:08:08:08", "valid-lft": 3600,
            "cltt": 1_700_000_000u64, "subnet-id": 1, "fqdn-fwd": false, "fqdn-rev": false,
            "hostname": "", "state": 0 } })
    );
    let r = call(
        &c,
        json!({ "command": "lease4-get", "arguments": { "identifier-type": "hw-address",
            "identifier": "08:08:08:08:08:08", "subnet-id": 1 } }),
    );
    assert_eq!(r["arguments"]["ip-address"], "192.0.2.1");
    let r = call(
        &c,
        json!({ "command": "lease4-get", "arguments": { "ip-address": "192.0.2.9" } }),
    );
    assert_eq!(r, json!({ "result": 3, "text": "Lease not found." }));
}

#[test]
fn lease4_get_page_walks_the_leases_in_address_order() {
    let (f, c) = setup();
    for i in 1..=5u8 {
        f.leases
            .lock()
            .unwrap()
            .push(lease([192, 0, 2, i], [0, 0, 0, 0, 0, i]));
    }
    let r = call(
        &c,
        json!({ "command": "lease4-get-page", "arguments": { "from": "start", "limit": 3 } }),
    );
    assert_eq!(r["arguments"]["count"], 3);
    assert_eq!(r["text"], "3 IPv4 lease(s) found.");
    assert_eq!(r["arguments"]["leases"][2]["ip-address"], "192.0.2.3");
    let r = call(
        &c,
        json!({ "command": "lease4-get-page", "arguments": { "from": "192.0.2.3", "limit": 3 } }),
    );
    assert_eq!(r["arguments"]["count"], 2);
    let r = call(
        &c,
        json!({ "command": "lease4-get-page", "arguments": { "from": "192.0.2.5", "limit": 3 } }),
    );
    assert_eq!(r["result"], 3);
    let r = call(
        &c,
        json!({ "command": "lease4-get-page", "arguments": { "from": "start", "limit": 0 } }),
    );
    assert_eq!(r["result"], 1);
}

#[test]
fn lease4_add_then_update_then_del() {
    let (f, c) = setup();
    let r = call(
        &c,
        json!({ "command": "lease4-add", "arguments": { "ip-address": "192.0.2.202", "hw-address": "1a:1b:1c:1d:1e:1f" } }),
    );
    assert_eq!(
        r,
        json!({ "result": 0, "text": "Lease for address 192.0.2.202, subnet-id 1 added." })
    );
    let r = call(
        &c,
        json!({ "command": "lease4-add", "arguments": { "ip-address": "192.0.2.202", "hw-address": "1a:1b:1c:1d:1e:1f" } }),
    );
    assert_eq!(r["result"], 1, "{r}");
    let r = call(
        &c,
        json!({ "command": "lease4-add", "arguments": { "ip-address": "192.0.2.203" } }),
    );
    assert_eq!(
        r,
        json!({ "result": 1, "text": "missing parameter 'hw-address'" })
    );
    let r = call(
        &c,
        json!({ "command": "lease4-update", "arguments": { "ip-address": "192.0.2.202",
            "hw-address": "1a:1b:1c:1d:1e:1f", "hostname": "newhostname.example.org" } }),
    );
    assert_eq!(r, json!({ "result": 0, "text": "IPv4 lease updated." }));
    assert_eq!(
        f.leases.lock().unwrap()[0].hostname.as_deref(),
        Some("newhostname.example.org")
    );
    let r = call(
        &c,
        json!({ "command": "lease4-get-by-hostname", "arguments": { "hostname": "newhostname.example.org" } }),
    );
    assert_eq!(r["arguments"]["leases"][0]["ip-address"], "192.0.2.202");
    let r = call(
        &c,
        json!({ "command": "lease4-update", "arguments": { "ip-address": "192.0.2.9", "hw-address": "1a:1b:1c:1d:1e:1f" } }),
    );
    assert_eq!(r, json!({ "result": 1, "text": "no such lease" }));
    let r = call(
        &c,
        json!({ "command": "lease4-update", "arguments": { "ip-address": "192.0.2.9",
            "hw-address": "1a:1b:1c:1d:1e:1f", "force-create": true } }),
    );
    assert_eq!(r, json!({ "result": 0, "text": "IPv4 lease added." }));
    let r = call(
        &c,
        json!({ "command": "lease4-update", "arguments": { "ip-address": "192.0.2.9",
            "hw-address": "1a:1b:1c:1d:1e:1f", "hostname": "taken.example.org" } }),
    );
    assert_eq!(r, json!({ "result": 4, "text": "address taken" }));
    let r = call(
        &c,
        json!({ "command": "lease4-del", "arguments": { "ip-address": "192.0.2.202" } }),
    );
    assert_eq!(r, json!({ "result": 0, "text": "IPv4 lease deleted." }));
    let r = call(
        &c,
        json!({ "command": "lease4-del", "arguments": { "ip-address": "192.0.2.202" } }),
    );
    assert_eq!(r["result"], 3);
}

#[test]
fn lease4_wipe_reports_count_or_empty() {
    let (f, c) = setup();
    f.leases
        .lock()
        .unwrap()
        .push(lease([192, 0, 2, 1], [1, 2, 3, 4, 5, 6]));
    let r = call(
        &c,
        json!({ "command": "lease4-wipe", "arguments": { "subnet-id": 1 } }),
    );
    assert_eq!(
        r,
        json!({ "result": 0, "text": "Deleted 1 IPv4 lease(s) from subnet(s) 1" })
    );
    let r = call(&c, json!({ "command": "lease4-wipe" }));
    assert_eq!(r["result"], 3);
}

#[test]
fn dhcp_disable_and_enable_reach_the_backend() {
    let (f, c) = setup();
    let r = call(
        &c,
        json!({ "command": "dhcp-disable", "arguments": { "max-period": 20 } }),
    );
    assert_eq!(
        r,
        json!({ "result": 0, "text": "DHCPv4 service disabled for 20 seconds" })
    );
    let r = call(&c, json!({ "command": "dhcp-enable" }));
    assert_eq!(
        r,
        json!({ "result": 0, "text": "DHCP service successfully enabled" })
    );
    assert_eq!(*f.enabled.lock().unwrap(), vec![false, true]);
}

#[test]
fn leases_reclaim_needs_the_remove_flag() {
    let (_, c) = setup();
    let r = call(&c, json!({ "command": "leases-reclaim" }));
    assert_eq!(r["result"], 1);
    let r = call(
        &c,
        json!({ "command": "leases-reclaim", "arguments": { "remove": true } }),
    );
    assert_eq!(
        r,
        json!({ "result": 0, "text": "Reclamation of expired leases is complete." })
    );
}

#[test]
fn metrics_name_families_with_labels_and_total_suffix() {
    let (f, c) = setup();
    f.set_stat("pkt4-ack-sent", 7);
    f.set_stat("subnet[3].assigned-addresses", 2);
    f.set_stat("subnet[3].pool[0].total-addresses", 100);
    let text = c.metrics();
    assert!(text.contains("# TYPE corelease_dhcp4_pkt4_ack_sent_total counter\ncorelease_dhcp4_pkt4_ack_sent_total 7\n"), "{text}");
    assert!(
        text.contains("corelease_dhcp4_subnet_assigned_addresses{subnet_id=\"3\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("corelease_dhcp4_pool_total_addresses{subnet_id=\"3\",pool_id=\"0\"} 100\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE corelease_dhcp4_pool_total_addresses gauge"),
        "{text}"
    );
}

#[test]
fn dhcp6_pool_and_pd_pool_statistics_are_labelled_gauges_and_counters() {
    use crate::metrics::{write_statistics, MetricsWriter};
    let mut w = MetricsWriter::default();
    write_statistics(
        &mut w,
        "dhcp6",
        &[
            ("subnet[1].pool[0].assigned-nas", 3),
            ("subnet[1].pool[0].cumulative-assigned-nas", 5),
            ("subnet[1].pd-pool[2].assigned-pds", 1),
            ("subnet[1].pd-pool[2].reclaimed-leases", 4),
            ("subnet[1].total-nas", 256),
        ],
    );
    let text = w.finish();
    for want in [
        "# TYPE corelease_dhcp6_pool_assigned_nas gauge\n",
        "corelease_dhcp6_pool_assigned_nas{subnet_id=\"1\",pool_id=\"0\"} 3\n",
        "# TYPE corelease_dhcp6_pool_cumulative_assigned_nas_total counter\n",
        "corelease_dhcp6_pd_pool_assigned_pds{subnet_id=\"1\",pool_id=\"2\"} 1\n",
        "corelease_dhcp6_pd_pool_reclaimed_leases_total{subnet_id=\"1\",pool_id=\"2\"} 4\n",
        "# TYPE corelease_dhcp6_subnet_total_nas gauge\n",
    ] {
        assert!(text.contains(want), "{want} not in\n{text}");
    }
}
