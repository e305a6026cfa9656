//! Statistics for the bureau: violations and cases counted by a grouping, time to close, and
//! hot spots (violation locations counted on a grid). Company callers get their own
//! company's numbers only.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::common::{ApiQuery, check_id, opt_time, time_range};
use super::error::{ApiError, ApiResult, ErrorBody};
use crate::cases::dispatch::districts_at;
use crate::cases::model::{Location, Role};
use crate::cases::service::StatsQuery;
use crate::cases::stats::{HotSpotGrid, Period, hot_spots, period_key};
use crate::model::{Zone, ZoneKind};
use crate::store::{ListQuery, Store};

/// Longest range a statistics query may span.
pub const MAX_STATS_RANGE_DAYS: i64 = 366;
/// Range used when `from` is absent.
pub const DEFAULT_STATS_DAYS: i64 = 30;
/// Smallest and largest hot-spot cell, metres.
pub const CELL_RANGE_M: std::ops::RangeInclusive<u32> = 50..=20_000;
/// Key used for items without a company or district.
const NONE_KEY: &str = "none";

/// Every role may read statistics; company callers are limited to their company.
const STATS_ROLES: &[Role] = &[
    Role::Admin,
    Role::Dispatcher,
    Role::Officer,
    Role::Auditor,
    Role::Company,
];

/// Routes of this module.
pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(violation_stats))
        .routes(routes!(case_stats))
        .routes(routes!(hotspots))
}

/// Statistics query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// Grouping (`/stats/violations`: `kind`, `company`, `district`, `day`;
    /// `/stats/cases`: `status`, `kind`, `district`, `company`, `day`).
    pub group_by: Option<String>,
    /// Start (RFC 3339; default 30 days before `to`).
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>)]
    pub from: Option<DateTime<Utc>>,
    /// End (RFC 3339; default now). At most 366 days after `from`.
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>)]
    pub to: Option<DateTime<Utc>>,
    /// Only this company (company callers: their own; another answers 404).
    pub company_id: Option<String>,
}

/// Hot-spot query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HotspotParams {
    /// Cell side in metres (50..=20000, default 500).
    pub cell_m: Option<u32>,
    /// Start (RFC 3339; default 30 days before `to`).
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>)]
    pub from: Option<DateTime<Utc>>,
    /// End (RFC 3339; default now).
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>)]
    pub to: Option<DateTime<Utc>>,
    /// Only this company (company callers: their own).
    pub company_id: Option<String>,
}

/// One group and its count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CountItem {
    /// The group (a kind, company id, district zone id, status, or local day `2026-03-02`;
    /// `none` for items without a company or district).
    pub key: String,
    /// How many.
    pub count: usize,
}

/// Counted groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountResponse {
    /// Start of the range.
    pub from: DateTime<Utc>,
    /// End of the range.
    pub to: DateTime<Utc>,
    /// Groups: days in date order, the others by count (largest first).
    pub items: Vec<CountItem>,
    /// Total counted.
    pub total: usize,
}

/// Case counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseCountResponse {
    /// Start of the range.
    pub from: DateTime<Utc>,
    /// End of the range.
    pub to: DateTime<Utc>,
    /// Groups of cases opened in the range.
    pub items: Vec<CountItem>,
    /// Cases opened in the range.
    pub total: usize,
    /// Mean hours from opening to closing of the closed ones (null when none closed).
    pub mean_hours_to_close: Option<f64>,
    /// Median hours to close.
    pub median_hours_to_close: Option<f64>,
    /// Closed cases counted in the times.
    pub closed: usize,
    /// Active cases with an overdue legal clock now.
    pub overdue_cases: usize,
    /// Active cases with a clock due soon now.
    pub due_soon_cases: usize,
}

/// A grid cell.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HotspotCell {
    /// Centre latitude.
    pub lat: f64,
    /// Centre longitude.
    pub lon: f64,
    /// Points in the cell.
    pub count: usize,
    /// Southern edge.
    pub south: f64,
    /// Western edge.
    pub west: f64,
    /// Northern edge.
    pub north: f64,
    /// Eastern edge.
    pub east: f64,
}

/// Hot spots.
#[derive(Debug, Serialize, ToSchema)]
pub struct HotspotResponse {
    /// Cell side in metres.
    pub cell_m: u32,
    /// Cells with at least one point, busiest first.
    pub cells: Vec<HotspotCell>,
}

/// The range and company a statistics query runs with.
fn scope(
    caller: &Caller,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    company_id: Option<&str>,
) -> ApiResult<(DateTime<Utc>, DateTime<Utc>, Option<String>)> {
    caller.require(STATS_ROLES)?;
    let company = caller.company_scope(company_id.filter(|c| !c.is_empty()))?;
    if let Some(c) = &company {
        check_id("company_id", c)?;
    }
    let (from, to) = time_range(
        from,
        to,
        chrono::Duration::days(DEFAULT_STATS_DAYS),
        chrono::Duration::days(MAX_STATS_RANGE_DAYS),
    )?;
    Ok((from, to, company))
}

/// Counts sorted: by count (largest first) then key.
fn by_count(counts: BTreeMap<String, usize>) -> Vec<CountItem> {
    let mut items: Vec<CountItem> = counts
        .into_iter()
        .map(|(key, count)| CountItem { key, count })
        .collect();
    items.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    items
}

/// Counts in key order (days).
fn by_key(counts: BTreeMap<String, usize>) -> Vec<CountItem> {
    counts
        .into_iter()
        .map(|(key, count)| CountItem { key, count })
        .collect()
}

/// Every district zone.
async fn district_zones(store: &Store) -> ApiResult<Vec<Zone>> {
    let mut zones = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_zones(&ListQuery {
                company_id: None,
                cursor,
                limit: crate::store::MAX_PAGE,
            })
            .await?;
        zones.extend(
            page.items
                .into_iter()
                .filter(|z| z.kind == ZoneKind::District),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(zones)
}

/// The district a point lies in (`none` outside every district).
fn district_key(zones: &[Zone], lat: f64, lon: f64) -> String {
    districts_at(zones, &Location::point(lat, lon))
        .first()
        .map_or_else(|| NONE_KEY.to_string(), |z| z.id.clone())
}

/// Violation episodes that started in the range, counted by kind, company, district (the
/// district zone containing the start) or local day (Asia/Shanghai).
#[utoipa::path(get, path = "/stats/violations", tag = "stats", params(StatsParams),
    security(("bearer" = [])),
    responses((status = 200, body = CountResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn violation_stats(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StatsParams>,
) -> ApiResult<Json<CountResponse>> {
    let (from, to, company) = scope(&caller, q.from, q.to, q.company_id.as_deref())?;
    let group = q.group_by.as_deref().unwrap_or("kind");
    if !matches!(group, "kind" | "company" | "district" | "day") {
        return Err(ApiError::invalid(
            "group_by",
            "group_by must be kind, company, district or day",
        ));
    }
    let facts = state
        .store
        .violation_facts(from, to, company.as_deref())
        .await?;
    let zones = if group == "district" {
        district_zones(&state.store).await?
    } else {
        Vec::new()
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for fact in &facts {
        let key = match group {
            "kind" => fact.kind.as_str().to_string(),
            "company" => fact
                .company_id
                .clone()
                .unwrap_or_else(|| NONE_KEY.to_string()),
            "district" => district_key(&zones, fact.lat, fact.lon),
            _ => period_key(fact.started_at, Period::Day),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    let items = if group == "day" {
        by_key(counts)
    } else {
        by_count(counts)
    };
    Ok(Json(CountResponse {
        from,
        to,
        items,
        total: facts.len(),
    }))
}

/// Cases opened in the range, counted by status, kind, district, company or local day, with
/// the time to close of those closed.
#[utoipa::path(get, path = "/stats/cases", tag = "stats", params(StatsParams),
    security(("bearer" = [])),
    responses((status = 200, body = CaseCountResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn case_stats(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StatsParams>,
) -> ApiResult<Json<CaseCountResponse>> {
    let (from, to, company) = scope(&caller, q.from, q.to, q.company_id.as_deref())?;
    let group = q.group_by.as_deref().unwrap_or("status");
    if !matches!(group, "status" | "kind" | "district" | "company" | "day") {
        return Err(ApiError::invalid(
            "group_by",
            "group_by must be status, kind, district, company or day",
        ));
    }
    let stats = state
        .cases
        .statistics(
            &caller.principal(),
            StatsQuery {
                from: Some(from),
                to: Some(to),
                period: Period::Day,
                company_id: company,
            },
        )
        .await?;
    let cases = stats.cases;
    let items = match group {
        "status" => by_count(cases.by_status),
        "kind" => by_count(cases.by_kind),
        "district" => by_count(cases.by_district),
        "company" => by_count(cases.by_company),
        _ => by_key(cases.by_period),
    };
    Ok(Json(CaseCountResponse {
        from,
        to,
        items,
        total: cases.total,
        mean_hours_to_close: cases.time_to_close.map(|t| t.mean_hours),
        median_hours_to_close: cases.time_to_close.map(|t| t.median_hours),
        closed: cases.time_to_close.map_or(0, |t| t.count),
        overdue_cases: stats.overdue_cases,
        due_soon_cases: stats.due_soon_cases,
    }))
}

/// Hot spots: start locations of violation episodes in the range (and locations of cases
/// opened by hand in it) counted on a grid of square cells, busiest first.
#[utoipa::path(get, path = "/stats/hotspots", tag = "stats", params(HotspotParams),
    security(("bearer" = [])),
    responses((status = 200, body = HotspotResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn hotspots(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<HotspotParams>,
) -> ApiResult<Json<HotspotResponse>> {
    let (from, to, company) = scope(&caller, q.from, q.to, q.company_id.as_deref())?;
    let cell_m = q.cell_m.unwrap_or(500);
    if !CELL_RANGE_M.contains(&cell_m) {
        return Err(ApiError::invalid(
            "cell_m",
            format!(
                "cell_m must be within {}..={}",
                CELL_RANGE_M.start(),
                CELL_RANGE_M.end()
            ),
        ));
    }
    let mut points = state
        .store
        .violation_points(Some(from), Some(to), company.as_deref())
        .await?;
    let cases = state
        .store
        .cases_opened_between(Some(from), Some(to), company.as_deref())
        .await?;
    points.extend(
        cases
            .iter()
            .filter(|c| c.violation_ids.is_empty())
            .filter_map(|c| c.location.as_ref().map(|l| (l.lat, l.lon))),
    );
    let grid = HotSpotGrid {
        cell_size_m: f64::from(cell_m),
        reference_lat: state.cases.settings().hot_spots.reference_lat,
    };
    let spots = hot_spots(points, &grid).map_err(|e| ApiError::invalid("cell_m", e.to_string()))?;
    Ok(Json(HotspotResponse {
        cell_m,
        cells: spots
            .cells
            .into_iter()
            .map(|c| HotspotCell {
                lat: (c.south + c.north) / 2.0,
                lon: (c.west + c.east) / 2.0,
                count: c.count,
                south: c.south,
                west: c.west,
                north: c.north,
                east: c.east,
            })
            .collect(),
    }))
}
