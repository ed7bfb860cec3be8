//! The default durability mode's promise: a record written before the process dies is in the
//! log after it, because it lives in the shared page cache. A child process appends leases and
//! reports each one after `record` returned; the parent SIGKILLs it mid-stream and recovers.

use corelease_storage::{recover, Family, LeaseLog, LeaseSink, LogOptions};
use corelease_types::{HwAddr, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_DIR_VAR: &str = "CORELEASE_STORAGE_KILL_TEST_DIR";

fn lease(i: u32) -> Lease {
    Lease {
        kind: LeaseKind::V4,
        addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
        prefix_len: 32,
        iaid: 0,
        hwaddr: Some(HwAddr::new(1, &i.to_be_bytes())),
        client_id: None,
        valid_lifetime: 3600,
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

/// Runs only as the child of `sigkill_loses_no_recorded_lease` (it needs the directory the
/// parent passes in the environment).
#[test]
#[ignore = "child process of sigkill_loses_no_recorded_lease"]
fn kill_test_child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR_VAR) else {
        return;
    };
    let mut log = LeaseLog::open(
        std::path::Path::new(&dir),
        Family::V4,
        0,
        LogOptions::default(),
    )
    .unwrap();
    let mut out = std::io::stdout().lock();
    // Bounded: the parent kills us long before this ends; if it does not, we stop anyway.
    for i in 0..2_000_000u32 {
        log.record(&lease(i)).unwrap();
        if i % 64 == 63 {
            writeln!(out, "recorded {i}").unwrap();
            out.flush().unwrap();
        }
    }
}

#[test]
fn sigkill_loses_no_recorded_lease() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "kill_test_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_VAR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    let mut last_recorded = None;
    // Kill after ~5,000 acknowledged records, or after 20 s whatever happened.
    while started.elapsed() < Duration::from_secs(20) {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(n) = line.strip_prefix("recorded ") {
            let n: u32 = n.trim().parse().unwrap();
            last_recorded = Some(n);
            if n >= 5_000 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let last = last_recorded.expect("the child reported no record before the kill");
    let recovery = recover(dir.path(), Family::V4).unwrap();
    let mut leases = recovery.leases;
    leases.sort_by_key(|l| l.addr);
    assert!(
        leases.len() > last as usize,
        "{} leases recovered, {} reported recorded",
        leases.len(),
        last + 1
    );
    for (i, got) in leases.iter().take(last as usize + 1).enumerate() {
        assert_eq!(got, &lease(i as u32));
    }
    // A record cut by the kill may be torn; nothing after the damage is applied.
    let report = &recovery.reports[0];
    assert!(report.kept > u64::from(last), "{report}");
}
