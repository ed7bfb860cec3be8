//! A read-only view over a received DHCPv6 message (RFC 8415 sections 8 and 9) and the
//! encapsulating options it may carry.

use super::{field, kea_check, opt, MessageType, HEADER_LEN, OPTION_HEADER_LEN, RELAY_HEADER_LEN};
use crate::error::WireError;
use std::net::Ipv6Addr;

/// Relay encapsulations Kea accepts: 33. Pkt6::addRelayInfo refuses a layer when more than
/// HOP_COUNT_LIMIT (32, RFC 8415 section 7.6) are already stored, so the 33rd is still taken
/// and the 34th makes the message a parse failure (checked on the wire with kea-dhcp6 2.2.0).
pub const MAX_RELAY_DEPTH: usize = 33;
/// How deep [`Dhcp6Packet::validate`] follows encapsulating options (IA_NA > IAADDR > ...);
/// real messages use three levels.
pub const MAX_OPTION_DEPTH: usize = 8;

/// One DHCPv6 option as found on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt6<'a> {
    pub code: u16,
    pub data: &'a [u8],
    /// Offset of the option's header within the iterated area's message.
    pub offset: usize,
}

/// The options of one area (a message's options, or an encapsulating option's sub-options) in
/// wire order. A length running past the area yields one `Err(BadOption6Length)` and then
/// nothing; trailing bytes too short for an option header count as such an error.
#[derive(Debug, Clone)]
pub struct Options6<'a> {
    area: &'a [u8],
    pos: usize,
    base: usize,
    done: bool,
}

impl<'a> Options6<'a> {
    /// Iterates the options in `area`, which starts at byte `base` of its message.
    pub fn new(area: &'a [u8], base: usize) -> Self {
        Options6 {
            area,
            pos: 0,
            base,
            done: false,
        }
    }

    /// The first well-formed option with `code`.
    pub fn find(self, code: u16) -> Option<&'a [u8]> {
        self.map_while(Result::ok)
            .find(|o| o.code == code)
            .map(|o| o.data)
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}

fn v6(b: &[u8], at: usize) -> Ipv6Addr {
    b.get(at..at + 16)
        .and_then(|s| <[u8; 16]>::try_from(s).ok())
        .map(Ipv6Addr::from)
        .unwrap_or(Ipv6Addr::UNSPECIFIED)
}

impl<'a> Iterator for Options6<'a> {
    type Item = Result<Opt6<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.area.len() {
            return None;
        }
        let at = self.pos;
        let code = be16(self.area, at);
        let len = be16(self.area, at + 2).map(usize::from);
        let start = at + OPTION_HEADER_LEN;
        let data = len.and_then(|len| self.area.get(start..start + len));
        match (code, data) {
            (Some(code), Some(data)) => {
                self.pos = start + data.len();
                Some(Ok(Opt6 {
                    code,
                    data,
                    offset: self.base + at,
                }))
            }
            _ => {
                self.done = true;
                Some(Err(WireError::BadOption6Length {
                    code: code.unwrap_or(0),
                    offset: self.base + at,
                }))
            }
        }
    }
}

/// A DHCPv6 message read in place: either a client/server message (4-byte header) or a
/// Relay-forward / Relay-reply (34-byte header).
///
/// Built only through [`Dhcp6Packet::new_checked`]; after it no accessor panics. Option
/// payloads are not checked up front: iterate them ([`options`](Self::options)), or call
/// [`validate`](Self::validate) once to check every length, encapsulation included.
#[derive(Debug, Clone, Copy)]
pub struct Dhcp6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Dhcp6Packet<T> {
    /// Wraps `buffer` if it holds the header its message type calls for.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let bytes = buffer.as_ref();
        let needed = match bytes.first().copied().and_then(MessageType::from_u8) {
            Some(t) if t.is_relay() => RELAY_HEADER_LEN,
            _ => HEADER_LEN,
        };
        if bytes.len() < needed {
            return Err(WireError::Truncated {
                len: bytes.len(),
                needed,
            });
        }
        Ok(Dhcp6Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The msg-type byte as sent.
    pub fn msg_type_raw(&self) -> u8 {
        self.as_bytes().get(field::MSG_TYPE).copied().unwrap_or(0)
    }

    /// `None` for an unassigned type (Kea counts those as pkt6-unknown-received).
    pub fn msg_type(&self) -> Option<MessageType> {
        MessageType::from_u8(self.msg_type_raw())
    }

    pub fn is_relay(&self) -> bool {
        self.msg_type().is_some_and(MessageType::is_relay)
    }

    /// The 24-bit transaction-id; 0 for relay messages, which have none.
    pub fn transaction_id(&self) -> u32 {
        if self.is_relay() {
            return 0;
        }
        be32(self.as_bytes(), 0) & 0x00ff_ffff
    }

    /// Relay hop-count; 0 for a client/server message.
    pub fn hop_count(&self) -> u8 {
        if !self.is_relay() {
            return 0;
        }
        self.as_bytes().get(field::HOP_COUNT).copied().unwrap_or(0)
    }

    /// Relay link-address (RFC 8415 section 9.1); `::` for a client/server message.
    pub fn link_address(&self) -> Ipv6Addr {
        if !self.is_relay() {
            return Ipv6Addr::UNSPECIFIED;
        }
        v6(self.as_bytes(), field::LINK_ADDRESS.start)
    }

    /// Relay peer-address (RFC 8415 section 9.1); `::` for a client/server message.
    pub fn peer_address(&self) -> Ipv6Addr {
        if !self.is_relay() {
            return Ipv6Addr::UNSPECIFIED;
        }
        v6(self.as_bytes(), field::PEER_ADDRESS.start)
    }

    /// Where the options start: 4, or 34 for relay messages.
    pub fn options_offset(&self) -> usize {
        if self.is_relay() {
            RELAY_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// This message's top-level options in wire order.
    pub fn options(&self) -> Options6<'_> {
        let at = self.options_offset();
        Options6::new(self.as_bytes().get(at..).unwrap_or(&[]), at)
    }

    /// The first top-level option with `code` (options before any malformed one).
    pub fn option(&self, code: u16) -> Option<&[u8]> {
        self.options().find(code)
    }

    /// Option 1's DUID; `None` if absent or empty.
    pub fn client_id(&self) -> Option<&[u8]> {
        self.option(opt::CLIENTID).filter(|d| !d.is_empty())
    }

    /// Option 2's DUID; `None` if absent or empty.
    pub fn server_id(&self) -> Option<&[u8]> {
        self.option(opt::SERVERID).filter(|d| !d.is_empty())
    }

    /// Option 8 in hundredths of a second; `None` if absent or not 2 bytes.
    pub fn elapsed_time(&self) -> Option<u16> {
        self.option(opt::ELAPSED_TIME).and_then(elapsed_time)
    }

    /// The codes in option 6 (ORO); empty if absent.
    pub fn oro(&self) -> impl Iterator<Item = u16> + '_ {
        oro_codes(self.option(opt::ORO).unwrap_or(&[]))
    }

    /// Option 14 is present (RFC 8415 section 21.14).
    pub fn rapid_commit(&self) -> bool {
        self.option(opt::RAPID_COMMIT).is_some()
    }

    /// Every well-formed IA of one kind (`opt::IA_NA`, `opt::IA_PD` or `opt::IA_TA`) in wire
    /// order; malformed ones are skipped (call [`validate`](Self::validate) to refuse them).
    pub fn ias(&self, code: u16) -> impl Iterator<Item = Ia<'_>> + '_ {
        self.options()
            .map_while(Result::ok)
            .filter(move |o| o.code == code)
            .filter_map(move |o| match code {
                opt::IA_TA => Ia::parse_ta(o.data).ok(),
                _ => Ia::parse(code, o.data).ok(),
            })
    }

    /// Checks every option length, following IA_NA / IA_TA / IA_PD / IAADDR / IAPREFIX
    /// encapsulation (RFC 8415 section 21), so later iteration finds no surprise. The payload
    /// of a Relay Message option is checked when [`relay_chain`](Self::relay_chain) reaches it.
    pub fn validate(&self) -> Result<(), WireError> {
        let at = self.options_offset();
        validate_options(self.as_bytes().get(at..).unwrap_or(&[]), at, 0)
    }

    /// The message inside this relay message's Relay Message option (RFC 8415 section 9).
    /// Offsets in errors from the inner view count from the start of the inner message.
    pub fn relay_message(&self) -> Result<Dhcp6Packet<&[u8]>, WireError> {
        let at = self.options_offset();
        match relay_message_of(self.as_bytes().get(at..).unwrap_or(&[])) {
            Some(inner) if self.is_relay() => Dhcp6Packet::new_checked(inner),
            _ => Err(WireError::MissingRelayMessage { depth: 0 }),
        }
    }

    /// This message's own options as kea-dhcp6 2.2 parses them ([`super::kea_check`]): an
    /// option running past the end ends them silently, one that Kea's definition of it cannot
    /// read (an IA_NA under 12 bytes, an odd ORO, ...) is an error, also inside IA_NA, IA_TA,
    /// IA_PD, IAADDR and IAPREFIX. A relay layer's Relay Message payload is not read here
    /// (each layer of [`relay_chain`](Self::relay_chain) is checked on its own).
    pub fn kea_check(&self) -> Result<(), WireError> {
        let at = self.options_offset();
        kea_check::check_area(self.as_bytes().get(at..).unwrap_or(&[]), 0)
            .map_err(|(code, len)| WireError::BadOption6 { code, len })
    }

    /// This message, then each message nested inside it, outermost first, ending with the
    /// client/server message. Stops after the first error.
    pub fn relay_chain(&self) -> RelayChain<'_> {
        RelayChain {
            next: Some(Dhcp6Packet {
                buffer: self.as_bytes(),
            }),
            depth: 0,
        }
    }

    /// The client/server message at the bottom of the relay chain, and how many relays
    /// wrapped it (0 for a message sent directly).
    pub fn innermost(&self) -> Result<(Dhcp6Packet<&[u8]>, usize), WireError> {
        let mut relays = 0;
        for layer in self.relay_chain() {
            let layer = layer?;
            if !layer.is_relay() {
                return Ok((layer, relays));
            }
            relays += 1;
        }
        // The chain always ends with a non-relay message or an error.
        Err(WireError::MissingRelayMessage { depth: relays })
    }
}

/// The payload of the Relay Message option in a relay message's options area (the bytes after
/// its 34-byte header). Kea keeps the last one found before an option that runs past the end
/// (LibDHCP::unpackOptions6 overwrites its offset at each), and so does this.
pub fn relay_message_of(relay_options: &[u8]) -> Option<&[u8]> {
    Options6::new(relay_options, RELAY_HEADER_LEN)
        .map_while(Result::ok)
        .filter(|o| o.code == opt::RELAY_MSG)
        .last()
        .map(|o| o.data)
}

fn validate_options(area: &[u8], base: usize, depth: usize) -> Result<(), WireError> {
    for item in Options6::new(area, base) {
        let o = item?;
        let fixed = match o.code {
            opt::IA_NA | opt::IA_PD => 12,
            opt::IA_TA => 4,
            opt::IAADDR => 24,
            opt::IAPREFIX => 25,
            _ => continue,
        };
        let Some(sub) = o.data.get(fixed..) else {
            return Err(WireError::ShortOption {
                code: o.code,
                len: o.data.len(),
                needed: fixed,
            });
        };
        if depth + 1 >= MAX_OPTION_DEPTH {
            return Err(WireError::NestingTooDeep {
                max: MAX_OPTION_DEPTH,
            });
        }
        validate_options(sub, o.offset + OPTION_HEADER_LEN + fixed, depth + 1)?;
    }
    Ok(())
}

/// Iterator returned by [`Dhcp6Packet::relay_chain`].
#[derive(Debug, Clone)]
pub struct RelayChain<'a> {
    next: Option<Dhcp6Packet<&'a [u8]>>,
    depth: usize,
}

impl<'a> Iterator for RelayChain<'a> {
    type Item = Result<Dhcp6Packet<&'a [u8]>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        let current = self.next.take()?;
        if current.is_relay() {
            if self.depth >= MAX_RELAY_DEPTH {
                return Some(Err(WireError::TooManyRelays {
                    max: MAX_RELAY_DEPTH,
                }));
            }
            let bytes: &'a [u8] = current.buffer;
            let inner = relay_message_of(bytes.get(RELAY_HEADER_LEN..).unwrap_or(&[]));
            match inner.map(Dhcp6Packet::new_checked) {
                Some(Ok(inner)) => self.next = Some(inner),
                Some(Err(e)) => {
                    return Some(Err(e));
                }
                None => {
                    return Some(Err(WireError::MissingRelayMessage { depth: self.depth }));
                }
            }
            self.depth += 1;
        }
        Some(Ok(current))
    }
}

/// IA_NA / IA_PD (RFC 8415 sections 21.4 and 21.21) or IA_TA (21.5, no T1/T2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ia<'a> {
    pub iaid: u32,
    pub t1: u32,
    pub t2: u32,
    options: &'a [u8],
}

impl<'a> Ia<'a> {
    /// Reads an IA_NA or IA_PD payload (IAID, T1, T2, options).
    pub fn parse(code: u16, data: &'a [u8]) -> Result<Self, WireError> {
        let options = data.get(12..).ok_or(WireError::ShortOption {
            code,
            len: data.len(),
            needed: 12,
        })?;
        Ok(Ia {
            iaid: be32(data, 0),
            t1: be32(data, 4),
            t2: be32(data, 8),
            options,
        })
    }

    /// Reads an IA_TA payload (IAID, options); T1 and T2 read as 0.
    pub fn parse_ta(data: &'a [u8]) -> Result<Self, WireError> {
        let options = data.get(4..).ok_or(WireError::ShortOption {
            code: opt::IA_TA,
            len: data.len(),
            needed: 4,
        })?;
        Ok(Ia {
            iaid: be32(data, 0),
            t1: 0,
            t2: 0,
            options,
        })
    }

    /// The IA's sub-options (IAADDR / IAPREFIX / STATUS_CODE); offsets count from them.
    pub fn options(&self) -> Options6<'a> {
        Options6::new(self.options, 0)
    }
}

/// IAADDR (RFC 8415 section 21.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IaAddr<'a> {
    pub addr: Ipv6Addr,
    pub preferred: u32,
    pub valid: u32,
    options: &'a [u8],
}

impl<'a> IaAddr<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Self, WireError> {
        let options = data.get(24..).ok_or(WireError::ShortOption {
            code: opt::IAADDR,
            len: data.len(),
            needed: 24,
        })?;
        Ok(IaAddr {
            addr: v6(data, 0),
            preferred: be32(data, 16),
            valid: be32(data, 20),
            options,
        })
    }

    pub fn options(&self) -> Options6<'a> {
        Options6::new(self.options, 0)
    }
}

/// IAPREFIX (RFC 8415 section 21.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IaPrefix<'a> {
    pub preferred: u32,
    pub valid: u32,
    pub prefix_len: u8,
    pub prefix: Ipv6Addr,
    options: &'a [u8],
}

impl<'a> IaPrefix<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Self, WireError> {
        let options = data.get(25..).ok_or(WireError::ShortOption {
            code: opt::IAPREFIX,
            len: data.len(),
            needed: 25,
        })?;
        Ok(IaPrefix {
            preferred: be32(data, 0),
            valid: be32(data, 4),
            prefix_len: data.get(8).copied().unwrap_or(0),
            prefix: v6(data, 9),
            options,
        })
    }

    pub fn options(&self) -> Options6<'a> {
        Options6::new(self.options, 0)
    }
}

/// STATUS_CODE (RFC 8415 section 21.13): a code and a UTF-8 message for humans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusCode<'a> {
    pub code: u16,
    pub message: &'a [u8],
}

impl<'a> StatusCode<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Self, WireError> {
        match (be16(data, 0), data.get(2..)) {
            (Some(code), Some(message)) => Ok(StatusCode { code, message }),
            _ => Err(WireError::ShortOption {
                code: opt::STATUS_CODE,
                len: data.len(),
                needed: 2,
            }),
        }
    }
}

/// The option codes in an ORO payload (RFC 8415 section 21.7); a trailing odd byte is ignored.
pub fn oro_codes(data: &[u8]) -> impl Iterator<Item = u16> + '_ {
    data.chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
}

/// Elapsed time in hundredths of a second (RFC 8415 section 21.9); `None` unless 2 bytes.
pub fn elapsed_time(data: &[u8]) -> Option<u16> {
    <[u8; 2]>::try_from(data).ok().map(u16::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solicit() -> Vec<u8> {
        let mut b = vec![1, 0x12, 0x34, 0x56];
        // client id
        b.extend_from_slice(&[0, 1, 0, 10, 0, 3, 0, 1, 1, 2, 3, 4, 5, 6]);
        // IA_NA iaid 7, t1 0, t2 0, IAADDR 2001:db8::1 with status
        let mut iaaddr = vec![0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        iaaddr.extend_from_slice(&[0, 0, 0, 100, 0, 0, 0, 200]);
        iaaddr.extend_from_slice(&[0, 13, 0, 4, 0, 0, b'o', b'k']);
        let mut ia = vec![0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0];
        ia.extend_from_slice(&[0, 5]);
        ia.extend_from_slice(&(iaaddr.len() as u16).to_be_bytes());
        ia.extend_from_slice(&iaaddr);
        b.extend_from_slice(&[0, 3]);
        b.extend_from_slice(&(ia.len() as u16).to_be_bytes());
        b.extend_from_slice(&ia);
        // elapsed time
        b.extend_from_slice(&[0, 8, 0, 2, 0, 0]);
        b
    }

    fn relay(inner: &[u8], hop: u8) -> Vec<u8> {
        let mut b = vec![12, hop];
        b.extend_from_slice(&[
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xaa,
        ]);
        b.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, hop]);
        b.extend_from_slice(&[0, 18, 0, 3, b'e', b't', b'h']);
        b.extend_from_slice(&[0, 9]);
        b.extend_from_slice(&(inner.len() as u16).to_be_bytes());
        b.extend_from_slice(inner);
        b
    }

    #[test]
    fn client_message_header_and_nested_ia_are_read() -> Result<(), WireError> {
        let b = solicit();
        let p = Dhcp6Packet::new_checked(&b[..])?;
        p.validate()?;
        assert_eq!(p.msg_type(), Some(MessageType::Solicit));
        assert_eq!(p.transaction_id(), 0x12_3456);
        assert!(!p.is_relay());
        assert_eq!(p.hop_count(), 0);
        assert_eq!(p.option(opt::CLIENTID).map(<[u8]>::len), Some(10));
        assert_eq!(p.option(opt::ELAPSED_TIME).and_then(elapsed_time), Some(0));
        let ia = Ia::parse(opt::IA_NA, p.option(opt::IA_NA).unwrap_or(&[]))?;
        assert_eq!((ia.iaid, ia.t1, ia.t2), (7, 0, 0));
        let addr = IaAddr::parse(ia.options().find(opt::IAADDR).unwrap_or(&[]))?;
        assert_eq!(
            addr.addr,
            "2001:db8::1"
                .parse::<Ipv6Addr>()
                .unwrap_or(Ipv6Addr::LOCALHOST)
        );
        assert_eq!((addr.preferred, addr.valid), (100, 200));
        let status = StatusCode::parse(addr.options().find(opt::STATUS_CODE).unwrap_or(&[]))?;
        assert_eq!(
            status,
            StatusCode {
                code: 0,
                message: b"ok"
            }
        );
        Ok(())
    }

    #[test]
    fn relay_chain_walks_to_the_client_message() -> Result<(), WireError> {
        let inner = solicit();
        let b = relay(&relay(&inner, 0), 1);
        let p = Dhcp6Packet::new_checked(&b[..])?;
        assert!(p.is_relay());
        assert_eq!(p.hop_count(), 1);
        assert_eq!(
            p.link_address(),
            "2001:db8::aa"
                .parse::<Ipv6Addr>()
                .unwrap_or(Ipv6Addr::LOCALHOST)
        );
        assert_eq!(
            p.peer_address(),
            "fe80::1".parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::LOCALHOST)
        );
        assert_eq!(p.option(opt::INTERFACE_ID), Some(&b"eth"[..]));
        let hops: Vec<u8> = p
            .relay_chain()
            .map(|l| l.map(|l| l.hop_count()))
            .collect::<Result<_, _>>()?;
        assert_eq!(hops, vec![1, 0, 0]);
        let (client, relays) = p.innermost()?;
        assert_eq!(relays, 2);
        assert_eq!(client.as_bytes(), &inner[..]);
        assert_eq!(p.relay_message()?.hop_count(), 0);
        Ok(())
    }

    #[test]
    fn relay_without_relay_message_is_an_error() -> Result<(), WireError> {
        let mut b = relay(&solicit(), 0);
        b.truncate(34 + 7);
        let p = Dhcp6Packet::new_checked(&b[..])?;
        assert_eq!(
            p.innermost().err(),
            Some(WireError::MissingRelayMessage { depth: 0 })
        );
        Ok(())
    }

    #[test]
    fn relay_nesting_past_33_is_refused() -> Result<(), WireError> {
        let mut b = solicit();
        for hop in 0..40u8 {
            b = relay(&b, hop);
        }
        let p = Dhcp6Packet::new_checked(&b[..])?;
        assert_eq!(
            p.innermost().err(),
            Some(WireError::TooManyRelays { max: 33 })
        );
        Ok(())
    }

    #[test]
    fn truncated_headers_are_refused_by_type() {
        assert_eq!(
            Dhcp6Packet::new_checked(&[1u8, 0, 0][..]).err(),
            Some(WireError::Truncated { len: 3, needed: 4 })
        );
        assert_eq!(
            Dhcp6Packet::new_checked(&[12u8; 33][..]).err(),
            Some(WireError::Truncated {
                len: 33,
                needed: 34
            })
        );
        assert_eq!(
            Dhcp6Packet::new_checked(&[][..]).err(),
            Some(WireError::Truncated { len: 0, needed: 4 })
        );
    }

    #[test]
    fn bad_lengths_are_found_by_validate() -> Result<(), WireError> {
        // option 1 claims 10 bytes, has 2
        let b = [1u8, 0, 0, 0, 0, 1, 0, 10, 1, 2];
        let p = Dhcp6Packet::new_checked(&b[..])?;
        assert_eq!(
            p.validate(),
            Err(WireError::BadOption6Length { code: 1, offset: 4 })
        );
        // IA_NA of 8 bytes
        let b = [1u8, 0, 0, 0, 0, 3, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0];
        let p = Dhcp6Packet::new_checked(&b[..])?;
        assert_eq!(
            p.validate(),
            Err(WireError::ShortOption {
                code: 3,
                len: 8,
                needed: 12
            })
        );
        // a lone trailing byte
        let b = [1u8, 0, 0, 0, 7];
        let p = Dhcp6Packet::new_checked(&b[..])?;
        assert_eq!(
            p.validate(),
            Err(WireError::BadOption6Length { code: 0, offset: 4 })
        );
        Ok(())
    }

    #[test]
    fn convenience_accessors_read_the_common_options() -> Result<(), WireError> {
        let mut b = solicit();
        b.extend_from_slice(&[0, 6, 0, 4, 0, 23, 0, 24]); // ORO
        b.extend_from_slice(&[0, 14, 0, 0]); // rapid commit
        b.extend_from_slice(&[0, 25, 0, 12, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 2]); // IA_PD
        b.extend_from_slice(&[0, 3, 0, 4, 0, 0, 0, 1]); // malformed IA_NA: skipped
        let p = Dhcp6Packet::new_checked(&b[..])?;
        assert_eq!(p.client_id().map(<[u8]>::len), Some(10));
        assert_eq!(p.server_id(), None);
        assert_eq!(p.elapsed_time(), Some(0));
        assert_eq!(p.oro().collect::<Vec<_>>(), vec![23, 24]);
        assert!(p.rapid_commit());
        assert_eq!(
            p.ias(opt::IA_NA).map(|ia| ia.iaid).collect::<Vec<_>>(),
            vec![7]
        );
        assert_eq!(
            p.ias(opt::IA_PD)
                .map(|ia| (ia.iaid, ia.t1, ia.t2))
                .collect::<Vec<_>>(),
            vec![(9, 1, 2)]
        );
        assert_eq!(p.ias(opt::IA_TA).count(), 0);
        Ok(())
    }

    #[test]
    fn oro_reads_pairs_and_ignores_an_odd_byte() {
        assert_eq!(
            oro_codes(&[0, 23, 0, 24, 9]).collect::<Vec<_>>(),
            vec![23, 24]
        );
    }
}
