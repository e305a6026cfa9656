//! Placeholder: filled in by its own change.

use utoipa_axum::router::OpenApiRouter;

use super::ApiState;

/// Routes of this module.
pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
}
