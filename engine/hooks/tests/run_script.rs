//! The run-script hook end to end: real scripts, spawned and reaped, their environment
//! recorded with `env -0` and compared byte for byte.

mod common;

use common::*;
use corelease_hooks::{
    Contract, HookContext, HookPoint, Hooks, NextStep, RunScript, RunScriptConfig, ScriptDone,
    ScriptTicket,
};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::tables;

/// Writes an executable script into `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// A script that records its argument count and its environment (NUL-separated) under the
/// hook point's name, then exits with the code given for that point.
fn recorder(dir: &Path) -> PathBuf {
    let out = dir.display();
    script(
        dir,
        "record.sh",
        &format!(
            "#!/bin/sh\necho \"$#\" > '{out}'/\"$1\".argc\n/usr/bin/env -0 > '{out}'/\"$1\".env\ncase \"$1\" in\n  pkt4_receive|lease4_select|lease4_renew) exit 3 ;;\nesac\nexit 0\n"
        ),
    )
}

/// The recorded environment, without PWD (which /bin/sh itself exports; the server passes only
/// the contract's variables).
fn recorded_env(dir: &Path, point: HookPoint) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let raw = std::fs::read(dir.join(format!("{}.env", point.name()))).expect("env recorded");
    raw.split(|&b| b == 0)
        .filter(|e| !e.is_empty())
        .filter_map(|e| {
            let eq = e.iter().position(|&b| b == b'=')?;
            Some((e[..eq].to_vec(), e[eq + 1..].to_vec()))
        })
        .filter(|(k, _)| k != b"PWD")
        .collect()
}

fn as_map(v: Vec<(String, Vec<u8>)>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    v.into_iter().map(|(k, v)| (k.into_bytes(), v)).collect()
}

/// Polls until every ticket is reported, at most ~10 s (bounded in count and time); returns
/// the reports in ticket order.
fn wait_all(rs: &mut RunScript, tickets: &[ScriptTicket]) -> Vec<ScriptDone> {
    let mut got: Vec<ScriptDone> = Vec::new();
    for _ in 0..2000 {
        got.extend(rs.poll());
        if tickets.iter().all(|t| got.iter().any(|d| d.ticket == *t)) {
            got.sort_by_key(|d| d.ticket);
            return got;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("scripts {tickets:?} did not all finish within 10 s");
}

fn wait_for(rs: &mut RunScript, ticket: ScriptTicket) -> ScriptDone {
    let mut done = wait_all(rs, &[ticket]);
    assert_eq!(done.len(), 1, "only the awaited script reports");
    done.remove(0)
}

fn config(contract: Contract, script: PathBuf) -> RunScriptConfig {
    let mut c = RunScriptConfig::new(contract, script);
    c.wait = true;
    c
}

#[test]
fn recording_script_sees_the_readme_variables_at_every_hook_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rs =
        RunScript::new(config(Contract::KeaHookRunscript, recorder(dir.path()))).expect("spawner");
    let l = lease();
    let leases = [lease()];
    let ctx = full_context(query(None), &l, &leases, &[]);
    for point in HookPoint::ALL4 {
        let Some(want) = tables::readme_expected(point) else {
            assert_eq!(rs.fire(point, &ctx), None, "{} fires nothing", point.name());
            continue;
        };
        let ticket = rs.fire(point, &ctx).expect("awaited script started");
        let done = wait_for(&mut rs, ticket);
        assert_eq!(done.point, point);
        assert_eq!(
            recorded_env(dir.path(), point),
            as_map(want),
            "{}",
            point.name()
        );
        let argc = std::fs::read_to_string(dir.path().join(format!("{}.argc", point.name())));
        assert_eq!(argc.ok().as_deref(), Some("1\n"), "argv[1] only");
    }
    assert_eq!(rs.stats().fired, 9);
    assert_eq!(rs.stats().finished, 9);
    assert_eq!(rs.running(), 0);
}

#[test]
fn recording_script_sees_the_arm_variables_of_kea_run_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rs =
        RunScript::new(config(Contract::KeaRunScript, recorder(dir.path()))).expect("spawner");
    let l = lease();
    let leases = [lease()];
    let deleted = [tables::deleted_lease()];
    let ctx = full_context(query(None), &l, &leases, &deleted);
    let mut fired = 0;
    for point in HookPoint::ALL4 {
        let Some(want) = tables::kea_expected(point) else {
            assert_eq!(rs.fire(point, &ctx), None, "{} fires nothing", point.name());
            continue;
        };
        fired += 1;
        let ticket = rs.fire(point, &ctx).expect("sync script started");
        wait_for(&mut rs, ticket);
        assert_eq!(
            recorded_env(dir.path(), point),
            as_map(want),
            "{}",
            point.name()
        );
    }
    assert_eq!(fired, 6);
}

#[test]
fn hostile_client_strings_arrive_verbatim_and_run_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rs =
        RunScript::new(config(Contract::KeaHookRunscript, recorder(dir.path()))).expect("spawner");
    let marker = dir.path().join("pwned");
    let m = marker.display();
    let hostile =
        format!("x\"; touch {m}; echo '$(touch {m})' `touch {m}`\nline2 \\ $HOME ${{IFS}}");
    let mut bytes = hostile.clone().into_bytes();
    bytes.extend_from_slice(b"\xff\xfe\x80");
    let mut l = lease();
    l.hostname = None; // the query's option 12 is what the script sees
    let ctx = full_context(query(Some(&bytes)), &l, &[], &[]);
    let ticket = rs.fire(HookPoint::Lease4Renew, &ctx).expect("started");
    wait_for(&mut rs, ticket);
    let env = recorded_env(dir.path(), HookPoint::Lease4Renew);
    assert_eq!(
        env.get(b"KEA_LEASE4_HOSTNAME".as_slice()),
        Some(&bytes),
        "hostname verbatim, non-UTF-8 included"
    );
    assert!(!marker.exists(), "nothing in the hostname was executed");

    // A hostile lease hostname (UTF-8, as the lease table stores them) goes the same way.
    let mut l = lease();
    l.hostname = Some(hostile.clone().into_boxed_str());
    let ctx = full_context(query(None), &l, &[], &[]);
    let ticket = rs.fire(HookPoint::Lease4Release, &ctx).expect("started");
    wait_for(&mut rs, ticket);
    let env = recorded_env(dir.path(), HookPoint::Lease4Release);
    assert_eq!(
        env.get(b"KEA_LEASE4_HOSTNAME".as_slice()),
        Some(&hostile.into_bytes())
    );
    assert!(!marker.exists());
}

#[test]
fn hostile_client_id_reaches_kea_run_script_as_hex_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rs =
        RunScript::new(config(Contract::KeaRunScript, recorder(dir.path()))).expect("spawner");
    let cid: &[u8] = b"$(reboot)\n'\"";
    let mut q = query(None);
    q.client_id = Some(cid);
    let l = lease();
    let ctx = full_context(q, &l, &[], &[]);
    let ticket = rs.fire(HookPoint::Lease4Renew, &ctx).expect("started");
    wait_for(&mut rs, ticket);
    let env = recorded_env(dir.path(), HookPoint::Lease4Renew);
    assert_eq!(
        env.get(b"PKT4_CLIENT_ID".as_slice()).map(Vec::as_slice),
        Some(b"24:28:72:65:62:6f:6f:74:29:0a:27:22".as_slice())
    );
}

/// A script that, at lease4_select, runs until the file `go` appears in `dir` (at most ~30 s),
/// and returns at once elsewhere: the test decides when it ends, no clock involved.
fn gated(dir: &Path) -> PathBuf {
    let go = dir.join("go");
    let go = go.display();
    script(
        dir,
        "gated.sh",
        &format!(
            "#!/bin/sh\ncase \"$1\" in\n  lease4_select)\n    i=0\n    while [ ! -e '{go}' ] && [ $i -lt 600 ]; do /bin/sleep 0.05; i=$((i+1)); done ;;\nesac\nexit 0\n"
        ),
    )
}

#[test]
fn an_awaited_running_script_does_not_hold_up_other_scripts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rs =
        RunScript::new(config(Contract::KeaHookRunscript, gated(dir.path()))).expect("spawner");
    let l = lease();
    let ctx = full_context(query(None), &l, &[], &[]);
    let slow = rs
        .fire(HookPoint::Lease4Select, &ctx)
        .expect("slow started");
    // fire() returned while the slow script runs; the shard goes on with another packet.
    let fast = rs.fire(HookPoint::Pkt4Receive, &ctx).expect("fast started");
    assert_ne!(slow, fast);
    assert_eq!(rs.running(), 2);
    let done = wait_for(&mut rs, fast);
    assert_eq!(done.next, NextStep::Continue);
    assert!(done.status.map(|s| s.success()).unwrap_or(false));
    assert_eq!(
        rs.running(),
        1,
        "the slow script still runs, nobody waits for it"
    );
    assert_eq!(rs.poll().count(), 0);

    std::fs::write(dir.path().join("go"), b"").expect("open the gate");
    let done = wait_for(&mut rs, slow);
    assert_eq!(
        (done.point, done.timed_out),
        (HookPoint::Lease4Select, false)
    );
    assert!(done.status.map(|s| s.success()).unwrap_or(false));
    assert_eq!(rs.running(), 0);
}

#[test]
fn an_awaited_script_past_its_timeout_is_killed_and_its_packet_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sleeper = script(dir.path(), "sleepy.sh", "#!/bin/sh\nexec /bin/sleep 30\n");
    let mut cfg = config(Contract::KeaHookRunscript, sleeper);
    cfg.wait_timeout = Duration::from_millis(100);
    cfg.exit_code_drops = true;
    let mut rs = RunScript::new(cfg).expect("spawner");
    let l = lease();
    let ctx = full_context(query(None), &l, &[], &[]);
    let t = rs.fire(HookPoint::Pkt4Receive, &ctx).expect("started");
    let done = wait_for(&mut rs, t);
    assert!(done.timed_out);
    assert_eq!(done.status.and_then(|s| s.signal()), Some(9), "SIGKILL");
    assert_eq!(done.next, NextStep::Continue, "a timeout is not a verdict");
    assert_eq!((rs.stats().timed_out, rs.stats().failed), (1, 0));
}

#[test]
fn scripts_beyond_max_running_are_counted_and_not_started() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(Contract::KeaHookRunscript, gated(dir.path()));
    cfg.max_running = 2;
    let mut rs = RunScript::new(cfg).expect("spawner");
    let l = lease();
    let ctx = full_context(query(None), &l, &[], &[]);
    let a = rs.fire(HookPoint::Lease4Select, &ctx);
    let b = rs.fire(HookPoint::Lease4Select, &ctx);
    let c = rs.fire(HookPoint::Lease4Select, &ctx);
    let d = rs.fire(HookPoint::Pkt4Receive, &ctx);
    assert!(a.is_some() && b.is_some());
    assert_eq!(
        (c, d),
        (None, None),
        "over the bound: not started, packet not parked"
    );
    assert_eq!(rs.running(), 2);
    let stats = rs.stats();
    assert_eq!((stats.fired, stats.over_limit), (2, 2));

    std::fs::write(dir.path().join("go"), b"").expect("open the gate");
    let tickets: Vec<ScriptTicket> = [a, b].into_iter().flatten().collect();
    assert_eq!(wait_all(&mut rs, &tickets).len(), 2);
    assert_eq!(rs.running(), 0);
    assert!(
        rs.fire(HookPoint::Pkt4Receive, &ctx).is_some(),
        "room again once reported"
    );
    let _ = wait_all(&mut rs, &[]);
}

#[test]
fn detached_scripts_give_no_ticket_but_are_reaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(Contract::KeaHookRunscript, recorder(dir.path()));
    cfg.wait = false;
    let mut rs = RunScript::new(cfg).expect("spawner");
    let l = lease();
    let ctx = full_context(query(None), &l, &[], &[]);
    assert_eq!(rs.fire(HookPoint::Lease4Recover, &ctx), None);
    assert_eq!(rs.stats().fired, 1);
    for _ in 0..2000 {
        assert_eq!(rs.poll().count(), 0, "nothing waits on it");
        if rs.running() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(rs.running(), 0, "reaped");
    assert!(dir.path().join("lease4_recover.env").exists());
}

#[test]
fn exit_code_drops_maps_a_failing_script_to_drop_and_refuse() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The recorder exits 3 at pkt4_receive, lease4_select and lease4_renew, 0 elsewhere.
    let rec = recorder(dir.path());
    let l = lease();
    let ctx = full_context(query(None), &l, &[], &[]);
    let run = |drops: bool, point: HookPoint| {
        let mut cfg = config(Contract::KeaHookRunscript, rec.clone());
        cfg.exit_code_drops = drops;
        let mut rs = RunScript::new(cfg).expect("spawner");
        let t = rs.fire(point, &ctx).expect("started");
        let done = wait_for(&mut rs, t);
        (
            done.status.and_then(|s| s.code()),
            done.next,
            rs.stats().failed,
        )
    };
    assert_eq!(
        run(true, HookPoint::Pkt4Receive),
        (Some(3), NextStep::Drop, 1)
    );
    assert_eq!(
        run(true, HookPoint::Lease4Select),
        (Some(3), NextStep::Skip, 1)
    );
    // Non-zero elsewhere changes nothing; success never drops; off by default.
    assert_eq!(
        run(true, HookPoint::Lease4Renew),
        (Some(3), NextStep::Continue, 1)
    );
    assert_eq!(
        run(true, HookPoint::Subnet4Select),
        (Some(0), NextStep::Continue, 0)
    );
    assert_eq!(
        run(false, HookPoint::Pkt4Receive),
        (Some(3), NextStep::Continue, 1)
    );
}

#[test]
fn hooks_from_config_parks_the_packet_and_resumes_it_with_the_scripts_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = recorder(dir.path());
    let params = serde_json::json!({"script": rec.display().to_string(), "wait": true, "exit-code-drops": true});
    let lib = Path::new("/usr/lib/kea/hooks/kea-hook-runscript.so");
    let mut hooks = Hooks::from_libraries([(lib, Some(&params))])
        .ok()
        .flatten()
        .expect("hooks configured");
    assert!(hooks.wants(HookPoint::Pkt4Receive));
    assert!(!hooks.wants(HookPoint::Leases4Committed));
    let l = lease();
    let ctx = full_context(query(None), &l, &[], &[]);
    let corelease_hooks::HookVerdict::Park(ticket) = hooks.call(HookPoint::Pkt4Receive, &ctx)
    else {
        panic!("an awaited script parks the packet");
    };
    let mut resumed = None;
    for _ in 0..2000 {
        if let Some(d) = hooks.poll().find(|d| d.ticket == ticket) {
            resumed = Some(d.next);
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(resumed, Some(NextStep::Drop));
    assert_eq!(hooks.running(), 0);
}

#[test]
fn a_context_built_by_the_engine_from_wire_bytes_names_the_message() {
    use corelease_wire::v4::{Dhcp4Packet, OptionIndex};
    // A minimal DHCPREQUEST: fixed header, cookie, option 53 = 3, option 12 "h", end.
    let mut raw = vec![0u8; 236];
    raw[0] = 1;
    raw[1] = 1;
    raw[2] = 6;
    raw[4..8].copy_from_slice(&0x0102_0304u32.to_be_bytes());
    raw[28..34].copy_from_slice(&[0, 0x0c, 1, 2, 3, 0xff]);
    raw.extend_from_slice(&[99, 130, 83, 99, 53, 1, 3, 12, 1, b'h', 255]);
    let pkt = Dhcp4Packet::new_checked(raw.as_slice()).expect("valid header");
    let mut opts = OptionIndex::new();
    opts.parse(&pkt).expect("options parse");
    let local = std::net::SocketAddrV4::new(std::net::Ipv4Addr::new(192, 0, 2, 254), 67);
    let remote = std::net::SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 68);
    let view = corelease_hooks::PacketView::from_wire(&pkt, &opts, "eth0", 2, local, remote);
    let ctx = HookContext {
        query: Some(view),
        ..HookContext::new(NOW)
    };
    let env = corelease_hooks::script_env(Contract::KeaHookRunscript, HookPoint::Pkt4Receive, &ctx);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("KEA_QUERY4_TYPE"), Some(b"DHCPREQUEST".to_vec()));
    assert_eq!(
        get("KEA_QUERY4_HWADDR"),
        Some(b"00:0c:01:02:03:ff".to_vec())
    );
    assert_eq!(view.hostname, Some(b"h".as_slice()));
    assert_eq!(view.xid, 0x0102_0304);
    assert_eq!(view.bytes.len(), raw.len());
}

#[test]
fn scripts_do_not_inherit_the_pinning_of_the_shard_that_fires_them() {
    // Pin this test's thread (a stand-in for a shard) to its current CPU only.
    // SAFETY: cpu_set_t is plain old data; CPU_SET writes one bit below CPU_SETSIZE; the
    // affinity calls read/write the local set for this thread only.
    unsafe {
        let cpu = usize::try_from(libc::sched_getcpu()).unwrap_or(0);
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one),
            0
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("cpus");
    let s = script(
        dir.path(),
        "cpus.sh",
        &format!(
            "#!/bin/sh\n/bin/grep Cpus_allowed_list /proc/self/status > '{}'\n",
            out.display()
        ),
    );
    let mut rs = RunScript::new(config(Contract::KeaHookRunscript, s)).expect("spawner");
    let l = lease();
    let ctx = full_context(query(None), &l, &[], &[]);
    let t = rs.fire(HookPoint::Lease4Renew, &ctx).expect("started");
    wait_for(&mut rs, t);
    // /proc/self/status describes the process's main thread, which nobody pinned.
    let process = std::fs::read_to_string("/proc/self/status").expect("status");
    let process_cpus = process
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list"))
        .map(|l| format!("{l}\n"));
    assert_eq!(std::fs::read_to_string(&out).ok(), process_cpus);
}

#[test]
fn the_end_of_a_script_calls_the_exit_notify_awaited_or_detached() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("tempdir");
    let quick = script(dir.path(), "quick.sh", "#!/bin/sh\nexit 0\n");
    let awaited_calls = Arc::new(AtomicUsize::new(0));
    let detached_calls = Arc::new(AtomicUsize::new(0));
    let mut detached = RunScript::new(RunScriptConfig::new(Contract::KeaRunScript, quick.clone()))
        .expect("spawner");
    let seen = Arc::clone(&detached_calls);
    detached.set_exit_notify(Arc::new(move || {
        seen.fetch_add(1, Ordering::SeqCst);
    }));
    let mut rs = RunScript::new(config(Contract::KeaHookRunscript, quick)).expect("spawner");
    let seen = Arc::clone(&awaited_calls);
    rs.set_exit_notify(Arc::new(move || {
        seen.fetch_add(1, Ordering::SeqCst);
    }));
    let l = lease();
    let ctx = full_context(query(None), &l, &[], &[]);
    assert_eq!(detached.fire(HookPoint::Lease4Renew, &ctx), None);
    let t = rs.fire(HookPoint::Pkt4Receive, &ctx).expect("awaited");
    // The notify comes from the spawner thread, before the report is polled here.
    for _ in 0..2000 {
        if awaited_calls.load(Ordering::SeqCst) >= 1 && detached_calls.load(Ordering::SeqCst) >= 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(awaited_calls.load(Ordering::SeqCst), 1);
    assert_eq!(detached_calls.load(Ordering::SeqCst), 1);
    let done = wait_for(&mut rs, t);
    assert_eq!(done.next, NextStep::Continue);
    assert_eq!(detached.poll().count(), 0, "a detached end is only counted");
    assert_eq!(detached.running(), 0, "and leaves max-running at once");
}
