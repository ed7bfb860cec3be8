//! The generator's own small DHCPv4 codec: it writes exactly the DISCOVER / REQUEST / RELEASE
//! packets perfdhcp 2.2 writes (same fields, same options in the same order, captured from a real
//! perfdhcp run against Kea 2.2) and reads the handful of reply fields the generator needs.
//!
//! Builders write into a caller's fixed buffer and return the length; the reader borrows the
//! received bytes. Nothing here allocates, and nothing panics whatever the received bytes say:
//! every read is bounds-checked through `get`.

use std::net::Ipv4Addr;

/// Fixed BOOTP header length up to and including `file` (RFC 2131 section 2, figure 1).
pub const BOOTP_HEADER_LEN: usize = 236;
/// RFC 2131 section 3: the options field starts with the magic cookie 99.130.83.99.
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Largest packet the builders write (a RELEASE or REQUEST is well under this).
pub const MAX_BUILT_LEN: usize = 300;

mod field {
    use std::ops::Range;
    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const HOPS: usize = 3;
    pub const XID: Range<usize> = 4..8;
    pub const FLAGS: Range<usize> = 10..12;
    pub const CIADDR: Range<usize> = 12..16;
    pub const YIADDR: Range<usize> = 16..20;
    pub const GIADDR: Range<usize> = 24..28;
    pub const CHADDR: Range<usize> = 28..44;
    pub const COOKIE: Range<usize> = 236..240;
}

/// DHCP message types (RFC 2132 section 9.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    Discover = 1,
    Offer = 2,
    Request = 3,
    Decline = 4,
    Ack = 5,
    Nak = 6,
    Release = 7,
    Inform = 8,
}

impl MessageType {
    fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            _ => return None,
        })
    }
}

/// Option codes the generator writes or reads (RFC 2132).
mod code {
    pub const PAD: u8 = 0;
    pub const LEASE_TIME: u8 = 51;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const REQUESTED_ADDRESS: u8 = 50;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    pub const CLIENT_ID: u8 = 61;
    pub const RELAY_AGENT_INFO: u8 = 82;
    /// RFC 8357 section 5.1: Relay Source Port sub-option of option 82.
    pub const RELAY_SOURCE_PORT: u8 = 19;
    pub const END: u8 = 255;
}

/// The parameter request list perfdhcp sends: subnet mask, broadcast address, time offset,
/// routers, domain name, DNS servers, host name (as captured on the wire).
const PARAMETER_REQUEST_LIST: [u8; 7] = [1, 28, 2, 3, 15, 6, 12];

/// What is common to every packet one simulated client sends through the simulated relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientFrame {
    pub xid: u32,
    pub mac: [u8; 6],
    /// The relay address (perfdhcp puts its local address here, RFC 2131 4.1: giaddr).
    pub giaddr: Ipv4Addr,
    /// perfdhcp -B: set the BROADCAST flag (RFC 2131 section 2, figure 2).
    pub broadcast: bool,
    /// The relay's UDP port when it is not 67. Servers answer relays at port 67 (Kea 2.2
    /// does, whatever port it listens on) unless the relay agent information option carries
    /// the RFC 8357 relay source port sub-option, which makes them answer at the port the
    /// request came from; perfdhcp never sends it, so its -L is only usable at 67.
    pub relay_port: Option<u16>,
}

/// Writes the fixed header of a client message and the magic cookie; returns the offset
/// where options begin.
fn write_header(out: &mut [u8; MAX_BUILT_LEN], frame: &ClientFrame, ciaddr: Ipv4Addr) -> usize {
    out.fill(0);
    out[field::OP] = 1; // BOOTREQUEST
    out[field::HTYPE] = 1; // Ethernet
    out[field::HLEN] = 6;
    // perfdhcp simulates one relay hop: hops = 1 (RFC 1542 4.1.1 relays increment hops).
    out[field::HOPS] = 1;
    out[field::XID].copy_from_slice(&frame.xid.to_be_bytes());
    if frame.broadcast {
        out[field::FLAGS].copy_from_slice(&0x8000u16.to_be_bytes());
    }
    out[field::CIADDR].copy_from_slice(&ciaddr.octets());
    out[field::GIADDR].copy_from_slice(&frame.giaddr.octets());
    out[field::CHADDR.start..field::CHADDR.start + 6].copy_from_slice(&frame.mac);
    out[field::COOKIE].copy_from_slice(&MAGIC_COOKIE);
    BOOTP_HEADER_LEN + MAGIC_COOKIE.len()
}

/// Appends one option; `at` is where it starts. The buffer is sized so that the fixed option
/// sets below always fit.
fn put_option(out: &mut [u8; MAX_BUILT_LEN], at: usize, code: u8, data: &[u8]) -> usize {
    out[at] = code;
    out[at + 1] = data.len() as u8;
    out[at + 2..at + 2 + data.len()].copy_from_slice(data);
    at + 2 + data.len()
}

/// Client identifier perfdhcp sends: hardware type 1 followed by the MAC (RFC 2132 9.14).
pub fn client_id(mac: &[u8; 6]) -> [u8; 7] {
    let mut id = [0u8; 7];
    id[0] = 1;
    id[1..].copy_from_slice(mac);
    id
}

fn put_common_tail(out: &mut [u8; MAX_BUILT_LEN], at: usize, frame: &ClientFrame) -> usize {
    let at = put_option(
        out,
        at,
        code::PARAMETER_REQUEST_LIST,
        &PARAMETER_REQUEST_LIST,
    );
    let at = put_option(out, at, code::CLIENT_ID, &client_id(&frame.mac));
    finish(out, at, frame)
}

/// Appends the relay agent information option when the relay port is not 67 (RFC 3046 2.1:
/// the relay agent's option goes last), then END.
fn finish(out: &mut [u8; MAX_BUILT_LEN], at: usize, frame: &ClientFrame) -> usize {
    let at = match frame.relay_port {
        Some(port) => {
            let [hi, lo] = port.to_be_bytes();
            put_option(
                out,
                at,
                code::RELAY_AGENT_INFO,
                &[code::RELAY_SOURCE_PORT, 2, hi, lo],
            )
        }
        None => at,
    };
    out[at] = code::END;
    at + 1
}

/// A relayed DHCPDISCOVER (RFC 2131 4.4.1), byte for byte as perfdhcp 2.2 writes it.
pub fn build_discover(out: &mut [u8; MAX_BUILT_LEN], frame: &ClientFrame) -> usize {
    let at = write_header(out, frame, Ipv4Addr::UNSPECIFIED);
    let at = put_option(out, at, code::MESSAGE_TYPE, &[MessageType::Discover as u8]);
    put_common_tail(out, at, frame)
}

/// A DHCPREQUEST in SELECTING state (RFC 2131 4.3.2): requested address and server
/// identifier copied from the OFFER, ciaddr zero, same xid as the DISCOVER.
pub fn build_request_selecting(
    out: &mut [u8; MAX_BUILT_LEN],
    frame: &ClientFrame,
    requested: Ipv4Addr,
    server_id: Ipv4Addr,
) -> usize {
    let at = write_header(out, frame, Ipv4Addr::UNSPECIFIED);
    let at = put_option(out, at, code::MESSAGE_TYPE, &[MessageType::Request as u8]);
    let at = put_option(out, at, code::REQUESTED_ADDRESS, &requested.octets());
    let at = put_option(out, at, code::SERVER_ID, &server_id.octets());
    put_common_tail(out, at, frame)
}

/// A DHCPREQUEST in RENEWING state (RFC 2131 4.3.2: ciaddr filled, no requested address and
/// no server identifier), as perfdhcp -f sends.
pub fn build_request_renewing(
    out: &mut [u8; MAX_BUILT_LEN],
    frame: &ClientFrame,
    leased: Ipv4Addr,
) -> usize {
    let at = write_header(out, frame, leased);
    let at = put_option(out, at, code::MESSAGE_TYPE, &[MessageType::Request as u8]);
    put_common_tail(out, at, frame)
}

/// A DHCPRELEASE (RFC 2131 4.4.6: ciaddr = the address, server identifier required).
pub fn build_release(
    out: &mut [u8; MAX_BUILT_LEN],
    frame: &ClientFrame,
    leased: Ipv4Addr,
    server_id: Ipv4Addr,
) -> usize {
    let at = write_header(out, frame, leased);
    let at = put_option(out, at, code::MESSAGE_TYPE, &[MessageType::Release as u8]);
    let at = put_option(out, at, code::SERVER_ID, &server_id.octets());
    let at = put_option(out, at, code::CLIENT_ID, &client_id(&frame.mac));
    finish(out, at, frame)
}

/// Why a received datagram was not a usable server reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    #[error("datagram of {0} bytes is shorter than a BOOTP header and magic cookie (240)")]
    TooShort(usize),
    #[error("op is {0}, not BOOTREPLY (2)")]
    NotBootReply(u8),
    #[error("magic cookie is not 99.130.83.99")]
    BadCookie,
    #[error("option {0} runs past the end of the packet")]
    TruncatedOption(u8),
    #[error("no DHCP message type option (53)")]
    NoMessageType,
    #[error("unknown DHCP message type {0}")]
    UnknownMessageType(u8),
}

/// The fields of a server reply the generator uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    pub message_type: MessageType,
    pub xid: u32,
    pub yiaddr: Ipv4Addr,
    pub mac: [u8; 6],
    pub server_id: Option<Ipv4Addr>,
    pub lease_time: Option<u32>,
}

fn read_ipv4(bytes: &[u8], range: std::ops::Range<usize>) -> Option<Ipv4Addr> {
    let b = bytes.get(range)?;
    let arr: [u8; 4] = b.try_into().ok()?;
    Some(Ipv4Addr::from(arr))
}

/// Parses a server reply. Options are walked once, without allocating; an option that runs
/// past the end is an error rather than a silent truncation.
pub fn parse_reply(bytes: &[u8]) -> Result<Reply, ReplyError> {
    if bytes.len() < BOOTP_HEADER_LEN + MAGIC_COOKIE.len() {
        return Err(ReplyError::TooShort(bytes.len()));
    }
    let op = bytes.get(field::OP).copied().unwrap_or(0);
    if op != 2 {
        return Err(ReplyError::NotBootReply(op));
    }
    if bytes.get(field::COOKIE) != Some(&MAGIC_COOKIE[..]) {
        return Err(ReplyError::BadCookie);
    }
    let xid = bytes
        .get(field::XID)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .unwrap_or(0);
    let yiaddr = read_ipv4(bytes, field::YIADDR).unwrap_or(Ipv4Addr::UNSPECIFIED);
    let mut mac = [0u8; 6];
    if let Some(b) = bytes.get(field::CHADDR.start..field::CHADDR.start + 6) {
        mac.copy_from_slice(b);
    }
    let mut message_type = None;
    let mut server_id = None;
    let mut lease_time = None;
    let mut at = BOOTP_HEADER_LEN + MAGIC_COOKIE.len();
    while let Some(&option) = bytes.get(at) {
        match option {
            code::PAD => {
                at += 1;
                continue;
            }
            code::END => break,
            _ => {}
        }
        let len = *bytes
            .get(at + 1)
            .ok_or(ReplyError::TruncatedOption(option))? as usize;
        let data = bytes
            .get(at + 2..at + 2 + len)
            .ok_or(ReplyError::TruncatedOption(option))?;
        match (option, data) {
            (code::MESSAGE_TYPE, [t]) => {
                message_type =
                    Some(MessageType::from_u8(*t).ok_or(ReplyError::UnknownMessageType(*t))?)
            }
            (code::SERVER_ID, [a, b, c, d]) => server_id = Some(Ipv4Addr::new(*a, *b, *c, *d)),
            (code::LEASE_TIME, [a, b, c, d]) => {
                lease_time = Some(u32::from_be_bytes([*a, *b, *c, *d]))
            }
            _ => {}
        }
        at += 2 + len;
    }
    Ok(Reply {
        message_type: message_type.ok_or(ReplyError::NoMessageType)?,
        xid,
        yiaddr,
        mac,
        server_id,
        lease_time,
    })
}

/// Transaction id of a datagram without parsing the rest (used to match replies to the
/// thread that owns them and in the reuseport steering test).
pub fn peek_xid(bytes: &[u8]) -> Option<u32> {
    bytes
        .get(field::XID)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> ClientFrame {
        ClientFrame {
            xid: 1,
            mac: [0x00, 0x0c, 0x01, 0x02, 0x03, 0x05],
            giaddr: Ipv4Addr::new(127, 0, 0, 2),
            broadcast: false,
            relay_port: None,
        }
    }

    #[test]
    fn relay_port_other_than_67_adds_rfc8357_sub_option_last() {
        let mut out = [0u8; MAX_BUILT_LEN];
        let mut f = frame();
        f.relay_port = Some(6768);
        let len = build_discover(&mut out, &f);
        assert_eq!(len, 268);
        assert_eq!(&out[len - 7..len], &[82, 4, 19, 2, 0x1a, 0x70, 0xff]);
    }

    /// The DHCPDISCOVER perfdhcp 2.2 sent for client 00:0c:01:02:03:05, xid 1 (tcpdump).
    const PERFDHCP_DISCOVER_OPTIONS: [u8; 22] = [
        0x63, 0x82, 0x53, 0x63, 0x35, 0x01, 0x01, 0x37, 0x07, 0x01, 0x1c, 0x02, 0x03, 0x0f, 0x06,
        0x0c, 0x3d, 0x07, 0x01, 0x00, 0x0c, 0x01,
    ];

    #[test]
    fn discover_matches_perfdhcp_capture() {
        let mut out = [0u8; MAX_BUILT_LEN];
        let len = build_discover(&mut out, &frame());
        assert_eq!(len, 262, "perfdhcp's DISCOVER is 262 bytes of UDP payload");
        assert_eq!(&out[..8], &[1, 1, 6, 1, 0, 0, 0, 1]);
        assert_eq!(&out[24..28], &[127, 0, 0, 2]);
        assert_eq!(&out[28..34], &[0x00, 0x0c, 0x01, 0x02, 0x03, 0x05]);
        assert_eq!(&out[236..258], &PERFDHCP_DISCOVER_OPTIONS);
        assert_eq!(&out[258..262], &[0x02, 0x03, 0x05, 0xff]);
    }

    #[test]
    fn selecting_request_matches_perfdhcp_capture() {
        let mut out = [0u8; MAX_BUILT_LEN];
        let len = build_request_selecting(
            &mut out,
            &frame(),
            Ipv4Addr::new(10, 0, 0, 0xaf),
            Ipv4Addr::new(127, 0, 0, 1),
        );
        assert_eq!(len, 274);
        let expected: [u8; 38] = [
            0x63, 0x82, 0x53, 0x63, 0x35, 0x01, 0x03, 0x32, 0x04, 0x0a, 0x00, 0x00, 0xaf, 0x36,
            0x04, 0x7f, 0x00, 0x00, 0x01, 0x37, 0x07, 0x01, 0x1c, 0x02, 0x03, 0x0f, 0x06, 0x0c,
            0x3d, 0x07, 0x01, 0x00, 0x0c, 0x01, 0x02, 0x03, 0x05, 0xff,
        ];
        assert_eq!(&out[236..274], &expected);
        assert_eq!(
            &out[12..16],
            &[0, 0, 0, 0],
            "ciaddr stays zero when selecting"
        );
    }

    #[test]
    fn renewing_request_carries_ciaddr_and_no_server_id() {
        let mut out = [0u8; MAX_BUILT_LEN];
        let len = build_request_renewing(&mut out, &frame(), Ipv4Addr::new(10, 0, 0, 7));
        assert_eq!(&out[12..16], &[10, 0, 0, 7]);
        let opts = &out[240..len];
        assert_eq!(&opts[..3], &[53, 1, 3]);
        assert!(!opts.windows(2).any(|w| w == [54, 4]));
    }

    #[test]
    fn release_carries_ciaddr_and_server_id() {
        let mut out = [0u8; MAX_BUILT_LEN];
        let len = build_release(
            &mut out,
            &frame(),
            Ipv4Addr::new(10, 0, 0, 7),
            Ipv4Addr::new(127, 0, 0, 1),
        );
        assert_eq!(&out[12..16], &[10, 0, 0, 7]);
        assert_eq!(
            &out[240..len],
            &[53, 1, 7, 54, 4, 127, 0, 0, 1, 61, 7, 1, 0, 0x0c, 1, 2, 3, 5, 0xff]
        );
    }

    #[test]
    fn broadcast_flag_sets_high_bit() {
        let mut out = [0u8; MAX_BUILT_LEN];
        let mut f = frame();
        f.broadcast = true;
        build_discover(&mut out, &f);
        assert_eq!(&out[10..12], &[0x80, 0]);
    }

    /// Kea 2.2's OFFER to perfdhcp's DISCOVER above (tcpdump), options part.
    fn kea_offer() -> Vec<u8> {
        let mut p = vec![0u8; 236];
        p[0] = 2;
        p[1] = 1;
        p[2] = 6;
        p[3] = 1;
        p[7] = 1;
        p[16..20].copy_from_slice(&[10, 0, 0, 0xaf]);
        p[24..28].copy_from_slice(&[127, 0, 0, 2]);
        p[28..34].copy_from_slice(&[0x00, 0x0c, 0x01, 0x02, 0x03, 0x05]);
        p.extend_from_slice(&[
            0x63, 0x82, 0x53, 0x63, 0x35, 0x01, 0x02, 0x01, 0x04, 0xff, 0xff, 0x00, 0x00, 0x33,
            0x04, 0x00, 0x00, 0x0f, 0xa0, 0x36, 0x04, 0x7f, 0x00, 0x00, 0x01, 0x3d, 0x07, 0x01,
            0x00, 0x0c, 0x01, 0x02, 0x03, 0x05, 0xff,
        ]);
        p
    }

    #[test]
    fn parses_kea_offer_fields() {
        let reply = parse_reply(&kea_offer());
        assert_eq!(
            reply,
            Ok(Reply {
                message_type: MessageType::Offer,
                xid: 1,
                yiaddr: Ipv4Addr::new(10, 0, 0, 0xaf),
                mac: [0x00, 0x0c, 0x01, 0x02, 0x03, 0x05],
                server_id: Some(Ipv4Addr::new(127, 0, 0, 1)),
                lease_time: Some(4000),
            })
        );
    }

    #[test]
    fn every_truncation_of_a_reply_is_an_error_not_a_panic() {
        let full = kea_offer();
        for len in 0..full.len() - 1 {
            // Cutting inside the options must never yield a reply with made-up fields.
            if let Ok(reply) = parse_reply(&full[..len]) {
                assert_eq!(reply.message_type, MessageType::Offer);
                assert!(len >= 243);
            }
        }
        assert_eq!(parse_reply(&full[..100]), Err(ReplyError::TooShort(100)));
        assert_eq!(
            parse_reply(&full[..250]),
            Err(ReplyError::TruncatedOption(0x33))
        );
    }

    /// xorshift64: deterministic noise, no dependency.
    fn noise(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn corrupted_replies_never_panic_and_keep_fields_in_bounds() {
        let base = kea_offer();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut parsed = 0;
        for _ in 0..20_000 {
            let mut p = base.clone();
            for _ in 0..(noise(&mut state) % 8) {
                let at = (noise(&mut state) as usize) % p.len();
                p[at] = noise(&mut state) as u8;
            }
            p.truncate(240 + (noise(&mut state) as usize) % (p.len() - 239));
            if let Ok(reply) = parse_reply(&p) {
                parsed += 1;
                assert_eq!(reply.xid, u32::from_be_bytes([p[4], p[5], p[6], p[7]]));
            }
        }
        assert!(parsed > 0, "the noise never left a parsable reply");
    }

    #[test]
    fn request_packets_are_rejected_as_replies() {
        let mut out = [0u8; MAX_BUILT_LEN];
        let len = build_discover(&mut out, &frame());
        assert_eq!(parse_reply(&out[..len]), Err(ReplyError::NotBootReply(1)));
    }

    #[test]
    fn reply_without_message_type_is_rejected() {
        let mut p = kea_offer();
        p.truncate(240);
        p.push(0xff);
        assert_eq!(parse_reply(&p), Err(ReplyError::NoMessageType));
    }
}
