//! Writes small seed corpora for every fuzz target into `fuzz/corpus/<target>/`: real DHCPv4
//! requests and the replies our shard answers them with, DHCPv6 messages with relay nesting,
//! handler scripts that walk DORA / renew / release / decline (v4) and Solicit / Request /
//! Renew / Rebind / Release / Decline through relays (v6), a sample of the accepted Kea configs
//! of the config tests, lease logs written by `LeaseLog`, Kea CSV files, the ARM's class
//! expressions, and control-command scripts. Deterministic apart from the lease logs' write
//! times. Seeds captured from real traffic (`cap-*`) come from capture/capture.sh instead.

use corelease_storage::kea_csv::{write_leases4, write_leases6};
use corelease_storage::{log_file_name, Family, LeaseLog, LeaseSink, LogOptions, MemorySink};
use corelease_types::{ClientId, HwAddr, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
use corelease_v4::{InterfaceInfo, Meta4, Ports, Prepared4, V4Shard};
use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::Arc;

type Res<T> = Result<T, Box<dyn Error>>;

fn put(root: &Path, target: &str, name: &str, bytes: &[u8]) -> Res<()> {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)?;
    Ok(())
}

/// A BOOTREQUEST from client `mac` with DHCP message type `kind` and extra options.
fn request4(kind: u8, mac: [u8; 6], giaddr: Ipv4Addr, ciaddr: Ipv4Addr, opts: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&[0xab, 0xcd, mac[4], mac[5]]);
    p[12..16].copy_from_slice(&ciaddr.octets());
    p[24..28].copy_from_slice(&giaddr.octets());
    p[28..34].copy_from_slice(&mac);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(&[53, 1, kind]);
    p.extend_from_slice(opts);
    p.push(255);
    p
}

fn wire_v4(root: &Path) -> Res<()> {
    let t = "wire_v4_decode";
    let mac = [0x02, 0, 0, 0, 0, 1];
    let none = Ipv4Addr::UNSPECIFIED;
    let relay = Ipv4Addr::new(127, 0, 0, 1);
    let prl = [55, 5, 1, 3, 6, 15, 51];
    put(root, t, "discover", &request4(1, mac, none, none, &prl))?;
    let mut req = vec![50, 4, 192, 0, 2, 10, 54, 4, 192, 0, 2, 1, 61, 7, 1];
    req.extend_from_slice(&mac);
    req.extend_from_slice(&[12, 4, b'h', b'o', b's', b't']);
    put(root, t, "request", &request4(3, mac, none, none, &req))?;
    put(
        root,
        t,
        "renew",
        &request4(3, mac, none, Ipv4Addr::new(192, 0, 2, 10), &[]),
    )?;
    put(
        root,
        t,
        "release",
        &request4(
            7,
            mac,
            none,
            Ipv4Addr::new(192, 0, 2, 10),
            &[54, 4, 192, 0, 2, 1],
        ),
    )?;
    put(
        root,
        t,
        "inform",
        &request4(8, mac, none, Ipv4Addr::new(192, 0, 2, 77), &prl),
    )?;
    // Relay agent information (RFC 3046) with circuit-id, remote-id and link-selection (RFC 3527).
    let rai = [
        82, 18, 1, 4, b'e', b't', b'h', b'1', 2, 4, 1, 2, 3, 4, 5, 4, 198, 51, 100, 0,
    ];
    put(
        root,
        t,
        "discover-relayed-rai",
        &request4(1, mac, relay, none, &rai),
    )?;
    // Option overload (RFC 2132 9.3): options continue in sname and file.
    let mut ov = request4(1, mac, none, none, &[52, 1, 3]);
    ov[44..48].copy_from_slice(&[12, 2, b'a', b'b']);
    ov[48] = 255;
    ov[108..112].copy_from_slice(&[15, 2, b'c', b'd']);
    ov[112] = 255;
    put(root, t, "discover-overload", &ov)?;
    // Long option split in two (RFC 3396 concatenation).
    put(
        root,
        t,
        "split-option",
        &request4(
            1,
            mac,
            none,
            none,
            &[12, 3, b'a', b'b', b'c', 12, 3, b'd', b'e', b'f'],
        ),
    )?;
    // Malformed: truncated option, missing end, short packet, bad cookie.
    put(
        root,
        t,
        "truncated-option",
        &request4(1, mac, none, none, &[12, 200, b'x'])[..246],
    )?;
    put(root, t, "short", &request4(1, mac, none, none, &[])[..100])?;
    let mut bad = request4(1, mac, none, none, &[]);
    bad[236] = 0;
    put(root, t, "bad-cookie", &bad)?;
    Ok(())
}

const HANDLER_CONFIG: &str = r#"{ "Dhcp4": { "valid-lifetime": 4000,
    "subnet4": [ { "id": 1, "subnet": "192.0.2.0/24", "relay": { "ip-addresses": [ "127.0.0.1" ] },
        "pools": [ { "pool": "192.0.2.10 - 192.0.2.19" } ],
        "option-data": [ { "name": "routers", "data": "192.0.2.1" } ] } ] } }"#;

/// Our own replies (OFFER, ACK, NAK) as decoder seeds: encoder output the decoder must accept.
fn replies(root: &Path) -> Res<()> {
    let loaded = corelease_config::parse_dhcp4_str(HANDLER_CONFIG, Path::new("."))?;
    let prepared = Arc::new(Prepared4::new(
        &loaded.config,
        Vec::<InterfaceInfo>::new(),
        Ports::default(),
    ));
    let mut shard = V4Shard::new(prepared, 0, 1, MemorySink::default());
    let relay = Ipv4Addr::new(127, 0, 0, 1);
    let meta = Meta4 {
        src: SocketAddrV4::new(relay, 67),
        dst: Ipv4Addr::new(192, 0, 2, 1),
        ifindex: 1,
        local: Ipv4Addr::new(192, 0, 2, 1),
    };
    let mac = [0x02, 0, 0, 0, 0, 9];
    let none = Ipv4Addr::UNSPECIFIED;
    let mut out = [0u8; 1500];
    let now = 1_700_000_000;
    let prl = [55, 4, 1, 3, 6, 51];
    let d = request4(1, mac, relay, none, &prl);
    let offer = shard.handle(&meta, &d, now, &mut out).ok_or("no offer")?;
    put(root, "wire_v4_decode", "reply-offer", &out[..offer.len])?;
    let yiaddr = [out[16], out[17], out[18], out[19]];
    let mut ro = vec![50, 4];
    ro.extend_from_slice(&yiaddr);
    ro.extend_from_slice(&prl);
    let r = request4(3, mac, relay, none, &ro);
    let ack = shard.handle(&meta, &r, now, &mut out).ok_or("no ack")?;
    put(root, "wire_v4_decode", "reply-ack", &out[..ack.len])?;
    let r = request4(3, mac, relay, none, &[50, 4, 10, 9, 9, 9]);
    if let Some(nak) = shard.handle(&meta, &r, now, &mut out) {
        put(root, "wire_v4_decode", "reply-nak", &out[..nak.len])?;
    }
    Ok(())
}

fn opt6(code: u16, body: &[u8]) -> Vec<u8> {
    let mut v = code.to_be_bytes().to_vec();
    v.extend_from_slice(&u16::try_from(body.len()).unwrap_or(u16::MAX).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn relay_forw(hops: u8, link: Ipv6Addr, peer: Ipv6Addr, inner: &[u8], extra: &[u8]) -> Vec<u8> {
    let mut v = vec![12, hops];
    v.extend_from_slice(&link.octets());
    v.extend_from_slice(&peer.octets());
    v.extend_from_slice(extra);
    v.extend_from_slice(&opt6(9, inner));
    v
}

fn wire_v6(root: &Path) -> Res<()> {
    let t = "wire_v6_decode";
    let duid = [0, 1, 0, 1, 0x2a, 0, 0, 1, 2, 0, 0, 0, 0, 1];
    let mut ia_addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10)
        .octets()
        .to_vec();
    ia_addr.extend_from_slice(&[0, 0, 0x0e, 0x10, 0, 0, 0x1c, 0x20]);
    let mut ia_na = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    ia_na.extend_from_slice(&opt6(5, &ia_addr));
    let mut iaprefix = vec![0, 0, 0x0e, 0x10, 0, 0, 0x1c, 0x20, 56];
    iaprefix.extend_from_slice(&Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0).octets());
    let mut ia_pd = vec![0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0];
    ia_pd.extend_from_slice(&opt6(26, &iaprefix));
    let mut solicit = vec![1, 0x12, 0x34, 0x56];
    solicit.extend_from_slice(&opt6(1, &duid));
    solicit.extend_from_slice(&opt6(8, &[0, 0]));
    solicit.extend_from_slice(&opt6(6, &[0, 23, 0, 24]));
    solicit.extend_from_slice(&opt6(3, &ia_na[..12]));
    solicit.extend_from_slice(&opt6(25, &ia_pd[..12]));
    put(root, t, "solicit", &solicit)?;
    let mut rapid = solicit.clone();
    rapid.extend_from_slice(&opt6(14, &[]));
    put(root, t, "solicit-rapid-commit", &rapid)?;
    let mut request = vec![3, 0xab, 0xcd, 0xef];
    request.extend_from_slice(&opt6(1, &duid));
    request.extend_from_slice(&opt6(2, &[0, 1, 0, 1, 1, 2, 3, 4, 2, 0, 0, 0, 0, 0xfe]));
    request.extend_from_slice(&opt6(3, &ia_na));
    request.extend_from_slice(&opt6(25, &ia_pd));
    put(root, t, "request", &request)?;
    let mut reply = vec![7, 0xab, 0xcd, 0xef];
    reply.extend_from_slice(&opt6(13, &[0, 0, b'o', b'k']));
    reply.extend_from_slice(&opt6(3, &ia_na));
    put(root, t, "reply-status", &reply)?;
    let link = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
    let peer = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);
    let interface_id = opt6(18, b"eth0");
    let one = relay_forw(0, link, peer, &solicit, &interface_id);
    put(root, t, "relay-forw-1", &one)?;
    let two = relay_forw(
        1,
        Ipv6Addr::UNSPECIFIED,
        link,
        &one,
        &opt6(37, &[0, 0, 0, 9, 1, 2]),
    );
    put(root, t, "relay-forw-2", &two)?;
    put(root, t, "truncated-relay", &two[..two.len() - 7])?;
    put(root, t, "short", &[1, 0, 0])?;
    Ok(())
}

/// Scripts in the v4_handler input language: step byte (kind in the low 3 bits), then the
/// step's bytes (see fuzz_targets/v4_handler.rs).
fn handler(root: &Path) -> Res<()> {
    let t = "v4_handler";
    // step 2 = built packet: client, type, addrs (low nibble ciaddr, high requested), flags, ...
    let dora_direct: &[u8] = &[2, 1, 1, 0, 0, 0, 2, 1, 3, 0x10, 0x30, 5, 0];
    put(root, t, "dora-direct", dora_direct)?;
    let dora_relay: &[u8] = &[2, 2, 1, 0, 0x02, 0, 2, 2, 3, 0x60, 0x32, 5, 0];
    put(root, t, "dora-relay", dora_relay)?;
    // DORA, renew (ciaddr), release, then a tick.
    put(
        root,
        t,
        "dora-renew-release",
        &[
            2, 1, 1, 0, 0, 0, 2, 1, 3, 0x10, 0x10, 0, 2, 1, 3, 0x01, 0x00, 0, 2, 1, 7, 0x01, 0x00,
            0, 0, 50,
        ],
    )?;
    // The reserved client, then a decline of its address.
    put(
        root,
        t,
        "reserved-decline",
        &[2, 3, 1, 0, 0, 0, 2, 3, 4, 0x40, 0x10, 0, 0, 255],
    )?;
    // Relayed clients exhausting the shared network, then expiry.
    let mut exhaust = Vec::new();
    for c in 0..8u8 {
        exhaust.extend_from_slice(&[2, c, 1, 0, 0x02, 0, 2, c, 3, 0x60, 0x12, 0]);
    }
    exhaust.extend_from_slice(&[0, 255, 0, 255, 0, 255]);
    put(root, t, "exhaust-relay", &exhaust)?;
    // INFORM, and options after the header (PRL, RAI).
    put(
        root,
        t,
        "inform-options",
        &[2, 4, 8, 0x05, 0, 9, 55, 4, 1, 3, 6, 15, 82, 3, 1, 1, b'x'],
    )?;
    // A raw datagram step.
    let raw = request4(
        1,
        [2, 0, 0, 0, 0, 5],
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &[],
    );
    let mut step = vec![1, u8::try_from(raw.len() / 2).unwrap_or(u8::MAX)];
    step.extend_from_slice(&raw);
    put(root, t, "raw-discover", &step)?;
    Ok(())
}

fn configs(root: &Path, repo: &Path) -> Res<()> {
    // Every accepted config of the config tests, and every fourth rejected one (the error paths).
    for (sub, step) in [("accept", 1), ("reject", 4)] {
        let dir = repo.join("engine/config/tests/data/kea").join(sub);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for path in files.iter().step_by(step) {
            let text = std::fs::read(path)?;
            if text.len() > 8192 {
                continue;
            }
            let name = path.file_name().ok_or("no name")?.to_string_lossy();
            put(root, "config_parse", &format!("{sub}-{name}"), &text)?;
        }
    }
    put(
        root,
        "config_parse",
        "handler.json",
        HANDLER_CONFIG.as_bytes(),
    )?;
    Ok(())
}

fn lease(i: u8, kind: LeaseKind) -> Lease {
    let (addr, prefix_len) = match kind {
        LeaseKind::V4 => (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10 + i)), 32),
        LeaseKind::V6Pd => (
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                0x100 + u16::from(i),
                0,
                0,
                0,
                0,
                0,
            )),
            56,
        ),
        _ => (
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                1,
                0,
                0,
                0,
                0,
                0x10 + u16::from(i),
            )),
            128,
        ),
    };
    Lease {
        kind,
        addr,
        prefix_len,
        iaid: if kind == LeaseKind::V4 {
            0
        } else {
            u32::from(i) + 1
        },
        hwaddr: Some(HwAddr::new(1, &[2, 0, 0, 0, 0, i])),
        client_id: Some(ClientId::new(&[1, 2, 0, 0, 0, 0, i])),
        valid_lifetime: 4000,
        preferred_lifetime: if kind == LeaseKind::V4 { 0 } else { 3000 },
        cltt: 1_700_000_000 + u64::from(i),
        subnet_id: SubnetId(1),
        pool_id: PoolId(0),
        state: if i % 3 == 2 {
            LeaseState::Declined
        } else {
            LeaseState::Default
        },
        hostname: (i % 2 == 0).then(|| format!("host-{i}.example.org").into_boxed_str()),
        fqdn_fwd: i % 2 == 0,
        fqdn_rev: false,
        user_context: (i == 1).then(|| r#"{"a": 1}"#.into()),
    }
}

/// A log written by `LeaseLog`, cut to its logical length (the rest is pre-allocated zeros).
fn log_bytes(family: Family, leases: &[Lease], removals: usize) -> Res<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let opts = LogOptions {
        segment_bytes: 0,
        ..LogOptions::default()
    };
    let mut log = LeaseLog::open(dir.path(), family, 0, opts)?;
    for l in leases {
        log.record(l)?;
    }
    for l in leases.iter().take(removals) {
        log.remove(l.kind, l.addr, l.prefix_len)?;
    }
    log.commit()?;
    let len = usize::try_from(log.logical_len())?;
    drop(log);
    let mut bytes = std::fs::read(dir.path().join(log_file_name(family, 0)))?;
    bytes.truncate(len);
    Ok(bytes)
}

fn logs(root: &Path) -> Res<()> {
    let t = "lease_log_recovery";
    let v4: Vec<Lease> = (0..4).map(|i| lease(i, LeaseKind::V4)).collect();
    let v6: Vec<Lease> = (0..4)
        .map(|i| {
            lease(
                i,
                if i % 2 == 0 {
                    LeaseKind::V6Na
                } else {
                    LeaseKind::V6Pd
                },
            )
        })
        .collect();
    let empty4 = log_bytes(Family::V4, &[], 0)?;
    let one4 = log_bytes(Family::V4, &v4[..1], 0)?;
    let four4 = log_bytes(Family::V4, &v4, 1)?;
    let four6 = log_bytes(Family::V6, &v6, 1)?;
    // Byte 0: bit 0 family (0 = v4), bit 1 split into two shards at byte 1 * 8.
    let with = |flags: u8, bytes: &[u8]| {
        let mut v = vec![flags];
        v.extend_from_slice(bytes);
        v
    };
    put(root, t, "v4-header-only", &with(0, &empty4))?;
    put(root, t, "v4-one", &with(0, &one4))?;
    put(root, t, "v4-four-one-removed", &with(0, &four4))?;
    put(root, t, "v6-four-one-removed", &with(1, &four6))?;
    let torn = &four4[..four4.len() - 9];
    put(root, t, "v4-torn-tail", &with(0, torn))?;
    let mut flipped = four4.clone();
    if let Some(b) = flipped.get_mut(four4.len() / 2) {
        *b ^= 0x40;
    }
    put(root, t, "v4-bit-flip", &with(0, &flipped))?;
    // Two shard logs: the split offset (byte 1 * 8) lands after the first log.
    let split = u8::try_from(one4.len().div_ceil(8)).unwrap_or(u8::MAX);
    let mut two = vec![2];
    let mut first = one4.clone();
    first.insert(0, split);
    first.resize(usize::from(split) * 8, 0);
    two.extend_from_slice(&first);
    two.extend_from_slice(&four4);
    put(root, t, "v4-two-shards", &two)?;
    Ok(())
}

fn csv(root: &Path, repo: &Path) -> Res<()> {
    let t = "kea_csv_import";
    let kea = std::fs::read_to_string(repo.join("storage/tests/data/kea-2.2-leases4.csv"))?;
    let head: String = kea.lines().take(12).map(|l| format!("{l}\n")).collect();
    put(root, t, "kea-2.2-leases4", format!("\0{head}").as_bytes())?;
    let v4: Vec<Lease> = (0..4).map(|i| lease(i, LeaseKind::V4)).collect();
    let mut out = vec![0u8];
    write_leases4(&mut out, &v4)?;
    put(root, t, "ours-leases4", &out)?;
    let v6: Vec<Lease> = (0..4)
        .map(|i| {
            lease(
                i,
                if i % 2 == 0 {
                    LeaseKind::V6Na
                } else {
                    LeaseKind::V6Pd
                },
            )
        })
        .collect();
    let mut out = vec![1u8];
    write_leases6(&mut out, &v6)?;
    put(root, t, "ours-leases6", &out)?;
    // A Kea 1.x-era file that stops after hostname, a deletion row, an escaped comma.
    put(root, t, "old-schema-delete-escape", b"\0address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname\n10.0.0.1,01:02:03:04:05:06,,4000,1700004000,1,0,0,a&#x2cb\n10.0.0.1,01:02:03:04:05:06,,0,1700004000,1,0,0,\n")?;
    Ok(())
}

/// Scripts in the v6_handler input language (see fuzz_targets/v6_handler.rs): step byte (kind
/// in the low 3 bits, relay depth in bits 4-5, arrival interface in bit 6), then the step's
/// bytes: client, message-type index, flags, one (sel, which) pair per IA, extra-option
/// length, then one byte per relay layer.
fn handler6(root: &Path) -> Res<()> {
    let t = "v6_handler";
    // Solicit with IA_NA + IA_PD + ORO, then Request naming the pool's first address and
    // prefix with our server id, Renew, Rebind, Release.
    let na_pd_oro = 8 | 16 | 64;
    let with_server = 2 | 4;
    let mut sarr = vec![2, 1, 0, na_pd_oro, 8, 1, 8, 7, 0];
    sarr.extend_from_slice(&[2, 1, 1, with_server | 8 | 16, 8, 1, 8, 7, 0]);
    put(root, t, "solicit-request", &sarr)?;
    let mut life = sarr.clone();
    life.extend_from_slice(&[2, 1, 3, with_server | 8 | 16, 8, 1, 8, 7, 0]);
    life.extend_from_slice(&[2, 1, 4, 8 | 16, 8, 1, 8, 7, 0]);
    life.extend_from_slice(&[0, 200, 2, 1, 6, with_server | 8 | 16, 8, 1, 8, 7, 0]);
    put(root, t, "solicit-request-renew-rebind-release", &life)?;
    // Rapid Commit, Confirm, Information-request, and a Decline of an address.
    put(root, t, "rapid-commit", &[2, 2, 0, 8 | 128, 8, 2, 0])?;
    put(root, t, "confirm", &[2, 3, 2, 8, 8, 1, 0])?;
    put(root, t, "information-request", &[2, 4, 8, 64, 0])?;
    put(
        root,
        t,
        "decline",
        &[
            2,
            5,
            0,
            8,
            8,
            1,
            0,
            2,
            5,
            1,
            with_server | 8,
            8,
            1,
            0,
            2,
            5,
            7,
            with_server | 8,
            8,
            1,
            0,
            0,
            255,
        ],
    )?;
    // A forged server id: the Request must be ignored (RFC 8415 18.4).
    put(
        root,
        t,
        "request-forged-server-id",
        &[2, 6, 1, 2 | 8, 8, 1, 0],
    )?;
    // Relayed: one layer with a link address in subnet 3 and Relay Source Port; two layers
    // with Interface-ID "port-7" (the rapid-commit subnet); three layers, exhausting.
    put(
        root,
        t,
        "relayed-1",
        &[0x12, 1, 0, 8 | 16, 8, 5, 8, 10, 0, 0xd5],
    )?;
    put(
        root,
        t,
        "relayed-2-interface-id",
        &[0x22, 2, 0, 8 | 128, 8, 4, 0, 0x0a, 0],
    )?;
    let mut exhaust = Vec::new();
    for c in 0..8u8 {
        exhaust.extend_from_slice(&[0x32, c, 0, 8 | 128, 8, 5, 0, 0xd1, 0, 0]);
    }
    exhaust.extend_from_slice(&[0, 255, 0, 255]);
    put(root, t, "relayed-3-exhaust", &exhaust)?;
    // A raw datagram step: a Solicit without client id.
    put(root, t, "raw-solicit", &[1, 4, 1, 0, 0, 1, 0, 8, 0, 2])?;
    Ok(())
}

/// Class expressions from the ARM's examples (ARM 16.3, 16.11): flag byte, expression, NUL,
/// then a DHCPv4 DISCOVER with vendor class, RAI and client id to evaluate against.
fn classify(root: &Path) -> Res<()> {
    let t = "classify";
    let mac = [0x02, 0, 0, 0, 0, 1];
    let packet = request4(
        1,
        mac,
        Ipv4Addr::new(192, 0, 2, 1),
        Ipv4Addr::UNSPECIFIED,
        &[
            60, 8, b'd', b'o', b'c', b's', b'i', b's', b'3', b'.', 82, 8, 1, 2, b'e', b'1', 2, 2,
            b'r', b'1', 61, 7, 1, 2, 0, 0, 0, 0, 1, 124, 9, 0, 0, 0x11, 0x8b, 4, 3, b'a', b'b',
            b'c', 125, 9, 0, 0, 0x11, 0x8b, 4, 1, 2, b'x', b'y',
        ],
    );
    let exprs: &[&str] = &[
        "option[60].text == 'docsis3.0'",
        "substring(option[60].hex,0,6) == 'docsis'",
        "option[vendor-class-identifier].text == 'docsis3.'",
        "relay4[1].hex == 'e1' and relay4[2].exists",
        "pkt4.mac == 0x020000000001 or pkt4.hlen == 6",
        "pkt4.msgtype == 1 and not (pkt4.transid == 0)",
        "pkt4.giaddr == 192.0.2.1 and pkt4.ciaddr == 0.0.0.0",
        "pkt.iface == 'eth0' and pkt.len > 200",
        "member('KNOWN') or known or unknown",
        "vendor[4491].option[1].exists and vendor.enterprise == 4491",
        "vendor-class[4491].data[0] == 'abc' and vendor-class.enterprise == 4491",
        "concat('a', hexstring(pkt4.mac, ':')) == 'a02:00:00:00:00:01'",
        "ifelse(option[61].exists, option[61].hex, 'none')",
        "split(option[60].text, '.', 1) == 'docsis3'",
        "lcase(ucase(option[60].text)) + 'x' == 'docsis3.x'",
        "addrtotext(pkt4.giaddr) == '192.0.2.1'",
        "uint32totext(pkt4.transid) == '1' or int8totext(0x80) == '-128'",
        "match('^doc.*', option[60].text)",
        "option[82].option[1].hex == 'e1'",
        "relay6[0].option[18].exists and relay6[0].peeraddr == fe80::1",
        "option[client-id].exists and substring(option[1].hex, 0, all) == ''",
        "pkt6.msgtype == 1 and pkt6.transid == 0x123456",
    ];
    for (i, e) in exprs.iter().enumerate() {
        let mut v = vec![if i % 3 == 0 { 0x18 } else { 0x40 }];
        v.extend_from_slice(e.as_bytes());
        v.push(0);
        v.extend_from_slice(&packet);
        put(root, t, &format!("expr-{i:02}"), &v)?;
    }
    Ok(())
}

/// Control commands as Kea's clients send them (ARM 19.4, 17.15), several per input
/// separated by 0xff (see fuzz_targets/control.rs).
fn control(root: &Path) -> Res<()> {
    let t = "control";
    let scripts: &[&[&str]] = &[
        &[
            r#"{ "command": "list-commands" }"#,
            r#"{ "command": "version-get" }"#,
            r#"{ "command": "status-get" }"#,
            r#"{ "command": "config-get" }"#,
            r#"{ "command": "config-hash-get" }"#,
        ],
        &[
            r#"{ "command": "lease4-add", "arguments": { "ip-address": "192.0.2.12", "hw-address": "1a:1b:1c:1d:1e:1f", "hostname": "h.example.org", "client-id": "01:02:03", "valid-lft": 3600, "user-context": { "a": 1 } } }"#,
            r#"{ "command": "lease4-get", "arguments": { "ip-address": "192.0.2.12" } }"#,
            r#"{ "command": "lease4-get", "arguments": { "identifier-type": "hw-address", "identifier": "1a:1b:1c:1d:1e:1f", "subnet-id": 1 } }"#,
            r#"{ "command": "lease4-get-by-hw-address", "arguments": { "hw-address": "1a:1b:1c:1d:1e:1f" } }"#,
            r#"{ "command": "lease4-get-by-client-id", "arguments": { "client-id": "01:02:03" } }"#,
            r#"{ "command": "lease4-get-by-hostname", "arguments": { "hostname": "h.example.org" } }"#,
            r#"{ "command": "lease4-get-page", "arguments": { "from": "start", "limit": 2 } }"#,
            r#"{ "command": "lease4-get-all", "arguments": { "subnets": [ 1 ] } }"#,
            r#"{ "command": "lease4-update", "arguments": { "ip-address": "192.0.2.12", "hw-address": "1a:1b:1c:1d:1e:20", "force-create": true } }"#,
            r#"{ "command": "lease4-del", "arguments": { "ip-address": "192.0.2.12" } }"#,
            r#"{ "command": "lease4-wipe", "arguments": { "subnet-id": 1 } }"#,
        ],
        &[
            r#"{ "command": "statistic-get", "arguments": { "name": "pkt4-received" } }"#,
            r#"{ "command": "statistic-get-all" }"#,
            r#"{ "command": "statistic-reset", "arguments": { "name": "pkt4-received" } }"#,
            r#"{ "command": "statistic-sample-age-set", "arguments": { "name": "pkt4-received", "duration": 1245 } }"#,
            r#"{ "command": "statistic-sample-count-set-all", "arguments": { "max-samples": 3 } }"#,
            r#"{ "command": "statistic-remove", "arguments": { "name": "pkt4-parse-failed" } }"#,
            r#"{ "command": "statistic-reset-all" }"#,
            r#"{ "command": "statistic-remove-all" }"#,
        ],
        &[
            r#"{ "command": "config-test", "arguments": { "Dhcp4": { "subnet4": [ { "id": 7, "subnet": "10.0.0.0/8", "pools": [ { "pool": "10.0.0.5-10.0.0.9" } ] } ] } } }"#,
            r#"{ "command": "config-set", "arguments": { "Dhcp4": { "valid-lifetime": 100 }, "hash": "x" } }"#,
            r#"{ "command": "config-write", "arguments": { "filename": "kea-dhcp4.json" } }"#,
            r#"{ "command": "config-reload" }"#,
            r#"{ "command": "dhcp-disable", "arguments": { "max-period": 20 } }"#,
            r#"{ "command": "dhcp-enable" }"#,
            r#"{ "command": "leases-reclaim", "arguments": { "remove": true } }"#,
            r#"{ "command": "shutdown", "arguments": { "exit-value": 3 } }"#,
        ],
        &[
            r#"{ "command": 7 }"#,
            r#"{ "arguments": {} }"#,
            r#"{ "command": "lease4-get", "arguments": [] }"#,
            r#"[ "command" ]"#,
            r#"{ "command": "no-such-command", "service": [ "dhcp4" ] }"#,
            r#"{ "command": "lease4-add", "arguments": { "ip-address": "10.9.9.9" } }"#,
            "{ \"command\": \"version-get\"",
        ],
    ];
    for (i, script) in scripts.iter().enumerate() {
        let mut v = Vec::new();
        for (j, r) in script.iter().enumerate() {
            if j > 0 {
                v.push(0xff);
            }
            v.extend_from_slice(r.as_bytes());
        }
        put(root, t, &format!("script-{i}"), &v)?;
    }
    Ok(())
}

fn main() -> Res<()> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no fuzz dir")?;
    let repo = fuzz.parent().ok_or("no repo dir")?;
    let root = fuzz.join("corpus");
    wire_v4(&root)?;
    replies(&root)?;
    wire_v6(&root)?;
    handler(&root)?;
    handler6(&root)?;
    classify(&root)?;
    control(&root)?;
    configs(&root, repo)?;
    logs(&root)?;
    csv(&root, repo)?;
    println!("seeds written to {}", root.display());
    Ok(())
}
