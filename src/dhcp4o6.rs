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

/// What the control thread reads of the 4o6 path, for `/metrics` and status-get. Kea counts
/// no 4o6 drop: its IPC handlers (Dhcp4to6Ipc::handler, Dhcp6to4Ipc::handler) read one
/// message per wake-up and only log a bad one at debug level, a full IPC socket buffer drops
/// in the kernel uncounted, and the ARM's statistics (8.x, 9.x, 10.x) name none. So these
/// are corelease metrics: the messages the reader dropped because a shard's queue was full,
/// and the 4o6 socket's kernel drop counter (read on demand, no cost to the reader).
#[derive(Clone)]
pub(crate) struct IpcMonitor {
    socket: Arc<UdpSocket>,
    queues: Vec<Arc<IpcQueue>>,
}

impl IpcMonitor {
    /// `queues[i]` is shard i's queue.
    pub(crate) fn new(socket: Arc<UdpSocket>, queues: Vec<Arc<IpcQueue>>) -> Self {
        IpcMonitor { socket, queues }
    }

    /// Messages dropped per shard because its queue was full.
    pub(crate) fn queue_drops(&self) -> Vec<u64> {
        self.queues
            .iter()
            .map(|q| q.dropped.load(Ordering::Relaxed))
            .collect()
    }

    /// The 4o6 socket's kernel drop counter (`SK_MEMINFO_DROPS`).
    pub(crate) fn kernel_drops(&self) -> Option<u64> {
        corelease_shard::socket_meminfo(self.socket.as_raw_fd()).map(|(drops, _)| drops)
    }

    /// status-get's `dhcp4o6` object.
    pub(crate) fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "queue-drops": self.queue_drops(),
            "kernel-drops": self.kernel_drops(),
        })
    }

    pub(crate) fn metrics(&self, w: &mut corelease_control::MetricsWriter) {
        use corelease_control::MetricKind::Counter;
        for (i, d) in self.queue_drops().into_iter().enumerate() {
            w.sample(
                "corelease_dhcp4o6_queue_drops_total",
                "DHCPv4-over-DHCPv6 messages the 4o6 reader dropped because the shard's queue was full",
                Counter,
                "",
                &[("shard", i.to_string())],
                d as f64,
            );
        }
        if let Some(d) = self.kernel_drops() {
            w.sample(
                "corelease_dhcp4o6_kernel_drops_total",
                "DHCPv4-over-DHCPv6 messages the kernel dropped at the 4o6 socket (its receive buffer was full)",
                Counter,
                "",
                &[],
                d as f64,
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The two ends of a 4o6 socket pair on a free even port of `[::1]`.
    fn pair() -> (UdpSocket, UdpSocket) {
        let base = 20_000 + (std::process::id() % 10_000) as u16 * 2;
        for port in (base..base + 200).step_by(2) {
            if let (Ok(v6), Ok(v4)) = (open(port, Side::V6), open(port, Side::V4)) {
                return (v6, v4);
            }
        }
        panic!("no free port pair on [::1]");
    }

    #[test]
    fn messages_beyond_a_full_shard_queue_are_dropped_and_counted_for_metrics() {
        let (v6, v4) = pair();
        let v4 = Arc::new(v4);
        // Shard 1 never drains its queue of 4; shard 0 gets nothing.
        let queues = vec![Arc::new(IpcQueue::new(4)), Arc::new(IpcQueue::new(4))];
        let reader = Reader::spawn(Arc::clone(&v4), queues.clone(), Vec::new(), |_| 1)
            .unwrap_or_else(|e| panic!("{e}"));
        for i in 0..10u8 {
            assert!(send(&v6, &[i; 40], "test"), "send {i}");
        }
        // Until the reader has taken all ten (queued or dropped), bounded.
        let monitor = IpcMonitor::new(Arc::clone(&v4), queues.clone());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while queues[1].ready.len() as u64 + monitor.queue_drops()[1] < 10
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        reader.stop();
        assert_eq!(monitor.queue_drops(), vec![0, 6]);
        assert_eq!(
            queues[1].pop().map(|b| b.bytes().to_vec()),
            Some(vec![0; 40])
        );
        assert_eq!(monitor.kernel_drops(), Some(0));
        let mut w = corelease_control::MetricsWriter::default();
        monitor.metrics(&mut w);
        let text = w.finish();
        for want in [
            "corelease_dhcp4o6_queue_drops_total{shard=\"0\"} 0\n",
            "corelease_dhcp4o6_queue_drops_total{shard=\"1\"} 6\n",
            "corelease_dhcp4o6_kernel_drops_total 0\n",
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
        assert_eq!(
            monitor.status(),
            serde_json::json!({ "queue-drops": [0, 6], "kernel-drops": 0 })
        );
    }
}
