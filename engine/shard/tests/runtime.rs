//! The runtime end to end on loopback: an echo handler behind `start`, real sockets.

mod common;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::{dhcp_datagram, free_port, macs, seq_and_mac};
use corelease_shard::{
    bind_shard_sockets, shard_of_chaddr, start, RecvMeta, RuntimeConfig, RuntimeError, SendMeta,
    ShardHandler,
};

/// Observations shared between the shards' handlers and the test thread.
#[derive(Default)]
struct Shared {
    /// Datagrams whose batch ended (on_batch_end ran), all shards together.
    committed: AtomicU64,
    ticks: AtomicU64,
    /// Length of the longest datagram a handler was given.
    longest: AtomicU64,
    /// Bit i set when a handler was built for shard i on a thread named after a shard.
    built_on_shard_thread: AtomicU64,
}

/// Replies with the request's bytes, prefixed by the shard index, to the sender.
struct Echo {
    shard: usize,
    in_batch: u64,
    shared: Arc<Shared>,
}

impl ShardHandler for Echo {
    fn on_datagram(
        &mut self,
        meta: &RecvMeta,
        data: &[u8],
        out: &mut [u8],
        _now: SystemTime,
    ) -> Option<SendMeta> {
        self.shared
            .longest
            .fetch_max(data.len() as u64, Ordering::SeqCst);
        let len = data.len() + 1;
        out.get_mut(1..len)?.copy_from_slice(data);
        *out.first_mut()? = self.shard as u8;
        self.in_batch += 1;
        Some(SendMeta {
            dst: meta.src,
            src_ip: Some(meta.local),
            ifindex: None,
            len,
        })
    }

    fn on_batch_end(&mut self, _now: SystemTime) {
        self.shared
            .committed
            .fetch_add(self.in_batch, Ordering::SeqCst);
        self.in_batch = 0;
    }

    fn on_tick(&mut self, _now: SystemTime) {
        self.shared.ticks.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `counters` until `done` holds or 2 s pass (counters are published right after each
/// batch's replies are sent, so a reply can overtake its count).
fn settled_counters(
    runtime: &corelease_shard::Runtime,
    done: impl Fn(&[corelease_shard::ShardCountersSnapshot]) -> bool,
) -> Vec<corelease_shard::ShardCountersSnapshot> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let counters = runtime.counters();
        if done(&counters) || Instant::now() >= deadline {
            return counters;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn echo_runtime(shards: usize) -> (SocketAddrV4, corelease_shard::Runtime, Arc<Shared>) {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, free_port());
    let sockets = bind_shard_sockets(addr, shards, None).expect("bind shard sockets");
    let shared = Arc::new(Shared::default());
    let for_shards = Arc::clone(&shared);
    let cfg = RuntimeConfig {
        shards,
        pin_cores: true,
        batch: 32,
        tick: Duration::from_millis(10),
        queue_size: 0,
    };
    let runtime = start(cfg, sockets, move |shard| {
        let on_shard_thread = std::thread::current()
            .name()
            .is_some_and(|name| name.starts_with(&format!("shard{shard}")));
        if on_shard_thread {
            for_shards
                .built_on_shard_thread
                .fetch_or(1 << shard, Ordering::SeqCst);
        }
        Echo {
            shard,
            in_batch: 0,
            shared: Arc::clone(&for_shards),
        }
    })
    .expect("start runtime");
    (addr, runtime, shared)
}

#[test]
fn echo_replies_arrive_from_the_owning_shard_and_counters_match() {
    let shards = 2;
    let (addr, runtime, shared) = echo_runtime(shards);
    assert_eq!(shared.built_on_shard_thread.load(Ordering::SeqCst), 0b11);

    let client = UdpSocket::bind("127.0.0.1:0").expect("bind client");
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let clients = macs(100, 3);
    let total = 500u32;
    let mut expected_per_shard = [0u64; 2];
    let mut replies = HashMap::new();
    let mut buf = [0u8; 2048];
    // Windows of 50 requests: never more in flight than any buffer holds.
    for window in 0..total / 50 {
        for seq in window * 50..(window + 1) * 50 {
            let mac = clients[(seq % 100) as usize];
            expected_per_shard[shard_of_chaddr(&mac, shards)] += 1;
            client
                .send_to(&dhcp_datagram(seq, mac), addr)
                .expect("send request");
        }
        for _ in 0..50 {
            let (n, from) = client.recv_from(&mut buf).expect("reply within 2 s");
            assert_eq!(
                from,
                std::net::SocketAddr::V4(addr),
                "reply comes from the server address"
            );
            let reply = buf[..n].to_vec();
            // Replies leave only after on_batch_end of their batch (lease-log commit point).
            let received_so_far = replies.len() as u64 + 1;
            assert!(shared.committed.load(Ordering::SeqCst) >= received_so_far);
            let (seq, _) = seq_and_mac(&reply[1..]);
            replies.insert(seq, reply);
        }
    }

    assert_eq!(replies.len(), total as usize);
    for (seq, reply) in &replies {
        let mac = clients[(*seq % 100) as usize];
        assert_eq!(
            reply[0] as usize,
            shard_of_chaddr(&mac, shards),
            "answered by the owner"
        );
        assert_eq!(
            &reply[1..],
            dhcp_datagram(*seq, mac).as_slice(),
            "echo is byte-exact"
        );
    }

    // Ticks run while idle, too (bounded wait).
    let deadline = Instant::now() + Duration::from_secs(2);
    while shared.ticks.load(Ordering::SeqCst) < 2 * shards as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(shared.ticks.load(Ordering::SeqCst) >= 2 * shards as u64);

    let counters = settled_counters(&runtime, |c| {
        c.iter().map(|s| s.sent).sum::<u64>() >= u64::from(total)
    });
    assert_eq!(counters.len(), shards);
    for (shard, c) in counters.iter().enumerate() {
        assert_eq!(
            c.received, expected_per_shard[shard],
            "shard {shard} received"
        );
        assert_eq!(c.sent, expected_per_shard[shard], "shard {shard} sent");
        assert_eq!(c.send_errors, 0);
        assert_eq!(c.truncated, 0);
        assert_eq!(
            c.broadcasts_received, 0,
            "loopback unicast is not a broadcast"
        );
        assert_eq!(c.dropped_queue_overflow, 0);
        assert!(c.batches >= 1 && c.batches <= c.received);
    }
    // Every reply's time in the server (kernel arrival to send) lands in its shard's latency
    // histogram, published every tick.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut latency = runtime.latency();
    while latency.iter().map(|h| h.len()).sum::<u64>() < u64::from(total)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
        latency = runtime.latency();
    }
    for (shard, histogram) in latency.iter().enumerate() {
        assert_eq!(
            histogram.len(),
            expected_per_shard[shard],
            "shard {shard} latency samples"
        );
        assert!(
            histogram.min() >= 1 && histogram.max() < 10_000_000,
            "plausible µs values"
        );
    }
    runtime.shutdown();
    runtime.join().expect("shards stop cleanly");
}

#[test]
fn oversized_datagram_is_handled_on_its_first_1500_bytes_and_counted_as_truncated() {
    let (addr, runtime, shared) = echo_runtime(1);
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind client");
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut big = dhcp_datagram(1, [2, 0, 0, 0, 0, 1]);
    big.resize(3000, 0xab);
    client.send_to(&big, addr).expect("send big");
    // The echo of its first RECEIVE_CAPACITY bytes comes back, as Kea parses the first 1500.
    let mut buf = [0u8; 4096];
    let n = client.recv(&mut buf).expect("reply");
    assert_eq!(n, 1 + corelease_shard::RECEIVE_CAPACITY);
    assert_eq!(&buf[1..n], &big[..corelease_shard::RECEIVE_CAPACITY]);
    let c = settled_counters(&runtime, |c| c.iter().all(|s| s.sent >= 1))[0];
    assert_eq!(c.truncated, 1);
    assert_eq!(c.received, 1);
    assert_eq!(
        shared.longest.load(Ordering::SeqCst),
        corelease_shard::RECEIVE_CAPACITY as u64
    );
    drop(runtime); // dropping stops and joins the shards
}

#[test]
fn start_refuses_a_socket_count_that_differs_from_the_shard_count() {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, free_port());
    let sockets = bind_shard_sockets(addr, 2, None).expect("bind");
    let cfg = RuntimeConfig {
        shards: 3,
        ..RuntimeConfig::default()
    };
    let err = match start(cfg, sockets, |_| NoReply) {
        Ok(_) => panic!("started with 2 sockets for 3 shards"),
        Err(err) => err,
    };
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<RuntimeError>())
        .expect("a RuntimeError inside");
    assert!(matches!(
        inner,
        RuntimeError::ShardCountMismatch {
            configured: 3,
            sockets: 2
        }
    ));
}

#[test]
fn a_panicking_handler_factory_fails_start_with_the_shard_named() {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, free_port());
    let sockets = bind_shard_sockets(addr, 2, None).expect("bind");
    let cfg = RuntimeConfig {
        shards: 2,
        ..RuntimeConfig::default()
    };
    let result = start(cfg, sockets, |shard| {
        if shard == 1 {
            panic!("test: handler for shard 1 cannot be built");
        }
        NoReply
    });
    let err = match result {
        Ok(_) => panic!("started although shard 1 failed"),
        Err(err) => err,
    };
    assert!(err.to_string().contains("shard 1"), "{err}");
}

struct NoReply;

/// Stalls the shard once, in its first datagram, so the kernel queue overflows meanwhile.
struct StallOnce {
    stalled: bool,
}

impl ShardHandler for StallOnce {
    fn on_datagram(
        &mut self,
        _: &RecvMeta,
        _: &[u8],
        _: &mut [u8],
        _: SystemTime,
    ) -> Option<SendMeta> {
        if !self.stalled {
            self.stalled = true;
            std::thread::sleep(Duration::from_millis(500));
        }
        None
    }
}

#[test]
fn overflow_of_a_small_queue_is_counted_as_dropped() {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, free_port());
    let sockets = bind_shard_sockets(addr, 1, None).expect("bind");
    let cfg = RuntimeConfig {
        shards: 1,
        pin_cores: false,
        batch: 1,
        tick: Duration::from_millis(10),
        queue_size: 16,
    };
    let runtime = start(cfg, sockets, |_| StallOnce { stalled: false }).expect("start");
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind client");
    let total = 2_000u64;
    for seq in 0..total {
        client
            .send_to(&dhcp_datagram(seq as u32, [2, 0, 0, 0, 0, 1]), addr)
            .expect("send");
    }
    // Everything sent is either handled or dropped by the kernel, and the counters say which.
    let counters = settled_counters(&runtime, |c| {
        c[0].received + c[0].dropped_queue_overflow >= total
    });
    let c = counters[0];
    assert_eq!(c.received + c.dropped_queue_overflow, total, "{c:?}");
    assert!(
        c.dropped_queue_overflow > 0,
        "a 16-datagram queue overflowed: {c:?}"
    );
    assert!(
        c.received >= 16,
        "the queue held at least queue_size datagrams: {c:?}"
    );
}

impl ShardHandler for NoReply {
    fn on_datagram(
        &mut self,
        _: &RecvMeta,
        _: &[u8],
        _: &mut [u8],
        _: SystemTime,
    ) -> Option<SendMeta> {
        None
    }
}

/// Counts `on_wake` calls per shard.
struct WakeCounter {
    shard: usize,
    wakes: Arc<[AtomicU64; 2]>,
}

impl ShardHandler for WakeCounter {
    fn on_datagram(
        &mut self,
        _: &RecvMeta,
        _: &[u8],
        _: &mut [u8],
        _: SystemTime,
    ) -> Option<SendMeta> {
        None
    }

    fn on_wake(&mut self, _now: SystemTime) {
        self.wakes[self.shard].fetch_add(1, Ordering::SeqCst);
    }

    /// Marks the shutdown with a large step so the test can tell it from wakes.
    fn on_shutdown(&mut self, _now: SystemTime) {
        self.wakes[self.shard].fetch_add(1000, Ordering::SeqCst);
    }
}

fn wait_until(condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !condition() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    condition()
}

#[test]
fn waker_makes_only_its_idle_shard_call_on_wake_and_every_shard_gets_on_shutdown() {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, free_port());
    let sockets = bind_shard_sockets(addr, 2, None).expect("bind");
    let wakes: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let for_shards = Arc::clone(&wakes);
    let cfg = RuntimeConfig {
        shards: 2,
        pin_cores: false,
        tick: Duration::from_secs(60),
        ..RuntimeConfig::default()
    };
    let runtime = start(cfg, sockets, move |shard| WakeCounter {
        shard,
        wakes: Arc::clone(&for_shards),
    })
    .expect("start");
    assert!(runtime.waker(2).is_none(), "there is no shard 2");
    let waker = runtime.waker(1).expect("shard 1");

    waker.wake();
    assert!(wait_until(|| wakes[1].load(Ordering::SeqCst) == 1));
    // A second wake after the first was handled is a second call.
    waker.wake();
    assert!(wait_until(|| wakes[1].load(Ordering::SeqCst) == 2));
    assert_eq!(
        wakes[0].load(Ordering::SeqCst),
        0,
        "shard 0 was never woken"
    );
    runtime.shutdown();
    runtime.join().expect("clean stop");
    assert_eq!(
        wakes[1].load(Ordering::SeqCst),
        1002,
        "no spurious on_wake, one on_shutdown"
    );
    assert_eq!(wakes[0].load(Ordering::SeqCst), 1000, "one on_shutdown");
}

/// Answers nothing in on_datagram; keeps every request and answers it only after the waker it
/// was given is used from another thread (as a finished hook script does), through
/// `pending_replies`.
struct Deferred {
    held: Vec<(SocketAddrV4, Vec<u8>)>,
    released: Arc<std::sync::atomic::AtomicBool>,
    waker_out: Arc<std::sync::Mutex<Option<corelease_shard::ShardWaker>>>,
    received: Arc<AtomicU64>,
}

impl ShardHandler for Deferred {
    fn on_datagram(
        &mut self,
        meta: &RecvMeta,
        data: &[u8],
        _: &mut [u8],
        _: SystemTime,
    ) -> Option<SendMeta> {
        self.held.push((meta.src, data.to_vec()));
        self.received.fetch_add(1, Ordering::SeqCst);
        None
    }

    fn attach_waker(&mut self, waker: corelease_shard::ShardWaker) {
        if let Ok(mut slot) = self.waker_out.lock() {
            *slot = Some(waker);
        }
    }

    fn pending_replies(&mut self, out: &mut corelease_shard::SendBatch, _: SystemTime) -> bool {
        if !self.released.load(Ordering::SeqCst) {
            return false;
        }
        while let Some((dst, data)) = self.held.first().cloned() {
            let Some(buf) = out.next_buffer() else {
                return true;
            };
            buf[..data.len()].copy_from_slice(&data);
            let meta = SendMeta {
                dst,
                src_ip: None,
                ifindex: None,
                len: data.len(),
            };
            if out.commit(&meta).is_err() {
                return true;
            }
            self.held.remove(0);
        }
        false
    }
}

#[test]
fn replies_queued_outside_on_datagram_are_sent_after_a_wake_even_beyond_one_batch() {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, free_port());
    let sockets = bind_shard_sockets(addr, 1, None).expect("bind");
    let released = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let waker_slot = Arc::new(std::sync::Mutex::new(None));
    let received = Arc::new(AtomicU64::new(0));
    let cfg = RuntimeConfig {
        shards: 1,
        pin_cores: false,
        // Two reply slots for five held requests: pending_replies must be called again.
        batch: 2,
        tick: Duration::from_secs(60),
        ..RuntimeConfig::default()
    };
    let (r, w, n) = (
        Arc::clone(&released),
        Arc::clone(&waker_slot),
        Arc::clone(&received),
    );
    let runtime = start(cfg, sockets, move |_| Deferred {
        held: Vec::new(),
        released: Arc::clone(&r),
        waker_out: Arc::clone(&w),
        received: Arc::clone(&n),
    })
    .expect("start");
    let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("client");
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    for i in 0..5u32 {
        client
            .send_to(&dhcp_datagram(i, [2, 0, 0, 0, 0, 1]), addr)
            .expect("send");
    }
    assert!(wait_until(|| received.load(Ordering::SeqCst) == 5));
    let mut buf = [0u8; 2048];
    assert!(
        client.recv_from(&mut buf).is_err(),
        "nothing is sent before the work finishes"
    );
    let waker = waker_slot
        .lock()
        .expect("lock")
        .clone()
        .expect("attach_waker ran before the first datagram");
    released.store(true, Ordering::SeqCst);
    std::thread::spawn(move || waker.wake())
        .join()
        .expect("waking thread");
    let mut got = Vec::new();
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    while got.len() < 5 {
        match client.recv_from(&mut buf) {
            Ok((n, _)) => got.push(seq_and_mac(&buf[..n]).0),
            Err(e) => panic!("only {got:?} arrived: {e}"),
        }
    }
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3, 4]);
    let c = settled_counters(&runtime, |c| c.first().is_some_and(|c| c.sent == 5));
    assert_eq!(c.first().map(|c| (c.sent, c.send_errors)), Some((5, 0)));
    runtime.shutdown();
    runtime.join().expect("clean stop");
}
