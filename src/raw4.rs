//! Layer-2 replies for `dhcp-socket-type: raw` (Kea's default): an OFFER or ACK for a client
//! that has no address yet is unicast to its hardware address and yiaddr (RFC 2131 4.1), which a
//! UDP socket cannot do without an ARP entry. One AF_PACKET/SOCK_DGRAM socket per shard: we write
//! the IPv4 and UDP headers, the kernel adds the Ethernet header for the MAC we name. Frames are
//! queued while a batch is handled and sent after the lease log commit, like UDP replies.

use corelease_v4::L2Unicast;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const ETH_P_IP: u16 = 0x0800;
const IP_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
const FRAME_CAPACITY: usize = 1500;
/// Frames a batch can queue (a batch is at most 64 datagrams, see the runtime).
const QUEUE: usize = 64;

struct Frame {
    ifindex: u32,
    mac: [u8; 6],
    len: usize,
    bytes: Box<[u8; FRAME_CAPACITY]>,
}

pub struct RawSender {
    fd: OwnedFd,
    frames: Vec<Frame>,
    queued: usize,
    /// Frames that could not be sent (counted; the caller logs them).
    pub errors: u64,
}

impl RawSender {
    pub fn open() -> io::Result<RawSender> {
        // SAFETY: socket(2) with constant arguments; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_IP.to_be()),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // A send-only socket: bind to protocol 0 so the kernel queues nothing for us to read.
        let frames = (0..QUEUE)
            .map(|_| Frame {
                ifindex: 0,
                mac: [0; 6],
                len: 0,
                bytes: Box::new([0u8; FRAME_CAPACITY]),
            })
            .collect();
        Ok(RawSender {
            fd,
            frames,
            queued: 0,
            errors: 0,
        })
    }

    /// Queues `payload` (a DHCP message) as UDP from `src`:`sport` to the client.
    pub fn queue(
        &mut self,
        ifindex: u32,
        src: Ipv4Addr,
        sport: u16,
        dst: &L2Unicast,
        payload: &[u8],
    ) {
        let Some(frame) = self.frames.get_mut(self.queued) else {
            self.errors += 1;
            return;
        };
        let total = IP_HEADER + UDP_HEADER + payload.len();
        if total > FRAME_CAPACITY {
            self.errors += 1;
            return;
        }
        let b = &mut frame.bytes[..];
        // IPv4 header (RFC 791), no options.
        b[0] = 0x45;
        b[1] = 0x10; // low delay, as ISC servers send
        b[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        b[4..8].copy_from_slice(&[0, 0, 0x40, 0]); // id 0, don't fragment
        b[8] = 64;
        b[9] = 17;
        b[10..12].copy_from_slice(&[0, 0]);
        b[12..16].copy_from_slice(&src.octets());
        b[16..20].copy_from_slice(&dst.ip.octets());
        let ip_sum = checksum(&b[..IP_HEADER], 0);
        b[10..12].copy_from_slice(&ip_sum.to_be_bytes());
        // UDP header (RFC 768) with the pseudo-header checksum.
        let udp_len = (UDP_HEADER + payload.len()) as u16;
        b[20..22].copy_from_slice(&sport.to_be_bytes());
        b[22..24].copy_from_slice(&dst.port.to_be_bytes());
        b[24..26].copy_from_slice(&udp_len.to_be_bytes());
        b[26..28].copy_from_slice(&[0, 0]);
        b[28..total].copy_from_slice(payload);
        let mut pseudo = 0u32;
        for chunk in [&src.octets()[..], &dst.ip.octets()[..]] {
            pseudo = sum16(chunk, pseudo);
        }
        pseudo += 17 + u32::from(udp_len);
        let mut udp_sum = checksum(&b[20..total], pseudo);
        if udp_sum == 0 {
            udp_sum = 0xffff;
        }
        b[26..28].copy_from_slice(&udp_sum.to_be_bytes());
        frame.ifindex = ifindex;
        frame.mac = dst.mac;
        frame.len = total;
        self.queued += 1;
    }

    /// Sends every queued frame.
    pub fn flush(&mut self) {
        for frame in self.frames.iter().take(self.queued) {
            // SAFETY: a zeroed sockaddr_ll is a valid value; the fields are set below.
            let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_protocol = ETH_P_IP.to_be();
            addr.sll_ifindex = frame.ifindex as i32;
            addr.sll_halen = 6;
            addr.sll_addr[..6].copy_from_slice(&frame.mac);
            // SAFETY: the buffer and address live across the call; lengths match them.
            let rc = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    frame.bytes.as_ptr().cast(),
                    frame.len,
                    0,
                    (&addr as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if rc < 0 {
                self.errors += 1;
            }
        }
        self.queued = 0;
    }
}

fn sum16(bytes: &[u8], mut acc: u32) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// The Internet checksum (RFC 1071) of `bytes` plus a partial sum.
fn checksum(bytes: &[u8], initial: u32) -> u16 {
    let mut acc = sum16(bytes, initial);
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checksum_matches_rfc1071_example() {
        // A well-known header (Wikipedia "IPv4 header checksum" example): checksum 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h, 0), 0xb861);
    }
}
