//! Turns a tcpdump capture of real DHCP traffic (fuzz/capture/capture.sh) into seed files:
//! every distinct message shape as a raw datagram for wire_v4_decode / wire_v6_decode, and
//! each distinct client conversation (its requests in order) as a script of raw-datagram
//! steps for v4_handler / v6_handler. "Distinct" is the sequence of message types and option
//! codes, so twenty perfdhcp clients give one seed, not twenty.
//!
//! Usage: pcap_seeds CAPTURE.pcap CORPUS_DIR (classic pcap, Ethernet link type).

use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;

type Res<T> = Result<T, Box<dyn Error>>;

/// One UDP datagram of the capture.
struct Datagram {
    v6: bool,
    dst_port: u16,
    payload: Vec<u8>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The UDP datagrams of an Ethernet frame carrying IPv4 or IPv6 (no extension headers).
fn udp_of(frame: &[u8]) -> Option<Datagram> {
    let (v6, ip) = match be16(frame, 12)? {
        0x0800 => (false, frame.get(14..)?),
        0x86dd => (true, frame.get(14..)?),
        _ => return None,
    };
    let udp = if v6 {
        if *ip.get(6)? != 17 {
            return None;
        }
        ip.get(40..)?
    } else {
        if *ip.get(9)? != 17 {
            return None;
        }
        ip.get(usize::from(ip.first()? & 0x0f) * 4..)?
    };
    let len = usize::from(be16(udp, 4)?);
    let payload = udp.get(8..len.max(8).min(udp.len()))?.to_vec();
    Some(Datagram {
        v6,
        dst_port: be16(udp, 2)?,
        payload,
    })
}

fn read_pcap(bytes: &[u8]) -> Res<Vec<Datagram>> {
    let magic = bytes.get(..4).ok_or("short pcap")?;
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return Err("not a classic pcap file".into()),
    };
    let u32_at = |at: usize| -> Option<u32> {
        let w: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        })
    };
    if u32_at(20) != Some(1) {
        return Err("capture is not Ethernet (tcpdump -i <veth>)".into());
    }
    let mut out = Vec::new();
    let mut at = 24;
    while let Some(incl) = u32_at(at + 8) {
        let start = at + 16;
        let end = start + incl as usize;
        let Some(frame) = bytes.get(start..end) else {
            break;
        };
        out.extend(udp_of(frame));
        at = end;
    }
    Ok(out)
}

/// DHCPv4: message type and option codes (a shape), and the client (chaddr).
fn shape4(p: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut shape = vec![*p.first()?];
    let mut rest = p.get(240..)?;
    while let [code, tail @ ..] = rest {
        match *code {
            0 => rest = tail,
            255 => break,
            c => {
                let (&len, tail) = tail.split_first()?;
                let body = tail.get(..usize::from(len))?;
                if c == 53 {
                    shape.push(*body.first()?);
                }
                shape.push(c);
                rest = tail.get(usize::from(len)..)?;
            }
        }
    }
    Some((shape, p.get(28..34)?.to_vec()))
}

/// DHCPv6 (client messages only, no relays in the capture): type and option codes, and the
/// client DUID.
fn shape6(p: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut shape = vec![*p.first()?];
    let mut duid = Vec::new();
    let mut rest = p.get(4..)?;
    while rest.len() >= 4 {
        let code = be16(rest, 0)?;
        let len = usize::from(be16(rest, 2)?);
        let body = rest.get(4..4 + len)?;
        if code == 1 {
            duid = body.to_vec();
        }
        shape.extend_from_slice(&code.to_be_bytes());
        rest = rest.get(4 + len..)?;
    }
    Some((shape, duid))
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn put(root: &Path, target: &str, bytes: &[u8]) -> Res<()> {
    let dir = root.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("cap-{:016x}", fnv(bytes))), bytes)?;
    Ok(())
}

/// A raw-datagram step of the handler scripts: step 1, length / 2, the datagram padded to an
/// even length (a zero after the END option is DHCPv4 padding; DHCPv6 has no padding, so an
/// odd v6 message is skipped).
fn raw_step(script: &mut Vec<u8>, p: &[u8], v6: bool) -> bool {
    let even = p.len().div_ceil(2) * 2;
    let Ok(half) = u8::try_from(even / 2) else {
        return false;
    };
    if v6 && even != p.len() {
        return false;
    }
    script.extend_from_slice(&[1, half]);
    script.extend_from_slice(p);
    script.resize(script.len() + (even - p.len()), 0);
    true
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, pcap, corpus] = args.as_slice() else {
        return Err("usage: pcap_seeds CAPTURE.pcap CORPUS_DIR".into());
    };
    let root = Path::new(corpus);
    let datagrams = read_pcap(&std::fs::read(pcap)?)?;
    let mut shapes = BTreeMap::new();
    // client -> (shape of its conversation, its requests)
    let mut conversations: BTreeMap<(bool, Vec<u8>), (Vec<u8>, Vec<Vec<u8>>)> = BTreeMap::new();
    for d in &datagrams {
        let Some((shape, client)) = (if d.v6 {
            shape6(&d.payload)
        } else {
            shape4(&d.payload)
        }) else {
            continue;
        };
        let to_server = d.dst_port == if d.v6 { 547 } else { 67 };
        shapes
            .entry((d.v6, to_server, shape.clone()))
            .or_insert_with(|| d.payload.clone());
        if to_server {
            let c = conversations.entry((d.v6, client)).or_default();
            c.0.extend_from_slice(&shape);
            c.1.push(d.payload.clone());
        }
    }
    let mut counts = [0usize; 4];
    for ((v6, _, _), payload) in &shapes {
        put(
            root,
            if *v6 {
                "wire_v6_decode"
            } else {
                "wire_v4_decode"
            },
            payload,
        )?;
        counts[usize::from(*v6)] += 1;
    }
    let mut seen = BTreeMap::new();
    for ((v6, _), (shape, requests)) in conversations {
        if seen.insert((v6, shape), ()).is_some() {
            continue;
        }
        let mut script = Vec::new();
        for r in requests.iter().take(64) {
            raw_step(&mut script, r, v6);
        }
        if !script.is_empty() {
            put(root, if v6 { "v6_handler" } else { "v4_handler" }, &script)?;
            counts[2 + usize::from(v6)] += 1;
        }
    }
    println!(
        "{} datagrams: {} v4 and {} v6 message shapes, {} v4 and {} v6 client scripts",
        datagrams.len(),
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
    Ok(())
}
