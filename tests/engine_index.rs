//! Property tests of the fence index against an independent brute-force oracle: `geo`'s
//! `Contains` on every polygon fence, and the WGS-84 geodesic distance (Karney, via `geo`)
//! from the point to every route segment, on random fences and points.
//!
//! Stated tolerance (also in the README): a point may be classified either way only when it
//! lies within 1 mm (or 1/30,000 of the grid cell, if larger) of a polygon boundary, or within
//! 0.3 % of the corridor width of a corridor's edge (our local projection against the
//! ellipsoid: 15 cm on a 50 m corridor).

use geo::{Closest, Contains, Distance, Geodesic, HaversineClosestPoint, Point};
use geo_types::{Coord, Line, LineString, MultiLineString, MultiPolygon, Polygon};
use haulwatch::engine::index::{FenceIndex, FenceKind, Hits, IndexConfig};
use haulwatch::engine::metric::LocalMetric;
use haulwatch::model::{Registry, Route, Site, Zone, ZoneKind};
use proptest::prelude::*;

const CENTRE: (f64, f64) = (109.45, 24.35);

fn offset(p: (f64, f64), east: f64, north: f64) -> Coord<f64> {
    let m = LocalMetric::at_lat(p.1);
    Coord {
        x: p.0 + east / m.kx,
        y: p.1 + north / m.ky,
    }
}

/// One random fence shape, in metres around a centre.
#[derive(Debug, Clone)]
enum Shape {
    /// Star polygon: radii at sorted angles.
    Star {
        centre: (f64, f64),
        radii: Vec<(f64, f64)>,
    },
    /// Axis-aligned rectangle with corners snapped to 1e-4 degrees (round numbers, as
    /// hand-drawn fences have; exercises horizontal and vertical edges).
    Rect { centre: (f64, f64), w: f64, h: f64 },
    /// A square with a square hole.
    Donut {
        centre: (f64, f64),
        outer: f64,
        inner: f64,
    },
    /// Two star-free squares as one multipolygon.
    Pair {
        a: (f64, f64),
        b: (f64, f64),
        half: f64,
    },
}

fn star_ring(centre: (f64, f64), radii: &[(f64, f64)]) -> LineString<f64> {
    let c = offset(CENTRE, centre.0, centre.1);
    let mut angles: Vec<(f64, f64)> = radii.to_vec();
    angles.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut pts: Vec<Coord<f64>> = angles
        .iter()
        .map(|&(a, r)| offset((c.x, c.y), r * a.cos(), r * a.sin()))
        .collect();
    if let Some(&f) = pts.first() {
        pts.push(f);
    }
    LineString(pts)
}

fn square_ring(centre: (f64, f64), half: f64) -> LineString<f64> {
    let c = offset(CENTRE, centre.0, centre.1);
    let p = |e: f64, n: f64| offset((c.x, c.y), e, n);
    LineString(vec![
        p(-half, -half),
        p(half, -half),
        p(half, half),
        p(-half, half),
        p(-half, -half),
    ])
}

impl Shape {
    fn geometry(&self) -> MultiPolygon<f64> {
        match self {
            Shape::Star { centre, radii } => {
                MultiPolygon(vec![Polygon::new(star_ring(*centre, radii), vec![])])
            }
            Shape::Rect { centre, w, h } => {
                let snap = |v: f64| (v * 1e4).round() / 1e4;
                let a = offset(CENTRE, centre.0 - w, centre.1 - h);
                let b = offset(CENTRE, centre.0 + w, centre.1 + h);
                let (x0, y0, x1, y1) = (snap(a.x), snap(a.y), snap(b.x), snap(b.y));
                let (x1, y1) = (x1.max(x0 + 1e-4), y1.max(y0 + 1e-4));
                MultiPolygon(vec![Polygon::new(
                    LineString(vec![
                        Coord { x: x0, y: y0 },
                        Coord { x: x1, y: y0 },
                        Coord { x: x1, y: y1 },
                        Coord { x: x0, y: y1 },
                        Coord { x: x0, y: y0 },
                    ]),
                    vec![],
                )])
            }
            Shape::Donut {
                centre,
                outer,
                inner,
            } => MultiPolygon(vec![Polygon::new(
                square_ring(*centre, *outer),
                vec![square_ring(*centre, *inner)],
            )]),
            Shape::Pair { a, b, half } => MultiPolygon(vec![
                Polygon::new(square_ring(*a, *half), vec![]),
                Polygon::new(square_ring(*b, *half), vec![]),
            ]),
        }
    }
}

fn pt() -> impl Strategy<Value = (f64, f64)> {
    (-1500.0..1500.0f64, -1500.0..1500.0f64)
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        (
            pt(),
            prop::collection::vec((0.0..std::f64::consts::TAU, 10.0..400.0f64), 3..40)
        )
            .prop_map(|(centre, radii)| Shape::Star { centre, radii }),
        (pt(), 15.0..300.0f64, 15.0..300.0f64).prop_map(|(centre, w, h)| Shape::Rect {
            centre,
            w,
            h
        }),
        (pt(), 60.0..400.0f64, 0.1..0.8f64).prop_map(|(centre, outer, k)| Shape::Donut {
            centre,
            outer,
            inner: outer * k
        }),
        // The parts are apart (each well inside its own quadrant), as in a valid multipolygon.
        (
            (200.0..1200.0f64, 200.0..1200.0f64),
            (-1200.0..-200.0f64, -1200.0..-200.0f64),
            10.0..150.0f64
        )
            .prop_map(|(a, b, half)| Shape::Pair { a, b, half }),
    ]
}

fn route() -> impl Strategy<Value = (Vec<(f64, f64)>, f64)> {
    (prop::collection::vec(pt(), 2..8), 10.0..120.0f64)
}

fn registry(shapes: &[Shape], routes: &[(Vec<(f64, f64)>, f64)]) -> Registry {
    let mut reg = Registry::default();
    for (i, s) in shapes.iter().enumerate() {
        if i % 2 == 0 {
            reg.sites.push(Site {
                id: format!("s{i}"),
                name: String::new(),
                geometry: s.geometry(),
                version: 1,
            });
        } else {
            reg.zones.push(Zone {
                id: format!("z{i}"),
                name: String::new(),
                kind: ZoneKind::Restricted,
                geometry: s.geometry(),
                allowed: vec![],
                speed_limit_kmh: None,
                version: 1,
            });
        }
    }
    for (i, (pts, w)) in routes.iter().enumerate() {
        reg.routes.push(Route {
            id: format!("r{i}"),
            name: String::new(),
            geometry: MultiLineString(vec![LineString(
                pts.iter().map(|&(e, n)| offset(CENTRE, e, n)).collect(),
            )]),
            corridor_m: *w,
            speed_limit_kmh: None,
            version: 1,
        });
    }
    reg
}

/// Geodesic distance from `p` to a segment, through the great-circle closest point.
fn geodesic_to_segment(p: Point<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let line = Line::new(a, b);
    let closest = match line.haversine_closest_point(&p) {
        Closest::Intersection(c) | Closest::SinglePoint(c) => c,
        Closest::Indeterminate => Point::from(a),
    };
    Geodesic.distance(p, closest)
}

/// Checks every point against the oracle; returns how many (point, fence) pairs matched.
fn check(reg: &Registry, points: &[(f64, f64)], cell_m: f64) -> Result<usize, TestCaseError> {
    let config = IndexConfig {
        grid_cell_m: cell_m,
        ..IndexConfig::default()
    };
    let (index, report) = FenceIndex::build(reg, &config);
    prop_assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let polygon_tol_m = (report.grid_cell_m.0.max(report.grid_cell_m.1) / 30_000.0).max(0.001);
    let mut hits = Hits::default();
    let mut agreed = 0;
    for &(e, n) in points {
        let c = offset(CENTRE, e, n);
        let p = Point::from(c);
        index.classify(c.x, c.y, &mut hits);
        for f in index.fences() {
            let Some(slot) = index.slot_of(f.kind.family(), &f.id) else {
                continue;
            };
            if f.kind == FenceKind::Route {
                let ours = hits.corridors.contains(&slot);
                let route = reg.routes.iter().find(|r| *r.id == *f.id);
                let d = route
                    .into_iter()
                    .flat_map(|r| r.geometry.iter())
                    .flat_map(|l| l.lines())
                    .map(|l| geodesic_to_segment(p, l.start, l.end))
                    .fold(f64::INFINITY, f64::min);
                let truth = d <= f.corridor_m;
                if ours != truth {
                    prop_assert!(
                        (d - f.corridor_m).abs() <= f.corridor_m * 0.003,
                        "corridor {} width {} at {:?}: ours {ours}, geodesic distance {d}",
                        f.id,
                        f.corridor_m,
                        (e, n)
                    );
                } else {
                    agreed += 1;
                }
            } else {
                let ours = hits.polygons.contains(&slot);
                let geom = match f.kind {
                    FenceKind::Site => reg
                        .sites
                        .iter()
                        .find(|s| *s.id == *f.id)
                        .map(|s| &s.geometry),
                    FenceKind::DisposalGround => reg
                        .disposal_grounds
                        .iter()
                        .find(|d| *d.id == *f.id)
                        .map(|d| &d.geometry),
                    _ => reg
                        .zones
                        .iter()
                        .find(|z| *z.id == *f.id)
                        .map(|z| &z.geometry),
                };
                prop_assert!(geom.is_some(), "fence {} not in the registry", f.id);
                let truth = geom.is_some_and(|g| g.contains(&p));
                if ours != truth {
                    let d = index
                        .boundary_distance_m(slot, c.x, c.y)
                        .unwrap_or(f64::INFINITY);
                    prop_assert!(
                        d <= polygon_tol_m,
                        "polygon {} at {:?}: ours {ours}, geo {truth}, {d} m from the boundary",
                        f.id,
                        (e, n)
                    );
                } else {
                    agreed += 1;
                }
            }
        }
        // The R-tree path must agree with the grid too.
        let mut grid = hits.clone();
        let mut tree = Hits::default();
        index.classify_rtree(c.x, c.y, &mut tree);
        grid.sort();
        tree.sort();
        if grid != tree {
            let near = grid
                .polygons
                .iter()
                .chain(&tree.polygons)
                .chain(&grid.corridors)
                .chain(&tree.corridors)
                .any(|&s| {
                    let d = index.boundary_distance_m(s, c.x, c.y).unwrap_or(0.0);
                    let w = index.fence(s).map(|f| f.corridor_m).unwrap_or(0.0);
                    (d - w).abs() <= polygon_tol_m.max(w * 1e-5)
                });
            prop_assert!(near, "grid {grid:?} vs R-tree {tree:?} at {:?}", (e, n));
        }
    }
    Ok(agreed)
}

/// Points near the fences' vertices and edges, where mistakes live.
fn near_edges(
    shapes: &[Shape],
    routes: &[(Vec<(f64, f64)>, f64)],
    jitter: &[(f64, f64)],
) -> Vec<(f64, f64)> {
    let m = LocalMetric::at_lat(CENTRE.1);
    let to_m = |c: &Coord<f64>| ((c.x - CENTRE.0) * m.kx, (c.y - CENTRE.1) * m.ky);
    let mut out = Vec::new();
    let mut k = 0;
    let mut j = || {
        k += 1;
        jitter
            .get(k % jitter.len().max(1))
            .copied()
            .unwrap_or((0.5, 0.5))
    };
    for s in shapes {
        for poly in &s.geometry() {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for w in ring.0.windows(2) {
                    let (a, b) = (to_m(&w[0]), to_m(&w[1]));
                    let (dx, dy) = j();
                    out.push((a.0 + dx, a.1 + dy));
                    out.push(((a.0 + b.0) / 2.0 + dx * 0.1, (a.1 + b.1) / 2.0 + dy * 0.1));
                }
            }
        }
    }
    for (pts, w) in routes {
        for p in pts {
            let (dx, dy) = j();
            out.push((p.0 + w + dx, p.1 + dy));
            out.push((p.0 + dx, p.1 + w * 0.999 + dy * 0.01));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn index_agrees_with_brute_force(
        shapes in prop::collection::vec(shape(), 1..10),
        routes in prop::collection::vec(route(), 0..4),
        points in prop::collection::vec(pt(), 150),
        jitter in prop::collection::vec((-3.0..3.0f64, -3.0..3.0f64), 16),
        cell_m in prop_oneof![Just(40.0), 3.0..600.0f64],
    ) {
        let reg = registry(&shapes, &routes);
        let mut all = points;
        all.extend(near_edges(&shapes, &routes, &jitter));
        check(&reg, &all, cell_m)?;
    }
}

#[test]
fn benchmark_shapes_agree_with_brute_force() {
    // The benchmark's own generator (stars with holes, long corridors), on a sample.
    use haulwatch::engine::synthetic::{self, FenceSpec};
    let reg = synthetic::registry(&FenceSpec::small(3, 150, 15));
    let m = LocalMetric::at_lat(CENTRE.1);
    let points: Vec<(f64, f64)> = synthetic::points(5, 4000, synthetic::LIUZHOU_BOX)
        .into_iter()
        .map(|(x, y)| ((x - CENTRE.0) * m.kx, (y - CENTRE.1) * m.ky))
        .collect();
    let agreed = check(&reg, &points, 40.0).expect("agrees");
    assert!(agreed > 0);
}
