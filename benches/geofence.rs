//! Criterion benches of the fence index on the issue-5 data set (10,000 polygons, 500
//! corridors over the Liuzhou box): classifying random points one by one and in batches, the
//! R-tree reference path, and building the index. The README's figures come from
//! `scripts/bench-geofence` (which also runs PostGIS); these track regressions.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use haulwatch::engine::index::{FenceIndex, Hits, IndexConfig};
use haulwatch::engine::synthetic::{self, FenceSpec};

fn classify(c: &mut Criterion) {
    let spec = FenceSpec::benchmark();
    let reg = synthetic::registry(&spec);
    let (index, _) = FenceIndex::build(&reg, &IndexConfig::default());
    let points = synthetic::points(spec.seed + 1, 1_000_000, spec.bbox);
    let mut g = c.benchmark_group("geofence");
    g.sample_size(10);
    g.throughput(Throughput::Elements(points.len() as u64));
    g.bench_function("classify_1m_points", |b| {
        let mut hits = Hits::default();
        b.iter(|| {
            let mut n = 0usize;
            for &(x, y) in &points {
                index.classify(x, y, &mut hits);
                n += hits.polygons.len() + hits.corridors.len();
            }
            n
        })
    });
    g.bench_function("classify_many_1m_points", |b| {
        b.iter(|| {
            let mut n = 0usize;
            index.classify_many(&points, |_, h| n += h.polygons.len() + h.corridors.len());
            n
        })
    });
    let sample = &points[..100_000];
    g.throughput(Throughput::Elements(sample.len() as u64));
    g.bench_function("classify_rtree_100k_points", |b| {
        let mut hits = Hits::default();
        b.iter(|| {
            let mut n = 0usize;
            for &(x, y) in sample {
                index.classify_rtree(x, y, &mut hits);
                n += hits.polygons.len() + hits.corridors.len();
            }
            n
        })
    });
    g.finish();
    let mut g = c.benchmark_group("geofence_build");
    g.sample_size(10);
    g.bench_function("build_10k_polygons_500_corridors", |b| {
        b.iter_batched(
            || reg.clone(),
            |r| FenceIndex::build(&r, &IndexConfig::default()).0.len(),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, classify);
criterion_main!(benches);
