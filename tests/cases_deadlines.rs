//! Deadlines falling due on real cases: the pre-filing check in working days, the decision
//! clock paused during a hearing, calendar against working days, and the overdue and due-soon
//! lists.

mod cases_support;

use cases_support::*;

use chrono::Duration;
use haulwatch::cases::deadlines::{
    CalendarKind, ClockKind, ClockRule, ClockState, DeadlineSettings, Obliged, clock,
    deadline_alerts,
};
use haulwatch::cases::model::CaseStatus;
use haulwatch::cases::workflow::{Action, ActionKind};

#[test]
fn pre_filing_check_falls_due_after_fifteen_working_days() {
    let r = Runner::new(); // opened Monday 2026-03-02
    let c = clock(&r.case, ClockKind::PreFilingCheck).expect("started at intake");
    // 15 working days after Monday 2 March: Monday 23 March.
    assert_eq!(c.due_on(&r.settings), Some(date(2026, 3, 23)));
    let cases = vec![r.case.clone()];
    assert!(deadline_alerts(&cases, &r.settings, local(2026, 3, 10, 9, 0)).is_empty());
    let soon = deadline_alerts(&cases, &r.settings, local(2026, 3, 20, 9, 0));
    assert_eq!(soon.len(), 1);
    assert_eq!(soon[0].clock, ClockKind::PreFilingCheck);
    assert_eq!(soon[0].state, ClockState::DueSoon);
    assert_eq!(soon[0].days_left, 3);
    assert_eq!(soon[0].obliged, Obliged::Agency);
    let late = deadline_alerts(&cases, &r.settings, local(2026, 3, 24, 0, 30));
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].state, ClockState::Overdue);
    assert_eq!(late[0].days_left, -1);

    // A holiday week pushes the end out by its working days.
    let mut with_holidays = DeadlineSettings::default();
    for d in 9..=13 {
        with_holidays.holidays.insert(date(2026, 3, d));
    }
    assert_eq!(c.due_on(&with_holidays), Some(date(2026, 3, 30)));
}

#[test]
fn filing_stops_the_check_and_starts_the_ninety_day_clock() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Filed);
    let filed = r.now;
    let decision = clock(&r.case, ClockKind::Decision).expect("decision clock");
    assert_eq!(decision.started_at, filed);
    // Filed Monday 2 March: 90 days later is Sunday 31 May, which rolls to Monday 1 June.
    assert_eq!(decision.due_on(&r.settings), Some(date(2026, 6, 1)));
    let cases = vec![r.case.clone()];
    // Long after the check would have run out it is not listed: it was met.
    let alerts = deadline_alerts(&cases, &r.settings, local(2026, 4, 1, 9, 0));
    assert!(alerts.is_empty(), "{alerts:?}");
    let overdue = deadline_alerts(&cases, &r.settings, local(2026, 6, 2, 9, 0));
    assert_eq!(
        overdue.iter().map(|a| a.clock).collect::<Vec<_>>(),
        vec![ClockKind::Decision]
    );
}

#[test]
fn the_decision_clock_is_paused_during_the_hearing() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::PreDecisionNotice);
    let due_before = clock(&r.case, ClockKind::Decision)
        .and_then(|c| c.due_on(&r.settings))
        .expect("running");
    let hearing_clock = clock(&r.case, ClockKind::HearingRequest).expect("window");
    assert_eq!(hearing_clock.calendar, CalendarKind::Working);
    r.advance(Duration::days(1));
    r.must(&company_user("co1"), Action::RequestHearing);
    let paused = clock(&r.case, ClockKind::Decision).expect("decision clock");
    assert_eq!(paused.due_on(&r.settings), None);
    assert_eq!(
        paused
            .status(&r.settings, r.now + Duration::days(400))
            .state,
        ClockState::Paused
    );
    // A paused clock is never listed as overdue.
    let far = r.now + Duration::days(400);
    assert!(
        deadline_alerts(std::slice::from_ref(&r.case), &r.settings, far)
            .iter()
            .all(|a| a.clock != ClockKind::Decision)
    );
    // Twenty days of hearing move the end by twenty days.
    r.advance(Duration::days(20));
    r.must(
        &officer("o1"),
        Action::HoldHearing {
            presiding_officer_id: "o8".into(),
        },
    );
    let resumed = clock(&r.case, ClockKind::Decision).expect("decision clock");
    let due_after = resumed.due_on(&r.settings).expect("running again");
    // Weekend roll-over can differ by a day or two either side; the shift is the pause.
    let shift = (due_after - due_before).num_days();
    assert!((18..=22).contains(&shift), "moved by {shift} days");
}

#[test]
fn payment_clock_binds_the_party_and_falls_due() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Served);
    let payment = clock(&r.case, ClockKind::Payment).expect("payment clock");
    assert_eq!(payment.days, 15);
    let due = payment.due_on(&r.settings).expect("due");
    let alerts = deadline_alerts(
        std::slice::from_ref(&r.case),
        &r.settings,
        r.now + Duration::days(30),
    );
    let late = alerts
        .iter()
        .find(|a| a.clock == ClockKind::Payment)
        .expect("listed");
    assert_eq!(late.obliged, Obliged::Party);
    assert_eq!(late.due_on, due);
    assert_eq!(late.state, ClockState::Overdue);
}

#[test]
fn a_clock_can_count_working_days_by_setting() {
    let mut settings = DeadlineSettings::default();
    settings.rules.insert(
        ClockKind::Decision,
        ClockRule {
            days: 10,
            calendar: CalendarKind::Working,
        },
    );
    settings.makeup_workdays.insert(date(2026, 3, 7)); // a Saturday worked
    let mut r = Runner::new();
    r.settings = settings;
    r.prepare();
    r.must(&dispatcher(), sample_action(ActionKind::File));
    let c = clock(&r.case, ClockKind::Decision).expect("clock");
    assert_eq!(c.calendar, CalendarKind::Working);
    // From Monday 2 March: 3,4,5,6,7(Sat, worked),9,10,11,12,13 -> Friday 13 March.
    assert_eq!(c.due_on(&r.settings), Some(date(2026, 3, 13)));
    // A clock keeps the rule it started with when settings change later.
    let mut changed = r.settings.clone();
    changed.rules.insert(
        ClockKind::Decision,
        ClockRule {
            days: 90,
            calendar: CalendarKind::Calendar,
        },
    );
    assert_eq!(c.due_on(&changed), Some(date(2026, 3, 13)));
}

#[test]
fn alerts_are_sorted_most_urgent_first_and_skip_finished_cases() {
    let mut a = Runner::new();
    a.case.id = "a".into();
    let mut b = Runner::new();
    b.case.id = "b".into();
    // Re-open b a week earlier so its check runs out first.
    b.case.opened_at -= Duration::days(7);
    b.case.clocks[0].started_at -= Duration::days(7);
    let mut finished = Runner::new();
    finished.drive_to(CaseStatus::Rejected);
    let cases = vec![a.case.clone(), b.case.clone(), finished.case.clone()];
    let alerts = deadline_alerts(&cases, &a.settings, local(2026, 3, 25, 9, 0));
    let ids: Vec<&str> = alerts.iter().map(|x| x.case_id.as_str()).collect();
    assert_eq!(ids, vec!["b", "a"]);
    assert!(alerts.iter().all(|x| x.state == ClockState::Overdue));
}

#[test]
fn settings_parse_from_config() {
    let json = r#"{
        "rules": { "payment": { "days": 15, "calendar": "working" } },
        "holidays": ["2026-10-01", "2026-10-02"],
        "makeup_workdays": ["2026-09-27"],
        "due_soon_days": 5
    }"#;
    let s: DeadlineSettings = serde_json::from_str(json).expect("parse");
    assert_eq!(s.rule(ClockKind::Payment).calendar, CalendarKind::Working);
    // Unlisted clocks keep their defaults.
    assert_eq!(s.rule(ClockKind::Decision).days, 90);
    assert!(!s.is_working_day(date(2026, 10, 1)));
    assert!(s.is_working_day(date(2026, 9, 27)));
    assert_eq!(s.due_soon_days, 5);
}

#[test]
fn the_head_can_extend_a_running_clock() {
    use haulwatch::cases::workflow::{ExtensionError, extend_deadline};
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Investigating);
    let before = clock(&r.case, ClockKind::Decision)
        .and_then(|c| c.due_on(&r.settings))
        .expect("running");
    assert!(matches!(
        extend_deadline(
            &r.case,
            &officer("o1"),
            ClockKind::Decision,
            30,
            "复杂",
            r.now
        ),
        Err(ExtensionError::Forbidden { .. })
    ));
    assert!(matches!(
        extend_deadline(&r.case, &admin(), ClockKind::Decision, 31, "复杂", r.now),
        Err(ExtensionError::BadLength { max: 30 })
    ));
    assert!(matches!(
        extend_deadline(&r.case, &admin(), ClockKind::Decision, 30, " ", r.now),
        Err(ExtensionError::ReasonRequired)
    ));
    assert!(matches!(
        extend_deadline(&r.case, &admin(), ClockKind::Payment, 30, "复杂", r.now),
        Err(ExtensionError::NoRunningClock { .. })
    ));
    let applied = extend_deadline(
        &r.case,
        &admin(),
        ClockKind::Decision,
        30,
        "案情复杂",
        r.now,
    )
    .expect("extension");
    let after = clock(&applied.case, ClockKind::Decision)
        .and_then(|c| c.due_on(&r.settings))
        .expect("running");
    let shift = (after - before).num_days();
    assert!((28..=32).contains(&shift), "moved by {shift}");
    let note = applied.audit[0].note.clone().unwrap_or_default();
    assert!(note.contains("案情复杂") && note.contains("30"));
}

#[test]
fn demand_and_court_steps_stop_the_superseded_clocks() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Enforcing);
    r.advance(Duration::days(20));
    r.must(&officer("o1"), Action::MarkOverdue);
    // Overdue payment is listed until the demand supersedes it.
    let listed = |r: &Runner| -> Vec<ClockKind> {
        deadline_alerts(std::slice::from_ref(&r.case), &r.settings, r.now)
            .into_iter()
            .map(|a| a.clock)
            .collect()
    };
    assert_eq!(listed(&r), vec![ClockKind::Payment]);
    r.must(&officer("o1"), Action::ServeDemand);
    assert!(listed(&r).is_empty());
    r.advance(Duration::days(20));
    assert_eq!(listed(&r), vec![ClockKind::DemandPeriod]);
    r.must(&admin(), sample_action(ActionKind::ApplyToCourt));
    assert!(listed(&r).is_empty());
}
