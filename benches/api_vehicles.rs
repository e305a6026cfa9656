//! Criterion bench of `GET /api/v1/vehicles` over a real socket: 20,000 vehicles with latest
//! positions (and 200 open violations) in an embedded SQLite store, listed in full (20 pages of
//! 1,000) and one page at a time, and the store reads behind them (the API keeps the whole
//! list in memory for a second). The target: a full listing under 50 ms.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use haulwatch::api::{ApiState, app, auth::seed_admin_token};
use haulwatch::bus::LiveHub;
use haulwatch::cases::CaseSettings;
use haulwatch::cases::service::CaseService;
use haulwatch::ingest::SessionRegistry;
use haulwatch::model::{
    Company, LoadState, Position, PositionFlags, PositionSource, Registry, SensorCapabilities,
    Vehicle, Violation, ViolationKind, ViolationStatus, next_position_id,
};
use haulwatch::store::{Store, StoreConfig};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

const VEHICLES: usize = 20_000;
const COMPANIES: usize = 200;
const TOKEN: &str = "hw_bench_admin_token";

/// A store with the fleet and its latest positions, served on a local socket.
async fn serve(dir: &std::path::Path) -> (String, Store) {
    let store = Store::open(StoreConfig::new(None, dir))
        .await
        .expect("store opens");
    let registry = Registry {
        companies: (0..COMPANIES)
            .map(|c| Company {
                id: format!("c{c:04}"),
                name: format!("Company {c}"),
                uscc: format!("91450200{c:010}"),
            })
            .collect(),
        vehicles: (0..VEHICLES)
            .map(|v| Vehicle {
                id: format!("v{v:06}"),
                plate: format!("桂B{v:05}"),
                plate_color: 2,
                company_id: format!("c{:04}", v % COMPANIES),
                rated_load_kg: Some(16_000.0),
                sensors: SensorCapabilities::default(),
            })
            .collect(),
        ..Registry::default()
    };
    store
        .import_registry(&registry)
        .await
        .expect("registry imports");
    let now = Utc::now();
    let positions: Vec<Position> = (0..VEHICLES)
        .map(|v| Position {
            id: next_position_id(),
            phone: format!("0139{v:08}"),
            vehicle_id: Some(format!("v{v:06}")),
            time: now - Duration::seconds((v % 900) as i64),
            received_at: now,
            lat: 24.2 + (v % 100) as f64 * 0.002,
            lon: 109.3 + (v / 100) as f64 * 0.001,
            altitude_m: 80,
            speed_kmh: (v % 60) as f64,
            heading: (v % 360) as u16,
            alarm: 0,
            status: 2,
            load: if v % 3 == 0 {
                LoadState::Full
            } else {
                LoadState::Empty
            },
            lift_up: None,
            lid_open: None,
            weight_kg: None,
            mileage_km: None,
            source: PositionSource::Live,
            flags: PositionFlags::default(),
            raw: Bytes::from_static(b"~frame~"),
        })
        .collect();
    for chunk in positions.chunks(5_000) {
        store.insert_positions(chunk).await.expect("positions");
    }
    for v in (0..VEHICLES).step_by(VEHICLES / 200) {
        store
            .upsert_violation(&Violation {
                id: format!("viol-{v}"),
                kind: ViolationKind::Speeding,
                vehicle_id: Some(format!("v{v:06}")),
                phone: format!("0139{v:08}"),
                company_id: Some(format!("c{:04}", v % COMPANIES)),
                permit_id: None,
                started_at: now,
                ended_at: None,
                status: ViolationStatus::Open,
                lat: 24.3,
                lon: 109.4,
                severity: 2,
                evidence: serde_json::json!({}),
            })
            .await
            .expect("violation");
    }
    seed_admin_token(&store, TOKEN, "bench")
        .await
        .expect("token");
    let cases = CaseService::new(store.clone(), CaseSettings::default());
    let state = ApiState::new(
        store.clone(),
        cases,
        LiveHub::new(1024),
        SessionRegistry::default(),
        Arc::new(Notify::new()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app(state)).await;
    });
    (base, store)
}

/// What the client reads of a page: items are skipped over, not built, so the measurement is
/// mostly the server's.
#[derive(serde::Deserialize)]
struct PageShape {
    items: Vec<serde::de::IgnoredAny>,
    next: Option<String>,
}

/// Lists every vehicle, following `next`; returns how many came back.
async fn list_all(client: &reqwest::Client, base: &str) -> usize {
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/vehicles?limit=1000");
        if let Some(c) = &cursor {
            url.push_str("&cursor=");
            url.push_str(c);
        }
        let page: PageShape = client
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        count += page.items.len();
        match page.next {
            Some(next) => cursor = Some(next),
            None => return count,
        }
    }
}

fn vehicles(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (base, store) = rt.block_on(serve(dir.path()));
    let client = reqwest::Client::new();
    assert_eq!(rt.block_on(list_all(&client, &base)), VEHICLES);

    let mut g = c.benchmark_group("api_vehicles");
    g.sample_size(10);
    g.bench_function("full_listing_20000_in_pages_of_1000", |b| {
        b.iter(|| rt.block_on(list_all(&client, &base)))
    });
    let page_url = format!("{base}/api/v1/vehicles?limit=1000&cursor=v010000");
    // A dispatcher opening the list after the in-memory copy has gone stale (2 s without a
    // request): the stale copy is served while a fresh one is read in the background.
    g.bench_function("full_listing_after_2s_idle", |b| {
        b.iter_custom(|iterations| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iterations {
                std::thread::sleep(std::time::Duration::from_secs(2));
                let started = std::time::Instant::now();
                rt.block_on(list_all(&client, &base));
                total += started.elapsed();
            }
            total
        })
    });
    g.bench_function("one_page_of_1000", |b| {
        b.iter(|| {
            rt.block_on(async {
                client
                    .get(&page_url)
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .expect("sent")
                    .bytes()
                    .await
                    .expect("body")
                    .len()
            })
        })
    });
    // What refreshing the in-memory fleet list costs (once a second at most, under load).
    g.bench_function("store_fleet_all_20000", |b| {
        b.iter(|| {
            rt.block_on(store.fleet_all(Utc::now().date_naive()))
                .expect("fleet")
        })
    });
    // The store's share of one page.
    let query = haulwatch::store::fleet::FleetQuery {
        after: Some("v010000".into()),
        limit: 1000,
        today: Utc::now().date_naive(),
        ..Default::default()
    };
    g.bench_function("store_fleet_page_1000", |b| {
        b.iter(|| rt.block_on(store.fleet_page(&query)).expect("page"))
    });
    g.finish();
}

criterion_group!(benches, vehicles);
criterion_main!(benches);
