//! `corelease dhcp6`: loads a Kea `Dhcp6` configuration, settles the server DUID (configured,
//! persisted in `kea-dhcp6-serverid`, or generated), binds the shard sockets on the DHCPv6
//! server port, recovers the v6 lease log, starts one shard per core and waits for signals
//! (SIGTERM/SIGINT and the `shutdown` command stop; SIGHUP reloads the configuration file, as
//! `config-reload` does).
//!
//! # Which shard answers a client (DESIGN.md point 1, issue 7)
//! A DHCPv6 client is identified by its DUID, which sits behind a variable number of options
//! and relay layers; a reuseport cBPF program (no loops) steers the common layouts (client
//! identifier first, directly or in one Relay-forward: engine/shard `reuseport_program6`) and
//! the runtime steers the rest. Every shard socket is bound to `[::]:547` in one SO_REUSEPORT group:
//! - a **multicast** Solicit/Request (direct client, ff02::1:2) is copied by the kernel to every
//!   socket; each shard computes `owner_shard(client_duid)` and only the owner answers, the
//!   others drop their copy (counted as `ignored_copies`);
//! - a **unicast** datagram (from a relay, or a client that was given unicast) reaches one
//!   socket by the kernel's 4-tuple hash; if that shard is not the owner it hands the datagram
//!   to the owner's bounded lock-free queue (crossbeam `ArrayQueue`, counted as `handed_off`;
//!   a full queue drops and counts), and the owner answers from its own socket.
//!
//! A client's leases therefore live in exactly one shard, as for v4. A packet without a
//! client DUID (an Information-request may omit it) belongs to shard 0.

use crate::control6::Dhcp6Backend;
use crate::dhcp4o6::{IpcQueue, Reader, Side};
use crate::ifaces;
use crate::lease_startup::LeaseStartup;
use crate::lfc::Lfc;
use crate::reload::{ReloadShard, RunningConfig};
use crate::server4::{
    block_signals, check_config_with, init_logging_for, kea_data_dir, lease_dir_of, log_options,
    monotonic, shard_count, switches_or_exit, unix_secs, wait_signal, write_pid_file, ShardStore,
};
use crate::shard_jobs::{job_queues, JobInbox};
use corelease_config::{Dhcp6Config, DuidType, Loaded, ServerIdConfig};
use corelease_control::Backend;
use corelease_hooks::Hooks;
use corelease_shard::{
    RecvMeta6, RuntimeConfig, SendBatch6, SendMeta6, ShardHandler, ShardWaker, Steer, V6,
};
use corelease_storage::{Family, NullSink};
use corelease_types::Lease;
use corelease_v6::{
    client_duid, owner_shard, Dhcp4Query, Interface6Info, LeaseKey, Meta6, Prepared6, ReloadBuild6,
    Resumed6, ShardStats6, V6Shard,
};
use std::ffi::OsString;
use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The embedded default configuration (`corelease dhcp6` without -c).
pub const DEFAULT_CONFIG: &str = include_str!("../configs/default-dhcp6.json");
/// Server port of the embedded default: unprivileged, so it runs without root.
pub const DEFAULT_CONFIG_PORT: u16 = 5547;
/// DHCPv6 server/relay port (RFC 8415 section 7.2).
const SERVER_PORT: u16 = 547;
/// Kea's file holding the server DUID, under KEA_DHCP_DATA_DIR (ARM 10.2.13).
pub const SERVER_ID_FILE: &str = "kea-dhcp6-serverid";

fn load(path: Option<&Path>) -> Result<Loaded<Dhcp6Config>, String> {
    match path {
        Some(p) => corelease_config::load_dhcp6_file(p).map_err(|e| e.to_string()),
        None => corelease_config::parse_dhcp6_str(DEFAULT_CONFIG, Path::new("."))
            .map_err(|e| format!("embedded default config: {e}")),
    }
}

pub fn main(args: Vec<OsString>) -> i32 {
    let sw = match switches_or_exit(
        args,
        "dhcp6",
        "corelease DHCPv6 server, thread-per-core (glommio), lease log: mmap'd append-only",
    ) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(path) = &sw.test {
        return check_config_with(path, corelease_config::load_dhcp6_file);
    }
    let loaded = match load(sw.config.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("DHCP6_CONFIG_LOAD_FAIL configuration failed:\n{e}");
            return 1;
        }
    };
    init_logging_for(sw.debug, &loaded.config.loggers, "kea-dhcp6");
    for issue in &loaded.unsupported {
        tracing::warn!(target: "DHCP6_CONFIG_UNSUPPORTED", "{issue}");
    }
    let embedded = sw.config.is_none();
    let server_port = sw.server_port.unwrap_or(if embedded {
        DEFAULT_CONFIG_PORT
    } else {
        SERVER_PORT
    });
    // -P: every reply goes to this port, relayed ones included (Kea's Dhcpv6Srv does the
    // same with its client_port_); without it direct replies go to the client's port and
    // relayed ones to the relay's (547 or its RFC 8357 source port).
    let client_port = sw.client_port;
    if embedded {
        println!(
            "corelease: running the embedded default config on [::1] port {server_port}.\n\
             Load your own Kea config with: corelease dhcp6 -c /path/to/kea-dhcp6.json\n\
             Try it (relayed over loopback, as root): perfdhcp -6 -A 1 -r 100 -n 1000 -p 10 \
             -l ::1 -L 547 -N {server_port} ::1"
        );
    }
    match run(loaded, server_port, client_port, sw.config.as_deref()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("corelease dhcp6: {e}");
            tracing::error!(target: "DHCP6_INIT_FAIL", "{e}");
            1
        }
    }
}

/// Where the v6 lease log of a config lives: beside Kea's lease file name, in
/// `<name>.corelease/` (a Kea leases6 CSV of that name is imported once).
pub fn lease_dir(cfg: &Dhcp6Config) -> PathBuf {
    lease_dir_of(&cfg.lease_database, "kea-leases6.csv")
}

/// The shard that owns a recovered lease: the one its client's packets go to.
fn lease_owner(lease: &Lease, shards: usize) -> usize {
    match &lease.client_id {
        Some(duid) => owner_shard(duid.as_bytes(), shards),
        None => 0,
    }
}

/// Kea's text form of a DUID (`DUID::toText`): lower-case hex bytes joined by colons.
fn duid_text(duid: &[u8]) -> String {
    duid.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn parse_duid_text(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let bytes: Option<Vec<u8>> = text
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    bytes.filter(|b| b.len() >= 3 && b.len() <= 130)
}

/// The first Ethernet-sized hardware address of a non-loopback interface, for DUID-LLT/LL
/// (Kea's DUIDFactory picks an interface's MAC too).
fn some_mac() -> Option<Vec<u8>> {
    let mut names: Vec<_> = std::fs::read_dir("/sys/class/net")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    names.into_iter().find_map(|name| {
        let text = std::fs::read_to_string(Path::new("/sys/class/net").join(&name).join("address"))
            .ok()?;
        let mac = parse_duid_text(&text)?;
        (mac.len() == 6 && mac.iter().any(|b| *b != 0)).then_some(mac)
    })
}

/// Six random bytes (a DUID-EN identifier when no interface has a MAC, as Kea).
fn random_identifier() -> Vec<u8> {
    let mut id = [0u8; 6];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut id);
    }
    id.to_vec()
}

/// The server DUID (ARM 10.2.13, Kea's `CfgDUID::create`): parts the config gives win; the
/// parts it leaves out are taken from the persisted DUID when that one is of the same type,
/// otherwise generated (DUID-LLT from an interface MAC and the current time; DUID-EN with a
/// random identifier when there is no MAC). The result is written back to `file` when
/// `persist` is on, so the server keeps its identity across restarts.
pub fn server_duid(cfg: &ServerIdConfig, file: &Path, now_unix: u64) -> Vec<u8> {
    let stored = if cfg.persist {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|t| parse_duid_text(&t))
    } else {
        None
    };
    let type_code = |t: DuidType| match t {
        DuidType::Llt => 1u16,
        DuidType::En => 2,
        DuidType::Ll => 3,
    };
    let duid = match cfg.configured_duid() {
        Some(d) => d,
        None => {
            let stored_same_type = stored
                .as_deref()
                .filter(|d| d.get(..2) == Some(&type_code(cfg.duid_type).to_be_bytes()[..]));
            // With no MAC to build a DUID-LLT/LL from, the first start fell back to DUID-EN
            // (see `generate`); that DUID is this server's identity from then on.
            let stored_fallback = stored.as_deref().filter(|d| {
                d.get(..2) == Some(&[0, 2][..])
                    && cfg.duid_type != DuidType::En
                    && cfg.identifier.is_none()
                    && some_mac().is_none()
            });
            match (stored_same_type, stored_fallback) {
                (Some(s), _) => merge_stored(cfg, s),
                (None, Some(s)) => s.to_vec(),
                (None, None) => generate(cfg, now_unix),
            }
        }
    };
    if cfg.persist && stored.as_deref() != Some(&duid[..]) {
        if let Err(e) = std::fs::write(file, format!("{}\n", duid_text(&duid))) {
            tracing::warn!(target: "DHCP6_SERVERID_WRITE_FAIL", "cannot write the server DUID to {}: {e}", file.display());
        }
    }
    duid
}

/// Fills the parts `cfg` leaves unset from a stored DUID of the same type.
fn merge_stored(cfg: &ServerIdConfig, stored: &[u8]) -> Vec<u8> {
    let mut filled = cfg.clone();
    match cfg.duid_type {
        DuidType::Llt => {
            let htype = stored.get(2..4).map(|b| u16::from_be_bytes([b[0], b[1]]));
            let time = stored
                .get(4..8)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            if filled.time.is_none() {
                filled.time = time;
            }
            if filled.identifier.is_none() {
                filled.htype = htype.unwrap_or(filled.htype);
                filled.identifier = stored.get(8..).map(<[u8]>::to_vec);
            }
        }
        DuidType::En => {
            if filled.identifier.is_none() {
                if let Some(b) = stored.get(2..6) {
                    filled.enterprise_id = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                }
                filled.identifier = stored.get(6..).map(<[u8]>::to_vec);
            }
        }
        DuidType::Ll => {
            if filled.identifier.is_none() {
                if let Some(b) = stored.get(2..4) {
                    filled.htype = u16::from_be_bytes([b[0], b[1]]);
                }
                filled.identifier = stored.get(4..).map(<[u8]>::to_vec);
            }
        }
    }
    filled.configured_duid().unwrap_or_else(|| stored.to_vec())
}

fn generate(cfg: &ServerIdConfig, now_unix: u64) -> Vec<u8> {
    match (cfg.duid_type, cfg.identifier.is_some(), some_mac()) {
        (DuidType::En, false, _) => cfg.generate_duid(&random_identifier(), now_unix),
        (_, true, _) => cfg.generate_duid(&[], now_unix),
        (_, false, Some(mac)) => cfg.generate_duid(&mac, now_unix),
        // No interface has a MAC: DUID-EN with ISC's enterprise number and a random
        // identifier, which needs no link-layer address.
        (_, false, None) => {
            let en = ServerIdConfig {
                duid_type: DuidType::En,
                ..cfg.clone()
            };
            en.generate_duid(&random_identifier(), now_unix)
        }
    }
}

/// One shard's handler: the sans-IO v6 logic, the owner-shard steering, the interface filter,
/// the log commit and lease file cleanup.
pub(crate) struct Dhcp6Handler {
    pub(crate) v6: V6Shard<ShardStore>,
    shard: usize,
    shards: usize,
    /// Interfaces packets are accepted on (None: any).
    allowed_ifaces: Option<Vec<u32>>,
    lfc: Lfc,
    /// Jobs from the control thread (lease6-* commands, dhcp-disable, reload steps), run in
    /// `on_wake`.
    jobs: Option<JobInbox<Dhcp6Handler>>,
    /// dhcp-disable (ARM 19.4.11): packets are received, counted and dropped.
    disabled: bool,
    /// dhcp-disable's max-period: when to switch back on by itself (Unix secs).
    disabled_until: Option<u64>,
    /// `-P`: the port every reply goes to.
    client_port: Option<u16>,
    /// DHCPv4-over-DHCPv6 (`dhcp4o6-port`), when configured.
    dhcp4o6: Option<Ipc6>,
    /// Wakes this shard: the run-script spawner uses it when an awaited script ends, so a
    /// parked packet resumes at once (set by the runtime before the first datagram).
    waker: Option<ShardWaker>,
}

/// This shard's hooks from `Dhcp6.hooks-libraries` (validated at configuration load); None
/// when there are none. A failure here (the script vanished since the check, no thread) runs
/// the shard without hooks, logged.
fn build_hooks6(prepared: &Prepared6, shard: usize, waker: Option<&ShardWaker>) -> Option<Hooks> {
    let libraries = prepared
        .hooks_libraries
        .iter()
        .map(|l| (l.library.as_path(), l.parameters.as_ref()));
    match Hooks::from_libraries_in("Dhcp6", libraries) {
        Ok(mut hooks) => {
            if let (Some(h), Some(w)) = (hooks.as_mut(), waker) {
                let w = w.clone();
                h.set_exit_notify(Arc::new(move || w.wake()));
            }
            hooks
        }
        Err(e) => {
            tracing::error!(target: "HOOKS_LIBRARY_LOAD_FAILED", shard, "hooks not installed on this shard: {e}");
            None
        }
    }
}

/// DHCPv6 client port (RFC 8415 section 7.2): where a direct client's DHCPv4-response goes.
const DHCP6_CLIENT_PORT: u16 = 546;

/// A shard's end of the 4o6 socket (src/dhcp4o6.rs): every shard forwards the DHCPv4-queries
/// it receives; shard 0 sends the DHCPv4-responses on (the v6 side keeps no 4o6 state, so any
/// shard could; one queue keeps the reader simple).
pub(crate) struct Ipc6 {
    socket: Arc<UdpSocket>,
    /// Responses from the DHCPv4 server (shard 0 only).
    responses: Option<Arc<IpcQueue>>,
}

impl Dhcp6Handler {
    pub(crate) fn set_enabled(&mut self, enabled: bool, until: Option<u64>) {
        self.disabled = !enabled;
        self.disabled_until = if enabled { None } else { until };
        if enabled {
            tracing::info!(target: "DHCP6_DHCP_ENABLE", "DHCPv6 service enabled");
        } else {
            tracing::info!(target: "DHCP6_DHCP_DISABLE", "DHCPv6 service disabled");
        }
    }

    pub(crate) fn commit_log(&mut self) {
        if let ShardStore::Log(log) = self.v6.sink_mut() {
            if let Err(e) = log.commit() {
                tracing::error!(target: "DHCPSRV_MEMFILE_LEASE_ADD_FAILED", "lease log commit failed: {e}");
            }
        }
    }

    /// DHCPv4-responses from the DHCPv4 server, sent on to clients and relays (shard 0).
    fn dhcp4o6_responses(&mut self, batch: &mut SendBatch6) -> bool {
        let Some(Ipc6 {
            responses: Some(queue),
            ..
        }) = &self.dhcp4o6
        else {
            return false;
        };
        while !queue.is_empty() {
            let Some(out) = batch.next_buffer() else {
                return true;
            };
            let Some(msg) = queue.pop() else {
                break;
            };
            let reply = self.v6.dhcp4_response(msg.bytes(), DHCP6_CLIENT_PORT, out);
            queue.recycle(msg);
            if let Some(r) = reply {
                // Kea's Dhcp6to4Ipc: -P sends every response to that port.
                let mut dst = r.dst;
                if let Some(port) = self.client_port {
                    dst.set_port(port);
                }
                let meta = SendMeta6 {
                    dst,
                    src_ip: None,
                    ifindex: r.ifindex,
                    len: r.len,
                };
                if batch.commit(&meta).is_err() {
                    tracing::warn!(target: "DHCP6_DHCP4O6_SEND_FAIL", "DHCPv4-response not queued");
                }
            }
        }
        false
    }

    /// Packets parked on hook scripts that ended: resumed here, their replies sent by the
    /// runtime after the lease log commit below.
    fn resumed_replies(&mut self, batch: &mut SendBatch6, now: SystemTime) -> bool {
        if !self.v6.hooks_pending() {
            return false;
        }
        let now = unix_secs(now);
        let mut more = false;
        loop {
            let Some(out) = batch.next_buffer() else {
                more = true;
                break;
            };
            let Some(resumed) = self.v6.resume_parked(now, out) else {
                break;
            };
            let Resumed6::Reply(r) = resumed else {
                continue;
            };
            let mut dst = r.dst;
            if let Some(port) = self.client_port {
                dst.set_port(port);
            }
            let meta = SendMeta6 {
                dst,
                src_ip: None,
                ifindex: r.ifindex,
                len: r.len,
            };
            if batch.commit(&meta).is_err() {
                tracing::warn!(target: "DHCP6_PACKET_SEND_FAIL", "resumed reply not queued");
            }
        }
        // No reply leaves before its lease is durable (as on_batch_end does for packets).
        self.commit_log();
        more
    }
}

/// Config reload on a DHCPv6 shard (src/reload.rs; the protocol is
/// `corelease_alloc::reload`'s, keyed by (address or prefix, IA_PD)).
impl ReloadShard for Dhcp6Handler {
    type Target = V6Shard<ShardStore>;
    type SwitchContext = Mutex<Vec<Option<Arc<ShardStats6>>>>;
    type Old = V6Shard<ShardStore>;

    fn shard_index(&self) -> usize {
        self.shard
    }

    fn reload_begin(&mut self) -> Vec<LeaseKey> {
        self.v6.reload_begin()
    }

    fn reload_copy(&self, keys: &[LeaseKey]) -> Vec<Lease> {
        self.v6.reload_copy(keys)
    }

    fn reload_changes(&mut self) -> Vec<(LeaseKey, Option<Lease>)> {
        self.v6.reload_changes()
    }

    fn reload_take_dirty(&mut self) -> Vec<LeaseKey> {
        self.v6.reload_take_dirty()
    }

    fn reload_current(&self, key: LeaseKey) -> Option<Lease> {
        self.v6.reload_current(key)
    }

    fn reload_abort(&mut self) {
        self.v6.reload_abort();
    }

    fn reload_carry_offers(&self, build: &mut ReloadBuild6<ShardStore>, now: u64) -> usize {
        self.v6.reload_carry_offers(build, now)
    }

    fn reload_install(
        &mut self,
        build: ReloadBuild6<ShardStore>,
        stats: &Self::SwitchContext,
        paused: Instant,
        waited: Duration,
        fixups: usize,
        offers: usize,
    ) -> (usize, V6Shard<ShardStore>) {
        self.commit_log();
        let sink = std::mem::replace(self.v6.sink_mut(), ShardStore::Memory(NullSink));
        let (next, conflicts) = self.v6.reload_finish(build, sink);
        // The old state goes back to the control thread, which drops it off the shard.
        let old = std::mem::replace(&mut self.v6, next);
        // The new configuration's hooks replace the old. Packets parked on the old hooks are
        // dropped with them (their clients retransmit).
        let parked = old.parked();
        self.v6.set_hooks(build_hooks6(
            self.v6.prepared(),
            self.shard,
            self.waker.as_ref(),
        ));
        if parked > 0 {
            tracing::warn!(target: "DHCP6_DYNRECONF", shard = self.shard, parked, "packets parked on hook scripts were dropped by the reload");
        }
        if let Ok(mut reg) = stats.lock() {
            if let Some(slot) = reg.get_mut(self.shard) {
                *slot = Some(self.v6.stats());
            }
        }
        tracing::info!(target: "DHCP6_DYNRECONF", shard = self.shard, leases = self.v6.table().len(), fixups, offers, pause_us = paused.elapsed().as_micros() as u64, waited_us = waited.as_micros() as u64, "shard switched to the new configuration");
        (conflicts, old)
    }
}

impl ShardHandler<V6> for Dhcp6Handler {
    fn steer(&mut self, meta: &RecvMeta6, data: &[u8]) -> Steer {
        let owner = client_duid(data).map_or(0, |duid| owner_shard(duid, self.shards));
        if owner == self.shard {
            Steer::Here
        } else if meta.dst.is_multicast() {
            // Every shard socket got a copy; the owner answers its own.
            Steer::Ignore
        } else {
            Steer::Shard(owner)
        }
    }

    fn on_datagram(
        &mut self,
        meta: &RecvMeta6,
        data: &[u8],
        out: &mut [u8],
        now: SystemTime,
    ) -> Option<SendMeta6> {
        if self.disabled {
            let g = &self.v6.stats().global;
            g.pkt6_received.inc();
            g.pkt6_receive_drop.inc();
            return None;
        }
        if let Some(allowed) = &self.allowed_ifaces {
            if meta.ifindex != 0 && !allowed.contains(&meta.ifindex) {
                let g = &self.v6.stats().global;
                g.pkt6_received.inc();
                g.pkt6_receive_drop.inc();
                return None;
            }
        }
        let m = Meta6 {
            src: meta.src,
            dst: meta.dst,
            ifindex: meta.ifindex,
        };
        if let Some(ipc) = &self.dhcp4o6 {
            // RFC 7341: a DHCPv4-query goes to the DHCPv4 server; `out` holds the forward.
            match self.v6.forward_dhcp4_query(&m, data, out) {
                Dhcp4Query::NotAQuery => {}
                Dhcp4Query::Dropped => return None,
                Dhcp4Query::Forward(n) => {
                    crate::dhcp4o6::send(&ipc.socket, out.get(..n)?, "DHCP6_DHCP4O6_SEND_FAIL");
                    return None;
                }
            }
        }
        let r = self.v6.handle(&m, data, unix_secs(now), out)?;
        // Answer from the address the request was sent to when that is ours (a relay's
        // unicast); for a multicast request the kernel picks the link's address.
        let src_ip = (!meta.dst.is_multicast() && !meta.dst.is_unspecified()).then_some(meta.dst);
        let mut dst = r.dst;
        if let Some(port) = self.client_port {
            dst.set_port(port);
        }
        Some(SendMeta6 {
            dst,
            src_ip,
            ifindex: r.ifindex.or((meta.ifindex != 0).then_some(meta.ifindex)),
            len: r.len,
        })
    }

    fn on_batch_end(&mut self, _now: SystemTime) {
        self.commit_log();
    }

    fn on_wake(&mut self, now: SystemTime) {
        let now = unix_secs(now);
        let pending = self.jobs.as_ref().map(JobInbox::take).unwrap_or_default();
        for job in pending {
            job(self, now);
        }
    }

    fn on_tick(&mut self, now: SystemTime) {
        if self.disabled_until.is_some_and(|t| unix_secs(now) >= t) {
            self.set_enabled(true, None);
        }
        self.v6.on_tick(unix_secs(now));
        if let ShardStore::Log(log) = self.v6.sink_mut() {
            self.lfc.on_tick(log);
        }
    }

    fn on_shutdown(&mut self, _now: SystemTime) {
        self.commit_log();
    }

    /// The run-script spawner wakes the shard when a script ends, so a packet parked on it
    /// resumes at once.
    fn attach_waker(&mut self, waker: ShardWaker) {
        if let Some(h) = self.v6.hooks_mut() {
            let w = waker.clone();
            h.set_exit_notify(Arc::new(move || w.wake()));
        }
        self.waker = Some(waker);
    }

    /// Replies produced outside on_datagram: DHCPv4-responses from the DHCPv4 server (shard
    /// 0) and packets parked on hook scripts that ended.
    fn pending_replies(&mut self, batch: &mut SendBatch6, now: SystemTime) -> bool {
        let more_4o6 = self.dhcp4o6_responses(batch);
        let more_resumed = self.resumed_replies(batch, now);
        more_4o6 || more_resumed
    }
}

fn run(
    loaded: Loaded<Dhcp6Config>,
    server_port: u16,
    client_port: Option<u16>,
    config_path: Option<&Path>,
) -> Result<i32, String> {
    let started = Instant::now();
    let cfg = &loaded.config;
    corelease_control::ControlServer::validate(&cfg.control_sockets, &loaded.raw)
        .map_err(|e| e.to_string())?;
    let all_ifaces = ifaces::discover().map_err(|e| format!("listing interfaces: {e}"))?;
    let mut configured: Vec<Interface6Info> = Vec::new();
    if cfg.interfaces.all {
        configured.extend(all_ifaces.iter().map(|i| Interface6Info {
            ifindex: i.index,
            name: i.name.clone(),
            hwtype: ifaces::hardware_type(&i.name),
        }));
    } else {
        for spec in &cfg.interfaces.interfaces {
            let Some(iface) = all_ifaces.iter().find(|i| i.name == spec.name) else {
                return Err(format!(
                    "Dhcp6.interfaces-config.interfaces: interface {} does not exist",
                    spec.name
                ));
            };
            configured.push(Interface6Info {
                ifindex: iface.index,
                name: iface.name.clone(),
                hwtype: ifaces::hardware_type(&iface.name),
            });
        }
    }
    if configured.is_empty() {
        tracing::warn!(target: "DHCP6_NO_SOCKETS_OPEN", "no interface configured: the server listens nowhere");
    }
    // Direct clients multicast to ff02::1:2 on their link: join it on every configured
    // interface that can carry multicast (not loopback, whose traffic comes from relays).
    let multicast: Vec<u32> = configured
        .iter()
        .filter(|i| can_multicast(&i.name))
        .map(|i| i.ifindex)
        .collect();
    let allowed =
        (!cfg.interfaces.all).then(|| configured.iter().map(|i| i.ifindex).collect::<Vec<_>>());
    let shards = shard_count(&cfg.multi_threading);
    let sockets: Vec<UdpSocket> = corelease_shard::bind_shard_sockets6(
        SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, server_port, 0, 0),
        shards,
        None,
        &multicast,
    )
    .map_err(|e| format!("binding [::]:{server_port}: {e}"))?;

    let now = unix_secs(SystemTime::now());
    let data = kea_data_dir();
    let duid = server_duid(&cfg.server_id, &data.join(SERVER_ID_FILE), now);
    tracing::info!(target: "DHCP6_USING_SERVERID", server_id = %duid_text(&duid), "server DUID");
    let prepared = Arc::new(Prepared6::new(cfg, configured.clone()));

    // Recover the v6 lease log and hand each shard the leases of the clients it will see.
    let persist = cfg.lease_database.persist;
    let leases = Arc::new(LeaseStartup::recover(
        &cfg.lease_database,
        lease_dir(cfg),
        Family::V6,
        shards,
        |l| lease_owner(l, shards),
    )?);
    let lfc_interval = if persist {
        cfg.lease_database.lfc_interval
    } else {
        0
    };
    let stats_registry: Arc<Mutex<Vec<Option<Arc<ShardStats6>>>>> =
        Arc::new(Mutex::new(vec![None; shards]));
    // DHCPv4-over-DHCPv6 (ARM 10.2.26): bound to [::1]:port, sending to port + 1.
    let dhcp4o6 = if cfg.dhcp4o6_port != 0 {
        let sock = crate::dhcp4o6::open(cfg.dhcp4o6_port, Side::V6).map_err(|e| {
            format!(
                "Dhcp6.dhcp4o6-port: cannot open the DHCPv4-over-DHCPv6 socket on [::1]:{}: {e}",
                cfg.dhcp4o6_port
            )
        })?;
        Some((
            Arc::new(sock),
            Arc::new(IpcQueue::new(crate::dhcp4o6::QUEUE_DEPTH)),
        ))
    } else {
        None
    };
    let (mut jobs, inboxes) = job_queues::<Dhcp6Handler>(shards);
    let job_slot = Arc::new(Mutex::new(inboxes));
    let rt_cfg = RuntimeConfig {
        shards,
        pin_cores: true,
        batch: 64,
        tick: Duration::from_millis(250),
        queue_size: cfg.multi_threading.packet_queue_size as usize,
    };
    let sigs = block_signals();
    let factory = {
        let prepared = Arc::clone(&prepared);
        let leases = Arc::clone(&leases);
        let stats_registry = Arc::clone(&stats_registry);
        let duid = duid.clone();
        let job_slot = Arc::clone(&job_slot);
        let dhcp4o6 = dhcp4o6.clone();
        move |i: usize| {
            let store = leases.open_store(i);
            let mut v6 = V6Shard::new(Arc::clone(&prepared), &duid, i, shards, store);
            v6.set_clock(monotonic);
            // The waker comes with attach_waker, before the first datagram.
            v6.set_hooks(build_hooks6(&prepared, i, None));
            let conflicts = v6.load_leases(leases.take_leases(i), unix_secs(SystemTime::now()));
            if conflicts > 0 {
                tracing::warn!(target: "DHCPSRV_MEMFILE_LEASE_LOAD_ROW_ERROR", conflicts, "leases for an address or prefix already held were skipped");
            }
            if leases.rewrites_logs() {
                let live: Vec<Lease> = v6
                    .table()
                    .iter()
                    .filter(|e| !e.is_offer())
                    .map(|e| e.lease.clone())
                    .collect();
                leases.rewrite_log(i, v6.sink_mut(), live);
            }
            if let Ok(mut reg) = stats_registry.lock() {
                if let Some(slot) = reg.get_mut(i) {
                    *slot = Some(v6.stats());
                }
            }
            let jobs = job_slot
                .lock()
                .ok()
                .and_then(|mut v| v.get_mut(i).and_then(Option::take));
            Dhcp6Handler {
                v6,
                shard: i,
                shards,
                allowed_ifaces: allowed.clone(),
                lfc: Lfc::new(lfc_interval, i),
                jobs,
                disabled: false,
                disabled_until: None,
                client_port,
                dhcp4o6: dhcp4o6.as_ref().map(|(sock, queue)| Ipc6 {
                    socket: Arc::clone(sock),
                    responses: (i == 0).then(|| Arc::clone(queue)),
                }),
                waker: None,
            }
        }
    };
    let runtime = Arc::new(
        corelease_shard::start6(rt_cfg, sockets, factory)
            .map_err(|e| format!("starting shards: {e}"))?,
    );
    // `start6` returns once every shard built its handler, so every log open has been tried.
    if let Err(e) = leases.finish(shards) {
        runtime.shutdown();
        return Err(e);
    }
    jobs.set_wakers((0..shards).filter_map(|i| runtime.waker(i)).collect());
    let ipc_reader = match &dhcp4o6 {
        Some((sock, queue)) => {
            let wakers: Vec<_> = runtime.waker(0).into_iter().collect();
            match Reader::spawn(Arc::clone(sock), vec![Arc::clone(queue)], wakers, |_| 0) {
                Ok(r) => {
                    tracing::info!(target: "DHCP6_DHCP4O6_RECEIVING", port = cfg.dhcp4o6_port, "DHCPv4-over-DHCPv6: bound to [::1]:{}, DHCPv4 server at [::1]:{}", cfg.dhcp4o6_port, u32::from(cfg.dhcp4o6_port) + 1);
                    Some(r)
                }
                Err(e) => {
                    runtime.shutdown();
                    return Err(format!("starting the DHCPv4-over-DHCPv6 reader: {e}"));
                }
            }
        }
        None => None,
    };
    let exit_value = Arc::new(AtomicI32::new(0));
    let backend = Arc::new(Dhcp6Backend {
        runtime: Arc::clone(&runtime),
        jobs,
        running: RunningConfig::new(Arc::clone(&prepared), loaded.raw.clone(), started),
        configured_ifaces: configured.clone(),
        server_duid: duid.clone(),
        stats: Arc::clone(&stats_registry),
        config_file: config_path.map(Path::to_path_buf),
        started,
        multi_threading: cfg.multi_threading.enable,
        packet_queue_size: cfg.multi_threading.packet_queue_size,
        exit_value: Arc::clone(&exit_value),
        disabled: Mutex::new(false),
        // The one queue is shard 0's (it sends the DHCPv4-responses on).
        dhcp4o6: dhcp4o6.as_ref().map(|(sock, queue)| {
            crate::dhcp4o6::IpcMonitor::new(Arc::clone(sock), vec![Arc::clone(queue)])
        }),
    });
    let signal_backend = Arc::clone(&backend);
    let control = Arc::new(corelease_control::Control::new(
        backend,
        corelease_control::Limit::from_defaults(20, 0),
    ));
    let control_server =
        match corelease_control::ControlServer::start(&cfg.control_sockets, &loaded.raw, control) {
            Ok(s) => s,
            Err(e) => {
                runtime.shutdown();
                return Err(e.to_string());
            }
        };
    let pid_file = write_pid_file(config_path, Family::V6);
    tracing::info!(target: "DHCP6_STARTED", shards, port = server_port, "corelease dhcp6 {} started", env!("CARGO_PKG_VERSION"));
    loop {
        match wait_signal(&sigs) {
            // Kea reloads its configuration file on SIGHUP (ARM 10.1), as config-reload does.
            libc::SIGHUP => match signal_backend.reload_config() {
                Ok(path) => {
                    tracing::info!(target: "DHCP6_DYNRECONF", "SIGHUP: configuration {path} applied")
                }
                Err(e) => {
                    tracing::error!(target: "DHCP6_DYNRECONF_FAIL", "SIGHUP: configuration not applied, the running one stays: {e}")
                }
            },
            sig => {
                tracing::info!(target: "DHCP6_SHUTDOWN", signal = sig, "shutting down");
                break;
            }
        }
    }
    runtime.shutdown();
    if let Some(r) = ipc_reader {
        r.stop();
    }
    if let Some((_, queue)) = &dhcp4o6 {
        let dropped = queue.dropped.load(std::sync::atomic::Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(target: "DHCP6_DHCP4O6_RECEIVE_FAIL", dropped, "DHCPv4-responses dropped: shard 0's queue was full");
        }
    }
    // The control threads hold the backend and with it the runtime: stop them first.
    control_server.stop();
    // The configuration the shards run now (a reload may have replaced the one started with).
    let prepared = signal_backend.current_prepared();
    drop(signal_backend);
    let mut runtime = match Arc::try_unwrap(runtime) {
        Ok(rt) => rt,
        Err(_) => {
            return Err("the runtime is still shared after the control server stopped".into())
        }
    };
    let joined = runtime.stop();
    let counters = runtime.counters();
    let handed: u64 = counters.iter().map(|c| c.handed_off).sum();
    let handoff_dropped: u64 = counters.iter().map(|c| c.handoff_dropped).sum();
    tracing::info!(target: "DHCP6_SHUTDOWN", handed_off = handed, handoff_dropped, "shard hand-offs");
    let shard_stats: Vec<Arc<ShardStats6>> = stats_registry
        .lock()
        .map(|r| r.iter().flatten().cloned().collect())
        .unwrap_or_default();
    for (name, value) in corelease_v6::kea_statistics6(&prepared, &shard_stats) {
        if value != 0 {
            tracing::info!(target: "DHCP6_STATISTICS", "{name} = {value}");
        }
    }
    drop(runtime);
    if let Some(p) = pid_file {
        let _ = std::fs::remove_file(p);
    }
    joined.map_err(|e| format!("shard failed: {e}"))?;
    Ok(exit_value.load(std::sync::atomic::Ordering::Relaxed))
}

/// True for an interface that is not loopback (loopback carries no multicast group joins).
fn can_multicast(name: &str) -> bool {
    let flags = std::fs::read_to_string(Path::new("/sys/class/net").join(name).join("flags"))
        .ok()
        .and_then(|t| u32::from_str_radix(t.trim().trim_start_matches("0x"), 16).ok())
        .unwrap_or(0);
    flags & libc::IFF_LOOPBACK as u32 == 0 && flags & libc::IFF_MULTICAST as u32 != 0
}

/// `corelease lease export|import` for a Dhcp6 configuration: the lease log of the config's
/// lease directory as (or from) a Kea leases6 CSV.
pub(crate) fn lease_command(
    verb: &str,
    loaded: &Loaded<Dhcp6Config>,
    file: Option<String>,
    schema: corelease_storage::KeaSchema,
) -> Result<(), String> {
    let dir = lease_dir(&loaded.config);
    match (verb, file) {
        ("export", None) => {
            let stdout = std::io::stdout();
            corelease_storage::export_kea_csv_as(&dir, Family::V6, schema, stdout.lock())
                .map(|s| {
                    for r in &s.reports {
                        eprintln!("{r}");
                    }
                })
                .map_err(|e| e.to_string())
        }
        ("import", Some(f)) => {
            let file = std::fs::File::open(&f).map_err(|e| format!("{f}: {e}"))?;
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("creating {}: {e}", dir.display()))?;
            let opts = log_options(&loaded.config.lease_database.durability);
            let s = corelease_storage::import_kea_csv(
                &dir,
                Family::V6,
                std::io::BufReader::new(file),
                opts,
            )
            .map_err(|e| e.to_string())?;
            for row in &s.skipped {
                eprintln!("skipped: {row}");
            }
            eprintln!(
                "imported {} leases ({} deletions) into {}",
                s.imported,
                s.removed,
                dir.display()
            );
            Ok(())
        }
        _ => Err(
            "usage: corelease lease export -c FILE | corelease lease import -c FILE LEASES.csv"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("corelease-serverid-{tag}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let f = dir.join(SERVER_ID_FILE);
        let _ = std::fs::remove_file(&f);
        f
    }

    #[test]
    fn generated_server_duid_is_persisted_in_kea_text_and_reused() {
        let file = temp_file("persist");
        let cfg = ServerIdConfig::default();
        let first = server_duid(&cfg, &file, 1_700_000_000);
        assert!(first.len() >= 8, "a DUID-LLT or DUID-EN: {first:?}");
        let text = std::fs::read_to_string(&file).expect("server-id file written");
        assert_eq!(text.trim(), duid_text(&first));
        assert!(text.trim().split(':').all(|b| b.len() == 2));
        // Later start, other time: the persisted DUID stays.
        let again = server_duid(&cfg, &file, 1_800_000_000);
        assert_eq!(again, first);
    }

    #[test]
    fn configured_server_id_wins_over_the_persisted_one() {
        let file = temp_file("configured");
        std::fs::write(&file, "00:01:00:01:11:22:33:44:0a:0b:0c:0d:0e:0f\n").expect("write");
        let cfg = ServerIdConfig {
            duid_type: DuidType::En,
            identifier: Some(vec![0xab, 0xcd]),
            enterprise_id: 2495,
            ..ServerIdConfig::default()
        };
        let duid = server_duid(&cfg, &file, 1_700_000_000);
        assert_eq!(duid, vec![0, 2, 0, 0, 0x09, 0xbf, 0xab, 0xcd]);
        let text = std::fs::read_to_string(&file).expect("rewritten");
        assert_eq!(text.trim(), "00:02:00:00:09:bf:ab:cd");
    }

    #[test]
    fn persisted_llt_fills_the_parts_the_config_leaves_out() {
        let file = temp_file("merge");
        std::fs::write(&file, "00:01:00:01:11:22:33:44:0a:0b:0c:0d:0e:0f\n").expect("write");
        let duid = server_duid(&ServerIdConfig::default(), &file, 1_900_000_000);
        assert_eq!(
            duid,
            vec![0, 1, 0, 1, 0x11, 0x22, 0x33, 0x44, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f]
        );
    }

    #[test]
    fn malformed_server_id_file_is_replaced() {
        assert_eq!(parse_duid_text("zz:01"), None);
        assert_eq!(parse_duid_text(""), None);
        assert_eq!(parse_duid_text("00:01:02"), Some(vec![0, 1, 2]));
    }
}
