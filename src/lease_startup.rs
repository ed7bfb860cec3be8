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
    /// Logs of shards beyond the current count (thread-pool-size shrank): their leases were
    /// handed to the current shards; they go once every current shard rewrote its own log.
    stale_logs: Vec<PathBuf>,
    /// Current shards whose log was rewritten with their leases.
    rewritten: AtomicUsize,
    /// Logs that failed to open, one message each: the server does not start.
    open_errors: Mutex<Vec<String>>,
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
            for l in rec.leases {
                if let Some(v) = per_shard.get_mut(owner(&l)) {
                    v.push(l);
                }
            }
            stale_logs = corelease_storage::list_logs(&dir, family)
                .map_err(|e| format!("listing lease logs in {}: {e}", dir.display()))?
                .into_iter()
                .filter(|(i, _)| *i >= shards)
                .map(|(_, p)| p)
                .collect();
        }
        Ok(LeaseStartup {
            family,
            persist: db.persist,
            dir,
            durability: db.durability,
            per_shard: Mutex::new(per_shard.into_iter().map(Some).collect()),
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
    /// of removed shards can go.
    pub(crate) fn rewrite_log(&self, shard: usize, store: &mut ShardStore, live: Vec<Lease>) {
        if let ShardStore::Log(log) = store {
            match log.compact(live.into_iter()) {
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
