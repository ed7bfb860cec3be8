//! Kea's DHCPv4 and DHCPv6 hook points and the two ways corelease lets operators hook them (ARM chapter 17).
//!
//! 1. In-process callouts: Rust code implementing [`Callout`], called at the hook points it
//!    asks for with a typed, read-only [`HookContext`] (query, response, subnet, lease), and
//!    answering Kea's next step ([`NextStep`]: continue, skip, drop).
//! 2. The run-script hook ([`RunScript`]): configured exactly as Kea users configure
//!    `kea-hook-runscript.so` or Kea's own `libdhcp_run_script.so` in `hooks-libraries`,
//!    recognised by the library's file name and implemented natively (no shared object is
//!    loaded). It execs the operator's script directly (no shell) with the hook point's name as
//!    its argument and the contract's environment variables, client data passed verbatim as
//!    data.
//!
//! This crate must never block the shard that calls it: scripts are spawned and reaped by a
//! helper thread per hook; a script whose exit must be awaited (`wait` / `sync`) yields a
//! [`ScriptTicket`] that the engine parks its packet on, and the shard learns of the exit by
//! polling ([`Hooks::poll`]), never by waiting. Running scripts are bounded per shard; what exceeds the bound is counted and
//! logged, not queued. When no hook is configured the engine holds no [`Hooks`] at all, and
//! when one is, [`Hooks::wants`] is a bit test: no context is built and nothing allocates at a
//! hook point nobody listens to.
//!
//! How an engine calls it, at each point:
//! ```text
//! if let Some(h) = self.hooks.as_deref_mut().filter(|h| h.wants(HookPoint::Lease4Select)) {
//!     let ctx = HookContext { query: Some(view), subnet, lease: Some(&lease),
//!                             fake_allocation: is_discover, ..HookContext::new(now) };
//!     match h.call(HookPoint::Lease4Select, &ctx) {
//!         HookVerdict::Continue => {}
//!         HookVerdict::Skip => { /* give the address back; no OFFER / a NAK */ }
//!         HookVerdict::Drop => { /* count pkt4-receive-drop, answer nothing */ }
//!         HookVerdict::Park(ticket) => { /* keep the datagram under `ticket`, answer later */ }
//!     }
//! }
//! // shard loop, while h.running() > 0:
//! for done in h.poll() { /* resume the packet parked under done.ticket with done.next */ }
//! ```

mod config;
mod context;
mod env;
mod env6;
pub mod park;
mod script;

pub use config::{HookConfigError, RunScriptConfig, DEFAULT_MAX_RUNNING, DEFAULT_WAIT_TIMEOUT_MS};
pub use context::{
    HookContext, IaView, LeaseTimers, Packet6View, PacketView, Subnet6View, SubnetView,
};
pub use env::{script_env, Contract};
pub use park::{ParkStats, Parking, ParkingEngine, Resumed, Step};
pub use script::{ExitNotify, RunScript, ScriptDone, ScriptStats, ScriptTicket};

use serde_json::Value;
use std::path::Path;

/// The hook points, with Kea's names: the DHCPv4 set in the order Kea reaches them while
/// processing a packet (Kea hooks developer guide, "DHCPv4 hooks"), then the DHCPv6 set in its
/// order ("DHCPv6 hooks"). In each set the last two are driven by lease reclamation, not by a
/// packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum HookPoint {
    Buffer4Receive = 0,
    Pkt4Receive = 1,
    Subnet4Select = 2,
    Host4Identifier = 3,
    Lease4Select = 4,
    Lease4Renew = 5,
    Lease4Release = 6,
    Lease4Decline = 7,
    Leases4Committed = 8,
    Pkt4Send = 9,
    Buffer4Send = 10,
    Lease4Expire = 11,
    Lease4Recover = 12,
    Buffer6Receive = 13,
    Pkt6Receive = 14,
    Subnet6Select = 15,
    Lease6Select = 16,
    Lease6Renew = 17,
    Lease6Rebind = 18,
    Lease6Release = 19,
    Lease6Decline = 20,
    Leases6Committed = 21,
    Pkt6Send = 22,
    Buffer6Send = 23,
    Lease6Expire = 24,
    Lease6Recover = 25,
}

impl HookPoint {
    /// Every DHCPv4 hook point, in Kea's order.
    pub const ALL4: [HookPoint; 13] = [
        HookPoint::Buffer4Receive,
        HookPoint::Pkt4Receive,
        HookPoint::Subnet4Select,
        HookPoint::Host4Identifier,
        HookPoint::Lease4Select,
        HookPoint::Lease4Renew,
        HookPoint::Lease4Release,
        HookPoint::Lease4Decline,
        HookPoint::Leases4Committed,
        HookPoint::Pkt4Send,
        HookPoint::Buffer4Send,
        HookPoint::Lease4Expire,
        HookPoint::Lease4Recover,
    ];

    /// Every DHCPv6 hook point, in Kea's order.
    pub const ALL6: [HookPoint; 13] = [
        HookPoint::Buffer6Receive,
        HookPoint::Pkt6Receive,
        HookPoint::Subnet6Select,
        HookPoint::Lease6Select,
        HookPoint::Lease6Renew,
        HookPoint::Lease6Rebind,
        HookPoint::Lease6Release,
        HookPoint::Lease6Decline,
        HookPoint::Leases6Committed,
        HookPoint::Pkt6Send,
        HookPoint::Buffer6Send,
        HookPoint::Lease6Expire,
        HookPoint::Lease6Recover,
    ];

    /// Every hook point: the DHCPv4 ones, then the DHCPv6 ones.
    pub const ALL: [HookPoint; 26] = {
        let mut all = [HookPoint::Buffer4Receive; 26];
        let mut i = 0;
        while i < 13 {
            all[i] = HookPoint::ALL4[i];
            all[13 + i] = HookPoint::ALL6[i];
            i += 1;
        }
        all
    };

    /// Kea's name of the hook point; also the script's first argument.
    pub const fn name(self) -> &'static str {
        match self {
            HookPoint::Buffer4Receive => "buffer4_receive",
            HookPoint::Pkt4Receive => "pkt4_receive",
            HookPoint::Subnet4Select => "subnet4_select",
            HookPoint::Host4Identifier => "host4_identifier",
            HookPoint::Lease4Select => "lease4_select",
            HookPoint::Lease4Renew => "lease4_renew",
            HookPoint::Lease4Release => "lease4_release",
            HookPoint::Lease4Decline => "lease4_decline",
            HookPoint::Leases4Committed => "leases4_committed",
            HookPoint::Pkt4Send => "pkt4_send",
            HookPoint::Buffer4Send => "buffer4_send",
            HookPoint::Lease4Expire => "lease4_expire",
            HookPoint::Lease4Recover => "lease4_recover",
            HookPoint::Buffer6Receive => "buffer6_receive",
            HookPoint::Pkt6Receive => "pkt6_receive",
            HookPoint::Subnet6Select => "subnet6_select",
            HookPoint::Lease6Select => "lease6_select",
            HookPoint::Lease6Renew => "lease6_renew",
            HookPoint::Lease6Rebind => "lease6_rebind",
            HookPoint::Lease6Release => "lease6_release",
            HookPoint::Lease6Decline => "lease6_decline",
            HookPoint::Leases6Committed => "leases6_committed",
            HookPoint::Pkt6Send => "pkt6_send",
            HookPoint::Buffer6Send => "buffer6_send",
            HookPoint::Lease6Expire => "lease6_expire",
            HookPoint::Lease6Recover => "lease6_recover",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        HookPoint::ALL.into_iter().find(|p| p.name() == name)
    }

    /// True for the DHCPv6 points.
    pub const fn is_v6(self) -> bool {
        self as u8 >= HookPoint::Buffer6Receive as u8
    }

    const fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

/// A set of hook points (a bitmask): which points a callout or a script listens to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HookPoints(u32);

impl HookPoints {
    pub const NONE: HookPoints = HookPoints(0);

    pub const fn of(points: &[HookPoint]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < points.len() {
            bits |= points[i].bit();
            i += 1;
        }
        HookPoints(bits)
    }

    pub const fn with(self, point: HookPoint) -> Self {
        HookPoints(self.0 | point.bit())
    }

    pub const fn union(self, other: HookPoints) -> Self {
        HookPoints(self.0 | other.0)
    }

    #[inline]
    pub const fn contains(self, point: HookPoint) -> bool {
        self.0 & point.bit() != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = HookPoint> {
        HookPoint::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }
}

/// Kea's `CalloutHandle::CalloutNextStep` (ARM 17, hooks developer guide): what the server does
/// after the callouts of a hook point ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum NextStep {
    /// Carry on as if no hook were installed.
    #[default]
    Continue,
    /// Skip the step the hook point precedes; its meaning depends on the point (at
    /// `lease4_select`: do not assign the lease; at `pkt4_send`: do not send).
    Skip,
    /// Drop the packet: no answer, counted as `pkt4-receive-drop`.
    Drop,
}

/// An in-process hook. Called on the shard's thread, in the packet's path: it must be quick and
/// must not block (hand slow work to another thread).
pub trait Callout: Send {
    /// The hook points this callout wants to be called at.
    fn points(&self) -> HookPoints;

    /// Called at `point`, with what Kea passes to callouts there.
    fn call(&mut self, point: HookPoint, ctx: &HookContext<'_>) -> NextStep;
}

/// What the engine does after the hooks of a point ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookVerdict {
    Continue,
    Skip,
    Drop,
    /// A script whose exit the packet must wait for is running: park the packet and resume it
    /// when [`Hooks::poll`] reports this ticket (with the step to take then).
    Park(ScriptTicket),
}

/// One shard's hooks: its in-process callouts and its run-script hook. Build one per shard
/// (the bound on running scripts and the reaping of children are per shard).
pub struct Hooks {
    mask: HookPoints,
    callouts: Vec<Box<dyn Callout>>,
    script: Option<RunScript>,
}

impl Hooks {
    /// Hooks with nothing installed yet.
    pub fn new() -> Self {
        Hooks {
            mask: HookPoints::NONE,
            callouts: Vec::new(),
            script: None,
        }
    }

    /// Builds a shard's hooks from `Dhcp4.hooks-libraries` entries (library path, parameters).
    /// Returns `Ok(None)` when there are none, so the engine carries no hooks at all.
    /// A library that is neither run-script contract is an error: corelease loads no shared
    /// objects.
    pub fn from_libraries<'a>(
        libraries: impl IntoIterator<Item = (&'a Path, Option<&'a Value>)>,
    ) -> Result<Option<Hooks>, HookConfigError> {
        Hooks::from_libraries_in("Dhcp4", libraries)
    }

    /// [`Hooks::from_libraries`] for the configuration root `root` (`Dhcp4` or `Dhcp6`), which
    /// names the entries in errors.
    pub fn from_libraries_in<'a>(
        root: &str,
        libraries: impl IntoIterator<Item = (&'a Path, Option<&'a Value>)>,
    ) -> Result<Option<Hooks>, HookConfigError> {
        let mut hooks = Hooks::new();
        let mut any = false;
        for (i, (library, parameters)) in libraries.into_iter().enumerate() {
            any = true;
            let path = format!("{root}.hooks-libraries[{i}]");
            let cfg = RunScriptConfig::from_library(library, parameters, &path)?;
            if hooks.script.is_some() {
                return Err(HookConfigError::SecondRunScript { path });
            }
            hooks.set_script(RunScript::new(cfg)?);
        }
        Ok(any.then_some(hooks))
    }

    /// Adds an in-process callout, called after those added before it (Kea calls libraries in
    /// configuration order) and before the run-script hook.
    pub fn register(&mut self, callout: Box<dyn Callout>) {
        self.mask = self.mask.union(callout.points());
        self.callouts.push(callout);
    }

    pub fn set_script(&mut self, script: RunScript) {
        self.mask = self.mask.union(script.points());
        self.script = Some(script);
    }

    /// True if anything listens at `point`: the engine builds a [`HookContext`] only then.
    #[inline]
    pub fn wants(&self, point: HookPoint) -> bool {
        self.mask.contains(point)
    }

    /// Every point something listens at.
    pub fn points(&self) -> HookPoints {
        self.mask
    }

    /// Runs the hooks of `point`: callouts in order (the first that does not continue decides,
    /// and later ones, the script included, are not called, as Kea's run_script library
    /// ignores a packet already skipped or dropped), then the script.
    pub fn call(&mut self, point: HookPoint, ctx: &HookContext<'_>) -> HookVerdict {
        for c in self.callouts.iter_mut() {
            if !c.points().contains(point) {
                continue;
            }
            match c.call(point, ctx) {
                NextStep::Continue => {}
                NextStep::Skip => return HookVerdict::Skip,
                NextStep::Drop => return HookVerdict::Drop,
            }
        }
        if let Some(script) = self.script.as_mut() {
            if let Some(ticket) = script.fire(point, ctx) {
                return HookVerdict::Park(ticket);
            }
        }
        HookVerdict::Continue
    }

    /// The awaited scripts that ended (ticket, exit, next step), without waiting. Call it from
    /// the shard loop whenever [`Hooks::running`] is non-zero.
    pub fn poll(&mut self) -> impl Iterator<Item = ScriptDone> + '_ {
        self.script.as_mut().map(|s| s.poll()).into_iter().flatten()
    }

    /// Scripts still running on this shard (awaited and detached).
    pub fn running(&self) -> usize {
        self.script.as_ref().map(RunScript::running).unwrap_or(0)
    }

    /// See [`RunScript::set_exit_notify`]; nothing to do without a run-script hook.
    pub fn set_exit_notify(&mut self, notify: ExitNotify) {
        if let Some(s) = self.script.as_mut() {
            s.set_exit_notify(notify);
        }
    }

    /// The parking table an engine needs: at most one parked packet per running script.
    pub fn max_parked(&self) -> usize {
        self.script
            .as_ref()
            .filter(|s| s.config().wait)
            .map(|s| s.config().max_running)
            .unwrap_or(0)
    }

    pub fn script(&self) -> Option<&RunScript> {
        self.script.as_ref()
    }

    pub fn script_mut(&mut self) -> Option<&mut RunScript> {
        self.script.as_mut()
    }
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_point_names_round_trip_in_kea_order() {
        let names: Vec<&str> = HookPoint::ALL4.iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            [
                "buffer4_receive",
                "pkt4_receive",
                "subnet4_select",
                "host4_identifier",
                "lease4_select",
                "lease4_renew",
                "lease4_release",
                "lease4_decline",
                "leases4_committed",
                "pkt4_send",
                "buffer4_send",
                "lease4_expire",
                "lease4_recover",
            ]
        );
        let names6: Vec<&str> = HookPoint::ALL6.iter().map(|p| p.name()).collect();
        assert_eq!(
            names6,
            [
                "buffer6_receive",
                "pkt6_receive",
                "subnet6_select",
                "lease6_select",
                "lease6_renew",
                "lease6_rebind",
                "lease6_release",
                "lease6_decline",
                "leases6_committed",
                "pkt6_send",
                "buffer6_send",
                "lease6_expire",
                "lease6_recover",
            ]
        );
        for p in HookPoint::ALL {
            assert_eq!(HookPoint::from_name(p.name()), Some(p));
            assert_eq!(p.is_v6(), HookPoint::ALL6.contains(&p));
        }
        assert_eq!(HookPoint::from_name("host6_identifier"), None);
        let all = HookPoints::of(&HookPoint::ALL);
        assert_eq!(all.iter().count(), 26, "every point has its own bit");
    }

    #[test]
    fn point_set_contains_only_what_was_added() {
        let set = HookPoints::of(&[HookPoint::Pkt4Receive, HookPoint::Lease4Recover]);
        let got: Vec<HookPoint> = set.iter().collect();
        assert_eq!(got, [HookPoint::Pkt4Receive, HookPoint::Lease4Recover]);
        assert!(!set.contains(HookPoint::Pkt4Send));
        assert!(HookPoints::NONE.is_empty());
    }

    struct Fixed {
        points: HookPoints,
        answer: NextStep,
        calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Callout for Fixed {
        fn points(&self) -> HookPoints {
            self.points
        }
        fn call(&mut self, _: HookPoint, _: &HookContext<'_>) -> NextStep {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.answer
        }
    }

    #[test]
    fn first_callout_that_does_not_continue_decides_and_stops_the_chain() {
        let first = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let second = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut hooks = Hooks::new();
        assert!(!hooks.wants(HookPoint::Pkt4Receive));
        hooks.register(Box::new(Fixed {
            points: HookPoints::of(&[HookPoint::Pkt4Receive]),
            answer: NextStep::Drop,
            calls: first.clone(),
        }));
        hooks.register(Box::new(Fixed {
            points: HookPoints::of(&[HookPoint::Pkt4Receive, HookPoint::Pkt4Send]),
            answer: NextStep::Skip,
            calls: second.clone(),
        }));
        assert!(hooks.wants(HookPoint::Pkt4Receive));
        assert!(hooks.wants(HookPoint::Pkt4Send));
        assert!(!hooks.wants(HookPoint::Lease4Select));
        let ctx = HookContext::new(0);
        assert_eq!(hooks.call(HookPoint::Pkt4Receive, &ctx), HookVerdict::Drop);
        assert_eq!(hooks.call(HookPoint::Pkt4Send, &ctx), HookVerdict::Skip);
        assert_eq!(
            hooks.call(HookPoint::Lease4Select, &ctx),
            HookVerdict::Continue
        );
        assert_eq!(first.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(second.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[test]
    fn hooks_move_to_a_shard_thread() {
        fn is_send<T: Send>() {}
        is_send::<Hooks>();
    }

    #[test]
    fn no_libraries_means_no_hooks_object() {
        let none: Vec<(&Path, Option<&Value>)> = Vec::new();
        assert!(matches!(Hooks::from_libraries(none), Ok(None)));
    }
}
