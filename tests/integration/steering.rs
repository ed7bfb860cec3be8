//! DESIGN.md "Steering": with N shards, a broadcast DISCOVER (which the kernel copies to every
//! socket of the reuseport group) is answered exactly once, by the shard its chaddr hashes to.

use crate::support::*;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const CONFIG: &str = r#"{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "vstr0" ] },
    "lease-database": { "type": "memfile", "persist": false },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 4 },
    
    "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.10 - 192.0.2.250" } ] } ]
} }"#;

/// Moves the calling thread into namespace `name` (setns affects only this thread).
fn enter_netns(name: &str) {
    let f = std::fs::File::open(format!("/var/run/netns/{name}")).expect("netns handle");
    // SAFETY: setns on a valid namespace fd, for this thread only.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
}

fn discover(i: u16) -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&(0x5e00_0000u32 | u32::from(i)).to_be_bytes());
    p[10] = 0x80; // broadcast flag: the reply comes back by broadcast
    let mac = [
        0x02,
        0x5e,
        (i >> 8) as u8,
        i as u8,
        (i.wrapping_mul(7)) as u8,
        0x11,
    ];
    p[28..34].copy_from_slice(&mac);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(&[53, 1, 1, 255]);
    p
}

#[test]
fn broadcast_discovers_are_answered_exactly_once_by_four_shards() {
    let _g = serial();
    let srv = NetNs::new("strs");
    let cli = NetNs::new("strc");
    veth(&srv, "vstr0", "192.0.2.1/24", &cli, "vstr1");
    cli.ip(&["addr", "add", "192.0.2.2/24", "dev", "vstr1"]);
    let dir = TempDir::new("steer");
    let cfg = dir.file("kea-dhcp4.json", CONFIG);
    let server = Server::start(
        &srv,
        &["-c", &cfg.to_string_lossy(), "-p", "1067", "-P", "1068"],
        &[],
    );
    const N: u16 = 200;
    let ns = cli.name.clone();
    let counts = std::thread::spawn(move || {
        enter_netns(&ns);
        let sock = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 1068))
            .expect("bind client port");
        sock.set_broadcast(true).unwrap();
        // A broadcast leaves through the bound device (the namespace has no default route).
        let dev = b"vstr1";
        // SAFETY: setsockopt with a byte buffer and its length on a socket we own.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                dev.as_ptr().cast(),
                dev.len() as libc::socklen_t,
            )
        };
        assert_eq!(
            rc,
            0,
            "SO_BINDTODEVICE: {}",
            std::io::Error::last_os_error()
        );
        // Room for every OFFER: they are read only after all DISCOVERs are out.
        let size: libc::c_int = 8 << 20;
        // SAFETY: setsockopt with an int on a socket we own (SO_RCVBUFFORCE: we are root).
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut offers: HashMap<u32, u32> = HashMap::new();
        let mut buf = [0u8; 1500];
        for i in 0..N {
            sock.send_to(&discover(i), SocketAddrV4::new(Ipv4Addr::BROADCAST, 1067))
                .unwrap();
            // Paced, so the test measures steering, not queue overflow.
            if i % 20 == 19 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && offers.len() < N as usize {
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if n > 240 && buf[0] == 2 {
                    let xid = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                    *offers.entry(xid).or_default() += 1;
                }
            }
        }
        // Late duplicates would arrive within this grace period.
        let grace = Instant::now() + Duration::from_millis(500);
        while Instant::now() < grace {
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if n > 240 && buf[0] == 2 {
                    let xid = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                    *offers.entry(xid).or_default() += 1;
                }
            }
        }
        offers
    })
    .join()
    .expect("client thread");
    let out = server.stop();
    let dup: Vec<_> = counts.iter().filter(|(_, &c)| c > 1).collect();
    assert!(dup.is_empty(), "answered more than once: {dup:?}");
    assert!(
        counts.len() >= (N as usize * 98) / 100,
        "only {} of {N} DISCOVERs answered:\n{out}",
        counts.len()
    );
    // Had the socket filters let copies through, each DISCOVER would count up to four times.
    let received = shutdown_stat(&out, "pkt4-discover-received");
    assert!(
        received <= N as i64 && received >= counts.len() as i64,
        "{received} DISCOVERs counted for {N} sent:\n{out}"
    );
    assert_eq!(shutdown_stat(&out, "pkt4-offer-sent"), received, "{out}");
}
