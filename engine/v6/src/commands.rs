//! What the control thread asks of a DHCPv6 shard besides packets: a config reload's shard
//! side (the protocol of `corelease_alloc::reload`, keyed by (address or prefix, IA_PD)) and
//! `leases-reclaim` (ARM 19.4.7). Run on the shard's own thread between batches, through the
//! shard's job queue: they touch the same table, bits and counters as packets do.

use crate::leases::{key_of, LeaseKey};
use crate::{Prepared6, V6Shard};
use corelease_alloc::reload::{ReloadBuild, ReloadTarget};
use corelease_storage::LeaseSink;
use corelease_types::Lease;
use std::sync::Arc;

/// One shard's DHCPv6 state under a new configuration, built off the shard.
pub type ReloadBuild6<S> = ReloadBuild<V6Shard<S>>;

impl<S: LeaseSink> ReloadTarget for V6Shard<S> {
    type Key = LeaseKey;

    fn reload_key(lease: &Lease) -> LeaseKey {
        key_of(lease)
    }

    fn reload_load(&mut self, lease: Lease, _now: u64) -> Option<Lease> {
        self.load_one(lease)
    }

    fn reload_forget(&mut self, key: LeaseKey) {
        let p = &*self.prepared;
        let c = &mut self.core;
        let Some(e) = c.table.remove(key) else {
            return;
        };
        c.uncount(&e, key);
        c.give_back(p, &e, key);
    }

    fn reload_len(&self) -> usize {
        self.core.table.len()
    }
}

impl<S: LeaseSink> V6Shard<S> {
    /// An empty build for shard `shard` of `shards` under `prepared` (whose bitmaps no shard
    /// uses yet). `placeholder` is the sink until [`Self::reload_finish`] moves the shard's
    /// lease log over; the build never writes to it.
    pub fn reload_empty(
        prepared: Arc<Prepared6>,
        server_duid: &[u8],
        shard: usize,
        shards: usize,
        placeholder: S,
    ) -> ReloadBuild6<S> {
        ReloadBuild::new(V6Shard::new(
            prepared,
            server_duid,
            shard,
            shards,
            placeholder,
        ))
    }

    /// The finished state for this (running) shard: its packet and cumulative counters
    /// carried over (subnets by id; the gauges were counted from the leases), its clock,
    /// reclamation schedule and lease log `sink` in place. Returns the state and the number
    /// of leases dropped because another lease holds their address or prefix.
    pub fn reload_finish(&mut self, build: ReloadBuild6<S>, sink: S) -> (V6Shard<S>, usize) {
        let (mut next, conflicts) = build.finish();
        let (from, to) = (&self.core.stats, &next.core.stats);
        from.global.carry_to(&to.global);
        for (si, old) in self.prepared.subnets.iter().enumerate() {
            let new_si = next.prepared.subnets.iter().position(|s| s.id == old.id);
            if let (Some(f), Some(t)) =
                (from.subnets.get(si), new_si.and_then(|n| to.subnets.get(n)))
            {
                f.carry_to(t);
            }
        }
        next.core.sink = sink;
        next.clock = self.clock;
        next.reclaim_cycles = std::mem::take(&mut self.reclaim_cycles);
        (next, conflicts)
    }

    /// Step 1 of a reload: starts the journal and returns the keys of this shard's leases
    /// (advertisements lapse over a reload: the client's Request claims the address again).
    pub fn reload_begin(&mut self) -> Vec<LeaseKey> {
        let t = &mut self.core.table;
        t.journal().start();
        t.iter()
            .filter(|e| !e.is_offer())
            .map(|e| key_of(&e.lease))
            .collect()
    }

    /// Step 2: copies of the leases at `keys` that are still there.
    pub fn reload_copy(&self, keys: &[LeaseKey]) -> Vec<Lease> {
        keys.iter()
            .filter_map(|&k| self.reload_current(k))
            .collect()
    }

    /// Step 3: the keys changed since the journal started or was last drained, each with its
    /// current lease (None: no lease there now). The journal keeps running.
    pub fn reload_changes(&mut self) -> Vec<(LeaseKey, Option<Lease>)> {
        let changed = self.core.table.journal().drain();
        changed
            .into_iter()
            .map(|k| (k, self.reload_current(k)))
            .collect()
    }

    /// Step 4: stops the journal; the keys changed since the last catch-up (sorted).
    pub fn reload_take_dirty(&mut self) -> Vec<LeaseKey> {
        self.core.table.journal().stop()
    }

    /// Gives up a prepared reload: the journal stops.
    pub fn reload_abort(&mut self) {
        self.core.table.journal().stop();
    }

    /// The committed lease (not an advertisement) at `key` now.
    pub fn reload_current(&self, key: LeaseKey) -> Option<Lease> {
        self.core
            .table
            .get(key)
            .filter(|e| !e.is_offer())
            .map(|e| e.lease.clone())
    }

    /// `leases-reclaim` (ARM 19.4.7): reclaims every lease expired by `now` at once (no
    /// per-cycle bound), and with `remove` also deletes the reclaimed leases from the table
    /// and the log. Returns how many were reclaimed.
    pub fn command_reclaim_expired(&mut self, now: u64, remove: bool) -> u64 {
        let p = &*self.prepared;
        let c = &mut self.core;
        let mut done = 0;
        while let Some((_, key)) = c.pop_due(now) {
            c.reclaim(p, key, now);
            done += 1;
            if remove {
                if let Some(e) = c.table.remove(key) {
                    if let Err(err) = c
                        .sink
                        .remove(e.lease.kind, e.lease.addr, e.lease.prefix_len)
                    {
                        tracing::error!(target: "DHCPSRV_MEMFILE_LEASE_ADD_FAILED", error = %err, addr = %e.lease.addr, "lease log removal failed");
                    }
                }
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{prepared, stat, NOW, SERVER_DUID};
    use corelease_storage::MemorySink;
    use corelease_types::{ClientId, LeaseKind, LeaseState, PoolId, SubnetId};
    use std::net::{IpAddr, Ipv6Addr};

    const OLD: &str = r#"{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8:1::/64",
        "pools": [{"pool": "2001:db8:1::100 - 2001:db8:1::10f"}],
        "pd-pools": [{"prefix": "2001:db8:8000::", "prefix-len": 48, "delegated-len": 56}]}]}}"#;
    /// The pool grows and a subnet is added: same subnet id, new Prepared6, empty bitmaps.
    const GROWN: &str = r#"{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8:1::/64",
        "pools": [{"pool": "2001:db8:1::100 - 2001:db8:1::1ff"}],
        "pd-pools": [{"prefix": "2001:db8:8000::", "prefix-len": 48, "delegated-len": 56}]},
        {"id": 2, "subnet": "2001:db8:2::/64", "pools": [{"pool": "2001:db8:2::10 - 2001:db8:2::20"}]}]}}"#;

    fn lease(addr: &str, pd: bool, client: u8, cltt: u64) -> Lease {
        Lease {
            kind: if pd { LeaseKind::V6Pd } else { LeaseKind::V6Na },
            addr: IpAddr::V6(addr.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)),
            prefix_len: if pd { 56 } else { 128 },
            iaid: 1,
            hwaddr: None,
            client_id: Some(ClientId::new(&[0, 3, 0, 1, 2, 0, 0, 0, 0, client])),
            valid_lifetime: 4000,
            preferred_lifetime: 3000,
            cltt,
            subnet_id: SubnetId(if addr.starts_with("2001:db8:2:") {
                2
            } else {
                1
            }),
            pool_id: PoolId(0),
            state: LeaseState::Default,
            hostname: None,
            fqdn_fwd: false,
            fqdn_rev: false,
            user_context: None,
        }
    }

    fn new_shards(p: &Arc<Prepared6>, n: usize) -> Vec<V6Shard<MemorySink>> {
        (0..n)
            .map(|i| V6Shard::new(Arc::clone(p), SERVER_DUID, i, n, MemorySink::default()))
            .collect()
    }

    /// The reload protocol run on one thread: begin and copy on every shard, `meanwhile`
    /// after the copies (the shards keep serving), a catch-up round, `meanwhile` again, then
    /// the switch with its forget-all-then-load-all order. Returns each shard's conflicts.
    fn reload_in_steps(
        shards: &mut [V6Shard<MemorySink>],
        p2: &Arc<Prepared6>,
        mut meanwhile: impl FnMut(&mut [V6Shard<MemorySink>], usize),
    ) -> Vec<usize> {
        let n = shards.len();
        let mut builds: Vec<ReloadBuild6<MemorySink>> = (0..n)
            .map(|i| {
                V6Shard::reload_empty(Arc::clone(p2), SERVER_DUID, i, n, MemorySink::default())
            })
            .collect();
        for (s, b) in shards.iter_mut().zip(builds.iter_mut()) {
            let keys = s.reload_begin();
            b.load(s.reload_copy(&keys), NOW);
        }
        meanwhile(shards, 0);
        let changes: Vec<Vec<(LeaseKey, Option<Lease>)>> =
            shards.iter_mut().map(|s| s.reload_changes()).collect();
        for (b, c) in builds.iter_mut().zip(&changes) {
            let keys: Vec<LeaseKey> = c.iter().map(|(k, _)| *k).collect();
            b.forget(&keys);
        }
        for (b, c) in builds.iter_mut().zip(changes) {
            b.load(c.into_iter().filter_map(|(_, l)| l), NOW);
            b.retry_deferred(NOW);
        }
        meanwhile(shards, 1);
        let dirty: Vec<Vec<LeaseKey>> = shards.iter_mut().map(|s| s.reload_take_dirty()).collect();
        for (b, d) in builds.iter_mut().zip(&dirty) {
            b.forget(d);
        }
        for ((b, d), s) in builds.iter_mut().zip(&dirty).zip(shards.iter()) {
            b.load(d.iter().filter_map(|&k| s.reload_current(k)), NOW);
            b.retry_deferred(NOW);
        }
        let mut conflicts = Vec::new();
        for (b, s) in builds.into_iter().zip(shards.iter_mut()) {
            let (next, c) = s.reload_finish(b, MemorySink::default());
            *s = next;
            conflicts.push(c);
        }
        conflicts
    }

    #[test]
    fn reload_keeps_every_v6_lease_and_counter_and_serves_the_new_config() {
        let p = prepared(OLD);
        let mut shards = new_shards(&p, 1);
        let s = &mut shards[0];
        s.add_lease(lease("2001:db8:1::100", false, 1, NOW), NOW)
            .expect("added");
        s.add_lease(lease("2001:db8:8000:100::", true, 1, NOW), NOW)
            .expect("added");
        s.stats().global.pkt6_reply_sent.add(7);
        s.stats().subnets[0].cumulative_assigned_nas.add(3);
        let p2 = prepared(GROWN);
        assert_eq!(reload_in_steps(&mut shards, &p2, |_, _| {}), vec![0]);
        let s = &mut shards[0];
        assert!(Arc::ptr_eq(s.prepared(), &p2));
        assert_eq!(s.table().len(), 2);
        assert!(!s.table().journal_running(), "journal off after the switch");
        assert_eq!(stat(s, "subnet[1].assigned-nas"), 1);
        assert_eq!(stat(s, "subnet[1].assigned-pds"), 1);
        assert_eq!(stat(s, "pkt6-reply-sent"), 7);
        assert_eq!(stat(s, "subnet[1].cumulative-assigned-nas"), 3);
        assert_eq!(stat(s, "subnet[1].total-nas"), 256);
        assert_eq!(stat(s, "subnet[2].total-nas"), 17);
        let first_na = p2.pools.iter().find(|pl| !pl.is_pd());
        assert!(
            first_na.is_some_and(|pl| pl.bitmap.is_claimed(0) && !pl.bitmap.is_claimed(1)),
            "the lease claimed its bit in the new bitmap, nothing else did"
        );
        assert!(
            s.add_lease(lease("2001:db8:1::100", false, 2, NOW), NOW)
                .is_err(),
            "still held"
        );
        s.add_lease(lease("2001:db8:2::10", false, 2, NOW), NOW)
            .expect("the new subnet serves");
    }

    #[test]
    fn reload_loses_no_v6_change_made_while_it_was_prepared() {
        let p = prepared(OLD);
        let mut shards = new_shards(&p, 2);
        let x = "2001:db8:1::102";
        for (i, a) in ["2001:db8:1::100", "2001:db8:1::101", x].iter().enumerate() {
            shards[0]
                .add_lease(lease(a, false, 1 + i as u8, NOW), NOW)
                .expect("added");
        }
        shards[1]
            .add_lease(lease("2001:db8:8000:200::", true, 9, NOW), NOW)
            .expect("added");
        let p2 = prepared(GROWN);
        let conflicts = reload_in_steps(&mut shards, &p2, |s, step| match step {
            // After the copies: shard 0's client of x leaves and shard 1's client takes x
            // (shard 0's build still holds its stale copy of x); a new lease on shard 0.
            0 => {
                let key = key_of(&lease(x, false, 3, NOW));
                assert!(s[0].delete_lease(key).is_some());
                s[1].add_lease(lease(x, false, 10, NOW), NOW)
                    .expect("free now");
                s[0].add_lease(lease("2001:db8:1::103", false, 4, NOW), NOW)
                    .expect("new");
            }
            // After the catch-up, before the switch: shard 1's prefix goes.
            _ => {
                let key = key_of(&lease("2001:db8:8000:200::", true, 9, NOW));
                assert!(s[1].delete_lease(key).is_some());
            }
        });
        assert_eq!(
            conflicts,
            vec![0, 0],
            "stale copies never count as conflicts"
        );
        let keys = |s: &V6Shard<MemorySink>| {
            let mut v: Vec<String> = s.table().iter().map(|e| e.lease.addr.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(
            keys(&shards[0]),
            vec!["2001:db8:1::100", "2001:db8:1::101", "2001:db8:1::103"]
        );
        assert_eq!(keys(&shards[1]), vec![x.to_string()]);
        assert_eq!(stat(&shards[1], "subnet[1].assigned-pds"), 0);
        let na = p2.pools.iter().find(|pl| !pl.is_pd());
        let claimed: Vec<u64> = (0..8)
            .filter(|&o| na.is_some_and(|pl| pl.bitmap.is_claimed(o)))
            .collect();
        assert_eq!(claimed, vec![0, 1, 2, 3], "exactly the held addresses");
        let pd = p2.pools.iter().find(|pl| pl.is_pd());
        assert!(
            pd.is_some_and(|pl| (0..256).all(|o| !pl.bitmap.is_claimed(o))),
            "the deleted prefix is free in the new pd-pool"
        );
    }

    #[test]
    fn leases_reclaim_takes_every_expired_v6_lease_at_once_and_remove_deletes_them() {
        let p = prepared(OLD);
        let mut s = V6Shard::new(Arc::clone(&p), SERVER_DUID, 0, 1, MemorySink::default());
        s.add_lease(lease("2001:db8:1::100", false, 1, NOW - 5000), NOW)
            .expect("expired");
        s.add_lease(lease("2001:db8:8000:100::", true, 2, NOW - 5000), NOW)
            .expect("expired");
        s.add_lease(lease("2001:db8:1::101", false, 3, NOW), NOW)
            .expect("live");
        assert_eq!(s.command_reclaim_expired(NOW, false), 2);
        assert_eq!(stat(&s, "reclaimed-leases"), 2);
        assert_eq!(stat(&s, "subnet[1].assigned-nas"), 1);
        assert_eq!(stat(&s, "subnet[1].assigned-pds"), 0);
        let kept = s
            .table()
            .get(key_of(&lease("2001:db8:1::100", false, 1, NOW)));
        assert_eq!(
            kept.map(|e| e.lease.state),
            Some(LeaseState::ExpiredReclaimed)
        );
        s.add_lease(lease("2001:db8:1::102", false, 4, NOW - 5000), NOW)
            .expect("expired");
        assert_eq!(s.command_reclaim_expired(NOW, true), 1);
        assert!(s
            .table()
            .get(key_of(&lease("2001:db8:1::102", false, 4, NOW)))
            .is_none());
        assert_eq!(s.sink_mut().removals.len(), 1, "the removal is logged");
    }
}
