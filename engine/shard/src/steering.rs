//! Kernel-side steering of DHCPv4 clients to shards (DESIGN.md, "The life of a DHCPv4 packet",
//! point 1).
//!
//! One hash of the client hardware address (DHCPv4 `chaddr`, the first six bytes, RFC 2131
//! section 2) decides a client's shard. The same function exists three times and the three must
//! agree bit for bit:
//! - [`shard_of_chaddr`], in Rust, for the control plane and for tests;
//! - a classic BPF program attached with `SO_ATTACH_REUSEPORT_CBPF` to the reuseport group, which
//!   picks the socket for unicast datagrams; it sees the UDP **payload** at offset 0;
//! - a classic BPF socket filter (`SO_ATTACH_FILTER`) on each socket that keeps only its own
//!   clients, because broadcasts bypass reuseport selection and are copied to every socket; a
//!   UDP socket filter sees the **UDP header** at offset 0 (the kernel runs it before pulling the
//!   header), so its offsets are 8 bytes later. Both offsets are pinned by the integration tests.
//!
//! Datagrams shorter than 34 payload bytes make the filter's loads fail; a failed cBPF load
//! returns 0, so such datagrams are dropped by every socket filter. They cannot be DHCPv4
//! anyway (the fixed header is 236 bytes), and no statistic misses them: kea-dhcp4 2.2 counts
//! nothing for a datagram shorter than 236 bytes (it fails in receive, DHCP4_BUFFER_RECEIVE_FAIL,
//! before pkt4-received), and the shard drops the 34- to 235-byte ones uncounted the same way.

use std::io;
use std::net::{Ipv6Addr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};

/// `SO_ATTACH_REUSEPORT_CBPF` (include/uapi/asm-generic/socket.h); the libc crate lacks it.
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;

/// Offset of `chaddr` in the DHCPv4 fixed header (RFC 2131 section 2: op, htype, hlen, hops,
/// xid(4), secs(2), flags(2), ciaddr, yiaddr, siaddr, giaddr = 28 bytes).
pub const CHADDR_OFFSET: u32 = 28;
/// Size of the UDP header that a socket filter sees before the payload.
const UDP_HEADER_LEN: u32 = 8;

/// Receive buffer asked for each shard socket. Bursts of DISCOVERs after a power cut at an ISP
/// come in tens of thousands; 8 MiB holds several thousand small datagrams.
pub const DEFAULT_RECV_BUFFER: usize = 8 << 20;
/// Send buffer asked for each shard socket: one full reply batch must never hit EAGAIN.
pub const DEFAULT_SEND_BUFFER: usize = 4 << 20;

const MIX_1: u32 = 0x9E37_79B1;
const MIX_2: u32 = 0x85EB_CA6B;

/// The shard-steering hash of a 6-byte hardware address. `word` is chaddr bytes 0..4 and `half`
/// bytes 4..6, both big-endian, exactly as cBPF `ld [k]` / `ldh [k]` load them.
///
/// Two multiply-and-fold rounds so that every byte, including the vendor prefix (OUI) that many
/// clients of one ISP share, reaches the low bits that `% shards` keeps.
fn steering_hash(word: u32, half: u32) -> u32 {
    corelease_types::steering_hash(word, half)
}

/// The shard that owns the client with this hardware address: the same answer the kernel gives
/// when it steers the client's datagrams. `chaddr6` is the first six bytes of `chaddr` (shorter
/// input is zero-padded, longer input is cut at six bytes); `shards` of 0 is treated as 1.
pub fn shard_of_chaddr(chaddr6: &[u8], shards: usize) -> usize {
    let mut mac = [0u8; 6];
    for (dst, src) in mac.iter_mut().zip(chaddr6) {
        *dst = *src;
    }
    let word = u32::from_be_bytes([mac[0], mac[1], mac[2], mac[3]]);
    let half = u32::from(u16::from_be_bytes([mac[4], mac[5]]));
    let shards = u32::try_from(shards.max(1)).unwrap_or(u32::MAX);
    // u32 -> usize cannot truncate on the 64-bit Linux targets glommio supports.
    (steering_hash(word, half) % shards) as usize
}

// Classic BPF opcodes (include/uapi/linux/filter.h, bpf_common.h).
const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W (0) | BPF_ABS
const BPF_LD_H_ABS: u16 = 0x08 | 0x20; // BPF_LD | BPF_H | BPF_ABS
const BPF_ALU_MUL_K: u16 = 0x04 | 0x20;
const BPF_ALU_RSH_K: u16 = 0x04 | 0x70;
const BPF_ALU_XOR_X: u16 = 0x04 | 0xa0 | 0x08;
const BPF_ALU_MOD_K: u16 = 0x04 | 0x90;
const BPF_MISC_TAX: u16 = 0x07; // BPF_MISC | BPF_TAX (0)
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K (0)
const BPF_RET_A: u16 = 0x06 | 0x10;
const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K (0)
const BPF_LD_B_ABS: u16 = 0x10 | 0x20; // BPF_LD | BPF_B | BPF_ABS
const BPF_LD_W_IND: u16 = 0x40; // BPF_LD | BPF_W | BPF_IND: A = P[X + k]
const BPF_LD_H_IND: u16 = 0x08 | 0x40;
const BPF_ST: u16 = 0x02; // M[k] = A
const BPF_LDX_MEM: u16 = 0x01 | 0x60; // BPF_LDX | BPF_W | BPF_MEM: X = M[k]
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_JMP_JGE_X: u16 = 0x05 | 0x30 | 0x08;
const BPF_LD_W_LEN: u16 = 0x80; // BPF_LD | BPF_W | BPF_LEN: A = datagram length
const BPF_ALU_ADD_K: u16 = 0x04;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The hash of [`steering_hash`] as cBPF, leaving `hash % shards` in A. `base` is where the UDP
/// payload starts for the program kind (0 for reuseport, 8 for a socket filter).
fn hash_mod_program(base: u32, shards: u32) -> Vec<libc::sock_filter> {
    let chaddr = base + CHADDR_OFFSET;
    vec![
        insn(BPF_LD_W_ABS, 0, 0, chaddr),     // A = chaddr[0..4]
        insn(BPF_ALU_MUL_K, 0, 0, MIX_1),     // A *= MIX_1
        insn(BPF_MISC_TAX, 0, 0, 0),          // X = A
        insn(BPF_ALU_RSH_K, 0, 0, 16),        // A >>= 16
        insn(BPF_ALU_XOR_X, 0, 0, 0),         // A ^= X
        insn(BPF_MISC_TAX, 0, 0, 0),          // X = A
        insn(BPF_LD_H_ABS, 0, 0, chaddr + 4), // A = chaddr[4..6]
        insn(BPF_ALU_XOR_X, 0, 0, 0),         // A ^= X
        insn(BPF_ALU_MUL_K, 0, 0, MIX_2),     // A *= MIX_2
        insn(BPF_MISC_TAX, 0, 0, 0),          // X = A
        insn(BPF_ALU_RSH_K, 0, 0, 16),        // A >>= 16
        insn(BPF_ALU_XOR_X, 0, 0, 0),         // A ^= X
        insn(BPF_ALU_MOD_K, 0, 0, shards),    // A %= shards
    ]
}

/// The reuseport program: returns the index of the socket that gets the datagram.
fn reuseport_program(shards: u32) -> Vec<libc::sock_filter> {
    let mut prog = hash_mod_program(0, shards);
    prog.push(insn(BPF_RET_A, 0, 0, 0));
    prog
}

/// The socket filter of shard `index`: keep the whole datagram when it hashes to `index`, else
/// drop it (return 0 bytes).
fn socket_filter_program(shards: u32, index: u32) -> Vec<libc::sock_filter> {
    let mut prog = hash_mod_program(UDP_HEADER_LEN, shards);
    prog.push(insn(BPF_JMP_JEQ_K, 0, 1, index));
    prog.push(insn(BPF_RET_K, 0, 0, u32::MAX));
    prog.push(insn(BPF_RET_K, 0, 0, 0));
    prog
}

/// The DHCPv6 reuseport program (RFC 8415 sections 8, 9, 21.2): when the client identifier is
/// the first option of the client's message, directly (`msg-type != 12`: options at 4) or in a
/// Relay-forward whose first option is the Relay Message (options of the inner message at 42),
/// it returns the steering hash of the DUID's last six bytes `% shards`: the shard
/// `corelease_v6::owner_shard` names, so the datagram needs no hand-off. Any other layout
/// (nested relays, the client identifier later, a DUID shorter than six bytes) returns
/// `u32::MAX`, an index the kernel rejects and replaces with its own 4-tuple hash: the runtime
/// then hands the datagram to its owner as before. cBPF has no loops, hence the fixed layouts;
/// ISC perfdhcp and the common clients put the client identifier first.
fn reuseport_program6(shards: u32) -> Vec<libc::sock_filter> {
    const FALLBACK: u32 = u32::MAX;
    // Client/server message at `at`: option code at at+4, length at at+6, DUID from at+8.
    let hash_at = |at: u32| -> Vec<libc::sock_filter> {
        // An out-of-bounds load would end the program with 0 (shard 0), so lengths are
        // checked first and a short datagram falls back like any other.
        vec![
            insn(BPF_LD_W_LEN, 0, 0, 0),       // A = datagram length
            insn(BPF_JMP_JGE_K, 1, 0, at + 8), // room for the first option header?
            insn(BPF_RET_K, 0, 0, FALLBACK),
            insn(BPF_LD_H_ABS, 0, 0, at + 4), // A = first option code
            insn(BPF_JMP_JEQ_K, 1, 0, 1),     // CLIENTID?
            insn(BPF_RET_K, 0, 0, FALLBACK),
            insn(BPF_LD_H_ABS, 0, 0, at + 6), // A = DUID length
            insn(BPF_JMP_JGE_K, 1, 0, 6),     // at least six bytes?
            insn(BPF_RET_K, 0, 0, FALLBACK),
            insn(BPF_ST, 0, 0, 1),             // M[1] = length
            insn(BPF_ALU_ADD_K, 0, 0, at + 8), // A = end of the DUID
            insn(BPF_MISC_TAX, 0, 0, 0),       // X = A
            insn(BPF_LD_W_LEN, 0, 0, 0),       // A = datagram length
            insn(BPF_JMP_JGE_X, 1, 0, 0),      // the whole DUID is there?
            insn(BPF_RET_K, 0, 0, FALLBACK),
            insn(BPF_LDX_MEM, 0, 0, 1),           // X = length
            insn(BPF_LD_W_IND, 0, 0, at + 8 - 4), // A = DUID[len-4..len]
            insn(BPF_ALU_MUL_K, 0, 0, MIX_1),     // A *= MIX_1
            insn(BPF_MISC_TAX, 0, 0, 0),          // X = A
            insn(BPF_ALU_RSH_K, 0, 0, 16),        // A >>= 16
            insn(BPF_ALU_XOR_X, 0, 0, 0),         // A ^= X
            insn(BPF_ST, 0, 0, 0),                // M[0] = A
            insn(BPF_LDX_MEM, 0, 0, 1),           // X = length
            insn(BPF_LD_H_IND, 0, 0, at + 8 - 6), // A = DUID[len-6..len-4]
            insn(BPF_LDX_MEM, 0, 0, 0),           // X = M[0]
            insn(BPF_ALU_XOR_X, 0, 0, 0),         // A ^= X
            insn(BPF_ALU_MUL_K, 0, 0, MIX_2),     // A *= MIX_2
            insn(BPF_MISC_TAX, 0, 0, 0),          // X = A
            insn(BPF_ALU_RSH_K, 0, 0, 16),        // A >>= 16
            insn(BPF_ALU_XOR_X, 0, 0, 0),         // A ^= X
            insn(BPF_ALU_MOD_K, 0, 0, shards),    // A %= shards
            insn(BPF_RET_A, 0, 0, 0),
        ]
    };
    let direct = hash_at(0);
    let relayed = hash_at(38);
    let mut prog = vec![
        insn(BPF_LD_B_ABS, 0, 0, 0), // A = msg-type
        // Relay-forward: go to the relay checks; else the direct layout follows.
        insn(
            BPF_JMP_JEQ_K,
            u8::try_from(direct.len()).unwrap_or(0),
            0,
            12,
        ),
    ];
    prog.extend(direct);
    prog.extend([
        insn(BPF_LD_W_LEN, 0, 0, 0),   // A = datagram length
        insn(BPF_JMP_JGE_K, 1, 0, 39), // relay header, option header, inner msg-type
        insn(BPF_RET_K, 0, 0, FALLBACK),
        insn(BPF_LD_H_ABS, 0, 0, 34), // first relay option
        insn(BPF_JMP_JEQ_K, 1, 0, 9), // RELAY_MSG?
        insn(BPF_RET_K, 0, 0, FALLBACK),
        insn(BPF_LD_B_ABS, 0, 0, 38),  // inner msg-type
        insn(BPF_JMP_JEQ_K, 0, 1, 12), // a nested Relay-forward: not followed
        insn(BPF_RET_K, 0, 0, FALLBACK),
    ]);
    prog.extend(relayed);
    prog
}

fn attach_program(
    socket: &Socket,
    option: libc::c_int,
    prog: &mut [libc::sock_filter],
) -> io::Result<()> {
    let len = u16::try_from(prog.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long"))?;
    let fprog = libc::sock_fprog {
        len,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: fprog points at `prog`, which outlives the call; the kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Attaches the socket filter that keeps only the datagrams of shard `index` of `shards` to any
/// UDP socket. [`bind_shard_sockets`] does this for every shard socket; it is public so a test
/// can pin the filter's offsets on a single socket.
pub fn attach_shard_socket_filter(
    socket: &impl AsRawFd,
    shards: usize,
    index: usize,
) -> io::Result<()> {
    let (shards, index) = shard_count_and_index(shards, index)?;
    let mut prog = socket_filter_program(shards, index);
    // SAFETY: borrowing the fd only for the setsockopt call; ManuallyDrop keeps it open.
    let borrowed = std::mem::ManuallyDrop::new(unsafe {
        <Socket as std::os::fd::FromRawFd>::from_raw_fd(socket.as_raw_fd())
    });
    attach_program(&borrowed, libc::SO_ATTACH_FILTER, &mut prog)
}

fn shard_count_and_index(shards: usize, index: usize) -> io::Result<(u32, u32)> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
    if shards == 0 {
        return Err(invalid("shard count must be at least 1"));
    }
    if index >= shards {
        return Err(invalid("shard index must be below the shard count"));
    }
    let shards = u32::try_from(shards).map_err(|_| invalid("shard count too large"))?;
    let index = u32::try_from(index).map_err(|_| invalid("shard index too large"))?;
    Ok((shards, index))
}

fn set_int_option(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a local c_int with its exact size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Asks for a buffer of `bytes`, first with the privileged `*BUFFORCE` option (which ignores
/// `net.core.rmem_max`), then with the ordinary one; the kernel may still grant less.
fn set_buffer(
    socket: &Socket,
    forced: libc::c_int,
    plain: libc::c_int,
    bytes: usize,
) -> io::Result<()> {
    let bytes = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    set_int_option(socket, libc::SOL_SOCKET, forced, bytes)
        .or_else(|_| set_int_option(socket, libc::SOL_SOCKET, plain, bytes))
}

/// Sets the receive buffer of a shard socket (used by the runtime to honour `queue_size`).
pub(crate) fn set_recv_buffer(socket: &impl AsRawFd, bytes: usize) -> io::Result<()> {
    // SAFETY: borrowing the fd only for the setsockopt call; ManuallyDrop keeps it open.
    let borrowed = std::mem::ManuallyDrop::new(unsafe {
        <Socket as std::os::fd::FromRawFd>::from_raw_fd(socket.as_raw_fd())
    });
    set_buffer(&borrowed, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, bytes)
}

fn shard_socket(
    addr: SocketAddrV4,
    shards: u32,
    index: u32,
    device: Option<&str>,
) -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    // DHCP servers answer clients that have no address yet at the broadcast address
    // (RFC 2131 section 4.1).
    socket.set_broadcast(true)?;
    socket.set_nonblocking(true)?;
    // The arrival interface and destination address select the subnet for direct clients and
    // the source address of the reply (Kea ARM 8.2.x "Interface Configuration").
    set_int_option(&socket, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
    // Kernel arrival time of each datagram, for the per-shard latency histogram.
    set_int_option(&socket, libc::SOL_SOCKET, crate::batch::SO_TIMESTAMPNS, 1)?;
    set_buffer(
        &socket,
        libc::SO_RCVBUFFORCE,
        libc::SO_RCVBUF,
        DEFAULT_RECV_BUFFER,
    )?;
    set_buffer(
        &socket,
        libc::SO_SNDBUFFORCE,
        libc::SO_SNDBUF,
        DEFAULT_SEND_BUFFER,
    )?;
    if let Some(device) = device {
        socket
            .bind_device(Some(device.as_bytes()))
            .map_err(|err| with_context(err, &format!("binding to interface {device:?}")))?;
    }
    // The filter goes on before bind, so no unfiltered datagram is ever queued.
    let mut filter = socket_filter_program(shards, index);
    attach_program(&socket, libc::SO_ATTACH_FILTER, &mut filter)
        .map_err(|err| with_context(err, "attaching the shard socket filter"))?;
    socket.bind(&addr.into()).map_err(|err| {
        let hint = if err.kind() == io::ErrorKind::AddrInUse {
            " (is another DHCP server, e.g. Kea, running? every socket of the group must be \
             bound by the same user with SO_REUSEPORT)"
        } else {
            ""
        };
        with_context(err, &format!("binding {addr}{hint}"))
    })?;
    Ok(socket)
}

/// The same error kind, with what we were doing in front of the OS's message.
fn with_context(err: io::Error, doing: &str) -> io::Error {
    io::Error::new(err.kind(), format!("{doing}: {err}"))
}

/// Creates `shards` UDP sockets bound to `addr` with `SO_REUSEPORT`, in shard order (the
/// reuseport group indexes sockets in bind order), each with `SO_BROADCAST`, `IP_PKTINFO`,
/// non-blocking, large send and receive buffers, an optional `SO_BINDTODEVICE`, and the shard's
/// socket filter; then attaches the steering program to the group.
///
/// The sockets must live as long as the process: closing one makes the kernel move the last
/// socket into its slot and breaks the client-to-shard mapping.
pub fn bind_shard_sockets(
    addr: SocketAddrV4,
    shards: usize,
    device: Option<&str>,
) -> io::Result<Vec<UdpSocket>> {
    let mut sockets = Vec::with_capacity(shards);
    for index in 0..shards {
        let (count, index) = shard_count_and_index(shards, index)?;
        let socket = shard_socket(addr, count, index, device)
            .map_err(|err| with_context(err, &format!("shard socket {index}")))?;
        sockets.push(socket);
    }
    if let Some(first) = sockets.first() {
        let (count, _) = shard_count_and_index(shards, 0)?;
        let mut prog = reuseport_program(count);
        attach_program(first, SO_ATTACH_REUSEPORT_CBPF, &mut prog)
            .map_err(|err| with_context(err, "attaching the reuseport steering program"))?;
    } else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "shard count must be at least 1",
        ));
    }
    Ok(sockets.into_iter().map(UdpSocket::from).collect())
}

/// All_DHCP_Relay_Agents_and_Servers (RFC 8415 section 7.1): where direct clients send.
pub const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

/// Creates `shards` IPv6 UDP sockets bound to `addr` with `SO_REUSEPORT`, in shard order, each
/// IPv6-only with `IPV6_RECVPKTINFO` (arrival interface and destination), kernel timestamps,
/// large buffers and an optional `SO_BINDTODEVICE`; each joins ff02::1:2 on every interface of
/// `multicast_ifindexes` (RFC 8415 section 7.1), so direct clients' Solicits arrive.
///
/// With several shards the group gets [`reuseport_program6`]: a unicast datagram whose client
/// identifier comes first (directly or inside one Relay-forward) goes to its owner shard;
/// for any other the kernel falls back to its 4-tuple hash and the runtime hands the datagram
/// to its owner ([`crate::Steer`]). A multicast datagram is copied to every socket of the group
/// and only its owner answers.
/// As for v4, the sockets must live as long as the process.
pub fn bind_shard_sockets6(
    addr: SocketAddrV6,
    shards: usize,
    device: Option<&str>,
    multicast_ifindexes: &[u32],
) -> io::Result<Vec<UdpSocket>> {
    if shards == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "shard count must be at least 1",
        ));
    }
    let shard_count = u32::try_from(shards).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "shard count does not fit in u32",
        )
    })?;
    let mut sockets = Vec::with_capacity(shards);
    for index in 0..shards {
        let socket = shard_socket6(addr, device, multicast_ifindexes)
            .map_err(|err| with_context(err, &format!("shard socket {index}")))?;
        if index == 0 && shards > 1 {
            // One program steers the whole group (it attaches to the group, not the socket).
            let mut prog = reuseport_program6(shard_count);
            attach_program(&socket, SO_ATTACH_REUSEPORT_CBPF, &mut prog)
                .map_err(|err| with_context(err, "attaching the DHCPv6 steering program"))?;
        }
        sockets.push(UdpSocket::from(socket));
    }
    Ok(sockets)
}

fn shard_socket6(
    addr: SocketAddrV6,
    device: Option<&str>,
    multicast_ifindexes: &[u32],
) -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_only_v6(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    // Kea selects the subnet of a direct client by its arrival interface, and answers a
    // relay from the address it sent to (ARM 10.2.x "Interface Configuration").
    set_int_option(&socket, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
    set_int_option(&socket, libc::SOL_SOCKET, crate::batch::SO_TIMESTAMPNS, 1)?;
    set_buffer(
        &socket,
        libc::SO_RCVBUFFORCE,
        libc::SO_RCVBUF,
        DEFAULT_RECV_BUFFER,
    )?;
    set_buffer(
        &socket,
        libc::SO_SNDBUFFORCE,
        libc::SO_SNDBUF,
        DEFAULT_SEND_BUFFER,
    )?;
    if let Some(device) = device {
        socket
            .bind_device(Some(device.as_bytes()))
            .map_err(|err| with_context(err, &format!("binding to interface {device:?}")))?;
    }
    socket.bind(&addr.into()).map_err(|err| {
        let hint = if err.kind() == io::ErrorKind::AddrInUse {
            " (is another DHCPv6 server, e.g. Kea, running? every socket of the group must be \
             bound by the same user with SO_REUSEPORT)"
        } else {
            ""
        };
        with_context(err, &format!("binding {addr}{hint}"))
    })?;
    for ifindex in multicast_ifindexes {
        socket
            .join_multicast_v6(&ALL_DHCP_RELAY_AGENTS_AND_SERVERS, *ifindex)
            .map_err(|err| {
                with_context(
                    err,
                    &format!(
                        "joining {ALL_DHCP_RELAY_AGENTS_AND_SERVERS} on interface index {ifindex}"
                    ),
                )
            })?;
    }
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny classic-BPF interpreter for the opcodes we emit, so the programs are checked
    /// against `shard_of_chaddr` without a kernel.
    fn run(prog: &[libc::sock_filter], packet: &[u8]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let mut mem = [0u32; 16];
        for _ in 0..128 {
            let Some(i) = prog.get(pc) else { return 0 };
            pc += 1;
            let indexed = matches!(i.code, BPF_LD_W_IND | BPF_LD_H_IND);
            let load = |len: usize| -> Option<u32> {
                let start = if indexed {
                    (x + i.k) as usize
                } else {
                    i.k as usize
                };
                let bytes = packet.get(start..start + len)?;
                Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
            };
            match i.code {
                BPF_LD_W_ABS => match load(4) {
                    Some(v) => a = v,
                    None => return 0,
                },
                BPF_LD_H_ABS => match load(2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                BPF_LD_W_IND => match load(4) {
                    Some(v) => a = v,
                    None => return 0,
                },
                BPF_LD_H_IND => match load(2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                BPF_LD_B_ABS => match load(1) {
                    Some(v) => a = v,
                    None => return 0,
                },
                BPF_ST => mem[i.k as usize] = a,
                BPF_LD_W_LEN => a = packet.len() as u32,
                BPF_ALU_ADD_K => a = a.wrapping_add(i.k),
                BPF_JMP_JGE_X => pc += usize::from(if a >= x { i.jt } else { i.jf }),
                BPF_LDX_MEM => x = mem[i.k as usize],
                BPF_JMP_JGE_K => pc += usize::from(if a >= i.k { i.jt } else { i.jf }),
                BPF_ALU_MUL_K => a = a.wrapping_mul(i.k),
                BPF_ALU_RSH_K => a >>= i.k,
                BPF_ALU_XOR_X => a ^= x,
                BPF_ALU_MOD_K => a %= i.k,
                BPF_MISC_TAX => x = a,
                BPF_JMP_JEQ_K => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
                BPF_RET_A => return a,
                BPF_RET_K => return i.k,
                other => panic!("opcode {other:#x} not emitted"),
            }
        }
        panic!("program did not return")
    }

    fn payload(mac: [u8; 6]) -> Vec<u8> {
        let mut p = vec![0u8; 300];
        p[28..34].copy_from_slice(&mac);
        p
    }

    fn macs() -> impl Iterator<Item = [u8; 6]> {
        (0u32..500).map(|i| {
            let b = i.wrapping_mul(2_654_435_761).to_be_bytes();
            [0x00, 0x1b, b[0], b[1], b[2], b[3]]
        })
    }

    #[test]
    fn reuseport_program_computes_shard_of_chaddr_on_payload() {
        for shards in 1..=8 {
            let prog = reuseport_program(shards as u32);
            for mac in macs() {
                assert_eq!(
                    run(&prog, &payload(mac)) as usize,
                    shard_of_chaddr(&mac, shards)
                );
            }
        }
    }

    #[test]
    fn socket_filter_keeps_only_its_shard_after_udp_header() {
        let shards = 4;
        for mac in macs() {
            let mut datagram = vec![0u8; 8];
            datagram.extend_from_slice(&payload(mac));
            let owner = shard_of_chaddr(&mac, shards);
            for index in 0..shards {
                let prog = socket_filter_program(shards as u32, index as u32);
                let kept = run(&prog, &datagram);
                assert_eq!(kept, if index == owner { u32::MAX } else { 0 });
            }
        }
    }

    #[test]
    fn short_datagram_is_dropped_by_every_socket_filter() {
        let prog = socket_filter_program(2, 0);
        assert_eq!(run(&prog, &[0u8; 8 + 33]), 0);
    }

    #[test]
    fn shard_of_chaddr_spreads_one_vendor_prefix_over_all_shards() {
        let shards = 4;
        let mut seen = [0usize; 4];
        for mac in macs() {
            seen[shard_of_chaddr(&mac, shards)] += 1;
        }
        // 500 addresses of one OUI: each shard gets a fair share (expected 125 each).
        for count in seen {
            assert!((80..=170).contains(&count), "uneven spread {seen:?}");
        }
    }

    #[test]
    fn shard_of_chaddr_pads_short_input_and_ignores_bytes_after_six() {
        assert_eq!(
            shard_of_chaddr(&[1, 2, 3], 7),
            shard_of_chaddr(&[1, 2, 3, 0, 0, 0], 7)
        );
        assert_eq!(
            shard_of_chaddr(&[1, 2, 3, 4, 5, 6, 7, 8], 7),
            shard_of_chaddr(&[1, 2, 3, 4, 5, 6], 7)
        );
        assert_eq!(shard_of_chaddr(&[9, 9, 9, 9, 9, 9], 0), 0);
    }

    /// A Solicit (or any client message) whose options are `opts` (code, data), in order.
    fn message6(opts: &[(u16, &[u8])]) -> Vec<u8> {
        let mut m = vec![1, 0x12, 0x34, 0x56];
        for (code, data) in opts {
            m.extend_from_slice(&code.to_be_bytes());
            m.extend_from_slice(&(data.len() as u16).to_be_bytes());
            m.extend_from_slice(data);
        }
        m
    }

    /// A Relay-forward from `peer` holding `inner`, with `before` options ahead of its Relay
    /// Message option.
    fn relay_forward(inner: &[u8], before: &[(u16, &[u8])]) -> Vec<u8> {
        let mut r = vec![12, 0];
        r.extend_from_slice(&[0u8; 16]);
        r.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        for (code, data) in before {
            r.extend_from_slice(&code.to_be_bytes());
            r.extend_from_slice(&(data.len() as u16).to_be_bytes());
            r.extend_from_slice(data);
        }
        r.extend_from_slice(&9u16.to_be_bytes());
        r.extend_from_slice(&(inner.len() as u16).to_be_bytes());
        r.extend_from_slice(inner);
        r
    }

    /// What `corelease_v6::owner_shard` computes for a DUID of six bytes or more.
    fn owner6(duid: &[u8], shards: u32) -> u32 {
        let t = &duid[duid.len() - 6..];
        steering_hash(
            u32::from_be_bytes([t[2], t[3], t[4], t[5]]),
            u32::from(u16::from_be_bytes([t[0], t[1]])),
        ) % shards
    }

    fn duid_llt(n: u16) -> Vec<u8> {
        let mut d = vec![0, 1, 0, 1, 0x32, 0x98, 0x36, 0x68, 0x00, 0x0c];
        d.extend_from_slice(&[0x01, 0x02, (n >> 8) as u8, n as u8]);
        d
    }

    #[test]
    fn reuseport6_program_picks_the_owner_of_a_leading_client_identifier() {
        for shards in [2u32, 3, 4] {
            let prog = reuseport_program6(shards);
            for n in 0..200u16 {
                let duid = duid_llt(n);
                let direct = message6(&[(1, &duid), (8, &[0, 0])]);
                assert_eq!(run(&prog, &direct), owner6(&duid, shards));
                // perfdhcp -6 -A 1's layout: the Relay Message first, the client id first in it.
                let relayed = relay_forward(&direct, &[]);
                assert_eq!(run(&prog, &relayed), owner6(&duid, shards));
                let en = [
                    0,
                    2,
                    0,
                    0,
                    0x09,
                    0xbf,
                    1,
                    2,
                    3,
                    4,
                    5,
                    6,
                    7,
                    (n & 0xff) as u8,
                ];
                let direct_en = message6(&[(1, &en)]);
                assert_eq!(run(&prog, &direct_en), owner6(&en, shards));
            }
        }
    }

    #[test]
    fn reuseport6_program_leaves_other_layouts_to_the_kernel_hash() {
        let prog = reuseport_program6(4);
        let duid = duid_llt(7);
        let later = message6(&[(8, &[0, 0]), (1, &duid)]);
        assert_eq!(run(&prog, &later), u32::MAX, "client id not first");
        assert_eq!(
            run(&prog, &message6(&[(1, &[0, 3, 0, 1, 2])])),
            u32::MAX,
            "short DUID"
        );
        let direct = message6(&[(1, &duid)]);
        let iid_first = relay_forward(&direct, &[(18, b"port-1")]);
        assert_eq!(
            run(&prog, &iid_first),
            u32::MAX,
            "interface-id before relay-msg"
        );
        let nested = relay_forward(&relay_forward(&direct, &[]), &[]);
        assert_eq!(run(&prog, &nested), u32::MAX, "two relays");
        assert_eq!(run(&prog, &[1, 2]), u32::MAX, "too short for an option");
        let mut cut = direct.clone();
        cut.truncate(direct.len() - 1);
        assert_eq!(run(&prog, &cut), u32::MAX, "DUID cut short");
        let relay_cut = relay_forward(&direct, &[]);
        assert_eq!(run(&prog, &relay_cut[..36]), u32::MAX, "relay header only");
    }
}
