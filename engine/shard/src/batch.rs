//! Batched datagram I/O: `recvmmsg` with `IP_PKTINFO` / `IPV6_PKTINFO` into preallocated
//! slots, `sendmmsg` with per-reply packet info out of preallocated slots (DESIGN.md points 2
//! and 6).
//!
//! Every buffer, address, iovec, control block and `mmsghdr` is allocated once in `new`; the
//! headers point into the other boxed slices, whose heap storage never moves, so a batch can be
//! moved freely. Nothing here allocates per datagram. The raw pointers make both types `!Send`,
//! which is right: a batch belongs to one shard thread.
//!
//! The batches are generic over the address [`Family`]: [`V4`] (DHCPv4, `sockaddr_in`,
//! `IP_PKTINFO`) and [`V6`] (DHCPv6, `sockaddr_in6`, `IPV6_PKTINFO`); [`RecvBatch`] /
//! [`SendBatch`] are the IPv4 ones, [`RecvBatch6`] / [`SendBatch6`] the IPv6 ones.

use std::io;
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::time::{Duration, SystemTime};

use crate::{RecvMeta, RecvMeta6, SendMeta, SendMeta6};

/// Bytes per reply slot (and per hand-off queue entry): room for any reply, 33 relay layers of
/// a DHCPv6 answer included.
pub const DATAGRAM_CAPACITY: usize = 2048;

/// Bytes of a received datagram the server reads: 1500, Kea's IfaceMgr::RCVBUFSIZE. Kea reads
/// every datagram into a buffer of that size and parses what fits; a longer one is cut, not
/// refused (checked on the wire with kea-dhcp4 2.2, UDP sockets, and kea-dhcp6 2.2: a
/// 3000-byte or 65000-byte DISCOVER whose options end early is answered, one whose message
/// type lies past byte 1500 is counted as of unknown type and dropped, and a relayed DHCPv6
/// message of 1501 bytes loses the end of its Relay Message and fails to parse). So each
/// receive slot holds this many bytes and a longer datagram reaches the handler cut to them.
pub const RECEIVE_CAPACITY: usize = 1500;

/// Upper bound on slots per batch, so a configuration typo cannot allocate gigabytes.
pub const MAX_BATCH: usize = 1024;

/// One control-message block: room for `IP_PKTINFO` / `IPV6_PKTINFO` and `SCM_TIMESTAMPNS`
/// (32-40 bytes each on 64-bit Linux) with margin, aligned for `cmsghdr`.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct ControlSlot([u8; 128]);

/// `SO_TIMESTAMPNS` / `SCM_TIMESTAMPNS` (the "old" 64-bit-time_t value of the generic
/// asm/socket.h, valid on x86_64 and aarch64, the targets glommio supports); libc lacks it.
pub(crate) const SO_TIMESTAMPNS: libc::c_int = 35;

const CONTROL_LEN: usize = size_of::<ControlSlot>();

fn zeroed_mmsghdr() -> libc::mmsghdr {
    // SAFETY: mmsghdr is plain old data (null pointers, zero lengths); all-zero is valid.
    unsafe { std::mem::zeroed() }
}

fn ipv4_of(addr: libc::in_addr) -> Ipv4Addr {
    // s_addr holds the address in network byte order, i.e. its bytes are the octets.
    Ipv4Addr::from(addr.s_addr.to_ne_bytes())
}

fn in_addr_of(ip: Ipv4Addr) -> libc::in_addr {
    libc::in_addr {
        s_addr: u32::from_ne_bytes(ip.octets()),
    }
}

fn errno_of(err: &io::Error) -> i32 {
    err.raw_os_error().unwrap_or(0)
}

/// Why a received slot yields no datagram for the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvDrop {
    /// No source address of the socket's family (cannot happen on an AF_INET / AF_INET6
    /// socket; kept for safety).
    NotIpv4,
    /// Index beyond the datagrams of the last receive.
    OutOfRange,
}

/// The control messages of one received datagram that the runtime asks for.
#[derive(Clone, Copy)]
pub struct ReceivedControl {
    pktinfo4: Option<libc::in_pktinfo>,
    pktinfo6: Option<libc::in6_pktinfo>,
    arrival: Option<SystemTime>,
}

/// An address family the batches carry: its socket address type, how arrival metadata is read
/// from a received slot and how a reply's destination and packet info are written. Implemented
/// by [`V4`] and [`V6`] only.
pub trait Family: 'static {
    /// `sockaddr_in` or `sockaddr_in6`.
    type SockAddr: Copy;
    /// What the handler learns about a datagram ([`RecvMeta`] / [`RecvMeta6`]).
    type RecvMeta: Copy + Send + 'static;
    /// Where a reply goes ([`SendMeta`] / [`SendMeta6`]).
    type SendMeta: Copy;
    #[doc(hidden)]
    fn zeroed_addr() -> Self::SockAddr;
    #[doc(hidden)]
    fn recv_meta(
        addr: &Self::SockAddr,
        namelen: usize,
        control: &ReceivedControl,
    ) -> Result<Self::RecvMeta, RecvDrop>;
    #[doc(hidden)]
    fn send_len(meta: &Self::SendMeta) -> usize;
    /// Writes the destination into `addr` and, when the reply needs one, a packet-info control
    /// message at the start of `control` (8-byte aligned); returns the control length used.
    #[doc(hidden)]
    fn prepare_send(meta: &Self::SendMeta, addr: &mut Self::SockAddr, control: &mut [u8]) -> usize;
    /// Sent to a broadcast or multicast address (the kernel copied it to every shard socket).
    fn is_broadcast(meta: &Self::RecvMeta) -> bool;
    /// When the kernel queued the datagram.
    fn arrival(meta: &Self::RecvMeta) -> Option<SystemTime>;
}

/// IPv4 (DHCPv4).
#[derive(Debug, Clone, Copy)]
pub enum V4 {}

/// IPv6 (DHCPv6).
#[derive(Debug, Clone, Copy)]
pub enum V6 {}

/// Writes one control message (`level`, `kind`, `payload`) at the start of `control`; returns
/// its CMSG_SPACE, or 0 when it does not fit.
fn write_cmsg<T: Copy>(
    control: &mut [u8],
    level: libc::c_int,
    kind: libc::c_int,
    payload: T,
) -> usize {
    let data_len = size_of::<T>() as libc::c_uint;
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(data_len) } as usize;
    if space > control.len() || control.as_ptr().align_offset(8) != 0 {
        return 0;
    }
    // SAFETY: the slot is at least `space` bytes and 8-byte aligned (checked above); the header
    // is written at its start and the payload at CMSG_DATA, inside the slot.
    unsafe {
        std::ptr::write_bytes(control.as_mut_ptr(), 0, space);
        let cmsg = control.as_mut_ptr().cast::<libc::cmsghdr>();
        (*cmsg).cmsg_len = libc::CMSG_LEN(data_len) as _;
        (*cmsg).cmsg_level = level;
        (*cmsg).cmsg_type = kind;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<T>(), payload);
    }
    space
}

impl Family for V4 {
    type SockAddr = libc::sockaddr_in;
    type RecvMeta = RecvMeta;
    type SendMeta = SendMeta;

    fn zeroed_addr() -> libc::sockaddr_in {
        // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
        unsafe { std::mem::zeroed() }
    }

    fn recv_meta(
        addr: &libc::sockaddr_in,
        namelen: usize,
        control: &ReceivedControl,
    ) -> Result<RecvMeta, RecvDrop> {
        if namelen < size_of::<libc::sockaddr_in>()
            || addr.sin_family != libc::AF_INET as libc::sa_family_t
        {
            return Err(RecvDrop::NotIpv4);
        }
        let src = SocketAddrV4::new(ipv4_of(addr.sin_addr), u16::from_be(addr.sin_port));
        let (dst, local, ifindex) = match control.pktinfo4 {
            Some(info) => (
                ipv4_of(info.ipi_addr),
                ipv4_of(info.ipi_spec_dst),
                u32::try_from(info.ipi_ifindex).unwrap_or(0),
            ),
            None => (Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0),
        };
        Ok(RecvMeta {
            src,
            dst,
            ifindex,
            local,
            arrival: control.arrival,
        })
    }

    fn send_len(meta: &SendMeta) -> usize {
        meta.len
    }

    fn prepare_send(meta: &SendMeta, addr: &mut libc::sockaddr_in, control: &mut [u8]) -> usize {
        *addr = Self::zeroed_addr();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_port = meta.dst.port().to_be();
        addr.sin_addr = in_addr_of(*meta.dst.ip());
        // A source of broadcast, multicast or 0.0.0.0 is not a local address; the kernel would
        // refuse the datagram (EINVAL), so leave the choice of source to the routing table.
        let src_ip = meta
            .src_ip
            .filter(|ip| !ip.is_broadcast() && !ip.is_multicast() && !ip.is_unspecified());
        let ifindex = meta.ifindex.filter(|i| *i != 0);
        if src_ip.is_none() && ifindex.is_none() {
            return 0;
        }
        let info = libc::in_pktinfo {
            ipi_ifindex: ifindex
                .and_then(|i| libc::c_int::try_from(i).ok())
                .unwrap_or(0),
            ipi_spec_dst: in_addr_of(src_ip.unwrap_or(Ipv4Addr::UNSPECIFIED)),
            ipi_addr: in_addr_of(Ipv4Addr::UNSPECIFIED),
        };
        write_cmsg(control, libc::IPPROTO_IP, libc::IP_PKTINFO, info)
    }

    fn is_broadcast(meta: &RecvMeta) -> bool {
        meta.is_broadcast()
    }

    fn arrival(meta: &RecvMeta) -> Option<SystemTime> {
        meta.arrival
    }
}

fn is_link_local6(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

impl Family for V6 {
    type SockAddr = libc::sockaddr_in6;
    type RecvMeta = RecvMeta6;
    type SendMeta = SendMeta6;

    fn zeroed_addr() -> libc::sockaddr_in6 {
        // SAFETY: sockaddr_in6 is plain old data; all-zero is a valid value.
        unsafe { std::mem::zeroed() }
    }

    fn recv_meta(
        addr: &libc::sockaddr_in6,
        namelen: usize,
        control: &ReceivedControl,
    ) -> Result<RecvMeta6, RecvDrop> {
        if namelen < size_of::<libc::sockaddr_in6>()
            || addr.sin6_family != libc::AF_INET6 as libc::sa_family_t
        {
            return Err(RecvDrop::NotIpv4);
        }
        let src = SocketAddrV6::new(
            Ipv6Addr::from(addr.sin6_addr.s6_addr),
            u16::from_be(addr.sin6_port),
            u32::from_be(addr.sin6_flowinfo),
            addr.sin6_scope_id,
        );
        let (dst, ifindex) = match control.pktinfo6 {
            Some(info) => (Ipv6Addr::from(info.ipi6_addr.s6_addr), info.ipi6_ifindex),
            None => (Ipv6Addr::UNSPECIFIED, 0),
        };
        Ok(RecvMeta6 {
            src,
            dst,
            ifindex,
            arrival: control.arrival,
        })
    }

    fn send_len(meta: &SendMeta6) -> usize {
        meta.len
    }

    fn prepare_send(meta: &SendMeta6, addr: &mut libc::sockaddr_in6, control: &mut [u8]) -> usize {
        *addr = Self::zeroed_addr();
        addr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        addr.sin6_port = meta.dst.port().to_be();
        addr.sin6_addr = libc::in6_addr {
            s6_addr: meta.dst.ip().octets(),
        };
        let ifindex = meta.ifindex.filter(|i| *i != 0);
        // A link-local destination means nothing without its link (RFC 4007 section 6).
        addr.sin6_scope_id = match (meta.dst.scope_id(), ifindex) {
            (0, Some(i)) if is_link_local6(meta.dst.ip()) => i,
            (scope, _) => scope,
        };
        let src_ip = meta
            .src_ip
            .filter(|ip| !ip.is_multicast() && !ip.is_unspecified());
        if src_ip.is_none() && ifindex.is_none() {
            return 0;
        }
        let info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: src_ip.unwrap_or(Ipv6Addr::UNSPECIFIED).octets(),
            },
            ipi6_ifindex: ifindex.unwrap_or(0),
        };
        write_cmsg(control, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, info)
    }

    fn is_broadcast(meta: &RecvMeta6) -> bool {
        meta.dst.is_multicast()
    }

    fn arrival(meta: &RecvMeta6) -> Option<SystemTime> {
        meta.arrival
    }
}

/// Preallocated receive slots for `recvmmsg`.
pub struct RecvBatchOf<F: Family> {
    buffers: Box<[u8]>,
    addrs: Box<[F::SockAddr]>,
    controls: Box<[ControlSlot]>,
    iovecs: Box<[libc::iovec]>,
    headers: Box<[libc::mmsghdr]>,
    received: usize,
}

/// IPv4 receive slots.
pub type RecvBatch = RecvBatchOf<V4>;
/// IPv6 receive slots.
pub type RecvBatch6 = RecvBatchOf<V6>;

impl<F: Family> RecvBatchOf<F> {
    /// Allocates `slots` receive slots (clamped to 1..=[`MAX_BATCH`]).
    pub fn new(slots: usize) -> Self {
        let slots = slots.clamp(1, MAX_BATCH);
        let mut batch = RecvBatchOf::<F> {
            buffers: vec![0u8; slots * RECEIVE_CAPACITY].into_boxed_slice(),
            addrs: vec![F::zeroed_addr(); slots].into_boxed_slice(),
            controls: vec![ControlSlot([0; CONTROL_LEN]); slots].into_boxed_slice(),
            iovecs: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0
                };
                slots
            ]
            .into_boxed_slice(),
            headers: vec![zeroed_mmsghdr(); slots].into_boxed_slice(),
            received: 0,
        };
        let buffers = batch.buffers.as_mut_ptr();
        for i in 0..slots {
            // SAFETY: i * RECEIVE_CAPACITY < buffers.len() for every i < slots.
            let base = unsafe { buffers.add(i * RECEIVE_CAPACITY) };
            batch.iovecs[i] = libc::iovec {
                iov_base: base.cast(),
                iov_len: RECEIVE_CAPACITY,
            };
            let hdr = &mut batch.headers[i].msg_hdr;
            hdr.msg_name = (&mut batch.addrs[i] as *mut F::SockAddr).cast();
            hdr.msg_iov = &mut batch.iovecs[i];
            hdr.msg_iovlen = 1;
            hdr.msg_control = batch.controls[i].0.as_mut_ptr().cast();
        }
        batch
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.headers.len()
    }

    /// Number of datagrams the last [`RecvBatchOf::recv`] returned.
    pub fn received(&self) -> usize {
        self.received
    }

    /// Receives up to [`RecvBatchOf::slots`] datagrams without blocking. `Ok(0)` means the
    /// socket is empty (EAGAIN).
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.received = 0;
        for header in self.headers.iter_mut() {
            // The kernel overwrites these on every receive; reset them to the slot sizes.
            header.msg_hdr.msg_namelen = size_of::<F::SockAddr>() as libc::socklen_t;
            header.msg_hdr.msg_controllen = CONTROL_LEN as _;
            header.msg_hdr.msg_flags = 0;
            header.msg_len = 0;
        }
        let slots = libc::c_uint::try_from(self.headers.len()).unwrap_or(libc::c_uint::MAX);
        // SAFETY: every header points at live, correctly sized slots owned by self.
        let rc = unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                slots,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            return match errno_of(&err) {
                libc::EAGAIN | libc::EINTR => Ok(0),
                _ => Err(err),
            };
        }
        self.received = usize::try_from(rc).unwrap_or(0).min(self.headers.len());
        Ok(self.received)
    }

    /// Whether the `index`th datagram of the last receive was longer than
    /// [`RECEIVE_CAPACITY`] (the kernel cut it, `MSG_TRUNC`): [`datagram`](Self::datagram)
    /// holds its first bytes.
    pub fn truncated(&self, index: usize) -> bool {
        index < self.received
            && self
                .headers
                .get(index)
                .is_some_and(|h| h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0)
    }

    /// The `index`th datagram of the last receive with its arrival metadata; of a longer
    /// datagram, its first [`RECEIVE_CAPACITY`] bytes.
    pub fn datagram(&self, index: usize) -> Result<(F::RecvMeta, &[u8]), RecvDrop> {
        if index >= self.received {
            return Err(RecvDrop::OutOfRange);
        }
        let header = self.headers.get(index).ok_or(RecvDrop::OutOfRange)?;
        let addr = self.addrs.get(index).ok_or(RecvDrop::OutOfRange)?;
        let control = control_of(&header.msg_hdr);
        let meta = F::recv_meta(addr, header.msg_hdr.msg_namelen as usize, &control)?;
        let len = (header.msg_len as usize).min(RECEIVE_CAPACITY);
        let start = index * RECEIVE_CAPACITY;
        let data = self
            .buffers
            .get(start..start + len)
            .ok_or(RecvDrop::OutOfRange)?;
        Ok((meta, data))
    }
}

/// Walks the control messages of a received header once, picking `IP_PKTINFO`,
/// `IPV6_PKTINFO` and `SCM_TIMESTAMPNS`.
fn control_of(hdr: &libc::msghdr) -> ReceivedControl {
    let mut found = ReceivedControl {
        pktinfo4: None,
        pktinfo6: None,
        arrival: None,
    };
    // SAFETY: hdr's control pointer and the length the kernel wrote describe our ControlSlot;
    // the CMSG_* walkers stay within msg_controllen. Payloads are read unaligned and only when
    // the message is long enough for them.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        while !cmsg.is_null() {
            let len = (*cmsg).cmsg_len as usize;
            let (level, kind) = ((*cmsg).cmsg_level, (*cmsg).cmsg_type);
            if level == libc::IPPROTO_IP
                && kind == libc::IP_PKTINFO
                && len >= libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as libc::c_uint) as usize
            {
                let data = libc::CMSG_DATA(cmsg).cast::<libc::in_pktinfo>();
                found.pktinfo4 = Some(std::ptr::read_unaligned(data));
            } else if level == libc::IPPROTO_IPV6
                && kind == libc::IPV6_PKTINFO
                && len >= libc::CMSG_LEN(size_of::<libc::in6_pktinfo>() as libc::c_uint) as usize
            {
                let data = libc::CMSG_DATA(cmsg).cast::<libc::in6_pktinfo>();
                found.pktinfo6 = Some(std::ptr::read_unaligned(data));
            } else if level == libc::SOL_SOCKET
                && kind == SO_TIMESTAMPNS
                && len >= libc::CMSG_LEN(size_of::<libc::timespec>() as libc::c_uint) as usize
            {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                found.arrival = system_time_of(ts);
            }
            cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
        }
    }
    found
}

/// A CLOCK_REALTIME timespec as a SystemTime (None before 1970 or out of range).
fn system_time_of(ts: libc::timespec) -> Option<SystemTime> {
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// What one [`SendBatchOf::flush`] achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushOutcome {
    /// Datagrams the kernel accepted.
    pub sent: usize,
    /// Datagrams the kernel refused with an error other than EAGAIN (they are skipped).
    pub failed: usize,
    /// Datagrams still queued because the socket's send buffer was full (EAGAIN).
    pub blocked: usize,
}

/// Why a reply could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// Every slot holds an unsent reply.
    Full,
    /// `SendMeta::len` is larger than the slot it was written into.
    TooLong,
}

/// Preallocated reply slots for `sendmmsg`.
pub struct SendBatchOf<F: Family> {
    buffers: Box<[u8]>,
    addrs: Box<[F::SockAddr]>,
    controls: Box<[ControlSlot]>,
    iovecs: Box<[libc::iovec]>,
    headers: Box<[libc::mmsghdr]>,
    queued: usize,
    flushed: usize,
}

/// IPv4 reply slots.
pub type SendBatch = SendBatchOf<V4>;
/// IPv6 reply slots.
pub type SendBatch6 = SendBatchOf<V6>;

impl<F: Family> SendBatchOf<F> {
    /// Allocates `slots` reply slots (clamped to 1..=[`MAX_BATCH`]).
    pub fn new(slots: usize) -> Self {
        let slots = slots.clamp(1, MAX_BATCH);
        let mut batch = SendBatchOf::<F> {
            buffers: vec![0u8; slots * DATAGRAM_CAPACITY].into_boxed_slice(),
            addrs: vec![F::zeroed_addr(); slots].into_boxed_slice(),
            controls: vec![ControlSlot([0; CONTROL_LEN]); slots].into_boxed_slice(),
            iovecs: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0
                };
                slots
            ]
            .into_boxed_slice(),
            headers: vec![zeroed_mmsghdr(); slots].into_boxed_slice(),
            queued: 0,
            flushed: 0,
        };
        let buffers = batch.buffers.as_mut_ptr();
        for i in 0..slots {
            // SAFETY: i * DATAGRAM_CAPACITY < buffers.len() for every i < slots.
            let base = unsafe { buffers.add(i * DATAGRAM_CAPACITY) };
            batch.iovecs[i] = libc::iovec {
                iov_base: base.cast(),
                iov_len: 0,
            };
            let hdr = &mut batch.headers[i].msg_hdr;
            hdr.msg_name = (&mut batch.addrs[i] as *mut F::SockAddr).cast();
            hdr.msg_namelen = size_of::<F::SockAddr>() as libc::socklen_t;
            hdr.msg_iov = &mut batch.iovecs[i];
            hdr.msg_iovlen = 1;
        }
        batch
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.headers.len()
    }

    /// Replies queued and not yet flushed.
    pub fn pending(&self) -> usize {
        self.queued - self.flushed
    }

    /// The buffer the next reply is written into, or `None` when every slot is taken.
    pub fn next_buffer(&mut self) -> Option<&mut [u8]> {
        let start = self.queued.checked_mul(DATAGRAM_CAPACITY)?;
        self.buffers.get_mut(start..start + DATAGRAM_CAPACITY)
    }

    /// Queues the reply just written into [`SendBatchOf::next_buffer`].
    pub fn commit(&mut self, meta: &F::SendMeta) -> Result<(), QueueError> {
        let index = self.queued;
        let len = F::send_len(meta);
        if len > DATAGRAM_CAPACITY {
            return Err(QueueError::TooLong);
        }
        let (Some(addr), Some(iov), Some(control), Some(header)) = (
            self.addrs.get_mut(index),
            self.iovecs.get_mut(index),
            self.controls.get_mut(index),
            self.headers.get_mut(index),
        ) else {
            return Err(QueueError::Full);
        };
        iov.iov_len = len;
        let control_len = F::prepare_send(meta, addr, &mut control.0);
        if control_len == 0 {
            header.msg_hdr.msg_control = std::ptr::null_mut();
            header.msg_hdr.msg_controllen = 0;
        } else {
            header.msg_hdr.msg_control = control.0.as_mut_ptr().cast();
            header.msg_hdr.msg_controllen = control_len as _;
        }
        self.queued += 1;
        Ok(())
    }

    /// Sends the queued replies without blocking, continuing after the last flush. A reply the
    /// kernel refuses (other than EAGAIN) is counted as failed and skipped.
    pub fn flush(&mut self, fd: RawFd) -> FlushOutcome {
        let mut outcome = FlushOutcome::default();
        // Each iteration sends at least one datagram, skips one, or returns; EINTR is retried
        // at most once per queued datagram.
        let mut interrupts = 0;
        while self.flushed < self.queued {
            let rest = &mut self.headers[self.flushed..self.queued];
            let count = libc::c_uint::try_from(rest.len()).unwrap_or(libc::c_uint::MAX);
            // SAFETY: the headers point at live slots owned by self.
            let rc = unsafe { libc::sendmmsg(fd, rest.as_mut_ptr(), count, libc::MSG_DONTWAIT) };
            if rc > 0 {
                let sent = usize::try_from(rc).unwrap_or(0);
                outcome.sent += sent;
                self.flushed += sent;
                continue;
            }
            let err = io::Error::last_os_error();
            match errno_of(&err) {
                libc::EINTR if interrupts < self.queued => interrupts += 1,
                libc::EAGAIN => {
                    outcome.blocked = self.queued - self.flushed;
                    return outcome;
                }
                _ => {
                    outcome.failed += 1;
                    self.flushed += 1;
                }
            }
        }
        outcome
    }

    /// Forgets every queued reply (after a flush, or to give up on blocked ones).
    pub fn clear(&mut self) {
        self.queued = 0;
        self.flushed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    fn meta(src_ip: Option<Ipv4Addr>, ifindex: Option<u32>, len: usize) -> SendMeta {
        SendMeta {
            dst: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 9), 68),
            src_ip,
            ifindex,
            len,
        }
    }

    #[test]
    fn reply_with_a_broadcast_source_and_no_interface_carries_no_pktinfo() {
        let mut batch = SendBatch::new(2);
        batch
            .commit(&meta(Some(Ipv4Addr::BROADCAST), None, 10))
            .expect("commit");
        let hdr = &batch.headers[0].msg_hdr;
        assert!(hdr.msg_control.is_null());
        assert_eq!(hdr.msg_controllen, 0);
        assert_eq!(batch.iovecs[0].iov_len, 10);
        assert_eq!(u16::from_be(batch.addrs[0].sin_port), 68);
        assert_eq!(ipv4_of(batch.addrs[0].sin_addr), Ipv4Addr::new(10, 0, 0, 9));
    }

    #[test]
    fn reply_with_source_and_interface_carries_them_in_pktinfo() {
        let mut batch = SendBatch::new(2);
        batch
            .commit(&meta(Some(Ipv4Addr::new(10, 0, 0, 1)), Some(7), 10))
            .expect("commit");
        let control = control_of(&batch.headers[0].msg_hdr);
        let info = control.pktinfo4.expect("pktinfo");
        assert_eq!(info.ipi_ifindex, 7);
        assert_eq!(ipv4_of(info.ipi_spec_dst), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(ipv4_of(info.ipi_addr), Ipv4Addr::UNSPECIFIED);
    }

    #[test]
    fn commit_refuses_a_reply_longer_than_its_slot_and_a_full_batch() {
        let mut batch = SendBatch::new(1);
        assert_eq!(
            batch.commit(&meta(None, None, DATAGRAM_CAPACITY + 1)),
            Err(QueueError::TooLong)
        );
        batch.commit(&meta(None, None, 1)).expect("first fits");
        assert!(batch.next_buffer().is_none());
        assert_eq!(batch.commit(&meta(None, None, 1)), Err(QueueError::Full));
        assert_eq!(batch.pending(), 1);
        batch.clear();
        assert_eq!(batch.pending(), 0);
        assert!(batch.next_buffer().is_some());
    }

    #[test]
    fn batch_round_trip_on_loopback_keeps_bytes_addresses_and_arrival() {
        let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind receiver");
        let fd = receiver.as_raw_fd();
        for (level, name) in [
            (libc::IPPROTO_IP, libc::IP_PKTINFO),
            (libc::SOL_SOCKET, SO_TIMESTAMPNS),
        ] {
            let one: libc::c_int = 1;
            // SAFETY: a c_int option on a valid socket.
            let rc = unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    name,
                    (&one as *const libc::c_int).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0);
        }
        let std::net::SocketAddr::V4(to) = receiver.local_addr().expect("addr") else {
            panic!("IPv4 expected");
        };
        let sender = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
        let std::net::SocketAddr::V4(from) = sender.local_addr().expect("addr") else {
            panic!("IPv4 expected");
        };

        let mut out = SendBatch::new(8);
        for i in 0..5u8 {
            let buf = out.next_buffer().expect("slot");
            buf[..3].copy_from_slice(&[i, i, i]);
            out.commit(&SendMeta {
                dst: to,
                src_ip: Some(Ipv4Addr::LOCALHOST),
                ifindex: None,
                len: 3 + usize::from(i),
            })
            .expect("commit");
        }
        let before = SystemTime::now();
        let outcome = out.flush(sender.as_raw_fd());
        assert_eq!(
            outcome,
            FlushOutcome {
                sent: 5,
                failed: 0,
                blocked: 0
            }
        );

        let mut incoming = RecvBatch::new(8);
        let mut got = 0;
        for _ in 0..200 {
            got = incoming.recv(fd).expect("recvmmsg");
            if got > 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(got, 5, "loopback delivers the whole batch at once");
        for i in 0..5u8 {
            let (meta, data) = incoming.datagram(usize::from(i)).expect("datagram");
            assert_eq!(data.len(), 3 + usize::from(i));
            assert_eq!(&data[..3], &[i, i, i]);
            assert_eq!(meta.src, from);
            assert_eq!(meta.dst, Ipv4Addr::LOCALHOST);
            assert_eq!(meta.local, Ipv4Addr::LOCALHOST);
            assert_ne!(meta.ifindex, 0);
            assert!(!meta.is_broadcast());
            let arrival = meta.arrival.expect("arrival time");
            assert!(arrival + std::time::Duration::from_secs(1) >= before);
        }
        assert_eq!(incoming.datagram(5), Err(RecvDrop::OutOfRange));
    }
}
