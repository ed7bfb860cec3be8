//! DHCPv6 packets as perfdhcp 2.2 writes them with `-A 1`: every client message travels in
//! a RELAY-FORW (RFC 8415 section 9) sent from the relay's port 547, and the server answers
//! with a RELAY-REPL back to that port. Captured from perfdhcp against Kea 2.2:
//! SOLICIT = client-id (DUID-LLT), IA_NA (IAID 1, T1 3600, T2 5400), ORO (23, 24), elapsed
//! time 0, then IA_PD with `-e address-and-prefix`; REQUEST = client-id, the server-id and
//! the IA options copied from the ADVERTISE, elapsed time, under a new transaction id.
//!
//! Builders write into a caller's fixed buffer; the parser borrows the received bytes and
//! returns ranges into them, so nothing here allocates and nothing panics on any input.

use std::net::Ipv6Addr;
use std::ops::Range;

/// Largest packet the builders write: relay header + relay-message option + a client
/// message with two copied IA options of at most `MAX_COPIED_OPTION` bytes each.
pub const MAX_BUILT_LEN_V6: usize = 1024;
/// Longest server-id / IA option copied from a reply into a request.
pub const MAX_COPIED_OPTION: usize = 256;
/// RELAY-FORW / RELAY-REPL fixed part: msg-type, hop-count, link-address, peer-address.
const RELAY_HEADER_LEN: usize = 34;
/// Where the peer-address ends in a relay message: its last four bytes carry the client
/// number, which the reuseport steering program reads (see engine).
pub const PEER_ADDRESS_TAIL: usize = 30;

/// DHCPv6 message types (RFC 8415 section 7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType6 {
    Solicit = 1,
    Advertise = 2,
    Request = 3,
    Renew = 5,
    Reply = 7,
    Release = 8,
    RelayForw = 12,
    RelayRepl = 13,
}

impl MessageType6 {
    fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => MessageType6::Solicit,
            2 => MessageType6::Advertise,
            3 => MessageType6::Request,
            5 => MessageType6::Renew,
            7 => MessageType6::Reply,
            8 => MessageType6::Release,
            12 => MessageType6::RelayForw,
            13 => MessageType6::RelayRepl,
            _ => return None,
        })
    }
}

/// Option codes (RFC 8415 section 21).
mod code {
    pub const CLIENT_ID: u16 = 1;
    pub const SERVER_ID: u16 = 2;
    pub const IA_NA: u16 = 3;
    pub const IAADDR: u16 = 5;
    pub const ORO: u16 = 6;
    pub const ELAPSED_TIME: u16 = 8;
    pub const RELAY_MSG: u16 = 9;
    pub const STATUS_CODE: u16 = 13;
    pub const RAPID_COMMIT: u16 = 14;
    /// RFC 8357 section 5.2: OPTION_RELAY_PORT.
    pub const RELAY_PORT: u16 = 135;
    pub const IA_PD: u16 = 25;
    pub const IAPREFIX: u16 = 26;
}

/// Which IAs a client asks for (perfdhcp -e).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IaKinds {
    pub address: bool,
    pub prefix: bool,
}

/// What is common to every message one simulated client sends through the relay.
#[derive(Clone, Copy, Debug)]
pub struct ClientFrame6<'a> {
    pub xid: u32,
    pub duid: &'a [u8],
    /// RELAY-FORW link-address: the relay's own address (Kea selects the subnet by it,
    /// Kea ARM "DHCPv6 Relays").
    pub link_address: Ipv6Addr,
    /// RELAY-FORW peer-address: the client's address; its last four bytes carry the client
    /// number so replies can be steered to the owning thread.
    pub peer_address: Ipv6Addr,
    /// The relay's UDP port when it is not 547: sent as the RFC 8357 Relay Source Port
    /// option so the server answers there rather than at 547.
    pub relay_port: Option<u16>,
    /// False for a client talking to the server directly on its link (perfdhcp without
    /// -A): the message is sent bare, without RELAY-FORW.
    pub relayed: bool,
}

/// Peer address of client `n`: fe80::/64 with the client number in the last 32 bits.
pub fn peer_address(client: u32) -> Ipv6Addr {
    let [a, b, c, d] = client.to_be_bytes();
    Ipv6Addr::new(
        0xfe80,
        0,
        0,
        0,
        0,
        0,
        u16::from_be_bytes([a, b]),
        u16::from_be_bytes([c, d]),
    )
}

/// A cursor writing into a fixed buffer; writes past the end are dropped and flagged, so a
/// builder can never panic (the buffer is sized so this never happens for valid inputs).
struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
    overflow: bool,
}

impl<'a> Writer<'a> {
    fn new(out: &'a mut [u8]) -> Self {
        Writer {
            out,
            at: 0,
            overflow: false,
        }
    }

    fn bytes(&mut self, data: &[u8]) {
        match self.out.get_mut(self.at..self.at + data.len()) {
            Some(dst) => {
                dst.copy_from_slice(data);
                self.at += data.len();
            }
            None => self.overflow = true,
        }
    }

    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    fn option(&mut self, code: u16, data: &[u8]) {
        self.u16(code);
        self.u16(data.len() as u16);
        self.bytes(data);
    }

    /// Patches a 16-bit length at `at`.
    fn patch_u16(&mut self, at: usize, v: u16) {
        if let Some(dst) = self.out.get_mut(at..at + 2) {
            dst.copy_from_slice(&v.to_be_bytes());
        }
    }
}

/// Writes the RELAY-FORW header and opens the relay-message option; returns the offset of
/// its length field and of the inner message.
fn open_relay(w: &mut Writer<'_>, frame: &ClientFrame6<'_>) -> (usize, usize) {
    if !frame.relayed {
        return (usize::MAX, 0);
    }
    w.bytes(&[MessageType6::RelayForw as u8, 0]);
    w.bytes(&frame.link_address.octets());
    w.bytes(&frame.peer_address.octets());
    if let Some(port) = frame.relay_port {
        w.option(code::RELAY_PORT, &port.to_be_bytes());
    }
    w.u16(code::RELAY_MSG);
    let length_at = w.at;
    w.u16(0);
    (length_at, w.at)
}

fn close_relay(mut w: Writer<'_>, length_at: usize, inner_at: usize) -> usize {
    if length_at != usize::MAX {
        let inner_len = w.at - inner_at;
        w.patch_u16(length_at, inner_len as u16);
    }
    if w.overflow {
        0
    } else {
        w.at
    }
}

fn message_header(w: &mut Writer<'_>, kind: MessageType6, xid: u32) {
    let [_, a, b, c] = xid.to_be_bytes();
    w.bytes(&[kind as u8, a, b, c]);
}

/// IA_NA / IA_PD with IAID 1, T1 3600, T2 5400 and no addresses (as perfdhcp asks).
fn empty_ia(w: &mut Writer<'_>, code: u16) {
    w.option(code, &[0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 0x15, 0x18]);
}

/// A relayed SOLICIT (RFC 8415 18.2.1). Returns the length, 0 if the buffer was too small.
pub fn build_solicit(
    out: &mut [u8; MAX_BUILT_LEN_V6],
    frame: &ClientFrame6<'_>,
    ias: IaKinds,
    rapid_commit: bool,
) -> usize {
    let mut w = Writer::new(out);
    let (length_at, inner_at) = open_relay(&mut w, frame);
    message_header(&mut w, MessageType6::Solicit, frame.xid);
    w.option(code::CLIENT_ID, frame.duid);
    if ias.address {
        empty_ia(&mut w, code::IA_NA);
    }
    w.option(code::ORO, &[0, 23, 0, 24]);
    w.option(code::ELAPSED_TIME, &[0, 0]);
    if ias.prefix {
        empty_ia(&mut w, code::IA_PD);
    }
    if rapid_commit {
        w.option(code::RAPID_COMMIT, &[]);
    }
    close_relay(w, length_at, inner_at)
}

/// A relayed REQUEST / RENEW / RELEASE carrying the server-id and IA options the server
/// sent (RFC 8415 18.2.2, 18.2.4, 18.2.7), given as whole encoded options.
pub fn build_with_lease(
    out: &mut [u8; MAX_BUILT_LEN_V6],
    frame: &ClientFrame6<'_>,
    kind: MessageType6,
    server_id_option: &[u8],
    ia_options: &[&[u8]],
) -> usize {
    let mut w = Writer::new(out);
    let (length_at, inner_at) = open_relay(&mut w, frame);
    message_header(&mut w, kind, frame.xid);
    w.option(code::CLIENT_ID, frame.duid);
    w.bytes(server_id_option);
    for ia in ia_options {
        w.bytes(ia);
    }
    w.option(code::ELAPSED_TIME, &[0, 0]);
    close_relay(w, length_at, inner_at)
}

/// Why a datagram was not a usable RELAY-REPL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reply6Error {
    #[error("datagram of {0} bytes is too short for a relay message")]
    TooShort(usize),
    #[error("message type {0} is not RELAY-REPL (13)")]
    NotRelayReply(u8),
    #[error("option {0} runs past the end of its message")]
    TruncatedOption(u16),
    #[error("RELAY-REPL carries no relay-message option")]
    NoRelayMessage,
    #[error("unknown inner message type {0}")]
    UnknownMessageType(u8),
}

/// What the generator needs from a server reply. Ranges index the received datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply6 {
    pub message_type: MessageType6,
    pub xid: u32,
    /// The last four bytes of the relay's peer-address (the client number).
    pub peer_tail: u32,
    /// The whole server-id option (code, length, data).
    pub server_id: Option<Range<usize>>,
    /// The whole IA_NA option, if any.
    pub ia_na: Option<Range<usize>>,
    /// The whole IA_PD option, if any.
    pub ia_pd: Option<Range<usize>>,
    /// First address in IA_NA and its valid lifetime.
    pub address: Option<(Ipv6Addr, u32)>,
    /// First prefix in IA_PD: prefix, length, valid lifetime.
    pub prefix: Option<(Ipv6Addr, u8, u32)>,
    /// A non-zero status code anywhere in the message or its IAs (RFC 8415 21.13).
    pub failed_status: bool,
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    bytes
        .get(at..at + 2)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(u16::from_be_bytes)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
}

fn read_ipv6(bytes: &[u8], at: usize) -> Option<Ipv6Addr> {
    bytes
        .get(at..at + 16)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(Ipv6Addr::from)
}

/// Walks the options in `bytes[start..end]`, calling `visit(code, option_start, data_range)`.
fn walk_options(
    bytes: &[u8],
    start: usize,
    end: usize,
    mut visit: impl FnMut(u16, usize, Range<usize>),
) -> Result<(), Reply6Error> {
    let mut at = start;
    while at + 4 <= end {
        let code = read_u16(bytes, at).ok_or(Reply6Error::TruncatedOption(0))?;
        let len = read_u16(bytes, at + 2).ok_or(Reply6Error::TruncatedOption(code))? as usize;
        let data = at + 4..at + 4 + len;
        if data.end > end || data.end > bytes.len() {
            return Err(Reply6Error::TruncatedOption(code));
        }
        visit(code, at, data.clone());
        at = data.end;
    }
    Ok(())
}

fn status_failed(bytes: &[u8], data: &Range<usize>) -> bool {
    read_u16(bytes, data.start).is_some_and(|status| status != 0)
}

/// Parses a server message sent straight to a client on its link (no relay).
pub fn parse_direct_reply(bytes: &[u8]) -> Result<Reply6, Reply6Error> {
    parse_message(bytes, 0..bytes.len(), 0)
}

/// Parses a RELAY-REPL and the server message inside it.
pub fn parse_relay_reply(bytes: &[u8]) -> Result<Reply6, Reply6Error> {
    if bytes.len() < RELAY_HEADER_LEN + 4 {
        return Err(Reply6Error::TooShort(bytes.len()));
    }
    let kind = bytes.first().copied().unwrap_or(0);
    if kind != MessageType6::RelayRepl as u8 {
        return Err(Reply6Error::NotRelayReply(kind));
    }
    let peer_tail = read_u32(bytes, PEER_ADDRESS_TAIL).unwrap_or(0);
    let mut inner = None;
    walk_options(bytes, RELAY_HEADER_LEN, bytes.len(), |code, _, data| {
        if code == code::RELAY_MSG {
            inner = Some(data);
        }
    })?;
    let inner = inner.ok_or(Reply6Error::NoRelayMessage)?;
    parse_message(bytes, inner, peer_tail)
}

/// Parses the server message at `bytes[inner]`.
fn parse_message(bytes: &[u8], inner: Range<usize>, peer_tail: u32) -> Result<Reply6, Reply6Error> {
    if inner.len() < 4 {
        return Err(Reply6Error::TooShort(inner.len()));
    }
    let type_byte = bytes.get(inner.start).copied().unwrap_or(0);
    let message_type =
        MessageType6::from_u8(type_byte).ok_or(Reply6Error::UnknownMessageType(type_byte))?;
    let xid = read_u32(bytes, inner.start).unwrap_or(0) & 0x00ff_ffff;
    let mut reply = Reply6 {
        message_type,
        xid,
        peer_tail,
        server_id: None,
        ia_na: None,
        ia_pd: None,
        address: None,
        prefix: None,
        failed_status: false,
    };
    let mut nested: [Option<(u16, Range<usize>)>; 2] = [None, None];
    walk_options(
        bytes,
        inner.start + 4,
        inner.end,
        |code, start, data| match code {
            code::SERVER_ID => reply.server_id = Some(start..data.end),
            code::IA_NA if reply.ia_na.is_none() => {
                reply.ia_na = Some(start..data.end);
                nested[0] = Some((code, data));
            }
            code::IA_PD if reply.ia_pd.is_none() => {
                reply.ia_pd = Some(start..data.end);
                nested[1] = Some((code, data));
            }
            code::STATUS_CODE => reply.failed_status |= status_failed(bytes, &data),
            _ => {}
        },
    )?;
    // IA_NA / IA_PD: IAID, T1, T2 (12 bytes), then IAADDR / IAPREFIX / status options.
    for (ia_code, data) in nested.into_iter().flatten() {
        walk_options(bytes, data.start + 12, data.end, |code, _, d| {
            match (ia_code, code) {
                (code::IA_NA, code::IAADDR) if reply.address.is_none() => {
                    if let (Some(addr), Some(valid)) =
                        (read_ipv6(bytes, d.start), read_u32(bytes, d.start + 20))
                    {
                        reply.address = Some((addr, valid));
                    }
                }
                (code::IA_PD, code::IAPREFIX) if reply.prefix.is_none() => {
                    let len = bytes.get(d.start + 8).copied().unwrap_or(0);
                    if let (Some(valid), Some(prefix)) =
                        (read_u32(bytes, d.start + 4), read_ipv6(bytes, d.start + 9))
                    {
                        reply.prefix = Some((prefix, len, valid));
                    }
                }
                (_, code::STATUS_CODE) => reply.failed_status |= status_failed(bytes, &d),
                _ => {}
            }
        })?;
    }
    Ok(reply)
}

/// DUID of client `n`: the -b duid template (default DUID-LLT with the -b mac base) with `n`
/// added to its last six bytes, as perfdhcp varies the MAC part.
pub fn client_duid(template: &[u8], n: u32, out: &mut [u8; 64]) -> usize {
    let len = template.len().min(out.len());
    out[..len].copy_from_slice(&template[..len]);
    let tail_len = len.min(6);
    let tail_start = len - tail_len;
    let mut value = 0u64;
    for byte in &out[tail_start..len] {
        value = (value << 8) | u64::from(*byte);
    }
    let value = value.wrapping_add(u64::from(n));
    let bytes = value.to_be_bytes();
    out[tail_start..len].copy_from_slice(&bytes[8 - tail_len..]);
    len
}

/// perfdhcp's default DUID: DUID-LLT (type 1), hardware type 1, a time, the MAC base.
pub fn default_duid(mac: &[u8; 6], time: u32) -> Vec<u8> {
    let mut duid = vec![0, 1, 0, 1];
    duid.extend_from_slice(&time.to_be_bytes());
    duid.extend_from_slice(mac);
    duid
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUID: [u8; 14] = [0, 1, 0, 1, 0x32, 0x97, 0xcc, 0x39, 0, 0x0c, 1, 2, 3, 4];

    fn frame(xid: u32) -> ClientFrame6<'static> {
        ClientFrame6 {
            xid,
            duid: &DUID,
            link_address: Ipv6Addr::LOCALHOST,
            peer_address: Ipv6Addr::LOCALHOST,
            relay_port: None,
            relayed: true,
        }
    }

    #[test]
    fn direct_solicit_is_the_bare_client_message() {
        let mut out = [0u8; MAX_BUILT_LEN_V6];
        let mut f = frame(0);
        f.relayed = false;
        let ias = IaKinds {
            address: true,
            prefix: false,
        };
        let len = build_solicit(&mut out, &f, ias, false);
        assert_eq!(&out[..len], &PERFDHCP_SOLICIT[38..]);
        let mut reply = PERFDHCP_SOLICIT[38..].to_vec();
        reply[0] = MessageType6::Advertise as u8;
        let parsed = parse_direct_reply(&reply);
        assert!(
            matches!(
                parsed,
                Ok(Reply6 {
                    message_type: MessageType6::Advertise,
                    xid: 0,
                    ..
                })
            ),
            "{parsed:?}"
        );
    }

    #[test]
    fn relay_port_other_than_547_adds_rfc8357_option_before_the_message() {
        let mut out = [0u8; MAX_BUILT_LEN_V6];
        let mut f = frame(0);
        f.relay_port = Some(5600);
        let ias = IaKinds {
            address: true,
            prefix: false,
        };
        let len = build_solicit(&mut out, &f, ias, false);
        assert_eq!(len, PERFDHCP_SOLICIT.len() + 6);
        assert_eq!(&out[34..40], &[0, 135, 0, 2, 0x15, 0xe0]);
        assert_eq!(&out[40..len], &PERFDHCP_SOLICIT[34..]);
    }

    /// perfdhcp 2.2 `-6 -A 1 -l lo` SOLICIT, UDP payload (tcpdump).
    const PERFDHCP_SOLICIT: [u8; 90] = [
        0x0c, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 1, 0x00, 0x09, 0x00, 0x34, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x0e,
        0x00, 0x01, 0x00, 0x01, 0x32, 0x97, 0xcc, 0x39, 0x00, 0x0c, 0x01, 0x02, 0x03, 0x04, 0x00,
        0x03, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x00, 0x15, 0x18,
        0x00, 0x06, 0x00, 0x04, 0x00, 0x17, 0x00, 0x18, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00,
    ];

    #[test]
    fn solicit_matches_perfdhcp_capture() {
        let mut out = [0u8; MAX_BUILT_LEN_V6];
        let ias = IaKinds {
            address: true,
            prefix: false,
        };
        let len = build_solicit(&mut out, &frame(0), ias, false);
        assert_eq!(&out[..len], &PERFDHCP_SOLICIT[..]);
    }

    #[test]
    fn solicit_with_prefix_and_rapid_commit_appends_ia_pd_and_option_14() {
        let mut out = [0u8; MAX_BUILT_LEN_V6];
        let ias = IaKinds {
            address: true,
            prefix: true,
        };
        let len = build_solicit(&mut out, &frame(0), ias, true);
        assert_eq!(
            &out[len - 20..len],
            &[0, 0x19, 0, 0x0c, 0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 0x15, 0x18, 0, 14, 0, 0]
        );
        assert_eq!(u16::from_be_bytes([out[36], out[37]]) as usize, len - 38);
    }

    /// Kea 2.2's RELAY-REPL(ADVERTISE) to the SOLICIT above, with address and prefix.
    fn kea_advertise() -> Vec<u8> {
        let mut p = vec![0x0d, 0x00];
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(&peer_address(7).octets());
        let inner: Vec<u8> = [
            &[0x02, 0x00, 0x00, 0x05][..],
            &[0, 1, 0, 14],
            &DUID,
            &[0, 2, 0, 11, 0, 2, 0, 0, 0x09, 0xbf, 1, 2, 3, 4, 5],
            &[
                0, 3, 0, 40, 0, 0, 0, 1, 0, 0, 5, 0xdc, 0, 0, 9, 0x60, 0, 5, 0, 24,
            ],
            &[
                0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x01,
            ],
            &[0, 0, 0x0b, 0xb8, 0, 0, 0x0f, 0xa0],
            &[
                0, 0x19, 0, 41, 0, 0, 0, 1, 0, 0, 5, 0xdc, 0, 0, 9, 0x60, 0, 0x1a, 0, 25,
            ],
            &[0, 0, 0x0b, 0xb8, 0, 0, 0x0f, 0xa0, 0x38],
            &[
                0x20, 0x01, 0x0d, 0xb8, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        ]
        .concat();
        p.extend_from_slice(&[0, 9]);
        p.extend_from_slice(&(inner.len() as u16).to_be_bytes());
        p.extend_from_slice(&inner);
        p
    }

    #[test]
    fn parses_kea_advertise_address_prefix_and_server_id() {
        let bytes = kea_advertise();
        let reply = parse_relay_reply(&bytes);
        let Ok(reply) = reply else {
            panic!("{reply:?}");
        };
        assert_eq!(reply.message_type, MessageType6::Advertise);
        assert_eq!(reply.xid, 5);
        assert_eq!(reply.peer_tail, 7);
        assert!(!reply.failed_status);
        assert_eq!(
            reply.address,
            Some((
                "2001:db8::1001".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
                4000
            ))
        );
        assert_eq!(
            reply.prefix,
            Some((
                "2001:db8:8000::".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
                56,
                4000
            ))
        );
        let sid = reply.server_id.clone().unwrap_or(0..0);
        assert_eq!(
            &bytes[sid],
            &[0, 2, 0, 11, 0, 2, 0, 0, 0x09, 0xbf, 1, 2, 3, 4, 5]
        );
        let ia = reply.ia_na.clone().unwrap_or(0..0);
        assert_eq!(ia.len(), 44);
    }

    #[test]
    fn request_copies_server_id_and_ia_under_new_xid() {
        let bytes = kea_advertise();
        let Ok(reply) = parse_relay_reply(&bytes) else {
            panic!("advertise does not parse");
        };
        let sid = &bytes[reply.server_id.clone().unwrap_or(0..0)];
        let ia = &bytes[reply.ia_na.clone().unwrap_or(0..0)];
        let mut out = [0u8; MAX_BUILT_LEN_V6];
        let len = build_with_lease(&mut out, &frame(1), MessageType6::Request, sid, &[ia]);
        let inner = &out[38..len];
        assert_eq!(&inner[..4], &[3, 0, 0, 1]);
        assert_eq!(&inner[4 + 18..4 + 18 + sid.len()], sid);
        assert_eq!(&inner[inner.len() - 6..], &[0, 8, 0, 2, 0, 0]);
    }

    #[test]
    fn truncated_replies_are_errors_not_panics() {
        let full = kea_advertise();
        for len in 0..full.len() {
            assert!(
                parse_relay_reply(&full[..len]).is_err(),
                "prefix of {len} bytes parsed"
            );
        }
    }

    #[test]
    fn corrupted_relay_replies_never_panic() {
        let base = kea_advertise();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut parsed = 0;
        for _ in 0..20_000 {
            let mut p = base.clone();
            for _ in 0..(next() % 8) {
                let at = (next() as usize) % p.len();
                p[at] = next() as u8;
            }
            let keep = (next() as usize) % (p.len() + 1);
            p.truncate(keep);
            if let Ok(reply) = parse_relay_reply(&p) {
                parsed += 1;
                for range in [&reply.server_id, &reply.ia_na, &reply.ia_pd]
                    .into_iter()
                    .flatten()
                {
                    assert!(
                        range.end <= p.len(),
                        "range {range:?} past {} bytes",
                        p.len()
                    );
                }
            }
        }
        assert!(parsed > 0, "the noise never left a parsable reply");
    }

    #[test]
    fn status_code_failure_is_reported() {
        let mut p = vec![0x0d, 0x00];
        p.extend_from_slice(&[0u8; 32]);
        let inner = [7u8, 0, 0, 9, 0, 13, 0, 2, 0, 2];
        p.extend_from_slice(&[0, 9, 0, inner.len() as u8]);
        p.extend_from_slice(&inner);
        let reply = parse_relay_reply(&p);
        assert!(
            matches!(
                reply,
                Ok(Reply6 {
                    failed_status: true,
                    xid: 9,
                    ..
                })
            ),
            "{reply:?}"
        );
    }

    #[test]
    fn client_duids_vary_in_the_mac_part() {
        let mut out = [0u8; 64];
        let len = client_duid(&DUID, 0x101, &mut out);
        assert_eq!(
            &out[..len],
            &[0, 1, 0, 1, 0x32, 0x97, 0xcc, 0x39, 0, 0x0c, 1, 2, 4, 5]
        );
        assert_eq!(
            default_duid(&[0, 0x0c, 1, 2, 3, 4], 0x3297cc39),
            DUID.to_vec()
        );
    }

    #[test]
    fn peer_address_carries_client_number_at_the_steering_offset() {
        let mut out = [0u8; MAX_BUILT_LEN_V6];
        let mut f = frame(0);
        f.peer_address = peer_address(0x01020304);
        build_solicit(
            &mut out,
            &f,
            IaKinds {
                address: true,
                prefix: false,
            },
            false,
        );
        assert_eq!(
            &out[PEER_ADDRESS_TAIL..PEER_ADDRESS_TAIL + 4],
            &[1, 2, 3, 4]
        );
    }
}
