//! What the generator writes must decode the same in an independent codec (dhcproto, the
//! test oracle DESIGN.md names): message types, addresses, client identity and the RFC 8357
//! relay port, field by field.

use corelease_perf::wire::{self, ClientFrame, MAX_BUILT_LEN};
use corelease_perf::wire6::{self, ClientFrame6, IaKinds, MessageType6, MAX_BUILT_LEN_V6};
use dhcproto::{v4, v6, Decodable, Decoder};
use std::net::{Ipv4Addr, Ipv6Addr};

const MAC: [u8; 6] = [0x00, 0x0c, 0x01, 0x02, 0x03, 0x05];

fn frame(relay_port: Option<u16>) -> ClientFrame {
    ClientFrame {
        xid: 0x0102_0304,
        mac: MAC,
        giaddr: Ipv4Addr::new(127, 0, 0, 2),
        broadcast: false,
        relay_port,
    }
}

fn decode4(bytes: &[u8]) -> v4::Message {
    v4::Message::decode(&mut Decoder::new(bytes))
        .unwrap_or_else(|e| panic!("dhcproto rejects our packet: {e}"))
}

fn message_type(msg: &v4::Message) -> Option<v4::MessageType> {
    match msg.opts().get(v4::OptionCode::MessageType) {
        Some(v4::DhcpOption::MessageType(t)) => Some(*t),
        _ => None,
    }
}

fn assert_relayed_client_header(msg: &v4::Message) {
    assert_eq!(msg.opcode(), v4::Opcode::BootRequest);
    assert_eq!(msg.xid(), 0x0102_0304);
    assert_eq!(msg.hops(), 1);
    assert_eq!(msg.giaddr(), Ipv4Addr::new(127, 0, 0, 2));
    assert_eq!(&msg.chaddr()[..6], &MAC);
    match msg.opts().get(v4::OptionCode::ClientIdentifier) {
        Some(v4::DhcpOption::ClientIdentifier(id)) => assert_eq!(id, &[1, 0, 0x0c, 1, 2, 3, 5]),
        other => panic!("client identifier: {other:?}"),
    }
}

#[test]
fn discover_decodes_as_a_relayed_discover() {
    let mut out = [0u8; MAX_BUILT_LEN];
    let len = wire::build_discover(&mut out, &frame(None));
    let msg = decode4(&out[..len]);
    assert_relayed_client_header(&msg);
    assert_eq!(message_type(&msg), Some(v4::MessageType::Discover));
    assert!(msg
        .opts()
        .get(v4::OptionCode::RelayAgentInformation)
        .is_none());
}

#[test]
fn selecting_request_carries_requested_address_and_server_id() {
    let mut out = [0u8; MAX_BUILT_LEN];
    let len = wire::build_request_selecting(
        &mut out,
        &frame(None),
        Ipv4Addr::new(10, 0, 0, 9),
        Ipv4Addr::new(127, 0, 0, 1),
    );
    let msg = decode4(&out[..len]);
    assert_relayed_client_header(&msg);
    assert_eq!(message_type(&msg), Some(v4::MessageType::Request));
    assert_eq!(
        msg.opts().get(v4::OptionCode::RequestedIpAddress),
        Some(&v4::DhcpOption::RequestedIpAddress(Ipv4Addr::new(
            10, 0, 0, 9
        )))
    );
    assert_eq!(
        msg.opts().get(v4::OptionCode::ServerIdentifier),
        Some(&v4::DhcpOption::ServerIdentifier(Ipv4Addr::new(
            127, 0, 0, 1
        )))
    );
}

#[test]
fn renew_and_release_carry_ciaddr() {
    let mut out = [0u8; MAX_BUILT_LEN];
    let leased = Ipv4Addr::new(10, 0, 0, 9);
    let len = wire::build_request_renewing(&mut out, &frame(None), leased);
    let msg = decode4(&out[..len]);
    assert_eq!(message_type(&msg), Some(v4::MessageType::Request));
    assert_eq!(msg.ciaddr(), leased);
    assert!(msg.opts().get(v4::OptionCode::ServerIdentifier).is_none());
    let len = wire::build_release(&mut out, &frame(None), leased, Ipv4Addr::new(127, 0, 0, 1));
    let msg = decode4(&out[..len]);
    assert_eq!(message_type(&msg), Some(v4::MessageType::Release));
    assert_eq!(msg.ciaddr(), leased);
}

#[test]
fn relay_port_decodes_as_rfc8357_sub_option_19() {
    let mut out = [0u8; MAX_BUILT_LEN];
    let len = wire::build_discover(&mut out, &frame(Some(6768)));
    let msg = decode4(&out[..len]);
    let Some(v4::DhcpOption::RelayAgentInformation(info)) =
        msg.opts().get(v4::OptionCode::RelayAgentInformation)
    else {
        panic!("no relay agent information in {msg:?}");
    };
    let sub: Vec<_> = info.iter().collect();
    assert_eq!(sub.len(), 1);
    match sub[0].1 {
        v4::relay::RelayInfo::Unknown(unknown) => {
            assert_eq!(u8::from(unknown.code()), 19);
            assert_eq!(unknown.data(), &[0x1a, 0x70]);
        }
        other => panic!("sub-option: {other:?}"),
    }
}

#[test]
fn v6_solicit_inside_relay_forw_decodes_with_its_ias() {
    let duid = wire6::default_duid(&MAC, 0x3297_cc39);
    let f = ClientFrame6 {
        xid: 0x00ab_cdef,
        duid: &duid,
        link_address: Ipv6Addr::LOCALHOST,
        peer_address: wire6::peer_address(7),
        relay_port: None,
        relayed: true,
    };
    let mut out = [0u8; MAX_BUILT_LEN_V6];
    let ias = IaKinds {
        address: true,
        prefix: true,
    };
    let len = wire6::build_solicit(&mut out, &f, ias, true);
    // RELAY-FORW header (RFC 8415 9.1), then option 9 holding the client message; dhcproto
    // 0.12 decodes option 9 as a relay message, so the inner message is decoded on its own.
    assert_eq!(out[0], 12);
    assert_eq!(&out[2..18], &Ipv6Addr::LOCALHOST.octets());
    assert_eq!(&out[18..34], &wire6::peer_address(7).octets());
    assert_eq!(&out[34..36], &[0, 9]);
    let inner_len = u16::from_be_bytes([out[36], out[37]]) as usize;
    assert_eq!(38 + inner_len, len);
    let msg = v6::Message::decode(&mut Decoder::new(&out[38..len]))
        .unwrap_or_else(|e| panic!("dhcproto rejects our SOLICIT: {e}"));
    assert_eq!(msg.msg_type(), v6::MessageType::Solicit);
    assert_eq!(msg.xid_num(), 0x00ab_cdef);
    assert_eq!(
        msg.opts().get(v6::OptionCode::ClientId),
        Some(&v6::DhcpOption::ClientId(duid.clone()))
    );
    match msg.opts().get(v6::OptionCode::IANA) {
        Some(v6::DhcpOption::IANA(ia)) => assert_eq!((ia.id, ia.t1, ia.t2), (1, 3600, 5400)),
        other => panic!("IA_NA: {other:?}"),
    }
    match msg.opts().get(v6::OptionCode::IAPD) {
        Some(v6::DhcpOption::IAPD(ia)) => assert_eq!(ia.id, 1),
        other => panic!("IA_PD: {other:?}"),
    }
    assert_eq!(
        msg.opts().get(v6::OptionCode::RapidCommit),
        Some(&v6::DhcpOption::RapidCommit)
    );
    assert_eq!(
        msg.opts().get(v6::OptionCode::ElapsedTime),
        Some(&v6::DhcpOption::ElapsedTime(0))
    );
}

#[test]
fn v6_release_decodes_with_server_id_and_client_id() {
    let duid = wire6::default_duid(&MAC, 1);
    let f = ClientFrame6 {
        xid: 5,
        duid: &duid,
        link_address: Ipv6Addr::LOCALHOST,
        peer_address: wire6::peer_address(1),
        relay_port: None,
        relayed: true,
    };
    let server_id_option = [0, 2, 0, 4, 0, 2, 0xab, 0xcd];
    let mut out = [0u8; MAX_BUILT_LEN_V6];
    let len = wire6::build_with_lease(&mut out, &f, MessageType6::Release, &server_id_option, &[]);
    let msg = v6::Message::decode(&mut Decoder::new(&out[38..len]))
        .unwrap_or_else(|e| panic!("dhcproto rejects our RELEASE: {e}"));
    assert_eq!(msg.msg_type(), v6::MessageType::Release);
    assert_eq!(
        msg.opts().get(v6::OptionCode::ServerId),
        Some(&v6::DhcpOption::ServerId(vec![0, 2, 0xab, 0xcd]))
    );
    assert_eq!(
        msg.opts().get(v6::OptionCode::ClientId),
        Some(&v6::DhcpOption::ClientId(duid))
    );
}
