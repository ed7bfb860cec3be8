//! Broadcasts bypass reuseport selection: the kernel copies them to every socket of the group,
//! and the per-socket filters must let exactly one shard (the owner) see each. Runs in two
//! network namespaces this test creates (veth pair, 10.231.0.0/24 inside them only) and removes.

mod common;

use std::collections::HashMap;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use common::{dhcp_datagram, macs, seq_and_mac};
use corelease_shard::{
    bind_shard_sockets, shard_of_chaddr, start, RecvBatch, RecvMeta, RuntimeConfig, SendMeta,
    ShardHandler,
};

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 2);

/// Two namespaces joined by a veth pair; removed on drop, also when the test fails.
struct NamespacePair {
    server_ns: String,
    client_ns: String,
    server_if: String,
    client_if: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl NamespacePair {
    /// Creates the pair, or says why this machine cannot (the test is then skipped).
    fn create() -> Result<NamespacePair, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root: cannot create network namespaces".into());
        }
        if Command::new("ip").arg("-V").output().is_err() {
            return Err("the `ip` command (iproute2) is not installed".into());
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let pair = NamespacePair {
            server_ns: format!("clrshard-{tag}-s"),
            client_ns: format!("clrshard-{tag}-c"),
            server_if: format!("crs{tag}"),
            client_if: format!("crc{tag}"),
        };
        // From here on, drop removes whatever was created.
        let (s, c) = (pair.server_ns.as_str(), pair.client_ns.as_str());
        let (si, ci) = (pair.server_if.as_str(), pair.client_if.as_str());
        ip(&["netns", "add", s])?;
        ip(&["netns", "add", c])?;
        ip(&[
            "link", "add", si, "netns", s, "type", "veth", "peer", "name", ci, "netns", c,
        ])?;
        ip(&["-n", s, "addr", "add", "10.231.0.1/24", "dev", si])?;
        ip(&["-n", c, "addr", "add", "10.231.0.2/24", "dev", ci])?;
        for (ns, dev) in [(s, si), (c, ci), (s, "lo"), (c, "lo")] {
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(pair)
    }

    /// Runs `f` on a thread that has entered namespace `ns`; sockets it creates live there.
    fn run_in<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{ns}");
        std::thread::spawn(move || {
            let file = File::open(&path).expect("open namespace");
            // SAFETY: setns on this thread only; the fd is valid for the call.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("namespace thread")
    }

    /// A broadcast-capable client socket on the client side of the veth pair.
    fn client_socket(&self, port: u16) -> UdpSocket {
        let dev = self.client_if.clone();
        Self::run_in(&self.client_ns, move || {
            let socket = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::DGRAM,
                Some(socket2::Protocol::UDP),
            )
            .expect("client socket");
            socket.set_broadcast(true).expect("broadcast");
            socket
                .bind_device(Some(dev.as_bytes()))
                .expect("bind device");
            socket
                .bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into())
                .expect("bind client");
            UdpSocket::from(socket)
        })
    }
}

impl Drop for NamespacePair {
    fn drop(&mut self) {
        // Deleting a namespace also deletes its end of the veth pair (and so the pair).
        let _ = ip(&["netns", "del", &self.server_ns]);
        let _ = ip(&["netns", "del", &self.client_ns]);
    }
}

fn namespaces_or_skip(test: &str) -> Option<NamespacePair> {
    match NamespacePair::create() {
        Ok(pair) => Some(pair),
        Err(reason) => {
            println!("SKIPPED {test}: {reason}");
            None
        }
    }
}

#[test]
fn broadcast_is_received_once_by_the_owning_shard() {
    let Some(pair) = namespaces_or_skip("broadcast_is_received_once_by_the_owning_shard") else {
        return;
    };
    let client = pair.client_socket(0);
    let server_if = pair.server_if.clone();
    // SAFETY (in the closure): if_nametoindex reads a NUL-terminated name.
    let server_ifindex = NamespacePair::run_in(&pair.server_ns, move || {
        let name = std::ffi::CString::new(server_if).expect("name");
        unsafe { libc::if_nametoindex(name.as_ptr()) }
    });
    assert_ne!(server_ifindex, 0);

    for shards in 2..=4usize {
        let port = 20_000 + shards as u16;
        let sockets = NamespacePair::run_in(&pair.server_ns, move || {
            bind_shard_sockets(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port), shards, None)
                .expect("bind shard sockets in the namespace")
        });
        let total = 200u32;
        let clients = macs(total, shards as u32);
        for (seq, mac) in clients.iter().enumerate() {
            client
                .send_to(
                    &dhcp_datagram(seq as u32, *mac),
                    SocketAddrV4::new(Ipv4Addr::BROADCAST, port),
                )
                .expect("send broadcast");
        }

        // seq -> shards that received it
        let mut seen: HashMap<u32, Vec<usize>> = HashMap::new();
        let mut batch = RecvBatch::new(64);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut settle_until = None;
        // Keep reading until everything arrived and 100 ms more passed (a duplicate would
        // arrive within that time), or 5 s.
        while Instant::now() < deadline && !matches!(settle_until, Some(t) if Instant::now() >= t) {
            for (index, socket) in sockets.iter().enumerate() {
                let n = batch.recv(socket.as_raw_fd()).expect("recvmmsg");
                for i in 0..n {
                    let (meta, data) = batch.datagram(i).expect("datagram");
                    assert_eq!(meta.dst, Ipv4Addr::BROADCAST, "IP_PKTINFO destination");
                    assert_eq!(meta.local, SERVER_IP, "IP_PKTINFO local address");
                    assert_eq!(meta.ifindex, server_ifindex, "IP_PKTINFO interface");
                    assert_eq!(*meta.src.ip(), CLIENT_IP);
                    assert!(meta.is_broadcast());
                    assert!(meta.arrival.is_some(), "SO_TIMESTAMPNS arrival time");
                    seen.entry(seq_and_mac(data).0).or_default().push(index);
                }
            }
            if settle_until.is_none() && seen.len() == total as usize {
                settle_until = Some(Instant::now() + Duration::from_millis(100));
            }
            std::thread::sleep(Duration::from_millis(1));
        }

        assert_eq!(
            seen.len(),
            total as usize,
            "{shards} shards: every broadcast arrives"
        );
        for (seq, receivers) in &seen {
            let owner = shard_of_chaddr(&clients[*seq as usize], shards);
            assert_eq!(receivers, &vec![owner], "{shards} shards: datagram {seq}");
        }
    }
}

/// Answers every request by broadcast out of the interface it came in on.
struct BroadcastEcho;

impl ShardHandler for BroadcastEcho {
    fn on_datagram(
        &mut self,
        meta: &RecvMeta,
        data: &[u8],
        out: &mut [u8],
        _now: SystemTime,
    ) -> Option<SendMeta> {
        out.get_mut(..data.len())?.copy_from_slice(data);
        Some(SendMeta {
            dst: SocketAddrV4::new(Ipv4Addr::BROADCAST, meta.src.port()),
            src_ip: Some(meta.local),
            ifindex: Some(meta.ifindex),
            len: data.len(),
        })
    }
}

#[test]
fn runtime_answers_broadcasts_by_broadcast_on_the_arrival_link() {
    let Some(pair) =
        namespaces_or_skip("runtime_answers_broadcasts_by_broadcast_on_the_arrival_link")
    else {
        return;
    };
    let (shards, server_port, client_port) = (2usize, 20_067u16, 20_068u16);
    let sockets = NamespacePair::run_in(&pair.server_ns, move || {
        bind_shard_sockets(
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, server_port),
            shards,
            None,
        )
        .expect("bind shard sockets in the namespace")
    });
    let cfg = RuntimeConfig {
        shards,
        pin_cores: false,
        tick: Duration::from_millis(10),
        ..RuntimeConfig::default()
    };
    let runtime = start(cfg, sockets, |_| BroadcastEcho).expect("start");
    let client = pair.client_socket(client_port);
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");

    let total = 40u32;
    let clients = macs(total, 9);
    for (seq, mac) in clients.iter().enumerate() {
        client
            .send_to(
                &dhcp_datagram(seq as u32, *mac),
                SocketAddrV4::new(Ipv4Addr::BROADCAST, server_port),
            )
            .expect("send broadcast");
    }
    let mut replies = HashMap::new();
    let mut buf = [0u8; 2048];
    for _ in 0..total {
        let (n, from) = client
            .recv_from(&mut buf)
            .expect("broadcast reply within 2 s");
        assert_eq!(
            from,
            std::net::SocketAddr::V4(SocketAddrV4::new(SERVER_IP, server_port)),
            "the reply leaves from the arrival interface's address"
        );
        let (seq, mac) = seq_and_mac(&buf[..n]);
        assert_eq!(&buf[..n], dhcp_datagram(seq, mac).as_slice());
        *replies.entry(seq).or_insert(0) += 1;
    }
    assert_eq!(replies.len(), total as usize, "one reply per request");

    // Each broadcast was also offered to the other shard, whose filter rejected it; the kernel
    // counts that rejection as a socket drop (read every tick), which the overflow estimate
    // must subtract.
    let deadline = Instant::now() + Duration::from_secs(2);
    let counters = loop {
        let c = runtime.counters();
        let sent: u64 = c.iter().map(|s| s.sent).sum();
        let kernel_drops: u64 = c.iter().map(|s| s.kernel_drops).sum();
        if (sent >= u64::from(total) && kernel_drops >= u64::from(total))
            || Instant::now() > deadline
        {
            break c;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let kernel_drops: u64 = counters.iter().map(|c| c.kernel_drops).sum();
    assert_eq!(
        kernel_drops,
        u64::from(total),
        "one filtered copy per broadcast"
    );
    assert!(
        counters.iter().all(|c| c.dropped_queue_overflow == 0),
        "{counters:?}"
    );
    let received: u64 = counters.iter().map(|c| c.received).sum();
    let broadcasts: u64 = counters.iter().map(|c| c.broadcasts_received).sum();
    assert_eq!(received, u64::from(total));
    assert_eq!(broadcasts, u64::from(total));
    runtime.shutdown();
    runtime.join().expect("clean stop");
    drop(pair);
}
