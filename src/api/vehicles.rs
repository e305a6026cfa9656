//! The fleet view: vehicles with their state and latest position, tracks as GeoJSON, which
//! vehicles visited an area, and commands to a truck's terminal.
//!
//! # Vehicle state
//! [`vehicle_state`] decides, in this order:
//! - `unknown`: no usable position ever;
//! - `violation`: an open violation episode (stored, or open on the live stream);
//! - `offline`: the latest fix is older than [`OFFLINE_AFTER`] (10 minutes; terminals report
//!   every 10-30 s while driving and at least every few minutes when parked);
//! - `loaded`: the body carries waste (load sensor half or full);
//! - `moving`: at least [`MOVING_KMH`] km/h (GNSS speed jitters around 1-2 km/h when parked);
//! - `stopped` otherwise.
//!
//! # Speed
//! The fleet list is read from the store in aggregated pages
//! ([`crate::store::Store::fleet_page`]: vehicles joined with company names, latest positions,
//! open violations and permits, one JSON value per 1,000 vehicles), never a query per vehicle,
//! and kept in memory for [`FLEET_COPY_TTL`] (one second) so that paging through 20,000 vehicles
//! reads the store once; registry writes through this API drop the copy. Every answer merges
//! the live hub's newer positions. `GET /vehicles/{id}` always reads the store.
//! `benches/api_vehicles.rs` measures both.
//!
//! # Commands
//! `POST /vehicles/{id}/commands` is admitted for `admin` and `dispatcher` only: a company runs
//! its own fleet platform and an officer works cases, neither steers terminals through the
//! bureau's channel. Every command is logged with who sent it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::common::{
    ApiJson, ApiQuery, ListResponse, check_cursor, check_id, check_limit, opt_time, time_range,
};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::registry::{GeoJsonGeometry, SensorsDto, area_from_geojson};
use crate::cases::model::Role;
use crate::ingest::session::{CommandOutcome, DownlinkCommand};
use crate::model::{LoadState, Position, Vehicle};
use crate::store::TrackQuery;
use crate::store::fleet::{FleetQuery, FleetVehicle, LatestFix};

/// A vehicle whose latest fix is older than this is `offline`.
pub const OFFLINE_AFTER: chrono::Duration = chrono::Duration::minutes(10);
/// At or above this speed (km/h) a vehicle is `moving`.
pub const MOVING_KMH: f64 = 3.0;
/// Most points one track answer holds; longer tracks are cut and say `"truncated": true`.
const MAX_TRACK_POINTS: u32 = 100_000;
/// Largest `?simplify=` tolerance, metres.
const MAX_SIMPLIFY_M: f64 = 10_000.0;
/// Longest text message to a terminal, characters.
const MAX_TEXT_CHARS: usize = 500;

/// Routes of this module.
pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_vehicles))
        .routes(routes!(get_vehicle))
        .routes(routes!(track))
        .routes(routes!(area_visits))
        .routes(routes!(send_command))
}

/// What a vehicle is doing, for the map and the lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VehicleState {
    /// Driving empty (or without a load sensor).
    Moving,
    /// Standing, empty.
    Stopped,
    /// Carrying waste.
    Loaded,
    /// With an open violation episode.
    Violation,
    /// No fix for [`OFFLINE_AFTER`].
    Offline,
    /// Never seen.
    Unknown,
}

impl VehicleState {
    /// The name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            VehicleState::Moving => "moving",
            VehicleState::Stopped => "stopped",
            VehicleState::Loaded => "loaded",
            VehicleState::Violation => "violation",
            VehicleState::Offline => "offline",
            VehicleState::Unknown => "unknown",
        }
    }

    fn from_name(name: &str) -> Option<VehicleState> {
        Some(match name {
            "moving" => VehicleState::Moving,
            "stopped" => VehicleState::Stopped,
            "loaded" => VehicleState::Loaded,
            "violation" => VehicleState::Violation,
            "offline" => VehicleState::Offline,
            "unknown" => VehicleState::Unknown,
            _ => return None,
        })
    }
}

/// A vehicle's state from its latest position and whether it has an open violation (see the
/// module documentation for the rules).
pub fn vehicle_state(
    latest: Option<&LatestPosition>,
    open_violation: bool,
    now: DateTime<Utc>,
) -> VehicleState {
    let Some(p) = latest else {
        return VehicleState::Unknown;
    };
    if open_violation {
        VehicleState::Violation
    } else if now - p.time > OFFLINE_AFTER {
        VehicleState::Offline
    } else if LoadState::from_name(&p.load).is_loaded() {
        VehicleState::Loaded
    } else if p.speed_kmh >= MOVING_KMH {
        VehicleState::Moving
    } else {
        VehicleState::Stopped
    }
}

/// A vehicle's latest usable position.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LatestPosition {
    /// GNSS time.
    pub time: DateTime<Utc>,
    /// Latitude, WGS-84.
    pub lat: f64,
    /// Longitude, WGS-84.
    pub lon: f64,
    /// Speed, km/h.
    pub speed_kmh: f64,
    /// Heading, degrees from north.
    pub heading: u16,
    /// `unknown`, `empty`, `half` or `full`.
    pub load: String,
    /// Tipper raised; null without a lift sensor.
    pub lift_up: Option<bool>,
    /// Lid open; null without a lid sensor.
    pub lid_open: Option<bool>,
    /// Load weight, kg; null without a weight sensor.
    pub weight_kg: Option<f64>,
}

impl From<LatestFix> for LatestPosition {
    fn from(p: LatestFix) -> Self {
        LatestPosition {
            time: p.time,
            lat: p.lat,
            lon: p.lon,
            speed_kmh: p.speed_kmh,
            heading: p.heading,
            load: p.load,
            lift_up: p.lift_up,
            lid_open: p.lid_open,
            weight_kg: p.weight_kg,
        }
    }
}

impl From<&Position> for LatestPosition {
    fn from(p: &Position) -> Self {
        LatestPosition {
            time: p.time,
            lat: p.lat,
            lon: p.lon,
            speed_kmh: p.speed_kmh,
            heading: p.heading,
            load: p.load.as_str().to_string(),
            lift_up: p.lift_up,
            lid_open: p.lid_open,
            weight_kg: p.weight_kg,
        }
    }
}

/// A vehicle in the fleet view.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VehicleItem {
    /// Registry id.
    pub id: String,
    /// Plate number.
    pub plate: String,
    /// JT/T 808 plate colour code.
    pub plate_color: u8,
    /// Owning company.
    pub company_id: String,
    /// The company's name.
    pub company_name: Option<String>,
    /// The permit it runs under (valid today, else the last one), if any.
    pub permit_id: Option<String>,
    /// Rated load, kg.
    pub rated_load_kg: Option<f64>,
    /// Sensors fitted (as in the registry; `PUT /vehicles/{id}` takes the same object).
    pub sensors: SensorsDto,
    /// What it is doing.
    pub state: VehicleState,
    /// Latest usable position; null if never seen.
    pub latest: Option<LatestPosition>,
}

/// `GET /vehicles` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VehicleListParams {
    /// Only this company's vehicles (a company caller may only name its own).
    pub company_id: Option<String>,
    /// Only vehicles in this state: `moving`, `stopped`, `loaded`, `violation`, `offline`,
    /// `unknown`.
    pub state: Option<String>,
    /// `next` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1..=1000 (default 100).
    pub limit: Option<u32>,
}

/// One vehicle's fleet item, read from the store (not the copy).
async fn fleet_one(state: &ApiState, vehicle_id: &str) -> ApiResult<Option<VehicleItem>> {
    let query = FleetQuery {
        vehicle_id: Some(vehicle_id.to_string()),
        limit: 1,
        today: today(),
        ..FleetQuery::default()
    };
    let page = state.store.fleet_page(&query).await?;
    let now = Utc::now();
    Ok(page.items.first().map(|v| fleet_item(state, v, now)))
}

/// How long the in-memory copy of the whole fleet list serves `GET /vehicles` pages. The
/// latest-position table itself is flushed once a second by the track writer, and the live
/// hub's newer positions are merged into every answer, so one second adds no staleness that
/// positions do not already have; registry writes through this API drop the copy at once.
const FLEET_COPY_TTL: Duration = Duration::from_secs(1);

/// A copy older than [`FLEET_COPY_TTL`] but younger than this is still served while a fresh one
/// is read in the background; an older one is not served at all.
const FLEET_COPY_MAX_AGE: Duration = Duration::from_secs(30);

/// A fleet list read at an instant, with the registry generation it was read under.
type FleetSnapshot = (Instant, u64, Arc<Vec<FleetVehicle>>);

/// The whole fleet list kept in memory for [`FLEET_COPY_TTL`] (one per [`ApiState`]).
#[derive(Default)]
pub struct FleetCopy {
    /// The copy: when read, with which registry generation, and the vehicles sorted by id.
    data: parking_lot::Mutex<Option<FleetSnapshot>>,
    /// Bumped by every registry write; a refresh begun before a write is not kept.
    generation: AtomicU64,
    /// One refresh at a time.
    refresh: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for FleetCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetCopy").finish_non_exhaustive()
    }
}

/// Drops the in-memory fleet list after a registry write, so the next page reads the store.
pub(super) fn registry_written(state: &ApiState) {
    let copy = &state.fleet;
    copy.generation.fetch_add(1, Ordering::SeqCst);
    *copy.data.lock() = None;
}

/// The whole fleet list, sorted by id: the in-memory copy if fresh, else read anew.
pub(super) async fn fleet_list(state: &ApiState) -> ApiResult<Arc<Vec<FleetVehicle>>> {
    let copy = state.fleet.clone();
    // Fresh: serve it. Stale but of the current registry generation and not too old: serve it
    // and refresh in the background (positions are merged from the live hub anyway), so a
    // dispatcher's listing never waits for the whole-fleet read. Otherwise read now.
    let (list, stale) = {
        let data = copy.data.lock();
        match data.as_ref() {
            Some((at, generation, list))
                if *generation == copy.generation.load(Ordering::SeqCst)
                    && at.elapsed() < FLEET_COPY_MAX_AGE =>
            {
                (Some(list.clone()), at.elapsed() >= FLEET_COPY_TTL)
            }
            _ => (None, true),
        }
    };
    match list {
        Some(list) if !stale => Ok(list),
        Some(list) => {
            if let Ok(guard) = copy.refresh.clone().try_lock_owned() {
                let state = state.clone();
                tokio::spawn(async move {
                    let _refreshing = guard;
                    if let Err(error) = read_fleet(&state).await {
                        tracing::warn!(%error, "Fleet list refresh failed; serving the last one.");
                    }
                });
            }
            Ok(list)
        }
        None => {
            let _refreshing = copy.refresh.lock().await;
            let generation = copy.generation.load(Ordering::SeqCst);
            if let Some((at, g, list)) = copy.data.lock().as_ref()
                && *g == generation
                && at.elapsed() < FLEET_COPY_TTL
            {
                return Ok(list.clone());
            }
            read_fleet(state).await
        }
    }
}

/// Reads the whole fleet list from the store into the in-memory copy.
async fn read_fleet(state: &ApiState) -> ApiResult<Arc<Vec<FleetVehicle>>> {
    let copy = &state.fleet;
    let generation = copy.generation.load(Ordering::SeqCst);
    let started = Instant::now();
    let mut list = state.store.fleet_all(today()).await?;
    // Cursors compare ids as bytes, whatever the database's collation.
    list.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let list = Arc::new(list);
    // A registry write during the read makes this copy stale at once (generation differs).
    *copy.data.lock() = Some((started, generation, list.clone()));
    Ok(list)
}

fn fleet_item(state: &ApiState, v: &FleetVehicle, now: DateTime<Utc>) -> VehicleItem {
    let stored = v.latest.clone().map(LatestPosition::from);
    // The live hub holds positions not yet flushed to the latest-position table.
    let latest = match (stored, state.live.latest(&v.id)) {
        (Some(s), Some(l)) if l.time > s.time => Some(LatestPosition::from(l.as_ref())),
        (None, Some(l)) => Some(LatestPosition::from(l.as_ref())),
        (s, _) => s,
    };
    VehicleItem {
        state: vehicle_state(latest.as_ref(), v.open_violation, now),
        latest,
        company_name: v.company_name.clone(),
        permit_id: v.permit_id.clone(),
        id: v.id.clone(),
        plate: v.plate.clone(),
        plate_color: v.plate_color,
        company_id: v.company_id.clone(),
        rated_load_kg: v.rated_load_kg,
        sensors: SensorsDto {
            load: v.sensors.load,
            lift: v.sensors.lift,
            lid: v.sensors.lid,
            weight: v.sensors.weight,
        },
    }
}

fn today() -> chrono::NaiveDate {
    crate::cases::deadlines::local_date(Utc::now())
}

/// Vehicles with their state and latest position (company callers: their own only).
#[utoipa::path(get, path = "/vehicles", tag = "vehicles", security(("bearer" = [])),
    params(VehicleListParams),
    responses((status = 200, body = ListResponse<VehicleItem>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_vehicles(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<VehicleListParams>,
) -> ApiResult<Json<ListResponse<VehicleItem>>> {
    if let Some(c) = &params.company_id {
        check_id("company_id", c)?;
    }
    let company_id = caller.company_scope(params.company_id.as_deref())?;
    let wanted = params
        .state
        .as_deref()
        .map(|s| {
            VehicleState::from_name(s).ok_or_else(|| {
                ApiError::invalid(
                    "state",
                    "state must be moving, stopped, loaded, violation, offline or unknown",
                )
            })
        })
        .transpose()?;
    let limit = check_limit(params.limit)?;
    let size = match limit {
        0 => 100,
        n => n as usize,
    };
    let cursor = check_cursor(params.cursor)?;
    let list = fleet_list(&state).await?;
    let begin = cursor
        .as_deref()
        .map_or(0, |c| list.partition_point(|v| v.id.as_str() <= c));
    let now = Utc::now();
    let mut items: Vec<VehicleItem> = list[begin..]
        .iter()
        .filter(|v| company_id.as_deref().is_none_or(|c| v.company_id == c))
        .map(|v| fleet_item(&state, v, now))
        .filter(|i| wanted.is_none_or(|w| i.state == w))
        .take(size + 1)
        .collect();
    let next = if items.len() > size {
        items.truncate(size);
        items.last().map(|i| i.id.clone())
    } else {
        None
    };
    Ok(Json(ListResponse::new(items, next)))
}

/// A vehicle the caller may see (404 otherwise, including another company's).
async fn visible_vehicle(state: &ApiState, caller: &Caller, id: &str) -> ApiResult<Vehicle> {
    check_id("id", id)?;
    let vehicle = state
        .store
        .vehicle(id)
        .await?
        .ok_or_else(|| ApiError::not_found("vehicle", id))?;
    caller.check_company(&vehicle.company_id, "vehicle", id)?;
    Ok(vehicle)
}

/// One vehicle with its state and latest position.
#[utoipa::path(get, path = "/vehicles/{id}", tag = "vehicles", security(("bearer" = [])),
    params(("id" = String, Path, description = "Vehicle id")),
    responses((status = 200, body = VehicleItem), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_vehicle(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<VehicleItem>> {
    let vehicle = visible_vehicle(&state, &caller, &id).await?;
    fleet_one(&state, &vehicle.id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("vehicle", &id))
}

/// `GET /vehicles/{id}/track` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrackParams {
    /// Start (RFC 3339, inclusive); default `to` minus one day.
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<DateTime<Utc>>,
    /// End (RFC 3339, exclusive); default now.
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<DateTime<Utc>>,
    /// Simplify the line with this tolerance in metres (0 < x <= 10000); drops flagged
    /// positions.
    pub simplify: Option<f64>,
}

/// A vehicle's track as a GeoJSON FeatureCollection of Point features, oldest first;
/// `properties`: `id`, `time`, `speed_kmh`, `heading`, `load`, `lift_up`, `lid_open`, `flags`,
/// `source`. At most 100,000 points; a longer range answers the first ones and
/// `"truncated": true`.
#[utoipa::path(get, path = "/vehicles/{id}/track", tag = "vehicles", security(("bearer" = [])),
    params(("id" = String, Path, description = "Vehicle id"), TrackParams),
    responses((status = 200, description = "GeoJSON FeatureCollection", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn track(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<TrackParams>,
) -> ApiResult<Json<geojson::FeatureCollection>> {
    let (from, to) = time_range(
        params.from,
        params.to,
        chrono::Duration::days(1),
        state.limits.max_range,
    )?;
    if let Some(s) = params.simplify
        && !(s.is_finite() && s > 0.0 && s <= MAX_SIMPLIFY_M)
    {
        return Err(ApiError::invalid(
            "simplify",
            format!("simplify must be above 0 and at most {MAX_SIMPLIFY_M} metres"),
        ));
    }
    let vehicle = visible_vehicle(&state, &caller, &id).await?;
    let mut query = TrackQuery::new(vehicle.id, from, to);
    query.simplify_m = params.simplify;
    query.limit = Some(MAX_TRACK_POINTS + 1);
    let mut positions = state.store.track(&query).await?;
    let truncated = positions.len() > MAX_TRACK_POINTS as usize;
    positions.truncate(MAX_TRACK_POINTS as usize);
    let features = positions.iter().map(track_feature).collect();
    let mut foreign = geojson::JsonObject::new();
    foreign.insert("truncated".into(), truncated.into());
    Ok(Json(geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: Some(foreign),
    }))
}

fn track_feature(p: &Position) -> geojson::Feature {
    let mut properties = geojson::JsonObject::new();
    properties.insert("id".into(), p.id.into());
    properties.insert(
        "time".into(),
        p.time
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            .into(),
    );
    properties.insert("speed_kmh".into(), p.speed_kmh.into());
    properties.insert("heading".into(), p.heading.into());
    properties.insert("load".into(), p.load.as_str().into());
    properties.insert("lift_up".into(), p.lift_up.into());
    properties.insert("lid_open".into(), p.lid_open.into());
    properties.insert("flags".into(), p.flags.names().into());
    properties.insert("source".into(), p.source.as_str().into());
    geojson::Feature {
        bbox: None,
        geometry: Some(geojson::Geometry::new_point([p.lon, p.lat])),
        id: None,
        properties: Some(properties),
        foreign_members: None,
    }
}

/// `POST /areas/visits` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AreaVisitsRequest {
    /// GeoJSON Polygon (or MultiPolygon), WGS-84.
    #[schema(value_type = GeoJsonGeometry)]
    pub polygon: geojson::Geometry,
    /// Start (RFC 3339); default `to` minus one day.
    #[serde(default, deserialize_with = "opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub from: Option<DateTime<Utc>>,
    /// End (RFC 3339); default now.
    #[serde(default, deserialize_with = "opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub to: Option<DateTime<Utc>>,
}

/// A vehicle seen inside the area.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AreaVisitItem {
    /// The vehicle.
    pub vehicle_id: String,
    /// Its plate.
    pub plate: String,
    /// Time of its first position inside.
    pub first_seen: DateTime<Utc>,
    /// Time of its last position inside.
    pub last_seen: DateTime<Utc>,
    /// Positions inside.
    pub positions: u64,
}

/// Which vehicles had usable positions inside a polygon in a time range (company callers:
/// their own vehicles only). All visits in one answer (`next` is always null).
#[utoipa::path(post, path = "/areas/visits", tag = "vehicles", security(("bearer" = [])),
    request_body = AreaVisitsRequest,
    responses((status = 200, body = ListResponse<AreaVisitItem>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn area_visits(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(request): ApiJson<AreaVisitsRequest>,
) -> ApiResult<Json<ListResponse<AreaVisitItem>>> {
    let area = area_from_geojson("polygon", &request.polygon)?;
    let (from, to) = time_range(
        request.from,
        request.to,
        chrono::Duration::days(1),
        state.limits.max_range,
    )?;
    let own = caller.company_scope(None)?;
    let visits = state.store.vehicles_in_area(&area, from, to).await?;
    let ids: Vec<String> = visits.iter().map(|v| v.vehicle_id.clone()).collect();
    let briefs: std::collections::HashMap<String, (String, String)> = state
        .store
        .vehicle_briefs(&ids)
        .await?
        .into_iter()
        .map(|b| (b.id, (b.plate, b.company_id)))
        .collect();
    let items = visits
        .into_iter()
        .filter_map(|v| {
            let (plate, company) = briefs.get(&v.vehicle_id)?;
            if own.as_ref().is_some_and(|own| own != company) {
                return None;
            }
            Some(AreaVisitItem {
                plate: plate.clone(),
                vehicle_id: v.vehicle_id,
                first_seen: v.first_seen,
                last_seen: v.last_seen,
                positions: v.positions,
            })
        })
        .collect();
    Ok(Json(ListResponse::new(items, None)))
}

/// A command for a truck's terminal.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CommandRequest {
    /// Show or speak a text message (0x8300).
    Text {
        /// The text, 1 to 500 characters.
        text: String,
    },
    /// Report the current position now (0x8201).
    LocationQuery,
    /// Set the report interval (0x8103, parameter 0x0029).
    ReportInterval {
        /// Seconds between reports, 1 to 3600.
        seconds: u32,
    },
}

/// What came of a command.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CommandResponse {
    /// `ok`, `failed`, `bad_message`, `unsupported` (the terminal's 0x0001 result), `timeout`
    /// (no answer in time) or `offline` (not connected).
    pub result: String,
    /// For a location query answered `ok`: the reported position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<LatestPosition>,
}

/// Sends a command to the vehicle's terminal and waits for its answer (admin, dispatcher).
#[utoipa::path(post, path = "/vehicles/{id}/commands", tag = "vehicles", security(("bearer" = [])),
    params(("id" = String, Path, description = "Vehicle id")),
    request_body = CommandRequest,
    responses((status = 200, body = CommandResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody,
        description = "the vehicle has no terminal")))]
async fn send_command(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<CommandRequest>,
) -> ApiResult<Json<CommandResponse>> {
    caller.require(&[Role::Admin, Role::Dispatcher])?;
    let command = match request {
        CommandRequest::Text { text } => {
            let n = text.chars().count();
            if text.trim().is_empty() || n > MAX_TEXT_CHARS {
                return Err(ApiError::invalid(
                    "text",
                    format!("text must be 1 to {MAX_TEXT_CHARS} characters"),
                ));
            }
            DownlinkCommand::Text { text }
        }
        CommandRequest::LocationQuery => DownlinkCommand::LocationQuery,
        CommandRequest::ReportInterval { seconds } => {
            if !(1..=3600).contains(&seconds) {
                return Err(ApiError::invalid("seconds", "seconds must be 1 to 3600"));
            }
            DownlinkCommand::ReportInterval { seconds }
        }
    };
    let vehicle = visible_vehicle(&state, &caller, &id).await?;
    let phones = state.store.terminals_of_vehicle(&vehicle.id).await?;
    // A vehicle with a replaced terminal may have two; use the connected one.
    let Some(phone) = phones
        .iter()
        .find(|p| state.sessions.is_online(p))
        .or_else(|| phones.first())
    else {
        return Err(ApiError::conflict(format!(
            "vehicle {:?} has no terminal",
            vehicle.id
        )));
    };
    tracing::info!(caller = %caller.id, vehicle = %vehicle.id, %phone, ?command, "Terminal command.");
    let outcome = state
        .sessions
        .send(phone, command, state.limits.command_timeout)
        .await;
    let (result, reply) = match outcome {
        CommandOutcome::Ok { position } => ("ok", position.as_deref().map(LatestPosition::from)),
        CommandOutcome::Failed => ("failed", None),
        CommandOutcome::BadMessage => ("bad_message", None),
        CommandOutcome::Unsupported => ("unsupported", None),
        CommandOutcome::Timeout => ("timeout", None),
        CommandOutcome::Offline => ("offline", None),
    };
    Ok(Json(CommandResponse {
        result: result.to_string(),
        reply,
    }))
}
