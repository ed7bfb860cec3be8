//! Writing a DHCPv6 message, relay encapsulation included, into a caller's reused buffer.

use super::{opt, HEADER_LEN, OPTION_HEADER_LEN, RELAY_HEADER_LEN};
use crate::error::WireError;
use std::net::Ipv6Addr;

/// Deepest option nesting the writer tracks: 33 relay levels (Kea's limit) plus IA > IAADDR >
/// STATUS_CODE and room to spare. A fixed array, so the writer never allocates.
pub const MAX_NESTING: usize = 48;

/// Writes a DHCPv6 message into a caller's (reused) buffer. Never allocates.
///
/// Options are appended in order; an encapsulating option is opened with one of the `begin_*`
/// methods, filled, and closed with [`end`](Self::end), which writes its length. A Relay-reply
/// is written outside in: relay header, its options (Interface-ID echoed, RFC 8415 19.3), then
/// [`begin_relayed_message`](Self::begin_relayed_message) and the reply inside it.
/// A call that fails with `NoSpace` writes nothing.
#[derive(Debug)]
pub struct Dhcp6Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    /// Start offsets of the options still open.
    open: [usize; MAX_NESTING],
    depth: usize,
}

fn client_header(msg_type: u8, transaction_id: u32) -> [u8; HEADER_LEN] {
    let x = transaction_id.to_be_bytes();
    [msg_type, x[1], x[2], x[3]]
}

fn relay_header(
    msg_type: u8,
    hop_count: u8,
    link: Ipv6Addr,
    peer: Ipv6Addr,
) -> [u8; RELAY_HEADER_LEN] {
    let mut h = [0u8; RELAY_HEADER_LEN];
    h[0] = msg_type;
    h[1] = hop_count;
    h[2..18].copy_from_slice(&link.octets());
    h[18..34].copy_from_slice(&peer.octets());
    h
}

impl<'a> Dhcp6Writer<'a> {
    fn with_header(buf: &'a mut [u8], header: &[u8]) -> Result<Self, WireError> {
        let Some(dst) = buf.get_mut(..header.len()) else {
            return Err(WireError::BufferTooSmall {
                len: buf.len(),
                needed: header.len(),
            });
        };
        dst.copy_from_slice(header);
        Ok(Dhcp6Writer {
            pos: header.len(),
            buf,
            open: [0; MAX_NESTING],
            depth: 0,
        })
    }

    /// Starts a client/server message; only the low 24 bits of `transaction_id` are sent.
    pub fn new(buf: &'a mut [u8], msg_type: u8, transaction_id: u32) -> Result<Self, WireError> {
        Self::with_header(buf, &client_header(msg_type, transaction_id))
    }

    /// Starts a Relay-forward / Relay-reply message (RFC 8415 section 9).
    pub fn new_relay(
        buf: &'a mut [u8],
        msg_type: u8,
        hop_count: u8,
        link_address: Ipv6Addr,
        peer_address: Ipv6Addr,
    ) -> Result<Self, WireError> {
        Self::with_header(
            buf,
            &relay_header(msg_type, hop_count, link_address, peer_address),
        )
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Appends `parts` back to back, all or nothing.
    fn append(&mut self, parts: &[&[u8]]) -> Result<(), WireError> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if self.buf.len() - self.pos < total {
            return Err(WireError::NoSpace);
        }
        for part in parts {
            if let Some(dst) = self.buf.get_mut(self.pos..self.pos + part.len()) {
                dst.copy_from_slice(part);
            }
            self.pos += part.len();
        }
        Ok(())
    }

    fn option_parts(&mut self, code: u16, parts: &[&[u8]]) -> Result<(), WireError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let Ok(len16) = u16::try_from(len) else {
            return Err(WireError::OptionTooLong { code, len });
        };
        let c = code.to_be_bytes();
        let l = len16.to_be_bytes();
        let header = [c[0], c[1], l[0], l[1]];
        match parts {
            [] => self.append(&[&header]),
            [a] => self.append(&[&header, a]),
            [a, b] => self.append(&[&header, a, b]),
            _ => {
                // Not used with more than two parts; keep all-or-nothing by checking first.
                if self.buf.len() - self.pos < OPTION_HEADER_LEN + len {
                    return Err(WireError::NoSpace);
                }
                self.append(&[&header])?;
                for part in parts {
                    self.append(&[part])?;
                }
                Ok(())
            }
        }
    }

    /// Appends one option.
    pub fn option(&mut self, code: u16, data: &[u8]) -> Result<(), WireError> {
        self.option_parts(code, &[data])
    }

    /// Opens an encapsulating option whose payload starts with `fixed` bytes.
    fn begin_with(&mut self, code: u16, fixed: &[u8]) -> Result<(), WireError> {
        if self.depth >= MAX_NESTING {
            return Err(WireError::NestingTooDeep { max: MAX_NESTING });
        }
        let start = self.pos;
        let c = code.to_be_bytes();
        self.append(&[&[c[0], c[1], 0, 0], fixed])?;
        if let Some(slot) = self.open.get_mut(self.depth) {
            *slot = start;
        }
        self.depth += 1;
        Ok(())
    }

    /// Opens option `code`; its payload is what follows until [`end`](Self::end).
    pub fn begin(&mut self, code: u16) -> Result<(), WireError> {
        self.begin_with(code, &[])
    }

    /// Appends raw payload bytes to the open option.
    pub fn bytes(&mut self, data: &[u8]) -> Result<(), WireError> {
        self.append(&[data])
    }

    /// Closes the innermost open option, writing its length. On `OptionTooLong` the option
    /// stays open and the message cannot be finished: start over with a smaller reply.
    pub fn end(&mut self) -> Result<(), WireError> {
        if self.depth == 0 {
            return Err(WireError::UnbalancedOption { open: 0 });
        }
        let start = self.open.get(self.depth - 1).copied().unwrap_or(0);
        let len = self.pos - start - OPTION_HEADER_LEN;
        let Ok(len16) = u16::try_from(len) else {
            let code = self
                .buf
                .get(start..start + 2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .unwrap_or(0);
            return Err(WireError::OptionTooLong { code, len });
        };
        if let Some(dst) = self.buf.get_mut(start + 2..start + 4) {
            dst.copy_from_slice(&len16.to_be_bytes());
        }
        self.depth -= 1;
        Ok(())
    }

    /// Opens IA_NA (RFC 8415 section 21.4).
    pub fn begin_ia_na(&mut self, iaid: u32, t1: u32, t2: u32) -> Result<(), WireError> {
        self.begin_with(opt::IA_NA, &ia_fixed(iaid, t1, t2))
    }

    /// Opens IA_PD (RFC 8415 section 21.21).
    pub fn begin_ia_pd(&mut self, iaid: u32, t1: u32, t2: u32) -> Result<(), WireError> {
        self.begin_with(opt::IA_PD, &ia_fixed(iaid, t1, t2))
    }

    /// Opens IA_TA (RFC 8415 section 21.5).
    pub fn begin_ia_ta(&mut self, iaid: u32) -> Result<(), WireError> {
        self.begin_with(opt::IA_TA, &iaid.to_be_bytes())
    }

    /// Opens IAADDR (RFC 8415 section 21.6), for an address that carries a status code.
    pub fn begin_ia_addr(
        &mut self,
        addr: Ipv6Addr,
        preferred: u32,
        valid: u32,
    ) -> Result<(), WireError> {
        self.begin_with(opt::IAADDR, &ia_addr_fixed(addr, preferred, valid))
    }

    /// A complete IAADDR without sub-options.
    pub fn ia_addr(&mut self, addr: Ipv6Addr, preferred: u32, valid: u32) -> Result<(), WireError> {
        self.option(opt::IAADDR, &ia_addr_fixed(addr, preferred, valid))
    }

    /// Opens IAPREFIX (RFC 8415 section 21.22).
    pub fn begin_ia_prefix(
        &mut self,
        preferred: u32,
        valid: u32,
        prefix_len: u8,
        prefix: Ipv6Addr,
    ) -> Result<(), WireError> {
        self.begin_with(
            opt::IAPREFIX,
            &ia_prefix_fixed(preferred, valid, prefix_len, prefix),
        )
    }

    /// A complete IAPREFIX without sub-options.
    pub fn ia_prefix(
        &mut self,
        preferred: u32,
        valid: u32,
        prefix_len: u8,
        prefix: Ipv6Addr,
    ) -> Result<(), WireError> {
        self.option(
            opt::IAPREFIX,
            &ia_prefix_fixed(preferred, valid, prefix_len, prefix),
        )
    }

    /// STATUS_CODE (RFC 8415 section 21.13).
    pub fn status_code(&mut self, code: u16, message: &[u8]) -> Result<(), WireError> {
        self.option_parts(opt::STATUS_CODE, &[&code.to_be_bytes(), message])
    }

    /// Overwrites two bytes already written, at `at` (a field whose value is known only after
    /// later options, such as a summary status code). Returns false, writing nothing, when
    /// they are not inside what was written.
    pub fn overwrite_u16(&mut self, at: usize, value: u16) -> bool {
        match self.buf.get_mut(at..at + 2).filter(|_| at + 2 <= self.pos) {
            Some(dst) => {
                dst.copy_from_slice(&value.to_be_bytes());
                true
            }
            None => false,
        }
    }

    /// Opens a Relay Message option holding a client/server message header; close it with
    /// [`end`](Self::end) after that message's options.
    pub fn begin_relayed_message(
        &mut self,
        msg_type: u8,
        transaction_id: u32,
    ) -> Result<(), WireError> {
        self.begin_with(opt::RELAY_MSG, &client_header(msg_type, transaction_id))
    }

    /// Opens a Relay Message option holding another relay header (multi-hop relaying).
    pub fn begin_relayed_relay(
        &mut self,
        msg_type: u8,
        hop_count: u8,
        link_address: Ipv6Addr,
        peer_address: Ipv6Addr,
    ) -> Result<(), WireError> {
        self.begin_with(
            opt::RELAY_MSG,
            &relay_header(msg_type, hop_count, link_address, peer_address),
        )
    }

    /// Checks every option was closed and returns the message length.
    pub fn finish(self) -> Result<usize, WireError> {
        if self.depth != 0 {
            return Err(WireError::UnbalancedOption { open: self.depth });
        }
        Ok(self.pos)
    }
}

fn ia_fixed(iaid: u32, t1: u32, t2: u32) -> [u8; 12] {
    let mut f = [0u8; 12];
    f[0..4].copy_from_slice(&iaid.to_be_bytes());
    f[4..8].copy_from_slice(&t1.to_be_bytes());
    f[8..12].copy_from_slice(&t2.to_be_bytes());
    f
}

fn ia_addr_fixed(addr: Ipv6Addr, preferred: u32, valid: u32) -> [u8; 24] {
    let mut f = [0u8; 24];
    f[0..16].copy_from_slice(&addr.octets());
    f[16..20].copy_from_slice(&preferred.to_be_bytes());
    f[20..24].copy_from_slice(&valid.to_be_bytes());
    f
}

fn ia_prefix_fixed(preferred: u32, valid: u32, prefix_len: u8, prefix: Ipv6Addr) -> [u8; 25] {
    let mut f = [0u8; 25];
    f[0..4].copy_from_slice(&preferred.to_be_bytes());
    f[4..8].copy_from_slice(&valid.to_be_bytes());
    f[8] = prefix_len;
    f[9..25].copy_from_slice(&prefix.octets());
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v6::{Dhcp6Packet, Ia, IaAddr, MessageType, StatusCode};

    #[test]
    fn reply_with_ia_na_and_status_reads_back() -> Result<(), WireError> {
        let mut buf = [0u8; 512];
        let mut w = Dhcp6Writer::new(&mut buf, MessageType::Reply.as_u8(), 0xab_cdef)?;
        w.option(opt::SERVERID, &[0, 1, 2, 3])?;
        w.begin_ia_na(9, 1000, 2000)?;
        let addr: Ipv6Addr = "2001:db8::9".parse().unwrap_or(Ipv6Addr::LOCALHOST);
        w.begin_ia_addr(addr, 3000, 4000)?;
        w.status_code(0, b"all good")?;
        w.end()?;
        w.end()?;
        let len = w.finish()?;
        assert_eq!(&buf[..4], &[7, 0xab, 0xcd, 0xef]);
        let p = Dhcp6Packet::new_checked(&buf[..len])?;
        p.validate()?;
        assert_eq!(p.transaction_id(), 0xab_cdef);
        let ia = Ia::parse(opt::IA_NA, p.option(opt::IA_NA).unwrap_or(&[]))?;
        assert_eq!((ia.iaid, ia.t1, ia.t2), (9, 1000, 2000));
        let a = IaAddr::parse(ia.options().find(opt::IAADDR).unwrap_or(&[]))?;
        assert_eq!((a.addr, a.preferred, a.valid), (addr, 3000, 4000));
        let s = StatusCode::parse(a.options().find(opt::STATUS_CODE).unwrap_or(&[]))?;
        assert_eq!(s.message, b"all good");
        assert_eq!(len, 4 + 8 + 4 + 12 + 4 + 24 + 4 + 10);
        Ok(())
    }

    #[test]
    fn relay_reply_wraps_the_reply() -> Result<(), WireError> {
        let mut buf = [0u8; 512];
        let link: Ipv6Addr = "2001:db8:1::1".parse().unwrap_or(Ipv6Addr::LOCALHOST);
        let peer: Ipv6Addr = "fe80::2".parse().unwrap_or(Ipv6Addr::LOCALHOST);
        let mut w =
            Dhcp6Writer::new_relay(&mut buf, MessageType::RelayRepl.as_u8(), 0, link, peer)?;
        w.option(opt::INTERFACE_ID, b"ge-0/0/0")?;
        w.begin_relayed_message(MessageType::Advertise.as_u8(), 0x01_0203)?;
        w.option(opt::PREFERENCE, &[255])?;
        w.end()?;
        let len = w.finish()?;
        let p = Dhcp6Packet::new_checked(&buf[..len])?;
        assert_eq!(
            (p.hop_count(), p.link_address(), p.peer_address()),
            (0, link, peer)
        );
        let (inner, relays) = p.innermost()?;
        assert_eq!(relays, 1);
        assert_eq!(inner.msg_type(), Some(MessageType::Advertise));
        assert_eq!(inner.transaction_id(), 0x01_0203);
        assert_eq!(inner.option(opt::PREFERENCE), Some(&[255][..]));
        Ok(())
    }

    #[test]
    fn no_space_writes_nothing_and_unbalanced_nesting_is_refused() -> Result<(), WireError> {
        // 4-byte header + 15: one byte short of an IA_NA header and its 12 fixed bytes.
        let mut buf = [0u8; 19];
        let mut w = Dhcp6Writer::new(&mut buf, 7, 1)?;
        assert_eq!(w.option(opt::CLIENTID, &[0u8; 20]), Err(WireError::NoSpace));
        assert_eq!(w.len(), 4);
        assert_eq!(w.begin_ia_na(1, 2, 3), Err(WireError::NoSpace));
        assert_eq!(w.end(), Err(WireError::UnbalancedOption { open: 0 }));
        w.begin(opt::VENDOR_OPTS)?;
        assert_eq!(w.finish(), Err(WireError::UnbalancedOption { open: 1 }));
        assert_eq!(
            Dhcp6Writer::new_relay(
                &mut [0u8; 33],
                13,
                0,
                Ipv6Addr::UNSPECIFIED,
                Ipv6Addr::UNSPECIFIED
            )
            .err(),
            Some(WireError::BufferTooSmall {
                len: 33,
                needed: 34
            })
        );
        Ok(())
    }

    #[test]
    fn oversized_option_is_refused() -> Result<(), WireError> {
        let mut buf = vec![0u8; 70_000];
        let mut w = Dhcp6Writer::new(&mut buf, 7, 1)?;
        let big = vec![0u8; 65_536];
        assert_eq!(
            w.option(opt::VENDOR_OPTS, &big),
            Err(WireError::OptionTooLong {
                code: 17,
                len: 65_536
            })
        );
        w.begin(opt::VENDOR_OPTS)?;
        w.bytes(&big)?;
        assert_eq!(
            w.end(),
            Err(WireError::OptionTooLong {
                code: 17,
                len: 65_536
            })
        );
        Ok(())
    }
}
