//! Statistics and compliance reports over HTTP, with company scoping.

mod api_support;

use api_support::assert_error;
use chrono::{Duration, Utc};
use haulwatch::model::{Trip, Violation, ViolationKind, ViolationStatus};
use reqwest::StatusCode;
use serde_json::json;

fn violation(
    id: &str,
    kind: ViolationKind,
    vehicle: &str,
    company: &str,
    hours_ago: i64,
) -> Violation {
    let start = Utc::now() - Duration::hours(hours_ago);
    Violation {
        id: id.to_string(),
        kind,
        vehicle_id: Some(vehicle.to_string()),
        phone: "013900000001".into(),
        company_id: Some(company.to_string()),
        permit_id: None,
        started_at: start,
        ended_at: Some(start + Duration::minutes(5)),
        status: ViolationStatus::Closed,
        lat: 24.326,
        lon: 109.428,
        severity: 2,
        evidence: json!({}),
    }
}

fn trip(id: &str, vehicle: &str, company: &str, hours_ago: i64) -> Trip {
    let arrived = Utc::now() - Duration::hours(hours_ago);
    Trip {
        id: id.to_string(),
        vehicle_id: Some(vehicle.to_string()),
        company_id: Some(company.to_string()),
        permit_id: None,
        site_id: None,
        disposal_ground_id: "D01".to_string(),
        loaded_at: arrived - Duration::minutes(40),
        arrived_at: arrived,
    }
}

#[tokio::test]
async fn stats_and_compliance() {
    let api = api_support::start().await;
    let t = api.tokens.clone();
    let store = api.store().clone();
    for v in [
        violation("s1", ViolationKind::Speeding, "v001", "c01", 3),
        violation("s2", ViolationKind::Speeding, "v011", "c01", 3),
        violation("s3", ViolationKind::LidOpen, "v001", "c01", 3),
        violation("s4", ViolationKind::Speeding, "v002", "c02", 3),
    ] {
        api.state.cases.handle_violation(&v).await.expect("handled");
    }
    for tr in [
        trip("t1", "v001", "c01", 4),
        trip("t2", "v021", "c01", 4),
        trip("t3", "v002", "c02", 4),
    ] {
        store.upsert_trip(&tr).await.expect("trip stored");
    }

    // Violations by kind: staff see all, a company its own.
    let (status, by_kind) = api
        .get("/api/v1/stats/violations?group_by=kind", &t.auditor)
        .await;
    assert_eq!(status, StatusCode::OK, "{by_kind}");
    assert_eq!(by_kind["items"][0], json!({"key": "speeding", "count": 3}));
    let (_, own) = api
        .get("/api/v1/stats/violations?group_by=kind", &t.company_b)
        .await;
    assert_eq!(own["items"], json!([{"key": "speeding", "count": 1}]));
    let (_, by_company) = api
        .get("/api/v1/stats/violations?group_by=company", &t.admin)
        .await;
    assert_eq!(by_company["items"][0], json!({"key": "c01", "count": 3}));
    let (status, by_day) = api
        .get("/api/v1/stats/violations?group_by=day", &t.officer)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_day["total"], 4);
    let (status, by_district) = api
        .get("/api/v1/stats/violations?group_by=district", &t.dispatcher)
        .await;
    assert_eq!(status, StatusCode::OK, "{by_district}");
    assert_error(
        &api.get("/api/v1/stats/violations?group_by=colour", &t.admin)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("group_by"),
    );
    assert_error(
        &api.get(
            "/api/v1/stats/violations?from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z",
            &t.admin,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("from"),
    );
    assert_error(
        &api.get("/api/v1/stats/violations?company_id=c01", &t.company_b)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );

    // Cases.
    let (status, cases) = api
        .get("/api/v1/stats/cases?group_by=status", &t.admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{cases}");
    assert_eq!(cases["items"][0]["key"], "intake");
    assert!(cases.get("mean_hours_to_close").is_some());
    let (_, own_cases) = api
        .get("/api/v1/stats/cases?group_by=kind", &t.company_a)
        .await;
    assert_eq!(own_cases["total"], 3, "{own_cases}");

    // Hot spots.
    let (status, spots) = api
        .get("/api/v1/stats/hotspots?cell_m=500", &t.dispatcher)
        .await;
    assert_eq!(status, StatusCode::OK, "{spots}");
    let cell = &spots["cells"][0];
    assert_eq!(cell["count"], 4);
    assert!((cell["lat"].as_f64().expect("lat") - 24.326).abs() < 0.01);
    assert_error(
        &api.get("/api/v1/stats/hotspots?cell_m=5", &t.admin).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("cell_m"),
    );
    assert_error(
        &api.get("/api/v1/stats/hotspots?cell_m=big", &t.admin).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("cell_m"),
    );

    // Compliance: c01 has v001 (2 violations, 1 trip), v011 (1 violation), v021 (1 trip).
    let (status, report) = api
        .get("/api/v1/companies/c01/compliance", &t.company_a)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["company_id"], "c01");
    assert_eq!(report["trips"], 2);
    assert_eq!(report["violations"], 3);
    assert_eq!(
        report["violations_by_kind"],
        json!({"lid_open": 1, "speeding": 2})
    );
    assert_eq!(report["vehicles"], 20);
    let rows = report["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 20);
    let v001 = rows
        .iter()
        .find(|r| r["vehicle_id"] == "v001")
        .expect("v001 row");
    assert_eq!(
        (v001["trips"].clone(), v001["violations"].clone()),
        (json!(1), json!(2))
    );
    let v021 = rows
        .iter()
        .find(|r| r["vehicle_id"] == "v021")
        .expect("v021 row");
    assert_eq!(v021["compliance_rate"], 1.0);
    let rate = report["compliance_rate"].as_f64().expect("rate");
    // Three vehicles active (on one or two local days); v021 alone clean: 1/3 unless the
    // trips and violations straddle local midnight.
    assert!(rate > 0.0 && rate < 1.0, "{report}");
    let days = report["by_day"].as_array().expect("by_day");
    assert!(
        days.len() >= 30
            && days
                .iter()
                .all(|d| d.get("compliance_rate").is_some() && d.get("active_vehicles").is_some())
    );
    assert_error(
        &api.get("/api/v1/companies/c01/compliance", &t.company_b)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    assert_error(
        &api.get("/api/v1/companies/c99/compliance", &t.admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    assert_error(
        &api.get("/api/v1/companies/c01/compliance?format=pdf", &t.admin)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("format"),
    );

    // CSV.
    let response = api
        .client
        .get(format!(
            "{}/api/v1/companies/c01/compliance?format=csv",
            api.base
        ))
        .bearer_auth(&t.admin)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert!(header("content-type").starts_with("text/csv"));
    assert!(header("content-disposition").contains("filename=\"compliance-c01-"));
    let text = response.text().await.expect("text");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        [
            "vehicle_id",
            "plate",
            "trips",
            "violations",
            "active_days",
            "compliance_rate"
        ]
    );
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(records.len(), 20);
    let row = records.iter().find(|r| &r[0] == "v001").expect("v001");
    assert_eq!((&row[2], &row[3]), ("1", "2"));

    api.finish().await;
}
