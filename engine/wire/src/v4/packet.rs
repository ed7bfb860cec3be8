//! A read-only view over a received DHCPv4 message (RFC 2131 section 2).

use super::{field, BROADCAST_FLAG, HEADER_LEN, MAGIC_COOKIE};
use crate::error::WireError;
use corelease_types::HwAddr;
use std::net::Ipv4Addr;

/// The chaddr field is 16 bytes whatever hlen claims (RFC 2131 section 2).
const CHADDR_LEN: usize = 16;

/// A DHCPv4 message read in place from the caller's buffer.
///
/// Built only through [`Dhcp4Packet::new_checked`], which checks the length and the magic
/// cookie once; after that no accessor panics, whatever the bytes say (an out-of-range read
/// would return zeros, and cannot happen for a buffer that passed the check).
#[derive(Debug, Clone, Copy)]
pub struct Dhcp4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Dhcp4Packet<T> {
    /// Wraps `buffer` if it holds at least the 236-byte fixed header and the magic cookie.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let bytes = buffer.as_ref();
        let Some(cookie) = bytes.get(field::COOKIE) else {
            return Err(WireError::Truncated {
                len: bytes.len(),
                needed: HEADER_LEN,
            });
        };
        if cookie != MAGIC_COOKIE {
            let mut found = [0u8; 4];
            found.copy_from_slice(cookie);
            return Err(WireError::BadMagicCookie { found });
        }
        Ok(Dhcp4Packet { buffer })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole message as received.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn byte(&self, at: usize) -> u8 {
        self.as_bytes().get(at).copied().unwrap_or(0)
    }

    fn array<const N: usize>(&self, range: field::Field) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = self.as_bytes().get(range) {
            if src.len() == N {
                out.copy_from_slice(src);
            }
        }
        out
    }

    fn slice(&self, range: field::Field) -> &[u8] {
        self.as_bytes().get(range).unwrap_or(&[])
    }

    /// 1 = BOOTREQUEST, 2 = BOOTREPLY.
    pub fn op(&self) -> u8 {
        self.byte(field::OP)
    }

    /// ARP hardware type (1 = Ethernet).
    pub fn htype(&self) -> u8 {
        self.byte(field::HTYPE)
    }

    /// Hardware address length as sent; may exceed 16 in a malformed packet.
    pub fn hlen(&self) -> u8 {
        self.byte(field::HLEN)
    }

    pub fn hops(&self) -> u8 {
        self.byte(field::HOPS)
    }

    pub fn xid(&self) -> u32 {
        u32::from_be_bytes(self.array(field::XID))
    }

    pub fn secs(&self) -> u16 {
        u16::from_be_bytes(self.array(field::SECS))
    }

    pub fn flags(&self) -> u16 {
        u16::from_be_bytes(self.array(field::FLAGS))
    }

    /// The client asks for broadcast replies (RFC 2131 section 4.1).
    pub fn broadcast(&self) -> bool {
        self.flags() & BROADCAST_FLAG != 0
    }

    pub fn ciaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.array::<4>(field::CIADDR))
    }

    pub fn yiaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.array::<4>(field::YIADDR))
    }

    pub fn siaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.array::<4>(field::SIADDR))
    }

    pub fn giaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.array::<4>(field::GIADDR))
    }

    /// The first `min(hlen, 16)` bytes of chaddr: the client's hardware address. An hlen over
    /// 16 is malformed; like Kea we then take the whole 16-byte field.
    pub fn chaddr(&self) -> &[u8] {
        let len = usize::from(self.hlen()).min(CHADDR_LEN);
        let start = field::CHADDR.start;
        self.slice(start..start + len)
    }

    /// htype and chaddr as the shared hardware-address type.
    pub fn hw_addr(&self) -> HwAddr {
        HwAddr::new(self.htype(), self.chaddr())
    }

    /// The raw 64-byte sname field (NUL-padded text, or options when option 52 says so).
    pub fn sname(&self) -> &[u8] {
        self.slice(field::SNAME)
    }

    /// The raw 128-byte file field (NUL-padded text, or options when option 52 says so).
    pub fn file(&self) -> &[u8] {
        self.slice(field::FILE)
    }

    /// Everything after the magic cookie.
    pub fn options_area(&self) -> &[u8] {
        self.as_bytes().get(field::OPTIONS..).unwrap_or(&[])
    }
}

/// The text in a NUL-padded field (sname, file): the bytes before the first NUL.
pub fn until_nul(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == 0) {
        Some(end) => field.get(..end).unwrap_or(field),
        None => field,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Vec<u8> {
        let mut b = vec![0u8; 240];
        b[236..240].copy_from_slice(&MAGIC_COOKIE);
        b
    }

    #[test]
    fn short_packet_is_truncated_with_lengths() {
        let b = vec![0u8; 239];
        assert_eq!(
            Dhcp4Packet::new_checked(&b[..]).err(),
            Some(WireError::Truncated {
                len: 239,
                needed: 240
            })
        );
    }

    #[test]
    fn wrong_cookie_is_reported_with_the_bytes_found() {
        let mut b = minimal();
        b[236] = 1;
        assert_eq!(
            Dhcp4Packet::new_checked(&b[..]).err(),
            Some(WireError::BadMagicCookie {
                found: [1, 130, 83, 99]
            })
        );
    }

    #[test]
    fn header_fields_read_big_endian_at_rfc2131_offsets() -> Result<(), WireError> {
        let mut b = minimal();
        b[0] = 1;
        b[1] = 1;
        b[2] = 6;
        b[3] = 2;
        b[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        b[8..10].copy_from_slice(&[0, 7]);
        b[10..12].copy_from_slice(&[0x80, 0]);
        b[12..16].copy_from_slice(&[10, 0, 0, 1]);
        b[16..20].copy_from_slice(&[10, 0, 0, 2]);
        b[20..24].copy_from_slice(&[10, 0, 0, 3]);
        b[24..28].copy_from_slice(&[10, 0, 0, 4]);
        b[28..34].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        b[44..47].copy_from_slice(b"srv");
        b[108..111].copy_from_slice(b"pxe");
        let p = Dhcp4Packet::new_checked(&b[..])?;
        assert_eq!((p.op(), p.htype(), p.hlen(), p.hops()), (1, 1, 6, 2));
        assert_eq!(p.xid(), 0xdead_beef);
        assert_eq!(p.secs(), 7);
        assert_eq!(p.flags(), 0x8000);
        assert!(p.broadcast());
        assert_eq!(p.ciaddr(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(p.yiaddr(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(p.siaddr(), Ipv4Addr::new(10, 0, 0, 3));
        assert_eq!(p.giaddr(), Ipv4Addr::new(10, 0, 0, 4));
        assert_eq!(p.chaddr(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(p.hw_addr().as_bytes(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(until_nul(p.sname()), b"srv");
        assert_eq!(until_nul(p.file()), b"pxe");
        assert_eq!(p.sname().len(), 64);
        assert_eq!(p.file().len(), 128);
        assert!(p.options_area().is_empty());
        Ok(())
    }

    #[test]
    fn oversized_hlen_gives_the_whole_16_byte_chaddr() -> Result<(), WireError> {
        let mut b = minimal();
        b[2] = 200;
        b[28..44].copy_from_slice(&[7u8; 16]);
        let p = Dhcp4Packet::new_checked(&b[..])?;
        assert_eq!(p.chaddr(), &[7u8; 16]);
        Ok(())
    }
}
