//! The sender/receiver threads. Each worker owns one UDP socket bound to the same local
//! address and port as its siblings (SO_REUSEPORT) and a slice of the client space
//! (clients `index, index + threads, ...`). A classic BPF program attached to the reuseport
//! group (SO_ATTACH_REUSEPORT_CBPF) returns `word % threads`, where the word is the DHCPv4
//! xid (a worker only uses xids with `xid % threads == index`) or the tail of the DHCPv6
//! RELAY-REPL peer-address (the client number): the kernel hands every reply to the thread
//! that sent the request, so there are no locks and no hand-offs between threads.
//!
//! A worker loop: drain the socket (recvmmsg), expire requests older than the drop time
//! (-d) or, in the avalanche scenario, resend them, initiate new exchanges as the rate (-r)
//! or the in-flight window allows, send renewals / releases (-f / -F), flush what it wrote
//! in one sendmmsg, publish counters for the main thread's reports. Nothing in the loop
//! allocates per packet: requests are built into a fixed buffer and queued in a fixed
//! batch, and in-flight exchanges live in a pre-sized ring of slots indexed by sequence
//! number.

use crate::options::{Family, Options, Scenario};
use crate::stats::{ExchangeKind, ExchangeStats, SecondSample, TimeSeries};
use crate::wire::{self, ClientFrame, MessageType, MAX_BUILT_LEN};
use crate::wire6::{self, IaKinds, MAX_BUILT_LEN_V6};

mod batch;
mod v6;

use batch::BatchSocket;
use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Linux SO_ATTACH_REUSEPORT_CBPF (asm-generic/socket.h); the libc crate lacks it.
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;
/// Receive at most this many datagrams before doing other work, so sending keeps pace.
const RECV_BATCH: usize = 64;
/// Without -r, initiate at most this many exchanges per loop turn.
const SEND_BATCH: usize = 64;
/// Most exchanges one worker keeps in flight, whatever --window or -R say (the slot ring is
/// four times this: 8 MiB).
pub const MAX_WINDOW: usize = 1 << 16;
/// Most clients per worker whose lease is remembered for -f / -F (48 bytes each).
const MAX_TRACKED_LEASES: usize = 1 << 22;

/// Failures that stop a run before or while it starts (exit code 1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("cannot resolve server {0:?} to an address of the chosen family (-4 / -6)")]
    BadServer(String),
    #[error("cannot find a local address from -l {0:?} (give an address, or an interface that has one of the chosen family)")]
    BadLocal(String),
    #[error("cannot find the local address that routes to {0}: {1}")]
    NoRoute(SocketAddr, std::io::Error),
    #[error("cannot open UDP socket on {0}: {1} (is a server bound to the same address and port? give another local address with -l, or another port with -L)")]
    Socket(SocketAddr, std::io::Error),
    #[error("cannot attach the reply-steering BPF program to the reuseport group: {0} (use --threads 1)")]
    Steering(std::io::Error),
    #[error("cannot open --record-acks file {0}: {1}")]
    RecordFile(String, std::io::Error),
    #[error("cannot spawn worker thread: {0}")]
    Spawn(std::io::Error),
    #[error("DHCPv6 clients on a link need -l INTERFACE (or -A 1 to act as a relay)")]
    V6DirectNeedsInterface,
    #[error(
        "a relay (-A 1) sends to a unicast server address, not to multicast 'all' / 'servers'"
    )]
    V6RelayNeedsUnicast,
}

/// Where the generator sends from and to.
#[derive(Clone, Copy, Debug)]
pub struct Endpoints {
    pub local: SocketAddr,
    pub server: SocketAddr,
}

/// Resolves the server argument, -N, -l and -L the way perfdhcp does. DHCPv4: both ports
/// default to 67, since the generator is a relay agent and servers answer relays on the
/// server port (RFC 2131 4.1; Kea 2.2 answers to giaddr:67 even when it listens on another
/// port, as a capture shows). DHCPv6 with -A 1: both default to 547, where servers send
/// RELAY-REPL (RFC 8415 section 7.2).
pub fn resolve_endpoints(opts: &Options) -> Result<Endpoints, RunError> {
    use std::net::ToSocketAddrs;
    if opts.family == Family::V6 && opts.relay_level.is_none() {
        return resolve_direct6(opts);
    }
    let v6 = opts.family == Family::V6;
    let default_port = if v6 { 547 } else { 67 };
    let name = opts.server.clone().unwrap_or_default();
    if v6 && (name == "all" || name == "servers") {
        return Err(RunError::V6RelayNeedsUnicast);
    }
    let remote_port = if opts.remote_port == 0 {
        default_port
    } else {
        opts.remote_port
    };
    let server = (name.as_str(), remote_port)
        .to_socket_addrs()
        .map_err(|_| RunError::BadServer(name.clone()))?
        .find(|a| a.is_ipv6() == v6)
        .ok_or_else(|| RunError::BadServer(name.clone()))?;
    let local_ip = match &opts.local {
        Some(text) => match text.parse::<IpAddr>() {
            Ok(ip) if ip.is_ipv6() == v6 => ip,
            Ok(_) => return Err(RunError::BadLocal(text.clone())),
            Err(_) => interface_address(text, v6, false)
                .ok_or_else(|| RunError::BadLocal(text.clone()))?,
        },
        None => route_source(server)?,
    };
    let local_port = if opts.local_port == 0 {
        default_port
    } else {
        opts.local_port
    };
    Ok(Endpoints {
        local: SocketAddr::new(local_ip, local_port),
        server,
    })
}

/// The source address the kernel would use towards `server` (connect a UDP socket; no
/// packet is sent).
fn route_source(server: SocketAddr) -> Result<IpAddr, RunError> {
    let any: SocketAddr = if server.is_ipv6() {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
    } else {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
    };
    let probe = UdpSocket::bind(any).map_err(|e| RunError::NoRoute(server, e))?;
    probe
        .connect(server)
        .map_err(|e| RunError::NoRoute(server, e))?;
    Ok(probe
        .local_addr()
        .map_err(|e| RunError::NoRoute(server, e))?
        .ip())
}

/// DHCPv6 clients on a link (perfdhcp -6 without -A): they speak from the interface's
/// link-local address, port 546, to All_DHCP_Relay_Agents_and_Servers (ff02::1:2, the
/// default and `all`) or All_DHCP_Servers (ff05::1:3, `servers`) or a unicast address, port
/// 547 (RFC 8415 sections 7.1, 7.2).
fn resolve_direct6(opts: &Options) -> Result<Endpoints, RunError> {
    use std::net::SocketAddrV6;
    let ifname = opts
        .local
        .as_deref()
        .ok_or(RunError::V6DirectNeedsInterface)?;
    let c_name = std::ffi::CString::new(ifname).map_err(|_| RunError::BadLocal(ifname.into()))?;
    // SAFETY: c_name is a valid NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if ifindex == 0 {
        return Err(RunError::BadLocal(ifname.into()));
    }
    let local_ip = match interface_address(ifname, true, true) {
        Some(IpAddr::V6(ip)) => ip,
        _ => return Err(RunError::BadLocal(ifname.into())),
    };
    let name = opts.server.as_deref().unwrap_or("all");
    let server_ip = match name {
        "all" => Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2),
        "servers" => Ipv6Addr::new(0xff05, 0, 0, 0, 0, 0, 1, 3),
        other => other
            .parse::<Ipv6Addr>()
            .map_err(|_| RunError::BadServer(other.into()))?,
    };
    let scoped = |ip: Ipv6Addr| {
        let link_scope = ip.segments()[0] & 0xffc0 == 0xfe80 || ip.segments()[0] == 0xff02;
        if link_scope {
            ifindex
        } else {
            0
        }
    };
    let port = |given: u16, default: u16| if given == 0 { default } else { given };
    Ok(Endpoints {
        local: SocketAddr::V6(SocketAddrV6::new(
            local_ip,
            port(opts.local_port, 546),
            0,
            scoped(local_ip),
        )),
        server: SocketAddr::V6(SocketAddrV6::new(
            server_ip,
            port(opts.remote_port, 547),
            0,
            scoped(server_ip),
        )),
    })
}

/// An address of the named interface (getifaddrs(3)): its first IPv4 address, or for IPv6
/// its first address that is (`link_local`) or is not link-local, else any.
fn interface_address(name: &str, v6: bool, link_local_wanted: bool) -> Option<IpAddr> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return None;
    }
    let mut found: Option<IpAddr> = None;
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: cursor walks the list getifaddrs returned, which stays valid until freed.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        if entry.ifa_addr.is_null() || entry.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let entry_name = unsafe { std::ffi::CStr::from_ptr(entry.ifa_name) };
        if entry_name.to_bytes() != name.as_bytes() {
            continue;
        }
        // SAFETY: ifa_addr is non-null and points to a sockaddr of the family it declares.
        let family = unsafe { (*entry.ifa_addr).sa_family } as libc::c_int;
        if !v6 && family == libc::AF_INET {
            // SAFETY: family AF_INET means the sockaddr is a sockaddr_in.
            let sin = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in) };
            found = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))));
            break;
        }
        if v6 && family == libc::AF_INET6 {
            // SAFETY: family AF_INET6 means the sockaddr is a sockaddr_in6.
            let sin6 = unsafe { &*(entry.ifa_addr as *const libc::sockaddr_in6) };
            let addr = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let preferred = (addr.segments()[0] & 0xffc0 == 0xfe80) == link_local_wanted;
            if found.is_none() || preferred {
                found = Some(IpAddr::V6(addr));
            }
            if preferred {
                break;
            }
        }
    }
    // SAFETY: head came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    found
}

/// Where the steering program reads the 32-bit word (and which bits of it) whose value
/// modulo the thread count is the owning thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Steering {
    pub offset: u32,
    pub mask: u32,
}

/// The xid of a DHCPv4 reply (RFC 2131 figure 1); the tail of a RELAY-REPL's peer-address
/// for relayed DHCPv6 (the client number, see wire6::peer_address); the 24-bit xid after
/// the message type of a DHCPv6 reply sent straight to the client (RFC 8415 section 8).
pub fn steering(family: Family, relayed: bool) -> Steering {
    match (family, relayed) {
        (Family::V4, _) => Steering {
            offset: 4,
            mask: u32::MAX,
        },
        (Family::V6, true) => Steering {
            offset: wire6::PEER_ADDRESS_TAIL as u32,
            mask: u32::MAX,
        },
        (Family::V6, false) => Steering {
            offset: 0,
            mask: 0x00ff_ffff,
        },
    }
}

/// Opens `count` sockets bound to `local`, in thread order. With more than one socket they
/// form a reuseport group steered by `steering` (module comment).
pub fn open_sockets(
    local: SocketAddr,
    count: usize,
    steering: Steering,
) -> Result<Vec<UdpSocket>, RunError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let err = |e| RunError::Socket(local, e);
        let domain = if local.is_ipv6() {
            Domain::IPV6
        } else {
            Domain::IPV4
        };
        let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(err)?;
        if count > 1 {
            socket.set_reuse_port(true).map_err(err)?;
        }
        // Large buffers absorb reply bursts; failing to grow them is not fatal.
        let _ = socket.set_recv_buffer_size(4 << 20);
        let _ = socket.set_send_buffer_size(4 << 20);
        socket.bind(&local.into()).map_err(err)?;
        socket.set_nonblocking(true).map_err(err)?;
        sockets.push(UdpSocket::from(socket));
    }
    if count > 1 {
        if let Some(first) = sockets.first() {
            attach_steering(first, count as u32, steering)?;
        }
    }
    Ok(sockets)
}

/// Attaches `return (word_at(offset) & mask) % n` to the reuseport group. A reuseport
/// program sees the UDP payload at offset 0.
fn attach_steering(socket: &UdpSocket, n: u32, steering: Steering) -> Result<(), RunError> {
    let mut program = [
        // ld [offset]  (BPF_LD | BPF_W | BPF_ABS): A = big-endian word
        libc::sock_filter {
            code: 0x20,
            jt: 0,
            jf: 0,
            k: steering.offset,
        },
        // and #mask  (BPF_ALU | BPF_AND | BPF_K)
        libc::sock_filter {
            code: 0x54,
            jt: 0,
            jf: 0,
            k: steering.mask,
        },
        // mod #n  (BPF_ALU | BPF_MOD | BPF_K)
        libc::sock_filter {
            code: 0x94,
            jt: 0,
            jf: 0,
            k: n,
        },
        // ret a   (BPF_RET | BPF_A): index of the socket in bind order
        libc::sock_filter {
            code: 0x16,
            jt: 0,
            jf: 0,
            k: 0,
        },
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: fprog points at `program`, which outlives the call; the kernel copies it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            &fprog as *const libc::sock_fprog as *const libc::c_void,
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(RunError::Steering(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Counters a worker publishes for the main thread (reports, -D, progress). Each worker has
/// its own, on its own cache line; only the owner writes.
#[derive(Default)]
#[repr(align(64))]
pub struct LiveCounters {
    pub sent: [AtomicU64; 4],
    pub received: [AtomicU64; 4],
    pub collected: [AtomicU64; 4],
    pub rejected: [AtomicU64; 4],
    pub completed: AtomicU64,
    pub p99_us: AtomicU64,
    /// Requests waiting for a reply, per exchange.
    pub waiting: [AtomicU64; 4],
    /// Avalanche retransmissions so far, per exchange whose reply was missing.
    pub resent: [AtomicU64; 4],
    /// Avalanche: requests retransmitted at least once, per exchange.
    pub retried: [AtomicU64; 4],
}

/// State shared by the main thread and the workers.
pub struct Shared {
    /// Stop initiating exchanges (test period over, time cap); workers then drain.
    pub stop: AtomicBool,
    /// Stop at once (-D reached).
    pub abort: AtomicBool,
    pub live: Vec<LiveCounters>,
    pub start: Instant,
}

/// Optional -u checker shared by the workers: an open-addressing table of
/// (address << 32 | client + 1) words updated with compare-and-swap, so threads never lock.
pub struct AddressTable {
    words: Vec<AtomicU64>,
    mask: usize,
}

impl AddressTable {
    pub fn new(clients: u32) -> Self {
        let size = (clients as usize * 2)
            .next_power_of_two()
            .clamp(1024, 1 << 24);
        AddressTable {
            words: (0..size).map(|_| AtomicU64::new(0)).collect(),
            mask: size - 1,
        }
    }

    /// Records that `client` now holds `address`; returns false if another client held it.
    pub fn claim(&self, address: Ipv4Addr, client: u32) -> bool {
        let key = u64::from(u32::from(address));
        let owner = u64::from(client) + 1;
        let word = (key << 32) | owner;
        let mut at = (u32::from(address).wrapping_mul(0x9e37_79b9) as usize) & self.mask;
        for _ in 0..=self.mask {
            let Some(slot) = self.words.get(at) else {
                return true;
            };
            let current = slot.load(Ordering::Relaxed);
            if current == 0 {
                match slot.compare_exchange(0, word, Ordering::AcqRel, Ordering::Relaxed) {
                    Ok(_) => return true,
                    Err(_) => continue, // someone took the slot: re-read it
                }
            }
            if current >> 32 == key {
                let previous = current & 0xffff_ffff;
                slot.store(word, Ordering::Relaxed);
                return previous == 0 || previous == owner;
            }
            at = (at + 1) & self.mask;
        }
        true // table full: cannot judge, do not report a false duplicate
    }

    /// Marks `address` as no longer held (after a RELEASE).
    pub fn release(&self, address: Ipv4Addr) {
        let key = u64::from(u32::from(address));
        let mut at = (u32::from(address).wrapping_mul(0x9e37_79b9) as usize) & self.mask;
        for _ in 0..=self.mask {
            let Some(slot) = self.words.get(at) else {
                return;
            };
            let current = slot.load(Ordering::Relaxed);
            if current == 0 {
                return;
            }
            if current >> 32 == key {
                slot.store(key << 32, Ordering::Relaxed);
                return;
            }
            at = (at + 1) & self.mask;
        }
    }
}

/// Everything a worker needs from the command line, resolved once.
#[derive(Clone, Debug)]
pub struct WorkerPlan {
    pub index: usize,
    pub threads: usize,
    pub endpoints: Endpoints,
    pub clients: u32,
    pub mac_base: [u8; 6],
    pub broadcast: bool,
    pub initial_only: bool,
    pub scenario: Scenario,
    /// This worker's share of -r / -f / -F (per second).
    pub rate: Option<f64>,
    pub renew_rate: Option<f64>,
    pub release_rate: Option<f64>,
    /// This worker's share of -n.
    pub quota: Option<u64>,
    pub window: usize,
    pub drop_time: Duration,
    pub exit_wait: Option<Duration>,
    pub time_cap: Duration,
    pub family: Family,
    /// DHCPv6: which IAs to ask for (-e), rapid commit (-c), the DUID template (-b duid).
    pub ias: IaKinds,
    pub rapid_commit: bool,
    pub duid_template: Vec<u8>,
    /// DHCPv6 through a simulated relay (-A 1) rather than as clients on the link.
    pub relayed: bool,
}

/// What a worker hands back when it ends.
pub struct WorkerResult {
    pub stats: [ExchangeStats; 4],
    pub malformed: u64,
    pub series: Vec<SecondSample>,
    pub last_completion: Option<Duration>,
    pub retransmissions: u64,
    pub completed: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SlotState {
    Free,
    AwaitOffer,
    AwaitAck,
    AwaitRenewAck,
    /// DHCPv6 RELEASE, which the server answers with a REPLY (RFC 8415 18.3.7).
    AwaitReleaseReply,
}

impl SlotState {
    /// The exchange whose reply this slot waits for.
    fn awaited(self) -> Option<ExchangeKind> {
        match self {
            SlotState::Free => None,
            SlotState::AwaitOffer => Some(ExchangeKind::DiscoverOffer),
            SlotState::AwaitAck => Some(ExchangeKind::RequestAck),
            SlotState::AwaitRenewAck => Some(ExchangeKind::RenewAck),
            SlotState::AwaitReleaseReply => Some(ExchangeKind::Release),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    xid: u32,
    state: SlotState,
    /// Position of the client within this worker's slice.
    client_pos: u32,
    sent_ns: u64,
    /// Avalanche: retransmissions so far.
    attempts: u32,
    /// DHCPv4 REQUEST: the offered address and server, to resend the same REQUEST.
    offered: Ipv4Addr,
    server_id: Ipv4Addr,
}

const FREE_SLOT: Slot = Slot {
    xid: 0,
    state: SlotState::Free,
    client_pos: 0,
    sent_ns: 0,
    attempts: 0,
    offered: Ipv4Addr::UNSPECIFIED,
    server_id: Ipv4Addr::UNSPECIFIED,
};

#[derive(Clone, Copy, Debug)]
struct LeaseRecord {
    address: Option<Ipv4Addr>,
    server_id: Ipv4Addr,
    address6: Option<Ipv6Addr>,
    prefix6: Option<(Ipv6Addr, u8)>,
}

impl LeaseRecord {
    fn held(&self) -> bool {
        self.address.is_some() || self.address6.is_some() || self.prefix6.is_some()
    }
}

const NO_LEASE: LeaseRecord = LeaseRecord {
    address: None,
    server_id: Ipv4Addr::UNSPECIFIED,
    address6: None,
    prefix6: None,
};

/// Buffers --record-acks lines and writes whole buffers to the shared O_APPEND file, so lines
/// of different threads never interleave (appends of one write(2) are atomic on Linux for
/// regular files) and nothing allocates per ACK.
pub struct AckRecorder {
    file: Arc<File>,
    buffer: Vec<u8>,
}

const RECORD_FLUSH_AT: usize = 60 * 1024;

impl AckRecorder {
    pub fn new(file: Arc<File>) -> Self {
        AckRecorder {
            file,
            buffer: Vec::with_capacity(64 * 1024),
        }
    }

    fn record(&mut self, client_id: &[u8], address: &dyn std::fmt::Display, lifetime: Option<u32>) {
        for (i, byte) in client_id.iter().enumerate() {
            if i > 0 {
                self.buffer.push(b':');
            }
            let _ = write!(self.buffer, "{byte:02x}");
        }
        let _ = match lifetime {
            Some(l) => writeln!(self.buffer, " {address} {l}"),
            None => writeln!(self.buffer, " {address} -"),
        };
        if self.buffer.len() >= RECORD_FLUSH_AT {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.buffer.is_empty() {
            let _ = (&*self.file).write_all(&self.buffer);
            self.buffer.clear();
        }
    }
}

/// MAC address of client number `n`: the -b mac base plus `n`, carried across the octets
/// from the right (perfdhcp derives client MACs from the base the same way).
pub fn client_mac(base: &[u8; 6], n: u32) -> [u8; 6] {
    let mut value = 0u64;
    for byte in base {
        value = (value << 8) | u64::from(*byte);
    }
    let value = value.wrapping_add(u64::from(n)) & 0xffff_ffff_ffff;
    let bytes = value.to_be_bytes();
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&bytes[2..8]);
    mac
}

/// One sender/receiver thread.
pub struct Worker {
    plan: WorkerPlan,
    io: BatchSocket,
    shared: Arc<Shared>,
    uniqueness: Option<Arc<AddressTable>>,
    recorder: Option<AckRecorder>,
    slots: Vec<Slot>,
    mask: u64,
    /// Most exchanges in flight at once (--window, or the whole slice for avalanche).
    window: u64,
    next_seq: u64,
    oldest_seq: u64,
    /// Slots waiting for a reply, per exchange (DISCOVER-OFFER, REQUEST-ACK, ...).
    waiting: [u64; 4],
    /// Avalanche retransmissions, per exchange whose reply was missing.
    resent: [u64; 4],
    /// Avalanche: requests retransmitted at least once, per exchange.
    retried: [u64; 4],
    /// Avalanche: when the next scan for overdue requests is due.
    next_resend_scan_ns: u64,
    /// Number of clients in this worker's slice.
    slice_len: u32,
    next_client_pos: u32,
    initiated: u64,
    renews_sent: u64,
    releases_sent: u64,
    leases: Vec<LeaseRecord>,
    lease_cursor: u32,
    stats: [ExchangeStats; 4],
    malformed: u64,
    series: TimeSeries,
    completed: u64,
    last_completion_ns: Option<u64>,
    retransmissions: u64,
    tx: [u8; MAX_BUILT_LEN_V6],
    rx: [u8; 2048],
    /// DHCPv6: the DUID of the client being written, and the server-id option (whole) the
    /// server sent last, reused for RENEW / RELEASE.
    duid: [u8; 64],
    server_id6: [u8; wire6::MAX_COPIED_OPTION],
    server_id6_len: usize,
}

/// The DHCPv4 part of the transmit buffer.
fn tx4(tx: &mut [u8; MAX_BUILT_LEN_V6]) -> Option<&mut [u8; MAX_BUILT_LEN]> {
    tx.first_chunk_mut::<MAX_BUILT_LEN>()
}

impl Worker {
    pub fn new(
        plan: WorkerPlan,
        socket: UdpSocket,
        shared: Arc<Shared>,
        uniqueness: Option<Arc<AddressTable>>,
        recorder: Option<AckRecorder>,
    ) -> Self {
        let slice_len = slice_len(plan.clients, plan.index, plan.threads);
        let wanted = match plan.scenario {
            Scenario::Avalanche => (slice_len as usize).max(plan.window).min(MAX_WINDOW),
            Scenario::Basic => plan.window.min(MAX_WINDOW),
        };
        // The ring holds more than the window: a DHCPv6 REQUEST, a renewal or a release takes
        // a slot of its own while older slots wait to be reclaimed.
        let capacity = wanted
            .saturating_mul(4)
            .next_power_of_two()
            .clamp(64, 1 << 22);
        let track_leases = plan.renew_rate.is_some() || plan.release_rate.is_some();
        Worker {
            window: wanted as u64,
            slots: vec![FREE_SLOT; capacity],
            mask: capacity as u64 - 1,
            next_seq: 0,
            oldest_seq: 0,
            waiting: [0; 4],
            resent: [0; 4],
            retried: [0; 4],
            next_resend_scan_ns: 0,
            slice_len,
            next_client_pos: 0,
            initiated: 0,
            renews_sent: 0,
            releases_sent: 0,
            leases: if track_leases {
                vec![NO_LEASE; (slice_len as usize).min(MAX_TRACKED_LEASES)]
            } else {
                Vec::new()
            },
            lease_cursor: 0,
            stats: Default::default(),
            malformed: 0,
            series: TimeSeries::default(),
            completed: 0,
            last_completion_ns: None,
            retransmissions: 0,
            tx: [0u8; MAX_BUILT_LEN_V6],
            rx: [0u8; 2048],
            duid: [0u8; 64],
            server_id6: [0u8; wire6::MAX_COPIED_OPTION],
            server_id6_len: 0,
            io: BatchSocket::new(socket, plan.endpoints.server),
            plan,
            shared,
            uniqueness,
            recorder,
        }
    }

    fn live(&self) -> Option<&LiveCounters> {
        self.shared.live.get(self.plan.index)
    }

    fn now_ns(&self) -> u64 {
        self.shared.start.elapsed().as_nanos() as u64
    }

    fn client_number(&self, pos: u32) -> u32 {
        pos.wrapping_mul(self.plan.threads as u32)
            .wrapping_add(self.plan.index as u32)
    }

    fn frame(&self, xid: u32, client_pos: u32) -> ClientFrame {
        let giaddr = match self.plan.endpoints.local.ip() {
            IpAddr::V4(ip) => ip,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        ClientFrame {
            xid,
            mac: client_mac(&self.plan.mac_base, self.client_number(client_pos)),
            giaddr,
            broadcast: self.plan.broadcast,
            relay_port: match self.plan.endpoints.local.port() {
                67 => None,
                port => Some(port),
            },
        }
    }

    fn xid_bits(&self) -> u32 {
        match self.plan.family {
            Family::V4 => 32,
            // RFC 8415 section 8: the transaction id is 24 bits.
            Family::V6 => 24,
        }
    }

    fn xid_for(&self, seq: u64) -> u32 {
        xid_for(seq, self.plan.threads, self.plan.index, self.xid_bits())
    }

    /// Writes the first message of an exchange (DISCOVER / SOLICIT) for a client.
    fn build_initial(&mut self, xid: u32, client_pos: u32) -> usize {
        match self.plan.family {
            Family::V4 => {
                let frame = self.frame(xid, client_pos);
                tx4(&mut self.tx).map_or(0, |tx| wire::build_discover(tx, &frame))
            }
            Family::V6 => self.build_solicit(xid, client_pos),
        }
    }

    /// Queues the request written in the transmit buffer; it leaves with the next flush.
    fn send(&mut self, len: usize) {
        match self.tx.get(..len) {
            Some(bytes) if len > 0 => self.io.queue(bytes),
            _ => self.io.send_failures += 1,
        }
    }

    /// Takes the next sequence number if the ring has room.
    fn take_slot(&mut self) -> Option<(u64, u32)> {
        // Reclaim answered slots at the old end first (expire() only runs once a turn).
        while self.next_seq - self.oldest_seq > self.mask {
            let oldest = self.slots.get((self.oldest_seq & self.mask) as usize);
            if !oldest.is_some_and(|s| s.state == SlotState::Free) {
                return None;
            }
            self.oldest_seq += 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        Some((seq, self.xid_for(seq)))
    }

    fn start_exchange(&mut self, now_ns: u64) -> bool {
        if self.slice_len == 0 || self.in_flight() >= self.window {
            return false;
        }
        let Some((seq, xid)) = self.take_slot() else {
            return false;
        };
        let client_pos = self.next_client_pos;
        self.next_client_pos = (self.next_client_pos + 1) % self.slice_len;
        let len = self.build_initial(xid, client_pos);
        // A datagram the kernel refuses (perfdhcp's "locallimit") still counts as sent and
        // is collected as a drop, as perfdhcp counts it.
        self.send(len);
        self.occupy(
            seq,
            Slot {
                xid,
                state: SlotState::AwaitOffer,
                client_pos,
                sent_ns: now_ns,
                attempts: 0,
                ..FREE_SLOT
            },
        );
        self.initiated += 1;
        self.stats[ExchangeKind::DiscoverOffer.index()].sent += 1;
        true
    }

    fn send_renew(&mut self, now_ns: u64) -> bool {
        if self.plan.family == Family::V6 {
            return self.send_with_lease6(now_ns, wire6::MessageType6::Renew);
        }
        let Some(pos) = self.next_leased_client() else {
            return false;
        };
        let Some(lease) = self.leases.get(pos as usize).copied() else {
            return false;
        };
        let Some(address) = lease.address else {
            return false;
        };
        let Some((seq, xid)) = self.take_slot() else {
            return false;
        };
        let frame = self.frame(xid, pos);
        let len =
            tx4(&mut self.tx).map_or(0, |tx| wire::build_request_renewing(tx, &frame, address));
        self.send(len);
        self.occupy(
            seq,
            Slot {
                xid,
                state: SlotState::AwaitRenewAck,
                client_pos: pos,
                sent_ns: now_ns,
                attempts: 0,
                ..FREE_SLOT
            },
        );
        self.stats[ExchangeKind::RenewAck.index()].sent += 1;
        true
    }

    fn send_release(&mut self, now_ns: u64) -> bool {
        if self.plan.family == Family::V6 {
            return self.send_with_lease6(now_ns, wire6::MessageType6::Release);
        }
        let Some(pos) = self.next_leased_client() else {
            return false;
        };
        let Some(lease) = self.leases.get(pos as usize).copied() else {
            return false;
        };
        let Some(address) = lease.address else {
            return false;
        };
        // RFC 2131 4.4.6: a RELEASE gets no reply, so it needs no slot, only a fresh xid.
        let xid = self.xid_for(self.next_seq.wrapping_add(1 << 40));
        let frame = self.frame(xid, pos);
        let len = tx4(&mut self.tx).map_or(0, |tx| {
            wire::build_release(tx, &frame, address, lease.server_id)
        });
        self.send(len);
        if let Some(record) = self.leases.get_mut(pos as usize) {
            record.address = None;
        }
        if let Some(table) = &self.uniqueness {
            table.release(address);
        }
        self.stats[ExchangeKind::Release.index()].sent += 1;
        true
    }

    /// Round-robin over the clients of this slice that hold a lease.
    fn next_leased_client(&mut self) -> Option<u32> {
        let len = self.leases.len() as u32;
        for _ in 0..len.min(4096) {
            let pos = self.lease_cursor % len.max(1);
            self.lease_cursor = self.lease_cursor.wrapping_add(1);
            if self.leases.get(pos as usize).is_some_and(LeaseRecord::held) {
                return Some(pos);
            }
        }
        None
    }

    /// Handles every datagram waiting on the socket (at most RECV_BATCH).
    fn receive(&mut self) -> usize {
        let mut handled = 0;
        while handled < RECV_BATCH {
            let count = self.io.receive();
            let now_ns = self.now_ns();
            for i in 0..count {
                let datagram = self.io.datagram(i);
                let len = datagram.len().min(self.rx.len());
                if let (Some(dst), Some(src)) = (self.rx.get_mut(..len), datagram.get(..len)) {
                    dst.copy_from_slice(src);
                }
                self.handle_datagram(len, now_ns);
            }
            handled += count;
            if count < batch::RX_BATCH {
                break;
            }
        }
        // REQUESTs answering OFFERs leave together.
        self.io.flush();
        handled
    }

    /// Handles the datagram of `len` bytes now in the receive buffer.
    fn handle_datagram(&mut self, len: usize, now_ns: u64) {
        if self.plan.family == Family::V6 {
            self.handle_datagram6(len, now_ns);
            return;
        }
        match self.rx.get(..len).map(wire::parse_reply) {
            Some(Ok(reply)) => self.handle_reply(&reply, now_ns),
            _ => self.malformed += 1,
        }
    }

    fn orphan(&mut self, kind: ExchangeKind) {
        self.stats[kind.index()].orphans += 1;
    }

    fn handle_reply(&mut self, reply: &wire::Reply, now_ns: u64) {
        let threads = self.plan.threads as u64;
        let xid = u64::from(reply.xid);
        let reply_kind = match reply.message_type {
            MessageType::Offer => ExchangeKind::DiscoverOffer,
            _ => ExchangeKind::RequestAck,
        };
        if xid % threads != self.plan.index as u64 {
            self.orphan(reply_kind);
            return;
        }
        let seq = seq_of_xid(reply.xid, self.plan.threads, self.next_seq, 32);
        let Some(slot) = self.slots.get((seq & self.mask) as usize).copied() else {
            self.orphan(reply_kind);
            return;
        };
        if slot.state == SlotState::Free || slot.xid != reply.xid {
            self.orphan(reply_kind);
            return;
        }
        let delay = now_ns.saturating_sub(slot.sent_ns);
        match (slot.state, reply.message_type) {
            (SlotState::AwaitOffer, MessageType::Offer) => {
                self.on_offer(seq, slot, reply, delay, now_ns)
            }
            (SlotState::AwaitAck, MessageType::Ack | MessageType::Nak) => {
                self.on_ack(seq, slot, reply, delay, now_ns, ExchangeKind::RequestAck)
            }
            (SlotState::AwaitRenewAck, MessageType::Ack | MessageType::Nak) => {
                self.on_ack(seq, slot, reply, delay, now_ns, ExchangeKind::RenewAck)
            }
            _ => self.orphan(reply_kind),
        }
    }

    /// Puts `slot` in ring position `seq`, keeping the per-exchange waiting counts.
    fn occupy(&mut self, seq: u64, slot: Slot) {
        let Some(entry) = self.slots.get_mut((seq & self.mask) as usize) else {
            return;
        };
        let old = std::mem::replace(entry, slot);
        if let Some(kind) = old.state.awaited() {
            let count = &mut self.waiting[kind.index()];
            *count = count.saturating_sub(1);
        }
        if let Some(kind) = slot.state.awaited() {
            self.waiting[kind.index()] += 1;
        }
    }

    fn free_slot(&mut self, seq: u64) {
        self.occupy(seq, FREE_SLOT);
    }

    /// Exchanges waiting for a reply.
    fn in_flight(&self) -> u64 {
        self.waiting.iter().sum()
    }

    fn complete(&mut self, delay: u64, now_ns: u64) {
        self.completed += 1;
        self.last_completion_ns = Some(now_ns);
        self.series.record(now_ns / 1_000_000_000, delay);
    }

    fn on_offer(&mut self, seq: u64, slot: Slot, reply: &wire::Reply, delay: u64, now_ns: u64) {
        let stats = &mut self.stats[ExchangeKind::DiscoverOffer.index()];
        stats.record_delay(delay);
        let server_id = match reply.server_id {
            Some(id) if !reply.yiaddr.is_unspecified() => id,
            _ => {
                // An OFFER without an address or server identifier cannot be requested.
                stats.rejected += 1;
                self.free_slot(seq);
                return;
            }
        };
        if self.plan.initial_only {
            self.free_slot(seq);
            self.complete(delay, now_ns);
            return;
        }
        let frame = self.frame(slot.xid, slot.client_pos);
        let len = tx4(&mut self.tx).map_or(0, |tx| {
            wire::build_request_selecting(tx, &frame, reply.yiaddr, server_id)
        });
        self.send(len);
        self.stats[ExchangeKind::RequestAck.index()].sent += 1;
        self.occupy(
            seq,
            Slot {
                state: SlotState::AwaitAck,
                sent_ns: now_ns,
                attempts: 0,
                offered: reply.yiaddr,
                server_id,
                ..slot
            },
        );
    }

    fn on_ack(
        &mut self,
        seq: u64,
        slot: Slot,
        reply: &wire::Reply,
        delay: u64,
        now_ns: u64,
        kind: ExchangeKind,
    ) {
        self.free_slot(seq);
        let client = self.client_number(slot.client_pos);
        let stats = &mut self.stats[kind.index()];
        stats.record_delay(delay);
        if reply.message_type == MessageType::Nak || reply.yiaddr.is_unspecified() {
            stats.rejected += 1;
            if let Some(record) = self.leases.get_mut(slot.client_pos as usize) {
                record.address = None;
            }
            return;
        }
        if let Some(table) = &self.uniqueness {
            if !table.claim(reply.yiaddr, client) {
                stats.non_unique += 1;
            }
        }
        if let Some(record) = self.leases.get_mut(slot.client_pos as usize) {
            record.address = Some(reply.yiaddr);
            let server_ip = match self.plan.endpoints.server.ip() {
                IpAddr::V4(ip) => ip,
                IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
            };
            record.server_id = reply.server_id.unwrap_or(server_ip);
        }
        if kind == ExchangeKind::RequestAck {
            self.complete(delay, now_ns);
        }
        if let Some(recorder) = &mut self.recorder {
            recorder.record(
                &wire::client_id(&reply.mac),
                &reply.yiaddr,
                reply.lease_time,
            );
        }
    }

    /// Collects requests older than the drop time (perfdhcp -d) from the oldest end of the
    /// ring. The ring is in sending order, so the scan stops at the first one still in time.
    fn expire(&mut self, now_ns: u64) {
        if self.plan.scenario == Scenario::Avalanche {
            self.resend_overdue(now_ns);
            return;
        }
        let drop_ns = self.plan.drop_time.as_nanos() as u64;
        while self.oldest_seq < self.next_seq {
            let seq = self.oldest_seq;
            let Some(slot) = self.slots.get((seq & self.mask) as usize).copied() else {
                break;
            };
            if let Some(kind) = slot.state.awaited() {
                if now_ns.saturating_sub(slot.sent_ns) < drop_ns {
                    break;
                }
                self.stats[kind.index()].collected += 1;
                self.free_slot(seq);
            }
            self.oldest_seq += 1;
        }
    }

    /// Avalanche (perfdhcp AvalancheScen): every 200 ms, resend each request unanswered for
    /// longer than its back-off: 1, 2, 4, ... 64 drop times, each moved by up to one drop
    /// time either way so that the retransmissions of a burst do not all fire together
    /// again. Every in-flight request is checked, since jitter breaks the sending order.
    fn resend_overdue(&mut self, now_ns: u64) {
        const PERIOD_NS: u64 = 200_000_000;
        if now_ns < self.next_resend_scan_ns {
            return;
        }
        self.next_resend_scan_ns = now_ns + PERIOD_NS;
        let drop_ns = (self.plan.drop_time.as_nanos() as u64).max(1);
        let end = self.next_seq;
        for seq in self.oldest_seq..end {
            let Some(slot) = self.slots.get((seq & self.mask) as usize).copied() else {
                break;
            };
            if slot.state == SlotState::Free {
                continue;
            }
            let base = drop_ns.saturating_mul(1u64 << slot.attempts.min(6));
            let spread = u64::from(slot.xid.wrapping_mul(0x9e37_79b1)) % (2 * drop_ns);
            let wait = (base + spread).saturating_sub(drop_ns);
            if now_ns.saturating_sub(slot.sent_ns) >= wait {
                self.retransmit(seq, slot, now_ns);
            }
        }
        while self.oldest_seq < self.next_seq
            && self
                .slots
                .get((self.oldest_seq & self.mask) as usize)
                .is_some_and(|s| s.state == SlotState::Free)
        {
            self.oldest_seq += 1;
        }
    }

    fn retransmit(&mut self, seq: u64, slot: Slot, now_ns: u64) {
        let Some(kind) = slot.state.awaited() else {
            return;
        };
        self.resent[kind.index()] += 1;
        if slot.attempts == 0 {
            self.retried[kind.index()] += 1;
        }
        // The retransmission moves to the head of the ring under a fresh xid, so that the
        // oldest pointer keeps moving (servers do not track xids across retransmissions).
        self.free_slot(seq);
        let Some((new_seq, xid)) = self.take_slot() else {
            return;
        };
        // perfdhcp resends the message that went unanswered. A DHCPv6 REQUEST would need the
        // ADVERTISE's options kept per exchange, so that exchange restarts from SOLICIT, as a
        // client does when its REQUEST fails (RFC 8415 18.2.2).
        let resend_request = self.plan.family == Family::V4 && slot.state == SlotState::AwaitAck;
        let (len, state, sent_kind) = if resend_request {
            let frame = self.frame(xid, slot.client_pos);
            let len = tx4(&mut self.tx).map_or(0, |tx| {
                wire::build_request_selecting(tx, &frame, slot.offered, slot.server_id)
            });
            (len, SlotState::AwaitAck, ExchangeKind::RequestAck)
        } else {
            let len = self.build_initial(xid, slot.client_pos);
            (len, SlotState::AwaitOffer, ExchangeKind::DiscoverOffer)
        };
        self.send(len);
        self.retransmissions += 1;
        self.stats[sent_kind.index()].sent += 1;
        self.occupy(
            new_seq,
            Slot {
                xid,
                state,
                sent_ns: now_ns,
                attempts: slot.attempts + 1,
                ..slot
            },
        );
    }

    fn publish(&self) {
        let Some(live) = self.live() else { return };
        for kind in ExchangeKind::ALL {
            let i = kind.index();
            let s = &self.stats[i];
            if let (Some(a), Some(b), Some(c), Some(d)) = (
                live.sent.get(i),
                live.received.get(i),
                live.collected.get(i),
                live.rejected.get(i),
            ) {
                a.store(s.sent, Ordering::Relaxed);
                b.store(s.received, Ordering::Relaxed);
                c.store(s.collected, Ordering::Relaxed);
                d.store(s.rejected, Ordering::Relaxed);
            }
        }
        for (atomic, value) in live.waiting.iter().zip(self.waiting) {
            atomic.store(value, Ordering::Relaxed);
        }
        for (atomic, value) in live.resent.iter().zip(self.resent) {
            atomic.store(value, Ordering::Relaxed);
        }
        for (atomic, value) in live.retried.iter().zip(self.retried) {
            atomic.store(value, Ordering::Relaxed);
        }
        live.completed.store(self.completed, Ordering::Relaxed);
        live.p99_us
            .store(self.series.current_p99_us(), Ordering::Relaxed);
    }

    fn wait_readable(&self, timeout_ms: i32) {
        let mut pfd = libc::pollfd {
            fd: self.io.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, bounded timeout.
        unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    }

    /// Initiates what the rate, window and quota allow now. Returns how many were sent.
    fn initiate(&mut self, elapsed: f64, now_ns: u64) -> usize {
        let mut sent = 0;
        let quota_left = |w: &Self| w.plan.quota.is_none_or(|q| w.initiated < q);
        match self.plan.scenario {
            Scenario::Avalanche => {
                // Every client of the slice once, as fast as the ring allows.
                while sent < SEND_BATCH
                    && self.initiated < u64::from(self.slice_len)
                    && quota_left(self)
                    && self.start_exchange(now_ns)
                {
                    sent += 1;
                }
            }
            Scenario::Basic => {
                let due = match self.plan.rate {
                    // perfdhcp sends the first exchange at once, then paces.
                    Some(rate) => (elapsed * rate) as u64 + 1,
                    None => u64::MAX,
                };
                while sent < SEND_BATCH
                    && self.initiated < due
                    && quota_left(self)
                    && self.start_exchange(now_ns)
                {
                    sent += 1;
                }
                if let Some(rate) = self.plan.renew_rate {
                    let due = (elapsed * rate) as u64;
                    while self.renews_sent < due {
                        self.renews_sent += 1;
                        if self.send_renew(now_ns) {
                            sent += 1;
                        }
                    }
                }
                if let Some(rate) = self.plan.release_rate {
                    let due = (elapsed * rate) as u64;
                    while self.releases_sent < due {
                        self.releases_sent += 1;
                        if self.send_release(now_ns) {
                            sent += 1;
                        }
                    }
                }
            }
        }
        sent
    }

    fn initiation_finished(&self) -> bool {
        if self.shared.stop.load(Ordering::Relaxed) {
            return true;
        }
        if self.plan.quota.is_some_and(|q| self.initiated >= q) {
            return true;
        }
        self.plan.scenario == Scenario::Avalanche && self.initiated >= u64::from(self.slice_len)
    }

    /// Runs until the exit condition, then drains replies; returns the thread's results.
    pub fn run(mut self) -> WorkerResult {
        let cap_ns = self.plan.time_cap.as_nanos() as u64;
        let mut drain_deadline: Option<u64> = None;
        let mut turns: u64 = 0;
        loop {
            turns += 1;
            let now_ns = self.now_ns();
            if self.shared.abort.load(Ordering::Relaxed) || now_ns >= cap_ns {
                break;
            }
            let received = self.receive();
            let now_ns = self.now_ns();
            self.expire(now_ns);
            let mut sent = 0;
            match drain_deadline {
                None if self.initiation_finished() => {
                    let wait = self
                        .plan
                        .exit_wait
                        .unwrap_or(self.plan.drop_time.saturating_mul(2))
                        .as_nanos() as u64;
                    drain_deadline = Some(now_ns.saturating_add(wait));
                }
                None => sent = self.initiate(now_ns as f64 / 1e9, now_ns),
                Some(_) => {}
            }
            // Everything this turn wrote (new exchanges, retransmissions) leaves together.
            self.io.flush();
            if let Some(deadline) = drain_deadline {
                let avalanche_waits = self.plan.scenario == Scenario::Avalanche;
                if self.in_flight() == 0 || (now_ns >= deadline && !avalanche_waits) {
                    break;
                }
            }
            if turns & 15 == 0 || received == 0 {
                self.publish();
            }
            if received == 0 && sent == 0 {
                self.wait_readable(1);
            }
        }
        let end_ns = self.now_ns();
        self.series.advance_to(end_ns / 1_000_000_000 + 1);
        if let Some(recorder) = &mut self.recorder {
            recorder.flush();
        }
        self.publish();
        WorkerResult {
            stats: self.stats,
            malformed: self.malformed,
            series: std::mem::take(&mut self.series.samples),
            last_completion: self.last_completion_ns.map(Duration::from_nanos),
            retransmissions: self.retransmissions,
            completed: self.completed,
        }
    }
}

/// Transaction id of sequence number `seq` of worker `index`: `(seq mod span) * threads +
/// index` with `span = 2^32 / threads`, so `xid % threads == index` holds even after the
/// sequence outgrows 32 bits (the steering program relies on it).
pub fn xid_for(seq: u64, threads: usize, index: usize, bits: u32) -> u32 {
    let threads = threads.max(1) as u64;
    let span = (1u64 << bits.min(32)) / threads;
    ((seq % span) * threads + index as u64) as u32
}

/// The sequence number a reply's xid belongs to: the in-flight window is far smaller than
/// `2^32 / threads`, so it is the latest sequence number below `next_seq` with that xid.
pub fn seq_of_xid(xid: u32, threads: usize, next_seq: u64, bits: u32) -> u64 {
    let threads = threads.max(1) as u64;
    let span = (1u64 << bits.min(32)) / threads;
    let low = u64::from(xid) / threads;
    let seq = (next_seq / span) * span + low;
    if seq >= next_seq {
        seq.wrapping_sub(span)
    } else {
        seq
    }
}

/// Clients `index, index + threads, ...` below `clients`.
pub fn slice_len(clients: u32, index: usize, threads: usize) -> u32 {
    let (index, threads) = (index as u32, threads.max(1) as u32);
    if index >= clients {
        0
    } else {
        (clients - index).div_ceil(threads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_macs_count_up_from_the_base_with_carry() {
        let base = [0x00, 0x0c, 0x01, 0x02, 0x03, 0x04];
        assert_eq!(client_mac(&base, 0), base);
        assert_eq!(client_mac(&base, 1), [0x00, 0x0c, 0x01, 0x02, 0x03, 0x05]);
        assert_eq!(client_mac(&[0, 0, 0, 0, 0, 0xff], 1), [0, 0, 0, 0, 1, 0]);
    }

    #[test]
    fn xids_stay_on_their_thread_across_the_32_bit_wrap() {
        for bits in [24u32, 32] {
            for threads in [1usize, 2, 3, 7] {
                let span = (1u64 << bits) / threads as u64;
                for index in 0..threads {
                    for seq in [0, 1, span - 1, span, span + 5, 3 * span + 2] {
                        let xid = xid_for(seq, threads, index, bits);
                        assert!(u64::from(xid) < 1 << bits);
                        assert_eq!(xid as usize % threads, index, "seq {seq} threads {threads}");
                        assert_eq!(seq_of_xid(xid, threads, seq + 1, bits), seq);
                        assert_eq!(seq_of_xid(xid, threads, seq + 40, bits), seq);
                    }
                }
            }
        }
    }

    #[test]
    fn slices_cover_every_client_once() {
        let threads = 3;
        let total: u32 = (0..threads).map(|i| slice_len(10, i, threads)).sum();
        assert_eq!(total, 10);
        assert_eq!(slice_len(10, 0, 3), 4);
        assert_eq!(slice_len(10, 2, 3), 3);
        assert_eq!(slice_len(2, 2, 3), 0);
    }

    #[test]
    fn address_table_flags_second_holder_until_release() {
        let table = AddressTable::new(8);
        let a = Ipv4Addr::new(10, 0, 0, 5);
        assert!(table.claim(a, 1));
        assert!(
            table.claim(a, 1),
            "the same client renewing is not a duplicate"
        );
        assert!(!table.claim(a, 2));
        table.release(a);
        assert!(table.claim(a, 3));
    }

    /// Sends 30 datagrams numbered 0..30 (the number written by `stamp`) to a 3-socket
    /// reuseport group of `family` and checks each arrived at socket `number % 3`.
    fn check_steering(family: Family, stamp: fn(&mut [u8], u32), read: fn(&[u8]) -> u32) {
        check_steering_with(family, true, stamp, read)
    }

    fn check_steering_with(
        family: Family,
        relayed: bool,
        stamp: fn(&mut [u8], u32),
        read: fn(&[u8]) -> u32,
    ) {
        let loopback = match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Family::V6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        let probe = UdpSocket::bind(SocketAddr::new(loopback, 0))
            .unwrap_or_else(|e| panic!("loopback UDP unavailable: {e}"));
        let port = probe.local_addr().map(|a| a.port()).unwrap_or(0);
        drop(probe);
        let local = SocketAddr::new(loopback, port);
        let sockets = open_sockets(local, 3, steering(family, relayed))
            .unwrap_or_else(|e| panic!("cannot open reuseport group: {e}"));
        let sender =
            UdpSocket::bind(SocketAddr::new(loopback, 0)).unwrap_or_else(|e| panic!("{e}"));
        let mut packet = [0u8; 300];
        for number in 0u32..30 {
            stamp(&mut packet, number);
            sender
                .send_to(&packet, local)
                .unwrap_or_else(|e| panic!("send: {e}"));
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut buf = [0u8; 400];
        let mut seen = 0;
        for (index, socket) in sockets.iter().enumerate() {
            while let Ok(len) = socket.recv(&mut buf) {
                let number = read(&buf[..len]);
                assert_eq!(
                    number as usize % 3,
                    index,
                    "{number} reached socket {index}"
                );
                seen += 1;
            }
        }
        assert_eq!(seen, 30);
    }

    /// DHCPv4: the kernel hands a reply to socket `xid % n`, so every worker sees only the
    /// replies to its own requests.
    #[test]
    fn reuseport_program_steers_v4_replies_by_xid() {
        check_steering(
            Family::V4,
            |p, n| p[4..8].copy_from_slice(&n.to_be_bytes()),
            |p| wire::peek_xid(p).unwrap_or(u32::MAX),
        );
    }

    /// DHCPv6 on a link: a bare REPLY goes to socket `xid % n`, the 24-bit xid after the
    /// message type (the message type byte must not disturb it).
    #[test]
    fn reuseport_program_steers_v6_direct_replies_by_24_bit_xid() {
        check_steering_with(
            Family::V6,
            false,
            |p, n| {
                p[0] = 7; // REPLY
                p[1..4].copy_from_slice(&n.to_be_bytes()[1..]);
            },
            |p| u32::from_be_bytes([0, p[1], p[2], p[3]]),
        );
    }

    /// DHCPv6: a RELAY-REPL goes to socket `client % n`, read from the peer-address tail.
    #[test]
    fn reuseport_program_steers_v6_replies_by_peer_address() {
        check_steering(
            Family::V6,
            |p, n| {
                let t = wire6::PEER_ADDRESS_TAIL;
                p[18..34].copy_from_slice(&wire6::peer_address(n).octets());
                assert_eq!(&p[t..t + 4], &n.to_be_bytes());
            },
            |p| {
                let t = wire6::PEER_ADDRESS_TAIL;
                p.get(t..t + 4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(u32::from_be_bytes)
                    .unwrap_or(u32::MAX)
            },
        );
    }
}
