//! A completed haul, as the engine saw it: the unit compliance reports count.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One haul: loaded at a site, delivered to a disposal ground.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trip {
    /// Stable id from the vehicle and the arrival time, so a re-judged trip is not counted
    /// twice.
    pub id: String,
    /// Vehicle, when registered.
    pub vehicle_id: Option<String>,
    /// Vehicle's company.
    pub company_id: Option<String>,
    /// Permit the trip ran under, if any.
    pub permit_id: Option<String>,
    /// Site the load came from, when the truck was seen there.
    pub site_id: Option<String>,
    /// Disposal ground it reached.
    pub disposal_ground_id: String,
    /// When the truck became loaded (GNSS time).
    pub loaded_at: DateTime<Utc>,
    /// When it entered the disposal ground (GNSS time).
    pub arrived_at: DateTime<Utc>,
}
