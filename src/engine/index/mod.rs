//! The fence index: every site, disposal ground, zone and route corridor of one registry
//! snapshot, in memory, immutable once built (a new registry builds a new index that is swapped
//! in whole).
//!
//! Two structures answer queries:
//! - `rstar` R-trees (built with `bulk_load`) over polygon parts and over route segments
//!   (their boxes widened by the corridor width) serve the occasional queries: the segment
//!   between two fixes, "anything within 100 m", and a reference classification.
//! - A uniform grid ([`grid`]) answers the per-fix question "which polygons contain this point
//!   and which corridors are within their width of it" in a few hundred nanoseconds.
//!
//! Polygons are tested in the lon/lat plane, as PostGIS `ST_Contains` on SRID 4326 geometry
//! does. Corridor distances are metres on the WGS-84 ellipsoid through the local projection of
//! [`crate::engine::metric`], as PostGIS `ST_DWithin` on geography measures them. A point on a
//! polygon's boundary (within about a millimetre) may fall either way.

mod grid;

use std::collections::HashMap;
use std::sync::Arc;

use geo_types::{MultiLineString, MultiPolygon};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};
use serde::{Deserialize, Serialize};

use grid::{Grid, GridParams, crosses_ray};
pub use grid::{GridStats, Hits};

use crate::engine::metric::LocalMetric;
use crate::model::{FenceRef, GeometryVersion, Registry, ZoneKind};

/// Index of a fence within one index build. Only meaningful with the index that issued it;
/// state that outlives a registry swap keys fences by [`FenceKey`].
pub type FenceSlot = u32;

/// What kind of fence a slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "zone_kind")]
pub enum FenceKind {
    /// A construction site (where waste is loaded).
    Site,
    /// A disposal ground (where waste may be unloaded).
    DisposalGround,
    /// A control zone of the given kind.
    Zone(ZoneKind),
    /// An approved route's corridor.
    Route,
}

impl FenceKind {
    /// The registry family name used in [`FenceRef::kind`]: `site`, `disposal_ground`,
    /// `zone` or `route`.
    pub fn family(self) -> &'static str {
        match self {
            FenceKind::Site => "site",
            FenceKind::DisposalGround => "disposal_ground",
            FenceKind::Zone(_) => "zone",
            FenceKind::Route => "route",
        }
    }

    /// Whether the fence is a polygon (everything except route corridors).
    pub fn is_polygon(self) -> bool {
        !matches!(self, FenceKind::Route)
    }
}

/// Identity of a fence that survives registry swaps: its family and registry id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FenceKey {
    /// `site`, `disposal_ground`, `zone` or `route`.
    pub family: &'static str,
    /// Registry id.
    pub id: Arc<str>,
}

/// One indexed fence and what rules need to know about it.
#[derive(Debug, Clone)]
pub struct FenceInfo {
    /// Kind of fence.
    pub kind: FenceKind,
    /// Registry id.
    pub id: Arc<str>,
    /// Display name.
    pub name: Arc<str>,
    /// Geometry version, for evidence.
    pub version: GeometryVersion,
    /// Speed limit of a zone or route, km/h.
    pub speed_limit_kmh: Option<f64>,
    /// Corridor half-width in metres (routes only; 0 for polygons).
    pub corridor_m: f64,
    /// Bounding box of the geometry: min lon, min lat, max lon, max lat.
    pub bbox: [f64; 4],
    /// Bounding box widened by the corridor width (equal to `bbox` for polygons).
    pub(crate) reach_bbox: [f64; 4],
    /// Where the geometry lives.
    pub(crate) geom: FenceGeom,
}

impl FenceInfo {
    /// The evidence reference of this fence.
    pub fn fence_ref(&self) -> FenceRef {
        FenceRef {
            kind: self.kind.family().to_string(),
            id: self.id.to_string(),
            version: self.version,
        }
    }

    /// The swap-proof key of this fence.
    pub fn key(&self) -> FenceKey {
        FenceKey {
            family: self.kind.family(),
            id: self.id.clone(),
        }
    }
}

/// Where a fence's geometry is stored.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FenceGeom {
    /// Index into the polygon table.
    Polygon {
        /// Position in `FenceIndex::polygons`.
        polygon: u32,
    },
    /// Index into the route table.
    Corridor {
        /// Position in `FenceIndex::routes`.
        route: u32,
    },
}

/// A polygon fence's rings, flattened: every ring closed, all rings (exteriors and holes of
/// every part) tested together with the even-odd rule.
#[derive(Debug, Clone)]
pub(crate) struct RawPolygon {
    /// Ring vertices, each ring closed (first vertex repeated at its end).
    coords: Vec<[f64; 2]>,
    /// End (exclusive) of each ring in `coords`.
    ring_ends: Vec<u32>,
    /// Bounding box.
    pub(crate) bbox: [f64; 4],
}

impl RawPolygon {
    /// Every edge as `[x0, y0, x1, y1]`.
    pub(crate) fn edges(&self) -> impl Iterator<Item = [f64; 4]> + '_ {
        let mut start = 0usize;
        self.ring_ends.iter().flat_map(move |&end| {
            let ring = self.coords.get(start..end as usize).unwrap_or(&[]);
            start = end as usize;
            ring.windows(2)
                .map(|w| [w[0][0], w[0][1], w[1][0], w[1][1]])
        })
    }

    fn contains(&self, lon: f64, lat: f64) -> bool {
        self.edges()
            .filter(|e| crosses_ray(e[0], e[1], e[2], e[3], lon, lat))
            .count()
            % 2
            == 1
    }

    fn boundary_distance_m(&self, metric: &LocalMetric, lon: f64, lat: f64) -> f64 {
        self.edges()
            .map(|e| metric.segment_distance2_m2((lon, lat), (e[0], e[1]), (e[2], e[3])))
            .fold(f64::INFINITY, f64::min)
            .sqrt()
    }

    fn heap_bytes(&self) -> usize {
        self.coords.capacity() * 16 + self.ring_ends.capacity() * 4
    }
}

/// A route's centre-line segments and corridor width.
#[derive(Debug, Clone)]
pub(crate) struct RawRoute {
    /// Segments as `[lon0, lat0, lon1, lat1]`.
    pub(crate) segments: Vec<[f64; 4]>,
    /// Corridor half-width in metres.
    pub(crate) width_m: f64,
}

/// Tuning of the index.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexConfig {
    /// Edge of a grid cell in metres. Smaller cells answer more points without an edge test
    /// but cost memory; 40 m suits fences of 50-300 m radius.
    pub grid_cell_m: f64,
    /// Cap on the number of grid cells (4 bytes each); a registry spread over a wider area
    /// gets larger cells instead.
    pub max_grid_cells: u64,
    /// Corridor half-width used when a route has none (or a non-positive one), metres.
    pub default_corridor_m: f64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            grid_cell_m: 40.0,
            max_grid_cells: 4_000_000,
            default_corridor_m: 100.0,
        }
    }
}

/// A fence left out of the index, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedFence {
    /// The fence.
    pub fence: FenceRef,
    /// Why it was left out.
    pub reason: String,
}

/// What a build did, for logs and the registry-reload API.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BuildReport {
    /// Polygon fences indexed.
    pub polygons: usize,
    /// Route corridors indexed.
    pub corridors: usize,
    /// Fences left out (bad geometry, duplicate ids).
    pub skipped: Vec<SkippedFence>,
    /// Grid cells.
    pub grid_cells: u64,
    /// Grid cell size in metres (east-west, north-south).
    pub grid_cell_m: (f64, f64),
    /// Heap memory of the index, bytes.
    pub heap_bytes: usize,
    /// Grid record counts.
    pub grid: GridStats,
}

type PartEntry = GeomWithData<Rectangle<[f64; 2]>, FenceSlot>;
type SegEntry = GeomWithData<Rectangle<[f64; 2]>, (FenceSlot, u32)>;

/// The immutable fence index of one registry snapshot.
#[derive(Debug)]
pub struct FenceIndex {
    /// Every fence; a [`FenceSlot`] indexes this.
    fences: Vec<FenceInfo>,
    /// Slot of each fence by id, one map per family (see [`family_index`]).
    by_key: [HashMap<Arc<str>, FenceSlot>; 4],
    /// Polygon geometries.
    polygons: Vec<RawPolygon>,
    /// Route geometries.
    routes: Vec<RawRoute>,
    /// Bounding boxes of polygon parts.
    part_tree: RTree<PartEntry>,
    /// Bounding boxes of route segments widened by the corridor width.
    segment_tree: RTree<SegEntry>,
    /// Bounding boxes of the parts of restricted and time-restricted zones: the fences whose
    /// crossing between two fixes matters, kept apart so that per-fix query stays small.
    restricted_tree: RTree<PartEntry>,
    /// Coarse map of where restricted zones are, so the per-fix crossing test returns at once
    /// where there are none.
    restricted_map: CoarseMap,
    /// The hot-path classifier.
    grid: Grid,
}

/// A coarse bitmap over an extent: which cells some box touches.
#[derive(Debug, Default)]
struct CoarseMap {
    /// West, south, east, north of the extent.
    extent: [f64; 4],
    /// Cells per side.
    n: usize,
    /// One bit per cell, row-major.
    bits: Vec<u64>,
}

impl CoarseMap {
    const SIDE: usize = 256;

    fn build(boxes: &[[f64; 4]]) -> CoarseMap {
        let Some(extent) = boxes.iter().copied().reduce(|a, b| {
            [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ]
        }) else {
            return CoarseMap::default();
        };
        let n = Self::SIDE;
        let mut map = CoarseMap {
            extent,
            n,
            bits: vec![0; (n * n).div_ceil(64)],
        };
        for b in boxes {
            let (x0, y0, x1, y1) = map.cells(*b);
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let i = y * n + x;
                    if let Some(w) = map.bits.get_mut(i / 64) {
                        *w |= 1 << (i % 64);
                    }
                }
            }
        }
        map
    }

    /// Cell range of a box, clamped to the map.
    fn cells(&self, b: [f64; 4]) -> (usize, usize, usize, usize) {
        let [ex0, ey0, ex1, ey1] = self.extent;
        let fx = |x: f64| {
            let w = (ex1 - ex0).max(f64::MIN_POSITIVE);
            (((x - ex0) / w * self.n as f64).floor().max(0.0) as usize).min(self.n - 1)
        };
        let fy = |y: f64| {
            let h = (ey1 - ey0).max(f64::MIN_POSITIVE);
            (((y - ey0) / h * self.n as f64).floor().max(0.0) as usize).min(self.n - 1)
        };
        (fx(b[0]), fy(b[1]), fx(b[2]), fy(b[3]))
    }

    /// Whether any box may touch `b` (false only when certainly not).
    fn may_touch(&self, b: [f64; 4]) -> bool {
        if self.n == 0 {
            return false;
        }
        let [ex0, ey0, ex1, ey1] = self.extent;
        if b[2] < ex0 || b[0] > ex1 || b[3] < ey0 || b[1] > ey1 {
            return false;
        }
        let (x0, y0, x1, y1) = self.cells(b);
        (y0..=y1).any(|y| {
            (x0..=x1).any(|x| {
                let i = y * self.n + x;
                self.bits
                    .get(i / 64)
                    .is_some_and(|w| w & (1 << (i % 64)) != 0)
            })
        })
    }
}

impl Default for FenceIndex {
    fn default() -> Self {
        FenceIndex::build(&Registry::default(), &IndexConfig::default()).0
    }
}

impl FenceIndex {
    /// Builds the index from a registry's sites, disposal grounds, zones and routes.
    /// Fences with unusable geometry are left out and listed in the report; they never fail
    /// the whole build.
    pub fn build(registry: &Registry, config: &IndexConfig) -> (FenceIndex, BuildReport) {
        let mut b = Builder::default();
        for s in &registry.sites {
            b.add_polygon(
                FenceKind::Site,
                &s.id,
                &s.name,
                s.version,
                None,
                &s.geometry,
            );
        }
        for d in &registry.disposal_grounds {
            b.add_polygon(
                FenceKind::DisposalGround,
                &d.id,
                &d.name,
                d.version,
                None,
                &d.geometry,
            );
        }
        for z in &registry.zones {
            b.add_polygon(
                FenceKind::Zone(z.kind),
                &z.id,
                &z.name,
                z.version,
                z.speed_limit_kmh,
                &z.geometry,
            );
        }
        for r in &registry.routes {
            let width = if r.corridor_m.is_finite() && r.corridor_m > 0.0 {
                r.corridor_m
            } else {
                config.default_corridor_m
            };
            b.add_route(
                &r.id,
                &r.name,
                r.version,
                r.speed_limit_kmh,
                width,
                &r.geometry,
            );
        }
        let grid = Grid::build(
            &b.fences,
            &b.polygons,
            &b.routes,
            GridParams {
                cell_m: config.grid_cell_m,
                max_cells: config.max_grid_cells,
            },
        );
        let restricted_parts: Vec<PartEntry> = b
            .parts
            .iter()
            .filter(|p| {
                b.fences.get(p.data as usize).is_some_and(|f| {
                    matches!(
                        f.kind,
                        FenceKind::Zone(ZoneKind::Restricted | ZoneKind::TimeRestricted)
                    )
                })
            })
            .cloned()
            .collect();
        let restricted_map = CoarseMap::build(
            &restricted_parts
                .iter()
                .map(|p| {
                    let (l, u) = (p.geom().lower(), p.geom().upper());
                    [l[0], l[1], u[0], u[1]]
                })
                .collect::<Vec<_>>(),
        );
        let restricted_tree = RTree::bulk_load(restricted_parts);
        let part_tree = RTree::bulk_load(b.parts);
        let segment_tree = RTree::bulk_load(b.segs);
        let index = FenceIndex {
            fences: b.fences,
            by_key: b.by_key,
            polygons: b.polygons,
            routes: b.routes,
            part_tree,
            segment_tree,
            restricted_tree,
            restricted_map,
            grid,
        };
        let report = BuildReport {
            polygons: index.polygons.len(),
            corridors: index.routes.len(),
            skipped: b.skipped,
            grid_cells: index.grid.cells(),
            grid_cell_m: index.grid.cell_size_m(),
            heap_bytes: index.heap_bytes(),
            grid: index.grid.stats(),
        };
        (index, report)
    }

    /// Number of fences.
    pub fn len(&self) -> usize {
        self.fences.len()
    }

    /// Whether the index has no fences.
    pub fn is_empty(&self) -> bool {
        self.fences.is_empty()
    }

    /// The fence in `slot`.
    pub fn fence(&self, slot: FenceSlot) -> Option<&FenceInfo> {
        self.fences.get(slot as usize)
    }

    /// All fences, in slot order.
    pub fn fences(&self) -> &[FenceInfo] {
        &self.fences
    }

    /// The slot of a fence by family (`site`, `disposal_ground`, `zone`, `route`) and id.
    pub fn slot_of(&self, family: &str, id: &str) -> Option<FenceSlot> {
        self.by_key.get(family_index(family)?)?.get(id).copied()
    }

    /// The slot of a fence by its swap-proof key.
    pub fn slot_of_key(&self, key: &FenceKey) -> Option<FenceSlot> {
        self.slot_of(key.family, &key.id)
    }

    /// Classifies a point: every polygon fence containing it and every corridor within its
    /// width of it. Clears `hits` first. The lists are in no particular order.
    #[inline]
    pub fn classify(&self, lon: f64, lat: f64, hits: &mut Hits) {
        hits.clear();
        self.grid.classify(lon, lat, hits);
    }

    /// Classifies many points, calling `sink(i, hits)` for each in order. Same answers as
    /// [`FenceIndex::classify`]; faster on large batches because it loads each point's grid
    /// cell several points ahead, so that memory latency overlaps instead of adding up.
    pub fn classify_many(&self, points: &[(f64, f64)], mut sink: impl FnMut(usize, &Hits)) {
        // Two stages ahead of the point being classified: the cell's line 16 points ahead,
        // its overflow run (if any) 8 points ahead (its offset is in the line).
        const FAR: usize = 16;
        const NEAR: usize = 8;
        let mut hits = Hits::default();
        let mut keep = 0u32;
        for &(lon, lat) in points.iter().take(FAR) {
            keep ^= self.grid.touch_cell(lon, lat);
        }
        for &(lon, lat) in points.iter().take(NEAR) {
            keep ^= self.grid.touch(lon, lat);
        }
        for (i, &(lon, lat)) in points.iter().enumerate() {
            if let Some(&(x, y)) = points.get(i + FAR) {
                keep ^= self.grid.touch_cell(x, y);
            }
            if let Some(&(x, y)) = points.get(i + NEAR) {
                keep ^= self.grid.touch(x, y);
            }
            hits.clear();
            self.grid.classify(lon, lat, &mut hits);
            sink(i, &hits);
        }
        std::hint::black_box(keep);
    }

    /// The same classification through the R-trees and full geometry tests: slower, used as
    /// a cross-check of the grid and as the reference in benches.
    pub fn classify_rtree(&self, lon: f64, lat: f64, hits: &mut Hits) {
        hits.clear();
        if !(lon.is_finite() && lat.is_finite()) {
            return;
        }
        for part in self.part_tree.locate_all_at_point(&[lon, lat]) {
            let slot = part.data;
            if !hits.polygons.contains(&slot) && self.contains(slot, lon, lat) {
                hits.polygons.push(slot);
            }
        }
        let metric = LocalMetric::at_lat(lat);
        for seg in self.segment_tree.locate_all_at_point(&[lon, lat]) {
            let (slot, si) = seg.data;
            if hits.corridors.contains(&slot) {
                continue;
            }
            let Some((route, width)) = self.route_of(slot) else {
                continue;
            };
            if let Some(&[ax, ay, bx, by]) = route.segments.get(si as usize)
                && metric.segment_distance2_m2((lon, lat), (ax, ay), (bx, by)) <= width * width
            {
                hits.corridors.push(slot);
            }
        }
    }

    /// Exact point-in-polygon for one polygon fence (false for corridors).
    pub fn contains(&self, slot: FenceSlot, lon: f64, lat: f64) -> bool {
        self.polygon_of(slot).is_some_and(|p| p.contains(lon, lat))
    }

    /// Distance in metres from a point to a polygon fence's boundary (inside or outside), or
    /// to a route's centre line. `None` for an unknown slot.
    pub fn boundary_distance_m(&self, slot: FenceSlot, lon: f64, lat: f64) -> Option<f64> {
        let metric = LocalMetric::at_lat(lat);
        if let Some(p) = self.polygon_of(slot) {
            return Some(p.boundary_distance_m(&metric, lon, lat));
        }
        let (route, _) = self.route_of(slot)?;
        Some(
            route
                .segments
                .iter()
                .map(|s| metric.segment_distance2_m2((lon, lat), (s[0], s[1]), (s[2], s[3])))
                .fold(f64::INFINITY, f64::min)
                .sqrt(),
        )
    }

    /// Restricted and time-restricted zones whose interior the straight segment from `a` to
    /// `b` passes through, with the length in metres inside each (a smaller tree than
    /// [`FenceIndex::polygons_crossed`] searches, for the per-fix crossing test).
    pub fn restricted_zones_crossed(
        &self,
        a: (f64, f64),
        b: (f64, f64),
        mut skip: impl FnMut(FenceSlot) -> bool,
    ) -> Vec<(FenceSlot, f64)> {
        let mut out: Vec<(FenceSlot, f64)> = Vec::new();
        if !(a.0.is_finite() && a.1.is_finite() && b.0.is_finite() && b.1.is_finite()) {
            return out;
        }
        let bbox = [a.0.min(b.0), a.1.min(b.1), a.0.max(b.0), a.1.max(b.1)];
        if !self.restricted_map.may_touch(bbox) {
            return out;
        }
        let env = AABB::from_corners([bbox[0], bbox[1]], [bbox[2], bbox[3]]);
        let mut seg_len = None;
        for part in self.restricted_tree.locate_in_envelope_intersecting(&env) {
            let slot = part.data;
            // Cheap rejections first: zones the caller already knows about, repeats, and boxes
            // the segment itself (not just its box) misses.
            if skip(slot) || out.iter().any(|(s, _)| *s == slot) {
                continue;
            }
            let lower = part.geom().lower();
            let upper = part.geom().upper();
            if !segment_meets_box(a, b, [lower[0], lower[1], upper[0], upper[1]]) {
                continue;
            }
            if let Some(poly) = self.polygon_of(slot) {
                let len = *seg_len
                    .get_or_insert_with(|| LocalMetric::at_lat((a.1 + b.1) / 2.0).distance_m(a, b));
                let inside = inside_fraction(poly, a, b) * len;
                if inside > 0.0 {
                    out.push((slot, inside));
                }
            }
        }
        out
    }

    /// Whether a point is within `radius_m` of a polygon fence's boundary (from either side).
    /// Cheap when the answer is clearly no: a box test, then edges with an early exit.
    pub fn boundary_within_m(&self, slot: FenceSlot, lon: f64, lat: f64, radius_m: f64) -> bool {
        let Some(poly) = self.polygon_of(slot) else {
            return false;
        };
        let metric = LocalMetric::at_lat(lat);
        let (dx, dy) = (radius_m / metric.kx, radius_m / metric.ky);
        let b = poly.bbox;
        if lon < b[0] - dx || lon > b[2] + dx || lat < b[1] - dy || lat > b[3] + dy {
            return false;
        }
        let r2 = radius_m * radius_m;
        poly.edges().any(|e| {
            // Per-edge box test before the exact distance.
            let (x0, x1) = (e[0].min(e[2]), e[0].max(e[2]));
            let (y0, y1) = (e[1].min(e[3]), e[1].max(e[3]));
            lon >= x0 - dx
                && lon <= x1 + dx
                && lat >= y0 - dy
                && lat <= y1 + dy
                && metric.segment_distance2_m2((lon, lat), (e[0], e[1]), (e[2], e[3])) <= r2
        })
    }

    /// Polygon fences accepted by `filter` whose interior the straight segment from `a` to
    /// `b` (lon, lat) passes through, with the length in metres of the part inside.
    pub fn polygons_crossed(
        &self,
        a: (f64, f64),
        b: (f64, f64),
        mut filter: impl FnMut(&FenceInfo) -> bool,
    ) -> Vec<(FenceSlot, f64)> {
        let mut out: Vec<(FenceSlot, f64)> = Vec::new();
        if !(a.0.is_finite() && a.1.is_finite() && b.0.is_finite() && b.1.is_finite()) {
            return out;
        }
        let env = AABB::from_corners([a.0.min(b.0), a.1.min(b.1)], [a.0.max(b.0), a.1.max(b.1)]);
        let metric = LocalMetric::at_lat((a.1 + b.1) / 2.0);
        let seg_len = metric.distance_m(a, b);
        for part in self.part_tree.locate_in_envelope_intersecting(&env) {
            let slot = part.data;
            if out.iter().any(|(s, _)| *s == slot) {
                continue;
            }
            let Some(fence) = self.fence(slot) else {
                continue;
            };
            if !filter(fence) {
                continue;
            }
            let Some(poly) = self.polygon_of(slot) else {
                continue;
            };
            let inside = inside_fraction(poly, a, b) * seg_len;
            if inside > 0.0 {
                out.push((slot, inside));
            }
        }
        out
    }

    /// The nearest polygon fence accepted by `filter` within `radius_m` of a point, with its
    /// distance (0 inside).
    pub fn nearest_polygon_within(
        &self,
        lon: f64,
        lat: f64,
        radius_m: f64,
        mut filter: impl FnMut(&FenceInfo) -> bool,
    ) -> Option<(FenceSlot, f64)> {
        if !(lon.is_finite() && lat.is_finite() && radius_m.is_finite()) {
            return None;
        }
        let metric = LocalMetric::at_lat(lat);
        let dx = radius_m.max(0.0) / metric.kx;
        let dy = radius_m.max(0.0) / metric.ky;
        let env = AABB::from_corners([lon - dx, lat - dy], [lon + dx, lat + dy]);
        let mut best: Option<(FenceSlot, f64)> = None;
        for part in self.part_tree.locate_in_envelope_intersecting(&env) {
            let slot = part.data;
            let Some(fence) = self.fence(slot) else {
                continue;
            };
            if !filter(fence) {
                continue;
            }
            let Some(poly) = self.polygon_of(slot) else {
                continue;
            };
            let d = if poly.contains(lon, lat) {
                0.0
            } else {
                poly.boundary_distance_m(&metric, lon, lat)
            };
            if d <= radius_m && best.is_none_or(|(_, b)| d < b) {
                best = Some((slot, d));
            }
        }
        best
    }

    /// Heap memory held by the index, in bytes (vectors at capacity; R-tree nodes estimated
    /// from their entry counts).
    pub fn heap_bytes(&self) -> usize {
        let fences = self.fences.capacity() * std::mem::size_of::<FenceInfo>()
            + self
                .fences
                .iter()
                .map(|f| f.id.len() + f.name.len() + 32)
                .sum::<usize>();
        let keys = self
            .by_key
            .iter()
            .map(|m| m.capacity() * (std::mem::size_of::<(Arc<str>, u32)>() + 8))
            .sum::<usize>();
        let polygons = self.polygons.capacity() * std::mem::size_of::<RawPolygon>()
            + self
                .polygons
                .iter()
                .map(RawPolygon::heap_bytes)
                .sum::<usize>();
        let routes = self.routes.capacity() * std::mem::size_of::<RawRoute>()
            + self
                .routes
                .iter()
                .map(|r| r.segments.capacity() * 32)
                .sum::<usize>();
        // rstar nodes hold their children in vectors of at most 6 entries plus an envelope;
        // twice the leaf size is a safe upper estimate of leaves plus inner nodes.
        let trees = 2
            * ((self.part_tree.size() + self.restricted_tree.size())
                * std::mem::size_of::<PartEntry>()
                + self.segment_tree.size() * std::mem::size_of::<SegEntry>());
        fences + keys + polygons + routes + trees + self.grid.heap_bytes()
    }

    fn polygon_of(&self, slot: FenceSlot) -> Option<&RawPolygon> {
        match self.fence(slot)?.geom {
            FenceGeom::Polygon { polygon } => self.polygons.get(polygon as usize),
            FenceGeom::Corridor { .. } => None,
        }
    }

    fn route_of(&self, slot: FenceSlot) -> Option<(&RawRoute, f64)> {
        match self.fence(slot)?.geom {
            FenceGeom::Corridor { route } => {
                let r = self.routes.get(route as usize)?;
                Some((r, r.width_m))
            }
            FenceGeom::Polygon { .. } => None,
        }
    }
}

/// Whether the segment `a`-`b` meets the box `[min x, min y, max x, max y]` (Liang-Barsky).
fn segment_meets_box(a: (f64, f64), b: (f64, f64), bx: [f64; 4]) -> bool {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    for (p, q) in [
        (-dx, a.0 - bx[0]),
        (dx, bx[2] - a.0),
        (-dy, a.1 - bx[1]),
        (dy, bx[3] - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    t0 <= t1
}

/// Fraction of the segment `a`-`b` that lies inside the polygon: split the segment at every
/// edge crossing and test the midpoint of each piece.
fn inside_fraction(poly: &RawPolygon, a: (f64, f64), b: (f64, f64)) -> f64 {
    let mut cuts: Vec<f64> = vec![0.0, 1.0];
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    for [x0, y0, x1, y1] in poly.edges() {
        let (ex, ey) = (x1 - x0, y1 - y0);
        let denom = dx * ey - dy * ex;
        if denom == 0.0 {
            continue;
        }
        let t = ((x0 - a.0) * ey - (y0 - a.1) * ex) / denom;
        let u = ((x0 - a.0) * dy - (y0 - a.1) * dx) / denom;
        if (0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u) {
            cuts.push(t);
        }
    }
    cuts.sort_by(f64::total_cmp);
    cuts.windows(2)
        .filter(|w| w[1] > w[0])
        .filter(|w| {
            let m = (w[0] + w[1]) / 2.0;
            poly.contains(a.0 + dx * m, a.1 + dy * m)
        })
        .map(|w| w[1] - w[0])
        .sum()
}

#[derive(Default)]
struct Builder {
    /// Fences so far.
    fences: Vec<FenceInfo>,
    /// Slots by id, per family.
    by_key: [HashMap<Arc<str>, FenceSlot>; 4],
    /// Polygon geometries.
    polygons: Vec<RawPolygon>,
    /// Route geometries.
    routes: Vec<RawRoute>,
    /// Polygon part boxes for the R-tree.
    parts: Vec<PartEntry>,
    /// Widened segment boxes for the R-tree.
    segs: Vec<SegEntry>,
    /// Fences left out.
    skipped: Vec<SkippedFence>,
}

/// Position of a fence family in the per-family id maps.
fn family_index(family: &str) -> Option<usize> {
    match family {
        "site" => Some(0),
        "disposal_ground" => Some(1),
        "zone" => Some(2),
        "route" => Some(3),
        _ => None,
    }
}

fn valid_coord(x: f64, y: f64) -> bool {
    x.is_finite() && y.is_finite() && (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y)
}

fn bbox_of(points: impl Iterator<Item = (f64, f64)>) -> Option<[f64; 4]> {
    let mut acc: Option<[f64; 4]> = None;
    for (x, y) in points {
        acc = Some(match acc {
            None => [x, y, x, y],
            Some(b) => [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)],
        });
    }
    acc
}

impl Builder {
    fn skip(&mut self, kind: FenceKind, id: &str, version: GeometryVersion, reason: &str) {
        tracing::warn!(
            fence = id,
            kind = kind.family(),
            reason,
            "Fence left out of the index."
        );
        self.skipped.push(SkippedFence {
            fence: FenceRef {
                kind: kind.family().to_string(),
                id: id.to_string(),
                version,
            },
            reason: reason.to_string(),
        });
    }

    fn claim_slot(&mut self, kind: FenceKind, id: &str, version: GeometryVersion) -> Option<u32> {
        let family = family_index(kind.family()).unwrap_or(0);
        if self.by_key.get(family).is_some_and(|m| m.contains_key(id)) {
            self.skip(kind, id, version, "duplicate id");
            return None;
        }
        let slot = self.fences.len() as u32;
        if slot > grid::SLOT_MASK {
            self.skip(kind, id, version, "too many fences");
            return None;
        }
        if let Some(m) = self.by_key.get_mut(family) {
            m.insert(Arc::from(id), slot);
        }
        Some(slot)
    }

    fn add_polygon(
        &mut self,
        kind: FenceKind,
        id: &str,
        name: &str,
        version: GeometryVersion,
        speed_limit_kmh: Option<f64>,
        geometry: &MultiPolygon<f64>,
    ) {
        let mut coords: Vec<[f64; 2]> = Vec::new();
        let mut ring_ends = Vec::new();
        let mut part_boxes = Vec::new();
        for polygon in geometry {
            let rings = std::iter::once(polygon.exterior()).chain(polygon.interiors());
            for (ri, ring) in rings.enumerate() {
                let pts: Vec<[f64; 2]> = ring.coords().map(|c| [c.x, c.y]).collect();
                if pts.iter().any(|p| !valid_coord(p[0], p[1])) {
                    self.skip(
                        kind,
                        id,
                        version,
                        "coordinate not finite or out of WGS-84 range",
                    );
                    return;
                }
                let mut distinct = pts.clone();
                distinct.dedup();
                if distinct.len() < 3 {
                    if ri == 0 {
                        // An empty or degenerate exterior makes the part empty; skip the part.
                        break;
                    }
                    continue;
                }
                if ri == 0
                    && let Some(b) = bbox_of(pts.iter().map(|p| (p[0], p[1])))
                {
                    part_boxes.push(b);
                }
                let closes = pts.first() == pts.last();
                coords.extend_from_slice(&pts);
                if !closes && let Some(&first) = pts.first() {
                    coords.push(first);
                }
                ring_ends.push(coords.len() as u32);
            }
        }
        let Some(bbox) = bbox_of(coords.iter().map(|p| (p[0], p[1]))) else {
            self.skip(
                kind,
                id,
                version,
                "no polygon with at least three distinct vertices",
            );
            return;
        };
        let Some(slot) = self.claim_slot(kind, id, version) else {
            return;
        };
        for b in part_boxes {
            self.parts.push(GeomWithData::new(
                Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]),
                slot,
            ));
        }
        let polygon = self.polygons.len() as u32;
        self.polygons.push(RawPolygon {
            coords,
            ring_ends,
            bbox,
        });
        self.fences.push(FenceInfo {
            kind,
            id: Arc::from(id),
            name: Arc::from(name),
            version,
            speed_limit_kmh: speed_limit_kmh.filter(|v| v.is_finite() && *v > 0.0),
            corridor_m: 0.0,
            bbox,
            reach_bbox: bbox,
            geom: FenceGeom::Polygon { polygon },
        });
    }

    fn add_route(
        &mut self,
        id: &str,
        name: &str,
        version: GeometryVersion,
        speed_limit_kmh: Option<f64>,
        width_m: f64,
        geometry: &MultiLineString<f64>,
    ) {
        let kind = FenceKind::Route;
        let mut segments = Vec::new();
        for line in geometry {
            for w in line.0.windows(2) {
                let (a, b) = (w[0], w[1]);
                if !valid_coord(a.x, a.y) || !valid_coord(b.x, b.y) {
                    self.skip(
                        kind,
                        id,
                        version,
                        "coordinate not finite or out of WGS-84 range",
                    );
                    return;
                }
                segments.push([a.x, a.y, b.x, b.y]);
            }
            if line.0.len() == 1
                && let Some(c) = line.0.first()
                && valid_coord(c.x, c.y)
            {
                segments.push([c.x, c.y, c.x, c.y]);
            }
        }
        let Some(bbox) = bbox_of(segments.iter().flat_map(|s| [(s[0], s[1]), (s[2], s[3])])) else {
            self.skip(kind, id, version, "route has no segment");
            return;
        };
        let Some(slot) = self.claim_slot(kind, id, version) else {
            return;
        };
        let far_lat = if bbox[1].abs() > bbox[3].abs() {
            bbox[1]
        } else {
            bbox[3]
        };
        let m = LocalMetric::at_lat(far_lat);
        let (dx, dy) = (width_m / m.kx * 1.01, width_m / m.ky * 1.01);
        for (si, s) in segments.iter().enumerate() {
            let seg_lat = if s[1].abs() > s[3].abs() { s[1] } else { s[3] };
            let sm = LocalMetric::at_lat(seg_lat);
            let (sdx, sdy) = (width_m / sm.kx * 1.01, width_m / sm.ky * 1.01);
            self.segs.push(GeomWithData::new(
                Rectangle::from_corners(
                    [s[0].min(s[2]) - sdx, s[1].min(s[3]) - sdy],
                    [s[0].max(s[2]) + sdx, s[1].max(s[3]) + sdy],
                ),
                (slot, si as u32),
            ));
        }
        let route = self.routes.len() as u32;
        self.routes.push(RawRoute { segments, width_m });
        self.fences.push(FenceInfo {
            kind,
            id: Arc::from(id),
            name: Arc::from(name),
            version,
            speed_limit_kmh: speed_limit_kmh.filter(|v| v.is_finite() && *v > 0.0),
            corridor_m: width_m,
            bbox,
            reach_bbox: [bbox[0] - dx, bbox[1] - dy, bbox[2] + dx, bbox[3] + dy],
            geom: FenceGeom::Corridor { route },
        });
    }
}

#[cfg(test)]
mod tests;
