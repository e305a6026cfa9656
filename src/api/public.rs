//! Placeholder: filled in by its own change.

use axum::Router;

use super::ApiState;

/// Routes outside `/api/v1` that need no token (`/public/...`).
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
}
