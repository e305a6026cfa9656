//! `GET /api/v1/live`: a WebSocket of positions and violations for the live map, filtered by
//! the caller's company and an optional bounding box.
//!
//! The socket reads from the [`LiveHub`](crate::bus::LiveHub), whose broadcast never waits for
//! anyone: a client that reads slowly falls behind, and its next message is a snapshot of the
//! latest position per vehicle (coalesced) instead of the backlog. Ingest is never slowed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::common::ApiQuery;
use super::error::{ApiError, ApiResult};
use super::vehicles::{LatestPosition, VehicleState, vehicle_state};
use crate::bus::{LiveBatch, LiveEvent};
use crate::model::{LoadState, Violation, ViolationStatus};
use crate::store::{Store, ViolationQuery};

/// A client that cannot take a message within this time is disconnected.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Most recent (closed) violations in the first snapshot.
const SNAPSHOT_VIOLATIONS: u32 = 200;

/// Routes of this module.
pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(live))
}

/// `?bbox=minLon,minLat,maxLon,maxLat&token=...`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveParams {
    /// Only positions inside `minLon,minLat,maxLon,maxLat` (WGS-84).
    bbox: Option<String>,
    /// The bearer token (browsers cannot set headers on a WebSocket).
    #[allow(dead_code)]
    token: Option<String>,
}

/// A bounding box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    /// West edge.
    pub min_lon: f64,
    /// South edge.
    pub min_lat: f64,
    /// East edge.
    pub max_lon: f64,
    /// North edge.
    pub max_lat: f64,
}

impl BBox {
    /// Parses `minLon,minLat,maxLon,maxLat`.
    pub fn parse(raw: &str) -> ApiResult<BBox> {
        let bad = |why: &str| {
            ApiError::invalid("bbox", format!("bbox {why}: minLon,minLat,maxLon,maxLat"))
        };
        let numbers: Vec<f64> = raw
            .split(',')
            .map(|n| n.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad("must be four numbers"))?;
        let [min_lon, min_lat, max_lon, max_lat] = numbers[..] else {
            return Err(bad("must be four numbers"));
        };
        if ![min_lon, max_lon]
            .iter()
            .all(|x| (-180.0..=180.0).contains(x))
            || ![min_lat, max_lat]
                .iter()
                .all(|y| (-90.0..=90.0).contains(y))
        {
            return Err(bad("is out of range"));
        }
        if min_lon > max_lon || min_lat > max_lat {
            return Err(bad("has its corners swapped"));
        }
        Ok(BBox {
            min_lon,
            min_lat,
            max_lon,
            max_lat,
        })
    }

    /// Whether a point lies inside (edges included).
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        (self.min_lon..=self.max_lon).contains(&lon) && (self.min_lat..=self.max_lat).contains(&lat)
    }
}

/// A position on the live map.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LivePosition {
    /// Vehicle id.
    pub vehicle_id: String,
    /// Plate.
    pub plate: Option<String>,
    /// Owning company.
    pub company_id: Option<String>,
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
    /// Load state.
    #[schema(value_type = String)]
    pub load: LoadState,
    /// Tipper raised, when the truck has a lift sensor.
    pub lift_up: Option<bool>,
    /// Lid open, when the truck has a lid sensor.
    pub lid_open: Option<bool>,
    /// Map state.
    pub state: VehicleState,
}

/// A message on the live socket.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum LiveMessage<'a> {
    /// Replaces what the client shows.
    Snapshot {
        positions: Vec<LivePosition>,
        violations: Vec<&'a Violation>,
    },
    /// New positions.
    Positions { positions: Vec<LivePosition> },
    /// A violation opened, updated or closed.
    Violation { violation: &'a Violation },
}

/// Plate and company of every vehicle, taken at connect and filled in on demand.
struct VehicleNames {
    store: Store,
    names: HashMap<String, Option<(String, String)>>,
}

impl VehicleNames {
    /// From the API's in-memory fleet list (the one `GET /vehicles` serves), so a new socket
    /// does not read the whole registry again.
    async fn load(state: &ApiState) -> ApiResult<VehicleNames> {
        let names = super::vehicles::fleet_list(state)
            .await?
            .iter()
            .map(|v| (v.id.clone(), Some((v.plate.clone(), v.company_id.clone()))))
            .collect();
        Ok(VehicleNames {
            store: state.store.clone(),
            names,
        })
    }

    /// Plate and company of a vehicle (asks the store once for a vehicle added since).
    async fn get(&mut self, vehicle_id: &str) -> Option<&(String, String)> {
        if !self.names.contains_key(vehicle_id) {
            let found = match self.store.vehicle(vehicle_id).await {
                Ok(v) => v.map(|v| (v.plate, v.company_id)),
                Err(error) => {
                    tracing::warn!(%error, "Live stream: vehicle look-up failed.");
                    return None;
                }
            };
            self.names.insert(vehicle_id.to_string(), found);
        }
        self.names.get(vehicle_id).and_then(Option::as_ref)
    }
}

/// What one client may see.
struct LiveFilter {
    company_id: Option<String>,
    bbox: Option<BBox>,
}

impl LiveFilter {
    fn admits_company(&self, company: Option<&str>) -> bool {
        match &self.company_id {
            None => true,
            Some(own) => company == Some(own.as_str()),
        }
    }
}

/// Live positions and violations (WebSocket). Messages: `snapshot` (first, and after the
/// client fell behind), `positions`, `violation`; see docs/api.md.
#[utoipa::path(get, path = "/live", tag = "live", params(LiveParams), security(("bearer" = [])),
    responses((status = 101, description = "WebSocket upgrade"), (status = 400, body = super::error::ErrorBody),
              (status = 401, body = super::error::ErrorBody)))]
async fn live(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<LiveParams>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let bbox = params.bbox.as_deref().map(BBox::parse).transpose()?;
    let company_id = caller.company_scope(None)?;
    let names = VehicleNames::load(&state).await?;
    let filter = LiveFilter { company_id, bbox };
    Ok(upgrade
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| stream(socket, state, filter, names)))
}

/// Serves one socket until the client leaves or stops reading.
async fn stream(socket: WebSocket, state: ApiState, filter: LiveFilter, mut names: VehicleNames) {
    metrics::gauge!("haulwatch_live_clients").increment(1.0);
    let (mut sink, mut incoming) = socket.split();
    let mut subscription = state.live.subscribe();
    let mut first = true;
    loop {
        let batch = tokio::select! {
            batch = subscription.next() => batch,
            // The client's messages are ignored; a close or error ends the stream.
            message = incoming.next() => match message {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => continue,
            },
        };
        let Some(batch) = batch else { break };
        let messages = match render(&state, &filter, &mut names, batch, first).await {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!(%error, "Live stream: could not build a message.");
                continue;
            }
        };
        first = false;
        let mut failed = false;
        for text in messages {
            match tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Text(text))).await {
                Ok(Ok(())) => metrics::counter!("haulwatch_live_messages_total").increment(1),
                _ => {
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            break;
        }
    }
    let _ = sink.close().await;
    metrics::gauge!("haulwatch_live_clients").decrement(1.0);
}

/// Turns a batch into the client's messages (empty when nothing in it is for this client).
async fn render(
    state: &ApiState,
    filter: &LiveFilter,
    names: &mut VehicleNames,
    batch: LiveBatch,
    first: bool,
) -> ApiResult<Vec<Utf8Bytes>> {
    let now = Utc::now();
    let in_violation = state.live.vehicles_in_violation();
    let (snapshot, events) = match batch {
        LiveBatch::Snapshot(events) => (true, events),
        LiveBatch::Events(events) => (false, events),
    };
    let mut positions = Vec::new();
    let mut violations: Vec<Arc<Violation>> = Vec::new();
    for event in events {
        match event {
            LiveEvent::Position(p) => {
                let Some(vehicle_id) = p.vehicle_id.as_deref() else {
                    continue;
                };
                if filter.bbox.is_some_and(|b| !b.contains(p.lat, p.lon)) {
                    continue;
                }
                let (plate, company) = match names.get(vehicle_id).await {
                    Some((plate, company)) => (Some(plate.clone()), Some(company.clone())),
                    None => (None, None),
                };
                if !filter.admits_company(company.as_deref()) {
                    continue;
                }
                positions.push(LivePosition {
                    vehicle_id: vehicle_id.to_string(),
                    plate,
                    company_id: company,
                    time: p.time,
                    lat: p.lat,
                    lon: p.lon,
                    speed_kmh: p.speed_kmh,
                    heading: p.heading,
                    load: p.load,
                    lift_up: p.lift_up,
                    lid_open: p.lid_open,
                    state: vehicle_state(
                        Some(&LatestPosition::from(p.as_ref())),
                        in_violation.contains(vehicle_id),
                        now,
                    ),
                });
            }
            LiveEvent::Violation(v) => {
                if filter.admits_company(v.company_id.as_deref()) {
                    violations.push(v);
                }
            }
        }
    }
    if snapshot && first {
        // The first snapshot also lists the day's closed episodes, for the violation feed.
        let recent = state
            .store
            .list_violations(&ViolationQuery {
                company_id: filter.company_id.clone(),
                from: Some(now - chrono::Duration::hours(24)),
                limit: SNAPSHOT_VIOLATIONS,
                ..ViolationQuery::default()
            })
            .await?;
        let known: std::collections::HashSet<String> =
            violations.iter().map(|v| v.id.clone()).collect();
        violations.extend(
            recent
                .items
                .into_iter()
                .filter(|v| !known.contains(&v.id) && v.status == ViolationStatus::Closed)
                .map(Arc::new),
        );
        violations.sort_by_key(|v| std::cmp::Reverse(v.started_at));
        violations.truncate(SNAPSHOT_VIOLATIONS as usize);
    }
    let mut out = Vec::new();
    if snapshot {
        let message = LiveMessage::Snapshot {
            positions,
            violations: violations.iter().map(Arc::as_ref).collect(),
        };
        out.push(to_text(&message)?);
        return Ok(out);
    }
    if !positions.is_empty() {
        out.push(to_text(&LiveMessage::Positions { positions })?);
    }
    for v in &violations {
        out.push(to_text(&LiveMessage::Violation { violation: v })?);
    }
    Ok(out)
}

fn to_text(message: &LiveMessage<'_>) -> ApiResult<Utf8Bytes> {
    serde_json::to_string(message)
        .map(Utf8Bytes::from)
        .map_err(|e| ApiError::internal(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_is_checked() {
        assert!(BBox::parse("109.3,24.2,109.6,24.5").is_ok());
        for bad in [
            "1,2,3",
            "a,b,c,d",
            "109.6,24.2,109.3,24.5",
            "200,0,201,1",
            "",
        ] {
            let error = BBox::parse(bad).expect_err(bad);
            assert_eq!(error.field.as_deref(), Some("bbox"));
        }
        let b = BBox::parse("109.3,24.2,109.6,24.5").expect("valid");
        assert!(b.contains(24.3, 109.4));
        assert!(!b.contains(25.0, 109.4));
    }
}
