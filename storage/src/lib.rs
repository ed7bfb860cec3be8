//! Lease log: mmap'd append-only per-shard store, recovery, compaction, Kea CSV import/export
