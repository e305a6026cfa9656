//! Public pages' data, outside `/api/v1` and without a token: a citizen follows a report by
//! its tracking number. Only stages and days are shown, never names, phones, plates, places,
//! descriptions or penalties.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Serialize;

use super::ApiState;
use super::error::{ApiError, ApiResult};
use crate::cases::citizen::PublicProgress;

/// `/public/...` routes (no token).
pub(super) fn routes() -> Router<ApiState> {
    Router::new().route("/public/reports/{tracking_no}", get(report_progress))
}

/// One stage reached.
#[derive(Debug, Clone, Serialize)]
pub struct PublicStepItem {
    /// Stage (`received`, `not_filed`, `referred`, `under_investigation`, `decided`,
    /// `concluded`).
    pub status: String,
    /// Its text (Chinese).
    pub label: String,
    /// Local day (Asia/Shanghai) it was reached: the public page shows days, not times.
    pub at: NaiveDate,
}

/// `GET /public/reports/{tracking_no}` answer.
#[derive(Debug, Clone, Serialize)]
pub struct PublicReport {
    /// The tracking number (normalised).
    pub tracking_no: String,
    /// Current stage.
    pub status: String,
    /// Its text (Chinese).
    pub status_label: String,
    /// Category of the report (Chinese).
    pub category: String,
    /// Local day it was received.
    pub submitted_at: NaiveDate,
    /// Local day of the latest stage.
    pub updated_at: NaiveDate,
    /// Stages reached, oldest first.
    pub steps: Vec<PublicStepItem>,
}

impl From<PublicProgress> for PublicReport {
    fn from(p: PublicProgress) -> PublicReport {
        let steps: Vec<PublicStepItem> = p
            .timeline
            .iter()
            .map(|s| PublicStepItem {
                status: stage_name(&s.stage),
                label: s.label_zh.clone(),
                at: s.on,
            })
            .collect();
        PublicReport {
            updated_at: steps.last().map_or(p.received_on, |s| s.at),
            tracking_no: p.tracking_number,
            status: stage_name(&p.stage),
            status_label: p.stage_label_zh,
            category: p.category_zh,
            submitted_at: p.received_on,
            steps,
        }
    }
}

fn stage_name<T: Serialize>(stage: &T) -> String {
    match serde_json::to_value(stage) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A citizen report's progress. Unknown and malformed numbers both answer 404, so numbers
/// cannot be probed.
async fn report_progress(
    State(state): State<ApiState>,
    Path(tracking_no): Path<String>,
) -> ApiResult<Json<PublicReport>> {
    if tracking_no.len() > 64 {
        return Err(ApiError::not_found("report", "?"));
    }
    match state.cases.public_progress(&tracking_no).await? {
        Some(progress) => Ok(Json(progress.into())),
        None => Err(ApiError::not_found("report", &tracking_no)),
    }
}
