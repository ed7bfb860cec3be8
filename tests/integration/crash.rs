//! DESIGN.md goal 4 and issue 3: never lose an acknowledged lease. Under load from
//! `corelease perf --record-acks`, the server is SIGKILLed at a random moment; after a restart
//! every lease the generator saw ACKed is in the store, and no address is held twice.

use crate::support::*;
use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CONFIG: &str = r#"{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "lo/127.0.0.1" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES" },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2 },
    "valid-lifetime": 4000,
    "loggers": [ { "name": "kea-dhcp4", "severity": "WARN", "output-options": [ { "output": "stdout" } ] } ],
    "subnet4": [ { "id": 3, "subnet": "10.20.0.0/16", "relay": { "ip-addresses": [ "127.0.0.2" ] },
                   "pools": [ { "pool": "10.20.0.1 - 10.20.255.254" } ] } ]
} }"#;

/// (client-id, address) pairs from `--record-acks` lines `client-id address lifetime`.
fn acked(path: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect()
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_lease() {
    let _g = serial();
    let ns = NetNs::new("crash").with_relay_address();
    let dir = TempDir::new("crash");
    let leases = dir.0.join("kea-leases4.csv");
    let cfg = dir.file(
        "kea-dhcp4.json",
        &CONFIG.replace("LEASES", &leases.to_string_lossy()),
    );
    let cfg_s = cfg.to_string_lossy().into_owned();
    let acks = dir.0.join("acks.txt");
    let server = Server::start(&ns, &["-c", &cfg_s, "-p", "6767"], &[]);
    let mut perf = ns
        .command(&bin())
        .args([
            "perf",
            "-4",
            "-r",
            "3000",
            "-R",
            "60000",
            "-p",
            "4",
            "-l",
            "127.0.0.2",
            "-L",
            "6767",
            "-N",
            "6767",
            "--record-acks",
        ])
        .arg(&acks)
        .arg("127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("corelease perf");
    // A random moment inside the run (seeded from the clock: a different one every CI run).
    let jitter = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0);
    let kill_after = Duration::from_millis(800 + u64::from(jitter) * 2);
    std::thread::sleep(kill_after);
    server.kill9();
    let deadline = Instant::now() + Duration::from_secs(30);
    while perf.try_wait().ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "corelease perf did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let acked = acked(&acks);
    assert!(
        acked.len() > 100,
        "only {} ACKs before the kill at {kill_after:?}",
        acked.len()
    );

    // Restart on the same store: the server recovers the logs and serves on.
    let restarted = Server::start(&ns, &["-c", &cfg_s, "-p", "6767"], &[]);
    let out = restarted.stop();
    let export = Command::new(bin())
        .args(["lease", "export", "-c", &cfg_s])
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let csv = String::from_utf8_lossy(&export.stdout).into_owned();
    let mut by_addr: HashMap<String, String> = HashMap::new();
    let mut seen = HashSet::new();
    for row in csv.lines().skip(1) {
        let cols: Vec<&str> = row.split(',').collect();
        let (Some(addr), Some(cid)) = (cols.first(), cols.get(2)) else {
            continue;
        };
        assert!(
            seen.insert(addr.to_string()),
            "address {addr} exported twice"
        );
        by_addr.insert(addr.to_string(), cid.to_string());
    }
    let mut lost = Vec::new();
    for (client, addr) in &acked {
        match by_addr.get(addr) {
            Some(cid) if cid == client => {}
            other => lost.push(format!("{addr} for {client}: store has {other:?}")),
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} ACKed leases lost after SIGKILL at {kill_after:?}: {:?}\n{out}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
    let mut holders: HashMap<&str, &str> = HashMap::new();
    for (client, addr) in &acked {
        if let Some(prev) = holders.insert(addr, client) {
            assert_eq!(prev, client.as_str(), "{addr} ACKed to two clients");
        }
    }
}

/// Kea's LFC equivalent (lfc-interval): the shard rewrites its log to its live leases while it
/// keeps serving; afterwards every lease is still there, once.
#[test]
fn lease_file_cleanup_runs_under_load_and_keeps_every_lease() {
    let _g = serial();
    let ns = NetNs::new("lfc").with_relay_address();
    let dir = TempDir::new("lfc");
    let leases = dir.0.join("kea-leases4.csv");
    let cfg_text = CONFIG
        .replace("LEASES", &leases.to_string_lossy())
        .replace(
            "\"persist\": true,",
            "\"persist\": true, \"lfc-interval\": 1,",
        )
        .replace("\"severity\": \"WARN\"", "\"severity\": \"INFO\"");
    let cfg = dir.file("kea-dhcp4.json", &cfg_text);
    let cfg_s = cfg.to_string_lossy().into_owned();
    let server = Server::start(&ns, &["-c", &cfg_s, "-p", "6767"], &[]);
    // The same 2,000 clients twice: the second round renews, so the log holds stale records.
    for _ in 0..2 {
        let st = ns
            .command(&bin())
            .args([
                "perf",
                "-4",
                "-r",
                "2000",
                "-R",
                "2000",
                "-n",
                "2000",
                "-l",
                "127.0.0.2",
                "-L",
                "6767",
                "-N",
                "6767",
                "127.0.0.1",
            ])
            .stdout(Stdio::null())
            .status()
            .expect("corelease perf");
        assert!(st.success(), "perf run failed");
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.output().matches("lease file cleanup done").count() < 2 {
        assert!(
            Instant::now() < deadline,
            "no lease file cleanup within 15 s:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = server.stop();
    assert!(!out.contains("lease file cleanup failed"), "{out}");
    let export = Command::new(bin())
        .args(["lease", "export", "-c", &cfg_s])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&export.stdout);
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let addrs: HashSet<&str> = rows.iter().filter_map(|r| r.split(',').next()).collect();
    assert_eq!(rows.len(), 2000, "one lease per client after cleanup");
    assert_eq!(addrs.len(), 2000);
}

/// thread-pool-size may change between runs (issue 3): leases are re-hashed to the new shards,
/// each shard rewrites its log with them, and the logs of removed shards go — nothing lost.
#[test]
fn shrinking_the_shard_count_keeps_every_lease_and_retires_old_logs() {
    let _g = serial();
    let ns = NetNs::new("rehash").with_relay_address();
    let dir = TempDir::new("rehash");
    let leases = dir.0.join("kea-leases4.csv");
    let four = CONFIG
        .replace("LEASES", &leases.to_string_lossy())
        .replace("\"thread-pool-size\": 2", "\"thread-pool-size\": 4")
        .replace("\"severity\": \"WARN\"", "\"severity\": \"INFO\"");
    let cfg = dir.file("kea-dhcp4.json", &four);
    let cfg_s = cfg.to_string_lossy().into_owned();
    let server = Server::start(&ns, &["-c", &cfg_s, "-p", "6767"], &[]);
    let st = ns
        .command(&bin())
        .args([
            "perf",
            "-4",
            "-r",
            "1000",
            "-R",
            "800",
            "-n",
            "800",
            "-l",
            "127.0.0.2",
            "-L",
            "6767",
            "-N",
            "6767",
            "127.0.0.1",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("corelease perf");
    assert!(st.success());
    server.stop();
    let logdir = dir.0.join("kea-leases4.csv.corelease");
    assert!(logdir.join("leases4-shard3.log").exists());
    let export = || {
        let out = Command::new(bin())
            .args(["lease", "export", "-c", &cfg_s])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().skip(1).count()
    };
    // 4 -> 3: leases also move between the three remaining shards, whose rewrites turn the
    // records of every lease that left into removals; the new owner's record must outrank
    // them (it once did not: such leases were gone at the next start).
    dir.file(
        "kea-dhcp4.json",
        &four.replace("\"thread-pool-size\": 4", "\"thread-pool-size\": 3"),
    );
    let three = Server::start(&ns, &["-c", &cfg_s, "-p", "6767"], &[]);
    let out = three.stop();
    assert!(out.contains("log of a removed shard deleted"), "{out}");
    assert_eq!(export(), 800, "every lease kept on 3 shards:\n{out}");
    // 3 -> 1.
    dir.file(
        "kea-dhcp4.json",
        &four.replace("\"thread-pool-size\": 4", "\"thread-pool-size\": 1"),
    );
    let one = Server::start(&ns, &["-c", &cfg_s, "-p", "6767"], &[]);
    let out = one.stop();
    assert!(out.contains("log of a removed shard deleted"), "{out}");
    for i in 1..4 {
        assert!(
            !logdir.join(format!("leases4-shard{i}.log")).exists(),
            "shard {i} log retired"
        );
    }
    assert_eq!(export(), 800, "every lease kept:\n{out}");
    assert_eq!(
        shutdown_stat(&out, "subnet[3].assigned-addresses"),
        800,
        "{out}"
    );
}

/// thread-pool-size grows between runs: leases are re-hashed in memory to shards whose logs
/// have no record of them yet. A lease file cleanup of the old shards' logs must not drop
/// those records (Kea's LFC works from the file, and so does ours): after two cleanups per
/// shard and a restart, every lease is still there.
#[test]
fn growing_the_shard_count_then_lease_file_cleanup_keeps_every_lease() {
    let _g = serial();
    let ns = NetNs::new("grow").with_relay_address();
    let dir = TempDir::new("grow");
    let leases = dir.0.join("kea-leases4.csv");
    let one = CONFIG
        .replace("LEASES", &leases.to_string_lossy())
        .replace("\"thread-pool-size\": 2", "\"thread-pool-size\": 1")
        .replace("\"severity\": \"WARN\"", "\"severity\": \"INFO\"");
    let cfg = dir.file("kea-dhcp4.json", &one);
    let cfg_s = cfg.to_string_lossy().into_owned();
    let server = Server::start(&ns, &["-c", &cfg_s, "-p", "6767"], &[]);
    let st = ns
        .command(&bin())
        .args([
            "perf",
            "-4",
            "-r",
            "1000",
            "-R",
            "600",
            "-n",
            "600",
            "-l",
            "127.0.0.2",
            "-L",
            "6767",
            "-N",
            "6767",
            "127.0.0.1",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("corelease perf");
    assert!(st.success());
    server.stop();
    dir.file(
        "kea-dhcp4.json",
        &one.replace("\"thread-pool-size\": 1", "\"thread-pool-size\": 4")
            .replace(
                "\"persist\": true,",
                "\"persist\": true, \"lfc-interval\": 1,",
            ),
    );
    let four = Server::start(&ns, &["-c", &cfg_s, "-p", "6767"], &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    // Shard 0's log holds every record; two cleanups of it (and of the others) must keep them.
    while four.output().matches("lease file cleanup done").count() < 8 {
        assert!(
            Instant::now() < deadline,
            "fewer than 8 lease file cleanups within 20 s:\n{}",
            four.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = four.stop();
    assert!(!out.contains("lease file cleanup failed"), "{out}");
    let export = Command::new(bin())
        .args(["lease", "export", "-c", &cfg_s])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&export.stdout);
    let addrs: HashSet<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|r| r.split(',').next())
        .collect();
    assert_eq!(csv.lines().skip(1).count(), 600, "every lease kept:\n{out}");
    assert_eq!(addrs.len(), 600);
}
