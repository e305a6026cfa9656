//! Tenant isolation: every route of the router (from the OpenAPI document), called with a
//! company token and another company's ids, answers exactly as for an id that does not exist
//! (404, or 403 where the role is refused outright), so ids never leak; lists never carry
//! another company's data; list filters naming another company's company or vehicle answer
//! 404.

mod api_support;

use std::collections::{BTreeSet, HashMap};

use api_support::store_support::{now_micros, position};
use api_support::{COMPANY_A, COMPANY_B};
use haulwatch::model::{Violation, ViolationKind, ViolationStatus};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn violation(id: &str, vehicle: &str, company: &str) -> Violation {
    let start = now_micros() - chrono::Duration::minutes(10);
    Violation {
        id: id.to_string(),
        kind: ViolationKind::Speeding,
        vehicle_id: Some(vehicle.to_string()),
        phone: "013900000000".into(),
        company_id: Some(company.to_string()),
        permit_id: None,
        started_at: start,
        ended_at: None,
        status: ViolationStatus::Open,
        lat: 24.33,
        lon: 109.42,
        severity: 2,
        evidence: json!({"positions": [{"lat": 24.33, "lon": 109.42, "time": start.to_rfc3339()}], "rule": "speeding"}),
    }
}

/// Collects every string value under the given key, anywhere in a JSON document.
fn values_of(doc: &Value, key: &str, out: &mut BTreeSet<String>) {
    match doc {
        Value::Object(map) => {
            for (k, v) in map {
                if k == key
                    && let Some(s) = v.as_str()
                {
                    out.insert(s.to_string());
                }
                values_of(v, key, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| values_of(v, key, out)),
        _ => {}
    }
}

/// First item id of an admin list.
async fn first_id(api: &api_support::TestApi, path: &str) -> String {
    let (status, page) = api.get(path, &api.tokens.admin).await;
    assert_eq!(status, StatusCode::OK, "{path}: {page}");
    let item = &page["items"][0];
    item["id"]
        .as_str()
        .or_else(|| item["phone"].as_str())
        .unwrap_or_else(|| panic!("{path}: no id in {item}"))
        .to_string()
}

#[tokio::test]
async fn a_company_sees_nothing_of_another_company() {
    let api = api_support::start().await;
    let store = api.store().clone();
    let t = now_micros();
    store
        .insert_positions(&[
            position(1, Some("v001"), t, 109.42, 24.33),
            position(2, Some("v002"), t, 109.42, 24.33),
        ])
        .await
        .expect("positions");
    for (id, vehicle, company) in [("viol-a", "v001", COMPANY_A), ("viol-b", "v002", COMPANY_B)] {
        api.state
            .cases
            .handle_violation(&violation(id, vehicle, company))
            .await
            .expect("violation handled");
    }
    let case_of = |company: &'static str| {
        let api = &api;
        async move {
            let (_, page) = api
                .get(
                    &format!("/api/v1/cases?company_id={company}"),
                    &api.tokens.admin,
                )
                .await;
            page["items"][0]["id"].as_str().expect("a case").to_string()
        }
    };
    let case_b = case_of(COMPANY_B).await;
    let response = api
        .client
        .post(format!(
            "{}/api/v1/cases/{case_b}/evidence?name=photo.jpg&kind=photo",
            api.base
        ))
        .bearer_auth(&api.tokens.admin)
        .body(vec![0xffu8, 0xd8, 0xff, 0xe0, 1, 2, 3])
        .send()
        .await
        .expect("upload");
    assert!(
        response.status().is_success(),
        "evidence upload: {}",
        response.status()
    );
    let evidence_b = response.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("evidence id")
        .to_string();

    // Company B's ids for every kind of path parameter.
    let mut other: HashMap<&str, String> = HashMap::new();
    other.insert("companies", COMPANY_B.to_string());
    other.insert("vehicles", "v002".to_string());
    other.insert("cases", case_b.clone());
    other.insert("violations", "viol-b".to_string());
    other.insert(
        "terminals",
        first_id(&api, &format!("/api/v1/terminals?company_id={COMPANY_B}")).await,
    );
    other.insert(
        "drivers",
        first_id(&api, &format!("/api/v1/drivers?company_id={COMPANY_B}")).await,
    );
    other.insert(
        "permits",
        first_id(&api, &format!("/api/v1/permits?company_id={COMPANY_B}")).await,
    );
    other.insert("users", "company-b".to_string());
    // Not company data: the same for every company.
    let shared = ["sites", "disposal-grounds", "routes", "zones", "officers"];

    let own_vehicles: BTreeSet<String> = {
        let (_, page) = api
            .get(
                &format!("/api/v1/vehicles?company_id={COMPANY_A}&limit=1000"),
                &api.tokens.admin,
            )
            .await;
        page["items"]
            .as_array()
            .expect("vehicles")
            .iter()
            .filter_map(|v| v["id"].as_str().map(str::to_string))
            .collect()
    };

    let (_, doc) = api
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    let token = api.tokens.company_a.clone();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            let method: Method = method.to_uppercase().parse().expect("method");
            let query: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "query")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            let segments: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
            let resource = segments.first().copied().unwrap_or("");
            if matches!(template.as_str(), "/auth/login" | "/live") {
                continue;
            }
            let body = match method {
                Method::POST | Method::PUT => Some(json!({})),
                _ => None,
            };
            if template.contains('{') {
                if shared.contains(&resource) {
                    continue;
                }
                let Some(other_id) = other.get(resource) else {
                    failures.push(format!(
                        "{method} {template}: no company-B id known; add it to the walk"
                    ));
                    continue;
                };
                let fill = |id: &str, evidence: &str| {
                    template
                        .replace("{id}", id)
                        .replace("{evidence_id}", evidence)
                        .replace("{kind}", "decision")
                };
                let other_path = format!("/api/v1{}", fill(other_id, &evidence_b));
                let missing_path = format!("/api/v1{}", fill("does-not-exist", "does-not-exist"));
                let (status, answer) = api
                    .call(method.clone(), &other_path, Some(&token), body.clone())
                    .await;
                let (missing_status, _) = api
                    .call(method.clone(), &missing_path, Some(&token), body.clone())
                    .await;
                checked += 1;
                // Indistinguishable from an id that does not exist, and never a success. (A body
                // that fails validation answers 400 for both, before any id is looked at.)
                if status.is_success() || status != missing_status {
                    failures.push(format!(
                        "{method} {other_path}: {status} (an unknown id gets {missing_status}): {:.300}",
                        answer.to_string()
                    ));
                }
                continue;
            }
            // Lists and other collection routes.
            for (filter, value) in [("company_id", COMPANY_B), ("vehicle_id", "v002")] {
                if !query.contains(&filter) || shared.contains(&resource) {
                    continue;
                }
                let path = format!("/api/v1{template}?{filter}={value}");
                let (status, answer) = api
                    .call(method.clone(), &path, Some(&token), body.clone())
                    .await;
                checked += 1;
                if status != StatusCode::NOT_FOUND && status != StatusCode::FORBIDDEN {
                    failures.push(format!(
                        "{method} {path}: {status}: {:.300}",
                        answer.to_string()
                    ));
                }
            }
            if method == Method::GET {
                let mut paths = vec![format!("/api/v1{template}")];
                if query.contains(&"group_by") {
                    paths.push(format!("/api/v1{template}?group_by=company"));
                }
                for path in paths {
                    let (status, answer) = api.get(&path, &token).await;
                    checked += 1;
                    if status.is_server_error() {
                        failures.push(format!("GET {path}: {status}"));
                        continue;
                    }
                    let mut companies = BTreeSet::new();
                    values_of(&answer, "company_id", &mut companies);
                    if path.contains("group_by=company") {
                        values_of(&answer, "key", &mut companies);
                    }
                    let mut vehicles = BTreeSet::new();
                    values_of(&answer, "vehicle_id", &mut vehicles);
                    if companies.iter().any(|c| c != COMPANY_A)
                        || vehicles.iter().any(|v| !own_vehicles.contains(v))
                    {
                        failures.push(format!(
                            "GET {path} shows companies {companies:?}, vehicles {vehicles:?}"
                        ));
                    }
                }
            }
        }
    }
    // Area visits over the whole city: only company A's trucks.
    let (status, visits) = api
        .post(
            "/api/v1/areas/visits",
            &token,
            json!({"polygon": {"type": "Polygon", "coordinates": [[[109.0, 24.0], [110.0, 24.0], [110.0, 25.0], [109.0, 25.0], [109.0, 24.0]]]},
                   "from": (t - chrono::Duration::hours(1)).to_rfc3339(), "to": (t + chrono::Duration::hours(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{visits}");
    let mut vehicles = BTreeSet::new();
    values_of(&visits, "vehicle_id", &mut vehicles);
    assert_eq!(vehicles.into_iter().collect::<Vec<_>>(), ["v001"]);

    // Well-formed writes on the other company's items: 404 as well.
    for (path, body) in [
        (
            format!("/api/v1/cases/{case_b}/transitions"),
            json!({"to": "filed", "note": "x"}),
        ),
        (
            format!("/api/v1/cases/{case_b}/assign"),
            json!({"officer_ids": ["o01", "o02"], "reason": "x"}),
        ),
        (
            "/api/v1/vehicles/v002/commands".to_string(),
            json!({"kind": "location_query"}),
        ),
    ] {
        let (status, answer) = api.post(&path, &token, body).await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
            "POST {path}: {status} {answer}"
        );
    }

    assert!(checked > 40, "only {checked} calls checked");
    assert!(
        failures.is_empty(),
        "{} leaks:\n{}",
        failures.len(),
        failures.join("\n")
    );
    api.finish().await;
}
