//! One registry snapshot as the engine uses it: the fence index plus vehicles, permits and
//! zone schedules resolved to fence slots and compiled windows. Immutable; a registry change
//! builds a new snapshot that is swapped in whole.

use std::sync::Arc;

use hashbrown::HashMap;

use crate::engine::clock::{self, Daily, Weekly};
use crate::engine::index::{BuildReport, FenceIndex, FenceKind, FenceSlot, IndexConfig};
use crate::model::registry::SensorCapabilities;
use crate::model::{Permit, Registry};

/// A vehicle as the rules need it.
#[derive(Debug, Clone)]
pub struct VehicleInfo {
    /// Registry id.
    pub id: Arc<str>,
    /// Plate, for evidence.
    pub plate: Arc<str>,
    /// Owning company, copied into violations.
    pub company_id: Arc<str>,
    /// Rated load in kg, for `overload`.
    pub rated_load_kg: Option<f64>,
    /// Fitted sensors: rules fall back when one is missing.
    pub sensors: SensorCapabilities,
}

/// A transport permit resolved against the fence index.
#[derive(Debug, Clone)]
pub struct PermitInfo {
    /// Registry id.
    pub id: Arc<str>,
    /// Number as printed.
    pub number: Arc<str>,
    /// Source site id.
    pub site_id: Arc<str>,
    /// Source site slot, when the site is indexed.
    pub site_slot: Option<FenceSlot>,
    /// Disposal grounds the permit allows, as indexed slots.
    pub disposal_slots: Vec<FenceSlot>,
    /// Approved routes, as indexed slots.
    pub route_slots: Vec<FenceSlot>,
    /// First valid local day (days since 1970-01-01).
    valid_from_day: i64,
    /// Last valid local day.
    valid_to_day: i64,
    /// Daily windows; empty means all day.
    windows: Vec<Daily>,
    /// The permit as JSON, copied into evidence.
    pub evidence: serde_json::Value,
}

impl PermitInfo {
    /// Whether the permit is valid on the local day of `t_ms`.
    pub fn valid_at(&self, t_ms: i64) -> bool {
        let day = clock::local_day(t_ms);
        day >= self.valid_from_day && day <= self.valid_to_day
    }

    /// Whether `t_ms` falls in one of the permit's daily windows (always, when it has none).
    pub fn in_window(&self, t_ms: i64) -> bool {
        let second = clock::local_second(t_ms);
        self.windows.is_empty() || self.windows.iter().any(|w| w.contains(second))
    }
}

/// The registry as the engine sees it.
#[derive(Debug)]
pub struct EngineSnapshot {
    /// Increases with every swap; shards compare it to know when to re-map their state.
    pub generation: u64,
    /// The fence index.
    pub index: FenceIndex,
    /// What building the index did.
    pub report: BuildReport,
    /// Vehicles by id.
    vehicles: HashMap<Arc<str>, VehicleInfo>,
    /// All permits.
    permits: Vec<PermitInfo>,
    /// Permits covering each vehicle, as positions in `permits`.
    permits_by_vehicle: HashMap<Arc<str>, Vec<u32>>,
    /// Allowed weekly windows of each zone, by fence slot (empty for other fences).
    zone_windows: Vec<Vec<Weekly>>,
}

impl EngineSnapshot {
    /// Builds a snapshot of `registry`.
    pub fn build(registry: &Registry, index_config: &IndexConfig, generation: u64) -> Self {
        let (index, report) = FenceIndex::build(registry, index_config);
        let vehicles = registry
            .vehicles
            .iter()
            .map(|v| {
                let id: Arc<str> = Arc::from(v.id.as_str());
                (
                    id.clone(),
                    VehicleInfo {
                        id,
                        plate: Arc::from(v.plate.as_str()),
                        company_id: Arc::from(v.company_id.as_str()),
                        rated_load_kg: v.rated_load_kg.filter(|w| w.is_finite() && *w > 0.0),
                        sensors: v.sensors,
                    },
                )
            })
            .collect();
        let mut permits = Vec::with_capacity(registry.permits.len());
        let mut permits_by_vehicle: HashMap<Arc<str>, Vec<u32>> = HashMap::new();
        for p in &registry.permits {
            let n = permits.len() as u32;
            permits.push(resolve_permit(p, &index));
            for v in &p.vehicle_ids {
                permits_by_vehicle
                    .entry(Arc::from(v.as_str()))
                    .or_default()
                    .push(n);
            }
        }
        let mut zone_windows = vec![Vec::new(); index.len()];
        for z in &registry.zones {
            if let Some(slot) = index.slot_of("zone", &z.id)
                && let Some(w) = zone_windows.get_mut(slot as usize)
            {
                *w = z.allowed.iter().map(Weekly::compile).collect();
            }
        }
        EngineSnapshot {
            generation,
            index,
            report,
            vehicles,
            permits,
            permits_by_vehicle,
            zone_windows,
        }
    }

    /// A vehicle by registry id.
    pub fn vehicle(&self, id: &str) -> Option<&VehicleInfo> {
        self.vehicles.get(id)
    }

    /// A permit by its position.
    pub fn permit(&self, n: u32) -> Option<&PermitInfo> {
        self.permits.get(n as usize)
    }

    /// Positions of the permits covering `vehicle_id` that are valid at `t_ms`.
    pub fn valid_permits(&self, vehicle_id: &str, t_ms: i64) -> impl Iterator<Item = u32> + '_ {
        self.permits_by_vehicle
            .get(vehicle_id)
            .into_iter()
            .flatten()
            .copied()
            .filter(move |&n| self.permit(n).is_some_and(|p| p.valid_at(t_ms)))
    }

    /// Positions of every permit covering `vehicle_id`, valid or not (vehicles cache this).
    pub fn permits_of(&self, vehicle_id: &str) -> &[u32] {
        self.permits_by_vehicle
            .get(vehicle_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether `t_ms` is in one of a zone's allowed windows.
    pub fn zone_allows(&self, slot: FenceSlot, t_ms: i64) -> bool {
        self.zone_windows
            .get(slot as usize)
            .is_some_and(|ws| ws.iter().any(|w| w.contains(t_ms)))
    }

    /// Whether a fence slot is a site or disposal ground.
    pub fn is_site_or_disposal(&self, slot: FenceSlot) -> bool {
        self.index
            .fence(slot)
            .is_some_and(|f| matches!(f.kind, FenceKind::Site | FenceKind::DisposalGround))
    }
}

fn resolve_permit(p: &Permit, index: &FenceIndex) -> PermitInfo {
    PermitInfo {
        id: Arc::from(p.id.as_str()),
        number: Arc::from(p.number.as_str()),
        site_id: Arc::from(p.site_id.as_str()),
        site_slot: index.slot_of("site", &p.site_id),
        disposal_slots: p
            .disposal_ground_ids
            .iter()
            .filter_map(|id| index.slot_of("disposal_ground", id))
            .collect(),
        route_slots: p
            .route_ids
            .iter()
            .filter_map(|id| index.slot_of("route", id))
            .collect(),
        valid_from_day: clock::day_of_date(p.valid_from),
        valid_to_day: clock::day_of_date(p.valid_to),
        windows: p.daily_windows.iter().map(Daily::compile).collect(),
        evidence: serde_json::json!({
            "id": p.id,
            "number": p.number,
            "company_id": p.company_id,
            "site_id": p.site_id,
            "disposal_ground_ids": p.disposal_ground_ids,
            "route_ids": p.route_ids,
            "valid_from": p.valid_from,
            "valid_to": p.valid_to,
            "daily_windows": p.daily_windows,
        }),
    }
}
