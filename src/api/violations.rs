//! Violation episodes: `GET /violations` (newest first, filtered, cursor-paged) and
//! `GET /violations/{id}`. Every role reads them; a `company` caller sees only its company's
//! (another company's vehicle, company or violation id answers 404).

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::common::{ApiQuery, ListResponse, check_cursor, check_id, check_limit, opt_time};
use super::error::{ApiError, ApiResult, ErrorBody};
use crate::model::{Violation, ViolationKind, ViolationStatus};
use crate::store::ViolationQuery;

/// Routes of this module.
pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_violations))
        .routes(routes!(get_violation))
}

/// `GET /violations` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViolationListParams {
    /// Only this vehicle.
    pub vehicle_id: Option<String>,
    /// Only this company (a company caller may only name its own).
    pub company_id: Option<String>,
    /// Only this kind (`speeding`, `route_deviation`, ...).
    pub kind: Option<String>,
    /// `open` or `closed`.
    pub status: Option<String>,
    /// Only episodes still going on at or after this time (RFC 3339).
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<DateTime<Utc>>,
    /// Only episodes that started before this time (RFC 3339).
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<DateTime<Utc>>,
    /// `next` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1..=1000 (default 100).
    pub limit: Option<u32>,
}

/// Violation episodes, newest first.
#[utoipa::path(get, path = "/violations", tag = "violations", security(("bearer" = [])),
    params(ViolationListParams),
    responses((status = 200, description = "A page of violations (the model's Violation)", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn list_violations(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ViolationListParams>,
) -> ApiResult<Json<ListResponse<Violation>>> {
    if let Some(c) = &params.company_id {
        check_id("company_id", c)?;
    }
    let company_id = caller.company_scope(params.company_id.as_deref())?;
    if let Some(vehicle) = &params.vehicle_id {
        check_id("vehicle_id", vehicle)?;
        // A company may not even learn whether another company's vehicle exists.
        if caller.is_company() {
            let v = state
                .store
                .vehicle(vehicle)
                .await?
                .ok_or_else(|| ApiError::not_found("vehicle", vehicle))?;
            caller.check_company(&v.company_id, "vehicle", vehicle)?;
        }
    }
    let kind = params
        .kind
        .as_deref()
        .map(|k| {
            ViolationKind::from_name(k)
                .ok_or_else(|| ApiError::invalid("kind", format!("unknown violation kind {k:?}")))
        })
        .transpose()?;
    let status = match params.status.as_deref() {
        None => None,
        Some("open") => Some(ViolationStatus::Open),
        Some("closed") => Some(ViolationStatus::Closed),
        Some(_) => return Err(ApiError::invalid("status", "status must be open or closed")),
    };
    if let (Some(from), Some(to)) = (params.from, params.to) {
        if from > to {
            return Err(ApiError::invalid("from", "from is after to"));
        }
        if to - from > state.limits.max_range {
            return Err(ApiError::invalid(
                "to",
                format!(
                    "time range longer than {} days",
                    state.limits.max_range.num_days()
                ),
            ));
        }
    }
    let page = state
        .store
        .list_violations(&ViolationQuery {
            vehicle_id: params.vehicle_id,
            kind,
            company_id,
            status,
            from: params.from,
            to: params.to,
            cursor: check_cursor(params.cursor)?,
            limit: check_limit(params.limit)?,
        })
        .await?;
    Ok(Json(ListResponse::from_page(page, |v| v)))
}

/// One violation episode with its evidence.
#[utoipa::path(get, path = "/violations/{id}", tag = "violations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Violation id")),
    responses((status = 200, description = "The model's Violation", body = Object),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_violation(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Violation>> {
    check_id("id", &id)?;
    let violation = state
        .store
        .violation(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("violation", &id))?;
    if caller.is_company() {
        match &violation.company_id {
            Some(company) => caller.check_company(company, "violation", &id)?,
            None => return Err(ApiError::not_found("violation", &id)),
        }
    }
    Ok(Json(violation))
}
