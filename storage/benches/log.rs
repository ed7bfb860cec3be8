//! Lease log benchmarks: append rate per durability mode, recovery of 1,000,000 leases,
//! compaction time.
//!
//! `cargo bench -p corelease-storage --bench log -- --warm-up-time 1 --measurement-time 5`
//! Files go to a temp dir under $TMPDIR (must be a real disk for group commit to mean anything).

use corelease_storage::{recover, Durability, Family, LeaseLog, LeaseSink, LogOptions};
use corelease_types::{ClientId, HwAddr, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

/// A typical DHCPv4 lease: MAC, client-id (type 1 + MAC), no hostname.
fn lease(i: u32) -> Lease {
    let mac = [
        2,
        0,
        (i >> 24) as u8,
        (i >> 16) as u8,
        (i >> 8) as u8,
        i as u8,
    ];
    let mut cid = [1u8; 7];
    cid[1..].copy_from_slice(&mac);
    Lease {
        kind: LeaseKind::V4,
        addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
        prefix_len: 32,
        iaid: 0,
        hwaddr: Some(HwAddr::new(1, &mac)),
        client_id: Some(ClientId::new(&cid)),
        valid_lifetime: 4000,
        preferred_lifetime: 0,
        cltt: 1_700_000_000 + u64::from(i),
        subnet_id: SubnetId(1),
        pool_id: PoolId(0),
        state: LeaseState::Default,
        hostname: None,
        fqdn_fwd: false,
        fqdn_rev: false,
        user_context: None,
    }
}

/// Keeps the log under this size during append benches; starting a fresh file is not timed.
const MAX_LOG_BYTES: u64 = 256 << 20;

fn fresh_log(dir: &Path, opts: LogOptions) -> LeaseLog {
    let path = dir.join("leases4-shard0.log");
    let _ = std::fs::remove_file(path);
    match LeaseLog::open(dir, Family::V4, 0, opts) {
        Ok(log) => log,
        Err(e) => panic!("cannot open bench log in {}: {e}", dir.display()),
    }
}

fn bench_append(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let leases: Vec<Lease> = (0..65_536).map(lease).collect();
    let mut group = c.benchmark_group("append");
    let modes: [(&str, Durability, u64); 3] = [
        ("default", Durability::Default, 1024),
        (
            "group-commit-64",
            Durability::GroupCommit {
                max_delay: Duration::from_millis(1),
                max_batch: 64,
            },
            64,
        ),
        (
            "group-commit-1024",
            Durability::GroupCommit {
                max_delay: Duration::from_millis(1),
                max_batch: 1024,
            },
            1024,
        ),
    ];
    for (name, durability, batch) in modes {
        let opts = LogOptions {
            durability,
            segment_bytes: 64 << 20,
        };
        group.throughput(Throughput::Elements(batch));
        group.bench_function(name, |b| {
            let mut log = fresh_log(dir.path(), opts);
            let mut next = 0usize;
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    if log.logical_len() > MAX_LOG_BYTES {
                        drop(std::mem::replace(&mut log, fresh_log(dir.path(), opts)));
                    }
                    let start = Instant::now();
                    // One receive batch: `batch` lease changes, then the end-of-batch commit.
                    for _ in 0..batch {
                        let l = &leases[next % leases.len()];
                        next += 1;
                        if let Err(e) = log.record(l) {
                            panic!("append failed: {e}");
                        }
                    }
                    if let Err(e) = log.commit() {
                        panic!("commit failed: {e}");
                    }
                    elapsed += start.elapsed();
                }
                elapsed
            });
        });
    }
    group.finish();
}

fn bench_recovery(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    // 1,000,000 distinct leases over two shard logs, plus 200,000 renewals.
    for shard in 0..2u32 {
        let mut log = match LeaseLog::open(
            dir.path(),
            Family::V4,
            shard as usize,
            LogOptions::default(),
        ) {
            Ok(log) => log,
            Err(e) => panic!("open: {e}"),
        };
        for i in (shard..1_000_000).step_by(2) {
            if let Err(e) = log.record(&lease(i)) {
                panic!("append: {e}");
            }
        }
        for i in (shard..200_000).step_by(2) {
            let mut renewed = lease(i);
            renewed.cltt += 2000;
            if let Err(e) = log.record(&renewed) {
                panic!("append: {e}");
            }
        }
    }
    let mut group = c.benchmark_group("recovery");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("1M-leases-1.2M-records-2-shards", |b| {
        b.iter(|| match recover(dir.path(), Family::V4) {
            Ok(r) => {
                assert_eq!(r.leases.len(), 1_000_000);
                r
            }
            Err(e) => panic!("recover: {e}"),
        })
    });
    group.finish();
}

fn bench_compaction(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = fresh_log(dir.path(), LogOptions::default());
    // 100,000 leases, each renewed once: 200,000 records, 100,000 live (later iterations
    // compact an already compact log of 100,000).
    for round in 0..2u64 {
        for i in 0..100_000 {
            let mut l = lease(i);
            l.cltt += round * 2000;
            if let Err(e) = log.record(&l) {
                panic!("append: {e}");
            }
        }
    }
    let live: Vec<Lease> = (0..100_000)
        .map(|i| {
            let mut l = lease(i);
            l.cltt += 2000;
            l
        })
        .collect();
    let mut group = c.benchmark_group("compaction");
    group.sample_size(10);
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("100k-live", |b| {
        b.iter(|| match log.compact(live.iter().cloned()) {
            Ok(stats) => stats,
            Err(e) => panic!("compact: {e}"),
        })
    });
    // What the shard itself waits for when the middle step runs on another thread: taking
    // the snapshot, then (after 1,000 records appended meanwhile) the tail copy, sync and
    // rename. This is compaction's effect on packet latency.
    group.bench_function("100k-live-shard-pause", |b| {
        b.iter_custom(|iters| {
            let mut paused = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let job = match log.begin_compaction(live.iter().cloned()) {
                    Ok(job) => job,
                    Err(e) => panic!("begin: {e}"),
                };
                paused += start.elapsed();
                let prepared = match std::thread::spawn(move || job.run()).join() {
                    Ok(Ok(p)) => p,
                    _ => panic!("compaction job failed"),
                };
                for l in live.iter().take(1000) {
                    if let Err(e) = log.record(l) {
                        panic!("append: {e}");
                    }
                }
                let start = Instant::now();
                if let Err(e) = log.finish_compaction(prepared) {
                    panic!("finish: {e}");
                }
                paused += start.elapsed();
            }
            paused
        })
    });
    group.finish();
}

/// The shard's pause for one lease file cleanup of a log with 1,000,000 live leases (2,000,000
/// records), before and after the snapshot moved off the shard: `table-snapshot` is the old
/// way (the shard copies its live leases into the job: `begin_compaction`), `log` the LFC's
/// way now (`begin_log_compaction`: the job reads the log itself, and the replaced file is
/// dropped on another thread). Both wait for the finish: 1,000 records appended meanwhile are
/// copied over and the file renamed.
/// `cargo bench -p corelease-storage --bench log -- compaction-1m`
fn bench_compaction_1m(c: &mut Criterion) {
    const LIVE: u32 = 1_000_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = fresh_log(dir.path(), LogOptions::default());
    for round in 0..2u64 {
        for i in 0..LIVE {
            let mut l = lease(i);
            l.cltt += round * 2000;
            if let Err(e) = log.record(&l) {
                panic!("append: {e}");
            }
        }
    }
    let live: Vec<Lease> = (0..LIVE)
        .map(|i| {
            let mut l = lease(i);
            l.cltt += 2000;
            l
        })
        .collect();
    let mut group = c.benchmark_group("compaction-1m");
    group.sample_size(10);
    group.sampling_mode(criterion::SamplingMode::Flat);
    for from_log in [false, true] {
        let name = if from_log {
            "shard-pause-log"
        } else {
            "shard-pause-table-snapshot"
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut paused = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let job = if from_log {
                        log.begin_log_compaction()
                    } else {
                        log.begin_compaction(live.iter().cloned())
                    };
                    let job = match job {
                        Ok(job) => job,
                        Err(e) => panic!("begin: {e}"),
                    };
                    paused += start.elapsed();
                    let prepared = match std::thread::spawn(move || job.run()).join() {
                        Ok(Ok(p)) => p,
                        _ => panic!("compaction job failed"),
                    };
                    for l in live.iter().take(1000) {
                        if let Err(e) = log.record(l) {
                            panic!("append: {e}");
                        }
                    }
                    let start = Instant::now();
                    if let Err(e) = log.finish_compaction(prepared) {
                        panic!("finish: {e}");
                    }
                    let old = log.take_retired();
                    if from_log {
                        // Dropped off the shard, as src/lfc.rs does.
                        paused += start.elapsed();
                        let _ = std::thread::spawn(move || drop(old)).join();
                    } else {
                        // Dropped on the shard, as before.
                        drop(old);
                        paused += start.elapsed();
                    }
                }
                paused
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_append,
    bench_recovery,
    bench_compaction,
    bench_compaction_1m
);
criterion_main!(benches);
