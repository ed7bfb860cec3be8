//! What the control thread asks of a DHCPv6 shard besides packets: a config reload's shard
//! side (the protocol of `corelease_alloc::reload`, keyed by (address or prefix, IA_PD)) and
//! `leases-reclaim` (ARM 19.4.7). Run on the shard's own thread between batches, through the
//! shard's job queue: they touch the same table, bits and counters as packets do.

use crate::leases::{key_of, Entry6, LeaseKey, NO_POOL};
use crate::{Prepared6, V6Shard};
use corelease_alloc::reload::{ReloadBuild, ReloadTarget};
use corelease_storage::{LeaseSink, LogSeq};
use corelease_types::{Lease, LeaseKind, LeaseState};
use std::net::IpAddr;
use std::sync::Arc;

/// A lease on its way to another shard (`lease6-update` giving it a DUID another shard
/// owns): the entry its old holder took out of its table, pool bit still claimed, and the
/// old holder's newest log position, which the new owner's record must follow.
#[derive(Debug, Clone)]
pub struct MovingLease6 {
    entry: Entry6,
    after: LogSeq,
}

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
    /// carried over (subnets by id, pools by subnet id and pool-id; the gauges were counted
    /// from the leases), its clock,
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
        // Pool counters follow the statistic they are summed into, (subnet id, pool or
        // pd-pool, pool-id): the first new pool with that name takes them all, as the sum
        // over pools with one pool-id is what is reported.
        for (pi, old) in self.prepared.pools.iter().enumerate() {
            let Some(old_subnet) = self.prepared.subnets.get(old.subnet) else {
                continue;
            };
            let new_pi = next.prepared.pools.iter().position(|np| {
                np.pool_id == old.pool_id
                    && np.is_pd() == old.is_pd()
                    && next
                        .prepared
                        .subnets
                        .get(np.subnet)
                        .is_some_and(|s| s.id == old_subnet.id)
            });
            if let (Some(f), Some(t)) = (from.pools.get(pi), new_pi.and_then(|n| to.pools.get(n))) {
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

    /// At the switch, every shard paused and every build caught up: this shard's outstanding
    /// advertisements go into its new state with their bits, so that an address or prefix
    /// advertised just before a reload is not advertised to another client just after it
    /// (the client's Request then finds it held for it, as without a reload). Costs one
    /// lookup per advertisement made within the advertise hold, not per lease. Returns how
    /// many were carried; one the new configuration has no pool for lapses.
    pub fn reload_carry_offers(&self, build: &mut ReloadBuild6<S>, now: u64) -> usize {
        let table = &self.core.table;
        let next = build.target_mut();
        table
            .queued_offers()
            .filter_map(|(until, key)| table.get(key).filter(|e| e.offer_until == until))
            .filter(|e| e.offer_until > now && next.load_offer(e))
            .count()
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

/// Why a lease6 command changed nothing; the text is Kea's where Kea has one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lease6CommandError {
    /// lease6-update of an address or prefix without a lease, without force-create (Kea
    /// 2.2's text and result 1, checked against libdhcp_lease_cmds.so).
    NoSuchLease(IpAddr),
    /// The address or prefix is held by another client's lease or advertisement.
    Taken(IpAddr),
    /// Not an IA_NA / IA_PD lease.
    NotV6(IpAddr),
    Storage(String),
    /// A shard did not answer the control thread.
    Shard(String),
}

impl std::fmt::Display for Lease6CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lease6CommandError::NoSuchLease(a) => write!(
                f,
                "failed to update the lease with address {a} either because the lease has been deleted or it has changed in the database, in both cases a retry might succeed"
            ),
            Lease6CommandError::Taken(a) => {
                write!(f, "{a} is held by another client's lease or advertisement")
            }
            Lease6CommandError::NotV6(a) => write!(f, "{a}: not an IPv6 address or prefix lease"),
            Lease6CommandError::Storage(e) => write!(f, "writing the lease log failed: {e}"),
            Lease6CommandError::Shard(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Lease6CommandError {}

/// What `lease6-update` did (Kea: "IPv6 lease updated." / with force-create on a missing
/// lease "IPv6 lease added.").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease6Updated {
    Updated,
    Added,
}

/// Where a lease goes in the shard's configuration: (subnet index, pool index and offset).
type Placement = (Option<usize>, Option<(usize, u64)>);

impl<S: LeaseSink> V6Shard<S> {
    fn placement(&self, lease: &Lease, key: LeaseKey) -> Placement {
        let p = &*self.prepared;
        let pd = key.1;
        let subnet = p
            .subnets
            .iter()
            .position(|s| s.id == lease.subnet_id && (pd || s.contains(key.0)));
        (subnet, subnet.and_then(|s| p.pool_of(s, pd, key.0)))
    }

    /// `lease6-update` (ARM 17.15.8) on the shard holding a lease at the lease's address or
    /// prefix (or, with none held anywhere, the owner of its DUID): the entry is replaced in
    /// one step, keeping its pool bit, and logged as one record. Without a lease there it
    /// fails with `NoSuchLease` and changes nothing, unless `force_create` (then it is
    /// lease6-add, failing with `Taken` when another shard holds the address). An
    /// advertisement pending there is replaced only with `force_create`.
    pub fn command_update_lease(
        &mut self,
        lease: Lease,
        force_create: bool,
    ) -> Result<Lease6Updated, Lease6CommandError> {
        if !matches!(lease.kind, LeaseKind::V6Na | LeaseKind::V6Pd) {
            return Err(Lease6CommandError::NotV6(lease.addr));
        }
        let key = key_of(&lease);
        let addr = lease.addr;
        let Some(old) = self.core.table.get(key) else {
            if !force_create {
                return Err(Lease6CommandError::NoSuchLease(addr));
            }
            return match self.load_one(lease.clone()) {
                Some(_) => Err(Lease6CommandError::Taken(addr)),
                None => {
                    if !self.core.record(&lease) {
                        self.reload_forget(key);
                        return Err(Lease6CommandError::Storage(format!(
                            "{addr}: the lease log refused the lease"
                        )));
                    }
                    Ok(Lease6Updated::Added)
                }
            };
        };
        let was_offer = old.is_offer();
        if was_offer && !force_create {
            return Err(Lease6CommandError::NoSuchLease(addr));
        }
        let (old_holds, old_pool) = (old.holds_bit, old.pool);
        let (subnet, pool) = self.placement(&lease, key);
        let p = &*self.prepared;
        let c = &mut self.core;
        let pool_index = pool.map(|(pi, _)| pi as u32).unwrap_or(NO_POOL);
        let binds = matches!(lease.state, LeaseState::Default | LeaseState::Declined);
        let reserved = p.hosts.reserved_for(key).is_some();
        // The pool bit: kept when the old entry holds it and the lease still binds there;
        // claimed when the lease now binds without holding it; released after the record
        // otherwise. A reserved value's bit stays the reservation's (as at load).
        let keeps_bit = binds && old_holds && old_pool == pool_index && pool.is_some();
        let mut claimed_now = false;
        if let (true, false, false, Some((pi, off))) = (binds, keeps_bit, reserved, pool) {
            if !p.pools.get(pi).is_some_and(|rt| rt.bitmap.try_claim(off)) {
                return Err(Lease6CommandError::Taken(addr));
            }
            claimed_now = true;
        }
        let entry = Entry6 {
            lease,
            pool: pool_index,
            subnet: subnet.map(|s| s as u32).unwrap_or(u32::MAX),
            offer_until: 0,
            holds_bit: keeps_bit || claimed_now,
        };
        if let Err(e) = c.sink.record(&entry.lease) {
            if claimed_now {
                c.give_back(p, &entry, key);
            }
            return Err(Lease6CommandError::Storage(e.to_string()));
        }
        if let Some(old) = c.table.remove(key) {
            c.uncount(&old, key);
            if !keeps_bit {
                c.give_back(p, &old, key);
            }
        }
        c.count(&entry, key);
        c.table.insert(entry);
        Ok(if was_offer {
            Lease6Updated::Added
        } else {
            Lease6Updated::Updated
        })
    }

    /// First half of moving a lease to another shard (`lease6-update` giving it a DUID
    /// another shard owns): removes the committed entry at `key` from this shard's table and
    /// uncounts it, but keeps its pool bit claimed, so no shard can take the address before
    /// [`Self::command_put_moved_lease`] on the new owner. The log is not written: its record
    /// of the lease stays until the new owner's newer one supersedes it, so a crash between
    /// the two halves recovers the lease as it was (corelease_storage, "Moving a lease
    /// between shards"). None when this shard holds no lease there.
    pub fn command_take_for_move(&mut self, key: LeaseKey) -> Option<MovingLease6> {
        let c = &mut self.core;
        if c.table.get(key).is_none_or(Entry6::is_offer) {
            return None;
        }
        let entry = c.table.remove(key)?;
        c.uncount(&entry, key);
        Some(MovingLease6 {
            entry,
            after: c.sink.last_seq(),
        })
    }

    /// Second half of a move: `lease` enters this shard with the bit `moving` held,
    /// recorded after the old holder's newest record so that it wins at recovery. On an
    /// error nothing changed here and the caller gives `moving` back to its shard with
    /// [`Self::command_restore_moved`].
    pub fn command_put_moved_lease(
        &mut self,
        lease: Lease,
        moving: &MovingLease6,
    ) -> Result<(), Lease6CommandError> {
        let from = &moving.entry;
        let key = key_of(&lease);
        if self.core.table.get(key).is_some() {
            return Err(Lease6CommandError::Taken(lease.addr));
        }
        let (subnet, pool) = self.placement(&lease, key);
        let binds = matches!(lease.state, LeaseState::Default | LeaseState::Declined);
        let pool_index = pool.map(|(pi, _)| pi as u32).unwrap_or(NO_POOL);
        let entry = Entry6 {
            lease,
            pool: pool_index,
            subnet: subnet.map(|s| s as u32).unwrap_or(u32::MAX),
            offer_until: 0,
            holds_bit: binds && from.holds_bit && from.pool == pool_index && pool.is_some(),
        };
        let p = &*self.prepared;
        let c = &mut self.core;
        c.sink
            .record_after(&entry.lease, moving.after)
            .map_err(|e| Lease6CommandError::Storage(e.to_string()))?;
        if from.holds_bit && !entry.holds_bit {
            // The moved lease no longer binds the bit the old holder kept: it goes back.
            c.give_back(p, from, key);
        }
        c.count(&entry, key);
        c.table.insert(entry);
        Ok(())
    }

    /// Undoes [`Self::command_take_for_move`] when the new owner refused the lease: the
    /// entry (still holding its bit) comes back and is counted again; the log still holds it.
    pub fn command_restore_moved(&mut self, moving: MovingLease6) {
        let entry = moving.entry;
        let key = key_of(&entry.lease);
        let c = &mut self.core;
        c.count(&entry, key);
        c.table.insert(entry);
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
    fn pool_statistics_move_with_lease6_add_del_update_and_are_recounted_at_reload() {
        let p = prepared(OLD);
        let mut shards = new_shards(&p, 1);
        let s = &mut shards[0];
        s.add_lease(lease("2001:db8:1::100", false, 1, NOW), NOW)
            .expect("added");
        s.add_lease(lease("2001:db8:1::101", false, 2, NOW), NOW)
            .expect("added");
        s.add_lease(lease("2001:db8:8000:100::", true, 1, NOW), NOW)
            .expect("added");
        // Out of every pool: the subnet counts it, no pool does.
        s.add_lease(lease("2001:db8:1::9", false, 3, NOW), NOW)
            .expect("added");
        assert_eq!(stat(s, "subnet[1].assigned-nas"), 3);
        assert_eq!(stat(s, "subnet[1].pool[0].assigned-nas"), 2);
        assert_eq!(stat(s, "subnet[1].pd-pool[0].assigned-pds"), 1);
        // lease6-add is not an allocation (Kea's lease_cmds count only assigned-*).
        assert_eq!(stat(s, "subnet[1].pool[0].cumulative-assigned-nas"), 0);
        let gone = key_of(&lease("2001:db8:1::101", false, 2, NOW));
        assert!(s.delete_lease(gone).is_some());
        assert_eq!(stat(s, "subnet[1].pool[0].assigned-nas"), 1);
        // lease6-update to declined: counted as declined in its pool.
        let mut declined = lease("2001:db8:1::100", false, 1, NOW);
        declined.state = LeaseState::Declined;
        s.command_update_lease(declined, false).expect("updated");
        assert_eq!(stat(s, "subnet[1].pool[0].declined-addresses"), 1);
        assert_eq!(stat(s, "subnet[1].pool[0].assigned-nas"), 1);
        s.stats().pools[0].cumulative_assigned.add(5);
        s.stats().pools[0].reclaimed_leases.add(2);
        s.stats().pools[1].cumulative_assigned.add(4);
        // The reload recounts the gauges from the leases and carries the cumulative counters
        // to the pool with the same subnet id, kind and pool-id.
        let p2 = prepared(GROWN);
        assert_eq!(reload_in_steps(&mut shards, &p2, |_, _| {}), vec![0]);
        let s = &mut shards[0];
        assert_eq!(stat(s, "subnet[1].pool[0].total-nas"), 256);
        assert_eq!(stat(s, "subnet[1].pool[0].assigned-nas"), 1);
        assert_eq!(stat(s, "subnet[1].pool[0].declined-addresses"), 1);
        assert_eq!(stat(s, "subnet[1].pool[0].cumulative-assigned-nas"), 5);
        assert_eq!(stat(s, "subnet[1].pool[0].reclaimed-leases"), 2);
        assert_eq!(stat(s, "subnet[1].pd-pool[0].assigned-pds"), 1);
        assert_eq!(stat(s, "subnet[1].pd-pool[0].cumulative-assigned-pds"), 4);
        assert_eq!(stat(s, "subnet[2].pool[0].assigned-nas"), 0);
        assert_eq!(stat(s, "subnet[2].pool[0].cumulative-assigned-nas"), 0);
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

#[cfg(test)]
mod update_tests {
    use super::*;
    use crate::tests::{prepared, stat, NOW, SERVER_DUID};
    use corelease_storage::MemorySink;
    use corelease_types::{ClientId, PoolId, SubnetId};
    use std::net::Ipv6Addr;

    const CFG: &str = r#"{"Dhcp6": {"subnet6": [{"id": 1, "subnet": "2001:db8:1::/64",
        "pools": [{"pool": "2001:db8:1::100 - 2001:db8:1::10f"}],
        "pd-pools": [{"prefix": "2001:db8:8000::", "prefix-len": 48, "delegated-len": 56}]}]}}"#;

    fn lease(addr: &str, pd: bool, client: u8) -> Lease {
        Lease {
            kind: if pd { LeaseKind::V6Pd } else { LeaseKind::V6Na },
            addr: IpAddr::V6(addr.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)),
            prefix_len: if pd { 56 } else { 128 },
            iaid: 1,
            hwaddr: None,
            client_id: Some(ClientId::new(&[0, 3, 0, 1, 2, 0, 0, 0, 0, client])),
            valid_lifetime: 4000,
            preferred_lifetime: 3000,
            cltt: NOW,
            subnet_id: SubnetId(1),
            pool_id: PoolId(0),
            state: LeaseState::Default,
            hostname: None,
            fqdn_fwd: false,
            fqdn_rev: false,
            user_context: None,
        }
    }

    fn two_shards() -> (Arc<Prepared6>, V6Shard<MemorySink>, V6Shard<MemorySink>) {
        let p = prepared(CFG);
        let a = V6Shard::new(Arc::clone(&p), SERVER_DUID, 0, 2, MemorySink::default());
        let b = V6Shard::new(Arc::clone(&p), SERVER_DUID, 1, 2, MemorySink::default());
        (p, a, b)
    }

    #[test]
    fn lease6_update_replaces_in_place_with_one_record_keeping_the_bit() {
        let (_, mut a, mut b) = two_shards();
        let x = "2001:db8:1::104";
        let addr = lease(x, false, 1).addr;
        assert_eq!(
            a.command_update_lease(lease(x, false, 1), false),
            Err(Lease6CommandError::NoSuchLease(addr)),
            "no lease, no force-create: nothing changes"
        );
        assert!(a.sink_mut().records.is_empty());
        assert_eq!(
            a.command_update_lease(lease(x, false, 1), true),
            Ok(Lease6Updated::Added)
        );
        let mut changed = lease(x, false, 7);
        changed.hostname = Some("h.example.org".into());
        changed.state = LeaseState::Declined;
        assert_eq!(
            a.command_update_lease(changed, false),
            Ok(Lease6Updated::Updated)
        );
        assert_eq!(a.sink_mut().records.len(), 2, "one record per command");
        assert!(
            a.sink_mut().removals.is_empty(),
            "an update is not a delete"
        );
        assert_eq!(stat(&a, "subnet[1].assigned-nas"), 1);
        assert_eq!(stat(&a, "subnet[1].declined-addresses"), 1);
        let e = a
            .table()
            .get(key_of(&lease(x, false, 1)))
            .expect("still there");
        assert_eq!(e.lease.hostname.as_deref(), Some("h.example.org"));
        assert!(e.holds_bit);
        assert!(
            b.add_lease(lease(x, false, 2), NOW).is_err(),
            "the bit stayed claimed throughout"
        );
        // Updated to released: the address goes back to the pool and leaves the gauges.
        let mut released = lease(x, false, 7);
        released.state = LeaseState::Released;
        assert_eq!(
            a.command_update_lease(released, false),
            Ok(Lease6Updated::Updated)
        );
        assert_eq!(stat(&a, "subnet[1].assigned-nas"), 0);
        assert_eq!(stat(&a, "subnet[1].declined-addresses"), 0);
        b.add_lease(lease(x, false, 2), NOW)
            .expect("released address is free for any shard");
        // Back to active on a: the other shard holds it now, so the update fails cleanly.
        assert_eq!(
            a.command_update_lease(lease(x, false, 7), false),
            Err(Lease6CommandError::Taken(addr))
        );
        let e = a
            .table()
            .get(key_of(&lease(x, false, 1)))
            .expect("unchanged");
        assert_eq!(e.lease.state, LeaseState::Released);
    }

    #[test]
    fn lease6_update_of_a_prefix_counts_in_assigned_pds() {
        let (_, mut a, _) = two_shards();
        let pfx = "2001:db8:8000:200::";
        assert_eq!(
            a.command_update_lease(lease(pfx, true, 1), true),
            Ok(Lease6Updated::Added)
        );
        assert_eq!(stat(&a, "subnet[1].assigned-pds"), 1);
        let mut longer = lease(pfx, true, 1);
        longer.valid_lifetime = 9000;
        assert_eq!(
            a.command_update_lease(longer, false),
            Ok(Lease6Updated::Updated)
        );
        assert_eq!(stat(&a, "subnet[1].assigned-pds"), 1);
        assert_eq!(stat(&a, "subnet[1].assigned-nas"), 0);
    }

    #[test]
    fn lease6_update_moving_to_another_shard_never_frees_the_address() {
        let (p, mut a, mut b) = two_shards();
        let x = "2001:db8:1::106";
        a.add_lease(lease(x, false, 1), NOW).expect("added");
        let key = key_of(&lease(x, false, 1));
        let taken = a.command_take_for_move(key).expect("a held it");
        assert_eq!(stat(&a, "subnet[1].assigned-nas"), 0);
        let na = p.pools.iter().find(|pl| !pl.is_pd());
        assert!(
            na.is_some_and(|pl| pl.bitmap.is_claimed(6)),
            "bit kept claimed between the two halves"
        );
        b.command_put_moved_lease(lease(x, false, 9), &taken)
            .expect("moved");
        assert_eq!(stat(&b, "subnet[1].assigned-nas"), 1);
        assert!(a.table().get(key).is_none());
        assert!(b.table().get(key).is_some_and(|e| e.holds_bit));
        assert!(a.command_take_for_move(key).is_none());
        // A refused put restores the lease where it was.
        let taken = b.command_take_for_move(key).expect("held");
        a.add_lease(lease(x, false, 3), NOW)
            .expect_err("the bit is still held by the move");
        a.command_update_lease(lease("2001:db8:1::107", false, 3), true)
            .expect("other");
        let mut clash = lease("2001:db8:1::107", false, 3);
        clash.iaid = 2;
        assert!(a.command_put_moved_lease(clash, &taken).is_err());
        b.command_restore_moved(taken);
        assert_eq!(stat(&b, "subnet[1].assigned-nas"), 1);
        assert!(b.table().get(key).is_some_and(|e| e.holds_bit));
    }

    /// The two halves of a move on shards with real lease logs, and what recovery finds if
    /// the process dies between them (the files hold what was written: the default durability
    /// puts each record in the page cache before `record` returns) or after them.
    #[test]
    fn lease6_update_moving_to_another_shard_survives_a_crash_between_the_two_halves() {
        use corelease_storage::{recover, Family, LeaseLog, LogOptions};
        let dir = tempfile::tempdir().expect("temp dir");
        let p = prepared(CFG);
        let log = |i| LeaseLog::open(dir.path(), Family::V6, i, LogOptions::default());
        let mut a = V6Shard::new(Arc::clone(&p), SERVER_DUID, 0, 2, log(0).expect("log 0"));
        let mut b = V6Shard::new(Arc::clone(&p), SERVER_DUID, 1, 2, log(1).expect("log 1"));
        let x = "2001:db8:1::106";
        let before = lease(x, false, 1);
        a.add_lease(before.clone(), NOW).expect("added");
        let key = key_of(&before);
        let recovered = || recover(dir.path(), Family::V6).expect("recover").leases;

        let taken = a.command_take_for_move(key).expect("a held it");
        // Killed here: the lease comes back as it was before the move.
        let got = recovered();
        assert_eq!(got.len(), 1, "the lease survives: {got:?}");
        assert_eq!(got[0].client_id, before.client_id);

        let moved = lease(x, false, 9);
        b.command_put_moved_lease(moved.clone(), &taken)
            .expect("moved");
        // Killed here (or stopped): the moved lease, once.
        let got = recovered();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].client_id, moved.client_id);
    }
}

#[cfg(test)]
mod hold_tests {
    use crate::tests::{prepared, stat, NOW, SERVER_DUID};
    use crate::{key_of, V6Shard};
    use corelease_storage::MemorySink;
    use corelease_types::{ClientId, Lease, LeaseKind, LeaseState, PoolId, SubnetId};
    use std::net::{IpAddr, Ipv6Addr};
    use std::sync::Arc;

    #[test]
    fn reclaimed_v6_leases_are_flushed_after_hold_reclaimed_time_on_the_flush_timer() {
        let p = prepared(
            r#"{"Dhcp6": {"expired-leases-processing": { "reclaim-timer-wait-time": 1,
                "hold-reclaimed-time": 100, "flush-reclaimed-timer-wait-time": 30 },
            "subnet6": [{"id": 1, "subnet": "2001:db8:1::/64",
            "pools": [{"pool": "2001:db8:1::100 - 2001:db8:1::10f"}]}]}}"#,
        );
        let mut s = V6Shard::new(Arc::clone(&p), SERVER_DUID, 0, 1, MemorySink::default());
        let lease = Lease {
            kind: LeaseKind::V6Na,
            addr: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x100)),
            prefix_len: 128,
            iaid: 1,
            hwaddr: None,
            client_id: Some(ClientId::new(&[0, 3, 0, 1, 2, 0, 0, 0, 0, 1])),
            valid_lifetime: 50,
            preferred_lifetime: 40,
            cltt: NOW - 60,
            subnet_id: SubnetId(1),
            pool_id: PoolId(0),
            state: LeaseState::Default,
            hostname: None,
            fqdn_fwd: false,
            fqdn_rev: false,
            user_context: None,
        };
        let key = key_of(&lease);
        s.add_lease(lease, NOW).expect("added, expired");
        s.on_tick(NOW);
        assert_eq!(stat(&s, "reclaimed-leases"), 1);
        let state = |s: &V6Shard<MemorySink>| s.table().get(key).map(|e| e.lease.state);
        assert_eq!(state(&s), Some(LeaseState::ExpiredReclaimed));
        // Kept for affinity until hold-reclaimed-time has passed, whatever the flush timer.
        s.on_tick(NOW + 31);
        s.on_tick(NOW + 62);
        s.on_tick(NOW + 93);
        assert_eq!(state(&s), Some(LeaseState::ExpiredReclaimed));
        assert!(s.sink_mut().removals.is_empty());
        // The first flush after NOW + 100 removes it from the table and the log.
        s.on_tick(NOW + 101);
        assert_eq!(
            state(&s),
            Some(LeaseState::ExpiredReclaimed),
            "no flush due yet"
        );
        s.on_tick(NOW + 124);
        assert_eq!(state(&s), None);
        assert_eq!(s.sink_mut().removals.len(), 1);
    }

    #[test]
    fn pools_without_a_pool_id_share_pool_0_statistics_as_in_kea() {
        let p = prepared(
            r#"{"Dhcp6": {"subnet6": [{"id": 4, "subnet": "2001:db8:4::/64",
            "pools": [{"pool": "2001:db8:4::100 - 2001:db8:4::10f"},
                      {"pool": "2001:db8:4::200 - 2001:db8:4::203"},
                      {"pool": "2001:db8:4::300 - 2001:db8:4::300", "pool-id": 7}],
            "pd-pools": [{"prefix": "2001:db8:8000::", "prefix-len": 48, "delegated-len": 56}]}]}}"#,
        );
        let s = V6Shard::new(Arc::clone(&p), SERVER_DUID, 0, 1, MemorySink::default());
        assert_eq!(stat(&s, "subnet[4].pool[0].total-nas"), 20);
        assert_eq!(stat(&s, "subnet[4].pool[7].total-nas"), 1);
        assert_eq!(stat(&s, "subnet[4].pd-pool[0].total-pds"), 256);
        assert_eq!(
            stat(&s, "subnet[4].pool[1].total-nas"),
            -1,
            "no such statistic"
        );
    }
}
