//! The on-disk record: framing (length, CRC32C, sequence number) and the fixed little-endian
//! lease layout with its variable tail. Pure byte functions, no I/O, so the scanner that
//! recovery uses and the writer the shard uses are tested against each other directly.
//!
//! ```text
//! file   := file_header frame* zeros
//! file_header (16 B) := magic "CLLOG\0\0\x01" (8) | family u8 (4 or 6) | 7 reserved zero bytes
//! frame  := crc u32 | len u32 | seq u64 | payload[len] | zero padding to a multiple of 8
//!           crc = CRC32C(len ++ seq ++ payload), one contiguous range (one call per frame)
//! payload (80 B fixed, then the tail):
//!    0 op u8 (1 = lease state, 2 = removal)   1 kind u8 (LeaseKind code)   2 prefix_len u8
//!    3 state u8   4 flags u8 (bit0 fqdn_fwd, bit1 fqdn_rev, bit2 has hwaddr, bit3 has client-id,
//!    bit4 has hostname, bit5 has user-context)   5 htype u8   6 hwaddr_len u8
//!    7 hwaddr source u8 (Kea's HWADDR_SOURCE_* bit; 0 unknown, and in logs written before it)
//!    8..24 address (v4: 4 bytes then 12 zeros)   24 iaid u32   28 valid u32   32 preferred u32
//!   36 cltt u64   44 subnet_id u32   48 pool_id u32   52..72 hwaddr bytes (zero padded)
//!   72 client_id_len u16   74 hostname_len u16   76 user_context_len u32
//!   80.. client_id | hostname (UTF-8) | user_context (UTF-8)
//! ```
//! A length of zero marks the logical end of the log: files are pre-allocated with fallocate,
//! whose blocks read as zeros.

use corelease_types::{ClientId, HwAddr, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(crate) const FILE_MAGIC: [u8; 8] = *b"CLLOG\0\0\x01";
pub(crate) const FILE_HEADER_LEN: usize = 16;
pub(crate) const FRAME_HEADER_LEN: usize = 16;
pub(crate) const FIXED_PAYLOAD_LEN: usize = 80;
/// Largest payload accepted on write and on read. Kea bounds hostnames to 255 bytes and
/// client-ids / DUIDs to 255 (RFC 2132 9.14, RFC 8415 11.1); the rest is room for user-context.
pub(crate) const MAX_PAYLOAD_LEN: usize = 1 << 20;

const OP_UPSERT: u8 = 1;
const OP_REMOVE: u8 = 2;

const FLAG_FQDN_FWD: u8 = 1;
const FLAG_FQDN_REV: u8 = 1 << 1;
const FLAG_HWADDR: u8 = 1 << 2;
const FLAG_CLIENT_ID: u8 = 1 << 3;
const FLAG_HOSTNAME: u8 = 1 << 4;
const FLAG_USER_CONTEXT: u8 = 1 << 5;

/// Identity of a lease in the log: what "newest record per address" is keyed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LeaseKey {
    pub kind: u8,
    pub prefix_len: u8,
    pub addr: [u8; 16],
}

impl std::hash::Hash for LeaseKey {
    /// Two words instead of the derived four-plus writes: recovery hashes every record.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (lo, hi) = self.addr.split_at(8);
        let lo = u64::from_le_bytes(lo.try_into().unwrap_or([0; 8]));
        let hi = u64::from_le_bytes(hi.try_into().unwrap_or([0; 8]));
        state.write_u64(lo ^ (u64::from(self.kind) << 56) ^ (u64::from(self.prefix_len) << 48));
        state.write_u64(hi);
    }
}

impl LeaseKey {
    pub fn new(kind: LeaseKind, addr: IpAddr, prefix_len: u8) -> Self {
        LeaseKey {
            kind: kind as u8,
            prefix_len,
            addr: addr_bytes(addr),
        }
    }

    pub fn of(lease: &Lease) -> Self {
        LeaseKey::new(lease.kind, lease.addr, lease.prefix_len)
    }
}

fn addr_bytes(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(v4) => {
            let mut out = [0u8; 16];
            out[..4].copy_from_slice(&v4.octets());
            out
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Why a log stops before its physical end: the first damaged record, as recovery reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// The frame runs past the end of the file (a write cut short).
    Torn,
    /// Length field outside what a record can be.
    BadLength,
    /// CRC32C over length, sequence number and payload does not match.
    BadChecksum,
    /// Checksum fine but the payload does not describe a lease (unknown codes, bad lengths,
    /// invalid UTF-8).
    BadPayload,
    /// A frame whose sequence number is not above the previous one: left over from an
    /// earlier life of the file, never written after what precedes it.
    SequenceNotIncreasing,
    /// The file does not start with the lease log magic for this family.
    BadFileHeader,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Damage::Torn => "record runs past the end of the file (torn write)",
            Damage::BadLength => "record length field is out of range",
            Damage::BadChecksum => "CRC32C mismatch",
            Damage::BadPayload => "record payload is not a valid lease",
            Damage::SequenceNotIncreasing => "record sequence number does not increase",
            Damage::BadFileHeader => "file header is not a corelease lease log of this family",
        })
    }
}

/// A frame that passed its checks.
pub(crate) struct Frame<'a> {
    pub seq: u64,
    pub payload: &'a [u8],
    /// Bytes the frame occupies including padding.
    pub size: usize,
}

pub(crate) fn padded(len: usize) -> usize {
    (len + 7) & !7
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Reads the frame at the start of `bytes`. `Ok(None)` is the logical end (length zero or not
/// even room for a header, with only zeros left in that room).
pub(crate) fn read_frame(bytes: &[u8]) -> Result<Option<Frame<'_>>, Damage> {
    let Some(header) = bytes.get(..FRAME_HEADER_LEN) else {
        return if bytes.iter().all(|b| *b == 0) {
            Ok(None)
        } else {
            Err(Damage::Torn)
        };
    };
    let len = le_u32(header, 4).ok_or(Damage::Torn)? as usize;
    if len == 0 {
        return Ok(None);
    }
    if !(FIXED_PAYLOAD_LEN..=MAX_PAYLOAD_LEN).contains(&len) {
        return Err(Damage::BadLength);
    }
    let stored_crc = le_u32(header, 0).ok_or(Damage::Torn)?;
    let seq = le_u64(header, 8).ok_or(Damage::Torn)?;
    let covered = bytes.get(4..FRAME_HEADER_LEN + len).ok_or(Damage::Torn)?;
    let payload = covered.get(FRAME_HEADER_LEN - 4..).ok_or(Damage::Torn)?;
    if crc32c::crc32c(covered) != stored_crc {
        return Err(Damage::BadChecksum);
    }
    validate_payload(payload)?;
    Ok(Some(Frame {
        seq,
        payload,
        size: padded(FRAME_HEADER_LEN + len),
    }))
}

/// What a valid payload says, without building a `Lease`.
pub(crate) struct PayloadHead {
    pub key: LeaseKey,
    pub is_removal: bool,
}

pub(crate) fn payload_head(payload: &[u8]) -> Option<PayloadHead> {
    let addr: [u8; 16] = payload.get(8..24)?.try_into().ok()?;
    Some(PayloadHead {
        key: LeaseKey {
            kind: *payload.get(1)?,
            prefix_len: *payload.get(2)?,
            addr,
        },
        is_removal: *payload.first()? == OP_REMOVE,
    })
}

struct TailLens {
    client_id: usize,
    hostname: usize,
    user_context: usize,
}

fn tail_lens(payload: &[u8]) -> Option<TailLens> {
    Some(TailLens {
        client_id: le_u16(payload, 72)? as usize,
        hostname: le_u16(payload, 74)? as usize,
        user_context: le_u32(payload, 76)? as usize,
    })
}

fn validate_payload(payload: &[u8]) -> Result<(), Damage> {
    let bad = Damage::BadPayload;
    let op = *payload.first().ok_or(bad)?;
    let kind = LeaseKind::from_code(*payload.get(1).ok_or(bad)?).ok_or(bad)?;
    let prefix_len = *payload.get(2).ok_or(bad)?;
    let max_prefix = if kind == LeaseKind::V4 { 32 } else { 128 };
    if prefix_len > max_prefix {
        return Err(bad);
    }
    match op {
        OP_REMOVE => return Ok(()),
        OP_UPSERT => {}
        _ => return Err(bad),
    }
    LeaseState::from_code(u32::from(*payload.get(3).ok_or(bad)?)).ok_or(bad)?;
    if usize::from(*payload.get(6).ok_or(bad)?) > corelease_types::MAX_HWADDR_LEN {
        return Err(bad);
    }
    let lens = tail_lens(payload).ok_or(bad)?;
    if FIXED_PAYLOAD_LEN + lens.client_id + lens.hostname + lens.user_context != payload.len() {
        return Err(bad);
    }
    let host_at = FIXED_PAYLOAD_LEN + lens.client_id;
    let ctx_at = host_at + lens.hostname;
    let host = payload.get(host_at..ctx_at).ok_or(bad)?;
    let ctx = payload.get(ctx_at..).ok_or(bad)?;
    if std::str::from_utf8(host).is_err() || std::str::from_utf8(ctx).is_err() {
        return Err(bad);
    }
    Ok(())
}

/// Builds the lease a validated upsert payload describes. `None` for removals.
pub(crate) fn decode_lease(payload: &[u8]) -> Option<Lease> {
    // Callers pass frames that `read_frame` validated; every access below is still checked,
    // so a payload that was not validated yields `None` or a lease, never a panic.
    if *payload.first()? != OP_UPSERT {
        return None;
    }
    let kind = LeaseKind::from_code(*payload.get(1)?)?;
    let prefix_len = *payload.get(2)?;
    let state = LeaseState::from_code(u32::from(*payload.get(3)?))?;
    let flags = *payload.get(4)?;
    let htype = *payload.get(5)?;
    let hw_len = usize::from(*payload.get(6)?);
    let hw_source = *payload.get(7)?;
    let addr_raw: [u8; 16] = payload.get(8..24)?.try_into().ok()?;
    let addr = if kind == LeaseKind::V4 {
        IpAddr::V4(Ipv4Addr::new(
            addr_raw[0],
            addr_raw[1],
            addr_raw[2],
            addr_raw[3],
        ))
    } else {
        IpAddr::V6(Ipv6Addr::from(addr_raw))
    };
    let lens = tail_lens(payload)?;
    let host_at = FIXED_PAYLOAD_LEN + lens.client_id;
    let ctx_at = host_at + lens.hostname;
    let text = |range: std::ops::Range<usize>| -> Option<Box<str>> {
        std::str::from_utf8(payload.get(range)?).ok().map(Box::from)
    };
    Some(Lease {
        kind,
        addr,
        prefix_len,
        iaid: le_u32(payload, 24)?,
        hwaddr: if flags & FLAG_HWADDR != 0 {
            Some(
                HwAddr::new(htype, payload.get(52..52 + hw_len)?).with_source(u32::from(hw_source)),
            )
        } else {
            None
        },
        client_id: if flags & FLAG_CLIENT_ID != 0 {
            Some(ClientId::new(payload.get(FIXED_PAYLOAD_LEN..host_at)?))
        } else {
            None
        },
        valid_lifetime: le_u32(payload, 28)?,
        preferred_lifetime: le_u32(payload, 32)?,
        cltt: le_u64(payload, 36)?,
        subnet_id: SubnetId(le_u32(payload, 44)?),
        pool_id: PoolId(le_u32(payload, 48)?),
        state,
        hostname: if flags & FLAG_HOSTNAME != 0 {
            Some(text(host_at..ctx_at)?)
        } else {
            None
        },
        fqdn_fwd: flags & FLAG_FQDN_FWD != 0,
        fqdn_rev: flags & FLAG_FQDN_REV != 0,
        user_context: if flags & FLAG_USER_CONTEXT != 0 {
            Some(text(ctx_at..payload.len())?)
        } else {
            None
        },
    })
}

/// Payload length of a lease record, or `None` when a field is too long for the layout.
pub(crate) fn upsert_payload_len(lease: &Lease) -> Option<usize> {
    let cid = lease.client_id.as_ref().map_or(0, |c| c.as_bytes().len());
    let host = lease.hostname.as_ref().map_or(0, |h| h.len());
    let ctx = lease.user_context.as_ref().map_or(0, |c| c.len());
    if cid > usize::from(u16::MAX) || host > usize::from(u16::MAX) {
        return None;
    }
    let len = FIXED_PAYLOAD_LEN + cid + host + ctx;
    (len <= MAX_PAYLOAD_LEN).then_some(len)
}

/// Writes a whole frame for `lease` into `out`, which must be exactly
/// `padded(FRAME_HEADER_LEN + payload_len)` bytes and zeroed beyond what is written.
pub(crate) fn encode_upsert(out: &mut [u8], seq: u64, lease: &Lease, payload_len: usize) {
    let Some(payload) = out.get_mut(FRAME_HEADER_LEN..FRAME_HEADER_LEN + payload_len) else {
        return;
    };
    let cid = lease.client_id.as_ref().map_or(&[][..], |c| c.as_bytes());
    let host = lease.hostname.as_deref().unwrap_or("").as_bytes();
    let ctx = lease.user_context.as_deref().unwrap_or("").as_bytes();
    let mut flags = 0u8;
    if lease.fqdn_fwd {
        flags |= FLAG_FQDN_FWD;
    }
    if lease.fqdn_rev {
        flags |= FLAG_FQDN_REV;
    }
    if lease.hwaddr.is_some() {
        flags |= FLAG_HWADDR;
    }
    if lease.client_id.is_some() {
        flags |= FLAG_CLIENT_ID;
    }
    if lease.hostname.is_some() {
        flags |= FLAG_HOSTNAME;
    }
    if lease.user_context.is_some() {
        flags |= FLAG_USER_CONTEXT;
    }
    let (htype, hw, hw_source) = lease.hwaddr.as_ref().map_or((0, &[][..], 0), |h| {
        (
            h.htype(),
            h.as_bytes(),
            u8::try_from(h.source()).unwrap_or(0),
        )
    });
    let fixed: &mut [u8; FIXED_PAYLOAD_LEN] = match payload
        .get_mut(..FIXED_PAYLOAD_LEN)
        .and_then(|s| s.try_into().ok())
    {
        Some(f) => f,
        None => return,
    };
    fixed[0] = OP_UPSERT;
    fixed[1] = lease.kind as u8;
    fixed[2] = lease.prefix_len;
    fixed[3] = lease.state.code() as u8;
    fixed[4] = flags;
    fixed[5] = htype;
    fixed[6] = hw.len() as u8;
    fixed[7] = hw_source;
    fixed[8..24].copy_from_slice(&addr_bytes(lease.addr));
    fixed[24..28].copy_from_slice(&lease.iaid.to_le_bytes());
    fixed[28..32].copy_from_slice(&lease.valid_lifetime.to_le_bytes());
    fixed[32..36].copy_from_slice(&lease.preferred_lifetime.to_le_bytes());
    fixed[36..44].copy_from_slice(&lease.cltt.to_le_bytes());
    fixed[44..48].copy_from_slice(&lease.subnet_id.0.to_le_bytes());
    fixed[48..52].copy_from_slice(&lease.pool_id.0.to_le_bytes());
    fixed[52..72].fill(0);
    fixed[52..52 + hw.len()].copy_from_slice(hw);
    fixed[72..74].copy_from_slice(&(cid.len() as u16).to_le_bytes());
    fixed[74..76].copy_from_slice(&(host.len() as u16).to_le_bytes());
    fixed[76..80].copy_from_slice(&(ctx.len() as u32).to_le_bytes());
    let tail = &mut payload[FIXED_PAYLOAD_LEN..];
    let (cid_out, rest) = tail.split_at_mut(cid.len());
    cid_out.copy_from_slice(cid);
    let (host_out, ctx_out) = rest.split_at_mut(host.len());
    host_out.copy_from_slice(host);
    ctx_out.copy_from_slice(ctx);
    seal_frame(out, seq, payload_len);
}

/// Writes a removal frame into `out` (exactly `padded(FRAME_HEADER_LEN + FIXED_PAYLOAD_LEN)`).
pub(crate) fn encode_removal(out: &mut [u8], seq: u64, key: LeaseKey) {
    let Some(payload) = out.get_mut(FRAME_HEADER_LEN..FRAME_HEADER_LEN + FIXED_PAYLOAD_LEN) else {
        return;
    };
    payload.fill(0);
    payload[0] = OP_REMOVE;
    payload[1] = key.kind;
    payload[2] = key.prefix_len;
    payload[8..24].copy_from_slice(&key.addr);
    seal_frame(out, seq, FIXED_PAYLOAD_LEN);
}

/// Fills in length, sequence number and checksum once the payload is in place.
fn seal_frame(out: &mut [u8], seq: u64, payload_len: usize) {
    if out.len() < FRAME_HEADER_LEN + payload_len {
        return;
    }
    out[4..8].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[8..16].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32c::crc32c(&out[4..FRAME_HEADER_LEN + payload_len]);
    out[0..4].copy_from_slice(&crc.to_le_bytes());
    out[FRAME_HEADER_LEN + payload_len..].fill(0);
}

pub(crate) fn file_header(family_code: u8) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..8].copy_from_slice(&FILE_MAGIC);
    h[8] = family_code;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_lease() -> Lease {
        Lease {
            kind: LeaseKind::V4,
            addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
            prefix_len: 32,
            iaid: 0,
            hwaddr: Some(HwAddr::new(1, &[0, 0x0c, 1, 2, 3, 4])),
            client_id: Some(ClientId::new(&[1, 0, 0x0c, 1, 2, 3, 4])),
            valid_lifetime: 4000,
            preferred_lifetime: 0,
            cltt: 1_700_000_000,
            subnet_id: SubnetId(7),
            pool_id: PoolId(2),
            state: LeaseState::Default,
            hostname: Some("host.example.org".into()),
            fqdn_fwd: true,
            fqdn_rev: false,
            user_context: Some(r#"{"a":1}"#.into()),
        }
    }

    fn encode(lease: &Lease, seq: u64) -> Vec<u8> {
        let len = upsert_payload_len(lease).unwrap();
        let mut buf = vec![0u8; padded(FRAME_HEADER_LEN + len) + 16];
        let frame_len = padded(FRAME_HEADER_LEN + len);
        encode_upsert(&mut buf[..frame_len], seq, lease, len);
        buf
    }

    #[test]
    fn upsert_round_trips_every_field() {
        let lease = sample_lease();
        let buf = encode(&lease, 42);
        let frame = read_frame(&buf).unwrap().unwrap();
        assert_eq!(frame.seq, 42);
        assert_eq!(frame.size % 8, 0);
        assert_eq!(decode_lease(frame.payload).unwrap(), lease);
        // The next frame position reads as the logical end.
        assert!(read_frame(&buf[frame.size..]).unwrap().is_none());
    }

    #[test]
    fn v6_prefix_round_trips() {
        let mut lease = sample_lease();
        lease.kind = LeaseKind::V6Pd;
        lease.addr = "2001:db8:1:100::".parse().unwrap();
        lease.prefix_len = 56;
        lease.iaid = 0xdead_beef;
        lease.preferred_lifetime = 3000;
        lease.hwaddr = None;
        lease.hostname = None;
        let buf = encode(&lease, 1);
        let frame = read_frame(&buf).unwrap().unwrap();
        assert_eq!(decode_lease(frame.payload).unwrap(), lease);
    }

    #[test]
    fn v6_hardware_address_keeps_its_source() {
        let mut lease = sample_lease();
        lease.kind = LeaseKind::V6Na;
        lease.addr = "2001:db8::7".parse().unwrap();
        lease.prefix_len = 128;
        // Found in a relay's RFC 6939 option (Kea's HWADDR_SOURCE_CLIENT_ADDR_RELAY_OPTION).
        lease.hwaddr = Some(HwAddr::new(6, &[0x0a, 0, 0, 0, 0, 0x79]).with_source(8));
        let buf = encode(&lease, 1);
        let frame = read_frame(&buf).unwrap().unwrap();
        let back = decode_lease(frame.payload).unwrap();
        assert_eq!(back.hwaddr.map(|h| (h.htype(), h.source())), Some((6, 8)));
        assert_eq!(back, lease);
        // A record written before the source byte existed (byte 7 zero) reads as unknown.
        let mut old = frame.payload.to_vec();
        old[7] = 0;
        assert_eq!(
            decode_lease(&old).unwrap().hwaddr.map(|h| h.source()),
            Some(0)
        );
    }

    #[test]
    fn every_single_bit_flip_in_a_frame_is_detected() {
        let buf = encode(&sample_lease(), 9);
        let size = read_frame(&buf).unwrap().unwrap().size;
        for bit in 0..(FRAME_HEADER_LEN + upsert_payload_len(&sample_lease()).unwrap()) * 8 {
            let mut copy = buf.clone();
            copy[bit / 8] ^= 1 << (bit % 8);
            match read_frame(&copy[..size + 16]) {
                Err(_) => {}
                // Flipping the length to zero looks like the end of the log: accepted,
                // nothing is applied from it.
                Ok(None) => assert!((32..64).contains(&bit), "bit {bit} read as end of log"),
                Ok(Some(_)) => panic!("bit flip {bit} went undetected"),
            }
        }
    }

    #[test]
    fn frame_cut_short_is_torn() {
        let buf = encode(&sample_lease(), 9);
        assert_eq!(read_frame(&buf[..40]).err(), Some(Damage::Torn));
        assert_eq!(read_frame(&buf[..10]).err(), Some(Damage::Torn));
    }

    #[test]
    fn removal_round_trips_its_key() {
        let key = LeaseKey::of(&sample_lease());
        let mut buf = vec![0u8; padded(FRAME_HEADER_LEN + FIXED_PAYLOAD_LEN)];
        encode_removal(&mut buf, 5, key);
        let frame = read_frame(&buf).unwrap().unwrap();
        let head = payload_head(frame.payload).unwrap();
        assert!(head.is_removal);
        assert_eq!(head.key, key);
        assert!(decode_lease(frame.payload).is_none());
    }
}
