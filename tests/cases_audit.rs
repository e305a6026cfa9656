//! The audit chain: a full case history verifies, and editing, removing, reordering or
//! truncating events is caught at the first bad event. Evidence is hashed on upload and every
//! view or export is an event.

mod cases_support;

use cases_support::*;

use chrono::Duration;
use haulwatch::cases::audit::{
    AuditAction, AuditEvent, BreakReason, ChainHead, EvidenceHasher, sha256_hex, verify,
    verify_against_head, verify_from,
};
use haulwatch::cases::evidence::{
    EvidenceAccess, EvidenceError, EvidenceUpload, attach_evidence, attach_hashed_evidence,
    matches_file, record_access,
};
use haulwatch::cases::model::{CaseStatus, EvidenceKind};
use haulwatch::cases::workflow::ActionKind;

fn archived_history() -> Vec<AuditEvent> {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Archived);
    assert!(r.events.len() >= 10);
    r.events
}

#[test]
fn a_full_history_verifies_and_survives_a_json_round_trip() {
    let events = archived_history();
    assert_eq!(verify(&events), Ok(()));
    // As the store would: serialise every row and read it back.
    let text = serde_json::to_string(&events).expect("serialise");
    let back: Vec<AuditEvent> = serde_json::from_str(&text).expect("parse");
    assert_eq!(verify(&back), Ok(()));
    // Sequence numbers run 1..=n and each event points at its predecessor.
    for (i, pair) in back.windows(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(a.seq, i as u64 + 1);
        assert_eq!(b.prev_hash, a.hash);
    }
    // Every transition of the path is in the chain, in order.
    let steps: Vec<String> = back
        .iter()
        .filter_map(|e| match e.action {
            AuditAction::Transition(kind) => Some(kind.as_str().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(steps.first().map(String::as_str), Some("file"));
    assert_eq!(steps.last().map(String::as_str), Some("archive"));
    assert!(steps.contains(&ActionKind::Decide.as_str().to_string()));
}

#[test]
fn an_edited_event_is_caught_at_that_event() {
    let mut events = archived_history();
    // Someone lowers the fine in the decision event's recorded "after" state.
    let decide = events
        .iter()
        .position(|e| e.action == AuditAction::Transition(ActionKind::Decide))
        .expect("decision event");
    let seq = events[decide].seq;
    events[decide].after["decision"]["fine_fen"] = serde_json::json!(1);
    let err = verify(&events).expect_err("edit must be caught");
    assert_eq!(err.event_seq, seq);
    assert!(matches!(err.reason, BreakReason::HashMismatch { .. }));

    // Editing the actor is caught the same way.
    let mut events = archived_history();
    events[3].actor_id = "someone-else".to_string();
    let err = verify(&events).expect_err("edit must be caught");
    assert_eq!(err.event_seq, events[3].seq);
}

#[test]
fn an_edited_event_with_a_recomputed_hash_breaks_the_next_link() {
    let mut events = archived_history();
    events[4].note = Some("改写的备注".to_string());
    events[4].hash = events[4].compute_hash();
    let err = verify(&events).expect_err("caught at the next event");
    assert_eq!(err.event_seq, events[5].seq);
    assert!(matches!(err.reason, BreakReason::PrevHashMismatch { .. }));
}

#[test]
fn a_removed_event_is_caught() {
    let mut events = archived_history();
    let removed = events.remove(3);
    let err = verify(&events).expect_err("removal must be caught");
    assert_eq!(err.event_seq, removed.seq + 1);
    assert_eq!(
        err.reason,
        BreakReason::SequenceGap {
            expected: removed.seq,
            found: removed.seq + 1
        }
    );

    // Renumbering the rest to hide the gap breaks the hashes instead.
    for e in events.iter_mut().skip(3) {
        e.seq -= 1;
    }
    let err = verify(&events).expect_err("renumbering must be caught");
    assert_eq!(err.event_seq, removed.seq);
}

#[test]
fn reordered_events_are_caught() {
    let mut events = archived_history();
    events.swap(5, 6);
    let err = verify(&events).expect_err("reordering must be caught");
    assert_eq!(err.event_seq, 7);
    assert_eq!(
        err.reason,
        BreakReason::SequenceGap {
            expected: 6,
            found: 7
        }
    );
}

#[test]
fn truncation_is_caught_against_the_kept_head() {
    let mut events = archived_history();
    let head = events.last().expect("events").head();
    assert_eq!(verify_against_head(&events, &head), Ok(()));
    events.pop();
    // The shorter chain is internally consistent ...
    assert_eq!(verify(&events), Ok(()));
    // ... but does not reach the head kept apart.
    let err = verify_against_head(&events, &head).expect_err("truncation");
    assert_eq!(err.event_seq, head.seq);
    assert!(matches!(err.reason, BreakReason::HeadMismatch { .. }));
}

#[test]
fn verification_can_run_page_by_page() {
    let events = archived_history();
    let mut head = ChainHead::genesis();
    for page in events.chunks(3) {
        head = verify_from(&head, page).expect("page verifies");
    }
    assert_eq!(head, events.last().expect("events").head());
    // A tampered event in a later page is still named.
    let mut tampered = events.clone();
    tampered[7].at += Duration::seconds(1);
    let mut head = ChainHead::genesis();
    let mut failure = None;
    for page in tampered.chunks(3) {
        match verify_from(&head, page) {
            Ok(next) => head = next,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    assert_eq!(failure.map(|e| e.event_seq), Some(tampered[7].seq));
}

#[test]
fn evidence_is_hashed_on_upload_and_every_access_is_an_event() {
    let mut r = Runner::new();
    r.drive_to(CaseStatus::Investigating);
    let photo = b"\xff\xd8\xff\xe0 fake jpeg bytes of a spilling truck".to_vec();
    let upload = EvidenceUpload {
        kind: EvidenceKind::Photo,
        file_name: "现场照片.jpg".to_string(),
        media_type: "image/jpeg".to_string(),
        captured_at: Some(r.now),
        description: "车厢未密闭".to_string(),
    };
    // Only staff on the case may upload.
    assert!(matches!(
        attach_evidence(
            &r.case,
            &officer("o9"),
            upload.clone(),
            &photo,
            "ev-1".into(),
            r.now
        ),
        Err(EvidenceError::Forbidden { .. })
    ));
    assert!(matches!(
        attach_evidence(
            &r.case,
            &officer("o1"),
            upload.clone(),
            &[],
            "ev-1".into(),
            r.now
        ),
        Err(EvidenceError::Empty)
    ));
    let (applied, evidence) = attach_evidence(
        &r.case,
        &officer("o1"),
        upload.clone(),
        &photo,
        "ev-1".into(),
        r.now,
    )
    .expect("upload");
    assert_eq!(evidence.sha256, sha256_hex(&photo));
    assert_eq!(evidence.size_bytes, photo.len() as u64);
    assert_eq!(applied.case.evidence_ids, vec!["ev-1".to_string()]);
    let upload_event = applied.audit.first().expect("event");
    assert_eq!(upload_event.action, AuditAction::EvidenceUploaded);
    assert_eq!(
        upload_event.after["evidence"]["sha256"],
        evidence.sha256.as_str()
    );
    r.absorb(applied);

    // A streamed upload gives the same record.
    let mut hasher = EvidenceHasher::new();
    for chunk in photo.chunks(5) {
        hasher.update(chunk);
    }
    let (digest, size) = hasher.finish();
    let (_, streamed) = attach_hashed_evidence(
        &r.case,
        &officer("o1"),
        upload.clone(),
        &digest,
        size,
        "ev-2".into(),
        r.now,
    )
    .expect("streamed upload");
    assert_eq!(streamed.sha256, evidence.sha256);
    assert!(matches!(
        attach_hashed_evidence(
            &r.case,
            &officer("o1"),
            upload,
            "abc",
            3,
            "ev-3".into(),
            r.now
        ),
        Err(EvidenceError::BadDigest(_))
    ));

    // Views and exports: each one an event naming the evidence.
    for (who, access) in [
        (auditor(), EvidenceAccess::View),
        (officer("o2"), EvidenceAccess::Export),
        (company_user("co1"), EvidenceAccess::View),
    ] {
        let draft = record_access(&r.case, &evidence, &who, access, r.now).expect("allowed");
        assert_eq!(draft.evidence_ids, vec!["ev-1".to_string()]);
        assert_eq!(draft.actor_id, who.id);
        r.seal(vec![draft]);
    }
    assert!(matches!(
        record_access(
            &r.case,
            &evidence,
            &company_user("co2"),
            EvidenceAccess::View,
            r.now
        ),
        Err(EvidenceError::Forbidden { .. })
    ));
    let mut other_case = r.case.clone();
    other_case.id = "case-other".to_string();
    assert!(matches!(
        record_access(
            &other_case,
            &evidence,
            &admin(),
            EvidenceAccess::View,
            r.now
        ),
        Err(EvidenceError::WrongCase { .. })
    ));
    let accesses: Vec<AuditAction> = r
        .events
        .iter()
        .filter(|e| e.evidence_ids.contains(&"ev-1".to_string()))
        .map(|e| e.action)
        .collect();
    assert_eq!(
        accesses,
        vec![
            AuditAction::EvidenceUploaded,
            AuditAction::EvidenceViewed,
            AuditAction::EvidenceExported,
            AuditAction::EvidenceViewed
        ]
    );
    assert_eq!(verify(&r.events), Ok(()));

    // The stored bytes are checked against the upload hash.
    assert!(matches_file(&evidence, &photo));
    let mut altered = photo.clone();
    altered[10] ^= 1;
    assert!(!matches_file(&evidence, &altered));

    // An archived case's file is sealed.
    let mut sealed = r.case.clone();
    sealed.status = CaseStatus::Archived;
    assert!(matches!(
        attach_evidence(
            &sealed,
            &admin(),
            EvidenceUpload {
                kind: EvidenceKind::Document,
                file_name: "x.pdf".into(),
                media_type: "application/pdf".into(),
                captured_at: None,
                description: String::new(),
            },
            b"%PDF",
            "ev-9".into(),
            r.now
        ),
        Err(EvidenceError::Archived { .. })
    ));
}
