//! How a simulated truck moves: loaded from its permit's site along a permitted route to a
//! disposal ground, unloaded, and back empty, within the permit's daily windows and below the
//! route's speed limit. A registered truck without a permit stays parked; an unknown one
//! random-walks. Scenario behaviours bend the plan to break chosen rules.
//!
//! The truck never teleports: wherever the plan (or a behaviour) wants it to be, it drives
//! there, so a detour shows up as driving, not as a GPS jump.

use chrono::{DateTime, Utc};
use geo::{Bearing, Centroid, Destination, Distance, Haversine, Point};
use rand::Rng;
use rand::rngs::StdRng;

use super::scenario::Behaviour;
use crate::model::schedule::local_time_of_day;
use crate::model::{DailyWindow, LoadState, Registry};

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
    /// Stopped at the site, being loaded (or waiting for the permit window).
    Loading,
    /// Driving loaded toward the disposal ground.
    Outbound,
    /// Stopped in the disposal ground, tipping.
    Unloading,
    /// Driving back empty.
    Return,
}

/// How the truck behaves when nothing in a scenario says otherwise.
#[derive(Debug, Clone)]
enum Plan {
    /// Shuttles between its permit's site and disposal ground.
    Permit {
        /// Site -> route -> disposal ground, WGS-84 points.
        path: Vec<Point<f64>>,
        /// Cumulative distance (m) at each path point.
        cumulative: Vec<f64>,
        /// Permit's daily windows (local time); empty means all day.
        windows: Vec<DailyWindow>,
    },
    /// Registered but no permit: parked at its depot.
    Parked,
    /// Unknown to the registry: wanders around the city.
    RandomWalk,
}

/// A truck's plan and its progress on it.
#[derive(Debug, Clone)]
pub struct TruckMotion {
    /// The plan.
    plan: Plan,
    /// Distance travelled along the path (m); counts down on the return leg.
    progress_m: f64,
    /// Phase of the trip.
    phase: Phase,
    /// Seconds left in the current stop (loading or unloading).
    stop_left_s: f64,
    /// Cruising speed, km/h, already below the route's limit.
    cruise_kmh: f64,
    /// Seconds since the simulation started, for scenario timing.
    elapsed_s: f64,
    /// Rule-breaking behaviours with their start and duration.
    behaviours: Vec<Behaviour>,
    /// Where the truck actually is.
    actual: Point<f64>,
    /// Heading of the random walk.
    walk_heading: f64,
    /// Whether a dump behaviour emptied the truck (it then heads back).
    dumped: bool,
    /// Whether the first fix was made (a truck whose permit window is closed at the start
    /// begins parked at its site rather than mid-trip).
    started: bool,
}

/// Liuzhou city centre, the default random-walk origin.
pub const LIUZHOU_CENTRE: (f64, f64) = (109.40698, 24.32405);

impl TruckMotion {
    /// Plans a truck's trips from the permit covering `vehicle_id` in `registry`: its site,
    /// the permitted route passing nearest to it, and the disposal ground at the route's end.
    /// A registered vehicle without a permit parks near `origin`; an unknown one random-walks
    /// from there.
    pub fn plan(
        registry: &Registry,
        vehicle_id: &str,
        origin: (f64, f64),
        rng: &mut StdRng,
    ) -> TruckMotion {
        let near_origin = Point::new(
            origin.0 + rng.random_range(-0.05..0.05),
            origin.1 + rng.random_range(-0.05..0.05),
        );
        let mut cruise_kmh = rng.random_range(30.0..50.0);
        let mut motion = TruckMotion {
            plan: Plan::RandomWalk,
            progress_m: 0.0,
            phase: Phase::Outbound,
            stop_left_s: rng.random_range(30.0..120.0),
            cruise_kmh,
            elapsed_s: 0.0,
            behaviours: Vec::new(),
            actual: near_origin,
            walk_heading: rng.random_range(0.0..360.0),
            dumped: false,
            started: false,
        };
        if !registry.vehicles.iter().any(|v| v.id == vehicle_id) {
            return motion;
        }
        let Some(PlannedPath {
            path,
            speed_limit_kmh: limit,
            windows,
        }) = plan_path(registry, vehicle_id)
        else {
            motion.plan = Plan::Parked;
            motion.actual = depot(registry, origin, rng);
            return motion;
        };
        // Stay clear of every limit the truck may meet (its own route's, another route's where
        // they share a road, a speed zone's), even with the +-10 % speed noise.
        let lowest_limit = registry
            .routes
            .iter()
            .filter_map(|r| r.speed_limit_kmh)
            .chain(registry.zones.iter().filter_map(|z| z.speed_limit_kmh))
            .chain(limit)
            .fold(f64::MAX, f64::min);
        if lowest_limit < f64::MAX {
            cruise_kmh = cruise_kmh.min(lowest_limit * 0.85);
        }
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
        motion.plan = Plan::Permit {
            path,
            cumulative,
            windows,
        };
        motion.phase = phase;
        motion.progress_m = progress_m;
        motion.cruise_kmh = cruise_kmh;
        motion.actual = motion.planned_point().0;
        motion
    }

    /// Adds a rule-breaking behaviour. A truck that is to enter a zone starts its trip at the
    /// point of its route nearest that zone, so the detour is short.
    pub fn add_behaviour(&mut self, behaviour: Behaviour) {
        if let Behaviour::EnterZone { lon, lat, .. } = &behaviour
            && let Plan::Permit {
                path, cumulative, ..
            } = &self.plan
        {
            let zone = Point::new(*lon, *lat);
            let nearest = path
                .iter()
                .zip(cumulative)
                .min_by(|a, b| {
                    Haversine
                        .distance(*a.0, zone)
                        .total_cmp(&Haversine.distance(*b.0, zone))
                })
                .map(|(_, along)| *along);
            if let Some(along) = nearest {
                self.phase = Phase::Outbound;
                self.progress_m = along;
                self.actual = self.planned_point().0;
            }
        }
        self.behaviours.push(behaviour);
    }

    /// How close (metres) the truck's planned path comes to a point; `None` without a plan.
    /// Scenario writers use it to pick a truck for a zone detour.
    pub fn approach_m(&self, lon: f64, lat: f64) -> Option<f64> {
        let Plan::Permit { path, .. } = &self.plan else {
            return None;
        };
        let target = Point::new(lon, lat);
        path.iter()
            .map(|p| Haversine.distance(*p, target))
            .min_by(f64::total_cmp)
    }

    /// Whether a behaviour that makes the truck drive is active or about to start (such a
    /// truck drives even when its permit's window is closed: that is part of the breach).
    fn driving_behaviour(&self, within_s: f64) -> bool {
        self.behaviours.iter().any(|b| {
            matches!(
                b,
                Behaviour::Speeding { .. }
                    | Behaviour::LeaveRoute { .. }
                    | Behaviour::EnterZone { .. }
            ) && (b.active_at(self.elapsed_s) || b.active_at(self.elapsed_s + within_s))
        })
    }

    /// Whether the truck follows a permit plan.
    pub fn has_plan(&self) -> bool {
        matches!(self.plan, Plan::Permit { .. })
    }

    /// Whether the truck should stay silent now (an `offline` behaviour).
    pub fn silent(&self) -> bool {
        self.active(|b| matches!(b, Behaviour::Offline { .. }))
            .is_some()
    }

    /// Advances `dt_s` seconds to wall-clock time `now` (which decides whether the permit's
    /// window is open) and returns the fix to report.
    pub fn step(&mut self, dt_s: f64, now: DateTime<Utc>, rng: &mut StdRng) -> SimFix {
        self.elapsed_s += dt_s;
        let noise = rng.random_range(0.9..1.1);
        let speeding = match self.active(|b| matches!(b, Behaviour::Speeding { .. })) {
            Some(Behaviour::Speeding { speed_kmh, .. }) => Some(*speed_kmh),
            _ => None,
        };
        let speed = speeding.unwrap_or(self.cruise_kmh * noise);

        // A dumping stop: the truck stands where it is, loaded, perhaps tipping; afterwards it
        // is empty and heads back.
        if let Some(Behaviour::Dump { lift, .. }) =
            self.active(|b| matches!(b, Behaviour::Dump { .. }))
        {
            let lift = *lift;
            self.dumped = true;
            return SimFix {
                lat: self.actual.y(),
                lon: self.actual.x(),
                speed_kmh: 0.0,
                heading: 0,
                load: LoadState::Full,
                lift_up: lift,
                lid_open: false,
            };
        }
        if self.dumped {
            self.dumped = false;
            if self.phase == Phase::Outbound {
                self.phase = Phase::Return;
            }
        }

        let (target, plan_heading, plan_speed) = match &self.plan {
            Plan::RandomWalk => self.walk_target(speed, dt_s, rng),
            Plan::Parked if self.driving_behaviour(0.0) => self.walk_target(speed, dt_s, rng),
            Plan::Parked => (self.actual, 0.0, 0.0),
            Plan::Permit { .. } => self.advance_plan(speed, dt_s, now, rng),
        };
        let mut target = target;
        if let Some(Behaviour::LeaveRoute { offset_m, .. }) =
            self.active(|b| matches!(b, Behaviour::LeaveRoute { .. }))
        {
            target = Haversine.destination(target, plan_heading + 90.0, *offset_m);
        }
        let mut moving_speed = plan_speed;
        if let Some(Behaviour::EnterZone { lon, lat, .. }) =
            self.active(|b| matches!(b, Behaviour::EnterZone { .. }))
        {
            // Hurry there (a detour), then circle slowly around a point inside the zone.
            let centre = Point::new(*lon, *lat);
            target = Haversine.destination(centre, rng.random_range(0.0..360.0), 60.0);
            moving_speed = if Haversine.distance(self.actual, centre) > 200.0 {
                50.0
            } else {
                15.0
            };
        }

        // Drive toward the target; catch up a little faster than cruising after a detour.
        let limit = if speeding.is_some() || moving_speed > self.cruise_kmh {
            f64::MAX
        } else {
            self.cruise_kmh * 1.15
        };
        let max_step = speed.max(moving_speed).max(15.0).min(limit) / 3.6 * dt_s;
        let distance = Haversine.distance(self.actual, target);
        let (point, heading, reported_speed) = if distance <= max_step.max(1.0) {
            let reported = if plan_speed > 0.0 || moving_speed > 0.0 {
                (distance / dt_s.max(1e-3) * 3.6).max(moving_speed.min(speed))
            } else {
                0.0
            };
            (target, plan_heading, reported.min(speed.max(moving_speed)))
        } else {
            let bearing = Haversine.bearing(self.actual, target);
            (
                Haversine.destination(self.actual, bearing, max_step),
                bearing,
                max_step / dt_s.max(1e-3) * 3.6,
            )
        };
        self.actual = point;
        let loaded = matches!(self.phase, Phase::Outbound | Phase::Unloading)
            && matches!(self.plan, Plan::Permit { .. });
        SimFix {
            lat: point.y(),
            lon: point.x(),
            speed_kmh: if reported_speed < 1.0 {
                0.0
            } else {
                reported_speed
            },
            heading: heading.rem_euclid(360.0) as u16,
            load: if loaded {
                LoadState::Full
            } else {
                LoadState::Empty
            },
            lift_up: self.phase == Phase::Unloading && matches!(self.plan, Plan::Permit { .. }),
            lid_open: loaded
                && self
                    .active(|b| matches!(b, Behaviour::LidOpen { .. }))
                    .is_some(),
        }
    }

    /// Moves along the permit plan; returns the planned point, its heading and speed.
    fn advance_plan(
        &mut self,
        speed: f64,
        dt_s: f64,
        now: DateTime<Utc>,
        rng: &mut StdRng,
    ) -> (Point<f64>, f64, f64) {
        let Plan::Permit {
            cumulative,
            windows,
            ..
        } = &self.plan
        else {
            return (self.actual, 0.0, 0.0);
        };
        let total = cumulative.last().copied().unwrap_or(0.0);
        let tod = local_time_of_day(now);
        let window_open = windows.is_empty()
            || windows.iter().any(|w| w.contains(tod))
            || self.driving_behaviour(0.0);
        if !self.started {
            self.started = true;
            if !window_open && !self.driving_behaviour(60.0) {
                self.phase = Phase::Loading;
                self.progress_m = 0.0;
                self.actual = self.planned_point().0;
            }
        }
        let mut moving = false;
        match self.phase {
            Phase::Loading => {
                // Wait at the site while the permit does not allow transport.
                if window_open {
                    self.stop_left_s -= dt_s;
                    if self.stop_left_s <= 0.0 {
                        self.phase = Phase::Outbound;
                        self.progress_m = 0.0;
                    }
                }
            }
            Phase::Unloading => {
                self.stop_left_s -= dt_s;
                if self.stop_left_s <= 0.0 {
                    self.phase = Phase::Return;
                    self.progress_m = total;
                }
            }
            Phase::Outbound => {
                moving = true;
                self.progress_m += speed / 3.6 * dt_s;
                if self.progress_m >= total {
                    self.progress_m = total;
                    self.phase = Phase::Unloading;
                    self.stop_left_s = rng.random_range(60.0..180.0);
                }
            }
            Phase::Return => {
                moving = true;
                self.progress_m -= speed / 3.6 * dt_s;
                if self.progress_m <= 0.0 {
                    self.progress_m = 0.0;
                    self.phase = Phase::Loading;
                    self.stop_left_s = rng.random_range(60.0..180.0);
                }
            }
        }
        let (point, mut heading) = self.planned_point();
        if self.phase == Phase::Return {
            heading = (heading + 180.0) % 360.0;
        }
        (point, heading, if moving { speed } else { 0.0 })
    }

    /// The point of the plan at the current progress and the heading of its segment.
    fn planned_point(&self) -> (Point<f64>, f64) {
        let Plan::Permit {
            path, cumulative, ..
        } = &self.plan
        else {
            return (self.actual, 0.0);
        };
        let distance_m = self.progress_m;
        let index = cumulative
            .partition_point(|&c| c <= distance_m)
            .clamp(1, path.len().saturating_sub(1).max(1));
        let (Some(a), Some(b)) = (path.get(index - 1), path.get(index)) else {
            return (path.first().copied().unwrap_or(self.actual), 0.0);
        };
        let start = cumulative.get(index - 1).copied().unwrap_or(0.0);
        let along = (distance_m - start).max(0.0);
        let heading = Haversine.bearing(*a, *b);
        (Haversine.destination(*a, heading, along), heading)
    }

    /// The next random-walk point, staying within 15 km of the city centre.
    fn walk_target(&mut self, speed: f64, dt_s: f64, rng: &mut StdRng) -> (Point<f64>, f64, f64) {
        self.walk_heading = (self.walk_heading + rng.random_range(-20.0..20.0)).rem_euclid(360.0);
        let centre = Point::new(LIUZHOU_CENTRE.0, LIUZHOU_CENTRE.1);
        if Haversine.distance(self.actual, centre) > 15_000.0 {
            self.walk_heading = Haversine.bearing(self.actual, centre);
        }
        let next = Haversine.destination(self.actual, self.walk_heading, speed / 3.6 * dt_s);
        (next, self.walk_heading, speed)
    }

    /// The first behaviour matching `kind` that is active at the current time.
    fn active(&self, kind: impl Fn(&Behaviour) -> bool) -> Option<&Behaviour> {
        self.behaviours
            .iter()
            .find(|b| kind(b) && b.active_at(self.elapsed_s))
    }
}

/// A permit plan: site centroid -> the permitted route from its point nearest the site toward
/// the end at a permitted disposal ground -> that ground's centroid (sample-city routes run
/// past several sites and end inside their disposal ground); with the route's speed limit and
/// the permit's daily windows.
fn plan_path(registry: &Registry, vehicle_id: &str) -> Option<PlannedPath> {
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
    let (_, path, limit) = permit
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
            // Prefer the route passing closest to the site.
            let detour = Haversine.distance(site_point, *line.get(start)?);
            Some((detour, path, route.speed_limit_kmh))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    Some(PlannedPath {
        path,
        speed_limit_kmh: limit,
        windows: permit.daily_windows.clone(),
    })
}

/// What [`plan_path`] found for a permitted truck.
struct PlannedPath {
    /// Site -> route -> disposal ground.
    path: Vec<Point<f64>>,
    /// The route's speed limit.
    speed_limit_kmh: Option<f64>,
    /// The permit's daily windows.
    windows: Vec<DailyWindow>,
}

/// A parking place near `origin` outside every site, disposal ground and control zone (a
/// truck parked inside a site without a permit would be a violation).
fn depot(registry: &Registry, origin: (f64, f64), rng: &mut StdRng) -> Point<f64> {
    use geo::Contains;
    let fenced = |p: &Point<f64>| {
        registry.sites.iter().any(|f| f.geometry.contains(p))
            || registry
                .disposal_grounds
                .iter()
                .any(|f| f.geometry.contains(p))
            || registry
                .zones
                .iter()
                .filter(|z| z.kind != crate::model::ZoneKind::District)
                .any(|z| z.geometry.contains(p))
    };
    let mut candidate = Point::new(origin.0, origin.1);
    for _ in 0..100 {
        candidate = Point::new(
            origin.0 + rng.random_range(-0.08..0.08),
            origin.1 + rng.random_range(-0.08..0.08),
        );
        if !fenced(&candidate) {
            break;
        }
    }
    candidate
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

    /// 12:00 Beijing time.
    fn noon() -> DateTime<Utc> {
        "2026-11-23T04:00:00Z".parse().expect("time")
    }

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
            vehicles: vec![crate::model::Vehicle {
                id: "V1".into(),
                plate: "桂B00001".into(),
                plate_color: 2,
                company_id: "C1".into(),
                rated_load_kg: None,
                sensors: crate::model::SensorCapabilities::default(),
            }],
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
            let fix = truck.step(5.0, noon(), &mut rng);
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
        truck.actual = truck.planned_point().0;
        truck.add_behaviour(Behaviour::LeaveRoute {
            start_s: 0.0,
            duration_s: 120.0,
            offset_m: 500.0,
        });
        truck.add_behaviour(Behaviour::Speeding {
            start_s: 0.0,
            duration_s: 120.0,
            speed_kmh: 95.0,
        });
        truck.add_behaviour(Behaviour::Offline {
            start_s: 125.0,
            duration_s: 10.0,
        });
        let mut previous = truck.actual;
        let mut fix = truck.step(5.0, noon(), &mut rng);
        for _ in 0..10 {
            // Never a jump: each step is at most the speeding speed.
            let here = Point::new(fix.lon, fix.lat);
            assert!(Haversine.distance(previous, here) <= 95.0 / 3.6 * 5.0 + 1.0);
            previous = here;
            fix = truck.step(5.0, noon(), &mut rng);
        }
        // Heading east, 500 m to the right is south: about 0.0045 degrees of latitude,
        // reached by driving there.
        assert!((24.30 - fix.lat - 0.0045).abs() < 0.0006, "{fix:?}");
        assert!(fix.speed_kmh > 80.0, "{fix:?}");
        assert!(!truck.silent());
        // 11 steps so far; step 25 ends at 125 s, when the offline window opens.
        for _ in 0..14 {
            truck.step(5.0, noon(), &mut rng);
        }
        assert!(truck.silent());
    }

    #[test]
    fn registered_truck_without_permit_stays_parked() {
        let mut registry = registry();
        registry.vehicles.push(crate::model::Vehicle {
            id: "V9".into(),
            plate: "桂B99999".into(),
            plate_color: 2,
            company_id: "C1".into(),
            rated_load_kg: None,
            sensors: crate::model::SensorCapabilities::default(),
        });
        let mut rng = StdRng::seed_from_u64(3);
        let mut truck = TruckMotion::plan(&registry, "V9", LIUZHOU_CENTRE, &mut rng);
        let first = truck.step(10.0, noon(), &mut rng);
        for _ in 0..20 {
            let fix = truck.step(10.0, noon(), &mut rng);
            assert_eq!(
                (fix.lat, fix.lon, fix.speed_kmh),
                (first.lat, first.lon, 0.0)
            );
        }
    }

    #[test]
    fn waits_at_the_site_outside_the_permit_window_and_respects_the_speed_limit() {
        let mut registry = registry();
        registry.permits[0].daily_windows = vec![DailyWindow {
            start: chrono::NaiveTime::from_hms_opt(22, 0, 0).expect("time"),
            end: chrono::NaiveTime::from_hms_opt(6, 0, 0).expect("time"),
        }];
        registry.routes[0].speed_limit_kmh = Some(30.0);
        let mut rng = StdRng::seed_from_u64(5);
        let mut truck = TruckMotion::plan(&registry, "V1", LIUZHOU_CENTRE, &mut rng);
        truck.phase = Phase::Loading;
        truck.progress_m = 0.0;
        truck.actual = truck.planned_point().0;
        for _ in 0..100 {
            let fix = truck.step(10.0, noon(), &mut rng);
            assert_eq!(fix.speed_kmh, 0.0, "noon is outside 22:00-06:00");
        }
        let night: DateTime<Utc> = "2026-11-23T15:00:00Z".parse().expect("time"); // 23:00
        let mut moved = false;
        for _ in 0..200 {
            let fix = truck.step(10.0, night, &mut rng);
            assert!(fix.speed_kmh <= 30.0, "{fix:?}");
            moved |= fix.speed_kmh > 0.0;
        }
        assert!(moved);
    }

    #[test]
    fn no_permit_means_random_walk_near_origin() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut truck = TruckMotion::plan(&registry(), "NOPE", LIUZHOU_CENTRE, &mut rng);
        assert!(!truck.has_plan());
        let centre = Point::new(LIUZHOU_CENTRE.0, LIUZHOU_CENTRE.1);
        for _ in 0..5000 {
            let fix = truck.step(10.0, noon(), &mut rng);
            assert!(Haversine.distance(centre, Point::new(fix.lon, fix.lat)) < 16_000.0);
        }
    }
}
