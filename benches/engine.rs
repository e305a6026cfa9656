//! Criterion bench of the whole engine (ordering, membership, every rule, events) on one
//! shard over a simulated fleet on the issue-5 fences.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use haulwatch::engine::synthetic::{self, FenceSpec, FleetSpec};
use haulwatch::engine::{Engine, EngineConfig};

fn fleet(c: &mut Criterion) {
    let base = synthetic::registry(&FenceSpec::benchmark());
    let (reg, positions) = synthetic::fleet(&base, &FleetSpec::new(7, 1000, 200));
    let engine = Engine::new(&reg, EngineConfig::default());
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    g.throughput(Throughput::Elements(positions.len() as u64));
    g.bench_function("fleet_1000_trucks_200_fixes", |b| {
        let mut out = Vec::new();
        b.iter_batched(
            || positions.clone(),
            |owned| {
                let mut shard = engine.shard();
                let mut events = 0usize;
                for p in owned {
                    let now = p.received_at;
                    shard.process_owned(p, now, &mut out);
                    events += out.len();
                    out.clear();
                }
                events
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, fleet);
criterion_main!(benches);
