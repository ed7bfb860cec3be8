//! Properties: whatever single byte of a log is damaged, recovery returns exactly the newest
//! record per address among the records before the damage — never a changed lease, never a
//! panic; and a log compaction with any changes made while it runs, cut by a crash at any
//! step, recovers to exactly the newest record per address of everything recorded.

use corelease_storage::{
    recover, CompactionStep, Family, LeaseLog, LeaseSink, LogOptions, StorageError,
};
use corelease_types::{ClientId, HwAddr, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
use proptest::prelude::*;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Clone, Debug)]
enum Change {
    Record(Lease),
    Remove(IpAddr),
}

fn lease_strategy() -> impl Strategy<Value = Lease> {
    (
        0u8..8,
        any::<u32>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..30)),
        proptest::option::of("[a-z,.]{0,20}"),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
        0u32..5,
        any::<bool>(),
    )
        .prop_map(|(octet, valid, cid, host, hw, state, fwd)| Lease {
            kind: LeaseKind::V4,
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, octet)),
            prefix_len: 32,
            iaid: 0,
            hwaddr: hw.map(|h| HwAddr::new(1, &h)),
            client_id: cid.map(|c| ClientId::new(&c)),
            valid_lifetime: valid,
            preferred_lifetime: 0,
            cltt: u64::from(valid) * 3,
            subnet_id: SubnetId(valid % 7),
            pool_id: PoolId(valid % 3),
            state: LeaseState::from_code(state).unwrap_or_default(),
            hostname: host.map(|h| h.into_boxed_str()),
            fqdn_fwd: fwd,
            fqdn_rev: !fwd,
            user_context: None,
        })
}

fn change_strategy() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => lease_strategy().prop_map(Change::Record),
        1 => (0u8..8).prop_map(|o| Change::Remove(IpAddr::V4(Ipv4Addr::new(10, 0, 0, o)))),
    ]
}

fn newest(changes: &[Change]) -> Vec<Lease> {
    let mut table: HashMap<IpAddr, Option<Lease>> = HashMap::new();
    for change in changes {
        match change {
            Change::Record(l) => table.insert(l.addr, Some(l.clone())),
            Change::Remove(a) => table.insert(*a, None),
        };
    }
    let mut leases: Vec<Lease> = table.into_values().flatten().collect();
    leases.sort_by_key(|l| l.addr);
    leases
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn damaged_byte_cuts_history_at_a_record_boundary(
        changes in proptest::collection::vec(change_strategy(), 1..40),
        where_frac in 0.0f64..1.0,
        flip in 1u8..=255,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let opts = LogOptions { segment_bytes: 64 * 1024, ..LogOptions::default() };
        let mut log = LeaseLog::open(dir.path(), Family::V4, 0, opts).unwrap();
        for change in &changes {
            match change {
                Change::Record(l) => log.record(l).unwrap(),
                Change::Remove(a) => log.remove(LeaseKind::V4, *a, 32).unwrap(),
            }
        }
        let end = log.logical_len();
        drop(log);
        let path = dir.path().join("leases4-shard0.log");
        let mut bytes = std::fs::read(&path).unwrap();
        let at = ((end as f64) * where_frac) as usize;
        bytes[at] ^= flip;
        std::fs::write(&path, &bytes).unwrap();

        let recovery = recover(dir.path(), Family::V4).unwrap();
        let kept = recovery.reports[0].kept as usize;
        prop_assert!(kept <= changes.len());
        let mut got = recovery.leases;
        got.sort_by_key(|l| l.addr);
        prop_assert_eq!(got, newest(&changes[..kept]));
    }

    #[test]
    fn log_compaction_with_changes_meanwhile_recovers_the_newest_of_everything(
        changes in proptest::collection::vec(change_strategy(), 0..60),
        cut_a in 0.0f64..1.0,
        cut_b in 0.0f64..1.0,
        step in 0usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let opts = LogOptions { segment_bytes: 64 * 1024, ..LogOptions::default() };
        let mut log = LeaseLog::open(dir.path(), Family::V4, 0, opts).unwrap();
        // Before the snapshot, between snapshot and job, between job and swap.
        let a = (changes.len() as f64 * cut_a.min(cut_b)) as usize;
        let b = (changes.len() as f64 * cut_a.max(cut_b)) as usize;
        let (before, rest) = changes.split_at(a);
        let (during_job, before_swap) = rest.split_at(b - a);
        apply(&mut log, before).unwrap();
        let step = [
            Some(CompactionStep::TempWritten),
            Some(CompactionStep::TempSynced),
            Some(CompactionStep::Renamed),
            None,
        ][step];
        log.compact_log_with_changes_and_crash_after(
            |log| apply(log, during_job),
            |log| apply(log, before_swap),
            step,
        )
        .unwrap();
        drop(log);
        let recovery = recover(dir.path(), Family::V4).unwrap();
        prop_assert!(recovery.reports.iter().all(|r| r.is_whole()));
        let mut got = recovery.leases;
        got.sort_by_key(|l| l.addr);
        prop_assert_eq!(got, newest(&changes));
    }
}

fn apply(log: &mut LeaseLog, changes: &[Change]) -> Result<(), StorageError> {
    for change in changes {
        match change {
            Change::Record(l) => log.record(l)?,
            Change::Remove(a) => log.remove(LeaseKind::V4, *a, 32)?,
        }
    }
    Ok(())
}
