//! Helpers shared by the integration tests: DHCP-shaped datagrams and free loopback ports.
#![allow(dead_code)]

use std::net::UdpSocket;

/// Length of the test datagrams: a DHCPDISCOVER with a few options is about this size.
pub const DATAGRAM_LEN: usize = 300;

/// A DHCPv4-shaped request (RFC 2131 section 2 layout): op 1, htype 1, hlen 6, `xid` = `seq`,
/// `chaddr` = `mac`, the magic cookie and option 53 (DHCPDISCOVER), zero padding.
pub fn dhcp_datagram(seq: u32, mac: [u8; 6]) -> Vec<u8> {
    let mut p = vec![0u8; DATAGRAM_LEN];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&seq.to_be_bytes());
    p[28..34].copy_from_slice(&mac);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p[240..243].copy_from_slice(&[53, 1, 1]);
    p[243] = 255;
    p
}

/// The `xid` and `chaddr` of a datagram built by [`dhcp_datagram`].
pub fn seq_and_mac(datagram: &[u8]) -> (u32, [u8; 6]) {
    let seq = u32::from_be_bytes([datagram[4], datagram[5], datagram[6], datagram[7]]);
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&datagram[28..34]);
    (seq, mac)
}

/// `count` distinct hardware addresses, spread like one vendor's (same OUI).
pub fn macs(count: u32, salt: u32) -> Vec<[u8; 6]> {
    (0..count)
        .map(|i| {
            let b = (i ^ salt.rotate_left(7))
                .wrapping_mul(2_654_435_761)
                .to_be_bytes();
            [0x02, 0x42, b[0], b[1], b[2], b[3]]
        })
        .collect()
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let probe = UdpSocket::bind("127.0.0.1:0").expect("bind probe socket");
    probe.local_addr().expect("probe address").port()
}
