//! Shared by the store tests: a fresh store on either backend, isolated from every other test
//! (SQLite in a temporary directory; PostgreSQL in a schema of its own, dropped afterwards),
//! plus fixtures.
//!
//! PostgreSQL tests never skip: when the server cannot be reached they fail and say how to
//! start it.

#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use geo_types::{LineString, MultiLineString, MultiPolygon, Polygon};
use haulwatch::model::registry::SensorCapabilities;
use haulwatch::model::{
    Company, DailyWindow, DisposalGround, Driver, LoadState, Officer, Permit, Position,
    PositionFlags, PositionSource, Registry, Route, Site, Terminal, Vehicle, Weekdays,
    WeeklyWindow, Zone, ZoneKind,
};
use haulwatch::store::{Store, StoreConfig};
use rand::Rng;
use sqlx::Connection;

/// Where the PostgreSQL tests connect (set by scripts/services).
pub fn pg_url() -> String {
    std::env::var("HAULWATCH_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/haulwatch_test".to_string())
}

/// Panics with instructions when PostgreSQL cannot be reached.
pub fn unreachable(url: &str, error: impl std::fmt::Display) -> ! {
    panic!(
        "PostgreSQL is unreachable at {url}: {error}\n\
         Run scripts/test (it installs and starts PostgreSQL 15 + PostGIS and creates the test \
         database), or start PostgreSQL yourself and point HAULWATCH_TEST_DATABASE_URL at a \
         database where `CREATE EXTENSION postgis` has been run."
    )
}

/// A store under test and what must be cleaned up after it.
pub struct TestStore {
    /// The store.
    pub store: Store,
    /// The configuration it was opened with (to reopen it).
    pub config: StoreConfig,
    /// SQLite: the directory holding the database file.
    pub dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the schema holding the tables.
    pub schema: Option<String>,
}

impl TestStore {
    /// Closes the store and drops its schema (PostgreSQL).
    pub async fn finish(mut self) {
        self.store.close().await;
        if let Some(schema) = self.schema.take() {
            drop_schema(&schema).await;
        }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        // A failed test leaves here without finish(): drop the schema on a thread of its own.
        if let Some(schema) = self.schema.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Runtime::new() {
                    rt.block_on(drop_schema(&schema));
                }
            })
            .join();
        }
    }
}

async fn drop_schema(schema: &str) {
    let url = pg_url();
    if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
}

/// A new SQLite store in a temporary directory.
pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = StoreConfig::new(None, dir.path());
    let store = Store::open(config.clone())
        .await
        .expect("open SQLite store");
    TestStore {
        store,
        config,
        dir: Some(dir),
        schema: None,
    }
}

/// Creates an empty schema for one test and returns its name and a URL that uses it.
pub async fn pg_schema() -> (String, String) {
    let url = pg_url();
    let mut conn = match tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::PgConnection::connect(&url),
    )
    .await
    {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => unreachable(&url, e),
        Err(_) => unreachable(&url, "connection timed out"),
    };
    let has_postgis: Option<(String,)> =
        sqlx::query_as("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            .fetch_optional(&mut conn)
            .await
            .expect("query pg_extension");
    if has_postgis.is_none() {
        sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public")
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| unreachable(&url, format!("PostGIS is not installed: {e}")));
    }
    let schema = format!("hw_test_{:016x}", rand::rng().random::<u64>());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .expect("create test schema");
    let _ = conn.close().await;
    let separator = if url.contains('?') { '&' } else { '?' };
    let schema_url = format!("{url}{separator}options=-c%20search_path%3D{schema}%2Cpublic");
    (schema, schema_url)
}

/// A new PostgreSQL store in a schema of its own.
pub async fn postgres() -> TestStore {
    postgres_with(|_| {}).await
}

/// A new PostgreSQL store in a schema of its own, with configuration changes.
pub async fn postgres_with(change: impl FnOnce(&mut StoreConfig)) -> TestStore {
    let (schema, url) = pg_schema().await;
    // Evidence files live under the data directory on both backends.
    let dir = tempfile::tempdir().expect("temporary data directory");
    let mut config = StoreConfig::new(Some(url.clone()), dir.path());
    change(&mut config);
    let store = match Store::open(config.clone()).await {
        Ok(store) => store,
        Err(e) => {
            drop_schema(&schema).await;
            unreachable(&url, e)
        }
    };
    TestStore {
        store,
        config,
        dir: Some(dir),
        schema: Some(schema),
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A square polygon around (lon, lat) with half-size `d` degrees.
pub fn square(lon: f64, lat: f64, d: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![Polygon::new(
        LineString::from(vec![
            (lon - d, lat - d),
            (lon + d, lat - d),
            (lon + d, lat + d),
            (lon - d, lat + d),
            (lon - d, lat - d),
        ]),
        vec![],
    )])
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

pub fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("time")
}

/// A small registry touching every entity and field.
pub fn small_registry() -> Registry {
    let companies = vec![
        Company {
            id: "c1".into(),
            name: "柳州市龙城渣土运输有限公司".into(),
            uscc: "914502001234567890".into(),
        },
        Company {
            id: "c2".into(),
            name: "Second Haulage".into(),
            uscc: "91450200ABCDEFGHIJ".into(),
        },
    ];
    let vehicles = vec![
        Vehicle {
            id: "v1".into(),
            plate: "桂B12345".into(),
            plate_color: 2,
            company_id: "c1".into(),
            rated_load_kg: Some(18_000.0),
            sensors: SensorCapabilities {
                load: true,
                lift: true,
                lid: true,
                weight: false,
            },
        },
        Vehicle {
            id: "v2".into(),
            plate: "桂B54321".into(),
            plate_color: 2,
            company_id: "c1".into(),
            rated_load_kg: None,
            sensors: SensorCapabilities::default(),
        },
        Vehicle {
            id: "v3".into(),
            plate: "桂BX0001".into(),
            plate_color: 1,
            company_id: "c2".into(),
            rated_load_kg: Some(15_500.5),
            sensors: SensorCapabilities {
                load: false,
                lift: false,
                lid: false,
                weight: true,
            },
        },
    ];
    let terminals = vec![
        Terminal {
            phone: "13912345678".into(),
            vehicle_id: Some("v1".into()),
            model: "smart-muck".into(),
            protocol: "2013".into(),
            auth_code: None,
        },
        Terminal {
            phone: "13900000002".into(),
            vehicle_id: Some("v2".into()),
            model: "generic".into(),
            protocol: "2019".into(),
            auth_code: Some("AUTH-2".into()),
        },
        Terminal {
            phone: "17700000003".into(),
            vehicle_id: None,
            model: "generic".into(),
            protocol: "2011".into(),
            auth_code: None,
        },
    ];
    let drivers = vec![Driver {
        id: "d1".into(),
        name: "王强".into(),
        license_no: "450200199001011234".into(),
        company_id: "c1".into(),
    }];
    let sites = vec![Site {
        id: "s1".into(),
        name: "Site one".into(),
        geometry: square(109.50, 24.36, 0.001),
        version: 1,
    }];
    let disposal_grounds = vec![DisposalGround {
        id: "g1".into(),
        name: "Ground one".into(),
        geometry: MultiPolygon(vec![
            square(109.58, 24.40, 0.002).0.remove(0),
            square(109.60, 24.40, 0.001).0.remove(0),
        ]),
        version: 1,
    }];
    let routes = vec![Route {
        id: "r1".into(),
        name: "Route one".into(),
        geometry: MultiLineString(vec![LineString::from(vec![
            (109.50, 24.36),
            (109.54, 24.38),
            (109.58, 24.40),
        ])]),
        corridor_m: 100.0,
        speed_limit_kmh: Some(50.0),
        version: 1,
    }];
    let zones = vec![
        Zone {
            id: "z-core".into(),
            name: "Core".into(),
            kind: ZoneKind::TimeRestricted,
            geometry: square(109.41, 24.32, 0.02),
            allowed: vec![WeeklyWindow {
                days: Weekdays::ALL,
                window: DailyWindow {
                    start: hm(22, 0),
                    end: hm(6, 0),
                },
            }],
            speed_limit_kmh: None,
            version: 1,
        },
        Zone {
            id: "z-district".into(),
            name: "District".into(),
            kind: ZoneKind::District,
            geometry: square(109.45, 24.35, 0.1),
            allowed: vec![],
            speed_limit_kmh: Some(40.0),
            version: 1,
        },
    ];
    let permits = vec![Permit {
        id: "p1".into(),
        number: "柳建渣准字〔2026〕第001号".into(),
        company_id: "c1".into(),
        vehicle_ids: vec!["v2".into(), "v1".into()],
        site_id: "s1".into(),
        disposal_ground_ids: vec!["g1".into()],
        route_ids: vec!["r1".into()],
        valid_from: date(2026, 1, 1),
        valid_to: date(2028, 12, 31),
        daily_windows: vec![
            DailyWindow {
                start: hm(6, 0),
                end: hm(12, 0),
            },
            DailyWindow {
                start: hm(14, 0),
                end: hm(22, 0),
            },
        ],
    }];
    let officers = vec![
        Officer {
            id: "o1".into(),
            name: "李明".into(),
            district_zone_id: Some("z-district".into()),
        },
        Officer {
            id: "o2".into(),
            name: "张华".into(),
            district_zone_id: None,
        },
    ];
    Registry {
        companies,
        vehicles,
        terminals,
        drivers,
        sites,
        disposal_grounds,
        routes,
        zones,
        permits,
        officers,
    }
}

/// A time with microsecond precision (what both backends keep).
pub fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).expect("time")
}

/// Now, truncated to microseconds.
pub fn now_micros() -> DateTime<Utc> {
    at(Utc::now().timestamp_micros())
}

/// A usable position of `vehicle` at `time`.
pub fn position(
    id: i64,
    vehicle: Option<&str>,
    time: DateTime<Utc>,
    lon: f64,
    lat: f64,
) -> Position {
    Position {
        id,
        phone: "013912345678".into(),
        vehicle_id: vehicle.map(str::to_string),
        time,
        received_at: time + chrono::Duration::milliseconds(1500),
        lat,
        lon,
        altitude_m: 87,
        speed_kmh: 36.5,
        heading: 270,
        alarm: 0,
        status: 0b10,
        load: LoadState::Full,
        lift_up: Some(false),
        lid_open: Some(false),
        weight_kg: Some(17_250.0),
        mileage_km: Some(12_345.6),
        source: PositionSource::Live,
        flags: PositionFlags::default(),
        raw: Bytes::from_static(&[0x7e, 0x02, 0x00, 0x00, 0x7d, 0x02, 0x7e]),
    }
}

/// The registry with every list ordered by id (the order [`Store::registry`] returns).
pub fn sorted(mut r: Registry) -> Registry {
    r.companies.sort_by(|a, b| a.id.cmp(&b.id));
    r.vehicles.sort_by(|a, b| a.id.cmp(&b.id));
    r.terminals.sort_by(|a, b| a.phone.cmp(&b.phone));
    r.drivers.sort_by(|a, b| a.id.cmp(&b.id));
    r.sites.sort_by(|a, b| a.id.cmp(&b.id));
    r.disposal_grounds.sort_by(|a, b| a.id.cmp(&b.id));
    r.routes.sort_by(|a, b| a.id.cmp(&b.id));
    r.zones.sort_by(|a, b| a.id.cmp(&b.id));
    r.permits.sort_by(|a, b| a.id.cmp(&b.id));
    r.officers.sort_by(|a, b| a.id.cmp(&b.id));
    r
}
