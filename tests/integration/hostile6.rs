//! Hostile DHCPv6 traffic through the real binary (`corelease dhcp6`, issue 9): forged server
//! identifiers, Release / Decline of another DUID's lease, truncated and garbage datagrams,
//! relay nesting beyond the limit, Relay-reply layers, junk options, oversized datagrams, a
//! Release of an unknown address. Each case was first sent to kea-dhcp6 2.2 with the same
//! bytes; what it answered, dropped and counted is asserted here.
//! After all of it a normal client still gets a lease and the store holds exactly the real
//! clients' leases.
//!
//! The test plays a relay at fd00:99::2 (port 547) on the namespace's loopback, from a socket
//! created by a thread that joined the namespace; the server listens on [::1]:5547 and selects
//! the subnet from the Relay-forward's link-address. Every loop is bounded in count and time.

use crate::hostile::{stat, unix_command};
use crate::support::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const CONFIG: &str = r#"{
  "Dhcp6": {
    "interfaces-config": { "interfaces": [ "lo" ] },
    "lease-database": { "type": "memfile", "persist": true, "name": "LEASES" },
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2 },
    "control-socket": { "socket-type": "unix", "socket-name": "SOCKET" },
    "preferred-lifetime": 3000, "valid-lifetime": 4000,
    "subnet6": [ {
      "id": 9, "subnet": "fd00:1::/64",
      "pools": [ { "pool": "fd00:1::1000 - fd00:1::10ff" } ]
    } ]
  }
}"#;

const SERVER: SocketAddrV6 = SocketAddrV6::new(Ipv6Addr::LOCALHOST, 5547, 0, 0);
const RELAY: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x99, 0, 0, 0, 0, 0, 2);
/// The Relay-forward's link-address: inside subnet 9.
const LINK: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1);
const PEER: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x99);
/// How long a reply may take before the test counts it as not sent.
const REPLY_WAIT: Duration = Duration::from_millis(700);

pub(crate) const SOLICIT: u8 = 1;
pub(crate) const ADVERTISE: u8 = 2;
const REQUEST: u8 = 3;
pub(crate) const RENEW: u8 = 5;
pub(crate) const REPLY: u8 = 7;
const RELEASE: u8 = 8;
const DECLINE: u8 = 9;
const RELAY_FORW: u8 = 12;

const OPT_CLIENTID: u16 = 1;
const OPT_SERVERID: u16 = 2;
const OPT_IA_NA: u16 = 3;
const OPT_IAADDR: u16 = 5;
const OPT_ELAPSED_TIME: u16 = 8;
const OPT_RELAY_MSG: u16 = 9;
const OPT_STATUS_CODE: u16 = 13;
/// RFC 8415 21.13.
const STATUS_NO_BINDING: u16 = 3;

fn opt(code: u16, data: &[u8]) -> Vec<u8> {
    let mut o = code.to_be_bytes().to_vec();
    o.extend_from_slice(&(data.len() as u16).to_be_bytes());
    o.extend_from_slice(data);
    o
}

/// A DUID-LL (RFC 8415 11.4) with MAC 02:00:00:00:00:n.
pub(crate) fn duid(n: u8) -> Vec<u8> {
    vec![0, 3, 0, 1, 2, 0, 0, 0, 0, n]
}

/// A client message with one IA_NA (IAID 1), holding `addr` when given.
pub(crate) fn client_msg(
    kind: u8,
    xid: u32,
    client: &[u8],
    server: Option<&[u8]>,
    addr: Option<Ipv6Addr>,
) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&xid.to_be_bytes()[1..]);
    m.extend(opt(OPT_CLIENTID, client));
    m.extend(opt(OPT_ELAPSED_TIME, &[0, 0]));
    if let Some(s) = server {
        m.extend(opt(OPT_SERVERID, s));
    }
    let mut ia = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    if let Some(a) = addr {
        let mut iaaddr = a.octets().to_vec();
        iaaddr.extend_from_slice(&3000u32.to_be_bytes());
        iaaddr.extend_from_slice(&4000u32.to_be_bytes());
        ia.extend(opt(OPT_IAADDR, &iaaddr));
    }
    m.extend(opt(OPT_IA_NA, &ia));
    m
}

/// `inner` wrapped in `depth` Relay-forward layers, the outermost with hop-count depth - 1.
pub(crate) fn relayed(inner: Vec<u8>, depth: usize) -> Vec<u8> {
    let mut m = inner;
    for hop in 0..depth {
        let mut r = vec![RELAY_FORW, hop as u8];
        r.extend_from_slice(&LINK.octets());
        r.extend_from_slice(&PEER.octets());
        r.extend(opt(OPT_RELAY_MSG, &m));
        m = r;
    }
    m
}

/// (code, data) of each option in `area`, stopping at a truncated one.
fn options(area: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while let (Some(h), true) = (area.get(i..i + 4), i + 4 <= area.len()) {
        let code = u16::from_be_bytes([h[0], h[1]]);
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let Some(data) = area.get(i + 4..i + 4 + len) else {
            break;
        };
        out.push((code, data));
        i += 4 + len;
    }
    out
}

/// A reply as the client sees it: type, xid, server DUID, the IA_NA's addresses and status.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reply {
    pub(crate) kind: u8,
    pub(crate) xid: u32,
    pub(crate) server_id: Vec<u8>,
    pub(crate) addrs: Vec<Ipv6Addr>,
    pub(crate) ia_status: Option<u16>,
    /// The top-level Status Code's code.
    pub(crate) status: Option<u16>,
}

/// Unwraps Relay-reply layers and decodes the client message inside.
fn parse_reply(mut p: &[u8]) -> Option<Reply> {
    while p.first() == Some(&13) {
        p = options(p.get(34..)?)
            .into_iter()
            .find(|(c, _)| *c == OPT_RELAY_MSG)?
            .1;
    }
    let mut r = Reply {
        kind: *p.first()?,
        xid: u32::from_be_bytes([0, *p.get(1)?, *p.get(2)?, *p.get(3)?]),
        ..Reply::default()
    };
    for (code, data) in options(p.get(4..)?) {
        match code {
            OPT_SERVERID => r.server_id = data.to_vec(),
            OPT_STATUS_CODE => r.status = Some(u16::from_be_bytes([*data.first()?, *data.get(1)?])),
            OPT_IA_NA => {
                for (c, d) in options(data.get(12..)?) {
                    if c == OPT_IAADDR {
                        let a: [u8; 16] = d.get(..16)?.try_into().ok()?;
                        r.addrs.push(Ipv6Addr::from(a));
                    }
                    if c == OPT_STATUS_CODE {
                        r.ia_status = Some(u16::from_be_bytes([*d.first()?, *d.get(1)?]));
                    }
                }
            }
            _ => {}
        }
    }
    Some(r)
}

/// A UDP socket bound to [fd00:99::2]:547 inside `ns`.
pub(crate) fn relay_socket(ns: &NetNs) -> UdpSocket {
    let ns_path = format!("/var/run/netns/{}", ns.name);
    std::thread::scope(|sc| {
        sc.spawn(|| {
            let f = std::fs::File::open(&ns_path).expect("netns file");
            // SAFETY: setns(2) on this thread only, with a namespace fd we opened.
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let s = UdpSocket::bind(SocketAddrV6::new(RELAY, 547, 0, 0))
                .unwrap_or_else(|e| panic!("bind [{RELAY}]:547: {e}"));
            s.set_read_timeout(Some(Duration::from_millis(50)))
                .expect("timeout");
            s
        })
        .join()
        .expect("setns thread")
    })
}

/// Sends one datagram and returns the reply with `xid`, if one comes within `REPLY_WAIT`.
pub(crate) fn exchange(sock: &UdpSocket, bytes: &[u8], xid: u32) -> Option<Reply> {
    sock.send_to(bytes, SERVER).expect("send to the server");
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + REPLY_WAIT;
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            if let Some(r) = parse_reply(&buf[..n]).filter(|r| r.xid == xid) {
                return Some(r);
            }
        }
    }
    None
}

/// Whatever arrives on `sock` within `REPLY_WAIT`.
fn anything(sock: &UdpSocket) -> Vec<Reply> {
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    let deadline = Instant::now() + REPLY_WAIT;
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            out.extend(parse_reply(&buf[..n]));
        }
    }
    out
}

/// Solicit / Advertise / Request / Reply for `client`; (server DUID, address).
pub(crate) fn sarr(sock: &UdpSocket, client: &[u8], xid: u32) -> (Vec<u8>, Ipv6Addr) {
    let adv = exchange(
        sock,
        &relayed(client_msg(SOLICIT, xid, client, None, None), 1),
        xid,
    )
    .expect("an Advertise");
    assert_eq!(adv.kind, ADVERTISE, "{adv:?}");
    let offered = *adv.addrs.first().expect("an address advertised");
    let req = client_msg(
        REQUEST,
        xid + 1,
        client,
        Some(&adv.server_id),
        Some(offered),
    );
    let rep = exchange(sock, &relayed(req, 1), xid + 1).expect("a Reply");
    assert_eq!(rep.kind, REPLY, "{rep:?}");
    assert_eq!(rep.addrs, vec![offered], "{rep:?}");
    (adv.server_id, offered)
}

/// The lease of `addr` as `lease6-get` shows it, if any.
pub(crate) fn lease6(socket: &Path, addr: Ipv6Addr) -> Option<Value> {
    let r = unix_command(
        socket,
        &json!({ "command": "lease6-get", "arguments": { "ip-address": addr.to_string() } }),
    );
    (r["result"] == 0).then(|| r["arguments"].clone())
}

fn duid_string(d: &[u8]) -> String {
    d.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Waits (bounded) until statistic `name` reaches `want`, then returns its value.
fn stat_reaching(socket: &Path, name: &str, want: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    while stat(socket, name) < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    stat(socket, name)
}

/// A dhcp6 server on port 5547 in a namespace of its own (named `tag`) with the relay
/// address fd00:99::2 on its loopback, started from `config` (its LEASES and SOCKET filled
/// in): (namespace, temp dir, config path, control socket path, server).
pub(crate) fn start_relayed6(
    tag: &str,
    config: &str,
) -> (NetNs, TempDir, PathBuf, PathBuf, Server) {
    let ns = NetNs::new(tag);
    ns.ip(&["addr", "add", "fd00:99::2/128", "dev", "lo", "nodad"]);
    let dir = TempDir::new(tag);
    let socket: PathBuf = dir.0.join("kea6-ctrl-socket");
    let leases = dir.0.join("kea-leases6.csv");
    let cfg = dir.file(
        "kea-dhcp6.json",
        &config
            .replace("LEASES", &leases.to_string_lossy())
            .replace("SOCKET", &socket.to_string_lossy()),
    );
    let env = [("KEA_DHCP_DATA_DIR", dir.0.as_path())];
    let server = Server::start6(&ns, &["-c", &cfg.to_string_lossy(), "-p", "5547"], &env);
    (ns, dir, cfg, socket, server)
}

#[test]
fn forged_v6_messages_are_dropped_or_refused_counted_and_change_no_lease() {
    let _g = serial();
    let (ns, _dir, cfg, socket, server) = start_relayed6("hostile6", CONFIG);
    let relay = relay_socket(&ns);
    let s = |name: &str| stat(&socket, name);

    let (a_duid, b_duid, c_duid) = (duid(0xa), duid(0xb), duid(0xc));
    let (server_id, a) = sarr(&relay, &a_duid, 0x0a00);
    let forged_id = duid(0x99);

    // Forged or misplaced server identifiers (RFC 8415 16.2-16.6; Kea: no answer,
    // pkt6-receive-drop): a Request naming another server, a Renew of A's lease naming
    // another server, a Solicit carrying one, and A's own Release sent to another server.
    let before = s("pkt6-receive-drop");
    let forged: [(u32, Vec<u8>); 4] = [
        (
            0xb001,
            client_msg(REQUEST, 0xb001, &b_duid, Some(&forged_id), Some(a)),
        ),
        (
            0xa101,
            client_msg(RENEW, 0xa101, &a_duid, Some(&forged_id), Some(a)),
        ),
        (
            0xb002,
            client_msg(SOLICIT, 0xb002, &b_duid, Some(&server_id), None),
        ),
        (
            0xa102,
            client_msg(RELEASE, 0xa102, &a_duid, Some(&forged_id), Some(a)),
        ),
    ];
    for (xid, m) in &forged {
        assert!(
            exchange(&relay, &relayed(m.clone(), 1), *xid).is_none(),
            "message {xid:#x} is not answered"
        );
    }
    assert_eq!(
        stat_reaching(&socket, "pkt6-receive-drop", before + 4),
        before + 4,
        "each forged server id counted once"
    );
    let l = lease6(&socket, a).expect("A keeps its lease");
    assert_eq!(l["duid"], duid_string(&a_duid), "{l}");

    // B releases and declines A's address, naming this server: Kea answers each with a
    // Reply whose IA carries NoBinding ("This address does not belong to you") and changes
    // nothing; so does corelease.
    for (kind, xid) in [(RELEASE, 0xb010), (DECLINE, 0xb011)] {
        let m = client_msg(kind, xid, &b_duid, Some(&server_id), Some(a));
        let r = exchange(&relay, &relayed(m, 1), xid).expect("a Reply to B");
        assert_eq!(r.kind, REPLY, "{r:?}");
        assert_eq!(r.ia_status, Some(STATUS_NO_BINDING), "{r:?}");
    }
    assert_eq!(s("declined-addresses"), 0);
    assert_eq!(s("subnet[9].assigned-nas"), 1);
    let l = lease6(&socket, a).expect("A keeps its lease");
    assert_eq!(l["duid"], duid_string(&a_duid), "{l}");
    assert_eq!(l["state"], 0, "{l}");

    // Truncated datagrams, and 34 and 40 relay layers (kea-dhcp6 2.2 and corelease parse at
    // most 33, RFC 8415's relays stop at 8): each counted in pkt6-parse-failed and
    // pkt6-receive-drop, as Kea counts them, and never answered.
    let (failed, drops) = (s("pkt6-parse-failed"), s("pkt6-receive-drop"));
    let solicit = client_msg(SOLICIT, 0xc0, &c_duid, None, None);
    let bad: Vec<Vec<u8>> = vec![
        vec![],
        vec![SOLICIT, 0, 0],
        relayed(solicit.clone(), 34),
        relayed(solicit.clone(), 40),
    ];
    for m in &bad {
        relay.send_to(m, SERVER).expect("send");
    }
    assert!(
        anything(&relay).is_empty(),
        "malformed datagrams take no answer"
    );
    assert_eq!(
        stat_reaching(&socket, "pkt6-parse-failed", failed + bad.len() as i64),
        failed + bad.len() as i64,
        "each malformed datagram counted as a parse failure"
    );
    assert_eq!(s("pkt6-receive-drop"), drops + bad.len() as i64);

    // After all of it: A renews, a new client C completes Solicit/Request, and a Solicit
    // through 32 relays is still answered.
    let renew = client_msg(RENEW, 0xa200, &a_duid, Some(&server_id), Some(a));
    let r = exchange(&relay, &relayed(renew, 1), 0xa200).expect("A's renewal answered");
    assert_eq!((r.kind, r.addrs.clone()), (REPLY, vec![a]), "{r:?}");
    let (_, c) = sarr(&relay, &c_duid, 0x0c00);
    assert_ne!(c, a);
    let deep = exchange(
        &relay,
        &relayed(client_msg(SOLICIT, 0xd0, &duid(0xd), None, None), 32),
        0xd0,
    )
    .expect("an Advertise through 32 relays");
    assert_eq!(deep.kind, ADVERTISE, "{deep:?}");

    // The differences from kea-dhcp6 2.2 seen on the wire in session 3, now matched (each
    // case sent to Kea first): 33 relay layers are served, a Relay-reply is unwrapped like a
    // Relay-forward and answered, an option running past the end of the message is ignored
    // while an IA_NA too short for its fields fails the whole message, 1500 bytes are read of
    // a datagram (a relayed one of 1501 loses the end of its Relay Message), and a Release of
    // an unknown address gets NoBinding at the top level too.
    let e_duid = duid(0xe);
    let solicit = |xid: u32| client_msg(SOLICIT, xid, &e_duid, None, None);
    let r = exchange(&relay, &relayed(solicit(0xe1), 33), 0xe1).expect("33 relays answered");
    assert_eq!(r.kind, ADVERTISE, "{r:?}");
    let mut reply_layer = relayed(solicit(0xe2), 1);
    reply_layer[0] = 13;
    let r = exchange(&relay, &reply_layer, 0xe2).expect("a Relay-reply answered");
    assert_eq!(r.kind, ADVERTISE, "{r:?}");
    let mut overrun = solicit(0xe3);
    overrun.extend_from_slice(&[0, 99, 0, 50, b'x', b'x']);
    let r = exchange(&relay, &relayed(overrun, 1), 0xe3).expect("a truncated last option");
    assert_eq!(r.kind, ADVERTISE, "{r:?}");
    let mut short_ia = client_msg(SOLICIT, 0xe4, &e_duid, None, None);
    short_ia.extend(opt(OPT_IA_NA, &[0, 0, 0, 1, 0]));
    let (failed, drops) = (s("pkt6-parse-failed"), s("pkt6-receive-drop"));
    assert!(exchange(&relay, &relayed(short_ia, 1), 0xe4).is_none());
    let sized = |xid: u32, total: usize| {
        // A Solicit padded with an unknown option so that the relayed datagram is `total`
        // bytes: relay header 34 + Relay Message header 4 + Solicit.
        let mut m = solicit(xid);
        let pad = total - 38 - m.len() - 4;
        m.extend(opt(0xfff0, &vec![b'z'; pad]));
        relayed(m, 1)
    };
    assert_eq!(sized(0xe5, 1500).len(), 1500);
    let r = exchange(&relay, &sized(0xe5, 1500), 0xe5).expect("1500 bytes answered");
    assert_eq!(r.kind, ADVERTISE, "{r:?}");
    assert!(exchange(&relay, &sized(0xe6, 1501), 0xe6).is_none());
    assert_eq!(
        stat_reaching(&socket, "pkt6-parse-failed", failed + 2),
        failed + 2,
        "the short IA_NA and the cut Relay Message"
    );
    assert_eq!(s("pkt6-receive-drop"), drops + 2);
    let unknown = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 0x1234);
    let m = client_msg(RELEASE, 0xe7, &e_duid, Some(&server_id), Some(unknown));
    let r = exchange(&relay, &relayed(m, 1), 0xe7).expect("a Reply to the Release");
    assert_eq!(
        (r.kind, r.ia_status, r.status),
        (REPLY, Some(STATUS_NO_BINDING), Some(STATUS_NO_BINDING)),
        "{r:?}"
    );

    // The store: A and C, each under its own DUID; nothing for B.
    let output = server.stop();
    let out = Command::new(bin())
        .args(["lease", "export", "-c", &cfg.to_string_lossy()])
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
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (addr_c, duid_c, state_c) = (col("address"), col("duid"), col("state"));
    let active: BTreeMap<String, String> = lines
        .map(|row| row.split(',').collect::<Vec<_>>())
        .filter(|c| c.get(state_c) == Some(&"0"))
        .filter_map(|c| Some((c.get(addr_c)?.to_string(), c.get(duid_c)?.to_string())))
        .collect();
    let expected: BTreeMap<String, String> = [(a, &a_duid), (c, &c_duid)]
        .into_iter()
        .map(|(addr, d)| (addr.to_string(), duid_string(d)))
        .collect();
    assert_eq!(
        active, expected,
        "the store holds exactly the real clients' leases:\n{output}"
    );
}
