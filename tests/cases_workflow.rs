//! The legal workflow end to end: every path to `archived`, every illegal transition refused,
//! the guards, and the role checks.

mod cases_support;

use cases_support::*;

use chrono::Duration;
use haulwatch::cases::audit::verify;
use haulwatch::cases::deadlines::{ClockKind, ClockState, clock};
use haulwatch::cases::intake::{NewCase, open_manual};
use haulwatch::cases::model::{
    CaseKind, CaseSource, CaseStatus, Decision, EnforcementState, Instalment, LegalBasis, Penalty,
    ReportCategory, Role, User,
};
use haulwatch::cases::workflow::{
    Action, ActionKind, CasePatch, GuardFailure, Transition, WorkflowError, amount_owed_fen, apply,
    available_actions, update_details,
};

/// A user holding every staff role, assigned to the standard case and in its company: only
/// the state machine itself can refuse them.
fn superuser() -> User {
    User {
        id: "root".to_string(),
        name: "全权用户".to_string(),
        roles: vec![Role::Admin, Role::Dispatcher, Role::Officer, Role::Company],
        company_id: Some("co1".to_string()),
        officer_id: Some("o1".to_string()),
    }
}

fn guard_of(result: Result<(), WorkflowError>) -> GuardFailure {
    match result {
        Err(WorkflowError::Guard { reason, .. }) => reason,
        other => panic!("expected a guard failure, got {other:?}"),
    }
}

fn forbidden(result: Result<(), WorkflowError>) -> String {
    match result {
        Err(WorkflowError::Forbidden { reason, .. }) => reason,
        other => panic!("expected forbidden, got {other:?}"),
    }
}

#[test]
fn full_workflow_with_hearing_reaches_archived() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Archived);
    let path: Vec<CaseStatus> = r.case.history.iter().map(|h| h.to).collect();
    use CaseStatus as S;
    assert_eq!(
        path,
        vec![
            S::Filed,
            S::Investigating,
            S::PreDecisionNotice,
            S::HearingRequested,
            S::HearingHeld,
            S::LegalReview,
            S::Decided,
            S::Served,
            S::Enforcing,
            S::Closed,
            S::Archived
        ]
    );
    assert_eq!(
        r.case.decision.as_ref().map(Decision::fine_fen),
        Some(800_000)
    );
    let e = r.case.enforcement.as_ref().expect("enforcement");
    assert_eq!(e.state, EnforcementState::Paid);
    assert_eq!(e.paid_fen(), 800_000);
    assert!(r.case.closed_at.is_some() && r.case.archived_at.is_some());
    // Clocks: pre-filing stopped at filing, the decision clock paused for the hearing and met,
    // the hearing request met, payment met.
    for kind in [
        ClockKind::PreFilingCheck,
        ClockKind::Decision,
        ClockKind::HearingRequest,
        ClockKind::Payment,
    ] {
        let c = clock(&r.case, kind).expect("clock present");
        assert_eq!(
            c.status(&r.settings, r.now).state,
            ClockState::Met,
            "{kind:?}"
        );
    }
    let decision_clock = clock(&r.case, ClockKind::Decision).expect("decision clock");
    assert_eq!(decision_clock.pauses.len(), 1);
    assert!(decision_clock.pauses.iter().all(|p| p.until.is_some()));
    // One event for opening, one for the details, one per step; the chain verifies.
    assert_eq!(r.events.len(), 2 + 12);
    assert_eq!(verify(&r.events), Ok(()));
    // Archived is final: nothing is offered to anyone.
    assert!(available_actions(&r.case, &superuser(), &r.settings, r.now).is_empty());
}

#[test]
fn no_penalty_decision_is_served_and_closed_without_enforcement() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::LegalReview);
    r.advance(Duration::days(1));
    r.must(
        &admin(),
        Action::Decide {
            decision: Decision::NoPenalty {
                reason: "违法行为轻微并及时改正，没有造成危害后果".to_string(),
            },
            legal_basis: None,
        },
    );
    r.must(&officer("o1"), sample_action(ActionKind::Serve));
    // No payment clock for a decision without a fine.
    assert!(clock(&r.case, ClockKind::Payment).is_none());
    let offered = available_actions(&r.case, &admin(), &r.settings, r.now);
    let enforcement = offered
        .iter()
        .find(|a| a.action == ActionKind::StartEnforcement)
        .expect("offered");
    assert_eq!(enforcement.blocked_by, Some(GuardFailure::NothingToEnforce));
    let close = offered
        .iter()
        .find(|a| a.action == ActionKind::Close)
        .expect("offered");
    assert_eq!(close.blocked_by, None);
    r.must(&admin(), Action::Close);
    r.must(&admin(), Action::Archive);
    assert_eq!(r.case.status, CaseStatus::Archived);
    assert_eq!(verify(&r.events), Ok(()));
}

#[test]
fn unpaid_fine_goes_overdue_then_demand_then_court_then_closes() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Enforcing);
    let served = r.case.service.as_ref().expect("served").served_at;
    assert_eq!(
        guard_of(r.try_step(&officer("o1"), step(Action::MarkOverdue))),
        GuardFailure::NotOverdue
    );
    // 20 days after service the 15-day payment period has run out.
    r.now = served + Duration::days(20);
    r.must(&officer("o1"), Action::MarkOverdue);
    // Surcharge: 3 % a day after the last day, on top of the 8,000 yuan fine.
    let due = clock(&r.case, ClockKind::Payment)
        .and_then(|c| c.due_on(&r.settings))
        .expect("due date");
    let days_late = (haulwatch::cases::deadlines::local_date(r.now) - due).num_days();
    assert!(days_late > 0);
    assert_eq!(
        amount_owed_fen(&r.case, &r.settings, r.now),
        800_000 + 24_000 * days_late
    );
    r.must(&officer("o1"), Action::ServeDemand);
    assert!(matches!(
        guard_of(r.try_step(&admin(), step(sample_action(ActionKind::ApplyToCourt)))),
        GuardFailure::DemandPeriodRunning { .. }
    ));
    r.advance(Duration::days(16));
    r.must(
        &admin(),
        Action::ApplyToCourt {
            court_case_no: Some("（2026）桂0202行审1号".to_string()),
        },
    );
    assert!(matches!(
        guard_of(r.try_step(&admin(), step(Action::Close))),
        GuardFailure::WrongEnforcementState { .. }
    ));
    r.must(&officer("o2"), Action::RecordCourtEnforced);
    r.must(&admin(), Action::Close);
    r.must(&admin(), Action::Archive);
    assert_eq!(r.case.status, CaseStatus::Archived);
    assert_eq!(verify(&r.events), Ok(()));
}

#[test]
fn instalments_are_approved_by_admin_and_paid_off() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Enforcing);
    let today = haulwatch::cases::deadlines::local_date(r.now);
    let plan = vec![
        Instalment {
            due_on: today + Duration::days(30),
            amount_fen: 400_000,
        },
        Instalment {
            due_on: today + Duration::days(60),
            amount_fen: 400_000,
        },
    ];
    let grant = |plan: Vec<Instalment>| step(Action::GrantInstalments { plan });
    assert!(forbidden(r.try_step(&officer("o1"), grant(plan.clone()))).contains("admin"));
    let mut short = plan.clone();
    short.pop();
    assert!(matches!(
        guard_of(r.try_step(&admin(), grant(short))),
        GuardFailure::BadInstalmentPlan { .. }
    ));
    r.try_step(&admin(), grant(plan)).expect("plan accepted");
    assert_eq!(
        r.case.enforcement.as_ref().map(|e| e.state),
        Some(EnforcementState::Instalments)
    );
    r.advance(Duration::days(20));
    r.must(
        &officer("o1"),
        Action::RecordPayment {
            amount_fen: 400_000,
            receipt_no: "R-1".to_string(),
        },
    );
    assert_eq!(
        r.case.enforcement.as_ref().map(|e| e.state),
        Some(EnforcementState::Instalments)
    );
    // Past the second instalment's day without paying it: overdue may be marked.
    r.advance(Duration::days(45));
    let offered = available_actions(&r.case, &officer("o1"), &r.settings, r.now);
    let overdue = offered
        .iter()
        .find(|a| a.action == ActionKind::MarkOverdue)
        .expect("offered");
    assert_eq!(overdue.blocked_by, None);
    // No surcharge accrues under an instalment plan.
    assert_eq!(amount_owed_fen(&r.case, &r.settings, r.now), 400_000);
    r.must(
        &officer("o1"),
        Action::RecordPayment {
            amount_fen: 400_000,
            receipt_no: "R-2".to_string(),
        },
    );
    assert_eq!(
        r.case.enforcement.as_ref().map(|e| e.state),
        Some(EnforcementState::Paid)
    );
    r.must(&admin(), Action::Close);
    assert_eq!(r.case.status, CaseStatus::Closed);
}

#[test]
fn every_illegal_transition_is_refused_with_from_and_to() {
    let mut refused = 0;
    for status in CaseStatus::ALL {
        let mut r = Runner::new();
        r.drive_to(status);
        for kind in ActionKind::ALL {
            if kind.from_states().contains(&status) {
                continue;
            }
            let result = apply(
                &r.case,
                &superuser(),
                step(sample_action(kind)),
                &r.settings,
                r.now,
            );
            match result {
                Err(err @ WorkflowError::IllegalTransition { .. }) => {
                    let WorkflowError::IllegalTransition {
                        action, from, to, ..
                    } = &err
                    else {
                        unreachable!()
                    };
                    assert_eq!((*action, *from, *to), (kind, status, kind.to_state()));
                    let text = err.to_string();
                    assert!(
                        text.contains(status.as_str()) && text.contains(kind.to_state().as_str()),
                        "{text}"
                    );
                    refused += 1;
                }
                other => panic!("{kind} from {status} should be illegal, got {other:?}"),
            }
        }
    }
    // 14 states x 19 steps, minus the 21 legal (state, step) pairs.
    let legal: usize = ActionKind::ALL.iter().map(|k| k.from_states().len()).sum();
    assert_eq!(refused, 14 * 19 - legal);
}

#[test]
fn offered_steps_are_exactly_the_legal_ones_for_a_superuser() {
    for status in CaseStatus::ALL {
        let mut r = Runner::new();
        r.drive_to(status);
        let offered: Vec<ActionKind> = available_actions(&r.case, &superuser(), &r.settings, r.now)
            .into_iter()
            .map(|a| a.action)
            .collect();
        let expected: Vec<ActionKind> = ActionKind::ALL
            .into_iter()
            .filter(|k| k.from_states().contains(&status))
            .collect();
        assert_eq!(offered, expected, "at {status}");
    }
}

#[test]
fn investigation_needs_two_distinct_officers() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Filed);
    r.case.officer_ids = vec!["o1".to_string(), "o1".to_string()];
    assert_eq!(
        guard_of(r.try_step(&officer("o1"), step(Action::StartInvestigation))),
        GuardFailure::NeedTwoOfficers { assigned: 1 }
    );
    let offered = available_actions(&r.case, &officer("o1"), &r.settings, r.now);
    assert_eq!(
        offered.first().and_then(|a| a.blocked_by.clone()),
        Some(GuardFailure::NeedTwoOfficers { assigned: 1 })
    );
    r.case.officer_ids.push("o2".to_string());
    r.must(&officer("o1"), Action::StartInvestigation);
    assert_eq!(r.case.status, CaseStatus::Investigating);
}

#[test]
fn notice_and_decision_need_basis_and_penalty() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Investigating);
    let blank_basis = LegalBasis {
        provision_breached: " ".to_string(),
        penalty_provision: String::new(),
        discretion_grade: None,
    };
    r.case.legal_basis = None;
    let notice = |basis: Option<LegalBasis>, penalty: Penalty| {
        step(Action::IssuePreDecisionNotice {
            legal_basis: basis,
            proposed_penalty: penalty,
        })
    };
    assert_eq!(
        guard_of(r.try_step(&officer("o1"), notice(None, fine(100_000)))),
        GuardFailure::LegalBasisRequired
    );
    assert_eq!(
        guard_of(r.try_step(
            &officer("o1"),
            notice(Some(blank_basis.clone()), fine(100_000))
        )),
        GuardFailure::LegalBasisRequired
    );
    assert_eq!(
        guard_of(r.try_step(&officer("o1"), notice(Some(legal_basis()), fine(0)))),
        GuardFailure::PenaltyRequired
    );
    let party = r.case.party.take();
    assert_eq!(
        guard_of(r.try_step(&officer("o1"), notice(Some(legal_basis()), fine(100_000)))),
        GuardFailure::PartyRequired
    );
    r.case.party = party;
    r.try_step(&officer("o1"), notice(Some(legal_basis()), fine(1_000_000)))
        .expect("complete notice");

    // Skip the hearing: the party waived in writing.
    r.must(
        &officer("o1"),
        Action::SubmitForLegalReview {
            party_waived_rights: true,
        },
    );
    let decide = |decision: Decision, basis: Option<LegalBasis>| {
        step(Action::Decide {
            decision,
            legal_basis: basis,
        })
    };
    assert_eq!(
        guard_of(r.try_step(&admin(), decide(Decision::Penalty(fine(0)), None))),
        GuardFailure::PenaltyRequired
    );
    assert_eq!(
        guard_of(r.try_step(
            &admin(),
            decide(Decision::Penalty(fine(500_000)), Some(blank_basis))
        )),
        GuardFailure::LegalBasisRequired
    );
    assert_eq!(
        guard_of(r.try_step(
            &admin(),
            decide(
                Decision::NoPenalty {
                    reason: "  ".to_string()
                },
                None
            )
        )),
        GuardFailure::NoPenaltyReasonRequired
    );
    assert_eq!(
        guard_of(r.try_step(&admin(), decide(Decision::Penalty(fine(1_500_000)), None))),
        GuardFailure::PenaltyAboveNotice {
            proposed_fen: 1_000_000,
            decided_fen: 1_500_000
        }
    );
    // A warning (nothing to collect) is a complete penalty.
    let warning = Penalty {
        warning: true,
        fine_fen: 0,
        confiscation: None,
        other: None,
    };
    r.try_step(&admin(), decide(Decision::Penalty(warning), None))
        .expect("warning is a penalty");
    assert_eq!(r.case.status, CaseStatus::Decided);
}

#[test]
fn hearing_rules_are_enforced() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::PreDecisionNotice);
    // Legal review must wait for the hearing window unless the party waived.
    assert!(matches!(
        guard_of(r.try_step(
            &officer("o1"),
            step(Action::SubmitForLegalReview {
                party_waived_rights: false
            })
        )),
        GuardFailure::HearingWindowOpen { .. }
    ));
    let mut late = Runner::new();
    late.drive_to(CaseStatus::PreDecisionNotice);
    late.advance(Duration::days(14));
    assert!(matches!(
        guard_of(late.try_step(&company_user("co1"), step(Action::RequestHearing))),
        GuardFailure::HearingWindowClosed { .. }
    ));
    // Once the window closed, review may start without a waiver.
    late.must(
        &officer("o1"),
        Action::SubmitForLegalReview {
            party_waived_rights: false,
        },
    );

    r.must(&company_user("co1"), Action::RequestHearing);
    assert!(clock(&r.case, ClockKind::Decision).is_some_and(|c| c.is_paused()));
    assert_eq!(
        guard_of(r.try_step(
            &officer("o1"),
            step(Action::HoldHearing {
                presiding_officer_id: "o2".to_string()
            })
        )),
        GuardFailure::PresidingOfficerIsInvestigator {
            officer_id: "o2".to_string()
        }
    );
    r.must(
        &officer("o1"),
        Action::HoldHearing {
            presiding_officer_id: "o7".to_string(),
        },
    );
    assert!(clock(&r.case, ClockKind::Decision).is_some_and(|c| !c.is_paused()));
}

#[test]
fn notes_reasons_and_attachments_are_checked() {
    let mut r = Runner::new();
    r.prepare();
    let no_note = Transition {
        action: Action::File,
        note: "   ".to_string(),
        attachments: vec![],
    };
    assert_eq!(
        guard_of(r.try_step(&dispatcher(), no_note)),
        GuardFailure::NoteRequired
    );
    let foreign = Transition {
        action: Action::File,
        note: "立案".to_string(),
        attachments: vec!["ev-other".to_string()],
    };
    assert_eq!(
        guard_of(r.try_step(&dispatcher(), foreign)),
        GuardFailure::UnknownAttachment {
            evidence_id: "ev-other".to_string()
        }
    );
    assert_eq!(
        guard_of(r.try_step(
            &dispatcher(),
            step(Action::Reject {
                reason: String::new()
            })
        )),
        GuardFailure::ReasonRequired
    );
    assert_eq!(
        guard_of(r.try_step(
            &dispatcher(),
            step(Action::Refer {
                agency: " ".to_string()
            })
        )),
        GuardFailure::AgencyRequired
    );
}

#[test]
fn filing_needs_prima_facie_evidence() {
    let settings = haulwatch::cases::deadlines::DeadlineSettings::default();
    let opened = open_manual(
        NewCase {
            kind: CaseKind::Report(ReportCategory::Spillage),
            source: CaseSource::Patrol,
            location: None,
            facts: "巡查发现道路抛洒".to_string(),
            vehicle_id: None,
            company_id: None,
            party: None,
            referred_by: None,
        },
        &officer("o5"),
        "case-p".to_string(),
        "柳城管罚〔2026〕第000002号".to_string(),
        &settings,
        t0(),
    )
    .expect("officer opens a patrol case");
    // The patrol officer is on the case already.
    assert_eq!(opened.case.officer_ids, vec!["o5".to_string()]);
    let result = apply(
        &opened.case,
        &dispatcher(),
        step(Action::File),
        &settings,
        t0(),
    );
    assert!(matches!(
        result,
        Err(WorkflowError::Guard {
            reason: GuardFailure::NoPrimaFacieEvidence,
            ..
        })
    ));
}

#[test]
fn closing_from_served_with_a_fine_owed_is_refused() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Served);
    assert_eq!(
        guard_of(r.try_step(&admin(), step(Action::Close))),
        GuardFailure::FineOwed
    );
}

#[test]
fn roles_are_checked() {
    let mut r = Runner::new();
    r.prepare();
    // Filing is for dispatchers and admins.
    for who in [
        officer("o1"),
        auditor(),
        company_user("co1"),
        User::system(),
    ] {
        let reason = forbidden(r.try_step(&who, step(Action::File)));
        assert!(reason.contains("dispatcher"), "{reason}");
    }
    r.must(&dispatcher(), Action::File);
    // Officers must be assigned.
    assert!(
        forbidden(r.try_step(&officer("o3"), step(Action::StartInvestigation)))
            .contains("not assigned")
    );
    r.must(&officer("o2"), Action::StartInvestigation);
    r.advance(Duration::days(1));
    r.must(
        &officer("o2"),
        sample_action(ActionKind::IssuePreDecisionNotice),
    );
    // A company may request a hearing only on its own company's case.
    assert!(
        forbidden(r.try_step(&company_user("co2"), step(Action::RequestHearing)))
            .contains("own company")
    );
    r.must(&company_user("co1"), Action::RequestHearing);
    r.must(
        &officer("o1"),
        Action::HoldHearing {
            presiding_officer_id: "o7".to_string(),
        },
    );
    r.must(
        &officer("o1"),
        Action::SubmitForLegalReview {
            party_waived_rights: false,
        },
    );
    // Decisions are the head's.
    for who in [officer("o1"), dispatcher(), auditor()] {
        assert!(
            forbidden(r.try_step(&who, step(sample_action(ActionKind::Decide)))).contains("admin")
        );
    }
    // Auditors are never offered anything.
    assert!(available_actions(&r.case, &auditor(), &r.settings, r.now).is_empty());
    assert!(available_actions(&r.case, &User::system(), &r.settings, r.now).is_empty());
    let officer_offer: Vec<ActionKind> =
        available_actions(&r.case, &officer("o1"), &r.settings, r.now)
            .into_iter()
            .map(|a| a.action)
            .collect();
    assert!(officer_offer.is_empty(), "{officer_offer:?}");
    let admin_offer: Vec<ActionKind> = available_actions(&r.case, &admin(), &r.settings, r.now)
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(admin_offer, vec![ActionKind::Decide]);
}

#[test]
fn details_are_editable_until_the_decision_by_the_right_people() {
    let mut r = Runner::new();
    r.prepare();
    let patch = || CasePatch {
        facts: Some("补充事实".to_string()),
        ..CasePatch::default()
    };
    assert!(matches!(
        update_details(&r.case, &auditor(), patch(), "x", r.now),
        Err(WorkflowError::EditForbidden { .. })
    ));
    assert!(matches!(
        update_details(&r.case, &officer("o3"), patch(), "x", r.now),
        Err(WorkflowError::EditForbidden { .. })
    ));
    assert!(matches!(
        update_details(&r.case, &officer("o1"), patch(), " ", r.now),
        Err(WorkflowError::InvalidEdit { .. })
    ));
    let applied = update_details(&r.case, &officer("o1"), patch(), "补充", r.now).expect("edit");
    assert_eq!(applied.case.facts, "补充事实");
    assert_eq!(applied.case.revision, r.case.revision + 1);
    let event = applied.audit.first().expect("event");
    assert_eq!(event.after["facts"], "补充事实");
    assert_eq!(event.before["facts"], r.case.facts.as_str());

    let mut decided = Runner::new();
    decided.drive_to(CaseStatus::Decided);
    assert!(matches!(
        update_details(&decided.case, &admin(), patch(), "改", decided.now),
        Err(WorkflowError::NotEditable {
            status: CaseStatus::Decided
        })
    ));
}
