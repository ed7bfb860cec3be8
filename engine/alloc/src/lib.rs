//! Pools, per-pool atomic address bitmaps and per-shard free-lease queues
