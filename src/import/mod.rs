//! Registry bundles: a folder with `registry.json`, `sites.geojson`,
//! `disposal_grounds.geojson`, `routes.geojson` and `zones.geojson` (shape in the README and
//! issue 3).
//!
//! [`load_bundle`] parses and validates a bundle without any database, so the engine, the
//! simulator and tests can load `geofences/liuzhou/` directly; `haulwatch import DIR` runs it
//! and then writes the result in one transaction ([`Store::import_registry`]). Every fault in
//! the bundle is reported in one run, each naming the file, the feature (or record) id and the
//! fault; one fault means nothing is imported.
//!
//! Coordinates are WGS-84 unless a collection says `"coord_sys": "gcj02"` (or `"bd09"`); those
//! are converted to WGS-84 with `coordtransform`. Times of day are Asia/Shanghai local time.

mod geometry;
mod registry_file;

use std::fmt;
use std::path::Path;

pub use geometry::{check_lines, check_polygons};

use crate::model::Registry;
use crate::store::{Store, StoreError, registry::ImportSummary};

/// File names of a bundle.
pub const REGISTRY_FILE: &str = "registry.json";
/// Construction sites.
pub const SITES_FILE: &str = "sites.geojson";
/// Disposal grounds.
pub const DISPOSAL_GROUNDS_FILE: &str = "disposal_grounds.geojson";
/// Routes.
pub const ROUTES_FILE: &str = "routes.geojson";
/// Control zones.
pub const ZONES_FILE: &str = "zones.geojson";

/// What is wrong with a part of a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A bundle file is missing or cannot be read.
    MissingFile,
    /// A file or record is not valid JSON/GeoJSON of the expected shape.
    BrokenJson,
    /// A field has a value that is not allowed (bad date, protocol, phone, kind, ...).
    InvalidValue,
    /// Two records of one kind share an id.
    DuplicateId,
    /// A feature has a geometry type the file does not take.
    WrongGeometryType,
    /// A polygon ring does not end where it starts.
    UnclosedRing,
    /// A polygon ring crosses itself.
    SelfIntersection,
    /// Another geometric fault (too few points, holes outside the shell, overlapping parts).
    InvalidGeometry,
    /// A coordinate is not a finite longitude in [-180, 180] and latitude in [-90, 90].
    CoordinatesOutOfRange,
    /// An id names a record that does not exist (or of the wrong kind or company).
    UnknownReference,
    /// Two time windows of one permit or zone overlap.
    OverlappingWindows,
}

impl FaultKind {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::MissingFile => "missing file",
            FaultKind::BrokenJson => "broken JSON",
            FaultKind::InvalidValue => "invalid value",
            FaultKind::DuplicateId => "duplicate id",
            FaultKind::WrongGeometryType => "wrong geometry type",
            FaultKind::UnclosedRing => "unclosed ring",
            FaultKind::SelfIntersection => "self-intersection",
            FaultKind::InvalidGeometry => "invalid geometry",
            FaultKind::CoordinatesOutOfRange => "coordinates out of range",
            FaultKind::UnknownReference => "unknown reference",
            FaultKind::OverlappingWindows => "overlapping daily windows",
        }
    }
}

/// One fault found in a bundle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BundleFault {
    /// File name within the bundle.
    pub file: String,
    /// Feature or record id (`companies[3]` style when it has none).
    pub id: Option<String>,
    /// What kind of fault.
    pub kind: FaultKind,
    /// Details for the person fixing the bundle.
    pub message: String,
}

impl BundleFault {
    pub(crate) fn new(
        file: &str,
        id: Option<&str>,
        kind: FaultKind,
        message: impl Into<String>,
    ) -> BundleFault {
        BundleFault {
            file: file.to_string(),
            id: id.map(str::to_string),
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for BundleFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(
                f,
                "{}: {}: {}: {}",
                self.file,
                id,
                self.kind.as_str(),
                self.message
            ),
            None => write!(f, "{}: {}: {}", self.file, self.kind.as_str(), self.message),
        }
    }
}

/// Loads and validates a bundle directory into a [`Registry`] (fence versions are 1; the store
/// assigns its own when importing). Returns every fault found, not just the first.
pub fn load_bundle(dir: &Path) -> Result<Registry, Vec<BundleFault>> {
    let mut faults = Vec::new();
    let (sites, site_ids) = geometry::load_polygon_file(dir, SITES_FILE, &mut faults);
    let (grounds, ground_ids) =
        geometry::load_polygon_file(dir, DISPOSAL_GROUNDS_FILE, &mut faults);
    let (routes, route_ids) = geometry::load_routes(dir, &mut faults);
    let (zones, zone_ids) = geometry::load_zones(dir, &mut faults);
    let present = registry_file::FenceIds {
        sites: site_ids,
        disposal_grounds: ground_ids,
        routes: route_ids,
        zones: zone_ids,
    };
    let mut registry = Registry {
        sites: sites
            .into_iter()
            .map(|f| crate::model::Site {
                id: f.id,
                name: f.name,
                geometry: f.geometry,
                version: 1,
            })
            .collect(),
        disposal_grounds: grounds
            .into_iter()
            .map(|f| crate::model::DisposalGround {
                id: f.id,
                name: f.name,
                geometry: f.geometry,
                version: 1,
            })
            .collect(),
        routes,
        zones,
        ..Registry::default()
    };
    registry_file::load(dir, &mut registry, &present, &mut faults);
    if faults.is_empty() {
        Ok(registry)
    } else {
        Err(faults)
    }
}

/// Why `haulwatch import` did not import.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The bundle has faults; nothing was written.
    #[error("the bundle has {} fault(s); nothing was imported", .0.len())]
    Faults(Vec<BundleFault>),
    /// Writing failed; the transaction was rolled back.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validates the bundle in `dir` and writes it to `store` in one transaction.
pub async fn import_bundle(store: &Store, dir: &Path) -> Result<ImportSummary, ImportError> {
    let registry = load_bundle(dir).map_err(ImportError::Faults)?;
    Ok(store.import_registry(&registry).await?)
}
