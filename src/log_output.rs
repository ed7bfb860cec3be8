//! Log output that never makes the logging thread wait: every log line (a tracing event,
//! formatted on the thread that logs it) is queued for one writer thread, which writes it to
//! stdout, stderr or the log file. Shards log on their packet path (DHCP6_LEASE_ALLOC and
//! DHCP4_LEASE_ALLOC are INFO, as in Kea), so writing there directly would stop a shard for
//! as long as the output is slow: a pipe whose reader lags (a supervisor, a test rig, `| tee`
//! on a busy machine) or a slow disk. Measured with bench-harness/reload6-under-load.sh and a
//! log pipe whose reader pauses: both dhcp6 shards stopped answering for 2.4 s at a time
//! (248 of 1500 Solicits dropped by the full socket queue, the others answered up to 2.4 s
//! late), since every shard waited on the one stdout lock held by a blocked write.
//!
//! When the queue is full the line is dropped and counted; the writer reports the count once it
//! has caught up (a log that loses lines under overload rather than a server that stops
//! answering). Lines keep their order. Buffers circulate between the loggers and the writer, so
//! logging allocates only until the pool has warmed up.

use crossbeam::channel::{self, Receiver, Sender, TrySendError};
use crossbeam::queue::ArrayQueue;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::MakeWriter;

/// Lines queued before new ones are dropped: at the rate of two lines per DHCPv6 exchange,
/// several seconds of a busy server's INFO log, a few MB at most.
const QUEUED_LINES: usize = 16_384;
/// How long [`flush`] waits at exit for the writer to write what is queued.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// What the loggers and the writer thread share.
struct Shared {
    /// Emptied line buffers, handed back by the writer for the loggers to reuse.
    spare: ArrayQueue<Vec<u8>>,
    /// Lines dropped because the queue was full, not yet reported.
    dropped: AtomicU64,
    /// Lines queued and lines written (or given up on), for [`flush`].
    queued: AtomicU64,
    written: AtomicU64,
}

/// The `MakeWriter` for tracing-subscriber: each event's line goes to the writer thread.
#[derive(Clone)]
pub(crate) struct QueuedLog {
    lines: Sender<Vec<u8>>,
    shared: Arc<Shared>,
}

/// The handle of the running writer, for [`flush`] at exit.
static RUNNING: OnceLock<QueuedLog> = OnceLock::new();

impl QueuedLog {
    /// Starts the writer thread over `out`.
    pub(crate) fn start(out: Box<dyn Write + Send>) -> io::Result<QueuedLog> {
        let (tx, rx) = channel::bounded(QUEUED_LINES);
        let shared = Arc::new(Shared {
            spare: ArrayQueue::new(QUEUED_LINES),
            dropped: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            written: AtomicU64::new(0),
        });
        let writer_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                // Started before the servers block their signals: SIGTERM / SIGINT / SIGHUP
                // must go to the thread that waits for them, never end the process here.
                crate::server4::block_signals();
                write_lines(out, &rx, &writer_shared)
            })?;
        let log = QueuedLog { lines: tx, shared };
        let _ = RUNNING.set(log.clone());
        Ok(log)
    }

    fn send(&self, mut line: Vec<u8>) {
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        match self.lines.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(back) | TrySendError::Disconnected(back)) => {
                self.shared.written.fetch_add(1, Ordering::AcqRel);
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                line = back;
                line.clear();
                let _ = self.shared.spare.push(line);
            }
        }
    }
}

/// One event's line, sent when tracing drops the writer (after its one `write_all`).
pub(crate) struct LineWriter<'a> {
    log: &'a QueuedLog,
    line: Vec<u8>,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            self.log.send(std::mem::take(&mut self.line));
        }
    }
}

impl<'a> MakeWriter<'a> for QueuedLog {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter {
            log: self,
            line: self.shared.spare.pop().unwrap_or_default(),
        }
    }
}

/// The writer thread: writes lines in order, flushes whenever the queue runs empty, reports
/// dropped lines once it has caught up, and hands the buffers back.
fn write_lines(mut out: Box<dyn Write + Send>, rx: &Receiver<Vec<u8>>, shared: &Shared) {
    while let Ok(mut line) = rx.recv() {
        // A failed write (a closed pipe) loses the line, as a direct write would; the
        // server goes on.
        let _ = out.write_all(&line);
        line.clear();
        let _ = shared.spare.push(line);
        shared.written.fetch_add(1, Ordering::AcqRel);
        if rx.is_empty() {
            let dropped = shared.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                // Written here, in the layout of tracing's own lines, rather than logged:
                // it belongs after the lines written so far, whatever the subscriber.
                let mut now = String::new();
                let _ = SystemTime.format_time(&mut Writer::new(&mut now));
                let _ = writeln!(
                    out,
                    "{now}  WARN LOG_LINES_DROPPED: {dropped} log lines dropped: the log output did not keep up"
                );
            }
            let _ = out.flush();
        }
    }
}

/// Waits (at most a few seconds) until every line queued so far is written: called before
/// the process exits, so the last lines (shutdown statistics) are not lost.
pub(crate) fn flush() {
    let Some(log) = RUNNING.get() else {
        return;
    };
    let target = log.shared.queued.load(Ordering::Acquire);
    let deadline = Instant::now() + FLUSH_TIMEOUT;
    while log.shared.written.load(Ordering::Acquire) < target && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// An output that blocks until released, then records what it got.
    struct Gate {
        open: Arc<Mutex<bool>>,
        got: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            while !*self.open.lock().unwrap_or_else(|p| p.into_inner()) {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.got
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log_line(log: &QueuedLog, text: &str) {
        let mut w = log.make_writer();
        w.write_all(text.as_bytes()).expect("in memory");
    }

    #[test]
    fn a_blocked_output_never_blocks_the_logger_and_overflow_is_counted_then_reported() {
        let open = Arc::new(Mutex::new(false));
        let got = Arc::new(Mutex::new(Vec::new()));
        let gate = Gate {
            open: Arc::clone(&open),
            got: Arc::clone(&got),
        };
        let log = QueuedLog::start(Box::new(gate)).expect("writer thread");
        // The output is stuck: the writer holds the first line, the queue takes
        // QUEUED_LINES more, everything beyond is dropped, and no call waits.
        let total = QUEUED_LINES + 100;
        for i in 0..total {
            log_line(&log, &format!("line {i}\n"));
        }
        let dropped = log.shared.dropped.load(Ordering::Relaxed);
        assert!((99..=100).contains(&dropped), "{dropped} dropped");
        *open.lock().unwrap_or_else(|p| p.into_inner()) = true;
        let target = log.shared.queued.load(Ordering::Acquire);
        let deadline = Instant::now() + Duration::from_secs(20);
        while log.shared.written.load(Ordering::Acquire) < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        // The report comes after the last queued line, once the queue ran empty.
        std::thread::sleep(Duration::from_millis(50));
        let text = String::from_utf8(got.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"line 0"));
        let kept = total - dropped as usize;
        assert_eq!(lines.len(), kept + 1, "every kept line and one report");
        let numbers: Vec<usize> = lines[..kept]
            .iter()
            .filter_map(|l| l.strip_prefix("line ")?.parse().ok())
            .collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in order");
        assert!(
            lines[kept].contains(&format!("LOG_LINES_DROPPED: {dropped} log lines dropped")),
            "{}",
            lines[kept]
        );
    }
}
