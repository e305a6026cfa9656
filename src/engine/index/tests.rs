use geo_types::{Coord, LineString, MultiLineString, MultiPolygon, Polygon};

use super::*;
use crate::engine::synthetic;
use crate::model::{Route, Site, Zone};

fn square(cx: f64, cy: f64, half_m: f64) -> Polygon<f64> {
    let m = LocalMetric::at_lat(cy);
    let (dx, dy) = (half_m / m.kx, half_m / m.ky);
    Polygon::new(
        LineString(vec![
            Coord {
                x: cx - dx,
                y: cy - dy,
            },
            Coord {
                x: cx + dx,
                y: cy - dy,
            },
            Coord {
                x: cx + dx,
                y: cy + dy,
            },
            Coord {
                x: cx - dx,
                y: cy + dy,
            },
            Coord {
                x: cx - dx,
                y: cy - dy,
            },
        ]),
        vec![],
    )
}

fn offset(p: (f64, f64), east_m: f64, north_m: f64) -> (f64, f64) {
    let m = LocalMetric::at_lat(p.1);
    (p.0 + east_m / m.kx, p.1 + north_m / m.ky)
}

fn registry_with(sites: Vec<Site>, routes: Vec<Route>) -> Registry {
    Registry {
        sites,
        routes,
        ..Registry::default()
    }
}

fn site(id: &str, geometry: MultiPolygon<f64>) -> Site {
    Site {
        id: id.into(),
        name: id.into(),
        geometry,
        version: 3,
    }
}

fn both(index: &FenceIndex, p: (f64, f64)) -> (Hits, Hits) {
    let mut g = Hits::default();
    let mut r = Hits::default();
    index.classify(p.0, p.1, &mut g);
    index.classify_rtree(p.0, p.1, &mut r);
    g.sort();
    r.sort();
    (g, r)
}

#[test]
fn square_site_inside_and_outside() {
    let c = (109.45, 24.35);
    let reg = registry_with(
        vec![site("a", MultiPolygon(vec![square(c.0, c.1, 100.0)]))],
        vec![],
    );
    let (index, report) = FenceIndex::build(&reg, &IndexConfig::default());
    assert_eq!(report.polygons, 1);
    assert!(report.skipped.is_empty());
    let slot = index.slot_of("site", "a").expect("slot");
    for (east, north, inside) in [
        (0.0, 0.0, true),
        (99.0, 0.0, true),
        (0.0, -99.5, true),
        (101.0, 0.0, false),
        (0.0, 150.0, false),
        (-99.9, 99.9, true),
        (-100.2, 99.9, false),
    ] {
        let p = offset(c, east, north);
        let (g, r) = both(&index, p);
        assert_eq!(g, r, "grid and rtree disagree at {east},{north}");
        assert_eq!(g.polygons.contains(&slot), inside, "at {east},{north}");
    }
}

#[test]
fn hole_is_outside() {
    let c = (109.40, 24.30);
    let outer = square(c.0, c.1, 200.0);
    let inner = square(c.0, c.1, 50.0);
    let donut = Polygon::new(outer.exterior().clone(), vec![inner.exterior().clone()]);
    let reg = registry_with(vec![site("donut", MultiPolygon(vec![donut]))], vec![]);
    let (index, _) = FenceIndex::build(&reg, &IndexConfig::default());
    let (g, _) = both(&index, c);
    assert!(g.polygons.is_empty(), "centre of the hole is outside");
    let (g, _) = both(&index, offset(c, 120.0, 0.0));
    assert_eq!(g.polygons.len(), 1, "the ring is inside");
}

#[test]
fn corridor_width_in_metres() {
    let a = (109.40, 24.30);
    let b = offset(a, 1000.0, 0.0);
    let route = Route {
        id: "r1".into(),
        name: "r1".into(),
        geometry: MultiLineString(vec![LineString(vec![
            Coord { x: a.0, y: a.1 },
            Coord { x: b.0, y: b.1 },
        ])]),
        corridor_m: 50.0,
        speed_limit_kmh: None,
        version: 1,
    };
    let reg = registry_with(vec![], vec![route]);
    let (index, _) = FenceIndex::build(&reg, &IndexConfig::default());
    for (east, north, within) in [
        (500.0, 0.0, true),
        (500.0, 49.5, true),
        (500.0, -49.5, true),
        (500.0, 50.5, false),
        (-49.0, 0.0, true),
        (-51.0, 0.0, false),
        (1030.0, 30.0, true),
        (1040.0, 40.0, false),
    ] {
        let p = offset(a, east, north);
        let (g, r) = both(&index, p);
        assert_eq!(g, r, "at {east},{north}");
        assert_eq!(g.corridors.len() == 1, within, "at {east},{north}");
    }
    let d = index
        .boundary_distance_m(0, offset(a, 300.0, 70.0).0, offset(a, 300.0, 70.0).1)
        .expect("distance");
    assert!((d - 70.0).abs() < 0.05, "distance {d}");
}

#[test]
fn grid_matches_rtree_on_synthetic_fences() {
    for cell in [7.0, 40.0, 300.0] {
        let reg = synthetic::registry(&synthetic::FenceSpec::small(7, 400, 30));
        let config = IndexConfig {
            grid_cell_m: cell,
            ..IndexConfig::default()
        };
        let (index, report) = FenceIndex::build(&reg, &config);
        assert_eq!(report.polygons, 400);
        assert_eq!(report.corridors, 30);
        // Both kinds of cell, records in the line and records in the overflow stream.
        assert!(
            report.grid.overflow_cells > 0,
            "cell {cell}: {:?}",
            report.grid
        );
        assert!(
            (report.grid.overflow_cells as u64) < report.grid.cells,
            "cell {cell}: {:?}",
            report.grid
        );
        let mut hits_seen = 0;
        for p in synthetic::points(11, 20_000, synthetic::LIUZHOU_BOX) {
            let (g, r) = both(&index, p);
            hits_seen += g.polygons.len() + g.corridors.len();
            if g != r {
                // Only a point within a millimetre of an edge may differ.
                let near = g
                    .polygons
                    .iter()
                    .chain(&r.polygons)
                    .chain(&g.corridors)
                    .chain(&r.corridors)
                    .any(|&s| {
                        let d = index.boundary_distance_m(s, p.0, p.1).unwrap_or(0.0);
                        let w = index.fence(s).map(|f| f.corridor_m).unwrap_or(0.0);
                        (d - w).abs() < 1e-3
                    });
                assert!(near, "cell {cell}: grid {g:?} rtree {r:?} at {p:?}");
            }
        }
        assert!(hits_seen > 100, "the sample must hit fences ({hits_seen})");
    }
}

#[test]
fn segment_crossing_finds_small_zone() {
    let c = (109.50, 24.40);
    let zone = Zone {
        id: "school".into(),
        name: "school".into(),
        kind: ZoneKind::Restricted,
        geometry: MultiPolygon(vec![square(c.0, c.1, 20.0)]),
        allowed: vec![],
        speed_limit_kmh: None,
        version: 2,
    };
    let reg = Registry {
        zones: vec![zone],
        ..Registry::default()
    };
    let (index, _) = FenceIndex::build(&reg, &IndexConfig::default());
    let a = offset(c, -150.0, 0.0);
    let b = offset(c, 150.0, 5.0);
    let crossed = index.polygons_crossed(a, b, |_| true);
    assert_eq!(crossed.len(), 1);
    let (_, inside) = crossed[0];
    assert!((inside - 40.0).abs() < 0.5, "inside length {inside}");
    let miss = index.polygons_crossed(offset(c, -150.0, 40.0), offset(c, 150.0, 40.0), |_| true);
    assert!(miss.is_empty());
}

#[test]
fn bad_geometry_is_skipped_not_fatal() {
    let good = site("good", MultiPolygon(vec![square(109.4, 24.3, 50.0)]));
    let nan = site(
        "nan",
        MultiPolygon(vec![Polygon::new(
            LineString(vec![
                Coord {
                    x: f64::NAN,
                    y: 24.0,
                },
                Coord { x: 109.0, y: 24.0 },
                Coord { x: 109.0, y: 24.1 },
            ]),
            vec![],
        )]),
    );
    let empty = site("empty", MultiPolygon(vec![]));
    let dup = site("good", MultiPolygon(vec![square(109.5, 24.3, 50.0)]));
    let reg = registry_with(vec![good, nan, empty, dup], vec![]);
    let (index, report) = FenceIndex::build(&reg, &IndexConfig::default());
    assert_eq!(index.len(), 1);
    let reasons: Vec<&str> = report.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(report.skipped.len(), 3, "{reasons:?}");
    let mut hits = Hits::default();
    index.classify(f64::NAN, 24.3, &mut hits);
    assert!(hits.polygons.is_empty());
    index.classify(1e300, -1e300, &mut hits);
    assert!(hits.polygons.is_empty());
}

#[test]
fn nearest_polygon_within_radius() {
    let c = (109.45, 24.35);
    let reg = registry_with(
        vec![site("a", MultiPolygon(vec![square(c.0, c.1, 50.0)]))],
        vec![],
    );
    let (index, _) = FenceIndex::build(&reg, &IndexConfig::default());
    let p = offset(c, 130.0, 0.0);
    let (_, d) = index
        .nearest_polygon_within(p.0, p.1, 100.0, |_| true)
        .expect("found");
    assert!((d - 80.0).abs() < 0.1, "{d}");
    assert!(
        index
            .nearest_polygon_within(p.0, p.1, 70.0, |_| true)
            .is_none()
    );
    let (_, d) = index
        .nearest_polygon_within(c.0, c.1, 10.0, |_| true)
        .expect("inside");
    assert_eq!(d, 0.0);
}
