//! Kea's client-classification expression language (corelease-classify): arbitrary expression
//! text is compiled for DHCPv4 and DHCPv6 (compile errors are fine, panics are not), and
//! whatever compiles is evaluated, as a boolean and as a string, against an arbitrary packet:
//! the DHCPv4 codec's view when the bytes decode as DHCPv4, and a context that serves every
//! accessor (options, pkt4 fields, relay6 levels, membership) from the raw bytes otherwise.
//!
//! Input: one flag byte, the expression (up to the first NUL), then the packet bytes.
#![no_main]

use corelease_classify::{
    compile_test, compile_with, standard_v4_option_code, ClassMembership, PacketContext, Scratch,
    Universe, V4Context,
};
use corelease_wire::v4::{Dhcp4Packet, OptionIndex};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// DHCPv6 option names an expression may use (a few standard ones and a custom definition).
fn v6_option_code(name: &str) -> Option<u16> {
    match name {
        "client-id" => Some(1),
        "server-id" => Some(2),
        "ia-na" => Some(3),
        "oro" => Some(6),
        "user-class" => Some(15),
        "vendor-class" => Some(16),
        "vendor-opts" => Some(17),
        "interface-id" => Some(18),
        "remote-id" => Some(37),
        "subscriber-id" => Some(38),
        "my-custom" => Some(222),
        _ => None,
    }
}

/// Any packet, served from raw bytes: options are (code, len, data) TLVs with 8-bit code and
/// length, relay levels are the same TLV list cut into up to four parts.
struct RawPacket<'a> {
    bytes: &'a [u8],
    flags: u8,
}

impl RawPacket<'_> {
    fn tlv(area: &[u8], code: u16) -> Option<&[u8]> {
        let mut rest = area;
        while let [c, len, tail @ ..] = rest {
            let len = usize::from(*len).min(tail.len());
            let (data, next) = tail.split_at(len);
            if u16::from(*c) == code {
                return Some(data);
            }
            rest = next;
        }
        None
    }

    fn level(&self, level: usize) -> Option<&[u8]> {
        if level >= self.relay6_count() {
            return None;
        }
        let part = self.bytes.len() / 4;
        self.bytes.get(level * part..)
    }

    fn word(&self, at: usize) -> [u8; 4] {
        let mut w = [0u8; 4];
        for (i, b) in w.iter_mut().enumerate() {
            *b = self.bytes.get(at + i).copied().unwrap_or(0);
        }
        w
    }

    fn addr6(&self, at: usize) -> Ipv6Addr {
        let mut a = [0u8; 16];
        for (i, b) in a.iter_mut().enumerate() {
            *b = self.bytes.get(at + i).copied().unwrap_or(0);
        }
        Ipv6Addr::from(a)
    }
}

impl PacketContext for RawPacket<'_> {
    fn option(&self, code: u16) -> Option<&[u8]> {
        Self::tlv(self.bytes, code)
    }
    fn pkt4_mac(&self) -> &[u8] {
        self.bytes.get(..self.bytes.len().min(16)).unwrap_or(&[])
    }
    fn pkt4_hlen(&self) -> u8 {
        self.bytes.first().copied().unwrap_or(0)
    }
    fn pkt4_htype(&self) -> u8 {
        self.bytes.get(1).copied().unwrap_or(0)
    }
    fn pkt4_ciaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.word(0))
    }
    fn pkt4_giaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.word(4))
    }
    fn pkt4_yiaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.word(8))
    }
    fn pkt4_siaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.word(12))
    }
    fn msg_type(&self) -> u8 {
        self.bytes.get(2).copied().unwrap_or(0)
    }
    fn transaction_id(&self) -> u32 {
        u32::from_be_bytes(self.word(3))
    }
    fn iface(&self) -> &[u8] {
        self.bytes.get(..self.bytes.len().min(5)).unwrap_or(&[])
    }
    fn src_addr(&self) -> IpAddr {
        if self.flags & 4 != 0 {
            IpAddr::V6(self.addr6(0))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.word(0)))
        }
    }
    fn dst_addr(&self) -> IpAddr {
        IpAddr::V6(self.addr6(16))
    }
    fn packet_len(&self) -> u32 {
        u32::try_from(self.bytes.len()).unwrap_or(u32::MAX)
    }
    fn relay6_count(&self) -> usize {
        usize::from(self.flags >> 6)
    }
    fn relay6_option(&self, level: usize, code: u16) -> Option<&[u8]> {
        self.level(level).and_then(|area| Self::tlv(area, code))
    }
    fn relay6_peer_addr(&self, level: usize) -> Option<Ipv6Addr> {
        self.level(level).map(|_| self.addr6(level * 3))
    }
    fn relay6_link_addr(&self, level: usize) -> Option<Ipv6Addr> {
        self.level(level).map(|_| self.addr6(level * 5 + 1))
    }
    fn is_known(&self) -> bool {
        self.flags & 8 != 0
    }
    fn is_member(&self, name: &str) -> bool {
        self.flags & 16 != 0 && name.len() % 2 == 0
    }
}

/// `member()` for the DHCPv4 context: classes with an even-length name when the flag says so.
struct EvenNames(bool);

impl ClassMembership for EvenNames {
    fn contains_class(&self, name: &str) -> bool {
        self.0 && name.len() % 2 == 0
    }
}

fn evaluate(program: &corelease_classify::Program, ctx: &impl PacketContext, s: &mut Scratch) {
    s.reserve_for(program);
    let _ = program.eval_bool(ctx, s);
    let _ = program.eval_string(ctx, s).len();
    let _ = program.try_eval_bool(ctx, s);
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let cut = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    let (text, packet) = rest.split_at(cut);
    let packet = packet.get(1..).unwrap_or(&[]);
    let Ok(expr) = std::str::from_utf8(text) else {
        return;
    };
    let v4 = compile_with(expr, Universe::V4, &standard_v4_option_code);
    let v6 = compile_with(expr, Universe::V6, &v6_option_code);
    // The class-test entry adds only the boolean check; it must agree with the kind.
    if let Ok(p) = &v4 {
        let test = compile_test(expr, Universe::V4, &standard_v4_option_code);
        assert_eq!(
            test.is_ok(),
            p.kind() == corelease_classify::ValueKind::Bool,
            "compile_test disagrees with the program's kind"
        );
        let _ = (
            p.member_classes().count(),
            p.depends_on_known(),
            p.universe(),
        );
    }
    let mut scratch = Scratch::new();
    let raw = RawPacket {
        bytes: packet,
        flags,
    };
    let mut index = OptionIndex::new();
    let decoded = Dhcp4Packet::new_checked(packet)
        .ok()
        .filter(|p| index.parse(p).is_ok());
    for program in [v4, v6].iter().flatten() {
        evaluate(program, &raw, &mut scratch);
        if let Some(p) = &decoded {
            let classes = EvenNames(flags & 16 != 0);
            let mut ctx = V4Context::new(p, &index);
            ctx.iface = "eth0";
            ctx.known = flags & 8 != 0;
            ctx.classes = &classes;
            evaluate(program, &ctx, &mut scratch);
        }
    }
});
