//! The hardware address stored with a DHCPv6 lease (ARM 10.11 `mac-sources`): each source,
//! the configured order, what a Renew and a Decline do to it (Kea's extendLease6 and
//! Lease6::decline), and hw-address reservations found through it. The expected values are
//! what kea-dhcp6 2.2 stored for the same datagrams (fuzz/kea-compare/cases6-mac.py).

use super::*;
use corelease_storage::MemorySink;
use corelease_types::hwaddr_source as src;
use std::path::Path;

const NOW: u64 = 1_700_000_000;
const SERVER_DUID: &[u8] = &[0, 2, 0, 0, 0x09, 0xbf, 0xaa, 0xbb, 0xcc, 0xdd];
/// A modified EUI-64 link-local address of MAC 00:11:22:33:44:01 (u bit set).
const EUI64: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x0211, 0x22ff, 0xfe33, 0x4401);
const PLAIN: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x99);
const RELAY: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);
const LINK: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
/// DUID-LLT, hardware type 1, MAC 02:00:00:00:00:01.
const LLT: &[u8] = &[0, 1, 0, 1, 0x12, 0x34, 0x56, 0x78, 2, 0, 0, 0, 0, 1];
/// DUID-EN: no hardware address in it.
const EN: &[u8] = &[0, 2, 0, 0, 9, 0xbf, 1, 2, 3];

fn config(extra: &str) -> String {
    format!(
        r#"{{ "Dhcp6": {{ {extra}
        "preferred-lifetime": 3000, "valid-lifetime": 4000, "decline-probation-period": 600,
        "subnet6": [ {{ "id": 1, "subnet": "2001:db8:1::/64", "interface": "eth0",
            "pools": [ {{ "pool": "2001:db8:1::100 - 2001:db8:1::1ff" }} ],
            "reservations": [ {{ "hw-address": "00:11:22:33:44:01",
                                 "ip-addresses": [ "2001:db8:1::77" ] }} ] }} ] }} }}"#
    )
}

fn shard(extra: &str) -> V6Shard<MemorySink> {
    let loaded = corelease_config::parse_dhcp6_str(&config(extra), Path::new("."))
        .unwrap_or_else(|e| panic!("test config rejected: {e}"));
    let ifaces = vec![Interface6Info {
        ifindex: 7,
        name: "eth0".into(),
        hwtype: 1,
    }];
    let p = Arc::new(Prepared6::new(&loaded.config, ifaces));
    V6Shard::new(p, SERVER_DUID, 0, 1, MemorySink::default())
}

fn o(code: u16, data: &[u8]) -> Vec<u8> {
    let mut v = code.to_be_bytes().to_vec();
    v.extend_from_slice(&(data.len() as u16).to_be_bytes());
    v.extend_from_slice(data);
    v
}

fn ia_na(addr: Option<Ipv6Addr>) -> Vec<u8> {
    let mut body = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    if let Some(a) = addr {
        let mut ia_addr = a.octets().to_vec();
        ia_addr.extend_from_slice(&[0; 8]);
        body.extend(o(5, &ia_addr));
    }
    o(3, &body)
}

/// A client message: type, client-id, (server-id unless a Solicit), elapsed time, one IA_NA,
/// then `extra` options.
fn msg(kind: u8, duid: &[u8], addr: Option<Ipv6Addr>, extra: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, kind];
    m.extend(o(1, duid));
    if kind != 1 {
        m.extend(o(2, SERVER_DUID));
    }
    m.extend(o(8, &[0, 0]));
    m.extend(ia_na(addr));
    m.extend_from_slice(extra);
    m
}

fn relay(inner: &[u8], peer: Ipv6Addr, opts: &[u8]) -> Vec<u8> {
    let mut v = vec![12, 0];
    v.extend_from_slice(&LINK.octets());
    v.extend_from_slice(&peer.octets());
    v.extend_from_slice(opts);
    v.extend(o(9, inner));
    v
}

/// How a client reaches the server: directly from `src`, or through one relay.
#[derive(Clone, Copy)]
enum Via<'a> {
    Direct(Ipv6Addr),
    Relay(Ipv6Addr, &'a [u8]),
}

fn send(s: &mut V6Shard<MemorySink>, via: Via<'_>, m: &[u8]) -> Vec<u8> {
    let (meta, bytes) = match via {
        Via::Direct(from) => (
            Meta6 {
                src: SocketAddrV6::new(from, 546, 0, 7),
                dst: corelease_wire::v6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
                ifindex: 7,
            },
            m.to_vec(),
        ),
        Via::Relay(peer, opts) => (
            Meta6 {
                src: SocketAddrV6::new(RELAY, 547, 0, 0),
                dst: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
                ifindex: 7,
            },
            relay(m, peer, opts),
        ),
    };
    let mut out = [0u8; 1500];
    let r = s
        .handle(&meta, &bytes, NOW, &mut out)
        .unwrap_or_else(|| panic!("no reply"));
    let mut reply = out[..r.len].to_vec();
    while reply.first() == Some(&13) {
        reply = Options6::new(&reply[34..], 34)
            .find(9)
            .unwrap_or_default()
            .to_vec();
    }
    reply
}

/// The first address of the reply's IA_NA.
fn address_in(reply: &[u8]) -> Ipv6Addr {
    let ia = Options6::new(&reply[4..], 4)
        .find(3)
        .unwrap_or_else(|| panic!("no IA_NA"));
    let a = Options6::new(&ia[12..], 16)
        .find(5)
        .unwrap_or_else(|| panic!("no address"));
    Ipv6Addr::from(<[u8; 16]>::try_from(&a[..16]).unwrap_or([0; 16]))
}

/// Solicit then Request; returns the address and the lease the Request logged.
fn lease(s: &mut V6Shard<MemorySink>, via: Via<'_>, duid: &[u8]) -> (Ipv6Addr, Lease) {
    let addr = address_in(&send(s, via, &msg(1, duid, None, &[])));
    address_in(&send(s, via, &msg(3, duid, Some(addr), &[])));
    let logged = s.sink_mut().records.last().cloned();
    let logged = logged.unwrap_or_else(|| panic!("nothing logged"));
    assert_eq!(logged.addr, IpAddr::V6(addr));
    (addr, logged)
}

fn hw(l: &Lease) -> Option<(String, u8, u32)> {
    l.hwaddr.map(|h| (h.to_string(), h.htype(), h.source()))
}

fn want(mac: &str, htype: u8, source: u32) -> Option<(String, u8, u32)> {
    Some((mac.to_string(), htype, source))
}

fn opt79(last: u8) -> Vec<u8> {
    o(79, &[0, 1, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, last])
}

fn remote_id() -> Vec<u8> {
    o(37, &[0, 0, 0x11, 0x8b, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x37])
}

fn cable_labs(code: u16, data: &[u8]) -> Vec<u8> {
    let mut v = 4491u32.to_be_bytes().to_vec();
    v.extend(o(code, data));
    o(17, &v)
}

#[test]
fn any_stores_the_relay_option_address_before_the_duid_and_duid_alone_the_duid() {
    let opts = [opt79(0x79), remote_id()].concat();
    let mut s = shard("");
    let (_, l) = lease(&mut s, Via::Relay(EUI64, &opts), LLT);
    assert_eq!(
        hw(&l),
        want("0a:0b:0c:0d:0e:79", 1, src::CLIENT_ADDR_RELAY_OPTION)
    );
    let mut s = shard(r#""mac-sources": ["duid"],"#);
    let (_, l) = lease(&mut s, Via::Relay(EUI64, &opts), LLT);
    assert_eq!(hw(&l), want("02:00:00:00:00:01", 1, src::DUID));
    // M1 with remote-id first (Kea stored the remote-id).
    let mut s = shard(r#""mac-sources": ["remote-id", "duid"],"#);
    let (_, l) = lease(&mut s, Via::Relay(EUI64, &opts), LLT);
    assert_eq!(hw(&l), want("0a:0b:0c:0d:0e:37", 1, src::REMOTE_ID));
}

#[test]
fn a_direct_client_from_an_eui64_link_local_address_gets_that_mac() {
    let mut s = shard("");
    let (_, l) = lease(&mut s, Via::Direct(EUI64), EN);
    assert_eq!(hw(&l), want("00:11:22:33:44:01", 1, src::IPV6_LINK_LOCAL));
    // Neither a DUID-EN nor a non-EUI-64 source address has one (Kea M8): none stored.
    let (_, l) = lease(&mut s, Via::Direct(PLAIN), &[0, 2, 0, 0, 9, 0xbf, 9]);
    assert_eq!(hw(&l), None);
    // A source list without ipv6-link-local does not look at the address.
    let mut s = shard(r#""mac-sources": ["duid", "client-link-addr-option"],"#);
    let (_, l) = lease(&mut s, Via::Direct(EUI64), EN);
    assert_eq!(hw(&l), None);
}

#[test]
fn docsis_sources_come_after_remote_id_unless_configured_first() {
    let cmts = cable_labs(1026, &[0x0a, 0x0b, 0x0c, 0x0d, 0x10, 0x26]);
    let modem = cable_labs(36, &[0x0a, 0x0b, 0x0c, 0x0d, 0x00, 0x36]);
    let relay_opts = [remote_id(), cmts.clone()].concat();
    let mut s = shard("");
    let (_, l) = lease(&mut s, Via::Relay(PLAIN, &relay_opts), EN);
    assert_eq!(hw(&l), want("0a:0b:0c:0d:0e:37", 1, src::REMOTE_ID));
    let mut s = shard("");
    let (_, l) = lease(&mut s, Via::Relay(PLAIN, &cmts), EN);
    assert_eq!(hw(&l), want("0a:0b:0c:0d:10:26", 1, src::DOCSIS_CMTS));
    // The modem's own option, inside the client message.
    let mut s = shard(r#""mac-sources": ["docsis-modem", "remote-id"],"#);
    let addr = address_in(&send(
        &mut s,
        Via::Relay(PLAIN, &relay_opts),
        &msg(1, EN, None, &modem),
    ));
    let req = msg(3, EN, Some(addr), &modem);
    address_in(&send(&mut s, Via::Relay(PLAIN, &relay_opts), &req));
    let l = s
        .sink_mut()
        .records
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("no lease"));
    assert_eq!(hw(&l), want("0a:0b:0c:0d:00:36", 1, src::DOCSIS_MODEM));
}

#[test]
fn renew_replaces_the_hardware_address_or_clears_it_and_decline_drops_it() {
    let mut s = shard("");
    let first = opt79(0x79);
    let (addr, l) = lease(&mut s, Via::Relay(PLAIN, &first), EN);
    assert_eq!(
        hw(&l),
        want("0a:0b:0c:0d:0e:79", 1, src::CLIENT_ADDR_RELAY_OPTION)
    );
    // Kea R1: a Renew relayed with another option 79 stores that one ...
    let other = opt79(0x80);
    send(
        &mut s,
        Via::Relay(PLAIN, &other),
        &msg(5, EN, Some(addr), &[]),
    );
    let l = s
        .sink_mut()
        .records
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("no renew"));
    assert_eq!(
        hw(&l),
        want("0a:0b:0c:0d:0e:80", 1, src::CLIENT_ADDR_RELAY_OPTION)
    );
    assert_eq!(
        s.table()
            .get((u128::from(addr), false))
            .and_then(|e| e.lease.hwaddr),
        l.hwaddr
    );
    // ... and one relayed without any clears it.
    send(&mut s, Via::Relay(PLAIN, &[]), &msg(5, EN, Some(addr), &[]));
    let l = s
        .sink_mut()
        .records
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("no renew"));
    assert_eq!(hw(&l), None);
    // Lease6::decline drops the hardware address with the DUID.
    let mut s = shard("");
    let (addr, _) = lease(&mut s, Via::Direct(EUI64), LLT);
    send(&mut s, Via::Direct(EUI64), &msg(9, LLT, Some(addr), &[]));
    let l = s
        .sink_mut()
        .records
        .last()
        .cloned()
        .unwrap_or_else(|| panic!("no decline"));
    assert_eq!((l.state, hw(&l)), (LeaseState::Declined, None));
}

#[test]
fn a_hw_address_reservation_matches_the_address_mac_sources_found() {
    // The reservation's MAC is in the client's EUI-64 link-local address only.
    let mut s = shard("");
    let (addr, _) = lease(&mut s, Via::Direct(EUI64), EN);
    assert_eq!(addr, Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x77));
    // Without ipv6-link-local among the sources the client is not known by its MAC.
    let mut s = shard(r#""mac-sources": ["duid"],"#);
    let (addr, _) = lease(&mut s, Via::Direct(EUI64), EN);
    assert_ne!(addr, Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x77));
}
