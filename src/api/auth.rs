//! Who is calling: bearer tokens (stored as SHA-256 hashes), console logins with argon2
//! passwords (rate-limited), the admin token seeded at start, and the [`Caller`] every handler
//! extracts to check roles and company scope.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::common::ApiJson;
use super::error::{ApiError, ApiResult, ErrorCode};
use crate::cases::model::Role;
use crate::cases::service::Principal;
use crate::store::{ApiToken, Store, StoreError};

/// How long a console login's token lasts.
const LOGIN_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::hours(12);
/// How long a verified token is trusted without asking the store again (bounds how late a
/// revocation takes effect).
const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);
/// Login attempts allowed per client address, and per user name, in [`LOGIN_WINDOW`].
const LOGIN_ATTEMPTS: usize = 10;
/// The sliding window of the login limit.
const LOGIN_WINDOW: Duration = Duration::from_secs(60);
/// Prefix of every token this server makes (recognisable in logs and secret scanners).
const TOKEN_PREFIX: &str = "hw_";

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User id (console users), or `token:<name>` for tokens not bound to a user.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The role the token acts with.
    pub role: Role,
    /// For `company` callers: the only company they may see.
    pub company_id: Option<String>,
}

impl Caller {
    /// 403 unless the caller's role is one of `roles`.
    pub fn require(&self, roles: &[Role]) -> ApiResult<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "role {} may not do this",
                self.role.as_str()
            )))
        }
    }

    /// Whether the caller is bound to one company.
    pub fn is_company(&self) -> bool {
        self.role == Role::Company
    }

    /// Whether the caller may see data of `company_id`.
    pub fn may_see_company(&self, company_id: &str) -> bool {
        !self.is_company() || self.company_id.as_deref() == Some(company_id)
    }

    /// The company filter a list runs with: a company caller always gets its own company, and
    /// naming another company is answered as if that company did not exist (404, so ids do not
    /// leak); other roles get what they asked for.
    pub fn company_scope(&self, asked: Option<&str>) -> ApiResult<Option<String>> {
        if !self.is_company() {
            return Ok(asked.map(str::to_string));
        }
        match (asked, self.company_id.as_deref()) {
            (Some(asked), Some(own)) if asked != own => Err(ApiError::not_found("company", asked)),
            (_, Some(own)) => Ok(Some(own.to_string())),
            // A company token without a company sees nothing rather than everything.
            (_, None) => Err(ApiError::forbidden("company token without a company")),
        }
    }

    /// 404 unless the caller may see an item of `company_id` (named `entity` `id`).
    pub fn check_company(&self, company_id: &str, entity: &str, id: &str) -> ApiResult<()> {
        if self.may_see_company(company_id) {
            Ok(())
        } else {
            Err(ApiError::not_found(entity, id))
        }
    }

    /// The caller as the case service knows it.
    pub fn principal(&self) -> Principal {
        Principal {
            user_id: self.id.clone(),
            name: self.name.clone(),
            roles: vec![self.role],
            company_id: self.company_id.clone(),
        }
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> ApiResult<Caller> {
        let token =
            bearer_token(parts).ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        state.auth.authenticate(&state.store, &token).await
    }
}

/// The token from `Authorization: Bearer ...`, or from `?token=` (browsers cannot set headers
/// on a WebSocket).
fn bearer_token(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string())
            .filter(|t| !t.is_empty());
    }
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .filter(|t| !t.is_empty())
}

/// The client's address when the server was started with connect info (rate limits).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<ClientAddr, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}

/// A verified token: its caller, its expiry, and when it was verified.
type CachedToken = (Caller, Option<DateTime<Utc>>, Instant);

/// Token cache and login limiter, shared by all requests.
#[derive(Debug, Default)]
pub struct AuthState {
    /// Recently verified tokens by hash.
    cache: Mutex<HashMap<String, CachedToken>>,
    /// Recent login attempts by key (`ip:...`, `user:...`).
    attempts: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl AuthState {
    /// Finds the caller of a token (401 if unknown or expired).
    pub async fn authenticate(&self, store: &Store, token: &str) -> ApiResult<Caller> {
        let hash = hash_token(token);
        let now = Utc::now();
        if let Some((caller, expires, at)) = self.cache.lock().get(&hash).cloned()
            && at.elapsed() < TOKEN_CACHE_TTL
        {
            return match expires {
                Some(e) if e <= now => Err(ApiError::unauthorized("token expired")),
                _ => Ok(caller),
            };
        }
        let stored = store
            .api_token_by_hash(&hash)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unknown token"))?;
        if stored.expires_at.is_some_and(|e| e <= now) {
            return Err(ApiError::unauthorized("token expired"));
        }
        let role = Role::from_name(&stored.role)
            .ok_or_else(|| ApiError::unauthorized("token has an unknown role"))?;
        let caller = Caller {
            id: stored
                .user_id
                .clone()
                .unwrap_or_else(|| format!("token:{}", stored.name)),
            name: stored.name.clone(),
            role,
            company_id: stored.company_id.clone(),
        };
        let mut cache = self.cache.lock();
        if cache.len() > 10_000 {
            cache.retain(|_, (_, _, at)| at.elapsed() < TOKEN_CACHE_TTL);
        }
        cache.insert(hash, (caller.clone(), stored.expires_at, Instant::now()));
        Ok(caller)
    }

    /// Forgets cached tokens (after a revocation or a user change).
    pub fn forget_tokens(&self) {
        self.cache.lock().clear();
    }

    /// Counts a login attempt under each key; 429 if any key is over the limit.
    fn admit_login(&self, keys: &[String]) -> ApiResult<()> {
        let mut attempts = self.attempts.lock();
        let now = Instant::now();
        if attempts.len() > 100_000 {
            attempts.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < LOGIN_WINDOW)
            });
        }
        let mut limited = false;
        for key in keys {
            let queue = attempts.entry(key.clone()).or_default();
            while queue
                .front()
                .is_some_and(|t| now.duration_since(*t) >= LOGIN_WINDOW)
            {
                queue.pop_front();
            }
            if queue.len() >= LOGIN_ATTEMPTS {
                limited = true;
            } else {
                queue.push_back(now);
            }
        }
        if limited {
            Err(ApiError::new(
                ErrorCode::TooManyRequests,
                "too many login attempts; wait a minute",
            ))
        } else {
            Ok(())
        }
    }
}

/// SHA-256 of a token, hex: what the store keeps.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token (256 bits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// An argon2 hash (PHC string) of a password.
pub fn hash_password(password: &str) -> ApiResult<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::internal(&e))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(&e))
}

/// Whether `password` matches a stored argon2 hash (false for an unreadable hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Stores `token` as an admin token named `name` (idempotent: an existing one is kept).
pub async fn seed_admin_token(store: &Store, token: &str, name: &str) -> Result<(), StoreError> {
    let hash = hash_token(token);
    if store.api_token_by_hash(&hash).await?.is_some() {
        return Ok(());
    }
    store
        .insert_api_token(&ApiToken {
            token_hash: hash,
            name: name.to_string(),
            role: Role::Admin.as_str().to_string(),
            company_id: None,
            user_id: None,
            created_at: Utc::now(),
            expires_at: None,
        })
        .await
}

/// Routes of this module.
pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(me))
        .routes(routes!(create_token))
}

/// `POST /auth/login` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Answer to a login.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for the API.
    pub token: String,
    /// The user's role.
    pub role: String,
    /// For company users, their company.
    pub company_id: Option<String>,
    /// Display name.
    pub name: String,
    /// When the token stops working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Logs a console user in with a password; rate-limited per client address and user name.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = super::error::ErrorBody),
              (status = 429, body = super::error::ErrorBody)))]
async fn login(
    State(state): State<ApiState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    if request.username.is_empty() || request.username.len() > 200 {
        return Err(ApiError::invalid(
            "username",
            "username must be 1 to 200 characters",
        ));
    }
    if request.password.len() > 1024 {
        return Err(ApiError::invalid("password", "password is too long"));
    }
    let mut keys = vec![format!("user:{}", request.username)];
    if let Some(addr) = addr {
        keys.push(format!("ip:{addr}"));
    }
    state.auth.admit_login(&keys)?;
    let user = state.store.user_by_username(&request.username).await?;
    let failed = || ApiError::unauthorized("wrong user name or password");
    let Some(user) = user else {
        // Hash anyway so that timing does not tell which user names exist.
        let password = request.password.clone();
        let _ = tokio::task::spawn_blocking(move || verify_password(&password, dummy_hash())).await;
        return Err(failed());
    };
    let password = request.password.clone();
    let stored_hash = user.password_hash.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &stored_hash))
        .await
        .unwrap_or(false);
    if !ok {
        tracing::info!(username = %request.username, "Failed console login.");
        return Err(failed());
    }
    let token = new_token();
    let expires_at = Utc::now() + LOGIN_TOKEN_LIFETIME;
    state
        .store
        .insert_api_token(&ApiToken {
            token_hash: hash_token(&token),
            name: user.username.clone(),
            role: user.role.clone(),
            company_id: user.company_id.clone(),
            user_id: Some(user.id.clone()),
            created_at: Utc::now(),
            expires_at: Some(expires_at),
        })
        .await?;
    tracing::info!(user = %user.id, role = %user.role, "Console login.");
    Ok(Json(LoginResponse {
        token,
        role: user.role,
        company_id: user.company_id,
        name: user.username,
        expires_at: Some(expires_at),
    }))
}

/// An argon2 hash to verify against when the user does not exist (same cost as a real one).
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a password").unwrap_or_default())
}

/// `GET /me` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeResponse {
    /// Role.
    pub role: String,
    /// For company callers, their company.
    pub company_id: Option<String>,
    /// Display name.
    pub name: String,
    /// User id (or `token:<name>`).
    pub id: String,
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = super::error::ErrorBody)))]
async fn me(caller: Caller) -> Json<MeResponse> {
    Json(MeResponse {
        role: caller.role.as_str().to_string(),
        company_id: caller.company_id,
        name: caller.name,
        id: caller.id,
    })
}

/// `POST /tokens` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// `admin`, `dispatcher`, `officer`, `company` or `auditor`.
    pub role: String,
    /// Required for `company`; not allowed otherwise.
    pub company_id: Option<String>,
    /// Label (who or what uses it).
    pub name: Option<String>,
    /// Console user the token acts for (an officer's user, so case work is theirs).
    pub user_id: Option<String>,
    /// Lifetime in seconds; none for no expiry.
    pub expires_in_s: Option<u64>,
}

/// Answer to `POST /tokens`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The token; shown once, only its hash is kept.
    pub token: String,
}

/// Makes an API token for a role (admin only).
#[utoipa::path(post, path = "/tokens", tag = "auth", security(("bearer" = [])), request_body = TokenRequest,
    responses((status = 201, body = TokenResponse), (status = 400, body = super::error::ErrorBody),
              (status = 403, body = super::error::ErrorBody)))]
async fn create_token(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(request): ApiJson<TokenRequest>,
) -> ApiResult<(axum::http::StatusCode, Json<TokenResponse>)> {
    caller.require(&[Role::Admin])?;
    let role = Role::from_name(&request.role).ok_or_else(|| {
        ApiError::invalid(
            "role",
            "role must be admin, dispatcher, officer, company or auditor",
        )
    })?;
    match (role, &request.company_id) {
        (Role::Company, None) => {
            return Err(ApiError::invalid(
                "company_id",
                "a company token needs company_id",
            ));
        }
        (Role::Company, Some(id)) => {
            if state.store.company(id).await?.is_none() {
                return Err(ApiError::invalid(
                    "company_id",
                    format!("unknown company {id:?}"),
                ));
            }
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "company_id",
                "only company tokens are bound to a company",
            ));
        }
        (_, None) => {}
    }
    if let Some(user_id) = &request.user_id
        && state.store.user(user_id).await?.is_none()
    {
        return Err(ApiError::invalid(
            "user_id",
            format!("unknown user {user_id:?}"),
        ));
    }
    let expires_at = match request.expires_in_s {
        Some(0) => return Err(ApiError::invalid("expires_in_s", "must be positive")),
        Some(s) if s > 10 * 365 * 86_400 => {
            return Err(ApiError::invalid("expires_in_s", "at most ten years"));
        }
        Some(s) => Some(Utc::now() + chrono::Duration::seconds(s as i64)),
        None => None,
    };
    let name = request
        .name
        .unwrap_or_else(|| format!("{} token", role.as_str()));
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::invalid(
            "name",
            "name must be 1 to 200 characters",
        ));
    }
    let token = new_token();
    state
        .store
        .insert_api_token(&ApiToken {
            token_hash: hash_token(&token),
            name,
            role: role.as_str().to_string(),
            company_id: request.company_id,
            user_id: request.user_id,
            created_at: Utc::now(),
            expires_at,
        })
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(TokenResponse { token }),
    ))
}
