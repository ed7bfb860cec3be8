//! `corelease perf`: a DHCP load generator that takes perfdhcp's command line, puts the same
//! packets on the wire (for DHCPv4 it acts as a relay agent: giaddr = its local address,
//! replies come back to its local port, 67 by default; for DHCPv6 it relays like perfdhcp
//! -A 1), and prints perfdhcp's report, so it can replace ISC perfdhcp in operators'
//! scripts. On top it reports latency percentiles
//! (HDR histogram), writes JSON (`--json`), an SVG chart (`--plot`), every ACKed lease
//! (`--record-acks`), shows a live progress line on a terminal, and spreads the work over
//! several sender/receiver threads (`--threads`), each owning a socket and a slice of the
//! clients, so that one generator outruns the server it measures.
//!
//! It must never send anywhere but the one server address it was given, never run unbounded
//! (every run ends by -n, -p, or the --time-cap), and never allocate or lock per packet on
//! the send/receive path.

pub mod engine;
pub mod options;
pub mod report;
pub mod stats;
pub mod wire;
pub mod wire6;

use engine::{AckRecorder, AddressTable, LiveCounters, RunError, Shared, Worker, WorkerPlan};
use options::{Family, LeaseType, MaxDrop, Options, Scenario};
use report::Summary;
use stats::{ExchangeKind, ExchangeStats};
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `println!` that ignores a closed stdout (`corelease perf ... | head`) instead of
/// panicking: the run's outcome is the exit code, not whether anyone read the report.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` counterpart of `say!`.
macro_rules! say_partial {
    ($($arg:tt)*) => {{
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// Exit code: everything completed.
pub const EXIT_OK: i32 = 0;
/// Exit code: a general error (socket, resolution, files).
pub const EXIT_ERROR: i32 = 1;
/// Exit code: the command line could not be parsed (perfdhcp(8) "Exit status").
pub const EXIT_PARSE: i32 = 2;
/// Exit code: the run worked but some exchanges did not complete (or -D was reached).
pub const EXIT_DROPS: i32 = 3;

const USAGE: &str = "\
corelease perf [-4 | -6] [-A 1] [-b mac=BASE | duid=HEX] [-B] [-c] [-d drop-time]
               [-D max-drop] [-e lease-type] [-f renew-rate] [-F release-rate] [-h] [-i]
               [-l local-address|interface] [-L local-port] [-n num-request]
               [-N remote-port] [-p test-period] [-r rate] [-R num-clients]
               [--scenario basic|avalanche] [-t report] [-u] [-v] [-W exit-wait-time]
               [-x diagnostic-selector] [--json] [--plot FILE.svg] [--record-acks FILE]
               [--threads N] [--window N] [--time-cap SECONDS] server

A perfdhcp-compatible DHCP load generator (see perfdhcp(8) for the shared options).
DHCPv4: it acts as a relay agent: giaddr is the local address (-l), requests leave from and
replies return to the local port (-L, default 67; Kea answers relays there whatever port it
listens on, unless the relay names its port: with another -L the requests carry option 82
with the RFC 8357 relay source port); the server port is -N (default 67).
DHCPv6 (-6 -A 1): it acts as a relay, RELAY-FORW from and RELAY-REPL to port 547 (-L);
-l names the interface or local address; the server must be a unicast address.
DHCPv6 without -A: clients on the link -l IFACE, from its link-local address port 546 to
'all' (ff02::1:2, the default), 'servers' (ff05::1:3) or a unicast server, port 547.
Without -r, exchanges start as fast as the in-flight window (--window, per thread) allows.
-x: 'a' prints the decoded command line, 'e' the exit reason.
Extras: --json prints a JSON report instead of text; --plot writes an SVG of rate and
latency over time; --record-acks writes one line per ACK (client-id address lifetime);
--threads sets sender/receiver threads (default: one per core); --time-cap bounds every
run (default 600 s).
Exit status: 0 success, 1 general error, 2 bad command line, 3 exchanges not completed.
";

/// Runs the generator with perfdhcp-style arguments (without the program name); returns the
/// exit code perfdhcp would (0 ok, 1 general error, 2 parse error, 3 drops over -D).
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let printable: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let opts = match options::parse(args) {
        Ok(opts) => opts,
        Err(e) => {
            eprint!("{USAGE}");
            eprintln!("\nERROR: parsing command line options: {e}");
            return EXIT_PARSE;
        }
    };
    if opts.help {
        say_partial!("{USAGE}");
        return EXIT_OK;
    }
    if opts.version {
        say!("{}", env!("CARGO_PKG_VERSION"));
        return EXIT_OK;
    }
    match run(&opts, &printable) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ERROR: running corelease perf: {e}");
            EXIT_ERROR
        }
    }
}

/// DUID-LLT time: seconds since 2000-01-01 UTC (RFC 8415 11.2), as perfdhcp stamps its DUID.
fn duid_time() -> u32 {
    const Y2K_UNIX: u64 = 946_684_800;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(Y2K_UNIX);
    now.saturating_sub(Y2K_UNIX) as u32
}

/// Local time as perfdhcp (boost::posix_time) prints it: `2026-Nov-24 04:30:18.583056`.
fn perfdhcp_timestamp() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: an all-zero tm is valid; localtime_r only writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call.
    unsafe { libc::localtime_r(&secs, &mut tm) };
    format!(
        "{}-{}-{:02} {:02}:{:02}:{:02}.{:06}",
        tm.tm_year + 1900,
        MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("Jan"),
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_micros()
    )
}

/// Splits `total` over `parts`: the first `total % parts` parts get one more.
fn share(total: u64, parts: usize, index: usize) -> u64 {
    let parts = parts.max(1) as u64;
    total / parts + u64::from((index as u64) < total % parts)
}

fn thread_count(opts: &Options) -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut threads = opts.threads.unwrap_or(cores).max(1);
    threads = threads.min(opts.clients.max(1) as usize);
    if let Some(n) = opts.num_requests {
        threads = threads.min(n.max(1) as usize);
    }
    threads
}

/// Why initiation stopped, worded as perfdhcp's `-x e` prints it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ExitReason {
    MaxRequests,
    TestPeriod,
    MaxDrops,
    TimeCap,
    AllAnswered,
}

impl ExitReason {
    fn text(self) -> &'static str {
        match self {
            ExitReason::MaxRequests => "Reached max requests limit.",
            ExitReason::TestPeriod => "reached test-period.",
            ExitReason::MaxDrops => "Reached maximum drops number.",
            ExitReason::TimeCap => "reached --time-cap.",
            ExitReason::AllAnswered => "All exchanges answered.",
        }
    }
}

fn sum_live(live: &[LiveCounters], pick: impl Fn(&LiveCounters) -> u64) -> u64 {
    live.iter().map(pick).sum()
}

fn live_at(counters: &[std::sync::atomic::AtomicU64; 4], kind: ExchangeKind) -> u64 {
    counters
        .get(kind.index())
        .map(|c| c.load(Ordering::Relaxed))
        .unwrap_or(0)
}

/// -D: perfdhcp counts drops found by the drop timer; a percentage is checked once at least
/// ten replies were due.
fn max_drop_reached(max: MaxDrop, live: &[LiveCounters]) -> bool {
    let collected = sum_live(live, |l| {
        live_at(&l.collected, ExchangeKind::DiscoverOffer)
            + live_at(&l.collected, ExchangeKind::RequestAck)
    });
    match max {
        MaxDrop::Count(n) => collected >= n,
        MaxDrop::Percent(p) => {
            let received = sum_live(live, |l| {
                live_at(&l.received, ExchangeKind::DiscoverOffer)
                    + live_at(&l.received, ExchangeKind::RequestAck)
            });
            let due = received + collected;
            due >= 10 && collected as f64 * 100.0 / due as f64 > p
        }
    }
}

/// perfdhcp's periodic (-t) line: "sent: a/b; received: c/d; drops: e/f; rejected: g/h".
fn periodic_line(live: &[LiveCounters]) -> String {
    let get = |f: &dyn Fn(&LiveCounters) -> &[std::sync::atomic::AtomicU64; 4], k| {
        sum_live(live, |l| live_at(f(l), k))
    };
    let (d, r) = (ExchangeKind::DiscoverOffer, ExchangeKind::RequestAck);
    format!(
        "sent: {}/{}; received: {}/{}; drops: {}/{}; rejected: {}/{}",
        get(&|l| &l.sent, d),
        get(&|l| &l.sent, r),
        get(&|l| &l.received, d),
        get(&|l| &l.received, r),
        get(&|l| &l.collected, d),
        get(&|l| &l.collected, r),
        get(&|l| &l.rejected, d),
        get(&|l| &l.rejected, r),
    )
}

fn open_record_file(path: &std::path::Path) -> Result<Arc<File>, RunError> {
    let err = |e| RunError::RecordFile(path.display().to_string(), e);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    file.set_len(0).map_err(err)?;
    Ok(Arc::new(file))
}

fn run(opts: &Options, printable_args: &[String]) -> Result<i32, RunError> {
    let endpoints = engine::resolve_endpoints(opts)?;
    let threads = thread_count(opts);
    // perfdhcp without -n, -p or -r performs a single exchange ("pinging the server").
    let num_requests = match (
        opts.num_requests,
        opts.test_period,
        opts.rate,
        opts.scenario,
    ) {
        (None, None, None, Scenario::Basic) => Some(1),
        (n, ..) => n,
    };
    let sockets = engine::open_sockets(
        endpoints.local,
        threads,
        engine::steering(opts.family, opts.relay_level.is_some()),
    )?;
    let duid_template = opts
        .duid_base
        .clone()
        .unwrap_or_else(|| wire6::default_duid(&opts.mac_base, duid_time()));
    let record = match &opts.record_acks {
        Some(path) => Some(open_record_file(path)?),
        None => None,
    };
    let uniqueness = opts
        .uniqueness
        .then(|| Arc::new(AddressTable::new(opts.clients)));
    let text_output = !opts.json;
    if text_output {
        say!("Running: corelease perf {}", printable_args.join(" "));
        match opts.scenario {
            Scenario::Basic => say!("Scenario: basic."),
            Scenario::Avalanche => say!("Scenario: avalanche."),
        }
        say!("Multi-thread mode enabled.");
        if opts.diag('a') {
            say!("{opts:#?}");
            say!(
                "local={} server={} threads={threads}",
                endpoints.local,
                endpoints.server
            );
        }
    }
    let shared = Arc::new(Shared {
        stop: Default::default(),
        abort: Default::default(),
        live: (0..threads).map(|_| LiveCounters::default()).collect(),
        start: Instant::now(),
    });
    let per_thread = |total: Option<u32>| total.map(|r| f64::from(r) / threads as f64);
    let mut handles = Vec::with_capacity(threads);
    for (index, socket) in sockets.into_iter().enumerate() {
        let plan = WorkerPlan {
            index,
            threads,
            endpoints,
            clients: opts.clients,
            mac_base: opts.mac_base,
            broadcast: opts.broadcast,
            initial_only: opts.initial_only,
            scenario: opts.scenario,
            rate: per_thread(opts.rate),
            renew_rate: per_thread(opts.renew_rate),
            release_rate: per_thread(opts.release_rate),
            quota: num_requests.map(|n| share(n, threads, index)),
            window: opts.window,
            drop_time: opts.drop_time,
            exit_wait: opts.exit_wait,
            time_cap: opts.time_cap,
            family: opts.family,
            ias: wire6::IaKinds {
                address: opts.lease_type != LeaseType::PrefixOnly,
                prefix: opts.lease_type != LeaseType::AddressOnly,
            },
            rapid_commit: opts.rapid_commit,
            duid_template: duid_template.clone(),
            relayed: opts.family == Family::V4 || opts.relay_level.is_some(),
        };
        let worker = Worker::new(
            plan,
            socket,
            Arc::clone(&shared),
            uniqueness.clone(),
            record.clone().map(AckRecorder::new),
        );
        let handle = std::thread::Builder::new()
            .name(format!("perf-{index}"))
            .spawn(move || worker.run())
            .map_err(RunError::Spawn)?;
        handles.push(handle);
    }

    let reason = supervise(opts, &shared, &handles, num_requests.is_some());
    let mut results = Vec::with_capacity(threads);
    for handle in handles {
        if let Ok(result) = handle.join() {
            results.push(result);
        }
    }
    let end = shared.start.elapsed();

    let mut merged: [ExchangeStats; 4] = Default::default();
    let mut malformed = 0;
    let mut completed = 0;
    let mut retransmissions = 0;
    let mut last_completion = Duration::ZERO;
    let mut series = Vec::with_capacity(results.len());
    for r in &results {
        for (total, part) in merged.iter_mut().zip(r.stats.iter()) {
            total.merge(part);
        }
        malformed += r.malformed;
        completed += r.completed;
        retransmissions += r.retransmissions;
        last_completion = last_completion.max(r.last_completion.unwrap_or(Duration::ZERO));
        series.push(r.series.clone());
    }
    let series = stats::merge_series(&series);
    let mut exchanges = vec![ExchangeKind::DiscoverOffer];
    if !opts.initial_only {
        exchanges.push(ExchangeKind::RequestAck);
    }
    if opts.renew_rate.is_some() {
        exchanges.push(ExchangeKind::RenewAck);
    }
    if opts.release_rate.is_some() {
        exchanges.push(ExchangeKind::Release);
    }
    let exchanges: Vec<(ExchangeKind, ExchangeStats)> = exchanges
        .into_iter()
        .map(|k| (k, merged.get(k.index()).cloned().unwrap_or_default()))
        .collect();
    // A DHCPv4 RELEASE has no reply (RFC 2131 4.4.6), so it cannot be "not completed"; a
    // DHCPv6 RELEASE is answered (RFC 8415 18.3.7) and counts like any exchange.
    // Avalanche retransmits lost exchanges, so it succeeds when every client got its lease,
    // whatever was lost on the way (the losses still show as drops and retransmissions).
    let incomplete = if opts.scenario == Scenario::Avalanche {
        completed < u64::from(opts.clients)
    } else {
        exchanges
            .iter()
            .filter(|(k, _)| opts.family == Family::V6 || *k != ExchangeKind::Release)
            .any(|(_, s)| s.drops() > 0)
    };
    let exit_code = if reason == ExitReason::MaxDrops || incomplete {
        EXIT_DROPS
    } else {
        EXIT_OK
    };
    // The rate runs over the time exchanges were completing: from the start to the last
    // completion (or to the end, when nothing completed).
    let duration = if last_completion > Duration::ZERO {
        last_completion
    } else {
        end
    };
    let summary = Summary {
        exchanges,
        malformed,
        completed,
        duration,
        expected_rate: opts.rate,
        initial_only: opts.initial_only,
        family: opts.family,
        avalanche: opts.scenario == Scenario::Avalanche,
        retransmissions,
        clients: opts.clients,
        threads,
        series,
        exit_reason: reason.text(),
        exit_code,
    };
    if let Some(path) = &opts.plot {
        std::fs::write(path, report::svg_plot(&summary.series))
            .map_err(|e| RunError::RecordFile(path.display().to_string(), e))?;
    }
    let mut stdout = std::io::stdout().lock();
    if opts.json {
        let _ = writeln!(stdout, "{}", report::json_report(&summary));
    } else {
        if opts.diag('e') {
            let _ = writeln!(stdout, "{}", reason.text());
        }
        let _ = write!(stdout, "{}", report::perfdhcp_text(&summary));
    }
    let _ = stdout.flush();
    Ok(exit_code)
}

/// The main thread's loop while workers run: test period, time cap, -D, -t reports and the
/// progress line. Returns why initiation stopped.
fn supervise(
    opts: &Options,
    shared: &Shared,
    workers: &[std::thread::JoinHandle<engine::WorkerResult>],
    bounded_by_count: bool,
) -> ExitReason {
    // Workers stop by themselves at the time cap and drain for at most a few drop times;
    // past this the supervisor aborts them, so no run outlives its bound.
    let hard_stop = opts.time_cap + opts.drop_time.saturating_mul(4) + Duration::from_secs(5);
    let tick = Duration::from_millis(10);
    let progress = !opts.json && std::io::stdout().is_terminal();
    let mut reason = None;
    let mut next_report = opts.report_interval;
    let mut next_progress = Duration::from_secs(1);
    // perfdhcp's avalanche prints who is still waiting every 200 ms.
    let waiting_lines = opts.scenario == Scenario::Avalanche && !opts.json;
    let mut next_waiting = Duration::from_millis(200);
    let mut resent_reported = [0u64; 4];
    let mut last_completed = 0u64;
    loop {
        std::thread::sleep(tick);
        let elapsed = shared.start.elapsed();
        // is_finished also covers a worker that died, so the loop always ends.
        if workers.iter().all(std::thread::JoinHandle::is_finished) {
            break;
        }
        if elapsed >= hard_stop {
            shared.abort.store(true, Ordering::Relaxed);
        }
        if reason.is_none() {
            if opts.test_period.is_some_and(|p| elapsed >= p) {
                reason = Some(ExitReason::TestPeriod);
                shared.stop.store(true, Ordering::Relaxed);
            } else if elapsed >= opts.time_cap {
                reason = Some(ExitReason::TimeCap);
                shared.stop.store(true, Ordering::Relaxed);
            } else if opts
                .max_drop
                .is_some_and(|m| max_drop_reached(m, &shared.live))
            {
                reason = Some(ExitReason::MaxDrops);
                shared.abort.store(true, Ordering::Relaxed);
            }
        }
        if let Some(at) = next_report {
            if elapsed >= at && !opts.json {
                say!("{}", periodic_line(&shared.live));
                next_report = opts.report_interval.map(|i| at + i);
            }
        }
        if waiting_lines && elapsed >= next_waiting {
            for kind in [ExchangeKind::DiscoverOffer, ExchangeKind::RequestAck] {
                let waiting = sum_live(&shared.live, |l| live_at(&l.waiting, kind));
                let resent = sum_live(&shared.live, |l| live_at(&l.resent, kind));
                let retried = sum_live(&shared.live, |l| live_at(&l.retried, kind));
                let before = resent_reported.get(kind.index()).copied().unwrap_or(0);
                // As perfdhcp: a line for each exchange that resent something this period.
                if resent > before {
                    say!(
                        "{} {}: still waiting for {waiting} answers, resent {}, retrying {retried}",
                        perfdhcp_timestamp(),
                        kind.perfdhcp_name(opts.family),
                        resent - before
                    );
                }
                if let Some(slot) = resent_reported.get_mut(kind.index()) {
                    *slot = resent;
                }
            }
            next_waiting += Duration::from_millis(200);
        }
        if progress && elapsed >= next_progress {
            let completed = sum_live(&shared.live, |l| l.completed.load(Ordering::Relaxed));
            let sent = sum_live(&shared.live, |l| {
                live_at(&l.sent, ExchangeKind::DiscoverOffer)
            });
            let drops = sum_live(&shared.live, |l| {
                live_at(&l.collected, ExchangeKind::DiscoverOffer)
                    + live_at(&l.collected, ExchangeKind::RequestAck)
            });
            let p99 = shared
                .live
                .iter()
                .map(|l| l.p99_us.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0);
            say_partial!(
                "\r{:>6.1}s sent {sent} completed {completed} rate {}/s drops {drops} p99 {:.3} ms\x1b[K",
                elapsed.as_secs_f64(),
                completed - last_completed.min(completed),
                p99 as f64 / 1000.0
            );
            let _ = std::io::stdout().flush();
            last_completed = completed;
            next_progress += Duration::from_secs(1);
        }
    }
    if progress {
        say_partial!("\r\x1b[K");
        let _ = std::io::stdout().flush();
    }
    match reason {
        Some(r) => r,
        None if bounded_by_count => ExitReason::MaxRequests,
        None => ExitReason::AllAnswered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_with(received: u64, collected: u64) -> Vec<LiveCounters> {
        let live = vec![LiveCounters::default(), LiveCounters::default()];
        // Split over two workers and two exchanges, as the supervisor sums them.
        live[0].received[0].store(received / 2, Ordering::Relaxed);
        live[1].received[1].store(received - received / 2, Ordering::Relaxed);
        live[0].collected[1].store(collected / 2, Ordering::Relaxed);
        live[1].collected[0].store(collected - collected / 2, Ordering::Relaxed);
        live
    }

    #[test]
    fn max_drop_count_counts_collected_drops_of_both_exchanges() {
        assert!(!max_drop_reached(MaxDrop::Count(5), &live_with(100, 4)));
        assert!(max_drop_reached(MaxDrop::Count(5), &live_with(100, 5)));
    }

    #[test]
    fn max_drop_percent_waits_for_ten_due_replies() {
        // 3 of 5 dropped is 60 %, but fewer than ten replies were due yet (perfdhcp(8)).
        assert!(!max_drop_reached(MaxDrop::Percent(50.0), &live_with(2, 3)));
        assert!(max_drop_reached(MaxDrop::Percent(50.0), &live_with(4, 6)));
        assert!(!max_drop_reached(MaxDrop::Percent(50.0), &live_with(6, 4)));
    }

    #[test]
    fn shares_add_up_to_the_total() {
        let parts: Vec<u64> = (0..3).map(|i| share(10, 3, i)).collect();
        assert_eq!(parts, vec![4, 3, 3]);
        assert_eq!((0..4).map(|i| share(2, 4, i)).sum::<u64>(), 2);
    }

    #[test]
    fn parse_errors_exit_with_code_2() {
        assert_eq!(
            main_with_args(vec!["-R".into(), "abc".into(), "127.0.0.1".into()]),
            EXIT_PARSE
        );
    }

    #[test]
    fn v6_on_a_link_without_interface_is_refused_with_code_1() {
        assert_eq!(main_with_args(vec!["-6".into(), "all".into()]), EXIT_ERROR);
    }
}
