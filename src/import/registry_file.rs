//! `registry.json`: companies, vehicles, terminals, drivers, officers and permits, read record
//! by record and checked against each other and against the fences already read.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{NaiveDate, NaiveTime};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{BundleFault, FaultKind, REGISTRY_FILE};
use crate::model::registry::SensorCapabilities;
use crate::model::{
    Company, DailyWindow, Driver, Officer, Permit, Registry, Terminal, Vehicle, WeeklyWindow,
    ZoneKind, phone_key,
};

/// Parses `"HH:MM"` (or `"HH:MM:SS"`) local time; `"24:00"` is midnight at the end of the day,
/// which as a window end is the same as `"00:00"`.
pub(crate) fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    if text == "24:00" {
        return NaiveTime::from_hms_opt(0, 0, 0);
    }
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .ok()
}

/// Minutes in a week.
const WEEK_MINUTES: u32 = 7 * 1440;

/// The minute ranges of the week a weekly window covers; a window crossing midnight runs
/// into the next day (and Sunday night into Monday).
fn week_ranges(w: &WeeklyWindow) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for day in 0..7u32 {
        if w.days.0 & (1 << day) == 0 {
            continue;
        }
        for (start, end) in w.window.minute_ranges() {
            // minute_ranges splits a midnight-crossing window into (s, 1440) and (0, e); the
            // morning part belongs to the next day.
            let base = if start == 0 && end < 1440 && w.window.start > w.window.end {
                (day + 1) * 1440
            } else {
                day * 1440
            };
            let (a, b) = (base + start, base + end);
            if b <= WEEK_MINUTES {
                out.push((a, b));
            } else if a >= WEEK_MINUTES {
                out.push((a - WEEK_MINUTES, b - WEEK_MINUTES));
            } else {
                out.push((a, WEEK_MINUTES));
                out.push((0, b - WEEK_MINUTES));
            }
        }
    }
    out
}

/// Pairs of indices of weekly windows that share a minute of the week.
pub(crate) fn weekly_windows_overlap(windows: &[WeeklyWindow]) -> Vec<(usize, usize)> {
    let ranges: Vec<Vec<(u32, u32)>> = windows.iter().map(week_ranges).collect();
    let mut out = Vec::new();
    for (i, a) in ranges.iter().enumerate() {
        for (j, b) in ranges.iter().enumerate().skip(i + 1) {
            if a.iter()
                .any(|&(a0, a1)| b.iter().any(|&(b0, b1)| a0 < b1 && b0 < a1))
            {
                out.push((i, j));
            }
        }
    }
    out
}

#[derive(Deserialize)]
struct CompanyIn {
    id: String,
    name: String,
    uscc: String,
}

#[derive(Deserialize)]
struct VehicleIn {
    id: String,
    plate: String,
    plate_color: u8,
    company_id: String,
    #[serde(default)]
    rated_load_kg: Option<f64>,
    #[serde(default)]
    sensors: SensorCapabilities,
}

#[derive(Deserialize)]
struct TerminalIn {
    phone: String,
    #[serde(default)]
    vehicle_id: Option<String>,
    #[serde(default = "default_model")]
    model: String,
    protocol: String,
}

fn default_model() -> String {
    "default".to_string()
}

#[derive(Deserialize)]
struct DriverIn {
    id: String,
    name: String,
    license_no: String,
    company_id: String,
}

#[derive(Deserialize)]
struct OfficerIn {
    id: String,
    name: String,
    #[serde(default)]
    district_zone_id: Option<String>,
}

#[derive(Deserialize)]
struct WindowIn {
    start: String,
    end: String,
}

#[derive(Deserialize)]
struct PermitIn {
    id: String,
    number: String,
    company_id: String,
    vehicle_ids: Vec<String>,
    site_id: String,
    disposal_ground_ids: Vec<String>,
    route_ids: Vec<String>,
    valid_from: String,
    valid_to: String,
    #[serde(default)]
    daily_windows: Vec<WindowIn>,
}

/// Ids present in the GeoJSON files (see [`super::geometry::PresentIds`]).
pub(super) struct FenceIds {
    /// Sites.
    pub sites: super::geometry::PresentIds,
    /// Disposal grounds.
    pub disposal_grounds: super::geometry::PresentIds,
    /// Routes.
    pub routes: super::geometry::PresentIds,
    /// Zones.
    pub zones: super::geometry::PresentIds,
}

/// Whether `id` may be referred to: present in its file, or the file could not be read (its
/// own fault says so; every reference into it would only repeat that).
fn present(ids: &super::geometry::PresentIds, id: &str) -> bool {
    ids.as_ref().is_none_or(|ids| ids.contains(id))
}

/// Collects faults for one file.
struct Faults<'a> {
    out: &'a mut Vec<BundleFault>,
}

impl Faults<'_> {
    fn push(&mut self, id: &str, kind: FaultKind, message: impl Into<String>) {
        self.out
            .push(BundleFault::new(REGISTRY_FILE, Some(id), kind, message));
    }
}

/// Parses every record of one list; broken records become faults naming the record.
fn records<T: DeserializeOwned>(
    root: &serde_json::Map<String, Value>,
    list: &str,
    id_key: &str,
    faults: &mut Faults<'_>,
) -> Vec<(String, T)> {
    let items = match root.get(list) {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            faults.push(
                list,
                FaultKind::BrokenJson,
                format!("\"{list}\" must be a list"),
            );
            return Vec::new();
        }
    };
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let label = match item.get(id_key).and_then(Value::as_str) {
            Some(id) => format!("{list} {id}"),
            None => format!("{list}[{index}]"),
        };
        match serde_json::from_value::<T>(item.clone()) {
            Ok(record) => {
                let key = item
                    .get(id_key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let dedup_key = if id_key == "phone" {
                    phone_key(&key).to_string()
                } else {
                    key.clone()
                };
                if key.trim().is_empty() {
                    faults.push(
                        &label,
                        FaultKind::InvalidValue,
                        format!("\"{id_key}\" is empty"),
                    );
                } else if !seen.insert(dedup_key) {
                    faults.push(
                        &label,
                        FaultKind::DuplicateId,
                        format!("another record in \"{list}\" has this {id_key}"),
                    );
                } else {
                    out.push((label, record));
                }
            }
            Err(e) => faults.push(&label, FaultKind::BrokenJson, e.to_string()),
        }
    }
    out
}

/// Reads `registry.json` into `registry` (whose fences are already loaded), checking every
/// reference.
pub(super) fn load(
    dir: &Path,
    registry: &mut Registry,
    fences: &FenceIds,
    out: &mut Vec<BundleFault>,
) {
    let path = dir.join(REGISTRY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            out.push(BundleFault::new(
                REGISTRY_FILE,
                None,
                FaultKind::MissingFile,
                format!("cannot read {}: {e}", path.display()),
            ));
            return;
        }
    };
    let root = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(root)) => root,
        Ok(_) => {
            out.push(BundleFault::new(
                REGISTRY_FILE,
                None,
                FaultKind::BrokenJson,
                "expected a JSON object with companies, vehicles, terminals, ...",
            ));
            return;
        }
        Err(e) => {
            out.push(BundleFault::new(
                REGISTRY_FILE,
                None,
                FaultKind::BrokenJson,
                format!("not valid JSON: {e}"),
            ));
            return;
        }
    };
    let mut faults = Faults { out };
    let companies: Vec<(String, CompanyIn)> = records(&root, "companies", "id", &mut faults);
    let vehicles: Vec<(String, VehicleIn)> = records(&root, "vehicles", "id", &mut faults);
    let terminals: Vec<(String, TerminalIn)> = records(&root, "terminals", "phone", &mut faults);
    let drivers: Vec<(String, DriverIn)> = records(&root, "drivers", "id", &mut faults);
    let officers: Vec<(String, OfficerIn)> = records(&root, "officers", "id", &mut faults);
    let permits: Vec<(String, PermitIn)> = records(&root, "permits", "id", &mut faults);

    // Everything that can be referred to, including records that failed to parse further
    // down (those already have a fault; a second "unknown reference" would only confuse).
    let raw_ids = |list: &str| -> HashSet<String> {
        root.get(list)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.get("id").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let company_ids = raw_ids("companies");
    let vehicle_company: HashMap<String, String> = vehicles
        .iter()
        .map(|(_, v)| (v.id.clone(), v.company_id.clone()))
        .collect();
    let vehicle_ids = raw_ids("vehicles");
    let zone_kinds: HashMap<&str, ZoneKind> = registry
        .zones
        .iter()
        .map(|z| (z.id.as_str(), z.kind))
        .collect();

    let mut companies_out = Vec::new();
    for (label, c) in companies {
        if c.name.trim().is_empty() {
            faults.push(&label, FaultKind::InvalidValue, "name is empty");
            continue;
        }
        companies_out.push(Company {
            id: c.id,
            name: c.name,
            uscc: c.uscc,
        });
    }

    let mut vehicles_out = Vec::new();
    for (label, v) in vehicles {
        let mut ok = true;
        if !company_ids.contains(&v.company_id) {
            faults.push(
                &label,
                FaultKind::UnknownReference,
                format!(
                    "company_id {:?} is not a company in this bundle",
                    v.company_id
                ),
            );
            ok = false;
        }
        if v.plate.trim().is_empty() {
            faults.push(&label, FaultKind::InvalidValue, "plate is empty");
            ok = false;
        }
        if let Some(load) = v.rated_load_kg
            && !(load.is_finite() && load > 0.0)
        {
            faults.push(
                &label,
                FaultKind::InvalidValue,
                format!("rated_load_kg must be a positive number, found {load}"),
            );
            ok = false;
        }
        if ok {
            vehicles_out.push(Vehicle {
                id: v.id,
                plate: v.plate,
                plate_color: v.plate_color,
                company_id: v.company_id,
                rated_load_kg: v.rated_load_kg,
                sensors: v.sensors,
            });
        }
    }

    let mut terminals_out = Vec::new();
    let mut bound_vehicles: HashMap<String, String> = HashMap::new();
    for (label, t) in terminals {
        let mut ok = true;
        if t.phone.is_empty() || t.phone.len() > 20 || !t.phone.bytes().all(|b| b.is_ascii_digit())
        {
            faults.push(
                &label,
                FaultKind::InvalidValue,
                format!("phone {:?} must be 1 to 20 digits", t.phone),
            );
            ok = false;
        }
        if !matches!(t.protocol.as_str(), "2011" | "2013" | "2019") {
            faults.push(
                &label,
                FaultKind::InvalidValue,
                format!(
                    "protocol {:?} must be \"2011\", \"2013\" or \"2019\"",
                    t.protocol
                ),
            );
            ok = false;
        }
        if let Some(vehicle) = &t.vehicle_id {
            if !vehicle_ids.contains(vehicle) {
                faults.push(
                    &label,
                    FaultKind::UnknownReference,
                    format!("vehicle_id {vehicle:?} is not a vehicle in this bundle"),
                );
                ok = false;
            } else if let Some(other) = bound_vehicles.insert(vehicle.clone(), label.clone()) {
                faults.push(
                    &label,
                    FaultKind::DuplicateId,
                    format!("vehicle {vehicle:?} is already bound to {other}"),
                );
                ok = false;
            }
        }
        if ok {
            terminals_out.push(Terminal {
                phone: phone_key(&t.phone).to_string(),
                vehicle_id: t.vehicle_id,
                model: t.model,
                protocol: t.protocol,
                auth_code: None,
            });
        }
    }

    let mut drivers_out = Vec::new();
    for (label, d) in drivers {
        if !company_ids.contains(&d.company_id) {
            faults.push(
                &label,
                FaultKind::UnknownReference,
                format!(
                    "company_id {:?} is not a company in this bundle",
                    d.company_id
                ),
            );
            continue;
        }
        drivers_out.push(Driver {
            id: d.id,
            name: d.name,
            license_no: d.license_no,
            company_id: d.company_id,
        });
    }

    let mut officers_out = Vec::new();
    for (label, o) in officers {
        if let Some(zone) = &o.district_zone_id {
            match zone_kinds.get(zone.as_str()) {
                Some(ZoneKind::District) => {}
                // Present but faulty: its own fault is reported.
                None if present(&fences.zones, zone) => {}
                Some(kind) => {
                    faults.push(
                        &label,
                        FaultKind::UnknownReference,
                        format!(
                            "district_zone_id {zone:?} is a {} zone, not a district",
                            kind.as_str()
                        ),
                    );
                    continue;
                }
                None => {
                    faults.push(
                        &label,
                        FaultKind::UnknownReference,
                        format!("district_zone_id {zone:?} is not a zone in zones.geojson"),
                    );
                    continue;
                }
            }
        }
        officers_out.push(Officer {
            id: o.id,
            name: o.name,
            district_zone_id: o.district_zone_id,
        });
    }

    let mut permits_out = Vec::new();
    for (label, p) in permits {
        let before = faults.out.len();
        if !company_ids.contains(&p.company_id) {
            faults.push(
                &label,
                FaultKind::UnknownReference,
                format!(
                    "company_id {:?} is not a company in this bundle",
                    p.company_id
                ),
            );
        }
        if p.vehicle_ids.is_empty() {
            faults.push(&label, FaultKind::InvalidValue, "vehicle_ids is empty");
        }
        for vehicle in &p.vehicle_ids {
            match vehicle_company.get(vehicle) {
                Some(company)
                    if *company != p.company_id && company_ids.contains(&p.company_id) =>
                {
                    faults.push(
                        &label,
                        FaultKind::UnknownReference,
                        format!(
                            "vehicle {vehicle:?} belongs to company {company:?}, not to the \
                             permit holder {:?}",
                            p.company_id
                        ),
                    );
                }
                Some(_) => {}
                None if vehicle_ids.contains(vehicle) => {}
                None => faults.push(
                    &label,
                    FaultKind::UnknownReference,
                    format!("vehicle_ids: {vehicle:?} is not a vehicle in this bundle"),
                ),
            }
        }
        if !present(&fences.sites, &p.site_id) {
            faults.push(
                &label,
                FaultKind::UnknownReference,
                format!("site_id {:?} is not a site in sites.geojson", p.site_id),
            );
        }
        if p.disposal_ground_ids.is_empty() {
            faults.push(
                &label,
                FaultKind::InvalidValue,
                "disposal_ground_ids is empty",
            );
        }
        for ground in &p.disposal_ground_ids {
            if !present(&fences.disposal_grounds, ground) {
                faults.push(
                    &label,
                    FaultKind::UnknownReference,
                    format!("disposal_ground_ids: {ground:?} is not in disposal_grounds.geojson"),
                );
            }
        }
        if p.route_ids.is_empty() {
            faults.push(&label, FaultKind::InvalidValue, "route_ids is empty");
        }
        for route in &p.route_ids {
            if !present(&fences.routes, route) {
                faults.push(
                    &label,
                    FaultKind::UnknownReference,
                    format!("route_ids: {route:?} is not a route in routes.geojson"),
                );
            }
        }
        let valid_from = NaiveDate::parse_from_str(&p.valid_from, "%Y-%m-%d");
        let valid_to = NaiveDate::parse_from_str(&p.valid_to, "%Y-%m-%d");
        match (&valid_from, &valid_to) {
            (Ok(from), Ok(to)) if from > to => faults.push(
                &label,
                FaultKind::InvalidValue,
                format!("valid_from {from} is after valid_to {to}"),
            ),
            (Ok(_), Ok(_)) => {}
            _ => faults.push(
                &label,
                FaultKind::InvalidValue,
                format!(
                    "valid_from {:?} and valid_to {:?} must be dates like 2026-01-31",
                    p.valid_from, p.valid_to
                ),
            ),
        }
        let mut windows = Vec::with_capacity(p.daily_windows.len());
        for (i, w) in p.daily_windows.iter().enumerate() {
            match (parse_time_of_day(&w.start), parse_time_of_day(&w.end)) {
                (Some(start), Some(end)) => windows.push(DailyWindow { start, end }),
                _ => faults.push(
                    &label,
                    FaultKind::InvalidValue,
                    format!(
                        "daily_windows[{i}]: {:?}-{:?} is not \"HH:MM\"-\"HH:MM\"",
                        w.start, w.end
                    ),
                ),
            }
        }
        for (i, a) in windows.iter().enumerate() {
            for (j, b) in windows.iter().enumerate().skip(i + 1) {
                if a.overlaps(b) {
                    faults.push(
                        &label,
                        FaultKind::OverlappingWindows,
                        format!(
                            "daily_windows[{i}] {}-{} and daily_windows[{j}] {}-{} overlap",
                            a.start.format("%H:%M"),
                            a.end.format("%H:%M"),
                            b.start.format("%H:%M"),
                            b.end.format("%H:%M")
                        ),
                    );
                }
            }
        }
        if faults.out.len() > before {
            continue;
        }
        if let (Ok(valid_from), Ok(valid_to)) = (valid_from, valid_to) {
            permits_out.push(Permit {
                id: p.id,
                number: p.number,
                company_id: p.company_id,
                vehicle_ids: p.vehicle_ids,
                site_id: p.site_id,
                disposal_ground_ids: p.disposal_ground_ids,
                route_ids: p.route_ids,
                valid_from,
                valid_to,
                daily_windows: windows,
            });
        }
    }

    registry.companies = companies_out;
    registry.vehicles = vehicles_out;
    registry.terminals = terminals_out;
    registry.drivers = drivers_out;
    registry.officers = officers_out;
    registry.permits = permits_out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Weekdays;

    fn hm(text: &str) -> NaiveTime {
        parse_time_of_day(text).expect("time")
    }

    #[test]
    fn times_of_day() {
        assert_eq!(
            parse_time_of_day("22:00"),
            NaiveTime::from_hms_opt(22, 0, 0)
        );
        assert_eq!(parse_time_of_day("24:00"), NaiveTime::from_hms_opt(0, 0, 0));
        assert_eq!(parse_time_of_day("25:00"), None);
        assert_eq!(parse_time_of_day("noon"), None);
    }

    #[test]
    fn weekly_overlap_follows_windows_past_midnight() {
        let friday_night = WeeklyWindow {
            days: Weekdays::parse("fri").expect("days"),
            window: DailyWindow {
                start: hm("22:00"),
                end: hm("06:00"),
            },
        };
        let saturday_morning = WeeklyWindow {
            days: Weekdays::parse("sat").expect("days"),
            window: DailyWindow {
                start: hm("05:00"),
                end: hm("07:00"),
            },
        };
        let saturday_noon = WeeklyWindow {
            days: Weekdays::parse("sat").expect("days"),
            window: DailyWindow {
                start: hm("11:00"),
                end: hm("13:00"),
            },
        };
        let sunday_night = WeeklyWindow {
            days: Weekdays::parse("sun").expect("days"),
            window: DailyWindow {
                start: hm("23:00"),
                end: hm("02:00"),
            },
        };
        let monday_early = WeeklyWindow {
            days: Weekdays::parse("mon").expect("days"),
            window: DailyWindow {
                start: hm("01:00"),
                end: hm("03:00"),
            },
        };
        assert_eq!(
            weekly_windows_overlap(&[friday_night, saturday_morning, saturday_noon]),
            vec![(0, 1)]
        );
        assert_eq!(
            weekly_windows_overlap(&[sunday_night, monday_early]),
            vec![(0, 1)]
        );
    }
}
