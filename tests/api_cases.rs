//! Cases over HTTP: list, detail, workflow steps, assignment, evidence, documents, cases
//! opened by hand, the public progress page, and company isolation; on SQLite and PostgreSQL.

mod api_support;

use api_support::{TestApi, assert_error};
use chrono::{Duration, Utc};
use haulwatch::cases::service::ViolationOutcome;
use haulwatch::model::{Violation, ViolationKind, ViolationStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A closed speeding episode of `vehicle` (of `company`) in the middle of Liuzhou.
pub fn violation(id: &str, vehicle: &str, company: &str, minutes_ago: i64) -> Violation {
    let start = Utc::now() - Duration::minutes(minutes_ago);
    Violation {
        id: id.to_string(),
        kind: ViolationKind::Speeding,
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
        evidence: json!({"positions": [{"lat": 24.326, "lon": 109.428, "time": start.to_rfc3339()}]}),
    }
}

async fn open_case(api: &TestApi, v: &Violation) -> String {
    match api
        .state
        .cases
        .handle_violation(v)
        .await
        .expect("violation handled")
    {
        ViolationOutcome::Opened { case_id, .. } => case_id,
        other => panic!("no case opened: {other:?}"),
    }
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect()
}

/// Uploads raw bytes as evidence.
async fn upload(
    api: &TestApi,
    token: &str,
    case: &str,
    query: &str,
    bytes: &[u8],
) -> (StatusCode, Value) {
    let response = api
        .client
        .post(format!("{}/api/v1/cases/{case}/evidence?{query}", api.base))
        .bearer_auth(token)
        .header("content-type", "image/jpeg")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("sent");
    let status = response.status();
    let body = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A raw GET: status, content type, content disposition, body.
async fn raw_get(api: &TestApi, token: &str, path: &str) -> (StatusCode, String, String, Vec<u8>) {
    let response = api
        .client
        .get(format!("{}{path}", api.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let status = response.status();
    let body = response.bytes().await.expect("body").to_vec();
    (status, content_type, disposition, body)
}

async fn case_flow(api: TestApi) {
    let t = api.tokens.clone();
    let case_a = open_case(&api, &violation("vio-a", "v001", "c01", 60)).await;
    let case_b = open_case(&api, &violation("vio-b", "v002", "c02", 50)).await;

    // Lists: staff see both, each company its own; filters.
    let (status, all) = api.get("/api/v1/cases", &t.dispatcher).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert!(ids(&all).contains(&case_a) && ids(&all).contains(&case_b));
    let item = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["id"] == case_a.as_str())
        .expect("case a listed");
    for field in [
        "number",
        "kind",
        "source",
        "status",
        "vehicle_id",
        "plate",
        "company_id",
        "opened_at",
        "lat",
        "lon",
        "officers",
        "deadlines",
        "overdue",
        "violations",
    ] {
        assert!(item.get(field).is_some(), "{field} missing in {item}");
    }
    assert_eq!(item["kind"], "speeding");
    assert_eq!(item["source"], "auto");
    assert_eq!(item["status"], "intake");
    assert_eq!(item["violations"], json!(["vio-a"]));
    assert!(
        item["deadlines"][0]["name"].is_string() && item["deadlines"][0]["due"].is_string(),
        "{item}"
    );
    let (_, only_a) = api.get("/api/v1/cases?company_id=c01", &t.admin).await;
    assert_eq!(ids(&only_a), vec![case_a.clone()]);
    let (_, by_vehicle) = api
        .get(
            "/api/v1/cases?vehicle_id=v002&kind=speeding&status=intake&source=auto",
            &t.admin,
        )
        .await;
    assert_eq!(ids(&by_vehicle), vec![case_b.clone()]);
    let (_, mine) = api.get("/api/v1/cases", &t.company_b).await;
    assert_eq!(ids(&mine), vec![case_b.clone()]);
    let (_, page) = api.get("/api/v1/cases?limit=1", &t.admin).await;
    assert_eq!(ids(&page).len(), 1);
    let next = page["next"].as_str().expect("next page");
    let (_, page2) = api
        .get(&format!("/api/v1/cases?limit=1&cursor={next}"), &t.admin)
        .await;
    assert_eq!(ids(&page2).len(), 1);
    assert_ne!(ids(&page), ids(&page2));

    // Company isolation.
    assert_error(
        &api.get("/api/v1/cases?company_id=c01", &t.company_b).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    assert_error(
        &api.get("/api/v1/cases?vehicle_id=v001", &t.company_b).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    assert_error(
        &api.get(&format!("/api/v1/cases/{case_a}"), &t.company_b)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let (status, own) = api
        .get(&format!("/api/v1/cases/{case_a}"), &t.company_a)
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");

    // Validation.
    assert_error(
        &api.get("/api/v1/cases?status=bogus", &t.admin).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("status"),
    );
    assert_error(
        &api.get("/api/v1/cases?limit=0", &t.admin).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("limit"),
    );
    assert_error(
        &api.get("/api/v1/cases?overdue=maybe", &t.admin).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("overdue"),
    );

    // Detail.
    let (status, detail) = api
        .get(&format!("/api/v1/cases/{case_a}"), &t.dispatcher)
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["plate"].as_str().map(str::is_empty), Some(false));
    assert_eq!(detail["violation_details"][0]["id"], "vio-a");
    assert!(detail["events"][0]["hash"].is_string());
    assert_eq!(detail["events"][0]["action"], "case_opened");
    let transitions = detail["allowed_transitions"]
        .as_array()
        .expect("transitions");
    let reject = transitions
        .iter()
        .find(|t| t["to"] == "rejected")
        .expect("reject offered");
    assert_eq!(reject["needs"], json!(["reason"]));
    assert!(
        transitions
            .iter()
            .any(|t| t["to"] == "filed" && t["label"] == "立案")
    );
    let documents = detail["documents"].as_array().expect("documents");
    assert_eq!(documents.len(), 5);
    assert!(documents.iter().any(|d| d["kind"] == "decision"
        && d["url"] == format!("/api/v1/cases/{case_a}/documents/decision")));
    assert!(detail["assignment"].is_object(), "{detail}");

    // Steps: role, missing field, illegal, good.
    let path = format!("/api/v1/cases/{case_a}/transitions");
    assert_error(
        &api.post(&path, &t.officer, json!({"to": "filed", "note": "x"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    assert_error(
        &api.post(
            &path,
            &t.dispatcher,
            json!({"to": "rejected", "note": "no"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("reason"),
    );
    assert_error(
        &api.post(
            &path,
            &t.dispatcher,
            json!({"to": "decided", "note": "skip"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
        None,
    );
    assert_error(
        &api.post(&path, &t.dispatcher, json!({"to": "nowhere", "note": "x"}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("to"),
    );
    assert_error(
        &api.post(&path, &t.dispatcher, json!({"note": "x"})).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("to"),
    );
    assert_error(
        &api.post(&path, &t.company_b, json!({"to": "filed", "note": "x"}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let (status, filed) = api
        .post(
            &path,
            &t.dispatcher,
            json!({"to": "filed", "note": "clear speeding"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{filed}");
    assert_eq!(filed["status"], "filed");
    assert_error(
        &api.post(
            &path,
            &t.dispatcher,
            json!({"to": "filed", "note": "again"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
        None,
    );

    // Assignment.
    let assign = format!("/api/v1/cases/{case_a}/assign");
    assert_error(
        &api.post(
            &assign,
            &t.officer,
            json!({"officer_ids": ["o01"], "reason": "me"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    assert_error(
        &api.post(
            &assign,
            &t.dispatcher,
            json!({"officer_ids": ["o01", "o02"], "reason": ""}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("reason"),
    );
    assert_error(
        &api.post(
            &assign,
            &t.dispatcher,
            json!({"officer_ids": "o01", "reason": "x"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("officer_ids"),
    );
    let (status, assigned) = api
        .post(
            &assign,
            &t.dispatcher,
            json!({"officer_ids": ["o01", "o02"], "reason": "nearest pair"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    assert_eq!(assigned["officers"], json!(["o01", "o02"]));
    let (status, investigating) = api
        .post(
            &path,
            &t.officer,
            json!({"to": "investigating", "note": "on it"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{investigating}");
    assert_eq!(investigating["status"], "investigating");

    // Evidence: upload, download (audited), isolation, validation.
    let photo = b"\xff\xd8\xff\xe0 not really a jpeg";
    let (status, evidence) = upload(
        &api,
        &t.officer,
        &case_a,
        "name=%E7%8E%B0%E5%9C%BA.jpg&kind=photo",
        photo,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{evidence}");
    assert_eq!(evidence["kind"], "photo");
    assert_eq!(evidence["size"], photo.len());
    assert_eq!(evidence["name"], "现场.jpg");
    let evidence_id = evidence["id"].as_str().expect("id").to_string();
    assert_error(
        &upload(&api, &t.officer, &case_a, "name=a.jpg&kind=selfie", photo).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("kind"),
    );
    assert_error(
        &upload(&api, &t.officer, &case_a, "kind=photo", photo).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("name"),
    );
    assert_error(
        &upload(&api, &t.officer, &case_a, "name=a.jpg&kind=photo", b"").await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("body"),
    );
    assert_error(
        &upload(&api, &t.company_b, &case_a, "name=a.jpg&kind=photo", photo).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    let download = format!("/api/v1/cases/{case_a}/evidence/{evidence_id}");
    let (status, content_type, disposition, bytes) = raw_get(&api, &t.dispatcher, &download).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "image/jpeg");
    assert!(
        disposition.starts_with("attachment;")
            && disposition.contains("filename*=UTF-8''%E7%8E%B0"),
        "{disposition}"
    );
    assert_eq!(bytes, photo);
    let (status, ..) = raw_get(&api, &t.company_b, &download).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, ..) = raw_get(
        &api,
        &t.company_b,
        &format!("/api/v1/cases/{case_b}/evidence/{evidence_id}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, detail) = api
        .get(&format!("/api/v1/cases/{case_a}"), &t.dispatcher)
        .await;
    assert!(
        detail["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .any(|e| e["id"] == evidence_id.as_str()),
        "{detail}"
    );
    let events = detail["events"].as_array().expect("events");
    assert!(events.iter().any(|e| e["action"] == "evidence_uploaded"));
    let exported = events
        .iter()
        .find(|e| e["action"] == "evidence_exported")
        .expect("download audited");
    assert_eq!(exported["actor"], "dispatcher1");

    // Documents.
    let (status, content_type, _, html) = raw_get(
        &api,
        &t.admin,
        &format!("/api/v1/cases/{case_a}/documents/filing_approval"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = String::from_utf8(html).expect("utf-8");
    assert!(
        html.contains("立案审批表") && !html.contains("<script"),
        "{html}"
    );
    let (status, ..) = raw_get(
        &api,
        &t.company_b,
        &format!("/api/v1/cases/{case_a}/documents/filing_approval"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(
        &api.get(
            &format!("/api/v1/cases/{case_a}/documents/receipt"),
            &t.admin,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("kind"),
    );
    let (_, detail) = api.get(&format!("/api/v1/cases/{case_a}"), &t.admin).await;
    assert!(
        detail["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["action"] == "document_issued")
    );

    // Cases by hand: patrol and citizen; public progress.
    let (status, patrol) = api.post("/api/v1/cases", &t.officer, json!({"source": "patrol", "kind": "illegal_dumping", "lat": 24.33, "lon": 109.41, "description": "spoil dumped by the river", "vehicle_id": "v011"})).await;
    assert_eq!(status, StatusCode::CREATED, "{patrol}");
    assert_eq!(patrol["source"], "patrol");
    assert_eq!(patrol["company_id"], "c01");
    assert!(patrol.get("tracking_no").is_none());
    let (status, citizen) = api.post("/api/v1/cases", &t.dispatcher, json!({"source": "citizen", "kind": "spillage", "lat": 24.31, "lon": 109.43, "description": "mud on the road"})).await;
    assert_eq!(status, StatusCode::CREATED, "{citizen}");
    assert_eq!(citizen["source"], "citizen");
    let tracking = citizen["tracking_no"]
        .as_str()
        .expect("tracking number")
        .to_string();
    let (status, progress) = api
        .call(
            reqwest::Method::GET,
            &format!("/public/reports/{tracking}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{progress}");
    assert_eq!(progress["tracking_no"], tracking.as_str());
    assert_eq!(progress["status"], "received");
    assert!(progress["submitted_at"].is_string() && progress["updated_at"].is_string());
    assert_eq!(progress["steps"][0]["status"], "received");
    let text = progress.to_string();
    assert!(
        !text.contains("mud on the road")
            && !text.contains("24.31")
            && !text.contains(citizen["id"].as_str().expect("id")),
        "{text}"
    );
    let answer = api
        .call(
            reqwest::Method::GET,
            "/public/reports/ABCD-EFGH-JKMN-PQRS",
            None,
            None,
        )
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);

    // Creation: roles and validation.
    let good = json!({"source": "patrol", "kind": "speeding", "lat": 24.3, "lon": 109.4, "description": "seen"});
    assert_error(
        &api.post("/api/v1/cases", &t.company_a, good.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    assert_error(
        &api.post("/api/v1/cases", &t.auditor, good.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        None,
    );
    let mut bad = good.clone();
    bad["lat"] = json!(100.0);
    assert_error(
        &api.post("/api/v1/cases", &t.officer, bad).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("lat"),
    );
    let mut bad = good.clone();
    bad["source"] = json!("rumour");
    assert_error(
        &api.post("/api/v1/cases", &t.officer, bad).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("source"),
    );
    let mut bad = good.clone();
    bad["kind"] = json!("jaywalking");
    assert_error(
        &api.post("/api/v1/cases", &t.officer, bad).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("kind"),
    );
    let mut bad = good.clone();
    bad["vehicle_id"] = json!("v999");
    assert_error(
        &api.post("/api/v1/cases", &t.officer, bad).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("vehicle_id"),
    );
    let mut bad = good.clone();
    bad.as_object_mut().expect("object").remove("description");
    assert_error(
        &api.post("/api/v1/cases", &t.officer, bad).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("description"),
    );
    let mut bad = good;
    bad["lon"] = json!("east");
    assert_error(
        &api.post("/api/v1/cases", &t.officer, bad).await,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("lon"),
    );

    api.finish().await;
}

#[tokio::test]
async fn case_flow_on_sqlite() {
    case_flow(api_support::start().await).await;
}

#[tokio::test]
async fn case_flow_on_postgres() {
    case_flow(api_support::start_postgres().await).await;
}
