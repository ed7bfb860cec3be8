//! A hand-built packet for expression tests: every field the ARM examples read.
#![allow(dead_code)]

use corelease_classify::PacketContext;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Default)]
pub struct Relay6 {
    pub peer: Option<Ipv6Addr>,
    pub link: Option<Ipv6Addr>,
    pub options: Vec<(u16, Vec<u8>)>,
}

pub struct TestPacket {
    pub options: Vec<(u16, Vec<u8>)>,
    pub mac: Vec<u8>,
    pub htype: u8,
    pub ciaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub msg_type: u8,
    pub xid: u32,
    pub iface: &'static str,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub len: u32,
    /// Index 0 is the relay closest to the server.
    pub relays: Vec<Relay6>,
    pub known: bool,
    pub classes: Vec<&'static str>,
}

impl Default for TestPacket {
    fn default() -> Self {
        TestPacket {
            options: Vec::new(),
            mac: vec![1, 2, 3, 4, 5, 6],
            htype: 1,
            ciaddr: Ipv4Addr::new(192, 0, 2, 1),
            giaddr: Ipv4Addr::new(192, 0, 2, 2),
            yiaddr: Ipv4Addr::new(192, 0, 2, 3),
            siaddr: Ipv4Addr::new(192, 0, 2, 4),
            msg_type: 1,
            xid: 12345,
            iface: "eth0",
            src: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 4)),
            len: 513,
            relays: Vec::new(),
            known: false,
            classes: Vec::new(),
        }
    }
}

impl TestPacket {
    pub fn with_option(mut self, code: u16, data: &[u8]) -> Self {
        self.options.push((code, data.to_vec()));
        self
    }
}

impl PacketContext for TestPacket {
    fn option(&self, code: u16) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, d)| d.as_slice())
    }
    fn pkt4_mac(&self) -> &[u8] {
        &self.mac
    }
    fn pkt4_hlen(&self) -> u8 {
        self.mac.len() as u8
    }
    fn pkt4_htype(&self) -> u8 {
        self.htype
    }
    fn pkt4_ciaddr(&self) -> Ipv4Addr {
        self.ciaddr
    }
    fn pkt4_giaddr(&self) -> Ipv4Addr {
        self.giaddr
    }
    fn pkt4_yiaddr(&self) -> Ipv4Addr {
        self.yiaddr
    }
    fn pkt4_siaddr(&self) -> Ipv4Addr {
        self.siaddr
    }
    fn msg_type(&self) -> u8 {
        self.msg_type
    }
    fn transaction_id(&self) -> u32 {
        self.xid
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
        self.len
    }
    fn relay6_count(&self) -> usize {
        self.relays.len()
    }
    fn relay6_option(&self, level: usize, code: u16) -> Option<&[u8]> {
        self.relays
            .get(level)?
            .options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, d)| d.as_slice())
    }
    fn relay6_peer_addr(&self, level: usize) -> Option<Ipv6Addr> {
        self.relays.get(level)?.peer
    }
    fn relay6_link_addr(&self, level: usize) -> Option<Ipv6Addr> {
        self.relays.get(level)?.link
    }
    fn is_known(&self) -> bool {
        self.known
    }
    fn is_member(&self, name: &str) -> bool {
        self.classes.contains(&name)
    }
}
