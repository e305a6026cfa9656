//! Statistics: counts by kind, status, company, district and period; time to close; hot-spot
//! grid counts with real cell sizes.

mod cases_support;

use cases_support::*;

use chrono::Duration;
use geo::{Distance, Haversine, Point};
use haulwatch::cases::model::{Case, CaseKind, CaseStatus, Location, ReportCategory};
use haulwatch::cases::stats::{
    HotSpotGrid, Period, case_hot_spots, case_stats, hot_spots, time_to_close, violation_hot_spots,
};
use haulwatch::model::ViolationKind;

#[test]
fn cells_are_the_configured_size_on_the_ground() {
    for size in [100.0, 500.0, 2000.0] {
        let grid = HotSpotGrid {
            cell_size_m: size,
            reference_lat: 24.32,
        };
        let spots = hot_spots([(24.3245, 109.4070)], &grid).expect("grid");
        let cell = spots.cells.first().expect("one cell");
        let sw = Point::new(cell.west, cell.south);
        let se = Point::new(cell.east, cell.south);
        let nw = Point::new(cell.west, cell.north);
        let width = Haversine.distance(sw, se);
        let height = Haversine.distance(sw, nw);
        // Haversine uses a sphere; the grid the ellipsoid: agree within 0.5 %.
        assert!(
            (width - size).abs() / size < 0.005,
            "width {width} for {size}"
        );
        assert!(
            (height - size).abs() / size < 0.005,
            "height {height} for {size}"
        );
        assert!(cell.south <= 24.3245 && 24.3245 < cell.north);
        assert!(cell.west <= 109.4070 && 109.4070 < cell.east);
    }
}

#[test]
fn hot_spots_count_points_per_cell_busiest_first() {
    let grid = HotSpotGrid {
        cell_size_m: 500.0,
        reference_lat: 24.32,
    };
    // Find the cell around a bridgehead and place points well inside it.
    let probe = hot_spots([(24.3245, 109.4070)], &grid).expect("grid");
    let cell = probe.cells.first().expect("cell").clone();
    let (h, w) = (cell.north - cell.south, cell.east - cell.west);
    let (clat, clon) = (cell.south + h / 2.0, cell.west + w / 2.0);
    let mut points = Vec::new();
    for i in 0..5 {
        let f = f64::from(i) / 10.0 - 0.2; // -0.2 .. 0.2 of a cell
        points.push((clat + f * h, clon - f * w));
    }
    // Three points two cells east, one three cells north.
    for i in 0..3 {
        points.push((clat + f64::from(i) * 0.1 * h, clon + 2.0 * w));
    }
    points.push((clat + 3.0 * h, clon));
    // Points that are not coordinates are counted as skipped, not placed.
    points.push((f64::NAN, 109.4));
    points.push((95.0, 109.4));
    let spots = hot_spots(points, &grid).expect("grid");
    assert_eq!(spots.skipped, 2);
    let counts: Vec<(i64, i64, usize)> = spots
        .cells
        .iter()
        .map(|c| (c.row, c.col, c.count))
        .collect();
    assert_eq!(
        counts,
        vec![
            (cell.row, cell.col, 5),
            (cell.row, cell.col + 2, 3),
            (cell.row + 3, cell.col, 1)
        ]
    );

    // Two points 600 m apart east-west never share a 500 m cell; 100 m apart in the middle of a
    // cell always do.
    let east_600 = clon + 600.0 / 500.0 * w;
    let far = hot_spots([(clat, clon), (clat, east_600)], &grid).expect("grid");
    assert_eq!(far.cells.len(), 2);
    let near = hot_spots([(clat, clon), (clat, clon + 100.0 / 500.0 * w)], &grid).expect("grid");
    assert_eq!(near.cells.len(), 1);
    assert_eq!(near.cells[0].count, 2);
}

#[test]
fn violation_and_case_hot_spots_use_their_locations() {
    let grid = HotSpotGrid::default();
    let v1 = violation("a", ViolationKind::Speeding, "v1", t0(), Some(1));
    let mut v2 = violation("b", ViolationKind::Speeding, "v2", t0(), Some(1));
    v2.lat += 0.0001;
    let mut v3 = violation("c", ViolationKind::Speeding, "v3", t0(), Some(1));
    v3.lat += 0.05;
    let spots = violation_hot_spots(&[v1, v2, v3], &grid).expect("grid");
    assert_eq!(
        spots.cells.iter().map(|c| c.count).collect::<Vec<_>>(),
        vec![2, 1]
    );
    let mut with = Runner::new().case;
    with.location = Some(Location::point(24.30, 109.40));
    let mut without = Runner::new().case;
    without.location = None;
    let spots = case_hot_spots(&[with, without], &grid).expect("grid");
    assert_eq!(spots.cells.len(), 1);
    assert_eq!(spots.skipped, 0);
}

fn stat_case(
    id: &str,
    kind: CaseKind,
    status: CaseStatus,
    company: Option<&str>,
    district: Option<&str>,
    opened_days_after_t0: i64,
    closed_after_hours: Option<i64>,
) -> Case {
    let mut c = Runner::new().case;
    c.id = id.into();
    c.kind = kind;
    c.status = status;
    c.company_id = company.map(String::from);
    c.district_zone_id = district.map(String::from);
    c.opened_at = t0() + Duration::days(opened_days_after_t0);
    c.closed_at = closed_after_hours.map(|h| c.opened_at + Duration::hours(h));
    c
}

#[test]
fn cases_are_counted_every_way() {
    let lid = CaseKind::Violation(ViolationKind::LidOpen);
    let dump = CaseKind::Violation(ViolationKind::IllegalDumping);
    let spill = CaseKind::Report(ReportCategory::Spillage);
    let cases = vec![
        stat_case(
            "1",
            lid,
            CaseStatus::Closed,
            Some("co1"),
            Some("d1"),
            0,
            Some(48),
        ),
        stat_case(
            "2",
            lid,
            CaseStatus::Archived,
            Some("co1"),
            Some("d2"),
            1,
            Some(24),
        ),
        stat_case(
            "3",
            dump,
            CaseStatus::Investigating,
            Some("co2"),
            Some("d1"),
            35,
            None,
        ),
        stat_case("4", spill, CaseStatus::Intake, None, None, 40, None),
        stat_case(
            "5",
            dump,
            CaseStatus::Closed,
            Some("co2"),
            Some("d1"),
            41,
            Some(240),
        ),
    ];
    let s = case_stats(&cases, Period::Month);
    assert_eq!(s.total, 5);
    assert_eq!(s.by_kind["lid_open"], 2);
    assert_eq!(s.by_kind["illegal_dumping"], 2);
    assert_eq!(s.by_kind["spillage"], 1);
    assert_eq!(s.by_status["closed"], 2);
    assert_eq!(s.by_status["archived"], 1);
    assert_eq!(s.by_company["co1"], 2);
    assert_eq!(s.by_company["co2"], 2);
    assert_eq!(s.by_company[""], 1);
    assert_eq!(s.by_district["d1"], 3);
    assert_eq!(s.by_district[""], 1);
    // t0 is 2 March: days 0 and 1 fall in March, 35..41 in April.
    assert_eq!(s.by_period["2026-03"], 2);
    assert_eq!(s.by_period["2026-04"], 3);
    let ttc = s.time_to_close.expect("three closed");
    assert_eq!(ttc.count, 3);
    assert!((ttc.mean_hours - (48.0 + 24.0 + 240.0) / 3.0).abs() < 1e-9);
    assert!((ttc.median_hours - 48.0).abs() < 1e-9);
    assert!((ttc.max_hours - 240.0).abs() < 1e-9);
    assert_eq!(time_to_close(&cases[2..4]), None);
    let weekly = case_stats(&cases, Period::Week);
    assert_eq!(weekly.by_period["2026-W10"], 2);
}
