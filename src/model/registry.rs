//! The registry: companies, vehicles, terminals, drivers, fences (sites, disposal grounds,
//! routes, zones), transport permits and officers. Geometries are WGS-84 (`x` = longitude,
//! `y` = latitude).

use chrono::NaiveDate;
use geo_types::{MultiLineString, MultiPolygon};
use serde::{Deserialize, Serialize};

use super::schedule::{DailyWindow, WeeklyWindow};

/// Version number of one fence's geometry. Every geometry change makes a new version, so
/// evidence can name exactly the shape a position was judged against.
pub type GeometryVersion = i64;

/// A transport company (运输企业).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Company {
    /// Registry id.
    pub id: String,
    /// Registered name.
    pub name: String,
    /// Unified social credit code (统一社会信用代码).
    pub uscc: String,
}

/// A truck (车辆).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    /// Registry id.
    pub id: String,
    /// Plate number, e.g. `桂B12345`.
    pub plate: String,
    /// JT/T 808 plate colour code (1 blue, 2 yellow, ...).
    pub plate_color: u8,
    /// Owning company.
    pub company_id: String,
    /// Rated load (核定载质量) in kg, for overload checks.
    pub rated_load_kg: Option<f64>,
    /// Which sensors the truck has; rules that need a sensor fall back when it is absent.
    pub sensors: SensorCapabilities,
}

/// Sensors fitted to a truck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SensorCapabilities {
    /// Load state sensor (status bits 8-9 or a vendor item).
    pub load: bool,
    /// Tipper lift sensor.
    pub lift: bool,
    /// Body lid sensor.
    pub lid: bool,
    /// Weight sensor.
    pub weight: bool,
}

/// An on-board terminal (车载终端), keyed by its phone number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Terminal {
    /// Terminal phone number as digits, leading zeros removed (the match key).
    pub phone: String,
    /// Vehicle it is bound to, if any.
    pub vehicle_id: Option<String>,
    /// Model name; selects the sensor profile (unknown names use the default profile).
    pub model: String,
    /// Protocol edition: `"2011"`, `"2013"` or `"2019"`.
    pub protocol: String,
    /// Auth code issued at registration; `None` until the terminal registers.
    pub auth_code: Option<String>,
}

/// A driver (驾驶员).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    /// Registry id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Driving licence number.
    pub license_no: String,
    /// Employing company.
    pub company_id: String,
}

/// A construction site (工地): where waste is loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Registry id (the GeoJSON feature id).
    pub id: String,
    /// Name.
    pub name: String,
    /// Fence, WGS-84.
    pub geometry: MultiPolygon<f64>,
    /// Current geometry version.
    pub version: GeometryVersion,
}

/// A disposal ground (消纳场): where waste may be unloaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisposalGround {
    /// Registry id (the GeoJSON feature id).
    pub id: String,
    /// Name.
    pub name: String,
    /// Fence, WGS-84.
    pub geometry: MultiPolygon<f64>,
    /// Current geometry version.
    pub version: GeometryVersion,
}

/// An approved route (运输路线): lines with a corridor either side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Registry id (the GeoJSON feature id).
    pub id: String,
    /// Name.
    pub name: String,
    /// Centre lines, WGS-84.
    pub geometry: MultiLineString<f64>,
    /// How far from the line, either side, a truck still counts as on the route (metres).
    pub corridor_m: f64,
    /// Speed limit on the route, km/h.
    pub speed_limit_kmh: Option<f64>,
    /// Current geometry version.
    pub version: GeometryVersion,
}

/// What a control zone controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    /// Trucks may never enter (schools, weight-limited bridges), except in `allowed` windows.
    Restricted,
    /// Trucks may be inside only in the `allowed` windows (e.g. the city core at night).
    TimeRestricted,
    /// A speed limit applies inside.
    Speed,
    /// An enforcement district; used for dispatch, not for rules.
    District,
}

impl ZoneKind {
    /// Stable name used in bundles, storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneKind::Restricted => "restricted",
            ZoneKind::TimeRestricted => "time_restricted",
            ZoneKind::Speed => "speed",
            ZoneKind::District => "district",
        }
    }

    /// Inverse of [`ZoneKind::as_str`].
    pub fn from_name(name: &str) -> Option<ZoneKind> {
        Some(match name {
            "restricted" => ZoneKind::Restricted,
            "time_restricted" => ZoneKind::TimeRestricted,
            "speed" => ZoneKind::Speed,
            "district" => ZoneKind::District,
            _ => return None,
        })
    }
}

/// A control zone (管控区域).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    /// Registry id (the GeoJSON feature id).
    pub id: String,
    /// Name.
    pub name: String,
    /// What the zone controls.
    pub kind: ZoneKind,
    /// Fence, WGS-84.
    pub geometry: MultiPolygon<f64>,
    /// Windows in which trucks may be inside (restricted and time-restricted zones).
    pub allowed: Vec<WeeklyWindow>,
    /// Speed limit inside, km/h.
    pub speed_limit_kmh: Option<f64>,
    /// Current geometry version.
    pub version: GeometryVersion,
}

/// A transport permit (处置核准证 / 准运证): the hub that says which vehicles of which company
/// may carry waste from which site to which disposal grounds, along which routes, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Permit {
    /// Registry id.
    pub id: String,
    /// Permit number as printed.
    pub number: String,
    /// Company holding the permit.
    pub company_id: String,
    /// Vehicles covered.
    pub vehicle_ids: Vec<String>,
    /// Source construction site.
    pub site_id: String,
    /// Disposal grounds the waste may go to.
    pub disposal_ground_ids: Vec<String>,
    /// Approved routes.
    pub route_ids: Vec<String>,
    /// First valid day (local date, inclusive).
    pub valid_from: NaiveDate,
    /// Last valid day (local date, inclusive).
    pub valid_to: NaiveDate,
    /// Daily windows in which transport is allowed (local time); empty means all day.
    pub daily_windows: Vec<DailyWindow>,
}

impl Permit {
    /// Whether the permit is valid on local date `day`.
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        day >= self.valid_from && day <= self.valid_to
    }
}

/// An enforcement officer (执法队员).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Officer {
    /// Registry id.
    pub id: String,
    /// Name.
    pub name: String,
    /// District zone the officer works in.
    pub district_zone_id: Option<String>,
}

/// Names one fence and the geometry version it had, for evidence.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FenceRef {
    /// `site`, `disposal_ground`, `route` or `zone`.
    pub kind: String,
    /// Registry id.
    pub id: String,
    /// Geometry version.
    pub version: GeometryVersion,
}

/// A whole registry, as loaded from the store or a bundle: what the engine builds its index
/// from and what import writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    /// Transport companies.
    pub companies: Vec<Company>,
    /// Vehicles.
    pub vehicles: Vec<Vehicle>,
    /// Terminals.
    pub terminals: Vec<Terminal>,
    /// Drivers.
    pub drivers: Vec<Driver>,
    /// Construction sites.
    pub sites: Vec<Site>,
    /// Disposal grounds.
    pub disposal_grounds: Vec<DisposalGround>,
    /// Routes.
    pub routes: Vec<Route>,
    /// Control zones (including districts).
    pub zones: Vec<Zone>,
    /// Transport permits.
    pub permits: Vec<Permit>,
    /// Officers.
    pub officers: Vec<Officer>,
}

/// Normalises a terminal phone for matching: BCD digits with leading zeros removed, so a 2019
/// terminal's 20 digits match the same number registered with 11 or 12.
pub fn phone_key(phone: &str) -> &str {
    let trimmed = phone.trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_keys_match_across_editions() {
        assert_eq!(phone_key("013912345678"), "13912345678");
        assert_eq!(phone_key("00000000013912345678"), "13912345678");
        assert_eq!(phone_key("000"), "0");
    }
}
