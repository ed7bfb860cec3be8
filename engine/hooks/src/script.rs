//! Running the operator's script without ever blocking the shard.
//!
//! Even starting a process blocks its caller: `posix_spawn` returns only once the child has
//! exec'd, about a millisecond for a `/bin/sh` script on a loaded 2-core machine (measured by
//! `benches/fire.rs`). So the shard does not spawn: `fire` builds the environment and hands
//! the job to this hook's spawner thread over a channel, and `poll` takes the exit reports
//! from another channel without waiting. The spawner execs the script directly (no shell, an
//! environment holding only the contract's variables), reaps its own children with
//! `waitpid(pid, WNOHANG)` (`Child::try_wait`; never `waitpid(-1)`, which would steal other
//! shards' children), and kills an awaited script that outlives `wait-timeout-ms`.

use crate::config::{HookConfigError, RunScriptConfig};
use crate::context::HookContext;
use crate::env::script_env;
use crate::{HookPoint, HookPoints, NextStep};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often the spawner looks for exited children while some run. Bounds the delay a
/// parked packet sees after its script exits.
const REAP_INTERVAL: Duration = Duration::from_millis(1);

/// Called by the spawner thread after it reported the end of scripts: the engine's way to
/// wake its shard (the shard runtime's `ShardWaker`), so a parked packet resumes at once
/// rather than at the next tick, and detached scripts leave the `max-running` count as soon as
/// they end (else a busy shard could run only `max-running` scripts per tick).
pub type ExitNotify = Arc<dyn Fn() + Send + Sync>;

/// Names one awaited script run: the engine parks the packet under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScriptTicket(pub u64);

/// An awaited script that ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptDone {
    pub ticket: ScriptTicket,
    pub point: HookPoint,
    /// How it ended; `None` if it could not be started or its status could not be collected.
    pub status: Option<ExitStatus>,
    /// It ran past `wait-timeout-ms` and was killed.
    pub timed_out: bool,
    /// What the parked packet does now.
    pub next: NextStep,
}

/// Counters of one shard's run-script hook.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptStats {
    /// Jobs handed to the spawner.
    pub fired: u64,
    /// Hook points that found `max-running` scripts in flight and ran none.
    pub over_limit: u64,
    /// Scripts that ran and were reaped (reported by `poll`).
    pub finished: u64,
    /// Spawns the OS refused (script gone, not executable, out of processes).
    pub spawn_failed: u64,
    /// Scripts that exited non-zero or by a signal (timed-out ones not included).
    pub failed: u64,
    /// Awaited scripts killed after `wait-timeout-ms`.
    pub timed_out: u64,
}

/// One script to run.
struct Job {
    ticket: Option<ScriptTicket>,
    point: HookPoint,
    env: Vec<(String, Vec<u8>)>,
}

/// What became of a job.
struct Report {
    ticket: Option<ScriptTicket>,
    point: HookPoint,
    spawned: bool,
    status: Option<ExitStatus>,
    timed_out: bool,
}

/// One shard's run-script hook.
pub struct RunScript {
    cfg: RunScriptConfig,
    points: HookPoints,
    jobs: Sender<Job>,
    reports: Receiver<Report>,
    /// Jobs handed out and not yet reported back: the quantity `max-running` bounds.
    in_flight: usize,
    next_ticket: u64,
    stats: ScriptStats,
    notify: Arc<Mutex<Option<ExitNotify>>>,
}

impl RunScript {
    /// Starts the hook's spawner thread (named `run-script`); fails only if the OS refuses a
    /// thread.
    pub fn new(cfg: RunScriptConfig) -> Result<Self, HookConfigError> {
        let points = HookPoint::ALL
            .into_iter()
            .filter(|p| cfg.contract.fires_at(*p))
            .fold(HookPoints::NONE, HookPoints::with);
        let (jobs, job_rx) = mpsc::channel();
        let (report_tx, reports) = mpsc::channel();
        let notify: Arc<Mutex<Option<ExitNotify>>> = Arc::new(Mutex::new(None));
        let spawner = Spawner {
            notify: Arc::clone(&notify),
            script: cfg.script.clone(),
            wait_timeout: cfg.wait_timeout,
            jobs: job_rx,
            reports: report_tx,
            running: Vec::new(),
        };
        std::thread::Builder::new()
            .name("run-script".into())
            .spawn(move || spawner.run())
            .map_err(|e| HookConfigError::NoThread {
                reason: e.to_string(),
            })?;
        Ok(RunScript {
            cfg,
            points,
            jobs,
            reports,
            in_flight: 0,
            next_ticket: 1,
            stats: ScriptStats::default(),
            notify,
        })
    }

    /// Has the spawner call `notify` whenever it reported the end (or failed start) of
    /// scripts, once per reaping pass, so the shard can [`RunScript::poll`] at once. Set once
    /// per shard, not per packet.
    pub fn set_exit_notify(&mut self, notify: ExitNotify) {
        *self.notify.lock().unwrap_or_else(PoisonError::into_inner) = Some(notify);
    }

    pub fn config(&self) -> &RunScriptConfig {
        &self.cfg
    }

    /// The hook points this script's contract has callouts for.
    pub fn points(&self) -> HookPoints {
        self.points
    }

    pub fn stats(&self) -> ScriptStats {
        self.stats
    }

    /// Scripts handed out and not yet reported back by `poll` (awaited and detached).
    pub fn running(&self) -> usize {
        self.in_flight
    }

    /// Runs the script for `point` if its contract has a callout there. Returns a ticket when
    /// the packet must wait for the exit (`wait` / `sync`); `None` when it need not (the
    /// script runs detached, or is not run: not a point of the contract, or `max-running`
    /// scripts in flight — counted and logged, and the packet goes on, as Kea goes on when a
    /// script cannot run). Never waits: the spawn happens on the spawner thread.
    pub fn fire(&mut self, point: HookPoint, ctx: &HookContext<'_>) -> Option<ScriptTicket> {
        if !self.points.contains(point) {
            return None;
        }
        if self.in_flight >= self.cfg.max_running {
            self.stats.over_limit += 1;
            // Logged at powers of two so a storm of hook points cannot flood the log.
            if self.stats.over_limit.is_power_of_two() {
                tracing::warn!(target: "HOOKS_RUN_SCRIPT_OVER_LIMIT", point = point.name(), max_running = self.cfg.max_running, skipped = self.stats.over_limit, "run-script not started: max-running scripts already running on this shard");
            }
            return None;
        }
        let ticket = self.cfg.wait.then_some(ScriptTicket(self.next_ticket));
        let job = Job {
            ticket,
            point,
            env: script_env(self.cfg.contract, point, ctx),
        };
        if self.jobs.send(job).is_err() {
            // The spawner thread is gone (it only ends when this hook is dropped, or by a
            // panic): run nothing rather than park a packet forever.
            self.stats.spawn_failed += 1;
            tracing::error!(target: "HOOKS_RUN_SCRIPT_SPAWN_FAILED", point = point.name(), "run-script spawner thread is gone; script not run");
            return None;
        }
        if ticket.is_some() {
            self.next_ticket += 1;
        }
        self.in_flight += 1;
        self.stats.fired += 1;
        ticket
    }

    /// The awaited scripts that ended since the last call, with the step their packet takes
    /// now; detached ones are only counted. Never waits. Reports the caller does not take (it
    /// stops iterating early) stay for the next call. Call it from the shard loop whenever
    /// [`RunScript::running`] is non-zero: `max-running` counts scripts until they are
    /// reported here.
    pub fn poll(&mut self) -> impl Iterator<Item = ScriptDone> + '_ {
        std::iter::from_fn(move || loop {
            let report = match self.reports.try_recv() {
                Ok(r) => r,
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => return None,
            };
            if let Some(done) = self.account(report) {
                return Some(done);
            }
        })
    }

    fn account(&mut self, r: Report) -> Option<ScriptDone> {
        self.in_flight = self.in_flight.saturating_sub(1);
        let failed = r.status.map(|s| !s.success()).unwrap_or(false) && !r.timed_out;
        if r.spawned {
            self.stats.finished += 1;
        } else {
            self.stats.spawn_failed += 1;
        }
        if failed {
            self.stats.failed += 1;
        }
        if r.timed_out {
            self.stats.timed_out += 1;
        }
        Some(ScriptDone {
            ticket: r.ticket?,
            point: r.point,
            status: r.status,
            timed_out: r.timed_out,
            next: self.next_step(r.point, failed),
        })
    }

    /// corelease `exit-code-drops` (the host blacklist kea-hook-runscript's README wishes
    /// for): a failed script at pkt4_receive / pkt6_receive drops the packet; at lease4_select
    /// / lease6_select it refuses the lease, as a Kea callout setting SKIP there does. Elsewhere, and for a script that could
    /// not start, was killed after its timeout or whose status was lost, the packet goes on.
    fn next_step(&self, point: HookPoint, failed: bool) -> NextStep {
        if !self.cfg.exit_code_drops || !failed {
            return NextStep::Continue;
        }
        match point {
            HookPoint::Pkt4Receive | HookPoint::Pkt6Receive => NextStep::Drop,
            HookPoint::Lease4Select | HookPoint::Lease6Select => NextStep::Skip,
            _ => NextStep::Continue,
        }
    }
}

struct Running {
    child: Child,
    ticket: Option<ScriptTicket>,
    point: HookPoint,
    started: Instant,
    killed: bool,
}

/// The spawner thread of one run-script hook.
struct Spawner {
    script: PathBuf,
    wait_timeout: Duration,
    jobs: Receiver<Job>,
    reports: Sender<Report>,
    running: Vec<Running>,
    notify: Arc<Mutex<Option<ExitNotify>>>,
}

impl Spawner {
    /// Tells the shard that an awaited script's report is waiting in the channel.
    fn notify(&self) {
        let notify = self
            .notify
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(f) = notify {
            f();
        }
    }

    fn run(mut self) {
        take_process_affinity();
        loop {
            // Sleep until a job comes; while children run, wake every REAP_INTERVAL to reap.
            let next = if self.running.is_empty() {
                self.jobs.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                self.jobs.recv_timeout(REAP_INTERVAL)
            };
            match next {
                Ok(job) => {
                    self.start(job);
                    while let Ok(job) = self.jobs.try_recv() {
                        self.start(job);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.reap(Instant::now());
        }
        // The hook was dropped (reconfiguration, shutdown): nobody waits for these any more,
        // but they must not linger as zombies. This thread may block now; no shard does.
        for mut r in self.running.drain(..) {
            let _ = r.child.wait();
        }
    }

    fn start(&mut self, job: Job) {
        let spawned = Command::new(&self.script)
            .arg(job.point.name())
            .env_clear()
            .envs(
                job.env
                    .iter()
                    .map(|(k, v)| (OsStr::new(k), OsStr::from_bytes(v))),
            )
            .stdin(Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => self.running.push(Running {
                child,
                ticket: job.ticket,
                point: job.point,
                started: Instant::now(),
                killed: false,
            }),
            Err(e) => {
                tracing::error!(target: "HOOKS_RUN_SCRIPT_SPAWN_FAILED", point = job.point.name(), script = %self.script.display(), error = %e, "run-script could not be started");
                let _ = self.reports.send(Report {
                    ticket: job.ticket,
                    point: job.point,
                    spawned: false,
                    status: None,
                    timed_out: false,
                });
                self.notify();
            }
        }
    }

    fn reap(&mut self, now: Instant) {
        let mut ended = false;
        let mut i = 0;
        while let Some(r) = self.running.get_mut(i) {
            let status = match r.child.try_wait() {
                Ok(Some(status)) => Some(status),
                Ok(None) => {
                    let overdue = r.ticket.is_some()
                        && !r.killed
                        && now.saturating_duration_since(r.started) >= self.wait_timeout;
                    if overdue {
                        // Reaped at a later pass, reported then as timed out.
                        let _ = r.child.kill();
                        r.killed = true;
                        tracing::warn!(target: "HOOKS_RUN_SCRIPT_TIMEOUT", point = r.point.name(), pid = r.child.id(), "awaited run-script killed after wait-timeout-ms; its packet goes on");
                    }
                    i += 1;
                    continue;
                }
                // Reaped behind our back (a waitpid(-1) elsewhere in the process): it ended,
                // with an unknown status.
                Err(_) => None,
            };
            let r = self.running.swap_remove(i);
            if status.map(|s| !s.success()).unwrap_or(false) && !r.killed {
                tracing::debug!(target: "HOOKS_RUN_SCRIPT_FAILED", point = r.point.name(), status = ?status, "run-script exited unsuccessfully");
            }
            ended = true;
            let _ = self.reports.send(Report {
                ticket: r.ticket,
                point: r.point,
                spawned: true,
                status,
                timed_out: r.killed,
            });
        }
        if ended {
            self.notify();
        }
    }
}

/// Gives the calling (spawner) thread the CPU mask of the process's main thread. A spawner
/// started from a shard would otherwise inherit the shard's pinning, and so would every
/// script: they would all run on the shard's core and take its time.
fn take_process_affinity() {
    // SAFETY: cpu_set_t is plain old data. sched_getaffinity fills it with the mask of the
    // process's main thread (tid == pid); sched_setaffinity(0) applies it to this thread. A
    // failure of either leaves this thread's mask as it was.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if libc::sched_getaffinity(libc::getpid(), size, &mut set) == 0 {
            let _ = libc::sched_setaffinity(0, size, &set);
        }
    }
}
