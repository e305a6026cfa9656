//! From violation to case: auto-open, alert-only, offline over 24 hours, joining episodes
//! within the window, and the configuration format.

mod cases_support;

use cases_support::*;

use chrono::Duration;
use haulwatch::cases::deadlines::DeadlineSettings;
use haulwatch::cases::intake::{IntakeError, join_violation, open_from_violation};
use haulwatch::cases::model::{Case, CaseKind, CaseSource, CaseStatus};
use haulwatch::cases::policy::{CasePolicy, KindRule, PolicyDecision, decide};
use haulwatch::model::ViolationKind;

fn open_case(id: &str, v: &haulwatch::model::Violation) -> Case {
    open_from_violation(
        v,
        id.to_string(),
        format!("柳城管罚〔2026〕第{id}号"),
        &DeadlineSettings::default(),
        v.started_at + Duration::minutes(5),
    )
    .case
}

#[test]
fn default_policy_opens_a_case_for_every_kind_but_offline() {
    let policy = CasePolicy::default();
    for kind in ViolationKind::ALL {
        let v = violation("x", kind, "v1", t0(), Some(5));
        let expected_open = kind != ViolationKind::Offline;
        let decision = decide(&policy, &v, &[], t0() + Duration::minutes(10));
        assert_eq!(
            decision == PolicyDecision::OpenNew,
            expected_open,
            "{kind}: {decision:?}"
        );
    }
}

#[test]
fn opened_case_carries_the_violation() {
    let v = violation("vio-9", ViolationKind::IllegalDumping, "v7", t0(), Some(12));
    let opened = open_from_violation(
        &v,
        "case-9".into(),
        "柳城管罚〔2026〕第000009号".into(),
        &DeadlineSettings::default(),
        t0() + Duration::minutes(20),
    );
    let case = &opened.case;
    assert_eq!(
        case.kind,
        CaseKind::Violation(ViolationKind::IllegalDumping)
    );
    assert_eq!(case.source, CaseSource::AutoViolation);
    assert_eq!(case.status, CaseStatus::Intake);
    assert_eq!(case.vehicle_id.as_deref(), Some("v7"));
    assert_eq!(case.company_id.as_deref(), Some("co1"));
    assert_eq!(case.violation_ids, vec!["vio-9".to_string()]);
    assert_eq!(case.last_episode_at, Some(t0()));
    assert!(case.facts.contains("乱倒乱卸") && case.facts.contains("vio-9"));
    let loc = case.location.as_ref().expect("location");
    assert_eq!((loc.lat, loc.lon), (v.lat, v.lon));
    let event = opened.audit.first().expect("event");
    assert_eq!(event.actor_id, "system");
    assert_eq!(event.after["status"], "intake");
}

#[test]
fn offline_alerts_until_it_has_lasted_over_24_hours() {
    let policy = CasePolicy::default();
    // Closed after 2 hours: alert only.
    let short = violation("off-1", ViolationKind::Offline, "v1", t0(), Some(120));
    assert!(matches!(
        decide(&policy, &short, &[], t0() + Duration::hours(3)),
        PolicyDecision::AlertOnly { .. }
    ));
    // Still open: judged by how long it has lasted so far.
    let ongoing = violation("off-2", ViolationKind::Offline, "v1", t0(), None);
    assert!(matches!(
        decide(&policy, &ongoing, &[], t0() + Duration::hours(23)),
        PolicyDecision::AlertOnly { .. }
    ));
    assert_eq!(
        decide(&policy, &ongoing, &[], t0() + Duration::hours(25)),
        PolicyDecision::OpenNew
    );
    // Closed after 25 hours, judged later: opens.
    let long = violation("off-3", ViolationKind::Offline, "v1", t0(), Some(25 * 60));
    assert_eq!(
        decide(&policy, &long, &[], t0() + Duration::days(3)),
        PolicyDecision::OpenNew
    );
}

#[test]
fn further_episodes_within_the_window_join_the_open_case() {
    let policy = CasePolicy::default();
    let first = violation("e1", ViolationKind::RouteDeviation, "v1", t0(), Some(10));
    let case = open_case("c1", &first);
    let cases = vec![case.clone()];

    // The same episode reported again (update or late re-upload).
    assert_eq!(
        decide(&policy, &first, &cases, t0() + Duration::hours(1)),
        PolicyDecision::AlreadyLinked {
            case_id: "c1".into()
        }
    );
    let later = violation(
        "e2",
        ViolationKind::RouteDeviation,
        "v1",
        t0() + Duration::hours(5),
        Some(10),
    );
    assert_eq!(
        decide(&policy, &later, &cases, t0() + Duration::hours(6)),
        PolicyDecision::Join {
            case_id: "c1".into()
        }
    );
    // A late upload of an earlier episode also joins.
    let earlier = violation(
        "e0",
        ViolationKind::RouteDeviation,
        "v1",
        t0() - Duration::hours(2),
        Some(10),
    );
    assert!(matches!(
        decide(&policy, &earlier, &cases, t0()),
        PolicyDecision::Join { .. }
    ));
    // Outside the window, another kind, another vehicle: a new case.
    let next_day = violation(
        "e3",
        ViolationKind::RouteDeviation,
        "v1",
        t0() + Duration::hours(25),
        Some(10),
    );
    assert_eq!(
        decide(&policy, &next_day, &cases, t0() + Duration::hours(26)),
        PolicyDecision::OpenNew
    );
    let other_kind = violation(
        "e4",
        ViolationKind::Speeding,
        "v1",
        t0() + Duration::hours(1),
        Some(1),
    );
    assert_eq!(
        decide(&policy, &other_kind, &cases, t0() + Duration::hours(2)),
        PolicyDecision::OpenNew
    );
    let other_truck = violation(
        "e5",
        ViolationKind::RouteDeviation,
        "v2",
        t0() + Duration::hours(1),
        Some(1),
    );
    assert_eq!(
        decide(&policy, &other_truck, &cases, t0() + Duration::hours(2)),
        PolicyDecision::OpenNew
    );

    // Joining updates the case and the window slides with the latest episode.
    let joined = join_violation(&case, &later, t0() + Duration::hours(6)).expect("join");
    assert_eq!(
        joined.case.violation_ids,
        vec!["e1".to_string(), "e2".to_string()]
    );
    assert_eq!(joined.case.last_episode_at, Some(later.started_at));
    assert_eq!(joined.case.revision, case.revision + 1);
    let event = joined.audit.first().expect("event");
    assert_eq!(
        event.action,
        haulwatch::cases::audit::AuditAction::ViolationJoined
    );
    assert_eq!(
        decide(
            &policy,
            &next_day,
            std::slice::from_ref(&joined.case),
            t0() + Duration::hours(26)
        ),
        PolicyDecision::Join {
            case_id: "c1".into()
        }
    );
    assert!(matches!(
        join_violation(&case, &other_truck, t0()),
        Err(IntakeError::DifferentOffender { .. })
    ));
}

#[test]
fn cases_past_investigation_take_no_more_episodes() {
    let policy = CasePolicy::default();
    let mut r = Runner::new(); // lid_open by v1, first episode at t0 - 1h
    r.drive_to(CaseStatus::PreDecisionNotice);
    let again = violation(
        "l2",
        ViolationKind::LidOpen,
        "v1",
        t0() + Duration::hours(2),
        Some(5),
    );
    assert_eq!(
        decide(
            &policy,
            &again,
            std::slice::from_ref(&r.case),
            t0() + Duration::hours(3)
        ),
        PolicyDecision::OpenNew
    );
    assert!(matches!(
        join_violation(&r.case, &again, t0()),
        Err(IntakeError::NotJoinable { .. })
    ));
    // With two open cases the most recent one is joined.
    let a = open_case(
        "ca",
        &violation("a", ViolationKind::LidOpen, "v1", t0(), Some(1)),
    );
    let b = open_case(
        "cb",
        &violation(
            "b",
            ViolationKind::LidOpen,
            "v1",
            t0() + Duration::hours(3),
            Some(1),
        ),
    );
    let third = violation(
        "c",
        ViolationKind::LidOpen,
        "v1",
        t0() + Duration::hours(4),
        Some(1),
    );
    assert_eq!(
        decide(&policy, &third, &[a, b], t0() + Duration::hours(5)),
        PolicyDecision::Join {
            case_id: "cb".into()
        }
    );
}

#[test]
fn unregistered_terminals_join_by_phone() {
    let policy = CasePolicy::default();
    let mut first = violation(
        "u1",
        ViolationKind::UnregisteredTerminal,
        "x",
        t0(),
        Some(1),
    );
    first.vehicle_id = None;
    first.phone = "013900001111".into();
    let case = open_case("cu", &first);
    let mut second = first.clone();
    second.id = "u2".into();
    second.started_at = t0() + Duration::hours(2);
    // The 2019 header pads the same number to 20 digits.
    second.phone = "00000000013900001111".into();
    assert_eq!(
        decide(&policy, &second, &[case], t0() + Duration::hours(3)),
        PolicyDecision::Join {
            case_id: "cu".into()
        }
    );
}

#[test]
fn policy_is_configurable() {
    let json = r#"{
        "kinds": { "speeding": { "action": "alert_only" }, "gps_tamper": { "action": "ignore" } },
        "join_window_minutes": 60
    }"#;
    let policy: CasePolicy = serde_json::from_str(json).expect("config parses");
    assert_eq!(policy.rule(ViolationKind::Speeding), KindRule::AlertOnly);
    assert_eq!(policy.rule(ViolationKind::GpsTamper), KindRule::Ignore);
    assert_eq!(policy.rule(ViolationKind::LidOpen), KindRule::OpenCase);
    // Configuring other kinds keeps the built-in offline rule.
    assert_eq!(
        policy.rule(ViolationKind::Offline),
        KindRule::OpenAfter {
            min_duration_minutes: 1440
        }
    );
    let speeding = violation("s", ViolationKind::Speeding, "v1", t0(), Some(1));
    assert!(matches!(
        decide(&policy, &speeding, &[], t0()),
        PolicyDecision::AlertOnly { .. }
    ));
    let tamper = violation("g", ViolationKind::GpsTamper, "v1", t0(), Some(1));
    assert!(matches!(
        decide(&policy, &tamper, &[], t0()),
        PolicyDecision::Ignore { .. }
    ));
    // A one-hour window: two hours apart opens a new case.
    let first = violation("w1", ViolationKind::Overload, "v1", t0(), Some(1));
    let case = open_case("cw", &first);
    let second = violation(
        "w2",
        ViolationKind::Overload,
        "v1",
        t0() + Duration::hours(2),
        Some(1),
    );
    assert_eq!(
        decide(&policy, &second, &[case], t0() + Duration::hours(3)),
        PolicyDecision::OpenNew
    );
    // Round trip.
    let text = serde_json::to_string(&policy).expect("serialise");
    let back: CasePolicy = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, policy);
    let empty: CasePolicy = serde_json::from_str("{}").expect("defaults");
    assert_eq!(empty, CasePolicy::default());
}
