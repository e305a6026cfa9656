//! Statistics for the bureau: cases counted by kind, status, company, district and period;
//! time to close; hot spots (violation locations counted on a grid of square cells) for
//! planning patrols. Pure functions over slices; the store decides which rows to pass.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::model::Case;
use crate::model::{Violation, local_offset};

/// The period cases are grouped by (local dates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// `2026-03-02`.
    Day,
    /// ISO week, `2026-W10`.
    Week,
    /// `2026-03`.
    Month,
    /// `2026`.
    Year,
}

/// The key of the period `t` falls in (local time).
pub fn period_key(t: DateTime<Utc>, period: Period) -> String {
    let local = t.with_timezone(&local_offset()).date_naive();
    match period {
        Period::Day => local.format("%Y-%m-%d").to_string(),
        Period::Week => {
            let week = local.iso_week();
            format!("{}-W{:02}", week.year(), week.week())
        }
        Period::Month => local.format("%Y-%m").to_string(),
        Period::Year => local.format("%Y").to_string(),
    }
}

/// Summary of durations, in hours.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DurationStats {
    /// How many durations.
    pub count: usize,
    /// Mean.
    pub mean_hours: f64,
    /// Median.
    pub median_hours: f64,
    /// 90th percentile (nearest rank).
    pub p90_hours: f64,
    /// Longest.
    pub max_hours: f64,
}

/// Case counts for the statistics page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseStats {
    /// Cases counted.
    pub total: usize,
    /// By kind name.
    pub by_kind: BTreeMap<String, usize>,
    /// By status name.
    pub by_status: BTreeMap<String, usize>,
    /// By company id (`""` for cases without a company).
    pub by_company: BTreeMap<String, usize>,
    /// By district zone id (`""` for cases not yet dispatched to a district).
    pub by_district: BTreeMap<String, usize>,
    /// By the period the case was opened in.
    pub by_period: BTreeMap<String, usize>,
    /// Time from opening to closing, over closed (and archived) cases.
    pub time_to_close: Option<DurationStats>,
}

/// Counts `cases` every way the statistics page shows.
pub fn case_stats(cases: &[Case], period: Period) -> CaseStats {
    let mut stats = CaseStats {
        total: cases.len(),
        by_kind: BTreeMap::new(),
        by_status: BTreeMap::new(),
        by_company: BTreeMap::new(),
        by_district: BTreeMap::new(),
        by_period: BTreeMap::new(),
        time_to_close: time_to_close(cases),
    };
    for case in cases {
        *stats
            .by_kind
            .entry(case.kind.as_str().to_string())
            .or_insert(0) += 1;
        *stats
            .by_status
            .entry(case.status.as_str().to_string())
            .or_insert(0) += 1;
        *stats
            .by_company
            .entry(case.company_id.clone().unwrap_or_default())
            .or_insert(0) += 1;
        *stats
            .by_district
            .entry(case.district_zone_id.clone().unwrap_or_default())
            .or_insert(0) += 1;
        *stats
            .by_period
            .entry(period_key(case.opened_at, period))
            .or_insert(0) += 1;
    }
    stats
}

/// Time from opening to closing over the cases that closed.
pub fn time_to_close(cases: &[Case]) -> Option<DurationStats> {
    let hours: Vec<f64> = cases
        .iter()
        .filter_map(|c| c.closed_at.map(|closed| closed - c.opened_at))
        .map(|d| d.num_seconds().max(0) as f64 / 3600.0)
        .collect();
    duration_stats(hours)
}

fn duration_stats(mut hours: Vec<f64>) -> Option<DurationStats> {
    if hours.is_empty() {
        return None;
    }
    hours.sort_by(f64::total_cmp);
    let count = hours.len();
    let mean_hours = hours.iter().sum::<f64>() / count as f64;
    let median_hours = if count % 2 == 1 {
        hours.get(count / 2).copied().unwrap_or(0.0)
    } else {
        let a = hours.get(count / 2 - 1).copied().unwrap_or(0.0);
        let b = hours.get(count / 2).copied().unwrap_or(0.0);
        (a + b) / 2.0
    };
    // Nearest rank: the smallest value with at least 90 % of values at or below it.
    let rank = (count * 9).div_ceil(10).max(1);
    let p90_hours = hours.get(rank - 1).copied().unwrap_or(0.0);
    let max_hours = hours.last().copied().unwrap_or(0.0);
    Some(DurationStats {
        count,
        mean_hours,
        median_hours,
        p90_hours,
        max_hours,
    })
}

/// A hot-spot grid specification that cannot be used.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// Cells must be between 1 m and 100 km.
    #[error("cell size {0} m is outside 1..=100000 m")]
    BadCellSize(f64),
    /// The reference latitude must be away from the poles.
    #[error("reference latitude {0} is outside -80..=80")]
    BadReferenceLatitude(f64),
}

/// A grid of square cells, `cell_size_m` on a side at `reference_lat`. Cells are aligned to
/// latitude/longitude 0 so the same point always falls in the same cell, whatever else is
/// counted with it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HotSpotGrid {
    /// Side of a cell in metres.
    pub cell_size_m: f64,
    /// Latitude where cells are exactly square (the city's latitude; Liuzhou is 24.3).
    pub reference_lat: f64,
}

impl Default for HotSpotGrid {
    fn default() -> Self {
        HotSpotGrid {
            cell_size_m: 500.0,
            reference_lat: 24.32,
        }
    }
}

impl HotSpotGrid {
    /// Cell size in degrees of latitude and longitude.
    fn cell_degrees(&self) -> Result<(f64, f64), StatsError> {
        if !(self.cell_size_m.is_finite() && (1.0..=100_000.0).contains(&self.cell_size_m)) {
            return Err(StatsError::BadCellSize(self.cell_size_m));
        }
        if !(self.reference_lat.is_finite() && (-80.0..=80.0).contains(&self.reference_lat)) {
            return Err(StatsError::BadReferenceLatitude(self.reference_lat));
        }
        // Length of a degree on the WGS-84 ellipsoid at the reference latitude (the usual
        // series expansion, accurate to centimetres).
        let phi = self.reference_lat.to_radians();
        let m_per_deg_lat = 111_132.954 - 559.822 * (2.0 * phi).cos() + 1.175 * (4.0 * phi).cos();
        let m_per_deg_lon =
            111_412.84 * phi.cos() - 93.5 * (3.0 * phi).cos() + 0.118 * (5.0 * phi).cos();
        Ok((
            self.cell_size_m / m_per_deg_lat,
            self.cell_size_m / m_per_deg_lon,
        ))
    }
}

/// One grid cell with its count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotSpotCell {
    /// Row index (latitude / cell height, floored).
    pub row: i64,
    /// Column index (longitude / cell width, floored).
    pub col: i64,
    /// Points in the cell.
    pub count: usize,
    /// Southern edge, degrees.
    pub south: f64,
    /// Western edge, degrees.
    pub west: f64,
    /// Northern edge, degrees.
    pub north: f64,
    /// Eastern edge, degrees.
    pub east: f64,
}

/// Counted cells, busiest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotSpots {
    /// Cells with at least one point, by count (descending), then row and column.
    pub cells: Vec<HotSpotCell>,
    /// Points skipped because their coordinates were not valid WGS-84.
    pub skipped: usize,
}

/// Counts `(lat, lon)` points on the grid.
pub fn hot_spots(
    points: impl IntoIterator<Item = (f64, f64)>,
    grid: &HotSpotGrid,
) -> Result<HotSpots, StatsError> {
    let (dlat, dlon) = grid.cell_degrees()?;
    let mut counts: BTreeMap<(i64, i64), usize> = BTreeMap::new();
    let mut skipped = 0;
    for (lat, lon) in points {
        let valid = lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon);
        if !valid {
            skipped += 1;
            continue;
        }
        let key = ((lat / dlat).floor() as i64, (lon / dlon).floor() as i64);
        *counts.entry(key).or_insert(0) += 1;
    }
    let mut cells: Vec<HotSpotCell> = counts
        .into_iter()
        .map(|((row, col), count)| HotSpotCell {
            row,
            col,
            count,
            south: row as f64 * dlat,
            west: col as f64 * dlon,
            north: (row + 1) as f64 * dlat,
            east: (col + 1) as f64 * dlon,
        })
        .collect();
    cells.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.row.cmp(&b.row))
            .then(a.col.cmp(&b.col))
    });
    Ok(HotSpots { cells, skipped })
}

/// Hot spots of violation start locations.
pub fn violation_hot_spots(
    violations: &[Violation],
    grid: &HotSpotGrid,
) -> Result<HotSpots, StatsError> {
    hot_spots(violations.iter().map(|v| (v.lat, v.lon)), grid)
}

/// Hot spots of case locations (cases without a location are left out).
pub fn case_hot_spots(cases: &[Case], grid: &HotSpotGrid) -> Result<HotSpots, StatsError> {
    hot_spots(
        cases
            .iter()
            .filter_map(|c| c.location.as_ref().map(|l| (l.lat, l.lon))),
        grid,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_percentiles() {
        let s = duration_stats((1..=10).map(f64::from).collect()).expect("stats");
        assert_eq!(s.count, 10);
        assert!((s.mean_hours - 5.5).abs() < 1e-9);
        assert!((s.median_hours - 5.5).abs() < 1e-9);
        assert!((s.p90_hours - 9.0).abs() < 1e-9);
        assert!((s.max_hours - 10.0).abs() < 1e-9);
        assert_eq!(duration_stats(Vec::new()), None);
    }

    #[test]
    fn period_keys_use_local_time() {
        // 2026-12-31 17:00 UTC is 2027-01-01 01:00 in Liuzhou.
        let t: DateTime<Utc> = "2026-12-31T17:00:00Z".parse().expect("time");
        assert_eq!(period_key(t, Period::Day), "2027-01-01");
        assert_eq!(period_key(t, Period::Month), "2027-01");
        assert_eq!(period_key(t, Period::Year), "2027");
        assert_eq!(period_key(t, Period::Week), "2026-W53");
    }

    #[test]
    fn bad_grids_are_refused() {
        let pts = [(24.3, 109.4)];
        for size in [0.0, -5.0, f64::NAN, 1e9] {
            let grid = HotSpotGrid {
                cell_size_m: size,
                ..HotSpotGrid::default()
            };
            assert!(hot_spots(pts, &grid).is_err());
        }
        let polar = HotSpotGrid {
            reference_lat: 89.0,
            ..HotSpotGrid::default()
        };
        assert!(hot_spots(pts, &polar).is_err());
    }
}
