//! DHCPv4-over-DHCPv6 on the DHCPv6 side (RFC 7341, ARM 10.2.26, Kea's
//! `Dhcpv6Srv::processDhcp4Query` and `Dhcp6to4Ipc::handler`).
//!
//! The DHCPv6 server keeps no state for 4o6: a DHCPv4-query (type 20), sent directly or
//! through relays, is forwarded whole to the DHCPv4 server with the arrival interface and the
//! query's source address and port in ISC sub-options (codec: `corelease_wire::v6::dhcp4o6`);
//! the DHCPv4-response that comes back is stripped of them and sent to the client (port 546)
//! or to the relay (port 547, or the port the relay sent from when it included the RFC 8357
//! Relay Source Port option). Counted with Kea's statistics: pkt6-dhcpv4-query-received on
//! arrival, pkt6-sent and pkt6-dhcpv4-response-sent when the response leaves.

use crate::{Meta6, Reply6, V6Shard};
use corelease_storage::LeaseSink;
use corelease_wire::v6::dhcp4o6::{
    encode_ipc, parse_ipc, strip_ipc, Endpoint4o6, RELAY_SOURCE_PORT,
};
use corelease_wire::v6::{opt, Dhcp6Packet, MessageType, SERVER_PORT};
use std::net::SocketAddrV6;

/// What [`V6Shard::forward_dhcp4_query`] made of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dhcp4Query {
    /// Not a DHCPv4-query: serve it as usual with [`V6Shard::handle`].
    NotAQuery,
    /// A DHCPv4-query that is not forwarded (counted).
    Dropped,
    /// Send the first `n` bytes of `out` to the DHCPv4 server over the 4o6 socket.
    Forward(usize),
}

/// The client/server message type inside any relay layers, without validating the rest.
fn innermost_type(data: &[u8]) -> Option<MessageType> {
    let mut bytes = data;
    for _ in 0..=corelease_wire::v6::MAX_RELAY_DEPTH {
        let msg = Dhcp6Packet::new_checked(bytes).ok()?;
        if !msg.is_relay() {
            return msg.msg_type();
        }
        let at = corelease_wire::v6::RELAY_HEADER_LEN;
        bytes = corelease_wire::v6::relay_message_of(bytes.get(at..)?)?;
    }
    None
}

impl<S: LeaseSink> V6Shard<S> {
    /// A datagram that is a DHCPv4-query is counted (pkt6-received,
    /// pkt6-dhcpv4-query-received) and, when it passes Kea's checks, rewritten into `out` for
    /// the DHCPv4 server with the name of the interface it arrived on. Kea forwards
    /// a query only when it carries a DHCPv4 Message option, and drops one with a server
    /// identifier that is not ours or with more than one client or server identifier
    /// (`testServerID`, `sanityCheck(OPTIONAL, OPTIONAL)`).
    pub fn forward_dhcp4_query(&mut self, meta: &Meta6, data: &[u8], out: &mut [u8]) -> Dhcp4Query {
        if innermost_type(data) != Some(MessageType::Dhcpv4Query) {
            return Dhcp4Query::NotAQuery;
        }
        let g = &self.core.stats.global;
        g.pkt6_received.inc();
        g.pkt6_dhcpv4_query_received.inc();
        let Ok(outer) = Dhcp6Packet::new_checked(data) else {
            g.pkt6_parse_failed.inc();
            return Dhcp4Query::Dropped;
        };
        let Ok((msg, _)) = outer.innermost() else {
            g.pkt6_parse_failed.inc();
            return Dhcp4Query::Dropped;
        };
        let count = |code: u16| {
            msg.options()
                .map_while(Result::ok)
                .filter(|o| o.code == code)
                .count()
        };
        let foreign_server_id = msg
            .option(opt::SERVERID)
            .is_some_and(|d| d != &self.server_duid[..]);
        if count(opt::CLIENTID) > 1 || count(opt::SERVERID) > 1 || foreign_server_id {
            tracing::debug!(target: "DHCP6_PACKET_DROP_SERVERID_MISMATCH", "DHCPv4-query failed the identifier checks");
            g.pkt6_receive_drop.inc();
            return Dhcp4Query::Dropped;
        }
        if msg.option(opt::DHCPV4_MSG).is_none() {
            // Kea's processDhcp4Query sends nothing and counts nothing more.
            return Dhcp4Query::Dropped;
        }
        let Some(iface) = self
            .prepared
            .interfaces
            .iter()
            .find(|i| i.ifindex == meta.ifindex)
        else {
            tracing::debug!(target: "DHCP6_DHCP4O6_SEND_FAIL", ifindex = meta.ifindex, "DHCPv4-query from an interface that is not configured");
            g.pkt6_receive_drop.inc();
            return Dhcp4Query::Dropped;
        };
        let ep = Endpoint4o6 {
            interface: iface.name.as_bytes(),
            address: *meta.src.ip(),
            port: meta.src.port(),
        };
        match encode_ipc(data, &ep, out) {
            Ok(n) => Dhcp4Query::Forward(n),
            Err(e) => {
                tracing::debug!(target: "DHCP6_DHCP4O6_SEND_FAIL", "DHCPv4-query not forwarded: {e}");
                g.pkt6_receive_drop.inc();
                Dhcp4Query::Dropped
            }
        }
    }

    /// A message from the DHCPv4 server (Kea's `Dhcp6to4Ipc::handler`): writes what goes to
    /// the client or relay into `out` and says where. The interface must be one of ours.
    /// `client_port` replaces 546 (Kea's -P switch, for tests). Counted as sent.
    pub fn dhcp4_response(
        &mut self,
        ipc: &[u8],
        client_port: u16,
        out: &mut [u8],
    ) -> Option<Reply6> {
        let received = match parse_ipc(ipc) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(target: "DHCP6_DHCP4O6_RECEIVE_FAIL", "failed to receive DHCPv4o6 packet: {e}");
                return None;
            }
        };
        let ep = received.endpoint;
        let Some(iface) = self
            .prepared
            .interfaces
            .iter()
            .find(|i| i.name.as_bytes() == ep.interface)
        else {
            tracing::warn!(target: "DHCPSRV_DHCP4O6_RECEIVED_BAD_PACKET", interface = %String::from_utf8_lossy(ep.interface), "received bad DHCPv4o6 packet: can't get interface");
            return None;
        };
        tracing::debug!(target: "DHCP6_DHCP4O6_PACKET_RECEIVED", remote = %ep.address, port = ep.port, interface = %iface.name, "received DHCPv4o6 packet from DHCPv4 server");
        let len = match strip_ipc(&received, out) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(target: "DHCP6_DHCP4O6_SEND_FAIL", "failed to send DHCPv4o6 packet: {e}");
                return None;
            }
        };
        // Kea's checkRelaySourcePort: the relay closest to us asked for its own port.
        let port = if received.message.is_relay() {
            if received.message.option(RELAY_SOURCE_PORT).is_some() {
                ep.port
            } else {
                SERVER_PORT
            }
        } else {
            client_port
        };
        let g = &self.core.stats.global;
        g.pkt6_sent.inc();
        g.pkt6_dhcpv4_response_sent.inc();
        let link_local = ep.address.segments()[0] & 0xffc0 == 0xfe80;
        let scope = if link_local { iface.ifindex } else { 0 };
        Some(Reply6 {
            dst: SocketAddrV6::new(ep.address, port, 0, scope),
            ifindex: Some(iface.ifindex),
            len,
            message_type: received
                .inner
                .msg_type()
                .unwrap_or(MessageType::Dhcpv4Response),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{kea_statistics6, Interface6Info, Prepared6};
    use corelease_storage::MemorySink;
    use corelease_wire::v6::dhcp4o6::encode_response;
    use corelease_wire::v6::{Dhcp6Writer, ALL_DHCP_RELAY_AGENTS_AND_SERVERS};
    use std::net::Ipv6Addr;
    use std::path::Path;
    use std::sync::Arc;

    const DUID: &[u8] = &[0, 2, 0, 0, 0x09, 0xbf, 0xaa, 0xbb, 0xcc, 0xdd];
    const LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x42);
    const RELAY: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);
    const V4: &[u8] = &[1, 1, 6, 0, 0xde, 0xad, 0xbe, 0xef];

    fn shard() -> V6Shard<MemorySink> {
        let cfg = r#"{ "Dhcp6": { "dhcp4o6-port": 6767, "subnet6": [
            { "id": 1, "subnet": "2001:db8:1::/64", "pools": [ { "pool": "2001:db8:1::/120" } ] } ] } }"#;
        let loaded = corelease_config::parse_dhcp6_str(cfg, Path::new(".")).unwrap();
        let ifaces = vec![Interface6Info {
            ifindex: 7,
            name: "eth0".into(),
            hwtype: 1,
        }];
        let p = Arc::new(Prepared6::new(&loaded.config, ifaces));
        V6Shard::new(p, DUID, 0, 1, MemorySink::default())
    }

    fn query(extra: &[(u16, &[u8])]) -> Vec<u8> {
        let mut buf = vec![0u8; 512];
        let mut w = Dhcp6Writer::new(&mut buf, 20, 0x0001_0203).unwrap();
        for (code, data) in extra {
            w.option(*code, data).unwrap();
        }
        let n = w.finish().unwrap();
        buf.truncate(n);
        buf
    }

    fn relayed(inner: &[u8], source_port: bool) -> Vec<u8> {
        let mut buf = vec![0u8; 1024];
        let link = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
        let mut w = Dhcp6Writer::new_relay(&mut buf, 12, 0, link, LL).unwrap();
        if source_port {
            w.option(RELAY_SOURCE_PORT, &[]).unwrap();
        }
        w.option(opt::RELAY_MSG, inner).unwrap();
        let n = w.finish().unwrap();
        buf.truncate(n);
        buf
    }

    fn meta(src: Ipv6Addr, port: u16) -> Meta6 {
        Meta6 {
            src: SocketAddrV6::new(src, port, 0, 7),
            dst: ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
            ifindex: 7,
        }
    }

    fn stat(s: &V6Shard<MemorySink>, name: &str) -> i64 {
        kea_statistics6(s.prepared(), &[s.stats()])
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or(0)
    }

    /// Forwards `q`, then plays the DHCPv4 server answering it; returns the reply.
    fn round_trip(s: &mut V6Shard<MemorySink>, m: &Meta6, q: &[u8]) -> (Reply6, Vec<u8>) {
        let mut ipc = [0u8; 2048];
        let Dhcp4Query::Forward(n) = s.forward_dhcp4_query(m, q, &mut ipc) else {
            panic!("the query is forwarded");
        };
        let fwd = parse_ipc(&ipc[..n]).unwrap();
        assert_eq!(fwd.endpoint.interface, b"eth0");
        assert_eq!(fwd.endpoint.address, *m.src.ip());
        assert_eq!(fwd.endpoint.port, m.src.port());
        let mut resp = [0u8; 2048];
        let r = encode_response(&fwd, V4, &mut resp).unwrap();
        let mut out = [0u8; 2048];
        let reply = s
            .dhcp4_response(&resp[..r], 546, &mut out)
            .expect("sent on");
        (reply, out[..reply.len].to_vec())
    }

    #[test]
    fn direct_query_goes_to_the_v4_server_and_its_response_to_the_client_port() {
        let mut s = shard();
        let q = query(&[(opt::DHCPV4_MSG, V4)]);
        let (reply, bytes) = round_trip(&mut s, &meta(LL, 546), &q);
        assert_eq!(reply.dst, SocketAddrV6::new(LL, 546, 0, 7));
        assert_eq!(reply.ifindex, Some(7));
        let msg = Dhcp6Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(msg.msg_type(), Some(MessageType::Dhcpv4Response));
        assert_eq!(msg.transaction_id(), 0x0001_0203);
        assert_eq!(
            msg.option(opt::VENDOR_OPTS),
            None,
            "the ISC sub-options are gone"
        );
        assert_eq!(msg.option(opt::DHCPV4_MSG), Some(V4));
        assert_eq!(stat(&s, "pkt6-received"), 1);
        assert_eq!(stat(&s, "pkt6-dhcpv4-query-received"), 1);
        assert_eq!(stat(&s, "pkt6-dhcpv4-response-sent"), 1);
        assert_eq!(stat(&s, "pkt6-sent"), 1);
        assert_eq!(stat(&s, "pkt6-receive-drop"), 0);
    }

    #[test]
    fn relayed_responses_go_to_547_or_to_the_relay_source_port() {
        let mut s = shard();
        let q = query(&[(opt::DHCPV4_MSG, V4)]);
        let (reply, bytes) = round_trip(&mut s, &meta(RELAY, 547), &relayed(&q, false));
        assert_eq!(reply.dst, SocketAddrV6::new(RELAY, 547, 0, 0));
        let msg = Dhcp6Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(msg.msg_type(), Some(MessageType::RelayRepl));
        let (inner, relays) = msg.innermost().unwrap();
        assert_eq!(
            (inner.msg_type(), relays),
            (Some(MessageType::Dhcpv4Response), 1)
        );

        let (reply, _) = round_trip(&mut s, &meta(RELAY, 3547), &relayed(&q, true));
        assert_eq!(
            reply.dst.port(),
            3547,
            "RFC 8357: back to the port the relay used"
        );
    }

    #[test]
    fn queries_kea_would_not_forward_are_not() {
        let mut s = shard();
        let mut out = [0u8; 2048];
        let m = meta(LL, 546);
        assert_eq!(
            s.forward_dhcp4_query(&m, &query(&[]), &mut out),
            Dhcp4Query::Dropped,
            "no DHCPv4 Message option"
        );
        let other_server = query(&[(opt::SERVERID, &[0, 3, 0, 1, 9]), (opt::DHCPV4_MSG, V4)]);
        assert_eq!(
            s.forward_dhcp4_query(&m, &other_server, &mut out),
            Dhcp4Query::Dropped
        );
        assert_eq!(stat(&s, "pkt6-receive-drop"), 1);
        assert_eq!(stat(&s, "pkt6-dhcpv4-query-received"), 2);
        let solicit = [1u8, 0, 0, 1];
        assert_eq!(
            s.forward_dhcp4_query(&m, &solicit, &mut out),
            Dhcp4Query::NotAQuery
        );
    }

    #[test]
    fn a_response_for_an_unknown_interface_is_dropped() {
        let mut s = shard();
        let q = query(&[(opt::DHCPV4_MSG, V4)]);
        let mut ipc = [0u8; 2048];
        let Dhcp4Query::Forward(n) = s.forward_dhcp4_query(&meta(LL, 546), &q, &mut ipc) else {
            panic!("forwarded");
        };
        // The DHCPv4 server answers for an interface this server does not have.
        let mut renamed = [0u8; 2048];
        let fwd = parse_ipc(&ipc[..n]).unwrap();
        let ep = Endpoint4o6 {
            interface: b"eth9",
            ..fwd.endpoint
        };
        let m = corelease_wire::v6::dhcp4o6::encode_ipc(&q, &ep, &mut renamed).unwrap();
        let fwd = parse_ipc(&renamed[..m]).unwrap();
        let mut resp = [0u8; 2048];
        let r = encode_response(&fwd, V4, &mut resp).unwrap();
        let mut out = [0u8; 2048];
        assert!(s.dhcp4_response(&resp[..r], 546, &mut out).is_none());
        assert_eq!(stat(&s, "pkt6-sent"), 0);
    }
}
