//! Writing a DHCPv4 message into a caller's reused buffer.

use super::{field, opt, BROADCAST_FLAG, HEADER_LEN, MAGIC_COOKIE, MIN_MESSAGE_LEN};
use crate::error::WireError;
use std::net::Ipv4Addr;

/// Longest payload of one option instance; longer ones are split (RFC 3396).
const MAX_INSTANCE: usize = 255;
/// Bytes option 52 takes in the options field.
const OVERLOAD_OPTION_LEN: usize = 3;

/// Writes a message into a caller's (reused) buffer. Never allocates.
///
/// Set the fixed header first (including sname and file, if wanted), then add options, then
/// [`finish`](Self::finish). Options go into the options field while they fit under `max_len`;
/// after that into file, then sname (RFC 2132 section 9.3 overload), unless the caller set those
/// fields. Each option (with all its RFC 3396 instances) stays within one area.
#[derive(Debug)]
pub struct Dhcp4Writer<'a> {
    buf: &'a mut [u8],
    /// The message may not grow past this many bytes.
    limit: usize,
    /// Next free byte of the options field.
    pos: usize,
    file_set: bool,
    sname_set: bool,
    /// Next free byte of file / sname once they carry options (0 = unused).
    file_pos: usize,
    sname_pos: usize,
    /// Where option 52's value byte is, once written (0 = not written).
    overload_at: usize,
}

/// Wire size of `len` payload bytes once split into instances of at most 255 (RFC 3396).
fn encoded_len(len: usize) -> usize {
    let instances = len.div_ceil(MAX_INSTANCE).max(1);
    len + 2 * instances
}

impl<'a> Dhcp4Writer<'a> {
    /// `max_len` bounds the message (the caller passes the client's max message size, at least
    /// 576 - 28 = 548 per RFC 2131, capped at the buffer length). Zeroes the fixed header,
    /// writes the cookie.
    ///
    /// A `max_len` below the 300-byte BOOTP minimum is raised to it: every message is padded to
    /// 300 bytes anyway (RFC 1542 section 2.1). The buffer must hold at least 300 bytes.
    pub fn new(buf: &'a mut [u8], max_len: usize) -> Result<Self, WireError> {
        if buf.len() < MIN_MESSAGE_LEN {
            return Err(WireError::BufferTooSmall {
                len: buf.len(),
                needed: MIN_MESSAGE_LEN,
            });
        }
        let limit = max_len.max(MIN_MESSAGE_LEN).min(buf.len());
        if let Some(header) = buf.get_mut(..HEADER_LEN) {
            header.fill(0);
        }
        if let Some(cookie) = buf.get_mut(field::COOKIE) {
            cookie.copy_from_slice(&MAGIC_COOKIE);
        }
        Ok(Dhcp4Writer {
            buf,
            limit,
            pos: HEADER_LEN,
            file_set: false,
            sname_set: false,
            file_pos: 0,
            sname_pos: 0,
            overload_at: 0,
        })
    }

    fn put(&mut self, at: usize, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    }

    pub fn set_op(&mut self, v: u8) {
        self.put(field::OP, &[v]);
    }

    pub fn set_htype(&mut self, v: u8) {
        self.put(field::HTYPE, &[v]);
    }

    pub fn set_hlen(&mut self, v: u8) {
        self.put(field::HLEN, &[v]);
    }

    pub fn set_hops(&mut self, v: u8) {
        self.put(field::HOPS, &[v]);
    }

    pub fn set_xid(&mut self, v: u32) {
        self.put(field::XID.start, &v.to_be_bytes());
    }

    pub fn set_secs(&mut self, v: u16) {
        self.put(field::SECS.start, &v.to_be_bytes());
    }

    pub fn set_flags(&mut self, v: u16) {
        self.put(field::FLAGS.start, &v.to_be_bytes());
    }

    /// Sets or clears only the broadcast bit of flags (RFC 2131 section 4.1).
    pub fn set_broadcast(&mut self, on: bool) {
        let current = self
            .buf
            .get(field::FLAGS)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .unwrap_or(0);
        let flags = if on {
            current | BROADCAST_FLAG
        } else {
            current & !BROADCAST_FLAG
        };
        self.set_flags(flags);
    }

    pub fn set_ciaddr(&mut self, a: Ipv4Addr) {
        self.put(field::CIADDR.start, &a.octets());
    }

    pub fn set_yiaddr(&mut self, a: Ipv4Addr) {
        self.put(field::YIADDR.start, &a.octets());
    }

    pub fn set_siaddr(&mut self, a: Ipv4Addr) {
        self.put(field::SIADDR.start, &a.octets());
    }

    pub fn set_giaddr(&mut self, a: Ipv4Addr) {
        self.put(field::GIADDR.start, &a.octets());
    }

    /// Copies `field_bytes` into `range`, truncated to it, zero-filling the rest.
    fn set_fixed_field(&mut self, range: field::Field, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(range) {
            let n = bytes.len().min(dst.len());
            dst.fill(0);
            if let (Some(d), Some(s)) = (dst.get_mut(..n), bytes.get(..n)) {
                d.copy_from_slice(s);
            }
        }
    }

    /// Client hardware address, truncated to 16 bytes. Does not touch hlen.
    pub fn set_chaddr(&mut self, b: &[u8]) {
        self.set_fixed_field(field::CHADDR, b);
    }

    /// Server host name, truncated to 64 bytes. A non-empty name keeps sname out of overload.
    /// Ignored once options were overloaded into sname (set the header before options).
    pub fn set_sname(&mut self, b: &[u8]) {
        if self.sname_pos != 0 {
            return;
        }
        self.set_fixed_field(field::SNAME, b);
        self.sname_set = !b.is_empty();
    }

    /// Boot file name, truncated to 128 bytes. A non-empty name keeps file out of overload.
    /// Ignored once options were overloaded into file (set the header before options).
    pub fn set_file(&mut self, b: &[u8]) {
        if self.file_pos != 0 {
            return;
        }
        self.set_fixed_field(field::FILE, b);
        self.file_set = !b.is_empty();
    }

    /// Writes `data` at `at` as option `code`, split into instances of at most 255 bytes
    /// (RFC 3396 section 6); returns the position after it. Space was checked by the caller.
    fn write_instances(&mut self, mut at: usize, code: u8, data: &[u8]) -> usize {
        if data.len() <= MAX_INSTANCE {
            // The common case, one instance: a single bounds check and copy.
            let end = at + 2 + data.len();
            if let Some((head, body)) = self
                .buf
                .get_mut(at..end)
                .and_then(|dst| dst.split_first_chunk_mut::<2>())
            {
                *head = [code, data.len() as u8];
                body.copy_from_slice(data);
            }
            return end;
        }
        for chunk in data.chunks(MAX_INSTANCE) {
            // chunk.len() <= 255 by construction.
            self.put(at, &[code, chunk.len() as u8]);
            self.put(at + 2, chunk);
            at += 2 + chunk.len();
        }
        at
    }

    /// Appends one option; a payload over 255 bytes is split into several instances (RFC 3396).
    /// When the options area is full and sname/file were not set, the option goes there with
    /// option 52 (overload) added (RFC 2132 9.3). Err(NoSpace) leaves the message valid without it.
    ///
    /// Codes 0 (PAD), 52 (OVERLOAD) and 255 (END) are framing and give `ReservedOptionCode`.
    /// RFC 3046 section 2.2 wants option 82 last in a reply: write it last.
    pub fn option(&mut self, code: u8, data: &[u8]) -> Result<(), WireError> {
        if matches!(code, opt::PAD | opt::OVERLOAD | opt::END) {
            return Err(WireError::ReservedOptionCode { code });
        }
        let needed = encoded_len(data.len());
        // Every area keeps one byte for its END.
        if self.pos + needed < self.limit {
            self.pos = self.write_instances(self.pos, code, data);
            return Ok(());
        }
        // Overload needs option 52 in the options field, written once.
        if self.overload_at == 0 && self.pos + OVERLOAD_OPTION_LEN >= self.limit {
            return Err(WireError::NoSpace);
        }
        if !self.file_set {
            let at = if self.file_pos == 0 {
                field::FILE.start
            } else {
                self.file_pos
            };
            if at + needed < field::FILE.end {
                self.mark_overload(1);
                self.file_pos = self.write_instances(at, code, data);
                return Ok(());
            }
        }
        if !self.sname_set {
            let at = if self.sname_pos == 0 {
                field::SNAME.start
            } else {
                self.sname_pos
            };
            if at + needed < field::SNAME.end {
                self.mark_overload(2);
                self.sname_pos = self.write_instances(at, code, data);
                return Ok(());
            }
        }
        Err(WireError::NoSpace)
    }

    /// Records that `bit` (1 file, 2 sname) carries options, writing option 52 on first use.
    fn mark_overload(&mut self, bit: u8) {
        if self.overload_at == 0 {
            self.put(self.pos, &[opt::OVERLOAD, 1, 0]);
            self.overload_at = self.pos + 2;
            self.pos += OVERLOAD_OPTION_LEN;
        }
        let at = self.overload_at;
        let value = self.buf.get(at).copied().unwrap_or(0) | bit;
        self.put(at, &[value]);
    }

    /// Convenience for a one-address option (server id, subnet mask, ...).
    pub fn option_ipv4(&mut self, code: u8, a: Ipv4Addr) -> Result<(), WireError> {
        self.option(code, &a.octets())
    }

    /// Convenience for a 32-bit option (lease, renewal and rebinding times).
    pub fn option_u32(&mut self, code: u8, v: u32) -> Result<(), WireError> {
        self.option(code, &v.to_be_bytes())
    }

    /// Bytes left for options in the options field (before END and overload).
    pub fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.pos + 1)
    }

    /// Writes END (in every area used), pads to the BOOTP minimum of 300 bytes, returns the length.
    pub fn finish(self) -> Result<usize, WireError> {
        let mut this = self;
        // Space for every END was kept back by `option`.
        this.put(this.pos, &[opt::END]);
        let end = this.pos + 1;
        if this.file_pos != 0 {
            this.put(this.file_pos, &[opt::END]);
        }
        if this.sname_pos != 0 {
            this.put(this.sname_pos, &[opt::END]);
        }
        let len = end.max(MIN_MESSAGE_LEN);
        // The buffer is reused: whatever the previous message left there must not leak out.
        if let Some(padding) = this.buf.get_mut(end..len) {
            padding.fill(opt::PAD);
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v4::{Dhcp4Packet, OptionIndex};

    #[test]
    fn encoded_len_counts_a_header_per_instance() {
        assert_eq!(encoded_len(0), 2);
        assert_eq!(encoded_len(1), 3);
        assert_eq!(encoded_len(255), 257);
        assert_eq!(encoded_len(256), 260);
        assert_eq!(encoded_len(510), 514);
    }

    #[test]
    fn minimal_message_is_padded_to_300_with_zeros() -> Result<(), WireError> {
        let mut buf = [0xeeu8; 1500];
        let w = Dhcp4Writer::new(&mut buf, 548)?;
        let len = w.finish()?;
        assert_eq!(len, 300);
        assert_eq!(&buf[236..241], &[99, 130, 83, 99, 255]);
        assert!(buf[..236].iter().all(|&b| b == 0));
        assert!(buf[241..300].iter().all(|&b| b == 0));
        Ok(())
    }

    #[test]
    fn small_buffer_is_refused() {
        let mut buf = [0u8; 299];
        assert_eq!(
            Dhcp4Writer::new(&mut buf, 548).err(),
            Some(WireError::BufferTooSmall {
                len: 299,
                needed: 300
            })
        );
    }

    #[test]
    fn reserved_codes_are_refused() -> Result<(), WireError> {
        let mut buf = [0u8; 600];
        let mut w = Dhcp4Writer::new(&mut buf, 548)?;
        for code in [0, 52, 255] {
            assert_eq!(
                w.option(code, &[1]),
                Err(WireError::ReservedOptionCode { code })
            );
        }
        Ok(())
    }

    #[test]
    fn long_option_is_split_into_255_byte_instances() -> Result<(), WireError> {
        let mut buf = [0u8; 1500];
        let data: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        let mut w = Dhcp4Writer::new(&mut buf, 1500)?;
        w.option(opt::VIVSO, &data)?;
        let len = w.finish()?;
        assert_eq!(len, 240 + 606 + 1);
        assert_eq!(&buf[240..242], &[125, 255]);
        assert_eq!(&buf[497..499], &[125, 255]);
        assert_eq!(&buf[754..756], &[125, 90]);
        let mut idx = OptionIndex::new();
        idx.parse(&Dhcp4Packet::new_checked(&buf[..len])?)?;
        assert_eq!(idx.get(opt::VIVSO), Some(&data[..]));
        Ok(())
    }

    #[test]
    fn full_options_field_overflows_into_file_then_sname() -> Result<(), WireError> {
        let mut buf = [0u8; 1500];
        let mut w = Dhcp4Writer::new(&mut buf, 300)?;
        // 300 - 240 = 60 bytes: a 50-byte option fits, leaving 8 (room for option 52 and END).
        w.option(200, &[1u8; 48])?;
        w.option(201, &[2u8; 100])?; // to file
        w.option(202, &[3u8; 30])?; // file has 128 - 102 - 1 = 25 left: to sname
        w.option(203, &[4u8; 20])?; // file still takes 20 + 2
        assert_eq!(w.option(204, &[5u8; 60]), Err(WireError::NoSpace));
        w.option(205, &[6u8; 2])?; // main still has room for 4 bytes
        let len = w.finish()?;
        assert_eq!(len, 300);
        let p = Dhcp4Packet::new_checked(&buf[..len])?;
        let mut idx = OptionIndex::new();
        idx.parse(&p)?;
        assert_eq!(idx.overload(), 3);
        assert_eq!(idx.get(200), Some(&[1u8; 48][..]));
        assert_eq!(idx.get(201), Some(&[2u8; 100][..]));
        assert_eq!(idx.get(202), Some(&[3u8; 30][..]));
        assert_eq!(idx.get(203), Some(&[4u8; 20][..]));
        assert_eq!(idx.get(205), Some(&[6u8; 2][..]));
        assert!(!idx.contains(204));
        assert_eq!(
            idx.codes().collect::<Vec<_>>(),
            vec![200, 52, 205, 201, 203, 202]
        );
        Ok(())
    }

    #[test]
    fn set_file_keeps_file_out_of_overload() -> Result<(), WireError> {
        let mut buf = [0u8; 1500];
        let mut w = Dhcp4Writer::new(&mut buf, 300)?;
        w.set_file(b"pxelinux.0");
        w.set_sname(b"tftp");
        w.option(200, &[1u8; 48])?;
        assert_eq!(w.option(201, &[2u8; 20]), Err(WireError::NoSpace));
        let len = w.finish()?;
        let p = Dhcp4Packet::new_checked(&buf[..len])?;
        assert_eq!(&p.file()[..11], b"pxelinux.0\0");
        assert_eq!(&p.sname()[..5], b"tftp\0");
        let mut idx = OptionIndex::new();
        idx.parse(&p)?;
        assert!(!idx.contains(opt::OVERLOAD));
        Ok(())
    }

    #[test]
    fn no_space_leaves_earlier_options_and_a_valid_message() -> Result<(), WireError> {
        let mut buf = [0u8; 1500];
        let mut w = Dhcp4Writer::new(&mut buf, 300)?;
        w.set_file(b"f");
        w.set_sname(b"s");
        w.option(53, &[5])?;
        assert_eq!(w.option(43, &[9u8; 100]), Err(WireError::NoSpace));
        let len = w.finish()?;
        assert_eq!(&buf[240..244], &[53, 1, 5, 255]);
        assert_eq!(len, 300);
        Ok(())
    }

    #[test]
    fn header_setters_write_network_order_and_truncate_fields() -> Result<(), WireError> {
        let mut buf = [0xffu8; 600];
        let mut w = Dhcp4Writer::new(&mut buf, 576)?;
        w.set_op(2);
        w.set_htype(1);
        w.set_hlen(6);
        w.set_hops(1);
        w.set_xid(0x0102_0304);
        w.set_secs(0x0506);
        w.set_flags(0x0001);
        w.set_broadcast(true);
        w.set_ciaddr(Ipv4Addr::new(1, 1, 1, 1));
        w.set_yiaddr(Ipv4Addr::new(2, 2, 2, 2));
        w.set_siaddr(Ipv4Addr::new(3, 3, 3, 3));
        w.set_giaddr(Ipv4Addr::new(4, 4, 4, 4));
        w.set_chaddr(&[9u8; 20]);
        w.set_sname(&[b's'; 70]);
        w.set_file(&[b'f'; 130]);
        let len = w.finish()?;
        assert_eq!(&buf[..12], &[2, 1, 6, 1, 1, 2, 3, 4, 5, 6, 0x80, 0x01]);
        assert_eq!(
            &buf[12..28],
            &[1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]
        );
        assert_eq!(&buf[28..44], &[9u8; 16]);
        assert_eq!(&buf[44..108], &[b's'; 64]);
        assert_eq!(&buf[108..236], &[b'f'; 128]);
        assert_eq!(len, 300);
        Ok(())
    }
}
