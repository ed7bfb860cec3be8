//! The DHCPv4-over-DHCPv6 socket between `corelease dhcp6` and `corelease dhcp4` (ARM 9.2.26,
//! 10.2.26), on the wire exactly as between Kea's two servers, so either side can be Kea.
//!
//! Each server opens one UDP socket on `[::1]`: the DHCPv6 side bound to `dhcp4o6-port` and
//! connected to port + 1, the DHCPv4 side the other way round (Kea's `Dhcp4o6IpcBase::open`).
//! Why two processes, not one passing messages between its shards: users keep their two Kea
//! configuration files unchanged, and each side interoperates with real Kea.
//!
//! Shards send on the socket directly (a non-blocking `send` on a connected UDP socket needs
//! no lock). Receiving is one thread per process, `dhcp4o6-ipc`, which only finds the shard a
//! message is for, moves it into that shard's [`IpcQueue`] (buffers recycled, nothing
//! allocated per message) and wakes the shard; the shard does the protocol work between its
//! batches. One socket, so one reader: the peer is connected to one port, and the kernel would
//! steer all its datagrams to one socket of a reuseport group anyway (same 4-tuple).

use corelease_shard::{ShardWaker, DATAGRAM_CAPACITY};
use crossbeam::queue::ArrayQueue;
use std::io::ErrorKind;
use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Messages a shard's queue holds before the reader drops (and counts) new ones.
pub(crate) const QUEUE_DEPTH: usize = 256;

/// Which server a socket belongs to (Kea's `ENDPOINT_TYPE_V6` / `_V4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// Bound to the port, sends to port + 1.
    V6,
    /// Bound to port + 1, sends to the port.
    V4,
}

/// Opens the 4o6 socket as Kea does: bound to `[::1]` and connected to `[::1]`, non-blocking.
pub(crate) fn open(port: u16, side: Side) -> std::io::Result<UdpSocket> {
    let up = port.checked_add(1).ok_or_else(|| {
        std::io::Error::new(ErrorKind::InvalidInput, "dhcp4o6-port must be below 65535")
    })?;
    let (local, remote) = match side {
        Side::V6 => (port, up),
        Side::V4 => (up, port),
    };
    let sock = UdpSocket::bind(SocketAddrV6::new(Ipv6Addr::LOCALHOST, local, 0, 0))?;
    sock.connect(SocketAddrV6::new(Ipv6Addr::LOCALHOST, remote, 0, 0))?;
    sock.set_nonblocking(true)?;
    Ok(sock)
}

/// Sends one message to the other server; false (and logged) when the kernel refused it.
pub(crate) fn send(sock: &UdpSocket, bytes: &[u8], target: &'static str) -> bool {
    match sock.send(bytes) {
        Ok(_) => true,
        Err(e) => {
            // ECONNREFUSED: the other server is not running (yet); as Kea, log and go on.
            tracing::debug!(target: "DHCP4O6_IPC", kind = target, "failed to send DHCPv4o6 message over the IPC: {e}");
            false
        }
    }
}

/// One message received over the 4o6 socket.
pub(crate) struct IpcBuf {
    pub(crate) len: usize,
    pub(crate) data: Box<[u8]>,
}

impl IpcBuf {
    pub(crate) fn bytes(&self) -> &[u8] {
        self.data.get(..self.len).unwrap_or(&[])
    }
}

/// A shard's inbox of 4o6 messages: filled by the reader thread, drained by the shard, the
/// buffers going round between `ready` and `free`.
pub(crate) struct IpcQueue {
    ready: ArrayQueue<IpcBuf>,
    free: ArrayQueue<IpcBuf>,
    /// Messages dropped because the shard had not drained its queue.
    pub(crate) dropped: AtomicU64,
}

impl IpcQueue {
    pub(crate) fn new(depth: usize) -> Self {
        let free = ArrayQueue::new(depth.max(1));
        for _ in 0..depth.max(1) {
            let _ = free.push(IpcBuf {
                len: 0,
                data: vec![0u8; DATAGRAM_CAPACITY].into_boxed_slice(),
            });
        }
        IpcQueue {
            ready: ArrayQueue::new(depth.max(1)),
            free,
            dropped: AtomicU64::new(0),
        }
    }

    /// The next message for the shard.
    pub(crate) fn pop(&self) -> Option<IpcBuf> {
        self.ready.pop()
    }

    /// Gives a drained buffer back.
    pub(crate) fn recycle(&self, buf: IpcBuf) {
        let _ = self.free.push(buf);
    }

    /// True when messages wait.
    pub(crate) fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }
}

/// The thread reading the 4o6 socket.
pub(crate) struct Reader {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    /// Starts the reader: every message goes to `queues[route(message)]` and that shard is
    /// woken. `route` must answer below `queues.len()`; out-of-range answers go to shard 0.
    pub(crate) fn spawn(
        sock: Arc<UdpSocket>,
        queues: Vec<Arc<IpcQueue>>,
        wakers: Vec<ShardWaker>,
        route: impl Fn(&[u8]) -> usize + Send + 'static,
    ) -> std::io::Result<Reader> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("dhcp4o6-ipc".into())
            .spawn(move || read_loop(&sock, &queues, &wakers, &route, &flag))?;
        Ok(Reader {
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_loop(
    sock: &UdpSocket,
    queues: &[Arc<IpcQueue>],
    wakers: &[ShardWaker],
    route: &dyn Fn(&[u8]) -> usize,
    stop: &AtomicBool,
) {
    let mut scratch = vec![0u8; DATAGRAM_CAPACITY];
    let mut woken = vec![false; wakers.len()];
    while !stop.load(Ordering::Acquire) {
        let mut pfd = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call; the timeout bounds how long
        // a stop request waits.
        let ready = unsafe { libc::poll(&mut pfd, 1, 200) };
        if ready <= 0 {
            continue;
        }
        loop {
            let n = match sock.recv(&mut scratch) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                // A refused earlier send (the peer was down) surfaces here: not about this read.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
                Err(e) => {
                    tracing::debug!(target: "DHCP4O6_IPC", "failed to receive DHCPv4o6: {e}");
                    break;
                }
            };
            let data = scratch.get(..n).unwrap_or(&[]);
            let shard = route(data);
            let shard = if shard < queues.len() { shard } else { 0 };
            let Some(q) = queues.get(shard) else { break };
            match q.free.pop() {
                Some(mut buf) => {
                    let len = n.min(buf.data.len());
                    if let (Some(dst), Some(src)) = (buf.data.get_mut(..len), data.get(..len)) {
                        dst.copy_from_slice(src);
                    }
                    buf.len = len;
                    if let Err(buf) = q.ready.push(buf) {
                        q.recycle(buf);
                        q.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => {
                    q.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            if let Some(w) = woken.get_mut(shard) {
                *w = true;
            }
        }
        for (i, w) in woken.iter_mut().enumerate() {
            if std::mem::take(w) {
                if let Some(waker) = wakers.get(i) {
                    waker.wake();
                }
            }
        }
    }
}
