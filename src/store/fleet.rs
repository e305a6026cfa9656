//! Fleet views for the HTTP API: what a page of vehicles needs besides the registry rows
//! (latest positions, open violations, current permits, company names), fetched for a set of
//! ids in a handful of set-based queries instead of one query per vehicle.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::tracks::{POSITION_COLUMNS, PositionRow};
use super::{Store, StoreError, on_pool};
use crate::model::Position;

/// What the live state of a set of vehicles is made of.
#[derive(Debug, Clone, Default)]
pub struct FleetStatus {
    /// Latest usable stored position per vehicle id.
    pub latest: HashMap<String, Position>,
    /// Vehicles with at least one open violation episode.
    pub open_violations: HashSet<String>,
    /// The permit each vehicle runs under: one valid on the given day if any, else the one
    /// that ended last.
    pub permits: HashMap<String, String>,
    /// Names of the companies asked for, by id.
    pub company_names: HashMap<String, String>,
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

/// `column IN (<ids from a JSON array bound at $param>)` for either backend, so one text bind
/// carries any number of ids.
fn in_json_list(pg: bool, column: &str, param: usize) -> String {
    if pg {
        format!("{column} IN (SELECT jsonb_array_elements_text(${param}::jsonb))")
    } else {
        format!("{column} IN (SELECT value FROM json_each(${param}))")
    }
}

fn json_list(ids: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(ids).map_err(|e| StoreError::Invalid(e.to_string()))
}

impl Store {
    /// Latest positions, open-violation flags and current permits of `vehicle_ids`, and the
    /// names of `company_ids`; `today` is the local date permits are judged on.
    pub async fn fleet_status(
        &self,
        vehicle_ids: &[String],
        company_ids: &[String],
        today: NaiveDate,
    ) -> Result<FleetStatus, StoreError> {
        let mut status = FleetStatus::default();
        if vehicle_ids.is_empty() && company_ids.is_empty() {
            return Ok(status);
        }
        let vehicles = json_list(vehicle_ids)?;
        let companies = json_list(company_ids)?;
        let (latest, open, permits, names): (
            Vec<PositionRow>,
            Vec<(String,)>,
            Vec<(String, String, String, String)>,
            Vec<(String, String)>,
        ) = on_pool!(self, |pool, pg| {
            let latest_sql = format!(
                "SELECT {POSITION_COLUMNS} FROM latest_positions WHERE {}",
                in_json_list(pg, "vehicle_id", 1)
            );
            let open_sql = format!(
                "SELECT DISTINCT vehicle_id FROM violations WHERE status = 'open' AND {}",
                in_json_list(pg, "vehicle_id", 1)
            );
            let permit_sql = format!(
                "SELECT pv.vehicle_id, p.id, CAST(p.valid_from AS TEXT), CAST(p.valid_to AS TEXT) \
                 FROM permit_vehicles pv JOIN permits p ON p.id = pv.permit_id WHERE {}",
                in_json_list(pg, "pv.vehicle_id", 1)
            );
            let names_sql = format!(
                "SELECT id, name FROM companies WHERE {}",
                in_json_list(pg, "id", 1)
            );
            let latest = sqlx::query_as(&latest_sql)
                .bind(&vehicles)
                .fetch_all(pool)
                .await?;
            let open = sqlx::query_as(&open_sql)
                .bind(&vehicles)
                .fetch_all(pool)
                .await?;
            let permits = sqlx::query_as(&permit_sql)
                .bind(&vehicles)
                .fetch_all(pool)
                .await?;
            let names = sqlx::query_as(&names_sql)
                .bind(&companies)
                .fetch_all(pool)
                .await?;
            (latest, open, permits, names)
        });
        for row in latest {
            let position = Position::try_from(row)?;
            if let Some(vehicle) = position.vehicle_id.clone() {
                status.latest.insert(vehicle, position);
            }
        }
        status.open_violations = open.into_iter().map(|(v,)| v).collect();
        // Per vehicle: prefer a permit valid today, then the one that ended last.
        let mut best: HashMap<String, (bool, String, String)> = HashMap::new();
        for (vehicle, permit, from, to) in permits {
            let from = NaiveDate::parse_from_str(&from, "%Y-%m-%d").ok();
            let valid_now = from.is_some_and(|f| f <= today)
                && NaiveDate::parse_from_str(&to, "%Y-%m-%d").is_ok_and(|t| t >= today);
            let candidate = (valid_now, to, permit);
            match best.get(&vehicle) {
                Some(current) if (current.0, &current.1) >= (candidate.0, &candidate.1) => {}
                _ => {
                    best.insert(vehicle, candidate);
                }
            }
        }
        status.permits = best.into_iter().map(|(v, (_, _, p))| (v, p)).collect();
        status.company_names = names.into_iter().collect();
        Ok(status)
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
