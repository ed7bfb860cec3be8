//! A worker's socket with batched system calls: requests are queued and leave together in
//! one sendmmsg(2), replies are drained up to `RX_BATCH` at a time with recvmmsg(2). On
//! loopback most of the cost of a datagram is the system call around it, so batching is
//! what lets one generator thread outrun a server (DESIGN.md measured 244-304k/s with
//! recvmmsg/sendmmsg against 209-247k/s with one call per datagram).
//!
//! The buffers are allocated once; the message headers pointing into them are rebuilt on
//! the stack for every call, so nothing is self-referential and nothing allocates.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// Datagrams per sendmmsg.
pub const TX_BATCH: usize = 64;
/// Datagrams per recvmmsg.
pub const RX_BATCH: usize = 32;
/// Largest request the generator writes (see wire6::MAX_BUILT_LEN_V6).
pub const TX_SLOT: usize = 1024;
/// Largest reply read; longer ones are truncated and then fail to parse (malformed).
pub const RX_SLOT: usize = 2048;

pub struct BatchSocket {
    socket: UdpSocket,
    destination: socket2::SockAddr,
    tx: Box<[[u8; TX_SLOT]; TX_BATCH]>,
    tx_len: [usize; TX_BATCH],
    queued: usize,
    rx: Box<[[u8; RX_SLOT]; RX_BATCH]>,
    rx_len: [usize; RX_BATCH],
    /// Datagrams the kernel refused to take (perfdhcp's "locallimit").
    pub send_failures: u64,
}

impl BatchSocket {
    pub fn new(socket: UdpSocket, destination: SocketAddr) -> Self {
        BatchSocket {
            socket,
            destination: destination.into(),
            tx: Box::new([[0u8; TX_SLOT]; TX_BATCH]),
            tx_len: [0; TX_BATCH],
            queued: 0,
            rx: Box::new([[0u8; RX_SLOT]; RX_BATCH]),
            rx_len: [0; RX_BATCH],
            send_failures: 0,
        }
    }

    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }

    /// Queues one datagram for the destination, sending the batch first if it is full.
    pub fn queue(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || bytes.len() > TX_SLOT {
            self.send_failures += 1;
            return;
        }
        if self.queued == TX_BATCH {
            self.flush();
        }
        let at = self.queued;
        if let (Some(slot), Some(len)) = (self.tx.get_mut(at), self.tx_len.get_mut(at)) {
            if let Some(dst) = slot.get_mut(..bytes.len()) {
                dst.copy_from_slice(bytes);
                *len = bytes.len();
                self.queued += 1;
            }
        }
    }

    /// Sends everything queued.
    pub fn flush(&mut self) {
        let count = self.queued;
        if count == 0 {
            return;
        }
        // SAFETY: zeroed iovec / mmsghdr are valid "empty" values; all pointers set below
        // point into buffers that outlive the call.
        let mut iovecs: [libc::iovec; TX_BATCH] = unsafe { std::mem::zeroed() };
        let mut headers: [libc::mmsghdr; TX_BATCH] = unsafe { std::mem::zeroed() };
        let name = self.destination.as_ptr() as *mut libc::c_void;
        let name_len = self.destination.len();
        for i in 0..count {
            let (Some(iov), Some(header), Some(buf), Some(len)) = (
                iovecs.get_mut(i),
                headers.get_mut(i),
                self.tx.get_mut(i),
                self.tx_len.get(i),
            ) else {
                break;
            };
            iov.iov_base = buf.as_mut_ptr() as *mut libc::c_void;
            iov.iov_len = *len;
            header.msg_hdr.msg_iov = iov as *mut libc::iovec;
            header.msg_hdr.msg_iovlen = 1;
            header.msg_hdr.msg_name = name;
            header.msg_hdr.msg_namelen = name_len;
        }
        let mut sent = 0usize;
        // A datagram socket takes the whole batch or fails at one message; retry the rest
        // a bounded number of times, then count what is left as not sent.
        for _ in 0..4 {
            if sent >= count {
                break;
            }
            let Some(rest) = headers.get_mut(sent..count) else {
                break;
            };
            // SAFETY: `rest` holds initialised headers whose pointers are valid (above).
            let rc = unsafe {
                libc::sendmmsg(
                    self.socket.as_raw_fd(),
                    rest.as_mut_ptr(),
                    rest.len() as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if rc <= 0 {
                // The message at `sent` was refused (e.g. no buffer space): skip it.
                sent += 1;
                self.send_failures += 1;
            } else {
                sent += rc as usize;
            }
        }
        self.send_failures += count.saturating_sub(sent) as u64;
        self.queued = 0;
    }

    /// Reads up to `RX_BATCH` waiting datagrams; returns how many. Read each with
    /// `datagram(i)`.
    pub fn receive(&mut self) -> usize {
        // SAFETY: as in flush; every pointer targets `self.rx`, alive for the call.
        let mut iovecs: [libc::iovec; RX_BATCH] = unsafe { std::mem::zeroed() };
        let mut headers: [libc::mmsghdr; RX_BATCH] = unsafe { std::mem::zeroed() };
        for ((iov, header), buf) in iovecs
            .iter_mut()
            .zip(headers.iter_mut())
            .zip(self.rx.iter_mut())
        {
            iov.iov_base = buf.as_mut_ptr() as *mut libc::c_void;
            iov.iov_len = RX_SLOT;
            header.msg_hdr.msg_iov = iov as *mut libc::iovec;
            header.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: headers are initialised and point into live buffers; no timeout pointer.
        let rc = unsafe {
            libc::recvmmsg(
                self.socket.as_raw_fd(),
                headers.as_mut_ptr(),
                RX_BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc <= 0 {
            return 0;
        }
        let count = (rc as usize).min(RX_BATCH);
        for (len, header) in self.rx_len.iter_mut().zip(headers.iter()).take(count) {
            *len = (header.msg_len as usize).min(RX_SLOT);
        }
        count
    }

    /// Datagram `i` of the last `receive`.
    pub fn datagram(&self, i: usize) -> &[u8] {
        match (self.rx.get(i), self.rx_len.get(i)) {
            (Some(buf), Some(&len)) => buf.get(..len).unwrap_or(&[]),
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_datagrams_arrive_whole_and_in_order() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let to = receiver.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let from = sender.local_addr().unwrap_or_else(|e| panic!("{e}"));
        receiver
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut tx = BatchSocket::new(sender, to);
        // More than one batch, so queue() has to flush on its own once.
        for n in 0..(TX_BATCH + 10) as u32 {
            let mut packet = [0u8; 300];
            packet[..4].copy_from_slice(&n.to_be_bytes());
            tx.queue(&packet[..100 + (n as usize % 50)]);
        }
        tx.flush();
        assert_eq!(tx.send_failures, 0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut rx = BatchSocket::new(receiver, from);
        let mut next = 0u32;
        for _ in 0..10 {
            let count = rx.receive();
            for i in 0..count {
                let d = rx.datagram(i);
                assert_eq!(d.len(), 100 + (next as usize % 50));
                assert_eq!(&d[..4], &next.to_be_bytes());
                next += 1;
            }
        }
        assert_eq!(next as usize, TX_BATCH + 10);
    }
}
