//! Bounded loopback load test of the runtime: request/response pairs per second through
//! `start` with an echo handler, for 1 and 2 shards (or the count given).
//!
//! ```text
//! cargo run --release -p corelease-shard --example loopback_load -- [--shards N] [--seconds S]
//!     [--max-requests M] [--window W] [--baseline 1]
//! ```
//! `--baseline 1` also measures a plain blocking `recv_from`/`send_to` echo thread on the same
//! client, as a reference point for the machine's current load.
//! Each run is limited to `S` seconds (default 3, at most 30) and `M` requests (default
//! 3,000,000). One client thread keeps `W` requests (default 256) in flight with sendmmsg /
//! recvmmsg, using 300-byte DHCP-shaped datagrams from 65,536 hardware addresses so that every
//! shard gets its share. Reported: replies/s, the shards' CPU time per reply (from
//! /proc/self/task), and the average receive batch. The client shares the machine's cores
//! with the shards, so on a small machine it bounds the result.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

use corelease_shard::{
    bind_shard_sockets, start, RecvBatch, RecvMeta, RuntimeConfig, SendBatch, SendMeta,
    ShardHandler,
};

struct Echo;

impl ShardHandler for Echo {
    fn on_datagram(
        &mut self,
        meta: &RecvMeta,
        data: &[u8],
        out: &mut [u8],
        _now: SystemTime,
    ) -> Option<SendMeta> {
        out.get_mut(..data.len())?.copy_from_slice(data);
        Some(SendMeta {
            dst: meta.src,
            src_ip: None,
            ifindex: None,
            len: data.len(),
        })
    }
}

struct Options {
    shards: Vec<usize>,
    seconds: u64,
    max_requests: u64,
    window: u64,
    baseline: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        shards: vec![1, 2],
        seconds: 3,
        max_requests: 3_000_000,
        window: 256,
        baseline: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .parse::<u64>()
            .map_err(|e| format!("{flag}: {e}"))?;
        match flag.as_str() {
            "--shards" => options.shards = vec![value.clamp(1, 64) as usize],
            "--seconds" => options.seconds = value.clamp(1, 30),
            "--max-requests" => options.max_requests = value.max(1),
            "--window" => options.window = value.clamp(1, 4096),
            "--baseline" => options.baseline = value != 0,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

/// CPU time (user + system) of the threads whose name starts with `prefix`, in seconds.
fn threads_cpu_seconds(prefix: &str) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut ticks = 0u64;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        // Fields after the comm: state is field 3, utime 14, stime 15 (proc(5)).
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let utime = fields
            .get(11)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0);
        let stime = fields
            .get(12)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0);
        ticks += utime + stime;
    }
    ticks as f64 / ticks_per_second
}

fn request(seq: u64, out: &mut [u8]) -> usize {
    const LEN: usize = 300;
    let Some(p) = out.get_mut(..LEN) else {
        return 0;
    };
    p.fill(0);
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
    let client = (seq % 65_536) as u16;
    p[28..34].copy_from_slice(&[0x02, 0x42, 0x0a, 0x00, (client >> 8) as u8, client as u8]);
    p[236..240].copy_from_slice(&[99, 130, 83, 99]);
    LEN
}

struct ClientResult {
    sent: u64,
    replies: u64,
    elapsed: Duration,
}

/// Keeps `window` requests in flight until the time or request budget runs out.
fn run_client(server: SocketAddrV4, options: &Options) -> io::Result<ClientResult> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_nonblocking(true)?;
    let fd = socket.as_raw_fd();
    let mut requests = SendBatch::new(64);
    let mut replies = RecvBatch::new(64);
    let (mut sent, mut received, mut in_flight) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.seconds);
    let mut last_reply = Instant::now();
    while Instant::now() < deadline {
        while in_flight < options.window && sent < options.max_requests {
            let Some(out) = requests.next_buffer() else {
                break;
            };
            let len = request(sent, out);
            let meta = SendMeta {
                dst: server,
                src_ip: None,
                ifindex: None,
                len,
            };
            if requests.commit(&meta).is_err() {
                break;
            }
            sent += 1;
            in_flight += 1;
        }
        let flushed = requests.flush(fd);
        // Requests the kernel refused or could not queue are not in flight.
        in_flight = in_flight.saturating_sub((flushed.failed + flushed.blocked) as u64);
        sent = sent.saturating_sub((flushed.failed + flushed.blocked) as u64);
        requests.clear();

        let n = replies.recv(fd)? as u64;
        received += n;
        in_flight = in_flight.saturating_sub(n);
        if n > 0 {
            last_reply = Instant::now();
        } else if in_flight > 0 && last_reply.elapsed() > Duration::from_millis(50) {
            // Lost in a full buffer somewhere: forget them so the window refills.
            in_flight = 0;
        } else if sent >= options.max_requests && in_flight == 0 {
            break;
        } else {
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, 1 ms timeout.
            unsafe { libc::poll(&mut pfd, 1, 1) };
        }
    }
    Ok(ClientResult {
        sent,
        replies: received,
        elapsed: started.elapsed(),
    })
}

fn run(shards: usize, options: &Options) -> io::Result<()> {
    let probe = UdpSocket::bind("127.0.0.1:0")?;
    let port = probe.local_addr()?.port();
    drop(probe);
    let server = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let sockets = bind_shard_sockets(server, shards, None)?;
    let cfg = RuntimeConfig {
        shards,
        pin_cores: true,
        ..RuntimeConfig::default()
    };
    let mut runtime = start(cfg, sockets, |_| Echo)?;
    let cpu_before = threads_cpu_seconds("shard");
    let result = run_client(server, options)?;
    let cpu = threads_cpu_seconds("shard") - cpu_before;
    runtime.stop()?;
    let counters = runtime.counters();
    let mut latency = hdrhistogram::Histogram::<u64>::new(2).map_err(io::Error::other)?;
    for shard in runtime.latency() {
        latency.add(&shard).map_err(io::Error::other)?;
    }

    let secs = result.elapsed.as_secs_f64();
    let received: u64 = counters.iter().map(|c| c.received).sum();
    let batches: u64 = counters.iter().map(|c| c.batches).sum::<u64>().max(1);
    let per_shard: Vec<u64> = counters.iter().map(|c| c.received).collect();
    println!(
        "shards={shards} window={} seconds={secs:.2} sent={} replies={} rate={:.0}/s \
         shard_cpu={cpu:.2}s ({:.2} us/reply) avg_batch={:.1} per_shard={per_shard:?} \
         in-server latency p50={}us p99={}us max={}us",
        options.window,
        result.sent,
        result.replies,
        result.replies as f64 / secs,
        cpu * 1e6 / (result.replies.max(1) as f64),
        received as f64 / batches as f64,
        latency.value_at_quantile(0.5),
        latency.value_at_quantile(0.99),
        latency.max(),
    );
    Ok(())
}

/// The reference point: one thread echoing with blocking `recv_from` / `send_to`.
fn run_baseline(options: &Options) -> io::Result<()> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let std::net::SocketAddr::V4(server) = socket.local_addr()? else {
        return Err(io::Error::other("loopback address is not IPv4"));
    };
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_server = std::sync::Arc::clone(&stop);
    let echo = std::thread::Builder::new()
        .name("baseline".into())
        .spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop_server.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    let _ = socket.send_to(&buf[..n], from);
                }
            }
        })?;
    let cpu_before = threads_cpu_seconds("baseline");
    let result = run_client(server, options)?;
    let cpu = threads_cpu_seconds("baseline") - cpu_before;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = echo.join();
    let secs = result.elapsed.as_secs_f64();
    println!(
        "baseline (blocking recv_from/send_to thread) window={} seconds={secs:.2} sent={} \
         replies={} rate={:.0}/s server_cpu={cpu:.2}s ({:.2} us/reply)",
        options.window,
        result.sent,
        result.replies,
        result.replies as f64 / secs,
        cpu * 1e6 / (result.replies.max(1) as f64),
    );
    Ok(())
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("loopback_load: {err}");
            std::process::exit(2);
        }
    };
    if options.baseline {
        if let Err(err) = run_baseline(&options) {
            eprintln!("loopback_load: baseline: {err}");
            std::process::exit(1);
        }
    }
    for shards in options.shards.clone() {
        if let Err(err) = run(shards, &options) {
            eprintln!("loopback_load: {shards} shards: {err}");
            std::process::exit(1);
        }
    }
}
