//! In-memory tests of client classification (ARM 16) and host reservations (ARM 9.3) in the
//! DHCPv4 engine. Requests are built and replies decoded with dhcproto (the oracle).

use super::*;
use corelease_storage::MemorySink;
use dhcproto::v4::{self as d4, DhcpOption, Message, OptionCode, UnknownOption};
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

fn shard(p: &Arc<Prepared4>) -> V4Shard<MemorySink> {
    V4Shard::new(Arc::clone(p), 0, 1, MemorySink::default())
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

fn msg(kind: d4::MessageType, m: [u8; 6]) -> Message {
    let mut msg = Message::default();
    msg.set_opcode(d4::Opcode::BootRequest);
    msg.set_xid(0x4321_0000 | u32::from(m[5]));
    msg.set_chaddr(&m);
    msg.set_giaddr(SERVER);
    msg.opts_mut().insert(DhcpOption::MessageType(kind));
    msg.opts_mut().insert(DhcpOption::ParameterRequestList(vec![
        OptionCode::SubnetMask,
        OptionCode::Router,
        OptionCode::DomainNameServer,
        OptionCode::NtpServers,
        OptionCode::Hostname,
    ]));
    msg
}

fn with(mut m: Message, o: DhcpOption) -> Message {
    m.opts_mut().insert(o);
    m
}

fn vendor(v: &str) -> DhcpOption {
    DhcpOption::ClassIdentifier(v.as_bytes().to_vec())
}

fn send(s: &mut V4Shard<MemorySink>, m: &Message, now: u64) -> Option<Message> {
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

fn dns(m: &Message) -> Option<Vec<Ipv4Addr>> {
    match m.opts().get(OptionCode::DomainNameServer) {
        Some(DhcpOption::DomainNameServer(v)) => Some(v.clone()),
        _ => None,
    }
}

fn routers(m: &Message) -> Option<Vec<Ipv4Addr>> {
    match m.opts().get(OptionCode::Router) {
        Some(DhcpOption::Router(v)) => Some(v.clone()),
        _ => None,
    }
}

fn lease_time(m: &Message) -> Option<u32> {
    match m.opts().get(OptionCode::AddressLeaseTime) {
        Some(DhcpOption::AddressLeaseTime(t)) => Some(*t),
        _ => None,
    }
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("test address")
}

/// DISCOVER (with `extra` options) then REQUEST of the offered address; returns the ACK.
fn dora(s: &mut V4Shard<MemorySink>, m: [u8; 6], extra: &[DhcpOption], now: u64) -> Message {
    let mut d = msg(d4::MessageType::Discover, m);
    for o in extra {
        d = with(d, o.clone());
    }
    let offer = send(s, &d, now).expect("offer");
    assert_eq!(kind(&offer), Some(d4::MessageType::Offer));
    let mut r = msg(d4::MessageType::Request, m);
    for o in extra {
        r = with(r, o.clone());
    }
    r = with(r, DhcpOption::RequestedIpAddress(offer.yiaddr()));
    r = with(r, DhcpOption::ServerIdentifier(SERVER));
    let ack = send(s, &r, now).expect("ack");
    assert_eq!(kind(&ack), Some(d4::MessageType::Ack));
    assert_eq!(ack.yiaddr(), offer.yiaddr());
    ack
}

/// A renewal (RENEWING: ciaddr set, no server id, no requested address).
fn renew(s: &mut V4Shard<MemorySink>, m: [u8; 6], addr: Ipv4Addr, now: u64) -> Message {
    renew_with(s, m, addr, &[], now)
}

fn renew_with(
    s: &mut V4Shard<MemorySink>,
    m: [u8; 6],
    addr: Ipv4Addr,
    extra: &[DhcpOption],
    now: u64,
) -> Message {
    let mut r = msg(d4::MessageType::Request, m);
    r.set_ciaddr(addr);
    for o in extra {
        r = with(r, o.clone());
    }
    send(s, &r, now).expect("reply to renewal")
}

/// The file field up to its first NUL.
fn file(m: &Message) -> Option<&[u8]> {
    m.fname().and_then(|f| f.split(|&b| b == 0).next())
}

fn stat(s: &V4Shard<MemorySink>, name: &str) -> i64 {
    kea_statistics(s.prepared(), &[s.stats()])
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no statistic {name}"))
}

const CLASSES: &str = r#"{ "Dhcp4": {
    "valid-lifetime": 4000,
    "option-data": [ { "name": "domain-name-servers", "data": "10.9.9.9" },
                     { "name": "ntp-servers", "data": "10.9.9.123" } ],
    "client-classes": [
        { "name": "pxe", "test": "option[vendor-class-identifier].text == 'PXEClient'",
          "option-data": [ { "name": "domain-name-servers", "data": "10.1.1.1" },
                           { "name": "routers", "data": "10.1.1.254" } ],
          "next-server": "10.1.1.5", "boot-file-name": "pxelinux.0", "valid-lifetime": 600 },
        { "name": "VENDOR_CLASS_docsis3.0",
          "option-data": [ { "name": "ntp-servers", "data": "10.3.3.3" } ] },
        { "name": "DROP", "test": "option[vendor-class-identifier].text == 'evil'" }
    ],
    "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "pools": [ { "pool": "10.0.0.10 - 10.0.0.50" } ],
        "option-data": [ { "name": "routers", "data": "10.0.0.1" } ] } ]
} }"#;

#[test]
fn class_options_override_globals_but_not_subnet_options() {
    let p = config(CLASSES);
    let mut s = shard(&p);
    let plain = dora(&mut s, mac(1), &[], NOW);
    assert_eq!(dns(&plain), Some(vec![ip("10.9.9.9")]));
    assert_eq!(routers(&plain), Some(vec![ip("10.0.0.1")]));
    let pxe = dora(&mut s, mac(2), &[vendor("PXEClient")], NOW);
    // ARM 16.1.1 step 13: class options beat globals, subnet options beat class options.
    assert_eq!(dns(&pxe), Some(vec![ip("10.1.1.1")]));
    assert_eq!(routers(&pxe), Some(vec![ip("10.0.0.1")]));
}

#[test]
fn class_fields_and_lifetime_apply_to_members_only() {
    let p = config(CLASSES);
    let mut s = shard(&p);
    let plain = dora(&mut s, mac(1), &[], NOW);
    assert_eq!(plain.siaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(lease_time(&plain), Some(4000));
    let pxe = dora(&mut s, mac(2), &[vendor("PXEClient")], NOW);
    assert_eq!(pxe.siaddr(), ip("10.1.1.5"));
    assert_eq!(file(&pxe), Some(&b"pxelinux.0"[..]));
    assert_eq!(lease_time(&pxe), Some(600));
    let lease = s.table().get(u32::from(pxe.yiaddr())).expect("lease");
    assert_eq!(lease.lease.valid_lifetime, 600);
}

#[test]
fn vendor_class_builtin_gets_its_options() {
    let p = config(CLASSES);
    let mut s = shard(&p);
    let modem = dora(&mut s, mac(3), &[vendor("docsis3.0")], NOW);
    assert_eq!(
        modem.opts().get(OptionCode::NtpServers),
        Some(&DhcpOption::NtpServers(vec![ip("10.3.3.3")]))
    );
    let other = dora(&mut s, mac(4), &[vendor("docsis2.0")], NOW);
    assert_eq!(
        other.opts().get(OptionCode::NtpServers),
        Some(&DhcpOption::NtpServers(vec![ip("10.9.9.123")]))
    );
}

#[test]
fn drop_class_drops_the_packet_and_counts_it() {
    let p = config(CLASSES);
    let mut s = shard(&p);
    let d = with(msg(d4::MessageType::Discover, mac(5)), vendor("evil"));
    assert!(send(&mut s, &d, NOW).is_none());
    assert_eq!(stat(&s, "pkt4-receive-drop"), 1);
    assert_eq!(stat(&s, "pkt4-offer-sent"), 0);
    assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(6)), NOW).is_some());
}

const GUARDS: &str = r#"{ "Dhcp4": {
    "client-classes": [
        { "name": "phones", "test": "substring(option[60].hex, 0, 5) == 'phone'" },
        { "name": "laptops", "test": "option[60].text == 'laptop'" }
    ],
    "shared-networks": [ { "name": "lan", "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "subnet4": [
            { "id": 1, "subnet": "10.0.0.0/24", "client-classes": [ "laptops" ],
              "pools": [ { "pool": "10.0.0.10 - 10.0.0.19" } ] },
            { "id": 2, "subnet": "10.0.1.0/24",
              "pools": [ { "pool": "10.0.1.10 - 10.0.1.10", "client-classes": [ "phones" ] },
                         { "pool": "10.0.1.20 - 10.0.1.29", "client-class": "laptops" } ] }
        ] } ]
} }"#;

#[test]
fn class_guards_steer_subnets_and_pools() {
    let p = config(GUARDS);
    let mut s = shard(&p);
    let laptop = dora(&mut s, mac(1), &[vendor("laptop")], NOW);
    assert!(
        (10..=19).contains(&laptop.yiaddr().octets()[3]) && laptop.yiaddr().octets()[2] == 0,
        "{}",
        laptop.yiaddr()
    );
    let phone = dora(&mut s, mac(2), &[vendor("phone-x")], NOW);
    assert_eq!(phone.yiaddr(), ip("10.0.1.10"));
    // The phone pool is exhausted; a second phone may not use the laptop pool or subnet.
    let d = with(msg(d4::MessageType::Discover, mac(3)), vendor("phone-y"));
    assert!(send(&mut s, &d, NOW).is_none());
    assert_eq!(stat(&s, "v4-allocation-fail"), 1);
    // A client in no class has nowhere to go: both pools of subnet 2 and subnet 1 are guarded.
    assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(4)), NOW).is_none());
    // A requested address in a pool the client may not use is not given.
    let mut d = msg(d4::MessageType::Discover, mac(5));
    d = with(d, DhcpOption::RequestedIpAddress(ip("10.0.1.25")));
    d = with(d, vendor("phone-z"));
    assert!(send(&mut s, &d, NOW).is_none());
}

#[test]
fn additional_classes_are_evaluated_only_where_listed() {
    let p = config(
        r#"{ "Dhcp4": {
        "option-data": [ { "name": "domain-name-servers", "data": "10.9.9.9" } ],
        "client-classes": [
            { "name": "late", "test": "option[60].text == 'x'", "only-in-additional-list": true,
              "option-data": [ { "name": "domain-name-servers", "data": "10.2.2.2" } ] },
            { "name": "always", "only-if-required": true,
              "option-data": [ { "name": "ntp-servers", "data": "10.4.4.4" } ] }
        ],
        "subnet4": [
            { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
              "pools": [ { "pool": "10.0.0.10 - 10.0.0.19", "evaluate-additional-classes": [ "late" ] } ],
              "require-client-classes": [ "always" ] } ]
    } }"#,
    );
    let mut s = shard(&p);
    let x = dora(&mut s, mac(1), &[vendor("x")], NOW);
    assert_eq!(dns(&x), Some(vec![ip("10.2.2.2")]));
    // A listed class without a test is assigned unconditionally (ARM 16.4.1).
    assert_eq!(
        x.opts().get(OptionCode::NtpServers),
        Some(&DhcpOption::NtpServers(vec![ip("10.4.4.4")]))
    );
    let y = dora(&mut s, mac(2), &[vendor("y")], NOW);
    assert_eq!(dns(&y), Some(vec![ip("10.9.9.9")]));
}

const HOSTS: &str = r#"{ "Dhcp4": {
    "valid-lifetime": 4000,
    "client-classes": [
        { "name": "gold", "option-data": [ { "name": "ntp-servers", "data": "10.7.7.7" } ] },
        { "name": "known-only", "test": "member('KNOWN')",
          "option-data": [ { "name": "domain-name-servers", "data": "10.8.8.8" } ] }
    ],
    "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "pools": [ { "pool": "10.0.0.10 - 10.0.0.12" } ],
        "reservations": [
            { "hw-address": "02:00:00:00:00:01", "ip-address": "10.0.0.10", "hostname": "alice",
              "option-data": [ { "name": "routers", "data": "10.0.0.254" } ],
              "next-server": "10.0.0.2", "boot-file-name": "alice.cfg",
              "client-classes": [ "gold" ] },
            { "client-id": "01:02:00:00:00:00:02", "ip-address": "10.0.0.200" },
            { "circuit-id": "'port7'", "ip-address": "10.0.0.201" },
            { "duid": "00:03:00:01:aa:bb:cc:dd:ee:ff", "ip-address": "10.0.0.202" },
            { "hw-address": "02:00:00:00:00:05" }
        ] } ]
} }"#;

#[test]
fn reserved_host_gets_address_hostname_options_fields_and_classes() {
    let p = config(HOSTS);
    let mut s = shard(&p);
    let ack = dora(&mut s, mac(1), &[], NOW);
    assert_eq!(ack.yiaddr(), ip("10.0.0.10"));
    assert_eq!(
        ack.opts().get(OptionCode::Hostname),
        Some(&DhcpOption::Hostname("alice".into()))
    );
    assert_eq!(routers(&ack), Some(vec![ip("10.0.0.254")]));
    assert_eq!(ack.siaddr(), ip("10.0.0.2"));
    assert_eq!(file(&ack), Some(&b"alice.cfg"[..]));
    // Host class "gold" and the KNOWN-dependent class.
    assert_eq!(
        ack.opts().get(OptionCode::NtpServers),
        Some(&DhcpOption::NtpServers(vec![ip("10.7.7.7")]))
    );
    assert_eq!(dns(&ack), Some(vec![ip("10.8.8.8")]));
    let lease = s.table().get(u32::from(ip("10.0.0.10"))).expect("lease");
    assert_eq!(lease.lease.hostname.as_deref(), Some("alice"));
    // Renewal keeps it.
    let r = renew(&mut s, mac(1), ip("10.0.0.10"), NOW + 10);
    assert_eq!(kind(&r), Some(d4::MessageType::Ack));
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 1);
}

#[test]
fn unknown_client_gets_no_host_data_and_no_known_class() {
    let p = config(HOSTS);
    let mut s = shard(&p);
    let ack = dora(&mut s, mac(9), &[], NOW);
    assert!(ack.opts().get(OptionCode::Hostname).is_none());
    assert_eq!(dns(&ack), None);
    assert_eq!(ack.siaddr(), Ipv4Addr::UNSPECIFIED);
    // A host without an address is KNOWN and gets a dynamic one.
    let known = dora(&mut s, mac(5), &[], NOW);
    assert_eq!(dns(&known), Some(vec![ip("10.8.8.8")]));
}

#[test]
fn reserved_address_is_never_handed_to_another_client() {
    let p = config(HOSTS);
    let mut s = shard(&p);
    // Pool .10-.12 with .10 reserved: two dynamic clients get .11 and .12, a third nothing.
    let a = dora(&mut s, mac(20), &[], NOW).yiaddr();
    let b = dora(&mut s, mac(21), &[], NOW).yiaddr();
    let mut got = [a, b];
    got.sort();
    assert_eq!(got, [ip("10.0.0.11"), ip("10.0.0.12")]);
    assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(22)), NOW).is_none());
    // Asking for it by option 50 does not help either.
    let d = with(
        msg(d4::MessageType::Discover, mac(23)),
        DhcpOption::RequestedIpAddress(ip("10.0.0.10")),
    );
    assert!(send(&mut s, &d, NOW).is_none());
    let mut r = msg(d4::MessageType::Request, mac(23));
    r = with(r, DhcpOption::RequestedIpAddress(ip("10.0.0.10")));
    r = with(r, DhcpOption::ServerIdentifier(SERVER));
    assert_eq!(
        kind(&send(&mut s, &r, NOW).expect("nak")),
        Some(d4::MessageType::Nak)
    );
    // The host still gets it.
    assert_eq!(dora(&mut s, mac(1), &[], NOW).yiaddr(), ip("10.0.0.10"));
}

#[test]
fn reservations_by_client_id_circuit_id_and_duid() {
    let p = config(HOSTS);
    let mut s = shard(&p);
    let cid = DhcpOption::ClientIdentifier(vec![1, 2, 0, 0, 0, 0, 2]);
    assert_eq!(
        dora(&mut s, mac(30), std::slice::from_ref(&cid), NOW).yiaddr(),
        ip("10.0.0.200")
    );
    let rai = DhcpOption::Unknown(UnknownOption::new(
        OptionCode::from(82),
        vec![1, 5, b'p', b'o', b'r', b't', b'7'],
    ));
    assert_eq!(
        dora(&mut s, mac(31), &[rai], NOW).yiaddr(),
        ip("10.0.0.201")
    );
    // RFC 4361: type 255, IAID, DUID.
    let duid = DhcpOption::ClientIdentifier(vec![
        255, 0, 0, 0, 1, 0, 3, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    ]);
    assert_eq!(
        dora(&mut s, mac(32), &[duid], NOW).yiaddr(),
        ip("10.0.0.202")
    );
    // Out-of-pool reservations renew like any lease.
    let r = renew_with(
        &mut s,
        mac(30),
        ip("10.0.0.200"),
        std::slice::from_ref(&cid),
        NOW + 5,
    );
    assert_eq!(kind(&r), Some(d4::MessageType::Ack));
    // The same client without its client identifier is not the host: refused.
    let r = renew(&mut s, mac(30), ip("10.0.0.200"), NOW + 6);
    assert_eq!(kind(&r), Some(d4::MessageType::Nak));
}

#[test]
fn host_reservation_identifiers_order_decides() {
    let body = |order: &str| {
        format!(
            r#"{{ "Dhcp4": {{ "host-reservation-identifiers": {order},
            "subnet4": [ {{ "id": 1, "subnet": "10.0.0.0/24", "relay": {{ "ip-addresses": [ "127.0.0.1" ] }},
                "pools": [ {{ "pool": "10.0.0.10 - 10.0.0.19" }} ],
                "reservations": [ {{ "hw-address": "02:00:00:00:00:01", "ip-address": "10.0.0.100" }},
                                  {{ "client-id": "01:aa", "ip-address": "10.0.0.101" }} ] }} ] }} }}"#
        )
    };
    let cid = DhcpOption::ClientIdentifier(vec![1, 0xaa]);
    let p = config(&body(r#"["client-id", "hw-address"]"#));
    let mut s = shard(&p);
    assert_eq!(
        dora(&mut s, mac(1), std::slice::from_ref(&cid), NOW).yiaddr(),
        ip("10.0.0.101")
    );
    let p = config(&body(r#"["hw-address", "client-id"]"#));
    let mut s = shard(&p);
    assert_eq!(
        dora(&mut s, mac(1), std::slice::from_ref(&cid), NOW).yiaddr(),
        ip("10.0.0.100")
    );
    // Identifier types not listed are not looked up.
    let p = config(&body(r#"["circuit-id"]"#));
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), &[cid], NOW).yiaddr();
    assert!((10..=19).contains(&a.octets()[3]), "{a}");
}

#[test]
fn known_and_unknown_guard_pools() {
    let p = config(
        r#"{ "Dhcp4": {
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.19", "client-classes": [ "KNOWN" ] },
                       { "pool": "10.0.0.20 - 10.0.0.29", "client-classes": [ "UNKNOWN" ] } ],
            "reservations": [ { "hw-address": "02:00:00:00:00:01", "hostname": "k" } ] } ]
    } }"#,
    );
    let mut s = shard(&p);
    let k = dora(&mut s, mac(1), &[], NOW).yiaddr();
    assert!((10..=19).contains(&k.octets()[3]), "{k}");
    let u = dora(&mut s, mac(2), &[], NOW).yiaddr();
    assert!((20..=29).contains(&u.octets()[3]), "{u}");
}

/// `member()` names are bound to class indexes at load (plain classes, KNOWN, UNKNOWN) or stay
/// by name (ALL, VENDOR_CLASS_*): both must give the classes Kea gives (ARM 16.1.1 order).
#[test]
fn member_tests_see_defined_builtin_vendor_and_host_classes() {
    let p = config(
        r#"{ "Dhcp4": {
        "client-classes": [
            { "name": "VENDOR_CLASS_x" },
            { "name": "KNOWN" },
            { "name": "x", "test": "option[vendor-class-identifier].text == 'x'" },
            { "name": "follows-x", "test": "member('x')" },
            { "name": "vendor-x", "test": "member('VENDOR_CLASS_x') and member('ALL')" },
            { "name": "known-not-x", "test": "member('KNOWN') and not member('follows-x')" },
            { "name": "unknown", "test": "member('UNKNOWN')" },
            { "name": "gold" },
            { "name": "host-gold", "test": "member('gold') and member('KNOWN')" }
        ],
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.50" } ],
            "reservations": [ { "hw-address": "02:00:00:00:00:01", "client-classes": [ "gold" ] },
                              { "hw-address": "02:00:00:00:00:02" } ] } ]
    } }"#,
    );
    let mut s = shard(&p);
    let mut classes_of = |m: [u8; 6], vendor_class: Option<&str>| {
        let mut req = msg(d4::MessageType::Discover, m);
        if let Some(v) = vendor_class {
            req = with(req, vendor(v));
        }
        let bytes = req.to_vec().expect("dhcproto encodes");
        let r = s.classify(&meta(), &bytes).expect("classified");
        assert!(r.subnet.is_some() && !r.dropped, "{r:?}");
        let mut names: Vec<String> = s
            .cls
            .order()
            .iter()
            .filter_map(|&i| p.classes.def(i))
            .map(|d| d.name.to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        classes_of(mac(1), Some("x")),
        [
            "KNOWN",
            "VENDOR_CLASS_x",
            "follows-x",
            "gold",
            "host-gold",
            "vendor-x",
            "x"
        ]
    );
    assert_eq!(
        classes_of(mac(1), None),
        ["KNOWN", "gold", "host-gold", "known-not-x"]
    );
    assert_eq!(classes_of(mac(2), Some("y")), ["KNOWN", "known-not-x"]);
    assert_eq!(
        classes_of(mac(3), Some("x")),
        ["VENDOR_CLASS_x", "follows-x", "unknown", "vendor-x", "x"]
    );
}

#[test]
fn global_reservations_only_where_the_subnet_allows_them() {
    let body = |global: bool| {
        format!(
            r#"{{ "Dhcp4": {{ "reservations-global": {global},
            "reservations": [ {{ "hw-address": "02:00:00:00:00:01", "ip-address": "10.0.0.150", "hostname": "g" }} ],
            "subnet4": [ {{ "id": 1, "subnet": "10.0.0.0/24", "relay": {{ "ip-addresses": [ "127.0.0.1" ] }},
                "pools": [ {{ "pool": "10.0.0.10 - 10.0.0.19" }} ] }} ] }} }}"#
        )
    };
    let p = config(&body(true));
    let mut s = shard(&p);
    assert_eq!(dora(&mut s, mac(1), &[], NOW).yiaddr(), ip("10.0.0.150"));
    let p = config(&body(false));
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), &[], NOW);
    assert!((10..=19).contains(&a.yiaddr().octets()[3]));
    assert!(a.opts().get(OptionCode::Hostname).is_none());
}

#[test]
fn out_of_pool_mode_leaves_in_pool_reserved_addresses_dynamic() {
    let p = config(
        r#"{ "Dhcp4": { "reservations-out-of-pool": true,
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.10" } ],
            "reservations": [ { "hw-address": "02:00:00:00:00:01", "ip-address": "10.0.0.10" } ] } ]
    } }"#,
    );
    let mut s = shard(&p);
    // ARM 9.3.8: the in-pool reserved address is dynamic, and not given to its host.
    assert_eq!(dora(&mut s, mac(2), &[], NOW).yiaddr(), ip("10.0.0.10"));
}

#[test]
fn several_hosts_may_share_an_address_when_not_unique() {
    let p = config(
        r#"{ "Dhcp4": { "ip-reservations-unique": false,
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.19" } ],
            "reservations": [ { "hw-address": "02:00:00:00:00:01", "ip-address": "10.0.0.100" },
                              { "hw-address": "02:00:00:00:00:02", "ip-address": "10.0.0.100" } ] } ]
    } }"#,
    );
    let mut s = shard(&p);
    assert_eq!(dora(&mut s, mac(1), &[], NOW).yiaddr(), ip("10.0.0.100"));
    // The second host finds it in use and gets a dynamic address meanwhile.
    let b = dora(&mut s, mac(2), &[], NOW).yiaddr();
    assert!((10..=19).contains(&b.octets()[3]), "{b}");
}

#[test]
fn conflict_resolves_at_the_holders_renewal() {
    // ARM 9.3.2: A holds .10; then .10 is reserved for B (a reload).
    let before = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000,
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.19" } ] } ] } }"#,
    );
    let mut s = shard(&before);
    let (a, b) = (mac(1), mac(2));
    assert_eq!(dora(&mut s, a, &[], NOW).yiaddr(), ip("10.0.0.10"));
    let leases: Vec<Lease> = s.table().iter().map(|e| e.lease.clone()).collect();
    let after = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000,
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.19" } ],
            "reservations": [ { "hw-address": "02:00:00:00:00:02", "ip-address": "10.0.0.10" } ] } ] } }"#,
    );
    let mut s = shard(&after);
    assert_eq!(s.load_leases(leases, NOW), 0, "A's lease is kept");
    // B cannot have it yet: a temporary address.
    let temp = dora(&mut s, b, &[], NOW + 1).yiaddr();
    assert_ne!(temp, ip("10.0.0.10"));
    // A renews and is refused, but its lease stays (the NAK may be lost).
    let nak = renew(&mut s, a, ip("10.0.0.10"), NOW + 2);
    assert_eq!(kind(&nak), Some(d4::MessageType::Nak));
    assert!(s.table().get(u32::from(ip("10.0.0.10"))).is_some());
    // B renewing its temporary address meanwhile is fine (the reserved one is still held).
    assert_eq!(
        kind(&renew(&mut s, b, temp, NOW + 3)),
        Some(d4::MessageType::Ack)
    );
    // A starts over and gets another address; its old lease goes.
    let a2 = dora(&mut s, a, &[], NOW + 4).yiaddr();
    assert_ne!(a2, ip("10.0.0.10"));
    // Deleted when A committed a2, in the lease log too (ARM 9.3.2, "the server will also
    // remove the old one").
    assert!(s.table().get(u32::from(ip("10.0.0.10"))).is_none());
    assert!(removed(&mut s, ip("10.0.0.10")));
    // B renews its temporary address: NAK, the reserved one is free now.
    assert_eq!(
        kind(&renew(&mut s, b, temp, NOW + 5)),
        Some(d4::MessageType::Nak)
    );
    assert_eq!(dora(&mut s, b, &[], NOW + 6).yiaddr(), ip("10.0.0.10"));
    // B's temporary lease was given back when it moved, and logged as deleted.
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 2);
    assert!(s.table().get(u32::from(temp)).is_none());
    assert!(removed(&mut s, temp));
}

const CAM_POOL: &str = r#"{ "Dhcp4": { "valid-lifetime": 4000,
    "client-classes": [ { "name": "cam", "test": "option[vendor-class-identifier].text == 'cam'" } ],
    "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "pools": [ { "pool": "10.0.0.10 - 10.0.0.19", "pool-id": 1, "client-classes": [ "cam" ] },
                   { "pool": "10.0.0.50 - 10.0.0.59", "pool-id": 2 } ] } ] } }"#;

/// An INIT-REBOOT REQUEST (requested address, no server id, no ciaddr).
fn init_reboot(s: &mut V4Shard<MemorySink>, m: [u8; 6], addr: Ipv4Addr, now: u64) -> Message {
    let r = with(
        msg(d4::MessageType::Request, m),
        DhcpOption::RequestedIpAddress(addr),
    );
    send(s, &r, now).expect("reply to INIT-REBOOT")
}

fn removed(s: &mut V4Shard<MemorySink>, addr: Ipv4Addr) -> bool {
    s.sink_mut()
        .removals
        .iter()
        .any(|r| r.addr == IpAddr::V4(addr))
}

#[test]
fn renewal_outside_the_pools_class_is_naked_and_the_move_drops_the_old_lease() {
    let p = config(CAM_POOL);
    let mut s = shard(&p);
    let cam = vendor("cam");
    let a = dora(&mut s, mac(1), std::slice::from_ref(&cam), NOW).yiaddr();
    assert_eq!(a, ip("10.0.0.10"));
    let ack = renew_with(&mut s, mac(1), a, std::slice::from_ref(&cam), NOW + 1);
    assert_eq!(kind(&ack), Some(d4::MessageType::Ack));
    // ARM 16.7: the pool's guard holds at renewal too (kea-dhcp4 2.2.0 NAKs both).
    let nak = renew(&mut s, mac(1), a, NOW + 2);
    assert_eq!(kind(&nak), Some(d4::MessageType::Nak));
    let nak = init_reboot(&mut s, mac(1), a, NOW + 3);
    assert_eq!(kind(&nak), Some(d4::MessageType::Nak));
    // The lease stays until the client's next address replaces it (a NAK may be lost).
    assert!(s.table().get(u32::from(a)).is_some());
    assert_eq!(stat(&s, "subnet[1].pool[1].assigned-addresses"), 1);
    // Its DISCOVER is not offered the old address but one of the open pool; the commit of
    // that one deletes the old lease in the same step (ALLOC_ENGINE_V4_REQUEST_REMOVE_LEASE).
    let moved = dora(&mut s, mac(1), &[], NOW + 4).yiaddr();
    assert!((50..=59).contains(&moved.octets()[3]), "{moved}");
    assert!(s.table().get(u32::from(a)).is_none(), "old lease gone");
    assert!(removed(&mut s, a), "the removal is in the lease log");
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 1);
    assert_eq!(stat(&s, "subnet[1].pool[1].assigned-addresses"), 0);
    assert_eq!(stat(&s, "subnet[1].pool[2].assigned-addresses"), 1);
    // The old address is free again at once: a camera asking for it gets it.
    let asks = DhcpOption::RequestedIpAddress(a);
    assert_eq!(dora(&mut s, mac(2), &[cam, asks], NOW + 5).yiaddr(), a);
}

#[test]
fn renewal_in_a_subnet_whose_guard_refuses_the_client_is_naked() {
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000,
        "client-classes": [ { "name": "cam", "test": "option[vendor-class-identifier].text == 'cam'" } ],
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "client-classes": [ "cam" ],
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.19" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let cam = vendor("cam");
    let a = dora(&mut s, mac(1), std::slice::from_ref(&cam), NOW).yiaddr();
    assert_eq!(
        kind(&renew_with(&mut s, mac(1), a, &[cam], NOW + 1)),
        Some(d4::MessageType::Ack)
    );
    // kea-dhcp4 2.2.0: no subnet for the client any more, so its REQUESTs are NAKed
    // (DHCP4_PACKET_NAK_0001) and its DISCOVERs go unanswered, not counted as drops.
    assert_eq!(
        kind(&renew(&mut s, mac(1), a, NOW + 2)),
        Some(d4::MessageType::Nak)
    );
    assert_eq!(
        kind(&init_reboot(&mut s, mac(1), a, NOW + 3)),
        Some(d4::MessageType::Nak)
    );
    let drops = stat(&s, "pkt4-receive-drop");
    assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW + 4).is_none());
    assert_eq!(stat(&s, "pkt4-receive-drop"), drops);
    // A SELECTING REQUEST naming another server is still not answered.
    let r = with(
        with(
            msg(d4::MessageType::Request, mac(1)),
            DhcpOption::RequestedIpAddress(a),
        ),
        DhcpOption::ServerIdentifier(ip("192.0.2.99")),
    );
    assert!(send(&mut s, &r, NOW + 5).is_none());
}

#[test]
fn lease4_add_onto_a_reserved_in_pool_address_keeps_the_reservations_bit() {
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000,
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.19" } ],
            "reservations": [ { "hw-address": "02:00:00:00:00:02", "ip-address": "10.0.0.12" },
                              { "hw-address": "02:00:00:00:00:03", "ip-address": "10.0.0.13" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let lease = |addr: &str, m: [u8; 6]| Lease {
        kind: LeaseKind::V4,
        addr: IpAddr::V4(ip(addr)),
        prefix_len: 32,
        iaid: 0,
        hwaddr: Some(HwAddr::new(1, &m)),
        client_id: None,
        valid_lifetime: 4000,
        preferred_lifetime: 0,
        cltt: NOW,
        subnet_id: SubnetId(1),
        pool_id: PoolId(0),
        state: LeaseState::Default,
        hostname: None,
        fqdn_fwd: false,
        fqdn_rev: false,
        user_context: None,
    };
    // The reserved client's own lease: added, counted, and the host renews it.
    s.command_add_lease(lease("10.0.0.12", mac(2)))
        .expect("lease4-add for the reserved client");
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 1);
    assert_eq!(
        kind(&renew(&mut s, mac(2), ip("10.0.0.12"), NOW + 1)),
        Some(d4::MessageType::Ack)
    );
    // lease4-update of it keeps working too.
    let mut longer = lease("10.0.0.12", mac(2));
    longer.valid_lifetime = 8000;
    assert_eq!(
        s.command_update_lease(longer, false),
        Ok(LeaseUpdated::Updated)
    );
    // Another client's lease on a reserved address: kea-dhcp4 2.2.0 adds it as well; it is
    // a conflict ARM 9.3.2 resolves at that client's renewal.
    s.command_add_lease(lease("10.0.0.13", mac(9)))
        .expect("lease4-add for another client, as Kea 2.2");
    assert_eq!(stat(&s, "subnet[1].assigned-addresses"), 2);
    assert_eq!(
        kind(&renew(&mut s, mac(9), ip("10.0.0.13"), NOW + 2)),
        Some(d4::MessageType::Nak)
    );
    let temp = dora(&mut s, mac(3), &[], NOW + 3).yiaddr();
    assert_ne!(
        temp,
        ip("10.0.0.13"),
        "held by the conflicting lease meanwhile"
    );
    // The pool's other addresses are untouched by all this: 8 dynamic ones are left.
    let mut got = std::collections::BTreeSet::new();
    for n in 20..40 {
        let d = msg(d4::MessageType::Discover, mac(n));
        match send(&mut s, &d, NOW + 4) {
            Some(o) => {
                got.insert(o.yiaddr());
            }
            None => break,
        }
    }
    assert!(!got.contains(&ip("10.0.0.12")) && !got.contains(&ip("10.0.0.13")));
    assert_eq!(got.len(), 7, "{got:?}");
}

#[test]
fn flex_id_reservations_match_the_evaluated_identifier_expression() {
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000,
        "host-reservation-identifiers": [ "flex-id", "hw-address" ],
        "hooks-libraries": [ { "library": "/usr/lib/kea/hooks/libdhcp_flex_id.so",
            "parameters": { "identifier-expression": "substring(option[vendor-class-identifier].text, 0, 4)" } } ],
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.19" } ],
            "reservations": [
                { "flex-id": "'cam1'", "ip-address": "10.0.0.30", "hostname": "flex-cam" },
                { "flex-id": "63:61:6d:32", "ip-address": "10.0.0.31" },
                { "hw-address": "02:00:00:00:00:04", "ip-address": "10.0.0.32" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    // ARM 17.9: the expression's value is the identifier ("cam1-north" -> "cam1"), in the
    // quoted or the hex form of the reservation.
    let ack = dora(&mut s, mac(1), &[vendor("cam1-north")], NOW);
    assert_eq!(ack.yiaddr(), ip("10.0.0.30"));
    assert!(matches!(
        ack.opts().get(OptionCode::Hostname),
        Some(DhcpOption::Hostname(h)) if h == "flex-cam"
    ));
    assert_eq!(
        dora(&mut s, mac(2), &[vendor("cam2")], NOW).yiaddr(),
        ip("10.0.0.31")
    );
    // No option 60: the expression is "", which identifies nobody; an unreserved value
    // neither. Both get dynamic addresses.
    let plain = dora(&mut s, mac(3), &[], NOW).yiaddr();
    assert!((10..=19).contains(&plain.octets()[3]), "{plain}");
    let other = dora(&mut s, mac(5), &[vendor("cam9")], NOW).yiaddr();
    assert!((10..=19).contains(&other.octets()[3]), "{other}");
    // flex-id first, then hw-address: a hw-address host without a flex-id match still counts.
    assert_eq!(
        dora(&mut s, mac(4), &[vendor("none")], NOW).yiaddr(),
        ip("10.0.0.32")
    );
    // The same host table without the library: flex-id reservations never match (as Kea
    // without libdhcp_flex_id.so).
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000,
        "host-reservation-identifiers": [ "flex-id", "hw-address" ],
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.19" } ],
            "reservations": [ { "flex-id": "'cam1'", "ip-address": "10.0.0.30" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let a = dora(&mut s, mac(1), &[vendor("cam1-north")], NOW).yiaddr();
    assert_ne!(a, ip("10.0.0.30"));
}

#[test]
fn template_classes_spawn_their_classes_in_config_order() {
    // ARM 16.4.1: "Client-ID" spawns SPAWN_Client-ID_<first 3 bytes of option 61>; the packet
    // is in the spawned class and in the template. A defined class of a spawned name is
    // associated that way (its options win over the template's); a spawned name used only by
    // a pool guard works too.
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000,
        "client-classes": [
            { "name": "Client-ID", "template-test": "substring(option[61].hex, 0, 3)",
              "option-data": [ { "name": "domain-name-servers", "data": "10.7.7.7" },
                               { "name": "ntp-servers", "data": "10.7.7.123" } ] },
            { "name": "SPAWN_Client-ID_foo",
              "option-data": [ { "name": "domain-name-servers", "data": "10.8.8.8" } ] },
            { "name": "after", "test": "member('Client-ID') and not member('SPAWN_Client-ID_foo')",
              "next-server": "10.9.9.1" }
        ],
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.19", "client-classes": [ "SPAWN_Client-ID_bar" ] },
                       { "pool": "10.0.0.20 - 10.0.0.29" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let cid = |v: &[u8]| DhcpOption::ClientIdentifier(v.to_vec());
    let ntp = |m: &Message| match m.opts().get(OptionCode::NtpServers) {
        Some(DhcpOption::NtpServers(v)) => Some(v.clone()),
        _ => None,
    };
    // "foo…": the defined spawned class's DNS, the template's NTP; "after" sees the spawned
    // class (evaluated after the template, in config order) and stays out.
    let foo = dora(&mut s, mac(1), &[cid(b"foo-1")], NOW);
    assert_eq!(dns(&foo), Some(vec![ip("10.8.8.8")]));
    assert_eq!(ntp(&foo), Some(vec![ip("10.7.7.123")]));
    assert_eq!(foo.siaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(
        (20..=29).contains(&foo.yiaddr().octets()[3]),
        "{}",
        foo.yiaddr()
    );
    // "bar…": spawns a class nobody defines but the pool guard names: that pool; the
    // template's options; "after" matches.
    let bar = dora(&mut s, mac(2), &[cid(b"bar-2")], NOW);
    assert!(
        (10..=19).contains(&bar.yiaddr().octets()[3]),
        "{}",
        bar.yiaddr()
    );
    assert_eq!(dns(&bar), Some(vec![ip("10.7.7.7")]));
    assert_eq!(bar.siaddr(), ip("10.9.9.1"));
    // No option 61: the template yields "", which spawns nothing: no template options and not
    // in the template class either.
    let none = dora(&mut s, mac(3), &[], NOW);
    assert_eq!(dns(&none), None);
    assert_eq!(none.siaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(
        (20..=29).contains(&none.yiaddr().octets()[3]),
        "{}",
        none.yiaddr()
    );
}

#[test]
fn class_tagged_options_go_to_members_only() {
    // ARM 16.9: tags at the subnet (an if / else-if / else on one code), at a pool (a tag
    // that does not match is as if the option were not there: the subnet's value shows
    // through), and a tagged never-send that removes the option for everyone.
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000,
        "option-data": [ { "name": "domain-name-servers", "data": "10.9.9.9" } ],
        "client-classes": [
            { "name": "one", "test": "option[vendor-class-identifier].text == 'one'" },
            { "name": "two", "test": "option[vendor-class-identifier].text == 'two'" }
        ],
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.19",
                "option-data": [ { "name": "routers", "data": "10.0.0.254", "client-classes": [ "two" ] },
                                 { "name": "domain-name-servers", "data": "10.2.2.2", "client-classes": [ "KNOWN" ] } ] } ],
            "option-data": [
                { "name": "ntp-servers", "data": "10.0.0.3" },
                { "name": "ntp-servers", "data": "10.0.0.1", "client-classes": [ "one" ] },
                { "name": "ntp-servers", "data": "10.0.0.2", "client-classes": [ "two" ] },
                { "name": "routers", "data": "10.0.0.1" },
                { "name": "time-offset", "data": "100", "client-classes": [ "two" ], "never-send": true, "always-send": true },
                { "name": "time-offset", "data": "200", "always-send": true } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let ntp = |m: &Message| match m.opts().get(OptionCode::NtpServers) {
        Some(DhcpOption::NtpServers(v)) => Some(v.clone()),
        _ => None,
    };
    let offset = |m: &Message| m.opts().get(OptionCode::TimeOffset).is_some();
    let one = dora(&mut s, mac(1), &[vendor("one")], NOW);
    assert_eq!(ntp(&one), Some(vec![ip("10.0.0.1")]));
    assert_eq!(routers(&one), Some(vec![ip("10.0.0.1")]));
    let two = dora(&mut s, mac(2), &[vendor("two")], NOW);
    assert_eq!(ntp(&two), Some(vec![ip("10.0.0.2")]));
    assert_eq!(
        routers(&two),
        Some(vec![ip("10.0.0.254")]),
        "pool tag matches"
    );
    let other = dora(&mut s, mac(3), &[vendor("three")], NOW);
    assert_eq!(
        ntp(&other),
        Some(vec![ip("10.0.0.3")]),
        "the untagged value is the else"
    );
    assert_eq!(routers(&other), Some(vec![ip("10.0.0.1")]));
    // A pool tag naming KNOWN: nobody here has a reservation, the global value shows.
    assert_eq!(dns(&other), Some(vec![ip("10.9.9.9")]));
    // The tagged never-send wins over the untagged always-send for everyone.
    assert!(!offset(&one) && !offset(&two) && !offset(&other));
}

#[test]
fn flex_id_replace_client_id_keeps_the_lease_across_device_changes() {
    // ARM 17.9.1: with replace-client-id the client is identified by 0x00 + flex-id, so a
    // replaced device on the same port gets the same lease; the reply carries the device's
    // own client identifier, even with echo-client-id off. One shard: with several, a new
    // device lands on another shard than the lease (named "not supported yet").
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000, "echo-client-id": false,
        "multi-threading": { "enable-multi-threading": false },
        "hooks-libraries": [ { "library": "libdhcp_flex_id.so",
            "parameters": { "identifier-expression": "option[vendor-class-identifier].text",
                            "replace-client-id": true } } ],
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.19" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let cid = |v: &[u8]| DhcpOption::ClientIdentifier(v.to_vec());
    let echoed = |m: &Message| match m.opts().get(OptionCode::ClientIdentifier) {
        Some(DhcpOption::ClientIdentifier(v)) => Some(v.clone()),
        _ => None,
    };
    let old = dora(&mut s, mac(1), &[vendor("port7"), cid(b"\x01old")], NOW);
    assert_eq!(echoed(&old), Some(b"\x01old".to_vec()));
    let lease = &s.table().get(u32::from(old.yiaddr())).expect("lease").lease;
    assert_eq!(
        lease.client_id.as_ref().map(|c| c.as_bytes().to_vec()),
        Some(b"\x00port7".to_vec())
    );
    // Another MAC and client-id on the same port: the same address.
    let new = dora(&mut s, mac(2), &[vendor("port7"), cid(b"\x01new")], NOW + 1);
    assert_eq!(new.yiaddr(), old.yiaddr());
    assert_eq!(echoed(&new), Some(b"\x01new".to_vec()));
    // Another port: another address. No option 60: no replacement, its own client-id.
    let other = dora(&mut s, mac(3), &[vendor("port8"), cid(b"\x01new")], NOW + 2);
    assert_ne!(other.yiaddr(), old.yiaddr());
    let plain = dora(&mut s, mac(4), &[cid(b"\x01x")], NOW + 3);
    assert_eq!(
        echoed(&plain),
        None,
        "echo-client-id false, nothing replaced"
    );
    let lease = &s
        .table()
        .get(u32::from(plain.yiaddr()))
        .expect("lease")
        .lease;
    assert_eq!(
        lease.client_id.as_ref().map(|c| c.as_bytes().to_vec()),
        Some(b"\x01x".to_vec())
    );
}

#[test]
fn template_class_only_in_additional_list_spawns_where_listed() {
    // ARM 16.4.1: only-in-additional-list makes the template-test run only when the chosen
    // pool, subnet or network lists the class in evaluate-additional-classes.
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000,
        "client-classes": [
            { "name": "tmpl", "template-test": "option[vendor-class-identifier].text",
              "only-in-additional-list": true },
            { "name": "SPAWN_tmpl_x",
              "option-data": [ { "name": "domain-name-servers", "data": "10.4.4.4" } ] }
        ],
        "subnet4": [
            { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
              "evaluate-additional-classes": [ "tmpl" ],
              "pools": [ { "pool": "10.0.0.10 - 10.0.0.19" } ] },
            { "id": 2, "subnet": "10.0.1.0/24", "relay": { "ip-addresses": [ "127.0.0.2" ] },
              "pools": [ { "pool": "10.0.1.10 - 10.0.1.19" } ] } ] } }"#,
    );
    let mut s = shard(&p);
    let listed = dora(&mut s, mac(1), &[vendor("x")], NOW);
    assert_eq!(dns(&listed), Some(vec![ip("10.4.4.4")]));
    // Same client class value through the other relay (subnet 2, which lists nothing).
    let mut d = with(msg(d4::MessageType::Discover, mac(2)), vendor("x"));
    d.set_giaddr(ip("127.0.0.2"));
    let offer = send(&mut s, &d, NOW).expect("offer from subnet 2");
    assert_eq!(offer.yiaddr().octets()[2], 1);
    assert_eq!(dns(&offer), None);
}

/// ARM 16 ("known and unknown ..."): an expression using KNOWN directly or indirectly is
/// evaluated after the host reservation lookup. Indirectly includes `member()` of a template
/// class whose template test reads KNOWN, and of the classes it spawns: those tests must wait
/// for the template, or they see it empty (they used to run before the lookup).
#[test]
fn tests_reading_a_known_dependent_template_or_its_spawned_class_wait_for_the_host_lookup() {
    let p = config(
        r#"{ "Dhcp4": { "valid-lifetime": 4000,
        "client-classes": [
            { "name": "k", "test": "member('KNOWN')" },
            { "name": "Tier", "template-test": "ifelse(member('k'), 'gold', 'anon')" },
            { "name": "in-tier", "test": "member('Tier')", "next-server": "10.9.9.1" },
            { "name": "gold", "test": "member('SPAWN_Tier_gold')",
              "option-data": [ { "name": "domain-name-servers", "data": "10.8.8.8" } ] },
            { "name": "gold-too", "test": "member('gold')", "boot-file-name": "gold.cfg" },
            { "name": "Direct", "template-test": "ifelse(known, 'k', 'u')" },
            { "name": "direct-u", "test": "member('SPAWN_Direct_u')",
              "option-data": [ { "name": "ntp-servers", "data": "10.7.7.7" } ] }
        ],
        "subnet4": [ { "id": 1, "subnet": "10.0.0.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
            "pools": [ { "pool": "10.0.0.10 - 10.0.0.50" } ],
            "reservations": [ { "hw-address": "02:00:00:00:00:01" } ] } ] } }"#,
    );
    let t = &p.classes;
    for name in ["in-tier", "gold", "gold-too", "direct-u", "SPAWN_Tier_gold"] {
        let i = t.index_of(name).expect("class");
        assert!(t.late.contains(&i) || name.starts_with("SPAWN_"), "{name}");
        assert!(
            t.def(i).is_some_and(|d| d.after_host),
            "{name} after the lookup"
        );
    }
    let ntp = |m: &Message| match m.opts().get(OptionCode::NtpServers) {
        Some(DhcpOption::NtpServers(v)) => Some(v.clone()),
        _ => None,
    };
    let mut s = shard(&p);
    // Known: Tier spawns SPAWN_Tier_gold; every class reading it sees it.
    let known = dora(&mut s, mac(1), &[], NOW);
    assert_eq!(known.siaddr(), ip("10.9.9.1"));
    assert_eq!(dns(&known), Some(vec![ip("10.8.8.8")]));
    assert_eq!(file(&known), Some(&b"gold.cfg"[..]));
    assert_eq!(ntp(&known), None);
    // Unknown: Tier spawns SPAWN_Tier_anon (still a Tier member); Direct spawns "u".
    let unknown = dora(&mut s, mac(2), &[], NOW);
    assert_eq!(unknown.siaddr(), ip("10.9.9.1"));
    assert_eq!(dns(&unknown), None);
    assert_eq!(file(&unknown), None);
    assert_eq!(ntp(&unknown), Some(vec![ip("10.7.7.7")]));
}

/// A DISCOVER refused by every class guard, counted and answered as kea-dhcp4 2.2 does (run
/// on the same configs with crafted relayed DISCOVERs): no OFFER in every case, and
/// - every subnet guard refuses: nothing but the received counters (no subnet is selected;
///   not a pkt4-receive-drop);
/// - the subnet admits, no pool does: `v4-allocation-fail-no-pools`, `-subnet` and
///   `-classes` (global and subnet), `v4-allocation-fail` unchanged (0 attempts);
/// - the same in a shared network whose other subnet's guard refuses: `-shared-network`
///   instead of `-subnet`;
/// - a pool the client may use, but full: `v4-allocation-fail`, `-subnet`, `-classes`.
#[test]
fn a_discover_refused_by_every_class_guard_counts_as_kea_does() {
    const FAILS: [&str; 5] = [
        "v4-allocation-fail",
        "v4-allocation-fail-subnet",
        "v4-allocation-fail-shared-network",
        "v4-allocation-fail-no-pools",
        "v4-allocation-fail-classes",
    ];
    let run = |scopes: &str, pre: &[[u8; 6]]| {
        let p = config(&format!(
            r#"{{ "Dhcp4": {{ "valid-lifetime": 4000,
            "client-classes": [ {{ "name": "gold", "test": "option[60].text == 'gold'" }} ],
            {scopes} }} }}"#
        ));
        let mut s = shard(&p);
        for &m in pre {
            dora(&mut s, m, &[], NOW);
        }
        assert!(send(&mut s, &msg(d4::MessageType::Discover, mac(1)), NOW).is_none());
        // A gold client is served (or, with the pool full, refused the same way).
        let gold = send(
            &mut s,
            &with(msg(d4::MessageType::Discover, mac(2)), vendor("gold")),
            NOW,
        );
        assert_eq!(stat(&s, "pkt4-receive-drop"), 0);
        assert_eq!(stat(&s, "pkt4-discover-received"), 2 + pre.len() as i64);
        let global: Vec<i64> = FAILS.iter().map(|n| stat(&s, n)).collect();
        let subnet: Vec<i64> = FAILS
            .iter()
            .map(|n| stat(&s, &format!("subnet[1].{n}")))
            .collect();
        assert_eq!(global, subnet, "global and subnet[1] agree");
        (gold.map(|g| g.yiaddr()), global)
    };
    let relay = r#""relay": { "ip-addresses": [ "127.0.0.1" ] }"#;
    let (gold, fails) = run(
        &format!(
            r#""subnet4": [ {{ "id": 1, "subnet": "10.0.0.0/24", {relay}, "client-class": "gold",
                "pools": [ {{ "pool": "10.0.0.10 - 10.0.0.50" }} ] }} ]"#
        ),
        &[],
    );
    assert_eq!(gold, Some(ip("10.0.0.10")));
    assert_eq!(fails, [0, 0, 0, 0, 0], "subnet guard: no subnet selected");
    let (gold, fails) = run(
        &format!(
            r#""subnet4": [ {{ "id": 1, "subnet": "10.0.0.0/24", {relay},
                "pools": [ {{ "pool": "10.0.0.10 - 10.0.0.50", "client-class": "gold" }} ] }} ]"#
        ),
        &[],
    );
    assert_eq!(gold, Some(ip("10.0.0.10")));
    assert_eq!(fails, [0, 1, 0, 1, 1], "pool guard");
    let (gold, fails) = run(
        &format!(
            r#""shared-networks": [ {{ "name": "n", {relay}, "subnet4": [
                {{ "id": 1, "subnet": "10.0.0.0/24",
                   "pools": [ {{ "pool": "10.0.0.10 - 10.0.0.50", "client-class": "gold" }} ] }},
                {{ "id": 2, "subnet": "10.0.1.0/24", "client-class": "gold",
                   "pools": [ {{ "pool": "10.0.1.10 - 10.0.1.50" }} ] }} ] }} ]"#
        ),
        &[],
    );
    assert_eq!(gold, Some(ip("10.0.0.10")));
    assert_eq!(fails, [0, 0, 1, 1, 1], "shared network");
    let (gold, fails) = run(
        &format!(
            r#""subnet4": [ {{ "id": 1, "subnet": "10.0.0.0/24", {relay},
                "pools": [ {{ "pool": "10.0.0.10 - 10.0.0.11" }} ] }} ]"#
        ),
        &[mac(8), mac(9)],
    );
    assert_eq!(gold, None);
    assert_eq!(fails, [2, 2, 0, 0, 2], "exhausted pool");
}
