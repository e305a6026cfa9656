//! `haulwatch demo`: the whole platform in one process with nothing to install. A fresh data
//! directory gets an embedded SQLite store with the Liuzhou sample city (compiled into the
//! binary), demo logins, every officer on duty; the gateway, engine, case service, API and
//! console start; and the simulator drives the 200 sample trucks over real JT/T 808 sockets,
//! a handful of them breaking rules within the first minute.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Timelike, Utc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::ConsoleConfig;
use crate::api::auth::hash_password;
use crate::app::{Running, ServeConfig, StartError};
use crate::cases::dispatch::OfficerDuty;
use crate::cases::model::{CaseKind, Role};
use crate::cases::service::Principal;
use crate::model::{Registry, ZoneKind};
use crate::sim::client::{SimConfig, SimReport, SimStats};
use crate::sim::scenario::{ResolvedScenario, Scenario};
use crate::store::{ListQuery, Store, StoreConfig, StoreError, User};

/// The sample city's bundle files, compiled in so the demo needs no source tree.
const BUNDLE: [(&str, &str); 5] = [
    (
        "registry.json",
        include_str!("../geofences/liuzhou/registry.json"),
    ),
    (
        "sites.geojson",
        include_str!("../geofences/liuzhou/sites.geojson"),
    ),
    (
        "disposal_grounds.geojson",
        include_str!("../geofences/liuzhou/disposal_grounds.geojson"),
    ),
    (
        "routes.geojson",
        include_str!("../geofences/liuzhou/routes.geojson"),
    ),
    (
        "zones.geojson",
        include_str!("../geofences/liuzhou/zones.geojson"),
    ),
];

/// Phone of the demo's unregistered terminal.
pub const UNREGISTERED_PHONE: &str = "019900000001";
/// Company whose demo login is printed.
pub const DEMO_COMPANY: &str = "c01";

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Fresh directory for the demo's data (created; must be empty or absent).
    pub data_dir: PathBuf,
    /// HTTP address (console and API).
    pub http_listen: SocketAddr,
    /// JT/T 808 address the simulator connects to.
    pub jt808_listen: SocketAddr,
    /// Password of every demo login.
    pub password: String,
    /// Simulated trucks (the sample city has 200).
    pub trucks: usize,
    /// Seconds between a truck's reports.
    pub report_interval: Duration,
    /// The console's map settings.
    pub console: ConsoleConfig,
}

impl DemoConfig {
    /// Defaults: `./data/demo-<UTC time>`, console on 127.0.0.1:8080, JT/T 808 on
    /// 127.0.0.1:6808, 200 trucks reporting every 5 s.
    pub fn new(password: String) -> DemoConfig {
        DemoConfig {
            data_dir: PathBuf::from(format!("data/demo-{}", Utc::now().format("%Y%m%d-%H%M%S"))),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            jt808_listen: SocketAddr::from(([127, 0, 0, 1], 6808)),
            password,
            trucks: 200,
            report_interval: Duration::from_secs(5),
            console: ConsoleConfig::default(),
        }
    }
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The data directory exists and is not empty.
    #[error("data directory {0} is not empty; the demo starts from a fresh one")]
    NotFresh(PathBuf),
    /// Files could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The sample city could not be imported.
    #[error("the sample city could not be imported: {0}")]
    Import(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The platform failed to start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The scenario could not be built.
    #[error("demo scenario: {0}")]
    Scenario(String),
    /// A demo user could not be made.
    #[error("demo users: {0}")]
    Users(String),
}

/// A demo login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLogin {
    /// What the login is for.
    pub role: &'static str,
    /// User name.
    pub username: String,
}

/// A running demo.
pub struct Demo {
    /// The platform.
    pub running: Running,
    /// Console address.
    pub console_url: String,
    /// Logins (all with the configured password).
    pub logins: Vec<DemoLogin>,
    /// Rule breakers: `(who, what)`.
    pub rule_breakers: Vec<(String, String)>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Stops the simulator.
    sim_cancel: CancellationToken,
    /// The simulator.
    sim: JoinHandle<SimReport>,
}

impl Demo {
    /// Stops the simulator, then the platform.
    pub async fn stop(self) {
        self.sim_cancel.cancel();
        let _ = self.sim.await;
        self.running.stop().await;
    }
}

/// Sets everything up and starts the platform and the simulator.
pub async fn start(config: DemoConfig) -> Result<Demo, DemoError> {
    let data_dir = config.data_dir.clone();
    if std::fs::read_dir(&data_dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(DemoError::NotFresh(data_dir));
    }
    let bundle_dir = data_dir.join("bundle-liuzhou");
    write_bundle(&bundle_dir)?;

    let store_config = StoreConfig::new(None, &data_dir);
    let store = Store::open(store_config.clone()).await?;
    crate::import::import_bundle(&store, &bundle_dir)
        .await
        .map_err(|e| DemoError::Import(format!("{e:?}")))?;
    create_users(&store, &config.password).await?;
    store.close().await;

    let mut serve = ServeConfig::new(store_config);
    serve.http_listen = config.http_listen;
    serve.jt808_listen = config.jt808_listen;
    serve.console = config.console.clone();
    let running = crate::app::start(serve).await?;
    put_officers_on_duty(&running).await?;

    let registry = running.store.registry().await?;
    let (scenario, rule_breakers, zone_officer) = scenario(&registry)?;
    let logins = vec![
        DemoLogin {
            role: "dispatcher",
            username: "dispatcher".into(),
        },
        DemoLogin {
            role: "officer",
            username: zone_officer,
        },
        DemoLogin {
            role: "company",
            username: format!("company-{DEMO_COMPANY}"),
        },
        DemoLogin {
            role: "admin",
            username: "admin".into(),
        },
    ];
    let scenario = scenario
        .resolve(&registry)
        .map_err(|e| DemoError::Scenario(e.to_string()))?;
    let sim_cancel = CancellationToken::new();
    let sim = spawn_simulator(
        SimConfig {
            server: running.jt808_addr,
            trucks: config.trucks,
            interval: config.report_interval,
            duration: None,
            ramp_up: Duration::from_secs(3),
            ..SimConfig::default()
        },
        registry,
        scenario,
        sim_cancel.clone(),
    );
    let console_url = format!("http://{}/", running.http_addr);
    Ok(Demo {
        running,
        console_url,
        logins,
        rule_breakers,
        data_dir,
        sim_cancel,
        sim,
    })
}

/// Writes the compiled-in bundle to `dir`.
fn write_bundle(dir: &Path) -> Result<(), DemoError> {
    std::fs::create_dir_all(dir).map_err(|source| DemoError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for (name, text) in BUNDLE {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| DemoError::Io { path, source })?;
    }
    Ok(())
}

/// Demo logins: `admin`, `dispatcher`, an officer user per registry officer (user id = officer
/// id, so case work is theirs), and a company user per company (`company-c01`, ...).
async fn create_users(store: &Store, password: &str) -> Result<(), DemoError> {
    let hash = hash_password(password).map_err(|e| DemoError::Users(e.message))?;
    let user = |id: &str, role: Role, company: Option<&str>| User {
        id: id.to_string(),
        username: id.to_string(),
        password_hash: hash.clone(),
        role: role.as_str().to_string(),
        company_id: company.map(str::to_string),
        created_at: Utc::now(),
    };
    store.upsert_user(&user("admin", Role::Admin, None)).await?;
    store
        .upsert_user(&user("dispatcher", Role::Dispatcher, None))
        .await?;
    store
        .upsert_user(&user("auditor", Role::Auditor, None))
        .await?;
    let officers = store
        .list_officers(&ListQuery {
            limit: crate::store::MAX_PAGE,
            ..ListQuery::default()
        })
        .await?
        .items;
    for officer in &officers {
        store
            .upsert_user(&user(&officer.id, Role::Officer, None))
            .await?;
    }
    let companies = store
        .list_companies(&ListQuery {
            limit: crate::store::MAX_PAGE,
            ..ListQuery::default()
        })
        .await?
        .items;
    for company in &companies {
        store
            .upsert_user(&user(
                &format!("company-{}", company.id),
                Role::Company,
                Some(&company.id),
            ))
            .await?;
    }
    Ok(())
}

/// Every officer checked in, trained for every kind of case, so the demo's cases are
/// dispatched at once.
async fn put_officers_on_duty(running: &Running) -> Result<(), DemoError> {
    let admin = Principal {
        user_id: "admin".into(),
        name: "admin".into(),
        roles: vec![Role::Admin],
        company_id: None,
    };
    let officers = running
        .store
        .list_officers(&ListQuery {
            limit: crate::store::MAX_PAGE,
            ..ListQuery::default()
        })
        .await?
        .items;
    for officer in officers {
        running
            .cases
            .set_officer_duty(
                &admin,
                OfficerDuty {
                    officer_id: officer.id.clone(),
                    shifts: Vec::new(),
                    on_duty_override: Some(true),
                    skills: CaseKind::all().into_iter().collect(),
                },
                Some(&officer.id),
            )
            .await
            .map_err(|e| DemoError::Users(e.to_string()))?;
    }
    Ok(())
}

/// The scenario, its rule breakers `(who, what)`, and the officer login to print.
type DemoScenario = (Scenario, Vec<(String, String)>, String);

/// The demo's rule breakers, all within the first minute: a route deviation, a zone entered
/// when it is closed (the night-only city core by day, a school zone at night), speeding, a
/// loaded stop with the tipper raised outside any disposal ground, and an unregistered
/// terminal. Also names the officer whose district holds the zone, who is dispatched to that
/// case (the demo's officer login, so it has work at once).
fn scenario(registry: &Registry) -> Result<DemoScenario, DemoError> {
    let shanghai_hour = (Utc::now() + chrono::Duration::hours(8)).hour();
    let by_day = (6..22).contains(&shanghai_hour);
    let zone_kind = if by_day {
        ZoneKind::TimeRestricted
    } else {
        ZoneKind::Restricted
    };
    let (zone_truck, zone_id, _) =
        crate::sim::scenario::nearest_zone_detour(registry, zone_kind)
            .ok_or_else(|| DemoError::Scenario("no route passes near a control zone".into()))?;
    let zone_officer = officer_for_zone(registry, &zone_id)
        .ok_or_else(|| DemoError::Scenario(format!("no officer's district holds {zone_id}")))?;
    // Trucks on a permit drive their routes; pick the others from them.
    let mut permitted: Vec<&str> = registry
        .permits
        .iter()
        .flat_map(|p| p.vehicle_ids.iter().map(String::as_str))
        .filter(|v| *v != zone_truck)
        .collect();
    permitted.sort_unstable();
    permitted.dedup();
    let with_sensors = |id: &&&str| {
        registry
            .vehicles
            .iter()
            .any(|v| v.id == **id && v.sensors.lift && v.sensors.load)
    };
    let dumper = permitted
        .iter()
        .find(with_sensors)
        .copied()
        .ok_or_else(|| DemoError::Scenario("no permitted truck has lift sensors".into()))?;
    let mut others = permitted.iter().filter(|v| **v != dumper);
    let (Some(speeder), Some(deviator)) = (others.next(), others.next()) else {
        return Err(DemoError::Scenario("too few permitted trucks".into()));
    };
    let json = serde_json::json!({"trucks": [
        {"vehicle_id": speeder, "break": "speeding", "start_s": 15, "duration_s": 60, "speed_kmh": 95},
        {"vehicle_id": deviator, "break": "leave_route", "start_s": 3, "duration_s": 900, "offset_m": 800},
        {"vehicle_id": zone_truck, "break": "enter_zone", "zone_id": zone_id, "start_s": 5, "duration_s": 1800},
        {"vehicle_id": dumper, "break": "dump", "lift": true, "start_s": 20, "duration_s": 120},
        {"phone": UNREGISTERED_PHONE, "break": "unregistered"}
    ]});
    let scenario: Scenario =
        serde_json::from_value(json).map_err(|e| DemoError::Scenario(e.to_string()))?;
    let rule_breakers = vec![
        (speeder.to_string(), "speeding".to_string()),
        (deviator.to_string(), "route deviation".to_string()),
        (
            zone_truck,
            format!(
                "enters {zone_id} ({})",
                if by_day {
                    "night-only core, by day"
                } else {
                    "restricted zone"
                }
            ),
        ),
        (
            dumper.to_string(),
            "loaded stop, tipper raised, outside any disposal ground".to_string(),
        ),
        (
            UNREGISTERED_PHONE.to_string(),
            "unregistered terminal".to_string(),
        ),
    ];
    Ok((scenario, rule_breakers, zone_officer))
}

/// The first officer (by id) of the district that holds the zone's centre.
fn officer_for_zone(registry: &Registry, zone_id: &str) -> Option<String> {
    use geo::{Centroid, Contains};
    let centre = registry
        .zones
        .iter()
        .find(|z| z.id == zone_id)?
        .geometry
        .centroid()?;
    let district = registry
        .zones
        .iter()
        .find(|z| z.kind == ZoneKind::District && z.geometry.contains(&centre))?;
    registry
        .officers
        .iter()
        .filter(|o| o.district_zone_id.as_deref() == Some(district.id.as_str()))
        .map(|o| o.id.clone())
        .min()
}

/// Runs the simulator until cancelled.
fn spawn_simulator(
    config: SimConfig,
    registry: Registry,
    scenario: ResolvedScenario,
    cancel: CancellationToken,
) -> JoinHandle<SimReport> {
    tokio::spawn(crate::sim::client::run(
        config,
        Arc::new(registry),
        scenario,
        Arc::new(SimStats::default()),
        cancel,
    ))
}
