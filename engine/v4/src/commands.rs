//! Lease changes asked for by the control thread (ARM 17.15 "libdhcp_lease_cmds", 19.4.7
//! `leases-reclaim`). Run on the shard's own thread between batches, through the shard's
//! command queue: they touch the same table, queues, bitmap bits and counters as packets do, so
//! statistics stay true (an added lease counts in assigned-addresses, a deleted one leaves it).

use crate::{Entry, V4Shard, NO_POOL};
use corelease_alloc::reload::ReloadTarget;
use corelease_storage::{LeaseSink, LogSeq};
use corelease_types::{Lease, LeaseKind, LeaseState, SubnetId};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// Why a lease command was refused; the text is what the operator reads.
/// A lease on its way to another shard (`lease4-update` giving it a client another shard
/// owns): the entry its old holder took out of its table, pool bit still claimed, and the
/// old holder's newest log position, which the new owner's record must follow.
#[derive(Debug, Clone)]
pub struct MovingLease {
    entry: Entry,
    after: LogSeq,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseCommandError {
    NotV4(IpAddr),
    NoSubnet(Ipv4Addr),
    WrongSubnet {
        id: u32,
        addr: Ipv4Addr,
    },
    Exists(Ipv4Addr),
    Taken(Ipv4Addr),
    /// lease4-update of an address without a lease, without force-create.
    NoSuchLease(Ipv4Addr),
    Storage(String),
}

/// What `lease4-update` did (Kea answers "IPv4 lease updated." or, with force-create on a
/// missing lease, "IPv4 lease added.").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseUpdated {
    Updated,
    Added,
}

impl std::fmt::Display for LeaseCommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeaseCommandError::NotV4(a) => write!(f, "{a} is not an IPv4 address"),
            LeaseCommandError::NoSubnet(a) => write!(f, "no configured subnet contains {a}"),
            LeaseCommandError::WrongSubnet { id, addr } => {
                write!(
                    f,
                    "subnet-id {id} does not exist or does not contain {addr}"
                )
            }
            LeaseCommandError::Exists(a) => write!(f, "IPv4 lease for {a} already exists"),
            LeaseCommandError::Taken(a) => {
                write!(f, "address {a} is held by another client's lease or offer")
            }
            // Kea's text (lease_cmds, memfile updateLease4).
            LeaseCommandError::NoSuchLease(a) => write!(
                f,
                "failed to update the lease with address {a} either because the lease has been deleted or it has changed in the database, in both cases a retry might succeed"
            ),
            LeaseCommandError::Storage(e) => write!(f, "writing the lease log failed: {e}"),
        }
    }
}

impl std::error::Error for LeaseCommandError {}

impl<S: LeaseSink> V4Shard<S> {
    /// The subnet id and default valid lifetime for `addr`: the given subnet if it contains
    /// the address, else (id 0 or none) the first subnet that does (Kea's subnet selection for
    /// lease4-add, ARM 17.15.1).
    pub fn command_subnet_for(
        &self,
        addr: Ipv4Addr,
        subnet_id: Option<SubnetId>,
    ) -> Result<(SubnetId, u32), LeaseCommandError> {
        let a = u32::from(addr);
        let found = match subnet_id.filter(|id| id.0 != 0) {
            Some(id) => self
                .prepared
                .subnets
                .iter()
                .find(|s| s.id == id && s.contains(a))
                .ok_or(LeaseCommandError::WrongSubnet { id: id.0, addr })?,
            None => self
                .prepared
                .subnets
                .iter()
                .find(|s| s.contains(a))
                .ok_or(LeaseCommandError::NoSubnet(addr))?,
        };
        Ok((found.id, found.valid.default))
    }

    /// `lease4-add` on the owning shard: the address must not be in this shard's table, and
    /// an address in a pool must be free in the pool bitmap (no other shard's lease or offer).
    /// The lease is logged and counted as a new assignment.
    pub fn command_add_lease(&mut self, mut lease: Lease) -> Result<(), LeaseCommandError> {
        let IpAddr::V4(v4) = lease.addr else {
            return Err(LeaseCommandError::NotV4(lease.addr));
        };
        let addr = u32::from(v4);
        let (subnet_id, _) = self.command_subnet_for(v4, Some(lease.subnet_id))?;
        lease.subnet_id = subnet_id;
        lease.kind = LeaseKind::V4;
        lease.prefix_len = 32;
        if self.table.get(addr).is_some() {
            return Err(LeaseCommandError::Exists(v4));
        }
        let subnet = self
            .prepared
            .subnets
            .iter()
            .position(|s| s.id == subnet_id && s.contains(addr))
            .ok_or(LeaseCommandError::NoSubnet(v4))?;
        let pool = self.prepared.pool_of(subnet, addr);
        let binds = matches!(lease.state, LeaseState::Default | LeaseState::Declined);
        let mut holds_bit = false;
        // A reserved in-pool address's bit belongs to its reservation (claimed at load): the
        // lease is kept without it, as a recovered lease would be. kea-dhcp4 2.2.0 (with
        // libdhcp_lease_cmds) adds such a lease for the reserved client and for any other
        // client alike; another client's lease is then a conflict that ARM 9.3.2 resolves at
        // that client's renewal.
        let reserved = self.prepared.hosts.reserved_for(addr).is_some();
        if let (true, Some(p), false) = (binds, pool, reserved) {
            let claimed = self
                .prepared
                .pools
                .get(p)
                .and_then(|rt| rt.range.offset_of(addr).map(|off| rt.bitmap.try_claim(off)))
                .unwrap_or(false);
            if !claimed {
                return Err(LeaseCommandError::Taken(v4));
            }
            holds_bit = true;
        }
        if let Some(p) = pool.and_then(|p| self.prepared.pools.get(p)) {
            lease.pool_id = p.pool_id;
        }
        let entry = Entry {
            lease,
            pool: pool.map(|p| p as u32).unwrap_or(NO_POOL),
            subnet: subnet as u32,
            offer_until: 0,
            holds_bit,
            renews: false,
        };
        if let Err(e) = self.sink.record(&entry.lease) {
            self.give_back(&entry, addr);
            return Err(LeaseCommandError::Storage(e.to_string()));
        }
        if binds {
            let declined = entry.lease.state == LeaseState::Declined;
            self.count_assigned(subnet, pool, declined, 1);
        }
        self.table.insert(entry);
        Ok(())
    }

    /// `lease4-update` (ARM 17.15.8) on the shard that holds the lease of the address (or, with
    /// nothing held anywhere, its owner): the entry is replaced in place in one step, keeping
    /// the address's pool bit, and logged as one record. Without a lease at the address it
    /// fails with `NoSuchLease` and changes nothing, unless `force_create` (then it is
    /// `lease4-add`, and fails cleanly with `Taken` when another shard holds the address). An
    /// offer pending at the address is replaced by the lease only with `force_create`.
    pub fn command_update_lease(
        &mut self,
        mut lease: Lease,
        force_create: bool,
    ) -> Result<LeaseUpdated, LeaseCommandError> {
        let IpAddr::V4(v4) = lease.addr else {
            return Err(LeaseCommandError::NotV4(lease.addr));
        };
        let addr = u32::from(v4);
        let (subnet_id, _) = self.command_subnet_for(v4, Some(lease.subnet_id))?;
        let Some(old) = self.table.get(addr) else {
            if !force_create {
                return Err(LeaseCommandError::NoSuchLease(v4));
            }
            return self.command_add_lease(lease).map(|()| LeaseUpdated::Added);
        };
        let was_offer = old.is_offer();
        if was_offer && !force_create {
            return Err(LeaseCommandError::NoSuchLease(v4));
        }
        lease.subnet_id = subnet_id;
        lease.kind = LeaseKind::V4;
        lease.prefix_len = 32;
        let subnet = self
            .prepared
            .subnets
            .iter()
            .position(|s| s.id == subnet_id && s.contains(addr))
            .ok_or(LeaseCommandError::NoSubnet(v4))?;
        let pool = self.prepared.pool_of(subnet, addr);
        let pool_index = pool.map(|p| p as u32).unwrap_or(NO_POOL);
        let binds = matches!(lease.state, LeaseState::Default | LeaseState::Declined);
        // The pool bit: kept when the old entry holds it and the lease still binds; claimed
        // when the lease now binds and was not holding it (a reclaimed lease made active
        // again); the old one released after the record otherwise.
        let keeps_bit = binds && old.holds_bit && old.pool == pool_index && pool.is_some();
        let mut claimed_now = false;
        // A reserved address's bit stays with its reservation (see `command_add_lease`).
        let reserved = self.prepared.hosts.reserved_for(addr).is_some();
        if let (true, false, Some(p), false) = (binds, keeps_bit, pool, reserved) {
            let claimed = self
                .prepared
                .pools
                .get(p)
                .and_then(|rt| rt.range.offset_of(addr).map(|off| rt.bitmap.try_claim(off)))
                .unwrap_or(false);
            if !claimed {
                return Err(LeaseCommandError::Taken(v4));
            }
            claimed_now = true;
        }
        if let Some(p) = pool.and_then(|p| self.prepared.pools.get(p)) {
            lease.pool_id = p.pool_id;
        }
        let entry = Entry {
            lease,
            pool: pool_index,
            subnet: subnet as u32,
            offer_until: 0,
            holds_bit: keeps_bit || claimed_now,
            renews: false,
        };
        if let Err(e) = self.sink.record(&entry.lease) {
            if claimed_now {
                self.give_back(&entry, addr);
            }
            return Err(LeaseCommandError::Storage(e.to_string()));
        }
        if let Some(old) = self.table.remove(addr) {
            let counted = !old.is_offer()
                && matches!(old.lease.state, LeaseState::Default | LeaseState::Declined);
            if counted {
                let old_pool = (old.pool != NO_POOL).then_some(old.pool as usize);
                let declined = old.lease.state == LeaseState::Declined;
                self.count_assigned(old.subnet as usize, old_pool, declined, -1);
            }
            if !keeps_bit {
                self.give_back(&old, addr);
            }
        }
        if binds {
            let declined = entry.lease.state == LeaseState::Declined;
            self.count_assigned(subnet, pool, declined, 1);
        }
        self.table.insert(entry);
        Ok(if was_offer {
            LeaseUpdated::Added
        } else {
            LeaseUpdated::Updated
        })
    }

    /// First half of moving a lease to another shard (`lease4-update` changing the client so
    /// that another shard owns it): removes the entry of `addr` from this shard's table and
    /// uncounts it, but keeps its pool bit claimed, so no shard can take the address before
    /// [`Self::command_put_moved_lease`] on the new owner. The log is not written: its record
    /// of the lease stays until the new owner's newer one supersedes it, so a crash between
    /// the two halves recovers the lease as it was (corelease_storage, "Moving a lease
    /// between shards"). None when this shard holds no lease there.
    pub fn command_take_for_move(&mut self, addr: Ipv4Addr) -> Option<MovingLease> {
        let a = u32::from(addr);
        if self.table.get(a).is_none_or(Entry::is_offer) {
            return None;
        }
        let entry = self.table.remove(a)?;
        let counted = matches!(
            entry.lease.state,
            LeaseState::Default | LeaseState::Declined
        );
        if counted {
            let pool = (entry.pool != NO_POOL).then_some(entry.pool as usize);
            let declined = entry.lease.state == LeaseState::Declined;
            self.count_assigned(entry.subnet as usize, pool, declined, -1);
        }
        Some(MovingLease {
            entry,
            after: self.sink.last_seq(),
        })
    }

    /// Second half of a move: `lease` enters this shard with the bit `moving` held (taken by
    /// [`Self::command_take_for_move`] on the old holder), recorded after the old holder's
    /// newest record so that it wins at recovery. On an error nothing changed here and the
    /// caller gives `moving` back to its shard with [`Self::command_restore_moved`].
    pub fn command_put_moved_lease(
        &mut self,
        mut lease: Lease,
        moving: &MovingLease,
    ) -> Result<(), LeaseCommandError> {
        let from = &moving.entry;
        let IpAddr::V4(v4) = lease.addr else {
            return Err(LeaseCommandError::NotV4(lease.addr));
        };
        let addr = u32::from(v4);
        if self.table.get(addr).is_some() {
            return Err(LeaseCommandError::Exists(v4));
        }
        let (subnet_id, _) = self.command_subnet_for(v4, Some(lease.subnet_id))?;
        let subnet = self
            .prepared
            .subnets
            .iter()
            .position(|s| s.id == subnet_id && s.contains(addr))
            .ok_or(LeaseCommandError::NoSubnet(v4))?;
        lease.subnet_id = subnet_id;
        lease.kind = LeaseKind::V4;
        lease.prefix_len = 32;
        let pool = self.prepared.pool_of(subnet, addr);
        if let Some(p) = pool.and_then(|p| self.prepared.pools.get(p)) {
            lease.pool_id = p.pool_id;
        }
        let binds = matches!(lease.state, LeaseState::Default | LeaseState::Declined);
        let entry = Entry {
            lease,
            pool: pool.map(|p| p as u32).unwrap_or(NO_POOL),
            subnet: subnet as u32,
            offer_until: 0,
            holds_bit: binds && from.holds_bit && from.pool != NO_POOL,
            renews: false,
        };
        self.sink
            .record_after(&entry.lease, moving.after)
            .map_err(|e| LeaseCommandError::Storage(e.to_string()))?;
        if from.holds_bit && !entry.holds_bit {
            // The moved lease no longer binds its address: the bit the old holder kept goes.
            self.give_back(from, addr);
        }
        if binds {
            let declined = entry.lease.state == LeaseState::Declined;
            self.count_assigned(subnet, pool, declined, 1);
        }
        self.table.insert(entry);
        Ok(())
    }

    /// Undoes [`Self::command_take_for_move`] when the new owner refused the lease: the entry
    /// (still holding its bit) comes back and is counted again; the log still holds it.
    pub fn command_restore_moved(&mut self, moving: MovingLease) {
        let entry = moving.entry;
        let counted = matches!(
            entry.lease.state,
            LeaseState::Default | LeaseState::Declined
        );
        if counted {
            let pool = (entry.pool != NO_POOL).then_some(entry.pool as usize);
            let declined = entry.lease.state == LeaseState::Declined;
            self.count_assigned(entry.subnet as usize, pool, declined, 1);
        }
        self.table.insert(entry);
    }

    /// `lease4-del`: removes the lease of `addr` from this shard (table and log), returns its
    /// bit and address to the pool, and uncounts it. False when this shard has no such lease.
    pub fn command_delete_lease(&mut self, addr: Ipv4Addr) -> Result<bool, LeaseCommandError> {
        let a = u32::from(addr);
        let Some(entry) = self.table.remove(a) else {
            return Ok(false);
        };
        self.uncount_and_give_back(&entry, a);
        self.sink
            .remove(LeaseKind::V4, IpAddr::V4(addr), 32)
            .map_err(|e| LeaseCommandError::Storage(e.to_string()))?;
        Ok(true)
    }

    /// `lease4-wipe`: deletes every lease of `subnet` (all subnets when None) held by this
    /// shard; returns how many were deleted.
    pub fn command_wipe_leases(
        &mut self,
        subnet: Option<SubnetId>,
    ) -> Result<u64, LeaseCommandError> {
        let doomed: Vec<u32> = self
            .table
            .iter()
            .filter(|e| !e.is_offer() && (subnet.is_none() || subnet == Some(e.lease.subnet_id)))
            .map(|e| crate::leases::addr_u32(&e.lease))
            .collect();
        let mut n = 0;
        for a in doomed {
            if self.command_delete_lease(Ipv4Addr::from(a))? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// `leases-reclaim`: reclaims every lease expired by `now` at once (no per-tick bound),
    /// and with `remove` also deletes the reclaimed leases (ARM 19.4.7). Returns how many were
    /// reclaimed.
    pub fn command_reclaim_expired(&mut self, now: u64, remove: bool) -> u64 {
        let mut done = 0;
        while let Some((t, addr)) = self.table.pop_expired(now) {
            let due = matches!(self.table.get(addr),
                Some(e) if e.offer_until == 0
                    && e.lease.expire() == t
                    && matches!(e.lease.state, LeaseState::Default | LeaseState::Declined));
            if due {
                self.reclaim(addr, now);
                done += 1;
                if remove {
                    self.table.remove(addr);
                    let _ = self
                        .sink
                        .remove(LeaseKind::V4, IpAddr::V4(Ipv4Addr::from(addr)), 32);
                }
            }
        }
        done
    }

    /// Undoes what an entry counts for (assigned / declined gauges, held bit).
    fn uncount_and_give_back(&mut self, entry: &Entry, addr: u32) {
        let counted = !entry.is_offer()
            && matches!(
                entry.lease.state,
                LeaseState::Default | LeaseState::Declined
            );
        if counted {
            let pool = (entry.pool != NO_POOL).then_some(entry.pool as usize);
            let declined = entry.lease.state == LeaseState::Declined;
            self.count_assigned(entry.subnet as usize, pool, declined, -1);
        }
        self.give_back(entry, addr);
    }
}

/// Adds every global counter of `from` to `to` (both written by the calling shard only).
macro_rules! carry_global {
    ($from:expr, $to:expr; $($field:ident),* $(,)?) => {
        $( $to.$field.add($from.$field.get()); )*
    };
}

/// One shard's DHCPv4 state under a new configuration, built off the shard by the protocol
/// of `corelease_alloc::reload` (ARCHITECTURE.md "Config reload"): [`V4Shard::reload_begin`],
/// [`V4Shard::reload_copy`], [`V4Shard::reload_changes`], [`V4Shard::reload_take_dirty`] and
/// [`V4Shard::reload_current`] are the shard's side; [`V4Shard::reload_empty`] starts a build
/// and [`V4Shard::reload_finish`] turns a finished one into the shard's next state.
pub type ReloadBuild<S> = corelease_alloc::reload::ReloadBuild<V4Shard<S>>;

impl<S: LeaseSink> ReloadTarget for V4Shard<S> {
    type Key = u32;

    fn reload_key(lease: &Lease) -> u32 {
        crate::leases::addr_u32(lease)
    }

    fn reload_load(&mut self, lease: Lease, now: u64) -> Option<Lease> {
        self.load_one(lease, now)
    }

    fn reload_forget(&mut self, addr: u32) {
        if let Some(e) = self.table.remove(addr) {
            self.uncount_and_give_back(&e, addr);
        }
    }

    fn reload_len(&self) -> usize {
        self.table.len()
    }
}

impl<S: LeaseSink> V4Shard<S> {
    /// An empty build for shard `shard` of `shards` under `prepared` (whose bitmaps no shard
    /// uses yet). `placeholder` is the sink until [`Self::reload_finish`] moves the shard's
    /// lease log over; the build never writes to it.
    pub fn reload_empty(
        prepared: Arc<crate::Prepared4>,
        shard: usize,
        shards: usize,
        placeholder: S,
    ) -> ReloadBuild<S> {
        ReloadBuild::new(V4Shard::new(prepared, shard, shards, placeholder))
    }

    /// The finished state for this (running) shard: its packet and cumulative counters
    /// carried over (by subnet id and pool id; the gauges were counted from the leases), its
    /// lease log `sink` in place. Returns the state and the number of leases dropped because
    /// another lease holds their address.
    pub fn reload_finish(&self, build: ReloadBuild<S>, sink: S) -> (V4Shard<S>, usize) {
        let (mut next, conflicts) = build.finish();
        self.carry_counters_to(&next);
        next.sink = sink;
        (next, conflicts)
    }

    /// Step 1 of a reload: starts the journal and returns the addresses of this shard's
    /// leases (offers lapse over a reload: the client's REQUEST claims the address again).
    pub fn reload_begin(&mut self) -> Vec<u32> {
        self.table.start_journal();
        self.table
            .iter()
            .filter(|e| !e.is_offer())
            .map(|e| crate::leases::addr_u32(&e.lease))
            .collect()
    }

    /// Step 2: copies of the leases at `addrs` (those still there and not offers; whatever
    /// changed since step 1 is in the journal anyway).
    pub fn reload_copy(&self, addrs: &[u32]) -> Vec<Lease> {
        addrs
            .iter()
            .filter_map(|&a| self.reload_current(a))
            .collect()
    }

    /// Step 3: the addresses changed since the journal started or was last drained, each
    /// with its current lease (None: no lease there now). The journal keeps running.
    pub fn reload_changes(&mut self) -> Vec<(u32, Option<Lease>)> {
        let changed = self.table.drain_journal();
        changed
            .into_iter()
            .map(|a| (a, self.reload_current(a)))
            .collect()
    }

    /// At the switch, every shard paused and every build caught up: this shard's pending
    /// OFFERs go into its new state with their bits, so that an address offered just before
    /// a reload is not offered to another client just after it (the client's REQUEST then
    /// finds it held for it, as without a reload). Costs one lookup per offer made within
    /// the offer hold, not per lease. Returns how many were carried.
    pub fn reload_carry_offers(&self, build: &mut ReloadBuild<S>, now: u64) -> usize {
        let table = &self.table;
        let next = build.target_mut();
        table
            .queued_offers()
            .filter_map(|(until, addr)| table.get(addr).filter(|e| e.offer_until == until))
            .filter(|e| e.offer_until > now && next.load_offer(e))
            .count()
    }

    /// Step 4: stops the journal; the addresses changed since the last catch-up (sorted).
    pub fn reload_take_dirty(&mut self) -> Vec<u32> {
        self.table.stop_journal()
    }

    /// Gives up a prepared reload: the journal stops.
    pub fn reload_abort(&mut self) {
        self.table.stop_journal();
    }

    /// The lease (not an offer) at `addr` now.
    pub fn reload_current(&self, addr: u32) -> Option<Lease> {
        self.table
            .get(addr)
            .filter(|e| !e.is_offer())
            .map(|e| e.lease.clone())
    }

    fn carry_counters_to(&self, next: &V4Shard<S>) {
        let (from, to) = (&self.stats.global, &next.stats.global);
        carry_global!(from, to;
            pkt4_received, pkt4_discover_received, pkt4_offer_received, pkt4_request_received,
            pkt4_ack_received, pkt4_nak_received, pkt4_release_received, pkt4_decline_received,
            pkt4_inform_received, pkt4_unknown_received, pkt4_sent, pkt4_offer_sent,
            pkt4_ack_sent, pkt4_nak_sent, pkt4_parse_failed, pkt4_receive_drop,
            v4_allocation_fail, v4_allocation_fail_shared_network, v4_allocation_fail_subnet,
            v4_allocation_fail_no_pools, v4_allocation_fail_classes, v4_lease_reuses,
            reclaimed_leases, reclaimed_declined_addresses, cumulative_assigned_addresses,
        );
        for (si, old) in self.prepared.subnets.iter().enumerate() {
            let new_si = next.prepared.subnets.iter().position(|s| s.id == old.id);
            let (Some(from), Some(to)) = (
                self.stats.subnets.get(si),
                new_si.and_then(|n| next.stats.subnets.get(n)),
            ) else {
                continue;
            };
            carry_global!(from, to;
                cumulative_assigned_addresses, reclaimed_leases, reclaimed_declined_addresses,
                v4_allocation_fail, v4_allocation_fail_shared_network, v4_allocation_fail_subnet,
                v4_allocation_fail_no_pools, v4_allocation_fail_classes,
            );
            let Some(new_si) = new_si else { continue };
            for &pi in &old.pools {
                let Some(pool) = self.prepared.pools.get(pi) else {
                    continue;
                };
                let new_pi = next.prepared.subnets.get(new_si).and_then(|s| {
                    s.pools.iter().copied().find(|&np| {
                        next.prepared
                            .pools
                            .get(np)
                            .is_some_and(|p| p.pool_id == pool.pool_id)
                    })
                });
                if let (Some(from), Some(to)) = (
                    self.stats.pools.get(pi),
                    new_pi.and_then(|n| next.stats.pools.get(n)),
                ) {
                    carry_global!(from, to;
                        cumulative_assigned_addresses, reclaimed_leases,
                        reclaimed_declined_addresses,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InterfaceInfo, Ports, Prepared4};
    use corelease_storage::MemorySink;
    use corelease_types::{HwAddr, PoolId};
    use std::path::Path;

    const NOW: u64 = 1_700_000_000;

    fn prepared() -> Arc<Prepared4> {
        let loaded = corelease_config::parse_dhcp4_str(
            r#"{ "Dhcp4": { "valid-lifetime": 4000, "subnet4": [ {
                "id": 1, "subnet": "192.0.2.0/24",
                "pools": [ { "pool": "192.0.2.10 - 192.0.2.19" } ] } ] } }"#,
            Path::new("."),
        )
        .expect("test config");
        let ifaces: Vec<InterfaceInfo> = Vec::new();
        Arc::new(Prepared4::new(&loaded.config, ifaces, Ports::default()))
    }

    fn lease(addr: [u8; 4], cltt: u64) -> Lease {
        Lease {
            kind: LeaseKind::V4,
            addr: IpAddr::V4(Ipv4Addr::from(addr)),
            prefix_len: 32,
            iaid: 0,
            hwaddr: Some(HwAddr::new(1, &[2, 0, 0, 0, 0, addr[3]])),
            client_id: None,
            valid_lifetime: 4000,
            preferred_lifetime: 0,
            cltt,
            subnet_id: SubnetId(0),
            pool_id: PoolId(0),
            state: LeaseState::Default,
            hostname: None,
            fqdn_fwd: false,
            fqdn_rev: false,
            user_context: None,
        }
    }

    fn assigned(s: &V4Shard<MemorySink>) -> i64 {
        s.stats()
            .subnets
            .first()
            .map(|c| c.assigned_addresses.get())
            .unwrap_or(-1)
    }

    #[test]
    fn added_lease_claims_its_pool_bit_and_counts_as_assigned() {
        let p = prepared();
        let mut a = V4Shard::new(Arc::clone(&p), 0, 2, MemorySink::default());
        let mut b = V4Shard::new(Arc::clone(&p), 1, 2, MemorySink::default());
        a.command_add_lease(lease([192, 0, 2, 12], NOW))
            .expect("added");
        assert_eq!(assigned(&a), 1);
        assert_eq!(a.sink_mut().records.len(), 1);
        assert_eq!(
            a.sink_mut().records[0].subnet_id,
            SubnetId(1),
            "subnet selected"
        );
        assert_eq!(
            b.command_add_lease(lease([192, 0, 2, 12], NOW)),
            Err(LeaseCommandError::Taken(Ipv4Addr::new(192, 0, 2, 12))),
            "the other shard sees the claimed bit"
        );
        assert_eq!(
            a.command_add_lease(lease([192, 0, 2, 12], NOW)),
            Err(LeaseCommandError::Exists(Ipv4Addr::new(192, 0, 2, 12)))
        );
        assert_eq!(
            a.command_add_lease(lease([198, 51, 100, 1], NOW)),
            Err(LeaseCommandError::NoSubnet(Ipv4Addr::new(198, 51, 100, 1)))
        );
        let mut wrong = lease([192, 0, 2, 13], NOW);
        wrong.subnet_id = SubnetId(9);
        assert!(matches!(
            a.command_add_lease(wrong),
            Err(LeaseCommandError::WrongSubnet { id: 9, .. })
        ));
    }

    #[test]
    fn deleted_lease_frees_its_address_and_leaves_the_statistics() {
        let p = prepared();
        let mut a = V4Shard::new(Arc::clone(&p), 0, 2, MemorySink::default());
        let mut b = V4Shard::new(Arc::clone(&p), 1, 2, MemorySink::default());
        let addr = Ipv4Addr::new(192, 0, 2, 15);
        a.command_add_lease(lease(addr.octets(), NOW))
            .expect("added");
        assert_eq!(a.command_delete_lease(addr), Ok(true));
        assert_eq!(assigned(&a), 0);
        assert_eq!(a.sink_mut().removals.len(), 1);
        assert!(a.table().get(u32::from(addr)).is_none());
        assert_eq!(a.command_delete_lease(addr), Ok(false));
        b.command_add_lease(lease(addr.octets(), NOW))
            .expect("free again for any shard");
    }

    #[test]
    fn reclaim_takes_every_expired_lease_at_once() {
        let p = prepared();
        let mut a = V4Shard::new(Arc::clone(&p), 0, 1, MemorySink::default());
        a.command_add_lease(lease([192, 0, 2, 10], NOW - 5000))
            .expect("expired");
        a.command_add_lease(lease([192, 0, 2, 11], NOW - 5000))
            .expect("expired");
        a.command_add_lease(lease([192, 0, 2, 12], NOW))
            .expect("live");
        assert_eq!(a.command_reclaim_expired(NOW, false), 2);
        assert_eq!(assigned(&a), 1);
        assert_eq!(a.stats().global.reclaimed_leases.get(), 2);
        let kept = a.table().get(u32::from(Ipv4Addr::new(192, 0, 2, 10)));
        assert_eq!(
            kept.map(|e| e.lease.state),
            Some(LeaseState::ExpiredReclaimed)
        );
        a.command_add_lease(lease([192, 0, 2, 13], NOW - 5000))
            .expect("expired");
        assert_eq!(a.command_reclaim_expired(NOW, true), 1);
        assert!(a
            .table()
            .get(u32::from(Ipv4Addr::new(192, 0, 2, 13)))
            .is_none());
    }

    #[test]
    fn wipe_deletes_only_the_named_subnet() {
        let p = prepared();
        let mut a = V4Shard::new(Arc::clone(&p), 0, 1, MemorySink::default());
        a.command_add_lease(lease([192, 0, 2, 10], NOW))
            .expect("added");
        a.command_add_lease(lease([192, 0, 2, 11], NOW))
            .expect("added");
        assert_eq!(a.command_wipe_leases(Some(SubnetId(2))), Ok(0));
        assert_eq!(a.command_wipe_leases(Some(SubnetId(1))), Ok(2));
        assert_eq!(assigned(&a), 0);
        assert!(a.table().is_empty());
    }

    #[test]
    fn update_replaces_in_place_with_one_record_keeping_the_bit() {
        let p = prepared();
        let mut a = V4Shard::new(Arc::clone(&p), 0, 2, MemorySink::default());
        let mut b = V4Shard::new(Arc::clone(&p), 1, 2, MemorySink::default());
        let addr = Ipv4Addr::new(192, 0, 2, 14);
        assert_eq!(
            a.command_update_lease(lease(addr.octets(), NOW), false),
            Err(LeaseCommandError::NoSuchLease(addr)),
            "no lease, no force-create: nothing changes"
        );
        assert!(a.sink_mut().records.is_empty());
        assert_eq!(
            a.command_update_lease(lease(addr.octets(), NOW), true),
            Ok(LeaseUpdated::Added)
        );
        let mut changed = lease(addr.octets(), NOW + 10);
        changed.hostname = Some("h.example".into());
        changed.state = LeaseState::Declined;
        assert_eq!(
            a.command_update_lease(changed, false),
            Ok(LeaseUpdated::Updated)
        );
        assert_eq!(a.sink_mut().records.len(), 2, "one record per command");
        assert!(
            a.sink_mut().removals.is_empty(),
            "an update is not a delete"
        );
        assert_eq!(assigned(&a), 1);
        assert_eq!(a.stats().declined_addresses.get(), 1);
        let e = a.table().get(u32::from(addr)).expect("still there");
        assert_eq!(e.lease.hostname.as_deref(), Some("h.example"));
        assert!(e.holds_bit);
        assert_eq!(
            b.command_add_lease(lease(addr.octets(), NOW)),
            Err(LeaseCommandError::Taken(addr)),
            "the bit stayed claimed throughout"
        );
        // Updated to released: the address goes back to the pool and leaves the gauges.
        let mut released = lease(addr.octets(), NOW + 20);
        released.state = LeaseState::Released;
        assert_eq!(
            a.command_update_lease(released, false),
            Ok(LeaseUpdated::Updated)
        );
        assert_eq!(assigned(&a), 0);
        assert_eq!(a.stats().declined_addresses.get(), 0);
        b.command_add_lease(lease(addr.octets(), NOW))
            .expect("released address is free for any shard");
        // Back to active on a: the other shard holds it now, so the update fails cleanly.
        assert_eq!(
            a.command_update_lease(lease(addr.octets(), NOW + 30), false),
            Err(LeaseCommandError::Taken(addr))
        );
        let e = a.table().get(u32::from(addr)).expect("unchanged");
        assert_eq!(e.lease.state, LeaseState::Released);
        assert_eq!(a.sink_mut().records.len(), 3);
    }

    #[test]
    fn update_moving_to_another_shard_never_frees_the_address() {
        let p = prepared();
        let mut a = V4Shard::new(Arc::clone(&p), 0, 2, MemorySink::default());
        let mut b = V4Shard::new(Arc::clone(&p), 1, 2, MemorySink::default());
        let addr = Ipv4Addr::new(192, 0, 2, 16);
        a.command_add_lease(lease(addr.octets(), NOW))
            .expect("added");
        let taken = a.command_take_for_move(addr).expect("a held it");
        assert_eq!(assigned(&a), 0);
        assert!(
            p.pools.first().is_some_and(|pl| pl.bitmap.is_claimed(6)),
            "bit kept claimed between the two halves"
        );
        let mut moved = lease(addr.octets(), NOW);
        moved.hwaddr = Some(HwAddr::new(1, &[9, 9, 9, 9, 9, 9]));
        b.command_put_moved_lease(moved, &taken).expect("moved");
        assert_eq!(assigned(&b), 1);
        assert!(a.table().get(u32::from(addr)).is_none());
        assert!(b.table().get(u32::from(addr)).is_some_and(|e| e.holds_bit));
        assert!(a.command_take_for_move(addr).is_none());
        // A refused put restores the lease where it was.
        let taken = b.command_take_for_move(addr).expect("held");
        a.command_add_lease(lease([192, 0, 2, 19], NOW))
            .expect("other");
        let mut clash = lease(addr.octets(), NOW);
        clash.addr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 19));
        assert!(a.command_put_moved_lease(clash, &taken).is_err());
        b.command_restore_moved(taken);
        assert_eq!(assigned(&b), 1);
        assert!(b.table().get(u32::from(addr)).is_some());
    }

    /// The two halves of a move on shards with real lease logs, and what recovery finds if
    /// the process dies between them (the files hold what was written: the default durability
    /// puts each record in the page cache before `record` returns) or after them.
    #[test]
    fn update_moving_to_another_shard_survives_a_crash_between_the_two_halves() {
        use corelease_storage::{recover, Family, LeaseLog, LogOptions};
        let dir = tempfile::tempdir().expect("temp dir");
        let p = prepared();
        let log = |i| LeaseLog::open(dir.path(), Family::V4, i, LogOptions::default());
        let mut a = V4Shard::new(Arc::clone(&p), 0, 2, log(0).expect("log 0"));
        let mut b = V4Shard::new(Arc::clone(&p), 1, 2, log(1).expect("log 1"));
        let addr = Ipv4Addr::new(192, 0, 2, 16);
        let before = lease(addr.octets(), NOW);
        a.command_add_lease(before.clone()).expect("added");
        let recovered = || recover(dir.path(), Family::V4).expect("recover").leases;

        let taken = a.command_take_for_move(addr).expect("a held it");
        // Killed here: the lease comes back as it was before the move.
        let got = recovered();
        assert_eq!(got.len(), 1, "the lease survives: {got:?}");
        assert_eq!(got[0].hwaddr, before.hwaddr);

        let mut moved = lease(addr.octets(), NOW);
        moved.hwaddr = Some(HwAddr::new(1, &[9, 9, 9, 9, 9, 9]));
        b.command_put_moved_lease(moved.clone(), &taken)
            .expect("moved");
        // Killed here (or stopped): the moved lease, once.
        let got = recovered();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].hwaddr, moved.hwaddr);
    }

    /// The reload protocol of `ReloadBuild` run on one thread: `begin` on every shard, the
    /// copy one lease at a time with `meanwhile` run between chunks (the shards keep
    /// serving), a catch-up round, `meanwhile` again, then the switch. Returns each shard's
    /// conflicts and how many leases were deferred after the copy.
    fn reload_in_steps(
        shards: &mut [V4Shard<MemorySink>],
        p2: &Arc<Prepared4>,
        mut meanwhile: impl FnMut(&mut [V4Shard<MemorySink>], usize),
    ) -> (Vec<usize>, usize) {
        let n = shards.len();
        let mut builds: Vec<ReloadBuild<MemorySink>> = (0..n)
            .map(|i| V4Shard::reload_empty(Arc::clone(p2), i, n, MemorySink::default()))
            .collect();
        let mut step = 0;
        for i in 0..n {
            let addrs = shards[i].reload_begin();
            for chunk in addrs.chunks(1) {
                let copied = shards[i].reload_copy(chunk);
                builds[i].load(copied, NOW);
                meanwhile(shards, step);
                step += 1;
            }
        }
        let deferred = builds.iter().map(ReloadBuild::deferred).sum();
        let changes: Vec<Vec<(u32, Option<Lease>)>> =
            shards.iter_mut().map(|s| s.reload_changes()).collect();
        for (b, c) in builds.iter_mut().zip(&changes) {
            let addrs: Vec<u32> = c.iter().map(|(a, _)| *a).collect();
            b.forget(&addrs);
        }
        for (b, c) in builds.iter_mut().zip(changes) {
            b.load(c.into_iter().filter_map(|(_, l)| l), NOW);
            b.retry_deferred(NOW);
        }
        meanwhile(shards, step);
        // The switch: every shard paused.
        let dirty: Vec<Vec<u32>> = shards.iter_mut().map(|s| s.reload_take_dirty()).collect();
        for (b, d) in builds.iter_mut().zip(&dirty) {
            b.forget(d);
        }
        for ((b, d), s) in builds.iter_mut().zip(&dirty).zip(shards.iter()) {
            b.load(d.iter().filter_map(|&a| s.reload_current(a)), NOW);
            b.retry_deferred(NOW);
        }
        let mut conflicts = Vec::new();
        for (b, s) in builds.into_iter().zip(shards.iter_mut()) {
            let (next, c) = s.reload_finish(b, MemorySink::default());
            *s = next;
            conflicts.push(c);
        }
        (conflicts, deferred)
    }

    fn grown_config() -> Arc<Prepared4> {
        // The pool grows and a subnet is added: same subnet id, new Prepared4, empty bitmaps.
        let loaded = corelease_config::parse_dhcp4_str(
            r#"{ "Dhcp4": { "valid-lifetime": 600, "subnet4": [
                { "id": 1, "subnet": "192.0.2.0/24", "pools": [ { "pool": "192.0.2.10 - 192.0.2.99" } ] },
                { "id": 2, "subnet": "198.51.100.0/24", "pools": [ { "pool": "198.51.100.10 - 198.51.100.20" } ] } ] } }"#,
            Path::new("."),
        )
        .expect("new config");
        Arc::new(Prepared4::new(&loaded.config, Vec::new(), Ports::default()))
    }

    #[test]
    fn reload_keeps_every_lease_and_counter_under_a_new_config() {
        let p = prepared();
        let mut shards = vec![V4Shard::new(Arc::clone(&p), 0, 1, MemorySink::default())];
        shards[0]
            .command_add_lease(lease([192, 0, 2, 10], NOW))
            .expect("added");
        shards[0]
            .command_add_lease(lease([192, 0, 2, 11], NOW))
            .expect("added");
        shards[0].stats().global.pkt4_ack_sent.add(7);
        let p2 = grown_config();
        let (conflicts, _) = reload_in_steps(&mut shards, &p2, |_, _| {});
        assert_eq!(conflicts, vec![0]);
        let b = &mut shards[0];
        assert!(Arc::ptr_eq(b.prepared(), &p2));
        assert_eq!(b.table().len(), 2);
        assert_eq!(assigned(b), 2);
        assert_eq!(b.stats().global.pkt4_ack_sent.get(), 7);
        assert!(!b.table.journal_running(), "journal off after the switch");
        let bit = |o: u64| p2.pools.first().map(|pl| pl.bitmap.is_claimed(o));
        assert_eq!(
            (bit(0), bit(1), bit(2)),
            (Some(true), Some(true), Some(false))
        );
        assert_eq!(
            b.command_add_lease(lease([192, 0, 2, 10], NOW)),
            Err(LeaseCommandError::Exists(Ipv4Addr::new(192, 0, 2, 10)))
        );
        b.command_add_lease(lease([198, 51, 100, 10], NOW))
            .expect("the new subnet serves");
    }

    #[test]
    fn reload_loses_no_change_made_while_it_was_prepared() {
        let p = prepared();
        let mut shards: Vec<V4Shard<MemorySink>> = (0..2)
            .map(|i| V4Shard::new(Arc::clone(&p), i, 2, MemorySink::default()))
            .collect();
        let x = Ipv4Addr::new(192, 0, 2, 12);
        for o in [10, 11, 12] {
            shards[0]
                .command_add_lease(lease([192, 0, 2, o], NOW))
                .expect("added");
        }
        shards[1]
            .command_add_lease(lease([192, 0, 2, 17], NOW))
            .expect("added");
        let p2 = grown_config();
        let (conflicts, deferred) = reload_in_steps(&mut shards, &p2, |s, step| match step {
            // After shard 0's copies: its client of x leaves, shard 1's client takes x
            // (before shard 1's copy starts, so x is in shard 1's copy while shard 0's build
            // still holds its stale x), 10 gets a hostname, a new lease 13 appears.
            2 => {
                assert_eq!(s[0].command_delete_lease(x), Ok(true));
                s[1].command_add_lease(lease(x.octets(), NOW))
                    .expect("free now");
                let mut renamed = lease([192, 0, 2, 10], NOW);
                renamed.hostname = Some("renamed".into());
                assert_eq!(
                    s[0].command_update_lease(renamed, false),
                    Ok(LeaseUpdated::Updated)
                );
                s[0].command_add_lease(lease([192, 0, 2, 13], NOW))
                    .expect("new");
            }
            // After the catch-up: shard 1 lets 17 go, shard 0 adds 14.
            5 => {
                assert_eq!(
                    s[1].command_delete_lease(Ipv4Addr::new(192, 0, 2, 17)),
                    Ok(true)
                );
                s[0].command_add_lease(lease([192, 0, 2, 14], NOW))
                    .expect("new");
            }
            _ => {}
        });
        assert_eq!(
            deferred, 1,
            "x waited for shard 0's stale copy to be forgotten"
        );
        assert_eq!(
            conflicts,
            vec![0, 0],
            "stale copies never count as conflicts"
        );
        let addrs = |s: &V4Shard<MemorySink>| {
            let mut v: Vec<u32> = s
                .table()
                .iter()
                .map(|e| crate::leases::addr_u32(&e.lease) & 0xff)
                .collect();
            v.sort_unstable();
            v
        };
        assert_eq!(addrs(&shards[0]), vec![10, 11, 13, 14]);
        assert_eq!(addrs(&shards[1]), vec![12]);
        let renamed = shards[0]
            .table()
            .get(u32::from(Ipv4Addr::new(192, 0, 2, 10)));
        assert_eq!(
            renamed.and_then(|e| e.lease.hostname.as_deref()),
            Some("renamed")
        );
        assert!(shards[1]
            .table()
            .get(u32::from(x))
            .is_some_and(|e| e.holds_bit));
        assert_eq!(assigned(&shards[0]), 4);
        assert_eq!(assigned(&shards[1]), 1);
        let claimed: Vec<u64> = (0..10)
            .filter(|&o| p2.pools.first().is_some_and(|pl| pl.bitmap.is_claimed(o)))
            .collect();
        assert_eq!(
            claimed,
            vec![0, 1, 2, 3, 4],
            "exactly the held addresses, 17 free again"
        );
    }
}
