//! The hot-path point classifier: a uniform grid over the fence extent whose cells list, per
//! fence, either "the whole cell is inside" or the few edges (polygons) or segments (corridors)
//! needed to decide a point in that cell exactly.
//!
//! Memory layout: a lookup is bound by memory latency, not arithmetic, so each cell owns one
//! 64-byte cache line, addressed straight from the point's coordinates. A cell whose records
//! fit in the line (most: empty, whole-cell, or one or two short boundary records) is decided
//! with that single line; a longer cell keeps what fits in its line and the rest of its
//! records in an overflow stream, whose load then overlaps with testing the inline ones.
//!
//! Why a grid on top of the R-tree: an R-tree lookup plus a full point-in-polygon test costs
//! about a microsecond per point; most points fall in cells wholly inside or outside every
//! fence, and the rest need two or three edge tests.
//!
//! Polygon exactness: for a point in a cell, the crossing-number ray (towards +x) only meets
//! edges that overlap the cell's horizontal band and reach at least its left border. The
//! builder stores exactly those edges, clipped to the band, except edges that lie wholly to the
//! right of the cell and span the whole band: they cross every ray from the cell, so they fold
//! into one parity bit. The result equals a full crossing test up to `f32` rounding of
//! coordinates relative to the cell (well under a millimetre).

use super::{FenceGeom, FenceInfo, RawPolygon, RawRoute};
use crate::engine::metric::{LocalMetric, segment_distance2};

/// Record header bit: the fence covers the whole cell.
const FULL: u32 = 1 << 31;
/// Record header bit: the base parity of a polygon record is "inside".
const PARITY: u32 = 1 << 30;
/// Record header bit: the record is a route corridor, not a polygon.
const CORRIDOR: u32 = 1 << 29;
/// Mask of the fence slot in a record header.
pub(crate) const SLOT_MASK: u32 = (1 << 26) - 1;
/// Largest quantised coordinate inside a cell.
const QMAX: f64 = 65535.0;

/// Margin, in degrees, by which cell bands are widened so that points rounded into a
/// neighbouring cell by the index arithmetic are still decided from the right edges.
const BAND_EPS: f64 = 1e-9;
/// Margin in metres inside which a corridor must cover all of a cell's corners before the
/// cell counts as wholly covered; absorbs `f32` rounding and the per-row metric.
const FULL_COVER_MARGIN_M: f64 = 0.01;
/// Extra reach in metres when choosing candidate segments for a corridor cell.
const SEGMENT_REACH_MARGIN_M: f64 = 0.5;

/// Grid over the fence extent. See the module docs for the record format.
#[derive(Debug, Default)]
pub(crate) struct Grid {
    /// Longitude of the grid's west edge.
    origin_x: f64,
    /// Latitude of the grid's south edge.
    origin_y: f64,
    /// Cell width in degrees of longitude.
    cell_w: f64,
    /// Cell height in degrees of latitude.
    cell_h: f64,
    /// `1 / cell_w`, so lookups multiply instead of divide.
    inv_w: f64,
    /// `1 / cell_h`.
    inv_h: f64,
    /// Columns.
    nx: u32,
    /// Rows.
    ny: u32,
    /// One line per cell (`nx * ny`): its record words inline, or where they sit in
    /// `overflow`. See [`CellLine`].
    lines: HugeTable<CellLine>,
    /// Record runs of the cells too long for their line.
    overflow: HugeTable<u32>,
    /// Metres per degree (lon, lat) at each row's centre, for corridor distances.
    row_metric: Vec<[f32; 2]>,
    /// Polygon quantisation: a coordinate `d` degrees east of a cell's west edge is stored
    /// as `(d + margin_x) * scale_x` in a `u16`; likewise north of the south edge.
    poly_q: PolyQuant,
    /// Corridor quantisation per fence slot (unused for polygons).
    corridor_q: Vec<CorridorQuant>,
}

/// Words in a cell line.
const LINE_WORDS: usize = 16;

/// A cell's line: word 0 is the number `n` of record words held in the line, with
/// [`LINE_OVERFLOW`] set when more records sit in the overflow stream. Without overflow the
/// records are words `1..=n`; with it, word 1 is the offset of the cell's overflow run, word 2
/// its length, and the inline records are words `3..3 + n`. Records are never split. Aligned
/// so a line is exactly one cache line.
#[derive(Debug, Default, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct CellLine([u32; LINE_WORDS]);

/// Line header bit: some of the cell's records are in the overflow stream.
const LINE_OVERFLOW: u32 = 1 << 31;
/// Record words a line holds when it also points to an overflow run.
const LINE_WORDS_WITH_OVERFLOW: usize = LINE_WORDS - 3;

/// Tables at least this large go in their own mapping with huge pages requested.
const HUGE_TABLE_MIN_BYTES: usize = 2 << 20;

/// A read-only table that the kernel is asked to back with 2 MB pages. Lookups land on
/// random cells of tens of megabytes; with 4 KB pages nearly every one also misses the TLB,
/// and a page walk (nested, under a hypervisor) costs as much as the load itself.
#[derive(Debug)]
enum HugeTable<T> {
    /// An anonymous mapping holding the items (with `MADV_HUGEPAGE` where supported).
    Mapped(memmap2::Mmap, std::marker::PhantomData<T>),
    /// Small tables, or if the mapping failed: an ordinary allocation.
    Heap(Vec<T>),
}

impl<T> Default for HugeTable<T> {
    fn default() -> HugeTable<T> {
        HugeTable::Heap(Vec::new())
    }
}

impl<T: bytemuck::Pod> HugeTable<T> {
    fn new(items: Vec<T>) -> HugeTable<T> {
        let bytes: &[u8] = bytemuck::cast_slice(&items);
        if bytes.len() < HUGE_TABLE_MIN_BYTES {
            return HugeTable::Heap(items);
        }
        let mapped = memmap2::MmapMut::map_anon(bytes.len()).and_then(|mut map| {
            // Advice only: without transparent huge pages the table still works.
            if let Err(error) = map.advise(memmap2::Advice::HugePage) {
                tracing::debug!(%error, "Huge pages not available for the fence grid.");
            }
            map.copy_from_slice(bytes);
            map.make_read_only()
        });
        match mapped {
            Ok(map) => HugeTable::Mapped(map, std::marker::PhantomData),
            Err(error) => {
                tracing::debug!(%error, "Fence grid table kept on the heap.");
                HugeTable::Heap(items)
            }
        }
    }

    #[inline]
    fn as_slice(&self) -> &[T] {
        match self {
            // A page-aligned mapping of a whole number of items always casts.
            HugeTable::Mapped(map, _) => bytemuck::try_cast_slice(map).unwrap_or(&[]),
            HugeTable::Heap(items) => items,
        }
    }

    fn bytes(&self) -> usize {
        match self {
            HugeTable::Mapped(map, _) => map.len(),
            HugeTable::Heap(items) => items.capacity() * std::mem::size_of::<T>(),
        }
    }
}

/// Quantisation of polygon records, shared by every cell.
#[derive(Debug, Default, Clone, Copy)]
struct PolyQuant {
    /// Degrees added west of the cell before scaling, so clipped pieces on the border fit.
    margin_x: f64,
    /// Degrees added south of the cell.
    margin_y: f64,
    /// Quantised units per degree of longitude.
    scale_x: f64,
    /// Quantised units per degree of latitude.
    scale_y: f64,
}

/// Quantisation of one corridor's records: segments are clipped to the cell widened by the
/// corridor's reach, in metres, then scaled into `u16`.
#[derive(Debug, Default, Clone, Copy)]
struct CorridorQuant {
    /// Metres added west and south of the cell before scaling.
    offset_m: f32,
    /// Quantised units per metre (the same on both axes, so distances keep their shape).
    scale: f32,
    /// Squared corridor width in quantised units.
    width2_q: f32,
}

/// What one lookup found; reused across calls to avoid allocation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Hits {
    /// Polygon fences (sites, disposal grounds, zones) containing the point.
    pub polygons: Vec<u32>,
    /// Route corridors within their width of the point.
    pub corridors: Vec<u32>,
}

impl Hits {
    /// Empties both lists, keeping their capacity.
    pub fn clear(&mut self) {
        self.polygons.clear();
        self.corridors.clear();
    }

    /// Sorts both lists, for comparisons in tests and deterministic output.
    pub fn sort(&mut self) {
        self.polygons.sort_unstable();
        self.corridors.sort_unstable();
    }
}

/// Record counts of a grid, reported with each build so memory use can be explained.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GridStats {
    /// Cells.
    pub cells: u64,
    /// Record words of all cells.
    pub words: usize,
    /// Cells whose records do not fit in their line.
    pub overflow_cells: usize,
    /// Words in the overflow stream.
    pub overflow_words: usize,
    /// Whole-cell records.
    pub full: usize,
    /// Polygon boundary records.
    pub polygon_records: usize,
    /// Border crossings stored in polygon records.
    pub border_crossings: usize,
    /// Edge pieces stored in polygon records.
    pub edge_pieces: usize,
    /// Corridor boundary records.
    pub corridor_records: usize,
    /// Segments stored in corridor records.
    pub segments: usize,
}

impl GridStats {
    /// Adds up the records of one cell's run.
    fn count_records(&mut self, mut rest: &[u32]) {
        while let Some((&h, tail)) = rest.split_first() {
            rest = tail;
            if h & FULL != 0 {
                self.full += 1;
                continue;
            }
            let n = rest.first().copied().unwrap_or(0) as usize;
            if h & CORRIDOR != 0 {
                self.corridor_records += 1;
                self.segments += n;
                rest = rest.get(1 + 2 * n..).unwrap_or(&[]);
            } else {
                let pieces = rest.get(1).copied().unwrap_or(0) as usize;
                self.polygon_records += 1;
                self.border_crossings += n;
                self.edge_pieces += pieces;
                rest = rest.get(2 + n.div_ceil(2) + 2 * pieces..).unwrap_or(&[]);
            }
        }
    }
}

/// Parameters of the grid, derived from the configuration and the fence extent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GridParams {
    /// Wanted cell edge in metres.
    pub cell_m: f64,
    /// Upper bound on the number of cells; the cell grows when the extent needs more.
    pub max_cells: u64,
}

/// One record being built: which cell, and where its words sit in the scratch stream.
struct PendingRecord {
    /// Cell of the record.
    cell: u32,
    /// First word in the scratch stream.
    start: u32,
    /// Words.
    len: u32,
}

impl Grid {
    /// Builds the grid for `fences` whose geometry is in `polygons` / `routes`.
    pub(crate) fn build(
        fences: &[FenceInfo],
        polygons: &[RawPolygon],
        routes: &[RawRoute],
        params: GridParams,
    ) -> Grid {
        let Some(extent) = union_bbox(fences) else {
            return Grid::default();
        };
        let centre_lat = (extent[1] + extent[3]) / 2.0;
        let metric = LocalMetric::at_lat(centre_lat);
        let mut cell_w = params.cell_m.max(0.01) / metric.kx;
        let mut cell_h = params.cell_m.max(0.01) / metric.ky;
        let span_x = (extent[2] - extent[0]).max(cell_w);
        let span_y = (extent[3] - extent[1]).max(cell_h);
        let wanted = (span_x / cell_w + 2.0) * (span_y / cell_h + 2.0);
        let max_cells = params.max_cells.max(1) as f64;
        if wanted > max_cells {
            let grow = (wanted / max_cells).sqrt() * 1.01;
            cell_w *= grow;
            cell_h *= grow;
        }
        // Shift the origin by an odd fraction of a cell so that grid lines rarely coincide with
        // round coordinates that hand-drawn fences like to use.
        let origin_x = extent[0] - cell_w * 0.618_033_988_7;
        let origin_y = extent[1] - cell_h * 0.381_966_011_3;
        let nx = (((extent[2] - origin_x) / cell_w).floor() as u32).saturating_add(1);
        let ny = (((extent[3] - origin_y) / cell_h).floor() as u32).saturating_add(1);
        let row_metric: Vec<[f32; 2]> = (0..ny)
            .map(|r| {
                let lat = origin_y + (f64::from(r) + 0.5) * cell_h;
                let m = LocalMetric::at_lat(lat);
                [m.kx as f32, m.ky as f32]
            })
            .collect();
        let margin_x = cell_w / 1024.0 + BAND_EPS * 2.0;
        let margin_y = cell_h / 1024.0 + BAND_EPS * 2.0;
        let poly_q = PolyQuant {
            margin_x,
            margin_y,
            scale_x: QMAX / (cell_w + 2.0 * margin_x),
            scale_y: QMAX / (cell_h + 2.0 * margin_y),
        };
        let max_cell_m = row_metric
            .iter()
            .map(|&[kx, ky]: &[f32; 2]| (cell_w * f64::from(kx)).max(cell_h * f64::from(ky)))
            .fold(0.0, f64::max)
            * 1.01;
        let corridor_q = fences
            .iter()
            .map(|f| {
                if matches!(f.geom, FenceGeom::Corridor { .. }) {
                    let reach = f.corridor_m + SEGMENT_REACH_MARGIN_M;
                    let scale = QMAX / (max_cell_m + 2.0 * reach);
                    let w = f.corridor_m * scale;
                    CorridorQuant {
                        offset_m: reach as f32,
                        scale: scale as f32,
                        width2_q: (w * w) as f32,
                    }
                } else {
                    CorridorQuant::default()
                }
            })
            .collect();
        let mut grid = Grid {
            origin_x,
            origin_y,
            cell_w,
            cell_h,
            inv_w: 1.0 / cell_w,
            inv_h: 1.0 / cell_h,
            nx,
            ny,
            lines: HugeTable::default(),
            overflow: HugeTable::default(),
            row_metric,
            poly_q,
            corridor_q,
        };
        let mut scratch = Vec::new();
        let mut records = Vec::new();
        for (slot, fence) in fences.iter().enumerate() {
            match &fence.geom {
                FenceGeom::Polygon { polygon } => {
                    if let Some(poly) = polygons.get(*polygon as usize) {
                        grid.add_polygon(slot as u32, poly, &mut scratch, &mut records);
                    }
                }
                FenceGeom::Corridor { route } => {
                    if let Some(route) = routes.get(*route as usize) {
                        grid.add_corridor(slot as u32, route, &mut scratch, &mut records);
                    }
                }
            }
        }
        grid.pack(&scratch, records);
        grid
    }

    /// Heap memory held by the grid, in bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.lines.bytes()
            + self.overflow.bytes()
            + self.row_metric.capacity() * 8
            + self.corridor_q.capacity() * std::mem::size_of::<CorridorQuant>()
    }

    /// Record counts, for diagnostics and the memory report.
    pub(crate) fn stats(&self) -> GridStats {
        let mut st = GridStats {
            cells: self.cells(),
            overflow_cells: self
                .lines
                .as_slice()
                .iter()
                .filter(|l| l.0[0] & LINE_OVERFLOW != 0)
                .count(),
            overflow_words: self.overflow.as_slice().len(),
            ..GridStats::default()
        };
        for cell in 0..self.lines.as_slice().len() {
            let (inline, overflow) = self.cell_records(cell);
            st.words += inline.len() + overflow.len();
            st.count_records(inline);
            st.count_records(overflow);
        }
        st
    }

    /// The record words of a cell: those in its line and those in the overflow stream (both
    /// empty outside the grid).
    #[inline]
    fn cell_records(&self, cell: usize) -> (&[u32], &[u32]) {
        let Some(line) = self.lines.as_slice().get(cell) else {
            return (&[], &[]);
        };
        let head = line.0[0];
        let n = (head & !LINE_OVERFLOW) as usize;
        if head & LINE_OVERFLOW == 0 {
            (line.0.get(1..1 + n).unwrap_or(&[]), &[])
        } else {
            let (at, len) = (line.0[1] as usize, line.0[2] as usize);
            (
                line.0.get(3..3 + n).unwrap_or(&[]),
                self.overflow.as_slice().get(at..at + len).unwrap_or(&[]),
            )
        }
    }

    /// Number of cells.
    pub(crate) fn cells(&self) -> u64 {
        u64::from(self.nx) * u64::from(self.ny)
    }

    /// Cell edge length in metres at the grid's centre (for reports).
    pub(crate) fn cell_size_m(&self) -> (f64, f64) {
        let lat = self.origin_y + self.cell_h * f64::from(self.ny) / 2.0;
        let m = LocalMetric::at_lat(lat);
        (self.cell_w * m.kx, self.cell_h * m.ky)
    }

    fn cell_range_x(&self, min_x: f64, max_x: f64) -> Option<(u32, u32)> {
        clamp_range(
            (min_x - self.origin_x) * self.inv_w,
            (max_x - self.origin_x) * self.inv_w,
            self.nx,
        )
    }

    fn cell_range_y(&self, min_y: f64, max_y: f64) -> Option<(u32, u32)> {
        clamp_range(
            (min_y - self.origin_y) * self.inv_h,
            (max_y - self.origin_y) * self.inv_h,
            self.ny,
        )
    }

    fn cell_x0(&self, cx: u32) -> f64 {
        self.origin_x + f64::from(cx) * self.cell_w
    }

    fn cell_y0(&self, cy: u32) -> f64 {
        self.origin_y + f64::from(cy) * self.cell_h
    }

    fn add_polygon(
        &self,
        slot: u32,
        poly: &RawPolygon,
        scratch: &mut Vec<u32>,
        records: &mut Vec<PendingRecord>,
    ) {
        let Some((cx0, cx1)) = self.cell_range_x(poly.bbox[0], poly.bbox[2]) else {
            return;
        };
        let Some((cy0, cy1)) = self.cell_range_y(poly.bbox[1], poly.bbox[3]) else {
            return;
        };
        let width = (cx1 - cx0 + 1) as usize;
        let mut band_edges: Vec<BandEdge> = Vec::new();
        let mut touched = vec![false; width];
        let mut crossings: Vec<u16> = Vec::new();
        let mut pieces: Vec<[u16; 4]> = Vec::new();
        for cy in cy0..=cy1 {
            let y0 = self.cell_y0(cy);
            let band_lo = y0 - BAND_EPS;
            let band_hi = y0 + self.cell_h + BAND_EPS;
            band_edges.clear();
            for e in poly.edges() {
                if let Some(be) = BandEdge::clip(e, band_lo, band_hi) {
                    band_edges.push(be);
                }
            }
            if band_edges.is_empty() {
                continue;
            }
            touched.iter_mut().for_each(|t| *t = false);
            for be in &band_edges {
                if let Some((a, b)) = self.cell_range_x(be.x_min - BAND_EPS, be.x_max + BAND_EPS) {
                    for cx in a.max(cx0)..=b.min(cx1) {
                        if let Some(t) = touched.get_mut((cx - cx0) as usize) {
                            *t = true;
                        }
                    }
                }
            }
            for cx in cx0..=cx1 {
                let x0 = self.cell_x0(cx);
                let cell = cy * self.nx + cx;
                if !touched.get((cx - cx0) as usize).copied().unwrap_or(true) {
                    // No edge reaches the cell: it is wholly inside or wholly outside.
                    let px = x0 + self.cell_w / 2.0;
                    let py = y0 + self.cell_h / 2.0;
                    if poly_parity(&band_edges, px, py) {
                        let start = scratch.len() as u32;
                        scratch.push(slot | FULL);
                        records.push(PendingRecord {
                            cell,
                            start,
                            len: 1,
                        });
                    }
                    continue;
                }
                // The ray from a point of this cell meets the pieces of edges inside the cell,
                // then, beyond the right border x = right, whatever the point (right, y) sees.
                // That is the parity at (right, band_lo), flipped at every height where the
                // boundary crosses the border line.
                let right = x0 + self.cell_w;
                let base = poly_parity_full(&band_edges, right, band_lo);
                crossings.clear();
                pieces.clear();
                let q = self.poly_q;
                let qx = |x: f64| quantise((x - x0 + q.margin_x) * q.scale_x);
                let qy = |y: f64| quantise((y - y0 + q.margin_y) * q.scale_y);
                for be in &band_edges {
                    // A horizontal edge across the border flips the parity at its height too:
                    // the edges joined at its ends start or stop straddling there, one on each
                    // side of the border.
                    if (be.ax >= right) != (be.bx >= right) {
                        let yc = if be.horizontal {
                            be.ay
                        } else {
                            be.ay + (right - be.ax) * (be.by - be.ay) / (be.bx - be.ax)
                        };
                        crossings.push(qy(yc));
                    }
                    if be.horizontal {
                        continue;
                    }
                    if let Some([ax, ay, bx, by]) = clip_x(be, x0 - BAND_EPS, right) {
                        pieces.push([qx(ax), qy(ay), qx(bx), qy(by)]);
                    }
                }
                let start = scratch.len() as u32;
                if crossings.is_empty() && pieces.is_empty() {
                    if base {
                        scratch.push(slot | FULL);
                    } else {
                        continue;
                    }
                } else {
                    scratch.push(slot | if base { PARITY } else { 0 });
                    scratch.push(crossings.len() as u32);
                    scratch.push(pieces.len() as u32);
                    for pair in crossings.chunks(2) {
                        let lo = u32::from(pair.first().copied().unwrap_or(0));
                        let hi = u32::from(pair.get(1).copied().unwrap_or(0));
                        scratch.push(lo | hi << 16);
                    }
                    for p in &pieces {
                        scratch.push(u32::from(p[0]) | u32::from(p[1]) << 16);
                        scratch.push(u32::from(p[2]) | u32::from(p[3]) << 16);
                    }
                }
                records.push(PendingRecord {
                    cell,
                    start,
                    len: scratch.len() as u32 - start,
                });
            }
        }
    }

    fn add_corridor(
        &self,
        slot: u32,
        route: &RawRoute,
        scratch: &mut Vec<u32>,
        records: &mut Vec<PendingRecord>,
    ) {
        let width = route.width_m;
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (si, seg) in route.segments.iter().enumerate() {
            let [ax, ay, bx, by] = *seg;
            let (min_x, max_x) = (ax.min(bx), ax.max(bx));
            let (min_y, max_y) = (ay.min(by), ay.max(by));
            let far_lat = if min_y.abs() > max_y.abs() {
                min_y
            } else {
                max_y
            };
            let m = LocalMetric::at_lat(far_lat);
            let reach = width + SEGMENT_REACH_MARGIN_M + 1.0;
            let dx = reach / m.kx * 1.01;
            let dy = reach / m.ky * 1.01;
            let Some((cx0, cx1)) = self.cell_range_x(min_x - dx, max_x + dx) else {
                continue;
            };
            let Some((cy0, cy1)) = self.cell_range_y(min_y - dy, max_y + dy) else {
                continue;
            };
            for cy in cy0..=cy1 {
                let [kx, ky] = self.metric_of_row(cy);
                let y0 = self.cell_y0(cy);
                let h_m = self.cell_h * ky;
                for cx in cx0..=cx1 {
                    let x0 = self.cell_x0(cx);
                    let w_m = self.cell_w * kx;
                    let a = ((ax - x0) * kx, (ay - y0) * ky);
                    let b = ((bx - x0) * kx, (by - y0) * ky);
                    let d2 = rect_segment_distance2(w_m, h_m, a, b);
                    let r = width + SEGMENT_REACH_MARGIN_M;
                    if d2 <= r * r {
                        pairs.push((cy * self.nx + cx, si as u32));
                    }
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let full_r = (width - FULL_COVER_MARGIN_M).max(0.0);
        let full_r2 = full_r * full_r;
        let mut i = 0;
        while i < pairs.len() {
            let cell = pairs.get(i).map(|p| p.0).unwrap_or(0);
            let mut j = i;
            while pairs.get(j).is_some_and(|p| p.0 == cell) {
                j += 1;
            }
            let cy = cell / self.nx.max(1);
            let cx = cell % self.nx.max(1);
            let [kx, ky] = self.metric_of_row(cy);
            let x0 = self.cell_x0(cx);
            let y0 = self.cell_y0(cy);
            let w_m = self.cell_w * kx;
            let h_m = self.cell_h * ky;
            let corners = [(0.0, 0.0), (w_m, 0.0), (0.0, h_m), (w_m, h_m)];
            let segs = pairs.get(i..j).unwrap_or(&[]);
            let rel = |si: u32| -> Option<[f64; 4]> {
                let [ax, ay, bx, by] = *route.segments.get(si as usize)?;
                Some([
                    (ax - x0) * kx,
                    (ay - y0) * ky,
                    (bx - x0) * kx,
                    (by - y0) * ky,
                ])
            };
            let full = full_r > 0.0
                && segs.iter().any(|&(_, si)| {
                    rel(si).is_some_and(|[ax, ay, bx, by]| {
                        corners.iter().all(|&(px, py)| {
                            segment_distance2(px - ax, py - ay, bx - ax, by - ay) <= full_r2
                        })
                    })
                });
            let start = scratch.len() as u32;
            if full {
                scratch.push(slot | CORRIDOR | FULL);
            } else {
                let cq = self
                    .corridor_q
                    .get(slot as usize)
                    .copied()
                    .unwrap_or_default();
                let reach = f64::from(cq.offset_m);
                let scale = f64::from(cq.scale);
                let q = |v: f64| quantise((v + reach) * scale);
                let count_at = scratch.len();
                scratch.push(slot | CORRIDOR);
                scratch.push(0);
                let mut n = 0u32;
                for &(_, si) in segs {
                    let Some(r) = rel(si) else { continue };
                    let Some([ax, ay, bx, by]) =
                        clip_segment(r, -reach, -reach, w_m + reach, h_m + reach)
                    else {
                        continue;
                    };
                    scratch.push(u32::from(q(ax)) | u32::from(q(ay)) << 16);
                    scratch.push(u32::from(q(bx)) | u32::from(q(by)) << 16);
                    n += 1;
                }
                if n == 0 {
                    scratch.truncate(count_at);
                    i = j;
                    continue;
                }
                if let Some(c) = scratch.get_mut(count_at + 1) {
                    *c = n;
                }
            }
            records.push(PendingRecord {
                cell,
                start,
                len: scratch.len() as u32 - start,
            });
            i = j;
        }
    }

    fn metric_of_row(&self, cy: u32) -> [f64; 2] {
        let [kx, ky] = self
            .row_metric
            .get(cy as usize)
            .copied()
            .unwrap_or([1.0, 1.0]);
        [f64::from(kx), f64::from(ky)]
    }

    /// Packs the scratch records into the per-cell stream (a counting sort by cell).
    fn pack(&mut self, scratch: &[u32], mut records: Vec<PendingRecord>) {
        let cells = self.cells() as usize;
        // Records arrive fence by fence; a stable sort groups them by cell in that order.
        records.sort_by_key(|r| r.cell);
        let mut lines = vec![CellLine::default(); cells];
        let mut overflow = Vec::new();
        let words_of = |r: &PendingRecord| {
            scratch
                .get(r.start as usize..(r.start + r.len) as usize)
                .unwrap_or(&[])
        };
        for group in records.chunk_by(|a, b| a.cell == b.cell) {
            let Some(line) = group.first().and_then(|r| lines.get_mut(r.cell as usize)) else {
                continue;
            };
            let total: usize = group.iter().map(|r| r.len as usize).sum();
            let spills = total >= LINE_WORDS;
            let (first, room) = if spills {
                (3, LINE_WORDS_WITH_OVERFLOW)
            } else {
                (1, LINE_WORDS - 1)
            };
            // First fit: whole records into the line while they fit, the rest overflow (none
            // when the cell's records fit in all).
            let (offset, mut inline) = (overflow.len(), 0usize);
            for r in group {
                let src = words_of(r);
                let at = first + inline;
                match line.0.get_mut(at..at + src.len()) {
                    Some(dst) if inline + src.len() <= room => {
                        dst.copy_from_slice(src);
                        inline += src.len();
                    }
                    _ => overflow.extend_from_slice(src),
                }
            }
            line.0[0] = inline as u32;
            if spills {
                line.0[0] |= LINE_OVERFLOW;
                line.0[1] = offset as u32;
                line.0[2] = (overflow.len() - offset) as u32;
            }
        }
        self.lines = HugeTable::new(lines);
        self.overflow = HugeTable::new(overflow);
    }

    /// The cell of a point, if it is inside the grid.
    #[inline]
    fn cell_of(&self, lon: f64, lat: f64) -> Option<(u32, u32)> {
        let fx = (lon - self.origin_x) * self.inv_w;
        let fy = (lat - self.origin_y) * self.inv_h;
        // Written so that NaN fails the test too.
        if !(fx >= 0.0 && fy >= 0.0 && fx < f64::from(self.nx) && fy < f64::from(self.ny)) {
            return None;
        }
        Some((fx as u32, fy as u32))
    }

    /// The line of a point's cell, if the point is inside the grid.
    #[inline]
    fn line_of(&self, lon: f64, lat: f64) -> Option<&CellLine> {
        let (cx, cy) = self.cell_of(lon, lat)?;
        self.lines.as_slice().get((cy * self.nx + cx) as usize)
    }

    /// Loads a point's cell line without using it (first stage of [`Grid::touch`]).
    #[inline]
    pub(crate) fn touch_cell(&self, lon: f64, lat: f64) -> u32 {
        self.line_of(lon, lat).map(|l| l.0[0]).unwrap_or(0)
    }

    /// Loads a point's cell line and, for a cell in the overflow stream, the ends of its
    /// run, without using them, so that a lookup a few points later finds them in cache.
    /// Returns a value derived from the loads so the compiler keeps them.
    #[inline]
    pub(crate) fn touch(&self, lon: f64, lat: f64) -> u32 {
        let Some(line) = self.line_of(lon, lat) else {
            return 0;
        };
        if line.0[0] & LINE_OVERFLOW == 0 {
            return line.0[0];
        }
        let (at, len) = (line.0[1] as usize, line.0[2] as usize);
        let overflow = self.overflow.as_slice();
        let first = overflow.get(at).copied().unwrap_or(0);
        let last = overflow
            .get((at + len).saturating_sub(1))
            .copied()
            .unwrap_or(0);
        first ^ last
    }

    /// Classifies one point: appends the fences it is in to `hits` (not cleared here).
    #[inline]
    pub(crate) fn classify(&self, lon: f64, lat: f64, hits: &mut Hits) {
        let Some((cx, cy)) = self.cell_of(lon, lat) else {
            return;
        };
        let (inline, overflow) = self.cell_records((cy * self.nx + cx) as usize);
        match (inline, overflow) {
            ([], []) => return,
            ([only], []) => {
                // A single record of one word is always a whole-cell record.
                let slot = only & SLOT_MASK;
                if only & CORRIDOR != 0 {
                    hits.corridors.push(slot);
                } else {
                    hits.polygons.push(slot);
                }
                return;
            }
            _ => {}
        }
        let dx = lon - self.cell_x0(cx);
        let dy = lat - self.cell_y0(cy);
        let q = self.poly_q;
        let [kx, ky] = self
            .row_metric
            .get(cy as usize)
            .copied()
            .unwrap_or([1.0, 1.0]);
        let at = CellPoint {
            rx: ((dx + q.margin_x) * q.scale_x) as f32,
            ry: ((dy + q.margin_y) * q.scale_y) as f32,
            mx: dx as f32 * kx,
            my: dy as f32 * ky,
        };
        self.test_records(inline, at, hits);
        self.test_records(overflow, at, hits);
    }

    /// Tests a point against a run of records, appending the fences it is in to `hits`.
    #[inline(always)]
    fn test_records(&self, mut rest: &[u32], at: CellPoint, hits: &mut Hits) {
        let CellPoint { rx, ry, mx, my } = at;
        while let Some((&header, tail)) = rest.split_first() {
            rest = tail;
            let slot = header & SLOT_MASK;
            if header & FULL != 0 {
                if header & CORRIDOR != 0 {
                    hits.corridors.push(slot);
                } else {
                    hits.polygons.push(slot);
                }
                continue;
            }
            let Some((&n, tail)) = rest.split_first() else {
                return;
            };
            rest = tail;
            if header & CORRIDOR != 0 {
                let Some((segs, tail)) = rest_split(rest, n as usize * 2) else {
                    return;
                };
                rest = tail;
                let cq = self
                    .corridor_q
                    .get(slot as usize)
                    .copied()
                    .unwrap_or_default();
                let px = (mx + cq.offset_m) * cq.scale;
                let py = (my + cq.offset_m) * cq.scale;
                let within = segs.chunks_exact(2).any(|s| {
                    let (ax, ay) = unpack(s[0]);
                    let (bx, by) = unpack(s[1]);
                    segment_distance2_f32(px - ax, py - ay, bx - ax, by - ay) <= cq.width2_q
                });
                if within {
                    hits.corridors.push(slot);
                }
            } else {
                let Some((&n_pieces, tail)) = rest.split_first() else {
                    return;
                };
                let Some((heights, tail)) = rest_split(tail, (n as usize).div_ceil(2)) else {
                    return;
                };
                let Some((edges, tail)) = rest_split(tail, n_pieces as usize * 2) else {
                    return;
                };
                rest = tail;
                let mut inside = header & PARITY != 0;
                for (k, &pair) in heights.iter().enumerate() {
                    let (lo, hi) = unpack(pair);
                    if lo < ry {
                        inside = !inside;
                    }
                    // The last word holds one height when the count is odd.
                    if (2 * k + 1) < n as usize && hi < ry {
                        inside = !inside;
                    }
                }
                for e in edges.chunks_exact(2) {
                    let (x0, y0) = unpack(e[0]);
                    let (x1, y1) = unpack(e[1]);
                    if (y0 > ry) != (y1 > ry) {
                        let lhs = (rx - x0) * (y1 - y0);
                        let rhs = (x1 - x0) * (ry - y0);
                        if (y1 > y0) == (lhs < rhs) {
                            inside = !inside;
                        }
                    }
                }
                if inside {
                    hits.polygons.push(slot);
                }
            }
        }
    }
}

/// A point relative to its cell, in the units records are stored in.
#[derive(Debug, Clone, Copy)]
struct CellPoint {
    /// Quantised polygon coordinates (see [`PolyQuant`]).
    rx: f32,
    /// See `rx`.
    ry: f32,
    /// Metres east of the cell's west edge.
    mx: f32,
    /// Metres north of the cell's south edge.
    my: f32,
}

/// The two `u16` halves of a record word, as `f32`.
#[inline]
fn unpack(word: u32) -> (f32, f32) {
    (f32::from(word as u16), f32::from((word >> 16) as u16))
}

/// Rounds a scaled coordinate into a `u16`, saturating at the ends.
fn quantise(v: f64) -> u16 {
    v.round().clamp(0.0, QMAX) as u16
}

/// The part of segment `[ax, ay, bx, by]` inside the rectangle, or `None` (Liang-Barsky).
fn clip_segment(s: [f64; 4], x_lo: f64, y_lo: f64, x_hi: f64, y_hi: f64) -> Option<[f64; 4]> {
    let [ax, ay, bx, by] = s;
    let (dx, dy) = (bx - ax, by - ay);
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    for (p, q) in [
        (-dx, ax - x_lo),
        (dx, x_hi - ax),
        (-dy, ay - y_lo),
        (dy, y_hi - ay),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
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
    if t0 > t1 {
        return None;
    }
    Some([ax + t0 * dx, ay + t0 * dy, ax + t1 * dx, ay + t1 * dy])
}

/// Splits `n` words off the front of a slice, or `None` when the stream is short.
#[inline]
fn rest_split(words: &[u32], n: usize) -> Option<(&[u32], &[u32])> {
    if words.len() >= n {
        Some(words.split_at(n))
    } else {
        None
    }
}

#[inline]
fn segment_distance2_f32(wx: f32, wy: f32, vx: f32, vy: f32) -> f32 {
    let len2 = vx * vx + vy * vy;
    let t = if len2 > 0.0 {
        ((wx * vx + wy * vy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let dx = wx - t * vx;
    let dy = wy - t * vy;
    dx * dx + dy * dy
}

/// An edge clipped to a horizontal band, with its x extent inside the band.
struct BandEdge {
    /// Clipped start, lon.
    ax: f64,
    /// Clipped start, lat.
    ay: f64,
    /// Clipped end, lon.
    bx: f64,
    /// Clipped end, lat.
    by: f64,
    /// The unclipped edge, for parity tests at heights outside the clipped part.
    original: [f64; 4],
    /// Westmost lon of the clipped edge.
    x_min: f64,
    /// Eastmost lon of the clipped edge.
    x_max: f64,
    /// The edge is horizontal (never crosses a ray).
    horizontal: bool,
}

impl BandEdge {
    fn clip(e: [f64; 4], band_lo: f64, band_hi: f64) -> Option<BandEdge> {
        let [x0, y0, x1, y1] = e;
        let (min_y, max_y) = (y0.min(y1), y0.max(y1));
        if max_y < band_lo || min_y > band_hi {
            return None;
        }
        if y0 == y1 {
            return Some(BandEdge {
                ax: x0,
                ay: y0,
                bx: x1,
                by: y1,
                original: e,
                x_min: x0.min(x1),
                x_max: x0.max(x1),
                horizontal: true,
            });
        }
        let at = |y: f64| -> (f64, f64) {
            if y == y0 {
                (x0, y0)
            } else if y == y1 {
                (x1, y1)
            } else {
                (x0 + (y - y0) * (x1 - x0) / (y1 - y0), y)
            }
        };
        let (ax, ay) = at(min_y.max(band_lo));
        let (bx, by) = at(max_y.min(band_hi));
        Some(BandEdge {
            ax,
            ay,
            bx,
            by,
            original: e,
            x_min: ax.min(bx),
            x_max: ax.max(bx),
            horizontal: false,
        })
    }

    fn crosses_ray(&self, px: f64, py: f64) -> bool {
        crosses_ray(self.ax, self.ay, self.bx, self.by, px, py)
    }
}

/// Inside test for a point whose height lies strictly inside the band (clipped edges suffice).
fn poly_parity(band_edges: &[BandEdge], px: f64, py: f64) -> bool {
    band_edges
        .iter()
        .filter(|be| !be.horizontal && be.crosses_ray(px, py))
        .count()
        % 2
        == 1
}

/// Inside test for a point at any height of the band, with the unclipped edges (so that the
/// band's own limits are judged like any other height).
fn poly_parity_full(band_edges: &[BandEdge], px: f64, py: f64) -> bool {
    band_edges
        .iter()
        .filter(|be| {
            let [x0, y0, x1, y1] = be.original;
            crosses_ray(x0, y0, x1, y1, px, py)
        })
        .count()
        % 2
        == 1
}

/// The part of a band edge with `lo <= x <= hi`, or `None` when it has none.
fn clip_x(be: &BandEdge, lo: f64, hi: f64) -> Option<[f64; 4]> {
    let (mut ax, mut ay, mut bx, mut by) = (be.ax, be.ay, be.bx, be.by);
    if ax > bx {
        std::mem::swap(&mut ax, &mut bx);
        std::mem::swap(&mut ay, &mut by);
    }
    if bx < lo || ax > hi {
        return None;
    }
    let y_at = |x: f64| ay + (x - ax) * (by - ay) / (bx - ax);
    let (cax, cay) = if ax < lo { (lo, y_at(lo)) } else { (ax, ay) };
    let (cbx, cby) = if bx > hi { (hi, y_at(hi)) } else { (bx, by) };
    Some([cax, cay, cbx, cby])
}

/// Crossing-number step: whether the ray from `(px, py)` towards +x crosses the edge.
#[inline]
pub(crate) fn crosses_ray(x0: f64, y0: f64, x1: f64, y1: f64, px: f64, py: f64) -> bool {
    if (y0 > py) == (y1 > py) {
        return false;
    }
    let lhs = (px - x0) * (y1 - y0);
    let rhs = (x1 - x0) * (py - y0);
    (y1 > y0) == (lhs < rhs)
}

/// Squared distance from a segment to the rectangle `[0, w] x [0, h]` (0 when they meet).
fn rect_segment_distance2(w: f64, h: f64, a: (f64, f64), b: (f64, f64)) -> f64 {
    let inside = |p: (f64, f64)| p.0 >= 0.0 && p.0 <= w && p.1 >= 0.0 && p.1 <= h;
    if inside(a) || inside(b) {
        return 0.0;
    }
    let corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
    for k in 0..4 {
        let c = corners[k];
        let d = corners[(k + 1) % 4];
        if segments_intersect(a, b, c, d) {
            return 0.0;
        }
    }
    let point_rect = |p: (f64, f64)| {
        let dx = (0.0 - p.0).max(p.0 - w).max(0.0);
        let dy = (0.0 - p.1).max(p.1 - h).max(0.0);
        dx * dx + dy * dy
    };
    let mut best = point_rect(a).min(point_rect(b));
    for c in corners {
        best = best.min(segment_distance2(
            c.0 - a.0,
            c.1 - a.1,
            b.0 - a.0,
            b.1 - a.1,
        ));
    }
    best
}

fn segments_intersect(a: (f64, f64), b: (f64, f64), c: (f64, f64), d: (f64, f64)) -> bool {
    let orient = |p: (f64, f64), q: (f64, f64), r: (f64, f64)| {
        (q.0 - p.0) * (r.1 - p.1) - (q.1 - p.1) * (r.0 - p.0)
    };
    let d1 = orient(c, d, a);
    let d2 = orient(c, d, b);
    let d3 = orient(a, b, c);
    let d4 = orient(a, b, d);
    ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
}

fn clamp_range(lo: f64, hi: f64, n: u32) -> Option<(u32, u32)> {
    // NaN bounds fail `is_finite`-free comparisons below, so test them explicitly.
    if n == 0 || lo.is_nan() || hi.is_nan() || lo > hi || hi < 0.0 || lo >= f64::from(n) {
        return None;
    }
    let a = lo.floor().max(0.0) as u32;
    let b = (hi.floor().min(f64::from(n - 1))) as u32;
    Some((a.min(n - 1), b))
}

fn union_bbox(fences: &[FenceInfo]) -> Option<[f64; 4]> {
    let mut acc: Option<[f64; 4]> = None;
    for f in fences {
        let b = f.reach_bbox;
        acc = Some(match acc {
            None => b,
            Some(a) => [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ],
        });
    }
    acc
}
