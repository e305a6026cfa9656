//! The API's one error shape: `{"error": {"code", "message", "field"?}}` with the matching
//! status code. Every handler returns [`ApiError`] on failure; nothing answers a bare 500
//! without a body, and internal details (SQL, paths) are logged, not sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::cases::service::{CaseError, ErrorClass};
use crate::store::StoreError;

/// What went wrong, as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed or a value is out of range.
    Invalid,
    /// 401: no token, or a token that is unknown or expired.
    Unauthorized,
    /// 403: the caller's role may not do this.
    Forbidden,
    /// 404: unknown id, or an id of another company.
    NotFound,
    /// 409: the change conflicts with the current state (illegal transition, reference).
    Conflict,
    /// 413: the body is larger than the route allows.
    PayloadTooLarge,
    /// 429: too many attempts.
    TooManyRequests,
    /// 500: a fault on our side (logged with details).
    Internal,
    /// 503: a dependency (the database) is unavailable.
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status of this code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Invalid => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// For `invalid`: the request field at fault (query parameter, JSON path or `body`).
    pub field: Option<String>,
}

/// The JSON body of an error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// The field at fault (only for `invalid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 400 naming the field at fault.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            code: ErrorCode::Invalid,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// 400 about the request as a whole.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Invalid, message)
    }

    /// 404 for an entity id (also used for ids of another company, so they do not leak).
    pub fn not_found(entity: &str, id: &str) -> ApiError {
        ApiError::new(ErrorCode::NotFound, format!("{entity} {id:?} not found"))
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Unauthorized, message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Forbidden, message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Conflict, message)
    }

    /// 500; the cause is logged, the client gets a generic message.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "Request failed inside the server.");
        ApiError::new(ErrorCode::Internal, "internal error (logged on the server)")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
            },
        };
        (status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match &error {
            StoreError::NotFound { entity, id } => ApiError::not_found(entity, id),
            StoreError::Conflict(message) => ApiError::conflict(message.clone()),
            StoreError::Invalid(message) => ApiError::bad_request(message.clone()),
            StoreError::InvalidCursor => ApiError::invalid("cursor", "invalid cursor"),
            StoreError::StaleRevision { .. } => ApiError::conflict(error.to_string()),
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)
            | StoreError::WriterClosed => {
                tracing::error!(%error, "Store unavailable.");
                ApiError::new(ErrorCode::Unavailable, "the database is unavailable")
            }
            _ => ApiError::internal(&error),
        }
    }
}

impl From<CaseError> for ApiError {
    fn from(error: CaseError) -> ApiError {
        if let CaseError::Store(store) = error {
            return store.into();
        }
        let message = error.to_string();
        match error.class() {
            ErrorClass::NotFound => ApiError::new(ErrorCode::NotFound, message),
            ErrorClass::Forbidden => ApiError::new(ErrorCode::Forbidden, message),
            ErrorClass::Conflict => ApiError::new(ErrorCode::Conflict, message),
            ErrorClass::Invalid => ApiError::new(ErrorCode::Invalid, message),
            ErrorClass::Internal => ApiError::internal(&message),
        }
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
