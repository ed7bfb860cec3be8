//! The contracts' tables, transcribed: the kea-hook-runscript README's "For each Kea hook
//! point" lists and ARM 17.25's lists for libdhcp_run_script.so, with the fixtures' values in
//! each contract's format.

use super::*;
use corelease_hooks::HookPoint;
use corelease_types::{LeaseState, SubnetId};
use std::net::{IpAddr, Ipv4Addr};

const README_QUERY: &[(&str, &str)] = &[
    ("KEA_QUERY4_TYPE", "DHCPREQUEST"),
    ("KEA_QUERY4_INTERFACE", "eth0"),
    ("KEA_QUERY4_IFINDEX", "2"),
    ("KEA_QUERY4_HWADDR", "00:0c:01:02:03:ff"),
    ("KEA_QUERY4_HWADDR_SOURCE", "0"),
    ("KEA_QUERY4_HWADDR_TYPE", "1"),
    ("KEA_QUERY4_RELAYED", "1"),
    ("KEA_QUERY4_RELAY_HOPS", "1"),
    ("KEA_QUERY4_CIADDR", "0.0.0.0"),
    ("KEA_QUERY4_SIADDR", "0.0.0.0"),
    ("KEA_QUERY4_YIADDR", "0.0.0.0"),
    ("KEA_QUERY4_GIADDR", "192.0.2.1"),
];

const README_RESPONSE: &[(&str, &str)] = &[
    ("KEA_RESPONSE4_TYPE", "DHCPACK"),
    ("KEA_RESPONSE4_INTERFACE", "eth0"),
    ("KEA_RESPONSE4_IFINDEX", "2"),
    ("KEA_RESPONSE4_HWADDR", "00:0c:01:02:03:ff"),
    ("KEA_RESPONSE4_HWADDR_SOURCE", "0"),
    ("KEA_RESPONSE4_HWADDR_TYPE", "1"),
    ("KEA_RESPONSE4_RELAYED", "1"),
    ("KEA_RESPONSE4_RELAY_HOPS", "1"),
    ("KEA_RESPONSE4_CIADDR", "0.0.0.0"),
    ("KEA_RESPONSE4_SIADDR", "192.0.2.254"),
    ("KEA_RESPONSE4_YIADDR", "192.0.2.10"),
    ("KEA_RESPONSE4_GIADDR", "192.0.2.1"),
];

const README_SUBNET: &[(&str, &str)] = &[
    ("KEA_SUBNET4_PREFIX", "192.0.2.0"),
    ("KEA_SUBNET4_PREFIXLEN", "24"),
    ("KEA_SUBNET4", "192.0.2.0/24"),
];

const README_LEASE: &[(&str, &str)] = &[
    ("KEA_LEASE4_ADDRESS", "192.0.2.10"),
    ("KEA_LEASE4_TYPE", "V4"),
    ("KEA_LEASE4_STATE", "default"),
    ("KEA_LEASE4_IS_EXPIRED", "0"),
    ("KEA_LEASE4_HWADDR", "00:0c:01:02:03:ff"),
    ("KEA_LEASE4_HOSTNAME", "host-a"),
    ("KEA_LEASE4_CLIENT_LAST_TRANSMISSION", "1700000000"),
    ("KEA_LEASE4_RENEW_TIMER", "1800"),
    ("KEA_LEASE4_REBIND_TIMER", "3150"),
    ("KEA_LEASE4_VALID_LIFETIME", "3600"),
];

/// The README's table for one hook point, values from the fixtures; None where the
/// library has no callout.
pub fn readme_expected(point: HookPoint) -> Option<Vec<(String, Vec<u8>)>> {
    use HookPoint::*;
    let mut v: Vec<(&str, &str)> = Vec::new();
    match point {
        Pkt4Receive => v.extend(README_QUERY),
        Pkt4Send => {
            v.extend(README_QUERY);
            v.extend(README_RESPONSE);
        }
        Subnet4Select => {
            v.extend(README_QUERY);
            v.extend(README_SUBNET);
        }
        Lease4Select => {
            v.extend(README_QUERY);
            v.extend(README_SUBNET);
            v.push(("KEA_FAKE_ALLOCATION", "1"));
            v.extend(README_LEASE);
        }
        Lease4Renew => {
            v.extend(README_QUERY);
            v.extend(README_SUBNET);
            v.extend(README_LEASE);
        }
        Lease4Release | Lease4Decline => {
            v.extend(README_QUERY);
            v.extend(README_LEASE);
        }
        Lease4Expire => {
            v.extend(README_LEASE);
            v.push(("KEA_REMOVE_LEASE", "1"));
        }
        Lease4Recover => v.extend(README_LEASE),
        _ => return None,
    }
    Some(owned(&v))
}

const KEA_QUERY: &[(&str, &str)] = &[
    ("QUERY4_TYPE", "DHCPREQUEST"),
    ("QUERY4_TXID", "305441741"),
    ("QUERY4_LOCAL_ADDR", "192.0.2.254"),
    ("QUERY4_LOCAL_PORT", "67"),
    ("QUERY4_REMOTE_ADDR", "192.0.2.1"),
    ("QUERY4_REMOTE_PORT", "67"),
    ("QUERY4_IFACE_INDEX", "2"),
    ("QUERY4_IFACE_NAME", "eth0"),
    ("QUERY4_HOPS", "1"),
    ("QUERY4_SECS", "5"),
    ("QUERY4_FLAGS", "32768"),
    ("QUERY4_CIADDR", "0.0.0.0"),
    ("QUERY4_SIADDR", "0.0.0.0"),
    ("QUERY4_YIADDR", "0.0.0.0"),
    ("QUERY4_GIADDR", "192.0.2.1"),
    ("QUERY4_RELAYED", "true"),
    ("QUERY4_HWADDR", "00:0c:01:02:03:ff"),
    ("QUERY4_HWADDR_TYPE", "1"),
    ("QUERY4_LOCAL_HWADDR", ""),
    ("QUERY4_LOCAL_HWADDR_TYPE", ""),
    ("QUERY4_REMOTE_HWADDR", ""),
    ("QUERY4_REMOTE_HWADDR_TYPE", ""),
    ("QUERY4_OPTION_82", "0x01036162630202DEAD"),
    ("QUERY4_OPTION_82_SUB_OPTION_1", "0x616263"),
    ("QUERY4_OPTION_82_SUB_OPTION_2", "0xDEAD"),
];

const KEA_SUBNET: &[(&str, &str)] = &[
    ("SUBNET4_ID", "7"),
    ("SUBNET4_NAME", "192.0.2.0/24"),
    ("SUBNET4_PREFIX", "192.0.2.0"),
    ("SUBNET4_PREFIX_LEN", "24"),
];

fn kea_lease(prefix: &str, addr: &str, state: &str) -> Vec<(String, Vec<u8>)> {
    [
        ("ADDRESS", addr),
        ("CLTT", "1700000000"),
        ("HOSTNAME", "host-a"),
        ("HWADDR", "00:0c:01:02:03:ff"),
        ("HWADDR_TYPE", "1"),
        ("STATE", state),
        ("SUBNET_ID", "7"),
        ("VALID_LIFETIME", "3600"),
        ("CLIENT_ID", "01:00:0c:01:02:03:ff"),
    ]
    .iter()
    .map(|(k, v)| (format!("{prefix}_{k}"), v.as_bytes().to_vec()))
    .collect()
}

/// ARM 17.25's list for one hook point, values from the fixtures.
pub fn kea_expected(point: HookPoint) -> Option<Vec<(String, Vec<u8>)>> {
    use HookPoint::*;
    let mut v = Vec::new();
    match point {
        Lease4Renew => {
            v.extend(owned(KEA_QUERY));
            v.extend(owned(KEA_SUBNET));
            v.extend(owned(&[
                ("PKT4_CLIENT_ID", "01:00:0c:01:02:03:ff"),
                ("PKT4_HWADDR", "00:0c:01:02:03:ff"),
                ("PKT4_HWADDR_TYPE", "1"),
            ]));
            v.extend(kea_lease("LEASE4", "192.0.2.10", "default"));
        }
        Lease4Expire => {
            v.extend(kea_lease("LEASE4", "192.0.2.10", "default"));
            v.extend(owned(&[("REMOVE_LEASE", "true")]));
        }
        Lease4Recover => v.extend(kea_lease("LEASE4", "192.0.2.10", "default")),
        Leases4Committed => {
            v.extend(owned(KEA_QUERY));
            v.extend(owned(&[("LEASES4_SIZE", "1")]));
            v.extend(kea_lease("LEASES4_AT0", "192.0.2.10", "default"));
            v.extend(owned(&[("DELETED_LEASES4_SIZE", "1")]));
            v.extend(kea_lease("DELETED_LEASES4_AT0", "192.0.2.11", "released"));
        }
        Lease4Release | Lease4Decline => {
            v.extend(owned(KEA_QUERY));
            v.extend(kea_lease("LEASE4", "192.0.2.10", "default"));
        }
        _ => return None,
    }
    Some(v)
}

pub fn deleted_lease() -> corelease_types::Lease {
    let mut l = lease();
    l.addr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
    l.state = LeaseState::Released;
    l.subnet_id = SubnetId(7);
    l
}
