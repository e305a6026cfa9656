//! Auth: tokens, roles, login and its rate limit, the error shape, ops endpoints.

mod api_support;

use api_support::{PASSWORD, assert_error};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn tokens_login_and_roles() {
    let api = api_support::start().await;

    // No token, a bad token.
    let answer = api.call(Method::GET, "/api/v1/me", None, None).await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthorized", None);
    let answer = api.get("/api/v1/me", "hw_not-a-token").await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "unauthorized", None);

    // Who am I.
    let (status, me) = api.get("/api/v1/me", &api.tokens.company_a).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "company");
    assert_eq!(me["company_id"], "c01");

    // Admin makes tokens; others may not.
    let answer = api
        .post(
            "/api/v1/tokens",
            &api.tokens.dispatcher,
            json!({"role": "auditor"}),
        )
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden", None);
    let answer = api
        .post(
            "/api/v1/tokens",
            &api.tokens.admin,
            json!({"role": "company"}),
        )
        .await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("company_id"),
    );
    let answer = api
        .post("/api/v1/tokens", &api.tokens.admin, json!({"role": "king"}))
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("role"));
    let (status, made) = api
        .post(
            "/api/v1/tokens",
            &api.tokens.admin,
            json!({"role": "company", "company_id": "c03", "name": "c03 integration"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let new_token = made["token"].as_str().expect("token").to_string();
    let (status, me) = api.get("/api/v1/me", &new_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["company_id"], "c03");

    // Password login answers a working token.
    let (status, login) = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "dispatcher1", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["role"], "dispatcher");
    assert!(login["expires_at"].is_string());
    let (status, _) = api
        .get("/api/v1/me", login["token"].as_str().expect("token"))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Malformed login bodies name the field.
    let answer = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "x"})),
        )
        .await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("password"),
    );

    // Wrong passwords are refused, then rate-limited.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let (status, _) = api
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "company-a", "password": "wrong"})),
            )
            .await;
        statuses.push(status);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(statuses[11], StatusCode::TOO_MANY_REQUESTS);
    api.finish().await;
}

#[tokio::test]
async fn ops_endpoints_and_openapi() {
    let api = api_support::start().await;
    let (status, health) = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    let response = api
        .client
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .expect("metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let (status, doc) = api
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["paths"]["/me"]["get"].is_object(), "{doc}");
    let answer = api.get("/api/v1/no-such-thing", &api.tokens.admin).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);
    let (status, config) = api
        .get("/api/v1/console-config", &api.tokens.company_a)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(config["tiles"].is_null());
    // The console is still served.
    let response = api
        .client
        .get(format!("{}/", api.base))
        .send()
        .await
        .expect("page");
    assert_eq!(response.status(), StatusCode::OK);
    api.finish().await;
}
