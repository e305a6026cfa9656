//! A transport company's compliance report: its vehicles, trips and violations over a range,
//! by day and by vehicle, as JSON or CSV.
//!
//! **Compliance rate** is counted on *active vehicle-days*: a vehicle is active on a local day
//! (Asia/Shanghai) when it completed a trip (arrived) or started a violation that day, and a
//! vehicle-day is compliant when no violation of that vehicle started that day. The rate is
//! compliant active vehicle-days / active vehicle-days:
//! - `by_day[].compliance_rate`: that day's active vehicles without a violation / that day's
//!   active vehicles;
//! - `rows[].compliance_rate`: the vehicle's active days without a violation / its active days;
//! - `compliance_rate`: over every vehicle and day of the range.
//!
//! Each is null when there is nothing active to rate. Violations without a vehicle id count
//! in the totals and by kind, not in the vehicle-days.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::common::{ApiQuery, check_id, opt_time, time_range};
use super::error::{ApiError, ApiResult, ErrorBody};
use crate::cases::deadlines::local_date;
use crate::model::Vehicle;
use crate::store::ListQuery;

/// Longest range a report may span.
pub const MAX_REPORT_DAYS: i64 = 366;
/// Range used when `from` is absent.
pub const DEFAULT_REPORT_DAYS: i64 = 30;

/// Routes of this module.
pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(compliance))
}

/// Report query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComplianceParams {
    /// Start (RFC 3339; default 30 days before `to`).
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>)]
    pub from: Option<DateTime<Utc>>,
    /// End (RFC 3339; default now). At most 366 days after `from`.
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>)]
    pub to: Option<DateTime<Utc>>,
    /// `json` (default) or `csv` (one row per vehicle).
    pub format: Option<String>,
}

/// One local day.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DayRow {
    /// Local date (Asia/Shanghai).
    pub date: NaiveDate,
    /// Violations started that day.
    pub violations: usize,
    /// Trips completed that day.
    pub trips: usize,
    /// Vehicles active that day.
    pub active_vehicles: usize,
    /// Share of that day's active vehicles with no violation (null when none was active).
    pub compliance_rate: Option<f64>,
}

/// One vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct VehicleRow {
    /// Vehicle id.
    pub vehicle_id: String,
    /// Plate.
    pub plate: String,
    /// Trips completed in the range.
    pub trips: usize,
    /// Violations started in the range.
    pub violations: usize,
    /// Days the vehicle was active.
    pub active_days: usize,
    /// Share of its active days without a violation (null when never active).
    pub compliance_rate: Option<f64>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ComplianceReport {
    /// The company.
    pub company_id: String,
    /// Start of the range.
    pub from: DateTime<Utc>,
    /// End of the range.
    pub to: DateTime<Utc>,
    /// Registered vehicles of the company.
    pub vehicles: usize,
    /// Vehicles active in the range.
    pub active_vehicles: usize,
    /// Trips completed in the range.
    pub trips: usize,
    /// Violations started in the range.
    pub violations: usize,
    /// Violations by kind.
    pub violations_by_kind: BTreeMap<String, usize>,
    /// Compliant active vehicle-days / active vehicle-days (null when none).
    pub compliance_rate: Option<f64>,
    /// Every local day of the range.
    pub by_day: Vec<DayRow>,
    /// Every registered vehicle (and any other vehicle seen under the company), by id.
    pub rows: Vec<VehicleRow>,
}

fn rate(good: usize, all: usize) -> Option<f64> {
    (all > 0).then(|| good as f64 / all as f64)
}

/// The compliance report of a company: vehicles, trips, violations by kind and by day, the
/// compliance rate and per-vehicle rows; `?format=csv` answers the rows as CSV. A company
/// may read only its own (another answers 404).
#[utoipa::path(get, path = "/companies/{id}/compliance", tag = "companies",
    params(ComplianceParams, ("id" = String, Path, description = "Company id")),
    security(("bearer" = [])),
    responses((status = 200, body = ComplianceReport),
        (status = 200, description = "CSV", content_type = "text/csv"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn compliance(
    State(state): State<ApiState>,
    caller: Caller,
    Path(company_id): Path<String>,
    ApiQuery(q): ApiQuery<ComplianceParams>,
) -> ApiResult<Response> {
    check_id("id", &company_id)?;
    caller.check_company(&company_id, "company", &company_id)?;
    let csv = match q.format.as_deref() {
        None | Some("") | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format", "format must be json or csv")),
    };
    let (from, to) = time_range(
        q.from,
        q.to,
        chrono::Duration::days(DEFAULT_REPORT_DAYS),
        chrono::Duration::days(MAX_REPORT_DAYS),
    )?;
    if state.store.company(&company_id).await?.is_none() {
        return Err(ApiError::not_found("company", &company_id));
    }
    let report = build_report(&state, &company_id, from, to).await?;
    if csv {
        return csv_response(&report);
    }
    Ok(Json(report).into_response())
}

async fn company_vehicles(state: &ApiState, company_id: &str) -> ApiResult<Vec<Vehicle>> {
    let mut vehicles = Vec::new();
    let mut cursor = None;
    loop {
        let page = state
            .store
            .list_vehicles(&ListQuery {
                company_id: Some(company_id.to_string()),
                cursor,
                limit: crate::store::MAX_PAGE,
            })
            .await?;
        vehicles.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(vehicles)
}

async fn build_report(
    state: &ApiState,
    company_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<ComplianceReport> {
    let vehicles = company_vehicles(state, company_id).await?;
    let trips = state.store.trips(Some(company_id), from, to).await?;
    let violations = state
        .store
        .violation_facts(from, to, Some(company_id))
        .await?;

    let mut plates: BTreeMap<String, String> = vehicles
        .iter()
        .map(|v| (v.id.clone(), v.plate.clone()))
        .collect();
    let mut trips_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut violations_of: BTreeMap<String, usize> = BTreeMap::new();
    // (day, vehicle) pairs active, and those with a violation.
    let mut active: BTreeSet<(NaiveDate, String)> = BTreeSet::new();
    let mut violating: BTreeSet<(NaiveDate, String)> = BTreeSet::new();
    let mut day_trips: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    let mut day_violations: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();

    for trip in &trips {
        let day = local_date(trip.arrived_at);
        *day_trips.entry(day).or_insert(0) += 1;
        if let Some(vehicle) = &trip.vehicle_id {
            *trips_of.entry(vehicle.clone()).or_insert(0) += 1;
            active.insert((day, vehicle.clone()));
        }
    }
    for v in &violations {
        let day = local_date(v.started_at);
        *day_violations.entry(day).or_insert(0) += 1;
        *by_kind.entry(v.kind.as_str().to_string()).or_insert(0) += 1;
        if let Some(vehicle) = &v.vehicle_id {
            *violations_of.entry(vehicle.clone()).or_insert(0) += 1;
            active.insert((day, vehicle.clone()));
            violating.insert((day, vehicle.clone()));
        }
    }
    // Vehicles seen under the company but no longer registered to it still get a row.
    for vehicle in trips_of.keys().chain(violations_of.keys()) {
        plates.entry(vehicle.clone()).or_default();
    }

    let first = local_date(from);
    let last = local_date(
        to.checked_sub_signed(chrono::Duration::microseconds(1))
            .unwrap_or(to),
    )
    .max(first);
    let by_day = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|date| {
            let active_today = active
                .range((date, String::new())..)
                .take_while(|(d, _)| *d == date)
                .count();
            let violating_today = violating
                .range((date, String::new())..)
                .take_while(|(d, _)| *d == date)
                .count();
            DayRow {
                date,
                violations: day_violations.get(&date).copied().unwrap_or(0),
                trips: day_trips.get(&date).copied().unwrap_or(0),
                active_vehicles: active_today,
                compliance_rate: rate(active_today - violating_today, active_today),
            }
        })
        .collect();

    let rows: Vec<VehicleRow> = plates
        .into_iter()
        .map(|(vehicle_id, plate)| {
            let days = active.iter().filter(|(_, v)| *v == vehicle_id).count();
            let bad_days = violating.iter().filter(|(_, v)| *v == vehicle_id).count();
            VehicleRow {
                trips: trips_of.get(&vehicle_id).copied().unwrap_or(0),
                violations: violations_of.get(&vehicle_id).copied().unwrap_or(0),
                active_days: days,
                compliance_rate: rate(days - bad_days, days),
                vehicle_id,
                plate,
            }
        })
        .collect();
    let active_vehicles: BTreeSet<&str> = active.iter().map(|(_, v)| v.as_str()).collect();

    Ok(ComplianceReport {
        company_id: company_id.to_string(),
        from,
        to,
        vehicles: vehicles.len(),
        active_vehicles: active_vehicles.len(),
        trips: trips.len(),
        violations: violations.len(),
        violations_by_kind: by_kind,
        compliance_rate: rate(active.len() - violating.len(), active.len()),
        by_day,
        rows,
    })
}

/// The per-vehicle rows as CSV (header row first), as a download.
fn csv_response(report: &ComplianceReport) -> ApiResult<Response> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| ApiError::internal(&e);
    writer
        .write_record([
            "vehicle_id",
            "plate",
            "trips",
            "violations",
            "active_days",
            "compliance_rate",
        ])
        .map_err(io)?;
    for row in &report.rows {
        writer
            .write_record([
                row.vehicle_id.clone(),
                row.plate.clone(),
                row.trips.to_string(),
                row.violations.to_string(),
                row.active_days.to_string(),
                row.compliance_rate
                    .map(|r| format!("{r:.4}"))
                    .unwrap_or_default(),
            ])
            .map_err(io)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ApiError::internal(&e.to_string()))?;
    let file_name = format!(
        "compliance-{}-{}-{}.csv",
        report
            .company_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            })
            .collect::<String>(),
        local_date(report.from).format("%Y%m%d"),
        local_date(report.to).format("%Y%m%d"),
    );
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
