//! In-memory protocol tests: every message type and branch of RFC 2131 4.3, with no sockets.
//! Requests are built and replies decoded with dhcproto, an independent codec, so these tests
//! also cross-check our wire layer.

use super::*;
use corelease_storage::MemorySink;
use dhcproto::v4::{self as d4, DhcpOption, Message, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable};
use std::path::Path;

const SERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const RELAY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const NOW: u64 = 1_700_000_000;

fn config(json: &str) -> Arc<Prepared4> {
    let loaded = corelease_config::parse_dhcp4_str(json, Path::new("."))
        .unwrap_or_else(|e| panic!("test config rejected: {e}"));
    let ifaces = vec![InterfaceInfo {
        name: "eth0".into(),
        index: 7,
        addrs: vec![Ipv4Addr::new(192, 0, 2, 1)],
    }];
    Arc::new(Prepared4::new(&loaded.config, ifaces, Ports::default()))
}

const BASIC: &str = r#"{ "Dhcp4": {
    "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
    "option-data": [ { "name": "domain-name-servers", "data": "192.0.2.53" },
                     { "name": "ntp-servers", "data": "192.0.2.123" } ],
    "subnet4": [ {
        "id": 1, "subnet": "192.0.2.0/24",
        "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "pools": [ { "pool": "192.0.2.10 - 192.0.2.19" } ],
        "option-data": [ { "name": "routers", "data": "192.0.2.1" } ]
    } ]
} }"#;

fn shard(p: &Arc<Prepared4>) -> V4Shard<MemorySink> {
    V4Shard::new(Arc::clone(p), 0, 1, MemorySink::default())
}

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

fn msg(kind: d4::MessageType, m: [u8; 6]) -> Message {
    let mut msg = Message::default();
    msg.set_opcode(d4::Opcode::BootRequest);
    msg.set_xid(0x1234_0000 | u32::from(m[5]));
    msg.set_chaddr(&m);
    msg.opts_mut().insert(DhcpOption::MessageType(kind));
    msg
}

fn relayed(mut m: Message) -> Message {
    m.set_giaddr(RELAY);
    m
}

fn relay_meta() -> Meta4 {
    Meta4 {
        src: SocketAddrV4::new(RELAY, 67),
        dst: SERVER,
        ifindex: 1,
        local: SERVER,
    }
}

fn direct_meta() -> Meta4 {
    Meta4 {
        src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
        dst: Ipv4Addr::BROADCAST,
        ifindex: 7,
        local: Ipv4Addr::new(192, 0, 2, 1),
    }
}

fn send(
    s: &mut V4Shard<MemorySink>,
    meta: &Meta4,
    m: &Message,
    now: u64,
) -> Option<(Reply4, Message)> {
    let bytes = m.to_vec().expect("dhcproto encodes");
    let mut out = [0u8; 1500];
    let reply = s.handle(meta, &bytes, now, &mut out)?;
    let decoded = Message::decode(&mut Decoder::new(&out[..reply.len]))
        .expect("our reply decodes with dhcproto");
    Some((reply, decoded))
}

fn msg_type(m: &Message) -> Option<d4::MessageType> {
    match m.opts().get(OptionCode::MessageType) {
        Some(DhcpOption::MessageType(t)) => Some(*t),
        _ => None,
    }
}

fn dora(s: &mut V4Shard<MemorySink>, m: [u8; 6], now: u64) -> Ipv4Addr {
    let (_, offer) = send(
        s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, m)),
        now,
    )
    .expect("offer");
    let mut req = relayed(msg(d4::MessageType::Request, m));
    req.opts_mut()
        .insert(DhcpOption::RequestedIpAddress(offer.yiaddr()));
    req.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER));
    let (_, ack) = send(s, &relay_meta(), &req, now).expect("ack");
    assert_eq!(msg_type(&ack), Some(d4::MessageType::Ack));
    assert_eq!(ack.yiaddr(), offer.yiaddr());
    ack.yiaddr()
}

fn stat(s: &V4Shard<MemorySink>, name: &str) -> i64 {
    kea_statistics(s.prepared(), &[s.stats()])
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no statistic {name}"))
}

#[test]
fn discover_through_relay_gets_offer_sent_to_relay_server_port() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let (reply, offer) = send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(1))),
        NOW,
    )
    .unwrap();
    assert_eq!(reply.dst, SocketAddrV4::new(RELAY, 67));
    assert_eq!(reply.message_type, MessageType::Offer);
    assert_eq!(msg_type(&offer), Some(d4::MessageType::Offer));
    assert_eq!(offer.opcode(), d4::Opcode::BootReply);
    assert_eq!(offer.xid(), 0x1234_0001);
    assert_eq!(offer.giaddr(), RELAY);
    assert_eq!(&offer.chaddr()[..6], &mac(1));
    let y = u32::from(offer.yiaddr());
    assert!(
        (0xC000_020A..=0xC000_0213).contains(&y),
        "{} in pool",
        offer.yiaddr()
    );
    let o = offer.opts();
    assert_eq!(
        o.get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(SERVER))
    );
    assert_eq!(
        o.get(OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(4000))
    );
    assert_eq!(o.get(OptionCode::Renewal), Some(&DhcpOption::Renewal(1000)));
    assert_eq!(
        o.get(OptionCode::Rebinding),
        Some(&DhcpOption::Rebinding(2000))
    );
    assert_eq!(
        o.get(OptionCode::SubnetMask),
        Some(&DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)))
    );
    // Returned even when not requested (ARM 9.2.10): routers and domain-name-servers.
    assert_eq!(
        o.get(OptionCode::Router),
        Some(&DhcpOption::Router(vec![Ipv4Addr::new(192, 0, 2, 1)]))
    );
    assert_eq!(
        o.get(OptionCode::DomainNameServer),
        Some(&DhcpOption::DomainNameServer(vec![Ipv4Addr::new(
            192, 0, 2, 53
        )]))
    );
    // Not returned unless requested.
    assert!(o.get(OptionCode::NtpServers).is_none());
    assert_eq!(stat(&s, "pkt4-discover-received"), 1);
    assert_eq!(stat(&s, "pkt4-offer-sent"), 1);
    assert!(s.sink_mut().records.is_empty(), "an OFFER is not logged");
}

#[test]
fn parameter_request_list_brings_requested_options() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let mut d = relayed(msg(d4::MessageType::Discover, mac(1)));
    d.opts_mut().insert(DhcpOption::ParameterRequestList(vec![
        OptionCode::NtpServers,
    ]));
    let (_, offer) = send(&mut s, &relay_meta(), &d, NOW).unwrap();
    assert_eq!(
        offer.opts().get(OptionCode::NtpServers),
        Some(&DhcpOption::NtpServers(vec![Ipv4Addr::new(192, 0, 2, 123)]))
    );
}

#[test]
fn full_dora_commits_and_logs_the_lease() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let addr = dora(&mut s, mac(1), NOW);
    let recs = &s.sink_mut().records;
    assert_eq!(recs.len(), 1);
    let l = &recs[0];
    assert_eq!(l.addr, IpAddr::V4(addr));
    assert_eq!(
        l.hwaddr.map(|h| h.to_string()),
        Some("02:00:00:00:00:01".to_string())
    );
    assert_eq!(l.valid_lifetime, 4000);
    assert_eq!(l.cltt, NOW);
    assert_eq!(l.subnet_id, SubnetId(1));
    assert_eq!(l.state, LeaseState::Default);
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 1);
    assert_eq!(stat(&s, "subnet[1].cumulative-assigned-addresses"), 1);
    assert_eq!(stat(&s, "subnet[1].total-addresses"), 10);
    assert_eq!(stat(&s, "pkt4-ack-sent"), 1);
}

#[test]
fn repeated_discover_offers_the_same_address() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let d = relayed(msg(d4::MessageType::Discover, mac(1)));
    let (_, a) = send(&mut s, &relay_meta(), &d, NOW).unwrap();
    let (_, b) = send(&mut s, &relay_meta(), &d, NOW + 1).unwrap();
    assert_eq!(a.yiaddr(), b.yiaddr());
    let (_, other) = send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(2))),
        NOW,
    )
    .unwrap();
    assert_ne!(
        other.yiaddr(),
        a.yiaddr(),
        "an offered address is reserved for its client"
    );
}

#[test]
fn requested_address_is_honoured_when_free_and_not_when_leased() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let want = Ipv4Addr::new(192, 0, 2, 17);
    let mut d = relayed(msg(d4::MessageType::Discover, mac(1)));
    d.opts_mut().insert(DhcpOption::RequestedIpAddress(want));
    let (_, offer) = send(&mut s, &relay_meta(), &d, NOW).unwrap();
    assert_eq!(offer.yiaddr(), want);
    let mut d2 = relayed(msg(d4::MessageType::Discover, mac(2)));
    d2.opts_mut().insert(DhcpOption::RequestedIpAddress(want));
    let (_, offer2) = send(&mut s, &relay_meta(), &d2, NOW).unwrap();
    assert_ne!(offer2.yiaddr(), want);
}

#[test]
fn request_for_another_server_frees_our_offer_and_is_not_answered() {
    let p = config(
        r#"{ "Dhcp4": { "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24",
        "relay": { "ip-addresses": [ "127.0.0.1" ] }, "pools": [ { "pool": "192.0.2.10 - 192.0.2.10" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let (_, offer) = send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(1))),
        NOW,
    )
    .unwrap();
    let mut req = relayed(msg(d4::MessageType::Request, mac(1)));
    req.opts_mut()
        .insert(DhcpOption::RequestedIpAddress(offer.yiaddr()));
    req.opts_mut()
        .insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(198, 51, 100, 1)));
    let drops = s.counters().global.pkt4_receive_drop.get();
    assert!(send(&mut s, &relay_meta(), &req, NOW).is_none());
    // Counted as a drop, as Kea counts a server id that is not its own (ARM pkt4-receive-drop).
    assert_eq!(s.counters().global.pkt4_receive_drop.get(), drops + 1);
    // The only address is free again for the next client.
    let (_, o2) = send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(2))),
        NOW,
    )
    .unwrap();
    assert_eq!(o2.yiaddr(), offer.yiaddr());
}

#[test]
fn request_for_address_held_by_another_client_is_naked() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    let mut req = relayed(msg(d4::MessageType::Request, mac(2)));
    req.opts_mut().insert(DhcpOption::RequestedIpAddress(a));
    req.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER));
    let (reply, nak) = send(&mut s, &relay_meta(), &req, NOW).unwrap();
    assert_eq!(msg_type(&nak), Some(d4::MessageType::Nak));
    assert_eq!(nak.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(
        nak.flags().broadcast(),
        "RFC 2131 4.3.2: NAK via relay sets the broadcast bit"
    );
    assert_eq!(reply.dst, SocketAddrV4::new(RELAY, 67));
    assert_eq!(stat(&s, "pkt4-nak-sent"), 1);
}

fn init_reboot(m: [u8; 6], addr: Ipv4Addr) -> Message {
    let mut req = relayed(msg(d4::MessageType::Request, m));
    req.opts_mut().insert(DhcpOption::RequestedIpAddress(addr));
    req
}

#[test]
fn init_reboot_wrong_network_is_silent_unless_authoritative() {
    let p = config(BASIC);
    let mut s = shard(&p);
    assert!(send(
        &mut s,
        &relay_meta(),
        &init_reboot(mac(1), Ipv4Addr::new(10, 9, 9, 9)),
        NOW
    )
    .is_none());
    let p = config(&BASIC.replace(
        "\"valid-lifetime\": 4000",
        "\"authoritative\": true, \"valid-lifetime\": 4000",
    ));
    let mut s = shard(&p);
    let (_, nak) = send(
        &mut s,
        &relay_meta(),
        &init_reboot(mac(1), Ipv4Addr::new(10, 9, 9, 9)),
        NOW,
    )
    .unwrap();
    assert_eq!(msg_type(&nak), Some(d4::MessageType::Nak));
}

#[test]
fn init_reboot_unknown_client_is_silent_unless_authoritative() {
    let p = config(BASIC);
    let mut s = shard(&p);
    assert!(send(
        &mut s,
        &relay_meta(),
        &init_reboot(mac(1), Ipv4Addr::new(192, 0, 2, 12)),
        NOW
    )
    .is_none());
    let p = config(&BASIC.replace(
        "\"valid-lifetime\": 4000",
        "\"authoritative\": true, \"valid-lifetime\": 4000",
    ));
    let mut s = shard(&p);
    let (_, ack) = send(
        &mut s,
        &relay_meta(),
        &init_reboot(mac(1), Ipv4Addr::new(192, 0, 2, 12)),
        NOW,
    )
    .unwrap();
    // Authoritative and free: Kea's allocation engine grants the requested address.
    assert_eq!(msg_type(&ack), Some(d4::MessageType::Ack));
    assert_eq!(ack.yiaddr(), Ipv4Addr::new(192, 0, 2, 12));
}

#[test]
fn init_reboot_known_client_gets_its_lease_or_a_nak() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    let (_, ack) = send(&mut s, &relay_meta(), &init_reboot(mac(1), a), NOW + 10).unwrap();
    assert_eq!(msg_type(&ack), Some(d4::MessageType::Ack));
    assert_eq!(ack.yiaddr(), a);
    let other = if a == Ipv4Addr::new(192, 0, 2, 15) {
        Ipv4Addr::new(192, 0, 2, 16)
    } else {
        Ipv4Addr::new(192, 0, 2, 15)
    };
    let (_, nak) = send(&mut s, &relay_meta(), &init_reboot(mac(1), other), NOW + 10).unwrap();
    assert_eq!(msg_type(&nak), Some(d4::MessageType::Nak));
}

#[test]
fn renew_extends_lease_without_new_address() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    let mut renew = msg(d4::MessageType::Request, mac(1));
    renew.set_ciaddr(a);
    let meta = Meta4 {
        src: SocketAddrV4::new(a, 68),
        dst: Ipv4Addr::new(192, 0, 2, 1),
        ifindex: 7,
        local: Ipv4Addr::new(192, 0, 2, 1),
    };
    let (reply, ack) = send(&mut s, &meta, &renew, NOW + 1000).unwrap();
    assert_eq!(msg_type(&ack), Some(d4::MessageType::Ack));
    assert_eq!(ack.yiaddr(), a);
    assert_eq!(ack.ciaddr(), a);
    assert_eq!(
        reply.dst,
        SocketAddrV4::new(a, 68),
        "RFC 2131 4.1: unicast to ciaddr"
    );
    let recs = &s.sink_mut().records;
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1].cltt, NOW + 1000);
    assert_eq!(
        stat(&s, "subnet[1].assigned-addresses"),
        1,
        "a renewal is not a new assignment"
    );
}

#[test]
fn renew_of_another_clients_address_is_naked() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    let mut renew = msg(d4::MessageType::Request, mac(2));
    renew.set_ciaddr(a);
    let meta = Meta4 {
        src: SocketAddrV4::new(a, 68),
        dst: Ipv4Addr::new(192, 0, 2, 1),
        ifindex: 7,
        local: Ipv4Addr::new(192, 0, 2, 1),
    };
    let (reply, nak) = send(&mut s, &meta, &renew, NOW + 1).unwrap();
    assert_eq!(msg_type(&nak), Some(d4::MessageType::Nak));
    assert_eq!(reply.dst, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
}

#[test]
fn release_frees_the_address_only_for_its_owner() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    let mut forged = msg(d4::MessageType::Release, mac(2));
    forged.set_ciaddr(a);
    forged
        .opts_mut()
        .insert(DhcpOption::ServerIdentifier(SERVER));
    assert!(send(&mut s, &relay_meta(), &forged, NOW + 1).is_none());
    assert_eq!(
        stat(&s, "subnet[1].assigned-addresses"),
        1,
        "someone else's RELEASE frees nothing"
    );
    let mut rel = msg(d4::MessageType::Release, mac(1));
    rel.set_ciaddr(a);
    rel.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER));
    assert!(send(&mut s, &relay_meta(), &rel, NOW + 2).is_none());
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 0);
    assert_eq!(stat(&s, "pkt4-release-received"), 2);
    let last = s.sink_mut().records.last().cloned().unwrap();
    assert_eq!(last.state, LeaseState::Released);
    assert_eq!(last.valid_lifetime, 0);
    // Lease affinity: the same client gets the same address back.
    assert_eq!(dora(&mut s, mac(1), NOW + 3), a);
}

/// Kea 2.2 checked on the wire (kea-dhcp4 on 127.0.0.1, relayed DISCOVER / INFORM): a
/// DISCOVER naming another server or this one, and an INFORM / RELEASE / DECLINE naming another
/// server, are dropped unanswered and counted once in pkt4-receive-drop (DHCP4_PACKET_DROP_0003
/// and _0007); an INFORM naming this server is answered.
#[test]
fn server_identifier_of_another_server_or_in_a_discover_is_dropped_and_counted() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    let foreign = Ipv4Addr::new(198, 51, 100, 9);
    let with_sid = |kind, m, sid| {
        let mut x = relayed(msg(kind, m));
        x.opts_mut().insert(DhcpOption::ServerIdentifier(sid));
        x
    };
    let mut drops = stat(&s, "pkt4-receive-drop");
    for (kind, sid) in [
        (d4::MessageType::Discover, foreign),
        (d4::MessageType::Discover, SERVER),
        (d4::MessageType::Inform, foreign),
    ] {
        let mut m = with_sid(kind, mac(2), sid);
        m.set_ciaddr(Ipv4Addr::new(192, 0, 2, 99));
        assert!(
            send(&mut s, &relay_meta(), &m, NOW + 1).is_none(),
            "{kind:?} naming {sid} is not answered"
        );
        drops += 1;
        assert_eq!(
            stat(&s, "pkt4-receive-drop"),
            drops,
            "{kind:?} naming {sid}"
        );
    }
    // The owner's own RELEASE and DECLINE, sent to another server: the lease stays.
    let mut rel = with_sid(d4::MessageType::Release, mac(1), foreign);
    rel.set_ciaddr(a);
    let mut dec = with_sid(d4::MessageType::Decline, mac(1), foreign);
    dec.opts_mut().insert(DhcpOption::RequestedIpAddress(a));
    for m in [rel, dec] {
        assert!(send(&mut s, &relay_meta(), &m, NOW + 2).is_none());
        drops += 1;
        assert_eq!(stat(&s, "pkt4-receive-drop"), drops);
    }
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 1);
    assert_eq!(stat(&s, "declined-addresses"), 0);
    assert_eq!(stat(&s, "pkt4-offer-sent"), 1, "only the DORA's offer");
    // A server identifier that is not 4 bytes names no server of ours.
    let mut bad = msg(d4::MessageType::Inform, mac(3));
    bad.set_giaddr(RELAY);
    bad.opts_mut()
        .insert(DhcpOption::Unknown(d4::UnknownOption::new(
            OptionCode::ServerIdentifier,
            vec![127, 0, 0],
        )));
    assert!(send(&mut s, &relay_meta(), &bad, NOW + 3).is_none());
    assert_eq!(stat(&s, "pkt4-receive-drop"), drops + 1);
    // An INFORM naming this server is answered; so is a DISCOVER without one.
    let mut inf = with_sid(d4::MessageType::Inform, mac(2), SERVER);
    inf.set_ciaddr(Ipv4Addr::new(192, 0, 2, 99));
    let (_, ack) = send(&mut s, &relay_meta(), &inf, NOW + 4).expect("INFORM answered");
    assert_eq!(msg_type(&ack), Some(d4::MessageType::Ack));
    assert_ne!(dora(&mut s, mac(2), NOW + 5), a);
}

#[test]
fn decline_puts_the_address_in_probation() {
    let p = config(&BASIC.replace(
        "\"valid-lifetime\": 4000",
        "\"decline-probation-period\": 600, \"valid-lifetime\": 4000",
    ));
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    let mut dec = relayed(msg(d4::MessageType::Decline, mac(1)));
    dec.opts_mut().insert(DhcpOption::RequestedIpAddress(a));
    dec.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER));
    assert!(send(&mut s, &relay_meta(), &dec, NOW + 1).is_none());
    assert_eq!(stat(&s, "declined-addresses"), 1);
    assert_eq!(stat(&s, "subnet[1].declined-addresses"), 1);
    assert_eq!(
        stat(&s, "subnet[1].assigned-addresses"),
        1,
        "Kea keeps it assigned until recovered"
    );
    let last = s.sink_mut().records.last().cloned().unwrap();
    assert_eq!(last.state, LeaseState::Declined);
    assert_eq!(last.valid_lifetime, 600);
    assert!(last.hwaddr.is_none());
    // The same client does not get the declined address again.
    assert_ne!(dora(&mut s, mac(1), NOW + 2), a);
    // After probation it is recovered.
    s.on_tick(NOW + 1 + 600);
    assert_eq!(stat(&s, "declined-addresses"), 0);
    assert_eq!(stat(&s, "reclaimed-declined-addresses"), 1);
    assert_eq!(
        stat(&s, "subnet[1].assigned-addresses"),
        1,
        "only the new lease"
    );
}

#[test]
fn decline_from_another_client_changes_nothing() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    let mut dec = relayed(msg(d4::MessageType::Decline, mac(9)));
    dec.opts_mut().insert(DhcpOption::RequestedIpAddress(a));
    assert!(send(&mut s, &relay_meta(), &dec, NOW + 1).is_none());
    assert_eq!(stat(&s, "declined-addresses"), 0);
    assert_eq!(s.sink_mut().records.len(), 1);
}

#[test]
fn inform_gets_options_and_no_lease() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let mut inf = msg(d4::MessageType::Inform, mac(1));
    let ci = Ipv4Addr::new(192, 0, 2, 200);
    inf.set_ciaddr(ci);
    inf.opts_mut().insert(DhcpOption::ParameterRequestList(vec![
        OptionCode::NtpServers,
    ]));
    let meta = Meta4 {
        src: SocketAddrV4::new(ci, 68),
        dst: Ipv4Addr::new(192, 0, 2, 1),
        ifindex: 7,
        local: Ipv4Addr::new(192, 0, 2, 1),
    };
    let (reply, ack) = send(&mut s, &meta, &inf, NOW).unwrap();
    assert_eq!(msg_type(&ack), Some(d4::MessageType::Ack));
    assert_eq!(ack.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(
        ack.opts().get(OptionCode::AddressLeaseTime).is_none(),
        "RFC 2131 4.3.5: no lease time"
    );
    assert!(ack.opts().get(OptionCode::NtpServers).is_some());
    assert_eq!(reply.dst, SocketAddrV4::new(ci, 68));
    assert!(s.sink_mut().records.is_empty());
}

#[test]
fn exhausted_pool_counts_allocation_failures_and_stays_silent() {
    let p = config(
        r#"{ "Dhcp4": { "subnet4": [ { "id": 5, "subnet": "192.0.2.0/24",
        "relay": { "ip-addresses": [ "127.0.0.1" ] }, "pools": [ { "pool": "192.0.2.10/31" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    dora(&mut s, mac(1), NOW);
    dora(&mut s, mac(2), NOW);
    assert!(send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(3))),
        NOW
    )
    .is_none());
    assert_eq!(stat(&s, "v4-allocation-fail"), 1);
    assert_eq!(stat(&s, "v4-allocation-fail-subnet"), 1);
    assert_eq!(stat(&s, "subnet[5].v4-allocation-fail"), 1);
    // Renewals are still served while the pool is full.
    let (_, again) = send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(1))),
        NOW,
    )
    .unwrap();
    assert_eq!(msg_type(&again), Some(d4::MessageType::Offer));
}

#[test]
fn client_id_identifies_the_client_unless_match_client_id_is_false() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let mut d = relayed(msg(d4::MessageType::Discover, mac(1)));
    d.opts_mut()
        .insert(DhcpOption::ClientIdentifier(vec![1, 0xaa, 0xbb]));
    let (_, o1) = send(&mut s, &relay_meta(), &d, NOW).unwrap();
    // Same client-id behind another NIC: the same client.
    let mut d2 = relayed(msg(d4::MessageType::Discover, mac(2)));
    d2.opts_mut()
        .insert(DhcpOption::ClientIdentifier(vec![1, 0xaa, 0xbb]));
    let (_, o2) = send(&mut s, &relay_meta(), &d2, NOW).unwrap();
    assert_eq!(o1.yiaddr(), o2.yiaddr());
    assert_eq!(
        o2.opts().get(OptionCode::ClientIdentifier),
        Some(&DhcpOption::ClientIdentifier(vec![1, 0xaa, 0xbb])),
        "RFC 6842 echo"
    );

    let p = config(&BASIC.replace(
        "\"valid-lifetime\": 4000",
        "\"match-client-id\": false, \"valid-lifetime\": 4000",
    ));
    let mut s = shard(&p);
    let (_, o1) = send(&mut s, &relay_meta(), &d, NOW).unwrap();
    let (_, o2) = send(&mut s, &relay_meta(), &d2, NOW).unwrap();
    assert_ne!(o1.yiaddr(), o2.yiaddr(), "identified by chaddr only");
}

const TWO_SUBNETS: &str = r#"{ "Dhcp4": {
    "shared-networks": [ { "name": "net", "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "subnet4": [
            { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.10 - 192.0.2.10" } ] },
            { "id": 2, "subnet": "198.51.100.0/24", "pools": [ { "pool": "198.51.100.10 - 198.51.100.10" } ] } ] } ],
    "subnet4": [ { "id": 3, "subnet": "203.0.113.0/24", "pools": [ { "pool": "203.0.113.5 - 203.0.113.9" } ] } ]
} }"#;

#[test]
fn shared_network_spills_into_its_next_subnet() {
    let p = config(TWO_SUBNETS);
    let mut s = shard(&p);
    assert_eq!(dora(&mut s, mac(1), NOW), Ipv4Addr::new(192, 0, 2, 10));
    assert_eq!(dora(&mut s, mac(2), NOW), Ipv4Addr::new(198, 51, 100, 10));
    assert!(send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(3))),
        NOW
    )
    .is_none());
    assert_eq!(stat(&s, "v4-allocation-fail-shared-network"), 1);
    let (_, ack) = send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(2))),
        NOW,
    )
    .unwrap();
    assert_eq!(
        ack.opts().get(OptionCode::SubnetMask),
        Some(&DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)))
    );
}

#[test]
fn subnet_selection_option_and_link_selection_override_giaddr() {
    let p = config(TWO_SUBNETS);
    let mut s = shard(&p);
    let mut d = relayed(msg(d4::MessageType::Discover, mac(1)));
    d.opts_mut()
        .insert(DhcpOption::SubnetSelection(Ipv4Addr::new(203, 0, 113, 1)));
    let (_, o) = send(&mut s, &relay_meta(), &d, NOW).unwrap();
    assert!(o.yiaddr().octets().starts_with(&[203, 0, 113]));

    let mut d = relayed(msg(d4::MessageType::Discover, mac(2)));
    let mut rai = d4::relay::RelayAgentInformation::default();
    rai.insert(d4::relay::RelayInfo::LinkSelection(Ipv4Addr::new(
        203, 0, 113, 77,
    )));
    rai.insert(d4::relay::RelayInfo::AgentCircuitId(b"port7".to_vec()));
    d.opts_mut()
        .insert(DhcpOption::RelayAgentInformation(rai.clone()));
    let (_, o) = send(&mut s, &relay_meta(), &d, NOW).unwrap();
    assert!(o.yiaddr().octets().starts_with(&[203, 0, 113]));
    // RFC 3046: option 82 echoed back.
    assert_eq!(
        o.opts().get(OptionCode::RelayAgentInformation),
        Some(&DhcpOption::RelayAgentInformation(rai))
    );
}

#[test]
fn direct_client_is_selected_by_interface_and_answered_by_broadcast() {
    let p = config(
        r#"{ "Dhcp4": { "interfaces-config": { "interfaces": [ "eth0" ] },
        "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.10 - 192.0.2.20" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let (reply, offer) = send(
        &mut s,
        &direct_meta(),
        &msg(d4::MessageType::Discover, mac(1)),
        NOW,
    )
    .unwrap();
    assert_eq!(reply.dst, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
    assert_eq!(reply.ifindex, Some(7));
    // RFC 2131 4.1: no broadcast bit, no address yet -> unicast to chaddr/yiaddr at layer 2.
    assert_eq!(
        reply.l2_unicast,
        Some(L2Unicast {
            mac: mac(1),
            ip: offer.yiaddr(),
            port: 68
        })
    );
    assert_eq!(reply.src_ip, Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(
        offer.opts().get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 1)))
    );
    // A DISCOVER on an interface with no subnet goes unanswered and, as in kea-dhcp4 2.2.0
    // (run), is not counted in pkt4-receive-drop.
    let other = Meta4 {
        ifindex: 99,
        ..direct_meta()
    };
    assert!(send(&mut s, &other, &msg(d4::MessageType::Discover, mac(2)), NOW).is_none());
    assert_eq!(stat(&s, "pkt4-receive-drop"), 0);
}

#[test]
fn expired_lease_is_reclaimed_on_the_reclaim_timer_and_its_address_reused() {
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 100, "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24",
        "relay": { "ip-addresses": [ "127.0.0.1" ] }, "pools": [ { "pool": "192.0.2.10 - 192.0.2.10" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    s.on_tick(NOW + 99);
    assert_eq!(stat(&s, "reclaimed-leases"), 0);
    // Kea's reclaim-timer-wait-time defaults to 10 s: the next cycle is at NOW + 109.
    s.on_tick(NOW + 100);
    assert_eq!(stat(&s, "reclaimed-leases"), 0);
    s.on_tick(NOW + 109);
    assert_eq!(stat(&s, "reclaimed-leases"), 1);
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 0);
    assert_eq!(
        s.sink_mut().records.last().map(|l| l.state),
        Some(LeaseState::ExpiredReclaimed)
    );
    assert_eq!(dora(&mut s, mac(2), NOW + 110), a);
}

fn reclaim_config(expired: &str) -> Arc<Prepared4> {
    config(&format!(
        r#"{{ "Dhcp4": {{ "valid-lifetime": 100, "expired-leases-processing": {{ {expired} }},
        "subnet4": [ {{ "id": 1, "subnet": "192.0.2.0/24", "relay": {{ "ip-addresses": [ "127.0.0.1" ] }},
        "pools": [ {{ "pool": "192.0.2.10 - 192.0.2.19" }} ] }} ] }} }}"#
    ))
}

thread_local! {
    static TEST_CLOCK_MS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A monotonic clock on which every reading takes one millisecond.
fn one_ms_per_reading() -> Duration {
    TEST_CLOCK_MS.with(|c| {
        c.set(c.get() + 1);
        Duration::from_millis(c.get())
    })
}

/// Runs `f` with this thread's log captured; returns what was logged.
fn capture_log(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut v) = self.0.lock() {
                v.extend_from_slice(b);
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buf.0.lock().map(|v| v.clone()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn max_reclaim_leases_bounds_a_cycle_and_the_rest_waits_for_the_next_cycle() {
    let p = reclaim_config(
        r#""reclaim-timer-wait-time": 10, "max-reclaim-leases": 2, "max-reclaim-time": 0"#,
    );
    let mut s = shard(&p);
    for n in 1..=5 {
        dora(&mut s, mac(n), NOW);
    }
    // All five expire at NOW + 100; each cycle reclaims two, cycles are 10 s apart (ARM 12).
    s.on_tick(NOW + 100);
    assert_eq!(stat(&s, "reclaimed-leases"), 2);
    s.on_tick(NOW + 101);
    s.on_tick(NOW + 109);
    assert_eq!(
        stat(&s, "reclaimed-leases"),
        2,
        "the next cycle waits the timer"
    );
    s.on_tick(NOW + 110);
    assert_eq!(stat(&s, "reclaimed-leases"), 4);
    s.on_tick(NOW + 120);
    assert_eq!(stat(&s, "reclaimed-leases"), 5);
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 0);
    assert_eq!(s.reclaim_backlog(), (0, 0), "the last cycle was complete");
}

#[test]
fn max_reclaim_time_bounds_a_cycle_by_the_shard_clock() {
    let bounded = reclaim_config(
        r#""reclaim-timer-wait-time": 10, "max-reclaim-leases": 0, "max-reclaim-time": 5"#,
    );
    let unbounded = reclaim_config(
        r#""reclaim-timer-wait-time": 10, "max-reclaim-leases": 0, "max-reclaim-time": 0"#,
    );
    for (p, expect_all) in [(bounded, false), (unbounded, true)] {
        let mut s = shard(&p);
        s.set_clock(one_ms_per_reading);
        for n in 1..=8 {
            dora(&mut s, mac(n), NOW);
        }
        s.on_tick(NOW + 100);
        let first = stat(&s, "reclaimed-leases");
        if expect_all {
            assert_eq!(first, 8, "max-reclaim-time 0 is no limit");
            continue;
        }
        // Every clock reading takes 1 ms: a 5 ms cycle ends after at least one lease and
        // before the eighth; the rest are reclaimed by later cycles.
        assert!(
            (1..=5).contains(&first),
            "reclaimed {first} in a 5 ms cycle"
        );
        for cycle in 1..=8 {
            s.on_tick(NOW + 100 + cycle * 10);
        }
        assert_eq!(stat(&s, "reclaimed-leases"), 8);
    }
}

#[test]
fn incomplete_cycles_in_a_row_warn_after_unwarned_reclaim_cycles() {
    let p = reclaim_config(
        r#""reclaim-timer-wait-time": 10, "max-reclaim-leases": 1, "max-reclaim-time": 0,
           "unwarned-reclaim-cycles": 2"#,
    );
    let mut s = shard(&p);
    for n in 1..=6 {
        dora(&mut s, mac(n), NOW);
    }
    let log = capture_log(|| {
        s.on_tick(NOW + 100);
        s.on_tick(NOW + 110);
    });
    assert_eq!(s.reclaim_backlog(), (2, 0));
    assert!(!log.contains("RECLAMATION_SLOW"), "{log}");
    assert!(
        log.contains("ALLOC_ENGINE_V4_LEASES_RECLAMATION_START")
            && log.contains(
                "starting reclamation of expired leases (limit = 1 leases or 0 milliseconds)"
            ),
        "{log}"
    );
    let log = capture_log(|| s.on_tick(NOW + 120));
    assert!(
        log.contains("ALLOC_ENGINE_V4_LEASES_RECLAMATION_SLOW")
            && log.contains("expired leases still exist after 2 reclamations"),
        "{log}"
    );
    assert_eq!(s.reclaim_backlog(), (0, 1), "Kea counts again from zero");
    // Three leases left, one per cycle: the third cycle leaves none and resets the count.
    for cycle in 3..=5 {
        s.on_tick(NOW + 100 + cycle * 10);
    }
    assert_eq!(stat(&s, "reclaimed-leases"), 6);
    assert_eq!(s.reclaim_backlog(), (0, 1));
}

#[test]
fn allocator_reclaims_an_expired_lease_it_needs_before_the_timer() {
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 100, "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24",
        "relay": { "ip-addresses": [ "127.0.0.1" ] }, "pools": [ { "pool": "192.0.2.10 - 192.0.2.10" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    s.on_tick(NOW + 50);
    // Expired at NOW + 100; the timer would reclaim it at NOW + 110, the allocator at once.
    assert_eq!(dora(&mut s, mac(2), NOW + 101), a);
    assert_eq!(stat(&s, "reclaimed-leases"), 1);
    assert_eq!(stat(&s, "v4-allocation-fail"), 0);
}

#[test]
fn reclaimed_leases_are_flushed_after_hold_reclaimed_time() {
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 100,
        "expired-leases-processing": { "reclaim-timer-wait-time": 1, "flush-reclaimed-timer-wait-time": 1,
                                       "hold-reclaimed-time": 50, "max-reclaim-leases": 0 },
        "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24",
        "relay": { "ip-addresses": [ "127.0.0.1" ] }, "pools": [ { "pool": "192.0.2.10 - 192.0.2.20" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    s.on_tick(NOW + 100);
    assert_eq!(stat(&s, "reclaimed-leases"), 1);
    assert!(s.table().get(u32::from(a)).is_some(), "kept for affinity");
    s.on_tick(NOW + 149);
    assert!(s.table().get(u32::from(a)).is_some());
    s.on_tick(NOW + 150);
    assert!(
        s.table().get(u32::from(a)).is_none(),
        "flushed after the hold time"
    );
    let removals = &s.sink_mut().removals;
    assert_eq!(removals.len(), 1);
    assert_eq!(removals[0].addr, IpAddr::V4(a));
}

#[test]
fn unanswered_offer_lapses_and_frees_its_address() {
    let p = config(
        r#"{ "Dhcp4": { "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24",
        "relay": { "ip-addresses": [ "127.0.0.1" ] }, "pools": [ { "pool": "192.0.2.10 - 192.0.2.10" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(1))),
        NOW,
    )
    .unwrap();
    assert!(send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(2))),
        NOW + 1
    )
    .is_none());
    s.on_tick(NOW + 60);
    assert!(send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(2))),
        NOW + 61
    )
    .is_some());
}

#[test]
fn shards_sharing_a_pool_never_hand_out_one_address_twice() {
    let p = config(BASIC);
    let mut a = V4Shard::new(Arc::clone(&p), 0, 2, MemorySink::default());
    let mut b = V4Shard::new(Arc::clone(&p), 1, 2, MemorySink::default());
    let mut seen = std::collections::HashSet::new();
    for i in 0..5u8 {
        assert!(seen.insert(dora(&mut a, mac(i), NOW)));
        assert!(seen.insert(dora(&mut b, mac(100 + i), NOW)));
    }
    assert_eq!(seen.len(), 10);
    // Pool of 10 is full across both shards.
    assert!(send(
        &mut a,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(50))),
        NOW
    )
    .is_none());
}

#[test]
fn malformed_packets_are_counted_and_dropped() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let good = relayed(msg(d4::MessageType::Discover, mac(1)))
        .to_vec()
        .unwrap();
    let mut out = [0u8; 1500];
    let meta = relay_meta();
    // Shorter than the 236-byte BOOTP header: Kea 2.2 refuses these before any statistic
    // (checked on the wire), so they are dropped uncounted.
    for runt in [&[][..], &good[..20], &good[..100], &good[..235]] {
        assert!(s.handle(&meta, runt, NOW, &mut out).is_none());
    }
    assert_eq!(stat(&s, "pkt4-received"), 0);
    assert_eq!(stat(&s, "pkt4-parse-failed"), 0);
    // A header without the whole cookie, or with a wrong one: received, parse-failed and
    // dropped, as Kea counts them (DHCP4_PACKET_DROP_0001).
    let mut cases: Vec<Vec<u8>> = vec![good[..236].to_vec(), good[..239].to_vec()];
    let mut bad_cookie = good.clone();
    bad_cookie[236] = 0;
    cases.push(bad_cookie);
    for c in &cases {
        assert!(s.handle(&meta, c, NOW, &mut out).is_none());
    }
    assert_eq!(stat(&s, "pkt4-parse-failed"), cases.len() as i64);
    assert_eq!(stat(&s, "pkt4-received"), cases.len() as i64);
    assert_eq!(stat(&s, "pkt4-receive-drop"), cases.len() as i64);
    // A truncated message-type option: options before it would be kept (as Kea), but without
    // a message type the packet is dropped.
    let mut bad_len = good[..240].to_vec();
    bad_len.extend_from_slice(&[53, 200, 1]);
    assert!(s.handle(&meta, &bad_len, NOW, &mut out).is_none());
    assert_eq!(stat(&s, "pkt4-receive-drop"), cases.len() as i64 + 1);
    // Options after a good message type survive a truncated trailing option.
    let mut trailing = relayed(msg(d4::MessageType::Discover, mac(7)))
        .to_vec()
        .unwrap();
    let end = trailing.iter().rposition(|&b| b == 255).unwrap();
    trailing.truncate(end);
    trailing.extend_from_slice(&[12, 50, b'x']);
    assert!(
        s.handle(&meta, &trailing, NOW, &mut out).is_some(),
        "served like Kea"
    );
    // No message type: dropped.
    let mut m = Message::default();
    m.set_chaddr(&mac(1));
    m.set_giaddr(RELAY);
    assert!(s
        .handle(&meta, &m.to_vec().unwrap(), NOW, &mut out)
        .is_none());
    assert_eq!(stat(&s, "pkt4-receive-drop"), cases.len() as i64 + 2);
}

#[test]
fn tee_times_are_calculated_when_asked() {
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 1000, "calculate-tee-times": true,
        "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "pools": [ { "pool": "192.0.2.10 - 192.0.2.20" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let (_, o) = send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(1))),
        NOW,
    )
    .unwrap();
    assert_eq!(
        o.opts().get(OptionCode::Renewal),
        Some(&DhcpOption::Renewal(500))
    );
    assert_eq!(
        o.opts().get(OptionCode::Rebinding),
        Some(&DhcpOption::Rebinding(875))
    );
}

#[test]
fn requested_lifetime_is_clamped_to_bounds() {
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 1000, "min-valid-lifetime": 500, "max-valid-lifetime": 2000,
        "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "pools": [ { "pool": "192.0.2.10 - 192.0.2.20" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let mut d = relayed(msg(d4::MessageType::Discover, mac(1)));
    d.opts_mut().insert(DhcpOption::AddressLeaseTime(999_999));
    let (_, o) = send(&mut s, &relay_meta(), &d, NOW).unwrap();
    assert_eq!(
        o.opts().get(OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(2000))
    );
    let mut d = relayed(msg(d4::MessageType::Discover, mac(2)));
    d.opts_mut().insert(DhcpOption::AddressLeaseTime(10));
    let (_, o) = send(&mut s, &relay_meta(), &d, NOW).unwrap();
    assert_eq!(
        o.opts().get(OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(500))
    );
}

#[test]
fn boot_fields_come_from_the_subnet() {
    let p = config(
        r#"{ "Dhcp4": { "next-server": "192.0.2.2", "boot-file-name": "pxelinux.0",
        "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "server-hostname": "tftp.example.net", "pools": [ { "pool": "192.0.2.10 - 192.0.2.20" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let (_, o) = send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(1))),
        NOW,
    )
    .unwrap();
    assert_eq!(o.siaddr(), Ipv4Addr::new(192, 0, 2, 2));
    // dhcproto returns the field up to and including its NUL terminator.
    let trim = |f: Option<&[u8]>| f.map(|b| b.split(|&c| c == 0).next().unwrap_or(b).to_vec());
    assert_eq!(trim(o.fname()), Some(b"pxelinux.0".to_vec()));
    assert_eq!(trim(o.sname()), Some(b"tftp.example.net".to_vec()));
}

#[test]
fn recovered_leases_are_served_and_counted() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    let recs = s.sink_mut().records.clone();
    let mut fresh = V4Shard::new(config(BASIC), 0, 1, MemorySink::default());
    assert_eq!(fresh.load_leases(recs, NOW + 5), 0);
    assert_eq!(stat(&fresh, "subnet[1].assigned-addresses"), 1);
    // The client keeps its address; another client cannot take it.
    assert_eq!(dora(&mut fresh, mac(1), NOW + 6), a);
    assert_ne!(dora(&mut fresh, mac(2), NOW + 6), a);
}

#[test]
fn max_message_size_bounds_the_reply() {
    // 150 NTP servers: 600 bytes of option data, more than a 576-byte message holds.
    let big: Vec<String> = (0..150)
        .map(|i| format!("10.0.{}.{}", i / 200, i % 200 + 1))
        .collect();
    let data = format!("\"{}\"", big.join(", "));
    let json = format!(
        r#"{{ "Dhcp4": {{ "option-data": [ {{ "name": "ntp-servers", "data": {} }} ],
        "subnet4": [ {{ "id": 1, "subnet": "192.0.2.0/24", "relay": {{ "ip-addresses": [ "127.0.0.1" ] }},
        "pools": [ {{ "pool": "192.0.2.10 - 192.0.2.20" }} ] }} ] }} }}"#,
        data
    );
    let p = config(&json);
    let mut s = shard(&p);
    let mut d = relayed(msg(d4::MessageType::Discover, mac(1)));
    d.opts_mut().insert(DhcpOption::ParameterRequestList(vec![
        OptionCode::NtpServers,
    ]));
    d.opts_mut().insert(DhcpOption::MaxMessageSize(576));
    let bytes = d.to_vec().unwrap();
    let mut out = [0u8; 1500];
    let r = s.handle(&relay_meta(), &bytes, NOW, &mut out).unwrap();
    assert!(r.len <= 548, "reply of {} bytes exceeds 576 - 28", r.len);
    let o = Message::decode(&mut Decoder::new(&out[..r.len])).unwrap();
    assert_eq!(msg_type(&o), Some(d4::MessageType::Offer));
}

#[test]
fn relay_is_answered_on_port_67_unless_it_asks_for_its_own_port() {
    let p = config(BASIC);
    let mut s = shard(&p);
    let meta = Meta4 {
        src: SocketAddrV4::new(RELAY, 6767),
        ..relay_meta()
    };
    let mut out = [0u8; 1500];
    let plain = relayed(msg(d4::MessageType::Discover, mac(1)))
        .to_vec()
        .unwrap();
    let r = s.handle(&meta, &plain, NOW, &mut out).unwrap();
    assert_eq!(
        r.dst,
        SocketAddrV4::new(RELAY, 67),
        "Kea: giaddr at the server port 67"
    );
    // RFC 8357: relay-port sub-option (19) in option 82 -> reply to the relay's source port.
    let mut with_port = relayed(msg(d4::MessageType::Discover, mac(2)))
        .to_vec()
        .unwrap();
    let end = with_port.iter().rposition(|&b| b == 255).unwrap();
    with_port.truncate(end);
    with_port.extend_from_slice(&[82, 2, 19, 0, 255]);
    let r = s.handle(&meta, &with_port, NOW, &mut out).unwrap();
    assert_eq!(r.dst, SocketAddrV4::new(RELAY, 6767));
    let reply = Message::decode(&mut Decoder::new(&out[..r.len])).unwrap();
    assert!(
        reply
            .opts()
            .get(OptionCode::RelayAgentInformation)
            .is_some(),
        "option 82 echoed"
    );
}

#[test]
fn broadcast_bit_or_relay_means_no_layer2_unicast() {
    let p = config(
        r#"{ "Dhcp4": { "interfaces-config": { "interfaces": [ "eth0" ] },
        "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.10 - 192.0.2.20" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let mut d = msg(d4::MessageType::Discover, mac(1));
    d.set_flags(d4::Flags::default().set_broadcast());
    let (reply, _) = send(&mut s, &direct_meta(), &d, NOW).unwrap();
    assert_eq!(reply.dst, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
    assert_eq!(reply.l2_unicast, None);
    let p = config(BASIC);
    let mut s = shard(&p);
    let (reply, _) = send(
        &mut s,
        &relay_meta(),
        &relayed(msg(d4::MessageType::Discover, mac(2))),
        NOW,
    )
    .unwrap();
    assert_eq!(reply.l2_unicast, None);
}

#[test]
fn subnet_selection_picks_the_first_matching_subnet_in_config_order_like_keas_scan() {
    // Overlapping subnets and a relay address listed twice: Kea scans the subnets in order
    // (CfgSubnets4::selectSubnet), so the first match wins, whatever the prefix lengths.
    let p = config(
        r#"{ "Dhcp4": { "subnet4": [
        { "id": 1, "subnet": "10.0.0.0/8", "pools": [ { "pool": "10.0.0.10 - 10.0.0.20" } ] },
        { "id": 2, "subnet": "10.1.0.0/16", "relay": { "ip-addresses": [ "192.0.2.7" ] },
          "pools": [ { "pool": "10.1.0.10 - 10.1.0.20" } ] },
        { "id": 3, "subnet": "192.168.5.0/24", "relay": { "ip-addresses": [ "192.0.2.7", "192.0.2.8" ] },
          "pools": [ { "pool": "192.168.5.10 - 192.168.5.20" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let via = |giaddr: Ipv4Addr| {
        let mut m = msg(d4::MessageType::Discover, mac(1));
        m.set_giaddr(giaddr);
        m.to_vec().unwrap_or_else(|e| panic!("encode: {e}"))
    };
    let meta = relay_meta();
    assert_eq!(
        s.selected_subnet(&meta, &via(Ipv4Addr::new(10, 1, 0, 5))),
        Some(SubnetId(1))
    );
    assert_eq!(
        s.selected_subnet(&meta, &via(Ipv4Addr::new(192, 0, 2, 7))),
        Some(SubnetId(2))
    );
    assert_eq!(
        s.selected_subnet(&meta, &via(Ipv4Addr::new(192, 0, 2, 8))),
        Some(SubnetId(3))
    );
    assert_eq!(
        s.selected_subnet(&meta, &via(Ipv4Addr::new(192, 168, 5, 1))),
        Some(SubnetId(3))
    );
    assert_eq!(
        s.selected_subnet(&meta, &via(Ipv4Addr::new(172, 16, 0, 1))),
        None
    );
}

/// A renewal (ciaddr set) through the relay, as the relayed client sends it.
fn relayed_renew(m: [u8; 6], addr: Ipv4Addr) -> Message {
    let mut renew = relayed(msg(d4::MessageType::Request, m));
    renew.set_ciaddr(addr);
    renew
}

#[test]
fn renewal_of_an_address_left_outside_every_pool_goes_unanswered() {
    // kea-dhcp4 2.2.0, run with a lease on 10.77.0.100 and a pool of .10-.20: the owner's
    // renewal and INIT-REBOOT get no answer (ALLOC_ENGINE_V4_REQUEST_OUT_OF_POOL,
    // DHCP4_UNKNOWN_ADDRESS_REQUESTED), authoritative or not, and count in no drop
    // statistic; another client renewing it is NAKed (DHCP4_PACKET_NAK_0004).
    let p = config(BASIC);
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    let recs = s.sink_mut().records.clone();
    // The pool shrank (reload or restart): `a` is in the subnet but in no pool.
    let shrunk = BASIC.replace("192.0.2.10 - 192.0.2.19", "192.0.2.100 - 192.0.2.109");
    let mut s = shard(&config(&shrunk));
    assert_eq!(s.load_leases(recs, NOW + 5), 0);
    assert!(send(&mut s, &relay_meta(), &relayed_renew(mac(1), a), NOW + 10).is_none());
    let mut reboot = relayed(msg(d4::MessageType::Request, mac(1)));
    reboot.opts_mut().insert(DhcpOption::RequestedIpAddress(a));
    assert!(send(&mut s, &relay_meta(), &reboot, NOW + 11).is_none());
    let mut selecting = reboot.clone();
    selecting
        .opts_mut()
        .insert(DhcpOption::ServerIdentifier(SERVER));
    assert!(send(&mut s, &relay_meta(), &selecting, NOW + 12).is_none());
    assert_eq!(stat(&s, "pkt4-receive-drop"), 0);
    assert_eq!(stat(&s, "pkt4-nak-sent"), 0);
    assert!(s.sink_mut().records.is_empty(), "nothing renewed");
    assert!(s.table().get(u32::from(a)).is_some(), "the lease is kept");
    // Another client renewing the owner's address is NAKed.
    let (_, nak) = send(&mut s, &relay_meta(), &relayed_renew(mac(2), a), NOW + 13).unwrap();
    assert_eq!(msg_type(&nak), Some(d4::MessageType::Nak));
    // An out-of-pool address nobody holds: no answer either.
    let free = Ipv4Addr::new(192, 0, 2, 200);
    assert!(send(
        &mut s,
        &relay_meta(),
        &relayed_renew(mac(3), free),
        NOW + 14
    )
    .is_none());
    assert_eq!(stat(&s, "pkt4-nak-sent"), 1);
    // The owner starts over and gets an address from the new pool.
    let b = dora(&mut s, mac(1), NOW + 15);
    assert_eq!(b.octets()[3] / 100, 1, "{b} is in the new pool");
    // ...and its old lease goes with that commit (Kea: ALLOC_ENGINE_V4_REQUEST_REMOVE_LEASE).
    assert!(
        s.table().get(u32::from(a)).is_none(),
        "the old lease is removed"
    );
    assert_eq!(s.sink_mut().records.len(), 1, "the new lease");
    let removals = &s.sink_mut().removals;
    assert_eq!(removals.len(), 1, "the old lease's removal: {removals:?}");
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 1);
}

#[test]
fn out_of_pool_address_reserved_for_the_client_is_renewed() {
    let json = BASIC.replace(
        r#""option-data": [ { "name": "routers""#,
        r#""reservations": [ { "hw-address": "02:00:00:00:00:01", "ip-address": "192.0.2.50" } ],
        "option-data": [ { "name": "routers""#,
    );
    let p = config(&json);
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), NOW);
    assert_eq!(a, Ipv4Addr::new(192, 0, 2, 50));
    let (_, ack) = send(&mut s, &relay_meta(), &relayed_renew(mac(1), a), NOW + 10).unwrap();
    assert_eq!(msg_type(&ack), Some(d4::MessageType::Ack));
    assert_eq!(ack.yiaddr(), a);
}

#[test]
fn request_through_a_relay_in_no_subnet_is_naked() {
    // kea-dhcp4 2.2.0, run with giaddr 127.0.0.5 in no subnet and no relay list: a REQUEST
    // (SELECTING, INIT-REBOOT or renewing) gets a NAK sent to the relay
    // (DHCP4_PACKET_NAK_0001), counted in pkt4-nak-sent and not in pkt4-receive-drop; a
    // DISCOVER gets nothing and is counted nowhere but pkt4-discover-received.
    let p = config(BASIC);
    let mut s = shard(&p);
    let stray = Ipv4Addr::new(127, 0, 0, 5);
    let meta = Meta4 {
        src: SocketAddrV4::new(stray, 67),
        ..relay_meta()
    };
    let mut discover = msg(d4::MessageType::Discover, mac(1));
    discover.set_giaddr(stray);
    assert!(send(&mut s, &meta, &discover, NOW).is_none());
    let mut reboot = msg(d4::MessageType::Request, mac(1));
    reboot.set_giaddr(stray);
    reboot
        .opts_mut()
        .insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(192, 0, 2, 12)));
    let (reply, nak) = send(&mut s, &meta, &reboot, NOW + 1).expect("a NAK");
    assert_eq!(msg_type(&nak), Some(d4::MessageType::Nak));
    assert_eq!(nak.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(nak.giaddr(), stray);
    assert_eq!(reply.dst, SocketAddrV4::new(stray, 67), "to the relay");
    let mut renew = msg(d4::MessageType::Request, mac(1));
    renew.set_giaddr(stray);
    renew.set_ciaddr(Ipv4Addr::new(192, 0, 2, 12));
    let (_, nak) = send(&mut s, &meta, &renew, NOW + 2).expect("a NAK");
    assert_eq!(msg_type(&nak), Some(d4::MessageType::Nak));
    assert_eq!(stat(&s, "pkt4-nak-sent"), 2);
    assert_eq!(stat(&s, "pkt4-receive-drop"), 0);
    assert_eq!(stat(&s, "pkt4-discover-received"), 1);
    assert!(s.sink_mut().records.is_empty());
}

#[test]
fn pools_without_a_pool_id_are_summed_into_one_pool_0_statistic_as_in_kea() {
    // ARM 9.x: pool-id defaults to 0 and pools with one id share their statistics.
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000, "subnet4": [ {
            "id": 1, "subnet": "192.0.2.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "192.0.2.10 - 192.0.2.10" },
                       { "pool": "192.0.2.20 - 192.0.2.20" },
                       { "pool": "192.0.2.30 - 192.0.2.30", "pool-id": 3 } ] } ] } }"#,
    );
    let mut s = shard(&p);
    for n in 1..=3 {
        dora(&mut s, mac(n), NOW);
    }
    let all = kea_statistics(s.prepared(), &[s.stats()]);
    for what in [
        "total-addresses",
        "assigned-addresses",
        "declined-addresses",
        "cumulative-assigned-addresses",
        "reclaimed-leases",
        "reclaimed-declined-addresses",
    ] {
        let name = format!("subnet[1].pool[0].{what}");
        assert_eq!(all.iter().filter(|(n, _)| *n == name).count(), 1, "{name}");
    }
    assert_eq!(stat(&s, "subnet[1].pool[0].total-addresses"), 2);
    assert_eq!(stat(&s, "subnet[1].pool[0].assigned-addresses"), 2);
    assert_eq!(
        stat(&s, "subnet[1].pool[0].cumulative-assigned-addresses"),
        2
    );
    assert_eq!(stat(&s, "subnet[1].pool[3].total-addresses"), 1);
    assert_eq!(stat(&s, "subnet[1].pool[3].assigned-addresses"), 1);
}
