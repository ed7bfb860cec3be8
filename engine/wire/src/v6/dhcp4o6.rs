//! DHCPv4-over-DHCPv6 (RFC 7341) as Kea's two servers pass it to each other.
//!
//! Kea serves 4o6 with two processes: the DHCPv6 server receives a DHCPv4-query (type 20) from a
//! client or through relays and forwards the whole DHCPv6 message, relay layers included, over a
//! UDP socket on `::1` (the DHCPv6 side is bound to `dhcp4o6-port`, the DHCPv4 side to the
//! next port, ARM 9.2.26 / 10.2.26). What the DHCPv4 server cannot see, the sender adds in an ISC
//! vendor option (17, enterprise 2495) of the client/server message: sub-option 60000 the
//! name of the interface the query arrived on, 60001 its IPv6 source address, 60002 its source
//! port (Kea's `Dhcp4o6IpcBase::send`; the receiver strips them again, `receive`). The DHCPv4
//! server answers with a DHCPv4-response (type 21) carrying the same three sub-options and the
//! query's relay layers turned into Relay-reply layers (Kea's `initResponse4o6` and
//! `Pkt6::copyRelayInfo`: hop count, link and peer address, Interface-ID and Relay Source Port
//! echoed); the DHCPv6 server strips the sub-options and sends the result to the client or the
//! relay. Kea's `Pkt6::pack` writes a relay's own options before its Relay Message option and
//! a message's options in code order; so do the functions here, so the bytes match Kea's.
//!
//! Everything here works in place on the caller's buffers and never allocates.

use super::{
    opt, relay_message_of, Dhcp6Packet, Dhcp6Writer, MessageType, Options6, MAX_RELAY_DEPTH,
    RELAY_HEADER_LEN,
};
use crate::error::WireError;
use std::net::Ipv6Addr;

/// ISC's IANA enterprise number, which scopes the 4o6 sub-options.
pub const ENTERPRISE_ID_ISC: u32 = 2495;
/// Sub-option: the name of the DHCPv6 server's interface the query came in on (a string).
pub const ISC_V6_4O6_INTERFACE: u16 = 60000;
/// Sub-option: the query's IPv6 source address (the client's, or the first relay's).
pub const ISC_V6_4O6_SRC_ADDRESS: u16 = 60001;
/// Sub-option: the query's UDP source port (RFC 8357 relays may use another than 547).
pub const ISC_V6_4O6_SRC_PORT: u16 = 60002;
/// RFC 8357 Relay Source Port option, echoed in the Relay-reply of a relay that sent it.
pub const RELAY_SOURCE_PORT: u16 = 135;

/// Why a message passed between the two 4o6 servers was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dhcp4o6Error {
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Kea logs DHCPSRV_DHCP4O6_RECEIVED_BAD_PACKET "no ISC vendor option".
    #[error("malformed packet (no ISC vendor option)")]
    NoIscVendorOption,
    /// An ISC sub-option Kea requires is absent or has the wrong length.
    #[error("malformed packet ({name} suboption missing or has incorrect type)")]
    MissingSubOption { code: u16, name: &'static str },
    /// Kea's DHCP4_DHCP4O6_BAD_PACKET "DHCPv4 message option not present".
    #[error("DHCPv4 message option not present")]
    NoDhcpv4Message,
    /// Kea's DHCP4_DHCP4O6_BAD_PACKET "more than one DHCPv4 message option".
    #[error("more than one DHCPv4 message option")]
    SeveralDhcpv4Messages,
}

/// The client-facing side of a 4o6 exchange, as the DHCPv6 server saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint4o6<'a> {
    /// Name of the interface the DHCPv4-query arrived on (bytes as sent; Kea sends UTF-8).
    pub interface: &'a [u8],
    /// The query's IPv6 source: the client, or the relay closest to the server.
    pub address: Ipv6Addr,
    /// The query's UDP source port.
    pub port: u16,
}

/// A message received over the 4o6 socket: the DHCPv6 message as the other server sent it,
/// its client/server message, and the endpoint taken from the ISC vendor option.
#[derive(Debug, Clone, Copy)]
pub struct Ipc4o6<'a> {
    /// The whole message, relay layers included.
    pub message: Dhcp6Packet<&'a [u8]>,
    /// The client/server message at the bottom of the relay chain.
    pub inner: Dhcp6Packet<&'a [u8]>,
    /// How many relay layers wrap `inner`.
    pub relays: usize,
    pub endpoint: Endpoint4o6<'a>,
}

impl<'a> Ipc4o6<'a> {
    /// The DHCPv4 message carried in the DHCPv4 Message option (RFC 7341 7.1); Kea's DHCPv4
    /// side wants exactly one.
    pub fn dhcpv4_message(&self) -> Result<&'a [u8], Dhcp4o6Error> {
        let inner: &'a [u8] = self.inner.into_inner();
        let msg = Dhcp6Packet::new_checked(inner)?;
        let at = msg.options_offset();
        let mut found = None;
        for o in Options6::new(inner.get(at..).unwrap_or(&[]), at) {
            let o = o?;
            if o.code == opt::DHCPV4_MSG {
                if found.is_some() {
                    return Err(Dhcp4o6Error::SeveralDhcpv4Messages);
                }
                found = Some(o.data);
            }
        }
        found.ok_or(Dhcp4o6Error::NoDhcpv4Message)
    }

    /// The Interface-ID of the relay closest to the server (Kea's `getAnyRelayOption(
    /// D6O_INTERFACE_ID, RELAY_GET_FIRST)`), for the `4o6-interface-id` subnet selection.
    pub fn first_relay_interface_id(&self) -> Option<&'a [u8]> {
        if self.relays == 0 {
            return None;
        }
        let outer: &'a [u8] = self.message.into_inner();
        let msg = Dhcp6Packet::new_checked(outer).ok()?;
        let at = msg.options_offset();
        Options6::new(outer.get(at..).unwrap_or(&[]), at).find(opt::INTERFACE_ID)
    }
}

/// True for a vendor option payload of ISC's enterprise.
fn is_isc(vendor: &[u8]) -> bool {
    vendor.get(..4) == Some(&ENTERPRISE_ID_ISC.to_be_bytes()[..])
}

fn is_4o6_suboption(code: u16) -> bool {
    matches!(
        code,
        ISC_V6_4O6_INTERFACE | ISC_V6_4O6_SRC_ADDRESS | ISC_V6_4O6_SRC_PORT
    )
}

/// The first ISC vendor option of a client/server message.
fn isc_vendor_option<'a>(msg: &Dhcp6Packet<&'a [u8]>) -> Option<&'a [u8]> {
    let bytes: &'a [u8] = msg.into_inner();
    let at = msg.options_offset();
    Options6::new(bytes.get(at..).unwrap_or(&[]), at)
        .map_while(Result::ok)
        .find(|o| o.code == opt::VENDOR_OPTS && is_isc(o.data))
        .map(|o| o.data)
}

/// The client/server message inside any relay layers, and how many layers there were.
fn innermost(data: &[u8]) -> Result<(Dhcp6Packet<&[u8]>, usize), WireError> {
    let mut bytes = data;
    for relays in 0..=MAX_RELAY_DEPTH {
        let msg = Dhcp6Packet::new_checked(bytes)?;
        if !msg.is_relay() {
            return Ok((msg, relays));
        }
        bytes = relay_message_of(bytes.get(RELAY_HEADER_LEN..).unwrap_or(&[]))
            .ok_or(WireError::MissingRelayMessage { depth: relays })?;
    }
    Err(WireError::TooManyRelays {
        max: MAX_RELAY_DEPTH,
    })
}

/// Reads a message received over the 4o6 socket (Kea's `Dhcp4o6IpcBase::receive`): the
/// endpoint from the ISC vendor option, which must hold all three sub-options.
pub fn parse_ipc(data: &[u8]) -> Result<Ipc4o6<'_>, Dhcp4o6Error> {
    let message = Dhcp6Packet::new_checked(data)?;
    let (inner, relays) = innermost(data)?;
    let vendor = isc_vendor_option(&inner).ok_or(Dhcp4o6Error::NoIscVendorOption)?;
    let subs = || Options6::new(vendor.get(4..).unwrap_or(&[]), 0).map_while(Result::ok);
    let sub = |code: u16| subs().find(|o| o.code == code).map(|o| o.data);
    let interface = sub(ISC_V6_4O6_INTERFACE).filter(|d| !d.is_empty()).ok_or(
        Dhcp4o6Error::MissingSubOption {
            code: ISC_V6_4O6_INTERFACE,
            name: "interface",
        },
    )?;
    let address = sub(ISC_V6_4O6_SRC_ADDRESS)
        .and_then(|d| <[u8; 16]>::try_from(d).ok())
        .map(Ipv6Addr::from)
        .ok_or(Dhcp4o6Error::MissingSubOption {
            code: ISC_V6_4O6_SRC_ADDRESS,
            name: "source address",
        })?;
    let port = sub(ISC_V6_4O6_SRC_PORT)
        .and_then(|d| <[u8; 2]>::try_from(d).ok())
        .map(u16::from_be_bytes)
        .ok_or(Dhcp4o6Error::MissingSubOption {
            code: ISC_V6_4O6_SRC_PORT,
            name: "source port",
        })?;
    Ok(Ipc4o6 {
        message,
        inner,
        relays,
        endpoint: Endpoint4o6 {
            interface,
            address,
            port,
        },
    })
}

/// Writes the ISC vendor option with the endpoint's three sub-options, after the sub-options
/// of `existing` (a vendor option already in the message) other than those three.
fn write_isc_vendor(
    w: &mut Dhcp6Writer<'_>,
    existing: Option<&[u8]>,
    ep: &Endpoint4o6<'_>,
) -> Result<(), Dhcp4o6Error> {
    w.begin(opt::VENDOR_OPTS)?;
    w.bytes(&ENTERPRISE_ID_ISC.to_be_bytes())?;
    if let Some(data) = existing {
        for o in Options6::new(data.get(4..).unwrap_or(&[]), 0) {
            let o = o?;
            if !is_4o6_suboption(o.code) {
                w.option(o.code, o.data)?;
            }
        }
    }
    w.option(ISC_V6_4O6_INTERFACE, ep.interface)?;
    w.option(ISC_V6_4O6_SRC_ADDRESS, &ep.address.octets())?;
    w.option(ISC_V6_4O6_SRC_PORT, &ep.port.to_be_bytes())?;
    w.end()?;
    Ok(())
}

/// Copies `msg` into `out`, relay layers included, with the client/server message's options
/// written by `body` (each relay's own options come before its Relay Message option, as Kea
/// packs them).
fn rewrite<F>(msg: &Dhcp6Packet<&[u8]>, out: &mut [u8], body: &mut F) -> Result<usize, Dhcp4o6Error>
where
    F: FnMut(&mut Dhcp6Writer<'_>, &Dhcp6Packet<&[u8]>) -> Result<(), Dhcp4o6Error>,
{
    let mut w = if msg.is_relay() {
        Dhcp6Writer::new_relay(
            out,
            msg.msg_type_raw(),
            msg.hop_count(),
            msg.link_address(),
            msg.peer_address(),
        )?
    } else {
        Dhcp6Writer::new(out, msg.msg_type_raw(), msg.transaction_id())?
    };
    rewrite_body(&mut w, msg, 0, body)?;
    Ok(w.finish()?)
}

fn rewrite_body<F>(
    w: &mut Dhcp6Writer<'_>,
    msg: &Dhcp6Packet<&[u8]>,
    depth: usize,
    body: &mut F,
) -> Result<(), Dhcp4o6Error>
where
    F: FnMut(&mut Dhcp6Writer<'_>, &Dhcp6Packet<&[u8]>) -> Result<(), Dhcp4o6Error>,
{
    if !msg.is_relay() {
        return body(w, msg);
    }
    if depth >= MAX_RELAY_DEPTH {
        return Err(WireError::TooManyRelays {
            max: MAX_RELAY_DEPTH,
        }
        .into());
    }
    let mut relayed = None;
    for o in msg.options() {
        let o = o?;
        if o.code == opt::RELAY_MSG {
            // The last one counts, as in Kea (relay_message_of).
            relayed = Some(o.data);
        } else {
            w.option(o.code, o.data)?;
        }
    }
    let inner = Dhcp6Packet::new_checked(relayed.ok_or(WireError::MissingRelayMessage { depth })?)?;
    if inner.is_relay() {
        w.begin_relayed_relay(
            inner.msg_type_raw(),
            inner.hop_count(),
            inner.link_address(),
            inner.peer_address(),
        )?;
    } else {
        w.begin_relayed_message(inner.msg_type_raw(), inner.transaction_id())?;
    }
    rewrite_body(w, &inner, depth + 1, body)?;
    w.end()?;
    Ok(())
}

/// The DHCPv6 side's forward of a DHCPv4-query (Kea's `Dhcpv6Srv::processDhcp4Query` then
/// `Dhcp4o6IpcBase::send`): the received message, relay layers included, with the endpoint in
/// the ISC vendor option of the client/server message (merged into one the client sent, else
/// a new one placed in option-code order). Returns the length written into `out`.
pub fn encode_ipc(
    message: &[u8],
    ep: &Endpoint4o6<'_>,
    out: &mut [u8],
) -> Result<usize, Dhcp4o6Error> {
    let msg = Dhcp6Packet::new_checked(message)?;
    rewrite(&msg, out, &mut |w, inner| {
        let mut placed = false;
        for o in inner.options() {
            let o = o?;
            if !placed && o.code == opt::VENDOR_OPTS && is_isc(o.data) {
                write_isc_vendor(w, Some(o.data), ep)?;
                placed = true;
                continue;
            }
            if !placed && o.code > opt::VENDOR_OPTS {
                write_isc_vendor(w, None, ep)?;
                placed = true;
            }
            w.option(o.code, o.data)?;
        }
        if !placed {
            write_isc_vendor(w, None, ep)?;
        }
        Ok(())
    })
}

/// The message a 4o6 server received over the IPC without the three sub-options the sender
/// added (Kea's `Dhcp4o6IpcBase::receive`; the vendor option goes too when nothing else is
/// left in it). Returns the length written into `out`.
pub fn strip_ipc(ipc: &Ipc4o6<'_>, out: &mut [u8]) -> Result<usize, Dhcp4o6Error> {
    rewrite(&ipc.message, out, &mut |w, inner| {
        let mut stripped = false;
        for o in inner.options() {
            let o = o?;
            if stripped || o.code != opt::VENDOR_OPTS || !is_isc(o.data) {
                w.option(o.code, o.data)?;
                continue;
            }
            stripped = true;
            let subs = Options6::new(o.data.get(4..).unwrap_or(&[]), 0);
            let mut kept = subs.clone().map_while(Result::ok);
            if !kept.any(|s| !is_4o6_suboption(s.code)) {
                continue;
            }
            w.begin(opt::VENDOR_OPTS)?;
            w.bytes(&ENTERPRISE_ID_ISC.to_be_bytes())?;
            for s in subs {
                let s = s?;
                if !is_4o6_suboption(s.code) {
                    w.option(s.code, s.data)?;
                }
            }
            w.end()?;
        }
        Ok(())
    })
}

/// The DHCPv4 side's answer (Kea's `Dhcpv4Exchange::initResponse4o6`, `Pkt4o6::pack`, then
/// `Dhcp4o6IpcBase::send`): a DHCPv4-response with the query's transaction id, carrying
/// `dhcpv4_reply` in a DHCPv4 Message option and the query's endpoint in the ISC vendor option,
/// inside one Relay-reply per Relay-forward of the query (hop count, link and peer address,
/// Interface-ID and Relay Source Port copied). Returns the length written into `out`.
pub fn encode_response(
    query: &Ipc4o6<'_>,
    dhcpv4_reply: &[u8],
    out: &mut [u8],
) -> Result<usize, Dhcp4o6Error> {
    let response = MessageType::Dhcpv4Response.as_u8();
    let relay_repl = MessageType::RelayRepl.as_u8();
    let xid = query.inner.transaction_id();
    let echo = |w: &mut Dhcp6Writer<'_>, layer: &Dhcp6Packet<&[u8]>| -> Result<(), WireError> {
        for code in [opt::INTERFACE_ID, RELAY_SOURCE_PORT] {
            if let Some(data) = layer.option(code) {
                w.option(code, data)?;
            }
        }
        Ok(())
    };
    let mut chain = query.message.relay_chain().take(query.relays);
    let mut w = match chain.next() {
        None => Dhcp6Writer::new(out, response, xid)?,
        Some(first) => {
            let first = first?;
            let mut w = Dhcp6Writer::new_relay(
                out,
                relay_repl,
                first.hop_count(),
                first.link_address(),
                first.peer_address(),
            )?;
            echo(&mut w, &first)?;
            for layer in chain {
                let layer = layer?;
                w.begin_relayed_relay(
                    relay_repl,
                    layer.hop_count(),
                    layer.link_address(),
                    layer.peer_address(),
                )?;
                echo(&mut w, &layer)?;
            }
            w.begin_relayed_message(response, xid)?;
            w
        }
    };
    // Option-code order, as Kea packs them: vendor (17) before DHCPv4 Message (87).
    write_isc_vendor(&mut w, None, &query.endpoint)?;
    w.option(opt::DHCPV4_MSG, dhcpv4_reply)?;
    for _ in 0..query.relays {
        w.end()?;
    }
    Ok(w.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IFACE: &[u8] = b"eth0";
    const SRC: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x42);

    fn ep(port: u16) -> Endpoint4o6<'static> {
        Endpoint4o6 {
            interface: IFACE,
            address: SRC,
            port,
        }
    }

    /// A DHCPv4-query with flags 0 and a 4-byte stand-in for the DHCPv4 message.
    fn query(extra: &[(u16, &[u8])]) -> Vec<u8> {
        let mut buf = vec![0u8; 512];
        let mut w = Dhcp6Writer::new(&mut buf, 20, 0x00ab_cdef).unwrap();
        for (code, data) in extra {
            w.option(*code, data).unwrap();
        }
        w.option(opt::DHCPV4_MSG, &[1, 2, 3, 4]).unwrap();
        let n = w.finish().unwrap();
        buf.truncate(n);
        buf
    }

    fn relayed(inner: &[u8], iid: &[u8], source_port: bool) -> Vec<u8> {
        let mut buf = vec![0u8; 1024];
        let link = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
        let mut w = Dhcp6Writer::new_relay(&mut buf, 12, 0, link, SRC).unwrap();
        w.option(opt::INTERFACE_ID, iid).unwrap();
        if source_port {
            w.option(RELAY_SOURCE_PORT, &[0x12, 0x34]).unwrap();
        }
        w.option(opt::RELAY_MSG, inner).unwrap();
        let n = w.finish().unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn forwarded_query_carries_the_three_isc_suboptions_in_code_order() {
        let q = query(&[(opt::CLIENTID, &[0, 3, 0, 1, 1, 2, 3, 4, 5, 6])]);
        let mut out = [0u8; 512];
        let n = encode_ipc(&q, &ep(546), &mut out).unwrap();
        let mut vendor = vec![0, 17, 0, 38, 0, 0, 0x09, 0xbf];
        vendor.extend_from_slice(&[0xea, 0x60, 0, 4]);
        vendor.extend_from_slice(IFACE);
        vendor.extend_from_slice(&[0xea, 0x61, 0, 16]);
        vendor.extend_from_slice(&SRC.octets());
        vendor.extend_from_slice(&[0xea, 0x62, 0, 2, 0x02, 0x22]);
        let mut expected = q[..18].to_vec(); // header + client-id
        expected.extend_from_slice(&vendor);
        expected.extend_from_slice(&q[18..]); // DHCPv4 Message option
        assert_eq!(&out[..n], &expected[..]);

        let ipc = parse_ipc(&out[..n]).unwrap();
        assert_eq!(ipc.endpoint, ep(546));
        assert_eq!(ipc.relays, 0);
        assert_eq!(ipc.dhcpv4_message().unwrap(), &[1, 2, 3, 4]);
        let mut back = [0u8; 512];
        let m = strip_ipc(&ipc, &mut back).unwrap();
        assert_eq!(
            &back[..m],
            &q[..],
            "stripping gives back the client's message"
        );
    }

    #[test]
    fn forwarding_merges_into_a_client_isc_vendor_option_and_replaces_spoofed_suboptions() {
        let client_vendor = [0, 0, 0x09, 0xbf, 0, 1, 0, 1, 7, 0xea, 0x60, 0, 1, b'x'];
        let q = query(&[(opt::VENDOR_OPTS, &client_vendor)]);
        let mut out = [0u8; 512];
        let n = encode_ipc(&q, &ep(546), &mut out).unwrap();
        let ipc = parse_ipc(&out[..n]).unwrap();
        assert_eq!(
            ipc.endpoint.interface, IFACE,
            "the spoofed interface is gone"
        );
        let mut back = [0u8; 512];
        let m = strip_ipc(&ipc, &mut back).unwrap();
        let stripped = Dhcp6Packet::new_checked(&back[..m]).unwrap();
        assert_eq!(
            stripped.option(opt::VENDOR_OPTS),
            Some(&[0, 0, 0x09, 0xbf, 0, 1, 0, 1, 7][..]),
            "the client's own sub-option stays"
        );
    }

    #[test]
    fn relayed_query_keeps_its_relay_layer_and_the_response_echoes_it() {
        let q = relayed(&query(&[]), b"port-7", true);
        let mut ipc_buf = [0u8; 1024];
        let n = encode_ipc(&q, &ep(547), &mut ipc_buf).unwrap();
        let ipc = parse_ipc(&ipc_buf[..n]).unwrap();
        assert_eq!(ipc.relays, 1);
        assert_eq!(ipc.first_relay_interface_id(), Some(&b"port-7"[..]));
        assert_eq!(ipc.dhcpv4_message().unwrap(), &[1, 2, 3, 4]);

        let mut resp = [0u8; 1024];
        let r = encode_response(&ipc, &[9, 9, 9], &mut resp).unwrap();
        let back = parse_ipc(&resp[..r]).unwrap();
        assert_eq!(back.endpoint, ep(547));
        assert_eq!(back.message.msg_type(), Some(MessageType::RelayRepl));
        assert_eq!(back.message.option(opt::INTERFACE_ID), Some(&b"port-7"[..]));
        assert_eq!(
            back.message.option(RELAY_SOURCE_PORT),
            Some(&[0x12, 0x34][..])
        );
        assert_eq!(back.message.link_address(), ipc.message.link_address());
        assert_eq!(back.inner.msg_type(), Some(MessageType::Dhcpv4Response));
        assert_eq!(back.inner.transaction_id(), 0x00ab_cdef);
        assert_eq!(back.dhcpv4_message().unwrap(), &[9, 9, 9]);

        let mut client = [0u8; 1024];
        let c = strip_ipc(&back, &mut client).unwrap();
        let to_relay = Dhcp6Packet::new_checked(&client[..c]).unwrap();
        let (inner, relays) = to_relay.innermost().unwrap();
        assert_eq!(relays, 1);
        assert_eq!(inner.option(opt::VENDOR_OPTS), None);
        assert_eq!(inner.option(opt::DHCPV4_MSG), Some(&[9, 9, 9][..]));
    }

    #[test]
    fn ipc_messages_without_the_isc_suboptions_are_refused() {
        let q = query(&[]);
        assert_eq!(parse_ipc(&q).unwrap_err(), Dhcp4o6Error::NoIscVendorOption);
        let partial = query(&[(
            opt::VENDOR_OPTS,
            &[0, 0, 0x09, 0xbf, 0xea, 0x60, 0, 2, b'l', b'o'],
        )]);
        assert!(matches!(
            parse_ipc(&partial),
            Err(Dhcp4o6Error::MissingSubOption {
                code: ISC_V6_4O6_SRC_ADDRESS,
                ..
            })
        ));
    }

    #[test]
    fn two_dhcpv4_message_options_are_refused_as_kea_does() {
        let q = query(&[(opt::DHCPV4_MSG, &[5])]);
        let mut out = [0u8; 512];
        let n = encode_ipc(&q, &ep(546), &mut out).unwrap();
        assert_eq!(
            parse_ipc(&out[..n]).unwrap().dhcpv4_message(),
            Err(Dhcp4o6Error::SeveralDhcpv4Messages)
        );
    }

    #[test]
    fn a_buffer_too_small_is_an_error_not_a_panic() {
        let q = relayed(&query(&[]), b"x", false);
        for len in 0..q.len() + 40 {
            let mut out = vec![0u8; len];
            let _ = encode_ipc(&q, &ep(547), &mut out);
        }
    }
}
