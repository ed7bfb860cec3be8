//! Identity and lease types shared by every corelease crate.
//!
//! These types carry meaning (`SubnetId`, `ClientId`, `LeaseState`) so that no crate passes
//! bare integers or byte vectors across a boundary. This crate must stay tiny and dependency
//! free: the codec, the config model, the allocator, the protocol logic and the lease log all
//! build on it.

use smallvec::SmallVec;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The shard-steering hash the kernel's cBPF programs compute (engine/shard steering.rs) and
/// the protocol crates repeat to find a client's owner shard: `word` and `half` are six
/// bytes read big-endian as a 4-byte and a 2-byte load. Two multiply-and-fold rounds, so every
/// byte (a shared vendor prefix included) reaches the low bits that `% shards` keeps.
pub fn steering_hash(word: u32, half: u32) -> u32 {
    let mut a = word.wrapping_mul(0x9E37_79B1);
    a ^= a >> 16;
    a ^= half;
    a = a.wrapping_mul(0x85EB_CA6B);
    a ^= a >> 16;
    a
}

/// A statistics counter written by exactly one thread (its shard) and read by others: a
/// relaxed load and store, cheaper than a contended read-modify-write.
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    #[inline]
    pub fn add(&self, n: u64) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// A gauge written by exactly one thread; per shard it may go below zero (an address assigned
/// on one shard and reclaimed on another after re-hashing), but the sum over shards is right.
#[derive(Default, Debug)]
pub struct Gauge(AtomicI64);

impl Gauge {
    #[inline]
    pub fn add(&self, n: i64) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Kea's `subnet4[].id` / `subnet6[].id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SubnetId(pub u32);

/// Kea's `pools[].pool-id` (0 when not configured, as in Kea).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PoolId(pub u32);

impl fmt::Display for SubnetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for PoolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Maximum hardware address length Kea accepts (HWAddr::MAX_HWADDR_LEN).
pub const MAX_HWADDR_LEN: usize = 20;

/// Kea's hardware address sources (`HWAddr::HWADDR_SOURCE_*` in dhcp/hwaddr.h): how a DHCPv6
/// client's hardware address was found (ARM 10.11 "MAC/Hardware Addresses in DHCPv6"). Each
/// source is one bit; a `mac-sources` entry is a mask of them ([`ANY`](hwaddr_source::ANY) is
/// all). The values are Kea's, as written in the leases6 CSV `hwaddr_source` column.
pub mod hwaddr_source {
    /// Not known (a DHCPv4 chaddr, a lease added by command or imported without a source).
    pub const UNKNOWN: u32 = 0x0000;
    /// Every source, in Kea's order (`Pkt::getMAC`).
    pub const ANY: u32 = 0xffff;
    /// The link-layer header of a raw socket (never available to a DHCPv6 server on UDP).
    pub const RAW: u32 = 0x0001;
    /// From the client's DUID-LLT or DUID-LL.
    pub const DUID: u32 = 0x0002;
    /// From the EUI-64 interface identifier of its link-local address.
    pub const IPV6_LINK_LOCAL: u32 = 0x0004;
    /// From a relay's Client Link-Layer Address option (RFC 6939).
    pub const CLIENT_ADDR_RELAY_OPTION: u32 = 0x0008;
    /// From a relay's Remote-ID option (RFC 4649).
    pub const REMOTE_ID: u32 = 0x0010;
    /// From a relay's Subscriber-ID option (RFC 4580; Kea reads nothing from it).
    pub const SUBSCRIBER_ID: u32 = 0x0020;
    /// From the cable modem MAC a CMTS relay puts in its DOCSIS vendor option.
    pub const DOCSIS_CMTS: u32 = 0x0040;
    /// From the device-id the cable modem puts in its DOCSIS vendor option.
    pub const DOCSIS_MODEM: u32 = 0x0080;
}

/// A hardware address with its ARP hardware type (1 = Ethernet) and, for a DHCPv6 client,
/// the [`hwaddr_source`] it was found by. Fixed size, no heap.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HwAddr {
    htype: u8,
    len: u8,
    /// One [`hwaddr_source`] bit (all fit in a byte), 0 when unknown.
    source: u8,
    bytes: [u8; MAX_HWADDR_LEN],
}

impl HwAddr {
    /// Builds a hardware address; bytes beyond [`MAX_HWADDR_LEN`] are cut off (as Kea does when
    /// reading chaddr, whose field is 16 bytes anyway).
    pub fn new(htype: u8, addr: &[u8]) -> Self {
        let len = addr.len().min(MAX_HWADDR_LEN);
        let mut bytes = [0u8; MAX_HWADDR_LEN];
        bytes[..len].copy_from_slice(&addr[..len]);
        HwAddr {
            htype,
            len: len as u8,
            source: 0,
            bytes,
        }
    }

    /// The same address found by `source` (one [`hwaddr_source`] bit; anything wider than a
    /// byte is recorded as unknown).
    pub fn with_source(mut self, source: u32) -> Self {
        self.source = u8::try_from(source).unwrap_or(0);
        self
    }

    pub fn htype(&self) -> u8 {
        self.htype
    }

    /// The [`hwaddr_source`] this address came from (0: unknown).
    pub fn source(&self) -> u32 {
        u32::from(self.source)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Parses Kea's textual form `aa:bb:cc:dd:ee:ff` (also accepts `-` separators and bare hex).
    pub fn parse(text: &str, htype: u8) -> Option<Self> {
        let bytes = parse_hex_bytes(text)?;
        if bytes.len() > MAX_HWADDR_LEN {
            return None;
        }
        Some(HwAddr::new(htype, &bytes))
    }
}

impl fmt::Display for HwAddr {
    /// Kea prints hardware addresses as lowercase colon-separated hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_colon_hex(f, self.as_bytes())
    }
}

impl fmt::Debug for HwAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HwAddr({}, ", self.htype)?;
        write_colon_hex(f, self.as_bytes())?;
        write!(f, ")")
    }
}

/// A DHCPv4 client identifier (option 61 contents) or a DHCPv6 DUID. Short identifiers (the
/// common case: type byte + MAC, or a DUID-LLT) live inline; longer ones spill to the heap once,
/// when the lease is created, never per packet.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(SmallVec<[u8; 24]>);

impl ClientId {
    pub fn new(bytes: &[u8]) -> Self {
        ClientId(SmallVec::from_slice(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn parse(text: &str) -> Option<Self> {
        parse_hex_bytes(text).map(|b| ClientId::new(&b))
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_colon_hex(f, &self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId(")?;
        write_colon_hex(f, &self.0)?;
        write!(f, ")")
    }
}

/// Kea's lease states (`state` column of the memfile CSV).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum LeaseState {
    /// Assigned (Kea STATE_DEFAULT).
    #[default]
    Default = 0,
    /// Declined by the client; in probation.
    Declined = 1,
    /// Expired and reclaimed; kept for lease affinity.
    ExpiredReclaimed = 2,
    /// Released by the client; kept for lease affinity (Kea STATE_RELEASED).
    Released = 3,
    /// DHCPv6 address registered by the client (RFC 9686, Kea STATE_REGISTERED).
    Registered = 4,
}

impl LeaseState {
    pub fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => LeaseState::Default,
            1 => LeaseState::Declined,
            2 => LeaseState::ExpiredReclaimed,
            3 => LeaseState::Released,
            4 => LeaseState::Registered,
            _ => return None,
        })
    }

    pub fn code(self) -> u32 {
        self as u32
    }
}

/// What a lease leases: a v4 address, a v6 address (IA_NA / IA_TA) or a delegated prefix.
/// The numeric values are Kea's lease types for v6 (0 = NA, 1 = TA, 2 = PD); V4 is 3 here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum LeaseKind {
    V6Na = 0,
    V6Ta = 1,
    V6Pd = 2,
    V4 = 3,
}

impl LeaseKind {
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => LeaseKind::V6Na,
            1 => LeaseKind::V6Ta,
            2 => LeaseKind::V6Pd,
            3 => LeaseKind::V4,
            _ => return None,
        })
    }
}

/// One lease, family-agnostic: the unit of the lease table, the lease log and the Kea CSV.
/// Times are seconds since the Unix epoch; `expire = cltt + valid_lifetime` as in Kea.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub kind: LeaseKind,
    pub addr: IpAddr,
    /// 32 for v4, 128 for v6 addresses, the delegated length for prefixes.
    pub prefix_len: u8,
    /// IAID (v6 only; 0 for v4).
    pub iaid: u32,
    pub hwaddr: Option<HwAddr>,
    /// v4 client identifier or v6 DUID.
    pub client_id: Option<ClientId>,
    pub valid_lifetime: u32,
    /// v6 only; 0 for v4.
    pub preferred_lifetime: u32,
    /// Client last transmission time.
    pub cltt: u64,
    pub subnet_id: SubnetId,
    pub pool_id: PoolId,
    pub state: LeaseState,
    pub hostname: Option<Box<str>>,
    pub fqdn_fwd: bool,
    pub fqdn_rev: bool,
    /// JSON text of Kea's `user-context`, kept verbatim.
    pub user_context: Option<Box<str>>,
}

impl Lease {
    /// Expiration time as Kea computes it (cltt + valid lifetime), saturating.
    pub fn expire(&self) -> u64 {
        self.cltt.saturating_add(u64::from(self.valid_lifetime))
    }

    pub fn is_expired(&self, now: u64) -> bool {
        self.expire() <= now
    }
}

fn write_colon_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_str(":")?;
        }
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// Parses `01:02:0a`, `01-02-0a`, `01 02 0a` or `01020a` (Kea accepts all of these for
/// identifiers). Single-digit groups between separators (`1:2:a`) are accepted as Kea does.
pub fn parse_hex_bytes(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if text.is_empty() {
        return Some(Vec::new());
    }
    if text.contains([':', '-', ' ']) {
        text.split([':', '-', ' '])
            .map(|g| {
                if g.is_empty() || g.len() > 2 {
                    None
                } else {
                    u8::from_str_radix(g, 16).ok()
                }
            })
            .collect()
    } else {
        if !text.len().is_multiple_of(2) {
            // Kea pads an odd-length hex string with a leading zero.
            let padded = format!("0{text}");
            return parse_hex_bytes(&padded);
        }
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwaddr_prints_like_kea() {
        let hw = HwAddr::new(1, &[0, 0x0c, 1, 2, 3, 0xff]);
        assert_eq!(hw.to_string(), "00:0c:01:02:03:ff");
    }

    #[test]
    fn hex_forms_parse_alike() {
        assert_eq!(parse_hex_bytes("01:02:0a"), Some(vec![1, 2, 10]));
        assert_eq!(parse_hex_bytes("01020a"), Some(vec![1, 2, 10]));
        assert_eq!(parse_hex_bytes("1:2:a"), Some(vec![1, 2, 10]));
        assert_eq!(parse_hex_bytes("0x01020a"), Some(vec![1, 2, 10]));
        assert_eq!(parse_hex_bytes("102"), Some(vec![1, 2]));
        assert_eq!(parse_hex_bytes("zz"), None);
        assert_eq!(parse_hex_bytes("01::02"), None);
    }

    #[test]
    fn lease_expire_saturates() {
        let lease = Lease {
            kind: LeaseKind::V4,
            addr: "192.0.2.1".parse().unwrap(),
            prefix_len: 32,
            iaid: 0,
            hwaddr: None,
            client_id: None,
            valid_lifetime: u32::MAX,
            preferred_lifetime: 0,
            cltt: u64::MAX - 5,
            subnet_id: SubnetId(1),
            pool_id: PoolId(0),
            state: LeaseState::Default,
            hostname: None,
            fqdn_fwd: false,
            fqdn_rev: false,
            user_context: None,
        };
        assert_eq!(lease.expire(), u64::MAX);
        assert!(!lease.is_expired(1000));
    }
}
