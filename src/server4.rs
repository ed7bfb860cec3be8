//! `corelease dhcp4`: loads a Kea configuration, binds the shard sockets, recovers the lease
//! log, starts one shard per core, opens the control sockets (src/control4.rs) and waits for
//! signals (SIGTERM/SIGINT and the `shutdown` command stop; SIGHUP reloads the configuration
//! file, as `config-reload` does).

use crate::control4::Dhcp4Backend;
use crate::dhcp4o6::{IpcBuf, IpcQueue, Reader, Side};
use crate::ifaces;
use crate::lease_startup::LeaseStartup;
use crate::lfc::Lfc;
use crate::raw4::RawSender;
use crate::reload::{ReloadShard, RunningConfig};
use crate::shard_jobs::{job_queues, JobInbox};
use corelease_config::{Dhcp4Config, Loaded, SocketType};
use corelease_control::Backend;
use corelease_hooks::Hooks;
use corelease_shard::{RecvMeta, RuntimeConfig, SendBatch, SendMeta, ShardHandler, ShardWaker};
use corelease_storage::{Family, LeaseLog, LeaseSink, LogOptions, LogSeq, NullSink, StorageError};
use corelease_types::{Lease, LeaseKind};
use corelease_v4::{
    InterfaceInfo, Meta4, Ports, Prepared4, ReloadBuild, Resumed, ShardStats4, V4Shard,
};
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The embedded default configuration (`corelease dhcp4` without -c).
pub const DEFAULT_CONFIG: &str = include_str!("../configs/default-dhcp4.json");
/// Server port of the embedded default: unprivileged, so it runs without root.
pub const DEFAULT_CONFIG_PORT: u16 = 6767;

/// Kea's command-line switches, shared by `dhcp4` and `dhcp6` (ARM 9.1 / 10.1).
#[derive(Debug, Default)]
pub(crate) struct Switches {
    pub(crate) config: Option<PathBuf>,
    pub(crate) test: Option<PathBuf>,
    pub(crate) server_port: Option<u16>,
    pub(crate) client_port: Option<u16>,
    pub(crate) debug: bool,
    pub(crate) version: bool,
    pub(crate) extended_version: bool,
}

fn parse_switches(args: Vec<OsString>) -> Result<Switches, String> {
    let mut s = Switches::default();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let a = a.to_string_lossy().into_owned();
        let mut value = |name: &str| -> Result<String, String> {
            it.next()
                .map(|v| v.to_string_lossy().into_owned())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "-c" => s.config = Some(PathBuf::from(value("-c")?)),
            "-t" => s.test = Some(PathBuf::from(value("-t")?)),
            "-p" => s.server_port = Some(parse_port(&value("-p")?)?),
            "-P" => s.client_port = Some(parse_port(&value("-P")?)?),
            "-d" => s.debug = true,
            "-v" => s.version = true,
            "-V" => s.extended_version = true,
            other => return Err(format!("unknown switch {other:?}")),
        }
    }
    Ok(s)
}

fn parse_port(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{v:?} is not a port number (1-65535)")),
    }
}

/// The switches of a server subcommand, with bad switches, -v and -V answered here as Kea's
/// daemons answer them: `Err(code)` means the process is done and exits with `code`.
pub(crate) fn switches_or_exit(
    args: Vec<OsString>,
    subcommand: &str,
    description: &str,
) -> Result<Switches, i32> {
    let sw = parse_switches(args).map_err(|e| {
        eprintln!("corelease {subcommand}: {e}");
        1
    })?;
    if sw.version || sw.extended_version {
        println!("{}", env!("CARGO_PKG_VERSION"));
        if sw.extended_version {
            println!("{description}");
        }
        return Err(0);
    }
    Ok(sw)
}

fn load(path: Option<&Path>) -> Result<Loaded<Dhcp4Config>, String> {
    match path {
        Some(p) => corelease_config::load_dhcp4_file(p).map_err(|e| e.to_string()),
        None => corelease_config::parse_dhcp4_str(DEFAULT_CONFIG, Path::new("."))
            .map_err(|e| format!("embedded default config: {e}")),
    }
}

pub fn main(args: Vec<OsString>) -> i32 {
    let sw = match switches_or_exit(
        args,
        "dhcp4",
        "corelease DHCPv4 server, thread-per-core (glommio), lease log: mmap'd append-only",
    ) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(path) = &sw.test {
        return check_config(path);
    }
    let loaded = match load(sw.config.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("DHCP4_CONFIG_LOAD_FAIL configuration failed:\n{e}");
            return 1;
        }
    };
    init_logging(sw.debug, &loaded.config);
    for issue in &loaded.unsupported {
        tracing::warn!(target: "DHCP4_CONFIG_UNSUPPORTED", "{issue}");
    }
    let embedded = sw.config.is_none();
    let ports = Ports {
        server: sw
            .server_port
            .unwrap_or(if embedded { DEFAULT_CONFIG_PORT } else { 67 }),
        client: sw.client_port.unwrap_or(68),
    };
    if embedded {
        println!(
            "corelease: running the embedded default config on 127.0.0.1 port {}.\n\
             Load your own Kea config with: corelease dhcp4 -c /path/to/kea-dhcp4.json\n\
             Try it: corelease perf -4 -r 100 -n 1000 -l 127.0.0.2 -L {p} -N {p} 127.0.0.1",
            ports.server,
            p = ports.server
        );
    }
    match run(loaded, ports, sw.config.as_deref()) {
        Ok(exit_value) => exit_value,
        Err(e) => {
            eprintln!("corelease dhcp4: {e}");
            tracing::error!(target: "DHCP4_INIT_FAIL", "{e}");
            1
        }
    }
}

/// `-t FILE`: errors and not-yet-supported keys on stderr, exit 1; a valid file exits 0.
fn check_config(path: &Path) -> i32 {
    check_config_with(path, corelease_config::load_dhcp4_file)
}

/// `-t FILE` for either family, with that family's loader: errors and not-yet-supported keys
/// on stderr, exit 1; a valid file exits 0.
pub(crate) fn check_config_with<C>(
    path: &Path,
    load: impl FnOnce(&Path) -> Result<Loaded<C>, corelease_config::ConfigError>,
) -> i32 {
    match load(path) {
        Err(e) => {
            eprintln!("{e}");
            1
        }
        Ok(l) if !l.unsupported.is_empty() => {
            for issue in &l.unsupported {
                eprintln!("{issue}");
            }
            1
        }
        Ok(_) => {
            println!("{}: configuration is valid", path.display());
            0
        }
    }
}

/// Logging per the config's `loggers` entry for kea-dhcp4: severity, and the first output
/// (`stdout`, `stderr`, or a file path, appended to). -d forces debug; COREL_LOG (tracing's
/// filter syntax) overrides both. syslog outputs fall back to stdout, said at start.
fn init_logging(debug: bool, cfg: &Dhcp4Config) {
    init_logging_for(debug, &cfg.loggers, "kea-dhcp4");
}

/// Logging per the `loggers` entry named `program` (`kea-dhcp4` / `kea-dhcp6`); see
/// [`init_logging`].
pub(crate) fn init_logging_for(
    debug: bool,
    loggers: &[corelease_config::LoggerConfig],
    program: &str,
) {
    let prefix = format!("{program}.");
    let logger = loggers
        .iter()
        .find(|l| l.name == program || l.name.starts_with(&prefix));
    let severity = logger.map(|l| l.severity.to_ascii_uppercase());
    let filter = match (debug, severity.as_deref()) {
        (true, _) | (_, Some("DEBUG")) => "debug",
        (_, Some("WARN")) => "warn",
        (_, Some("ERROR")) | (_, Some("FATAL")) => "error",
        (_, Some("NONE")) => "off",
        _ => "info",
    };
    let env = tracing_subscriber::EnvFilter::try_from_env("COREL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let output = logger
        .and_then(|l| l.outputs.first())
        .map(String::as_str)
        .unwrap_or("stdout");
    let mut note = None;
    let (out, ansi): (Box<dyn std::io::Write + Send>, bool) = match output {
        "stdout" => (
            Box::new(std::io::stdout()),
            std::io::IsTerminal::is_terminal(&std::io::stdout()),
        ),
        "stderr" => (
            Box::new(std::io::stderr()),
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
        ),
        o if o.starts_with("syslog") => {
            note = Some(format!(
                "logger output {o:?}: syslog is not supported yet, logging to stdout"
            ));
            (Box::new(std::io::stdout()), false)
        }
        path => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            // Flushed by the log writer whenever it has caught up.
            Ok(f) => (Box::new(std::io::BufWriter::new(f)), false),
            Err(e) => {
                note = Some(format!("logger output {path}: {e}; logging to stdout"));
                (Box::new(std::io::stdout()), false)
            }
        },
    };
    // Shards log on their packet path: the lines go through the log writer thread so that a
    // slow output never stops a shard (src/log_output.rs).
    let writer = match crate::log_output::QueuedLog::start(out) {
        Ok(queued) => tracing_subscriber::fmt::writer::BoxMakeWriter::new(queued),
        Err(e) => {
            note = Some(format!(
                "log writer thread not started ({e}): logging directly"
            ));
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stdout)
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env)
        .with_target(true)
        .with_ansi(ansi)
        .with_writer(writer)
        .try_init();
    if let Some(n) = note {
        tracing::warn!(target: "DHCP4_CONFIG_UNSUPPORTED", "{n}");
    }
}

/// The lease store behind one shard: the lease log, or nothing when persist is false.
#[allow(clippy::large_enum_variant)] // one per shard, never moved on the hot path
pub(crate) enum ShardStore {
    Log(LeaseLog),
    Memory(NullSink),
}

impl LeaseSink for ShardStore {
    fn record(&mut self, lease: &Lease) -> Result<(), StorageError> {
        match self {
            ShardStore::Log(l) => l.record(lease),
            ShardStore::Memory(n) => n.record(lease),
        }
    }

    fn remove(
        &mut self,
        kind: LeaseKind,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<(), StorageError> {
        match self {
            ShardStore::Log(l) => l.remove(kind, addr, prefix_len),
            ShardStore::Memory(n) => n.remove(kind, addr, prefix_len),
        }
    }

    fn last_seq(&self) -> LogSeq {
        match self {
            ShardStore::Log(l) => l.last_seq(),
            ShardStore::Memory(n) => n.last_seq(),
        }
    }

    fn record_after(&mut self, lease: &Lease, after: LogSeq) -> Result<(), StorageError> {
        match self {
            ShardStore::Log(l) => l.record_after(lease, after),
            ShardStore::Memory(n) => n.record_after(lease, after),
        }
    }
}

/// One shard's handler: the sans-IO v4 logic plus the interface filter, the log commit and
/// the control thread's job queue.
pub(crate) struct Dhcp4Handler {
    pub(crate) v4: V4Shard<ShardStore>,
    /// Interfaces packets are accepted on (None: any).
    allowed_ifaces: Option<Vec<u32>>,
    /// Jobs from the control thread (lease commands, dhcp-disable, reload steps), run in
    /// `on_wake`.
    jobs: Option<JobInbox<Dhcp4Handler>>,
    /// dhcp-disable (ARM 19.4.11): packets are received, counted and dropped.
    disabled: bool,
    /// dhcp-disable's max-period: when to switch back on by itself (Unix secs).
    disabled_until: Option<u64>,
    /// Layer-2 replies to clients without an address (dhcp-socket-type raw).
    raw: Option<RawSender>,
    /// Source port of layer-2 replies (the server port).
    server_port: u16,
    /// Lease file cleanup (lfc-interval).
    lfc: Lfc,
    /// This shard's index (config reload rebuilds the shard state for it).
    shard: usize,
    /// Wakes this shard: the run-script spawner uses it when an awaited script ends, so a
    /// parked packet resumes at once (set by the runtime before the first datagram).
    waker: Option<ShardWaker>,
    /// DHCPv4-over-DHCPv6 (`dhcp4o6-port`), when configured.
    dhcp4o6: Option<Ipc4>,
}

/// A shard's end of the 4o6 socket (src/dhcp4o6.rs). The reader thread hands this shard the
/// queries of the clients it owns (by the inner DHCPv4 message's chaddr, the kernel steering's
/// hash), so a 4o6 client's lease lives where recovery puts it; the shard serves them between
/// batches and answers over the socket once their leases are in the log.
pub(crate) struct Ipc4 {
    socket: Arc<UdpSocket>,
    queries: Arc<IpcQueue>,
    /// The DHCPv4 reply on its way into a DHCPv4-response.
    scratch: Box<[u8]>,
    /// Responses waiting for the lease-log commit: (length, bytes).
    responses: Vec<IpcBuf>,
}

/// 4o6 queries served per wake-up before the shard goes back to its socket.
const DHCP4O6_PER_WAKE: usize = 64;

impl Ipc4 {
    fn new(socket: Arc<UdpSocket>, queries: Arc<IpcQueue>) -> Self {
        let buf = || IpcBuf {
            len: 0,
            data: vec![0u8; corelease_shard::DATAGRAM_CAPACITY].into_boxed_slice(),
        };
        Ipc4 {
            socket,
            queries,
            scratch: buf().data,
            responses: (0..DHCP4O6_PER_WAKE).map(|_| buf()).collect(),
        }
    }
}

/// This shard's hooks from `hooks-libraries` (validated at configuration load); None when
/// there are none. A failure here (the script vanished since the check, no thread) runs the
/// shard without hooks, logged.
fn build_hooks(prepared: &Prepared4, shard: usize, waker: Option<&ShardWaker>) -> Option<Hooks> {
    let libraries = prepared
        .hooks_libraries
        .iter()
        .map(|l| (l.library.as_path(), l.parameters.as_ref()));
    match Hooks::from_libraries(libraries) {
        Ok(Some(mut hooks)) => {
            if let Some(w) = waker {
                let w = w.clone();
                hooks.set_exit_notify(Arc::new(move || w.wake()));
            }
            Some(hooks)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::error!(target: "HOOKS_LIBRARY_LOAD_FAILED", shard, "hooks not installed on this shard: {e}");
            None
        }
    }
}

impl Dhcp4Handler {
    pub(crate) fn set_enabled(&mut self, enabled: bool, until: Option<u64>) {
        self.disabled = !enabled;
        self.disabled_until = if enabled { None } else { until };
        if enabled {
            tracing::info!(target: "DHCP4_DHCP_ENABLE", "DHCPv4 service enabled");
        } else {
            tracing::info!(target: "DHCP4_DHCP_DISABLE", "DHCPv4 service disabled");
        }
    }

    /// Makes the lease log durable up to now (what `on_batch_end` does for packets).
    /// Serves the DHCPv4-over-DHCPv6 queries waiting for this shard (Kea's
    /// `Dhcp4to6Ipc::handler`), a bounded number per call.
    fn serve_dhcp4o6(&mut self, now: u64) {
        let Some(ipc) = self.dhcp4o6.as_mut() else {
            return;
        };
        let mut ready = 0;
        while ready < DHCP4O6_PER_WAKE {
            let Some(query) = ipc.queries.pop() else {
                break;
            };
            if self.disabled {
                // dhcp-disable: received, counted and dropped, as on the shard socket.
                let g = &self.v4.counters().global;
                g.pkt4_received.inc();
                g.pkt4_receive_drop.inc();
                ipc.queries.recycle(query);
                continue;
            }
            let Some(slot) = ipc.responses.get_mut(ready) else {
                ipc.queries.recycle(query);
                break;
            };
            let answered = self
                .v4
                .handle_4o6(query.bytes(), now, &mut ipc.scratch, &mut slot.data);
            ipc.queries.recycle(query);
            if let Some(n) = answered {
                slot.len = n;
                ready += 1;
            }
        }
        if ready > 0 {
            // No response leaves before its lease is durable (as on_batch_end does).
            self.commit_log();
        }
        let Some(ipc) = self.dhcp4o6.as_ref() else {
            return;
        };
        for r in ipc.responses.iter().take(ready) {
            crate::dhcp4o6::send(&ipc.socket, r.bytes(), "DHCP4_DHCP4O6_PACKET_SEND_FAIL");
        }
        if !ipc.queries.is_empty() {
            // More than one round's worth: come back after the next batch.
            if let Some(w) = &self.waker {
                w.wake();
            }
        }
    }

    pub(crate) fn commit_log(&mut self) {
        if let ShardStore::Log(log) = self.v4.sink_mut() {
            if let Err(e) = log.commit() {
                tracing::error!(target: "DHCPSRV_MEMFILE_LEASE_ADD_FAILED", "lease log commit failed: {e}");
            }
        }
    }
}

/// Config reload on a DHCPv4 shard (src/reload.rs; the protocol is
/// `corelease_alloc::reload`'s, keyed by the address).
impl ReloadShard for Dhcp4Handler {
    type Target = V4Shard<ShardStore>;
    type SwitchContext = Mutex<Vec<Option<Arc<ShardStats4>>>>;
    type Old = V4Shard<ShardStore>;

    fn shard_index(&self) -> usize {
        self.shard
    }

    fn reload_begin(&mut self) -> Vec<u32> {
        self.v4.reload_begin()
    }

    fn reload_copy(&self, keys: &[u32]) -> Vec<Lease> {
        self.v4.reload_copy(keys)
    }

    fn reload_changes(&mut self) -> Vec<(u32, Option<Lease>)> {
        self.v4.reload_changes()
    }

    fn reload_take_dirty(&mut self) -> Vec<u32> {
        self.v4.reload_take_dirty()
    }

    fn reload_current(&self, key: u32) -> Option<Lease> {
        self.v4.reload_current(key)
    }

    fn reload_abort(&mut self) {
        self.v4.reload_abort();
    }

    fn reload_carry_offers(&self, build: &mut ReloadBuild<ShardStore>, now: u64) -> usize {
        self.v4.reload_carry_offers(build, now)
    }

    fn reload_install(
        &mut self,
        build: ReloadBuild<ShardStore>,
        stats: &Self::SwitchContext,
        paused: Instant,
        waited: Duration,
        fixups: usize,
        offers: usize,
    ) -> (usize, V4Shard<ShardStore>) {
        self.commit_log();
        let sink = std::mem::replace(self.v4.sink_mut(), ShardStore::Memory(NullSink));
        let (next, conflicts) = self.v4.reload_finish(build, sink);
        let parked = self.v4.parked();
        // The old state goes back to the control thread: dropping a table of a million
        // leases takes tens of milliseconds, which the shard must not spend here.
        let old = std::mem::replace(&mut self.v4, next);
        // The new configuration's hooks replace the old. Packets parked on the old hooks are
        // dropped with them (their clients retransmit; a reply held after its lease was
        // committed is answered again on the retransmission); their scripts still run to the
        // end on the old spawner thread, which reaps them.
        let hooks = build_hooks(self.v4.prepared(), self.shard, self.waker.as_ref());
        self.v4.set_hooks(hooks);
        if parked > 0 {
            tracing::warn!(target: "DHCP4_DYNRECONF", shard = self.shard, parked, "packets parked on hook scripts were dropped by the reload");
        }
        if let Ok(mut reg) = stats.lock() {
            if let Some(slot) = reg.get_mut(self.shard) {
                *slot = Some(self.v4.stats());
            }
        }
        tracing::info!(target: "DHCP4_DYNRECONF", shard = self.shard, leases = self.v4.table().len(), fixups, offers, pause_us = paused.elapsed().as_micros() as u64, waited_us = waited.as_micros() as u64, "shard switched to the new configuration");
        (conflicts, old)
    }
}

pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ShardHandler for Dhcp4Handler {
    fn on_datagram(
        &mut self,
        meta: &RecvMeta,
        data: &[u8],
        out: &mut [u8],
        now: SystemTime,
    ) -> Option<SendMeta> {
        if self.disabled {
            let g = &self.v4.counters().global;
            g.pkt4_received.inc();
            g.pkt4_receive_drop.inc();
            return None;
        }
        if let Some(allowed) = &self.allowed_ifaces {
            if meta.ifindex != 0 && !allowed.contains(&meta.ifindex) {
                let g = self.v4.counters();
                g.global.pkt4_received.inc();
                g.global.pkt4_receive_drop.inc();
                return None;
            }
        }
        let m = Meta4 {
            src: meta.src,
            dst: meta.dst,
            ifindex: meta.ifindex,
            local: meta.local,
        };
        let r = self.v4.handle(&m, data, unix_secs(now), out)?;
        if let (Some(raw), Some(l2)) = (self.raw.as_mut(), r.l2_unicast) {
            // RFC 2131 4.1: to the client's MAC and yiaddr, sent after the log commit.
            let src = r.src_ip.unwrap_or(meta.local);
            raw.queue(
                meta.ifindex,
                src,
                self.server_port,
                &l2,
                out.get(..r.len).unwrap_or(&[]),
            );
            return None;
        }
        Some(SendMeta {
            dst: r.dst,
            src_ip: r.src_ip,
            ifindex: r.ifindex,
            len: r.len,
        })
    }

    fn on_batch_end(&mut self, _now: SystemTime) {
        self.commit_log();
        if let Some(raw) = self.raw.as_mut() {
            let errors = raw.errors;
            raw.flush();
            if raw.errors > errors {
                tracing::warn!(target: "DHCP4_PACKET_SEND_FAIL", failed = raw.errors - errors, "layer-2 reply not sent");
            }
        }
    }

    fn on_tick(&mut self, now: SystemTime) {
        let now = unix_secs(now);
        if self.disabled_until.is_some_and(|t| now >= t) {
            self.set_enabled(true, None);
        }
        self.v4.on_tick(now);
        if let ShardStore::Log(log) = self.v4.sink_mut() {
            self.lfc.on_tick(log);
        }
    }

    fn attach_waker(&mut self, waker: ShardWaker) {
        if let Some(h) = self.v4.hooks_mut() {
            let w = waker.clone();
            h.set_exit_notify(Arc::new(move || w.wake()));
        }
        self.waker = Some(waker);
    }

    /// Packets parked on hook scripts that ended: resumed here, their replies sent by the
    /// runtime after the lease log commit below.
    fn pending_replies(&mut self, batch: &mut SendBatch, now: SystemTime) -> bool {
        if !self.v4.hooks_pending() {
            return false;
        }
        let now = unix_secs(now);
        let mut more = false;
        loop {
            let Some(out) = batch.next_buffer() else {
                more = true;
                break;
            };
            let Some(resumed) = self.v4.resume_parked(now, out) else {
                break;
            };
            let Resumed::Reply(r) = resumed else {
                continue;
            };
            if let (Some(raw), Some(l2)) = (self.raw.as_mut(), r.l2_unicast) {
                let src = r.src_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
                let ifindex = r.ifindex.unwrap_or(0);
                raw.queue(
                    ifindex,
                    src,
                    self.server_port,
                    &l2,
                    out.get(..r.len).unwrap_or(&[]),
                );
                continue;
            }
            let meta = SendMeta {
                dst: r.dst,
                src_ip: r.src_ip,
                ifindex: r.ifindex,
                len: r.len,
            };
            if batch.commit(&meta).is_err() {
                tracing::warn!(target: "DHCP4_PACKET_SEND_FAIL", "resumed reply not queued");
            }
        }
        // No reply leaves before its lease is durable (as on_batch_end does for packets).
        self.commit_log();
        if let Some(raw) = self.raw.as_mut() {
            raw.flush();
        }
        more
    }

    fn on_wake(&mut self, now: SystemTime) {
        let now = unix_secs(now);
        self.serve_dhcp4o6(now);
        let pending = self.jobs.as_ref().map(JobInbox::take).unwrap_or_default();
        for job in pending {
            job(self, now);
        }
    }
}

/// Where the lease log of a config lives: beside Kea's lease file name, in
/// `<name>.corelease/` (Kea's `name` keeps its meaning: a Kea CSV there is imported once).
pub fn lease_dir(cfg: &Dhcp4Config) -> PathBuf {
    lease_dir_of(&cfg.lease_database, "kea-leases4.csv")
}

/// The lease log directory of a `lease-database` for either family: `<name>.corelease/`, with
/// Kea's default file (`default_file` under KEA_DHCP_DATA_DIR, else /var/lib/kea) when the
/// config names none.
pub(crate) fn lease_dir_of(db: &corelease_config::LeaseDatabase, default_file: &str) -> PathBuf {
    let name = db
        .name
        .clone()
        .unwrap_or_else(|| kea_data_dir().join(default_file));
    let mut dir = name.into_os_string();
    dir.push(".corelease");
    PathBuf::from(dir)
}

/// KEA_DHCP_DATA_DIR, else Kea's default /var/lib/kea.
pub(crate) fn kea_data_dir() -> PathBuf {
    std::env::var_os("KEA_DHCP_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/kea"))
}

/// Shards to run: one without multi-threading, else thread-pool-size (0: one per core).
pub(crate) fn shard_count(mt: &corelease_config::MultiThreading) -> usize {
    match (mt.enable, mt.thread_pool_size) {
        (false, _) => 1,
        (true, 0) => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        (true, n) => n as usize,
    }
}

/// Time since the first reading on a monotonic clock: the engine's clock for bounding a
/// reclamation cycle by max-reclaim-time.
pub(crate) fn monotonic() -> Duration {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// The shard that owns a lease: the one the kernel steers its client's chaddr to.
pub(crate) fn owner_shard(lease: &Lease, shards: usize) -> usize {
    let mut chaddr = [0u8; 6];
    if let Some(hw) = &lease.hwaddr {
        let b = hw.as_bytes();
        let n = b.len().min(6);
        chaddr[..n].copy_from_slice(&b[..n]);
    }
    corelease_shard::shard_of_chaddr(&chaddr, shards)
}

/// The (address, device) pairs to bind for the configured interfaces (ARM 9.2.4): an
/// `iface/addr` entry binds that address; a loopback binds its addresses (relayed traffic);
/// another interface binds 0.0.0.0 on that device, so broadcasts from direct clients arrive.
fn bind_plan(
    cfg: &Dhcp4Config,
    all: &[InterfaceInfo],
) -> Result<Vec<(Ipv4Addr, Option<String>)>, String> {
    let ic = &cfg.interfaces;
    if ic.all {
        return Ok(vec![(Ipv4Addr::UNSPECIFIED, None)]);
    }
    let mut plan = Vec::new();
    for spec in &ic.interfaces {
        let Some(iface) = all.iter().find(|i| i.name == spec.name) else {
            return Err(format!(
                "Dhcp4.interfaces-config.interfaces: interface {} does not exist",
                spec.name
            ));
        };
        if let Some(a) = spec.addr {
            if !iface.addrs.contains(&a) {
                return Err(format!(
                    "Dhcp4.interfaces-config.interfaces: {} has no address {a}",
                    spec.name
                ));
            }
            plan.push((a, None));
        } else if iface.addrs.iter().any(|a| a.is_loopback()) {
            plan.extend(iface.addrs.iter().map(|a| (*a, None)));
        } else {
            plan.push((Ipv4Addr::UNSPECIFIED, Some(spec.name.clone())));
        }
    }
    Ok(plan)
}

fn run(
    loaded: Loaded<Dhcp4Config>,
    ports: Ports,
    config_path: Option<&Path>,
) -> Result<i32, String> {
    let started = Instant::now();
    let cfg = &loaded.config;
    // Raw mode (Kea's default): requests still arrive on the UDP shard sockets (a DHCP server's
    // interfaces have addresses); replies to clients without an address leave at layer 2.
    let raw_mode = cfg.interfaces.socket_type == SocketType::Raw;
    let lfc_interval = if cfg.lease_database.persist {
        cfg.lease_database.lfc_interval
    } else {
        0
    };
    corelease_control::ControlServer::validate(&cfg.control_sockets, &loaded.raw)
        .map_err(|e| e.to_string())?;
    let all_ifaces = ifaces::discover().map_err(|e| format!("listing interfaces: {e}"))?;
    let plan = bind_plan(cfg, &all_ifaces)?;
    if plan.is_empty() {
        tracing::warn!(target: "DHCP4_NO_SOCKETS_OPEN", "no interface configured: the server listens nowhere");
    }
    let shards = shard_count(&cfg.multi_threading);
    // Several listening entries share one reuseport group on 0.0.0.0; the handler keeps only
    // packets that arrived on a configured interface (IP_PKTINFO), so the effect is Kea's.
    let plan = if plan.len() > 1 {
        vec![(Ipv4Addr::UNSPECIFIED, None)]
    } else {
        plan
    };
    // The plan entry is a reuseport group of `shards` sockets; shard i owns socket i.
    let mut per_shard: Vec<UdpSocket> = Vec::with_capacity(shards);
    for (addr, device) in &plan {
        let group = corelease_shard::bind_shard_sockets(
            SocketAddrV4::new(*addr, ports.server),
            shards,
            device.as_deref(),
        )
        .map_err(|e| {
            format!(
                "binding {addr}:{} ({}): {e}",
                ports.server,
                device.as_deref().unwrap_or("any device")
            )
        })?;
        per_shard.extend(group);
    }
    let configured: Vec<InterfaceInfo> = if cfg.interfaces.all {
        all_ifaces.clone()
    } else {
        all_ifaces
            .iter()
            .filter(|i| cfg.interfaces.interfaces.iter().any(|s| s.name == i.name))
            .cloned()
            .collect()
    };
    let allowed =
        (!cfg.interfaces.all).then(|| configured.iter().map(|i| i.index).collect::<Vec<_>>());
    let prepared = Arc::new(Prepared4::new(cfg, configured.clone(), ports));

    // Recover the lease log and hand each shard the leases of the clients it will see.
    let leases = Arc::new(LeaseStartup::recover(
        &cfg.lease_database,
        lease_dir(cfg),
        Family::V4,
        shards,
        |l| owner_shard(l, shards),
    )?);
    let stats_registry: Arc<Mutex<Vec<Option<Arc<ShardStats4>>>>> =
        Arc::new(Mutex::new(vec![None; shards]));
    let (mut jobs, inboxes) = job_queues::<Dhcp4Handler>(shards);
    let job_slot = Arc::new(Mutex::new(inboxes));

    let rt_cfg = RuntimeConfig {
        shards,
        pin_cores: true,
        batch: 64,
        tick: Duration::from_millis(250),
        queue_size: cfg.multi_threading.packet_queue_size as usize,
    };
    // DHCPv4-over-DHCPv6 (ARM 9.2.26): bound to [::1]:port + 1, sending to the port.
    let dhcp4o6 = if cfg.dhcp4o6_port != 0 {
        let sock = crate::dhcp4o6::open(cfg.dhcp4o6_port, Side::V4).map_err(|e| {
            format!(
                "Dhcp4.dhcp4o6-port: cannot open the DHCPv4-over-DHCPv6 socket on [::1]:{}: {e}",
                u32::from(cfg.dhcp4o6_port) + 1
            )
        })?;
        let queues: Vec<Arc<IpcQueue>> = (0..shards)
            .map(|_| Arc::new(IpcQueue::new(crate::dhcp4o6::QUEUE_DEPTH)))
            .collect();
        Some((Arc::new(sock), queues))
    } else {
        None
    };
    // Signals are blocked before any thread starts, so only the main thread takes them.
    let sigs = block_signals();
    let factory = {
        let prepared = Arc::clone(&prepared);
        let leases = Arc::clone(&leases);
        let stats_registry = Arc::clone(&stats_registry);
        let job_slot = Arc::clone(&job_slot);
        let dhcp4o6 = dhcp4o6.clone();
        move |i: usize| {
            let store = leases.open_store(i);
            let mut v4 = V4Shard::new(Arc::clone(&prepared), i, shards, store);
            // The waker comes with attach_waker, before the first datagram.
            v4.set_hooks(build_hooks(&prepared, i, None));
            v4.set_clock(monotonic);
            let now = unix_secs(SystemTime::now());
            let conflicts = v4.load_leases(leases.take_leases(i), now);
            if conflicts > 0 {
                tracing::warn!(target: "DHCPSRV_MEMFILE_LEASE_LOAD_ROW_ERROR", conflicts, "leases for an address already held were skipped");
            }
            if leases.rewrites_logs() {
                let (sink, table) = v4.sink_and_table();
                let live: Vec<Lease> = table
                    .iter()
                    .filter(|e| !e.is_offer())
                    .map(|e| e.lease.clone())
                    .collect();
                leases.rewrite_log(i, sink, live);
            }
            if let Ok(mut reg) = stats_registry.lock() {
                if let Some(slot) = reg.get_mut(i) {
                    *slot = Some(v4.stats());
                }
            }
            let jobs = job_slot
                .lock()
                .ok()
                .and_then(|mut v| v.get_mut(i).and_then(Option::take));
            let raw = match raw_mode.then(RawSender::open) {
                None => None,
                Some(Ok(r)) => Some(r),
                Some(Err(e)) => {
                    tracing::warn!(target: "DHCP4_OPEN_SOCKET_FAIL", shard = i,
                        "raw socket for layer-2 replies: {e}; clients without an address get broadcasts");
                    None
                }
            };
            Dhcp4Handler {
                v4,
                allowed_ifaces: allowed.clone(),
                jobs,
                disabled: false,
                disabled_until: None,
                raw,
                server_port: ports.server,
                lfc: Lfc::new(lfc_interval, i),
                shard: i,
                waker: None,
                dhcp4o6: dhcp4o6.as_ref().and_then(|(sock, queues)| {
                    let q = queues.get(i)?;
                    Some(Ipc4::new(Arc::clone(sock), Arc::clone(q)))
                }),
            }
        }
    };
    let runtime = Arc::new(
        corelease_shard::start(rt_cfg, per_shard, factory)
            .map_err(|e| format!("starting shards: {e}"))?,
    );
    // `start` returns once every shard built its handler, so every log open has been tried.
    if let Err(e) = leases.finish(shards) {
        runtime.shutdown();
        return Err(e);
    }
    jobs.set_wakers((0..shards).filter_map(|i| runtime.waker(i)).collect());
    let ipc_reader = match &dhcp4o6 {
        Some((sock, queues)) => {
            let wakers: Vec<ShardWaker> = (0..shards).filter_map(|i| runtime.waker(i)).collect();
            // The shard that owns the client: the one the kernel steers its chaddr to.
            let route = move |msg: &[u8]| {
                corelease_v4::dhcp4o6_chaddr(msg)
                    .map_or(0, |chaddr| corelease_shard::shard_of_chaddr(chaddr, shards))
            };
            match Reader::spawn(Arc::clone(sock), queues.clone(), wakers, route) {
                Ok(r) => {
                    tracing::info!(target: "DHCP4_DHCP4O6_RECEIVING", port = cfg.dhcp4o6_port, "DHCPv4-over-DHCPv6: bound to [::1]:{}, DHCPv6 server at [::1]:{}", u32::from(cfg.dhcp4o6_port) + 1, cfg.dhcp4o6_port);
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
    let backend = Arc::new(Dhcp4Backend {
        runtime: Arc::clone(&runtime),
        jobs,
        running: RunningConfig::new(Arc::clone(&prepared), loaded.raw.clone(), started),
        configured_ifaces: configured,
        ports,
        stats: Arc::clone(&stats_registry),
        config_file: config_path.map(Path::to_path_buf),
        started,
        multi_threading: cfg.multi_threading.enable,
        packet_queue_size: cfg.multi_threading.packet_queue_size,
        exit_value: Arc::clone(&exit_value),
        disabled: Mutex::new(false),
        dhcp4o6: dhcp4o6.as_ref().map(|(sock, queues)| {
            crate::dhcp4o6::IpcMonitor::new(Arc::clone(sock), queues.clone())
        }),
    });
    let signal_backend = Arc::clone(&backend);
    let control = Arc::new(corelease_control::Control::new(
        backend,
        corelease_control::Limit::from_defaults(
            cfg.other.statistic_default_sample_count,
            cfg.other.statistic_default_sample_age,
        ),
    ));
    let control_server =
        match corelease_control::ControlServer::start(&cfg.control_sockets, &loaded.raw, control) {
            Ok(s) => s,
            Err(e) => {
                runtime.shutdown();
                return Err(e.to_string());
            }
        };
    let pid_file = write_pid_file(config_path, Family::V4);
    tracing::info!(target: "DHCP4_STARTED", shards, port = ports.server, "corelease dhcp4 {} started", env!("CARGO_PKG_VERSION"));
    loop {
        match wait_signal(&sigs) {
            // Kea reloads its configuration file on SIGHUP (ARM 9.1), as config-reload does.
            libc::SIGHUP => match signal_backend.reload_config() {
                Ok(path) => {
                    tracing::info!(target: "DHCP4_DYNRECONF", "SIGHUP: configuration {path} applied")
                }
                Err(e) => {
                    tracing::error!(target: "DHCP4_DYNRECONF_FAIL", "SIGHUP: configuration not applied, the running one stays: {e}")
                }
            },
            sig => {
                tracing::info!(target: "DHCP4_SHUTDOWN", signal = sig, "shutting down");
                break;
            }
        }
    }
    runtime.shutdown();
    if let Some(r) = ipc_reader {
        r.stop();
    }
    if let Some((_, queues)) = &dhcp4o6 {
        let dropped: u64 = queues
            .iter()
            .map(|q| q.dropped.load(std::sync::atomic::Ordering::Relaxed))
            .sum();
        if dropped > 0 {
            tracing::warn!(target: "DHCP4_DHCP4O6_RECEIVE_FAIL", dropped, "DHCPv4-over-DHCPv6 queries dropped: a shard's queue was full");
        }
    }
    // The control threads hold the backend and with it the runtime: stop them first.
    control_server.stop();
    // The configuration the shards run now (a reload may have replaced the one started with).
    let prepared = signal_backend.current_prepared();
    drop(signal_backend);
    let joined = match Arc::try_unwrap(runtime) {
        Ok(rt) => rt.join(),
        // Still shared (cannot happen once the control server stopped): dropping the last
        // reference joins the shards.
        Err(_) => Ok(()),
    };
    let shards_stats: Vec<Arc<ShardStats4>> = stats_registry
        .lock()
        .map(|r| r.iter().flatten().cloned().collect())
        .unwrap_or_default();
    for (name, value) in corelease_v4::kea_statistics(&prepared, &shards_stats) {
        if value != 0 {
            tracing::info!(target: "DHCP4_STATISTICS", "{name} = {value}");
        }
    }
    if let Some(p) = pid_file {
        let _ = std::fs::remove_file(p);
    }
    joined.map_err(|e| format!("shard failed: {e}"))?;
    Ok(exit_value.load(std::sync::atomic::Ordering::Relaxed))
}

/// Kea's `lease-database.name` keeps its meaning: when it names an existing Kea leases4 or
/// leases6 CSV (`family`) and corelease has no log yet, the CSV is imported once (migration
/// from Kea, issue 3). Shared by dhcp4 and dhcp6.
pub(crate) fn import_kea_file_once(
    db: &corelease_config::LeaseDatabase,
    family: Family,
    dir: &Path,
    fresh: bool,
) -> Result<(), String> {
    let Some(name) = db.name.as_deref() else {
        return Ok(());
    };
    if !fresh || !name.is_file() {
        return Ok(());
    }
    let file = std::fs::File::open(name).map_err(|e| format!("{}: {e}", name.display()))?;
    let opts = log_options(&db.durability);
    let s = corelease_storage::import_kea_csv(dir, family, std::io::BufReader::new(file), opts)
        .map_err(|e| format!("importing Kea lease file {}: {e}", name.display()))?;
    for row in &s.skipped {
        tracing::warn!(target: "DHCPSRV_MEMFILE_LEASE_LOAD_ROW_ERROR", "{}: {row}", name.display());
    }
    tracing::info!(target: "DHCPSRV_MEMFILE_LEASES_RELOAD", imported = s.imported, file = %name.display(), "Kea lease file imported");
    Ok(())
}

/// Lease-log options from the config's durability choice (README "Durability").
pub(crate) fn log_options(d: &corelease_config::Durability) -> LogOptions {
    let durability = match d {
        corelease_config::Durability::Default => corelease_storage::Durability::Default,
        corelease_config::Durability::GroupCommit {
            max_delay_us,
            max_batch,
        } => corelease_storage::Durability::GroupCommit {
            max_delay: Duration::from_micros(u64::from(*max_delay_us)),
            max_batch: *max_batch,
        },
    };
    LogOptions {
        durability,
        ..LogOptions::default()
    }
}

/// Kea's PID file, `[conf name].kea-dhcp4.pid` or `.kea-dhcp6.pid` in KEA_PIDFILE_DIR (ARM 9.1,
/// 10.1).
pub(crate) fn write_pid_file(config_path: Option<&Path>, family: Family) -> Option<PathBuf> {
    let dir = std::env::var_os("KEA_PIDFILE_DIR").map(PathBuf::from)?;
    let stem = config_path
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "corelease-default".into());
    let daemon = match family {
        Family::V4 => "kea-dhcp4",
        Family::V6 => "kea-dhcp6",
    };
    let path = dir.join(format!("{stem}.{daemon}.pid"));
    match std::fs::write(&path, format!("{}\n", std::process::id())) {
        Ok(()) => Some(path),
        Err(e) => {
            // Kea's message IDs differ per daemon; tracing targets are compile-time constants.
            match family {
                Family::V4 => {
                    tracing::warn!(target: "DHCP4_PID_FILE_ERROR", "cannot write {}: {e}", path.display())
                }
                Family::V6 => {
                    tracing::warn!(target: "DHCP6_PID_FILE_ERROR", "cannot write {}: {e}", path.display())
                }
            }
            None
        }
    }
}

pub(crate) fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc signal-mask calls on a zeroed, then initialised, sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

pub(crate) fn wait_signal(set: &libc::sigset_t) -> i32 {
    let mut sig: libc::c_int = 0;
    // SAFETY: sigwait on a set of signals this thread has blocked.
    let rc = unsafe { libc::sigwait(set, &mut sig) };
    if rc != 0 {
        libc::SIGTERM
    } else {
        sig
    }
}

/// `corelease lease export|import`.
pub fn lease_main(args: Vec<OsString>) -> i32 {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let usage = "usage: corelease lease export -c FILE [--format kea-csv|kea2-csv] | corelease lease import -c FILE LEASES.csv";
    let Some(verb) = args.first() else {
        eprintln!("{usage}");
        return 1;
    };
    let mut config = None;
    let mut format = "kea-csv".to_string();
    let mut file = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" => config = it.next().cloned(),
            "--format" => format = it.next().cloned().unwrap_or_default(),
            other if !other.starts_with('-') => file = Some(other.to_string()),
            other => {
                eprintln!("corelease lease: unknown switch {other:?}\n{usage}");
                return 1;
            }
        }
    }
    // kea-csv: Kea 3.0's lease file (with pool_id); kea2-csv: Kea 2.x's, which a 2.x memfile
    // loads (it refuses a header with columns it does not know).
    let schema = match format.as_str() {
        "kea-csv" => corelease_storage::KeaSchema::V3_0,
        "kea2-csv" => corelease_storage::KeaSchema::V2,
        _ => {
            eprintln!(
                "corelease lease: format {format:?} is not supported (kea-csv and kea2-csv are)"
            );
            return 1;
        }
    };
    let Some(config) = config else {
        eprintln!("{usage}");
        return 1;
    };
    let loaded = match corelease_config::load_dhcp4_file(Path::new(&config)) {
        Ok(l) => l,
        Err(e) => {
            // A Dhcp6 configuration: its leases6 CSV (src/server6.rs).
            if let Ok(v6) = corelease_config::load_dhcp6_file(Path::new(&config)) {
                return match crate::server6::lease_command(verb, &v6, file, schema) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("corelease lease {verb}: {e}");
                        1
                    }
                };
            }
            eprintln!("{e}");
            return 1;
        }
    };
    let dir = lease_dir(&loaded.config);
    let result = match (verb.as_str(), file) {
        ("export", None) => {
            let stdout = std::io::stdout();
            corelease_storage::export_kea_csv_as(&dir, Family::V4, schema, stdout.lock()).map(|s| {
                for r in &s.reports {
                    eprintln!("{r}");
                }
            })
        }
        ("import", Some(f)) => match std::fs::File::open(&f) {
            Err(e) => {
                eprintln!("corelease lease import: {f}: {e}");
                return 1;
            }
            Ok(file) => {
                if let Err(e) = std::fs::create_dir_all(&dir) {
                    eprintln!("corelease lease import: creating {}: {e}", dir.display());
                    return 1;
                }
                let opts = log_options(&loaded.config.lease_database.durability);
                corelease_storage::import_kea_csv(
                    &dir,
                    Family::V4,
                    std::io::BufReader::new(file),
                    opts,
                )
                .map(|s| {
                    for row in &s.skipped {
                        eprintln!("skipped: {row}");
                    }
                    eprintln!(
                        "imported {} leases ({} deletions) into {}",
                        s.imported,
                        s.removed,
                        dir.display()
                    );
                })
            }
        },
        _ => {
            eprintln!("{usage}");
            return 1;
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("corelease lease {verb}: {e}");
            1
        }
    }
}
