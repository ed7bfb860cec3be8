//! What a hook point costs a shard: the check when nothing listens, building a script's
//! environment, and firing a script (hand-off to the spawner thread); and, for scale, how long
//! the spawner takes to run a trivial script.
//!
//! Run: `CARGO_TARGET_DIR=... cargo bench -p corelease-hooks --bench fire`
//! Bounded: fixed iteration counts, a few seconds in all.

use corelease_hooks::{
    script_env, Contract, HookContext, HookPoint, Hooks, LeaseTimers, PacketView, RunScript,
    RunScriptConfig, SubnetView,
};
use corelease_types::{ClientId, HwAddr, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

fn main() {
    let hw = HwAddr::new(1, &[0, 0x0c, 1, 2, 3, 0xff]);
    let lease = Lease {
        kind: LeaseKind::V4,
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        prefix_len: 32,
        iaid: 0,
        hwaddr: Some(hw),
        client_id: Some(ClientId::new(&[1, 0, 0x0c, 1, 2, 3, 0xff])),
        valid_lifetime: 3600,
        preferred_lifetime: 0,
        cltt: 1_700_000_000,
        subnet_id: SubnetId(1),
        pool_id: PoolId(0),
        state: LeaseState::Default,
        hostname: Some("host-a".into()),
        fqdn_fwd: false,
        fqdn_rev: false,
        user_context: None,
    };
    let query = PacketView {
        message_type: Some(3),
        xid: 1,
        hops: 0,
        secs: 0,
        flags: 0,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        siaddr: Ipv4Addr::UNSPECIFIED,
        yiaddr: Ipv4Addr::UNSPECIFIED,
        giaddr: Ipv4Addr::UNSPECIFIED,
        hwaddr: hw,
        local_hwaddr: None,
        remote_hwaddr: None,
        interface: "eth0",
        ifindex: 2,
        local: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 254), 67),
        remote: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68).into(),
        client_id: None,
        hostname: None,
        relay_agent_info: None,
        bytes: &[],
    };
    let ctx = HookContext {
        query: Some(query),
        subnet: Some(SubnetView {
            id: SubnetId(1),
            prefix: Ipv4Addr::new(192, 0, 2, 0),
            prefix_len: 24,
        }),
        lease: Some(&lease),
        timers: LeaseTimers { t1: 1800, t2: 3150 },
        ..HookContext::new(1_700_000_100)
    };

    // 1. The engine's check at a point nobody listens to.
    let hooks: Option<Box<Hooks>> = black_box(Some(Box::new(Hooks::new())));
    let n = 10_000_000u32;
    let t = Instant::now();
    let mut hits = 0u32;
    for _ in 0..n {
        if let Some(h) = black_box(&hooks) {
            if h.wants(black_box(HookPoint::Lease4Select)) {
                hits += 1;
            }
        }
    }
    let per = t.elapsed().as_secs_f64() * 1e9 / f64::from(n);
    println!("wants() at an unwanted point: {per:.2} ns ({hits} hits)");

    // 2. Building the lease4_select environment (kea-hook-runscript contract).
    let n = 100_000u32;
    let t = Instant::now();
    for _ in 0..n {
        black_box(script_env(
            Contract::KeaHookRunscript,
            HookPoint::Lease4Select,
            black_box(&ctx),
        ));
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("script_env(lease4_select): {per:.2} us");

    // 3. fire(): spawning a script that exits at once, reaped between rounds.
    let dir = std::env::temp_dir().join(format!("corelease-hooks-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let script = dir.join("true.sh");
    if std::fs::write(&script, "#!/bin/sh\nexit 0\n").is_err()
        || std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).is_err()
    {
        println!("cannot write {}", script.display());
        return;
    }
    let mut cfg = RunScriptConfig::new(Contract::KeaHookRunscript, &script);
    cfg.wait = false;
    cfg.max_running = 64;
    let mut rs = match RunScript::new(cfg) {
        Ok(rs) => rs,
        Err(e) => {
            println!("{e}");
            return;
        }
    };
    let rounds = 20;
    let mut fired = 0u32;
    let mut spent = Duration::ZERO;
    let mut drained = Duration::ZERO;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..32 {
            black_box(rs.fire(HookPoint::Lease4Select, &ctx));
            fired += 1;
        }
        spent += t.elapsed();
        // Until the spawner has run and reaped them all (bounded: at most ~5 s).
        let t = Instant::now();
        for _ in 0..5000 {
            let _ = rs.poll().count();
            if rs.running() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        drained += t.elapsed();
    }
    let per = spent.as_secs_f64() * 1e6 / f64::from(fired);
    let through = drained.as_secs_f64() * 1e6 / f64::from(fired);
    println!("fire() on the shard (env + hand-off): {per:.1} us each over {fired}");
    println!(
        "spawner: spawn+exit+reap of a /bin/sh script: {through:.0} us each; stats {:?}",
        rs.stats()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
