//! Dispatch: the district containing the case, on-duty officers with the skill, least loaded
//! first, every choice recorded with its inputs, and dispatcher overrides.

mod cases_support;

use cases_support::*;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveTime;
use geo_types::{LineString, MultiPolygon, Polygon};
use haulwatch::cases::audit::AuditAction;
use haulwatch::cases::dispatch::{
    AssignmentMode, AssignmentOutcome, DispatchError, DispatchInputs, DispatchSettings,
    OfficerDuty, apply_assignment, dispatch, districts_at, officer_loads, override_assignment,
};
use haulwatch::cases::model::{Case, CaseKind, CaseStatus, Location};
use haulwatch::model::{
    DailyWindow, Officer, ViolationKind, Weekdays, WeeklyWindow, Zone, ZoneKind,
};

fn square(west: f64, south: f64, east: f64, north: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![Polygon::new(
        LineString::from(vec![
            (west, south),
            (east, south),
            (east, north),
            (west, north),
            (west, south),
        ]),
        vec![],
    )])
}

fn zone(id: &str, name: &str, kind: ZoneKind, geometry: MultiPolygon<f64>) -> Zone {
    Zone {
        id: id.to_string(),
        name: name.to_string(),
        kind,
        geometry,
        allowed: vec![],
        speed_limit_kmh: None,
        version: 1,
    }
}

/// 城中 (large) and 柳南 (smaller) share the meridian 109.38 as a border; a restricted zone
/// covers both and must be ignored by dispatch.
fn zones() -> Vec<Zone> {
    vec![
        zone(
            "core",
            "市中心禁区",
            ZoneKind::Restricted,
            square(109.30, 24.20, 109.50, 24.40),
        ),
        zone(
            "d-chengzhong",
            "城中区",
            ZoneKind::District,
            square(109.38, 24.30, 109.43, 24.35),
        ),
        zone(
            "d-liunan",
            "柳南区",
            ZoneKind::District,
            square(109.35, 24.30, 109.38, 24.33),
        ),
    ]
}

fn reg_officer(id: &str, district: &str) -> Officer {
    Officer {
        id: id.to_string(),
        name: format!("队员{id}"),
        district_zone_id: Some(district.to_string()),
    }
}

fn officers() -> Vec<Officer> {
    vec![
        reg_officer("o1", "d-chengzhong"),
        reg_officer("o2", "d-chengzhong"),
        reg_officer("o3", "d-chengzhong"),
        reg_officer("o4", "d-chengzhong"),
        reg_officer("o5", "d-chengzhong"),
        reg_officer("o6", "d-liunan"),
    ]
}

fn duty(id: &str, on: bool, skills: &[CaseKind]) -> OfficerDuty {
    OfficerDuty {
        officer_id: id.to_string(),
        shifts: vec![],
        on_duty_override: Some(on),
        skills: skills.iter().copied().collect::<BTreeSet<_>>(),
    }
}

const LID: CaseKind = CaseKind::Violation(ViolationKind::LidOpen);

fn duties() -> Vec<OfficerDuty> {
    vec![
        duty("o1", true, &[LID]),
        duty("o2", true, &[LID]),
        duty("o3", true, &[LID]),
        duty("o4", false, &[LID]),
        duty("o5", true, &[CaseKind::Violation(ViolationKind::Speeding)]),
        duty("o6", true, &[LID]),
    ]
}

fn loads() -> BTreeMap<String, u32> {
    BTreeMap::from([
        ("o1".to_string(), 3),
        ("o2".to_string(), 1),
        ("o3".to_string(), 1),
    ])
}

fn case_at(lat: f64, lon: f64) -> Case {
    let mut r = Runner::new();
    r.case.location = Some(Location::point(lat, lon));
    r.case
}

#[test]
fn picks_the_district_and_its_least_loaded_eligible_officers() {
    let (zones, officers, duties, loads) = (zones(), officers(), duties(), loads());
    let settings = DispatchSettings::default();
    let inputs = DispatchInputs {
        zones: &zones,
        officers: &officers,
        duties: &duties,
        loads: &loads,
        settings: &settings,
    };
    let case = case_at(24.3245, 109.4070);
    let record = dispatch(&case, &inputs, t0());
    assert_eq!(record.district_zone_id.as_deref(), Some("d-chengzhong"));
    assert_eq!(record.districts_found, vec!["d-chengzhong".to_string()]);
    // o2 and o3 both carry one case; the tie goes by id. o1 carries three.
    assert_eq!(record.officer_ids, vec!["o2".to_string(), "o3".to_string()]);
    assert_eq!(record.outcome, AssignmentOutcome::Complete);
    assert_eq!(record.mode, AssignmentMode::Auto);
    // Every officer of the district is listed with why they were or were not chosen; the
    // other district's officer is not a candidate.
    let why: BTreeMap<&str, Option<&str>> = record
        .candidates
        .iter()
        .map(|c| (c.officer_id.as_str(), c.excluded.as_deref()))
        .collect();
    assert_eq!(why.len(), 5);
    assert_eq!(why["o1"], None);
    assert_eq!(why["o4"], Some("off duty"));
    assert_eq!(why["o5"], Some("no skill for lid_open"));
    assert!(!why.contains_key("o6"));
    let o1 = record
        .candidates
        .iter()
        .find(|c| c.officer_id == "o1")
        .expect("o1");
    assert_eq!((o1.load, o1.chosen), (3, false));
    assert!(record.reason.contains("d-chengzhong") && record.reason.contains("o2"));

    let applied = apply_assignment(
        &case,
        &record,
        &haulwatch::cases::model::User::system(),
        t0(),
    );
    assert_eq!(applied.case.officer_ids, record.officer_ids);
    assert_eq!(
        applied.case.district_zone_id.as_deref(),
        Some("d-chengzhong")
    );
    let event = applied.audit.first().expect("event");
    assert_eq!(event.action, AuditAction::Assigned);
    assert_eq!(event.after["assignment"]["officer_ids"][0], "o2");
    assert_eq!(event.after["assignment"]["candidates"][0]["load"], 1);
}

#[test]
fn the_other_district_partial_and_unassigned_outcomes() {
    let (zones, officers, duties, loads) = (zones(), officers(), duties(), loads());
    let settings = DispatchSettings::default();
    let inputs = DispatchInputs {
        zones: &zones,
        officers: &officers,
        duties: &duties,
        loads: &loads,
        settings: &settings,
    };
    // In 柳南 only o6 is there: a partial assignment that a dispatcher must complete.
    let record = dispatch(&case_at(24.315, 109.36), &inputs, t0());
    assert_eq!(record.district_zone_id.as_deref(), Some("d-liunan"));
    assert_eq!(record.officer_ids, vec!["o6".to_string()]);
    assert_eq!(record.outcome, AssignmentOutcome::Partial);
    // Outside every district (only in the restricted zone): manual queue.
    let record = dispatch(&case_at(24.25, 109.45), &inputs, t0());
    assert_eq!(record.district_zone_id, None);
    assert_eq!(record.outcome, AssignmentOutcome::Unassigned);
    assert!(record.reason.contains("no district"));
    // No location at all.
    let mut no_loc = case_at(24.3245, 109.407);
    no_loc.location = None;
    let record = dispatch(&no_loc, &inputs, t0());
    assert_eq!(record.outcome, AssignmentOutcome::Unassigned);
}

#[test]
fn a_point_on_a_shared_border_goes_to_the_smaller_district() {
    let zones = zones();
    let found = districts_at(&zones, &Location::point(24.31, 109.38));
    let ids: Vec<&str> = found.iter().map(|z| z.id.as_str()).collect();
    assert_eq!(ids, vec!["d-liunan", "d-chengzhong"]);
}

#[test]
fn workload_cap_and_officers_already_on_the_case() {
    let (zones, officers, duties, loads) = (zones(), officers(), duties(), loads());
    let capped = DispatchSettings {
        officers_per_case: 2,
        max_active_cases: Some(1),
    };
    let inputs = DispatchInputs {
        zones: &zones,
        officers: &officers,
        duties: &duties,
        loads: &loads,
        settings: &capped,
    };
    let record = dispatch(&case_at(24.3245, 109.407), &inputs, t0());
    assert!(record.officer_ids.is_empty());
    assert_eq!(record.outcome, AssignmentOutcome::Unassigned);
    assert!(
        record
            .candidates
            .iter()
            .filter(|c| ["o1", "o2", "o3"].contains(&c.officer_id.as_str()))
            .all(|c| c.excluded.as_deref().is_some_and(|e| e.contains("cap")))
    );

    // A patrol officer who opened the case stays; one more is added.
    let settings = DispatchSettings::default();
    let inputs = DispatchInputs {
        settings: &settings,
        ..inputs
    };
    let mut patrol = case_at(24.3245, 109.407);
    patrol.officer_ids = vec!["o5".to_string()];
    let record = dispatch(&patrol, &inputs, t0());
    assert_eq!(record.previous_officer_ids, vec!["o5".to_string()]);
    assert_eq!(record.officer_ids, vec!["o5".to_string(), "o2".to_string()]);
    assert_eq!(record.outcome, AssignmentOutcome::Complete);
}

#[test]
fn shifts_decide_duty_when_no_check_in_is_set() {
    let day_shift = WeeklyWindow {
        days: Weekdays::parse("mon-fri").expect("days"),
        window: DailyWindow {
            start: NaiveTime::from_hms_opt(8, 0, 0).expect("time"),
            end: NaiveTime::from_hms_opt(18, 0, 0).expect("time"),
        },
    };
    let d = OfficerDuty {
        officer_id: "o1".into(),
        shifts: vec![day_shift],
        on_duty_override: None,
        skills: BTreeSet::new(),
    };
    assert!(d.on_duty(local(2026, 3, 2, 9, 0))); // Monday morning
    assert!(!d.on_duty(local(2026, 3, 2, 20, 0))); // Monday evening
    assert!(!d.on_duty(local(2026, 3, 7, 9, 0))); // Saturday
    let checked_out = OfficerDuty {
        on_duty_override: Some(false),
        ..d
    };
    assert!(!checked_out.on_duty(local(2026, 3, 2, 9, 0)));
}

#[test]
fn loads_count_active_cases_only() {
    let mut a = Runner::new();
    a.case.officer_ids = vec!["o1".into(), "o2".into()];
    let mut b = Runner::new();
    b.case.officer_ids = vec!["o1".into(), "o1".into()];
    let mut done = Runner::new();
    done.drive_to(CaseStatus::Archived);
    done.case.officer_ids = vec!["o2".into(), "o3".into()];
    let loads = officer_loads(&[a.case, b.case, done.case]);
    assert_eq!(loads.get("o1"), Some(&2));
    assert_eq!(loads.get("o2"), Some(&1));
    assert_eq!(loads.get("o3"), None);
}

#[test]
fn a_dispatcher_override_is_recorded() {
    let (zones, officers, duties, loads) = (zones(), officers(), duties(), loads());
    let settings = DispatchSettings::default();
    let inputs = DispatchInputs {
        zones: &zones,
        officers: &officers,
        duties: &duties,
        loads: &loads,
        settings: &settings,
    };
    let case = case_at(24.3245, 109.407);
    let auto = dispatch(&case, &inputs, t0());
    let assigned = apply_assignment(&case, &auto, &haulwatch::cases::model::User::system(), t0());
    let case = assigned.case;

    let who = dispatcher();
    let reason = "o1熟悉该工地情况";
    assert!(matches!(
        override_assignment(
            &case,
            &officer("o1"),
            vec!["o1".into()],
            reason,
            &inputs,
            t0()
        ),
        Err(DispatchError::Forbidden { .. })
    ));
    assert!(matches!(
        override_assignment(&case, &who, vec!["o1".into()], " ", &inputs, t0()),
        Err(DispatchError::ReasonRequired)
    ));
    assert!(matches!(
        override_assignment(&case, &who, vec!["nobody".into()], reason, &inputs, t0()),
        Err(DispatchError::UnknownOfficer(_))
    ));
    assert!(matches!(
        override_assignment(&case, &who, vec![], reason, &inputs, t0()),
        Err(DispatchError::NoOfficers)
    ));
    let (applied, record) = override_assignment(
        &case,
        &who,
        vec!["o1".into(), "o4".into(), "o1".into()],
        reason,
        &inputs,
        t0(),
    )
    .expect("override");
    assert_eq!(record.mode, AssignmentMode::Override);
    assert_eq!(record.by, who.id);
    assert_eq!(
        record.previous_officer_ids,
        vec!["o2".to_string(), "o3".to_string()]
    );
    assert_eq!(record.officer_ids, vec!["o1".to_string(), "o4".to_string()]);
    assert!(record.reason.contains(reason));
    let o4 = record
        .candidates
        .iter()
        .find(|c| c.officer_id == "o4")
        .expect("o4");
    assert!(
        !o4.on_duty,
        "the record shows the override chose an off-duty officer"
    );
    assert_eq!(applied.case.officer_ids, record.officer_ids);
    let event = applied.audit.first().expect("event");
    assert_eq!(event.action, AuditAction::AssignmentOverridden);
    assert_eq!(event.before["officer_ids"], serde_json::json!(["o2", "o3"]));
    assert_eq!(event.after["officer_ids"], serde_json::json!(["o1", "o4"]));

    let mut closed = applied.case.clone();
    closed.status = CaseStatus::Closed;
    assert!(matches!(
        override_assignment(&closed, &who, vec!["o1".into()], reason, &inputs, t0()),
        Err(DispatchError::Finished { .. })
    ));
}
