//! How a simulated truck moves: loaded from its permit's site along a permitted route to a
//! disposal ground, unloaded, and back empty; or a random walk when it has no permit. Scenario
//! behaviours bend that plan to break chosen rules.

use geo::{Bearing, Centroid, Destination, Distance, Haversine, Point};
use rand::Rng;
use rand::rngs::StdRng;

use super::scenario::Behaviour;
use crate::model::{LoadState, Registry};

/// A fix the simulator will report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimFix {
    /// Latitude, WGS-84.
    pub lat: f64,
    /// Longitude, WGS-84.
    pub lon: f64,
    /// Speed, km/h.
    pub speed_kmh: f64,
    /// Heading, degrees from north.
    pub heading: u16,
    /// Load state the load sensor reports.
    pub load: LoadState,
    /// Tipper lift raised.
    pub lift_up: bool,
    /// Lid open.
    pub lid_open: bool,
}

/// What the truck is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Stopped at the site, being loaded.
    Loading,
    /// Driving loaded toward the disposal ground.
    Outbound,
    /// Stopped in the disposal ground, tipping.
    Unloading,
    /// Driving back empty.
    Return,
}

/// A planned path and the truck's progress on it.
#[derive(Debug, Clone)]
pub struct TruckMotion {
    /// Site -> route -> disposal ground, WGS-84 points.
    path: Vec<Point<f64>>,
    /// Cumulative distance (m) at each path point.
    cumulative: Vec<f64>,
    /// Distance travelled along the path (m); counts down on the return leg.
    progress_m: f64,
    /// Phase of the trip.
    phase: Phase,
    /// Seconds left in the current stop (loading or unloading).
    stop_left_s: f64,
    /// Cruising speed, km/h.
    cruise_kmh: f64,
    /// Seconds since the simulation started, for scenario timing.
    elapsed_s: f64,
    /// Rule-breaking behaviours with their start and duration.
    behaviours: Vec<Behaviour>,
    /// Random walk instead of a plan (no permit).
    random_walk: Option<Point<f64>>,
    /// Heading of the random walk.
    walk_heading: f64,
}

/// Liuzhou city centre, the default random-walk origin.
pub const LIUZHOU_CENTRE: (f64, f64) = (109.40698, 24.32405);

impl TruckMotion {
    /// Plans a truck's trips from the permit covering `vehicle_id` in `registry`: its site, the
    /// first of its routes (oriented site-first) and the disposal ground nearest the route's far
    /// end. Without a permit (or bundle) the truck random-walks from `origin`.
    pub fn plan(
        registry: &Registry,
        vehicle_id: &str,
        origin: (f64, f64),
        rng: &mut StdRng,
    ) -> TruckMotion {
        let path = plan_path(registry, vehicle_id);
        let cruise_kmh = rng.random_range(30.0..50.0);
        match path {
            Some(path) if path.len() >= 2 => {
                let cumulative = cumulative_lengths(&path);
                let total = cumulative.last().copied().unwrap_or(0.0);
                // Spread the fleet over the whole cycle so the map is busy from the start.
                let start = rng.random_range(0.0..1.0);
                let (phase, progress_m) = if start < 0.45 {
                    (Phase::Outbound, total * start / 0.45)
                } else if start < 0.9 {
                    (Phase::Return, total * (start - 0.45) / 0.45)
                } else {
                    (Phase::Loading, 0.0)
                };
                TruckMotion {
                    path,
                    cumulative,
                    progress_m,
                    phase,
                    stop_left_s: rng.random_range(30.0..120.0),
                    cruise_kmh,
                    elapsed_s: 0.0,
                    behaviours: Vec::new(),
                    random_walk: None,
                    walk_heading: 0.0,
                }
            }
            _ => TruckMotion {
                path: Vec::new(),
                cumulative: Vec::new(),
                progress_m: 0.0,
                phase: Phase::Outbound,
                stop_left_s: 0.0,
                cruise_kmh,
                elapsed_s: 0.0,
                behaviours: Vec::new(),
                random_walk: Some(Point::new(
                    origin.0 + rng.random_range(-0.05..0.05),
                    origin.1 + rng.random_range(-0.05..0.05),
                )),
                walk_heading: rng.random_range(0.0..360.0),
            },
        }
    }

    /// Adds a rule-breaking behaviour.
    pub fn add_behaviour(&mut self, behaviour: Behaviour) {
        self.behaviours.push(behaviour);
    }

    /// Whether the truck follows a permit plan (rather than a random walk).
    pub fn has_plan(&self) -> bool {
        self.random_walk.is_none()
    }

    /// Whether the truck should stay silent now (an `offline` behaviour).
    pub fn silent(&self) -> bool {
        self.active(|b| matches!(b, Behaviour::Offline { .. }))
            .is_some()
    }

    /// Advances `dt_s` seconds and returns the fix to report.
    pub fn step(&mut self, dt_s: f64, rng: &mut StdRng) -> SimFix {
        self.elapsed_s += dt_s;
        if let Some(origin) = self.random_walk {
            return self.step_random_walk(origin, dt_s, rng);
        }
        // A dumping stop freezes the truck where it is, loaded, tipping.
        if let Some(Behaviour::Dump { lift, .. }) =
            self.active(|b| matches!(b, Behaviour::Dump { .. }))
        {
            let lift = *lift;
            let mut fix = self.fix_here(0.0);
            fix.load = LoadState::Full;
            fix.lift_up = lift;
            return fix;
        }
        let speed = match self.active(|b| matches!(b, Behaviour::Speeding { .. })) {
            Some(Behaviour::Speeding { speed_kmh, .. }) => *speed_kmh,
            _ => self.cruise_kmh * rng.random_range(0.9..1.1),
        };
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        match self.phase {
            Phase::Loading | Phase::Unloading => {
                self.stop_left_s -= dt_s;
                if self.stop_left_s <= 0.0 {
                    self.phase = if self.phase == Phase::Loading {
                        Phase::Outbound
                    } else {
                        Phase::Return
                    };
                    self.progress_m = if self.phase == Phase::Outbound {
                        0.0
                    } else {
                        total
                    };
                }
                let mut fix = self.fix_here(0.0);
                fix.lift_up = self.phase == Phase::Unloading;
                fix
            }
            Phase::Outbound => {
                self.progress_m += speed / 3.6 * dt_s;
                if self.progress_m >= total {
                    self.progress_m = total;
                    self.phase = Phase::Unloading;
                    self.stop_left_s = rng.random_range(60.0..180.0);
                }
                self.fix_here(speed)
            }
            Phase::Return => {
                self.progress_m -= speed / 3.6 * dt_s;
                if self.progress_m <= 0.0 {
                    self.progress_m = 0.0;
                    self.phase = Phase::Loading;
                    self.stop_left_s = rng.random_range(60.0..180.0);
                }
                self.fix_here(speed)
            }
        }
    }

    /// The fix at the current progress, with scenario offsets applied.
    fn fix_here(&self, speed_kmh: f64) -> SimFix {
        let (point, mut heading) = self.point_at(self.progress_m);
        if self.phase == Phase::Return {
            heading = (heading + 180.0) % 360.0;
        }
        let mut point = point;
        if let Some(Behaviour::LeaveRoute { offset_m, .. }) =
            self.active(|b| matches!(b, Behaviour::LeaveRoute { .. }))
        {
            point = Haversine.destination(point, heading + 90.0, *offset_m);
        }
        if let Some(Behaviour::EnterZone { lon, lat, .. }) =
            self.active(|b| matches!(b, Behaviour::EnterZone { .. }))
        {
            point = Point::new(*lon, *lat);
        }
        let loaded = matches!(self.phase, Phase::Outbound | Phase::Unloading);
        SimFix {
            lat: point.y(),
            lon: point.x(),
            speed_kmh,
            heading: heading.rem_euclid(360.0) as u16,
            load: if loaded {
                LoadState::Full
            } else {
                LoadState::Empty
            },
            lift_up: false,
            lid_open: loaded
                && self
                    .active(|b| matches!(b, Behaviour::LidOpen { .. }))
                    .is_some(),
        }
    }

    /// The point `distance_m` along the path and the heading of the segment it lies on.
    fn point_at(&self, distance_m: f64) -> (Point<f64>, f64) {
        let index = self
            .cumulative
            .partition_point(|&c| c <= distance_m)
            .clamp(1, self.path.len().saturating_sub(1).max(1));
        let (Some(a), Some(b)) = (self.path.get(index - 1), self.path.get(index)) else {
            return (
                self.path.first().copied().unwrap_or(Point::new(0.0, 0.0)),
                0.0,
            );
        };
        let start = self.cumulative.get(index - 1).copied().unwrap_or(0.0);
        let along = (distance_m - start).max(0.0);
        let heading = Haversine.bearing(*a, *b);
        (Haversine.destination(*a, heading, along), heading)
    }

    fn step_random_walk(&mut self, origin: Point<f64>, dt_s: f64, rng: &mut StdRng) -> SimFix {
        self.walk_heading = (self.walk_heading + rng.random_range(-20.0..20.0)).rem_euclid(360.0);
        let speed = match self.active(|b| matches!(b, Behaviour::Speeding { .. })) {
            Some(Behaviour::Speeding { speed_kmh, .. }) => *speed_kmh,
            _ => self.cruise_kmh,
        };
        let next = Haversine.destination(origin, self.walk_heading, speed / 3.6 * dt_s);
        // Stay inside the city box: turn back toward the centre when leaving it.
        let centre = Point::new(LIUZHOU_CENTRE.0, LIUZHOU_CENTRE.1);
        let next = if Haversine.distance(next, centre) > 15_000.0 {
            self.walk_heading = Haversine.bearing(next, centre);
            origin
        } else {
            next
        };
        self.random_walk = Some(next);
        SimFix {
            lat: next.y(),
            lon: next.x(),
            speed_kmh: speed,
            heading: self.walk_heading as u16,
            load: LoadState::Empty,
            lift_up: false,
            lid_open: false,
        }
    }

    /// The first behaviour matching `kind` that is active at the current time.
    fn active(&self, kind: impl Fn(&Behaviour) -> bool) -> Option<&Behaviour> {
        self.behaviours
            .iter()
            .find(|b| kind(b) && b.active_at(self.elapsed_s))
    }
}

/// Site centroid -> the permitted route from its point nearest the site toward the end that
/// lies at a permitted disposal ground -> that ground's centroid. (Sample-city routes run past
/// several sites and end inside their disposal ground.)
fn plan_path(registry: &Registry, vehicle_id: &str) -> Option<Vec<Point<f64>>> {
    let permit = registry
        .permits
        .iter()
        .find(|p| p.vehicle_ids.iter().any(|v| v == vehicle_id))?;
    let site = registry.sites.iter().find(|s| s.id == permit.site_id)?;
    let site_point = site.geometry.centroid()?;
    let grounds: Vec<Point<f64>> = permit
        .disposal_ground_ids
        .iter()
        .filter_map(|id| registry.disposal_grounds.iter().find(|d| &d.id == id))
        .filter_map(|d| d.geometry.centroid())
        .collect();
    let nearest_ground = |p: Point<f64>| {
        grounds
            .iter()
            .map(|g| (*g, Haversine.distance(*g, p)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };
    permit
        .route_ids
        .iter()
        .filter_map(|id| registry.routes.iter().find(|r| &r.id == id))
        .filter_map(|route| {
            let mut line: Vec<Point<f64>> =
                route.geometry.0.iter().flat_map(|ls| ls.points()).collect();
            let (first, last) = (*line.first()?, *line.last()?);
            let (ground_at_first, d_first) = nearest_ground(first)?;
            let (ground_at_last, d_last) = nearest_ground(last)?;
            let ground = if d_first < d_last {
                line.reverse();
                ground_at_first
            } else {
                ground_at_last
            };
            let start = line
                .iter()
                .enumerate()
                .min_by(|a, b| {
                    Haversine
                        .distance(*a.1, site_point)
                        .total_cmp(&Haversine.distance(*b.1, site_point))
                })
                .map(|(i, _)| i)?;
            let mut path = Vec::with_capacity(line.len() - start + 2);
            path.push(site_point);
            path.extend(line.get(start..)?.iter().copied());
            path.push(ground);
            // Prefer the route whose nearest point passes closest to the site.
            let detour = Haversine.distance(site_point, *line.get(start)?);
            Some((detour, path))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, path)| path)
}

fn cumulative_lengths(path: &[Point<f64>]) -> Vec<f64> {
    let mut total = 0.0;
    let mut out = Vec::with_capacity(path.len());
    out.push(0.0);
    for pair in path.windows(2) {
        if let [a, b] = pair {
            total += Haversine.distance(*a, *b);
            out.push(total);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DisposalGround, Permit, Route, Site};
    use chrono::NaiveDate;
    use geo_types::{LineString, MultiLineString, MultiPolygon, Polygon};
    use rand::SeedableRng;

    fn square(lon: f64, lat: f64, half: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![Polygon::new(
            LineString::from(vec![
                (lon - half, lat - half),
                (lon + half, lat - half),
                (lon + half, lat + half),
                (lon - half, lat + half),
                (lon - half, lat - half),
            ]),
            vec![],
        )])
    }

    /// A site at the west end of an east-west route and a disposal ground at its east end.
    fn registry() -> Registry {
        Registry {
            sites: vec![Site {
                id: "S1".into(),
                name: "site".into(),
                geometry: square(109.40, 24.30, 0.001),
                version: 1,
            }],
            disposal_grounds: vec![DisposalGround {
                id: "D1".into(),
                name: "ground".into(),
                geometry: square(109.45, 24.30, 0.001),
                version: 1,
            }],
            routes: vec![Route {
                id: "R1".into(),
                name: "road".into(),
                // Drawn east to west, to check the plan orients it from the site.
                geometry: MultiLineString(vec![LineString::from(vec![
                    (109.45, 24.30),
                    (109.43, 24.30),
                    (109.40, 24.30),
                ])]),
                corridor_m: 100.0,
                speed_limit_kmh: None,
                version: 1,
            }],
            permits: vec![Permit {
                id: "P1".into(),
                number: "P-1".into(),
                company_id: "C1".into(),
                vehicle_ids: vec!["V1".into()],
                site_id: "S1".into(),
                disposal_ground_ids: vec!["D1".into()],
                route_ids: vec!["R1".into()],
                valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
                valid_to: NaiveDate::from_ymd_opt(2027, 1, 1).expect("date"),
                daily_windows: vec![],
            }],
            ..Registry::default()
        }
    }

    #[test]
    fn loaded_trip_goes_from_site_to_disposal_ground_and_back_empty() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut truck = TruckMotion::plan(&registry(), "V1", LIUZHOU_CENTRE, &mut rng);
        assert!(truck.has_plan());
        // Start at the beginning of a cycle.
        truck.phase = Phase::Loading;
        truck.progress_m = 0.0;
        truck.stop_left_s = 10.0;
        let mut saw_outbound_loaded = false;
        let mut saw_unloading_lift = false;
        let mut saw_return_empty = false;
        let mut max_lon: f64 = 0.0;
        for _ in 0..2000 {
            let fix = truck.step(5.0, &mut rng);
            // Always on the east-west line between the site and the ground.
            assert!((fix.lat - 24.30).abs() < 0.0005, "{fix:?}");
            max_lon = max_lon.max(fix.lon);
            match truck.phase {
                Phase::Outbound if fix.speed_kmh > 0.0 => {
                    saw_outbound_loaded |= fix.load == LoadState::Full;
                }
                Phase::Unloading => saw_unloading_lift |= fix.lift_up,
                Phase::Return if fix.speed_kmh > 0.0 => {
                    saw_return_empty |= fix.load == LoadState::Empty;
                    assert!(fix.heading > 180, "heading west on return: {}", fix.heading);
                }
                _ => {}
            }
        }
        assert!(saw_outbound_loaded && saw_unloading_lift && saw_return_empty);
        assert!(max_lon > 109.449, "reached the disposal ground: {max_lon}");
    }

    #[test]
    fn scenario_behaviours_bend_the_plan() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut truck = TruckMotion::plan(&registry(), "V1", LIUZHOU_CENTRE, &mut rng);
        truck.phase = Phase::Outbound;
        truck.progress_m = 1000.0;
        truck.add_behaviour(Behaviour::LeaveRoute {
            start_s: 0.0,
            duration_s: 30.0,
            offset_m: 500.0,
        });
        truck.add_behaviour(Behaviour::Speeding {
            start_s: 0.0,
            duration_s: 30.0,
            speed_kmh: 95.0,
        });
        truck.add_behaviour(Behaviour::Offline {
            start_s: 40.0,
            duration_s: 10.0,
        });
        let fix = truck.step(5.0, &mut rng);
        // Heading east, 500 m to the right is south: about 0.0045 degrees of latitude.
        assert!((24.30 - fix.lat - 0.0045).abs() < 0.0005, "{fix:?}");
        assert_eq!(fix.speed_kmh, 95.0);
        assert!(!truck.silent());
        for _ in 0..8 {
            truck.step(5.0, &mut rng);
        }
        assert!(truck.silent());
    }

    #[test]
    fn no_permit_means_random_walk_near_origin() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut truck = TruckMotion::plan(&registry(), "NOPE", LIUZHOU_CENTRE, &mut rng);
        assert!(!truck.has_plan());
        let centre = Point::new(LIUZHOU_CENTRE.0, LIUZHOU_CENTRE.1);
        for _ in 0..5000 {
            let fix = truck.step(10.0, &mut rng);
            assert!(Haversine.distance(centre, Point::new(fix.lon, fix.lat)) < 16_000.0);
        }
    }
}
