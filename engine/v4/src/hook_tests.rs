//! The hook points in the engine: a recording in-process callout sees every point in Kea's
//! order with Kea's arguments; skip and drop act as Kea's; a packet parked on a real script
//! resumes with the address the script saw; a post-commit reply is held and then sent.

use crate::*;
use corelease_hooks::{
    Callout, Contract, HookContext, HookPoint, HookPoints, Hooks, NextStep, RunScript,
    RunScriptConfig,
};
use corelease_storage::MemorySink;
use dhcproto::v4::{self as d4, DhcpOption, Message, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const NOW: u64 = 1_700_000_000;

const CONFIG: &str = r#"{ "Dhcp4": {
    "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
    "decline-probation-period": 100,
    "expired-leases-processing": { "reclaim-timer-wait-time": 1, "hold-reclaimed-time": 1000 },
    "subnet4": [ {
        "id": 1, "subnet": "192.0.2.0/24",
        "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "pools": [ { "pool": "192.0.2.10 - 192.0.2.19" } ]
    } ]
} }"#;

fn shard() -> V4Shard<MemorySink> {
    let loaded = corelease_config::parse_dhcp4_str(CONFIG, Path::new("."))
        .unwrap_or_else(|e| panic!("test config rejected: {e}"));
    let p = Arc::new(Prepared4::new(&loaded.config, Vec::new(), Ports::default()));
    V4Shard::new(p, 0, 1, MemorySink::default())
}

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

fn msg(kind: d4::MessageType, m: [u8; 6]) -> Message {
    let mut msg = Message::default();
    msg.set_opcode(d4::Opcode::BootRequest);
    msg.set_xid(0x1234_0000 | u32::from(m[5]));
    msg.set_chaddr(&m);
    msg.set_giaddr(SERVER);
    msg.opts_mut().insert(DhcpOption::MessageType(kind));
    msg
}

fn meta() -> Meta4 {
    Meta4 {
        src: SocketAddrV4::new(SERVER, 67),
        dst: SERVER,
        ifindex: 1,
        local: SERVER,
    }
}

fn decode(out: &[u8], r: &Reply4) -> Message {
    Message::decode(&mut Decoder::new(&out[..r.len])).expect("reply decodes")
}

fn send(s: &mut V4Shard<MemorySink>, m: &Message, now: u64) -> Option<Message> {
    let bytes = m.to_vec().expect("encodes");
    let mut out = [0u8; 1500];
    let r = s.handle(&meta(), &bytes, now, &mut out)?;
    Some(decode(&out, &r))
}

fn request(m: [u8; 6], addr: Ipv4Addr) -> Message {
    let mut req = msg(d4::MessageType::Request, m);
    req.opts_mut().insert(DhcpOption::RequestedIpAddress(addr));
    req.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER));
    req
}

fn kind(m: &Message) -> Option<d4::MessageType> {
    match m.opts().get(OptionCode::MessageType) {
        Some(DhcpOption::MessageType(t)) => Some(*t),
        _ => None,
    }
}

fn stat(s: &V4Shard<MemorySink>, name: &str) -> i64 {
    kea_statistics(s.prepared(), &[s.stats()])
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no statistic {name}"))
}

/// A lease's state, cltt and valid lifetime.
type LeaseTimes = (LeaseState, u64, u32);

/// What a callout saw at one point.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    point: HookPoint,
    query_type: Option<u8>,
    response_type: Option<u8>,
    response_yiaddr: Option<Ipv4Addr>,
    subnet: Option<u32>,
    lease: Option<IpAddr>,
    /// The lease's state, cltt and valid lifetime as the point was given them.
    lease_times: Option<LeaseTimes>,
    fake_allocation: bool,
    leases: Vec<IpAddr>,
    deleted: Vec<IpAddr>,
}

struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Option<(HookPoint, NextStep)>,
}

impl Callout for Recorder {
    fn points(&self) -> HookPoints {
        HookPoint::ALL
            .into_iter()
            .fold(HookPoints::NONE, HookPoints::with)
    }

    fn call(&mut self, point: HookPoint, ctx: &HookContext<'_>) -> NextStep {
        self.seen.lock().expect("lock").push(Seen {
            point,
            query_type: ctx.query.and_then(|q| q.message_type),
            response_type: ctx.response.and_then(|r| r.message_type),
            response_yiaddr: ctx.response.map(|r| r.yiaddr),
            subnet: ctx.subnet.map(|s| s.id.0),
            lease: ctx.lease.map(|l| l.addr),
            lease_times: ctx.lease.map(|l| (l.state, l.cltt, l.valid_lifetime)),
            fake_allocation: ctx.fake_allocation,
            leases: ctx.leases.iter().map(|l| l.addr).collect(),
            deleted: ctx.deleted_leases.iter().map(|l| l.addr).collect(),
        });
        match self.answer {
            Some((p, next)) if p == point => next,
            _ => NextStep::Continue,
        }
    }
}

fn recording(
    s: &mut V4Shard<MemorySink>,
    answer: Option<(HookPoint, NextStep)>,
) -> Arc<Mutex<Vec<Seen>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut hooks = Hooks::new();
    hooks.register(Box::new(Recorder {
        seen: Arc::clone(&seen),
        answer,
    }));
    s.set_hooks(Some(hooks));
    seen
}

fn take(seen: &Arc<Mutex<Vec<Seen>>>) -> Vec<Seen> {
    std::mem::take(&mut *seen.lock().expect("lock"))
}

fn points(v: &[Seen]) -> Vec<HookPoint> {
    v.iter().map(|s| s.point).collect()
}

#[test]
fn every_point_is_called_in_keas_order_with_keas_arguments() {
    use HookPoint::*;
    let mut s = shard();
    let seen = recording(&mut s, None);
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).expect("offer");
    let a = offer.yiaddr();
    let v = take(&seen);
    assert_eq!(
        points(&v),
        [
            Buffer4Receive,
            Pkt4Receive,
            Subnet4Select,
            Lease4Select,
            Pkt4Send,
            Buffer4Send
        ]
    );
    let sel = &v[3];
    assert_eq!(
        (sel.subnet, sel.lease, sel.fake_allocation),
        (Some(1), Some(IpAddr::V4(a)), true)
    );
    assert_eq!(v[1].query_type, Some(1), "DHCPDISCOVER");
    assert_eq!(
        (v[4].response_type, v[4].response_yiaddr),
        (Some(2), Some(a)),
        "the OFFER"
    );

    let ack = send(&mut s, &request(mac(1), a), NOW).expect("ack");
    assert_eq!(kind(&ack), Some(d4::MessageType::Ack));
    let v = take(&seen);
    assert_eq!(
        points(&v),
        [
            Buffer4Receive,
            Pkt4Receive,
            Subnet4Select,
            Lease4Select,
            Leases4Committed,
            Pkt4Send,
            Buffer4Send
        ]
    );
    assert!(!v[3].fake_allocation, "a REQUEST allocates for real");
    assert_eq!(v[4].leases, [IpAddr::V4(a)]);
    assert!(v[4].deleted.is_empty());
    assert_eq!(v[5].response_type, Some(5), "the ACK");

    // Renewal: lease4_renew instead of lease4_select.
    let mut renew = msg(d4::MessageType::Request, mac(1));
    renew.set_ciaddr(a);
    assert_eq!(
        send(&mut s, &renew, NOW + 10).as_ref().and_then(kind),
        Some(d4::MessageType::Ack)
    );
    let v = take(&seen);
    assert_eq!(
        points(&v),
        [
            Buffer4Receive,
            Pkt4Receive,
            Subnet4Select,
            Lease4Renew,
            Leases4Committed,
            Pkt4Send,
            Buffer4Send
        ]
    );
    assert_eq!(v[3].lease, Some(IpAddr::V4(a)));

    // RELEASE: no answer, leases4_committed with the released lease deleted.
    let mut rel = msg(d4::MessageType::Release, mac(1));
    rel.set_ciaddr(a);
    assert!(send(&mut s, &rel, NOW + 20).is_none());
    let v = take(&seen);
    assert_eq!(
        points(&v),
        [Buffer4Receive, Pkt4Receive, Lease4Release, Leases4Committed]
    );
    assert_eq!(v[3].deleted, [IpAddr::V4(a)]);

    // DECLINE of a fresh lease, then its probation ends: lease4_recover; a lease that
    // expires: lease4_expire.
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(2)), NOW).expect("offer");
    let b = offer.yiaddr();
    send(&mut s, &request(mac(2), b), NOW).expect("ack");
    let mut dec = msg(d4::MessageType::Decline, mac(2));
    dec.opts_mut().insert(DhcpOption::RequestedIpAddress(b));
    assert!(send(&mut s, &dec, NOW + 1).is_none());
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(3)), NOW).expect("offer");
    let c = offer.yiaddr();
    send(&mut s, &request(mac(3), c), NOW).expect("ack");
    take(&seen);
    s.on_tick(NOW + 5000);
    let v = take(&seen);
    let mut reclaimed: Vec<(HookPoint, Option<IpAddr>)> =
        v.iter().map(|x| (x.point, x.lease)).collect();
    reclaimed.sort();
    assert_eq!(
        reclaimed,
        [
            (Lease4Expire, Some(IpAddr::V4(c))),
            (Lease4Recover, Some(IpAddr::V4(b)))
        ]
    );
}

#[test]
fn drop_at_pkt4_receive_counts_a_receive_drop_and_answers_nothing() {
    let mut s = shard();
    recording(&mut s, Some((HookPoint::Pkt4Receive, NextStep::Drop)));
    assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).is_none());
    assert_eq!(stat(&s, "pkt4-receive-drop"), 1);
    assert_eq!(stat(&s, "pkt4-received"), 1);
    assert_eq!(stat(&s, "pkt4-sent"), 0);
}

#[test]
fn skip_at_lease4_select_gives_no_offer_and_no_address_away() {
    let mut s = shard();
    recording(&mut s, Some((HookPoint::Lease4Select, NextStep::Skip)));
    for i in 0..20 {
        assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(i)), NOW).is_none());
    }
    // Ten addresses, twenty refused clients: every address went back each time.
    s.set_hooks(None);
    let mut got = Vec::new();
    for i in 100..110 {
        got.push(
            send(&mut s, &msg(d4::MessageType::Discover, mac(i)), NOW)
                .expect("offer")
                .yiaddr(),
        );
    }
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 10, "all ten addresses are free again");
}

#[test]
fn skip_at_lease4_select_for_a_request_is_a_nak() {
    let mut s = shard();
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).expect("offer");
    recording(&mut s, Some((HookPoint::Lease4Select, NextStep::Skip)));
    let nak = send(&mut s, &request(mac(1), offer.yiaddr()), NOW).expect("answer");
    assert_eq!(kind(&nak), Some(d4::MessageType::Nak));
    assert!(s.sink_mut().records.is_empty(), "nothing committed");
}

#[test]
fn skip_at_pkt4_send_commits_the_lease_but_sends_nothing() {
    let mut s = shard();
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).expect("offer");
    let sent_before = stat(&s, "pkt4-sent");
    recording(&mut s, Some((HookPoint::Pkt4Send, NextStep::Skip)));
    assert!(send(&mut s, &request(mac(1), offer.yiaddr()), NOW).is_none());
    assert_eq!(s.sink_mut().records.len(), 1, "the lease is committed");
    assert_eq!(stat(&s, "pkt4-sent"), sent_before, "not counted as sent");
}

#[test]
fn skip_at_subnet4_select_selects_no_subnet() {
    let mut s = shard();
    recording(&mut s, Some((HookPoint::Subnet4Select, NextStep::Skip)));
    assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).is_none());
    // No subnet: no OFFER and, as kea-dhcp4 2.2.0 does for a DISCOVER with no subnet, no
    // drop counted; a REQUEST with no subnet is NAKed (DHCP4_PACKET_NAK_0001).
    assert_eq!(stat(&s, "pkt4-receive-drop"), 0);
    let nak = send(&mut s, &request(mac(1), Ipv4Addr::new(192, 0, 2, 10)), NOW).expect("answer");
    assert_eq!(kind(&nak), Some(d4::MessageType::Nak));
    assert_eq!(stat(&s, "pkt4-nak-sent"), 1);
}

#[test]
fn skip_at_lease4_renew_keeps_the_lease_as_it_is() {
    let mut s = shard();
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).expect("offer");
    send(&mut s, &request(mac(1), offer.yiaddr()), NOW).expect("ack");
    recording(&mut s, Some((HookPoint::Lease4Renew, NextStep::Skip)));
    let mut renew = msg(d4::MessageType::Request, mac(1));
    renew.set_ciaddr(offer.yiaddr());
    let ack = send(&mut s, &renew, NOW + 100).expect("ack");
    assert_eq!(kind(&ack), Some(d4::MessageType::Ack));
    assert_eq!(
        s.sink_mut().records.len(),
        1,
        "not extended: nothing new logged"
    );
    let cltt = s
        .table()
        .get(u32::from(offer.yiaddr()))
        .map(|e| e.lease.cltt);
    assert_eq!(cltt, Some(NOW));
}

/// kea-dhcp4 2.2 with libdhcp_run_script.so (fuzz/kea-compare/hooks4.py, run side by side with
/// corelease): a DISCOVER from a client that has a lease calls lease4_renew (a fake
/// allocation), whether the lease is live, expired or reclaimed; a REQUEST renewing an expired
/// lease not yet reclaimed calls lease4_expire with the old lease first and counts it
/// reclaimed; a REQUEST for a reclaimed lease of the client renews it too.
#[test]
fn a_client_with_a_lease_is_renewed_at_discover_and_an_expired_lease_is_reclaimed_first() {
    use HookPoint::*;
    let mut s = shard();
    let seen = recording(&mut s, None);
    let a = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW)
        .expect("offer")
        .yiaddr();
    send(&mut s, &request(mac(1), a), NOW).expect("ack");
    take(&seen);
    let lease_points = |v: &[Seen]| -> Vec<(HookPoint, Option<LeaseTimes>, bool)> {
        v.iter()
            .filter(|x| matches!(x.point, Lease4Select | Lease4Renew | Lease4Expire))
            .map(|x| (x.point, x.lease_times, x.fake_allocation))
            .collect()
    };

    // A live lease: lease4_renew, shown the lease as renewed now.
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW + 10).expect("offer");
    assert_eq!(offer.yiaddr(), a);
    assert_eq!(
        lease_points(&take(&seen)),
        [(
            Lease4Renew,
            Some((LeaseState::Default, NOW + 10, 4000)),
            true
        )]
    );

    // Expired, not reclaimed yet (no tick ran): the DISCOVER renews it; the REQUEST reclaims
    // it (lease4_expire with the old lease), then renews it.
    let later = NOW + 5000;
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), later).expect("offer");
    assert_eq!(offer.yiaddr(), a);
    assert_eq!(
        lease_points(&take(&seen)),
        [(Lease4Renew, Some((LeaseState::Default, later, 4000)), true)]
    );
    let before = |s: &V4Shard<MemorySink>| {
        [
            stat(s, "reclaimed-leases"),
            stat(s, "subnet[1].reclaimed-leases"),
            stat(s, "subnet[1].assigned-addresses"),
            stat(s, "cumulative-assigned-addresses"),
        ]
    };
    let counted = before(&s);
    let ack = send(&mut s, &request(mac(1), a), later + 1).expect("ack");
    assert_eq!(kind(&ack), Some(d4::MessageType::Ack));
    assert_eq!(
        lease_points(&take(&seen)),
        [
            (Lease4Expire, Some((LeaseState::Default, NOW, 4000)), false),
            (
                Lease4Renew,
                Some((LeaseState::Default, later + 1, 4000)),
                false
            )
        ]
    );
    // Kea: reclaimed-leases +1, cumulative-assigned-addresses +1, assigned-addresses as it was.
    let now_counted = before(&s);
    assert_eq!(
        [
            now_counted[0] - counted[0],
            now_counted[1] - counted[1],
            now_counted[2] - counted[2],
            now_counted[3] - counted[3]
        ],
        [1, 1, 0, 1]
    );

    // Reclaimed by a tick (kept for lease affinity): the DISCOVER renews the reclaimed lease,
    // its state unchanged by the fake allocation; the REQUEST renews it as well, counted as
    // assigned again.
    let end = later + 1 + 4000;
    s.on_tick(end);
    take(&seen);
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), end + 1).expect("offer");
    assert_eq!(offer.yiaddr(), a);
    assert_eq!(
        lease_points(&take(&seen)),
        [(
            Lease4Renew,
            Some((LeaseState::ExpiredReclaimed, end + 1, 4000)),
            true
        )]
    );
    let assigned = stat(&s, "subnet[1].assigned-addresses");
    send(&mut s, &request(mac(1), a), end + 2).expect("ack");
    assert_eq!(
        lease_points(&take(&seen)),
        [(
            Lease4Renew,
            Some((LeaseState::Default, end + 2, 4000)),
            false
        )]
    );
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), assigned + 1);

    // A new client still goes through lease4_select.
    send(&mut s, &msg(d4::MessageType::Discover, mac(2)), end + 3).expect("offer");
    assert_eq!(
        points(&take(&seen))
            .into_iter()
            .filter(|p| matches!(p, Lease4Select | Lease4Renew))
            .collect::<Vec<_>>(),
        [Lease4Select]
    );
}

#[test]
fn skip_at_lease4_renew_for_a_discover_offers_the_lease_as_it_is() {
    let mut s = shard();
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).expect("offer");
    send(&mut s, &request(mac(1), offer.yiaddr()), NOW).expect("ack");
    recording(&mut s, Some((HookPoint::Lease4Renew, NextStep::Skip)));
    let again = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW + 100).expect("offer");
    assert_eq!(kind(&again), Some(d4::MessageType::Offer));
    assert_eq!(again.yiaddr(), offer.yiaddr());
    let cltt = s
        .table()
        .get(u32::from(offer.yiaddr()))
        .map(|e| e.lease.cltt);
    assert_eq!(cltt, Some(NOW), "the lease is left as it is");
}

#[test]
fn skip_at_lease4_release_keeps_the_lease() {
    let mut s = shard();
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).expect("offer");
    send(&mut s, &request(mac(1), offer.yiaddr()), NOW).expect("ack");
    recording(&mut s, Some((HookPoint::Lease4Release, NextStep::Skip)));
    let mut rel = msg(d4::MessageType::Release, mac(1));
    rel.set_ciaddr(offer.yiaddr());
    assert!(send(&mut s, &rel, NOW + 1).is_none());
    let state = s
        .table()
        .get(u32::from(offer.yiaddr()))
        .map(|e| e.lease.state);
    assert_eq!(state, Some(LeaseState::Default));
}

// ---- parking on real scripts ----

pub(crate) fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

pub(crate) fn script_hooks(
    contract: Contract,
    path: PathBuf,
    wait: bool,
    exit_code_drops: bool,
) -> Hooks {
    let mut cfg = RunScriptConfig::new(contract, path);
    cfg.wait = wait;
    cfg.exit_code_drops = exit_code_drops;
    let mut h = Hooks::new();
    h.set_script(RunScript::new(cfg).expect("spawner"));
    h
}

/// Resumes parked packets until one answers or none is parked, at most ~10 s.
fn resume_until_reply(s: &mut V4Shard<MemorySink>, now: u64) -> Option<Message> {
    let mut out = [0u8; 1500];
    for _ in 0..2000 {
        while let Some(r) = s.resume_parked(now, &mut out) {
            if let Resumed::Reply(r) = r {
                return Some(decode(&out, &r));
            }
        }
        if s.parked() == 0 {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("parked packet never resumed");
}

#[test]
fn a_parked_discover_resumes_with_the_address_its_script_saw_while_others_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().display();
    // kea-hook-runscript (wait true): every point of its contract parks the packet.
    let rec = script(
        dir.path(),
        "rec.sh",
        &format!("#!/bin/sh\n[ \"$1\" = lease4_select ] && echo \"$KEA_LEASE4_ADDRESS\" >> '{out}/select'\nexit 0\n"),
    );
    let mut s = shard();
    s.set_hooks(Some(script_hooks(
        Contract::KeaHookRunscript,
        rec,
        true,
        false,
    )));
    assert!(
        send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).is_none(),
        "parked"
    );
    assert_eq!(s.parked(), 1);
    let offer = resume_until_reply(&mut s, NOW).expect("offer after the scripts");
    assert_eq!(kind(&offer), Some(d4::MessageType::Offer));
    let seen = std::fs::read_to_string(dir.path().join("select")).expect("script ran");
    assert_eq!(
        seen.trim(),
        offer.yiaddr().to_string(),
        "offered exactly what the script saw"
    );
    assert_eq!(
        stat(&s, "pkt4-received"),
        1,
        "a resumed packet is not counted twice"
    );
    assert_eq!(stat(&s, "pkt4-offer-sent"), 1);
    assert!(s.park_stats().parked >= 4, "{:?}", s.park_stats());
    assert_eq!(s.parked(), 0);
}

#[test]
fn an_address_held_for_a_parked_client_is_not_given_to_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Client 1's lease4_select script waits on a gate file; everything else is quick.
    let gate = dir.path().join("gate");
    let body = format!(
        "#!/bin/sh\nif [ \"$1\" = lease4_select ] && [ \"$KEA_QUERY4_HWADDR\" = 02:00:00:00:00:01 ]; then\n  i=0; while [ ! -e '{}' ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done\nfi\nexit 0\n",
        gate.display()
    );
    let rec = script(dir.path(), "gate.sh", &body);
    let mut s = shard();
    s.set_hooks(Some(script_hooks(
        Contract::KeaHookRunscript,
        rec,
        true,
        false,
    )));
    assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).is_none());
    // Drive client 1 to its lease4_select park (three quick parks first).
    let mut out = [0u8; 1500];
    for _ in 0..2000 {
        while s.resume_parked(NOW, &mut out).is_some() {}
        if s.park_stats().parked >= 3
            && s.parked() == 1
            && s.hooks().is_some_and(|h| h.running() == 1)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Nine other clients take the nine other addresses meanwhile; a tenth gets nothing.
    let mut others = Vec::new();
    for i in 2..12 {
        assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(i)), NOW).is_none());
        if let Some(o) = resume_until_reply(&mut s, NOW) {
            others.push(o.yiaddr());
        }
        if others.len() == 9 {
            break;
        }
    }
    assert_eq!(
        others.len(),
        9,
        "the others are served while client 1 waits"
    );
    std::fs::write(&gate, b"").expect("open the gate");
    let offer = resume_until_reply(&mut s, NOW).expect("client 1's offer");
    assert!(
        !others.contains(&offer.yiaddr()),
        "its held address went to nobody else"
    );
}

#[test]
fn a_reply_parked_after_the_commit_is_held_then_sent_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gate = dir.path().join("gate");
    let body = format!(
        "#!/bin/sh\ni=0; while [ ! -e '{}' ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done\nexit 0\n",
        gate.display()
    );
    let rec = script(dir.path(), "committed.sh", &body);
    let mut s = shard();
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).expect("offer");
    // Kea's run_script with sync: fires at leases4_committed (not at select or send).
    s.set_hooks(Some(script_hooks(Contract::KeaRunScript, rec, true, false)));
    assert!(
        send(&mut s, &request(mac(1), offer.yiaddr()), NOW).is_none(),
        "held"
    );
    assert_eq!(
        s.sink_mut().records.len(),
        1,
        "committed before the script ran"
    );
    assert_eq!(stat(&s, "pkt4-ack-sent"), 0);
    let mut out = [0u8; 1500];
    assert!(
        s.resume_parked(NOW, &mut out).is_none(),
        "script still running"
    );
    std::fs::write(&gate, b"").expect("open the gate");
    let ack = resume_until_reply(&mut s, NOW).expect("the held ACK");
    assert_eq!(kind(&ack), Some(d4::MessageType::Ack));
    assert_eq!(ack.yiaddr(), offer.yiaddr());
    assert_eq!(stat(&s, "pkt4-ack-sent"), 1);
    assert_eq!(s.sink_mut().records.len(), 1, "committed once");
}

#[test]
fn exit_code_drops_refuses_the_lease_at_lease4_select() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = script(
        dir.path(),
        "deny.sh",
        "#!/bin/sh\n[ \"$1\" = lease4_select ] && [ \"$KEA_QUERY4_HWADDR\" = 02:00:00:00:00:01 ] && exit 1\nexit 0\n",
    );
    let mut s = shard();
    s.set_hooks(Some(script_hooks(
        Contract::KeaHookRunscript,
        rec,
        true,
        true,
    )));
    assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).is_none());
    assert!(
        resume_until_reply(&mut s, NOW).is_none(),
        "refused: no OFFER"
    );
    assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(2)), NOW).is_none());
    let offer = resume_until_reply(&mut s, NOW).expect("another client is served");
    assert_eq!(kind(&offer), Some(d4::MessageType::Offer));
    // The refused client's address went back: only client 2's offer holds one.
    let held: Vec<Ipv4Addr> = s
        .table()
        .iter()
        .filter(|e| e.holds_bit)
        .filter_map(|e| match e.lease.addr {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        })
        .collect();
    assert_eq!(held, [offer.yiaddr()]);
}

#[test]
fn no_hooks_means_no_hook_state() {
    let mut s = shard();
    assert!(s.hooks().is_none());
    assert!(!s.hooks_pending());
    let mut out = [0u8; 1500];
    assert!(s.resume_parked(NOW, &mut out).is_none());
    assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).is_some());
}

#[test]
fn a_reclamation_waits_for_its_lease4_expire_script_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().display();
    let rec = script(
        dir.path(),
        "expire.sh",
        &format!(
            "#!/bin/sh\nsleep 0.2\necho \"$1 $KEA_LEASE4_ADDRESS\" >> '{out}/calls'\nexit 0\n"
        ),
    );
    let mut s = shard();
    let offer = send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).expect("offer");
    let a = offer.yiaddr();
    send(&mut s, &request(mac(1), a), NOW).expect("ack");
    s.set_hooks(Some(script_hooks(
        Contract::KeaHookRunscript,
        rec,
        true,
        false,
    )));
    let expired = NOW + 5000;
    s.on_tick(expired);
    assert_eq!(s.park_stats().reclaims_parked, 1);
    assert_eq!(
        s.table().get(u32::from(a)).map(|e| e.lease.state),
        Some(LeaseState::Default),
        "not reclaimed while its script runs"
    );
    // The shard serves others meanwhile (its DISCOVER parks on its own script).
    assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(2)), expired).is_none());
    let mut buf = [0u8; 1500];
    for _ in 0..2000 {
        let _ = s.resume_parked(expired, &mut buf);
        if !s.hooks_pending() && s.parked() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        s.table().get(u32::from(a)).map(|e| e.lease.state),
        Some(LeaseState::ExpiredReclaimed),
        "reclaimed once its script ended"
    );
    assert_eq!(stat(&s, "reclaimed-leases"), 1);
    let calls = std::fs::read_to_string(dir.path().join("calls")).expect("script ran");
    assert_eq!(
        calls
            .lines()
            .filter(|l| l.starts_with("lease4_expire"))
            .count(),
        1,
        "{calls}"
    );
}
