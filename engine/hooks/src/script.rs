//! Running the operator's script without ever blocking the shard.
//!
//! `fire` starts the script (exec, no shell, an environment holding only the contract's
//! variables) and returns at once; `poll` collects exits with `waitpid(pid, WNOHANG)` (through
//! `Child::try_wait`) for this shard's children only, never `waitpid(-1)`, which would steal
//! other shards' children. The only time spent in `fire` is the spawn itself (a
//! `posix_spawn`/vfork and exec, tens to hundreds of microseconds), paid only at hook points a
//! script listens to.

use crate::config::RunScriptConfig;
use crate::context::HookContext;
use crate::env::script_env;
use crate::{HookPoint, HookPoints, NextStep};
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Instant;

/// Names one awaited script run: the engine parks the packet under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScriptTicket(pub u64);

/// An awaited script that ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptDone {
    pub ticket: ScriptTicket,
    pub point: HookPoint,
    /// How it ended; `None` if its exit status could not be collected.
    pub status: Option<ExitStatus>,
    /// It ran past `wait-timeout-ms` and was killed.
    pub timed_out: bool,
    /// What the parked packet does now.
    pub next: NextStep,
}

/// Counters of one shard's run-script hook.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptStats {
    /// Scripts started.
    pub started: u64,
    /// Hook points that found `max-running` scripts running and ran none.
    pub over_limit: u64,
    /// Spawns the OS refused (script gone, not executable, out of processes).
    pub spawn_failed: u64,
    /// Scripts that exited non-zero or by a signal.
    pub failed: u64,
    /// Awaited scripts killed after `wait-timeout-ms`.
    pub timed_out: u64,
}

struct Running {
    child: Child,
    /// Set when a packet waits for this run.
    ticket: Option<ScriptTicket>,
    point: HookPoint,
    started: Instant,
    killed: bool,
}

/// One shard's run-script hook.
pub struct RunScript {
    cfg: RunScriptConfig,
    points: HookPoints,
    running: Vec<Running>,
    /// Ended awaited scripts not yet handed out; kept across polls until taken.
    done: VecDeque<ScriptDone>,
    next_ticket: u64,
    stats: ScriptStats,
}

impl RunScript {
    pub fn new(cfg: RunScriptConfig) -> Self {
        let points = HookPoint::ALL
            .into_iter()
            .filter(|p| cfg.contract.fires_at(*p))
            .fold(HookPoints::NONE, HookPoints::with);
        RunScript {
            running: Vec::with_capacity(cfg.max_running),
            done: VecDeque::with_capacity(cfg.max_running),
            cfg,
            points,
            next_ticket: 1,
            stats: ScriptStats::default(),
        }
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

    /// Scripts of this shard not yet reaped (awaited and detached).
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Starts the script for `point` if its contract has a callout there. Returns a ticket
    /// when the packet must wait for the exit (`wait` / `sync`); `None` when it need not (the
    /// script runs detached, or was not started: not a point of the contract, the
    /// `max-running` bound reached, or the spawn failed — each counted and logged, and the
    /// packet goes on as Kea goes on when a script cannot run).
    pub fn fire(&mut self, point: HookPoint, ctx: &HookContext<'_>) -> Option<ScriptTicket> {
        if !self.points.contains(point) {
            return None;
        }
        if self.running.len() >= self.cfg.max_running {
            self.stats.over_limit += 1;
            // Logged at powers of two so a storm of hook points cannot flood the log.
            if self.stats.over_limit.is_power_of_two() {
                tracing::warn!(target: "HOOKS_RUN_SCRIPT_OVER_LIMIT", point = point.name(), max_running = self.cfg.max_running, skipped = self.stats.over_limit, "run-script not started: max-running scripts already running on this shard");
            }
            return None;
        }
        let env = script_env(self.cfg.contract, point, ctx);
        let spawned = Command::new(&self.cfg.script)
            .arg(point.name())
            .env_clear()
            .envs(
                env.iter()
                    .map(|(k, v)| (OsStr::new(k), OsStr::from_bytes(v))),
            )
            .stdin(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(c) => c,
            Err(e) => {
                self.stats.spawn_failed += 1;
                tracing::error!(target: "HOOKS_RUN_SCRIPT_SPAWN_FAILED", point = point.name(), script = %self.cfg.script.display(), error = %e, "run-script could not be started");
                return None;
            }
        };
        self.stats.started += 1;
        let ticket = self.cfg.wait.then(|| {
            let t = ScriptTicket(self.next_ticket);
            self.next_ticket += 1;
            t
        });
        self.running.push(Running {
            child,
            ticket,
            point,
            started: Instant::now(),
            killed: false,
        });
        ticket
    }

    /// Reaps the scripts that exited (without waiting), kills awaited ones older than
    /// `wait-timeout-ms`, and yields the awaited ones that ended. Reports the caller does not
    /// take (it stops iterating early) stay for the next poll.
    pub fn poll(&mut self, now: Instant) -> impl Iterator<Item = ScriptDone> + '_ {
        let mut i = 0;
        while let Some(r) = self.running.get_mut(i) {
            let ended = match r.child.try_wait() {
                Ok(Some(status)) => Some(Some(status)),
                Ok(None) => {
                    let overdue = r.ticket.is_some()
                        && !r.killed
                        && now.saturating_duration_since(r.started) >= self.cfg.wait_timeout;
                    if overdue {
                        // Reaped at a later poll, reported then as timed out.
                        let _ = r.child.kill();
                        r.killed = true;
                        self.stats.timed_out += 1;
                        tracing::warn!(target: "HOOKS_RUN_SCRIPT_TIMEOUT", point = r.point.name(), pid = r.child.id(), "awaited run-script killed after wait-timeout-ms; its packet goes on");
                    }
                    None
                }
                // The child was reaped behind our back (a waitpid(-1) elsewhere): it ended,
                // with an unknown status.
                Err(_) => Some(None),
            };
            let Some(status) = ended else {
                i += 1;
                continue;
            };
            let r = self.running.swap_remove(i);
            self.finish(r, status);
        }
        std::iter::from_fn(move || self.done.pop_front())
    }

    fn finish(&mut self, r: Running, status: Option<ExitStatus>) {
        let failed = status.map(|s| !s.success()).unwrap_or(false);
        if failed && !r.killed {
            self.stats.failed += 1;
            tracing::debug!(target: "HOOKS_RUN_SCRIPT_FAILED", point = r.point.name(), status = ?status, "run-script exited unsuccessfully");
        }
        let Some(ticket) = r.ticket else {
            return;
        };
        self.done.push_back(ScriptDone {
            ticket,
            point: r.point,
            status,
            timed_out: r.killed,
            next: self.next_step(r.point, failed && !r.killed),
        });
    }

    /// corelease `exit-code-drops` (the host blacklist kea-hook-runscript's README wishes
    /// for): a failed script at pkt4_receive drops the packet; at lease4_select it refuses the
    /// lease, as a Kea callout setting SKIP there does. Elsewhere, and for a script killed
    /// after its timeout or whose status was lost, the packet goes on.
    fn next_step(&self, point: HookPoint, failed: bool) -> NextStep {
        if !self.cfg.exit_code_drops || !failed {
            return NextStep::Continue;
        }
        match point {
            HookPoint::Pkt4Receive => NextStep::Drop,
            HookPoint::Lease4Select => NextStep::Skip,
            _ => NextStep::Continue,
        }
    }
}

impl Drop for RunScript {
    /// Scripts still running when the hooks go away (reconfiguration, shutdown) are reaped by
    /// a helper thread so they do not linger as zombies; the shard does not wait for them.
    fn drop(&mut self) {
        if self.running.is_empty() {
            return;
        }
        let mut children: Vec<Child> = self.running.drain(..).map(|r| r.child).collect();
        let spawned = std::thread::Builder::new()
            .name("run-script-reaper".into())
            .spawn(move || {
                for c in children.iter_mut() {
                    let _ = c.wait();
                }
            });
        if spawned.is_err() {
            tracing::warn!(target: "HOOKS_RUN_SCRIPT_REAPER", "could not start a thread to reap run-scripts; they stay zombies until exit");
        }
    }
}
