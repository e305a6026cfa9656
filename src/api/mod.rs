//! The HTTP API (axum 0.8, JSON under `/api/v1`) and the console it serves. `docs/api.md` is
//! the contract with the console; the OpenAPI document generated from these handlers
//! (`GET /api/v1/openapi.json`) is the reference.
//!
//! One module per resource, each exposing `routes()` (an [`OpenApiRouter`] whose handlers carry
//! `#[utoipa::path]`), merged in [`app`]. Every handler extracts a [`auth::Caller`] (401 without
//! a valid token), admits its roles with [`auth::Caller::require`] (403), scopes company callers
//! to their company ([`auth::Caller::company_scope`]; another company's id answers 404), reads
//! bodies and queries with [`common::ApiJson`] / [`common::ApiQuery`] (400 naming the field),
//! and fails with [`error::ApiError`]. Nothing here holds SQL: the store and the case service
//! are the only doors.

pub mod auth;
pub mod cases;
pub mod common;
pub mod compliance;
pub mod error;
pub mod live;
pub mod ops;
pub mod public;
pub mod registry;
pub mod stats;
pub mod vehicles;
pub mod violations;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::response::IntoResponse;
use serde::Serialize;
use tokio::sync::Notify;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::bus::LiveHub;
use crate::cases::service::CaseService;
use crate::ingest::SessionRegistry;
use crate::store::Store;

use self::auth::AuthState;
use self::error::ApiError;

/// Largest request body on any route except evidence uploads.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Largest evidence upload.
pub const EVIDENCE_LIMIT: usize = 64 * 1024 * 1024;

/// What the console's map starts with (`GET /api/v1/console-config`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsoleConfig {
    /// Base-map tiles; `None` draws fences on a plain background (offline default).
    pub tiles: Option<TileConfig>,
    /// Map centre `[lat, lon]`, WGS-84.
    pub center: [f64; 2],
    /// Initial zoom.
    pub zoom: u8,
}

impl Default for ConsoleConfig {
    /// No tiles, centred on Liuzhou.
    fn default() -> Self {
        ConsoleConfig {
            tiles: None,
            center: [24.326, 109.428],
            zoom: 12,
        }
    }
}

/// A base-map tile source.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TileConfig {
    /// Leaflet URL template (`{z}`, `{x}`, `{y}`, `{s}`).
    pub url: String,
    /// `wgs84` (Tianditu, OpenStreetMap) or `gcj02` (AMap, Tencent).
    pub coord_sys: String,
    /// Attribution shown on the map.
    pub attribution: String,
    /// Subdomains for `{s}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subdomains: Option<String>,
    /// Highest zoom the tiles have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_zoom: Option<u8>,
}

/// Limits of the API.
#[derive(Debug, Clone)]
pub struct ApiLimits {
    /// Longest time range a track, visit or violation query may span.
    pub max_range: chrono::Duration,
    /// How long a terminal command waits for the terminal's answer.
    pub command_timeout: Duration,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            max_range: chrono::Duration::days(31),
            command_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything a handler can reach; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    /// The store.
    pub store: Store,
    /// The case service.
    pub cases: CaseService,
    /// The live stream of positions and violations.
    pub live: LiveHub,
    /// Connected terminals, for commands.
    pub sessions: SessionRegistry,
    /// Notified after a registry write, so the engine and the gateway reload at once.
    pub registry_changed: Arc<Notify>,
    /// The console's map settings.
    pub console: Arc<ConsoleConfig>,
    /// Limits.
    pub limits: Arc<ApiLimits>,
    /// Token cache and login limiter.
    pub auth: Arc<AuthState>,
    /// The fleet list kept briefly in memory for `GET /vehicles`.
    pub fleet: Arc<vehicles::FleetCopy>,
}

impl ApiState {
    /// State over the running platform's parts, with default console settings and limits.
    pub fn new(
        store: Store,
        cases: CaseService,
        live: LiveHub,
        sessions: SessionRegistry,
        registry_changed: Arc<Notify>,
    ) -> ApiState {
        ApiState {
            store,
            cases,
            live,
            sessions,
            registry_changed,
            console: Arc::new(ConsoleConfig::default()),
            limits: Arc::new(ApiLimits::default()),
            auth: Arc::new(AuthState::default()),
            fleet: Arc::new(vehicles::FleetCopy::default()),
        }
    }

    /// Tells the engine and the gateway that the registry changed.
    pub fn registry_changed(&self) {
        self.registry_changed.notify_one();
    }
}

/// The OpenAPI document's header and security scheme; paths come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(title = "haulwatch API", version = "1", description = "Muck-truck monitoring: registry, live positions, tracks, violations, enforcement cases, fleet compliance."),
    servers((url = "/api/v1")),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

/// Adds the bearer-token security scheme.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The `/api/v1` routes and their OpenAPI document (paths relative to `/api/v1`).
pub fn api_routes() -> (Router<ApiState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::routes())
        .merge(ops::api_routes())
        .merge(registry::routes())
        .merge(vehicles::routes())
        .merge(violations::routes())
        .merge(cases::routes())
        .merge(stats::routes())
        .merge(compliance::routes())
        .merge(live::routes())
        .split_for_parts()
}

/// The whole HTTP application: `/api/v1/...`, `/public/...`, `/healthz`, `/metrics` and the
/// console's static files.
pub fn app(state: ApiState) -> Router {
    let (api, openapi) = api_routes();
    let openapi = Arc::new(openapi);
    let api = api
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(api_not_found);
    Router::new()
        .nest("/api/v1", api)
        .merge(public::routes())
        .merge(ops::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(axum::middleware::from_fn(ops::track_request))
        .with_state(state)
        .merge(crate::web::router())
}

/// Unknown `/api/v1` paths answer the JSON error shape.
async fn api_not_found(method: Method, uri: Uri) -> impl IntoResponse {
    ApiError::new(
        error::ErrorCode::NotFound,
        format!("no route {method} {}", uri.path()),
    )
}
