//! In-memory protocol tests: every message type and branch of RFC 8415 section 18.3, with no
//! sockets. Client messages are built and replies decoded with dhcproto, an independent codec,
//! so these tests also cross-check our wire layer. dhcproto 0.12 cannot build a Relay-forward
//! around a client message, so relay headers are written and read by hand here.

use super::*;
use corelease_storage::MemorySink;
use corelease_types::SubnetId;
use dhcproto::v6::{self as d6, DhcpOption, Message, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable};
use std::path::Path;

pub(crate) const NOW: u64 = 1_700_000_000;
pub(crate) const SERVER_DUID: &[u8] = &[0, 2, 0, 0, 0x09, 0xbf, 0xaa, 0xbb, 0xcc, 0xdd];
const LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x42);

const BASIC: &str = r#"{ "Dhcp6": {
    "preferred-lifetime": 3000, "valid-lifetime": 4000,
    "renew-timer": 1000, "rebind-timer": 2000, "decline-probation-period": 600,
    "option-data": [ { "name": "dns-servers", "data": "2001:db8::53" },
                     { "name": "sntp-servers", "data": "2001:db8::123", "always-send": true } ],
    "subnet6": [
      { "id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
        "pools": [ { "pool": "2001:db8:1::100 - 2001:db8:1::1ff" } ],
        "pd-pools": [ { "prefix": "2001:db8:8000::", "prefix-len": 48, "delegated-len": 56,
                        "excluded-prefix": "2001:db8:8000:ab::", "excluded-prefix-len": 64 } ],
        "option-data": [ { "name": "dns-servers", "data": "2001:db8:1::53" } ] },
      { "id": 2, "subnet": "2001:db8:2::/64", "interface-id": "port-7", "rapid-commit": true,
        "pools": [ { "pool": "2001:db8:2::10 - 2001:db8:2::11" } ] },
      { "id": 3, "subnet": "2001:db8:3::/64", "relay": { "ip-addresses": [ "2001:db8:ffff::1" ] },
        "pools": [ { "pool": "2001:db8:3::/120" } ] }
    ]
} }"#;

pub(crate) fn prepared(json: &str) -> Arc<Prepared6> {
    let loaded = corelease_config::parse_dhcp6_str(json, Path::new("."))
        .unwrap_or_else(|e| panic!("test config rejected: {e}"));
    let ifaces = vec![Interface6Info {
        ifindex: 7,
        name: "eth0".into(),
        hwtype: 1,
    }];
    Arc::new(Prepared6::new(&loaded.config, ifaces))
}

fn shard(p: &Arc<Prepared6>) -> V6Shard<MemorySink> {
    V6Shard::new(Arc::clone(p), SERVER_DUID, 0, 1, MemorySink::default())
}

fn duid(n: u8) -> Vec<u8> {
    vec![0, 3, 0, 1, 2, 0, 0, 0, 0, n]
}

fn meta() -> Meta6 {
    Meta6 {
        src: SocketAddrV6::new(LL, 546, 0, 7),
        dst: corelease_wire::v6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
        ifindex: 7,
    }
}

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)
}

/// A client message with client-id, elapsed time and the given extra options.
fn client_msg(kind: d6::MessageType, client: u8, extra: Vec<DhcpOption>) -> Message {
    let mut m = Message::new_with_id(kind, [0x12, 0x34, client]);
    m.opts_mut().insert(DhcpOption::ClientId(duid(client)));
    m.opts_mut().insert(DhcpOption::ElapsedTime(0));
    for o in extra {
        m.opts_mut().insert(o);
    }
    m
}

fn iana(id: u32, addrs: &[(Ipv6Addr, u32, u32)]) -> DhcpOption {
    let mut opts = d6::DhcpOptions::new();
    for &(addr, p, v) in addrs {
        opts.insert(DhcpOption::IAAddr(d6::IAAddr {
            addr,
            preferred_life: p,
            valid_life: v,
            opts: d6::DhcpOptions::new(),
        }));
    }
    DhcpOption::IANA(d6::IANA {
        id,
        t1: 0,
        t2: 0,
        opts,
    })
}

fn iapd(id: u32, prefixes: &[(Ipv6Addr, u8)]) -> DhcpOption {
    let mut opts = d6::DhcpOptions::new();
    for &(prefix_ip, prefix_len) in prefixes {
        opts.insert(DhcpOption::IAPrefix(d6::IAPrefix {
            preferred_lifetime: 0,
            valid_lifetime: 0,
            prefix_len,
            prefix_ip,
            opts: d6::DhcpOptions::new(),
        }));
    }
    DhcpOption::IAPD(d6::IAPD {
        id,
        t1: 0,
        t2: 0,
        opts,
    })
}

fn oro(codes: &[u16]) -> DhcpOption {
    DhcpOption::ORO(d6::ORO {
        opts: codes.iter().map(|&c| OptionCode::from(c)).collect(),
    })
}

fn server_id() -> DhcpOption {
    DhcpOption::ServerId(SERVER_DUID.to_vec())
}

fn encode(m: &Message) -> Vec<u8> {
    m.to_vec().unwrap_or_default()
}

/// Sends raw bytes; returns the reply header and bytes.
fn send_raw(
    s: &mut V6Shard<MemorySink>,
    m: &Meta6,
    bytes: &[u8],
    now: u64,
) -> Option<(Reply6, Vec<u8>)> {
    let mut out = [0u8; 1500];
    let r = s.handle(m, bytes, now, &mut out)?;
    Some((r, out.get(..r.len).unwrap_or(&[]).to_vec()))
}

fn decode(bytes: &[u8]) -> Message {
    Message::decode(&mut Decoder::new(bytes))
        .unwrap_or_else(|e| panic!("reply does not decode: {e}"))
}

/// Sends a client message directly; returns the decoded reply.
fn send(s: &mut V6Shard<MemorySink>, m: &Message, now: u64) -> Option<Message> {
    send_raw(s, &meta(), &encode(m), now).map(|(_, b)| decode(&b))
}

/// The IA_NAs of a reply, by IAID (dhcproto does not keep the wire order of options with
/// the same code).
fn ianas(m: &Message) -> Vec<d6::IANA> {
    let mut v: Vec<d6::IANA> = m
        .opts()
        .iter()
        .filter_map(|o| match o {
            DhcpOption::IANA(x) => Some(x.clone()),
            _ => None,
        })
        .collect();
    v.sort_by_key(|i| i.id);
    v
}

fn iapds(m: &Message) -> Vec<d6::IAPD> {
    m.opts()
        .iter()
        .filter_map(|o| match o {
            DhcpOption::IAPD(x) => Some(x.clone()),
            _ => None,
        })
        .collect()
}

fn addrs_of(opts: &d6::DhcpOptions) -> Vec<(Ipv6Addr, u32, u32)> {
    opts.iter()
        .filter_map(|o| match o {
            DhcpOption::IAAddr(x) => Some((x.addr, x.preferred_life, x.valid_life)),
            _ => None,
        })
        .collect()
}

fn status_of(opts: &d6::DhcpOptions) -> Option<d6::Status> {
    opts.iter().find_map(|o| match o {
        DhcpOption::StatusCode(s) => Some(s.status),
        _ => None,
    })
}

fn has_code(opts: &d6::DhcpOptions, code: u16) -> bool {
    opts.iter().any(|o| u16::from(OptionCode::from(o)) == code)
}

/// Solicit then Request for one IA_NA; returns the committed address.
fn lease_one(s: &mut V6Shard<MemorySink>, client: u8, now: u64) -> Ipv6Addr {
    let adv = send(
        s,
        &client_msg(d6::MessageType::Solicit, client, vec![iana(1, &[])]),
        now,
    );
    let adv = adv.unwrap_or_else(|| panic!("no Advertise"));
    let addr = addrs_of(&ianas(&adv)[0].opts)[0].0;
    let req = client_msg(
        d6::MessageType::Request,
        client,
        vec![server_id(), iana(1, &[(addr, 0, 0)])],
    );
    let rep = send(s, &req, now).unwrap_or_else(|| panic!("no Reply"));
    assert_eq!(rep.msg_type(), d6::MessageType::Reply);
    assert_eq!(addrs_of(&ianas(&rep)[0].opts)[0].0, addr);
    addr
}

pub(crate) fn stat(s: &V6Shard<MemorySink>, name: &str) -> i64 {
    kea_statistics6(s.prepared(), &[s.stats()])
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or(-1)
}

#[test]
fn solicit_gets_an_advertise_with_a_pool_address_lifetimes_and_timers_and_logs_nothing() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let m = client_msg(d6::MessageType::Solicit, 1, vec![iana(77, &[]), oro(&[23])]);
    let adv = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(adv.msg_type(), d6::MessageType::Advertise);
    assert_eq!(adv.xid(), [0x12, 0x34, 1]);
    assert_eq!(adv.opts().get(OptionCode::ServerId), Some(&server_id()));
    assert_eq!(
        adv.opts().get(OptionCode::ClientId),
        Some(&DhcpOption::ClientId(duid(1)))
    );
    let ia = &ianas(&adv)[0];
    assert_eq!((ia.id, ia.t1, ia.t2), (77, 1000, 2000));
    let got = addrs_of(&ia.opts);
    assert_eq!(got, vec![(a("2001:db8:1::100"), 3000, 4000)]);
    // The subnet's dns-servers (requested) and the always-send sntp-servers (global).
    assert_eq!(
        adv.opts().get(OptionCode::DomainNameServers),
        Some(&DhcpOption::DomainNameServers(vec![a("2001:db8:1::53")]))
    );
    assert!(has_code(adv.opts(), 31));
    assert!(
        s.sink_mut().records.is_empty(),
        "an Advertise is not logged"
    );
    assert_eq!(stat(&s, "pkt6-solicit-received"), 1);
    assert_eq!(stat(&s, "pkt6-advertise-sent"), 1);
    assert_eq!(stat(&s, "subnet[1].assigned-nas"), 0);
}

#[test]
fn request_commits_the_advertised_address_and_logs_the_lease() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let addr = lease_one(&mut s, 1, NOW);
    let rec = s.sink_mut().records.clone();
    assert_eq!(rec.len(), 1);
    let l = &rec[0];
    assert_eq!(l.kind, LeaseKind::V6Na);
    assert_eq!(l.addr, IpAddr::V6(addr));
    assert_eq!((l.prefix_len, l.iaid), (128, 1));
    assert_eq!(
        l.client_id.as_ref().map(|c| c.as_bytes().to_vec()),
        Some(duid(1))
    );
    assert_eq!(
        (l.preferred_lifetime, l.valid_lifetime, l.cltt),
        (3000, 4000, NOW)
    );
    assert_eq!(l.subnet_id, SubnetId(1));
    assert_eq!(stat(&s, "subnet[1].assigned-nas"), 1);
    assert_eq!(stat(&s, "subnet[1].cumulative-assigned-nas"), 1);
    assert_eq!(stat(&s, "cumulative-assigned-nas"), 1);
    assert_eq!(stat(&s, "pkt6-reply-sent"), 1);
}

#[test]
fn a_returning_client_gets_its_binding_again() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let first = lease_one(&mut s, 1, NOW);
    let second = lease_one(&mut s, 1, NOW + 10);
    assert_eq!(first, second);
    assert_eq!(stat(&s, "subnet[1].assigned-nas"), 1, "counted once");
    let other = lease_one(&mut s, 2, NOW);
    assert_ne!(other, first);
}

#[test]
fn several_ias_get_distinct_addresses_each_under_its_own_iaid() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let m = client_msg(
        d6::MessageType::Request,
        1,
        vec![server_id(), iana(1, &[]), iana(2, &[]), iapd(9, &[])],
    );
    let rep = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    let ias = ianas(&rep);
    assert_eq!(ias.iter().map(|i| i.id).collect::<Vec<_>>(), vec![1, 2]);
    let a1 = addrs_of(&ias[0].opts)[0].0;
    let a2 = addrs_of(&ias[1].opts)[0].0;
    assert_ne!(a1, a2);
    assert_eq!(iapds(&rep)[0].id, 9);
    assert_eq!(s.sink_mut().records.len(), 3);
}

#[test]
fn client_hint_is_honoured_when_free_and_lifetime_hints_are_clamped() {
    let p = prepared(
        r#"{"Dhcp6": {"preferred-lifetime": 100, "min-preferred-lifetime": 50, "max-preferred-lifetime": 200,
        "valid-lifetime": 300, "min-valid-lifetime": 250, "max-valid-lifetime": 400,
        "subnet6": [{"id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
        "pools": [{"pool": "2001:db8:1::100 - 2001:db8:1::1ff"}]}]}}"#,
    );
    let mut s = shard(&p);
    let m = client_msg(
        d6::MessageType::Solicit,
        1,
        vec![iana(1, &[(a("2001:db8:1::150"), 10, 9999)])],
    );
    let adv = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(
        addrs_of(&ianas(&adv)[0].opts),
        vec![(a("2001:db8:1::150"), 50, 400)]
    );
    // calculate-tee-times (default on): T1 = 0.5, T2 = 0.8 of the preferred lifetime.
    assert_eq!((ianas(&adv)[0].t1, ianas(&adv)[0].t2), (25, 40));
}

#[test]
fn rapid_commit_solicit_is_answered_with_a_committed_reply_where_the_subnet_allows_it() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    // Subnet 1 has rapid-commit off: an Advertise without the option.
    let m = client_msg(
        d6::MessageType::Solicit,
        1,
        vec![iana(1, &[]), DhcpOption::RapidCommit],
    );
    let adv = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(adv.msg_type(), d6::MessageType::Advertise);
    assert!(adv.opts().get(OptionCode::RapidCommit).is_none());
    // Subnet 2 (selected by a relay's interface-id) has it on.
    let inner = encode(&client_msg(
        d6::MessageType::Solicit,
        2,
        vec![iana(1, &[]), DhcpOption::RapidCommit],
    ));
    let fwd = relay_forward(&inner, 0, a("::"), LL, &[(18, b"port-7")]);
    let (_, bytes) =
        send_raw(&mut s, &relay_meta(), &fwd, NOW).unwrap_or_else(|| panic!("no reply"));
    let (_, inner_reply) = open_relay_reply(&bytes);
    let rep = decode(&inner_reply);
    assert_eq!(rep.msg_type(), d6::MessageType::Reply);
    assert_eq!(
        rep.opts().get(OptionCode::RapidCommit),
        Some(&DhcpOption::RapidCommit)
    );
    assert_eq!(s.sink_mut().records.len(), 1, "committed and logged");
    assert_eq!(stat(&s, "subnet[2].assigned-nas"), 1);
}

#[test]
fn server_identifier_rules_of_rfc8415_section_16_drop_the_message() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let solicit = client_msg(d6::MessageType::Solicit, 1, vec![server_id(), iana(1, &[])]);
    assert!(
        send(&mut s, &solicit, NOW).is_none(),
        "Solicit with a server id"
    );
    let no_sid = client_msg(d6::MessageType::Request, 1, vec![iana(1, &[])]);
    assert!(
        send(&mut s, &no_sid, NOW).is_none(),
        "Request without a server id"
    );
    let other = client_msg(
        d6::MessageType::Renew,
        1,
        vec![
            DhcpOption::ServerId(vec![0, 3, 0, 1, 9, 9, 9, 9, 9, 9]),
            iana(1, &[]),
        ],
    );
    assert!(
        send(&mut s, &other, NOW).is_none(),
        "Renew for another server"
    );
    let rebind = client_msg(d6::MessageType::Rebind, 1, vec![server_id(), iana(1, &[])]);
    assert!(
        send(&mut s, &rebind, NOW).is_none(),
        "Rebind with a server id"
    );
    let mut no_client = Message::new_with_id(d6::MessageType::Solicit, [1, 2, 3]);
    no_client.opts_mut().insert(iana(1, &[]));
    assert!(
        send(&mut s, &no_client, NOW).is_none(),
        "Solicit without client id"
    );
    assert_eq!(stat(&s, "pkt6-receive-drop"), 5);
    assert_eq!(stat(&s, "pkt6-sent"), 0);
}

#[test]
fn prefix_delegation_hands_out_delegated_len_prefixes_with_pd_exclude_when_requested() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let m = client_msg(
        d6::MessageType::Request,
        1,
        vec![server_id(), iapd(5, &[]), oro(&[67])],
    );
    let rep = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    let pd = &iapds(&rep)[0];
    assert_eq!((pd.id, pd.t1, pd.t2), (5, 1000, 2000));
    let prefix = pd
        .opts
        .iter()
        .find_map(|o| match o {
            DhcpOption::IAPrefix(x) => Some(x.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no IAPREFIX"));
    assert_eq!(
        (prefix.prefix_ip, prefix.prefix_len),
        (a("2001:db8:8000::"), 56)
    );
    assert_eq!(
        (prefix.preferred_lifetime, prefix.valid_lifetime),
        (3000, 4000)
    );
    // RFC 6603: excluded /64, subnet-ID bits 56..64 of 2001:db8:8000:ab:: = 0xab.
    let exclude = prefix.opts.iter().find_map(|o| match o {
        DhcpOption::Unknown(u) if u16::from(u.code()) == 67 => Some(u.data().to_vec()),
        _ => None,
    });
    assert_eq!(exclude, Some(vec![64, 0xab]));
    let l = &s.sink_mut().records[0];
    assert_eq!((l.kind, l.prefix_len, l.iaid), (LeaseKind::V6Pd, 56, 5));
    assert_eq!(stat(&s, "subnet[1].assigned-pds"), 1);
    assert_eq!(stat(&s, "subnet[1].total-pds"), 256);
    // A second client gets the next /56, without pd-exclude when it does not ask for it.
    let m = client_msg(d6::MessageType::Request, 2, vec![server_id(), iapd(5, &[])]);
    let rep = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    let pd = &iapds(&rep)[0];
    let prefix = pd.opts.iter().find_map(|o| match o {
        DhcpOption::IAPrefix(x) => Some(x.clone()),
        _ => None,
    });
    let prefix = prefix.unwrap_or_else(|| panic!("no IAPREFIX"));
    assert_eq!(prefix.prefix_ip, a("2001:db8:8000:100::"));
    assert!(!has_code(&prefix.opts, 67));
}

#[test]
fn pd_exclude_payload_carries_only_the_subnet_id_bits() {
    // ARM 10.2.10's example: 2001:db8:1:8000:cafe:80::/72 out of a /64.
    let ex = (u128::from(a("2001:db8:1:8000:cafe:80::")), 72);
    let got = pd_exclude_payload(64, ex).map(|(b, n)| b[..n].to_vec());
    assert_eq!(got, Some(vec![72, 0xca]));
    // Ten bits need two octets, the unused low bits zero.
    let got = pd_exclude_payload(56, (u128::from(a("2001:db8:0:ff:c000::")), 66))
        .map(|(b, n)| b[..n].to_vec());
    assert_eq!(got, Some(vec![66, 0xff, 0xc0]));
    // An excluded prefix not longer than the delegated one cannot be encoded.
    assert_eq!(pd_exclude_payload(72, ex), None);
}

#[test]
fn no_free_address_gives_no_addrs_avail_and_no_prefix_pool_gives_no_prefix_avail() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    // Subnet 2 has two addresses and no pd-pool.
    for client in 1..=2 {
        let inner = encode(&client_msg(
            d6::MessageType::Request,
            client,
            vec![server_id(), iana(1, &[])],
        ));
        let fwd = relay_forward(&inner, 0, a("::"), LL, &[(18, b"port-7")]);
        assert!(send_raw(&mut s, &relay_meta(), &fwd, NOW).is_some());
    }
    let inner = encode(&client_msg(
        d6::MessageType::Request,
        3,
        vec![server_id(), iana(1, &[]), iapd(2, &[])],
    ));
    let fwd = relay_forward(&inner, 0, a("::"), LL, &[(18, b"port-7")]);
    let (_, bytes) =
        send_raw(&mut s, &relay_meta(), &fwd, NOW).unwrap_or_else(|| panic!("no reply"));
    let rep = decode(&open_relay_reply(&bytes).1);
    assert_eq!(
        status_of(&ianas(&rep)[0].opts),
        Some(d6::Status::NoAddrsAvail)
    );
    assert!(addrs_of(&ianas(&rep)[0].opts).is_empty());
    assert_eq!(
        status_of(&iapds(&rep)[0].opts),
        Some(d6::Status::NoPrefixAvail)
    );
    // Kea's v6-allocation-fail statistics (as kea-dhcp6 2.2 counts them): both IAs failed
    // in subnet 2 (no shared network); the IA_PD for want of any pd-pool on the link, which
    // is a -no-pools failure and not a v6-allocation-fail one (0 attempts).
    assert_eq!(stat(&s, "v6-allocation-fail"), 1);
    assert_eq!(stat(&s, "v6-allocation-fail-subnet"), 2);
    assert_eq!(stat(&s, "v6-allocation-fail-shared-network"), 0);
    assert_eq!(stat(&s, "v6-allocation-fail-no-pools"), 1);
    assert_eq!(stat(&s, "v6-allocation-fail-classes"), 2);
    assert_eq!(stat(&s, "subnet[2].v6-allocation-fail"), 1);
    assert_eq!(stat(&s, "subnet[2].v6-allocation-fail-no-pools"), 1);
    assert_eq!(stat(&s, "subnet[2].v6-allocation-fail-classes"), 2);
    // Kea's status texts.
    let text = |opts: &d6::DhcpOptions| {
        opts.iter().find_map(|o| match o {
            DhcpOption::StatusCode(sc) => Some(sc.msg.clone()),
            _ => None,
        })
    };
    assert_eq!(
        text(&ianas(&rep)[0].opts).as_deref(),
        Some("Sorry, no address could be allocated.")
    );
    assert_eq!(
        text(&iapds(&rep)[0].opts).as_deref(),
        Some("Sorry, no prefixes could be allocated.")
    );
}

#[test]
fn renew_extends_the_binding_and_logs_the_new_cltt() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let addr = lease_one(&mut s, 1, NOW);
    let m = client_msg(
        d6::MessageType::Renew,
        1,
        vec![server_id(), iana(1, &[(addr, 0, 0)])],
    );
    let rep = send(&mut s, &m, NOW + 1000).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(rep.msg_type(), d6::MessageType::Reply);
    assert_eq!(addrs_of(&ianas(&rep)[0].opts), vec![(addr, 3000, 4000)]);
    let last = s.sink_mut().records.last().cloned();
    assert_eq!(
        last.map(|l| (l.cltt, l.state)),
        Some((NOW + 1000, LeaseState::Default))
    );
    assert_eq!(stat(&s, "pkt6-renew-received"), 1);
    assert_eq!(stat(&s, "subnet[1].assigned-nas"), 1);
}

#[test]
fn renew_of_an_address_no_longer_held_returns_it_with_zero_lifetimes_next_to_the_binding() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let addr = lease_one(&mut s, 1, NOW);
    let stale = a("2001:db8:1::1ff");
    let m = client_msg(
        d6::MessageType::Renew,
        1,
        vec![server_id(), iana(1, &[(addr, 0, 0), (stale, 0, 0)])],
    );
    let rep = send(&mut s, &m, NOW + 5).unwrap_or_else(|| panic!("no reply"));
    let got = addrs_of(&ianas(&rep)[0].opts);
    assert!(got.contains(&(addr, 3000, 4000)));
    assert!(got.contains(&(stale, 0, 0)));
}

#[test]
fn renew_without_a_binding_gets_no_binding() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let m = client_msg(
        d6::MessageType::Renew,
        1,
        vec![server_id(), iana(4, &[(a("2001:db8:1::100"), 0, 0)])],
    );
    let rep = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    let ia = &ianas(&rep)[0];
    assert_eq!((ia.id, ia.t1, ia.t2), (4, 0, 0));
    assert_eq!(status_of(&ia.opts), Some(d6::Status::NoBinding));
}

#[test]
fn rebind_extends_and_off_link_addresses_come_back_with_zero_lifetimes() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let addr = lease_one(&mut s, 1, NOW);
    let m = client_msg(d6::MessageType::Rebind, 1, vec![iana(1, &[(addr, 0, 0)])]);
    let rep = send(&mut s, &m, NOW + 3000).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(addrs_of(&ianas(&rep)[0].opts), vec![(addr, 3000, 4000)]);
    assert_eq!(stat(&s, "pkt6-rebind-received"), 1);
    // Another client moved here from a different link.
    let far = a("2001:db8:99::5");
    let m = client_msg(d6::MessageType::Rebind, 2, vec![iana(1, &[(far, 0, 0)])]);
    let rep = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(addrs_of(&ianas(&rep)[0].opts), vec![(far, 0, 0)]);
    // An on-link address without binding: NoBinding.
    let m = client_msg(
        d6::MessageType::Rebind,
        3,
        vec![iana(1, &[(a("2001:db8:1::1f0"), 0, 0)])],
    );
    let rep = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(status_of(&ianas(&rep)[0].opts), Some(d6::Status::NoBinding));
}

#[test]
fn release_frees_the_address_for_others_and_unknown_ias_get_no_binding() {
    let p = prepared(
        r#"{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
        "pools": [{"pool": "2001:db8:1::100 - 2001:db8:1::100"}]}]}}"#,
    );
    let mut s = shard(&p);
    let addr = lease_one(&mut s, 1, NOW);
    let m = client_msg(
        d6::MessageType::Release,
        1,
        vec![
            server_id(),
            iana(1, &[(addr, 0, 0)]),
            iana(2, &[(addr, 0, 0)]),
        ],
    );
    let rep = send(&mut s, &m, NOW + 1).unwrap_or_else(|| panic!("no reply"));
    // Kea's summary status: NoBinding, as one IA was refused.
    assert_eq!(status_of(rep.opts()), Some(d6::Status::NoBinding));
    let ias = ianas(&rep);
    assert_eq!(status_of(&ias[0].opts), Some(d6::Status::Success));
    assert_eq!(status_of(&ias[1].opts), Some(d6::Status::NoBinding));
    let last = s.sink_mut().records.last().cloned();
    assert_eq!(
        last.map(|l| (l.state, l.valid_lifetime)),
        Some((LeaseState::Released, 0))
    );
    assert_eq!(stat(&s, "subnet[1].assigned-nas"), 0);
    // The only address of the pool is free again.
    assert_eq!(lease_one(&mut s, 2, NOW + 2), addr);
}

#[test]
fn decline_puts_the_address_in_probation_until_reclaimed() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let addr = lease_one(&mut s, 1, NOW);
    let m = client_msg(
        d6::MessageType::Decline,
        1,
        vec![server_id(), iana(1, &[(addr, 0, 0)])],
    );
    let rep = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(
        status_of(rep.opts()),
        None,
        "no top-level status, as in Kea"
    );
    assert_eq!(status_of(&ianas(&rep)[0].opts), Some(d6::Status::Success));
    let last = s
        .sink_mut()
        .records
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("not logged"));
    assert_eq!(last.state, LeaseState::Declined);
    assert_eq!(last.client_id, None, "identity removed");
    assert_eq!(last.valid_lifetime, 600);
    assert_eq!(stat(&s, "declined-addresses"), 1);
    assert_eq!(stat(&s, "subnet[1].declined-addresses"), 1);
    // The same client asks again: not the declined address.
    assert_ne!(lease_one(&mut s, 1, NOW + 1), addr);
    s.on_tick(NOW + 600);
    assert_eq!(stat(&s, "declined-addresses"), 0);
    assert_eq!(stat(&s, "reclaimed-declined-addresses"), 1);
    assert_eq!(stat(&s, "subnet[1].reclaimed-declined-addresses"), 1);
    assert_eq!(stat(&s, "pkt6-decline-received"), 1);
}

#[test]
fn confirm_answers_success_on_link_not_on_link_off_link_and_nothing_without_addresses() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let on = client_msg(
        d6::MessageType::Confirm,
        1,
        vec![iana(1, &[(a("2001:db8:1::abc"), 0, 0)])],
    );
    let rep = send(&mut s, &on, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(status_of(rep.opts()), Some(d6::Status::Success));
    let off = client_msg(
        d6::MessageType::Confirm,
        1,
        vec![iana(
            1,
            &[(a("2001:db8:1::abc"), 0, 0), (a("2001:db8:7::1"), 0, 0)],
        )],
    );
    let rep = send(&mut s, &off, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(status_of(rep.opts()), Some(d6::Status::NotOnLink));
    let empty = client_msg(d6::MessageType::Confirm, 1, vec![iana(1, &[])]);
    assert!(send(&mut s, &empty, NOW).is_none());
}

#[test]
fn information_request_returns_options_only_and_one_with_an_ia_is_dropped() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let m = client_msg(d6::MessageType::InformationRequest, 1, vec![oro(&[23, 24])]);
    let rep = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(rep.msg_type(), d6::MessageType::Reply);
    assert_eq!(
        rep.opts().get(OptionCode::DomainNameServers),
        Some(&DhcpOption::DomainNameServers(vec![a("2001:db8:1::53")]))
    );
    assert!(ianas(&rep).is_empty());
    assert!(
        rep.opts().get(OptionCode::DomainSearchList).is_none(),
        "not configured"
    );
    // Without a client id is fine for Information-request.
    let mut anon = Message::new_with_id(d6::MessageType::InformationRequest, [9, 9, 9]);
    anon.opts_mut().insert(oro(&[23]));
    assert!(send(&mut s, &anon, NOW).is_some());
    let with_ia = client_msg(d6::MessageType::InformationRequest, 1, vec![iana(1, &[])]);
    assert!(send(&mut s, &with_ia, NOW).is_none());
    assert_eq!(stat(&s, "pkt6-infrequest-received"), 3);
}

fn relay_meta() -> Meta6 {
    Meta6 {
        src: SocketAddrV6::new(a("2001:db8:ffff::1"), 547, 0, 0),
        dst: a("2001:db8::1"),
        ifindex: 7,
    }
}

/// A Relay-forward around `inner` with the given options (code, payload) before the message.
fn relay_forward(
    inner: &[u8],
    hop: u8,
    link: Ipv6Addr,
    peer: Ipv6Addr,
    opts: &[(u16, &[u8])],
) -> Vec<u8> {
    let mut v = vec![12, hop];
    v.extend_from_slice(&link.octets());
    v.extend_from_slice(&peer.octets());
    for (code, data) in opts {
        v.extend_from_slice(&code.to_be_bytes());
        v.extend_from_slice(&(data.len() as u16).to_be_bytes());
        v.extend_from_slice(data);
    }
    v.extend_from_slice(&9u16.to_be_bytes());
    v.extend_from_slice(&(inner.len() as u16).to_be_bytes());
    v.extend_from_slice(inner);
    v
}

/// Reads a Relay-reply: (hop, link, peer, options other than Relay Message), inner message.
#[allow(clippy::type_complexity)]
fn open_relay_reply(b: &[u8]) -> ((u8, Ipv6Addr, Ipv6Addr, Vec<(u16, Vec<u8>)>), Vec<u8>) {
    assert_eq!(b.first(), Some(&13), "not a Relay-reply");
    let addr = |at: usize| {
        let mut o = [0u8; 16];
        o.copy_from_slice(&b[at..at + 16]);
        Ipv6Addr::from(o)
    };
    let mut opts = Vec::new();
    let mut inner = Vec::new();
    let mut i = 34;
    while i + 4 <= b.len() {
        let code = u16::from_be_bytes([b[i], b[i + 1]]);
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        let data = b[i + 4..i + 4 + len].to_vec();
        if code == 9 {
            inner = data;
        } else {
            opts.push((code, data));
        }
        i += 4 + len;
    }
    ((b[1], addr(2), addr(18), opts), inner)
}

#[test]
fn relayed_solicit_is_selected_by_interface_id_and_answered_in_a_relay_reply_echoing_it() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let inner = encode(&client_msg(d6::MessageType::Solicit, 1, vec![iana(1, &[])]));
    let fwd = relay_forward(
        &inner,
        0,
        a("::"),
        LL,
        &[(18, b"port-7"), (37, b"\0\0\0\x01rid")],
    );
    let (r, bytes) =
        send_raw(&mut s, &relay_meta(), &fwd, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(r.dst, SocketAddrV6::new(a("2001:db8:ffff::1"), 547, 0, 0));
    assert_eq!(r.message_type, MessageType::Advertise);
    let ((hop, link, peer, opts), inner_reply) = open_relay_reply(&bytes);
    assert_eq!((hop, link, peer), (0, a("::"), LL));
    assert_eq!(
        opts,
        vec![(18, b"port-7".to_vec())],
        "interface-id echoed, nothing else"
    );
    let adv = decode(&inner_reply);
    assert_eq!(adv.msg_type(), d6::MessageType::Advertise);
    assert_eq!(addrs_of(&ianas(&adv)[0].opts)[0].0, a("2001:db8:2::10"));
}

#[test]
fn relay_link_address_selects_by_relay_ip_addresses_through_two_relay_layers() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let inner = encode(&client_msg(d6::MessageType::Solicit, 1, vec![iana(1, &[])]));
    // The relay closest to the client names the link; the outer one is link-local only.
    let first = relay_forward(&inner, 0, a("2001:db8:ffff::1"), LL, &[(18, b"inner-if")]);
    let second = relay_forward(
        &first,
        1,
        a("fe80::1"),
        a("2001:db8:ffff::1"),
        &[(18, b"outer-if")],
    );
    let (_, bytes) =
        send_raw(&mut s, &relay_meta(), &second, NOW).unwrap_or_else(|| panic!("no reply"));
    let ((hop, link, _, opts), middle) = open_relay_reply(&bytes);
    assert_eq!((hop, link), (1, a("fe80::1")));
    assert_eq!(opts, vec![(18, b"outer-if".to_vec())]);
    let ((hop, link, peer, opts), innermost) = open_relay_reply(&middle);
    assert_eq!((hop, link, peer), (0, a("2001:db8:ffff::1"), LL));
    assert_eq!(opts, vec![(18, b"inner-if".to_vec())]);
    let adv = decode(&innermost);
    assert_eq!(addrs_of(&ianas(&adv)[0].opts)[0].0, a("2001:db8:3::"));
}

#[test]
fn relay_source_port_option_sends_the_reply_to_the_relays_port() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let inner = encode(&client_msg(d6::MessageType::Solicit, 1, vec![iana(1, &[])]));
    let fwd = relay_forward(&inner, 0, a("2001:db8:3::1"), LL, &[(135, &[0x12, 0x34])]);
    let mut m = relay_meta();
    m.src.set_port(4000);
    let (r, _) = send_raw(&mut s, &m, &fwd, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(r.dst.port(), 4000);
}

#[test]
fn direct_client_with_a_global_source_selects_by_source_then_by_interface() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let m = client_msg(d6::MessageType::Solicit, 1, vec![iana(1, &[])]);
    let mut from3 = meta();
    from3.src = SocketAddrV6::new(a("2001:db8:3::77"), 546, 0, 0);
    from3.ifindex = 99;
    let (_, b) = send_raw(&mut s, &from3, &encode(&m), NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(
        addrs_of(&ianas(&decode(&b))[0].opts)[0].0,
        a("2001:db8:3::")
    );
    // Link-local source on an interface no subnet names: no subnet, NoAddrsAvail.
    let mut unknown = meta();
    unknown.ifindex = 99;
    let (_, b) = send_raw(&mut s, &unknown, &encode(&m), NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(
        status_of(&ianas(&decode(&b))[0].opts),
        Some(d6::Status::NoAddrsAvail)
    );
}

#[test]
fn expired_leases_are_reclaimed_on_tick_and_lapsed_advertisements_return() {
    let p = prepared(
        r#"{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
        "pools": [{"pool": "2001:db8:1::100 - 2001:db8:1::100"}]}]}}"#,
    );
    let mut s = shard(&p);
    // An advertisement holds the only address until it lapses.
    let sol = client_msg(d6::MessageType::Solicit, 1, vec![iana(1, &[])]);
    assert!(send(&mut s, &sol, NOW).is_some());
    let other = client_msg(d6::MessageType::Solicit, 2, vec![iana(1, &[])]);
    let adv = send(&mut s, &other, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(
        status_of(&ianas(&adv)[0].opts),
        Some(d6::Status::NoAddrsAvail)
    );
    s.on_tick(NOW + ADVERTISE_HOLD_SECS);
    let addr = lease_one(&mut s, 2, NOW + ADVERTISE_HOLD_SECS);
    // Kea's default valid lifetime is 7200 s; reclamation cycles are reclaim-timer-wait-time
    // (default 10 s) apart, so the one at + 7199 s is the last before it expires.
    s.on_tick(NOW + ADVERTISE_HOLD_SECS + 7199);
    assert_eq!(stat(&s, "reclaimed-leases"), 0);
    s.on_tick(NOW + ADVERTISE_HOLD_SECS + 7200);
    assert_eq!(stat(&s, "reclaimed-leases"), 0, "between two cycles");
    s.on_tick(NOW + ADVERTISE_HOLD_SECS + 7209);
    assert_eq!(stat(&s, "reclaimed-leases"), 1);
    assert_eq!(stat(&s, "subnet[1].reclaimed-leases"), 1);
    assert_eq!(stat(&s, "subnet[1].assigned-nas"), 0);
    let last = s.sink_mut().records.last().cloned();
    assert_eq!(last.map(|l| l.state), Some(LeaseState::ExpiredReclaimed));
    assert_eq!(lease_one(&mut s, 3, NOW + 8000), addr);
}

fn reclaim_prepared(expired: &str) -> Arc<Prepared6> {
    prepared(&format!(
        r#"{{"Dhcp6": {{"valid-lifetime": 100, "preferred-lifetime": 50,
        "expired-leases-processing": {{ {expired} }},
        "subnet6": [{{"id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
        "pools": [{{"pool": "2001:db8:1::100 - 2001:db8:1::1ff"}}]}}]}}}}"#
    ))
}

thread_local! {
    static TEST_CLOCK_MS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A monotonic clock on which every reading takes one millisecond.
fn one_ms_per_reading() -> std::time::Duration {
    TEST_CLOCK_MS.with(|c| {
        c.set(c.get() + 1);
        std::time::Duration::from_millis(c.get())
    })
}

#[test]
fn max_reclaim_leases_bounds_a_v6_cycle_and_the_rest_waits_for_the_next_cycle() {
    let p = reclaim_prepared(
        r#""reclaim-timer-wait-time": 10, "max-reclaim-leases": 2, "max-reclaim-time": 0,
           "unwarned-reclaim-cycles": 1"#,
    );
    let mut s = shard(&p);
    for client in 1..=5 {
        lease_one(&mut s, client, NOW);
    }
    s.on_tick(NOW + 100);
    assert_eq!(stat(&s, "reclaimed-leases"), 2);
    s.on_tick(NOW + 109);
    assert_eq!(
        stat(&s, "reclaimed-leases"),
        2,
        "the next cycle waits the timer"
    );
    assert_eq!(s.reclaim_backlog(), (1, 0));
    // The second incomplete cycle in a row is more than unwarned-reclaim-cycles (1).
    s.on_tick(NOW + 110);
    assert_eq!(stat(&s, "reclaimed-leases"), 4);
    assert_eq!(s.reclaim_backlog(), (0, 1));
    s.on_tick(NOW + 120);
    assert_eq!(stat(&s, "reclaimed-leases"), 5);
    assert_eq!(stat(&s, "subnet[1].assigned-nas"), 0);
}

#[test]
fn max_reclaim_time_bounds_a_v6_cycle_by_the_shard_clock() {
    let p = reclaim_prepared(
        r#""reclaim-timer-wait-time": 10, "max-reclaim-leases": 0, "max-reclaim-time": 5"#,
    );
    let mut s = shard(&p);
    s.set_clock(one_ms_per_reading);
    for client in 1..=8 {
        lease_one(&mut s, client, NOW);
    }
    s.on_tick(NOW + 100);
    let first = stat(&s, "reclaimed-leases");
    assert!(
        (1..=5).contains(&first),
        "reclaimed {first} in a 5 ms cycle"
    );
    for cycle in 1..=8 {
        s.on_tick(NOW + 100 + cycle * 10);
    }
    assert_eq!(stat(&s, "reclaimed-leases"), 8);
}

#[test]
fn malformed_and_truncated_datagrams_count_as_parse_failures_without_a_reply() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let good = encode(&client_msg(
        d6::MessageType::Request,
        1,
        vec![server_id(), iana(1, &[]), iapd(2, &[])],
    ));
    let mut out = [0u8; 1500];
    let mut replies = 0;
    for cut in 0..good.len() {
        if s.handle(&meta(), &good[..cut], NOW, &mut out).is_some() {
            replies += 1;
        }
    }
    // Cuts that end exactly between options still make a (shorter) valid message. Every
    // parse failure is also a drop, as Kea counts it.
    assert!(stat(&s, "pkt6-parse-failed") > 0);
    assert!(stat(&s, "pkt6-receive-drop") >= stat(&s, "pkt6-parse-failed"));
    assert_eq!(stat(&s, "pkt6-received"), good.len() as i64);
    assert!(replies < good.len());
    let (failed, drops) = (stat(&s, "pkt6-parse-failed"), stat(&s, "pkt6-receive-drop"));
    assert!(s.handle(&meta(), &[1, 0, 0], NOW, &mut out).is_none());
    assert_eq!(stat(&s, "pkt6-parse-failed"), failed + 1);
    assert_eq!(stat(&s, "pkt6-receive-drop"), drops + 1);
    // A reply buffer too small for the reply: nothing sent, nothing panics.
    let mut tiny = [0u8; 20];
    assert!(s.handle(&meta(), &good, NOW, &mut tiny).is_none());
    // Unknown message type.
    assert!(s.handle(&meta(), &[200, 0, 0, 1], NOW, &mut out).is_none());
    assert_eq!(stat(&s, "pkt6-unknown-received"), 1);
}

#[test]
fn statistics_use_kea_names_and_pool_totals() {
    let p = prepared(BASIC);
    let s = shard(&p);
    let names: Vec<String> = kea_statistics6(s.prepared(), &[s.stats()])
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for want in [
        "pkt6-received",
        "pkt6-solicit-received",
        "pkt6-advertise-sent",
        "pkt6-reply-sent",
        "pkt6-parse-failed",
        "pkt6-receive-drop",
        "declined-addresses",
        "subnet[1].total-nas",
        "subnet[1].assigned-nas",
        "subnet[1].total-pds",
        "subnet[1].assigned-pds",
        "subnet[1].cumulative-assigned-pds",
        "subnet[1].pool[0].total-nas",
        // Kea 3.0: pool-id defaults to 0, pd-pools are counted apart from address pools.
        "subnet[1].pd-pool[0].total-pds",
        "subnet[3].total-nas",
        // Kea 2.2 and 3.0 list these after any exchange.
        "v6-allocation-fail",
        "v6-allocation-fail-shared-network",
        "v6-allocation-fail-subnet",
        "v6-allocation-fail-no-pools",
        "v6-allocation-fail-classes",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing");
    }
    assert_eq!(stat(&s, "subnet[1].total-nas"), 256);
    assert_eq!(stat(&s, "subnet[2].total-nas"), 2);
    assert_eq!(stat(&s, "subnet[1].pool[0].total-nas"), 256);
    assert_eq!(stat(&s, "subnet[1].pd-pool[0].total-pds"), 256);
}

#[test]
fn owner_shard_is_found_through_relay_layers_and_is_stable() {
    let inner = encode(&client_msg(d6::MessageType::Solicit, 5, vec![iana(1, &[])]));
    let fwd = relay_forward(&inner, 0, a("::"), LL, &[]);
    let twice = relay_forward(&fwd, 1, a("::"), LL, &[]);
    assert_eq!(client_duid(&inner), Some(&duid(5)[..]));
    assert_eq!(client_duid(&twice), Some(&duid(5)[..]));
    assert_eq!(client_duid(&[1, 2]), None);
    let d = duid(5);
    assert_eq!(owner_shard(&d, 4), owner_shard(&d, 4));
    assert!(owner_shard(&d, 4) < 4);
    assert_eq!(owner_shard(&d, 0), 0);
    // Different DUIDs spread over the shards.
    let mut seen = [false; 4];
    for n in 0..64 {
        seen[owner_shard(&duid(n), 4)] = true;
    }
    assert_eq!(seen, [true; 4]);
}

#[test]
fn loaded_leases_claim_their_bits_and_duplicates_are_refused() {
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let lease = Lease {
        kind: LeaseKind::V6Na,
        addr: IpAddr::V6(a("2001:db8:1::100")),
        prefix_len: 128,
        iaid: 1,
        hwaddr: None,
        client_id: Some(ClientId::new(&duid(1))),
        valid_lifetime: 4000,
        preferred_lifetime: 3000,
        cltt: NOW,
        subnet_id: SubnetId(1),
        pool_id: corelease_types::PoolId(0),
        state: LeaseState::Default,
        hostname: None,
        fqdn_fwd: false,
        fqdn_rev: false,
        user_context: None,
    };
    let mut dup = lease.clone();
    dup.client_id = Some(ClientId::new(&duid(2)));
    assert_eq!(s.load_leases([lease, dup], NOW), 1);
    assert_eq!(stat(&s, "subnet[1].assigned-nas"), 1);
    // The loaded client renews its address; a new client gets another one.
    let m = client_msg(
        d6::MessageType::Renew,
        1,
        vec![server_id(), iana(1, &[(a("2001:db8:1::100"), 0, 0)])],
    );
    let rep = send(&mut s, &m, NOW + 1).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(addrs_of(&ianas(&rep)[0].opts)[0].0, a("2001:db8:1::100"));
    assert_ne!(lease_one(&mut s, 3, NOW + 1), a("2001:db8:1::100"));
}

#[test]
fn shards_split_a_pool_and_never_hand_out_the_same_address() {
    let p = prepared(BASIC);
    let mut s0 = V6Shard::new(Arc::clone(&p), SERVER_DUID, 0, 2, MemorySink::default());
    let mut s1 = V6Shard::new(Arc::clone(&p), SERVER_DUID, 1, 2, MemorySink::default());
    let mut all = Vec::new();
    for n in 0..20 {
        all.push(lease_one(&mut s0, n, NOW));
        all.push(lease_one(&mut s1, 100 + n, NOW));
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total);
}

#[test]
fn a_full_subnet_overflows_into_the_other_subnets_of_its_shared_network() {
    let p = prepared(
        r#"{"Dhcp6": {"shared-networks": [{"name": "lan", "interface": "eth0", "subnet6": [
            {"id": 10, "subnet": "2001:db8:a::/64", "pools": [{"pool": "2001:db8:a::1 - 2001:db8:a::1"}]},
            {"id": 11, "subnet": "2001:db8:b::/64", "pools": [{"pool": "2001:db8:b::1 - 2001:db8:b::1"}],
             "option-data": [{"name": "dns-servers", "data": "2001:db8:b::53", "never-send": true}]}]}]}}"#,
    );
    let mut s = shard(&p);
    assert_eq!(lease_one(&mut s, 1, NOW), a("2001:db8:a::1"));
    assert_eq!(lease_one(&mut s, 2, NOW), a("2001:db8:b::1"));
    assert_eq!(stat(&s, "subnet[11].assigned-nas"), 1);
    let sol = client_msg(d6::MessageType::Solicit, 3, vec![iana(1, &[])]);
    let adv = send(&mut s, &sol, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(
        status_of(&ianas(&adv)[0].opts),
        Some(d6::Status::NoAddrsAvail)
    );
    // The second client renews in its own subnet, still on the same link.
    let m = client_msg(
        d6::MessageType::Renew,
        2,
        vec![
            server_id(),
            iana(1, &[(a("2001:db8:b::1"), 0, 0)]),
            oro(&[23]),
        ],
    );
    let rep = send(&mut s, &m, NOW + 5).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(addrs_of(&ianas(&rep)[0].opts)[0].0, a("2001:db8:b::1"));
}

#[test]
fn pool_options_win_over_subnet_options_and_never_send_is_honoured() {
    let p = prepared(
        r#"{"Dhcp6": {"option-data": [{"name": "sntp-servers", "data": "2001:db8::123", "never-send": true}],
        "subnet6": [{"id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
        "option-data": [{"name": "dns-servers", "data": "2001:db8:1::53"}],
        "pools": [{"pool": "2001:db8:1::100 - 2001:db8:1::100",
                   "option-data": [{"name": "dns-servers", "data": "2001:db8:1::5353"}]}]}]}}"#,
    );
    let mut s = shard(&p);
    let m = client_msg(
        d6::MessageType::Solicit,
        1,
        vec![iana(1, &[]), oro(&[23, 31])],
    );
    let adv = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(
        adv.opts().get(OptionCode::DomainNameServers),
        Some(&DhcpOption::DomainNameServers(vec![a("2001:db8:1::5353")]))
    );
    assert!(!has_code(adv.opts(), 31), "never-send, even when requested");
    // Information-request has no lease, hence no pool: the subnet's value.
    let m = client_msg(d6::MessageType::InformationRequest, 1, vec![oro(&[23])]);
    let rep = send(&mut s, &m, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(
        rep.opts().get(OptionCode::DomainNameServers),
        Some(&DhcpOption::DomainNameServers(vec![a("2001:db8:1::53")]))
    );
}

#[test]
fn a_relay_reply_sent_to_the_server_is_answered_like_a_relay_forward() {
    // kea-dhcp6 2.2 unwraps a Relay-reply as a Relay-forward and answers (on the wire).
    let p = prepared(BASIC);
    let mut s = shard(&p);
    let inner = encode(&client_msg(d6::MessageType::Solicit, 1, vec![iana(1, &[])]));
    let mut repl = relay_forward(&inner, 0, a("2001:db8:ffff::1"), LL, &[]);
    repl[0] = 13;
    let (r, bytes) =
        send_raw(&mut s, &relay_meta(), &repl, NOW).unwrap_or_else(|| panic!("no reply"));
    assert_eq!(r.dst, relay_meta().src);
    let ((_, link, peer, _), inner_reply) = open_relay_reply(&bytes);
    assert_eq!((link, peer), (a("2001:db8:ffff::1"), LL));
    let adv = decode(&inner_reply);
    assert_eq!(adv.msg_type(), d6::MessageType::Advertise);
    assert_eq!(addrs_of(&ianas(&adv)[0].opts)[0].0, a("2001:db8:3::"));
    assert_eq!(stat(&s, "pkt6-receive-drop"), 0);
    assert_eq!(stat(&s, "pkt6-solicit-received"), 1);
}

#[path = "resv_tests.rs"]
mod resv;

/// Two address pools without a pool-id (pool 0 together), one with pool-id 5, and two
/// pd-pools (pool-id 0 and 9).
const POOL_STATS: &str = r#"{"Dhcp6": {"valid-lifetime": 100, "preferred-lifetime": 50,
    "decline-probation-period": 30,
    "subnet6": [{"id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
    "pools": [{"pool": "2001:db8:1::100 - 2001:db8:1::10f"},
              {"pool": "2001:db8:1::200 - 2001:db8:1::203"},
              {"pool": "2001:db8:1::500 - 2001:db8:1::5ff", "pool-id": 5}],
    "pd-pools": [{"prefix": "2001:db8:8000::", "prefix-len": 48, "delegated-len": 56},
                 {"prefix": "2001:db8:9000::", "prefix-len": 48, "delegated-len": 64,
                  "pool-id": 9}]}]}}"#;

/// Request (no Solicit) for one IA_NA and one IA_PD with these hints; the reply's values.
fn request_hinted(
    s: &mut V6Shard<MemorySink>,
    client: u8,
    addr: &str,
    prefix: (&str, u8),
    now: u64,
) -> (Ipv6Addr, Ipv6Addr) {
    let m = client_msg(
        d6::MessageType::Request,
        client,
        vec![
            server_id(),
            iana(1, &[(a(addr), 0, 0)]),
            iapd(2, &[(a(prefix.0), prefix.1)]),
        ],
    );
    let rep = send(s, &m, now).unwrap_or_else(|| panic!("no Reply"));
    let na = addrs_of(&ianas(&rep)[0].opts)[0].0;
    let pd = iapds(&rep)[0]
        .opts
        .iter()
        .find_map(|o| match o {
            DhcpOption::IAPrefix(x) => Some(x.prefix_ip),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no IAPREFIX"));
    (na, pd)
}

#[test]
fn pool_statistics_follow_allocation_release_decline_and_reclamation() {
    let p = prepared(POOL_STATS);
    let mut s = shard(&p);
    let pool = |s: &V6Shard<MemorySink>, what: &str| stat(s, &format!("subnet[1].{what}"));
    // Kea 3.0 names, each listed from the start.
    for name in [
        "pool[0].total-nas",
        "pool[5].total-nas",
        "pool[0].assigned-nas",
        "pool[0].cumulative-assigned-nas",
        "pool[0].declined-addresses",
        "pool[0].reclaimed-declined-addresses",
        "pool[0].reclaimed-leases",
        "pool[5].assigned-nas",
        "pd-pool[0].total-pds",
        "pd-pool[0].assigned-pds",
        "pd-pool[0].cumulative-assigned-pds",
        "pd-pool[0].reclaimed-leases",
        "pd-pool[9].assigned-pds",
    ] {
        let v = pool(&s, name);
        if name.contains("total") {
            assert!(v > 0, "{name}: {v}");
        } else {
            assert_eq!(v, 0, "{name}");
        }
    }
    assert_eq!(pool(&s, "pool[0].total-nas"), 20);
    assert_eq!(pool(&s, "pool[5].total-nas"), 256);
    assert_eq!(pool(&s, "pd-pool[9].total-pds"), 65536);
    assert_eq!(
        pool(&s, "pd-pool[9].declined-addresses"),
        -1,
        "not a pd-pool statistic"
    );

    // Client 1 in the second pool without an id (pool 0) and the pd-pool with id 9.
    let (na1, pd1) = request_hinted(&mut s, 1, "2001:db8:1::201", ("2001:db8:9000:7::", 64), NOW);
    assert_eq!((na1, pd1), (a("2001:db8:1::201"), a("2001:db8:9000:7::")));
    // Client 2 in pool 5 and pd-pool 0; client 3 in pool 5 too.
    request_hinted(
        &mut s,
        2,
        "2001:db8:1::510",
        ("2001:db8:8000:300::", 56),
        NOW,
    );
    request_hinted(
        &mut s,
        3,
        "2001:db8:1::511",
        ("2001:db8:8000:400::", 56),
        NOW,
    );
    assert_eq!(pool(&s, "pool[0].assigned-nas"), 1);
    assert_eq!(pool(&s, "pool[5].assigned-nas"), 2);
    assert_eq!(pool(&s, "pool[5].cumulative-assigned-nas"), 2);
    assert_eq!(pool(&s, "pd-pool[9].assigned-pds"), 1);
    assert_eq!(pool(&s, "pd-pool[0].assigned-pds"), 2);
    assert_eq!(pool(&s, "pd-pool[0].cumulative-assigned-pds"), 2);
    // A renewal is not a new assignment.
    request_hinted(
        &mut s,
        2,
        "2001:db8:1::510",
        ("2001:db8:8000:300::", 56),
        NOW + 1,
    );
    assert_eq!(pool(&s, "pool[5].cumulative-assigned-nas"), 2);

    // Release by client 3: assigned down, cumulative stays.
    let m = client_msg(
        d6::MessageType::Release,
        3,
        vec![
            server_id(),
            iana(1, &[(a("2001:db8:1::511"), 0, 0)]),
            iapd(2, &[(a("2001:db8:8000:400::"), 56)]),
        ],
    );
    assert!(send(&mut s, &m, NOW + 2).is_some());
    assert_eq!(pool(&s, "pool[5].assigned-nas"), 1);
    assert_eq!(pool(&s, "pool[5].cumulative-assigned-nas"), 2);
    assert_eq!(pool(&s, "pd-pool[0].assigned-pds"), 1);

    // Decline by client 2: declined in its pool until the probation ends.
    let m = client_msg(
        d6::MessageType::Decline,
        2,
        vec![server_id(), iana(1, &[(a("2001:db8:1::510"), 0, 0)])],
    );
    assert!(send(&mut s, &m, NOW + 3).is_some());
    assert_eq!(pool(&s, "pool[5].declined-addresses"), 1);
    assert_eq!(pool(&s, "pool[0].declined-addresses"), 0);
    s.on_tick(NOW + 40);
    assert_eq!(pool(&s, "pool[5].declined-addresses"), 0);
    assert_eq!(pool(&s, "pool[5].reclaimed-declined-addresses"), 1);
    assert_eq!(pool(&s, "pool[5].reclaimed-leases"), 1);
    assert_eq!(pool(&s, "pool[5].assigned-nas"), 0);
    assert_eq!(pool(&s, "pool[0].reclaimed-leases"), 0);

    // Everything else expires (valid-lifetime 100): reclaimed in its own pool.
    s.on_tick(NOW + 200);
    assert_eq!(pool(&s, "pool[0].assigned-nas"), 0);
    assert_eq!(pool(&s, "pool[0].reclaimed-leases"), 1);
    assert_eq!(pool(&s, "pd-pool[9].assigned-pds"), 0);
    assert_eq!(pool(&s, "pd-pool[9].reclaimed-leases"), 1);
    assert_eq!(pool(&s, "pd-pool[0].assigned-pds"), 0);
    assert_eq!(pool(&s, "pd-pool[0].reclaimed-leases"), 1);
    assert_eq!(pool(&s, "pd-pool[0].cumulative-assigned-pds"), 2);
    // The subnet-level numbers are the sums of the pools'.
    assert_eq!(stat(&s, "subnet[1].reclaimed-leases"), 4);
    assert_eq!(stat(&s, "subnet[1].cumulative-assigned-nas"), 3);
}

#[test]
fn owner_shard_is_the_steering_hash_of_the_last_six_duid_bytes() {
    // The kernel's reuseport program (engine/shard steering.rs) computes the same.
    let d = [0, 1, 0, 1, 0x32, 0x98, 0x36, 0x68, 0, 0x0c, 1, 2, 3, 4];
    let expected = corelease_types::steering_hash(
        u32::from_be_bytes([1, 2, 3, 4]),
        u32::from(u16::from_be_bytes([0, 0x0c])),
    ) % 4;
    assert_eq!(owner_shard(&d, 4) as u32, expected);
    assert!(
        owner_shard(&[1, 2, 3], 4) < 4,
        "short DUIDs still have an owner"
    );
}

#[path = "kea_wire_tests.rs"]
mod kea_wire;

/// Replaces the shard's config through the reload protocol (config-set, config-reload), the
/// switch included.
fn reload(s: &mut V6Shard<MemorySink>, next: &Arc<Prepared6>, now: u64) {
    let mut build =
        V6Shard::reload_empty(Arc::clone(next), SERVER_DUID, 0, 1, MemorySink::default());
    let keys = s.reload_begin();
    build.load(s.reload_copy(&keys), now);
    let dirty = s.reload_take_dirty();
    build.forget(&dirty);
    build.load(dirty.iter().filter_map(|&k| s.reload_current(k)), now);
    s.reload_carry_offers(&mut build, now);
    let (next, conflicts) = s.reload_finish(build, MemorySink::default());
    assert_eq!(conflicts, 0);
    *s = next;
}

#[test]
fn an_address_advertised_before_a_reload_is_not_advertised_to_another_client_after_it() {
    // One address: client 1's Advertise holds it across the reload, so client 2 is told
    // NoAddrsAvail and client 1's Request gets it (without the carry-over the reload forgot
    // the advertisement and gave the address to client 2 as well).
    let one = || {
        prepared(
            r#"{ "Dhcp6": { "interfaces-config": { "interfaces": [ "eth0" ] },
            "preferred-lifetime": 3000, "valid-lifetime": 4000,
            "subnet6": [ { "id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
                "pools": [ { "pool": "2001:db8:1::100 - 2001:db8:1::100" } ] } ] } }"#,
        )
    };
    let mut s = shard(&one());
    let solicit = |c| client_msg(d6::MessageType::Solicit, c, vec![iana(1, &[])]);
    let adv = send(&mut s, &solicit(1), NOW).unwrap_or_else(|| panic!("no Advertise"));
    let addr = addrs_of(&ianas(&adv)[0].opts)[0].0;
    assert_eq!(addr, a("2001:db8:1::100"));
    reload(&mut s, &one(), NOW + 1);
    let other = send(&mut s, &solicit(2), NOW + 1).unwrap_or_else(|| panic!("no Advertise"));
    assert!(addrs_of(&ianas(&other)[0].opts).is_empty(), "{other:?}");
    assert_eq!(
        status_of(&ianas(&other)[0].opts),
        Some(d6::Status::NoAddrsAvail)
    );
    let req = client_msg(
        d6::MessageType::Request,
        1,
        vec![server_id(), iana(1, &[(addr, 0, 0)])],
    );
    let rep = send(&mut s, &req, NOW + 2).unwrap_or_else(|| panic!("no Reply"));
    assert_eq!(addrs_of(&ianas(&rep)[0].opts)[0].0, addr);
    assert_eq!(stat(&s, "subnet[1].assigned-nas"), 1);
}
