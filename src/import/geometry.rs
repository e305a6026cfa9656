//! The GeoJSON files of a bundle: reading FeatureCollections feature by feature (so one broken
//! feature does not hide the faults of the others), checking rings and coordinates on the raw
//! input (before anything closes a ring for us), converting GCJ-02/BD-09 to WGS-84, and
//! validating the resulting shapes with `geo`.

use std::collections::HashSet;
use std::path::Path;

use geo::algorithm::validation::{InvalidMultiPolygon, InvalidPolygon, Validation};
use geo_types::{Coord, LineString, MultiLineString, MultiPolygon, Polygon};
use geojson::GeometryValue;
use serde_json::Value;

use super::registry_file::{parse_time_of_day, weekly_windows_overlap};
use super::{BundleFault, FaultKind, ROUTES_FILE, ZONES_FILE};
use crate::model::{DailyWindow, Route, Weekdays, WeeklyWindow, Zone, ZoneKind};

/// Corridor half-width when a route does not say (metres), per the bundle format.
pub const DEFAULT_CORRIDOR_M: f64 = 100.0;

/// Coordinate system a collection declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CoordSys {
    /// WGS-84 (the default, and what is stored).
    Wgs84,
    /// GCJ-02 (AMap, Tencent).
    Gcj02,
    /// BD-09 (Baidu).
    Bd09,
}

impl CoordSys {
    fn to_wgs84(self, lon: f64, lat: f64) -> Coord<f64> {
        let (x, y) = match self {
            CoordSys::Wgs84 => (lon, lat),
            CoordSys::Gcj02 => coordtransform::gcj02_to_wgs84(lon, lat),
            CoordSys::Bd09 => coordtransform::bd09_to_wgs84(lon, lat),
        };
        Coord { x, y }
    }
}

/// A polygon feature as read: id, name and shape in WGS-84.
pub(super) struct PolygonFeature {
    pub id: String,
    pub name: String,
    pub geometry: MultiPolygon<f64>,
}

/// A feature with its id, ready to be checked.
struct RawFeature {
    id: String,
    geometry: geojson::Geometry,
    properties: serde_json::Map<String, Value>,
}

/// The ids present in a file, even of features with faults, so that references to a broken
/// feature are not reported a second time as unknown. `None` when the file itself could not be
/// read: references into it cannot be checked at all.
pub(super) type PresentIds = Option<HashSet<String>>;

/// Reads a FeatureCollection file; faults go to `faults`, features that parse come back with
/// the collection's coordinate system and the ids of every feature.
fn read_collection(
    dir: &Path,
    file: &str,
    faults: &mut Vec<BundleFault>,
) -> Option<(CoordSys, Vec<RawFeature>, HashSet<String>)> {
    let path = dir.join(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            faults.push(BundleFault::new(
                file,
                None,
                FaultKind::MissingFile,
                format!("cannot read {}: {e}", path.display()),
            ));
            return None;
        }
    };
    let root: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            faults.push(BundleFault::new(
                file,
                None,
                FaultKind::BrokenJson,
                format!("not valid JSON: {e}"),
            ));
            return None;
        }
    };
    if root.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        faults.push(BundleFault::new(
            file,
            None,
            FaultKind::BrokenJson,
            "expected a GeoJSON FeatureCollection (\"type\": \"FeatureCollection\")",
        ));
        return None;
    }
    let coord_sys = match root.get("coord_sys") {
        None | Some(Value::Null) => CoordSys::Wgs84,
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "wgs84" | "wgs-84" | "epsg:4326" => CoordSys::Wgs84,
            "gcj02" | "gcj-02" => CoordSys::Gcj02,
            "bd09" | "bd-09" => CoordSys::Bd09,
            other => {
                faults.push(BundleFault::new(
                    file,
                    None,
                    FaultKind::InvalidValue,
                    format!("coord_sys {other:?} is not wgs84, gcj02 or bd09"),
                ));
                return None;
            }
        },
        Some(other) => {
            faults.push(BundleFault::new(
                file,
                None,
                FaultKind::InvalidValue,
                format!("coord_sys must be a string, found {other}"),
            ));
            return None;
        }
    };
    let Some(features) = root.get("features").and_then(Value::as_array) else {
        faults.push(BundleFault::new(
            file,
            None,
            FaultKind::BrokenJson,
            "a FeatureCollection needs a \"features\" array",
        ));
        return None;
    };
    let present: HashSet<String> = features
        .iter()
        .filter_map(|f| f.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(features.len());
    for (index, feature) in features.iter().enumerate() {
        let fallback = format!("features[{index}]");
        let id = match feature.get("id") {
            Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                faults.push(BundleFault::new(
                    file,
                    Some(&fallback),
                    FaultKind::InvalidValue,
                    "a feature needs a non-empty string \"id\" (feature-level, not in properties)",
                ));
                continue;
            }
            Some(other) => {
                faults.push(BundleFault::new(
                    file,
                    Some(&fallback),
                    FaultKind::InvalidValue,
                    format!("feature id must be a string, found {other}"),
                ));
                continue;
            }
        };
        if feature.get("type").and_then(Value::as_str) != Some("Feature") {
            faults.push(BundleFault::new(
                file,
                Some(&id),
                FaultKind::BrokenJson,
                "expected \"type\": \"Feature\"",
            ));
            continue;
        }
        if !seen.insert(id.clone()) {
            faults.push(BundleFault::new(
                file,
                Some(&id),
                FaultKind::DuplicateId,
                "another feature in this file has the same id",
            ));
            continue;
        }
        let properties = match feature.get("properties") {
            Some(Value::Object(map)) => map.clone(),
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(other) => {
                faults.push(BundleFault::new(
                    file,
                    Some(&id),
                    FaultKind::BrokenJson,
                    format!("properties must be an object, found {other}"),
                ));
                continue;
            }
        };
        let geometry = match feature.get("geometry") {
            None | Some(Value::Null) => {
                faults.push(BundleFault::new(
                    file,
                    Some(&id),
                    FaultKind::BrokenJson,
                    "the feature has no geometry",
                ));
                continue;
            }
            Some(g) => match serde_json::from_value::<geojson::Geometry>(g.clone()) {
                Ok(g) => g,
                Err(e) => {
                    faults.push(BundleFault::new(
                        file,
                        Some(&id),
                        FaultKind::BrokenJson,
                        format!("geometry is not valid GeoJSON: {e}"),
                    ));
                    continue;
                }
            },
        };
        out.push(RawFeature {
            id,
            geometry,
            properties,
        });
    }
    Some((coord_sys, out, present))
}

/// Checks one raw position: two finite numbers within WGS-84 range.
fn check_position(
    position: &geojson::Position,
    where_: &str,
    problems: &mut Vec<(FaultKind, String)>,
) -> Option<(f64, f64)> {
    let (Some(&lon), Some(&lat)) = (position.as_slice().first(), position.as_slice().get(1)) else {
        problems.push((
            FaultKind::BrokenJson,
            format!("{where_}: a position needs longitude and latitude"),
        ));
        return None;
    };
    let in_range = lon.is_finite()
        && lat.is_finite()
        && (-180.0..=180.0).contains(&lon)
        && (-90.0..=90.0).contains(&lat);
    if !in_range {
        problems.push((
            FaultKind::CoordinatesOutOfRange,
            format!("{where_}: [{lon}, {lat}] is not a longitude/latitude pair"),
        ));
        return None;
    }
    Some((lon, lat))
}

/// Checks a raw ring (closure, size, coordinates) and converts it; `None` if faulty.
fn ring(
    raw: &[geojson::Position],
    where_: &str,
    coord_sys: CoordSys,
    problems: &mut Vec<(FaultKind, String)>,
) -> Option<LineString<f64>> {
    let before = problems.len();
    let coords: Vec<(f64, f64)> = raw
        .iter()
        .enumerate()
        .filter_map(|(i, p)| check_position(p, &format!("{where_} position {i}"), problems))
        .collect();
    if problems.len() > before {
        return None;
    }
    if coords.len() < 4 {
        problems.push((
            FaultKind::InvalidGeometry,
            format!(
                "{where_}: a ring needs at least 4 positions, found {}",
                coords.len()
            ),
        ));
        return None;
    }
    if coords.first() != coords.last() {
        problems.push((
            FaultKind::UnclosedRing,
            format!("{where_}: the last position does not repeat the first"),
        ));
        return None;
    }
    Some(
        coords
            .into_iter()
            .map(|(lon, lat)| coord_sys.to_wgs84(lon, lat))
            .collect(),
    )
}

fn polygon(
    rings: &[Vec<geojson::Position>],
    where_: &str,
    coord_sys: CoordSys,
    problems: &mut Vec<(FaultKind, String)>,
) -> Option<Polygon<f64>> {
    let Some((exterior, interiors)) = rings.split_first() else {
        problems.push((
            FaultKind::InvalidGeometry,
            format!("{where_}: a polygon needs an exterior ring"),
        ));
        return None;
    };
    let shell = ring(
        exterior,
        &format!("{where_} exterior ring"),
        coord_sys,
        problems,
    );
    let holes: Vec<Option<LineString<f64>>> = interiors
        .iter()
        .enumerate()
        .map(|(i, r)| {
            ring(
                r,
                &format!("{where_} interior ring {i}"),
                coord_sys,
                problems,
            )
        })
        .collect();
    let shell = shell?;
    let holes: Option<Vec<LineString<f64>>> = holes.into_iter().collect();
    Some(Polygon::new(shell, holes?))
}

/// Geometric faults of polygons already in WGS-84: self-intersections, holes outside their
/// shell, overlapping parts, non-finite or out-of-range coordinates. Also used by the HTTP API
/// to check fences drawn in the console.
pub fn check_polygons(shape: &MultiPolygon<f64>) -> Vec<(FaultKind, String)> {
    let mut problems = Vec::new();
    if shape.0.is_empty() {
        problems.push((FaultKind::InvalidGeometry, "the shape is empty".to_string()));
        return problems;
    }
    for (i, polygon) in shape.0.iter().enumerate() {
        for c in polygon
            .exterior()
            .coords()
            .chain(polygon.interiors().iter().flat_map(|r| r.coords()))
        {
            if !coord_in_range(c) {
                problems.push((
                    FaultKind::CoordinatesOutOfRange,
                    format!("polygon {i}: [{}, {}] is out of range", c.x, c.y),
                ));
                return problems;
            }
        }
    }
    for error in shape.validation_errors() {
        let kind = match &error {
            InvalidMultiPolygon::InvalidPolygon(_, InvalidPolygon::SelfIntersection(_)) => {
                FaultKind::SelfIntersection
            }
            _ => FaultKind::InvalidGeometry,
        };
        problems.push((kind, error.to_string()));
    }
    problems
}

/// Faults of route lines in WGS-84: fewer than two distinct points, coordinates out of range.
pub fn check_lines(lines: &MultiLineString<f64>) -> Vec<(FaultKind, String)> {
    let mut problems = Vec::new();
    if lines.0.is_empty() {
        problems.push((
            FaultKind::InvalidGeometry,
            "the route has no line".to_string(),
        ));
    }
    for (i, line) in lines.0.iter().enumerate() {
        if let Some(c) = line.coords().find(|c| !coord_in_range(c)) {
            problems.push((
                FaultKind::CoordinatesOutOfRange,
                format!("line {i}: [{}, {}] is out of range", c.x, c.y),
            ));
            continue;
        }
        let first = line.0.first();
        if line.0.len() < 2 || line.coords().all(|c| Some(c) == first) {
            problems.push((
                FaultKind::InvalidGeometry,
                format!("line {i}: a line needs at least two distinct positions"),
            ));
        }
    }
    problems
}

fn coord_in_range(c: &Coord<f64>) -> bool {
    c.x.is_finite()
        && c.y.is_finite()
        && (-180.0..=180.0).contains(&c.x)
        && (-90.0..=90.0).contains(&c.y)
}

/// Reads the shape of a polygon feature (Polygon or MultiPolygon) with every fault.
fn polygon_shape(
    feature: &RawFeature,
    coord_sys: CoordSys,
    problems: &mut Vec<(FaultKind, String)>,
) -> Option<MultiPolygon<f64>> {
    let polygons: Vec<Option<Polygon<f64>>> = match &feature.geometry.value {
        GeometryValue::Polygon { coordinates } => {
            vec![polygon(coordinates, "polygon", coord_sys, problems)]
        }
        GeometryValue::MultiPolygon { coordinates } => coordinates
            .iter()
            .enumerate()
            .map(|(i, rings)| polygon(rings, &format!("polygon {i}"), coord_sys, problems))
            .collect(),
        other => {
            problems.push((
                FaultKind::WrongGeometryType,
                format!(
                    "expected Polygon or MultiPolygon, found {}",
                    other.type_name()
                ),
            ));
            return None;
        }
    };
    let polygons: Option<Vec<Polygon<f64>>> = polygons.into_iter().collect();
    let shape = MultiPolygon(polygons?);
    let shape_problems = check_polygons(&shape);
    if shape_problems.is_empty() {
        Some(shape)
    } else {
        problems.extend(shape_problems);
        None
    }
}

fn line_shape(
    feature: &RawFeature,
    coord_sys: CoordSys,
    problems: &mut Vec<(FaultKind, String)>,
) -> Option<MultiLineString<f64>> {
    let raw_lines: Vec<&Vec<geojson::Position>> = match &feature.geometry.value {
        GeometryValue::LineString { coordinates } => vec![coordinates],
        GeometryValue::MultiLineString { coordinates } => coordinates.iter().collect(),
        other => {
            problems.push((
                FaultKind::WrongGeometryType,
                format!(
                    "expected LineString or MultiLineString, found {}",
                    other.type_name()
                ),
            ));
            return None;
        }
    };
    let before = problems.len();
    let mut lines = Vec::with_capacity(raw_lines.len());
    for (i, raw) in raw_lines.into_iter().enumerate() {
        let coords: Vec<Coord<f64>> = raw
            .iter()
            .enumerate()
            .filter_map(|(j, p)| check_position(p, &format!("line {i} position {j}"), problems))
            .map(|(lon, lat)| coord_sys.to_wgs84(lon, lat))
            .collect();
        lines.push(LineString(coords));
    }
    if problems.len() > before {
        return None;
    }
    let shape = MultiLineString(lines);
    let line_problems = check_lines(&shape);
    if line_problems.is_empty() {
        Some(shape)
    } else {
        problems.extend(line_problems);
        None
    }
}

/// Reads a required string property.
fn name_of(feature: &RawFeature, problems: &mut Vec<(FaultKind, String)>) -> Option<String> {
    match feature.properties.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => Some(name.clone()),
        _ => {
            problems.push((
                FaultKind::InvalidValue,
                "properties.name must be a non-empty string".to_string(),
            ));
            None
        }
    }
}

/// Reads an optional positive number property.
fn positive_number(
    feature: &RawFeature,
    key: &str,
    problems: &mut Vec<(FaultKind, String)>,
) -> Option<Option<f64>> {
    match feature.properties.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(v) => match v.as_f64() {
            Some(n) if n.is_finite() && n > 0.0 => Some(Some(n)),
            _ => {
                problems.push((
                    FaultKind::InvalidValue,
                    format!("properties.{key} must be a positive number, found {v}"),
                ));
                None
            }
        },
    }
}

fn report(
    file: &str,
    id: &str,
    problems: Vec<(FaultKind, String)>,
    faults: &mut Vec<BundleFault>,
) -> bool {
    let clean = problems.is_empty();
    for (kind, message) in problems {
        faults.push(BundleFault::new(file, Some(id), kind, message));
    }
    clean
}

/// Reads `sites.geojson` or `disposal_grounds.geojson`.
pub(super) fn load_polygon_file(
    dir: &Path,
    file: &str,
    faults: &mut Vec<BundleFault>,
) -> (Vec<PolygonFeature>, PresentIds) {
    let Some((coord_sys, features, present)) = read_collection(dir, file, faults) else {
        return (Vec::new(), None);
    };
    let mut out = Vec::with_capacity(features.len());
    for feature in features {
        let mut problems = Vec::new();
        let name = name_of(&feature, &mut problems);
        let shape = polygon_shape(&feature, coord_sys, &mut problems);
        if report(file, &feature.id, problems, faults)
            && let (Some(name), Some(geometry)) = (name, shape)
        {
            out.push(PolygonFeature {
                id: feature.id,
                name,
                geometry,
            });
        }
    }
    (out, Some(present))
}

/// Reads `routes.geojson`.
pub(super) fn load_routes(dir: &Path, faults: &mut Vec<BundleFault>) -> (Vec<Route>, PresentIds) {
    let Some((coord_sys, features, present)) = read_collection(dir, ROUTES_FILE, faults) else {
        return (Vec::new(), None);
    };
    let mut out = Vec::with_capacity(features.len());
    for feature in features {
        let mut problems = Vec::new();
        let name = name_of(&feature, &mut problems);
        let shape = line_shape(&feature, coord_sys, &mut problems);
        let corridor = positive_number(&feature, "corridor_m", &mut problems);
        let speed = positive_number(&feature, "speed_limit_kmh", &mut problems);
        if report(ROUTES_FILE, &feature.id, problems, faults)
            && let (Some(name), Some(geometry), Some(corridor), Some(speed)) =
                (name, shape, corridor, speed)
        {
            out.push(Route {
                id: feature.id,
                name,
                geometry,
                corridor_m: corridor.unwrap_or(DEFAULT_CORRIDOR_M),
                speed_limit_kmh: speed,
                version: 1,
            });
        }
    }
    (out, Some(present))
}

/// Parses a zone's `allowed` list.
fn allowed_windows(
    feature: &RawFeature,
    problems: &mut Vec<(FaultKind, String)>,
) -> Option<Vec<WeeklyWindow>> {
    let list = match feature.properties.get("allowed") {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => {
            problems.push((
                FaultKind::InvalidValue,
                format!("properties.allowed must be a list of windows, found {other}"),
            ));
            return None;
        }
    };
    let before = problems.len();
    let mut windows = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let days_text = item
            .get("days")
            .and_then(Value::as_str)
            .unwrap_or("mon-sun");
        let Some(days) = Weekdays::parse(days_text) else {
            problems.push((
                FaultKind::InvalidValue,
                format!("allowed[{i}].days {days_text:?} is not like \"mon-sun\" or \"sat,sun\""),
            ));
            continue;
        };
        let start = item
            .get("start")
            .and_then(Value::as_str)
            .and_then(parse_time_of_day);
        let end = item
            .get("end")
            .and_then(Value::as_str)
            .and_then(parse_time_of_day);
        let (Some(start), Some(end)) = (start, end) else {
            problems.push((
                FaultKind::InvalidValue,
                format!("allowed[{i}] needs \"start\" and \"end\" as \"HH:MM\""),
            ));
            continue;
        };
        windows.push(WeeklyWindow {
            days,
            window: DailyWindow { start, end },
        });
    }
    for (a, b) in weekly_windows_overlap(&windows) {
        problems.push((
            FaultKind::OverlappingWindows,
            format!("allowed[{a}] and allowed[{b}] overlap"),
        ));
    }
    (problems.len() == before).then_some(windows)
}

/// Reads `zones.geojson`.
pub(super) fn load_zones(dir: &Path, faults: &mut Vec<BundleFault>) -> (Vec<Zone>, PresentIds) {
    let Some((coord_sys, features, present)) = read_collection(dir, ZONES_FILE, faults) else {
        return (Vec::new(), None);
    };
    let mut out = Vec::with_capacity(features.len());
    for feature in features {
        let mut problems = Vec::new();
        let name = name_of(&feature, &mut problems);
        let shape = polygon_shape(&feature, coord_sys, &mut problems);
        let kind_text = feature.properties.get("kind").and_then(Value::as_str);
        let kind = kind_text.and_then(ZoneKind::from_name);
        if kind.is_none() {
            problems.push((
                FaultKind::InvalidValue,
                format!(
                    "properties.kind must be restricted, time_restricted, speed or district, \
                     found {kind_text:?}"
                ),
            ));
        }
        let allowed = allowed_windows(&feature, &mut problems);
        let speed = positive_number(&feature, "speed_limit_kmh", &mut problems);
        if kind == Some(ZoneKind::Speed) && matches!(speed, Some(None)) {
            problems.push((
                FaultKind::InvalidValue,
                "a speed zone needs properties.speed_limit_kmh".to_string(),
            ));
        }
        if report(ZONES_FILE, &feature.id, problems, faults)
            && let (Some(name), Some(geometry), Some(kind), Some(allowed), Some(speed)) =
                (name, shape, kind, allowed, speed)
        {
            out.push(Zone {
                id: feature.id,
                name,
                kind,
                geometry,
                allowed,
                speed_limit_kmh: speed,
                version: 1,
            });
        }
    }
    (out, Some(present))
}
