//! The read-only views a hook point hands to callouts and scripts: what Kea passes as callout
//! arguments (`query4` / `query6`, `response4` / `response6`, `subnet4` / `subnet6`, `lease4` /
//! `lease6`, `leases4` / `leases6`, `deleted_leases4` / `deleted_leases6`, `ia_na` / `ia_pd`,
//! `fake_allocation`, `remove_lease`). Everything borrows from the engine; building a context
//! allocates nothing.

use corelease_types::{HwAddr, Lease, SubnetId};
use corelease_wire::v4::{Dhcp4Packet, OptionIndex};
use corelease_wire::v6::mac::client_hwaddr;
use corelease_wire::v6::{
    opt, relay_message_of, Dhcp6Packet, Options6, HEADER_LEN, MAX_RELAY_DEPTH, RELAY_HEADER_LEN,
};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// A DHCPv4 message (the query or the response) as hooks see it: header fields, where it came
/// from or goes, and the option payloads hooks read. Client-supplied bytes (hostname,
/// client identifier, relay information) are exactly as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketView<'a> {
    /// Option 53 value; `None` for a message without one (BOOTP).
    pub message_type: Option<u8>,
    pub xid: u32,
    pub hops: u8,
    pub secs: u16,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    /// chaddr with htype, as Kea's `Pkt4::getHWAddr`.
    pub hwaddr: HwAddr,
    /// Layer-2 addresses of the frame (Kea fills them only with raw sockets); `None` here
    /// prints as empty, as in Kea with UDP sockets.
    pub local_hwaddr: Option<HwAddr>,
    pub remote_hwaddr: Option<HwAddr>,
    /// Interface the query arrived on (the response leaves by the same one).
    pub interface: &'a str,
    pub ifindex: u32,
    /// Our address and port for this exchange (Kea's `getLocalAddr` / `getLocalPort`).
    pub local: SocketAddrV4,
    /// The peer: the client, or the relay (Kea's `getRemoteAddr` / `getRemotePort`); for a
    /// DHCPv4-over-DHCPv6 query, the IPv6 source of the DHCPv4-query (Kea's `Pkt4o6`).
    pub remote: SocketAddr,
    /// Option 61 payload.
    pub client_id: Option<&'a [u8]>,
    /// Option 12 payload, verbatim.
    pub hostname: Option<&'a [u8]>,
    /// Option 82 payload (RFC 3046 sub-options).
    pub relay_agent_info: Option<&'a [u8]>,
    /// The whole datagram (for buffer4_receive / buffer4_send callouts).
    pub bytes: &'a [u8],
}

impl<'a> PacketView<'a> {
    /// The view of a parsed packet: `opts` must be the index of `pkt`'s options.
    pub fn from_wire(
        pkt: &Dhcp4Packet<&'a [u8]>,
        opts: &'a OptionIndex,
        interface: &'a str,
        ifindex: u32,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Self {
        // The packet is a Copy wrapper around the slice: copying it out keeps the input lifetime.
        let bytes: &'a [u8] = (*pkt).into_inner();
        PacketView {
            message_type: opts.message_type().map(|m| m.as_u8()),
            xid: pkt.xid(),
            hops: pkt.hops(),
            secs: pkt.secs(),
            flags: pkt.flags(),
            ciaddr: pkt.ciaddr(),
            siaddr: pkt.siaddr(),
            yiaddr: pkt.yiaddr(),
            giaddr: pkt.giaddr(),
            hwaddr: pkt.hw_addr(),
            local_hwaddr: None,
            remote_hwaddr: None,
            interface,
            ifindex,
            local,
            remote: remote.into(),
            client_id: opts.client_id(),
            hostname: opts.hostname(),
            relay_agent_info: opts.relay_agent_info(),
            bytes,
        }
    }

    /// Kea's `Pkt4::isRelayed`: giaddr set (and not broadcast).
    pub fn is_relayed(&self) -> bool {
        !self.giaddr.is_unspecified() && !self.giaddr.is_broadcast()
    }
}

/// The selected subnet (Kea's `subnet4` argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubnetView {
    pub id: SubnetId,
    pub prefix: Ipv4Addr,
    pub prefix_len: u8,
}

/// T1 and T2 the server grants with the lease (kea-hook-runscript's `KEA_LEASE4_RENEW_TIMER`
/// and `KEA_LEASE4_REBIND_TIMER`); 0 when not sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeaseTimers {
    pub t1: u32,
    pub t2: u32,
}

/// Kea's `HWAddr::source_` bits (dhcp/hwaddr.h): how a DHCPv6 client's hardware address was
/// found.
pub use corelease_types::hwaddr_source;

/// A DHCPv6 message (the query or the response) as hooks see it. `bytes` is the datagram as
/// received or sent, relay layers included; the other fields describe the client/server
/// message inside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet6View<'a> {
    /// The client/server message type; `None` for one Kea has no type for.
    pub message_type: Option<u8>,
    pub xid: u32,
    /// Relay-forward layers around the message.
    pub relays: u8,
    /// Interface the query arrived on (the response leaves by the same one).
    pub interface: &'a str,
    pub ifindex: u32,
    /// Our address and port for this exchange (Kea's `getLocalAddr` / `getLocalPort`).
    pub local: SocketAddrV6,
    /// The peer: the client, or the relay (Kea's `getRemoteAddr` / `getRemotePort`).
    pub remote: SocketAddrV6,
    /// Option 1 (the client's DUID), verbatim.
    pub client_id: Option<&'a [u8]>,
    /// Kea's `Pkt6::getMAC(HWADDR_SOURCE_ANY)` and the [`hwaddr_source`] it came from.
    pub hwaddr: Option<(HwAddr, u32)>,
    pub bytes: &'a [u8],
}

impl<'a> Packet6View<'a> {
    /// The view of a datagram (a client message or a Relay-forward / Relay-reply chain); `None`
    /// if the chain does not hold a client/server message.
    pub fn from_wire(
        datagram: &'a [u8],
        interface: &'a str,
        ifindex: u32,
        local: SocketAddrV6,
        remote: SocketAddrV6,
    ) -> Option<Self> {
        let mut msg: &'a [u8] = datagram;
        let mut relays = 0u8;
        while Dhcp6Packet::new_checked(msg).ok()?.is_relay() {
            if usize::from(relays) >= MAX_RELAY_DEPTH {
                return None;
            }
            relays += 1;
            msg = relay_message_of(msg.get(RELAY_HEADER_LEN..)?)?;
        }
        let client_id = options_of(msg, HEADER_LEN)
            .find(opt::CLIENTID)
            .filter(|d| !d.is_empty());
        // Kea's `Pkt6::getMAC(HWADDR_SOURCE_ANY)`; the view does not know the interface's
        // hardware type, which only the link-local and remote-id sources use: Ethernet.
        let hwaddr = client_hwaddr(&[hwaddr_source::ANY], datagram, *remote.ip(), 1)
            .map(|h| (h, h.source()));
        Some(Packet6View {
            message_type: msg.first().copied(),
            xid: msg
                .get(1..4)
                .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]))
                .unwrap_or(0),
            relays,
            interface,
            ifindex,
            local,
            remote,
            client_id,
            hwaddr,
            bytes: datagram,
        })
    }
}

fn options_of(bytes: &[u8], at: usize) -> Options6<'_> {
    Options6::new(bytes.get(at..).unwrap_or(&[]), at)
}

/// The selected DHCPv6 subnet (Kea's `subnet6` argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet6View {
    pub id: SubnetId,
    pub prefix: Ipv6Addr,
    pub prefix_len: u8,
}

/// The client's IA_NA or IA_PD option a lease6_renew / lease6_rebind is for (Kea's `ia_na` /
/// `ia_pd` arguments), as the client sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IaView {
    /// The option code: 3 (IA_NA) or 25 (IA_PD).
    pub code: u16,
    pub iaid: u32,
    pub t1: u32,
    pub t2: u32,
}

/// Everything a hook point passes: the engine fills what Kea passes there and leaves the rest
/// empty. Read-only; callouts answer through [`crate::NextStep`].
#[derive(Clone, Copy, Debug)]
pub struct HookContext<'a> {
    /// Seconds since the Unix epoch (decides `KEA_LEASE4_IS_EXPIRED`).
    pub now: u64,
    pub query: Option<PacketView<'a>>,
    pub response: Option<PacketView<'a>>,
    pub subnet: Option<SubnetView>,
    /// The lease of lease4_select / renew / release / decline / expire / recover.
    pub lease: Option<&'a Lease>,
    pub timers: LeaseTimers,
    /// leases4_committed: the leases the exchange granted or renewed...
    pub leases: &'a [Lease],
    /// ...and the ones it released or replaced.
    pub deleted_leases: &'a [Lease],
    /// lease4_select: true for a DISCOVER (the lease is only offered).
    pub fake_allocation: bool,
    /// lease4_expire: true when the reclaimed lease is removed rather than kept.
    pub remove_lease: bool,
    /// The DHCPv6 query (DHCPv6 points only).
    pub query6: Option<Packet6View<'a>>,
    /// The DHCPv6 response (pkt6_send, buffer6_send).
    pub response6: Option<Packet6View<'a>>,
    pub subnet6: Option<Subnet6View>,
    /// lease6_renew / lease6_rebind: the client's IA.
    pub ia: Option<IaView>,
}

impl<'a> HookContext<'a> {
    /// An empty context at time `now`.
    pub const fn new(now: u64) -> Self {
        HookContext {
            now,
            query: None,
            response: None,
            subnet: None,
            lease: None,
            timers: LeaseTimers { t1: 0, t2: 0 },
            leases: &[],
            deleted_leases: &[],
            fake_allocation: false,
            remove_lease: false,
            query6: None,
            response6: None,
            subnet6: None,
            ia: None,
        }
    }
}
