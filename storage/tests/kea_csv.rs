//! Kea memfile compatibility against a lease file written by a real kea-dhcp4 2.2 under
//! perfdhcp load (tests/data/make-kea-leases4.sh made it).

use corelease_storage::kea_csv::{read_leases4, read_leases4_file, write_leases4};
use corelease_storage::{export_kea_csv, import_kea_csv, Family, LogOptions};
use corelease_types::{ClientId, HwAddr, LeaseState};
use std::collections::HashMap;
use std::net::IpAddr;

const KEA_FILE: &str = include_str!("data/kea-2.2-leases4.csv");

fn addr(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Kea's own last row per address, for the addresses it did not delete.
fn kea_last_rows() -> HashMap<String, String> {
    let mut last = HashMap::new();
    for row in KEA_FILE.lines().skip(1) {
        let address = row.split(',').next().unwrap().to_string();
        last.insert(address, row.to_string());
    }
    last.retain(|_, row| row.split(',').nth(3) != Some("0"));
    last
}

#[test]
fn kea_file_replays_with_keas_rules() {
    let file = read_leases4_file(KEA_FILE.as_bytes()).unwrap();
    assert!(file.skipped.is_empty(), "{:?}", file.skipped);
    assert_eq!(file.rows, 104);
    // 10.77.0.10 was deleted by lease4-del, 10.77.0.252 was added with valid-lft 0.
    let deleted: Vec<String> = file.deleted.iter().map(|a| a.to_string()).collect();
    assert_eq!(deleted, vec!["10.77.0.10", "10.77.0.252"]);
    assert_eq!(file.leases.len(), 100);

    let updated = file
        .leases
        .iter()
        .find(|l| l.addr == addr("10.77.0.250"))
        .unwrap();
    assert_eq!(
        updated.hostname.as_deref(),
        Some("host,with,commas.example.org")
    );
    assert_eq!(
        updated.user_context.as_deref(),
        Some(r#"{ "ISC": { "note": "a,b" }, "n": [ 1, 2 ] }"#)
    );
    assert!(updated.fqdn_fwd && updated.fqdn_rev);
    assert_eq!(updated.valid_lifetime, 3600);
    assert_eq!(updated.hwaddr, HwAddr::parse("0a:0b:0c:0d:0e:0f", 1));
    assert_eq!(updated.client_id, ClientId::parse("01:0a:0b:0c:0d:0e:0f"));

    let declined = file
        .leases
        .iter()
        .find(|l| l.addr == addr("10.77.0.251"))
        .unwrap();
    assert_eq!(declined.state, LeaseState::Declined);
    assert_eq!(declined.client_id, None);
    assert_eq!(declined.expire(), declined.cltt + 86400);
}

#[test]
fn written_rows_equal_keas_rows_plus_pool_id() {
    let leases = read_leases4(KEA_FILE.as_bytes()).unwrap();
    let mut out = Vec::new();
    write_leases4(&mut out, &leases).unwrap();
    let text = String::from_utf8(out).unwrap();
    let kea = kea_last_rows();
    let mut rows = text.lines();
    assert_eq!(
        rows.next(),
        Some("address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id")
    );
    let mut compared = 0;
    for row in rows {
        let (without_pool, pool) = row.rsplit_once(',').unwrap();
        assert_eq!(pool, "0");
        let address = row.split(',').next().unwrap();
        assert_eq!(
            Some(&without_pool.to_string()),
            kea.get(address),
            "{address}"
        );
        compared += 1;
    }
    assert_eq!(compared, 100);
}

#[test]
fn import_then_export_round_trips_the_kea_lease_set() {
    let dir = tempfile::tempdir().unwrap();
    let summary = import_kea_csv(
        dir.path(),
        Family::V4,
        KEA_FILE.as_bytes(),
        LogOptions::default(),
    )
    .unwrap();
    assert_eq!(summary.imported, 100);
    assert_eq!(summary.removed, 2);
    assert!(summary.skipped.is_empty());

    let mut out = Vec::new();
    let export = export_kea_csv(dir.path(), Family::V4, &mut out).unwrap();
    assert_eq!(export.leases, 100);
    assert!(export.reports.iter().all(|r| r.is_whole()));
    let exported = read_leases4(out.as_slice()).unwrap();
    assert_eq!(exported, read_leases4(KEA_FILE.as_bytes()).unwrap());

    // The exported file is what Kea would load: same last rows, byte for byte.
    let kea = kea_last_rows();
    for row in String::from_utf8(out).unwrap().lines().skip(1) {
        let (without_pool, _) = row.rsplit_once(',').unwrap();
        let address = row.split(',').next().unwrap();
        assert_eq!(Some(&without_pool.to_string()), kea.get(address));
    }
}

#[test]
fn import_removes_addresses_the_csv_deleted_from_an_existing_store() {
    let dir = tempfile::tempdir().unwrap();
    let header = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context";
    let first = format!("{header}\n10.0.0.1,00:01:02:03:04:05,,100,1100,1,0,0,,0,\n10.0.0.2,00:01:02:03:04:06,,100,1100,1,0,0,,0,\n");
    let second = format!("{header}\n10.0.0.1,00:01:02:03:04:05,,0,1100,1,0,0,,0,\n");
    import_kea_csv(
        dir.path(),
        Family::V4,
        first.as_bytes(),
        LogOptions::default(),
    )
    .unwrap();
    let summary = import_kea_csv(
        dir.path(),
        Family::V4,
        second.as_bytes(),
        LogOptions::default(),
    )
    .unwrap();
    assert_eq!(summary.removed, 1);
    let mut out = Vec::new();
    export_kea_csv(dir.path(), Family::V4, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let addresses: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|r| r.split(',').next().unwrap())
        .collect();
    assert_eq!(addresses, vec!["10.0.0.2"]);
}

#[test]
fn import_into_a_running_servers_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _running =
        corelease_storage::LeaseLog::open(dir.path(), Family::V4, 0, LogOptions::default())
            .unwrap();
    let err = import_kea_csv(
        dir.path(),
        Family::V4,
        KEA_FILE.as_bytes(),
        LogOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("stop it first"), "{err}");
}

#[test]
fn leases6_import_then_export_round_trips() {
    let csv = "address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context,hwtype,hwaddr_source,pool_id\n\
        2001:db8::10,00:03:00:01:0a:0b:0c:0d:0e:0f,400,1400,1,300,0,7,128,0,0,h&#x2c1,0a:0b:0c:0d:0e:0f,0,,1,0,3\n\
        2001:db8:1:100::,00:03:00:01:0a:0b:0c:0d:0e:0f,800,1800,1,600,2,9,56,1,1,,,0,{ \"x\": 1 },,,0\n";
    let dir = tempfile::tempdir().unwrap();
    let summary = import_kea_csv(
        dir.path(),
        Family::V6,
        csv.as_bytes(),
        LogOptions::default(),
    )
    .unwrap();
    assert_eq!(summary.imported, 2);
    let mut out = Vec::new();
    export_kea_csv(dir.path(), Family::V6, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), csv);
    // The v4 store is untouched.
    let mut v4 = Vec::new();
    assert_eq!(
        export_kea_csv(dir.path(), Family::V4, &mut v4)
            .unwrap()
            .leases,
        0
    );
}

#[test]
fn kea_2_schema_output_is_keas_own_last_rows() {
    use corelease_storage::kea_csv::{write_leases4_as, KeaSchema};
    let leases = read_leases4(KEA_FILE.as_bytes()).unwrap();
    let mut out = Vec::new();
    write_leases4_as(&mut out, &leases, KeaSchema::V2).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), KEA_FILE.lines().next());
    let kea = kea_last_rows();
    let mut rows = 0;
    for row in lines {
        let address = row.split(',').next().unwrap();
        assert_eq!(kea.get(address).map(String::as_str), Some(row));
        rows += 1;
    }
    assert_eq!(rows, kea.len());
}
