//! Registry CRUD under `/api/v1`: `companies`, `vehicles`, `terminals` (id = phone), `drivers`,
//! `sites`, `disposal-grounds`, `routes`, `zones`, `permits`, `officers`, `users`.
//!
//! Every resource answers `GET /x` (list, `?cursor&limit`, `?company_id` where items belong to
//! a company), `GET /x/{id}`, `POST /x` (201; 409 if the id exists), `PUT /x/{id}` (replace an
//! existing item; a body `id` must match the path or be absent; 404 for an unknown id) and
//! `DELETE /x/{id}` (204; 404 unknown; 409 while something refers to it).
//!
//! Writes are admin only and validated before they reach the store (400 naming the field):
//! GeoJSON geometries (coordinates finite and in range, rings closed with at least 4 positions,
//! polygons valid and not self-intersecting, lines with two distinct positions), corridor
//! widths and speed limits in sane ranges, time windows, and every referenced id. A write the
//! engine or the gateway uses (companies, vehicles, terminals, fences, permits) notifies
//! [`ApiState::registry_changed`] so the change applies at once.
//!
//! Reads: bureau roles (admin, dispatcher, officer, auditor) read everything except `users`
//! (admin only). Fences are readable by every role, `company` included. A `company` caller
//! reads only its own company, vehicles, terminals (through the bound vehicle), drivers and
//! permits; another company's item answers 404, and `officers` and `users` answer 403.
//!
//! One trait, [`Resource`], says how each resource is stored, checked and scoped; the
//! `resource_routes!` macro writes the five handlers per resource with their OpenAPI paths.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use geo_types::{Coord, LineString, MultiLineString, MultiPolygon, Polygon};
use geojson::GeometryValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::{Caller, hash_password};
use super::common::{ApiJson, ApiQuery, ListResponse, check_cursor, check_id, check_limit};
use super::error::{ApiError, ApiResult, ErrorBody};
use crate::cases::model::Role;
use crate::model::schedule::{DailyWindow, Weekdays, WeeklyWindow};
use crate::model::{
    Company, DisposalGround, Driver, Officer, Permit, Route, SensorCapabilities, Site, Terminal,
    Vehicle, Zone, ZoneKind, phone_key,
};
use crate::store::{ListQuery, Page, User};

/// Bureau roles that read the whole registry.
const BUREAU: &[Role] = &[Role::Admin, Role::Dispatcher, Role::Officer, Role::Auditor];
/// Every role.
const EVERYONE: &[Role] = &[
    Role::Admin,
    Role::Dispatcher,
    Role::Officer,
    Role::Auditor,
    Role::Company,
];
/// Largest corridor half-width a route may have (metres).
const MAX_CORRIDOR_M: f64 = 5_000.0;
/// Largest speed limit (km/h).
const MAX_SPEED_LIMIT_KMH: f64 = 200.0;
/// Most positions one geometry may hold.
const MAX_GEOMETRY_POSITIONS: usize = 100_000;
/// Longest text field (names, numbers, plates).
const MAX_TEXT: usize = 200;

// --- query and shared pieces ---------------------------------------------------------------

/// `?company_id&cursor&limit` of a registry list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistryListParams {
    /// Only items of this company (vehicles, terminals, drivers, permits, users, companies);
    /// a company caller may only name its own.
    pub company_id: Option<String>,
    /// `next` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1..=1000 (default 100).
    pub limit: Option<u32>,
}

/// How one registry resource is read, checked, written and scoped.
trait Resource: Serialize + DeserializeOwned + Send + Sized + 'static {
    /// Singular name for messages (`vehicle`).
    const ENTITY: &'static str;
    /// Name of the id field in the body (`id`, or `phone` for terminals).
    const ID_FIELD: &'static str = "id";
    /// Roles that may read.
    const READERS: &'static [Role] = BUREAU;
    /// Whether the engine or the gateway uses it (writes notify `registry_changed`).
    const ENGINE_USES: bool = true;

    /// The body's id (empty when absent).
    fn id(&self) -> &str;
    /// Sets the id (from the path).
    fn set_id(&mut self, id: String);
    /// A page of items; `q.company_id` is already scoped.
    async fn list(state: &ApiState, q: &ListQuery) -> ApiResult<Page<Self>>;
    /// One item.
    async fn get(state: &ApiState, id: &str) -> ApiResult<Option<Self>>;
    /// The company a company caller must belong to to see `self`; `None` = not company data.
    async fn owner(&self, _state: &ApiState) -> ApiResult<Option<String>> {
        Ok(None)
    }
    /// Whether items are company data (company callers are scoped; `?company_id` filters).
    const COMPANY_DATA: bool = false;
    /// Validates and stores; `existing` is the stored item on replace.
    async fn store(self, state: &ApiState, existing: Option<Self>) -> ApiResult<()>;
    /// Deletes; false when unknown.
    async fn delete(state: &ApiState, id: &str) -> ApiResult<bool>;
}

async fn list_items<R: Resource>(
    state: &ApiState,
    caller: &Caller,
    params: RegistryListParams,
) -> ApiResult<Json<ListResponse<R>>> {
    caller.require(R::READERS)?;
    if let Some(c) = &params.company_id {
        check_id("company_id", c)?;
    }
    // Lists of data no company owns (fences, officers) ignore the filter in the store.
    let company_id = if R::COMPANY_DATA {
        caller.company_scope(params.company_id.as_deref())?
    } else {
        params.company_id
    };
    let q = ListQuery {
        company_id,
        cursor: check_cursor(params.cursor)?,
        limit: check_limit(params.limit)?,
    };
    let page = R::list(state, &q).await?;
    Ok(Json(ListResponse::from_page(page, |item| item)))
}

/// The item if it exists and the caller may see it (404 otherwise).
async fn visible_item<R: Resource>(state: &ApiState, caller: &Caller, id: &str) -> ApiResult<R> {
    caller.require(R::READERS)?;
    check_id(R::ID_FIELD, id)?;
    let item = R::get(state, id)
        .await?
        .ok_or_else(|| ApiError::not_found(R::ENTITY, id))?;
    if caller.is_company() && R::COMPANY_DATA {
        match item.owner(state).await? {
            Some(owner) => caller.check_company(&owner, R::ENTITY, id)?,
            None => return Err(ApiError::not_found(R::ENTITY, id)),
        }
    }
    Ok(item)
}

async fn get_item<R: Resource>(state: &ApiState, caller: &Caller, id: &str) -> ApiResult<Json<R>> {
    visible_item::<R>(state, caller, id).await.map(Json)
}

async fn create_item<R: Resource>(
    state: &ApiState,
    caller: &Caller,
    item: R,
) -> ApiResult<(StatusCode, Json<R>)> {
    caller.require(&[Role::Admin])?;
    let id = item.id().to_string();
    check_id(R::ID_FIELD, &id)?;
    if R::get(state, &id).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "{} {id:?} already exists",
            R::ENTITY
        )));
    }
    item.store(state, None).await?;
    written::<R>(state, &id)
        .await
        .map(|i| (StatusCode::CREATED, i))
}

async fn replace_item<R: Resource>(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    mut item: R,
) -> ApiResult<Json<R>> {
    caller.require(&[Role::Admin])?;
    check_id(R::ID_FIELD, id)?;
    if item.id().is_empty() {
        item.set_id(id.to_string());
    } else if item.id() != id {
        return Err(ApiError::invalid(
            R::ID_FIELD,
            format!(
                "the body's {} must match the path or be absent",
                R::ID_FIELD
            ),
        ));
    }
    let existing = R::get(state, id)
        .await?
        .ok_or_else(|| ApiError::not_found(R::ENTITY, id))?;
    let stored_id = existing.id().to_string();
    item.set_id(stored_id.clone());
    item.store(state, Some(existing)).await?;
    written::<R>(state, &stored_id).await
}

/// After a write: notify the engine if it cares, and answer the stored item.
async fn written<R: Resource>(state: &ApiState, id: &str) -> ApiResult<Json<R>> {
    if R::ENGINE_USES {
        state.registry_changed();
        super::vehicles::registry_written(state);
    }
    R::get(state, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(R::ENTITY, id))
}

async fn delete_item<R: Resource>(
    state: &ApiState,
    caller: &Caller,
    id: &str,
) -> ApiResult<StatusCode> {
    caller.require(&[Role::Admin])?;
    check_id(R::ID_FIELD, id)?;
    if !R::delete(state, id).await? {
        return Err(ApiError::not_found(R::ENTITY, id));
    }
    if R::ENGINE_USES {
        state.registry_changed();
        super::vehicles::registry_written(state);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Writes the five handlers of one resource and their OpenAPI paths.
macro_rules! resource_routes {
    ($(#[$attr:meta])* $module:ident, $res:ty, $tag:literal, $list_path:literal, $item_path:literal) => {
        $(#[$attr])*
        mod $module {
            use super::*;

            /// Lists items (cursor pagination).
            #[utoipa::path(get, path = $list_path, tag = $tag, security(("bearer" = [])),
                operation_id = concat!("list_", stringify!($module)),
                params(RegistryListParams),
                responses((status = 200, body = ListResponse<$res>), (status = 400, body = ErrorBody),
                    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
                    (status = 404, body = ErrorBody)))]
            pub(super) async fn list(
                State(state): State<ApiState>,
                caller: Caller,
                ApiQuery(params): ApiQuery<RegistryListParams>,
            ) -> ApiResult<Json<ListResponse<$res>>> {
                list_items::<$res>(&state, &caller, params).await
            }

            /// One item.
            #[utoipa::path(get, path = $item_path, tag = $tag, security(("bearer" = [])),
                operation_id = concat!("get_", stringify!($module)),
                params(("id" = String, Path, description = "Registry id")),
                responses((status = 200, body = $res), (status = 401, body = ErrorBody),
                    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
            pub(super) async fn get(
                State(state): State<ApiState>,
                caller: Caller,
                Path(id): Path<String>,
            ) -> ApiResult<Json<$res>> {
                get_item::<$res>(&state, &caller, &id).await
            }

            /// Creates an item (admin).
            #[utoipa::path(post, path = $list_path, tag = $tag, security(("bearer" = [])),
                operation_id = concat!("create_", stringify!($module)),
                request_body = $res,
                responses((status = 201, body = $res), (status = 400, body = ErrorBody),
                    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
                    (status = 409, body = ErrorBody)))]
            pub(super) async fn create(
                State(state): State<ApiState>,
                caller: Caller,
                ApiJson(item): ApiJson<$res>,
            ) -> ApiResult<(StatusCode, Json<$res>)> {
                create_item::<$res>(&state, &caller, item).await
            }

            /// Replaces an item (admin).
            #[utoipa::path(put, path = $item_path, tag = $tag, security(("bearer" = [])),
                operation_id = concat!("replace_", stringify!($module)),
                params(("id" = String, Path, description = "Registry id")),
                request_body = $res,
                responses((status = 200, body = $res), (status = 400, body = ErrorBody),
                    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
                    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
            pub(super) async fn replace(
                State(state): State<ApiState>,
                caller: Caller,
                Path(id): Path<String>,
                ApiJson(item): ApiJson<$res>,
            ) -> ApiResult<Json<$res>> {
                replace_item::<$res>(&state, &caller, &id, item).await
            }

            /// Deletes an item (admin); 409 while something refers to it.
            #[utoipa::path(delete, path = $item_path, tag = $tag, security(("bearer" = [])),
                operation_id = concat!("delete_", stringify!($module)),
                params(("id" = String, Path, description = "Registry id")),
                responses((status = 204), (status = 401, body = ErrorBody),
                    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
                    (status = 409, body = ErrorBody)))]
            pub(super) async fn remove(
                State(state): State<ApiState>,
                caller: Caller,
                Path(id): Path<String>,
            ) -> ApiResult<StatusCode> {
                delete_item::<$res>(&state, &caller, &id).await
            }
        }
    };
}

resource_routes!(
    companies,
    CompanyDto,
    "registry",
    "/companies",
    "/companies/{id}"
);
resource_routes!(
    // GET is the fleet view in `super::vehicles`; only the writes are routed from here.
    #[allow(dead_code)]
    vehicles,
    VehicleDto,
    "registry",
    "/vehicles",
    "/vehicles/{id}"
);
resource_routes!(
    terminals,
    TerminalDto,
    "registry",
    "/terminals",
    "/terminals/{id}"
);
resource_routes!(drivers, DriverDto, "registry", "/drivers", "/drivers/{id}");
resource_routes!(sites, SiteDto, "fences", "/sites", "/sites/{id}");
resource_routes!(
    disposal_grounds,
    DisposalGroundDto,
    "fences",
    "/disposal-grounds",
    "/disposal-grounds/{id}"
);
resource_routes!(routes_, RouteDto, "fences", "/routes", "/routes/{id}");
resource_routes!(zones, ZoneDto, "fences", "/zones", "/zones/{id}");
resource_routes!(permits, PermitDto, "registry", "/permits", "/permits/{id}");
resource_routes!(
    officers,
    OfficerDto,
    "registry",
    "/officers",
    "/officers/{id}"
);
resource_routes!(users, UserDto, "users", "/users", "/users/{id}");

/// Routes of this module. `GET /vehicles` and `GET /vehicles/{id}` are the fleet view in
/// [`super::vehicles`] (the registry item plus state and latest position); the vehicle writes
/// live here.
pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(companies::list, companies::create))
        .routes(routes!(
            companies::get,
            companies::replace,
            companies::remove
        ))
        .routes(routes!(vehicles::create))
        .routes(routes!(vehicles::replace, vehicles::remove))
        .routes(routes!(terminals::list, terminals::create))
        .routes(routes!(
            terminals::get,
            terminals::replace,
            terminals::remove
        ))
        .routes(routes!(drivers::list, drivers::create))
        .routes(routes!(drivers::get, drivers::replace, drivers::remove))
        .routes(routes!(sites::list, sites::create))
        .routes(routes!(sites::get, sites::replace, sites::remove))
        .routes(routes!(disposal_grounds::list, disposal_grounds::create))
        .routes(routes!(
            disposal_grounds::get,
            disposal_grounds::replace,
            disposal_grounds::remove
        ))
        .routes(routes!(routes_::list, routes_::create))
        .routes(routes!(routes_::get, routes_::replace, routes_::remove))
        .routes(routes!(zones::list, zones::create))
        .routes(routes!(zones::get, zones::replace, zones::remove))
        .routes(routes!(permits::list, permits::create))
        .routes(routes!(permits::get, permits::replace, permits::remove))
        .routes(routes!(officers::list, officers::create))
        .routes(routes!(officers::get, officers::replace, officers::remove))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::replace, users::remove))
}

// --- validation helpers --------------------------------------------------------------------

/// A required text field: 1..=200 characters, no control characters.
fn check_text(field: &str, value: &str) -> ApiResult<()> {
    if value.trim().is_empty() || value.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(
            field,
            format!("{field} must be 1 to {MAX_TEXT} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            format!("{field} must not hold control characters"),
        ));
    }
    Ok(())
}

/// An optional positive limit no larger than `max`.
fn check_positive(field: &str, value: Option<f64>, max: f64) -> ApiResult<()> {
    match value {
        Some(v) if !(v.is_finite() && v > 0.0 && v <= max) => Err(ApiError::invalid(
            field,
            format!("{field} must be above 0 and at most {max}"),
        )),
        _ => Ok(()),
    }
}

async fn check_company_exists(state: &ApiState, field: &str, id: &str) -> ApiResult<()> {
    check_id(field, id)?;
    if state.store.company(id).await?.is_none() {
        return Err(ApiError::invalid(field, format!("unknown company {id:?}")));
    }
    Ok(())
}

/// 400 naming `field` unless every id in `ids` is distinct and `exists`.
async fn check_refs<F, Fut>(field: &str, ids: &[String], mut exists: F) -> ApiResult<()>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = ApiResult<bool>>,
{
    let mut seen = HashSet::new();
    for (i, id) in ids.iter().enumerate() {
        let at = format!("{field}[{i}]");
        check_id(&at, id)?;
        if !seen.insert(id.as_str()) {
            return Err(ApiError::invalid(at, format!("{id:?} is listed twice")));
        }
        if !exists(id.clone()).await? {
            return Err(ApiError::invalid(at, format!("unknown id {id:?}")));
        }
    }
    Ok(())
}

// --- GeoJSON -------------------------------------------------------------------------------

/// A GeoJSON geometry object (RFC 7946) in the OpenAPI document.
pub struct GeoJsonGeometry;

impl utoipa::PartialSchema for GeoJsonGeometry {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some(
                "GeoJSON geometry object (RFC 7946), WGS-84 [longitude, latitude] positions",
            ))
            .property("type", ObjectBuilder::new().schema_type(Type::String))
            .property("coordinates", ObjectBuilder::new())
            .required("type")
            .into()
    }
}

impl ToSchema for GeoJsonGeometry {}

/// GeoJSON of an area.
pub fn area_to_geojson(area: &MultiPolygon<f64>) -> geojson::Geometry {
    geojson::Geometry::new(GeometryValue::from(area))
}

/// GeoJSON of route lines.
fn lines_to_geojson(lines: &MultiLineString<f64>) -> geojson::Geometry {
    geojson::Geometry::new(GeometryValue::from(lines))
}

/// One checked `[lon, lat]` position.
fn coord(field: &str, at: &str, position: &geojson::Position) -> ApiResult<Coord<f64>> {
    let p = position.as_slice();
    let (Some(&lon), Some(&lat)) = (p.first(), p.get(1)) else {
        return Err(ApiError::invalid(
            field,
            format!("{at}: a position needs longitude and latitude"),
        ));
    };
    if p.len() > 3 {
        return Err(ApiError::invalid(
            field,
            format!("{at}: a position has 2 or 3 numbers"),
        ));
    }
    if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
        return Err(ApiError::invalid(
            field,
            format!("{at}: longitude {lon} is outside -180..180"),
        ));
    }
    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
        return Err(ApiError::invalid(
            field,
            format!("{at}: latitude {lat} is outside -90..90"),
        ));
    }
    Ok(Coord { x: lon, y: lat })
}

fn ring(field: &str, at: &str, raw: &[geojson::Position]) -> ApiResult<LineString<f64>> {
    let coords = raw
        .iter()
        .enumerate()
        .map(|(i, p)| coord(field, &format!("{at}[{i}]"), p))
        .collect::<ApiResult<Vec<_>>>()?;
    if coords.len() < 4 {
        return Err(ApiError::invalid(
            field,
            format!(
                "{at}: a ring needs at least 4 positions, found {}",
                coords.len()
            ),
        ));
    }
    if coords.first() != coords.last() {
        return Err(ApiError::invalid(
            field,
            format!("{at}: a ring must end where it starts"),
        ));
    }
    Ok(LineString(coords))
}

fn count_positions<T>(nested: &[Vec<T>]) -> usize {
    nested.iter().map(Vec::len).sum()
}

/// A checked area from GeoJSON: a Polygon or MultiPolygon with closed rings of at least 4
/// in-range positions, valid (no self-intersection, holes inside, parts not overlapping).
/// Errors name `field`.
pub fn area_from_geojson(
    field: &str,
    geometry: &geojson::Geometry,
) -> ApiResult<MultiPolygon<f64>> {
    let polygons: Vec<&Vec<Vec<geojson::Position>>> = match &geometry.value {
        GeometryValue::Polygon { coordinates } => vec![coordinates],
        GeometryValue::MultiPolygon { coordinates } => coordinates.iter().collect(),
        other => {
            return Err(ApiError::invalid(
                field,
                format!(
                    "must be a Polygon or MultiPolygon, not a {}",
                    other.type_name()
                ),
            ));
        }
    };
    if polygons.is_empty() {
        return Err(ApiError::invalid(field, "the area has no polygon"));
    }
    if polygons.iter().map(|p| count_positions(p)).sum::<usize>() > MAX_GEOMETRY_POSITIONS {
        return Err(ApiError::invalid(
            field,
            format!("at most {MAX_GEOMETRY_POSITIONS} positions"),
        ));
    }
    let mut out = Vec::with_capacity(polygons.len());
    for (i, rings) in polygons.into_iter().enumerate() {
        let Some((shell, holes)) = rings.split_first() else {
            return Err(ApiError::invalid(
                field,
                format!("polygon {i} needs an exterior ring"),
            ));
        };
        let shell = ring(field, &format!("polygon {i} exterior ring"), shell)?;
        let holes = holes
            .iter()
            .enumerate()
            .map(|(j, r)| ring(field, &format!("polygon {i} interior ring {j}"), r))
            .collect::<ApiResult<Vec<_>>>()?;
        out.push(Polygon::new(shell, holes));
    }
    let area = MultiPolygon(out);
    if let Some((kind, message)) = crate::import::check_polygons(&area).into_iter().next() {
        return Err(ApiError::invalid(
            field,
            format!("{}: {message}", kind.as_str()),
        ));
    }
    Ok(area)
}

/// Checked route lines from GeoJSON: a LineString or MultiLineString of in-range positions,
/// each line with at least two distinct positions.
fn lines_from_geojson(
    field: &str,
    geometry: &geojson::Geometry,
) -> ApiResult<MultiLineString<f64>> {
    let lines: Vec<&Vec<geojson::Position>> = match &geometry.value {
        GeometryValue::LineString { coordinates } => vec![coordinates],
        GeometryValue::MultiLineString { coordinates } => coordinates.iter().collect(),
        other => {
            return Err(ApiError::invalid(
                field,
                format!(
                    "must be a LineString or MultiLineString, not a {}",
                    other.type_name()
                ),
            ));
        }
    };
    if lines.iter().map(|l| l.len()).sum::<usize>() > MAX_GEOMETRY_POSITIONS {
        return Err(ApiError::invalid(
            field,
            format!("at most {MAX_GEOMETRY_POSITIONS} positions"),
        ));
    }
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        let coords = line
            .iter()
            .enumerate()
            .map(|(j, p)| coord(field, &format!("line {i} position {j}"), p))
            .collect::<ApiResult<Vec<_>>>()?;
        out.push(LineString(coords));
    }
    let lines = MultiLineString(out);
    if let Some((kind, message)) = crate::import::check_lines(&lines).into_iter().next() {
        return Err(ApiError::invalid(
            field,
            format!("{}: {message}", kind.as_str()),
        ));
    }
    Ok(lines)
}

// --- time windows --------------------------------------------------------------------------

/// A daily window, local time (`"22:00"` to `"06:00"` crosses midnight).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DailyWindowDto {
    /// First minute inside, `"HH:MM"`.
    pub start: String,
    /// First minute after, `"HH:MM"` (`"24:00"` = end of day).
    pub end: String,
}

/// A weekly window, local time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyWindowDto {
    /// Days: `"mon-sun"`, `"mon-fri"`, `"sat,sun"` (default every day).
    #[serde(default = "every_day")]
    pub days: String,
    /// First minute inside, `"HH:MM"`.
    pub start: String,
    /// First minute after, `"HH:MM"`.
    pub end: String,
}

fn every_day() -> String {
    "mon-sun".to_string()
}

fn time_of_day(field: &str, text: &str) -> ApiResult<NaiveTime> {
    if text == "24:00" {
        return Ok(NaiveTime::MIN);
    }
    NaiveTime::parse_from_str(text, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M:%S"))
        .map_err(|_| ApiError::invalid(field, format!("{text:?} is not a time like \"22:00\"")))
}

fn hhmm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

fn daily_window(field: &str, w: &DailyWindowDto) -> ApiResult<DailyWindow> {
    Ok(DailyWindow {
        start: time_of_day(&format!("{field}.start"), &w.start)?,
        end: time_of_day(&format!("{field}.end"), &w.end)?,
    })
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn weekdays_text(days: Weekdays) -> String {
    if days == Weekdays::ALL {
        return every_day();
    }
    let all = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    all.iter()
        .zip(DAY_NAMES)
        .filter(|(d, _)| days.contains(**d))
        .map(|(_, n)| n)
        .collect::<Vec<_>>()
        .join(",")
}

/// Minutes of the week a weekly window covers (a window past midnight runs into the next day).
fn week_minutes(w: &WeeklyWindow) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for day in 0..7u32 {
        if w.days.0 & (1 << day) == 0 {
            continue;
        }
        let s = w.window.start.num_seconds_from_midnight() / 60;
        let e = w.window.end.num_seconds_from_midnight() / 60;
        let base = day * 1440;
        let (a, b) = if s < e { (s, e) } else { (s, e + 1440) };
        let (a, b) = (base + a, base + b);
        // Wrap Sunday night into Monday morning.
        if b > 7 * 1440 {
            out.push((a, 7 * 1440));
            out.push((0, b - 7 * 1440));
        } else {
            out.push((a, b));
        }
    }
    out
}

fn weekly_windows(field: &str, raw: &[WeeklyWindowDto]) -> ApiResult<Vec<WeeklyWindow>> {
    let mut windows: Vec<WeeklyWindow> = Vec::with_capacity(raw.len());
    for (i, w) in raw.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let days = Weekdays::parse(&w.days).ok_or_else(|| {
            ApiError::invalid(
                format!("{at}.days"),
                format!("{:?} is not like \"mon-sun\" or \"sat,sun\"", w.days),
            )
        })?;
        let window = daily_window(
            &at,
            &DailyWindowDto {
                start: w.start.clone(),
                end: w.end.clone(),
            },
        )?;
        let new = WeeklyWindow { days, window };
        for (j, old) in windows.iter().enumerate() {
            let overlap = week_minutes(&new)
                .iter()
                .any(|&(a0, a1)| week_minutes(old).iter().any(|&(b0, b1)| a0 < b1 && b0 < a1));
            if overlap {
                return Err(ApiError::invalid(at, format!("overlaps {field}[{j}]")));
            }
        }
        windows.push(new);
    }
    Ok(windows)
}

// --- companies -----------------------------------------------------------------------------

/// A transport company.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyDto {
    /// Registry id.
    #[serde(default)]
    pub id: String,
    /// Registered name.
    pub name: String,
    /// Unified social credit code (18 characters).
    pub uscc: String,
}

impl From<Company> for CompanyDto {
    fn from(c: Company) -> Self {
        CompanyDto {
            id: c.id,
            name: c.name,
            uscc: c.uscc,
        }
    }
}

impl Resource for CompanyDto {
    const ENTITY: &'static str = "company";
    const READERS: &'static [Role] = EVERYONE;
    const COMPANY_DATA: bool = true;

    fn id(&self) -> &str {
        &self.id
    }
    fn set_id(&mut self, id: String) {
        self.id = id;
    }
    async fn list(state: &ApiState, q: &ListQuery) -> ApiResult<Page<Self>> {
        let page = state.store.list_companies(q).await?;
        Ok(map_page(page, CompanyDto::from))
    }
    async fn get(state: &ApiState, id: &str) -> ApiResult<Option<Self>> {
        Ok(state.store.company(id).await?.map(CompanyDto::from))
    }
    async fn owner(&self, _: &ApiState) -> ApiResult<Option<String>> {
        Ok(Some(self.id.clone()))
    }
    async fn store(self, state: &ApiState, _: Option<Self>) -> ApiResult<()> {
        check_text("name", &self.name)?;
        let uscc = self.uscc.trim();
        if uscc.len() != 18 || !uscc.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ApiError::invalid(
                "uscc",
                "uscc must be 18 letters or digits",
            ));
        }
        state
            .store
            .upsert_company(&Company {
                id: self.id,
                name: self.name.trim().to_string(),
                uscc: uscc.to_ascii_uppercase(),
            })
            .await?;
        Ok(())
    }
    async fn delete(state: &ApiState, id: &str) -> ApiResult<bool> {
        Ok(state.store.delete_company(id).await?)
    }
}

fn map_page<T, U>(page: Page<T>, f: impl FnMut(T) -> U) -> Page<U> {
    Page {
        items: page.items.into_iter().map(f).collect(),
        next_cursor: page.next_cursor,
    }
}

// --- vehicles ------------------------------------------------------------------------------

/// Sensors fitted to a truck.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SensorsDto {
    /// Load state sensor.
    pub load: bool,
    /// Tipper lift sensor.
    pub lift: bool,
    /// Body lid sensor.
    pub lid: bool,
    /// Weight sensor.
    pub weight: bool,
}

/// A truck as the registry holds it (writes; the fleet view adds state and position).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VehicleDto {
    /// Registry id.
    #[serde(default)]
    pub id: String,
    /// Plate number, e.g. `桂B12345`.
    pub plate: String,
    /// JT/T 808 plate colour (1 blue, 2 yellow, 3 black, 4 white, 9 other; 0 unregistered).
    pub plate_color: u8,
    /// Owning company.
    pub company_id: String,
    /// Rated load in kg.
    #[serde(default)]
    pub rated_load_kg: Option<f64>,
    /// Sensors fitted.
    #[serde(default)]
    pub sensors: SensorsDto,
}

impl From<Vehicle> for VehicleDto {
    fn from(v: Vehicle) -> Self {
        VehicleDto {
            id: v.id,
            plate: v.plate,
            plate_color: v.plate_color,
            company_id: v.company_id,
            rated_load_kg: v.rated_load_kg,
            sensors: SensorsDto {
                load: v.sensors.load,
                lift: v.sensors.lift,
                lid: v.sensors.lid,
                weight: v.sensors.weight,
            },
        }
    }
}

impl Resource for VehicleDto {
    const ENTITY: &'static str = "vehicle";
    const READERS: &'static [Role] = EVERYONE;
    const COMPANY_DATA: bool = true;

    fn id(&self) -> &str {
        &self.id
    }
    fn set_id(&mut self, id: String) {
        self.id = id;
    }
    async fn list(state: &ApiState, q: &ListQuery) -> ApiResult<Page<Self>> {
        Ok(map_page(
            state.store.list_vehicles(q).await?,
            VehicleDto::from,
        ))
    }
    async fn get(state: &ApiState, id: &str) -> ApiResult<Option<Self>> {
        Ok(state.store.vehicle(id).await?.map(VehicleDto::from))
    }
    async fn owner(&self, _: &ApiState) -> ApiResult<Option<String>> {
        Ok(Some(self.company_id.clone()))
    }
    async fn store(self, state: &ApiState, _: Option<Self>) -> ApiResult<()> {
        check_text("plate", &self.plate)?;
        if !matches!(self.plate_color, 0..=5 | 9) {
            return Err(ApiError::invalid(
                "plate_color",
                "plate_color must be a JT/T 808 colour code (0-5 or 9)",
            ));
        }
        check_company_exists(state, "company_id", &self.company_id).await?;
        check_positive("rated_load_kg", self.rated_load_kg, 200_000.0)?;
        let s = self.sensors;
        state
            .store
            .upsert_vehicle(&Vehicle {
                id: self.id,
                plate: self.plate.trim().to_string(),
                plate_color: self.plate_color,
                company_id: self.company_id,
                rated_load_kg: self.rated_load_kg,
                sensors: SensorCapabilities {
                    load: s.load,
                    lift: s.lift,
                    lid: s.lid,
                    weight: s.weight,
                },
            })
            .await?;
        Ok(())
    }
    async fn delete(state: &ApiState, id: &str) -> ApiResult<bool> {
        Ok(state.store.delete_vehicle(id).await?)
    }
}

// --- terminals -----------------------------------------------------------------------------

/// An on-board terminal, keyed by its phone number (leading zeros ignored).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminalDto {
    /// Phone number, digits (the id; stored without leading zeros).
    #[serde(default)]
    pub phone: String,
    /// Vehicle it is bound to.
    #[serde(default)]
    pub vehicle_id: Option<String>,
    /// Model name (selects the sensor profile).
    pub model: String,
    /// Protocol edition: `2011`, `2013` or `2019`.
    pub protocol: String,
    /// Whether the terminal has registered (holds an auth code); read-only, the code itself
    /// is never shown.
    #[serde(default)]
    pub registered: bool,
}

impl From<Terminal> for TerminalDto {
    fn from(t: Terminal) -> Self {
        TerminalDto {
            phone: t.phone,
            vehicle_id: t.vehicle_id,
            model: t.model,
            protocol: t.protocol,
            registered: t.auth_code.is_some(),
        }
    }
}

impl Resource for TerminalDto {
    const ENTITY: &'static str = "terminal";
    const ID_FIELD: &'static str = "phone";
    const READERS: &'static [Role] = EVERYONE;
    const COMPANY_DATA: bool = true;

    fn id(&self) -> &str {
        &self.phone
    }
    fn set_id(&mut self, id: String) {
        self.phone = id;
    }
    async fn list(state: &ApiState, q: &ListQuery) -> ApiResult<Page<Self>> {
        Ok(map_page(
            state.store.list_terminals(q).await?,
            TerminalDto::from,
        ))
    }
    async fn get(state: &ApiState, id: &str) -> ApiResult<Option<Self>> {
        Ok(state.store.find_terminal(id).await?.map(TerminalDto::from))
    }
    async fn owner(&self, state: &ApiState) -> ApiResult<Option<String>> {
        let Some(vehicle) = &self.vehicle_id else {
            return Ok(None);
        };
        Ok(state.store.vehicle(vehicle).await?.map(|v| v.company_id))
    }
    async fn store(self, state: &ApiState, _: Option<Self>) -> ApiResult<()> {
        if self.phone.is_empty()
            || self.phone.len() > 20
            || !self.phone.chars().all(|c| c.is_ascii_digit())
        {
            return Err(ApiError::invalid("phone", "phone must be 1 to 20 digits"));
        }
        if !matches!(self.protocol.as_str(), "2011" | "2013" | "2019") {
            return Err(ApiError::invalid(
                "protocol",
                "protocol must be 2011, 2013 or 2019",
            ));
        }
        check_text("model", &self.model)?;
        if let Some(vehicle) = &self.vehicle_id {
            check_id("vehicle_id", vehicle)?;
            if state.store.vehicle(vehicle).await?.is_none() {
                return Err(ApiError::invalid(
                    "vehicle_id",
                    format!("unknown vehicle {vehicle:?}"),
                ));
            }
        }
        state
            .store
            .upsert_terminal(&Terminal {
                phone: phone_key(&self.phone).to_string(),
                vehicle_id: self.vehicle_id,
                model: self.model,
                protocol: self.protocol,
                // None keeps an auth code already issued.
                auth_code: None,
            })
            .await?;
        Ok(())
    }
    async fn delete(state: &ApiState, id: &str) -> ApiResult<bool> {
        Ok(state.store.delete_terminal(id).await?)
    }
}

// --- drivers -------------------------------------------------------------------------------

/// A driver.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DriverDto {
    /// Registry id.
    #[serde(default)]
    pub id: String,
    /// Name.
    pub name: String,
    /// Driving licence number.
    pub license_no: String,
    /// Employing company.
    pub company_id: String,
}

impl From<Driver> for DriverDto {
    fn from(d: Driver) -> Self {
        DriverDto {
            id: d.id,
            name: d.name,
            license_no: d.license_no,
            company_id: d.company_id,
        }
    }
}

impl Resource for DriverDto {
    const ENTITY: &'static str = "driver";
    const READERS: &'static [Role] = EVERYONE;
    const COMPANY_DATA: bool = true;
    const ENGINE_USES: bool = false;

    fn id(&self) -> &str {
        &self.id
    }
    fn set_id(&mut self, id: String) {
        self.id = id;
    }
    async fn list(state: &ApiState, q: &ListQuery) -> ApiResult<Page<Self>> {
        Ok(map_page(
            state.store.list_drivers(q).await?,
            DriverDto::from,
        ))
    }
    async fn get(state: &ApiState, id: &str) -> ApiResult<Option<Self>> {
        Ok(state.store.driver(id).await?.map(DriverDto::from))
    }
    async fn owner(&self, _: &ApiState) -> ApiResult<Option<String>> {
        Ok(Some(self.company_id.clone()))
    }
    async fn store(self, state: &ApiState, _: Option<Self>) -> ApiResult<()> {
        check_text("name", &self.name)?;
        check_text("license_no", &self.license_no)?;
        check_company_exists(state, "company_id", &self.company_id).await?;
        state
            .store
            .upsert_driver(&Driver {
                id: self.id,
                name: self.name,
                license_no: self.license_no,
                company_id: self.company_id,
            })
            .await?;
        Ok(())
    }
    async fn delete(state: &ApiState, id: &str) -> ApiResult<bool> {
        Ok(state.store.delete_driver(id).await?)
    }
}

// --- sites and disposal grounds ------------------------------------------------------------

/// A construction site or a disposal ground: a named area.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AreaFenceDto {
    /// Registry id.
    #[serde(default)]
    pub id: String,
    /// Name.
    pub name: String,
    /// GeoJSON Polygon or MultiPolygon, WGS-84.
    #[schema(value_type = GeoJsonGeometry)]
    pub geometry: geojson::Geometry,
    /// Geometry version (read-only: every geometry change makes a new one).
    #[serde(default)]
    pub version: i64,
}

/// A construction site (工地).
pub type SiteDto = AreaFenceDto;

/// A disposal ground (消纳场); the same shape as a site.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct DisposalGroundDto(pub AreaFenceDto);

impl Resource for SiteDto {
    const ENTITY: &'static str = "site";
    const READERS: &'static [Role] = EVERYONE;

    fn id(&self) -> &str {
        &self.id
    }
    fn set_id(&mut self, id: String) {
        self.id = id;
    }
    async fn list(state: &ApiState, q: &ListQuery) -> ApiResult<Page<Self>> {
        Ok(map_page(state.store.list_sites(q).await?, |s| {
            AreaFenceDto {
                geometry: area_to_geojson(&s.geometry),
                id: s.id,
                name: s.name,
                version: s.version,
            }
        }))
    }
    async fn get(state: &ApiState, id: &str) -> ApiResult<Option<Self>> {
        Ok(state.store.site(id).await?.map(|s| AreaFenceDto {
            geometry: area_to_geojson(&s.geometry),
            id: s.id,
            name: s.name,
            version: s.version,
        }))
    }
    async fn store(self, state: &ApiState, _: Option<Self>) -> ApiResult<()> {
        check_text("name", &self.name)?;
        let geometry = area_from_geojson("geometry", &self.geometry)?;
        state
            .store
            .upsert_site(&Site {
                id: self.id,
                name: self.name,
                geometry,
                version: 0,
            })
            .await?;
        Ok(())
    }
    async fn delete(state: &ApiState, id: &str) -> ApiResult<bool> {
        Ok(state.store.delete_site(id).await?)
    }
}

impl Resource for DisposalGroundDto {
    const ENTITY: &'static str = "disposal ground";
    const READERS: &'static [Role] = EVERYONE;

    fn id(&self) -> &str {
        &self.0.id
    }
    fn set_id(&mut self, id: String) {
        self.0.id = id;
    }
    async fn list(state: &ApiState, q: &ListQuery) -> ApiResult<Page<Self>> {
        Ok(map_page(state.store.list_disposal_grounds(q).await?, |g| {
            DisposalGroundDto(AreaFenceDto {
                geometry: area_to_geojson(&g.geometry),
                id: g.id,
                name: g.name,
                version: g.version,
            })
        }))
    }
    async fn get(state: &ApiState, id: &str) -> ApiResult<Option<Self>> {
        Ok(state.store.disposal_ground(id).await?.map(|g| {
            DisposalGroundDto(AreaFenceDto {
                geometry: area_to_geojson(&g.geometry),
                id: g.id,
                name: g.name,
                version: g.version,
            })
        }))
    }
    async fn store(self, state: &ApiState, _: Option<Self>) -> ApiResult<()> {
        let g = self.0;
        check_text("name", &g.name)?;
        let geometry = area_from_geojson("geometry", &g.geometry)?;
        state
            .store
            .upsert_disposal_ground(&DisposalGround {
                id: g.id,
                name: g.name,
                geometry,
                version: 0,
            })
            .await?;
        Ok(())
    }
    async fn delete(state: &ApiState, id: &str) -> ApiResult<bool> {
        Ok(state.store.delete_disposal_ground(id).await?)
    }
}

// --- routes --------------------------------------------------------------------------------

/// An approved route: centre lines with a corridor either side.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteDto {
    /// Registry id.
    #[serde(default)]
    pub id: String,
    /// Name.
    pub name: String,
    /// GeoJSON LineString or MultiLineString, WGS-84.
    #[schema(value_type = GeoJsonGeometry)]
    pub geometry: geojson::Geometry,
    /// Metres either side of the line that still count as on the route (0 < x <= 5000;
    /// default 100).
    #[serde(default = "default_corridor")]
    pub corridor_m: f64,
    /// Speed limit on the route, km/h (0 < x <= 200).
    #[serde(default)]
    pub speed_limit_kmh: Option<f64>,
    /// Geometry version (read-only).
    #[serde(default)]
    pub version: i64,
}

/// Corridor half-width when a route does not say (metres), as in the bundle format.
const DEFAULT_CORRIDOR_M: f64 = 100.0;

fn default_corridor() -> f64 {
    DEFAULT_CORRIDOR_M
}

impl Resource for RouteDto {
    const ENTITY: &'static str = "route";
    const READERS: &'static [Role] = EVERYONE;

    fn id(&self) -> &str {
        &self.id
    }
    fn set_id(&mut self, id: String) {
        self.id = id;
    }
    async fn list(state: &ApiState, q: &ListQuery) -> ApiResult<Page<Self>> {
        Ok(map_page(state.store.list_routes(q).await?, RouteDto::from))
    }
    async fn get(state: &ApiState, id: &str) -> ApiResult<Option<Self>> {
        Ok(state.store.route(id).await?.map(RouteDto::from))
    }
    async fn store(self, state: &ApiState, _: Option<Self>) -> ApiResult<()> {
        check_text("name", &self.name)?;
        let geometry = lines_from_geojson("geometry", &self.geometry)?;
        check_positive("corridor_m", Some(self.corridor_m), MAX_CORRIDOR_M)?;
        check_positive("speed_limit_kmh", self.speed_limit_kmh, MAX_SPEED_LIMIT_KMH)?;
        state
            .store
            .upsert_route(&Route {
                id: self.id,
                name: self.name,
                geometry,
                corridor_m: self.corridor_m,
                speed_limit_kmh: self.speed_limit_kmh,
                version: 0,
            })
            .await?;
        Ok(())
    }
    async fn delete(state: &ApiState, id: &str) -> ApiResult<bool> {
        Ok(state.store.delete_route(id).await?)
    }
}

impl From<Route> for RouteDto {
    fn from(r: Route) -> Self {
        RouteDto {
            geometry: lines_to_geojson(&r.geometry),
            id: r.id,
            name: r.name,
            corridor_m: r.corridor_m,
            speed_limit_kmh: r.speed_limit_kmh,
            version: r.version,
        }
    }
}

// --- zones ---------------------------------------------------------------------------------

/// A control zone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneDto {
    /// Registry id.
    #[serde(default)]
    pub id: String,
    /// Name.
    pub name: String,
    /// `restricted`, `time_restricted`, `speed` or `district`.
    pub kind: String,
    /// GeoJSON Polygon or MultiPolygon, WGS-84.
    #[schema(value_type = GeoJsonGeometry)]
    pub geometry: geojson::Geometry,
    /// Windows in which trucks may be inside (restricted, time-restricted zones).
    #[serde(default)]
    pub allowed: Vec<WeeklyWindowDto>,
    /// Speed limit inside, km/h (required for `speed` zones).
    #[serde(default)]
    pub speed_limit_kmh: Option<f64>,
    /// Geometry version (read-only).
    #[serde(default)]
    pub version: i64,
}

impl From<Zone> for ZoneDto {
    fn from(z: Zone) -> Self {
        ZoneDto {
            geometry: area_to_geojson(&z.geometry),
            id: z.id,
            name: z.name,
            kind: z.kind.as_str().to_string(),
            allowed: z
                .allowed
                .iter()
                .map(|w| WeeklyWindowDto {
                    days: weekdays_text(w.days),
                    start: hhmm(w.window.start),
                    end: hhmm(w.window.end),
                })
                .collect(),
            speed_limit_kmh: z.speed_limit_kmh,
            version: z.version,
        }
    }
}

impl Resource for ZoneDto {
    const ENTITY: &'static str = "zone";
    const READERS: &'static [Role] = EVERYONE;

    fn id(&self) -> &str {
        &self.id
    }
    fn set_id(&mut self, id: String) {
        self.id = id;
    }
    async fn list(state: &ApiState, q: &ListQuery) -> ApiResult<Page<Self>> {
        Ok(map_page(state.store.list_zones(q).await?, ZoneDto::from))
    }
    async fn get(state: &ApiState, id: &str) -> ApiResult<Option<Self>> {
        Ok(state.store.zone(id).await?.map(ZoneDto::from))
    }
    async fn store(self, state: &ApiState, _: Option<Self>) -> ApiResult<()> {
        check_text("name", &self.name)?;
        let kind = ZoneKind::from_name(&self.kind).ok_or_else(|| {
            ApiError::invalid(
                "kind",
                "kind must be restricted, time_restricted, speed or district",
            )
        })?;
        let geometry = area_from_geojson("geometry", &self.geometry)?;
        let allowed = weekly_windows("allowed", &self.allowed)?;
        check_positive("speed_limit_kmh", self.speed_limit_kmh, MAX_SPEED_LIMIT_KMH)?;
        if kind == ZoneKind::Speed && self.speed_limit_kmh.is_none() {
            return Err(ApiError::invalid(
                "speed_limit_kmh",
                "a speed zone needs speed_limit_kmh",
            ));
        }
        if kind == ZoneKind::TimeRestricted && allowed.is_empty() {
            return Err(ApiError::invalid(
                "allowed",
                "a time-restricted zone needs at least one allowed window",
            ));
        }
        state
            .store
            .upsert_zone(&Zone {
                id: self.id,
                name: self.name,
                kind,
                geometry,
                allowed,
                speed_limit_kmh: self.speed_limit_kmh,
                version: 0,
            })
            .await?;
        Ok(())
    }
    async fn delete(state: &ApiState, id: &str) -> ApiResult<bool> {
        Ok(state.store.delete_zone(id).await?)
    }
}

// --- permits -------------------------------------------------------------------------------

/// A transport permit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermitDto {
    /// Registry id.
    #[serde(default)]
    pub id: String,
    /// Permit number as printed.
    pub number: String,
    /// Company holding the permit.
    pub company_id: String,
    /// Vehicles covered (all of the permit's company).
    pub vehicle_ids: Vec<String>,
    /// Source construction site.
    pub site_id: String,
    /// Disposal grounds the waste may go to.
    pub disposal_ground_ids: Vec<String>,
    /// Approved routes.
    #[serde(default)]
    pub route_ids: Vec<String>,
    /// First valid day (local date, inclusive).
    pub valid_from: NaiveDate,
    /// Last valid day (local date, inclusive).
    pub valid_to: NaiveDate,
    /// Daily windows in which transport is allowed; empty = all day.
    #[serde(default)]
    pub daily_windows: Vec<DailyWindowDto>,
}

impl From<Permit> for PermitDto {
    fn from(p: Permit) -> Self {
        PermitDto {
            id: p.id,
            number: p.number,
            company_id: p.company_id,
            vehicle_ids: p.vehicle_ids,
            site_id: p.site_id,
            disposal_ground_ids: p.disposal_ground_ids,
            route_ids: p.route_ids,
            valid_from: p.valid_from,
            valid_to: p.valid_to,
            daily_windows: p
                .daily_windows
                .iter()
                .map(|w| DailyWindowDto {
                    start: hhmm(w.start),
                    end: hhmm(w.end),
                })
                .collect(),
        }
    }
}

impl Resource for PermitDto {
    const ENTITY: &'static str = "permit";
    const READERS: &'static [Role] = EVERYONE;
    const COMPANY_DATA: bool = true;

    fn id(&self) -> &str {
        &self.id
    }
    fn set_id(&mut self, id: String) {
        self.id = id;
    }
    async fn list(state: &ApiState, q: &ListQuery) -> ApiResult<Page<Self>> {
        Ok(map_page(
            state.store.list_permits(q).await?,
            PermitDto::from,
        ))
    }
    async fn get(state: &ApiState, id: &str) -> ApiResult<Option<Self>> {
        Ok(state.store.permit(id).await?.map(PermitDto::from))
    }
    async fn owner(&self, _: &ApiState) -> ApiResult<Option<String>> {
        Ok(Some(self.company_id.clone()))
    }
    async fn store(self, state: &ApiState, _: Option<Self>) -> ApiResult<()> {
        check_text("number", &self.number)?;
        check_company_exists(state, "company_id", &self.company_id).await?;
        if self.vehicle_ids.is_empty() {
            return Err(ApiError::invalid(
                "vehicle_ids",
                "a permit covers at least one vehicle",
            ));
        }
        let store = &state.store;
        let company = self.company_id.as_str();
        check_refs("vehicle_ids", &self.vehicle_ids, |id| async move {
            Ok(store
                .vehicle(&id)
                .await?
                .is_some_and(|v| v.company_id == company))
        })
        .await?;
        check_id("site_id", &self.site_id)?;
        if store.site(&self.site_id).await?.is_none() {
            return Err(ApiError::invalid(
                "site_id",
                format!("unknown site {:?}", self.site_id),
            ));
        }
        if self.disposal_ground_ids.is_empty() {
            return Err(ApiError::invalid(
                "disposal_ground_ids",
                "a permit names at least one disposal ground",
            ));
        }
        check_refs(
            "disposal_ground_ids",
            &self.disposal_ground_ids,
            |id| async move { Ok(store.disposal_ground(&id).await?.is_some()) },
        )
        .await?;
        check_refs("route_ids", &self.route_ids, |id| async move {
            Ok(store.route(&id).await?.is_some())
        })
        .await?;
        if self.valid_to < self.valid_from {
            return Err(ApiError::invalid(
                "valid_to",
                "valid_to is before valid_from",
            ));
        }
        let mut windows: Vec<DailyWindow> = Vec::with_capacity(self.daily_windows.len());
        for (i, w) in self.daily_windows.iter().enumerate() {
            let at = format!("daily_windows[{i}]");
            let window = daily_window(&at, w)?;
            if let Some(j) = windows.iter().position(|o| o.overlaps(&window)) {
                return Err(ApiError::invalid(
                    at,
                    format!("overlaps daily_windows[{j}]"),
                ));
            }
            windows.push(window);
        }
        store
            .upsert_permit(&Permit {
                id: self.id,
                number: self.number,
                company_id: self.company_id,
                vehicle_ids: self.vehicle_ids,
                site_id: self.site_id,
                disposal_ground_ids: self.disposal_ground_ids,
                route_ids: self.route_ids,
                valid_from: self.valid_from,
                valid_to: self.valid_to,
                daily_windows: windows,
            })
            .await?;
        Ok(())
    }
    async fn delete(state: &ApiState, id: &str) -> ApiResult<bool> {
        Ok(state.store.delete_permit(id).await?)
    }
}

// --- officers ------------------------------------------------------------------------------

/// An enforcement officer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficerDto {
    /// Registry id.
    #[serde(default)]
    pub id: String,
    /// Name.
    pub name: String,
    /// District zone the officer works in.
    #[serde(default)]
    pub district_zone_id: Option<String>,
}

impl Resource for OfficerDto {
    const ENTITY: &'static str = "officer";
    const ENGINE_USES: bool = false;

    fn id(&self) -> &str {
        &self.id
    }
    fn set_id(&mut self, id: String) {
        self.id = id;
    }
    async fn list(state: &ApiState, q: &ListQuery) -> ApiResult<Page<Self>> {
        Ok(map_page(state.store.list_officers(q).await?, |o| {
            OfficerDto {
                id: o.id,
                name: o.name,
                district_zone_id: o.district_zone_id,
            }
        }))
    }
    async fn get(state: &ApiState, id: &str) -> ApiResult<Option<Self>> {
        Ok(state.store.officer(id).await?.map(|o| OfficerDto {
            id: o.id,
            name: o.name,
            district_zone_id: o.district_zone_id,
        }))
    }
    async fn store(self, state: &ApiState, _: Option<Self>) -> ApiResult<()> {
        check_text("name", &self.name)?;
        if let Some(zone) = &self.district_zone_id {
            check_id("district_zone_id", zone)?;
            if state.store.zone(zone).await?.is_none() {
                return Err(ApiError::invalid(
                    "district_zone_id",
                    format!("unknown zone {zone:?}"),
                ));
            }
        }
        state
            .store
            .upsert_officer(&Officer {
                id: self.id,
                name: self.name,
                district_zone_id: self.district_zone_id,
            })
            .await?;
        Ok(())
    }
    async fn delete(state: &ApiState, id: &str) -> ApiResult<bool> {
        Ok(state.store.delete_officer(id).await?)
    }
}

// --- users ---------------------------------------------------------------------------------

/// A console user. `password` is write-only (stored as an argon2 hash, never returned).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDto {
    /// Registry id.
    #[serde(default)]
    pub id: String,
    /// Login name, unique.
    pub username: String,
    /// `admin`, `dispatcher`, `officer`, `company` or `auditor`.
    pub role: String,
    /// For `company` users: their company (required); not allowed for other roles.
    #[serde(default)]
    pub company_id: Option<String>,
    /// Password, 8 to 1024 characters: required on create; on replace, absent keeps the old.
    #[serde(default, skip_serializing)]
    #[schema(write_only)]
    pub password: Option<String>,
    /// When the user was created (read-only).
    #[serde(default)]
    #[schema(read_only)]
    pub created_at: Option<DateTime<Utc>>,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        UserDto {
            id: u.id,
            username: u.username,
            role: u.role,
            company_id: u.company_id,
            password: None,
            created_at: Some(u.created_at),
        }
    }
}

impl Resource for UserDto {
    const ENTITY: &'static str = "user";
    const READERS: &'static [Role] = &[Role::Admin];
    const ENGINE_USES: bool = false;

    fn id(&self) -> &str {
        &self.id
    }
    fn set_id(&mut self, id: String) {
        self.id = id;
    }
    async fn list(state: &ApiState, q: &ListQuery) -> ApiResult<Page<Self>> {
        Ok(map_page(state.store.list_users(q).await?, UserDto::from))
    }
    async fn get(state: &ApiState, id: &str) -> ApiResult<Option<Self>> {
        Ok(state.store.user(id).await?.map(UserDto::from))
    }
    async fn store(self, state: &ApiState, existing: Option<Self>) -> ApiResult<()> {
        check_text("username", &self.username)?;
        let role = Role::from_name(&self.role).ok_or_else(|| {
            ApiError::invalid(
                "role",
                "role must be admin, dispatcher, officer, company or auditor",
            )
        })?;
        match (role, &self.company_id) {
            (Role::Company, None) => {
                return Err(ApiError::invalid(
                    "company_id",
                    "a company user needs company_id",
                ));
            }
            (Role::Company, Some(id)) => check_company_exists(state, "company_id", id).await?,
            (_, Some(_)) => {
                return Err(ApiError::invalid(
                    "company_id",
                    "only company users belong to a company",
                ));
            }
            (_, None) => {}
        }
        let stored = match &existing {
            Some(_) => state.store.user(&self.id).await?,
            None => None,
        };
        let password_hash = match (&self.password, stored) {
            (Some(p), _) => {
                if p.chars().count() < 8 || p.len() > 1024 {
                    return Err(ApiError::invalid(
                        "password",
                        "password must be 8 to 1024 characters",
                    ));
                }
                let p = p.clone();
                tokio::task::spawn_blocking(move || hash_password(&p))
                    .await
                    .map_err(|e| ApiError::internal(&e))??
            }
            (None, Some(old)) => old.password_hash,
            (None, None) => {
                return Err(ApiError::invalid("password", "a new user needs a password"));
            }
        };
        state
            .store
            .upsert_user(&User {
                id: self.id,
                username: self.username,
                password_hash,
                role: role.as_str().to_string(),
                company_id: self.company_id,
                created_at: existing.and_then(|e| e.created_at).unwrap_or_else(Utc::now),
            })
            .await?;
        // Cached tokens carry the old role and company.
        state.auth.forget_tokens();
        Ok(())
    }
    async fn delete(state: &ApiState, id: &str) -> ApiResult<bool> {
        let deleted = state.store.delete_user(id).await?;
        state.auth.forget_tokens();
        Ok(deleted)
    }
}
