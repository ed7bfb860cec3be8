//! Lease log behaviour on real files: append and recover, damage of every kind, ordering across
//! shard logs, group commit, and a crash at every step of compaction.

use corelease_storage::{
    recover, CompactionStep, Damage, Durability, Family, LeaseLog, LeaseSink, LogOptions, LogSeq,
    StorageError,
};
use corelease_types::{ClientId, HwAddr, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

const SMALL: LogOptions = LogOptions {
    durability: Durability::Default,
    segment_bytes: 64 * 1024,
};

fn lease(last_octet: u8, valid: u32) -> Lease {
    Lease {
        kind: LeaseKind::V4,
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last_octet)),
        prefix_len: 32,
        iaid: 0,
        hwaddr: Some(HwAddr::new(1, &[2, 0, 0, 0, 0, last_octet])),
        client_id: Some(ClientId::new(&[1, 2, 0, 0, 0, 0, last_octet])),
        valid_lifetime: valid,
        preferred_lifetime: 0,
        cltt: 1_700_000_000,
        subnet_id: SubnetId(1),
        pool_id: PoolId(0),
        state: LeaseState::Default,
        hostname: Some(format!("host-{last_octet}").into()),
        fqdn_fwd: false,
        fqdn_rev: true,
        user_context: None,
    }
}

fn sorted(mut leases: Vec<Lease>) -> Vec<Lease> {
    leases.sort_by_key(|l| l.addr);
    leases
}

fn write_leases(dir: &Path, shard: usize, leases: &[Lease]) {
    let mut log = LeaseLog::open(dir, Family::V4, shard, SMALL).unwrap();
    for l in leases {
        log.record(l).unwrap();
    }
}

fn log_path(dir: &Path, shard: usize) -> std::path::PathBuf {
    dir.join(format!("leases4-shard{shard}.log"))
}

/// Byte offsets where each record of shard 0's log starts (from a clean recovery report and the
/// record sizes, found by appending one at a time).
fn record_offsets(dir: &Path, leases: &[Lease]) -> Vec<u64> {
    let mut offsets = Vec::new();
    let mut log = LeaseLog::open(dir, Family::V4, 0, SMALL).unwrap();
    for l in leases {
        offsets.push(log.logical_len());
        log.record(l).unwrap();
    }
    offsets.push(log.logical_len());
    offsets
}

#[test]
fn recovery_returns_what_was_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let leases: Vec<Lease> = (1..=50).map(|i| lease(i, 100)).collect();
    write_leases(dir.path(), 0, &leases);
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(sorted(rec.leases), leases);
    assert_eq!(rec.reports.len(), 1);
    assert_eq!(rec.reports[0].kept, 50);
    assert!(rec.reports[0].is_whole());
}

#[test]
fn recovery_keeps_newest_record_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LeaseLog::open(dir.path(), Family::V4, 0, SMALL).unwrap();
    log.record(&lease(1, 100)).unwrap();
    log.record(&lease(2, 100)).unwrap();
    let mut renewed = lease(1, 300);
    renewed.cltt += 50;
    log.record(&renewed).unwrap();
    let mut released = lease(2, 100);
    released.state = LeaseState::Released;
    log.record(&released).unwrap();
    log.record(&lease(3, 100)).unwrap();
    log.remove(LeaseKind::V4, lease(3, 0).addr, 32).unwrap();
    drop(log);
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(sorted(rec.leases), vec![renewed, released]);
}

#[test]
fn reopened_log_appends_after_existing_records() {
    let dir = tempfile::tempdir().unwrap();
    write_leases(dir.path(), 0, &[lease(1, 100), lease(2, 100)]);
    let log = LeaseLog::open(dir.path(), Family::V4, 0, SMALL).unwrap();
    assert_eq!(log.open_report().kept, 2);
    drop(log);
    write_leases(dir.path(), 0, &[lease(3, 100), lease(1, 999)]);
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(
        sorted(rec.leases),
        vec![lease(1, 999), lease(2, 100), lease(3, 100)]
    );
    assert_eq!(rec.reports[0].kept, 4);
}

#[test]
fn newest_record_wins_across_shard_logs() {
    // Address 10.0.0.5 released by shard 1, then taken by a client of shard 0.
    let dir = tempfile::tempdir().unwrap();
    let mut released = lease(5, 100);
    released.state = LeaseState::Released;
    write_leases(dir.path(), 1, &[lease(5, 100), released]);
    let mut taken = lease(5, 200);
    taken.hwaddr = Some(HwAddr::new(1, &[9, 9, 9, 9, 9, 9]));
    write_leases(dir.path(), 0, &[taken.clone()]);
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(rec.leases, vec![taken]);
    assert_eq!(rec.reports.len(), 2);
}

#[test]
fn torn_tail_keeps_every_whole_record() {
    let dir = tempfile::tempdir().unwrap();
    let leases: Vec<Lease> = (1..=10).map(|i| lease(i, 100)).collect();
    let offsets = record_offsets(dir.path(), &leases);
    // Zero the second half of the last record: a write the crash cut short.
    let last = offsets[9];
    let end = offsets[10];
    let mut f = OpenOptions::new()
        .write(true)
        .open(log_path(dir.path(), 0))
        .unwrap();
    let mid = last + (end - last) / 2;
    f.seek(SeekFrom::Start(mid)).unwrap();
    f.write_all(&vec![0u8; (end - mid) as usize]).unwrap();
    drop(f);
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(sorted(rec.leases), leases[..9].to_vec());
    let report = &rec.reports[0];
    assert_eq!(report.kept, 9);
    assert_eq!(report.dropped, 1);
    assert_eq!(report.offset, last);
    assert_eq!(report.reason, Some(Damage::BadChecksum));
}

#[test]
fn truncated_file_keeps_records_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let leases: Vec<Lease> = (1..=10).map(|i| lease(i, 100)).collect();
    let offsets = record_offsets(dir.path(), &leases);
    let f = OpenOptions::new()
        .write(true)
        .open(log_path(dir.path(), 0))
        .unwrap();
    f.set_len(offsets[6] + 20).unwrap();
    drop(f);
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(sorted(rec.leases), leases[..6].to_vec());
    assert_eq!(rec.reports[0].reason, Some(Damage::Torn));
    assert_eq!(rec.reports[0].offset, offsets[6]);

    // Truncated exactly at a record boundary: a whole log, nothing lost.
    let f = OpenOptions::new()
        .write(true)
        .open(log_path(dir.path(), 0))
        .unwrap();
    f.set_len(offsets[4]).unwrap();
    drop(f);
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(sorted(rec.leases), leases[..4].to_vec());
    assert!(rec.reports[0].is_whole());
}

#[test]
fn bit_flip_stops_the_log_there_and_counts_what_follows() {
    let dir = tempfile::tempdir().unwrap();
    let leases: Vec<Lease> = (1..=10).map(|i| lease(i, 100)).collect();
    let offsets = record_offsets(dir.path(), &leases);
    let path = log_path(dir.path(), 0);
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    // Flip one bit in the variable tail of record 4 (index 3).
    let at = (offsets[4] - 12) as usize;
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(sorted(rec.leases), leases[..3].to_vec());
    let report = &rec.reports[0];
    assert_eq!(report.reason, Some(Damage::BadChecksum));
    assert_eq!(report.offset, offsets[3]);
    assert_eq!(report.kept, 3);
    assert_eq!(report.dropped, 7);
}

#[test]
fn appending_after_damage_overwrites_it_and_never_resurrects_stale_records() {
    let dir = tempfile::tempdir().unwrap();
    let leases: Vec<Lease> = (1..=10).map(|i| lease(i, 100)).collect();
    let offsets = record_offsets(dir.path(), &leases);
    let path = log_path(dir.path(), 0);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offsets[5] as usize + 20] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let mut log = LeaseLog::open(dir.path(), Family::V4, 0, SMALL).unwrap();
    let report = log.open_report().clone();
    assert_eq!(report.kept, 5);
    assert_eq!(report.dropped, 5);
    log.record(&lease(200, 7)).unwrap();
    drop(log);
    let rec = recover(dir.path(), Family::V4).unwrap();
    let mut expected = leases[..5].to_vec();
    expected.push(lease(200, 7));
    assert_eq!(sorted(rec.leases), expected);
    assert!(rec.reports[0].is_whole(), "{}", rec.reports[0]);
    assert_eq!(rec.reports[0].kept, 6);
}

#[test]
fn log_grows_past_its_first_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LeaseLog::open(dir.path(), Family::V4, 0, SMALL).unwrap();
    let mut expected = Vec::new();
    // ~130 bytes per record: 2,000 records need several 64 KiB segments.
    for i in 0..2000u32 {
        let mut l = lease(1, 100);
        l.addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        log.record(&l).unwrap();
        expected.push(l);
    }
    assert!(log.logical_len() > 3 * 64 * 1024);
    drop(log);
    let file_len = std::fs::metadata(log_path(dir.path(), 0)).unwrap().len();
    assert_eq!(file_len % (64 * 1024), 0, "grown in whole segments");
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(sorted(rec.leases), expected);
}

#[test]
fn second_open_of_a_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = LeaseLog::open(dir.path(), Family::V4, 0, SMALL).unwrap();
    let second = LeaseLog::open(dir.path(), Family::V4, 0, SMALL);
    assert!(matches!(second, Err(StorageError::Locked { .. })));
}

#[test]
fn foreign_file_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        log_path(dir.path(), 0),
        b"address,hwaddr,client_id\n1,2,3\n",
    )
    .unwrap();
    let err = LeaseLog::open(dir.path(), Family::V4, 0, SMALL);
    assert!(matches!(err, Err(StorageError::NotALeaseLog { .. })));
    assert_eq!(
        std::fs::read(log_path(dir.path(), 0)).unwrap(),
        b"address,hwaddr,client_id\n1,2,3\n"
    );
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(rec.reports[0].reason, Some(Damage::BadFileHeader));
}

#[test]
fn v6_lease_is_refused_by_a_v4_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LeaseLog::open(dir.path(), Family::V4, 0, SMALL).unwrap();
    let mut l = lease(1, 100);
    l.kind = LeaseKind::V6Na;
    l.addr = "2001:db8::1".parse().unwrap();
    l.prefix_len = 128;
    assert!(matches!(
        log.record(&l),
        Err(StorageError::FamilyMismatch { .. })
    ));
}

#[test]
fn v6_logs_recover_separately_from_v4() {
    let dir = tempfile::tempdir().unwrap();
    write_leases(dir.path(), 0, &[lease(1, 100)]);
    let mut pd = lease(1, 100);
    pd.kind = LeaseKind::V6Pd;
    pd.addr = "2001:db8:0:100::".parse().unwrap();
    pd.prefix_len = 56;
    pd.iaid = 77;
    let mut log = LeaseLog::open(dir.path(), Family::V6, 0, SMALL).unwrap();
    log.record(&pd).unwrap();
    drop(log);
    assert_eq!(recover(dir.path(), Family::V6).unwrap().leases, vec![pd]);
    assert_eq!(
        recover(dir.path(), Family::V4).unwrap().leases,
        vec![lease(1, 100)]
    );
}

#[test]
fn group_commit_syncs_once_per_batch_and_only_when_pending() {
    let dir = tempfile::tempdir().unwrap();
    let opts = LogOptions {
        durability: Durability::GroupCommit {
            max_delay: Duration::from_millis(2),
            max_batch: 4,
        },
        segment_bytes: 64 * 1024,
    };
    let mut log = LeaseLog::open(dir.path(), Family::V4, 0, opts).unwrap();
    assert!(!log.commit().unwrap());
    assert!(log.needs_commit_by().is_none());
    log.record(&lease(1, 100)).unwrap();
    log.record(&lease(2, 100)).unwrap();
    assert_eq!(log.pending_records(), 2);
    assert!(log.needs_commit_by().is_some());
    assert!(log.commit().unwrap());
    assert_eq!(log.pending_records(), 0);
    assert!(log.needs_commit_by().is_none());
    assert!(!log.commit().unwrap());
    // The count bound: the 4th record of a window syncs on its own.
    for i in 3..=6 {
        log.record(&lease(i, 100)).unwrap();
    }
    assert_eq!(log.pending_records(), 0);
    log.record(&lease(7, 100)).unwrap();
    assert_eq!(log.pending_records(), 1);
}

#[test]
fn default_durability_never_reports_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LeaseLog::open(dir.path(), Family::V4, 0, SMALL).unwrap();
    log.record(&lease(1, 100)).unwrap();
    assert!(!log.commit().unwrap());
    assert!(log.needs_commit_by().is_none());
    assert_eq!(log.pending_records(), 0);
}

/// The history every compaction test starts from: 1..=20 allocated, 1..=5 renewed, 6..=10
/// removed, 11 released.
fn churned_log(dir: &Path) -> (LeaseLog, Vec<Lease>) {
    let mut log = LeaseLog::open(dir, Family::V4, 0, SMALL).unwrap();
    for i in 1..=20 {
        log.record(&lease(i, 100)).unwrap();
    }
    for i in 1..=5 {
        log.record(&lease(i, 500)).unwrap();
    }
    for i in 6..=10 {
        log.remove(LeaseKind::V4, lease(i, 0).addr, 32).unwrap();
    }
    let mut released = lease(11, 100);
    released.state = LeaseState::Released;
    log.record(&released).unwrap();
    let mut live: Vec<Lease> = (1..=5).map(|i| lease(i, 500)).collect();
    live.push(released);
    live.extend((12..=20).map(|i| lease(i, 100)));
    (log, live)
}

#[test]
fn compaction_keeps_exactly_the_live_set_and_shrinks_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, live) = churned_log(dir.path());
    let stats = log.compact(live.clone().into_iter()).unwrap();
    assert_eq!(stats.records_before, 31);
    assert_eq!(stats.live_written, 15);
    assert_eq!(stats.removals_written, 5);
    assert!(stats.bytes_after < stats.bytes_before);
    // Appends after compaction go to the new file.
    log.record(&lease(30, 100)).unwrap();
    drop(log);
    assert!(!dir.path().join("leases4-shard0.log.compact").exists());
    let rec = recover(dir.path(), Family::V4).unwrap();
    let mut expected = live;
    expected.push(lease(30, 100));
    assert_eq!(sorted(rec.leases), sorted(expected));
    assert!(rec.reports[0].is_whole());
    assert_eq!(rec.reports[0].kept, 21);
}

#[test]
fn compaction_keeps_sequence_numbers_so_a_newer_record_elsewhere_still_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, live) = churned_log(dir.path());
    // Shard 1 takes 10.0.0.11 (released in shard 0) after shard 0 wrote its record.
    let mut taken = lease(11, 900);
    taken.hwaddr = Some(HwAddr::new(1, &[7, 7, 7, 7, 7, 7]));
    write_leases(dir.path(), 1, &[taken.clone()]);
    // Shard 0 still holds its released copy and compacts afterwards.
    log.compact(live.into_iter()).unwrap();
    drop(log);
    let rec = recover(dir.path(), Family::V4).unwrap();
    let got = rec.leases.iter().find(|l| l.addr == taken.addr).cloned();
    assert_eq!(got, Some(taken));
}

#[test]
fn compaction_tombstones_addresses_dropped_from_the_table() {
    // After a change of shard count an old copy of 10.0.0.3 may sit in shard 1's log; shard 0
    // forgets 10.0.0.3 (reclaimed, affinity over) without a removal record, then compacts.
    let dir = tempfile::tempdir().unwrap();
    write_leases(dir.path(), 1, &[lease(3, 100)]);
    let mut log = LeaseLog::open(dir.path(), Family::V4, 0, SMALL).unwrap();
    log.record(&lease(3, 200)).unwrap();
    log.record(&lease(4, 200)).unwrap();
    let stats = log.compact(std::iter::once(lease(4, 200))).unwrap();
    assert_eq!(stats.removals_written, 1);
    drop(log);
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(rec.leases, vec![lease(4, 200)]);
}

fn crash_during_compaction(step: CompactionStep) {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, live) = churned_log(dir.path());
    let before = sorted(recover(dir.path(), Family::V4).unwrap().leases);
    assert_eq!(before, sorted(live.clone()));
    log.compact_and_crash_after(live.clone().into_iter(), step)
        .unwrap();
    drop(log); // the process "dies": nothing else runs
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(sorted(rec.leases), before, "after crash at {step:?}");
    assert!(rec.reports.iter().all(|r| r.is_whole()));
    // Restart: the shard opens its log (cleaning up the temp file) and goes on.
    let mut log = LeaseLog::open(dir.path(), Family::V4, 0, SMALL).unwrap();
    assert!(!dir.path().join("leases4-shard0.log.compact").exists());
    log.record(&lease(40, 100)).unwrap();
    log.compact(live.iter().cloned().chain(std::iter::once(lease(40, 100))))
        .unwrap();
    drop(log);
    let mut expected = before;
    expected.push(lease(40, 100));
    assert_eq!(
        sorted(recover(dir.path(), Family::V4).unwrap().leases),
        sorted(expected)
    );
}

#[test]
fn crash_after_compaction_temp_written_loses_nothing() {
    crash_during_compaction(CompactionStep::TempWritten);
}

#[test]
fn crash_after_compaction_temp_synced_loses_nothing() {
    crash_during_compaction(CompactionStep::TempSynced);
}

#[test]
fn crash_after_compaction_rename_loses_nothing() {
    crash_during_compaction(CompactionStep::Renamed);
}

#[test]
fn crash_with_half_written_compaction_temp_file_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, live) = churned_log(dir.path());
    log.compact_and_crash_after(live.clone().into_iter(), CompactionStep::TempWritten)
        .unwrap();
    drop(log);
    let temp = dir.path().join("leases4-shard0.log.compact");
    let f = OpenOptions::new().write(true).open(&temp).unwrap();
    f.set_len(100).unwrap();
    drop(f);
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(sorted(rec.leases), sorted(live));
}

#[test]
fn compaction_on_another_thread_keeps_records_appended_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, live) = churned_log(dir.path());
    let job = log.begin_compaction(live.clone().into_iter()).unwrap();
    let worker = std::thread::spawn(move || job.run());
    // The shard keeps serving while the job runs: a renewal, a removal and a new lease.
    log.record(&lease(1, 777)).unwrap();
    log.remove(LeaseKind::V4, lease(12, 0).addr, 32).unwrap();
    log.record(&lease(50, 100)).unwrap();
    let prepared = worker.join().unwrap().unwrap();
    let stats = log.finish_compaction(prepared).unwrap();
    assert_eq!(stats.live_written, 15);
    assert_eq!(log.record_count(), 15 + 5 + 3);
    log.record(&lease(51, 100)).unwrap();
    drop(log);
    let mut expected: Vec<Lease> = live
        .into_iter()
        .filter(|l| l.addr != lease(1, 0).addr && l.addr != lease(12, 0).addr)
        .collect();
    expected.extend([lease(1, 777), lease(50, 100), lease(51, 100)]);
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(sorted(rec.leases), sorted(expected));
    assert!(rec.reports[0].is_whole());
}

#[test]
fn compaction_prepared_for_a_replaced_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, live) = churned_log(dir.path());
    let stale = log.begin_compaction(live.clone().into_iter()).unwrap();
    log.compact(live.clone().into_iter()).unwrap();
    let result = stale.run().and_then(|p| log.finish_compaction(p));
    assert!(matches!(
        result,
        Err(StorageError::CompactionOutdated { .. })
    ));
    drop(log);
    assert_eq!(
        sorted(recover(dir.path(), Family::V4).unwrap().leases),
        sorted(live)
    );
}

#[test]
fn log_compaction_keeps_the_newest_record_of_every_address_and_shrinks_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, live) = churned_log(dir.path());
    let stats = log.compact_log().unwrap();
    assert_eq!(stats.records_before, 31);
    assert_eq!(stats.live_written, 15);
    assert_eq!(stats.removals_written, 5);
    assert!(stats.bytes_after < stats.bytes_before);
    assert_eq!(log.record_count(), 20);
    log.record(&lease(30, 100)).unwrap();
    drop(log);
    assert!(!dir.path().join("leases4-shard0.log.compact").exists());
    let rec = recover(dir.path(), Family::V4).unwrap();
    let mut expected = live;
    expected.push(lease(30, 100));
    assert_eq!(sorted(rec.leases), sorted(expected));
    assert!(rec.reports[0].is_whole());
    assert_eq!(rec.reports[0].kept, 21);
}

#[test]
fn log_compaction_keeps_sequence_numbers_so_a_newer_record_elsewhere_still_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = churned_log(dir.path());
    let mut taken = lease(11, 900);
    taken.hwaddr = Some(HwAddr::new(1, &[7, 7, 7, 7, 7, 7]));
    write_leases(dir.path(), 1, &[taken.clone()]);
    log.compact_log().unwrap();
    drop(log);
    let rec = recover(dir.path(), Family::V4).unwrap();
    let got = rec.leases.iter().find(|l| l.addr == taken.addr).cloned();
    assert_eq!(got, Some(taken));
}

#[test]
fn log_compaction_keeps_a_lease_that_moved_to_another_shards_table() {
    // thread-pool-size grew: 10.0.0.3's client now steers to a new shard, which holds it in
    // memory with no record in its own log yet. Shard 0 no longer has it in its table; a
    // compaction of its log must not drop the only record of it.
    let dir = tempfile::tempdir().unwrap();
    let mut log = LeaseLog::open(dir.path(), Family::V4, 0, SMALL).unwrap();
    log.record(&lease(3, 200)).unwrap();
    log.record(&lease(4, 200)).unwrap();
    log.record(&lease(4, 300)).unwrap();
    let stats = log.compact_log().unwrap();
    assert_eq!((stats.live_written, stats.removals_written), (2, 0));
    drop(log);
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(sorted(rec.leases), vec![lease(3, 200), lease(4, 300)]);
}

/// A log compaction while the shard keeps serving: a renewal, a release, a removal and a new
/// lease between the snapshot and the job, and again between the job and the swap; the
/// process dies right after `step` (`None`: the swap completes). Recovery must give exactly the
/// newest state of every address, then the restarted shard compacts again and goes on.
fn log_compaction_with_changes_meanwhile(step: Option<CompactionStep>) {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, live) = churned_log(dir.path());
    let mut released = lease(13, 100);
    released.state = LeaseState::Released;
    let renewed_late = lease(2, 888);
    log.compact_log_with_changes_and_crash_after(
        |log| {
            log.record(&lease(1, 777))?;
            log.record(&released)?;
            log.remove(LeaseKind::V4, lease(12, 0).addr, 32)?;
            log.record(&lease(50, 100))
        },
        |log| {
            log.record(&renewed_late)?;
            log.remove(LeaseKind::V4, lease(14, 0).addr, 32)?;
            log.record(&lease(51, 100))?;
            // A lease allocated and released again before the swap.
            log.record(&lease(52, 100))?;
            log.remove(LeaseKind::V4, lease(52, 0).addr, 32)
        },
        step,
    )
    .unwrap();
    drop(log); // the process "dies" (or stops) here
    let gone = [1, 2, 12, 13, 14].map(|i| lease(i, 0).addr);
    let mut expected: Vec<Lease> = live
        .into_iter()
        .filter(|l| !gone.contains(&l.addr))
        .collect();
    expected.extend([
        lease(1, 777),
        renewed_late,
        released,
        lease(50, 100),
        lease(51, 100),
    ]);
    let rec = recover(dir.path(), Family::V4).unwrap();
    assert_eq!(
        sorted(rec.leases),
        sorted(expected.clone()),
        "after {step:?}"
    );
    assert!(
        rec.reports.iter().all(|r| r.is_whole()),
        "{:?}",
        rec.reports
    );
    let mut log = LeaseLog::open(dir.path(), Family::V4, 0, SMALL).unwrap();
    assert!(!dir.path().join("leases4-shard0.log.compact").exists());
    log.record(&lease(60, 100)).unwrap();
    log.compact_log().unwrap();
    drop(log);
    expected.push(lease(60, 100));
    assert_eq!(
        sorted(recover(dir.path(), Family::V4).unwrap().leases),
        sorted(expected)
    );
}

#[test]
fn log_compaction_keeps_changes_made_meanwhile() {
    log_compaction_with_changes_meanwhile(None);
}

#[test]
fn crash_after_log_compaction_temp_written_loses_no_change_made_meanwhile() {
    log_compaction_with_changes_meanwhile(Some(CompactionStep::TempWritten));
}

#[test]
fn crash_after_log_compaction_temp_synced_loses_no_change_made_meanwhile() {
    log_compaction_with_changes_meanwhile(Some(CompactionStep::TempSynced));
}

#[test]
fn crash_after_log_compaction_rename_loses_no_change_made_meanwhile() {
    log_compaction_with_changes_meanwhile(Some(CompactionStep::Renamed));
}

#[test]
fn log_compaction_prepared_for_a_replaced_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, live) = churned_log(dir.path());
    let stale = log.begin_log_compaction().unwrap();
    log.compact_log().unwrap();
    let result = stale.run().and_then(|p| log.finish_compaction(p));
    assert!(matches!(
        result,
        Err(StorageError::CompactionOutdated { .. })
    ));
    drop(log);
    assert_eq!(
        sorted(recover(dir.path(), Family::V4).unwrap().leases),
        sorted(live)
    );
}

/// A lease moving from shard 0 to shard 1 (lease4-update): the old holder keeps its record
/// and the new owner records after it. Whatever the two logs' clocks said, the moved record
/// wins; and before the new owner's write (a crash between the two halves) the lease is
/// still there as it was.
#[test]
fn a_moved_lease_recorded_after_the_old_holders_log_wins_and_survives_a_crash_in_between() {
    let dir = tempfile::tempdir().unwrap();
    let mut old_holder = LeaseLog::open(dir.path(), Family::V4, 0, SMALL).unwrap();
    let mut new_owner = LeaseLog::open(dir.path(), Family::V4, 1, SMALL).unwrap();
    // The old holder's clock runs an hour ahead of the new owner's.
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let ahead = LogSeq(now_ns + 3_600_000_000_000);
    let before = lease(7, 100);
    old_holder.record_after(&before, ahead).unwrap();
    assert!(old_holder.last_seq() > ahead);
    // Crash before the new owner writes: the lease is recovered as it was.
    assert_eq!(
        recover(dir.path(), Family::V4).unwrap().leases,
        vec![before.clone()]
    );
    // A plain record on the lagging clock would lose to the old holder's...
    let mut moved = lease(7, 200);
    moved.hwaddr = Some(HwAddr::new(1, &[9, 9, 9, 9, 9, 9]));
    new_owner.record(&moved).unwrap();
    assert_eq!(
        recover(dir.path(), Family::V4).unwrap().leases,
        vec![before]
    );
    // ...one recorded after the old holder's newest record wins.
    new_owner
        .record_after(&moved, old_holder.last_seq())
        .unwrap();
    assert_eq!(
        recover(dir.path(), Family::V4).unwrap().leases,
        vec![moved.clone()]
    );
    // And it keeps winning after both logs are reopened and compacted from the log.
    drop((old_holder, new_owner));
    for shard in 0..2 {
        let mut log = LeaseLog::open(dir.path(), Family::V4, shard, SMALL).unwrap();
        log.compact_log().unwrap();
    }
    assert_eq!(recover(dir.path(), Family::V4).unwrap().leases, vec![moved]);
}
