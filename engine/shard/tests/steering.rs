//! Real-socket tests of kernel steering on loopback: the reuseport program and the per-socket
//! filter must name the same shard as `shard_of_chaddr`.

mod common;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use common::{dhcp_datagram, free_port, macs, seq_and_mac, DATAGRAM_LEN};
use corelease_shard::{attach_shard_socket_filter, bind_shard_sockets, shard_of_chaddr};

/// Drains every socket (non-blocking) until `expected` datagrams arrived or 5 s passed; returns
/// (socket index, datagram) pairs.
fn drain(sockets: &[UdpSocket], expected: usize) -> Vec<(usize, Vec<u8>)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while got.len() < expected && Instant::now() < deadline {
        let mut idle = true;
        for (index, socket) in sockets.iter().enumerate() {
            while let Ok(n) = socket.recv(&mut buf) {
                got.push((index, buf[..n].to_vec()));
                idle = false;
            }
        }
        if idle {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    got
}

#[test]
fn reuseport_steers_each_chaddr_to_the_shard_named_by_shard_of_chaddr() {
    let shards = 4;
    let port = free_port();
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let sockets = bind_shard_sockets(addr, shards, None).expect("bind shard sockets");
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind client");

    let clients = macs(200, 1);
    let total = 2_000u32;
    let mut sent_to = HashMap::new();
    let mut received: Vec<(usize, Vec<u8>)> = Vec::new();
    for seq in 0..total {
        let mac = clients[(seq % 200) as usize];
        client
            .send_to(&dhcp_datagram(seq, mac), addr)
            .expect("send datagram");
        sent_to.insert(seq, mac);
        // Drain every 250 datagrams so no receive buffer can overflow.
        if seq % 250 == 249 {
            received.extend(drain(&sockets, 250));
        }
    }

    assert_eq!(
        received.len(),
        total as usize,
        "every datagram arrives once"
    );
    let mut per_shard = [0usize; 4];
    let mut mis_steered = 0;
    for (index, datagram) in &received {
        assert_eq!(datagram.len(), DATAGRAM_LEN);
        let (seq, mac) = seq_and_mac(datagram);
        assert_eq!(sent_to.get(&seq), Some(&mac));
        if shard_of_chaddr(&mac, shards) != *index {
            mis_steered += 1;
        }
        per_shard[*index] += 1;
    }
    assert_eq!(mis_steered, 0, "datagrams delivered to a foreign shard");
    assert!(
        per_shard.iter().all(|n| *n > 0),
        "every shard gets clients: {per_shard:?}"
    );
}

#[test]
fn socket_filter_keeps_only_datagrams_of_its_own_shard() {
    // A single plain socket carrying the filter of shard 1 of 3: pins the filter's offsets
    // (UDP header first) independently of reuseport selection.
    let (shards, index) = (3, 1);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    attach_shard_socket_filter(&socket, shards, index).expect("attach filter");
    socket.set_nonblocking(true).expect("nonblocking");
    let addr = socket.local_addr().expect("address");
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind client");

    let clients = macs(300, 2);
    let own: Vec<u32> = (0u32..300)
        .filter(|seq| shard_of_chaddr(&clients[*seq as usize], shards) == index)
        .collect();
    for (seq, mac) in clients.iter().enumerate() {
        client
            .send_to(&dhcp_datagram(seq as u32, *mac), addr)
            .expect("send");
    }
    // A datagram too short to hold chaddr must be dropped, not passed.
    client.send_to(&[1u8; 20], addr).expect("send short");

    let received = drain(std::slice::from_ref(&socket), own.len());
    let mut seqs: Vec<u32> = received.iter().map(|(_, d)| seq_and_mac(d).0).collect();
    seqs.sort_unstable();
    assert!(!own.is_empty());
    assert_eq!(seqs, own);
    // Nothing else is queued: neither foreign clients nor the short datagram.
    std::thread::sleep(Duration::from_millis(50));
    let mut buf = [0u8; 2048];
    assert!(
        socket.recv(&mut buf).is_err(),
        "an unexpected datagram passed"
    );
}

#[test]
fn bind_shard_sockets_rejects_zero_shards() {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, free_port());
    let err = bind_shard_sockets(addr, 0, None).expect_err("zero shards");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn binding_to_a_missing_interface_names_the_interface_and_the_shard() {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, free_port());
    let err = bind_shard_sockets(addr, 2, Some("nosuchif0")).expect_err("no such interface");
    let text = err.to_string();
    assert!(text.contains("shard socket 0"), "{text}");
    assert!(text.contains("\"nosuchif0\""), "{text}");
}

#[test]
fn binding_a_port_held_by_a_non_reuseport_socket_explains_address_in_use() {
    let holder = UdpSocket::bind("127.0.0.1:0").expect("bind holder");
    let std::net::SocketAddr::V4(addr) = holder.local_addr().expect("addr") else {
        panic!("IPv4 expected");
    };
    let err = bind_shard_sockets(addr, 2, None).expect_err("port taken");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    let text = err.to_string();
    assert!(text.contains(&addr.to_string()), "{text}");
    assert!(text.contains("another DHCP server"), "{text}");
}
