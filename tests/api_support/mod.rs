//! Shared by the API tests: the real router served on a real socket over a fresh store with the
//! Liuzhou sample city imported, and a token for every role.

#![allow(dead_code)]

#[path = "../store_support/mod.rs"]
pub mod store_support;

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use haulwatch::api::ApiState;
use haulwatch::api::auth::{hash_password, hash_token, new_token};
use haulwatch::bus::LiveHub;
use haulwatch::cases::CaseSettings;
use haulwatch::cases::service::CaseService;
use haulwatch::ingest::SessionRegistry;
use haulwatch::store::{ApiToken, Store, User};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use store_support::TestStore;

/// Company the `company_a` token belongs to.
pub const COMPANY_A: &str = "c01";
/// Company the `company_b` token belongs to.
pub const COMPANY_B: &str = "c02";
/// The officer the `officer` token acts as (a registry officer id, also its user id).
pub const OFFICER: &str = "o01";
/// Password of every user the support creates.
pub const PASSWORD: &str = "correct horse battery";

/// A token per role.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub admin: String,
    pub dispatcher: String,
    pub officer: String,
    pub auditor: String,
    pub company_a: String,
    pub company_b: String,
}

/// The API under test.
pub struct TestApi {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// Tokens.
    pub tokens: Tokens,
    /// The state the router runs with (store, live hub, sessions, ...).
    pub state: ApiState,
    /// The store and its clean-up.
    pub test_store: Option<TestStore>,
    /// Stops the server.
    shutdown: CancellationToken,
}

/// The sample city's bundle.
pub fn bundle() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/geofences/liuzhou"))
}

/// The API over a fresh SQLite store with the sample city.
pub async fn start() -> TestApi {
    start_on(store_support::sqlite().await).await
}

/// The API over a fresh PostgreSQL store with the sample city (fails if PostgreSQL is down).
pub async fn start_postgres() -> TestApi {
    start_on(store_support::postgres().await).await
}

/// The API over `test_store`, importing the sample city first.
pub async fn start_on(test_store: TestStore) -> TestApi {
    let store = test_store.store.clone();
    haulwatch::import::import_bundle(&store, bundle())
        .await
        .expect("sample city imports");
    let tokens = Tokens {
        admin: token(&store, "admin", None, None).await,
        dispatcher: user_token(&store, "dispatcher1", "dispatcher", None).await,
        officer: user_token(&store, OFFICER, "officer", None).await,
        auditor: token(&store, "auditor", None, None).await,
        company_a: user_token(&store, "company-a", "company", Some(COMPANY_A)).await,
        company_b: user_token(&store, "company-b", "company", Some(COMPANY_B)).await,
    };
    let cases = CaseService::new(store.clone(), CaseSettings::default());
    let state = ApiState::new(
        store.clone(),
        cases,
        LiveHub::new(8192),
        SessionRegistry::default(),
        Arc::new(Notify::new()),
    );
    let app = haulwatch::api::app(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await;
    });
    TestApi {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        tokens,
        state,
        test_store: Some(test_store),
        shutdown,
    }
}

/// Creates a console user `id` (username = id, password [`PASSWORD`]) and a token for it.
pub async fn user_token(store: &Store, id: &str, role: &str, company: Option<&str>) -> String {
    store
        .upsert_user(&User {
            id: id.to_string(),
            username: id.to_string(),
            password_hash: hash_password(PASSWORD).expect("hash"),
            role: role.to_string(),
            company_id: company.map(str::to_string),
            created_at: Utc::now(),
        })
        .await
        .expect("user stored");
    token(store, role, company, Some(id)).await
}

/// A token for a role, optionally bound to a company and a user.
pub async fn token(store: &Store, role: &str, company: Option<&str>, user: Option<&str>) -> String {
    let token = new_token();
    store
        .insert_api_token(&ApiToken {
            token_hash: hash_token(&token),
            name: format!("{role} test token"),
            role: role.to_string(),
            company_id: company.map(str::to_string),
            user_id: user.map(str::to_string),
            created_at: Utc::now(),
            expires_at: None,
        })
        .await
        .expect("token stored");
    token
}

impl TestApi {
    /// The store.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Sends a request with a JSON body (or none) and returns the status and the JSON answer
    /// (`Value::Null` for an empty or non-JSON body).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let bytes = response.bytes().await.expect("body read");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// `GET` with a token.
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// `POST` JSON with a token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// `PUT` JSON with a token.
    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    /// `DELETE` with a token.
    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Stops the server and cleans the store up.
    pub async fn finish(mut self) {
        self.shutdown.cancel();
        if let Some(store) = self.test_store.take() {
            store.finish().await;
        }
    }
}

/// Asserts the error shape: status, `error.code` and (when given) `error.field`.
pub fn assert_error(
    answer: &(StatusCode, Value),
    status: StatusCode,
    code: &str,
    field: Option<&str>,
) {
    assert_eq!(answer.0, status, "answer: {}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "answer: {}", answer.1);
    if let Some(field) = field {
        assert_eq!(answer.1["error"]["field"], field, "answer: {}", answer.1);
    }
}
