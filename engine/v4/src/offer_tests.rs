//! In-memory tests of `offer-lifetime` (ARM 9.2.34 "Temporary Allocation on DHCPDISCOVER"):
//! the DHCPDISCOVER allocates and logs a lease for the offer lifetime, the DHCPREQUEST
//! extends it, an unclaimed offer expires and is reclaimed like any lease. Requests are built
//! and replies decoded with dhcproto (the oracle).

use super::*;
use corelease_storage::MemorySink;
use dhcproto::v4::{self as d4, DhcpOption, Message, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable};
use std::path::Path;

const SERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const NOW: u64 = 1_700_000_000;

fn config(json: &str) -> Arc<Prepared4> {
    let loaded = corelease_config::parse_dhcp4_str(json, Path::new("."))
        .unwrap_or_else(|e| panic!("test config rejected: {e}"));
    assert!(
        loaded.unsupported.is_empty(),
        "unsupported: {:?}",
        loaded.unsupported
    );
    Arc::new(Prepared4::new(&loaded.config, Vec::new(), Ports::default()))
}

/// One subnet, valid-lifetime 4000, reclamation every second, `extra` global keys
/// (e.g. `"offer-lifetime": 60,`) and pool `pool`.
fn offer_config(extra: &str, pool: &str) -> Arc<Prepared4> {
    config(&format!(
        r#"{{ "Dhcp4": {{ {extra} "valid-lifetime": 4000,
        "expired-leases-processing": {{ "reclaim-timer-wait-time": 1 }},
        "subnet4": [ {{ "id": 1, "subnet": "192.0.2.0/24",
            "relay": {{ "ip-addresses": [ "127.0.0.1" ] }},
            "pools": [ {{ "pool": "{pool}" }} ] }} ] }} }}"#
    ))
}

fn shard<S: LeaseSink>(p: &Arc<Prepared4>, sink: S) -> V4Shard<S> {
    V4Shard::new(Arc::clone(p), 0, 1, sink)
}

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

fn meta() -> Meta4 {
    Meta4 {
        src: SocketAddrV4::new(SERVER, 67),
        dst: SERVER,
        ifindex: 1,
        local: SERVER,
    }
}

fn msg(kind: d4::MessageType, m: [u8; 6], extra: &[DhcpOption]) -> Message {
    let mut msg = Message::default();
    msg.set_opcode(d4::Opcode::BootRequest);
    msg.set_xid(0x0ff0_0000 | u32::from(m[5]));
    msg.set_chaddr(&m);
    msg.set_giaddr(SERVER);
    msg.opts_mut().insert(DhcpOption::MessageType(kind));
    for o in extra {
        msg.opts_mut().insert(o.clone());
    }
    msg
}

fn send<S: LeaseSink>(s: &mut V4Shard<S>, m: &Message, now: u64) -> Option<Message> {
    let bytes = m.to_vec().expect("dhcproto encodes");
    let mut out = [0u8; 1500];
    let reply = s.handle(&meta(), &bytes, now, &mut out)?;
    Some(
        Message::decode(&mut Decoder::new(&out[..reply.len])).expect("reply decodes with dhcproto"),
    )
}

fn kind(m: &Message) -> Option<d4::MessageType> {
    match m.opts().get(OptionCode::MessageType) {
        Some(DhcpOption::MessageType(t)) => Some(*t),
        _ => None,
    }
}

fn lease_time(m: &Message) -> Option<u32> {
    match m.opts().get(OptionCode::AddressLeaseTime) {
        Some(DhcpOption::AddressLeaseTime(t)) => Some(*t),
        _ => None,
    }
}

fn discover<S: LeaseSink>(
    s: &mut V4Shard<S>,
    m: [u8; 6],
    extra: &[DhcpOption],
    now: u64,
) -> Message {
    let offer = send(s, &msg(d4::MessageType::Discover, m, extra), now).expect("an OFFER");
    assert_eq!(kind(&offer), Some(d4::MessageType::Offer));
    offer
}

/// A REQUEST in SELECTING state for `addr` (RFC 2131 4.3.2).
fn request<S: LeaseSink>(
    s: &mut V4Shard<S>,
    m: [u8; 6],
    addr: Ipv4Addr,
    now: u64,
) -> Option<Message> {
    let r = msg(
        d4::MessageType::Request,
        m,
        &[
            DhcpOption::RequestedIpAddress(addr),
            DhcpOption::ServerIdentifier(SERVER),
        ],
    );
    send(s, &r, now)
}

fn stat<S: LeaseSink>(s: &V4Shard<S>, name: &str) -> i64 {
    kea_statistics(s.prepared(), &[s.stats()])
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no statistic {name}"))
}

/// (assigned, cumulative) at the subnet, its pool and (cumulative only) globally.
fn counted<S: LeaseSink>(s: &V4Shard<S>) -> [i64; 5] {
    [
        stat(s, "subnet[1].assigned-addresses"),
        stat(s, "subnet[1].pool[0].assigned-addresses"),
        stat(s, "subnet[1].cumulative-assigned-addresses"),
        stat(s, "subnet[1].pool[0].cumulative-assigned-addresses"),
        stat(s, "cumulative-assigned-addresses"),
    ]
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("test address")
}

fn records_for(s: &mut V4Shard<MemorySink>, a: Ipv4Addr) -> Vec<Lease> {
    s.sink_mut()
        .records
        .iter()
        .filter(|l| l.addr == IpAddr::V4(a))
        .cloned()
        .collect()
}

#[test]
fn without_offer_lifetime_a_discover_logs_and_counts_nothing() {
    let p = offer_config("", "192.0.2.10 - 192.0.2.19");
    let mut s = shard(&p, MemorySink::default());
    discover(&mut s, mac(1), &[], NOW);
    assert!(s.sink_mut().records.is_empty());
    assert_eq!(counted(&s), [0; 5]);
    let p = offer_config(r#""offer-lifetime": 0,"#, "192.0.2.10 - 192.0.2.19");
    let mut s = shard(&p, MemorySink::default());
    discover(&mut s, mac(1), &[], NOW);
    assert!(s.sink_mut().records.is_empty());
    assert!(!s.prepared().offer_lifetime_used);
}

#[test]
fn discover_logs_a_lease_for_the_offer_lifetime_and_offers_the_valid_lifetime() {
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.19");
    let mut s = shard(&p, MemorySink::default());
    let offer = discover(&mut s, mac(1), &[], NOW);
    // ARM 9.2.34: option 51 of the OFFER "is still based on valid-lifetime".
    assert_eq!(lease_time(&offer), Some(4000));
    let recs = records_for(&mut s, offer.yiaddr());
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(
        (recs[0].valid_lifetime, recs[0].cltt, recs[0].state),
        (60, NOW, LeaseState::Default)
    );
    assert_eq!(
        recs[0].hwaddr.map(|h| h.as_bytes().to_vec()),
        Some(mac(1).to_vec())
    );
    // "Assigned lease statistics are incremented."
    assert_eq!(counted(&s), [1; 5]);
    let e = s
        .table()
        .get(u32::from(offer.yiaddr()))
        .expect("in the table");
    assert!(!e.is_offer(), "a lease, not an in-memory offer");
}

#[test]
fn the_offered_address_is_no_one_elses_while_the_offer_stands() {
    // One address; the in-memory hold of an offer without offer-lifetime is 10 s.
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.10");
    let mut s = shard(&p, MemorySink::default());
    let offer = discover(&mut s, mac(1), &[], NOW);
    for t in [1, 30, 59] {
        s.on_tick(NOW + t);
        assert!(
            send(
                &mut s,
                &msg(d4::MessageType::Discover, mac(2), &[]),
                NOW + t
            )
            .is_none(),
            "offered to another client {t} s into the offer"
        );
        let r = request(&mut s, mac(2), offer.yiaddr(), NOW + t).expect("an answer");
        assert_eq!(kind(&r), Some(d4::MessageType::Nak), "{t} s into the offer");
    }
    s.on_tick(NOW + 61);
    assert_eq!(
        discover(&mut s, mac(2), &[], NOW + 61).yiaddr(),
        offer.yiaddr()
    );
}

#[test]
fn request_extends_the_offered_lease_to_the_valid_lifetime_without_counting_it_again() {
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.19");
    let mut s = shard(&p, MemorySink::default());
    let offer = discover(&mut s, mac(1), &[], NOW);
    let ack = request(&mut s, mac(1), offer.yiaddr(), NOW + 2).expect("an ACK");
    assert_eq!(kind(&ack), Some(d4::MessageType::Ack));
    assert_eq!(ack.yiaddr(), offer.yiaddr());
    assert_eq!(lease_time(&ack), Some(4000));
    let recs = records_for(&mut s, offer.yiaddr());
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!((recs[1].valid_lifetime, recs[1].cltt), (4000, NOW + 2));
    assert!(s.sink_mut().removals.is_empty());
    assert_eq!(counted(&s), [1; 5]);
    // A normal ACK'd lease: still there after the offer lifetime.
    s.on_tick(NOW + 100);
    assert_eq!(stat(&s, "reclaimed-leases"), 0);
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 1);
}

#[test]
fn request_for_another_address_releases_the_offered_lease() {
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.19");
    let mut s = shard(&p, MemorySink::default());
    let offered = discover(&mut s, mac(1), &[], NOW).yiaddr();
    let other = ip("192.0.2.15");
    assert_ne!(offered, other);
    let ack = request(&mut s, mac(1), other, NOW + 1).expect("an ACK");
    assert_eq!(
        (kind(&ack), ack.yiaddr()),
        (Some(d4::MessageType::Ack), other)
    );
    // As when a client moves (ALLOC_ENGINE_V4_REQUEST_REMOVE_LEASE): the offered lease is
    // removed from the log and the gauges, the new one counted.
    let removed: Vec<IpAddr> = s.sink_mut().removals.iter().map(|r| r.addr).collect();
    assert_eq!(removed, vec![IpAddr::V4(offered)]);
    assert_eq!(counted(&s), [1, 1, 2, 2, 2]);
    assert!(s.table().get(u32::from(offered)).is_none());
    // The released address is free at once for another client.
    let o2 = discover(
        &mut s,
        mac(2),
        &[DhcpOption::RequestedIpAddress(offered)],
        NOW + 2,
    );
    assert_eq!(o2.yiaddr(), offered);
}

#[test]
fn a_request_to_another_server_leaves_the_offered_lease_to_expire() {
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.10");
    let mut s = shard(&p, MemorySink::default());
    let a = discover(&mut s, mac(1), &[], NOW).yiaddr();
    let elsewhere = msg(
        d4::MessageType::Request,
        mac(1),
        &[
            DhcpOption::RequestedIpAddress(ip("192.0.2.99")),
            DhcpOption::ServerIdentifier(ip("192.0.2.250")),
        ],
    );
    assert!(send(&mut s, &elsewhere, NOW + 1).is_none());
    assert_eq!(stat(&s, "pkt4-receive-drop"), 1);
    assert_eq!(counted(&s), [1; 5], "the offered lease stands");
    assert!(send(
        &mut s,
        &msg(d4::MessageType::Discover, mac(2), &[]),
        NOW + 2
    )
    .is_none());
    s.on_tick(NOW + 60);
    assert_eq!(stat(&s, "reclaimed-leases"), 1);
    assert_eq!(discover(&mut s, mac(2), &[], NOW + 61).yiaddr(), a);
}

#[test]
fn an_unclaimed_offer_expires_and_is_reclaimed_like_any_lease() {
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.19");
    let mut s = shard(&p, MemorySink::default());
    let offered = discover(&mut s, mac(1), &[], NOW).yiaddr();
    s.on_tick(NOW + 59);
    assert_eq!(stat(&s, "reclaimed-leases"), 0);
    s.on_tick(NOW + 60);
    // ARM 9.2.34: "Expiration processing and reclamation behave just as they do for leases
    // allocated during DHCPREQUEST processing."
    assert_eq!(stat(&s, "reclaimed-leases"), 1);
    assert_eq!(stat(&s, "subnet[1].reclaimed-leases"), 1);
    assert_eq!(stat(&s, "subnet[1].pool[0].reclaimed-leases"), 1);
    assert_eq!(counted(&s), [0, 0, 1, 1, 1]);
    let recs = records_for(&mut s, offered);
    assert_eq!(
        recs.last().map(|l| l.state),
        Some(LeaseState::ExpiredReclaimed)
    );
}

#[test]
fn a_repeated_discover_reoffers_the_same_address_and_refreshes_the_offer() {
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.10");
    let mut s = shard(&p, MemorySink::default());
    let first = discover(&mut s, mac(1), &[], NOW).yiaddr();
    let again = discover(&mut s, mac(1), &[], NOW + 40).yiaddr();
    assert_eq!(again, first);
    let recs = records_for(&mut s, first);
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!((recs[1].cltt, recs[1].valid_lifetime), (NOW + 40, 60));
    assert_eq!(counted(&s), [1; 5], "refreshed, not counted again");
    // Past the first offer's end, the refreshed one still holds the address.
    s.on_tick(NOW + 70);
    assert_eq!(stat(&s, "reclaimed-leases"), 0);
    assert!(send(
        &mut s,
        &msg(d4::MessageType::Discover, mac(2), &[]),
        NOW + 70
    )
    .is_none());
    s.on_tick(NOW + 100);
    assert_eq!(stat(&s, "reclaimed-leases"), 1);
}

#[test]
fn a_discover_from_a_client_with_a_lease_renews_it_for_the_offer_lifetime_as_kea_does() {
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.19");
    let mut s = shard(&p, MemorySink::default());
    let a = discover(&mut s, mac(1), &[], NOW).yiaddr();
    request(&mut s, mac(1), a, NOW).expect("an ACK");
    let offer = discover(&mut s, mac(1), &[], NOW + 100);
    assert_eq!((offer.yiaddr(), lease_time(&offer)), (a, Some(4000)));
    // Kea's renewLease4 with offer_lft: the lease now lasts the offer lifetime from the
    // DISCOVER; its REQUEST extends it to the valid lifetime again.
    let recs = records_for(&mut s, a);
    assert_eq!(
        recs.last().map(|l| (l.cltt, l.valid_lifetime)),
        Some((NOW + 100, 60))
    );
    assert_eq!(counted(&s), [1; 5]);
    request(&mut s, mac(1), a, NOW + 101).expect("an ACK");
    assert_eq!(
        s.table().get(u32::from(a)).map(|e| e.lease.expire()),
        Some(NOW + 101 + 4000)
    );
    assert_eq!(counted(&s), [1; 5]);
}

#[test]
fn the_first_class_that_sets_offer_lifetime_wins_then_subnet_network_global() {
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000, "offer-lifetime": 100,
        "client-classes": [
            { "name": "plain", "test": "option[60].text == 'short'" },
            { "name": "short", "test": "option[60].text == 'short'", "offer-lifetime": 5 },
            { "name": "none", "test": "option[60].text == 'none'", "offer-lifetime": 0 } ],
        "shared-networks": [ { "name": "net", "offer-lifetime": 200,
            "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24",
                "pools": [ { "pool": "192.0.2.10 - 192.0.2.19" } ] } ] } ],
        "subnet4": [
            { "id": 2, "subnet": "198.51.100.0/24", "offer-lifetime": 300,
              "pools": [ { "pool": "198.51.100.10 - 198.51.100.19" } ] },
            { "id": 3, "subnet": "203.0.113.0/24",
              "pools": [ { "pool": "203.0.113.10 - 203.0.113.19" } ] } ] } }"#,
    );
    let mut s = shard(&p, MemorySink::default());
    let vendor = |v: &str| DhcpOption::ClassIdentifier(v.as_bytes().to_vec());
    // (client, extra options, giaddr) -> offer lifetime logged.
    let cases: [(u8, Vec<DhcpOption>, Ipv4Addr, Option<u32>); 6] = [
        (1, vec![], SERVER, Some(200)),
        (2, vec![vendor("short")], SERVER, Some(5)),
        (3, vec![vendor("none")], SERVER, None),
        (4, vec![], ip("198.51.100.1"), Some(300)),
        (5, vec![], ip("203.0.113.1"), Some(100)),
        (6, vec![vendor("short")], ip("198.51.100.1"), Some(5)),
    ];
    for (n, extra, giaddr, want) in cases {
        let mut d = msg(d4::MessageType::Discover, mac(n), &extra);
        d.set_giaddr(giaddr);
        let offer = send(&mut s, &d, NOW).expect("an OFFER");
        assert_eq!(lease_time(&offer), Some(4000), "client {n}");
        let logged = records_for(&mut s, offer.yiaddr())
            .last()
            .map(|l| l.valid_lifetime);
        assert_eq!(logged, want, "client {n}");
    }
}

#[test]
fn an_offered_lease_survives_a_restart_through_the_lease_log() {
    use corelease_storage::{recover, Family, LeaseLog, LogOptions};
    let dir = tempfile::tempdir().expect("tempdir");
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.10");
    let offered = {
        let log = LeaseLog::open(dir.path(), Family::V4, 0, LogOptions::default()).expect("log");
        let mut s = shard(&p, log);
        let offered = discover(&mut s, mac(1), &[], NOW).yiaddr();
        s.sink_mut().commit().expect("commit");
        offered
    };
    let rec = recover(dir.path(), Family::V4).expect("recovery");
    assert_eq!(rec.leases.len(), 1);
    let p2 = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.10");
    let log = LeaseLog::open(dir.path(), Family::V4, 0, LogOptions::default()).expect("log");
    let mut s = shard(&p2, log);
    assert_eq!(s.load_leases(rec.leases, NOW + 5), 0);
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 1);
    // Still the first client's offer: no one else is offered it...
    s.on_tick(NOW + 20);
    assert!(send(
        &mut s,
        &msg(d4::MessageType::Discover, mac(2), &[]),
        NOW + 20
    )
    .is_none());
    // ...and the client's REQUEST gets it, extended to the valid lifetime.
    let ack = request(&mut s, mac(1), offered, NOW + 21).expect("an ACK");
    assert_eq!(
        (kind(&ack), ack.yiaddr()),
        (Some(d4::MessageType::Ack), offered)
    );
    assert_eq!(lease_time(&ack), Some(4000));
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 1);
    s.sink_mut().commit().expect("commit");
    drop(s);
    let rec = recover(dir.path(), Family::V4).expect("recovery");
    assert_eq!(
        rec.leases
            .iter()
            .map(|l| (l.expire(), l.state))
            .collect::<Vec<_>>(),
        vec![(NOW + 21 + 4000, LeaseState::Default)]
    );
}

#[test]
fn an_offer_lost_across_a_restart_expires_there() {
    // The server was down past the offer's end: the recovered lease is reclaimed at once.
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.10");
    let mut s = shard(&p, MemorySink::default());
    discover(&mut s, mac(1), &[], NOW);
    let recs = s.sink_mut().records.clone();
    let p2 = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.10");
    let mut fresh = shard(&p2, MemorySink::default());
    assert_eq!(fresh.load_leases(recs, NOW + 300), 0);
    assert_eq!(stat(&fresh, "subnet[1].assigned-addresses"), 1);
    fresh.on_tick(NOW + 300);
    assert_eq!(stat(&fresh, "reclaimed-leases"), 1);
    assert_eq!(stat(&fresh, "subnet[1].assigned-addresses"), 0);
    discover(&mut fresh, mac(2), &[], NOW + 301);
}

/// Replaces the shard's config through the reload protocol (config-set, config-reload).
fn reload(s: &mut V4Shard<MemorySink>, next: &Arc<Prepared4>, now: u64) {
    let mut build = V4Shard::reload_empty(Arc::clone(next), 0, 1, MemorySink::default());
    let addrs = s.reload_begin();
    build.load(s.reload_copy(&addrs), now);
    let dirty = s.reload_take_dirty();
    build.forget(&dirty);
    build.load(dirty.iter().filter_map(|&a| s.reload_current(a)), now);
    s.reload_carry_offers(&mut build, now);
    let (next, conflicts) = s.reload_finish(build, MemorySink::default());
    assert_eq!(conflicts, 0);
    *s = next;
}

#[test]
fn a_reload_applies_a_changed_offer_lifetime() {
    // Each reload builds a new Prepared4 (with its own pool bitmaps), as config-set does.
    let off = || offer_config("", "192.0.2.10 - 192.0.2.19");
    let on = offer_config(r#""offer-lifetime": 30,"#, "192.0.2.10 - 192.0.2.19");
    let mut s = shard(&off(), MemorySink::default());
    discover(&mut s, mac(1), &[], NOW);
    assert!(s.sink_mut().records.is_empty());
    reload(&mut s, &on, NOW + 1);
    let a = discover(&mut s, mac(2), &[], NOW + 1).yiaddr();
    assert_eq!(
        s.sink_mut()
            .records
            .iter()
            .map(|l| (l.addr, l.valid_lifetime))
            .collect::<Vec<_>>(),
        vec![(IpAddr::V4(a), 30)]
    );
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 1);
    // The offered lease is carried over a reload back to 0 and stays the client's.
    reload(&mut s, &off(), NOW + 2);
    discover(&mut s, mac(3), &[], NOW + 2);
    assert!(
        s.sink_mut().records.is_empty(),
        "no lease at DISCOVER any more"
    );
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 1);
    let ack = request(&mut s, mac(2), a, NOW + 3).expect("an ACK");
    assert_eq!((kind(&ack), ack.yiaddr()), (Some(d4::MessageType::Ack), a));
}

#[test]
fn an_offer_made_before_a_reload_is_not_offered_to_another_client_after_it() {
    // One address: mac 1's OFFER holds it across the reload, so mac 2 gets none, and mac 1's
    // REQUEST gets it (without the carry-over the reload forgot the OFFER and gave it to 2).
    let pool = || offer_config("", "192.0.2.10 - 192.0.2.10");
    let mut s = shard(&pool(), MemorySink::default());
    let a = discover(&mut s, mac(1), &[], NOW).yiaddr();
    reload(&mut s, &pool(), NOW + 1);
    assert!(
        send(
            &mut s,
            &msg(d4::MessageType::Discover, mac(2), &[]),
            NOW + 1
        )
        .is_none(),
        "the only address is offered to mac 1"
    );
    let ack = request(&mut s, mac(1), a, NOW + 2).expect("an ACK");
    assert_eq!((kind(&ack), ack.yiaddr()), (Some(d4::MessageType::Ack), a));
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 1);
}

// ---- hook points (ARM 9.2.34 adds none the run-script contracts know) ----

use corelease_hooks::{Callout, HookContext, HookPoints, Hooks, NextStep};
use std::sync::Mutex;

/// What a callout saw: (point, fake_allocation, lease address, lease lifetime).
type SeenPoint = (HookPoint, bool, Option<IpAddr>, Option<u32>);

/// Records what it sees; answers `answer` at its point.
struct Recorder {
    seen: Seen,
    answer: Option<(HookPoint, NextStep)>,
}

impl Callout for Recorder {
    fn points(&self) -> HookPoints {
        HookPoint::ALL
            .into_iter()
            .fold(HookPoints::NONE, HookPoints::with)
    }

    fn call(&mut self, point: HookPoint, ctx: &HookContext<'_>) -> NextStep {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push((
                point,
                ctx.fake_allocation,
                ctx.lease.map(|l| l.addr),
                ctx.lease.map(|l| l.valid_lifetime),
            ));
        }
        match self.answer {
            Some((p, next)) if p == point => next,
            _ => NextStep::Continue,
        }
    }
}

type Seen = Arc<Mutex<Vec<SeenPoint>>>;

fn recording<S: LeaseSink>(s: &mut V4Shard<S>, answer: Option<(HookPoint, NextStep)>) -> Seen {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut hooks = Hooks::new();
    hooks.register(Box::new(Recorder {
        seen: Arc::clone(&seen),
        answer,
    }));
    s.set_hooks(Some(hooks));
    seen
}

fn lease_points(seen: &Seen) -> Vec<SeenPoint> {
    let v = std::mem::take(&mut *seen.lock().expect("lock"));
    v.into_iter()
        .filter(|(p, ..)| {
            matches!(
                p,
                HookPoint::Lease4Select | HookPoint::Lease4Renew | HookPoint::Leases4Committed
            )
        })
        .collect()
}

#[test]
fn the_discover_runs_lease4_select_as_a_fake_allocation_and_the_request_renews() {
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.19");
    let mut s = shard(&p, MemorySink::default());
    let seen = recording(&mut s, None);
    let a = discover(&mut s, mac(1), &[], NOW).yiaddr();
    let at = Some(IpAddr::V4(a));
    // Kea's DHCPDISCOVER is still a fake allocation for lease4_select, shown the lease as
    // it is stored: for the offer lifetime (createLease4).
    assert_eq!(
        lease_points(&seen),
        vec![(HookPoint::Lease4Select, true, at, Some(60))]
    );
    request(&mut s, mac(1), a, NOW + 1).expect("an ACK");
    // The offered lease is the client's own: extending it is a renewal.
    let pts = lease_points(&seen);
    assert_eq!(
        pts.first(),
        Some(&(HookPoint::Lease4Renew, false, at, Some(4000))),
        "{pts:?}"
    );
}

#[test]
fn skip_at_lease4_select_logs_no_offered_lease_and_gives_the_address_back() {
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.10");
    let mut s = shard(&p, MemorySink::default());
    recording(&mut s, Some((HookPoint::Lease4Select, NextStep::Skip)));
    assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(1), &[]), NOW).is_none());
    assert!(s.sink_mut().records.is_empty());
    assert_eq!(counted(&s), [0; 5]);
    s.set_hooks(None);
    let a = discover(&mut s, mac(2), &[], NOW).yiaddr();
    assert_eq!(a, ip("192.0.2.10"));
}

#[test]
fn a_discover_parked_on_a_script_logs_its_offered_lease_when_it_resumes() {
    use crate::hooked::tests::{script, script_hooks};
    use corelease_hooks::Contract;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = script(dir.path(), "hook.sh", "#!/bin/sh\nexit 0\n");
    let hooks = script_hooks(Contract::KeaHookRunscript, path, true, false);
    let p = offer_config(r#""offer-lifetime": 60,"#, "192.0.2.10 - 192.0.2.19");
    let mut s = shard(&p, MemorySink::default());
    s.set_hooks(Some(hooks));
    assert!(
        send(&mut s, &msg(d4::MessageType::Discover, mac(1), &[]), NOW).is_none(),
        "parked"
    );
    assert!(
        s.sink_mut().records.is_empty(),
        "nothing logged while parked"
    );
    let mut out = [0u8; 1500];
    let mut offer = None;
    // The scripts end on their own; bounded at ~10 s.
    for _ in 0..2000 {
        while let Some(r) = s.resume_parked(NOW, &mut out) {
            if let Resumed::Reply(r) = r {
                offer =
                    Some(Message::decode(&mut Decoder::new(&out[..r.len])).expect("reply decodes"));
            }
        }
        if offer.is_some() || s.parked() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let offer = offer.expect("an OFFER after the scripts");
    assert_eq!(kind(&offer), Some(d4::MessageType::Offer));
    let recs = records_for(&mut s, offer.yiaddr());
    assert_eq!(
        recs.iter().map(|l| l.valid_lifetime).collect::<Vec<_>>(),
        vec![60]
    );
    assert_eq!(counted(&s), [1; 5]);
}
