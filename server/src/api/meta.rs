use axum::Json;
use axum::extract::State;

use super::model::Health;
use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;

/// Readiness check.
///
/// Answers 200 once the catalog and the search index are open.
#[utoipa::path(
    get, path = "/healthz", tag = "meta",
    responses(
        (status = 200, description = "The server is ready", body = Health,
         example = json!({"status": "ok", "datasets": 6})),
        (status = 503, description = "The catalog cannot be reached (`Retry-After` is set): a balancer takes the node out of rotation", body = crate::error::Problem, content_type = "application/problem+json",
         example = json!({"type": "urn:opendata:problem:catalog_unavailable", "title": "Catalog unavailable", "status": 503, "detail": "the catalog cannot be reached for a moment; retry shortly", "code": "catalog_unavailable"})),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    let totals = state.store.catalog().totals()?;
    Ok(Json(Health { status: "ok".into(), datasets: totals.datasets }))
}

pub async fn not_found() -> ApiError {
    ApiError::new(Code::RouteNotFound, "no such route; see /api/docs for the API")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(Code::MethodNotAllowed, "this route does not accept that method")
}
