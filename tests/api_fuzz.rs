//! Bad input never produces a 500 or a panic: every route of the OpenAPI document gets random
//! path ids, query values and bodies (malformed JSON, wrong types, huge numbers, strings with
//! control characters, deep nesting), as admin and as a company; each answer must be a 2xx,
//! 3xx or 4xx with the error shape, and the server must still answer afterwards.

mod api_support;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// One route of the OpenAPI document: method, path template, query parameter names.
#[derive(Debug, Clone)]
struct Route {
    method: Method,
    path: String,
    query: Vec<String>,
}

fn routes(doc: &Value) -> Vec<Route> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "delete" => Method::DELETE,
                "patch" => Method::PATCH,
                _ => continue,
            };
            let query = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "query")
                        .filter_map(|p| p["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Route {
                method,
                path: path.clone(),
                query,
            });
        }
    }
    out
}

/// Strings that break naive code: empty, huge, control characters, unicode, numbers, dates.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("1e309".to_string()),
        Just("NaN".to_string()),
        Just("9999999999999999999999".to_string()),
        Just("2026-13-45T25:61:61Z".to_string()),
        Just("2026-01-01T00:00:00Z".to_string()),
        Just("1970-01-01T00:00:00+14:00".to_string()),
        Just("../../etc/passwd".to_string()),
        Just("%00%ff".to_string()),
        Just("v001".to_string()),
        Just("c01".to_string()),
        Just("'; DROP TABLE cases; --".to_string()),
        Just("x".repeat(5000)),
        "\\PC{0,40}",
        "[\\x00-\\x1f]{1,5}",
    ]
}

fn nasty_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(1e300)),
        Just(json!(-200.5)),
        nasty_string().prop_map(Value::from),
        Just(json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]})),
        Just(json!({"type": "Polygon", "coordinates": [[[500, 0], [1, 1]]]})),
        Just(json!({"type": "LineString", "coordinates": []})),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_string()),
                    Just("to".to_string()),
                    Just("from".to_string()),
                    Just("geometry".to_string()),
                    Just("polygon".to_string()),
                    Just("company_id".to_string()),
                    Just("vehicle_id".to_string()),
                    Just("kind".to_string()),
                    Just("lat".to_string()),
                    Just("lon".to_string()),
                    Just("role".to_string()),
                    Just("name".to_string()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Json(Value),
    Raw(Vec<u8>),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::None),
        nasty_json().prop_map(Body::Json),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(Body::Raw),
        Just(Body::Raw(b"{\"unterminated\": ".to_vec())),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    route: usize,
    ids: Vec<String>,
    query: Vec<(usize, String)>,
    body: Body,
    as_company: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_input_produces_a_server_error() {
    let api = api_support::start().await;
    let (status, doc) = api
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let routes = routes(&doc);
    assert!(
        routes.len() > 40,
        "the document lists {} routes",
        routes.len()
    );

    let strategy = (
        0..routes.len(),
        prop::collection::vec(nasty_string(), 3),
        prop::collection::vec((0usize..8, nasty_string()), 0..5),
        body(),
        any::<bool>(),
    )
        .prop_map(|(route, ids, query, body, as_company)| Case {
            route,
            ids,
            query,
            body,
            as_company,
        });
    let cases = std::env::var("HAULWATCH_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    // Every route at least once, then random ones.
    let mut generated: Vec<Case> = Vec::new();
    for i in 0..cases as usize {
        let mut case = strategy.new_tree(&mut runner).expect("generate").current();
        if i < routes.len() {
            case.route = i;
        }
        generated.push(case);
    }
    let mut failures = Vec::new();
    let mut statuses: std::collections::BTreeMap<u16, usize> = std::collections::BTreeMap::new();
    for case in generated {
        let route = &routes[case.route];
        let mut path = String::new();
        let mut ids = case.ids.iter();
        for segment in route.path.split('/').filter(|s| !s.is_empty()) {
            path.push('/');
            if segment.starts_with('{') {
                let id = ids.next().map(String::as_str).unwrap_or("x");
                path.push_str(&urlencode(id));
            } else {
                path.push_str(segment);
            }
        }
        let query: Vec<String> = case
            .query
            .iter()
            .map(|(i, v)| {
                let name = route
                    .query
                    .get(i % route.query.len().max(1))
                    .cloned()
                    .unwrap_or_else(|| "limit".into());
                format!("{name}={}", urlencode(v))
            })
            .collect();
        let url = format!("{}/api/v1{path}?{}", api.base, query.join("&"));
        if route.path == "/live" {
            continue;
        }
        let token = if case.as_company {
            &api.tokens.company_a
        } else {
            &api.tokens.admin
        };
        let mut request = api
            .client
            .request(route.method.clone(), &url)
            .bearer_auth(token);
        request = match &case.body {
            Body::None => request,
            Body::Json(v) => request.json(v),
            Body::Raw(bytes) => request
                .header("content-type", "application/json")
                .body(bytes.clone()),
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(error) => {
                failures.push(format!("{} {url}: no answer ({error})", route.method));
                continue;
            }
        };
        let status = response.status();
        *statuses.entry(status.as_u16()).or_default() += 1;
        let text = response.text().await.unwrap_or_default();
        if status.is_server_error() {
            failures.push(format!(
                "{} {url} body {:?}: {status} {text}",
                route.method, case.body
            ));
        } else if status.is_client_error() {
            let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if !parsed["error"]["code"].is_string() {
                failures.push(format!(
                    "{} {url}: {status} without the error shape: {text}",
                    route.method
                ));
            }
        }
    }
    println!("answers by status: {statuses:?}");
    let (status, _) = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK, "the server still answers");
    assert!(
        failures.is_empty(),
        "{} bad answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
    api.finish().await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
