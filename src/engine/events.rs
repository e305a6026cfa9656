//! What the engine emits: violation episodes as they open, change and close, and one
//! classification per judged position for the live map.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::index::FenceKind;
use crate::model::{Violation, ViolationKind};

/// One output of the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    /// A violation episode opened, changed or closed. The id is the same throughout.
    Violation(ViolationEvent),
    /// Where a judged position is and what the vehicle is doing, for the live map.
    Classified(PositionClass),
    /// A haul completed: a loaded truck reached a disposal ground (for trip counts in
    /// compliance reports). Not emitted for late (replayed) data.
    Trip(TripRecord),
}

pub use crate::model::Trip as TripRecord;

/// A change of one violation episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViolationEvent {
    /// What happened to the episode.
    pub change: ViolationChange,
    /// The episode as it now stands (status, times and evidence included).
    pub violation: Violation,
}

/// What happened to an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationChange {
    /// First emission of the episode.
    Opened,
    /// More evidence, a later or earlier bound (late data), or a new severity.
    Updated,
    /// The episode ended; `ended_at` is set. Late data may still update it afterwards.
    Closed,
}

/// Where a vehicle is in its haul cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TripPhase {
    /// Not on a trip (empty, or unknown).
    #[default]
    Idle,
    /// Inside a construction site (loading).
    AtSite,
    /// Carrying waste between a site and a disposal ground.
    Loaded,
    /// Inside a disposal ground (unloading).
    AtDisposal,
}

/// A fence a position is in, for the live map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceTag {
    /// Kind of fence.
    #[serde(flatten)]
    pub kind: FenceKind,
    /// Registry id.
    pub id: Arc<str>,
}

/// The engine's reading of one judged position: small, sent for every fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionClass {
    /// The position.
    pub position_id: i64,
    /// Vehicle, when registered.
    pub vehicle_id: Option<Arc<str>>,
    /// Terminal phone.
    pub phone: Arc<str>,
    /// GNSS time of the fix.
    pub time: DateTime<Utc>,
    /// Latitude, WGS-84.
    pub lat: f64,
    /// Longitude, WGS-84.
    pub lon: f64,
    /// GNSS speed, km/h.
    pub speed_kmh: f64,
    /// Sites, disposal grounds and zones the vehicle is confirmed inside, and route corridors
    /// the fix is within. Shared between consecutive classifications while it does not change.
    pub fences: Arc<[FenceTag]>,
    /// Haul-cycle phase.
    pub phase: TripPhase,
    /// At or above the moving speed.
    pub moving: bool,
    /// Seconds since the vehicle stopped, when stopped.
    pub stopped_secs: Option<u32>,
    /// Loaded: from the load or weight sensor, else inferred from the trip phase.
    pub loaded: bool,
    /// Permit the vehicle is judged against.
    pub permit_id: Option<Arc<str>>,
    /// Kinds of the violation episodes open for the vehicle.
    pub open_violations: Vec<ViolationKind>,
    /// The fix looked like a GPS jump and was not used for fences.
    pub suspect_jump: bool,
}
