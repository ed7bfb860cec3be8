//! What an expression may read from a packet: the [`PacketContext`] trait, and [`V4Context`],
//! its implementation over the zero-copy DHCPv4 codec.

use corelease_wire::v4::{Dhcp4Packet, OptionIndex};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The packet facts an expression can test. Everything has a neutral default so a test (or a
/// DHCPv6 engine) implements only what it has. Option payloads are the joined payload of the
/// option, without code and length (ARM 16.3 notes on `option[code].hex`); sub-options, vendor
/// options and relay-agent sub-options are parsed out of them by the evaluator.
pub trait PacketContext {
    /// Payload of top-level option `code`; `Some(&[])` for a present empty option.
    fn option(&self, code: u16) -> Option<&[u8]>;

    /// Client hardware address (`chaddr` cut to `hlen`).
    fn pkt4_mac(&self) -> &[u8] {
        &[]
    }
    fn pkt4_hlen(&self) -> u8 {
        0
    }
    fn pkt4_htype(&self) -> u8 {
        0
    }
    fn pkt4_ciaddr(&self) -> Ipv4Addr {
        Ipv4Addr::UNSPECIFIED
    }
    fn pkt4_giaddr(&self) -> Ipv4Addr {
        Ipv4Addr::UNSPECIFIED
    }
    fn pkt4_yiaddr(&self) -> Ipv4Addr {
        Ipv4Addr::UNSPECIFIED
    }
    fn pkt4_siaddr(&self) -> Ipv4Addr {
        Ipv4Addr::UNSPECIFIED
    }
    /// DHCP message type (option 53 in v4, the message header in v6); 0 when there is none.
    fn msg_type(&self) -> u8 {
        0
    }
    /// Transaction id (`xid` in v4, the 24-bit transaction-id in v6).
    fn transaction_id(&self) -> u32 {
        0
    }

    /// Name of the interface the packet arrived on (`pkt.iface`).
    fn iface(&self) -> &[u8] {
        &[]
    }
    /// Source address of the packet (`pkt.src`).
    fn src_addr(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
    /// Destination address of the packet (`pkt.dst`).
    fn dst_addr(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
    /// Length of the received packet in bytes (`pkt.len`).
    fn packet_len(&self) -> u32 {
        0
    }

    /// Number of DHCPv6 relay encapsulations (`relay6[nest]`); 0 for a direct or v4 packet.
    fn relay6_count(&self) -> usize {
        0
    }
    /// Option `code` of relay encapsulation `level` (0 = closest to the server).
    fn relay6_option(&self, _level: usize, _code: u16) -> Option<&[u8]> {
        None
    }
    fn relay6_peer_addr(&self, _level: usize) -> Option<Ipv6Addr> {
        None
    }
    fn relay6_link_addr(&self, _level: usize) -> Option<Ipv6Addr> {
        None
    }

    /// True when a host reservation was found for the client (the KNOWN class, ARM 16.1.1
    /// step 8). `known` and `member('KNOWN')` read this.
    fn is_known(&self) -> bool {
        false
    }
    /// True when the packet was already assigned class `name` (`member('name')`).
    fn is_member(&self, _name: &str) -> bool {
        false
    }
    /// `member('name')` for a name the program was bound to `id` at config load
    /// ([`crate::Program::bind_classes`]): lets a context answer with an index instead of a
    /// name lookup. Must answer as [`is_member`](Self::is_member)`(name)` does.
    fn is_member_id(&self, _id: u32, name: &str) -> bool {
        self.is_member(name)
    }
}

/// The set of classes a packet already belongs to, as seen by `member()`.
pub trait ClassMembership {
    fn contains_class(&self, name: &str) -> bool;
    /// [`PacketContext::is_member_id`]: `id` is what the caller bound `name` to; must answer
    /// as [`contains_class`](Self::contains_class)`(name)` does.
    fn contains_class_id(&self, _id: u32, name: &str) -> bool {
        self.contains_class(name)
    }
}

impl<S: AsRef<str>> ClassMembership for Vec<S> {
    fn contains_class(&self, name: &str) -> bool {
        self.iter().any(|c| c.as_ref() == name)
    }
}

impl<S: AsRef<str>, const N: usize> ClassMembership for [S; N] {
    fn contains_class(&self, name: &str) -> bool {
        self.iter().any(|c| c.as_ref() == name)
    }
}

/// A packet that has no classes yet.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClasses;

impl ClassMembership for NoClasses {
    fn contains_class(&self, _name: &str) -> bool {
        false
    }
}

/// [`PacketContext`] over a parsed DHCPv4 request. Built per packet (or per classification
/// step) on the stack; borrows everything, allocates nothing.
///
/// `M` is what answers `member()`: any [`ClassMembership`] behind a `dyn` by default; an engine
/// that names its concrete type ([`V4Context::with_classes`]) lets the evaluator inline the
/// membership test instead of a virtual call per `member()` (issue 8).
pub struct V4Context<'a, T: AsRef<[u8]>, M: ClassMembership + ?Sized = dyn ClassMembership + 'a> {
    pub packet: &'a Dhcp4Packet<T>,
    pub options: &'a OptionIndex,
    pub iface: &'a str,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub known: bool,
    pub classes: &'a M,
}

impl<'a, T: AsRef<[u8]>> V4Context<'a, T> {
    /// A context with no interface, unspecified addresses, not KNOWN and no classes yet.
    pub fn new(packet: &'a Dhcp4Packet<T>, options: &'a OptionIndex) -> Self {
        V4Context::with_classes(packet, options, &NoClasses)
    }
}

impl<'a, T: AsRef<[u8]>, M: ClassMembership + ?Sized> V4Context<'a, T, M> {
    /// A context whose `member()` questions `classes` answers, with no interface, unspecified
    /// addresses and not KNOWN.
    pub fn with_classes(
        packet: &'a Dhcp4Packet<T>,
        options: &'a OptionIndex,
        classes: &'a M,
    ) -> Self {
        V4Context {
            packet,
            options,
            iface: "",
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            known: false,
            classes,
        }
    }
}

impl<T: AsRef<[u8]>, M: ClassMembership + ?Sized> PacketContext for V4Context<'_, T, M> {
    fn option(&self, code: u16) -> Option<&[u8]> {
        u8::try_from(code).ok().and_then(|c| self.options.get(c))
    }
    fn pkt4_mac(&self) -> &[u8] {
        let chaddr = self.packet.chaddr();
        chaddr
            .get(..usize::from(self.packet.hlen()))
            .unwrap_or(chaddr)
    }
    fn pkt4_hlen(&self) -> u8 {
        self.packet.hlen()
    }
    fn pkt4_htype(&self) -> u8 {
        self.packet.htype()
    }
    fn pkt4_ciaddr(&self) -> Ipv4Addr {
        self.packet.ciaddr()
    }
    fn pkt4_giaddr(&self) -> Ipv4Addr {
        self.packet.giaddr()
    }
    fn pkt4_yiaddr(&self) -> Ipv4Addr {
        self.packet.yiaddr()
    }
    fn pkt4_siaddr(&self) -> Ipv4Addr {
        self.packet.siaddr()
    }
    fn msg_type(&self) -> u8 {
        self.options.message_type().map_or(0, |m| m.as_u8())
    }
    fn transaction_id(&self) -> u32 {
        self.packet.xid()
    }
    fn iface(&self) -> &[u8] {
        self.iface.as_bytes()
    }
    fn src_addr(&self) -> IpAddr {
        self.src
    }
    fn dst_addr(&self) -> IpAddr {
        self.dst
    }
    fn packet_len(&self) -> u32 {
        u32::try_from(self.packet.as_bytes().len()).unwrap_or(u32::MAX)
    }
    fn is_known(&self) -> bool {
        self.known
    }
    fn is_member(&self, name: &str) -> bool {
        self.classes.contains_class(name)
    }
    fn is_member_id(&self, id: u32, name: &str) -> bool {
        self.classes.contains_class_id(id, name)
    }
}
