//! Fixtures shared by the run-script tests: one query, response, subnet and lease with every
//! field distinct, so a value in the wrong variable shows.

#![allow(dead_code)]

pub mod tables;

use corelease_hooks::{HookContext, LeaseTimers, PacketView, SubnetView};
use corelease_types::{ClientId, HwAddr, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};

pub const NOW: u64 = 1_700_000_100;

pub fn hw() -> HwAddr {
    HwAddr::new(1, &[0x00, 0x0c, 0x01, 0x02, 0x03, 0xff])
}

/// Option 82: circuit-id "abc", remote-id de:ad.
pub const RAI: &[u8] = &[1, 3, b'a', b'b', b'c', 2, 2, 0xde, 0xad];
pub const CLIENT_ID: &[u8] = &[1, 0x00, 0x0c, 0x01, 0x02, 0x03, 0xff];

pub fn lease() -> Lease {
    Lease {
        kind: LeaseKind::V4,
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        prefix_len: 32,
        iaid: 0,
        hwaddr: Some(hw()),
        client_id: Some(ClientId::new(CLIENT_ID)),
        valid_lifetime: 3600,
        preferred_lifetime: 0,
        cltt: 1_700_000_000,
        subnet_id: SubnetId(7),
        pool_id: PoolId(0),
        state: LeaseState::Default,
        hostname: Some("host-a".into()),
        fqdn_fwd: false,
        fqdn_rev: false,
        user_context: None,
    }
}

pub fn query(hostname: Option<&[u8]>) -> PacketView<'_> {
    PacketView {
        message_type: Some(3),
        xid: 0x1234_abcd,
        hops: 1,
        secs: 5,
        flags: 0x8000,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        siaddr: Ipv4Addr::UNSPECIFIED,
        yiaddr: Ipv4Addr::UNSPECIFIED,
        giaddr: Ipv4Addr::new(192, 0, 2, 1),
        hwaddr: hw(),
        local_hwaddr: None,
        remote_hwaddr: None,
        interface: "eth0",
        ifindex: 2,
        local: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 254), 67),
        remote: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 67).into(),
        client_id: Some(CLIENT_ID),
        hostname,
        relay_agent_info: Some(RAI),
        bytes: &[],
    }
}

pub fn response() -> PacketView<'static> {
    PacketView {
        message_type: Some(5),
        xid: 0x1234_abcd,
        hops: 1,
        secs: 0,
        flags: 0x8000,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        siaddr: Ipv4Addr::new(192, 0, 2, 254),
        yiaddr: Ipv4Addr::new(192, 0, 2, 10),
        giaddr: Ipv4Addr::new(192, 0, 2, 1),
        hwaddr: hw(),
        local_hwaddr: None,
        remote_hwaddr: None,
        interface: "eth0",
        ifindex: 2,
        local: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 254), 67),
        remote: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 67).into(),
        client_id: None,
        hostname: None,
        relay_agent_info: None,
        bytes: &[],
    }
}

pub fn subnet() -> SubnetView {
    SubnetView {
        id: SubnetId(7),
        prefix: Ipv4Addr::new(192, 0, 2, 0),
        prefix_len: 24,
    }
}

/// A context with everything set, as the richest hook point would see it.
pub fn full_context<'a>(
    q: PacketView<'a>,
    lease: &'a Lease,
    leases: &'a [Lease],
    deleted: &'a [Lease],
) -> HookContext<'a> {
    HookContext {
        now: NOW,
        query: Some(q),
        response: Some(response()),
        subnet: Some(subnet()),
        lease: Some(lease),
        timers: LeaseTimers { t1: 1800, t2: 3150 },
        leases,
        deleted_leases: deleted,
        fake_allocation: true,
        remove_lease: true,
        ..HookContext::new(NOW)
    }
}

pub fn owned(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect()
}
