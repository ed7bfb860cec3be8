//! DHCPv6 cross-checks against dhcproto, plus malformed-input and round-trip properties.

use corelease_wire::v6::{
    fuzz_decode6, fuzz_reencodes6, opt, oro_codes, status, Dhcp6Packet, Dhcp6Writer, Ia, IaAddr,
    IaPrefix, MessageType, StatusCode,
};
use corelease_wire::WireError;
use dhcproto::v6::{self, DhcpOption, Message, RelayMessage};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use proptest::prelude::*;
use std::net::Ipv6Addr;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn addr(s: &str) -> Ipv6Addr {
    s.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)
}

const DUID: [u8; 10] = [0, 3, 0, 1, 0x00, 0x16, 0x3e, 1, 2, 3];

/// Options in code order, as dhcproto emits them, so its re-encoding can be compared byte for byte.
fn write_reply(buf: &mut [u8]) -> Result<usize, WireError> {
    let mut w = Dhcp6Writer::new(buf, MessageType::Reply.as_u8(), 0x00ab_cdef)?;
    w.option(opt::CLIENTID, &DUID)?;
    w.option(opt::SERVERID, &[0, 1, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])?;
    w.begin_ia_na(0x11, 1800, 2880)?;
    w.begin_ia_addr(addr("2001:db8::42"), 3600, 7200)?;
    w.status_code(status::SUCCESS, b"assigned")?;
    w.end()?;
    w.end()?;
    w.option(opt::PREFERENCE, &[255])?;
    w.option(
        opt::DNS_SERVERS,
        &[addr("2001:db8::53").octets(), addr("2001:db8::54").octets()].concat(),
    )?;
    w.begin_ia_pd(0x22, 1800, 2880)?;
    w.ia_prefix(3600, 7200, 56, addr("2001:db8:ff00::"))?;
    w.end()?;
    w.finish()
}

#[test]
fn reply_we_write_decodes_in_dhcproto_to_the_same_values() -> TestResult {
    let mut buf = [0u8; 1024];
    let len = write_reply(&mut buf)?;
    let theirs = Message::decode(&mut Decoder::new(&buf[..len]))?;
    assert_eq!(theirs.msg_type(), v6::MessageType::Reply);
    assert_eq!(theirs.xid_num(), 0x00ab_cdef);
    assert_eq!(
        theirs.opts().get(v6::OptionCode::ClientId),
        Some(&DhcpOption::ClientId(DUID.to_vec()))
    );
    let Some(DhcpOption::IANA(ia)) = theirs.opts().get(v6::OptionCode::IANA) else {
        return Err("dhcproto lost IA_NA".into());
    };
    assert_eq!((ia.id, ia.t1, ia.t2), (0x11, 1800, 2880));
    let Some(DhcpOption::IAAddr(a)) = ia.opts.get(v6::OptionCode::IAAddr) else {
        return Err("dhcproto lost IAADDR".into());
    };
    assert_eq!(
        (a.addr, a.preferred_life, a.valid_life),
        (addr("2001:db8::42"), 3600, 7200)
    );
    assert_eq!(
        a.opts.get(v6::OptionCode::StatusCode),
        Some(&DhcpOption::StatusCode(v6::StatusCode {
            status: v6::Status::Success,
            msg: "assigned".to_string()
        }))
    );
    let Some(DhcpOption::IAPD(pd)) = theirs.opts().get(v6::OptionCode::IAPD) else {
        return Err("dhcproto lost IA_PD".into());
    };
    assert_eq!(pd.id, 0x22);
    let Some(DhcpOption::IAPrefix(p)) = pd.opts.get(v6::OptionCode::IAPrefix) else {
        return Err("dhcproto lost IAPREFIX".into());
    };
    assert_eq!(
        (
            p.preferred_lifetime,
            p.valid_lifetime,
            p.prefix_len,
            p.prefix_ip
        ),
        (3600, 7200, 56, addr("2001:db8:ff00::"))
    );
    assert_eq!(
        theirs.opts().get(v6::OptionCode::DomainNameServers),
        Some(&DhcpOption::DomainNameServers(vec![
            addr("2001:db8::53"),
            addr("2001:db8::54")
        ]))
    );
    assert_eq!(
        theirs.opts().get(v6::OptionCode::Preference),
        Some(&DhcpOption::Preference(255))
    );
    // dhcproto re-encodes it to the very same bytes (it sorts options by code; so do we here).
    let mut again = Vec::new();
    theirs.encode(&mut Encoder::new(&mut again))?;
    assert_eq!(again, &buf[..len]);
    Ok(())
}

#[test]
fn relay_reply_we_write_decodes_in_dhcproto() -> TestResult {
    let mut buf = [0u8; 1024];
    let link = addr("2001:db8:1::1");
    let peer = addr("fe80::216:3eff:fe01:203");
    let mut w = Dhcp6Writer::new_relay(&mut buf, MessageType::RelayRepl.as_u8(), 2, link, peer)?;
    w.option(opt::INTERFACE_ID, b"eth1.100")?;
    w.begin_relayed_message(MessageType::Advertise.as_u8(), 0x0001_0203)?;
    w.option(opt::CLIENTID, &DUID)?;
    w.begin_ia_na(1, 0, 0)?;
    w.status_code(status::NO_ADDRS_AVAIL, b"no addresses")?;
    w.end()?;
    w.end()?;
    let len = w.finish()?;
    let bytes = &buf[..len];

    let theirs = RelayMessage::decode(&mut Decoder::new(bytes))?;
    assert_eq!(theirs.msg_type(), v6::MessageType::RelayRepl);
    assert_eq!(
        (theirs.hop_count(), theirs.link_addr(), theirs.peer_addr()),
        (2, link, peer)
    );
    assert_eq!(
        theirs.opts().get(v6::OptionCode::InterfaceId),
        Some(&DhcpOption::InterfaceId(b"eth1.100".to_vec()))
    );
    // dhcproto reads option 9's payload as a relay message; read the inner bytes as a client
    // message with it instead.
    let ours = Dhcp6Packet::new_checked(bytes)?;
    let (inner, relays) = ours.innermost()?;
    assert_eq!(relays, 1);
    let inner_theirs = Message::decode(&mut Decoder::new(inner.as_bytes()))?;
    assert_eq!(inner_theirs.msg_type(), v6::MessageType::Advertise);
    assert_eq!(inner_theirs.xid_num(), 0x0001_0203);
    let Some(DhcpOption::IANA(ia)) = inner_theirs.opts().get(v6::OptionCode::IANA) else {
        return Err("dhcproto lost IA_NA".into());
    };
    assert_eq!(
        ia.opts.get(v6::OptionCode::StatusCode),
        Some(&DhcpOption::StatusCode(v6::StatusCode {
            status: v6::Status::NoAddrsAvail,
            msg: "no addresses".to_string()
        }))
    );
    assert!(fuzz_reencodes6(bytes));
    Ok(())
}

#[test]
fn solicit_dhcproto_encodes_reads_back_the_same_here() -> TestResult {
    let mut msg = Message::new_with_id(v6::MessageType::Solicit, [0x0a, 0x0b, 0x0c]);
    let opts = msg.opts_mut();
    opts.insert(DhcpOption::ClientId(DUID.to_vec()));
    opts.insert(DhcpOption::ElapsedTime(150));
    opts.insert(DhcpOption::ORO(v6::ORO {
        opts: vec![
            v6::OptionCode::DomainNameServers,
            v6::OptionCode::DomainSearchList,
        ],
    }));
    let mut ia_opts = v6::DhcpOptions::new();
    ia_opts.insert(DhcpOption::IAAddr(v6::IAAddr {
        addr: addr("2001:db8::77"),
        preferred_life: 100,
        valid_life: 200,
        opts: v6::DhcpOptions::new(),
    }));
    opts.insert(DhcpOption::IANA(v6::IANA {
        id: 5,
        t1: 10,
        t2: 20,
        opts: ia_opts,
    }));
    let mut pd_opts = v6::DhcpOptions::new();
    pd_opts.insert(DhcpOption::IAPrefix(v6::IAPrefix {
        preferred_lifetime: 300,
        valid_lifetime: 400,
        prefix_len: 60,
        prefix_ip: addr("2001:db8:a0::"),
        opts: v6::DhcpOptions::new(),
    }));
    opts.insert(DhcpOption::IAPD(v6::IAPD {
        id: 6,
        t1: 0,
        t2: 0,
        opts: pd_opts,
    }));
    opts.insert(DhcpOption::RapidCommit);
    let mut bytes = Vec::new();
    msg.encode(&mut Encoder::new(&mut bytes))?;

    let p = Dhcp6Packet::new_checked(&bytes[..])?;
    p.validate()?;
    assert_eq!(p.msg_type(), Some(MessageType::Solicit));
    assert_eq!(p.transaction_id(), 0x0a_0b0c);
    assert_eq!(p.option(opt::CLIENTID), Some(&DUID[..]));
    assert_eq!(p.option(opt::ELAPSED_TIME), Some(&[0, 150][..]));
    assert_eq!(
        oro_codes(p.option(opt::ORO).unwrap_or(&[])).collect::<Vec<_>>(),
        vec![23, 24]
    );
    assert_eq!(p.option(opt::RAPID_COMMIT), Some(&[][..]));
    let ia = Ia::parse(opt::IA_NA, p.option(opt::IA_NA).unwrap_or(&[]))?;
    assert_eq!((ia.iaid, ia.t1, ia.t2), (5, 10, 20));
    let a = IaAddr::parse(ia.options().find(opt::IAADDR).unwrap_or(&[]))?;
    assert_eq!(
        (a.addr, a.preferred, a.valid),
        (addr("2001:db8::77"), 100, 200)
    );
    let pd = Ia::parse(opt::IA_PD, p.option(opt::IA_PD).unwrap_or(&[]))?;
    assert_eq!(pd.iaid, 6);
    let prefix = IaPrefix::parse(pd.options().find(opt::IAPREFIX).unwrap_or(&[]))?;
    assert_eq!(
        (
            prefix.preferred,
            prefix.valid,
            prefix.prefix_len,
            prefix.prefix
        ),
        (300, 400, 60, addr("2001:db8:a0::"))
    );
    assert!(fuzz_reencodes6(&bytes));
    Ok(())
}

#[test]
fn malformed_v6_inputs_give_errors_not_panics() -> TestResult {
    // Relay header cut short.
    assert_eq!(
        Dhcp6Packet::new_checked(&[12u8, 0, 1][..]).err(),
        Some(WireError::Truncated { len: 3, needed: 34 })
    );
    // IAADDR inside IA_NA shorter than 24 bytes.
    let mut buf = [0u8; 128];
    let mut w = Dhcp6Writer::new(&mut buf, 3, 1)?;
    w.begin_ia_na(1, 2, 3)?;
    w.option(opt::IAADDR, &[0u8; 10])?;
    w.end()?;
    let len = w.finish()?;
    let p = Dhcp6Packet::new_checked(&buf[..len])?;
    assert_eq!(
        p.validate(),
        Err(WireError::ShortOption {
            code: opt::IAADDR,
            len: 10,
            needed: 24
        })
    );
    assert!(!fuzz_reencodes6(&buf[..len]));
    // Relay whose Relay Message holds garbage too short for any header.
    let mut w = Dhcp6Writer::new_relay(
        &mut buf,
        12,
        0,
        Ipv6Addr::UNSPECIFIED,
        Ipv6Addr::UNSPECIFIED,
    )?;
    w.option(opt::RELAY_MSG, &[1, 2])?;
    let len = w.finish()?;
    let p = Dhcp6Packet::new_checked(&buf[..len])?;
    assert_eq!(
        p.innermost().err(),
        Some(WireError::Truncated { len: 2, needed: 4 })
    );
    assert!(!fuzz_reencodes6(&buf[..len]));
    // Status code of one byte.
    assert_eq!(
        StatusCode::parse(&[0]).err(),
        Some(WireError::ShortOption {
            code: opt::STATUS_CODE,
            len: 1,
            needed: 2
        })
    );
    Ok(())
}

/// Codes dhcproto keeps raw (no typed decoding).
fn raw_code() -> impl Strategy<Value = u16> {
    prop_oneof![100u16..=200, 300u16..=65535]
}

/// An IA_NA: IAID, T1, T2 and its (address, preferred, valid) entries.
type IaCase = (u32, u32, u32, Vec<([u8; 16], u32, u32)>);

#[derive(Debug, Clone)]
struct Case {
    msg_type: u8,
    xid: u32,
    raw: Vec<(u16, Vec<u8>)>,
    ias: Vec<IaCase>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![1u8..=11, 14u8..=21],
        0u32..=0x00ff_ffff,
        proptest::collection::btree_map(
            raw_code(),
            proptest::collection::vec(any::<u8>(), 0..80),
            0..6,
        )
        .prop_map(|m| m.into_iter().collect()),
        proptest::collection::vec(
            (
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
                proptest::collection::vec((any::<[u8; 16]>(), any::<u32>(), any::<u32>()), 0..3),
            ),
            0..3,
        ),
    )
        .prop_map(|(msg_type, xid, raw, ias)| Case {
            msg_type,
            xid,
            raw,
            ias,
        })
}

fn write_case(c: &Case, buf: &mut [u8]) -> Result<usize, WireError> {
    let mut w = Dhcp6Writer::new(buf, c.msg_type, c.xid)?;
    for (iaid, t1, t2, addrs) in &c.ias {
        w.begin_ia_na(*iaid, *t1, *t2)?;
        for (a, pref, valid) in addrs {
            w.ia_addr(Ipv6Addr::from(*a), *pref, *valid)?;
        }
        w.end()?;
    }
    for (code, data) in &c.raw {
        w.option(*code, data)?;
    }
    w.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_messages_we_write_decode_identically_in_dhcproto(c in case()) {
        let mut buf = vec![0u8; 4096];
        let len = write_case(&c, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let bytes = &buf[..len];
        let theirs = Message::decode(&mut Decoder::new(bytes)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(u8::from(theirs.msg_type()), c.msg_type);
        prop_assert_eq!(theirs.xid_num(), c.xid);
        for (code, data) in &c.raw {
            let found = theirs.opts().get(v6::OptionCode::from(*code));
            prop_assert_eq!(found, Some(&DhcpOption::Unknown(v6::UnknownOption::new(v6::OptionCode::from(*code), data.clone()))));
        }
        let their_ias: Vec<_> = theirs.opts().get_all(v6::OptionCode::IANA).unwrap_or(&[]).to_vec();
        prop_assert_eq!(their_ias.len(), c.ias.len());
        for (theirs, (iaid, t1, t2, addrs)) in their_ias.iter().zip(&c.ias) {
            let DhcpOption::IANA(ia) = theirs else { return Err(TestCaseError::fail("not IA_NA")) };
            prop_assert_eq!((ia.id, ia.t1, ia.t2), (*iaid, *t1, *t2));
            let their_addrs: Vec<_> = ia.opts.iter().filter_map(|o| match o {
                DhcpOption::IAAddr(a) => Some((a.addr.octets(), a.preferred_life, a.valid_life)),
                _ => None,
            }).collect();
            let mut mine = addrs.clone();
            let mut theirs_sorted = their_addrs;
            mine.sort_unstable();
            theirs_sorted.sort_unstable();
            prop_assert_eq!(theirs_sorted, mine);
        }
        // Our own reader agrees, and re-encoding is byte-identical.
        let p = Dhcp6Packet::new_checked(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(p.validate(), Ok(()));
        prop_assert_eq!(p.transaction_id(), c.xid);
        prop_assert!(fuzz_reencodes6(bytes));
    }

    #[test]
    fn random_messages_dhcproto_encodes_read_back_the_same_here(c in case()) {
        let x = c.xid.to_be_bytes();
        let mut msg = Message::new_with_id(v6::MessageType::from(c.msg_type), [x[1], x[2], x[3]]);
        for (code, data) in &c.raw {
            msg.opts_mut().insert(DhcpOption::Unknown(v6::UnknownOption::new(v6::OptionCode::from(*code), data.clone())));
        }
        for (iaid, t1, t2, addrs) in &c.ias {
            let mut opts = v6::DhcpOptions::new();
            for (a, pref, valid) in addrs {
                opts.insert(DhcpOption::IAAddr(v6::IAAddr { addr: Ipv6Addr::from(*a), preferred_life: *pref, valid_life: *valid, opts: v6::DhcpOptions::new() }));
            }
            msg.opts_mut().insert(DhcpOption::IANA(v6::IANA { id: *iaid, t1: *t1, t2: *t2, opts }));
        }
        let mut bytes = Vec::new();
        msg.encode(&mut Encoder::new(&mut bytes)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let p = Dhcp6Packet::new_checked(&bytes[..]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(p.validate(), Ok(()));
        prop_assert_eq!(p.msg_type_raw(), c.msg_type);
        prop_assert_eq!(p.transaction_id(), c.xid);
        for (code, data) in &c.raw {
            prop_assert_eq!(p.option(*code), Some(&data[..]));
        }
        let mut ours = Vec::new();
        for o in p.options().map_while(Result::ok).filter(|o| o.code == opt::IA_NA) {
            let ia = Ia::parse(opt::IA_NA, o.data).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut addrs = Vec::new();
            for a in ia.options().map_while(Result::ok) {
                let a = IaAddr::parse(a.data).map_err(|e| TestCaseError::fail(e.to_string()))?;
                addrs.push((a.addr.octets(), a.preferred, a.valid));
            }
            addrs.sort_unstable();
            ours.push((ia.iaid, ia.t1, ia.t2, addrs));
        }
        let mut expected: Vec<_> = c.ias.iter().map(|(i, t1, t2, a)| {
            let mut a = a.clone();
            a.sort_unstable();
            (*i, *t1, *t2, a)
        }).collect();
        ours.sort_unstable();
        expected.sort_unstable();
        prop_assert_eq!(ours, expected);
        prop_assert!(fuzz_reencodes6(&bytes));
    }

    #[test]
    fn arbitrary_v6_bytes_never_panic(
        msg_type in prop_oneof![Just(1u8), Just(12u8), Just(13u8), any::<u8>()],
        rest in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut b = vec![msg_type];
        b.extend_from_slice(&rest);
        fuzz_decode6(&b);
    }

    /// Mostly well-formed option trees (random codes including the encapsulating ones, random
    /// nesting) inside random relay layers never panic, and well-formed ones re-encode exactly.
    #[test]
    fn option_shaped_v6_input_never_panics(
        relays in 0usize..4,
        tlvs in proptest::collection::vec(
            (prop_oneof![Just(3u16), Just(5u16), Just(9u16), Just(13u16), Just(25u16), Just(26u16), any::<u16>()],
             proptest::collection::vec(any::<u8>(), 0..60)),
            0..10),
    ) {
        let mut msg = vec![1u8, 0, 0, 1];
        for (code, data) in &tlvs {
            msg.extend_from_slice(&code.to_be_bytes());
            msg.extend_from_slice(&(data.len() as u16).to_be_bytes());
            msg.extend_from_slice(data);
        }
        for hop in 0..relays {
            let mut outer = vec![12u8, hop as u8];
            outer.extend_from_slice(&[0u8; 32]);
            outer.extend_from_slice(&[0, 9]);
            outer.extend_from_slice(&(msg.len() as u16).to_be_bytes());
            outer.extend_from_slice(&msg);
            msg = outer;
        }
        fuzz_decode6(&msg);
    }
}
