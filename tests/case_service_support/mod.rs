//! Shared by tests/cases_store.rs and tests/cases_service.rs: a store on either backend with
//! an evidence directory, a small city (two districts, officers on and off duty, companies,
//! vehicles), principals for every role, violations, and raw SQL for tampering tests.
#![allow(dead_code)]

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use geo_types::{LineString, MultiPolygon, Polygon};
use haulwatch::cases::CaseSettings;
use haulwatch::cases::dispatch::OfficerDuty;
use haulwatch::cases::model::{CaseKind, Role};
use haulwatch::cases::service::{CaseClock, CaseService, Principal};
use haulwatch::model::{
    Company, Officer, Registry, Vehicle, Violation, ViolationKind, ViolationStatus, Zone, ZoneKind,
};
use haulwatch::store::{Backend, Store};
use sqlx::{ConnectOptions, Connection};

use crate::store_support::{self, TestStore};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Sqlite,
    Postgres,
}

/// A fresh store on `which`, with its data directory (evidence files) in a temporary directory.
pub async fn open(which: Which) -> TestStore {
    match which {
        Which::Sqlite => store_support::sqlite().await,
        Which::Postgres => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let path = dir.path().to_path_buf();
            let mut db = store_support::postgres_with(|c| c.data_dir = path).await;
            db.dir = Some(dir);
            db
        }
    }
}

/// An instant in Liuzhou local time (UTC+8).
pub fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|day| day.and_hms_opt(h, min, 0))
        .map(|t| t.and_utc() - Duration::hours(8))
        .expect("valid local time")
}

/// Monday 2 March 2026, 09:00 local: when most tests start.
pub fn t0() -> DateTime<Utc> {
    local(2026, 3, 2, 9, 0)
}

fn square(lon: f64, lat: f64, d: f64) -> MultiPolygon<f64> {
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

/// A point inside the northern district.
pub const NORTH: (f64, f64) = (24.35, 109.40);
/// A point inside the southern district.
pub const SOUTH: (f64, f64) = (24.25, 109.40);
/// A point in no district.
pub const NOWHERE: (f64, f64) = (24.80, 110.20);

/// Two districts; officers o1-o3 (north, on duty), o6 (north, off duty), o7 (north, on duty
/// but without skills), o4-o5 (south, on duty); companies c1 and c2; vehicles v1, v2 (c1) and
/// v3 (c2).
pub fn city() -> Registry {
    let zone = |id: &str, name: &str, (lat, lon): (f64, f64)| Zone {
        id: id.into(),
        name: name.into(),
        kind: ZoneKind::District,
        geometry: square(lon, lat, 0.045),
        allowed: vec![],
        speed_limit_kmh: None,
        version: 1,
    };
    let officer = |id: &str, name: &str, district: &str| Officer {
        id: id.into(),
        name: name.into(),
        district_zone_id: Some(district.into()),
    };
    let vehicle = |id: &str, plate: &str, company: &str| Vehicle {
        id: id.into(),
        plate: plate.into(),
        plate_color: 2,
        company_id: company.into(),
        rated_load_kg: Some(18_000.0),
        sensors: Default::default(),
    };
    Registry {
        companies: vec![
            Company {
                id: "c1".into(),
                name: "柳州市龙城渣土运输有限公司".into(),
                uscc: "914502001234567890".into(),
            },
            Company {
                id: "c2".into(),
                name: "柳州市第二运输有限公司".into(),
                uscc: "914502009876543210".into(),
            },
        ],
        vehicles: vec![
            vehicle("v1", "桂B12345", "c1"),
            vehicle("v2", "桂B54321", "c1"),
            vehicle("v3", "桂BX0001", "c2"),
        ],
        zones: vec![
            zone("d-north", "城北执法中队", NORTH),
            zone("d-south", "城南执法中队", SOUTH),
        ],
        officers: vec![
            officer("o1", "李明", "d-north"),
            officer("o2", "张华", "d-north"),
            officer("o3", "王芳", "d-north"),
            officer("o6", "赵强", "d-north"),
            officer("o7", "钱进", "d-north"),
            officer("o4", "孙丽", "d-south"),
            officer("o5", "周杰", "d-south"),
        ],
        ..Registry::default()
    }
}

pub fn principal(user_id: &str, roles: &[Role], company: Option<&str>) -> Principal {
    Principal {
        user_id: user_id.into(),
        name: format!("用户{user_id}"),
        roles: roles.to_vec(),
        company_id: company.map(str::to_string),
    }
}

pub fn admin() -> Principal {
    principal("admin1", &[Role::Admin], None)
}

pub fn dispatcher() -> Principal {
    principal("disp1", &[Role::Dispatcher], None)
}

pub fn auditor() -> Principal {
    principal("aud1", &[Role::Auditor], None)
}

/// The console user linked to registry officer `officer_id` (user id `u-<officer>`).
pub fn officer(officer_id: &str) -> Principal {
    principal(&format!("u-{officer_id}"), &[Role::Officer], None)
}

pub fn company(company_id: &str) -> Principal {
    principal(
        &format!("u-{company_id}"),
        &[Role::Company],
        Some(company_id),
    )
}

/// A service on `store` with default settings and a manual clock at `t0()`, with the city
/// imported and duty records set (officer users linked as `u-<officer>`).
pub async fn service(store: &Store) -> (CaseService, CaseClock) {
    service_with(store, CaseSettings::default()).await
}

pub async fn service_with(store: &Store, settings: CaseSettings) -> (CaseService, CaseClock) {
    store.import_registry(&city()).await.expect("import city");
    let clock = CaseClock::manual(t0());
    let svc = CaseService::with_clock(store.clone(), settings, clock.clone());
    let all_skills: BTreeSet<CaseKind> = CaseKind::all().into_iter().collect();
    for (id, on_duty, skilled) in [
        ("o1", true, true),
        ("o2", true, true),
        ("o3", true, true),
        ("o4", true, true),
        ("o5", true, true),
        ("o6", false, true),
        ("o7", true, false),
    ] {
        let duty = OfficerDuty {
            officer_id: id.into(),
            shifts: vec![],
            on_duty_override: Some(on_duty),
            skills: if skilled {
                all_skills.clone()
            } else {
                BTreeSet::new()
            },
        };
        svc.set_officer_duty(&admin(), duty, Some(&format!("u-{id}")))
            .await
            .expect("set duty");
    }
    (svc, clock)
}

/// A violation episode of `kind` by `vehicle` (company from the city) at `at`, lasting
/// `minutes` (still open when `None`).
pub fn violation(
    id: &str,
    kind: ViolationKind,
    vehicle: &str,
    start: DateTime<Utc>,
    minutes: Option<i64>,
    (lat, lon): (f64, f64),
) -> Violation {
    let company = match vehicle {
        "v3" => "c2",
        _ => "c1",
    };
    Violation {
        id: id.to_string(),
        kind,
        vehicle_id: Some(vehicle.to_string()),
        phone: format!("0139{:08}", vehicle.len()),
        company_id: Some(company.to_string()),
        permit_id: None,
        started_at: start,
        ended_at: minutes.map(|m| start + Duration::minutes(m)),
        status: if minutes.is_some() {
            ViolationStatus::Closed
        } else {
            ViolationStatus::Open
        },
        lat,
        lon,
        severity: 2,
        evidence: serde_json::json!({
            "positions": [{"lat": lat, "lon": lon, "time": start.to_rfc3339()}],
            "rule": kind.as_str(),
        }),
    }
}

/// Runs raw SQL statements on the test database, outside the store (what a tamperer with
/// database access would do).
pub async fn raw_sql(db: &TestStore, statements: &[&str]) {
    match db.store.backend() {
        Backend::Postgres => {
            let url = db.config.database_url.clone().expect("postgres url");
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            for sql in statements {
                sqlx::raw_sql(sql)
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            let _ = conn.close().await;
        }
        Backend::Sqlite => {
            let mut conn = sqlite_conn(db).await;
            for sql in statements {
                sqlx::raw_sql(sql)
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            let _ = conn.close().await;
        }
    }
}

/// Runs one raw statement and returns its error text, if it failed.
pub async fn raw_sql_error(db: &TestStore, sql: &str) -> Option<String> {
    match db.store.backend() {
        Backend::Postgres => {
            let url = db.config.database_url.clone().expect("postgres url");
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            let result = sqlx::raw_sql(sql).execute(&mut conn).await;
            let _ = conn.close().await;
            result.err().map(|e| e.to_string())
        }
        Backend::Sqlite => {
            let mut conn = sqlite_conn(db).await;
            let result = sqlx::raw_sql(sql).execute(&mut conn).await;
            let _ = conn.close().await;
            result.err().map(|e| e.to_string())
        }
    }
}

async fn sqlite_conn(db: &TestStore) -> sqlx::SqliteConnection {
    let path = db.config.data_dir.join(haulwatch::store::SQLITE_FILE_NAME);
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await
        .expect("connect sqlite")
}

/// Statements that switch off the append-only triggers of `case_events` (a tamperer with
/// owner rights can do this; the hash chain is what still catches the edit).
pub fn disable_event_triggers(backend: Backend) -> Vec<&'static str> {
    match backend {
        Backend::Postgres => vec![
            "ALTER TABLE case_events DISABLE TRIGGER case_events_append_only",
            "ALTER TABLE evidence DISABLE TRIGGER evidence_append_only",
        ],
        Backend::Sqlite => vec![
            "DROP TRIGGER case_events_no_update",
            "DROP TRIGGER case_events_no_delete",
            "DROP TRIGGER evidence_no_update",
        ],
    }
}

/// Generates `sqlite::name` and `postgres::name` tests for each `async fn name(Which)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::case_service_support::Which::Sqlite)
                        .await
                        .expect(stringify!($case));
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::case_service_support::Which::Postgres)
                        .await
                        .expect(stringify!($case));
                }
            )*
        }
    };
}
