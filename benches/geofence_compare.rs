//! The numbers in the README, measured in one run (by `scripts/bench-geofence`):
//! point classification (ours, single and batched) against an R-tree + `geo` loop and against
//! a PostGIS spatial join on the same data; index build time and memory; and the whole engine
//! on a simulated fleet.
//!
//! Rates are per CPU-second of the measuring thread (from the scheduler's accounting), which
//! is what "per core" means on a machine shared with other work; wall-clock times are printed
//! alongside. PostGIS runs with parallel workers off, so it too uses one core.
//!
//! Usage: `cargo bench --bench geofence_compare -- [--points N] [--pg-points M]
//! [--database-url URL] [--no-postgis] [--cell-m M] [--fleet-vehicles N] [--fleet-fixes N]`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use geo::Contains;
use geo_types::{MultiPolygon, Point};
use haulwatch::engine::index::{FenceIndex, Hits, IndexConfig};
use haulwatch::engine::metric::LocalMetric;
use haulwatch::engine::synthetic::{self, FenceSpec};
use haulwatch::model::Registry;
use rstar::{RTree, primitives::GeomWithData, primitives::Rectangle};

struct Args {
    points: usize,
    pg_points: usize,
    database_url: String,
    postgis: bool,
    cell_m: f64,
    fleet_vehicles: usize,
    fleet_fixes: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        points: 1_000_000,
        pg_points: 50_000,
        database_url: std::env::var("HAULWATCH_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/haulwatch_test".into()),
        postgis: true,
        cell_m: IndexConfig::default().grid_cell_m,
        fleet_vehicles: 2000,
        fleet_fixes: 500,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--points" => args.points = it.next().context("--points N")?.parse()?,
            "--pg-points" => args.pg_points = it.next().context("--pg-points N")?.parse()?,
            "--database-url" => args.database_url = it.next().context("--database-url URL")?,
            "--no-postgis" => args.postgis = false,
            "--cell-m" => args.cell_m = it.next().context("--cell-m M")?.parse()?,
            "--fleet-vehicles" => {
                args.fleet_vehicles = it.next().context("--fleet-vehicles N")?.parse()?
            }
            "--fleet-fixes" => args.fleet_fixes = it.next().context("--fleet-fixes N")?.parse()?,
            // cargo bench passes --bench; ignore anything else it adds.
            _ => {}
        }
    }
    Ok(args)
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<usize>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// CPU time this thread has run, from the scheduler's accounting (nanoseconds). On a shared
/// machine this, not the wall clock, is what "per core" means.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// Best of `runs` timings of `f` over `n` points, as points per CPU-second of this thread.
/// Also prints the wall-clock rate of the best run.
fn rate<T: Default>(n: usize, runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = Duration::MAX;
    let mut best_wall = Duration::MAX;
    let mut out = T::default();
    for _ in 0..runs {
        let wall = Instant::now();
        let cpu = thread_cpu();
        out = f();
        let used = thread_cpu().saturating_sub(cpu);
        let used = if used.is_zero() { wall.elapsed() } else { used };
        if used < best {
            best = used;
            best_wall = wall.elapsed();
        }
    }
    eprintln!(
        "  (best run: {:.3} s CPU, {:.3} s wall)",
        best.as_secs_f64(),
        best_wall.as_secs_f64()
    );
    (n as f64 / best.as_secs_f64(), out)
}

/// A route segment's widened box, with its route, end points and corridor width.
type SegmentBox = GeomWithData<Rectangle<[f64; 2]>, (usize, [f64; 4], f64)>;

/// The "straightforward" loop: an R-tree of polygon boxes and of widened segment boxes, then
/// `geo::Contains` and a metric segment distance on every candidate.
struct Baseline {
    polys: Vec<MultiPolygon<f64>>,
    poly_tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    seg_tree: RTree<SegmentBox>,
}

impl Baseline {
    fn new(reg: &Registry) -> Baseline {
        use geo::BoundingRect;
        let polys: Vec<MultiPolygon<f64>> = reg
            .sites
            .iter()
            .map(|s| s.geometry.clone())
            .chain(reg.disposal_grounds.iter().map(|d| d.geometry.clone()))
            .chain(reg.zones.iter().map(|z| z.geometry.clone()))
            .collect();
        let poly_tree = RTree::bulk_load(
            polys
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    let r = p.bounding_rect()?;
                    Some(GeomWithData::new(
                        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                        i,
                    ))
                })
                .collect(),
        );
        let mut segs = Vec::new();
        for (ri, r) in reg.routes.iter().enumerate() {
            for line in &r.geometry {
                for w in line.0.windows(2) {
                    let m = LocalMetric::at_lat(w[0].y);
                    let (dx, dy) = (r.corridor_m / m.kx * 1.01, r.corridor_m / m.ky * 1.01);
                    segs.push(GeomWithData::new(
                        Rectangle::from_corners(
                            [w[0].x.min(w[1].x) - dx, w[0].y.min(w[1].y) - dy],
                            [w[0].x.max(w[1].x) + dx, w[0].y.max(w[1].y) + dy],
                        ),
                        (ri, [w[0].x, w[0].y, w[1].x, w[1].y], r.corridor_m),
                    ));
                }
            }
        }
        Baseline {
            polys,
            poly_tree,
            seg_tree: RTree::bulk_load(segs),
        }
    }

    fn classify(&self, lon: f64, lat: f64, polys: &mut Vec<usize>, corridors: &mut Vec<usize>) {
        polys.clear();
        corridors.clear();
        let p = Point::new(lon, lat);
        for c in self.poly_tree.locate_all_at_point(&[lon, lat]) {
            if self.polys[c.data].contains(&p) {
                polys.push(c.data);
            }
        }
        let m = LocalMetric::at_lat(lat);
        for c in self.seg_tree.locate_all_at_point(&[lon, lat]) {
            let (ri, s, w) = c.data;
            if !corridors.contains(&ri)
                && m.segment_distance2_m2((lon, lat), (s[0], s[1]), (s[2], s[3])) <= w * w
            {
                corridors.push(ri);
            }
        }
    }
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let spec = FenceSpec::benchmark();
    println!(
        "Data set: {} polygons ({}-{} vertices, radius {}-{} m), {} routes ({}-{} segments of {}-{} m, {} m corridor), seed {}",
        spec.polygons,
        spec.vertices.0,
        spec.vertices.1,
        spec.radius_m.0,
        spec.radius_m.1,
        spec.routes,
        spec.segments.0,
        spec.segments.1,
        spec.segment_m.0,
        spec.segment_m.1,
        spec.corridor_m,
        spec.seed
    );
    let reg = synthetic::registry(&spec);
    let points = synthetic::points(spec.seed + 1, args.points, spec.bbox);

    let rss_before = rss_bytes();
    let t = Instant::now();
    let (index, report) = FenceIndex::build(
        &reg,
        &IndexConfig {
            grid_cell_m: args.cell_m,
            ..IndexConfig::default()
        },
    );
    let build = t.elapsed();
    let rss_after = rss_bytes();
    println!(
        "Index build: {:.2} s; grid {} cells of {:.1} x {:.1} m; heap {:.1} MB (counted), RSS growth {:.1} MB",
        build.as_secs_f64(),
        report.grid_cells,
        report.grid_cell_m.0,
        report.grid_cell_m.1,
        report.heap_bytes as f64 / 1e6,
        rss_after.saturating_sub(rss_before) as f64 / 1e6
    );
    println!("Grid records: {:?}", report.grid);

    let mut hits = Hits::default();
    let (ours, (poly_pairs, corr_pairs)) = rate(points.len(), 3, || {
        let (mut np, mut nc) = (0usize, 0usize);
        for &(x, y) in &points {
            index.classify(x, y, &mut hits);
            np += hits.polygons.len();
            nc += hits.corridors.len();
        }
        (np, nc)
    });
    println!(
        "haulwatch grid:      {:>12.0} points/s (one core; {} points, {} polygon hits, {} corridor hits)",
        ours,
        points.len(),
        poly_pairs,
        corr_pairs
    );

    let (batch, (bp_pairs, bc_pairs)) = rate(points.len(), 3, || {
        let (mut np, mut nc) = (0usize, 0usize);
        index.classify_many(&points, |_, h| {
            np += h.polygons.len();
            nc += h.corridors.len();
        });
        (np, nc)
    });
    assert_eq!((bp_pairs, bc_pairs), (poly_pairs, corr_pairs));
    println!("haulwatch grid batch: {batch:>11.0} points/s (classify_many)");
    let sample = &points[..points.len().min(200_000)];
    let (rtree_rate, _) = rate(sample.len(), 1, || {
        let mut n = 0;
        for &(x, y) in sample {
            index.classify_rtree(x, y, &mut hits);
            n += hits.polygons.len() + hits.corridors.len();
        }
        n
    });
    println!("haulwatch R-tree:    {rtree_rate:>12.0} points/s (reference path)");

    let baseline = Baseline::new(&reg);
    let (mut bp, mut bc) = (Vec::new(), Vec::new());
    let (base_rate, _) = rate(sample.len(), 1, || {
        let mut n = 0;
        for &(x, y) in sample {
            baseline.classify(x, y, &mut bp, &mut bc);
            n += bp.len() + bc.len();
        }
        n
    });
    println!("geo + rstar loop:    {base_rate:>12.0} points/s (baseline)");
    println!("grid / baseline:     {:>12.1}x", ours / base_rate);

    if args.fleet_vehicles > 0 && args.fleet_fixes > 0 {
        fleet(&reg, &args)?;
    }

    if args.postgis {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let pg_points = &points[..points.len().min(args.pg_points)];
        let pg = rt.block_on(postgis::run(&args.database_url, &reg, pg_points))?;
        // Our counts on exactly the PostGIS sample.
        let (mut np, mut nc) = (0usize, 0usize);
        for &(x, y) in pg_points {
            index.classify(x, y, &mut hits);
            np += hits.polygons.len();
            nc += hits.corridors.len();
        }
        println!(
            "PostGIS ST_Contains: {:>12.0} points/s (backend CPU; {:.0} wall; {} points, {} pairs; ours {} pairs)",
            pg.polygon_rate, pg.polygon_wall_rate, pg.points, pg.polygon_pairs, np
        );
        println!(
            "PostGIS ST_DWithin:  {:>12.0} points/s (backend CPU; {:.0} wall; {} points, {} pairs; ours {} pairs)",
            pg.corridor_rate, pg.corridor_wall_rate, pg.points, pg.corridor_pairs, nc
        );
        let pg_both = 1.0 / (1.0 / pg.polygon_rate + 1.0 / pg.corridor_rate);
        println!("PostGIS both:        {pg_both:>12.0} points/s");
        println!(
            "grid / PostGIS:      {:>12.0}x (per core, same run)",
            ours / pg_both
        );
        if pg.polygon_pairs.abs_diff(np) > pg.points / 10_000 + 2
            || pg.corridor_pairs.abs_diff(nc) > pg.points / 10_000 + 2
        {
            bail!("PostGIS and haulwatch disagree beyond edge cases; see counts above");
        }
    }
    Ok(())
}

/// The whole engine (ordering, membership, every rule, classification events) on one shard,
/// one core, over a simulated fleet on the benchmark fences.
fn fleet(reg: &Registry, args: &Args) -> Result<()> {
    use haulwatch::engine::synthetic::FleetSpec;
    use haulwatch::engine::{Engine, EngineConfig, EngineEvent};
    let spec = FleetSpec::new(7, args.fleet_vehicles, args.fleet_fixes);
    let (fleet_reg, positions) = synthetic::fleet(reg, &spec);
    let engine = Engine::new(&fleet_reg, EngineConfig::default());
    let report = &engine.snapshot().report;
    println!(
        "Fleet: {} trucks on {} haul routes, {} fixes each at {} s; registry {} polygons (the benchmark's, less those within {} m of a haul route) and {} corridors",
        args.fleet_vehicles,
        spec.routes,
        args.fleet_fixes,
        spec.interval_secs,
        report.polygons,
        spec.clearance_m,
        report.corridors
    );
    let mut opened = 0usize;
    let mut out: Vec<EngineEvent> = Vec::with_capacity(64);
    let (mut best, mut best_wall) = (Duration::MAX, Duration::MAX);
    let (mut events, mut violations) = (0usize, 0usize);
    for _ in 0..3 {
        // The runner hands positions over by value; copy them before the clock starts.
        let owned = positions.clone();
        let mut shard = engine.shard();
        events = 0;
        violations = 0;
        opened = 0;
        let wall = Instant::now();
        let cpu = thread_cpu();
        for p in owned {
            let now = p.received_at;
            shard.process_owned(p, now, &mut out);
            events += out.len();
            for e in &out {
                if let EngineEvent::Violation(v) = e {
                    violations += 1;
                    if v.change == haulwatch::engine::ViolationChange::Opened {
                        opened += 1;
                    }
                }
            }
            out.clear();
        }
        let used = thread_cpu().saturating_sub(cpu);
        if used < best {
            best = used;
            best_wall = wall.elapsed();
        }
    }
    eprintln!(
        "  (best run: {:.3} s CPU, {:.3} s wall)",
        best.as_secs_f64(),
        best_wall.as_secs_f64()
    );
    let rate_fleet = positions.len() as f64 / best.as_secs_f64();
    println!(
        "engine, fleet:       {rate_fleet:>12.0} positions/s (one core; {} positions, {events} events of which {violations} violation events, {opened} episodes opened)",
        positions.len()
    );
    Ok(())
}

mod postgis {
    use std::time::Instant;

    use anyhow::{Context, Result};
    use haulwatch::model::Registry;
    use sqlx::postgres::PgPoolOptions;
    use sqlx::{Connection, Executor};

    pub struct PgResult {
        pub points: usize,
        /// Points per CPU-second of the PostgreSQL backend.
        pub polygon_rate: f64,
        pub corridor_rate: f64,
        /// Points per wall-clock second of the query.
        pub polygon_wall_rate: f64,
        pub corridor_wall_rate: f64,
        pub polygon_pairs: usize,
        pub corridor_pairs: usize,
    }

    fn wkt_multipolygon(mp: &geo_types::MultiPolygon<f64>) -> String {
        let ring = |ls: &geo_types::LineString<f64>| {
            let pts: Vec<String> = ls.coords().map(|c| format!("{} {}", c.x, c.y)).collect();
            format!("({})", pts.join(","))
        };
        let polys: Vec<String> = mp
            .iter()
            .map(|p| {
                let rings: Vec<String> = std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(ring)
                    .collect();
                format!("({})", rings.join(","))
            })
            .collect();
        format!("MULTIPOLYGON({})", polys.join(","))
    }

    pub async fn run(url: &str, reg: &Registry, points: &[(f64, f64)]) -> Result<PgResult> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .with_context(|| {
                format!("PostgreSQL with PostGIS is needed at {url}; start it with `source scripts/services; ensure_services`")
            })?;
        let mut conn = pool.acquire().await?;
        let schema = format!("engine_bench_{}", std::process::id());
        conn.execute(
            format!("drop schema if exists {schema} cascade; create schema {schema}").as_str(),
        )
        .await?;
        let result = async {
            let polys: Vec<String> = reg
                .sites
                .iter()
                .map(|s| wkt_multipolygon(&s.geometry))
                .chain(reg.disposal_grounds.iter().map(|d| wkt_multipolygon(&d.geometry)))
                .chain(reg.zones.iter().map(|z| wkt_multipolygon(&z.geometry)))
                .collect();
            conn.execute(format!("create table {schema}.fences (id serial primary key, geom geometry(MultiPolygon, 4326))").as_str()).await?;
            for chunk in polys.chunks(500) {
                sqlx::query(&format!("insert into {schema}.fences (geom) select ST_GeomFromText(w, 4326) from unnest($1::text[]) as w"))
                    .bind(chunk)
                    .execute(&mut *conn)
                    .await?;
            }
            // One row per route segment: whole routes have boxes kilometres wide, so the index
            // would hand every point most routes; subdividing is the documented PostGIS
            // practice (as ST_Subdivide for big polygons), and it is what our R-tree does too.
            let mut seg_route: Vec<i32> = Vec::new();
            let mut seg_wkt: Vec<String> = Vec::new();
            let mut seg_width: Vec<f64> = Vec::new();
            for (ri, r) in reg.routes.iter().enumerate() {
                for line in &r.geometry {
                    for w in line.0.windows(2) {
                        seg_route.push(ri as i32);
                        seg_wkt.push(format!(
                            "LINESTRING({} {},{} {})",
                            w[0].x, w[0].y, w[1].x, w[1].y
                        ));
                        seg_width.push(r.corridor_m);
                    }
                }
            }
            conn.execute(format!("create table {schema}.routes (id serial primary key, route int, geog geography(LineString, 4326), width_m float8)").as_str()).await?;
            sqlx::query(&format!("insert into {schema}.routes (route, geog, width_m) select r, ST_GeogFromText('SRID=4326;' || w), d from unnest($1::int[], $2::text[], $3::float8[]) as t(r, w, d)"))
                .bind(&seg_route)
                .bind(&seg_wkt)
                .bind(&seg_width)
                .execute(&mut *conn)
                .await?;
            let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
            let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
            conn.execute(format!("create table {schema}.pts (id serial primary key, geom geometry(Point, 4326), geog geography(Point, 4326))").as_str()).await?;
            sqlx::query(&format!("insert into {schema}.pts (geom, geog) select ST_SetSRID(ST_MakePoint(x, y), 4326), ST_SetSRID(ST_MakePoint(x, y), 4326)::geography from unnest($1::float8[], $2::float8[]) as t(x, y)"))
                .bind(&xs)
                .bind(&ys)
                .execute(&mut *conn)
                .await?;
            conn.execute(format!("create index on {schema}.fences using gist (geom); create index on {schema}.routes using gist (geog); create index on {schema}.pts using gist (geom); create index on {schema}.pts using gist (geog); analyze {schema}.fences; analyze {schema}.routes; analyze {schema}.pts").as_str()).await?;
            // One core, as ours is measured on one core; no JIT (it only adds compile time to
            // these queries, whose cost is in PostGIS functions).
            conn.execute("set max_parallel_workers_per_gather = 0").await?;
            conn.execute("set jit = off").await?;
            // PostgreSQL runs here, so its backend's CPU time can be read like ours.
            let backend: i32 = sqlx::query_scalar("select pg_backend_pid()")
                .fetch_one(&mut *conn)
                .await?;
            let backend_cpu = || {
                std::fs::read_to_string(format!("/proc/{backend}/schedstat"))
                    .ok()
                    .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
                    .map(|ns| ns / 1e9)
            };
            let q_poly = format!("select count(*) from {schema}.pts p join {schema}.fences f on ST_Contains(f.geom, p.geom)");
            let q_corr = format!("select count(*) from (select distinct p.id, r.route from {schema}.pts p join {schema}.routes r on ST_DWithin(r.geog, p.geog, r.width_m)) pairs");
            // Warm the caches once, then time.
            let _: i64 = sqlx::query_scalar(&q_poly).fetch_one(&mut *conn).await?;
            let t = Instant::now();
            let c = backend_cpu();
            let polygon_pairs: i64 = sqlx::query_scalar(&q_poly).fetch_one(&mut *conn).await?;
            let polygon_wall = t.elapsed().as_secs_f64();
            let polygon_time = match (c, backend_cpu()) {
                (Some(a), Some(b)) if b > a => b - a,
                _ => polygon_wall,
            };
            let _: i64 = sqlx::query_scalar(&q_corr).fetch_one(&mut *conn).await?;
            let t = Instant::now();
            let c = backend_cpu();
            let corridor_pairs: i64 = sqlx::query_scalar(&q_corr).fetch_one(&mut *conn).await?;
            let corridor_wall = t.elapsed().as_secs_f64();
            let corridor_time = match (c, backend_cpu()) {
                (Some(a), Some(b)) if b > a => b - a,
                _ => corridor_wall,
            };
            Ok::<_, anyhow::Error>(PgResult {
                points: points.len(),
                polygon_rate: points.len() as f64 / polygon_time,
                corridor_rate: points.len() as f64 / corridor_time,
                polygon_wall_rate: points.len() as f64 / polygon_wall,
                corridor_wall_rate: points.len() as f64 / corridor_wall,
                polygon_pairs: polygon_pairs as usize,
                corridor_pairs: corridor_pairs as usize,
            })
        }
        .await;
        conn.execute(format!("drop schema if exists {schema} cascade").as_str())
            .await?;
        let c = conn.detach();
        c.close().await.ok();
        result
    }
}
