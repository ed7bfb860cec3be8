//! The IPv6 runtime: datagrams a shard receives for a client another shard owns are handed to
//! the owner through its queue and answered by the owner, exactly once, with the arrival
//! metadata (`IPV6_PKTINFO`) intact. On loopback (::1) only.

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use corelease_shard::{
    bind_shard_sockets6, start6, RecvMeta6, RuntimeConfig, SendMeta6, ShardHandler, Steer, V6,
};

/// Owner of a test datagram: its first byte modulo the shard count, standing in for
/// `owner_shard(client_duid)`.
fn owner(data: &[u8], shards: usize) -> usize {
    usize::from(data.first().copied().unwrap_or(0)) % shards
}

/// Echoes `[answering shard, received dst == ::1, payload...]` back to the sender.
struct Echo6 {
    shard: usize,
    shards: usize,
}

impl ShardHandler<V6> for Echo6 {
    fn steer(&mut self, _meta: &RecvMeta6, data: &[u8]) -> Steer {
        Steer::Shard(owner(data, self.shards))
    }

    fn on_datagram(
        &mut self,
        meta: &RecvMeta6,
        data: &[u8],
        out: &mut [u8],
        _now: SystemTime,
    ) -> Option<SendMeta6> {
        let len = data.len() + 2;
        let reply = out.get_mut(..len)?;
        reply[0] = u8::try_from(self.shard).ok()?;
        reply[1] = u8::from(meta.dst == Ipv6Addr::LOCALHOST && meta.ifindex != 0);
        reply[2..].copy_from_slice(data);
        Some(SendMeta6 {
            dst: meta.src,
            src_ip: Some(meta.dst),
            ifindex: Some(meta.ifindex),
            len,
        })
    }
}

fn free_port6() -> u16 {
    let probe = UdpSocket::bind("[::1]:0").expect("bind a probe socket on ::1");
    probe.local_addr().expect("probe address").port()
}

#[test]
fn handed_off_datagrams_are_answered_once_by_their_owner() {
    // glommio needs locked memory; without enough of it the runtime says so.
    let shards = 2;
    let port = free_port6();
    let addr = SocketAddrV6::new(Ipv6Addr::LOCALHOST, port, 0, 0);
    let sockets = bind_shard_sockets6(addr, shards, None, &[]).expect("bind the v6 group");
    let cfg = RuntimeConfig {
        shards,
        pin_cores: false,
        tick: Duration::from_millis(20),
        ..RuntimeConfig::default()
    };
    let mut runtime = match start6(cfg, sockets, move |shard| Echo6 { shard, shards }) {
        Ok(rt) => rt,
        Err(e) if e.to_string().contains("locked-memory") => {
            eprintln!("skipped: {e} (run with ulimit -l 8192)");
            return;
        }
        Err(e) => panic!("start6: {e}"),
    };

    let client = UdpSocket::bind("[::1]:0").expect("bind the client");
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let total: u16 = 200;
    let mut answered = vec![0u32; usize::from(total)];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 64];
    // Sent in rounds of 20 so the socket buffers never overflow; each round is awaited.
    for round in 0..(total / 20) {
        for i in round * 20..(round + 1) * 20 {
            let payload = [(i % 256) as u8, (i / 256) as u8, 0xab];
            client
                .send_to(&payload, SocketAddr::V6(addr))
                .expect("send");
        }
        let mut got = 0;
        while got < 20 && Instant::now() < deadline {
            let Ok((n, _)) = client.recv_from(&mut buf) else {
                continue;
            };
            assert_eq!(n, 5, "reply length");
            let i = usize::from(buf[2]) + 256 * usize::from(buf[3]);
            assert_eq!(
                usize::from(buf[0]),
                owner(&buf[2..], shards),
                "datagram {i} answered by a shard that does not own it"
            );
            assert_eq!(
                buf[1], 1,
                "IPV6_PKTINFO destination and interface reach the owner"
            );
            answered[i] += 1;
            got += 1;
        }
    }
    runtime.stop().expect("stop");
    assert!(
        answered.iter().all(|n| *n == 1),
        "every datagram answered exactly once: {answered:?}"
    );
    let counters = runtime.counters();
    let handed: u64 = counters.iter().map(|c| c.handed_off).sum();
    let received_handoffs: u64 = counters.iter().map(|c| c.handoffs_received).sum();
    assert_eq!(handed, received_handoffs);
    // One client socket lands on one shard socket (4-tuple hash), so half of the datagrams
    // belong to the other shard.
    assert_eq!(handed, u64::from(total) / 2);
    assert_eq!(counters.iter().map(|c| c.handoff_dropped).sum::<u64>(), 0);
    assert_eq!(
        counters.iter().map(|c| c.received).sum::<u64>(),
        u64::from(total)
    );
}
