//! A stateless DHCPv4 "server" that is never the bottleneck: it answers every relayed
//! DISCOVER with an OFFER and every REQUEST with an ACK, deriving the address from the
//! client's MAC, with no lease table. It exists to measure load generators (corelease perf
//! against perfdhcp) at rates no real server reaches.
//!
//! Usage: reflector ADDRESS:PORT SECONDS   (replies go to giaddr:67, as Kea's do)
//! It stops by itself after SECONDS (at most 600).

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

fn answer(request: &[u8], out: &mut [u8; 300], server: Ipv4Addr) -> Option<(usize, Ipv4Addr)> {
    let header = request.get(..240)?;
    if header.first() != Some(&1) || header.get(236..240) != Some(&[99, 130, 83, 99][..]) {
        return None;
    }
    // Message type is the first option perfdhcp and corelease perf write.
    let kind = match request.get(240..243)? {
        [53, 1, 1] => 2u8, // DISCOVER -> OFFER
        [53, 1, 3] => 5u8, // REQUEST -> ACK
        _ => return None,
    };
    let giaddr = Ipv4Addr::new(header[24], header[25], header[26], header[27]);
    out.fill(0);
    out[..236].copy_from_slice(&header[..236]);
    out[0] = 2;
    let yiaddr = [10, header[31], header[32], header[33]];
    out[16..20].copy_from_slice(&yiaddr);
    out[236..240].copy_from_slice(&[99, 130, 83, 99]);
    let s = server.octets();
    let options = [
        53, 1, kind, 54, 4, s[0], s[1], s[2], s[3], 51, 4, 0, 0, 0x0f, 0xa0, 255,
    ];
    out[240..240 + options.len()].copy_from_slice(&options);
    Some((240 + options.len(), giaddr))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let listen: SocketAddrV4 = match args.next().and_then(|a| a.parse().ok()) {
        Some(a) => a,
        None => {
            eprintln!("usage: reflector ADDRESS:PORT SECONDS");
            std::process::exit(2);
        }
    };
    let seconds: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(30)
        .min(600);
    let socket = match UdpSocket::bind(listen) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot bind {listen}: {e}");
            std::process::exit(1);
        }
    };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut buf = [0u8; 1500];
    let mut out = [0u8; 300];
    let mut answered: u64 = 0;
    while Instant::now() < deadline {
        let Ok((len, _from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        if let Some((reply_len, giaddr)) = answer(&buf[..len], &mut out, *listen.ip()) {
            if socket
                .send_to(&out[..reply_len], SocketAddrV4::new(giaddr, 67))
                .is_ok()
            {
                answered += 1;
            }
        }
    }
    eprintln!("reflector answered {answered} requests");
}
