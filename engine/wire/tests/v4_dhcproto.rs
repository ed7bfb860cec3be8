//! Cross-checks against dhcproto, an independent DHCPv4 codec: what we write must decode there
//! to the same fields and options, and what it encodes must read back the same here.

use corelease_wire::v4::{
    opt, relay_link_selection, relay_suboptions, Dhcp4Packet, Dhcp4Writer, MessageType,
    OptionIndex, BOOTREPLY, BOOTREQUEST,
};
use dhcproto::v4::{self, relay, DhcpOption, Message};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use proptest::prelude::*;
use std::net::Ipv4Addr;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The joined payload dhcproto puts on the wire for one option (RFC 3396 instances merged).
fn dhcproto_payload(option: &DhcpOption) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut bytes = Vec::new();
    option.encode(&mut Encoder::new(&mut bytes))?;
    let mut payload = Vec::new();
    let mut rest = &bytes[..];
    while let [_code, len, tail @ ..] = rest {
        let len = usize::from(*len);
        payload.extend_from_slice(&tail[..len]);
        rest = &tail[len..];
    }
    Ok(payload)
}

fn dhcproto_encode(msg: &Message) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut bytes = Vec::new();
    msg.encode(&mut Encoder::new(&mut bytes))?;
    Ok(bytes)
}

/// Every option dhcproto decoded equals ours, and the two sets of codes are the same.
fn assert_same_options(theirs: &Message, ours: &OptionIndex) -> TestResult {
    let mut their_codes = Vec::new();
    for (code, option) in theirs.opts().iter() {
        let code = u8::from(*code);
        their_codes.push(code);
        let their_payload = dhcproto_payload(option)?;
        if code == opt::RELAY_AGENT_INFO {
            // dhcproto keeps sub-options in a HashMap: compare them as a set.
            let mut theirs: Vec<_> = relay_suboptions(&their_payload).collect();
            let mut mine: Vec<_> = relay_suboptions(ours.get(code).unwrap_or(&[])).collect();
            theirs.sort_unstable();
            mine.sort_unstable();
            assert_eq!(mine, theirs, "option 82 sub-options");
            continue;
        }
        assert_eq!(ours.get(code), Some(&their_payload[..]), "option {code}");
    }
    let mut our_codes: Vec<u8> = ours.codes().collect();
    their_codes.sort_unstable();
    our_codes.sort_unstable();
    assert_eq!(our_codes, their_codes);
    Ok(())
}

fn assert_same_header(theirs: &Message, ours: &Dhcp4Packet<&[u8]>) {
    assert_eq!(u8::from(theirs.opcode()), ours.op());
    assert_eq!(u8::from(theirs.htype()), ours.htype());
    assert_eq!(theirs.hlen(), ours.hlen());
    assert_eq!(theirs.hops(), ours.hops());
    assert_eq!(theirs.xid(), ours.xid());
    assert_eq!(theirs.secs(), ours.secs());
    assert_eq!(u16::from(theirs.flags()), ours.flags());
    assert_eq!(theirs.flags().broadcast(), ours.broadcast());
    assert_eq!(theirs.ciaddr(), ours.ciaddr());
    assert_eq!(theirs.yiaddr(), ours.yiaddr());
    assert_eq!(theirs.siaddr(), ours.siaddr());
    assert_eq!(theirs.giaddr(), ours.giaddr());
    assert_eq!(theirs.chaddr(), ours.chaddr());
}

const RAI: [u8; 20] = [
    1, 6, b'e', b't', b'h', b'0', b'/', b'1', // circuit id
    2, 4, 0xde, 0xad, 0xbe, 0xef, // remote id
    5, 4, 10, 20, 30, 0, // link selection
];

#[test]
fn ack_we_write_decodes_in_dhcproto_to_the_same_fields_and_options() -> TestResult {
    let mut buf = [0u8; 1500];
    let mut w = Dhcp4Writer::new(&mut buf, 576 - 28)?;
    w.set_op(BOOTREPLY);
    w.set_htype(1);
    w.set_hlen(6);
    w.set_hops(1);
    w.set_xid(0xcafe_f00d);
    w.set_secs(3);
    w.set_broadcast(true);
    w.set_ciaddr(Ipv4Addr::new(10, 20, 30, 7));
    w.set_yiaddr(Ipv4Addr::new(10, 20, 30, 40));
    w.set_siaddr(Ipv4Addr::new(10, 20, 30, 2));
    w.set_giaddr(Ipv4Addr::new(10, 20, 30, 1));
    w.set_chaddr(&[0, 0x16, 0x3e, 1, 2, 3]);
    w.option(opt::MESSAGE_TYPE, &[MessageType::Ack.as_u8()])?;
    w.option_ipv4(opt::SERVER_ID, Ipv4Addr::new(10, 20, 30, 2))?;
    w.option_u32(opt::LEASE_TIME, 4000)?;
    w.option_u32(opt::RENEWAL_TIME, 2000)?;
    w.option_u32(opt::REBINDING_TIME, 3500)?;
    w.option_ipv4(opt::SUBNET_MASK, Ipv4Addr::new(255, 255, 255, 0))?;
    w.option(opt::ROUTERS, &[10, 20, 30, 1])?;
    w.option(opt::DOMAIN_NAME_SERVERS, &[10, 0, 0, 53, 10, 0, 1, 53])?;
    w.option(opt::DOMAIN_NAME, b"example.org")?;
    w.option(opt::HOST_NAME, b"client-7")?;
    w.option(opt::CLIENT_ID, &[1, 0, 0x16, 0x3e, 1, 2, 3])?;
    w.option(opt::RELAY_AGENT_INFO, &RAI)?;
    let len = w.finish()?;
    let bytes = &buf[..len];

    let theirs = Message::decode(&mut Decoder::new(bytes))?;
    let ours = Dhcp4Packet::new_checked(bytes)?;
    let mut index = OptionIndex::new();
    index.parse(&ours)?;
    assert_same_header(&theirs, &ours);
    assert_same_options(&theirs, &index)?;

    // And the typed values dhcproto sees are the ones we meant.
    assert_eq!(theirs.opts().msg_type(), Some(v4::MessageType::Ack));
    assert_eq!(
        theirs.opts().get(v4::OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(4000))
    );
    assert_eq!(
        theirs.opts().get(v4::OptionCode::DomainNameServer),
        Some(&DhcpOption::DomainNameServer(vec![
            Ipv4Addr::new(10, 0, 0, 53),
            Ipv4Addr::new(10, 0, 1, 53)
        ]))
    );
    let Some(DhcpOption::RelayAgentInformation(info)) =
        theirs.opts().get(v4::OptionCode::RelayAgentInformation)
    else {
        return Err("dhcproto lost option 82".into());
    };
    assert_eq!(
        info.get(relay::RelayCode::LinkSelection),
        Some(&relay::RelayInfo::LinkSelection(Ipv4Addr::new(
            10, 20, 30, 0
        )))
    );
    // 240 header + 103 bytes of options + END.
    assert_eq!(len, 344);
    Ok(())
}

#[test]
fn request_dhcproto_encodes_reads_back_the_same_here() -> TestResult {
    let mut msg = Message::new_with_id(
        0x0102_0304,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::new(192, 0, 2, 1),
        &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
    );
    msg.set_hops(2).set_secs(9);
    msg.set_flags(v4::Flags::default().set_broadcast());
    let opts = msg.opts_mut();
    opts.insert(DhcpOption::MessageType(v4::MessageType::Request));
    opts.insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(192, 0, 2, 77)));
    opts.insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 1)));
    opts.insert(DhcpOption::ClientIdentifier(vec![
        1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    ]));
    opts.insert(DhcpOption::ParameterRequestList(vec![
        v4::OptionCode::SubnetMask,
        v4::OptionCode::Router,
        v4::OptionCode::DomainNameServer,
        v4::OptionCode::DomainName,
    ]));
    opts.insert(DhcpOption::MaxMessageSize(1500));
    opts.insert(DhcpOption::AddressLeaseTime(86400));
    opts.insert(DhcpOption::Hostname("laptop".to_string()));
    opts.insert(DhcpOption::SubnetSelection(Ipv4Addr::new(198, 51, 100, 0)));
    let mut rai = relay::RelayAgentInformation::default();
    rai.insert(relay::RelayInfo::AgentCircuitId(b"ge-0/0/1".to_vec()));
    rai.insert(relay::RelayInfo::LinkSelection(Ipv4Addr::new(
        198, 51, 100, 0,
    )));
    opts.insert(DhcpOption::RelayAgentInformation(rai));
    let bytes = dhcproto_encode(&msg)?;

    let ours = Dhcp4Packet::new_checked(&bytes[..])?;
    let mut index = OptionIndex::new();
    index.parse(&ours)?;
    assert_eq!(ours.op(), BOOTREQUEST);
    assert_same_header(&msg, &ours);
    assert_same_options(&msg, &index)?;
    assert_eq!(index.message_type(), Some(MessageType::Request));
    assert_eq!(
        index.requested_address(),
        Some(Ipv4Addr::new(192, 0, 2, 77))
    );
    assert_eq!(index.server_id(), Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(
        index.client_id(),
        Some(&[1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff][..])
    );
    assert_eq!(index.parameter_request_list(), &[1, 3, 6, 15]);
    assert_eq!(index.max_message_size(), Some(1500));
    assert_eq!(index.lease_time(), Some(86400));
    assert_eq!(index.hostname(), Some(&b"laptop"[..]));
    assert_eq!(
        index.subnet_selection(),
        Some(Ipv4Addr::new(198, 51, 100, 0))
    );
    let rai = index.relay_agent_info().unwrap_or(&[]);
    assert_eq!(
        relay_link_selection(rai),
        Some(Ipv4Addr::new(198, 51, 100, 0))
    );
    assert!(relay_suboptions(rai).any(|(code, data)| code == 1 && data == b"ge-0/0/1"));
    Ok(())
}

/// Option codes dhcproto keeps as raw bytes (no typed decoding that could normalise them).
fn raw_code() -> impl Strategy<Value = u8> {
    prop_oneof![122u8..=149, 158u8..=254]
}

#[derive(Debug, Clone)]
struct Header {
    op: u8,
    htype: u8,
    chaddr: Vec<u8>,
    hops: u8,
    xid: u32,
    secs: u16,
    flags: u16,
    addrs: [u32; 4],
}

fn header() -> impl Strategy<Value = Header> {
    (
        1u8..=2,
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..=16),
        any::<u8>(),
        any::<u32>(),
        any::<u16>(),
        prop_oneof![Just(0u16), Just(0x8000u16)],
        any::<[u32; 4]>(),
    )
        .prop_map(
            |(op, htype, chaddr, hops, xid, secs, flags, addrs)| Header {
                op,
                htype,
                chaddr,
                hops,
                xid,
                secs,
                flags,
                addrs,
            },
        )
}

/// Distinct raw codes with payloads up to 600 bytes (so some are split, RFC 3396).
fn raw_options(min_len: usize) -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
    proptest::collection::btree_map(
        raw_code(),
        proptest::collection::vec(any::<u8>(), min_len..600),
        0..8,
    )
    .prop_map(|m| m.into_iter().collect())
}

fn write_ours(
    buf: &mut [u8],
    h: &Header,
    options: &[(u8, Vec<u8>)],
) -> Result<(usize, Vec<u8>), corelease_wire::WireError> {
    let mut w = Dhcp4Writer::new(buf, usize::MAX)?;
    w.set_op(h.op);
    w.set_htype(h.htype);
    w.set_hlen(h.chaddr.len() as u8);
    w.set_hops(h.hops);
    w.set_xid(h.xid);
    w.set_secs(h.secs);
    w.set_flags(h.flags);
    w.set_ciaddr(Ipv4Addr::from(h.addrs[0]));
    w.set_yiaddr(Ipv4Addr::from(h.addrs[1]));
    w.set_siaddr(Ipv4Addr::from(h.addrs[2]));
    w.set_giaddr(Ipv4Addr::from(h.addrs[3]));
    w.set_chaddr(&h.chaddr);
    let mut written = Vec::new();
    for (code, data) in options {
        w.option(*code, data)?;
        written.push(*code);
    }
    Ok((w.finish()?, written))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_messages_we_write_decode_identically_in_dhcproto(
        h in header(),
        options in raw_options(0),
    ) {
        let mut buf = vec![0u8; 8192];
        let (len, _) = write_ours(&mut buf, &h, &options).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let bytes = &buf[..len];
        let theirs = Message::decode(&mut Decoder::new(bytes)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ours = Dhcp4Packet::new_checked(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut index = OptionIndex::new();
        prop_assert_eq!(index.parse(&ours), Ok(()));
        assert_same_header(&theirs, &ours);
        for (code, data) in &options {
            let their = theirs.opts().get(v4::OptionCode::from(*code));
            let their_payload = match their {
                Some(o) => dhcproto_payload(o).map_err(|e| TestCaseError::fail(e.to_string()))?,
                None => return Err(TestCaseError::fail(format!("dhcproto lost option {code}"))),
            };
            prop_assert_eq!(&their_payload, data);
            prop_assert_eq!(index.get(*code), Some(&data[..]));
        }
        prop_assert_eq!(theirs.opts().iter().count(), options.len());
    }

    #[test]
    fn random_messages_dhcproto_encodes_read_back_the_same_here(
        h in header(),
        options in raw_options(1),
        mtype in 1u8..=8,
    ) {
        let [c, y, s, g] = h.addrs.map(Ipv4Addr::from);
        let mut msg = Message::new_with_id(h.xid, c, y, s, g, &h.chaddr);
        msg.set_opcode(v4::Opcode::from(h.op))
            .set_htype(v4::HType::from(h.htype))
            .set_hops(h.hops)
            .set_secs(h.secs)
            .set_flags(v4::Flags::from(h.flags));
        msg.opts_mut().insert(DhcpOption::MessageType(v4::MessageType::from(mtype)));
        for (code, data) in &options {
            msg.opts_mut().insert(DhcpOption::Unknown(v4::UnknownOption::new(
                v4::OptionCode::from(*code),
                data.clone(),
            )));
        }
        let bytes = dhcproto_encode(&msg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ours = Dhcp4Packet::new_checked(&bytes[..]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut index = OptionIndex::new();
        prop_assert_eq!(index.parse(&ours), Ok(()));
        assert_same_header(&msg, &ours);
        prop_assert_eq!(index.message_type().map(|t| t.as_u8()), Some(mtype));
        for (code, data) in &options {
            prop_assert_eq!(index.get(*code), Some(&data[..]));
        }
        prop_assert_eq!(index.len(), options.len() + 1);
    }
}
