//! The Liuzhou sample bundle loads without faults and keeps the promises the simulator and the
//! demo rely on: permits' routes lead from their site to each of their disposal grounds, no
//! route corridor touches a restricted zone, night-only permits for routes through the core.

use std::collections::HashMap;
use std::path::Path;

use geo::{Contains, Distance, Haversine, Intersects, Point};
use geo_types::{Coord, LineString, MultiLineString, MultiPolygon};
use haulwatch::import::load_bundle;
use haulwatch::model::{Registry, ZoneKind};

fn sample() -> Registry {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("geofences/liuzhou");
    match load_bundle(&dir) {
        Ok(registry) => registry,
        Err(faults) => panic!(
            "sample bundle has faults:\n{}",
            faults
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// Shortest distance in metres between a line and a polygon (0 if they meet), sampling the
/// line every few metres: plenty for fences hundreds of metres wide.
fn line_to_polygon_m(lines: &MultiLineString<f64>, area: &MultiPolygon<f64>) -> f64 {
    let mut best = f64::INFINITY;
    for line in &lines.0 {
        for segment in line.lines() {
            let steps = (Haversine.distance(Point(segment.start), Point(segment.end)) / 5.0)
                .ceil()
                .max(1.0) as usize;
            for k in 0..=steps {
                let t = k as f64 / steps as f64;
                let p = Point(Coord {
                    x: segment.start.x + (segment.end.x - segment.start.x) * t,
                    y: segment.start.y + (segment.end.y - segment.start.y) * t,
                });
                if area.contains(&p) {
                    return 0.0;
                }
                for polygon in &area.0 {
                    for edge in polygon.exterior().lines() {
                        best = best.min(point_to_segment_m(p, edge.start, edge.end));
                    }
                }
            }
        }
    }
    best
}

fn point_to_segment_m(p: Point<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let mx = 111_320.0 * p.y().to_radians().cos();
    let my = 110_574.0;
    let (ax, ay) = ((a.x - p.x()) * mx, (a.y - p.y()) * my);
    let (bx, by) = ((b.x - p.x()) * mx, (b.y - p.y()) * my);
    let (dx, dy) = (bx - ax, by - ay);
    let len = dx * dx + dy * dy;
    let t = if len == 0.0 {
        0.0
    } else {
        (-(ax * dx + ay * dy) / len).clamp(0.0, 1.0)
    };
    (ax + t * dx).hypot(ay + t * dy)
}

#[test]
fn sample_bundle_has_the_promised_size() {
    let r = sample();
    assert_eq!(r.companies.len(), 10);
    assert_eq!(r.vehicles.len(), 200);
    assert_eq!(r.terminals.len(), 200);
    assert_eq!(r.sites.len(), 30);
    assert_eq!(r.disposal_grounds.len(), 6);
    assert_eq!(r.routes.len(), 20);
    let count = |kind| r.zones.iter().filter(|z| z.kind == kind).count();
    assert_eq!(count(ZoneKind::District), 8);
    assert_eq!(count(ZoneKind::TimeRestricted), 1);
    assert!(count(ZoneKind::Restricted) >= 3);
    assert!(r.permits.len() >= 20);
    assert!(r.officers.len() >= 8);
    for t in &r.terminals {
        assert!(t.vehicle_id.is_some(), "terminal {} is unbound", t.phone);
        assert!(t.phone.len() >= 11 && t.phone.bytes().all(|b| b.is_ascii_digit()));
    }
    // Every route is used by some permit.
    for route in &r.routes {
        assert!(
            r.permits.iter().any(|p| p.route_ids.contains(&route.id)),
            "route {} is on no permit",
            route.id
        );
    }
}

#[test]
fn every_permit_route_leads_from_its_site_to_a_permitted_disposal_ground() {
    let r = sample();
    let sites: HashMap<_, _> = r.sites.iter().map(|s| (s.id.as_str(), s)).collect();
    let grounds: HashMap<_, _> = r
        .disposal_grounds
        .iter()
        .map(|g| (g.id.as_str(), g))
        .collect();
    let routes: HashMap<_, _> = r.routes.iter().map(|x| (x.id.as_str(), x)).collect();
    for permit in &r.permits {
        let site = sites[permit.site_id.as_str()];
        let mut reached = Vec::new();
        for route_id in &permit.route_ids {
            let route = routes[route_id.as_str()];
            let gap = line_to_polygon_m(&route.geometry, &site.geometry);
            assert!(
                gap <= route.corridor_m / 2.0,
                "permit {}: route {} passes {gap:.0} m from site {}",
                permit.id,
                route.id,
                site.id
            );
            let end = route
                .geometry
                .0
                .last()
                .and_then(|l| l.0.last())
                .copied()
                .expect("route has points");
            let ground = permit
                .disposal_ground_ids
                .iter()
                .find(|g| grounds[g.as_str()].geometry.contains(&Point(end)))
                .unwrap_or_else(|| {
                    panic!(
                        "permit {}: route {} ends in none of its grounds",
                        permit.id, route.id
                    )
                });
            reached.push(ground.clone());
        }
        for ground in &permit.disposal_ground_ids {
            assert!(
                reached.contains(ground),
                "permit {}: no route reaches {ground}",
                permit.id
            );
        }
    }
}

#[test]
fn routes_avoid_restricted_zones_and_core_routes_are_night_only() {
    let r = sample();
    let core = r
        .zones
        .iter()
        .find(|z| z.kind == ZoneKind::TimeRestricted)
        .expect("core zone");
    for route in &r.routes {
        for zone in r.zones.iter().filter(|z| z.kind == ZoneKind::Restricted) {
            let gap = line_to_polygon_m(&route.geometry, &zone.geometry);
            assert!(
                gap > route.corridor_m,
                "route {} passes {gap:.0} m from restricted zone {}",
                route.id,
                zone.id
            );
        }
    }
    let night = core
        .allowed
        .first()
        .expect("core has an allowed window")
        .window;
    let mut night_permits = 0;
    for permit in &r.permits {
        let enters_core = permit.route_ids.iter().any(|id| {
            let route = r.routes.iter().find(|x| &x.id == id).expect("route");
            route.geometry.intersects(&core.geometry)
        });
        if enters_core {
            night_permits += 1;
            assert_eq!(permit.daily_windows, vec![night], "permit {}", permit.id);
        }
    }
    assert!(
        night_permits >= 3,
        "the demo needs night routes through the core"
    );
}

#[test]
fn sample_coordinates_are_around_liuzhou() {
    let r = sample();
    let inside = |c: &Coord<f64>| (109.2..109.7).contains(&c.x) && (24.1..24.5).contains(&c.y);
    for route in &r.routes {
        assert!(
            route
                .geometry
                .0
                .iter()
                .flat_map(LineString::coords)
                .all(inside)
        );
    }
    for site in &r.sites {
        assert!(
            site.geometry
                .0
                .iter()
                .flat_map(|p| p.exterior().coords())
                .all(inside)
        );
    }
}
