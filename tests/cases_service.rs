//! The case service end to end, on both backends (SQLite in a temporary directory,
//! PostgreSQL + PostGIS in a schema of its own; fails, never skips, when PostgreSQL is down):
//! violations open cases with the right kind and evidence, one episode opens one case (re-sent,
//! updated, closed, concurrent), episodes join within the window, offline opens only after
//! 24 h, dispatch by district and load, the workflow to `archived`, refusals, deadlines,
//! audit verify (and its catching edited rows and files), citizen reports, statistics.

#[macro_use]
mod case_service_support;
mod store_support;

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context, ensure};
use chrono::{DateTime, Duration, Utc};
use haulwatch::cases::audit::{AuditAction, sha256_hex};
use haulwatch::cases::citizen::{CitizenSubmission, PhotoUpload, PublicStage, ReporterContact};
use haulwatch::cases::deadlines::{ClockKind, ClockState, Obliged};
use haulwatch::cases::dispatch::{AssignmentMode, AssignmentOutcome};
use haulwatch::cases::documents::DocumentKind;
use haulwatch::cases::evidence::{EvidenceAccess, EvidenceUpload};
use haulwatch::cases::intake::NewCase;
use haulwatch::cases::model::{
    Case, CaseKind, CaseSource, CaseStatus, Decision, EvidenceKind, LegalBasis, Location, Party,
    PartyKind, Penalty, ReportCategory, ServiceMethod,
};
use haulwatch::cases::service::{
    CaseError, CaseFilter, CaseService, ErrorClass, EvidenceFault, Principal, StatsQuery,
    ViolationOutcome,
};
use haulwatch::cases::stats::Period;
use haulwatch::cases::workflow::{Action, CasePatch, GuardFailure, Transition, WorkflowError};
use haulwatch::model::{Violation, ViolationKind, ViolationStatus};
use haulwatch::store::Store;

use case_service_support::*;

on_both_backends!(
    violations_open_cases_with_the_right_kind_and_evidence,
    one_episode_opens_one_case,
    episodes_within_the_window_join_the_open_case,
    offline_opens_a_case_only_after_24_hours,
    dispatch_picks_the_district_and_the_least_loaded_officers,
    workflow_runs_to_archived_through_the_service,
    illegal_transitions_and_missing_fields_are_refused,
    deadlines_fall_due_and_overdue_cases_are_listed,
    audit_verify_passes_then_names_an_edited_event,
    audit_verify_catches_truncation,
    edited_evidence_files_are_caught,
    citizen_reports_get_a_tracking_number_and_a_public_page_without_personal_data,
    statistics_and_company_isolation,
    violations_arrive_through_the_consumer,
    simulated_trucks_break_rules_and_cases_open,
);

fn step(action: Action) -> Transition {
    Transition {
        action,
        note: "依程序办理".to_string(),
        attachments: Vec::new(),
    }
}

fn legal_basis() -> LegalBasis {
    LegalBasis {
        provision_breached: "《柳州市城市建筑垃圾管理规定》第十五条".to_string(),
        penalty_provision: "《柳州市城市建筑垃圾管理规定》第三十条".to_string(),
        discretion_grade: Some("一般".to_string()),
    }
}

fn party() -> Party {
    Party {
        kind: PartyKind::Organisation,
        name: "柳州市龙城渣土运输有限公司".to_string(),
        id_number: Some("914502001234567890".to_string()),
        address: Some("柳州市柳南区某路1号".to_string()),
        legal_representative: Some("张三".to_string()),
        phone: Some("0772-0000000".to_string()),
    }
}

fn fine(fen: i64) -> Penalty {
    Penalty {
        warning: false,
        fine_fen: fen,
        confiscation: None,
        other: None,
    }
}

fn opened(outcome: &ViolationOutcome) -> anyhow::Result<String> {
    match outcome {
        ViolationOutcome::Opened { case_id, .. } => Ok(case_id.clone()),
        other => anyhow::bail!("expected a new case, got {other:?}"),
    }
}

async fn get(svc: &CaseService, id: &str) -> anyhow::Result<Case> {
    Ok(svc.case(&admin(), id).await?)
}

/// Opens a case from a closed lid-open episode of `vehicle` at `place`, judged at `t0()`.
async fn case_from_violation(
    svc: &CaseService,
    id: &str,
    vehicle: &str,
    place: (f64, f64),
) -> anyhow::Result<String> {
    let v = violation(
        id,
        ViolationKind::LidOpen,
        vehicle,
        t0() - Duration::hours(1),
        Some(10),
        place,
    );
    opened(&svc.handle_violation(&v).await?)
}

async fn violations_open_cases_with_the_right_kind_and_evidence(
    which: Which,
) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, _clock) = service(&db.store).await;
    let mut by_kind = BTreeMap::new();
    for (i, kind) in [
        ViolationKind::RouteDeviation,
        ViolationKind::IllegalDumping,
        ViolationKind::UnregisteredTerminal,
    ]
    .into_iter()
    .enumerate()
    {
        let mut v = violation(
            &format!("vio-{i}"),
            kind,
            "v1",
            t0() - Duration::hours(2),
            Some(15),
            NORTH,
        );
        if kind == ViolationKind::UnregisteredTerminal {
            v.vehicle_id = None;
            v.company_id = None;
            v.phone = "017700000003".into();
        }
        let outcome = svc.handle_violation(&v).await?;
        let case_id = opened(&outcome)?;
        by_kind.insert(kind, (case_id, v));
    }
    for (kind, (case_id, v)) in &by_kind {
        let detail = svc.case_detail(&admin(), case_id).await?;
        let case = &detail.case;
        ensure!(case.kind == CaseKind::Violation(*kind), "{case:?}");
        ensure!(case.source == CaseSource::AutoViolation);
        ensure!(case.status == CaseStatus::Intake);
        ensure!(case.vehicle_id == v.vehicle_id && case.company_id == v.company_id);
        ensure!(case.violation_ids == vec![v.id.clone()]);
        ensure!(
            case.number.starts_with("柳城管罚〔2026〕第"),
            "{}",
            case.number
        );
        ensure!(case.location.as_ref().map(|l| (l.lat, l.lon)) == Some(NORTH));
        // The linked episode, with its evidence, as the engine reported it.
        ensure!(detail.violations == vec![v.clone()]);
        // A write-once snapshot of the episode is the case's first evidence.
        ensure!(detail.evidence.len() == 1);
        let snapshot = &detail.evidence[0];
        ensure!(snapshot.kind == EvidenceKind::TrackExtract);
        let file = svc
            .open_evidence(&admin(), case_id, &snapshot.id, EvidenceAccess::View)
            .await?;
        let stored: Violation = serde_json::from_slice(&file.bytes)?;
        ensure!(stored == *v, "snapshot differs from the episode");
        ensure!(sha256_hex(&file.bytes) == snapshot.sha256);
        let actions: Vec<AuditAction> = svc
            .case_detail(&admin(), case_id)
            .await?
            .events
            .iter()
            .map(|e| e.action)
            .collect();
        ensure!(
            actions
                == vec![
                    AuditAction::CaseOpened,
                    AuditAction::EvidenceUploaded,
                    AuditAction::Assigned,
                    AuditAction::EvidenceViewed
                ],
            "{actions:?}"
        );
    }
    // Numbers run 1, 2, 3 in the year.
    let mut numbers: Vec<String> = Vec::new();
    for (case_id, _) in by_kind.values() {
        numbers.push(get(&svc, case_id).await?.number);
    }
    numbers.sort();
    ensure!(
        numbers
            == (1..=3)
                .map(|n| format!("柳城管罚〔2026〕第{n:06}号"))
                .collect::<Vec<_>>()
    );
    db.finish().await;
    Ok(())
}

async fn one_episode_opens_one_case(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, clock) = service(&db.store).await;
    let start = t0() - Duration::minutes(30);
    let mut v = violation("vio-1", ViolationKind::LidOpen, "v1", start, None, NORTH);
    let case_id = opened(&svc.handle_violation(&v).await?)?;
    // Re-sent: the same case.
    ensure!(
        svc.handle_violation(&v).await?
            == ViolationOutcome::AlreadyLinked {
                case_id: case_id.clone(),
                evidence_added: false
            }
    );
    // Updated with more evidence: the episode row follows, the case stays.
    v.evidence = serde_json::json!({"positions": [1, 2, 3]});
    clock.advance(Duration::minutes(5));
    ensure!(matches!(
        svc.handle_violation(&v).await?,
        ViolationOutcome::AlreadyLinked {
            evidence_added: false,
            ..
        }
    ));
    ensure!(db.store.violation("vio-1").await?.map(|s| s.evidence) == Some(v.evidence.clone()));
    // Closed: a snapshot of the final episode joins the evidence, once.
    v.status = ViolationStatus::Closed;
    v.ended_at = Some(start + Duration::minutes(40));
    clock.advance(Duration::minutes(10));
    ensure!(
        svc.handle_violation(&v).await?
            == ViolationOutcome::AlreadyLinked {
                case_id: case_id.clone(),
                evidence_added: true
            }
    );
    ensure!(matches!(
        svc.handle_violation(&v).await?,
        ViolationOutcome::AlreadyLinked {
            evidence_added: false,
            ..
        }
    ));
    let detail = svc.case_detail(&admin(), &case_id).await?;
    ensure!(detail.evidence.len() == 2, "{:?}", detail.evidence);
    ensure!(detail.case.violation_ids == vec!["vio-1".to_string()]);
    let all = svc
        .list_cases(
            &admin(),
            CaseFilter {
                vehicle_id: Some("v1".into()),
                ..CaseFilter::default()
            },
        )
        .await?
        .0;
    ensure!(all.len() == 1);

    // Sent concurrently, from two services on two pools (as two processes would): one case.
    let other_store = Store::open(db.config.clone()).await?;
    let other = CaseService::with_clock(other_store.clone(), Default::default(), clock.clone());
    let concurrent = violation("vio-c", ViolationKind::Speeding, "v2", t0(), Some(3), NORTH);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let service = if i % 2 == 0 {
            svc.clone()
        } else {
            other.clone()
        };
        let v = concurrent.clone();
        tasks.push(tokio::spawn(
            async move { service.handle_violation(&v).await },
        ));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await??);
    }
    let opened_count = outcomes
        .iter()
        .filter(|o| matches!(o, ViolationOutcome::Opened { .. }))
        .count();
    ensure!(opened_count == 1, "{outcomes:?}");
    let v2_cases = svc
        .list_cases(
            &admin(),
            CaseFilter {
                vehicle_id: Some("v2".into()),
                ..CaseFilter::default()
            },
        )
        .await?
        .0;
    ensure!(v2_cases.len() == 1 && v2_cases[0].case.violation_ids == vec!["vio-c".to_string()]);
    ensure!(svc.verify_audit().await?.is_ok());
    other_store.close().await;
    db.finish().await;
    Ok(())
}

async fn episodes_within_the_window_join_the_open_case(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, clock) = service(&db.store).await;
    let speeding = |id: &str, vehicle: &str, hours: i64| {
        violation(
            id,
            ViolationKind::Speeding,
            vehicle,
            t0() + Duration::hours(hours),
            Some(5),
            NORTH,
        )
    };
    let handle = |v: Violation| {
        let svc = svc.clone();
        let clock = clock.clone();
        async move {
            clock.set(v.ended_at.unwrap_or(v.started_at));
            svc.handle_violation(&v).await
        }
    };
    let a = opened(&handle(speeding("s1", "v1", 0)).await?)?;
    ensure!(
        handle(speeding("s2", "v1", 3)).await? == ViolationOutcome::Joined { case_id: a.clone() }
    );
    // 25 hours after the latest episode (s2): outside the 24 h window.
    let b = opened(&handle(speeding("s3", "v1", 28)).await?)?;
    ensure!(a != b);
    // Another kind, or another vehicle: cases of their own.
    let lid = violation(
        "l1",
        ViolationKind::LidOpen,
        "v1",
        t0() + Duration::hours(4),
        Some(5),
        NORTH,
    );
    let c = opened(&handle(lid).await?)?;
    let d = opened(&handle(speeding("s4", "v2", 3)).await?)?;
    ensure!([&a, &b].iter().all(|x| *x != &c && *x != &d));

    let detail = svc.case_detail(&admin(), &a).await?;
    ensure!(detail.case.violation_ids == vec!["s1".to_string(), "s2".to_string()]);
    ensure!(detail.case.last_episode_at == Some(t0() + Duration::hours(3)));
    ensure!(detail.violations.len() == 2);
    // Each episode brought its snapshot; the join is audited.
    ensure!(detail.evidence.len() == 2);
    ensure!(
        detail
            .events
            .iter()
            .any(|e| e.action == AuditAction::ViolationJoined)
    );
    // Episodes stop joining once the case is past investigation: the dispatcher rejects it
    // and the next episode opens a new case.
    svc.transition(
        &dispatcher(),
        &b,
        step(Action::Reject {
            reason: "证据不足".into(),
        }),
        None,
    )
    .await?;
    let e = opened(&handle(speeding("s5", "v1", 29)).await?)?;
    ensure!(e != b);
    db.finish().await;
    Ok(())
}

async fn offline_opens_a_case_only_after_24_hours(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, clock) = service(&db.store).await;
    let start = t0() - Duration::hours(1);
    let silent = violation("off-1", ViolationKind::Offline, "v1", start, None, NORTH);
    ensure!(matches!(
        svc.handle_violation(&silent).await?,
        ViolationOutcome::Alert { .. }
    ));
    // A short offline episode that ended: an alert, never a case.
    let short = violation(
        "off-2",
        ViolationKind::Offline,
        "v2",
        start,
        Some(10 * 60),
        NORTH,
    );
    ensure!(matches!(
        svc.handle_violation(&short).await?,
        ViolationOutcome::Alert { .. }
    ));
    // 23 h in: the episode is not old enough to be looked at again.
    let report = svc.tick(start + Duration::hours(23)).await?;
    ensure!(
        report.rejudged == 0 && report.opened.is_empty(),
        "{report:?}"
    );
    ensure!(
        svc.list_cases(&admin(), CaseFilter::default())
            .await?
            .0
            .is_empty()
    );
    // Just past 24 h: the silent terminal's episode opens its case without any new report.
    clock.set(start + Duration::hours(24) + Duration::minutes(1));
    let report = svc.tick(clock.now()).await?;
    ensure!(
        report.rejudged == 1 && report.opened.len() == 1,
        "{report:?}"
    );
    let case = get(&svc, &report.opened[0]).await?;
    ensure!(case.kind == CaseKind::Violation(ViolationKind::Offline));
    ensure!(case.violation_ids == vec!["off-1".to_string()]);
    // Judged once: the next tick has nothing left to do.
    let again = svc.tick(clock.now() + Duration::hours(1)).await?;
    ensure!(again.rejudged == 0 && again.opened.is_empty(), "{again:?}");
    // An episode reported closed after 25 h opens its case at once.
    let long = violation(
        "off-3",
        ViolationKind::Offline,
        "v3",
        start,
        Some(25 * 60),
        SOUTH,
    );
    let long_case = opened(&svc.handle_violation(&long).await?)?;
    ensure!(get(&svc, &long_case).await?.company_id.as_deref() == Some("c2"));
    ensure!(
        svc.list_cases(&admin(), CaseFilter::default())
            .await?
            .0
            .len()
            == 2
    );
    db.finish().await;
    Ok(())
}

async fn dispatch_picks_the_district_and_the_least_loaded_officers(
    which: Which,
) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, _clock) = service(&db.store).await;
    let a = case_from_violation(&svc, "va", "v1", NORTH).await?;
    let b = case_from_violation(&svc, "vb", "v2", NORTH).await?;
    let c = case_from_violation(&svc, "vc", "v3", SOUTH).await?;
    // A vehicle not in the registry, somewhere outside every district.
    let d = case_from_violation(&svc, "vd", "v9", NOWHERE).await?;
    let officers = |case: &Case| case.officer_ids.clone();
    let case_a = get(&svc, &a).await?;
    ensure!(
        officers(&case_a) == vec!["o1", "o2"],
        "{:?}",
        case_a.officer_ids
    );
    ensure!(case_a.district_zone_id.as_deref() == Some("d-north"));
    // o1 and o2 now carry one case each; o3 none: the least loaded go first.
    let case_b = get(&svc, &b).await?;
    ensure!(
        officers(&case_b) == vec!["o3", "o1"],
        "{:?}",
        case_b.officer_ids
    );
    let case_c = get(&svc, &c).await?;
    ensure!(officers(&case_c) == vec!["o4", "o5"]);
    ensure!(case_c.district_zone_id.as_deref() == Some("d-south"));
    let case_d = get(&svc, &d).await?;
    ensure!(case_d.officer_ids.is_empty() && case_d.district_zone_id.is_none());

    // The assignment is logged with its inputs: who was excluded and why.
    let detail = svc.case_detail(&dispatcher(), &a).await?;
    let record = detail.assignments.first().context("assignment record")?;
    ensure!(record.mode == AssignmentMode::Auto && record.outcome == AssignmentOutcome::Complete);
    let excluded: BTreeMap<&str, Option<&str>> = record
        .candidates
        .iter()
        .map(|c| (c.officer_id.as_str(), c.excluded.as_deref()))
        .collect();
    ensure!(
        excluded.get("o6") == Some(&Some("off duty")),
        "{excluded:?}"
    );
    ensure!(
        excluded
            .get("o7")
            .is_some_and(|e| e.is_some_and(|t| t.starts_with("no skill")))
    );
    ensure!(excluded.get("o3") == Some(&None));
    ensure!(
        !excluded.contains_key("o4"),
        "south officers are not candidates in the north"
    );
    let unassigned = svc.case_detail(&dispatcher(), &d).await?;
    ensure!(unassigned.assignments[0].outcome == AssignmentOutcome::Unassigned);

    // A dispatcher overrides; an officer may not; unknown officers are refused.
    let err = svc
        .override_assignment(&officer("o1"), &d, vec!["o1".into()], "就近")
        .await
        .expect_err("officers do not reassign");
    ensure!(err.class() == ErrorClass::Forbidden, "{err}");
    let err = svc
        .override_assignment(&dispatcher(), &d, vec!["o99".into()], "就近")
        .await
        .expect_err("unknown officer");
    ensure!(err.class() == ErrorClass::Invalid, "{err}");
    let case_d = svc
        .override_assignment(
            &dispatcher(),
            &d,
            vec!["o6".into(), "o7".into()],
            "就近处置",
        )
        .await?;
    ensure!(officers(&case_d) == vec!["o6", "o7"]);
    let detail = svc.case_detail(&dispatcher(), &d).await?;
    ensure!(detail.assignments.len() == 2);
    ensure!(detail.assignments[1].mode == AssignmentMode::Override);
    ensure!(detail.assignments[1].previous_officer_ids.is_empty());
    ensure!(
        detail
            .events
            .iter()
            .any(|e| e.action == AuditAction::AssignmentOverridden && e.actor_id == "disp1")
    );

    // A patrol officer stays on the case they open; the rest is filled by load
    // (o1: 2 cases, o2: 1, o3: 1 -> o2 by id).
    let patrol = svc
        .create_case(
            &officer("o4"),
            NewCase {
                kind: CaseKind::Report(ReportCategory::MudOnRoad),
                source: CaseSource::Patrol,
                location: Some(Location::point(NORTH.0, NORTH.1)),
                facts: "渣土车带泥上路".into(),
                vehicle_id: Some("v1".into()),
                company_id: Some("c1".into()),
                party: None,
                referred_by: None,
            },
        )
        .await?;
    ensure!(
        officers(&patrol.case) == vec!["o4", "o2"],
        "{:?}",
        patrol.case.officer_ids
    );
    ensure!(patrol.tracking_number.is_none());
    db.finish().await;
    Ok(())
}

/// Drives the case through the whole procedure with the service, rendering every document.
async fn workflow_runs_to_archived_through_the_service(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, clock) = service(&db.store).await;
    let id = case_from_violation(&svc, "vio-w", "v1", NORTH).await?;
    // Dispatch put o1 and o2 on it.
    let o1 = officer("o1");
    let o2 = officer("o2");
    svc.update_details(
        &o1,
        &id,
        CasePatch {
            facts: Some("驾驶渣土车未密闭运输建筑垃圾，沿途抛洒。".into()),
            party: Some(party()),
            legal_basis: Some(legal_basis()),
            ..CasePatch::default()
        },
        "补充案件信息",
        Some(get(&svc, &id).await?.revision),
    )
    .await?;
    let detail = svc.case_detail(&dispatcher(), &id).await?;
    let offered: Vec<_> = detail.allowed_actions.iter().map(|a| a.action).collect();
    ensure!(
        offered
            == vec![
                haulwatch::cases::workflow::ActionKind::File,
                haulwatch::cases::workflow::ActionKind::Reject,
                haulwatch::cases::workflow::ActionKind::Refer
            ],
        "{offered:?}"
    );

    let mut documents = Vec::new();
    let go = |hours: i64| clock.advance(Duration::hours(hours));
    go(2);
    svc.transition(&dispatcher(), &id, step(Action::File), None)
        .await?;
    documents.push(
        svc.render_document(&o1, &id, DocumentKind::FilingApproval)
            .await?,
    );
    go(24);
    svc.transition(&o1, &id, step(Action::StartInvestigation), None)
        .await?;
    let photo = svc
        .upload_evidence(
            &o1,
            &id,
            EvidenceUpload {
                kind: EvidenceKind::Photo,
                file_name: "现场照片.jpg".into(),
                media_type: "image/jpeg".into(),
                captured_at: Some(clock.now()),
                description: "现场抛洒情况".into(),
            },
            b"\xff\xd8\xff\xe0 a photo",
        )
        .await?;
    go(7 * 24);
    svc.transition(
        &o1,
        &id,
        Transition {
            action: Action::IssuePreDecisionNotice {
                legal_basis: None,
                proposed_penalty: fine(1_000_000),
            },
            note: "拟处罚款一万元".into(),
            attachments: vec![photo.id.clone()],
        },
        None,
    )
    .await?;
    documents.push(
        svc.render_document(&o1, &id, DocumentKind::PreDecisionNotice)
            .await?,
    );
    go(2 * 24);
    svc.transition(&company("c1"), &id, step(Action::RequestHearing), None)
        .await?;
    go(10 * 24);
    svc.transition(
        &o1,
        &id,
        step(Action::HoldHearing {
            presiding_officer_id: "o4".into(),
        }),
        None,
    )
    .await?;
    go(24);
    svc.transition(
        &o2,
        &id,
        step(Action::SubmitForLegalReview {
            party_waived_rights: false,
        }),
        None,
    )
    .await?;
    go(3 * 24);
    svc.transition(
        &admin(),
        &id,
        step(Action::Decide {
            decision: Decision::Penalty(fine(800_000)),
            legal_basis: None,
        }),
        None,
    )
    .await?;
    documents.push(
        svc.render_document(&o2, &id, DocumentKind::DecisionNotice)
            .await?,
    );
    go(24);
    svc.transition(
        &o2,
        &id,
        step(Action::Serve {
            method: ServiceMethod::Direct,
            recipient: "张三".into(),
        }),
        None,
    )
    .await?;
    documents.push(
        svc.render_document(&o2, &id, DocumentKind::ServiceReceipt)
            .await?,
    );
    go(1);
    svc.transition(&o1, &id, step(Action::StartEnforcement), None)
        .await?;
    go(5 * 24);
    svc.transition(
        &o1,
        &id,
        step(Action::RecordPayment {
            amount_fen: 800_000,
            receipt_no: "R-2026-0001".into(),
        }),
        None,
    )
    .await?;
    go(24);
    svc.transition(&admin(), &id, step(Action::Close), None)
        .await?;
    documents.push(
        svc.render_document(&admin(), &id, DocumentKind::ClosingApproval)
            .await?,
    );
    go(30 * 24);
    let archived = svc
        .transition(&admin(), &id, step(Action::Archive), None)
        .await?;
    ensure!(archived.status == CaseStatus::Archived);
    let path: Vec<CaseStatus> = archived.history.iter().map(|h| h.to).collect();
    use CaseStatus as S;
    ensure!(
        path == vec![
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
        ],
        "{path:?}"
    );
    // Documents are filled from the case and each issue is audited with the page's hash.
    for html in &documents {
        ensure!(html.contains(&archived.number) || html.contains("柳州市龙城渣土运输有限公司"));
        ensure!(!html.contains("<script"));
    }
    ensure!(documents[2].contains("行政处罚决定书") && documents[2].contains("捌仟元整"));
    let detail = svc.case_detail(&auditor(), &id).await?;
    let issued: Vec<String> = detail
        .events
        .iter()
        .filter(|e| e.action == AuditAction::DocumentIssued)
        .filter_map(|e| {
            e.after
                .get("sha256")
                .and_then(|h| h.as_str())
                .map(str::to_string)
        })
        .collect();
    ensure!(
        issued
            == documents
                .iter()
                .map(|d| sha256_hex(d.as_bytes()))
                .collect::<Vec<_>>()
    );
    ensure!(
        detail.documents.iter().all(|d| d.ready),
        "{:?}",
        detail.documents
    );
    ensure!(detail.allowed_actions.is_empty());
    // The archive is sealed: no more evidence, no more steps.
    let err = svc
        .upload_evidence(
            &admin(),
            &id,
            EvidenceUpload {
                kind: EvidenceKind::Other,
                file_name: "late.txt".into(),
                media_type: "text/plain".into(),
                captured_at: None,
                description: String::new(),
            },
            b"late",
        )
        .await
        .expect_err("archived cases take no evidence");
    ensure!(matches!(err, CaseError::Evidence(_)) && err.class() == ErrorClass::Conflict);
    let err = svc
        .transition(&admin(), &id, step(Action::Close), None)
        .await
        .expect_err("archived is final");
    ensure!(err.class() == ErrorClass::Conflict, "{err}");
    let report = svc.verify_audit().await?;
    ensure!(report.is_ok(), "{report:?}");
    ensure!(report.evidence_checked == 2);
    db.finish().await;
    Ok(())
}

fn guard_of(err: &CaseError) -> Option<&GuardFailure> {
    match err {
        CaseError::Workflow(WorkflowError::Guard { reason, .. }) => Some(reason),
        _ => None,
    }
}

async fn illegal_transitions_and_missing_fields_are_refused(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, _clock) = service(&db.store).await;
    let id = case_from_violation(&svc, "vio-r", "v1", NORTH).await?;
    let o1 = officer("o1");
    let o3 = officer("o3");
    // An officer may not file; investigating before filing is illegal; a note is required.
    let err = svc
        .transition(&o1, &id, step(Action::File), None)
        .await
        .expect_err("officers do not file");
    ensure!(err.class() == ErrorClass::Forbidden, "{err}");
    let err = svc
        .transition(&dispatcher(), &id, step(Action::StartInvestigation), None)
        .await
        .expect_err("intake -> investigating is illegal");
    ensure!(
        matches!(
            err,
            CaseError::Workflow(WorkflowError::IllegalTransition { .. })
        ) && err.class() == ErrorClass::Conflict,
        "{err}"
    );
    ensure!(
        err.to_string()
            .contains("illegal transition intake -> investigating")
    );
    let err = svc
        .transition(
            &dispatcher(),
            &id,
            Transition {
                action: Action::File,
                note: "  ".into(),
                attachments: vec![],
            },
            None,
        )
        .await
        .expect_err("note required");
    ensure!(
        guard_of(&err) == Some(&GuardFailure::NoteRequired) && err.class() == ErrorClass::Invalid
    );
    // A stale revision is refused.
    let seen = get(&svc, &id).await?.revision;
    svc.transition(&dispatcher(), &id, step(Action::File), Some(seen))
        .await?;
    let err = svc
        .transition(&o1, &id, step(Action::StartInvestigation), Some(seen))
        .await
        .expect_err("stale");
    ensure!(matches!(err, CaseError::Stale { .. }) && err.class() == ErrorClass::Conflict);
    // Investigation needs two officers.
    svc.override_assignment(&dispatcher(), &id, vec!["o3".into()], "人手调整")
        .await?;
    let err = svc
        .transition(&o3, &id, step(Action::StartInvestigation), None)
        .await
        .expect_err("one officer");
    ensure!(
        guard_of(&err) == Some(&GuardFailure::NeedTwoOfficers { assigned: 1 }),
        "{err}"
    );
    // o1 is no longer on the case.
    let err = svc
        .transition(&o1, &id, step(Action::StartInvestigation), None)
        .await
        .expect_err("not assigned");
    ensure!(err.class() == ErrorClass::Forbidden);
    svc.override_assignment(
        &dispatcher(),
        &id,
        vec!["o3".into(), "o1".into()],
        "补足两人",
    )
    .await?;
    svc.transition(&o3, &id, step(Action::StartInvestigation), None)
        .await?;
    // The notice needs the party, then the legal basis, then a real penalty.
    let notice = |basis: Option<LegalBasis>, penalty: Penalty| {
        step(Action::IssuePreDecisionNotice {
            legal_basis: basis,
            proposed_penalty: penalty,
        })
    };
    let err = svc
        .transition(&o3, &id, notice(Some(legal_basis()), fine(100_000)), None)
        .await
        .expect_err("no party");
    ensure!(
        guard_of(&err) == Some(&GuardFailure::PartyRequired),
        "{err}"
    );
    svc.update_details(
        &o3,
        &id,
        CasePatch {
            party: Some(party()),
            ..CasePatch::default()
        },
        "当事人",
        None,
    )
    .await?;
    let err = svc
        .transition(&o3, &id, notice(None, fine(100_000)), None)
        .await
        .expect_err("no basis");
    ensure!(
        guard_of(&err) == Some(&GuardFailure::LegalBasisRequired),
        "{err}"
    );
    let err = svc
        .transition(&o3, &id, notice(Some(legal_basis()), fine(0)), None)
        .await
        .expect_err("empty penalty");
    ensure!(
        guard_of(&err) == Some(&GuardFailure::PenaltyRequired),
        "{err}"
    );
    // Refusals changed nothing and wrote no events.
    let case = get(&svc, &id).await?;
    ensure!(case.status == CaseStatus::Investigating && case.proposed_penalty.is_none());
    let transitions = svc
        .case_detail(&admin(), &id)
        .await?
        .events
        .iter()
        .filter(|e| matches!(e.action, AuditAction::Transition(_)))
        .count();
    ensure!(transitions == 2);
    // Another company's user sees nothing; unknown ids are not found.
    let err = svc
        .case(&company("c2"), &id)
        .await
        .expect_err("other company");
    ensure!(err.class() == ErrorClass::NotFound);
    ensure!(svc.case(&company("c1"), &id).await?.id == id);
    let err = svc.case(&admin(), "case-none").await.expect_err("unknown");
    ensure!(err.class() == ErrorClass::NotFound);
    db.finish().await;
    Ok(())
}

async fn deadlines_fall_due_and_overdue_cases_are_listed(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, clock) = service(&db.store).await;
    // Opened Monday 2 March: the 15-working-day pre-filing check ends Monday 23 March.
    let id = case_from_violation(&svc, "vio-d", "v1", NORTH).await?;
    let at = |m: u32, d: u32| local(2026, m, d, 10, 0);
    let overdue_list = |now: DateTime<Utc>| {
        let svc = svc.clone();
        let clock = clock.clone();
        async move {
            clock.set(now);
            let (items, _) = svc
                .list_cases(
                    &admin(),
                    CaseFilter {
                        overdue: true,
                        ..CaseFilter::default()
                    },
                )
                .await?;
            anyhow::Ok(items.into_iter().map(|i| i.case.id).collect::<Vec<_>>())
        }
    };
    ensure!(svc.deadline_alerts(&admin(), at(3, 10)).await?.is_empty());
    let soon = svc.deadline_alerts(&admin(), at(3, 20)).await?;
    ensure!(soon.len() == 1, "{soon:?}");
    ensure!(soon[0].clock == ClockKind::PreFilingCheck && soon[0].state == ClockState::DueSoon);
    ensure!(soon[0].due_on == chrono::NaiveDate::from_ymd_opt(2026, 3, 23).context("date")?);
    ensure!(soon[0].days_left == 3 && soon[0].obliged == Obliged::Agency);
    ensure!(overdue_list(at(3, 23)).await?.is_empty());
    let late = svc.deadline_alerts(&admin(), at(3, 24)).await?;
    ensure!(late.len() == 1 && late[0].state == ClockState::Overdue && late[0].days_left == -1);
    ensure!(overdue_list(at(3, 24)).await? == vec![id.clone()]);
    let (items, _) = svc.list_cases(&admin(), CaseFilter::default()).await?;
    ensure!(items[0].overdue);
    let stats = svc.statistics(&admin(), StatsQuery::default()).await?;
    ensure!(stats.overdue_cases == 1 && stats.due_soon_cases == 0);
    // A calendar with a holiday week (9-13 March) moves the last day to 30 March: the first
    // tick of a service with it rebuilds the index, and the case is no longer overdue.
    let mut settings = haulwatch::cases::CaseSettings::default();
    for d in 9..=13 {
        settings
            .deadlines
            .holidays
            .insert(chrono::NaiveDate::from_ymd_opt(2026, 3, d).context("date")?);
    }
    let holiday_clock = haulwatch::cases::service::CaseClock::manual(at(3, 24));
    let holidays = CaseService::with_clock(db.store.clone(), settings, holiday_clock);
    let report = holidays.tick(at(3, 24)).await?;
    ensure!(report.deadlines_reindexed == 1, "{report:?}");
    let (items, _) = holidays
        .list_cases(
            &admin(),
            CaseFilter {
                overdue: true,
                ..CaseFilter::default()
            },
        )
        .await?;
    ensure!(items.is_empty());
    // Back to the standard calendar.
    let standard = CaseService::with_clock(
        db.store.clone(),
        Default::default(),
        haulwatch::cases::service::CaseClock::manual(at(3, 24)),
    );
    standard.tick(at(3, 24)).await?;
    ensure!(overdue_list(at(3, 24)).await? == vec![id.clone()]);
    // Filing stops that clock and starts the 90-day decision clock (to Monday 22 June).
    svc.transition(&dispatcher(), &id, step(Action::File), None)
        .await?;
    ensure!(overdue_list(at(3, 25)).await?.is_empty());
    ensure!(svc.deadline_alerts(&admin(), at(3, 25)).await?.is_empty());
    let soon = svc.deadline_alerts(&admin(), at(6, 19)).await?;
    ensure!(
        soon.len() == 1 && soon[0].clock == ClockKind::Decision,
        "{soon:?}"
    );
    ensure!(soon[0].due_on == chrono::NaiveDate::from_ymd_opt(2026, 6, 22).context("date")?);
    ensure!(overdue_list(at(6, 23)).await? == vec![id.clone()]);
    // Company users see only their own company's deadlines.
    ensure!(
        svc.deadline_alerts(&company("c2"), at(6, 23))
            .await?
            .is_empty()
    );
    ensure!(svc.deadline_alerts(&company("c1"), at(6, 23)).await?.len() == 1);
    // The head extends the decision clock by 30 days: no longer overdue on 23 June.
    svc.extend_deadline(
        &admin(),
        &id,
        haulwatch::cases::service::DeadlineExtension {
            clock: ClockKind::Decision,
            days: 30,
            reason: "案情复杂".into(),
        },
    )
    .await?;
    ensure!(overdue_list(at(6, 23)).await?.is_empty());
    db.finish().await;
    Ok(())
}

/// Runs `haulwatch audit verify` against the test database.
fn run_verify(db: &store_support::TestStore) -> anyhow::Result<(bool, String)> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_haulwatch"));
    command
        .args(["audit", "verify", "--data-dir"])
        .arg(&db.config.data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("HAULWATCH_DATA_DIR");
    if let Some(url) = &db.config.database_url {
        command.args(["--database-url", url]);
    }
    let output = command.output()?;
    Ok((
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    ))
}

/// Some history: a case from a violation, filed, an evidence upload and a view.
async fn some_history(svc: &CaseService) -> anyhow::Result<String> {
    let id = case_from_violation(svc, "vio-a", "v1", NORTH).await?;
    svc.transition(&dispatcher(), &id, step(Action::File), None)
        .await?;
    let e = svc
        .upload_evidence(
            &officer("o1"),
            &id,
            EvidenceUpload {
                kind: EvidenceKind::Video,
                file_name: "执法记录仪.mp4".into(),
                media_type: "video/mp4".into(),
                captured_at: None,
                description: "执法记录仪视频".into(),
            },
            &vec![7u8; 100_000],
        )
        .await?;
    svc.open_evidence(&auditor(), &id, &e.id, EvidenceAccess::Export)
        .await?;
    Ok(id)
}

async fn audit_verify_passes_then_names_an_edited_event(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, _clock) = service(&db.store).await;
    some_history(&svc).await?;
    let head = db.store.audit_head().await?;
    ensure!(head.seq == 6, "{head:?}");
    let report = svc.verify_audit().await?;
    ensure!(report.is_ok() && report.events_checked == 6 && report.evidence_checked == 2);
    let (ok, out) = run_verify(&db)?;
    ensure!(
        ok && out.starts_with("OK: audit chain of 6 events"),
        "{out}"
    );

    // Someone with database rights edits the note of event 4 (the filing).
    let mut statements = disable_event_triggers(db.store.backend());
    statements.push("UPDATE case_events SET note = '未经审批' WHERE seq = 4");
    raw_sql(&db, &statements).await;
    let report = svc.verify_audit().await?;
    let fault = report.chain_fault.clone().context("edit not caught")?;
    ensure!(fault.event_seq == 4, "{fault:?}");
    ensure!(fault.reason.contains("event edited"), "{fault:?}");
    ensure!(report.events_checked == 3);
    let (ok, out) = run_verify(&db)?;
    ensure!(!ok, "verify must fail: {out}");
    ensure!(out.contains("audit event 4 does not match"), "{out}");
    db.finish().await;
    Ok(())
}

async fn audit_verify_catches_truncation(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, _clock) = service(&db.store).await;
    some_history(&svc).await?;
    let mut statements = disable_event_triggers(db.store.backend());
    statements.push("DELETE FROM case_events WHERE seq = 6");
    raw_sql(&db, &statements).await;
    let report = svc.verify_audit().await?;
    let fault = report
        .chain_fault
        .clone()
        .context("truncation not caught")?;
    ensure!(fault.event_seq == 6, "{fault:?}");
    ensure!(fault.reason.contains("truncated"), "{fault:?}");
    let (ok, out) = run_verify(&db)?;
    ensure!(!ok && out.contains("audit event 6"), "{out}");
    db.finish().await;
    Ok(())
}

async fn edited_evidence_files_are_caught(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, _clock) = service(&db.store).await;
    let id = case_from_violation(&svc, "vio-e", "v1", NORTH).await?;
    let upload = |name: &str| EvidenceUpload {
        kind: EvidenceKind::Photo,
        file_name: name.into(),
        media_type: "image/jpeg".into(),
        captured_at: None,
        description: name.into(),
    };
    let o1 = officer("o1");
    let photo = svc
        .upload_evidence(&o1, &id, upload("a.jpg"), b"original photo bytes")
        .await?;
    let other = svc
        .upload_evidence(&o1, &id, upload("b.jpg"), b"another photo")
        .await?;
    ensure!(svc.verify_audit().await?.is_ok());
    // Someone overwrites the first photo on disk.
    let path = db.store.evidence_path(&photo.sha256)?;
    let mut permissions = std::fs::metadata(&path)?.permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&path, permissions)?;
    std::fs::write(&path, b"doctored photo bytes")?;
    let report = svc.verify_audit().await?;
    ensure!(report.chain_fault.is_none());
    ensure!(
        report.evidence_faults
            == vec![EvidenceFault::Altered {
                evidence_id: photo.id.clone(),
                expected: photo.sha256.clone(),
                found: sha256_hex(b"doctored photo bytes"),
            }],
        "{:?}",
        report.evidence_faults
    );
    // Handing it out is refused; the untouched one still opens.
    let err = svc
        .open_evidence(&o1, &id, &photo.id, EvidenceAccess::View)
        .await
        .expect_err("altered file");
    ensure!(matches!(err, CaseError::EvidenceCorrupt { .. }), "{err}");
    ensure!(
        svc.open_evidence(&o1, &id, &other.id, EvidenceAccess::View)
            .await?
            .bytes
            == b"another photo"
    );
    let (ok, out) = run_verify(&db)?;
    ensure!(!ok && out.contains(&photo.id), "{out}");
    // Repointing the record at another file is caught against the chain's record.
    let mut statements = disable_event_triggers(db.store.backend());
    let repoint = format!(
        "UPDATE evidence SET sha256 = '{}' WHERE id = '{}'",
        other.sha256, photo.id
    );
    statements.push(&repoint);
    raw_sql(&db, &statements).await;
    let report = svc.verify_audit().await?;
    ensure!(
        report
            .evidence_faults
            .iter()
            .any(|f| matches!(f, EvidenceFault::RecordAltered { evidence_id, .. } if *evidence_id == photo.id)),
        "{:?}",
        report.evidence_faults
    );
    db.finish().await;
    Ok(())
}

async fn citizen_reports_get_a_tracking_number_and_a_public_page_without_personal_data(
    which: Which,
) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, clock) = service(&db.store).await;
    let photo = b"\x89PNG a citizen's photo".to_vec();
    let receipt = svc
        .submit_citizen_report(CitizenSubmission {
            location: Location {
                lat: NORTH.0,
                lon: NORTH.1,
                address: Some("龙城路与文昌路口".into()),
            },
            description: "一辆渣土车在路口倾倒泥土".into(),
            category: ReportCategory::Spillage,
            plate_seen: Some("桂B12345".into()),
            contact: ReporterContact {
                name: Some("王小明".into()),
                phone: Some("13812345678".into()),
            },
            photos: vec![PhotoUpload {
                file_name: "IMG_0001.png".into(),
                media_type: "image/png".into(),
                bytes: photo.clone(),
            }],
        })
        .await?;
    // The staff side: a dispatched case with the photo as evidence; the contact kept apart.
    let detail = svc.case_detail(&dispatcher(), &receipt.case_id).await?;
    ensure!(detail.case.source == CaseSource::CitizenReport);
    ensure!(detail.case.kind == CaseKind::Report(ReportCategory::Spillage));
    ensure!(detail.case.district_zone_id.as_deref() == Some("d-north"));
    ensure!(detail.case.officer_ids.len() == 2);
    ensure!(detail.evidence.len() == 1 && detail.evidence[0].sha256 == sha256_hex(&photo));
    let staff = db
        .store
        .citizen_report(&receipt.tracking_number)
        .await?
        .context("report")?;
    ensure!(staff.contact.phone.as_deref() == Some("13812345678"));
    let case_json = serde_json::to_string(&detail.case)?;
    ensure!(!case_json.contains("13812345678") && !case_json.contains("王小明"));

    // The public page, found however the number is typed, says nothing personal.
    let typed = receipt.tracking_number.replace('-', "").to_lowercase();
    let progress = svc.public_progress(&typed).await?.context("progress")?;
    ensure!(progress.tracking_number == receipt.tracking_number);
    ensure!(progress.stage == PublicStage::Received);
    let public = serde_json::to_string(&progress)?;
    for private in [
        "王小明",
        "13812345678",
        "桂B12345",
        "倾倒泥土",
        "龙城路",
        "24.35",
        "109.4",
        "o1",
        receipt.case_id.as_str(),
        detail.case.number.as_str(),
        "IMG_0001",
    ] {
        ensure!(
            !public.contains(private),
            "public page shows {private}: {public}"
        );
    }
    // Progress follows the case.
    clock.advance(Duration::days(1));
    svc.transition(&dispatcher(), &receipt.case_id, step(Action::File), None)
        .await?;
    let progress = svc
        .public_progress(&receipt.tracking_number)
        .await?
        .context("progress")?;
    ensure!(progress.stage == PublicStage::UnderInvestigation);
    ensure!(progress.timeline.len() == 2);
    // Unknown and malformed numbers look the same: nothing.
    ensure!(svc.public_progress("2222-3333-4444-5555").await?.is_none());
    ensure!(
        svc.public_progress("'; DROP TABLE cases; --")
            .await?
            .is_none()
    );
    // Bad submissions are refused without opening anything.
    let err = svc
        .submit_citizen_report(CitizenSubmission {
            location: Location::point(NORTH.0, NORTH.1),
            description: "   ".into(),
            category: ReportCategory::Other,
            plate_seen: None,
            contact: ReporterContact::default(),
            photos: vec![],
        })
        .await
        .expect_err("empty description");
    ensure!(err.class() == ErrorClass::Invalid);
    // A report taken on the hotline by a dispatcher gets a tracking number too.
    let hotline = svc
        .create_case(
            &dispatcher(),
            NewCase {
                kind: CaseKind::Report(ReportCategory::MudOnRoad),
                source: CaseSource::CitizenReport,
                location: Some(Location::point(SOUTH.0, SOUTH.1)),
                facts: "12319热线：工地出口带泥上路".into(),
                vehicle_id: None,
                company_id: None,
                party: None,
                referred_by: None,
            },
        )
        .await?;
    let tracking = hotline.tracking_number.context("hotline tracking number")?;
    ensure!(svc.public_progress(&tracking).await?.is_some());
    ensure!(hotline.case.officer_ids == vec!["o4", "o5"]);
    let all = svc.list_cases(&admin(), CaseFilter::default()).await?.0;
    ensure!(all.len() == 2);
    // The photos' uploads are in the chain, so verify checks them too.
    let report = svc.verify_audit().await?;
    ensure!(report.is_ok() && report.evidence_checked == 1, "{report:?}");
    db.finish().await;
    Ok(())
}

async fn statistics_and_company_isolation(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, clock) = service(&db.store).await;
    case_from_violation(&svc, "s-1", "v1", NORTH).await?;
    case_from_violation(&svc, "s-2", "v2", NORTH).await?;
    let south = case_from_violation(&svc, "s-3", "v3", SOUTH).await?;
    let speeding = violation("s-4", ViolationKind::Speeding, "v3", t0(), Some(5), SOUTH);
    svc.handle_violation(&speeding).await?;
    clock.advance(Duration::days(1));
    svc.transition(
        &dispatcher(),
        &south,
        step(Action::Reject {
            reason: "不属实".into(),
        }),
        None,
    )
    .await?;

    let stats = svc
        .statistics(
            &admin(),
            StatsQuery {
                period: Period::Day,
                ..StatsQuery::default()
            },
        )
        .await?;
    ensure!(stats.cases.total == 4);
    ensure!(stats.cases.by_kind.get("lid_open") == Some(&3));
    ensure!(stats.cases.by_kind.get("speeding") == Some(&1));
    ensure!(stats.cases.by_company.get("c1") == Some(&2));
    ensure!(stats.cases.by_company.get("c2") == Some(&2));
    ensure!(stats.cases.by_district.get("d-north") == Some(&2));
    ensure!(stats.cases.by_district.get("d-south") == Some(&2));
    ensure!(stats.cases.by_status.get("rejected") == Some(&1));
    ensure!(stats.cases.by_status.get("intake") == Some(&3));
    ensure!(stats.cases.by_period.values().sum::<usize>() == 4);
    // Four episodes at two places: two hot cells of two.
    let counts: Vec<usize> = stats.hot_spots.cells.iter().map(|c| c.count).collect();
    ensure!(counts == vec![2, 2], "{counts:?}");

    // A company sees only its own, whatever it asks for.
    let c2: Principal = company("c2");
    let (items, _) = svc
        .list_cases(
            &c2,
            CaseFilter {
                company_id: Some("c1".into()),
                ..CaseFilter::default()
            },
        )
        .await?;
    ensure!(
        items.len() == 2
            && items
                .iter()
                .all(|i| i.case.company_id.as_deref() == Some("c2"))
    );
    let own = svc.statistics(&c2, StatsQuery::default()).await?;
    ensure!(own.cases.total == 2 && own.hot_spots.cells.len() == 1);
    // Company users do not see who was considered for dispatch, nor the internal records
    // inside the events; staff do.
    let seen_by_company = svc.case_detail(&c2, &south).await?;
    ensure!(seen_by_company.assignments.is_empty());
    ensure!(!seen_by_company.events.is_empty());
    ensure!(
        seen_by_company
            .events
            .iter()
            .all(|e| e.after.is_null() && e.before.is_null())
    );
    let seen_by_staff = svc.case_detail(&dispatcher(), &south).await?;
    ensure!(
        seen_by_staff
            .events
            .iter()
            .any(|e| e.after.get("assignment").is_some())
    );
    // A principal without roles reads nothing.
    let nobody = principal("x", &[], None);
    let err = svc
        .list_cases(&nobody, CaseFilter::default())
        .await
        .expect_err("no role");
    ensure!(err.class() == ErrorClass::Forbidden);
    db.finish().await;
    Ok(())
}

async fn violations_arrive_through_the_consumer(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let (svc, _clock) = service(&db.store).await;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let cancel = tokio_util::sync::CancellationToken::new();
    let consumer = svc.spawn_violation_consumer(rx, cancel.clone());
    let mut v = violation(
        "vio-q",
        ViolationKind::RouteDeviation,
        "v1",
        t0(),
        None,
        NORTH,
    );
    tx.send(v.clone()).await?;
    tx.send(v.clone()).await?;
    v.status = ViolationStatus::Closed;
    v.ended_at = Some(t0() + Duration::minutes(20));
    tx.send(v.clone()).await?;
    tx.send(violation(
        "vio-r",
        ViolationKind::Speeding,
        "v3",
        t0(),
        Some(2),
        SOUTH,
    ))
    .await?;
    drop(tx);
    // The consumer ends when the channel closes, after handling everything in order.
    tokio::time::timeout(std::time::Duration::from_secs(30), consumer).await??;
    let (items, _) = svc.list_cases(&admin(), CaseFilter::default()).await?;
    ensure!(items.len() == 2, "{items:?}");
    let route = items
        .iter()
        .find(|i| i.case.kind == CaseKind::Violation(ViolationKind::RouteDeviation))
        .context("route case")?;
    // Opening snapshot and closing snapshot.
    ensure!(route.case.evidence_ids.len() == 2);
    ensure!(db.store.violation("vio-q").await?.map(|s| s.status) == Some(ViolationStatus::Closed));
    cancel.cancel();
    db.finish().await;
    Ok(())
}

/// The whole path: simulated trucks of the Liuzhou sample city (the simulator's motion model
/// and scenario behaviours) -> positions -> the rule engine -> violation episodes -> the case
/// service. Every episode the engine reports opens or joins exactly one case of its kind.
async fn simulated_trucks_break_rules_and_cases_open(which: Which) -> anyhow::Result<()> {
    use geo::{Contains, Point};
    use haulwatch::engine::{Engine, EngineConfig, EngineEvent};
    use haulwatch::model::{LoadState, Position, PositionFlags, PositionSource, ZoneKind};
    use haulwatch::sim::motion::{LIUZHOU_CENTRE, TruckMotion};
    use haulwatch::sim::scenario::Scenario;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    let db = open(which).await;
    let store = &db.store;
    let bundle = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("geofences/liuzhou");
    haulwatch::import::import_bundle(store, &bundle).await?;
    let registry = store.registry().await?;
    // Wednesday 4 March 2026, 10:00 local: inside the permits' daily windows.
    let start = local(2026, 3, 4, 10, 0);
    let clock = haulwatch::cases::service::CaseClock::manual(start);
    let svc = CaseService::with_clock(store.clone(), Default::default(), clock.clone());
    for o in &registry.officers {
        svc.set_officer_duty(
            &admin(),
            haulwatch::cases::dispatch::OfficerDuty {
                officer_id: o.id.clone(),
                shifts: vec![],
                on_duty_override: Some(true),
                skills: CaseKind::all().into_iter().collect(),
            },
            None,
        )
        .await?;
    }
    let scenario: Scenario = serde_json::from_value(serde_json::json!({"trucks": [
        {"vehicle_id": "v001", "break": "speeding", "start_s": 20, "duration_s": 400, "speed_kmh": 95},
        {"vehicle_id": "v003", "break": "enter_zone", "zone_id": "z-school-yufeng", "start_s": 30, "duration_s": 2400},
        {"vehicle_id": "v005", "break": "lid_open", "start_s": 0, "duration_s": 900},
    ]}))?;
    let behaviours = scenario
        .resolve(&registry)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .behaviours;
    let fleet = ["v001", "v002", "v003", "v004", "v005", "v006"];
    let mut trucks = Vec::new();
    for (i, vid) in fleet.iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(808 + i as u64);
        let mut motion = TruckMotion::plan(&registry, vid, LIUZHOU_CENTRE, &mut rng);
        for (v, b) in &behaviours {
            if v == vid {
                motion.add_behaviour(b.clone());
            }
        }
        let vehicle = registry
            .vehicles
            .iter()
            .find(|v| v.id == *vid)
            .context("vehicle")?
            .clone();
        let phone = registry
            .terminals
            .iter()
            .find(|t| t.vehicle_id.as_deref() == Some(vid))
            .context("terminal")?
            .phone
            .clone();
        trucks.push((vehicle, phone, motion, rng));
    }

    let mut config = EngineConfig::default();
    config.ordering.reorder_window_secs = 0;
    let engine = Engine::new(&registry, config);
    let mut shard = engine.shard();
    let mut reported: BTreeMap<String, Violation> = BTreeMap::new();
    let mut outcomes = Vec::new();
    let mut next_id = 1i64;
    let step_s = 10.0;
    let steps = 300i64;
    for step_no in 1..=steps {
        let now = start + Duration::seconds(step_no * 10);
        let mut events = Vec::new();
        for (vehicle, phone, motion, rng) in trucks.iter_mut() {
            let fix = motion.step(step_s, now, rng);
            if motion.silent() {
                continue;
            }
            let sensors = vehicle.sensors;
            let p = Position {
                id: next_id,
                phone: phone.clone(),
                vehicle_id: Some(vehicle.id.clone()),
                time: now,
                received_at: now,
                lat: fix.lat,
                lon: fix.lon,
                altitude_m: 90,
                speed_kmh: fix.speed_kmh,
                heading: fix.heading,
                alarm: 0,
                status: 0b10,
                load: if sensors.load {
                    fix.load
                } else {
                    LoadState::Unknown
                },
                lift_up: sensors.lift.then_some(fix.lift_up),
                lid_open: sensors.lid.then_some(fix.lid_open),
                weight_kg: None,
                mileage_km: None,
                source: PositionSource::Live,
                flags: PositionFlags::default(),
                raw: bytes::Bytes::new(),
            };
            next_id += 1;
            events.extend(shard.process(&p, now));
        }
        if step_no % 6 == 0 {
            events.extend(shard.tick(now));
        }
        if step_no == steps {
            shard.flush(&mut events);
        }
        for event in events {
            if let EngineEvent::Violation(ev) = event {
                clock.set(now);
                outcomes.push(svc.handle_violation(&ev.violation).await?);
                reported.insert(ev.violation.id.clone(), ev.violation);
            }
        }
    }

    let kinds: Vec<(Option<String>, ViolationKind)> = reported
        .values()
        .map(|v| (v.vehicle_id.clone(), v.kind))
        .collect();
    ensure!(
        kinds.contains(&(Some("v001".into()), ViolationKind::Speeding)),
        "no speeding from v001: {kinds:?}"
    );
    ensure!(
        kinds.contains(&(Some("v003".into()), ViolationKind::RestrictedZone)),
        "no restricted-zone entry from v003: {kinds:?}"
    );
    // Every episode of a kind the policy opens cases for is in exactly one case of its kind
    // and vehicle; nothing else opened a case.
    let mut case_ids = std::collections::BTreeSet::new();
    for v in reported.values() {
        let linked = store.case_of_violation(&v.id).await?;
        if v.kind == ViolationKind::Offline {
            ensure!(linked.is_none(), "a short offline episode opened a case");
            continue;
        }
        let case_id = linked.with_context(|| format!("episode {} has no case", v.id))?;
        let case = get(&svc, &case_id).await?;
        ensure!(case.kind == CaseKind::Violation(v.kind) && case.vehicle_id == v.vehicle_id);
        ensure!(case.violation_ids.contains(&v.id));
        case_ids.insert(case_id);
    }
    let opened = outcomes
        .iter()
        .filter(|o| matches!(o, ViolationOutcome::Opened { .. }))
        .count();
    let (all, _) = svc
        .list_cases(
            &admin(),
            CaseFilter {
                limit: 1000,
                ..CaseFilter::default()
            },
        )
        .await?;
    ensure!(
        opened == all.len() && all.len() == case_ids.len(),
        "{outcomes:?}"
    );

    // The school-zone case: located in the zone, dispatched to the district containing it,
    // to that district's officers; its evidence is the engine's episode.
    let zone = registry
        .zones
        .iter()
        .find(|z| z.id == "z-school-yufeng")
        .context("zone")?;
    let school = all
        .iter()
        .find(|i| {
            i.case.vehicle_id.as_deref() == Some("v003")
                && i.case.kind == CaseKind::Violation(ViolationKind::RestrictedZone)
        })
        .context("school case")?;
    let location = school.case.location.clone().context("location")?;
    let point = Point::new(location.lon, location.lat);
    ensure!(zone.geometry.contains(&point), "{location:?}");
    let district = registry
        .zones
        .iter()
        .find(|z| z.kind == ZoneKind::District && z.geometry.contains(&point))
        .context("district")?;
    ensure!(school.case.district_zone_id.as_deref() == Some(district.id.as_str()));
    ensure!(school.case.officer_ids.len() == 2);
    for officer_id in &school.case.officer_ids {
        let o = registry
            .officers
            .iter()
            .find(|o| &o.id == officer_id)
            .context("officer")?;
        ensure!(o.district_zone_id.as_deref() == Some(district.id.as_str()));
    }
    let detail = svc.case_detail(&admin(), &school.case.id).await?;
    let snapshot = detail.evidence.first().context("snapshot")?;
    let file = svc
        .open_evidence(
            &admin(),
            &school.case.id,
            &snapshot.id,
            EvidenceAccess::View,
        )
        .await?;
    let episode: Violation = serde_json::from_slice(&file.bytes)?;
    ensure!(school.case.violation_ids.contains(&episode.id));
    ensure!(episode.evidence != serde_json::Value::Null);
    ensure!(detail.case.company_id.as_deref() == Some("c03"));
    let report = svc.verify_audit().await?;
    ensure!(report.is_ok(), "{report:?}");
    db.finish().await;
    Ok(())
}
