//! Reproducible synthetic registries and points for benches, the bench script and tests.
//!
//! The benchmark data set of issue 5: 10,000 polygon fences (8-128 vertices, radius 50-300 m)
//! and 500 route corridors (20-80 segments of 100-400 m, 50 m either side) over the Liuzhou box
//! (lon 109.30-109.60, lat 24.20-24.50), plus uniformly random points. Everything derives from
//! one seed through `rand`'s `StdRng`, so the same seed gives the same data with the locked
//! dependency versions.

use chrono::NaiveTime;
use geo_types::{Coord, LineString, MultiLineString, MultiPolygon, Polygon};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::engine::metric::LocalMetric;
use crate::model::{
    DailyWindow, DisposalGround, Registry, Route, Site, Weekdays, WeeklyWindow, Zone, ZoneKind,
};

/// Shape of a synthetic fence set.
#[derive(Debug, Clone, PartialEq)]
pub struct FenceSpec {
    /// Seed of the generator.
    pub seed: u64,
    /// Number of polygon fences (sites, disposal grounds and zones, mixed).
    pub polygons: usize,
    /// Vertex count range of a polygon, inclusive.
    pub vertices: (usize, usize),
    /// Radius range of a polygon, metres.
    pub radius_m: (f64, f64),
    /// Share of polygons that get a hole (exercises even-odd rings).
    pub hole_share: f64,
    /// Number of routes.
    pub routes: usize,
    /// Segment count range of a route, inclusive.
    pub segments: (usize, usize),
    /// Segment length range, metres.
    pub segment_m: (f64, f64),
    /// Corridor half-width of every route, metres.
    pub corridor_m: f64,
    /// Area: min lon, min lat, max lon, max lat.
    pub bbox: [f64; 4],
}

/// The Liuzhou box used by the benchmark.
pub const LIUZHOU_BOX: [f64; 4] = [109.30, 24.20, 109.60, 24.50];

impl FenceSpec {
    /// The benchmark data set of issue 5.
    pub fn benchmark() -> FenceSpec {
        FenceSpec {
            seed: 20_260_805,
            polygons: 10_000,
            vertices: (8, 128),
            radius_m: (50.0, 300.0),
            hole_share: 0.02,
            routes: 500,
            segments: (20, 80),
            segment_m: (100.0, 400.0),
            corridor_m: 50.0,
            bbox: LIUZHOU_BOX,
        }
    }

    /// A smaller set with the same shape, for tests.
    pub fn small(seed: u64, polygons: usize, routes: usize) -> FenceSpec {
        FenceSpec {
            seed,
            polygons,
            routes,
            ..FenceSpec::benchmark()
        }
    }
}

/// Generates the registry of `spec`. Polygons cycle through kinds in a city-like mix: sites
/// 80 %, disposal grounds 10 %, speed zones 6 %, restricted and time-restricted zones 2 % each
/// (a city has thousands of construction sites and a few hundred controlled spots, not the
/// reverse). Routes get the corridor width. Ids are `site-N`, `dg-N`, `zone-N`, `route-N`.
pub fn registry(spec: &FenceSpec) -> Registry {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut reg = Registry::default();
    for i in 0..spec.polygons {
        let geometry = random_polygon(&mut rng, spec);
        match i % 50 {
            0..=39 => reg.sites.push(Site {
                id: format!("site-{i}"),
                name: format!("Site {i}"),
                geometry,
                version: 1,
            }),
            40..=44 => reg.disposal_grounds.push(DisposalGround {
                id: format!("dg-{i}"),
                name: format!("Disposal ground {i}"),
                geometry,
                version: 1,
            }),
            k => {
                let kind = match k {
                    45 => ZoneKind::Restricted,
                    46 => ZoneKind::TimeRestricted,
                    _ => ZoneKind::Speed,
                };
                let allowed = if kind == ZoneKind::TimeRestricted {
                    vec![night_window()]
                } else {
                    Vec::new()
                };
                reg.zones.push(Zone {
                    id: format!("zone-{i}"),
                    name: format!("Zone {i}"),
                    kind,
                    geometry,
                    allowed,
                    speed_limit_kmh: (kind == ZoneKind::Speed).then_some(30.0),
                    version: 1,
                });
            }
        }
    }
    for i in 0..spec.routes {
        reg.routes.push(Route {
            id: format!("route-{i}"),
            name: format!("Route {i}"),
            geometry: MultiLineString(vec![random_route(&mut rng, spec)]),
            corridor_m: spec.corridor_m,
            speed_limit_kmh: Some(60.0),
            version: 1,
        });
    }
    reg
}

/// Night hours 22:00-06:00 every day, when muck trucks may enter the city core.
pub fn night_window() -> WeeklyWindow {
    WeeklyWindow {
        days: Weekdays::ALL,
        window: DailyWindow {
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(6, 0, 0).unwrap_or_default(),
        },
    }
}

/// `n` uniformly random points (lon, lat) in `bbox`.
pub fn points(seed: u64, n: usize, bbox: [f64; 4]) -> Vec<(f64, f64)> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            (
                rng.random_range(bbox[0]..bbox[2]),
                rng.random_range(bbox[1]..bbox[3]),
            )
        })
        .collect()
}

fn random_star(rng: &mut StdRng, centre: (f64, f64), radius_m: f64, n: usize) -> LineString<f64> {
    let metric = LocalMetric::at_lat(centre.1);
    let mut angles: Vec<f64> = (0..n)
        .map(|k| {
            let base = k as f64 / n as f64;
            (base + rng.random_range(0.0..0.8) / n as f64) * std::f64::consts::TAU
        })
        .collect();
    angles.sort_by(f64::total_cmp);
    let mut coords: Vec<Coord<f64>> = angles
        .iter()
        .map(|&a| {
            let r = radius_m * rng.random_range(0.55..1.0);
            Coord {
                x: centre.0 + r * a.cos() / metric.kx,
                y: centre.1 + r * a.sin() / metric.ky,
            }
        })
        .collect();
    if let Some(&first) = coords.first() {
        coords.push(first);
    }
    LineString(coords)
}

fn random_polygon(rng: &mut StdRng, spec: &FenceSpec) -> MultiPolygon<f64> {
    let [x0, y0, x1, y1] = spec.bbox;
    let centre = (rng.random_range(x0..x1), rng.random_range(y0..y1));
    let radius = rng.random_range(spec.radius_m.0..=spec.radius_m.1);
    let n = rng.random_range(spec.vertices.0..=spec.vertices.1);
    let exterior = random_star(rng, centre, radius, n);
    let interiors = if rng.random_bool(spec.hole_share.clamp(0.0, 1.0)) {
        // Radii of the exterior are at least 0.55 R, so a hole of at most 0.4 R stays inside.
        vec![random_star(rng, centre, radius * 0.4, 8)]
    } else {
        Vec::new()
    };
    MultiPolygon(vec![Polygon::new(exterior, interiors)])
}

fn random_route(rng: &mut StdRng, spec: &FenceSpec) -> LineString<f64> {
    let [x0, y0, x1, y1] = spec.bbox;
    let mut p = (rng.random_range(x0..x1), rng.random_range(y0..y1));
    let mut heading: f64 = rng.random_range(0.0..std::f64::consts::TAU);
    let n = rng.random_range(spec.segments.0..=spec.segments.1);
    let mut coords = vec![Coord { x: p.0, y: p.1 }];
    for _ in 0..n {
        let metric = LocalMetric::at_lat(p.1);
        let len = rng.random_range(spec.segment_m.0..=spec.segment_m.1);
        heading += rng.random_range(-0.5..0.5);
        let mut next = (
            p.0 + len * heading.sin() / metric.kx,
            p.1 + len * heading.cos() / metric.ky,
        );
        if !(x0..=x1).contains(&next.0) || !(y0..=y1).contains(&next.1) {
            heading += std::f64::consts::PI;
            next = (
                p.0 + len * heading.sin() / metric.kx,
                p.1 + len * heading.cos() / metric.ky,
            );
        }
        p = next;
        coords.push(Coord { x: p.0, y: p.1 });
    }
    LineString(coords)
}

/// Shape of a simulated fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSpec {
    /// Seed of the generator.
    pub seed: u64,
    /// Number of trucks.
    pub vehicles: usize,
    /// Fixes each truck reports.
    pub fixes_per_vehicle: usize,
    /// Seconds between a truck's fixes.
    pub interval_secs: u32,
    /// GNSS time of the first fixes.
    pub start: chrono::DateTime<chrono::Utc>,
    /// How many of the base registry's routes are approved haul routes (trucks are spread over
    /// them). Sites, disposal grounds and zones within `clearance_m` of these routes are left
    /// out of the fleet's registry: an approved route does not run through restricted zones
    /// or other sites, so violations come from the trucks' own behaviour.
    pub routes: usize,
    /// See `routes`.
    pub clearance_m: f64,
}

impl FleetSpec {
    /// `vehicles` trucks reporting `fixes` times every 10 s from 2026-08-05 02:00 UTC.
    pub fn new(seed: u64, vehicles: usize, fixes: usize) -> FleetSpec {
        FleetSpec {
            seed,
            vehicles,
            fixes_per_vehicle: fixes,
            interval_secs: 10,
            start: chrono::DateTime::from_timestamp(1_785_895_200, 0).unwrap_or_default(),
            routes: 50,
            clearance_m: 350.0,
        }
    }
}

/// A simulated fleet on top of `base`: the first `spec.routes` routes are haul routes, each
/// with a site at its start, a disposal ground at its end and a permit; each truck shuttles
/// along a route, loaded out and empty back, dwelling three minutes at each end. One truck in
/// fifty drives at 80 km/h (speeding), one leg in ten detours 250 m off the route for 1.5-3 km
/// (route deviation), half the trucks have load, lift and lid sensors, every fix has a few
/// metres of GNSS noise. Returns the registry (base fences away from the haul routes, plus
/// trucks, fences, permits) and the positions in GNSS-time order, interleaved across trucks as
/// a gateway would deliver them.
pub fn fleet(base: &Registry, spec: &FleetSpec) -> (Registry, Vec<crate::model::Position>) {
    use crate::model::registry::SensorCapabilities;
    use crate::model::{LoadState, Permit, Position, PositionFlags, PositionSource, Vehicle};

    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut reg = base.clone();
    reg.routes.truncate(spec.routes.max(1));
    clear_around_routes(&mut reg, spec.clearance_m);
    let lines: Vec<Vec<(f64, f64)>> = reg
        .routes
        .iter()
        .filter_map(|r| r.geometry.0.first())
        .map(|l| l.coords().map(|c| (c.x, c.y)).collect::<Vec<_>>())
        .filter(|l: &Vec<(f64, f64)>| l.len() >= 2)
        .collect();
    if lines.is_empty() {
        return (reg, Vec::new());
    }
    let square = |c: (f64, f64), half: f64| {
        let m = LocalMetric::at_lat(c.1);
        let (dx, dy) = (half / m.kx, half / m.ky);
        MultiPolygon(vec![Polygon::new(
            LineString(vec![
                Coord {
                    x: c.0 - dx,
                    y: c.1 - dy,
                },
                Coord {
                    x: c.0 + dx,
                    y: c.1 - dy,
                },
                Coord {
                    x: c.0 + dx,
                    y: c.1 + dy,
                },
                Coord {
                    x: c.0 - dx,
                    y: c.1 + dy,
                },
                Coord {
                    x: c.0 - dx,
                    y: c.1 - dy,
                },
            ]),
            vec![],
        )])
    };
    let day = |d: i64| {
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap_or_default()
            .checked_add_days(chrono::Days::new(d as u64))
            .unwrap_or_default()
    };
    for (ri, line) in lines.iter().enumerate() {
        let (Some(&a), Some(&b)) = (line.first(), line.last()) else {
            continue;
        };
        reg.sites.push(Site {
            id: format!("fleet-site-{ri}"),
            name: format!("Fleet site {ri}"),
            geometry: square(a, 80.0),
            version: 1,
        });
        reg.disposal_grounds.push(DisposalGround {
            id: format!("fleet-dg-{ri}"),
            name: format!("Fleet disposal ground {ri}"),
            geometry: square(b, 120.0),
            version: 1,
        });
        let route_id = reg.routes.get(ri).map(|r| r.id.clone()).unwrap_or_default();
        reg.permits.push(Permit {
            id: format!("fleet-permit-{ri}"),
            number: format!("LZ-2026-{ri:04}"),
            company_id: "fleet".into(),
            vehicle_ids: Vec::new(),
            site_id: format!("fleet-site-{ri}"),
            disposal_ground_ids: vec![format!("fleet-dg-{ri}")],
            route_ids: vec![route_id],
            valid_from: day(0),
            valid_to: day(364),
            daily_windows: Vec::new(),
        });
    }
    let permit_base = reg.permits.len() - lines.len();
    let raw = bytes::Bytes::from_static(&[
        0x7e, 0x02, 0x00, 0x00, 0x1c, 0x01, 0x39, 0x12, 0x34, 0x56, 0x78, 0x00, 0x01, 0x7e,
    ]);
    let mut positions = Vec::with_capacity(spec.vehicles * spec.fixes_per_vehicle);
    let mut next_id = 1i64;
    for v in 0..spec.vehicles {
        let ri = v % lines.len();
        let Some(line) = lines.get(ri) else { continue };
        let id = format!("truck-{v}");
        let sensors = v % 2 == 0;
        reg.vehicles.push(Vehicle {
            id: id.clone(),
            plate: format!("桂B{v:05}"),
            plate_color: 2,
            company_id: "fleet".into(),
            rated_load_kg: Some(20_000.0),
            sensors: SensorCapabilities {
                load: sensors,
                lift: sensors,
                lid: sensors,
                weight: false,
            },
        });
        if let Some(p) = reg.permits.get_mut(permit_base + ri) {
            p.vehicle_ids.push(id.clone());
        }
        // Cumulative metres along the line.
        let mut cum = vec![0.0];
        for w in line.windows(2) {
            let m = LocalMetric::at_lat(w[0].1);
            let d = m.distance_m(w[0], w[1]);
            cum.push(cum.last().copied().unwrap_or(0.0) + d);
        }
        let length = cum.last().copied().unwrap_or(0.0).max(1.0);
        let speed_kmh = if v % 50 == 0 {
            80.0
        } else {
            rng.random_range(30.0..50.0)
        };
        let step_m = speed_kmh / 3.6 * f64::from(spec.interval_secs);
        let dwell_fixes = (180 / spec.interval_secs.max(1)) as usize;
        let mut along = rng.random_range(0.0..length);
        let mut forward = rng.random_bool(0.5);
        let mut dwell = 0usize;
        let mut detour: Option<(f64, f64)> = None;
        let offset_s = rng.random_range(0..spec.interval_secs.max(1));
        let phone = format!("0139{v:08}");
        for k in 0..spec.fixes_per_vehicle {
            let moving = dwell == 0;
            if moving {
                along += if forward { step_m } else { -step_m };
                if along >= length || along <= 0.0 {
                    along = along.clamp(0.0, length);
                    dwell = dwell_fixes;
                    forward = along < length;
                    detour = if rng.random_bool(0.1) {
                        let from = rng.random_range(0.2..0.6) * length;
                        Some((from, from + rng.random_range(1500.0..3000.0)))
                    } else {
                        None
                    };
                }
            } else {
                dwell -= 1;
            }
            let seg = cum
                .partition_point(|&c| c <= along)
                .clamp(1, line.len() - 1);
            let (a, b) = (line[seg - 1], line[seg]);
            let (c0, c1) = (cum[seg - 1], cum[seg]);
            let f = if c1 > c0 {
                (along - c0) / (c1 - c0)
            } else {
                0.0
            };
            let (mut lon, mut lat) = (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f);
            let metric = LocalMetric::at_lat(lat);
            let on_detour = detour.is_some_and(|(s, e)| along >= s && along <= e);
            if on_detour {
                lat += 250.0 / metric.ky;
            }
            // GNSS noise of a few metres.
            lon += rng.random_range(-4.0..4.0) / metric.kx;
            lat += rng.random_range(-4.0..4.0) / metric.ky;
            let loaded = forward;
            let time = spec.start
                + chrono::Duration::seconds(
                    i64::from(offset_s) + (k as i64) * i64::from(spec.interval_secs),
                );
            positions.push(Position {
                id: next_id,
                phone: phone.clone(),
                vehicle_id: Some(id.clone()),
                time,
                received_at: time + chrono::Duration::milliseconds(300),
                lat,
                lon,
                altitude_m: 90,
                speed_kmh: if moving { speed_kmh } else { 0.0 },
                heading: 0,
                alarm: 0,
                status: 0b10,
                load: match (sensors, loaded) {
                    (false, _) => LoadState::Unknown,
                    (true, true) => LoadState::Full,
                    (true, false) => LoadState::Empty,
                },
                lift_up: sensors.then_some(false),
                lid_open: sensors.then_some(false),
                weight_kg: None,
                mileage_km: None,
                source: PositionSource::Live,
                flags: PositionFlags::default(),
                raw: raw.clone(),
            });
            next_id += 1;
        }
    }
    positions.sort_by_key(|p| (p.time, p.id));
    (reg, positions)
}

/// Removes the sites, disposal grounds and zones that come within `clearance_m` of any route
/// (a vertex within the widened corridor; polygons are small, so a route through one passes
/// near a vertex).
fn clear_around_routes(reg: &mut Registry, clearance_m: f64) {
    use crate::engine::index::{FenceIndex, Hits, IndexConfig};
    let widened = Registry {
        routes: reg
            .routes
            .iter()
            .map(|r| Route {
                corridor_m: clearance_m,
                ..r.clone()
            })
            .collect(),
        ..Registry::default()
    };
    let (index, _) = FenceIndex::build(&widened, &IndexConfig::default());
    let mut hits = Hits::default();
    let mut near = |g: &MultiPolygon<f64>| {
        g.iter().any(|p| {
            p.exterior().coords().any(|c| {
                index.classify(c.x, c.y, &mut hits);
                !hits.corridors.is_empty()
            })
        })
    };
    reg.sites.retain(|s| !near(&s.geometry));
    reg.disposal_grounds.retain(|d| !near(&d.geometry));
    reg.zones.retain(|z| !near(&z.geometry));
}
