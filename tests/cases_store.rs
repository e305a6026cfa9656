//! The case tables of the store, on both backends (SQLite in a temporary directory,
//! PostgreSQL + PostGIS in a schema of its own; fails, never skips, when PostgreSQL is down):
//! case rows and revisions, numbering, one case per episode, the audit chain and its head,
//! append-only triggers, lists and filters, evidence files, duty and citizen reports.

#[macro_use]
mod case_service_support;
mod store_support;

use anyhow::{Context, ensure};
use chrono::{Duration, NaiveDate};
use haulwatch::cases::audit::{self, AuditAction, AuditDraft, ChainHead};
use haulwatch::cases::citizen::{CitizenReport, ReporterContact};
use haulwatch::cases::deadlines::{DeadlineSettings, next_due_on};
use haulwatch::cases::dispatch::{
    AssignmentMode, AssignmentOutcome, AssignmentRecord, OfficerDuty,
};
use haulwatch::cases::intake::open_from_violation;
use haulwatch::cases::model::{
    Case, CaseKind, CaseSource, CaseStatus, Evidence, EvidenceKind, Location, ReportCategory, Role,
};
use haulwatch::model::ViolationKind;
use haulwatch::store::{CaseQuery, Store, StoreError};

use case_service_support::*;

on_both_backends!(
    cases_round_trip_and_revisions_guard_updates,
    case_numbers_count_per_year_without_gaps_after_rollback,
    an_episode_links_to_one_case_only,
    audit_chain_is_sealed_linear_and_rolled_back_with_its_transaction,
    concurrent_case_writes_keep_the_chain_linear,
    audit_rows_and_evidence_records_are_append_only,
    case_lists_filter_and_paginate,
    evidence_files_are_content_addressed_and_write_once,
    duty_assignments_and_citizen_reports_round_trip,
    audit_events_with_any_numbers_verify_after_storage,
);

fn sample_case(store_id: &str, vehicle: &str, kind: ViolationKind, at_hours: i64) -> Case {
    let v = violation(
        &format!("vio-{store_id}"),
        kind,
        vehicle,
        t0() + Duration::hours(at_hours),
        Some(5),
        NORTH,
    );
    open_from_violation(
        &v,
        store_id.to_string(),
        format!("N-{store_id}"),
        &DeadlineSettings::default(),
        t0() + Duration::hours(at_hours),
    )
    .case
}

fn draft(n: u32, case_id: &str) -> AuditDraft {
    AuditDraft {
        at: t0() + Duration::seconds(i64::from(n)),
        actor_id: format!("user-{n}"),
        actor_roles: vec![Role::Officer, Role::Dispatcher],
        action: AuditAction::CaseUpdated,
        case_id: Some(case_id.to_string()),
        evidence_ids: vec![format!("ev-{n}")],
        before: serde_json::json!({"facts": "", "n": 1.5}),
        after: serde_json::json!({"facts": format!("步骤 {n}"), "z": {"b": 2, "a": [1, "x"]}}),
        note: Some(format!("note {n}")),
    }
}

async fn insert(store: &Store, case: &Case) -> anyhow::Result<()> {
    let mut tx = store.begin_case_write().await?;
    tx.insert_case(case, next_due_on(case, &DeadlineSettings::default()))
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn cases_round_trip_and_revisions_guard_updates(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let store = &db.store;
    let mut case = sample_case("case-a", "v1", ViolationKind::LidOpen, 0);
    case.location = Some(Location {
        lat: 24.35,
        lon: 109.4,
        address: Some("龙城路".into()),
    });
    case.officer_ids = vec!["o1".into(), "o2".into()];
    insert(store, &case).await?;
    ensure!(
        store.case("case-a").await?.as_ref() == Some(&case),
        "round trip"
    );
    ensure!(store.case("nope").await?.is_none());

    // An update says which revision it replaces.
    let mut next = case.clone();
    next.facts = "补充事实".into();
    next.status = CaseStatus::Filed;
    next.revision = 1;
    let mut tx = store.begin_case_write().await?;
    tx.update_case(&next, 0, None).await?;
    tx.commit().await?;
    ensure!(store.case("case-a").await?.as_ref() == Some(&next));

    // A second update from the stale revision 0 is refused and changes nothing.
    let mut stale = case.clone();
    stale.facts = "覆盖".into();
    stale.revision = 1;
    let mut tx = store.begin_case_write().await?;
    let err = tx
        .update_case(&stale, 0, None)
        .await
        .expect_err("stale update must fail");
    ensure!(
        matches!(err, StoreError::StaleRevision { ref case_id, expected: 0 } if case_id == "case-a"),
        "{err:?}"
    );
    drop(tx);
    ensure!(store.case("case-a").await?.map(|c| c.facts) == Some("补充事实".to_string()));
    db.finish().await;
    Ok(())
}

async fn case_numbers_count_per_year_without_gaps_after_rollback(
    which: Which,
) -> anyhow::Result<()> {
    let db = open(which).await;
    let store = &db.store;
    let mut tx = store.begin_case_write().await?;
    ensure!(tx.next_case_seq(2026).await? == 1);
    ensure!(tx.next_case_seq(2026).await? == 2);
    ensure!(tx.next_case_seq(2027).await? == 1);
    tx.commit().await?;
    // A rolled-back opening gives its number back.
    let mut tx = store.begin_case_write().await?;
    ensure!(tx.next_case_seq(2026).await? == 3);
    drop(tx);
    let mut tx = store.begin_case_write().await?;
    ensure!(tx.next_case_seq(2026).await? == 3);
    tx.commit().await?;
    db.finish().await;
    Ok(())
}

async fn an_episode_links_to_one_case_only(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let store = &db.store;
    let a = sample_case("case-a", "v1", ViolationKind::Speeding, 0);
    let b = sample_case("case-b", "v1", ViolationKind::Speeding, 1);
    insert(store, &a).await?;
    insert(store, &b).await?;
    let mut tx = store.begin_case_write().await?;
    tx.link_violation("vio-x", "case-a", t0()).await?;
    tx.commit().await?;
    let mut tx = store.begin_case_write().await?;
    let err = tx
        .link_violation("vio-x", "case-b", t0())
        .await
        .expect_err("second link must fail");
    ensure!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    drop(tx);
    let mut tx = store.begin_case_write().await?;
    ensure!(tx.case_of_violation("vio-x").await?.as_deref() == Some("case-a"));
    ensure!(tx.case_of_violation("vio-y").await?.is_none());
    // Offender lookup: same kind and vehicle, active only.
    let found = tx
        .offender_cases(
            CaseKind::Violation(ViolationKind::Speeding),
            Some("v1"),
            "x",
        )
        .await?;
    ensure!(found.len() == 2);
    ensure!(
        tx.offender_cases(CaseKind::Violation(ViolationKind::LidOpen), Some("v1"), "x")
            .await?
            .is_empty()
    );
    ensure!(
        tx.offender_cases(
            CaseKind::Violation(ViolationKind::Speeding),
            Some("v2"),
            "x"
        )
        .await?
        .is_empty()
    );
    drop(tx);
    db.finish().await;
    Ok(())
}

async fn audit_chain_is_sealed_linear_and_rolled_back_with_its_transaction(
    which: Which,
) -> anyhow::Result<()> {
    let db = open(which).await;
    let store = &db.store;
    let case = sample_case("case-a", "v1", ViolationKind::LidOpen, 0);
    insert(store, &case).await?;
    ensure!(store.audit_head().await? == ChainHead::genesis());

    let mut tx = store.begin_case_write().await?;
    let sealed = tx
        .append((1..=3).map(|n| draft(n, "case-a")).collect())
        .await?;
    let head = tx.commit().await?;
    ensure!(sealed.iter().map(|e| e.seq).collect::<Vec<_>>() == vec![1, 2, 3]);
    ensure!(head == sealed[2].head());
    ensure!(store.audit_head().await? == head);

    // Read back exactly as sealed, and the chain verifies.
    let stored = store.case_events("case-a").await?;
    ensure!(
        stored == sealed,
        "stored events differ:\n{stored:#?}\n{sealed:#?}"
    );
    audit::verify_against_head(&stored, &head)?;

    // A rolled-back transaction leaves neither events nor a moved head.
    let mut tx = store.begin_case_write().await?;
    tx.append(vec![draft(4, "case-a")]).await?;
    drop(tx);
    ensure!(store.audit_head().await? == head);
    ensure!(store.case_events("case-a").await?.len() == 3);

    // The next writer continues from the kept head.
    let mut tx = store.begin_case_write().await?;
    let more = tx.append(vec![draft(5, "case-a")]).await?;
    tx.commit().await?;
    ensure!(more[0].seq == 4 && more[0].prev_hash == head.hash);
    let page: Vec<_> = store
        .audit_events_after(2, 10)
        .await?
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|c| anyhow::anyhow!("{c:?}"))?;
    ensure!(page.iter().map(|e| e.seq).collect::<Vec<_>>() == vec![3, 4]);
    db.finish().await;
    Ok(())
}

async fn concurrent_case_writes_keep_the_chain_linear(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    // A second pool on the same database: writers in "another process".
    let other = Store::open(db.config.clone()).await?;
    let case = sample_case("case-a", "v1", ViolationKind::LidOpen, 0);
    insert(&db.store, &case).await?;
    let mut tasks = Vec::new();
    for worker in 0..6u32 {
        let store = if worker % 2 == 0 {
            db.store.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            for round in 0..5u32 {
                let mut tx = store.begin_case_write().await?;
                tx.append(vec![draft(worker * 100 + round, "case-a")])
                    .await?;
                tokio::task::yield_now().await;
                tx.append(vec![draft(worker * 100 + round + 50, "case-a")])
                    .await?;
                tx.commit().await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let events = db.store.case_events("case-a").await?;
    ensure!(events.len() == 60, "{} events", events.len());
    audit::verify_against_head(&events, &db.store.audit_head().await?)?;
    other.close().await;
    db.finish().await;
    Ok(())
}

async fn audit_rows_and_evidence_records_are_append_only(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let store = &db.store;
    let case = sample_case("case-a", "v1", ViolationKind::LidOpen, 0);
    insert(store, &case).await?;
    let bytes = b"photo bytes".to_vec();
    let sha = store.put_evidence_file(&bytes).await?;
    let mut tx = store.begin_case_write().await?;
    tx.insert_evidence(&Evidence {
        id: "ev-1".into(),
        case_id: "case-a".into(),
        kind: EvidenceKind::Photo,
        file_name: "p.jpg".into(),
        media_type: "image/jpeg".into(),
        sha256: sha,
        size_bytes: bytes.len() as u64,
        uploaded_by: "u".into(),
        uploaded_at: t0(),
        captured_at: None,
        description: String::new(),
    })
    .await?;
    tx.append(vec![draft(1, "case-a")]).await?;
    tx.commit().await?;
    for sql in [
        "UPDATE case_events SET note = 'edited' WHERE seq = 1",
        "DELETE FROM case_events WHERE seq = 1",
        "UPDATE evidence SET sha256 = 'x' WHERE id = 'ev-1'",
        "DELETE FROM evidence WHERE id = 'ev-1'",
    ] {
        let error = raw_sql_error(&db, sql).await.context(sql)?;
        ensure!(error.contains("append-only"), "{sql}: {error}");
    }
    ensure!(store.case_events("case-a").await?.len() == 1);
    ensure!(store.evidence("ev-1").await?.is_some());
    db.finish().await;
    Ok(())
}

async fn case_lists_filter_and_paginate(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let store = &db.store;
    let settings = DeadlineSettings::default();
    for i in 0..23i64 {
        let kind = if i % 2 == 0 {
            ViolationKind::Speeding
        } else {
            ViolationKind::LidOpen
        };
        let vehicle = if i % 3 == 0 { "v3" } else { "v1" };
        let mut case = sample_case(&format!("case-{i:02}"), vehicle, kind, i);
        if i == 5 {
            case.status = CaseStatus::Closed;
        }
        let mut tx = store.begin_case_write().await?;
        tx.insert_case(&case, next_due_on(&case, &settings)).await?;
        tx.commit().await?;
    }
    // Newest first, every case once, across pages of 5.
    let mut seen = Vec::new();
    let mut query = CaseQuery {
        limit: 5,
        ..CaseQuery::default()
    };
    loop {
        let page = store.list_cases(&query).await?;
        seen.extend(page.items.iter().map(|c| c.id.clone()));
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<String> = (0..23).rev().map(|i| format!("case-{i:02}")).collect();
    ensure!(seen == expected, "{seen:?}");

    let count = |q: CaseQuery| async move {
        anyhow::Ok(
            store
                .list_cases(&CaseQuery { limit: 1000, ..q })
                .await?
                .items,
        )
    };
    let c2 = count(CaseQuery {
        company_id: Some("c2".into()),
        ..CaseQuery::default()
    })
    .await?;
    ensure!(c2.len() == 8 && c2.iter().all(|c| c.company_id.as_deref() == Some("c2")));
    let speeding_v1 = count(CaseQuery {
        kind: Some(CaseKind::Violation(ViolationKind::Speeding)),
        vehicle_id: Some("v1".into()),
        ..CaseQuery::default()
    })
    .await?;
    ensure!(speeding_v1.len() == 8, "{}", speeding_v1.len());
    let closed = count(CaseQuery {
        status: Some(CaseStatus::Closed),
        ..CaseQuery::default()
    })
    .await?;
    ensure!(closed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>() == vec!["case-05"]);
    let patrol = count(CaseQuery {
        source: Some(CaseSource::Patrol),
        ..CaseQuery::default()
    })
    .await?;
    ensure!(patrol.is_empty());

    // Pre-filing clocks run 15 working days: cases opened on Monday 2 March (local; hours
    // 0..=14 after 09:00) are due on Monday 23 March, those opened on the 3rd on the 24th.
    // The closed case has no running clock.
    let on = |d: u32| NaiveDate::from_ymd_opt(2026, 3, d).expect("date");
    let overdue_ids = |d: u32| async move {
        let mut ids: Vec<String> = count(CaseQuery {
            overdue_on: Some(on(d)),
            ..CaseQuery::default()
        })
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
        ids.sort();
        anyhow::Ok(ids)
    };
    let opened_on_the_2nd: Vec<String> = (0..15)
        .filter(|i| *i != 5)
        .map(|i| format!("case-{i:02}"))
        .collect();
    ensure!(overdue_ids(23).await?.is_empty());
    ensure!(overdue_ids(24).await? == opened_on_the_2nd);
    ensure!(overdue_ids(25).await?.len() == 22);
    // Due by the 23rd: the c2 cases opened on the 2nd (hours 0, 3, 6, 9, 12).
    ensure!(store.cases_due_by(on(23), Some("c2")).await?.len() == 5);
    ensure!(matches!(
        store
            .list_cases(&CaseQuery {
                cursor: Some("garbage".into()),
                ..CaseQuery::default()
            })
            .await,
        Err(StoreError::InvalidCursor)
    ));
    db.finish().await;
    Ok(())
}

async fn evidence_files_are_content_addressed_and_write_once(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let store = &db.store;
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let sha = store.put_evidence_file(&bytes).await?;
    ensure!(sha == audit::sha256_hex(&bytes));
    let path = store.evidence_path(&sha)?;
    ensure!(path.starts_with(db.config.data_dir.join("evidence")));
    ensure!(store.read_evidence_file(&sha).await? == bytes);
    ensure!(store.digest_evidence_file(&sha).await? == Some((sha.clone(), 200_000)));
    // Storing the same bytes again is a no-op; the file stays read-only.
    ensure!(store.put_evidence_file(&bytes).await? == sha);
    ensure!(std::fs::metadata(&path)?.permissions().readonly());
    let missing = audit::sha256_hex(b"never stored");
    ensure!(store.digest_evidence_file(&missing).await?.is_none());
    ensure!(matches!(
        store.read_evidence_file(&missing).await,
        Err(StoreError::NotFound { .. })
    ));
    ensure!(matches!(
        store.read_evidence_file("../../etc/passwd").await,
        Err(StoreError::Invalid(_))
    ));
    db.finish().await;
    Ok(())
}

async fn duty_assignments_and_citizen_reports_round_trip(which: Which) -> anyhow::Result<()> {
    let db = open(which).await;
    let store = &db.store;
    store.import_registry(&city()).await?;
    let duty = OfficerDuty {
        officer_id: "o1".into(),
        shifts: vec![],
        on_duty_override: Some(true),
        skills: [CaseKind::Violation(ViolationKind::LidOpen)]
            .into_iter()
            .collect(),
    };
    store.upsert_officer_duty(&duty, Some("u-o1")).await?;
    // Without a user id the link stays.
    let mut off = duty.clone();
    off.on_duty_override = Some(false);
    store.upsert_officer_duty(&off, None).await?;
    ensure!(store.officer_duties().await? == vec![off]);
    ensure!(store.officer_for_user("u-o1").await?.as_deref() == Some("o1"));
    ensure!(store.officer_for_user("u-o2").await?.is_none());
    // Duty only for registry officers.
    let ghost = OfficerDuty {
        officer_id: "ghost".into(),
        ..duty.clone()
    };
    ensure!(matches!(
        store.upsert_officer_duty(&ghost, None).await,
        Err(StoreError::Conflict(_))
    ));

    let mut case = sample_case("case-r", "v1", ViolationKind::LidOpen, 0);
    case.tracking_number = Some("ABCD-EFGH-JKLM-NPQR".into());
    insert(store, &case).await?;
    let record = AssignmentRecord {
        case_id: "case-r".into(),
        at: t0(),
        by: "system".into(),
        mode: AssignmentMode::Auto,
        kind: case.kind,
        location: None,
        districts_found: vec!["d-north".into()],
        district_zone_id: Some("d-north".into()),
        candidates: vec![],
        previous_officer_ids: vec![],
        officer_ids: vec!["o1".into()],
        outcome: AssignmentOutcome::Partial,
        reason: "r".into(),
    };
    let report = CitizenReport {
        tracking_number: "ABCD-EFGH-JKLM-NPQR".into(),
        case_id: "case-r".into(),
        received_at: t0(),
        location: Location::point(24.35, 109.4),
        description: "有车抛洒".into(),
        category: ReportCategory::Spillage,
        plate_seen: Some("桂B12345".into()),
        contact: ReporterContact {
            name: Some("王五".into()),
            phone: Some("13800000000".into()),
        },
        evidence_ids: vec![],
    };
    let mut tx = store.begin_case_write().await?;
    tx.insert_assignment(&record).await?;
    tx.insert_citizen_report(&report).await?;
    tx.commit().await?;
    ensure!(store.case_assignments("case-r").await? == vec![record]);
    ensure!(store.citizen_report("ABCD-EFGH-JKLM-NPQR").await? == Some(report));
    ensure!(
        store
            .case_by_tracking_number("ABCD-EFGH-JKLM-NPQR")
            .await?
            .map(|c| c.id)
            == Some("case-r".into())
    );
    db.finish().await;
    Ok(())
}

/// Real coordinates and engine evidence carry floats of every shape; the hash is computed
/// before storage and again from what comes back, so every number must come back exactly.
async fn audit_events_with_any_numbers_verify_after_storage(which: Which) -> anyhow::Result<()> {
    use rand::{Rng, SeedableRng};
    let db = open(which).await;
    let store = &db.store;
    let case = sample_case("case-f", "v1", ViolationKind::LidOpen, 0);
    insert(store, &case).await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let mut drafts = Vec::new();
    for n in 0..50u32 {
        let mut d = draft(n, "case-f");
        let floats: Vec<f64> = (0..40)
            .map(|i| match i % 4 {
                0 => rng.random_range(24.0..25.0),
                1 => rng.random_range(109.0..110.0),
                2 => f64::from_bits(rng.random::<u64>() >> 2),
                _ => rng.random::<f64>() * 10f64.powi(rng.random_range(-300..300)),
            })
            .filter(|f| f.is_finite())
            .collect();
        d.after = serde_json::json!({"floats": floats, "big": u64::MAX, "neg": i64::MIN});
        drafts.push(d);
    }
    let mut tx = store.begin_case_write().await?;
    let sealed = tx.append(drafts).await?;
    let head = tx.commit().await?;
    let stored = store.case_events("case-f").await?;
    ensure!(stored == sealed, "numbers changed in storage");
    audit::verify_against_head(&stored, &head)?;
    db.finish().await;
    Ok(())
}
