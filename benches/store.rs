//! Sustained track-write throughput, positions per second, on both backends, each next to a
//! one-INSERT-per-position baseline measured in the same run.
//!
//! Run with `scripts/bench-store` (starts PostgreSQL first) or
//! `cargo bench --bench store -- [--seconds N] [--backend sqlite|postgres|both]`.
//!
//! - batched: 2,000 producers (like gateway connections) each append 20 positions per call
//!   through one group-commit `TrackWriter`; a call returns when its positions are committed.
//!   Positions belong to 20,000 vehicles and carry a 96-byte raw frame.
//! - baseline: 8 concurrent tasks, each position its own INSERT and commit.
//!
//! PostgreSQL runs in a fresh schema of the database at HAULWATCH_BENCH_DATABASE_URL (default:
//! HAULWATCH_TEST_DATABASE_URL, then postgres://postgres@127.0.0.1:5432/haulwatch_test);
//! SQLite in a temporary directory (WAL, synchronous=FULL).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use haulwatch::model::{LoadState, Position, PositionFlags, PositionSource, next_position_id};
use haulwatch::store::{Store, StoreConfig, TrackWriterConfig};
use sqlx::Connection;

const PRODUCERS: i64 = 2_000;
const POSITIONS_PER_APPEND: i64 = 20;
const VEHICLES: i64 = 20_000;
const BASELINE_TASKS: i64 = 8;

fn position(id: i64, vehicle: i64, now: chrono::DateTime<Utc>, raw: &Bytes) -> Position {
    Position {
        id,
        phone: format!("0139{vehicle:08}"),
        vehicle_id: Some(format!("v{vehicle:05}")),
        time: now,
        received_at: now,
        lat: 24.2 + (vehicle % 200) as f64 * 0.001 + (id % 100) as f64 * 1e-5,
        lon: 109.3 + (vehicle / 200) as f64 * 0.003,
        altitude_m: 90,
        speed_kmh: 35.5,
        heading: (id % 360) as u16,
        alarm: 0,
        status: 0x0000_0302,
        load: LoadState::Full,
        lift_up: Some(false),
        lid_open: Some(false),
        weight_kg: Some(17_500.0),
        mileage_km: Some(12_345.6),
        source: PositionSource::Live,
        flags: PositionFlags::default(),
        raw: raw.clone(),
    }
}

/// Positions per second through the group-commit writer, sustained for `seconds`.
async fn batched(store: &Store, seconds: u64) -> (f64, u64) {
    let writer = store
        .track_writer(TrackWriterConfig::default())
        .expect("writer");
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let appends = Arc::new(AtomicU64::new(0));
    let raw = Bytes::from(vec![0x7e; 96]);
    let mut tasks = Vec::new();
    for producer in 0..PRODUCERS {
        let writer = writer.clone();
        let stop = stop.clone();
        let written = written.clone();
        let appends = appends.clone();
        let raw = raw.clone();
        tasks.push(tokio::spawn(async move {
            let mut vehicle = producer;
            while !stop.load(Ordering::Relaxed) {
                let now = Utc::now();
                let batch: Vec<Position> = (0..POSITIONS_PER_APPEND)
                    .map(|_| {
                        vehicle = (vehicle + PRODUCERS) % VEHICLES;
                        // Ids as the gateway assigns them: increasing with arrival time.
                        position(next_position_id(), vehicle, now, &raw)
                    })
                    .collect();
                writer.append(batch).await.expect("append");
                written.fetch_add(POSITIONS_PER_APPEND as u64, Ordering::Relaxed);
                appends.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Warm up (partitions, caches), then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start_count = written.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let count = written.load(Ordering::Relaxed) - start_count;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("producer");
    }
    (count as f64 / elapsed, appends.load(Ordering::Relaxed))
}

/// Positions per second with one INSERT (and commit) per position.
async fn baseline(store: &Store, seconds: u64, id_base: i64) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let raw = Bytes::from(vec![0x7e; 96]);
    let mut tasks = Vec::new();
    for task in 0..BASELINE_TASKS {
        let store = store.clone();
        let stop = stop.clone();
        let written = written.clone();
        let raw = raw.clone();
        tasks.push(tokio::spawn(async move {
            let mut next = id_base + task * 1_000_000_000;
            while !stop.load(Ordering::Relaxed) {
                next += 1;
                let p = position(next, next % VEHICLES, Utc::now(), &raw);
                store.insert_position_unbatched(&p).await.expect("insert");
                written.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let start_count = written.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let count = written.load(Ordering::Relaxed) - start_count;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("baseline task");
    }
    count as f64 / elapsed
}

fn pg_url() -> String {
    std::env::var("HAULWATCH_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("HAULWATCH_TEST_DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/haulwatch_test".to_string())
}

async fn run(name: &str, store: Store, seconds: u64) -> (f64, f64) {
    eprintln!("{name}: batched, {seconds} s ...");
    let (fast, appends) = batched(&store, seconds).await;
    eprintln!("{name}: {fast:.0} positions/s ({appends} appends)");
    let baseline_seconds = (seconds / 2).max(3);
    eprintln!("{name}: baseline, {baseline_seconds} s ...");
    let slow = baseline(&store, baseline_seconds, 1 << 50).await;
    eprintln!("{name}: {slow:.0} positions/s");
    store.close().await;
    (fast, slow)
}

fn main() {
    let mut seconds = 15u64;
    let mut backend = "both".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => seconds = args.next().and_then(|s| s.parse().ok()).unwrap_or(15),
            "--backend" => backend = args.next().unwrap_or_else(|| "both".into()),
            // cargo bench passes --bench; ignore what we do not know.
            _ => {}
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut rows = Vec::new();
        if backend == "both" || backend == "sqlite" {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = Store::open(StoreConfig::new(None, dir.path()))
                .await
                .expect("open SQLite");
            let (fast, slow) = run("SQLite", store, seconds).await;
            rows.push(("SQLite (WAL, synchronous=FULL)", fast, slow, 200_000.0));
        }
        if backend == "both" || backend == "postgres" {
            let url = pg_url();
            let mut admin = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
                panic!("PostgreSQL unreachable at {url}: {e}; run scripts/bench-store")
            });
            let schema = format!("hw_bench_{}", std::process::id());
            for sql in [
                format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                format!("CREATE SCHEMA {schema}"),
            ] {
                sqlx::query(&sql).execute(&mut admin).await.expect("schema");
            }
            let separator = if url.contains('?') { '&' } else { '?' };
            let schema_url =
                format!("{url}{separator}options=-c%20search_path%3D{schema}%2Cpublic");
            let store = Store::open(StoreConfig::new(Some(schema_url), "./unused"))
                .await
                .expect("open PostgreSQL");
            let (fast, slow) = run("PostgreSQL", store, seconds).await;
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&mut admin)
                .await
                .expect("drop schema");
            rows.push(("PostgreSQL 15 + PostGIS 3", fast, slow, 100_000.0));
        }
        println!();
        println!("| backend | batched (group commit) | one INSERT per position | ratio | target |");
        println!("|---|---:|---:|---:|---:|");
        for (name, fast, slow, target) in rows {
            println!(
                "| {name} | {fast:.0} /s | {slow:.0} /s | {:.0}x | {target:.0} /s |",
                fast / slow.max(1.0)
            );
        }
    });
}
