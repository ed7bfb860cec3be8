//! Hostile traffic through the real binary (issue 9): a DHCPDISCOVER flood from random MACs
//! that exhausts a small pool, requests for another client's address, REQUESTs naming a
//! forged server identifier, RELEASE / DECLINE of another client's lease, forged giaddr,
//! truncated and oversized datagrams (read up to 1500 bytes, as Kea) and option overload
//! tricks. What RFC 2131 and the Kea ARM say the server must do it does; everything
//! else is dropped and counted in Kea's statistics. After all of it the server still answers
//! a normal client, and the lease store holds exactly the leases the real clients got.
//!
//! The test plays DHCP relays on the namespace's loopback (127.0.0.2 and 127.0.0.3, port 67)
//! from sockets created by a thread that joined the namespace; the server listens on
//! 127.0.0.1:6767. Every loop is bounded in count and time.

use crate::support::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CONFIG: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "lo/127.0.0.1" ], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES" },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2 },
    "valid-lifetime": 4000, "renew-timer": 1000, "rebind-timer": 2000,
    "control-socket": { "socket-type": "unix", "socket-name": "SOCKET" },
    "subnet4": [
      { "id": 7, "subnet": "100.64.0.0/24", "relay": { "ip-addresses": [ "127.0.0.2" ] },
        "pools": [ { "pool": "100.64.0.10 - 100.64.0.29" } ] },
      { "id": 8, "subnet": "10.99.0.0/24", "relay": { "ip-addresses": [ "127.0.0.3" ] },
        "pools": [ { "pool": "10.99.0.10 - 10.99.0.19" } ] }
    ]
  }
}"#;

/// Addresses in subnet 7's pool.
const POOL_SIZE: usize = 20;
const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 6767);
pub(crate) const RELAY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const OTHER_RELAY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
/// A relay address in no subnet and no relay list.
const STRAY_RELAY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);
pub(crate) const SERVER_ID: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
/// How long a reply may take before the test counts it as not sent.
const REPLY_WAIT: Duration = Duration::from_millis(700);

pub(crate) const DISCOVER: u8 = 1;
pub(crate) const OFFER: u8 = 2;
pub(crate) const REQUEST: u8 = 3;
const DECLINE: u8 = 4;
pub(crate) const ACK: u8 = 5;
const NAK: u8 = 6;
const RELEASE: u8 = 7;

/// A BOOTREQUEST as a relay forwards it: `giaddr` set, hops 1, the client's MAC in chaddr.
pub(crate) struct Msg {
    pub(crate) kind: u8,
    pub(crate) xid: u32,
    pub(crate) mac: [u8; 6],
    pub(crate) ciaddr: Ipv4Addr,
    pub(crate) giaddr: Ipv4Addr,
    pub(crate) requested: Option<Ipv4Addr>,
    pub(crate) server_id: Option<Ipv4Addr>,
    /// Option 51, the lease time the client asks for.
    pub(crate) lease_time: Option<u32>,
}

impl Msg {
    pub(crate) fn new(kind: u8, xid: u32, mac: [u8; 6]) -> Msg {
        Msg {
            kind,
            xid,
            mac,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: RELAY,
            requested: None,
            server_id: None,
            lease_time: None,
        }
    }

    fn header(&self) -> Vec<u8> {
        let mut p = vec![0u8; 240];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        p[3] = 1;
        p[4..8].copy_from_slice(&self.xid.to_be_bytes());
        p[12..16].copy_from_slice(&self.ciaddr.octets());
        p[24..28].copy_from_slice(&self.giaddr.octets());
        p[28..34].copy_from_slice(&self.mac);
        p[236..240].copy_from_slice(&[99, 130, 83, 99]);
        p
    }

    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut p = self.header();
        p.extend_from_slice(&[53, 1, self.kind]);
        if let Some(a) = self.requested {
            p.extend_from_slice(&[50, 4]);
            p.extend_from_slice(&a.octets());
        }
        if let Some(a) = self.server_id {
            p.extend_from_slice(&[54, 4]);
            p.extend_from_slice(&a.octets());
        }
        if let Some(t) = self.lease_time {
            p.extend_from_slice(&[51, 4]);
            p.extend_from_slice(&t.to_be_bytes());
        }
        p.push(255);
        p
    }
}

/// A decoded reply: message type, yiaddr, xid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reply {
    pub(crate) kind: u8,
    pub(crate) yiaddr: Ipv4Addr,
    pub(crate) xid: u32,
}

fn parse_reply(p: &[u8]) -> Option<Reply> {
    if p.len() < 240 || p[0] != 2 || p[236..240] != [99, 130, 83, 99] {
        return None;
    }
    let mut i = 240;
    let mut kind = 0;
    while i < p.len() {
        match p[i] {
            0 => i += 1,
            255 => break,
            code => {
                let len = usize::from(*p.get(i + 1)?);
                if code == 53 {
                    kind = *p.get(i + 2)?;
                }
                i += 2 + len;
            }
        }
    }
    Some(Reply {
        kind,
        yiaddr: Ipv4Addr::new(p[16], p[17], p[18], p[19]),
        xid: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
    })
}

/// UDP sockets bound inside `ns` (sockets belong to the namespace they were created in).
pub(crate) fn relay_sockets(ns: &NetNs, addrs: &[Ipv4Addr]) -> Vec<UdpSocket> {
    let ns_path = format!("/var/run/netns/{}", ns.name);
    std::thread::scope(|sc| {
        sc.spawn(|| {
            let f = std::fs::File::open(&ns_path).expect("netns file");
            // SAFETY: setns(2) on this thread only, with a namespace fd we opened.
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            addrs
                .iter()
                .map(|a| {
                    let s = UdpSocket::bind(SocketAddrV4::new(*a, 67))
                        .unwrap_or_else(|e| panic!("bind {a}:67: {e}"));
                    s.set_read_timeout(Some(Duration::from_millis(50)))
                        .expect("timeout");
                    s
                })
                .collect()
        })
        .join()
        .expect("setns thread")
    })
}

/// Every reply that arrives on `sock` until it has been quiet for `REPLY_WAIT` (bounded by
/// `max` replies and 20 s).
fn collect(sock: &UdpSocket, max: usize) -> Vec<Reply> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    let hard = Instant::now() + Duration::from_secs(20);
    let mut quiet_until = Instant::now() + REPLY_WAIT;
    while out.len() < max && Instant::now() < quiet_until && Instant::now() < hard {
        if let Ok(n) = sock.recv(&mut buf) {
            if let Some(r) = parse_reply(&buf[..n]) {
                out.push(r);
                quiet_until = Instant::now() + REPLY_WAIT;
            }
        }
    }
    out
}

fn send(sock: &UdpSocket, bytes: &[u8]) {
    sock.send_to(bytes, SERVER).expect("send to the server");
}

/// Sends one message and returns the reply with its xid, if one comes within `REPLY_WAIT`.
pub(crate) fn exchange(sock: &UdpSocket, msg: &Msg) -> Option<Reply> {
    send(sock, &msg.bytes());
    collect(sock, 1).into_iter().find(|r| r.xid == msg.xid)
}

/// A full DISCOVER / OFFER / REQUEST / ACK through relay 127.0.0.2; the address acknowledged.
fn dora(sock: &UdpSocket, mac: [u8; 6], xid: u32) -> Ipv4Addr {
    let offer = exchange(sock, &Msg::new(DISCOVER, xid, mac)).expect("an OFFER");
    assert_eq!(offer.kind, OFFER, "{offer:?}");
    let mut req = Msg::new(REQUEST, xid + 1, mac);
    req.requested = Some(offer.yiaddr);
    req.server_id = Some(SERVER_ID);
    let ack = exchange(sock, &req).expect("an ACK");
    assert_eq!(ack.kind, ACK, "{ack:?}");
    assert_eq!(ack.yiaddr, offer.yiaddr);
    ack.yiaddr
}

pub(crate) fn unix_command(socket: &Path, cmd: &Value) -> Value {
    let mut s =
        UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(cmd.to_string().as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// A statistic's current value over the control socket (0 when the server has none).
pub(crate) fn stat(socket: &Path, name: &str) -> i64 {
    let r = unix_command(
        socket,
        &json!({ "command": "statistic-get", "arguments": { "name": name } }),
    );
    r["arguments"][name][0][0].as_i64().unwrap_or(0)
}

/// The lease of `addr` as `lease4-get` shows it, if any.
fn lease(socket: &Path, addr: Ipv4Addr) -> Option<Value> {
    let r = unix_command(
        socket,
        &json!({ "command": "lease4-get", "arguments": { "ip-address": addr.to_string() } }),
    );
    (r["result"] == 0).then(|| r["arguments"].clone())
}

fn mac_string(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

struct Rig {
    ns: NetNs,
    _dir: TempDir,
    cfg: PathBuf,
    socket: PathBuf,
    server: Option<Server>,
}

impl Rig {
    fn start(tag: &str) -> Rig {
        let ns = NetNs::new(tag).with_relay_address();
        ns.ip(&["addr", "add", "127.0.0.3/8", "dev", "lo"]);
        let dir = TempDir::new(tag);
        let socket = dir.0.join("kea4-ctrl-socket");
        let leases = dir.0.join("kea-leases4.csv");
        let cfg = dir.file(
            "kea-dhcp4.json",
            &CONFIG
                .replace("LEASES", &leases.to_string_lossy())
                .replace("SOCKET", &socket.to_string_lossy()),
        );
        let server = Server::start(&ns, &["-c", &cfg.to_string_lossy(), "-p", "6767"], &[]);
        Rig {
            ns,
            _dir: dir,
            cfg,
            socket,
            server: Some(server),
        }
    }

    fn stat(&self, name: &str) -> i64 {
        stat(&self.socket, name)
    }

    /// Stops the server and returns the lease store as `corelease lease export` prints it:
    /// address -> (hwaddr, state) of every row.
    fn stop_and_export(&mut self) -> BTreeMap<String, (String, String)> {
        if let Some(s) = self.server.take() {
            s.stop();
        }
        let out = Command::new(bin())
            .args(["lease", "export", "-c", &self.cfg.to_string_lossy()])
            .output()
            .expect("corelease lease export");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let csv = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let (hw, state) = (col("hwaddr").expect("hwaddr"), col("state").expect("state"));
        lines
            .filter_map(|row| {
                let cols: Vec<&str> = row.split(',').collect();
                Some((
                    cols.first()?.to_string(),
                    (cols.get(hw)?.to_string(), cols.get(state)?.to_string()),
                ))
            })
            .collect()
    }
}

/// xorshift64*: random MACs without a dependency; the seed is the PID so runs differ.
struct Rng(u64);

impl Rng {
    fn mac(&mut self) -> [u8; 6] {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d).to_be_bytes();
        // Locally administered unicast, never one of the fixed test clients (0x02 prefix).
        [0x06, v[0], v[1], v[2], v[3], v[4]]
    }
}

#[test]
fn discover_flood_exhausts_the_pool_counted_while_existing_clients_renew() {
    let _g = serial();
    let mut rig = Rig::start("flood");
    let socks = relay_sockets(&rig.ns, &[RELAY]);
    let relay = &socks[0];
    let a_mac = [2, 0, 0, 0, 0, 0xa];
    let b_mac = [2, 0, 0, 0, 0, 0xb];
    let a = dora(relay, a_mac, 0x0a00);
    let b = dora(relay, b_mac, 0x0b00);

    // The flood: rounds of 50 new random MACs, each taking what it is offered, until a round
    // gets no offer at all (at most 6 rounds, 300 clients).
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
    let mut acked: Vec<Ipv4Addr> = vec![a, b];
    let mut last_round_discovers = 0;
    for round in 0..6u32 {
        let macs: Vec<[u8; 6]> = (0..50).map(|_| rng.mac()).collect();
        for (i, mac) in macs.iter().enumerate() {
            send(
                relay,
                &Msg::new(DISCOVER, 0x1000_0000 + round * 0x1000 + i as u32, *mac).bytes(),
            );
        }
        let offers: Vec<Reply> = collect(relay, macs.len())
            .into_iter()
            .filter(|r| r.kind == OFFER)
            .collect();
        last_round_discovers = macs.len();
        if offers.is_empty() {
            break;
        }
        for o in &offers {
            let i = (o.xid & 0xfff) as usize;
            let mut req = Msg::new(REQUEST, o.xid + 0x800, macs[i]);
            req.requested = Some(o.yiaddr);
            req.server_id = Some(SERVER_ID);
            send(relay, &req.bytes());
        }
        acked.extend(
            collect(relay, offers.len())
                .into_iter()
                .filter(|r| r.kind == ACK)
                .map(|r| r.yiaddr),
        );
    }
    let unique: HashSet<Ipv4Addr> = acked.iter().copied().collect();
    assert_eq!(
        unique.len(),
        acked.len(),
        "an address ACKed twice: {acked:?}"
    );
    assert_eq!(
        acked.len(),
        POOL_SIZE,
        "the flood takes every address of the pool: {acked:?}"
    );
    assert!(acked
        .iter()
        .all(|x| (10..30).contains(&x.octets()[3]) && x.octets()[..3] == [100, 64, 0]));
    // Exhaustion is counted (Kea's v4-allocation-fail family), globally and per subnet.
    assert!(
        rig.stat("v4-allocation-fail") >= last_round_discovers as i64,
        "allocation failures counted"
    );
    assert!(rig.stat("subnet[7].v4-allocation-fail") >= last_round_discovers as i64);
    assert_eq!(rig.stat("subnet[7].assigned-addresses"), POOL_SIZE as i64);

    // Existing clients are still served: A renews (ciaddr, RFC 2131 4.3.2 RENEWING through
    // the relay), B reboots (INIT-REBOOT with its address).
    let mut renew = Msg::new(REQUEST, 0x0a10, a_mac);
    renew.ciaddr = a;
    let r = exchange(relay, &renew).expect("A's renewal answered");
    assert_eq!((r.kind, r.yiaddr), (ACK, a));
    let mut reboot = Msg::new(REQUEST, 0x0b10, b_mac);
    reboot.requested = Some(b);
    let r = exchange(relay, &reboot).expect("B's reboot answered");
    assert_eq!((r.kind, r.yiaddr), (ACK, b));
    // A new client gets nothing: the pool is exhausted.
    assert!(exchange(relay, &Msg::new(DISCOVER, 0x0c00, [2, 0, 0, 0, 0, 0xc])).is_none());

    let store = rig.stop_and_export();
    let active: HashSet<String> = store
        .iter()
        .filter(|(_, (_, state))| state == "0")
        .map(|(addr, _)| addr.clone())
        .collect();
    let expected: HashSet<String> = acked.iter().map(ToString::to_string).collect();
    assert_eq!(active, expected, "the store holds exactly the ACKed leases");
}

#[test]
fn forged_and_malformed_requests_are_dropped_counted_and_change_no_lease() {
    let _g = serial();
    let mut rig = Rig::start("hostile");
    let socks = relay_sockets(&rig.ns, &[RELAY, OTHER_RELAY, STRAY_RELAY]);
    let (relay, other_relay, stray_relay) = (&socks[0], &socks[1], &socks[2]);
    let a_mac = [2, 0, 0, 0, 0, 0xa];
    let b_mac = [2, 0, 0, 0, 0, 0xb];
    let c_mac = [2, 0, 0, 0, 0, 0xc];
    let attacker = [2, 0, 0, 0, 0, 0xee];
    let a = dora(relay, a_mac, 0x0a00);
    let b = dora(relay, b_mac, 0x0b00);
    let drops = |rig: &Rig| rig.stat("pkt4-receive-drop");

    // Forged server identifier (RFC 2131 4.3.2, ARM "pkt4-receive-drop"): C is offered an
    // address, then REQUESTs it naming another server. The server stays silent, counts the
    // drop, and C has no lease.
    let offer = exchange(relay, &Msg::new(DISCOVER, 0x0c00, c_mac)).expect("C's offer");
    let before = drops(&rig);
    let mut forged = Msg::new(REQUEST, 0x0c01, c_mac);
    forged.requested = Some(offer.yiaddr);
    forged.server_id = Some(Ipv4Addr::new(192, 0, 2, 254));
    assert!(
        exchange(relay, &forged).is_none(),
        "a REQUEST for another server is ignored"
    );
    assert_eq!(drops(&rig), before + 1, "the forged server id is counted");
    assert!(lease(&rig.socket, offer.yiaddr).is_none(), "C got no lease");

    // A DISCOVER naming another server, or naming this one (RFC 2131 table 5: MUST NOT carry
    // one): kea-dhcp4 2.2 answers neither and counts each in pkt4-receive-drop
    // (DHCP4_PACKET_DROP_0003, DHCP4_PACKET_DROP_0007); so does corelease.
    for (xid, sid) in [(0xee40, Ipv4Addr::new(192, 0, 2, 254)), (0xee41, SERVER_ID)] {
        let before = drops(&rig);
        let mut d = Msg::new(DISCOVER, xid, attacker);
        d.server_id = Some(sid);
        assert!(
            exchange(relay, &d).is_none(),
            "a DISCOVER naming {sid} is not answered"
        );
        assert_eq!(
            drops(&rig),
            before + 1,
            "a DISCOVER naming {sid} is counted"
        );
    }
    assert_eq!(
        rig.stat("pkt4-offer-sent"),
        3,
        "the offers of A, B and C only"
    );

    // RELEASE of A's lease and DECLINE of B's lease by another client: nothing changes, both
    // are counted as drops, and no address is declined.
    let before = drops(&rig);
    let mut release = Msg::new(RELEASE, 0xee01, attacker);
    release.ciaddr = a;
    release.server_id = Some(SERVER_ID);
    send(relay, &release.bytes());
    let mut decline = Msg::new(DECLINE, 0xee02, attacker);
    decline.requested = Some(b);
    decline.server_id = Some(SERVER_ID);
    send(relay, &decline.bytes());
    assert!(
        collect(relay, 1).is_empty(),
        "RELEASE and DECLINE take no answer"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while drops(&rig) < before + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(drops(&rig), before + 2, "both forged messages counted");
    assert_eq!(rig.stat("declined-addresses"), 0);
    assert_eq!(rig.stat("subnet[7].assigned-addresses"), 2);
    for (addr, mac) in [(a, a_mac), (b, b_mac)] {
        let l = lease(&rig.socket, addr).unwrap_or_else(|| panic!("{addr} still leased"));
        assert_eq!(l["hw-address"], mac_string(mac), "{l}");
        assert_eq!(l["state"], 0, "{l}");
    }

    // Asking for another client's address: a DISCOVER naming A's address is offered another
    // one, a REQUEST for it (naming us) is NAKed (RFC 2131 4.3.1, 4.3.2), and A keeps it.
    let mut want_a = Msg::new(DISCOVER, 0xee03, attacker);
    want_a.requested = Some(a);
    let offer = exchange(relay, &want_a).expect("the attacker is offered an address");
    assert_eq!(offer.kind, OFFER);
    assert_ne!(
        offer.yiaddr, a,
        "A's address is not offered to another client"
    );
    let mut take_a = Msg::new(REQUEST, 0xee04, attacker);
    take_a.requested = Some(a);
    take_a.server_id = Some(SERVER_ID);
    let r = exchange(relay, &take_a).expect("an answer to a REQUEST for a taken address");
    assert_eq!(r.kind, NAK, "{r:?}");
    let l = lease(&rig.socket, a).expect("A's lease");
    assert_eq!(l["hw-address"], mac_string(a_mac), "{l}");

    // Forged giaddr. (1) A packet from relay 127.0.0.2 naming relay 127.0.0.3: the server
    // selects that relay's subnet and answers the relay named in giaddr (RFC 2131 4.1), never
    // the sender. (2) A giaddr in no subnet and no relay list, as kea-dhcp4 2.2.0 answers
    // it (run): a DISCOVER gets nothing and counts in no drop statistic; a REQUEST gets a NAK
    // at that giaddr (DHCP4_PACKET_NAK_0001, counted in pkt4-nak-sent), so a client behind a
    // misconfigured relay starts over rather than waiting out its timers.
    let mut foreign = Msg::new(DISCOVER, 0xee10, attacker);
    foreign.giaddr = OTHER_RELAY;
    send(relay, &foreign.bytes());
    let at_named = collect(other_relay, 1);
    assert!(
        at_named
            .iter()
            .any(|r| r.xid == 0xee10 && r.kind == OFFER && r.yiaddr.octets()[..3] == [10, 99, 0]),
        "the OFFER goes to the relay in giaddr: {at_named:?}"
    );
    assert!(
        collect(relay, 1).is_empty(),
        "nothing goes back to the forging sender"
    );
    let before = drops(&rig);
    let naks = rig.stat("pkt4-nak-sent");
    let mut nowhere = Msg::new(DISCOVER, 0xee11, attacker);
    nowhere.giaddr = STRAY_RELAY;
    assert!(exchange(stray_relay, &nowhere).is_none());
    let mut nowhere = Msg::new(REQUEST, 0xee12, attacker);
    nowhere.giaddr = STRAY_RELAY;
    nowhere.requested = Some(Ipv4Addr::new(100, 64, 0, 10));
    let r = exchange(stray_relay, &nowhere).expect("a NAK at the giaddr");
    assert_eq!((r.kind, r.xid), (NAK, 0xee12), "{r:?}");
    assert_eq!(r.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(drops(&rig), before, "no subnet for giaddr: not a drop");
    assert_eq!(rig.stat("pkt4-nak-sent"), naks + 1);

    // Truncated and damaged datagrams: counted as parse failures, never answered.
    let before_failed = rig.stat("pkt4-parse-failed");
    let whole = Msg::new(DISCOVER, 0xee20, attacker).bytes();
    let mut bad_cookie = whole.clone();
    bad_cookie[236] = 0;
    // Shorter than the 236-byte BOOTP header: kea-dhcp4 2.2 refuses these while receiving
    // them and counts nothing (DHCP4_BUFFER_RECEIVE_FAIL; checked on the wire for 0, 20, 34,
    // 100 and 235 bytes). corelease drops them uncounted too: under 34 bytes the kernel
    // already does, as the steering filter cannot read chaddr (engine/shard/src/steering.rs).
    let tiny: [&[u8]; 3] = [&[], &whole[..20], &whole[..100]];
    let malformed: [&[u8]; 2] = [&whole[..239], &bad_cookie];
    let before_received = rig.stat("pkt4-received");
    for m in tiny.iter().chain(&malformed) {
        send(relay, m);
    }
    assert!(
        collect(relay, 1).is_empty(),
        "malformed datagrams take no answer"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while rig.stat("pkt4-parse-failed") < before_failed + malformed.len() as i64
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        rig.stat("pkt4-parse-failed"),
        before_failed + malformed.len() as i64,
        "every malformed datagram counted as a parse failure"
    );
    assert_eq!(
        rig.stat("pkt4-received"),
        before_received + malformed.len() as i64,
        "datagrams shorter than the BOOTP header are not counted, as in Kea"
    );

    // Longer than the 1500 bytes kea-dhcp4 2.2 reads of a datagram (IfaceMgr::RCVBUFSIZE):
    // Kea parses those 1500 and so does corelease (checked on the wire with 1501, 1600, 3000
    // and 65000 bytes). A DISCOVER whose options end early is answered; one whose message
    // type lies past byte 1500 is counted as of unknown type and dropped.
    let mut oversized = whole.clone();
    oversized.pop();
    oversized.resize(2999, 0);
    oversized.push(255);
    send(relay, &oversized);
    let answered = collect(relay, 1);
    assert!(
        answered.iter().any(|r| r.xid == 0xee20 && r.kind == OFFER),
        "a 3000-byte DISCOVER is answered: {answered:?}"
    );
    let mut type_past_1500 = Msg::new(DISCOVER, 0xee21, attacker).header();
    type_past_1500.resize(1640, 0);
    type_past_1500.extend_from_slice(&[53, 1, DISCOVER, 255]);
    type_past_1500.resize(3000, 0);
    let (unknown, drops_before) = (rig.stat("pkt4-unknown-received"), drops(&rig));
    send(relay, &type_past_1500);
    assert!(
        collect(relay, 1).is_empty(),
        "its type is past what is read"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while rig.stat("pkt4-unknown-received") < unknown + 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rig.stat("pkt4-unknown-received"), unknown + 1);
    assert_eq!(drops(&rig), drops_before + 1);

    // Option overload tricks (RFC 2132 9.3): the overload option pointing into sname/file
    // that hold no END, an option running past the end of sname, a second message type in
    // file. None may crash the server or give anyone a lease.
    let mut tricks = Vec::new();
    let mut p = Msg::new(DISCOVER, 0xee30, attacker).header();
    p[44..108].fill(12); // sname full of "hostname" option headers, no END
    p[108..236].fill(53); // file full of message-type option headers, no END
    p.extend_from_slice(&[52, 1, 3, 53, 1, REQUEST, 50, 4, 100, 64, 0, 20, 255]);
    tricks.push(p);
    let mut p = Msg::new(DISCOVER, 0xee31, attacker).header();
    p[44..48].copy_from_slice(&[12, 200, b'x', b'y']); // runs past sname into file
    p.extend_from_slice(&[52, 1, 1, 53, 1, DISCOVER, 255]);
    tricks.push(p);
    let mut p = Msg::new(REQUEST, 0xee32, attacker).header();
    p[108..116].copy_from_slice(&[53, 1, RELEASE, 50, 4, 100, 64, 0]); // type in file, cut
    p.extend_from_slice(&[52, 1, 1, 53, 1, REQUEST, 52, 1, 2, 255]); // overload twice
    tricks.push(p);
    let mut p = Msg::new(DISCOVER, 0xee33, attacker).header();
    p.extend_from_slice(&[52, 0, 53, 1, DISCOVER, 52, 1, 0xff, 255]); // empty and bad overload
    tricks.push(p);
    for t in &tricks {
        send(relay, t);
    }
    let answered = collect(relay, tricks.len());
    assert!(
        answered.iter().all(|r| r.kind != ACK),
        "no overload trick gets a lease: {answered:?}"
    );

    // After all of it the server still answers: A renews, and a new client completes DORA.
    let mut renew = Msg::new(REQUEST, 0x0a10, a_mac);
    renew.ciaddr = a;
    let r = exchange(relay, &renew).expect("A's renewal answered");
    assert_eq!((r.kind, r.yiaddr), (ACK, a));
    let d_mac = [2, 0, 0, 0, 0, 0xd];
    let d = dora(relay, d_mac, 0x0d00);

    // The store: A, B and D, each with its own MAC; nothing for C, the attacker, or subnet 8.
    let store = rig.stop_and_export();
    let active: BTreeMap<String, String> = store
        .into_iter()
        .filter(|(_, (_, state))| state == "0")
        .map(|(addr, (hw, _))| (addr, hw))
        .collect();
    let expected: BTreeMap<String, String> = [(a, a_mac), (b, b_mac), (d, d_mac)]
        .into_iter()
        .map(|(addr, mac)| (addr.to_string(), mac_string(mac)))
        .collect();
    assert_eq!(
        active, expected,
        "the store holds exactly the real clients' leases"
    );
}
