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

/// Generates the registry of `spec`: polygons cycle through sites (60 %), disposal grounds
/// (10 %), restricted, time-restricted and speed zones (10 % each); routes get the corridor
/// width. Ids are `site-N`, `dg-N`, `zone-N`, `route-N`.
pub fn registry(spec: &FenceSpec) -> Registry {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let mut reg = Registry::default();
    for i in 0..spec.polygons {
        let geometry = random_polygon(&mut rng, spec);
        match i % 10 {
            0..=5 => reg.sites.push(Site {
                id: format!("site-{i}"),
                name: format!("Site {i}"),
                geometry,
                version: 1,
            }),
            6 => reg.disposal_grounds.push(DisposalGround {
                id: format!("dg-{i}"),
                name: format!("Disposal ground {i}"),
                geometry,
                version: 1,
            }),
            k => {
                let kind = match k {
                    7 => ZoneKind::Restricted,
                    8 => ZoneKind::TimeRestricted,
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
