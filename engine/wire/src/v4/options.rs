//! Reading DHCPv4 options: a raw TLV iterator over one area, and the per-shard [`OptionIndex`]
//! that gathers every option of a message, following RFC 3396 (long options split into several
//! instances) and RFC 2132 section 9.3 (options overloaded into the file and sname fields).

use super::{field, opt, Dhcp4Packet, MessageType};
use crate::error::WireError;
use std::net::Ipv4Addr;

/// The options of one area (the options field, or file / sname when overloaded), in wire
/// order, without PAD and stopping after END or at the first malformed option.
///
/// Yields `(code, payload)`; a length running past the area yields one
/// `Err(BadOptionLength)` and then nothing. A missing END is accepted: the area's end ends it.
#[derive(Debug, Clone)]
pub struct RawOptions<'a> {
    area: &'a [u8],
    pos: usize,
    /// Offset of `area` within the message, so errors name a byte of the packet.
    base: usize,
    done: bool,
}

impl<'a> RawOptions<'a> {
    /// Iterates the options in `area`, which starts at byte `base` of the message.
    pub fn new(area: &'a [u8], base: usize) -> Self {
        RawOptions {
            area,
            pos: 0,
            base,
            done: false,
        }
    }
}

impl<'a> Iterator for RawOptions<'a> {
    type Item = Result<(u8, &'a [u8]), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let Some(&code) = self.area.get(self.pos) else {
                self.done = true;
                return None;
            };
            match code {
                opt::PAD => self.pos += 1,
                opt::END => {
                    self.done = true;
                    return None;
                }
                _ => break,
            }
        }
        let at = self.pos;
        let code = self.area.get(at).copied().unwrap_or(opt::END);
        let payload = self
            .area
            .get(at + 1)
            .and_then(|&len| self.area.get(at + 2..at + 2 + usize::from(len)));
        match payload {
            Some(payload) => {
                self.pos = at + 2 + payload.len();
                Some(Ok((code, payload)))
            }
            None => {
                self.done = true;
                Some(Err(WireError::BadOptionLength {
                    code,
                    offset: self.base + at,
                }))
            }
        }
    }
}

impl<T: AsRef<[u8]>> Dhcp4Packet<T> {
    /// The options field's options, raw (no RFC 3396 joining, no overload).
    pub fn raw_options(&self) -> RawOptions<'_> {
        RawOptions::new(self.options_area(), field::OPTIONS)
    }
}

/// Where one option code's joined payload lies in [`OptionIndex::data`].
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    start: u32,
    len: u32,
    /// The parse that wrote the slot: the option is present when this is the index's
    /// current [`OptionIndex::generation`], so a new parse forgets every slot at once.
    generation: u32,
}

/// Which areas a parse reads, in the order RFC 3396 section 7 joins them: the options field,
/// then file, then sname.
#[derive(Debug, Clone, Copy)]
enum Area {
    Options,
    File,
    Sname,
}

/// Overload bits (RFC 2132 section 9.3).
const OVERLOAD_FILE: u8 = 1;
const OVERLOAD_SNAME: u8 = 2;

/// Reusable per-shard index of one packet's options.
///
/// Owns a buffer whose capacity is kept, so after warm-up parsing allocates nothing. Option
/// payloads are copied into it; split options (same code several times, RFC 3396) are
/// concatenated in the order they appear; options in file and sname are read when option 52
/// (overload, RFC 2132 section 9.3) says so. Lookup by code is O(1).
#[derive(Debug, Clone)]
pub struct OptionIndex {
    slots: Box<[Slot; 256]>,
    /// Codes in order of first appearance.
    order: Vec<u8>,
    data: Vec<u8>,
    /// Option 52's value once validated, else 0.
    overload: u8,
    /// Bumped by every parse instead of resetting the slots it wrote (issue 8: the reset
    /// was part of the per-packet classification cost). Never 0, which no slot holds as
    /// current after [`OptionIndex::clear`] wraps around.
    generation: u32,
}

impl Default for OptionIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl OptionIndex {
    pub fn new() -> Self {
        OptionIndex {
            slots: Box::new([Slot::default(); 256]),
            order: Vec::with_capacity(256),
            data: Vec::with_capacity(1500),
            overload: 0,
            generation: 1,
        }
    }

    fn clear(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Once every 2^32 parses: slots written 2^32 parses ago would look current.
            self.slots.iter_mut().for_each(|s| *s = Slot::default());
            self.generation = 1;
        }
        self.order.clear();
        self.data.clear();
        self.overload = 0;
    }

    fn slot(&self, code: u8) -> Slot {
        self.slots
            .get(usize::from(code))
            .copied()
            .unwrap_or_default()
    }

    fn is_present(&self, slot: Slot) -> bool {
        slot.generation == self.generation
    }

    /// Indexes `packet`'s options, replacing what was indexed before. Any buffer type works
    /// (`&[u8]`, `&mut [u8]`, `Vec<u8>`).
    ///
    /// On `Err` the index still holds the options that came before the fault. Kea
    /// (`LibDHCP::unpackOptions4`) stops at a truncated option and serves the packet with the
    /// options before it (log DHCP4_PACKET_OPTIONS_SKIPPED), so to behave like Kea treat
    /// `Err(BadOptionLength)` as a warning, not a drop.
    pub fn parse<T: AsRef<[u8]>>(&mut self, packet: &Dhcp4Packet<T>) -> Result<(), WireError> {
        self.clear();
        if let Some(result) = self.parse_options_field_alone(packet.options_area()) {
            return result;
        }
        self.clear();
        match self.parse_in_one_pass(packet) {
            Some(result) => result,
            None => {
                self.clear();
                self.parse_in_two_passes(packet)
            }
        }
    }

    /// The usual packet: no option 52 and every code once. The options field is copied into
    /// `data` in one piece up to END (or the fault) and each slot points at its payload in
    /// place, instead of one copy per option (issue 8: this parse is most of a packet's
    /// classification cost). `None` at the first option 52 or repeated code: the general
    /// paths handle those. Stops at the same fault as [`RawOptions`], with the same index.
    fn parse_options_field_alone(&mut self, area: &[u8]) -> Option<Result<(), WireError>> {
        let mut pos = 0usize;
        let mut fault = None;
        let generation = self.generation;
        while let Some(&code) = area.get(pos) {
            match code {
                opt::PAD => {
                    pos += 1;
                    continue;
                }
                opt::END => break,
                opt::OVERLOAD => return None,
                _ => {}
            }
            let end = area
                .get(pos + 1)
                .map(|&len| pos + 2 + usize::from(len))
                .filter(|&end| end <= area.len());
            let Some(end) = end else {
                fault = Some(WireError::BadOptionLength {
                    code,
                    offset: field::OPTIONS + pos,
                });
                break;
            };
            let slot = self.slots.get_mut(usize::from(code))?;
            if slot.generation == generation {
                return None;
            }
            // Offsets within the options field, which is at most a packet long.
            *slot = Slot {
                start: (pos + 2) as u32,
                len: (end - pos - 2) as u32,
                generation,
            };
            self.order.push(code);
            pos = end;
        }
        self.data.extend_from_slice(area.get(..pos).unwrap_or(area));
        Some(fault.map_or(Ok(()), Err))
    }

    /// The common case: every code's instances are adjacent (or unique), so payloads can be
    /// appended as they come. `None` when a code reappears after another one (RFC 3396 allows
    /// that), which needs [`parse_in_two_passes`](Self::parse_in_two_passes).
    fn parse_in_one_pass<T: AsRef<[u8]>>(
        &mut self,
        packet: &Dhcp4Packet<T>,
    ) -> Option<Result<(), WireError>> {
        let mut last_code = None;
        let generation = self.generation;
        for area in [Area::Options, Area::File, Area::Sname] {
            let wanted = match area {
                Area::Options => true,
                Area::File => self.overload & OVERLOAD_FILE != 0,
                Area::Sname => self.overload & OVERLOAD_SNAME != 0,
            };
            if !wanted {
                continue;
            }
            let in_options_field = matches!(area, Area::Options);
            for item in Self::area(packet, area) {
                let (code, payload) = match item {
                    Ok(option) => option,
                    Err(e) => return Some(Err(e)),
                };
                if code == opt::OVERLOAD && !in_options_field {
                    continue;
                }
                if code == opt::OVERLOAD {
                    if let Some(&v) = payload.first() {
                        self.overload = v;
                    }
                }
                let start = self.data.len();
                let slot = self.slots.get_mut(usize::from(code))?;
                if slot.generation != generation {
                    *slot = Slot {
                        start: start as u32,
                        len: 0,
                        generation,
                    };
                    self.order.push(code);
                } else if last_code != Some(code) {
                    return None;
                }
                last_code = Some(code);
                slot.len += payload.len() as u32;
                self.data.extend_from_slice(payload);
            }
            if in_options_field {
                if let Err(e) = self.check_overload() {
                    return Some(Err(e));
                }
            }
        }
        Some(Ok(()))
    }

    /// The general case: pass 1 finds codes, their joined lengths and option 52; pass 2 copies.
    fn parse_in_two_passes<T: AsRef<[u8]>>(
        &mut self,
        packet: &Dhcp4Packet<T>,
    ) -> Result<(), WireError> {
        // Pass 1: find codes, their joined lengths and option 52. Two passes keep a code's
        // instances contiguous in `data` even when other options sit between them.
        let mut areas: [Option<Area>; 3] = [Some(Area::Options), None, None];
        let mut result = self.count_area(packet, Area::Options);
        if result.is_ok() {
            result = self.check_overload();
        }
        if result.is_ok() {
            // RFC 3396 section 7: options field, then file, then sname.
            if self.overload & OVERLOAD_FILE != 0 {
                areas[1] = Some(Area::File);
                result = self.count_area(packet, Area::File);
            }
            if result.is_ok() && self.overload & OVERLOAD_SNAME != 0 {
                areas[2] = Some(Area::Sname);
                result = self.count_area(packet, Area::Sname);
            }
        }
        // Lay the joined payloads out in order of first appearance; `len` becomes the fill mark.
        let mut next = 0u32;
        for &code in &self.order {
            if let Some(slot) = self.slots.get_mut(usize::from(code)) {
                slot.start = next;
                next = next.saturating_add(slot.len);
                slot.len = 0;
            }
        }
        self.data.resize(next as usize, 0);
        // Pass 2: copy. It walks the same areas and stops at the same fault as pass 1.
        for area in areas.into_iter().flatten() {
            self.fill_area(packet, area);
        }
        result
    }

    fn area<T: AsRef<[u8]>>(packet: &Dhcp4Packet<T>, area: Area) -> RawOptions<'_> {
        match area {
            Area::Options => packet.raw_options(),
            Area::File => RawOptions::new(packet.file(), field::FILE.start),
            Area::Sname => RawOptions::new(packet.sname(), field::SNAME.start),
        }
    }

    fn count_area<T: AsRef<[u8]>>(
        &mut self,
        packet: &Dhcp4Packet<T>,
        area: Area,
    ) -> Result<(), WireError> {
        let in_options_field = matches!(area, Area::Options);
        for item in Self::area(packet, area) {
            let (code, payload) = item?;
            // RFC 2132 9.3: option 52 is only meaningful in the options field; one inside
            // file or sname would make a loop, so it is ignored there.
            if code == opt::OVERLOAD && !in_options_field {
                continue;
            }
            if code == opt::OVERLOAD {
                if let Some(&v) = payload.first() {
                    self.overload = v;
                }
            }
            let generation = self.generation;
            let Some(slot) = self.slots.get_mut(usize::from(code)) else {
                continue;
            };
            if slot.generation != generation {
                *slot = Slot {
                    start: 0,
                    len: 0,
                    generation,
                };
                self.order.push(code);
            }
            // payload.len() <= 255, and the total stays below the packet length.
            slot.len = slot.len.saturating_add(payload.len() as u32);
        }
        Ok(())
    }

    fn check_overload(&mut self) -> Result<(), WireError> {
        let slot = self.slot(opt::OVERLOAD);
        if !self.is_present(slot) {
            self.overload = 0;
            return Ok(());
        }
        let value = self.overload;
        if slot.len != 1 || !(1..=3).contains(&value) {
            self.overload = 0;
            return Err(WireError::BadOverload {
                len: slot.len as usize,
                value,
            });
        }
        Ok(())
    }

    fn fill_area<T: AsRef<[u8]>>(&mut self, packet: &Dhcp4Packet<T>, area: Area) {
        let in_options_field = matches!(area, Area::Options);
        for item in Self::area(packet, area) {
            let Ok((code, payload)) = item else { break };
            if code == opt::OVERLOAD && !in_options_field {
                continue;
            }
            let Some(slot) = self.slots.get_mut(usize::from(code)) else {
                continue;
            };
            let at = (slot.start + slot.len) as usize;
            if let Some(dst) = self.data.get_mut(at..at + payload.len()) {
                dst.copy_from_slice(payload);
                slot.len += payload.len() as u32;
            }
        }
    }

    /// The joined payload of option `code`; `Some(&[])` for a zero-length option.
    pub fn get(&self, code: u8) -> Option<&[u8]> {
        let slot = self.slot(code);
        if !self.is_present(slot) {
            return None;
        }
        let start = slot.start as usize;
        self.data.get(start..start + slot.len as usize)
    }

    pub fn contains(&self, code: u8) -> bool {
        self.is_present(self.slot(code))
    }

    /// Option codes in order of first appearance (options field, then file, then sname).
    pub fn codes(&self) -> impl Iterator<Item = u8> + '_ {
        self.order.iter().copied()
    }

    /// Number of distinct option codes.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Option 52's value (1 file, 2 sname, 3 both), 0 when the message is not overloaded.
    pub fn overload(&self) -> u8 {
        self.overload
    }

    fn fixed<const N: usize>(&self, code: u8) -> Option<[u8; N]> {
        self.get(code).and_then(|b| <[u8; N]>::try_from(b).ok())
    }

    /// Option 53; `None` if absent, not one byte, or an unassigned value.
    pub fn message_type(&self) -> Option<MessageType> {
        self.fixed::<1>(opt::MESSAGE_TYPE)
            .and_then(|[v]| MessageType::from_u8(v))
    }

    /// Option 50; `None` if absent or not 4 bytes.
    pub fn requested_address(&self) -> Option<Ipv4Addr> {
        self.fixed::<4>(opt::REQUESTED_ADDRESS).map(Ipv4Addr::from)
    }

    /// Option 54; `None` if absent or not 4 bytes.
    pub fn server_id(&self) -> Option<Ipv4Addr> {
        self.fixed::<4>(opt::SERVER_ID).map(Ipv4Addr::from)
    }

    /// Option 61; `None` if absent or empty (RFC 2132 9.14 requires at least 2 bytes; the
    /// caller decides what to do with a 1-byte one, as Kea's client-id checks do).
    pub fn client_id(&self) -> Option<&[u8]> {
        self.get(opt::CLIENT_ID).filter(|b| !b.is_empty())
    }

    /// Option 55's requested codes; empty if absent.
    pub fn parameter_request_list(&self) -> &[u8] {
        self.get(opt::PARAMETER_REQUEST_LIST).unwrap_or(&[])
    }

    /// Option 57; `None` if absent or not 2 bytes. The value is not clamped: RFC 2132 9.10
    /// says it is at least 576, enforcing that is the caller's choice.
    pub fn max_message_size(&self) -> Option<u16> {
        self.fixed::<2>(opt::MAX_MESSAGE_SIZE)
            .map(u16::from_be_bytes)
    }

    /// Option 51 in seconds; `None` if absent or not 4 bytes.
    pub fn lease_time(&self) -> Option<u32> {
        self.fixed::<4>(opt::LEASE_TIME).map(u32::from_be_bytes)
    }

    /// Option 12; `None` if absent or empty (RFC 2132 3.14: minimum length 1).
    pub fn hostname(&self) -> Option<&[u8]> {
        self.get(opt::HOST_NAME).filter(|b| !b.is_empty())
    }

    /// Option 82's raw payload; see [`super::relay_suboptions`].
    pub fn relay_agent_info(&self) -> Option<&[u8]> {
        self.get(opt::RELAY_AGENT_INFO)
    }

    /// Option 118 (RFC 3011); `None` if absent or not 4 bytes.
    pub fn subnet_selection(&self) -> Option<Ipv4Addr> {
        self.fixed::<4>(opt::SUBNET_SELECTION).map(Ipv4Addr::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v4::MAGIC_COOKIE;

    fn packet_with(options: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 240];
        b[236..240].copy_from_slice(&MAGIC_COOKIE);
        b.extend_from_slice(options);
        b
    }

    fn index(bytes: &[u8]) -> (OptionIndex, Result<(), WireError>) {
        let mut idx = OptionIndex::new();
        let result = match Dhcp4Packet::new_checked(bytes) {
            Ok(p) => idx.parse(&p),
            Err(e) => Err(e),
        };
        (idx, result)
    }

    #[test]
    fn typical_request_options_are_read_by_their_accessors() {
        let b = packet_with(&[
            53, 1, 3, // REQUEST
            50, 4, 10, 0, 0, 9, // requested address
            54, 4, 10, 0, 0, 1, // server id
            61, 7, 1, 1, 2, 3, 4, 5, 6, // client id
            55, 3, 1, 3, 6, // PRL
            57, 2, 5, 220, // max size 1500
            51, 4, 0, 0, 14, 16, // 3600 s
            12, 4, b'h', b'o', b's', b't', //
            118, 4, 192, 0, 2, 0, //
            82, 4, 1, 2, 0xab, 0xcd, //
            255,
        ]);
        let (idx, result) = index(&b);
        assert_eq!(result, Ok(()));
        assert_eq!(idx.message_type(), Some(MessageType::Request));
        assert_eq!(idx.requested_address(), Some(Ipv4Addr::new(10, 0, 0, 9)));
        assert_eq!(idx.server_id(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(idx.client_id(), Some(&[1, 1, 2, 3, 4, 5, 6][..]));
        assert_eq!(idx.parameter_request_list(), &[1, 3, 6]);
        assert_eq!(idx.max_message_size(), Some(1500));
        assert_eq!(idx.lease_time(), Some(3600));
        assert_eq!(idx.hostname(), Some(&b"host"[..]));
        assert_eq!(idx.subnet_selection(), Some(Ipv4Addr::new(192, 0, 2, 0)));
        assert_eq!(idx.relay_agent_info(), Some(&[1, 2, 0xab, 0xcd][..]));
        assert_eq!(
            idx.codes().collect::<Vec<_>>(),
            vec![53, 50, 54, 61, 55, 57, 51, 12, 118, 82]
        );
    }

    #[test]
    fn split_option_instances_are_joined_even_when_not_adjacent() {
        let b = packet_with(&[61, 2, 1, 2, 53, 1, 1, 61, 3, 3, 4, 5, 255]);
        let (idx, result) = index(&b);
        assert_eq!(result, Ok(()));
        assert_eq!(idx.get(61), Some(&[1, 2, 3, 4, 5][..]));
        assert_eq!(idx.codes().collect::<Vec<_>>(), vec![61, 53]);
        assert_eq!(idx.message_type(), Some(MessageType::Discover));
    }

    #[test]
    fn overloaded_file_and_sname_are_read_after_the_options_field() {
        let mut b = packet_with(&[52, 1, 3, 12, 1, b'a', 255]);
        // file: the rest of the host name, then option 15
        b[108..115].copy_from_slice(&[12, 1, b'b', 15, 2, b'x', b'y']);
        b[115] = 255;
        // sname: more host name, and an option 52 that must be ignored
        b[44..51].copy_from_slice(&[12, 1, b'c', 52, 1, 1, 255]);
        let (idx, result) = index(&b);
        assert_eq!(result, Ok(()));
        assert_eq!(idx.overload(), 3);
        assert_eq!(idx.hostname(), Some(&b"abc"[..]));
        assert_eq!(idx.get(opt::DOMAIN_NAME), Some(&b"xy"[..]));
        assert_eq!(idx.get(opt::OVERLOAD), Some(&[3][..]));
    }

    #[test]
    fn file_is_not_read_as_options_without_overload() {
        let mut b = packet_with(&[53, 1, 1, 255]);
        b[108..111].copy_from_slice(&[12, 1, b'z']);
        let (idx, result) = index(&b);
        assert_eq!(result, Ok(()));
        assert!(!idx.contains(opt::HOST_NAME));
    }

    #[test]
    fn overload_with_a_bad_value_is_an_error() {
        let (_, result) = index(&packet_with(&[52, 1, 7, 255]));
        assert_eq!(result, Err(WireError::BadOverload { len: 1, value: 7 }));
        let (_, result) = index(&packet_with(&[52, 2, 1, 1, 255]));
        assert_eq!(result, Err(WireError::BadOverload { len: 2, value: 1 }));
    }

    #[test]
    fn length_past_the_end_errs_and_keeps_the_options_before_it() {
        let b = packet_with(&[53, 1, 1, 61, 9, 1, 2]);
        let (idx, result) = index(&b);
        assert_eq!(
            result,
            Err(WireError::BadOptionLength {
                code: 61,
                offset: 243
            })
        );
        assert_eq!(idx.message_type(), Some(MessageType::Discover));
        assert!(!idx.contains(61));
    }

    #[test]
    fn code_without_length_byte_at_the_end_is_bad_length() {
        let (_, result) = index(&packet_with(&[53, 1, 1, 61]));
        assert_eq!(
            result,
            Err(WireError::BadOptionLength {
                code: 61,
                offset: 243
            })
        );
    }

    #[test]
    fn zero_length_option_is_present_and_empty() {
        let (idx, result) = index(&packet_with(&[80, 0, 61, 0, 12, 0, 255]));
        assert_eq!(result, Ok(()));
        assert_eq!(idx.get(opt::RAPID_COMMIT), Some(&[][..]));
        assert!(idx.contains(opt::CLIENT_ID));
        assert_eq!(idx.client_id(), None);
        assert_eq!(idx.hostname(), None);
    }

    /// Slots are forgotten by bumping the generation, not by clearing them: a reused index
    /// must not see the previous packet's options, through every parse path and across the
    /// generation counter's wrap-around.
    #[test]
    fn reused_index_forgets_the_previous_packets_options() {
        let full = packet_with(&[53, 1, 1, 61, 2, 1, 2, 12, 1, b'h', 60, 1, b'v', 255]);
        let repeated = packet_with(&[53, 1, 3, 12, 1, b'a', 12, 1, b'b', 255]);
        let interleaved = packet_with(&[12, 1, b'a', 53, 1, 3, 12, 1, b'b', 255]);
        let mut overloaded = packet_with(&[52, 1, 1, 53, 1, 3, 255]);
        overloaded[108] = 61;
        overloaded[109] = 1;
        overloaded[110] = 7;
        overloaded[111] = 255;
        let bare = packet_with(&[255]);
        let mut idx = OptionIndex::new();
        for start in [1, u32::MAX - 3] {
            idx.generation = start;
            for next in [&repeated, &interleaved, &overloaded, &bare, &full] {
                let full_pkt = Dhcp4Packet::new_checked(&full[..]).expect("test packet");
                assert_eq!(idx.parse(&full_pkt), Ok(()));
                assert_eq!(idx.client_id(), Some(&[1u8, 2][..]));
                let pkt = Dhcp4Packet::new_checked(&next[..]).expect("test packet");
                assert_eq!(idx.parse(&pkt), Ok(()));
                let (fresh, _) = index(next);
                for code in 0..=255u8 {
                    assert_eq!(idx.get(code), fresh.get(code), "code {code}");
                }
                assert_eq!(
                    idx.codes().collect::<Vec<_>>(),
                    fresh.codes().collect::<Vec<_>>()
                );
                assert_ne!(idx.generation, 0);
            }
        }
    }

    #[test]
    fn pads_are_skipped_and_bytes_after_end_ignored() {
        let (idx, result) = index(&packet_with(&[0, 0, 53, 1, 2, 0, 255, 61, 200]));
        assert_eq!(result, Ok(()));
        assert_eq!(idx.message_type(), Some(MessageType::Offer));
        assert_eq!(idx.len(), 1);
    }

    #[test]
    fn wrong_sized_fixed_options_read_as_none() {
        let (idx, result) = index(&packet_with(&[
            53, 2, 1, 1, 50, 3, 1, 2, 3, 57, 1, 9, 51, 5, 0, 0, 0, 0, 0, 255,
        ]));
        assert_eq!(result, Ok(()));
        assert_eq!(idx.message_type(), None);
        assert_eq!(idx.requested_address(), None);
        assert_eq!(idx.max_message_size(), None);
        assert_eq!(idx.lease_time(), None);
    }

    /// The whole-field copy of the usual packet indexes exactly what the general two-pass
    /// path does, also when the field is cut at every byte (faults keep what came before),
    /// with pads, an empty option and bytes after END.
    #[test]
    fn options_field_alone_agrees_with_the_two_pass_path() {
        let area = [
            53, 1, 1, 0, 0, 61, 7, 1, 2, 3, 4, 5, 6, 7, 12, 0, 60, 5, b'P', b'X', b'E', b'C', b'l',
            55, 3, 1, 3, 6, 255, 9, 9,
        ];
        for cut in 0..=area.len() {
            let bytes = packet_with(&area[..cut]);
            let Ok(p) = Dhcp4Packet::new_checked(&bytes[..]) else {
                panic!("cut {cut}: header rejected");
            };
            let mut fast = OptionIndex::new();
            let fast_result = fast.parse_options_field_alone(p.options_area());
            let mut general = OptionIndex::new();
            let general_result = general.parse_in_two_passes(&p);
            assert_eq!(fast_result, Some(general_result), "cut {cut}");
            assert!(fast.codes().eq(general.codes()), "cut {cut}");
            for code in 0..=255u8 {
                assert_eq!(fast.get(code), general.get(code), "cut {cut} code {code}");
            }
        }
        // Option 52 or a repeated code: left to the general paths.
        let mut idx = OptionIndex::new();
        assert_eq!(idx.parse_options_field_alone(&[53, 1, 1, 52, 1, 1]), None);
        idx.clear();
        assert_eq!(
            idx.parse_options_field_alone(&[12, 1, b'a', 12, 1, b'b']),
            None
        );
    }

    #[test]
    fn reparse_forgets_the_previous_packet() {
        let mut idx = OptionIndex::new();
        let first = packet_with(&[53, 1, 1, 61, 2, 9, 9, 255]);
        let second = packet_with(&[53, 1, 3, 255]);
        for bytes in [&first, &second] {
            if let Ok(p) = Dhcp4Packet::new_checked(&bytes[..]) {
                assert_eq!(idx.parse(&p), Ok(()));
            }
        }
        assert_eq!(idx.message_type(), Some(MessageType::Request));
        assert!(!idx.contains(61));
        assert_eq!(idx.codes().collect::<Vec<_>>(), vec![53]);
    }

    #[test]
    fn two_hundred_fifty_five_maximal_options_are_all_indexed() {
        let codes: Vec<u8> = (1..=254u8).filter(|&c| c != opt::OVERLOAD).collect();
        let mut opts = Vec::new();
        for i in 0..255usize {
            let code = codes[i % codes.len()];
            opts.push(code);
            opts.push(255);
            opts.extend_from_slice(&[code; 255]);
        }
        opts.push(255);
        let (idx, result) = index(&packet_with(&opts));
        assert_eq!(result, Ok(()));
        assert_eq!(idx.len(), codes.len());
        for (i, &code) in codes.iter().enumerate() {
            let expected = if i < 255 - codes.len() { 510 } else { 255 };
            let payload = idx.get(code).unwrap_or(&[]);
            assert_eq!(payload.len(), expected, "code {code}");
            assert!(payload.iter().all(|&b| b == code));
        }
    }
}
