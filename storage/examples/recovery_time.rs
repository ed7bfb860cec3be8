//! Recovery of 1,000,000 leases, timed in wall-clock and in CPU time of all threads (the CPU
//! figure is what the machine's load does not inflate):
//! `cargo run --release -p corelease-storage --example recovery_time [DIR]`
//! Without DIR a temp dir is filled first (1,000,000 leases + 200,000 renewals, 2 shard logs).

use corelease_storage::{recover, Family, LeaseLog, LeaseSink, LogOptions};
use corelease_types::{ClientId, HwAddr, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

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

fn cpu(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp;
    let dir = match std::env::args().nth(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            temp = tempfile::tempdir()?;
            for shard in 0..2u32 {
                let mut log = LeaseLog::open(
                    temp.path(),
                    Family::V4,
                    shard as usize,
                    LogOptions::default(),
                )?;
                for i in (shard..1_000_000).step_by(2) {
                    log.record(&lease(i))?;
                }
                for i in (shard..200_000).step_by(2) {
                    let mut renewed = lease(i);
                    renewed.cltt += 2000;
                    log.record(&renewed)?;
                }
            }
            temp.path().to_path_buf()
        }
    };
    for run in 0..3 {
        let process = cpu(libc::CLOCK_PROCESS_CPUTIME_ID);
        let wall = Instant::now();
        let recovery = recover(&dir, Family::V4)?;
        let (wall, process) = (
            wall.elapsed(),
            cpu(libc::CLOCK_PROCESS_CPUTIME_ID) - process,
        );
        println!(
            "run {run}: {} leases from {} logs: wall {:.0} ms, CPU (all threads) {:.0} ms",
            recovery.leases.len(),
            recovery.reports.len(),
            wall.as_secs_f64() * 1e3,
            process.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
