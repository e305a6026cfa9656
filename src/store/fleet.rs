//! Fleet views for the HTTP API: a page of vehicles with everything the fleet list shows
//! (company name, current permit, latest position, open violation) in one statement, plus
//! small look-ups (plates of a set of vehicles, terminals of a vehicle).
//!
//! The page is aggregated to one JSON value inside the database (`json_group_array` on SQLite,
//! `json_agg` on PostgreSQL) and parsed once here: reading a thousand rows one by one through
//! the driver costs several microseconds per row and column, the aggregate a fraction of that.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::{Store, StoreError, on_pool};
use crate::model::SensorCapabilities;

/// The latest usable fix of a vehicle, as the fleet list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestFix {
    /// GNSS time.
    pub time: DateTime<Utc>,
    /// Latitude, WGS-84.
    pub lat: f64,
    /// Longitude, WGS-84.
    pub lon: f64,
    /// Speed, km/h.
    pub speed_kmh: f64,
    /// Heading, degrees.
    pub heading: u16,
    /// Load state name (`unknown`, `empty`, `half`, `full`).
    pub load: String,
    /// Tipper raised, if sensed.
    pub lift_up: Option<bool>,
    /// Lid open, if sensed.
    pub lid_open: Option<bool>,
    /// Load weight, kg, if sensed.
    pub weight_kg: Option<f64>,
}

/// One vehicle of the fleet list.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetVehicle {
    /// Registry id.
    pub id: String,
    /// Plate number.
    pub plate: String,
    /// JT/T 808 plate colour.
    pub plate_color: u8,
    /// Owning company.
    pub company_id: String,
    /// The company's name.
    pub company_name: Option<String>,
    /// Rated load, kg.
    pub rated_load_kg: Option<f64>,
    /// Sensors fitted.
    pub sensors: SensorCapabilities,
    /// The permit it runs under: one valid on the asked day, else the one that ended last.
    pub permit_id: Option<String>,
    /// Latest usable stored position.
    pub latest: Option<LatestFix>,
    /// Whether it has an open violation episode.
    pub open_violation: bool,
}

/// Which vehicles a fleet page holds.
#[derive(Debug, Clone, Default)]
pub struct FleetQuery {
    /// Only this company's.
    pub company_id: Option<String>,
    /// Only this one vehicle.
    pub vehicle_id: Option<String>,
    /// Vehicles with ids after this one (the previous page's last id).
    pub after: Option<String>,
    /// Page size, 1..=1000 (0 means 100).
    pub limit: u32,
    /// Local date permits are judged on.
    pub today: NaiveDate,
}

/// A page of the fleet list, by vehicle id.
#[derive(Debug, Clone, Default)]
pub struct FleetPage {
    /// The vehicles.
    pub items: Vec<FleetVehicle>,
    /// Whether more vehicles follow the last one.
    pub more: bool,
}

/// The page statement: `$1` company, `$2` after, `$3` limit + 1, `$4` day, `$5` vehicle.
fn fleet_sql(pg: bool) -> String {
    let (time, day, agg_open, agg_close) = if pg {
        (
            "(extract(epoch FROM lp.time) * 1000000)::bigint",
            "$4::date",
            "COALESCE(json_agg(json_build_array(",
            ") ORDER BY v.id), '[]')::text",
        )
    } else {
        (
            "lp.time",
            "$4",
            "json_group_array(json_array(",
            ") ORDER BY v.id)",
        )
    };
    format!(
        "SELECT {agg_open} \
           v.id, v.plate, v.plate_color, v.company_id, c.name, v.rated_load_kg, \
           {time}, lp.lat, lp.lon, lp.speed_kmh, lp.heading, lp.load, lp.lift_up, lp.lid_open, \
           lp.weight_kg, \
           EXISTS (SELECT 1 FROM violations x WHERE x.vehicle_id = v.id AND x.status = 'open'), \
           (SELECT p.id FROM permit_vehicles pv JOIN permits p ON p.id = pv.permit_id \
             WHERE pv.vehicle_id = v.id \
             ORDER BY CASE WHEN p.valid_from <= {day} AND p.valid_to >= {day} THEN 0 ELSE 1 END, \
               p.valid_to DESC, p.id LIMIT 1), \
           v.sensor_load, v.sensor_lift, v.sensor_lid, v.sensor_weight \
         {agg_close} \
         FROM (SELECT id, plate, plate_color, company_id, rated_load_kg, sensor_load, \
                 sensor_lift, sensor_lid, sensor_weight FROM vehicles \
               WHERE ($1 IS NULL OR company_id = $1) AND ($2 IS NULL OR id > $2) \
                 AND ($5 IS NULL OR id = $5) \
               ORDER BY id LIMIT $3) v \
         LEFT JOIN companies c ON c.id = v.company_id \
         LEFT JOIN latest_positions lp ON lp.vehicle_id = v.id"
    )
}

/// A JSON boolean, or SQLite's 0/1.
fn json_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

fn json_str(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// One aggregated row back into a [`FleetVehicle`].
fn fleet_row(row: &[Value]) -> Result<FleetVehicle, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("fleet row {row:?}"));
    let field = |i: usize| row.get(i).unwrap_or(&Value::Null);
    let latest = match field(6).as_i64() {
        None => None,
        Some(micros) => Some(LatestFix {
            time: DateTime::from_timestamp_micros(micros).ok_or_else(corrupt)?,
            lat: field(7).as_f64().ok_or_else(corrupt)?,
            lon: field(8).as_f64().ok_or_else(corrupt)?,
            speed_kmh: field(9).as_f64().ok_or_else(corrupt)?,
            heading: field(10)
                .as_u64()
                .and_then(|h| u16::try_from(h).ok())
                .ok_or_else(corrupt)?,
            load: json_str(field(11)).unwrap_or_else(|| "unknown".to_string()),
            lift_up: json_bool(field(12)),
            lid_open: json_bool(field(13)),
            weight_kg: field(14).as_f64(),
        }),
    };
    Ok(FleetVehicle {
        id: json_str(field(0)).ok_or_else(corrupt)?,
        plate: json_str(field(1)).ok_or_else(corrupt)?,
        plate_color: field(2)
            .as_u64()
            .and_then(|c| u8::try_from(c).ok())
            .ok_or_else(corrupt)?,
        company_id: json_str(field(3)).ok_or_else(corrupt)?,
        company_name: json_str(field(4)),
        rated_load_kg: field(5).as_f64(),
        latest,
        open_violation: json_bool(field(15)).unwrap_or(false),
        permit_id: json_str(field(16)),
        sensors: SensorCapabilities {
            load: json_bool(field(17)).unwrap_or(false),
            lift: json_bool(field(18)).unwrap_or(false),
            lid: json_bool(field(19)).unwrap_or(false),
            weight: json_bool(field(20)).unwrap_or(false),
        },
    })
}

fn json_list(ids: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(ids).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// `column IN (<ids from a JSON array bound at $param>)` for either backend, so one text bind
/// carries any number of ids.
fn in_json_list(pg: bool, column: &str, param: usize) -> String {
    if pg {
        format!("{column} IN (SELECT jsonb_array_elements_text(${param}::jsonb))")
    } else {
        format!("{column} IN (SELECT value FROM json_each(${param}))")
    }
}

/// One vehicle's identity, for lists that only need the plate and owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VehicleBrief {
    /// Registry id.
    pub id: String,
    /// Plate number.
    pub plate: String,
    /// Owning company.
    pub company_id: String,
}

impl Store {
    /// A page of the fleet list in one statement: vehicles by id with company name, current
    /// permit, latest stored position and open-violation flag.
    pub async fn fleet_page(&self, q: &FleetQuery) -> Result<FleetPage, StoreError> {
        let size = match q.limit {
            0 => 100,
            n => n.min(super::MAX_PAGE),
        } as usize;
        let day = q.today.format("%Y-%m-%d").to_string();
        let (json,): (Option<String>,) = on_pool!(self, |pool, pg| {
            sqlx::query_as(&fleet_sql(pg))
                .bind(&q.company_id)
                .bind(&q.after)
                .bind(size as i64 + 1)
                .bind(&day)
                .bind(&q.vehicle_id)
                .fetch_one(pool)
                .await?
        });
        let rows: Vec<Vec<Value>> = match json {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("fleet page: {e}")))?,
            None => Vec::new(),
        };
        let mut items = rows
            .iter()
            .map(|row| fleet_row(row))
            .collect::<Result<Vec<_>, _>>()?;
        let more = items.len() > size;
        items.truncate(size);
        Ok(FleetPage { items, more })
    }

    /// The whole fleet list, page by page (for an in-memory copy).
    pub async fn fleet_all(&self, today: NaiveDate) -> Result<Vec<FleetVehicle>, StoreError> {
        let mut all = Vec::new();
        let mut query = FleetQuery {
            limit: super::MAX_PAGE,
            today,
            ..FleetQuery::default()
        };
        loop {
            let page = self.fleet_page(&query).await?;
            query.after = page.items.last().map(|v| v.id.clone());
            all.extend(page.items);
            if !page.more {
                return Ok(all);
            }
        }
    }

    /// Plates and companies of `vehicle_ids` (unknown ids are left out), by id.
    pub async fn vehicle_briefs(
        &self,
        vehicle_ids: &[String],
    ) -> Result<Vec<VehicleBrief>, StoreError> {
        if vehicle_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = json_list(vehicle_ids)?;
        let rows: Vec<(String, String, String)> = on_pool!(self, |pool, pg| {
            let sql = format!(
                "SELECT id, plate, company_id FROM vehicles WHERE {} ORDER BY id",
                in_json_list(pg, "id", 1)
            );
            sqlx::query_as(&sql).bind(&ids).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, plate, company_id)| VehicleBrief {
                id,
                plate,
                company_id,
            })
            .collect())
    }

    /// Phones of the terminals bound to a vehicle, in phone order.
    pub async fn terminals_of_vehicle(&self, vehicle_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self, |pool, pg| {
            sqlx::query_as("SELECT phone FROM terminals WHERE vehicle_id = $1 ORDER BY phone")
                .bind(vehicle_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(p,)| p).collect())
    }
}
