//! The async runner: positions of many vehicles through N worker tasks, events out, shutdown
//! judging whatever the reorder buffers still hold, and a registry swap while running.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use haulwatch::engine::metric::LocalMetric;
use haulwatch::engine::synthetic::{self, FenceSpec};
use haulwatch::engine::{Engine, EngineConfig, EngineEvent, EngineRunner, shard_for_key, shard_of};
use haulwatch::model::{LoadState, Position, PositionFlags, PositionSource, ViolationKind};
use tokio::sync::mpsc;

fn position(id: i64, vehicle: &str, t: DateTime<Utc>, lon: f64, lat: f64, speed: f64) -> Position {
    Position {
        id,
        phone: format!("0139{vehicle}"),
        vehicle_id: Some(vehicle.into()),
        time: t,
        received_at: t,
        lat,
        lon,
        altitude_m: 0,
        speed_kmh: speed,
        heading: 0,
        alarm: 0,
        status: 2,
        load: LoadState::Unknown,
        lift_up: None,
        lid_open: None,
        weight_kg: None,
        mileage_km: None,
        source: PositionSource::Live,
        flags: PositionFlags::default(),
        raw: Bytes::new(),
    }
}

#[test]
fn shard_hash_is_stable_and_spreads() {
    // Fixed values: the function is part of the wire contract with a future bus.
    assert_eq!(shard_for_key("v1", 8), shard_for_key("v1", 8));
    let mut counts = [0usize; 8];
    for i in 0..8000 {
        counts[shard_for_key(&format!("vehicle-{i}"), 8)] += 1;
    }
    assert!(
        counts.iter().all(|&c| (800..1200).contains(&c)),
        "{counts:?}"
    );
    let p = position(1, "v1", Utc::now(), 109.4, 24.3, 0.0);
    assert_eq!(shard_of(&p, 8), shard_for_key("v1", 8));
}

#[tokio::test]
async fn runner_judges_every_vehicle_and_flushes_on_shutdown() {
    let reg = synthetic::registry(&FenceSpec::small(5, 200, 10));
    let mut config = EngineConfig::default();
    config.ordering.reorder_window_secs = 3600; // nothing is released before shutdown
    let engine = Engine::new(&reg, config);
    let (tx, mut rx) = mpsc::channel(64);
    let runner = EngineRunner::start(engine.clone(), 3, 16, tx, Duration::from_millis(50));
    let collector = tokio::spawn(async move {
        let mut classes: HashMap<String, usize> = HashMap::new();
        let mut speeding = 0;
        while let Some(ev) = rx.recv().await {
            match ev {
                EngineEvent::Classified(c) => {
                    *classes
                        .entry(c.vehicle_id.map(|v| v.to_string()).unwrap_or_default())
                        .or_default() += 1
                }
                EngineEvent::Violation(v) if v.violation.kind == ViolationKind::Speeding => {
                    speeding += 1
                }
                EngineEvent::Violation(_) | EngineEvent::Trip(_) => {}
            }
        }
        (classes, speeding)
    });
    let t0: DateTime<Utc> = "2026-08-05T02:00:00Z".parse().expect("time");
    let m = LocalMetric::at_lat(24.35);
    let mut id = 0;
    for step in 0..40 {
        for v in 0..12 {
            id += 1;
            let t = t0 + chrono::Duration::seconds(step * 5);
            // Vehicle 0 drives at 100 km/h: speeding against the 60 km/h default.
            let speed = if v == 0 { 100.0 } else { 30.0 };
            let lon = 109.35 + v as f64 * 0.01 + (step as f64 * speed / 3.6 * 5.0) / m.kx;
            let p = position(id, &format!("veh{v}"), t, lon, 24.35, speed);
            runner.send(p).await.expect("send");
        }
        if step == 20 {
            // Swapping the registry does not stop anything.
            engine.swap_registry(&synthetic::registry(&FenceSpec::small(6, 150, 5)));
        }
    }
    runner.shutdown().await;
    let (classes, speeding) = collector.await.expect("collector");
    assert_eq!(classes.len(), 12);
    assert!(classes.values().all(|&n| n == 40), "{classes:?}");
    assert!(speeding >= 1, "vehicle 0 was speeding");
    assert_eq!(engine.snapshot().generation, 2);
}
