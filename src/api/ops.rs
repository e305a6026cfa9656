//! Operations endpoints: `/healthz`, `/metrics` (Prometheus), the console's map settings, and
//! the per-request metrics middleware.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::ApiResult;
use super::{ApiState, ConsoleConfig};

/// `/healthz` and `/metrics` (outside `/api/v1`, no token).
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// Routes under `/api/v1`.
pub(super) fn api_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(console_config))
}

/// `/healthz` answer.
#[derive(Debug, Serialize)]
struct Health {
    /// `ok`, or `degraded` when the store does not answer.
    status: &'static str,
}

/// Liveness and store reachability: 200 `{"status": "ok"}`, or 503 when the store fails.
async fn healthz(State(state): State<ApiState>) -> Response {
    match state.store.company("__healthz__").await {
        Ok(_) => Json(Health { status: "ok" }).into_response(),
        Err(error) => {
            tracing::warn!(%error, "Health check: store unavailable.");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health { status: "degraded" }),
            )
                .into_response()
        }
    }
}

/// Prometheus text exposition of every metric the process records.
async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::prometheus().render(),
    )
        .into_response()
}

/// The console's map settings (tile source and its coordinate system, centre, zoom).
#[utoipa::path(get, path = "/console-config", tag = "console", security(("bearer" = [])),
    responses((status = 200, body = ConsoleConfig), (status = 401, body = super::error::ErrorBody)))]
async fn console_config(
    State(state): State<ApiState>,
    _caller: Caller,
) -> ApiResult<Json<ConsoleConfig>> {
    Ok(Json(state.console.as_ref().clone()))
}

/// Counts every request and its latency by route and status
/// (`haulwatch_http_requests_total`, `haulwatch_http_request_seconds`).
pub(super) async fn track_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("haulwatch_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("haulwatch_http_request_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}
