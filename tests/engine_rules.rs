//! Scenario tests of the rule engine: every violation kind, hysteresis at fence edges,
//! crossings between sparse fixes, late and out-of-order data, one episode = one violation,
//! registry swaps. Fences are laid out in metres east/north of a point in Liuzhou.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use geo_types::{Coord, LineString, MultiLineString, MultiPolygon, Polygon};
use haulwatch::engine::metric::LocalMetric;
use haulwatch::engine::{
    Engine, EngineConfig, EngineEvent, EngineShard, PositionClass, ViolationChange, ViolationEvent,
};
use haulwatch::model::registry::SensorCapabilities;
use haulwatch::model::{
    DailyWindow, DisposalGround, LoadState, Permit, Position, PositionFlags, PositionSource,
    Registry, Route, Site, Vehicle, ViolationKind, ViolationStatus, Weekdays, WeeklyWindow, Zone,
    ZoneKind,
};

const BASE: (f64, f64) = (109.40, 24.30);

fn at(east: f64, north: f64) -> (f64, f64) {
    let m = LocalMetric::at_lat(BASE.1);
    (BASE.0 + east / m.kx, BASE.1 + north / m.ky)
}

fn square(e: f64, n: f64, half: f64) -> MultiPolygon<f64> {
    let c = |de: f64, dn: f64| {
        let (x, y) = at(e + de, n + dn);
        Coord { x, y }
    };
    MultiPolygon(vec![Polygon::new(
        LineString(vec![
            c(-half, -half),
            c(half, -half),
            c(half, half),
            c(-half, half),
            c(-half, -half),
        ]),
        vec![],
    )])
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("time")
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn all_sensors() -> SensorCapabilities {
    SensorCapabilities {
        load: true,
        lift: true,
        lid: true,
        weight: true,
    }
}

fn vehicle(id: &str, sensors: SensorCapabilities) -> Vehicle {
    Vehicle {
        id: id.into(),
        plate: format!("桂B{id}"),
        plate_color: 2,
        company_id: "c1".into(),
        rated_load_kg: Some(20_000.0),
        sensors,
    }
}

fn permit(id: &str, vehicles: &[&str], windows: Vec<DailyWindow>) -> Permit {
    Permit {
        id: id.into(),
        number: format!("LZ-{id}"),
        company_id: "c1".into(),
        vehicle_ids: vehicles.iter().map(|v| v.to_string()).collect(),
        site_id: "s1".into(),
        disposal_ground_ids: vec!["d1".into()],
        route_ids: vec!["r1".into()],
        valid_from: day(2026, 1, 1),
        valid_to: day(2026, 12, 31),
        daily_windows: windows,
    }
}

/// The test city: site s1 at the origin, disposal ground d1 4 km east, route r1 between them
/// (100 m corridor), another site s2 1 km south, a 30 m restricted zone z1 400 m north of the
/// route, a larger restricted zone z2 600 m south of it, a time-restricted zone tz (open
/// 22:00-06:00) and a 30 km/h speed zone sz.
fn registry() -> Registry {
    let (ax, ay) = at(0.0, 0.0);
    let (bx, by) = at(4000.0, 0.0);
    Registry {
        vehicles: vec![
            vehicle("v1", all_sensors()),
            vehicle("v2", SensorCapabilities::default()),
            vehicle("v3", all_sensors()),
            vehicle("v4", all_sensors()),
        ],
        sites: vec![
            Site {
                id: "s1".into(),
                name: "Site 1".into(),
                geometry: square(0.0, 0.0, 100.0),
                version: 1,
            },
            Site {
                id: "s2".into(),
                name: "Site 2".into(),
                geometry: square(0.0, -1000.0, 100.0),
                version: 1,
            },
        ],
        disposal_grounds: vec![DisposalGround {
            id: "d1".into(),
            name: "Disposal 1".into(),
            geometry: square(4000.0, 0.0, 150.0),
            version: 7,
        }],
        routes: vec![Route {
            id: "r1".into(),
            name: "Route 1".into(),
            geometry: MultiLineString(vec![LineString(vec![
                Coord { x: ax, y: ay },
                Coord { x: bx, y: by },
            ])]),
            corridor_m: 100.0,
            speed_limit_kmh: None,
            version: 4,
        }],
        zones: vec![
            Zone {
                id: "z1".into(),
                name: "School".into(),
                kind: ZoneKind::Restricted,
                geometry: square(2000.0, 400.0, 15.0),
                allowed: vec![],
                speed_limit_kmh: None,
                version: 2,
            },
            Zone {
                id: "z2".into(),
                name: "Bridge".into(),
                kind: ZoneKind::Restricted,
                geometry: square(2000.0, -700.0, 100.0),
                allowed: vec![],
                speed_limit_kmh: None,
                version: 1,
            },
            Zone {
                id: "tz".into(),
                name: "Core".into(),
                kind: ZoneKind::TimeRestricted,
                geometry: square(6000.0, 3000.0, 500.0),
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
                id: "sz".into(),
                name: "Slow".into(),
                kind: ZoneKind::Speed,
                geometry: square(8000.0, 0.0, 300.0),
                allowed: vec![],
                speed_limit_kmh: Some(30.0),
                version: 1,
            },
        ],
        permits: vec![
            permit("p1", &["v1", "v2"], vec![]),
            permit(
                "p4",
                &["v4"],
                vec![DailyWindow {
                    start: hm(22, 0),
                    end: hm(6, 0),
                }],
            ),
        ],
        ..Registry::default()
    }
}

/// 2026-08-05 02:00 UTC: Wednesday 10:00 in Liuzhou (outside the night windows).
fn t0() -> DateTime<Utc> {
    "2026-08-05T02:00:00Z".parse().expect("time")
}

/// One fix, built up by the scenario.
#[derive(Clone)]
struct Fix {
    vehicle: Option<String>,
    phone: String,
    east: f64,
    north: f64,
    secs: f64,
    speed: f64,
    load: LoadState,
    lift: Option<bool>,
    lid: Option<bool>,
    weight: Option<f64>,
    alarm: u32,
    flags: u32,
    source: PositionSource,
}

impl Fix {
    fn new(vehicle: &str, secs: f64, east: f64, north: f64, speed: f64) -> Fix {
        Fix {
            vehicle: Some(vehicle.into()),
            phone: format!("0139000{vehicle}"),
            east,
            north,
            secs,
            speed,
            load: LoadState::Unknown,
            lift: None,
            lid: None,
            weight: None,
            alarm: 0,
            flags: 0,
            source: PositionSource::Live,
        }
    }

    fn loaded(mut self) -> Fix {
        self.load = LoadState::Full;
        self.lift = Some(false);
        self.lid = Some(false);
        self
    }

    fn empty(mut self) -> Fix {
        self.load = LoadState::Empty;
        self.lift = Some(false);
        self.lid = Some(false);
        self
    }
}

struct Sim {
    engine: Arc<Engine>,
    shard: EngineShard,
    events: Vec<EngineEvent>,
    next_id: i64,
}

impl Sim {
    fn with(config: EngineConfig) -> Sim {
        let engine = Engine::new(&registry(), config);
        let shard = engine.shard();
        Sim {
            engine,
            shard,
            events: Vec::new(),
            next_id: 1,
        }
    }

    /// Judges each position as it comes (no reorder hold), so tests read simply.
    fn new() -> Sim {
        let mut c = EngineConfig::default();
        c.ordering.reorder_window_secs = 0;
        Sim::with(c)
    }

    fn position(&mut self, f: &Fix) -> Position {
        let (lon, lat) = at(f.east, f.north);
        let time = t0() + chrono::Duration::milliseconds((f.secs * 1000.0) as i64);
        let id = self.next_id;
        self.next_id += 1;
        Position {
            id,
            phone: f.phone.clone(),
            vehicle_id: f.vehicle.clone(),
            time,
            received_at: time,
            lat,
            lon,
            altitude_m: 90,
            speed_kmh: f.speed,
            heading: 90,
            alarm: f.alarm,
            status: 0b10,
            load: f.load,
            lift_up: f.lift,
            lid_open: f.lid,
            weight_kg: f.weight,
            mileage_km: None,
            source: f.source,
            flags: PositionFlags(f.flags),
            raw: Bytes::from_static(&[0x7e, 0x02, 0x00, 0x7e]),
        }
    }

    /// Feeds a fix, received at its own GNSS time.
    fn feed(&mut self, f: &Fix) -> Position {
        let p = self.position(f);
        let now = p.time;
        self.feed_at(&p, now);
        p
    }

    fn feed_at(&mut self, p: &Position, now: DateTime<Utc>) {
        let out = self.shard.process(p, now);
        self.events.extend(out);
    }

    fn tick(&mut self, secs: f64) {
        let now = t0() + chrono::Duration::milliseconds((secs * 1000.0) as i64);
        let out = self.shard.tick(now);
        self.events.extend(out);
    }

    /// Feeds `n` fixes every `step` seconds from `from` to `to` (metres), starting at `secs`.
    #[allow(clippy::too_many_arguments)]
    fn drive(
        &mut self,
        template: &Fix,
        secs: f64,
        from: (f64, f64),
        to: (f64, f64),
        n: usize,
        step: f64,
    ) -> f64 {
        for i in 0..n {
            let k = if n > 1 {
                i as f64 / (n - 1) as f64
            } else {
                0.0
            };
            let mut f = template.clone();
            f.secs = secs + i as f64 * step;
            f.east = from.0 + (to.0 - from.0) * k;
            f.north = from.1 + (to.1 - from.1) * k;
            self.feed(&f);
        }
        secs + n as f64 * step
    }

    fn violations(&self, kind: ViolationKind) -> Vec<&ViolationEvent> {
        self.events
            .iter()
            .filter_map(|e| match e {
                EngineEvent::Violation(v) if v.violation.kind == kind => Some(v),
                _ => None,
            })
            .collect()
    }

    fn ids(&self, kind: ViolationKind) -> BTreeSet<String> {
        self.violations(kind)
            .iter()
            .map(|v| v.violation.id.clone())
            .collect()
    }

    fn opened(&self, kind: ViolationKind) -> usize {
        self.violations(kind)
            .iter()
            .filter(|v| v.change == ViolationChange::Opened)
            .count()
    }

    fn last(&self, kind: ViolationKind) -> &ViolationEvent {
        self.violations(kind)
            .last()
            .copied()
            .unwrap_or_else(|| panic!("no {kind} violation; events: {:#?}", self.kinds()))
    }

    fn kinds(&self) -> Vec<(ViolationKind, ViolationChange)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                EngineEvent::Violation(v) => Some((v.violation.kind, v.change)),
                _ => None,
            })
            .collect()
    }

    fn classes(&self) -> Vec<&PositionClass> {
        self.events
            .iter()
            .filter_map(|e| match e {
                EngineEvent::Classified(c) => Some(c),
                _ => None,
            })
            .collect()
    }
}

fn secs_of(t: DateTime<Utc>) -> f64 {
    (t - t0()).num_milliseconds() as f64 / 1000.0
}

/// Loads at s1 for three minutes, then leaves east along the route; returns the time.
fn load_at_site(sim: &mut Sim, v: &str, sensors: bool) -> f64 {
    let base = Fix::new(v, 0.0, 0.0, 0.0, 0.0);
    let base = if sensors { base.empty() } else { base };
    let mut t = sim.drive(&base, 0.0, (-50.0, 0.0), (0.0, 0.0), 6, 20.0);
    let loaded = if sensors { base.clone().loaded() } else { base };
    t = sim.drive(&loaded, t, (0.0, 0.0), (20.0, 0.0), 6, 20.0);
    t
}

#[test]
fn route_deviation_is_one_episode_with_evidence() {
    let mut sim = Sim::new();
    let mut t = load_at_site(&mut sim, "v1", true);
    let drive = Fix::new("v1", 0.0, 0.0, 0.0, 40.0).loaded();
    t = sim.drive(&drive, t, (150.0, 0.0), (1000.0, 0.0), 8, 15.0);
    let off_start = t;
    // 300 m north of the route for 75 s (opens at N = 3, T = 60 s), then one stray fix back
    // in the corridor (does not close: 2 fixes needed), then off route again.
    t = sim.drive(&drive, t, (1100.0, 300.0), (1300.0, 300.0), 6, 15.0);
    t = sim.drive(&drive, t, (1350.0, 50.0), (1350.0, 50.0), 1, 15.0);
    t = sim.drive(&drive, t, (1400.0, 300.0), (1600.0, 300.0), 4, 15.0);
    let back = t;
    t = sim.drive(&drive, t, (1700.0, 0.0), (3000.0, 0.0), 6, 15.0);
    let _ = t;

    assert_eq!(
        sim.ids(ViolationKind::RouteDeviation).len(),
        1,
        "{:?}",
        sim.kinds()
    );
    assert_eq!(sim.opened(ViolationKind::RouteDeviation), 1);
    let closed = sim.last(ViolationKind::RouteDeviation);
    assert_eq!(closed.change, ViolationChange::Closed);
    let v = &closed.violation;
    assert_eq!(v.status, ViolationStatus::Closed);
    assert_eq!(secs_of(v.started_at), off_start);
    assert_eq!(v.ended_at.map(secs_of), Some(back));
    assert_eq!(v.vehicle_id.as_deref(), Some("v1"));
    assert_eq!(v.company_id.as_deref(), Some("c1"));
    assert_eq!(v.permit_id.as_deref(), Some("p1"));
    let ev = &v.evidence;
    assert_eq!(ev["rule"], "route_deviation");
    assert_eq!(ev["parameters"]["debounce"]["min_fixes"], 3);
    assert_eq!(ev["fences"][0]["id"], "r1");
    assert_eq!(ev["fences"][0]["version"], 4);
    assert_eq!(ev["permit"]["number"], "LZ-p1");
    // 10 off-route fixes, the stray one and the first fix back (the second one closes it).
    assert_eq!(ev["positions_total"], 12);
    assert_eq!(ev["positions"][0]["raw"], "7e02007e");
    let max = ev["observed"]["max_distance_from_route_m"]
        .as_f64()
        .expect("distance");
    assert!((max - 300.0).abs() < 1.0, "max distance {max}");
}

#[test]
fn short_deviation_is_not_a_violation() {
    let mut sim = Sim::new();
    let mut t = load_at_site(&mut sim, "v1", true);
    let drive = Fix::new("v1", 0.0, 0.0, 0.0, 40.0).loaded();
    t = sim.drive(&drive, t, (150.0, 0.0), (1000.0, 0.0), 5, 15.0);
    // Two fixes off route (30 s): below N = 3 and T = 60 s.
    t = sim.drive(&drive, t, (1100.0, 300.0), (1200.0, 300.0), 2, 15.0);
    sim.drive(&drive, t, (1300.0, 0.0), (2000.0, 0.0), 4, 15.0);
    assert!(sim.violations(ViolationKind::RouteDeviation).is_empty());
}

#[test]
fn no_flapping_when_parked_on_a_fence_edge() {
    let mut sim = Sim::new();
    // Parked on the east edge of s1 (x = 100 m), fixes jitter +-12 m across it.
    let jitter = [-12.0, 9.0, -3.0, 11.0, -8.0, 6.0, 12.0, -11.0, 2.0, -6.0];
    for i in 0..200 {
        let f = Fix::new(
            "v1",
            i as f64 * 10.0,
            100.0 + jitter[i % 10],
            jitter[(i + 3) % 10],
            0.0,
        )
        .empty();
        sim.feed(&f);
    }
    let inside: Vec<bool> = sim
        .classes()
        .iter()
        .map(|c| c.fences.iter().any(|f| &*f.id == "s1"))
        .collect();
    let changes = inside.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        changes <= 1,
        "membership flapped {changes} times: {inside:?}"
    );

    // The same at the edge of a restricted zone: at most one episode.
    let mut sim = Sim::new();
    for i in 0..200 {
        let f = Fix::new("v1", i as f64 * 10.0, 2100.0 + jitter[i % 10], -700.0, 0.0);
        sim.feed(&f);
    }
    assert!(
        sim.ids(ViolationKind::RestrictedZone).len() <= 1,
        "{:?}",
        sim.kinds()
    );
}

#[test]
fn restricted_zone_passed_between_fixes_still_counts() {
    let mut sim = Sim::new();
    // 60 km/h past the 30 m school zone z1 (at 2000 m east, 400 m north), fixes every 10 s
    // (167 m apart): no fix lands inside.
    let f = Fix::new("v1", 0.0, 0.0, 0.0, 60.0);
    sim.drive(&f, 0.0, (1250.0, 405.0), (2750.0, 395.0), 10, 10.0);
    for c in sim.classes() {
        assert!(!c.fences.iter().any(|f| &*f.id == "z1"), "a fix was inside");
    }
    assert_eq!(
        sim.opened(ViolationKind::RestrictedZone),
        1,
        "{:?}",
        sim.kinds()
    );
    let v = &sim.last(ViolationKind::RestrictedZone).violation;
    assert_eq!(v.status, ViolationStatus::Closed);
    assert_eq!(v.evidence["inferred"], "segment_crossing");
    assert_eq!(v.evidence["subject"], "z1");
    assert_eq!(v.evidence["fences"][0]["version"], 2);
    let inside = v.evidence["observed"]["inside_length_m"]
        .as_f64()
        .expect("length");
    assert!((inside - 30.0).abs() < 1.0, "inside {inside}");

    // Passing 40 m beside it does not count.
    let mut sim = Sim::new();
    sim.drive(&f, 0.0, (1250.0, 445.0), (2750.0, 445.0), 10, 10.0);
    assert!(sim.violations(ViolationKind::RestrictedZone).is_empty());
}

#[test]
fn restricted_zone_entry_opens_and_exit_closes() {
    let mut sim = Sim::new();
    let f = Fix::new("v1", 0.0, 0.0, 0.0, 20.0);
    let mut t = sim.drive(&f, 0.0, (2000.0, -900.0), (2000.0, -820.0), 3, 10.0);
    let entry = t;
    t = sim.drive(&f, t, (2000.0, -760.0), (2000.0, -640.0), 6, 10.0);
    let exit = t;
    sim.drive(&f, t, (2000.0, -560.0), (2000.0, -400.0), 4, 10.0);
    assert_eq!(sim.ids(ViolationKind::RestrictedZone).len(), 1);
    let v = &sim.last(ViolationKind::RestrictedZone).violation;
    assert_eq!(secs_of(v.started_at), entry);
    assert_eq!(v.ended_at.map(secs_of), Some(exit));
    assert_eq!(v.severity, 3);
}

#[test]
fn time_window_in_zone_and_on_permit() {
    // Moving inside the core zone at 10:00 (open only 22:00-06:00).
    let mut sim = Sim::new();
    let f = Fix::new("v1", 0.0, 0.0, 0.0, 30.0);
    sim.drive(&f, 0.0, (5700.0, 3000.0), (6300.0, 3000.0), 8, 10.0);
    sim.drive(&f, 80.0, (6700.0, 3000.0), (7000.0, 3000.0), 3, 10.0);
    assert_eq!(
        sim.ids(ViolationKind::TimeWindow).len(),
        1,
        "{:?}",
        sim.kinds()
    );
    assert_eq!(
        sim.last(ViolationKind::TimeWindow).violation.evidence["subject"],
        "tz"
    );

    // The same at 23:00 local is allowed.
    let mut sim = Sim::new();
    let late = 13.0 * 3600.0;
    sim.drive(&f, late, (5700.0, 3000.0), (6300.0, 3000.0), 8, 10.0);
    assert!(sim.violations(ViolationKind::TimeWindow).is_empty());

    // v4's permit allows transport only 22:00-06:00: a loaded trip at 10:00 breaches it.
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v4", true);
    let drive = Fix::new("v4", 0.0, 0.0, 0.0, 40.0).loaded();
    sim.drive(&drive, t, (150.0, 0.0), (2000.0, 0.0), 10, 15.0);
    assert_eq!(
        sim.ids(ViolationKind::TimeWindow).len(),
        1,
        "{:?}",
        sim.kinds()
    );
    assert_eq!(
        sim.last(ViolationKind::TimeWindow)
            .violation
            .permit_id
            .as_deref(),
        Some("p4")
    );
}

#[test]
fn speeding_needs_ten_seconds_over_limit_plus_tolerance() {
    let mut sim = Sim::new();
    let f = Fix::new("v1", 0.0, 0.0, 0.0, 70.0);
    // Default limit 60 + 10 % = 66: 70 km/h for 15 s (4 fixes at 5 s).
    let t = sim.drive(&f, 0.0, (500.0, 0.0), (800.0, 0.0), 4, 5.0);
    let mut slow = f.clone();
    slow.speed = 50.0;
    sim.drive(&slow, t, (850.0, 0.0), (1200.0, 0.0), 4, 5.0);
    assert_eq!(sim.ids(ViolationKind::Speeding).len(), 1);
    let v = &sim.last(ViolationKind::Speeding).violation;
    assert_eq!(v.evidence["observed"]["max_speed_kmh"], 70.0);
    assert_eq!(v.evidence["observed"]["limit_kmh"], 60.0);
    assert_eq!(v.status, ViolationStatus::Closed);

    // 64 km/h is within the tolerance; one fix at 90 is too short.
    let mut sim = Sim::new();
    let mut f64kmh = f.clone();
    f64kmh.speed = 64.0;
    let t = sim.drive(&f64kmh, 0.0, (500.0, 0.0), (900.0, 0.0), 6, 5.0);
    let mut burst = f.clone();
    burst.speed = 90.0;
    let t = sim.drive(&burst, t, (950.0, 0.0), (950.0, 0.0), 1, 5.0);
    sim.drive(&f64kmh, t, (1000.0, 0.0), (1200.0, 0.0), 3, 5.0);
    assert!(
        sim.violations(ViolationKind::Speeding).is_empty(),
        "{:?}",
        sim.kinds()
    );

    // In the 30 km/h zone, 40 km/h is speeding, and the zone is in the evidence.
    let mut sim = Sim::new();
    let mut z = f.clone();
    z.speed = 40.0;
    sim.drive(&z, 0.0, (7800.0, 0.0), (8200.0, 0.0), 6, 5.0);
    let v = &sim.last(ViolationKind::Speeding).violation;
    assert_eq!(v.evidence["observed"]["limit_kmh"], 30.0);
    assert!(
        v.evidence["fences"]
            .as_array()
            .is_some_and(|a| a.iter().any(|f| f["id"] == "sz"))
    );
}

#[test]
fn illegal_dumping_by_lift_by_unloading_and_by_sensorless_stop() {
    // (a) Lift raised 1 km from any disposal ground.
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let drive = Fix::new("v1", 0.0, 0.0, 0.0, 30.0).loaded();
    let t = sim.drive(&drive, t, (200.0, 0.0), (1000.0, 0.0), 4, 15.0);
    let mut lift = drive.clone();
    lift.speed = 0.0;
    lift.lift = Some(true);
    let t2 = sim.drive(&lift, t, (1000.0, 0.0), (1000.0, 0.0), 3, 15.0);
    let v = &sim.last(ViolationKind::IllegalDumping).violation;
    assert_eq!(v.severity, 3);
    assert_eq!(v.evidence["subject"], "lift");
    assert_eq!(secs_of(v.started_at), t);
    let _ = t2;

    // ... but not inside the disposal ground.
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let t = sim.drive(&drive, t, (200.0, 0.0), (3950.0, 0.0), 10, 30.0);
    let t = sim.drive(&lift, t, (4000.0, 0.0), (4000.0, 0.0), 3, 15.0);
    let empty = Fix::new("v1", 0.0, 0.0, 0.0, 0.0).empty();
    sim.drive(&empty, t, (4000.0, 0.0), (4000.0, 0.0), 3, 15.0);
    assert!(
        sim.violations(ViolationKind::IllegalDumping).is_empty(),
        "{:?}",
        sim.kinds()
    );

    // (b) Loaded to empty (confirmed over two fixes) outside any disposal ground.
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let t = sim.drive(&drive, t, (200.0, 0.0), (1500.0, 0.0), 5, 15.0);
    let mut stopped_empty = Fix::new("v1", 0.0, 0.0, 0.0, 0.0).empty();
    stopped_empty.lift = Some(false);
    sim.drive(&stopped_empty, t, (1500.0, 0.0), (1500.0, 0.0), 4, 15.0);
    assert_eq!(sim.ids(ViolationKind::IllegalDumping).len(), 1);
    let v = &sim.last(ViolationKind::IllegalDumping).violation;
    assert_eq!(v.evidence["subject"], "unload");
    assert_eq!(v.status, ViolationStatus::Closed);

    // (c) No sensors: leaves the site after a long dwell (so loaded), stops 6 minutes in the
    // open, 1 km from any site or disposal ground.
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v2", false);
    let plain = Fix::new("v2", 0.0, 0.0, 0.0, 30.0);
    let t = sim.drive(&plain, t, (200.0, 0.0), (1500.0, 0.0), 5, 15.0);
    let mut stop = plain.clone();
    stop.speed = 0.0;
    let t = sim.drive(&stop, t, (1500.0, 0.0), (1502.0, 1.0), 25, 15.0);
    sim.drive(&plain, t, (1600.0, 0.0), (2000.0, 0.0), 3, 15.0);
    assert_eq!(
        sim.ids(ViolationKind::IllegalDumping).len(),
        1,
        "{:?}",
        sim.kinds()
    );
    let v = &sim.last(ViolationKind::IllegalDumping).violation;
    assert_eq!(v.severity, 2);
    assert_eq!(v.evidence["subject"], "stop");
    assert_eq!(v.status, ViolationStatus::Closed);

    // The same stop right next to the disposal ground is not suspicious.
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v2", false);
    let t = sim.drive(&plain, t, (200.0, 0.0), (3750.0, 0.0), 10, 30.0);
    sim.drive(&stop, t, (3800.0, 0.0), (3800.0, 0.0), 25, 15.0);
    assert!(
        sim.violations(ViolationKind::IllegalDumping).is_empty(),
        "{:?}",
        sim.kinds()
    );
}

#[test]
fn lid_open_while_loaded_and_moving_for_thirty_seconds() {
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let mut open = Fix::new("v1", 0.0, 0.0, 0.0, 30.0).loaded();
    open.lid = Some(true);
    let t = sim.drive(&open, t, (200.0, 0.0), (600.0, 0.0), 5, 10.0);
    let closed = Fix::new("v1", 0.0, 0.0, 0.0, 30.0).loaded();
    sim.drive(&closed, t, (700.0, 0.0), (900.0, 0.0), 3, 10.0);
    assert_eq!(sim.ids(ViolationKind::LidOpen).len(), 1);
    assert_eq!(
        sim.last(ViolationKind::LidOpen).change,
        ViolationChange::Closed
    );

    // 20 s is not enough; an empty truck with its lid open is not a breach.
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let t = sim.drive(&open, t, (200.0, 0.0), (400.0, 0.0), 3, 10.0);
    let t = sim.drive(&closed, t, (500.0, 0.0), (700.0, 0.0), 3, 10.0);
    let mut empty_open = Fix::new("v1", 0.0, 0.0, 0.0, 30.0).empty();
    empty_open.lid = Some(true);
    sim.drive(&empty_open, t, (800.0, 0.0), (1600.0, 0.0), 8, 10.0);
    assert!(
        sim.violations(ViolationKind::LidOpen).is_empty(),
        "{:?}",
        sim.kinds()
    );
}

#[test]
fn no_permit_when_a_vehicle_without_one_carries_waste() {
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v3", true);
    let drive = Fix::new("v3", 0.0, 0.0, 0.0, 30.0).loaded();
    sim.drive(&drive, t, (200.0, 0.0), (1200.0, 0.0), 6, 15.0);
    assert_eq!(
        sim.ids(ViolationKind::NoPermit).len(),
        1,
        "{:?}",
        sim.kinds()
    );
    let v = &sim.last(ViolationKind::NoPermit).violation;
    assert_eq!(v.severity, 3);
    assert_eq!(v.permit_id, None);
    // v1 holds a permit: nothing.
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let drive = Fix::new("v1", 0.0, 0.0, 0.0, 30.0).loaded();
    sim.drive(&drive, t, (200.0, 0.0), (1200.0, 0.0), 6, 15.0);
    assert!(sim.violations(ViolationKind::NoPermit).is_empty());
}

#[test]
fn unpermitted_site_after_dwelling_in_a_site_not_on_the_permit() {
    let mut sim = Sim::new();
    let f = Fix::new("v1", 0.0, 0.0, 0.0, 5.0).empty();
    let t = sim.drive(&f, 0.0, (0.0, -1300.0), (0.0, -1150.0), 4, 15.0);
    let mut parked = f.clone();
    parked.speed = 0.0;
    let t = sim.drive(&parked, t, (0.0, -1000.0), (10.0, -1000.0), 10, 15.0);
    sim.drive(&f, t, (0.0, -850.0), (0.0, -600.0), 4, 15.0);
    assert_eq!(
        sim.ids(ViolationKind::UnpermittedSite).len(),
        1,
        "{:?}",
        sim.kinds()
    );
    let v = &sim.last(ViolationKind::UnpermittedSite).violation;
    assert_eq!(v.evidence["subject"], "s2");
    assert_eq!(v.status, ViolationStatus::Closed);
    // Its own site is fine.
    let mut sim = Sim::new();
    load_at_site(&mut sim, "v1", true);
    assert!(sim.violations(ViolationKind::UnpermittedSite).is_empty());
}

#[test]
fn overload_above_rated_load_while_moving() {
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let mut heavy = Fix::new("v1", 0.0, 0.0, 0.0, 30.0).loaded();
    heavy.weight = Some(24_500.0);
    let t = sim.drive(&heavy, t, (200.0, 0.0), (800.0, 0.0), 6, 10.0);
    let mut ok = heavy.clone();
    ok.weight = Some(19_000.0);
    sim.drive(&ok, t, (900.0, 0.0), (1500.0, 0.0), 6, 10.0);
    assert_eq!(
        sim.ids(ViolationKind::Overload).len(),
        1,
        "{:?}",
        sim.kinds()
    );
    let v = &sim.last(ViolationKind::Overload).violation;
    assert_eq!(v.evidence["observed"]["max_weight_kg"], 24_500.0);
    assert_eq!(v.evidence["observed"]["rated_load_kg"], 20_000.0);
    // 21,500 kg is within the 10 % tolerance.
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    heavy.weight = Some(21_500.0);
    sim.drive(&heavy, t, (200.0, 0.0), (800.0, 0.0), 6, 10.0);
    assert!(sim.violations(ViolationKind::Overload).is_empty());
}

#[test]
fn offline_during_a_trip_opens_on_tick_and_closes_on_return() {
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let drive = Fix::new("v1", 0.0, 0.0, 0.0, 30.0).loaded();
    let t = sim.drive(&drive, t, (200.0, 0.0), (800.0, 0.0), 4, 15.0);
    let last = t - 15.0;
    sim.tick(last + 300.0);
    assert!(
        sim.violations(ViolationKind::Offline).is_empty(),
        "5 min is not yet offline"
    );
    sim.tick(last + 601.0);
    assert_eq!(sim.opened(ViolationKind::Offline), 1);
    assert_eq!(
        secs_of(sim.last(ViolationKind::Offline).violation.started_at),
        last
    );
    sim.tick(last + 900.0);
    assert_eq!(sim.opened(ViolationKind::Offline), 1, "not opened twice");
    let back = last + 1200.0;
    sim.drive(&drive, back, (2500.0, 0.0), (2600.0, 0.0), 2, 15.0);
    let v = sim.last(ViolationKind::Offline);
    assert_eq!(v.change, ViolationChange::Closed);
    assert_eq!(v.violation.ended_at.map(secs_of), Some(back));

    // A truck parked idle at its depot may switch off.
    let mut sim = Sim::new();
    let idle = Fix::new("v1", 0.0, -3000.0, -3000.0, 0.0).empty();
    sim.drive(&idle, 0.0, (-3000.0, -3000.0), (-3000.0, -3000.0), 3, 15.0);
    sim.tick(5000.0);
    assert!(sim.violations(ViolationKind::Offline).is_empty());
}

#[test]
fn gps_tamper_alarm_bits_jumps_and_shielding() {
    // Antenna cut (alarm bit 5).
    let mut sim = Sim::new();
    let mut f = Fix::new("v1", 0.0, 0.0, 0.0, 30.0);
    let t = sim.drive(&f, 0.0, (500.0, 0.0), (700.0, 0.0), 3, 10.0);
    f.alarm = 1 << 5;
    let t = sim.drive(&f, t, (800.0, 0.0), (900.0, 0.0), 3, 10.0);
    f.alarm = 0;
    sim.drive(&f, t, (1000.0, 0.0), (1200.0, 0.0), 3, 10.0);
    assert_eq!(sim.ids(ViolationKind::GpsTamper).len(), 1);
    let v = &sim.last(ViolationKind::GpsTamper).violation;
    assert_eq!(v.evidence["subject"], "alarm");
    assert_eq!(v.status, ViolationStatus::Closed);

    // A 6 km jump in 10 s, then back: one jump episode, and the fences of the jumped fix
    // (inside the disposal ground) are not used.
    let mut sim = Sim::new();
    let f = Fix::new("v1", 0.0, 0.0, 0.0, 30.0);
    let t = sim.drive(&f, 0.0, (-2000.0, 0.0), (-1800.0, 0.0), 3, 10.0);
    let t = sim.drive(&f, t, (4000.0, 0.0), (4000.0, 0.0), 1, 10.0);
    sim.drive(&f, t, (-1700.0, 0.0), (-1500.0, 0.0), 3, 10.0);
    assert_eq!(
        sim.ids(ViolationKind::GpsTamper).len(),
        1,
        "{:?}",
        sim.kinds()
    );
    assert_eq!(
        sim.last(ViolationKind::GpsTamper).violation.evidence["subject"],
        "jump"
    );
    let classes = sim.classes();
    assert!(classes.iter().any(|c| c.suspect_jump));
    assert!(
        classes
            .iter()
            .all(|c| !c.fences.iter().any(|f| &*f.id == "d1"))
    );

    // No fix for 6 minutes during a trip (flagged positions keep coming).
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let drive = Fix::new("v1", 0.0, 0.0, 0.0, 30.0).loaded();
    let t = sim.drive(&drive, t, (200.0, 0.0), (600.0, 0.0), 3, 15.0);
    let mut nofix = drive.clone();
    nofix.flags = PositionFlags::NO_FIX;
    let t = sim.drive(&nofix, t, (600.0, 0.0), (600.0, 0.0), 26, 15.0);
    sim.drive(&drive, t, (2000.0, 0.0), (2100.0, 0.0), 2, 15.0);
    let v = &sim.last(ViolationKind::GpsTamper).violation;
    assert_eq!(v.evidence["subject"], "no_fix");
    assert_eq!(v.status, ViolationStatus::Closed);
}

#[test]
fn flagged_positions_are_not_judged_against_fences() {
    let mut sim = Sim::new();
    let mut f = Fix::new("v1", 0.0, 2000.0, -700.0, 20.0);
    f.flags = PositionFlags::NO_FIX;
    sim.drive(&f, 0.0, (2000.0, -700.0), (2010.0, -700.0), 10, 10.0);
    f.flags = PositionFlags::DUPLICATE;
    sim.drive(&f, 100.0, (2000.0, -700.0), (2010.0, -700.0), 10, 10.0);
    assert!(sim.violations(ViolationKind::RestrictedZone).is_empty());
    assert!(sim.classes().is_empty());
}

#[test]
fn unregistered_terminal_is_one_episode_per_terminal() {
    let mut sim = Sim::new();
    let mut f = Fix::new("x", 0.0, 100.0, 100.0, 20.0);
    f.vehicle = None;
    f.phone = "013800000001".into();
    f.flags = PositionFlags::UNREGISTERED;
    sim.drive(&f, 0.0, (100.0, 100.0), (900.0, 100.0), 20, 10.0);
    let mut g = f.clone();
    g.phone = "13800000002".into();
    sim.drive(&g, 0.0, (100.0, 100.0), (900.0, 100.0), 5, 10.0);
    let ids = sim.ids(ViolationKind::UnregisteredTerminal);
    assert_eq!(ids.len(), 2);
    assert_eq!(sim.opened(ViolationKind::UnregisteredTerminal), 2);
    let first = sim
        .violations(ViolationKind::UnregisteredTerminal)
        .into_iter()
        .find(|v| v.violation.phone == "013800000001")
        .expect("first");
    assert_eq!(first.violation.vehicle_id, None);
    // Closed after a day of silence.
    sim.tick(200.0 + 24.0 * 3600.0);
    let closed = sim
        .violations(ViolationKind::UnregisteredTerminal)
        .into_iter()
        .filter(|v| v.change == ViolationChange::Closed)
        .count();
    assert_eq!(closed, 2);
}

/// A loaded trip with a 5-minute blind area (30 fixes, off route from its 10th fix) followed
/// by live fixes still off route, then back on route.
fn blind_area_trip(sim: &mut Sim) -> (Vec<Position>, f64) {
    let t = load_at_site(sim, "v1", true);
    let drive = Fix::new("v1", 0.0, 0.0, 0.0, 30.0).loaded();
    let t = sim.drive(&drive, t, (200.0, 0.0), (900.0, 0.0), 5, 10.0);
    // Blind area: recorded by the terminal, not sent.
    let mut blind = Vec::new();
    let mut b = drive.clone();
    b.source = PositionSource::BlindArea;
    for i in 0..30 {
        b.secs = t + i as f64 * 10.0;
        b.east = 1000.0 + i as f64 * 60.0;
        b.north = if i >= 10 { 400.0 } else { 0.0 };
        blind.push(sim.position(&b));
    }
    let t = t + 300.0;
    // Coverage is back: live fixes still 400 m off route, then back on it.
    let t = sim.drive(&drive, t, (2900.0, 400.0), (3100.0, 400.0), 9, 10.0);
    sim.drive(&drive, t, (3200.0, 0.0), (3500.0, 0.0), 4, 10.0);
    (blind, t)
}

#[test]
fn late_blind_area_batch_extends_the_known_episode() {
    let mut sim = Sim::new();
    let (blind, _) = blind_area_trip(&mut sim);
    let ids_live = sim.ids(ViolationKind::RouteDeviation);
    assert_eq!(ids_live.len(), 1, "{:?}", sim.kinds());
    let live_start = sim.last(ViolationKind::RouteDeviation).violation.started_at;
    let arrival = blind.last().map(|p| p.time).expect("blind") + chrono::Duration::minutes(30);
    for p in &blind {
        sim.feed_at(p, arrival);
    }
    // Settles after late_settle_secs without more late data.
    sim.shard.tick(arrival + chrono::Duration::seconds(5));
    let before = sim.events.len();
    let out = sim.shard.tick(arrival + chrono::Duration::seconds(11));
    sim.events.extend(out);
    assert!(sim.events.len() > before, "the late batch was judged");
    assert_eq!(
        sim.ids(ViolationKind::RouteDeviation),
        ids_live,
        "no second violation"
    );
    assert_eq!(sim.opened(ViolationKind::RouteDeviation), 1);
    let v = &sim.last(ViolationKind::RouteDeviation).violation;
    assert!(
        v.started_at < live_start,
        "the episode now starts in the blind area"
    );
    assert_eq!(v.started_at, blind[10].time);
    assert_eq!(v.evidence["late_data"], true);
    assert_eq!(v.status, ViolationStatus::Closed);

    // The same batch sent again changes nothing new.
    for p in &blind {
        sim.feed_at(p, arrival + chrono::Duration::minutes(5));
    }
    let out = sim
        .shard
        .tick(arrival + chrono::Duration::minutes(5) + chrono::Duration::seconds(11));
    sim.events.extend(out);
    assert_eq!(sim.ids(ViolationKind::RouteDeviation), ids_live);
    assert_eq!(sim.opened(ViolationKind::RouteDeviation), 1);
}

#[test]
fn late_batch_alone_opens_and_closes_its_own_episode() {
    // The live track never deviates; only the late data does.
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let drive = Fix::new("v1", 0.0, 0.0, 0.0, 30.0).loaded();
    let t_blind = sim.drive(&drive, t, (200.0, 0.0), (900.0, 0.0), 5, 10.0);
    let mut late = Vec::new();
    let mut b = drive.clone();
    // A fix every 30 s; the turn off the route is at a plausible speed (not a GPS jump).
    for i in 0..20 {
        b.secs = t_blind + i as f64 * 30.0;
        b.east = 1000.0 + i as f64 * 50.0;
        b.north = if (5..15).contains(&i) { 500.0 } else { 0.0 };
        late.push(sim.position(&b));
    }
    sim.drive(
        &drive,
        t_blind + 600.0,
        (2000.0, 0.0),
        (2500.0, 0.0),
        5,
        10.0,
    );
    assert!(sim.violations(ViolationKind::RouteDeviation).is_empty());
    let arrival = t0() + chrono::Duration::hours(2);
    // Out of order within the batch.
    for p in late.iter().rev() {
        sim.feed_at(p, arrival);
    }
    let out = sim.shard.tick(arrival + chrono::Duration::seconds(20));
    sim.events.extend(out);
    assert_eq!(
        sim.ids(ViolationKind::RouteDeviation).len(),
        1,
        "{:?}",
        sim.kinds()
    );
    let v = &sim.last(ViolationKind::RouteDeviation).violation;
    assert_eq!(v.started_at, late[5].time);
    assert_eq!(v.ended_at, Some(late[15].time));
    assert_eq!(v.evidence["late_data"], true);
    let changes: Vec<ViolationChange> = sim
        .violations(ViolationKind::RouteDeviation)
        .iter()
        .map(|v| v.change)
        .collect();
    assert_eq!(
        changes,
        vec![ViolationChange::Opened, ViolationChange::Closed]
    );
}

#[test]
fn reorder_window_puts_shuffled_positions_in_order() {
    let run = |shuffle: bool| {
        let mut c = EngineConfig::default();
        c.ordering.reorder_window_secs = 30;
        let mut sim = Sim::with(c);
        let mut fixes = Vec::new();
        let t = 0.0;
        let f = Fix::new("v1", 0.0, 0.0, 0.0, 20.0);
        for i in 0..30 {
            let mut g = f.clone();
            g.secs = t + i as f64 * 5.0;
            g.east = 2000.0;
            g.north = -1000.0 + i as f64 * 25.0;
            fixes.push(sim.position(&g));
        }
        if shuffle {
            // Swap neighbours: each pair arrives in the wrong order.
            for pair in fixes.chunks_mut(2) {
                pair.reverse();
            }
        }
        for p in &fixes {
            let now = p.time;
            sim.feed_at(p, now);
        }
        let out = sim.shard.tick(t0() + chrono::Duration::seconds(600));
        sim.events.extend(out);
        let kinds = sim.kinds();
        let ids = sim.ids(ViolationKind::RestrictedZone);
        let times: Vec<i64> = sim.classes().iter().map(|c| c.time.timestamp()).collect();
        (kinds, ids, times)
    };
    let (kinds_a, ids_a, times_a) = run(false);
    let (kinds_b, ids_b, times_b) = run(true);
    assert_eq!(ids_a.len(), 1, "{kinds_a:?}");
    assert_eq!(ids_a, ids_b);
    assert_eq!(kinds_a, kinds_b);
    let mut sorted = times_b.clone();
    sorted.sort_unstable();
    assert_eq!(times_b, sorted, "judged in GNSS-time order");
    assert_eq!(times_a, times_b);
}

#[test]
fn one_long_deviation_is_one_violation() {
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let drive = Fix::new("v1", 0.0, 0.0, 0.0, 20.0).loaded();
    let t = sim.drive(&drive, t, (200.0, 0.0), (500.0, 0.0), 3, 10.0);
    // 30 minutes off route at 10 s: 180 fixes, wandering 150-450 m from the line.
    let mut f = drive.clone();
    for i in 0..180 {
        f.secs = t + i as f64 * 10.0;
        f.east = 600.0 + (i as f64 * 7.0) % 2000.0;
        f.north = 300.0 + 150.0 * ((i as f64) / 9.0).sin();
        sim.feed(&f);
    }
    sim.drive(&drive, t + 1800.0, (2700.0, 0.0), (3000.0, 0.0), 3, 10.0);
    assert_eq!(sim.ids(ViolationKind::RouteDeviation).len(), 1);
    assert_eq!(sim.opened(ViolationKind::RouteDeviation), 1);
    let closes = sim
        .violations(ViolationKind::RouteDeviation)
        .iter()
        .filter(|v| v.change == ViolationChange::Closed)
        .count();
    assert_eq!(closes, 1);
    let v = &sim.last(ViolationKind::RouteDeviation).violation;
    assert_eq!(v.evidence["positions_total"], 181);
    assert_eq!(v.evidence["positions"].as_array().map(Vec::len), Some(60));
    // Updates were throttled to one every five minutes.
    let updates = sim
        .violations(ViolationKind::RouteDeviation)
        .iter()
        .filter(|v| v.change == ViolationChange::Updated)
        .count();
    assert!((5..=6).contains(&updates), "{updates} updates");
}

#[test]
fn same_data_gives_same_violation_ids() {
    let run = || {
        let mut sim = Sim::new();
        let (blind, _) = blind_area_trip(&mut sim);
        let _ = blind;
        let mut ids: Vec<String> = ViolationKind::ALL
            .iter()
            .flat_map(|k| sim.ids(*k))
            .collect();
        ids.sort();
        ids
    };
    let a = run();
    assert!(!a.is_empty());
    assert_eq!(a, run());
}

#[test]
fn registry_swap_takes_effect_without_stopping() {
    let mut sim = Sim::new();
    let f = Fix::new("v1", 0.0, 0.0, 0.0, 20.0);
    // Inside z2 (restricted): episode open.
    sim.drive(&f, 0.0, (2000.0, -720.0), (2000.0, -700.0), 4, 10.0);
    assert_eq!(sim.opened(ViolationKind::RestrictedZone), 1);
    // The bureau lifts the restriction (removes z2) and adds a speed zone here.
    let mut reg = registry();
    reg.zones.retain(|z| z.id != "z2");
    reg.zones.push(Zone {
        id: "sz2".into(),
        name: "Slow 2".into(),
        kind: ZoneKind::Speed,
        geometry: square(2000.0, -700.0, 300.0),
        allowed: vec![],
        speed_limit_kmh: Some(10.0),
        version: 1,
    });
    let report = sim.engine.swap_registry(&reg);
    assert!(report.skipped.is_empty());
    sim.drive(&f, 40.0, (2000.0, -690.0), (2000.0, -600.0), 4, 10.0);
    let v = sim.last(ViolationKind::RestrictedZone);
    assert_eq!(v.change, ViolationChange::Closed, "{:?}", sim.kinds());
    assert_eq!(
        sim.opened(ViolationKind::Speeding),
        1,
        "the new zone applies"
    );
    let class = sim.classes().last().map(|c| (*c).clone()).expect("class");
    assert!(class.fences.iter().any(|f| &*f.id == "sz2"));
    assert!(!class.fences.iter().any(|f| &*f.id == "z2"));
}

#[test]
fn classification_reports_fences_phase_and_state() {
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let c = sim.classes().last().map(|c| (*c).clone()).expect("class");
    assert_eq!(c.phase, haulwatch::engine::TripPhase::AtSite);
    assert!(c.fences.iter().any(|f| &*f.id == "s1"));
    assert!(
        c.fences.iter().any(|f| &*f.id == "r1"),
        "route corridor passes the site"
    );
    let drive = Fix::new("v1", 0.0, 0.0, 0.0, 30.0).loaded();
    sim.drive(&drive, t, (300.0, 0.0), (800.0, 0.0), 4, 15.0);
    let c = sim.classes().last().map(|c| (*c).clone()).expect("class");
    assert_eq!(c.phase, haulwatch::engine::TripPhase::Loaded);
    assert!(c.moving && c.loaded);
    assert_eq!(c.permit_id.as_deref(), Some("p1"));
    assert_eq!(c.vehicle_id.as_deref(), Some("v1"));
    assert!(c.fences.iter().all(|f| &*f.id != "s1"));
    let json = serde_json::to_value(&c).expect("json");
    assert_eq!(json["phase"], "loaded");
}

#[test]
fn blind_area_batch_annotates_the_offline_episode_it_explains() {
    let mut sim = Sim::new();
    let t = load_at_site(&mut sim, "v1", true);
    let drive = Fix::new("v1", 0.0, 0.0, 0.0, 30.0).loaded();
    let t = sim.drive(&drive, t, (200.0, 0.0), (600.0, 0.0), 3, 15.0);
    let last = t - 15.0;
    // Coverage lost: the terminal records 20 fixes but sends nothing.
    let mut blind = Vec::new();
    let mut b = drive.clone();
    b.source = PositionSource::BlindArea;
    for i in 1..=20 {
        b.secs = last + i as f64 * 30.0;
        b.east = 600.0 + i as f64 * 100.0;
        blind.push(sim.position(&b));
    }
    sim.tick(last + 660.0);
    assert_eq!(sim.opened(ViolationKind::Offline), 1);
    // Back in coverage: a live fix, then the 0x0704 batch.
    let back = last + 660.0;
    sim.drive(&drive, back, (2700.0, 0.0), (2800.0, 0.0), 2, 15.0);
    let offline = sim.last(ViolationKind::Offline);
    assert_eq!(offline.change, ViolationChange::Closed);
    assert_eq!(offline.violation.ended_at.map(secs_of), Some(back));
    let arrival = t0() + chrono::Duration::milliseconds(((back + 40.0) * 1000.0) as i64);
    for p in &blind {
        sim.feed_at(p, arrival);
    }
    let out = sim.shard.tick(arrival + chrono::Duration::seconds(11));
    sim.events.extend(out);
    let v = sim.last(ViolationKind::Offline);
    assert_eq!(v.change, ViolationChange::Updated, "{:?}", sim.kinds());
    assert_eq!(sim.opened(ViolationKind::Offline), 1);
    assert_eq!(
        v.violation.evidence["observed"]["blind_area_backfill_positions"],
        20
    );
    // The late fixes were on route: no other violation came of them.
    assert!(sim.violations(ViolationKind::RouteDeviation).is_empty());
}

#[test]
fn a_loaded_haul_from_site_to_disposal_ground_is_one_trip() {
    let mut sim = Sim::new();
    let mut t = load_at_site(&mut sim, "v1", true);
    let drive = Fix::new("v1", 0.0, 0.0, 0.0, 40.0).loaded();
    t = sim.drive(&drive, t, (150.0, 0.0), (3700.0, 0.0), 12, 20.0);
    let arrival = t;
    // Into the disposal ground and tipping there.
    t = sim.drive(&drive, t, (3950.0, 0.0), (4000.0, 0.0), 6, 20.0);
    let empty = Fix::new("v1", 0.0, 0.0, 0.0, 0.0).empty();
    t = sim.drive(&empty, t, (4000.0, 0.0), (4000.0, 0.0), 6, 20.0);
    // And back empty through the site: no second trip.
    let _ = sim.drive(&empty, t, (3700.0, 0.0), (0.0, 0.0), 10, 20.0);
    let trips: Vec<_> = sim
        .events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Trip(trip) => Some(trip.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(trips.len(), 1, "{trips:?}");
    let trip = &trips[0];
    assert_eq!(trip.vehicle_id.as_deref(), Some("v1"));
    assert_eq!(trip.company_id.as_deref(), Some("c1"));
    assert_eq!(trip.permit_id.as_deref(), Some("p1"));
    assert_eq!(trip.site_id.as_deref(), Some("s1"));
    assert_eq!(trip.disposal_ground_id, "d1");
    assert!(trip.loaded_at < trip.arrived_at);
    assert!(
        secs_of(trip.arrived_at) >= arrival,
        "entry is confirmed inside the ground"
    );
}
