//! The lease log at start-up, the same for `corelease dhcp4` and `corelease dhcp6`: import a
//! Kea lease file once, recover every shard's log, give each shard the leases of the clients
//! it owns (the caller's owner function: the kernel steering's hash), open each shard's log in
//! its own thread, and — when the shard count shrank — rewrite the current shards' logs and
//! delete the logs of the removed shards.
//!
//! It only runs at start: nothing here is on the packet path.

use crate::server4::{import_kea_file_once, log_options, ShardStore};
use corelease_config::{Durability, LeaseDatabase};
use corelease_storage::{Family, LeaseLog, NullSink};
use corelease_types::Lease;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The recovered leases and the state of the logs between `recover` (main thread, before the
/// shards start) and `finish` (main thread, after every shard built its handler).
pub(crate) struct LeaseStartup {
    family: Family,
    /// `lease-database.persist`: false keeps leases in memory only (no log is read or opened).
    persist: bool,
    dir: PathBuf,
    durability: Durability,
    /// Each shard's recovered leases, taken once by its handler factory.
    per_shard: Mutex<Vec<Option<Vec<Lease>>>>,
    /// When the logs are rewritten (the shard count shrank): each shard's recovered leases'
    /// winning sequence numbers, taken once by its rewrite.
    won_at: Mutex<Vec<Option<WinningSeqs>>>,
    /// Logs of shards beyond the current count (thread-pool-size shrank): their leases were
    /// handed to the current shards; they go once every current shard rewrote its own log.
    stale_logs: Vec<PathBuf>,
    /// Current shards whose log was rewritten with their leases.
    rewritten: AtomicUsize,
    /// Logs that failed to open, one message each: the server does not start.
    open_errors: Mutex<Vec<String>>,
}

/// The sequence number of each recovered lease's winning record, by (kind, address, prefix
/// length): what a rewritten log must write the lease above.
type WinningSeqs = HashMap<(u8, IpAddr, u8), u64>;

fn seq_key(l: &Lease) -> (u8, IpAddr, u8) {
    (l.kind as u8, l.addr, l.prefix_len)
}

impl LeaseStartup {
    /// Recovers the lease log in `dir` (importing `db.name` first when it is a Kea CSV and
    /// there is no log yet) and distributes the leases with `owner`, which must name the
    /// shard that will see the lease's client. With `persist` off, there is nothing to read.
    pub(crate) fn recover(
        db: &LeaseDatabase,
        dir: PathBuf,
        family: Family,
        shards: usize,
        owner: impl Fn(&Lease) -> usize,
    ) -> Result<LeaseStartup, String> {
        let mut per_shard: Vec<Vec<Lease>> = (0..shards).map(|_| Vec::new()).collect();
        let mut won_at: Vec<Option<WinningSeqs>> = (0..shards).map(|_| None).collect();
        let mut stale_logs = Vec::new();
        if db.persist {
            let fresh = !dir.exists();
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("creating lease directory {}: {e}", dir.display()))?;
            import_kea_file_once(db, family, &dir, fresh)?;
            let rec = corelease_storage::recover(&dir, family)
                .map_err(|e| format!("recovering leases in {}: {e}", dir.display()))?;
            for r in &rec.reports {
                tracing::warn!(target: "DHCPSRV_MEMFILE_LEASE_LOAD_ROW_ERROR", "{r}");
            }
            tracing::info!(target: "DHCPSRV_MEMFILE_LEASES_RELOAD", leases = rec.leases.len(), dir = %dir.display(), "leases recovered");
            stale_logs = corelease_storage::list_logs(&dir, family)
                .map_err(|e| format!("listing lease logs in {}: {e}", dir.display()))?
                .into_iter()
                .filter(|(i, _)| *i >= shards)
                .map(|(_, p)| p)
                .collect::<Vec<_>>();
            if !stale_logs.is_empty() {
                won_at = (0..shards).map(|_| Some(WinningSeqs::new())).collect();
            }
            for (l, seq) in rec.leases.into_iter().zip(rec.seqs) {
                let shard = owner(&l);
                if let Some(Some(m)) = won_at.get_mut(shard) {
                    m.insert(seq_key(&l), seq);
                }
                if let Some(v) = per_shard.get_mut(shard) {
                    v.push(l);
                }
            }
        }
        Ok(LeaseStartup {
            family,
            persist: db.persist,
            dir,
            durability: db.durability,
            per_shard: Mutex::new(per_shard.into_iter().map(Some).collect()),
            won_at: Mutex::new(won_at),
            stale_logs,
            rewritten: AtomicUsize::new(0),
            open_errors: Mutex::new(Vec::new()),
        })
    }

    /// Opens shard `shard`'s log (in the shard's thread). A log that does not open is
    /// recorded for [`LeaseStartup::finish`], which refuses to start; meanwhile the shard gets
    /// a store that keeps nothing.
    pub(crate) fn open_store(&self, shard: usize) -> ShardStore {
        if !self.persist {
            return ShardStore::Memory(NullSink);
        }
        match LeaseLog::open(&self.dir, self.family, shard, log_options(&self.durability)) {
            Ok(l) => ShardStore::Log(l),
            Err(e) => {
                if let Ok(mut errs) = self.open_errors.lock() {
                    errs.push(format!(
                        "shard {shard}: opening lease log in {}: {e}",
                        self.dir.display()
                    ));
                }
                ShardStore::Memory(NullSink)
            }
        }
    }

    /// The recovered leases of shard `shard` (empty the second time).
    pub(crate) fn take_leases(&self, shard: usize) -> Vec<Lease> {
        self.per_shard
            .lock()
            .ok()
            .and_then(|mut v| v.get_mut(shard).and_then(Option::take))
            .unwrap_or_default()
    }

    /// True when the shard count shrank: each shard must hand its live leases (those it
    /// loaded, offers excepted) to [`LeaseStartup::rewrite_log`].
    pub(crate) fn rewrites_logs(&self) -> bool {
        !self.stale_logs.is_empty()
    }

    /// Rewrites shard `shard`'s log with `live`, its leases after the load, so that the logs
    /// of removed shards can go. Each recovered lease is written above its winning record
    /// (`LeaseLog::compact_recovered`): the log it won in may be deleted next, and another
    /// remaining log may hold an older removal of the same address.
    pub(crate) fn rewrite_log(&self, shard: usize, store: &mut ShardStore, live: Vec<Lease>) {
        let won_at = self
            .won_at
            .lock()
            .ok()
            .and_then(|mut v| v.get_mut(shard).and_then(Option::take))
            .unwrap_or_default();
        if let ShardStore::Log(log) = store {
            let live = live.into_iter().map(|l| {
                let seq = won_at.get(&seq_key(&l)).copied();
                (l, seq)
            });
            match log.compact_recovered(live) {
                Ok(_) => {
                    self.rewritten.fetch_add(1, Ordering::AcqRel);
                }
                Err(e) => {
                    tracing::error!(target: "DHCPSRV_MEMFILE_LFC_EXECUTE", shard, "rewriting the log after a shard-count change failed: {e}")
                }
            }
        }
    }

    /// After every shard built its handler: an error naming each log that did not open, else
    /// the logs of removed shards are deleted when all `shards` rewrote theirs (kept, and
    /// still read at the next start, otherwise).
    pub(crate) fn finish(&self, shards: usize) -> Result<(), String> {
        let failed = self
            .open_errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        if !failed.is_empty() {
            return Err(failed.join("; "));
        }
        if !self.rewrites_logs() {
            return Ok(());
        }
        if self.rewritten.load(Ordering::Acquire) != shards {
            tracing::warn!(target: "DHCPSRV_MEMFILE_LFC_EXECUTE", "not every shard rewrote its log; logs of removed shards are kept (they are still read at start)");
            return Ok(());
        }
        for p in &self.stale_logs {
            match std::fs::remove_file(p) {
                Ok(()) => {
                    tracing::info!(target: "DHCPSRV_MEMFILE_LFC_EXECUTE", file = %p.display(), "log of a removed shard deleted; its leases moved to the current shards")
                }
                Err(e) => {
                    tracing::warn!(target: "DHCPSRV_MEMFILE_LFC_EXECUTE", file = %p.display(), "cannot delete the log of a removed shard: {e}")
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corelease_storage::{LeaseSink, LogOptions};
    use corelease_types::{ClientId, LeaseKind, LeaseState, PoolId, SubnetId};

    fn lease6(addr: &str, client: u8) -> Lease {
        Lease {
            kind: LeaseKind::V6Na,
            addr: addr
                .parse()
                .unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)),
            prefix_len: 128,
            iaid: 1,
            hwaddr: None,
            client_id: Some(ClientId::new(&[0, 3, 0, 1, 2, 0, 0, 0, 0, client])),
            valid_lifetime: 4000,
            preferred_lifetime: 3000,
            cltt: 1_795_538_324,
            subnet_id: SubnetId(1),
            pool_id: PoolId(0),
            state: LeaseState::Default,
            hostname: None,
            fqdn_fwd: false,
            fqdn_rev: false,
            user_context: None,
        }
    }

    fn client_of(l: &Lease) -> u8 {
        l.client_id
            .as_ref()
            .and_then(|c| c.as_bytes().last().copied())
            .unwrap_or(0)
    }

    /// One start of the server on `shards` shards, as server4.rs / server6.rs drive it: each
    /// shard opens its log, takes its leases and, when the count shrank, rewrites its log.
    fn start(dir: &std::path::Path, shards: usize, owner: impl Fn(&Lease) -> usize) {
        let db = LeaseDatabase::default();
        let st = LeaseStartup::recover(&db, dir.to_path_buf(), Family::V6, shards, owner)
            .unwrap_or_else(|e| panic!("{e}"));
        for shard in 0..shards {
            let mut store = st.open_store(shard);
            let leases = st.take_leases(shard);
            if st.rewrites_logs() {
                st.rewrite_log(shard, &mut store, leases);
            }
        }
        st.finish(shards).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn shrinking_keeps_a_lease_whose_address_a_remaining_shard_released_before() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let open = |shard| {
            LeaseLog::open(dir.path(), Family::V6, shard, LogOptions::default())
                .unwrap_or_else(|e| panic!("{e}"))
        };
        // Three shards. Shard 0 logs an unrelated lease first (its newest record is the
        // oldest of all); shard 1's client 0x11 takes 2001:db8::a and releases it; then shard
        // 2's client 0x22 takes it: that lease is the live one.
        let (mut log0, mut log1, mut log2) = (open(0), open(1), open(2));
        log0.record(&lease6("2001:db8::b", 0x33))
            .unwrap_or_else(|e| panic!("{e}"));
        log1.record(&lease6("2001:db8::a", 0x11))
            .unwrap_or_else(|e| panic!("{e}"));
        let a: std::net::IpAddr = "2001:db8::a"
            .parse()
            .unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
        log1.remove(LeaseKind::V6Na, a, 128)
            .unwrap_or_else(|e| panic!("{e}"));
        log2.record(&lease6("2001:db8::a", 0x22))
            .unwrap_or_else(|e| panic!("{e}"));
        // Client 0x44's lease is in shard 1's log, newer than all of shard 0's.
        log1.record(&lease6("2001:db8::c", 0x44))
            .unwrap_or_else(|e| panic!("{e}"));
        drop((log0, log1, log2));

        // Restart on two shards: clients 0x22 and 0x44 now belong to shard 0, client 0x11 to
        // shard 1 (whose rewrite turns its records of both addresses into removals).
        let owner = |l: &Lease| usize::from(client_of(l) == 0x11);
        start(dir.path(), 2, owner);
        let logs = corelease_storage::list_logs(dir.path(), Family::V6).unwrap_or_default();
        assert_eq!(logs.len(), 2, "the removed shard's log is gone: {logs:?}");

        // And again: the live leases must still be there (shard 1's release of ::a is older
        // than client 0x22's lease; its removal of ::c is no newer than client 0x44's lease).
        start(dir.path(), 2, owner);
        let rec =
            corelease_storage::recover(dir.path(), Family::V6).unwrap_or_else(|e| panic!("{e}"));
        let mut got: Vec<(String, u8)> = rec
            .leases
            .iter()
            .map(|l| (l.addr.to_string(), client_of(l)))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("2001:db8::a".to_string(), 0x22),
                ("2001:db8::b".to_string(), 0x33),
                ("2001:db8::c".to_string(), 0x44)
            ]
        );
    }
}
