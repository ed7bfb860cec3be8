//! Address allocation alone: the per-shard free-lease queue and the shared atomic bitmap, with
//! no packet and no lease table. Scenarios: a candidate from the shard's queue claimed in the
//! bitmap (the common case); a pool of 65,536 with only 16 free addresses left, found by a
//! bitmap scan (what a shard does when its queue is dry: a pool near exhaustion); a full pool,
//! a full /16 and a full /8, where nothing is found (the cost of a failed allocation). Each claim is given back so
//! the pool stays in the same state.
//! Run: `cargo bench -p corelease-alloc --bench alloc`.

use corelease_alloc::{AddressBitmap, FreeLeaseQueue};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const POOL: u64 = 65_536;

fn bench_alloc(c: &mut Criterion) {
    let mut g = c.benchmark_group("alloc");
    g.throughput(Throughput::Elements(1));

    // Half the pool held; 2 shards, this one's queue recycles what it gives back.
    let bitmap = AddressBitmap::new(POOL);
    let mut queue = FreeLeaseQueue::new(POOL, 0, 2);
    for off in (1..POOL).step_by(2) {
        bitmap.try_claim(off);
    }
    g.bench_function("queue-claim-release", |b| {
        b.iter(|| {
            let Some(off) = queue.pop() else {
                panic!("queue ran dry");
            };
            assert!(bitmap.try_claim(off), "queue proposed a held offset");
            bitmap.release(off);
            queue.push(off);
        })
    });

    // Near exhaustion: 16 free offsets spread over the pool; the scan starts at a rotating
    // point, as the shards' steal cursors do.
    let nearly_full = AddressBitmap::new(POOL);
    for off in 0..POOL {
        nearly_full.try_claim(off);
    }
    for i in 0..16 {
        nearly_full.release(i * (POOL / 16) + 7);
    }
    let mut start = 0u64;
    g.bench_function("scan-claim-16-free-of-65536", |b| {
        b.iter(|| {
            start = start.wrapping_add(4099) % POOL;
            let Some(off) = nearly_full.claim_any(start) else {
                panic!("no free offset found");
            };
            nearly_full.release(off);
        })
    });

    // Exhausted pools, a /16 and a /8: what every DISCOVER costs a shard once its pool is
    // full (a random-MAC flood keeps it there).
    for (name, len) in [
        ("scan-exhausted-65536", POOL),
        ("scan-exhausted-16777216", 1u64 << 24),
    ] {
        let full = AddressBitmap::new(len);
        for off in 0..len {
            full.try_claim(off);
        }
        g.bench_function(name, |b| {
            b.iter(|| criterion::black_box(full.claim_any(criterion::black_box(12_345))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_alloc);
criterion_main!(benches);
