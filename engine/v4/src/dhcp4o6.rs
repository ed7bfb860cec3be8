//! DHCPv4-over-DHCPv6 on the DHCPv4 side (RFC 7341, ARM 9.2.26, Kea's `Dhcp4to6Ipc` and
//! `Pkt4o6` processing).
//!
//! The DHCPv6 server forwards a client's DHCPv4-query over the 4o6 socket (the codec is
//! `corelease_wire::v6::dhcp4o6`). The DHCPv4 message inside is served by the ordinary DHCPv4
//! logic with two differences, as in Kea: the subnet is chosen by the DHCPv6 side's facts
//! (`4o6-subnet` against the query's IPv6 source, `4o6-interface-id` against the first relay's
//! Interface-ID, `4o6-interface` against the arrival interface: Kea's
//! `CfgSubnets4::selectSubnet4o6`), and the server answers as the address of that interface
//! (Kea's `adjustIfaceData`). The reply goes back wrapped in a DHCPv4-response.
//!
//! The hook points run for a 4o6 query as for any DHCPv4 query (as in Kea, whose `Pkt4o6` goes
//! through the normal processing), the query showing its IPv6 source as remote address. A 4o6
//! query cannot park on a script (`wait` / `sync`): a parked packet resumes as a plain DHCPv4
//! reply (`hooked.rs`), which would not go back through the DHCPv6 server, so its awaited
//! scripts run as if detached (counted in `ParkStats::not_parkable`).

use crate::{Meta4, V4Shard};
use corelease_config::prefix6_mask;
use corelease_storage::LeaseSink;
use corelease_wire::v6::dhcp4o6::{encode_response, parse_ipc, Dhcp4o6Error, Ipc4o6};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

/// What the 4o6 subnet selection looks at (Kea's `SubnetSelector` with `dhcp4o6_` set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query4o6<'a> {
    /// The query's IPv6 source (the client's, or the relay's closest to the DHCPv6 server).
    pub remote: Ipv6Addr,
    /// The relay closest to the DHCPv6 server's Interface-ID, if relayed.
    pub interface_id: Option<&'a [u8]>,
    /// The interface the DHCPv6 server received the query on.
    pub interface: &'a [u8],
}

impl<'a> Query4o6<'a> {
    pub fn of(ipc: &Ipc4o6<'a>) -> Self {
        Query4o6 {
            remote: ipc.endpoint.address,
            interface_id: ipc.first_relay_interface_id(),
            interface: ipc.endpoint.interface,
        }
    }
}

/// Kea's `CfgSubnets4::selectSubnet4o6`: the first subnet, in config order, with a 4o6
/// selector that matches: its `4o6-subnet` holds the query's IPv6 source, else its
/// `4o6-interface-id` equals the first relay's Interface-ID, else its `4o6-interface` names
/// the arrival interface. Subnets without any 4o6 key are never chosen.
pub fn select_subnet4o6(p: &crate::Prepared4, q: &Query4o6<'_>) -> Option<usize> {
    let remote = u128::from(q.remote);
    p.subnets.iter().position(|s| {
        let c = &s.dhcp4o6;
        let by_prefix = c.subnet.is_some_and(|(net, len)| {
            let mask = prefix6_mask(len);
            remote & mask == u128::from(net) & mask
        });
        let by_interface_id = matches!(
            (c.interface_id.as_deref(), q.interface_id),
            (Some(want), Some(got)) if want == got
        );
        let by_interface = c
            .interface
            .as_deref()
            .is_some_and(|want| !q.interface.is_empty() && want.as_bytes() == q.interface);
        by_prefix || by_interface_id || by_interface
    })
}

/// The chaddr bytes the kernel steering hashes (DHCPv4 message bytes 28..34) of the DHCPv4
/// message inside a 4o6 IPC message, so the runtime can hand the query to the shard that owns
/// the client, as it would a direct DHCPv4 packet. None for a malformed message.
pub fn dhcp4o6_chaddr(ipc: &[u8]) -> Option<&[u8]> {
    let msg = parse_ipc(ipc).ok()?.dhcpv4_message().ok()?;
    msg.get(28..34)
}

impl<S: LeaseSink> V4Shard<S> {
    /// Handles one message received over the 4o6 socket (Kea's `Dhcp4to6Ipc::handler`):
    /// serves the DHCPv4 message it carries and writes the DHCPv4-response for the DHCPv6
    /// server into `out`, returning its length. `scratch` (at least 576 bytes) receives the
    /// DHCPv4 reply on the way. None when nothing is answered; a malformed message is logged
    /// and not counted (Kea fails it before its packet processing starts).
    pub fn handle_4o6(
        &mut self,
        ipc: &[u8],
        now: u64,
        scratch: &mut [u8],
        out: &mut [u8],
    ) -> Option<usize> {
        let query = match parse_ipc(ipc).and_then(|q| q.dhcpv4_message().map(|m| (q, m))) {
            Ok(q) => q,
            Err(e) => {
                log_bad_packet(&e);
                return None;
            }
        };
        let (ipc, dhcpv4) = query;
        let q = Query4o6::of(&ipc);
        let Some(iface) = std::str::from_utf8(q.interface)
            .ok()
            .and_then(|name| self.prepared.interfaces.iter().find(|i| i.name == name))
        else {
            tracing::debug!(target: "DHCP4_DHCP4O6_RECEIVE_FAIL", interface = %String::from_utf8_lossy(q.interface), "malformed packet (unknown interface)");
            return None;
        };
        tracing::debug!(target: "DHCP4_DHCP4O6_PACKET_RECEIVED", remote = %q.remote, port = ipc.endpoint.port, interface = %iface.name, "received DHCPv4o6 packet from DHCPv6 server");
        // Kea's adjustIfaceData: a 4o6 query is answered as the arrival interface's address;
        // it is treated as relayed (acceptDirectRequest), so no broadcast handling applies.
        let meta = Meta4 {
            src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, self.prepared.client_port),
            dst: Ipv4Addr::BROADCAST,
            ifindex: iface.index,
            local: iface
                .addrs
                .first()
                .copied()
                .unwrap_or(Ipv4Addr::UNSPECIFIED),
        };
        let selected = select_subnet4o6(&self.prepared, &q);
        match selected.and_then(|i| self.prepared.subnets.get(i)) {
            Some(s) => {
                tracing::debug!(target: "DHCP4_DHCP4O6_SUBNET_SELECTED", subnet = s.id.0, "DHCPv4-over-DHCPv6 subnet selected")
            }
            None => {
                tracing::debug!(target: "DHCP4_DHCP4O6_SUBNET_SELECTION_FAILED", remote = %q.remote, "no 4o6 subnet for the query")
            }
        }
        self.dhcp4o6_subnet = Some(selected);
        self.dhcp4o6_remote = Some(q.remote);
        self.set_parkable(false);
        let reply = self.handle(&meta, dhcpv4, now, scratch);
        self.set_parkable(true);
        self.dhcp4o6_remote = None;
        self.dhcp4o6_subnet = None;
        let reply = reply?;
        let v4 = scratch.get(..reply.len)?;
        match encode_response(&ipc, v4, out) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::error!(target: "DHCP4_DHCP4O6_PACKET_SEND_FAIL", "failed to build DHCPv4o6 packet: {e}");
                None
            }
        }
    }
}

fn log_bad_packet(e: &Dhcp4o6Error) {
    match e {
        Dhcp4o6Error::NoDhcpv4Message | Dhcp4o6Error::SeveralDhcpv4Messages => {
            tracing::debug!(target: "DHCP4_DHCP4O6_BAD_PACKET", "received malformed DHCPv4o6 packet: {e}")
        }
        _ => {
            tracing::warn!(target: "DHCPSRV_DHCP4O6_RECEIVED_BAD_PACKET", "received bad DHCPv4o6 packet: {e}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InterfaceInfo, Ports, Prepared4};
    use corelease_hooks::{Callout, HookContext, HookPoint, HookPoints, Hooks, NextStep};
    use corelease_storage::MemorySink;
    use corelease_wire::v6::dhcp4o6::{encode_ipc, Endpoint4o6};
    use corelease_wire::v6::{opt, Dhcp6Packet, Dhcp6Writer, MessageType as V6Type};
    use dhcproto::v4::{self as d4, DhcpOption, Message, OptionCode};
    use dhcproto::{Decodable, Decoder, Encodable};
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    const NOW: u64 = 1_700_000_000;
    const CLIENT: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 1, 0, 0, 0, 0x42);
    const RELAY_LINK: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 9, 0, 0, 0, 0, 1);

    /// Subnet 1 is plain DHCPv4 (it must never serve 4o6); 2 is chosen by source prefix, 3 by
    /// relay Interface-ID, 4 by arrival interface.
    const CONFIG: &str = r#"{ "Dhcp4": {
        "valid-lifetime": 4000, "dhcp4o6-port": 6767,
        "subnet4": [
          { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.10 - 192.0.2.19" } ] },
          { "id": 2, "subnet": "10.10.10.0/24", "4o6-subnet": "2001:db8:1:1::/64",
            "pools": [ { "pool": "10.10.10.100 - 10.10.10.199" } ] },
          { "id": 3, "subnet": "10.10.20.0/24", "4o6-interface-id": "port-7",
            "pools": [ { "pool": "10.10.20.100 - 10.10.20.199" } ] },
          { "id": 4, "subnet": "10.10.30.0/24", "4o6-interface": "eth1",
            "pools": [ { "pool": "10.10.30.100 - 10.10.30.199" } ] }
        ]
    } }"#;

    fn prepared() -> Arc<Prepared4> {
        let loaded = corelease_config::parse_dhcp4_str(CONFIG, Path::new(".")).unwrap();
        let ifaces = vec![
            InterfaceInfo {
                name: "eth0".into(),
                index: 7,
                addrs: vec![Ipv4Addr::new(192, 0, 2, 1)],
            },
            InterfaceInfo {
                name: "eth1".into(),
                index: 8,
                addrs: vec![Ipv4Addr::new(198, 51, 100, 1)],
            },
        ];
        Arc::new(Prepared4::new(&loaded.config, ifaces, Ports::default()))
    }

    fn id_of(p: &Prepared4, q: &Query4o6<'_>) -> Option<u32> {
        select_subnet4o6(p, q).map(|i| p.subnets[i].id.0)
    }

    #[test]
    fn subnet4o6_selection_follows_kea_order_and_ignores_plain_subnets() {
        let p = prepared();
        let q = |remote, iid, iface| Query4o6 {
            remote,
            interface_id: iid,
            interface: iface,
        };
        assert_eq!(id_of(&p, &q(CLIENT, None, b"eth0")), Some(2));
        assert_eq!(
            id_of(&p, &q(RELAY_LINK, Some(&b"port-7"[..]), b"eth1")),
            Some(3),
            "interface-id is tried before the interface name"
        );
        assert_eq!(
            id_of(&p, &q(RELAY_LINK, Some(&b"other"[..]), b"eth1")),
            Some(4)
        );
        assert_eq!(id_of(&p, &q(RELAY_LINK, None, b"eth0")), None);
    }

    fn dhcpv4(kind: d4::MessageType, mac: u8, extra: &[DhcpOption]) -> Vec<u8> {
        let mut m = Message::default();
        m.set_opcode(d4::Opcode::BootRequest);
        m.set_xid(0x4060_0000 | u32::from(mac));
        m.set_chaddr(&[2, 0, 0, 0, 0, mac]);
        m.opts_mut().insert(DhcpOption::MessageType(kind));
        for o in extra {
            m.opts_mut().insert(o.clone());
        }
        m.to_vec().unwrap()
    }

    /// The IPC message corelease dhcp6 (or kea-dhcp6) sends for a DHCPv4-query.
    fn ipc_query(v4: &[u8], iface: &[u8], remote: Ipv6Addr, iid: Option<&[u8]>) -> Vec<u8> {
        let mut q = [0u8; 1024];
        let mut w = Dhcp6Writer::new(&mut q, V6Type::Dhcpv4Query.as_u8(), 0x0051_5253).unwrap();
        w.option(opt::DHCPV4_MSG, v4).unwrap();
        let mut n = w.finish().unwrap();
        let mut relayed = [0u8; 1024];
        if let Some(iid) = iid {
            let mut r = Dhcp6Writer::new_relay(&mut relayed, 12, 0, RELAY_LINK, CLIENT).unwrap();
            r.option(opt::INTERFACE_ID, iid).unwrap();
            r.option(opt::RELAY_MSG, &q[..n]).unwrap();
            n = r.finish().unwrap();
            q[..n].copy_from_slice(&relayed[..n]);
        }
        let ep = Endpoint4o6 {
            interface: iface,
            address: remote,
            port: if iid.is_some() { 547 } else { 546 },
        };
        let mut out = vec![0u8; 1500];
        let len = encode_ipc(&q[..n], &ep, &mut out).unwrap();
        out.truncate(len);
        out
    }

    /// Runs one IPC query; returns the response's relay count, its endpoint interface and the
    /// DHCPv4 reply decoded by dhcproto.
    fn exchange(
        s: &mut V4Shard<MemorySink>,
        ipc: &[u8],
    ) -> Option<(usize, Vec<u8>, Message, Vec<u8>)> {
        let mut scratch = [0u8; 1500];
        let mut out = [0u8; 2000];
        let n = s.handle_4o6(ipc, NOW, &mut scratch, &mut out)?;
        let resp = parse_ipc(&out[..n]).expect("the response is a valid IPC message");
        assert_eq!(resp.inner.msg_type(), Some(V6Type::Dhcpv4Response));
        let query = parse_ipc(ipc).unwrap();
        assert_eq!(resp.inner.transaction_id(), query.inner.transaction_id());
        assert_eq!(
            resp.endpoint, query.endpoint,
            "the endpoint goes back unchanged"
        );
        let v4 = Message::decode(&mut Decoder::new(resp.dhcpv4_message().unwrap())).unwrap();
        let iid = resp
            .message
            .option(opt::INTERFACE_ID)
            .unwrap_or(&[])
            .to_vec();
        Some((resp.relays, resp.endpoint.interface.to_vec(), v4, iid))
    }

    fn kind(m: &Message) -> Option<d4::MessageType> {
        match m.opts().get(OptionCode::MessageType) {
            Some(DhcpOption::MessageType(t)) => Some(*t),
            _ => None,
        }
    }

    fn stat(s: &V4Shard<MemorySink>, name: &str) -> i64 {
        crate::kea_statistics(s.prepared(), &[s.stats()])
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or(0)
    }

    #[test]
    fn discover_and_request_over_dhcpv6_lease_from_the_4o6_subnet() {
        let p = prepared();
        let mut s = V4Shard::new(Arc::clone(&p), 0, 1, MemorySink::default());
        let discover = dhcpv4(d4::MessageType::Discover, 1, &[]);
        let (relays, iface, offer, _) =
            exchange(&mut s, &ipc_query(&discover, b"eth0", CLIENT, None)).expect("an offer");
        assert_eq!(relays, 0);
        assert_eq!(iface, b"eth0");
        assert_eq!(kind(&offer), Some(d4::MessageType::Offer));
        let addr = offer.yiaddr();
        assert!(
            (Ipv4Addr::new(10, 10, 10, 100)..=Ipv4Addr::new(10, 10, 10, 199)).contains(&addr),
            "{addr} is from the 4o6 subnet"
        );
        assert_eq!(
            offer.opts().get(OptionCode::ServerIdentifier),
            Some(&DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 1))),
            "the server answers as the arrival interface's address"
        );

        let request = dhcpv4(
            d4::MessageType::Request,
            1,
            &[
                DhcpOption::RequestedIpAddress(addr),
                DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 1)),
            ],
        );
        let (_, _, ack, _) =
            exchange(&mut s, &ipc_query(&request, b"eth0", CLIENT, None)).expect("an ack");
        assert_eq!(kind(&ack), Some(d4::MessageType::Ack));
        assert_eq!(ack.yiaddr(), addr);
        let lease = s
            .table()
            .get(u32::from(addr))
            .expect("the lease is in the table");
        assert_eq!(lease.lease.subnet_id.0, 2);
        assert_eq!(stat(&s, "pkt4-offer-sent"), 1);
        assert_eq!(stat(&s, "pkt4-ack-sent"), 1);
        assert_eq!(stat(&s, "subnet[2].assigned-addresses"), 1);
    }

    #[test]
    fn relayed_query_selects_by_interface_id_and_the_response_keeps_the_relay_layer() {
        let p = prepared();
        let mut s = V4Shard::new(Arc::clone(&p), 0, 1, MemorySink::default());
        let discover = dhcpv4(d4::MessageType::Discover, 2, &[]);
        let ipc = ipc_query(&discover, b"eth1", RELAY_LINK, Some(b"port-7"));
        let (relays, _, offer, iid) = exchange(&mut s, &ipc).expect("an offer");
        assert_eq!(relays, 1);
        assert_eq!(iid, b"port-7");
        assert!(
            (Ipv4Addr::new(10, 10, 20, 100)..=Ipv4Addr::new(10, 10, 20, 199))
                .contains(&offer.yiaddr())
        );
        assert_eq!(
            offer.opts().get(OptionCode::ServerIdentifier),
            Some(&DhcpOption::ServerIdentifier(Ipv4Addr::new(
                198, 51, 100, 1
            )))
        );
    }

    #[test]
    fn a_discover_no_4o6_subnet_matches_is_not_answered() {
        let p = prepared();
        let mut s = V4Shard::new(Arc::clone(&p), 0, 1, MemorySink::default());
        let discover = dhcpv4(d4::MessageType::Discover, 3, &[]);
        assert!(exchange(&mut s, &ipc_query(&discover, b"eth0", RELAY_LINK, None)).is_none());
        assert_eq!(stat(&s, "pkt4-received"), 1);
        // kea-dhcp4 2.2.0 (run, plain DHCPv4): a DISCOVER with no subnet is not counted as
        // a receive drop.
        assert_eq!(stat(&s, "pkt4-receive-drop"), 0);
        assert_eq!(stat(&s, "pkt4-offer-sent"), 0);
    }

    #[test]
    fn an_unknown_interface_or_a_missing_dhcpv4_message_is_not_served() {
        let p = prepared();
        let mut s = V4Shard::new(Arc::clone(&p), 0, 1, MemorySink::default());
        let discover = dhcpv4(d4::MessageType::Discover, 4, &[]);
        assert!(exchange(&mut s, &ipc_query(&discover, b"wlan9", CLIENT, None)).is_none());
        let mut empty = [0u8; 64];
        let w = Dhcp6Writer::new(&mut empty, V6Type::Dhcpv4Query.as_u8(), 1).unwrap();
        let n = w.finish().unwrap();
        let ep = Endpoint4o6 {
            interface: b"eth0",
            address: CLIENT,
            port: 546,
        };
        let mut ipc = [0u8; 256];
        let m = encode_ipc(&empty[..n], &ep, &mut ipc).unwrap();
        assert!(Dhcp6Packet::new_checked(&ipc[..m]).is_ok());
        assert!(exchange(&mut s, &ipc[..m]).is_none());
        assert_eq!(
            stat(&s, "pkt4-received"),
            0,
            "Kea fails these before counting"
        );
    }

    type SeenQuery = (
        HookPoint,
        Option<std::net::SocketAddr>,
        Option<SocketAddrV4>,
        Option<u32>,
    );

    /// Records each point with the query's remote and local addresses and the subnet.
    struct Recorder(Arc<Mutex<Vec<SeenQuery>>>);

    impl Callout for Recorder {
        fn points(&self) -> HookPoints {
            HookPoint::ALL
                .into_iter()
                .fold(HookPoints::NONE, HookPoints::with)
        }

        fn call(&mut self, point: HookPoint, ctx: &HookContext<'_>) -> NextStep {
            self.0.lock().expect("lock").push((
                point,
                ctx.query.map(|q| q.remote),
                ctx.query.map(|q| q.local),
                ctx.subnet.map(|s| s.id.0),
            ));
            NextStep::Continue
        }
    }

    /// kea-dhcp4 2.2 runs a 4o6 query (its `Pkt4o6`) through the DHCPv4 hook points, and
    /// libdhcp_run_script.so shows QUERY4_REMOTE_ADDR = the DHCPv4-query's IPv6 source,
    /// QUERY4_REMOTE_PORT 68, QUERY4_LOCAL_ADDR 0.0.0.0, QUERY4_LOCAL_PORT 67
    /// (fuzz/kea-compare/hooks4o6.py).
    #[test]
    fn a_4o6_query_runs_the_dhcpv4_hook_points_showing_its_ipv6_source() {
        use HookPoint::*;
        let p = prepared();
        let mut s = V4Shard::new(Arc::clone(&p), 0, 1, MemorySink::default());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut hooks = Hooks::new();
        hooks.register(Box::new(Recorder(Arc::clone(&seen))));
        s.set_hooks(Some(hooks));
        let discover = dhcpv4(d4::MessageType::Discover, 5, &[]);
        let (_, _, offer, _) =
            exchange(&mut s, &ipc_query(&discover, b"eth0", CLIENT, None)).expect("an offer");
        let v = std::mem::take(&mut *seen.lock().expect("lock"));
        let points: Vec<HookPoint> = v.iter().map(|x| x.0).collect();
        assert_eq!(
            points,
            [
                Buffer4Receive,
                Pkt4Receive,
                Subnet4Select,
                Lease4Select,
                Pkt4Send,
                Buffer4Send
            ]
        );
        let remote = std::net::SocketAddr::new(CLIENT.into(), 68);
        let local = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67);
        assert!(
            v.iter().all(|x| x.1 == Some(remote) && x.2 == Some(local)),
            "{v:?}"
        );
        assert_eq!(v[2].3, Some(2), "subnet4_select sees the 4o6 subnet");

        let request = dhcpv4(
            d4::MessageType::Request,
            5,
            &[
                DhcpOption::RequestedIpAddress(offer.yiaddr()),
                DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 1)),
            ],
        );
        exchange(&mut s, &ipc_query(&request, b"eth0", CLIENT, None)).expect("an ack");
        let points: Vec<HookPoint> = std::mem::take(&mut *seen.lock().expect("lock"))
            .iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(
            points,
            [
                Buffer4Receive,
                Pkt4Receive,
                Subnet4Select,
                Lease4Select,
                Leases4Committed,
                Pkt4Send,
                Buffer4Send
            ]
        );
    }

    /// A 4o6 reply must go back through the DHCPv6 server, which a parked packet's resumed
    /// reply does not: an awaited script runs as if detached and the query is answered at
    /// once. A plain DHCPv4 query after it parks as before.
    #[test]
    fn a_4o6_query_is_answered_without_parking_on_an_awaited_script() {
        use crate::hooked::tests::{script, script_hooks};
        use corelease_hooks::Contract;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = script(dir.path(), "hook.sh", "#!/bin/sh\nexit 0\n");
        let hooks = script_hooks(Contract::KeaHookRunscript, path, true, false);
        let p = prepared();
        let mut s = V4Shard::new(Arc::clone(&p), 0, 1, MemorySink::default());
        s.set_hooks(Some(hooks));
        let discover = dhcpv4(d4::MessageType::Discover, 6, &[]);
        let (_, _, offer, _) =
            exchange(&mut s, &ipc_query(&discover, b"eth0", CLIENT, None)).expect("an offer");
        assert_eq!(kind(&offer), Some(d4::MessageType::Offer));
        assert_eq!(s.parked(), 0);
        assert!(s.park_stats().not_parkable >= 1, "{:?}", s.park_stats());

        // The same shard still parks a plain DHCPv4 DISCOVER (relayed into subnet 1).
        let mut plain = Message::decode(&mut Decoder::new(&dhcpv4(
            d4::MessageType::Discover,
            7,
            &[],
        )))
        .expect("decodes");
        plain.set_giaddr(Ipv4Addr::new(192, 0, 2, 1));
        let bytes = plain.to_vec().expect("encodes");
        let meta = Meta4 {
            src: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 67),
            dst: Ipv4Addr::new(192, 0, 2, 1),
            ifindex: 7,
            local: Ipv4Addr::new(192, 0, 2, 1),
        };
        let mut out = [0u8; 1500];
        assert!(s.handle(&meta, &bytes, NOW, &mut out).is_none(), "parked");
        assert_eq!(s.parked(), 1);
    }

    #[test]
    fn the_owner_shard_is_found_from_the_inner_chaddr() {
        let discover = dhcpv4(d4::MessageType::Discover, 9, &[]);
        let ipc = ipc_query(&discover, b"eth0", CLIENT, None);
        assert_eq!(dhcp4o6_chaddr(&ipc), Some(&[2, 0, 0, 0, 0, 9][..]));
        assert_eq!(dhcp4o6_chaddr(&ipc[..10]), None);
    }
}
