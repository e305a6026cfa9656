//! Citizen reports: a report opens a case with its photos as hashed evidence, the reporter gets
//! a tracking number, and the public progress view carries no personal data.

mod cases_support;

use cases_support::*;

use chrono::Duration;
use haulwatch::cases::audit::{AuditAction, ChainHead, sha256_hex, verify};
use haulwatch::cases::citizen::{
    CitizenError, CitizenLimits, CitizenSubmission, PhotoUpload, PublicStage, ReportIds,
    ReporterContact, TRACKING_SYMBOLS, new_tracking_number, normalize_tracking_number,
    public_progress, receive_report,
};
use haulwatch::cases::deadlines::DeadlineSettings;
use haulwatch::cases::model::{CaseKind, CaseSource, CaseStatus, Location, ReportCategory};
use haulwatch::cases::workflow::{Action, apply};
use rand::SeedableRng;
use rand::rngs::StdRng;

const REPORTER_NAME: &str = "陈举报";
const REPORTER_PHONE: &str = "13800138000";
const PLATE: &str = "桂B88888";
const DESCRIPTION: &str = "晚上十点多一辆渣土车在文昌路沿途撒土，车斗没有盖";

fn submission(photos: usize) -> CitizenSubmission {
    CitizenSubmission {
        location: Location {
            lat: 24.3301,
            lon: 109.4202,
            address: Some("文昌路口".into()),
        },
        description: DESCRIPTION.into(),
        category: ReportCategory::Spillage,
        plate_seen: Some(PLATE.into()),
        contact: ReporterContact {
            name: Some(REPORTER_NAME.into()),
            phone: Some(REPORTER_PHONE.into()),
        },
        photos: (0..photos)
            .map(|i| PhotoUpload {
                file_name: format!("IMG_{i}.jpg"),
                media_type: "image/jpeg".into(),
                bytes: format!("photo bytes {i}").into_bytes(),
            })
            .collect(),
    }
}

fn ids(photos: usize, tracking: &str) -> ReportIds {
    ReportIds {
        case_id: "case-c1".into(),
        case_number: "柳城管罚〔2026〕第000050号".into(),
        evidence_ids: (0..photos).map(|i| format!("ev-c{i}")).collect(),
        tracking_number: tracking.into(),
    }
}

#[test]
fn a_report_opens_a_case_with_hashed_photos_and_a_tracking_number() {
    let mut rng = StdRng::seed_from_u64(42);
    let tracking = new_tracking_number(&mut rng);
    // At least 12 random symbols, as unguessable as the brief asks.
    assert!(tracking.replace('-', "").len() >= 12);
    assert_eq!(tracking.replace('-', "").len(), TRACKING_SYMBOLS);
    let received = receive_report(
        submission(2),
        ids(2, &tracking),
        &CitizenLimits::default(),
        &DeadlineSettings::default(),
        t0(),
    )
    .expect("valid report");
    let case = &received.case;
    assert_eq!(case.source, CaseSource::CitizenReport);
    assert_eq!(case.kind, CaseKind::Report(ReportCategory::Spillage));
    assert_eq!(case.status, CaseStatus::Intake);
    assert_eq!(case.tracking_number.as_deref(), Some(tracking.as_str()));
    assert_eq!(
        case.evidence_ids,
        vec!["ev-c0".to_string(), "ev-c1".to_string()]
    );
    assert!(case.facts.contains(DESCRIPTION) && case.facts.contains(PLATE));
    // The reporter's identity stays on the staff-side record only.
    let case_json = serde_json::to_string(case).expect("serialise");
    assert!(!case_json.contains(REPORTER_NAME) && !case_json.contains(REPORTER_PHONE));
    assert_eq!(
        received.report.contact.phone.as_deref(),
        Some(REPORTER_PHONE)
    );
    for (i, e) in received.evidence.iter().enumerate() {
        assert_eq!(e.sha256, sha256_hex(format!("photo bytes {i}").as_bytes()));
        assert_eq!(e.case_id, case.id);
    }
    // Audit: the opening plus one upload per photo, none carrying the reporter's contact.
    let actions: Vec<AuditAction> = received.audit.iter().map(|d| d.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::CitizenReportReceived,
            AuditAction::EvidenceUploaded,
            AuditAction::EvidenceUploaded
        ]
    );
    let mut head = ChainHead::genesis();
    let events: Vec<_> = received.audit.into_iter().map(|d| head.seal(d)).collect();
    assert_eq!(verify(&events), Ok(()));
    let audit_json = serde_json::to_string(&events).expect("serialise");
    assert!(!audit_json.contains(REPORTER_PHONE) && !audit_json.contains(REPORTER_NAME));
    // A dispatcher can file it (the photos are prima facie evidence).
    let filed = apply(
        case,
        &dispatcher(),
        step(Action::File),
        &DeadlineSettings::default(),
        t0() + Duration::hours(1),
    )
    .expect("file");
    assert_eq!(filed.case.status, CaseStatus::Filed);
}

#[test]
fn the_public_view_shows_progress_and_no_personal_data() {
    let mut rng = StdRng::seed_from_u64(1);
    let tracking = new_tracking_number(&mut rng);
    let received = receive_report(
        submission(1),
        ids(1, &tracking),
        &CitizenLimits::default(),
        &DeadlineSettings::default(),
        t0(),
    )
    .expect("valid report");
    let mut r = Runner::new();
    r.case = received.case;
    r.case.party = Some(party());
    // Officers identified the company during the check.
    r.case.company_id = Some("co1".into());
    let fresh = public_progress(&tracking, &r.case);
    assert_eq!(fresh.stage, PublicStage::Received);
    assert_eq!(fresh.received_on, date(2026, 3, 2));
    assert_eq!(fresh.timeline.len(), 1);

    r.drive_to(CaseStatus::Archived);
    let done = public_progress(&tracking, &r.case);
    assert_eq!(done.stage, PublicStage::Concluded);
    let stages: Vec<PublicStage> = done.timeline.iter().map(|s| s.stage).collect();
    assert_eq!(
        stages,
        vec![
            PublicStage::Received,
            PublicStage::UnderInvestigation,
            PublicStage::Decided,
            PublicStage::Concluded
        ]
    );
    let json = serde_json::to_string(&done).expect("serialise");
    for secret in [
        REPORTER_NAME,
        REPORTER_PHONE,
        PLATE,
        DESCRIPTION,
        "文昌路",
        "24.33",
        "柳州市某某运输有限公司",
        "张三",
        "o1",
        "u-o1",
        "800000",
        "case-c1",
    ] {
        assert!(!json.contains(secret), "public view leaks {secret}: {json}");
    }
    assert!(json.contains(&tracking));
}

#[test]
fn bad_submissions_are_refused() {
    let limits = CitizenLimits::default();
    let settings = DeadlineSettings::default();
    let try_it = |s: CitizenSubmission, n: usize| {
        receive_report(s, ids(n, "K7QM-2XPA-9RTD-HW3E"), &limits, &settings, t0())
    };
    let mut s = submission(0);
    s.description = "  ".into();
    assert_eq!(try_it(s, 0), Err(CitizenError::DescriptionRequired));
    let mut s = submission(0);
    s.description = "很".repeat(2001);
    assert!(matches!(
        try_it(s, 0),
        Err(CitizenError::DescriptionTooLong { .. })
    ));
    let mut s = submission(0);
    s.location.lat = f64::NAN;
    assert_eq!(try_it(s, 0), Err(CitizenError::InvalidLocation));
    let mut s = submission(0);
    s.contact.phone = Some("1".repeat(65));
    assert!(matches!(
        try_it(s, 0),
        Err(CitizenError::FieldTooLong { field: "phone", .. })
    ));
    assert!(matches!(
        try_it(submission(10), 10),
        Err(CitizenError::TooManyPhotos { .. })
    ));
    let mut s = submission(1);
    s.photos[0].media_type = "text/html".into();
    assert!(matches!(
        try_it(s, 1),
        Err(CitizenError::BadPhoto { index: 1, .. })
    ));
    let mut s = submission(2);
    s.photos[1].bytes.clear();
    assert!(matches!(
        try_it(s, 2),
        Err(CitizenError::BadPhoto { index: 2, .. })
    ));
    let mut s = submission(1);
    s.photos[0].bytes = vec![0; limits.max_photo_bytes + 1];
    assert!(matches!(try_it(s, 1), Err(CitizenError::BadPhoto { .. })));
    assert!(matches!(
        try_it(submission(2), 1),
        Err(CitizenError::EvidenceIdCount { ids: 1, photos: 2 })
    ));
}

#[test]
fn tracking_numbers_look_up_as_typed() {
    let mut rng = StdRng::seed_from_u64(9);
    let t = new_tracking_number(&mut rng);
    assert_eq!(
        normalize_tracking_number(&t.to_lowercase()),
        Some(t.clone())
    );
    assert_eq!(
        normalize_tracking_number(&t.replace('-', "")),
        Some(t.clone())
    );
    assert_eq!(normalize_tracking_number(&format!("{t}X")), None);
    assert_eq!(normalize_tracking_number("O0I1-O0I1-O0I1-O0I1"), None);
    // Different seeds, different numbers.
    let mut other = StdRng::seed_from_u64(10);
    assert_ne!(new_tracking_number(&mut other), t);
}
